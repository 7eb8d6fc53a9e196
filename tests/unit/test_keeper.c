/* tests/unit/test_keeper.c — api/keeper.c: what coffer-api's key process
 * accepts from the front, over a real socketpair.
 *
 * Every request type's size rule refuses with its exact message, and so
 * does a type that is not a keeper request; a KTOKENS whose inner lengths
 * do not add up (a value past the end, bytes after the last value, no
 * count, a tenant that is not a name) ends the keeper before any value is
 * hashed; a valid KTOKENS answers the same tokens vault computes with the
 * tenant's key, and a refused value answers its index and vault's reason,
 * never the value; a tenant whose key file is missing answers
 * KEEPER_KEY_UNAVAILABLE with the operator's action (no path), and once
 * the file is there the next request uses it; KBLIND with a count that
 * disagrees with its size is a protocol error, and one for a matter
 * without a seed answers "missing";
 * KAUDIT_SIGN without a signing key answers a fixed refusal;
 * the participants as entered (api/blind.h) seal and open under the
 * matter's seed, and refuse to open under another matter, tenant or seed
 * or with any byte altered or cut; the keeper's KENTERED_SEAL/OPEN answer
 * "no seed" (1) for a missing seed or another generation, and "does not
 * open" (KEEPER_ENTERED_SHUT) for one sealed under an earlier seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/blind.h"
#include "api/config.h"
#include "api/keeper.h"
#include "common/imsg.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/mem.h"

typedef struct fx {
	api_config     cfg;
	struct keeper *k;
	char           dir[64];
	unsigned char  bik[VAULT_BIK_BYTES];
	int            sv[2];
} fx;

/* <dir>/<tenant>.bik holding f->bik, mode 0600 */
static void
write_bik(const fx *f, const char *tenant)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.bik", f->dir, tenant);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, f->bik, sizeof(f->bik)),
	    (ssize_t)sizeof(f->bik));
	close(fd);
}

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char err[256];
	size_t i;

	assert_non_null(f);
	assert_int_equal(vault_init(), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_keeper.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (i = 0; i < sizeof(f->bik); i++)
		f->bik[i] = (unsigned char)(i * 7 + 3);
	write_bik(f, "acme");
	api_config_defaults(&f->cfg);
	snprintf(f->cfg.keys_dir, sizeof(f->cfg.keys_dir), "%s", f->dir);
	snprintf(f->cfg.productions_dir, sizeof(f->cfg.productions_dir), "%s",
	    f->dir);
	snprintf(f->cfg.blind_dir, sizeof(f->cfg.blind_dir), "%s", f->dir);
	assert_int_equal(keeper_new_bare(&f->k, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	char cmd[128];

	keeper_free_bare(&f->k);
	close(f->sv[0]);
	close(f->sv[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The answer the keeper wrote: status, data into buf (cap), its length. */
static int32_t
answer(fx *f, uint64_t id, unsigned char *buf, size_t cap, size_t *len)
{
	imsg_hdr h;
	int32_t st;

	assert_int_equal(imsg_read_hdr(f->sv[1], &h), 1);
	assert_int_equal(h.type, IMSG_KREPLY);
	assert_true(h.id == id);
	assert_true(h.len >= 4 && h.len - 4 <= cap);
	assert_int_equal(imsg_read(f->sv[1], &st, 4), 0);
	*len = h.len - 4;
	if (*len > 0)
		assert_int_equal(imsg_read(f->sv[1], buf, *len), 0);
	return st;
}

static size_t
put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return 4;
}

/* KTOKENS of values (kind 0) for tenant */
static size_t
tokens_req(unsigned char *p, const char *tenant, const char *const *v,
    size_t n)
{
	size_t off = 0, i;

	off += put32(p + off, 0);
	off += put32(p + off, (uint32_t)n);
	off += put32(p + off, (uint32_t)strlen(tenant));
	memcpy(p + off, tenant, strlen(tenant));
	off += strlen(tenant);
	for (i = 0; i < n; i++) {
		off += put32(p + off, (uint32_t)strlen(v[i]));
		memcpy(p + off, v[i], strlen(v[i]));
		off += strlen(v[i]);
	}
	return off;
}

static void
test_sizes(void **state)
{
	char err[160];

	(void)state;
	assert_int_equal(keeper_expect(IMSG_KSEED_NEW, 16, err, sizeof(err)), 0);
	assert_int_equal(keeper_expect(IMSG_KSEED_NEW, 15, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "KSEED_NEW of 15 bytes, want 16");
	assert_int_equal(keeper_expect(IMSG_KSEED_HAS, 16, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "KSEED_HAS of 16 bytes, want 32");
	assert_int_equal(keeper_expect(IMSG_KAUDIT_SIGN, 105, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "KAUDIT_SIGN of 105 bytes, want 104");
	assert_int_equal(keeper_expect(IMSG_KHEAD_SIGN, 0, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "KHEAD_SIGN of 0 bytes, want 56");
	assert_int_equal(keeper_expect(IMSG_KBUILD, 33, err, sizeof(err)), -1);
	assert_string_equal(err, "KBUILD of 33 bytes, want 32");
	assert_int_equal(keeper_expect(IMSG_KMETRICS, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "KMETRICS of 1 bytes, want 0");
	assert_int_equal(keeper_expect(IMSG_KBLIND, 147, err, sizeof(err)), -1);
	assert_string_equal(err, "KBLIND of 147 bytes, want 148..48000100");
	assert_int_equal(keeper_expect(IMSG_KTOKENS, 12, err, sizeof(err)), -1);
	assert_string_equal(err, "KTOKENS of 12 bytes, want 13..67108864");
	assert_int_equal(keeper_expect(IMSG_KENTERED_SEAL, 48, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "KENTERED_SEAL of 48 bytes, want 49..1048624");
	assert_int_equal(keeper_expect(IMSG_KENTERED_SEAL, 1048625, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "KENTERED_SEAL of 1048625 bytes, want "
	    "49..1048624");
	assert_int_equal(keeper_expect(IMSG_KENTERED_OPEN, 88, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "KENTERED_OPEN of 88 bytes, want 89..1048664");
	assert_int_equal(keeper_expect(IMSG_KENTERED_OPEN, 89, err,
	    sizeof(err)), 0);
	assert_int_equal(keeper_expect(IMSG_SUBMIT, 100, err, sizeof(err)), -1);
	assert_string_equal(err, "message of type SUBMIT (1), not a keeper "
	    "request");
	assert_int_equal(keeper_expect(IMSG_KREPLY, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "message of type KREPLY (40), not a keeper "
	    "request");
}

static void
test_tokens(void **state)
{
	fx *f = *state;
	static const char *const v[] = { "+1 (555) 123-4567", "alice@example.org" };
	unsigned char req[256], buf[256], want[VAULT_TOKEN_BYTES];
	char err[160], why[160];
	size_t n, len, i;

	n = tokens_req(req, "acme", v, 2);
	err[0] = '\0';
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 9, req, n,
	    err, sizeof(err)), 0);
	assert_int_equal(answer(f, 9, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 2 * VAULT_TOKEN_BYTES);
	for (i = 0; i < 2; i++) {
		assert_int_equal(vault_participant_token(f->bik, v[i], strlen(v[i]),
		    want, why, sizeof(why)), 0);
		assert_memory_equal(buf + i * VAULT_TOKEN_BYTES, want,
		    VAULT_TOKEN_BYTES);
	}
}

static void
test_tokens_refused_value(void **state)
{
	fx *f = *state;
	static const char *const v[] = { "bob@example.org", "   " };
	unsigned char req[256], buf[256];
	char err[160];
	uint32_t idx;
	size_t n, len;

	n = tokens_req(req, "acme", v, 2);
	err[0] = '\0';
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 2, req, n,
	    err, sizeof(err)), 0);
	assert_int_equal(answer(f, 2, buf, sizeof(buf), &len), 1);
	assert_true(len > 4);
	memcpy(&idx, buf, 4);
	assert_int_equal(idx, 1);
	buf[len] = '\0';
	assert_string_equal((char *)buf + 4, "empty value");
}

static void
test_tokens_unknown_tenant(void **state)
{
	fx *f = *state;
	static const char *const v[] = { "bob@example.org" };
	unsigned char req[256], buf[256];
	char err[160];
	size_t n, len;

	n = tokens_req(req, "globex", v, 1);
	err[0] = '\0';
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 3, req, n,
	    err, sizeof(err)), 0);
	assert_int_equal(answer(f, 3, buf, sizeof(buf), &len),
	    KEEPER_KEY_UNAVAILABLE);
	buf[len] = '\0';
	/* the operator's action for the client, the file's name, no path */
	assert_string_equal((char *)buf, "the tenant's key file globex.bik is "
	    "missing or unreadable in keys_dir; install it (see cofferctl "
	    "tenant init output)");
	assert_null(strstr((char *)buf, f->dir));

	/* installed later: the next request loads it, no restart */
	write_bik(f, "globex");
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 4, req, n,
	    err, sizeof(err)), 0);
	assert_int_equal(answer(f, 4, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, VAULT_TOKEN_BYTES);
}

static void
test_tokens_malformed(void **state)
{
	fx *f = *state;
	static const char *const v[] = { "bob@example.org" };
	unsigned char req[256];
	char err[160];
	size_t n;

	/* a value longer than what is left */
	n = tokens_req(req, "acme", v, 1);
	put32(req + 16, 200);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 4, req, n,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "KTOKENS: value 0 overruns the message");
	/* bytes after the last value */
	n = tokens_req(req, "acme", v, 1);
	req[n++] = 'x';
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 5, req, n,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "KTOKENS: 1 bytes after the last value");
	/* a count of 0, a kind of 2, a tenant longer than the frame */
	n = tokens_req(req, "acme", v, 1);
	put32(req + 4, 0);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 6, req, n,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "KTOKENS: bad kind, count or tenant");
	n = tokens_req(req, "acme", v, 1);
	put32(req, 2);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 7, req, n,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "KTOKENS: bad kind, count or tenant");
	n = tokens_req(req, "acme", v, 1);
	put32(req + 8, 60);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 8, req, 20,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "KTOKENS: bad kind, count or tenant");
	/* a tenant that is not a name: a path */
	n = tokens_req(req, "../x", v, 1);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KTOKENS, 9, req, n,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "KTOKENS: tenant is not a name");
}

static void
test_blind(void **state)
{
	fx *f = *state;
	unsigned char req[KEEPER_BLIND_FIXED + 96], buf[64];
	char err[160];
	size_t len;

	memset(req, 0x11, sizeof(req));
	/* two epochs announced, one sent */
	put32(req + 96, 2);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KBLIND, 1, req,
	    KEEPER_BLIND_FIXED + 48, err, sizeof(err)), -1);
	assert_string_equal(err, "KBLIND: 2 epochs in 148 bytes");
	/* a matter without a seed on this host */
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KBLIND, 2, req,
	    sizeof(req), err, sizeof(err)), 0);
	assert_int_equal(answer(f, 2, buf, sizeof(buf), &len), 1);
	assert_int_equal(len, 0);
}

