/* api/holds.c — legal holds (admin, legal) and retention policies (admin)
 * over the API, through the same code cofferctl uses (common/retention.h).
 *
 * Trusts: the authenticated identity and the database.  Participant and
 * conversation values in a hold become blind-index tokens at once (the
 * tenant's BIK) and are never stored, logged or returned; a hold naming a
 * matter and no criteria of its own copies the matter's scope (tokens,
 * channels, time range), so legal can hold a matter's records without
 * sending any identifier again.
 *
 * Every change is audited by the request's one event (api/server.c) with
 * the ids, counts and — for retention — the old and new values.
 *
 * Two persons (migration 0009, api/dual.h): releasing a hold, shortening
 * a policy and lowering the tenant's regulatory floor only propose (202
 * and a request id); a second person's approval applies them.  Creating a
 * hold, lengthening a policy, a tenant's first policy and raising the
 * floor stay one person's acts.  No policy may be below the floor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/dual.h"
#include "api/handlers.h"
#include "api/matters.h"
#include "common/audit.h"
#include "common/channels.h"
#include "common/pg.h"
#include "common/retention.h"
#include "common/twoperson.h"
#include "common/util.h"
#include "vault/mem.h"

#define HOLD_ERR 512U

/* "<role> <name> <fingerprint>" for created_by / released_by / updated_by. */
static void
hold_actor(const api_req *r, char *out, size_t cap)
{
	snprintf(out, cap, "api %s %s/%s cert %s", r->who.role, r->who.tenant,
	    r->who.name, r->who.fingerprint);
}

static json_t *
hold_channels_json(const char *const *ch, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(ch[i]));
	return a;
}

/* The matter's scope as hold criteria: tokens (hex in the scope), channels
 * (into a malloc'd vector of strings pointing into *keep), time range. */
static int
hold_from_matter(api_req *r, const char *midstr, unsigned char **ptok,
    size_t *np, unsigned char **ctok, size_t *nc, const char ***chans,
    size_t *nch, char *from, char *to, json_t **keep)
{
	pg_params p = PG_PARAMS_INIT;
	char err[HOLD_ERR];
	json_t *scope = NULL, *a;
	json_error_t je;
	PGresult *res;
	size_t i;

	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, midstr);
	res = pg_query(r->db, "SELECT m.scope::text, " API_TS("m.time_from")
	    ", " API_TS("m.time_to") " FROM coffer.matters m "
	    "WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid", &p, err,
	    sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "matter", err);
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		api_fail(r, 404, "not_found", NULL, "no such matter");
		return -1;
	}
	scope = json_loads(PQgetvalue(res, 0, 0), 0, &je);
	snprintf(from, RETENTION_TIME_MAX, "%s", PQgetisnull(res, 0, 1) ? "" :
	    PQgetvalue(res, 0, 1));
	snprintf(to, RETENTION_TIME_MAX, "%s", PQgetisnull(res, 0, 2) ? "" :
	    PQgetvalue(res, 0, 2));
	PQclear(res);
	if (scope == NULL)
		goto bad;
	a = json_object_get(scope, "participants");
	*np = json_array_size(a);
	if ((*ptok = calloc(*np + 1, VAULT_TOKEN_BYTES)) == NULL)
		goto bad;
	for (i = 0; i < *np; i++)
		if (!json_is_string(json_array_get(a, i)) ||
		    util_unhex(*ptok + i * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES,
		    json_string_value(json_array_get(a, i)),
		    json_string_length(json_array_get(a, i))) != 0)
			goto bad;
	a = json_object_get(scope, "conversations");
	*nc = json_array_size(a);
	if ((*ctok = calloc(*nc + 1, VAULT_TOKEN_BYTES)) == NULL)
		goto bad;
	for (i = 0; i < *nc; i++)
		if (!json_is_string(json_array_get(a, i)) ||
		    util_unhex(*ctok + i * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES,
		    json_string_value(json_array_get(a, i)),
		    json_string_length(json_array_get(a, i))) != 0)
			goto bad;
	a = json_object_get(scope, "channels");
	*nch = json_array_size(a);
	if ((*chans = calloc(*nch + 1, sizeof(**chans))) == NULL)
		goto bad;
	for (i = 0; i < *nch; i++) {
		if (!json_is_string(json_array_get(a, i)))
			goto bad;
		(*chans)[i] = json_string_value(json_array_get(a, i));
	}
	*keep = scope;
	return 0;
