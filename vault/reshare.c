/* vault/reshare.c — see reshare.h.
 *
 * Trusts: libsodium.  Does not trust any commitment, sealed sub-share,
 * index or key handed in: every point is checked usable, every index
 * range-checked, every sub-share checked against its dealing before it
 * is combined.  Secret intermediates (sub-shares, weighted terms, the new
 * share) live in caller-provided secure memory or on the stack and are
 * wiped.
 */
#include "vault/reshare.h"

#include <stdio.h>
#include <string.h>

#include "vault/err.h"
#include "vault/mem.h"
#include "vault/tenant.h"

static const unsigned char sub_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-resh-sub1";
static const unsigned char tx_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-resh-tx-1";

static void
u32le(unsigned char b[4], unsigned int v)
{
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
}

/* tenant ‖ reshare ‖ from_generation ‖ K' ‖ N' (u32 LE each). */
static int
ctx_absorb(crypto_generichash_blake2b_state *st, const vault_reshare_ctx *ctx)
{
	unsigned char b[12];

	u32le(b, ctx->from_generation);
	u32le(b + 4, ctx->k_new);
	u32le(b + 8, ctx->n_new);
	return crypto_generichash_blake2b_update(st, ctx->tenant_id, VAULT_ID_BYTES) ||
	    crypto_generichash_blake2b_update(st, ctx->reshare_id, VAULT_ID_BYTES) ||
	    crypto_generichash_blake2b_update(st, b, sizeof b);
}

int
vault_reshare_ctx_check(const vault_reshare_ctx *ctx, char *err, size_t err_len)
{
	if (ctx == NULL) {
		vault_err_set(err, err_len, "re-share: no context");
		return -1;
	}
	if (ctx->from_generation < 1) {
		vault_err_set(err, err_len, "re-share: generation must be at least 1");
		return -1;
	}
	if (ctx->n_new < 2 || ctx->n_new > VAULT_CUSTODIANS_MAX) {
		vault_err_set(err, err_len, "re-share: %u new custodians, 2..%u "
		    "allowed", ctx->n_new, VAULT_CUSTODIANS_MAX);
		return -1;
	}
	if (ctx->k_new < 2 || ctx->k_new > ctx->n_new) {
		vault_err_set(err, err_len, "re-share: new threshold %u must be "
		    "2..%u (the new custodian count)", ctx->k_new, ctx->n_new);
		return -1;
	}
	return 0;
}

int
vault_reshare_deal(const vault_reshare_ctx *ctx,
    const unsigned char share[VAULT_SCALAR_BYTES],
    unsigned char *commitments_out, size_t commitments_len,
    unsigned char *subshares_out, size_t subshares_len,
    char *err, size_t err_len)
{
	char msg[256];

	if (vault_reshare_ctx_check(ctx, err, err_len) != 0)
		return -1;
	if (commitments_out == NULL || subshares_out == NULL ||
	    commitments_len != (size_t)ctx->k_new * VAULT_POINT_BYTES ||
	    subshares_len != (size_t)ctx->n_new * VAULT_SCALAR_BYTES) {
		vault_err_set(err, err_len, "re-share: output buffers do not fit "
		    "K'=%u, N'=%u", ctx->k_new, ctx->n_new);
		return -1;
	}
	if (share == NULL || !vault_scalar_usable(share)) {
		vault_err_set(err, err_len, "re-share: the share is not a usable scalar");
		return -1;
	}
	if (vault_shamir_split(share, ctx->k_new, ctx->n_new, commitments_out,
	    subshares_out, msg, sizeof msg) != 0) {
		vault_err_set(err, err_len, "re-share: %s", msg);
		return -1;
	}
	return 0;
}

