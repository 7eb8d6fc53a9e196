/* tests/unit/test_channels.c — common/channels.c: the one channel list.
 *
 * Every channel of the migrations' CHECK is known, by both functions;
 * refusals: NULL, "", "*", case, prefixes and extensions, embedded NUL,
 * a length that cuts a name short.  The index (what the gateway's network
 * process sends its sealer) goes both ways and refuses every place out of
 * range. */
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

static void
test_index(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(channels_count(), sizeof(known) / sizeof(known[0]));
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		int ix = channels_index(known[i], strlen(known[i]));

		assert_true(ix >= 0 && (unsigned)ix < channels_count());
		assert_ptr_equal(channels_name((unsigned)ix),
		    channels_find(known[i], strlen(known[i])));
	}
	assert_int_equal(channels_index("Signal", 6), -1);
	assert_int_equal(channels_index("smsx", 4), -1);
	assert_int_equal(channels_index(NULL, 3), -1);
	assert_null(channels_name(channels_count()));
	assert_null(channels_name(255));
	assert_null(channels_name(~0U));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
