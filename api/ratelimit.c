/* api/ratelimit.c — the table of rate-limit buckets (api/ratelimit.h);
 * the bucket arithmetic is common/tbucket.c's.
 *
 * Trusts: nothing it is given — a key is only hashed and compared, so a
 * caller choosing keys (an address, a user id) can at worst evict buckets
 * near its own, which gives their owners full buckets, never fewer tokens.
 * Does not keep: more than LIM_SLOTS buckets; the table is open-addressed
 * and a lookup probes LIM_PROBE slots.
 *
 * Threads: one mutex over the table; the clock is read once per take.
 */
#include "api/ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/tbucket.h"
#include "common/util.h"

#define LIM_SLOTS      4096U
#define LIM_PROBE      8U

typedef struct lim_slot {
	unsigned char key[1 + 16];
	int           used;
	tbucket       b;
} lim_slot;

struct api_ratelimit {
	pthread_mutex_t mu;
	lim_slot       *s;
};

int
api_ratelimit_new(api_ratelimit **out)
{
	api_ratelimit *l;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	if ((l->s = calloc(LIM_SLOTS, sizeof(*l->s))) == NULL) {
		free(l);
		return -1;
	}
	pthread_mutex_init(&l->mu, NULL);
	*out = l;
	return 0;
}

void
api_ratelimit_free(api_ratelimit **lp)
{
	api_ratelimit *l;

	if (lp == NULL || (l = *lp) == NULL)
		return;
	free(l->s);
	pthread_mutex_destroy(&l->mu);
	free(l);
	*lp = NULL;
}

int
api_ratelimit_take(api_ratelimit *l, unsigned cls,
    const unsigned char key16[16], double rate_per_min, double burst,
    unsigned *retry_s)
{
	unsigned char key[17];
	uint32_t h = 2166136261U;
	long long now = util_mono_us();
	double rate = rate_per_min / 60.0, best = -1.0;
	lim_slot *slot = NULL, *empty = NULL, *victim = NULL;
	size_t i;
	int ok;

	key[0] = (unsigned char)cls;
	memcpy(key + 1, key16, 16);
	for (i = 0; i < sizeof(key); i++)
		h = (h ^ key[i]) * 16777619U;
	pthread_mutex_lock(&l->mu);
	for (i = 0; i < LIM_PROBE; i++) {
		lim_slot *s = &l->s[(h + i) % LIM_SLOTS];

		if (s->used && memcmp(s->key, key, sizeof(key)) == 0) {
			slot = s;
			break;
		}
		if (!s->used) {
			if (empty == NULL)
				empty = s;
		} else {
			/* The fullest bucket is the idlest: evicting it gives
			 * its owner a fresh (full) bucket, nothing more. */
			double t = tbucket_level(&s->b, rate, burst, now);

			if (t > best) {
				best = t;
				victim = s;
			}
		}
	}
	if (slot == NULL) {
		slot = empty != NULL ? empty : victim;
		memcpy(slot->key, key, sizeof(key));
		slot->used = 1;
		tbucket_init(&slot->b, burst, now);
	}
	ok = tbucket_take(&slot->b, rate, burst, now, retry_s);
	pthread_mutex_unlock(&l->mu);
	return ok;
}
