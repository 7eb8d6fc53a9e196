/* api/approvals.c — POST /v1/matters/{id}/approvals.
 *
 * Trusts: the authenticated identity (its users.custodian_index is the only
 * index this user may answer for) and the tenant's public key material in
 * the database — after checking that the stored public share V_i is the one
 * the stored Feldman commitments give.  Does not trust the body: every
 * partial is decoded strictly and its proof verified by vault before
 * anything is stored.
 *
 * Share generations (api/reshare.h): only a share of the tenant key's
 * current generation approves.  The generation is read FOR SHARE, so a
 * re-share cannot finalise in the middle of an approval; the approval is
 * stored with it, and the "already approved" check and the count that
 * starts the build look at that generation's approvals and its K only.
 *
 * Hazards:
 *  - The matter row is locked (FOR UPDATE) for the whole decision, so two
 *    custodians approving at once cannot both be "the K-th", and a
 *    custodian racing itself cannot approve twice.
 *  - The epoch set must be exactly the matter's frozen set: a partial for an
 *    epoch outside it would release a key the matter does not need.
 *  - A refusal names the custodian index and epoch (audit and client) but
 *    never echoes submitted bytes.
 */
#include "api/partials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/keeperlink.h"
#include "api/handlers.h"
#include "api/server.h"
#include "api/matters.h"
#include "api/reshare.h"
#include "common/log.h"
#include "common/pg.h"
#include "vault/mem.h"
#include "vault/tenant.h"

#define APPR_ERR          512U
#define APPR_AUDIT_INLINE 100U     /* partials copied into the audit event */

/* -- the designated third party (issue 16.4, migration 0017) ---------------
 *
 * A custodian account marked third_party (`user issue --third-party`: the
 * SEC 17a-4(f) designated third party) approves only regulator requests,
 * and not at all when the tenant's rule is 'excluded'; under 'required' a
 * regulator request builds only once its K approvals of the current
 * generation include the third party's. */

#define APPR_D3P_HELD "threshold reached but the designated third party has " \
    "not approved: regulator requests of this tenant require it"

typedef struct appr_d3p {
	int regulator;        /* the matter is a regulator request */
	int required;         /* ... and the tenant requires the third party */
	int third_party;      /* the approver is the designated third party */
} appr_d3p;

/* The matter's kind, the tenant's rule and whether the approver is the
 * third party; refuses what the rule forbids.  0, or -1 answered. */
static int
appr_d3p_check(api_req *r, const char *midstr, appr_d3p *d)
{
	pg_params p = PG_PARAMS_INIT;
	char err[APPR_ERR];
	PGresult *q;
	const char *rule;

	memset(d, 0, sizeof(*d));
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, midstr);
	pg_param_text(&p, r->who.user_id);
	q = pg_query(r->db, "SELECT m.kind, t.regulator_d3p, u.third_party "
	    "FROM coffer.matters m JOIN coffer.tenants t USING (tenant_id) "
	    "JOIN coffer.users u ON u.tenant_id = m.tenant_id "
	    " AND u.user_id = $3::uuid "
	    "WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid", &p, err,
	    sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "matter kind", err);
		return -1;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		api_fail(r, 404, "not_found", NULL, "no such matter");
		return -1;
	}
	d->regulator = strcmp(PQgetvalue(q, 0, 0), "regulator_request") == 0;
	rule = PQgetvalue(q, 0, 1);
	d->required = d->regulator && strcmp(rule, "required") == 0;
	d->third_party = strcmp(PQgetvalue(q, 0, 2), "t") == 0;
	api_detail(r, "kind", json_string(PQgetvalue(q, 0, 0)));
	api_detail(r, "third_party", json_boolean(d->third_party));
	if (d->third_party && !d->regulator) {
		PQclear(q);
		api_fail(r, 403, "d3p_regulator_only", "denied", "a designated "
		    "third party approves only regulator requests");
		return -1;
	}
	if (d->third_party && strcmp(rule, "excluded") == 0) {
		PQclear(q);
		api_fail(r, 403, "d3p_excluded", "denied", "this tenant's regulator "
		    "requests exclude the designated third party (regulator_d3p = "
		    "excluded)");
		return -1;
	}
	PQclear(q);
	return 0;
}

