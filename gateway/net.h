/* gateway/net.h — the gateway's event loop: listeners, connections,
 * timeouts, per-device rate, back-pressure, signals.
 *
 * One thread runs everything transport-side (epoll, non-blocking sockets
 * and OpenSSL); pipeline completions come back through a mutex-protected
 * queue and an eventfd.  SIGHUP / SIGTERM / SIGINT arrive on a signalfd:
 * the caller must block them in every thread (before starting any) and
 * ignore SIGPIPE.
 */
#ifndef COFFER_GATEWAY_NET_H
#define COFFER_GATEWAY_NET_H

#include <signal.h>
#include <stddef.h>

#include "gateway/config.h"
#include "gateway/sealerlink.h"
#include "gateway/metrics.h"
#include "gateway/tls.h"

typedef struct net net;

/* The signals the loop handles (for the caller's sigprocmask). */
void net_signal_set(sigset_t *set);

/* Bind listen (TLS) and metrics_listen (plain HTTP, if set), create the
 * loop.  cfg, tls, ig and m are borrowed and must outlive the net. */
int  net_new(net **out, const gw_config *cfg, tls_server *tls, sealer_link *ig,
             metrics *m, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* The bound addresses, for the start line ("127.0.0.1:8443"). */
const char *net_listen_addr(const net *n);
const char *net_metrics_addr(const net *n);
/* Run until SIGTERM/SIGINT: then stop accepting, let requests in flight
 * finish (bounded), close everything.  0, or -1 on a loop failure. */
int  net_run(net *n);
/* After ingest_free(): drains completions, frees what is left. */
void net_free(net **n);

#endif
