/* tests/unit/test_err.c — vault/err.c: vault_err_set(), the one writer of a
 * caller's error buffer.  No buffer, an empty buffer, truncation (always
 * NUL-terminated, never past err_len), formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vault/err.h"

static void
test_err_set(void **state)
{
	char buf[16];

	(void)state;
	vault_err_set(NULL, 0, "ignored %d", 1);
	vault_err_set(NULL, sizeof(buf), "ignored %d", 2);
	memset(buf, 'x', sizeof(buf));
	vault_err_set(buf, 0, "not written");
	assert_int_equal(buf[0], 'x');
	vault_err_set(buf, sizeof(buf), "share %u: %s", 3U, "bad");
	assert_string_equal(buf, "share 3: bad");
	/* truncated to err_len - 1 bytes and terminated; nothing past it */
	memset(buf, 'x', sizeof(buf));
	vault_err_set(buf, 8, "%s", "0123456789abcdef");
	assert_string_equal(buf, "0123456");
	assert_int_equal(buf[8], 'x');
	vault_err_set(buf, 1, "anything");
	assert_string_equal(buf, "");
	/* a message with '%' passed as an argument is copied, not expanded */
	vault_err_set(buf, sizeof(buf), "%s", "100%s");
	assert_string_equal(buf, "100%s");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
