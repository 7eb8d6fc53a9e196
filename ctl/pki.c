/* ctl/pki.c — certificate authorities, leaf certificates and CRLs for
 * cofferctl, and the `cofferctl pki` verbs.
 *
 * Trusts: the PKI directory and its owner (the CA keys sit there in PEM,
 * mode 0600; whoever can read them can mint identities), OpenSSL 3 for
 * every encoding and signature.  Does not trust: names given on the command
 * line (checked against a strict alphabet before they become file names or
 * DN attributes; SAN entries are built as typed GeneralNames, never by
 * pasting strings into an OpenSSL config value), nor the on-disk index (a
 * malformed line stops the operation rather than silently dropping a
 * revocation from the CRL).
 *
 * Hazards: a certificate that exists without an index entry could never be
 * revoked, so the serial is recorded before the certificate leaves
 * pki_issue(); the CRL is always rebuilt from the whole index; every writer
 * holds the CA's flock so two cofferctl runs cannot lose each other's
 * entries.  Private keys only pass through BIO_s_secmem() buffers, which are
 * wiped when freed.  Nothing secret is ever printed.
 */
#include "ctl/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/sslerr.h"
#include "common/util.h"
#include "common/x509.h"
#include "ctl/common.h"

#define PKI_PATH_MAX      4096
#define PKI_PEM_MAX       (1024U * 1024U)
#define PKI_INDEX_MAX     (64U * 1024U * 1024U)
#define PKI_KEY_LEN_MAX   (2U * PKI_NAME_MAX + 1U)   /* "<tenant>/<name>" */
#define PKI_TIME_LEN      15U                        /* YYYYMMDDHHMMSSZ */
#define PKI_DAY           86400

struct pki_ca {
	char      dir[PKI_PATH_MAX];
	X509     *cert;
	EVP_PKEY *key;
	time_t    not_after;
	int       lock_fd;
};

struct pki_issued {
	X509     *cert;
	EVP_PKEY *key;
	char      serial[PKI_SERIAL_HEX_LEN];
	char      fingerprint[PKI_FPR_HEX_LEN];
};

typedef struct pki_entry {
	char status;                         /* 'V' valid, 'R' revoked */
	char serial[PKI_SERIAL_HEX_LEN];
	char not_after[PKI_TIME_LEN + 1];
	char revoked_at[PKI_TIME_LEN + 1];   /* "-" while valid */
	char key[PKI_KEY_LEN_MAX + 1];
} pki_entry;

typedef struct pki_index {
	pki_entry *e;
	size_t     n;
	size_t     cap;
} pki_index;

/* ---------------------------------------------------------------------- */
/* small helpers                                                           */

int
pki_path(char *dst, size_t cap, const char *root, const char *a,
    const char *b)
{
	int n;

	if (b != NULL)
		n = snprintf(dst, cap, "%s/%s/%s", root, a, b);
	else
		n = snprintf(dst, cap, "%s/%s", root, a);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

const char *
pki_root(const char *explicit_dir)
{
	const char *env;

	if (explicit_dir != NULL && explicit_dir[0] != '\0')
		return explicit_dir;
	env = getenv("COFFER_PKI");
	if (env != NULL && env[0] != '\0')
		return env;
	return "./var/pki";
}

/* mkdir -p; directories this creates get `mode`, existing ones are left
 * as they are. */
static int
pki_mkdirs(const char *dir, mode_t mode, char *err, size_t err_len)
{
	char buf[PKI_PATH_MAX];
	size_t len, i;

	len = strlen(dir);
	if (len == 0 || len >= sizeof(buf)) {
		snprintf(err, err_len, "directory path empty or too long");
		return -1;
	}
	memcpy(buf, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) == 0) {
			/* The umask (cofferctl sets 077) must not narrow a CA
			 * directory: relying services read ca.pem and crl.pem. */
			if (chmod(buf, mode) != 0) {
				snprintf(err, err_len, "%s: %s", buf, strerror(errno));
				return -1;
			}
		} else if (errno != EEXIST) {
			snprintf(err, err_len, "%s: %s", buf, strerror(errno));
			return -1;
		}
		buf[i] = (i == len) ? '\0' : '/';
	}
	return 0;
}

static void
pki_fmt_time(char out[PKI_TIME_LEN + 1], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, PKI_TIME_LEN + 1, "%Y%m%d%H%M%SZ", &tm);
}

/* Parse with a strptime format, requiring the whole string be consumed and
 * the fields to be a real date (strptime accepts 31 February). */
static int
pki_strptime(const char *s, const char *fmt, time_t *out)
{
	struct tm tm, want, back;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, fmt, &tm);
	if (end == NULL || *end != '\0')
		return -1;
	want = tm;                       /* timegm() normalises its argument */
	t = timegm(&tm);
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL)
		return -1;
	tm = want;
	if (back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon ||
	    back.tm_mday != tm.tm_mday || back.tm_hour != tm.tm_hour ||
	    back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec)
		return -1;
	*out = t;
	return 0;
}

int
pki_parse_time(const char *s, time_t *out)
{
	size_t len;

	*out = 0;
	if (s == NULL)
		return -1;
	len = strlen(s);
	/* Fixed widths: strptime alone would also take "2020-1-1T1:2:3Z". */
	if (len == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' &&
	    s[13] == ':' && s[16] == ':' && s[19] == 'Z')
		return pki_strptime(s, "%Y-%m-%dT%H:%M:%SZ", out);
	if (len == 10 && s[4] == '-' && s[7] == '-')
		return pki_strptime(s, "%Y-%m-%d", out);
	return -1;
}

/* Host names for server SANs: dot-separated labels of A-Z a-z 0-9 and
 * inner '-', each 1..63, total <= 253; a leading "*." wildcard is allowed. */
static int
pki_dns_ok(const char *h)
{
	size_t len = strlen(h), label = 0, i;

	if (len > 2 && h[0] == '*' && h[1] == '.') {
		h += 2;
		len -= 2;
	}
	if (len == 0 || len > 253 || h[0] == '.' || h[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return h[len - 1] != '-';
}

/* ---------------------------------------------------------------------- */
/* PEM in and out                                                          */

static int
pki_write_cert(const char *path, X509 *cert, char *err, size_t err_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	int rc = -1;

	if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1) {
		sslerr_set(err, err_len, "encoding a certificate", "failed");
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0) {
		sslerr_set(err, err_len, "encoding a certificate", "failed");
		goto out;
	}
	rc = util_write_file(path, data, (size_t)len, 0644, 1, err, err_len);
out:
	BIO_free(bio);
	return rc;
}

/* PKCS#8 PEM through a secure-memory BIO: the encoded key is cleansed when
 * the BIO is freed.  overwrite = 0 refuses to replace an existing key. */
static int
pki_write_key(const char *path, EVP_PKEY *key, int overwrite, char *err,
    size_t err_len)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data = NULL;
	long len;
	int rc = -1;

	if (bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		sslerr_set(err, err_len, "encoding a private key", "failed");
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0) {
		sslerr_set(err, err_len, "encoding a private key", "failed");
		goto out;
	}
	rc = util_write_file(path, data, (size_t)len, 0600, overwrite, err,
	    err_len);
out:
	BIO_free(bio);
	return rc;
}

