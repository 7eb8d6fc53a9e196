/* common/tbucket.c — token bucket arithmetic (see tbucket.h).
 *
 * Rates and bursts come from validated configuration (rate > 0); the
 * arithmetic is in double, which is exact enough for seconds-scale waits.
 * The wait is rounded up, so a client that waits as told finds a token.
 */
#include "common/tbucket.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>

void
tbucket_init(tbucket *b, double burst, long long now_us)
{
	b->tokens = burst;
	b->at_us = now_us;
}

double
tbucket_level(const tbucket *b, double rate, double burst, long long now_us)
{
	double t = b->tokens;

	if (now_us > b->at_us)
		t += (double)(now_us - b->at_us) / 1e6 * rate;
	return t > burst ? burst : t;
}

int
tbucket_take(tbucket *b, double rate, double burst, long long now_us,
    unsigned *wait_s)
{
	double wait;

	b->tokens = tbucket_level(b, rate, burst, now_us);
	if (now_us > b->at_us)
		b->at_us = now_us;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		if (wait_s != NULL)
			*wait_s = 0;
		return 1;
	}
	if (wait_s != NULL) {
		wait = rate > 0.0 ? ceil((1.0 - b->tokens) / rate) : (double)UINT_MAX;
		*wait_s = wait < 1.0 ? 1U : wait >= (double)UINT_MAX ? UINT_MAX :
		    (unsigned)wait;
	}
	return 0;
}
