/* tests/unit/test_names.c — common/names.c: the one name rule.
 *
 * Table-driven: every accepted shape and every rejection path of names_ok()
 * and names_check() (empty, NULL, too long, each refused byte class, a
 * leading '.' or '-'), with names_check()'s exact messages.  The two must
 * agree on every case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/names.h"

#define N64 "x0123456789012345678901234567890123456789012345678901234567890yz"

static void
test_check_table(void **state)
{
	static const struct {
		const char *name;
		const char *want;      /* NULL: accepted */
	} t[] = {
		{ "dev-01", NULL },
		{ "a", NULL },
		{ "A.b_c-9", NULL },
		{ "a-", NULL },
		{ "a.", NULL },
		{ "_x", NULL },
		{ "9", NULL },
		{ N64, NULL },                                  /* 64 */
		{ "", "invalid device id '': must be 1 to 64 characters of "
		  "A-Z a-z 0-9 . _ -" },
		{ N64 "Z", "invalid device id 'x0123456789012345678901234567890123456789"
		  "012345678901234567890yz...': longer than 64 characters" },
		{ "a b", "invalid device id 'a b': character ' ' is not allowed "
		  "(use A-Z a-z 0-9 . _ -)" },
		{ "a/b", "invalid device id 'a/b': character '/' is not allowed "
		  "(use A-Z a-z 0-9 . _ -)" },
		{ "../etc", "invalid device id '../etc': character '/' is not "
		  "allowed (use A-Z a-z 0-9 . _ -)" },
		{ "..", "invalid device id '..': must not start with '.' or '-'" },
		{ ".hidden", "invalid device id '.hidden': must not start with "
		  "'.' or '-'" },
		{ "-rf", "invalid device id '-rf': must not start with '.' or "
		  "'-'" },
		{ "-acme", "invalid device id '-acme': must not start with '.' or "
		  "'-'" },
		{ "-", "invalid device id '-': must not start with '.' or '-'" },
		{ "CN=x,O=y", "invalid device id 'CN=x,O=y': character '=' is "
		  "not allowed (use A-Z a-z 0-9 . _ -)" },
		{ "a\nb", "invalid device id 'a?b': character 0x0a is not "
		  "allowed (use A-Z a-z 0-9 . _ -)" },
		{ "a\x7f", "invalid device id 'a?': character 0x7f is not "
		  "allowed (use A-Z a-z 0-9 . _ -)" },
		{ "caf\xc3\xa9", "invalid device id 'caf?" "?': character 0xc3 is "
		  "not allowed (use A-Z a-z 0-9 . _ -)" },
		/* a bad byte wins over a leading '-': the first problem found */
		{ "-a b", "invalid device id '-a b': character ' ' is not allowed "
		  "(use A-Z a-z 0-9 . _ -)" },
	};
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc, ok;

		strcpy(err, "untouched");
		rc = names_check("device id", t[i].name, err, sizeof(err));
		ok = names_ok(t[i].name, strlen(t[i].name));
		if (t[i].want == NULL) {
			if (rc != 0 || ok != 1)
				fail_msg("case %zu: '%s' refused: %s", i, t[i].name,
				    err);
			assert_string_equal(err, "untouched");
		} else {
			if (rc != -1 || ok != 0)
				fail_msg("case %zu: '%s' accepted", i, t[i].name);
			assert_string_equal(err, t[i].want);
		}
	}
}

static void
test_check_null_and_what(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(names_check("tenant name", NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid tenant name '': must be 1 to 64 "
	    "characters of A-Z a-z 0-9 . _ -");
	assert_int_equal(names_check("tenant name", "-acme", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "invalid tenant name '-acme': must not start "
	    "with '.' or '-'");
	/* a small buffer is truncated, never overrun */
	assert_int_equal(names_check("tenant name", "-acme", err, 8), -1);
	assert_string_equal(err, "invalid");
}

static void
test_ok_lengths(void **state)
{
	char buf[NAMES_MAX + 2];

	(void)state;
	assert_false(names_ok(NULL, 0));
	assert_false(names_ok(NULL, 4));
	assert_false(names_ok("acme", 0));
	/* only len bytes count: no NUL needed, bytes beyond are not read */
	assert_true(names_ok("acme/../x", 4));
	assert_false(names_ok("acme/../x", 5));
	/* an embedded NUL is a refused byte, not an end */
	assert_false(names_ok("ac\0me", 5));
	memset(buf, 'a', sizeof(buf));
	assert_true(names_ok(buf, NAMES_MAX));
	assert_false(names_ok(buf, NAMES_MAX + 1));
	assert_false(names_ok(".a", 2));
	assert_false(names_ok("-a", 2));
	assert_true(names_ok("a-", 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_table),
		cmocka_unit_test(test_check_null_and_what),
		cmocka_unit_test(test_ok_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
