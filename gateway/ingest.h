/* gateway/ingest.h — the seam between transport and the ingest pipeline.
 *
 * Transport (net.c, tls.c, http.c) owns sockets, TLS, HTTP framing, limits
 * on bytes and time, and the per-device rate; the network process's link
 * (sealerlink.c) validates the lines (batch_build: record.c's rec_check).
 * The pipeline (ingest.c, writer.c) owns the device check, tokens
 * (rec_tokens), sealing, group commit, receipts.
 *
 * Threads: ingest_submit() is called on the transport's loop thread and
 * returns at once; `done` is called later from a pipeline thread, exactly
 * once per submit, with the full HTTP response status and body.  The
 * transport must hand the completion back to its loop thread (eventfd) and
 * keep the request context alive until `done` ran, even if the peer has
 * gone (then it just frees the body).
 */
#ifndef COFFER_GATEWAY_INGEST_H
#define COFFER_GATEWAY_INGEST_H

#include <stddef.h>

#include "gateway/config.h"

struct batch;            /* gateway/batch.h (tags only: names stay free) */
struct batch_limits;

typedef struct ingest ingest;

typedef struct ingest_peer {
	char tenant[128];        /* subject O of the verified client certificate */
	char device[128];        /* subject CN */
	char fingerprint[65];    /* SHA-256 of the DER certificate, hex */
} ingest_peer;

/* status: 200 (body = NDJSON, one line per input line), 413 (too many
 * records), 503 (database unavailable; retry_after_s > 0; nothing stored),
 * 500 (internal; nothing acknowledged).  body is malloc'd, ownership passes
 * to the callee; content_type is a static string. */
typedef void (*ingest_done_fn)(void *ctx, int status, unsigned retry_after_s,
                               const char *content_type, char *body,
                               size_t body_len);

int  ingest_new(ingest **out, const gw_config *cfg, char *err, size_t err_len)
     __attribute__((warn_unused_result));
int  ingest_start(ingest *ig, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Why ingest_peer_check() refused a peer. */
typedef enum ingest_peer_fault {
	INGEST_PEER_OK = 0,
	INGEST_PEER_DEVICE,      /* tenant or device unknown or not active, no
	                          * key file, registry not loaded */
	INGEST_PEER_KEY          /* an active device, but peer->fingerprint is
	                          * not the certificate registered for it
	                          * (coffer.devices.cert_fingerprint) */
} ingest_peer_fault;

/* Device registered and active for that tenant, and the peer's certificate
 * the one registered for it: a device is its key, not its name (cached;
 * refreshed every device_refresh_s, on ingest_reload, and soon after a
 * refusal, so a re-issued device is recognised within a second).  0
 * allowed, -1 refused with *fault (may be NULL) and a reason in why (no
 * secrets; safe to log). */
int  ingest_peer_check(ingest *ig, const ingest_peer *peer,
                       ingest_peer_fault *fault, char *why, size_t why_len);
/* Validated lines (batch_decode's) of one request: takes *b (freed by the
 * pipeline; *b is left empty). */
void ingest_submit_batch(ingest *ig, const ingest_peer *peer,
                         struct batch *b, ingest_done_fn done, void *ctx);
/* A raw body, all in this process and on the caller's thread: batch_build,
 * batch_decode, ingest_submit_batch (tests; takes ownership of body,
 * malloc'd, wiped and freed). */
void ingest_submit(ingest *ig, const ingest_peer *peer, char *body,
                   size_t body_len, ingest_done_fn done, void *ctx);
/* The batch limits of this pipeline's configuration. */
void ingest_limits(const ingest *ig, struct batch_limits *lim);
/* 1 while the pipeline is behind (queue above its high-water mark): the
 * transport stops reading request bodies until it returns 0. */
int  ingest_busy(ingest *ig);
void ingest_reload(ingest *ig);          /* SIGHUP */
/* Reload the tenants and devices now (a change notification, sealer.c)
 * and return once a load that began after this call has finished: 0, or
 * -1 when none finished within timeout_ms.  A load that fails (database
 * down) keeps the last device list, as the periodic refresh does. */
int  ingest_refresh(ingest *ig, unsigned timeout_ms);
/* Append Prometheus text for the pipeline's metrics; returns bytes written
 * (never more than cap). */
size_t ingest_metrics(ingest *ig, char *buf, size_t cap);
void ingest_free(ingest **ig);            /* stops threads, wipes keys */

#endif
