/* tests/unit/test_pki.c — ctl/pki.c: CAs, leaves, CRLs, times (names:
 * test_names.c).
 *
 * Every certificate made here is checked by OpenSSL's own path validation
 * (X509_verify_cert) the way the gateway and the API will check it: the
 * good case, and each way it must fail — expired, not yet valid, wrong CA,
 * revoked (CRL), tampered signature, wrong purpose.  No database.
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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ctl/pki.h"

#define DAY 86400

typedef struct fx {
	char root[256];
	char ca1[300];
	char ca2[300];
	char out[300];
} fx;

static char *
path2(char *buf, size_t cap, const char *a, const char *b)
{
	snprintf(buf, cap, "%s/%s", a, b);
	return buf;
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static X509_CRL *
load_crl(const char *dir)
{
	char p[512];
	FILE *f = fopen(path2(p, sizeof(p), dir, "crl.pem"), "r");
	X509_CRL *c;

	assert_non_null(f);
	c = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(c);
	return c;
}

/* X509_verify_cert of leaf against the CA in ca_dir, under the policy of
 * the gateway and the API (strict, security level 2, depth 0); with_crl
 * adds that CA's crl.pem and turns CRL checking on.  Returns the verify
 * error (X509_V_OK on success). */
static int
verify(const char *leaf_path, const char *ca_dir, int with_crl, int purpose)
{
	char p[512];
	X509 *leaf = load_cert(leaf_path);
	X509 *ca = load_cert(path2(p, sizeof(p), ca_dir, "ca.pem"));
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_CRL *crl = NULL;
	int ok, e;

	assert_non_null(st);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(st, ca), 1);
	if (with_crl) {
		crl = load_crl(ca_dir);
		assert_int_equal(X509_STORE_add_crl(st, crl), 1);
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	/* the verifiers' policy (gateway/tls.c, api/auth.c): strict X.509,
	 * security level 2 (no RSA < 2048, no SHA-1), issued by the CA
	 * directly — everything the PKI makes must pass it */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx), 2);
	X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(ctx), 0);
	ok = X509_verify_cert(ctx);
	e = X509_STORE_CTX_get_error(ctx);
	if (ok == 1)
		assert_int_equal(e, X509_V_OK);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_CRL_free(crl);
	X509_free(ca);
	X509_free(leaf);
	ERR_clear_error();
	return ok == 1 ? X509_V_OK : e;
}

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "%s/test_pki.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->ca1, sizeof(f->ca1), "%s/devices/acme", f->root);
	snprintf(f->ca2, sizeof(f->ca2), "%s/devices/other", f->root);
	snprintf(f->out, sizeof(f->out), "%s/out", f->root);
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

/* Issue a client leaf for device `dev` of CA dir into f->out. */
static void
issue(const char *ca_dir, const char *org, const char *dev, time_t nb,
    time_t na, const char *out, char fpr[PKI_FPR_HEX_LEN],
    char serial[PKI_SERIAL_HEX_LEN])
{
	char err[512];
	pki_ca *ca = NULL;
	pki_issued *is = NULL;
	pki_leaf req;

	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_CLIENT;
	req.org = org;
	req.cn = dev;
	req.key = dev;
	req.not_before = nb;
	req.not_after = na;
	if (pki_ca_open(&ca, ca_dir, err, sizeof(err)) != 0)
		fail_msg("open: %s", err);
	if (pki_issue(ca, &req, &is, err, sizeof(err)) != 0)
		fail_msg("issue: %s", err);
	if (pki_issued_write(is, out, dev, err, sizeof(err)) != 0)
		fail_msg("write: %s", err);
	if (fpr != NULL)
		snprintf(fpr, PKI_FPR_HEX_LEN, "%s", pki_issued_fingerprint(is));
	if (serial != NULL)
		snprintf(serial, PKI_SERIAL_HEX_LEN, "%s", pki_issued_serial(is));
	pki_issued_free(&is);
	assert_null(is);
	pki_ca_close(&ca);
	assert_null(ca);
}

