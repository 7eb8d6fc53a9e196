/* agent/outbox.h — the agent's durable outbox and receipts journal.
 *
 * State directory layout (all files 0600, directory 0700):
 *   outbox.journal    records accepted from the spool, not yet delivered
 *   receipts.journal  the gateway's receipt for every delivered record:
 *                     the device's own proof of what was archived; only
 *                     ever appended to
 *   agent.lock        flock'd by the running daemon
 *   status.json       the daemon's counters (agent/status.h)
 *
 * Outbox entries (agent/journal.h framing; seq is the capture_seq):
 *   OBX_BASE      capture_seq high-water, written first by a compaction
 *   OBX_ADD       one record: its spool file (name, identity: agent/spool.c
 *                 spool_file_id), the offset just
 *                 past its line in that file, then the line itself
 *   OBX_DONE      a record left the outbox: 'd' delivered (its receipt is in
 *                 receipts.journal) or 'r' rejected by the gateway
 *   OBX_SPOOL     a spool file's intake position (name, inode; seq is the
 *                 offset): lines up to there are in the outbox or rejected/
 *   OBX_SPOOL_GONE the spool file was removed
 * Receipts entries: OBX_RECEIPT, seq = capture_seq, payload one JSON object
 *   {"capture_seq":N,"id":"...","status":"stored|duplicate",
 *    "receipt":"<stream>:<seq>:<leaf-hash>","at":"<RFC 3339 UTC>"}
 *
 * Ordering that makes kill -9 at any moment safe:
 *   - each ADD carries its spool position, so any ADD on disk also proves
 *     its line was taken (no second copy of a line with a new capture_seq
 *     after a crash between the outbox's fsync and the spool file's
 *     removal); the spool file is removed only after that fsync;
 *   - capture_seq is the high-water of BASE and every ADD: a number that
 *     reached the gateway was fsync'd first, so it is never handed out
 *     again;
 *   - a receipt is fsync'd before its DONE; a receipt without its DONE
 *     (crash in between) is found at open and the DONE written then, so a
 *     record's receipt is kept exactly once even though the gateway is
 *     asked again (it answers "duplicate" with the same receipt).
 *
 * One writer (the daemon, holding agent.lock); readers (coffer-agent
 * status) open read-only, never cut or write, and stop quietly at a torn
 * tail the daemon may be writing.
 */
#ifndef COFFER_AGENT_OUTBOX_H
#define COFFER_AGENT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define OBX_BASE        1U
#define OBX_ADD         2U
#define OBX_DONE        3U
#define OBX_SPOOL       4U
#define OBX_SPOOL_GONE  5U
#define OBX_RECEIPT     16U

#define OBX_NAME_MAX    255U     /* a spool file name (no '/') */
#define OBX_RECEIPT_MAX 2048U    /* one receipts entry */

typedef struct outbox outbox;

/* A pending record, in capture_seq order; data borrows the outbox's copy
 * (valid until the next call that changes the outbox). */
typedef struct obx_rec {
	uint64_t       seq;
	size_t         len;
	unsigned char *data;
	int            done;        /* DONE buffered or on disk */
	int            receipted;   /* its receipt is kept */
} obx_rec;

/* What a scan of the state directory found (also coffer-agent status). */
typedef struct obx_stats {
	uint64_t  seq_high;         /* highest capture_seq handed out */
	size_t    pending;          /* records in the outbox */
	size_t    pending_bytes;    /* their line bytes */
	uint64_t  receipts;         /* entries in receipts.journal */
	long long last_receipt_us;  /* "at" of the last receipt, 0: none */
	size_t    outbox_file_bytes;
	int       outbox_torn;      /* a torn tail was found (and cut, rw) */
	int       receipts_torn;
} obx_stats;

/* Open (creating) the journals in dir.  readonly: take no lock, cut
 * nothing, write nothing (a torn tail is skipped, damage still refused).
 * Otherwise: flock agent.lock (refused when another daemon holds it), cut
 * torn tails, write the DONE of every pending record that already has a
 * receipt.  0 or -1 with err. */
int  obx_open(outbox **out, const char *dir, int readonly, char *err,
              size_t err_len) __attribute__((warn_unused_result));
/* Close, wipe and free every record copy; accepts NULL, nulls *o. */
void obx_close(outbox **o);

void obx_stats_get(const outbox *o, obx_stats *st);

/* Take a line from spool file name (inode ino), ending at end_off in it:
 * a new capture_seq into *seq.  Buffered: durable at obx_sync(). */
int  obx_add(outbox *o, const char *name, ino_t ino, uint64_t end_off,
             const unsigned char *line, size_t len, uint64_t *seq,
             char *err, size_t err_len) __attribute__((warn_unused_result));
/* Record a spool file's intake position (lines up to off were taken or
 * rejected) / its removal.  Buffered. */
int  obx_spool_pos(outbox *o, const char *name, ino_t ino, uint64_t off,
                   char *err, size_t err_len)
     __attribute__((warn_unused_result));
int  obx_spool_gone(outbox *o, const char *name, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Forget the positions of files not among names[0..n) (sorted by
 * strcmp): a crash between a spool file's removal and its SPOOL_GONE
 * leaves one behind.  Buffered; *dropped how many. */
int  obx_spool_prune(outbox *o, char *const *names, size_t n, size_t *dropped,
                     char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* The intake position recorded for name with inode ino (0: none). */
uint64_t obx_spool_offset(const outbox *o, const char *name, ino_t ino);

/* Write what is buffered and fsync the outbox.  0 or -1. */
int  obx_sync(outbox *o, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* The oldest pending records, at most max_n of them and max_bytes of
 * lines (always at least one when any is pending): *recs points into the
 * outbox, *n how many. */
void obx_batch(outbox *o, size_t max_n, size_t max_bytes, obx_rec ***recs,
               size_t *n);

/* 1 if seq has a receipt already (kept once per capture_seq). */
int  obx_has_receipt(const outbox *o, uint64_t seq);
/* Append a receipt (json, one object) for seq, unless it has one, and
 * fsync receipts.journal. */
int  obx_receipt(outbox *o, uint64_t seq, const char *json, size_t len,
                 long long at_us, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* seq left the outbox: 'd' delivered or 'r' rejected.  Buffered. */
int  obx_done(outbox *o, uint64_t seq, char how, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Rewrite outbox.journal with only the live entries when delivered ones
 * dominate (force: always): a new file, fsync, rename over, fsync of the
 * directory.  0 (compacted or not needed) or -1. */
int  obx_compact(outbox *o, int force, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Write every kept receipt to f, one JSON object a line, in the order
 * they were kept (coffer-agent receipts).  Read-only; a torn tail the
 * daemon may be writing is not printed.  0 or -1 with err. */
int  obx_receipts_dump(const char *dir, FILE *f, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Replay an outbox journal image into a fresh in-memory outbox (no files):
 * for the fuzzer and tests.  0 or -1 with err. */
int  obx_replay_mem(const unsigned char *buf, size_t len, obx_stats *st,
                    char *err, size_t err_len)
     __attribute__((warn_unused_result));

#endif
