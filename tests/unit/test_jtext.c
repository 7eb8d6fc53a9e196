/* tests/unit/test_jtext.c — common/jtext.c against jansson, its reference.
 *
 * jtext_load only accepts or declines; what it accepts must be exactly
 * what json_loadb(s, n, 0) makes of the same bytes (the same values of the
 * same types, keys in the same order: compared as json_dumps output
 * without sorting).  Shown on a corpus of records and JSON edge cases and
 * on every single-byte mutation and truncation of each accepted text.  The
 * common record shapes must be taken (a loader that declines everything
 * would agree too).  jtext_escape must write json_dumpb's bytes for every
 * byte value and for multi-byte UTF-8, and count what it writes;
 * jtext_string asks for scratch only for a string with an escape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/jtext.h"

/* Texts jtext_load must take (the shapes of decrypted records). */
static const char *const taken[] = {
	"{\"body\":\"hello\",\"channel\":\"signal\",\"conversation\":\"c-1\","
	"\"device\":\"dev-1\",\"direction\":\"outbound\",\"id\":\"m-1\","
	"\"recipients\":[\"+15550100\",\"+15550101\"],\"sender\":\"+15550199\","
	"\"sent_at\":\"2026-11-02T10:00:00Z\"}",
	"{\"body\":\"line\\nnext \\\"q\\\" back\\\\slash \\/ \\b\\f\\r\\t\","
	"\"id\":\"x\"}",
	"{\"body\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"n\":1}",
	"{\"body\":\"\\u00e9\\u20ac\\ud83d\\ude00\\u001f\\u0001\"}",
	"{\"attachments\":[{\"content_type\":\"image/png\",\"data\":\"aGk=\","
	"\"name\":\"a.png\"},{\"name\":\"b\",\"size\":12}],\"body\":\"\"}",
	"{\"capture_seq\":123456789012345678,\"neg\":-42,\"zero\":0,"
	"\"negzero\":-0}",
	"{\"t\":true,\"f\":false,\"z\":null,\"e\":{},\"a\":[]}",
	"[1,\"two\",[3,[4,{\"five\":5}]],{}]",
	" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \n",
	"{\"dup\":1,\"other\":2,\"dup\":3}",
	"{\"\":\"empty key\",\"k\\u00e9y\":\"escaped key\"}",
	"{}",
	"[]",
};

/* Texts it must decline (jansson then accepts some, with reals, and
 * refuses the rest). */
static const char *const declined[] = {
	"{\"r\":1.5}", "{\"r\":1e3}", "{\"r\":-2E-1}",
	"{\"big\":1234567890123456789}",
	"{\"nul\":\"a\\u0000b\"}",
	"{\"lone\":\"\\ud800\"}", "{\"lone\":\"\\udc00x\"}",
	"{\"bad\":\"\\x\"}", "{\"raw\":\"a\nb\"}",
	"{\"utf8\":\"\xc3\x28\"}", "{\"utf8\":\"\xed\xa0\x80\"}",
	"{\"lead\":01}", "{\"trail\":1,}", "[1,]", "{,}", "{\"a\"}",
	"{\"a\":1} x", "{\"a\":1}}", "\"scalar\"", "42", "", "   ",
	"{\"a\":tru}", "{\"a\":nul}", "{\"a\":-}", "{\"a\":1 \"b\":2}",
	"{\"open\":[1,2}", "{\"a\":\"unterminated}",
};

static char *
dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* fast declined, or fast == jansson; returns 1 when fast took it */
static int
agree(const char *s, size_t n, const char *what)
{
	char *scratch = malloc(n + 1);
	json_t *fast, *slow;
	json_error_t je;
	int took;

	assert_non_null(scratch);
	fast = jtext_load(s, n, scratch);
	slow = json_loadb(s, n, 0, &je);
	took = fast != NULL;
	if (fast != NULL) {
		char *a, *b;

		if (slow == NULL)
			fail_msg("%s: jtext took '%.*s', jansson refused it (%s)",
			    what, (int)n, s, je.text);
		a = dump(fast);
		b = dump(slow);
		assert_non_null(a);
		assert_non_null(b);
		if (strcmp(a, b) != 0)
			fail_msg("%s: '%.*s' -> jtext %s, jansson %s", what, (int)n, s,
			    a, b);
		free(a);
		free(b);
	}
	json_decref(fast);
	json_decref(slow);
	free(scratch);
	return took;
}

static void
test_taken_and_equal(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (!agree(taken[i], strlen(taken[i]), "taken"))
			fail_msg("declined: %s", taken[i]);
}

static void
test_declined(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(declined) / sizeof(declined[0]); i++)
		if (agree(declined[i], strlen(declined[i]), "declined"))
			fail_msg("taken: %s", declined[i]);
}

