/* api/matters.c — matters: create, list, show, close, and the download of
 * a finished production.
 *
 * Trusts: the request's authenticated identity (api/server.c) and the
 * database.  Does not trust the body: every member is type-, length- and
 * charset-checked, unknown members are refused (a misspelt "participant"
 * must not silently widen a matter to the whole tenant), and participant
 * and conversation values become blind-index tokens at once; the buffers
 * that held them are wiped.
 *
 * Hazards: every query is bounded by the caller's tenant id, so another
 * tenant's matter is simply not found (404).  The production file path
 * comes from the database; it is opened only if it lies inside
 * productions_dir, without following symlinks, and must have the size the
 * builder recorded.
 */
#include "api/matters.h"
#include "api/pins.h"
#include "api/blind.h"
#include "api/keeperlink.h"
#include "vault/mem.h"
#include "vault/threshold.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/dual.h"
#include "api/handlers.h"
#include "api/production.h"
#include "api/server.h"
#include "common/channels.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/retention.h"
#include "common/util.h"
#include "vault/mem.h"

#define MAT_ERR 512U

/* -- scope helpers ------------------------------------------------------- */

static int
mat_token_cmp(const void *a, const void *b)
{
	return memcmp(a, b, VAULT_TOKEN_BYTES);
}

/* The tenant's default country calling code (migration 0011) into cc,
 * "" when none is set.  0, or -1 with the request failed. */
static int
mat_default_cc(api_req *r, char *cc, size_t cap)
{
	pg_params p = PG_PARAMS_INIT;
	char err[MAT_ERR];
	PGresult *q;

	cc[0] = '\0';
	pg_param_text(&p, r->who.tenant_id_str);
	q = pg_query(r->db, "SELECT coalesce(default_country_code, '') FROM "
	    "coffer.tenants WHERE tenant_id = $1::uuid", &p, err, sizeof(err));
	if (q == NULL) {
		api_fail_db(r, "tenant", err);
		return -1;
	}
	if (PQntuples(q) == 1 && (size_t)PQgetlength(q, 0, 0) < cap)
		memcpy(cc, PQgetvalue(q, 0, 0), (size_t)PQgetlength(q, 0, 0) + 1);
	PQclear(q);
	return 0;
}

int
api_scope_tokens(api_req *r, const json_t *array, int conversation,
    const char *field, unsigned char **out, size_t *n)
{
	unsigned char *tok = NULL;
	const char **vals = NULL;
	size_t *lens = NULL;
	char err[MAT_ERR], cc[8], *norm = NULL;
	size_t i, k, count, bad;
	int rc;

	*out = NULL;
	*n = 0;
	if (array == NULL || json_is_null(array))
		return 0;
	if (!json_is_array(array)) {
		api_fail(r, 400, "bad_request", "invalid", "%s must be an array of "
		    "strings", field);
		return -1;
	}
	count = json_array_size(array);
	if (count == 0)
		return 0;
	if (count > MATTER_LIST_MAX) {
		api_fail(r, 400, "bad_request", "invalid", "%s: at most %u values",
		    field, MATTER_LIST_MAX);
		return -1;
	}
	/* One spare slot: callers free (n + 1) tokens, as for other arrays. */
	if ((tok = calloc(count + 1, VAULT_TOKEN_BYTES)) == NULL ||
	    (vals = calloc(count, sizeof(*vals))) == NULL ||
	    (lens = calloc(count, sizeof(*lens))) == NULL) {
		api_fail_internal(r, "tokens", "out of memory");
		goto fail;
	}
	for (i = 0; i < count; i++) {
		const json_t *v = json_array_get(array, i);

		if (!json_is_string(v)) {
			api_fail(r, 400, "bad_request", "invalid", "%s #%zu must be a "
			    "string", field, i + 1);
			goto fail;
		}
		vals[i] = json_string_value(v);
		lens[i] = json_string_length(v);
	}
	/* Participants as people type them: the ingest form first (issue
	 * 15.2), so "(555) 010-0011" finds what "+1 555 010 0011" finds or is
	 * refused, never silently matches nothing. */
	if (!conversation) {
		if ((norm = calloc(count, VAULT_PARTICIPANT_MAX)) == NULL) {
			api_fail_internal(r, "tokens", "out of memory");
			goto fail;
		}
		if (mat_default_cc(r, cc, sizeof(cc)) != 0)
			goto fail;
		for (i = 0; i < count; i++) {
			if (vault_participant_scope_normalize(vals[i], lens[i],
			    cc[0] != '\0' ? cc : NULL, norm + i * VAULT_PARTICIPANT_MAX,
			    VAULT_PARTICIPANT_MAX, &lens[i], err, sizeof(err)) != 0) {
				/* vault's messages never repeat the value. */
				api_fail(r, 400, "bad_request", "invalid", "%s #%zu: %s; "
				    "%s", field, i + 1, err, VAULT_SCOPE_FORMS);
				goto fail;
			}
			vals[i] = norm + i * VAULT_PARTICIPANT_MAX;
		}
	}
	/* The blind-index key is in the keeper (api/keeper.h). */
	rc = kl_tokens(api_req_keeper(r), r->who.tenant, conversation, vals,
	    lens, count, tok, &bad, err, sizeof(err));
	if (rc == 1) {
		/* vault's messages never repeat the value. */
		api_fail(r, 400, "bad_request", "invalid", "%s #%zu: %s", field,
		    bad + 1, err);
		goto fail;
	}
	if (rc == KEEPER_KEY_UNAVAILABLE) {
		/* the operator's to fix: the message says what (no path) */
		api_fail(r, 503, "tenant_key_unavailable", "failed", "%s", err);
		goto fail;
	}
	if (rc != 0) {
		api_fail_internal(r, "blind-index key", err);
		goto fail;
	}
	free(vals);
	free(lens);
	if (norm != NULL) {
		vault_wipe(norm, count * VAULT_PARTICIPANT_MAX);
		free(norm);
	}
	qsort(tok, count, VAULT_TOKEN_BYTES, mat_token_cmp);
	for (i = 1, k = 1; i < count; i++)
		if (memcmp(tok + i * VAULT_TOKEN_BYTES,
		    tok + (k - 1) * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES) != 0) {
			if (k != i)
				memcpy(tok + k * VAULT_TOKEN_BYTES,
				    tok + i * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES);
			k++;
		}
	*out = tok;
	*n = k;
	return 0;
fail:
	free(vals);
	free(lens);
	if (norm != NULL) {
		vault_wipe(norm, count * VAULT_PARTICIPANT_MAX);
		free(norm);
	}
	if (tok != NULL)
		vault_wipe(tok, (count + 1) * VAULT_TOKEN_BYTES);
	free(tok);
	return -1;
}

