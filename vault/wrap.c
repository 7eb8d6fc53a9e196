/* vault/wrap.c — wrap an epoch key to the tenant public key (see wrap.h).
 *
 * What it does: ElGamal-style key transport over ristretto255. The gateway
 * wraps with T only; unwrapping needs S = t·R, which only k custodians'
 * partials can produce (vault/threshold.c).
 *
 * What it trusts: libsodium. It does not trust T, R or S: each must be a
 * valid non-identity element (libsodium 1.0.18 accepts the identity as
 * "valid", and r·identity would make W public). r, S and W are wiped on
 * every path; a failed unwrap leaves ek_out zeroed.
 */
#include "vault/wrap.h"

#include <string.h>

#include <sodium.h>

#include "vault/group.h"
#include "vault/mem.h"

#define WRAP_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define WRAP_AD_BYTES    (2U * VAULT_ID_BYTES)

_Static_assert(VAULT_WRAPPED_EK_BYTES == WRAP_NONCE_BYTES + VAULT_EK_BYTES +
    crypto_aead_xchacha20poly1305_ietf_ABYTES, "wrapped EK layout");
_Static_assert(VAULT_POINT_BYTES == crypto_core_ristretto255_BYTES, "point size");
_Static_assert(VAULT_SCALAR_BYTES == crypto_core_ristretto255_SCALARBYTES,
    "scalar size");

static const unsigned char ekwrap_personal[crypto_generichash_blake2b_PERSONALBYTES] =
    "coffer-ekwrap-v1";

/* W = BLAKE2b-256(S ‖ R ‖ T, personal "coffer-ekwrap-v1"). */
static int
wrap_key(unsigned char W[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
    const unsigned char S[VAULT_POINT_BYTES], const unsigned char R[VAULT_POINT_BYTES],
    const unsigned char T[VAULT_POINT_BYTES])
{
	unsigned char in[3 * VAULT_POINT_BYTES];
	int           rc;

	memcpy(in, S, VAULT_POINT_BYTES);
	memcpy(in + VAULT_POINT_BYTES, R, VAULT_POINT_BYTES);
	memcpy(in + 2 * VAULT_POINT_BYTES, T, VAULT_POINT_BYTES);
	rc = crypto_generichash_blake2b_salt_personal(W,
	    crypto_aead_xchacha20poly1305_ietf_KEYBYTES, in, sizeof in, NULL, 0,
	    NULL, ekwrap_personal);
	sodium_memzero(in, sizeof in);
	return rc == 0 ? 0 : -1;
}

int
vault_ek_wrap(const unsigned char tenant_pk[VAULT_POINT_BYTES],
    const unsigned char tenant_id[VAULT_ID_BYTES],
    const unsigned char epoch_id[VAULT_ID_BYTES],
    const unsigned char ek[VAULT_EK_BYTES],
    unsigned char R_out[VAULT_POINT_BYTES],
    unsigned char wrapped_out[VAULT_WRAPPED_EK_BYTES])
{
	unsigned char      r[VAULT_SCALAR_BYTES];
	unsigned char      R[VAULT_POINT_BYTES];
	unsigned char      S[VAULT_POINT_BYTES];
	unsigned char      W[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char      ad[WRAP_AD_BYTES];
	unsigned long long clen = 0;
	int                rc = -1;

	memset(R_out, 0, VAULT_POINT_BYTES);
	memset(wrapped_out, 0, VAULT_WRAPPED_EK_BYTES);
	memset(r, 0, sizeof r);
	memset(S, 0, sizeof S);
	memset(W, 0, sizeof W);

	if (vault_init() != 0)
		goto fail;
	if (!vault_point_usable(tenant_pk))
		goto fail;

	crypto_core_ristretto255_scalar_random(r);
	if (crypto_scalarmult_ristretto255_base(R, r) != 0)
		goto fail;
	if (crypto_scalarmult_ristretto255(S, r, tenant_pk) != 0)
		goto fail;
	if (wrap_key(W, S, R, tenant_pk) != 0)
		goto fail;

	memcpy(ad, tenant_id, VAULT_ID_BYTES);
	memcpy(ad + VAULT_ID_BYTES, epoch_id, VAULT_ID_BYTES);
	randombytes_buf(wrapped_out, WRAP_NONCE_BYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped_out + WRAP_NONCE_BYTES,
	    &clen, ek, VAULT_EK_BYTES, ad, sizeof ad, NULL, wrapped_out, W) != 0 ||
	    clen != VAULT_WRAPPED_EK_BYTES - WRAP_NONCE_BYTES)
		goto fail;

	memcpy(R_out, R, VAULT_POINT_BYTES);
	rc = 0;
fail:
	sodium_memzero(r, sizeof r);
	sodium_memzero(S, sizeof S);
	sodium_memzero(W, sizeof W);
	if (rc != 0) {
		memset(R_out, 0, VAULT_POINT_BYTES);
		memset(wrapped_out, 0, VAULT_WRAPPED_EK_BYTES);
	}
	return rc;
}

int
vault_ek_unwrap(const unsigned char S[VAULT_POINT_BYTES],
    const unsigned char R[VAULT_POINT_BYTES],
    const unsigned char tenant_pk[VAULT_POINT_BYTES],
    const unsigned char tenant_id[VAULT_ID_BYTES],
    const unsigned char epoch_id[VAULT_ID_BYTES],
    const unsigned char wrapped[VAULT_WRAPPED_EK_BYTES],
    unsigned char ek_out[VAULT_EK_BYTES])
{
	unsigned char      W[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char      ad[WRAP_AD_BYTES];
	unsigned long long mlen = 0;
	int                rc = -1;

	memset(ek_out, 0, VAULT_EK_BYTES);
	memset(W, 0, sizeof W);

	if (vault_init() != 0)
		goto fail;
	if (!vault_point_usable(S) || !vault_point_usable(R) ||
	    !vault_point_usable(tenant_pk))
		goto fail;
	if (wrap_key(W, S, R, tenant_pk) != 0)
		goto fail;

	memcpy(ad, tenant_id, VAULT_ID_BYTES);
	memcpy(ad + VAULT_ID_BYTES, epoch_id, VAULT_ID_BYTES);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(ek_out, &mlen, NULL,
	    wrapped + WRAP_NONCE_BYTES, VAULT_WRAPPED_EK_BYTES - WRAP_NONCE_BYTES,
	    ad, sizeof ad, wrapped, W) != 0 || mlen != VAULT_EK_BYTES)
		goto fail;
	rc = 0;
fail:
	sodium_memzero(W, sizeof W);
	if (rc != 0)
		sodium_memzero(ek_out, VAULT_EK_BYTES);
	return rc;
}