/* BLAKE2b-256 over ctx ‖ dealer ‖ recipient: the slot a sub-share is for. */
static int
slot_bind(unsigned char out[32], const vault_reshare_ctx *ctx,
    unsigned int dealer, unsigned int recipient)
{
	crypto_generichash_blake2b_state st;
	unsigned char b[8];
	int rc;

	u32le(b, dealer);
	u32le(b + 4, recipient);
	rc = crypto_generichash_blake2b_init_salt_personal(&st, NULL, 0, 32, NULL,
	    sub_personal) != 0 || ctx_absorb(&st, ctx) != 0 ||
	    crypto_generichash_blake2b_update(&st, b, sizeof b) != 0 ||
	    crypto_generichash_blake2b_final(&st, out, 32) != 0 ? -1 : 0;
	sodium_memzero(&st, sizeof st);
	return rc;
}

static int
slot_check(const vault_reshare_ctx *ctx, unsigned int dealer,
    unsigned int recipient, char *err, size_t err_len)
{
	if (vault_reshare_ctx_check(ctx, err, err_len) != 0)
		return -1;
	if (dealer < 1 || dealer > VAULT_CUSTODIANS_MAX) {
		vault_err_set(err, err_len, "re-share: dealer index %u out of range "
		    "1..%u", dealer, VAULT_CUSTODIANS_MAX);
		return -1;
	}
	if (recipient < 1 || recipient > ctx->n_new) {
		vault_err_set(err, err_len, "re-share: recipient index %u out of "
		    "range 1..%u", recipient, ctx->n_new);
		return -1;
	}
	return 0;
}

