/* tests/unit/test_reshare.c — re-sharing a tenant key without rebuilding
 * it: 2-of-3 → 3-of-5, bad dealings, sealed slots, transcripts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "vault/mem.h"
#include "vault/reshare.h"
#include "vault/tenant.h"
#include "vault/threshold.h"

#define K_OLD 2U
#define N_OLD 3U
#define K_NEW 3U
#define N_NEW 5U

typedef struct fixture {
	vault_tenant_keys *old;
	unsigned char      T[VAULT_POINT_BYTES];
	unsigned char      oldC[K_OLD * VAULT_POINT_BYTES];
	vault_reshare_ctx  ctx;
	unsigned char      pk[N_NEW][32], sk[N_NEW][32];
	/* dealings of old custodians 1..3 */
	unsigned char      E[N_OLD][K_NEW * VAULT_POINT_BYTES];
	unsigned char      sealed[N_OLD][N_NEW][VAULT_RESHARE_SEALED_BYTES];
} fixture;

static int
setup(void **state)
{
	static fixture f;
	unsigned char *sub;
	char err[256];
	unsigned int i, j;

	memset(&f, 0, sizeof f);
	assert_int_equal(vault_tenant_generate(&f.old, K_OLD, N_OLD, err, sizeof err), 0);
	vault_tenant_keys_public_key(f.old, f.T);
	assert_int_equal(vault_tenant_keys_commitments(f.old, f.oldC, sizeof f.oldC), 0);
	randombytes_buf(f.ctx.tenant_id, sizeof f.ctx.tenant_id);
	randombytes_buf(f.ctx.reshare_id, sizeof f.ctx.reshare_id);
	f.ctx.from_generation = 1;
	f.ctx.k_new = K_NEW;
	f.ctx.n_new = N_NEW;
	for (j = 0; j < N_NEW; j++)
		crypto_box_keypair(f.pk[j], f.sk[j]);
	sub = vault_secure_alloc(N_NEW * VAULT_SCALAR_BYTES);
	assert_non_null(sub);
	for (i = 1; i <= N_OLD; i++) {
		assert_int_equal(vault_reshare_deal(&f.ctx,
		    vault_tenant_keys_share(f.old, i), f.E[i - 1], sizeof f.E[0], sub,
		    N_NEW * VAULT_SCALAR_BYTES, err, sizeof err), 0);
		for (j = 1; j <= N_NEW; j++)
			assert_int_equal(vault_reshare_seal(&f.ctx, i, j, f.pk[j - 1],
			    sub + (j - 1) * VAULT_SCALAR_BYTES, f.sealed[i - 1][j - 1],
			    err, sizeof err), 0);
	}
	vault_wipe(sub, N_NEW * VAULT_SCALAR_BYTES);
	vault_secure_free(sub);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	vault_tenant_keys_free(&f->old);
	return 0;
}

/* New share of recipient j from dealers Q. */
static void
new_share(fixture *f, const unsigned int *Q, size_t q, unsigned int j,
    unsigned char out[32])
{
	unsigned char subs[N_OLD][32], V[32];
	char err[256];
	size_t i;

	for (i = 0; i < q; i++) {
		assert_int_equal(vault_tenant_keys_public_share(f->old, Q[i], V), 0);
		assert_int_equal(vault_reshare_open(&f->ctx, Q[i], j, f->pk[j - 1],
		    f->sk[j - 1], f->sealed[Q[i] - 1][j - 1], VAULT_RESHARE_SEALED_BYTES,
		    subs[i], err, sizeof err), 0);
		assert_int_equal(vault_reshare_check_subshare(&f->ctx, f->E[Q[i] - 1],
		    sizeof f->E[0], V, j, subs[i], err, sizeof err), 0);
	}
	assert_int_equal(vault_reshare_combine(Q, q, subs[0], out, err, sizeof err), 0);
	sodium_memzero(subs, sizeof subs);
}

