/* vault/group.c — see group.h.  The scalar check reduces a copy and
 * compares in constant time; the temporaries are wiped. */
#include "vault/group.h"

#include <string.h>

#include <sodium.h>

int
vault_point_usable(const unsigned char p[VAULT_POINT_BYTES])
{
	return crypto_core_ristretto255_is_valid_point(p) == 1 &&
	    sodium_is_zero(p, VAULT_POINT_BYTES) == 0;
}

int
vault_scalar_usable(const unsigned char s[VAULT_SCALAR_BYTES])
{
	unsigned char wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES];
	unsigned char red[VAULT_SCALAR_BYTES];
	int ok;

	memset(wide, 0, sizeof wide);
	memcpy(wide, s, VAULT_SCALAR_BYTES);
	crypto_core_ristretto255_scalar_reduce(red, wide);
	ok = sodium_memcmp(red, s, VAULT_SCALAR_BYTES) == 0 &&
	    sodium_is_zero(s, VAULT_SCALAR_BYTES) == 0;
	sodium_memzero(wide, sizeof wide);
	sodium_memzero(red, sizeof red);
	return ok;
}

void
vault_scalar_from_index(unsigned char x[VAULT_SCALAR_BYTES], unsigned int index)
{
	memset(x, 0, VAULT_SCALAR_BYTES);
	x[0] = (unsigned char)index;
}

int
vault_lagrange_at0(const unsigned int *index, size_t count, size_t which,
    unsigned char lambda[VAULT_SCALAR_BYTES])
{
	unsigned char xi[VAULT_SCALAR_BYTES], xj[VAULT_SCALAR_BYTES];
	unsigned char num[VAULT_SCALAR_BYTES], den[VAULT_SCALAR_BYTES];
	unsigned char diff[VAULT_SCALAR_BYTES], inv[VAULT_SCALAR_BYTES];
	unsigned char tmp[VAULT_SCALAR_BYTES];
	size_t j;

	memset(lambda, 0, VAULT_SCALAR_BYTES);
	if (index == NULL || which >= count)
		return -1;
	vault_scalar_from_index(xi, index[which]);
	vault_scalar_from_index(num, 1);
	vault_scalar_from_index(den, 1);
	for (j = 0; j < count; j++) {
		if (j == which)
			continue;
		vault_scalar_from_index(xj, index[j]);
		/* libsodium does not promise in-place arithmetic. */
		crypto_core_ristretto255_scalar_mul(tmp, num, xj);
		memcpy(num, tmp, sizeof num);
		crypto_core_ristretto255_scalar_sub(diff, xj, xi);
		crypto_core_ristretto255_scalar_mul(tmp, den, diff);
		memcpy(den, tmp, sizeof den);
	}
	if (crypto_core_ristretto255_scalar_invert(inv, den) != 0)
		return -1;
	crypto_core_ristretto255_scalar_mul(lambda, num, inv);
	return 0;
}
