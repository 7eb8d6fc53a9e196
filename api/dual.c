/* api/dual.c — dual control (api/dual.h): pending requests for acts that
 * destroy or release, approved by a second person.
 *
 * Trusts: the authenticated identity (its person id comes from the user
 * row, api/auth.c) and the database.  Does not trust the proposal: at
 * approval every premise is read again under lock (the hold still active,
 * the policy still the one proposed against, the matter not closed, the
 * floor unchanged); a request whose premise changed is "superseded", one
 * past expires_at "expired", and both are recorded as such (the refusal's
 * transaction commits that status with its audit event).
 *
 * Each approval writes two audit events in its transaction: the act itself
 * (action hold.release, retention.set, retention.floor or matter.close,
 * with "two_person":"approved", the request id and both persons' user ids)
 * and the request's own event (request.approve, by api/server.c).  The
 * proposal's event is the proposing route's own ("two_person":"proposed").
 *
 * Parameters are ids, channel names and numbers only: nothing here is a
 * participant value or message content.
 */
#include "api/dual.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/keeperlink.h"
#include "api/server.h"
#include "common/audit.h"
#include "common/pg.h"
#include "common/retention.h"
#include "common/twoperson.h"
#include "common/util.h"

#define DUAL_ERR 512U

int
api_dual_propose(api_req *r, const char *action, const char *target,
    json_t *params)
{
	pg_params p = PG_PARAMS_INIT, q = PG_PARAMS_INIT;
	char err[DUAL_ERR], *ptext = NULL, ttl[16];
	PGresult *res = NULL;
	int rc = -1;

	if (params == NULL || (ptext = json_dumps(params, JSON_COMPACT |
	    JSON_SORT_KEYS)) == NULL) {
		api_fail_internal(r, "request", "out of memory");
		goto out;
	}
	/* A pending request past its time no longer blocks a new one. */
	pg_param_text(&q, r->who.tenant_id_str);
	pg_param_text(&q, action);
	pg_param_text(&q, target);
	if (pg_exec(r->db, "UPDATE coffer.dual_requests SET status = 'expired' "
	    "WHERE tenant_id = $1::uuid AND action = $2 AND target = $3 "
	    "AND status = 'pending' AND expires_at <= pg_catalog.now()", &q, err,
	    sizeof(err)) != 0) {
		api_fail_db(r, "request", err);
		goto out;
	}
	res = pg_query(r->db, "SELECT request_id::text FROM coffer.dual_requests "
	    "WHERE tenant_id = $1::uuid AND action = $2 AND target = $3 "
	    "AND status = 'pending'", &q, err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "request", err);
		goto out;
	}
	if (PQntuples(res) > 0) {
		api_detail(r, "request_id", json_string(PQgetvalue(res, 0, 0)));
		api_fail(r, 409, "request_pending", NULL, "a request for this is "
		    "pending already: %s (approve or refuse it)",
		    PQgetvalue(res, 0, 0));
		goto out;
	}
	PQclear(res);
	snprintf(ttl, sizeof(ttl), "%d", API_DUAL_TTL_HOURS);
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, action);
	pg_param_text(&p, target);
	pg_param_text(&p, ptext);
	pg_param_text(&p, r->who.person_id);
	pg_param_text(&p, r->who.user_id);
	pg_param_text(&p, ttl);
	res = pg_query(r->db, "INSERT INTO coffer.dual_requests (tenant_id, "
	    "request_id, action, target, params, proposer_person_id, "
	    "proposer_user_id, expires_at) VALUES ($1::uuid, gen_random_uuid(), "
	    "$2, $3, $4::jsonb, $5::uuid, $6::uuid, pg_catalog.now() + "
	    "pg_catalog.make_interval(hours => $7::int)) "
	    "RETURNING request_id::text, " API_TS("expires_at"), &p, err,
	    sizeof(err));
	if (res == NULL && strcmp(pg_last_sqlstate(), "23505") == 0) {
		/* a concurrent proposal for the same act won the race */
		api_fail(r, 409, "request_pending", NULL, "a request for this is "
		    "pending already (approve or refuse it)");
		goto out;
	}
	if (res == NULL || PQntuples(res) != 1) {
		api_fail_db(r, "request", res == NULL ? err : "no row");
		goto out;
	}
	api_detail(r, "two_person", json_string("proposed"));
	api_detail(r, "request_id", json_string(PQgetvalue(res, 0, 0)));
	api_detail(r, "params", json_incref(params));
	api_reply(r, 202, json_pack("{s:s, s:s, s:s, s:O, s:s, s:s}",
	    "status", "pending", "request_id", PQgetvalue(res, 0, 0),
	    "action", action, "params", params, "expires_at",
	    PQgetvalue(res, 0, 1), "awaits", "approval by a second person: "
	    "POST /v1/requests/<request_id>/approve"));
	rc = 0;
