/* tests/unit/test_import_smsxml.c — agent/import/smsxml.c on
 * tests/data/import/smsxml/: received and sent SMS (emoji, Hebrew,
 * escaped markup, a multi-line body, milliseconds), an alphanumeric
 * sender, a draft and a bad date (skipped), a group MMS with a picture
 * (base64 wrapped over lines), a missing video and a text part, a sent
 * MMS; then the hostile files: not well-formed, a DOCTYPE with entity
 * bombs and an external entity, a DOCTYPE alone, the wrong root, bad
 * base64, and the size bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/import_fixture.h"

#define SX IMF_DATA "smsxml/"

static int
sx_run(imf *r, const char *path, size_t input_max)
{
	imp_opts o;

	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	o.default_cc = "1";
	o.lim.input_max = input_max;
	if (imf_ctx(r, "smsxml", &o, NULL) != 0)
		return -1;
	r->rc = imp_smsxml_file(r->c, path, r->err, sizeof(r->err));
	return r->rc;
}

static void
test_backup(void **state)
{
	imf r, again;
	char b[512];

	(void)state;
	assert_int_equal(sx_run(&r, SX "backup.xml", 0), 0);
	assert_int_equal(r.n, 5);
	assert_string_equal(imf_str(&r, 0, "channel"), "sms");
	assert_string_equal(imf_str(&r, 0, "direction"), "in");
	assert_string_equal(imf_str(&r, 0, "sender"), "+15550100001");
	assert_string_equal(imf_rcpt(&r, 0, b, sizeof(b)), IMF_OWNER);
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2023-11-14T22:00:00Z");
	assert_string_equal(imf_str(&r, 0, "conversation"), "sms:+15550100001");
	assert_string_equal(imf_str(&r, 0, "body"),
	    "Hi Dana \xf0\x9f\x91\x8b are you there?\nSecond line");
	/* national number with --default-country 1, sent, milliseconds */
	assert_string_equal(imf_str(&r, 1, "direction"), "out");
	assert_string_equal(imf_str(&r, 1, "sender"), IMF_OWNER);
	assert_string_equal(imf_rcpt(&r, 1, b, sizeof(b)), "+15550100001");
	assert_string_equal(imf_str(&r, 1, "sent_at"), "2023-11-14T22:01:00.123Z");
	assert_string_equal(imf_str(&r, 1, "body"),
	    "Yes! \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d & <3");
	assert_string_equal(imf_str(&r, 1, "conversation"), "sms:+15550100001");
	assert_string_equal(imf_str(&r, 2, "sender"), "sms:acme");
	/* group MMS */
	assert_string_equal(imf_str(&r, 3, "channel"), "mms");
	assert_string_equal(imf_str(&r, 3, "sender"), "+15550100001");
	assert_string_equal(imf_rcpt(&r, 3, b, sizeof(b)),
	    IMF_OWNER ",+15550100002");
	assert_string_equal(imf_str(&r, 3, "conversation"),
	    "sms:+15550100001,+15550100002");
	assert_string_equal(imf_str(&r, 3, "body"),
	    "Group photo from the trip \xf0\x9f\x8f\x94");
	assert_string_equal(imf_att_str(&r, 3, 0, "name"), "IMG_0001.png");
	assert_string_equal(imf_att_str(&r, 3, 0, "type"), "image/png");
	assert_string_equal(imf_att_str(&r, 3, 0, "data"),
	    "iVBORw0KGgpmYWtlLXBuZy1ncm91cC1waG90bw==");
	assert_string_equal(imf_att_str(&r, 3, 1, "name"), "VID_0002.mp4");
	assert_string_equal(imf_att_str(&r, 3, 1, "type"), "video/mp4");
	assert_string_equal(imf_att_str(&r, 3, 1, "data"), "");
	assert_string_equal(imf_str(&r, 4, "direction"), "out");
	assert_string_equal(imf_rcpt(&r, 4, b, sizeof(b)),
	    "+15550100001,+15550100002");
	assert_string_equal(imf_str(&r, 4, "conversation"),
	    "sms:+15550100001,+15550100002");
	assert_int_equal(imp_reason_count(r.c,
	    "sms not received or sent (draft, outbox, failed)"), 1);
	assert_int_equal(imp_reason_count(r.c, "sms without a valid date"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "media missing (attachment without data)"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "address not a phone number (kept as sms:<address>)"), 1);
	assert_true(imf_same_as(&r, SX "backup.expected.ndjson"));
	assert_int_equal(sx_run(&again, SX "backup.xml", 0), 0);
	assert_int_equal(again.out_len, r.out_len);
	assert_memory_equal(again.out, r.out, r.out_len);
	imf_free(&again);
	imf_free(&r);
}

