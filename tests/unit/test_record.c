/* tests/unit/test_record.c — gateway/record.c: line validation, reasons,
 * canonical form, timestamps, tokens.  Table-driven.  The split the
 * gateway's two processes use (rec_check without a key, rec_tokens from the
 * typed fields) gives exactly rec_parse's record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/channels.h"
#include "common/jtext.h"
#include "gateway/record.h"
#include "vault/codec.h"
#include "vault/mem.h"

static const unsigned char bik[VAULT_BIK_BYTES] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
};

#define DEV "phone-0001"

/* The fields of a valid record, in pieces so cases can drop or swap one. */
#define F_ID   "\"id\":\"msg-1\""
#define F_CH   "\"channel\":\"signal\""
#define F_CONV "\"conversation\":\"conv-9\""
#define F_DIR  "\"direction\":\"out\""
#define F_SND  "\"sender\":\"+15551230001\""
#define F_RCP  "\"recipients\":[\"+15551230002\",\"bob@example.com\"]"
#define F_AT   "\"sent_at\":\"2026-11-22T10:00:00Z\""
#define F_BODY "\"body\":\"hello\""
#define ALL_BUT_ID   F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP "," F_AT "," F_BODY
#define REC(extra)   "{" F_ID "," ALL_BUT_ID extra "}"
/* A record with field F replaced by REPL (REPL may be empty to drop it). */
#define WITHOUT_ID(r)    "{" ALL_BUT_ID r "}"

struct rcase {
	const char *name;
	const char *line;
	const char *reason;   /* NULL: valid */
};

