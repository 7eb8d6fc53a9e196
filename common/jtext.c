/* common/jtext.c — JSON strings, their escaping and a jansson-tree loader
 * without jansson's per-byte lexer (contract in common/jtext.h).
 *
 * Trusts nothing in its input: every read is bounded by the length given,
 * nesting by JTEXT_DEPTH_MAX (an explicit stack, no recursion), decoded
 * strings are never longer than their raw text.  Declines rather than
 * explains: jansson has the one set of error texts.
 */
#include "common/jtext.h"

#include <stdint.h>
#include <string.h>

#include "vault/codec.h"

int
jtext_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			uint64_t wv;

			/* ASCII runs (most of any body) eight bytes at a time. */
			while (len - i >= 8) {
				memcpy(&wv, s + i, 8);
				if ((wv & 0x8080808080808080ULL) != 0)
					break;
				i += 8;
			}
			if (i < len && s[i] < 0x80)
				i++;
			continue;
		}
		if ((n = vault_utf8_seq(s + i, len - i, &cp)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

static int
jtext_hex4(const char *h, unsigned *out)
{
	unsigned v = 0, i, d;

	for (i = 0; i < 4; i++) {
		char c = h[i];

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

int
jtext_string(const char *str, size_t len, size_t *pos, char *scratch,
    const char **out, size_t *outn, size_t *used)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = *pos + 1, start = i;
	char *o;

	*out = NULL;
	*outn = *used = 0;
	if (*pos >= len || s[*pos] != '"')
		return -1;
	while (i < len && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20)
		i++;
	if (i >= len || s[i] < 0x20)
		return -1;
	if (s[i] == '"') {
		*out = str + start;
		*outn = i - start;
		*pos = i + 1;
		return 0;
	}
	if (scratch == NULL)
		return -2;
	o = scratch;
	memcpy(o, s + start, i - start);
	o += i - start;
	while (i < len && s[i] != '"') {
		unsigned cp, lo;

		if (s[i] < 0x20)
			return -1;
		if (s[i] != '\\') {
			*o++ = (char)s[i++];
			continue;
		}
		if (++i >= len)
			return -1;
		switch (s[i]) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (len - i < 5 || jtext_hex4(str + i + 1, &cp) != 0)
				return -1;
			i += 4;
			if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (len - i < 7 || s[i + 1] != '\\' || s[i + 2] != 'u' ||
				    jtext_hex4(str + i + 3, &lo) != 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return -1;
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp < 0x80) {
				*o++ = (char)cp;
			} else if (cp < 0x800) {
				*o++ = (char)(0xc0 | cp >> 6);
				*o++ = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				*o++ = (char)(0xe0 | cp >> 12);
				*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
				*o++ = (char)(0x80 | (cp & 0x3f));
			} else {
				*o++ = (char)(0xf0 | cp >> 18);
				*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
				*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
				*o++ = (char)(0x80 | (cp & 0x3f));
			}
			break;
		default:
			return -1;
		}
		i++;
	}
	if (i >= len)
		return -1;
	*out = scratch;
	*outn = *used = (size_t)(o - scratch);
	*pos = i + 1;
	return 0;
}

size_t
jtext_escape(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, w = 1, run;

	if (o != NULL)
		o[0] = '"';
	for (i = 0; i < n; ) {
		unsigned char c;
		char e = 0;

		/* the run that needs no escape, copied whole */
		for (run = i; i < n; i++) {
			c = (unsigned char)s[i];
			if (c < 0x20 || c == '"' || c == '\\')
				break;
		}
		if (i > run) {
			if (o != NULL)
				memcpy(o + w, s + run, i - run);
			w += i - run;
		}
		if (i == n)
			break;
		c = (unsigned char)s[i++];
		switch (c) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '\b': e = 'b'; break;
		case '\f': e = 'f'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		default: break;
		}
		if (e != 0) {
			if (o != NULL) {
				o[w] = '\\';
				o[w + 1] = e;
			}
			w += 2;
		} else {
			if (o != NULL) {
				memcpy(o + w, "\\u00", 4);
				o[w + 4] = hex[c >> 4];
				o[w + 5] = hex[c & 15];
			}
			w += 6;
		}
	}
	if (o != NULL)
		o[w] = '"';
	return w + 1;
}

/* -- the loader -------------------------------------------------------------- */

static void
jtext_ws(const char *s, size_t n, size_t *pos)
{
	while (*pos < n && (s[*pos] == ' ' || s[*pos] == '\t' ||
	    s[*pos] == '\n' || s[*pos] == '\r'))
		(*pos)++;
}

/* -?(0|[1-9][0-9]{0,17}) not followed by a fraction, exponent or digit. */
static json_t *
jtext_integer(const char *s, size_t n, size_t *pos)
{
	size_t i = *pos, nd = 0;
	long long v = 0;
	int neg = 0;

	if (i < n && s[i] == '-') {
		neg = 1;
		i++;
	}
	if (i >= n || s[i] < '0' || s[i] > '9')
		return NULL;
	if (s[i] == '0') {
		i++;
	} else {
		while (i < n && s[i] >= '0' && s[i] <= '9' && nd < 18) {
			v = v * 10 + (s[i] - '0');
			i++;
			nd++;
		}
	}
	if (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
	    s[i] == 'e' || s[i] == 'E'))
		return NULL;
	*pos = i;
	return json_integer(neg ? -v : v);
}

