/* tests/fuzz/fuzz_reshare.c — libFuzzer target for what a re-share hands
 * a custodian from the API (vault/reshare.c) and for tenant pin files
 * (common/pins.c), against one fixed 2-of-3 tenant re-shared to 3-of-4
 * (deterministic, so the committed seeds hold genuine dealings).
 *
 * The first input byte picks the mode (mod 4):
 *   0: dealer byte, recipient byte, then a sealed sub-share: opened with
 *      that recipient's key and checked against the dealer's genuine
 *      commitments;
 *   1: dealer byte, then K' commitments: checked as a dealing, hashed
 *      into a transcript, and combined with the other genuine dealings;
 *   2: a tenant pin file's text: parsed, and what parses re-encodes to
 *      text that parses to the same pin;
 *   3: up to four (dealer byte, 32-byte sub-share) pairs combined.
 *
 * Beyond "does not crash": a sub-share passes its check only when it is
 * the dealer's genuine one for that recipient (whatever box carried it);
 * a dealing passes only with E_0 equal to the dealer's public share; new
 * commitments only ever come out with C'_0 = T, and equal to the genuine
 * ones whenever the dealings are genuine.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pins.h"
#include "tests/fuzz/fuzz_common.h"
#include "vault/mem.h"
#include "vault/reshare.h"
#include "vault/tenant.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_K 2U
#define FZ_N 3U
#define FZ_K2 3U
#define FZ_N2 4U
#define FZ_EB (FZ_K2 * VAULT_POINT_BYTES)

static struct {
	vault_reshare_ctx ctx;
	unsigned char T[VAULT_POINT_BYTES];
	unsigned char V[FZ_N + 1][VAULT_POINT_BYTES];
	unsigned char E[FZ_N + 1][FZ_EB];
	unsigned char sub[FZ_N + 1][FZ_N2 + 1][VAULT_SCALAR_BYTES];
	unsigned char sealed[FZ_N + 1][FZ_N2 + 1][VAULT_RESHARE_SEALED_BYTES];
	unsigned char pk[FZ_N2 + 1][32], sk[FZ_N2 + 1][32];
	unsigned char C[FZ_EB];          /* genuine new commitments over {1,2,3} */
	char *pin;
	size_t pin_len;
} fx;

static void
fz_write(const char *dir, const char *name, const void *a, size_t alen)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	if (alen > 0 && fwrite(a, 1, alen, f) != alen)
		abort();
	fclose(f);
}