static const struct rcase cases[] = {
	/* valid */
	{ "minimal", REC(""), NULL },
	{ "empty body", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  "," F_AT ",\"body\":\"\"}", NULL },
	{ "attachments", REC(",\"attachments\":[{\"name\":\"a.jpg\",\"type\":"
	  "\"image/jpeg\",\"data\":\"aGVsbG8=\"},{\"name\":\"b\",\"type\":\"x/y\","
	  "\"data\":\"\"}]"), NULL },
	{ "empty attachments", REC(",\"attachments\":[]"), NULL },
	{ "offset and fraction", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND
	  "," F_RCP ",\"sent_at\":\"2026-11-22T10:00:00.123456789+05:30\"," F_BODY "}",
	  NULL },
	{ "every channel: whatsapp", "{" F_ID ",\"channel\":\"whatsapp\"," F_CONV
	  "," F_DIR "," F_SND "," F_RCP "," F_AT "," F_BODY "}", NULL },
	{ "channel other, direction in", "{" F_ID ",\"channel\":\"other\"," F_CONV
	  ",\"direction\":\"in\"," F_SND "," F_RCP "," F_AT "," F_BODY "}", NULL },
	{ "whitespace around", "  \t" REC("") " \r", NULL },
	{ "handle participants", "{" F_ID "," F_CH "," F_CONV "," F_DIR
	  ",\"sender\":\"@Alice\",\"recipients\":[\"signal:abc\"]," F_AT "," F_BODY "}",
	  NULL },
	{ "leap year", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":\"2024-02-29T23:59:59Z\"," F_BODY "}", NULL },

	/* framing */
	{ "empty line", "", "empty line" },
	{ "blank line", "   \r", "empty line" },
	{ "not json", "hello", "not valid JSON" },
	{ "truncated", "{\"id\":\"x\"", "truncated JSON" },
	{ "trailing garbage", REC("") " x", "trailing data after the record" },
	{ "two objects", REC("") REC(""), "trailing data after the record" },
	{ "array", "[1,2]", "record must be a JSON object" },
	{ "scalar", "42", "record must be a JSON object" },
	{ "duplicate key", "{" F_ID "," F_ID "," ALL_BUT_ID "}", "duplicate key" },
	{ "too deep", "{\"id\":[[[[[[[[[1]]]]]]]]]}", "nesting too deep" },
	{ "deep inside string is fine", "{\"id\":\"[[[[[[[[[[[[\"," ALL_BUT_ID "}",
	  NULL },
	{ "invalid utf-8", "{\"id\":\"\xff\"," ALL_BUT_ID "}", "invalid UTF-8" },
	{ "overlong utf-8", "{" F_ID "," ALL_BUT_ID ",\"x\":\"\xc0\xaf\"}",
	  "invalid UTF-8" },
	{ "NUL escape", "{\"id\":\"a\\u0000b\"," ALL_BUT_ID "}",
	  "NUL character not allowed" },

	/* missing fields */
	{ "no id", WITHOUT_ID(""), "id: missing" },
	{ "no channel", "{" F_ID "," F_CONV "," F_DIR "," F_SND "," F_RCP "," F_AT
	  "," F_BODY "}", "channel: missing" },
	{ "no conversation", "{" F_ID "," F_CH "," F_DIR "," F_SND "," F_RCP "," F_AT
	  "," F_BODY "}", "conversation: missing" },
	{ "no direction", "{" F_ID "," F_CH "," F_CONV "," F_SND "," F_RCP "," F_AT
	  "," F_BODY "}", "direction: missing" },
	{ "no sender", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_RCP "," F_AT
	  "," F_BODY "}", "sender: missing" },
	{ "no recipients", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_AT
	  "," F_BODY "}", "recipients: missing" },
	{ "no sent_at", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  "," F_BODY "}", "sent_at: missing" },
	{ "no body", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  "," F_AT "}", "body: missing" },

	/* wrong types and values */
	{ "id number", "{\"id\":5," ALL_BUT_ID "}", "id: must be a string" },
	{ "id empty", "{\"id\":\"\"," ALL_BUT_ID "}", "id: must be 1..256 bytes" },
	{ "channel bad", "{" F_ID ",\"channel\":\"icq\"," F_CONV "," F_DIR "," F_SND
	  "," F_RCP "," F_AT "," F_BODY "}", "channel: unknown channel" },
	{ "channel case", "{" F_ID ",\"channel\":\"Signal\"," F_CONV "," F_DIR ","
	  F_SND "," F_RCP "," F_AT "," F_BODY "}", "channel: unknown channel" },
	{ "channel empty", "{" F_ID ",\"channel\":\"\"," F_CONV "," F_DIR "," F_SND
	  "," F_RCP "," F_AT "," F_BODY "}", "channel: unknown channel" },
	{ "every channel: voice", "{" F_ID ",\"channel\":\"voice\"," F_CONV "," F_DIR
	  "," F_SND "," F_RCP "," F_AT "," F_BODY "}", NULL },
	{ "channel null", "{" F_ID ",\"channel\":null," F_CONV "," F_DIR "," F_SND
	  "," F_RCP "," F_AT "," F_BODY "}", "channel: must be a string" },
	{ "conversation empty", "{" F_ID "," F_CH ",\"conversation\":\"\"," F_DIR
	  "," F_SND "," F_RCP "," F_AT "," F_BODY "}",
	  "conversation: must be 1..1024 bytes" },
	{ "direction bad", "{" F_ID "," F_CH "," F_CONV ",\"direction\":\"up\","
	  F_SND "," F_RCP "," F_AT "," F_BODY "}", "direction: must be in or out" },
	{ "direction bool", "{" F_ID "," F_CH "," F_CONV ",\"direction\":true,"
	  F_SND "," F_RCP "," F_AT "," F_BODY "}", "direction: must be a string" },
	{ "sender array", "{" F_ID "," F_CH "," F_CONV "," F_DIR ",\"sender\":[],"
	  F_RCP "," F_AT "," F_BODY "}", "sender: must be a string" },
	{ "sender bad phone", "{" F_ID "," F_CH "," F_CONV "," F_DIR
	  ",\"sender\":\"+1555\"," F_RCP "," F_AT "," F_BODY "}",
	  "sender: phone number must have 8 to 15 digits" },
	{ "sender empty", "{" F_ID "," F_CH "," F_CONV "," F_DIR ",\"sender\":\"\","
	  F_RCP "," F_AT "," F_BODY "}", "sender: empty value" },
	{ "recipients string", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND
	  ",\"recipients\":\"+15551230002\"," F_AT "," F_BODY "}",
	  "recipients: must be an array" },
	{ "recipients empty", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND
	  ",\"recipients\":[]," F_AT "," F_BODY "}",
	  "recipients: must hold 1..1000 entries" },
	{ "recipient number", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND
	  ",\"recipients\":[\"+15551230002\",7]," F_AT "," F_BODY "}",
	  "recipients[1]: must be a string" },
	{ "recipient bad email", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND
	  ",\"recipients\":[\"a@b@c\"]," F_AT "," F_BODY "}",
	  "recipients[0]: email address must contain exactly one '@'" },
	{ "recipient control char", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND
	  ",\"recipients\":[\"bob\\u0001\"]," F_AT "," F_BODY "}",
	  "recipients[0]: value contains a control character" },
	{ "body number", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  "," F_AT ",\"body\":1}", "body: must be a string" },
	{ "unknown field", REC(",\"extra\":1"), "unknown field" },
	{ "device is not the client's", REC(",\"device\":\"x\""), "unknown field" },

	/* timestamps */
	{ "sent_at number", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":1700000000," F_BODY "}", "sent_at: must be a string" },
	{ "feb 30", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":\"2026-02-30T00:00:00Z\"," F_BODY "}",
	  "sent_at: date or time out of range" },
	{ "feb 29 non-leap", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND ","
	  F_RCP ",\"sent_at\":\"2023-02-29T00:00:00Z\"," F_BODY "}",
	  "sent_at: date or time out of range" },
	{ "hour 24", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":\"2026-01-01T24:00:00Z\"," F_BODY "}",
	  "sent_at: date or time out of range" },
	{ "month 13", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":\"2026-13-01T00:00:00Z\"," F_BODY "}",
	  "sent_at: date or time out of range" },
	{ "no zone", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":\"2026-11-22T10:00:00\"," F_BODY "}",
	  "sent_at: not an RFC 3339 timestamp" },
	{ "garbage time", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":\"yesterday\"," F_BODY "}",
	  "sent_at: not an RFC 3339 timestamp" },
	{ "date only", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":\"2026-11-22\"," F_BODY "}",
	  "sent_at: not an RFC 3339 timestamp" },
	{ "empty fraction", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND ","
	  F_RCP ",\"sent_at\":\"2026-11-22T10:00:00.Z\"," F_BODY "}",
	  "sent_at: not an RFC 3339 timestamp" },
	{ "short offset", "{" F_ID "," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
	  ",\"sent_at\":\"2026-11-22T10:00:00+0100\"," F_BODY "}",
	  "sent_at: not an RFC 3339 timestamp" },

	/* attachments */
	{ "attachments object", REC(",\"attachments\":{}"),
	  "attachments: must be an array" },
	{ "attachment string", REC(",\"attachments\":[\"x\"]"),
	  "attachments[0]: must be an object" },
	{ "attachment no data", REC(",\"attachments\":[{\"name\":\"a\",\"type\":\"t\"}]"),
	  "attachments[0].data: missing" },
	{ "attachment no name", REC(",\"attachments\":[{\"type\":\"t\",\"data\":\"\"}]"),
	  "attachments[0].name: missing" },
	{ "attachment extra", REC(",\"attachments\":[{\"name\":\"a\",\"type\":\"t\","
	  "\"data\":\"\",\"path\":\"/etc\"}]"), "attachments[0]: unknown field" },
	{ "bad base64 char", REC(",\"attachments\":[{\"name\":\"a\",\"type\":\"t\","
	  "\"data\":\"aGVs*G8=\"}]"), "attachments[0].data: not valid base64" },
	{ "bad base64 length", REC(",\"attachments\":[{\"name\":\"a\",\"type\":\"t\","
	  "\"data\":\"aGVsbG8\"}]"), "attachments[0].data: not valid base64" },
	{ "base64 inner padding", REC(",\"attachments\":[{\"name\":\"a\",\"type\":"
	  "\"t\",\"data\":\"aA==aGVs\"}]"), "attachments[0].data: not valid base64" },
	{ "base64 trailing bits", REC(",\"attachments\":[{\"name\":\"a\",\"type\":"
	  "\"t\",\"data\":\"aB==\"}]"), "attachments[0].data: not valid base64" },
	{ "second attachment bad", REC(",\"attachments\":[{\"name\":\"a\",\"type\":"
	  "\"t\",\"data\":\"\"},{\"name\":\"a\",\"type\":5,\"data\":\"\"}]"),
	  "attachments[1].type: must be a string" },
};

