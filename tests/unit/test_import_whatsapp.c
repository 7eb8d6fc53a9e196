/* tests/unit/test_import_whatsapp.c — agent/import/whatsapp.c on the
 * sample exports in tests/data/import/whatsapp/.
 *
 * Android .txt (month-first, 12-hour with U+202F, CRLF, multi-line, emoji,
 * Arabic, a system line, <Media omitted>, a media file beside the text),
 * iOS .zip (day-first, seconds, U+200E marks, a group, both DST changes of
 * Europe/London, a missing and a present attachment, a "../../etc/passwd"
 * attachment, an unmapped name, system lines), dotted dates, an ambiguous
 * date order, and each refusal with its exact message.  Every field of
 * every line is compared against the expected NDJSON; the facts that
 * matter (times across DST, recipients, skips) are also asserted one by
 * one.  A second import gives the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/import_fixture.h"

#define WA IMF_DATA "whatsapp/"
#define ANDROID WA "android/WhatsApp Chat with Alice Smith.txt"
#define IOSZIP WA "WhatsApp Chat - Trip Planning.zip"

static int
wa_run(imf *r, const char *path, const char *tz, imp_date_order order)
{
	imp_opts o;

	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	o.default_cc = "44";
	o.tz = tz;
	o.date_order = order;
	if (imf_ctx(r, "whatsapp", &o, IMF_DATA "contacts.csv") != 0)
		return -1;
	r->rc = imp_whatsapp_file(r->c, path, r->err, sizeof(r->err));
	return r->rc;
}

static void
test_android(void **state)
{
	imf r, again;
	char b[512];

	(void)state;
	assert_int_equal(wa_run(&r, ANDROID, "America/New_York", 0), 0);
	assert_int_equal(r.n, 7);
	assert_int_equal(imp_imported(r.c), 7);
	/* 9:41 PM EST on 12/31/23 */
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2024-01-01T02:41:00Z");
	assert_string_equal(imf_str(&r, 0, "body"), "Happy new year \xf0\x9f\x8e\x89");
	assert_string_equal(imf_str(&r, 0, "sender"), "+15550100001");
	assert_string_equal(imf_str(&r, 0, "direction"), "in");
	assert_string_equal(imf_rcpt(&r, 0, b, sizeof(b)), IMF_OWNER);
	assert_string_equal(imf_str(&r, 0, "conversation"), "whatsapp:Alice Smith");
	/* same minute, same sender: different ids */
	assert_string_not_equal(imf_str(&r, 0, "id"), imf_str(&r, 1, "id"));
	assert_string_equal(imf_str(&r, 1, "sent_at"), "2024-01-01T02:41:00Z");
	/* multi-line, CRLF, the owner's own message */
	assert_string_equal(imf_str(&r, 2, "body"), "Thanks!\nSee you tomorrow\nat 10");
	assert_string_equal(imf_str(&r, 2, "direction"), "out");
	assert_string_equal(imf_str(&r, 2, "sender"), IMF_OWNER);
	assert_string_equal(imf_rcpt(&r, 2, b, sizeof(b)), "+15550100001");
	assert_string_equal(imf_str(&r, 3, "body"), "<Media omitted>");
	assert_null(imf_att(&r, 3, 0));
	/* the media file beside the text, its caption as the body */
	assert_string_equal(imf_str(&r, 4, "sent_at"), "2024-01-01T05:00:00Z");
	assert_string_equal(imf_str(&r, 4, "body"), "Fireworks");
	assert_string_equal(imf_att_str(&r, 4, 0, "name"), "IMG-20240101-WA0001.jpg");
	assert_string_equal(imf_att_str(&r, 4, 0, "type"), "image/jpeg");
	assert_string_equal(imf_att_str(&r, 4, 0, "data"),
	    "/9j/4AAQSkZJRgBmYWtlLWpwZWf/2Q==");
	assert_string_equal(imf_str(&r, 5, "sent_at"), "2024-01-01T17:05:00Z");
	assert_string_equal(imf_str(&r, 6, "body"),
	    "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xd8\xa8\xd8\xa7\xd9\x84"
	    "\xd8\xb9\xd8\xa7\xd9\x84\xd9\x85");
	assert_string_equal(imf_str(&r, 6, "sent_at"), "2024-01-13T13:00:00Z");
	assert_int_equal(imp_reason_count(r.c, "system message"), 1);
	assert_int_equal(imp_reason_count(r.c, "media omitted by the export"), 1);
	assert_true(imf_same_as(&r, WA "android.expected.ndjson"));
	/* again: byte for byte */
	assert_int_equal(wa_run(&again, ANDROID, "America/New_York", 0), 0);
	assert_int_equal(again.out_len, r.out_len);
	assert_memory_equal(again.out, r.out, r.out_len);
	imf_free(&again);
	imf_free(&r);
}

