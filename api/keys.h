/* api/keys.h — the blind-index keys coffer-api holds, one per tenant.
 *
 * <keys_dir>/<tenant>.bik (VAULT_BIK_BYTES raw bytes, written by `cofferctl
 * tenant init`, CONTRACTS.md) is checked with util_check_secret_file and
 * copied into guarded memory the first time a tenant needs it (a matter or
 * hold scope is tokenised); the read buffer is wiped.  Keys stay loaded
 * until api_keys_free.  Errors name the tenant and the problem, never key
 * bytes.
 */
#ifndef COFFER_API_KEYS_H
#define COFFER_API_KEYS_H

#include <stddef.h>

#include "vault/blind.h"

typedef struct api_keys api_keys;

int  api_keys_new(api_keys **out, const char *keys_dir, char *err,
                  size_t err_len) __attribute__((warn_unused_result));
void api_keys_free(api_keys **k);   /* wipes every key; NULL ok */

/* The tenant's BIK (borrowed, VAULT_BIK_BYTES, valid until api_keys_free),
 * loading it on first use; a load that failed is tried again at the next
 * call, so a key file installed later is used without a restart.  NULL
 * with a message in err (naming the path and the reason: for the log, not
 * for clients), and *unavailable (may be NULL) set when it is the key
 * file that is missing or unusable, which the operator must fix (README
 * "Changes take effect at once"), rather than a bad name or a full table. */
const unsigned char *api_keys_bik(api_keys *k, const char *tenant,
                                  int *unavailable, char *err, size_t err_len);

/* Issue 12: the tenant's key row (T, commitments, public shares) must
 * equal <keys_dir>/<tenant>.pin, and, with node_pins_file (NULL or "":
 * not checked), every node that wrote one of the tenant's streams must
 * hold its pinned key.  0, or -1 with a message naming the tenant or node
 * and the object that differs. */
struct pg_conn;
int api_pin_check_tenant(struct pg_conn *db, const char *keys_dir,
                         const char *node_pins_file,
                         const unsigned char tenant_id[16],
                         char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
