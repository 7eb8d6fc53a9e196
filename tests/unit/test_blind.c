/* tests/unit/test_blind.c — blind-index tokens and participant
 * normalisation (vault/blind.h).
 *
 * Tables: spellings that must normalise alike, classification, rejects with
 * their exact messages (which must not repeat the value), domain separation,
 * key separation, and the dedup length-prefix.  The split the gateway
 * uses (classify and normalise without a key in one process, tokenise the
 * normalised value in another) gives exactly the one-call token.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "vault/blind.h"
#include "vault/mem.h"

static unsigned char bik[VAULT_BIK_BYTES];

#define S(x) x, sizeof(x) - 1

static int
setup_bik(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bik); i++)
		bik[i] = (unsigned char)i;
	return 0;
}

typedef int (*token_fn)(const unsigned char *, const char *, size_t,
                        unsigned char *, char *, size_t);

static void
token_ok(token_fn fn, const char *v, size_t len,
         unsigned char out[VAULT_TOKEN_BYTES])
{
	char err[128] = "";

	if (fn(bik, v, len, out, err, sizeof(err)) != 0)
		fail_msg("rejected: %s", err);
}

/* BLAKE2b-256-keyed(bik, domain ‖ input)[0..16], computed here from the
 * definition in blind.h rather than through the library. */
static void
reference_token(unsigned char domain, const unsigned char *in, size_t len,
                unsigned char out[VAULT_TOKEN_BYTES])
{
	unsigned char buf[4096], full[32];

	assert_true(len + 1 <= sizeof(buf));
	buf[0] = domain;
	memcpy(buf + 1, in, len);
	assert_int_equal(crypto_generichash(full, sizeof(full), buf, len + 1, bik,
	                                    sizeof(bik)), 0);
	memcpy(out, full, VAULT_TOKEN_BYTES);
}

static void
test_known_answers(void **state)
{
	unsigned char got[VAULT_TOKEN_BYTES], want[VAULT_TOKEN_BYTES];
	unsigned char dd[64];
	char          err[64];

	(void)state;
	token_ok(vault_participant_token, S("+1 (555) 123-0001"), got);
	reference_token(0x01, (const unsigned char *)"+15551230001", 12, want);
	assert_memory_equal(got, want, sizeof(got));

	token_ok(vault_participant_token, S(" Alice@Example.COM "), got);
	reference_token(0x01, (const unsigned char *)"alice@example.com", 17,
	                want);
	assert_memory_equal(got, want, sizeof(got));

	token_ok(vault_conversation_token, S("Conv-42"), got);
	reference_token(0x02, (const unsigned char *)"Conv-42", 7, want);
	assert_memory_equal(got, want, sizeof(got));

	/* u32be(2) "ab" u32be(1) "c" */
	memcpy(dd, "\0\0\0\2ab\0\0\0\1c", 11);
	assert_int_equal(vault_dedup_token(bik, S("ab"), S("c"), got, err,
	                                   sizeof(err)), 0);
	reference_token(0x03, dd, 11, want);
	assert_memory_equal(got, want, sizeof(got));
}

struct norm_case {
	int                    classify;   /* 1: vault_participant_classify */
	vault_participant_kind kind;       /* expected or forced kind */
	const char            *in;
	size_t                 in_len;
	const char            *want;
};

#define AUTO(k, in, want)   { 1, k, in, sizeof(in) - 1, want }
#define FORCE(k, in, want)  { 0, k, in, sizeof(in) - 1, want }

