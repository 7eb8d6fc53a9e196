/* tests/unit/test_tenant.c — TAK generation, Shamir split, Feldman checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "vault/mem.h"
#include "vault/tenant.h"

struct split_case {
	unsigned int k;
	unsigned int n;
};

static const struct split_case good_splits[] = {
	{ 1, 1 }, { 1, 3 }, { 2, 3 }, { 3, 5 }, { 5, 5 }, { 4, 10 }, { 2, 255 },
	{ 16, 40 },
};

struct bad_split_case {
	unsigned int k;
	unsigned int n;
	const char  *msg;
};

static const struct bad_split_case bad_splits[] = {
	{ 0, 3,   "threshold must be at least 1" },
	{ 0, 0,   "threshold must be at least 1" },
	{ 4, 3,   "threshold 4 exceeds custodian count 3" },
	{ 1, 0,   "threshold 1 exceeds custodian count 0" },
	{ 2, 256, "at most 255 custodians" },
	{ 300, 300, "at most 255 custodians" },
};

static int
setup(void **state)
{
	(void)state;
	return vault_init();
}

static void
test_generate_valid(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good_splits / sizeof good_splits[0]; i++) {
		const struct split_case *c = &good_splits[i];
		vault_tenant_keys *keys = NULL;
		unsigned char      T[VAULT_POINT_BYTES];
		unsigned char      V[VAULT_POINT_BYTES], V2[VAULT_POINT_BYTES];
		unsigned char      commitments[VAULT_CUSTODIANS_MAX * VAULT_POINT_BYTES];
		size_t             clen = (size_t)c->k * VAULT_POINT_BYTES;
		char               err[256] = "";
		unsigned int       idx;

		assert_int_equal(vault_tenant_generate(&keys, c->k, c->n, err, sizeof err), 0);
		assert_non_null(keys);
		assert_int_equal(vault_tenant_keys_threshold(keys), c->k);
		assert_int_equal(vault_tenant_keys_custodians(keys), c->n);

		vault_tenant_keys_public_key(keys, T);
		assert_int_equal(crypto_core_ristretto255_is_valid_point(T), 1);
		assert_false(sodium_is_zero(T, sizeof T));

		/* Exact length only. */
		assert_int_equal(vault_tenant_keys_commitments(keys, commitments, clen + 1), -1);
		assert_int_equal(vault_tenant_keys_commitments(keys, commitments, clen - 1), -1);
		assert_int_equal(vault_tenant_keys_commitments(keys, commitments, clen), 0);
		assert_memory_equal(commitments, T, VAULT_POINT_BYTES);     /* C_0 = T */

		for (idx = 1; idx <= c->n; idx++) {
			const unsigned char *s = vault_tenant_keys_share(keys, idx);
			unsigned char        sB[VAULT_POINT_BYTES];

			assert_non_null(s);
			assert_int_equal(vault_tenant_keys_public_share(keys, idx, V), 0);
			assert_int_equal(crypto_scalarmult_ristretto255_base(sB, s), 0);
			assert_memory_equal(sB, V, sizeof V);               /* V_i = s_i·B */
			assert_int_equal(vault_tenant_public_share(commitments, clen, idx,
			    V2, err, sizeof err), 0);
			assert_memory_equal(V, V2, sizeof V);               /* from C_j */
			assert_int_equal(vault_tenant_verify_share(commitments, clen, idx,
			    s, err, sizeof err), 0);
		}
		assert_null(vault_tenant_keys_share(keys, 0));
		assert_null(vault_tenant_keys_share(keys, c->n + 1));
		assert_int_equal(vault_tenant_keys_public_share(keys, 0, V), -1);
		assert_true(sodium_is_zero(V, sizeof V));
		assert_int_equal(vault_tenant_keys_public_share(keys, c->n + 1, V), -1);

		vault_tenant_keys_free(&keys);
		assert_null(keys);
	}
}

static void
test_generate_refused(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad_splits / sizeof bad_splits[0]; i++) {
		vault_tenant_keys *keys = (vault_tenant_keys *)&keys; /* must be reset */
		char               err[256] = "";

		assert_int_equal(vault_tenant_generate(&keys, bad_splits[i].k,
		    bad_splits[i].n, err, sizeof err), -1);
		assert_null(keys);
		assert_non_null(strstr(err, bad_splits[i].msg));
	}
	assert_int_equal(vault_tenant_generate(NULL, 2, 3, NULL, 0), -1);
}

