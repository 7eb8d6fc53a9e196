/* api/reshare.c — re-sharing a tenant key among new custodians (issue 16):
 * the /v1/reshares routes, and the share generation helpers of
 * api/reshare.h.
 *
 * The flow (the cofferctl side is `cofferctl tenant reshare`):
 *   1. an admin proposes a plan (POST /v1/reshares: K', the recipients and
 *      their X25519 keys) → proposed;
 *   2. an admin who is another person approves it → dealing;
 *   3. each old custodian deals: commitments to a K'-of-N' sub-sharing of
 *      its own share and one sub-share sealed to each recipient
 *      (POST .../dealings; vault/reshare.h);
 *   4. each recipient reports the dealers whose sub-share did not check
 *      and the transcript digest it computed (POST .../reports); the first
 *      report closes dealing;
 *   5. the last report finalises in its own transaction: Q = the K lowest
 *      dealers no recipient named bad; C' from Q's commitments (C'_0 = T),
 *      the new public shares, the next generation and its seats; every
 *      custodian_index of the tenant moves to the new generation's.  Too
 *      few good dealers: failed, naming the excluded dealers and who
 *      reported them.
 *
 * Trusts: the authenticated identity, the tenant's public key rows (the
 * dealer's V_i is checked against the stored commitments, as approvals
 * do).  Does not trust a body: every member is decoded strictly, and an
 * error names the member and position, never the submitted bytes.
 * Nothing here is secret: sub-shares are sealed to their recipient, the
 * rest are points.
 *
 * Hazards:
 *  - Decisions on a re-share lock its row (FOR UPDATE): two dealings, two
 *    reports, a report and a cancel serialise, so exactly one report is
 *    "the last" and finalises.
 *  - Finalising moves tenant_keys, tenants (K, N) and users.custodian_index
 *    together; approvals read the generation FOR SHARE, so one either
 *    completes under the old generation or sees the new one.
 *  - The transcript is computed from the rows the API holds when asked; a
 *    report must carry the same digest, so every recipient checked the
 *    same dealings (dealing is closed by the first report).
 */
#include "api/reshare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/dual.h"
#include "api/handlers.h"
#include "api/server.h"
#include "common/audit.h"
#include "common/log.h"
#include "common/names.h"
#include "common/pg.h"
#include "common/util.h"
#include "vault/reshare.h"
#include "vault/tenant.h"

#define RS_ERR        512U
#define RS_REASON_MAX 2000U
#define RS_PT         VAULT_POINT_BYTES
#define RS_SEALED     VAULT_RESHARE_SEALED_BYTES

/* -- generations (api/reshare.h) ------------------------------------------- */

int
api_key_generation(api_req *r, int *k_out)
{
	pg_params p = PG_PARAMS_INIT;
	char err[RS_ERR], gs[16];
	PGresult *q;
	int g, k;

	pg_param_text(&p, r->who.tenant_id_str);
	q = pg_query(r->db, "SELECT generation FROM coffer.tenant_keys "
	    "WHERE tenant_id = $1::uuid FOR SHARE", &p, err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "tenant key generation", err);
		return -1;
	}
	if (PQntuples(q) != 1 || (g = atoi(PQgetvalue(q, 0, 0))) < 1) {
		PQclear(q);
		api_fail(r, 409, "no_tenant_key", NULL, "the tenant has no key "
		    "(cofferctl tenant init)");
		return -1;
	}
	PQclear(q);
	if (k_out == NULL)
		return g;
	/* A statement of its own: after the lock above, it sees what a
	 * re-share that finalised meanwhile committed. */
	p = (pg_params)PG_PARAMS_INIT;
	snprintf(gs, sizeof(gs), "%d", g);
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, gs);
	/* (a key row without its generation row, written by hand: the
	 * tenant's K, as before generations) */
	q = pg_query(r->db, "SELECT coalesce((SELECT threshold_k "
	    " FROM coffer.tenant_key_generations WHERE tenant_id = $1::uuid "
	    " AND generation = $2::int), (SELECT threshold_k "
	    " FROM coffer.tenants WHERE tenant_id = $1::uuid))", &p, err,
	    sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "tenant key generation", err);
		return -1;
	}
	if (PQntuples(q) != 1 || (k = atoi(PQgetvalue(q, 0, 0))) < 1) {
		PQclear(q);
		api_fail_internal(r, "tenant key generation", "no threshold for "
		    "the current generation");
		return -1;
	}
	PQclear(q);
	*k_out = k;
	return g;
}

void
api_fail_no_current_share(api_req *r, int current)
{
	pg_params p = PG_PARAMS_INIT;
	char err[RS_ERR];
	PGresult *q;

	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, r->who.user_id);
	q = pg_query(r->db, "SELECT pg_catalog.max(generation) "
	    "FROM coffer.custodian_seats WHERE tenant_id = $1::uuid "
	    "AND user_id = $2::uuid", &p, err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "custodian seats", err);
		return;
	}
	api_detail(r, "generation", json_integer(current));
	if (PQntuples(q) == 1 && !PQgetisnull(q, 0, 0)) {
		api_detail(r, "retired_generation",
		    json_integer(atoi(PQgetvalue(q, 0, 0))));
		api_fail(r, 403, "no_current_share", "denied", "you hold no share "
		    "of the current generation (%d) of the tenant key: your share "
		    "of generation %d is retired", current,
		    atoi(PQgetvalue(q, 0, 0)));
	} else {
		api_fail(r, 403, "no_current_share", "denied", "you hold no share "
		    "of the current generation (%d)", current);
	}
	PQclear(q);
}

/* -- the re-share row ----------------------------------------------------------- */

enum {
	RS_C_ID, RS_C_STATE, RS_C_REASON, RS_C_FROM, RS_C_TO, RS_C_KNEW,
	RS_C_NNEW, RS_C_RECIPIENTS, RS_C_PROP_UID, RS_C_PROP_NAME,
	RS_C_PROP_PERSON, RS_C_APPR_UID, RS_C_APPR_NAME, RS_C_KOLD, RS_C_NOLD,
	RS_C_T, RS_C_COMMITS, RS_C_SHARES, RS_C_QUALIFIED, RS_C_TRANSCRIPT,
	RS_C_FAILURE, RS_C_CREATED, RS_C_FINALIZED, RS_C_TENANT, RS_C_N
};

#define RS_ROW_SQL \
	"SELECT r.reshare_id::text, r.state, r.reason, r.from_generation, " \
	"r.to_generation, r.new_threshold, r.new_custodians, " \
	"r.recipients::text, r.proposed_by::text, pu.name, " \
	"pu.person_id::text, r.approved_by::text, au.name, g.threshold_k, " \
	"g.custodians_n, pg_catalog.encode(g.public_key, 'hex'), " \
	"(SELECT pg_catalog.string_agg(pg_catalog.encode(c, 'hex'), ',' " \
	"  ORDER BY o) FROM pg_catalog.unnest(g.commitments) " \
	"  WITH ORDINALITY AS u(c, o)), " \
	"(SELECT pg_catalog.string_agg(pg_catalog.encode(s, 'hex'), ',' " \
	"  ORDER BY o) FROM pg_catalog.unnest(g.public_shares) " \
	"  WITH ORDINALITY AS u(s, o)), " \
	"pg_catalog.array_to_string(r.qualified, ','), " \
	"pg_catalog.encode(r.transcript, 'hex'), r.failure_reason, " \
	API_TS("r.created_at") ", " API_TS("r.finalized_at") ", t.name " \
	"FROM coffer.reshares r " \
	"JOIN coffer.tenants t ON t.tenant_id = r.tenant_id " \
	"JOIN coffer.users pu ON pu.tenant_id = r.tenant_id " \
	" AND pu.user_id = r.proposed_by " \
	"LEFT JOIN coffer.users au ON au.tenant_id = r.tenant_id " \
	" AND au.user_id = r.approved_by " \
	"JOIN coffer.tenant_key_generations g ON g.tenant_id = r.tenant_id " \
	" AND g.generation = r.from_generation " \
	"WHERE r.tenant_id = $1::uuid AND r.reshare_id = $2::uuid"

/* One re-share, decoded. */
typedef struct rs_plan {
	PGresult          *row;
	char               id[UTIL_UUID_STRLEN + 1];
	const char        *state;
	int                from_gen, k_old, n_old;
	json_t            *recipients;    /* [{"index","user_id","name","key"}] */
	unsigned char      pks[VAULT_CUSTODIANS_MAX * VAULT_RESHARE_PK_BYTES];
	unsigned char      T[RS_PT];
	unsigned char     *commits;       /* from_generation's C, k_old points */
	unsigned char     *shares;        /* its V_1..V_n_old */
	vault_reshare_ctx  ctx;
} rs_plan;

