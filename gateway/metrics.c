/* gateway/metrics.c — transport counters and the Prometheus text page.
 *
 * Served by net.c on the separate metrics listener (loopback by default),
 * GET /metrics only.  Every name and label is a constant of this file; the
 * page carries counts, never tenant or device names, fingerprints, paths
 * or anything a peer sent.
 *
 * Trusts: its callers to run on the loop thread (no locking here) and
 * sl_metrics() to write well-formed text of at most the room given.
 */
#include "gateway/metrics.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/version.h"
#include "common/x509.h"

#define METRICS_INGEST_CAP  (256U * 1024U)
#define METRICS_OWN_CAP     (16U * 1024U)

struct metrics {
	uint64_t conns_open;
	uint64_t conns_total;
	uint64_t conns_refused[GW_CONN_REFUSAL_COUNT];
	uint64_t conn_addresses;
	uint64_t handshakes_ok;
	uint64_t handshake_fail[GW_REFUSE_COUNT];
	uint64_t requests[600];          /* by status code */
	uint64_t probes;
	uint64_t rate_limited;
	uint64_t undelivered;
	uint64_t bytes_in;
	uint64_t timeouts[GW_TIMEOUT_COUNT];
	uint64_t reloads_ok, reloads_failed;
	uint64_t backpressure_pauses;
	int      backpressure_on;
	metrics_pki_times pki;
};

static const char *const refusal_names[GW_REFUSE_COUNT] = {
	[GW_REFUSE_NO_CERT] = "no_certificate",
	[GW_REFUSE_UNKNOWN_CA] = "unknown_ca",
	[GW_REFUSE_EXPIRED] = "expired",
	[GW_REFUSE_NOT_YET_VALID] = "not_yet_valid",
	[GW_REFUSE_REVOKED] = "revoked",
	[GW_REFUSE_CRL] = "crl_unavailable",
	[GW_REFUSE_BAD_USAGE] = "bad_key_usage",
	[GW_REFUSE_BAD_SUBJECT] = "bad_subject",
	[GW_REFUSE_TENANT_MISMATCH] = "tenant_ca_mismatch",
	[GW_REFUSE_DEVICE] = "unknown_device",
	[GW_REFUSE_BAD_CERT] = "bad_certificate",
	[GW_REFUSE_PROTOCOL] = "protocol",
	[GW_REFUSE_TLS] = "tls_error",
	[GW_REFUSE_TIMEOUT] = "timeout",
	[GW_REFUSE_SELF_SIGNED] = "self_signed",
	[GW_REFUSE_CHAIN_TOO_LONG] = "chain_too_long",
	[GW_REFUSE_INVALID_CA] = "invalid_ca",
	[GW_REFUSE_WEAK_KEY] = "weak_key",
	[GW_REFUSE_WEAK_SIGNATURE] = "weak_signature",
	[GW_REFUSE_CRL_EXPIRED] = "crl_expired",
	[GW_REFUSE_UNREGISTERED_KEY] = "unregistered_key",
};

static const char *const conn_refusal_names[GW_CONN_REFUSAL_COUNT] = {
	[GW_CONN_MAX_CONNECTIONS] = "max_connections",
	[GW_CONN_PER_ADDRESS] = "per_address_limit",
};

static const char *const timeout_names[GW_TIMEOUT_COUNT] = {
	[GW_TIMEOUT_HEADER] = "header",
	[GW_TIMEOUT_BODY] = "body",
	[GW_TIMEOUT_IDLE] = "idle",
	[GW_TIMEOUT_WRITE] = "write",
};

int
metrics_new(metrics **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? -1 : 0;
}

void
metrics_free(metrics **m)
{
	if (m == NULL || *m == NULL)
		return;
	free(*m);
	*m = NULL;
}

const char *
metrics_refusal_name(gw_refusal r)
{
	if ((unsigned)r >= GW_REFUSE_COUNT)
		return "unknown";
	return refusal_names[r];
}

