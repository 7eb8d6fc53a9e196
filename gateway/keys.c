/* gateway/keys.c — loading the gateway's key files into guarded memory.
 *
 * Trusts the file system checks of util_check_secret_file and the sizes of
 * the files cofferctl writes; trusts nothing about their content beyond
 * its length (and, for the signing key, that its two halves agree).  A key
 * file is opened with O_NOFOLLOW by util_read_file; the short-lived heap
 * copy is wiped before it is freed.
 */
#include "gateway/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyfile.h"
#include "common/names.h"
#include "common/util.h"
#include "vault/mem.h"

int
keys_load_bik(const char *keys_dir, const char *tenant,
    unsigned char **bik_out, char *err, size_t err_len)
{
	char path[4096];

	*bik_out = NULL;
	if (!names_ok(tenant, strlen(tenant))) {
		snprintf(err, err_len, "tenant name is not usable as a key file name");
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.bik", keys_dir, tenant) >=
	    sizeof(path)) {
		snprintf(err, err_len, "keys_dir path too long");
		return -1;
	}
	return keyfile_load(path, VAULT_BIK_BYTES, bik_out, err, err_len);
}

void
keys_bik_free(unsigned char **bik)
{
	if (bik == NULL)
		return;
	vault_secure_free(*bik);
	*bik = NULL;
}

int
keys_load_signing(const char *path, unsigned char **sk_out,
    unsigned char pk_out[VAULT_SIGN_PK_BYTES], char *err, size_t err_len)
{
	unsigned char *file = NULL, *sk = NULL;

	*sk_out = NULL;
	memset(pk_out, 0, VAULT_SIGN_PK_BYTES);
	if (keyfile_load(path, VAULT_SIGN_SK_BYTES, &file, err, err_len) != 0)
		return -1;
	/* Re-derive from the seed: a file whose public half was altered
	 * would otherwise make us sign under a key nobody registered. */
	if (vault_sign_key_from_seed(file, pk_out, &sk) != 0) {
		snprintf(err, err_len, "%s: not a usable Ed25519 key", path);
		goto fail;
	}
	if (memcmp(pk_out, file + VAULT_SIGN_SEED_BYTES, VAULT_SIGN_PK_BYTES) != 0) {
		snprintf(err, err_len, "%s: public half does not match the seed", path);
		goto fail;
	}
	vault_secure_free(file);
	*sk_out = sk;
	return 0;
fail:
	vault_sign_key_free(&sk);
	vault_secure_free(file);
	memset(pk_out, 0, VAULT_SIGN_PK_BYTES);
	return -1;
}

void
keys_signing_free(unsigned char **sk)
{
	if (sk == NULL)
		return;
	vault_sign_key_free(sk);
}
