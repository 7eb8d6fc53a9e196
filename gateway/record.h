/* gateway/record.h — one NDJSON ingest line: validation, canonical form and
 * blind-index tokens (DESIGN.md "Ingest protocol").
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
 * Unknown fields (top level or in an attachment) are rejected: everything
 * the archive seals has been validated, and an agent bug shows up at once
 * instead of as silently lost data.  Also rejected: duplicate keys, nesting
 * deeper than REC_DEPTH_MAX, invalid UTF-8, NUL characters, trailing data.
 *
 * Canonical plaintext (what gets sealed): the validated object plus
 * "device": <device id from the client certificate>, serialised by jansson
 * with JSON_COMPACT | JSON_SORT_KEYS, so key order and whitespace in the
 * input do not change it.
 *
 * Rejection reasons are fixed strings naming the field ("sent_at: not an
 * RFC 3339 timestamp"); they never contain any byte of the input.
 */
#ifndef COFFER_GATEWAY_RECORD_H
#define COFFER_GATEWAY_RECORD_H

#include <stddef.h>

#include "vault/blind.h"

#define REC_ID_MAX           256U
#define REC_CONVERSATION_MAX 1024U
#define REC_RECIPIENTS_MAX   1000U
#define REC_ATTACHMENTS_MAX  256U
#define REC_ATT_NAME_MAX     1024U
#define REC_ATT_TYPE_MAX     255U
#define REC_DEPTH_MAX        8U
#define REC_REASON_MAX       128U

typedef struct rec {
	unsigned char  dedup_token[VAULT_TOKEN_BYTES];        /* (device, id) */
	unsigned char  conversation_token[VAULT_TOKEN_BYTES];
	unsigned char *participant_tokens;  /* n_participants x 16, sorted, unique */
	size_t         n_participants;
	const char    *channel;             /* static string from the enum */
	long long      sent_at_us;          /* µs since 1970-01-01T00:00:00Z */
	unsigned char *plaintext;           /* canonical form (malloc'd) */
	size_t         plaintext_len;
	char           id[REC_ID_MAX + 1];  /* source id when printable ASCII, else "" */
} rec;

/* Once per process, before threads: makes jansson wipe every block it frees
 * (json_set_alloc_funcs), so parsed content does not linger in the heap. */
void rec_init(void);

/* Validate line[0..len) (no trailing newline) for a device of the tenant
 * whose blind-index key is bik.  0: *out is filled and owned by the caller
 * (rec_clear).  -1: reason holds a fixed rejection reason and *out is
 * cleared except out->id, which is set when the id field itself was valid
 * and printable, so a rejection can still name the client's message. */
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

/* Valid UTF-8 (no overlong forms, surrogates, or code points past
 * U+10FFFF): 1, else 0. */
int  rec_utf8_valid(const unsigned char *s, size_t len);

#endif
