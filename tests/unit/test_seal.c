/* tests/unit/test_seal.c — epoch keys and record sealing (vault/seal.h).
 *
 * Round trips at 0 B, 1 B, 1 KiB and 1 MiB; every single-bit change of the
 * nonce, the ciphertext (sampled at 1 MiB) and each AD field must fail to
 * open with the output wiped; wrong epoch keys fail; the record key is the
 * documented KDF of seq; epochs wrap to the tenant and unwrap with S = t·R.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "vault/mem.h"
#include "vault/seal.h"
#include "vault/wrap.h"

#define MIB (1024U * 1024U)

static const size_t sizes[] = { 0, 1, 1024, MIB };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct fixture {
	unsigned char  ek[VAULT_EK_BYTES];
	vault_record_ad ad;
	vault_epoch   *e;
	unsigned char *msg;   /* MIB bytes of pattern */
	unsigned char *ct;    /* MIB + overhead */
	unsigned char *pt;    /* MIB */
};

static void
fill_ids(vault_record_ad *ad)
{
	memset(ad, 0, sizeof(*ad));
	ad->version = VAULT_RECORD_V1;
	memset(ad->tenant_id, 0x11, VAULT_ID_BYTES);
	memset(ad->stream_id, 0x22, VAULT_ID_BYTES);
	memset(ad->epoch_id, 0x33, VAULT_ID_BYTES);
	ad->seq = 42;
	ad->received_at = 1795860000000000LL;   /* 2026-11-28 µs */
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	size_t          i;

	if (f == NULL || vault_init() != 0)
		return -1;
	randombytes_buf(f->ek, sizeof(f->ek));
	fill_ids(&f->ad);
	if (vault_epoch_from_key(&f->e, f->ad.tenant_id, f->ad.epoch_id, f->ek,
	                         NULL, 0) != 0)
		return -1;
	f->msg = malloc(MIB);
	f->ct = malloc(MIB + VAULT_SEAL_OVERHEAD);
	f->pt = malloc(MIB);
	if (f->msg == NULL || f->ct == NULL || f->pt == NULL)
		return -1;
	for (i = 0; i < MIB; i++)
		f->msg[i] = (unsigned char)(i * 31U + 7U);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	vault_epoch_free(&f->e);
	assert_null(f->e);
	free(f->msg);
	free(f->ct);
	free(f->pt);
	sodium_memzero(f->ek, sizeof(f->ek));
	free(f);
	return 0;
}

static void
seal_ok(struct fixture *f, const vault_record_ad *ad, size_t len,
        unsigned char nonce[VAULT_NONCE_BYTES], size_t *ct_len)
{
	assert_int_equal(vault_seal(f->e, ad, f->msg, len, nonce, f->ct,
	                            len + VAULT_SEAL_OVERHEAD, ct_len), 0);
	assert_int_equal(*ct_len, len + VAULT_SEAL_OVERHEAD);
}

/* open must fail, and leave out (pre-filled with 0xA5) all zero */
static void
open_fails(const vault_epoch *e, const vault_record_ad *ad,
           const unsigned char *nonce, const unsigned char *ct, size_t ct_len,
           unsigned char *out, size_t out_cap)
{
	size_t out_len = 12345, i;

	memset(out, 0xa5, out_cap);
	assert_int_equal(vault_open(e, ad, nonce, ct, ct_len, out, out_cap,
	                            &out_len), -1);
	assert_int_equal(out_len, 0);
	for (i = 0; i < out_cap; i++) {
		if (out[i] != 0)
			fail_msg("output not wiped at byte %zu", i);
	}
}