static void
test_table(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rec r;
		char reason[REC_REASON_MAX];
		int rc;

		rc = rec_parse(&r, cases[i].line, strlen(cases[i].line), bik, DEV,
		    strlen(DEV), reason, sizeof(reason));
		if (cases[i].reason == NULL) {
			if (rc != 0 || r.plaintext == NULL || r.channel == NULL) {
				print_error("%s: rejected: %s\n", cases[i].name, reason);
				bad++;
			}
		} else if (rc == 0) {
			print_error("%s: accepted\n", cases[i].name);
			bad++;
		} else if (strcmp(reason, cases[i].reason) != 0 ||
		    r.plaintext != NULL || r.participant_tokens != NULL) {
			print_error("%s: reason \"%s\", expected \"%s\"\n",
			    cases[i].name, reason, cases[i].reason);
			bad++;
		}
		rec_clear(&r);
	}
	if (bad > 0)
		fail_msg("%zu of %zu cases failed", bad,
		    sizeof(cases) / sizeof(cases[0]));
}

static void
test_reason_never_echoes(void **state)
{
	static const char *lines[] = {
		"{\"id\":\"SECRET-ID\",\"channel\":\"SECRETCH\"}",
		"{\"id\":\"x\"," F_CH "," F_CONV "," F_DIR ",\"sender\":\"+SECRET\","
		F_RCP "," F_AT "," F_BODY "}",
		"{\"id\":\"x\"," F_CH "," F_CONV "," F_DIR "," F_SND "," F_RCP
		",\"sent_at\":\"SECRET\"," F_BODY "}",
		"{\"SECRET\":1}",
		"SECRET",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		rec r;
		char reason[REC_REASON_MAX];

		assert_int_equal(rec_parse(&r, lines[i], strlen(lines[i]), bik,
		    DEV, strlen(DEV), reason, sizeof(reason)), -1);
		assert_null(strstr(reason, "SECRET"));
		rec_clear(&r);
	}
}

