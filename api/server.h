/* api/server.h — coffer-api's HTTPS server: the route table, the request
 * life cycle (api/request.h), the link to the keeper process that holds
 * every key (api/keeperlink.h), and main's interface.
 */
#ifndef COFFER_API_SERVER_H
#define COFFER_API_SERVER_H

#include <stddef.h>

#include "api/config.h"
#include "api/keeperlink.h"
#include "api/request.h"

/* The route table (server.c) and its size. */
extern const api_route api_routes[];
extern const size_t    api_nroutes;

/* Match method + path against the table: *route set and 0; or -1 with
 * *status 404 (no such path) or 405 (path known, method not).  param gets
 * the {id} segment ("" if none). */
int api_route_match(const char *method, const char *path,
                    const api_route **route, int *index,
                    char *param, size_t param_cap, unsigned *status);

/* The keeper (api/keeperlink.h): tokens, seeds, signatures, builds. */
keeper_link *api_req_keeper(api_req *r);

/* Sign the head of the caller's tenant audit chain (event event_no with
 * hash head) with the API node key (signing_key_file; in the keeper, on
 * its clock), as the header value
 *   node=<name>;event_no=<n>;head=<hex>;signed_at=<µs>;sig=<hex>
 * where sig is Ed25519 over vault_checkpoint_encode() of {tenant, stream =
 * the nil uuid (an audit chain, not a record stream), batch_no = last_seq =
 * event_no, head, signed_at}; verifiable offline with the node's key in
 * coffer.nodes.  0 signed, 1 no key configured, -1 failure. */
int api_req_sign_audit_head(api_req *r, unsigned long long event_no,
                            const unsigned char head[32], char *out,
                            size_t out_len);
/* Queue a production build of the matter (after commit). */
int api_req_start_build(api_req *r, const char *tenant_id, const char *matter_id);

/* -- the server ------------------------------------------------------------ */

/* Load trust, build the pools; binds nothing yet.  kl: the keeper, which
 * signs this process's audit events (NULL: --check-config only). */
int  api_server_new(api_server **out, const api_config *cfg, keeper_link *kl,
                    char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Bind the listeners and start serving (returns at once). */
int  api_server_start(api_server *s, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Re-read the people CA and CRL (SIGHUP). */
void api_server_reload(api_server *s);
/* Stop listening, wait for requests, free everything (not the keeper). */
void api_server_free(api_server **s);

#endif
