/* tests/unit/test_api_auth.c — api/auth.c: the API's own verification of a
 * presented people certificate (the TLS layer decides nothing).
 *
 * Certificates come from the real people CA code (ctl/pki.h) in a temporary
 * directory.  The good case, then every way a chain must be refused:
 * another CA, expired, not yet valid, revoked (and the revocation taking
 * effect when the CRL file changes, without a restart), a server
 * certificate, a subject without the role, garbage and trailing bytes, no
 * certificate, a CA certificate presented as a leaf (also a CA:TRUE one
 * whose keyUsage is digitalSignature only), a missing CRL at
 * start-up, and a CRL that disappears later (fail closed).  No database.
 *
 * test_matrix is issue 8's certificate matrix for the API (the gateway's
 * is tests/integration/cert_matrix.sh).  api_auth_check() is where the API
 * decides (GnuTLS only requests a certificate), so the matrix runs here:
 * certificates the people CA code will not make are made with the OpenSSL
 * API (weak keys, SHA-1, wrong usages, intermediates, self-signed), each
 * naming a well-formed person so that only the defect can refuse it; then
 * the CRL cases (revoked, expired, forged, missing, refreshed).  It prints
 * the matrix and reports each row as a figure (api_cert_matrix), in the
 * format of tests/lib/figures.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "api/auth.h"
#include "ctl/pki.h"

#define DAY 86400

typedef struct fx {
	char root[256];
	char people[300];
	char other[300];
	char out[300];
	char ca_pem[400];
	char crl_pem[400];
} fx;

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "%s/test_api_auth.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->people, sizeof(f->people), "%s/people", f->root);
	snprintf(f->other, sizeof(f->other), "%s/other", f->root);
	snprintf(f->out, sizeof(f->out), "%s/out", f->root);
	snprintf(f->ca_pem, sizeof(f->ca_pem), "%s/ca.pem", f->people);
	snprintf(f->crl_pem, sizeof(f->crl_pem), "%s/crl.pem", f->people);
	assert_int_equal(pki_ca_init(f->people, "Coffer", "people CA", err,
	    sizeof(err)), 0);
	assert_int_equal(pki_ca_init(f->other, "Coffer", "people CA", err,
	    sizeof(err)), 0);
	*state = f;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	fx *f = *state;

	assert_int_equal(nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

/* Issue a leaf; its DER into *der (malloc'd). */
static void
issue(const fx *f, const char *ca_dir, pki_usage usage, const char *org,
    const char *ou, const char *cn, time_t nb, time_t na, unsigned char **der,
    size_t *der_len)
{
	char err[512], path[600], key[200];
	pki_ca *ca = NULL;
	pki_issued *is = NULL;
	pki_leaf req;
	FILE *fp;
	X509 *x;
	unsigned char *p;
	int n;
	const char *const dns[] = { "localhost" };

	memset(&req, 0, sizeof(req));
	snprintf(key, sizeof(key), "%s/%s", org, cn);
	req.usage = usage;
	req.org = org;
	req.ou = ou;
	req.cn = cn;
	req.key = key;
	if (usage == PKI_USAGE_SERVER) {
		req.dns = dns;
		req.n_dns = 1;
	}
	req.not_before = nb;
	req.not_after = na;
	assert_int_equal(pki_ca_open(&ca, ca_dir, err, sizeof(err)), 0);
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), 0);
	assert_int_equal(pki_issued_write(is, f->out, cn, err, sizeof(err)), 0);
	pki_issued_free(&is);
	pki_ca_close(&ca);
	snprintf(path, sizeof(path), "%s/%s.crt", f->out, cn);
	fp = fopen(path, "r");
	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	n = i2d_X509(x, NULL);
	assert_true(n > 0);
	*der = malloc((size_t)n);
	assert_non_null(*der);
	p = *der;
	assert_int_equal(i2d_X509(x, &p), n);
	*der_len = (size_t)n;
	X509_free(x);
}

