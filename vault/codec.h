/* vault/codec.h — byte codecs the programs need without touching libsodium.
 *
 * gateway/ and api/ never call libsodium directly (DESIGN.md); this wraps its
 * constant-time base64 codec so callers can check untrusted input.
 */
#ifndef COFFER_VAULT_CODEC_H
#define COFFER_VAULT_CODEC_H

#include <stddef.h>

/* 0 when b64[0..len) is standard base64 (RFC 4648 section 4 alphabet, '='
 * padding required, length a multiple of 4, no whitespace, zero trailing
 * bits) and decodes; *decoded_len is then the decoded size.  -1 otherwise
 * (*decoded_len 0).  Decodes in fixed-size chunks on the stack, so memory use
 * does not grow with len; the decoded bytes are wiped before returning.
 * The empty string is valid (0 bytes). */
int vault_base64_check(const char *b64, size_t len, size_t *decoded_len)
    __attribute__((warn_unused_result));

#endif
