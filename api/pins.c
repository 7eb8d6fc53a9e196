/* api/pins.c — tenant key and epoch signatures in a matter's JSON
 * (api/pins.h).  Trusts nothing it reads: the rows go to the custodian,
 * whose cofferctl checks them against what is pinned outside the
 * database.  Public material only.
 */
#include "api/pins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/keysql.h"
#include "common/pg.h"

json_t *
api_pins_hex_list(const char *csv)
{
	json_t *a = json_array();
	const char *p = csv;

	if (a == NULL)
		return NULL;
	while (p != NULL && *p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (json_array_append_new(a, json_stringn(p, n)) != 0) {
			json_decref(a);
			return NULL;
		}
		p = c ? c + 1 : NULL;
	}
	return a;
}

static json_t *
ap_text_or_null(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() :
	    json_string(PQgetvalue(r, row, col));
}

int
api_pins_matter_json(PGconn *db, const char *tenant_id, json_t *matter,
    char *err, size_t err_len)
{
	json_t *epochs = json_object_get(matter, "epochs"), *ep, *tk;
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	size_t i;
	int row, rc = -1;

	pg_param_text(&p, tenant_id);
	r = pg_query(db, "SELECT pg_catalog.encode(k.public_key, 'hex'), "
	    "(SELECT pg_catalog.string_agg(pg_catalog.encode(c, 'hex'), ',' ORDER BY o) "
	    " FROM unnest(k.commitments) WITH ORDINALITY AS u(c, o)), "
	    "(SELECT pg_catalog.string_agg(pg_catalog.encode(s, 'hex'), ',' ORDER BY o) "
	    " FROM unnest(k.public_shares) WITH ORDINALITY AS u(s, o)) "
	    "FROM coffer.tenant_keys k WHERE k.tenant_id = $1::uuid", &p, err, err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, err_len, "tenant key row missing");
		return -1;
	}
	tk = json_pack("{s:s, s:o, s:o}", "public_key", PQgetvalue(r, 0, 0),
	    "commitments", api_pins_hex_list(PQgetvalue(r, 0, 1)),
	    "public_shares", api_pins_hex_list(PQgetvalue(r, 0, 2)));
	PQclear(r);
	if (tk == NULL || json_object_set_new(matter, "tenant_key", tk) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (json_array_size(epochs) == 0)
		return 0;

	p = (pg_params)PG_PARAMS_INIT;
	pg_param_text(&p, tenant_id);
	{
		/* the epoch ids as a JSON array parameter */
		json_t *ids = json_array();
		char *idtxt;

		json_array_foreach(epochs, i, ep)
			json_array_append(ids, json_object_get(ep, "epoch_id"));
		idtxt = json_dumps(ids, JSON_COMPACT);
		json_decref(ids);
		if (idtxt == NULL) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		pg_param_text(&p, idtxt);
		r = pg_query(db, "SELECT e.epoch_id::text, e.stream_id::text, n.name, "
		    "e.node_id::text, pg_catalog.encode(n.signing_public_key, 'hex'), "
		    "pg_catalog.encode(e.wrapped_key, 'hex'), "
		    "pg_catalog.encode(e.wrapped_hash, 'hex'), e.signed_at_us::text, "
		    "pg_catalog.encode(e.signature, 'hex'), "
		    /* issue 16: the key it was wrapped to, and that key's
		     * current share generation (the share that answers it) */
		    "pg_catalog.encode(" EPOCH_KEY_SQL("e") ", 'hex'), "
		    KEY_CURRENT_GEN_SQL(EPOCH_KEY_SQL("e")) "::text "
		    "FROM coffer.epochs e LEFT JOIN coffer.nodes n ON n.node_id = e.node_id "
		    "WHERE e.tenant_id = $1::uuid AND e.epoch_id IN (SELECT "
		    "pg_catalog.json_array_elements_text($2::json)::uuid)", &p, err,
		    err_len);
		free(idtxt);
	}
	if (r == NULL)
		return -1;
	for (row = 0; row < PQntuples(r); row++) {
		json_array_foreach(epochs, i, ep) {
			const char *id = json_string_value(json_object_get(ep, "epoch_id"));

			if (id == NULL || strcmp(id, PQgetvalue(r, row, 0)) != 0)
				continue;
			if (json_object_set_new(ep, "stream_id", ap_text_or_null(r, row, 1)) ||
			    json_object_set_new(ep, "node", ap_text_or_null(r, row, 2)) ||
			    json_object_set_new(ep, "node_id", ap_text_or_null(r, row, 3)) ||
			    json_object_set_new(ep, "node_public_key", ap_text_or_null(r, row, 4)) ||
			    json_object_set_new(ep, "wrapped_key", ap_text_or_null(r, row, 5)) ||
			    json_object_set_new(ep, "wrapped_hash", ap_text_or_null(r, row, 6)) ||
			    json_object_set_new(ep, "signed_at_us", ap_text_or_null(r, row, 7)) ||
			    json_object_set_new(ep, "signature", ap_text_or_null(r, row, 8)) ||
			    json_object_set_new(ep, "wrapped_to", ap_text_or_null(r, row, 9)) ||
			    json_object_set_new(ep, "key_generation", PQgetisnull(r, row,
			    10) ? json_null() : json_integer(atoi(PQgetvalue(r, row,
			    10))))) {
				snprintf(err, err_len, "out of memory");
				goto out;
			}
		}
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}
