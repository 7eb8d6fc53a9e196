/* vault/wrap.h — epoch keys wrapped to the tenant public key.
 *
 * wrap:   r random scalar, R = r·B, S = r·T,
 *         W = BLAKE2b-256(S ‖ R ‖ T, personal "coffer-ekwrap-v1" (16 bytes)),
 *         wrapped = nonce(24) ‖ XChaCha20-Poly1305(W, EK, ad = tenant_id ‖ epoch_id)
 * unwrap: given S (= t·R, combined from custodian partials), recompute W.
 * Nobody but the tenant (through k custodians) can compute S.
 */
#ifndef COFFER_VAULT_WRAP_H
#define COFFER_VAULT_WRAP_H

#include <stddef.h>

#include "vault/group.h"                  /* VAULT_POINT/SCALAR_BYTES */

#define VAULT_ID_BYTES          16U   /* tenant, stream, epoch ids (UUIDs) */
#define VAULT_EK_BYTES          32U   /* epoch key */
#define VAULT_WRAPPED_EK_BYTES  (24U + 32U + 16U)

int vault_ek_wrap(const unsigned char tenant_pk[VAULT_POINT_BYTES],
                  const unsigned char tenant_id[VAULT_ID_BYTES],
                  const unsigned char epoch_id[VAULT_ID_BYTES],
                  const unsigned char ek[VAULT_EK_BYTES],
                  unsigned char R_out[VAULT_POINT_BYTES],
                  unsigned char wrapped_out[VAULT_WRAPPED_EK_BYTES])
    __attribute__((warn_unused_result));

/* S is the combined value t·R. Returns -1 (and a zeroed ek_out) when the
 * wrapped key does not open: wrong S, wrong ids, or tampered bytes. */
int vault_ek_unwrap(const unsigned char S[VAULT_POINT_BYTES],
                    const unsigned char R[VAULT_POINT_BYTES],
                    const unsigned char tenant_pk[VAULT_POINT_BYTES],
                    const unsigned char tenant_id[VAULT_ID_BYTES],
                    const unsigned char epoch_id[VAULT_ID_BYTES],
                    const unsigned char wrapped[VAULT_WRAPPED_EK_BYTES],
                    unsigned char ek_out[VAULT_EK_BYTES])
    __attribute__((warn_unused_result));

#endif
