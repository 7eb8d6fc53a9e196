/* tests/unit/test_batch.c — gateway/batch.c: the validated lines the
 * network process sends the sealer.
 *
 * The encoder: line splitting (a last line without '\n', "\r\n", empty
 * lines), one entry per line with rec_check's verdict and fields, too-large
 * lines, a request over max_records sent as a header only, a body over the
 * limit refused.  The decoder: what the encoder builds comes back field
 * for field; then every refusal of a hostile payload, each with its exact
 * message (the sealer logs it and exits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/channels.h"
#include "gateway/batch.h"
#include "gateway/record.h"

#define DEV "phone-1"
#define GOOD(id) "{\"id\":\"" id "\",\"channel\":\"sms\",\"conversation\":" \
    "\"c-1\",\"direction\":\"in\",\"sender\":\"+1 555 123 0001\"," \
    "\"recipients\":[\"Bob@Example.com\"],\"sent_at\":" \
    "\"2026-01-01T00:00:00Z\",\"body\":\"hi\"}"

static const batch_limits lim = { 4096, 1024, 10 };

/* decode a copy of p[0..n): -1 and exactly want */
static void
refused(const unsigned char *p, size_t n, const char *want)
{
	unsigned char *c = malloc(n > 0 ? n : 1);
	char err[160] = "";
	batch b;

	assert_non_null(c);
	memcpy(c, p, n);
	if (batch_decode(&b, c, n, &lim, err, sizeof(err)) != -1)
		fail_msg("accepted, want \"%s\"", want);
	if (strcmp(err, want) != 0)
		fail_msg("\"%s\", want \"%s\"", err, want);
	assert_null(b.buf);
	assert_null(b.lines);
	assert_int_equal(b.nlines, 0);
}

