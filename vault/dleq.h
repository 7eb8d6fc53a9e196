/* vault/dleq.h — Chaum-Pedersen proofs of equal discrete logs, the one
 * copy behind the custodian's release partials (vault/threshold.h) and its
 * proofs of possession (vault/possession.h).
 *
 * Statement: log_B X = log_G Y for the ristretto255 base point B (the
 * prover knows x with X = x·B and Y = x·G).
 *
 *   w random, A1 = w·B, A2 = w·G,
 *   c = reduce(BLAKE2b-512(personal; B ‖ X ‖ G ‖ Y ‖ A1 ‖ A2 ‖ context)),
 *   z = w + c·x,  proof = c ‖ z.
 *   verify: A1 = z·B − c·X, A2 = z·G − c·Y, recompute c.
 *
 * Every caller names its own 16-byte personal string (domain separation:
 * a proof made for one purpose never verifies for another) and its own
 * context bytes; the context must be of a fixed layout for that personal
 * string (plain concatenation, no lengths).  X, G and Y must be usable
 * elements (vault/group.h), c and z canonical non-zero scalars, so a proof
 * has a single encoding.
 */
#ifndef COFFER_VAULT_DLEQ_H
#define COFFER_VAULT_DLEQ_H

#include <stddef.h>

#include "vault/group.h"

#define VAULT_DLEQ_PERSONAL_BYTES 16U
#define VAULT_DLEQ_PROOF_BYTES    64U   /* c ‖ z (VAULT_PROOF_BYTES) */

/* proof_out for the secret x with X = x·B and Y = x·G (the caller
 * computed both: it needs them anyway).  0, or -1 (invalid input, or a
 * libsodium failure) with proof_out zeroed.  Wipes its nonce. */
int vault_dleq_prove(const unsigned char personal[VAULT_DLEQ_PERSONAL_BYTES],
                     const unsigned char x[VAULT_SCALAR_BYTES],
                     const unsigned char X[VAULT_POINT_BYTES],
                     const unsigned char G[VAULT_POINT_BYTES],
                     const unsigned char Y[VAULT_POINT_BYTES],
                     const unsigned char *context, size_t context_len,
                     unsigned char proof_out[VAULT_DLEQ_PROOF_BYTES])
    __attribute__((warn_unused_result));

/* 0 when proof shows log_B X = log_G Y for (personal, context); -1 for
 * anything else (an unusable element or scalar included).  The caller
 * words the refusal. */
int vault_dleq_verify(const unsigned char personal[VAULT_DLEQ_PERSONAL_BYTES],
                      const unsigned char X[VAULT_POINT_BYTES],
                      const unsigned char G[VAULT_POINT_BYTES],
                      const unsigned char Y[VAULT_POINT_BYTES],
                      const unsigned char *context, size_t context_len,
                      const unsigned char proof[VAULT_DLEQ_PROOF_BYTES])
    __attribute__((warn_unused_result));

#endif
