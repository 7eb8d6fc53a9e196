/* api/pins.h — what a custodian needs to check a matter against its pins
 * (issue 12), added to GET /v1/matters/{id}.
 *
 * The API only relays rows here; `cofferctl approve` checks them against
 * the custodian's share file and the pinned node keys.  Everything added
 * is public: the tenant's public key material, and per epoch its stream,
 * signing node (name, id, the database's copy of its key), wrapped key
 * (sealed to T), wrapped-key hash, signing time and signature.
 */
#ifndef COFFER_API_PINS_H
#define COFFER_API_PINS_H

#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

/* Adds "tenant_key":{"public_key","commitments":[..],"public_shares":[..]}
 * to matter, and to each object of its "epochs" array (matched by
 * epoch_id): "stream_id", "node", "node_id", "node_public_key",
 * "wrapped_key", "wrapped_hash", "signed_at_us", "signature" (null for an
 * unsigned epoch, wrapped_key null once shredded).  0 or -1 with err. */
/* "a,b,c" (hex strings; NULL or "" = none) as a new JSON array of strings,
 * NULL when out of memory. */
json_t *api_pins_hex_list(const char *csv);

int api_pins_matter_json(PGconn *db, const char *tenant_id, json_t *matter,
                         char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
