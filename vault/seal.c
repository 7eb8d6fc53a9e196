/* vault/seal.c — epoch keys and per-record sealing.
 *
 * Holds the epoch key EK in sodium_malloc memory (the whole vault_epoch lives
 * there) and derives one record key per seq, wiped as soon as the record is
 * sealed or opened. Trusts libsodium for randomness, the KDF and the AEAD, and
 * vault_ek_wrap/vault_ek_unwrap (wrap.c) for the tenant wrapping. Trusts its
 * caller for the AD values: it checks only that tenant and epoch ids match the
 * epoch's and that the version is known. Does no I/O besides randomness, and
 * never puts key bytes or plaintext into an error message.
 */
#include "vault/seal.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "vault/codec.h"
#include "vault/err.h"
#include "vault/mem.h"
#include "vault/wrap.h"

#define RECORD_KDF_CONTEXT "cofferrc"   /* crypto_kdf_CONTEXTBYTES chars */

_Static_assert(sizeof(RECORD_KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES,
               "kdf context size");
_Static_assert(VAULT_EK_BYTES == crypto_kdf_KEYBYTES, "epoch key size");
_Static_assert(VAULT_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "nonce size");
_Static_assert(VAULT_SEAL_OVERHEAD == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "tag size");

/* Only unsigned char members: sodium_malloc returns memory aligned to the
 * end of a page, so the start is aligned only to the allocation size. */
struct vault_epoch {
	unsigned char ek[VAULT_EK_BYTES];
	unsigned char tenant_id[VAULT_ID_BYTES];
	unsigned char epoch_id[VAULT_ID_BYTES];
	unsigned char R[VAULT_POINT_BYTES];
	unsigned char wrapped[VAULT_WRAPPED_EK_BYTES];
	unsigned char has_wrapped;
};

void
vault_record_ad_encode(const vault_record_ad *ad,
                       unsigned char out[VAULT_RECORD_AD_BYTES])
{
	out[0] = ad->version;
	memcpy(out + 1, ad->tenant_id, VAULT_ID_BYTES);
	memcpy(out + 17, ad->stream_id, VAULT_ID_BYTES);
	memcpy(out + 33, ad->epoch_id, VAULT_ID_BYTES);
	vault_be64_put(out + 49, ad->seq);
	/* two's complement, well defined for every int64_t */
	vault_be64_put(out + 57, (uint64_t)ad->received_at);
}

static vault_epoch *
epoch_alloc(char *err, size_t err_len)
{
	vault_epoch *e;

	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return NULL;
	}
	e = vault_secure_alloc(sizeof(*e));
	if (e == NULL) {
		vault_err_set(err, err_len, "cannot allocate locked memory for epoch key");
		return NULL;
	}
	sodium_memzero(e, sizeof(*e));
	return e;
}

int
vault_epoch_new(vault_epoch **out,
                const unsigned char tenant_pk[VAULT_POINT_BYTES],
                const unsigned char tenant_id[VAULT_ID_BYTES],
                const unsigned char *epoch_id,
                char *err, size_t err_len)
{
	vault_epoch *e = NULL;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (tenant_pk == NULL || tenant_id == NULL) {
		vault_err_set(err, err_len, "missing tenant key or id");
		goto fail;
	}
	if ((e = epoch_alloc(err, err_len)) == NULL)
		goto fail;

	randombytes_buf(e->ek, sizeof(e->ek));
	memcpy(e->tenant_id, tenant_id, VAULT_ID_BYTES);
	if (epoch_id != NULL) {
		memcpy(e->epoch_id, epoch_id, VAULT_ID_BYTES);
	} else {
		randombytes_buf(e->epoch_id, sizeof(e->epoch_id));
		/* RFC 9562 version 4, variant 10 */
		e->epoch_id[6] = (unsigned char)((e->epoch_id[6] & 0x0fU) | 0x40U);
		e->epoch_id[8] = (unsigned char)((e->epoch_id[8] & 0x3fU) | 0x80U);
	}
	if (vault_ek_wrap(tenant_pk, e->tenant_id, e->epoch_id, e->ek,
	                  e->R, e->wrapped) != 0) {
		vault_err_set(err, err_len, "cannot wrap epoch key to tenant public key");
		goto fail;
	}
	e->has_wrapped = 1;
	*out = e;
	return 0;

fail:
	vault_secure_free(e);   /* sodium_free wipes */
	return -1;
}

