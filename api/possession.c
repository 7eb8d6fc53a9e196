/* api/possession.c — share health: periodic proofs of possession (issue 16).
 *
 *   POST /v1/possession/challenge   a custodian of the current generation
 *                                   gets a fresh random challenge (10 min)
 *   POST /v1/possession/{id}        its answer, P and a Chaum-Pedersen
 *                                   proof (vault/possession.h): recorded
 *                                   'proven' or 'failed'
 *   GET  /v1/possession             per seat of the current generation:
 *                                   proven, failed or not proven
 *
 * and the gauges behind them on /metrics (api_possession_metrics): seats
 * proven and not proven and tenants below their threshold, summed over
 * tenants, no tenant named.
 *
 * Trusts: the authenticated identity (its users.custodian_index is the
 * index it answers for, as in approvals), the database's current
 * generation, and the tenant's public share V_i only after checking it
 * against the stored Feldman commitments.  Does not trust the answer: it
 * is decoded strictly and verified by vault; a proof that does not verify
 * is recorded as 'failed' (that record is the point: a custodian whose
 * share no longer proves shows at once), never echoed.
 *
 * Hazards:
 *  - Nothing here ever multiplies a share or sends a point to be answered:
 *    the custodian derives the point from the challenge itself, so an
 *    answer is no release partial and is safe to audit in full.
 *  - The challenge row is locked (FOR UPDATE) while it is answered, and
 *    the UPDATE names it only while unanswered, so one challenge is
 *    answered once.
 *  - A refused proof is kept (commit_on_fail): it must survive its own
 *    422.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/server.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "vault/possession.h"
#include "vault/tenant.h"

#define POP_ERR          512U
#define POP_TTL          "10 minutes"      /* a challenge's life */
#define POP_REFRESH_S    30.0              /* gauges at most this old */

/* Every seat of the current generation with its status, for tenant $1
 * (NULL: every tenant) and a window of $2 days.  A seat is an active
 * custodian user with a current index; its answers count for the current
 * generation and its current index only.  'failed': its latest answer
 * failed; 'proven': its latest answer proved possession within the
 * window; else 'not proven'.  tk has the tenants (with a key), st the
 * seats. */
#define POP_SEATS_SQL \
	"WITH tk AS (SELECT k.tenant_id, k.generation, t.threshold_k " \
	" FROM coffer.tenant_keys k JOIN coffer.tenants t " \
	"  ON t.tenant_id = k.tenant_id " \
	" WHERE $1::uuid IS NULL OR k.tenant_id = $1::uuid), " \
	"seat AS (SELECT u.tenant_id, u.name, u.custodian_index, " \
	" la.result AS last_result, lp.answered_at AS last_proven " \
	" FROM coffer.users u JOIN tk ON tk.tenant_id = u.tenant_id " \
	" LEFT JOIN LATERAL (SELECT c.result FROM coffer.possession_challenges c " \
	"  WHERE c.tenant_id = u.tenant_id AND c.user_id = u.user_id " \
	"  AND c.generation = tk.generation " \
	"  AND c.custodian_index = u.custodian_index " \
	"  AND c.answered_at IS NOT NULL " \
	"  ORDER BY c.answered_at DESC LIMIT 1) la ON true " \
	" LEFT JOIN LATERAL (SELECT c.answered_at " \
	"  FROM coffer.possession_challenges c " \
	"  WHERE c.tenant_id = u.tenant_id AND c.user_id = u.user_id " \
	"  AND c.generation = tk.generation " \
	"  AND c.custodian_index = u.custodian_index " \
	"  AND c.answered_at IS NOT NULL AND c.result = 'proven' " \
	"  ORDER BY c.answered_at DESC LIMIT 1) lp ON true " \
	" WHERE u.role = 'custodian' AND u.status = 'active' " \
	" AND u.custodian_index IS NOT NULL), " \
	"st AS (SELECT seat.*, CASE WHEN last_result = 'failed' THEN 'failed' " \
	" WHEN last_result = 'proven' AND last_proven > pg_catalog.now() - " \
	"  pg_catalog.make_interval(days => $2::int) THEN 'proven' " \
	" ELSE 'not proven' END AS status FROM seat) "

