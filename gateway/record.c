/* gateway/record.c — validation of one ingest line, its canonical plaintext
 * (rec_check, no key: the network process) and its blind-index tokens
 * (rec_tokens, the tenant's key: the sealer).
 *
 * Trusts: the device id (it comes from a verified client certificate) and
 * the tenant's blind-index key.  rec_tokens trusts its fields to be within
 * record.h's bounds (the sealer's frame check, gateway/batch.c, made sure)
 * and reads them as bytes, never as JSON.  rec_check does not trust a
 * single byte of the line:
 * its fast path (rf_check) takes only well-formed common lines and
 * declines everything else to the jansson path, where
 * raw NUL bytes and depth are refused before jansson sees it (jansson would
 * read a NUL as the end of its input), jansson rejects invalid UTF-8,
 * duplicate keys, \u0000 and trailing data, and every string is checked
 * again here.  Rejection reasons are fixed texts plus field names or
 * indexes we chose, never input bytes.  jansson frees through a wiping
 * free (rec_init) so neither the parse tree nor json_dumps' growing
 * buffers leave content behind in the heap.
 */
#include "gateway/record.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/channels.h"
#include "common/jtext.h"
#include "vault/codec.h"
#include "vault/mem.h"

static const char *const rec_known_fields[] = {
	"id", "channel", "conversation", "direction", "sender", "recipients",
	"sent_at", "body", "attachments", "capture_seq"
};

static atomic_ullong rec_json_allocs;

static void *
rec_json_malloc(size_t n)
{
	return malloc(n);
}

static void *
rec_json_malloc_counted(size_t n)
{
	atomic_fetch_add_explicit(&rec_json_allocs, 1, memory_order_relaxed);
	return malloc(n);
}

static void
rec_json_free(void *p)
{
	if (p == NULL)
		return;
	vault_wipe(p, malloc_usable_size(p));
	free(p);
}

void
rec_init(void)
{
	json_set_alloc_funcs(rec_json_malloc, rec_json_free);
	json_object_seed(0);
}

void
rec_init_counted(void)
{
	atomic_store(&rec_json_allocs, 0);
	json_set_alloc_funcs(rec_json_malloc_counted, rec_json_free);
}

unsigned long long
rec_json_allocations(void)
{
	return atomic_load(&rec_json_allocs);
}

static int
rec_reject(char *reason, size_t cap, const char *field, const char *what)
{
	if (field != NULL)
		snprintf(reason, cap, "%s: %s", field, what);
	else
		snprintf(reason, cap, "%s", what);
	return -1;
}

/* Nesting depth of (syntactically plausible) JSON, counted before parsing so
 * a hostile line cannot make the parser recurse or allocate much.  Exact for
 * valid JSON; for invalid JSON the parser rejects it anyway. */
static int
rec_depth_ok(const char *s, size_t len)
{
	unsigned depth = 0;
	int in_str = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > REC_DEPTH_MAX)
				return 0;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return 1;
}

static int
rec_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* -- RFC 3339 -------------------------------------------------------------- */

