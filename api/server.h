/* api/server.h — coffer-api's HTTPS server, request life cycle, and the
 * interface its handlers program against.
 *
 * One request, start to end (server.c):
 *   1. a random request id (returned in X-Request-Id and audited);
 *   2. the route table — an allowlist — decides the route, or 404 (unknown
 *      path) / 405 (known path, other method);
 *   3. the client certificate is verified (api/auth.h) and its user found;
 *      refusals are 403 "unauthenticated" (401 is never used);
 *   4. role, rate limit (429 + Retry-After) and body size (413) checks;
 *   5. the handler runs inside a transaction; its audit event is appended
 *      in that same transaction; COMMIT; only then is the answer sent.  A
 *      refused or failed handler is rolled back and its refusal audited
 *      alone.  If the event cannot be written the request fails with 500
 *      and nothing it did remains (fail closed).
 *
 * Handlers never send anything themselves: they fill the api_req with a
 * reply (api_reply / api_reply_raw / api_reply_fd) or a refusal
 * (api_fail), plus audit target/outcome/detail.  Messages in api_fail are
 * shown to the client: they must not quote request values, database text
 * or anything internal.
 */
#ifndef COFFER_API_SERVER_H
#define COFFER_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "api/auth.h"
#include "api/config.h"
#include "api/keys.h"
#include "api/metrics.h"

#define API_REQUEST_ID_LEN  32U           /* hex of 16 random bytes */
#define API_TARGET_MAX      160U

/* Roles, as bits for a route's allowlist. */
#define API_ROLE_ADMIN      0x1U
#define API_ROLE_LEGAL      0x2U
#define API_ROLE_CUSTODIAN  0x4U
#define API_ROLE_AUDITOR    0x8U
#define API_ROLE_ANY        0xfU

typedef struct api_server api_server;   /* private to server.c */
typedef struct api_req    api_req;
typedef void api_handler_fn(api_req *r);

/* Route flags. */
#define API_ROUTE_BODY      0x1U   /* JSON body up to max_body_bytes */
#define API_ROUTE_BIGBODY   0x2U   /* JSON body up to max_approval_bytes */
#define API_ROUTE_NOTXN     0x4U   /* handler runs outside a transaction
                                      (it opens its own); the audit event
                                      is written after it returns */

typedef struct api_route {
	const char     *method;
	const char     *pattern;      /* "/v1/matters/{id}/approvals" */
	const char     *action;       /* audit action and metrics label */
	unsigned        roles;        /* API_ROLE_* allowed */
	unsigned        flags;        /* API_ROUTE_* */
	api_limit_class limit;        /* bucket charged; API_LIMIT_COUNT: none */
	api_handler_fn *fn;
} api_route;

/* The route table (server.c) and its size. */
extern const api_route api_routes[];
extern const size_t    api_nroutes;

/* Match method + path against the table: *route set and 0; or -1 with
 * *status 404 (no such path) or 405 (path known, method not).  param gets
 * the {id} segment ("" if none). */
int api_route_match(const char *method, const char *path,
                    const api_route **route, int *index,
                    char *param, size_t param_cap, unsigned *status);

struct api_req {
	api_server          *srv;
	const api_config    *cfg;
	const api_route     *route;
	char                 request_id[API_REQUEST_ID_LEN + 1];
	char                 param[80];        /* the {id} segment, raw */
	api_identity         who;              /* valid while the handler runs */
	PGconn              *db;               /* in a transaction (unless NOTXN) */
	const char          *body;             /* request body (not NUL-terminated) */
	size_t               body_len;
	void                *conn;             /* struct MHD_Connection * */

	/* reply, set by the handler through the helpers below */
	unsigned             status;
	json_t              *reply;            /* JSON body (owned) */
	char                *raw;              /* other body (owned, malloc'd) */
	size_t               raw_len;
	const char          *raw_type;         /* its Content-Type */
	int                  fd;               /* file body (owned), -1 none */
	uint64_t             fd_len;
	char                 disposition[128]; /* Content-Disposition, "" none */
	const char          *err_code;         /* refusal code, NULL on success */
	char                 err_msg[256];
	unsigned             retry_after;      /* seconds, 0 none */
	char                 extra_header[2][2][512]; /* handler headers */

	/* audit */
	const char          *outcome;          /* NULL: "ok" or from the status */
	char                 outcome_buf[48];  /* for outcomes built at run time */
	char                 target[API_TARGET_MAX];
	json_t              *detail;           /* extra detail fields (owned) */

	/* after a successful COMMIT (e.g. start a production build) */
	void               (*after_commit)(api_req *r);
	int                commit_on_fail; /* keep the work of a refused
	                                      request (a renewed blinding) */
	char                 after_arg[64];
};

/* -- for handlers -------------------------------------------------------- */

/* Success: status (200, 201) and a JSON object (ownership taken; NULL is
 * treated as out of memory). */
void api_reply(api_req *r, unsigned status, json_t *body);
/* Success with a non-JSON body (malloc'd buffer, ownership taken). */
void api_reply_raw(api_req *r, unsigned status, char *data, size_t len,
                   const char *content_type);
/* Success with a file body (fd ownership taken; closed when sent). */
void api_reply_fd(api_req *r, int fd, uint64_t len, const char *filename);
/* An extra response header (at most two; static or copied strings). */
void api_header(api_req *r, const char *name, const char *value);

/* Refusal or failure: status, stable code, a message for the client
 * (printf-style; no request values!), and the audit outcome (NULL: derived
 * from the code). */
void api_fail(api_req *r, unsigned status, const char *code,
              const char *outcome, const char *fmt, ...)
     __attribute__((format(printf, 5, 6)));
/* A database failure: logged with err (server side only), answered 503
 * "unavailable" when the connection is gone, else 500 "internal". */
void api_fail_db(api_req *r, const char *what, const char *err);
/* Any other internal failure: logged, answered 500 "internal". */
void api_fail_internal(api_req *r, const char *what, const char *err);

/* Audit target ("matter:<uuid>", ...), printf-style. */
void api_target(api_req *r, const char *fmt, ...)
     __attribute__((format(printf, 2, 3)));
/* Add key = value (ownership of v taken) to the audit detail. */
void api_detail(api_req *r, const char *key, json_t *v);

/* The body as a JSON object (owned by the caller), or NULL after an
 * api_fail(400 "bad_request"). */
json_t *api_body_object(api_req *r);
/* A query-string argument, or NULL. */
const char *api_query(api_req *r, const char *key);
/* The {id} path segment as a UUID: 0, or -1 after api_fail(404). */
int api_param_uuid(api_req *r, unsigned char out[UTIL_UUID_BYTES],
                   char text[UTIL_UUID_STRLEN + 1]);

api_keys *api_req_keys(api_req *r);

/* Sign the head of the caller's tenant audit chain (event event_no with
 * hash head) with the API node key (signing_key_file), as the header value
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

/* Load keys and trust, build the pools; binds nothing yet. */
int  api_server_new(api_server **out, const api_config *cfg, char *err,
                    size_t err_len) __attribute__((warn_unused_result));
/* Bind the listeners and start serving (returns at once). */
int  api_server_start(api_server *s, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Re-read the people CA and CRL (SIGHUP). */
void api_server_reload(api_server *s);
/* Stop listening, wait for requests and build jobs, free everything. */
void api_server_free(api_server **s);

#endif
