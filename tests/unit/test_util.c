/* tests/unit/test_util.c — common/util.c: the monotonic clock readers
 * and the decimal-number parser.
 *
 * util_mono_us() is the one CLOCK_MONOTONIC reader; util_mono_s() is the
 * same clock in seconds.  Both must never go back, and must agree.
 * util_parse_u64() is the one parser of option, config and query numbers:
 * blanks, signs, trailing bytes, overflow and the bounds are refused.
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

/* Digits only, within lo..hi; a refusal leaves *out as it was. */
static void
test_parse_u64(void **state)
{
	static const struct {
		const char *s;
		uint64_t    lo, hi;
		int         rc;
		uint64_t    want;
	} cases[] = {
		{ "0", 0, 10, 0, 0 },
		{ "10", 0, 10, 0, 10 },
		{ "007", 0, 10, 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "11", 0, 10, -1, 0 },                 /* above hi */
		{ "0", 1, 10, -1, 0 },                  /* below lo */
		{ "18446744073709551616", 0, UINT64_MAX, -1, 0 },   /* overflow */
		{ "", 0, 10, -1, 0 },
		{ " 5", 0, 10, -1, 0 },
		{ "+5", 0, 10, -1, 0 },
		{ "-1", 0, UINT64_MAX, -1, 0 },         /* not wrapped */
		{ "-0", 0, 10, -1, 0 },
		{ "5 ", 0, 10, -1, 0 },
		{ "5x", 0, 10, -1, 0 },
		{ "0x10", 0, 100, -1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;

		assert_int_equal(util_parse_u64(cases[i].s, cases[i].lo,
		    cases[i].hi, &v), cases[i].rc);
		assert_true(v == (cases[i].rc == 0 ? cases[i].want : 12345));
	}
	assert_int_equal(util_parse_u64(NULL, 0, 10, &(uint64_t){ 0 }), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mono_agree_and_advance),
		cmocka_unit_test(test_mono_abstime),
		cmocka_unit_test(test_parse_u64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