static int
rec_digits(const char *s, size_t n, int *out)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
rec_days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic). */
static long long
rec_days_from_civil(int y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153LL * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
rec_parse_time(const char *s, size_t len, long long *us_out, const char **why)
{
	int Y, M, D, h, mi, sec, oh = 0, om = 0, sign = 0;
	long long frac = 0, secs;
	size_t p, nd;

	*us_out = 0;
	*why = "format";
	if (len < 20)
		return -1;
	if (rec_digits(s, 4, &Y) != 0 || s[4] != '-' ||
	    rec_digits(s + 5, 2, &M) != 0 || s[7] != '-' ||
	    rec_digits(s + 8, 2, &D) != 0 || (s[10] != 'T' && s[10] != 't') ||
	    rec_digits(s + 11, 2, &h) != 0 || s[13] != ':' ||
	    rec_digits(s + 14, 2, &mi) != 0 || s[16] != ':' ||
	    rec_digits(s + 17, 2, &sec) != 0)
		return -1;
	p = 19;
	if (s[p] == '.') {
		p++;
		for (nd = 0; p < len && s[p] >= '0' && s[p] <= '9'; p++, nd++)
			if (nd < 6)
				frac = frac * 10 + (s[p] - '0');
		if (nd == 0)
			return -1;
		for (; nd < 6; nd++)
			frac *= 10;
	}
	if (p >= len)
		return -1;
	if (s[p] == 'Z' || s[p] == 'z') {
		p++;
	} else if (s[p] == '+' || s[p] == '-') {
		sign = s[p] == '-' ? -1 : 1;
		if (len - p < 6 || rec_digits(s + p + 1, 2, &oh) != 0 ||
		    s[p + 3] != ':' || rec_digits(s + p + 4, 2, &om) != 0)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (p != len)
		return -1;
	*why = "range";
	if (Y < 1 || M < 1 || M > 12 || D < 1 || D > rec_days_in_month(Y, M) ||
	    h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	secs = rec_days_from_civil(Y, M, D) * 86400LL + h * 3600LL + mi * 60LL +
	    sec - sign * (oh * 3600LL + om * 60LL);
	*us_out = secs * 1000000LL + frac;
	*why = NULL;
	return 0;
}

/* -- fields ---------------------------------------------------------------- */

/* 0 found (and valid UTF-8), 1 absent and optional, -1 rejected. */
static int
rec_string(json_t *obj, const char *key, const char *field, int required,
    size_t min, size_t max, const char **val, size_t *vlen, char *reason,
    size_t cap)
{
	json_t *v = json_object_get(obj, key);
	char what[64];

	*val = NULL;
	*vlen = 0;
	if (v == NULL) {
		if (!required)
			return 1;
		return rec_reject(reason, cap, field, "missing");
	}
	if (!json_is_string(v))
		return rec_reject(reason, cap, field, "must be a string");
	*val = json_string_value(v);
	*vlen = json_string_length(v);
	if (!jtext_utf8_valid((const unsigned char *)*val, *vlen))
		return rec_reject(reason, cap, field, "invalid UTF-8");
	if (*vlen < min || *vlen > max) {
		if (min == max)
			snprintf(what, sizeof(what), "must be %zu bytes", min);
		else
			snprintf(what, sizeof(what), "must be %zu..%zu bytes", min, max);
		return rec_reject(reason, cap, field, what);
	}
	return 0;
}

static int
rec_token_cmp(const void *a, const void *b)
{
	return memcmp(a, b, VAULT_TOKEN_BYTES);
}

/* Classify and normalise one participant into c->mem at *off as a u16
 * length and the bytes (the list rec_fields describes). */
static int
rec_participant(rec_checked *c, size_t *off, const char *field, const char *v,
    size_t vlen, char *reason, size_t cap)
{
	char err[96];
	size_t nlen = 0;
	uint16_t n16;

	if (vault_participant_normalize(vault_participant_classify(v, vlen), v,
	    vlen, (char *)c->mem + *off + 2, VAULT_PARTICIPANT_MAX, &nlen, err,
	    sizeof(err)) != 0)
		return rec_reject(reason, cap, field, err);
	n16 = (uint16_t)nlen;
	memcpy(c->mem + *off, &n16, 2);
	*off += 2 + nlen;
	return 0;
}

static int
rec_attachments(json_t *root, char *reason, size_t cap)
{
	json_t *arr = json_object_get(root, "attachments"), *att, *v;
	char field[48];
	const char *key, *s;
	size_t i, slen, dlen;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return rec_reject(reason, cap, "attachments", "must be an array");
	if (json_array_size(arr) > REC_ATTACHMENTS_MAX)
		return rec_reject(reason, cap, "attachments",
		    "too many (at most 256)");
	json_array_foreach(arr, i, att) {
		if (!json_is_object(att)) {
			snprintf(field, sizeof(field), "attachments[%zu]", i);
			return rec_reject(reason, cap, field, "must be an object");
		}
		json_object_foreach(att, key, v) {
			if (strcmp(key, "name") != 0 && strcmp(key, "type") != 0 &&
			    strcmp(key, "data") != 0) {
				snprintf(field, sizeof(field), "attachments[%zu]", i);
				return rec_reject(reason, cap, field, "unknown field");
			}
		}
		snprintf(field, sizeof(field), "attachments[%zu].name", i);
		if (rec_string(att, "name", field, 1, 1, REC_ATT_NAME_MAX, &s,
		    &slen, reason, cap) != 0)
			return -1;
		snprintf(field, sizeof(field), "attachments[%zu].type", i);
		if (rec_string(att, "type", field, 1, 1, REC_ATT_TYPE_MAX, &s,
		    &slen, reason, cap) != 0)
			return -1;
		snprintf(field, sizeof(field), "attachments[%zu].data", i);
		if (rec_string(att, "data", field, 1, 0, SIZE_MAX, &s, &slen,
		    reason, cap) != 0)
			return -1;
		if (vault_base64_check(s, slen, &dlen) != 0)
			return rec_reject(reason, cap, field, "not valid base64");
	}
	return 0;
}

static const char *
rec_json_error(const json_error_t *je)
{
	switch (json_error_code(je)) {
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_duplicate_key:
		return "duplicate key";
	case json_error_end_of_input_expected:
		return "trailing data after the record";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "NUL character not allowed";
	case json_error_wrong_type:
		return "record must be a JSON object";
	case json_error_premature_end_of_input:
		return "truncated JSON";
	default:
		return "not valid JSON";
	}
}

void
rec_drop_plaintext(rec *r)
{
	if (r->plaintext != NULL) {
		vault_wipe(r->plaintext, r->plaintext_len);
		free(r->plaintext);
	}
	r->plaintext = NULL;
	r->plaintext_len = 0;
}

void
rec_clear(rec *r)
{
	if (r == NULL)
		return;
	rec_drop_plaintext(r);
	free(r->participant_tokens);
	/* vault_wipe, not memset: the source id is metadata too, and a plain
	 * store before free() may be optimised away. */
	vault_wipe(r, sizeof(*r));
}

void
rec_checked_clear(rec_checked *c)
{
	if (c == NULL)
		return;
	if (c->mem != NULL) {
		vault_wipe(c->mem, c->mem_cap);
		free(c->mem);
	}
	if (c->dump != NULL) {
		vault_wipe(c->dump, c->f.plaintext_len);
		free(c->dump);
	}
	vault_wipe(c, sizeof(*c));
}

/* An integer member 0..REC_CAPTURE_SEQ_MAX (min..max). */
static int
rec_count(json_t *o, const char *key, const char *field, long long min,
    long long *out, char *reason, size_t reason_len)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return rec_reject(reason, reason_len, field, "missing");
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > REC_CAPTURE_SEQ_MAX)
		return rec_reject(reason, reason_len, field, min == 1 ?
		    "must be an integer 1..9007199254740991" :
		    "must be an integer 0..9007199254740991");
	*out = (long long)json_integer_value(v);
	return 0;
}

/* {"heartbeat": {"seq_high", "outbox", "clock"}} and nothing else. */
static int
rec_heartbeat_check(json_t *root, rec_heartbeat *hb, char *reason,
    size_t reason_len)
{
	json_t *o = json_object_get(root, "heartbeat"), *v;
	const char *key, *why, *s;

	if (json_object_size(root) != 1)
		return rec_reject(reason, reason_len, NULL,
		    "a heartbeat line holds only the heartbeat");
	if (!json_is_object(o))
		return rec_reject(reason, reason_len, "heartbeat",
		    "must be an object");
	json_object_foreach(o, key, v)
		if (strcmp(key, "seq_high") != 0 && strcmp(key, "outbox") != 0 &&
		    strcmp(key, "clock") != 0)
			return rec_reject(reason, reason_len, "heartbeat",
			    "unknown field");
	if (rec_count(o, "seq_high", "heartbeat.seq_high", 0, &hb->seq_high,
	    reason, reason_len) != 0 ||
	    rec_count(o, "outbox", "heartbeat.outbox", 0, &hb->outbox, reason,
	    reason_len) != 0)
		return -1;
	v = json_object_get(o, "clock");
	if (v == NULL)
		return rec_reject(reason, reason_len, "heartbeat.clock", "missing");
	if (!json_is_string(v))
		return rec_reject(reason, reason_len, "heartbeat.clock",
		    "must be a string");
	s = json_string_value(v);
	if (rec_parse_time(s, json_string_length(v), &hb->clock_us, &why) != 0)
		return rec_reject(reason, reason_len, "heartbeat.clock",
		    strcmp(why, "range") == 0 ? "date or time out of range" :
		    "not an RFC 3339 timestamp");
	return 0;
}

int
rec_check_jansson(rec_checked *out, const char *line, size_t len,
    const char *device, size_t device_len, char *reason, size_t reason_len)
{
	json_t *root = NULL, *arr, *v;
	json_error_t je;
	const char *s, *key, *why;
	char field[48], err[96];
	size_t slen, i, nrec, off;
	char *dump = NULL;
	int known, ch;

	memset(out, 0, sizeof(*out));
	if (reason_len > 0)
		reason[0] = '\0';
	if (len == 0 || rec_blank(line, len))
		return rec_reject(reason, reason_len, NULL, "empty line");
	/* A raw NUL byte: jansson would take it for the end of its input and
	 * answer "truncated JSON" (or "not valid JSON" inside a string). */
	if (memchr(line, '\0', len) != NULL)
		return rec_reject(reason, reason_len, NULL,
		    "NUL character not allowed");
	if (!rec_depth_ok(line, len))
		return rec_reject(reason, reason_len, NULL, "nesting too deep");
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &je);
	if (root == NULL)
		return rec_reject(reason, reason_len, NULL, rec_json_error(&je));
	if (!json_is_object(root)) {
		rec_reject(reason, reason_len, NULL, "record must be a JSON object");
		goto fail;
	}
	if (json_object_get(root, "heartbeat") != NULL) {
		if (rec_heartbeat_check(root, &out->hb, reason, reason_len) != 0)
			goto fail;
		json_decref(root);
		out->heartbeat = 1;
		return 0;
	}

	/* id first: once it is valid a rejection can still name the message. */
	if (rec_string(root, "id", "id", 1, 1, REC_ID_MAX, &s, &slen, reason,
	    reason_len) != 0)
		goto fail;
	for (i = 0; i < slen && s[i] >= 0x20 && s[i] < 0x7f; i++)
		;
	if (i == slen) {
		memcpy(out->id, s, slen);
		out->id[slen] = '\0';
	}
	/* the dedup token's own checks, here where its reason belongs */
	if (vault_dedup_ids_check(device, device_len, s, slen, err,
	    sizeof(err)) != 0) {
		rec_reject(reason, reason_len, "id", err);
		goto fail;
	}
	/* Participants can only be counted once recipients is known; the
	 * memory is sized for the worst case of this line. */
	arr = json_object_get(root, "recipients");
	nrec = json_is_array(arr) ? json_array_size(arr) : 0;
	if (nrec > REC_RECIPIENTS_MAX)
		nrec = REC_RECIPIENTS_MAX;
	out->mem_cap = REC_ID_MAX + REC_CONVERSATION_MAX +
	    (nrec + 1) * (2 + VAULT_PARTICIPANT_MAX);
	if ((out->mem = malloc(out->mem_cap)) == NULL) {
		out->mem_cap = 0;
		rec_reject(reason, reason_len, NULL, "out of memory");
		goto fail;
	}
	memcpy(out->mem, s, slen);
	out->f.id = (const char *)out->mem;
	out->f.id_len = slen;
	off = slen;

	if (rec_string(root, "channel", "channel", 1, 0, SIZE_MAX, &s, &slen,
	    reason, reason_len) != 0)
		goto fail;
	if ((ch = channels_index(s, slen)) < 0) {
		rec_reject(reason, reason_len, "channel", "unknown channel");
		goto fail;
	}
	out->f.channel = (unsigned)ch;

	if (rec_string(root, "conversation", "conversation", 1, 1,
	    REC_CONVERSATION_MAX, &s, &slen, reason, reason_len) != 0)
		goto fail;
	memcpy(out->mem + off, s, slen);
	out->f.conversation = (const char *)out->mem + off;
	out->f.conversation_len = slen;
	off += slen;

	if (rec_string(root, "direction", "direction", 1, 0, SIZE_MAX, &s, &slen,
	    reason, reason_len) != 0)
		goto fail;
	if (!((slen == 2 && memcmp(s, "in", 2) == 0) ||
	    (slen == 3 && memcmp(s, "out", 3) == 0))) {
		rec_reject(reason, reason_len, "direction", "must be in or out");
		goto fail;
	}

	/* Participants: sender then recipients, normalised (their tokens are
	 * sorted and made unique by rec_tokens). */
	if (rec_string(root, "sender", "sender", 1, 0, SIZE_MAX, &s, &slen,
	    reason, reason_len) != 0)
		goto fail;
	if (arr == NULL) {
		rec_reject(reason, reason_len, "recipients", "missing");
		goto fail;
	}
	if (!json_is_array(arr)) {
		rec_reject(reason, reason_len, "recipients", "must be an array");
		goto fail;
	}
	if (json_array_size(arr) < 1 ||
	    json_array_size(arr) > REC_RECIPIENTS_MAX) {
		rec_reject(reason, reason_len, "recipients",
		    "must hold 1..1000 entries");
		goto fail;
	}
	out->f.participants = out->mem + off;
	if (rec_participant(out, &off, "sender", s, slen, reason,
	    reason_len) != 0)
		goto fail;
	json_array_foreach(arr, i, v) {
		snprintf(field, sizeof(field), "recipients[%zu]", i);
		if (!json_is_string(v)) {
			rec_reject(reason, reason_len, field, "must be a string");
			goto fail;
		}
		s = json_string_value(v);
		slen = json_string_length(v);
		if (!jtext_utf8_valid((const unsigned char *)s, slen)) {
			rec_reject(reason, reason_len, field, "invalid UTF-8");
			goto fail;
		}
		if (rec_participant(out, &off, field, s, slen, reason,
		    reason_len) != 0)
			goto fail;
	}
	out->f.n_participants = json_array_size(arr) + 1;
	out->f.participants_len = (size_t)(out->mem + off - out->f.participants);

	if (rec_string(root, "sent_at", "sent_at", 1, 0, SIZE_MAX, &s, &slen,
	    reason, reason_len) != 0)
		goto fail;
	if (rec_parse_time(s, slen, &out->f.sent_at_us, &why) != 0) {
		rec_reject(reason, reason_len, "sent_at",
		    strcmp(why, "range") == 0 ? "date or time out of range" :
		    "not an RFC 3339 timestamp");
		goto fail;
	}

	if (rec_string(root, "body", "body", 1, 0, SIZE_MAX, &s, &slen, reason,
	    reason_len) != 0)
		goto fail;

	if (rec_attachments(root, reason, reason_len) != 0)
		goto fail;

	if (json_object_get(root, "capture_seq") != NULL &&
	    rec_count(root, "capture_seq", "capture_seq", 1,
	    &out->f.capture_seq, reason, reason_len) != 0)
		goto fail;

	json_object_foreach(root, key, v) {
		known = 0;
		for (i = 0; i < sizeof(rec_known_fields) /
		    sizeof(rec_known_fields[0]); i++)
			if (strcmp(key, rec_known_fields[i]) == 0)
				known = 1;
		if (!known) {
			rec_reject(reason, reason_len, NULL, "unknown field");
			goto fail;
		}
	}

	v = json_stringn(device, device_len);
	if (v == NULL || json_object_set_new(root, "device", v) != 0) {
		rec_reject(reason, reason_len, NULL,
		    "device id is not valid UTF-8");
		goto fail;
	}
	dump = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (dump == NULL) {
		rec_reject(reason, reason_len, NULL, "out of memory");
		goto fail;
	}
	json_decref(root);
	out->dump = dump;
	out->f.plaintext = (const unsigned char *)dump;
	out->f.plaintext_len = strlen(dump);
	return 0;
fail:
	{
		char keep[REC_ID_MAX + 1];

		memcpy(keep, out->id, sizeof(keep));
		json_decref(root);
		rec_checked_clear(out);
		memcpy(out->id, keep, sizeof(keep));
	}
	return -1;
}