static const struct norm_case norm_cases[] = {
	AUTO(VAULT_PARTICIPANT_PHONE, "+15551230001", "+15551230001"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+1 (555) 123-0001", "+15551230001"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+1-555-123-0001", "+15551230001"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+1.555.123.0001", "+15551230001"),
	AUTO(VAULT_PARTICIPANT_PHONE, "0015551230001", "+15551230001"),
	AUTO(VAULT_PARTICIPANT_PHONE, "00 1 555 123 0001", "+15551230001"),
	AUTO(VAULT_PARTICIPANT_PHONE, " \t+15551230001\r\n", "+15551230001"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+44 20 7946 0958", "+442079460958"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+44 (0)20 7946 0958", "+442079460958"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+44 (20) 7946-0958", "+442079460958"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+39 06 1234 5678", "+390612345678"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+12345678", "+12345678"),
	AUTO(VAULT_PARTICIPANT_PHONE, "+123456789012345", "+123456789012345"),
	AUTO(VAULT_PARTICIPANT_EMAIL, "alice@example.com", "alice@example.com"),
	AUTO(VAULT_PARTICIPANT_EMAIL, "Alice@Example.COM", "alice@example.com"),
	AUTO(VAULT_PARTICIPANT_EMAIL, "  ALICE@EXAMPLE.COM\n", "alice@example.com"),
	AUTO(VAULT_PARTICIPANT_EMAIL, "Zoë@Exämple.org", "zoë@exämple.org"),
	AUTO(VAULT_PARTICIPANT_HANDLE, "@Alice", "@alice"),
	AUTO(VAULT_PARTICIPANT_HANDLE, "@alice@Mastodon.Social",
	     "@alice@mastodon.social"),
	AUTO(VAULT_PARTICIPANT_HANDLE, "Signal:1B2C-3D4E", "signal:1b2c-3d4e"),
	AUTO(VAULT_PARTICIPANT_HANDLE, "  bob smith ", "bob smith"),
	AUTO(VAULT_PARTICIPANT_HANDLE, "12345678", "12345678"),
	AUTO(VAULT_PARTICIPANT_HANDLE, "007Bond", "007bond"),
	AUTO(VAULT_PARTICIPANT_HANDLE, "ÄÖÜ", "ÄÖÜ"),   /* no Unicode folding */
	AUTO(VAULT_PARTICIPANT_HANDLE, "x", "x"),
	FORCE(VAULT_PARTICIPANT_PHONE, " +1 555 123 0001 ", "+15551230001"),
	FORCE(VAULT_PARTICIPANT_EMAIL, "Bob@Example.Org", "bob@example.org"),
	FORCE(VAULT_PARTICIPANT_HANDLE, "+15551230001", "+15551230001"),
	FORCE(VAULT_PARTICIPANT_HANDLE, "Alice@Example.com", "alice@example.com"),
};

static void
test_normalize_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
		const struct norm_case *c = &norm_cases[i];
		char                    out[VAULT_PARTICIPANT_MAX];
		char                    err[128] = "";
		size_t                  out_len = 0;
		vault_participant_kind  kind = c->kind;

		if (c->classify) {
			kind = vault_participant_classify(c->in, c->in_len);
			if (kind != c->kind)
				fail_msg("case %zu: kind %d, want %d", i, (int)kind,
				         (int)c->kind);
		}
		if (vault_participant_normalize(kind, c->in, c->in_len, out,
		                                sizeof(out), &out_len, err,
		                                sizeof(err)) != 0)
			fail_msg("case %zu rejected: %s", i, err);
		if (out_len != strlen(c->want) ||
		    memcmp(out, c->want, out_len) != 0)
			fail_msg("case %zu: got '%.*s', want '%s'", i, (int)out_len,
			         out, c->want);
	}
}

/* Each group: every spelling gives one token, and groups differ. */
static const char *const groups[][6] = {
	{ "+15551230001", "+1 (555) 123-0001", "+1-555-123-0001",
	  "0015551230001", " +1.555.123.0001 ", NULL },
	{ "+15551230002", "001 555 123 0002", NULL },
	{ "+442079460958", "+44 (0)20 7946 0958", "0044 20 7946 0958", NULL },
	{ "alice@example.com", "Alice@Example.com", "ALICE@EXAMPLE.COM",
	  "\talice@example.com ", NULL },
	{ "@alice", "@Alice", "@ALICE ", NULL },
	{ "signal:abc", "Signal:ABC", NULL },
	{ "alice", NULL },
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))
enum { G_US_PHONE = 0, G_EMAIL = 3, G_HANDLE = 4 };