static void
init_ca(const char *dir, const char *org)
{
	char err[512];

	if (pki_ca_init(dir, org, "Coffer device CA", err, sizeof(err)) != 0)
		fail_msg("ca_init: %s", err);
}

static const char *
leaf_path(char *buf, size_t cap, const fx *f, const char *dev)
{
	snprintf(buf, cap, "%s/%s.crt", f->out, dev);
	return buf;
}

/* ---------------------------------------------------------------------- */

static void
test_parse_time(void **state)
{
	static const struct {
		const char *s;
		long long   want;       /* -1: refused */
	} t[] = {
		{ "2020-01-01T00:00:00Z", 1577836800LL },
		{ "2020-01-01", 1577836800LL },
		{ "2038-01-19T03:14:08Z", 2147483648LL },
		{ "2024-02-29T12:00:00Z", 1709208000LL },
		{ "2023-02-29T12:00:00Z", -1 },           /* no such day */
		{ "2020-13-01", -1 },
		{ "2020-1-1T1:2:3Z", -1 },
		{ "2020-01-01T00:00:00", -1 },            /* zone required */
		{ "2020-01-01T00:00:00+02:00", -1 },
		{ "2020-01-01 00:00:00Z", -1 },
		{ "yesterday", -1 },
		{ "", -1 },
		{ "2020-01-01T00:00:00Zjunk", -1 },
	};
	size_t i;
	time_t v;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = pki_parse_time(t[i].s, &v);

		if (t[i].want < 0) {
			if (rc != -1)
				fail_msg("case %zu '%s' accepted", i, t[i].s);
		} else {
			if (rc != 0)
				fail_msg("case %zu '%s' refused", i, t[i].s);
			assert_int_equal((long long)v, t[i].want);
		}
	}
}

