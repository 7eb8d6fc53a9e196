/* common/util.h — small file, hex and id helpers shared by the programs.
 *
 * Files holding secrets are checked before use (regular file, owned by us,
 * no group/other write, no other read) as PostgreSQL does for its key file.
 */
#ifndef COFFER_COMMON_UTIL_H
#define COFFER_COMMON_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UTIL_UUID_BYTES   16U
#define UTIL_UUID_STRLEN  36U

/* Read a whole file of at most max bytes into a malloc'd buffer (NUL added
 * after the data, not counted in *len). */
int  util_read_file(const char *path, size_t max, unsigned char **out,
                    size_t *len, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Write data to path atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory) with the given mode.  Refuses to replace
 * an existing file unless overwrite is set. */
int  util_write_file(const char *path, const void *data, size_t len,
                     mode_t mode, int overwrite, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* A secret file must be a regular file owned by the effective uid (or
 * root) with no permissions for other users beyond group read. */
int  util_check_secret_file(const char *path, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Passphrase from a file (first line, trailing newline stripped) or, when
 * path is NULL, from the terminal without echo.  Never from argv. */
int  util_read_passphrase(const char *path, const char *prompt, char *buf,
                          size_t cap, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Lower-case hex; out must hold 2*len+1. */
void util_hex(char *out, const unsigned char *in, size_t len);
/* Exactly 2*out_len hex digits; 0 or -1. */
int  util_unhex(unsigned char *out, size_t out_len, const char *in,
                size_t in_len) __attribute__((warn_unused_result));

void util_uuid_random(unsigned char id[UTIL_UUID_BYTES]);
void util_uuid_format(char out[UTIL_UUID_STRLEN + 1],
                      const unsigned char id[UTIL_UUID_BYTES]);
int  util_uuid_parse(unsigned char id[UTIL_UUID_BYTES], const char *s)
     __attribute__((warn_unused_result));

/* 1 if s is an RFC 3339 date-time with an explicit offset:
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM) ('t'/'z' and a space for 'T'
 * accepted).  PostgreSQL would also take "now", "epoch" or "infinity";
 * those are refused here on purpose. */
#define UTIL_RFC3339_MAX 36U   /* the longest util_rfc3339_ok string, with its NUL */
int  util_rfc3339_ok(const char *s);

/* A decimal number lo..hi from an option, a config value or a query
 * string: digits only (no blank, no sign, nothing after), no overflow.
 * 0, or -1 with *out untouched; the caller words the error. */
int  util_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
     __attribute__((warn_unused_result));

/* Microseconds since the Unix epoch, UTC (CLOCK_REALTIME): timestamps. */
long long util_now_us(void);

/* Microseconds on CLOCK_MONOTONIC: ages, deadlines and waits, which must
 * not stretch or shrink when the wall clock steps (NTP, an operator). */
long long util_mono_us(void);
/* The same clock in seconds, for rates and durations kept as doubles. */
double    util_mono_s(void);
/* A condition variable whose timed waits run on CLOCK_MONOTONIC, and the
 * absolute time util_mono_us() value at_us for pthread_cond_timedwait on it. */
void util_cond_init_mono(pthread_cond_t *cv);
void util_mono_abstime(struct timespec *ts, long long at_us);

#endif