void metrics_conn_open(metrics *m)     { m->conns_open++; m->conns_total++; }
void metrics_conn_close(metrics *m)    { if (m->conns_open > 0) m->conns_open--; }
void metrics_conn_addresses(metrics *m, size_t n) { m->conn_addresses = n; }
void metrics_handshake_ok(metrics *m)  { m->handshakes_ok++; }
void metrics_probe(metrics *m)         { m->probes++; }
void metrics_rate_limited(metrics *m)  { m->rate_limited++; }
void metrics_undelivered(metrics *m)   { m->undelivered++; }
void metrics_bytes_in(metrics *m, size_t n) { m->bytes_in += n; }

void
metrics_handshake_fail(metrics *m, gw_refusal r)
{
	if ((unsigned)r < GW_REFUSE_COUNT)
		m->handshake_fail[r]++;
}

void
metrics_conn_refused(metrics *m, gw_conn_refusal r)
{
	if ((unsigned)r < GW_CONN_REFUSAL_COUNT)
		m->conns_refused[r]++;
}

void
metrics_request(metrics *m, int status)
{
	if (status >= 100 && status < 600)
		m->requests[status]++;
}

void
metrics_timeout(metrics *m, gw_timeout t)
{
	if ((unsigned)t < GW_TIMEOUT_COUNT)
		m->timeouts[t]++;
}

void
metrics_reload(metrics *m, int ok)
{
	if (ok)
		m->reloads_ok++;
	else
		m->reloads_failed++;
}

void
metrics_backpressure(metrics *m, int paused)
{
	if (paused && !m->backpressure_on)
		m->backpressure_pauses++;
	m->backpressure_on = paused != 0;
}

void
metrics_pki(metrics *m, const metrics_pki_times *t)
{
	m->pki = *t;
}

typedef struct mbuf {
	char  *p;
	size_t len, cap;
	int    full;
} mbuf;

static void mb_printf(mbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
mb_printf(mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->full = 1;
		b->p[b->len] = '\0';
		return;
	}
	b->len += (size_t)n;
}

static void
mb_counter(mbuf *b, const char *name, const char *help, uint64_t v)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help,
	    name, name, (unsigned long long)v);
}

/* A counter with one line per value of label: names[i] counts v[i]. */
static void
mb_by_label(mbuf *b, const char *name, const char *help, const char *label,
    const char *const *names, const uint64_t *v, size_t count)
{
	size_t i;

	mb_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (i = 0; i < count; i++)
		mb_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, names[i],
		    (unsigned long long)v[i]);
}

/* Seconds from now until each expiry that is known; negative once past.
 * No tenant label: the soonest is what an alert needs, and cofferctl
 * device list / pki show which one it is. */
static void
mb_pki(mbuf *b, const metrics_pki_times *t, time_t now)
{
	char line[160];

	mb_printf(b, "# HELP coffer_gateway_cert_expiry_seconds Seconds until "
	    "a certificate the gateway relies on expires (negative: expired); "
	    "device_ca is the soonest tenant device CA\n"
	    "# TYPE coffer_gateway_cert_expiry_seconds gauge\n");
	if (x509_until_line(line, sizeof(line),
	    "coffer_gateway_cert_expiry_seconds{cert=\"server\"}",
	    t->server_not_after, now) > 0)
		mb_printf(b, "%s", line);
	if (x509_until_line(line, sizeof(line),
	    "coffer_gateway_cert_expiry_seconds{cert=\"device_ca\"}",
	    t->ca_not_after, now) > 0)
		mb_printf(b, "%s", line);
	if (x509_until_line(line, sizeof(line),
	    "coffer_gateway_crl_next_update_seconds", t->crl_next_update,
	    now) > 0)
		mb_printf(b, "# HELP coffer_gateway_crl_next_update_seconds Seconds "
		    "until the soonest tenant CRL's nextUpdate (negative: past it; "
		    "cofferctl pki crl-refresh)\n"
		    "# TYPE coffer_gateway_crl_next_update_seconds gauge\n%s", line);
	mb_printf(b, "# HELP coffer_gateway_tenants_without_crl Tenants whose "
	    "device CRL is missing or unusable\n"
	    "# TYPE coffer_gateway_tenants_without_crl gauge\n"
	    "coffer_gateway_tenants_without_crl %zu\n", t->tenants_without_crl);
}