/* Under 'required': whether the third party is among the approvals of
 * this generation and blinding.  1 yes, 0 no, -1 answered. */
static int
appr_d3p_in(api_req *r, const char *midstr, const char *blindstr,
    const char *gens)
{
	pg_params p = PG_PARAMS_INIT;
	char err[APPR_ERR];
	PGresult *q;
	int in;

	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, midstr);
	pg_param_text(&p, blindstr);
	pg_param_text(&p, gens);
	q = pg_query(r->db, "SELECT EXISTS (SELECT 1 FROM coffer.approvals a "
	    "JOIN coffer.users u ON u.tenant_id = a.tenant_id "
	    " AND u.user_id = a.user_id "
	    "WHERE a.tenant_id = $1::uuid AND a.matter_id = $2::uuid "
	    "AND a.blind_id = $3::uuid AND a.generation = $4::int "
	    "AND u.third_party)", &p, err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "approvals", err);
		return -1;
	}
	in = strcmp(PQgetvalue(q, 0, 0), "t") == 0;
	PQclear(q);
	return in;
}

/* After COMMIT: queue the build. */
static void
appr_after_commit(api_req *r)
{
	if (api_req_start_build(r, r->who.tenant_id_str, r->after_arg) != 0)
		log_error("matter %s: production build not queued (queue full); "
		    "it will be resumed at the next start", r->after_arg);
}