bad:
	json_decref(scope);
	api_fail_internal(r, "hold", "matter scope unreadable");
	return -1;
}

/* -- POST /v1/holds ------------------------------------------------------------- */

void
api_h_hold_create(api_req *r)
{
	static const char *const keys[] = { "matter_id", "reason", "participants",
	                                    "conversations", "channels", "from",
	                                    "to", NULL };
	unsigned char mid[UTIL_UUID_BYTES], hid[UTIL_UUID_BYTES];
	unsigned char *ptok = NULL, *ctok = NULL;
	char midstr[UTIL_UUID_STRLEN + 1] = "", hidstr[UTIL_UUID_STRLEN + 1];
	char err[HOLD_ERR], actor[400], from[RETENTION_TIME_MAX] = "";
	char to[RETENTION_TIME_MAX] = "", sfrom[RETENTION_TIME_MAX];
	char sto[RETENTION_TIME_MAX];
	const char **chans = NULL, *f = NULL, *t = NULL, *reason = NULL;
	json_t *body = NULL, *keep = NULL, *jm, *jr;
	size_t np = 0, nc = 0, nch = 0;
	retention_hold h;
	int has_matter = 0, copied = 0;

	if ((body = api_body_object(r)) == NULL)
		return;
	if (api_json_only(r, body, "the hold", keys) != 0)
		goto out;
	jm = json_object_get(body, "matter_id");
	if (jm != NULL && !json_is_null(jm)) {
		if (!json_is_string(jm) ||
		    util_uuid_parse(mid, json_string_value(jm)) != 0) {
			api_fail(r, 400, "bad_request", "invalid", "matter_id must be "
			    "a matter uuid");
			goto out;
		}
		util_uuid_format(midstr, mid);
		has_matter = 1;
	}
	jr = json_object_get(body, "reason");
	if (jr != NULL && !json_is_null(jr)) {
		if (!json_is_string(jr) || json_string_length(jr) == 0 ||
		    json_string_length(jr) > RETENTION_REASON_MAX) {
			api_fail(r, 400, "bad_request", "invalid", "reason must be "
			    "1..%u bytes", RETENTION_REASON_MAX);
			goto out;
		}
		reason = json_string_value(jr);
	}
	if (api_scope_time(r, body, "from", &f) != 0 ||
	    api_scope_time(r, body, "to", &t) != 0 ||
	    api_scope_channels(r, json_object_get(body, "channels"), &chans,
	    &nch) != 0 ||
	    api_scope_tokens(r, json_object_get(body, "participants"), 0,
	    "participants", &ptok, &np) != 0 ||
	    api_scope_tokens(r, json_object_get(body, "conversations"), 1,
	    "conversations", &ctok, &nc) != 0)
		goto out;
	json_object_del(body, "participants");
	json_object_del(body, "conversations");
	if (has_matter && np + nc + nch == 0 && f == NULL && t == NULL) {
		if (hold_from_matter(r, midstr, &ptok, &np, &ctok, &nc, &chans, &nch,
		    sfrom, sto, &keep) != 0)
			goto out;
		f = sfrom[0] ? sfrom : NULL;
		t = sto[0] ? sto : NULL;
		copied = 1;
	} else if (has_matter) {
		pg_params p = PG_PARAMS_INIT;
		PGresult *res;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		res = pg_query(r->db, "SELECT 1 FROM coffer.matters WHERE "
		    "tenant_id = $1::uuid AND matter_id = $2::uuid", &p, err,
		    sizeof(err));
		if (res == NULL) {
			api_fail_db(r, "matter", err);
			goto out;
		}
		if (PQntuples(res) != 1) {
			PQclear(res);
			api_fail(r, 404, "not_found", NULL, "no such matter");
			goto out;
		}
		PQclear(res);
	}
	hold_actor(r, actor, sizeof(actor));
	memset(&h, 0, sizeof(h));
	h.matter_id = has_matter ? mid : NULL;
	h.reason = reason;
	h.participants = ptok;
	h.nparticipants = np;
	h.conversations = ctok;
	h.nconversations = nc;
	h.channels = chans;
	h.nchannels = nch;
	h.from = f;
	h.to = t;
	h.created_by = actor;
	if (retention_hold_create(r->db, r->who.tenant_id, &h, hid, from, to, err,
	    sizeof(err)) != 0) {
		if (pg_last_sqlstate()[0] == '2' && (pg_last_sqlstate()[1] == '2' ||
		    pg_last_sqlstate()[1] == '3'))
			api_fail(r, 400, "bad_request", "invalid", "the hold's criteria "
			    "are not valid (times in order, known channels)");
		else if (pg_last_sqlstate()[0] == '\0')
			api_fail(r, 400, "bad_request", "invalid", "%s", err);
		else
			api_fail_db(r, "hold", err);
		goto out;
	}
	util_uuid_format(hidstr, hid);
	api_target(r, "hold:%s", hidstr);
	api_detail(r, "hold_id", json_string(hidstr));
	if (has_matter)
		api_detail(r, "matter_id", json_string(midstr));
	api_detail(r, "participants", json_integer((json_int_t)np));
	api_detail(r, "conversations", json_integer((json_int_t)nc));
	api_detail(r, "channels", hold_channels_json(chans, nch));
	if (from[0])
		api_detail(r, "from", json_string(from));
	if (to[0])
		api_detail(r, "to", json_string(to));
	if (copied)
		api_detail(r, "scope", json_string("matter"));
	api_reply(r, 201, json_pack("{s:s, s:s?, s:b, s:I, s:I, s:o, s:s?, s:s?, "
	    "s:b}", "hold_id", hidstr, "matter_id", has_matter ? midstr : NULL,
	    "active", 1, "participants", (json_int_t)np, "conversations",
	    (json_int_t)nc, "channels", hold_channels_json(chans, nch),
	    "from", from[0] ? from : NULL, "to", to[0] ? to : NULL,
	    "matter_scope", copied));
out:
	if (ptok != NULL) {
		vault_wipe(ptok, (np + 1) * VAULT_TOKEN_BYTES);
		free(ptok);
	}
	if (ctok != NULL) {
		vault_wipe(ctok, (nc + 1) * VAULT_TOKEN_BYTES);
		free(ctok);
	}
	free(chans);
	json_decref(keep);
	json_decref(body);
}

