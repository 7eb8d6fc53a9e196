/* agent/daemon.h — coffer-agent's loop: spool intake, delivery with
 * retries, heartbeats, status.json.
 */
#ifndef COFFER_AGENT_DAEMON_H
#define COFFER_AGENT_DAEMON_H

#include <signal.h>

#include "agent/config.h"

/* Run until *stop is set (SIGTERM/SIGINT).  0 on a clean stop, 1 when a
 * journal write failed or the state cannot be opened (logged). */
int agent_run(const agent_config *cfg, volatile sig_atomic_t *stop);

/* The line as sent: with "capture_seq":seq as its first member when
 * with_seq, else as stored.  Appends to *buf (wiped when grown).  0/-1. */
int agent_line_out(unsigned char **buf, size_t *len, size_t *cap,
                   const unsigned char *line, size_t line_len,
                   unsigned long long seq, int with_seq)
    __attribute__((warn_unused_result));

#endif