static void
rs_plan_free(rs_plan *pl)
{
	PQclear(pl->row);
	json_decref(pl->recipients);
	free(pl->commits);
	free(pl->shares);
	memset(pl, 0, sizeof(*pl));
}

static int
rs_col_int(const rs_plan *pl, int col)
{
	return PQgetisnull(pl->row, 0, col) ? 0 : atoi(PQgetvalue(pl->row, 0,
	    col));
}

static const char *
rs_col(const rs_plan *pl, int col)
{
	return PQgetisnull(pl->row, 0, col) ? NULL : PQgetvalue(pl->row, 0, col);
}

/* "hex,hex,..." of n points into a malloc'd n * 32 bytes.  0 or -1. */
static int
rs_points(const char *csv, size_t n, unsigned char **out)
{
	size_t i;

	*out = NULL;
	if (csv == NULL || n == 0 || strlen(csv) != n * (2 * RS_PT + 1) - 1 ||
	    (*out = malloc(n * RS_PT)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((i > 0 && csv[i * (2 * RS_PT + 1) - 1] != ',') ||
		    util_unhex(*out + i * RS_PT, RS_PT, csv + i * (2 * RS_PT + 1),
		    2 * RS_PT) != 0) {
			free(*out);
			*out = NULL;
			return -1;
		}
	return 0;
}

/* Load re-share id (text, a parsed uuid) of the caller's tenant, locked
 * when lock is set.  0, or -1 after api_fail (404 when there is none). */
static int
rs_plan_load(api_req *r, const char *id, int lock, rs_plan *pl)
{
	pg_params p = PG_PARAMS_INIT;
	char err[RS_ERR];
	json_error_t je;
	json_t *v;
	size_t i;

	memset(pl, 0, sizeof(*pl));
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, id);
	pl->row = pg_query(r->db, lock ? RS_ROW_SQL " FOR UPDATE OF r" :
	    RS_ROW_SQL, &p, err, sizeof(err));
	if (pl->row == NULL) {
		api_fail_db(r, "re-share", err);
		return -1;
	}
	if (PQntuples(pl->row) != 1) {
		api_fail(r, 404, "not_found", NULL, "no such re-share");
		return -1;
	}
	snprintf(pl->id, sizeof(pl->id), "%s", PQgetvalue(pl->row, 0, RS_C_ID));
	pl->state = PQgetvalue(pl->row, 0, RS_C_STATE);
	pl->from_gen = rs_col_int(pl, RS_C_FROM);
	pl->k_old = rs_col_int(pl, RS_C_KOLD);
	pl->n_old = rs_col_int(pl, RS_C_NOLD);
	memcpy(pl->ctx.tenant_id, r->who.tenant_id, VAULT_ID_BYTES);
	pl->ctx.from_generation = (unsigned)pl->from_gen;
	pl->ctx.k_new = (unsigned)rs_col_int(pl, RS_C_KNEW);
	pl->ctx.n_new = (unsigned)rs_col_int(pl, RS_C_NNEW);
	pl->recipients = json_loads(PQgetvalue(pl->row, 0, RS_C_RECIPIENTS), 0,
	    &je);
	if (util_uuid_parse(pl->ctx.reshare_id, pl->id) != 0 ||
	    vault_reshare_ctx_check(&pl->ctx, err, sizeof(err)) != 0 ||
	    pl->k_old < 1 || pl->n_old < pl->k_old || pl->n_old > 255 ||
	    !json_is_array(pl->recipients) ||
	    json_array_size(pl->recipients) != pl->ctx.n_new ||
	    PQgetlength(pl->row, 0, RS_C_T) != 2 * RS_PT ||
	    util_unhex(pl->T, RS_PT, PQgetvalue(pl->row, 0, RS_C_T),
	    2 * RS_PT) != 0 ||
	    rs_points(rs_col(pl, RS_C_COMMITS), (size_t)pl->k_old,
	    &pl->commits) != 0 ||
	    rs_points(rs_col(pl, RS_C_SHARES), (size_t)pl->n_old,
	    &pl->shares) != 0) {
		api_fail_internal(r, "re-share", "malformed re-share or key "
		    "generation row");
		return -1;
	}
	json_array_foreach(pl->recipients, i, v) {
		const char *k = json_string_value(json_object_get(v, "key"));

		if (json_integer_value(json_object_get(v, "index")) !=
		    (json_int_t)i + 1 || k == NULL ||
		    util_unhex(pl->pks + i * VAULT_RESHARE_PK_BYTES,
		    VAULT_RESHARE_PK_BYTES, k, strlen(k)) != 0 ||
		    json_string_value(json_object_get(v, "user_id")) == NULL ||
		    json_string_value(json_object_get(v, "name")) == NULL) {
			api_fail_internal(r, "re-share", "malformed recipient list");
			return -1;
		}
	}
	return 0;
}

/* The {id} segment, as the audit target.  0, or -1 after api_fail. */
static int
rs_param(api_req *r, char id[UTIL_UUID_STRLEN + 1])
{
	unsigned char b[UTIL_UUID_BYTES];

	if (api_param_uuid(r, b, id) != 0)
		return -1;
	api_target(r, "reshare:%s", id);
	api_detail(r, "reshare_id", json_string(id));
	return 0;
}

/* -- dealings and reports ----------------------------------------------------------- */

typedef struct rs_deals {
	PGresult      *res;      /* dealer_index, commitments, sealed, name */
	size_t         n;
	unsigned int   idx[VAULT_CUSTODIANS_MAX];
	unsigned char *commits;  /* n * K' points, ascending dealer index */
} rs_deals;

static void
rs_deals_free(rs_deals *d)
{
	PQclear(d->res);
	free(d->commits);
	memset(d, 0, sizeof(*d));
}

static int
rs_deals_load(api_req *r, const rs_plan *pl, rs_deals *d)
{
	pg_params p = PG_PARAMS_INIT;
	size_t i, kb = (size_t)pl->ctx.k_new * RS_PT;
	char err[RS_ERR];
	int rows;

	memset(d, 0, sizeof(*d));
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, pl->id);
	d->res = pg_query(r->db, "SELECT d.dealer_index, "
	    "(SELECT pg_catalog.string_agg(pg_catalog.encode(c, 'hex'), '' "
	    "  ORDER BY o) FROM pg_catalog.unnest(d.commitments) "
	    "  WITH ORDINALITY AS u(c, o)), "
	    "(SELECT pg_catalog.string_agg(pg_catalog.encode(s, 'hex'), ',' "
	    "  ORDER BY o) FROM pg_catalog.unnest(d.sealed) "
	    "  WITH ORDINALITY AS u(s, o)), u.name "
	    "FROM coffer.reshare_dealings d JOIN coffer.users u "
	    " ON u.tenant_id = d.tenant_id AND u.user_id = d.user_id "
	    "WHERE d.tenant_id = $1::uuid AND d.reshare_id = $2::uuid "
	    "ORDER BY d.dealer_index", &p, err, sizeof(err));
	if (d->res == NULL) {
		api_fail_db(r, "re-share dealings", err);
		return -1;
	}
	rows = PQntuples(d->res);
	if (rows > (int)VAULT_CUSTODIANS_MAX ||
	    (rows > 0 && (d->commits = malloc((size_t)rows * kb)) == NULL)) {
		api_fail_internal(r, "re-share dealings", "too many or out of "
		    "memory");
		return -1;
	}
	for (i = 0; i < (size_t)rows; i++) {
		int x = atoi(PQgetvalue(d->res, (int)i, 0));

		if (x < 1 || x > 255 || (i > 0 && (unsigned)x <= d->idx[i - 1]) ||
		    PQgetlength(d->res, (int)i, 1) != (int)(2 * kb) ||
		    util_unhex(d->commits + i * kb, kb, PQgetvalue(d->res, (int)i,
		    1), 2 * kb) != 0) {
			api_fail_internal(r, "re-share dealings", "malformed dealing "
			    "row");
			return -1;
		}
		d->idx[i] = (unsigned)x;
	}
	d->n = (size_t)rows;
	return 0;
}

/* The API's transcript digest over the dealings it holds. */
static int
rs_transcript(api_req *r, const rs_plan *pl, const rs_deals *d,
    unsigned char out[VAULT_RESHARE_DIGEST_BYTES])
{
	char err[RS_ERR];

	if (vault_reshare_transcript(&pl->ctx, pl->pks, d->idx, d->n,
	    d->commits, out, err, sizeof(err)) != 0) {
		api_fail_internal(r, "re-share transcript", err);
		return -1;
	}
	return 0;
}