static void
test_ad_encode_layout(void **state)
{
	vault_record_ad ad;
	unsigned char   got[VAULT_RECORD_AD_BYTES];
	unsigned char   want[VAULT_RECORD_AD_BYTES];
	size_t          i;

	(void)state;
	assert_int_equal(VAULT_RECORD_AD_BYTES, 65);
	memset(&ad, 0, sizeof(ad));
	ad.version = VAULT_RECORD_V1;
	for (i = 0; i < VAULT_ID_BYTES; i++) {
		ad.tenant_id[i] = (unsigned char)(0x10 + i);
		ad.stream_id[i] = (unsigned char)(0x40 + i);
		ad.epoch_id[i] = (unsigned char)(0x80 + i);
	}
	ad.seq = 0x0102030405060708ULL;
	ad.received_at = -2;    /* two's complement: ff..fe */
	vault_record_ad_encode(&ad, got);

	want[0] = 0x01;
	for (i = 0; i < 16; i++) {
		want[1 + i] = (unsigned char)(0x10 + i);
		want[17 + i] = (unsigned char)(0x40 + i);
		want[33 + i] = (unsigned char)(0x80 + i);
	}
	for (i = 0; i < 8; i++)
		want[49 + i] = (unsigned char)(i + 1);
	memset(want + 57, 0xff, 7);
	want[64] = 0xfe;
	assert_memory_equal(got, want, sizeof(want));
}

static void
test_roundtrip(void **state)
{
	struct fixture *f = *state;
	unsigned char   nonce[VAULT_NONCE_BYTES], nonce2[VAULT_NONCE_BYTES];
	size_t          k, ct_len, pt_len;

	for (k = 0; k < NSIZES; k++) {
		size_t len = sizes[k];

		seal_ok(f, &f->ad, len, nonce, &ct_len);
		memset(f->pt, 0, MIB);
		assert_int_equal(vault_open(f->e, &f->ad, nonce, f->ct, ct_len,
		                            f->pt, len, &pt_len), 0);
		assert_int_equal(pt_len, len);
		if (len > 0)
			assert_memory_equal(f->pt, f->msg, len);
		if (len >= 16)   /* it is not the plaintext */
			assert_memory_not_equal(f->ct, f->msg, 16);

		/* fresh nonce every time, so a second seal differs */
		seal_ok(f, &f->ad, len, nonce2, &ct_len);
		assert_memory_not_equal(nonce, nonce2, VAULT_NONCE_BYTES);
	}
	/* empty record opens into no buffer at all */
	seal_ok(f, &f->ad, 0, nonce, &ct_len);
	assert_int_equal(vault_open(f->e, &f->ad, nonce, f->ct, ct_len, NULL, 0,
	                            &pt_len), 0);
	assert_int_equal(pt_len, 0);
}

static void
test_roundtrip_in_place(void **state)
{
	struct fixture *f = *state;
	unsigned char   buf[1024 + VAULT_SEAL_OVERHEAD];
	unsigned char   nonce[VAULT_NONCE_BYTES];
	size_t          ct_len, pt_len;

	memcpy(buf, f->msg, 1024);
	assert_int_equal(vault_seal(f->e, &f->ad, buf, 1024, nonce, buf,
	                            sizeof(buf), &ct_len), 0);
	assert_int_equal(vault_open(f->e, &f->ad, nonce, buf, ct_len, buf,
	                            sizeof(buf), &pt_len), 0);
	assert_int_equal(pt_len, 1024);
	assert_memory_equal(buf, f->msg, 1024);
}

static void
test_tamper_nonce(void **state)
{
	struct fixture *f = *state;
	unsigned char   nonce[VAULT_NONCE_BYTES];
	size_t          k, bit, ct_len;

	for (k = 0; k < NSIZES; k++) {
		size_t len = sizes[k];

		seal_ok(f, &f->ad, len, nonce, &ct_len);
		for (bit = 0; bit < VAULT_NONCE_BYTES * 8; bit++) {
			nonce[bit / 8] ^= (unsigned char)(1U << (bit % 8));
			open_fails(f->e, &f->ad, nonce, f->ct, ct_len, f->pt, len);
			nonce[bit / 8] ^= (unsigned char)(1U << (bit % 8));
		}
	}
}