static void
fz_seeds(const char *dir)
{
	unsigned char b[2 + FZ_EB + VAULT_RESHARE_SEALED_BYTES];

	b[0] = 0; b[1] = 1; b[2] = 2;
	memcpy(b + 3, fx.sealed[1][2], VAULT_RESHARE_SEALED_BYTES);
	fz_write(dir, "sealed-1-2", b, 3 + VAULT_RESHARE_SEALED_BYTES);
	b[2] = 3;
	fz_write(dir, "sealed-1-3-misplaced", b, 3 + VAULT_RESHARE_SEALED_BYTES);
	b[0] = 1; b[1] = 2;
	memcpy(b + 2, fx.E[2], FZ_EB);
	fz_write(dir, "dealing-2", b, 2 + FZ_EB);
	b[1] = 3;
	fz_write(dir, "dealing-2-as-3", b, 2 + FZ_EB);
	{
		char *t = malloc(fx.pin_len + 1);

		if (t == NULL)
			abort();
		t[0] = 2;
		memcpy(t + 1, fx.pin, fx.pin_len);
		fz_write(dir, "pin", t, fx.pin_len + 1);
		free(t);
	}
	b[0] = 3; b[1] = 1;
	memcpy(b + 2, fx.sub[1][1], 32);
	b[34] = 3;
	memcpy(b + 35, fx.sub[3][1], 32);
	fz_write(dir, "combine-13", b, 67);
	exit(0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	vault_tenant_keys *keys = NULL;
	unsigned char *sub;
	unsigned int all[3] = { 1, 2, 3 };
	pins_tenant *pin;
	char err[256];
	unsigned i, j;
	const char *seeds;

	(void)argc;
	(void)argv;
	fz_deterministic_rng();
	if (vault_init() != 0 ||
	    vault_tenant_generate(&keys, FZ_K, FZ_N, err, sizeof(err)) != 0)
		abort();
	vault_tenant_keys_public_key(keys, fx.T);
	randombytes_buf(fx.ctx.tenant_id, sizeof(fx.ctx.tenant_id));
	randombytes_buf(fx.ctx.reshare_id, sizeof(fx.ctx.reshare_id));
	fx.ctx.from_generation = 1;
	fx.ctx.k_new = FZ_K2;
	fx.ctx.n_new = FZ_N2;
	for (j = 1; j <= FZ_N2; j++)
		crypto_box_keypair(fx.pk[j], fx.sk[j]);
	if ((sub = vault_secure_alloc(FZ_N2 * VAULT_SCALAR_BYTES)) == NULL)
		abort();
	for (i = 1; i <= FZ_N; i++) {
		if (vault_tenant_keys_public_share(keys, i, fx.V[i]) != 0 ||
		    vault_reshare_deal(&fx.ctx, vault_tenant_keys_share(keys, i),
		    fx.E[i], FZ_EB, sub, FZ_N2 * VAULT_SCALAR_BYTES, err,
		    sizeof(err)) != 0)
			abort();
		for (j = 1; j <= FZ_N2; j++) {
			memcpy(fx.sub[i][j], sub + (j - 1) * VAULT_SCALAR_BYTES, 32);
			if (vault_reshare_seal(&fx.ctx, i, j, fx.pk[j], fx.sub[i][j],
			    fx.sealed[i][j], err, sizeof(err)) != 0)
				abort();
		}
	}
	vault_secure_free(sub);
	if (vault_reshare_commitments(&fx.ctx, all, 3, fx.E[1], fx.T, fx.C,
	    sizeof(fx.C), err, sizeof(err)) != 0)
		abort();
	if ((pin = calloc(1, sizeof(*pin))) == NULL)
		abort();
	memcpy(pin->tenant_id, fx.ctx.tenant_id, 16);
	snprintf(pin->name, sizeof(pin->name), "acme");
	pin->generation = 2;
	pin->k = FZ_K2;
	pin->n = FZ_N2;
	memcpy(pin->public_key, fx.T, 32);
	memcpy(pin->commitments, fx.C, sizeof(fx.C));
	for (j = 1; j <= FZ_N2; j++)
		if (vault_tenant_public_share(fx.C, sizeof(fx.C), j,
		    pin->public_shares + (j - 1) * 32, err, sizeof(err)) != 0)
			abort();
	if (pins_tenant_encode(pin, &fx.pin, &fx.pin_len, err, sizeof(err)) != 0)
		abort();
	free(pin);
	vault_tenant_keys_free(&keys);
	if ((seeds = getenv("FUZZ_WRITE_SEEDS")) != NULL)
		fz_seeds(seeds);
	return 0;
}

static unsigned
fz_dealer(uint8_t b)
{
	return 1U + b % FZ_N;
}

static void
fz_sealed(const uint8_t *d, size_t n)
{
	unsigned char s[32];
	unsigned dealer, recipient;
	char err[256];

	if (n < 2)
		return;
	dealer = fz_dealer(d[0]);
	recipient = 1U + d[1] % FZ_N2;
	if (vault_reshare_open(&fx.ctx, dealer, recipient, fx.pk[recipient],
	    fx.sk[recipient], d + 2, n - 2, s, err, sizeof(err)) != 0)
		return;
	if (vault_reshare_check_subshare(&fx.ctx, fx.E[dealer], FZ_EB,
	    fx.V[dealer], recipient, s, err, sizeof(err)) == 0 &&
	    memcmp(s, fx.sub[dealer][recipient], 32) != 0)
		abort();    /* a sub-share that is not the dealer's passed */
}

static void
fz_dealing(const uint8_t *d, size_t n)
{
	unsigned char E[FZ_N][FZ_EB], C[FZ_EB], dig[32];
	unsigned int all[3] = { 1, 2, 3 };
	unsigned dealer, i;
	char err[256];
	int ok, rc;

	if (n < 1 + FZ_EB)
		return;
	dealer = fz_dealer(d[0]);
	ok = vault_reshare_check_dealing(&fx.ctx, d + 1, FZ_EB, fx.V[dealer],
	    err, sizeof(err)) == 0;
	if (ok && memcmp(d + 1, fx.V[dealer], 32) != 0)
		abort();
	(void)vault_reshare_check_dealing(&fx.ctx, d + 1, n - 1, fx.V[dealer],
	    err, sizeof(err));
	for (i = 0; i < FZ_N; i++)
		memcpy(E[i], fx.E[i + 1], FZ_EB);
	memcpy(E[dealer - 1], d + 1, FZ_EB);
	if (vault_reshare_transcript(&fx.ctx, fx.pk[1], all, 3, E[0], dig, err,
	    sizeof(err)) != 0)
		abort();
	rc = vault_reshare_commitments(&fx.ctx, all, 3, E[0], fx.T, C, sizeof(C),
	    err, sizeof(err));
	if (rc == 0 && memcmp(C, fx.T, 32) != 0)
		abort();
	if (rc == 0 && memcmp(d + 1, fx.E[dealer], FZ_EB) == 0 &&
	    memcmp(C, fx.C, sizeof(C)) != 0)
		abort();
}

static void
fz_pin(const uint8_t *d, size_t n)
{
	pins_tenant *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char err[256], *text = NULL;
	size_t len = 0;

	if (a == NULL || b == NULL)
		abort();
	if (pins_tenant_parse((const char *)d, n, a, err, sizeof(err)) == 0) {
		if (pins_tenant_encode(a, &text, &len, err, sizeof(err)) != 0 ||
		    pins_tenant_parse(text, len, b, err, sizeof(err)) != 0 ||
		    memcmp(a, b, sizeof(*a)) != 0)
			abort();
		free(text);
	}
	free(a);
	free(b);
}

static void
fz_combine(const uint8_t *d, size_t n)
{
	unsigned int dealers[4];
	unsigned char subs[4 * 32], out[32];
	size_t q = 0;
	char err[256];

	while (n >= 33 && q < 4) {
		dealers[q] = d[0];
		memcpy(subs + q * 32, d + 1, 32);
		d += 33;
		n -= 33;
		q++;
	}
	(void)vault_reshare_combine(dealers, q, subs, out, err, sizeof(err));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fz_sealed(data + 1, size - 1);
		break;
	case 1:
		fz_dealing(data + 1, size - 1);
		break;
	case 2:
		fz_pin(data + 1, size - 1);
		break;
	default:
		fz_combine(data + 1, size - 1);
		break;
	}
	return 0;
}
