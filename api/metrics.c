/* api/metrics.c — counters for /metrics on the loopback listener.
 *
 * Relaxed atomics: the page is a statistic, not a snapshot.  Nothing here
 * ever sees a request path, a name or a token.
 */
#include "api/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/version.h"
#include "common/x509.h"

static const unsigned met_statuses[] = {
	200, 201, 400, 403, 404, 405, 409, 410, 413, 422, 429, 500, 503
};
#define MET_NSTATUS (sizeof(met_statuses) / sizeof(met_statuses[0]))
#define MET_OTHER   MET_NSTATUS            /* any other status */
#define MET_UNKNOWN API_METRICS_ROUTES_MAX /* route -1 */

static const char *met_routes[API_METRICS_ROUTES_MAX];
static size_t met_nroutes;

static atomic_ullong met_requests[API_METRICS_ROUTES_MAX + 1][MET_NSTATUS + 1];
static atomic_ullong met_refusals[API_REFUSE_COUNT];
static atomic_ullong met_approvals[2];
static atomic_ullong met_productions[API_PROD_COUNT];
static atomic_ullong met_prod_remote[API_PROD_COUNT];
static atomic_ullong met_limited[API_LIMIT_COUNT];
static atomic_ullong met_audit_failures;
static atomic_ullong met_frontdoor;
static atomic_int    met_db_up = -1;        /* -1: not tried yet */
static atomic_llong  met_srv_not_after;     /* 0: unknown */
static atomic_llong  met_ca_not_after;
static atomic_llong  met_crl_next;
static atomic_llong  met_pop_proven = -1;   /* -1: unknown, absent */
static atomic_llong  met_pop_not_proven = -1;
static atomic_llong  met_pop_below_k = -1;

/* Request duration buckets (seconds, Prometheus "le"); the sum in
 * microseconds so it stays an integer atomic. */
