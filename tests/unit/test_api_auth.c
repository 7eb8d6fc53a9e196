/* tests/unit/test_api_auth.c — api/auth.c: the API's own verification of a
 * presented people certificate (the TLS layer decides nothing).
 *
 * Certificates come from the real people CA code (ctl/pki.h) in a temporary
 * directory.  The good case, then every way a chain must be refused:
 * another CA, expired, not yet valid, revoked (and the revocation taking
 * effect when the CRL file changes, without a restart), a server
 * certificate, a subject without the role, garbage and trailing bytes, no
 * certificate, a CA certificate presented as a leaf, a missing CRL at
 * start-up, and a CRL that disappears later (fail closed).  No database.
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

#include <openssl/pem.h>
#include <openssl/x509.h>

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

static void
test_names(void **state)
{
	(void)state;
	assert_true(api_auth_name_ok("acme", 4));
	assert_true(api_auth_name_ok("a.b_c-9", 7));
	assert_false(api_auth_name_ok("", 0));
	assert_false(api_auth_name_ok(".hidden", 7));
	assert_false(api_auth_name_ok("-x", 2));
	assert_false(api_auth_name_ok("a b", 3));
	assert_false(api_auth_name_ok("a/b", 3));
	assert_false(api_auth_name_ok("\xc3\xa9", 2));
	assert_false(api_auth_name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    65));
	assert_string_equal(api_cert_status_name(API_CERT_REVOKED), "revoked");
	assert_string_equal(api_cert_status_name(API_CERT_NONE),
	    "no-certificate");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_good_and_subject, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revocation_takes_effect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ca_as_leaf, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