static void
test_canonical_stable(void **state)
{
	const char *a = REC("");
	const char *b = "{ " F_BODY " , " F_AT "," F_RCP "," F_SND "," F_DIR ","
	    F_CONV "," F_CH "," F_ID " }";
	rec ra, rb;
	char reason[REC_REASON_MAX];

	(void)state;
	assert_int_equal(rec_parse(&ra, a, strlen(a), bik, DEV, strlen(DEV),
	    reason, sizeof(reason)), 0);
	assert_int_equal(rec_parse(&rb, b, strlen(b), bik, DEV, strlen(DEV),
	    reason, sizeof(reason)), 0);
	assert_int_equal(ra.plaintext_len, rb.plaintext_len);
	assert_memory_equal(ra.plaintext, rb.plaintext, ra.plaintext_len);
	assert_memory_equal(ra.dedup_token, rb.dedup_token, VAULT_TOKEN_BYTES);
	/* The exact canonical text: sorted keys, compact, device added. */
	assert_string_equal((const char *)ra.plaintext,
	    "{\"body\":\"hello\",\"channel\":\"signal\",\"conversation\":\"conv-9\","
	    "\"device\":\"" DEV "\",\"direction\":\"out\",\"id\":\"msg-1\","
	    "\"recipients\":[\"+15551230002\",\"bob@example.com\"],"
	    "\"sender\":\"+15551230001\",\"sent_at\":\"2026-11-22T10:00:00Z\"}");
	assert_string_equal(ra.id, "msg-1");
	assert_string_equal(ra.channel, "signal");
	assert_int_equal(ra.sent_at_us, 1795341600LL * 1000000LL);
	assert_int_equal(ra.n_participants, 3);
	rec_clear(&ra);
	rec_clear(&rb);
	assert_null(ra.plaintext);
}