int
api_matter_seed(api_req *r, const char *matter, const char *blind_text,
    int create, unsigned char blind_id[16], int *have, int *renewed)
{
	char err[MAT_ERR], bt[UTIL_UUID_STRLEN + 1];
	unsigned char mid[UTIL_UUID_BYTES];
	keeper_link *kl = api_req_keeper(r);
	int rc;

	*have = 0;
	*renewed = 0;
	if (util_uuid_parse(mid, matter) != 0) {
		api_fail_internal(r, "blinding seed", "malformed matter id");
		return -1;
	}
	if (blind_text != NULL && blind_text[0] != '\0' &&
	    util_uuid_parse(blind_id, blind_text) == 0) {
		rc = kl_seed_has(kl, mid, blind_id, err, sizeof(err));
		if (rc == 0) {
			*have = 1;
			return 0;
		}
		if (rc < 0) {
			api_fail_internal(r, "blinding seed", err);
			return -1;
		}
	}
	if (!create)
		return 0;
	/* Renewals serialise on the matter row: whoever waited finds the
	 * generation the first one made, and a matter that left 'open'
	 * meanwhile gets no seed. */
	{
		pg_params p = PG_PARAMS_INIT;
		PGresult *q;
		int open_now, same;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, matter);
		q = pg_query(r->db, "SELECT state = 'open', "
		    "coalesce(blind_id::text, '') FROM coffer.matters "
		    "WHERE tenant_id = $1::uuid AND matter_id = $2::uuid FOR UPDATE",
		    &p, err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "matter blinding", err);
			return -1;
		}
		open_now = PQntuples(q) == 1 && strcmp(PQgetvalue(q, 0, 0), "t") == 0;
		same = PQntuples(q) == 1 && strcmp(PQgetvalue(q, 0, 1),
		    blind_text != NULL ? blind_text : "") == 0;
		if (open_now && !same && util_uuid_parse(blind_id,
		    PQgetvalue(q, 0, 1)) == 0 &&
		    (rc = kl_seed_has(kl, mid, blind_id, err, sizeof(err))) <= 0) {
			PQclear(q);
			if (rc < 0) {
				api_fail_internal(r, "blinding seed", err);
				return -1;
			}
			*have = 1;
			return 0;                  /* renewed by someone else */
		}
		PQclear(q);
		if (!open_now)
			return 0;
	}
	if (kl_seed_new(kl, mid, blind_id, err, sizeof(err)) != 0) {
		api_fail_internal(r, "blinding seed", err);
		return -1;
	}
	util_uuid_format(bt, blind_id);
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, matter);
		pg_param_text(&p, bt);
		if (pg_exec(r->db, "UPDATE coffer.matters SET blind_id = $3::uuid "
		    "WHERE tenant_id = $1::uuid AND matter_id = $2::uuid "
		    "AND state = 'open'", &p, err, sizeof(err)) != 0) {
			api_fail_db(r, "matter blinding", err);
			return -1;
		}
	}
	if (blind_text != NULL && blind_text[0] != '\0')
		log_warn("matter %s: its blinding seed is gone from this API host; "
		    "new generation %s (approvals given before no longer count)",
		    matter, bt);
	*have = 1;
	*renewed = 1;
	return 0;
}

int
api_scope_channels(api_req *r, const json_t *array, const char ***out,
    size_t *n)
{
	const char **ch;
	size_t i, j, count;

	*out = NULL;
	*n = 0;
	if (array == NULL || json_is_null(array))
		return 0;
	if (!json_is_array(array)) {
		api_fail(r, 400, "bad_request", "invalid", "channels must be an "
		    "array of channel names");
		return -1;
	}
	if ((count = json_array_size(array)) == 0)
		return 0;
	if (count > 32) {
		api_fail(r, 400, "bad_request", "invalid", "too many channels");
		return -1;
	}
	if ((ch = calloc(count, sizeof(*ch))) == NULL) {
		api_fail_internal(r, "channels", "out of memory");
		return -1;
	}
	for (i = 0; i < count; i++) {
		const json_t *v = json_array_get(array, i);

		if (!json_is_string(v) ||
		    !channels_ok(json_string_value(v))) {
			free(ch);
			api_fail(r, 400, "bad_request", "invalid", "channels #%zu is "
			    "not a known channel", i + 1);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(ch[j], json_string_value(v)) == 0) {
				free(ch);
				api_fail(r, 400, "bad_request", "invalid", "channels #%zu "
				    "is listed twice", i + 1);
				return -1;
			}
		ch[i] = json_string_value(v);
	}
	*out = ch;
	*n = count;
	return 0;
}

int
api_scope_time(api_req *r, const json_t *obj, const char *key,
    const char **out)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !util_rfc3339_ok(json_string_value(v))) {
		api_fail(r, 400, "bad_request", "invalid", "%s must be an RFC 3339 "
		    "date-time with an offset, e.g. 2026-01-31T00:00:00Z", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* 1..max characters of UTF-8 (jansson guarantees valid UTF-8); no control
 * characters except, when multiline, newline and tab. */
static int
mat_text_ok(const json_t *v, size_t max, int multiline)
{
	const unsigned char *s;
	size_t chars = 0, i, len;

	if (!json_is_string(v))
		return 0;
	s = (const unsigned char *)json_string_value(v);
	len = json_string_length(v);
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f) {
			if (!multiline || (s[i] != '\n' && s[i] != '\t' &&
			    s[i] != '\r'))
				return 0;
		}
		if ((s[i] & 0xc0) != 0x80)
			chars++;
	}
	return chars >= 1 && chars <= max;
}

