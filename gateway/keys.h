/* gateway/keys.h — the secrets coffer-gateway holds: each tenant's
 * blind-index key (BIK) and this node's Ed25519 checkpoint signing key.
 *
 * Files (written by cofferctl, CONTRACTS.md):
 *   <keys_dir>/<tenant>.bik   VAULT_BIK_BYTES raw bytes (`tenant init`)
 *   signing_key_file          VAULT_SIGN_SK_BYTES raw bytes, libsodium form
 *                             seed ‖ public key (`node init`)
 * Each is checked with util_check_secret_file (regular file, our owner or
 * root, no group write, nothing for others) before it is opened, and its
 * bytes go straight into vault_secure_alloc memory; the read buffer is wiped.
 * Errors name the path and the problem, never key bytes.
 */
#ifndef COFFER_GATEWAY_KEYS_H
#define COFFER_GATEWAY_KEYS_H

#include <stddef.h>

#include "vault/blind.h"
#include "vault/chain.h"

/* Load <keys_dir>/<tenant>.bik into guarded memory (*bik_out, free with
 * keys_bik_free).  0 or -1 with *bik_out NULL and a message in err. */
int  keys_load_bik(const char *keys_dir, const char *tenant,
                   unsigned char **bik_out, char *err, size_t err_len)
     __attribute__((warn_unused_result));
void keys_bik_free(unsigned char **bik);          /* NULL ok; sets NULL */

/* Load the node signing key: the secret key (guarded memory, free with
 * keys_signing_free) and its public key.  The public half stored in the
 * file must match the one derived from the seed. */
int  keys_load_signing(const char *path, unsigned char **sk_out,
                       unsigned char pk_out[VAULT_SIGN_PK_BYTES],
                       char *err, size_t err_len)
     __attribute__((warn_unused_result));
void keys_signing_free(unsigned char **sk);       /* NULL ok; sets NULL */

#endif