/* -- the fast path ------------------------------------------------------------
 *
 * jansson builds a tree, with a hash table per object and a block per
 * value, and json_dumps re-encodes it: 46 % of the gateway's CPU samples
 * (perf, 100 000 records through the gateway, 1 KB bodies).  rf_check
 * reads the common line
 * (the record fields as strings, recipients as an array of strings,
 * capture_seq as a plain integer) in one pass and writes the canonical form
 * directly.  It only ever accepts or declines: anything else (attachments,
 * a heartbeat, an unknown or repeated key, a key with an escape, any value
 * of another type, more than RF_RECIPIENTS recipients, anything malformed,
 * any rule below not met) is declined and the line goes to
 * rec_check_jansson, which accepts it or gives the reason.  The rules it
 * applies are the jansson path's own helpers; what it accepts, and the
 * bytes of the canonical form, are the jansson path's (test_record and
 * fuzz_record compare the two on every input they have). */

#define RF_RECIPIENTS 64U

enum { RF_ID, RF_CHANNEL, RF_CONVERSATION, RF_DIRECTION, RF_SENDER,
       RF_SENT_AT, RF_BODY, RF_NSTR, RF_RECIPIENTS_KEY = RF_NSTR,
       RF_CAPTURE_SEQ, RF_NKEYS };