/* Tokens as a JSON array of hex strings. */
static json_t *
mat_hex_array(const unsigned char *tok, size_t n)
{
	char hex[VAULT_TOKEN_BYTES * 2 + 1];
	json_t *a = json_array();
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		util_hex(hex, tok + i * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES);
		if (json_array_append_new(a, json_string(hex)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
mat_str_array(const char *const *s, size_t n)
{
	json_t *a = json_array();
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(s[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static void
mat_free_tokens(unsigned char **t, size_t n)
{
	if (*t != NULL) {
		vault_wipe(*t, (n + 1) * VAULT_TOKEN_BYTES);
		free(*t);
		*t = NULL;
	}
}

/* The participant strings of a checked scope array as a compact JSON
 * array, for the keeper to seal (api/blind.h), or NULL when out of
 * memory (jansson's allocator here wipes on free: api/production.c). */
static char *
mat_entered(const json_t *array)
{
	return json_dumps(array, JSON_COMPACT);
}

/* -- POST /v1/matters ------------------------------------------------------- */

void
api_h_matter_create(api_req *r)
{
	static const char *const top[] = { "title", "legal_basis", "scope",
	    "kind", NULL };
	static const char *const sc[] = { "participants", "conversations",
	                                  "channels", "from", "to", NULL };
	unsigned char mid[UTIL_UUID_BYTES], *ptok = NULL, *ctok = NULL;
	unsigned char blind_id[16], *sealed = NULL;
	char midstr[UTIL_UUID_STRLEN + 1], err[MAT_ERR], recipient_hex[65];
	char blindstr[UTIL_UUID_STRLEN + 1];
	char *parr = NULL, *carr = NULL, *charr = NULL, *scope_text = NULL;
	char *entered = NULL;
	const char **chans = NULL, *from = NULL, *to = NULL;
	const char *kind = "ediscovery";
	json_t *body = NULL, *scope, *sj = NULL, *jk;
	size_t np = 0, nc = 0, nch = 0, entered_len = 0, slen = 0;
	long long count = 0, nepochs = 0;
	PGresult *res = NULL;

	if ((body = api_body_object(r)) == NULL)
		return;
	if (api_json_only(r, body, "the matter", top) != 0)
		goto out;
	if (!mat_text_ok(json_object_get(body, "title"), MATTER_TITLE_MAX, 0)) {
		api_fail(r, 400, "bad_request", "invalid", "title must be 1..%u "
		    "characters without control characters", MATTER_TITLE_MAX);
		goto out;
	}
	if (!mat_text_ok(json_object_get(body, "legal_basis"), MATTER_BASIS_MAX,
	    1)) {
		api_fail(r, 400, "bad_request", "invalid", "legal_basis must be "
		    "1..%u characters", MATTER_BASIS_MAX);
		goto out;
	}
	/* What the matter is for (migration 0017): a regulator request is
	 * approved under the tenant's designated-third-party rule. */
	jk = json_object_get(body, "kind");
	if (jk != NULL && (!json_is_string(jk) ||
	    (strcmp(json_string_value(jk), "ediscovery") != 0 &&
	    strcmp(json_string_value(jk), "regulator_request") != 0))) {
		api_fail(r, 400, "bad_request", "invalid", "kind must be "
		    "\"ediscovery\" or \"regulator_request\"");
		goto out;
	}
	if (jk != NULL)
		kind = json_string_value(jk);
	scope = json_object_get(body, "scope");
	if (!json_is_object(scope)) {
		api_fail(r, 400, "bad_request", "invalid", "scope must be an object");
		goto out;
	}
	if (api_json_only(r, scope, "scope", sc) != 0 ||
	    api_scope_time(r, scope, "from", &from) != 0 ||
	    api_scope_time(r, scope, "to", &to) != 0 ||
	    api_scope_channels(r, json_object_get(scope, "channels"), &chans,
	    &nch) != 0 ||
	    api_scope_tokens(r, json_object_get(scope, "participants"), 0,
	    "participants", &ptok, &np) != 0 ||
	    api_scope_tokens(r, json_object_get(scope, "conversations"), 1,
	    "conversations", &ctok, &nc) != 0)
		goto out;
	/* As typed, for the custodians' confirmation while the matter is
	 * open (migration 0011): sealed by the keeper under the matter's
	 * seed below, never stored, logged or audited in the clear. */
	if (np > 0) {
		if ((entered = mat_entered(json_object_get(scope,
		    "participants"))) == NULL) {
			api_fail_internal(r, "matter", "out of memory");
			goto out;
		}
		entered_len = strlen(entered);
		if (entered_len > API_ENTERED_MAX) {
			api_fail(r, 400, "bad_request", "invalid", "participants: at "
			    "most %u bytes in all", API_ENTERED_MAX);
			goto out;
		}
	}
	/* The values are tokens now; the parsed body goes (wiped on free). */
	json_object_del(scope, "participants");
	json_object_del(scope, "conversations");
	if (from == NULL || to == NULL) {
		api_fail(r, 400, "bad_request", "invalid", "scope.from and scope.to "
		    "are required");
		goto out;
	}
	if (np + nc == 0) {
		api_fail(r, 400, "bad_request", "invalid", "scope needs at least one "
		    "participant or conversation");
		goto out;
	}
	if ((parr = pg_bytea_array(ptok, VAULT_TOKEN_BYTES, np)) == NULL ||
	    (carr = pg_bytea_array(ctok, VAULT_TOKEN_BYTES, nc)) == NULL ||
	    (charr = pg_text_array(chans, nch)) == NULL) {
		api_fail_internal(r, "matter", "out of memory");
		goto out;
	}
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, from);
		pg_param_text(&p, to);
		res = pg_query(r->db, "SELECT $1::timestamptz <= $2::timestamptz",
		    &p, err, sizeof(err));
		if (res == NULL) {
			if (pg_last_sqlstate()[0] == '2' && pg_last_sqlstate()[1] == '2')
				api_fail(r, 400, "bad_request", "invalid",
				    "scope.from or scope.to is not a valid date-time");
			else
				api_fail_db(r, "matter times", err);
			goto out;
		}
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
			api_fail(r, 400, "bad_request", "invalid", "scope.from must not "
			    "be after scope.to");
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	/* What the matter covers now (the production builder's predicate). */
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, from);
		pg_param_text(&p, to);
		pg_param_text(&p, parr);
		pg_param_text(&p, carr);
		pg_param_text(&p, charr);
		res = pg_query(r->db, "SELECT pg_catalog.count(*), "
		    "pg_catalog.count(DISTINCT r.epoch_id) "
		    "FROM coffer.records r WHERE r.tenant_id = $1::uuid "
		    "AND r.sent_at >= $2::timestamptz AND r.sent_at <= $3::timestamptz "
		    "AND (pg_catalog.cardinality($4::bytea[]) = 0 "
		    "     OR r.participant_tokens OPERATOR(pg_catalog.&&) $4::bytea[]) "
		    "AND (pg_catalog.cardinality($5::bytea[]) = 0 "
		    "     OR r.conversation_token = ANY ($5::bytea[])) "
		    "AND (pg_catalog.cardinality($6::text[]) = 0 "
		    "     OR r.channel = ANY ($6::text[]))", &p, err, sizeof(err));
		if (res == NULL) {
			api_fail_db(r, "matter scope", err);
			goto out;
		}
		count = atoll(PQgetvalue(res, 0, 0));
		nepochs = atoll(PQgetvalue(res, 0, 1));
		PQclear(res);
		res = NULL;
	}
	/* A production is sealed to the requester's X25519 key: without one,
	 * custodians would approve a matter that can never be built. */
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, r->who.user_id);
		res = pg_query(r->db, "SELECT x25519_public_key IS NOT NULL, "
		    "pg_catalog.encode(x25519_public_key, 'hex') "
		    "FROM coffer.users WHERE tenant_id = $1::uuid "
		    "AND user_id = $2::uuid", &p, err, sizeof(err));
		if (res == NULL) {
			api_fail_db(r, "requester", err);
			goto out;
		}
		if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0 ||
		    PQgetlength(res, 0, 1) != 64) {
			api_fail(r, 409, "production_key_missing", NULL, "register a "
			    "production key first (cofferctl user keygen)");
			goto out;
		}
		/* Frozen into the matter: a later key replacement cannot
		 * redirect this matter's production. */
		memcpy(recipient_hex, PQgetvalue(res, 0, 1), 64);
		recipient_hex[64] = '\0';
		PQclear(res);
		res = NULL;
	}
	sj = json_pack("{s:o, s:o, s:o, s:s, s:s}",
	    "participants", mat_hex_array(ptok, np),
	    "conversations", mat_hex_array(ctok, nc),
	    "channels", mat_str_array(chans, nch), "from", from, "to", to);
	if (sj == NULL ||
	    (scope_text = json_dumps(sj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		api_fail_internal(r, "matter scope", "out of memory");
		goto out;
	}
	util_uuid_random(mid);
	util_uuid_format(midstr, mid);
	api_target(r, "matter:%s", midstr);
	if (kl_seed_new(api_req_keeper(r), mid, blind_id, err,
	    sizeof(err)) != 0) {
		api_fail_internal(r, "blinding seed", err);
		goto out;
	}
	util_uuid_format(blindstr, blind_id);
	if (entered != NULL) {
		if (kl_entered_seal(api_req_keeper(r), mid, blind_id,
		    r->who.tenant_id, entered, entered_len, &sealed, &slen, err,
		    sizeof(err)) != 0) {
			kl_seed_destroy(api_req_keeper(r), mid);
			api_fail_internal(r, "participants as entered", err);
			goto out;
		}
		vault_wipe(entered, entered_len);
	}
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		pg_param_text(&p, json_string_value(json_object_get(body, "title")));
		pg_param_text(&p, json_string_value(json_object_get(body,
		    "legal_basis")));
		pg_param_text(&p, r->who.user_id);
		pg_param_text(&p, scope_text);
		pg_param_text(&p, from);
		pg_param_text(&p, to);
		pg_param_text(&p, recipient_hex);
		pg_param_text(&p, blindstr);
		if (sealed != NULL)
			pg_param_bin(&p, sealed, slen);
		else
			pg_param_null(&p);
		pg_param_text(&p, kind);
		if (pg_exec(r->db, "INSERT INTO coffer.matters (tenant_id, matter_id, "
		    "title, legal_basis, requester_user_id, scope, time_from, time_to, "
		    "recipient_key, blind_id, participants_sealed, kind) "
		    "VALUES ($1::uuid, $2::uuid, $3, $4, $5::uuid, $6::jsonb, "
		    "$7::timestamptz, $8::timestamptz, pg_catalog.decode($9, 'hex'), "
		    "$10::uuid, $11::bytea, $12)", &p, err,
		    sizeof(err)) != 0) {
			kl_seed_destroy(api_req_keeper(r), mid);
			api_fail_db(r, "matter insert", err);
			goto out;
		}
	}
	api_detail(r, "kind", json_string(kind));
	api_detail(r, "title", json_string(json_string_value(json_object_get(
	    body, "title"))));
	api_detail(r, "legal_basis", json_string(json_string_value(
	    json_object_get(body, "legal_basis"))));
	api_detail(r, "participants", json_integer((json_int_t)np));
	api_detail(r, "conversations", json_integer((json_int_t)nc));
	api_detail(r, "channels", mat_str_array(chans, nch));
	api_detail(r, "from", json_string(from));
	api_detail(r, "to", json_string(to));
	api_detail(r, "record_count", json_integer(count));
	api_detail(r, "epochs", json_integer(nepochs));
	api_detail(r, "recipient_key", json_string(recipient_hex));
	{
		json_t *reply = json_pack("{s:s, s:s, s:s, s:I, s:I}", "matter_id",
		    midstr, "kind", kind, "state", "open", "record_count",
		    (json_int_t)count, "epochs", (json_int_t)nepochs);

		/* Loud, not an error: a scope may rightly cover nothing yet, but
		 * a mistyped one must not look like a finished search. */
		if (reply != NULL && count == 0)
			json_object_set_new(reply, "warning", json_string(
			    MATTER_EMPTY_WARNING));
		api_reply(r, 201, reply);
	}
out:
	if (entered != NULL) {
		vault_wipe(entered, entered_len);
		free(entered);
	}
	free(sealed);
	PQclear(res);
	mat_free_tokens(&ptok, np);
	mat_free_tokens(&ctok, nc);
	if (parr != NULL) {
		vault_wipe(parr, strlen(parr));
		free(parr);
	}
	if (carr != NULL) {
		vault_wipe(carr, strlen(carr));
		free(carr);
	}
	free(charr);
	free(chans);
	free(scope_text);
	json_decref(sj);
	json_decref(body);
}

/* -- GET /v1/matters ----------------------------------------------------------- */

void
api_h_matter_list(api_req *r)
{
	static const char *const states[] = { "open", "approved", "building",
	                                      "ready", "failed", "closed", NULL };
	pg_params p = PG_PARAMS_INIT;
	const char *state = api_query(r, "state");
	char err[MAT_ERR];
	json_t *list = NULL;
	PGresult *res;
	int i, ok = state == NULL;

	for (i = 0; state != NULL && states[i] != NULL; i++)
		if (strcmp(state, states[i]) == 0)
			ok = 1;
	if (!ok) {
		api_fail(r, 400, "bad_request", "invalid", "state must be one of "
		    "open, approved, building, ready, failed, closed");
		return;
	}
	api_target(r, "matters");
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, state);
	res = pg_query(r->db, "SELECT m.matter_id::text, m.title, m.state, "
	    API_TS("m.created_at") ", u.name, m.kind FROM coffer.matters m "
	    "JOIN coffer.users u ON u.tenant_id = m.tenant_id "
	    " AND u.user_id = m.requester_user_id "
	    "WHERE m.tenant_id = $1::uuid AND ($2::text IS NULL OR m.state = $2) "
	    "ORDER BY m.created_at DESC, m.matter_id LIMIT 1000", &p, err,
	    sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "matter list", err);
		return;
	}
	if ((list = json_array()) == NULL)
		goto oom;
	for (i = 0; i < PQntuples(res); i++)
		if (json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, "
		    "s:s}", "matter_id", PQgetvalue(res, i, 0), "title",
		    PQgetvalue(res, i, 1), "state", PQgetvalue(res, i, 2),
		    "created_at", PQgetvalue(res, i, 3), "requester",
		    PQgetvalue(res, i, 4), "kind", PQgetvalue(res, i, 5))) != 0)
			goto oom;
	api_detail(r, "count", json_integer(PQntuples(res)));
	PQclear(res);
	api_reply(r, 200, json_pack("{s:o}", "matters", list));
	return;