static api_cert_status
check_der(api_auth *a, const unsigned char *der, size_t len, api_cert *c)
{
	const unsigned char *ders[1] = { der };
	size_t lens[1] = { len };

	api_auth_check(a, ders, lens, 1, c);
	return c->status;
}

static void
test_good_and_subject(void **state)
{
	fx *f = *state;
	unsigned char *der;
	size_t len;
	api_auth *a = NULL;
	api_cert c;
	char err[512];
	time_t now = time(NULL);

	issue(f, f->people, PKI_USAGE_CLIENT, "acme", "legal", "lena", now - 60,
	    now + DAY, &der, &len);
	assert_int_equal(api_auth_new(&a, f->ca_pem, f->crl_pem, err,
	    sizeof(err)), 0);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_OK);
	assert_string_equal(c.tenant, "acme");
	assert_string_equal(c.role, "legal");
	assert_string_equal(c.name, "lena");
	assert_int_equal(strlen(c.fingerprint), 64);
	assert_int_equal(strspn(c.fingerprint, "0123456789abcdef"), 64);
	api_auth_free(&a);
	assert_null(a);
	api_auth_free(&a);     /* NULL is fine */
	free(der);
}

static void
test_refusals(void **state)
{
	fx *f = *state;
	unsigned char *der, *junk;
	size_t len;
	api_auth *a = NULL;
	api_cert c;
	char err[512];
	time_t now = time(NULL);

	assert_int_equal(api_auth_new(&a, f->ca_pem, f->crl_pem, err,
	    sizeof(err)), 0);

	/* No certificate at all. */
	api_auth_check(a, NULL, NULL, 0, &c);
	assert_int_equal(c.status, API_CERT_NONE);
	assert_string_equal(c.fingerprint, "");

	/* Another CA with the same subject name. */
	issue(f, f->other, PKI_USAGE_CLIENT, "acme", "legal", "mallory", now - 60,
	    now + DAY, &der, &len);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_UNTRUSTED);
	/* The claim is still read, for auditing under the tenant. */
	assert_string_equal(c.tenant, "acme");
	free(der);

	issue(f, f->people, PKI_USAGE_CLIENT, "acme", "legal", "old",
	    now - 10 * DAY, now - DAY, &der, &len);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_EXPIRED);
	free(der);

	issue(f, f->people, PKI_USAGE_CLIENT, "acme", "legal", "early",
	    now + DAY, now + 10 * DAY, &der, &len);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_NOT_YET_VALID);
	free(der);

	/* A server certificate is not a person. */
	issue(f, f->people, PKI_USAGE_SERVER, "acme", "legal", "server1",
	    now - 60, now + DAY, &der, &len);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_USAGE);
	free(der);

	/* No OU: no role. */
	issue(f, f->people, PKI_USAGE_CLIENT, "acme", NULL, "norole", now - 60,
	    now + DAY, &der, &len);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_SUBJECT);
	assert_string_equal(c.role, "");
	free(der);

	/* A role that is not one of the four. */
	issue(f, f->people, PKI_USAGE_CLIENT, "acme", "root", "weird", now - 60,
	    now + DAY, &der, &len);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_SUBJECT);
	free(der);

	/* Garbage, truncation, trailing bytes. */
	issue(f, f->people, PKI_USAGE_CLIENT, "acme", "auditor", "audrey",
	    now - 60, now + DAY, &der, &len);
	assert_int_equal(check_der(a, der, len - 1, &c), API_CERT_MALFORMED);
	junk = malloc(len + 1);
	assert_non_null(junk);
	memcpy(junk, der, len);
	junk[len] = 0;
	assert_int_equal(check_der(a, junk, len + 1, &c), API_CERT_MALFORMED);
	memset(junk, 0x30, len);
	assert_int_equal(check_der(a, junk, len, &c), API_CERT_MALFORMED);
	/* One flipped byte inside the signed part. */
	memcpy(junk, der, len);
	junk[len / 2] ^= 0x01;
	assert_int_not_equal(check_der(a, junk, len, &c), API_CERT_OK);
	free(junk);
	free(der);
	api_auth_free(&a);
}

