/* tests/unit/test_threshold.c — epoch-key wrap/unwrap, custodian partials,
 * Chaum-Pedersen proofs and Lagrange combination. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "vault/mem.h"
#include "vault/tenant.h"
#include "vault/threshold.h"

/* A release context for these ids, recipient zero (rotating buffers). */
static const vault_release_ctx *
tc(const unsigned char *t, const unsigned char *m, const unsigned char *e)
{
	static vault_release_ctx c[4];
	static unsigned n;
	vault_release_ctx *x = &c[n++ % 4];

	vault_release_ctx_init(x, t, m, e, NULL);
	return x;
}
#include "vault/wrap.h"

#define MAX_N 5U

/* One tenant with one wrapped epoch key and every custodian's partial. */
struct fixture {
	vault_tenant_keys *keys;
	unsigned int       k, n;
	unsigned char      T[VAULT_POINT_BYTES];
	unsigned char      commitments[MAX_N * VAULT_POINT_BYTES];
	size_t             commitments_len;
	unsigned char      V[MAX_N + 1][VAULT_POINT_BYTES];     /* 1-based */
	unsigned char      tenant_id[VAULT_ID_BYTES];
	unsigned char      matter_id[VAULT_ID_BYTES];
	unsigned char      epoch_id[VAULT_ID_BYTES];
	unsigned char      ek[VAULT_EK_BYTES];
	unsigned char      R[VAULT_POINT_BYTES];
	unsigned char      wrapped[VAULT_WRAPPED_EK_BYTES];
	vault_partial      partials[MAX_N + 1];                  /* 1-based */
};

struct kn {
	unsigned int k, n;
};

static const struct kn release_cases[] = {
	{ 2, 3 }, { 3, 5 }, { 1, 2 }, { 4, 4 }, { 2, 5 },
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
fixture_make(struct fixture *f, unsigned int k, unsigned int n)
{
	unsigned int i;
	char         err[256] = "";

	memset(f, 0, sizeof *f);
	f->k = k;
	f->n = n;
	assert_true(n <= MAX_N);
	assert_int_equal(vault_tenant_generate(&f->keys, k, n, err, sizeof err), 0);
	vault_tenant_keys_public_key(f->keys, f->T);
	f->commitments_len = (size_t)k * VAULT_POINT_BYTES;
	assert_int_equal(vault_tenant_keys_commitments(f->keys, f->commitments,
	    f->commitments_len), 0);
	randombytes_buf(f->tenant_id, sizeof f->tenant_id);
	randombytes_buf(f->matter_id, sizeof f->matter_id);
	randombytes_buf(f->epoch_id, sizeof f->epoch_id);
	randombytes_buf(f->ek, sizeof f->ek);
	assert_int_equal(vault_ek_wrap(f->T, f->tenant_id, f->epoch_id, f->ek, f->R,
	    f->wrapped), 0);
	for (i = 1; i <= n; i++) {
		/* The verifier's V_i comes from the commitments, not the custodian. */
		assert_int_equal(vault_tenant_public_share(f->commitments,
		    f->commitments_len, i, f->V[i], err, sizeof err), 0);
		assert_int_equal(vault_threshold_partial(vault_tenant_keys_share(f->keys, i),
		    i, tc(f->tenant_id, f->matter_id, f->epoch_id), f->R, &f->partials[i],
		    err, sizeof err), 0);
	}
}

static void
fixture_free(struct fixture *f)
{
	vault_tenant_keys_free(&f->keys);
	sodium_memzero(f, sizeof *f);
}

static int
verify_in(const struct fixture *f, const vault_partial *p, unsigned int v_index,
    char *err, size_t err_len)
{
	return vault_threshold_verify(p, f->V[v_index], tc(f->tenant_id, f->matter_id, f->epoch_id), f->R, err, err_len);
}

static void
test_partials_verify(void **state)
{
	size_t       c;
	unsigned int i;
	char         err[256];

	(void)state;
	for (c = 0; c < sizeof release_cases / sizeof release_cases[0]; c++) {
		struct fixture f;

		fixture_make(&f, release_cases[c].k, release_cases[c].n);
		for (i = 1; i <= f.n; i++) {
			assert_int_equal(f.partials[i].index, i);
			assert_int_equal(verify_in(&f, &f.partials[i], i, err, sizeof err), 0);
		}
		fixture_free(&f);
	}
}

/* Every subset of at least k partials opens the epoch key; every smaller
 * one combines to a value that does not. */
static void
test_subsets(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < sizeof release_cases / sizeof release_cases[0]; c++) {
		struct fixture f;
		unsigned int   mask, i, opened = 0, refused = 0;

		fixture_make(&f, release_cases[c].k, release_cases[c].n);
		for (mask = 1; mask < (1U << f.n); mask++) {
			vault_partial sel[MAX_N];
			unsigned char S[VAULT_POINT_BYTES];
			unsigned char ek[VAULT_EK_BYTES];
			size_t        count = 0;
			char          err[256] = "";

			for (i = 1; i <= f.n; i++)
				if (mask & (1U << (i - 1)))
					sel[count++] = f.partials[i];
			assert_int_equal(vault_threshold_combine(sel, count, S, err,
			    sizeof err), 0);
			if (count >= f.k) {
				assert_int_equal(vault_threshold_unwrap(S, f.R, f.T,
				    f.tenant_id, f.epoch_id, f.wrapped, ek, err,
				    sizeof err), 0);
				assert_memory_equal(ek, f.ek, sizeof ek);
				opened++;
			} else {
				assert_int_equal(vault_threshold_unwrap(S, f.R, f.T,
				    f.tenant_id, f.epoch_id, f.wrapped, ek, err,
				    sizeof err), -1);
				assert_true(sodium_is_zero(ek, sizeof ek));
				assert_non_null(strstr(err, "epoch key does not open"));
				refused++;
			}
			sodium_memzero(S, sizeof S);
			sodium_memzero(ek, sizeof ek);
		}
		assert_true(opened >= 1);
		assert_true(f.k == 1 || refused >= 1);
		fixture_free(&f);
	}
}

