/* tests/unit/test_tbucket.c — common/tbucket.c: the one token bucket.
 *
 * Driven by a fake clock (the caller passes times): a full bucket allows
 * `burst` takes then refuses; refusal gives the whole seconds to wait,
 * rounded up and at least 1; refill is rate per second and capped at burst;
 * a clock reading older than the bucket adds nothing; level() does not
 * change the bucket; fractional rates (per-minute limits) work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>

#include "common/tbucket.h"

#define S 1000000LL   /* µs in a second */

static void
test_burst_then_refuse(void **state)
{
	tbucket b;
	unsigned wait = 99;
	int i;

	(void)state;
	tbucket_init(&b, 3.0, 10 * S);
	for (i = 0; i < 3; i++) {
		assert_int_equal(tbucket_take(&b, 1.0, 3.0, 10 * S, &wait), 1);
		assert_int_equal(wait, 0);
	}
	assert_int_equal(tbucket_take(&b, 1.0, 3.0, 10 * S, &wait), 0);
	assert_int_equal(wait, 1);
	/* a refusal takes nothing: still empty, same wait */
	assert_int_equal(tbucket_take(&b, 1.0, 3.0, 10 * S, &wait), 0);
	assert_int_equal(wait, 1);
	/* half a token back: still refused, the wait is rounded up */
	assert_int_equal(tbucket_take(&b, 1.0, 3.0, 10 * S + S / 2, &wait), 0);
	assert_int_equal(wait, 1);
	assert_int_equal(tbucket_take(&b, 1.0, 3.0, 11 * S, &wait), 1);
	/* NULL wait is allowed on both paths */
	assert_int_equal(tbucket_take(&b, 1.0, 3.0, 11 * S, NULL), 0);
}

static void
test_refill_capped(void **state)
{
	tbucket b;
	int i, ok = 0;

	(void)state;
	tbucket_init(&b, 2.0, 0);
	assert_int_equal(tbucket_take(&b, 10.0, 2.0, 0, NULL), 1);
	assert_int_equal(tbucket_take(&b, 10.0, 2.0, 0, NULL), 1);
	/* an hour idle refills to burst, not to 36000 */
	assert_true(tbucket_level(&b, 10.0, 2.0, 3600 * S) == 2.0);
	for (i = 0; i < 5; i++)
		ok += tbucket_take(&b, 10.0, 2.0, 3600 * S, NULL);
	assert_int_equal(ok, 2);
}

static void
test_clock_backwards_and_level(void **state)
{
	tbucket b;
	unsigned wait;

	(void)state;
	tbucket_init(&b, 1.0, 100 * S);
	assert_int_equal(tbucket_take(&b, 1.0, 1.0, 100 * S, &wait), 1);
	/* an older reading neither refills nor moves the bucket back */
	assert_true(tbucket_level(&b, 1.0, 1.0, 50 * S) == 0.0);
	assert_int_equal(tbucket_take(&b, 1.0, 1.0, 50 * S, &wait), 0);
	assert_int_equal(b.at_us, 100 * S);
	/* level() peeks only */
	assert_true(tbucket_level(&b, 1.0, 1.0, 101 * S) == 1.0);
	assert_true(b.tokens == 0.0);
	assert_int_equal(tbucket_take(&b, 1.0, 1.0, 101 * S, &wait), 1);
}

static void
test_slow_rates(void **state)
{
	tbucket b;
	unsigned wait;

	(void)state;
	/* 6 per minute: a token every 10 s */
	tbucket_init(&b, 1.0, 0);
	assert_int_equal(tbucket_take(&b, 6.0 / 60.0, 1.0, 0, &wait), 1);
	assert_int_equal(tbucket_take(&b, 6.0 / 60.0, 1.0, 0, &wait), 0);
	assert_int_equal(wait, 10);
	assert_int_equal(tbucket_take(&b, 6.0 / 60.0, 1.0, 4 * S, &wait), 0);
	assert_int_equal(wait, 6);
	/* 0.01 per minute: 6000 s, not capped here (callers cap headers) */
	tbucket_init(&b, 1.0, 0);
	assert_int_equal(tbucket_take(&b, 0.01 / 60.0, 1.0, 0, &wait), 1);
	assert_int_equal(tbucket_take(&b, 0.01 / 60.0, 1.0, 0, &wait), 0);
	assert_int_equal(wait, 6000);
	/* a zero rate never refills: the longest wait, no division by zero */
	tbucket_init(&b, 0.0, 0);
	assert_int_equal(tbucket_take(&b, 0.0, 0.0, 5 * S, &wait), 0);
	assert_int_equal(wait, UINT_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refuse),
		cmocka_unit_test(test_refill_capped),
		cmocka_unit_test(test_clock_backwards_and_level),
		cmocka_unit_test(test_slow_rates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