/* S = Σ λ·s_i·R over the given shares, compared with r·T. */
static int
opens(const unsigned char (*shares)[32], const unsigned int *idx, size_t n,
    const unsigned char T[32])
{
	vault_partial p[8];
	vault_release_ctx rc;
	unsigned char r[32], R[32], S[32], want[32], zero[16] = { 0 };
	char err[256];
	size_t i;

	crypto_core_ristretto255_scalar_random(r);
	assert_int_equal(crypto_scalarmult_ristretto255_base(R, r), 0);
	assert_int_equal(crypto_scalarmult_ristretto255(want, r, T), 0);
	vault_release_ctx_init(&rc, zero, zero, zero, NULL);
	for (i = 0; i < n; i++)
		assert_int_equal(vault_threshold_partial(shares[i], idx[i], &rc, R,
		    &p[i], err, sizeof err), 0);
	assert_int_equal(vault_threshold_combine(p, n, S, err, sizeof err), 0);
	return sodium_memcmp(S, want, 32) == 0;
}

static void
test_reshare_2of3_to_3of5(void **state)
{
	fixture *f = *state;
	static const unsigned int Q[] = { 1, 3 };
	unsigned char s[N_NEW][32], C[K_NEW * 32], V[32], sel[3][32];
	unsigned int j, three[3] = { 2, 4, 5 }, two[2] = { 1, 5 };
	char err[256];

	for (j = 1; j <= N_NEW; j++)
		new_share(f, Q, 2, j, s[j - 1]);
	/* The new commitments reproduce T and every new public share. */
	assert_int_equal(vault_reshare_commitments(&f->ctx, Q, 2, f->E[0], f->T,
	    C, sizeof C, err, sizeof err), -1);   /* E[0], E[1] are dealers 1, 2 */
	{
		unsigned char EQ[2][K_NEW * 32];

		memcpy(EQ[0], f->E[0], sizeof EQ[0]);
		memcpy(EQ[1], f->E[2], sizeof EQ[1]);
		assert_int_equal(vault_reshare_commitments(&f->ctx, Q, 2, EQ[0], f->T,
		    C, sizeof C, err, sizeof err), 0);
	}
	assert_memory_equal(C, f->T, 32);
	for (j = 1; j <= N_NEW; j++) {
		assert_int_equal(vault_tenant_verify_share(C, sizeof C, j, s[j - 1],
		    err, sizeof err), 0);
		assert_int_equal(vault_tenant_public_share(C, sizeof C, j, V, err,
		    sizeof err), 0);
	}
	/* Any 3 new shares open what the old key wrapped; 2 do not. */
	for (j = 0; j < 3; j++)
		memcpy(sel[j], s[three[j] - 1], 32);
	assert_true(opens((const unsigned char (*)[32])sel, three, 3, f->T));
	memcpy(sel[0], s[0], 32);
	memcpy(sel[1], s[4], 32);
	assert_false(opens((const unsigned char (*)[32])sel, two, 2, f->T));
	/* Old and new shares do not mix. */
	{
		unsigned int mix[3] = { 1, 2, 3 };

		memcpy(sel[0], vault_tenant_keys_share(f->old, 1), 32);
		memcpy(sel[1], s[1], 32);
		memcpy(sel[2], s[2], 32);
		assert_false(opens((const unsigned char (*)[32])sel, mix, 3, f->T));
	}
	sodium_memzero(s, sizeof s);
	sodium_memzero(sel, sizeof sel);
}