static void
test_no_signing_key(void **state)
{
	fx *f = *state;
	unsigned char req[KEEPER_AUDIT_STMT], buf[64];
	char err[160];
	size_t len;

	memset(req, 0, sizeof(req));
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KAUDIT_SIGN, 5, req,
	    sizeof(req), err, sizeof(err)), 0);
	assert_int_equal(answer(f, 5, buf, sizeof(buf), &len), -1);
	buf[len] = '\0';
	assert_string_equal((char *)buf, "no signing key");
}

#define ENTERED "[\"+1 555 010 0011\",\"@kestrel_ops\"]"
#define ENTERED_SHUT "participants as entered: they do not open with " \
	"this seed (another generation, or altered)"

static void
test_entered_crypto(void **state)
{
	unsigned char seed[VAULT_BLIND_SEED_BYTES], seed2[VAULT_BLIND_SEED_BYTES];
	unsigned char tenant[16], matter[16], other[16];
	unsigned char sealed[256], sealed2[256], out[256];
	const size_t n = sizeof(ENTERED) - 1;
	size_t slen, olen, i;
	char err[160];

	(void)state;
	assert_int_equal(vault_init(), 0);
	memset(seed, 0x5a, sizeof(seed));
	memset(seed2, 0x5a, sizeof(seed2));
	seed2[31] ^= 1;
	memset(tenant, 0x01, sizeof(tenant));
	memset(matter, 0x02, sizeof(matter));
	memset(other, 0x03, sizeof(other));
	assert_int_equal(api_blind_entered(1, seed, tenant, matter,
	    (const unsigned char *)ENTERED, n, sealed, sizeof(sealed), &slen, err,
	    sizeof(err)), 0);
	assert_int_equal(slen, n + API_ENTERED_OVERHEAD);
	assert_null(memmem(sealed, slen, "kestrel", 7));
	assert_null(memmem(sealed, slen, "555", 3));
	/* a random nonce: the same list seals differently each time */
	assert_int_equal(api_blind_entered(1, seed, tenant, matter,
	    (const unsigned char *)ENTERED, n, sealed2, sizeof(sealed2), &olen,
	    err, sizeof(err)), 0);
	assert_true(memcmp(sealed, sealed2, slen) != 0);
	/* round trip */
	assert_int_equal(api_blind_entered(0, seed, tenant, matter, sealed,
	    slen, out, sizeof(out), &olen, err, sizeof(err)), 0);
	assert_int_equal(olen, n);
	assert_memory_equal(out, ENTERED, n);
	/* another matter, tenant or seed: refused */
	assert_int_equal(api_blind_entered(0, seed, tenant, other, sealed,
	    slen, out, sizeof(out), &olen, err, sizeof(err)), -1);
	assert_string_equal(err, ENTERED_SHUT);
	assert_int_equal(olen, 0);
	assert_int_equal(api_blind_entered(0, seed, other, matter, sealed,
	    slen, out, sizeof(out), &olen, err, sizeof(err)), -1);
	assert_string_equal(err, ENTERED_SHUT);
	assert_int_equal(api_blind_entered(0, seed2, tenant, matter, sealed,
	    slen, out, sizeof(out), &olen, err, sizeof(err)), -1);
	assert_string_equal(err, ENTERED_SHUT);
	/* any byte flipped (nonce, ciphertext, tag): refused, nothing out */
	for (i = 0; i < slen; i++) {
		sealed[i] ^= 0x80;
		memset(out, 0xee, sizeof(out));
		assert_int_equal(api_blind_entered(0, seed, tenant, matter,
		    sealed, slen, out, sizeof(out), &olen, err, sizeof(err)), -1);
		assert_string_equal(err, ENTERED_SHUT);
		assert_null(memmem(out, sizeof(out), "kestrel", 7));
		sealed[i] ^= 0x80;
	}
	/* cut short: one byte off the tag, then down to the overhead */
	assert_int_equal(api_blind_entered(0, seed, tenant, matter, sealed,
	    slen - 1, out, sizeof(out), &olen, err, sizeof(err)), -1);
	assert_string_equal(err, ENTERED_SHUT);
	assert_int_equal(api_blind_entered(0, seed, tenant, matter, sealed,
	    API_ENTERED_OVERHEAD, out, sizeof(out), &olen, err, sizeof(err)), -1);
	assert_string_equal(err, "participants as entered: 40 sealed bytes, "
	    "want 41..1048616");
	/* sizes: nothing to seal, or no room for it */
	assert_int_equal(api_blind_entered(1, seed, tenant, matter,
	    (const unsigned char *)ENTERED, 0, sealed, sizeof(sealed), &slen, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "participants as entered: 0 bytes, want "
	    "1..1048576");
	assert_int_equal(api_blind_entered(1, seed, tenant, matter,
	    (const unsigned char *)ENTERED, n, sealed, n + API_ENTERED_OVERHEAD -
	    1, &slen, err, sizeof(err)), -1);
	assert_string_equal(err, "participants as entered: no room for the "
	    "sealed list");
	assert_int_equal(api_blind_entered(0, seed, tenant, matter, sealed2,
	    n + API_ENTERED_OVERHEAD, out, n - 1, &olen, err, sizeof(err)), -1);
	assert_string_equal(err, "participants as entered: no room for the "
	    "list");
}

static size_t
entered_req(unsigned char *p, const char *mid, const unsigned char bid[16],
    const unsigned char tenant[16], const void *data, size_t len)
{
	assert_int_equal(util_uuid_parse(p, mid), 0);
	memcpy(p + 16, bid, 16);
	memcpy(p + 32, tenant, 16);
	memcpy(p + KEEPER_ENTERED_FIXED, data, len);
	return KEEPER_ENTERED_FIXED + len;
}

static void
test_entered_keeper(void **state)
{
	fx *f = *state;
	static const char mid[] = "3f1c9a52-7d6e-4b0a-9c1e-2a5b8d7e6f01";
	unsigned char bid[API_BLIND_ID_BYTES], bid2[API_BLIND_ID_BYTES];
	unsigned char tenant[16], req[512], sealed[256], buf[256], *seed = NULL;
	const size_t n = sizeof(ENTERED) - 1;
	size_t len, slen;
	char err[160];

	memset(tenant, 0x44, sizeof(tenant));
	memset(bid2, 0x99, sizeof(bid2));
	/* no seed yet: 1 */
	len = entered_req(req, mid, bid2, tenant, ENTERED, n);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KENTERED_SEAL, 1,
	    req, len, err, sizeof(err)), 0);
	assert_int_equal(answer(f, 1, buf, sizeof(buf), &slen), 1);
	assert_int_equal(slen, 0);

	assert_int_equal(api_blind_create(f->cfg.blind_dir, mid, bid, &seed,
	    err, sizeof(err)), 0);
	vault_secure_free(seed);
	len = entered_req(req, mid, bid, tenant, ENTERED, n);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KENTERED_SEAL, 2,
	    req, len, err, sizeof(err)), 0);
	assert_int_equal(answer(f, 2, sealed, sizeof(sealed), &slen), 0);
	assert_int_equal(slen, n + API_ENTERED_OVERHEAD);
	assert_null(memmem(sealed, slen, "kestrel", 7));
	/* opens with the same seed */
	len = entered_req(req, mid, bid, tenant, sealed, slen);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KENTERED_OPEN, 3,
	    req, len, err, sizeof(err)), 0);
	assert_int_equal(answer(f, 3, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(buf, ENTERED, n);
	/* another tenant in the request: does not open */
	tenant[0] ^= 1;
	len = entered_req(req, mid, bid, tenant, sealed, slen);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KENTERED_OPEN, 4,
	    req, len, err, sizeof(err)), 0);
	assert_int_equal(answer(f, 4, buf, sizeof(buf), &len),
	    KEEPER_ENTERED_SHUT);
	assert_int_equal(len, 0);
	tenant[0] ^= 1;
	/* another generation's blind id: no seed */
	len = entered_req(req, mid, bid2, tenant, sealed, slen);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KENTERED_OPEN, 5,
	    req, len, err, sizeof(err)), 0);
	assert_int_equal(answer(f, 5, buf, sizeof(buf), &len), 1);
	/* the seed lost and renewed: sealed under the old one, shut */
	api_blind_destroy(f->cfg.blind_dir, mid);
	assert_int_equal(api_blind_create(f->cfg.blind_dir, mid, bid2, &seed,
	    err, sizeof(err)), 0);
	vault_secure_free(seed);
	len = entered_req(req, mid, bid2, tenant, sealed, slen);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KENTERED_OPEN, 6,
	    req, len, err, sizeof(err)), 0);
	assert_int_equal(answer(f, 6, buf, sizeof(buf), &len),
	    KEEPER_ENTERED_SHUT);
	/* destroyed: never again */
	api_blind_destroy(f->cfg.blind_dir, mid);
	assert_int_equal(keeper_handle(f->k, f->sv[0], IMSG_KENTERED_OPEN, 7,
	    req, len, err, sizeof(err)), 0);
	assert_int_equal(answer(f, 7, buf, sizeof(buf), &len), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens_refused_value, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tokens_unknown_tenant, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tokens_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_blind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_signing_key, setup,
		    teardown),
		cmocka_unit_test(test_entered_crypto),
		cmocka_unit_test_setup_teardown(test_entered_keeper, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