oom:
	PQclear(res);
	json_decref(list);
	api_fail_internal(r, "matter list", "out of memory");
}

/* -- GET /v1/matters/{id} ------------------------------------------------------ */

/* The sealed participants as entered (hex, from the row), opened by the
 * keeper with the matter's seed of generation blind (uuid text), into
 * scope.participants_entered; when the seed is gone or of another
 * generation, scope.participants_entered_unavailable says why instead.
 * 0, or -1 with the request failed. */
static int
mat_entered_show(api_req *r, const unsigned char mid[UTIL_UUID_BYTES],
    const char *blind, const char *hex, size_t hex_len, json_t *scope)
{
	unsigned char bid[UTIL_UUID_BYTES], *sealed = NULL;
	char err[MAT_ERR], *js = NULL;
	size_t slen = hex_len / 2, jlen = 0;
	json_error_t je;
	json_t *pe;
	int st;

	if (hex_len % 2 != 0 || slen <= API_ENTERED_OVERHEAD ||
	    slen > API_ENTERED_MAX + API_ENTERED_OVERHEAD ||
	    (sealed = malloc(slen)) == NULL ||
	    util_unhex(sealed, slen, hex, hex_len) != 0) {
		free(sealed);
		api_fail_internal(r, "matter participants", "malformed row");
		return -1;
	}
	if (util_uuid_parse(bid, blind) != 0)
		st = 1;
	else
		st = kl_entered_open(api_req_keeper(r), mid, bid, r->who.tenant_id,
		    sealed, slen, &js, &jlen, err, sizeof(err));
	free(sealed);
	if (st < 0) {
		api_fail_internal(r, "matter participants", err);
		return -1;
	}
	if (st > 0) {
		json_object_set_new(scope, "participants_entered_unavailable",
		    json_string(st == KEEPER_ENTERED_SHUT ?
		    MATTER_ENTERED_RENEWED : MATTER_ENTERED_GONE));
		return 0;
	}
	pe = json_loadb(js, jlen, 0, &je);
	vault_free_wiped(js, jlen + 4);
	if (!json_is_array(pe)) {
		json_decref(pe);
		api_fail_internal(r, "matter participants", "malformed list");
		return -1;
	}
	json_object_set_new(scope, "participants_entered", pe);
	return 0;
}