/* The caller's tenant's current generation and threshold K. */
static int
pop_generation(api_req *r, int *generation, int *k)
{
	pg_params p = PG_PARAMS_INIT;
	char err[POP_ERR];
	PGresult *q;

	*generation = *k = 0;
	pg_param_text(&p, r->who.tenant_id_str);
	q = pg_query(r->db, "SELECT k.generation, t.threshold_k "
	    "FROM coffer.tenant_keys k JOIN coffer.tenants t "
	    " ON t.tenant_id = k.tenant_id WHERE k.tenant_id = $1::uuid", &p,
	    err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "tenant keys", err);
		return -1;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		api_fail_internal(r, "tenant keys", "the tenant has no key");
		return -1;
	}
	*generation = atoi(PQgetvalue(q, 0, 0));
	*k = atoi(PQgetvalue(q, 0, 1));
	PQclear(q);
	return 0;
}

int
api_public_share(api_req *r, int index, unsigned char V[VAULT_POINT_BYTES])
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char Vc[VAULT_POINT_BYTES], *commits = NULL;
	char err[POP_ERR], idx[8];
	size_t ncommit;
	PGresult *q;
	int rc = -1;

	snprintf(idx, sizeof(idx), "%d", index);
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, idx);
	q = pg_query(r->db, "SELECT pg_catalog.encode("
	    " tk.public_shares[$2::int], 'hex'), "
	    "(SELECT pg_catalog.string_agg(pg_catalog.encode(c, 'hex'), '' "
	    "  ORDER BY o) FROM pg_catalog.unnest(tk.commitments) "
	    "  WITH ORDINALITY AS u(c, o)) "
	    "FROM coffer.tenant_keys tk WHERE tk.tenant_id = $1::uuid",
	    &p, err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "tenant keys", err);
		return -1;
	}
	if (PQntuples(q) != 1 || PQgetisnull(q, 0, 0) || PQgetisnull(q, 0, 1) ||
	    PQgetlength(q, 0, 0) != 2 * VAULT_POINT_BYTES ||
	    util_unhex(V, VAULT_POINT_BYTES, PQgetvalue(q, 0, 0),
	    2 * VAULT_POINT_BYTES) != 0) {
		api_fail_internal(r, "tenant keys", "no public share for this "
		    "custodian index");
		goto out;
	}
	ncommit = (size_t)PQgetlength(q, 0, 1) / 2;
	if (ncommit == 0 || ncommit % VAULT_POINT_BYTES != 0 ||
	    (commits = malloc(ncommit)) == NULL ||
	    util_unhex(commits, ncommit, PQgetvalue(q, 0, 1), 2 * ncommit) != 0 ||
	    vault_tenant_public_share(commits, ncommit, (unsigned)index, Vc, err,
	    sizeof(err)) != 0 ||
	    memcmp(V, Vc, VAULT_POINT_BYTES) != 0) {
		api_fail_internal(r, "tenant keys", "stored public share does not "
		    "match the Feldman commitments");
		goto out;
	}
	rc = 0;
out:
	free(commits);
	PQclear(q);
	return rc;
}

