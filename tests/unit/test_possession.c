/* tests/unit/test_possession.c — proofs of possession of a custodian share
 * (vault/possession.h) and the Chaum-Pedersen helper they share with the
 * release partials (vault/dleq.h): the round trip, every binding (share,
 * index, tenant, generation, challenge), tampered and invalid inputs with
 * their exact messages, the encoding as the headers state it (recomputed
 * here with libsodium alone, for possession and for threshold.h's
 * partials, whose proofs must not change), domain separation between the
 * two, answers that release nothing even on a challenge the API chose to
 * be an epoch's R, and the API routes the answers travel on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/server.h"
#include "vault/mem.h"
#include "vault/possession.h"
#include "vault/tenant.h"
#include "vault/threshold.h"
#include "vault/wrap.h"

#define N 3U

/* A 2-of-3 tenant: shares, public shares from the commitments, ids. */
struct fx {
	vault_tenant_keys *keys;
	unsigned char      commitments[2 * VAULT_POINT_BYTES];
	unsigned char      V[N + 1][VAULT_POINT_BYTES];         /* 1-based */
	unsigned char      tenant[VAULT_ID_BYTES];
	unsigned char      challenge[VAULT_POP_CHALLENGE_BYTES];
	uint32_t           generation;
};

/* Order of the ristretto255 group, little-endian. */
static const unsigned char group_order[VAULT_SCALAR_BYTES] = {
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
	0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
};

static int
setup(void **state)
{
	(void)state;
	return vault_init();
}

static void
fx_make(struct fx *f)
{
	char err[256] = "";
	unsigned int i;

	memset(f, 0, sizeof *f);
	assert_int_equal(vault_tenant_generate(&f->keys, 2, N, err, sizeof err), 0);
	assert_int_equal(vault_tenant_keys_commitments(f->keys, f->commitments,
	    sizeof f->commitments), 0);
	for (i = 1; i <= N; i++)
		assert_int_equal(vault_tenant_public_share(f->commitments,
		    sizeof f->commitments, i, f->V[i], err, sizeof err), 0);
	randombytes_buf(f->tenant, sizeof f->tenant);
	assert_int_equal(vault_possession_challenge(f->challenge), 0);
	f->generation = 1;
}

static void
fx_free(struct fx *f)
{
	vault_tenant_keys_free(&f->keys);
	sodium_memzero(f, sizeof *f);
}

static const unsigned char *
share(const struct fx *f, unsigned int i)
{
	return vault_tenant_keys_share(f->keys, i);
}

/* verify(V of v_index) of answer a for (index, tenant, generation,
 * challenge); err filled. */
static int
verify(const struct fx *f, const unsigned char *V, unsigned int index,
    const unsigned char *tenant, uint32_t generation,
    const unsigned char *challenge, const unsigned char a[VAULT_POP_ANSWER_BYTES],
    char *err, size_t err_len)
{
	err[0] = '\0';
	(void)f;
	return vault_possession_verify(V, index, tenant, generation, challenge, a,
	    a + VAULT_POINT_BYTES, err, err_len);
}