static void
test_tamper_ciphertext(void **state)
{
	struct fixture *f = *state;
	unsigned char   nonce[VAULT_NONCE_BYTES];
	size_t          k, i, bit, ct_len, pt_len;

	for (k = 0; k < NSIZES; k++) {
		size_t len = sizes[k];
		size_t bits;

		seal_ok(f, &f->ad, len, nonce, &ct_len);
		bits = ct_len * 8;
		if (len < MIB) {
			for (bit = 0; bit < bits; bit++) {
				f->ct[bit / 8] ^= (unsigned char)(1U << (bit % 8));
				open_fails(f->e, &f->ad, nonce, f->ct, ct_len,
				           f->pt, len);
				f->ct[bit / 8] ^= (unsigned char)(1U << (bit % 8));
			}
		} else {
			/* first and last bits, both sides of the tag boundary,
			 * and a spread of pseudo-random positions */
			size_t sample[64];
			size_t ns = 0;

			sample[ns++] = 0;
			sample[ns++] = 7;
			sample[ns++] = len * 8 - 1;
			sample[ns++] = len * 8;
			sample[ns++] = bits - 8;
			sample[ns++] = bits - 1;
			while (ns < sizeof(sample) / sizeof(sample[0]))
				sample[ns++] = randombytes_uniform((uint32_t)bits);
			for (i = 0; i < ns; i++) {
				bit = sample[i];
				f->ct[bit / 8] ^= (unsigned char)(1U << (bit % 8));
				open_fails(f->e, &f->ad, nonce, f->ct, ct_len,
				           f->pt, len);
				f->ct[bit / 8] ^= (unsigned char)(1U << (bit % 8));
			}
		}
		/* truncated, extended, and still intact afterwards */
		open_fails(f->e, &f->ad, nonce, f->ct, ct_len - 1, f->pt, len);
		if (len < MIB)
			open_fails(f->e, &f->ad, nonce, f->ct, ct_len + 1, f->pt,
			           len + 1);
		assert_int_equal(vault_open(f->e, &f->ad, nonce, f->ct, ct_len,
		                            f->pt, len, &pt_len), 0);
	}
}

/* one entry per AD field: where its bytes live in the struct */
struct ad_field {
	const char *name;
	size_t      off;
	size_t      len;
};

static const struct ad_field ad_fields[] = {
	{ "version", offsetof(vault_record_ad, version), 1 },
	{ "tenant_id", offsetof(vault_record_ad, tenant_id), VAULT_ID_BYTES },
	{ "stream_id", offsetof(vault_record_ad, stream_id), VAULT_ID_BYTES },
	{ "epoch_id", offsetof(vault_record_ad, epoch_id), VAULT_ID_BYTES },
	{ "seq", offsetof(vault_record_ad, seq), sizeof(uint64_t) },
	{ "received_at", offsetof(vault_record_ad, received_at), sizeof(int64_t) },
};

/*
 * Every bit of every AD field, opened two ways: with the fixture epoch
 * (tenant/epoch changes are caught by the id check) and with an epoch that
 * has the same EK but the changed ids, so only the AEAD can catch them.
 */
static void
test_tamper_ad(void **state)
{
	struct fixture *f = *state;
	unsigned char   nonce[VAULT_NONCE_BYTES];
	size_t          k, fi, bit, ct_len;

	for (k = 0; k < NSIZES; k++) {
		size_t len = sizes[k];

		if (len == MIB)
			continue;   /* AD binding does not depend on size */
		seal_ok(f, &f->ad, len, nonce, &ct_len);
		for (fi = 0; fi < sizeof(ad_fields) / sizeof(ad_fields[0]); fi++) {
			const struct ad_field *fd = &ad_fields[fi];

			for (bit = 0; bit < fd->len * 8; bit++) {
				vault_record_ad ad = f->ad;
				unsigned char  *p = (unsigned char *)&ad + fd->off;
				vault_epoch    *same_key = NULL;

				p[bit / 8] ^= (unsigned char)(1U << (bit % 8));
				open_fails(f->e, &ad, nonce, f->ct, ct_len, f->pt,
				           len);
				assert_int_equal(vault_epoch_from_key(&same_key,
				    ad.tenant_id, ad.epoch_id, f->ek, NULL, 0), 0);
				open_fails(same_key, &ad, nonce, f->ct, ct_len,
				           f->pt, len);
				vault_epoch_free(&same_key);
			}
		}
	}
}

