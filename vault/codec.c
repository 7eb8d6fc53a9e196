/* vault/codec.c — base64 validation through libsodium's codec.
 *
 * Trusts libsodium's sodium_base642bin (constant-time, rejects non-zero
 * trailing bits and wrong padding).  Input is untrusted and may be many
 * megabytes: it is decoded in chunks of VAULT_B64_CHUNK characters, which is
 * exact for the padded variant as long as only the last chunk may hold '='.
 * The decoded bytes may be message content, so the scratch buffer is wiped.
 * The big-endian integer helpers are plain shifts, no libsodium.
 */
#include "vault/codec.h"

#include <string.h>

#include <sodium.h>

#define VAULT_B64_CHUNK 4096U                 /* characters, multiple of 4 */
#define VAULT_B64_OUT   (VAULT_B64_CHUNK / 4U * 3U)

int
vault_base64_check(const char *b64, size_t len, size_t *decoded_len)
{
	unsigned char out[VAULT_B64_OUT];
	size_t off = 0, total = 0;
	int rc = -1;

	*decoded_len = 0;
	if (b64 == NULL || len % 4U != 0)
		return -1;
	while (off < len) {
		size_t n = len - off, got = 0;

		if (n > VAULT_B64_CHUNK)
			n = VAULT_B64_CHUNK;
		/* Padding is legal only at the very end of the whole string. */
		if (off + n < len && memchr(b64 + off, '=', n) != NULL)
			goto done;
		if (sodium_base642bin(out, sizeof(out), b64 + off, n, NULL, &got,
		    NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
			goto done;
		total += got;
		off += n;
	}
	*decoded_len = total;
	rc = 0;
done:
	sodium_memzero(out, sizeof(out));
	return rc;
}

/* -- big-endian integers ------------------------------------------------- */

void
vault_be64_put(unsigned char out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xffU);
		v >>= 8;
	}
}

uint64_t
vault_be64_get(const void *p)
{
	const unsigned char *u = p;
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | u[i];
	return v;
}

void
vault_be32_put(unsigned char out[4], uint32_t v)
{
	out[0] = (unsigned char)(v >> 24);
	out[1] = (unsigned char)(v >> 16);
	out[2] = (unsigned char)(v >> 8);
	out[3] = (unsigned char)v;
}

uint32_t
vault_be32_get(const void *p)
{
	const unsigned char *u = p;

	return ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) |
	    ((uint32_t)u[2] << 8) | u[3];
}

size_t
vault_utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp)
{
	unsigned char c = s[0];
	uint32_t v;
	size_t n, k;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		v = c & 0x1fU;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		v = c & 0x0fU;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		v = c & 0x07U;
	} else {
		return 0;       /* continuation, C0/C1 overlong lead, F5..FF */
	}
	if (avail - 1 < n)
		return 0;
	for (k = 1; k <= n; k++) {
		if ((s[k] & 0xc0U) != 0x80U)
			return 0;
		v = (v << 6) | (s[k] & 0x3fU);
	}
	if ((n == 2 && v < 0x800U) || (n == 3 && v < 0x10000U) ||
	    v > 0x10ffffU || (v >= 0xd800U && v <= 0xdfffU))
		return 0;
	*cp = v;
	return n + 1;
}