/* Combination does not depend on the order partials arrive in. */
static void
test_combine_order(void **state)
{
	struct fixture f;
	vault_partial  fwd[3], rev[3];
	unsigned char  S1[VAULT_POINT_BYTES], S2[VAULT_POINT_BYTES];
	unsigned int   i;

	(void)state;
	fixture_make(&f, 3, 5);
	for (i = 0; i < 3; i++) {
		fwd[i] = f.partials[2 + i];
		rev[2 - i] = f.partials[2 + i];
	}
	assert_int_equal(vault_threshold_combine(fwd, 3, S1, NULL, 0), 0);
	assert_int_equal(vault_threshold_combine(rev, 3, S2, NULL, 0), 0);
	assert_memory_equal(S1, S2, sizeof S1);
	fixture_free(&f);
}

/* A partial made with a share that is not the custodian's fails its proof,
 * and the message names the custodian index the partial claims. */
static void
test_wrong_share(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < 2; c++) {
		struct fixture f;
		unsigned int   i;

		fixture_make(&f, release_cases[c].k, release_cases[c].n);
		for (i = 1; i <= f.n; i++) {
			vault_partial p;
			unsigned char rnd[VAULT_SCALAR_BYTES];
			unsigned int  other = i % f.n + 1;
			char          err[256] = "", want[64];

			snprintf(want, sizeof want, "custodian %u: partial proof does not "
			    "verify", i);
			/* Another custodian's share. */
			assert_int_equal(vault_threshold_partial(
			    vault_tenant_keys_share(f.keys, other), i, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, &p, err, sizeof err), 0);
			assert_int_equal(verify_in(&f, &p, i, err, sizeof err), -1);
			assert_string_equal(err, want);
			/* A random scalar. */
			crypto_core_ristretto255_scalar_random(rnd);
			assert_int_equal(vault_threshold_partial(rnd, i, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, &p, err, sizeof err), 0);
			assert_int_equal(verify_in(&f, &p, i, err, sizeof err), -1);
			assert_string_equal(err, want);
			sodium_memzero(rnd, sizeof rnd);
		}
		fixture_free(&f);
	}
}

