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

/* One case of the corpus file (NAME TAB REASON TAB LINE, '#' comments),
 * its line expanded and unescaped into c->dec (the caller frees c->dec.p).
 * 1, or 0 after the last case. */
typedef struct corpus_case {
	char name[128];
	char want[REC_REASON_MAX];
	buf  dec;
} corpus_case;

static int
corpus_next(char *file, size_t flen, size_t *off, corpus_case *c)
{
	while (*off < flen) {
		char *line = file + *off, *nl = memchr(line, '\n', flen - *off);
		size_t llen = nl != NULL ? (size_t)(nl - line) : flen - *off;
		char *t1, *t2;
		buf ex = { 0 };

		*off += llen + 1;
		if (llen == 0 || line[0] == '#')
			continue;
		line[llen] = '\0';
		t1 = strchr(line, '\t');
		t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
		if (t2 == NULL)
			fail_msg("corpus line without two tabs: %.40s", line);
		snprintf(c->name, sizeof(c->name), "%.*s", (int)(t1 - line), line);
		snprintf(c->want, sizeof(c->want), "%.*s", (int)(t2 - t1 - 1),
		    t1 + 1);
		memset(&c->dec, 0, sizeof(c->dec));
		expand(t2 + 1, strlen(t2 + 1), &ex);
		unescape(ex.p, ex.len, &c->dec);
		free(ex.p);
		if (c->dec.p == NULL)
			buf_put(&c->dec, "", 0);
		return 1;
	}
	return 0;
}

/* rec_check (its fast path first) and rec_check_jansson must give the
 * same answer for every line: the same fields and canonical bytes when
 * accepted, the same reason and echoed id when not.  1 if they agree. */
static int
same_answer(const char *line, size_t len)
{
	rec_checked a, b;
	char ra[REC_REASON_MAX], rb[REC_REASON_MAX];
	int rca, rcb, same;

	rca = rec_check(&a, line, len, DEV, strlen(DEV), ra, sizeof(ra));
	rcb = rec_check_jansson(&b, line, len, DEV, strlen(DEV), rb, sizeof(rb));
	same = rca == rcb && strcmp(a.id, b.id) == 0;
	if (same && rca != 0)
		same = strcmp(ra, rb) == 0;
	if (same && rca == 0) {
		same = a.heartbeat == b.heartbeat &&
		    memcmp(&a.hb, &b.hb, sizeof(a.hb)) == 0 &&
		    a.f.channel == b.f.channel && a.f.sent_at_us == b.f.sent_at_us &&
		    a.f.capture_seq == b.f.capture_seq &&
		    a.f.id_len == b.f.id_len &&
		    a.f.conversation_len == b.f.conversation_len &&
		    a.f.participants_len == b.f.participants_len &&
		    a.f.n_participants == b.f.n_participants &&
		    a.f.plaintext_len == b.f.plaintext_len;
		if (same && !a.heartbeat)
			same = memcmp(a.f.id, b.f.id, a.f.id_len) == 0 &&
			    memcmp(a.f.conversation, b.f.conversation,
			    a.f.conversation_len) == 0 &&
			    memcmp(a.f.participants, b.f.participants,
			    a.f.participants_len) == 0 &&
			    memcmp(a.f.plaintext, b.f.plaintext,
			    a.f.plaintext_len) == 0;
	}
	if (rca == 0)
		rec_checked_clear(&a);
	if (rcb == 0)
		rec_checked_clear(&b);
	return same;
}

/* Every corpus case, and every accepted one with each byte replaced by
 * each of a set of bytes that matter to JSON and to the fast path, and
 * cut short at every length: the two paths agree. */