int
vault_reshare_seal(const vault_reshare_ctx *ctx, unsigned int dealer,
    unsigned int recipient, const unsigned char pk[VAULT_RESHARE_PK_BYTES],
    const unsigned char subshare[VAULT_SCALAR_BYTES],
    unsigned char out[VAULT_RESHARE_SEALED_BYTES], char *err, size_t err_len)
{
	unsigned char pt[64];
	int rc = -1;

	memset(out, 0, VAULT_RESHARE_SEALED_BYTES);
	if (slot_check(ctx, dealer, recipient, err, err_len) != 0)
		return -1;
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if (pk == NULL || sodium_is_zero(pk, VAULT_RESHARE_PK_BYTES)) {
		vault_err_set(err, err_len, "re-share: recipient %u has no key",
		    recipient);
		return -1;
	}
	if (subshare == NULL || !vault_scalar_usable(subshare)) {
		vault_err_set(err, err_len, "re-share: sub-share for recipient %u is "
		    "not a usable scalar", recipient);
		return -1;
	}
	if (slot_bind(pt, ctx, dealer, recipient) != 0) {
		vault_err_set(err, err_len, "re-share: hashing failed");
		goto out;
	}
	memcpy(pt + 32, subshare, VAULT_SCALAR_BYTES);
	if (crypto_box_seal(out, pt, sizeof pt, pk) != 0) {
		vault_err_set(err, err_len, "re-share: cannot seal to recipient %u's "
		    "key", recipient);
		memset(out, 0, VAULT_RESHARE_SEALED_BYTES);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(pt, sizeof pt);
	return rc;
}

int
vault_reshare_open(const vault_reshare_ctx *ctx, unsigned int dealer,
    unsigned int recipient, const unsigned char pk[VAULT_RESHARE_PK_BYTES],
    const unsigned char sk[VAULT_RESHARE_SK_BYTES],
    const unsigned char *sealed, size_t sealed_len,
    unsigned char subshare_out[VAULT_SCALAR_BYTES], char *err, size_t err_len)
{
	unsigned char pt[64], bind[32];
	int rc = -1;

	memset(subshare_out, 0, VAULT_SCALAR_BYTES);
	if (slot_check(ctx, dealer, recipient, err, err_len) != 0)
		return -1;
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if (sealed == NULL || sealed_len != VAULT_RESHARE_SEALED_BYTES) {
		vault_err_set(err, err_len, "dealer %u: sealed sub-share is %zu bytes, "
		    "expected %u", dealer, sealed == NULL ? (size_t)0 : sealed_len,
		    (unsigned)VAULT_RESHARE_SEALED_BYTES);
		return -1;
	}
	if (crypto_box_seal_open(pt, sealed, sealed_len, pk, sk) != 0) {
		vault_err_set(err, err_len, "dealer %u: sealed sub-share does not open "
		    "with this recipient key", dealer);
		goto out;
	}
	if (slot_bind(bind, ctx, dealer, recipient) != 0 ||
	    sodium_memcmp(bind, pt, sizeof bind) != 0) {
		vault_err_set(err, err_len, "dealer %u: sub-share was sealed for "
		    "another slot (re-share, dealer or recipient)", dealer);
		goto out;
	}
	if (!vault_scalar_usable(pt + 32)) {
		vault_err_set(err, err_len, "dealer %u: sub-share is not a usable "
		    "scalar", dealer);
		goto out;
	}
	memcpy(subshare_out, pt + 32, VAULT_SCALAR_BYTES);
	rc = 0;
out:
	sodium_memzero(pt, sizeof pt);
	return rc;
}

int
vault_reshare_check_dealing(const vault_reshare_ctx *ctx,
    const unsigned char *commitments, size_t commitments_len,
    const unsigned char V_dealer[VAULT_POINT_BYTES], char *err, size_t err_len)
{
	size_t m;

	if (vault_reshare_ctx_check(ctx, err, err_len) != 0)
		return -1;
	if (commitments == NULL ||
	    commitments_len != (size_t)ctx->k_new * VAULT_POINT_BYTES) {
		vault_err_set(err, err_len, "%zu commitments, expected K'=%u",
		    commitments == NULL ? (size_t)0 : commitments_len / VAULT_POINT_BYTES,
		    ctx->k_new);
		return -1;
	}
	for (m = 0; m < ctx->k_new; m++)
		if (!vault_point_usable(commitments + m * VAULT_POINT_BYTES)) {
			vault_err_set(err, err_len, "commitment E_%zu is not a valid "
			    "group element", m);
			return -1;
		}
	if (V_dealer == NULL || sodium_memcmp(commitments, V_dealer,
	    VAULT_POINT_BYTES) != 0) {
		vault_err_set(err, err_len, "E_0 is not the dealer's public share: "
		    "the dealing is not of the dealer's own share");
		return -1;
	}
	return 0;
}

int
vault_reshare_check_subshare(const vault_reshare_ctx *ctx,
    const unsigned char *commitments, size_t commitments_len,
    const unsigned char V_dealer[VAULT_POINT_BYTES], unsigned int recipient,
    const unsigned char subshare[VAULT_SCALAR_BYTES], char *err, size_t err_len)
{
	char msg[256];

	if (vault_reshare_check_dealing(ctx, commitments, commitments_len,
	    V_dealer, err, err_len) != 0)
		return -1;
	if (recipient < 1 || recipient > ctx->n_new) {
		vault_err_set(err, err_len, "recipient index %u out of range 1..%u",
		    recipient, ctx->n_new);
		return -1;
	}
	if (vault_tenant_verify_share(commitments, commitments_len, recipient,
	    subshare, msg, sizeof msg) != 0) {
		vault_err_set(err, err_len, "sub-share does not match the dealer's "
		    "commitments");
		return -1;
	}
	return 0;
}

/* Distinct dealer indices 1..255. */
static int
dealers_check(const unsigned int *dealers, size_t count, char *err,
    size_t err_len)
{
	unsigned char seen[VAULT_CUSTODIANS_MAX + 1];
	size_t i;

	if (dealers == NULL || count < 1 || count > VAULT_CUSTODIANS_MAX) {
		vault_err_set(err, err_len, "re-share: %zu qualified dealers, "
		    "1..%u allowed", dealers == NULL ? (size_t)0 : count,
		    VAULT_CUSTODIANS_MAX);
		return -1;
	}
	memset(seen, 0, sizeof seen);
	for (i = 0; i < count; i++) {
		if (dealers[i] < 1 || dealers[i] > VAULT_CUSTODIANS_MAX) {
			vault_err_set(err, err_len, "re-share: dealer index %u out of "
			    "range 1..%u", dealers[i], VAULT_CUSTODIANS_MAX);
			return -1;
		}
		if (seen[dealers[i]]) {
			vault_err_set(err, err_len, "re-share: dealer %u listed twice",
			    dealers[i]);
			return -1;
		}
		seen[dealers[i]] = 1;
	}
	return 0;
}

int
vault_reshare_combine(const unsigned int *dealers, size_t count,
    const unsigned char *subshares, unsigned char share_out[VAULT_SCALAR_BYTES],
    char *err, size_t err_len)
{
	unsigned char lambda[VAULT_SCALAR_BYTES], term[VAULT_SCALAR_BYTES];
	unsigned char acc[VAULT_SCALAR_BYTES], sum[VAULT_SCALAR_BYTES];
	size_t i;
	int rc = -1;

	memset(share_out, 0, VAULT_SCALAR_BYTES);
	memset(acc, 0, sizeof acc);
	if (dealers_check(dealers, count, err, err_len) != 0)
		return -1;
	if (subshares == NULL) {
		vault_err_set(err, err_len, "re-share: no sub-shares");
		return -1;
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (vault_lagrange_at0(dealers, count, i, lambda) != 0) {
			vault_err_set(err, err_len, "internal: Lagrange denominator is zero");
			goto out;
		}
		crypto_core_ristretto255_scalar_mul(term, lambda,
		    subshares + i * VAULT_SCALAR_BYTES);
		crypto_core_ristretto255_scalar_add(sum, acc, term);
		memcpy(acc, sum, sizeof acc);
	}
	if (!vault_scalar_usable(acc)) {
		vault_err_set(err, err_len, "re-share: the new share is degenerate");
		goto out;
	}
	memcpy(share_out, acc, VAULT_SCALAR_BYTES);
	rc = 0;
out:
	sodium_memzero(term, sizeof term);
	sodium_memzero(acc, sizeof acc);
	sodium_memzero(sum, sizeof sum);
	return rc;
}

int
vault_reshare_commitments(const vault_reshare_ctx *ctx,
    const unsigned int *dealers, size_t count, const unsigned char *commitments,
    const unsigned char T[VAULT_POINT_BYTES], unsigned char *out, size_t out_len,
    char *err, size_t err_len)
{
	unsigned char lambda[VAULT_SCALAR_BYTES], term[VAULT_POINT_BYTES];
	unsigned char sum[VAULT_POINT_BYTES];
	size_t i, m, K;

	if (out != NULL)
		memset(out, 0, out_len);
	if (vault_reshare_ctx_check(ctx, err, err_len) != 0 ||
	    dealers_check(dealers, count, err, err_len) != 0)
		return -1;
	K = ctx->k_new;
	if (out == NULL || out_len != K * VAULT_POINT_BYTES || commitments == NULL) {
		vault_err_set(err, err_len, "re-share: commitment buffers do not fit "
		    "K'=%zu", K);
		return -1;
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (vault_lagrange_at0(dealers, count, i, lambda) != 0) {
			vault_err_set(err, err_len, "internal: Lagrange denominator is zero");
			goto fail;
		}
		for (m = 0; m < K; m++) {
			const unsigned char *E = commitments + (i * K + m) * VAULT_POINT_BYTES;
			unsigned char *C = out + m * VAULT_POINT_BYTES;

			if (!vault_point_usable(E) ||
			    crypto_scalarmult_ristretto255(term, lambda, E) != 0) {
				vault_err_set(err, err_len, "dealer %u: commitment E_%zu is "
				    "not a valid group element", dealers[i], m);
				goto fail;
			}
			if (i == 0)
				memcpy(C, term, VAULT_POINT_BYTES);
			else if (crypto_core_ristretto255_add(sum, C, term) != 0) {
				vault_err_set(err, err_len, "re-share: commitments do not "
				    "combine");
				goto fail;
			} else
				memcpy(C, sum, VAULT_POINT_BYTES);
		}
	}
	for (m = 0; m < K; m++)
		if (!vault_point_usable(out + m * VAULT_POINT_BYTES)) {
			vault_err_set(err, err_len, "re-share: new commitment C'_%zu is "
			    "the identity", m);
			goto fail;
		}
	if (T == NULL || sodium_memcmp(out, T, VAULT_POINT_BYTES) != 0) {
		vault_err_set(err, err_len, "re-share: the new commitments do not "
		    "give the tenant key T (C'_0 != T): the qualified dealings are "
		    "not of this key's shares");
		goto fail;
	}
	return 0;
fail:
	memset(out, 0, out_len);
	return -1;
}

int
vault_reshare_transcript(const vault_reshare_ctx *ctx,
    const unsigned char *recipient_pks, const unsigned int *dealers, size_t count,
    const unsigned char *commitments, unsigned char out[VAULT_RESHARE_DIGEST_BYTES],
    char *err, size_t err_len)
{
	crypto_generichash_blake2b_state st;
	unsigned char b[4];
	size_t i;
	int bad = 0;

	memset(out, 0, VAULT_RESHARE_DIGEST_BYTES);
	if (vault_reshare_ctx_check(ctx, err, err_len) != 0)
		return -1;
	if (recipient_pks == NULL || (count > 0 && (dealers == NULL ||
	    commitments == NULL)) || count > VAULT_CUSTODIANS_MAX) {
		vault_err_set(err, err_len, "re-share: transcript inputs missing");
		return -1;
	}
	for (i = 1; i < count; i++)
		if (dealers[i] <= dealers[i - 1]) {
			vault_err_set(err, err_len, "re-share: transcript dealers not "
			    "in ascending order");
			return -1;
		}
	if (crypto_generichash_blake2b_init_salt_personal(&st, NULL, 0,
	    VAULT_RESHARE_DIGEST_BYTES, NULL, tx_personal) != 0 ||
	    ctx_absorb(&st, ctx) != 0 ||
	    crypto_generichash_blake2b_update(&st, recipient_pks,
	    (size_t)ctx->n_new * VAULT_RESHARE_PK_BYTES) != 0)
		bad = 1;
	u32le(b, (unsigned int)count);
	bad |= crypto_generichash_blake2b_update(&st, b, sizeof b) != 0;
	for (i = 0; i < count && !bad; i++) {
		u32le(b, dealers[i]);
		bad |= crypto_generichash_blake2b_update(&st, b, sizeof b) != 0;
		bad |= crypto_generichash_blake2b_update(&st,
		    commitments + i * (size_t)ctx->k_new * VAULT_POINT_BYTES,
		    (size_t)ctx->k_new * VAULT_POINT_BYTES) != 0;
	}
	if (bad || crypto_generichash_blake2b_final(&st, out,
	    VAULT_RESHARE_DIGEST_BYTES) != 0) {
		memset(out, 0, VAULT_RESHARE_DIGEST_BYTES);
		vault_err_set(err, err_len, "re-share: hashing failed");
		sodium_memzero(&st, sizeof st);
		return -1;
	}
	sodium_memzero(&st, sizeof st);
	return 0;
}

void
vault_reshare_digest_short(const unsigned char d[VAULT_RESHARE_DIGEST_BYTES],
    char *out, size_t out_len)
{
	if (out == NULL || out_len == 0)
		return;
	snprintf(out, out_len, "%02x%02x-%02x%02x-%02x%02x-%02x%02x",
	    d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
}
