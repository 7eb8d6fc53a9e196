/* tests/unit/test_pins.c — tenant pin and node pins files (common/pins.h)
 * and the signed epoch statement (vault/chain.h, issue 12): round trips,
 * every malformed or tampered shape refused, the statement's bytes
 * recomputed from their documentation, and each field bound by the
 * signature (another R, another tenant key, another wrapped key, another
 * node: all refused).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/pins.h"
#include "vault/chain.h"
#include "vault/mem.h"

static pins_tenant *
sample_pin(void)
{
	pins_tenant *p = calloc(1, sizeof(*p));
	unsigned i;

	assert_non_null(p);
	for (i = 0; i < 16; i++)
		p->tenant_id[i] = (unsigned char)(0x10 + i);
	p->tenant_id[6] = 0x40;
	p->tenant_id[8] = 0x80;
	snprintf(p->name, sizeof(p->name), "acme");
	p->k = 2;
	p->generation = 1;
	p->n = 3;
	randombytes_buf(p->public_key, sizeof(p->public_key));
	randombytes_buf(p->commitments, 2 * PINS_POINT_BYTES);
	randombytes_buf(p->public_shares, 3 * PINS_POINT_BYTES);
	return p;
}

static void
test_tenant_pin_roundtrip(void **state)
{
	pins_tenant *p = sample_pin(), *q = calloc(1, sizeof(*q));
	char *text = NULL, err[256];
	size_t len = 0;

	(void)state;
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(strncmp(text, "coffer-tenant-pin v2\ntenant_id ", 31), 0);
	assert_non_null(strstr(text, "\ntenant acme\ngeneration 1\nthreshold 2\n"));
	assert_int_equal(pins_tenant_parse(text, len, q, err, sizeof(err)), 0);
	assert_memory_equal(p, q, sizeof(*p));
	free(text);
	free(p);
	free(q);
}

static void
test_tenant_pin_refusals(void **state)
{
	pins_tenant *p = sample_pin(), *q = calloc(1, sizeof(*q));
	char *text = NULL, *bad, err[256];
	size_t len = 0;
	char *at;

	(void)state;
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), 0);
	bad = malloc(len + 64);
	assert_non_null(bad);

	/* one hex digit of T changed: the checksum catches it */
	memcpy(bad, text, len);
	at = strstr(bad, "public_key ") + 11;
	*at = *at == '0' ? '1' : '0';
	assert_int_equal(pins_tenant_parse(bad, len, q, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "checksum mismatch"));

	/* truncated (the checksum line gone) */
	at = strstr(text, "sha256 ");
	assert_int_equal(pins_tenant_parse(text, (size_t)(at - text), q, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed tenant pin file"));

	/* a line appended after the checksum */
	memcpy(bad, text, len);
	memcpy(bad + len, "extra\n", 6);
	assert_int_equal(pins_tenant_parse(bad, len + 6, q, err, sizeof(err)), -1);

	/* another magic */
	memcpy(bad, text, len);
	bad[19] = '3';
	assert_int_equal(pins_tenant_parse(bad, len, q, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a tenant pin file"));

	/* a commitment line missing (the threshold says 2) */
	{
		char *c1 = strstr(text, "commitment "), *c2 = strstr(c1 + 1, "commitment ");
		size_t off = (size_t)(c2 - text), l2 = (size_t)(strchr(c2, '\n') + 1 - c2);

		memcpy(bad, text, off);
		memcpy(bad + off, c2 + l2, len - off - l2);
		assert_int_equal(pins_tenant_parse(bad, len - l2, q, err, sizeof(err)), -1);
	}
	free(bad);
	free(text);
	free(p);
	free(q);
}

/* A v1 pin (before share generations) reads as generation 1; a v2 pin
 * without its generation line, or with 0, is malformed. */
static void
test_tenant_pin_v1(void **state)
{
	pins_tenant *p = sample_pin(), *q = calloc(1, sizeof(*q));
	char *text = NULL, *v1, *gen, *sum, err[256], hex[65];
	unsigned char h[crypto_hash_sha256_BYTES];
	size_t len = 0, glen, vlen;

	(void)state;
	p->generation = 7;
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), 0);
	v1 = malloc(len + 1);
	assert_non_null(v1);
	gen = strstr(text, "generation 7\n");
	assert_non_null(gen);
	glen = strlen("generation 7\n");
	memcpy(v1, text, (size_t)(gen - text));
	sum = strstr(text, "sha256 ");
	memcpy(v1 + (gen - text), gen + glen, (size_t)(sum - gen) - glen);
	vlen = (size_t)(sum - text) - glen;
	v1[19] = '1';
	crypto_hash_sha256(h, (const unsigned char *)v1, vlen);
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	vlen += (size_t)snprintf(v1 + vlen, len + 1 - vlen, "sha256 %s\n", hex);
	assert_int_equal(pins_tenant_parse(v1, vlen, q, err, sizeof(err)), 0);
	assert_int_equal(q->generation, 1);
	assert_memory_equal(q->public_shares, p->public_shares, 3 * PINS_POINT_BYTES);
	/* the same text announced as v2: no generation line */
	v1[19] = '2';
	assert_int_equal(pins_tenant_parse(v1, vlen, q, err, sizeof(err)), -1);
	assert_string_equal(err, "malformed tenant pin file (near \"threshold\")");
	p->generation = 0;
	free(text);
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "pin: generation must be at least 1");
	free(v1);
	free(p);
	free(q);
}