static void
test_round_trip(void **state)
{
	unsigned char a[VAULT_POP_ANSWER_BYTES], b[VAULT_POP_ANSWER_BYTES];
	unsigned char c2[VAULT_POP_CHALLENGE_BYTES];
	char err[256];
	struct fx f;
	unsigned int i;

	(void)state;
	fx_make(&f);
	for (i = 1; i <= N; i++) {
		assert_int_equal(vault_possession_prove(share(&f, i), i, f.tenant,
		    f.generation, f.challenge, a, err, sizeof err), 0);
		assert_int_equal(verify(&f, f.V[i], i, f.tenant, f.generation,
		    f.challenge, a, err, sizeof err), 0);
		/* a later generation, same share: the statement holds for any g */
		assert_int_equal(vault_possession_prove(share(&f, i), i, f.tenant,
		    0xfffffffeU, f.challenge, b, err, sizeof err), 0);
		assert_int_equal(verify(&f, f.V[i], i, f.tenant, 0xfffffffeU,
		    f.challenge, b, err, sizeof err), 0);
		/* P depends on the generation: another point is answered */
		assert_memory_not_equal(a, b, VAULT_POINT_BYTES);
	}
	/* A fresh challenge is a fresh point: the answer is never the same. */
	assert_int_equal(vault_possession_challenge(c2), 0);
	assert_memory_not_equal(c2, f.challenge, sizeof c2);
	assert_int_equal(vault_possession_prove(share(&f, 1), 1, f.tenant,
	    f.generation, f.challenge, a, err, sizeof err), 0);
	assert_int_equal(vault_possession_prove(share(&f, 1), 1, f.tenant,
	    f.generation, c2, b, err, sizeof err), 0);
	assert_memory_not_equal(a, b, VAULT_POINT_BYTES);
	/* proofs are randomised, P is not */
	assert_int_equal(vault_possession_prove(share(&f, 1), 1, f.tenant,
	    f.generation, c2, a, err, sizeof err), 0);
	assert_memory_equal(a, b, VAULT_POINT_BYTES);
	assert_memory_not_equal(a + VAULT_POINT_BYTES, b + VAULT_POINT_BYTES,
	    VAULT_POP_PROOF_BYTES);
	fx_free(&f);
}

/* Every binding: another share, index, tenant, generation or challenge
 * than the one proven fails with the index it was checked for. */
