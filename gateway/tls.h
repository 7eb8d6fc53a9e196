/* gateway/tls.h — TLS 1.3 with device client certificates (OpenSSL 3).
 *
 * tls_server holds the server identity and one "generation": an SSL_CTX
 * whose trust store is every <device_ca_dir>/<tenant>/ca.pem with the
 * CRLs from <tenant>/crl.pem.  tls_server_reload() builds a new generation
 * and swaps it in; connections keep the generation they started with.
 *
 * A handshake succeeds only for a certificate issued by a tenant CA
 * directly (no intermediate), with a key and a signature of security
 * level 2 (RSA >= 2048, no SHA-1), in its validity period, not revoked
 * (with crl_required, the default: a current CRL signed by that CA), with
 * EKU clientAuth and KU digitalSignature, naming that same tenant in
 * subject O and a device in CN, and whose device sl_peer_check()
 * accepts (active, and this very certificate registered for it).  Every refusal is
 * logged (fingerprint when a certificate was presented, and the reason)
 * and counted by reason in metrics.
 *
 * Single-threaded: every function runs on the loop thread.
 */
#ifndef COFFER_GATEWAY_TLS_H
#define COFFER_GATEWAY_TLS_H

#include <stddef.h>

#include "gateway/config.h"
#include "gateway/sealerlink.h"
#include "gateway/metrics.h"

typedef struct tls_server tls_server;
typedef struct tls_conn tls_conn;

typedef enum tls_io {
	TLS_IO_OK = 0,
	TLS_IO_WANT_READ,
	TLS_IO_WANT_WRITE,
	TLS_IO_EOF,             /* orderly or abrupt end of the peer's data */
	TLS_IO_ERROR            /* fatal; the connection must be closed */
} tls_io;

/* Loads the server certificate chain and key (key file checked for owner
 * and mode) and the device CAs and CRLs.  ig may be NULL only for
 * --check-config (every device is then refused).  cfg, ig and m are
 * borrowed and must outlive the server. */
int  tls_server_new(tls_server **out, const gw_config *cfg, sealer_link *ig,
                    metrics *m, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Rebuild the trust store and CRLs (SIGHUP); on failure the current
 * generation stays in use. */
int  tls_server_reload(tls_server *ts, char *err, size_t err_len)
     __attribute__((warn_unused_result));
size_t tls_server_tenant_count(const tls_server *ts);
void tls_server_free(tls_server **ts);     /* after every tls_conn_free */

/* peer_addr is only for log lines ("1.2.3.4:5678"). */
int  tls_conn_new(tls_conn **out, tls_server *ts, int fd,
                  const char *peer_addr) __attribute__((warn_unused_result));
/* TLS_IO_OK once the peer is accepted; TLS_IO_ERROR/EOF when refused
 * (already logged and counted). */
tls_io tls_conn_handshake(tls_conn *c);
/* Record a handshake that timed out (logged and counted). */
void   tls_conn_handshake_timeout(tls_conn *c);
tls_io tls_conn_read(tls_conn *c, void *buf, size_t cap, size_t *got);
tls_io tls_conn_write(tls_conn *c, const void *buf, size_t len, size_t *put);
/* 1 when decrypted bytes are buffered inside OpenSSL. */
int    tls_conn_pending(const tls_conn *c);
/* Send close_notify, best effort, never blocks. */
void   tls_conn_shutdown(tls_conn *c);
/* Identity of an accepted peer (valid after TLS_IO_OK). */
const ingest_peer *tls_conn_peer(const tls_conn *c);
const char *tls_conn_addr(const tls_conn *c);
void   tls_conn_free(tls_conn **c);          /* NULL ok; does not close fd */

/* Subject-to-identity mapping (exposed for tests/fuzz/fuzz_certid.c):
 * 1 when name (an X509_NAME) holds exactly one entry of nid whose UTF-8
 * form is 1..cap-1 bytes of [A-Za-z0-9._-], not starting with '.' or '-';
 * out is then that name.  0 otherwise, and out holds a printable rendering
 * of the claim for logs only ("" when absent or repeated): never use it as
 * an identity. */
struct X509_name_st;
int    tls_subject_entry(struct X509_name_st *name, int nid, char *out,
                         size_t cap);

#endif