/* "a,b,c" (text) as a JSON array of strings; "" or NULL: []. */
static json_t *
rs_csv_strings(const char *csv)
{
	json_t *a = json_array();
	const char *p = csv;

	while (a != NULL && p != NULL && *p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c != NULL ? (size_t)(c - p) : strlen(p);

		if (json_array_append_new(a, json_stringn(p, n)) != 0) {
			json_decref(a);
			return NULL;
		}
		p = c != NULL ? c + 1 : NULL;
	}
	return a;
}

/* "1,2,3" as a JSON array of integers. */
static json_t *
rs_csv_ints(const char *csv)
{
	json_t *a = json_array();
	const char *p = csv;

	while (a != NULL && p != NULL && *p != '\0') {
		if (json_array_append_new(a, json_integer(strtol(p, NULL, 10))) != 0) {
			json_decref(a);
			return NULL;
		}
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	return a;
}

/* -- the re-share as JSON (GET /v1/reshares/{id} and every answer) --------------- */

static json_t *
rs_json(api_req *r, const char *id)
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char tx[VAULT_RESHARE_DIGEST_BYTES];
	char err[RS_ERR], hex[2 * VAULT_RESHARE_DIGEST_BYTES + 1], sh[24];
	json_t *out = NULL, *deals = NULL, *reps = NULL, *tk = NULL;
	PGresult *q = NULL;
	rs_deals d;
	rs_plan pl;
	size_t i, kb;
	int row;

	memset(&d, 0, sizeof(d));
	if (rs_plan_load(r, id, 0, &pl) != 0)
		goto fail;
	if (rs_deals_load(r, &pl, &d) != 0)
		goto fail;
	kb = (size_t)pl.ctx.k_new * RS_PT;
	if ((deals = json_array()) == NULL)
		goto oom;
	for (i = 0; i < d.n; i++) {
		json_t *c = json_array(), *o;
		size_t m;

		for (m = 0; c != NULL && m < pl.ctx.k_new; m++) {
			char ph[2 * RS_PT + 1];

			util_hex(ph, d.commits + i * kb + m * RS_PT, RS_PT);
			if (json_array_append_new(c, json_string(ph)) != 0) {
				json_decref(c);
				c = NULL;
			}
		}
		o = json_pack("{s:i, s:s, s:o, s:o}", "dealer_index",
		    (int)d.idx[i], "name", PQgetvalue(d.res, (int)i, 3),
		    "commitments", c, "sealed",
		    rs_csv_strings(PQgetvalue(d.res, (int)i, 2)));
		if (o == NULL || json_array_append_new(deals, o) != 0)
			goto oom;
	}
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, pl.id);
	q = pg_query(r->db, "SELECT p.recipient_index, u.name, "
	    "pg_catalog.array_to_string(p.bad_dealers, ','), "
	    "pg_catalog.encode(p.transcript, 'hex') "
	    "FROM coffer.reshare_reports p JOIN coffer.users u "
	    " ON u.tenant_id = p.tenant_id AND u.user_id = p.user_id "
	    "WHERE p.tenant_id = $1::uuid AND p.reshare_id = $2::uuid "
	    "ORDER BY p.recipient_index", &p, err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "re-share reports", err);
		goto fail;
	}
	if ((reps = json_array()) == NULL)
		goto oom;
	for (row = 0; row < PQntuples(q); row++)
		if (json_array_append_new(reps, json_pack("{s:i, s:s, s:o, s:s}",
		    "recipient_index", atoi(PQgetvalue(q, row, 0)),
		    "name", PQgetvalue(q, row, 1),
		    "bad_dealers", rs_csv_ints(PQgetvalue(q, row, 2)),
		    "transcript", PQgetvalue(q, row, 3))) != 0)
			goto oom;
	tk = json_pack("{s:s, s:i, s:o, s:o}", "public_key",
	    PQgetvalue(pl.row, 0, RS_C_T), "generation", pl.from_gen,
	    "commitments", rs_csv_strings(rs_col(&pl, RS_C_COMMITS)),
	    "public_shares", rs_csv_strings(rs_col(&pl, RS_C_SHARES)));
	if (tk == NULL)
		goto oom;
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:i, s:i, s:i, "
	    "s:i, s:{s:s, s:s}, s:o, s:O, s:o, s:o, s:o, s:o, s:s, s:o}",
	    "reshare_id", pl.id, "tenant_id", r->who.tenant_id_str,
	    "tenant", PQgetvalue(pl.row, 0, RS_C_TENANT),
	    "state", pl.state,
	    "reason", PQgetvalue(pl.row, 0, RS_C_REASON),
	    "from_generation", pl.from_gen,
	    "to_generation", PQgetisnull(pl.row, 0, RS_C_TO) ? json_null() :
	    json_integer(rs_col_int(&pl, RS_C_TO)),
	    "threshold", pl.k_old, "custodians", pl.n_old,
	    "new_threshold", (int)pl.ctx.k_new,
	    "new_custodians", (int)pl.ctx.n_new,
	    "proposed_by", "user_id", PQgetvalue(pl.row, 0, RS_C_PROP_UID),
	    "name", PQgetvalue(pl.row, 0, RS_C_PROP_NAME),
	    "approved_by", PQgetisnull(pl.row, 0, RS_C_APPR_UID) ? json_null() :
	    json_pack("{s:s, s:s}", "user_id", PQgetvalue(pl.row, 0,
	    RS_C_APPR_UID), "name", PQgetisnull(pl.row, 0, RS_C_APPR_NAME) ?
	    "" : PQgetvalue(pl.row, 0, RS_C_APPR_NAME)),
	    "recipients", pl.recipients,
	    "tenant_key", tk,
	    "dealings", deals,
	    "reports", reps,
	    "qualified", PQgetisnull(pl.row, 0, RS_C_QUALIFIED) ? json_null() :
	    rs_csv_ints(PQgetvalue(pl.row, 0, RS_C_QUALIFIED)),
	    "created_at", PQgetvalue(pl.row, 0, RS_C_CREATED),
	    "finalized_at", PQgetisnull(pl.row, 0, RS_C_FINALIZED) ? json_null() :
	    json_string(PQgetvalue(pl.row, 0, RS_C_FINALIZED)));
	tk = deals = reps = NULL;
	if (out == NULL)
		goto oom;
	if (json_object_set_new(out, "failure", PQgetisnull(pl.row, 0,
	    RS_C_FAILURE) ? json_null() : json_string(PQgetvalue(pl.row, 0,
	    RS_C_FAILURE))) != 0)
		goto oom;
	/* The digest every recipient must report: over the dealings held
	 * now (finalised: the one recorded, the same by construction). */
	if (!PQgetisnull(pl.row, 0, RS_C_TRANSCRIPT)) {
		snprintf(hex, sizeof(hex), "%s", PQgetvalue(pl.row, 0,
		    RS_C_TRANSCRIPT));
		if (util_unhex(tx, sizeof(tx), hex, strlen(hex)) != 0)
			memset(tx, 0, sizeof(tx));
	} else if (d.n > 0) {
		if (rs_transcript(r, &pl, &d, tx) != 0)
			goto fail;
		util_hex(hex, tx, sizeof(tx));
	} else {
		hex[0] = '\0';
	}
	if (hex[0] != '\0')
		vault_reshare_digest_short(tx, sh, sizeof(sh));
	if (json_object_set_new(out, "transcript", hex[0] != '\0' ?
	    json_string(hex) : json_null()) != 0 ||
	    json_object_set_new(out, "transcript_short", hex[0] != '\0' ?
	    json_string(sh) : json_null()) != 0)
		goto oom;
	PQclear(q);
	rs_deals_free(&d);
	rs_plan_free(&pl);
	return out;
oom:
	api_fail_internal(r, "re-share", "out of memory");
fail:
	json_decref(out);
	json_decref(deals);
	json_decref(reps);
	json_decref(tk);
	PQclear(q);
	rs_deals_free(&d);
	rs_plan_free(&pl);
	return NULL;
}

static void
rs_reply(api_req *r, unsigned status, const char *id)
{
	json_t *o = rs_json(r, id);

	if (o != NULL)
		api_reply(r, status, o);
}

/* An event of its own in the request's transaction (reshare.finalize,
 * reshare.fail), like the effect events of api/dual.c.  0, or -1 after
 * api_fail. */
