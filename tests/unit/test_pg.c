/* tests/unit/test_pg.c — common/pg.c: PostgreSQL's binary formats (no
 * database needed): big-endian int8/int4 both ways, from char * (as
 * PQgetvalue returns it) and from bytes, the extremes, and the timestamp
 * epoch (2000-01-01 UTC). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "common/pg.h"

static void
test_be64(void **state)
{
	static const unsigned char want[8] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
	};
	unsigned char b[8];
	const char *as_text = (const char *)want;

	(void)state;
	pg_be64_put(b, 0x0123456789abcdefULL);
	assert_memory_equal(b, want, 8);
	assert_true(pg_be64_get(b) == 0x0123456789abcdefULL);
	assert_true(pg_be64_get(as_text) == 0x0123456789abcdefULL);
	pg_be64_put(b, 0);
	assert_true(pg_be64_get(b) == 0);
	pg_be64_put(b, UINT64_MAX);
	assert_true(pg_be64_get(b) == UINT64_MAX);
	/* int8 -1 and a negative timestamp round-trip through the cast */
	pg_be64_put(b, (uint64_t)(int64_t)-1);
	assert_true((int64_t)pg_be64_get(b) == -1);
	assert_int_equal(b[0], 0xff);
}

static void
test_be32(void **state)
{
	static const unsigned char want[4] = { 0xde, 0xad, 0xbe, 0xef };
	unsigned char b[4];

	(void)state;
	pg_be32_put(b, 0xdeadbeefU);
	assert_memory_equal(b, want, 4);
	assert_true(pg_be32_get(b) == 0xdeadbeefU);
	assert_true(pg_be32_get((const char *)want) == 0xdeadbeefU);
	pg_be32_put(b, 1);
	assert_int_equal(b[3], 1);
	assert_int_equal(b[0], 0);
}

static void
test_epoch(void **state)
{
	struct tm tm;

	(void)state;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 100;        /* 2000 */
	tm.tm_mday = 1;
	assert_true((long long)timegm(&tm) * 1000000LL == PG_EPOCH_US);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_be64),
		cmocka_unit_test(test_be32),
		cmocka_unit_test(test_epoch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