static const char *const rf_keys[RF_NKEYS] = {
	"id", "channel", "conversation", "direction", "sender", "sent_at",
	"body", "recipients", "capture_seq"
};

typedef struct rf_str {
	const char *p;
	size_t      n;
} rf_str;

typedef struct rf_line {
	const char *s;            /* the line */
	size_t      len, pos;
	char       *scratch;      /* decoded strings that held escapes */
	size_t      sused;
	rf_str      v[RF_NSTR];
	rf_str      rcp[RF_RECIPIENTS];
	size_t      nrcp;
	long long   capture_seq;  /* 0: absent */
	unsigned    seen;         /* 1 << key */
} rf_line;

static void
rf_ws(rf_line *L)
{
	while (L->pos < L->len && (L->s[L->pos] == ' ' || L->s[L->pos] == '\t' ||
	    L->s[L->pos] == '\n' || L->s[L->pos] == '\r'))
		L->pos++;
}

/* The string at L->pos (its opening quote), decoded into *out: borrowed
 * from the line when it holds no escape, else written to the scratch
 * buffer (made at the line's first escape, as long as the line: decoded
 * strings are never longer than their raw text).  UTF-8 is checked by
 * the caller's rules (jtext_utf8_valid). */
static int
rf_string(rf_line *L, rf_str *out)
{
	size_t used;
	int rc;

	rc = jtext_string(L->s, L->len, &L->pos, L->scratch != NULL ?
	    L->scratch + L->sused : NULL, &out->p, &out->n, &used);
	if (rc == -2 && (L->scratch = malloc(L->len)) != NULL)
		rc = jtext_string(L->s, L->len, &L->pos, L->scratch, &out->p,
		    &out->n, &used);
	if (rc != 0)
		return -1;
	L->sused += used;
	return 0;
}