/* Two independent splits never share a key or a share. */
static void
test_generate_fresh(void **state)
{
	vault_tenant_keys *a = NULL, *b = NULL;
	unsigned char      Ta[VAULT_POINT_BYTES], Tb[VAULT_POINT_BYTES];

	(void)state;
	assert_int_equal(vault_tenant_generate(&a, 2, 3, NULL, 0), 0);
	assert_int_equal(vault_tenant_generate(&b, 2, 3, NULL, 0), 0);
	vault_tenant_keys_public_key(a, Ta);
	vault_tenant_keys_public_key(b, Tb);
	assert_memory_not_equal(Ta, Tb, sizeof Ta);
	assert_memory_not_equal(vault_tenant_keys_share(a, 1),
	    vault_tenant_keys_share(b, 1), VAULT_SCALAR_BYTES);
	/* Shares of one split differ from each other (k >= 2). */
	assert_memory_not_equal(vault_tenant_keys_share(a, 1),
	    vault_tenant_keys_share(a, 2), VAULT_SCALAR_BYTES);
	vault_tenant_keys_free(&a);
	vault_tenant_keys_free(&b);
	vault_tenant_keys_free(&a);          /* NULL is fine */
	vault_tenant_keys_free(NULL);
}

/* Every single-bit flip of every share fails the Feldman check, as does a
 * share presented under another index or against another tenant. */