void
api_h_approval_submit(api_req *r)
{
	static const char *const top[] = { "custodian_index", "generation",
	    "partials", NULL };
	unsigned char mid[UTIL_UUID_BYTES], V[VAULT_POINT_BYTES];
	unsigned char Vc[VAULT_POINT_BYTES], *commits = NULL, md[32];
	char midstr[UTIL_UUID_STRLEN + 1], err[APPR_ERR], msg[256], idx[16];
	char mdhex[65], blindstr[UTIL_UUID_STRLEN + 1], gens[16];
	unsigned char recipient[VAULT_RECIPIENT_BYTES], blind_id[16];
	unsigned char *eids = NULL, *Rs = NULL, *Rbs = NULL, *bps = NULL;
	int seed = 0, renewed = 0;
	api_partial *parts = NULL;
	json_t *body = NULL, *stored = NULL;
	PGresult *m = NULL, *q = NULL, *ep = NULL;
	const json_t *ji;
	char *stored_text = NULL;
	size_t nparts = 0, bad = 0, i, ncommit;
	unsigned int mdlen = 0;
	int k = 0, approvals, nepochs, gen, newest, keycur = 0, seat = 0, seatnew = 0;
	int missing = 0, *rows = NULL, nall, held = 0;
	char pkhex[65];
	appr_d3p d3p;

	if (api_param_uuid(r, mid, midstr) != 0)
		return;
	api_target(r, "matter:%s", midstr);
	api_detail(r, "custodian_index", json_integer(r->who.custodian_index));

	/* The matter, locked for the whole decision. */
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		/* Column 1: the requester's person (migration 0009): the
		 * requester's other accounts cannot approve either. */
		m = pg_query(r->db, "SELECT m.state, ru.person_id::text, "
		    "t.threshold_k, pg_catalog.encode(m.recipient_key, 'hex'), "
		    "m.blind_id::text "
		    "FROM coffer.matters m JOIN coffer.tenants t "
		    " ON t.tenant_id = m.tenant_id "
		    "JOIN coffer.users ru ON ru.tenant_id = m.tenant_id "
		    " AND ru.user_id = m.requester_user_id "
		    "WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid "
		    "FOR UPDATE OF m", &p, err, sizeof(err));
		if (m == NULL) {
			api_fail_db(r, "matter", err);
			goto out;
		}
		if (PQntuples(m) != 1) {
			api_fail(r, 404, "not_found", NULL, "no such matter");
			goto out;
		}
	}
	if (strcmp(PQgetvalue(m, 0, 1), r->who.person_id) == 0) {
		api_fail(r, 403, "requester_cannot_approve", "denied", "the requester "
		    "of a matter cannot approve it (under any of their accounts)");
		goto out;
	}
	if ((body = api_body_object(r)) == NULL)
		goto out;
	if (api_json_only(r, body, "the approval", top) != 0)
		goto out;
	/* The share generation (issue 16): the body's, default the newest.
	 * A custodian without a current share, or one approving with a
	 * retired share file, is told so by name. */
	if ((newest = api_key_generation(r, NULL)) < 0)
		goto out;
	/* refusals are audited with the newest generation, and the claimed
	 * one when it differs; an accepted approval with its own */
	api_detail(r, "generation", json_integer(newest));
	ji = json_object_get(body, "generation");
	if (ji != NULL && (!json_is_integer(ji) || json_integer_value(ji) < 1 ||
	    json_integer_value(ji) > 1000000)) {
		api_fail(r, 400, "bad_request", "invalid", "generation must be an "
		    "integer >= 1 (the generation of your share)");
		goto out;
	}
	gen = ji != NULL ? (int)json_integer_value(ji) : newest;
	snprintf(gens, sizeof(gens), "%d", gen);
	if (gen != newest)
		api_detail(r, "claimed_generation", json_integer(gen));
	{
		pg_params p = PG_PARAMS_INIT;
		char ns[16];

		snprintf(ns, sizeof(ns), "%d", newest);
		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, gens);
		pg_param_text(&p, r->who.user_id);
		pg_param_text(&p, ns);
		/* g's key, K, the current generation of that key, the caller's
		 * seat in g and in the newest generation; a key row without
		 * generation rows (written by hand) stands for the newest with
		 * users.custodian_index, as before generations. */
		q = pg_query(r->db, "SELECT pg_catalog.encode(g.public_key, 'hex'), "
		    "g.threshold_k, (SELECT pg_catalog.max(h.generation) "
		    " FROM coffer.tenant_key_generations h WHERE h.tenant_id = "
		    " g.tenant_id AND h.public_key = g.public_key), "
		    "(SELECT s.custodian_index FROM coffer.custodian_seats s "
		    " WHERE s.tenant_id = g.tenant_id AND s.generation = g.generation "
		    " AND s.user_id = $3::uuid), "
		    "(SELECT s.custodian_index FROM coffer.custodian_seats s "
		    " WHERE s.tenant_id = g.tenant_id AND s.generation = $4::int "
		    " AND s.user_id = $3::uuid) "
		    "FROM coffer.tenant_key_generations g "
		    "WHERE g.tenant_id = $1::uuid AND g.generation = $2::int "
		    "UNION ALL "
		    "SELECT pg_catalog.encode(k.public_key, 'hex'), t.threshold_k, "
		    "k.generation, u.custodian_index, u.custodian_index "
		    "FROM coffer.tenant_keys k JOIN coffer.tenants t "
		    " ON t.tenant_id = k.tenant_id JOIN coffer.users u "
		    " ON u.tenant_id = k.tenant_id AND u.user_id = $3::uuid "
		    "WHERE k.tenant_id = $1::uuid AND k.generation = $2::int "
		    "AND NOT EXISTS (SELECT 1 FROM coffer.tenant_key_generations x "
		    " WHERE x.tenant_id = k.tenant_id AND x.generation = $2::int)",
		    &p, err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "tenant key generation", err);
			goto out;
		}
		if (PQntuples(q) == 1 && PQgetlength(q, 0, 0) == 64) {
			memcpy(pkhex, PQgetvalue(q, 0, 0), 64);
			pkhex[64] = '\0';
			k = atoi(PQgetvalue(q, 0, 1));
			keycur = atoi(PQgetvalue(q, 0, 2));
			seat = PQgetisnull(q, 0, 3) ? 0 : atoi(PQgetvalue(q, 0, 3));
			seatnew = PQgetisnull(q, 0, 4) ? 0 : atoi(PQgetvalue(q, 0, 4));
		}
		PQclear(q);
		q = NULL;
	}
	if (keycur < 1 || gen > newest) {
		api_fail(r, 409, "no_such_generation", NULL, "the tenant key has no "
		    "share generation %d (the newest is %d)", gen, newest);
		goto out;
	}
	if (seatnew < 1 && (gen == newest || keycur != gen)) {
		api_fail_no_current_share(r, newest);
		goto out;
	}
	if (keycur != gen) {
		api_fail(r, 409, "share_retired", NULL, "share generation %d is "
		    "retired: the tenant key is at generation %d (re-shared); "
		    "approve with your generation-%d share", gen, keycur, keycur);
		goto out;
	}
	if (seat < 1) {
		api_fail(r, 403, "no_current_share", "denied", "you hold no share "
		    "of generation %d", gen);
		goto out;
	}
	api_detail(r, "custodian_index", json_integer(seat));
	api_detail(r, "generation", json_integer(gen));
	ji = json_object_get(body, "custodian_index");
	if (!json_is_integer(ji) || json_integer_value(ji) < 1 ||
	    json_integer_value(ji) > 255) {
		api_fail(r, 400, "bad_request", "invalid", "custodian_index must be "
		    "an integer 1..255");
		goto out;
	}
	if (json_integer_value(ji) != seat) {
		api_detail(r, "claimed_index", json_integer(json_integer_value(ji)));
		api_fail(r, 403, "wrong_custodian_index", "denied", "you hold share "
		    "%d; you may approve only with that index", seat);
		goto out;
	}
	if (strcmp(PQgetvalue(m, 0, 0), "open") != 0) {
		api_detail(r, "state", json_string(PQgetvalue(m, 0, 0)));
		api_fail(r, 409, "not_open", NULL, "the matter is %s: it takes no "
		    "more approvals", PQgetvalue(m, 0, 0));
		goto out;
	}
	if (appr_d3p_check(r, midstr, &d3p) != 0)
		goto out;
	if (PQgetisnull(m, 0, 3) || util_unhex(recipient, sizeof(recipient),
	    PQgetvalue(m, 0, 3), (size_t)PQgetlength(m, 0, 3)) != 0) {
		api_fail(r, 409, "production_key_missing", NULL, "the matter has no "
		    "production recipient key frozen: it cannot be released");
		goto out;
	}
	/* The seed R' is derived from; a seed lost on this host starts a new
	 * generation, and partials computed on the old one cannot verify. */
	if (api_matter_seed(r, midstr, PQgetisnull(m, 0, 4) ? NULL :
	    PQgetvalue(m, 0, 4), 1, blind_id, &seed, &renewed) != 0)
		goto out;
	util_uuid_format(blindstr, blind_id);
	if (renewed) {
		api_detail(r, "blinding", json_string("renewed"));
		api_fail(r, 409, "blinding_renewed", NULL, "the matter's blinded "
		    "points were renewed on the API host; fetch the matter and "
		    "approve again (cofferctl approve)");
		/* The new generation must survive this refusal. */
		r->commit_on_fail = 1;
		goto out;
	}
	if (!seed) {
		api_fail(r, 409, "not_open", NULL, "the matter is no longer open: it "
		    "takes no more approvals");
		goto out;
	}
	snprintf(idx, sizeof(idx), "%d", seat);
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		pg_param_text(&p, idx);
		pg_param_text(&p, r->who.user_id);
		pg_param_text(&p, blindstr);
		pg_param_text(&p, gens);
		q = pg_query(r->db, "SELECT 1 FROM coffer.approvals "
		    "WHERE tenant_id = $1::uuid AND matter_id = $2::uuid "
		    "AND blind_id = $5::uuid AND generation = $6::int "
		    "AND (custodian_index = $3::int OR user_id = $4::uuid)", &p, err,
		    sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "approvals", err);
			goto out;
		}
		if (PQntuples(q) > 0) {
			api_fail(r, 409, "already_approved", NULL, "this custodian has "
			    "approved the matter already");
			goto out;
		}
		PQclear(q);
		q = NULL;
	}
	if (api_partials_decode(json_object_get(body, "partials"),
	    (unsigned)seat, &parts, &nparts, msg, sizeof(msg),
	    &bad) != 0) {
		api_fail(r, 400, "bad_request", "invalid", "%s", msg);
		goto out;
	}
	api_detail(r, "epochs", json_integer((json_int_t)nparts));

	/* The matter's epochs now, with R: exactly those under g's key must
	 * be answered (issue 16: a matter spanning a rotation takes one
	 * approval per key, each answering that key's epochs only). */
	{
		pg_params p = PG_PARAMS_INIT;
		int j;

		p.result_binary = 1;
		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		pg_param_text(&p, pkhex);
		ep = pg_query(r->db, MATTER_EPOCHS_SQL("e.r_point, ("
		    EPOCH_KEY_SQL("e") " = pg_catalog.decode($3, 'hex'))"), &p, err,
		    sizeof(err));
		if (ep == NULL) {
			api_fail_db(r, "matter epochs", err);
			goto out;
		}
		nall = PQntuples(ep);
		if ((rows = calloc((size_t)nall + 1, sizeof(int))) == NULL) {
			api_fail_internal(r, "approval", "out of memory");
			goto out;
		}
		for (nepochs = 0, j = 0; j < nall; j++)
			if (PQgetlength(ep, j, 2) == 1 && PQgetvalue(ep, j, 2)[0] != 0)
				rows[nepochs++] = j;
	}
	if (nepochs == 0 && nall > 0) {
		api_fail(r, 409, "key_not_used", NULL, "matter %s has no records "
		    "under generation %d's key: that share is not needed", midstr,
		    gen);
		goto out;
	}
	if ((int)nparts != nepochs) {
		api_fail(r, 422, "epoch_set_mismatch", "rejected", "the matter has "
		    "%d epoch(s) under generation %d's key; one partial for each is "
		    "required, %zu given", nepochs, gen, nparts);
		goto out;
	}

	/* V_i, and the commitments it must agree with. */
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, idx);
		pg_param_text(&p, gens);
		q = pg_query(r->db, "SELECT pg_catalog.encode("
		    " tk.public_shares[$2::int], 'hex'), "
		    "(SELECT pg_catalog.string_agg(pg_catalog.encode(c, 'hex'), '' "
		    "  ORDER BY o) FROM pg_catalog.unnest(tk.commitments) "
		    "  WITH ORDINALITY AS u(c, o)) "
		    "FROM " GEN_ROW_SQL("$3::int") " tk",
		    &p, err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "tenant keys", err);
			goto out;
		}
		if (PQntuples(q) != 1 || PQgetisnull(q, 0, 0) || PQgetisnull(q, 0, 1) ||
		    PQgetlength(q, 0, 0) != 2 * VAULT_POINT_BYTES ||
		    util_unhex(V, sizeof(V), PQgetvalue(q, 0, 0),
		    2 * VAULT_POINT_BYTES) != 0) {
			api_fail_internal(r, "tenant keys", "no public share for this "
			    "custodian index");
			goto out;
		}
		ncommit = (size_t)PQgetlength(q, 0, 1) / 2;
		if (ncommit == 0 || ncommit % VAULT_POINT_BYTES != 0 ||
		    (commits = malloc(ncommit)) == NULL ||
		    util_unhex(commits, ncommit, PQgetvalue(q, 0, 1),
		    2 * ncommit) != 0 ||
		    vault_tenant_public_share(commits, ncommit,
		    (unsigned)seat, Vc, err, sizeof(err)) != 0 ||
		    memcmp(V, Vc, sizeof(V)) != 0) {
			api_fail_internal(r, "tenant keys", "stored public share does "
			    "not match the Feldman commitments");
			goto out;
		}
		PQclear(q);
		q = NULL;
	}

	/* Each partial must answer one of the matter's epochs and verify. */
	{
		unsigned char eid[UTIL_UUID_BYTES];
		vault_release_ctx ctx;
		PGresult *q2 = ep;
		int row, found, rc;

		if (nparts > 0 && ((eids = malloc(nparts * 16)) == NULL ||
		    (Rs = malloc(nparts * VAULT_POINT_BYTES)) == NULL ||
		    (Rbs = malloc(nparts * VAULT_POINT_BYTES)) == NULL ||
		    (bps = malloc(nparts * VAULT_PROOF_BYTES)) == NULL)) {
			api_fail_internal(r, "approval", "out of memory");
			goto out;
		}
		/* Both lists are in epoch order and of the same length, so the
		 * sets are equal exactly when they match row by row. */
		for (i = 0; i < nparts; i++) {
			row = rows[i];
			found = PQgetlength(q2, row, 0) == UTIL_UUID_BYTES &&
			    PQgetlength(q2, row, 1) == VAULT_POINT_BYTES;
			if (found) {
				memcpy(eid, PQgetvalue(q2, row, 0), sizeof(eid));
				found = memcmp(eid, parts[i].epoch_id, sizeof(eid)) == 0;
			}
			if (!found) {
				api_detail(r, "epoch_id", json_string(parts[i].epoch_text));
				api_fail(r, 422, "epoch_set_mismatch", "rejected", "epoch %s "
				    "is not an epoch of this matter", parts[i].epoch_text);
				goto out;
			}
			memcpy(eids + i * 16, eid, 16);
			memcpy(Rs + i * VAULT_POINT_BYTES, PQgetvalue(q2, row, 1),
			    VAULT_POINT_BYTES);
		}
		/* R' of every epoch, from the keeper, which holds the seed */
		if (nparts > 0) {
			rc = kl_blind(api_req_keeper(r), mid, blind_id,
			    r->who.tenant_id, recipient, nparts, eids, Rs, Rbs, bps, err,
			    sizeof(err));
			if (rc != 0) {
				api_fail_internal(r, "approval", rc > 0 ? "the blinding "
				    "seed went away" : err);
				goto out;
			}
		}
		for (i = 0; i < nparts; i++) {
			memcpy(parts[i].rb, Rbs + i * VAULT_POINT_BYTES,
			    VAULT_POINT_BYTES);
			memcpy(parts[i].bp, bps + i * VAULT_PROOF_BYTES,
			    VAULT_PROOF_BYTES);
			vault_release_ctx_init(&ctx, r->who.tenant_id, mid,
			    parts[i].epoch_id, recipient);
			if (vault_threshold_verify(&parts[i].part, V, &ctx, parts[i].rb,
			    err, sizeof(err)) != 0) {
				snprintf(r->outcome_buf, sizeof(r->outcome_buf),
				    "bad-proof.custodian-%d", seat);
				api_detail(r, "epoch_id", json_string(parts[i].epoch_text));
				api_metrics_approval(0);
				api_fail(r, 422, "invalid_partial", r->outcome_buf,
				    "custodian %d: the partial for epoch %s does not verify; "
				    "nothing was stored", seat,
				    parts[i].epoch_text);
				goto out;
			}
		}
	}

	/* Every proof verified: store, count, maybe start the build. */
	if ((stored = api_partials_stored(parts, nparts)) == NULL ||
	    (stored_text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL) {
		api_fail_internal(r, "approval", "out of memory");
		goto out;
	}
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		pg_param_text(&p, idx);
		pg_param_text(&p, r->who.user_id);
		pg_param_text(&p, stored_text);
		pg_param_text(&p, blindstr);
		pg_param_text(&p, gens);
		q = pg_query(r->db, "WITH ins AS (INSERT INTO coffer.approvals "
		    "(tenant_id, matter_id, custodian_index, user_id, partials, "
		    "blind_id, generation) "
		    "VALUES ($1::uuid, $2::uuid, $3::int, $4::uuid, $5::jsonb, "
		    "$6::uuid, $7::int) RETURNING 1) "
		    "SELECT (SELECT pg_catalog.count(*) FROM coffer.approvals a "
		    " WHERE a.tenant_id = $1::uuid AND a.matter_id = $2::uuid "
		    " AND a.blind_id = $6::uuid AND a.generation = $7::int) "
		    "+ (SELECT pg_catalog.count(*) FROM ins)", &p, err, sizeof(err));
		if (q == NULL) {
			if (pg_last_sqlstate_is(PG_SQLSTATE_UNIQUE_VIOLATION))
				api_fail(r, 409, "already_approved", NULL, "this custodian "
				    "has approved the matter already");
			else
				api_fail_db(r, "approval insert", err);
			goto out;
		}
		approvals = atoi(PQgetvalue(q, 0, 0));
		PQclear(q);
		q = NULL;
	}
	if (EVP_Digest(stored_text, strlen(stored_text), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != 32) {
		api_fail_internal(r, "approval", "digest");
		goto out;
	}
	util_hex(mdhex, md, 32);
	api_detail(r, "partials_sha256", json_string(mdhex));
	/* The event carries each blinded answer and its proof (the stored
	 * row, hashed above, also has R' and the blinding proof). */
	if (nparts <= APPR_AUDIT_INLINE) {
		json_t *inl = json_object(), *v;
		const char *key;

		json_object_foreach(stored, key, v)
			json_object_set_new(inl, key, json_pack("{s:O, s:O}", "p",
			    json_object_get(v, "p"), "proof",
			    json_object_get(v, "proof")));
		api_detail(r, "partials", inl);
	}
	api_detail(r, "blind_id", json_string(blindstr));
	api_detail(r, "approvals", json_integer(approvals));
	api_detail(r, "threshold", json_integer(k));
	if (approvals >= k && d3p.required && !d3p.third_party) {
		int in = appr_d3p_in(r, midstr, blindstr, gens);

		if (in < 0)
			goto out;
		held = !in;
		if (held)
			api_detail(r, "held", json_string(APPR_D3P_HELD));
	}
	/* The state rule (issue 16): every key the matter's epochs use needs
	 * its current generation's K; this generation's count is above. */
	if (approvals >= k && !held) {
		pg_params p = PG_PARAMS_INIT;
		int j;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		pg_param_text(&p, blindstr);
		q = pg_query(r->db, MATTER_KEYS_SQL, &p, err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "matter keys", err);
			goto out;
		}
		for (j = 0; j < PQntuples(q); j++)
			if (atoi(PQgetvalue(q, j, 2)) < atoi(PQgetvalue(q, j, 1)))
				missing++;
		PQclear(q);
		q = NULL;
		if (missing > 0)
			api_detail(r, "keys_waiting", json_integer(missing));
	}
	if (approvals >= k && missing == 0 && !held) {
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		if (pg_exec(r->db, "UPDATE coffer.matters SET state = 'building', "
		    "progress = 0, failure_reason = NULL WHERE tenant_id = $1::uuid "
		    "AND matter_id = $2::uuid", &p, err, sizeof(err)) != 0) {
			api_fail_db(r, "matter state", err);
			goto out;
		}
		api_detail(r, "build", json_string("queued"));
		r->after_commit = appr_after_commit;
		snprintf(r->after_arg, sizeof(r->after_arg), "%s", midstr);
	}
	api_metrics_approval(1);
	api_reply(r, 201, json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:s*}",
	    "matter_id", midstr, "custodian_index", seat,
	    "generation", gen, "approvals", approvals, "threshold", k, "state",
	    approvals >= k && missing == 0 && !held ? "building" : "open",
	    "message", held ? APPR_D3P_HELD : NULL));
out:
	free(eids);
	free(Rs);
	free(Rbs);
	free(bps);
	PQclear(m);
	PQclear(q);
	PQclear(ep);
	free(rows);
	free(parts);
	free(commits);
	free(stored_text);
	json_decref(stored);
	json_decref(body);
}
