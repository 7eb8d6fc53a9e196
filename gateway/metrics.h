/* gateway/metrics.h — transport counters and the Prometheus text page.
 *
 * Counters are touched only on the loop thread (net.c, tls.c), so they are
 * plain integers.  The page adds sl_metrics() for the pipeline's own.
 * Labels come from fixed tables, never from peer input.
 */
#ifndef COFFER_GATEWAY_METRICS_H
#define COFFER_GATEWAY_METRICS_H

#include <stddef.h>
#include <time.h>

#include "gateway/sealerlink.h"

/* Why a TLS connection was refused; the label is metrics_refusal_name(). */
typedef enum gw_refusal {
	GW_REFUSE_NO_CERT = 0,      /* no client certificate */
	GW_REFUSE_UNKNOWN_CA,       /* chain does not end at a tenant CA */
	GW_REFUSE_EXPIRED,
	GW_REFUSE_NOT_YET_VALID,
	GW_REFUSE_REVOKED,
	GW_REFUSE_CRL,              /* no usable CRL: missing, unreadable, not
	                             * signed by the tenant CA (fail closed) */
	GW_REFUSE_BAD_USAGE,        /* no clientAuth EKU / digitalSignature KU, or a CA */
	GW_REFUSE_BAD_SUBJECT,      /* O / CN missing, repeated or unprintable */
	GW_REFUSE_TENANT_MISMATCH,  /* O names a tenant whose CA did not sign it */
	GW_REFUSE_DEVICE,           /* unknown or inactive device */
	GW_REFUSE_BAD_CERT,         /* any other verification failure */
	GW_REFUSE_PROTOCOL,         /* not TLS 1.3, no shared suite/group */
	GW_REFUSE_TLS,              /* other handshake failure or peer abort */
	GW_REFUSE_TIMEOUT,          /* handshake not done within header_timeout_s */
	GW_REFUSE_SELF_SIGNED,      /* a self-signed certificate as the device */
	GW_REFUSE_CHAIN_TOO_LONG,   /* an intermediate CA: devices are issued by
	                             * the tenant CA directly */
	GW_REFUSE_INVALID_CA,       /* an intermediate that is not a CA */
	GW_REFUSE_WEAK_KEY,         /* RSA/DSA/DH < 2048 bits, EC < 224 bits */
	GW_REFUSE_WEAK_SIGNATURE,   /* SHA-1, MD5 or another < 112-bit digest */
	GW_REFUSE_CRL_EXPIRED,      /* the tenant's CRL is past nextUpdate */
	GW_REFUSE_UNREGISTERED_KEY, /* an active device, but not the certificate
	                             * registered for it (another key, or one a
	                             * re-issue replaced) */
	GW_REFUSE_COUNT
} gw_refusal;

typedef enum gw_timeout {
	GW_TIMEOUT_HEADER = 0,
	GW_TIMEOUT_BODY,
	GW_TIMEOUT_IDLE,
	GW_TIMEOUT_WRITE,
	GW_TIMEOUT_COUNT
} gw_timeout;

/* Why a new connection was closed at accept(), before any TLS. */
typedef enum gw_conn_refusal {
	GW_CONN_MAX_CONNECTIONS = 0,    /* max_connections open already */
	GW_CONN_PER_ADDRESS,            /* max_connections_per_address open
	                                 * from the peer's address already */
	GW_CONN_REFUSAL_COUNT
} gw_conn_refusal;

typedef struct metrics metrics;

int  metrics_new(metrics **out) __attribute__((warn_unused_result));
void metrics_free(metrics **m);

const char *metrics_refusal_name(gw_refusal r);

void metrics_conn_open(metrics *m);
void metrics_conn_close(metrics *m);
void metrics_conn_refused(metrics *m, gw_conn_refusal r);
void metrics_conn_addresses(metrics *m, size_t n);  /* peer addresses now */
void metrics_handshake_ok(metrics *m);
void metrics_handshake_fail(metrics *m, gw_refusal r);
void metrics_request(metrics *m, int status);  /* one response sent */
void metrics_probe(metrics *m);                /* 404/405 answered */
void metrics_rate_limited(metrics *m);
void metrics_undelivered(metrics *m);          /* answer for a closed conn */
void metrics_bytes_in(metrics *m, size_t n);   /* request body bytes */
void metrics_timeout(metrics *m, gw_timeout t);
void metrics_reload(metrics *m, int ok);
void metrics_backpressure(metrics *m, int paused);   /* 1 on, 0 off */

/* What expires, as loaded at start and at each reload (0: unknown). The
 * page shows seconds from now, so an alert needs no clock arithmetic. */
typedef struct metrics_pki_times {
	time_t server_not_after;     /* cert_file's leaf */
	time_t ca_not_after;         /* the soonest tenant device CA */
	time_t crl_next_update;      /* the soonest signed tenant CRL */
	size_t tenants_without_crl;  /* no usable CRL loaded */
} metrics_pki_times;
void metrics_pki(metrics *m, const metrics_pki_times *t);

/* Render the Prometheus text page (transport + sl_metrics(ig) when ig
 * is not NULL) into a malloc'd buffer.  0 or -1. */
int  metrics_render(metrics *m, sealer_link *ig, char **out, size_t *out_len)
     __attribute__((warn_unused_result));

#endif