/* Nesting: 32 levels taken, 33 declined (jansson takes both). */
static void
test_depth(void **state)
{
	char s[2 * JTEXT_DEPTH_MAX + 8];
	size_t d;

	(void)state;
	for (d = JTEXT_DEPTH_MAX; d <= JTEXT_DEPTH_MAX + 1; d++) {
		memset(s, '[', d);
		memset(s + d, ']', d);
		assert_int_equal(agree(s, 2 * d, "depth"), d <= JTEXT_DEPTH_MAX);
	}
}

/* Every byte of every taken text replaced by each byte that matters to
 * JSON (and a few that do not), and every truncation. */
static void
test_mutations(void **state)
{
	static const char subst[] = "\"\\{}[]:,0-1.eE tfn\x01\x80\xc3u/x";
	size_t i, j, k, cases = 0, took = 0;

	(void)state;
	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		size_t n = strlen(taken[i]);
		char *m = malloc(n + 1);

		assert_non_null(m);
		for (j = 0; j < n; j++) {
			for (k = 0; k < sizeof(subst) - 1; k++) {
				memcpy(m, taken[i], n);
				m[j] = subst[k];
				took += (size_t)agree(m, n, "mutation");
				cases++;
			}
			took += (size_t)agree(taken[i], j, "truncation");
			cases++;
		}
		free(m);
	}
	print_message("%zu mutations, %zu taken, all equal to jansson's\n",
	    cases, took);
	assert_true(took > cases / 4);
}

static void
expect_escape(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	char want[64], got[64];
	size_t wn, gn;

	assert_non_null(v);
	wn = json_dumpb(v, want, sizeof(want), JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	assert_true(wn > 0 && wn < sizeof(want));
	gn = jtext_escape(got, s, n);
	assert_int_equal(jtext_escape(NULL, s, n), gn);
	if (gn != wn || memcmp(got, want, wn) != 0)
		fail_msg("escape of %zu bytes: got '%.*s', want '%.*s'", n, (int)gn,
		    got, (int)wn, want);
}

static void
test_escape(void **state)
{
	static const char *const utf8[] = {
		"", "plain", "caf\xc3\xa9", "\xe2\x82\xac\xf0\x9f\x98\x80",
		"\x7f del", "a\"b\\c/d", "\xe2\x80\xa8 line separator",
	};
	size_t i;

	(void)state;
	for (i = 1; i < 0x80; i++) {
		char s[3] = { 'a', (char)i, 'z' };

		expect_escape(s, 3);
		expect_escape(s + 1, 1);
	}
	for (i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++)
		expect_escape(utf8[i], strlen(utf8[i]));
}

/* jtext_string borrows a plain string, and asks for scratch (-2, the
 * position unchanged) only when the string holds an escape. */
static void
test_string_scratch(void **state)
{
	static const char plain[] = "\"plain text\",", esc[] = "\"a\\nb\"";
	char scratch[sizeof(esc)];
	const char *out;
	size_t pos = 0, n, used;

	(void)state;
	assert_int_equal(jtext_string(plain, strlen(plain), &pos, NULL, &out, &n,
	    &used), 0);
	assert_ptr_equal(out, plain + 1);
	assert_int_equal(n, 10);
	assert_int_equal(used, 0);
	assert_int_equal(pos, 12);
	pos = 0;
	assert_int_equal(jtext_string(esc, strlen(esc), &pos, NULL, &out, &n,
	    &used), -2);
	assert_int_equal(pos, 0);
	assert_int_equal(jtext_string(esc, strlen(esc), &pos, scratch, &out, &n,
	    &used), 0);
	assert_ptr_equal(out, scratch);
	assert_int_equal(n, 3);
	assert_int_equal(used, 3);
	assert_memory_equal(out, "a\nb", 3);
	assert_int_equal(pos, strlen(esc));
	/* declined outright, scratch or not */
	pos = 0;
	assert_int_equal(jtext_string("\"open", 5, &pos, NULL, &out, &n, &used),
	    -1);
	assert_int_equal(jtext_string("\"\\x\"", 4, &pos, scratch, &out, &n,
	    &used), -1);
}

/* The validator: every form RFC 3629 forbids. */
static void
test_utf8(void **state)
{
	static const struct { const char *s; int ok; } cases[] = {
		{ "ascii only, long enough for the 8-byte loop", 1 },
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 1 },
		{ "\xc0\xaf", 0 }, { "\xe0\x80\xaf", 0 }, { "\xed\xa0\x80", 0 },
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 }, { "\x80", 0 },
		{ "\xc3", 0 }, { "abcdefgh\xc3", 0 }, { "\xef\xbf\xbf", 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (jtext_utf8_valid((const unsigned char *)cases[i].s,
		    strlen(cases[i].s)) != cases[i].ok)
			fail_msg("case %zu", i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken_and_equal),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_string_scratch),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