static void
test_ca_layout_and_double_init(void **state)
{
	fx *f = *state;
	char p[512], err[512];
	struct stat st;
	X509 *ca;

	init_ca(f->ca1, "acme");
	assert_int_equal(stat(path2(p, sizeof(p), f->ca1, "ca.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(path2(p, sizeof(p), f->ca1, "index"), &st), 0);
	assert_int_equal(stat(path2(p, sizeof(p), f->ca1, "crl.pem"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(stat(f->ca1, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);

	ca = load_cert(path2(p, sizeof(p), f->ca1, "ca.pem"));
	assert_int_equal(X509_check_ca(ca), 1);
	assert_true(X509_get_extension_flags(ca) & EXFLAG_CA);
	assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(ca) & KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(ca));
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(ca,
	    X509_get_ext_by_NID(ca, NID_basic_constraints, -1))), 1);
	/* ten years, give or take the back-dating */
	assert_true(X509_cmp_time(X509_get0_notAfter(ca), NULL) > 0);
	{
		time_t t = time(NULL) + (time_t)(PKI_CA_DAYS - 1) * DAY;

		assert_true(X509_cmp_time(X509_get0_notAfter(ca), &t) > 0);
		t = time(NULL) + (time_t)(PKI_CA_DAYS + 1) * DAY;
		assert_true(X509_cmp_time(X509_get0_notAfter(ca), &t) < 0);
	}
	X509_free(ca);

	assert_int_equal(pki_ca_init(f->ca1, "acme", "Coffer device CA", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "already initialised"));
}

static void
test_leaf_good_and_extensions(void **state)
{
	fx *f = *state;
	char p[512], fpr[PKI_FPR_HEX_LEN], serial[PKI_SERIAL_HEX_LEN], hex[65];
	unsigned char md[32];
	unsigned int mdlen = 0;
	struct stat st;
	time_t now = time(NULL);
	X509 *x;
	X509_NAME *subj;
	const ASN1_INTEGER *sn;
	BIGNUM *bn;
	char buf[128];
	EVP_PKEY *key;
	FILE *kf;
	int ix;

	init_ca(f->ca1, "acme");
	issue(f->ca1, "acme", "phone-1", now - 60, now + 365 * DAY, f->out, fpr,
	    serial);
	assert_int_equal(verify(leaf_path(p, sizeof(p), f, "phone-1"), f->ca1, 1,
	    X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	/* A client certificate is no server certificate. */
	assert_int_equal(verify(p, f->ca1, 1, X509_PURPOSE_SSL_SERVER),
	    X509_V_ERR_INVALID_PURPOSE);

	x = load_cert(p);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_false(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	ix = X509_get_ext_by_NID(x, NID_key_usage, -1);
	assert_true(ix >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, ix)), 1);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_non_null(X509_get0_authority_key_id(x));
	assert_true(X509_get_ext_by_NID(x, NID_subject_alt_name, -1) < 0);
	subj = X509_get_subject_name(x);
	assert_true(X509_NAME_get_text_by_NID(subj, NID_organizationName, buf,
	    sizeof(buf)) > 0);
	assert_string_equal(buf, "acme");
	assert_true(X509_NAME_get_text_by_NID(subj, NID_commonName, buf,
	    sizeof(buf)) > 0);
	assert_string_equal(buf, "phone-1");
	/* P-256 */
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(x), "EC"));
	/* serial: the 128 random bits the index recorded */
	sn = X509_get0_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(sn, NULL);
	assert_non_null(bn);
	assert_true(BN_num_bits(bn) <= 128 && BN_num_bits(bn) > 64);
	{
		unsigned char b[16];
		char h[33];
		static const char digits[] = "0123456789abcdef";
		int i;

		assert_int_equal(BN_bn2binpad(bn, b, 16), 16);
		for (i = 0; i < 16; i++) {
			h[2 * i] = digits[b[i] >> 4];
			h[2 * i + 1] = digits[b[i] & 15];
		}
		h[32] = '\0';
		assert_string_equal(h, serial);
	}
	BN_free(bn);
	/* fingerprint = SHA-256 of the DER */
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
	assert_int_equal(mdlen, 32);
	{
		static const char digits[] = "0123456789abcdef";
		unsigned i;

		for (i = 0; i < 32; i++) {
			hex[2 * i] = digits[md[i] >> 4];
			hex[2 * i + 1] = digits[md[i] & 15];
		}
		hex[64] = '\0';
	}
	assert_string_equal(hex, fpr);

	/* the key: 0600, and it matches the certificate */
	snprintf(p, sizeof(p), "%s/phone-1.key", f->out);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	kf = fopen(p, "r");
	assert_non_null(kf);
	key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
	fclose(kf);
	assert_non_null(key);
	assert_int_equal(X509_check_private_key(x, key), 1);
	EVP_PKEY_free(key);
	X509_free(x);
}

static void
test_expired_and_not_yet_valid(void **state)
{
	fx *f = *state;
	char p[512];
	time_t now = time(NULL);

	init_ca(f->ca1, "acme");
	issue(f->ca1, "acme", "old", now - 10 * DAY, now - DAY, f->out, NULL, NULL);
	assert_int_equal(verify(leaf_path(p, sizeof(p), f, "old"), f->ca1, 1,
	    X509_PURPOSE_SSL_CLIENT), X509_V_ERR_CERT_HAS_EXPIRED);
	issue(f->ca1, "acme", "future", now + DAY, now + 10 * DAY, f->out, NULL,
	    NULL);
	assert_int_equal(verify(leaf_path(p, sizeof(p), f, "future"), f->ca1, 1,
	    X509_PURPOSE_SSL_CLIENT), X509_V_ERR_CERT_NOT_YET_VALID);
}

static void
test_wrong_ca(void **state)
{
	fx *f = *state;
	char p[512], ca3[512];
	time_t now = time(NULL);
	int e;

	init_ca(f->ca1, "acme");
	init_ca(f->ca2, "acme");              /* same subject, different key */
	snprintf(ca3, sizeof(ca3), "%s/devices/globex", f->root);
	init_ca(ca3, "globex");
	issue(f->ca1, "acme", "d1", now - 60, now + DAY, f->out, NULL, NULL);
	leaf_path(p, sizeof(p), f, "d1");
	assert_int_equal(verify(p, f->ca1, 1, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	/* The AKI names ca1's key: ca2 is not even considered its issuer. */
	e = verify(p, f->ca2, 1, X509_PURPOSE_SSL_CLIENT);
	assert_true(e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	    e == X509_V_ERR_CERT_SIGNATURE_FAILURE);
	assert_int_equal(verify(p, ca3, 1, X509_PURPOSE_SSL_CLIENT),
	    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

static void
test_revoked(void **state)
{
	fx *f = *state;
	char p[512], err[512], serial[PKI_SERIAL_HEX_LEN];
	time_t now = time(NULL);
	pki_ca *ca = NULL;
	X509_CRL *crl;
	ASN1_INTEGER *num;
	STACK_OF(X509_REVOKED) *rev;
	size_t n = 99;
	int64_t v = 0;

	init_ca(f->ca1, "acme");
	issue(f->ca1, "acme", "lost", now - 60, now + DAY, f->out, NULL, serial);
	issue(f->ca1, "acme", "lost", now - 60, now + DAY, f->out, NULL, NULL);
	issue(f->ca1, "acme", "kept", now - 60, now + DAY, f->out, NULL, NULL);
	assert_int_equal(verify(leaf_path(p, sizeof(p), f, "lost"), f->ca1, 1,
	    X509_PURPOSE_SSL_CLIENT), X509_V_OK);

	assert_int_equal(pki_ca_open(&ca, f->ca1, err, sizeof(err)), 0);
	assert_int_equal(pki_revoke(ca, "lost", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);                   /* both certificates of "lost" */
	assert_int_equal(pki_revoke(ca, "lost", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);                   /* idempotent */
	assert_int_equal(pki_revoke(ca, "nobody", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	pki_ca_close(&ca);

	assert_int_equal(verify(leaf_path(p, sizeof(p), f, "lost"), f->ca1, 1,
	    X509_PURPOSE_SSL_CLIENT), X509_V_ERR_CERT_REVOKED);
	/* without the CRL check the signature alone is still fine: the CRL is
	 * what revokes */
	assert_int_equal(verify(p, f->ca1, 0, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	assert_int_equal(verify(leaf_path(p, sizeof(p), f, "kept"), f->ca1, 1,
	    X509_PURPOSE_SSL_CLIENT), X509_V_OK);

	crl = load_crl(f->ca1);
	rev = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(rev), 2);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get_int64(&v, num), 1);
	assert_int_equal(v, 4);      /* init 1, revoke 2, revoke 3, revoke 4 */
	ASN1_INTEGER_free(num);
	{
		time_t lo = now + (PKI_CRL_DAYS * DAY) - 120;
		time_t hi = now + (PKI_CRL_DAYS * DAY) + 120;

		assert_true(X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &lo) > 0);
		assert_true(X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &hi) < 0);
	}
	X509_CRL_free(crl);

	/* crl-refresh keeps the revocations and bumps the number */
	assert_int_equal(pki_ca_open(&ca, f->ca1, err, sizeof(err)), 0);
	assert_int_equal(pki_crl_refresh(ca, err, sizeof(err)), 0);
	pki_ca_close(&ca);
	crl = load_crl(f->ca1);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	X509_CRL_free(crl);
	assert_int_equal(verify(leaf_path(p, sizeof(p), f, "lost"), f->ca1, 1,
	    X509_PURPOSE_SSL_CLIENT), X509_V_ERR_CERT_REVOKED);
}

/* Write cert_path's DER with one byte changed, as PEM, to out_path. */
static void
write_tampered(const char *cert_path, const char *out_path, int where)
{
	static const unsigned char cn_d1[] = { 0x55, 0x04, 0x03, 0x0c, 0x02,
	                                       'd', '1' };
	X509 *x = load_cert(cert_path), *y;
	unsigned char *der = NULL;
	const unsigned char *q;
	int len, i, hit = -1;
	FILE *o;

	len = i2d_X509(x, &der);
	assert_true(len > 0);
	if (where == 0) {             /* subject CN "d1" -> "d0" (in the TBS) */
		for (i = 0; i + (int)sizeof(cn_d1) <= len; i++)
			if (memcmp(der + i, cn_d1, sizeof(cn_d1)) == 0)
				hit = i + (int)sizeof(cn_d1) - 1;
		assert_true(hit > 0);
		der[hit] = '0';
	} else {                      /* last byte of the signature value */
		der[len - 1] ^= 0x01;
	}
	q = der;
	y = d2i_X509(NULL, &q, len);
	assert_non_null(y);
	o = fopen(out_path, "w");
	assert_non_null(o);
	assert_int_equal(PEM_write_X509(o, y), 1);
	fclose(o);
	X509_free(y);
	X509_free(x);
	OPENSSL_free(der);
}

static void
test_tampered(void **state)
{
	fx *f = *state;
	char p[512], t[512];
	time_t now = time(NULL);

	init_ca(f->ca1, "acme");
	issue(f->ca1, "acme", "d1", now - 60, now + DAY, f->out, NULL, NULL);
	leaf_path(p, sizeof(p), f, "d1");
	snprintf(t, sizeof(t), "%s/tampered.crt", f->out);
	write_tampered(p, t, 0);
	assert_int_equal(verify(t, f->ca1, 1, X509_PURPOSE_SSL_CLIENT),
	    X509_V_ERR_CERT_SIGNATURE_FAILURE);
	write_tampered(p, t, 1);
	assert_int_equal(verify(t, f->ca1, 1, X509_PURPOSE_SSL_CLIENT),
	    X509_V_ERR_CERT_SIGNATURE_FAILURE);
}

static void
test_server_leaf(void **state)
{
	fx *f = *state;
	char dir[512], p[512], err[512];
	const char *dns[] = { "gw.example.com", "*.gw.example.com" };
	const char *ips[] = { "127.0.0.1", "::1" };
	const char *bad_dns[] = { "a,DNS:evil.example" };
	const char *bad_ip[] = { "300.1.1.1" };
	pki_ca *ca = NULL;
	pki_issued *is = NULL;
	pki_leaf req;
	X509 *x;

	snprintf(dir, sizeof(dir), "%s/server", f->root);
	if (pki_ca_init(dir, "Coffer", "Coffer server CA", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(pki_ca_open(&ca, dir, err, sizeof(err)), 0);
	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_SERVER;
	req.cn = "gw";
	req.key = "gw";
	req.dns = dns;
	req.n_dns = 2;
	req.ips = ips;
	req.n_ips = 2;
	assert_int_equal(pki_validity_days(0, &req.not_before, &req.not_after,
	    err, sizeof(err)), 0);
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), 0);
	assert_int_equal(pki_issued_write(is, f->out, "gw", err, sizeof(err)), 0);
	pki_issued_free(&is);

	req.dns = bad_dns;
	req.n_dns = 1;
	req.n_ips = 0;
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid DNS name 'a,DNS:evil.example'");
	assert_null(is);
	req.n_dns = 0;
	req.ips = bad_ip;
	req.n_ips = 1;
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid IP address '300.1.1.1'");
	req.n_ips = 0;
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at least one DNS name or IP address"));
	pki_ca_close(&ca);

	snprintf(p, sizeof(p), "%s/gw.crt", f->out);
	assert_int_equal(verify(p, dir, 1, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	assert_int_equal(verify(p, dir, 1, X509_PURPOSE_SSL_CLIENT),
	    X509_V_ERR_INVALID_PURPOSE);
	x = load_cert(p);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_int_equal(X509_check_host(x, "gw.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "api.gw.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "evil.example", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.0.0.1", 0), 0);
	X509_free(x);
}

static void
test_validity_bounds(void **state)
{
	fx *f = *state;
	char err[512];
	time_t nb, na, now = time(NULL);
	pki_ca *ca = NULL;
	pki_issued *is = NULL;
	pki_leaf req;

	assert_int_equal(pki_validity_days(0, &nb, &na, err, sizeof(err)), 0);
	assert_true(na - now >= 365 * DAY - 5 && na - now <= 365 * DAY + 5);
	assert_true(nb < now);
	assert_int_equal(pki_validity_days(825, &nb, &na, err, sizeof(err)), 0);
	assert_int_equal(pki_validity_days(826, &nb, &na, err, sizeof(err)), -1);
	assert_string_equal(err, "validity of 826 days is out of range (1 to 825)");
	assert_int_equal(pki_validity_days(-1, &nb, &na, err, sizeof(err)), -1);

	init_ca(f->ca1, "acme");
	assert_int_equal(pki_ca_open(&ca, f->ca1, err, sizeof(err)), 0);
	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_CLIENT;
	req.org = "acme";
	req.cn = req.key = "d";
	req.not_before = now;
	req.not_after = now + 826 * DAY;
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), -1);
	assert_string_equal(err, "validity longer than 825 days");
	req.not_after = now;
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), -1);
	assert_string_equal(err, "notAfter must be later than notBefore");
	req.not_before = now + (PKI_CA_DAYS - 10) * (time_t)DAY;
	req.not_after = now + (PKI_CA_DAYS + 10) * (time_t)DAY;
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is beyond the CA's own expiry"));
	/* client certificates carry no SAN */
	{
		const char *dns[] = { "x.example" };

		req.not_before = now;
		req.not_after = now + DAY;
		req.dns = dns;
		req.n_dns = 1;
		assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), -1);
	}
	assert_null(is);
	pki_ca_close(&ca);
}

static void
test_index_and_key_guarded(void **state)
{
	fx *f = *state;
	char p[512], err[512];
	time_t now = time(NULL);
	pki_ca *ca = NULL;
	pki_issued *is = NULL;
	pki_leaf req;
	FILE *o;
	size_t n;

	init_ca(f->ca1, "acme");
	issue(f->ca1, "acme", "d1", now - 60, now + DAY, f->out, NULL, NULL);

	/* A key readable by others is refused. */
	path2(p, sizeof(p), f->ca1, "ca.key");
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(pki_ca_open(&ca, f->ca1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too open"));
	assert_null(ca);
	assert_int_equal(chmod(p, 0600), 0);

	/* A damaged index stops issuing and revoking (a revocation could be
	 * lost otherwise). */
	path2(p, sizeof(p), f->ca1, "index");
	o = fopen(p, "a");
	assert_non_null(o);
	fputs("V nothex 20300101000000Z - d2\n", o);
	fclose(o);
	assert_int_equal(pki_ca_open(&ca, f->ca1, err, sizeof(err)), 0);
	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_CLIENT;
	req.cn = req.key = "d3";
	req.not_before = now;
	req.not_after = now + DAY;
	assert_int_equal(pki_issue(ca, &req, &is, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is malformed"));
	assert_int_equal(pki_revoke(ca, "d1", &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is malformed"));
	pki_ca_close(&ca);

	/* No CA at all. */
	assert_int_equal(pki_ca_open(&ca, f->ca2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not initialised"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test_setup_teardown(test_ca_layout_and_double_init,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaf_good_and_extensions,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_and_not_yet_valid,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_leaf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validity_bounds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_index_and_key_guarded, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