static int
pki_write_crl(const char *path, X509_CRL *crl, char *err, size_t err_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	int rc = -1;

	if (bio == NULL || PEM_write_bio_X509_CRL(bio, crl) != 1) {
		sslerr_set(err, err_len, "encoding the CRL", "failed");
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0) {
		sslerr_set(err, err_len, "encoding the CRL", "failed");
		goto out;
	}
	rc = util_write_file(path, data, (size_t)len, 0644, 1, err, err_len);
out:
	BIO_free(bio);
	return rc;
}

static X509 *
pki_read_cert(const char *path, char *err, size_t err_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	BIO *bio;
	X509 *x = NULL;

	if (util_read_file(path, PKI_PEM_MAX, &buf, &len, err, err_len) != 0)
		return NULL;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x == NULL) {
		char what[PKI_PATH_MAX + 32];

		snprintf(what, sizeof(what), "%s: not a PEM certificate", path);
		sslerr_set(err, err_len, what, "failed");
	}
	BIO_free(bio);
	free(buf);
	return x;
}

static EVP_PKEY *
pki_read_key(const char *path, char *err, size_t err_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	BIO *bio;
	EVP_PKEY *k = NULL;

	if (util_check_secret_file(path, err, err_len) != 0)
		return NULL;
	if (util_read_file(path, PKI_PEM_MAX, &buf, &len, err, err_len) != 0)
		return NULL;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio != NULL)
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (k == NULL) {
		/* No OpenSSL detail: it could quote parts of the file. */
		snprintf(err, err_len, "%s: not a readable unencrypted PEM "
		    "private key", path);
		ERR_clear_error();
	}
	BIO_free(bio);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return k;
}

/* ---------------------------------------------------------------------- */
/* the index                                                               */

static void
pki_index_free(pki_index *ix)
{
	free(ix->e);
	ix->e = NULL;
	ix->n = ix->cap = 0;
}

static pki_entry *
pki_index_add(pki_index *ix)
{
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 16;
		pki_entry *e = realloc(ix->e, cap * sizeof(*e));

		if (e == NULL)
			return NULL;
		ix->e = e;
		ix->cap = cap;
	}
	memset(&ix->e[ix->n], 0, sizeof(ix->e[0]));
	return &ix->e[ix->n++];
}

static int
pki_index_time_ok(const char *s)
{
	time_t t;

	return strlen(s) == PKI_TIME_LEN &&
	    pki_strptime(s, "%Y%m%d%H%M%SZ", &t) == 0;
}

static int
pki_index_load(const pki_ca *ca, pki_index *ix, char *err, size_t err_len)
{
	char path[PKI_PATH_MAX];
	unsigned char *buf = NULL, serial[PKI_SERIAL_BYTES];
	char *line, *next;
	size_t len = 0, lineno = 0;

	memset(ix, 0, sizeof(*ix));
	if (pki_path(path, sizeof(path), ca->dir, "index", NULL) != 0) {
		snprintf(err, err_len, "%s: path too long", ca->dir);
		return -1;
	}
	if (util_read_file(path, PKI_INDEX_MAX, &buf, &len, err, err_len) != 0)
		return -1;
	for (line = (char *)buf; line != NULL && *line != '\0'; line = next) {
		pki_entry *e;
		char st[2] = { 0, 0 }, extra[2];
		int n;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((e = pki_index_add(ix)) == NULL) {
			snprintf(err, err_len, "out of memory");
			goto fail;
		}
		n = sscanf(line, "%1s %32s %15s %15s %129s %1s", st, e->serial,
		    e->not_after, e->revoked_at, e->key, extra);
		e->status = st[0];
		if (n != 5 || (e->status != 'V' && e->status != 'R') ||
		    util_unhex(serial, sizeof(serial), e->serial,
		    strlen(e->serial)) != 0 || !pki_index_time_ok(e->not_after) ||
		    (e->status == 'V' && strcmp(e->revoked_at, "-") != 0) ||
		    (e->status == 'R' && !pki_index_time_ok(e->revoked_at))) {
			snprintf(err, err_len, "%s: line %zu is malformed "
			    "(refusing to continue: a revocation could be lost)",
			    path, lineno);
			goto fail;
		}
	}
	free(buf);
	return 0;
fail:
	free(buf);
	pki_index_free(ix);
	return -1;
}

