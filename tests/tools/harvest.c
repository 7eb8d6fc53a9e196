/* tests/tools/harvest.c — the attacker of issue 12: try to open released
 * epochs with nothing but stored values.
 *
 *   harvest --epochs FILE [--partials FILE] [--shares FILE] [BLOB...]
 *
 * --epochs: one line per epoch, "tenant-uuid epoch-uuid R-hex wrapped-hex
 *   T-hex records k" (what any database reader sees in coffer.epochs,
 *   tenant_keys and tenants).
 * --partials: "epoch-uuid custodian-index point-hex" lines: every point
 *   stored as an answer of that custodian for that epoch (approvals, audit
 *   events, API responses — the caller's SQL and jq decide where from).
 *   For every epoch, every k-subset of custodian indices and every choice
 *   of one candidate per index is combined by Lagrange and tried as S.
 * --shares: "share-file passphrase-file" lines; the shares' genuine
 *   unblinded partials s_i·R are added as candidates (the control: what the
 *   old code stored; it must open epochs, or this program proves nothing).
 * BLOB: any file (pg_dump, audit export, API responses, the API host's
 *   files); every run of hex digits is cut into 64-digit pieces and every
 *   piece that is a group element is tried as S against every epoch.
 *
 * Prints "harvest: N epochs opened, M records readable, C combinations
 * tried" and exits 0.  Test-only: never installed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "vault/mem.h"
#include "vault/sharefile.h"
#include "vault/threshold.h"
#include "vault/wrap.h"

#define H_MAX_EPOCHS   4096
#define H_MAX_CAND     16       /* candidates per (epoch, index) */
#define H_MAX_IDX      16

typedef struct h_epoch {
	unsigned char tid[16], eid[16], R[32], wrapped[72], T[32];
	long          records;
	unsigned      k;
	int           opened;
	unsigned char cand[H_MAX_IDX + 1][H_MAX_CAND][32];
	unsigned      ncand[H_MAX_IDX + 1];
} h_epoch;

static h_epoch *ep;
static size_t   nep;
static unsigned long long tried;

static h_epoch *
h_find(const unsigned char eid[16])
{
	size_t i;

	for (i = 0; i < nep; i++)
		if (memcmp(ep[i].eid, eid, 16) == 0)
			return &ep[i];
	return NULL;
}

static void
h_add(h_epoch *e, unsigned idx, const unsigned char P[32])
{
	unsigned i;

	if (idx < 1 || idx > H_MAX_IDX)
		return;
	for (i = 0; i < e->ncand[idx]; i++)
		if (memcmp(e->cand[idx][i], P, 32) == 0)
			return;
	if (e->ncand[idx] < H_MAX_CAND)
		memcpy(e->cand[idx][e->ncand[idx]++], P, 32);
}

static void
h_try(h_epoch *e, const unsigned char S[32])
{
	unsigned char ek[VAULT_EK_BYTES];

	tried++;
	if (e->opened)
		return;
	if (vault_ek_unwrap(S, e->R, e->T, e->tid, e->eid, e->wrapped, ek) == 0)
		e->opened = 1;
	sodium_memzero(ek, sizeof ek);
}

/* Every k-subset of indices (sel, in increasing order), every candidate. */
static void
h_combos(h_epoch *e, unsigned start, unsigned depth, unsigned *sel)
{
	unsigned i;

	if (e->opened)
		return;
	if (depth == e->k) {
		unsigned pick[H_MAX_IDX], j;
		vault_partial parts[H_MAX_IDX];
		unsigned char S[32];
		char err[128];
		int more = 1;

		memset(pick, 0, sizeof pick);
		while (more && !e->opened) {
			for (j = 0; j < e->k; j++) {
				parts[j].index = sel[j];
				memcpy(parts[j].P, e->cand[sel[j]][pick[j]], 32);
			}
			if (vault_threshold_combine(parts, e->k, S, err, sizeof err) == 0)
				h_try(e, S);
			for (j = 0; j < e->k; j++) {
				if (++pick[j] < e->ncand[sel[j]])
					break;
				pick[j] = 0;
			}
			more = j < e->k;
		}
		return;
	}
	for (i = start; i <= H_MAX_IDX; i++) {
		if (e->ncand[i] == 0)
			continue;
		sel[depth] = i;
		h_combos(e, i + 1, depth + 1, sel);
	}
}

static int
h_hex(unsigned char *out, size_t n, const char *s)
{
	return s != NULL && strlen(s) == 2 * n ? util_unhex(out, n, s, 2 * n) : -1;
}

