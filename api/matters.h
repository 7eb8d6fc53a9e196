/* api/matters.h — eDiscovery matters: scope, in-scope records, and the
 * helpers the matter and hold handlers share.
 *
 * A matter's scope is stored in matters.scope (jsonb) as blind-index tokens
 * (hex) and channel names, with from/to also in matters.time_from/time_to
 * (inclusive; the columns are what counts).  The epochs a matter involves
 * are those holding in-scope records at the time of asking; a custodian
 * answers exactly that set.  Participant and conversation values are turned into tokens
 * on arrival with the tenant's BIK and never stored, logged or echoed.
 * Layout and semantics: docs/CONTRACTS.md ("Stored shapes").
 */
#ifndef COFFER_API_MATTERS_H
#define COFFER_API_MATTERS_H

#include <stddef.h>

#include <jansson.h>

#include "api/request.h"
#include "vault/blind.h"
#include "api/keysql.h"

#define MATTER_LIST_MAX        1000U   /* participants / conversations */
/* The "warning" of a matter created with nothing in scope (issue 15.3). */
/* scope.participants_entered_unavailable (GET /v1/matters/{id}): the
 * sealed list (api/blind.h) cannot be opened any more. */
#define MATTER_ENTERED_GONE    "the matter's blinding seed is gone from " \
	"this API host, and with it the participants as entered; the scope " \
	"itself is unchanged: ask the legal user who entered it"
#define MATTER_ENTERED_RENEWED "the participants as entered were sealed " \
	"under a blinding seed since lost and renewed; the scope itself is " \
	"unchanged: ask the legal user who entered it"
#define MATTER_EMPTY_WARNING   "the scope matches 0 records: check the " \
	"participants, conversations, channels and time range"
#define MATTER_TITLE_MAX       500U    /* characters */
#define MATTER_BASIS_MAX       2000U

/* The in-scope records of one matter, as a WITH prefix: $1 tenant uuid,
 * $2 matter uuid; follow it with a query over in_scope, which has every
 * column of coffer.records, e.g.
 *
 *   MATTER_SCOPE_WITH "SELECT pg_catalog.count(*) FROM in_scope"
 *
 * The predicate is the production builder's (api/production.h): every
 * criterion the scope sets must match, an empty list or a NULL bound sets
 * none.  Counts shown to people come from api_production_count() itself;
 * this prefix serves the queries it has no function for (the epoch list
 * custodians answer).  The time range is written as two BETWEENs on
 * NOT NULL columns, a missing bound as -infinity / infinity (the same
 * set as "bound IS NULL OR ..."), over scalar subqueries of the scope:
 * as columns of the joined row, or behind IS NULL, the bounds left the
 * planner no index to use (a range between two columns is a third of the
 * rows to it), so every approval and matter view read the tenant's whole
 * archive (issue 17.4: 0.8-4 s a query at 640 000 records); as
 * subqueries they are run-time constants and the (tenant_id, sent_at)
 * and (tenant_id, received_at) indexes are probed. */
/* The clock a matter's from/to apply to, as GET /v1/matters/{id} states it
 * (scope.time_clock): a record is in range when its sent_at (the device's)
 * or its received_at (the gateway's) lies in it (migration 0010). */
#define MATTER_TIME_CLOCK "sent_at or received_at"

#define MATTER_SCOPE_WITH \
	"WITH scope AS MATERIALIZED (" \
	" SELECT m.tenant_id," \
	"  COALESCE(m.time_from, '-infinity'::timestamptz) AS lo," \
	"  COALESCE(m.time_to, 'infinity'::timestamptz) AS hi," \
	"  ARRAY(SELECT pg_catalog.decode(x, 'hex') FROM" \
	"   pg_catalog.jsonb_array_elements_text(m.scope->'participants') x)" \
	"   AS participants," \
	"  ARRAY(SELECT pg_catalog.decode(x, 'hex') FROM" \
	"   pg_catalog.jsonb_array_elements_text(m.scope->'conversations') x)" \
	"   AS conversations," \
	"  ARRAY(SELECT x FROM" \
	"   pg_catalog.jsonb_array_elements_text(m.scope->'channels') x)" \
	"   AS channels" \
	" FROM coffer.matters m" \
	" WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid)," \
	"in_scope AS (" \
	" SELECT r.* FROM scope s JOIN coffer.records r" \
	"  ON r.tenant_id = s.tenant_id" \
	" WHERE r.tenant_id = $1::uuid" \
	"  AND (r.sent_at BETWEEN (SELECT lo FROM scope) AND (SELECT hi FROM scope)" \
	"       OR r.received_at BETWEEN (SELECT lo FROM scope)" \
	"          AND (SELECT hi FROM scope))" \
	"  AND (pg_catalog.cardinality(s.participants) = 0" \
	"       OR r.participant_tokens OPERATOR(pg_catalog.&&) s.participants)" \
	"  AND (pg_catalog.cardinality(s.conversations) = 0" \
	"       OR r.conversation_token = ANY (s.conversations))" \
	"  AND (pg_catalog.cardinality(s.channels) = 0" \
	"       OR r.channel = ANY (s.channels))) "

