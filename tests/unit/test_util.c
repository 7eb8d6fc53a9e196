/* tests/unit/test_util.c — common/util.c: the monotonic clock readers.
 *
 * util_mono_us() is the one CLOCK_MONOTONIC reader; util_mono_s() is the
 * same clock in seconds.  Both must never go back, and must agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "common/util.h"

static void
test_mono_agree_and_advance(void **state)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	long long us0, us1;
	double s0, s1;
	int i;

	(void)state;
	us0 = util_mono_us();
	s0 = util_mono_s();
	/* same clock: the seconds reading is within a few ms of the µs one */
	assert_true(s0 * 1e6 >= (double)us0);
	assert_true(s0 * 1e6 - (double)us0 < 5e3);
	for (i = 0; i < 1000; i++) {
		long long u = util_mono_us();

		assert_true(u >= us0);
		us0 = u;
	}
	nanosleep(&nap, NULL);
	us1 = util_mono_us();
	s1 = util_mono_s();
	assert_true(us1 - us0 >= 20000);
	assert_true(s1 - s0 >= 0.020);
	assert_true(s1 - s0 < 5.0);
}

static void
test_mono_abstime(void **state)
{
	struct timespec ts;

	(void)state;
	util_mono_abstime(&ts, 1234567891LL);
	assert_int_equal(ts.tv_sec, 1234);
	assert_int_equal(ts.tv_nsec, 567891000L);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mono_agree_and_advance),
		cmocka_unit_test(test_mono_abstime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
