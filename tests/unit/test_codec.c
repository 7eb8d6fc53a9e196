/* tests/unit/test_codec.c — vault/codec.c: the big-endian integers.
 *
 * int8/int4 both ways, from char * (as PQgetvalue returns it) and from
 * bytes, the extremes, and a negative int8 through the cast.  (Base64
 * validation is tested with the record parser, test_record.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vault/codec.h"

static void
test_be64(void **state)
{
	static const unsigned char want[8] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
	};
	unsigned char b[8];
	const char *as_text = (const char *)want;

	(void)state;
	vault_be64_put(b, 0x0123456789abcdefULL);
	assert_memory_equal(b, want, 8);
	assert_true(vault_be64_get(b) == 0x0123456789abcdefULL);
	assert_true(vault_be64_get(as_text) == 0x0123456789abcdefULL);
	vault_be64_put(b, 0);
	assert_true(vault_be64_get(b) == 0);
	vault_be64_put(b, UINT64_MAX);
	assert_true(vault_be64_get(b) == UINT64_MAX);
	/* int8 -1 and a negative timestamp round-trip through the cast */
	vault_be64_put(b, (uint64_t)(int64_t)-1);
	assert_true((int64_t)vault_be64_get(b) == -1);
	assert_int_equal(b[0], 0xff);
}

static void
test_be32(void **state)
{
	static const unsigned char want[4] = { 0xde, 0xad, 0xbe, 0xef };
	unsigned char b[4];

	(void)state;
	vault_be32_put(b, 0xdeadbeefU);
	assert_memory_equal(b, want, 4);
	assert_true(vault_be32_get(b) == 0xdeadbeefU);
	assert_true(vault_be32_get((const char *)want) == 0xdeadbeefU);
	vault_be32_put(b, 1);
	assert_int_equal(b[3], 1);
	assert_int_equal(b[0], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_be64),
		cmocka_unit_test(test_be32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