/* The construction as documented: key = KDF(seq, "cofferrc", EK), AEAD over
 * the 65-byte AD. Every bit of the encoded AD is authenticated. */
static void
test_record_key_construction(void **state)
{
	struct fixture *f = *state;
	unsigned char   nonce[VAULT_NONCE_BYTES];
	unsigned char   rk[32], rk_next[32];
	unsigned char   adb[VAULT_RECORD_AD_BYTES];
	unsigned char   pt[64];
	unsigned long long mlen;
	size_t          ct_len, bit;

	seal_ok(f, &f->ad, 64, nonce, &ct_len);
	vault_record_ad_encode(&f->ad, adb);
	assert_int_equal(crypto_kdf_derive_from_key(rk, sizeof(rk), f->ad.seq,
	                                            "cofferrc", f->ek), 0);
	assert_int_equal(crypto_kdf_derive_from_key(rk_next, sizeof(rk_next),
	                                            f->ad.seq + 1, "cofferrc",
	                                            f->ek), 0);
	assert_memory_not_equal(rk, rk_next, sizeof(rk));

	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &mlen,
	    NULL, f->ct, ct_len, adb, sizeof(adb), nonce, rk), 0);
	assert_int_equal(mlen, 64);
	assert_memory_equal(pt, f->msg, 64);
	/* the next seq's key does not open it, even with the same AD */
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &mlen,
	    NULL, f->ct, ct_len, adb, sizeof(adb), nonce, rk_next), -1);
	/* the raw EK is not the record key */
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &mlen,
	    NULL, f->ct, ct_len, adb, sizeof(adb), nonce, f->ek), -1);
	for (bit = 0; bit < sizeof(adb) * 8; bit++) {
		adb[bit / 8] ^= (unsigned char)(1U << (bit % 8));
		assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt,
		    &mlen, NULL, f->ct, ct_len, adb, sizeof(adb), nonce, rk), -1);
		adb[bit / 8] ^= (unsigned char)(1U << (bit % 8));
	}
	sodium_memzero(rk, sizeof(rk));
	sodium_memzero(rk_next, sizeof(rk_next));
}

static void
test_record_key_differs_per_seq(void **state)
{
	struct fixture *f = *state;
	enum { N = 1000 };
	static unsigned char keys[N][32];
	uint64_t        s;
	size_t          i, j;

	for (s = 0; s < N; s++)
		assert_int_equal(crypto_kdf_derive_from_key(keys[s], 32, s,
		                                            "cofferrc", f->ek), 0);
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			assert_memory_not_equal(keys[i], keys[j], 32);
	sodium_memzero(keys, sizeof(keys));
}

static void
test_wrong_epoch_key(void **state)
{
	struct fixture *f = *state;
	unsigned char   nonce[VAULT_NONCE_BYTES];
	unsigned char   other_ek[VAULT_EK_BYTES];
	vault_epoch    *other = NULL;
	size_t          k, ct_len;

	memcpy(other_ek, f->ek, sizeof(other_ek));
	other_ek[31] ^= 0x01;
	assert_int_equal(vault_epoch_from_key(&other, f->ad.tenant_id,
	                                      f->ad.epoch_id, other_ek, NULL, 0),
	                 0);
	for (k = 0; k < NSIZES; k++) {
		seal_ok(f, &f->ad, sizes[k], nonce, &ct_len);
		open_fails(other, &f->ad, nonce, f->ct, ct_len, f->pt, sizes[k]);
	}
	vault_epoch_free(&other);
	sodium_memzero(other_ek, sizeof(other_ek));
}

