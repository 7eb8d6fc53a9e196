/* tests/unit/test_sharefile.c — custodian share files: round trip, wrong
 * passphrase, every single-byte corruption, truncation, KDF limit bounds.
 *
 * Round trip and wrong passphrase use INTERACTIVE Argon2id limits; the
 * exhaustive corruption and truncation sweeps use the Argon2id minimum so the
 * binary stays within a few seconds (the header is AD either way). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "vault/mem.h"
#include "vault/sharefile.h"
#include "vault/tenant.h"

#define PASS      "correct horse battery staple"
#define ERR_OPEN  "wrong passphrase or corrupted share file"

struct sf_fixture {
	vault_tenant_keys   *keys;
	unsigned char        commitments[2 * VAULT_POINT_BYTES];
	vault_sharefile_info info;
	unsigned char        file[VAULT_SHAREFILE_BYTES];
	size_t               file_len;
};

static int
setup(void **state)
{
	(void)state;
	return vault_init();
}

static void
fixture_make(struct sf_fixture *f, unsigned long long ops, unsigned long long mem)
{
	char err[256] = "";

	memset(f, 0, sizeof *f);
	assert_int_equal(vault_tenant_generate(&f->keys, 2, 3, err, sizeof err), 0);
	assert_int_equal(vault_tenant_keys_commitments(f->keys, f->commitments,
	    sizeof f->commitments), 0);
	randombytes_buf(f->info.tenant_id, sizeof f->info.tenant_id);
	vault_tenant_keys_public_key(f->keys, f->info.tenant_pk);
	f->info.index = 2;
	f->info.n = 3;
	f->info.k = 2;
	f->info.generation = 1;
	f->info.opslimit = ops;
	f->info.memlimit = mem;
	assert_int_equal(vault_sharefile_seal(&f->info, vault_tenant_keys_share(f->keys, 2),
	    PASS, strlen(PASS), f->file, sizeof f->file, &f->file_len, err, sizeof err), 0);
	assert_int_equal(f->file_len, VAULT_SHAREFILE_BYTES);
}

static void
fixture_free(struct sf_fixture *f)
{
	vault_tenant_keys_free(&f->keys);
	sodium_memzero(f, sizeof *f);
}

static void
assert_info_equal(const vault_sharefile_info *a, const vault_sharefile_info *b)
{
	assert_memory_equal(a->tenant_id, b->tenant_id, VAULT_ID_BYTES);
	assert_memory_equal(a->tenant_pk, b->tenant_pk, VAULT_POINT_BYTES);
	assert_int_equal(a->index, b->index);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->k, b->k);
	assert_int_equal(a->opslimit, b->opslimit);
	assert_int_equal(a->memlimit, b->memlimit);
}

/* Open must fail with no output at all. */
static void
assert_open_fails(const unsigned char *file, size_t len, const char *pass,
    char *err, size_t err_len)
{
	vault_sharefile_info info;
	unsigned char       *share = (unsigned char *)&info;   /* must be reset */

	memset(&info, 0xaa, sizeof info);
	err[0] = '\0';
	assert_int_equal(vault_sharefile_open(file, len, pass, strlen(pass), &info,
	    &share, err, err_len), -1);
	assert_null(share);
	assert_true(sodium_is_zero((const unsigned char *)&info, sizeof info));
	assert_true(err[0] != '\0');
}