out:
	PQclear(res);
	free(ptext);
	json_decref(params);
	return rc;
}

/* -- GET /v1/requests ------------------------------------------------------------- */

void
api_h_request_list(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	const char *all = api_query(r, "all");
	char err[DUAL_ERR];
	json_t *list = NULL, *params;
	json_error_t je;
	PGresult *res;
	int i;

	api_target(r, "requests");
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, all != NULL && strcmp(all, "1") == 0 ? "t" : "f");
	res = pg_query(r->db, "SELECT d.request_id::text, d.action, d.target, "
	    "d.params::text, d.status, d.proposer_user_id::text, pu.name, "
	    API_TS("d.created_at") ", " API_TS("d.expires_at") ", "
	    "d.decided_by_user_id::text, du.name, " API_TS("d.decided_at") ", "
	    "d.status = 'pending' AND d.expires_at <= pg_catalog.now() "
	    "FROM coffer.dual_requests d "
	    "JOIN coffer.users pu ON pu.tenant_id = d.tenant_id "
	    " AND pu.user_id = d.proposer_user_id "
	    "LEFT JOIN coffer.users du ON du.tenant_id = d.tenant_id "
	    " AND du.user_id = d.decided_by_user_id "
	    "WHERE d.tenant_id = $1::uuid AND (d.status = 'pending' OR $2::boolean) "
	    "ORDER BY d.created_at, d.request_id LIMIT 10000", &p, err,
	    sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "request list", err);
		return;
	}
	if ((list = json_array()) == NULL)
		goto oom;
	for (i = 0; i < PQntuples(res); i++) {
		int expired = strcmp(PQgetvalue(res, i, 12), "t") == 0;

		params = json_loads(PQgetvalue(res, i, 3), 0, &je);
		if (params == NULL || json_array_append_new(list, json_pack(
		    "{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, "
		    "s:s?}",
		    "request_id", PQgetvalue(res, i, 0),
		    "action", PQgetvalue(res, i, 1),
		    "target", PQgetvalue(res, i, 2),
		    "params", params,
		    "status", expired ? "expired" : PQgetvalue(res, i, 4),
		    "proposed_by_user_id", PQgetvalue(res, i, 5),
		    "proposed_by", PQgetvalue(res, i, 6),
		    "created_at", PQgetvalue(res, i, 7),
		    "expires_at", PQgetvalue(res, i, 8),
		    "decided_by_user_id", PQgetisnull(res, i, 9) ? NULL :
		    PQgetvalue(res, i, 9),
		    "decided_by", PQgetisnull(res, i, 10) ? NULL :
		    PQgetvalue(res, i, 10),
		    "decided_at", PQgetisnull(res, i, 11) ? NULL :
		    PQgetvalue(res, i, 11))) != 0)
			goto oom;
	}
	api_detail(r, "count", json_integer(PQntuples(res)));
	PQclear(res);
	api_reply(r, 200, json_pack("{s:o}", "requests", list));
	return;
oom:
	PQclear(res);
	json_decref(list);
	api_fail_internal(r, "request list", "out of memory");
}

/* -- decisions ---------------------------------------------------------------------- */

typedef struct dual_row {
	char   id[UTIL_UUID_STRLEN + 1];
	char   action[32];
	char   target[208];
	char   proposer_person[UTIL_UUID_STRLEN + 1];
	char   proposer_user[UTIL_UUID_STRLEN + 1];
	json_t *params;
	int    pending, expired;
	char   status[16];
} dual_row;

