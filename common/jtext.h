/* common/jtext.h — JSON text without jansson's per-byte lexer: one copy of
 * the string rules for the gateway's ingest fast path (gateway/record.c)
 * and the production's record reader (api/production.c).
 *
 * jansson reads a string a byte at a time, appending each to a growing
 * buffer, and json_dumpb writes one a character at a time: for records of
 * ~1 KB they were 22 % and 9 % of a production build's CPU (perf, issue
 * 17.4).  Everything here only accepts or declines: a declined text goes
 * to jansson, which accepts it or says why, so no error text comes from
 * here.  What is accepted is exactly what jansson makes of it
 * (test_jtext and fuzz_jtext compare the two on every input they have).
 */
#ifndef COFFER_COMMON_JTEXT_H
#define COFFER_COMMON_JTEXT_H

#include <stddef.h>

#include <jansson.h>

/* Nesting accepted by jtext_load (deeper: declined). */
#define JTEXT_DEPTH_MAX 32U

/* 1 when s[0..len) is UTF-8 as RFC 3629 has it (no overlong form, no
 * surrogate, nothing above U+10FFFF), else 0. */
int jtext_utf8_valid(const unsigned char *s, size_t len);

/* The JSON string whose opening quote is at s[*pos], decoded: borrowed
 * from s when it holds no escape (*used = 0), else written to scratch
 * (room for at least the rest of s; *used = bytes written).  \u0000 and
 * unpaired surrogates are declined; UTF-8 is not checked (the caller's
 * rule).  0 with *pos after the closing quote, -1 (declined), or -2: it
 * holds an escape and scratch is NULL (*pos unchanged: call again with
 * one; most strings need none). */
int jtext_string(const char *s, size_t len, size_t *pos, char *scratch,
    const char **out, size_t *outn, size_t *used);

/* s[0..n) as a quoted JSON string, byte for byte what json_dumps writes
 * without JSON_ENSURE_ASCII and JSON_ESCAPE_SLASH (s must be valid
 * UTF-8).  o NULL only counts.  The length written. */
size_t jtext_escape(char *o, const char *s, size_t n);

/* A JSON object or array as jansson's json_loadb(s, n, 0) makes it (the
 * same values, keys in the same order), or NULL: declined (anything
 * malformed, a number that is not a plain integer of at most 18 digits,
 * nesting deeper than JTEXT_DEPTH_MAX, or out of memory) — hand it to
 * json_loadb.  scratch: at least n bytes, for strings with escapes; the
 * caller wipes it when it held content. */
json_t *jtext_load(const char *s, size_t n, char *scratch);

#endif