static void
test_revocation_takes_effect(void **state)
{
	fx *f = *state;
	unsigned char *der;
	size_t len, n = 0;
	api_auth *a = NULL;
	pki_ca *ca = NULL;
	api_cert c;
	char err[512];
	time_t now = time(NULL);

	issue(f, f->people, PKI_USAGE_CLIENT, "acme", "custodian", "c1",
	    now - 60, now + DAY, &der, &len);
	assert_int_equal(api_auth_new(&a, f->ca_pem, f->crl_pem, err,
	    sizeof(err)), 0);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_OK);
	assert_int_equal(pki_ca_open(&ca, f->people, err, sizeof(err)), 0);
	assert_int_equal(pki_revoke(ca, "acme/c1", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	pki_ca_close(&ca);
	/* The CRL file changed: re-read at most a second later. */
	sleep(2);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_REVOKED);
	/* SIGHUP path too. */
	assert_int_equal(api_auth_reload(a, err, sizeof(err)), 0);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_REVOKED);

	/* The CRL disappears: everyone is refused, nothing is skipped. */
	assert_int_equal(unlink(f->crl_pem), 0);
	assert_int_not_equal(api_auth_reload(a, err, sizeof(err)), 0);
	free(der);
	issue(f, f->people, PKI_USAGE_CLIENT, "acme", "custodian", "c2",
	    now - 60, now + DAY, &der, &len);
	assert_int_equal(check_der(a, der, len, &c), API_CERT_CRL);
	free(der);
	api_auth_free(&a);

	/* And no store at all without a CRL at start-up. */
	assert_int_not_equal(api_auth_new(&a, f->ca_pem, f->crl_pem, err,
	    sizeof(err)), 0);
	assert_null(a);
}

static void
test_ca_as_leaf(void **state)
{
	fx *f = *state;
	api_auth *a = NULL;
	api_cert c;
	char err[512];
	FILE *fp;
	X509 *x;
	unsigned char *der = NULL;
	int n;

	assert_int_equal(api_auth_new(&a, f->ca_pem, f->crl_pem, err,
	    sizeof(err)), 0);
	fp = fopen(f->ca_pem, "r");
	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	/* No O/OU/CN of a person either way: refused. */
	assert_int_not_equal(check_der(a, der, (size_t)n, &c), API_CERT_OK);
	OPENSSL_free(der);
	X509_free(x);
	api_auth_free(&a);
}

/* -- the certificate matrix ----------------------------------------------- */

typedef enum mk_prof {
	MK_CLIENT,       /* CA:FALSE, KU digitalSignature, EKU clientAuth */
	MK_SERVER,       /* ... EKU serverAuth only */
	MK_KUENC,        /* ... KU keyEncipherment only */
	MK_KUAGREE,      /* ... KU keyAgreement only */
	MK_NOEKU,        /* ... no EKU */
	MK_CA,           /* CA:TRUE, KU keyCertSign cRLSign */
	MK_NOCA,         /* no basicConstraints, KU keyCertSign: not a CA */
	MK_CA_DS         /* CA:TRUE, KU digitalSignature only, EKU clientAuth:
	                  * X509_check_ca() says "not a CA" for want of
	                  * keyCertSign, yet basicConstraints say CA */
} mk_prof;

typedef struct mk_cert {
	X509     *x;
	EVP_PKEY *k;
} mk_cert;

static void
mk_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* O=acme OU=legal CN=cn (a well-formed person) with profile prof,
 * key EC P-256 (rsa_bits 0) or RSA, valid [now + nb, now + na], signed by
 * issuer (NULL: self-signed) with md. */
