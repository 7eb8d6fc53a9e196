/* tests/unit/test_import_telegram.c — agent/import/telegram.c on
 * tests/data/import/telegram/: a personal chat (a service message, text
 * as entities, a reply, an edit, a forward, a photo present, a file
 * missing, a file not included, a "../../../etc/passwd" photo, a local
 * date only, across Europe/Berlin's spring change, Hebrew), a whole
 * account export (a group with an unmapped user as @user555, a left
 * chat, an element that is not a message), and the refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/import_fixture.h"

#define TG IMF_DATA "telegram/"

static int
tg_run(imf *r, const char *path)
{
	imp_opts o;

	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	o.default_cc = "44";
	o.tz = "Europe/Berlin";
	if (imf_ctx(r, "telegram", &o, IMF_DATA "contacts.csv") != 0)
		return -1;
	r->rc = imp_telegram_file(r->c, path, r->err, sizeof(r->err));
	return r->rc;
}

static void
test_personal(void **state)
{
	imf r, again;
	char b[512], want[128];

	(void)state;
	assert_int_equal(tg_run(&r, TG "personal/result.json"), 0);
	assert_int_equal(r.n, 8);
	assert_string_equal(imf_str(&r, 0, "channel"), "telegram");
	assert_string_equal(imf_str(&r, 0, "conversation"), "telegram:123456789");
	assert_string_equal(imf_str(&r, 0, "sender"), "+15550100001");
	assert_string_equal(imf_rcpt(&r, 0, b, sizeof(b)), IMF_OWNER);
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2023-12-31T21:41:05Z");
	assert_string_equal(imf_str(&r, 0, "body"), "Happy new year \xf0\x9f\x8e\x89");
	/* reply (by the replied message's record id), edit, entities */
	snprintf(want, sizeof(want), "[reply to %s]\n[edited 2023-12-31T21:45:00Z]"
	    "\nSame to you, see https://example.org/nye \xf0\x9f\xa5\x82",
	    imf_str(&r, 0, "id"));
	assert_string_equal(imf_str(&r, 1, "body"), want);
	assert_string_equal(imf_str(&r, 1, "direction"), "out");
	assert_string_equal(imf_rcpt(&r, 1, b, sizeof(b)), "+15550100001");
	assert_string_equal(imf_att_str(&r, 2, 0, "name"),
	    "photo_1@01-01-2024_00-01-00.jpg");
	assert_string_equal(imf_att_str(&r, 2, 0, "type"), "image/jpeg");
	assert_string_equal(imf_att_str(&r, 2, 0, "data"), "/9j/4HRlbGVncmFtLXBob3Rv/9k=");
	assert_string_equal(imf_att_str(&r, 3, 0, "name"), "report.pdf");
	assert_string_equal(imf_att_str(&r, 3, 0, "type"), "application/pdf");
	assert_string_equal(imf_att_str(&r, 3, 0, "data"), "");
	assert_string_equal(imf_str(&r, 3, "body"), "the report");
	assert_string_equal(imf_str(&r, 4, "body"), "[forwarded from Bob Example]\nfwd text");
	assert_string_equal(imf_att_str(&r, 5, 0, "name"), "big.mp4");
	assert_string_equal(imf_att_str(&r, 5, 0, "type"), "video/mp4");
	assert_string_equal(imf_att_str(&r, 5, 0, "data"), "");
	assert_null(imf_att(&r, 6, 0));
	assert_string_equal(imf_str(&r, 6, "body"), "look");
	/* local date only: 03:30 CEST on the day the clocks went forward */
	assert_string_equal(imf_str(&r, 7, "sent_at"), "2024-03-31T01:30:00Z");
	assert_int_equal(imp_reason_count(r.c, "service message"), 1);
	assert_int_equal(imp_reason_count(r.c, "media missing (attachment without data)"), 1);
	assert_int_equal(imp_reason_count(r.c, "media not included in the export "
	    "(attachment without data)"), 1);
	assert_int_equal(imp_reason_count(r.c, "attachment name refused "
	    "(absolute, .. or control characters)"), 1);
	assert_true(imf_same_as(&r, TG "personal.expected.ndjson"));
	assert_int_equal(tg_run(&again, TG "personal/result.json"), 0);
	assert_int_equal(again.out_len, r.out_len);
	assert_memory_equal(again.out, r.out, r.out_len);
	imf_free(&again);
	imf_free(&r);
}

static void
test_account(void **state)
{
	imf r;
	char b[512];

	(void)state;
	assert_int_equal(tg_run(&r, TG "account/result.json"), 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(imf_str(&r, 0, "conversation"), "telegram:4000001");
	assert_string_equal(imf_rcpt(&r, 0, b, sizeof(b)), IMF_OWNER ",@user555");
	assert_string_equal(imf_str(&r, 1, "sender"), "@user555");
	assert_string_equal(imf_str(&r, 1, "body"), "me!");
	assert_string_equal(imf_rcpt(&r, 2, b, sizeof(b)), "+15550100002,@user555");
	assert_string_equal(imf_str(&r, 3, "conversation"), "telegram:777");
	assert_string_equal(imf_str(&r, 3, "sent_at"), "2020-02-29T12:00:00Z");
	assert_int_equal(imp_reason_count(r.c, "service message"), 1);
	assert_int_equal(imp_reason_count(r.c, "message without a numeric id"), 1);
	assert_true(imf_same_as(&r, TG "account.expected.ndjson"));
	imf_free(&r);
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *json;
		const char *want;
	} t[] = {
		{ "[1,2]", "not a Telegram Desktop export (the top level is not an "
		  "object)" },
		{ "{\"name\":\"x\"}", "not a Telegram Desktop export (no \"messages\" "
		  "or \"chats\".\"list\")" },
		{ "{\"messages\":[], \"messages\":[]}", "line 1 column 26: not valid "
		  "JSON" },
		{ "", "line 1 column 0: not valid JSON" },
	};
	size_t i;
	imf r;
	imp_opts o;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.owner = IMF_OWNER;
		assert_int_equal(imf_ctx(&r, "telegram", &o, NULL), 0);
		assert_int_equal(imp_telegram(r.c, t[i].json, strlen(t[i].json), NULL,
		    r.err, sizeof(r.err)), -1);
		assert_string_equal(r.err, t[i].want);
		assert_int_equal(r.n, 0);
		imf_free(&r);
	}
	assert_int_equal(tg_run(&r, TG "malformed/result.json"), -1);
	assert_string_equal(r.err, "line 4 column 31: not valid JSON");
	imf_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_personal),
		cmocka_unit_test(test_account),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, imf_setup, NULL);
}