void
api_h_matter_show(api_req *r)
{
	unsigned char mid[UTIL_UUID_BYTES];
	char midstr[UTIL_UUID_STRLEN + 1], err[MAT_ERR];
	json_t *out = NULL, *eps = NULL, *aps = NULL, *chans = NULL;
	unsigned char recipient[VAULT_RECIPIENT_BYTES], blind_id[16];
	unsigned char *eid = NULL, *R = NULL, *Rb = NULL, *bp = NULL;
	unsigned long long nrec = 0, nep = 0;
	int seed = 0;
	PGresult *m = NULL, *q = NULL;
	json_error_t je;
	size_t n;
	int i;

	if (api_param_uuid(r, mid, midstr) != 0)
		return;
	api_target(r, "matter:%s", midstr);
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		m = pg_query(r->db, "SELECT m.title, m.legal_basis, m.state, "
		    "m.progress, m.failure_reason, " API_TS("m.created_at") ", "
		    API_TS("m.closed_at") ", " API_TS("m.time_from") ", "
		    API_TS("m.time_to") ", m.requester_user_id::text, u.name, "
		    "t.threshold_k, t.custodians_n, "
		    "pg_catalog.jsonb_array_length(coalesce(m.scope->'participants', '[]')), "
		    "pg_catalog.jsonb_array_length(coalesce(m.scope->'conversations', '[]')), "
		    "coalesce(m.scope->'channels', '[]')::text, "
		    "pg_catalog.encode(m.recipient_key, 'hex'), m.blind_id::text, "
		    "pg_catalog.encode(m.participants_sealed, 'hex'), "
		    /* 19..21: the kind and the third-party rule (migration
		     * 0017); whether a current-generation approval of the
		     * designated third party is in */
		    "m.kind, t.regulator_d3p, EXISTS (SELECT 1 FROM "
		    " coffer.approvals a JOIN coffer.users au ON au.tenant_id = "
		    " a.tenant_id AND au.user_id = a.user_id JOIN coffer.tenant_keys "
		    " tk ON tk.tenant_id = a.tenant_id AND tk.generation = "
		    " a.generation WHERE a.tenant_id = m.tenant_id AND a.matter_id = "
		    " m.matter_id AND a.blind_id = m.blind_id AND au.third_party) "
		    "FROM coffer.matters m "
		    "JOIN coffer.tenants t ON t.tenant_id = m.tenant_id "
		    "JOIN coffer.users u ON u.tenant_id = m.tenant_id "
		    " AND u.user_id = m.requester_user_id "
		    "WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid",
		    &p, err, sizeof(err));
		if (m == NULL) {
			api_fail_db(r, "matter", err);
			goto out;
		}
		if (PQntuples(m) != 1) {
			api_fail(r, 404, "not_found", NULL, "no such matter");
			goto out;
		}
	}
	if ((chans = json_loads(PQgetvalue(m, 0, 15), 0, &je)) == NULL) {
		api_fail_internal(r, "matter channels", "malformed scope");
		goto out;
	}
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:i, s:i, "
	    "s:{s:s, s:s}, s:s, s:o}",
	    "matter_id", midstr, "tenant_id", r->who.tenant_id_str,
	    "title", PQgetvalue(m, 0, 0), "legal_basis", PQgetvalue(m, 0, 1),
	    "state", PQgetvalue(m, 0, 2), "progress", atoi(PQgetvalue(m, 0, 3)),
	    "failure", PQgetisnull(m, 0, 4) ? json_null() :
	    json_string(PQgetvalue(m, 0, 4)),
	    "threshold", atoi(PQgetvalue(m, 0, 11)),
	    "custodians", atoi(PQgetvalue(m, 0, 12)),
	    "requester", "user_id", PQgetvalue(m, 0, 9), "name",
	    PQgetvalue(m, 0, 10),
	    "created_at", PQgetvalue(m, 0, 5),
	    "closed_at", PQgetisnull(m, 0, 6) ? json_null() :
	    json_string(PQgetvalue(m, 0, 6)));
	if (out == NULL ||
	    json_object_set_new(out, "kind", json_string(PQgetvalue(m, 0, 19)))
	    != 0 || json_object_set_new(out, "regulator_d3p",
	    json_string(PQgetvalue(m, 0, 20))) != 0 ||
	    json_object_set_new(out, "d3p_approved",
	    json_boolean(strcmp(PQgetvalue(m, 0, 21), "t") == 0)) != 0 ||
	    json_object_set_new(out, "scope", json_pack("{s:O, s:s?, s:s?, s:s, "
	    "s:i, s:i}", "channels", chans,
	    "from", PQgetisnull(m, 0, 7) ? NULL : PQgetvalue(m, 0, 7),
	    "to", PQgetisnull(m, 0, 8) ? NULL : PQgetvalue(m, 0, 8),
	    /* which clock from/to apply to (migration 0010) */
	    "time_clock", MATTER_TIME_CLOCK,
	    "participants", atoi(PQgetvalue(m, 0, 13)),
	    "conversations", atoi(PQgetvalue(m, 0, 14)))) != 0) {
		api_fail_internal(r, "matter", "out of memory");
		goto out;
	}
	/* The participants as legal typed them, while the matter is open
	 * (the row drops them when it leaves 'open'): to the custodians who
	 * decide on it and to legal users; not to auditors. */
	if (!PQgetisnull(m, 0, 18) && (strcmp(r->who.role, "custodian") == 0 ||
	    strcmp(r->who.role, "legal") == 0) &&
	    mat_entered_show(r, mid, PQgetisnull(m, 0, 17) ? "" :
	    PQgetvalue(m, 0, 17), PQgetvalue(m, 0, 18),
	    (size_t)PQgetlength(m, 0, 18), json_object_get(out, "scope")) != 0)
		goto out;
	/* The count with the builder's own predicate. */
	if (api_production_count(r->db, r->who.tenant_id, mid, &nrec, &nep, err,
	    sizeof(err)) != 0) {
		api_fail_db(r, "matter count", err);
		goto out;
	}
	json_object_set_new(out, "record_count", json_integer((json_int_t)nrec));
	api_detail(r, "record_count", json_integer((json_int_t)nrec));
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		q = pg_query(r->db, MATTER_EPOCHS_SQL(
		    "pg_catalog.encode(e.r_point, 'hex')"), &p, err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "matter epochs", err);
			goto out;
		}
		if ((eps = json_array()) == NULL)
			goto oom;
		/* While the matter is open, each epoch's blinded point R' and
		 * the proof that it is a known multiple of R: custodians answer
		 * R', never R (vault/threshold.h). */
		if (strcmp(PQgetvalue(m, 0, 2), "open") == 0 &&
		    !PQgetisnull(m, 0, 16) &&
		    util_unhex(recipient, sizeof(recipient), PQgetvalue(m, 0, 16),
		    (size_t)PQgetlength(m, 0, 16)) == 0) {
			int renewed;

			/* Only a custodian's fetch may start a new generation:
			 * reading a matter changes nothing for other roles. */
			if (api_matter_seed(r, midstr, PQgetisnull(m, 0, 17) ? NULL :
			    PQgetvalue(m, 0, 17), strcmp(r->who.role,
			    "custodian") == 0, blind_id, &seed, &renewed) != 0)
				goto out;
		}
		n = (size_t)PQntuples(q);
		if (seed && n > 0) {
			int rc;

			/* R' and proofs from the keeper, which holds the seed */
			if ((eid = malloc(n * 16)) == NULL ||
			    (R = malloc(n * VAULT_POINT_BYTES)) == NULL ||
			    (Rb = malloc(n * VAULT_POINT_BYTES)) == NULL ||
			    (bp = malloc(n * VAULT_PROOF_BYTES)) == NULL)
				goto oom;
			for (i = 0; i < (int)n; i++)
				if (util_uuid_parse(eid + i * 16, PQgetvalue(q, i, 0)) != 0 ||
				    util_unhex(R + i * VAULT_POINT_BYTES, VAULT_POINT_BYTES,
				    PQgetvalue(q, i, 1), (size_t)PQgetlength(q, i, 1)) != 0) {
					api_fail_internal(r, "matter epochs", "malformed row");
					goto out;
				}
			rc = kl_blind(api_req_keeper(r), mid, blind_id, r->who.tenant_id,
			    recipient, n, eid, R, Rb, bp, err, sizeof(err));
			if (rc != 0) {
				api_fail_internal(r, "matter epochs", rc > 0 ?
				    "the blinding seed went away" : err);
				goto out;
			}
		}
		for (i = 0; i < PQntuples(q); i++) {
			json_t *e = json_pack("{s:s, s:s}", "epoch_id",
			    PQgetvalue(q, i, 0), "r", PQgetvalue(q, i, 1));

			if (e == NULL || json_array_append_new(eps, e) != 0)
				goto oom;
			if (seed) {
				char rbh[65], bph[129];

				util_hex(rbh, Rb + i * VAULT_POINT_BYTES, VAULT_POINT_BYTES);
				util_hex(bph, bp + i * VAULT_PROOF_BYTES, VAULT_PROOF_BYTES);
				json_object_set_new(e, "rb", json_string(rbh));
				json_object_set_new(e, "bp", json_string(bph));
			}
		}
		if (!PQgetisnull(m, 0, 16))
			json_object_set_new(out, "recipient_key",
			    json_string(PQgetvalue(m, 0, 16)));
		if (seed) {
			char bt[UTIL_UUID_STRLEN + 1];

			util_uuid_format(bt, blind_id);
			json_object_set_new(out, "blind_id", json_string(bt));
		}
		json_object_set_new(out, "epochs", eps);
		eps = NULL;
		PQclear(q);
		q = NULL;
		/* issue 12: what cofferctl approve checks against its pins */
		if (api_pins_matter_json(r->db, r->who.tenant_id_str, out, err,
		    sizeof(err)) != 0) {
			api_fail_db(r, "matter keys", err);
			goto out;
		}
		/* The share generation those keys are of, and its K: a
		 * custodian approves only with a share of it (issue 16). */
		{
			pg_params gp = PG_PARAMS_INIT;
			json_t *tk = json_object_get(out, "tenant_key");

			pg_param_text(&gp, r->who.tenant_id_str);
			q = pg_query(r->db, "SELECT k.generation, "
			    "coalesce(g.threshold_k, t.threshold_k) "
			    "FROM coffer.tenant_keys k JOIN coffer.tenants t "
			    " ON t.tenant_id = k.tenant_id "
			    "LEFT JOIN coffer.tenant_key_generations g "
			    " ON g.tenant_id = k.tenant_id AND g.generation = k.generation "
			    "WHERE k.tenant_id = $1::uuid", &gp, err, sizeof(err));
			if (q == NULL) {
				api_fail_db(r, "matter keys", err);
				goto out;
			}
			if (PQntuples(q) != 1 || tk == NULL) {
				api_fail_internal(r, "matter keys", "no current key "
				    "generation");
				goto out;
			}
			if (json_object_set_new(tk, "generation",
			    json_integer(atoi(PQgetvalue(q, 0, 0)))) != 0 ||
			    json_object_set_new(tk, "threshold",
			    json_integer(atoi(PQgetvalue(q, 0, 1)))) != 0)
				goto oom;
			PQclear(q);
			q = NULL;
		}
		/* Issue 16: one entry per key the matter's epochs use, with
		 * that key's current generation (the share that answers its
		 * epochs), and what each still needs. */
		{
			pg_params kp = PG_PARAMS_INIT;
			json_t *keys, *need;
			int j;

			pg_param_text(&kp, r->who.tenant_id_str);
			pg_param_text(&kp, midstr);
			pg_param_text(&kp, PQgetisnull(m, 0, 17) ?
			    "00000000-0000-0000-0000-000000000000" :
			    PQgetvalue(m, 0, 17));
			q = pg_query(r->db, "WITH mk AS (" MATTER_KEYS_SQL ") "
			    "SELECT mk.*, (SELECT pg_catalog.string_agg("
			    " pg_catalog.encode(c, 'hex'), ',' ORDER BY o) "
			    " FROM " GEN_ROW_SQL("mk.gen") " gk, pg_catalog.unnest("
			    " gk.commitments) WITH ORDINALITY AS u(c, o)), "
			    "(SELECT pg_catalog.string_agg(pg_catalog.encode(v, 'hex'), "
			    " ',' ORDER BY o) FROM " GEN_ROW_SQL("mk.gen") " gs, "
			    " pg_catalog.unnest(gs.public_shares) WITH ORDINALITY "
			    " AS u(v, o)) FROM mk ORDER BY mk.gen", &kp, err,
			    sizeof(err));
			if (q == NULL) {
				api_fail_db(r, "matter keys", err);
				goto out;
			}
			if ((keys = json_array()) == NULL ||
			    json_object_set_new(out, "keys", keys) != 0 ||
			    (need = json_array()) == NULL ||
			    json_object_set_new(out, "approvals_needed", need) != 0)
				goto oom;
			for (j = 0; j < PQntuples(q); j++) {
				int g = atoi(PQgetvalue(q, j, 0));
				int kk = atoi(PQgetvalue(q, j, 1));
				int na = atoi(PQgetvalue(q, j, 2));

				if (json_array_append_new(keys, json_pack(
				    "{s:i, s:s, s:i, s:o, s:o, s:i}", "generation", g,
				    "public_key", PQgetvalue(q, j, 4), "threshold", kk,
				    "commitments", api_pins_hex_list(PQgetvalue(q, j, 5)),
				    "public_shares", api_pins_hex_list(PQgetvalue(q, j,
				    6)), "epochs", atoi(PQgetvalue(q, j, 3)))) != 0)
					goto oom;
				if (na < kk && json_array_append_new(need, json_pack(
				    "{s:i, s:i, s:i}", "generation", g, "threshold", kk,
				    "approvals", na)) != 0)
					goto oom;
			}
			PQclear(q);
			q = NULL;
		}
	}
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, r->who.tenant_id_str);
		pg_param_text(&p, midstr);
		q = pg_query(r->db, "SELECT a.custodian_index, u.name, "
		    API_TS("a.approved_at") ", a.generation FROM coffer.approvals a "
		    "JOIN coffer.users u ON u.tenant_id = a.tenant_id "
		    " AND u.user_id = a.user_id "
		    "JOIN coffer.matters m ON m.tenant_id = a.tenant_id "
		    " AND m.matter_id = a.matter_id "
		    "WHERE a.tenant_id = $1::uuid AND a.matter_id = $2::uuid "
		    /* only the approvals that count: the current generation */
		    "AND a.blind_id = coalesce(m.blind_id, "
		    " '00000000-0000-0000-0000-000000000000'::uuid) "
		    "ORDER BY a.approved_at, a.generation, a.custodian_index", &p,
		    err, sizeof(err));
		if (q == NULL) {
			api_fail_db(r, "matter approvals", err);
			goto out;
		}
		if ((aps = json_array()) == NULL)
			goto oom;
		for (i = 0; i < PQntuples(q); i++)
			if (json_array_append_new(aps, json_pack(
			    "{s:i, s:s, s:s, s:i}",
			    "custodian_index", atoi(PQgetvalue(q, i, 0)),
			    "name", PQgetvalue(q, i, 1),
			    "approved_at", PQgetvalue(q, i, 2),
			    /* the share generation that made it (issue 16) */
			    "generation", atoi(PQgetvalue(q, i, 3)))) != 0)
				goto oom;
		json_object_set_new(out, "approvals", aps);
		aps = NULL;
	}
	api_reply(r, 200, out);
	out = NULL;
	goto out;