static void
test_round_trip(void **state)
{
	struct sf_fixture    f;
	vault_sharefile_info info;
	unsigned char        again[VAULT_SHAREFILE_BYTES];
	unsigned char       *share = NULL;
	size_t               again_len = 0;
	char                 err[256] = "";

	(void)state;
	fixture_make(&f, VAULT_SHAREFILE_OPSLIMIT_INTERACTIVE,
	    VAULT_SHAREFILE_MEMLIMIT_INTERACTIVE);
	assert_memory_equal(f.file, "COFFER-SHARE\x02", 13);

	/* Metadata without the passphrase. */
	assert_int_equal(vault_sharefile_inspect(f.file, f.file_len, &info, err,
	    sizeof err), 0);
	assert_info_equal(&info, &f.info);

	memset(&info, 0, sizeof info);
	assert_int_equal(vault_sharefile_open(f.file, f.file_len, PASS, strlen(PASS),
	    &info, &share, err, sizeof err), 0);
	assert_non_null(share);
	assert_memory_equal(share, vault_tenant_keys_share(f.keys, 2), VAULT_SCALAR_BYTES);
	assert_info_equal(&info, &f.info);
	assert_int_equal(vault_tenant_verify_share(f.commitments, sizeof f.commitments,
	    info.index, share, err, sizeof err), 0);
	vault_secure_free(share);

	/* Fresh salt and nonce every time. */
	assert_int_equal(vault_sharefile_seal(&f.info, vault_tenant_keys_share(f.keys, 2),
	    PASS, strlen(PASS), again, sizeof again, &again_len, err, sizeof err), 0);
	assert_int_equal(again_len, VAULT_SHAREFILE_BYTES);
	assert_memory_equal(again, f.file, 80);                     /* header */
	assert_memory_not_equal(again + 80, f.file + 80, 16);       /* salt */
	assert_memory_not_equal(again + 96, f.file + 96, 24);       /* nonce */
	fixture_free(&f);
}

static void
test_wrong_passphrase(void **state)
{
	static const char *const wrong[] = {
		"correct horse battery stapl",          /* prefix */
		"Correct horse battery staple",
		"",
	};
	struct sf_fixture f;
	size_t            i;
	char              err[256];

	(void)state;
	fixture_make(&f, VAULT_SHAREFILE_OPSLIMIT_INTERACTIVE,
	    VAULT_SHAREFILE_MEMLIMIT_INTERACTIVE);
	for (i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		assert_open_fails(f.file, f.file_len, wrong[i], err, sizeof err);
		assert_string_equal(err, ERR_OPEN);
	}
	fixture_free(&f);
}

/* Every byte of the file, flipped three ways, makes open fail. Masks that
 * turn the memlimit into a large but legal value are skipped (their effect,
 * a changed AD, is covered by the 0x01 mask on the same byte). */
static void
test_every_byte_corrupted(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x80, 0xff };
	struct sf_fixture f;
	unsigned char     bad[VAULT_SHAREFILE_BYTES];
	size_t            i, m, tried = 0, skipped = 0;
	char              err[256];

	(void)state;
	fixture_make(&f, VAULT_SHAREFILE_OPSLIMIT_MIN, VAULT_SHAREFILE_MEMLIMIT_MIN);
	for (i = 0; i < f.file_len; i++) {
		for (m = 0; m < sizeof masks; m++) {
			vault_sharefile_info peek;

			memcpy(bad, f.file, sizeof bad);
			bad[i] ^= masks[m];
			if (vault_sharefile_inspect(bad, sizeof bad, &peek, NULL, 0) == 0 &&
			    peek.memlimit > VAULT_SHAREFILE_MEMLIMIT_INTERACTIVE) {
				skipped++;
				continue;
			}
			assert_open_fails(bad, sizeof bad, PASS, err, sizeof err);
			tried++;
			if (i < 12)
				assert_string_equal(err, "not a Coffer share file (bad magic)");
			else if (i == 12)
				assert_non_null(strstr(err, "unsupported share file version"));
			else if (i >= 16 && i < 32)         /* tenant id: only AD */
				assert_string_equal(err, ERR_OPEN);
			else if (i >= 80 && i < 88)         /* generation, holder */
				assert_true(err[0] != '\0');
			else if (i >= 88)                   /* salt, nonce, ciphertext */
				assert_string_equal(err, ERR_OPEN);
		}
	}
	assert_true(skipped <= 2);
	assert_true(tried >= 3 * VAULT_SHAREFILE_BYTES - 2);

	/* Unmodified still opens. */
	{
		vault_sharefile_info info;
		unsigned char       *share = NULL;
		assert_int_equal(vault_sharefile_open(f.file, f.file_len, PASS,
		    strlen(PASS), &info, &share, err, sizeof err), 0);
		vault_secure_free(share);
	}
	fixture_free(&f);
}

