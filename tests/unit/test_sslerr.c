/* tests/unit/test_sslerr.c — common/sslerr.c: OpenSSL's reason, one way.
 *
 * Empty queue with and without a fallback; one and two queued errors (the
 * most recent is reported); the queue is empty afterwards on every path;
 * a short buffer is truncated, never overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/sslerr.h"

static void
test_empty_queue(void **state)
{
	char err[128];

	(void)state;
	ERR_clear_error();
	sslerr_set(err, sizeof(err), "SSL_CTX_new", NULL);
	assert_string_equal(err, "SSL_CTX_new");
	sslerr_set(err, sizeof(err), "signing the CRL", "failed");
	assert_string_equal(err, "signing the CRL: failed");
	sslerr_set(err, sizeof(err), "read", "connection closed");
	assert_string_equal(err, "read: connection closed");
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_queued_reason(void **state)
{
	char err[512];

	(void)state;
	ERR_clear_error();
	ERR_raise(ERR_LIB_EVP, EVP_R_BAD_DECRYPT);
	sslerr_set(err, sizeof(err), "key", "failed");
	assert_non_null(strstr(err, "key: error:"));
	assert_non_null(strstr(err, "bad decrypt"));
	assert_null(strstr(err, "failed"));
	assert_int_equal(ERR_peek_error(), 0);
	/* two queued: the most recent wins, both are gone after */
	ERR_raise(ERR_LIB_EVP, EVP_R_BAD_DECRYPT);
	ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
	sslerr_set(err, sizeof(err), "ca_file", NULL);
	assert_non_null(strstr(err, "ca_file: error:"));
	assert_non_null(strstr(err, "no start line"));
	assert_null(strstr(err, "bad decrypt"));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_truncated(void **state)
{
	char err[16];

	(void)state;
	memset(err, 'x', sizeof(err));
	ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
	sslerr_set(err, 8, "certificate", NULL);
	assert_string_equal(err, "certifi");
	assert_int_equal(err[8], 'x');
	assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_queue),
		cmocka_unit_test(test_queued_reason),
		cmocka_unit_test(test_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