oom:
	api_fail_internal(r, "matter", "out of memory");
out:
	free(eid);
	free(R);
	free(Rb);
	free(bp);
	PQclear(m);
	PQclear(q);
	json_decref(out);
	json_decref(eps);
	json_decref(aps);
	json_decref(chans);
}

/* -- POST /v1/matters/{id}/close ----------------------------------------------- */

/* Only the requester closes (or proposes to close) a matter.  A matter
 * with a production closes only with a second person's approval
 * (api/dual.h): closing it lets the next purge dispose of what it held. */
void
api_h_matter_close(api_req *r)
{
	static const char *const none[] = { NULL };
	unsigned char mid[UTIL_UUID_BYTES];
	char midstr[UTIL_UUID_STRLEN + 1], err[MAT_ERR], prev[16], tgt[64];
	pg_params p = PG_PARAMS_INIT;
	PGresult *res = NULL;
	const char *state;
	int k;

	if (api_param_uuid(r, mid, midstr) != 0)
		return;
	api_target(r, "matter:%s", midstr);
	if (r->body_len > 0) {
		json_t *b = api_body_object(r);

		if (b == NULL)
			return;
		if (api_json_only(r, b, "the request", none) != 0) {
			json_decref(b);
			return;
		}
		json_decref(b);
	}
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, midstr);
	res = pg_query(r->db, "SELECT m.state, m.requester_user_id::text, "
	    "EXISTS (SELECT 1 FROM coffer.productions x WHERE "
	    " x.tenant_id = m.tenant_id AND x.matter_id = m.matter_id) "
	    "FROM coffer.matters m WHERE m.tenant_id = $1::uuid "
	    "AND m.matter_id = $2::uuid FOR UPDATE", &p, err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "matter", err);
		return;
	}
	if (PQntuples(res) != 1) {
		api_fail(r, 404, "not_found", NULL, "no such matter");
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), r->who.user_id) != 0) {
		api_fail(r, 403, "forbidden", "denied", "only the legal user who "
		    "requested this matter may close it");
		goto out;
	}
	state = PQgetvalue(res, 0, 0);
	if (strcmp(state, "closed") == 0) {
		api_fail(r, 409, "matter_closed", NULL, "the matter is closed "
		    "already");
		goto out;
	}
	if (strcmp(state, "building") == 0 || strcmp(state, "approved") == 0) {
		api_fail(r, 409, "conflict", NULL, "a production is being built; "
		    "close the matter when it is ready or failed");
		goto out;
	}
	api_detail(r, "previous_state", json_string(state));
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		snprintf(tgt, sizeof(tgt), "matter:%s", midstr);
		(void)api_dual_propose(r, "matter.close", tgt,
		    json_pack("{s:s}", "matter_id", midstr));
		goto out;
	}
	k = api_matter_close_apply(r, midstr, prev, sizeof(prev));
	if (k < 0)
		goto out;
	if (k != 0) {
		api_fail(r, 409, "conflict", NULL, "the matter changed meanwhile");
		goto out;
	}
	api_reply(r, 200, json_pack("{s:s, s:s}", "matter_id", midstr, "state",
	    "closed"));
