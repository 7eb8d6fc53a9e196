/* tests/unit/test_import_rsmf.c — agent/import/rsmf.c on
 * tests/data/import/rsmf/: a Slack channel as .rsmf (participants by
 * email, a "phone" custom field, account_id as E.164 and as a Slack id,
 * one unmappable; a join event; a reply; a deletion; emoji and Arabic;
 * timestamps with Z, with an offset and local across America/New_York's
 * autumn change; an attachment present, one missing, one
 * "../../etc/passwd"; an event without id, one in an unknown
 * conversation, one with a bad time), a directory with the reference
 * sample.rsmf and a bare rsmf.zip, and every refusal with its message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/import_fixture.h"

#define RS IMF_DATA "rsmf/"

static int
rs_run(imf *r, const char *path, const char *contacts)
{
	imp_opts o;

	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	o.default_cc = "1";
	o.tz = "America/New_York";
	if (imf_ctx(r, "rsmf", &o, contacts) != 0)
		return -1;
	r->rc = imp_rsmf_file(r->c, path, r->err, sizeof(r->err));
	return r->rc;
}

static void
test_slack(void **state)
{
	imf r, again;
	char b[512], want[160];

	(void)state;
	assert_int_equal(rs_run(&r, RS "slack.rsmf", NULL), 0);
	assert_int_equal(r.n, 6);
	assert_string_equal(imf_str(&r, 0, "conversation"), "rsmf:slack:C42");
	assert_string_equal(imf_str(&r, 0, "channel"), "other");
	assert_string_equal(imf_str(&r, 0, "sender"), "alice.smith@example.com");
	assert_string_equal(imf_rcpt(&r, 0, b, sizeof(b)),
	    IMF_OWNER ",+15550100002,slack:u024be7lh");
	assert_string_equal(imf_str(&r, 0, "body"),
	    "Contract attached \xf0\x9f\x93\x8e\nplease review");
	assert_string_equal(imf_att_str(&r, 0, 0, "name"), "Contract v2.pdf");
	assert_string_equal(imf_att_str(&r, 0, 0, "type"), "application/pdf");
	assert_string_equal(imf_att_str(&r, 0, 0, "data"), "JVBERi0xLjQgZmFrZQo=");
	snprintf(want, sizeof(want), "[reply to %s]\n\xd9\x85\xd8\xb1\xd8\xa7\xd8\xac"
	    "\xd8\xb9\xd8\xa9 \xd8\xba\xd8\xaf\xd9\x8b\xd8\xa7", imf_str(&r, 0, "id"));
	assert_string_equal(imf_str(&r, 1, "body"), want);
	assert_string_equal(imf_str(&r, 1, "sender"), "+15550100002");
	assert_string_equal(imf_str(&r, 1, "sent_at"), "2023-11-04T12:02:00.250Z");
	/* 01:30 EDT, then 01:10 EST */
	assert_string_equal(imf_str(&r, 2, "sent_at"), "2023-11-05T05:30:00Z");
	assert_string_equal(imf_str(&r, 2, "direction"), "out");
	assert_string_equal(imf_str(&r, 3, "sent_at"), "2023-11-05T06:10:00Z");
	assert_string_equal(imf_str(&r, 3, "sender"), "slack:u024be7lh");
	assert_string_equal(imf_str(&r, 3, "body"), "[deleted]\nsecond 01:10 (EST)");
	assert_string_equal(imf_att_str(&r, 4, 0, "name"), "chart.png");
	assert_string_equal(imf_att_str(&r, 4, 0, "data"), "");
	assert_null(imf_att(&r, 4, 1));
	assert_string_equal(imf_str(&r, 5, "body"), "no event id");
	assert_int_equal(imp_reason_count(r.c,
	    "event not a message (join, leave, disclaimer, history)"), 1);
	assert_int_equal(imp_reason_count(r.c, "participant not mappable (no "
	    "phone, email, account_id or --contacts entry)"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "event's conversation not in the manifest"), 1);
	assert_int_equal(imp_reason_count(r.c, "event without a valid timestamp"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "ambiguous local time (clock went back)"), 2);
	assert_int_equal(imp_reason_count(r.c,
	    "media missing (attachment without data)"), 1);
	assert_int_equal(imp_reason_count(r.c, "attachment name refused "
	    "(absolute, .. or control characters)"), 1);
	assert_true(imf_same_as(&r, RS "slack.expected.ndjson"));
	assert_int_equal(rs_run(&again, RS "slack.rsmf", NULL), 0);
	assert_int_equal(again.out_len, r.out_len);
	assert_memory_equal(again.out, r.out, r.out_len);
	imf_free(&again);
	imf_free(&r);
}

/* The reference sample (its one participant has a display name only:
 * --contacts maps it) and the bare zip, from a directory. */
static void
test_directory(void **state)
{
	imf r, one;

	(void)state;
	assert_int_equal(rs_run(&r, RS "dir", RS "sample-contacts.csv"), 0);
	assert_int_equal(r.n, 7);
	assert_string_equal(imf_str(&r, 0, "body"), "This is body text.");
	assert_string_equal(imf_str(&r, 0, "sender"), "+15550100001");
	assert_string_equal(imf_str(&r, 0, "conversation"), "rsmf:skype:1");
	/* no zone in the sample: America/New_York */
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2013-01-10T20:53:00Z");
	/* the zip's lines are the .rsmf's */
	assert_int_equal(rs_run(&one, RS "slack.rsmf", NULL), 0);
	assert_non_null(strstr(r.out, one.out));
	imf_free(&one);
	imf_free(&r);
	/* without the contacts the sample's participant cannot be mapped */
	assert_int_equal(rs_run(&r, RS "dir/a-sample.rsmf", NULL), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(imp_reason_count(r.c, "participant not mappable (no "
	    "phone, email, account_id or --contacts entry)"), 1);
	imf_free(&r);
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *file;
		const char *want;
	} t[] = {
		{ "nozip.rsmf", "file 1: no rsmf.zip attachment" },
		{ "notmime.rsmf", "file 1: not an RSMF message (no multipart/mixed "
		  "body)" },
		{ "badjson.rsmf", "file 1: rsmf_manifest.json line 1 column 33: not "
		  "valid JSON" },
		{ "nomanifest.rsmf", "file 1: no rsmf_manifest.json in rsmf.zip" },
		{ "v1.rsmf", "file 1: RSMF version not 2.x" },
		{ "nested.rsmf", "file 1: more than 32 multipart parts" },
	};
	size_t i;
	imf r;
	imp_opts o;
	static const unsigned char notzip[] = "PK\003\004 but not a zip";

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), RS "%s", t[i].file);
		assert_int_equal(rs_run(&r, path, NULL), -1);
		assert_string_equal(r.err, t[i].want);
		assert_int_equal(r.n, 0);
		imf_free(&r);
	}
	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	assert_int_equal(imf_ctx(&r, "rsmf", &o, NULL), 0);
	assert_int_equal(imp_rsmf_zip(r.c, notzip, sizeof(notzip) - 1, r.err,
	    sizeof(r.err)), -1);
	assert_non_null(strstr(r.err, "file 1: rsmf.zip: "));
	imf_free(&r);
	assert_int_equal(rs_run(&r, IMF_DATA "smsxml", NULL), -1);
	assert_string_equal(r.err, IMF_DATA "smsxml: no .rsmf, .zip or .json "
	    "file");
	imf_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slack),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, imf_setup, NULL);
}
