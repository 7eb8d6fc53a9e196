/* api/server.c — coffer-api's listeners, route allowlist, request life
 * cycle (identify, refuse, run, audit, commit, answer) and the loopback
 * /metrics listener.  The database pool is api/pool.c's, the rate-limit
 * buckets api/ratelimit.c's.
 *
 * Trusts: the configuration, the database, api/auth's verdict.  Does not
 * trust: the peer — its request head has passed api/frontdoor.c's strict
 * framing and path rules before libmicrohttpd parses it (so the decoded
 * path routed here is the raw one: no '%' gets through), every answer
 * closes the connection, its path only ever selects an entry of the route
 * table, its certificate is verified by api/auth.c (GnuTLS is only told to
 * request one), its body is size-capped and parsed by jansson, and nothing
 * it sent is echoed in an error or a log line except through
 * log_printable() with a length cap.
 *
 * Threads: libmicrohttpd's pool (cfg->threads) runs the handlers; each
 * request borrows a pooled PostgreSQL connection while it touches the
 * database.  Rate-limit buckets and the pool are mutex-protected; metrics
 * are atomics.
 *
 * Hazards:
 *  - Fail closed: the audit event is written in the handler's transaction;
 *    the answer is built only after COMMIT succeeded.  A failed audit write
 *    turns any answer into 500 and discards the handler's reply (a file to
 *    stream, a job to start).
 *  - A body is read only from a caller that authenticated and is allowed
 *    the route; everything else is refused on the headers alone.
 *  - Probes that fail before authentication are charged to a per-address
 *    bucket first, so scanning costs the scanner, not the database.
 */
#include "api/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "api/frontdoor.h"
#include "api/handlers.h"
#include "api/keeperlink.h"
#include "api/pool.h"
#include "api/ratelimit.h"
#include "common/audit.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "common/x509.h"
#include "vault/chain.h"
#include "vault/mem.h"

#define SRV_ERR            512U
#define SRV_CHAIN_MAX      4U
#define SRV_PEM_MAX        (1024U * 1024U)
#define SRV_HSTS           "max-age=63072000; includeSubDomains"
#define SRV_PRIORITIES     "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
                           "-VERS-SSL3.0:-ARCFOUR-128:-3DES-CBC:%SERVER_PRECEDENCE"

/* -- route table ---------------------------------------------------------- */

