/* tests/unit/test_audit.c — the canonical audit-event encoding and hash
 * (common/audit.h): one exact encoding, every field bound, NULL distinct
 * from empty, no two field splits alike, large events off the stack.
 * audit_append against a database is covered by tests/integration
 * (itest_verify, retention.sh, verify_tamper.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/audit.h"
#include "vault/chain.h"
#include "vault/mem.h"

static const unsigned char tid[AUDIT_ID_BYTES] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};

static void
fields_default(audit_field f[AUDIT_NFIELDS])
{
	static const char *const v[AUDIT_NFIELDS] = {
		"cofferctl uid=0 db=postgres", "operator", "retention.set",
		"retention x/*", "ok", NULL, "{\"new\": \"30 days\"}"
	};
	int i;

	for (i = 0; i < AUDIT_NFIELDS; i++) {
		f[i].p = v[i];
		f[i].len = v[i] != NULL ? strlen(v[i]) : 0;
	}
}

static size_t
put_be(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return (size_t)n;
}

/* The encoding written out by hand, hashed with vault_audit_next. */
static void
reference(const unsigned char prev[32], uint64_t no, int64_t at,
    const audit_field f[AUDIT_NFIELDS], unsigned char out[32])
{
	size_t cap = 64, o = 0;
	unsigned char *b;
	int i;

	for (i = 0; i < AUDIT_NFIELDS; i++)
		cap += 5 + f[i].len;
	b = malloc(cap);
	assert_non_null(b);
	b[o++] = 0x01;
	memcpy(b + o, tid, 16);
	o += 16;
	o += put_be(b + o, no, 8);
	o += put_be(b + o, (uint64_t)at, 8);
	for (i = 0; i < AUDIT_NFIELDS; i++) {
		if (f[i].p == NULL) {
			b[o++] = 0;
			continue;
		}
		b[o++] = 1;
		o += put_be(b + o, f[i].len, 4);
		memcpy(b + o, f[i].p, f[i].len);
		o += f[i].len;
	}
	assert_int_equal(vault_audit_next(prev, b, o, out), 0);
	free(b);
}

static void
test_matches_reference(void **state)
{
	unsigned char prev[32] = { 0 }, a[32], b[32];
	audit_field f[AUDIT_NFIELDS];

	(void)state;
	fields_default(f);
	assert_int_equal(audit_event_hash(prev, tid, 1, 1700000000123456LL, f, a), 0);
	reference(prev, 1, 1700000000123456LL, f, b);
	assert_memory_equal(a, b, 32);
	/* deterministic */
	assert_int_equal(audit_event_hash(prev, tid, 1, 1700000000123456LL, f, b), 0);
	assert_memory_equal(a, b, 32);
}

static void
test_every_input_bound(void **state)
{
	unsigned char prev[32] = { 0 }, base[32], h[32], tid2[16];
	audit_field f[AUDIT_NFIELDS];
	int i;

	(void)state;
	fields_default(f);
	assert_int_equal(audit_event_hash(prev, tid, 7, 42, f, base), 0);

	assert_int_equal(audit_event_hash(prev, tid, 8, 42, f, h), 0);
	assert_memory_not_equal(h, base, 32);
	assert_int_equal(audit_event_hash(prev, tid, 7, 43, f, h), 0);
	assert_memory_not_equal(h, base, 32);
	prev[31] = 1;
	assert_int_equal(audit_event_hash(prev, tid, 7, 42, f, h), 0);
	assert_memory_not_equal(h, base, 32);
	prev[31] = 0;
	memcpy(tid2, tid, 16);
	tid2[0] ^= 1;
	assert_int_equal(audit_event_hash(prev, tid2, 7, 42, f, h), 0);
	assert_memory_not_equal(h, base, 32);

	/* each field: changed, NULL, empty */
	for (i = 0; i < AUDIT_NFIELDS; i++) {
		audit_field g[AUDIT_NFIELDS];
		unsigned char n[32], e[32], c[32];

		memcpy(g, f, sizeof(g));
		g[i].p = "changed";
		g[i].len = 7;
		assert_int_equal(audit_event_hash(prev, tid, 7, 42, g, c), 0);
		assert_memory_not_equal(c, base, 32);
		g[i].p = NULL;
		g[i].len = 0;
		assert_int_equal(audit_event_hash(prev, tid, 7, 42, g, n), 0);
		g[i].p = "";
		assert_int_equal(audit_event_hash(prev, tid, 7, 42, g, e), 0);
		assert_memory_not_equal(n, e, 32);      /* NULL is not "" */
		assert_memory_not_equal(c, n, 32);
	}
}

