/* tests/fuzz/fuzz_sharefile.c — libFuzzer target for custodian share file
 * decoding (vault/sharefile.c): vault_sharefile_inspect() on any bytes,
 * then vault_sharefile_open() with the fixture's passphrase whenever the
 * header passes and its KDF limits are cheap enough to run per input (the
 * parser itself refuses limits outside the documented bounds before any
 * derivation; the harness only spares the fuzzer 256 MiB Argon2 runs).
 *
 * Beyond "does not crash": a header that inspects is consistent
 * (1 <= index <= n, 1 <= k <= n, limits in bounds); a file that opens gives
 * the header inspect gave, a share, and stops opening when any one byte
 * changes or the passphrase is wrong; every refusal has a message.
 *
 * Seeds: files sealed here under the fixed passphrase with the minimum
 * limits (written with FUZZ_WRITE_SEEDS, see tests/fuzz/seeds.sh), plus
 * real ones from `cofferctl tenant init` (limits too high to open here).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"
#include "vault/mem.h"
#include "vault/sharefile.h"
#include "vault/tenant.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_PASS      "fuzz passphrase, not a secret"
#define FZ_OPS_MAX   3ULL
#define FZ_MEM_MAX   (1024ULL * 1024ULL)

static void
fz_write_seeds(void)
{
	vault_tenant_keys *keys = NULL;
	vault_sharefile_info info;
	unsigned char file[VAULT_SHAREFILE_BYTES];
	size_t len;
	char err[256];
	unsigned i;

	if (getenv("FUZZ_WRITE_SEEDS") == NULL)
		return;
	if (vault_tenant_generate(&keys, 2, 3, err, sizeof(err)) != 0)
		abort();
	memset(&info, 0, sizeof(info));
	randombytes_buf(info.tenant_id, sizeof(info.tenant_id));
	vault_tenant_keys_public_key(keys, info.tenant_pk);
	info.n = 3;
	info.k = 2;
	info.generation = 1;
	for (i = 1; i <= 3; i++) {
		char name[32];

		info.index = i;
		info.opslimit = VAULT_SHAREFILE_OPSLIMIT_MIN + (i == 3);
		info.memlimit = VAULT_SHAREFILE_MEMLIMIT_MIN * (i == 3 ? 4 : 1);
		if (vault_sharefile_seal(&info, vault_tenant_keys_share(keys, i),
		    FZ_PASS, strlen(FZ_PASS), file, sizeof(file), &len, err,
		    sizeof(err)) != 0)
			abort();
		snprintf(name, sizeof(name), "min-%u-of-3", i);
		fz_seed(name, file, len);
	}
	/* near-valid: truncated, trailing byte, version 2 */
	fz_seed("truncated", file, len - 1);
	file[12] = 2;
	fz_seed("version-2", file, len);
	vault_tenant_keys_free(&keys);
	fz_seeds_done();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_deterministic_rng();
	if (vault_init() != 0)
		abort();
	fz_write_seeds();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vault_sharefile_info info, opened;
	unsigned char *share = NULL, copy[VAULT_SHAREFILE_BYTES];
	char err[256];
	size_t pos;

	err[0] = '\0';
	if (vault_sharefile_inspect(data, size, &info, err, sizeof(err)) != 0) {
		fz_msg(err);
		/* open refuses the same header the same way, before any KDF */
		if (vault_sharefile_open(data, size, FZ_PASS, strlen(FZ_PASS),
		    &opened, &share, err, sizeof(err)) == 0 || share != NULL)
			abort();
		return 0;
	}
	if (size != VAULT_SHAREFILE_BYTES || info.index < 1 ||
	    info.index > info.n || info.k < 1 || info.k > info.n ||
	    info.opslimit < VAULT_SHAREFILE_OPSLIMIT_MIN ||
	    info.opslimit > VAULT_SHAREFILE_OPSLIMIT_MAX ||
	    info.memlimit < VAULT_SHAREFILE_MEMLIMIT_MIN ||
	    info.memlimit > VAULT_SHAREFILE_MEMLIMIT_MAX)
		abort();
	if (info.opslimit > FZ_OPS_MAX || info.memlimit > FZ_MEM_MAX)
		return 0;
	if (vault_sharefile_open(data, size, FZ_PASS, strlen(FZ_PASS), &opened,
	    &share, err, sizeof(err)) != 0) {
		fz_msg(err);
		if (share != NULL)
			abort();
		return 0;
	}
	if (share == NULL || memcmp(&opened, &info, sizeof(info)) != 0)
		abort();
	vault_secure_free(share);
	share = NULL;
	/* authenticated: a wrong passphrase and any changed byte must fail */
	if (vault_sharefile_open(data, size, "x", 1, &opened, &share, err,
	    sizeof(err)) == 0)
		abort();
	memcpy(copy, data, sizeof(copy));
	pos = (size_t)data[size - 1] * 7 % sizeof(copy);
	copy[pos] ^= (uint8_t)(1U << (data[size - 2] & 7));
	if (vault_sharefile_open(copy, sizeof(copy), FZ_PASS, strlen(FZ_PASS),
	    &opened, &share, err, sizeof(err)) == 0)
		abort();
	fz_msg(err);
	return 0;
}
