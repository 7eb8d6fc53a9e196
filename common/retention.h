/* common/retention.h — the changes behind legal holds and retention
 * policies, shared by `cofferctl hold|retention` and coffer-api's
 * /v1/holds and /v1/retention (migrations/0002_retention.sql holds the
 * rules that purge applies).
 *
 * Each function makes one change inside the CALLER'S open transaction and
 * does not append the audit event itself: the caller writes exactly one
 * event for its request or command, in that same transaction, with the
 * values returned here (ids, old and new retention, normalised times).
 *
 * Participants and conversations arrive as blind-index tokens
 * (VAULT_TOKEN_BYTES each, vault/blind.h): the values they were made from
 * never reach this module.  Nothing here logs.
 */
#ifndef COFFER_COMMON_RETENTION_H
#define COFFER_COMMON_RETENTION_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/util.h"

#define RETENTION_TOKEN_BYTES  16U
#define RETENTION_DAYS_MAX     36500U    /* 100 years */
#define RETENTION_REASON_MAX   500U      /* characters */
#define RETENTION_BY_MAX       256U
#define RETENTION_TIME_MAX     40U       /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL */
#define RETENTION_VALUE_MAX    64U       /* "none", "forever", "365 days" */


typedef struct retention_hold {
	const unsigned char *matter_id;        /* UTIL_UUID_BYTES, or NULL */
	const char          *reason;           /* NULL or 1..500 characters */
	const unsigned char *participants;     /* n × 16-byte tokens */
	size_t               nparticipants;
	const unsigned char *conversations;    /* n × 16-byte tokens */
	size_t               nconversations;
	const char *const   *channels;         /* channels_ok() each */
	size_t               nchannels;
	const char          *from, *to;        /* util_rfc3339_ok, or NULL */
	const char          *created_by;       /* who, 1..256 printable bytes */
} retention_hold;

/* Insert a hold (a new random id in hold_id_out).  from_out/to_out
 * (RETENTION_TIME_MAX) get the bounds as stored, in UTC ("" for none).
 * A matter id must name a matter of the tenant.  0, or -1 with err (a
 * constraint the input broke, or the database's message). */
int retention_hold_create(PGconn *c, const unsigned char tenant_id[UTIL_UUID_BYTES],
                          const retention_hold *h,
                          unsigned char hold_id_out[UTIL_UUID_BYTES],
                          char *from_out, char *to_out,
                          char *err, size_t err_len)
    __attribute__((warn_unused_result));

#define RETENTION_RELEASED      0
#define RETENTION_NO_HOLD       1   /* no hold of that id in the tenant */
#define RETENTION_NOT_ACTIVE    2   /* released already */

/* Release an active hold: RETENTION_RELEASED, RETENTION_NO_HOLD,
 * RETENTION_NOT_ACTIVE, or -1 (err). */
int retention_hold_release(PGconn *c, const unsigned char tenant_id[UTIL_UUID_BYTES],
                           const unsigned char hold_id[UTIL_UUID_BYTES],
                           const char *released_by, char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Set the tenant's policy for channel ('*' = tenant default): days
 * 1..RETENTION_DAYS_MAX, or 0 for keep-forever.  Takes the tenant's audit
 * lock first so old_out is the value this change replaced.  old_out and
 * new_out (RETENTION_VALUE_MAX): "none" (no policy), "forever", or
 * PostgreSQL's interval text ("365 days").  0 or -1 (err). */
int retention_policy_set(PGconn *c, const unsigned char tenant_id[UTIL_UUID_BYTES],
                         const char *channel, unsigned days,
                         const char *updated_by, char *old_out, char *new_out,
                         char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