/* The request {id}, locked.  0, or -1 after api_fail. */
static int
dual_load(api_req *r, dual_row *d)
{
	unsigned char rid[UTIL_UUID_BYTES];
	pg_params p = PG_PARAMS_INIT;
	char err[DUAL_ERR];
	json_error_t je;
	PGresult *res;

	memset(d, 0, sizeof(*d));
	if (api_param_uuid(r, rid, d->id) != 0)
		return -1;
	api_target(r, "request:%s", d->id);
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, d->id);
	res = pg_query(r->db, "SELECT action, target, params::text, "
	    "proposer_person_id::text, proposer_user_id::text, status, "
	    "expires_at <= pg_catalog.now() FROM coffer.dual_requests "
	    "WHERE tenant_id = $1::uuid AND request_id = $2::uuid FOR UPDATE",
	    &p, err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "request", err);
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		api_fail(r, 404, "not_found", NULL, "no such request");
		return -1;
	}
	snprintf(d->action, sizeof(d->action), "%s", PQgetvalue(res, 0, 0));
	snprintf(d->target, sizeof(d->target), "%s", PQgetvalue(res, 0, 1));
	d->params = json_loads(PQgetvalue(res, 0, 2), 0, &je);
	snprintf(d->proposer_person, sizeof(d->proposer_person), "%s",
	    PQgetvalue(res, 0, 3));
	snprintf(d->proposer_user, sizeof(d->proposer_user), "%s",
	    PQgetvalue(res, 0, 4));
	snprintf(d->status, sizeof(d->status), "%s", PQgetvalue(res, 0, 5));
	d->pending = strcmp(d->status, "pending") == 0;
	d->expired = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
	PQclear(res);
	if (d->params == NULL) {
		api_fail_internal(r, "request", "parameters unreadable");
		return -1;
	}
	api_detail(r, "request_id", json_string(d->id));
	api_detail(r, "action", json_string(d->action));
	api_detail(r, "proposed_by_user_id", json_string(d->proposer_user));
	return 0;
}

/* Mark the request (superseded, expired, approved, refused) and, for the
 * last two, who decided.  0, or -1 after api_fail. */
static int
dual_mark(api_req *r, const dual_row *d, const char *status, int decided)
{
	pg_params p = PG_PARAMS_INIT;
	char err[DUAL_ERR];

	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, d->id);
	pg_param_text(&p, status);
	pg_param_text(&p, decided ? r->who.person_id : NULL);
	pg_param_text(&p, decided ? r->who.user_id : NULL);
	if (pg_exec(r->db, "UPDATE coffer.dual_requests SET status = $3, "
	    "decided_by_person_id = $4::uuid, decided_by_user_id = $5::uuid, "
	    "decided_at = pg_catalog.now() WHERE tenant_id = $1::uuid "
	    "AND request_id = $2::uuid", &p, err, sizeof(err)) != 0) {
		api_fail_db(r, "request", err);
		return -1;
	}
	return 0;
}

/* A refusal that keeps the request's new status (expired, superseded). */
static void
dual_end(api_req *r, const dual_row *d, const char *status, const char *code,
    const char *why)
{
	if (dual_mark(r, d, status, 0) != 0)
		return;
	r->commit_on_fail = 1;
	api_detail(r, "status", json_string(status));
	api_fail(r, 409, code, NULL, "the request is %s: %s", status, why);
}

/* The role that may decide an act (hold.release: admin or legal). */
static int
dual_role_ok(const char *action, const char *role)
{
	if (strcmp(action, "hold.release") == 0)
		return strcmp(role, "admin") == 0 || strcmp(role, "legal") == 0;
	if (strcmp(action, "matter.close") == 0)
		return strcmp(role, "legal") == 0;
	return strcmp(role, "admin") == 0;
}

static const char *
dual_roles_text(const char *action)
{
	if (strcmp(action, "hold.release") == 0)
		return "an admin or legal";
	if (strcmp(action, "matter.close") == 0)
		return "a legal";
	return "an admin";
}