/* A key: a known name, no escape, not seen before.  Its index or -1. */
static int
rf_key(rf_line *L)
{
	size_t i = L->pos + 1, start = i, n;
	int k;

	if (L->pos >= L->len || L->s[L->pos] != '"')
		return -1;
	while (i < L->len && L->s[i] != '"' && L->s[i] != '\\')
		i++;
	if (i >= L->len || L->s[i] != '"')
		return -1;
	n = i - start;
	for (k = 0; k < RF_NKEYS; k++)
		if (strlen(rf_keys[k]) == n && memcmp(rf_keys[k], L->s + start, n) == 0)
			break;
	if (k == RF_NKEYS || (L->seen & (1U << k)) != 0)
		return -1;
	L->seen |= 1U << k;
	L->pos = i + 1;
	return k;
}

/* The line's members into L: 0, or -1 to decline. */
static int
rf_read(rf_line *L)
{
	rf_ws(L);
	if (L->pos >= L->len || L->s[L->pos] != '{')
		return -1;
	L->pos++;
	for (;;) {
		int k;

		rf_ws(L);
		if ((k = rf_key(L)) < 0)
			return -1;
		rf_ws(L);
		if (L->pos >= L->len || L->s[L->pos] != ':')
			return -1;
		L->pos++;
		rf_ws(L);
		if (k < RF_NSTR) {
			if (rf_string(L, &L->v[k]) != 0)
				return -1;
		} else if (k == RF_RECIPIENTS_KEY) {
			if (L->pos >= L->len || L->s[L->pos] != '[')
				return -1;
			L->pos++;
			for (;;) {
				rf_ws(L);
				if (L->nrcp == RF_RECIPIENTS ||
				    rf_string(L, &L->rcp[L->nrcp]) != 0)
					return -1;
				L->nrcp++;
				rf_ws(L);
				if (L->pos < L->len && L->s[L->pos] == ',') {
					L->pos++;
					continue;
				}
				if (L->pos < L->len && L->s[L->pos] == ']') {
					L->pos++;
					break;
				}
				return -1;
			}
		} else {
			/* capture_seq: 1..2^53-1 as plain digits, nothing else */
			size_t nd = 0;
			long long v = 0;

			if (L->pos >= L->len || L->s[L->pos] < '1' || L->s[L->pos] > '9')
				return -1;
			while (L->pos < L->len && L->s[L->pos] >= '0' &&
			    L->s[L->pos] <= '9' && nd < 16) {
				v = v * 10 + (L->s[L->pos] - '0');
				L->pos++;
				nd++;
			}
			if (v > REC_CAPTURE_SEQ_MAX)
				return -1;
			L->capture_seq = v;
		}
		rf_ws(L);
		if (L->pos >= L->len)
			return -1;
		if (L->s[L->pos] == ',') {
			L->pos++;
			continue;
		}
		if (L->s[L->pos] != '}')
			return -1;
		L->pos++;
		break;
	}
	rf_ws(L);
	return L->pos == L->len ? 0 : -1;
}

