/* api/metrics.h — coffer-api counters and the Prometheus text page.
 *
 * Process-wide counters (atomics: request threads and build jobs update
 * them concurrently).  Every label comes from a fixed table — route names
 * from the route table, status codes from a fixed list — never from peer
 * input, so the page cannot carry identifiers or grow without bound.
 */
#ifndef COFFER_API_METRICS_H
#define COFFER_API_METRICS_H

#include <stddef.h>
#include <time.h>

#define API_METRICS_ROUTES_MAX 40

typedef enum api_refusal {
	API_REFUSE_UNAUTHENTICATED = 0,   /* no, invalid or unknown certificate */
	API_REFUSE_FORBIDDEN,             /* role or ownership */
	API_REFUSE_NOT_FOUND,             /* unknown route or object */
	API_REFUSE_METHOD,                /* 405 */
	API_REFUSE_TOO_LARGE,             /* 413 */
	API_REFUSE_BAD_REQUEST,           /* 400 / 422 */
	API_REFUSE_CONFLICT,              /* 409 */
	API_REFUSE_COUNT
} api_refusal;

typedef enum api_limit_class {
	API_LIMIT_APPROVAL = 0,
	API_LIMIT_SEARCH,
	API_LIMIT_REFUSAL,
	API_LIMIT_COUNT
} api_limit_class;

typedef enum api_prod_event {
	API_PROD_STARTED = 0,
	API_PROD_BUILT,
	API_PROD_FAILED,
	API_PROD_DOWNLOADED,
	API_PROD_COUNT
} api_prod_event;

/* Route labels (borrowed, static strings), at most API_METRICS_ROUTES_MAX.
 * Call once before the listeners start. */
void api_metrics_init(const char *const *route_names, size_t n);

/* route: index into the names given to api_metrics_init, or -1 for a
 * request that matched no route. */
void api_metrics_request(int route, unsigned status);
/* How long the request took, from its head to its answer (seconds): the
 * coffer_api_request_duration_seconds histogram, per route template. */
void api_metrics_duration(int route, double seconds);
/* The outcome of the last attempt to get a usable database connection for
 * a request: coffer_api_db_up 1 or 0 (absent until the first). */
void api_metrics_db(int up);
void api_metrics_refusal(api_refusal r);
void api_metrics_approval(int accepted);   /* 1 accepted, 0 rejected */
void api_metrics_production(api_prod_event e);
/* This process's production counters (the keeper's, which builds), and
 * the keeper's as the front last read them: the page shows their sum. */
void api_metrics_production_get(unsigned long long out[API_PROD_COUNT]);
void api_metrics_production_remote(const unsigned long long in[API_PROD_COUNT]);
void api_metrics_rate_limited(api_limit_class c);
void api_metrics_audit_failure(void);      /* an event could not be written */
/* A request head refused by the front door (api/frontdoor.c) with status. */
void api_metrics_frontdoor(unsigned status);

/* The expiry gauges (UTC time_t, 0: unknown, the series absent): the
 * server certificate's notAfter; the soonest notAfter among the people CA
 * file's certificates and the soonest nextUpdate among its CRLs, as last
 * loaded (at start and on every reload). */
void api_metrics_server_cert(time_t not_after);
void api_metrics_people_pki(time_t ca_not_after, time_t crl_next_update);

/* Share health (api/possession.c), summed over tenants, no tenant named:
 * custodian seats of the current generations proven within the window,
 * the others, and tenants whose proven seats are fewer than their
 * threshold K.  -1: unknown (the three series absent). */
void api_metrics_possession(long long proven, long long not_proven,
                            long long tenants_below_k);

const char *api_metrics_limit_name(api_limit_class c);

/* The Prometheus text page in a malloc'd buffer.  0 or -1. */
int  api_metrics_render(char **out, size_t *out_len)
     __attribute__((warn_unused_result));

#endif