int
vault_epoch_from_key(vault_epoch **out,
                     const unsigned char tenant_id[VAULT_ID_BYTES],
                     const unsigned char epoch_id[VAULT_ID_BYTES],
                     const unsigned char ek[VAULT_EK_BYTES],
                     char *err, size_t err_len)
{
	vault_epoch *e = NULL;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (tenant_id == NULL || epoch_id == NULL || ek == NULL) {
		vault_err_set(err, err_len, "missing tenant id, epoch id or epoch key");
		goto fail;
	}
	if ((e = epoch_alloc(err, err_len)) == NULL)
		goto fail;
	memcpy(e->ek, ek, VAULT_EK_BYTES);
	memcpy(e->tenant_id, tenant_id, VAULT_ID_BYTES);
	memcpy(e->epoch_id, epoch_id, VAULT_ID_BYTES);
	*out = e;
	return 0;

fail:
	vault_secure_free(e);
	return -1;
}

int
vault_epoch_unwrap(vault_epoch **out,
                   const unsigned char S[VAULT_POINT_BYTES],
                   const unsigned char R[VAULT_POINT_BYTES],
                   const unsigned char tenant_pk[VAULT_POINT_BYTES],
                   const unsigned char tenant_id[VAULT_ID_BYTES],
                   const unsigned char epoch_id[VAULT_ID_BYTES],
                   const unsigned char wrapped[VAULT_WRAPPED_EK_BYTES],
                   char *err, size_t err_len)
{
	vault_epoch *e = NULL;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (S == NULL || R == NULL || tenant_pk == NULL || tenant_id == NULL ||
	    epoch_id == NULL || wrapped == NULL) {
		vault_err_set(err, err_len, "missing unwrap input");
		goto fail;
	}
	if ((e = epoch_alloc(err, err_len)) == NULL)
		goto fail;
	memcpy(e->tenant_id, tenant_id, VAULT_ID_BYTES);
	memcpy(e->epoch_id, epoch_id, VAULT_ID_BYTES);
	if (vault_ek_unwrap(S, R, tenant_pk, e->tenant_id, e->epoch_id, wrapped,
	                    e->ek) != 0) {
		vault_err_set(err, err_len, "epoch key does not unwrap");
		goto fail;
	}
	*out = e;
	return 0;

fail:
	vault_secure_free(e);
	return -1;
}

void
vault_epoch_free(vault_epoch **e)
{
	if (e == NULL || *e == NULL)
		return;
	vault_secure_free(*e);   /* sodium_free zeroes before unmapping */
	*e = NULL;
}

void
vault_epoch_id(const vault_epoch *e, unsigned char out[VAULT_ID_BYTES])
{
	memcpy(out, e->epoch_id, VAULT_ID_BYTES);
}

void
vault_epoch_tenant_id(const vault_epoch *e, unsigned char out[VAULT_ID_BYTES])
{
	memcpy(out, e->tenant_id, VAULT_ID_BYTES);
}

int
vault_epoch_wrapped(const vault_epoch *e,
                    unsigned char R_out[VAULT_POINT_BYTES],
                    unsigned char wrapped_out[VAULT_WRAPPED_EK_BYTES])
{
	sodium_memzero(R_out, VAULT_POINT_BYTES);
	sodium_memzero(wrapped_out, VAULT_WRAPPED_EK_BYTES);
	if (e == NULL || !e->has_wrapped)
		return -1;
	memcpy(R_out, e->R, VAULT_POINT_BYTES);
	memcpy(wrapped_out, e->wrapped, VAULT_WRAPPED_EK_BYTES);
	return 0;
}

/* The AD must name this epoch: catches a caller sealing with the wrong
 * epoch before any key is derived. Ids are not secret: plain memcmp. */
static int
ad_matches(const vault_epoch *e, const vault_record_ad *ad)
{
	return ad->version == VAULT_RECORD_V1 &&
	    memcmp(ad->tenant_id, e->tenant_id, VAULT_ID_BYTES) == 0 &&
	    memcmp(ad->epoch_id, e->epoch_id, VAULT_ID_BYTES) == 0;
}