static const double met_dur_le[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define MET_NDUR (sizeof(met_dur_le) / sizeof(met_dur_le[0]))
static atomic_ullong met_dur[API_METRICS_ROUTES_MAX + 1][MET_NDUR];
static atomic_ullong met_dur_count[API_METRICS_ROUTES_MAX + 1];
static atomic_ullong met_dur_sum_us[API_METRICS_ROUTES_MAX + 1];

static const char *const met_refusal_names[API_REFUSE_COUNT] = {
	"unauthenticated", "forbidden", "not_found", "method_not_allowed",
	"too_large", "bad_request", "conflict"
};
static const char *const met_prod_names[API_PROD_COUNT] = {
	"started", "built", "failed", "downloaded"
};
static const char *const met_limit_names[API_LIMIT_COUNT] = {
	"approval", "search", "refusal"
};

void
api_metrics_init(const char *const *route_names, size_t n)
{
	size_t i;

	if (n > API_METRICS_ROUTES_MAX)
		n = API_METRICS_ROUTES_MAX;
	for (i = 0; i < n; i++)
		met_routes[i] = route_names[i];
	met_nroutes = n;
}

/* The counters' row of route (an index from api_metrics_init, or -1). */
static size_t
met_route_slot(int route)
{
	return route >= 0 && (size_t)route < met_nroutes ? (size_t)route :
	    MET_UNKNOWN;
}

/* The route label of row r, NULL for a row no route uses. */
static const char *
met_route_label(size_t r)
{
	if (r < met_nroutes)
		return met_routes[r];
	return r == MET_UNKNOWN ? "unmatched" : NULL;
}

static void
met_inc(atomic_ullong *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void
api_metrics_server_cert(time_t not_after)
{
	atomic_store(&met_srv_not_after, (long long)not_after);
}

void
api_metrics_people_pki(time_t ca_not_after, time_t crl_next_update)
{
	atomic_store(&met_ca_not_after, (long long)ca_not_after);
	atomic_store(&met_crl_next, (long long)crl_next_update);
}

void
api_metrics_possession(long long proven, long long not_proven,
    long long tenants_below_k)
{
	atomic_store(&met_pop_proven, proven);
	atomic_store(&met_pop_not_proven, not_proven);
	atomic_store(&met_pop_below_k, tenants_below_k);
}

void
api_metrics_request(int route, unsigned status)
{
	size_t r, s;

	r = met_route_slot(route);
	for (s = 0; s < MET_NSTATUS; s++)
		if (met_statuses[s] == status)
			break;
	met_inc(&met_requests[r][s]);
}

void
api_metrics_duration(int route, double seconds)
{
	size_t r, i;

	r = met_route_slot(route);
	if (!(seconds >= 0))               /* NaN, or a clock gone backwards */
		seconds = 0;
	for (i = 0; i < MET_NDUR; i++)     /* cumulative, as exposed */
		if (seconds <= met_dur_le[i])
			met_inc(&met_dur[r][i]);
	met_inc(&met_dur_count[r]);
	atomic_fetch_add_explicit(&met_dur_sum_us[r],
	    (unsigned long long)(seconds * 1e6), memory_order_relaxed);
}

void
api_metrics_db(int up)
{
	atomic_store(&met_db_up, up ? 1 : 0);
}

void
api_metrics_frontdoor(unsigned status)
{
	met_inc(&met_frontdoor);
	api_metrics_request(-1, status);
	api_metrics_refusal(status == 413 ? API_REFUSE_TOO_LARGE :
	    API_REFUSE_BAD_REQUEST);
}

void
api_metrics_refusal(api_refusal r)
{
	if ((unsigned)r < API_REFUSE_COUNT)
		met_inc(&met_refusals[r]);
}

void
api_metrics_approval(int accepted)
{
	met_inc(&met_approvals[accepted ? 1 : 0]);
}

void
api_metrics_production(api_prod_event e)
{
	if ((unsigned)e < API_PROD_COUNT)
		met_inc(&met_productions[e]);
}

static unsigned long long
met_get(atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void
api_metrics_production_get(unsigned long long out[API_PROD_COUNT])
{
	size_t i;

	for (i = 0; i < API_PROD_COUNT; i++)
		out[i] = met_get(&met_productions[i]);
}

void
api_metrics_production_remote(const unsigned long long in[API_PROD_COUNT])
{
	size_t i;

	for (i = 0; i < API_PROD_COUNT; i++)
		atomic_store(&met_prod_remote[i], in[i]);
}

void
api_metrics_rate_limited(api_limit_class c)
{
	if ((unsigned)c < API_LIMIT_COUNT)
		met_inc(&met_limited[c]);
}

void
api_metrics_audit_failure(void)
{
	met_inc(&met_audit_failures);
}

const char *
api_metrics_limit_name(api_limit_class c)
{
	return (unsigned)c < API_LIMIT_COUNT ? met_limit_names[c] : "unknown";
}

typedef struct met_buf {
	char  *p;
	size_t len, cap;
	int    failed;
} met_buf;

static void
met_printf(met_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
met_printf(met_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = b->cap * 2 + (size_t)n;
			char *np = realloc(b->p, ncap);

			if (np == NULL) {
				b->failed = 1;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

/* The expiry gauges: seconds until, negative once past. */
static void
met_pki(met_buf *b, time_t now)
{
	char line[160];

	met_printf(b, "# HELP coffer_api_cert_expiry_seconds Seconds until a "
	    "certificate the API relies on expires (negative: expired); "
	    "people_ca is the soonest CA in the people CA file.\n"
	    "# TYPE coffer_api_cert_expiry_seconds gauge\n");
	if (x509_until_line(line, sizeof(line),
	    "coffer_api_cert_expiry_seconds{cert=\"server\"}",
	    (time_t)atomic_load(&met_srv_not_after), now) > 0)
		met_printf(b, "%s", line);
	if (x509_until_line(line, sizeof(line),
	    "coffer_api_cert_expiry_seconds{cert=\"people_ca\"}",
	    (time_t)atomic_load(&met_ca_not_after), now) > 0)
		met_printf(b, "%s", line);
	if (x509_until_line(line, sizeof(line),
	    "coffer_api_crl_next_update_seconds",
	    (time_t)atomic_load(&met_crl_next), now) > 0)
		met_printf(b, "# HELP coffer_api_crl_next_update_seconds Seconds "
		    "until the people CRL's nextUpdate (negative: past it; every "
		    "person is refused).\n"
		    "# TYPE coffer_api_crl_next_update_seconds gauge\n%s", line);
}

/* Share health: three sums, or nothing before the first refresh. */
static void
met_possession(met_buf *b)
{
	long long p = atomic_load(&met_pop_proven);
	long long n = atomic_load(&met_pop_not_proven);
	long long k = atomic_load(&met_pop_below_k);

	if (p < 0 || n < 0 || k < 0)
		return;
	met_printf(b, "# HELP coffer_api_custodians_proven Custodian seats of "
	    "the current share generations whose latest answer proved "
	    "possession within possession_window_days, summed over tenants.\n"
	    "# TYPE coffer_api_custodians_proven gauge\n"
	    "coffer_api_custodians_proven %lld\n"
	    "# HELP coffer_api_custodians_not_proven Custodian seats whose "
	    "latest answer failed, or with no proof within the window, summed "
	    "over tenants.\n"
	    "# TYPE coffer_api_custodians_not_proven gauge\n"
	    "coffer_api_custodians_not_proven %lld\n"
	    "# HELP coffer_api_tenants_below_threshold_proven Tenants with fewer "
	    "proven custodian seats than their threshold K.\n"
	    "# TYPE coffer_api_tenants_below_threshold_proven gauge\n"
	    "coffer_api_tenants_below_threshold_proven %lld\n", p, n, k);
}

int
api_metrics_render(char **out, size_t *out_len)
{
	met_buf b = { NULL, 0, 4096, 0 };
	size_t r, s;

	*out = NULL;
	*out_len = 0;
	if ((b.p = malloc(b.cap)) == NULL)
		return -1;
	b.p[0] = '\0';
	met_printf(&b, "# HELP coffer_api_build_info The running version "
	    "(label), always 1.\n# TYPE coffer_api_build_info gauge\n"
	    "coffer_api_build_info{version=\"%s\"} 1\n", coffer_version());
	if (atomic_load(&met_db_up) >= 0)
		met_printf(&b, "# HELP coffer_api_db_up 1 when the last request "
		    "that needed the database got a working connection, else 0."
		    "\n# TYPE coffer_api_db_up gauge\ncoffer_api_db_up %d\n",
		    atomic_load(&met_db_up));
	met_pki(&b, time(NULL));
	met_possession(&b);
	met_printf(&b, "# HELP coffer_api_request_duration_seconds Request head "
	    "to answer, by route template.\n"
	    "# TYPE coffer_api_request_duration_seconds histogram\n");
	for (r = 0; r <= MET_UNKNOWN; r++) {
		const char *name = met_route_label(r);
		unsigned long long n = met_get(&met_dur_count[r]);

		if (name == NULL || n == 0)
			continue;
		for (s = 0; s < MET_NDUR; s++)
			met_printf(&b, "coffer_api_request_duration_seconds_bucket"
			    "{route=\"%s\",le=\"%g\"} %llu\n", name,
			    met_dur_le[s], met_get(&met_dur[r][s]));
		met_printf(&b, "coffer_api_request_duration_seconds_bucket"
		    "{route=\"%s\",le=\"+Inf\"} %llu\n"
		    "coffer_api_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
		    "coffer_api_request_duration_seconds_count{route=\"%s\"} "
		    "%llu\n", name, n, name,
		    (double)met_get(&met_dur_sum_us[r]) / 1e6, name, n);
	}
	met_printf(&b, "# HELP coffer_api_requests_total Requests answered, by "
	    "route and status.\n# TYPE coffer_api_requests_total counter\n");
	for (r = 0; r <= MET_UNKNOWN; r++) {
		const char *name = met_route_label(r);

		if (name == NULL)
			continue;
		for (s = 0; s <= MET_NSTATUS; s++) {
			unsigned long long v = met_get(&met_requests[r][s]);

			if (v == 0)
				continue;
			if (s < MET_NSTATUS)
				met_printf(&b, "coffer_api_requests_total{route=\"%s\","
				    "status=\"%u\"} %llu\n", name, met_statuses[s], v);
			else
				met_printf(&b, "coffer_api_requests_total{route=\"%s\","
				    "status=\"other\"} %llu\n", name, v);
		}
	}
	met_printf(&b, "# HELP coffer_api_refusals_total Requests refused, by "
	    "reason.\n# TYPE coffer_api_refusals_total counter\n");
	for (r = 0; r < API_REFUSE_COUNT; r++)
		met_printf(&b, "coffer_api_refusals_total{reason=\"%s\"} %llu\n",
		    met_refusal_names[r], met_get(&met_refusals[r]));
	met_printf(&b, "# HELP coffer_api_approvals_total Custodian approvals, "
	    "by result.\n# TYPE coffer_api_approvals_total counter\n"
	    "coffer_api_approvals_total{result=\"accepted\"} %llu\n"
	    "coffer_api_approvals_total{result=\"rejected\"} %llu\n",
	    met_get(&met_approvals[1]), met_get(&met_approvals[0]));
	met_printf(&b, "# HELP coffer_api_productions_total Production builds "
	    "and downloads.\n# TYPE coffer_api_productions_total counter\n");
	for (r = 0; r < API_PROD_COUNT; r++)
		met_printf(&b, "coffer_api_productions_total{event=\"%s\"} %llu\n",
		    met_prod_names[r], met_get(&met_productions[r]) +
		    met_get(&met_prod_remote[r]));
	met_printf(&b, "# HELP coffer_api_rate_limited_total Requests refused "
	    "by a rate limit, by class.\n# TYPE coffer_api_rate_limited_total "
	    "counter\n");
	for (r = 0; r < API_LIMIT_COUNT; r++)
		met_printf(&b, "coffer_api_rate_limited_total{class=\"%s\"} %llu\n",
		    met_limit_names[r], met_get(&met_limited[r]));
	met_printf(&b, "# HELP coffer_api_audit_failures_total Requests failed "
	    "because their audit event could not be written.\n"
	    "# TYPE coffer_api_audit_failures_total counter\n"
	    "coffer_api_audit_failures_total %llu\n",
	    met_get(&met_audit_failures));
	met_printf(&b, "# HELP coffer_api_frontdoor_refusals_total Request "
	    "heads refused before parsing (framing, path, limits).\n"
	    "# TYPE coffer_api_frontdoor_refusals_total counter\n"
	    "coffer_api_frontdoor_refusals_total %llu\n",
	    met_get(&met_frontdoor));
	if (b.failed) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}