static void
test_tokens(void **state)
{
	const char *a = REC("");
	/* Same participants in another spelling, repeated. */
	const char *b = "{" F_ID "," F_CH "," F_CONV "," F_DIR
	    ",\"sender\":\"+1 (555) 123-0001\",\"recipients\":[\"0015551230002\","
	    "\"BOB@example.com\",\"+15551230001\"]," F_AT "," F_BODY "}";
	const char *c = "{\"id\":\"msg-2\"," ALL_BUT_ID "}";
	static const unsigned char bik2[VAULT_BIK_BYTES] = { 9 };
	rec ra, ra2, rb, rc, rk;
	char reason[REC_REASON_MAX];

	(void)state;
	assert_int_equal(rec_parse(&ra, a, strlen(a), bik, DEV, strlen(DEV),
	    reason, sizeof(reason)), 0);
	assert_int_equal(rec_parse(&ra2, a, strlen(a), bik, "phone-0002", 10,
	    reason, sizeof(reason)), 0);
	assert_int_equal(rec_parse(&rb, b, strlen(b), bik, DEV, strlen(DEV),
	    reason, sizeof(reason)), 0);
	assert_int_equal(rec_parse(&rc, c, strlen(c), bik, DEV, strlen(DEV),
	    reason, sizeof(reason)), 0);
	assert_int_equal(rec_parse(&rk, a, strlen(a), bik2, DEV, strlen(DEV),
	    reason, sizeof(reason)), 0);
	/* dedup token depends on the device and the id, and on the key */
	assert_memory_not_equal(ra.dedup_token, ra2.dedup_token, VAULT_TOKEN_BYTES);
	assert_memory_not_equal(ra.dedup_token, rc.dedup_token, VAULT_TOKEN_BYTES);
	assert_memory_not_equal(ra.dedup_token, rk.dedup_token, VAULT_TOKEN_BYTES);
	assert_memory_equal(ra.conversation_token, ra2.conversation_token,
	    VAULT_TOKEN_BYTES);
	/* participants normalise, dedupe and sort to the same set */
	assert_int_equal(rb.n_participants, 3);
	assert_memory_equal(ra.participant_tokens, rb.participant_tokens,
	    3 * VAULT_TOKEN_BYTES);
	assert_memory_not_equal(ra.participant_tokens, rk.participant_tokens,
	    VAULT_TOKEN_BYTES);
	/* the device is part of the sealed plaintext */
	assert_int_equal(ra.plaintext_len, ra2.plaintext_len);
	assert_memory_not_equal(ra.plaintext, ra2.plaintext, ra.plaintext_len);
	rec_clear(&ra);
	rec_clear(&ra2);
	rec_clear(&rb);
	rec_clear(&rc);
	rec_clear(&rk);
}

static void
test_id_echo(void **state)
{
	const char *bad = "{\"id\":\"m-7\"," F_CH "," F_CONV ",\"direction\":\"x\","
	    F_SND "," F_RCP "," F_AT "," F_BODY "}";
	const char *nonprint = "{\"id\":\"m\\u00e9\"," ALL_BUT_ID "}";
	rec r;
	char reason[REC_REASON_MAX];

	(void)state;
	assert_int_equal(rec_parse(&r, bad, strlen(bad), bik, DEV, strlen(DEV),
	    reason, sizeof(reason)), -1);
	assert_string_equal(r.id, "m-7");
	rec_clear(&r);
	assert_int_equal(rec_parse(&r, nonprint, strlen(nonprint), bik, DEV,
	    strlen(DEV), reason, sizeof(reason)), 0);
	assert_string_equal(r.id, "");
	rec_clear(&r);
}

