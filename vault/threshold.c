/* vault/threshold.c — partials, Chaum-Pedersen proofs, Lagrange combination.
 *
 * What it does: a custodian turns an epoch's R into P_i = s_i·R plus a
 * proof of equal discrete logs with its public share V_i (vault/dleq.c, the
 * copy proofs of possession use too); the API verifies each proof and
 * combines k partials into S = t·R (see threshold.h).
 *
 * What it trusts: libsodium, and the caller for V_i (it must come from the
 * tenant's Feldman commitments, not from the custodian). It does not trust
 * partials, proofs or R: encodings are validated, the identity is refused
 * (libsodium 1.0.18 calls it valid), proof scalars must be canonical so a
 * proof has a single encoding, and indices must be distinct and 1..255.
 *
 * What it does not do: reconstruct t, or decide how many partials suffice
 * (the caller knows the tenant's k).
 */
#include "vault/threshold.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "vault/dleq.h"
#include "vault/err.h"
#include "vault/group.h"
#include "vault/mem.h"

#define CUSTODIAN_INDEX_MAX 255U
#define CHALLENGE_HASH_BYTES crypto_core_ristretto255_NONREDUCEDSCALARBYTES

static const unsigned char cp_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-cp-rel-v2";
static const unsigned char blind_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-blind-v1";
static const unsigned char blindpf_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-blindpf-1";

void
vault_release_ctx_init(vault_release_ctx *ctx,
    const unsigned char tenant_id[VAULT_ID_BYTES],
    const unsigned char matter_id[VAULT_ID_BYTES],
    const unsigned char epoch_id[VAULT_ID_BYTES], const unsigned char *recipient)
{
	memcpy(ctx->tenant_id, tenant_id, VAULT_ID_BYTES);
	memcpy(ctx->matter_id, matter_id, VAULT_ID_BYTES);
	memcpy(ctx->epoch_id, epoch_id, VAULT_ID_BYTES);
	if (recipient != NULL)
		memcpy(ctx->recipient, recipient, VAULT_RECIPIENT_BYTES);
	else
		memset(ctx->recipient, 0, VAULT_RECIPIENT_BYTES);
}

