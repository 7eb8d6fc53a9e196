/* tests/tools/sharesecrets.c — the secrets a re-share test must find
 * nowhere: the tenant key t and every custodian share, as memscan.py
 * patterns.
 *
 *   sharesecrets LIST
 *
 * LIST: "share-file passphrase-file" lines (any generations).  Every share
 * is opened; per generation, t is interpolated at 0 from the first k
 * shares of that generation, and every generation must give the same t
 * (a re-share keeps the key: the test's proof that it did).  Prints
 * "CLASS<TAB>HEX" lines for memscan.py: t and each share, each as raw
 * bytes and as its lower-case hex text.  Exit 0; 1 when a file does not
 * open, a generation has fewer than k shares, or the generations
 * disagree.  Test-only: never installed.  Its output is secret: the
 * caller keeps it out of the scanned places.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "vault/group.h"
#include "vault/mem.h"
#include "vault/sharefile.h"

#define SS_MAX 64

typedef struct ss_share {
	unsigned      index, k, generation;
	unsigned char s[VAULT_SCALAR_BYTES];
} ss_share;

static void
ss_print(const char *class, const unsigned char *b, size_t n)
{
	char hex[2 * VAULT_SCALAR_BYTES + 1], hh[4 * VAULT_SCALAR_BYTES + 1];

	util_hex(hex, b, n);
	printf("%s\t%s\n", class, hex);
	util_hex(hh, (const unsigned char *)hex, strlen(hex));
	printf("%s (hex text)\t%s\n", class, hh);
}

/* t from the first k shares of generation g; 0, or -1. */
static int
ss_interpolate(const ss_share *v, size_t n, unsigned g,
    unsigned char t[VAULT_SCALAR_BYTES])
{
	unsigned idx[SS_MAX];
	const ss_share *use[SS_MAX];
	unsigned char lam[VAULT_SCALAR_BYTES], term[VAULT_SCALAR_BYTES];
	size_t i, m = 0;
	unsigned k = 0;

	for (i = 0; i < n; i++)
		if (v[i].generation == g) {
			k = v[i].k;
			if (m < k) {
				idx[m] = v[i].index;
				use[m++] = &v[i];
			}
		}
	if (k == 0 || m < k)
		return -1;
	memset(t, 0, VAULT_SCALAR_BYTES);
	for (i = 0; i < m; i++) {
		if (vault_lagrange_at0(idx, m, i, lam) != 0)
			return -1;
		crypto_core_ristretto255_scalar_mul(term, lam, use[i]->s);
		crypto_core_ristretto255_scalar_add(t, t, term);
	}
	sodium_memzero(term, sizeof(term));
	return 0;
}

int
main(int argc, char **argv)
{
	ss_share *v;
	unsigned char t[VAULT_SCALAR_BYTES], t0[VAULT_SCALAR_BYTES];
	char line[8192], sf[4096], pf[4096], err[512], pass[1024], cls[64];
	unsigned gens[SS_MAX];
	size_t n = 0, ng = 0, i, j;
	FILE *f;
	int rc = 1;

	if (argc != 2 || vault_init() != 0) {
		fprintf(stderr, "usage: sharesecrets LIST\n");
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL ||
	    (v = sodium_malloc(SS_MAX * sizeof(*v))) == NULL) {
		fprintf(stderr, "sharesecrets: %s: cannot read\n", argv[1]);
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL && n < SS_MAX) {
		unsigned char *data = NULL, *share = NULL;
		vault_sharefile_info info;
		size_t len = 0;

		if (sscanf(line, "%4095s %4095s", sf, pf) != 2)
			continue;
		if (util_read_file(sf, 65536, &data, &len, err, sizeof(err)) != 0 ||
		    util_read_passphrase(pf, NULL, pass, sizeof(pass), err,
		    sizeof(err)) != 0 ||
		    vault_sharefile_open(data, len, pass, strlen(pass), &info, &share,
		    err, sizeof(err)) != 0) {
			fprintf(stderr, "sharesecrets: %s: %s\n", sf, err);
			free(data);
			goto out;
		}
		free(data);
		v[n].index = info.index;
		v[n].k = info.k;
		v[n].generation = info.generation;
		memcpy(v[n].s, share, VAULT_SCALAR_BYTES);
		vault_secure_free(share);
		for (j = 0; j < ng && gens[j] != info.generation; j++)
			;
		if (j == ng)
			gens[ng++] = info.generation;
		n++;
	}
	for (j = 0; j < ng; j++) {
		if (ss_interpolate(v, n, gens[j], j == 0 ? t0 : t) != 0) {
			fprintf(stderr, "sharesecrets: generation %u: too few shares\n",
			    gens[j]);
			goto out;
		}
		if (j > 0 && sodium_memcmp(t, t0, sizeof(t)) != 0) {
			fprintf(stderr, "sharesecrets: generation %u interpolates "
			    "another key than generation %u\n", gens[j], gens[0]);
			goto out;
		}
	}
	ss_print("t", t0, sizeof(t0));
	for (i = 0; i < n; i++) {
		snprintf(cls, sizeof(cls), "share %u of generation %u", v[i].index,
		    v[i].generation);
		ss_print(cls, v[i].s, VAULT_SCALAR_BYTES);
	}
	rc = 0;
out:
	sodium_memzero(t, sizeof(t));
	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(pass, sizeof(pass));
	sodium_free(v);
	fclose(f);
	return rc;
}
