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
#include <string.h>
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
	/* same clock: the seconds reading is within a few ms of the µs one
	 * (util_mono_s is util_mono_us / 1e6: times 1e6 again it may come
	 * back a rounding error below the same microsecond, hence the 1 µs) */
	assert_true(s0 * 1e6 + 1.0 >= (double)us0);
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

/* The one RFC 3339 check (matters, holds, audit filters, cofferctl). */
static void
test_rfc3339_ok(void **state)
{
	static const struct {
		const char *s;
		int         ok;
	} cases[] = {
		{ "2026-01-31T00:00:00Z", 1 },
		{ "2026-01-31t00:00:00z", 1 },
		{ "2026-01-31 00:00:00Z", 1 },
		{ "2026-01-31T00:00:00.123456789Z", 1 },
		{ "2026-01-31T00:00:00+05:30", 1 },
		{ "2026-01-31T00:00:00.5-08:00", 1 },
		{ "2026-01-31T00:00:00", 0 },               /* no offset */
		{ "2026-01-31T00:00:00.Z", 0 },             /* empty fraction */
		{ "2026-01-31T00:00:00.1234567890Z", 0 },   /* 10 digits */
		{ "2026-01-31T00:00:00+0530", 0 },
		{ "2026-01-31X00:00:00Z", 0 },
		{ "2026-1-31T00:00:00Z", 0 },
		{ "2026-01-31T00:00:00Zjunk", 0 },
		{ "now", 0 }, { "infinity", 0 }, { "epoch", 0 }, { "", 0 },
		{ "2026-01-31T00:00:00.12345678901234567Z", 0 },   /* > 35 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(util_rfc3339_ok(cases[i].s), cases[i].ok);
	assert_int_equal(util_rfc3339_ok(NULL), 0);
	assert_true(strlen("2026-01-31T00:00:00.123456789+05:30") + 1 <=
	    UTIL_RFC3339_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mono_agree_and_advance),
		cmocka_unit_test(test_mono_abstime),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_rfc3339_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