/* The release context, fixed-length fields in a fixed order. */
static int
ctx_absorb(crypto_generichash_blake2b_state *st, const vault_release_ctx *ctx)
{
	return crypto_generichash_blake2b_update(st, ctx->tenant_id,
	    VAULT_ID_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(st, ctx->matter_id,
	    VAULT_ID_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(st, ctx->epoch_id,
	    VAULT_ID_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(st, ctx->recipient,
	    VAULT_RECIPIENT_BYTES) != 0 ? -1 : 0;
}

/* The Chaum-Pedersen context of a partial (dleq.h): the release context,
 * then the custodian index as one byte — the layout threshold.h states. */
#define CP_CONTEXT_BYTES (3U * VAULT_ID_BYTES + VAULT_RECIPIENT_BYTES + 1U)

static void
cp_context(unsigned char out[CP_CONTEXT_BYTES], const vault_release_ctx *ctx,
    unsigned int index)
{
	memcpy(out, ctx->tenant_id, VAULT_ID_BYTES);
	memcpy(out + VAULT_ID_BYTES, ctx->matter_id, VAULT_ID_BYTES);
	memcpy(out + 2 * VAULT_ID_BYTES, ctx->epoch_id, VAULT_ID_BYTES);
	memcpy(out + 3 * VAULT_ID_BYTES, ctx->recipient, VAULT_RECIPIENT_BYTES);
	out[CP_CONTEXT_BYTES - 1] = (unsigned char)index;
}

int
vault_threshold_partial(const unsigned char share[VAULT_SCALAR_BYTES],
    unsigned int index, const vault_release_ctx *ctx,
    const unsigned char R[VAULT_POINT_BYTES],
    vault_partial *out, char *err, size_t err_len)
{
	unsigned char V[VAULT_POINT_BYTES];
	unsigned char cx[CP_CONTEXT_BYTES];
	int           rc = -1;

	if (out == NULL) {
		vault_err_set(err, err_len, "custodian %u: no output for the partial", index);
		return -1;
	}
	memset(out, 0, sizeof *out);

	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		goto fail;
	}
	if (index < 1 || index > CUSTODIAN_INDEX_MAX) {
		vault_err_set(err, err_len, "custodian index %u out of range 1..%u",
		    index, CUSTODIAN_INDEX_MAX);
		goto fail;
	}
	if (ctx == NULL) {
		vault_err_set(err, err_len, "custodian %u: no release context", index);
		goto fail;
	}
	if (R == NULL || !vault_point_usable(R)) {
		vault_err_set(err, err_len, "custodian %u: epoch R is not a valid group "
		    "element", index);
		goto fail;
	}
	if (share == NULL || !vault_scalar_usable(share)) {
		vault_err_set(err, err_len, "custodian %u: share is not a valid scalar", index);
		goto fail;
	}
	if (crypto_scalarmult_ristretto255_base(V, share) != 0 ||
	    crypto_scalarmult_ristretto255(out->P, share, R) != 0) {
		vault_err_set(err, err_len, "custodian %u: partial computation failed", index);
		goto fail;
	}

	cp_context(cx, ctx, index);
	if (vault_dleq_prove(cp_personal, share, V, R, out->P, cx, sizeof cx,
	    out->proof) != 0) {
		vault_err_set(err, err_len, "custodian %u: proof computation failed", index);
		goto fail;
	}
	out->index = index;
	rc = 0;
fail:
	if (rc != 0)
		sodium_memzero(out, sizeof *out);
	return rc;
}

int
vault_threshold_verify(const vault_partial *p,
    const unsigned char V[VAULT_POINT_BYTES], const vault_release_ctx *ctx,
    const unsigned char R[VAULT_POINT_BYTES],
    char *err, size_t err_len)
{
	unsigned char cx[CP_CONTEXT_BYTES];
	unsigned int  index;

	if (p == NULL || ctx == NULL) {
		vault_err_set(err, err_len, "no partial to verify");
		return -1;
	}
	index = p->index;
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if (index < 1 || index > CUSTODIAN_INDEX_MAX) {
		vault_err_set(err, err_len, "custodian index %u out of range 1..%u",
		    index, CUSTODIAN_INDEX_MAX);
		return -1;
	}
	if (R == NULL || !vault_point_usable(R)) {
		vault_err_set(err, err_len, "custodian %u: epoch R is not a valid group "
		    "element", index);
		return -1;
	}
	if (V == NULL || !vault_point_usable(V)) {
		vault_err_set(err, err_len, "custodian %u: public share is not a valid group "
		    "element", index);
		return -1;
	}
	if (!vault_point_usable(p->P)) {
		vault_err_set(err, err_len, "custodian %u: partial is not a valid group "
		    "element", index);
		return -1;
	}

	cp_context(cx, ctx, index);
	if (vault_dleq_verify(cp_personal, V, R, p->P, cx, sizeof cx,
	    p->proof) != 0) {
		vault_err_set(err, err_len, "custodian %u: partial proof does not verify",
		    index);
		return -1;
	}
	return 0;
}

int
vault_threshold_combine(const vault_partial *partials, size_t count,
    unsigned char S_out[VAULT_POINT_BYTES], char *err, size_t err_len)
{
	unsigned char seen[CUSTODIAN_INDEX_MAX + 1];
	unsigned int  idxs[CUSTODIAN_INDEX_MAX];
	unsigned char lambda[VAULT_SCALAR_BYTES];
	unsigned char term[VAULT_POINT_BYTES];
	unsigned char acc[VAULT_POINT_BYTES], sum[VAULT_POINT_BYTES];
	size_t        i;
	unsigned int  idx;
	int           rc = -1;

	memset(S_out, 0, VAULT_POINT_BYTES);
	memset(term, 0, sizeof term);
	memset(acc, 0, sizeof acc);
	memset(sum, 0, sizeof sum);
	memset(seen, 0, sizeof seen);

	if (partials == NULL || count < 1) {
		vault_err_set(err, err_len, "no partials to combine");
		goto fail;
	}
	if (count > CUSTODIAN_INDEX_MAX) {
		vault_err_set(err, err_len, "%zu partials, at most %u custodians exist",
		    count, CUSTODIAN_INDEX_MAX);
		goto fail;
	}
	for (i = 0; i < count; i++) {
		idx = partials[i].index;
		if (idx < 1 || idx > CUSTODIAN_INDEX_MAX) {
			vault_err_set(err, err_len, "custodian index %u out of range 1..%u",
			    idx, CUSTODIAN_INDEX_MAX);
			goto fail;
		}
		if (seen[idx]) {
			vault_err_set(err, err_len, "duplicate custodian index %u", idx);
			goto fail;
		}
		seen[idx] = 1;
		if (!vault_point_usable(partials[i].P)) {
			vault_err_set(err, err_len, "custodian %u: partial is not a valid group "
			    "element", idx);
			goto fail;
		}
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		goto fail;
	}

	for (i = 0; i < count; i++)
		idxs[i] = partials[i].index;
	/* Indices are distinct and below L, so no denominator is zero. */
	for (i = 0; i < count; i++) {
		if (vault_lagrange_at0(idxs, count, i, lambda) != 0) {
			vault_err_set(err, err_len, "internal: Lagrange denominator is zero");
			goto fail;
		}
		if (crypto_scalarmult_ristretto255(term, lambda, partials[i].P) != 0) {
			vault_err_set(err, err_len, "custodian %u: partial cannot be combined",
			    partials[i].index);
			goto fail;
		}
		if (i == 0)
			memcpy(acc, term, sizeof acc);
		else {
			if (crypto_core_ristretto255_add(sum, acc, term) != 0) {
				vault_err_set(err, err_len, "partials do not combine to a "
				    "valid group element");
				goto fail;
			}
			memcpy(acc, sum, sizeof acc);
		}
	}
	if (!vault_point_usable(acc)) {
		vault_err_set(err, err_len, "partials combine to the identity element");
		goto fail;
	}
	memcpy(S_out, acc, VAULT_POINT_BYTES);
	rc = 0;
fail:
	/* Partial sums of S are as sensitive as S itself. */
	sodium_memzero(term, sizeof term);
	sodium_memzero(acc, sizeof acc);
	sodium_memzero(sum, sizeof sum);
	if (rc != 0)
		sodium_memzero(S_out, VAULT_POINT_BYTES);
	return rc;
}

int
vault_threshold_unwrap(const unsigned char S[VAULT_POINT_BYTES],
    const unsigned char R[VAULT_POINT_BYTES],
    const unsigned char tenant_pk[VAULT_POINT_BYTES],
    const unsigned char tenant_id[VAULT_ID_BYTES],
    const unsigned char epoch_id[VAULT_ID_BYTES],
    const unsigned char wrapped[VAULT_WRAPPED_EK_BYTES],
    unsigned char ek_out[VAULT_EK_BYTES], char *err, size_t err_len)
{
	if (vault_ek_unwrap(S, R, tenant_pk, tenant_id, epoch_id, wrapped,
	    ek_out) != 0) {
		vault_err_set(err, err_len, "epoch key does not open: the partials do not "
		    "combine to this tenant's key, or R, the ids or the wrapped key "
		    "do not match");
		return -1;
	}
	return 0;
}

/* -- blinding ---------------------------------------------------------------- */

/* ρ for ctx from the matter's seed (keyed BLAKE2b-512, reduced).  Zero
 * has negligible probability and is refused all the same. */
static int
blind_scalar(unsigned char rho[VAULT_SCALAR_BYTES],
    const unsigned char seed[VAULT_BLIND_SEED_BYTES], const vault_release_ctx *ctx)
{
	crypto_generichash_blake2b_state st;
	unsigned char h[CHALLENGE_HASH_BYTES];
	int rc = -1;

	memset(rho, 0, VAULT_SCALAR_BYTES);
	if (crypto_generichash_blake2b_init_salt_personal(&st, seed,
	    VAULT_BLIND_SEED_BYTES, sizeof h, NULL, blind_personal) != 0 ||
	    ctx_absorb(&st, ctx) != 0 ||
	    crypto_generichash_blake2b_final(&st, h, sizeof h) != 0)
		goto fail;
	crypto_core_ristretto255_scalar_reduce(rho, h);
	rc = vault_scalar_usable(rho) ? 0 : -1;
fail:
	sodium_memzero(&st, sizeof st);
	sodium_memzero(h, sizeof h);
	if (rc != 0)
		sodium_memzero(rho, VAULT_SCALAR_BYTES);
	return rc;
}

static int
blind_challenge(unsigned char c[VAULT_SCALAR_BYTES],
    const unsigned char R[VAULT_POINT_BYTES], const unsigned char Rb[VAULT_POINT_BYTES],
    const unsigned char A[VAULT_POINT_BYTES], const vault_release_ctx *ctx)
{
	crypto_generichash_blake2b_state st;
	unsigned char one[VAULT_SCALAR_BYTES], B[VAULT_POINT_BYTES];
	unsigned char h[CHALLENGE_HASH_BYTES];
	int rc = -1;

	memset(c, 0, VAULT_SCALAR_BYTES);
	vault_scalar_from_index(one, 1);
	if (crypto_scalarmult_ristretto255_base(B, one) != 0 ||
	    crypto_generichash_blake2b_init_salt_personal(&st, NULL, 0, sizeof h,
	    NULL, blindpf_personal) != 0 ||
	    crypto_generichash_blake2b_update(&st, B, VAULT_POINT_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(&st, R, VAULT_POINT_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(&st, Rb, VAULT_POINT_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(&st, A, VAULT_POINT_BYTES) != 0 ||
	    ctx_absorb(&st, ctx) != 0 ||
	    crypto_generichash_blake2b_final(&st, h, sizeof h) != 0)
		goto fail;
	crypto_core_ristretto255_scalar_reduce(c, h);
	rc = 0;
fail:
	sodium_memzero(&st, sizeof st);
	return rc;
}

int
vault_blind_point(const unsigned char seed[VAULT_BLIND_SEED_BYTES],
    const vault_release_ctx *ctx, const unsigned char R[VAULT_POINT_BYTES],
    unsigned char Rb_out[VAULT_POINT_BYTES],
    unsigned char proof_out[VAULT_PROOF_BYTES], char *err, size_t err_len)
{
	unsigned char rho[VAULT_SCALAR_BYTES], k[VAULT_SCALAR_BYTES];
	unsigned char A[VAULT_POINT_BYTES], c[VAULT_SCALAR_BYTES];
	unsigned char cr[VAULT_SCALAR_BYTES], z[VAULT_SCALAR_BYTES];
	int rc = -1;

	memset(Rb_out, 0, VAULT_POINT_BYTES);
	memset(proof_out, 0, VAULT_PROOF_BYTES);
	memset(k, 0, sizeof k);
	memset(cr, 0, sizeof cr);
	memset(rho, 0, sizeof rho);
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		goto fail;
	}
	if (seed == NULL || ctx == NULL) {
		vault_err_set(err, err_len, "no blinding seed or release context");
		goto fail;
	}
	if (R == NULL || !vault_point_usable(R)) {
		vault_err_set(err, err_len, "epoch R is not a valid group element");
		goto fail;
	}
	if (blind_scalar(rho, seed, ctx) != 0 ||
	    crypto_scalarmult_ristretto255(Rb_out, rho, R) != 0) {
		vault_err_set(err, err_len, "blinding failed");
		goto fail;
	}
	crypto_core_ristretto255_scalar_random(k);
	if (crypto_scalarmult_ristretto255(A, k, R) != 0 ||
	    blind_challenge(c, R, Rb_out, A, ctx) != 0) {
		vault_err_set(err, err_len, "blinding proof failed");
		goto fail;
	}
	crypto_core_ristretto255_scalar_mul(cr, c, rho);
	crypto_core_ristretto255_scalar_add(z, k, cr);
	memcpy(proof_out, c, VAULT_SCALAR_BYTES);
	memcpy(proof_out + VAULT_SCALAR_BYTES, z, VAULT_SCALAR_BYTES);
	rc = 0;
fail:
	sodium_memzero(rho, sizeof rho);
	sodium_memzero(k, sizeof k);
	sodium_memzero(cr, sizeof cr);
	if (rc != 0) {
		sodium_memzero(Rb_out, VAULT_POINT_BYTES);
		sodium_memzero(proof_out, VAULT_PROOF_BYTES);
	}
	return rc;
}

int
vault_blind_verify(const vault_release_ctx *ctx,
    const unsigned char R[VAULT_POINT_BYTES], const unsigned char Rb[VAULT_POINT_BYTES],
    const unsigned char proof[VAULT_PROOF_BYTES], char *err, size_t err_len)
{
	const unsigned char *c, *z;
	unsigned char t1[VAULT_POINT_BYTES], t2[VAULT_POINT_BYTES];
	unsigned char A[VAULT_POINT_BYTES], c2[VAULT_SCALAR_BYTES];

	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if (ctx == NULL || proof == NULL) {
		vault_err_set(err, err_len, "no blinding proof or release context");
		return -1;
	}
	if (R == NULL || !vault_point_usable(R)) {
		vault_err_set(err, err_len, "epoch R is not a valid group element");
		return -1;
	}
	if (Rb == NULL || !vault_point_usable(Rb)) {
		vault_err_set(err, err_len, "blinded point is not a valid group element");
		return -1;
	}
	c = proof;
	z = proof + VAULT_SCALAR_BYTES;
	/* A = z·R − c·R' equals k·R for an honest proof. */
	if (!vault_scalar_usable(c) || !vault_scalar_usable(z) ||
	    crypto_scalarmult_ristretto255(t1, z, R) != 0 ||
	    crypto_scalarmult_ristretto255(t2, c, Rb) != 0 ||
	    crypto_core_ristretto255_sub(A, t1, t2) != 0 ||
	    blind_challenge(c2, R, Rb, A, ctx) != 0 ||
	    sodium_memcmp(c2, c, VAULT_SCALAR_BYTES) != 0) {
		vault_err_set(err, err_len, "the blinded point's proof does not verify "
		    "for this epoch's R");
		return -1;
	}
	return 0;
}

int
vault_blind_unblind(const unsigned char seed[VAULT_BLIND_SEED_BYTES],
    const vault_release_ctx *ctx, const unsigned char Sb[VAULT_POINT_BYTES],
    unsigned char S_out[VAULT_POINT_BYTES], char *err, size_t err_len)
{
	unsigned char rho[VAULT_SCALAR_BYTES], inv[VAULT_SCALAR_BYTES];
	int rc = -1;

	memset(S_out, 0, VAULT_POINT_BYTES);
	memset(inv, 0, sizeof inv);
	if (vault_init() != 0 || seed == NULL || ctx == NULL || Sb == NULL ||
	    !vault_point_usable(Sb)) {
		vault_err_set(err, err_len, "cannot unblind: invalid input");
		return -1;
	}
	if (blind_scalar(rho, seed, ctx) != 0 ||
	    crypto_core_ristretto255_scalar_invert(inv, rho) != 0 ||
	    crypto_scalarmult_ristretto255(S_out, inv, Sb) != 0) {
		vault_err_set(err, err_len, "cannot unblind the combined partials");
		goto fail;
	}
	rc = 0;
fail:
	sodium_memzero(rho, sizeof rho);
	sodium_memzero(inv, sizeof inv);
	if (rc != 0)
		sodium_memzero(S_out, VAULT_POINT_BYTES);
	return rc;
}
