/* api/pool.h — coffer-api's pool of PostgreSQL connections: a request
 * borrows one while it touches the database and gives it back after.
 *
 * At most max connections exist at a time; a borrower waits up to ten
 * seconds for one.  A connection given back broken or inside a transaction
 * is rolled back or closed, never handed out again as it is.  Thread-safe.
 */
#ifndef COFFER_API_POOL_H
#define COFFER_API_POOL_H

#include <stddef.h>

#include <libpq-fe.h>

typedef struct api_pool api_pool;     /* layout private to pool.c */

/* An empty pool of at most max connections to conninfo (borrowed: it must
 * outlive the pool); connects nothing yet.  0, or -1 (out of memory). */
int     api_pool_new(api_pool **out, const char *conninfo, size_t max)
        __attribute__((warn_unused_result));
/* A connection, idle (not in a transaction): reused, reset or new; NULL
 * with err filled when none is free in time or the database cannot be
 * reached. */
PGconn *api_pool_get(api_pool *p, char *err, size_t err_len);
/* Give back *cp (NULL is fine; *cp set to NULL): an open transaction is
 * rolled back; a broken connection is closed and its place freed. */
void    api_pool_put(api_pool *p, PGconn **cp);
/* Close the idle connections and free the pool (NULL is fine; *p set to
 * NULL).  Borrowed connections must have been given back. */
void    api_pool_free(api_pool **p);

#endif
