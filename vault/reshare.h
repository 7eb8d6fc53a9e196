/* vault/reshare.h — re-sharing a tenant key among new custodians without
 * ever rebuilding it (proactive redistribution, issue 16).
 *
 * Old generation: shares s_i of t (threshold K), public shares V_i = s_i·B.
 * New generation: N' custodians, threshold K', indices 1..N'.
 *
 *   dealer i (an old custodian, locally):
 *       g_i(x) = s_i + b_1·x + … + b_{K'-1}·x^{K'-1}, b random
 *       E_{i,m} = b_m·B  (E_{i,0} = s_i·B = V_i)     — public
 *       u_{i,j} = g_i(j) sealed to recipient j's X25519 key, bound to
 *       (tenant, re-share, from generation, K', N', i, j) — public
 *   recipient j (a new custodian, locally): opens u_{i,j} and checks
 *       E_{i,0} = V_i (the dealer deals its own share) and
 *       u_{i,j}·B = Σ_m E_{i,m}·j^m (Feldman); a dealing that fails is
 *       reported and its dealer excluded.
 *   qualified set Q (K dealers that every recipient accepted):
 *       s'_j = Σ_{i∈Q} λ_i·u_{i,j}            (recipient j, locally)
 *       C'_m = Σ_{i∈Q} λ_i·E_{i,m}            (anyone, public)
 *       C'_0 = Σ λ_i·V_i = t·B = T            (checked by every step)
 *
 * t exists nowhere: each dealer handles only its own s_i and the
 * polynomial hiding it; each recipient only its own sub-shares and s'_j.
 * Any K-1 sub-shares of a dealing reveal nothing about s_i (the b are
 * uniform), so K'-1 new custodians learn nothing about t; mixing old and
 * new shares gives nothing either: they lie on different polynomials.
 * What re-sharing cannot do: make K *old* shares useless — they still
 * interpolate t.  Retired shares are refused by the API; a compromise of
 * K old shares needs a new key (rotation), not a re-share.
 *
 * The transcript digest binds the plan (tenant, re-share, generation, K',
 * N', every recipient key) and every dealing seen (dealer index and
 * commitments, ascending).  Every participant computes it from what it
 * was served; the API finalises only when all recipients report the same
 * digest, and custodians can compare its short form out of band (an API
 * that showed different dealings to different people is caught there).
 */
#ifndef COFFER_VAULT_RESHARE_H
#define COFFER_VAULT_RESHARE_H

#include <stddef.h>

#include <sodium.h>

#include "vault/group.h"
#include "vault/wrap.h"

#define VAULT_RESHARE_PK_BYTES      32U   /* X25519 public key */
#define VAULT_RESHARE_SK_BYTES      32U   /* X25519 secret key */
#define VAULT_RESHARE_SEALED_BYTES  (crypto_box_SEALBYTES + 64U)   /* 112 */
#define VAULT_RESHARE_DIGEST_BYTES  32U

/* What a re-share is: every sealed sub-share and the transcript cover it. */
typedef struct vault_reshare_ctx {
	unsigned char tenant_id[VAULT_ID_BYTES];
	unsigned char reshare_id[VAULT_ID_BYTES];
	unsigned int  from_generation;   /* the dealers' generation, >= 1 */
	unsigned int  k_new;             /* K', 2..N' */
	unsigned int  n_new;             /* N', 2..255 */
} vault_reshare_ctx;

/* 0 when ctx is well formed (K' >= 2, K' <= N' <= 255, generation >= 1);
 * else -1 with the reason. */
int vault_reshare_ctx_check(const vault_reshare_ctx *ctx, char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Dealer: split share s_i into N' sub-shares with threshold K'.
 * commitments_out: K' points (E_0 = s_i·B first); subshares_out: N'
 * scalars (recipient 1 first) in vault_secure_alloc memory. */
int vault_reshare_deal(const vault_reshare_ctx *ctx,
                       const unsigned char share[VAULT_SCALAR_BYTES],
                       unsigned char *commitments_out, size_t commitments_len,
                       unsigned char *subshares_out, size_t subshares_len,
                       char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Dealer: seal sub-share u_{dealer,recipient} to the recipient's key. */
int vault_reshare_seal(const vault_reshare_ctx *ctx, unsigned int dealer,
                       unsigned int recipient,
                       const unsigned char pk[VAULT_RESHARE_PK_BYTES],
                       const unsigned char subshare[VAULT_SCALAR_BYTES],
                       unsigned char out[VAULT_RESHARE_SEALED_BYTES],
                       char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Recipient: open a sealed sub-share; refuses one sealed for another slot
 * (dealer, recipient, re-share) or another key.  subshare_out zeroed on
 * failure. */
int vault_reshare_open(const vault_reshare_ctx *ctx, unsigned int dealer,
                       unsigned int recipient,
                       const unsigned char pk[VAULT_RESHARE_PK_BYTES],
                       const unsigned char sk[VAULT_RESHARE_SK_BYTES],
                       const unsigned char *sealed, size_t sealed_len,
                       unsigned char subshare_out[VAULT_SCALAR_BYTES],
                       char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Anyone: a dealing's public part is well formed — K' usable points and
 * E_0 equal to the dealer's public share V of the old generation. */
int vault_reshare_check_dealing(const vault_reshare_ctx *ctx,
                                const unsigned char *commitments, size_t commitments_len,
                                const unsigned char V_dealer[VAULT_POINT_BYTES],
                                char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Recipient: the dealing checks (above) and u·B = Σ_m E_m·recipient^m. */
int vault_reshare_check_subshare(const vault_reshare_ctx *ctx,
                                 const unsigned char *commitments, size_t commitments_len,
                                 const unsigned char V_dealer[VAULT_POINT_BYTES],
                                 unsigned int recipient,
                                 const unsigned char subshare[VAULT_SCALAR_BYTES],
                                 char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Recipient: s' = Σ λ_i·u_i over the qualified dealers (distinct indices,
 * count >= 1; the caller checks count equals the old threshold).
 * subshares: count scalars in the order of dealers. */
int vault_reshare_combine(const unsigned int *dealers, size_t count,
                          const unsigned char *subshares,
                          unsigned char share_out[VAULT_SCALAR_BYTES],
                          char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Anyone: C'_m = Σ λ_i·E_{i,m} over the qualified dealers; commitments:
 * count dealings of K' points each, in the order of dealers; out: K'
 * points.  Refuses a result whose C'_0 differs from T. */
int vault_reshare_commitments(const vault_reshare_ctx *ctx,
                              const unsigned int *dealers, size_t count,
                              const unsigned char *commitments,
                              const unsigned char T[VAULT_POINT_BYTES],
                              unsigned char *out, size_t out_len,
                              char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Anyone: the transcript digest (see above).  recipient_pks: N' keys in
 * index order; dealers ascending, each with K' commitments in
 * commitments (count * K' points). */
int vault_reshare_transcript(const vault_reshare_ctx *ctx,
                             const unsigned char *recipient_pks,
                             const unsigned int *dealers, size_t count,
                             const unsigned char *commitments,
                             unsigned char out[VAULT_RESHARE_DIGEST_BYTES],
                             char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* The digest's short form for people to compare: 4 groups of 4 hex digits
 * ("3f2a-91c0-77de-0b14"); out_len >= 20. */
void vault_reshare_digest_short(const unsigned char d[VAULT_RESHARE_DIGEST_BYTES],
                                char *out, size_t out_len);

#endif
