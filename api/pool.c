/* api/pool.c — the database connection pool (api/pool.h).
 *
 * Trusts: the configuration's conninfo, and its callers to give back what
 * they borrow.  Does not trust: a connection's state when it comes back or
 * has sat idle — it is checked (a database restart closes every idle one),
 * rolled back, reset or closed before it is handed out again.
 *
 * Threads: one mutex guards the idle list and the count; borrowers wait on
 * a condition variable on the monotonic clock.  Connecting, resetting and
 * closing happen outside the lock.
 */
#include "api/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pg.h"
#include "common/util.h"

#define POOL_WAIT_S    10

struct api_pool {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	PGconn        **idle;
	size_t          nidle, total, max;
	const char     *conninfo;
};

int
api_pool_new(api_pool **out, const char *conninfo, size_t max)
{
	api_pool *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	if ((p->idle = calloc(max, sizeof(*p->idle))) == NULL) {
		free(p);
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	util_cond_init_mono(&p->cv);
	p->max = max;
	p->conninfo = conninfo;
	*out = p;
	return 0;
}

void
api_pool_free(api_pool **pp)
{
	api_pool *p;
	size_t i;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	for (i = 0; i < p->nidle; i++)
		pg_close(&p->idle[i]);
	free(p->idle);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
	*pp = NULL;
}

PGconn *
api_pool_get(api_pool *p, char *err, size_t err_len)
{
	struct timespec until;
	PGconn *c = NULL;

	util_mono_abstime(&until, util_mono_us() + POOL_WAIT_S * 1000000LL);
	pthread_mutex_lock(&p->mu);
	while (p->nidle == 0 && p->total >= p->max)
		if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&p->mu);
			snprintf(err, err_len, "every database connection is busy");
			return NULL;
		}
	if (p->nidle > 0) {
		c = p->idle[--p->nidle];
		pthread_mutex_unlock(&p->mu);
		if (PQstatus(c) == CONNECTION_OK)
			return c;
		PQreset(c);
		if (PQstatus(c) == CONNECTION_OK)
			return c;
		pg_close(&c);
		pthread_mutex_lock(&p->mu);
		p->total--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		snprintf(err, err_len, "database connection lost");
		return NULL;
	}
	p->total++;
	pthread_mutex_unlock(&p->mu);
	c = pg_connect_app(p->conninfo, "coffer-api", err, err_len);
	if (c == NULL) {
		pthread_mutex_lock(&p->mu);
		p->total--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return c;
}

void
api_pool_put(api_pool *p, PGconn **cp)
{
	PGconn *c = *cp;

	*cp = NULL;
	if (c == NULL)
		return;
	if (PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) != PQTRANS_IDLE)
		(void)pg_rollback(c);
	if (PQstatus(c) != CONNECTION_OK ||
	    PQtransactionStatus(c) != PQTRANS_IDLE) {
		pg_close(&c);
		pthread_mutex_lock(&p->mu);
		p->total--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->idle[p->nidle++] = c;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}
