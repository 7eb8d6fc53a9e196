/* api/prodtext.c — a production's time stamps and its text buffers in
 * guarded memory (api/prodtext.h).
 *
 * Trusts: its callers' sizes (a record value is measured by jansson
 * before it is copied).  Holds plaintext only in vault_secure_alloc'd
 * memory, wiped when a buffer grows, is cleared or freed; never logs it.
 */
#include "api/prodtext.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/jtext.h"
#include "vault/mem.h"

/* -- times --------------------------------------------------------------- */

static void
pr_digits(char *p, unsigned int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* RFC 3339 UTC with microseconds when they are not zero (formatted by
 * hand: it runs several times per record). */
void
pr_time(char out[PR_TIME_MAX], long long unix_us)
{
	long long secs = unix_us / 1000000LL, frac = unix_us % 1000000LL;
	struct tm tm;
	time_t t;
	char *p = out;

	if (frac < 0) {
		frac += 1000000LL;
		secs -= 1;
	}
	t = (time_t)secs;
	memset(&tm, 0, sizeof(tm));
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999) {
		snprintf(out, PR_TIME_MAX, "1970-01-01T00:00:00Z");
		return;
	}
	pr_digits(p, (unsigned)(tm.tm_year + 1900), 4);
	p[4] = '-';
	pr_digits(p + 5, (unsigned)(tm.tm_mon + 1), 2);
	p[7] = '-';
	pr_digits(p + 8, (unsigned)tm.tm_mday, 2);
	p[10] = 'T';
	pr_digits(p + 11, (unsigned)tm.tm_hour, 2);
	p[13] = ':';
	pr_digits(p + 14, (unsigned)tm.tm_min, 2);
	p[16] = ':';
	pr_digits(p + 17, (unsigned)tm.tm_sec, 2);
	p += 19;
	if (frac != 0) {
		*p++ = '.';
		pr_digits(p, (unsigned)frac, 6);
		p += 6;
	}
	*p++ = 'Z';
	*p = '\0';
}

/* -- text in guarded memory ---------------------------------------------- */

int
pr_grow(prod *P, unsigned char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	vault_secure_free(*buf);
	*cap = 0;
	if ((*buf = vault_secure_alloc(n)) == NULL) {
		PERR(P, "cannot allocate %zu bytes of secure memory", n);
		return -1;
	}
	*cap = n;
	return 0;
}

int
tx_reserve(prod *P, pr_text *t, size_t more)
{
	unsigned char *np;
	size_t cap = t->cap ? t->cap : 4096;

	if (t->len + more <= t->cap)
		return 0;
	while (cap < t->len + more)
		cap *= 2;
	if ((np = vault_secure_alloc(cap)) == NULL) {
		PERR(P, "cannot allocate %zu bytes of secure memory", cap);
		return -1;
	}
	if (t->len > 0)
		memcpy(np, t->p, t->len);
	if (t->p != NULL)
		vault_secure_free(t->p);
	t->p = np;
	t->cap = cap;
	return 0;
}

int
tx_put(prod *P, pr_text *t, const void *d, size_t n)
{
	if (n == 0)
		return 0;
	if (tx_reserve(P, t, n) != 0)
		return -1;
	memcpy(t->p + t->len, d, n);
	t->len += n;
	return 0;
}

int
tx_str(prod *P, pr_text *t, const char *str)
{
	return tx_put(P, t, str, strlen(str));
}

int
tx_u64(prod *P, pr_text *t, unsigned long long v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return tx_put(P, t, d + i, sizeof(d) - i);
}

/* A JSON value of the record, encoded (strings quoted and escaped).  A
 * string (valid UTF-8, as every string of a tree is) is written by
 * jtext_escape, the same bytes as json_dumpb's without its per-character
 * loop (common/jtext.h). */
int
tx_json(prod *P, pr_text *t, const json_t *v)
{
	size_t n;

	if (json_is_string(v) && jtext_utf8_valid((const unsigned char *)
	    json_string_value(v), json_string_length(v))) {
		n = jtext_escape(NULL, json_string_value(v), json_string_length(v));
		if (tx_reserve(P, t, n) != 0)
			return -1;
		t->len += jtext_escape((char *)t->p + t->len, json_string_value(v),
		    json_string_length(v));
		return 0;
	}
	if (tx_reserve(P, t, 64) != 0)
		return -1;
	n = json_dumpb(v, (char *)t->p + t->len, t->cap - t->len,
	    JSON_ENCODE_ANY | JSON_COMPACT);
	if (n == 0) {
		PERR(P, "cannot encode a record value");
		return -1;
	}
	if (n > t->cap - t->len) {
		if (tx_reserve(P, t, n) != 0)
			return -1;
		if (json_dumpb(v, (char *)t->p + t->len, t->cap - t->len,
		    JSON_ENCODE_ANY | JSON_COMPACT) != n) {
			PERR(P, "cannot encode a record value");
			return -1;
		}
	}
	t->len += n;
	return 0;
}

void
tx_clear(pr_text *t)
{
	if (t->p != NULL)
		vault_wipe(t->p, t->len);
	t->len = 0;
}

void
tx_free(pr_text *t)
{
	if (t->p != NULL)
		vault_secure_free(t->p);
	memset(t, 0, sizeof(*t));
}
