/* api/audit_api.c — the auditor's endpoints: GET /v1/audit (the tenant's
 * hash-chained audit events as JSONL, filtered by common/audit.h's
 * audit_filter — an unknown, repeated or malformed query argument is a
 * 400, never ignored — with actor_name and actor_role added beside each
 * event as read, the stored event unchanged) and GET /v1/verify (the
 * archive verifier of common/verify.h, for the auditor's tenant).
 *
 * Trusts: the authenticated identity (role auditor, checked by the route)
 * and the database.  Only the caller's tenant chain is ever read; events
 * carry no secrets, tokens or participant identifiers by construction
 * (common/audit.h), so they are returned as stored, hashes included, for
 * offline checking.
 *
 * Hazards: verify_run() opens its own REPEATABLE READ transaction, so the
 * route runs outside the request transaction (API_ROUTE_NOTXN); its audit
 * event is written after it, and the result is released only once that
 * event committed.  A run that could not complete is an internal error,
 * never "clean".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api/handlers.h"
#include "api/server.h"
#include "api/matters.h"
#include "common/audit.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "common/verify.h"

#define AUD_ERR 512U

typedef struct aud_buf {
	char  *p;
	size_t len, cap;
} aud_buf;

static int
aud_append(aud_buf *b, const char *s, size_t n)
{
	if (n > b->cap - b->len) {
		size_t ncap = b->cap ? b->cap : 65536;
		char *np;

		while (ncap - b->len < n)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* -- GET /v1/audit ---------------------------------------------------------------- */

/* Every query argument, in order (repeats included), into the filter; the
 * first refusal is kept. */
typedef struct aud_args {
	audit_filter *f;
	char          err[AUD_ERR];
	int           bad;
} aud_args;

static enum MHD_Result
aud_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	aud_args *a = cls;

	(void)kind;
	if (!a->bad && audit_filter_set(a->f, key, value, a->err,
	    sizeof(a->err)) != 0)
		a->bad = 1;
	return a->bad ? MHD_NO : MHD_YES;
}

void
api_h_audit_export(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	audit_filter flt;
	aud_args args;
	char err[AUD_ERR], l[24], last[24] = "0", sql[2048];
	aud_buf b = { NULL, 0, 0 };
	json_error_t je;
	PGresult *res;
	int i;

	audit_filter_init(&flt, r->cfg->audit_page_max);
	memset(&args, 0, sizeof(args));
	args.f = &flt;
	(void)MHD_get_connection_values((struct MHD_Connection *)r->conn,
	    MHD_GET_ARGUMENT_KIND, aud_arg, &args);
	api_target(r, "audit:%s", r->who.tenant_id_str);
	if (args.bad) {
		api_fail(r, 400, "bad_request", "invalid", "%s", args.err);
		return;
	}
	snprintf(l, sizeof(l), "%llu", (unsigned long long)(flt.limit > 0 ?
	    flt.limit : r->cfg->audit_page_max));
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, l);
	snprintf(sql, sizeof(sql), "SELECT a.event_no, " API_TS("a.at") ", "
	    "a.actor, a.role, a.action, a.target, a.outcome, a.request_id, "
	    "a.detail::text, pg_catalog.encode(a.prev_hash, 'hex'), "
	    "pg_catalog.encode(a.event_hash, 'hex'), " AUDIT_SQL_ACTOR_NAME ", "
	    AUDIT_SQL_ACTOR_ROLE " FROM coffer.audit_events a "
	    "WHERE a.tenant_id = $1::uuid");
	if (audit_filter_where(&flt, &p, sql, sizeof(sql)) != 0 ||
	    (size_t)snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
	    " ORDER BY a.event_no LIMIT $2::bigint") >= sizeof(sql) - strlen(sql)) {
		api_fail_internal(r, "audit export", "query too long");
		return;
	}
	res = pg_query(r->db, sql, &p, err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "audit export", err);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		json_t *detail = NULL, *line;
		size_t n;
		char *text;

		if (!PQgetisnull(res, i, 8) &&
		    (detail = json_loads(PQgetvalue(res, i, 8), 0, &je)) == NULL)
			detail = json_string("(unparseable)");
		line = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s, s:s, s:s?, s:s, "
		    "s:s?, s:o, s:s, s:s}",
		    "event_no", (json_int_t)atoll(PQgetvalue(res, i, 0)),
		    "at", PQgetvalue(res, i, 1),
		    "actor", PQgetvalue(res, i, 2),
		    "actor_name", PQgetisnull(res, i, 11) ? NULL :
		    PQgetvalue(res, i, 11),
		    "actor_role", PQgetisnull(res, i, 12) ? NULL :
		    PQgetvalue(res, i, 12),
		    "role", PQgetvalue(res, i, 3),
		    "action", PQgetvalue(res, i, 4),
		    "target", PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5),
		    "outcome", PQgetvalue(res, i, 6),
		    "request_id", PQgetisnull(res, i, 7) ? NULL :
		    PQgetvalue(res, i, 7),
		    "detail", detail != NULL ? detail : json_null(),
		    "prev_hash", PQgetvalue(res, i, 9),
		    "event_hash", PQgetvalue(res, i, 10));
		text = line != NULL ? json_dumps(line, JSON_COMPACT) : NULL;
		json_decref(line);
		if (text == NULL) {
			free(b.p);
			PQclear(res);
			api_fail_internal(r, "audit export", "out of memory");
			return;
		}
		n = strlen(text);
		if (aud_append(&b, text, n) != 0 || aud_append(&b, "\n", 1) != 0) {
			free(text);
			free(b.p);
			PQclear(res);
			api_fail_internal(r, "audit export", "out of memory");
			return;
		}
		free(text);
		snprintf(last, sizeof(last), "%s", PQgetvalue(res, i, 0));
	}
	api_detail(r, "after", json_integer((json_int_t)flt.after));
	api_detail(r, "events", json_integer(PQntuples(res)));
	/* A signed statement of the last event sent: a copy kept outside the
	 * database shows later truncation of the chain. */
	if (PQntuples(res) > 0) {
		unsigned char head[32];
		char sig[512];
		int n = PQntuples(res) - 1, src;

		if (util_unhex(head, sizeof(head), PQgetvalue(res, n, 10),
		    (size_t)PQgetlength(res, n, 10)) != 0 ||
		    (src = api_req_sign_audit_head(r, strtoull(last, NULL, 10), head,
		    sig, sizeof(sig))) < 0) {
			free(b.p);
			PQclear(res);
			api_fail_internal(r, "audit export", "signing the head failed");
			return;
		}
		if (src == 0) {
			api_header(r, "X-Audit-Checkpoint", sig);
			api_detail(r, "signed_head", json_true());
		}
	}
	PQclear(res);
	api_header(r, "X-Audit-Last", last);
	if (b.p == NULL && (b.p = malloc(1)) == NULL) {
		api_fail_internal(r, "audit export", "out of memory");
		return;
	}
	api_reply_raw(r, 200, b.p, b.len, "application/x-ndjson");
}

