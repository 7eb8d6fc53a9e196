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

void log_init(const char *progname);
void log_set_quiet(int quiet);           /* 1: suppress info */
void log_info(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Copy at most dst_len-1 bytes of src into dst, replacing anything outside
 * printable ASCII with '?'; always NUL-terminates.  Returns dst. */
char *log_printable(char *dst, size_t dst_len, const char *src, size_t src_len);

#endif