static void
test_equivalent_spellings(void **state)
{
	unsigned char first[NGROUPS][VAULT_TOKEN_BYTES];
	unsigned char t[VAULT_TOKEN_BYTES];
	size_t        g, j;

	(void)state;
	for (g = 0; g < NGROUPS; g++) {
		for (j = 0; groups[g][j] != NULL; j++) {
			token_ok(vault_participant_token, groups[g][j],
			         strlen(groups[g][j]), t);
			if (j == 0)
				memcpy(first[g], t, sizeof(t));
			else if (memcmp(first[g], t, sizeof(t)) != 0)
				fail_msg("group %zu: '%s' differs", g, groups[g][j]);
		}
	}
	for (g = 0; g < NGROUPS; g++)
		for (j = g + 1; j < NGROUPS; j++)
			assert_memory_not_equal(first[g], first[j], VAULT_TOKEN_BYTES);

	/* the per-kind functions agree with the classifier */
	token_ok(vault_phone_token, S("+1 (555) 123-0001"), t);
	assert_memory_equal(t, first[G_US_PHONE], sizeof(t));
	token_ok(vault_email_token, S("Alice@Example.COM"), t);
	assert_memory_equal(t, first[G_EMAIL], sizeof(t));
	token_ok(vault_handle_token, S("@ALICE"), t);
	assert_memory_equal(t, first[G_HANDLE], sizeof(t));
}

enum fn_id { F_AUTO, F_PHONE, F_EMAIL, F_HANDLE, F_CONV };

struct reject_case {
	enum fn_id  fn;
	const char *in;
	size_t      in_len;
	const char *err;
};

#define REJ(fn, in, err) { fn, in, sizeof(in) - 1, err }

static const char E_EMPTY[] = "empty value";
static const char E_DIGITS[] = "phone number must have 8 to 15 digits";
static const char E_PCHAR[] = "phone number may contain only digits, spaces, "
                              "dashes, dots and parentheses";
static const char E_PZERO[] = "phone number must not start with 0 after the "
                              "international prefix";
static const char E_PPREFIX[] = "phone number must start with '+' or '00'";
static const char E_ONEAT[] = "email address must contain exactly one '@'";
static const char E_LOCAL[] = "email address has an empty local part";
static const char E_DOMAIN[] = "email address has an empty domain";
static const char E_LONG[] = "value is longer than 256 bytes";
static const char E_CTRL[] = "value contains a control character";
static const char E_UTF8[] = "value is not valid UTF-8";

static char long_handle[258];   /* 257 'a' */