static void
test_fast_path_agrees(void **state)
{
	static const char subst[] = "\"\\,: }]{[0u/n1\x7f\x80\xc3\x1f\xff";
	size_t flen, off = 0, ncases = 0, nvariants = 0, nbad = 0;
	char *file = corpus_read(&flen);
	corpus_case c;

	(void)state;
	while (corpus_next(file, flen, &off, &c)) {
		buf dec = c.dec;
		size_t i, j;

		ncases++;
		if (!same_answer(dec.p, dec.len)) {
			print_error("%s: the fast path disagrees\n", c.name);
			nbad++;
		}
		if (strcmp(c.want, "-") == 0 && dec.len < 4096) {
			char *v = malloc(dec.len + 1);

			assert_non_null(v);
			for (i = 0; i < dec.len; i++) {
				for (j = 0; j < sizeof(subst) - 1; j++) {
					memcpy(v, dec.p, dec.len);
					v[i] = subst[j];
					nvariants++;
					if (!same_answer(v, dec.len)) {
						print_error("%s: byte %zu -> 0x%02x: the "
						    "fast path disagrees\n", c.name, i,
						    (unsigned char)subst[j]);
						nbad++;
					}
				}
				nvariants++;
				if (!same_answer(dec.p, i)) {
					print_error("%s: cut at %zu: the fast path "
					    "disagrees\n", c.name, i);
					nbad++;
				}
			}
			free(v);
		}
		free(dec.p);
	}
	free(file);
	print_message("fast path against jansson: %zu cases, %zu variants, "
	    "%zu disagree\n", ncases, nvariants, nbad);
	if (nbad > 0)
		fail_msg("%zu lines where the fast path and jansson disagree", nbad);
	assert_true(nvariants > 10000);
}

/* The fast path does take the common lines (else the agreement above
 * would prove nothing): they cost jansson no allocation at all, while a
 * line it declines (attachments, a heartbeat) goes through jansson. */
static void
test_fast_path_taken(void **state)
{
	static const struct { const char *line; int fast; } c[] = {
		{ "{\"id\":\"f-1\",\"channel\":\"sms\",\"conversation\":\"c\","
		  "\"direction\":\"out\",\"sender\":\"+15550100011\",\"recipients\":"
		  "[\"+15550100099\",\"ann@example.com\"],\"sent_at\":"
		  "\"2026-01-05T10:00:00.123456+02:00\",\"body\":\"hi\\n\\u00e9\\\"\\\\"
		  "\\ud83d\\ude00\\/\\u001f\",\"capture_seq\":42}", 1 },
		{ " { \"body\" : \"\" , \"sent_at\":\"2026-01-05T10:00:00Z\","
		  "\"recipients\" : [ \"+15550100099\" ] ,\"sender\":\"+15550100011\","
		  "\"direction\":\"in\",\"conversation\":\"c\",\"channel\":\"signal\","
		  "\"id\":\"f-2\" } ", 1 },
		{ "{\"id\":\"f-3\",\"channel\":\"sms\",\"conversation\":\"c\","
		  "\"direction\":\"out\",\"sender\":\"+15550100011\",\"recipients\":"
		  "[\"+15550100099\"],\"sent_at\":\"2026-01-05T10:00:00Z\",\"body\":"
		  "\"b\",\"attachments\":[]}", 0 },
		{ "{\"heartbeat\":{\"seq_high\":1,\"outbox\":0,\"clock\":"
		  "\"2026-01-05T10:00:00Z\"}}", 0 },
	};
	rec_checked out;
	char reason[REC_REASON_MAX];
	size_t i;

	(void)state;
	rec_init_counted();
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		unsigned long long before = rec_json_allocations();

		if (rec_check(&out, c[i].line, strlen(c[i].line), DEV, strlen(DEV),
		    reason, sizeof(reason)) != 0)
			fail_msg("case %zu rejected: %s", i, reason);
		rec_checked_clear(&out);
		if (c[i].fast && rec_json_allocations() != before)
			fail_msg("case %zu went through jansson", i);
		if (!c[i].fast && rec_json_allocations() == before)
			fail_msg("case %zu did not go through jansson", i);
		assert_true(same_answer(c[i].line, strlen(c[i].line)));
	}
	rec_init();
}

static void
test_corpus(void **state)
{
	size_t flen, off = 0, ncases = 0, nbad = 0;
	char *file = corpus_read(&flen);
	kinds k = { 0 };
	corpus_case c;

	(void)state;
	while (corpus_next(file, flen, &off, &c)) {
		const char *name = c.name, *want = c.want;
		buf dec = c.dec;
		rec r;
		char reason[REC_REASON_MAX];
		int rc;

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
		cmocka_unit_test(test_fast_path_agrees),
		cmocka_unit_test(test_fast_path_taken),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
