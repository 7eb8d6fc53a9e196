/* vault/tenant.c — tenant archive key generation, Shamir split, Feldman checks.
 *
 * What it does: draws t, splits it k-of-n with a random polynomial over the
 * ristretto255 scalar field, publishes Feldman commitments C_j = a_j·B and
 * custodian public shares V_i = s_i·B, and checks shares and public shares
 * against commitments.
 *
 * What it trusts: libsodium for randomness, scalar arithmetic and group
 * operations. It does not trust commitments or shares handed to the check
 * functions: every encoding is validated, and the identity element (which
 * libsodium 1.0.18's is_valid_point accepts) is refused.
 *
 * What it does not do: reconstruct t. t and the polynomial coefficients live
 * in one secure buffer for the length of vault_tenant_generate() only.
 */
#include "vault/tenant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/err.h"
#include "vault/group.h"
#include "vault/mem.h"

struct vault_tenant_keys {
	unsigned int   k;
	unsigned int   n;
	unsigned char  T[VAULT_POINT_BYTES];
	unsigned char  commitments[VAULT_CUSTODIANS_MAX][VAULT_POINT_BYTES];
	unsigned char  V[VAULT_CUSTODIANS_MAX][VAULT_POINT_BYTES];
	unsigned char *shares;          /* n * VAULT_SCALAR_BYTES, secure memory */
};

static const unsigned char fp_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-tak-fp-v1";

/* out = f(index) by Horner's rule; coef holds k scalars, a_0 first. */
static void
poly_eval(unsigned char out[VAULT_SCALAR_BYTES], const unsigned char *coef,
    unsigned int k, unsigned int index)
{
	unsigned char x[VAULT_SCALAR_BYTES];
	unsigned char acc[VAULT_SCALAR_BYTES];
	unsigned char tmp[VAULT_SCALAR_BYTES];
	unsigned int  j;

	vault_scalar_from_index(x, index);
	memcpy(acc, coef + (size_t)(k - 1) * VAULT_SCALAR_BYTES, VAULT_SCALAR_BYTES);
	for (j = k - 1; j-- > 0;) {
		crypto_core_ristretto255_scalar_mul(tmp, acc, x);
		crypto_core_ristretto255_scalar_add(acc, tmp,
		    coef + (size_t)j * VAULT_SCALAR_BYTES);
	}
	memcpy(out, acc, VAULT_SCALAR_BYTES);
	sodium_memzero(acc, sizeof acc);
	sodium_memzero(tmp, sizeof tmp);
}

/* Validates a commitment vector and returns its k. */
static int
commitments_check(const unsigned char *c, size_t c_len, unsigned int *k_out,
    char *err, size_t err_len)
{
	size_t j, k;

	*k_out = 0;
	if (c == NULL || c_len == 0 || c_len % VAULT_POINT_BYTES != 0) {
		vault_err_set(err, err_len, "commitments: length %zu is not a non-zero "
		    "multiple of %u", c_len, VAULT_POINT_BYTES);
		return -1;
	}
	k = c_len / VAULT_POINT_BYTES;
	if (k > VAULT_CUSTODIANS_MAX) {
		vault_err_set(err, err_len, "commitments: %zu of them, at most %u allowed",
		    k, VAULT_CUSTODIANS_MAX);
		return -1;
	}
	for (j = 0; j < k; j++) {
		if (!vault_point_usable(c + j * VAULT_POINT_BYTES)) {
			vault_err_set(err, err_len, "commitments: C_%zu is not a valid "
			    "group element", j);
			return -1;
		}
	}
	*k_out = (unsigned int)k;
	return 0;
}

/* V = Σ_j C_j·index^j by Horner's rule over points. Inputs already checked. */
static int
feldman_eval(unsigned char V[VAULT_POINT_BYTES], const unsigned char *c,
    unsigned int k, unsigned int index)
{
	unsigned char x[VAULT_SCALAR_BYTES];
	unsigned char acc[VAULT_POINT_BYTES];
	unsigned char tmp[VAULT_POINT_BYTES];
	unsigned int  j;

	vault_scalar_from_index(x, index);
	memcpy(acc, c + (size_t)(k - 1) * VAULT_POINT_BYTES, VAULT_POINT_BYTES);
	for (j = k - 1; j-- > 0;) {
		/* Fails only when acc is the identity, which honest commitments
		 * reach with negligible probability; treat as inconsistent. */
		if (crypto_scalarmult_ristretto255(tmp, x, acc) != 0)
			return -1;
		if (crypto_core_ristretto255_add(acc, tmp,
		    c + (size_t)j * VAULT_POINT_BYTES) != 0)
			return -1;
	}
	if (!vault_point_usable(acc))
		return -1;
	memcpy(V, acc, VAULT_POINT_BYTES);
	return 0;
}