/* -- GET /v1/holds ---------------------------------------------------------------- */

void
api_h_hold_list(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	const char *all = api_query(r, "all");
	char err[HOLD_ERR];
	json_t *list = NULL, *ch;
	json_error_t je;
	PGresult *res;
	int i;

	api_target(r, "holds");
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, all != NULL && strcmp(all, "1") == 0 ? "t" : "f");
	res = pg_query(r->db, "SELECT h.hold_id::text, h.matter_id::text, "
	    "h.reason, h.active, " API_TS("h.created_at") ", "
	    API_TS("h.released_at") ", "
	    "coalesce(pg_catalog.cardinality(h.participant_tokens), 0), "
	    "coalesce(pg_catalog.cardinality(h.conversation_tokens), 0), "
	    "pg_catalog.to_jsonb(coalesce(h.channels, '{}'::text[]))::text, "
	    API_TS("h.time_from") ", " API_TS("h.time_to") " "
	    "FROM coffer.holds h WHERE h.tenant_id = $1::uuid "
	    "AND (h.active OR $2::boolean) "
	    "ORDER BY h.created_at, h.hold_id LIMIT 10000", &p, err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "hold list", err);
		return;
	}
	if ((list = json_array()) == NULL)
		goto oom;
	for (i = 0; i < PQntuples(res); i++) {
		ch = json_loads(PQgetvalue(res, i, 8), 0, &je);
		if (ch == NULL || json_array_append_new(list, json_pack(
		    "{s:s, s:s?, s:s?, s:b, s:s, s:s?, s:i, s:i, s:o, s:s?, s:s?}",
		    "hold_id", PQgetvalue(res, i, 0),
		    "matter_id", PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1),
		    "reason", PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
		    "active", strcmp(PQgetvalue(res, i, 3), "t") == 0,
		    "created_at", PQgetvalue(res, i, 4),
		    "released_at", PQgetisnull(res, i, 5) ? NULL :
		    PQgetvalue(res, i, 5),
		    "participants", atoi(PQgetvalue(res, i, 6)),
		    "conversations", atoi(PQgetvalue(res, i, 7)),
		    "channels", ch,
		    "from", PQgetisnull(res, i, 9) ? NULL : PQgetvalue(res, i, 9),
		    "to", PQgetisnull(res, i, 10) ? NULL : PQgetvalue(res, i, 10))) != 0)
			goto oom;
	}
	api_detail(r, "count", json_integer(PQntuples(res)));
	PQclear(res);
	api_reply(r, 200, json_pack("{s:o}", "holds", list));
	return;
