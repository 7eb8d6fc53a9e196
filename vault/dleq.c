/* vault/dleq.c — Chaum-Pedersen proofs of equal discrete logs (dleq.h).
 *
 * What it does: proves and verifies log_B X = log_G Y under a caller's
 * personal string and context, for threshold.c (release partials) and
 * possession.c (proofs of possession).
 *
 * What it trusts: libsodium, and the caller for the meaning of X (a
 * custodian's public share must come from the tenant's commitments).  It
 * does not trust G, Y or the proof: encodings are validated, the identity
 * is refused, and c and z must be canonical, so a proof has one encoding.
 *
 * What it does not do: word errors (each caller names its custodian and
 * its object), or check that context has the layout its personal string
 * promises.
 */
#include "vault/dleq.h"

#include <string.h>

#include <sodium.h>

#include "vault/mem.h"

#define DLEQ_HASH_BYTES crypto_core_ristretto255_NONREDUCEDSCALARBYTES

_Static_assert(VAULT_DLEQ_PERSONAL_BYTES ==
    crypto_generichash_blake2b_PERSONALBYTES, "personal size");

/* Fiat-Shamir challenge; every point is fixed-length and the context's
 * layout is fixed per personal string, so concatenation is unambiguous. */
static int
dleq_challenge(unsigned char c[VAULT_SCALAR_BYTES],
    const unsigned char personal[VAULT_DLEQ_PERSONAL_BYTES],
    const unsigned char X[VAULT_POINT_BYTES], const unsigned char G[VAULT_POINT_BYTES],
    const unsigned char Y[VAULT_POINT_BYTES], const unsigned char A1[VAULT_POINT_BYTES],
    const unsigned char A2[VAULT_POINT_BYTES], const unsigned char *context,
    size_t context_len)
{
	crypto_generichash_blake2b_state st;
	unsigned char one[VAULT_SCALAR_BYTES];
	unsigned char B[VAULT_POINT_BYTES];
	unsigned char h[DLEQ_HASH_BYTES];
	int           rc = -1;

	memset(c, 0, VAULT_SCALAR_BYTES);
	vault_scalar_from_index(one, 1);
	if (crypto_scalarmult_ristretto255_base(B, one) != 0)
		goto fail;
	if (crypto_generichash_blake2b_init_salt_personal(&st, NULL, 0, sizeof h,
	    NULL, personal) != 0)
		goto fail;
	if (crypto_generichash_blake2b_update(&st, B, VAULT_POINT_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(&st, X, VAULT_POINT_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(&st, G, VAULT_POINT_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(&st, Y, VAULT_POINT_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(&st, A1, VAULT_POINT_BYTES) != 0 ||
	    crypto_generichash_blake2b_update(&st, A2, VAULT_POINT_BYTES) != 0 ||
	    (context_len > 0 && crypto_generichash_blake2b_update(&st, context,
	    context_len) != 0) ||
	    crypto_generichash_blake2b_final(&st, h, sizeof h) != 0)
		goto fail;
	crypto_core_ristretto255_scalar_reduce(c, h);
	rc = 0;
fail:
	/* The state has absorbed A1 = w·B and A2 = w·G only, both public. */
	sodium_memzero(&st, sizeof st);
	return rc;
}

int
vault_dleq_prove(const unsigned char personal[VAULT_DLEQ_PERSONAL_BYTES],
    const unsigned char x[VAULT_SCALAR_BYTES], const unsigned char X[VAULT_POINT_BYTES],
    const unsigned char G[VAULT_POINT_BYTES], const unsigned char Y[VAULT_POINT_BYTES],
    const unsigned char *context, size_t context_len,
    unsigned char proof_out[VAULT_DLEQ_PROOF_BYTES])
{
	unsigned char w[VAULT_SCALAR_BYTES];
	unsigned char A1[VAULT_POINT_BYTES];
	unsigned char A2[VAULT_POINT_BYTES];
	unsigned char c[VAULT_SCALAR_BYTES];
	unsigned char cx[VAULT_SCALAR_BYTES];
	unsigned char z[VAULT_SCALAR_BYTES];
	int           rc = -1;

	if (proof_out == NULL)
		return -1;
	memset(proof_out, 0, VAULT_DLEQ_PROOF_BYTES);
	memset(w, 0, sizeof w);
	memset(cx, 0, sizeof cx);
	memset(z, 0, sizeof z);
	if (vault_init() != 0 || personal == NULL || x == NULL || X == NULL ||
	    G == NULL || Y == NULL || (context == NULL && context_len > 0) ||
	    !vault_scalar_usable(x) || !vault_point_usable(X) ||
	    !vault_point_usable(G) || !vault_point_usable(Y))
		goto fail;
	crypto_core_ristretto255_scalar_random(w);
	if (crypto_scalarmult_ristretto255_base(A1, w) != 0 ||
	    crypto_scalarmult_ristretto255(A2, w, G) != 0 ||
	    dleq_challenge(c, personal, X, G, Y, A1, A2, context,
	    context_len) != 0)
		goto fail;
	crypto_core_ristretto255_scalar_mul(cx, c, x);
	crypto_core_ristretto255_scalar_add(z, w, cx);
	memcpy(proof_out, c, VAULT_SCALAR_BYTES);
	memcpy(proof_out + VAULT_SCALAR_BYTES, z, VAULT_SCALAR_BYTES);
	rc = 0;
fail:
	sodium_memzero(w, sizeof w);
	sodium_memzero(cx, sizeof cx);
	sodium_memzero(z, sizeof z);
	if (rc != 0)
		sodium_memzero(proof_out, VAULT_DLEQ_PROOF_BYTES);
	return rc;
}

int
vault_dleq_verify(const unsigned char personal[VAULT_DLEQ_PERSONAL_BYTES],
    const unsigned char X[VAULT_POINT_BYTES], const unsigned char G[VAULT_POINT_BYTES],
    const unsigned char Y[VAULT_POINT_BYTES], const unsigned char *context,
    size_t context_len, const unsigned char proof[VAULT_DLEQ_PROOF_BYTES])
{
	const unsigned char *c, *z;
	unsigned char        t1[VAULT_POINT_BYTES];
	unsigned char        t2[VAULT_POINT_BYTES];
	unsigned char        A1[VAULT_POINT_BYTES];
	unsigned char        A2[VAULT_POINT_BYTES];
	unsigned char        c2[VAULT_SCALAR_BYTES];

	if (vault_init() != 0 || personal == NULL || X == NULL || G == NULL ||
	    Y == NULL || proof == NULL || (context == NULL && context_len > 0) ||
	    !vault_point_usable(X) || !vault_point_usable(G) ||
	    !vault_point_usable(Y))
		return -1;
	c = proof;
	z = proof + VAULT_SCALAR_BYTES;
	/* A1 = z·B − c·X, A2 = z·G − c·Y; equal to w·B, w·G for an honest proof. */
	if (!vault_scalar_usable(c) || !vault_scalar_usable(z) ||
	    crypto_scalarmult_ristretto255_base(t1, z) != 0 ||
	    crypto_scalarmult_ristretto255(t2, c, X) != 0 ||
	    crypto_core_ristretto255_sub(A1, t1, t2) != 0 ||
	    crypto_scalarmult_ristretto255(t1, z, G) != 0 ||
	    crypto_scalarmult_ristretto255(t2, c, Y) != 0 ||
	    crypto_core_ristretto255_sub(A2, t1, t2) != 0 ||
	    dleq_challenge(c2, personal, X, G, Y, A1, A2, context,
	    context_len) != 0 ||
	    sodium_memcmp(c2, c, VAULT_SCALAR_BYTES) != 0)
		return -1;
	return 0;
}