static mk_cert
mk(const mk_cert *issuer, mk_prof prof, int rsa_bits, const EVP_MD *md,
    const char *cn, long nb, long na)
{
	static const char *const ku[] = {
		[MK_CLIENT] = "critical,digitalSignature",
		[MK_SERVER] = "critical,digitalSignature",
		[MK_KUENC] = "critical,keyEncipherment",
		[MK_KUAGREE] = "critical,keyAgreement",
		[MK_NOEKU] = "critical,digitalSignature",
		[MK_CA] = "critical,keyCertSign,cRLSign",
		[MK_NOCA] = "critical,keyCertSign,cRLSign",
		[MK_CA_DS] = "critical,digitalSignature",
	};
	mk_cert c;
	X509_NAME *n;
	unsigned char serial[16];
	BIGNUM *bn;
	int is_ca = prof == MK_CA || prof == MK_NOCA;

	c.k = rsa_bits != 0 ? EVP_RSA_gen((unsigned)rsa_bits) : EVP_EC_gen("P-256");
	assert_non_null(c.k);
	c.x = X509_new();
	assert_non_null(c.x);
	assert_int_equal(X509_set_version(c.x, 2), 1);
	assert_int_equal(RAND_bytes(serial, sizeof(serial)), 1);
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	assert_non_null(bn);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.x)));
	BN_free(bn);
	n = X509_get_subject_name(c.x);
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_organizationName,
	    MBSTRING_UTF8, (const unsigned char *)"acme", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_NID(n,
	    NID_organizationalUnitName, MBSTRING_UTF8,
	    (const unsigned char *)"legal", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName,
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(c.x, issuer != NULL ?
	    X509_get_subject_name(issuer->x) : n), 1);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(c.x), 0, nb, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(c.x), 0, na, NULL));
	assert_int_equal(X509_set_pubkey(c.x, c.k), 1);
	if (prof == MK_CA || prof == MK_CA_DS)
		mk_ext(c.x, NULL, NID_basic_constraints, "critical,CA:TRUE");
	else if (prof != MK_NOCA)
		mk_ext(c.x, NULL, NID_basic_constraints, "critical,CA:FALSE");
	mk_ext(c.x, NULL, NID_key_usage, ku[prof]);
	if (prof == MK_SERVER)
		mk_ext(c.x, NULL, NID_ext_key_usage, "serverAuth");
	else if (!is_ca && prof != MK_NOEKU)
		mk_ext(c.x, NULL, NID_ext_key_usage, "clientAuth");
	mk_ext(c.x, NULL, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		mk_ext(c.x, issuer->x, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_sign(c.x, issuer != NULL ? issuer->k : c.k, md) > 0);
	return c;
}

static void
mk_free(mk_cert *c)
{
	X509_free(c->x);
	EVP_PKEY_free(c->k);
	c->x = NULL;
	c->k = NULL;
}

/* The CA of dir (its ca.pem and unencrypted ca.key) as an issuer. */
static mk_cert
mk_load_ca(const char *dir)
{
	char path[600];
	mk_cert c;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	assert_non_null(fp = fopen(path, "r"));
	c.x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	assert_non_null(fp = fopen(path, "r"));
	c.k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(c.x);
	assert_non_null(c.k);
	return c;
}

/* A CRL v2 (empty, AKI) named after ca, signed with ca's key, lastUpdate
 * now + last, nextUpdate now + next, written to path. */
static void
mk_crl(const mk_cert *ca, const char *path, long last, long next)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t;
	X509V3_CTX v3;
	X509_EXTENSION *e;
	FILE *fp;

	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(ca->x)), 1);
	assert_non_null(t = X509_time_adj_ex(NULL, 0, last, NULL));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	assert_non_null(t = X509_time_adj_ex(NULL, 0, next, NULL));
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	X509V3_set_ctx(&v3, ca->x, NULL, NULL, crl, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier,
	    "keyid:always");
	assert_non_null(e);
	assert_int_equal(X509_CRL_add_ext(crl, e, -1), 1);
	X509_EXTENSION_free(e);
	assert_true(X509_CRL_sign(crl, ca->k, EVP_sha256()) > 0);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(PEM_write_X509_CRL(fp, crl), 1);
	assert_int_equal(fclose(fp), 0);
	X509_CRL_free(crl);
}

