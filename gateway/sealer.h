/* gateway/sealer.h — the key-holding half of coffer-gateway.
 *
 * coffer-gateway runs as two processes (privilege separation, as in
 * OpenSMTPD's ca process and OpenSSH's monitor):
 *
 *   network process (main pid)          sealer process (its child)
 *   accept, TLS, HTTP framing,          tenant blind-index keys, the node
 *   limits, device rate, metrics        signing key, epoch keys; the ingest
 *   listener; record validation         pipeline (gateway/ingest.c): the
 *   (gateway/batch.c: line split,       SUBMIT frame check (batch_decode),
 *   the JSON parser, every rejection,   device check, tokens (rec_tokens),
 *   participant normalisation, the      sealing, signing, group commit,
 *   canonical plaintext); seccomp       receipts.  It parses no JSON.
 *   filter; no database connection,
 *   no key file, no filesystem writes
 *
 * They talk over two socketpairs with the typed messages of common/imsg.h:
 *
 *   data channel (asynchronous)
 *     SUBMIT  id  net→sealer  peer block, then the request's validated
 *                             lines (gateway/batch.h: typed fields, no
 *                             JSON; SEALER_PEER_BYTES + BATCH_HDR_BYTES ..
 *                             sealer_submit_max())
 *     RELOAD  0   net→sealer  empty (SIGHUP reached the network process)
 *     RELOAD  0   sealer→net  u32 mask (common/changes.h CHANGES_TENANT |
 *                             CHANGES_DEVICE, not 0): the directory was
 *                             reloaded after a change notification; the
 *                             network process re-checks its open
 *                             connections (PEER) and, for tenants, re-reads
 *                             the device CAs and CRLs
 *     DONE    id  sealer→net  u32 status, u32 retry_after_s, u8 content
 *                             type (0 application/json, 1
 *                             application/x-ndjson), u8 busy, then the
 *                             answer body (SEALER_DONE_FIXED ..
 *                             + sealer_done_max())
 *   control channel (one request, one answer, in turn)
 *     READY   0   sealer→net  empty; once, when the pipeline runs
 *     PEER    0   net→sealer  peer block (exactly SEALER_PEER_BYTES)
 *     PEER_R  0   sealer→net  i32 result, u32 fault, why[SEALER_WHY_BYTES]
 *     METRICS 0   net→sealer  u32 room (1 .. SEALER_METRICS_MAX)
 *     METRICS_R   sealer→net  Prometheus text (0 .. room)
 *
 * A peer block is tenant[128], device[128], fingerprint[65], each
 * NUL-terminated inside its field (ingest_peer's layout, checked).
 *
 * Either process exits when the other does: the sealer sees the end of its
 * data channel (and has PR_SET_PDEATHSIG SIGKILL), the network process the
 * end of its answers.  The supervisor (systemd) then restarts the gateway.
 * An orderly stop (SIGTERM to the network process) closes the data
 * channel after the loop stopped; the sealer then finishes every request
 * it holds (answering each), and exits.
 */
#ifndef COFFER_GATEWAY_SEALER_H
#define COFFER_GATEWAY_SEALER_H

#include <stddef.h>
#include <sys/types.h>

#include "common/priv.h"
#include "gateway/batch.h"
#include "gateway/config.h"
#include "common/imsg.h"
#include "gateway/ingest.h"

#define SEALER_NAME_BYTES   128U
#define SEALER_FPR_BYTES    65U
#define SEALER_PEER_BYTES   (2U * SEALER_NAME_BYTES + SEALER_FPR_BYTES)
#define SEALER_DONE_FIXED   10U
#define SEALER_WHY_BYTES    256U
#define SEALER_PEER_R_BYTES (8U + SEALER_WHY_BYTES)
#define SEALER_METRICS_MAX  (1024U * 1024U)
#define SEALER_RELOAD_BYTES 4U
#define SEALER_REFRESH_WAIT_MS 10000U

/* Largest answer body the network process accepts for cfg. */
size_t sealer_done_max(const gw_config *cfg);

/* Encode a peer into its block; decode one (0, or -1 when a field has no
 * NUL: a protocol error). */
void sealer_peer_put(unsigned char out[SEALER_PEER_BYTES],
                     const ingest_peer *p);
int  sealer_peer_get(ingest_peer *p, const unsigned char in[SEALER_PEER_BYTES])
     __attribute__((warn_unused_result));

/* Largest SUBMIT payload for these limits. */
size_t sealer_submit_max(const batch_limits *lim);

/* The sealer's check of one SUBMIT whose header h was read from fd: its
 * size (SEALER_PEER_BYTES + BATCH_HDR_BYTES .. sealer_submit_max), then
 * the peer block (each field NUL-terminated), then the lines through
 * batch_decode (*out; the caller owns it: batch_free).  0, or -1 with the
 * reason in err (the stream is then out of step, or the network process
 * sent what it never would: the caller ends it). */
int  sealer_read_submit(int fd, const imsg_hdr *h, const batch_limits *lim,
                        ingest_peer *p, batch *out, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* The sealer process's whole life, called in the child right after the
 * fork: harden, load the keys (ingest_new), start the pipeline, drop to
 * pw (NULL: stay), tie its life to the parent, send READY, then serve both
 * channels until the data channel ends.  Returns the process's exit code
 * (start-up failures are logged and return 1). */
int  sealer_main(const gw_config *cfg, int data_fd, int ctl_fd,
                 const priv_target *pw, pid_t parent, const char *pidfile);

#endif