static void
test_ios_zip_group_dst(void **state)
{
	imf r, again;
	char b[512];
	char *rep;

	(void)state;
	assert_int_equal(wa_run(&r, IOSZIP, "Europe/London", 0), 0);
	assert_int_equal(r.n, 10);
	/* GMT before the spring change */
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2023-03-26T00:30:00Z");
	assert_string_equal(imf_rcpt(&r, 0, b, sizeof(b)),
	    IMF_OWNER ",+447700900123,+33612345678");
	/* 01:15 does not exist that night: read as GMT, and a warning */
	assert_string_equal(imf_str(&r, 1, "sent_at"), "2023-03-26T01:15:00Z");
	assert_int_equal(imp_reason_count(r.c,
	    "nonexistent local time (clock went forward)"), 1);
	/* BST after it; the attachment from the zip, no caption */
	assert_string_equal(imf_str(&r, 2, "sent_at"), "2023-03-26T01:30:00Z");
	assert_string_equal(imf_str(&r, 2, "sender"), "+447700900123");
	assert_string_equal(imf_str(&r, 2, "body"), "");
	assert_string_equal(imf_att_str(&r, 2, 0, "name"),
	    "00000003-PHOTO-2023-03-26-02-30-00.jpg");
	assert_string_equal(imf_att_str(&r, 2, 0, "data"), "/9j/4HJvdXRlLW1hcP/Z");
	assert_string_equal(imf_str(&r, 3, "body"), "Map of the route\nline two of it");
	assert_string_equal(imf_str(&r, 4, "sent_at"), "2023-03-26T01:31:00Z");
	assert_string_not_equal(imf_str(&r, 3, "id"), imf_str(&r, 4, "id"));
	/* autumn: 01:40 BST, then 01:20 is the second 01:20 (GMT) */
	assert_string_equal(imf_str(&r, 5, "sent_at"), "2023-10-29T00:40:00Z");
	assert_string_equal(imf_str(&r, 5, "direction"), "out");
	assert_string_equal(imf_rcpt(&r, 5, b, sizeof(b)),
	    "+15550100002,+447700900123,+33612345678");
	assert_string_equal(imf_str(&r, 6, "sent_at"), "2023-10-29T01:20:00Z");
	assert_int_equal(imp_reason_count(r.c,
	    "ambiguous local time (clock went back)"), 2);
	/* missing media: the attachment with empty data, and a warning */
	assert_string_equal(imf_att_str(&r, 7, 0, "name"),
	    "00000007-AUDIO-2023-10-29-09-01-00.opus");
	assert_string_equal(imf_att_str(&r, 7, 0, "type"), "audio/ogg");
	assert_string_equal(imf_att_str(&r, 7, 0, "data"), "");
	assert_int_equal(imp_reason_count(r.c,
	    "media missing (attachment without data)"), 1);
	/* ../../etc/passwd: refused, the message kept without it */
	assert_string_equal(imf_str(&r, 8, "sent_at"), "2023-10-29T09:02:00Z");
	assert_null(imf_att(&r, 8, 0));
	assert_int_equal(imp_reason_count(r.c, "attachment name refused "
	    "(absolute, .. or control characters)"), 1);
	assert_string_equal(imf_str(&r, 9, "sender"), "+33612345678");
	assert_string_equal(imf_str(&r, 9, "body"),
	    "Bonjour \xf0\x9f\x91\x8b\xf0\x9f\x8f\xbd");
	assert_int_equal(imp_reason_count(r.c, "system message"), 3);
	assert_int_equal(imp_reason_count(r.c, "sender not in --contacts"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "name not in --contacts (first line it speaks)"), 1);
	/* the report names lines, never a name or a body */
	rep = imp_report_json(r.c);
	assert_non_null(rep);
	assert_non_null(strstr(rep, "\"system message\":{\"at\":[\"line 1\","
	    "\"line 2\",\"line 14\"],\"count\":3}"));
	assert_null(strstr(rep, "Frank"));
	assert_null(strstr(rep, "Trip"));
	assert_null(strstr(rep, "passwd"));
	assert_null(strstr(rep, "+1555"));
	free(rep);
	assert_true(imf_same_as(&r, WA "ios-zip.expected.ndjson"));
	assert_int_equal(wa_run(&again, IOSZIP, "Europe/London", 0), 0);
	assert_int_equal(again.out_len, r.out_len);
	assert_memory_equal(again.out, r.out, r.out_len);
	imf_free(&again);
	imf_free(&r);
}