static void
test_bad_dealing(void **state)
{
	fixture *f = *state;
	unsigned char sub[32], V1[32], V2[32], E[K_NEW * 32];
	char err[256];

	assert_int_equal(vault_tenant_keys_public_share(f->old, 1, V1), 0);
	assert_int_equal(vault_tenant_keys_public_share(f->old, 2, V2), 0);
	assert_int_equal(vault_reshare_open(&f->ctx, 1, 4, f->pk[3], f->sk[3],
	    f->sealed[0][3], VAULT_RESHARE_SEALED_BYTES, sub, err, sizeof err), 0);
	/* Against another dealer's public share: E_0 differs. */
	assert_int_equal(vault_reshare_check_subshare(&f->ctx, f->E[0],
	    sizeof E, V2, 4, sub, err, sizeof err), -1);
	assert_string_equal(err, "E_0 is not the dealer's public share: the "
	    "dealing is not of the dealer's own share");
	/* A changed higher commitment: the sub-share no longer matches. */
	memcpy(E, f->E[0], sizeof E);
	memcpy(E + 32, f->E[1] + 32, 32);
	assert_int_equal(vault_reshare_check_subshare(&f->ctx, E, sizeof E, V1, 4,
	    sub, err, sizeof err), -1);
	assert_string_equal(err, "sub-share does not match the dealer's commitments");
	/* A sub-share for another recipient index. */
	assert_int_equal(vault_reshare_check_subshare(&f->ctx, f->E[0], sizeof E,
	    V1, 5, sub, err, sizeof err), -1);
	assert_string_equal(err, "sub-share does not match the dealer's commitments");
	/* Wrong number of commitments. */
	assert_int_equal(vault_reshare_check_dealing(&f->ctx, f->E[0], 64, V1,
	    err, sizeof err), -1);
	assert_string_equal(err, "2 commitments, expected K'=3");
	memset(E, 0, 32);
	assert_int_equal(vault_reshare_check_dealing(&f->ctx, E, sizeof E, V1,
	    err, sizeof err), -1);
	assert_string_equal(err, "commitment E_0 is not a valid group element");
	sodium_memzero(sub, sizeof sub);
}

static void
test_sealed_slots(void **state)
{
	fixture *f = *state;
	unsigned char sub[32], bad[VAULT_RESHARE_SEALED_BYTES], zero[32];
	vault_reshare_ctx other = f->ctx;
	char err[256];

	/* Another recipient's key. */
	assert_int_equal(vault_reshare_open(&f->ctx, 1, 2, f->pk[1], f->sk[1],
	    f->sealed[0][0], VAULT_RESHARE_SEALED_BYTES, sub, err, sizeof err), -1);
	assert_string_equal(err, "dealer 1: sealed sub-share does not open with "
	    "this recipient key");
	/* The right key, moved to another dealer's slot. */
	assert_int_equal(vault_reshare_open(&f->ctx, 2, 1, f->pk[0], f->sk[0],
	    f->sealed[0][0], VAULT_RESHARE_SEALED_BYTES, sub, err, sizeof err), -1);
	assert_string_equal(err, "dealer 2: sub-share was sealed for another slot "
	    "(re-share, dealer or recipient)");
	/* Another re-share. */
	other.reshare_id[0] ^= 1;
	assert_int_equal(vault_reshare_open(&other, 1, 1, f->pk[0], f->sk[0],
	    f->sealed[0][0], VAULT_RESHARE_SEALED_BYTES, sub, err, sizeof err), -1);
	assert_string_equal(err, "dealer 1: sub-share was sealed for another slot "
	    "(re-share, dealer or recipient)");
	/* Flipped byte, short buffer. */
	memcpy(bad, f->sealed[0][0], sizeof bad);
	bad[60] ^= 1;
	assert_int_equal(vault_reshare_open(&f->ctx, 1, 1, f->pk[0], f->sk[0], bad,
	    sizeof bad, sub, err, sizeof err), -1);
	assert_string_equal(err, "dealer 1: sealed sub-share does not open with "
	    "this recipient key");
	assert_int_equal(vault_reshare_open(&f->ctx, 1, 1, f->pk[0], f->sk[0], bad,
	    50, sub, err, sizeof err), -1);
	assert_string_equal(err, "dealer 1: sealed sub-share is 50 bytes, expected 112");
	memset(zero, 0, sizeof zero);
	assert_memory_equal(sub, zero, 32);
	assert_int_equal(vault_reshare_open(&f->ctx, 1, 6, f->pk[0], f->sk[0],
	    f->sealed[0][0], VAULT_RESHARE_SEALED_BYTES, sub, err, sizeof err), -1);
	assert_string_equal(err, "re-share: recipient index 6 out of range 1..5");
}

