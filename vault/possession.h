/* vault/possession.h — periodic proof that a custodian still holds its
 * share (share health, issue 16), without releasing anything.
 *
 * The API sends a fresh random 32-byte challenge; the custodian, holding
 * share s_i of generation g (V_i = s_i·B), answers on a point it derives
 * itself:
 *
 *   H = ristretto255_from_hash(BLAKE2b-512(personal "coffer-pop-pt-v1";
 *         tenant_id (16) ‖ g (u32 LE) ‖ i (1 byte) ‖ challenge (32)))
 *   P = s_i·H, with a Chaum-Pedersen proof (vault/dleq.h) that
 *   log_B V_i = log_H P:
 *     c = reduce(BLAKE2b-512(personal "coffer-pop-v1";
 *         B ‖ V_i ‖ H ‖ P ‖ A1 ‖ A2 ‖ tenant_id ‖ g (u32 LE) ‖ i ‖ challenge))
 *   answer = P ‖ c ‖ z  (VAULT_POP_ANSWER_BYTES).
 *
 * Why the custodian derives H, never a point it is sent: s_i·X for an
 * epoch's R (or a blinded R') is a release partial; K of them open that
 * epoch.  H comes out of a hash, so nobody — the API included — can make it
 * equal to any R (that would be a preimage of the hash-to-group map), and
 * nobody knows log_B H.  An answer is therefore never a partial on an
 * epoch's R: it is safe to store, log and audit.  Answers of different
 * custodians lie on different points (the index is hashed), so even K of
 * them do not combine into anything; and an answer proves possession only
 * for its tenant, generation, index and challenge (all in both hashes), so
 * it cannot be replayed to another challenge or generation.
 *
 * The proof shows the custodian knows s_i with s_i·B = V_i, the public
 * share the tenant's commitments give for index i in generation g: the
 * share file opened and its share is still the dealt one.
 */
#ifndef COFFER_VAULT_POSSESSION_H
#define COFFER_VAULT_POSSESSION_H

#include <stddef.h>
#include <stdint.h>

#include "vault/dleq.h"
#include "vault/wrap.h"

#define VAULT_POP_CHALLENGE_BYTES 32U
#define VAULT_POP_PROOF_BYTES     VAULT_DLEQ_PROOF_BYTES               /* c ‖ z */
#define VAULT_POP_ANSWER_BYTES    (VAULT_POINT_BYTES + VAULT_POP_PROOF_BYTES)

/* A fresh random challenge (the API's side).  0, or -1 (libsodium did
 * not initialise) with out zeroed. */
int  vault_possession_challenge(unsigned char out[VAULT_POP_CHALLENGE_BYTES])
     __attribute__((warn_unused_result));

/* Custodian side: answer_out = P ‖ proof for share s_i at index (1..255)
 * of tenant_id's generation.  Refuses an unusable share or index;
 * answer_out is zeroed on failure. */
int vault_possession_prove(const unsigned char share[VAULT_SCALAR_BYTES],
                           unsigned int index,
                           const unsigned char tenant_id[VAULT_ID_BYTES],
                           uint32_t generation,
                           const unsigned char challenge[VAULT_POP_CHALLENGE_BYTES],
                           unsigned char answer_out[VAULT_POP_ANSWER_BYTES],
                           char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* API side: 0 when (P, proof) shows possession of the share behind V (the
 * public share of index in generation, checked against the commitments by
 * the caller) for this challenge.  Otherwise -1 and err says which of:
 * "custodian index I out of range 1..255", "custodian I: public share is
 * not a valid group element", "custodian I: possession answer is not a
 * valid group element", "custodian I: possession proof does not verify". */
int vault_possession_verify(const unsigned char V[VAULT_POINT_BYTES],
                            unsigned int index,
                            const unsigned char tenant_id[VAULT_ID_BYTES],
                            uint32_t generation,
                            const unsigned char challenge[VAULT_POP_CHALLENGE_BYTES],
                            const unsigned char P[VAULT_POINT_BYTES],
                            const unsigned char proof[VAULT_POP_PROOF_BYTES],
                            char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