static void
test_field_boundaries(void **state)
{
	unsigned char prev[32] = { 0 }, a[32], b[32];
	audit_field f[AUDIT_NFIELDS];

	(void)state;
	fields_default(f);
	/* ("ab", "c") vs ("a", "bc") across actor and role */
	f[AUDIT_F_ACTOR].p = "ab";
	f[AUDIT_F_ACTOR].len = 2;
	f[AUDIT_F_ROLE].p = "c";
	f[AUDIT_F_ROLE].len = 1;
	assert_int_equal(audit_event_hash(prev, tid, 1, 0, f, a), 0);
	f[AUDIT_F_ACTOR].p = "a";
	f[AUDIT_F_ACTOR].len = 1;
	f[AUDIT_F_ROLE].p = "bc";
	f[AUDIT_F_ROLE].len = 2;
	assert_int_equal(audit_event_hash(prev, tid, 1, 0, f, b), 0);
	assert_memory_not_equal(a, b, 32);
	/* a value moved from one field to the next */
	fields_default(f);
	f[AUDIT_F_TARGET].p = NULL;
	f[AUDIT_F_REQUEST_ID].p = "retention x/*";
	f[AUDIT_F_REQUEST_ID].len = strlen("retention x/*");
	assert_int_equal(audit_event_hash(prev, tid, 1, 0, f, a), 0);
	fields_default(f);
	assert_int_equal(audit_event_hash(prev, tid, 1, 0, f, b), 0);
	assert_memory_not_equal(a, b, 32);
}

static void
test_large_event(void **state)
{
	unsigned char prev[32] = { 0 }, a[32], b[32];
	audit_field f[AUDIT_NFIELDS];
	char *big = malloc(AUDIT_DETAIL_MAX);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', AUDIT_DETAIL_MAX);
	fields_default(f);
	f[AUDIT_F_DETAIL].p = big;
	f[AUDIT_F_DETAIL].len = AUDIT_DETAIL_MAX;
	assert_int_equal(audit_event_hash(prev, tid, 3, -5, f, a), 0);
	reference(prev, 3, -5, f, b);
	assert_memory_equal(a, b, 32);
	free(big);
}

static void
test_append_refuses_without_connection(void **state)
{
	audit_event ev;
	char err[256];
	uint64_t no = 99;
	unsigned char h[32];

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.actor = "a";
	ev.role = "operator";
	ev.action = "x";
	ev.outcome = "ok";
	memset(h, 0xaa, sizeof(h));
	assert_int_equal(audit_append(NULL, &ev, &no, h, err, sizeof(err)), -1);
	assert_int_equal(no, 0);
	assert_int_equal(h[0], 0);
	assert_int_equal(audit_lock_tenant(NULL, tid, err, sizeof(err)), -1);
}

/* The audit statement (issue 13.5): exact layout, and every field bound
 * by the signature: tampered hash, event number, tenant, signer node,
 * redaction list; wrong key; truncated signature. */