static void
test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	unsigned char   nonce[VAULT_NONCE_BYTES];
	unsigned char   zero_nonce[VAULT_NONCE_BYTES] = { 0 };
	vault_record_ad ad;
	size_t          ct_len = 99, pt_len = 99;

	/* output one byte short */
	memset(nonce, 0xee, sizeof(nonce));
	assert_int_equal(vault_seal(f->e, &f->ad, f->msg, 100, nonce, f->ct,
	                            100 + VAULT_SEAL_OVERHEAD - 1, &ct_len), -1);
	assert_int_equal(ct_len, 0);
	assert_memory_equal(nonce, zero_nonce, sizeof(nonce));
	assert_int_equal(vault_seal(f->e, &f->ad, f->msg, 0, nonce, f->ct,
	                            VAULT_SEAL_OVERHEAD - 1, &ct_len), -1);
	assert_int_equal(vault_seal(f->e, &f->ad, f->msg, SIZE_MAX, nonce, f->ct,
	                            SIZE_MAX, &ct_len), -1);
	assert_int_equal(vault_seal(f->e, &f->ad, NULL, 1, nonce, f->ct, 64,
	                            &ct_len), -1);
	assert_int_equal(vault_seal(NULL, &f->ad, f->msg, 1, nonce, f->ct, 64,
	                            &ct_len), -1);
	assert_int_equal(vault_seal(f->e, NULL, f->msg, 1, nonce, f->ct, 64,
	                            &ct_len), -1);

	/* AD naming another tenant or epoch, or an unknown version */
	ad = f->ad;
	ad.tenant_id[0] ^= 1;
	assert_int_equal(vault_seal(f->e, &ad, f->msg, 1, nonce, f->ct, 64,
	                            &ct_len), -1);
	ad = f->ad;
	ad.epoch_id[15] ^= 0x80;
	assert_int_equal(vault_seal(f->e, &ad, f->msg, 1, nonce, f->ct, 64,
	                            &ct_len), -1);
	ad = f->ad;
	ad.version = 0;
	assert_int_equal(vault_seal(f->e, &ad, f->msg, 1, nonce, f->ct, 64,
	                            &ct_len), -1);
	ad.version = 2;
	assert_int_equal(vault_seal(f->e, &ad, f->msg, 1, nonce, f->ct, 64,
	                            &ct_len), -1);

	/* open: short ciphertext, short output */
	seal_ok(f, &f->ad, 100, nonce, &ct_len);
	open_fails(f->e, &f->ad, nonce, f->ct, VAULT_SEAL_OVERHEAD - 1, f->pt, 100);
	open_fails(f->e, &f->ad, nonce, f->ct, 0, f->pt, 100);
	open_fails(f->e, &f->ad, nonce, f->ct, ct_len, f->pt, 99);
	assert_int_equal(vault_open(f->e, &f->ad, NULL, f->ct, ct_len, f->pt, 100,
	                            &pt_len), -1);
	assert_int_equal(pt_len, 0);
	assert_int_equal(vault_open(f->e, &f->ad, nonce, NULL, ct_len, f->pt, 100,
	                            &pt_len), -1);
	assert_int_equal(vault_open(NULL, &f->ad, nonce, f->ct, ct_len, f->pt, 100,
	                            &pt_len), -1);
	/* and the record is still good */
	assert_int_equal(vault_open(f->e, &f->ad, nonce, f->ct, ct_len, f->pt, 100,
	                            &pt_len), 0);
}

static void
make_tenant(unsigned char t[VAULT_SCALAR_BYTES],
            unsigned char T[VAULT_POINT_BYTES])
{
	crypto_core_ristretto255_scalar_random(t);
	assert_int_equal(crypto_scalarmult_ristretto255_base(T, t), 0);
}

