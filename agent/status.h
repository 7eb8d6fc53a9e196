/* agent/status.h — the daemon's counters in STATE/status.json, and what
 * `coffer-agent status` prints.
 *
 * status.json is rewritten atomically (common/util.h util_write_file:
 * temporary file, fsync, rename, fsync of the directory) at most once a
 * second while something changes, and at exit.  Its counters
 * (rejected_total, outbox_full_total, retries_total) carry over a
 * restart; what the journals hold (pending, delivered, capture_seq
 * high-water, last receipt) is read from the journals themselves by
 * `status`, so it is exact even after kill -9.
 */
#ifndef COFFER_AGENT_STATUS_H
#define COFFER_AGENT_STATUS_H

#include <stddef.h>

#include "agent/outbox.h"

#define STATUS_ERROR_MAX 200U

typedef struct agent_counters {
	unsigned long long rejected_total;     /* spool lines + gateway */
	unsigned long long outbox_full_total;  /* times intake stopped */
	unsigned long long retries_total;      /* requests to be repeated */
	unsigned long long delivered_run;      /* receipts kept this run */
	int                outbox_full;        /* intake stopped now */
	long long          last_error_us;
	char               last_error[STATUS_ERROR_MAX];
	char               last_error_at[40];  /* as read back (status) */
} agent_counters;

/* RFC 3339 UTC with microseconds ("2026-12-07T01:02:03.000004Z");
 * us 0: "". */
void status_rfc3339(char *out, size_t cap, long long us);

/* Write status.json for pid.  0 or -1 with err. */
int  status_write(const char *state_dir, long pid, const agent_counters *c,
                  const obx_stats *st, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Counters from an earlier status.json (missing or unreadable: zeros). */
void status_read(const char *state_dir, agent_counters *c, long *pid);

/* The report of `coffer-agent status`: the journals read-only, the
 * daemon's counters, rejected/ lines.  json: one JSON object.  0 or -1. */
int  status_print(const char *state_dir, unsigned long long rejected_lines,
                  int json, char *err, size_t err_len)
     __attribute__((warn_unused_result));

#endif