#define MATRIX_MAX 32

typedef struct matrix {
	size_t n;
	struct {
		char            name[64];
		api_cert_status want, got;
	} row[MATRIX_MAX];
} matrix;

/* Verify the chain (leaf first) and record the row. */
static void
mx_check(api_auth *a, matrix *m, const char *name, api_cert_status want,
    X509 *const *chain, size_t n)
{
	const unsigned char *ders[4];
	unsigned char *bufs[4] = { NULL, NULL, NULL, NULL };
	size_t lens[4], i;
	api_cert c;
	int len;

	assert_true(n >= 1 && n <= 4 && m->n < MATRIX_MAX);
	for (i = 0; i < n; i++) {
		len = i2d_X509(chain[i], &bufs[i]);
		assert_true(len > 0);
		ders[i] = bufs[i];
		lens[i] = (size_t)len;
	}
	api_auth_check(a, ders, lens, n, &c);
	snprintf(m->row[m->n].name, sizeof(m->row[m->n].name), "%s", name);
	m->row[m->n].want = want;
	m->row[m->n].got = c.status;
	m->n++;
	/* a refusal still names the certificate (for the audit event) */
	assert_int_equal(strlen(c.fingerprint), 64);
	for (i = 0; i < n; i++)
		OPENSSL_free(bufs[i]);
}

/* The issued leaf out/<cn>.crt of the people CA code. */
static X509 *
mx_issued(const fx *f, const char *cn)
{
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	time_t now = time(NULL);
	X509 *x;

	issue(f, f->people, PKI_USAGE_CLIENT, "acme", "legal", cn, now - 60,
	    now + DAY, &der, &len);
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	assert_non_null(x);
	free(der);
	return x;
}

static void
mx_report(const matrix *m)
{
	const char *figs = getenv("COFFER_FIGURES");
	FILE *ff = figs != NULL && figs[0] != '\0' ? fopen(figs, "a") : NULL;
	char got[64], figline[MATRIX_MAX][160];
	size_t i;

	printf("\n%-44s | %-26s | %s\n", "case (coffer-api, people CA)",
	    "expected", "got (audited as \"auth\")");
	for (i = 0; i < m->n; i++) {
		if (m->row[i].got == API_CERT_OK)
			snprintf(got, sizeof(got), "accepted");
		else
			snprintf(got, sizeof(got), "refused (%s)",
			    api_cert_status_name(m->row[i].got));
		printf("%-44s | %-26s | %s\n", m->row[i].name,
		    m->row[i].want == API_CERT_OK ? "accepted" :
		    api_cert_status_name(m->row[i].want), got);
		/* the figure line, after the table */
		snprintf(figline[i], sizeof(figline[i]), "%s\t%s", m->row[i].name,
		    got);
	}
	printf("\n");
	for (i = 0; i < m->n; i++) {
		char *tab = strchr(figline[i], '\t');

		if (ff != NULL)
			fprintf(ff, "api_cert_matrix\t%s\n", figline[i]);
		*tab = '\0';
		printf("figure: api_cert_matrix | %s | %s\n", figline[i], tab + 1);
	}
	if (ff != NULL)
		fclose(ff);
	fflush(stdout);
}