static void
test_ctx_and_combine_checks(void **state)
{
	fixture *f = *state;
	vault_reshare_ctx c = f->ctx;
	unsigned char out[32], C[K_NEW * 32], subs[64];
	unsigned int dup[2] = { 1, 1 }, zero_idx[2] = { 0, 1 };
	char err[256];

	c.k_new = 1;
	assert_int_equal(vault_reshare_ctx_check(&c, err, sizeof err), -1);
	assert_string_equal(err, "re-share: new threshold 1 must be 2..5 (the new "
	    "custodian count)");
	c = f->ctx;
	c.n_new = 256;
	assert_int_equal(vault_reshare_ctx_check(&c, err, sizeof err), -1);
	assert_string_equal(err, "re-share: 256 new custodians, 2..255 allowed");
	c = f->ctx;
	c.from_generation = 0;
	assert_int_equal(vault_reshare_ctx_check(&c, err, sizeof err), -1);
	assert_string_equal(err, "re-share: generation must be at least 1");
	memset(subs, 1, sizeof subs);
	assert_int_equal(vault_reshare_combine(dup, 2, subs, out, err, sizeof err), -1);
	assert_string_equal(err, "re-share: dealer 1 listed twice");
	assert_int_equal(vault_reshare_combine(zero_idx, 2, subs, out, err,
	    sizeof err), -1);
	assert_string_equal(err, "re-share: dealer index 0 out of range 1..255");
	/* All three dealings with λ over {1,2,3} also give T. */
	{
		unsigned int all[3] = { 1, 2, 3 };

		assert_int_equal(vault_reshare_commitments(&f->ctx, all, 3, f->E[0],
		    f->T, C, sizeof C, err, sizeof err), 0);
		assert_memory_equal(C, f->T, 32);
	}
	/* A single dealer is not enough for a 2-of-3 key. */
	{
		unsigned int one[1] = { 1 };

		assert_int_equal(vault_reshare_commitments(&f->ctx, one, 1, f->E[0],
		    f->T, C, sizeof C, err, sizeof err), -1);
		assert_string_equal(err, "re-share: the new commitments do not give "
		    "the tenant key T (C'_0 != T): the qualified dealings are not of "
		    "this key's shares");
	}
}

static void
test_transcript(void **state)
{
	fixture *f = *state;
	unsigned char d1[32], d2[32], E[N_OLD][K_NEW * 32];
	unsigned int all[3] = { 1, 2, 3 }, rev[3] = { 1, 3, 2 };
	char err[256], s[24];

	memcpy(E, f->E, sizeof E);
	assert_int_equal(vault_reshare_transcript(&f->ctx, f->pk[0], all, 3, E[0],
	    d1, err, sizeof err), 0);
	assert_int_equal(vault_reshare_transcript(&f->ctx, f->pk[0], all, 3, E[0],
	    d2, err, sizeof err), 0);
	assert_memory_equal(d1, d2, 32);
	E[1][40] ^= 1;
	assert_int_equal(vault_reshare_transcript(&f->ctx, f->pk[0], all, 3, E[0],
	    d2, err, sizeof err), 0);
	assert_memory_not_equal(d1, d2, 32);
	assert_int_equal(vault_reshare_transcript(&f->ctx, f->pk[0], rev, 3, E[0],
	    d2, err, sizeof err), -1);
	assert_string_equal(err, "re-share: transcript dealers not in ascending order");
	vault_reshare_digest_short(d1, s, sizeof s);
	assert_int_equal(strlen(s), 19);
	assert_int_equal(s[4], '-');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reshare_2of3_to_3of5),
		cmocka_unit_test(test_bad_dealing),
		cmocka_unit_test(test_sealed_slots),
		cmocka_unit_test(test_ctx_and_combine_checks),
		cmocka_unit_test(test_transcript),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
