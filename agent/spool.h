/* agent/spool.h — taking records from the spool directory into the outbox.
 *
 * Convention for writers: write NAME.tmp (or any name not ending in
 * .ndjson) in the spool directory, fsync it, then rename(2) it to
 * NAME.ndjson.  The agent takes only regular files named *.ndjson (not
 * starting with '.'), in name order; a file is complete when it has that
 * name.  One JSON object a line, with a string "id"; blank lines are
 * skipped.
 *
 * A line is checked lightly (a JSON object, no duplicate keys, "id" a
 * string of 1..256 bytes, no "capture_seq" of its own, at most
 * batch_max_bytes) — the gateway validates the rest.  A bad line goes to
 * SPOOL/rejected/NAME with the reason, fsync'd before the outbox records
 * the file's position past it; a good one becomes an outbox entry.  The
 * file is removed only after every line of it is in the fsync'd outbox or
 * in rejected/.  When the outbox is full, intake stops at that line (the
 * position is kept: nothing is taken twice, nothing is lost) and resumes
 * when deliveries make room.
 *
 * Logs spool file names and counts, never a line's content or its id.
 */
#ifndef COFFER_AGENT_SPOOL_H
#define COFFER_AGENT_SPOOL_H

#include <stddef.h>

#include "agent/config.h"
#include "agent/outbox.h"

#define SPOOL_REASON_MAX 128U

typedef struct spool_pass {
	size_t taken;       /* lines into the outbox */
	size_t rejected;    /* lines into rejected/ */
	size_t files;       /* files finished and removed */
	int    full;        /* stopped: the outbox is full */
	int    more;        /* stopped at the per-pass cap: call again soon */
} spool_pass;

/* Make jansson wipe every block it frees (parsed lines are content). */
void spool_json_init(void);

/* Light check of one line (no trailing newline).  0: a record; 1: blank
 * (skip); -1: rejected, reason set (a fixed text, no byte of the line). */
int  spool_check_line(const unsigned char *line, size_t len, size_t max_bytes,
                      char *reason, size_t reason_len);

/* One pass over the spool directory.  0, or -1 with err (the caller treats
 * a failed outbox or rejected/ write as fatal: memory is ahead of disk). */
int  spool_intake(const agent_config *cfg, outbox *o, spool_pass *res,
                  char *err, size_t err_len) __attribute__((warn_unused_result));

/* Append one rejected entry (JSON object with "reason" and the record)
 * to SPOOL/rejected/FILE, fsync'd.  source: spool file name or NULL,
 * capture_seq: 0 when not in the outbox yet. */
int  spool_reject_write(const agent_config *cfg, const char *file,
                        const char *source, unsigned long long offset,
                        unsigned long long capture_seq, const char *reason,
                        const unsigned char *line, size_t len, char *err,
                        size_t err_len) __attribute__((warn_unused_result));

/* Lines in SPOOL/rejected/ now (coffer-agent status). */
unsigned long long spool_rejected_count(const agent_config *cfg);

#endif
