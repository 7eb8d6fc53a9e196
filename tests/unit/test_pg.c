/* tests/unit/test_pg.c — common/pg.c without a database: the timestamp
 * epoch (2000-01-01 UTC).  The big-endian integers PostgreSQL's binary
 * formats use are vault/codec.c's (test_codec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "common/pg.h"

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
		cmocka_unit_test(test_epoch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