static void
test_limits(void **state)
{
	char *line;
	size_t cap = 64 * 1024, n, i;
	rec r;
	char reason[REC_REASON_MAX];

	(void)state;
	line = malloc(cap);
	assert_non_null(line);
	/* id of 256 bytes ok, 257 not */
	for (i = 256; i <= 257; i++) {
		n = (size_t)snprintf(line, cap, "{\"id\":\"%0*d\"," ALL_BUT_ID "}",
		    (int)i, 0);
		assert_int_equal(rec_parse(&r, line, n, bik, DEV, strlen(DEV),
		    reason, sizeof(reason)), i == 256 ? 0 : -1);
		if (i == 257)
			assert_string_equal(reason, "id: must be 1..256 bytes");
		rec_clear(&r);
	}
	/* 1000 recipients ok, 1001 not */
	for (i = 1000; i <= 1001; i++) {
		size_t k;

		n = (size_t)snprintf(line, cap, "{" F_ID "," F_CH "," F_CONV ","
		    F_DIR "," F_SND "," F_AT "," F_BODY ",\"recipients\":[");
		for (k = 0; k < i; k++)
			n += (size_t)snprintf(line + n, cap - n, "%s\"+1555%07zu\"",
			    k ? "," : "", k);
		n += (size_t)snprintf(line + n, cap - n, "]}");
		assert_int_equal(rec_parse(&r, line, n, bik, DEV, strlen(DEV),
		    reason, sizeof(reason)), i == 1000 ? 0 : -1);
		if (i == 1000)
			assert_int_equal(r.n_participants, 1001);
		else
			assert_string_equal(reason,
			    "recipients: must hold 1..1000 entries");
		rec_clear(&r);
	}
	/* a large attachment decodes in chunks: 10000 chars ok, 10001 not */
	for (i = 10000; i <= 10001; i++) {
		n = (size_t)snprintf(line, cap, "{" F_ID "," ALL_BUT_ID
		    ",\"attachments\":[{\"name\":\"a\",\"type\":\"t\",\"data\":\"");
		memset(line + n, 'A', i - 2);
		n += i - 2;
		memcpy(line + n, "A=\"}]}", 6);
		n += 6;
		assert_int_equal(rec_parse(&r, line, n, bik, DEV, strlen(DEV),
		    reason, sizeof(reason)), i == 10000 ? 0 : -1);
		if (i == 10001)
			assert_string_equal(reason,
			    "attachments[0].data: not valid base64");
		rec_clear(&r);
	}
	free(line);
}

struct tcase {
	const char *s;
	long long us;         /* expected when ok */
	int ok;
};

