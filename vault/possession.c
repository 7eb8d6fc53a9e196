/* vault/possession.c — proofs of possession of a custodian share
 * (possession.h).
 *
 * What it does: derives the point H a custodian answers from the
 * challenge and its context, answers P = s_i·H with a Chaum-Pedersen
 * proof (vault/dleq.c), and verifies such an answer against V_i.
 *
 * What it trusts: libsodium; the caller for V_i (from the tenant's
 * commitments for this generation and index, never from the custodian).
 * It does not trust P or the proof: encodings and scalars are checked by
 * dleq.c.  It never takes a point from outside to multiply a share by:
 * the only point a share meets here is H, derived from a hash.
 */
#include "vault/possession.h"

#include <string.h>

#include <sodium.h>

#include "vault/err.h"
#include "vault/group.h"
#include "vault/mem.h"

#define POP_INDEX_MAX 255U
/* tenant ‖ generation (u32 LE) ‖ index (1) ‖ challenge */
#define POP_CONTEXT_BYTES (VAULT_ID_BYTES + 4U + 1U + VAULT_POP_CHALLENGE_BYTES)

static const unsigned char pop_point_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-pop-pt-v1";
static const unsigned char pop_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-pop-v1";

_Static_assert(crypto_core_ristretto255_HASHBYTES == 64U, "from_hash input");

int
vault_possession_challenge(unsigned char out[VAULT_POP_CHALLENGE_BYTES])
{
	memset(out, 0, VAULT_POP_CHALLENGE_BYTES);
	if (vault_init() != 0)
		return -1;
	randombytes_buf(out, VAULT_POP_CHALLENGE_BYTES);
	return 0;
}

/* The context both hashes cover, fixed-length fields in a fixed order. */
static void
pop_context(unsigned char out[POP_CONTEXT_BYTES],
    const unsigned char tenant_id[VAULT_ID_BYTES], uint32_t generation,
    unsigned int index, const unsigned char challenge[VAULT_POP_CHALLENGE_BYTES])
{
	unsigned char *p = out;

	memcpy(p, tenant_id, VAULT_ID_BYTES);
	p += VAULT_ID_BYTES;
	p[0] = (unsigned char)(generation & 0xffU);
	p[1] = (unsigned char)((generation >> 8) & 0xffU);
	p[2] = (unsigned char)((generation >> 16) & 0xffU);
	p[3] = (unsigned char)((generation >> 24) & 0xffU);
	p += 4;
	*p++ = (unsigned char)index;
	memcpy(p, challenge, VAULT_POP_CHALLENGE_BYTES);
}

/* H = from_hash(BLAKE2b-512(personal "coffer-pop-pt-v1"; context)). */
static int
pop_point(unsigned char H[VAULT_POINT_BYTES],
    const unsigned char context[POP_CONTEXT_BYTES])
{
	unsigned char h[crypto_core_ristretto255_HASHBYTES];

	if (crypto_generichash_blake2b_salt_personal(h, sizeof h, context,
	    POP_CONTEXT_BYTES, NULL, 0, NULL, pop_point_personal) != 0)
		return -1;
	crypto_core_ristretto255_from_hash(H, h);
	/* the identity has negligible probability; refused all the same */
	return vault_point_usable(H) ? 0 : -1;
}

int
vault_possession_prove(const unsigned char share[VAULT_SCALAR_BYTES],
    unsigned int index, const unsigned char tenant_id[VAULT_ID_BYTES],
    uint32_t generation, const unsigned char challenge[VAULT_POP_CHALLENGE_BYTES],
    unsigned char answer_out[VAULT_POP_ANSWER_BYTES], char *err, size_t err_len)
{
	unsigned char cx[POP_CONTEXT_BYTES];
	unsigned char H[VAULT_POINT_BYTES], V[VAULT_POINT_BYTES];
	int rc = -1;

	if (answer_out == NULL) {
		vault_err_set(err, err_len, "custodian %u: no output for the answer",
		    index);
		return -1;
	}
	memset(answer_out, 0, VAULT_POP_ANSWER_BYTES);
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		goto fail;
	}
	if (index < 1 || index > POP_INDEX_MAX) {
		vault_err_set(err, err_len, "custodian index %u out of range 1..%u",
		    index, POP_INDEX_MAX);
		goto fail;
	}
	if (tenant_id == NULL || challenge == NULL) {
		vault_err_set(err, err_len, "custodian %u: no possession challenge",
		    index);
		goto fail;
	}
	if (share == NULL || !vault_scalar_usable(share)) {
		vault_err_set(err, err_len, "custodian %u: share is not a valid scalar",
		    index);
		goto fail;
	}
	pop_context(cx, tenant_id, generation, index, challenge);
	if (pop_point(H, cx) != 0 ||
	    crypto_scalarmult_ristretto255_base(V, share) != 0 ||
	    crypto_scalarmult_ristretto255(answer_out, share, H) != 0 ||
	    vault_dleq_prove(pop_personal, share, V, H, answer_out, cx, sizeof cx,
	    answer_out + VAULT_POINT_BYTES) != 0) {
		vault_err_set(err, err_len, "custodian %u: possession proof "
		    "computation failed", index);
		goto fail;
	}
	rc = 0;
fail:
	if (rc != 0)
		sodium_memzero(answer_out, VAULT_POP_ANSWER_BYTES);
	return rc;
}

int
vault_possession_verify(const unsigned char V[VAULT_POINT_BYTES],
    unsigned int index, const unsigned char tenant_id[VAULT_ID_BYTES],
    uint32_t generation, const unsigned char challenge[VAULT_POP_CHALLENGE_BYTES],
    const unsigned char P[VAULT_POINT_BYTES],
    const unsigned char proof[VAULT_POP_PROOF_BYTES], char *err, size_t err_len)
{
	unsigned char cx[POP_CONTEXT_BYTES], H[VAULT_POINT_BYTES];

	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if (index < 1 || index > POP_INDEX_MAX) {
		vault_err_set(err, err_len, "custodian index %u out of range 1..%u",
		    index, POP_INDEX_MAX);
		return -1;
	}
	if (tenant_id == NULL || challenge == NULL) {
		vault_err_set(err, err_len, "custodian %u: no possession challenge",
		    index);
		return -1;
	}
	if (V == NULL || !vault_point_usable(V)) {
		vault_err_set(err, err_len, "custodian %u: public share is not a valid "
		    "group element", index);
		return -1;
	}
	if (P == NULL || !vault_point_usable(P)) {
		vault_err_set(err, err_len, "custodian %u: possession answer is not a "
		    "valid group element", index);
		return -1;
	}
	pop_context(cx, tenant_id, generation, index, challenge);
	if (proof == NULL || pop_point(H, cx) != 0 ||
	    vault_dleq_verify(pop_personal, V, H, P, cx, sizeof cx, proof) != 0) {
		vault_err_set(err, err_len, "custodian %u: possession proof does not "
		    "verify", index);
		return -1;
	}
	return 0;
}
