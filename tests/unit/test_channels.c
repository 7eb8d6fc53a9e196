/* tests/unit/test_channels.c — common/channels.c: the one channel list.
 *
 * Every channel of the migrations' CHECK is known, by both functions;
 * refusals: NULL, "", "*", case, prefixes and extensions, embedded NUL,
 * a length that cuts a name short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/channels.h"

static const char *const known[] = {
	"signal", "whatsapp", "telegram", "wechat", "sms", "mms", "rcs",
	"imessage", "email", "voice", "other"
};

static void
test_known(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const char *c;
		char buf[32];

		assert_true(channels_ok(known[i]));
		/* found from a copy, and the list's own string comes back */
		strcpy(buf, known[i]);
		c = channels_find(buf, strlen(buf));
		assert_non_null(c);
		assert_string_equal(c, known[i]);
		assert_ptr_not_equal(c, buf);
		assert_ptr_equal(c, channels_find(known[i], strlen(known[i])));
	}
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"", "*", "Signal", "SMS", "sm", "smsx", " sms", "sms ", "e-mail",
		"voice\n", "unknown"
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (channels_ok(bad[i]))
			fail_msg("accepted '%s'", bad[i]);
		assert_null(channels_find(bad[i], strlen(bad[i])));
	}
	assert_false(channels_ok(NULL));
	assert_null(channels_find(NULL, 3));
	assert_null(channels_find("sms", 0));
	/* the length decides, not a NUL: no prefix match, no overread */
	assert_null(channels_find("signal", 3));
	assert_string_equal(channels_find("smsx", 3), "sms");
	assert_null(channels_find("sms\0x", 5));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