/* Proofs bind R, matter, epoch, tenant and index: none can be replayed. */
static void
test_replay(void **state)
{
	struct fixture f;
	vault_partial  p, q;
	unsigned char  other_id[VAULT_ID_BYTES];
	unsigned char  R2[VAULT_POINT_BYTES], wrapped2[VAULT_WRAPPED_EK_BYTES];
	char           err[256];

	(void)state;
	fixture_make(&f, 2, 3);
	randombytes_buf(other_id, sizeof other_id);
	assert_int_equal(vault_ek_wrap(f.T, f.tenant_id, f.epoch_id, f.ek, R2,
	    wrapped2), 0);

	/* Made for another R (another epoch's wrap), checked against ours. */
	assert_int_equal(vault_threshold_partial(vault_tenant_keys_share(f.keys, 2), 2, tc(f.tenant_id, f.matter_id, f.epoch_id), R2, &p, err, sizeof err), 0);
	assert_int_equal(vault_threshold_verify(&p, f.V[2], tc(f.tenant_id, f.matter_id, f.epoch_id), R2, err, sizeof err), 0);
	assert_int_equal(verify_in(&f, &p, 2, err, sizeof err), -1);
	assert_string_equal(err, "custodian 2: partial proof does not verify");
	/* Our P spliced with the proof made for R2. */
	q = f.partials[2];
	memcpy(q.proof, p.proof, sizeof q.proof);
	assert_int_equal(verify_in(&f, &q, 2, err, sizeof err), -1);
	/* R2's P with our proof. */
	q = f.partials[2];
	memcpy(q.P, p.P, sizeof q.P);
	assert_int_equal(verify_in(&f, &q, 2, err, sizeof err), -1);

	/* Another matter, epoch or tenant. */
	p = f.partials[1];
	assert_int_equal(vault_threshold_verify(&p, f.V[1], tc(f.tenant_id, other_id, f.epoch_id), f.R, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: partial proof does not verify");
	assert_int_equal(vault_threshold_verify(&p, f.V[1], tc(f.tenant_id, f.matter_id, other_id), f.R, err, sizeof err), -1);
	assert_int_equal(vault_threshold_verify(&p, f.V[1], tc(other_id, f.matter_id, f.epoch_id), f.R, err, sizeof err), -1);

	/* Custodian 1's partial relabelled as custodian 3's. */
	p = f.partials[1];
	p.index = 3;
	assert_int_equal(verify_in(&f, &p, 3, err, sizeof err), -1);
	assert_string_equal(err, "custodian 3: partial proof does not verify");
	assert_int_equal(verify_in(&f, &p, 1, err, sizeof err), -1);
	/* Checked against the wrong public share. */
	assert_int_equal(verify_in(&f, &f.partials[1], 2, err, sizeof err), -1);

	fixture_free(&f);
}

/* Any flipped bit of P, c or z is caught, and so is the non-canonical
 * z + L that would otherwise verify. */
static void
test_tamper(void **state)
{
	struct fixture f;
	vault_partial  p;
	size_t         i;
	unsigned int   bit, carry;
	char           err[256];

	(void)state;
	fixture_make(&f, 3, 5);
	for (i = 0; i < VAULT_POINT_BYTES; i++) {
		for (bit = 0; bit < 8; bit++) {
			p = f.partials[4];
			p.P[i] ^= (unsigned char)(1U << bit);
			assert_int_equal(verify_in(&f, &p, 4, err, sizeof err), -1);
			assert_non_null(strstr(err, "custodian 4: "));
		}
	}
	for (i = 0; i < VAULT_PROOF_BYTES; i++) {
		for (bit = 0; bit < 8; bit++) {
			p = f.partials[4];
			p.proof[i] ^= (unsigned char)(1U << bit);
			assert_int_equal(verify_in(&f, &p, 4, err, sizeof err), -1);
			assert_string_equal(err, "custodian 4: partial proof does not verify");
		}
	}
	/* z' = z + L: same point multiples, different encoding. */
	p = f.partials[4];
	carry = 0;
	for (i = 0; i < VAULT_SCALAR_BYTES; i++) {
		unsigned int sum = p.proof[VAULT_SCALAR_BYTES + i] + group_order[i] + carry;
		p.proof[VAULT_SCALAR_BYTES + i] = (unsigned char)sum;
		carry = sum >> 8;
	}
	assert_int_equal(carry, 0);
	assert_int_equal(verify_in(&f, &p, 4, err, sizeof err), -1);
	/* Same for c. */
	p = f.partials[4];
	carry = 0;
	for (i = 0; i < VAULT_SCALAR_BYTES; i++) {
		unsigned int sum = p.proof[i] + group_order[i] + carry;
		p.proof[i] = (unsigned char)sum;
		carry = sum >> 8;
	}
	assert_int_equal(verify_in(&f, &p, 4, err, sizeof err), -1);
	/* Identity P, zero proof. */
	p = f.partials[4];
	memset(p.P, 0, sizeof p.P);
	assert_int_equal(verify_in(&f, &p, 4, err, sizeof err), -1);
	assert_string_equal(err, "custodian 4: partial is not a valid group element");
	p = f.partials[4];
	memset(p.proof, 0, sizeof p.proof);
	assert_int_equal(verify_in(&f, &p, 4, err, sizeof err), -1);
	/* Invalid V and R. */
	{
		unsigned char zero[VAULT_POINT_BYTES] = { 0 };
		assert_int_equal(vault_threshold_verify(&f.partials[4], zero, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, err, sizeof err), -1);
		assert_non_null(strstr(err, "custodian 4: public share"));
		assert_int_equal(vault_threshold_verify(&f.partials[4], f.V[4], tc(f.tenant_id, f.matter_id, f.epoch_id), zero, err, sizeof err), -1);
		assert_non_null(strstr(err, "custodian 4: epoch R"));
	}
	p = f.partials[4];
	p.index = 0;
	assert_int_equal(verify_in(&f, &p, 4, err, sizeof err), -1);
	p.index = 256;
	assert_int_equal(verify_in(&f, &p, 4, err, sizeof err), -1);
	assert_int_equal(vault_threshold_verify(NULL, f.V[4], tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, err, sizeof err), -1);
	fixture_free(&f);
}

struct combine_bad {
	unsigned int idx[3];
	size_t       count;
	int          zero_p;         /* make the second partial's P the identity */
	const char  *msg;
};

static const struct combine_bad combine_bad_cases[] = {
	{ { 2, 2, 0 }, 2, 0, "duplicate custodian index 2" },
	{ { 1, 3, 1 }, 3, 0, "duplicate custodian index 1" },
	{ { 0, 1, 0 }, 2, 0, "custodian index 0 out of range" },
	{ { 1, 256, 0 }, 2, 0, "custodian index 256 out of range" },
	{ { 1, 2, 0 }, 0, 0, "no partials to combine" },
	{ { 1, 2, 0 }, 2, 1, "custodian 2: partial is not a valid group element" },
};

static void
test_combine_refused(void **state)
{
	struct fixture f;
	size_t         c, i;

	(void)state;
	fixture_make(&f, 2, 3);
	for (c = 0; c < sizeof combine_bad_cases / sizeof combine_bad_cases[0]; c++) {
		const struct combine_bad *b = &combine_bad_cases[c];
		vault_partial             sel[3];
		unsigned char             S[VAULT_POINT_BYTES];
		char                      err[256] = "";

		for (i = 0; i < 3; i++) {
			sel[i] = f.partials[(i % 3) + 1];
			sel[i].index = b->idx[i];
		}
		if (b->zero_p)
			memset(sel[1].P, 0, sizeof sel[1].P);
		memset(S, 0xaa, sizeof S);
		assert_int_equal(vault_threshold_combine(sel, b->count, S, err,
		    sizeof err), -1);
		assert_true(sodium_is_zero(S, sizeof S));
		assert_non_null(strstr(err, b->msg));
	}
	{
		unsigned char S[VAULT_POINT_BYTES];
		char          err[256] = "";
		assert_int_equal(vault_threshold_combine(NULL, 2, S, err, sizeof err), -1);
		assert_non_null(strstr(err, "no partials"));
	}
	fixture_free(&f);
}

static void
test_partial_refused(void **state)
{
	struct fixture f;
	vault_partial  p;
	unsigned char  zero[VAULT_SCALAR_BYTES] = { 0 };
	unsigned char  big[VAULT_SCALAR_BYTES];
	char           err[256];

	(void)state;
	fixture_make(&f, 2, 3);
	memset(big, 0xff, sizeof big);

	memset(&p, 0xaa, sizeof p);
	assert_int_equal(vault_threshold_partial(vault_tenant_keys_share(f.keys, 1), 0, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, &p, err, sizeof err), -1);
	assert_non_null(strstr(err, "custodian index 0 out of range"));
	assert_true(sodium_is_zero((const unsigned char *)&p, sizeof p));
	assert_int_equal(vault_threshold_partial(vault_tenant_keys_share(f.keys, 1), 256, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, &p, err, sizeof err), -1);
	assert_int_equal(vault_threshold_partial(vault_tenant_keys_share(f.keys, 1), 1, tc(f.tenant_id, f.matter_id, f.epoch_id), zero, &p, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: epoch R is not a valid group element");
	assert_int_equal(vault_threshold_partial(zero, 1, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, &p, err, sizeof err), -1);
	assert_string_equal(err, "custodian 1: share is not a valid scalar");
	assert_int_equal(vault_threshold_partial(big, 1, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, &p, err, sizeof err), -1);
	assert_int_equal(vault_threshold_partial(NULL, 1, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, &p, err, sizeof err), -1);
	assert_int_equal(vault_threshold_partial(vault_tenant_keys_share(f.keys, 1), 1, tc(f.tenant_id, f.matter_id, f.epoch_id), f.R, NULL, err, sizeof err), -1);
	fixture_free(&f);
}

/* wrap/unwrap with a test-local tenant key (S = t·R computed directly). */
static void
test_wrap_unwrap(void **state)
{
	unsigned char t[VAULT_SCALAR_BYTES], T[VAULT_POINT_BYTES];
	unsigned char tid[VAULT_ID_BYTES], eid[VAULT_ID_BYTES], other[VAULT_ID_BYTES];
	unsigned char ek[VAULT_EK_BYTES], out[VAULT_EK_BYTES];
	unsigned char R[VAULT_POINT_BYTES], S[VAULT_POINT_BYTES], bad[VAULT_POINT_BYTES];
	unsigned char R2[VAULT_POINT_BYTES];
	unsigned char wrapped[VAULT_WRAPPED_EK_BYTES], w2[VAULT_WRAPPED_EK_BYTES];
	unsigned char rnd[VAULT_SCALAR_BYTES];
	size_t        i;

	(void)state;
	crypto_core_ristretto255_scalar_random(t);
	assert_int_equal(crypto_scalarmult_ristretto255_base(T, t), 0);
	randombytes_buf(tid, sizeof tid);
	randombytes_buf(eid, sizeof eid);
	randombytes_buf(other, sizeof other);
	randombytes_buf(ek, sizeof ek);

	assert_int_equal(vault_ek_wrap(T, tid, eid, ek, R, wrapped), 0);
	assert_int_equal(crypto_scalarmult_ristretto255(S, t, R), 0);
	assert_int_equal(vault_ek_unwrap(S, R, T, tid, eid, wrapped, out), 0);
	assert_memory_equal(out, ek, sizeof ek);

	/* Fresh r and nonce every time. */
	assert_int_equal(vault_ek_wrap(T, tid, eid, ek, R2, w2), 0);
	assert_memory_not_equal(R, R2, sizeof R);
	assert_memory_not_equal(wrapped, w2, sizeof wrapped);

	/* Wrong S: a random point, and S of the other wrap. */
	crypto_core_ristretto255_scalar_random(rnd);
	assert_int_equal(crypto_scalarmult_ristretto255_base(bad, rnd), 0);
	memset(out, 0xaa, sizeof out);
	assert_int_equal(vault_ek_unwrap(bad, R, T, tid, eid, wrapped, out), -1);
	assert_true(sodium_is_zero(out, sizeof out));
	assert_int_equal(crypto_scalarmult_ristretto255(bad, t, R2), 0);
	assert_int_equal(vault_ek_unwrap(bad, R, T, tid, eid, wrapped, out), -1);
	/* Identity S. */
	memset(bad, 0, sizeof bad);
	assert_int_equal(vault_ek_unwrap(bad, R, T, tid, eid, wrapped, out), -1);
	/* Wrong ids, wrong R, wrong T. */
	assert_int_equal(vault_ek_unwrap(S, R, T, other, eid, wrapped, out), -1);
	assert_int_equal(vault_ek_unwrap(S, R, T, tid, other, wrapped, out), -1);
	assert_int_equal(vault_ek_unwrap(S, R, T, eid, tid, wrapped, out), -1);
	assert_int_equal(vault_ek_unwrap(S, R2, T, tid, eid, wrapped, out), -1);
	assert_int_equal(vault_ek_unwrap(S, R, R2, tid, eid, wrapped, out), -1);
	assert_true(sodium_is_zero(out, sizeof out));
	/* Every flipped byte of the wrapped key. */
	for (i = 0; i < VAULT_WRAPPED_EK_BYTES; i++) {
		memcpy(w2, wrapped, sizeof w2);
		w2[i] ^= 0x01;
		memset(out, 0xaa, sizeof out);
		assert_int_equal(vault_ek_unwrap(S, R, T, tid, eid, w2, out), -1);
		assert_true(sodium_is_zero(out, sizeof out));
		w2[i] ^= 0x81;
		assert_int_equal(vault_ek_unwrap(S, R, T, tid, eid, w2, out), -1);
	}
	/* Every flipped byte of R. */
	for (i = 0; i < VAULT_POINT_BYTES; i++) {
		memcpy(bad, R, sizeof bad);
		bad[i] ^= 0x01;
		assert_int_equal(vault_ek_unwrap(S, bad, T, tid, eid, wrapped, out), -1);
	}

	/* Invalid tenant public keys are refused, outputs zeroed. */
	{
		static const unsigned char bad_first[] = { 0x00, 0xff, 0x01 };
		for (i = 0; i < sizeof bad_first; i++) {
			memset(bad, bad_first[i], sizeof bad);
			if (bad_first[i] == 0x01)          /* non-canonical / off-curve */
				bad[31] = 0x80;
			memset(R2, 0xaa, sizeof R2);
			memset(w2, 0xaa, sizeof w2);
			assert_int_equal(vault_ek_wrap(bad, tid, eid, ek, R2, w2), -1);
			assert_true(sodium_is_zero(R2, sizeof R2));
			assert_true(sodium_is_zero(w2, sizeof w2));
		}
	}
	sodium_memzero(t, sizeof t);
	sodium_memzero(S, sizeof S);
	sodium_memzero(rnd, sizeof rnd);
}

/* End to end through the threshold path for several epochs of one tenant:
 * partials for epoch A do not open epoch B. */
static void
test_cross_epoch(void **state)
{
	struct fixture f;
	unsigned char  eid2[VAULT_ID_BYTES], R2[VAULT_POINT_BYTES];
	unsigned char  w2[VAULT_WRAPPED_EK_BYTES], ek[VAULT_EK_BYTES];
	unsigned char  S[VAULT_POINT_BYTES];
	vault_partial  sel[2];

	(void)state;
	fixture_make(&f, 2, 3);
	randombytes_buf(eid2, sizeof eid2);
	assert_int_equal(vault_ek_wrap(f.T, f.tenant_id, eid2, f.ek, R2, w2), 0);
	sel[0] = f.partials[1];
	sel[1] = f.partials[3];
	assert_int_equal(vault_threshold_combine(sel, 2, S, NULL, 0), 0);
	assert_int_equal(vault_threshold_unwrap(S, R2, f.T, f.tenant_id, eid2, w2, ek,
	    NULL, 0), -1);
	assert_int_equal(vault_threshold_unwrap(S, f.R, f.T, f.tenant_id, f.epoch_id,
	    f.wrapped, ek, NULL, 0), 0);
	assert_memory_equal(ek, f.ek, sizeof ek);
	sodium_memzero(S, sizeof S);
	sodium_memzero(ek, sizeof ek);
	fixture_free(&f);
}

/* Blinded release (vault_blind_*): every k-subset of partials on R' opens
 * the epoch only after unblinding with the matter's seed; the blinded
 * combination alone, or unblinding with another seed, opens nothing. */
static void
test_blind_release(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < 2; c++) {
		struct fixture f;
		unsigned char seed[VAULT_BLIND_SEED_BYTES], other[VAULT_BLIND_SEED_BYTES];
		unsigned char rcpt[VAULT_RECIPIENT_BYTES], Rb[VAULT_POINT_BYTES];
		unsigned char bp[VAULT_PROOF_BYTES], Sb[VAULT_POINT_BYTES];
		unsigned char S[VAULT_POINT_BYTES], ek[VAULT_EK_BYTES];
		vault_partial bl[MAX_N + 1];
		vault_release_ctx ctx;
		char err[256] = "";
		unsigned int i, mask, opened = 0, subsets = 0;

		fixture_make(&f, release_cases[c].k, release_cases[c].n);
		randombytes_buf(seed, sizeof seed);
		randombytes_buf(other, sizeof other);
		randombytes_buf(rcpt, sizeof rcpt);
		vault_release_ctx_init(&ctx, f.tenant_id, f.matter_id, f.epoch_id, rcpt);
		assert_int_equal(vault_blind_point(seed, &ctx, f.R, Rb, bp, err,
		    sizeof err), 0);
		assert_int_equal(vault_blind_verify(&ctx, f.R, Rb, bp, err,
		    sizeof err), 0);
		for (i = 1; i <= f.n; i++) {
			assert_int_equal(vault_threshold_partial(
			    vault_tenant_keys_share(f.keys, i), i, &ctx, Rb, &bl[i], err,
			    sizeof err), 0);
			assert_int_equal(vault_threshold_verify(&bl[i], f.V[i], &ctx, Rb,
			    err, sizeof err), 0);
			/* the blinded partial does not verify on the real R */
			assert_int_not_equal(vault_threshold_verify(&bl[i], f.V[i], &ctx,
			    f.R, err, sizeof err), 0);
		}
		for (mask = 1; mask < (1U << f.n); mask++) {
			vault_partial sub[MAX_N];
			unsigned int cnt = 0;

			for (i = 1; i <= f.n; i++)
				if (mask & (1U << (i - 1)))
					sub[cnt++] = bl[i];
			if (cnt != f.k && cnt != f.k - 1)
				continue;
			subsets++;
			if (cnt == 0 || vault_threshold_combine(sub, cnt, Sb, err,
			    sizeof err) != 0)
				continue;
			/* what a database reader holds: S' — it must not open */
			assert_int_not_equal(vault_threshold_unwrap(Sb, f.R, f.T,
			    f.tenant_id, f.epoch_id, f.wrapped, ek, err, sizeof err), 0);
			/* unblinded with another seed: nothing either */
			assert_int_equal(vault_blind_unblind(other, &ctx, Sb, S, err,
			    sizeof err), 0);
			assert_int_not_equal(vault_threshold_unwrap(S, f.R, f.T,
			    f.tenant_id, f.epoch_id, f.wrapped, ek, err, sizeof err), 0);
			assert_int_equal(vault_blind_unblind(seed, &ctx, Sb, S, err,
			    sizeof err), 0);
			if (vault_threshold_unwrap(S, f.R, f.T, f.tenant_id, f.epoch_id,
			    f.wrapped, ek, err, sizeof err) == 0) {
				assert_int_equal(cnt, f.k);
				assert_memory_equal(ek, f.ek, sizeof ek);
				opened++;
			} else
				assert_int_equal(cnt, f.k - 1);
		}
		assert_true(subsets > 0);
		assert_true(opened > 0);
		fixture_free(&f);
	}
}

/* The blinding proof ties R' to one epoch's R and one context; proofs of
 * partials bind the recipient key. */
static void
test_blind_proof(void **state)
{
	struct fixture f;
	unsigned char seed[VAULT_BLIND_SEED_BYTES], rcpt[VAULT_RECIPIENT_BYTES];
	unsigned char Rb[VAULT_POINT_BYTES], bp[VAULT_PROOF_BYTES];
	unsigned char R2[VAULT_POINT_BYTES], w2[VAULT_WRAPPED_EK_BYTES];
	unsigned char Rb2[VAULT_POINT_BYTES], bp2[VAULT_PROOF_BYTES];
	vault_release_ctx ctx, other;
	vault_partial p;
	char err[256] = "";

	(void)state;
	fixture_make(&f, 2, 3);
	randombytes_buf(seed, sizeof seed);
	randombytes_buf(rcpt, sizeof rcpt);
	vault_release_ctx_init(&ctx, f.tenant_id, f.matter_id, f.epoch_id, rcpt);
	assert_int_equal(vault_blind_point(seed, &ctx, f.R, Rb, bp, err,
	    sizeof err), 0);
	/* deterministic R', randomised proof that still verifies */
	assert_int_equal(vault_blind_point(seed, &ctx, f.R, Rb2, bp2, err,
	    sizeof err), 0);
	assert_memory_equal(Rb, Rb2, sizeof Rb);
	assert_int_equal(vault_blind_verify(&ctx, f.R, Rb, bp2, err, sizeof err), 0);
	/* another epoch's R: the proof does not hold */
	assert_int_equal(vault_ek_wrap(f.T, f.tenant_id, f.epoch_id, f.ek, R2, w2), 0);
	assert_int_not_equal(vault_blind_verify(&ctx, R2, Rb, bp, err, sizeof err), 0);
	assert_string_equal(err, "the blinded point's proof does not verify for "
	    "this epoch's R");
	/* R' = ρ·R2 presented for R (the API trying to get R2 answered) */
	assert_int_equal(vault_blind_point(seed, &ctx, R2, Rb2, bp2, err,
	    sizeof err), 0);
	assert_int_not_equal(vault_blind_verify(&ctx, f.R, Rb2, bp2, err,
	    sizeof err), 0);
	/* R' = R itself (no blinding) with a made-up proof */
	assert_int_not_equal(vault_blind_verify(&ctx, f.R, f.R, bp, err,
	    sizeof err), 0);
	/* tampered proof */
	bp[3] ^= 1;
	assert_int_not_equal(vault_blind_verify(&ctx, f.R, Rb, bp, err, sizeof err), 0);
	bp[3] ^= 1;
	/* another recipient: neither proof holds */
	other = ctx;
	other.recipient[0] ^= 1;
	assert_int_not_equal(vault_blind_verify(&other, f.R, Rb, bp, err,
	    sizeof err), 0);
	assert_int_equal(vault_threshold_partial(vault_tenant_keys_share(f.keys, 1),
	    1, &ctx, Rb, &p, err, sizeof err), 0);
	assert_int_equal(vault_threshold_verify(&p, f.V[1], &ctx, Rb, err,
	    sizeof err), 0);
	assert_int_not_equal(vault_threshold_verify(&p, f.V[1], &other, Rb, err,
	    sizeof err), 0);
	assert_string_equal(err, "custodian 1: partial proof does not verify");
	fixture_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrap_unwrap),
		cmocka_unit_test(test_partials_verify),
		cmocka_unit_test(test_subsets),
		cmocka_unit_test(test_combine_order),
		cmocka_unit_test(test_wrong_share),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_combine_refused),
		cmocka_unit_test(test_partial_refused),
		cmocka_unit_test(test_cross_epoch),
		cmocka_unit_test(test_blind_release),
		cmocka_unit_test(test_blind_proof),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
