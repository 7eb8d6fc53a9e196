/* agent/client.c — the agent's HTTPS client (client.h).
 *
 * libcurl rather than OpenSSL directly: the gateway speaks HTTP/1.1 with
 * keep-alive, Content-Length or chunked answers and Retry-After, and curl
 * already does all of that (and connection reuse, timeouts, proxies an
 * operator may need) over the same OpenSSL; writing an HTTP client next
 * to it would be more code that parses peer bytes.  curl is already a
 * dependency of the project.  What curl is told:
 *
 *   - trust only the configured CA (CURLOPT_CAINFO, no CA path, so the
 *     system store is not consulted), verify the peer and its name;
 *   - TLS 1.3 only (what the gateway speaks), https only, no redirects;
 *   - the client certificate by path (public), the private key from
 *     guarded memory (vault_secure_alloc) as a blob that curl does not
 *     copy (CURL_BLOB_NOCOPY), so the only plain copies of the key are
 *     that page, wiped at client_free, and OpenSSL's own EVP_PKEY, which
 *     it frees with its bignums cleared;
 *   - no Expect: 100-continue (the gateway answers 417 only to misuse).
 *
 * Trusts: the gateway (once the handshake proved it) for its answers, but
 * bounds the body it reads (CLIENT_BODY_MAX).
 */
#include "agent/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/util.h"
#include "vault/mem.h"

#define CLIENT_BODY_MAX  (64U * 1024U * 1024U)
#define CLIENT_KEY_MAX   (64U * 1024U)

struct agent_client {
	CURL                  *h;
	struct curl_slist     *hdr_ndjson, *hdr_json;
	unsigned char         *key;      /* guarded memory */
	size_t                 key_len;
	char                   base[600];
	volatile sig_atomic_t *stop;
};

static size_t
client_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	client_resp *r = ud;
	size_t n = size * nmemb;

	if (n > CLIENT_BODY_MAX - r->len)
		return 0;       /* aborts the transfer */
	if (r->cap - r->len < n + 1) {
		size_t cap = r->cap == 0 ? 8192 : r->cap;
		unsigned char *p;

		while (cap - r->len < n + 1)
			cap *= 2;
		if ((p = vault_grow(r->body, r->len, r->cap, cap)) == NULL)
			return 0;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static int
client_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	agent_client *c = ud;

	(void)dt; (void)dn; (void)ut; (void)un;
	return c->stop != NULL && *c->stop ? 1 : 0;
}

int
client_new(agent_client **out, const agent_config *cfg,
    volatile sig_atomic_t *stop, char *err, size_t err_len)
{
	agent_client *c;
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	struct curl_blob blob;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	c->stop = stop;
	snprintf(c->base, sizeof(c->base), "%s", cfg->gateway_url);
	if (util_check_secret_file(cfg->key_file, err, err_len) != 0)
		goto fail;
	/* into guarded memory; the read buffer is wiped at once */
	if (util_read_file(cfg->key_file, CLIENT_KEY_MAX, &raw, &raw_len, err,
	    err_len) != 0)
		goto fail;
	c->key = vault_secure_alloc(raw_len + 1);
	if (c->key == NULL) {
		vault_free_wiped(raw, raw_len);
		snprintf(err, err_len, "%s: cannot allocate guarded memory",
		    cfg->key_file);
		goto fail;
	}
	memcpy(c->key, raw, raw_len);
	c->key[raw_len] = '\0';
	c->key_len = raw_len;
	vault_free_wiped(raw, raw_len);
	if ((c->h = curl_easy_init()) == NULL) {
		snprintf(err, err_len, "curl_easy_init failed");
		goto fail;
	}
	blob.data = c->key;
	blob.len = c->key_len;
	blob.flags = CURL_BLOB_NOCOPY;
	c->hdr_ndjson = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
	c->hdr_ndjson = curl_slist_append(c->hdr_ndjson, "Expect:");
	c->hdr_json = curl_slist_append(NULL, "Content-Type: application/json");
	c->hdr_json = curl_slist_append(c->hdr_json, "Expect:");
	if (c->hdr_ndjson == NULL || c->hdr_json == NULL ||
	    curl_easy_setopt(c->h, CURLOPT_SSLCERT, cfg->cert_file) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSLKEY_BLOB, &blob) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_CAINFO, cfg->server_ca_file) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_SSLVERSION,
	        (long)CURL_SSLVERSION_TLSv1_3) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_TIMEOUT,
	        (long)cfg->request_timeout_s) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, client_write) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, client_progress) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, c) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_POST, 1L) != CURLE_OK) {
		snprintf(err, err_len, "libcurl refused an option (needs 7.85 "
		    "or later with OpenSSL)");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	client_free(&c);
	return -1;
}

void
client_free(agent_client **cp)
{
	agent_client *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	if (c->h != NULL)
		curl_easy_cleanup(c->h);    /* before the key it points to */
	curl_slist_free_all(c->hdr_ndjson);
	curl_slist_free_all(c->hdr_json);
	vault_secure_free(c->key);
	free(c);
	*cp = NULL;
}

void
client_resp_clear(client_resp *r)
{
	vault_free_wiped(r->body, r->cap);
	memset(r, 0, sizeof(*r));
}

void
client_post(agent_client *c, const char *path, const char *ctype,
    const unsigned char *body, size_t len, client_resp *r)
{
	char url[700];
	curl_off_t ra = -1;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER,
	    strcmp(ctype, "application/json") == 0 ? c->hdr_json : c->hdr_ndjson);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, r);
	cc = curl_easy_perform(c->h);
	if (cc != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(cc));
		r->status = 0;
		return;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
	    ra >= 0)
		r->retry_after_s = (long)ra;
	if (r->status == 0)
		snprintf(r->error, sizeof(r->error), "no HTTP status");
}