void
api_h_possession_challenge(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char id[UTIL_UUID_BYTES], ch[VAULT_POP_CHALLENGE_BYTES];
	char idstr[UTIL_UUID_STRLEN + 1], chhex[2 * VAULT_POP_CHALLENGE_BYTES + 1];
	char err[POP_ERR], gen[16], idx[8];
	PGresult *q;
	int generation, k;

	api_target(r, "user:%s", r->who.user_id);
	if (pop_generation(r, &generation, &k) != 0)
		return;
	api_detail(r, "generation", json_integer(generation));
	if (r->who.custodian_index <= 0) {
		api_fail(r, 409, "no_current_share", NULL, "you hold no share of the "
		    "current generation (%d)", generation);
		return;
	}
	api_detail(r, "custodian_index", json_integer(r->who.custodian_index));
	if (vault_possession_challenge(ch) != 0) {
		api_fail_internal(r, "possession challenge", "no randomness");
		return;
	}
	util_uuid_random(id);
	util_uuid_format(idstr, id);
	util_hex(chhex, ch, sizeof(ch));
	snprintf(gen, sizeof(gen), "%d", generation);
	snprintf(idx, sizeof(idx), "%d", r->who.custodian_index);
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, idstr);
	pg_param_text(&p, r->who.user_id);
	pg_param_text(&p, idx);
	pg_param_text(&p, gen);
	pg_param_bin(&p, ch, sizeof(ch));
	q = pg_query(r->db, "INSERT INTO coffer.possession_challenges "
	    "(tenant_id, challenge_id, user_id, custodian_index, generation, "
	    "challenge, expires_at) VALUES ($1::uuid, $2::uuid, $3::uuid, "
	    "$4::int, $5::int, $6, pg_catalog.now() + interval '" POP_TTL "') "
	    "RETURNING " API_TS("expires_at"), &p, err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "possession challenge", err);
		return;
	}
	api_target(r, "challenge:%s", idstr);
	api_detail(r, "challenge", json_string(chhex));
	api_reply(r, 201, json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s}",
	    "challenge_id", idstr, "challenge", chhex, "generation", generation,
	    "custodian_index", r->who.custodian_index, "tenant_id",
	    r->who.tenant_id_str, "tenant", r->who.tenant, "expires_at",
	    PQgetvalue(q, 0, 0)));
	PQclear(q);
}

/* After COMMIT of an answer (proven or failed): the gauges are stale. */
static atomic_int pop_dirty = 1;

static void
pop_after_answer(api_req *r)
{
	(void)r;
	atomic_store(&pop_dirty, 1);
}

