/* vault/sharefile.h — custodian share files, as byte buffers (the caller
 * does the file I/O, checks ownership and mode, and writes atomically).
 *
 * Format, version 2 (written): binary, exactly VAULT_SHAREFILE_BYTES (176)
 * bytes, integers little-endian.  Version 1 (168 bytes: no generation or
 * holder, salt at 80, nonce at 96, ciphertext at 120, AD bytes 0..119) is
 * still read, as generation 1 held by a custodian.
 *
 *   off  len  field
 *     0   12  magic "COFFER-SHARE" (ASCII, no NUL)
 *    12    1  format version = 1
 *    13    1  custodian index i (1..n)
 *    14    1  n, custodians (1..255)
 *    15    1  k, threshold (1..n)
 *    16   16  tenant id
 *    32   32  tenant public key T (ristretto255)
 *    64    8  Argon2id13 opslimit (u64)
 *    72    8  Argon2id13 memlimit in bytes (u64)
 *    80    4  share generation (u32, >= 1): which sharing of T this is
 *              (tenant init: 1; every re-share: +1; vault/reshare.h)
 *    84    1  holder: 0 custodian, 1 designated third party
 *    85    3  zero
 *    88   16  Argon2id salt (random)
 *   104   24  XChaCha20-Poly1305-IETF nonce (random)
 *   128   48  ciphertext of the 32-byte share s_i ‖ 16-byte tag
 *
 *   key = crypto_pwhash(Argon2id13, passphrase, salt, opslimit, memlimit)
 *   ad  = bytes 0..127 (the whole header), so no header byte can change
 *         without the file failing to open.
 *
 * Limits: opslimit in [VAULT_SHAREFILE_OPSLIMIT_MIN, VAULT_SHAREFILE_OPSLIMIT_MAX],
 * memlimit in [VAULT_SHAREFILE_MEMLIMIT_MIN, VAULT_SHAREFILE_MEMLIMIT_MAX];
 * files outside them are refused before any key derivation, so a doctored
 * header cannot make the opener spin or allocate without bound. Real files
 * should use at least the MODERATE pair; INTERACTIVE (or MIN) is for tests
 * and for an explicit insecure-fast mode chosen by the caller.
 */
#ifndef COFFER_VAULT_SHAREFILE_H
#define COFFER_VAULT_SHAREFILE_H

#include <stddef.h>

#include "vault/pwbox.h"
#include "vault/wrap.h"

#define VAULT_SHAREFILE_BYTES              176U   /* version 2, written */
#define VAULT_SHAREFILE_V1_BYTES           168U   /* version 1, still read */
#define VAULT_SHAREFILE_VERSION            2U
#define VAULT_SHAREFILE_GENERATION_MAX     1000000U

#define VAULT_SHARE_HOLDER_CUSTODIAN       0U
#define VAULT_SHARE_HOLDER_THIRD_PARTY     1U   /* a designated third party */

/* (the Argon2id bounds, VAULT_SHAREFILE_{OPS,MEM}LIMIT_{MIN,MAX}: vault/pwbox.h) */
#define VAULT_SHAREFILE_OPSLIMIT_INTERACTIVE 2ULL
#define VAULT_SHAREFILE_MEMLIMIT_INTERACTIVE 67108864ULL   /* 64 MiB */
#define VAULT_SHAREFILE_OPSLIMIT_MODERATE  3ULL
#define VAULT_SHAREFILE_MEMLIMIT_MODERATE  268435456ULL    /* 256 MiB */

/* Public metadata of a share file. */
typedef struct vault_sharefile_info {
	unsigned char      tenant_id[VAULT_ID_BYTES];
	unsigned char      tenant_pk[VAULT_POINT_BYTES];
	unsigned int       index;      /* custodian index, 1..n */
	unsigned int       n;          /* custodians */
	unsigned int       k;          /* threshold */
	unsigned long long opslimit;   /* Argon2id13 */
	unsigned long long memlimit;   /* bytes */
	unsigned int       generation; /* share generation, >= 1 (v1 files: 1) */
	unsigned int       holder;     /* VAULT_SHARE_HOLDER_* (v1 files: custodian) */
	unsigned int       version;    /* read: the file's format version; seal ignores it */
} vault_sharefile_info;

/* Encrypt share s_i under the passphrase. info gives every header field,
 * including the KDF limits. Writes VAULT_SHAREFILE_BYTES into out
 * (out_cap >= that) and sets *out_len; out is zeroed on failure. */
int vault_sharefile_seal(const vault_sharefile_info *info,
                         const unsigned char share[VAULT_SCALAR_BYTES],
                         const char *passphrase, size_t passphrase_len,
                         unsigned char *out, size_t out_cap, size_t *out_len,
                         char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Parse and check the header without the passphrase (for display: tenant,
 * index, n, k). Not authenticated until vault_sharefile_open() succeeds. */
int vault_sharefile_inspect(const unsigned char *file, size_t file_len,
                            vault_sharefile_info *info_out,
                            char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Decrypt the share. On success *share_out is a VAULT_SCALAR_BYTES buffer
 * from vault_secure_alloc (caller releases it with vault_secure_free) and
 * *info_out holds the authenticated header. On failure *share_out is NULL
 * and *info_out is zeroed; a wrong passphrase and a tampered file give the
 * same message, "wrong passphrase or corrupted share file". */
int vault_sharefile_open(const unsigned char *file, size_t file_len,
                         const char *passphrase, size_t passphrase_len,
                         vault_sharefile_info *info_out,
                         unsigned char **share_out,
                         char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