static void
rf_put(char *o, size_t *n, const char *t, size_t l)
{
	if (o != NULL)
		memcpy(o + *n, t, l);
	*n += l;
}

static void
rf_put_str(char *o, size_t *n, const char *p, size_t l)
{
	*n += jtext_escape(o != NULL ? o + *n : NULL, p, l);
}

#define RF_PUT(o, n, lit) rf_put((o), (n), (lit), sizeof(lit) - 1)

/* The canonical form (sorted keys, compact) into a new block, or NULL. */
static char *
rf_dump(const rf_line *L, const char *device, size_t device_len, size_t *outlen)
{
	char num[24], *d = NULL, *o;
	size_t n = 0, pass, i;
	int nl = 0;

	if (L->capture_seq > 0)
		nl = snprintf(num, sizeof(num), "%lld", L->capture_seq);
	for (pass = 0; pass < 2; pass++) {
		o = d;
		n = 0;
		RF_PUT(o, &n, "{\"body\":");
		rf_put_str(o, &n, L->v[RF_BODY].p, L->v[RF_BODY].n);
		if (nl > 0) {
			RF_PUT(o, &n, ",\"capture_seq\":");
			rf_put(o, &n, num, (size_t)nl);
		}
		RF_PUT(o, &n, ",\"channel\":");
		rf_put_str(o, &n, L->v[RF_CHANNEL].p, L->v[RF_CHANNEL].n);
		RF_PUT(o, &n, ",\"conversation\":");
		rf_put_str(o, &n, L->v[RF_CONVERSATION].p, L->v[RF_CONVERSATION].n);
		RF_PUT(o, &n, ",\"device\":");
		rf_put_str(o, &n, device, device_len);
		RF_PUT(o, &n, ",\"direction\":");
		rf_put_str(o, &n, L->v[RF_DIRECTION].p, L->v[RF_DIRECTION].n);
		RF_PUT(o, &n, ",\"id\":");
		rf_put_str(o, &n, L->v[RF_ID].p, L->v[RF_ID].n);
		RF_PUT(o, &n, ",\"recipients\":[");
		for (i = 0; i < L->nrcp; i++) {
			if (i > 0)
				RF_PUT(o, &n, ",");
			rf_put_str(o, &n, L->rcp[i].p, L->rcp[i].n);
		}
		RF_PUT(o, &n, "],\"sender\":");
		rf_put_str(o, &n, L->v[RF_SENDER].p, L->v[RF_SENDER].n);
		RF_PUT(o, &n, ",\"sent_at\":");
		rf_put_str(o, &n, L->v[RF_SENT_AT].p, L->v[RF_SENT_AT].n);
		RF_PUT(o, &n, "}");
		if (pass == 0 && (d = malloc(n + 1)) == NULL)
			return NULL;
	}
	d[n] = '\0';
	*outlen = n;
	return d;
}