/* -- GET /v1/verify ----------------------------------------------------------------- */

void
api_h_verify(api_req *r)
{
	verify_opts o;
	verify_report rep;
	int st;

	api_target(r, "verify:%s", r->who.tenant_id_str);
	memset(&o, 0, sizeof(o));
	memset(&rep, 0, sizeof(rep));
	o.tenant = r->who.tenant_id_str;
	st = verify_run(r->db, &o, &rep);
	if (st != VERIFY_OK && st != VERIFY_TAMPERED) {
		api_fail_internal(r, "verify", rep.message[0] ? rep.message :
		    "verification could not run");
		return;
	}
	api_detail(r, "status", json_string(st == VERIFY_OK ? "clean" :
	    "tampered"));
	if (st == VERIFY_TAMPERED) {
		api_detail(r, "what", json_string(rep.what));
		api_detail(r, "message", json_string(rep.message));
		log_warn("verification of tenant %s: TAMPERED: %s",
		    r->who.tenant_id_str, rep.message);
	}
	api_detail(r, "records", json_integer((json_int_t)rep.records));
	api_detail(r, "audit_events", json_integer((json_int_t)rep.audit_events));
	api_reply(r, 200, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:f}",
	    "status", st == VERIFY_OK ? "clean" : "tampered",
	    "what", rep.what,
	    "message", st == VERIFY_OK ? "no inconsistency found" : rep.message,
	    "stream_id", rep.stream_id[0] ? json_string(rep.stream_id) :
	    json_null(),
	    "batch_no", rep.batch_no >= 0 ? json_integer(rep.batch_no) :
	    json_null(),
	    "seq", rep.seq >= 0 ? json_integer(rep.seq) : json_null(),
	    "event_no", rep.event_no >= 0 ? json_integer(rep.event_no) :
	    json_null(),
	    "checked",
	    "streams", (json_int_t)rep.streams,
	    "records", (json_int_t)rep.records,
	    "tombstones", (json_int_t)rep.tombstones,
	    "batches", (json_int_t)rep.batches,
	    "checkpoints", (json_int_t)rep.checkpoints,
	    "audit_events", (json_int_t)rep.audit_events,
	    "witness_lines", (json_int_t)rep.witness_lines,
	    "seconds", rep.seconds));
}