/* The act's own audit event, in the approver's transaction. */
static int
dual_effect_event(api_req *r, const dual_row *d, const char *action,
    const char *target, json_t *detail)
{
	audit_event ev;
	char err[DUAL_ERR], *text;
	int rc;

	json_object_set_new(detail, "two_person", json_string("approved"));
	json_object_set_new(detail, "request_id", json_string(d->id));
	json_object_set_new(detail, "proposed_by_user_id",
	    json_string(d->proposer_user));
	json_object_set_new(detail, "approved_by_user_id",
	    json_string(r->who.user_id));
	json_object_set_new(detail, "actor_name", json_string(r->who.name));
	json_object_set_new(detail, "actor_role", json_string(r->who.role));
	text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (text == NULL) {
		api_fail_internal(r, "request", "out of memory");
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.tenant_id, r->who.tenant_id, UTIL_UUID_BYTES);
	ev.actor = r->who.fingerprint;
	ev.role = r->who.role;
	ev.action = action;
	ev.target = target;
	ev.outcome = "ok";
	ev.request_id = r->request_id;
	ev.detail_json = text;
	rc = audit_append(r->db, &ev, NULL, NULL, err, sizeof(err));
	free(text);
	if (rc != 0)
		api_fail_db(r, "audit", err);
	return rc;
}

static void
dual_actor(const api_req *r, const dual_row *d, char *out, size_t cap)
{
	snprintf(out, cap, "api %s %s/%s cert %s (request %s)", r->who.role,
	    r->who.tenant, r->who.name, r->who.fingerprint, d->id);
}

/* Apply hold.release.  0 applied, 1 superseded (answered), -1 failed. */
static int
dual_apply_hold(api_req *r, const dual_row *d, json_t **reply)
{
	unsigned char hid[UTIL_UUID_BYTES];
	const char *hs = json_string_value(json_object_get(d->params, "hold_id"));
	char err[DUAL_ERR], actor[400], target[64];
	int k;

	if (hs == NULL || util_uuid_parse(hid, hs) != 0) {
		api_fail_internal(r, "request", "hold id unreadable");
		return -1;
	}
	dual_actor(r, d, actor, sizeof(actor));
	k = retention_hold_release(r->db, r->who.tenant_id, hid, actor, err,
	    sizeof(err));
	if (k < 0) {
		api_fail_db(r, "hold release", err);
		return -1;
	}
	if (k != RETENTION_RELEASED) {
		dual_end(r, d, "superseded", "request_superseded", k ==
		    RETENTION_NOT_ACTIVE ? "the hold was released already" :
		    "the hold is gone");
		return 1;
	}
	snprintf(target, sizeof(target), "hold:%s", hs);
	if (dual_effect_event(r, d, "hold.release", target,
	    json_pack("{s:s}", "hold_id", hs)) != 0)
		return -1;
	*reply = json_pack("{s:s, s:b}", "hold_id", hs, "active", 0);
	return 0;
}

/* Apply retention.shorten. */
static int
dual_apply_retention(api_req *r, const dual_row *d, json_t **reply)
{
	const char *ch = json_string_value(json_object_get(d->params, "channel"));
	const char *own = json_string_value(json_object_get(d->params, "old"));
	json_int_t days = json_integer_value(json_object_get(d->params, "days"));
	char err[DUAL_ERR], actor[400], oldv[RETENTION_VALUE_MAX];
	char newv[RETENTION_VALUE_MAX], target[96];
	twoperson_retention tp;

	if (ch == NULL || own == NULL || days < 1 || days > RETENTION_DAYS_MAX) {
		api_fail_internal(r, "request", "retention parameters unreadable");
		return -1;
	}
	if (audit_lock_tenant(r->db, r->who.tenant_id, err, sizeof(err)) != 0 ||
	    twoperson_retention_class(r->db, r->who.tenant_id, ch,
	    (unsigned)days, &tp, err, sizeof(err)) != 0) {
		api_fail_db(r, "retention", err);
		return -1;
	}
	if (strcmp(tp.own, own) != 0) {
		dual_end(r, d, "superseded", "request_superseded", "the policy "
		    "changed since it was proposed");
		return 1;
	}
	if (tp.below_floor) {
		twoperson_floor_message(err, sizeof(err), (unsigned)days,
		    tp.floor_days);
		api_fail(r, 409, "below_floor", NULL, "%s", err);
		return -1;
	}
	dual_actor(r, d, actor, sizeof(actor));
	if (retention_policy_set(r->db, r->who.tenant_id, ch, (unsigned)days,
	    actor, oldv, newv, err, sizeof(err)) != 0) {
		api_fail_db(r, "retention", err);
		return -1;
	}
	snprintf(target, sizeof(target), "retention:%s/%s", r->who.tenant_id_str,
	    ch);
	if (dual_effect_event(r, d, "retention.set", target, json_pack(
	    "{s:s, s:s, s:s}", "channel", ch, "old", oldv, "new", newv)) != 0)
		return -1;
	*reply = json_pack("{s:s, s:s, s:s}", "channel", ch, "old", oldv, "new",
	    newv);
	return 0;
}