static void
test_bindings(void **state)
{
	unsigned char a[VAULT_POP_ANSWER_BYTES], other[VAULT_ID_BYTES];
	unsigned char c2[VAULT_POP_CHALLENGE_BYTES];
	char err[256];
	struct fx f;

	(void)state;
	fx_make(&f);
	/* custodian 3's share claimed as index 1: checked against V_1 */
	assert_int_equal(vault_possession_prove(share(&f, 3), 1, f.tenant,
	    f.generation, f.challenge, a, err, sizeof err), 0);
	assert_int_equal(verify(&f, f.V[1], 1, f.tenant, f.generation,
	    f.challenge, a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession proof does not verify");

	assert_int_equal(vault_possession_prove(share(&f, 1), 1, f.tenant,
	    f.generation, f.challenge, a, err, sizeof err), 0);
	/* wrong index, with that index's public share or with the right one */
	assert_int_equal(verify(&f, f.V[2], 2, f.tenant, f.generation,
	    f.challenge, a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 2: possession proof does not verify");
	assert_int_equal(verify(&f, f.V[1], 2, f.tenant, f.generation,
	    f.challenge, a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 2: possession proof does not verify");
	/* another public share for the same index (a re-dealt generation) */
	assert_int_equal(verify(&f, f.V[2], 1, f.tenant, f.generation,
	    f.challenge, a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession proof does not verify");
	/* wrong challenge */
	memcpy(c2, f.challenge, sizeof c2);
	c2[31] ^= 0x01;
	assert_int_equal(verify(&f, f.V[1], 1, f.tenant, f.generation, c2, a, err,
	    sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession proof does not verify");
	/* wrong generation: the next one, and one 2^8 away (every byte counts) */
	assert_int_equal(verify(&f, f.V[1], 1, f.tenant, f.generation + 1,
	    f.challenge, a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession proof does not verify");
	assert_int_equal(verify(&f, f.V[1], 1, f.tenant, f.generation + 256,
	    f.challenge, a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession proof does not verify");
	/* wrong tenant */
	memcpy(other, f.tenant, sizeof other);
	other[0] ^= 0x80;
	assert_int_equal(verify(&f, f.V[1], 1, other, f.generation, f.challenge,
	    a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession proof does not verify");
	/* and the right one still verifies */
	assert_int_equal(verify(&f, f.V[1], 1, f.tenant, f.generation,
	    f.challenge, a, err, sizeof err), 0);
	fx_free(&f);
}

static void
test_tampered(void **state)
{
	unsigned char a[VAULT_POP_ANSWER_BYTES], t[VAULT_POP_ANSWER_BYTES];
	unsigned char one[VAULT_SCALAR_BYTES], B[VAULT_POINT_BYTES];
	char err[256];
	struct fx f;
	size_t i;

	(void)state;
	fx_make(&f);
	assert_int_equal(vault_possession_prove(share(&f, 2), 2, f.tenant,
	    f.generation, f.challenge, a, err, sizeof err), 0);
	/* P + B: a valid element, the wrong one */
	memset(one, 0, sizeof one);
	one[0] = 1;
	assert_int_equal(crypto_scalarmult_ristretto255_base(B, one), 0);
	memcpy(t, a, sizeof t);
	assert_int_equal(crypto_core_ristretto255_add(t, a, B), 0);
	assert_int_equal(verify(&f, f.V[2], 2, f.tenant, f.generation,
	    f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 2: possession proof does not verify");
	/* every bit of c and z */
	for (i = VAULT_POINT_BYTES; i < VAULT_POP_ANSWER_BYTES; i++) {
		memcpy(t, a, sizeof t);
		t[i] ^= (unsigned char)(1U << (i % 8));
		assert_int_equal(verify(&f, f.V[2], 2, f.tenant, f.generation,
		    f.challenge, t, err, sizeof err), -1);
		assert_string_equal(err, "custodian 2: possession proof does not "
		    "verify");
	}
	/* c ‖ z swapped; z + L (the same residue, not canonical); c = 0 */
	memcpy(t, a, VAULT_POINT_BYTES);
	memcpy(t + VAULT_POINT_BYTES, a + VAULT_POINT_BYTES + 32, 32);
	memcpy(t + VAULT_POINT_BYTES + 32, a + VAULT_POINT_BYTES, 32);
	assert_int_equal(verify(&f, f.V[2], 2, f.tenant, f.generation,
	    f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 2: possession proof does not verify");
	memcpy(t, a, sizeof t);
	{
		unsigned int carry = 0, s;

		for (i = 0; i < 32; i++) {
			s = (unsigned int)a[VAULT_POINT_BYTES + 32 + i] +
			    group_order[i] + carry;
			t[VAULT_POINT_BYTES + 32 + i] = (unsigned char)s;
			carry = s >> 8;
		}
		assert_int_equal(carry, 0);      /* z < L < 2^253 */
		assert_int_equal(verify(&f, f.V[2], 2, f.tenant, f.generation,
		    f.challenge, t, err, sizeof err), -1);
		assert_string_equal(err, "custodian 2: possession proof does not "
		    "verify");
	}
	memcpy(t, a, sizeof t);
	memset(t + VAULT_POINT_BYTES, 0, 32);
	assert_int_equal(verify(&f, f.V[2], 2, f.tenant, f.generation,
	    f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 2: possession proof does not verify");
	/* an answer truncated to P alone: a zero proof */
	memcpy(t, a, VAULT_POINT_BYTES);
	memset(t + VAULT_POINT_BYTES, 0, VAULT_POP_PROOF_BYTES);
	assert_int_equal(verify(&f, f.V[2], 2, f.tenant, f.generation,
	    f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 2: possession proof does not verify");
	/* the untampered answer still verifies */
	assert_int_equal(verify(&f, f.V[2], 2, f.tenant, f.generation,
	    f.challenge, a, err, sizeof err), 0);
	fx_free(&f);
}

static void
test_invalid(void **state)
{
	unsigned char a[VAULT_POP_ANSWER_BYTES], t[VAULT_POP_ANSWER_BYTES];
	unsigned char bad[VAULT_SCALAR_BYTES];
	char err[256];
	struct fx f;

	(void)state;
	fx_make(&f);
	assert_int_equal(vault_possession_prove(share(&f, 1), 1, f.tenant,
	    f.generation, f.challenge, a, err, sizeof err), 0);
	/* P: the identity, a non-canonical encoding */
	memcpy(t, a, sizeof t);
	memset(t, 0, VAULT_POINT_BYTES);
	assert_int_equal(verify(&f, f.V[1], 1, f.tenant, f.generation,
	    f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession answer is not a valid "
	    "group element");
	memset(t, 0xff, VAULT_POINT_BYTES);
	assert_int_equal(verify(&f, f.V[1], 1, f.tenant, f.generation,
	    f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession answer is not a valid "
	    "group element");
	/* V: the identity, a non-canonical encoding */
	memset(bad, 0, sizeof bad);
	assert_int_equal(verify(&f, bad, 1, f.tenant, f.generation, f.challenge,
	    a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: public share is not a valid group "
	    "element");
	memset(bad, 0xff, sizeof bad);
	assert_int_equal(verify(&f, bad, 1, f.tenant, f.generation, f.challenge,
	    a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: public share is not a valid group "
	    "element");
	assert_int_equal(verify(&f, NULL, 1, f.tenant, f.generation, f.challenge,
	    a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: public share is not a valid group "
	    "element");
	/* indices */
	assert_int_equal(verify(&f, f.V[1], 0, f.tenant, f.generation,
	    f.challenge, a, err, sizeof err), -1);
	assert_string_equal(err, "custodian index 0 out of range 1..255");
	assert_int_equal(verify(&f, f.V[1], 256, f.tenant, f.generation,
	    f.challenge, a, err, sizeof err), -1);
	assert_string_equal(err, "custodian index 256 out of range 1..255");
	assert_int_equal(vault_possession_prove(share(&f, 1), 0, f.tenant,
	    f.generation, f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian index 0 out of range 1..255");
	assert_true(sodium_is_zero(t, sizeof t));
	assert_int_equal(vault_possession_prove(share(&f, 1), 256, f.tenant,
	    f.generation, f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian index 256 out of range 1..255");
	/* shares: zero, not reduced (L itself), missing */
	memset(bad, 0, sizeof bad);
	memset(t, 0xaa, sizeof t);
	assert_int_equal(vault_possession_prove(bad, 1, f.tenant, f.generation,
	    f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: share is not a valid scalar");
	assert_true(sodium_is_zero(t, sizeof t));
	assert_int_equal(vault_possession_prove(group_order, 1, f.tenant,
	    f.generation, f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: share is not a valid scalar");
	assert_int_equal(vault_possession_prove(NULL, 1, f.tenant, f.generation,
	    f.challenge, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: share is not a valid scalar");
	/* no challenge, no tenant */
	assert_int_equal(vault_possession_prove(share(&f, 1), 1, f.tenant,
	    f.generation, NULL, t, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: no possession challenge");
	assert_int_equal(verify(&f, f.V[1], 1, NULL, f.generation, f.challenge,
	    a, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: no possession challenge");
	assert_int_equal(vault_possession_verify(f.V[1], 1, f.tenant,
	    f.generation, f.challenge, a, NULL, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: possession proof does not verify");
	fx_free(&f);
}

/* The encoding possession.h states, recomputed with libsodium alone:
 * H from the point hash, P = s_i·H, and c from the proof hash with
 * A1 = z·B − c·V, A2 = z·H − c·P.  A change of field order, width or
 * personal string in vault/ fails here. */
static void
test_spec(void **state)
{
	static const unsigned char pt_personal[16] = "coffer-pop-pt-v1";
	static const unsigned char pf_personal[16] = "coffer-pop-v1";
	unsigned char a[VAULT_POP_ANSWER_BYTES], cx[16 + 4 + 1 + 32];
	unsigned char h[64], H[32], P[32], B[32], one[32], t1[32], t2[32];
	unsigned char A1[32], A2[32], c[32];
	crypto_generichash_blake2b_state st;
	const unsigned char *s;
	char err[256];
	struct fx f;

	(void)state;
	fx_make(&f);
	f.generation = 0x01020304U;
	assert_int_equal(vault_possession_prove(share(&f, 3), 3, f.tenant,
	    f.generation, f.challenge, a, err, sizeof err), 0);
	memcpy(cx, f.tenant, 16);
	cx[16] = 0x04;            /* generation, little-endian */
	cx[17] = 0x03;
	cx[18] = 0x02;
	cx[19] = 0x01;
	cx[20] = 3;
	memcpy(cx + 21, f.challenge, 32);
	assert_int_equal(crypto_generichash_blake2b_salt_personal(h, sizeof h, cx,
	    sizeof cx, NULL, 0, NULL, pt_personal), 0);
	crypto_core_ristretto255_from_hash(H, h);
	s = share(&f, 3);
	assert_int_equal(crypto_scalarmult_ristretto255(P, s, H), 0);
	assert_memory_equal(P, a, 32);

	memset(one, 0, sizeof one);
	one[0] = 1;
	assert_int_equal(crypto_scalarmult_ristretto255_base(B, one), 0);
	assert_int_equal(crypto_scalarmult_ristretto255_base(t1, a + 64), 0);
	assert_int_equal(crypto_scalarmult_ristretto255(t2, a + 32, f.V[3]), 0);
	assert_int_equal(crypto_core_ristretto255_sub(A1, t1, t2), 0);
	assert_int_equal(crypto_scalarmult_ristretto255(t1, a + 64, H), 0);
	assert_int_equal(crypto_scalarmult_ristretto255(t2, a + 32, P), 0);
	assert_int_equal(crypto_core_ristretto255_sub(A2, t1, t2), 0);
	assert_int_equal(crypto_generichash_blake2b_init_salt_personal(&st, NULL,
	    0, 64, NULL, pf_personal), 0);
	crypto_generichash_blake2b_update(&st, B, 32);
	crypto_generichash_blake2b_update(&st, f.V[3], 32);
	crypto_generichash_blake2b_update(&st, H, 32);
	crypto_generichash_blake2b_update(&st, P, 32);
	crypto_generichash_blake2b_update(&st, A1, 32);
	crypto_generichash_blake2b_update(&st, A2, 32);
	crypto_generichash_blake2b_update(&st, cx, sizeof cx);
	crypto_generichash_blake2b_final(&st, h, 64);
	crypto_core_ristretto255_scalar_reduce(c, h);
	assert_memory_equal(c, a + 32, 32);
	fx_free(&f);
}

/* threshold.h's partial proofs, recomputed from its header: moving the
 * Chaum-Pedersen code into vault/dleq.c changed no byte of them (partials
 * stored before it still verify). */
static void
test_threshold_encoding_kept(void **state)
{
	static const unsigned char personal[16] = "coffer-cp-rel-v2";
	unsigned char R[32], Rb[32], bp[64], seed[32], r[32];
	unsigned char h[64], B[32], one[32], t1[32], t2[32], A1[32], A2[32];
	unsigned char c[32], matter[16], epoch[16], recipient[32], ib = 2;
	crypto_generichash_blake2b_state st;
	vault_release_ctx ctx;
	vault_partial part;
	char err[256];
	struct fx f;

	(void)state;
	fx_make(&f);
	randombytes_buf(matter, sizeof matter);
	randombytes_buf(epoch, sizeof epoch);
	randombytes_buf(recipient, sizeof recipient);
	randombytes_buf(seed, sizeof seed);
	crypto_core_ristretto255_scalar_random(r);
	assert_int_equal(crypto_scalarmult_ristretto255_base(R, r), 0);
	vault_release_ctx_init(&ctx, f.tenant, matter, epoch, recipient);
	assert_int_equal(vault_blind_point(seed, &ctx, R, Rb, bp, err,
	    sizeof err), 0);
	assert_int_equal(vault_threshold_partial(share(&f, 2), 2, &ctx, Rb, &part,
	    err, sizeof err), 0);
	assert_int_equal(vault_threshold_verify(&part, f.V[2], &ctx, Rb, err,
	    sizeof err), 0);

	memset(one, 0, sizeof one);
	one[0] = 1;
	assert_int_equal(crypto_scalarmult_ristretto255_base(B, one), 0);
	assert_int_equal(crypto_scalarmult_ristretto255_base(t1, part.proof + 32),
	    0);
	assert_int_equal(crypto_scalarmult_ristretto255(t2, part.proof, f.V[2]), 0);
	assert_int_equal(crypto_core_ristretto255_sub(A1, t1, t2), 0);
	assert_int_equal(crypto_scalarmult_ristretto255(t1, part.proof + 32, Rb),
	    0);
	assert_int_equal(crypto_scalarmult_ristretto255(t2, part.proof, part.P), 0);
	assert_int_equal(crypto_core_ristretto255_sub(A2, t1, t2), 0);
	assert_int_equal(crypto_generichash_blake2b_init_salt_personal(&st, NULL,
	    0, 64, NULL, personal), 0);
	crypto_generichash_blake2b_update(&st, B, 32);
	crypto_generichash_blake2b_update(&st, f.V[2], 32);
	crypto_generichash_blake2b_update(&st, Rb, 32);
	crypto_generichash_blake2b_update(&st, part.P, 32);
	crypto_generichash_blake2b_update(&st, A1, 32);
	crypto_generichash_blake2b_update(&st, A2, 32);
	crypto_generichash_blake2b_update(&st, f.tenant, 16);
	crypto_generichash_blake2b_update(&st, matter, 16);
	crypto_generichash_blake2b_update(&st, epoch, 16);
	crypto_generichash_blake2b_update(&st, recipient, 32);
	crypto_generichash_blake2b_update(&st, &ib, 1);
	crypto_generichash_blake2b_final(&st, h, 64);
	crypto_core_ristretto255_scalar_reduce(c, h);
	assert_memory_equal(c, part.proof, 32);
	fx_free(&f);
}

/* A possession answer is no release partial and the reverse: the two
 * proofs are domain-separated, even on the same point. */
static void
test_domain_separation(void **state)
{
	unsigned char a[VAULT_POP_ANSWER_BYTES], t[VAULT_POP_ANSWER_BYTES];
	unsigned char zero[16];
	vault_release_ctx ctx;
	vault_partial part;
	char err[256];
	struct fx f;

	(void)state;
	fx_make(&f);
	memset(zero, 0, sizeof zero);
	assert_int_equal(vault_possession_prove(share(&f, 1), 1, f.tenant,
	    f.generation, f.challenge, a, err, sizeof err), 0);
	/* the answer's point P, offered as a partial of an epoch whose R' would
	 * be H: refused whatever the context (another personal string) */
	vault_release_ctx_init(&ctx, f.tenant, zero, zero, NULL);
	memset(&part, 0, sizeof part);
	part.index = 1;
	memcpy(part.P, a, 32);
	memcpy(part.proof, a + 32, 64);
	{
		/* recompute H as the API cannot choose it: the only way to name
		 * the point the answer lies on */
		static const unsigned char pt_personal[16] = "coffer-pop-pt-v1";
		unsigned char cx[53], h[64], H[32];

		memcpy(cx, f.tenant, 16);
		cx[16] = 1;
		cx[17] = cx[18] = cx[19] = 0;
		cx[20] = 1;
		memcpy(cx + 21, f.challenge, 32);
		assert_int_equal(crypto_generichash_blake2b_salt_personal(h, 64, cx,
		    sizeof cx, NULL, 0, NULL, pt_personal), 0);
		crypto_core_ristretto255_from_hash(H, h);
		assert_int_equal(vault_threshold_verify(&part, f.V[1], &ctx, H, err,
		    sizeof err), -1);
		assert_string_equal(err, "custodian 1: partial proof does not verify");
		/* and a genuine partial on H is no possession answer */
		assert_int_equal(vault_threshold_partial(share(&f, 1), 1, &ctx, H,
		    &part, err, sizeof err), 0);
		memcpy(t, part.P, 32);
		memcpy(t + 32, part.proof, 64);
		assert_memory_equal(t, a, 32);          /* same point, same P */
		assert_int_equal(verify(&f, f.V[1], 1, f.tenant, f.generation,
		    f.challenge, t, err, sizeof err), -1);
		assert_string_equal(err, "custodian 1: possession proof does not "
		    "verify");
	}
	fx_free(&f);
}

/* The API host plays the attacker: it picks the challenge bytes — here an
 * epoch's own R — and collects K answers.  They lie on hash-derived
 * points, different per custodian, so they combine into nothing that
 * opens the epoch; the custodians' real partials on R (the control) do. */
static void
test_answers_release_nothing(void **state)
{
	unsigned char T[VAULT_POINT_BYTES], R[VAULT_POINT_BYTES];
	unsigned char epoch[VAULT_ID_BYTES], ek[VAULT_EK_BYTES], out[VAULT_EK_BYTES];
	unsigned char wrapped[VAULT_WRAPPED_EK_BYTES], S[VAULT_POINT_BYTES];
	unsigned char a[VAULT_POP_ANSWER_BYTES];
	vault_partial parts[2];
	vault_release_ctx ctx;
	char err[256];
	struct fx f;
	unsigned int i;
	uint32_t g;

	(void)state;
	fx_make(&f);
	vault_tenant_keys_public_key(f.keys, T);
	randombytes_buf(epoch, sizeof epoch);
	randombytes_buf(ek, sizeof ek);
	assert_int_equal(vault_ek_wrap(T, f.tenant, epoch, ek, R, wrapped), 0);
	for (g = 0; g < 3; g++) {
		memset(parts, 0, sizeof parts);
		for (i = 1; i <= 2; i++) {
			assert_int_equal(vault_possession_prove(share(&f, i), i,
			    f.tenant, g, R, a, err, sizeof err), 0);
			assert_memory_not_equal(a, R, VAULT_POINT_BYTES);
			parts[i - 1].index = i;
			memcpy(parts[i - 1].P, a, VAULT_POINT_BYTES);
		}
		assert_int_equal(vault_threshold_combine(parts, 2, S, err,
		    sizeof err), 0);
		assert_int_equal(vault_threshold_unwrap(S, R, T, f.tenant, epoch,
		    wrapped, out, err, sizeof err), -1);
	}
	/* control: the same custodians' partials on R itself open it */
	vault_release_ctx_init(&ctx, f.tenant, epoch, epoch, NULL);
	for (i = 1; i <= 2; i++)
		assert_int_equal(vault_threshold_partial(share(&f, i), i, &ctx, R,
		    &parts[i - 1], err, sizeof err), 0);
	assert_int_equal(vault_threshold_combine(parts, 2, S, err, sizeof err), 0);
	assert_int_equal(vault_threshold_unwrap(S, R, T, f.tenant, epoch, wrapped,
	    out, err, sizeof err), 0);
	assert_memory_equal(out, ek, sizeof ek);
	sodium_memzero(out, sizeof out);
	sodium_memzero(S, sizeof S);
	fx_free(&f);
}

/* The API routes: "challenge" is a path of its own, not an answer id. */
static void
test_routes(void **state)
{
	static const struct {
		const char *method, *path;
		unsigned    status;
		const char *action, *param;
	} cases[] = {
		{ "POST", "/v1/possession/challenge", 0, "possession.challenge", "" },
		{ "POST", "/v1/possession/0b8e7d46-4a34-4bd9-8f55-2b1f0c7e9a10", 0,
		  "possession.answer", "0b8e7d46-4a34-4bd9-8f55-2b1f0c7e9a10" },
		{ "GET",  "/v1/possession", 0, "possession.list", "" },
		{ "GET",  "/v1/possession/challenge", 405, NULL, NULL },
		{ "POST", "/v1/possession", 405, NULL, NULL },
		{ "POST", "/v1/possession/", 404, NULL, NULL },
		{ "POST", "/v1/possession/a/b", 404, NULL, NULL },
	};
	const api_route *rt;
	char param[80];
	unsigned status;
	size_t i;
	int idx;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = api_route_match(cases[i].method, cases[i].path, &rt, &idx,
		    param, sizeof param, &status);

		if (cases[i].status == 0) {
			if (rc != 0 || rt == NULL)
				fail_msg("%s %s not matched", cases[i].method,
				    cases[i].path);
			assert_string_equal(rt->action, cases[i].action);
			assert_string_equal(param, cases[i].param);
			assert_int_equal(rt->roles & API_ROLE_LEGAL, 0);
		} else {
			if (rc == 0 || status != cases[i].status)
				fail_msg("%s %s: status %u, expected %u",
				    cases[i].method, cases[i].path, status,
				    cases[i].status);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_threshold_encoding_kept),
		cmocka_unit_test(test_domain_separation),
		cmocka_unit_test(test_answers_release_nothing),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