static int
is_uuid_v4(const unsigned char id[VAULT_ID_BYTES])
{
	return (id[6] & 0xf0) == 0x40 && (id[8] & 0xc0) == 0x80;
}

/* The sealing side wraps EK to T; the release side unwraps with S = t·R
 * (what the custodians' partials combine to) and opens the records. */
static void
test_epoch_new_wrap_unwrap(void **state)
{
	struct fixture *f = *state;
	unsigned char   t[VAULT_SCALAR_BYTES], T[VAULT_POINT_BYTES];
	unsigned char   R[VAULT_POINT_BYTES], S[VAULT_POINT_BYTES];
	unsigned char   wrapped[VAULT_WRAPPED_EK_BYTES];
	unsigned char   eid[VAULT_ID_BYTES], tid[VAULT_ID_BYTES];
	unsigned char   nonce[VAULT_NONCE_BYTES];
	unsigned char   zero[VAULT_WRAPPED_EK_BYTES] = { 0 };
	char            err[128] = "";
	vault_epoch    *sealer = NULL, *opener = NULL;
	vault_record_ad ad = f->ad;
	size_t          ct_len, pt_len;

	make_tenant(t, T);
	assert_int_equal(vault_epoch_new(&sealer, T, ad.tenant_id, NULL, err,
	                                 sizeof(err)), 0);
	assert_non_null(sealer);
	vault_epoch_id(sealer, eid);
	vault_epoch_tenant_id(sealer, tid);
	assert_memory_equal(tid, ad.tenant_id, VAULT_ID_BYTES);
	assert_true(is_uuid_v4(eid));
	memcpy(ad.epoch_id, eid, VAULT_ID_BYTES);
	assert_int_equal(vault_epoch_wrapped(sealer, R, wrapped), 0);
	assert_memory_not_equal(wrapped, zero, sizeof(wrapped));

	assert_int_equal(vault_seal(sealer, &ad, f->msg, 1024, nonce, f->ct,
	                            1024 + VAULT_SEAL_OVERHEAD, &ct_len), 0);
	vault_epoch_free(&sealer);   /* rotation: the gateway forgets EK */
	assert_null(sealer);

	assert_int_equal(crypto_scalarmult_ristretto255(S, t, R), 0);
	assert_int_equal(vault_epoch_unwrap(&opener, S, R, T, ad.tenant_id, eid,
	                                    wrapped, err, sizeof(err)), 0);
	assert_int_equal(vault_open(opener, &ad, nonce, f->ct, ct_len, f->pt,
	                            1024, &pt_len), 0);
	assert_memory_equal(f->pt, f->msg, 1024);
	/* an unwrapped epoch has no wrapped form to hand out */
	assert_int_equal(vault_epoch_wrapped(opener, R, wrapped), -1);
	assert_memory_equal(wrapped, zero, sizeof(wrapped));
	vault_epoch_free(&opener);
	assert_int_equal(vault_epoch_wrapped(NULL, R, wrapped), -1);
	sodium_memzero(t, sizeof(t));
	sodium_memzero(S, sizeof(S));
}