int
vault_shamir_split(const unsigned char *secret, unsigned int k, unsigned int n,
    unsigned char *commitments_out, unsigned char *shares_out,
    char *err, size_t err_len)
{
	unsigned char *coef = NULL;
	unsigned char  V[VAULT_POINT_BYTES];
	unsigned int   i, j;
	int            rc = -1;

	if (k < 1) {
		vault_err_set(err, err_len, "threshold must be at least 1 (got %u)", k);
		return -1;
	}
	if (n > VAULT_CUSTODIANS_MAX) {
		vault_err_set(err, err_len, "at most %u custodians (got %u)",
		    VAULT_CUSTODIANS_MAX, n);
		return -1;
	}
	if (k > n) {
		vault_err_set(err, err_len, "threshold %u exceeds custodian count %u",
		    k, n);
		return -1;
	}
	if (commitments_out == NULL || shares_out == NULL) {
		vault_err_set(err, err_len, "split: no output buffer");
		return -1;
	}
	if (secret != NULL && !vault_scalar_usable(secret)) {
		vault_err_set(err, err_len, "split: the secret is not a usable scalar");
		return -1;
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if ((coef = vault_secure_alloc((size_t)k * VAULT_SCALAR_BYTES)) == NULL) {
		vault_err_set(err, err_len, "cannot allocate secure memory");
		return -1;
	}
	/* a_0 = the secret (or random); scalar_random never returns 0, so no
	 * commitment is the identity. */
	for (j = 0; j < k; j++) {
		unsigned char *a = coef + (size_t)j * VAULT_SCALAR_BYTES;

		if (j == 0 && secret != NULL)
			memcpy(a, secret, VAULT_SCALAR_BYTES);
		else
			crypto_core_ristretto255_scalar_random(a);
		if (crypto_scalarmult_ristretto255_base(commitments_out +
		    (size_t)j * VAULT_POINT_BYTES, a) != 0) {
			vault_err_set(err, err_len, "commitment computation failed");
			goto fail;
		}
	}
	for (i = 1; i <= n; i++) {
		unsigned char *s = shares_out + (size_t)(i - 1) * VAULT_SCALAR_BYTES;

		poly_eval(s, coef, k, i);
		/* s_i = 0 has probability ~n/2^252; refuse rather than hand out
		 * an unusable share. */
		if (crypto_scalarmult_ristretto255_base(V, s) != 0) {
			vault_err_set(err, err_len, "degenerate share, try again");
			goto fail;
		}
	}
	rc = 0;
fail:
	vault_wipe(coef, (size_t)k * VAULT_SCALAR_BYTES);
	vault_secure_free(coef);
	if (rc != 0) {
		vault_wipe(shares_out, (size_t)n * VAULT_SCALAR_BYTES);
		memset(commitments_out, 0, (size_t)k * VAULT_POINT_BYTES);
	}
	return rc;
}

int
vault_tenant_generate(vault_tenant_keys **out, unsigned int k, unsigned int n,
    char *err, size_t err_len)
{
	vault_tenant_keys *keys = NULL;
	char               msg[256];
	unsigned int       i;
	int                rc = -1;

	if (out == NULL) {
		vault_err_set(err, err_len, "tenant: no output pointer");
		return -1;
	}
	*out = NULL;
	if ((keys = calloc(1, sizeof *keys)) == NULL) {
		vault_err_set(err, err_len, "tenant: out of memory");
		goto fail;
	}
	keys->k = k;
	keys->n = n;
	if (n >= 1 && n <= VAULT_CUSTODIANS_MAX &&
	    (keys->shares = vault_secure_alloc((size_t)n * VAULT_SCALAR_BYTES)) == NULL) {
		vault_err_set(err, err_len, "tenant: cannot allocate secure memory");
		goto fail;
	}
	if (vault_shamir_split(NULL, k, n, keys->commitments[0],
	    keys->shares, msg, sizeof msg) != 0) {
		vault_err_set(err, err_len, "tenant: %s", msg);
		goto fail;
	}
	memcpy(keys->T, keys->commitments[0], VAULT_POINT_BYTES);
	for (i = 1; i <= n; i++)
		if (crypto_scalarmult_ristretto255_base(keys->V[i - 1],
		    keys->shares + (size_t)(i - 1) * VAULT_SCALAR_BYTES) != 0) {
			vault_err_set(err, err_len, "tenant: degenerate share, try again");
			goto fail;
		}
	*out = keys;
	keys = NULL;
	rc = 0;
fail:
	vault_tenant_keys_free(&keys);
	return rc;
}

void
vault_tenant_keys_free(vault_tenant_keys **keys)
{
	if (keys == NULL || *keys == NULL)
		return;
	if ((*keys)->shares != NULL) {
		vault_wipe((*keys)->shares, (size_t)(*keys)->n * VAULT_SCALAR_BYTES);
		vault_secure_free((*keys)->shares);
	}
	sodium_memzero(*keys, sizeof **keys);
	free(*keys);
	*keys = NULL;
}

unsigned int
vault_tenant_keys_threshold(const vault_tenant_keys *keys)
{
	return keys == NULL ? 0 : keys->k;
}

unsigned int
vault_tenant_keys_custodians(const vault_tenant_keys *keys)
{
	return keys == NULL ? 0 : keys->n;
}

void
vault_tenant_keys_public_key(const vault_tenant_keys *keys,
    unsigned char T_out[VAULT_POINT_BYTES])
{
	memset(T_out, 0, VAULT_POINT_BYTES);
	if (keys != NULL)
		memcpy(T_out, keys->T, VAULT_POINT_BYTES);
}

int
vault_tenant_keys_commitments(const vault_tenant_keys *keys, unsigned char *out,
    size_t out_len)
{
	if (out != NULL && out_len > 0)
		memset(out, 0, out_len);
	if (keys == NULL || out == NULL ||
	    out_len != (size_t)keys->k * VAULT_POINT_BYTES)
		return -1;
	memcpy(out, keys->commitments, out_len);
	return 0;
}

int
vault_tenant_keys_public_share(const vault_tenant_keys *keys, unsigned int index,
    unsigned char V_out[VAULT_POINT_BYTES])
{
	memset(V_out, 0, VAULT_POINT_BYTES);
	if (keys == NULL || index < 1 || index > keys->n)
		return -1;
	memcpy(V_out, keys->V[index - 1], VAULT_POINT_BYTES);
	return 0;
}

const unsigned char *
vault_tenant_keys_share(const vault_tenant_keys *keys, unsigned int index)
{
	if (keys == NULL || index < 1 || index > keys->n)
		return NULL;
	return keys->shares + (size_t)(index - 1) * VAULT_SCALAR_BYTES;
}

int
vault_tenant_public_share(const unsigned char *commitments, size_t commitments_len,
    unsigned int index, unsigned char V_out[VAULT_POINT_BYTES],
    char *err, size_t err_len)
{
	unsigned int k;

	memset(V_out, 0, VAULT_POINT_BYTES);
	if (index < 1 || index > VAULT_CUSTODIANS_MAX) {
		vault_err_set(err, err_len, "custodian index %u out of range 1..%u",
		    index, VAULT_CUSTODIANS_MAX);
		return -1;
	}
	if (commitments_check(commitments, commitments_len, &k, err, err_len) != 0)
		return -1;
	if (feldman_eval(V_out, commitments, k, index) != 0) {
		memset(V_out, 0, VAULT_POINT_BYTES);
		vault_err_set(err, err_len, "custodian %u: commitments give no valid "
		    "public share", index);
		return -1;
	}
	return 0;
}

int
vault_tenant_verify_share(const unsigned char *commitments, size_t commitments_len,
    unsigned int index, const unsigned char share[VAULT_SCALAR_BYTES],
    char *err, size_t err_len)
{
	unsigned char sB[VAULT_POINT_BYTES];
	unsigned char V[VAULT_POINT_BYTES];
	int           rc = -1;

	memset(sB, 0, sizeof sB);
	if (share == NULL) {
		vault_err_set(err, err_len, "custodian %u: no share", index);
		goto fail;
	}
	if (vault_tenant_public_share(commitments, commitments_len, index, V,
	    err, err_len) != 0)
		goto fail;
	if (!vault_scalar_usable(share) ||
	    crypto_scalarmult_ristretto255_base(sB, share) != 0) {
		vault_err_set(err, err_len, "custodian %u: share is not a valid scalar", index);
		goto fail;
	}
	if (sodium_memcmp(sB, V, VAULT_POINT_BYTES) != 0) {
		vault_err_set(err, err_len, "custodian %u: share does not match the tenant "
		    "commitments", index);
		goto fail;
	}
	rc = 0;
fail:
	sodium_memzero(sB, sizeof sB);
	return rc;
}

int
vault_tenant_fingerprint(const unsigned char T[VAULT_POINT_BYTES], char *out,
    size_t out_len)
{
	unsigned char h[16];

	if (out == NULL || out_len < VAULT_FINGERPRINT_HEX_BYTES) {
		if (out != NULL && out_len > 0)
			out[0] = '\0';
		return -1;
	}
	out[0] = '\0';
	if (vault_init() != 0)
		return -1;
	if (crypto_generichash_blake2b_salt_personal(h, sizeof h, T, VAULT_POINT_BYTES,
	    NULL, 0, NULL, fp_personal) != 0)
		return -1;
	sodium_bin2hex(out, out_len, h, sizeof h);
	return 0;
}
