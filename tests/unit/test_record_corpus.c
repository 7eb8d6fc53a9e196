/* tests/unit/test_record_corpus.c — the hostile-line corpus
 * (tests/data/bad-json/cases.tsv) through the ingest validator
 * (gateway/record.c).
 *
 * Every case is decoded (\xHH bytes, {{N*TEXT}} repetitions; format in the
 * file's header), handed to rec_parse() and must be rejected with exactly
 * the reason the file names, leave nothing behind in the rec (no
 * plaintext, no tokens, no channel), and the reason must hold no byte of
 * the input.  Control cases ("-") must be accepted.  The corpus itself is
 * checked too: enough cases, of every kind the issue lists (deep nesting,
 * huge numbers, duplicate keys, NUL, lone surrogates, invalid UTF-8).
 *
 * The file is found through $COFFER_BAD_JSON, else next to this source
 * (tests run from the repository root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/record.h"
#include "vault/mem.h"

#define CORPUS_REL   "tests/data/bad-json/cases.tsv"
#define CORPUS_MIN   60U

static const unsigned char bik[VAULT_BIK_BYTES] = {
	7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
};

#define DEV "hostile-phone"

typedef struct buf {
	char  *p;
	size_t len, cap;
} buf;

static void
buf_put(buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* {{N*TEXT}} -> TEXT N times (TEXT ends at the first "}}"). */
static void
expand(const char *s, size_t len, buf *out)
{
	size_t i = 0;

	while (i < len) {
		size_t j = i + 2, k;
		unsigned long n = 0;
		const char *end;

		if (len - i >= 4 && s[i] == '{' && s[i + 1] == '{' &&
		    s[j] >= '0' && s[j] <= '9') {
			while (j < len && s[j] >= '0' && s[j] <= '9')
				n = n * 10 + (unsigned long)(s[j++] - '0');
			if (j < len && s[j] == '*') {
				j++;
				end = NULL;
				for (k = j; k + 1 < len; k++)
					if (s[k] == '}' && s[k + 1] == '}') {
						end = s + k;
						break;
					}
				assert_non_null(end);
				assert_true(n > 0 && n <= 1000000);
				while (n-- > 0)
					buf_put(out, s + j, (size_t)(end - (s + j)));
				i = (size_t)(end - s) + 2;
				continue;
			}
		}
		buf_put(out, s + i, 1);
		i++;
	}
}

/* \xHH -> the byte; any other backslash pair is copied unchanged. */
static void
unescape(const char *s, size_t len, buf *out)
{
	size_t i = 0;

	while (i < len) {
		if (s[i] == '\\' && i + 1 < len) {
			if (s[i + 1] == 'x' && i + 3 < len && hexval(s[i + 2]) >= 0 &&
			    hexval(s[i + 3]) >= 0) {
				char ch = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));

				buf_put(out, &ch, 1);
				i += 4;
			} else {
				buf_put(out, s + i, 2);
				i += 2;
			}
			continue;
		}
		buf_put(out, s + i, 1);
		i++;
	}
}

static char *
corpus_read(size_t *len)
{
	const char *env = getenv("COFFER_BAD_JSON");
	char path[4096];
	FILE *f;
	buf b = { 0 };
	char chunk[65536];
	size_t n;

	if (env != NULL && env[0] != '\0') {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		/* __FILE__ is tests/unit/test_record_corpus.c (or absolute) */
		const char *src = __FILE__, *cut = strstr(src, "tests/unit/");

		snprintf(path, sizeof(path), "%.*s" CORPUS_REL,
		    cut != NULL ? (int)(cut - src) : 0, src);
	}
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open the corpus %s (set COFFER_BAD_JSON)", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return b.p;
}

typedef struct kinds {
	unsigned deep, number, duplicate, nul, surrogate, utf8, accepted;
} kinds;

static void
count_kind(kinds *k, const char *name, const char *reason)
{
	if (strcmp(reason, "-") == 0)
		k->accepted++;
	if (strstr(name, "deep") != NULL || strstr(name, "depth") != NULL)
		k->deep++;
	if (strstr(name, "overflow") != NULL || strstr(name, "digit") != NULL)
		k->number++;
	if (strcmp(reason, "duplicate key") == 0)
		k->duplicate++;
	if (strstr(name, "nul") != NULL)
		k->nul++;
	if (strstr(name, "surrogate") != NULL || strstr(name, "pair") != NULL)
		k->surrogate++;
	if (strcmp(reason, "invalid UTF-8") == 0)
		k->utf8++;
}