static int
h_load_epochs(const char *path)
{
	char line[1024], t[64], e[64], r[80], w[160], T[80];
	long recs;
	unsigned k;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	ep = calloc(H_MAX_EPOCHS, sizeof(*ep));
	while (ep != NULL && fgets(line, sizeof line, f) != NULL &&
	    nep < H_MAX_EPOCHS) {
		h_epoch *x = &ep[nep];

		if (sscanf(line, "%63s %63s %79s %159s %79s %ld %u", t, e, r, w, T,
		    &recs, &k) != 7)
			continue;
		if (util_uuid_parse(x->tid, t) != 0 ||
		    util_uuid_parse(x->eid, e) != 0 || h_hex(x->R, 32, r) != 0 ||
		    h_hex(x->wrapped, 72, w) != 0 || h_hex(x->T, 32, T) != 0 ||
		    k < 1 || k > H_MAX_IDX)
			continue;
		x->records = recs;
		x->k = k;
		nep++;
	}
	fclose(f);
	return ep != NULL ? 0 : -1;
}

static void
h_load_partials(const char *path)
{
	char line[512], e[64], p[80];
	unsigned idx;
	unsigned char eid[16], P[32];
	FILE *f = fopen(path, "r");
	h_epoch *x;

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%63s %u %79s", e, &idx, p) == 3 &&
		    util_uuid_parse(eid, e) == 0 && h_hex(P, 32, p) == 0 &&
		    (x = h_find(eid)) != NULL)
			h_add(x, idx, P);
	fclose(f);
}

static void
h_load_shares(const char *path)
{
	char line[2048], sp[1024], pp[1024], err[256], pass[512];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned char *file = NULL, *share = NULL, *pf = NULL;
		size_t flen = 0, plen = 0, i;
		vault_sharefile_info info;

		if (sscanf(line, "%1023s %1023s", sp, pp) != 2 ||
		    util_read_file(sp, 65536, &file, &flen, err, sizeof err) != 0)
			continue;
		if (util_read_file(pp, sizeof pass - 1, &pf, &plen, err,
		    sizeof err) == 0) {
			memcpy(pass, pf, plen);
			pass[plen] = '\0';
			pass[strcspn(pass, "\n")] = '\0';
			if (vault_sharefile_open(file, flen, pass, strlen(pass), &info,
			    &share, err, sizeof err) == 0) {
				for (i = 0; i < nep; i++) {
					vault_release_ctx c;
					vault_partial part;

					vault_release_ctx_init(&c, ep[i].tid, ep[i].tid,
					    ep[i].eid, NULL);
					if (vault_threshold_partial(share, info.index, &c,
					    ep[i].R, &part, err, sizeof err) == 0)
						h_add(&ep[i], info.index, part.P);
				}
				vault_secure_free(share);
			}
			free(pf);
		}
		free(file);
	}
	fclose(f);
}

/* Every 64-hex-digit piece of every hex run that is a group element. */
static void
h_blob(const char *path)
{
	unsigned char *b = NULL, P[32];
	size_t len = 0, i = 0, j, run, off;
	char err[256];

	if (util_read_file(path, (size_t)1 << 30, &b, &len, err, sizeof err) != 0)
		return;
	while (i < len) {
		if (!isxdigit(b[i])) {
			i++;
			continue;
		}
		for (run = 0; i + run < len && isxdigit(b[i + run]); run++)
			;
		for (off = 0; off + 64 <= run; off += 2) {
			if (util_unhex(P, 32, (const char *)b + i + off, 64) != 0 ||
			    crypto_core_ristretto255_is_valid_point(P) != 1)
				continue;
			for (j = 0; j < nep; j++)
				h_try(&ep[j], P);
			if (run == 64)
				break;
		}
		i += run;
	}
	free(b);
}

int
main(int argc, char **argv)
{
	const char *epochs = NULL, *partials = NULL, *shares = NULL;
	unsigned sel[H_MAX_IDX];
	long readable = 0;
	size_t i, opened = 0;
	int a;

	if (sodium_init() < 0)
		return 1;
	for (a = 1; a < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
		if (a + 1 >= argc)
			return 2;
		if (strcmp(argv[a], "--epochs") == 0)
			epochs = argv[a + 1];
		else if (strcmp(argv[a], "--partials") == 0)
			partials = argv[a + 1];
		else if (strcmp(argv[a], "--shares") == 0)
			shares = argv[a + 1];
		else
			return 2;
	}
	if (epochs == NULL || h_load_epochs(epochs) != 0) {
		fprintf(stderr, "harvest: --epochs FILE is required\n");
		return 2;
	}
	if (partials != NULL)
		h_load_partials(partials);
	if (shares != NULL)
		h_load_shares(shares);
	for (i = 0; i < nep; i++)
		h_combos(&ep[i], 1, 0, sel);
	for (; a < argc; a++)
		h_blob(argv[a]);
	for (i = 0; i < nep; i++)
		if (ep[i].opened) {
			opened++;
			readable += ep[i].records;
		}
	printf("harvest: %zu epochs opened, %ld records readable, %llu "
	    "combinations tried over %zu epochs\n", opened, readable, tried, nep);
	free(ep);
	return 0;
}
