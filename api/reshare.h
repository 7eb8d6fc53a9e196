/* api/reshare.h — re-sharing a tenant key among new custodians (issue 16):
 * the /v1/reshares routes (handlers in api/handlers.h) and the share
 * generation rules other handlers apply.
 *
 * Only the current generation's shares count (coffer.tenant_keys.
 * generation, migration 0014): users.custodian_index is the index a user
 * holds in it, NULL (api_identity.custodian_index 0) for a custodian
 * account that holds none — a retired custodian, or a recipient before the
 * re-share that seats it is finalised.
 */
#ifndef COFFER_API_RESHARE_H
#define COFFER_API_RESHARE_H

#include "api/request.h"

/* The tenant key's current generation (>= 1) read with FOR SHARE: a
 * re-share cannot move it until the caller's transaction ends; *k_out (if
 * not NULL) its threshold K.  -1 after api_fail. */
int api_key_generation(api_req *r, int *k_out);

/* 403 "no_current_share" for a custodian holding no share of generation
 * current: "you hold no share of the current generation (G)", plus ": your
 * share of generation H is retired" when the caller held a seat before (H
 * the latest, coffer.custodian_seats).  Always answers (a database failure
 * as such). */
void api_fail_no_current_share(api_req *r, int current);

#endif
