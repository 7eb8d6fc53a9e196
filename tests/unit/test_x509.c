/* tests/unit/test_x509.c — common/x509.c: the expiry gauges' helpers.
 *
 * x509_until_line: seconds until (positive, negative once past), nothing
 * for an unknown time (0), nothing rather than a cut line when the buffer
 * is short.  x509_pem_not_after: the leaf's notAfter from a PEM made
 * here; -1 and 0 for no certificate, garbage, an empty buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/x509.h"

static void
test_until_line(void **state)
{
	char line[64];

	(void)state;
	assert_int_equal(x509_until_line(line, sizeof(line), "m{cert=\"server\"}",
	    1100, 1000), strlen("m{cert=\"server\"} 100\n"));
	assert_string_equal(line, "m{cert=\"server\"} 100\n");
	assert_true(x509_until_line(line, sizeof(line), "m", 900, 1000) > 0);
	assert_string_equal(line, "m -100\n");
	assert_int_equal(x509_until_line(line, sizeof(line), "m", 0, 1000), 0);
	assert_string_equal(line, "");
	/* "m 100\n" needs 7 bytes with its NUL: 6 is too short */
	assert_int_equal(x509_until_line(line, 6, "m", 1100, 1000), 0);
	assert_string_equal(line, "");
	assert_int_equal(x509_until_line(line, 7, "m", 1100, 1000), 6);
	assert_int_equal(x509_until_line(line, 0, "m", 1100, 1000), 0);
}

/* A self-signed certificate valid until not_after, as PEM in buf. */
static size_t
make_pem(time_t not_after, char *buf, size_t cap)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	assert_non_null(k);
	assert_non_null(x);
	assert_non_null(b);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, NULL));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), not_after));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &p);
	assert_true(n > 0 && (size_t)n < cap);
	memcpy(buf, p, (size_t)n);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
	return (size_t)n;
}

static void
test_pem_not_after(void **state)
{
	char pem[4096];
	time_t when = 1893456000;   /* 2030-01-01T00:00:00Z */
	time_t got = 1;
	size_t n;

	(void)state;
	n = make_pem(when, pem, sizeof(pem));
	assert_int_equal(x509_pem_not_after(pem, n, &got), 0);
	assert_int_equal(got, when);

	got = 1;
	assert_int_equal(x509_pem_not_after("", 0, &got), -1);
	assert_int_equal(got, 0);
	got = 1;
	assert_int_equal(x509_pem_not_after("not a certificate", 17, &got), -1);
	assert_int_equal(got, 0);
	/* a cut PEM: no certificate */
	got = 1;
	assert_int_equal(x509_pem_not_after(pem, n / 2, &got), -1);
	assert_int_equal(got, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_until_line),
		cmocka_unit_test(test_pem_not_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