static void
test_time(void **state)
{
	static const struct tcase t[] = {
		{ "1970-01-01T00:00:00Z", 0, 1 },
		{ "1970-01-01T00:00:00.000001Z", 1, 1 },
		{ "1970-01-01T01:00:00+01:00", 0, 1 },
		{ "1969-12-31T23:00:00-01:00", 0, 1 },
		{ "2000-03-01T00:00:00z", 951868800000000LL, 1 },
		{ "2026-11-22t10:00:00.5Z", 1795341600500000LL, 1 },
		{ "2026-11-22T10:00:00.1234567Z", 1795341600123456LL, 1 },
		{ "2016-12-31T23:59:60Z", 1483228800000000LL, 1 },
		{ "0001-01-01T00:00:00Z", -62135596800000000LL, 1 },
		{ "9999-12-31T23:59:59Z", 253402300799000000LL, 1 },
		{ "0000-01-01T00:00:00Z", 0, 0 },
		{ "2026-04-31T00:00:00Z", 0, 0 },
		{ "2026-11-22T10:60:00Z", 0, 0 },
		{ "2026-11-22T10:00:61Z", 0, 0 },
		{ "2026-11-22T10:00:00+24:00", 0, 0 },
		{ "2026-11-22T10:00:00+01:60", 0, 0 },
		{ "2026-11-22 10:00:00Z", 0, 0 },
		{ "2026-11-22T10:00Z", 0, 0 },
		{ "2026-11-22T10:00:00ZZ", 0, 0 },
		{ "2026-11-22T10:00:00+01:00 ", 0, 0 },
		{ "+2026-11-22T10:00:00Z", 0, 0 },
		{ "2026-1-22T10:00:00Z", 0, 0 },
		{ "", 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long long us = -1;
		const char *why = NULL;
		int rc = rec_parse_time(t[i].s, strlen(t[i].s), &us, &why);

		if (t[i].ok) {
			if (rc != 0)
				fail_msg("%s: rejected (%s)", t[i].s, why);
			if (us != t[i].us)
				fail_msg("%s: %lld, expected %lld", t[i].s, us, t[i].us);
		} else if (rc == 0) {
			fail_msg("%s: accepted", t[i].s);
		}
	}
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} u[] = {
		{ "plain", 1 }, { "caf\xc3\xa9", 1 }, { "\xe2\x82\xac", 1 },
		{ "\xf0\x9f\x98\x80", 1 }, { "\xf4\x8f\xbf\xbf", 1 },
		{ "\xc3", 0 }, { "\xc0\x80", 0 }, { "\xe0\x80\x80", 0 },
		{ "\xed\xa0\x80", 0 }, { "\xf4\x90\x80\x80", 0 }, { "\xff", 0 },
		{ "\x80", 0 }, { "\xe2\x82", 0 }, { "\xf0\x80\x80\x80", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (jtext_utf8_valid((const unsigned char *)u[i].s,
		    strlen(u[i].s)) != u[i].ok)
			fail_msg("utf8 case %zu", i);
	/* Long ASCII runs (checked a word at a time) with a bad or good
	 * multi-byte sequence at every offset around the word boundaries. */
	for (i = 0; i < 40; i++) {
		unsigned char buf[64];

		memset(buf, 'a', sizeof(buf));
		buf[i] = 0xff;
		if (jtext_utf8_valid(buf, sizeof(buf)))
			fail_msg("0xff at %zu accepted", i);
		memset(buf, 'a', sizeof(buf));
		buf[i] = 0xc3;
		buf[i + 1] = 0xa9;
		if (!jtext_utf8_valid(buf, sizeof(buf)))
			fail_msg("valid 2-byte sequence at %zu refused", i);
		if (jtext_utf8_valid(buf, i + 1))
			fail_msg("truncated sequence at %zu accepted", i);
	}
}

static void
test_base64(void **state)
{
	static const struct {
		const char *s;
		int ok;
		size_t len;
	} b[] = {
		{ "", 1, 0 }, { "aGVsbG8=", 1, 5 }, { "aGVsbA==", 1, 4 },
		{ "aGVs", 1, 3 }, { "aGVsbG8", 0, 0 }, { "aGVsbG8==", 0, 0 },
		{ "aGV sbG8=", 0, 0 }, { "aGVsbG9=", 0, 0 }, { "====", 0, 0 },
		{ "aGVsbG8-", 0, 0 }, { "aA==aA==", 0, 0 },
	};
	char *big;
	size_t i, len, n = 3 * 4096 + 8;

	(void)state;
	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		int rc = vault_base64_check(b[i].s, strlen(b[i].s), &len);

		if ((rc == 0) != b[i].ok)
			fail_msg("base64 case %zu", i);
		if (rc == 0)
			assert_int_equal(len, b[i].len);
	}
	/* Spanning several chunks; padding only valid at the very end. */
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'A', n);
	assert_int_equal(vault_base64_check(big, n, &len), 0);
	assert_int_equal(len, n / 4 * 3);
	big[n - 1] = '=';
	big[n - 2] = '=';
	assert_int_equal(vault_base64_check(big, n, &len), 0);
	assert_int_equal(len, n / 4 * 3 - 2);
	big[4094] = '=';
	big[4095] = '=';      /* end of the first chunk */
	assert_int_equal(vault_base64_check(big, n, &len), -1);
	free(big);
}

static int
setup(void **state)
{
	(void)state;
	rec_init();
	return vault_init();
}