static int
rs_event(api_req *r, const char *action, const char *id, json_t *detail)
{
	audit_event ev;
	char err[RS_ERR], target[64], *text;
	int rc;

	if (detail == NULL) {
		api_fail_internal(r, "re-share", "out of memory");
		return -1;
	}
	json_object_set_new(detail, "reshare_id", json_string(id));
	json_object_set_new(detail, "actor_name", json_string(r->who.name));
	json_object_set_new(detail, "actor_role", json_string(r->who.role));
	text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (text == NULL) {
		api_fail_internal(r, "re-share", "out of memory");
		return -1;
	}
	snprintf(target, sizeof(target), "reshare:%s", id);
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

/* An optional body that must be empty or {}: 0, or -1 after api_fail. */
static int
rs_no_body(api_req *r, const char *where)
{
	static const char *const none[] = { NULL };
	json_t *b;
	int rc;

	if (r->body == NULL || r->body_len == 0)
		return 0;
	if ((b = api_body_object(r)) == NULL)
		return -1;
	rc = api_json_only(r, b, where, none);
	json_decref(b);
	return rc;
}

/* -- POST /v1/reshares ------------------------------------------------------------ */

void
api_h_reshare_propose(api_req *r)
{
	static const char *const top[] = { "threshold", "recipients", "reason",
	    NULL };
	static const char *const rtop[] = { "name", "key", NULL };
	unsigned char *keys = NULL;
	char err[RS_ERR], where[32], id[UTIL_UUID_STRLEN + 1], gs[16];
	json_t *body = NULL, *rec = NULL, *audit = NULL, *v;
	const json_t *jr, *jk;
	const char *reason;
	char *rtext = NULL;
	PGresult *q = NULL;
	size_t n, i, j;
	json_int_t k;
	int gen;

	api_target(r, "reshares");
	if ((body = api_body_object(r)) == NULL)
		goto out;
	if (api_json_only(r, body, "the re-share", top) != 0)
		goto out;
	jr = json_object_get(body, "recipients");
	if (!json_is_array(jr) || (n = json_array_size(jr)) < 2 ||
	    n > VAULT_CUSTODIANS_MAX) {
		api_fail(r, 400, "bad_request", "invalid", "recipients must be an "
		    "array of 2 to %u {\"name\",\"key\"} objects",
		    VAULT_CUSTODIANS_MAX);
		goto out;
	}
	jk = json_object_get(body, "threshold");
	if (!json_is_integer(jk) || (k = json_integer_value(jk)) < 2 ||
	    k > (json_int_t)n) {
		api_fail(r, 400, "bad_request", "invalid", "threshold must be an "
		    "integer 2..%zu (the number of recipients)", n);
		goto out;
	}
	reason = json_string_value(json_object_get(body, "reason"));
	if (reason == NULL || reason[0] == '\0' ||
	    strlen(reason) > RS_REASON_MAX) {
		api_fail(r, 400, "bad_request", "invalid", "reason must be a "
		    "string of 1 to %u characters", RS_REASON_MAX);
		goto out;
	}
	if ((keys = calloc(n, VAULT_RESHARE_PK_BYTES)) == NULL ||
	    (rec = json_array()) == NULL || (audit = json_array()) == NULL) {
		api_fail_internal(r, "re-share", "out of memory");
		goto out;
	}
	/* Shapes first, every recipient; then the accounts. */
	json_array_foreach(jr, i, v) {
		static const unsigned char zero[VAULT_RESHARE_PK_BYTES];
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *key = json_string_value(json_object_get(v, "key"));

		snprintf(where, sizeof(where), "recipient #%zu", i + 1);
		if (!json_is_object(v)) {
			api_fail(r, 400, "bad_request", "invalid", "recipient #%zu: "
			    "expected an object {\"name\",\"key\"}", i + 1);
			goto out;
		}
		if (api_json_only(r, v, where, rtop) != 0)
			goto out;
		if (name == NULL || !names_ok(name, strlen(name))) {
			api_fail(r, 400, "bad_request", "invalid", "recipient #%zu: "
			    "name must be a user name (1 to %u of A-Z a-z 0-9 . _ -)",
			    i + 1, NAMES_MAX);
			goto out;
		}
		if (key == NULL || strlen(key) != 2 * VAULT_RESHARE_PK_BYTES ||
		    util_unhex(keys + i * VAULT_RESHARE_PK_BYTES,
		    VAULT_RESHARE_PK_BYTES, key, strlen(key)) != 0) {
			api_fail(r, 400, "bad_request", "invalid", "recipient #%zu: "
			    "key must be 64 hex digits (an X25519 public key)", i + 1);
			goto out;
		}
		if (memcmp(keys + i * VAULT_RESHARE_PK_BYTES, zero,
		    sizeof(zero)) == 0) {
			api_fail(r, 400, "bad_request", "invalid", "recipient #%zu: "
			    "the key is all zeros", i + 1);
			goto out;
		}
		for (j = 0; j < i; j++) {
			const char *o = json_string_value(json_object_get(
			    json_array_get(jr, j), "name"));

			if (strcmp(o, name) == 0) {
				api_fail(r, 400, "bad_request", "invalid", "recipient "
				    "#%zu: the same name as recipient #%zu", i + 1, j + 1);
				goto out;
			}
			if (memcmp(keys + j * VAULT_RESHARE_PK_BYTES, keys + i *
			    VAULT_RESHARE_PK_BYTES, VAULT_RESHARE_PK_BYTES) == 0) {
				api_fail(r, 400, "bad_request", "invalid", "recipient "
				    "#%zu: the same key as recipient #%zu", i + 1, j + 1);
				goto out;
			}
		}
	}
	json_array_foreach(jr, i, v) {
		pg_params p = PG_PARAMS_INIT;
		const char *name = json_string_value(json_object_get(v, "name"));
		char kh[2 * VAULT_RESHARE_PK_BYTES + 1];

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, name);
		q = pg_query(r->db, "SELECT user_id::text FROM coffer.users "
		    "WHERE tenant_id = $1::uuid AND name = $2 "
		    "AND role = 'custodian' AND status = 'active'", &p, err,
		    sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "recipients", err);
			goto out;
		}
		if (PQntuples(q) != 1) {
			/* the name passed the name rules: safe to show */
			api_fail(r, 400, "unknown_recipient", "invalid", "recipient "
			    "#%zu: no active custodian account named '%s'", i + 1, name);
			goto out;
		}
		util_hex(kh, keys + i * VAULT_RESHARE_PK_BYTES,
		    VAULT_RESHARE_PK_BYTES);
		if (json_array_append_new(rec, json_pack("{s:i, s:s, s:s, s:s}",
		    "index", (int)i + 1, "user_id", PQgetvalue(q, 0, 0), "name",
		    name, "key", kh)) != 0 ||
		    json_array_append_new(audit, json_pack("{s:i, s:s, s:s}",
		    "index", (int)i + 1, "name", name, "key", kh)) != 0) {
			api_fail_internal(r, "re-share", "out of memory");
			goto out;
		}
		PQclear(q);
		q = NULL;
	}
	if ((gen = api_key_generation(r, NULL)) < 0)
		goto out;
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		q = pg_query(r->db, "SELECT reshare_id::text, state "
		    "FROM coffer.reshares WHERE tenant_id = $1::uuid "
		    "AND state IN ('proposed', 'dealing')", &p, err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "re-shares", err);
			goto out;
		}
		if (PQntuples(q) > 0) {
			api_detail(r, "open_reshare_id", json_string(PQgetvalue(q, 0,
			    0)));
			api_fail(r, 409, "reshare_in_progress", NULL, "re-share %s of "
			    "this tenant is %s: finish or cancel it first",
			    PQgetvalue(q, 0, 0), PQgetvalue(q, 0, 1));
			goto out;
		}
		PQclear(q);
		q = NULL;
	}
	if ((rtext = json_dumps(rec, JSON_COMPACT)) == NULL) {
		api_fail_internal(r, "re-share", "out of memory");
		goto out;
	}
	{
		pg_params p = PG_PARAMS_INIT;
		char ks[16], ns[16];

		snprintf(gs, sizeof(gs), "%d", gen);
		snprintf(ks, sizeof(ks), "%d", (int)k);
		snprintf(ns, sizeof(ns), "%zu", n);
		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, gs);
		pg_param_text(&p, ks);
		pg_param_text(&p, ns);
		pg_param_text(&p, rtext);
		pg_param_text(&p, reason);
		pg_param_text(&p, r->who.user_id);
		q = pg_query(r->db, "INSERT INTO coffer.reshares (tenant_id, "
		    "reshare_id, from_generation, new_threshold, new_custodians, "
		    "recipients, reason, proposed_by) VALUES ($1::uuid, "
		    "gen_random_uuid(), $2::int, $3::int, $4::int, $5::jsonb, $6, "
		    "$7::uuid) RETURNING reshare_id::text", &p, err, sizeof(err));
		if (q == NULL && pg_last_sqlstate_is(PG_SQLSTATE_UNIQUE_VIOLATION)) {
			api_fail(r, 409, "reshare_in_progress", NULL, "a re-share of "
			    "this tenant is open already: finish or cancel it first");
			goto out;
		}
		if (q == NULL || PQntuples(q) != 1) {
			api_fail_db(r, "re-share", q == NULL ? err : "no row");
			goto out;
		}
		snprintf(id, sizeof(id), "%s", PQgetvalue(q, 0, 0));
	}
	api_target(r, "reshare:%s", id);
	api_detail(r, "reshare_id", json_string(id));
	api_detail(r, "from_generation", json_integer(gen));
	api_detail(r, "new_threshold", json_integer(k));
	api_detail(r, "new_custodians", json_integer((json_int_t)n));
	api_detail(r, "recipients", audit);
	audit = NULL;
	api_detail(r, "reason", json_string(reason));
	rs_reply(r, 201, id);