static void
test_verify_share_corrupted(void **state)
{
	static const struct split_case cases[] = { { 2, 3 }, { 3, 5 }, { 1, 2 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		vault_tenant_keys *keys = NULL, *other = NULL;
		unsigned char      commitments[5 * VAULT_POINT_BYTES];
		unsigned char      other_c[5 * VAULT_POINT_BYTES];
		unsigned char      s[VAULT_SCALAR_BYTES];
		size_t             clen = (size_t)cases[i].k * VAULT_POINT_BYTES;
		unsigned int       idx, bit;
		char               err[256];

		assert_int_equal(vault_tenant_generate(&keys, cases[i].k, cases[i].n,
		    NULL, 0), 0);
		assert_int_equal(vault_tenant_generate(&other, cases[i].k, cases[i].n,
		    NULL, 0), 0);
		assert_int_equal(vault_tenant_keys_commitments(keys, commitments, clen), 0);
		assert_int_equal(vault_tenant_keys_commitments(other, other_c, clen), 0);

		for (idx = 1; idx <= cases[i].n; idx++) {
			for (bit = 0; bit < 8 * VAULT_SCALAR_BYTES; bit++) {
				memcpy(s, vault_tenant_keys_share(keys, idx), sizeof s);
				s[bit / 8] ^= (unsigned char)(1U << (bit % 8));
				err[0] = '\0';
				assert_int_equal(vault_tenant_verify_share(commitments, clen,
				    idx, s, err, sizeof err), -1);
				assert_true(strstr(err, "does not match") != NULL ||
				    strstr(err, "not a valid scalar") != NULL);
			}
			/* The right share under a wrong index (k >= 2 only: with
			 * k = 1 every share equals t). */
			if (cases[i].k >= 2) {
				unsigned int wrong = idx % cases[i].n + 1;
				assert_int_equal(vault_tenant_verify_share(commitments, clen,
				    wrong, vault_tenant_keys_share(keys, idx), err,
				    sizeof err), -1);
			}
			/* Against another tenant's commitments. */
			assert_int_equal(vault_tenant_verify_share(other_c, clen, idx,
			    vault_tenant_keys_share(keys, idx), err, sizeof err), -1);
		}
		sodium_memzero(s, sizeof s);
		vault_tenant_keys_free(&keys);
		vault_tenant_keys_free(&other);
	}
}

/* Malformed commitment vectors and indices. */
static void
test_commitments_malformed(void **state)
{
	vault_tenant_keys *keys = NULL;
	unsigned char      c[3 * VAULT_POINT_BYTES];
	unsigned char      bad[3 * VAULT_POINT_BYTES];
	unsigned char      V[VAULT_POINT_BYTES];
	unsigned char      zero_share[VAULT_SCALAR_BYTES];
	unsigned char      big_share[VAULT_SCALAR_BYTES];
	char               err[256];
	size_t             j;

	(void)state;
	assert_int_equal(vault_tenant_generate(&keys, 3, 5, NULL, 0), 0);
	assert_int_equal(vault_tenant_keys_commitments(keys, c, sizeof c), 0);

	assert_int_equal(vault_tenant_public_share(c, 0, 1, V, err, sizeof err), -1);
	assert_non_null(strstr(err, "length 0"));
	assert_true(sodium_is_zero(V, sizeof V));
	assert_int_equal(vault_tenant_public_share(c, sizeof c - 1, 1, V, err,
	    sizeof err), -1);
	assert_int_equal(vault_tenant_public_share(NULL, sizeof c, 1, V, err,
	    sizeof err), -1);
	assert_int_equal(vault_tenant_public_share(c, sizeof c, 0, V, err, sizeof err), -1);
	assert_non_null(strstr(err, "index 0 out of range"));
	assert_int_equal(vault_tenant_public_share(c, sizeof c, 256, V, err,
	    sizeof err), -1);

	/* Identity or invalid encoding in any position. */
	for (j = 0; j < 3; j++) {
		memcpy(bad, c, sizeof bad);
		memset(bad + j * VAULT_POINT_BYTES, 0, VAULT_POINT_BYTES);
		assert_int_equal(vault_tenant_public_share(bad, sizeof bad, 1, V, err,
		    sizeof err), -1);
		assert_non_null(strstr(err, "not a valid group element"));
		memcpy(bad, c, sizeof bad);
		memset(bad + j * VAULT_POINT_BYTES, 0xff, VAULT_POINT_BYTES);
		assert_int_equal(vault_tenant_public_share(bad, sizeof bad, 1, V, err,
		    sizeof err), -1);
	}
	/* A flipped commitment byte changes (or invalidates) V_i. */
	memcpy(bad, c, sizeof bad);
	bad[VAULT_POINT_BYTES + 5] ^= 0x04;
	assert_int_equal(vault_tenant_verify_share(bad, sizeof bad, 2,
	    vault_tenant_keys_share(keys, 2), err, sizeof err), -1);

	/* Zero and non-canonical scalars are refused as shares. */
	memset(zero_share, 0, sizeof zero_share);
	assert_int_equal(vault_tenant_verify_share(c, sizeof c, 1, zero_share, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "not a valid scalar"));
	memset(big_share, 0xff, sizeof big_share);
	assert_int_equal(vault_tenant_verify_share(c, sizeof c, 1, big_share, err,
	    sizeof err), -1);
	assert_int_equal(vault_tenant_verify_share(c, sizeof c, 1, NULL, err,
	    sizeof err), -1);

	vault_tenant_keys_free(&keys);
}

static void
test_fingerprint(void **state)
{
	vault_tenant_keys *a = NULL, *b = NULL;
	unsigned char      Ta[VAULT_POINT_BYTES], Tb[VAULT_POINT_BYTES];
	char               fa[VAULT_FINGERPRINT_HEX_BYTES], fa2[VAULT_FINGERPRINT_HEX_BYTES];
	char               fb[VAULT_FINGERPRINT_HEX_BYTES];
	char               small[VAULT_FINGERPRINT_HEX_BYTES - 1];
	size_t             i;

	(void)state;
	assert_int_equal(vault_tenant_generate(&a, 2, 3, NULL, 0), 0);
	assert_int_equal(vault_tenant_generate(&b, 2, 3, NULL, 0), 0);
	vault_tenant_keys_public_key(a, Ta);
	vault_tenant_keys_public_key(b, Tb);

	assert_int_equal(vault_tenant_fingerprint(Ta, fa, sizeof fa), 0);
	assert_int_equal(vault_tenant_fingerprint(Ta, fa2, sizeof fa2), 0);
	assert_int_equal(vault_tenant_fingerprint(Tb, fb, sizeof fb), 0);
	assert_int_equal(strlen(fa), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", fa[i]));
	assert_string_equal(fa, fa2);
	assert_string_not_equal(fa, fb);
	assert_int_equal(vault_tenant_fingerprint(Ta, small, sizeof small), -1);
	assert_int_equal(small[0], '\0');
	assert_int_equal(vault_tenant_fingerprint(Ta, NULL, 0), -1);

	vault_tenant_keys_free(&a);
	vault_tenant_keys_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_valid),
		cmocka_unit_test(test_generate_refused),
		cmocka_unit_test(test_generate_fresh),
		cmocka_unit_test(test_verify_share_corrupted),
		cmocka_unit_test(test_commitments_malformed),
		cmocka_unit_test(test_fingerprint),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
