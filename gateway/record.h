/* gateway/record.h — one NDJSON ingest line: validation, canonical form and
 * blind-index tokens (DESIGN.md "Ingest protocol"), in two steps that run
 * in the gateway's two processes (README "Privilege separation"):
 *
 *   rec_check   no key: the JSON parser, every rejection, participant
 *               normalisation, the canonical plaintext.  The network
 *               process runs it on the untrusted line and sends the typed
 *               fields (rec_fields) to the sealer (gateway/batch.h).
 *   rec_tokens  the tenant's blind-index key: dedup, conversation and
 *               participant tokens from those fields.  The sealer runs it;
 *               it parses nothing.
 *
 * rec_parse is the two in a row (tests, the fuzzer).
 *
 * A line is one JSON object:
 *   id            string, 1..256 bytes             (source message id)
 *   channel       "signal" | "whatsapp" | "telegram" | "wechat" | "sms" |
 *                 "mms" | "rcs" | "imessage" | "email" | "voice" | "other"
 *                 (exactly coffer.channel_ok() in migrations/0001)
 *   conversation  string, 1..1024 bytes
 *   direction     "in" | "out"
 *   sender        string, a participant (vault/blind.h normalisation)
 *   recipients    array of 1..1000 participant strings
 *   sent_at       RFC 3339 date-time with "Z" or a numeric offset; fraction
 *                 optional (digits past microseconds are truncated);
 *                 years 0001..9999; second 60 (leap second) is accepted
 *   body          string, may be empty
 *   attachments   optional array of at most 256 objects, each exactly
 *                 {"name": string 1..1024 bytes, "type": string 1..255 bytes,
 *                  "data": standard padded base64 that decodes}
 *   capture_seq   optional integer 1..2^53-1: the capturing device's own
 *                 sequence number (coffer-agent), noted per device for the
 *                 completeness report (migration 0021)
 * A line that is exactly {"heartbeat": {"seq_high": N, "outbox": N,
 * "clock": RFC 3339}} (N integers 0..2^53-1) is a device's heartbeat, not
 * a record: rec_check sets heartbeat and fills hb, and nothing is sealed.
 * Unknown fields (top level or in an attachment) are rejected: everything
 * the archive seals has been validated, and an agent bug shows up at once
 * instead of as silently lost data.  Also rejected: duplicate keys, nesting
 * deeper than REC_DEPTH_MAX, invalid UTF-8, NUL characters, trailing data.
 *
 * Canonical plaintext (what gets sealed): the validated object plus
 * "device": <device id from the client certificate>, serialised as
 * jansson's json_dumps writes it with JSON_COMPACT | JSON_SORT_KEYS, so key
 * order and whitespace in the input do not change it.  rec_check reads the
 * common line (no attachments, no heartbeat, at most 64 recipients) and
 * writes that form itself, without jansson, and hands every other line to
 * rec_check_jansson; both give the same answer for every line.
 *
 * Rejection reasons are fixed strings naming the field ("sent_at: not an
 * RFC 3339 timestamp"); they never contain any byte of the input.
 */
#ifndef COFFER_GATEWAY_RECORD_H
#define COFFER_GATEWAY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "vault/blind.h"

#define REC_ID_MAX           256U
#define REC_CONVERSATION_MAX 1024U
#define REC_RECIPIENTS_MAX   1000U
#define REC_ATTACHMENTS_MAX  256U
#define REC_ATT_NAME_MAX     1024U
#define REC_ATT_TYPE_MAX     255U
#define REC_DEPTH_MAX        8U
#define REC_REASON_MAX       128U
#define REC_CAPTURE_SEQ_MAX  9007199254740991LL   /* 2^53 - 1 */
/* sender + recipients */
#define REC_PARTICIPANTS_MAX (REC_RECIPIENTS_MAX + 1U)
/* sent_at's range in µs since the epoch: 0001-01-01T00:00:00+23:59 ..
 * 9999-12-31T23:59:60.999999-23:59 */
#define REC_SENT_AT_MIN_US   (-62135596800LL * 1000000LL - 86340LL * 1000000LL)
#define REC_SENT_AT_MAX_US   (253402300800LL * 1000000LL + 86340LL * 1000000LL \
                              + 999999LL)

/* The typed fields of a valid line: what the sealer gets instead of JSON.
 * participants is a list of n_participants entries, the normalised sender
 * first, then each recipient's in input order; an entry is a u16 length
 * (host byte order, 1..VAULT_PARTICIPANT_MAX) and that many bytes, the
 * input of vault_participant_token_normalized.  Pointers borrow memory
 * (rec_checked's, or a SUBMIT payload's). */
