/* ctl/pins.h — `cofferctl approve` checks a matter against what is pinned
 * outside the database before it computes anything (issue 12).
 *
 * The API relays database rows; a database owner can rewrite them.  The
 * custodian's share file carries the tenant key T it belongs to, and the
 * node pins file (`node init --pins`) the gateway nodes' signing keys.
 * Each refusal is printed (naming the matter and the object) and ends with
 * "nothing was sent for matter M": the caller sends nothing for any epoch.
 */
#ifndef COFFER_CTL_PINS_H
#define COFFER_CTL_PINS_H

#include <jansson.h>

#include "vault/sharefile.h"

/* Before the passphrase: the tenant key the API serves is the share
 * file's, and every epoch of the matter is signed by a pinned gateway
 * node over (tenant, stream, epoch, node, R, T, hash of the wrapped key,
 * time).  nodes_path NULL: refused (epochs cannot be authenticated).
 * 0 or -1 (printed). */
int ctl_pins_check_matter(json_t *matter, const vault_sharefile_info *info,
                          const char *share_path, const char *matter_id,
                          const char *nodes_path);

/* After the share is unlocked: it verifies against the commitments the
 * API serves, and the public share served for its index is its own.
 * 0 or -1 (printed). */
int ctl_pins_check_share(json_t *matter, const unsigned char *share,
                         const vault_sharefile_info *info,
                         const char *share_path, const char *matter_id);

#endif