/* Apply retention.floor (lowering). */
static int
dual_apply_floor(api_req *r, const dual_row *d, json_t **reply)
{
	json_int_t days = json_integer_value(json_object_get(d->params, "days"));
	json_int_t old = json_integer_value(json_object_get(d->params, "old"));
	pg_params p = PG_PARAMS_INIT, q = PG_PARAMS_INIT;
	char err[DUAL_ERR], dstr[24], target[64];
	PGresult *res;
	long cur;

	if (days < 1 || days > RETENTION_DAYS_MAX) {
		api_fail_internal(r, "request", "floor parameters unreadable");
		return -1;
	}
	pg_param_text(&p, r->who.tenant_id_str);
	if (audit_lock_tenant(r->db, r->who.tenant_id, err, sizeof(err)) != 0 ||
	    (res = pg_query(r->db, "SELECT retention_floor_days FROM "
	    "coffer.tenants WHERE tenant_id = $1::uuid FOR UPDATE", &p, err,
	    sizeof(err))) == NULL) {
		api_fail_db(r, "floor", err);
		return -1;
	}
	cur = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : -1;
	PQclear(res);
	if (cur != (long)old) {
		dual_end(r, d, "superseded", "request_superseded", "the floor "
		    "changed since it was proposed");
		return 1;
	}
	snprintf(dstr, sizeof(dstr), "%lld", (long long)days);
	pg_param_text(&q, r->who.tenant_id_str);
	pg_param_text(&q, dstr);
	if (pg_exec(r->db, "UPDATE coffer.tenants SET retention_floor_days = "
	    "$2::int WHERE tenant_id = $1::uuid", &q, err, sizeof(err)) != 0) {
		api_fail_db(r, "floor", err);
		return -1;
	}
	snprintf(target, sizeof(target), "tenant:%s", r->who.tenant_id_str);
	if (dual_effect_event(r, d, "retention.floor", target, json_pack(
	    "{s:I, s:I}", "old_days", old, "new_days", days)) != 0)
		return -1;
	*reply = json_pack("{s:I, s:I}", "old_days", old, "floor_days", days);
	return 0;
}

/* Apply matter.close. */
static int
dual_apply_matter(api_req *r, const dual_row *d, json_t **reply)
{
	const char *ms = json_string_value(json_object_get(d->params,
	    "matter_id"));
	char target[64], prev[16];
	int k;

	if (ms == NULL) {
		api_fail_internal(r, "request", "matter id unreadable");
		return -1;
	}
	k = api_matter_close_apply(r, ms, prev, sizeof(prev));
	if (k < 0)
		return -1;
	if (k == API_MATTER_CLOSED_ALREADY) {
		dual_end(r, d, "superseded", "request_superseded", "the matter "
		    "is closed already");
		return 1;
	}
	if (k == API_MATTER_BUSY) {
		api_fail(r, 409, "conflict", NULL, "a production is being built; "
		    "approve when it is ready or failed");
		return -1;
	}
	snprintf(target, sizeof(target), "matter:%s", ms);
	if (dual_effect_event(r, d, "matter.close", target, json_pack(
	    "{s:s, s:s}", "matter_id", ms, "previous_state", prev)) != 0)
		return -1;
	*reply = json_pack("{s:s, s:s}", "matter_id", ms, "state", "closed");
	return 0;
}

int
api_dual_other_person(api_req *r, const char *proposer_person,
    const char *message)
{
	if (proposer_person != NULL && proposer_person[0] != '\0' &&
	    strcmp(proposer_person, r->who.person_id) != 0)
		return 0;
	api_fail(r, 403, "same_person", "denied", "%s", message);
	return -1;
}

/* -- POST /v1/requests/{id}/approve ------------------------------------------------ */