int
vault_seal(const vault_epoch *e, const vault_record_ad *ad,
           const unsigned char *msg, size_t msg_len,
           unsigned char nonce_out[VAULT_NONCE_BYTES],
           unsigned char *out, size_t out_cap, size_t *out_len)
{
	unsigned char      rk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char      adb[VAULT_RECORD_AD_BYTES];
	unsigned long long clen = 0;
	int                rc = -1;

	sodium_memzero(rk, sizeof(rk));
	if (out_len != NULL)
		*out_len = 0;
	if (nonce_out != NULL)
		sodium_memzero(nonce_out, VAULT_NONCE_BYTES);
	if (e == NULL || ad == NULL || nonce_out == NULL || out == NULL ||
	    out_len == NULL || (msg == NULL && msg_len > 0))
		goto fail;
	if (msg_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
	    out_cap < VAULT_SEAL_OVERHEAD ||
	    out_cap - VAULT_SEAL_OVERHEAD < msg_len)
		goto fail;
	if (!ad_matches(e, ad))
		goto fail;

	vault_record_ad_encode(ad, adb);
	if (crypto_kdf_derive_from_key(rk, sizeof(rk), ad->seq,
	                               RECORD_KDF_CONTEXT, e->ek) != 0)
		goto fail;
	randombytes_buf(nonce_out, VAULT_NONCE_BYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out, &clen, msg, msg_len,
	                                               adb, sizeof(adb), NULL,
	                                               nonce_out, rk) != 0)
		goto fail;
	*out_len = (size_t)clen;
	rc = 0;

fail:
	sodium_memzero(rk, sizeof(rk));
	if (rc != 0 && nonce_out != NULL)
		sodium_memzero(nonce_out, VAULT_NONCE_BYTES);
	return rc;
}

int
vault_open(const vault_epoch *e, const vault_record_ad *ad,
           const unsigned char nonce[VAULT_NONCE_BYTES],
           const unsigned char *ct, size_t ct_len,
           unsigned char *out, size_t out_cap, size_t *out_len)
{
	unsigned char      rk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char      adb[VAULT_RECORD_AD_BYTES];
	unsigned long long mlen = 0;
	int                rc = -1;

	sodium_memzero(rk, sizeof(rk));
	if (out_len != NULL)
		*out_len = 0;
	if (e == NULL || ad == NULL || nonce == NULL || ct == NULL ||
	    out_len == NULL || (out == NULL && out_cap > 0))
		goto fail;
	if (ct_len < VAULT_SEAL_OVERHEAD ||
	    out_cap < ct_len - VAULT_SEAL_OVERHEAD)
		goto fail;
	if (!ad_matches(e, ad))
		goto fail;

	vault_record_ad_encode(ad, adb);
	if (crypto_kdf_derive_from_key(rk, sizeof(rk), ad->seq,
	                               RECORD_KDF_CONTEXT, e->ek) != 0)
		goto fail;
	/* out == NULL is fine for an empty record: libsodium writes nothing */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct,
	                                               ct_len, adb, sizeof(adb),
	                                               nonce, rk) != 0)
		goto fail;
	*out_len = (size_t)mlen;
	rc = 0;

fail:
	sodium_memzero(rk, sizeof(rk));
	if (rc != 0 && out != NULL && out_cap > 0)
		sodium_memzero(out, out_cap);
	return rc;
}

int
vault_record_key(const vault_epoch *e, const vault_record_ad *ad,
                 unsigned char key_out[VAULT_RECORD_KEY_BYTES])
{
	if (key_out == NULL)
		return -1;
	sodium_memzero(key_out, VAULT_RECORD_KEY_BYTES);
	if (e == NULL || ad == NULL || !ad_matches(e, ad))
		return -1;
	if (crypto_kdf_derive_from_key(key_out, VAULT_RECORD_KEY_BYTES, ad->seq,
	                               RECORD_KDF_CONTEXT, e->ek) != 0) {
		sodium_memzero(key_out, VAULT_RECORD_KEY_BYTES);
		return -1;
	}
	return 0;
}

int
vault_open_record(const unsigned char key[VAULT_RECORD_KEY_BYTES],
                  const vault_record_ad *ad,
                  const unsigned char nonce[VAULT_NONCE_BYTES],
                  const unsigned char *ct, size_t ct_len,
                  unsigned char *out, size_t out_cap, size_t *out_len)
{
	unsigned char      adb[VAULT_RECORD_AD_BYTES];
	unsigned long long mlen = 0;

	if (out_len != NULL)
		*out_len = 0;
	if (key == NULL || ad == NULL || nonce == NULL || ct == NULL ||
	    out_len == NULL || (out == NULL && out_cap > 0) ||
	    ad->version != VAULT_RECORD_V1 || ct_len < VAULT_SEAL_OVERHEAD ||
	    out_cap < ct_len - VAULT_SEAL_OVERHEAD)
		goto fail;
	vault_record_ad_encode(ad, adb);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct,
	                                               ct_len, adb, sizeof(adb),
	                                               nonce, key) != 0)
		goto fail;
	*out_len = (size_t)mlen;
	return 0;
fail:
	if (out != NULL && out_cap > 0)
		sodium_memzero(out, out_cap);
	return -1;
}