out:
	PQclear(res);
}

/* -- GET /v1/matters/{id}/production ------------------------------------------- */

/* Open path for reading if it lies inside dir (both resolved), is a
 * regular file and not a symlink.  fd or -1. */
static int
mat_open_inside(const char *dir, const char *path, struct stat *st)
{
	char rdir[PATH_MAX], rpath[PATH_MAX];
	size_t n;
	int fd;

	if (realpath(dir, rdir) == NULL || realpath(path, rpath) == NULL)
		return -1;
	n = strlen(rdir);
	if (strncmp(rpath, rdir, n) != 0 || rpath[n] != '/')
		return -1;
	/* Only sealed productions: never a hidden entry such as .blind/
	 * (matters' blinding seeds, api/blind.h), whatever the row says. */
	if (strstr(rpath + n, "/.") != NULL || strlen(rpath + n) < 8 ||
	    strcmp(rpath + strlen(rpath) - 7, ".coffer") != 0)
		return -1;
	if ((fd = open(rpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

void
api_h_production_get(api_req *r)
{
	unsigned char mid[UTIL_UUID_BYTES];
	char midstr[UTIL_UUID_STRLEN + 1], err[MAT_ERR], fname[64];
	pg_params p = PG_PARAMS_INIT;
	PGresult *res = NULL;
	const char *state;
	struct stat st;
	long long size;
	int fd;

	if (api_param_uuid(r, mid, midstr) != 0)
		return;
	api_target(r, "matter:%s", midstr);
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, midstr);
	res = pg_query(r->db, "SELECT m.state, m.requester_user_id::text, "
	    "m.progress, pr.production_id::text, pr.storage_path, pr.size_bytes "
	    "FROM coffer.matters m LEFT JOIN LATERAL ("
	    " SELECT production_id, storage_path, size_bytes "
	    " FROM coffer.productions x WHERE x.tenant_id = m.tenant_id "
	    " AND x.matter_id = m.matter_id AND x.completed_at IS NOT NULL "
	    " ORDER BY x.completed_at DESC LIMIT 1) pr ON true "
	    "WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid",
	    &p, err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "production", err);
		return;
	}
	if (PQntuples(res) != 1) {
		api_fail(r, 404, "not_found", NULL, "no such matter");
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), r->who.user_id) != 0) {
		api_fail(r, 403, "forbidden", "denied", "only the legal user who "
		    "requested this matter may download its production");
		goto out;
	}
	state = PQgetvalue(res, 0, 0);
	if (strcmp(state, "closed") == 0) {
		api_fail(r, 409, "matter_closed", NULL, "the matter is closed");
		goto out;
	}
	if (strcmp(state, "failed") == 0) {
		api_fail(r, 409, "production_failed", NULL, "the production could "
		    "not be built; see the matter's failure");
		goto out;
	}
	if (strcmp(state, "ready") != 0) {
		api_detail(r, "state", json_string(state));
		api_fail(r, 409, "not_ready", NULL, "the production is not ready "
		    "(state %s, %s%% built)", state, PQgetvalue(res, 0, 2));
		goto out;
	}
	if (PQgetisnull(res, 0, 3) || PQgetisnull(res, 0, 4) ||
	    PQgetisnull(res, 0, 5)) {
		api_fail_internal(r, "production", "ready matter without a "
		    "completed production file");
		goto out;
	}
	size = atoll(PQgetvalue(res, 0, 5));
	fd = mat_open_inside(r->cfg->productions_dir, PQgetvalue(res, 0, 4), &st);
	if (fd < 0 || (long long)st.st_size != size) {
		if (fd >= 0)
			close(fd);
		api_fail_internal(r, "production", "production file missing, "
		    "outside productions_dir or of the wrong size");
		goto out;
	}
	{
		pg_params q = PG_PARAMS_INIT;

		pg_param_text(&q, r->who.tenant_id_str);
		pg_param_text(&q, midstr);
		pg_param_text(&q, PQgetvalue(res, 0, 3));
		if (pg_exec(r->db, "UPDATE coffer.productions SET downloaded_at = "
		    "pg_catalog.now() WHERE tenant_id = $1::uuid AND matter_id = "
		    "$2::uuid AND production_id = $3::uuid", &q, err,
		    sizeof(err)) != 0) {
			close(fd);
			api_fail_db(r, "production", err);
			goto out;
		}
	}
	api_detail(r, "production_id", json_string(PQgetvalue(res, 0, 3)));
	api_detail(r, "bytes", json_integer(size));
	snprintf(fname, sizeof(fname), "%s.coffer", midstr);
	api_reply_fd(r, fd, (uint64_t)size, fname);
	api_metrics_production(API_PROD_DOWNLOADED);
out:
	PQclear(res);
}
