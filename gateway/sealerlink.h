/* gateway/sealerlink.h — the ingest pipeline as the network process sees
 * it: the same five calls as gateway/ingest.h, answered by the sealer
 * process over typed messages (gateway/sealer.h), or, with `privsep =
 * off` (measurement only), by an ingest pipeline in this process.
 *
 * Record validation runs here, on the network side, either way: sl_submit
 * hands the body to one of the link's validator threads, which splits it
 * into lines, validates each (gateway/batch.c, record.c's rec_check: the
 * JSON parser, every rejection, normalisation, the canonical plaintext)
 * and sends the typed result; the body itself never reaches the sealer.
 *
 * Threads: sl_submit, sl_busy, sl_reload and sl_peer_check are called on
 * the transport's loop thread, sl_metrics on the loop thread too; `done`
 * is called on the link's reader thread, a validator thread (a request
 * that could not be encoded: 500) or a pipeline thread, exactly once per
 * submit, as ingest.h describes.  The validator threads start in sl_spawn
 * and sl_local, after the fork and before the sandbox.
 */
#ifndef COFFER_GATEWAY_SEALERLINK_H
#define COFFER_GATEWAY_SEALERLINK_H

#include <stddef.h>
#include <sys/types.h>

#include "common/priv.h"
#include "gateway/config.h"
#include "gateway/ingest.h"

typedef struct sealer_link sealer_link;

/* Fork the sealer (before any key is loaded and before any thread
 * exists: the child must inherit neither), wait for its READY and start
 * the reader thread.  The child never returns from here.  pidfile is
 * removed by the sealer at an orderly exit (NULL: none).  0, or -1 with
 * a message: the sealer did not start (its own log line says why). */
int  sl_spawn(sealer_link **out, const gw_config *cfg, const priv_target *pw,
              const char *pidfile, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* privsep = off: the pipeline in this process (ingest_new + ingest_start;
 * the link owns it). */
int  sl_local(sealer_link **out, const gw_config *cfg, char *err,
              size_t err_len) __attribute__((warn_unused_result));

/* The sealer's pid, or 0 in-process. */
pid_t sl_pid(const sealer_link *l);

int  sl_peer_check(sealer_link *l, const ingest_peer *peer,
                   ingest_peer_fault *fault, char *why, size_t why_len);
/* Queues body for validation and returns.  Takes ownership of body
 * (malloc'd; wiped and freed once validated). */
void sl_submit(sealer_link *l, const ingest_peer *peer, char *body,
               size_t body_len, ingest_done_fn done, void *ctx);
int  sl_busy(sealer_link *l);
/* What the sealer reported changed since the last call (common/changes.h
 * mask: CHANGES_TENANT, CHANGES_DEVICE; 0: nothing), after it reloaded
 * its directory; the loop thread polls it every turn.  Always 0 with
 * privsep = off (no LISTEN: the periodic refresh only). */
unsigned sl_changes(sealer_link *l);
void sl_reload(sealer_link *l);
size_t sl_metrics(sealer_link *l, char *buf, size_t cap);
/* Orderly end: no more submits; every queued body is validated and every
 * submit still gets its done; the sealer exits and is reaped.  NULL ok;
 * sets NULL. */
void sl_free(sealer_link **l);

#endif