out:
	PQclear(q);
	free(keys);
	free(rtext);
	json_decref(rec);
	json_decref(audit);
	json_decref(body);
}

/* -- GET /v1/reshares, GET /v1/reshares/{id} ------------------------------------- */

void
api_h_reshare_list(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	char err[RS_ERR];
	json_t *list = NULL;
	PGresult *q;
	int i;

	api_target(r, "reshares");
	pg_param_text(&p, r->who.tenant_id_str);
	q = pg_query(r->db, "SELECT reshare_id::text, state, from_generation, "
	    "to_generation, new_threshold, new_custodians, "
	    API_TS("created_at") ", " API_TS("finalized_at") " "
	    "FROM coffer.reshares WHERE tenant_id = $1::uuid "
	    "ORDER BY created_at DESC, reshare_id LIMIT 10000", &p, err,
	    sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "re-shares", err);
		return;
	}
	if ((list = json_array()) == NULL)
		goto oom;
	for (i = 0; i < PQntuples(q); i++)
		if (json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:o, "
		    "s:i, s:i, s:s, s:o}",
		    "reshare_id", PQgetvalue(q, i, 0),
		    "state", PQgetvalue(q, i, 1),
		    "from_generation", atoi(PQgetvalue(q, i, 2)),
		    "to_generation", PQgetisnull(q, i, 3) ? json_null() :
		    json_integer(atoi(PQgetvalue(q, i, 3))),
		    "new_threshold", atoi(PQgetvalue(q, i, 4)),
		    "new_custodians", atoi(PQgetvalue(q, i, 5)),
		    "created_at", PQgetvalue(q, i, 6),
		    "finalized_at", PQgetisnull(q, i, 7) ? json_null() :
		    json_string(PQgetvalue(q, i, 7)))) != 0)
			goto oom;
	api_detail(r, "count", json_integer(PQntuples(q)));
	PQclear(q);
	api_reply(r, 200, json_pack("{s:o}", "reshares", list));
	return;
oom:
	PQclear(q);
	json_decref(list);
	api_fail_internal(r, "re-shares", "out of memory");
}

void
api_h_reshare_show(api_req *r)
{
	char id[UTIL_UUID_STRLEN + 1];

	if (rs_param(r, id) != 0)
		return;
	rs_reply(r, 200, id);
}

/* -- POST /v1/reshares/{id}/approve, /cancel -------------------------------------- */

void
api_h_reshare_approve(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	char id[UTIL_UUID_STRLEN + 1], err[RS_ERR];
	rs_plan pl;
	int gen;

	memset(&pl, 0, sizeof(pl));
	if (rs_param(r, id) != 0 || rs_no_body(r, "the approval") != 0)
		return;
	if (rs_plan_load(r, id, 1, &pl) != 0)
		goto out;
	api_detail(r, "proposed_by_user_id", json_string(PQgetvalue(pl.row, 0,
	    RS_C_PROP_UID)));
	if (api_dual_other_person(r, PQgetvalue(pl.row, 0, RS_C_PROP_PERSON),
	    "the proposer of a re-share cannot approve it (under any of their "
	    "accounts)") != 0)
		goto out;
	if (strcmp(pl.state, "proposed") != 0) {
		api_detail(r, "state", json_string(pl.state));
		api_fail(r, 409, "wrong_state", NULL, "the re-share is %s", pl.state);
		goto out;
	}
	if ((gen = api_key_generation(r, NULL)) < 0)
		goto out;
	if (gen != pl.from_gen) {
		api_fail(r, 409, "generation_changed", NULL, "the re-share deals "
		    "generation %d; the tenant key is at generation %d: cancel it "
		    "and propose again", pl.from_gen, gen);
		goto out;
	}
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, id);
	pg_param_text(&p, r->who.user_id);
	if (pg_exec(r->db, "UPDATE coffer.reshares SET state = 'dealing', "
	    "approved_by = $3::uuid WHERE tenant_id = $1::uuid "
	    "AND reshare_id = $2::uuid", &p, err, sizeof(err)) != 0) {
		api_fail_db(r, "re-share", err);
		goto out;
	}
	api_detail(r, "two_person", json_string("approved"));
	api_detail(r, "state", json_string("dealing"));
	rs_reply(r, 200, id);
out:
	rs_plan_free(&pl);
}

void
api_h_reshare_cancel(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	char id[UTIL_UUID_STRLEN + 1], err[RS_ERR];
	rs_plan pl;

	memset(&pl, 0, sizeof(pl));
	if (rs_param(r, id) != 0 || rs_no_body(r, "the cancellation") != 0)
		return;
	if (rs_plan_load(r, id, 1, &pl) != 0)
		goto out;
	if (strcmp(pl.state, "proposed") != 0 &&
	    strcmp(pl.state, "dealing") != 0) {
		api_detail(r, "state", json_string(pl.state));
		api_fail(r, 409, "wrong_state", NULL, "the re-share is %s", pl.state);
		goto out;
	}
	api_detail(r, "previous_state", json_string(pl.state));
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, id);
	if (pg_exec(r->db, "UPDATE coffer.reshares SET state = 'cancelled' "
	    "WHERE tenant_id = $1::uuid AND reshare_id = $2::uuid", &p, err,
	    sizeof(err)) != 0) {
		api_fail_db(r, "re-share", err);
		goto out;
	}
	api_detail(r, "state", json_string("cancelled"));
	rs_reply(r, 200, id);
out:
	rs_plan_free(&pl);
}

/* -- POST /v1/reshares/{id}/dealings ------------------------------------------------ */

/* A JSON array of n hex strings of len bytes each into out (n * len).
 * what names it in messages.  0, or -1 after api_fail(400). */
static int
rs_hex_array(api_req *r, const json_t *a, const char *what, const char *sym,
    size_t n, size_t len, unsigned char *out)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(a)) {
		api_fail(r, 400, "bad_request", "invalid", "%s must be an array of "
		    "hex strings", what);
		return -1;
	}
	if (json_array_size(a) != n) {
		api_fail(r, 400, "bad_request", "invalid", "%s: expected %s = %zu, "
		    "got %zu", what, sym, n, json_array_size(a));
		return -1;
	}
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL || strlen(s) != 2 * len ||
		    util_unhex(out + i * len, len, s, 2 * len) != 0) {
			api_fail(r, 400, "bad_request", "invalid", "%s #%zu: expected "
			    "%zu bytes", what, i + 1, len);
			return -1;
		}
	}
	return 0;
}

