/* api/prodscope.c — what a production covers and the keys it opens
 * (api/prodscope.h): the matter and its scope, the tenant's threshold key
 * material, the epochs in scope, the custodians' partials and their
 * combination into the epoch keys.
 *
 * Trusts: the database for the matter, its approvals and the tenant's
 * public key material — but not blindly: a scope with an unknown key
 * fails (an unknown criterion must never widen a production), the tenant
 * key is checked against its pin (opts->pins_dir) before anything is
 * unwrapped, every stored partial goes through the API's one strict parser
 * (api_partials_stored_decode, api/partials.h) and its Chaum-Pedersen
 * proof is verified again here, bound to this tenant, matter and epoch
 * (the approvals table is writable by the API's role; a partial copied
 * from another matter would combine just as well), and a key that does
 * not unwrap fails the build naming the custodian.  Trusts vault/ with
 * all key material.
 *
 * Does not: reconstruct the tenant key (only S = t·R per epoch, from K
 * partials, in guarded memory), or keep an epoch key outside vault/'s
 * guarded memory.
 */
#include "api/prodscope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/blind.h"
#include "api/keys.h"
#include "api/keysql.h"
#include "api/partials.h"
#include "api/prodtext.h"
#include "common/channels.h"
#include "common/log.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/mem.h"
#include "vault/threshold.h"

/* -- matter, scope, approvals ----------------------------------------------------- */