static void
accepted(const unsigned char *p, size_t n, batch *b)
{
	unsigned char *c = malloc(n);
	char err[160] = "";

	assert_non_null(c);
	memcpy(c, p, n);
	if (batch_decode(b, c, n, &lim, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
}

static size_t
put_hdr(unsigned char *p, uint64_t body, uint32_t n)
{
	memcpy(p, &body, 8);
	memcpy(p + 8, &n, 4);
	return BATCH_HDR_BYTES;
}

/* An accepted entry: id "m1", conversation "c", participants "a" and
 * "bb", plaintext "{}"; the caller changes a field afterwards. */
#define ACC_LEN (BATCH_ACCEPTED_FIXED + 2 + 1 + (3 + 4) + 2)
static size_t
put_acc(unsigned char *p)
{
	uint16_t idl = 2, cl = 1, np = 2, one = 1, two = 2;
	uint32_t pl = 7, tl = 2;
	int64_t at = 1767225600LL * 1000000LL, cs = 0;
	unsigned char *q = p + BATCH_ACCEPTED_FIXED;

	p[0] = BATCH_ACCEPTED;
	p[1] = 4;
	memcpy(p + 2, &idl, 2);
	memcpy(p + 4, &cl, 2);
	memcpy(p + 6, &np, 2);
	memcpy(p + 8, &pl, 4);
	memcpy(p + 12, &tl, 4);
	memcpy(p + 16, &at, 8);
	memcpy(p + 24, &cs, 8);
	memcpy(q, "m1c", 3);
	memcpy(q + 3, &one, 2);
	q[5] = 'a';
	memcpy(q + 6, &two, 2);
	memcpy(q + 8, "bb", 2);
	memcpy(q + 10, "{}", 2);
	return ACC_LEN;
}

static void
test_build(void **state)
{
	static const char body[] =
	    GOOD("m1") "\n"
	    "{\"id\":\"m2\",\"channel\":\"fax\"}\r\n"
	    "\n"
	    "{\"id\":\"m3\",\"body\":\"" /* 1 KiB + : too large */
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\"}\n"
	    "{\"id\":\"\\u00e9\",\"channel\":1}\n"
	    GOOD("m5");
	unsigned char *enc = NULL;
	char err[160], reason[REC_REASON_MAX];
	size_t elen = 0;
	rec_checked c;
	batch b;

	(void)state;
	assert_int_equal(batch_build(body, sizeof(body) - 1, DEV, strlen(DEV),
	    &lim, &enc, &elen, err, sizeof(err)), 0);
	assert_true(elen <= batch_max(&lim));
	assert_int_equal(batch_decode(&b, enc, elen, &lim, err, sizeof(err)), 0);
	assert_int_equal(b.body_bytes, sizeof(body) - 1);
	assert_int_equal(b.nlines, 6);
	/* line 1 and 6: accepted, the fields rec_check gives */
	assert_int_equal(b.lines[0].kind, BATCH_ACCEPTED);
	assert_int_equal(rec_check(&c, GOOD("m1"), strlen(GOOD("m1")), DEV,
	    strlen(DEV), reason, sizeof(reason)), 0);
	assert_int_equal(b.lines[0].f.channel, c.f.channel);
	assert_string_equal(channels_name(b.lines[0].f.channel), "sms");
	assert_int_equal(b.lines[0].f.sent_at_us, c.f.sent_at_us);
	assert_int_equal(b.lines[0].f.id_len, 2);
	assert_memory_equal(b.lines[0].f.id, "m1", 2);
	assert_int_equal(b.lines[0].f.conversation_len, 3);
	assert_memory_equal(b.lines[0].f.conversation, "c-1", 3);
	assert_int_equal(b.lines[0].f.n_participants, 2);
	assert_int_equal(b.lines[0].f.participants_len, c.f.participants_len);
	assert_memory_equal(b.lines[0].f.participants, c.f.participants,
	    c.f.participants_len);
	assert_memory_equal(b.lines[0].f.participants, "\x0c\0+15551230001"
	    "\x0f\0bob@example.com", c.f.participants_len);
	assert_int_equal(b.lines[0].f.plaintext_len, c.f.plaintext_len);
	assert_memory_equal(b.lines[0].f.plaintext, c.f.plaintext,
	    c.f.plaintext_len);
	rec_checked_clear(&c);
	assert_int_equal(b.lines[5].kind, BATCH_ACCEPTED);
	assert_memory_equal(b.lines[5].f.id, "m5", 2);
	/* line 2: rejected with its reason and its id ("\r" dropped) */
	assert_int_equal(b.lines[1].kind, BATCH_REJECTED);
	assert_int_equal(b.lines[1].id_len, 2);
	assert_memory_equal(b.lines[1].id, "m2", 2);
	assert_int_equal(b.lines[1].reason_len, strlen("channel: unknown channel"));
	assert_memory_equal(b.lines[1].reason, "channel: unknown channel",
	    b.lines[1].reason_len);
	/* line 3: empty; line 4: too large; line 5: an id not to echo */
	assert_int_equal(b.lines[2].kind, BATCH_REJECTED);
	assert_int_equal(b.lines[2].id_len, 0);
	assert_memory_equal(b.lines[2].reason, "empty line", 10);
	assert_int_equal(b.lines[3].kind, BATCH_TOO_LARGE);
	assert_int_equal(b.lines[4].kind, BATCH_REJECTED);
	assert_int_equal(b.lines[4].id_len, 0);
	assert_memory_equal(b.lines[4].reason, "channel: must be a string",
	    b.lines[4].reason_len);
	batch_free(&b);
	assert_null(b.buf);
}

static void
test_build_limits(void **state)
{
	const batch_limits two = { 4096, 1024, 2 };
	unsigned char *enc = NULL;
	char err[160];
	size_t elen = 0;
	batch b;

	(void)state;
	/* empty body: a header, no lines */
	assert_int_equal(batch_build(NULL, 0, DEV, strlen(DEV), &lim, &enc,
	    &elen, err, sizeof(err)), 0);
	assert_int_equal(elen, BATCH_HDR_BYTES);
	assert_int_equal(batch_decode(&b, enc, elen, &lim, err, sizeof(err)), 0);
	assert_int_equal(b.nlines, 0);
	assert_null(b.lines);
	batch_free(&b);
	/* over max_records: counted, not validated, sent as a header only */
	assert_int_equal(batch_build("a\nb\nc", 5, DEV, strlen(DEV), &two,
	    &enc, &elen, err, sizeof(err)), 0);
	assert_int_equal(elen, BATCH_HDR_BYTES);
	assert_int_equal(batch_decode(&b, enc, elen, &two, err, sizeof(err)), 0);
	assert_int_equal(b.nlines, 3);
	assert_int_equal(b.body_bytes, 5);
	assert_null(b.lines);
	batch_free(&b);
	/* at max_records: each line an entry */
	assert_int_equal(batch_build("a\nb\n", 4, DEV, strlen(DEV), &two,
	    &enc, &elen, err, sizeof(err)), 0);
	assert_int_equal(batch_decode(&b, enc, elen, &two, err, sizeof(err)), 0);
	assert_int_equal(b.nlines, 2);
	assert_int_equal(b.lines[1].kind, BATCH_REJECTED);
	batch_free(&b);
	/* a body over the limit (the transport's check came first) */
	{
		const batch_limits small = { 2, 2, 2 };

		assert_int_equal(batch_build("abc", 3, DEV, strlen(DEV), &small,
		    &enc, &elen, err, sizeof(err)), -1);
		assert_string_equal(err, "a body of 3 bytes over the limit");
		assert_null(enc);
	}
}

static void
test_decode_good(void **state)
{
	unsigned char p[256];
	size_t n = put_hdr(p, 100, 3);
	batch b;

	(void)state;
	n += put_acc(p + n);
	p[n++] = BATCH_TOO_LARGE;
	p[n++] = 0;
	p[n++] = 0;
	p[n++] = 0;
	p[n++] = BATCH_REJECTED;
	p[n++] = 3;
	p[n++] = 1;
	p[n++] = 0;
	memcpy(p + n, "xwhy", 4);
	n += 4;
	accepted(p, n, &b);
	assert_int_equal(b.nlines, 3);
	assert_int_equal(b.lines[0].kind, BATCH_ACCEPTED);
	assert_string_equal(channels_name(b.lines[0].f.channel), "sms");
	assert_int_equal(b.lines[0].f.n_participants, 2);
	assert_int_equal(b.lines[0].f.plaintext_len, 2);
	assert_memory_equal(b.lines[0].f.plaintext, "{}", 2);
	assert_int_equal(b.lines[1].kind, BATCH_TOO_LARGE);
	assert_int_equal(b.lines[2].kind, BATCH_REJECTED);
	assert_memory_equal(b.lines[2].id, "x", 1);
	assert_memory_equal(b.lines[2].reason, "why", 3);
	batch_free(&b);
}

/* Every refusal, with its message. */
static void
test_decode_refused(void **state)
{
	unsigned char p[4096], *e;
	size_t n, h = BATCH_HDR_BYTES;
	uint16_t u16;
	uint32_t u32;
	int64_t at;
	char want[160];

	(void)state;
	memset(p, 0, sizeof(p));
	/* the header */
	refused(p, 5, "SUBMIT batch of 5 bytes, shorter than its header");
	n = put_hdr(p, 100, 0);
	snprintf(want, sizeof(want), "SUBMIT batch of %zu bytes, above %zu",
	    batch_max(&lim) + 1, batch_max(&lim));
	{
		unsigned char *big = calloc(1, batch_max(&lim) + 1);

		assert_non_null(big);
		memcpy(big, p, n);
		refused(big, batch_max(&lim) + 1, want);
		free(big);
	}
	put_hdr(p, 4097, 0);
	refused(p, h, "SUBMIT body of 4097 bytes, above 4096");
	put_hdr(p, 3, 4);
	refused(p, h, "SUBMIT of 4 lines for a 3-byte body");
	/* lines missing, extra bytes, more than max_records with entries */
	put_hdr(p, 100, 1);
	refused(p, h, "SUBMIT line 1: cut short");
	put_hdr(p, 100, 1);
	n = h + put_acc(p + h);
	p[n] = 0;
	refused(p, n + 3, "SUBMIT: 3 bytes after the last line");
	put_hdr(p, 100, 11);
	refused(p, h + ACC_LEN, "SUBMIT: 44 bytes after the last line");
	put_hdr(p, 100, 2);
	refused(p, h + ACC_LEN, "SUBMIT line 2: cut short");

	/* kinds */
	put_hdr(p, 100, 1);
	e = p + h;
	e[0] = 0;
	refused(p, h + 4, "SUBMIT line 1: unknown kind 0");
	e[0] = 9;
	refused(p, h + 4, "SUBMIT line 1: unknown kind 9");
	/* too large */
	memcpy(e, "\3\0\0\1", 4);
	refused(p, h + 4, "SUBMIT line 1: too-large entry with data");
	memcpy(e, "\3\1\0\0", 4);
	refused(p, h + 4, "SUBMIT line 1: too-large entry with data");
	/* rejected */
	memcpy(e, "\2\0\0\0", 4);
	refused(p, h + 4, "SUBMIT line 1: reason of 0 bytes, want 1..127");
	memcpy(e, "\2\x80\0\0", 4);
	memset(e + 4, 'r', 128);
	refused(p, h + 4 + 128, "SUBMIT line 1: reason of 128 bytes, want 1..127");
	e[1] = 1;
	u16 = REC_ID_MAX + 1;
	memcpy(e + 2, &u16, 2);
	refused(p, h + 4 + 258, "SUBMIT line 1: id of 257 bytes, want 0..256");
	u16 = 2;
	memcpy(e + 2, &u16, 2);
	refused(p, h + 4 + 2, "SUBMIT line 1: cut short");
	memcpy(e + 4, "i\nr", 3);
	refused(p, h + 4 + 3, "SUBMIT line 1: id not printable ASCII");
	memcpy(e + 4, "id\x7f", 3);
	refused(p, h + 4 + 3, "SUBMIT line 1: reason not printable ASCII");
	memcpy(e + 4, "idr", 3);
	{
		batch b;

		accepted(p, h + 4 + 3, &b);
		assert_int_equal(b.lines[0].kind, BATCH_REJECTED);
		batch_free(&b);
	}

	/* accepted: each field out of its bound */
	put_acc(e);
	refused(p, h + BATCH_ACCEPTED_FIXED - 1, "SUBMIT line 1: cut short");
	e[1] = (unsigned char)channels_count();
	snprintf(want, sizeof(want), "SUBMIT line 1: channel %u out of range",
	    channels_count());
	refused(p, h + ACC_LEN, want);
	e[1] = 255;
	refused(p, h + ACC_LEN, "SUBMIT line 1: channel 255 out of range");
	put_acc(e);
	u16 = 0;
	memcpy(e + 2, &u16, 2);
	refused(p, h + ACC_LEN, "SUBMIT line 1: id of 0 bytes, want 1..256");
	u16 = 257;
	memcpy(e + 2, &u16, 2);
	refused(p, h + ACC_LEN, "SUBMIT line 1: id of 257 bytes, want 1..256");
	put_acc(e);
	u16 = 0;
	memcpy(e + 4, &u16, 2);
	refused(p, h + ACC_LEN,
	    "SUBMIT line 1: conversation of 0 bytes, want 1..1024");
	u16 = 1025;
	memcpy(e + 4, &u16, 2);
	refused(p, h + ACC_LEN,
	    "SUBMIT line 1: conversation of 1025 bytes, want 1..1024");
	put_acc(e);
	u16 = 1;
	memcpy(e + 6, &u16, 2);
	refused(p, h + ACC_LEN, "SUBMIT line 1: 1 participants, want 2..1001");
	u16 = 1002;
	memcpy(e + 6, &u16, 2);
	refused(p, h + ACC_LEN, "SUBMIT line 1: 1002 participants, want 2..1001");
	put_acc(e);
	u32 = 5;
	memcpy(e + 8, &u32, 4);
	refused(p, h + ACC_LEN, "SUBMIT line 1: participants of 5 bytes for 2");
	u32 = 517;
	memcpy(e + 8, &u32, 4);
	refused(p, h + ACC_LEN, "SUBMIT line 1: participants of 517 bytes for 2");
	put_acc(e);
	u32 = 0;
	memcpy(e + 12, &u32, 4);
	refused(p, h + ACC_LEN, "SUBMIT line 1: plaintext of 0 bytes, want "
	    "1..2048");
	u32 = 2049;
	memcpy(e + 12, &u32, 4);
	refused(p, h + ACC_LEN, "SUBMIT line 1: plaintext of 2049 bytes, want "
	    "1..2048");
	put_acc(e);
	at = REC_SENT_AT_MIN_US - 1;
	memcpy(e + 16, &at, 8);
	refused(p, h + ACC_LEN, "SUBMIT line 1: sent_at out of range");
	at = REC_SENT_AT_MAX_US + 1;
	memcpy(e + 16, &at, 8);
	refused(p, h + ACC_LEN, "SUBMIT line 1: sent_at out of range");
	at = REC_SENT_AT_MAX_US;
	memcpy(e + 16, &at, 8);
	{
		batch b;

		accepted(p, h + ACC_LEN, &b);
		batch_free(&b);
	}
	/* capture_seq: 0 (none) .. 2^53 - 1 */
	at = -1;
	memcpy(e + 24, &at, 8);
	refused(p, h + ACC_LEN, "SUBMIT line 1: capture_seq out of range");
	at = REC_CAPTURE_SEQ_MAX + 1;
	memcpy(e + 24, &at, 8);
	refused(p, h + ACC_LEN, "SUBMIT line 1: capture_seq out of range");
	at = REC_CAPTURE_SEQ_MAX;
	memcpy(e + 24, &at, 8);
	{
		batch b;

		accepted(p, h + ACC_LEN, &b);
		assert_true(b.lines[0].f.capture_seq == REC_CAPTURE_SEQ_MAX);
		batch_free(&b);
	}
	/* the lengths sum past the payload */
	put_acc(e);
	refused(p, h + ACC_LEN - 1, "SUBMIT line 1: 44 bytes, 43 left");
	/* the participant list: an entry out of bounds, cut short, short of
	 * its declared size */
	put_acc(e);
	u16 = 0;
	memcpy(e + BATCH_ACCEPTED_FIXED + 3, &u16, 2);
	refused(p, h + ACC_LEN,
	    "SUBMIT line 1: participant 0 of 0 bytes, want 1..256");
	u16 = 257;
	memcpy(e + BATCH_ACCEPTED_FIXED + 3, &u16, 2);
	refused(p, h + ACC_LEN,
	    "SUBMIT line 1: participant 0 of 257 bytes, want 1..256");
	u16 = 6;
	memcpy(e + BATCH_ACCEPTED_FIXED + 3, &u16, 2);
	refused(p, h + ACC_LEN, "SUBMIT line 1: participant 0 cut short");
	u16 = 4;             /* "a" + the next entry: 6 bytes, nothing left */
	memcpy(e + BATCH_ACCEPTED_FIXED + 3, &u16, 2);
	refused(p, h + ACC_LEN, "SUBMIT line 1: participant 1 cut short");
	put_acc(e);
	u16 = 1;             /* "bb" declared as "b": one byte over */
	memcpy(e + BATCH_ACCEPTED_FIXED + 6, &u16, 2);
	refused(p, h + ACC_LEN, "SUBMIT line 1: participants of 7 bytes hold 6");

	/* heartbeat: three values in range, nothing in the fixed bytes */
	{
		int64_t v[3] = { 5, 0, 1767225600LL * 1000000LL };
		batch b;

		memset(e, 0, BATCH_HEARTBEAT_FIXED);
		e[0] = BATCH_HEARTBEAT;
		memcpy(e + 4, v, sizeof(v));
		accepted(p, h + BATCH_HEARTBEAT_FIXED, &b);
		assert_int_equal(b.lines[0].kind, BATCH_HEARTBEAT);
		assert_true(b.lines[0].hb.seq_high == 5 &&
		    b.lines[0].hb.clock_us == v[2]);
		batch_free(&b);
		refused(p, h + BATCH_HEARTBEAT_FIXED - 1,
		    "SUBMIT line 1: malformed heartbeat");
		e[2] = 1;
		refused(p, h + BATCH_HEARTBEAT_FIXED,
		    "SUBMIT line 1: malformed heartbeat");
		e[2] = 0;
		v[0] = -1;
		memcpy(e + 4, v, sizeof(v));
		refused(p, h + BATCH_HEARTBEAT_FIXED,
		    "SUBMIT line 1: heartbeat value out of range");
		v[0] = 0;
		v[1] = REC_CAPTURE_SEQ_MAX + 1;
		memcpy(e + 4, v, sizeof(v));
		refused(p, h + BATCH_HEARTBEAT_FIXED,
		    "SUBMIT line 1: heartbeat value out of range");
		v[1] = 0;
		v[2] = REC_SENT_AT_MAX_US + 1;
		memcpy(e + 4, v, sizeof(v));
		refused(p, h + BATCH_HEARTBEAT_FIXED,
		    "SUBMIT line 1: heartbeat value out of range");
	}
}

/* A heartbeat line and a numbered record, built and decoded. */
static void
test_build_capture(void **state)
{
	static const char body[] =
	    "{\"heartbeat\":{\"seq_high\":9,\"outbox\":3,"
	    "\"clock\":\"2026-01-01T00:00:00Z\"}}\n"
	    "{\"id\":\"m1\",\"channel\":\"sms\",\"conversation\":\"c\","
	    "\"direction\":\"in\",\"sender\":\"+15551230001\","
	    "\"recipients\":[\"+15551230002\"],"
	    "\"sent_at\":\"2026-01-01T00:00:00Z\",\"body\":\"\","
	    "\"capture_seq\":7}\n";
	unsigned char *enc = NULL;
	char err[160];
	size_t elen = 0;
	batch b;

	(void)state;
	assert_int_equal(batch_build(body, sizeof(body) - 1, DEV, strlen(DEV),
	    &lim, &enc, &elen, err, sizeof(err)), 0);
	assert_int_equal(batch_decode(&b, enc, elen, &lim, err, sizeof(err)),
	    0);
	assert_int_equal(b.nlines, 2);
	assert_int_equal(b.lines[0].kind, BATCH_HEARTBEAT);
	assert_true(b.lines[0].hb.seq_high == 9 && b.lines[0].hb.outbox == 3 &&
	    b.lines[0].hb.clock_us == 1767225600LL * 1000000LL);
	assert_int_equal(b.lines[1].kind, BATCH_ACCEPTED);
	assert_true(b.lines[1].f.capture_seq == 7);
	/* the number is sealed with the record (canonical form) */
	assert_non_null(memmem(b.lines[1].f.plaintext,
	    b.lines[1].f.plaintext_len, "\"capture_seq\":7", 15));
	batch_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_limits),
		cmocka_unit_test(test_build_capture),
		cmocka_unit_test(test_decode_good),
		cmocka_unit_test(test_decode_refused),
	};

	rec_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