static int
pki_index_save(const pki_ca *ca, const pki_index *ix, char *err,
    size_t err_len)
{
	char path[PKI_PATH_MAX];
	static const char head[] = "# coffer pki index v1: status serial "
	    "not-after revoked-at subject-key\n";
	char *buf;
	size_t cap, off, i;
	int rc;

	if (pki_path(path, sizeof(path), ca->dir, "index", NULL) != 0) {
		snprintf(err, err_len, "%s: path too long", ca->dir);
		return -1;
	}
	/* A line is at most 1+1+32+1+15+1+15+1+129+1 = 197 bytes. */
	cap = sizeof(head) + ix->n * 256;
	if ((buf = malloc(cap)) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	off = (size_t)snprintf(buf, cap, "%s", head);
	for (i = 0; i < ix->n; i++) {
		const pki_entry *e = &ix->e[i];

		off += (size_t)snprintf(buf + off, cap - off, "%c %s %s %s %s\n",
		    e->status, e->serial, e->not_after, e->revoked_at, e->key);
	}
	rc = util_write_file(path, buf, off, 0600, 1, err, err_len);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* the CRL                                                                 */

/* Next CRL number: one more than the current crl.pem's, 1 without one.
 * An unreadable existing CRL is an error (numbers must not go back). */
static int
pki_crl_next_number(const char *path, long long *out, char *err,
    size_t err_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num = NULL;
	int64_t v = 0;
	int rc = -1;

	*out = 1;
	if (access(path, F_OK) != 0)
		return 0;
	if (util_read_file(path, PKI_INDEX_MAX, &buf, &len, err, err_len) != 0)
		return -1;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio != NULL)
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	if (crl == NULL) {
		char what[PKI_PATH_MAX + 32];

		snprintf(what, sizeof(what), "%s: not a PEM CRL", path);
		sslerr_set(err, err_len, what, "failed");
		goto out;
	}
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	if (num == NULL || ASN1_INTEGER_get_int64(&v, num) != 1 || v < 0 ||
	    v == INT64_MAX) {
		snprintf(err, err_len, "%s: missing or unusable CRL number", path);
		ERR_clear_error();
		goto out;
	}
	*out = (long long)v + 1;
	rc = 0;
out:
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	BIO_free(bio);
	free(buf);
	return rc;
}

static int
pki_crl_add_entry(X509_CRL *crl, const pki_entry *e)
{
	unsigned char bin[PKI_SERIAL_BYTES];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *when = NULL;
	X509_REVOKED *r = NULL;
	time_t t;
	int rc = -1;

	if (util_unhex(bin, sizeof(bin), e->serial, strlen(e->serial)) != 0 ||
	    pki_strptime(e->revoked_at, "%Y%m%d%H%M%SZ", &t) != 0)
		return -1;
	if ((bn = BN_bin2bn(bin, (int)sizeof(bin), NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (when = ASN1_TIME_set(NULL, t)) == NULL ||
	    (r = X509_REVOKED_new()) == NULL ||
	    X509_REVOKED_set_serialNumber(r, sn) != 1 ||
	    X509_REVOKED_set_revocationDate(r, when) != 1 ||
	    X509_CRL_add0_revoked(crl, r) != 1)
		goto out;
	r = NULL;                        /* owned by the CRL now */
	rc = 0;
out:
	X509_REVOKED_free(r);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return rc;
}

/* Build, sign and write crl.pem from every revoked index entry. */
static int
pki_crl_write(const pki_ca *ca, const pki_index *ix, char *err,
    size_t err_len)
{
	char path[PKI_PATH_MAX];
	X509_CRL *crl = NULL;
	ASN1_TIME *last = NULL, *next = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;
	long long number;
	time_t now = time(NULL);
	size_t i;
	int rc = -1;

	if (pki_path(path, sizeof(path), ca->dir, "crl.pem", NULL) != 0) {
		snprintf(err, err_len, "%s: path too long", ca->dir);
		return -1;
	}
	if (pki_crl_next_number(path, &number, err, err_len) != 0)
		return -1;
	if ((crl = X509_CRL_new()) == NULL ||
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) != 1 ||
	    (last = ASN1_TIME_set(NULL, now)) == NULL ||
	    (next = ASN1_TIME_set(NULL, now + (time_t)PKI_CRL_DAYS * PKI_DAY))
	    == NULL ||
	    X509_CRL_set1_lastUpdate(crl, last) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, next) != 1) {
		sslerr_set(err, err_len, "building the CRL", "failed");
		goto out;
	}
	for (i = 0; i < ix->n; i++) {
		if (ix->e[i].status != 'R')
			continue;
		if (pki_crl_add_entry(crl, &ix->e[i]) != 0) {
			sslerr_set(err, err_len, "adding a CRL entry", "failed");
			goto out;
		}
	}
	if (X509_CRL_sort(crl) != 1) {
		sslerr_set(err, err_len, "sorting the CRL", "failed");
		goto out;
	}
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx,
	    NID_authority_key_identifier, "keyid:always")) == NULL ||
	    X509_CRL_add_ext(crl, ext, -1) != 1 ||
	    (num = ASN1_INTEGER_new()) == NULL ||
	    ASN1_INTEGER_set_int64(num, (int64_t)number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1) {
		sslerr_set(err, err_len, "CRL extensions", "failed");
		goto out;
	}
	if (X509_CRL_sign(crl, ca->key, EVP_sha256()) <= 0) {
		sslerr_set(err, err_len, "signing the CRL", "failed");
		goto out;
	}
	rc = pki_write_crl(path, crl, err, err_len);
out:
	X509_EXTENSION_free(ext);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(next);
	ASN1_TIME_free(last);
	X509_CRL_free(crl);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* certificates                                                            */