int
metrics_render(metrics *m, sealer_link *ig, char **out, size_t *out_len)
{
	mbuf b;
	int i;

	*out = NULL;
	*out_len = 0;
	b.cap = METRICS_OWN_CAP + (ig != NULL ? METRICS_INGEST_CAP : 0);
	b.p = malloc(b.cap);
	if (b.p == NULL)
		return -1;
	b.len = 0;
	b.full = 0;
	b.p[0] = '\0';

	mb_printf(&b, "# HELP coffer_gateway_build_info The running "
	    "version (label), always 1\n# TYPE coffer_gateway_build_info "
	    "gauge\ncoffer_gateway_build_info{version=\"%s\"} 1\n",
	    coffer_version());
	mb_printf(&b, "# HELP coffer_gateway_open_connections TLS connections "
	    "open now\n# TYPE coffer_gateway_open_connections gauge\n"
	    "coffer_gateway_open_connections %llu\n",
	    (unsigned long long)m->conns_open);
	mb_counter(&b, "coffer_gateway_connections_total",
	    "TLS connections accepted", m->conns_total);
	mb_by_label(&b, "coffer_gateway_connections_refused_total",
	    "connections closed at once, before TLS, by the limit reached",
	    "reason", conn_refusal_names, m->conns_refused, GW_CONN_REFUSAL_COUNT);
	mb_printf(&b, "# HELP coffer_gateway_connection_addresses peer "
	    "addresses with TLS connections open now\n"
	    "# TYPE coffer_gateway_connection_addresses gauge\n"
	    "coffer_gateway_connection_addresses %llu\n",
	    (unsigned long long)m->conn_addresses);
	mb_counter(&b, "coffer_gateway_handshakes_total",
	    "TLS handshakes completed with an accepted device certificate",
	    m->handshakes_ok);
	mb_by_label(&b, "coffer_gateway_handshake_failures_total",
	    "TLS handshakes refused, by reason", "reason", refusal_names,
	    m->handshake_fail, GW_REFUSE_COUNT);
	mb_printf(&b, "# HELP coffer_gateway_http_responses_total HTTP "
	    "responses sent, by status\n"
	    "# TYPE coffer_gateway_http_responses_total counter\n");
	for (i = 100; i < 600; i++)
		if (m->requests[i] > 0 || i == 200)
			mb_printf(&b, "coffer_gateway_http_responses_total{status=\"%d\"} "
			    "%llu\n", i, (unsigned long long)m->requests[i]);
	mb_counter(&b, "coffer_gateway_probe_requests_total",
	    "requests answered 404 or 405 (unknown paths, wrong methods)",
	    m->probes);
	mb_counter(&b, "coffer_gateway_rate_limited_total",
	    "requests answered 429 by the per-device rate limit",
	    m->rate_limited);
	mb_counter(&b, "coffer_gateway_answers_undelivered_total",
	    "ingest answers dropped (wiped) because the device closed its "
	    "connection first; its records were stored all the same",
	    m->undelivered);
	mb_counter(&b, "coffer_gateway_request_body_bytes_total",
	    "request body bytes received", m->bytes_in);
	mb_by_label(&b, "coffer_gateway_timeouts_total",
	    "connections closed by a timeout, by phase", "phase", timeout_names,
	    m->timeouts, GW_TIMEOUT_COUNT);
	mb_printf(&b, "# HELP coffer_gateway_reloads_total SIGHUP reloads of "
	    "the device CAs and CRLs\n# TYPE coffer_gateway_reloads_total "
	    "counter\ncoffer_gateway_reloads_total{result=\"ok\"} %llu\n"
	    "coffer_gateway_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)m->reloads_ok,
	    (unsigned long long)m->reloads_failed);
	mb_counter(&b, "coffer_gateway_backpressure_pauses_total",
	    "times reading request bodies was paused because ingest was busy",
	    m->backpressure_pauses);
	mb_printf(&b, "# HELP coffer_gateway_backpressure 1 while reading "
	    "request bodies is paused\n# TYPE coffer_gateway_backpressure "
	    "gauge\ncoffer_gateway_backpressure %d\n", m->backpressure_on);
	mb_pki(&b, &m->pki, time(NULL));
	if (b.full) {
		free(b.p);
		return -1;
	}
	if (ig != NULL) {
		size_t room = b.cap - b.len - 1, n;

		n = sl_metrics(ig, b.p + b.len, room);
		if (n > room)
			n = room;
		b.len += n;
		b.p[b.len] = '\0';
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}
