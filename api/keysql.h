/* api/keysql.h — SQL expressions over share and key generations (issue
 * 16), shared by the matter routes, the pin check and the build.  Text
 * only: no includes, so any api module may use them without an include
 * cycle. */
#ifndef COFFER_API_KEYSQL_H
#define COFFER_API_KEYSQL_H

/* Issue 16 (key rotation): the tenant key an epoch was wrapped to, as an
 * SQL bytea expression over the epochs alias e: epochs.wrapped_to
 * (migration 0016); NULL (an epoch made before it) = generation 1's key;
 * a tenant without generation rows (a key row written by hand) = its
 * tenant_keys T.  Never the tenant's newest T: that opens only new epochs. */
#define EPOCH_KEY_SQL(e) \
	"coalesce(" e ".wrapped_to," \
	" (SELECT g1.public_key FROM coffer.tenant_key_generations g1" \
	"  WHERE g1.tenant_id = " e ".tenant_id AND g1.generation = 1)," \
	" (SELECT k1.public_key FROM coffer.tenant_keys k1" \
	"  WHERE k1.tenant_id = " e ".tenant_id))"

/* The current generation of the key pk (SQL bytea expression) of tenant
 * $1: the highest generation with that T (older ones were re-shared and
 * are retired); for a key row written by hand, its tenant_keys row's. */
#define KEY_CURRENT_GEN_SQL(pk) \
	"coalesce((SELECT pg_catalog.max(cg.generation)" \
	" FROM coffer.tenant_key_generations cg WHERE cg.tenant_id = $1::uuid" \
	" AND cg.public_key = " pk ")," \
	" (SELECT ck.generation FROM coffer.tenant_keys ck" \
	"  WHERE ck.tenant_id = $1::uuid AND ck.public_key = " pk "))"

/* The K of generation gen (SQL int expression) of tenant $1 (a key row
 * without its generation row: the tenant's K, as before generations). */
#define GEN_THRESHOLD_SQL(gen) \
	"coalesce((SELECT tg.threshold_k FROM coffer.tenant_key_generations tg" \
	" WHERE tg.tenant_id = $1::uuid AND tg.generation = " gen ")," \
	" (SELECT tt.threshold_k FROM coffer.tenants tt" \
	"  WHERE tt.tenant_id = $1::uuid))"

/* Generation gen (SQL int expression) of tenant $1 as a row source with
 * public_key, public_shares, commitments: its tenant_key_generations row,
 * or for a key row written by hand without one, the tenant_keys row when
 * it is at that generation. */
#define GEN_ROW_SQL(gen) \
	"(SELECT gr.public_key, gr.public_shares, gr.commitments" \
	" FROM coffer.tenant_key_generations gr WHERE gr.tenant_id = $1::uuid" \
	" AND gr.generation = " gen \
	" UNION ALL SELECT kr.public_key, kr.public_shares, kr.commitments" \
	" FROM coffer.tenant_keys kr WHERE kr.tenant_id = $1::uuid" \
	" AND kr.generation = " gen " AND NOT EXISTS (SELECT 1" \
	" FROM coffer.tenant_key_generations xr WHERE xr.tenant_id = $1::uuid" \
	" AND xr.generation = " gen "))"

#endif