oom:
	PQclear(res);
	json_decref(list);
	api_fail_internal(r, "hold list", "out of memory");
}

/* -- POST /v1/holds/{id}/release --------------------------------------------------- */

void
api_h_hold_release(api_req *r)
{
	static const char *const keys[] = { "reason", NULL };
	unsigned char hid[UTIL_UUID_BYTES];
	char hidstr[UTIL_UUID_STRLEN + 1], err[HOLD_ERR];
	json_t *body = NULL, *jr;
	int rc;

	if (api_param_uuid(r, hid, hidstr) != 0)
		return;
	api_target(r, "hold:%s", hidstr);
	if (r->body_len > 0) {
		if ((body = api_body_object(r)) == NULL)
			return;
		if (api_json_only(r, body, "the release", keys) != 0)
			goto out;
		jr = json_object_get(body, "reason");
		if (jr != NULL && (!json_is_string(jr) ||
		    json_string_length(jr) > RETENTION_REASON_MAX)) {
			api_fail(r, 400, "bad_request", "invalid", "reason must be a "
			    "string of at most %u bytes", RETENTION_REASON_MAX);
			goto out;
		}
		if (jr != NULL)
			api_detail(r, "reason", json_incref(jr));
	}
	{
		pg_params p = PG_PARAMS_INIT;
		PGresult *res;
		char tgt[64];

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, hidstr);
		res = pg_query(r->db, "SELECT active FROM coffer.holds WHERE "
		    "tenant_id = $1::uuid AND hold_id = $2::uuid", &p, err,
		    sizeof(err));
		if (res == NULL) {
			api_fail_db(r, "hold release", err);
			goto out;
		}
		rc = PQntuples(res) != 1 ? RETENTION_NO_HOLD :
		    strcmp(PQgetvalue(res, 0, 0), "t") != 0 ? RETENTION_NOT_ACTIVE :
		    RETENTION_RELEASED;
		PQclear(res);
		if (rc == RETENTION_NO_HOLD) {
			api_fail(r, 404, "not_found", NULL, "no such hold");
			goto out;
		}
		if (rc == RETENTION_NOT_ACTIVE) {
			api_fail(r, 409, "conflict", NULL, "the hold was released "
			    "already");
			goto out;
		}
		api_detail(r, "hold_id", json_string(hidstr));
		snprintf(tgt, sizeof(tgt), "hold:%s", hidstr);
		(void)api_dual_propose(r, "hold.release", tgt, json_pack("{s:s, s:O?}",
		    "hold_id", hidstr, "reason", body != NULL ?
		    json_object_get(body, "reason") : NULL));
	}
out:
	json_decref(body);
}

/* -- GET / PUT /v1/retention ------------------------------------------------------- */