static void
test_matrix(void **state)
{
	/* one leaf each, signed by the people CA unless other_ca / self */
	static const struct {
		const char     *name;
		api_cert_status want;
		mk_prof         prof;
		int             rsa_bits;   /* 0: EC P-256 */
		int             sha1;
		int             issuer;     /* 0 people CA, 1 the other CA, 2 self */
		long            nb, na;     /* validity, seconds from now */
	} leaves[] = {
		{ "valid (ECDSA P-256, SHA-256)", API_CERT_OK, MK_CLIENT, 0, 0, 0,
		  -60, DAY },
		{ "valid (RSA-2048)", API_CERT_OK, MK_CLIENT, 2048, 0, 0, -60, DAY },
		{ "expired", API_CERT_EXPIRED, MK_CLIENT, 0, 0, 0, -10 * DAY, -DAY },
		{ "not yet valid", API_CERT_NOT_YET_VALID, MK_CLIENT, 0, 0, 0, DAY,
		  10 * DAY },
		{ "unknown CA (same name as the people CA)", API_CERT_UNTRUSTED,
		  MK_CLIENT, 0, 0, 1, -60, DAY },
		{ "self-signed", API_CERT_SELF_SIGNED, MK_CLIENT, 0, 0, 2, -60, DAY },
		{ "EKU serverAuth only", API_CERT_USAGE, MK_SERVER, 0, 0, 0, -60,
		  DAY },
		{ "no EKU at all", API_CERT_USAGE, MK_NOEKU, 0, 0, 0, -60, DAY },
		{ "KU keyEncipherment, no digitalSignature", API_CERT_USAGE,
		  MK_KUENC, 0, 0, 0, -60, DAY },
		{ "KU keyAgreement, no digitalSignature", API_CERT_USAGE,
		  MK_KUAGREE, 0, 0, 0, -60, DAY },
		{ "a CA certificate as a person", API_CERT_USAGE, MK_CA, 0, 0, 0,
		  -60, DAY },
		{ "CA:TRUE leaf, KU digitalSignature only", API_CERT_USAGE,
		  MK_CA_DS, 0, 0, 0, -60, DAY },
		{ "RSA-1024 key", API_CERT_WEAK_KEY, MK_CLIENT, 1024, 0, 0, -60,
		  DAY },
		{ "SHA-1 signature", API_CERT_WEAK_SIGNATURE, MK_CLIENT, 0, 1, 0,
		  -60, DAY },
	};
	fx *f = *state;
	api_auth *a = NULL;
	pki_ca *pca = NULL;
	matrix m;
	mk_cert ca, other, leaf, noca, int1, int2, via;
	X509 *issued, *lost, *ch[4];
	char err[512];
	size_t i, n = 0;

	memset(&m, 0, sizeof(m));
	ca = mk_load_ca(f->people);
	other = mk_load_ca(f->other);          /* same name as the people CA */
	assert_int_equal(api_auth_new(&a, f->ca_pem, f->crl_pem, err,
	    sizeof(err)), 0);

	issued = mx_issued(f, "lena");
	mx_check(a, &m, "valid (cofferctl user issue)", API_CERT_OK, &issued, 1);
	for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		leaf = mk(leaves[i].issuer == 0 ? &ca : leaves[i].issuer == 1 ?
		    &other : NULL, leaves[i].prof, leaves[i].rsa_bits,
		    leaves[i].sha1 ? EVP_sha1() : EVP_sha256(), "pat",
		    leaves[i].nb, leaves[i].na);
		mx_check(a, &m, leaves[i].name, leaves[i].want, &leaf.x, 1);
		if (i == 0) {
			ch[0] = leaf.x;
			ch[1] = ca.x;
			mx_check(a, &m, "valid, people CA sent in the chain",
			    API_CERT_OK, ch, 2);
		}
		mk_free(&leaf);
	}

	/* intermediates: not a CA; one CA:TRUE; two */
	noca = mk(&ca, MK_NOCA, 0, EVP_sha256(), "not a CA", -60, DAY);
	via = mk(&noca, MK_CLIENT, 0, EVP_sha256(), "nora", -60, DAY);
	ch[0] = via.x;
	ch[1] = noca.x;
	mx_check(a, &m, "intermediate without CA:TRUE", API_CERT_INVALID_CA, ch, 2);
	mk_free(&via);
	int1 = mk(&ca, MK_CA, 0, EVP_sha256(), "intermediate 1", -60, DAY);
	int2 = mk(&int1, MK_CA, 0, EVP_sha256(), "intermediate 2", -60, DAY);
	via = mk(&int1, MK_CLIENT, 0, EVP_sha256(), "ivan", -60, DAY);
	ch[0] = via.x;
	ch[1] = int1.x;
	mx_check(a, &m, "chain too long (1 CA:TRUE intermediate)", API_CERT_CHAIN,
	    ch, 2);
	mk_free(&via);
	via = mk(&int2, MK_CLIENT, 0, EVP_sha256(), "iris", -60, DAY);
	ch[0] = via.x;
	ch[1] = int2.x;
	ch[2] = int1.x;
	mx_check(a, &m, "chain too long (2 intermediates)", API_CERT_CHAIN, ch, 3);
	mk_free(&via);
	mk_free(&noca);
	mk_free(&int1);
	mk_free(&int2);

	/* CRLs: revoked, expired, forged, missing; each refuses, fail closed */
	lost = mx_issued(f, "lost");
	assert_int_equal(pki_ca_open(&pca, f->people, err, sizeof(err)), 0);
	assert_int_equal(pki_revoke(pca, "acme/lost", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	pki_ca_close(&pca);
	assert_int_equal(api_auth_reload(a, err, sizeof(err)), 0);
	mx_check(a, &m, "revoked by CRL (user revoke + reload)", API_CERT_REVOKED,
	    &lost, 1);
	mx_check(a, &m, "valid, CRL re-signed by the revocation", API_CERT_OK,
	    &issued, 1);

	mk_crl(&ca, f->crl_pem, -30 * DAY, -DAY);
	assert_int_equal(api_auth_reload(a, err, sizeof(err)), 0);
	mx_check(a, &m, "CRL expired (nextUpdate yesterday)",
	    API_CERT_CRL_EXPIRED, &issued, 1);
	mk_crl(&other, f->crl_pem, -60, DAY);
	assert_int_equal(api_auth_reload(a, err, sizeof(err)), 0);
	mx_check(a, &m, "CRL not signed by the people CA", API_CERT_CRL,
	    &issued, 1);
	assert_int_equal(unlink(f->crl_pem), 0);
	assert_int_not_equal(api_auth_reload(a, err, sizeof(err)), 0);
	mx_check(a, &m, "CRL missing", API_CERT_CRL, &issued, 1);
	assert_int_equal(pki_ca_open(&pca, f->people, err, sizeof(err)), 0);
	assert_int_equal(pki_crl_refresh(pca, err, sizeof(err)), 0);
	pki_ca_close(&pca);
	assert_int_equal(api_auth_reload(a, err, sizeof(err)), 0);
	mx_check(a, &m, "valid again after crl-refresh", API_CERT_OK, &issued, 1);
	mx_check(a, &m, "revoked, still, after crl-refresh", API_CERT_REVOKED,
	    &lost, 1);

	mx_report(&m);
	for (i = 0; i < m.n; i++) {
		if (m.row[i].got != m.row[i].want)
			print_error("%s: expected %s, got %s\n", m.row[i].name,
			    api_cert_status_name(m.row[i].want),
			    api_cert_status_name(m.row[i].got));
	}
	for (i = 0; i < m.n; i++)
		assert_int_equal(m.row[i].got, m.row[i].want);

	X509_free(issued);
	X509_free(lost);
	mk_free(&ca);
	mk_free(&other);
	api_auth_free(&a);
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(api_cert_status_name(API_CERT_REVOKED), "revoked");
	assert_string_equal(api_cert_status_name(API_CERT_NONE),
	    "no-certificate");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_names),
		cmocka_unit_test_setup_teardown(test_good_and_subject, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revocation_takes_effect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ca_as_leaf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_matrix, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
