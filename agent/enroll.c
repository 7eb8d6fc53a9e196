/* agent/enroll.c — `coffer-agent enroll`: the device's own key pair and
 * certificate, from a one-time enrollment code (README "Enrolling a
 * device"; the server is `cofferctl device enroll-serve`, EST simpleenroll).
 *
 * The key pair (EC P-256) is made here and never sent: the server gets a
 * CSR signed with it (its proof of possession) and the code, by HTTP Basic
 * authentication over TLS to the pinned CA.  The certificate that comes
 * back must carry this key; then key_file (0600) and cert_file are written
 * atomically, the key first.  The code is read from standard input (never
 * argv: other users see a command line) and wiped after use.
 */
#include "agent/enroll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "common/util.h"
#include "vault/mem.h"

#define EN_BODY_MAX   (256U * 1024U)
#define EN_CODE_MAX   128U

typedef struct en_buf {
	char   *p;
	size_t  len;
	int     over;
} en_buf;

static size_t
en_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	en_buf *b = ud;
	size_t n = size * nmemb;
	char *q;

	if (n > EN_BODY_MAX - b->len) {
		b->over = 1;
		return 0;
	}
	if ((q = realloc(b->p, b->len + n + 1)) == NULL)
		return 0;
	b->p = q;
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* The CSR for device, signed with k: base64 DER, malloc'd. */
static char *
en_csr(EVP_PKEY *k, const char *device)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = NULL;
	unsigned char *der = NULL;
	char *b64 = NULL;
	int n;

	if (req == NULL || X509_REQ_set_version(req, 0) != 1 ||
	    (name = X509_NAME_new()) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)device, -1, -1, 0) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, k) != 1 ||
	    X509_REQ_sign(req, k, EVP_sha256()) <= 0 ||
	    (n = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	if ((b64 = malloc(4 * (((size_t)n + 2) / 3) + 1)) != NULL)
		EVP_EncodeBlock((unsigned char *)b64, der, n);
out:
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return b64;
}

void *
agent_enroll_p7_cert(const char *b64, size_t len)
{
	unsigned char *der;
	const unsigned char *p;
	char *clean;
	PKCS7 *p7 = NULL;
	STACK_OF(X509) *certs = NULL;
	X509 *x = NULL;
	size_t i, n = 0;
	int dl;

	if ((clean = malloc(len + 1)) == NULL || (der = malloc(len + 1)) == NULL) {
		free(clean);
		return NULL;
	}
	for (i = 0; i < len; i++)
		if (b64[i] != '\r' && b64[i] != '\n' && b64[i] != ' ')
			clean[n++] = b64[i];
	if (n < 4 || n % 4 != 0 ||
	    (dl = EVP_DecodeBlock(der, (unsigned char *)clean, (int)n)) <= 0)
		goto out;
	dl -= (clean[n - 1] == '=') + (clean[n - 2] == '=');
	p = der;
	if ((p7 = d2i_PKCS7(NULL, &p, dl)) == NULL || p != der + dl ||
	    !PKCS7_type_is_signed(p7) || p7->d.sign == NULL)
		goto out;
	certs = p7->d.sign->cert;
	if (certs != NULL && sk_X509_num(certs) >= 1) {
		x = sk_X509_value(certs, 0);
		X509_up_ref(x);
	}
out:
	PKCS7_free(p7);
	free(der);
	free(clean);
	return x;
}

static void
en_server_error(const char *body, long status, char *err, size_t err_len)
{
	json_error_t je;
	json_t *o = body != NULL ? json_loads(body, 0, &je) : NULL;
	const char *m = json_string_value(json_object_get(o, "error"));
	char shown[256];
	size_t i;

	if (m == NULL) {
		snprintf(err, err_len, "enrollment refused (HTTP %ld)", status);
	} else {
		/* the server's fixed reasons; printable ASCII only */
		for (i = 0; m[i] != '\0' && i < sizeof(shown) - 1; i++)
			shown[i] = m[i] >= 0x20 && m[i] < 0x7f ? m[i] : '?';
		shown[i] = '\0';
		snprintf(err, err_len, "enrollment refused (HTTP %ld): %s",
		    status, shown);
	}
	json_decref(o);
}

int
agent_enroll(const agent_config *cfg, const char *url, const char *device,
    const char *ca_file, FILE *code_in, char *err, size_t err_len)
{
	char code[EN_CODE_MAX], full[1024];
	char *csr = NULL, *keypem = NULL, *certpem = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	CURL *h = NULL;
	struct curl_slist *hdr = NULL;
	en_buf resp = { NULL, 0, 0 };
	BIO *bk = NULL, *bc = NULL;
	BUF_MEM *bm;
	long status = 0;
	size_t n;
	int rc = -1;
	CURLcode cc;

	memset(code, 0, sizeof(code));
	if (fgets(code, sizeof(code), code_in) == NULL) {
		snprintf(err, err_len, "no enrollment code on standard input");
		return -1;
	}
	n = strcspn(code, "\r\n");
	code[n] = '\0';
	if (n == 0 || n >= sizeof(code) - 1) {
		snprintf(err, err_len, "the enrollment code on standard input is "
		    "empty or too long");
		goto out;
	}
	if (snprintf(full, sizeof(full), "%s/simpleenroll", url) >=
	    (int)sizeof(full) || strncmp(url, "https://", 8) != 0) {
		snprintf(err, err_len, "--url must be https://HOST:PORT/"
		    ".well-known/est/TENANT");
		goto out;
	}
	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (csr = en_csr(k, device)) == NULL) {
		snprintf(err, err_len, "cannot make the key pair and CSR");
		goto out;
	}
	if ((h = curl_easy_init()) == NULL ||
	    (hdr = curl_slist_append(NULL, "Content-Type: application/pkcs10")) ==
	    NULL) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, full) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAINFO, ca_file != NULL ? ca_file :
	    cfg->server_ca_file) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERNAME, device) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PASSWORD, code) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, csr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, en_write) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp) != CURLE_OK) {
		snprintf(err, err_len, "libcurl refused an option");
		goto out;
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(err, err_len, "%s: %s", url, resp.over ?
		    "answer too large" : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		en_server_error(resp.p, status, err, err_len);
		goto out;
	}
	if ((x = agent_enroll_p7_cert(resp.p != NULL ? resp.p : "",
	    resp.len)) == NULL) {
		snprintf(err, err_len, "the server's answer holds no certificate");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(x), k) != 1) {
		snprintf(err, err_len, "the certificate does not carry this "
		    "device's key: not installed");
		goto out;
	}
	if ((bk = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bk, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (bc = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bc, x) != 1) {
		snprintf(err, err_len, "cannot encode the key and certificate");
		goto out;
	}
	BIO_get_mem_ptr(bk, &bm);
	if (util_write_file(cfg->key_file, bm->data, bm->length, 0600, 1, err,
	    err_len) != 0)
		goto out;
	BIO_get_mem_ptr(bc, &bm);
	if (util_write_file(cfg->cert_file, bm->data, bm->length, 0644, 1, err,
	    err_len) != 0)
		goto out;
	rc = 0;
out:
	vault_wipe(code, sizeof(code));
	free(csr);
	free(keypem);
	free(certpem);
	free(resp.p);
	BIO_free(bk);
	BIO_free(bc);
	X509_free(x);
	EVP_PKEY_free(k);
	curl_slist_free_all(hdr);
	if (h != NULL)
		curl_easy_cleanup(h);
	return rc;
}
