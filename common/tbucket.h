/* common/tbucket.h — the token bucket, one arithmetic for every limiter.
 *
 * A bucket holds at most `burst` tokens and gains `rate` tokens a second;
 * taking one is allowed when a whole token is there.  The API's per-user
 * limits, the gateway's per-device limit and the log limiter all use it.
 * Times are util_mono_us() readings, passed in so a caller reads the clock
 * once per event and tests can drive the clock.  No locking: the caller
 * owns the bucket (a mutex, or one event loop).
 *
 * Convention: tbucket_take() returns 1 when a token was taken (allowed),
 * 0 when the bucket was empty (refused).
 */
#ifndef COFFER_COMMON_TBUCKET_H
#define COFFER_COMMON_TBUCKET_H

typedef struct tbucket {
	double    tokens;
	long long at_us;          /* when tokens was last brought up to date */
} tbucket;

/* A full bucket as of now_us. */
void   tbucket_init(tbucket *b, double burst, long long now_us);

/* The tokens there would be at now_us, without changing the bucket. */
double tbucket_level(const tbucket *b, double rate, double burst,
                     long long now_us);

/* Bring the bucket up to now_us (rate tokens/s, at most burst), then take
 * a token if there is a whole one: 1 (and *wait_s 0).  Else 0 and *wait_s
 * the whole seconds, at least 1, until one is back.  wait_s may be NULL.
 * A clock reading older than the bucket's adds nothing. */
int    tbucket_take(tbucket *b, double rate, double burst, long long now_us,
                    unsigned *wait_s);

#endif