static void
test_truncated(void **state)
{
	struct sf_fixture f;
	unsigned char     longer[VAULT_SHAREFILE_BYTES + 1];
	size_t            len;
	char              err[256], want[64];

	(void)state;
	fixture_make(&f, VAULT_SHAREFILE_OPSLIMIT_MIN, VAULT_SHAREFILE_MEMLIMIT_MIN);
	for (len = 0; len < f.file_len; len++) {
		assert_open_fails(f.file, len, PASS, err, sizeof err);
		if (len == 0) {
			assert_string_equal(err, "share file is empty");
		} else if (len <= 12) {
			snprintf(want, sizeof want, "share file truncated: %zu bytes", len);
			assert_string_equal(err, want);
		} else {
			snprintf(want, sizeof want, "share file truncated: %zu of %u bytes",
			    len, VAULT_SHAREFILE_BYTES);
			assert_string_equal(err, want);
		}
	}
	memcpy(longer, f.file, f.file_len);
	longer[f.file_len] = '\n';
	assert_open_fails(longer, sizeof longer, PASS, err, sizeof err);
	assert_string_equal(err, "share file has 1 unexpected trailing bytes");
	assert_open_fails(NULL, 0, PASS, err, sizeof err);
	fixture_free(&f);
}

static void
put_u64(unsigned char *p, unsigned long long v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

struct header_case {
	size_t             off;
	int                is_u64;
	unsigned long long value;
	const char        *msg;
};

static const struct header_case header_cases[] = {
	{ 64, 1, 0,              "opslimit 0 outside" },
	{ 64, 1, 33,             "opslimit 33 outside" },
	{ 64, 1, 0xffffffffffffffffULL, "opslimit 18446744073709551615 outside" },
	{ 72, 1, 4096,           "memlimit 4096 bytes outside" },
	{ 72, 1, 4294967297ULL,  "memlimit 4294967297 bytes outside" },
	{ 72, 1, 0xffffffffffffffffULL, "memlimit 18446744073709551615 bytes outside" },
	{ 12, 0, 3,              "unsupported share file version 3 (this build reads versions 1 and 2)" },
	{ 80, 0, 0,              "generation 0 outside 1..1000000" },
	{ 83, 0, 0xff,           "generation 4278190081 outside 1..1000000" },
	{ 84, 0, 2,              "unknown holder kind 2" },
	{ 85, 0, 1,              "reserved header bytes are not zero" },
	{ 87, 0, 1,              "reserved header bytes are not zero" },
	{ 12, 0, 0,              "unsupported share file version 0" },
	{ 13, 0, 0,              "custodian index 0 outside 1..3" },
	{ 13, 0, 4,              "custodian index 4 outside 1..3" },
	{ 14, 0, 0,              "custodian count 0 outside" },
	{ 14, 0, 1,              "threshold 2 outside 1..1" },
	{ 15, 0, 0,              "threshold 0 outside" },
	{ 15, 0, 4,              "threshold 4 outside 1..3" },
	{ 0,  0, 'c',            "bad magic" },
};

/* Doctored headers are refused by inspect and open, before any KDF. */
static void
test_header_fields(void **state)
{
	struct sf_fixture    f;
	unsigned char        bad[VAULT_SHAREFILE_BYTES];
	vault_sharefile_info info;
	size_t               i;
	char                 err[256];

	(void)state;
	fixture_make(&f, VAULT_SHAREFILE_OPSLIMIT_MIN, VAULT_SHAREFILE_MEMLIMIT_MIN);
	for (i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
		const struct header_case *h = &header_cases[i];

		memcpy(bad, f.file, sizeof bad);
		if (h->is_u64)
			put_u64(bad + h->off, h->value);
		else
			bad[h->off] = (unsigned char)h->value;
		err[0] = '\0';
		assert_int_equal(vault_sharefile_inspect(bad, sizeof bad, &info, err,
		    sizeof err), -1);
		assert_true(sodium_is_zero((const unsigned char *)&info, sizeof info));
		assert_non_null(strstr(err, h->msg));
		assert_open_fails(bad, sizeof bad, PASS, err, sizeof err);
		assert_non_null(strstr(err, h->msg));
	}
	/* An identity or invalid tenant key. */
	memcpy(bad, f.file, sizeof bad);
	memset(bad + 32, 0, VAULT_POINT_BYTES);
	assert_open_fails(bad, sizeof bad, PASS, err, sizeof err);
	assert_non_null(strstr(err, "tenant public key"));
	memset(bad + 32, 0xff, VAULT_POINT_BYTES);
	assert_open_fails(bad, sizeof bad, PASS, err, sizeof err);
	assert_non_null(strstr(err, "tenant public key"));
	/* Not a share file at all. */
	assert_open_fails((const unsigned char *)"-----BEGIN PGP MESSAGE-----", 27, PASS,
	    err, sizeof err);
	assert_string_equal(err, "not a Coffer share file (bad magic)");
	assert_open_fails((const unsigned char *)"COFF", 4, PASS, err, sizeof err);
	assert_string_equal(err, "share file truncated: 4 bytes");
	fixture_free(&f);
}

struct seal_case {
	unsigned int       index, n, k;
	unsigned long long ops, mem;
	int                bad_pk;
	int                bad_share;       /* 1 zero, 2 non-canonical */
	const char        *pass;
	size_t             cap;
	const char        *msg;
};

#define OK_OPS VAULT_SHAREFILE_OPSLIMIT_MIN
#define OK_MEM VAULT_SHAREFILE_MEMLIMIT_MIN
#define CAP    VAULT_SHAREFILE_BYTES

static const struct seal_case seal_cases[] = {
	{ 0, 3, 2, OK_OPS, OK_MEM, 0, 0, PASS, CAP, "custodian index 0 outside 1..3" },
	{ 4, 3, 2, OK_OPS, OK_MEM, 0, 0, PASS, CAP, "custodian index 4 outside 1..3" },
	{ 1, 3, 4, OK_OPS, OK_MEM, 0, 0, PASS, CAP, "threshold 4 outside 1..3" },
	{ 1, 3, 0, OK_OPS, OK_MEM, 0, 0, PASS, CAP, "threshold 0 outside 1..3" },
	{ 1, 0, 0, OK_OPS, OK_MEM, 0, 0, PASS, CAP, "custodian count 0 outside" },
	{ 1, 256, 2, OK_OPS, OK_MEM, 0, 0, PASS, CAP, "custodian count 256 outside" },
	{ 1, 3, 2, 0, OK_MEM, 0, 0, PASS, CAP, "opslimit 0 outside" },
	{ 1, 3, 2, 33, OK_MEM, 0, 0, PASS, CAP, "opslimit 33 outside" },
	{ 1, 3, 2, OK_OPS, 8191, 0, 0, PASS, CAP, "memlimit 8191 bytes outside" },
	{ 1, 3, 2, OK_OPS, 4294967297ULL, 0, 0, PASS, CAP, "memlimit 4294967297" },
	{ 1, 3, 2, OK_OPS, OK_MEM, 1, 0, PASS, CAP, "tenant public key" },
	{ 1, 3, 2, OK_OPS, OK_MEM, 0, 1, PASS, CAP, "share is not a valid scalar" },
	{ 1, 3, 2, OK_OPS, OK_MEM, 0, 2, PASS, CAP, "share is not a valid scalar" },
	{ 1, 3, 2, OK_OPS, OK_MEM, 0, 0, "", CAP, "passphrase must not be empty" },
	{ 1, 3, 2, OK_OPS, OK_MEM, 0, 0, PASS, CAP - 1, "output buffer of 175 bytes" },
};

static void
test_seal_refused(void **state)
{
	vault_tenant_keys *keys = NULL;
	size_t             i;

	(void)state;
	assert_int_equal(vault_tenant_generate(&keys, 2, 3, NULL, 0), 0);
	for (i = 0; i < sizeof seal_cases / sizeof seal_cases[0]; i++) {
		const struct seal_case *c = &seal_cases[i];
		vault_sharefile_info    info;
		unsigned char           share[VAULT_SCALAR_BYTES];
		unsigned char           out[VAULT_SHAREFILE_BYTES];
		size_t                  out_len = 99;
		char                    err[256] = "";

		memset(&info, 0, sizeof info);
		randombytes_buf(info.tenant_id, sizeof info.tenant_id);
		vault_tenant_keys_public_key(keys, info.tenant_pk);
		if (c->bad_pk)
			memset(info.tenant_pk, 0, sizeof info.tenant_pk);
		info.index = c->index;
		info.n = c->n;
		info.k = c->k;
		info.generation = 1;
		info.opslimit = c->ops;
		info.memlimit = c->mem;
		memcpy(share, vault_tenant_keys_share(keys, 1), sizeof share);
		if (c->bad_share == 1)
			memset(share, 0, sizeof share);
		else if (c->bad_share == 2)
			memset(share, 0xff, sizeof share);
		memset(out, 0xaa, sizeof out);
		assert_int_equal(vault_sharefile_seal(&info, share, c->pass,
		    strlen(c->pass), out, c->cap, &out_len, err, sizeof err), -1);
		assert_int_equal(out_len, 0);
		assert_true(sodium_is_zero(out, c->cap));
		assert_non_null(strstr(err, c->msg));
		sodium_memzero(share, sizeof share);
	}
	vault_tenant_keys_free(&keys);
}

/* A file sealed for one custodian of a larger tenant, with k = n = 255. */
static void
test_limits_extremes(void **state)
{
	vault_sharefile_info info, got;
	unsigned char        share[VAULT_SCALAR_BYTES];
	unsigned char        out[VAULT_SHAREFILE_BYTES];
	unsigned char       *opened = NULL;
	size_t               out_len = 0;
	char                 err[256] = "";

	(void)state;
	memset(&info, 0, sizeof info);
	crypto_core_ristretto255_scalar_random(share);
	assert_int_equal(crypto_scalarmult_ristretto255_base(info.tenant_pk, share), 0);
	info.index = 255;
	info.n = 255;
	info.k = 255;
	info.generation = 1;
	info.opslimit = VAULT_SHAREFILE_OPSLIMIT_MIN;
	info.memlimit = VAULT_SHAREFILE_MEMLIMIT_MIN;
	assert_int_equal(vault_sharefile_seal(&info, share, "x", 1, out, sizeof out,
	    &out_len, err, sizeof err), 0);
	assert_int_equal(vault_sharefile_open(out, out_len, "x", 1, &got, &opened,
	    err, sizeof err), 0);
	assert_info_equal(&got, &info);
	assert_memory_equal(opened, share, sizeof share);
	vault_secure_free(opened);
	sodium_memzero(share, sizeof share);
}

/* A version-1 file (168 bytes, before share generations) still opens, as
 * generation 1 held by a custodian; its header is its own AD. */
static void
test_version1_read(void **state)
{
	struct sf_fixture    f;
	vault_sharefile_info info;
	unsigned char        v1[VAULT_SHAREFILE_V1_BYTES], *share = NULL;
	char                 err[256];

	(void)state;
	fixture_make(&f, VAULT_SHAREFILE_OPSLIMIT_MIN, VAULT_SHAREFILE_MEMLIMIT_MIN);
	memset(v1, 0, sizeof v1);
	memcpy(v1, f.file, 80);
	v1[12] = 1;
	assert_int_equal(vault_pwbox_seal(v1, 120, vault_tenant_keys_share(f.keys, 2),
	    VAULT_SCALAR_BYTES, PASS, strlen(PASS), VAULT_SHAREFILE_OPSLIMIT_MIN,
	    VAULT_SHAREFILE_MEMLIMIT_MIN, "share file", err, sizeof err), 0);
	assert_int_equal(vault_sharefile_open(v1, sizeof v1, PASS, strlen(PASS),
	    &info, &share, err, sizeof err), 0);
	assert_int_equal(info.version, 1);
	assert_int_equal(info.generation, 1);
	assert_int_equal(info.holder, VAULT_SHARE_HOLDER_CUSTODIAN);
	assert_int_equal(info.index, 2);
	assert_memory_equal(share, vault_tenant_keys_share(f.keys, 2), VAULT_SCALAR_BYTES);
	vault_secure_free(share);
	/* Its own length only: a v1 header with v2's size is refused. */
	{
		unsigned char v2as1[VAULT_SHAREFILE_BYTES];

		memcpy(v2as1, f.file, sizeof v2as1);
		v2as1[12] = 1;
		assert_open_fails(v2as1, sizeof v2as1, PASS, err, sizeof err);
		assert_string_equal(err, "share file has 8 unexpected trailing bytes");
	}
	v1[100] ^= 1;
	assert_open_fails(v1, sizeof v1, PASS, err, sizeof err);
	assert_string_equal(err, ERR_OPEN);
	fixture_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version1_read),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_every_byte_corrupted),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_seal_refused),
		cmocka_unit_test(test_limits_extremes),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
