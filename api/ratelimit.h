/* api/ratelimit.h — coffer-api's rate limits: one token bucket
 * (common/tbucket.h) per (class, 16-byte key), the key a user id for the
 * per-user limits and an address for refused probes.
 *
 * The buckets live in a fixed table: memory does not grow with the number
 * of callers.  When a key finds no place, the fullest (idlest) bucket near
 * it is given up, which hands its owner a full bucket and nothing more.
 * Thread-safe.
 */
#ifndef COFFER_API_RATELIMIT_H
#define COFFER_API_RATELIMIT_H

typedef struct api_ratelimit api_ratelimit; /* private to ratelimit.c */

/* An empty table of buckets: 0, or -1 (out of memory). */
int  api_ratelimit_new(api_ratelimit **out)
     __attribute__((warn_unused_result));
/* Take one token from (cls, key16)'s bucket, which gains rate_per_min
 * tokens a minute up to burst: 1 allowed; 0 refused with *retry_s the
 * whole seconds to wait. */
int  api_ratelimit_take(api_ratelimit *l, unsigned cls,
                        const unsigned char key16[16], double rate_per_min,
                        double burst, unsigned *retry_s);
/* Free the table (NULL is fine; *l set to NULL). */
void api_ratelimit_free(api_ratelimit **l);

#endif
