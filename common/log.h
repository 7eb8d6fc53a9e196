/* common/log.h — logging that never carries secrets.
 *
 * Levels follow Postfix's msg_*: info, warn (something is off, carrying on),
 * error (this request/operation failed), fatal (start-up cannot continue:
 * exit 1).  Log ids, fingerprints, paths and byte counts — never keys,
 * passphrases, tokens, conninfo, message content or participant identifiers.
 * Peer-supplied strings go through log_printable() first.
 */
#ifndef COFFER_COMMON_LOG_H
#define COFFER_COMMON_LOG_H

#include <stddef.h>

#include "common/tbucket.h"

void log_init(const char *progname);
void log_set_quiet(int quiet);           /* 1: suppress info */
void log_info(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Copy at most dst_len-1 bytes of src into dst, replacing anything outside
 * printable ASCII with '?'; always NUL-terminates.  Returns dst. */
char *log_printable(char *dst, size_t dst_len, const char *src, size_t src_len);

/* A token bucket for log lines an attacker can trigger at will (refused
 * handshakes, probes): rate lines a second after a burst; the lines held
 * back are counted and reported as "WHAT: N more not logged (rate limit)"
 * once a token is back.  Not thread-safe: one per event loop.  Metrics
 * still count every event. */
typedef struct log_limit {
	tbucket        tb;
	double         rate, burst;
	unsigned long  suppressed;
	const char    *what;
} log_limit;

void log_limit_init(log_limit *l, double rate, double burst, const char *what);
/* 1: log the line; 0: over the rate (counted). */
int log_limit_allow(log_limit *l);
/* Report the lines held back, if a token is there for it. */
void log_limit_flush(log_limit *l);

#endif