void
api_h_possession_answer(api_req *r)
{
	static const char *const top[] = { "p", "proof", NULL };
	unsigned char cid[UTIL_UUID_BYTES], ch[VAULT_POP_CHALLENGE_BYTES];
	unsigned char V[VAULT_POINT_BYTES], P[VAULT_POINT_BYTES];
	unsigned char proof[VAULT_POP_PROOF_BYTES];
	char cidstr[UTIL_UUID_STRLEN + 1], err[POP_ERR];
	const char *ph, *pfh, *result;
	json_t *body = NULL;
	PGresult *c = NULL, *q = NULL;
	int generation, k, cgen, cidx, verified;

	if (api_param_uuid(r, cid, cidstr) != 0)
		return;
	api_target(r, "challenge:%s", cidstr);

	/* The challenge, locked until it is answered; another user's (or
	 * another tenant's) is no challenge at all. */
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, cidstr);
		c = pg_query(r->db, "SELECT user_id::text, custodian_index, "
		    "generation, pg_catalog.encode(challenge, 'hex'), "
		    "answered_at IS NOT NULL, expires_at <= pg_catalog.now() "
		    "FROM coffer.possession_challenges "
		    "WHERE tenant_id = $1::uuid AND challenge_id = $2::uuid "
		    "FOR UPDATE", &p, err, sizeof(err));
		if (c == NULL) {
			api_fail_db(r, "possession challenge", err);
			goto out;
		}
	}
	if (PQntuples(c) != 1 || strcmp(PQgetvalue(c, 0, 0), r->who.user_id) != 0) {
		api_fail(r, 404, "not_found", NULL, "no such challenge");
		goto out;
	}
	cidx = atoi(PQgetvalue(c, 0, 1));
	cgen = atoi(PQgetvalue(c, 0, 2));
	api_detail(r, "generation", json_integer(cgen));
	api_detail(r, "custodian_index", json_integer(cidx));
	if (strcmp(PQgetvalue(c, 0, 4), "t") == 0) {
		api_fail(r, 409, "challenge_used", NULL, "this challenge was answered "
		    "already; fetch a new one");
		goto out;
	}
	if (strcmp(PQgetvalue(c, 0, 5), "t") == 0) {
		api_fail(r, 410, "challenge_expired", "expired", "this challenge has "
		    "expired (a challenge is valid for " POP_TTL "); fetch a new "
		    "one");
		goto out;
	}
	if (util_unhex(ch, sizeof(ch), PQgetvalue(c, 0, 3),
	    (size_t)PQgetlength(c, 0, 3)) != 0) {
		api_fail_internal(r, "possession challenge", "malformed challenge "
		    "row");
		goto out;
	}
	if ((body = api_body_object(r)) == NULL)
		goto out;
	if (api_json_only(r, body, "the answer", top) != 0)
		goto out;
	ph = json_string_value(json_object_get(body, "p"));
	pfh = json_string_value(json_object_get(body, "proof"));
	if (ph == NULL || pfh == NULL ||
	    util_unhex(P, sizeof(P), ph, strlen(ph)) != 0 ||
	    util_unhex(proof, sizeof(proof), pfh, strlen(pfh)) != 0) {
		api_fail(r, 400, "bad_request", "invalid", "the answer must be "
		    "{\"p\": 64 hex digits, \"proof\": 128 hex digits}");
		goto out;
	}
	/* Shares of another generation lie on another polynomial: the
	 * answer is checked against the generation it was asked for, and
	 * that must still be the current one, held at the same index. */
	if (pop_generation(r, &generation, &k) != 0)
		goto out;
	if (cgen != generation) {
		api_detail(r, "current_generation", json_integer(generation));
		api_fail(r, 409, "generation_changed", NULL, "the challenge is for "
		    "share generation %d; the tenant's current generation is %d: "
		    "fetch a new challenge", cgen, generation);
		goto out;
	}
	if (cidx != r->who.custodian_index) {
		api_fail(r, 409, "generation_changed", NULL, "the challenge was "
		    "issued for custodian index %d; you now hold %s: fetch a new "
		    "challenge", cidx, r->who.custodian_index > 0 ?
		    "another index" : "no share of the current generation");
		goto out;
	}
	if (api_public_share(r, cidx, V) != 0)
		goto out;
	/* The answer is public (a hash-derived point, vault/possession.h):
	 * the event carries it, so an auditor can check the verdict. */
	api_detail(r, "p", json_string(ph));
	api_detail(r, "proof", json_string(pfh));
	verified = vault_possession_verify(V, (unsigned)cidx, r->who.tenant_id,
	    (uint32_t)cgen, ch, P, proof, err, sizeof(err)) == 0;
	result = verified ? "proven" : "failed";
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, cidstr);
		pg_param_text(&p, result);
		q = pg_query(r->db, "UPDATE coffer.possession_challenges SET "
		    "answered_at = pg_catalog.now(), result = $3 "
		    "WHERE tenant_id = $1::uuid AND challenge_id = $2::uuid "
		    "AND answered_at IS NULL RETURNING " API_TS("answered_at"), &p,
		    err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "possession answer", err);
			goto out;
		}
		if (PQntuples(q) != 1) {
			api_fail(r, 409, "challenge_used", NULL, "this challenge was "
			    "answered already; fetch a new one");
			goto out;
		}
	}
	api_detail(r, "result", json_string(result));
	r->after_commit = pop_after_answer;
	if (!verified) {
		api_detail(r, "reason", json_string(err));
		api_fail(r, 422, "proof_failed", "rejected", "the proof does not "
		    "verify against your public share of generation %d", cgen);
		/* the failure is the finding: it survives its own refusal */
		r->commit_on_fail = 1;
		goto out;
	}
	api_reply(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s}",
	    "result", "proven", "challenge_id", cidstr, "tenant_id",
	    r->who.tenant_id_str, "tenant", r->who.tenant, "generation", cgen,
	    "custodian_index", cidx, "proven_at", PQgetvalue(q, 0, 0)));
out:
	json_decref(body);
	PQclear(c);
	PQclear(q);
}