/* --owner-name: the owner's own display name without a contacts entry. */
static void
test_owner_name(void **state)
{
	static const char t[] = "31/12/23, 9:41 - Me Myself: hi\n"
	    "31/12/23, 9:42 - Bob Example: hello\n";
	imf r;
	imp_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	o.owner_name = "Me Myself";
	o.default_cc = "44";
	assert_int_equal(imf_ctx(&r, "whatsapp", &o, IMF_DATA "contacts.csv"), 0);
	assert_int_equal(imp_whatsapp_txt(r.c, t, strlen(t), "Bob Example", NULL,
	    r.err, sizeof(r.err)), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(imf_str(&r, 0, "sender"), IMF_OWNER);
	assert_string_equal(imf_str(&r, 0, "direction"), "out");
	assert_string_equal(imf_str(&r, 1, "direction"), "in");
	imf_free(&r);
}

static void
test_dotted_utc(void **state)
{
	imf r;

	(void)state;
	assert_int_equal(wa_run(&r, WA "dotted/WhatsApp Chat with Bob Example.txt",
	    NULL, 0), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2023-12-31T21:41:00Z");
	assert_string_equal(imf_str(&r, 1, "sent_at"), "2024-01-01T00:01:00Z");
	assert_string_equal(imf_str(&r, 1, "direction"), "out");
	assert_string_equal(imf_str(&r, 1, "conversation"), "whatsapp:Bob Example");
	imf_free(&r);
}

/* A zip renamed by its owner: the one .txt in it is the chat, and its
 * name gives the conversation. */
static void
test_renamed_zip(void **state)
{
	imf r, txt;

	(void)state;
	assert_int_equal(wa_run(&r, WA "renamed-android-export.zip", NULL, 0), 0);
	assert_int_equal(wa_run(&txt, WA "dotted/WhatsApp Chat with Bob Example.txt",
	    NULL, 0), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(imf_str(&r, 0, "conversation"), "whatsapp:Bob Example");
	assert_int_equal(r.out_len, txt.out_len);
	assert_memory_equal(r.out, txt.out, r.out_len);
	imf_free(&txt);
	imf_free(&r);
}

static void
test_date_order(void **state)
{
	imf r;
	const char *p = WA "ambiguous/WhatsApp Chat with Bob Example.txt";

	(void)state;
	assert_int_equal(wa_run(&r, p, NULL, 0), -1);
	assert_string_equal(r.err, "date order is ambiguous (no day above 12 in "
	    "the file): give --date-order dmy or mdy");
	assert_int_equal(r.n, 0);
	imf_free(&r);
	assert_int_equal(wa_run(&r, p, NULL, IMP_DATE_DMY), 0);
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2024-02-01T10:00:00Z");
	imf_free(&r);
	assert_int_equal(wa_run(&r, p, NULL, IMP_DATE_MDY), 0);
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2024-01-02T10:00:00Z");
	imf_free(&r);
	/* the Android sample has 1/13/24: month first, so dmy contradicts it */
	assert_int_equal(wa_run(&r, ANDROID, NULL, IMP_DATE_DMY), -1);
	assert_string_equal(r.err, "--date-order dmy: the file has a month "
	    "above 12 in the second field");
	imf_free(&r);
}

/* Refusals from text in memory: exact messages, nothing emitted. */
static void
test_refusals(void **state)
{
	static const struct {
		const char *text;
		size_t len;            /* 0: strlen */
		const char *want;
	} t[] = {
		{ "Hello, this is not an export\n12/31/23, 9:41 PM - A: hi\n", 0,
		  "line 1: not a WhatsApp chat line (expected a date and time such "
		  "as \"31/12/2023, 21:41 - \" or \"[31/12/2023, 21:41:05] \")" },
		{ "", 0, "line 1: no message: not a WhatsApp chat export" },
		{ "\n\n", 0, "line 1: no message: not a WhatsApp chat export" },
		{ "31/12/23, 9:41 - Bob Example: a\n12/31/23, 9:41 - Bob Example: b\n", 0,
		  "line 2: dates in both day-first and month-first order: not one "
		  "export" },
		{ "31/12/23, 9:41 - Bob Example: a\nx\0y\n",
		  sizeof("31/12/23, 9:41 - Bob Example: a\nx\0y\n") - 1,
		  "line 2: NUL byte: not a WhatsApp chat export" },
	};
	size_t i;
	imf r;
	imp_opts o;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].text);

		memset(&o, 0, sizeof(o));
		o.owner = IMF_OWNER;
		o.default_cc = "44";
		assert_int_equal(imf_ctx(&r, "whatsapp", &o, IMF_DATA
		    "contacts.csv"), 0);
		assert_int_equal(imp_whatsapp_txt(r.c, t[i].text, len, "x", NULL,
		    r.err, sizeof(r.err)), -1);
		assert_string_equal(r.err, t[i].want);
		assert_int_equal(r.n, 0);
		imf_free(&r);
	}
	assert_int_equal(wa_run(&r, WA "malformed/WhatsApp Chat with Alice "
	    "Smith.txt", NULL, 0), -1);
	assert_string_equal(r.err, t[0].want);
	imf_free(&r);
	assert_int_equal(wa_run(&r, IMF_DATA "rsmf/dir/b-slack.zip", NULL, 0), -1);
	assert_string_equal(r.err, IMF_DATA "rsmf/dir/b-slack.zip: no _chat.txt or "
	    "\"WhatsApp Chat with <name>.txt\" in the zip");
	imf_free(&r);
	assert_int_equal(wa_run(&r, WA "malformed/notzip.zip", NULL, 0), -1);
	assert_string_equal(r.err, WA "malformed/notzip.zip: not a zip archive");
	imf_free(&r);
	assert_int_equal(wa_run(&r, WA "nonexistent.zip", NULL, 0), -1);
	assert_string_equal(r.err, "cannot open " WA "nonexistent.zip: No such "
	    "file or directory");
	imf_free(&r);
}