/* The epochs holding the matter's in-scope records, with R (hex, or raw
 * with binary results): epoch_id, r_point, ordered by epoch_id. */
#define MATTER_EPOCHS_SQL(rcol) \
	MATTER_SCOPE_WITH \
	"SELECT e.epoch_id, " rcol " FROM coffer.epochs e" \
	" WHERE e.tenant_id = $1::uuid" \
	"  AND e.epoch_id IN (SELECT DISTINCT i.epoch_id FROM in_scope i)" \
	" ORDER BY e.epoch_id"


/* One row per key the matter's epochs use (matter $2 of tenant $1, blind
 * generation $3): key generation (current generation of that key), its K,
 * the approvals of that generation counted, the number of epochs and the
 * key (hex); ordered by generation.  The matter is approved when every
 * row's approvals >= K. */
#define MATTER_KEYS_SQL \
	MATTER_SCOPE_WITH \
	", ek AS (SELECT " EPOCH_KEY_SQL("e") " AS pk, pg_catalog.count(*) AS n" \
	"  FROM coffer.epochs e WHERE e.tenant_id = $1::uuid" \
	"  AND e.epoch_id IN (SELECT DISTINCT i.epoch_id FROM in_scope i)" \
	"  GROUP BY 1)," \
	" kg AS (SELECT ek.pk, ek.n, " KEY_CURRENT_GEN_SQL("ek.pk") " AS gen" \
	"  FROM ek) " \
	"SELECT kg.gen, " GEN_THRESHOLD_SQL("kg.gen") ", " \
	" (SELECT pg_catalog.count(*) FROM coffer.approvals a" \
	"  WHERE a.tenant_id = $1::uuid AND a.matter_id = $2::uuid" \
	"  AND a.blind_id = $3::uuid AND a.generation = kg.gen)," \
	" kg.n, pg_catalog.encode(kg.pk, 'hex') FROM kg ORDER BY 1"

/* Tokens of a JSON array of participant (conversation = 0) or
 * conversation (conversation = 1) values, de-duplicated and sorted, into a
 * malloc'd array of n × VAULT_TOKEN_BYTES with room for n + 1 (wipe
 * (n + 1) × VAULT_TOKEN_BYTES and free it).  field names
 * the array in error messages; values are never quoted.  NULL array: none.
 * 0, or -1 after api_fail. */
int api_scope_tokens(api_req *r, const json_t *array, int conversation,
                     const char *field, unsigned char **out, size_t *n);

/* A JSON array of distinct channel names into a malloc'd array of
 * borrowed strings (free() it).  0, or -1 after api_fail. */
int api_scope_channels(api_req *r, const json_t *array,
                       const char ***out, size_t *n);

/* An optional RFC 3339 string member: 0 (*out NULL when absent), -1 after
 * api_fail. */
int api_scope_time(api_req *r, const json_t *obj, const char *key,
                   const char **out);

/* The blinding-seed generation of an open matter (api/blind.h; the seed
 * itself stays in the keeper) into blind_id, *have = 1 when the keeper
 * holds its seed.  blind_text is matters.blind_id as text (NULL or ""
 * when none).  When the stored generation has no seed and create is set,
 * a new generation is made and recorded in the request's transaction
 * (*renewed = 1).  0, or -1 after api_fail. */
int api_matter_seed(api_req *r, const char *matter, const char *blind_text,
                    int create, unsigned char blind_id[16], int *have,
                    int *renewed);


#endif
