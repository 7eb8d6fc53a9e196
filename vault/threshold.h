/* vault/threshold.h — threshold release of epoch keys, blinded.
 *
 * A release is bound to its context: tenant, matter, epoch and the
 * production recipient's X25519 key frozen when the matter was created
 * (vault_release_ctx).  The real epoch point R is never answered directly:
 *
 *   blinding (API):   ρ = reduce(BLAKE2b-512(key = matter seed, personal
 *                     "coffer-blind-v1"; tenant ‖ matter ‖ epoch ‖ recipient)),
 *                     R' = ρ·R, with a Schnorr proof that the API knows
 *                     log_R R' (so R' is useful only for this epoch's R):
 *                     k random, A = k·R,
 *                     c = reduce(BLAKE2b-512(personal "coffer-blindpf-1";
 *                         B ‖ R ‖ R' ‖ A ‖ context)), z = k + c·ρ.
 *   partial (custodian, share s_i, index i, V_i = s_i·B):
 *                     P'_i = s_i·R' and a Chaum-Pedersen proof that
 *                     log_B V_i = log_R' P'_i:
 *                     w random, A1 = w·B, A2 = w·R',
 *                     c = reduce(BLAKE2b-512(personal "coffer-cp-rel-v2";
 *                         B ‖ V_i ‖ R' ‖ P'_i ‖ A1 ‖ A2 ‖ context ‖ i)),
 *                     z = w + c·s_i,  proof = c ‖ z.
 *   combine (API):    S' = Σ λ_i·P'_i = t·ρ·R (Lagrange at 0), then
 *                     S = ρ⁻¹·S' = t·R unwraps the epoch key.
 *
 * Why: K unblinded partials s_i·R combine to t·R for anyone who holds them,
 * so storing them (approvals, audit events, API responses, backups) would
 * store the release itself.  Blinded partials and both proofs are safe to
 * store, log and audit: without ρ they combine only to ρ·t·R.  An auditor
 * still checks offline which custodian answered which epoch of which
 * matter for which recipient (both proofs verify from stored values).
 * t is never reconstructed; ρ lives only as long as the matter's seed.
 */
#ifndef COFFER_VAULT_THRESHOLD_H
#define COFFER_VAULT_THRESHOLD_H

#include <stddef.h>

#include "vault/wrap.h"

#define VAULT_PROOF_BYTES 64U   /* c ‖ z */

#define VAULT_BLIND_SEED_BYTES 32U
#define VAULT_RECIPIENT_BYTES  32U   /* X25519 public key (VAULT_BOX_PK_BYTES) */

/* What a release is bound to.  Every proof covers all four. */
typedef struct vault_release_ctx {
	unsigned char tenant_id[VAULT_ID_BYTES];
	unsigned char matter_id[VAULT_ID_BYTES];
	unsigned char epoch_id[VAULT_ID_BYTES];
	unsigned char recipient[VAULT_RECIPIENT_BYTES];
} vault_release_ctx;

/* ctx from its parts; recipient NULL: 32 zero bytes (tests and tools that
 * compute partials outside a matter). */
void vault_release_ctx_init(vault_release_ctx *ctx,
                            const unsigned char tenant_id[VAULT_ID_BYTES],
                            const unsigned char matter_id[VAULT_ID_BYTES],
                            const unsigned char epoch_id[VAULT_ID_BYTES],
                            const unsigned char *recipient);

/* One custodian's answer for one epoch, on the blinded point R'; plain
 * data, safe to store and log (useless without the matter's seed). */
typedef struct vault_partial {
	unsigned int  index;                       /* custodian index, 1..255 */
	unsigned char P[VAULT_POINT_BYTES];        /* s_i·R' */
	unsigned char proof[VAULT_PROOF_BYTES];    /* Chaum-Pedersen c ‖ z */
} vault_partial;

/* API side: R' = ρ·R for ctx from the matter's seed, and the proof that
 * the API knows log_R R'.  Deterministic in R' (ρ depends only on seed and
 * ctx); the proof is randomised.  Refuses an invalid R. */
int vault_blind_point(const unsigned char seed[VAULT_BLIND_SEED_BYTES],
                      const vault_release_ctx *ctx,
                      const unsigned char R[VAULT_POINT_BYTES],
                      unsigned char Rb_out[VAULT_POINT_BYTES],
                      unsigned char proof_out[VAULT_PROOF_BYTES],
                      char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Anyone: check that Rb is a known multiple of R for ctx (custodians do
 * before answering; auditors offline).  0 when the proof verifies. */
int vault_blind_verify(const vault_release_ctx *ctx,
                       const unsigned char R[VAULT_POINT_BYTES],
                       const unsigned char Rb[VAULT_POINT_BYTES],
                       const unsigned char proof[VAULT_PROOF_BYTES],
                       char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* API side: S = ρ⁻¹·Sb for ctx.  S_out zeroed on failure. */
int vault_blind_unblind(const unsigned char seed[VAULT_BLIND_SEED_BYTES],
                        const vault_release_ctx *ctx,
                        const unsigned char Sb[VAULT_POINT_BYTES],
                        unsigned char S_out[VAULT_POINT_BYTES],
                        char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Custodian side: P = s_i·R and its proof for (ctx, index).  R is the point
 * the custodian was asked to answer (the blinded R' in a release).  Refuses
 * an invalid R or share; *out is zeroed on failure. */
int vault_threshold_partial(const unsigned char share[VAULT_SCALAR_BYTES],
                            unsigned int index,
                            const vault_release_ctx *ctx,
                            const unsigned char R[VAULT_POINT_BYTES],
                            vault_partial *out,
                            char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* API side: check p against custodian p->index's public share V (from the
 * tenant's commitments) for ctx and the answered point R (R').  0 when
 * valid; otherwise err names the custodian ("custodian 2: partial proof
 * does not verify"). */
int vault_threshold_verify(const vault_partial *p,
                           const unsigned char V[VAULT_POINT_BYTES],
                           const vault_release_ctx *ctx,
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