const api_route api_routes[] = {
	{ "GET",  "/v1/whoami", "whoami", API_ROLE_ANY, API_ROUTE_NOAUDIT,
	  API_LIMIT_COUNT, api_h_whoami },
	{ "POST", "/v1/matters", "matter.create", API_ROLE_LEGAL,
	  API_ROUTE_BODY, API_LIMIT_SEARCH, api_h_matter_create },
	{ "GET",  "/v1/matters", "matter.list",
	  API_ROLE_LEGAL | API_ROLE_CUSTODIAN | API_ROLE_AUDITOR, 0,
	  API_LIMIT_SEARCH, api_h_matter_list },
	{ "GET",  "/v1/matters/{id}", "matter.show",
	  API_ROLE_LEGAL | API_ROLE_CUSTODIAN | API_ROLE_AUDITOR, 0,
	  API_LIMIT_SEARCH, api_h_matter_show },
	{ "POST", "/v1/matters/{id}/close", "matter.close", API_ROLE_LEGAL,
	  API_ROUTE_BODY, API_LIMIT_COUNT, api_h_matter_close },
	{ "POST", "/v1/matters/{id}/approvals", "approval.submit",
	  API_ROLE_CUSTODIAN, API_ROUTE_BIGBODY, API_LIMIT_APPROVAL,
	  api_h_approval_submit },
	{ "GET",  "/v1/matters/{id}/production", "production.download",
	  API_ROLE_LEGAL, 0, API_LIMIT_COUNT, api_h_production_get },
	{ "POST", "/v1/holds", "hold.create", API_ROLE_ADMIN | API_ROLE_LEGAL,
	  API_ROUTE_BODY, API_LIMIT_COUNT, api_h_hold_create },
	{ "GET",  "/v1/holds", "hold.list", API_ROLE_ADMIN | API_ROLE_LEGAL, 0,
	  API_LIMIT_COUNT, api_h_hold_list },
	{ "POST", "/v1/holds/{id}/release", "hold.release",
	  API_ROLE_ADMIN | API_ROLE_LEGAL, API_ROUTE_BODY, API_LIMIT_COUNT,
	  api_h_hold_release },
	{ "GET",  "/v1/retention", "retention.list", API_ROLE_ADMIN, 0,
	  API_LIMIT_COUNT, api_h_retention_get },
	{ "PUT",  "/v1/retention", "retention.set", API_ROLE_ADMIN,
	  API_ROUTE_BODY, API_LIMIT_COUNT, api_h_retention_put },
	{ "PUT",  "/v1/retention/floor", "retention.floor", API_ROLE_ADMIN,
	  API_ROUTE_BODY, API_LIMIT_COUNT, api_h_retention_floor_put },
	{ "GET",  "/v1/requests", "request.list", API_ROLE_ADMIN | API_ROLE_LEGAL,
	  0, API_LIMIT_COUNT, api_h_request_list },
	{ "POST", "/v1/requests/{id}/approve", "request.approve",
	  API_ROLE_ADMIN | API_ROLE_LEGAL, API_ROUTE_BODY, API_LIMIT_COUNT,
	  api_h_request_approve },
	{ "POST", "/v1/requests/{id}/refuse", "request.refuse",
	  API_ROLE_ADMIN | API_ROLE_LEGAL, API_ROUTE_BODY, API_LIMIT_COUNT,
	  api_h_request_refuse },
	{ "POST", "/v1/reshares", "reshare.propose", API_ROLE_ADMIN,
	  API_ROUTE_BODY, API_LIMIT_COUNT, api_h_reshare_propose },
	{ "GET",  "/v1/reshares", "reshare.list",
	  API_ROLE_ADMIN | API_ROLE_AUDITOR | API_ROLE_CUSTODIAN, 0,
	  API_LIMIT_COUNT, api_h_reshare_list },
	{ "GET",  "/v1/reshares/{id}", "reshare.show",
	  API_ROLE_ADMIN | API_ROLE_AUDITOR | API_ROLE_CUSTODIAN, 0,
	  API_LIMIT_COUNT, api_h_reshare_show },
	{ "POST", "/v1/reshares/{id}/approve", "reshare.approve", API_ROLE_ADMIN,
	  API_ROUTE_BODY, API_LIMIT_COUNT, api_h_reshare_approve },
	{ "POST", "/v1/reshares/{id}/cancel", "reshare.cancel", API_ROLE_ADMIN,
	  API_ROUTE_BODY, API_LIMIT_COUNT, api_h_reshare_cancel },
	{ "POST", "/v1/reshares/{id}/dealings", "reshare.deal",
	  API_ROLE_CUSTODIAN, API_ROUTE_BODY, API_LIMIT_COUNT,
	  api_h_reshare_deal },
	{ "POST", "/v1/reshares/{id}/reports", "reshare.report",
	  API_ROLE_CUSTODIAN, API_ROUTE_BODY, API_LIMIT_COUNT,
	  api_h_reshare_report },
	{ "GET",  "/v1/audit", "audit.export", API_ROLE_AUDITOR, 0,
	  API_LIMIT_SEARCH, api_h_audit_export },
	{ "GET",  "/v1/verify", "verify.run", API_ROLE_AUDITOR, API_ROUTE_NOTXN,
	  API_LIMIT_SEARCH, api_h_verify },
	{ "GET",  "/v1/capture", "capture.report",
	  API_ROLE_ADMIN | API_ROLE_AUDITOR, 0, API_LIMIT_SEARCH,
	  api_h_capture_report },
	/* "challenge" before "{id}": the first route that matches wins */
	{ "POST", "/v1/possession/challenge", "possession.challenge",
	  API_ROLE_CUSTODIAN, 0, API_LIMIT_SEARCH, api_h_possession_challenge },
	{ "POST", "/v1/possession/{id}", "possession.answer", API_ROLE_CUSTODIAN,
	  API_ROUTE_BODY, API_LIMIT_SEARCH, api_h_possession_answer },
	{ "GET",  "/v1/possession", "possession.list",
	  API_ROLE_ADMIN | API_ROLE_AUDITOR | API_ROLE_CUSTODIAN, 0,
	  API_LIMIT_SEARCH, api_h_possession_list },
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

/* Next '/'-separated segment of p: its start and length; NULL at the end. */
static const char *
srv_segment(const char *p, size_t *len)
{
	const char *e;

	if (*p != '/')
		return NULL;
	p++;
	e = strchr(p, '/');
	*len = e != NULL ? (size_t)(e - p) : strlen(p);
	return p;
}

/* 1 if path has the shape of pattern; the {id} segment goes to param. */
static int
srv_path_match(const char *pattern, const char *path, char *param,
    size_t param_cap)
{
	const char *a = pattern, *b = path, *sa, *sb;
	size_t la, lb;

	if (param_cap > 0)
		param[0] = '\0';
	for (;;) {
		if (*a == '\0' || *b == '\0')
			return *a == '\0' && *b == '\0';
		if ((sa = srv_segment(a, &la)) == NULL ||
		    (sb = srv_segment(b, &lb)) == NULL)
			return 0;
		if (la == 4 && memcmp(sa, "{id}", 4) == 0) {
			if (lb == 0 || lb >= param_cap)
				return 0;
			memcpy(param, sb, lb);
			param[lb] = '\0';
		} else if (la != lb || memcmp(sa, sb, la) != 0) {
			return 0;
		}
		a = sa + la;
		b = sb + lb;
	}
}

int
api_route_match(const char *method, const char *path,
    const api_route **route, int *index, char *param, size_t param_cap,
    unsigned *status)
{
	size_t i;
	int path_known = 0;

	*route = NULL;
	*index = -1;
	*status = 404;
	if (method == NULL || path == NULL || path[0] != '/')
		return -1;
	for (i = 0; i < api_nroutes; i++) {
		if (!srv_path_match(api_routes[i].pattern, path, param, param_cap))
			continue;
		path_known = 1;
		if (strcmp(api_routes[i].method, method) == 0) {
			*route = &api_routes[i];
			*index = (int)i;
			*status = 0;
			return 0;
		}
	}
	if (param_cap > 0)
		param[0] = '\0';
	*status = path_known ? 405 : 404;
	return -1;
}

/* -- the server ------------------------------------------------------------- */

struct api_server {
	const api_config   *cfg;
	api_auth           *auth;
	keeper_link        *kl;            /* every key is there */
	api_pool           *pool;
	api_ratelimit      *lim;
	struct MHD_Daemon  *d;
	struct MHD_Daemon  *metrics;
	char               *cert_pem;
	char               *key_pem;
	size_t              key_pem_len;
	char               *trust_pem;
	int                 lsock, msock;
	pthread_mutex_t     logmu;
	double              last_probe_log;
	unsigned long       probes_unlogged;
};

/* The server side of a request (api_req first). */
typedef struct srv_req {
	api_req        r;
	int            route_index;
	unsigned       route_status;        /* 404/405 when no route */
	char           method[16];
	char           path_shown[100];
	char           path[256];           /* raw, "" when longer */
	char           peer[INET6_ADDRSTRLEN + 1];
	unsigned char  peer_key[16];
	api_cert       cert;
	int            identified;
	int            tenant_known;
	unsigned char  audit_tenant[UTIL_UUID_BYTES];
	const char    *auth_reason;
	char          *body;
	size_t         body_len, body_cap, body_max;
	int            waiting_body;
	int            big_body_refused;
	double         started;             /* util_mono_s() at the head */
} srv_req;

keeper_link *
api_req_keeper(api_req *r)
{
	return r->srv->kl;
}

int
api_req_start_build(api_req *r, const char *tenant_id, const char *matter_id)
{
	return kl_build(r->srv->kl, tenant_id, matter_id);
}

int
api_req_sign_audit_head(api_req *r, unsigned long long event_no,
    const unsigned char head[32], char *out, size_t out_len)
{
	unsigned char sig[VAULT_SIG_BYTES];
	char hhex[2 * VAULT_HASH_BYTES + 1], shex[2 * VAULT_SIG_BYTES + 1];
	int64_t at;
	int rc;

	/* signed in the keeper, on its clock */
	if ((rc = kl_head_sign(r->srv->kl, r->who.tenant_id, event_no, head, &at,
	    sig)) != 0)
		return rc;
	util_hex(hhex, head, VAULT_HASH_BYTES);
	util_hex(shex, sig, sizeof(sig));
	if ((size_t)snprintf(out, out_len, "node=%s;event_no=%llu;head=%s;"
	    "signed_at=%lld;sig=%s", r->cfg->node_name, event_no, hhex,
	    (long long)at, shex) >= out_len)
		return -1;
	return 0;
}

void
api_h_whoami(api_req *r)
{
	api_target(r, "user:%s", r->who.user_id);
	api_reply(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
	    "tenant", r->who.tenant, "tenant_id", r->who.tenant_id_str,
	    "user_id", r->who.user_id, "name", r->who.name, "role", r->who.role,
	    "custodian_index", r->who.custodian_index > 0 ?
	    json_integer(r->who.custodian_index) : json_null()));
}