static int
pki_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static X509_NAME *
pki_make_name(const char *org, const char *ou, const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL)
		return NULL;
	if ((org != NULL && X509_NAME_add_entry_by_NID(n, NID_organizationName,
	    MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0) != 1) ||
	    (ou != NULL && X509_NAME_add_entry_by_NID(n,
	    NID_organizationalUnitName, MBSTRING_UTF8,
	    (const unsigned char *)ou, -1, -1, 0) != 1) ||
	    X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* 128 random bits, never zero; hex copy for the index. */
static ASN1_INTEGER *
pki_new_serial(char hex[PKI_SERIAL_HEX_LEN])
{
	unsigned char bin[PKI_SERIAL_BYTES], acc;
	BIGNUM *bn;
	ASN1_INTEGER *sn = NULL;
	size_t i;

	do {
		if (RAND_bytes(bin, (int)sizeof(bin)) != 1)
			return NULL;
		for (acc = 0, i = 0; i < sizeof(bin); i++)
			acc |= bin[i];
	} while (acc == 0);
	util_hex(hex, bin, sizeof(bin));
	if ((bn = BN_bin2bn(bin, (int)sizeof(bin), NULL)) != NULL)
		sn = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return sn;
}

static EVP_PKEY *
pki_keygen(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int
pki_set_validity(X509 *x, time_t nb, time_t na)
{
	return (ASN1_TIME_set(X509_getm_notBefore(x), nb) != NULL &&
	    ASN1_TIME_set(X509_getm_notAfter(x), na) != NULL) ? 0 : -1;
}

static int
pki_san(X509 *x, const pki_leaf *req, char *err, size_t err_len)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	ASN1_OCTET_STRING *ip = NULL;
	char shown[80];
	size_t i;
	int rc = -1;

	if (gens == NULL)
		goto oom;
	for (i = 0; i < req->n_dns; i++) {
		if (!pki_dns_ok(req->dns[i])) {
			snprintf(err, err_len, "invalid DNS name '%s'",
			    log_printable(shown, sizeof(shown), req->dns[i],
			    strlen(req->dns[i])));
			goto out;
		}
		if ((gn = GENERAL_NAME_new()) == NULL ||
		    (ia5 = ASN1_IA5STRING_new()) == NULL ||
		    ASN1_STRING_set(ia5, req->dns[i], -1) != 1)
			goto oom;
		GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
		ia5 = NULL;
		if (sk_GENERAL_NAME_push(gens, gn) <= 0)
			goto oom;
		gn = NULL;
	}
	for (i = 0; i < req->n_ips; i++) {
		if ((ip = a2i_IPADDRESS(req->ips[i])) == NULL) {
			ERR_clear_error();
			snprintf(err, err_len, "invalid IP address '%s'",
			    log_printable(shown, sizeof(shown), req->ips[i],
			    strlen(req->ips[i])));
			goto out;
		}
		if ((gn = GENERAL_NAME_new()) == NULL)
			goto oom;
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		ip = NULL;
		if (sk_GENERAL_NAME_push(gens, gn) <= 0)
			goto oom;
		gn = NULL;
	}
	if (sk_GENERAL_NAME_num(gens) == 0) {
		snprintf(err, err_len, "a server certificate needs at least one "
		    "DNS name or IP address");
		goto out;
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) != 1)
		goto oom;
	rc = 0;
	goto out;
oom:
	sslerr_set(err, err_len, "subjectAltName", "failed");
out:
	ASN1_OCTET_STRING_free(ip);
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* CAs                                                                     */

int
pki_ca_exists(const char *dir)
{
	char p[PKI_PATH_MAX];

	if (pki_path(p, sizeof(p), dir, "ca.pem", NULL) == 0 &&
	    access(p, F_OK) == 0)
		return 1;
	if (pki_path(p, sizeof(p), dir, "ca.key", NULL) == 0 &&
	    access(p, F_OK) == 0)
		return 1;
	return 0;
}

static int
pki_lock(const char *dir, char *err, size_t err_len)
{
	char p[PKI_PATH_MAX];
	int fd;

	if (pki_path(p, sizeof(p), dir, "lock", NULL) != 0) {
		snprintf(err, err_len, "%s: path too long", dir);
		return -1;
	}
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", p, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		snprintf(err, err_len, "%s: %s", p, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void
pki_ca_close(pki_ca **cap)
{
	pki_ca *ca;

	if (cap == NULL || (ca = *cap) == NULL)
		return;
	EVP_PKEY_free(ca->key);           /* OpenSSL clears key material */
	X509_free(ca->cert);
	if (ca->lock_fd >= 0)
		close(ca->lock_fd);           /* releases the flock */
	OPENSSL_clear_free(ca, sizeof(*ca));
	*cap = NULL;
}

static pki_ca *
pki_ca_alloc(const char *dir, char *err, size_t err_len)
{
	pki_ca *ca;

	if (strlen(dir) >= PKI_PATH_MAX - 32) {
		snprintf(err, err_len, "%s: path too long", dir);
		return NULL;
	}
	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(ca->dir, sizeof(ca->dir), "%s", dir);
	ca->lock_fd = -1;
	return ca;
}

int
pki_ca_init(const char *dir, const char *org, const char *cn, char *err,
    size_t err_len)
{
	char p_key[PKI_PATH_MAX], p_cert[PKI_PATH_MAX], p_crl[PKI_PATH_MAX];
	pki_ca *ca = NULL;
	pki_index ix = { NULL, 0, 0 };
	X509_NAME *name = NULL;
	ASN1_INTEGER *sn = NULL;
	X509V3_CTX ctx;
	char serial[PKI_SERIAL_HEX_LEN];
	char ixpath[PKI_PATH_MAX];
	time_t now = time(NULL);
	int wrote_key = 0, wrote_ix = 0;

	if ((ca = pki_ca_alloc(dir, err, err_len)) == NULL)
		return -1;
	if (pki_path(p_key, sizeof(p_key), dir, "ca.key", NULL) != 0 ||
	    pki_path(p_cert, sizeof(p_cert), dir, "ca.pem", NULL) != 0 ||
	    pki_path(p_crl, sizeof(p_crl), dir, "crl.pem", NULL) != 0 ||
	    pki_path(ixpath, sizeof(ixpath), dir, "index", NULL) != 0) {
		snprintf(err, err_len, "%s: path too long", dir);
		goto fail;
	}
	if (pki_mkdirs(dir, 0755, err, err_len) != 0)
		goto fail;
	if ((ca->lock_fd = pki_lock(dir, err, err_len)) < 0)
		goto fail;
	/* Checked under the lock: two concurrent ca-init cannot both pass. */
	if (pki_ca_exists(dir)) {
		snprintf(err, err_len, "%s: CA already initialised (refusing "
		    "to overwrite ca.pem/ca.key)", dir);
		goto fail;
	}
	if ((ca->key = pki_keygen()) == NULL) {
		sslerr_set(err, err_len, "generating the CA key", "failed");
		goto fail;
	}
	ca->not_after = now + (time_t)PKI_CA_DAYS * PKI_DAY;
	if ((ca->cert = X509_new()) == NULL ||
	    X509_set_version(ca->cert, X509_VERSION_3) != 1 ||
	    (sn = pki_new_serial(serial)) == NULL ||
	    X509_set_serialNumber(ca->cert, sn) != 1 ||
	    (name = pki_make_name(org, NULL, cn)) == NULL ||
	    X509_set_subject_name(ca->cert, name) != 1 ||
	    X509_set_issuer_name(ca->cert, name) != 1 ||
	    pki_set_validity(ca->cert, now - PKI_BACKDATE_SECONDS,
	    ca->not_after) != 0 ||
	    X509_set_pubkey(ca->cert, ca->key) != 1) {
		sslerr_set(err, err_len, "building the CA certificate", "failed");
		goto fail;
	}
	X509V3_set_ctx(&ctx, ca->cert, ca->cert, NULL, NULL, 0);
	if (pki_add_ext(ca->cert, &ctx, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0") != 0 ||
	    pki_add_ext(ca->cert, &ctx, NID_key_usage,
	    "critical,keyCertSign,cRLSign") != 0 ||
	    pki_add_ext(ca->cert, &ctx, NID_subject_key_identifier,
	    "hash") != 0) {
		sslerr_set(err, err_len, "CA certificate extensions", "failed");
		goto fail;
	}
	if (X509_sign(ca->cert, ca->key, EVP_sha256()) <= 0) {
		sslerr_set(err, err_len, "signing the CA certificate", "failed");
		goto fail;
	}
	/* Key first: a ca.pem without its key would be a useless CA. */
	if (pki_write_key(p_key, ca->key, 0, err, err_len) != 0)
		goto fail;
	wrote_key = 1;
	if (pki_index_save(ca, &ix, err, err_len) != 0)
		goto fail;
	wrote_ix = 1;
	if (pki_crl_write(ca, &ix, err, err_len) != 0)
		goto fail;
	/* Certificate last: its presence means "initialised and complete". */
	if (pki_write_cert(p_cert, ca->cert, err, err_len) != 0)
		goto fail;
	ASN1_INTEGER_free(sn);
	X509_NAME_free(name);
	pki_ca_close(&ca);
	return 0;
fail:
	if (wrote_ix) {
		unlink(ixpath);
		unlink(p_crl);
	}
	if (wrote_key)
		unlink(p_key);
	ASN1_INTEGER_free(sn);
	X509_NAME_free(name);
	pki_ca_close(&ca);
	return -1;
}

int
pki_ca_open(pki_ca **out, const char *dir, char *err, size_t err_len)
{
	char p[PKI_PATH_MAX];
	pki_ca *ca;

	*out = NULL;
	if ((ca = pki_ca_alloc(dir, err, err_len)) == NULL)
		return -1;
	if (!pki_ca_exists(dir)) {
		snprintf(err, err_len, "%s: no CA here (not initialised)", dir);
		goto fail;
	}
	if ((ca->lock_fd = pki_lock(dir, err, err_len)) < 0)
		goto fail;
	if (pki_path(p, sizeof(p), dir, "ca.pem", NULL) != 0 ||
	    (ca->cert = pki_read_cert(p, err, err_len)) == NULL)
		goto fail;
	if (pki_path(p, sizeof(p), dir, "ca.key", NULL) != 0 ||
	    (ca->key = pki_read_key(p, err, err_len)) == NULL)
		goto fail;
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		snprintf(err, err_len, "%s: ca.key does not match ca.pem", dir);
		goto fail;
	}
	if (X509_check_ca(ca->cert) == 0) {
		snprintf(err, err_len, "%s: ca.pem is not a CA certificate", dir);
		goto fail;
	}
	if (x509_time(X509_get0_notAfter(ca->cert), &ca->not_after) != 0) {
		snprintf(err, err_len, "%s: ca.pem has an unreadable notAfter",
		    dir);
		goto fail;
	}
	*out = ca;
	return 0;
fail:
	pki_ca_close(&ca);
	return -1;
}

/* notAfter of each of n serials from dir's index, 0 where absent.  0 or -1. */
static int
pki_index_not_after(const char *dir, const char *const *serials, size_t n,
                    time_t *out, char *err, size_t err_len)
{
	pki_ca ca;
	pki_index ix;
	size_t i, j;

	for (i = 0; i < n; i++)
		out[i] = 0;
	memset(&ca, 0, sizeof(ca));
	if (snprintf(ca.dir, sizeof(ca.dir), "%s", dir) >= (int)sizeof(ca.dir)) {
		snprintf(err, err_len, "PKI directory path too long");
		return -1;
	}
	if (pki_index_load(&ca, &ix, err, err_len) != 0)
		return -1;
	for (i = 0; i < n; i++)
		for (j = 0; j < ix.n; j++)
			if (serials[i] != NULL &&
			    strcasecmp(serials[i], ix.e[j].serial) == 0) {
				if (pki_strptime(ix.e[j].not_after,
				    "%Y%m%d%H%M%SZ", &out[i]) != 0)
					out[i] = 0;
				break;
			}
	pki_index_free(&ix);
	return 0;
}

time_t *
pki_list_not_after(const char *ca_dir, const PGresult *r, int serial_col,
                   const char *what)
{
	int i, n = PQntuples(r);
	const char **serials = calloc((size_t)n + 1, sizeof(*serials));
	time_t *na = calloc((size_t)n + 1, sizeof(*na));
	char err[512];

	if (serials == NULL || na == NULL) {
		ctl_fail("out of memory");
		free(serials);
		free(na);
		return NULL;
	}
	for (i = 0; i < n; i++)
		serials[i] = PQgetvalue(r, i, serial_col);
	if (n > 0 && pki_index_not_after(ca_dir, serials, (size_t)n, na, err,
	    sizeof(err)) != 0)
		ctl_fail("%s: expiry unknown: %s", what, err);
	free(serials);
	return na;
}

/* ---------------------------------------------------------------------- */
/* leaves                                                                  */

int
pki_validity_days(int days, time_t *not_before, time_t *not_after, char *err,
    size_t err_len)
{
	time_t now = time(NULL);

	*not_before = *not_after = 0;
	if (days == 0)
		days = PKI_LEAF_DAYS_DEFAULT;
	if (days < 1 || days > PKI_LEAF_DAYS_MAX) {
		snprintf(err, err_len, "validity of %d days is out of range "
		    "(1 to %d)", days, PKI_LEAF_DAYS_MAX);
		return -1;
	}
	*not_before = now - PKI_BACKDATE_SECONDS;
	*not_after = now + (time_t)days * PKI_DAY;
	return 0;
}

const char *
pki_issued_serial(const pki_issued *is)
{
	return is->serial;
}

const char *
pki_issued_fingerprint(const pki_issued *is)
{
	return is->fingerprint;
}

void
pki_issued_free(pki_issued **isp)
{
	pki_issued *is;

	if (isp == NULL || (is = *isp) == NULL)
		return;
	EVP_PKEY_free(is->key);
	X509_free(is->cert);
	OPENSSL_clear_free(is, sizeof(*is));
	*isp = NULL;
}

static int
pki_leaf_check(const pki_ca *ca, const pki_leaf *req, char *err,
    size_t err_len)
{
	char a[PKI_TIME_LEN + 1], b[PKI_TIME_LEN + 1];

	if (req->cn == NULL || req->cn[0] == '\0' || req->key == NULL ||
	    req->key[0] == '\0' || strlen(req->key) > PKI_KEY_LEN_MAX ||
	    strchr(req->key, ' ') != NULL || strchr(req->key, '\n') != NULL ||
	    (req->usage != PKI_USAGE_CLIENT && req->usage != PKI_USAGE_SERVER)) {
		snprintf(err, err_len, "internal: incomplete certificate request");
		return -1;
	}
	if (req->usage == PKI_USAGE_CLIENT && (req->n_dns || req->n_ips)) {
		snprintf(err, err_len, "client certificates carry no DNS or IP "
		    "names");
		return -1;
	}
	if (req->not_after <= req->not_before) {
		snprintf(err, err_len, "notAfter must be later than notBefore");
		return -1;
	}
	if (req->not_after - req->not_before >
	    (time_t)PKI_LEAF_DAYS_MAX * PKI_DAY) {
		snprintf(err, err_len, "validity longer than %d days",
		    PKI_LEAF_DAYS_MAX);
		return -1;
	}
	if (req->not_after > ca->not_after) {
		pki_fmt_time(a, req->not_after);
		pki_fmt_time(b, ca->not_after);
		snprintf(err, err_len, "notAfter %s is beyond the CA's own "
		    "expiry %s", a, b);
		return -1;
	}
	return 0;
}

int
pki_issue(pki_ca *ca, const pki_leaf *req, pki_issued **out, char *err,
    size_t err_len)
{
	pki_issued *is = NULL;
	pki_index ix = { NULL, 0, 0 };
	pki_entry *e;
	X509_NAME *name = NULL;
	ASN1_INTEGER *sn = NULL;
	X509V3_CTX ctx;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t i;
	int clash;

	*out = NULL;
	if (pki_leaf_check(ca, req, err, err_len) != 0)
		return -1;
	/* Load first: a damaged index must stop us before anything is made. */
	if (pki_index_load(ca, &ix, err, err_len) != 0)
		return -1;
	if ((is = calloc(1, sizeof(*is))) == NULL) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	if (req->pubkey == NULL && (is->key = pki_keygen()) == NULL) {
		sslerr_set(err, err_len, "generating a key", "failed");
		goto fail;
	}
	do {                             /* a 2^-128 event, but cheap to rule out */
		ASN1_INTEGER_free(sn);
		if ((sn = pki_new_serial(is->serial)) == NULL) {
			sslerr_set(err, err_len, "making a serial number", "failed");
			goto fail;
		}
		for (clash = 0, i = 0; i < ix.n; i++)
			clash |= strcmp(ix.e[i].serial, is->serial) == 0;
	} while (clash);
	if ((is->cert = X509_new()) == NULL ||
	    X509_set_version(is->cert, X509_VERSION_3) != 1 ||
	    X509_set_serialNumber(is->cert, sn) != 1 ||
	    (name = pki_make_name(req->org, req->ou, req->cn)) == NULL ||
	    X509_set_subject_name(is->cert, name) != 1 ||
	    X509_set_issuer_name(is->cert,
	    X509_get_subject_name(ca->cert)) != 1 ||
	    pki_set_validity(is->cert, req->not_before, req->not_after) != 0 ||
	    X509_set_pubkey(is->cert, req->pubkey != NULL ?
	    (EVP_PKEY *)req->pubkey : is->key) != 1) {
		sslerr_set(err, err_len, "building the certificate", "failed");
		goto fail;
	}
	X509V3_set_ctx(&ctx, ca->cert, is->cert, NULL, NULL, 0);
	if (pki_add_ext(is->cert, &ctx, NID_basic_constraints,
	    "critical,CA:FALSE") != 0 ||
	    pki_add_ext(is->cert, &ctx, NID_key_usage,
	    "critical,digitalSignature") != 0 ||
	    pki_add_ext(is->cert, &ctx, NID_ext_key_usage,
	    req->usage == PKI_USAGE_SERVER ? "serverAuth" : "clientAuth") != 0 ||
	    pki_add_ext(is->cert, &ctx, NID_subject_key_identifier,
	    "hash") != 0 ||
	    pki_add_ext(is->cert, &ctx, NID_authority_key_identifier,
	    "keyid:always") != 0) {
		sslerr_set(err, err_len, "certificate extensions", "failed");
		goto fail;
	}
	if (req->usage == PKI_USAGE_SERVER && pki_san(is->cert, req, err,
	    err_len) != 0)
		goto fail;
	if (X509_sign(is->cert, ca->key, EVP_sha256()) <= 0) {
		sslerr_set(err, err_len, "signing the certificate", "failed");
		goto fail;
	}
	if (X509_digest(is->cert, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != 32) {
		sslerr_set(err, err_len, "certificate fingerprint", "failed");
		goto fail;
	}
	util_hex(is->fingerprint, md, mdlen);
	if ((e = pki_index_add(&ix)) == NULL) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	e->status = 'V';
	snprintf(e->serial, sizeof(e->serial), "%s", is->serial);
	pki_fmt_time(e->not_after, req->not_after);
	snprintf(e->revoked_at, sizeof(e->revoked_at), "-");
	snprintf(e->key, sizeof(e->key), "%s", req->key);
	if (pki_index_save(ca, &ix, err, err_len) != 0)
		goto fail;
	ASN1_INTEGER_free(sn);
	X509_NAME_free(name);
	pki_index_free(&ix);
	*out = is;
	return 0;
fail:
	ASN1_INTEGER_free(sn);
	X509_NAME_free(name);
	pki_index_free(&ix);
	pki_issued_free(&is);
	return -1;
}

static int
pki_base_paths(const char *dir, const char *base, char *p_key, char *p_crt,
    size_t cap)
{
	char k[PKI_NAME_MAX * 2 + 8], c[PKI_NAME_MAX * 2 + 8];

	if ((size_t)snprintf(k, sizeof(k), "%s.key", base) >= sizeof(k) ||
	    (size_t)snprintf(c, sizeof(c), "%s.crt", base) >= sizeof(c))
		return -1;
	if (pki_path(p_key, cap, dir, k, NULL) != 0 ||
	    pki_path(p_crt, cap, dir, c, NULL) != 0)
		return -1;
	return 0;
}

int
pki_issued_write(const pki_issued *is, const char *dir, const char *base,
    char *err, size_t err_len)
{
	char p_key[PKI_PATH_MAX], p_crt[PKI_PATH_MAX];

	if (pki_base_paths(dir, base, p_key, p_crt, sizeof(p_key)) != 0) {
		snprintf(err, err_len, "%s: path too long", dir);
		return -1;
	}
	if (pki_mkdirs(dir, 0700, err, err_len) != 0)
		return -1;
	if (is->key != NULL && pki_write_key(p_key, is->key, 1, err,
	    err_len) != 0)
		return -1;
	if (pki_write_cert(p_crt, is->cert, err, err_len) != 0) {
		if (is->key != NULL)
			unlink(p_key);
		return -1;
	}
	return 0;
}

static char *
pki_p7_b64(X509 *x)
{
	PKCS7 *p7 = PKCS7_new();
	PKCS7_SIGNED *sd;
	BIO *b64 = NULL, *mem = NULL;
	BUF_MEM *bm;
	char *out = NULL;

	/* signedData with no signer and no content: "certs-only" */
	if (p7 == NULL || PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
	    (sd = p7->d.sign) == NULL ||
	    ASN1_INTEGER_set(sd->version, 1) != 1 ||
	    PKCS7_content_new(p7, NID_pkcs7_data) != 1 ||
	    PKCS7_add_certificate(p7, x) != 1)
		goto out;
	if ((b64 = BIO_new(BIO_f_base64())) == NULL ||
	    (mem = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	BIO_push(b64, mem);
	if (i2d_PKCS7_bio(b64, p7) != 1 || BIO_flush(b64) != 1)
		goto out;
	BIO_get_mem_ptr(mem, &bm);
	if ((out = malloc(bm->length + 1)) == NULL)
		goto out;
	memcpy(out, bm->data, bm->length);
	out[bm->length] = '\0';
out:
	if (b64 != NULL)
		BIO_free_all(b64);
	else
		BIO_free(mem);
	PKCS7_free(p7);
	return out;
}

char *
pki_issued_p7_b64(const pki_issued *is)
{
	return pki_p7_b64(is->cert);
}

char *
pki_ca_dir_p7_b64(const char *dir)
{
	char path[PKI_PATH_MAX];
	FILE *f;
	X509 *x;
	char *out;

	if (pki_path(path, sizeof(path), dir, "ca.pem", NULL) != 0 ||
	    (f = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return NULL;
	out = pki_p7_b64(x);
	X509_free(x);
	return out;
}

void
pki_issued_unlink(const char *dir, const char *base)
{
	char p_key[PKI_PATH_MAX], p_crt[PKI_PATH_MAX];

	if (pki_base_paths(dir, base, p_key, p_crt, sizeof(p_key)) != 0)
		return;
	unlink(p_crt);
	unlink(p_key);
}

/* ---------------------------------------------------------------------- */
/* revocation                                                              */

int
pki_revoke(pki_ca *ca, const char *key, size_t *n_revoked, char *err,
    size_t err_len)
{
	pki_index ix;
	char now[PKI_TIME_LEN + 1];
	size_t i, n = 0;
	int rc = -1;

	*n_revoked = 0;
	if (pki_index_load(ca, &ix, err, err_len) != 0)
		return -1;
	pki_fmt_time(now, time(NULL));
	for (i = 0; i < ix.n; i++) {
		if (ix.e[i].status != 'V' || strcmp(ix.e[i].key, key) != 0)
			continue;
		ix.e[i].status = 'R';
		snprintf(ix.e[i].revoked_at, sizeof(ix.e[i].revoked_at), "%s",
		    now);
		n++;
	}
	/* Index first: if the CRL write fails, a rerun (or crl-refresh)
	 * rebuilds the CRL from an index that already says "revoked". */
	if (n > 0 && pki_index_save(ca, &ix, err, err_len) != 0)
		goto out;
	if (pki_crl_write(ca, &ix, err, err_len) != 0)
		goto out;
	*n_revoked = n;
	rc = 0;
out:
	pki_index_free(&ix);
	return rc;
}

int
pki_crl_refresh(pki_ca *ca, char *err, size_t err_len)
{
	pki_index ix;
	int rc;

	if (pki_index_load(ca, &ix, err, err_len) != 0)
		return -1;
	rc = pki_crl_write(ca, &ix, err, err_len);
	pki_index_free(&ix);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* `cofferctl pki ...`                                                     */

static const char pki_usage_text[] =
    "usage: cofferctl pki server --name NAME [--dns HOST]... [--ip ADDR]... "
    "--out DIR [--days N] [--pki DIR]\n"
    "       cofferctl pki people-ca-init [--pki DIR]\n"
    "       cofferctl pki crl-refresh (--tenant T | --people) [--pki DIR]\n";

enum { PKI_OPT_NAME = 1, PKI_OPT_DNS, PKI_OPT_IP, PKI_OPT_OUT, PKI_OPT_DAYS,
       PKI_OPT_PKI, PKI_OPT_TENANT, PKI_OPT_PEOPLE, PKI_OPT_CONFIG };

static const struct option pki_opts[] = {
	{ "name",   required_argument, NULL, PKI_OPT_NAME },
	{ "dns",    required_argument, NULL, PKI_OPT_DNS },
	{ "ip",     required_argument, NULL, PKI_OPT_IP },
	{ "out",    required_argument, NULL, PKI_OPT_OUT },
	{ "days",   required_argument, NULL, PKI_OPT_DAYS },
	{ "pki",    required_argument, NULL, PKI_OPT_PKI },
	{ "tenant", required_argument, NULL, PKI_OPT_TENANT },
	{ "people", no_argument,       NULL, PKI_OPT_PEOPLE },
	{ "config", required_argument, NULL, PKI_OPT_CONFIG },  /* accepted, unused */
	{ NULL, 0, NULL, 0 }
};

#define PKI_SAN_MAX 32

static int
pki_people_dir(const char *root, char *dir, size_t cap, char *err,
    size_t err_len)
{
	if (pki_path(dir, cap, root, "people", NULL) != 0) {
		snprintf(err, err_len, "PKI directory path too long");
		return -1;
	}
	return 0;
}

static int
pki_cmd_server(const char *root, const char *name, const char *const *dns,
    size_t n_dns, const char *const *ips, size_t n_ips, const char *out_dir,
    int days)
{
	char dir[PKI_PATH_MAX], err[512], shown[80];
	const char *self[1];
	size_t i;
	pki_ca *ca = NULL;
	pki_issued *is = NULL;
	pki_leaf req;
	int rc = 1;

	memset(&req, 0, sizeof(req));
	if (names_check("server name", name, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return 1;
	}
	if (n_dns == 0 && n_ips == 0) {
		/* Clients check SANs, not the CN: default to the name itself. */
		if (!pki_dns_ok(name)) {
			ctl_fail("server name '%s' is not a DNS name: give "
			    "--dns or --ip", name);
			return 1;
		}
		self[0] = name;
		dns = self;
		n_dns = 1;
	}
	/* Checked again by pki_issue(); here so a typo creates no CA. */
	for (i = 0; i < n_dns; i++) {
		if (!pki_dns_ok(dns[i])) {
			ctl_fail("invalid DNS name '%s'", log_printable(shown,
			    sizeof(shown), dns[i], strlen(dns[i])));
			return 1;
		}
	}
	for (i = 0; i < n_ips; i++) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(ips[i]);

		if (ip == NULL) {
			ERR_clear_error();
			ctl_fail("invalid IP address '%s'", log_printable(shown,
			    sizeof(shown), ips[i], strlen(ips[i])));
			return 1;
		}
		ASN1_OCTET_STRING_free(ip);
	}
	if (pki_path(dir, sizeof(dir), root, "server", NULL) != 0) {
		ctl_fail("PKI directory path too long");
		return 1;
	}
	if (!pki_ca_exists(dir)) {
		if (pki_ca_init(dir, "Coffer", "Coffer server CA", err,
		    sizeof(err)) != 0) {
			ctl_fail("server CA: %s", err);
			return 1;
		}
		printf("server CA created: %s/ca.pem\n", dir);
	}
	if (pki_ca_open(&ca, dir, err, sizeof(err)) != 0) {
		ctl_fail("server CA: %s", err);
		return 1;
	}
	req.usage = PKI_USAGE_SERVER;
	req.cn = name;
	req.key = name;
	req.dns = dns;
	req.n_dns = n_dns;
	req.ips = ips;
	req.n_ips = n_ips;
	if (pki_validity_days(days, &req.not_before, &req.not_after, err,
	    sizeof(err)) != 0 ||
	    pki_issue(ca, &req, &is, err, sizeof(err)) != 0 ||
	    pki_issued_write(is, out_dir, name, err, sizeof(err)) != 0) {
		ctl_fail("server certificate %s: %s", name, err);
		goto out;
	}
	printf("server %s serial %s fingerprint %s\n", name,
	    pki_issued_serial(is), pki_issued_fingerprint(is));
	printf("wrote %s/%s.crt and %s/%s.key (0600); clients trust %s/ca.pem\n",
	    out_dir, name, out_dir, name, dir);
	rc = 0;
out:
	pki_issued_free(&is);
	pki_ca_close(&ca);
	return rc;
}

static int
pki_cmd_people_ca_init(const char *root)
{
	char dir[PKI_PATH_MAX], err[512];

	if (pki_people_dir(root, dir, sizeof(dir), err, sizeof(err)) != 0 ||
	    pki_ca_init(dir, "Coffer", "Coffer people CA", err,
	    sizeof(err)) != 0) {
		ctl_fail("people CA: %s", err);
		return 1;
	}
	printf("people CA initialised: %s/{ca.pem,ca.key,crl.pem}\n", dir);
	return 0;
}

static int
pki_cmd_crl_refresh(const char *root, const char *tenant, int people)
{
	char dir[PKI_PATH_MAX], err[512];
	pki_ca *ca = NULL;
	int rc = 1;

	if (people) {
		if (pki_people_dir(root, dir, sizeof(dir), err, sizeof(err)) != 0) {
			ctl_fail("%s", err);
			return 1;
		}
	} else {
		if (names_check("tenant name", tenant, err, sizeof(err)) != 0) {
			ctl_fail("%s", err);
			return 1;
		}
		if (pki_path(dir, sizeof(dir), root, "devices", tenant) != 0) {
			ctl_fail("PKI directory path too long");
			return 1;
		}
	}
	if (pki_ca_open(&ca, dir, err, sizeof(err)) != 0 ||
	    pki_crl_refresh(ca, err, sizeof(err)) != 0) {
		ctl_fail("CRL refresh: %s", err);
		goto out;
	}
	printf("CRL re-signed: %s/crl.pem (next update in %d days); send "
	    "SIGHUP to the %s to reload it\n", dir, PKI_CRL_DAYS,
	    people ? "API" : "gateway");
	rc = 0;
out:
	pki_ca_close(&ca);
	return rc;
}

int
ctl_cmd_pki(int argc, char **argv)
{
	const char *dns[PKI_SAN_MAX], *ips[PKI_SAN_MAX];
	const char *name = NULL, *out = NULL, *pki = NULL, *tenant = NULL;
	const char *sub;
	size_t n_dns = 0, n_ips = 0;
	int people = 0, days = 0, c;
	long v;

	if (argc < 2)
		return ctl_usage(pki_usage_text, NULL);
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "help") == 0) {
		fputs(pki_usage_text, stdout);
		return 0;
	}
	optind = 0;                      /* full getopt re-initialisation */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", pki_opts, NULL)) != -1) {
		switch (c) {
		case PKI_OPT_NAME:   name = optarg; break;
		case PKI_OPT_OUT:    out = optarg; break;
		case PKI_OPT_PKI:    pki = optarg; break;
		case PKI_OPT_TENANT: tenant = optarg; break;
		case PKI_OPT_PEOPLE: people = 1; break;
		case PKI_OPT_CONFIG: break;
		case PKI_OPT_DNS:
			if (n_dns == PKI_SAN_MAX)
				return ctl_usage(pki_usage_text, "pki: too "
				    "many --dns");
			dns[n_dns++] = optarg;
			break;
		case PKI_OPT_IP:
			if (n_ips == PKI_SAN_MAX)
				return ctl_usage(pki_usage_text, "pki: too "
				    "many --ip");
			ips[n_ips++] = optarg;
			break;
		case PKI_OPT_DAYS:
			if (ctl_parse_long(optarg, 1, PKI_LEAF_DAYS_MAX,
			    &v) != 0)
				return ctl_usage(pki_usage_text, "pki: --days "
				    "must be 1 to 825");
			days = (int)v;
			break;
		default:
			return ctl_usage(pki_usage_text, "pki: unknown or "
			    "incomplete option");
		}
	}
	if (optind != argc - 1)
		return ctl_usage(pki_usage_text, "pki: unexpected argument");

	if (strcmp(sub, "server") == 0) {
		if (name == NULL || out == NULL || tenant != NULL || people)
			return ctl_usage(pki_usage_text, "pki: server needs "
			    "--name and --out");
		return pki_cmd_server(pki_root(pki), name, dns, n_dns, ips,
		    n_ips, out, days);
	}
	if (name != NULL || out != NULL || n_dns || n_ips || days)
		return ctl_usage(pki_usage_text, "pki: --name, --out, --dns, "
		    "--ip and --days are for 'pki server'");
	if (strcmp(sub, "people-ca-init") == 0) {
		if (tenant != NULL || people)
			return ctl_usage(pki_usage_text, "pki: people-ca-init "
			    "takes no --tenant");
		return pki_cmd_people_ca_init(pki_root(pki));
	}
	if (strcmp(sub, "crl-refresh") == 0) {
		if ((tenant == NULL) == (people == 0))
			return ctl_usage(pki_usage_text, "pki: crl-refresh "
			    "needs --tenant T or --people");
		return pki_cmd_crl_refresh(pki_root(pki), tenant, people);
	}
	return ctl_usage(pki_usage_text, "pki: unknown pki command");
}