/* 1: accepted, *out filled as rec_check_jansson would; 0: declined, *out
 * cleared. */
static int
rf_check(rec_checked *out, const char *line, size_t len, const char *device,
    size_t device_len)
{
	rf_line L;
	char err[96];
	const char *why;
	size_t i, off;
	int ch, ok = 0;

	memset(&L, 0, sizeof(L));
	L.s = line;
	L.len = len;
	if (rf_read(&L) != 0 ||
	    (L.seen & ((1U << RF_NSTR) - 1U)) != (1U << RF_NSTR) - 1U ||
	    (L.seen & (1U << RF_RECIPIENTS_KEY)) == 0 || L.nrcp < 1 ||
	    L.nrcp > REC_RECIPIENTS_MAX)
		goto out;
	for (i = 0; i < RF_NSTR; i++)
		if (!jtext_utf8_valid((const unsigned char *)L.v[i].p, L.v[i].n))
			goto out;
	for (i = 0; i < L.nrcp; i++)
		if (!jtext_utf8_valid((const unsigned char *)L.rcp[i].p, L.rcp[i].n))
			goto out;
	if (!jtext_utf8_valid((const unsigned char *)device, device_len) ||
	    L.v[RF_ID].n < 1 || L.v[RF_ID].n > REC_ID_MAX ||
	    L.v[RF_CONVERSATION].n < 1 ||
	    L.v[RF_CONVERSATION].n > REC_CONVERSATION_MAX ||
	    vault_dedup_ids_check(device, device_len, L.v[RF_ID].p,
	    L.v[RF_ID].n, err, sizeof(err)) != 0 ||
	    (ch = channels_index(L.v[RF_CHANNEL].p, L.v[RF_CHANNEL].n)) < 0 ||
	    !((L.v[RF_DIRECTION].n == 2 &&
	    memcmp(L.v[RF_DIRECTION].p, "in", 2) == 0) ||
	    (L.v[RF_DIRECTION].n == 3 &&
	    memcmp(L.v[RF_DIRECTION].p, "out", 3) == 0)) ||
	    rec_parse_time(L.v[RF_SENT_AT].p, L.v[RF_SENT_AT].n,
	    &out->f.sent_at_us, &why) != 0)
		goto out;
	out->mem_cap = REC_ID_MAX + REC_CONVERSATION_MAX +
	    (L.nrcp + 1) * (2 + VAULT_PARTICIPANT_MAX);
	if ((out->mem = malloc(out->mem_cap)) == NULL) {
		out->mem_cap = 0;
		goto out;
	}
	memcpy(out->mem, L.v[RF_ID].p, L.v[RF_ID].n);
	out->f.id = (const char *)out->mem;
	out->f.id_len = L.v[RF_ID].n;
	off = L.v[RF_ID].n;
	memcpy(out->mem + off, L.v[RF_CONVERSATION].p, L.v[RF_CONVERSATION].n);
	out->f.conversation = (const char *)out->mem + off;
	out->f.conversation_len = L.v[RF_CONVERSATION].n;
	off += L.v[RF_CONVERSATION].n;
	out->f.participants = out->mem + off;
	if (rec_participant(out, &off, "sender", L.v[RF_SENDER].p,
	    L.v[RF_SENDER].n, err, sizeof(err)) != 0)
		goto out;
	for (i = 0; i < L.nrcp; i++)
		if (rec_participant(out, &off, "recipients", L.rcp[i].p,
		    L.rcp[i].n, err, sizeof(err)) != 0)
			goto out;
	out->f.n_participants = L.nrcp + 1;
	out->f.participants_len = (size_t)(out->mem + off - out->f.participants);
	out->f.channel = (unsigned)ch;
	out->f.capture_seq = L.capture_seq;
	if ((out->dump = rf_dump(&L, device, device_len,
	    &out->f.plaintext_len)) == NULL)
		goto out;
	out->f.plaintext = (const unsigned char *)out->dump;
	for (i = 0; i < L.v[RF_ID].n && L.v[RF_ID].p[i] >= 0x20 &&
	    L.v[RF_ID].p[i] < 0x7f; i++)
		;
	if (i == L.v[RF_ID].n) {
		memcpy(out->id, L.v[RF_ID].p, L.v[RF_ID].n);
		out->id[L.v[RF_ID].n] = '\0';
	}
	ok = 1;
out:
	if (L.scratch != NULL) {
		vault_wipe(L.scratch, len);
		free(L.scratch);
	}
	if (!ok)
		rec_checked_clear(out);
	vault_wipe(&L, sizeof(L));
	return ok;
}