/* -- request life cycle ------------------------------------------------------ */

static const char *
srv_outcome_of(const api_req *r)
{
	if (r->outcome != NULL)
		return r->outcome;
	switch (r->status) {
	case 200: case 201: case 204:
		return "ok";
	case 400: return "invalid";
	case 403:
		return r->err_code != NULL &&
		    strcmp(r->err_code, "unauthenticated") == 0 ?
		    "unauthenticated" : "denied";
	case 404: return "not-found";
	case 405: return "method-not-allowed";
	case 409: return "conflict";
	case 413: return "too-large";
	case 422: return "rejected";
	case 429: return "rate-limited";
	default:  return "failed";
	}
}

static api_refusal
srv_refusal_of(const api_req *r)
{
	switch (r->status) {
	case 403:
		return r->err_code != NULL &&
		    strcmp(r->err_code, "unauthenticated") == 0 ?
		    API_REFUSE_UNAUTHENTICATED : API_REFUSE_FORBIDDEN;
	case 404: return API_REFUSE_NOT_FOUND;
	case 405: return API_REFUSE_METHOD;
	case 409: return API_REFUSE_CONFLICT;
	case 413: return API_REFUSE_TOO_LARGE;
	default:  return API_REFUSE_BAD_REQUEST;
	}
}

/* The audit event of this request, appended in the open transaction. */
static int
srv_audit(srv_req *sr, char *err, size_t err_len)
{
	api_req *r = &sr->r;
	audit_event ev;
	json_t *d;
	char *detail = NULL;
	int rc;

	memset(&ev, 0, sizeof(ev));
	memcpy(ev.tenant_id, sr->identified ? r->who.tenant_id : sr->audit_tenant,
	    UTIL_UUID_BYTES);
	ev.actor = sr->cert.fingerprint[0] != '\0' ? sr->cert.fingerprint : "none";
	ev.role = sr->identified ? r->who.role : "none";
	if (r->route != NULL)
		ev.action = r->route->action;
	else
		ev.action = sr->route_status == 405 ? "route.method" :
		    "route.unknown";
	ev.target = r->target[0] != '\0' ? r->target : NULL;
	ev.outcome = srv_outcome_of(r);
	ev.request_id = r->request_id;

	d = r->detail != NULL ? json_deep_copy(r->detail) : json_object();
	if (d == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	json_object_set_new(d, "status", json_integer(r->status));
	json_object_set_new(d, "method", json_string(sr->method));
	json_object_set_new(d, "peer", json_string(sr->peer));
	if (r->err_code != NULL)
		json_object_set_new(d, "code", json_string(r->err_code));
	if (sr->auth_reason != NULL)
		json_object_set_new(d, "auth", json_string(sr->auth_reason));
	/* The person beside the fingerprint (actor): name and role as
	 * registered (coffer.users), for people reading the log. */
	if (sr->identified) {
		json_object_set_new(d, "actor_name", json_string(r->who.name));
		json_object_set_new(d, "actor_role", json_string(r->who.role));
	}
	if (!sr->identified && sr->cert.tenant[0] != '\0')
		json_object_set_new(d, "claimed", json_pack("{s:s, s:s, s:s}",
		    "tenant", sr->cert.tenant, "role", sr->cert.role,
		    "name", sr->cert.name));
	detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	if (detail == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	ev.detail_json = detail;
	rc = audit_append(r->db, &ev, NULL, NULL, err, err_len);
	free(detail);
	return rc;
}

/* A pooled connection, in a transaction unless notxn.  A pooled
 * connection that died while idle (a database restart) is noticed here,
 * closed, and replaced once, so the restart costs no request. */
static int
srv_db_ready(srv_req *sr, int notxn, char *err, size_t err_len)
{
	api_server *s = sr->r.srv;
	api_req *r = &sr->r;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (r->db == NULL &&
		    (r->db = api_pool_get(s->pool, err, err_len)) == NULL)
			break;
		if (notxn ? pg_exec(r->db, "SELECT 1", NULL, err, err_len) == 0 :
		    pg_begin(r->db, err, err_len) == 0) {
			api_metrics_db(1);
			return 0;
		}
		api_pool_put(s->pool, &r->db);    /* closes it when broken */
	}
	api_metrics_db(0);
	return -1;
}

/* Decide the request's fate in the database: the handler's work (if any)
 * is in r->db's open transaction, or was rolled back; write the audit event
 * and COMMIT.  On any failure nothing remains and the answer is 500/503. */
static void
srv_finish(srv_req *sr)
{
	api_server *s = sr->r.srv;
	api_req *r = &sr->r;
	char err[SRV_ERR];
	int audited = 0;

	if (r->status == 0)
		api_fail_internal(r, r->route != NULL ? r->route->action : "route",
		    "handler gave no answer");
	/* a refused request's work is undone, and so is what follows it —
	 * unless it keeps its work (commit_on_fail) */
	if (r->status >= 400 && !r->commit_on_fail)
		r->after_commit = NULL;
	if (!sr->identified && !sr->tenant_known) {
		/* No tenant to audit under (no certificate, or one naming no
		 * known tenant): logged instead. */
		if (r->db != NULL)
			(void)pg_rollback(r->db);
		api_pool_put(s->pool, &r->db);
		log_warn("refused %s %s from %s: %s (%s, certificate %s, "
		    "request %s)", sr->method, sr->path_shown, sr->peer,
		    r->err_code != NULL ? r->err_code : "?",
		    sr->auth_reason != NULL ? sr->auth_reason : "-",
		    sr->cert.fingerprint[0] ? sr->cert.fingerprint : "none",
		    r->request_id);
		return;
	}
	if (r->db == NULL && r->status == 503) {
		/* Nothing was done and no connection could be had: waiting for
		 * one again only to record that would double the delay. */
		log_warn("request %s (%s %s) not served: database unavailable",
		    r->request_id, sr->method, sr->path_shown);
		return;
	}
	if (r->db != NULL && r->status >= 400 && !r->commit_on_fail &&
	    PQtransactionStatus(r->db) != PQTRANS_IDLE)
		(void)pg_rollback(r->db);
	if (sr->identified && r->status < 400 && r->route != NULL &&
	    (r->route->flags & API_ROUTE_NOAUDIT)) {
		if (r->db != NULL)
			(void)pg_rollback(r->db);
		api_pool_put(s->pool, &r->db);
		return;
	}
	if ((r->db == NULL || PQtransactionStatus(r->db) == PQTRANS_IDLE) &&
	    srv_db_ready(sr, 0, err, sizeof(err)) != 0)
		goto fail;
	if (PQtransactionStatus(r->db) != PQTRANS_INTRANS) {
		snprintf(err, sizeof(err), "transaction already failed");
		goto fail;
	}
	if (srv_audit(sr, err, sizeof(err)) != 0)
		goto fail;
	audited = 1;
	if (pg_commit(r->db, err, sizeof(err)) != 0)
		goto fail;
	api_pool_put(s->pool, &r->db);
	if (r->after_commit != NULL)
		r->after_commit(r);
	return;
fail:
	api_metrics_audit_failure();
	log_error("request %s (%s %s): %s: %s; nothing was done", r->request_id,
	    sr->method, sr->path_shown, audited ? "commit failed" :
	    "audit event not written", err);
	if (r->db != NULL)
		(void)pg_rollback(r->db);
	api_pool_put(s->pool, &r->db);
	r->after_commit = NULL;
	json_decref(r->detail);
	r->detail = NULL;
	if (pg_last_sqlstate_is(PG_SQLSTATE_CONNECTION_FAILURE)) {
		r->retry_after = 5;
		api_fail(r, 503, "unavailable", "failed",
		    "the archive database is unavailable; nothing was done");
	} else {
		api_fail(r, 500, "audit_failed", "failed",
		    "the request could not be recorded in the audit log, so it "
		    "was not carried out (request id %s)", r->request_id);
	}
}

/* Serialise j into a malloc'd buffer (free() it). */
/* MHD's free of a response body: wiped first. */
static void
srv_text_free(void *p)
{
	if (p != NULL)
		vault_free_wiped(p, malloc_usable_size(p));
}

static char *
srv_json_text(const json_t *j, size_t *len)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
	char *buf;

	*len = 0;
	if (n == 0 || (buf = malloc(n + 1)) == NULL)
		return NULL;
	if (json_dumpb(j, buf, n, JSON_COMPACT) != n) {
		free(buf);
		return NULL;
	}
	buf[n] = '\n';
	*len = n + 1;
	return buf;
}

