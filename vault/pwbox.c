/* vault/pwbox.c — passphrase boxes (format in pwbox.h).
 *
 * What it does: Argon2id key derivation from a passphrase with limits and
 * salt stored in the caller's header, and XChaCha20-Poly1305 over one small
 * secret with that whole header as associated data.
 *
 * What it trusts: libsodium, and its callers for the header layout (they own
 * the format and parse it).  It does not trust the stored limits: they are
 * bounded here, again, before any derivation.  The derived key lives on the
 * stack only for the call and is wiped on every path.
 *
 * What it does not do: header fields, file I/O, passphrase policy beyond
 * "the limits are within the supported range".
 */
#include "vault/pwbox.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "vault/err.h"

#define PB_KEY_LEN  crypto_aead_xchacha20poly1305_ietf_KEYBYTES

_Static_assert(VAULT_PWBOX_SALT_BYTES == crypto_pwhash_argon2id_SALTBYTES,
    "salt size");
_Static_assert(VAULT_PWBOX_NONCE_BYTES ==
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(VAULT_PWBOX_ABYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
    "tag size");

int
vault_pwbox_limits_check(const char *what, unsigned long long opslimit,
    unsigned long long memlimit, char *err, size_t err_len)
{
	if (opslimit < VAULT_SHAREFILE_OPSLIMIT_MIN ||
	    opslimit > VAULT_SHAREFILE_OPSLIMIT_MAX) {
		vault_err_set(err, err_len, "%s: Argon2id opslimit %llu outside "
		    "%llu..%llu", what, opslimit, VAULT_SHAREFILE_OPSLIMIT_MIN,
		    VAULT_SHAREFILE_OPSLIMIT_MAX);
		return -1;
	}
	if (memlimit < VAULT_SHAREFILE_MEMLIMIT_MIN ||
	    memlimit > VAULT_SHAREFILE_MEMLIMIT_MAX ||
	    memlimit > (unsigned long long)SIZE_MAX) {
		vault_err_set(err, err_len, "%s: Argon2id memlimit %llu bytes outside "
		    "%llu..%llu", what, memlimit, VAULT_SHAREFILE_MEMLIMIT_MIN,
		    VAULT_SHAREFILE_MEMLIMIT_MAX);
		return -1;
	}
	return 0;
}

/* Limits are checked first: this is the only place Argon2id runs. */
static int
pwbox_derive(unsigned char key[PB_KEY_LEN], const char *pass, size_t pass_len,
    const unsigned char *salt, unsigned long long opslimit,
    unsigned long long memlimit, const char *what, char *err, size_t err_len)
{
	if (vault_pwbox_limits_check(what, opslimit, memlimit, err, err_len) != 0)
		return -1;
	if (crypto_pwhash(key, PB_KEY_LEN, pass_len == 0 ? "" : pass,
	    (unsigned long long)pass_len, salt, opslimit, (size_t)memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) != 0) {
		vault_err_set(err, err_len, "%s: Argon2id key derivation failed "
		    "(out of memory?)", what);
		return -1;
	}
	return 0;
}

int
vault_pwbox_seal(unsigned char *box, size_t header_len,
    const unsigned char *secret, size_t secret_len,
    const char *pass, size_t pass_len,
    unsigned long long opslimit, unsigned long long memlimit,
    const char *what, char *err, size_t err_len)
{
	unsigned char      key[PB_KEY_LEN];
	unsigned char     *salt, *nonce;
	unsigned long long clen = 0;
	int                rc = -1;

	memset(key, 0, sizeof key);
	if (box == NULL || secret == NULL || header_len < VAULT_PWBOX_TAIL_BYTES) {
		vault_err_set(err, err_len, "%s: missing argument", what);
		goto fail;
	}
	salt = box + header_len - VAULT_PWBOX_TAIL_BYTES;
	nonce = salt + VAULT_PWBOX_SALT_BYTES;
	randombytes_buf(salt, VAULT_PWBOX_SALT_BYTES);
	randombytes_buf(nonce, VAULT_PWBOX_NONCE_BYTES);
	if (pwbox_derive(key, pass, pass_len, salt, opslimit, memlimit, what,
	    err, err_len) != 0)
		goto fail;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(box + header_len, &clen,
	    secret, secret_len, box, header_len, NULL, nonce, key) != 0 ||
	    clen != secret_len + VAULT_PWBOX_ABYTES) {
		vault_err_set(err, err_len, "%s: encryption failed", what);
		goto fail;
	}
	rc = 0;
fail:
	sodium_memzero(key, sizeof key);
	return rc;
}

int
vault_pwbox_open(const unsigned char *box, size_t header_len,
    unsigned char *secret, size_t secret_len,
    const char *pass, size_t pass_len,
    unsigned long long opslimit, unsigned long long memlimit,
    const char *what, char *err, size_t err_len)
{
	unsigned char       key[PB_KEY_LEN];
	const unsigned char *salt, *nonce;
	unsigned long long  mlen = 0;
	int                 rc = -1;

	memset(key, 0, sizeof key);
	if (box == NULL || secret == NULL || header_len < VAULT_PWBOX_TAIL_BYTES ||
	    (pass == NULL && pass_len != 0)) {
		vault_err_set(err, err_len, "%s: missing argument", what);
		goto fail;
	}
	salt = box + header_len - VAULT_PWBOX_TAIL_BYTES;
	nonce = salt + VAULT_PWBOX_SALT_BYTES;
	if (pwbox_derive(key, pass, pass_len, salt, opslimit, memlimit, what,
	    err, err_len) != 0)
		goto fail;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret, &mlen, NULL,
	    box + header_len, secret_len + VAULT_PWBOX_ABYTES, box, header_len,
	    nonce, key) != 0 || mlen != secret_len) {
		vault_err_set(err, err_len, "wrong passphrase or corrupted %s", what);
		goto fail;
	}
	rc = 0;
fail:
	sodium_memzero(key, sizeof key);
	return rc;
}
