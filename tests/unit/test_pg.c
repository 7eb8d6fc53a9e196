/* tests/unit/test_pg.c — common/pg.c without a database: the timestamp
 * epoch (2000-01-01 UTC) and the bytea[]/text[] array literals (empty,
 * several, quotes and backslashes escaped).  The big-endian integers
 * PostgreSQL's binary formats use are vault/codec.c's (test_codec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
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

static void
test_arrays(void **state)
{
	static const char *const names[] = { "sms", "a\"b", "c\\d", "" };
	unsigned char tok[32];
	char *s;

	(void)state;
	memset(tok, 0xab, 16);
	memset(tok + 16, 0x01, 16);
	s = pg_bytea_array(tok, 16, 2);
	assert_non_null(s);
	assert_string_equal(s, "{\"\\\\xabababababababababababababababab\","
	    "\"\\\\x01010101010101010101010101010101\"}");
	free(s);
	s = pg_bytea_array(tok, 16, 0);
	assert_string_equal(s, "{}");
	free(s);
	s = pg_bytea_array(tok, 3, 1);
	assert_string_equal(s, "{\"\\\\xababab\"}");
	free(s);
	assert_null(pg_bytea_array(tok, SIZE_MAX / 2, 2));

	s = pg_text_array(names, 1);
	assert_string_equal(s, "{\"sms\"}");
	free(s);
	s = pg_text_array(names, 4);
	assert_string_equal(s, "{\"sms\",\"a\\\"b\",\"c\\\\d\",\"\"}");
	free(s);
	s = pg_text_array(names, 0);
	assert_string_equal(s, "{}");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_arrays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