/* The security headers (api/frontdoor.c's list, HSTS first) and one
 * request per connection: whatever follows a request is never read as
 * another (the front door drops it). */
static void
srv_common_headers(struct MHD_Response *resp, const char *type, int tls)
{
	size_t i;

	for (i = tls ? 0 : 1; frontdoor_headers[i][0] != NULL; i++)
		MHD_add_response_header(resp, frontdoor_headers[i][0],
		    frontdoor_headers[i][1]);
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* The error body of r as a malloc'd buffer. */
static char *
srv_error_text(const api_req *r, size_t *len)
{
	json_t *j;
	char *t;

	j = json_pack("{s:{s:s, s:s, s:s}}", "error", "code",
	    r->err_code != NULL ? r->err_code : "internal", "message",
	    r->err_msg, "request_id", r->request_id);
	if (j == NULL) {
		*len = 0;
		return NULL;
	}
	t = srv_json_text(j, len);
	json_decref(j);
	return t;
}

static enum MHD_Result
srv_respond(srv_req *sr)
{
	api_req *r = &sr->r;
	struct MHD_Response *resp = NULL;
	const char *type = "application/json";
	char *text = NULL, num[24];
	size_t len = 0, i;
	enum MHD_Result ret;
	unsigned status = r->status;

	if (status >= 400 || r->err_code != NULL) {
		text = srv_error_text(r, &len);
	} else if (r->fd >= 0) {
		resp = MHD_create_response_from_fd64(r->fd_len, r->fd);
		if (resp != NULL)
			r->fd = -1;       /* MHD closes it */
		type = "application/octet-stream";
	} else if (r->raw != NULL) {
		resp = MHD_create_response_from_buffer(r->raw_len, r->raw,
		    MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			r->raw = NULL;
		type = r->raw_type != NULL ? r->raw_type : "application/octet-stream";
	} else if (r->reply != NULL) {
		text = srv_json_text(r->reply, &len);
	}
	if (resp == NULL && text == NULL) {
		/* Out of memory: a fixed answer. */
		static const char oom[] = "{\"error\":{\"code\":\"internal\","
		    "\"message\":\"internal error\"}}\n";

		status = 500;
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1,
		    (void *)(uintptr_t)oom, MHD_RESPMEM_PERSISTENT);
		type = "application/json";
	} else if (resp == NULL) {
		/* wiped when MHD is done with it: a body may hold the
		 * participants as entered (GET /v1/matters/{id}) */
		resp = MHD_create_response_from_buffer_with_free_callback(len,
		    text, srv_text_free);
		if (resp == NULL)
			srv_text_free(text);
	}
	if (resp == NULL)
		return MHD_NO;
	srv_common_headers(resp, type, 1);
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	if (r->disposition[0] != '\0' && status < 400)
		MHD_add_response_header(resp, "Content-Disposition", r->disposition);
	if (r->retry_after > 0) {
		snprintf(num, sizeof(num), "%u", r->retry_after);
		MHD_add_response_header(resp, "Retry-After", num);
	}
	if (status < 400)
		for (i = 0; i < 2; i++)
			if (r->extra_header[i][0][0] != '\0')
				MHD_add_response_header(resp, r->extra_header[i][0],
				    r->extra_header[i][1]);
	if (status == 405 && sr->route_status == 405) {
		char allow[64] = "", tmp[80];
		size_t k;

		for (k = 0; k < api_nroutes; k++)
			if (srv_path_match(api_routes[k].pattern, sr->path, tmp,
			    sizeof(tmp)) && strstr(allow, api_routes[k].method) == NULL &&
			    strlen(allow) + strlen(api_routes[k].method) + 3 <
			    sizeof(allow)) {
				if (allow[0] != '\0')
					strcat(allow, ", ");
				strcat(allow, api_routes[k].method);
			}
		if (allow[0] != '\0')
			MHD_add_response_header(resp, "Allow", allow);
	}
	ret = MHD_queue_response((struct MHD_Connection *)r->conn, status, resp);
	MHD_destroy_response(resp);
	api_metrics_request(sr->route_index, status);
	api_metrics_duration(sr->route_index, util_mono_s() - sr->started);
	if (status >= 400 && status != 429 && status < 500)
		api_metrics_refusal(srv_refusal_of(r));
	return ret;
}

/* Refusals decided before any handler ran. */
static void
srv_refuse(srv_req *sr, unsigned status, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
srv_refuse(srv_req *sr, unsigned status, const char *code, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sr->r.err_msg, sizeof(sr->r.err_msg), fmt, ap);
	va_end(ap);
	sr->r.status = status;
	sr->r.err_code = code;
}

static unsigned
srv_role_bit(const char *role)
{
	if (strcmp(role, "admin") == 0)
		return API_ROLE_ADMIN;
	if (strcmp(role, "legal") == 0)
		return API_ROLE_LEGAL;
	if (strcmp(role, "custodian") == 0)
		return API_ROLE_CUSTODIAN;
	if (strcmp(role, "auditor") == 0)
		return API_ROLE_AUDITOR;
	return 0;
}

/* The verified certificate chain of the connection. */
static void
srv_peer_cert(api_server *s, struct MHD_Connection *conn, api_cert *out)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers = NULL;
	const unsigned char *ders[SRV_CHAIN_MAX];
	size_t lens[SRV_CHAIN_MAX];
	gnutls_session_t tls;
	unsigned n = 0, i;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	tls = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
	if (tls != NULL && gnutls_certificate_type_get(tls) == GNUTLS_CRT_X509)
		peers = gnutls_certificate_get_peers(tls, &n);
	if (peers == NULL || n == 0) {
		api_auth_check(s->auth, NULL, NULL, 0, out);
		return;
	}
	if (n > SRV_CHAIN_MAX) {
		api_auth_check(s->auth, NULL, NULL, 0, out);
		out->status = API_CERT_MALFORMED;
		return;
	}
	for (i = 0; i < n; i++) {
		ders[i] = peers[i].data;
		lens[i] = peers[i].size;
	}
	api_auth_check(s->auth, ders, lens, n, out);
}

