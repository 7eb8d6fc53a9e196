/* tests/fuzz/fuzz_frontdoor.c — libFuzzer target for api/frontdoor.c's
 * rules (frontdoor_check_head) and its refusal (frontdoor_render).
 *
 * The input is a request head as a peer sends it.  Beyond "does not
 * crash": a verdict is either a pass (status 0, a Content-Length within
 * the limit) or one of the documented refusals with a code and a
 * message; a head that passes has only VCHAR / SP / HT / CRLF bytes, no
 * '%' in its path, no "%00" anywhere in its target, and at most one
 * Content-Length and no Transfer-Encoding; every refusal renders to one
 * response with one status line that quotes nothing of the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/frontdoor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_BODY 4096U

static size_t
fz_count_headers(const char *h, size_t len, const char *name)
{
	size_t n = 0, nl = strlen(name), i;

	for (i = 0; i + nl + 3 <= len; i++)
		if (h[i] == '\n' && strncasecmp(h + i + 1, name, nl) == 0 &&
		    h[i + 1 + nl] == ':')
			n++;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *h = (const char *)data, *sp, *q;
	frontdoor_verdict v;
	unsigned long long clen = 1;
	char out[2048];
	size_t i, n, tlen;
	int rc;

	rc = frontdoor_check_head(h, size, FZ_MAX_BODY, &clen, &v);
	if (rc == 0) {
		if (v.status != 0 || clen > FZ_MAX_BODY)
			abort();
		for (i = 0; i < size; i++) {
			unsigned char ch = (unsigned char)h[i];

			if (!(ch == '\r' || ch == '\n' || ch == '\t' ||
			    (ch >= 0x20 && ch < 0x7f)))
				abort();
		}
		sp = memchr(h, ' ', size);
		if (sp == NULL)
			abort();
		q = memchr(sp + 1, ' ', size - (size_t)(sp + 1 - h));
		if (q == NULL)
			abort();
		tlen = (size_t)(q - sp - 1);
		for (i = 0; i < tlen && sp[1 + i] != '?'; i++)
			if (sp[1 + i] == '%')
				abort();
		for (i = 0; i + 2 < tlen; i++)
			if (memcmp(sp + 1 + i, "%00", 3) == 0)
				abort();
		if (fz_count_headers(h, size, "content-length") > 1 ||
		    fz_count_headers(h, size, "transfer-encoding") > 0)
			abort();
		return 0;
	}
	if (rc != -1 || v.code == NULL || v.message == NULL || clen != 0)
		abort();
	switch (v.status) {
	case 400: case 411: case 413: case 414: case 417: case 431: case 505:
		break;
	default:
		abort();
	}
	n = frontdoor_render(&v, "00000000000000000000000000000000",
	    (int)(size & 1), out, sizeof(out) - 1);
	if (n == 0)
		abort();
	out[n] = '\0';
	if (strncmp(out, "HTTP/1.1 ", 9) != 0 || strstr(out + 1, "HTTP/1.") != NULL)
		abort();
	return 0;
}