void
api_h_reshare_deal(api_req *r)
{
	static const char *const top[] = { "dealer_index", "generation",
	    "commitments", "sealed", NULL };
	unsigned char *commits = NULL, *sealed = NULL, V[RS_PT], Vc[RS_PT];
	unsigned char md[32];
	char id[UTIL_UUID_STRLEN + 1], err[RS_ERR], idx[16], mdhex[65];
	char *carr = NULL, *sarr = NULL;
	json_t *body = NULL, *ja;
	const json_t *ji, *jg;
	PGresult *q = NULL;
	unsigned int mdlen = 0;
	rs_plan pl;
	size_t m;
	int gen, count;

	memset(&pl, 0, sizeof(pl));
	if (rs_param(r, id) != 0)
		return;
	api_detail(r, "custodian_index", json_integer(r->who.custodian_index));
	if ((body = api_body_object(r)) == NULL)
		goto out;
	if (api_json_only(r, body, "the dealing", top) != 0)
		goto out;
	if (rs_plan_load(r, id, 1, &pl) != 0)
		goto out;
	if (strcmp(pl.state, "dealing") != 0) {
		api_detail(r, "state", json_string(pl.state));
		api_fail(r, 409, "wrong_state", NULL, "the re-share is %s", pl.state);
		goto out;
	}
	if ((gen = api_key_generation(r, NULL)) < 0)
		goto out;
	if (r->who.custodian_index < 1) {
		api_fail_no_current_share(r, gen);
		goto out;
	}
	ji = json_object_get(body, "dealer_index");
	if (!json_is_integer(ji) || json_integer_value(ji) < 1 ||
	    json_integer_value(ji) > 255) {
		api_fail(r, 400, "bad_request", "invalid", "dealer_index must be "
		    "an integer 1..255");
		goto out;
	}
	if (json_integer_value(ji) != r->who.custodian_index) {
		api_detail(r, "claimed_index", json_integer(json_integer_value(ji)));
		api_fail(r, 403, "wrong_custodian_index", "denied", "you hold share "
		    "%d; you may deal only with that index", r->who.custodian_index);
		goto out;
	}
	jg = json_object_get(body, "generation");
	if (!json_is_integer(jg) || json_integer_value(jg) < 1 ||
	    json_integer_value(jg) > 1000000) {
		api_fail(r, 400, "bad_request", "invalid", "generation must be an "
		    "integer >= 1 (the generation of your share)");
		goto out;
	}
	if (json_integer_value(jg) != pl.from_gen || gen != pl.from_gen) {
		api_detail(r, "claimed_generation",
		    json_integer(json_integer_value(jg)));
		api_fail(r, 409, "generation_changed", NULL, "the re-share deals "
		    "generation %d; your share is of generation %d", pl.from_gen,
		    gen != pl.from_gen ? gen : (int)json_integer_value(jg));
		goto out;
	}
	snprintf(idx, sizeof(idx), "%d", r->who.custodian_index);
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, id);
		pg_param_text(&p, idx);
		q = pg_query(r->db, "SELECT (SELECT pg_catalog.count(*) "
		    " FROM coffer.reshare_dealings WHERE tenant_id = $1::uuid "
		    " AND reshare_id = $2::uuid AND dealer_index = $3::int), "
		    "(SELECT pg_catalog.count(*) FROM coffer.reshare_reports "
		    " WHERE tenant_id = $1::uuid AND reshare_id = $2::uuid)",
		    &p, err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "re-share dealings", err);
			goto out;
		}
		if (atoi(PQgetvalue(q, 0, 0)) > 0) {
			api_fail(r, 409, "already_dealt", NULL, "custodian %d has "
			    "dealt already", r->who.custodian_index);
			goto out;
		}
		if (atoi(PQgetvalue(q, 0, 1)) > 0) {
			api_fail(r, 409, "dealing_closed", NULL, "recipients have "
			    "started reporting: no more dealings");
			goto out;
		}
		PQclear(q);
		q = NULL;
	}
	if ((commits = malloc((size_t)pl.ctx.k_new * RS_PT)) == NULL ||
	    (sealed = malloc((size_t)pl.ctx.n_new * RS_SEALED)) == NULL) {
		api_fail_internal(r, "dealing", "out of memory");
		goto out;
	}
	if (rs_hex_array(r, json_object_get(body, "commitments"), "commitments",
	    "K'", pl.ctx.k_new, RS_PT, commits) != 0 ||
	    rs_hex_array(r, json_object_get(body, "sealed"), "sealed", "N'",
	    pl.ctx.n_new, RS_SEALED, sealed) != 0)
		goto out;
	/* V_i of from_generation, checked against its commitments. */
	if (r->who.custodian_index > pl.n_old ||
	    vault_tenant_public_share(pl.commits, (size_t)pl.k_old * RS_PT,
	    (unsigned)r->who.custodian_index, Vc, err, sizeof(err)) != 0) {
		api_fail_internal(r, "tenant keys", "no public share for this "
		    "custodian index");
		goto out;
	}
	memcpy(V, pl.shares + (size_t)(r->who.custodian_index - 1) * RS_PT,
	    RS_PT);
	if (memcmp(V, Vc, RS_PT) != 0) {
		api_fail_internal(r, "tenant keys", "stored public share does not "
		    "match the Feldman commitments");
		goto out;
	}
	if (vault_reshare_check_dealing(&pl.ctx, commits,
	    (size_t)pl.ctx.k_new * RS_PT, V, err, sizeof(err)) != 0) {
		api_fail(r, 422, "bad_dealing", "rejected", "%s", err);
		goto out;
	}
	if ((carr = pg_bytea_array(commits, RS_PT, pl.ctx.k_new)) == NULL ||
	    (sarr = pg_bytea_array(sealed, RS_SEALED, pl.ctx.n_new)) == NULL) {
		api_fail_internal(r, "dealing", "out of memory");
		goto out;
	}
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, id);
		pg_param_text(&p, idx);
		pg_param_text(&p, r->who.user_id);
		pg_param_text(&p, carr);
		pg_param_text(&p, sarr);
		q = pg_query(r->db, "WITH ins AS (INSERT INTO "
		    "coffer.reshare_dealings (tenant_id, reshare_id, dealer_index, "
		    "user_id, commitments, sealed) VALUES ($1::uuid, $2::uuid, "
		    "$3::int, $4::uuid, $5::bytea[], $6::bytea[]) RETURNING 1) "
		    "SELECT (SELECT pg_catalog.count(*) FROM coffer.reshare_dealings "
		    " WHERE tenant_id = $1::uuid AND reshare_id = $2::uuid) "
		    "+ (SELECT pg_catalog.count(*) FROM ins)", &p, err, sizeof(err));
		if (q == NULL) {
			if (pg_last_sqlstate_is(PG_SQLSTATE_UNIQUE_VIOLATION))
				api_fail(r, 409, "already_dealt", NULL, "custodian %d has "
				    "dealt already", r->who.custodian_index);
			else
				api_fail_db(r, "dealing insert", err);
			goto out;
		}
		count = atoi(PQgetvalue(q, 0, 0));
	}
	if ((ja = json_array()) == NULL) {
		api_fail_internal(r, "dealing", "out of memory");
		goto out;
	}
	for (m = 0; m < pl.ctx.k_new; m++) {
		char ph[2 * RS_PT + 1];

		util_hex(ph, commits + m * RS_PT, RS_PT);
		json_array_append_new(ja, json_string(ph));
	}
	api_detail(r, "dealer_index", json_integer(r->who.custodian_index));
	api_detail(r, "generation", json_integer(pl.from_gen));
	api_detail(r, "commitments", ja);
	if (EVP_Digest(sealed, (size_t)pl.ctx.n_new * RS_SEALED, md, &mdlen,
	    EVP_sha256(), NULL) == 1 && mdlen == 32) {
		util_hex(mdhex, md, 32);
		api_detail(r, "sealed_sha256", json_string(mdhex));
	}
	api_detail(r, "dealings", json_integer(count));
	api_reply(r, 201, json_pack("{s:i, s:i}", "dealer_index",
	    r->who.custodian_index, "dealings", count));
out:
	PQclear(q);
	free(commits);
	free(sealed);
	free(carr);
	free(sarr);
	json_decref(body);
	rs_plan_free(&pl);
}

/* -- POST /v1/reshares/{id}/reports, and finalising ------------------------------- */

/* Q and the reasons for exclusion, from every report. */
typedef struct rs_verdict {
	unsigned int q[VAULT_CUSTODIANS_MAX];
	size_t       nq;
	json_t      *excluded;     /* [{"dealer_index","reported_by":[names]}] */
	char         text[1024];   /* "dealer 2 (reported by carol, dave), …" */
} rs_verdict;

static int
rs_verdict_make(api_req *r, const rs_plan *pl, const rs_deals *d,
    rs_verdict *v)
{
	pg_params p = PG_PARAMS_INIT;
	char err[RS_ERR];
	PGresult *q;
	size_t i, off = 0;
	int row;

	memset(v, 0, sizeof(*v));
	if ((v->excluded = json_array()) == NULL) {
		api_fail_internal(r, "re-share", "out of memory");
		return -1;
	}
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, pl->id);
	/* per bad dealer, who reported it (names in recipient order) */
	q = pg_query(r->db, "SELECT b.dealer, pg_catalog.string_agg(u.name, "
	    "', ' ORDER BY p.recipient_index) "
	    "FROM coffer.reshare_reports p "
	    "CROSS JOIN LATERAL pg_catalog.unnest(p.bad_dealers) AS b(dealer) "
	    "JOIN coffer.users u ON u.tenant_id = p.tenant_id "
	    " AND u.user_id = p.user_id "
	    "WHERE p.tenant_id = $1::uuid AND p.reshare_id = $2::uuid "
	    "GROUP BY b.dealer ORDER BY b.dealer", &p, err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "re-share reports", err);
		return -1;
	}
	for (row = 0; row < PQntuples(q); row++) {
		json_t *names = rs_csv_strings(NULL);
		const char *s = PQgetvalue(q, row, 1), *c;

		/* names are user names: no ',' in them */
		while (names != NULL && s != NULL && *s != '\0') {
			c = strstr(s, ", ");
			json_array_append_new(names, json_stringn(s, c != NULL ?
			    (size_t)(c - s) : strlen(s)));
			s = c != NULL ? c + 2 : NULL;
		}
		json_array_append_new(v->excluded, json_pack("{s:i, s:o}",
		    "dealer_index", atoi(PQgetvalue(q, row, 0)), "reported_by",
		    names != NULL ? names : json_array()));
		if (off < sizeof(v->text))
			off += (size_t)snprintf(v->text + off, sizeof(v->text) - off,
			    "%sdealer %s (reported by %s)", row > 0 ? ", " : "",
			    PQgetvalue(q, row, 0), PQgetvalue(q, row, 1));
	}
	for (i = 0; i < d->n && v->nq < (size_t)pl->k_old; i++) {
		int bad = 0;

		for (row = 0; row < PQntuples(q); row++)
			if ((unsigned)atoi(PQgetvalue(q, row, 0)) == d->idx[i])
				bad = 1;
		if (!bad)
			v->q[v->nq++] = d->idx[i];
	}
	PQclear(q);
	return 0;
}