static void
srv_peer_addr(struct MHD_Connection *conn, char *out, size_t cap,
    unsigned char key[16])
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, cap, "?");
	memset(key, 0, 16);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)
		    (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)
		    (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap);
		memcpy(key, &in6->sin6_addr, 16);
	}
}

/* Rate-limited warning for refused probes answered without the database. */
static void
srv_log_probe(api_server *s, const srv_req *sr)
{
	double now = util_mono_s();
	unsigned long skipped = 0;
	int log_now = 0;

	pthread_mutex_lock(&s->logmu);
	if (now - s->last_probe_log >= 1.0) {
		s->last_probe_log = now;
		skipped = s->probes_unlogged;
		s->probes_unlogged = 0;
		log_now = 1;
	} else {
		s->probes_unlogged++;
	}
	pthread_mutex_unlock(&s->logmu);
	if (log_now)
		log_warn("rate-limited refused request %s %s from %s (%lu more "
		    "not logged)", sr->method, sr->path_shown, sr->peer, skipped);
}

/* Who is calling, inside r->db (in a transaction unless NOTXN).
 * 0: identified; 1: refused (r filled); -1: database failure (r filled). */
static int
srv_identify(srv_req *sr)
{
	api_req *r = &sr->r;
	char err[SRV_ERR];
	int rc;

	sr->identified = 0;
	rc = api_auth_identify(r->db, &sr->cert, &r->who, &sr->tenant_known,
	    sr->audit_tenant, &sr->auth_reason, err, sizeof(err));
	if (rc < 0) {
		api_fail_db(r, "identifying the client", err);
		return -1;
	}
	if (rc == API_AUTH_REFUSED) {
		srv_refuse(sr, 403, "unauthenticated", "a valid client certificate "
		    "of an active user is required");
		return 1;
	}
	sr->identified = 1;
	sr->auth_reason = NULL;
	return 0;
}

/* Checks after identification: role, then (first phase only) rate limit
 * and declared body size.  0 go on, 1 refused. */
static int
srv_checks(srv_req *sr, int first)
{
	api_req *r = &sr->r;
	const api_route *rt = r->route;
	const api_config *c = r->cfg;
	unsigned char uid[UTIL_UUID_BYTES];
	unsigned retry;

	if ((srv_role_bit(r->who.role) & rt->roles) == 0) {
		srv_refuse(sr, 403, "forbidden", "the %s role may not do this",
		    r->who.role);
		return 1;
	}
	if (!first)
		return 0;
	if (rt->limit != API_LIMIT_COUNT &&
	    util_uuid_parse(uid, r->who.user_id) == 0) {
		double rate = rt->limit == API_LIMIT_APPROVAL ? c->approval_rate :
		    c->search_rate;
		double burst = rt->limit == API_LIMIT_APPROVAL ? c->approval_burst :
		    c->search_burst;

		if (!api_ratelimit_take(r->srv->lim, (unsigned)rt->limit, uid,
		    rate, burst, &retry)) {
			api_metrics_rate_limited(rt->limit);
			r->retry_after = retry;
			srv_refuse(sr, 429, "rate_limited", "too many requests; "
			    "retry after %u seconds", retry);
			return 1;
		}
	}
	if (rt->flags & (API_ROUTE_BODY | API_ROUTE_BIGBODY)) {
		const char *cl = MHD_lookup_connection_value(
		    (struct MHD_Connection *)r->conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);

		sr->body_max = (rt->flags & API_ROUTE_BIGBODY) ?
		    c->max_approval_bytes : c->max_body_bytes;
		if (cl != NULL) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (errno != 0 || end == cl || *end != '\0' ||
			    v > sr->body_max) {
				srv_refuse(sr, 413, "payload_too_large", "the request "
				    "body exceeds %zu bytes", sr->body_max);
				return 1;
			}
		}
	}
	return 0;
}

