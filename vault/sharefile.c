/* vault/sharefile.c — seal and open custodian share files (format in
 * sharefile.h).
 *
 * What it does: encrypts one Shamir share under an Argon2id key derived from
 * the custodian's passphrase, with the whole header as associated data (the
 * KDF and AEAD core is vault/pwbox.c, shared with production key files).
 *
 * What it trusts: libsodium. It does not trust file bytes: the header is
 * parsed field by field with specific errors, the KDF limits are bounded
 * before any derivation (a doctored file must not make Argon2id run for
 * hours or allocate without bound), and the decrypted share is checked to be
 * a canonical scalar. A wrong passphrase and a tampered file are
 * indistinguishable by design and share one message.
 *
 * What it does not do: file I/O, permissions, passphrase prompting, or any
 * policy on which KDF limits are strong enough (the caller chooses).
 */
#include "vault/sharefile.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "vault/err.h"
#include "vault/group.h"
#include "vault/mem.h"
#include "vault/pwbox.h"

#define SF_MAGIC        "COFFER-SHARE"
#define SF_MAGIC_LEN    12U
#define SF_OFF_VERSION  12U
#define SF_OFF_INDEX    13U
#define SF_OFF_N        14U
#define SF_OFF_K        15U
#define SF_OFF_TENANT   16U
#define SF_OFF_PK       32U
#define SF_OFF_OPS      64U
#define SF_OFF_MEM      72U
/* version 1: salt, nonce, ciphertext follow the limits */
#define SF1_OFF_SALT    80U
#define SF1_OFF_NONCE   96U
#define SF1_OFF_CT      120U
/* version 2: generation (u32), holder (u8), 3 zero bytes, then the same */
#define SF2_OFF_GEN     80U
#define SF2_OFF_HOLDER  84U
#define SF2_OFF_RSVD    85U
#define SF2_OFF_SALT    88U
#define SF2_OFF_NONCE   104U
#define SF2_OFF_CT      128U
#define SF_CT_LEN       (VAULT_SCALAR_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define SF_MAX_INDEX    255U
#define SF_WHAT         "share file"   /* names it in pwbox messages */

_Static_assert(SF1_OFF_SALT + crypto_pwhash_argon2id_SALTBYTES == SF1_OFF_NONCE,
    "salt size");
_Static_assert(SF1_OFF_NONCE + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == SF1_OFF_CT,
    "nonce size");
_Static_assert(SF1_OFF_CT + SF_CT_LEN == VAULT_SHAREFILE_V1_BYTES, "v1 file size");
_Static_assert(SF1_OFF_SALT + VAULT_PWBOX_TAIL_BYTES == SF1_OFF_CT,
    "v1 header ends in the pwbox salt and nonce");
_Static_assert(SF2_OFF_SALT + VAULT_PWBOX_TAIL_BYTES == SF2_OFF_CT,
    "v2 header ends in the pwbox salt and nonce");
_Static_assert(SF2_OFF_CT + SF_CT_LEN == VAULT_SHAREFILE_BYTES, "v2 file size");
_Static_assert(VAULT_SHAREFILE_OPSLIMIT_MIN == crypto_pwhash_argon2id_OPSLIMIT_MIN,
    "opslimit min");
_Static_assert(VAULT_SHAREFILE_MEMLIMIT_MIN == crypto_pwhash_argon2id_MEMLIMIT_MIN,
    "memlimit min");
_Static_assert(VAULT_SHAREFILE_OPSLIMIT_INTERACTIVE ==
    crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, "opslimit interactive");
_Static_assert(VAULT_SHAREFILE_MEMLIMIT_INTERACTIVE ==
    crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE, "memlimit interactive");
_Static_assert(VAULT_SHAREFILE_OPSLIMIT_MODERATE ==
    crypto_pwhash_argon2id_OPSLIMIT_MODERATE, "opslimit moderate");
_Static_assert(VAULT_SHAREFILE_MEMLIMIT_MODERATE ==
    crypto_pwhash_argon2id_MEMLIMIT_MODERATE, "memlimit moderate");

/* The header length (the AD) and file size of a version. */
static size_t
sf_header_len(unsigned int version)
{
	return version == 1 ? SF1_OFF_CT : SF2_OFF_CT;
}

static size_t
sf_file_len(unsigned int version)
{
	return version == 1 ? VAULT_SHAREFILE_V1_BYTES : VAULT_SHAREFILE_BYTES;
}