void
api_h_possession_list(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	char err[POP_ERR], win[16];
	json_t *list = NULL;
	PGresult *q;
	int generation, k, i, proven = 0;

	api_target(r, "possession");
	if (pop_generation(r, &generation, &k) != 0)
		return;
	snprintf(win, sizeof(win), "%u", r->cfg->possession_window_days);
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, win);
	q = pg_query(r->db, POP_SEATS_SQL "SELECT custodian_index, name, status, "
	    API_TS("last_proven") " FROM st ORDER BY custodian_index", &p, err,
	    sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "possession", err);
		return;
	}
	if ((list = json_array()) == NULL)
		goto oom;
	for (i = 0; i < PQntuples(q); i++) {
		if (strcmp(PQgetvalue(q, i, 2), "proven") == 0)
			proven++;
		if (json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s?}",
		    "index", atoi(PQgetvalue(q, i, 0)), "name", PQgetvalue(q, i, 1),
		    "status", PQgetvalue(q, i, 2), "proven_at",
		    PQgetisnull(q, i, 3) ? NULL : PQgetvalue(q, i, 3))) != 0)
			goto oom;
	}
	api_detail(r, "generation", json_integer(generation));
	api_detail(r, "proven", json_integer(proven));
	api_detail(r, "not_proven", json_integer(PQntuples(q) - proven));
	api_reply(r, 200, json_pack("{s:s, s:i, s:i, s:i, s:o, s:i, s:i}",
	    "tenant_id", r->who.tenant_id_str, "generation", generation,
	    "threshold", k, "window_days", (int)r->cfg->possession_window_days,
	    "custodians", list, "proven", proven, "not_proven",
	    PQntuples(q) - proven));
	PQclear(q);
	return;
oom:
	json_decref(list);
	PQclear(q);
	api_fail_internal(r, "possession", "out of memory");
}

/* -- the gauges ---------------------------------------------------------------- */

static pthread_mutex_t pop_mu = PTHREAD_MUTEX_INITIALIZER;
static double          pop_refreshed = -1.0;   /* util_mono_s(); -1 never */

void
api_possession_metrics(api_pool *pool, const api_config *cfg)
{
	pg_params p = PG_PARAMS_INIT;
	char err[POP_ERR], win[16];
	PGconn *db = NULL;
	PGresult *q = NULL;
	double now;

	/* one refresh at a time; a scrape meanwhile shows the last figures */
	if (pthread_mutex_trylock(&pop_mu) != 0)
		return;
	now = util_mono_s();
	if (!atomic_load(&pop_dirty) && pop_refreshed >= 0 &&
	    now - pop_refreshed < POP_REFRESH_S)
		goto out;
	/* cleared before reading: an answer committed meanwhile sets it
	 * again and the next scrape reads once more */
	atomic_store(&pop_dirty, 0);
	pop_refreshed = now;
	snprintf(win, sizeof(win), "%u", cfg->possession_window_days);
	pg_param_null(&p);
	pg_param_text(&p, win);
	if ((db = api_pool_get(pool, err, sizeof(err))) == NULL ||
	    (q = pg_query(db, POP_SEATS_SQL ", per AS (SELECT tk.threshold_k, "
	    "pg_catalog.count(*) FILTER (WHERE st.status = 'proven') AS p, "
	    "pg_catalog.count(st.status) FILTER (WHERE st.status <> 'proven') "
	    "AS n FROM tk LEFT JOIN st ON st.tenant_id = tk.tenant_id "
	    "GROUP BY tk.tenant_id, tk.threshold_k) "
	    "SELECT coalesce(pg_catalog.sum(p), 0), "
	    "coalesce(pg_catalog.sum(n), 0), "
	    "pg_catalog.count(*) FILTER (WHERE p < threshold_k) FROM per", &p,
	    err, sizeof(err))) == NULL) {
		/* absent, not stale: a figure nobody could compute */
		api_metrics_possession(-1, -1, -1);
		log_warn("possession gauges not refreshed: %s", err);
		goto out;
	}
	api_metrics_possession(atoll(PQgetvalue(q, 0, 0)),
	    atoll(PQgetvalue(q, 0, 1)), atoll(PQgetvalue(q, 0, 2)));
out:
	PQclear(q);
	api_pool_put(pool, &db);
	pthread_mutex_unlock(&pop_mu);
}
