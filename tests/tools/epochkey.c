/* tests/tools/epochkey.c — TEST ONLY: the epoch keys of a tenant, computed
 * from K custodian share files the way a production releases them, so a
 * test can look for those keys where they must not be (a daemon's memory,
 * files on disk).
 *
 *   epochkey SHARE PASSFILE [SHARE PASSFILE]...  < epochs
 *
 * Each input line: EPOCH-UUID R-HEX WRAPPED-HEX [SEQ]...  (one row of
 * coffer.epochs, R and the wrapped key hex-encoded, then the seqs of the
 * records sealed under it).  Each output line:
 *
 *   EPOCH-UUID EK-HEX S-HEX [SEQ:RECORD-KEY-HEX]...
 *
 * where S = t·R is combined from the custodians' partial decryptions
 * (vault_threshold_partial, vault_threshold_combine — the matter id only
 * binds the proof, so a zero id gives the same P), EK is unwrapped with
 * vault_threshold_unwrap as api/production.c does, and each record key is
 * crypto_kdf_derive_from_key(32, seq, "cofferrc", EK) as vault/seal.c
 * derives it.  The shares, passphrases and keys are test fixtures; this
 * tool prints key material by design and is never installed.
 *
 * Exit 0 when every line unwrapped; 1 with a message on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "vault/mem.h"
#include "vault/sharefile.h"
#include "vault/threshold.h"

#define EK_MAX_SHARES 16U
#define EK_LINE_MAX   65536U
#define EK_PASS_MAX   1024U

typedef struct ek_share {
	vault_sharefile_info info;
	unsigned char       *s;          /* guarded */
} ek_share;

static int
ek_fail(const char *what, const char *why)
{
	fprintf(stderr, "epochkey: %s: %s\n", what, why);
	return 1;
}

static int
ek_load(const char *path, const char *passfile, ek_share *out)
{
	unsigned char *file = NULL;
	size_t flen = 0;
	char err[512], pass[EK_PASS_MAX];
	int rc;

	if (util_read_file(path, 4096, &file, &flen, err, sizeof(err)) != 0)
		return ek_fail(path, err);
	if (util_read_passphrase(passfile, NULL, pass, sizeof(pass), err,
	    sizeof(err)) != 0) {
		free(file);
		return ek_fail(passfile, err);
	}
	rc = vault_sharefile_open(file, flen, pass, strlen(pass), &out->info,
	    &out->s, err, sizeof(err));
	sodium_memzero(pass, sizeof(pass));
	free(file);
	return rc == 0 ? 0 : ek_fail(path, err);
}

static void
ek_hex_out(const unsigned char *p, size_t n)
{
	char h[2 * 64 + 1];

	util_hex(h, p, n);
	fputs(h, stdout);
}

static int
ek_line(char *line, const ek_share *sh, size_t nsh)
{
	static const unsigned char zero_matter[VAULT_ID_BYTES];
	unsigned char eid[VAULT_ID_BYTES], R[VAULT_POINT_BYTES], S[VAULT_POINT_BYTES];
	unsigned char wrapped[VAULT_WRAPPED_EK_BYTES], ek[VAULT_EK_BYTES];
	unsigned char rk[32];
	vault_partial parts[EK_MAX_SHARES];
	char err[512], *save = NULL, *f[3], *tok;
	vault_release_ctx rctx;
	size_t i;

	for (i = 0; i < 3; i++) {
		f[i] = strtok_r(i == 0 ? line : NULL, " \t\n", &save);
		if (f[i] == NULL)
			return ek_fail("input", "expected EPOCH-UUID R-HEX WRAPPED-HEX");
	}
	if (util_uuid_parse(eid, f[0]) != 0 ||
	    util_unhex(R, sizeof(R), f[1], strlen(f[1])) != 0 ||
	    util_unhex(wrapped, sizeof(wrapped), f[2], strlen(f[2])) != 0)
		return ek_fail("input", "malformed epoch id, R or wrapped key");
	for (i = 0; i < nsh; i++) {
		vault_release_ctx_init(&rctx, sh[i].info.tenant_id, zero_matter,
		    eid, NULL);
		if (vault_threshold_partial(sh[i].s, sh[i].info.index, &rctx, R,
		    &parts[i], err, sizeof(err)) != 0)
			return ek_fail(f[0], err);
	}
	if (vault_threshold_combine(parts, nsh, S, err, sizeof(err)) != 0 ||
	    vault_threshold_unwrap(S, R, sh[0].info.tenant_pk,
	    sh[0].info.tenant_id, eid, wrapped, ek, err, sizeof(err)) != 0)
		return ek_fail(f[0], err);
	printf("%s ", f[0]);
	ek_hex_out(ek, sizeof(ek));
	putchar(' ');
	ek_hex_out(S, sizeof(S));
	while ((tok = strtok_r(NULL, " \t\n", &save)) != NULL) {
		char *end;
		unsigned long long seq = strtoull(tok, &end, 10);

		if (*end != '\0' || end == tok)
			return ek_fail("input", "malformed seq");
		if (crypto_kdf_derive_from_key(rk, sizeof(rk), (uint64_t)seq,
		    "cofferrc", ek) != 0)
			return ek_fail(f[0], "record key derivation failed");
		printf(" %llu:", seq);
		ek_hex_out(rk, sizeof(rk));
	}
	putchar('\n');
	sodium_memzero(ek, sizeof(ek));
	sodium_memzero(rk, sizeof(rk));
	sodium_memzero(S, sizeof(S));
	return 0;
}

int
main(int argc, char **argv)
{
	ek_share sh[EK_MAX_SHARES];
	size_t nsh = 0, i;
	char *line;
	int rc = 0;

	if (argc < 3 || (argc - 1) % 2 != 0 ||
	    (size_t)(argc - 1) / 2 > EK_MAX_SHARES) {
		fprintf(stderr, "usage: epochkey SHARE PASSFILE [SHARE PASSFILE]... "
		    "< epochs\n");
		return 2;
	}
	if (vault_init() != 0)
		return ek_fail("libsodium", "initialisation failed");
	memset(sh, 0, sizeof(sh));
	for (i = 1; i + 1 < (size_t)argc; i += 2) {
		if (ek_load(argv[i], argv[i + 1], &sh[nsh]) != 0) {
			rc = 1;
			goto out;
		}
		nsh++;
	}
	if (nsh < sh[0].info.k) {
		fprintf(stderr, "epochkey: %zu share(s), the threshold is %u\n", nsh,
		    sh[0].info.k);
		rc = 1;
		goto out;
	}
	if ((line = malloc(EK_LINE_MAX)) == NULL) {
		rc = ek_fail("memory", "out of memory");
		goto out;
	}
	while (rc == 0 && fgets(line, EK_LINE_MAX, stdin) != NULL) {
		if (line[0] == '\n' || line[0] == '\0')
			continue;
		rc = ek_line(line, sh, nsh);
	}
	free(line);
out:
	for (i = 0; i < nsh; i++)
		vault_secure_free(sh[i].s);
	return rc;
}