void
api_h_retention_get(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	char err[HOLD_ERR];
	json_t *list = NULL;
	PGresult *res;
	int i;

	api_target(r, "retention");
	pg_param_text(&p, r->who.tenant_id_str);
	res = pg_query(r->db, "SELECT rp.channel, CASE WHEN rp.retention IS NULL "
	    "THEN 'forever' ELSE rp.retention::text END, "
	    "pg_catalog.date_part('day', rp.retention)::int, "
	    API_TS("rp.updated_at") " FROM coffer.retention_policies rp "
	    "WHERE rp.tenant_id = $1::uuid "
	    "ORDER BY rp.channel = '*' DESC, rp.channel", &p, err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "retention", err);
		return;
	}
	if ((list = json_array()) == NULL)
		goto oom;
	for (i = 0; i < PQntuples(res); i++)
		if (json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:s}",
		    "channel", PQgetvalue(res, i, 0),
		    "retention", PQgetvalue(res, i, 1),
		    "days", PQgetisnull(res, i, 2) ? json_null() :
		    json_integer(atoi(PQgetvalue(res, i, 2))),
		    "updated_at", PQgetvalue(res, i, 3))) != 0)
			goto oom;
	PQclear(res);
	res = pg_query(r->db, "SELECT retention_floor_days FROM coffer.tenants "
	    "WHERE tenant_id = $1::uuid", &p, err, sizeof(err));
	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		json_decref(list);
		api_fail_db(r, "retention", res == NULL ? err : "no tenant");
		return;
	}
	api_reply(r, 200, json_pack("{s:o, s:s, s:i}", "policies", list,
	    "default", "no policy keeps records forever", "floor_days",
	    atoi(PQgetvalue(res, 0, 0))));
	PQclear(res);
	return;
oom:
	PQclear(res);
	json_decref(list);
	api_fail_internal(r, "retention", "out of memory");
}

void
api_h_retention_put(api_req *r)
{
	static const char *const keys[] = { "channel", "days", "forever", NULL };
	char err[HOLD_ERR], actor[400], oldv[RETENTION_VALUE_MAX];
	char newv[RETENTION_VALUE_MAX];
	const char *channel = "*";
	json_t *body, *jc, *jd, *jf;
	twoperson_retention tp;
	unsigned days = 0;

	if ((body = api_body_object(r)) == NULL)
		return;
	if (api_json_only(r, body, "the policy", keys) != 0)
		goto out;
	jc = json_object_get(body, "channel");
	jd = json_object_get(body, "days");
	jf = json_object_get(body, "forever");
	if (jc != NULL) {
		if (!json_is_string(jc) || (strcmp(json_string_value(jc), "*") != 0 &&
		    !channels_ok(json_string_value(jc)))) {
			api_fail(r, 400, "bad_request", "invalid", "channel must be '*' "
			    "or a known channel");
			goto out;
		}
		channel = json_string_value(jc);
	}
	if ((jd != NULL) == (jf != NULL) || (jf != NULL && !json_is_true(jf))) {
		api_fail(r, 400, "bad_request", "invalid", "give either \"days\" "
		    "(1..%u) or \"forever\": true", RETENTION_DAYS_MAX);
		goto out;
	}
	if (jd != NULL) {
		if (!json_is_integer(jd) || json_integer_value(jd) < 1 ||
		    json_integer_value(jd) > RETENTION_DAYS_MAX) {
			api_fail(r, 400, "bad_request", "invalid", "days must be "
			    "1..%u", RETENTION_DAYS_MAX);
			goto out;
		}
		days = (unsigned)json_integer_value(jd);
	}
	api_target(r, "retention:%s/%s", r->who.tenant_id_str, channel);
	if (audit_lock_tenant(r->db, r->who.tenant_id, err, sizeof(err)) != 0 ||
	    twoperson_retention_class(r->db, r->who.tenant_id, channel, days,
	    &tp, err, sizeof(err)) != 0) {
		api_fail_db(r, "retention", err);
		goto out;
	}
	if (tp.below_floor) {
		twoperson_floor_message(err, sizeof(err), days, tp.floor_days);
		api_detail(r, "floor_days", json_integer(tp.floor_days));
		api_fail(r, 409, "below_floor", NULL, "%s", err);
		goto out;
	}
	if (tp.klass == TWOPERSON_SHORTER) {
		char tgt[96];

		api_detail(r, "channel", json_string(channel));
		api_detail(r, "old", json_string(tp.own));
		api_detail(r, "in_force", json_string(tp.effective));
		snprintf(tgt, sizeof(tgt), "retention:%s", channel);
		(void)api_dual_propose(r, "retention.shorten", tgt, json_pack(
		    "{s:s, s:I, s:s, s:s}", "channel", channel, "days",
		    (json_int_t)days, "old", tp.own, "in_force", tp.effective));
		goto out;
	}
	hold_actor(r, actor, sizeof(actor));
	if (retention_policy_set(r->db, r->who.tenant_id, channel, days, actor,
	    oldv, newv, err, sizeof(err)) != 0) {
		api_fail_db(r, "retention", err);
		goto out;
	}
	api_detail(r, "channel", json_string(channel));
	api_detail(r, "old", json_string(oldv));
	api_detail(r, "new", json_string(newv));
	api_reply(r, 200, json_pack("{s:s, s:s, s:s}", "channel", channel, "old",
	    oldv, "new", newv));
out:
	json_decref(body);
}