/* Run the route's handler and settle the request (audit, commit). */
static void
srv_run(srv_req *sr, int first)
{
	api_server *s = sr->r.srv;
	api_req *r = &sr->r;
	char err[SRV_ERR];
	int notxn = (r->route->flags & API_ROUTE_NOTXN) != 0, rc;

	if (srv_db_ready(sr, notxn, err, sizeof(err)) != 0) {
		log_error("request %s: database: %s", r->request_id, err);
		r->retry_after = 5;
		api_fail(r, 503, "unavailable", "failed", "the archive database is "
		    "unavailable; try again later");
		goto settle;
	}
	if ((rc = srv_identify(sr)) != 0)
		goto settle;
	if (srv_checks(sr, first) != 0)
		goto settle;
	if (first && (r->route->flags & (API_ROUTE_BODY | API_ROUTE_BIGBODY))) {
		/* Authenticated and allowed: now the body may come.  The
		 * read-only transaction so far is dropped; the handler gets a
		 * fresh one once the body is complete. */
		(void)pg_rollback(r->db);
		api_pool_put(s->pool, &r->db);
		sr->waiting_body = 1;
		return;
	}
	r->body = sr->body;
	r->body_len = sr->body_len;
	r->route->fn(r);
	if (notxn && r->db != NULL && PQtransactionStatus(r->db) != PQTRANS_IDLE)
		(void)pg_rollback(r->db);
settle:
	srv_finish(sr);
}

/* First call of a request: route, certificate, cheap refusals. */
static void
srv_begin(srv_req *sr, const char *url, const char *method)
{
	api_server *s = sr->r.srv;
	api_req *r = &sr->r;
	const api_route *rt = NULL;
	unsigned char rid[UTIL_UUID_BYTES];
	unsigned retry;
	int idx;

	sr->started = util_mono_s();
	util_uuid_random(rid);
	util_hex(r->request_id, rid, sizeof(rid));
	log_printable(sr->method, sizeof(sr->method), method, strlen(method));
	log_printable(sr->path_shown, sizeof(sr->path_shown), url, strlen(url));
	if (strlen(url) < sizeof(sr->path))
		memcpy(sr->path, url, strlen(url) + 1);
	srv_peer_addr((struct MHD_Connection *)r->conn, sr->peer,
	    sizeof(sr->peer), sr->peer_key);

	if (api_route_match(method, url, &rt, &idx, r->param, sizeof(r->param),
	    &sr->route_status) == 0) {
		r->route = rt;
		sr->route_index = idx;
	} else {
		sr->route_index = -1;
		api_target(r, "path:%s", sr->path_shown);
	}
	srv_peer_cert(s, (struct MHD_Connection *)r->conn, &sr->cert);

	if (r->route == NULL || sr->cert.status != API_CERT_OK) {
		/* Refused before authentication: charged to the address. */
		if (!api_ratelimit_take(s->lim, API_LIMIT_REFUSAL, sr->peer_key,
		    r->cfg->refusal_rate, r->cfg->refusal_burst, &retry)) {
			api_metrics_rate_limited(API_LIMIT_REFUSAL);
			r->retry_after = retry;
			srv_refuse(sr, 429, "rate_limited", "too many refused "
			    "requests; retry after %u seconds", retry);
			srv_log_probe(s, sr);
			return;          /* no database, no audit: that is the point */
		}
		if (r->route == NULL) {
			if (sr->route_status == 405)
				srv_refuse(sr, 405, "method_not_allowed",
				    "method not allowed here");
			else
				srv_refuse(sr, 404, "not_found", "no such resource");
		} else {
			srv_refuse(sr, 403, "unauthenticated", "a valid client "
			    "certificate of an active user is required");
			sr->auth_reason = api_cert_status_name(sr->cert.status);
		}
		/* Find whom to audit it under. */
		{
			char err[SRV_ERR];
			int rc;

			if (srv_db_ready(sr, 1, err, sizeof(err)) != 0) {
				log_error("request %s: database: %s", r->request_id, err);
				r->retry_after = 5;
				srv_refuse(sr, 503, "unavailable", "the archive database "
				    "is unavailable; try again later");
				return;
			}
			if (sr->cert.status == API_CERT_OK) {
				unsigned st = r->status;
				char msg[sizeof(r->err_msg)];
				const char *code = r->err_code;

				memcpy(msg, r->err_msg, sizeof(msg));
				rc = srv_identify(sr);
				if (rc < 0) {
					api_pool_put(s->pool, &r->db);
					return;
				}
				/* Keep the route refusal as the answer. */
				r->status = st;
				r->err_code = code;
				memcpy(r->err_msg, msg, sizeof(msg));
				if (rc == 1)
					sr->auth_reason = sr->auth_reason != NULL ?
					    sr->auth_reason : "unknown certificate";
			} else if (api_auth_tenant(r->db, sr->cert.tenant,
			    &sr->tenant_known, sr->audit_tenant, err,
			    sizeof(err)) != 0) {
				api_fail_db(r, "tenant lookup", err);
				api_pool_put(s->pool, &r->db);
				return;
			}
		}
		srv_finish(sr);
		return;
	}
	srv_run(sr, 1);
}

static enum MHD_Result
srv_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	api_server *s = cls;
	srv_req *sr = *con_cls;

	(void)version;
	if (sr == NULL) {
		if ((sr = calloc(1, sizeof(*sr))) == NULL)
			return MHD_NO;
		sr->r.srv = s;
		sr->r.cfg = s->cfg;
		sr->r.conn = conn;
		sr->r.fd = -1;
		*con_cls = sr;
		srv_begin(sr, url, method);
		if (!sr->waiting_body)
			return srv_respond(sr);
		return MHD_YES;
	}
	if (!sr->waiting_body)
		return MHD_NO;                 /* answered already */
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		if (n > sr->body_max - sr->body_len) {
			/* Chunked body over the cap: the response cannot be
			 * queued while data arrives; audit and drop the
			 * connection. */
			if (!sr->big_body_refused) {
				sr->big_body_refused = 1;
				srv_refuse(sr, 413, "payload_too_large", "the request "
				    "body exceeds %zu bytes", sr->body_max);
				srv_finish(sr);
				api_metrics_request(sr->route_index, 413);
				api_metrics_refusal(API_REFUSE_TOO_LARGE);
			}
			return MHD_NO;
		}
		if (sr->body_len + n > sr->body_cap) {
			size_t ncap = sr->body_cap ? sr->body_cap : 16384;
			char *nb;

			while (ncap < sr->body_len + n)
				ncap *= 2;
			if (ncap > sr->body_max)
				ncap = sr->body_max;
			nb = vault_grow(sr->body, sr->body_len, sr->body_cap,
			    ncap);
			if (nb == NULL)
				return MHD_NO;
			sr->body = nb;
			sr->body_cap = ncap;
		}
		memcpy(sr->body + sr->body_len, upload_data, n);
		sr->body_len += n;
		*upload_data_size = 0;
		return MHD_YES;
	}
	sr->waiting_body = 0;
	srv_run(sr, 0);
	return srv_respond(sr);
}

