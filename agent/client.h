/* agent/client.h — HTTPS with the device's client certificate to the
 * gateway, the server CA pinned (agent/client.c says why libcurl).
 */
#ifndef COFFER_AGENT_CLIENT_H
#define COFFER_AGENT_CLIENT_H

#include <signal.h>
#include <stddef.h>

#include "agent/config.h"

typedef struct agent_client agent_client;

typedef struct client_resp {
	long           status;          /* HTTP status; 0: no answer */
	long           retry_after_s;   /* Retry-After (seconds), -1: none */
	unsigned char *body;            /* NUL-terminated, wiped on clear */
	size_t         len, cap;
	char           error[256];      /* transport error, when status 0 */
} client_resp;

/* Load the client key (checked like every secret file: owner, mode) into
 * guarded memory, the certificate and the pinned CA by path.  stop: a
 * flag a signal handler sets; a request in flight is abandoned when it
 * is.  0 or -1 with err. */
int  client_new(agent_client **out, const agent_config *cfg,
                volatile sig_atomic_t *stop, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Wipe the key, free everything; accepts NULL, nulls *c. */
void client_free(agent_client **c);

/* POST body (application/x-ndjson or JSON) to path ("/v1/records").
 * Always fills *r (clear it with client_resp_clear). */
void client_post(agent_client *c, const char *path, const char *ctype,
                 const unsigned char *body, size_t len, client_resp *r);
void client_resp_clear(client_resp *r);

#endif