static void
test_corpus(void **state)
{
	size_t flen, off = 0, ncases = 0, nbad = 0;
	char *file = corpus_read(&flen);
	kinds k = { 0 };

	(void)state;
	while (off < flen) {
		char *line = file + off, *nl = memchr(line, '\n', flen - off);
		size_t llen = nl != NULL ? (size_t)(nl - line) : flen - off;
		char *t1, *t2, name[128], want[REC_REASON_MAX];
		buf ex = { 0 }, dec = { 0 };
		rec r;
		char reason[REC_REASON_MAX];
		int rc;

		off += llen + 1;
		if (llen == 0 || line[0] == '#')
			continue;
		line[llen] = '\0';
		t1 = strchr(line, '\t');
		t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
		if (t2 == NULL)
			fail_msg("corpus line without two tabs: %.40s", line);
		snprintf(name, sizeof(name), "%.*s", (int)(t1 - line), line);
		snprintf(want, sizeof(want), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
		expand(t2 + 1, strlen(t2 + 1), &ex);
		unescape(ex.p, ex.len, &dec);
		if (dec.p == NULL)
			buf_put(&dec, "", 0);
		assert_null(memchr(dec.p, '\n', dec.len));
		ncases++;
		count_kind(&k, name, want);

		rc = rec_parse(&r, dec.p, dec.len, bik, DEV, strlen(DEV), reason,
		    sizeof(reason));
		if (strcmp(want, "-") == 0) {
			if (rc != 0 || r.plaintext == NULL) {
				print_error("%s: rejected (%s), expected accepted\n",
				    name, reason);
				nbad++;
			}
		} else if (rc == 0) {
			print_error("%s: accepted, expected \"%s\"\n", name, want);
			nbad++;
		} else if (strcmp(reason, want) != 0) {
			print_error("%s: reason \"%s\", expected \"%s\"\n", name,
			    reason, want);
			nbad++;
		} else if (r.plaintext != NULL || r.participant_tokens != NULL ||
		    r.n_participants != 0 || r.channel != NULL ||
		    r.plaintext_len != 0) {
			print_error("%s: rejected but the rec holds data\n", name);
			nbad++;
		} else if (strstr(reason, "CANARY") != NULL ||
		    strstr(reason, "bj-") != NULL) {
			print_error("%s: the reason echoes the input\n", name);
			nbad++;
		}
		rec_clear(&r);
		free(ex.p);
		free(dec.p);
	}
	free(file);
	print_message("bad-json corpus: %zu cases (%u accepted controls), "
	    "%zu wrong\n", ncases, k.accepted, nbad);
	if (nbad > 0)
		fail_msg("%zu of %zu corpus cases failed", nbad, ncases);
	assert_true(ncases - k.accepted >= CORPUS_MIN);
	assert_true(k.accepted >= 3);
	assert_true(k.deep >= 3);
	assert_true(k.number >= 3);
	assert_true(k.duplicate >= 3);
	assert_true(k.nul >= 3);
	assert_true(k.surrogate >= 3);
	assert_true(k.utf8 >= 10);
}

/* The decoder itself, so a corpus typo cannot hide behind it. */
static void
test_decoder(void **state)
{
	static const char in[] = "a\\x00b\\x5cx41\\\"{{3*[}}{{2*\\x7d}}{{x";
	buf ex = { 0 }, dec = { 0 };

	(void)state;
	expand(in, sizeof(in) - 1, &ex);
	assert_string_equal(ex.p, "a\\x00b\\x5cx41\\\"[[[\\x7d\\x7d{{x");
	unescape(ex.p, ex.len, &dec);
	assert_int_equal(dec.len, 17);
	assert_memory_equal(dec.p, "a\0b\\x41\\\"[[[}}{{x", 17);
	free(ex.p);
	free(dec.p);
}

static int
setup(void **state)
{
	(void)state;
	rec_init();
	return vault_init();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoder),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