static void
test_split(void **state)
{
	const char *a = "{" F_ID "," F_CH "," F_CONV "," F_DIR ","
	    "\"sender\":\" 0044 (0)20 7946 0958 \",\"recipients\":"
	    "[\"Bob@Example.COM\",\"@Alice\",\"bob@example.com\"],"
	    F_AT "," F_BODY "}";
	const char *want[] = { "+442079460958", "bob@example.com", "@alice",
	    "bob@example.com" };
	const unsigned char *p;
	rec_checked c;
	rec ra, rb;
	char reason[REC_REASON_MAX];
	uint16_t n16;
	size_t i;

	(void)state;
	assert_int_equal(rec_check(&c, a, strlen(a), DEV, strlen(DEV), reason,
	    sizeof(reason)), 0);
	assert_string_equal(channels_name(c.f.channel), "signal");
	assert_int_equal(c.f.id_len, 5);
	assert_memory_equal(c.f.id, "msg-1", 5);
	assert_int_equal(c.f.conversation_len, 6);
	assert_memory_equal(c.f.conversation, "conv-9", 6);
	assert_int_equal(c.f.sent_at_us, 1795341600LL * 1000000LL);
	/* normalised, sender first, recipients in order, duplicates kept */
	assert_int_equal(c.f.n_participants, 4);
	for (i = 0, p = c.f.participants; i < 4; i++) {
		memcpy(&n16, p, 2);
		assert_int_equal(n16, strlen(want[i]));
		assert_memory_equal(p + 2, want[i], n16);
		p += 2 + n16;
	}
	assert_int_equal((size_t)(p - c.f.participants), c.f.participants_len);
	assert_int_equal(rec_tokens(&ra, &c.f, bik, DEV, strlen(DEV), reason,
	    sizeof(reason)), 0);
	assert_int_equal(rec_parse(&rb, a, strlen(a), bik, DEV, strlen(DEV),
	    reason, sizeof(reason)), 0);
	assert_int_equal(ra.plaintext_len, c.f.plaintext_len);
	assert_memory_equal(ra.plaintext, c.f.plaintext, ra.plaintext_len);
	assert_int_equal(ra.plaintext_len, rb.plaintext_len);
	assert_memory_equal(ra.plaintext, rb.plaintext, ra.plaintext_len);
	assert_memory_equal(ra.dedup_token, rb.dedup_token, VAULT_TOKEN_BYTES);
	assert_memory_equal(ra.conversation_token, rb.conversation_token,
	    VAULT_TOKEN_BYTES);
	assert_int_equal(ra.n_participants, 3);
	assert_int_equal(rb.n_participants, 3);
	assert_memory_equal(ra.participant_tokens, rb.participant_tokens,
	    3 * VAULT_TOKEN_BYTES);
	assert_string_equal(ra.channel, "signal");
	assert_string_equal(ra.id, "msg-1");
	rec_clear(&rb);
	/* the token step's own refusals: no key, a participant out of bounds */
	assert_int_equal(rec_tokens(&rb, &c.f, NULL, DEV, strlen(DEV), reason,
	    sizeof(reason)), -1);
	assert_string_equal(reason, "id: missing blind-index key");
	assert_string_equal(rb.id, "msg-1");
	assert_null(rb.plaintext);
	{
		unsigned char bad[4] = { 0, 0, 'x', 'y' };
		rec_fields f = c.f;

		f.participants = bad;
		f.participants_len = sizeof(bad);
		f.n_participants = 1;
		assert_int_equal(rec_tokens(&rb, &f, bik, DEV, strlen(DEV),
		    reason, sizeof(reason)), -1);
		assert_string_equal(reason,
		    "sender: normalised participant must be 1..256 bytes");
		assert_null(rb.participant_tokens);
	}
	rec_clear(&ra);
	rec_checked_clear(&c);
	assert_null(c.mem);
	assert_null(c.dump);
	/* a rejection: the echo id survives, nothing else */
	a = "{" F_ID ",\"channel\":\"fax\"}";
	assert_int_equal(rec_check(&c, a, strlen(a), DEV, strlen(DEV), reason,
	    sizeof(reason)), -1);
	assert_string_equal(reason, "channel: unknown channel");
	assert_string_equal(c.id, "msg-1");
	assert_null(c.mem);
	assert_null(c.f.plaintext);
	/* the dedup token's device check, without a key */
	a = REC("");
	assert_int_equal(rec_check(&c, a, strlen(a), "", 0, reason,
	    sizeof(reason)), -1);
	assert_string_equal(reason, "id: device id is empty");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_reason_never_echoes),
		cmocka_unit_test(test_canonical_stable),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_id_echo),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