/* -- PUT /v1/retention/floor -------------------------------------------------------- */

/* Raising the floor is one admin's act; lowering it is proposed here and
 * applied by another admin person (api/dual.c). */
void
api_h_retention_floor_put(api_req *r)
{
	static const char *const keys[] = { "days", NULL };
	pg_params p = PG_PARAMS_INIT, q = PG_PARAMS_INIT;
	char err[HOLD_ERR], dstr[16], tgt[64];
	json_t *body, *jd;
	PGresult *res = NULL;
	unsigned days, old;

	if ((body = api_body_object(r)) == NULL)
		return;
	if (api_json_only(r, body, "the floor", keys) != 0)
		goto out;
	jd = json_object_get(body, "days");
	if (!json_is_integer(jd) || json_integer_value(jd) < 1 ||
	    json_integer_value(jd) > RETENTION_DAYS_MAX) {
		api_fail(r, 400, "bad_request", "invalid", "days must be 1..%u",
		    RETENTION_DAYS_MAX);
		goto out;
	}
	days = (unsigned)json_integer_value(jd);
	snprintf(tgt, sizeof(tgt), "tenant:%s", r->who.tenant_id_str);
	api_target(r, "%s", tgt);
	pg_param_text(&p, r->who.tenant_id_str);
	if (audit_lock_tenant(r->db, r->who.tenant_id, err, sizeof(err)) != 0 ||
	    (res = pg_query(r->db, "SELECT retention_floor_days FROM "
	    "coffer.tenants WHERE tenant_id = $1::uuid FOR UPDATE", &p, err,
	    sizeof(err))) == NULL || PQntuples(res) != 1) {
		api_fail_db(r, "floor", res == NULL ? err : "no tenant");
		goto out;
	}
	old = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	api_detail(r, "old_days", json_integer(old));
	api_detail(r, "new_days", json_integer(days));
	if (days < old) {
		(void)api_dual_propose(r, "retention.floor", tgt, json_pack(
		    "{s:I, s:I}", "days", (json_int_t)days, "old", (json_int_t)old));
		goto out;
	}
	snprintf(dstr, sizeof(dstr), "%u", days);
	pg_param_text(&q, r->who.tenant_id_str);
	pg_param_text(&q, dstr);
	if (pg_exec(r->db, "UPDATE coffer.tenants SET retention_floor_days = "
	    "$2::int WHERE tenant_id = $1::uuid", &q, err, sizeof(err)) != 0) {
		api_fail_db(r, "floor", err);
		goto out;
	}
	api_reply(r, 200, json_pack("{s:I, s:I}", "old_days", (json_int_t)old,
	    "floor_days", (json_int_t)days));
out:
	PQclear(res);
	json_decref(body);
}