/* Messages with the same minute and sender in another chat, or a later
 * export with more messages: ids of the earlier ones do not move. */
static void
test_ids_stable_when_export_grows(void **state)
{
	static const char one[] = "31/12/23, 9:41 - Bob Example: a\n"
	    "31/12/23, 9:41 - Bob Example: b\n";
	static const char two[] = "31/12/23, 9:41 - Bob Example: a\n"
	    "31/12/23, 9:41 - Bob Example: b\n31/12/23, 9:41 - Bob Example: c\n";
	imf r1, r2;
	imp_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	o.default_cc = "44";
	assert_int_equal(imf_ctx(&r1, "whatsapp", &o, IMF_DATA "contacts.csv"), 0);
	assert_int_equal(imp_whatsapp_txt(r1.c, one, strlen(one), "Bob Example",
	    NULL, r1.err, sizeof(r1.err)), 0);
	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	o.default_cc = "44";
	assert_int_equal(imf_ctx(&r2, "whatsapp", &o, IMF_DATA "contacts.csv"), 0);
	assert_int_equal(imp_whatsapp_txt(r2.c, two, strlen(two), "Bob Example",
	    NULL, r2.err, sizeof(r2.err)), 0);
	assert_int_equal(r1.n, 2);
	assert_int_equal(r2.n, 3);
	assert_memory_equal(r1.out, r2.out, r1.out_len);
	imf_free(&r1);
	imf_free(&r2);
}

/* A line over --max-line loses its attachments' data, not the message;
 * one still over it is skipped. */
static void
test_max_line(void **state)
{
	imf r;
	imp_opts o;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		memset(&o, 0, sizeof(o));
		o.owner = IMF_OWNER;
		o.default_cc = "44";
		o.tz = "America/New_York";
		o.lim.line_max = i == 0 ? 320 : 250;
		assert_int_equal(imf_ctx(&r, "whatsapp", &o, IMF_DATA "contacts.csv"), 0);
		assert_int_equal(imp_whatsapp_file(r.c, ANDROID, r.err, sizeof(r.err)), 0);
		if (i == 0) {
			assert_int_equal(r.n, 7);
			assert_string_equal(imf_att_str(&r, 4, 0, "name"),
			    "IMG-20240101-WA0001.jpg");
			assert_string_equal(imf_att_str(&r, 4, 0, "data"), "");
			assert_int_equal(imp_reason_count(r.c,
			    "record over --max-line: attachments without data"), 1);
		} else {
			assert_int_equal(r.n, 6);
			assert_int_equal(imp_reason_count(r.c, "record over --max-line "
			    "(the gateway's max_line_bytes)"), 1);
		}
		imf_free(&r);
	}
}

/* Zip bounds: bytes of all entries, and entries. */
static void
test_zip_bounds(void **state)
{
	imf r;
	imp_opts o;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		memset(&o, 0, sizeof(o));
		o.owner = IMF_OWNER;
		o.default_cc = "44";
		if (i == 0)
			o.lim.archive_max = 100;
		else
			o.lim.entries_max = 1;
		assert_int_equal(imf_ctx(&r, "whatsapp", &o, IMF_DATA "contacts.csv"), 0);
		assert_int_equal(imp_whatsapp_file(r.c, IOSZIP, r.err, sizeof(r.err)),
		    -1);
		assert_string_equal(r.err, i == 0 ? "zip: entry 1: more than 100 bytes "
		    "in all" : "zip: more than 1 entries");
		assert_int_equal(r.n, 0);
		imf_free(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_android),
		cmocka_unit_test(test_ios_zip_group_dst),
		cmocka_unit_test(test_dotted_utc),
		cmocka_unit_test(test_owner_name),
		cmocka_unit_test(test_renamed_zip),
		cmocka_unit_test(test_date_order),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_ids_stable_when_export_grows),
		cmocka_unit_test(test_max_line),
		cmocka_unit_test(test_zip_bounds),
	};

	return cmocka_run_group_tests(tests, imf_setup, NULL);
}