int
rec_check(rec_checked *out, const char *line, size_t len, const char *device,
    size_t device_len, char *reason, size_t reason_len)
{
	memset(out, 0, sizeof(*out));
	if (len > 0 && rf_check(out, line, len, device, device_len) == 1) {
		if (reason_len > 0)
			reason[0] = '\0';
		return 0;
	}
	return rec_check_jansson(out, line, len, device, device_len, reason,
	    reason_len);
}

int
rec_tokens(rec *out, const rec_fields *f,
    const unsigned char bik[VAULT_BIK_BYTES], const char *device,
    size_t device_len, char *reason, size_t reason_len)
{
	const unsigned char *p = f->participants;
	unsigned char *toks = NULL;
	char field[48], err[96];
	size_t i, j, n = f->n_participants;
	uint16_t plen;

	memset(out, 0, sizeof(*out));
	if (reason_len > 0)
		reason[0] = '\0';
	for (i = 0; i < f->id_len && f->id[i] >= 0x20 && f->id[i] < 0x7f; i++)
		;
	if (i == f->id_len && f->id_len <= REC_ID_MAX) {
		memcpy(out->id, f->id, f->id_len);
		out->id[f->id_len] = '\0';
	}
	if (vault_dedup_token(bik, device, device_len, f->id, f->id_len,
	    out->dedup_token, err, sizeof(err)) != 0) {
		rec_reject(reason, reason_len, "id", err);
		goto fail;
	}
	if (vault_conversation_token(bik, f->conversation, f->conversation_len,
	    out->conversation_token, err, sizeof(err)) != 0) {
		rec_reject(reason, reason_len, "conversation", err);
		goto fail;
	}
	out->channel = channels_name(f->channel);
	if (out->channel == NULL || n == 0) {
		rec_reject(reason, reason_len, NULL, "internal error");
		goto fail;
	}
	if ((toks = malloc(n * VAULT_TOKEN_BYTES)) == NULL) {
		rec_reject(reason, reason_len, NULL, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		memcpy(&plen, p, 2);
		if (vault_participant_token_normalized(bik, (const char *)p + 2,
		    plen, toks + i * VAULT_TOKEN_BYTES, err, sizeof(err)) != 0) {
			if (i == 0)
				snprintf(field, sizeof(field), "sender");
			else
				snprintf(field, sizeof(field), "recipients[%zu]", i - 1);
			rec_reject(reason, reason_len, field, err);
			goto fail;
		}
		p += 2 + plen;
	}
	qsort(toks, n, VAULT_TOKEN_BYTES, rec_token_cmp);
	for (i = 1, j = 1; i < n; i++)
		if (memcmp(toks + i * VAULT_TOKEN_BYTES,
		    toks + (j - 1) * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES) != 0) {
			if (i != j)
				memcpy(toks + j * VAULT_TOKEN_BYTES,
				    toks + i * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES);
			j++;
		}
	/* NUL-terminated, as jansson's dump was: callers may treat it as a
	 * string (found by make sanitize-ci: test_record read past it). */
	if ((out->plaintext = malloc(f->plaintext_len + 1)) == NULL) {
		rec_reject(reason, reason_len, NULL, "out of memory");
		goto fail;
	}
	memcpy(out->plaintext, f->plaintext, f->plaintext_len);
	out->plaintext[f->plaintext_len] = '\0';
	out->plaintext_len = f->plaintext_len;
	out->sent_at_us = f->sent_at_us;
	out->capture_seq = f->capture_seq;
	out->device = device;
	out->device_len = device_len;
	out->participant_tokens = toks;
	out->n_participants = j;
	return 0;
fail:
	{
		char keep[REC_ID_MAX + 1];

		memcpy(keep, out->id, sizeof(keep));
		free(toks);
		memset(out, 0, sizeof(*out));
		memcpy(out->id, keep, sizeof(keep));
	}
	return -1;
}

int
rec_parse(rec *out, const char *line, size_t len,
    const unsigned char bik[VAULT_BIK_BYTES], const char *device,
    size_t device_len, char *reason, size_t reason_len)
{
	rec_checked c;
	int rc;

	if (rec_check(&c, line, len, device, device_len, reason,
	    reason_len) != 0) {
		memset(out, 0, sizeof(*out));
		memcpy(out->id, c.id, sizeof(out->id));
		vault_wipe(&c, sizeof(c));
		return -1;
	}
	if (c.heartbeat) {
		memset(out, 0, sizeof(*out));
		rec_checked_clear(&c);
		return rec_reject(reason, reason_len, NULL,
		    "a heartbeat, not a record");
	}
	rc = rec_tokens(out, &c.f, bik, device, device_len, reason, reason_len);
	rec_checked_clear(&c);
	return rc;
}