typedef struct rec_fields {
	unsigned             channel;            /* channels_name(channel) */
	long long            sent_at_us;         /* µs since 1970, UTC */
	const char          *id;                 /* source id, 1..REC_ID_MAX */
	size_t               id_len;
	const char          *conversation;       /* 1..REC_CONVERSATION_MAX */
	size_t               conversation_len;
	const unsigned char *participants;
	size_t               participants_len;   /* bytes */
	size_t               n_participants;     /* 2..REC_PARTICIPANTS_MAX */
	const unsigned char *plaintext;          /* canonical form, >= 1 byte */
	size_t               plaintext_len;
	long long            capture_seq;        /* 0: none */
} rec_fields;

/* A heartbeat line's values. */
typedef struct rec_heartbeat {
	long long seq_high;                      /* 0..REC_CAPTURE_SEQ_MAX */
	long long outbox;                        /* 0..REC_CAPTURE_SEQ_MAX */
	long long clock_us;                      /* the device's clock, UTC */
} rec_heartbeat;

/* rec_check's result: the fields and the memory they point into. */
typedef struct rec_checked {
	rec_fields     f;
	unsigned char *mem;                 /* id, conversation, participants */
	size_t         mem_cap;
	char          *dump;                /* the plaintext (jansson's) */
	char           id[REC_ID_MAX + 1];  /* source id when printable ASCII, else "" */
	int            heartbeat;           /* a heartbeat line: only hb is set */
	rec_heartbeat  hb;
} rec_checked;

typedef struct rec {
	unsigned char  dedup_token[VAULT_TOKEN_BYTES];        /* (device, id) */
	unsigned char  conversation_token[VAULT_TOKEN_BYTES];
	unsigned char *participant_tokens;  /* n_participants x 16, sorted, unique */
	size_t         n_participants;
	const char    *channel;             /* static string from the enum */
	long long      sent_at_us;          /* µs since 1970-01-01T00:00:00Z */
	unsigned char *plaintext;           /* canonical form (malloc'd, NUL after) */
	size_t         plaintext_len;
	char           id[REC_ID_MAX + 1];  /* source id when printable ASCII, else "" */
	long long      capture_seq;         /* 0: none */
	const char    *device;              /* rec_tokens' device, borrowed */
	size_t         device_len;
} rec;

/* Once per process that parses, before threads: makes jansson wipe every
 * block it frees (json_set_alloc_funcs), so parsed content does not linger
 * in the heap, and draws jansson's hash seed now (later the sandbox may
 * refuse the open of /dev/urandom). */
void rec_init(void);

/* For a process that must parse no JSON (the sealer): jansson's blocks are
 * still wiped when freed, and each allocation is counted
 * (rec_json_allocations), so a test can see that it stays at 0. */
void rec_init_counted(void);
unsigned long long rec_json_allocations(void);

/* Validate line[0..len) (no trailing newline) for device, with no key.
 * 0: *out is filled and owned by the caller (rec_checked_clear).  -1:
 * reason holds a fixed rejection reason and *out is cleared except
 * out->id, which is set when the id field itself was valid and printable,
 * so a rejection can still name the client's message. */
int  rec_check(rec_checked *out, const char *line, size_t len,
               const char *device, size_t device_len,
               char *reason, size_t reason_len)
     __attribute__((warn_unused_result));

/* rec_check without its fast path: every line through jansson.  Same
 * contract; rec_check's own answer for any line it does not read itself
 * (tests and the fuzzer compare the two). */
int  rec_check_jansson(rec_checked *out, const char *line, size_t len,
                       const char *device, size_t device_len,
                       char *reason, size_t reason_len)
     __attribute__((warn_unused_result));

/* Wipe and free what rec_check filled, wipe *c.  Accepts a cleared one. */
void rec_checked_clear(rec_checked *c);

/* The tokens of checked fields f (trusted to be within the bounds above)
 * under bik, for device; the plaintext is copied.  0: *out filled (rec_clear).
 * -1 (a token failed: no key, the hash): reason names the field, *out is
 * cleared except out->id. */
int  rec_tokens(rec *out, const rec_fields *f,
                const unsigned char bik[VAULT_BIK_BYTES],
                const char *device, size_t device_len,
                char *reason, size_t reason_len)
     __attribute__((warn_unused_result));

/* rec_check then rec_tokens: the whole line in one process.  Same
 * contract as rec_check. */
int  rec_parse(rec *out, const char *line, size_t len,
               const unsigned char bik[VAULT_BIK_BYTES],
               const char *device, size_t device_len,
               char *reason, size_t reason_len)
     __attribute__((warn_unused_result));

/* Wipe the plaintext, free everything, wipe *r (the source id included).
 * Accepts a cleared rec. */
void rec_clear(rec *r);

/* Wipe and free only the plaintext (after it has been sealed for good). */
void rec_drop_plaintext(rec *r);

/* RFC 3339 date-time -> µs since the epoch, UTC.  0 or -1; on -1 *why is
 * "format" or "range" (unparseable vs impossible date or time). */
int  rec_parse_time(const char *s, size_t len, long long *us_out,
                    const char **why) __attribute__((warn_unused_result));

#endif
