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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_every_input_bound),
		cmocka_unit_test(test_field_boundaries),
		cmocka_unit_test(test_large_event),
		cmocka_unit_test(test_append_refuses_without_connection),
	};

	if (vault_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