static void
srv_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	api_server *s = cls;
	srv_req *sr = *con_cls;

	(void)conn;
	(void)toe;
	if (sr == NULL)
		return;
	if (sr->r.db != NULL)
		api_pool_put(s->pool, &sr->r.db);
	if (sr->body != NULL) {
		vault_wipe(sr->body, sr->body_cap);   /* may hold identifiers */
		free(sr->body);
	}
	json_decref(sr->r.reply);
	json_decref(sr->r.detail);
	free(sr->r.raw);
	if (sr->r.fd >= 0)
		close(sr->r.fd);
	vault_wipe(sr, sizeof(*sr));
	free(sr);
	*con_cls = NULL;
}

static void
srv_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512], shown[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_printable(shown, sizeof(shown), buf, strlen(buf));
	log_warn("http: %s", shown);
}

/* The front door watches each connection of both listeners from before
 * its first read to its close (api/frontdoor.h). */
static const int srv_tls_yes = 1, srv_tls_no = 0;

static void
srv_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;

	(void)socket_ctx;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		frontdoor_attach(ci->connect_fd, *(const int *)cls, conn);
	else
		frontdoor_detach(ci->connect_fd, conn);
}

/* -- metrics listener ----------------------------------------------------- */

static enum MHD_Result
srv_metrics_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned char id[UTIL_UUID_BYTES];
	char *page = NULL, rid[2 * UTIL_UUID_BYTES + 1], err[256];
	size_t len = 0;
	unsigned status;
	api_server *s = cls;
	int n = 0;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	util_uuid_random(id);
	util_hex(rid, id, sizeof(id));
	if (strcmp(url, "/metrics") != 0)
		n = snprintf(err, sizeof(err), "{\"error\":{\"code\":\"not_found\","
		    "\"message\":\"no such resource\",\"request_id\":\"%s\"}}\n",
		    rid);
	else if (strcmp(method, "GET") != 0)
		n = snprintf(err, sizeof(err), "{\"error\":{\"code\":"
		    "\"method_not_allowed\",\"message\":\"method not allowed "
		    "here\",\"request_id\":\"%s\"}}\n", rid);
	if (n > 0) {
		status = strcmp(url, "/metrics") != 0 ? 404 : 405;
		resp = MHD_create_response_from_buffer((size_t)n, err,
		    MHD_RESPMEM_MUST_COPY);
		if (resp != NULL) {
			srv_common_headers(resp, "application/json", 0);
			MHD_add_response_header(resp, "X-Request-Id", rid);
			if (status == 405)
				MHD_add_response_header(resp, "Allow", "GET");
		}
	} else {
		kl_metrics(s->kl);          /* the builds are counted there */
		api_possession_metrics(s->pool, s->cfg);
		if (api_metrics_render(&page, &len) != 0)
			return MHD_NO;
		status = 200;
		resp = MHD_create_response_from_buffer(len, page,
		    MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(page);
		else
			srv_common_headers(resp, "text/plain; version=0.0.4", 0);
	}
	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* -- set-up and tear-down -------------------------------------------------------- */

static int
srv_listen(const char *addr, int *out, char *err, size_t err_len)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[128], port[8];
	int fd = -1, one = 1, rc;

	*out = -1;
	if (api_config_split_addr(addr, host, sizeof(host), port,
	    sizeof(port)) != 0) {
		snprintf(err, err_len, "bad listen address");
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, err_len, "%s: %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 256) == 0)
			break;
		snprintf(err, err_len, "%s: %s", addr, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (err[0] == '\0')
			snprintf(err, err_len, "%s: cannot listen", addr);
		return -1;
	}
	*out = fd;
	return 0;
}

static char *
srv_read_pem(const char *path, int secret, size_t *len_out, char *err,
    size_t err_len)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char msg[SRV_ERR];

	if (secret && util_check_secret_file(path, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "%s", msg);
		return NULL;
	}
	if (util_read_file(path, SRV_PEM_MAX, &data, &len, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "%s", msg);
		return NULL;
	}
	if (len == 0 || memchr(data, '\0', len) != NULL ||
	    strstr((char *)data, "-----BEGIN ") == NULL) {
		if (secret)
			vault_wipe(data, len);
		free(data);
		snprintf(err, err_len, "%s: not a PEM file", path);
		return NULL;
	}
	if (len_out != NULL)
		*len_out = len;
	return (char *)data;
}

/* The node must be registered with this very key, or nobody could check
 * what it signs. */
static int
srv_check_node(api_server *s, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	char msg[SRV_ERR];
	PGconn *c;
	PGresult *r;
	int rc = -1;

	if ((c = api_pool_get(s->pool, msg, sizeof(msg))) == NULL) {
		snprintf(err, err_len, "checking node %s: %s", s->cfg->node_name, msg);
		return -1;
	}
	p.result_binary = 1;
	pg_param_text(&p, s->cfg->node_name);
	r = pg_query(c, "SELECT signing_public_key, kind FROM coffer.nodes "
	    "WHERE name = $1", &p, msg, sizeof(msg));
	if (r == NULL)
		snprintf(err, err_len, "checking node %s: %s", s->cfg->node_name, msg);
	else if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) != VAULT_SIGN_PK_BYTES ||
	    memcmp(PQgetvalue(r, 0, 0), kl_sign_pk(s->kl), VAULT_SIGN_PK_BYTES) != 0)
		snprintf(err, err_len, "node %s is not registered with the key of "
		    "signing_key_file (cofferctl node init)", s->cfg->node_name);
	else if (PQgetlength(r, 0, 1) != 3 || memcmp(PQgetvalue(r, 0, 1), "api",
	    3) != 0)
		snprintf(err, err_len, "node %s is registered as kind %.16s: the "
		    "API signs its audit events with a node of kind api "
		    "(cofferctl node init --kind api)", s->cfg->node_name,
		    PQgetvalue(r, 0, 1));
	else
		rc = 0;
	PQclear(r);
	api_pool_put(s->pool, &c);
	return rc;
}

