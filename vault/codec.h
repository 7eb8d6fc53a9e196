/* vault/codec.h — byte codecs the programs need without touching libsodium.
 *
 * gateway/ and api/ never call libsodium directly (DESIGN.md); this wraps its
 * constant-time base64 codec so callers can check untrusted input.  It
 * also holds the big-endian integer helpers every layer's encodings use
 * (vault/ may not include common/, so they live here, not in common/pg).
 */
#ifndef COFFER_VAULT_CODEC_H
#define COFFER_VAULT_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* 0 when b64[0..len) is standard base64 (RFC 4648 section 4 alphabet, '='
 * padding required, length a multiple of 4, no whitespace, zero trailing
 * bits) and decodes; *decoded_len is then the decoded size.  -1 otherwise
 * (*decoded_len 0).  Decodes in fixed-size chunks on the stack, so memory use
 * does not grow with len; the decoded bytes are wiped before returning.
 * The empty string is valid (0 bytes). */
int vault_base64_check(const char *b64, size_t len, size_t *decoded_len)
    __attribute__((warn_unused_result));

/* Big-endian integers, the one copy: leaf and checkpoint encodings, record
 * AD, production files, and PostgreSQL's binary int8/int4/timestamptz and
 * COPY fields (common/pg.h).  The readers take PQgetvalue()'s char * or
 * bytes alike; the caller has checked the length first. */
void     vault_be64_put(unsigned char out[8], uint64_t v);
uint64_t vault_be64_get(const void *p);
void     vault_be32_put(unsigned char out[4], uint32_t v);
uint32_t vault_be32_get(const void *p);

/* UTF-8 (RFC 3629), the one decoder: the ingest path's and the production
 * builder's JSON strings (common/jtext.c) and the blind index's inputs
 * (vault/blind.c).  s[0] is a byte >= 0x80 and avail >= 1 the bytes there
 * are from s on.  Returns the length (2 to 4) of the well-formed sequence
 * that starts at s, with its code point in *cp; 0 when there is none: a
 * continuation or F5..FF lead, an overlong form, a surrogate, a code
 * point above U+10FFFF, or a sequence cut short by avail. */
size_t vault_utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp);

#endif