/* A scalar value at s[*pos], or NULL (declined). */
static json_t *
jtext_scalar(const char *s, size_t n, size_t *pos, char *scratch)
{
	const char *p;
	size_t pn, used;

	switch (s[*pos]) {
	case '"':
		if (jtext_string(s, n, pos, scratch, &p, &pn, &used) != 0 ||
		    !jtext_utf8_valid((const unsigned char *)p, pn))
			return NULL;
		return json_stringn_nocheck(p, pn);
	case 't':
		if (n - *pos >= 4 && memcmp(s + *pos, "true", 4) == 0) {
			*pos += 4;
			return json_true();
		}
		return NULL;
	case 'f':
		if (n - *pos >= 5 && memcmp(s + *pos, "false", 5) == 0) {
			*pos += 5;
			return json_false();
		}
		return NULL;
	case 'n':
		if (n - *pos >= 4 && memcmp(s + *pos, "null", 4) == 0) {
			*pos += 4;
			return json_null();
		}
		return NULL;
	default:
		return jtext_integer(s, n, pos);
	}
}

json_t *
jtext_load(const char *s, size_t n, char *scratch)
{
	json_t *stack[JTEXT_DEPTH_MAX], *v;
	size_t depth = 0, pos = 0;
	int first;

	jtext_ws(s, n, &pos);
	if (pos >= n || (s[pos] != '{' && s[pos] != '['))
		return NULL;
	if ((stack[0] = s[pos] == '{' ? json_object() : json_array()) == NULL)
		return NULL;
	depth = 1;
	pos++;
	first = 1;
	for (;;) {
		json_t *top = stack[depth - 1];
		int obj = json_is_object(top);
		const char *key = NULL;
		size_t klen = 0, kused = 0;

		jtext_ws(s, n, &pos);
		if (pos >= n)
			goto decline;
		if (s[pos] == (obj ? '}' : ']')) {
			pos++;
			if (--depth == 0)
				break;
			first = 0;
			continue;
		}
		if (!first) {
			if (s[pos] != ',')
				goto decline;
			pos++;
			jtext_ws(s, n, &pos);
		}
		first = 0;
		if (obj) {
			if (jtext_string(s, n, &pos, scratch, &key, &klen,
			    &kused) != 0 ||
			    !jtext_utf8_valid((const unsigned char *)key, klen))
				goto decline;
			jtext_ws(s, n, &pos);
			if (pos >= n || s[pos] != ':')
				goto decline;
			pos++;
			jtext_ws(s, n, &pos);
		}
		if (pos >= n)
			goto decline;
		if (s[pos] == '{' || s[pos] == '[') {
			if (depth == JTEXT_DEPTH_MAX)
				goto decline;
			v = s[pos] == '{' ? json_object() : json_array();
			pos++;
			first = 1;
		} else {
			/* a string value's escapes go after the key's (both
			 * are copied into the tree before the next member) */
			v = jtext_scalar(s, n, &pos, scratch + kused);
		}
		if (v == NULL)
			goto decline;
		/* the container holds the one reference; its slot on the
		 * stack borrows it */
		if ((obj ? json_object_setn_new_nocheck(top, key, klen, v) :
		    json_array_append_new(top, v)) != 0)
			goto decline;
		if (first)
			stack[depth++] = v;
	}
	jtext_ws(s, n, &pos);
	if (pos != n) {
		json_decref(stack[0]);
		return NULL;
	}
	return stack[0];
decline:
	json_decref(stack[0]);
	return NULL;
}