static void
test_epoch_unwrap_rejects(void **state)
{
	struct fixture *f = *state;
	unsigned char   t[VAULT_SCALAR_BYTES], T[VAULT_POINT_BYTES];
	unsigned char   t2[VAULT_SCALAR_BYTES], T2[VAULT_POINT_BYTES];
	unsigned char   R[VAULT_POINT_BYTES], S[VAULT_POINT_BYTES];
	unsigned char   wrapped[VAULT_WRAPPED_EK_BYTES];
	unsigned char   eid[VAULT_ID_BYTES];
	char            err[128];
	vault_epoch    *e = NULL, *o = (vault_epoch *)&o;

	make_tenant(t, T);
	make_tenant(t2, T2);
	memset(eid, 0x5a, sizeof(eid));
	assert_int_equal(vault_epoch_new(&e, T, f->ad.tenant_id, eid, err,
	                                 sizeof(err)), 0);
	assert_int_equal(vault_epoch_wrapped(e, R, wrapped), 0);
	vault_epoch_free(&e);

	/* another tenant's secret */
	assert_int_equal(crypto_scalarmult_ristretto255(S, t2, R), 0);
	err[0] = '\0';
	assert_int_equal(vault_epoch_unwrap(&o, S, R, T, f->ad.tenant_id, eid,
	                                    wrapped, err, sizeof(err)), -1);
	assert_null(o);
	assert_string_equal(err, "epoch key does not unwrap");

	assert_int_equal(crypto_scalarmult_ristretto255(S, t, R), 0);
	/* another epoch id or tenant id than the one wrapped */
	eid[0] ^= 1;
	assert_int_equal(vault_epoch_unwrap(&o, S, R, T, f->ad.tenant_id, eid,
	                                    wrapped, err, sizeof(err)), -1);
	assert_null(o);
	eid[0] ^= 1;
	assert_int_equal(vault_epoch_unwrap(&o, S, R, T, f->ad.stream_id, eid,
	                                    wrapped, err, sizeof(err)), -1);
	/* tampered wrapped bytes */
	wrapped[VAULT_WRAPPED_EK_BYTES - 1] ^= 1;
	assert_int_equal(vault_epoch_unwrap(&o, S, R, T, f->ad.tenant_id, eid,
	                                    wrapped, err, sizeof(err)), -1);
	wrapped[VAULT_WRAPPED_EK_BYTES - 1] ^= 1;
	assert_int_equal(vault_epoch_unwrap(&o, S, R, T, f->ad.tenant_id, eid,
	                                    wrapped, err, sizeof(err)), 0);
	vault_epoch_free(&o);
	sodium_memzero(t, sizeof(t));
	sodium_memzero(t2, sizeof(t2));
	sodium_memzero(S, sizeof(S));
}

static void
test_epoch_new_ids_and_keys(void **state)
{
	struct fixture *f = *state;
	unsigned char   t[VAULT_SCALAR_BYTES], T[VAULT_POINT_BYTES];
	unsigned char   eid[VAULT_ID_BYTES], a_id[VAULT_ID_BYTES],
	                b_id[VAULT_ID_BYTES];
	unsigned char   nonce[VAULT_NONCE_BYTES];
	vault_epoch    *a = NULL, *b = NULL, *c = NULL;
	vault_record_ad ad = f->ad;
	size_t          ct_len;

	make_tenant(t, T);
	/* random ids differ */
	assert_int_equal(vault_epoch_new(&a, T, ad.tenant_id, NULL, NULL, 0), 0);
	assert_int_equal(vault_epoch_new(&b, T, ad.tenant_id, NULL, NULL, 0), 0);
	vault_epoch_id(a, a_id);
	vault_epoch_id(b, b_id);
	assert_memory_not_equal(a_id, b_id, VAULT_ID_BYTES);
	vault_epoch_free(&a);
	vault_epoch_free(&b);

	/* a given id is used as is; two epochs with one id still have two keys */
	memset(eid, 0x77, sizeof(eid));
	assert_int_equal(vault_epoch_new(&a, T, ad.tenant_id, eid, NULL, 0), 0);
	assert_int_equal(vault_epoch_new(&c, T, ad.tenant_id, eid, NULL, 0), 0);
	vault_epoch_id(a, a_id);
	assert_memory_equal(a_id, eid, VAULT_ID_BYTES);
	memcpy(ad.epoch_id, eid, VAULT_ID_BYTES);
	assert_int_equal(vault_seal(a, &ad, f->msg, 10, nonce, f->ct,
	                            10 + VAULT_SEAL_OVERHEAD, &ct_len), 0);
	open_fails(c, &ad, nonce, f->ct, ct_len, f->pt, 10);
	vault_epoch_free(&a);
	vault_epoch_free(&c);
	sodium_memzero(t, sizeof(t));
}