static void
test_hostile_files(void **state)
{
	static const struct {
		const char *file;
		const char *want;
	} t[] = {
		{ "malformed.xml", "line 5: XML not well-formed: Opening and ending "
		  "tag mismatch: sms line 4 and smses" },
		{ "doctype.xml", "line 9: XML not well-formed: Attribute references "
		  "external entity 'xxe'" },
		{ "doctype-plain.xml", "DOCTYPE not allowed in an SMS backup (no DTD, "
		  "no entities)" },
		{ "wrongroot.xml", "line 2: not an SMS Backup & Restore file (root "
		  "element is not <smses>)" },
	};
	size_t i;
	imf r;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), SX "%s", t[i].file);
		assert_int_equal(sx_run(&r, path, 0), -1);
		assert_string_equal(r.err, t[i].want);
		imf_free(&r);
	}
	assert_int_equal(sx_run(&r, SX "backup.xml", 1000), -1);
	assert_string_equal(r.err, SX "backup.xml: larger than 1000 bytes");
	imf_free(&r);
}

static void
test_memory_cases(void **state)
{
	static const char bad64[] = "<smses><mms date=\"1700000000000\" msg_box=\"1\">"
	    "<parts><part ct=\"image/jpeg\" cl=\"../../x.jpg\" data=\"!!notbase64\"/>"
	    "</parts><addrs><addr address=\"+15550100001\" type=\"137\"/></addrs>"
	    "</mms></smses>";
	static const char empty[] = "";
	static const char nomms_sender[] = "<smses><mms date=\"1\" msg_box=\"1\">"
	    "<addrs><addr address=\"+15550100002\" type=\"151\"/></addrs></mms>"
	    "<other/></smses>";
	imf r;
	imp_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	assert_int_equal(imf_ctx(&r, "smsxml", &o, NULL), 0);
	assert_int_equal(imp_smsxml(r.c, bad64, strlen(bad64), r.err,
	    sizeof(r.err)), 0);
	assert_int_equal(r.n, 1);
	/* the name's directories dropped, the data not base64: kept empty */
	assert_string_equal(imf_att_str(&r, 0, 0, "name"), "x.jpg");
	assert_string_equal(imf_att_str(&r, 0, 0, "data"), "");
	assert_int_equal(imp_reason_count(r.c,
	    "attachment data not base64 (attachment without data)"), 1);
	imf_free(&r);

	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	assert_int_equal(imf_ctx(&r, "smsxml", &o, NULL), 0);
	assert_int_equal(imp_smsxml(r.c, empty, 0, r.err, sizeof(r.err)), -1);
	assert_string_equal(r.err, "empty file: not an SMS Backup & Restore file");
	imf_free(&r);

	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	assert_int_equal(imf_ctx(&r, "smsxml", &o, NULL), 0);
	assert_int_equal(imp_smsxml(r.c, nomms_sender, strlen(nomms_sender),
	    r.err, sizeof(r.err)), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(imp_reason_count(r.c, "mms without a sender address"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "unknown element (not sms or mms)"), 1);
	imf_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup),
		cmocka_unit_test(test_hostile_files),
		cmocka_unit_test(test_memory_cases),
	};

	return cmocka_run_group_tests(tests, imf_setup, NULL);
}