static json_t *
rs_uint_array(const unsigned int *a, size_t n)
{
	json_t *o = json_array();
	size_t i;

	for (i = 0; o != NULL && i < n; i++)
		json_array_append_new(o, json_integer(a[i]));
	return o;
}

/* The last report is in: finalise or fail, in this transaction.  0, or -1
 * after api_fail. */
static int
rs_finalise(api_req *r, const rs_plan *pl, const rs_deals *d,
    const unsigned char tx[VAULT_RESHARE_DIGEST_BYTES])
{
	const size_t kb = (size_t)pl->ctx.k_new * RS_PT;
	unsigned char *qc = NULL, *cn = NULL, *vn = NULL;
	char err[RS_ERR], sh[24], txhex[65], qs[1024], gs[16], fs[16], ks[16];
	char ns[16], *carr = NULL, *varr = NULL;
	rs_verdict v;
	size_t i, j, off = 0;
	int rc = -1, to_gen = pl->from_gen + 1;
	json_t *rv;

	if (rs_verdict_make(r, pl, d, &v) != 0)
		return -1;
	vault_reshare_digest_short(tx, sh, sizeof(sh));
	util_hex(txhex, tx, VAULT_RESHARE_DIGEST_BYTES);
	if (v.nq < (size_t)pl->k_old) {
		pg_params p = PG_PARAMS_INIT;
		char why[1400];

		snprintf(why, sizeof(why), "%zu of the %d dealings needed were "
		    "accepted by every recipient; excluded: %s", v.nq, pl->k_old,
		    v.text);
		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, pl->id);
		pg_param_text(&p, why);
		if (pg_exec(r->db, "UPDATE coffer.reshares SET state = 'failed', "
		    "failure_reason = $3 WHERE tenant_id = $1::uuid "
		    "AND reshare_id = $2::uuid", &p, err, sizeof(err)) != 0) {
			api_fail_db(r, "re-share", err);
			goto out;
		}
		if (rs_event(r, "reshare.fail", pl->id, json_pack("{s:s, s:O, "
		    "s:o, s:i, s:s}", "failure", why, "excluded", v.excluded,
		    "accepted", rs_uint_array(v.q, v.nq), "needed", pl->k_old,
		    "transcript", sh)) != 0)
			goto out;
		api_detail(r, "result", json_string("failed"));
		rc = 0;
		goto out;
	}
	/* C' from Q (C'_0 = T, checked by vault), the new public shares. */
	if ((qc = malloc(v.nq * kb)) == NULL || (cn = malloc(kb)) == NULL ||
	    (vn = malloc((size_t)pl->ctx.n_new * RS_PT)) == NULL) {
		api_fail_internal(r, "re-share", "out of memory");
		goto out;
	}
	for (i = 0; i < v.nq; i++)
		for (j = 0; j < d->n; j++)
			if (d->idx[j] == v.q[i])
				memcpy(qc + i * kb, d->commits + j * kb, kb);
	if (vault_reshare_commitments(&pl->ctx, v.q, v.nq, qc, pl->T, cn, kb,
	    err, sizeof(err)) != 0) {
		api_fail_internal(r, "re-share commitments", err);
		goto out;
	}
	for (j = 1; j <= pl->ctx.n_new; j++)
		if (vault_tenant_public_share(cn, kb, (unsigned)j, vn + (j - 1) *
		    RS_PT, err, sizeof(err)) != 0) {
			api_fail_internal(r, "re-share public shares", err);
			goto out;
		}
	if ((carr = pg_bytea_array(cn, RS_PT, pl->ctx.k_new)) == NULL ||
	    (varr = pg_bytea_array(vn, RS_PT, pl->ctx.n_new)) == NULL) {
		api_fail_internal(r, "re-share", "out of memory");
		goto out;
	}
	qs[0] = '{';
	off = 1;
	for (i = 0; i < v.nq; i++)
		off += (size_t)snprintf(qs + off, sizeof(qs) - off, "%s%u",
		    i > 0 ? "," : "", v.q[i]);
	snprintf(qs + off, sizeof(qs) - off, "}");
	snprintf(gs, sizeof(gs), "%d", to_gen);
	snprintf(fs, sizeof(fs), "%d", pl->from_gen);
	snprintf(ks, sizeof(ks), "%u", pl->ctx.k_new);
	snprintf(ns, sizeof(ns), "%u", pl->ctx.n_new);
	{
		/* The generation, its seats, the current key row, K and N, the
		 * custodians' indices, the re-share: one statement each, with
		 * the values it uses ($n of a statement = vals[use[n - 1]]). */
		const char *vals[] = { r->who.tenant_id_str, pl->id, gs, fs, ks,
		    ns, carr, varr, qs, txhex };
		static const struct {
			const char   *sql;
			unsigned char use[8];
			unsigned char n;
			signed char   rows;   /* rows touched: 1, N' (-2), any (-1) */
		} st[] = {
			{ "INSERT INTO coffer.tenant_key_generations (tenant_id, "
			  "generation, public_key, threshold_k, custodians_n, "
			  "commitments, public_shares, kind, reshare_id) "
			  "SELECT $1::uuid, $3::int, k.public_key, $5::int, $6::int, "
			  "$7::bytea[], $8::bytea[], 'reshare', $2::uuid "
			  "FROM coffer.tenant_keys k WHERE k.tenant_id = $1::uuid "
			  "AND k.generation = $4::int",
			  { 0, 1, 2, 3, 4, 5, 6, 7 }, 8, 1 },
			{ "INSERT INTO coffer.custodian_seats (tenant_id, "
			  "generation, custodian_index, user_id) "
			  "SELECT $1::uuid, $3::int, (e->>'index')::int, "
			  "(e->>'user_id')::uuid FROM coffer.reshares r, "
			  "pg_catalog.jsonb_array_elements(r.recipients) e "
			  "WHERE r.tenant_id = $1::uuid AND r.reshare_id = $2::uuid",
			  { 0, 1, 2 }, 3, -2 },
			{ "UPDATE coffer.tenant_keys SET commitments = $3::bytea[], "
			  "public_shares = $4::bytea[], generation = $2::int "
			  "WHERE tenant_id = $1::uuid AND generation = $5::int",
			  { 0, 2, 6, 7, 3 }, 5, 1 },
			{ "UPDATE coffer.tenants SET threshold_k = $2::int, "
			  "custodians_n = $3::int WHERE tenant_id = $1::uuid",
			  { 0, 4, 5 }, 3, 1 },
			{ "UPDATE coffer.users SET custodian_index = NULL "
			  "WHERE tenant_id = $1::uuid AND custodian_index IS NOT NULL",
			  { 0 }, 1, -1 },
			{ "UPDATE coffer.users u SET custodian_index = "
			  "s.custodian_index FROM coffer.custodian_seats s "
			  "WHERE s.tenant_id = $1::uuid AND s.generation = $2::int "
			  "AND u.tenant_id = s.tenant_id AND u.user_id = s.user_id",
			  { 0, 2 }, 2, -2 },
			{ "UPDATE coffer.reshares SET state = 'finalized', "
			  "qualified = $3::int[], to_generation = $4::int, "
			  "transcript = pg_catalog.decode($5, 'hex'), "
			  "finalized_at = pg_catalog.now() "
			  "WHERE tenant_id = $1::uuid AND reshare_id = $2::uuid",
			  { 0, 1, 8, 2, 9 }, 5, 1 },
		};

		for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
			pg_params p = PG_PARAMS_INIT;
			long want = st[i].rows == -2 ? (long)pl->ctx.n_new :
			    st[i].rows;
			PGresult *q;

			for (j = 0; j < st[i].n; j++)
				pg_param_text(&p, vals[st[i].use[j]]);
			q = pg_query(r->db, st[i].sql, &p, err, sizeof(err));
			if (q == NULL) {
				api_fail_db(r, "re-share finalisation", err);
				goto out;
			}
			if (want >= 0 && strtol(PQcmdTuples(q), NULL, 10) != want) {
				PQclear(q);
				api_fail_internal(r, "re-share finalisation", "the key "
				    "generation moved or a row is missing");
				goto out;
			}
			PQclear(q);
		}
	}
	rv = json_pack("{s:i, s:i, s:i, s:i, s:o, s:O, s:s, s:s}",
	    "from_generation", pl->from_gen, "to_generation", to_gen,
	    "new_threshold", (int)pl->ctx.k_new, "new_custodians",
	    (int)pl->ctx.n_new, "qualified", rs_uint_array(v.q, v.nq),
	    "excluded", v.excluded, "transcript", sh, "transcript_digest", txhex);
	if (rs_event(r, "reshare.finalize", pl->id, rv) != 0)
		goto out;
	api_detail(r, "result", json_string("finalized"));
	api_detail(r, "to_generation", json_integer(to_gen));
	rc = 0;
