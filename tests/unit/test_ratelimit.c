/* tests/unit/test_ratelimit.c — api/ratelimit.c: coffer-api's table of
 * rate-limit buckets (the arithmetic is common/tbucket.c's, tested in
 * test_tbucket).
 *
 * A key gets `burst` takes, then a refusal with the seconds to wait; keys
 * and classes have their own buckets; the table has a fixed size, and
 * 20 000 other keys (five times its slots) never leave a key with fewer
 * tokens than it had: an evicted bucket comes back full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/ratelimit.h"

static void
key_of(unsigned char k[16], unsigned n)
{
	memset(k, 0, 16);
	memcpy(k, &n, sizeof(n));
}

static void
test_burst_then_refuse(void **state)
{
	api_ratelimit *l = NULL;
	unsigned char k[16];
	unsigned retry = 0;
	int i;

	(void)state;
	assert_int_equal(api_ratelimit_new(&l), 0);
	key_of(k, 1);
	/* one token a minute, burst 3 */
	for (i = 0; i < 3; i++)
		assert_int_equal(api_ratelimit_take(l, 0, k, 1.0, 3.0, &retry), 1);
	assert_int_equal(api_ratelimit_take(l, 0, k, 1.0, 3.0, &retry), 0);
	assert_true(retry >= 59 && retry <= 60);
	api_ratelimit_free(&l);
	assert_null(l);
	api_ratelimit_free(&l);            /* NULL is fine */
}

static void
test_keys_and_classes_apart(void **state)
{
	api_ratelimit *l = NULL;
	unsigned char a[16], b[16];
	unsigned retry;

	(void)state;
	assert_int_equal(api_ratelimit_new(&l), 0);
	key_of(a, 1);
	key_of(b, 2);
	assert_int_equal(api_ratelimit_take(l, 0, a, 1.0, 1.0, &retry), 1);
	assert_int_equal(api_ratelimit_take(l, 0, a, 1.0, 1.0, &retry), 0);
	/* another key, and the same key in another class: their own bucket */
	assert_int_equal(api_ratelimit_take(l, 0, b, 1.0, 1.0, &retry), 1);
	assert_int_equal(api_ratelimit_take(l, 1, a, 1.0, 1.0, &retry), 1);
	assert_int_equal(api_ratelimit_take(l, 1, a, 1.0, 1.0, &retry), 0);
	api_ratelimit_free(&l);
}

static void
test_fixed_table_never_takes_tokens(void **state)
{
	api_ratelimit *l = NULL;
	unsigned char k[16];
	unsigned retry, n, allowed = 0;

	(void)state;
	assert_int_equal(api_ratelimit_new(&l), 0);
	/* 20 000 keys, two takes each with burst 2: every key's bucket is
	 * its own or a fresh one, so each take is allowed */
	for (n = 0; n < 20000; n++) {
		key_of(k, 100 + n);
		allowed += (unsigned)api_ratelimit_take(l, 2, k, 1.0, 2.0, &retry);
		allowed += (unsigned)api_ratelimit_take(l, 2, k, 1.0, 2.0, &retry);
	}
	assert_int_equal(allowed, 40000);
	/* and a key that is in the table is still limited */
	key_of(k, 100 + 19999);
	assert_int_equal(api_ratelimit_take(l, 2, k, 1.0, 2.0, &retry), 0);
	api_ratelimit_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refuse),
		cmocka_unit_test(test_keys_and_classes_apart),
		cmocka_unit_test(test_fixed_table_never_takes_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
