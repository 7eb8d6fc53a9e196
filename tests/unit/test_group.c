/* tests/unit/test_group.c — vault/group.c: usable elements and scalars.
 *
 * Points: the base point and a random one pass; the identity, a
 * non-canonical encoding and a non-point are refused.  Scalars: 1, L-1
 * and a random one pass; 0, L and L+1 (not reduced) and all-ones are
 * refused.  Small indices become the scalar they name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "vault/group.h"

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian */
static const unsigned char L[VAULT_SCALAR_BYTES] = {
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
	0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10
};

static void
test_points(void **state)
{
	unsigned char p[VAULT_POINT_BYTES], r[VAULT_SCALAR_BYTES];

	(void)state;
	memset(r, 0, sizeof(r));
	r[0] = 1;
	assert_int_equal(crypto_scalarmult_ristretto255_base(p, r), 0);
	assert_int_equal(vault_point_usable(p), 1);
	crypto_core_ristretto255_random(p);
	assert_int_equal(vault_point_usable(p), 1);
	memset(p, 0, sizeof(p));                       /* the identity */
	assert_int_equal(vault_point_usable(p), 0);
	memset(p, 0xff, sizeof(p));                    /* not canonical */
	assert_int_equal(vault_point_usable(p), 0);
	memset(p, 0, sizeof(p));
	p[0] = 1;                                      /* odd: not a point */
	assert_int_equal(vault_point_usable(p), 0);
}

static void
test_scalars(void **state)
{
	unsigned char s[VAULT_SCALAR_BYTES];

	(void)state;
	vault_scalar_from_index(s, 1);
	assert_int_equal(vault_scalar_usable(s), 1);
	assert_int_equal(s[0], 1);
	assert_true(sodium_is_zero(s + 1, sizeof(s) - 1));
	crypto_core_ristretto255_scalar_random(s);
	assert_int_equal(vault_scalar_usable(s), 1);
	memcpy(s, L, sizeof(s));
	s[0]--;                                        /* L - 1 */
	assert_int_equal(vault_scalar_usable(s), 1);
	vault_scalar_from_index(s, 0);
	assert_int_equal(vault_scalar_usable(s), 0);
	memcpy(s, L, sizeof(s));
	assert_int_equal(vault_scalar_usable(s), 0);
	s[0]++;                                        /* L + 1 */
	assert_int_equal(vault_scalar_usable(s), 0);
	memset(s, 0xff, sizeof(s));
	assert_int_equal(vault_scalar_usable(s), 0);
	vault_scalar_from_index(s, 255);
	assert_int_equal(s[0], 255);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_points),
		cmocka_unit_test(test_scalars),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
