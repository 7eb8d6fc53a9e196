/* common/changes.h — LISTEN for the database's change notifications
 * (migration 0012: NOTIFY coffer_changes, '<kind>:<tenant_id>').
 *
 * One thread per listener, on its own connection (never a pooled one: a
 * LISTEN lives as long as its session).  Notifications that arrive
 * together are folded into one call of `fn` with a mask of the kinds
 * seen.  If the connection is lost the listener logs it once, reconnects
 * with a growing pause (CHANGES_BACKOFF_MIN_MS doubling up to
 * CHANGES_BACKOFF_MAX_MS), logs the recovery once, and then calls `fn`
 * with CHANGES_ALL: whatever changed meanwhile was not heard, so the
 * caller reloads everything.  The caller keeps its periodic refresh as
 * the fallback for the time in between.
 *
 * Trusts: the database for the payload's form only; a payload it cannot
 * read counts as CHANGES_ALL.  Logs carry no payload (a tenant id is not
 * secret, but nothing here needs to say it), never the conninfo.
 */
#ifndef COFFER_COMMON_CHANGES_H
#define COFFER_COMMON_CHANGES_H

#include <stddef.h>

#define CHANGES_CHANNEL        "coffer_changes"
#define CHANGES_BACKOFF_MIN_MS 500
#define CHANGES_BACKOFF_MAX_MS 30000

/* kinds, as a mask */
#define CHANGES_TENANT  0x1U       /* coffer.tenants, coffer.tenant_keys */
#define CHANGES_DEVICE  0x2U       /* coffer.devices */
#define CHANGES_USER    0x4U       /* coffer.users */
#define CHANGES_ALL     0x7U       /* reconnected, or a payload not understood */

/* Called on the listener's thread: mask is never 0.  It may block (a
 * reload); notifications arriving meanwhile wait in libpq. */
typedef void (*changes_fn)(void *ctx, unsigned mask);

typedef struct changes changes;

/* The kind of one payload ("device:<uuid>" ...): its mask bit, or
 * CHANGES_ALL when it is not one of the four. */
unsigned changes_kind(const char *payload);

/* Start the thread; it connects by itself (a database down at start is
 * the same as one lost later).  tag names the process in the log lines
 * ("sealer", "keeper").  conninfo is copied and wiped at changes_stop.
 * 0, or -1 with a message. */
int  changes_start(changes **out, const char *conninfo, const char *app_name,
                   const char *tag, changes_fn fn, void *ctx, char *err,
                   size_t err_len) __attribute__((warn_unused_result));
/* Stop and join the thread, close the connection.  NULL ok; sets NULL. */
void changes_stop(changes **c);

#endif