static const struct reject_case reject_cases[] = {
	REJ(F_AUTO, "", E_EMPTY),
	REJ(F_AUTO, " \t\r\n ", E_EMPTY),
	REJ(F_PHONE, "", E_EMPTY),
	REJ(F_EMAIL, "   ", E_EMPTY),
	REJ(F_HANDLE, "\n", E_EMPTY),
	REJ(F_AUTO, "+", E_DIGITS),
	REJ(F_AUTO, "00", E_DIGITS),
	REJ(F_AUTO, "+1555123", E_DIGITS),              /* 7 digits */
	REJ(F_AUTO, "+1234567890123456", E_DIGITS),     /* 16 digits */
	REJ(F_AUTO, "+1 555 123 0001 2345 6789", E_DIGITS),
	REJ(F_AUTO, "+0155512300", E_PZERO),
	REJ(F_AUTO, "0005551230001", E_PZERO),
	REJ(F_AUTO, "+1 555 CALL NOW", E_PCHAR),
	REJ(F_AUTO, "+1 555+123 0001", E_PCHAR),
	REJ(F_PHONE, "00+15551230001", E_PCHAR),
	REJ(F_AUTO, "00123", E_DIGITS),
	REJ(F_AUTO, "+1\t555\t123\t0001", E_PCHAR),
	REJ(F_AUTO, "+1/555/123/0001", E_PCHAR),
	REJ(F_AUTO, "+1 555 123 0001 ext 5", E_PCHAR),
	REJ(F_AUTO, "+１５５５１２３０００１", E_PCHAR),  /* full-width digits */
	REJ(F_PHONE, "5551230001", E_PPREFIX),
	REJ(F_PHONE, "(555) 123-0001", E_PPREFIX),
	REJ(F_PHONE, "alice@example.com", E_PPREFIX),
	REJ(F_AUTO, "a@b@example.com", E_ONEAT),
	REJ(F_AUTO, "alice@", E_DOMAIN),
	REJ(F_AUTO, "alice@ ", E_DOMAIN),               /* trimmed first */
	REJ(F_EMAIL, "@example.com", E_LOCAL),
	REJ(F_EMAIL, "alice", E_ONEAT),
	REJ(F_EMAIL, "alice@exa\x01mple.com", E_CTRL),
	REJ(F_EMAIL, "alice@exa\xffmple.com", E_UTF8),
	REJ(F_HANDLE, "ali\x01" "ce", E_CTRL),
	REJ(F_HANDLE, "ali\x7f" "ce", E_CTRL),
	REJ(F_HANDLE, "ali\0ce", E_CTRL),                /* embedded NUL */
	REJ(F_HANDLE, "ali\tce", E_CTRL),                /* inner tab */
	REJ(F_HANDLE, "ali\xc2\x85" "ce", E_CTRL),       /* U+0085 NEL (C1) */
	REJ(F_HANDLE, "\xff", E_UTF8),
	REJ(F_HANDLE, "\x80" "abc", E_UTF8),             /* lone continuation */
	REJ(F_HANDLE, "\xc0\xaf", E_UTF8),               /* overlong '/' */
	REJ(F_HANDLE, "\xe0\x80\xaf", E_UTF8),           /* overlong, 3 bytes */
	REJ(F_HANDLE, "\xf0\x80\x80\xaf", E_UTF8),       /* overlong, 4 bytes */
	REJ(F_HANDLE, "\xed\xa0\x80", E_UTF8),           /* surrogate U+D800 */
	REJ(F_HANDLE, "\xf4\x90\x80\x80", E_UTF8),       /* U+110000 */
	REJ(F_HANDLE, "\xf5\x80\x80\x80", E_UTF8),
	REJ(F_HANDLE, "abc\xe2\x82", E_UTF8),            /* truncated */
	REJ(F_HANDLE, "\xe2\x28\xa1", E_UTF8),           /* bad continuation */
	REJ(F_AUTO, "@ali\x1b[31mce", E_CTRL),           /* terminal escape */
	REJ(F_CONV, "", "conversation id is empty"),
};

static int
call(enum fn_id fn, const char *in, size_t len,
     unsigned char out[VAULT_TOKEN_BYTES], char *err, size_t err_len)
{
	switch (fn) {
	case F_AUTO:
		return vault_participant_token(bik, in, len, out, err, err_len);
	case F_PHONE:
		return vault_phone_token(bik, in, len, out, err, err_len);
	case F_EMAIL:
		return vault_email_token(bik, in, len, out, err, err_len);
	case F_HANDLE:
		return vault_handle_token(bik, in, len, out, err, err_len);
	case F_CONV:
		return vault_conversation_token(bik, in, len, out, err, err_len);
	}
	return 0;
}