static void
test_epoch_new_rejects_bad_tenant_key(void **state)
{
	struct fixture *f = *state;
	static const unsigned char identity[VAULT_POINT_BYTES] = { 0 };
	unsigned char   not_a_point[VAULT_POINT_BYTES];
	char            err[128];
	vault_epoch    *e = (vault_epoch *)&e;

	memset(not_a_point, 0xff, sizeof(not_a_point));
	err[0] = '\0';
	assert_int_equal(vault_epoch_new(&e, identity, f->ad.tenant_id, NULL,
	                                 err, sizeof(err)), -1);
	assert_null(e);
	assert_string_equal(err, "cannot wrap epoch key to tenant public key");
	e = (vault_epoch *)&e;
	assert_int_equal(vault_epoch_new(&e, not_a_point, f->ad.tenant_id, NULL,
	                                 err, sizeof(err)), -1);
	assert_null(e);
	assert_int_equal(vault_epoch_new(&e, NULL, f->ad.tenant_id, NULL,
	                                 err, sizeof(err)), -1);
	assert_string_equal(err, "missing tenant key or id");
	assert_int_equal(vault_epoch_from_key(&e, f->ad.tenant_id, NULL, f->ek,
	                                      err, sizeof(err)), -1);
	assert_null(e);
	/* NULL error buffer is allowed */
	assert_int_equal(vault_epoch_new(&e, identity, f->ad.tenant_id, NULL,
	                                 NULL, 0), -1);
}

static void
test_epoch_free_null(void **state)
{
	vault_epoch *e = NULL;

	(void)state;
	vault_epoch_free(NULL);
	vault_epoch_free(&e);
	assert_null(e);
}

/* Not an assertion (timing is noisy under sanitizers and in CI); printed so
 * a regression past the ~2 µs / KiB budget is visible. */
static void
test_seal_speed(void **state)
{
	struct fixture *f = *state;
	unsigned char   nonce[VAULT_NONCE_BYTES];
	struct timespec a, b;
	size_t          ct_len, i;
	const size_t    n = 20000;
	double          us;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		vault_record_ad ad = f->ad;

		ad.seq = i;
		assert_int_equal(vault_seal(f->e, &ad, f->msg, 1024, nonce, f->ct,
		                            1024 + VAULT_SEAL_OVERHEAD, &ct_len), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = ((double)(b.tv_sec - a.tv_sec) * 1e6 +
	      (double)(b.tv_nsec - a.tv_nsec) / 1e3) / (double)n;
	print_message("seal 1 KiB: %.2f us/record\n", us);
}

/* vault_grow: content moves to the bigger block; from NULL is an alloc. */
static void
test_grow(void **state)
{
	char *p, *q;

	(void)state;
	p = vault_grow(NULL, 0, 0, 16);
	assert_non_null(p);
	memcpy(p, "0123456789abcdef", 16);
	q = vault_grow(p, 10, 16, 4096);
	assert_non_null(q);
	assert_memory_equal(q, "0123456789", 10);
	q[4095] = 'z';                      /* the whole new size is usable */
	vault_free_wiped(q, 4096);
	vault_free_wiped(NULL, 8);          /* accepted */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ad_encode_layout),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_in_place, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_tamper_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_ciphertext, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_tamper_ad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_key_construction, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_record_key_differs_per_seq,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_epoch_key, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_new_wrap_unwrap, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_epoch_unwrap_rejects, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_epoch_new_ids_and_keys, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_epoch_new_rejects_bad_tenant_key,
		                                setup, teardown),
		cmocka_unit_test(test_epoch_free_null),
		cmocka_unit_test(test_grow),
		cmocka_unit_test_setup_teardown(test_seal_speed, setup, teardown),
	};

	if (vault_init() != 0)
		return 1;
	return cmocka_run_group_tests_name("seal", tests, NULL, NULL);
}
