/* api/partials.h — the custodians' partials of a matter: the one decoder
 * of a submitted answer (POST /v1/matters/{id}/approvals, api/approvals.c),
 * its stored form, and the one decoder of that stored form, which the
 * production builder (api/production.c) reads back.
 *
 * A custodian answers every epoch of a matter with its partial P_i = s_i·R'
 * of the blinded point and a Chaum-Pedersen proof (vault/threshold.h).
 * Exposed for the unit tests and the fuzz target (tests/fuzz/fuzz_partial.c).
 */
#ifndef COFFER_API_PARTIALS_H
#define COFFER_API_PARTIALS_H

#include <stddef.h>

#include <jansson.h>

#include "common/util.h"
#include "vault/threshold.h"

/* One submitted partial, decoded. */
typedef struct api_partial {
	unsigned char epoch_id[UTIL_UUID_BYTES];
	char          epoch_text[UTIL_UUID_STRLEN + 1];
	vault_partial part;
	unsigned char rb[VAULT_POINT_BYTES];      /* R' the partial answers */
	unsigned char bp[VAULT_PROOF_BYTES];      /* proof R' = ρ·R (API's) */
} api_partial;

/* Decode body->"partials" for custodian index (already checked 1..255):
 * every entry {"epoch_id","p","c","z"} with no other member, hex of exact
 * length, no epoch twice.  *out malloc'd (free it), *n entries, sorted by
 * epoch id (bytes).  0, or -1
 * with a client-safe message in msg and *bad_index the 1-based entry at
 * fault (0: the array itself). */
int api_partials_decode(const json_t *partials, unsigned int index,
                        api_partial **out, size_t *n,
                        char *msg, size_t msg_len, size_t *bad_index);

/* The stored form of n decoded partials (what api_h_approval_submit puts
 * in coffer.approvals.partials): {"<epoch uuid>": {"p": hex, "proof":
 * hex, "rb": hex R', "bp": hex blinding proof}, ...}.  Everything an
 * auditor needs to check offline; nothing that opens an epoch without the
 * matter's seed.  New reference, or NULL when out of memory. */
json_t *api_partials_stored(const api_partial *a, size_t n);

/* Decode a stored approval (coffer.approvals.partials, read back by the
 * production builder, api/production.c): the object
 * api_h_approval_submit writes, {"<epoch uuid>": {"p": 64 hex digits,
 * "proof": 128 hex digits, "rb": 64, "bp": 128}, ...} with no other
 * member, or
 * {"partials": [...]} holding the submitted form (api_partials_decode).
 * Same result as api_partials_decode: *out malloc'd (free it), *n entries
 * sorted by epoch id, no epoch twice, each carrying index.  0, or -1 with
 * a message in msg that never echoes the stored bytes. */
int api_partials_stored_decode(json_t *doc, unsigned int index,
                               api_partial **out, size_t *n,
                               char *msg, size_t msg_len);

#endif