static void
expect_reject(enum fn_id fn, const char *in, size_t len, const char *want,
              size_t idx)
{
	static const unsigned char zero[VAULT_TOKEN_BYTES];
	unsigned char              t[VAULT_TOKEN_BYTES];
	char                       err[256] = "";

	memset(t, 0xa5, sizeof(t));
	if (call(fn, in, len, t, err, sizeof(err)) != -1)
		fail_msg("case %zu accepted", idx);
	if (strcmp(err, want) != 0)
		fail_msg("case %zu: error '%s', want '%s'", idx, err, want);
	assert_memory_equal(t, zero, sizeof(t));
	/* the message never carries the value */
	if (len >= 4 && memmem(err, strlen(err), in, len) != NULL)
		fail_msg("case %zu: error repeats the value", idx);
}

static void
test_rejects_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++)
		expect_reject(reject_cases[i].fn, reject_cases[i].in,
		              reject_cases[i].in_len, reject_cases[i].err, i);
}

static void
test_length_limits(void **state)
{
	char          buf[2048];
	unsigned char t[VAULT_TOKEN_BYTES];
	char          err[128];

	(void)state;
	memset(long_handle, 'a', 257);
	/* 256 bytes is fine, also with whitespace around it */
	buf[0] = ' ';
	memcpy(buf + 1, long_handle, 256);
	buf[257] = '\n';
	token_ok(vault_handle_token, buf, 258, t);
	token_ok(vault_participant_token, long_handle, 256, t);
	expect_reject(F_HANDLE, long_handle, 257, E_LONG, 1000);
	expect_reject(F_AUTO, long_handle, 257, E_LONG, 1001);
	memcpy(buf, long_handle, 250);
	memcpy(buf + 250, "@example.com", 12);
	expect_reject(F_EMAIL, buf, 262, E_LONG, 1002);

	/* ids: 1..1024 bytes */
	memset(buf, 'c', sizeof(buf));
	token_ok(vault_conversation_token, buf, 1024, t);
	expect_reject(F_CONV, buf, 1025, "conversation id is longer than 1024 bytes",
	              1003);
	assert_int_equal(vault_dedup_token(bik, buf, 1024, buf, 1024, t, err,
	                                   sizeof(err)), 0);
	assert_int_equal(vault_dedup_token(bik, buf, 1025, buf, 1, t, err,
	                                   sizeof(err)), -1);
	assert_string_equal(err, "device id is longer than 1024 bytes");
	assert_int_equal(vault_dedup_token(bik, buf, 1, buf, 1025, t, err,
	                                   sizeof(err)), -1);
	assert_string_equal(err, "source message id is longer than 1024 bytes");
	assert_int_equal(vault_dedup_token(bik, buf, 0, buf, 1, t, err,
	                                   sizeof(err)), -1);
	assert_string_equal(err, "device id is empty");
	assert_int_equal(vault_dedup_token(bik, buf, 1, NULL, 0, t, err,
	                                   sizeof(err)), -1);
	assert_string_equal(err, "source message id is empty");

	/* a phone number padded with a megabyte of spaces is still bounded */
	{
		static char big[1 << 20];

		memset(big, ' ', sizeof(big));
		memcpy(big + 1000, "+15551230001", 12);
		token_ok(vault_participant_token, big, sizeof(big), t);
	}
}