void
api_h_request_approve(api_req *r)
{
	json_t *reply = NULL;
	dual_row d;
	int k;

	if (dual_load(r, &d) != 0)
		goto out;
	if (!d.pending) {
		api_fail(r, 409, "request_decided", NULL, "the request is %s "
		    "already", d.status);
		goto out;
	}
	if (d.expired) {
		dual_end(r, &d, "expired", "request_expired", "propose it again");
		goto out;
	}
	if (!dual_role_ok(d.action, r->who.role)) {
		api_fail(r, 403, "forbidden", "denied", "%s %s needs %s person's "
		    "approval", d.action, d.target, dual_roles_text(d.action));
		goto out;
	}
	if (api_dual_other_person(r, d.proposer_person, "a second, different "
	    "person must approve: the proposer cannot approve their own "
	    "request, under any of their accounts") != 0)
		goto out;
	if (strcmp(d.action, "hold.release") == 0)
		k = dual_apply_hold(r, &d, &reply);
	else if (strcmp(d.action, "retention.shorten") == 0)
		k = dual_apply_retention(r, &d, &reply);
	else if (strcmp(d.action, "retention.floor") == 0)
		k = dual_apply_floor(r, &d, &reply);
	else if (strcmp(d.action, "matter.close") == 0)
		k = dual_apply_matter(r, &d, &reply);
	else {
		api_fail_internal(r, "request", "unknown action");
		goto out;
	}
	if (k != 0)
		goto out;
	if (dual_mark(r, &d, "approved", 1) != 0)
		goto out;
	api_detail(r, "status", json_string("approved"));
	api_reply(r, 200, json_pack("{s:s, s:s, s:s, s:o}", "request_id", d.id,
	    "action", d.action, "status", "approved", "result", reply));
	reply = NULL;
out:
	json_decref(reply);
	json_decref(d.params);
}

/* -- POST /v1/requests/{id}/refuse ------------------------------------------------- */

void
api_h_request_refuse(api_req *r)
{
	dual_row d;

	if (dual_load(r, &d) != 0)
		goto out;
	if (!d.pending) {
		api_fail(r, 409, "request_decided", NULL, "the request is %s "
		    "already", d.status);
		goto out;
	}
	/* The proposer may withdraw; anyone else needs the approver's role. */
	if (strcmp(d.proposer_person, r->who.person_id) != 0 &&
	    !dual_role_ok(d.action, r->who.role)) {
		api_fail(r, 403, "forbidden", "denied", "%s %s needs %s person's "
		    "decision", d.action, d.target, dual_roles_text(d.action));
		goto out;
	}
	if (dual_mark(r, &d, "refused", 1) != 0)
		goto out;
	api_detail(r, "status", json_string("refused"));
	api_reply(r, 200, json_pack("{s:s, s:s, s:s}", "request_id", d.id,
	    "action", d.action, "status", "refused"));
out:
	json_decref(d.params);
}

/* Close the matter now (its state checked under lock).  0 closed (its
 * previous state in prev), API_MATTER_CLOSED_ALREADY, API_MATTER_BUSY, or
 * -1 after api_fail. */
int
api_matter_close_apply(api_req *r, const char *midstr, char *prev,
    size_t prev_cap)
{
	char err[DUAL_ERR];
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	const char *state;
	int rc;

	prev[0] = '\0';
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, midstr);
	res = pg_query(r->db, "SELECT state FROM coffer.matters "
	    "WHERE tenant_id = $1::uuid AND matter_id = $2::uuid FOR UPDATE", &p,
	    err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "matter", err);
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		api_fail(r, 404, "not_found", NULL, "no such matter");
		return -1;
	}
	state = PQgetvalue(res, 0, 0);
	snprintf(prev, prev_cap, "%s", state);
	rc = strcmp(state, "closed") == 0 ? API_MATTER_CLOSED_ALREADY :
	    strcmp(state, "building") == 0 || strcmp(state, "approved") == 0 ?
	    API_MATTER_BUSY : 0;
	PQclear(res);
	if (rc != 0)
		return rc;
	if (pg_exec(r->db, "UPDATE coffer.matters SET state = 'closed', "
	    "closed_at = pg_catalog.now() WHERE tenant_id = $1::uuid "
	    "AND matter_id = $2::uuid", &p, err, sizeof(err)) != 0) {
		api_fail_db(r, "matter close", err);
		return -1;
	}
	/* Nothing more is released for a closed matter: its seed goes (in
	 * the keeper, which holds it). */
	{
		unsigned char mid[UTIL_UUID_BYTES];

		if (util_uuid_parse(mid, midstr) == 0)
			kl_seed_destroy(api_req_keeper(r), mid);
	}
	return 0;
}