int
api_server_new(api_server **out, const api_config *cfg, keeper_link *kl,
    char *err, size_t err_len)
{
	api_server *s;
	char msg[SRV_ERR];

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	s->cfg = cfg;
	s->kl = kl;
	s->lsock = s->msock = -1;
	pthread_mutex_init(&s->logmu, NULL);
	if (api_ratelimit_new(&s->lim) != 0 ||
	    api_pool_new(&s->pool, cfg->pg_conninfo, cfg->db_connections) != 0) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	if (api_auth_new(&s->auth, cfg->people_ca, cfg->people_crl, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "people CA/CRL: %s", msg);
		goto fail;
	}
	/* Issue 13.5: every audit event this process appends is signed with
	 * the node key — by the keeper, which holds it (kl NULL: only
	 * --check-config, which appends nothing) — and its head witnessed
	 * after COMMIT. */
	if (kl != NULL && audit_signer_remote(cfg->node_name, kl_sign_pk(kl),
	    kl_audit_sign, kl, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "signing_key_file: %s", msg);
		goto fail;
	}
	if (audit_set_witness(cfg->audit_witness_file, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "audit_witness_file: %s", msg);
		goto fail;
	}
	if ((s->cert_pem = srv_read_pem(cfg->cert_file, 0, NULL, msg,
	    sizeof(msg))) == NULL ||
	    (s->key_pem = srv_read_pem(cfg->key_file, 1, &s->key_pem_len, msg,
	    sizeof(msg))) == NULL ||
	    (s->trust_pem = srv_read_pem(cfg->people_ca, 0, NULL, msg,
	    sizeof(msg))) == NULL) {
		snprintf(err, err_len, "%s", msg);
		goto fail;
	}
	{
		time_t na;

		if (x509_pem_not_after(s->cert_pem, strlen(s->cert_pem),
		    &na) == 0)
			api_metrics_server_cert(na);
	}
	{
		const char *names[API_METRICS_ROUTES_MAX];
		size_t i;

		for (i = 0; i < api_nroutes && i < API_METRICS_ROUTES_MAX; i++)
			names[i] = api_routes[i].action;
		api_metrics_init(names, i);
	}
	*out = s;
	return 0;
fail:
	api_server_free(&s);
	return -1;
}

int
api_server_start(api_server *s, char *err, size_t err_len)
{
	const api_config *cfg = s->cfg;
	unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_AUTO;
	char msg[SRV_ERR] = "";

	if (srv_listen(cfg->listen, &s->lsock, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "listen: %s", msg);
		return -1;
	}
	if (cfg->metrics_listen[0] != '\0' &&
	    srv_listen(cfg->metrics_listen, &s->msock, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "metrics_listen: %s", msg);
		return -1;
	}
	if (srv_check_node(s, err, err_len) != 0)
		return -1;
	if (frontdoor_init(cfg->max_body_bytes > cfg->max_approval_bytes ?
	    cfg->max_body_bytes : cfg->max_approval_bytes, err, err_len) != 0)
		return -1;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, srv_access, s,
	    MHD_OPTION_LISTEN_SOCKET, s->lsock,
	    MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
	    MHD_OPTION_HTTPS_MEM_TRUST, s->trust_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, SRV_PRIORITIES,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)64,
	    MHD_OPTION_NOTIFY_COMPLETED, srv_completed, s,
	    MHD_OPTION_NOTIFY_CONNECTION, srv_notify_conn, &srv_tls_yes,
	    MHD_OPTION_EXTERNAL_LOGGER, srv_mhd_log, s,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_END);
	/* GnuTLS holds its own copy of the key now. */
	vault_wipe(s->key_pem, s->key_pem_len);
	free(s->key_pem);
	s->key_pem = NULL;
	if (s->d == NULL) {
		snprintf(err, err_len, "cannot start the HTTPS listener on %s "
		    "(certificate, key or people CA unusable?)", cfg->listen);
		return -1;
	}
	s->lsock = -1;            /* MHD owns it */
	if (s->msock >= 0) {
		s->metrics = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
		    MHD_USE_AUTO, 0, NULL, NULL, srv_metrics_access, s,
		    MHD_OPTION_LISTEN_SOCKET, s->msock,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
		    MHD_OPTION_NOTIFY_CONNECTION, srv_notify_conn, &srv_tls_no,
		    MHD_OPTION_EXTERNAL_LOGGER, srv_mhd_log, s,
		    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
		    MHD_OPTION_END);
		if (s->metrics == NULL) {
			snprintf(err, err_len, "cannot start the metrics listener "
			    "on %s", cfg->metrics_listen);
			return -1;
		}
		s->msock = -1;
	}
	log_info("listening on %s (HTTPS, client certificates)%s%s", cfg->listen,
	    cfg->metrics_listen[0] ? ", metrics on " : "", cfg->metrics_listen);
	return 0;
}

void
api_server_reload(api_server *s)
{
	char err[SRV_ERR];

	if (api_auth_reload(s->auth, err, sizeof(err)) == 0)
		log_info("people CA and CRL reloaded");
	else
		log_error("people CA/CRL reload failed, refusing every client "
		    "certificate until fixed: %s", err);
}

void
api_server_free(api_server **sp)
{
	api_server *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	if (s->metrics != NULL)
		MHD_stop_daemon(s->metrics);
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	if (s->lsock >= 0)
		close(s->lsock);
	if (s->msock >= 0)
		close(s->msock);
	api_auth_free(&s->auth);
	api_pool_free(&s->pool);
	api_ratelimit_free(&s->lim);
	pthread_mutex_destroy(&s->logmu);
	free(s->cert_pem);
	if (s->key_pem != NULL) {
		vault_wipe(s->key_pem, s->key_pem_len);
		free(s->key_pem);
	}
	free(s->trust_pem);
	audit_signer_clear();
	free(s);
	*sp = NULL;
}
