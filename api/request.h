/* api/request.h — the interface coffer-api's handlers program against: the
 * request, its reply and refusal, its audit fields (server.c runs the life
 * cycle below; request.c holds these helpers).
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
#ifndef COFFER_API_REQUEST_H
#define COFFER_API_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "api/auth.h"
#include "api/config.h"
#include "api/metrics.h"
#include "common/util.h"

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
#define API_ROUTE_NOAUDIT   0x8U   /* a successful answer is no action (a
                                      read of one's own identity): no audit
                                      event; refusals are still audited */

typedef struct api_route {
	const char     *method;
	const char     *pattern;      /* "/v1/matters/{id}/approvals" */
	const char     *action;       /* audit action and metrics label */
	unsigned        roles;        /* API_ROLE_* allowed */
	unsigned        flags;        /* API_ROUTE_* */
	api_limit_class limit;        /* bucket charged; API_LIMIT_COUNT: none */
	api_handler_fn *fn;
} api_route;

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

	/* after a successful COMMIT (e.g. start a production build); for a
	 * refused request only with commit_on_fail */
	void               (*after_commit)(api_req *r);
	int                commit_on_fail; /* keep the work of a refused
	                                      request (a renewed blinding, a
	                                      failed proof of possession) */
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

/* Refuse (400 "bad_request", naming where) a JSON object with a member not
 * in the NULL-terminated allowed list: 0, or -1 after api_fail. */
int api_json_only(api_req *r, const json_t *obj, const char *where,
                  const char *const *allowed);

/* A timestamptz column as RFC 3339 UTC text with microseconds, in SQL. */
#define API_TS(col) \
	"pg_catalog.to_char((" col ") AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

#endif
