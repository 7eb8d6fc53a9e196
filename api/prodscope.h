/* api/prodscope.h — what a production covers and the keys it opens: the
 * matter (scope, time range, requester, blinding), the one scope
 * predicate, the tenant's threshold key material, the epochs holding
 * in-scope records, the custodians' partials, their combination into S
 * per epoch and the epoch keys it unwraps.  Part of the build
 * (api/prodstate.h); api_production_count uses the same predicate.
 *
 * Every loader reads inside the build's one REPEATABLE READ snapshot on
 * P->db and fills P; called in the order below.  0, or -1 after PERR.
 */
#ifndef COFFER_API_PRODSCOPE_H
#define COFFER_API_PRODSCOPE_H

#include "api/prodstate.h"
#include "common/pg.h"
#include "vault/seal.h"

/* The one scope predicate (see production.h): a WHERE clause over
 * coffer.records r with parameters $1..$6 (pr_scope_params). */
#define PR_SCOPE \
	"r.tenant_id = $1::uuid " \
	"AND (($2::timestamptz IS NULL OR r.sent_at >= $2::timestamptz) " \
	"     AND ($3::timestamptz IS NULL OR r.sent_at <= $3::timestamptz) " \
	"  OR ($2::timestamptz IS NULL OR r.received_at >= $2::timestamptz) " \
	"     AND ($3::timestamptz IS NULL OR r.received_at <= $3::timestamptz)) " \
	"AND ($4::text[] IS NULL OR r.channel = ANY ($4::text[])) " \
	"AND ($5::bytea[] IS NULL OR r.participant_tokens && $5::bytea[]) " \
	"AND ($6::bytea[] IS NULL OR r.conversation_token = ANY ($6::bytea[]))"

/* Parameters $1..$6 of PR_SCOPE (tenant, from, to, channels, participant
 * tokens, conversation tokens), after pr_load_scope. */
void pr_scope_params(prod *P, pg_params *p);

/* The matter's scope and time range (all api_production_count needs). */
int  pr_load_scope(prod *P);
/* Who the production is for, and the tenant's public key material. */
int  pr_load_keys(prod *P);
/* Epochs holding in-scope records, with R and the wrapped key. */
int  pr_load_epochs(prod *P);
/* The approvals of the matter's current blinding: every stored partial
 * decoded (api_partials_stored_decode) into its epoch. */
int  pr_load_approvals(prod *P);
/* Verify every partial's proof (bound to this tenant, matter, epoch and
 * custodian), combine K of them per approved epoch into S (guarded), and
 * prove each S by unwrapping the key once, before anything is written. */
int  pr_combine(prod *P);
/* The approving custodians (index, name, time) that pr_load_approvals
 * found into P->matter (pr_load_scope's title, legal basis, requester):
 * the cover sheet's details. */
int  pr_load_cover(prod *P);

/* The unwrapped key of an approved epoch, from a small cache (owned by
 * P; valid until the next call).  NULL after PERR. */
const vault_epoch *pr_epoch_open(prod *P,
                                 const unsigned char id[VAULT_ID_BYTES]);

#endif
