/* common/twoperson.h — which retention changes need two persons, and the
 * tenant's regulatory floor (migrations/0009_two_person.sql), shared by
 * `cofferctl retention` and coffer-api's /v1/retention.
 *
 * A change shortens retention when some record would be disposed of
 * earlier than under the policy in force for its channel: the channel's
 * own policy, else the tenant default '*', else none (kept forever).  A
 * tenant's very first policy is a set-up act, not a shortening: it is one
 * person's, and the floor is what bounds it.  No policy may be shorter
 * than the floor (a trigger enforces it for every role).
 */
#ifndef COFFER_COMMON_TWOPERSON_H
#define COFFER_COMMON_TWOPERSON_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/util.h"

#define TWOPERSON_FLOOR_DEFAULT  2192U   /* days: 6 years */

#define TWOPERSON_FIRST    0   /* the tenant has no policy yet */
#define TWOPERSON_LONGER   1   /* same or longer: one person */
#define TWOPERSON_SHORTER  2   /* shorter: a second person must approve */

typedef struct twoperson_retention {
	int      klass;          /* TWOPERSON_* */
	unsigned floor_days;     /* the tenant's floor */
	int      below_floor;    /* days (not forever) < floor_days */
	char     effective[64];  /* what applies to the channel now: "365 days",
	                          * "forever", "none" */
	char     own[64];        /* the channel's own row as retention_policy_set
	                          * reports it: "none", "forever", "365 days" */
} twoperson_retention;

/* Classify setting channel's policy to days (0 = forever) for the tenant.
 * Read-only; call inside the transaction that will make the change, after
 * audit_lock_tenant().  0, or -1 (err; "no tenant" when it is unknown). */
int twoperson_retention_class(PGconn *c,
                              const unsigned char tenant_id[UTIL_UUID_BYTES],
                              const char *channel, unsigned days,
                              twoperson_retention *out,
                              char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* The floor's refusal, the exact text every path uses:
 * "retention of N days is below the tenant's regulatory floor of F days
 * (lowering the floor needs two persons)". */
void twoperson_floor_message(char *out, size_t cap, unsigned days,
                             unsigned floor_days);

#endif