static void
test_bad_arguments(void **state)
{
	unsigned char t[VAULT_TOKEN_BYTES];
	char          out[8];
	size_t        out_len = 7;
	char          err[128];

	(void)state;
	assert_int_equal(vault_participant_token(NULL, S("@alice"), t, err,
	                                         sizeof(err)), -1);
	assert_string_equal(err, "missing blind-index key");
	assert_int_equal(vault_participant_token(bik, NULL, 5, t, err,
	                                         sizeof(err)), -1);
	assert_string_equal(err, "missing value");
	assert_int_equal(vault_participant_token(bik, S("@alice"), NULL, err,
	                                         sizeof(err)), -1);
	assert_int_equal(vault_conversation_token(NULL, S("c"), t, err,
	                                          sizeof(err)), -1);
	assert_int_equal(vault_dedup_token(NULL, S("d"), S("s"), t, err,
	                                   sizeof(err)), -1);
	/* NULL or tiny error buffers are fine */
	assert_int_equal(vault_participant_token(bik, S(""), t, NULL, 0), -1);
	assert_int_equal(vault_participant_token(bik, S(""), t, err, 1), -1);
	assert_string_equal(err, "");

	/* normalise into a buffer too small: rejected and wiped */
	assert_int_equal(vault_participant_normalize(VAULT_PARTICIPANT_HANDLE,
	    S("@alice-long"), out, sizeof(out), &out_len, err, sizeof(err)), -1);
	assert_int_equal(out_len, 0);
	assert_string_equal(err, "output buffer too small");
	assert_int_equal(vault_participant_normalize(VAULT_PARTICIPANT_PHONE,
	    S("+15551230001"), out, sizeof(out), &out_len, err, sizeof(err)), -1);
	assert_int_equal(vault_participant_normalize((vault_participant_kind)9,
	    S("x"), out, sizeof(out), &out_len, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown participant kind");
}

static void
test_domain_separation(void **state)
{
	unsigned char p[VAULT_TOKEN_BYTES], c[VAULT_TOKEN_BYTES],
	              d[VAULT_TOKEN_BYTES];
	char          err[64];

	(void)state;
	token_ok(vault_participant_token, S("conv-42"), p);
	token_ok(vault_conversation_token, S("conv-42"), c);
	assert_memory_not_equal(p, c, sizeof(p));
	/* a conversation id whose bytes equal the dedup input still differs */
	assert_int_equal(vault_dedup_token(bik, S("a"), S("b"), d, err,
	                                   sizeof(err)), 0);
	token_ok(vault_conversation_token, "\0\0\0\1a\0\0\0\1b", 10, c);
	assert_memory_not_equal(d, c, sizeof(d));
}

static void
test_conversation_is_exact(void **state)
{
	unsigned char a[VAULT_TOKEN_BYTES], b[VAULT_TOKEN_BYTES];

	(void)state;
	token_ok(vault_conversation_token, S("Group-ABC"), a);
	token_ok(vault_conversation_token, S("group-abc"), b);
	assert_memory_not_equal(a, b, sizeof(a));
	token_ok(vault_conversation_token, S(" Group-ABC"), b);
	assert_memory_not_equal(a, b, sizeof(a));
	token_ok(vault_conversation_token, S("Group-ABC"), b);
	assert_memory_equal(a, b, sizeof(a));
}

static void
test_key_separation(void **state)
{
	unsigned char *k1 = NULL, *k2 = NULL;
	unsigned char  a[VAULT_TOKEN_BYTES], b[VAULT_TOKEN_BYTES];
	char           err[64];

	(void)state;
	assert_int_equal(vault_bik_new(&k1), 0);
	assert_int_equal(vault_bik_new(&k2), 0);
	assert_non_null(k1);
	assert_memory_not_equal(k1, k2, VAULT_BIK_BYTES);

	assert_int_equal(vault_participant_token(k1, S("+15551230001"), a, err,
	                                         sizeof(err)), 0);
	assert_int_equal(vault_participant_token(k2, S("+15551230001"), b, err,
	                                         sizeof(err)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(vault_conversation_token(k1, S("c"), a, err,
	                                          sizeof(err)), 0);
	assert_int_equal(vault_conversation_token(k2, S("c"), b, err,
	                                          sizeof(err)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(vault_dedup_token(k1, S("d"), S("m"), a, err,
	                                   sizeof(err)), 0);
	assert_int_equal(vault_dedup_token(k2, S("d"), S("m"), b, err,
	                                   sizeof(err)), 0);
	assert_memory_not_equal(a, b, sizeof(a));

	/* one flipped key bit is another key */
	memcpy(k2, k1, VAULT_BIK_BYTES);
	k2[31] ^= 0x80;
	assert_int_equal(vault_participant_token(k1, S("@alice"), a, err,
	                                         sizeof(err)), 0);
	assert_int_equal(vault_participant_token(k2, S("@alice"), b, err,
	                                         sizeof(err)), 0);
	assert_memory_not_equal(a, b, sizeof(a));

	vault_bik_free(&k1);
	vault_bik_free(&k2);
	assert_null(k1);
	assert_null(k2);
	vault_bik_free(&k1);
	vault_bik_free(NULL);
}

static void
test_dedup_length_prefix(void **state)
{
	static const struct {
		const char *dev, *src;
	} pairs[] = {
		{ "ab", "c" }, { "a", "bc" }, { "abc", "x" }, { "ab", "cx" },
		{ "c", "ab" }, { "a\0", "bc" }, { "dev1", "msg-1" },
		{ "dev1", "msg-10" }, { "dev10", "msg-1" }, { "DEV1", "msg-1" },
	};
	enum { N = sizeof(pairs) / sizeof(pairs[0]) };
	unsigned char t[N][VAULT_TOKEN_BYTES], again[VAULT_TOKEN_BYTES];
	char          err[64];
	size_t        i, j;

	(void)state;
	for (i = 0; i < N; i++) {
		size_t dl = strlen(pairs[i].dev) + (i == 5 ? 1 : 0);

		assert_int_equal(vault_dedup_token(bik, pairs[i].dev, dl,
		    pairs[i].src, strlen(pairs[i].src), t[i], err, sizeof(err)), 0);
		assert_int_equal(vault_dedup_token(bik, pairs[i].dev, dl,
		    pairs[i].src, strlen(pairs[i].src), again, err, sizeof(err)), 0);
		assert_memory_equal(t[i], again, sizeof(again));
	}
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			if (memcmp(t[i], t[j], VAULT_TOKEN_BYTES) == 0)
				fail_msg("dedup pairs %zu and %zu collide", i, j);
}

/* Scope forms (issue 15.2): what a person types, with and without the
 * tenant's default country code; out NULL: refused with err. */
static const struct scope_case {
	const char *in;
	const char *cc;
	const char *out;
	const char *err;
} scope_cases[] = {
	{ "+1 555 010 0011", NULL, "+15550100011", NULL },
	{ "0015550100011",   NULL, "+15550100011", NULL },
	{ "  @Kestrel_Ops ", NULL, "@kestrel_ops", NULL },
	{ "signal:AbC",      NULL, "signal:abc", NULL },
	{ "Alice@Example.com", NULL, "alice@example.com", NULL },
	{ "15550100011",     "1",  "+15550100011", NULL },
	{ "(555) 010-0011",  "1",  "+15550100011", NULL },
	{ "555.010.0011",    "1",  "+15550100011", NULL },
	{ "020 7946 0958",   "44", "+442079460958", NULL },
	{ "442079460958",    "44", "+442079460958", NULL },
	{ "2079460958",      "44", "+442079460958", NULL },
	{ "15550100011",     NULL, NULL, "number without '+' and no default "
	                                 "country code (cofferctl tenant set-country)" },
	{ "(555) 010-0011",  NULL, NULL, "number without '+' and no default "
	                                 "country code (cofferctl tenant set-country)" },
	{ "12345",           "1",  NULL, "phone number must have 8 to 15 digits" },
	{ "1234567890123456", "1", NULL, "phone number has more than 15 digits "
	                                 "with its country code" },
	{ "555 010 0011",    "1x", NULL, "the tenant's default country code is "
	                                 "not 1..3 digits" },
	{ "kestrel_ops",     "1",  NULL, "a bare name matches no handle: write "
	                                 "it with its '@' or network" },
	{ "+1 555 abc",      "1",  NULL, "phone number may contain only digits, "
	                                 "spaces, dashes, dots and parentheses" },
	{ "   ",             NULL, NULL, "empty value" },
};

static void
test_scope_forms(void **state)
{
	char   out[VAULT_PARTICIPANT_MAX], err[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(scope_cases) / sizeof(scope_cases[0]); i++) {
		const struct scope_case *c = &scope_cases[i];
		int rc = vault_participant_scope_normalize(c->in, strlen(c->in),
		    c->cc, out, sizeof(out), &n, err, sizeof(err));

		if (c->out != NULL) {
			if (rc != 0)
				fail_msg("case %zu: refused: %s", i, err);
			assert_int_equal(n, strlen(c->out));
			assert_memory_equal(out, c->out, n);
			/* the ingest normaliser maps the result to itself */
			assert_int_equal(vault_participant_normalize(
			    vault_participant_classify(out, n), c->out,
			    strlen(c->out), out, sizeof(out), &n, err,
			    sizeof(err)), 0);
			assert_memory_equal(out, c->out, n);
		} else {
			if (rc == 0)
				fail_msg("case %zu: accepted", i);
			assert_int_equal(n, 0);
			assert_string_equal(err, c->err);
		}
	}
}

static void
test_normalized_split(void **state)
{
	unsigned char a[VAULT_TOKEN_BYTES], b[VAULT_TOKEN_BYTES];
	char          norm[VAULT_PARTICIPANT_MAX + 1], err[128];
	size_t        i, nlen;

	(void)state;
	for (i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
		const struct norm_case *c = &norm_cases[i];

		if (!c->classify)
			continue;
		token_ok(vault_participant_token, c->in, c->in_len, a);
		assert_int_equal(vault_participant_normalize(
		    vault_participant_classify(c->in, c->in_len), c->in, c->in_len,
		    norm, sizeof(norm), &nlen, err, sizeof(err)), 0);
		assert_int_equal(vault_participant_token_normalized(bik, norm,
		    nlen, b, err, sizeof(err)), 0);
		assert_memory_equal(a, b, sizeof(a));
	}
	/* refusals: empty, too long, no key; the token is zeroed */
	memset(norm, 'a', sizeof(norm));
	memset(b, 0xaa, sizeof(b));
	assert_int_equal(vault_participant_token_normalized(bik, norm, 0, b, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "normalised participant must be 1..256 bytes");
	assert_int_equal(vault_participant_token_normalized(bik, norm,
	    VAULT_PARTICIPANT_MAX + 1, b, err, sizeof(err)), -1);
	assert_string_equal(err, "normalised participant must be 1..256 bytes");
	assert_int_equal(vault_participant_token_normalized(NULL, norm, 3, b,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "missing blind-index key");
	memset(a, 0, sizeof(a));
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(vault_participant_token_normalized(bik, norm,
	    VAULT_PARTICIPANT_MAX, b, err, sizeof(err)), 0);
	/* the dedup checks without a key give the token's own messages */
	assert_int_equal(vault_dedup_ids_check(S("dev"), S("m1"), err,
	    sizeof(err)), 0);
	assert_int_equal(vault_dedup_ids_check("", 0, S("m1"), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "device id is empty");
	assert_int_equal(vault_dedup_token(bik, "", 0, S("m1"), a, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "device id is empty");
	assert_int_equal(vault_dedup_ids_check(S("dev"), "", 0, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "source message id is empty");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_equivalent_spellings),
		cmocka_unit_test(test_rejects_table),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_domain_separation),
		cmocka_unit_test(test_conversation_is_exact),
		cmocka_unit_test(test_key_separation),
		cmocka_unit_test(test_dedup_length_prefix),
		cmocka_unit_test(test_normalized_split),
		cmocka_unit_test(test_scope_forms),
	};

	if (vault_init() != 0)
		return 1;
	return cmocka_run_group_tests_name("blind", tests, setup_bik, NULL);
}
