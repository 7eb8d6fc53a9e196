/* vault/threshold.h — threshold release of epoch keys.
 *
 * A custodian holding share s_i (index i, public share V_i = s_i·B) answers
 * an epoch's R with the partial P_i = s_i·R and a Chaum-Pedersen proof that
 * log_B V_i = log_R P_i. The proof is non-interactive (Fiat-Shamir):
 *
 *   w random, A1 = w·B, A2 = w·R,
 *   c = reduce(BLAKE2b-512(personal "coffer-cp-rel-v1";
 *              B ‖ V_i ‖ R ‖ P_i ‖ A1 ‖ A2 ‖ tenant_id ‖ matter_id ‖ epoch_id ‖ i)),
 *   z = w + c·s_i,        proof = c ‖ z (64 bytes, both canonical scalars).
 *
 * i is one byte (1..255). Binding tenant, matter, epoch and index means a
 * partial cannot be replayed into another matter, epoch, tenant or slot.
 * With k verified partials the API computes S = Σ λ_i·P_i (Lagrange at 0),
 * which equals t·R, and unwraps the epoch key. t is never reconstructed.
 */
#ifndef COFFER_VAULT_THRESHOLD_H
#define COFFER_VAULT_THRESHOLD_H

#include <stddef.h>

#include "vault/wrap.h"

#define VAULT_PROOF_BYTES 64U   /* c ‖ z */

/* One custodian's answer for one epoch; plain data, safe to store and log. */
typedef struct vault_partial {
	unsigned int  index;                       /* custodian index, 1..255 */
	unsigned char P[VAULT_POINT_BYTES];        /* s_i·R */
	unsigned char proof[VAULT_PROOF_BYTES];    /* Chaum-Pedersen c ‖ z */
} vault_partial;

/* Custodian side: compute P_i = s_i·R and its proof for (tenant, matter,
 * epoch, index). Refuses an invalid R or share; *out is zeroed on failure. */
int vault_threshold_partial(const unsigned char share[VAULT_SCALAR_BYTES],
                            unsigned int index,
                            const unsigned char tenant_id[VAULT_ID_BYTES],
                            const unsigned char matter_id[VAULT_ID_BYTES],
                            const unsigned char epoch_id[VAULT_ID_BYTES],
                            const unsigned char R[VAULT_POINT_BYTES],
                            vault_partial *out,
                            char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* API side: check p against custodian p->index's public share V (from the
 * tenant's commitments) for this tenant, matter, epoch and R. 0 when valid;
 * otherwise err names the custodian ("custodian 2: partial proof does not
 * verify"). */
int vault_threshold_verify(const vault_partial *p,
                           const unsigned char V[VAULT_POINT_BYTES],
                           const unsigned char tenant_id[VAULT_ID_BYTES],
                           const unsigned char matter_id[VAULT_ID_BYTES],
                           const unsigned char epoch_id[VAULT_ID_BYTES],
                           const unsigned char R[VAULT_POINT_BYTES],
                           char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* S = Σ λ_i·P_i over count partials with distinct indices 1..255. Only the
 * index and P of each partial are used: verify every partial first, and pass
 * at least the tenant's threshold k of them (fewer give a wrong S, which
 * vault_threshold_unwrap() then refuses). S_out is zeroed on failure. */
int vault_threshold_combine(const vault_partial *partials, size_t count,
                            unsigned char S_out[VAULT_POINT_BYTES],
                            char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* vault_ek_unwrap() with a message: the epoch key from a combined S. */
int vault_threshold_unwrap(const unsigned char S[VAULT_POINT_BYTES],
                           const unsigned char R[VAULT_POINT_BYTES],
                           const unsigned char tenant_pk[VAULT_POINT_BYTES],
                           const unsigned char tenant_id[VAULT_ID_BYTES],
                           const unsigned char epoch_id[VAULT_ID_BYTES],
                           const unsigned char wrapped[VAULT_WRAPPED_EK_BYTES],
                           unsigned char ek_out[VAULT_EK_BYTES],
                           char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