out:
	json_decref(v.excluded);
	free(qc);
	free(cn);
	free(vn);
	free(carr);
	free(varr);
	return rc;
}

void
api_h_reshare_report(api_req *r)
{
	static const char *const top[] = { "recipient_index", "bad_dealers",
	    "transcript", NULL };
	unsigned char tx[VAULT_RESHARE_DIGEST_BYTES], mine[sizeof(tx)];
	unsigned int bad[VAULT_CUSTODIANS_MAX];
	char id[UTIL_UUID_STRLEN + 1], err[RS_ERR], js[16], sh[24];
	char bs[1024], *bp;
	json_t *body = NULL, *v;
	const json_t *ji, *jb;
	const char *ts;
	PGresult *q = NULL;
	rs_deals d;
	rs_plan pl;
	size_t i, j, nbad = 0;
	int me = 0, reports;

	memset(&pl, 0, sizeof(pl));
	memset(&d, 0, sizeof(d));
	if (rs_param(r, id) != 0)
		return;
	if ((body = api_body_object(r)) == NULL)
		goto out;
	if (api_json_only(r, body, "the report", top) != 0)
		goto out;
	if (rs_plan_load(r, id, 1, &pl) != 0)
		goto out;
	json_array_foreach(pl.recipients, i, v)
		if (strcmp(json_string_value(json_object_get(v, "user_id")),
		    r->who.user_id) == 0)
			me = (int)i + 1;
	if (me == 0) {
		api_fail(r, 403, "not_a_recipient", "denied", "you are not a "
		    "recipient of this re-share");
		goto out;
	}
	api_detail(r, "recipient_index", json_integer(me));
	ji = json_object_get(body, "recipient_index");
	if (!json_is_integer(ji) || json_integer_value(ji) < 1 ||
	    json_integer_value(ji) > 255) {
		api_fail(r, 400, "bad_request", "invalid", "recipient_index must "
		    "be an integer 1..255");
		goto out;
	}
	if (json_integer_value(ji) != me) {
		api_detail(r, "claimed_index", json_integer(json_integer_value(ji)));
		api_fail(r, 403, "wrong_recipient_index", "denied", "you are "
		    "recipient %d of this re-share; report with that index", me);
		goto out;
	}
	if (strcmp(pl.state, "dealing") != 0) {
		api_detail(r, "state", json_string(pl.state));
		api_fail(r, 409, "wrong_state", NULL, "the re-share is %s", pl.state);
		goto out;
	}
	if (rs_deals_load(r, &pl, &d) != 0)
		goto out;
	if (d.n < (size_t)pl.k_old) {
		api_detail(r, "dealings", json_integer((json_int_t)d.n));
		api_fail(r, 409, "too_few_dealings", NULL, "%zu dealings in, %d "
		    "needed: wait for more dealers", d.n, pl.k_old);
		goto out;
	}
	jb = json_object_get(body, "bad_dealers");
	if (!json_is_array(jb) || json_array_size(jb) > VAULT_CUSTODIANS_MAX) {
		api_fail(r, 400, "bad_request", "invalid", "bad_dealers must be an "
		    "array of dealer indices");
		goto out;
	}
	json_array_foreach(jb, i, v) {
		json_int_t x = json_integer_value(v);
		int dealt = 0;

		if (!json_is_integer(v) || x < 1 || x > 255) {
			api_fail(r, 400, "bad_request", "invalid", "bad_dealers #%zu: "
			    "expected a dealer index 1..255", i + 1);
			goto out;
		}
		for (j = 0; j < d.n; j++)
			if (d.idx[j] == (unsigned)x)
				dealt = 1;
		if (!dealt) {
			api_fail(r, 400, "bad_request", "invalid", "bad_dealers: "
			    "dealer %d has not dealt", (int)x);
			goto out;
		}
		for (j = 0; j < nbad; j++)
			if (bad[j] == (unsigned)x) {
				api_fail(r, 400, "bad_request", "invalid", "bad_dealers: "
				    "dealer %d is listed twice", (int)x);
				goto out;
			}
		bad[nbad++] = (unsigned)x;
	}
	ts = json_string_value(json_object_get(body, "transcript"));
	if (ts == NULL || strlen(ts) != 2 * sizeof(mine) ||
	    util_unhex(mine, sizeof(mine), ts, strlen(ts)) != 0) {
		api_fail(r, 400, "bad_request", "invalid", "transcript must be %zu "
		    "hex digits", 2 * sizeof(mine));
		goto out;
	}
	if (rs_transcript(r, &pl, &d, tx) != 0)
		goto out;
	vault_reshare_digest_short(tx, sh, sizeof(sh));
	if (sodium_memcmp(tx, mine, sizeof(tx)) != 0) {
		api_detail(r, "transcript", json_string(sh));
		api_fail(r, 409, "transcript_mismatch", NULL, "the dealings you "
		    "checked are not the ones the API holds: fetch the re-share "
		    "again");
		goto out;
	}
	bp = bs;
	*bp++ = '{';
	for (i = 0; i < nbad; i++)
		bp += snprintf(bp, sizeof(bs) - (size_t)(bp - bs), "%s%u",
		    i > 0 ? "," : "", bad[i]);
	snprintf(bp, sizeof(bs) - (size_t)(bp - bs), "}");
	snprintf(js, sizeof(js), "%d", me);
	{
		pg_params p = PG_PARAMS_INIT;
		char txhex[65];

		util_hex(txhex, tx, sizeof(tx));
		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, id);
		pg_param_text(&p, js);
		pg_param_text(&p, r->who.user_id);
		pg_param_text(&p, bs);
		pg_param_text(&p, txhex);
		q = pg_query(r->db, "WITH ins AS (INSERT INTO "
		    "coffer.reshare_reports (tenant_id, reshare_id, "
		    "recipient_index, user_id, bad_dealers, transcript) "
		    "SELECT $1::uuid, $2::uuid, $3::int, $4::uuid, $5::int[], "
		    "pg_catalog.decode($6, 'hex') WHERE NOT EXISTS (SELECT 1 "
		    " FROM coffer.reshare_reports WHERE tenant_id = $1::uuid "
		    " AND reshare_id = $2::uuid AND recipient_index = $3::int) "
		    "RETURNING 1) "
		    "SELECT (SELECT pg_catalog.count(*) FROM ins), "
		    "(SELECT pg_catalog.count(*) FROM coffer.reshare_reports "
		    " WHERE tenant_id = $1::uuid AND reshare_id = $2::uuid) "
		    "+ (SELECT pg_catalog.count(*) FROM ins)", &p, err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "report insert", err);
			goto out;
		}
		if (atoi(PQgetvalue(q, 0, 0)) != 1) {
			api_fail(r, 409, "already_reported", NULL, "recipient %d has "
			    "reported already", me);
			goto out;
		}
		reports = atoi(PQgetvalue(q, 0, 1));
		PQclear(q);
		q = NULL;
	}
	api_detail(r, "bad_dealers", rs_uint_array(bad, nbad));
	api_detail(r, "transcript", json_string(sh));
	api_detail(r, "reports", json_integer(reports));
	api_detail(r, "dealings", json_integer((json_int_t)d.n));
	if (reports == (int)pl.ctx.n_new &&
	    rs_finalise(r, &pl, &d, tx) != 0)
		goto out;
	rs_reply(r, 201, id);
out:
	PQclear(q);
	json_decref(body);
	rs_deals_free(&d);
	rs_plan_free(&pl);
}