static void
test_tenant_pin_load_name(void **state)
{
	pins_tenant *p = sample_pin(), *q = calloc(1, sizeof(*q));
	char dir[] = "/tmp/test_pins.XXXXXX", path[256], *text = NULL, err[512];
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/other.pin", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	/* the file of tenant "other" pins tenant "acme": refused */
	assert_int_equal(pins_tenant_load(dir, "other", q, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pins another tenant"));
	/* no pin at all */
	assert_int_equal(pins_tenant_load(dir, "acme", q, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tenant acme: no usable pin file"));
	unlink(path);
	rmdir(dir);
	free(text);
	free(p);
	free(q);
}

static void
test_node_pins(void **state)
{
	char dir[] = "/tmp/test_pins.XXXXXX", path[256], err[512];
	unsigned char a[32], b[32];
	pins_nodes *n = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nodes.pins", dir);
	randombytes_buf(a, sizeof(a));
	randombytes_buf(b, sizeof(b));
	assert_int_equal(pins_nodes_append(path, "gw-1", a, err, sizeof(err)), 0);
	assert_int_equal(pins_nodes_append(path, "api-1", b, err, sizeof(err)), 0);
	/* the same pin again: nothing to do; another key: refused */
	assert_int_equal(pins_nodes_append(path, "gw-1", a, err, sizeof(err)), 0);
	assert_int_equal(pins_nodes_append(path, "gw-1", b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "node gw-1 is already pinned with another key"));
	assert_int_equal(pins_nodes_load(path, &n, err, sizeof(err)), 0);
	assert_int_equal(n->n, 2);
	assert_memory_equal(pins_nodes_find(n, "gw-1"), a, 32);
	assert_memory_equal(pins_nodes_find(n, "api-1"), b, 32);
	assert_null(pins_nodes_find(n, "gw-2"));
	pins_nodes_free(&n);
	assert_null(n);

	/* malformed lines are refused with their line number */
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("# comment\n\nnode gw-3 abcd\n", f);
	fclose(f);
	assert_int_equal(pins_nodes_load(path, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":5: node gw-3: the key is not 64 hex digits"));
	unlink(path);
	rmdir(dir);
}

static void
stmt_sample(vault_epoch_stmt *e)
{
	memset(e, 0, sizeof(*e));
	randombytes_buf(e->tenant_id, sizeof(e->tenant_id));
	randombytes_buf(e->stream_id, sizeof(e->stream_id));
	randombytes_buf(e->epoch_id, sizeof(e->epoch_id));
	randombytes_buf(e->node_id, sizeof(e->node_id));
	randombytes_buf(e->R, sizeof(e->R));
	randombytes_buf(e->tenant_pk, sizeof(e->tenant_pk));
	randombytes_buf(e->wrapped_hash, sizeof(e->wrapped_hash));
	e->signed_at = 1796414098766091LL;
}

static void
test_epoch_stmt_encoding(void **state)
{
	vault_epoch_stmt e;
	unsigned char msg[VAULT_EPOCH_MSG_BYTES], want[VAULT_EPOCH_MSG_BYTES], *p = want;
	unsigned char w[72], h[32];
	crypto_generichash_state st;
	int i;

	(void)state;
	stmt_sample(&e);
	vault_epoch_stmt_encode(&e, msg);
	memcpy(p, "coffer-epoch-v1", 15); p += 15;
	*p++ = 0;
	memcpy(p, e.tenant_id, 16); p += 16;
	memcpy(p, e.stream_id, 16); p += 16;
	memcpy(p, e.epoch_id, 16); p += 16;
	memcpy(p, e.node_id, 16); p += 16;
	memcpy(p, e.R, 32); p += 32;
	memcpy(p, e.tenant_pk, 32); p += 32;
	memcpy(p, e.wrapped_hash, 32); p += 32;
	for (i = 7; i >= 0; i--)
		*p++ = (unsigned char)((uint64_t)e.signed_at >> (8 * i));
	assert_int_equal((size_t)(p - want), VAULT_EPOCH_MSG_BYTES);
	assert_memory_equal(msg, want, sizeof(msg));

	randombytes_buf(w, sizeof(w));
	vault_wrapped_hash(w, sizeof(w), h);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)"coffer-wrapped-v1", 17);
	crypto_generichash_update(&st, w, sizeof(w));
	crypto_generichash_final(&st, want, 32);
	assert_memory_equal(h, want, 32);
}

static void
test_epoch_stmt_sign_verify(void **state)
{
	unsigned char pk[VAULT_SIGN_PK_BYTES], pk2[VAULT_SIGN_PK_BYTES], *sk = NULL,
	    *sk2 = NULL, sig[VAULT_SIG_BYTES];
	vault_epoch_stmt e, f;

	(void)state;
	assert_int_equal(vault_sign_keypair(pk, &sk), 0);
	assert_int_equal(vault_sign_keypair(pk2, &sk2), 0);
	stmt_sample(&e);
	assert_int_equal(vault_epoch_stmt_sign(sk, &e, sig), 0);
	assert_int_equal(vault_epoch_stmt_verify(pk, &e, sig), 0);
	/* another node's key */
	assert_int_equal(vault_epoch_stmt_verify(pk2, &e, sig), -1);
	/* every field is bound */
#define ALTER(field) do { f = e; f.field[3] ^= 1; \
	assert_int_equal(vault_epoch_stmt_verify(pk, &f, sig), -1); } while (0)
	ALTER(tenant_id);
	ALTER(stream_id);
	ALTER(epoch_id);
	ALTER(node_id);
	ALTER(R);
	ALTER(tenant_pk);
	ALTER(wrapped_hash);
#undef ALTER
	f = e;
	f.signed_at++;
	assert_int_equal(vault_epoch_stmt_verify(pk, &f, sig), -1);
	sig[10] ^= 1;
	assert_int_equal(vault_epoch_stmt_verify(pk, &e, sig), -1);
	vault_sign_key_free(&sk);
	vault_sign_key_free(&sk2);
}

/* A rotation's pin: wraps_from and previous_key round-trip, choose the
 * wrap key around the instant, and are refused when unparsable or when
 * previous_key is T itself. */
static void
test_tenant_pin_rotation(void **state)
{
	pins_tenant *p = sample_pin(), *q = calloc(1, sizeof(*q));
	char *text = NULL, *bad, *at, err[256], hexpk[65];
	size_t len = 0;
	unsigned i;

	(void)state;
	assert_non_null(q);
	p->generation = 2;
	p->has_rotation = 1;
	p->wraps_from_us = 1796539200LL * 1000000;   /* 2026-12-06T06:40:00Z */
	randombytes_buf(p->previous_key, sizeof(p->previous_key));
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), 0);
	assert_non_null(strstr(text, "\ngeneration 2\nwraps_from 2026-12-06T06:40:00Z\n"
	    "previous_key "));
	assert_int_equal(pins_tenant_parse(text, len, q, err, sizeof(err)), 0);
	assert_memory_equal(p, q, sizeof(*p));
	assert_ptr_equal(pins_tenant_wrap_key(q, q->wraps_from_us - 1), q->previous_key);
	assert_ptr_equal(pins_tenant_wrap_key(q, q->wraps_from_us), q->public_key);
	q->has_rotation = 0;
	assert_ptr_equal(pins_tenant_wrap_key(q, 0), q->public_key);

	bad = malloc(len + 1);
	assert_non_null(bad);
	/* wraps_from unparsable */
	memcpy(bad, text, len);
	at = strstr(bad, "wraps_from ") + 11;
	memcpy(at, "2026-13", 7);
	assert_int_equal(pins_tenant_parse(bad, len, q, err, sizeof(err)), -1);
	assert_string_equal(err, "wraps_from is not a UTC time YYYY-MM-DDTHH:MM:SSZ");
	memcpy(bad, text, len);
	at = strstr(bad, "wraps_from ") + 11;
	at[19] = '+';
	assert_int_equal(pins_tenant_parse(bad, len, q, err, sizeof(err)), -1);
	assert_string_equal(err, "wraps_from is not a UTC time YYYY-MM-DDTHH:MM:SSZ");

	/* previous_key equal to public_key */
	memcpy(bad, text, len);
	at = strstr(bad, "previous_key ") + 13;
	for (i = 0; i < 32; i++)
		snprintf(hexpk + 2 * i, 3, "%02x", p->public_key[i]);
	memcpy(at, hexpk, 64);
	assert_int_equal(pins_tenant_parse(bad, len, q, err, sizeof(err)), -1);
	assert_string_equal(err, "previous_key equals public_key (a rotation needs a new key)");
	memcpy(p->previous_key, p->public_key, 32);
	free(text);
	text = NULL;
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "pin: previous_key equals public_key");

	/* wraps_from without previous_key */
	randombytes_buf(p->previous_key, sizeof(p->previous_key));
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), 0);
	{
		char *pk = strstr(text, "previous_key "), *nl = strchr(pk, '\n') + 1;
		size_t off = (size_t)(pk - text), l = (size_t)(nl - pk);

		memcpy(bad, text, off);
		memcpy(bad + off, nl, len - off - l);
		assert_int_equal(pins_tenant_parse(bad, len - l, q, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "malformed tenant pin file"));
	}
	free(bad);
	free(text);
	free(p);
	free(q);
}

