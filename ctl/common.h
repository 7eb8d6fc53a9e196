/* ctl/common.h — what every cofferctl verb shares: the database
 * connection, numeric option values, error and usage messages.
 *
 * Messages go to stderr as one line "cofferctl: …"; a verb names itself
 * in the text ("approve: …", "export open: …").  Exit statuses: 0 success,
 * 1 failure, 2 usage error.
 */
#ifndef COFFER_CTL_COMMON_H
#define COFFER_CTL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#define CTL_EXIT_OK    0
#define CTL_EXIT_FAIL  1
#define CTL_EXIT_USAGE 2

/* -- database -------------------------------------------------------------- */

/* The PostgreSQL connection string for cofferctl: the `pg_conninfo = …` key
 * of config_path, or "" (libpq defaults from the PG* environment) when
 * config_path is NULL or the file has no such key.  A config file holding a
 * password must not be readable by group or others.  0 or -1. */
int ctl_conninfo(const char *config_path, char *out, size_t out_len,
                 char *err, size_t err_len) __attribute__((warn_unused_result));

/* Connect as configured (see ctl_conninfo), application_name "cofferctl";
 * NULL with "cofferctl: <why>" on stderr.  The conninfo is never printed. */
PGconn *ctl_connect(const char *config_path) __attribute__((warn_unused_result));

/* Who acts, for audit events and created_by/released_by: this tool has no
 * client certificate, so the OS uid and the database role stand in
 * ("cofferctl uid=N db=ROLE"). */
void ctl_actor(PGconn *c, char *out, size_t cap);

/* -- help ------------------------------------------------------------------- */

/* Set by ctl/main.c while it asks a verb for its usage text (`--help`
 * anywhere after the verb): ctl_connect() then refuses, so a verb that
 * would reach the database instead of its usage does nothing. */
void ctl_help_mode_set(int on);
int  ctl_help_mode(void);

/* -- lists ------------------------------------------------------------------ */

/* The EXPIRES and STATUS columns of `device list` and `user list`:
 * not_after as YYYY-MM-DDTHH:MM:SSZ, or "-" when unknown (0); status
 * "expired" for an active certificate past not_after, else status. */
void        ctl_list_expiry(time_t not_after, char *out, size_t cap);
const char *ctl_list_status(const char *status, time_t not_after, time_t now);

/* -- option values --------------------------------------------------------- */

/* A decimal number lo..hi: digits only (no sign, no blanks, nothing after),
 * no overflow.  0, or -1 with *out untouched; the caller words the error
 * ("--days must be 1 to 825"). */
int ctl_parse_long(const char *s, long lo, long hi, long *out)
    __attribute__((warn_unused_result));
int ctl_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
    __attribute__((warn_unused_result));
int ctl_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
    __attribute__((warn_unused_result));

/* -- messages -------------------------------------------------------------- */

/* "cofferctl: " fmt "\n" on stderr, one write, at most 1023 characters. */
void ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: ctl_fail(fmt, …) unless fmt is NULL, then usage (the
 * verb's usage text) on stderr.  Returns CTL_EXIT_USAGE. */
int ctl_usage(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
