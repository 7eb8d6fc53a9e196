/* tests/unit/test_codec.c — vault/codec.c: the big-endian integers.
 *
 * int8/int4 both ways, from char * (as PQgetvalue returns it) and from
 * bytes, the extremes, and a negative int8 through the cast.  (Base64
 * validation is tested with the record parser, test_record.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vault/codec.h"

static void
test_be64(void **state)
{
	static const unsigned char want[8] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
	};
	unsigned char b[8];
	const char *as_text = (const char *)want;

	(void)state;
	vault_be64_put(b, 0x0123456789abcdefULL);
	assert_memory_equal(b, want, 8);
	assert_true(vault_be64_get(b) == 0x0123456789abcdefULL);
	assert_true(vault_be64_get(as_text) == 0x0123456789abcdefULL);
	vault_be64_put(b, 0);
	assert_true(vault_be64_get(b) == 0);
	vault_be64_put(b, UINT64_MAX);
	assert_true(vault_be64_get(b) == UINT64_MAX);
	/* int8 -1 and a negative timestamp round-trip through the cast */
	vault_be64_put(b, (uint64_t)(int64_t)-1);
	assert_true((int64_t)vault_be64_get(b) == -1);
	assert_int_equal(b[0], 0xff);
}

static void
test_be32(void **state)
{
	static const unsigned char want[4] = { 0xde, 0xad, 0xbe, 0xef };
	unsigned char b[4];

	(void)state;
	vault_be32_put(b, 0xdeadbeefU);
	assert_memory_equal(b, want, 4);
	assert_true(vault_be32_get(b) == 0xdeadbeefU);
	assert_true(vault_be32_get((const char *)want) == 0xdeadbeefU);
	vault_be32_put(b, 1);
	assert_int_equal(b[3], 1);
	assert_int_equal(b[0], 0);
}

/* Unicode's Table 3-7 (well-formed UTF-8 byte sequences), written out as
 * ranges: a formulation other than the decoder's (decode, then range
 * checks).  The length of the well-formed sequence at b[0..n), or 0. */
static size_t
table37(const unsigned char *b, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, k;

	if (b[0] >= 0xc2 && b[0] <= 0xdf)
		len = 2;
	else if (b[0] >= 0xe0 && b[0] <= 0xef)
		len = 3;
	else if (b[0] >= 0xf0 && b[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (b[0] == 0xe0)
		lo = 0xa0;
	else if (b[0] == 0xed)
		hi = 0x9f;
	else if (b[0] == 0xf0)
		lo = 0x90;
	else if (b[0] == 0xf4)
		hi = 0x8f;
	if (n < len || b[1] < lo || b[1] > hi)
		return 0;
	for (k = 2; k < len; k++)
		if (b[k] < 0x80 || b[k] > 0xbf)
			return 0;
	return len;
}

static uint32_t
cp_of(const unsigned char *b, size_t len)
{
	static const unsigned char lead[5] = { 0, 0, 0x1f, 0x0f, 0x07 };
	uint32_t v = b[0] & lead[len];
	size_t k;

	for (k = 1; k < len; k++)
		v = v << 6 | (b[k] & 0x3fU);
	return v;
}

static void
check_seq(const unsigned char *b, size_t n)
{
	uint32_t cp = 0xffffffffU;
	size_t want = table37(b, n), got = vault_utf8_seq(b, n, &cp);

	if (got != want)
		fail_msg("%02x %02x %02x %02x (avail %zu): %zu, Table 3-7 says %zu",
		    b[0], n > 1 ? b[1] : 0, n > 2 ? b[2] : 0, n > 3 ? b[3] : 0, n,
		    got, want);
	if (got != 0 && cp != cp_of(b, got))
		fail_msg("%02x %02x: code point %x", b[0], b[1], (unsigned)cp);
}

static void
test_utf8_seq(void **state)
{
	static const unsigned char edge[] = { 0x00, 0x7f, 0x80, 0x8f, 0x90,
	    0x9f, 0xa0, 0xbf, 0xc0, 0xff };
	unsigned char b[4];
	unsigned a, c, d, e;
	uint32_t cp, v;
	size_t n;

	(void)state;
	/* every lead and second byte, then every third byte, with every
	 * available length: all 2- and 3-byte sequences exhaustively */
	for (a = 0x80; a <= 0xff; a++)
		for (c = 0; c <= 0xff; c++)
			for (d = 0; d <= 0xff; d++) {
				b[0] = (unsigned char)a;
				b[1] = (unsigned char)c;
				b[2] = (unsigned char)d;
				b[3] = 0x80;
				for (n = 1; n <= 4; n++)
					check_seq(b, n);
			}
	/* 4-byte: every second byte, the edge values for the rest */
	for (a = 0xf0; a <= 0xff; a++)
		for (c = 0; c <= 0xff; c++)
			for (d = 0; d < sizeof(edge); d++)
				for (e = 0; e < sizeof(edge); e++) {
					b[0] = (unsigned char)a;
					b[1] = (unsigned char)c;
					b[2] = edge[d];
					b[3] = edge[e];
					for (n = 1; n <= 4; n++)
						check_seq(b, n);
				}
	/* every code point from U+0080 round-trips; surrogates never do */
	for (v = 0x80; v <= 0x10ffffU; v++) {
		if (v < 0x800) {
			b[0] = (unsigned char)(0xc0 | v >> 6);
			b[1] = (unsigned char)(0x80 | (v & 0x3f));
			n = 2;
		} else if (v < 0x10000) {
			b[0] = (unsigned char)(0xe0 | v >> 12);
			b[1] = (unsigned char)(0x80 | (v >> 6 & 0x3f));
			b[2] = (unsigned char)(0x80 | (v & 0x3f));
			n = 3;
		} else {
			b[0] = (unsigned char)(0xf0 | v >> 18);
			b[1] = (unsigned char)(0x80 | (v >> 12 & 0x3f));
			b[2] = (unsigned char)(0x80 | (v >> 6 & 0x3f));
			b[3] = (unsigned char)(0x80 | (v & 0x3f));
			n = 4;
		}
		cp = 0;
		if (v >= 0xd800 && v <= 0xdfff) {
			assert_int_equal(vault_utf8_seq(b, n, &cp), 0);
			continue;
		}
		assert_int_equal(vault_utf8_seq(b, n, &cp), n);
		assert_true(cp == v);
		assert_int_equal(vault_utf8_seq(b, n - 1, &cp), 0);
	}
	/* named cases: overlong, above U+10FFFF, a surrogate, cut short */
	assert_int_equal(vault_utf8_seq((const unsigned char *)"\xc0\x80", 2, &cp), 0);
	assert_int_equal(vault_utf8_seq((const unsigned char *)"\xe0\x9f\xbf", 3, &cp), 0);
	assert_int_equal(vault_utf8_seq((const unsigned char *)"\xf0\x8f\xbf\xbf", 4, &cp), 0);
	assert_int_equal(vault_utf8_seq((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
	assert_int_equal(vault_utf8_seq((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
	assert_int_equal(vault_utf8_seq((const unsigned char *)"\xe2\x82", 2, &cp), 0);
	assert_int_equal(vault_utf8_seq((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp), 4);
	assert_true(cp == 0x10ffffU);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_be64),
		cmocka_unit_test(test_be32),
		cmocka_unit_test(test_utf8_seq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