/* pins_tenant_load_generation: <tenant>.pin when its generation matches,
 * else <tenant>.g<G>.pin. */
static void
test_tenant_pin_load_generation(void **state)
{
	pins_tenant *p = sample_pin(), *q = calloc(1, sizeof(*q));
	char dir[] = "/tmp/coffer-pins-XXXXXX", path[256], *text = NULL, err[512];
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(q);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/acme.g1.pin", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	free(text);
	p->generation = 2;
	p->has_rotation = 1;
	p->wraps_from_us = 1796539200LL * 1000000;
	memcpy(p->previous_key, p->public_key, 32);
	randombytes_buf(p->public_key, sizeof(p->public_key));
	assert_int_equal(pins_tenant_encode(p, &text, &len, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/acme.pin", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	free(text);

	assert_int_equal(pins_tenant_load_generation(dir, "acme", 2, q, err, sizeof(err)), 0);
	assert_int_equal(q->generation, 2);
	assert_int_equal(q->has_rotation, 1);
	assert_int_equal(pins_tenant_load_generation(dir, "acme", 1, q, err, sizeof(err)), 0);
	assert_int_equal(q->generation, 1);
	assert_memory_equal(q->public_key, p->previous_key, 32);
	assert_int_equal(pins_tenant_load_generation(dir, "acme", 3, q, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tenant acme: no pin of generation 3"));
	snprintf(path, sizeof(path), "%s/acme.pin", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/acme.g1.pin", dir);
	unlink(path);
	rmdir(dir);
	free(p);
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tenant_pin_roundtrip),
		cmocka_unit_test(test_tenant_pin_refusals),
		cmocka_unit_test(test_tenant_pin_v1),
		cmocka_unit_test(test_tenant_pin_rotation),
		cmocka_unit_test(test_tenant_pin_load_generation),
		cmocka_unit_test(test_tenant_pin_load_name),
		cmocka_unit_test(test_node_pins),
		cmocka_unit_test(test_epoch_stmt_encoding),
		cmocka_unit_test(test_epoch_stmt_sign_verify),
	};

	if (vault_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
