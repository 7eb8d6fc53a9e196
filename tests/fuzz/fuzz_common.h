/* tests/fuzz/fuzz_common.h — helpers shared by the libFuzzer targets
 * (header only: run.sh compiles each tests/fuzz/fuzz_*.c on its own).
 *
 * fz_deterministic_rng(): replaces libsodium's randombytes with a fixed
 * stream before vault_init(), so a target's fixture (tenant keys, epoch
 * key, proofs) is the same in every run and the committed seeds, written
 * by that same fixture, stay valid.  For fuzzing only: never outside
 * tests/fuzz/.
 *
 * fz_seed(): with FUZZ_WRITE_SEEDS=DIR in the environment, targets write
 * their seed corpus into DIR at start-up and exit (tests/fuzz/seeds.sh).
 */
#ifndef COFFER_TESTS_FUZZ_COMMON_H
#define COFFER_TESTS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static uint64_t fz_rng_ctr;

static void
fz_rng_buf(void *buf, size_t n)
{
	static const unsigned char key[crypto_generichash_KEYBYTES] =
	    "coffer fuzz: fixed, not secret";
	unsigned char seed[randombytes_SEEDBYTES];
	uint64_t c = fz_rng_ctr++;

	crypto_generichash(seed, sizeof(seed), (const unsigned char *)&c,
	    sizeof(c), key, sizeof(key));
	randombytes_buf_deterministic(buf, n, seed);
}

static uint32_t
fz_rng_random(void)
{
	uint32_t v;

	fz_rng_buf(&v, sizeof(v));
	return v;
}

static const char *
fz_rng_name(void)
{
	return "coffer-fuzz-fixed";
}

static __attribute__((unused)) void
fz_deterministic_rng(void)
{
	static struct randombytes_implementation impl = {
		fz_rng_name, fz_rng_random, NULL, NULL, fz_rng_buf, NULL
	};

	if (randombytes_set_implementation(&impl) != 0)
		abort();
}

/* Write one seed file DIR/name when FUZZ_WRITE_SEEDS=DIR is set. */
static __attribute__((unused)) void
fz_seed(const char *name, const void *data, size_t len)
{
	const char *dir = getenv("FUZZ_WRITE_SEEDS");
	char path[512];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0) {
		fprintf(stderr, "fuzz: cannot write seed %s\n", path);
		exit(1);
	}
}

/* A refusal's message: present and printable, or the target aborts. */
static __attribute__((unused)) void
fz_msg(const char *s)
{
	if (s[0] == '\0')
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

/* After writing seeds: stop before libFuzzer starts. */
static __attribute__((unused)) void
fz_seeds_done(void)
{
	if (getenv("FUZZ_WRITE_SEEDS") != NULL)
		exit(0);
}

#endif
