/* tests/fuzz/fuzz_http.c — libFuzzer target for gateway/http.c framing.
 *
 * The first input byte picks the routes, how the caller answers heads
 * (continue / 429) and the read size; the rest is fed as raw bytes in
 * pieces of that size, the way net.c feeds what it reads, keeping
 * unconsumed bytes for the next round.  Application requests are answered
 * with a small body.  Everything must stay bounded and leak-free.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
drain(http_conn *c)
{
	const char *d;
	size_t n;

	while ((n = http_output(c, &d)) > 0) {
		/* touch every byte so ASan sees the whole response */
		volatile char sink = 0;
		size_t i;
		for (i = 0; i < n; i++)
			sink ^= d[i];
		(void)sink;
		http_output_advance(c, n > 7 ? n - 7 : n);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	http_limits lim = { 1024, 8192, HTTP_ROUTES_GATEWAY };
	http_conn *c = NULL;
	char pending[4096 + 64];
	size_t plen = 0, off, step;
	unsigned mode;
	int rounds = 0;

	if (!ready) {
		http_global_init(1024);
		ready = 1;
	}
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (mode & 1)
		lim.routes = HTTP_ROUTES_METRICS;
	step = 1 + ((mode >> 3) & 0x1f) * 16;       /* 1..497 bytes a read */
	if (http_conn_new(&c, &lim) != 0)
		return 0;
	off = 0;
	while ((off < size || plen > 0) && rounds++ < 100000) {
		http_event ev;
		size_t n, take;

		drain(c);
		if (http_closing(c))
			break;
		take = size - off < step ? size - off : step;
		if (plen + take > sizeof(pending))
			take = sizeof(pending) - plen;
		memcpy(pending + plen, data + off, take);
		plen += take;
		off += take;
		n = http_feed(c, pending, plen, &ev);
		memmove(pending, pending + n, plen - n);
		plen -= n;
		switch (ev) {
		case HTTP_EV_HEADERS:
			if (mode & 2)
				http_reject(c, 429, 3);
			else
				http_continue(c);
			break;
		case HTTP_EV_REQUEST: {
			size_t blen;
			char *b = http_take_body(c, &blen);
			char *r = malloc(32);
			if (b != NULL && b[blen] != '\0')
				abort();
			free(b);
			if (r == NULL)
				break;
			snprintf(r, 32, "{\"n\":%zu}", blen);
			http_respond(c, (mode & 4) ? 503 : 200, 2, NULL, r, strlen(r));
			break;
		}
		case HTTP_EV_NONE:
		case HTTP_EV_RESPONSE:
			break;
		}
		if (n == 0 && ev == HTTP_EV_NONE && take == 0)
			break;              /* stuck: nothing new and nothing taken */
	}
	http_conn_free(&c);
	return 0;
}