/* {"\\x<hex>",...} from an array of 32-digit hex tokens; NULL when empty. */
static int
pr_token_literal(prod *P, json_t *arr, const char *field, char **out,
    size_t *count)
{
	unsigned char *toks;
	size_t i, n;
	json_t *v;

	*out = NULL;
	*count = 0;
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		PERR(P, "matter %s: scope field %s is not an array", P->mid, field);
		return -1;
	}
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	if ((toks = calloc(n, VAULT_TOKEN_BYTES)) == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	json_array_foreach(arr, i, v) {
		const char *h = json_string_value(v);

		if (h == NULL || json_string_length(v) != 2 * VAULT_TOKEN_BYTES ||
		    util_unhex(toks + i * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES, h,
		    2 * VAULT_TOKEN_BYTES) != 0) {
			PERR(P, "matter %s: scope field %s: element %zu is not a "
			    "32-digit hex token", P->mid, field, i);
			free(toks);
			return -1;
		}
	}
	*out = pg_bytea_array(toks, VAULT_TOKEN_BYTES, n);
	free(toks);
	if (*out == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	*count = n;
	return 0;
}

static int
pr_scope_parse(prod *P, const char *text, size_t len)
{
	json_error_t je;
	json_t *scope, *v, *parts = NULL, *convs = NULL, *chans = NULL;
	const char *key, **names = NULL;
	size_t i, np = 0, nc = 0;
	int rc = -1;

	if ((scope = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(scope)) {
		PERR(P, "matter %s: scope is not a JSON object", P->mid);
		goto out;
	}
	json_object_foreach(scope, key, v) {
		if (strcmp(key, "participants") == 0 ||
		    strcmp(key, "participant_tokens") == 0) {
			if (parts != NULL)
				goto dup;
			parts = v;
		} else if (strcmp(key, "conversations") == 0 ||
		    strcmp(key, "conversation_tokens") == 0) {
			if (convs != NULL)
				goto dup;
			convs = v;
		} else if (strcmp(key, "channels") == 0) {
			chans = v;
		} else if (strcmp(key, "from") != 0 && strcmp(key, "to") != 0) {
			char shown[64];

			PERR(P, "matter %s: scope has an unknown field '%s'; refusing "
			    "to build a production whose scope is not understood", P->mid,
			    log_printable(shown, sizeof(shown), key, strlen(key)));
			goto out;
		}
	}
	if (pr_token_literal(P, parts, "participants", &P->lit_parts, &np) != 0 ||
	    pr_token_literal(P, convs, "conversations", &P->lit_convs, &nc) != 0)
		goto out;
	P->scope_summary = json_object();
	if (P->scope_summary == NULL)
		goto oom;
	if (chans != NULL && !json_is_null(chans)) {
		json_t *list;

		if (!json_is_array(chans)) {
			PERR(P, "matter %s: scope field channels is not an array",
			    P->mid);
			goto out;
		}
		if (json_array_size(chans) > 0) {
			if ((names = calloc(json_array_size(chans),
			    sizeof(*names))) == NULL)
				goto oom;
			if ((list = json_array()) == NULL)
				goto oom;
			json_object_set_new(P->scope_summary, "channels", list);
			json_array_foreach(chans, i, v) {
				const char *c = json_string_value(v);

				if (c == NULL || !channels_ok(c)) {
					PERR(P, "matter %s: scope channel %zu is not a known "
					    "channel", P->mid, i);
					goto out;
				}
				names[i] = c;
				json_array_append_new(list, json_string(c));
			}
			if ((P->lit_channels = pg_text_array(names,
			    json_array_size(chans))) == NULL)
				goto oom;
		}
	}
	json_object_set_new(P->scope_summary, "participants", json_integer(
	    (json_int_t)np));
	json_object_set_new(P->scope_summary, "conversations", json_integer(
	    (json_int_t)nc));
	rc = 0;
	goto out;
dup:
	PERR(P, "matter %s: scope names participants or conversations twice",
	    P->mid);
	goto out;
oom:
	PERR(P, "out of memory");
out:
	free(names);
	json_decref(scope);
	return rc;
}

/* Parameters $1..$6 of PR_SCOPE (tenant, from, to, channels, participant
 * tokens, conversation tokens). */
void
pr_scope_params(prod *P, pg_params *p)
{
	pg_param_bin(p, P->tenant_id, VAULT_ID_BYTES);
	if (P->has_from)
		pg_param_bin(p, P->time_from, 8);
	else
		pg_param_null(p);
	if (P->has_to)
		pg_param_bin(p, P->time_to, 8);
	else
		pg_param_null(p);
	pg_param_text(p, P->lit_channels);
	pg_param_text(p, P->lit_parts);
	pg_param_text(p, P->lit_convs);
}

/* The matter's scope and time range (all api_production_count needs), and
 * for the cover sheet its title, legal basis and requester (P->matter). */
int
pr_load_scope(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int rc = -1;

	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, P->matter_id, VAULT_ID_BYTES);
	p.result_binary = 1;
	r = pg_query(P->db, "SELECT m.scope::text, m.time_from, m.time_to, m.state, "
	    "       m.title, m.legal_basis, m.requester_user_id, u.name "
	    "FROM coffer.matters m JOIN coffer.users u ON "
	    "     u.tenant_id = m.tenant_id AND u.user_id = m.requester_user_id "
	    "WHERE m.tenant_id = $1::uuid "
	    "AND m.matter_id = $2::uuid", &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PERR(P, "matter %s of tenant %s not found", P->mid, P->tid);
		goto out;
	}
	P->closed = PQgetlength(r, 0, 3) == 6 &&
	    memcmp(PQgetvalue(r, 0, 3), "closed", 6) == 0;
	if ((P->has_from = !PQgetisnull(r, 0, 1))) {
		if (PQgetlength(r, 0, 1) != 8)
			goto bad;
		memcpy(P->time_from, PQgetvalue(r, 0, 1), 8);
	}
	if ((P->has_to = !PQgetisnull(r, 0, 2))) {
		if (PQgetlength(r, 0, 2) != 8)
			goto bad;
		memcpy(P->time_to, PQgetvalue(r, 0, 2), 8);
	}
	if (PQgetlength(r, 0, 6) != VAULT_ID_BYTES)
		goto bad;
	{
		char req[PR_UUID_LIT];

		util_uuid_format(req, (const unsigned char *)PQgetvalue(r, 0, 6));
		json_decref(P->matter);
		P->matter = json_pack("{s:s%,s:s%,s:{s:s,s:s%}}",
		    "title", PQgetvalue(r, 0, 4), (size_t)PQgetlength(r, 0, 4),
		    "legal_basis", PQgetvalue(r, 0, 5), (size_t)PQgetlength(r, 0, 5),
		    "requester", "user_id", req, "name", PQgetvalue(r, 0, 7),
		    (size_t)PQgetlength(r, 0, 7));
		if (P->matter == NULL) {
			PERR(P, "matter %s: its title, legal basis or requester name "
			    "is not valid UTF-8 (or out of memory)", P->mid);
			goto out;
		}
	}
	rc = pr_scope_parse(P, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	goto out;
bad:
	PERR(P, "matter %s: malformed row", P->mid);
out:
	PQclear(r);
	return rc;
}

/* Who the production is for, and the tenant's public key material. */
int
pr_load_keys(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	const unsigned char *k;
	int rc = -1;

	if (P->closed) {
		PERR(P, "matter %s is closed", P->mid);
		return -1;
	}
	if (P->opts != NULL && P->opts->pins_dir != NULL &&
	    api_pin_check_tenant(P->db, P->opts->pins_dir, P->opts->node_pins_file,
	    P->tenant_id, P->err, P->err_len) != 0)
		return -1;
	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, P->matter_id, VAULT_ID_BYTES);
	p.result_binary = 1;
	r = pg_query(P->db,
	    "SELECT m.recipient_key, u.status, t.threshold_k, k.public_key, "
	    "m.blind_id "
	    "FROM coffer.matters m "
	    "JOIN coffer.users u ON u.tenant_id = m.tenant_id "
	    "                   AND u.user_id = m.requester_user_id "
	    "JOIN coffer.tenants t ON t.tenant_id = m.tenant_id "
	    "JOIN coffer.tenant_keys k ON k.tenant_id = m.tenant_id "
	    "WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid",
	    &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PERR(P, "matter %s: requester or tenant keys not found", P->mid);
		goto out;
	}
	if (PQgetisnull(r, 0, 0) || PQgetlength(r, 0, 0) != VAULT_BOX_PK_BYTES) {
		PERR(P, "matter %s: no production recipient key was frozen when "
		    "the matter was created", P->mid);
		goto out;
	}
	{
		unsigned char bid[16];
		char e2[256];
		int lr;

		if (PQgetisnull(r, 0, 4) || PQgetlength(r, 0, 4) != 16) {
			PERR(P, "matter %s has no blinding generation: the custodians "
			    "must approve it again", P->mid);
			goto out;
		}
		memcpy(bid, PQgetvalue(r, 0, 4), 16);
		util_uuid_format(P->blind_text, bid);
		snprintf(e2, sizeof(e2), "no blind_dir given");
		lr = P->opts == NULL || P->opts->blind_dir == NULL ? -1 :
		    api_blind_load(P->opts->blind_dir, P->mid, bid, &P->seed,
		    e2, sizeof(e2));
		if (lr == 0 && (P->Sb = vault_secure_alloc(VAULT_POINT_BYTES)) ==
		    NULL) {
			PERR(P, "out of secure memory");
			goto out;
		}
		if (lr != 0) {
			PERR(P, "matter %s: its blinding seed is not on this API host "
			    "(%s): the stored approvals cannot be used; close the matter "
			    "and open a new one", P->mid, lr > 0 ? "missing" : e2);
			goto out;
		}
	}
	if (PQgetlength(r, 0, 1) != 6 || memcmp(PQgetvalue(r, 0, 1), "active",
	    6) != 0) {
		PERR(P, "matter %s: the requester's account is not active", P->mid);
		goto out;
	}
	memcpy(P->requester_pk, PQgetvalue(r, 0, 0), VAULT_BOX_PK_BYTES);
	if (PQgetlength(r, 0, 2) != 4 || PQgetlength(r, 0, 3) != VAULT_POINT_BYTES) {
		PERR(P, "tenant %s: malformed key row", P->tid);
		goto out;
	}
	k = (const unsigned char *)PQgetvalue(r, 0, 2);
	P->k = ((unsigned int)k[2] << 8) | k[3];
	if (k[0] != 0 || k[1] != 0 || P->k < 1 || P->k > 255) {
		PERR(P, "tenant %s: threshold out of range", P->tid);
		goto out;
	}
	memcpy(P->tenant_pk, PQgetvalue(r, 0, 3), VAULT_POINT_BYTES);
	PQclear(r);
	r = NULL;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

static int
pr_epoch_cmp(const void *a, const void *b)
{
	return memcmp(((const pr_epoch *)a)->id, ((const pr_epoch *)b)->id,
	    VAULT_ID_BYTES);
}

/* bsearch comparators: the key is the bare 16-byte id. */
static int
pr_epoch_key_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const pr_epoch *)elem)->id, VAULT_ID_BYTES);
}

