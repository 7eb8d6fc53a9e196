/* vault/pwbox.h — passphrase boxes: the crypto core shared by custodian
 * share files (sharefile.c) and production key files (production.c).
 *
 * A box is a caller-defined header followed by the ciphertext of one small
 * secret.  The header's last VAULT_PWBOX_TAIL_BYTES bytes are the Argon2id
 * salt and then the XChaCha20-Poly1305 nonce:
 *
 *     header (header_len bytes) = caller fields ‖ salt[16] ‖ nonce[24]
 *     box                       = header ‖ ciphertext[secret_len + 16]
 *
 * The key is Argon2id13(passphrase, salt, opslimit, memlimit); the whole
 * header is the associated data, so every caller field is authenticated.
 * The limits are checked against VAULT_SHAREFILE_*LIMIT_MIN/MAX before any
 * derivation: a doctored header must not make Argon2id run for hours or
 * allocate without bound.
 *
 * Messages name the file kind the caller passes as `what` ("share file",
 * "key file"); a wrong passphrase and a tampered box share one message.
 */
#ifndef COFFER_VAULT_PWBOX_H
#define COFFER_VAULT_PWBOX_H

#include <stddef.h>

/* The Argon2id bounds every passphrase box accepts (share files, key
 * files). */
#define VAULT_SHAREFILE_OPSLIMIT_MIN       1ULL            /* Argon2id13 minimum */
#define VAULT_SHAREFILE_OPSLIMIT_MAX       32ULL
#define VAULT_SHAREFILE_MEMLIMIT_MIN       8192ULL         /* Argon2id13 minimum */
#define VAULT_SHAREFILE_MEMLIMIT_MAX       4294967296ULL   /* 4 GiB */

#define VAULT_PWBOX_SALT_BYTES   16U   /* crypto_pwhash_argon2id_SALTBYTES */
#define VAULT_PWBOX_NONCE_BYTES  24U   /* XChaCha20-Poly1305 NPUBBYTES */
#define VAULT_PWBOX_TAIL_BYTES   (VAULT_PWBOX_SALT_BYTES + VAULT_PWBOX_NONCE_BYTES)
#define VAULT_PWBOX_ABYTES       16U   /* Poly1305 tag */

/* 0, or -1 with "<what>: Argon2id opslimit|memlimit ... outside lo..hi". */
int vault_pwbox_limits_check(const char *what, unsigned long long opslimit,
                             unsigned long long memlimit,
                             char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* box holds the header (header_len >= VAULT_PWBOX_TAIL_BYTES, caller fields
 * already written) and room for secret_len + VAULT_PWBOX_ABYTES more bytes.
 * Fills the salt and nonce with fresh random bytes, then writes the
 * ciphertext after the header.  pass must not be empty (the caller says so in
 * its own words).  0 or -1; on failure the ciphertext area may be partly
 * written and the caller wipes box. */
int vault_pwbox_seal(unsigned char *box, size_t header_len,
                     const unsigned char *secret, size_t secret_len,
                     const char *pass, size_t pass_len,
                     unsigned long long opslimit, unsigned long long memlimit,
                     const char *what, char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Decrypt the secret_len-byte secret of box (header_len + secret_len +
 * VAULT_PWBOX_ABYTES bytes, limits read from the header by the caller) into
 * secret, which the caller owns (guarded memory).  0 or -1: "wrong passphrase
 * or corrupted <what>" for any authentication failure. */
int vault_pwbox_open(const unsigned char *box, size_t header_len,
                     unsigned char *secret, size_t secret_len,
                     const char *pass, size_t pass_len,
                     unsigned long long opslimit, unsigned long long memlimit,
                     const char *what, char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