static void
store_u64_le(unsigned char *p, unsigned long long v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned long long
load_u64_le(const unsigned char *p)
{
	unsigned long long v = 0;
	size_t             i;

	for (i = 8; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

/* Field checks shared by seal (refuse to write) and open (refuse to read). */
static int
info_check(const vault_sharefile_info *info, char *err, size_t err_len)
{
	if (info->n < 1 || info->n > SF_MAX_INDEX) {
		vault_err_set(err, err_len, "share file: custodian count %u outside 1..%u",
		    info->n, SF_MAX_INDEX);
		return -1;
	}
	if (info->k < 1 || info->k > info->n) {
		vault_err_set(err, err_len, "share file: threshold %u outside 1..%u",
		    info->k, info->n);
		return -1;
	}
	if (info->index < 1 || info->index > info->n) {
		vault_err_set(err, err_len, "share file: custodian index %u outside 1..%u",
		    info->index, info->n);
		return -1;
	}
	if (!vault_point_usable(info->tenant_pk)) {
		vault_err_set(err, err_len, "share file: tenant public key is not a valid "
		    "group element");
		return -1;
	}
	if (info->generation < 1 || info->generation > VAULT_SHAREFILE_GENERATION_MAX) {
		vault_err_set(err, err_len, "share file: generation %u outside 1..%u",
		    info->generation, VAULT_SHAREFILE_GENERATION_MAX);
		return -1;
	}
	if (info->holder > VAULT_SHARE_HOLDER_THIRD_PARTY) {
		vault_err_set(err, err_len, "share file: unknown holder kind %u",
		    info->holder);
		return -1;
	}
	return vault_pwbox_limits_check(SF_WHAT, info->opslimit, info->memlimit,
	    err, err_len);
}

static int
header_parse(const unsigned char *file, size_t file_len,
    vault_sharefile_info *info, char *err, size_t err_len)
{
	size_t m, want;
	unsigned int version;

	memset(info, 0, sizeof *info);
	if (file == NULL || file_len == 0) {
		vault_err_set(err, err_len, "share file is empty");
		return -1;
	}
	m = file_len < SF_MAGIC_LEN ? file_len : SF_MAGIC_LEN;
	if (memcmp(file, SF_MAGIC, m) != 0) {
		vault_err_set(err, err_len, "not a Coffer share file (bad magic)");
		return -1;
	}
	if (file_len <= SF_OFF_VERSION) {
		vault_err_set(err, err_len, "share file truncated: %zu bytes",
		    file_len);
		return -1;
	}
	version = file[SF_OFF_VERSION];
	if (version != 1 && version != VAULT_SHAREFILE_VERSION) {
		vault_err_set(err, err_len, "unsupported share file version %u (this build "
		    "reads versions 1 and %u)", version, VAULT_SHAREFILE_VERSION);
		return -1;
	}
	want = sf_file_len(version);
	if (file_len < want) {
		vault_err_set(err, err_len, "share file truncated: %zu of %zu bytes",
		    file_len, want);
		return -1;
	}
	if (file_len > want) {
		vault_err_set(err, err_len, "share file has %zu unexpected trailing bytes",
		    file_len - want);
		return -1;
	}

	info->index = file[SF_OFF_INDEX];
	info->n = file[SF_OFF_N];
	info->k = file[SF_OFF_K];
	memcpy(info->tenant_id, file + SF_OFF_TENANT, VAULT_ID_BYTES);
	memcpy(info->tenant_pk, file + SF_OFF_PK, VAULT_POINT_BYTES);
	info->opslimit = load_u64_le(file + SF_OFF_OPS);
	info->memlimit = load_u64_le(file + SF_OFF_MEM);
	info->version = version;
	if (version == 1) {
		info->generation = 1;
		info->holder = VAULT_SHARE_HOLDER_CUSTODIAN;
	} else {
		info->generation = (unsigned int)file[SF2_OFF_GEN] |
		    (unsigned int)file[SF2_OFF_GEN + 1] << 8 |
		    (unsigned int)file[SF2_OFF_GEN + 2] << 16 |
		    (unsigned int)file[SF2_OFF_GEN + 3] << 24;
		info->holder = file[SF2_OFF_HOLDER];
		if (file[SF2_OFF_RSVD] != 0 || file[SF2_OFF_RSVD + 1] != 0 ||
		    file[SF2_OFF_RSVD + 2] != 0) {
			vault_err_set(err, err_len, "share file: reserved header bytes "
			    "are not zero");
			memset(info, 0, sizeof *info);
			return -1;
		}
	}
	if (info_check(info, err, err_len) != 0) {
		memset(info, 0, sizeof *info);
		return -1;
	}
	return 0;
}

int
vault_sharefile_seal(const vault_sharefile_info *info,
    const unsigned char share[VAULT_SCALAR_BYTES],
    const char *passphrase, size_t passphrase_len,
    unsigned char *out, size_t out_cap, size_t *out_len,
    char *err, size_t err_len)
{
	int rc = -1;

	if (out_len != NULL)
		*out_len = 0;
	if (out != NULL && out_cap > 0)
		memset(out, 0, out_cap);

	if (info == NULL || share == NULL || out == NULL || out_len == NULL) {
		vault_err_set(err, err_len, "share file: missing argument");
		goto fail;
	}
	if (out_cap < VAULT_SHAREFILE_BYTES) {
		vault_err_set(err, err_len, "share file: output buffer of %zu bytes, need %u",
		    out_cap, VAULT_SHAREFILE_BYTES);
		goto fail;
	}
	if (info_check(info, err, err_len) != 0)
		goto fail;
	if (passphrase == NULL || passphrase_len == 0) {
		vault_err_set(err, err_len, "share file: passphrase must not be empty");
		goto fail;
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		goto fail;
	}
	if (!vault_scalar_usable(share)) {
		vault_err_set(err, err_len, "share file: share is not a valid scalar");
		goto fail;
	}

	memcpy(out, SF_MAGIC, SF_MAGIC_LEN);
	out[SF_OFF_VERSION] = (unsigned char)VAULT_SHAREFILE_VERSION;
	out[SF_OFF_INDEX] = (unsigned char)info->index;
	out[SF_OFF_N] = (unsigned char)info->n;
	out[SF_OFF_K] = (unsigned char)info->k;
	memcpy(out + SF_OFF_TENANT, info->tenant_id, VAULT_ID_BYTES);
	memcpy(out + SF_OFF_PK, info->tenant_pk, VAULT_POINT_BYTES);
	store_u64_le(out + SF_OFF_OPS, info->opslimit);
	store_u64_le(out + SF_OFF_MEM, info->memlimit);
	out[SF2_OFF_GEN] = (unsigned char)info->generation;
	out[SF2_OFF_GEN + 1] = (unsigned char)(info->generation >> 8);
	out[SF2_OFF_GEN + 2] = (unsigned char)(info->generation >> 16);
	out[SF2_OFF_GEN + 3] = (unsigned char)(info->generation >> 24);
	out[SF2_OFF_HOLDER] = (unsigned char)info->holder;
	/* salt, nonce and ciphertext; the header so far is the AD */
	if (vault_pwbox_seal(out, SF2_OFF_CT, share, VAULT_SCALAR_BYTES,
	    passphrase, passphrase_len, info->opslimit, info->memlimit, SF_WHAT,
	    err, err_len) != 0)
		goto fail;
	*out_len = VAULT_SHAREFILE_BYTES;
	rc = 0;
fail:
	if (rc != 0 && out != NULL && out_cap > 0)
		sodium_memzero(out, out_cap);
	return rc;
}

int
vault_sharefile_inspect(const unsigned char *file, size_t file_len,
    vault_sharefile_info *info_out, char *err, size_t err_len)
{
	if (info_out == NULL) {
		vault_err_set(err, err_len, "share file: missing argument");
		return -1;
	}
	return header_parse(file, file_len, info_out, err, err_len);
}

int
vault_sharefile_open(const unsigned char *file, size_t file_len,
    const char *passphrase, size_t passphrase_len,
    vault_sharefile_info *info_out, unsigned char **share_out,
    char *err, size_t err_len)
{
	vault_sharefile_info info;
	unsigned char       *share = NULL;
	int                  rc = -1;

	memset(&info, 0, sizeof info);
	if (info_out != NULL)
		memset(info_out, 0, sizeof *info_out);
	if (share_out != NULL)
		*share_out = NULL;
	if (info_out == NULL || share_out == NULL ||
	    (passphrase == NULL && passphrase_len != 0)) {
		vault_err_set(err, err_len, "share file: missing argument");
		goto fail;
	}
	if (header_parse(file, file_len, &info, err, err_len) != 0)
		goto fail;
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		goto fail;
	}
	if ((share = vault_secure_alloc(VAULT_SCALAR_BYTES)) == NULL) {
		vault_err_set(err, err_len, "share file: cannot allocate secure memory");
		goto fail;
	}
	if (vault_pwbox_open(file, sf_header_len(info.version), share, VAULT_SCALAR_BYTES,
	    passphrase, passphrase_len, info.opslimit, info.memlimit, SF_WHAT,
	    err, err_len) != 0)
		goto fail;
	/* Authentic but unusable: only a broken sealer writes this. */
	if (!vault_scalar_usable(share)) {
		vault_err_set(err, err_len, "share file holds an invalid share");
		goto fail;
	}

	*info_out = info;
	*share_out = share;
	share = NULL;
	rc = 0;
fail:
	if (share != NULL) {
		vault_wipe(share, VAULT_SCALAR_BYTES);
		vault_secure_free(share);
	}
	sodium_memzero(&info, sizeof info);
	return rc;
}