static void
test_statement_signature(void **state)
{
	unsigned char pk[32], pk2[32], *sk = NULL, *sk2 = NULL, sig[64], bad[64];
	unsigned char msg[VAULT_AUDIT_MSG_BYTES], r1[32], r2[32], r3[32];
	vault_audit_stmt st, t;
	size_t i;

	(void)state;
	assert_int_equal(vault_sign_keypair(pk, &sk), 0);
	assert_int_equal(vault_sign_keypair(pk2, &sk2), 0);
	memset(&st, 0, sizeof(st));
	memcpy(st.tenant_id, tid, sizeof(tid));
	st.event_no = 0x0102030405060708ULL;
	memset(st.event_hash, 0x42, 32);
	memset(st.node_id, 0x77, 16);
	vault_audit_redactions_hash("1,5", 3, st.redactions);

	vault_audit_stmt_encode(&st, msg);
	assert_memory_equal(msg, "coffer-auditsig-v1", 18);
	assert_int_equal(msg[18], 0);
	assert_memory_equal(msg + 19, tid, 16);
	assert_int_equal(msg[35], 0x01);
	assert_int_equal(msg[42], 0x08);
	assert_int_equal(msg[43], 0x42);
	assert_int_equal(msg[75], 0x77);
	assert_memory_equal(msg + 91, st.redactions, 32);

	/* the redaction list is hashed as printed: order and content count */
	vault_audit_redactions_hash("5,1", 3, r1);
	vault_audit_redactions_hash("1", 1, r2);
	vault_audit_redactions_hash(NULL, 0, r3);
	assert_memory_not_equal(r1, st.redactions, 32);
	assert_memory_not_equal(r2, st.redactions, 32);
	assert_memory_not_equal(r3, r2, 32);

	assert_int_equal(vault_audit_stmt_sign(sk, &st, sig), 0);
	assert_int_equal(vault_audit_stmt_verify(pk, &st, sig), 0);
	assert_int_equal(vault_audit_stmt_verify(pk2, &st, sig), -1);
	t = st; t.event_hash[31] ^= 1;
	assert_int_equal(vault_audit_stmt_verify(pk, &t, sig), -1);
	t = st; t.event_no++;
	assert_int_equal(vault_audit_stmt_verify(pk, &t, sig), -1);
	t = st; t.tenant_id[0] ^= 1;
	assert_int_equal(vault_audit_stmt_verify(pk, &t, sig), -1);
	t = st; t.node_id[15] ^= 1;
	assert_int_equal(vault_audit_stmt_verify(pk, &t, sig), -1);
	t = st; memcpy(t.redactions, r3, 32);
	assert_int_equal(vault_audit_stmt_verify(pk, &t, sig), -1);
	for (i = 0; i < sizeof(sig); i += 13) {
		memcpy(bad, sig, sizeof(bad));
		bad[i] ^= 0x80;
		assert_int_equal(vault_audit_stmt_verify(pk, &st, bad), -1);
	}
	assert_int_equal(vault_audit_stmt_sign(NULL, &st, sig), -1);
	assert_int_equal(vault_audit_stmt_verify(pk, NULL, sig), -1);
	vault_sign_key_free(&sk);
	vault_sign_key_free(&sk2);
}

/* The signer refuses a key whose public half is not its seed's, and an
 * unprintable node name; audit_append refuses to write without one. */
static void
test_signer_setup(void **state)
{
	unsigned char pk[32], *sk = NULL, key[64];
	char err[256];

	(void)state;
	assert_int_equal(vault_sign_keypair(pk, &sk), 0);
	memcpy(key, sk, 64);
	assert_int_equal(audit_signer_present(), 0);
	assert_int_equal(audit_signer_set("n\x01", key, err, sizeof(err)), -1);
	assert_int_equal(audit_signer_set("a\"b", key, err, sizeof(err)), -1);
	assert_int_equal(audit_signer_set("", key, err, sizeof(err)), -1);
	key[40] ^= 1;
	assert_int_equal(audit_signer_set("node-a", key, err, sizeof(err)), -1);
	assert_string_equal(err, "audit signer: the public key does not match "
	    "the seed");
	key[40] ^= 1;
	assert_int_equal(audit_signer_set("node-a", key, err, sizeof(err)), 0);
	assert_int_equal(audit_signer_present(), 1);
	audit_signer_clear();
	assert_int_equal(audit_signer_present(), 0);
	assert_int_equal(audit_signer_load("node-a", "/nonexistent/key", err,
	    sizeof(err)), -1);
	vault_wipe(key, sizeof(key));
	vault_sign_key_free(&sk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_every_input_bound),
		cmocka_unit_test(test_field_boundaries),
		cmocka_unit_test(test_large_event),
		cmocka_unit_test(test_append_refuses_without_connection),
		cmocka_unit_test(test_statement_signature),
		cmocka_unit_test(test_signer_setup),
	};

	if (vault_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
