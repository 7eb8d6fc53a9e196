/* tests/tools/sharescan.c — TEST ONLY: the secrets a re-share must never
 * leave in the clear, as memscan patterns (tests/tools/memscan.c).
 *
 *   sharescan SHARE PASSFILE [SHARE PASSFILE]...  > patterns
 *
 * Opens every share file (any generation) and prints, one pattern a line
 * ("CLASS<TAB>HEX"):
 *
 *   share g<G>-<i>	<the 32-byte share s_i of generation G>
 *   tenant scalar	<t, interpolated from K shares of one generation>
 *
 * The tenant scalar is printed once per generation that has at least K
 * shares in the arguments, and the tool checks that t·B equals the share
 * files' T (so the pattern is the real key, and every generation's shares
 * give the same one).  This assembles t on purpose: it exists only to let
 * a test look for t where it must not be (a daemon's memory, the files the
 * re-share steps wrote).  Never installed.
 *
 * Exit 0 when every file opened (and every interpolation gave T); 1 with
 * a message on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "vault/group.h"
#include "vault/mem.h"
#include "vault/sharefile.h"

#define SS_MAX   32U
#define SS_PASS  1024U

typedef struct ss_share {
	vault_sharefile_info info;
	unsigned char *s;       /* secure memory */
} ss_share;

static void
ss_hex(const char *cls, const unsigned char *b)
{
	char hex[65];

	util_hex(hex, b, 32);
	printf("%s\t%s\n", cls, hex);
}

int
main(int argc, char **argv)
{
	ss_share sh[SS_MAX];
	unsigned char *data = NULL, t[32], term[32], sum[32], lambda[32], T[32];
	unsigned idx[SS_MAX];
	char err[256], pass[SS_PASS], cls[64];
	size_t n = 0, len, i, j, q;
	int rc = 1, a;

	memset(sh, 0, sizeof(sh));
	if (argc < 3 || (argc - 1) % 2 != 0 || (size_t)(argc - 1) / 2 > SS_MAX) {
		fprintf(stderr, "usage: sharescan SHARE PASSFILE [SHARE PASSFILE]...\n");
		return 2;
	}
	if (vault_init() != 0)
		return 1;
	for (a = 1; a + 1 < argc; a += 2, n++) {
		FILE *f;

		if ((f = fopen(argv[a + 1], "r")) == NULL ||
		    fgets(pass, sizeof(pass), f) == NULL) {
			fprintf(stderr, "sharescan: %s: cannot read\n", argv[a + 1]);
			if (f != NULL)
				fclose(f);
			goto out;
		}
		fclose(f);
		pass[strcspn(pass, "\n")] = '\0';
		if (util_read_file(argv[a], 4096, &data, &len, err, sizeof(err)) != 0 ||
		    vault_sharefile_open(data, len, pass, strlen(pass), &sh[n].info,
		    &sh[n].s, err, sizeof(err)) != 0) {
			fprintf(stderr, "sharescan: %s: %s\n", argv[a], err);
			goto out;
		}
		free(data);
		data = NULL;
		snprintf(cls, sizeof(cls), "share g%u-%u", sh[n].info.generation,
		    sh[n].info.index);
		ss_hex(cls, sh[n].s);
	}
	/* t from the first K shares of each generation present. */
	for (i = 0; i < n; i++) {
		unsigned g = sh[i].info.generation, k = sh[i].info.k;
		size_t pick[SS_MAX];

		for (j = 0; j < i; j++)
			if (sh[j].info.generation == g)
				break;
		if (j < i)
			continue;           /* generation done already */
		for (q = 0, j = i; j < n && q < k; j++)
			if (sh[j].info.generation == g) {
				pick[q] = j;
				idx[q++] = sh[j].info.index;
			}
		if (q < k)
			continue;
		memset(t, 0, sizeof(t));
		for (j = 0; j < q; j++) {
			if (vault_lagrange_at0(idx, q, j, lambda) != 0) {
				fprintf(stderr, "sharescan: repeated index in generation %u\n", g);
				goto out;
			}
			crypto_core_ristretto255_scalar_mul(term, lambda, sh[pick[j]].s);
			crypto_core_ristretto255_scalar_add(sum, t, term);
			memcpy(t, sum, sizeof(t));
		}
		if (crypto_scalarmult_ristretto255_base(T, t) != 0 ||
		    memcmp(T, sh[i].info.tenant_pk, 32) != 0) {
			fprintf(stderr, "sharescan: generation %u's shares do not give "
			    "the share files' T\n", g);
			goto out;
		}
		ss_hex("tenant scalar", t);
	}
	rc = 0;
out:
	free(data);
	for (i = 0; i < n; i++)
		vault_secure_free(sh[i].s);
	sodium_memzero(t, sizeof(t));
	sodium_memzero(term, sizeof(term));
	sodium_memzero(sum, sizeof(sum));
	sodium_memzero(pass, sizeof(pass));
	return rc;
}