static pr_epoch *
pr_epoch_find(prod *P, const unsigned char id[VAULT_ID_BYTES])
{
	if (P->nepochs == 0)
		return NULL;
	return bsearch(id, P->epochs, P->nepochs, sizeof(pr_epoch),
	    pr_epoch_key_cmp);
}

/* The slot of generation gen (K k) in P->gens for epoch e, added on first
 * use; a generation's T must be the epoch's.  0 or -1. */
static int
pr_gen_of(prod *P, pr_epoch *e, unsigned int gen, unsigned int k)
{
	pr_gen *ng;
	size_t i;

	if (gen < 1 || k < 1 || k > 255) {
		PERR(P, "tenant %s: key generation out of range", P->tid);
		return -1;
	}
	for (i = 0; i < P->ngens; i++)
		if (P->gens[i].generation == gen) {
			if (memcmp(P->gens[i].pk, e->pk, VAULT_POINT_BYTES) != 0) {
				PERR(P, "tenant %s: key generation %u is not of the epoch's "
				    "key", P->tid, gen);
				return -1;
			}
			e->g = (unsigned int)i;
			return 0;
		}
	if ((ng = realloc(P->gens, (P->ngens + 1) * sizeof(*ng))) == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	P->gens = ng;
	memset(&ng[P->ngens], 0, sizeof(*ng));
	ng[P->ngens].generation = gen;
	ng[P->ngens].k = k;
	memcpy(ng[P->ngens].pk, e->pk, VAULT_POINT_BYTES);
	e->g = (unsigned int)P->ngens++;
	if (gen > P->generation)
		P->generation = gen, P->k = k;
	return 0;
}

/* Custodian public shares of each generation used: every partial is
 * verified against them, and they name a custodian whose partial fails.
 * The generation's T must be the one its epochs were wrapped to. */
static int
pr_gens_shares(prod *P)
{
	PGresult *r = NULL;
	size_t gi;
	int i, n;

	for (gi = 0; gi < P->ngens; gi++) {
		pr_gen *G = &P->gens[gi];
		pg_params p = PG_PARAMS_INIT;
		char gs[16];

		snprintf(gs, sizeof(gs), "%u", G->generation);
		pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
		pg_param_text(&p, gs);
		p.result_binary = 1;
		r = pg_query(P->db, "SELECT s, gk.public_key FROM "
		    GEN_ROW_SQL("$2::int") " gk, pg_catalog.unnest(gk.public_shares) "
		    "WITH ORDINALITY AS u(s, o) ORDER BY o", &p, P->err, P->err_len);
		if (r == NULL)
			return -1;
		n = PQntuples(r);
		if (n < 1 || n > 255 || (G->public_shares = calloc((size_t)n,
		    VAULT_POINT_BYTES)) == NULL) {
			PERR(P, "tenant %s: public shares of generation %u missing",
			    P->tid, G->generation);
			goto bad;
		}
		for (i = 0; i < n; i++) {
			if (PQgetlength(r, i, 0) != VAULT_POINT_BYTES ||
			    PQgetlength(r, i, 1) != VAULT_POINT_BYTES ||
			    memcmp(PQgetvalue(r, i, 1), G->pk, VAULT_POINT_BYTES) != 0) {
				PERR(P, "tenant %s: malformed public share of generation %u",
				    P->tid, G->generation);
				goto bad;
			}
			memcpy(G->public_shares + (size_t)i * VAULT_POINT_BYTES,
			    PQgetvalue(r, i, 0), VAULT_POINT_BYTES);
		}
		G->nshares = (unsigned int)n;
		PQclear(r);
		r = NULL;
	}
	return 0;
bad:
	PQclear(r);
	return -1;
}

/* Epochs holding in-scope records (P->lit_sepochs, from the build's one
 * pass over the scope), with R and the wrapped key. */
int
pr_load_epochs(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int i, n, rc = -1;

	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, P->matter_id, VAULT_ID_BYTES);
	pg_param_text(&p, P->blind_text);
	pg_param_text(&p, P->lit_sepochs != NULL ? P->lit_sepochs : "{}");
	p.result_binary = 1;
	/* Issue 16: each epoch's key and the share generation whose approvals
	 * open it: the key's current generation when it has its K, else the
	 * newest older (re-shared) one of that key that has its own K (a
	 * matter approved before a re-share finalised), else the current one
	 * (pr_load_approvals says how many are missing).  Partials of
	 * different generations lie on different polynomials and never
	 * combine. */
	r = pg_query(P->db,
	    "SELECT e.epoch_id, e.r_point, e.wrapped_key, ek.pk, pg.gen::text, "
	    GEN_THRESHOLD_SQL("pg.gen") "::text FROM coffer.epochs e "
	    "CROSS JOIN LATERAL (SELECT " EPOCH_KEY_SQL("e") " AS pk) ek "
	    "CROSS JOIN LATERAL (SELECT coalesce((SELECT "
	    " pg_catalog.max(g.generation) FROM coffer.tenant_key_generations g "
	    " WHERE g.tenant_id = $1::uuid AND g.public_key = ek.pk AND "
	    " (SELECT pg_catalog.count(*) FROM coffer.approvals a WHERE "
	    "  a.tenant_id = $1::uuid AND a.matter_id = $2::uuid AND "
	    "  a.blind_id = $3::uuid AND a.generation = g.generation) >= "
	    " g.threshold_k), " KEY_CURRENT_GEN_SQL("ek.pk") ") AS gen) pg "
	    "WHERE e.tenant_id = $1::uuid AND e.epoch_id = ANY ($4::uuid[]) "
	    "ORDER BY e.epoch_id", &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0 && (P->epochs = calloc((size_t)n, sizeof(pr_epoch))) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		pr_epoch *e = &P->epochs[i];

		if (PQgetlength(r, i, 0) != VAULT_ID_BYTES ||
		    PQgetlength(r, i, 1) != VAULT_POINT_BYTES) {
			PERR(P, "tenant %s: malformed epoch row", P->tid);
			goto out;
		}
		memcpy(e->id, PQgetvalue(r, i, 0), VAULT_ID_BYTES);
		memcpy(e->R, PQgetvalue(r, i, 1), VAULT_POINT_BYTES);
		if (PQgetisnull(r, i, 2)) {
			char eid[PR_UUID_LIT];

			util_uuid_format(eid, e->id);
			PERR(P, "epoch %s holds in-scope records but its key was "
			    "shredded", eid);
			goto out;
		}
		if (PQgetlength(r, i, 2) != VAULT_WRAPPED_EK_BYTES) {
			PERR(P, "tenant %s: malformed wrapped epoch key", P->tid);
			goto out;
		}
		memcpy(e->wrapped, PQgetvalue(r, i, 2), VAULT_WRAPPED_EK_BYTES);
		if (PQgetlength(r, i, 3) != VAULT_POINT_BYTES ||
		    PQgetisnull(r, i, 4) || PQgetisnull(r, i, 5)) {
			char eid[PR_UUID_LIT];

			util_uuid_format(eid, e->id);
			PERR(P, "epoch %s: no share generation holds the key it was "
			    "wrapped to", eid);
			goto out;
		}
		memcpy(e->pk, PQgetvalue(r, i, 3), VAULT_POINT_BYTES);
		if (pr_gen_of(P, e, (unsigned int)strtoul(PQgetvalue(r, i, 4),
		    NULL, 10), (unsigned int)strtoul(PQgetvalue(r, i, 5), NULL,
		    10)) != 0)
			goto out;
		if ((e->partials = calloc(P->gens[e->g].k,
		    sizeof(vault_partial))) == NULL) {
			PERR(P, "out of memory");
			goto out;
		}
	}
	P->nepochs = (size_t)n;
	if (pr_gens_shares(P) != 0)
		goto out;
	if (n > 0)        /* bsearch order, whatever the server's uuid order */
		qsort(P->epochs, P->nepochs, sizeof(pr_epoch), pr_epoch_cmp);
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* One decoded partial (api_partials_stored_decode) into its epoch. */
static void
pr_partial_add(prod *P, const api_partial *ap, size_t gi)
{
	pr_epoch *e;
	unsigned int k;

	if ((e = pr_epoch_find(P, ap->epoch_id)) == NULL)
		return;                   /* an epoch with nothing in scope now */
	if (e->g != gi)
		return;                   /* another generation's epoch */
	if (e->npartials == P->gens[gi].k)
		return;                   /* K already: more add nothing */
	for (k = 0; k < e->npartials; k++)
		if (e->partials[k].index == ap->part.index)
			return;               /* a second partial of one custodian */
	e->partials[e->npartials++] = ap->part;
}

/* One approval's custodian, name and time into P->approvers (the cover
 * sheet; columns 2..4 of pr_load_approvals' query). */
static int
pr_approver(prod *P, unsigned int index, const PGresult *r, int row)
{
	char t[PR_TIME_MAX];
	json_t *o;

	if (P->approvers == NULL && (P->approvers = json_array()) == NULL)
		goto bad;
	pr_time(t, strtoll(PQgetvalue(r, row, 4), NULL, 10));
	o = json_pack("{s:I,s:s,s:s,s:s}", "custodian_index", (json_int_t)index,
	    "user_id", PQgetvalue(r, row, 2), "name", PQgetvalue(r, row, 3),
	    "approved_at", t);
	if (o == NULL || json_array_append_new(P->approvers, o) != 0)
		goto bad;
	return 0;
bad:
	PERR(P, "matter %s: approval of custodian %u: malformed row (or out of "
	    "memory)", P->mid, index);
	return -1;
}

int
pr_load_approvals(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	json_error_t je;
	json_t *doc = NULL;
	api_partial *parts = NULL;
	char msg[256], gl[256];
	unsigned int index, gen;
	int i, n, rc = -1;
	size_t j, gi, nparts = 0, used = 0;

	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, P->matter_id, VAULT_ID_BYTES);
	pg_param_text(&p, P->blind_text);
	{
		size_t off = 0, g2;

		gl[off++] = '{';
		for (g2 = 0; g2 < P->ngens && off + 12 < sizeof(gl); g2++)
			off += (size_t)snprintf(gl + off, sizeof(gl) - off, "%s%u",
			    g2 ? "," : "", P->gens[g2].generation);
		gl[off++] = '}';
		gl[off] = '\0';
	}
	pg_param_text(&p, gl);
	/* with who approved and when: the cover sheet's approvers; only the
	 * generations pr_load_epochs chose (a matter without epochs: the
	 * current one, as before generations) */
	r = pg_query(P->db, "SELECT a.custodian_index, a.partials::text, "
	    "a.user_id::text, u.name, "
	    "(pg_catalog.date_part('epoch', a.approved_at) * 1000000)::int8, "
	    "a.generation "
	    "FROM coffer.approvals a JOIN coffer.users u ON "
	    "u.tenant_id = a.tenant_id AND u.user_id = a.user_id "
	    "WHERE a.tenant_id = $1::uuid AND a.matter_id = $2::uuid AND "
	    "a.blind_id = $3::uuid AND (a.generation = ANY ($4::int[]) OR "
	    " (pg_catalog.cardinality($4::int[]) = 0 AND a.generation = "
	    "  (SELECT k.generation FROM coffer.tenant_keys k "
	    "   WHERE k.tenant_id = $1::uuid))) "
	    "ORDER BY a.generation, a.custodian_index", &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (P->ngens == 0 && (unsigned int)n < P->k) {
		PERR(P, "matter %s has %d of the %u approvals it needs", P->mid, n,
		    P->k);
		goto out;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < P->ngens; j++)
			if (P->gens[j].generation ==
			    (unsigned int)strtoul(PQgetvalue(r, i, 5), NULL, 10))
				P->gens[j].approvals++;
	for (j = 0; j < P->ngens; j++)
		if (P->gens[j].approvals < P->gens[j].k) {
			if (P->ngens == 1)
				PERR(P, "matter %s has %u of the %u approvals it needs",
				    P->mid, P->gens[j].approvals, P->gens[j].k);
			else
				PERR(P, "matter %s has %u of the %u approvals generation "
				    "%u needs", P->mid, P->gens[j].approvals, P->gens[j].k,
				    P->gens[j].generation);
			goto out;
		}
	if (n < 0 || (P->custodians = calloc((size_t)n + 1U,
	    sizeof(unsigned int))) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	/* Per epoch, the partials of the first K approvals (by index) that
	 * answered it: any K open the same key. */
	for (i = 0; i < n; i++) {
		index = (unsigned int)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		if (index < 1 || index > 255) {
			PERR(P, "matter %s: approval with custodian index out of range",
			    P->mid);
			goto out;
		}
		doc = json_loadb(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1),
		    JSON_REJECT_DUPLICATES, &je);
		if (doc == NULL) {
			PERR(P, "matter %s: approval of custodian %u is not JSON",
			    P->mid, index);
			goto out;
		}
		if (api_partials_stored_decode(doc, index, &parts, &nparts, msg,
		    sizeof(msg)) != 0) {
			PERR(P, "matter %s: approval of custodian %u: malformed "
			    "partials (%s)", P->mid, index, msg);
			goto out;
		}
		gen = (unsigned int)strtoul(PQgetvalue(r, i, 5), NULL, 10);
		for (gi = 0; gi < P->ngens && P->gens[gi].generation != gen; gi++)
			;
		for (j = 0; j < nparts && gi < P->ngens; j++)
			pr_partial_add(P, &parts[j], gi);
		free(parts);
		parts = NULL;
		json_decref(doc);
		doc = NULL;
		P->custodians[used++] = index;
		if (pr_approver(P, index, r, i) != 0)
			goto out;
	}
	P->ncustodians = (unsigned int)used;
	rc = 0;
out:
	json_decref(doc);
	PQclear(r);
	return rc;
}

static void
pr_custodian_blame(prod *P, const pr_epoch *e, const char *eid)
{
	char e2[256];
	unsigned int i;

	const pr_gen *G = &P->gens[e->g];

	for (i = 0; i < G->k; i++) {
		const vault_partial *vp = &e->partials[i];

		if (vp->index < 1 || vp->index > G->nshares)
			continue;
		if (vault_threshold_verify(vp, G->public_shares +
		    (size_t)(vp->index - 1) * VAULT_POINT_BYTES, &e->ctx, e->Rb, e2,
		    sizeof(e2)) != 0) {
			PERR(P, "epoch %s: %s", eid, e2);
			return;
		}
	}
	PERR(P, "epoch %s: the combined partials do not open the epoch key", eid);
}

/* Verify every partial's proof (bound to this tenant, matter, epoch and
 * custodian), combine K of them per approved epoch into S (guarded), and
 * prove each S by unwrapping the key once, before anything is written. */
int
pr_combine(prod *P)
{
	char e2[256], eid[PR_UUID_LIT];
	vault_epoch *ep = NULL;
	size_t i, s = 0, off = 0;
	unsigned int k;

	for (i = 0; i < P->nepochs; i++)
		if (P->epochs[i].npartials == P->gens[P->epochs[i].g].k)
			P->epochs[i].approved = 1, P->napproved++;
	if (P->napproved > 0 &&
	    (P->S = vault_secure_alloc(P->napproved * VAULT_POINT_BYTES)) == NULL) {
		PERR(P, "cannot allocate secure memory for %zu epochs", P->napproved);
		return -1;
	}
	if ((P->lit_epochs = malloc(P->napproved * (UTIL_UUID_STRLEN + 1) + 3)) ==
	    NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	P->lit_epochs[off++] = '{';
	for (i = 0; i < P->nepochs; i++) {
		pr_epoch *e = &P->epochs[i];
		unsigned char *S;

		if (!e->approved)
			continue;
		util_uuid_format(eid, e->id);
		/* R' recomputed from the seed, never taken from the stored
		 * approval (the API's role can write those). */
		vault_release_ctx_init(&e->ctx, P->tenant_id, P->matter_id, e->id,
		    P->requester_pk);
		{
			unsigned char bp[VAULT_PROOF_BYTES];

			if (vault_blind_point(P->seed, &e->ctx, e->R, e->Rb, bp, e2,
			    sizeof(e2)) != 0) {
				PERR(P, "epoch %s: %s", eid, e2);
				return -1;
			}
		}
		/* Every proof again, bound to this matter: the approvals table is
		 * writable by the API's role, and a partial copied from another
		 * matter would combine just as well. */
		const pr_gen *G = &P->gens[e->g];

		for (k = 0; k < G->k; k++) {
			const vault_partial *vp = &e->partials[k];

			if (vp->index < 1 || vp->index > G->nshares) {
				PERR(P, "epoch %s: custodian %u has no public share", eid,
				    vp->index);
				return -1;
			}
			if (vault_threshold_verify(vp, G->public_shares +
			    (size_t)(vp->index - 1) * VAULT_POINT_BYTES, &e->ctx, e->Rb,
			    e2, sizeof(e2)) != 0) {
				PERR(P, "matter %s, epoch %s: %s", P->mid, eid, e2);
				return -1;
			}
		}
		S = P->S + s * VAULT_POINT_BYTES;
		/* S' = ρ·t·R from the blinded partials, then S = ρ⁻¹·S'. */
		if (vault_threshold_combine(e->partials, G->k, P->Sb, e2,
		    sizeof(e2)) != 0 ||
		    vault_blind_unblind(P->seed, &e->ctx, P->Sb, S, e2,
		    sizeof(e2)) != 0) {
			vault_wipe(P->Sb, VAULT_POINT_BYTES);
			PERR(P, "epoch %s: %s", eid, e2);
			return -1;
		}
		vault_wipe(P->Sb, VAULT_POINT_BYTES);
		if (vault_epoch_unwrap(&ep, S, e->R, e->pk, P->tenant_id,
		    e->id, e->wrapped, e2, sizeof(e2)) != 0) {
			pr_custodian_blame(P, e, eid);
			return -1;
		}
		vault_epoch_free(&ep);
		e->s_index = s;
		if (s > 0)
			P->lit_epochs[off++] = ',';
		memcpy(P->lit_epochs + off, eid, UTIL_UUID_STRLEN);
		off += UTIL_UUID_STRLEN;
		s++;
	}
	P->lit_epochs[off++] = '}';
	P->lit_epochs[off] = '\0';
	P->res.epochs = s;
	return 0;
}

const vault_epoch *
pr_epoch_open(prod *P, const unsigned char id[VAULT_ID_BYTES])
{
	char e2[256], eid[PR_UUID_LIT];
	pr_epoch *e = pr_epoch_find(P, id);
	size_t i, victim = 0, idx;

	if (e == NULL || !e->approved) {
		util_uuid_format(eid, id);
		PERR(P, "record of epoch %s without approval reached the build", eid);
		return NULL;
	}
	idx = (size_t)(e - P->epochs);
	P->tick++;
	for (i = 0; i < PR_EPOCH_CACHE; i++) {
		if (P->cache[i].e != NULL && P->cache[i].epoch == idx) {
			P->cache[i].used = P->tick;
			return P->cache[i].e;
		}
		if (P->cache[victim].e != NULL &&
		    (P->cache[i].e == NULL || P->cache[i].used < P->cache[victim].used))
			victim = i;
	}
	vault_epoch_free(&P->cache[victim].e);
	if (vault_epoch_unwrap(&P->cache[victim].e,
	    P->S + e->s_index * VAULT_POINT_BYTES, e->R, e->pk,
	    P->tenant_id, e->id, e->wrapped, e2, sizeof(e2)) != 0) {
		util_uuid_format(eid, id);
		PERR(P, "epoch %s: %s", eid, e2);
		return NULL;
	}
	P->cache[victim].epoch = idx;
	P->cache[victim].used = P->tick;
	return P->cache[victim].e;
}

/* -- cover sheet -------------------------------------------------------------- */

int
pr_load_cover(prod *P)
{
	if (P->matter == NULL || P->approvers == NULL ||
	    json_object_set(P->matter, "approvals", P->approvers) != 0) {
		PERR(P, "matter %s: no approvers for the cover sheet", P->mid);
		return -1;
	}
	return 0;
}
