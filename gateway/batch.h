/* gateway/batch.h — one request's lines as the network process validated
 * them: the SUBMIT payload after the peer block (gateway/sealer.h).
 *
 * The network process splits the body into lines and runs rec_check on
 * each (batch_build): the JSON parser and every rejection run there, in
 * the process that holds no key.  The sealer reads typed fields only
 * (batch_decode), checks every length and count before it trusts it, and
 * turns the fields into tokens and sealed records; it parses no JSON.
 *
 * Layout (host byte order: both ends are the same binary; no padding):
 *
 *   header   u64 body_bytes   the request body's length (<= max_body_bytes)
 *            u32 nlines       lines in the body (<= body_bytes)
 *   then, when nlines <= max_records, exactly nlines entries, in line
 *   order; when nlines > max_records none (the sealer answers 413, after
 *   it checked the device, as before).
 *
 *   accepted   u8  kind = BATCH_ACCEPTED
 *              u8  channel           index (common/channels.h)
 *              u16 id_len            1..REC_ID_MAX
 *              u16 conversation_len  1..REC_CONVERSATION_MAX
 *              u16 n_participants    2..REC_PARTICIPANTS_MAX
 *              u32 participants_len  the list's bytes
 *              u32 plaintext_len     1..max_line_bytes + BATCH_LINE_SLACK
 *              i64 sent_at_us        REC_SENT_AT_MIN_US..REC_SENT_AT_MAX_US
 *              i64 capture_seq       0 (none) or 1..REC_CAPTURE_SEQ_MAX
 *              id, conversation, participants (each a u16 length
 *              1..VAULT_PARTICIPANT_MAX and its bytes: record.h's
 *              rec_fields list, exactly participants_len bytes in all),
 *              plaintext
 *   rejected   u8  kind = BATCH_REJECTED
 *              u8  reason_len        1..REC_REASON_MAX - 1
 *              u16 id_len            0..REC_ID_MAX (the id to echo)
 *              id, reason            printable ASCII, both
 *   too large  u8  kind = BATCH_TOO_LARGE, u8 0, u16 0
 *              (the line was over max_line_bytes: "record too large")
 *   heartbeat  u8  kind = BATCH_HEARTBEAT, u8 0, u16 0,
 *              i64 seq_high, i64 outbox  0..REC_CAPTURE_SEQ_MAX
 *              i64 clock_us              REC_SENT_AT_MIN_US..MAX_US
 *
 * The entries must end exactly at the payload's end.  The payload is at
 * most batch_max() bytes: per line at most twice the line (the fields are
 * disjoint pieces of it, the canonical plaintext no longer than it) plus
 * BATCH_LINE_SLACK.
 */
#ifndef COFFER_GATEWAY_BATCH_H
#define COFFER_GATEWAY_BATCH_H

#include <stddef.h>

#include "gateway/record.h"

#define BATCH_HDR_BYTES      12U
#define BATCH_ACCEPTED_FIXED 32U
#define BATCH_REJECTED_FIXED 4U
#define BATCH_HEARTBEAT_FIXED 28U
/* room per line beyond twice its length: the fixed part, an echoed id, a
 * reason, and the "device" member the canonical form adds */
#define BATCH_LINE_SLACK     1024U

enum {
	BATCH_ACCEPTED = 1, BATCH_REJECTED = 2, BATCH_TOO_LARGE = 3,
	BATCH_HEARTBEAT = 4
};

typedef struct batch_limits {
	size_t   max_body_bytes;
	size_t   max_line_bytes;
	unsigned max_records;
} batch_limits;

/* One line as the sealer sees it; pointers into the batch's payload. */
typedef struct batch_line {
	int         kind;
	rec_fields  f;               /* BATCH_ACCEPTED */
	const char *id;              /* BATCH_REJECTED: id to echo, may be empty */
	size_t      id_len;
	const char *reason;          /* BATCH_REJECTED */
	size_t      reason_len;
	rec_heartbeat hb;            /* BATCH_HEARTBEAT */
} batch_line;

typedef struct batch {
	unsigned char *buf;          /* the payload (owned; wiped when freed) */
	size_t         len;
	size_t         body_bytes;
	size_t         nlines;
	batch_line    *lines;        /* nlines entries; NULL when none were sent */
} batch;

/* Largest payload for these limits (fits in a message: below 4 GiB for
 * every configuration gateway/config.c accepts). */
size_t batch_max(const batch_limits *lim);

/* The network process: split body[0..body_len) into lines (a final line
 * without '\n' counts; a trailing '\r' is dropped), validate each with
 * rec_check for device, encode.  0: *out (malloc'd, holds message
 * content: the caller wipes and frees it) and *out_len.  -1 with err: out
 * of memory, or a payload over batch_max (a broken invariant). */
int  batch_build(const char *body, size_t body_len, const char *device,
                 size_t device_len, const batch_limits *lim,
                 unsigned char **out, size_t *out_len, char *err,
                 size_t err_len) __attribute__((warn_unused_result));

/* The sealer: check buf[0..len) against the layout above and index its
 * lines.  Takes ownership of buf in every case (on failure it is wiped
 * and freed).  0: *b filled (batch_free).  -1: err names the first fault
 * ("SUBMIT line 3: channel 12 out of range"); *b is empty. */
int  batch_decode(batch *b, unsigned char *buf, size_t len,
                  const batch_limits *lim, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Wipe and free the payload and the index; *b empty.  Accepts an empty
 * one. */
void batch_free(batch *b);

#endif
