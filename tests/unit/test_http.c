/* tests/unit/test_http.c — gateway HTTP framing (gateway/http.c).
 *
 * Raw request bytes go straight into http_feed(); a small driver plays the
 * transport: it continues every head, answers application requests with
 * 200 "len=<body bytes>", and collects what would be written.  Tables list
 * good requests, each request-smuggling shape (CL+TE, duplicate and
 * malformed Content-Length, obfuscated Transfer-Encoding, bare LF/CR,
 * obs-fold, chunk-size overflow and chunks over the body limit), the limits
 * (huge and many headers, fed a byte at a time too) and the routes
 * (including the probe paths of THREATS T2) with the statuses expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/http.h"

#define OUT_CAP 65536

typedef struct result {
	char   out[OUT_CAP];
	size_t out_len;
	int    closed;          /* the module asked to close */
	int    requests;        /* HTTP_EV_REQUEST seen */
	int    last_route;
	char   bodies[512];     /* bodies handed to the app, '|' separated */
} result;

typedef enum drive_mode {
	DRIVE_CONTINUE,         /* continue every head */
	DRIVE_REJECT_429        /* reject every head with 429, Retry-After 7 */
} drive_mode;

static void
drain(http_conn *c, result *r)
{
	const char *d;
	size_t n;

	while ((n = http_output(c, &d)) > 0) {
		size_t k = n;
		/* write in two pieces to exercise partial writes */
		if (k > 3)
			k = k / 2;
		if (r->out_len + k < OUT_CAP) {
			memcpy(r->out + r->out_len, d, k);
			r->out_len += k;
			r->out[r->out_len] = '\0';
		}
		http_output_advance(c, k);
	}
	if (http_closing(c))
		r->closed = 1;
}

/* Feed data; returns how many bytes were consumed (the rest stays with the
 * caller, as net.c keeps it for the next round). */
static size_t
drive(http_conn *c, const char *data, size_t len, result *r, drive_mode mode)
{
	size_t off = 0;

	for (;;) {
		http_event ev;
		size_t n;

		drain(c, r);
		if (r->closed)
			return off;
		n = http_feed(c, data + off, len - off, &ev);
		off += n;
		switch (ev) {
		case HTTP_EV_NONE:
			break;
		case HTTP_EV_HEADERS:
			if (mode == DRIVE_REJECT_429)
				http_reject(c, 429, 7);
			else
				http_continue(c);
			continue;
		case HTTP_EV_REQUEST: {
			size_t blen = 0;
			char *body = http_take_body(c, &blen);
			char *resp = malloc(64);
			int rl;

			assert_non_null(resp);
			r->requests++;
			r->last_route = (int)http_route_of(c);
			if (body != NULL)
				assert_int_equal(body[blen], '\0');
			if (strlen(r->bodies) + blen + 2 < sizeof(r->bodies)) {
				if (body != NULL)
					strncat(r->bodies, body, blen);
				strcat(r->bodies, "|");
			}
			free(body);
			rl = snprintf(resp, 64, "len=%zu", blen);
			http_respond(c, 200, 0, "text/plain", resp, (size_t)rl);
			continue;
		}
		case HTTP_EV_RESPONSE:
			continue;
		}
		if (n == 0 || off == len) {
			drain(c, r);
			return off;
		}
	}
}

/* Status codes of every response in r->out, comma separated. */
static void
statuses(const result *r, char *buf, size_t cap)
{
	const char *p = r->out;

	buf[0] = '\0';
	while ((p = strstr(p, "HTTP/1.1 ")) != NULL) {
		char code[8];
		memcpy(code, p + 9, 3);
		code[3] = '\0';
		if (buf[0] != '\0')
			strncat(buf, ",", cap - strlen(buf) - 1);
		strncat(buf, code, cap - strlen(buf) - 1);
		p += 12;
	}
}

static http_conn *
conn_new(http_routes routes)
{
	http_limits lim = { 1024, 4096, routes };
	http_conn *c = NULL;

	assert_int_equal(http_conn_new(&c, &lim), 0);
	return c;
}

typedef struct http_case {
	const char *name;
	const char *raw;
	size_t      raw_len;     /* 0 = strlen(raw) */
	const char *want;        /* statuses, e.g. "200,404" */
	int         want_close;
	const char *want_bodies; /* NULL = don't check */
} http_case;

static void
run_cases(const http_case *cases, size_t n, http_routes routes)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const http_case *t = &cases[i];
		http_conn *c = conn_new(routes);
		result *r = calloc(1, sizeof(*r));
		size_t len = t->raw_len ? t->raw_len : strlen(t->raw);
		char got[256];

		assert_non_null(r);
		drive(c, t->raw, len, r, DRIVE_CONTINUE);
		statuses(r, got, sizeof(got));
		if (strcmp(got, t->want) != 0 || r->closed != t->want_close ||
		    (t->want_bodies != NULL && strcmp(r->bodies, t->want_bodies) != 0))
			fail_msg("case '%s': statuses '%s' (want '%s'), closed %d "
			    "(want %d), bodies '%s' (want '%s'), error '%s'", t->name,
			    got, t->want, r->closed, t->want_close, r->bodies,
			    t->want_bodies ? t->want_bodies : "-", http_error(c));
		http_conn_free(&c);
		assert_null(c);
		free(r);
	}
}

#define H  "Host: gw\r\n"

/* -- good requests ---------------------------------------------------------- */

static const http_case good_cases[] = {
	{ "healthz", "GET /healthz HTTP/1.1\r\n" H "\r\n", 0, "200", 0, "" },
	{ "healthz query", "GET /healthz?x=1 HTTP/1.1\r\n" H "\r\n", 0, "200", 0, NULL },
	{ "records CL", "POST /v1/records HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhello",
	  0, "200", 0, "hello|" },
	{ "records CL 0", "POST /v1/records HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n",
	  0, "200", 0, "|" },
	{ "records chunked",
	  "POST /v1/records HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
	  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, "200", 0, "hello world|" },
	{ "records chunked, case and hex",
	  "POST /v1/records HTTP/1.1\r\n" H "transfer-encoding: Chunked\r\n\r\n"
	  "A\r\n0123456789\r\n00\r\n\r\n", 0, "200", 0, "0123456789|" },
	{ "records binary body",
	  "POST /v1/records HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\n\x00\xff\n",
	  sizeof("POST /v1/records HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\n\x00\xff\n") - 1,
	  "200", 0, NULL },
	{ "expect 100-continue",
	  "POST /v1/records HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
	  0, "100,200", 0, "ok|" },
	{ "HTTP/1.0 closes", "GET /healthz HTTP/1.0\r\n\r\n", 0, "200", 1, NULL },
	{ "HTTP/1.0 keep-alive still closes",
	  "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, "200", 1, NULL },
	{ "Connection: close", "GET /healthz HTTP/1.1\r\n" H "Connection: close\r\n\r\n",
	  0, "200", 1, NULL },
	{ "leading CRLF", "\r\nGET /healthz HTTP/1.1\r\n" H "\r\n", 0, "200", 0, NULL },
	{ "pipelined keep-alive",
	  "GET /healthz HTTP/1.1\r\n" H "\r\n"
	  "POST /v1/records HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\nabc"
	  "POST /v1/records HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
	  "GET /nope HTTP/1.1\r\n" H "\r\n"
	  "GET /healthz HTTP/1.1\r\n" H "\r\n", 0, "200,200,200,404,200", 0, "abc|de|" },
	{ "no length on records: 411 then keep going",
	  "POST /v1/records HTTP/1.1\r\n" H "\r\nGET /healthz HTTP/1.1\r\n" H "\r\n",
	  0, "411,200", 0, "" },
	{ "upgrade is answered then closed",
	  "GET /healthz HTTP/1.1\r\n" H "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	  "GET /healthz HTTP/1.1\r\n" H "\r\n", 0, "200", 1, NULL },
};

static void
test_good(void **state)
{
	(void)state;
	run_cases(good_cases, sizeof(good_cases) / sizeof(good_cases[0]),
	    HTTP_ROUTES_GATEWAY);
}

/* -- request smuggling and malformed heads: 400 (or 505/417) and close ------ */

#define P "POST /v1/records HTTP/1.1\r\n" H

static const http_case smuggle_cases[] = {
	{ "CL then TE", P "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE then CL", P "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "duplicate CL, same value", P "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	  0, "400", 1, "" },
	{ "duplicate CL, other value", P "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	  0, "400", 1, "" },
	{ "CL list", P "Content-Length: 5, 5\r\n\r\nhello", 0, "400", 1, "" },
	{ "CL sign", P "Content-Length: +5\r\n\r\nhello", 0, "400", 1, "" },
	{ "CL empty", P "Content-Length:\r\n\r\nhello", 0, "400", 1, "" },
	{ "CL overflow", P "Content-Length: 99999999999999999999999\r\n\r\n", 0, "400", 1, "" },
	{ "TE gzip", P "Transfer-Encoding: gzip\r\n\r\nhello", 0, "400", 1, "" },
	{ "TE gzip, chunked", P "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE chunked, chunked", P "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE identity", P "Transfer-Encoding: identity\r\n\r\n", 0, "400", 1, "" },
	{ "TE empty", P "Transfer-Encoding:\r\n\r\n", 0, "400", 1, "" },
	{ "TE twice", P "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE space before colon", P "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE vertical tab", P "Transfer-Encoding:\x0b" "chunked\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE on HTTP/1.0", "POST /v1/records HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE obs-folded", P "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 0, "400", 1, "" },
	{ "obs-fold in any header", "GET /healthz HTTP/1.1\r\n" H "X-A: b\r\n\tc\r\n\r\n",
	  0, "400", 1, NULL },
	{ "first header line folded", "GET /healthz HTTP/1.1\r\n " H "\r\n", 0, "400", 1, NULL },
	{ "bare LF", "GET /healthz HTTP/1.1\n" H "\n", 0, "400", 1, NULL },
	{ "bare LF in one header", "GET /healthz HTTP/1.1\r\nX: y\n" H "\r\n", 0, "400", 1, NULL },
	{ "bare CR", "GET /healthz HTTP/1.1\r\nX: a\rb\r\n" H "\r\n", 0, "400", 1, NULL },
	{ "NUL in a value", "GET /healthz HTTP/1.1\r\n" H "X: a\0b\r\n\r\n",
	  sizeof("GET /healthz HTTP/1.1\r\n" H "X: a\0b\r\n\r\n") - 1, "400", 1, NULL },
	{ "control byte in a value", "GET /healthz HTTP/1.1\r\n" H "X: a\x01" "b\r\n\r\n",
	  0, "400", 1, NULL },
	{ "DEL in a value", "GET /healthz HTTP/1.1\r\n" H "X: a\x7f" "b\r\n\r\n", 0, "400", 1, NULL },
	{ "8-bit byte in a value", "GET /healthz HTTP/1.1\r\n" H "X: caf\xc3\xa9\r\n\r\n",
	  0, "400", 1, NULL },
	{ "space in a header name", "GET /healthz HTTP/1.1\r\n" H "X Y: 1\r\n\r\n", 0, "400", 1, NULL },
	{ "colon-less header", "GET /healthz HTTP/1.1\r\n" H "Xyz\r\n\r\n", 0, "400", 1, NULL },
	{ "tab in the target", "GET /hea\tlthz HTTP/1.1\r\n" H "\r\n", 0, "400", 1, NULL },
	{ "8-bit byte in the target", "GET /\xff HTTP/1.1\r\n" H "\r\n", 0, "400", 1, NULL },
	{ "chunk extension", P "Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "chunk extension with bare LF",
	  P "Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n", 0, "400", 1, "" },
	{ "chunk size with blank", P "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "chunk size not hex", P "Transfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "chunk data overrun", P "Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "chunk trailer field",
	  P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", 0, "400", 1, "" },
	{ "missing Host", "GET /healthz HTTP/1.1\r\n\r\n", 0, "400", 1, NULL },
	{ "two Hosts", "GET /healthz HTTP/1.1\r\n" H H "\r\n", 0, "400", 1, NULL },
	{ "HTTP/1.2", "GET /healthz HTTP/1.2\r\n" H "\r\n", 0, "505", 1, NULL },
	{ "HTTP/0.9", "GET /healthz\r\n\r\n", 0, "505", 1, NULL },
	{ "HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, "400", 1, NULL },
	{ "lower-case method", "get /healthz HTTP/1.1\r\n" H "\r\n", 0, "400", 1, NULL },
	{ "Expect other", P "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 0, "417", 1, "" },
	{ "upgrade with a body", P "Connection: upgrade\r\nUpgrade: x\r\nContent-Length: 1\r\n\r\nx",
	  0, "400", 1, "" },
	{ "TLS hello on the plain port", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	  0, "400", 1, NULL },

	/* obfuscated Transfer-Encoding */
	{ "TE quoted", P "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", 0, "400", 1, "" },
	{ "TE with a parameter", P "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE chunked, identity", P "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE prefix", P "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 0, "400", 1, "" },
	{ "TE comma first", P "Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n", 0, "400", 1, "" },
	{ "TE NUL after the value",
	  P "Transfer-Encoding: chunked\0\r\n\r\n0\r\n\r\n",
	  sizeof(P "Transfer-Encoding: chunked\0\r\n\r\n0\r\n\r\n") - 1, "400", 1, "" },
	{ "TE 8-bit look-alike", P "Transfer-Encoding: chunk\xc3\xa9" "d\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE with CL 0", P "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "TE folded onto CL", P "Content-Length: 3\r\n Transfer-Encoding: chunked\r\n\r\nabc",
	  0, "400", 1, "" },
	{ "TE header name with underscore is just another header",
	  P "Transfer_Encoding: chunked\r\n\r\n0\r\n\r\n", 0, "411,400", 1, "" },
	/* Content-Length shapes */
	{ "CL hex", P "Content-Length: 0x5\r\n\r\nhello", 0, "400", 1, "" },
	{ "CL negative", P "Content-Length: -1\r\n\r\n", 0, "400", 1, "" },
	{ "CL 2^64", P "Content-Length: 18446744073709551616\r\n\r\n", 0, "400", 1, "" },
	{ "CL two values one line", P "Content-Length: 5 5\r\n\r\nhello", 0, "400", 1, "" },
	{ "CL space before colon", P "Content-Length : 5\r\n\r\nhello", 0, "400", 1, "" },
	{ "duplicate CL, second empty", P "Content-Length: 5\r\nContent-Length:\r\n\r\nhello",
	  0, "400", 1, "" },
	/* chunk sizes */
	{ "chunk size overflow (18 hex digits)",
	  P "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "chunk size 2^64-1",
	  P "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "chunk size 2^63 (over the body limit)",
	  P "Transfer-Encoding: chunked\r\n\r\n8000000000000000\r\nhello",
	  0, "413", 1, "" },
	{ "chunk size just over the body limit",
	  P "Transfer-Encoding: chunked\r\n\r\n1001\r\nhello", 0, "413", 1, "" },
	{ "chunk size over the limit, no data yet",
	  P "Transfer-Encoding: chunked\r\n\r\n7fffffff\r\n", 0, "413", 1, "" },
	{ "second chunk size over what is left",
	  P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nffc\r\n", 0, "413", 1, "" },
	{ "chunk size negative", P "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "chunk size 0x prefix",
	  P "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 0, "400", 1, "" },
	{ "chunk size missing", P "Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n",
	  0, "400", 1, "" },
	{ "chunk data without CRLF",
	  P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n", 0, "400", 1, "" },
	{ "chunk data with bare LF",
	  P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 0, "400", 1, "" },
	{ "last chunk with bare LF",
	  P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\n\r\n", 0, "400", 1, "" },
};

static void
test_smuggling(void **state)
{
	(void)state;
	run_cases(smuggle_cases, sizeof(smuggle_cases) / sizeof(smuggle_cases[0]),
	    HTTP_ROUTES_GATEWAY);
}

/* -- routes and probes (THREATS T2, T11) ------------------------------------- */

static const http_case route_cases[] = {
	{ "GET records", "GET /v1/records HTTP/1.1\r\n" H "\r\n", 0, "405", 0, NULL },
	{ "DELETE records", "DELETE /v1/records HTTP/1.1\r\n" H "\r\n", 0, "405", 0, NULL },
	{ "PUT records with body", "PUT /v1/records HTTP/1.1\r\n" H "Content-Length: 2\r\n\r\nab",
	  0, "405", 1, NULL },
	{ "POST healthz", "POST /healthz HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n", 0, "405", 0, NULL },
	{ "POST healthz with body", "POST /healthz HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\nabc",
	  0, "405", 1, NULL },
	{ "GET healthz with body", "GET /healthz HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\nabc",
	  0, "400", 1, NULL },
	{ "HEAD healthz", "HEAD /healthz HTTP/1.1\r\n" H "\r\n", 0, "405", 0, NULL },
	{ "TRACE /", "TRACE / HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "TRACE healthz", "TRACE /healthz HTTP/1.1\r\n" H "\r\n", 0, "405", 0, NULL },
	{ "TRACE records", "TRACE /v1/records HTTP/1.1\r\n" H "\r\n", 0, "405", 0, NULL },
	{ "OPTIONS *", "OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "OPTIONS records", "OPTIONS /v1/records HTTP/1.1\r\n" H "\r\n", 0, "405", 0, NULL },
	{ "CONNECT", "CONNECT gw:443 HTTP/1.1\r\n" H "\r\n", 0, "404", 1, NULL },
	{ "/heapdump", "GET /heapdump HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/actuator/health", "GET /actuator/health HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/actuator/heapdump", "GET /actuator/heapdump HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/management", "GET /management HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/debug", "GET /debug HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/env", "GET /env HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/.git/config", "GET /.git/config HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/metrics on the gateway", "GET /metrics HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "trailing slash", "GET /healthz/ HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "upper case path", "GET /HEALTHZ HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "encoded slash", "POST /v1%2Frecords HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n",
	  0, "404", 0, NULL },
	{ "dot segment", "GET /x/../healthz HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "absolute form", "GET http://gw/healthz HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "long target", "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n" H "\r\n",
	  0, "404", 0, NULL },
	{ "probe with a body closes", "POST /actuator/env HTTP/1.1\r\n" H "Content-Length: 4\r\n\r\n{}{}",
	  0, "404", 1, NULL },
	{ "probes then health on one connection",
	  "GET /heapdump HTTP/1.1\r\n" H "\r\nGET /env HTTP/1.1\r\n" H "\r\n"
	  "GET /healthz HTTP/1.1\r\n" H "\r\n", 0, "404,404,200", 0, NULL },
};

static void
test_routes(void **state)
{
	(void)state;
	run_cases(route_cases, sizeof(route_cases) / sizeof(route_cases[0]),
	    HTTP_ROUTES_GATEWAY);
}

static const http_case metrics_cases[] = {
	{ "GET metrics", "GET /metrics HTTP/1.1\r\n" H "\r\n", 0, "200", 0, "|" },
	{ "POST metrics", "POST /metrics HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n", 0, "405", 0, NULL },
	{ "healthz not on metrics", "GET /healthz HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "records not on metrics", "POST /v1/records HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n",
	  0, "404", 0, NULL },
	{ "/heapdump", "GET /heapdump HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/actuator/health", "GET /actuator/health HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/management", "GET /management HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/debug", "GET /debug HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/env", "GET /env HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "/.git/config", "GET /.git/config HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
	{ "TRACE metrics", "TRACE /metrics HTTP/1.1\r\n" H "\r\n", 0, "405", 0, NULL },
	{ "OPTIONS *", "OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, "404", 0, NULL },
};

static void
test_metrics_routes(void **state)
{
	(void)state;
	run_cases(metrics_cases, sizeof(metrics_cases) / sizeof(metrics_cases[0]),
	    HTTP_ROUTES_METRICS);
}

/* -- limits (max_header_bytes 1024, max_body_bytes 4096 in these tests) ----- */

static void
test_limits(void **state)
{
	char big[8192];
	http_case t[6];
	size_t i;
	int n;

	(void)state;
	memset(t, 0, sizeof(t));

	/* head over 1024 bytes: 431 and close */
	n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\n" H "X-Pad: ");
	memset(big + n, 'a', 1100);
	memcpy(big + n + 1100, "\r\n\r\n", 5);
	t[0] = (http_case){ "head too large", big, 0, "431", 1, NULL };
	run_cases(&t[0], 1, HTTP_ROUTES_GATEWAY);

	/* a flood of blank lines counts against the head */
	for (i = 0; i < 2000; i++)
		memcpy(big + 2 * i, "\r\n", 2);
	big[4000] = '\0';
	t[1] = (http_case){ "CRLF flood", big, 0, "431", 1, NULL };
	run_cases(&t[1], 1, HTTP_ROUTES_GATEWAY);

	/* declared body over 4096: 413 at once, body never read */
	t[2] = (http_case){ "declared body too large",
	    P "Content-Length: 4097\r\n\r\n", 0, "413", 1, "" };
	t[3] = (http_case){ "declared body at the limit",
	    P "Content-Length: 4096\r\n\r\n", 0, "", 0, "" };
	run_cases(&t[2], 2, HTTP_ROUTES_GATEWAY);

	/* chunked body over 4096: 413 while reading */
	n = snprintf(big, sizeof(big), P "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 5; i++) {
		n += snprintf(big + n, sizeof(big) - (size_t)n, "400\r\n");
		memset(big + n, 'x', 1024);
		n += 1024;
		n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n");
	}
	n += snprintf(big + n, sizeof(big) - (size_t)n, "0\r\n\r\n");
	t[4] = (http_case){ "chunked body too large", big, 0, "413", 1, "" };
	run_cases(&t[4], 1, HTTP_ROUTES_GATEWAY);

	/* exactly 4096 chunked bytes pass */
	n = snprintf(big, sizeof(big), P "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 4; i++) {
		n += snprintf(big + n, sizeof(big) - (size_t)n, "400\r\n");
		memset(big + n, 'y', 1024);
		n += 1024;
		n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n");
	}
	n += snprintf(big + n, sizeof(big) - (size_t)n, "0\r\n\r\n");
	t[5] = (http_case){ "chunked body at the limit", big, 0, "200", 0, NULL };
	run_cases(&t[5], 1, HTTP_ROUTES_GATEWAY);
}

/* -- hostile sizes: many headers, huge lines, fed in small pieces ---------- */

/* Feed data in pieces of at most `piece` bytes, keeping what the module did
 * not consume (as net.c does).  Returns the bytes consumed in total. */
static size_t
drive_pieces(http_conn *c, const char *data, size_t len, size_t piece,
    result *r)
{
	char *pend = malloc(len + 1);
	size_t have = 0, off = 0, used = 0;

	assert_non_null(pend);
	while (off < len && !r->closed) {
		size_t k = len - off < piece ? len - off : piece, n;

		memcpy(pend + have, data + off, k);
		have += k;
		off += k;
		n = drive(c, pend, have, r, DRIVE_CONTINUE);
		used += n;
		memmove(pend, pend + n, have - n);
		have -= n;
	}
	free(pend);
	return used;
}

static void
hostile_one(const char *name, const char *raw, size_t len, size_t piece,
    const char *want, int want_close, const char *want_out)
{
	http_conn *c = conn_new(HTTP_ROUTES_GATEWAY);
	result *r = calloc(1, sizeof(*r));
	char got[64];
	size_t used;

	assert_non_null(r);
	used = drive_pieces(c, raw, len, piece, r);
	statuses(r, got, sizeof(got));
	if (strcmp(got, want) != 0 || r->closed != want_close ||
	    (want_out != NULL && strstr(r->out, want_out) == NULL))
		fail_msg("%s: statuses '%s' (want '%s'), closed %d, error '%s'",
		    name, got, want, r->closed, http_error(c));
	/* a refused head is never read much past the limit (1024) */
	if (strcmp(want, "431") == 0 && used > 1024 + 16)
		fail_msg("%s: %zu bytes consumed past a 1024-byte head limit",
		    name, used);
	http_conn_free(&c);
	free(r);
}

static void
test_hostile_sizes(void **state)
{
	size_t cap = 256 * 1024, n, i, pieces[] = { 1, 7, 4096, 256 * 1024 };
	char *b = malloc(cap);
	unsigned k;

	(void)state;
	assert_non_null(b);
	for (k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		size_t pc = pieces[k];

		/* 200 tiny headers fit in 1024 bytes: fine */
		n = (size_t)snprintf(b, cap, "GET /healthz HTTP/1.1\r\n" H);
		for (i = 0; i < 200; i++)
			n += (size_t)snprintf(b + n, cap - n, "a:\r\n");
		n += (size_t)snprintf(b + n, cap - n, "\r\n");
		hostile_one("200 tiny headers", b, n, pc, "200", 0, NULL);

		/* 10 000 headers: 431 at the limit, the rest never read */
		n = (size_t)snprintf(b, cap, "GET /healthz HTTP/1.1\r\n" H);
		for (i = 0; i < 10000; i++)
			n += (size_t)snprintf(b + n, cap - n, "X-A: b\r\n");
		n += (size_t)snprintf(b + n, cap - n, "\r\n");
		hostile_one("10000 headers", b, n, pc, "431", 1, "headers_too_large");

		/* a 100 KB request target */
		n = (size_t)snprintf(b, cap, "GET /");
		memset(b + n, 'a', 100000);
		n += 100000;
		n += (size_t)snprintf(b + n, cap - n, " HTTP/1.1\r\n" H "\r\n");
		hostile_one("100 KB request line", b, n, pc, "431", 1, NULL);

		/* a 5000-byte header name, and a 200 KB header value */
		n = (size_t)snprintf(b, cap, "GET /healthz HTTP/1.1\r\n" H);
		memset(b + n, 'N', 5000);
		n += 5000;
		n += (size_t)snprintf(b + n, cap - n, ": v\r\n\r\n");
		hostile_one("5000-byte header name", b, n, pc, "431", 1, NULL);
		n = (size_t)snprintf(b, cap, P "X-Big: ");
		memset(b + n, 'v', 200000);
		n += 200000;
		n += (size_t)snprintf(b + n, cap - n, "\r\nContent-Length: 1\r\n\r\nx");
		hostile_one("200 KB header value", b, n, pc, "431", 1, NULL);

		/* 4096 one-byte chunks: framing does not count against the
		 * body, the body limit is met exactly */
		n = (size_t)snprintf(b, cap, P "Transfer-Encoding: chunked\r\n\r\n");
		for (i = 0; i < 4096; i++)
			n += (size_t)snprintf(b + n, cap - n, "1\r\nz\r\n");
		n += (size_t)snprintf(b + n, cap - n, "0\r\n\r\n");
		hostile_one("4096 one-byte chunks", b, n, pc, "200", 0, "len=4096");
		/* ... and one more byte is 413 */
		n = (size_t)snprintf(b, cap, P "Transfer-Encoding: chunked\r\n\r\n");
		for (i = 0; i < 4097; i++)
			n += (size_t)snprintf(b + n, cap - n, "1\r\nz\r\n");
		n += (size_t)snprintf(b + n, cap - n, "0\r\n\r\n");
		hostile_one("4097 one-byte chunks", b, n, pc, "413", 1, NULL);

		/* leading zeros in a chunk size are still hex digits */
		n = (size_t)snprintf(b, cap, P "Transfer-Encoding: chunked\r\n\r\n");
		memset(b + n, '0', 100);
		n += 100;
		n += (size_t)snprintf(b + n, cap - n, "5\r\nhello\r\n0\r\n\r\n");
		hostile_one("chunk size with 100 leading zeros", b, n, pc, "200", 0,
		    "len=5");

		/* a huge chunk size split across pieces: 413 before its data */
		n = (size_t)snprintf(b, cap, P "Transfer-Encoding: chunked\r\n\r\n"
		    "fffffffffff\r\n");
		memset(b + n, 'd', 8192);
		n += 8192;
		hostile_one("huge chunk size, then data", b, n, pc, "413", 1, NULL);
	}
	free(b);
}

/* -- response headers ------------------------------------------------------- */

static void
test_response_headers(void **state)
{
	static const char req[] = "GET /nope HTTP/1.1\r\n" H "\r\n"
	    "GET /v1/records HTTP/1.1\r\n" H "\r\n"
	    "GET /healthz HTTP/1.1\r\n" H "\r\n"
	    "HEAD /healthz HTTP/1.1\r\n" H "\r\n";
	http_conn *c = conn_new(HTTP_ROUTES_GATEWAY);
	result *r = calloc(1, sizeof(*r));
	const char *p;

	(void)state;
	assert_non_null(r);
	drive(c, req, sizeof(req) - 1, r, DRIVE_CONTINUE);
	p = r->out;
	assert_non_null(strstr(p, "HTTP/1.1 404 Not Found\r\n"));
	assert_non_null(strstr(p, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(p, "Content-Length: 22\r\n"));
	assert_non_null(strstr(p, "Cache-Control: no-store\r\n"));
	assert_non_null(strstr(p, "X-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(p, "\r\n\r\n{\"error\":\"not_found\"}\n"));
	assert_non_null(strstr(p, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(p, "Allow: POST\r\n"));
	assert_non_null(strstr(p, "Allow: GET\r\n"));
	assert_non_null(strstr(p, "{\"status\":\"ok\"}\n"));
	assert_null(strstr(p, "Server:"));
	assert_null(strstr(p, "Connection: close"));
	/* the HEAD answer carries no body: the output ends with its head */
	assert_int_equal(strcmp(p + r->out_len - 4, "\r\n\r\n"), 0);
	http_conn_free(&c);
	free(r);
}

static void
test_reject_and_retry_after(void **state)
{
	static const char bodyless[] = "GET /healthz HTTP/1.1\r\n" H "\r\n"
	    "GET /healthz HTTP/1.1\r\n" H "\r\n";
	static const char bodied[] = P "Content-Length: 3\r\n\r\nabc"
	    "GET /healthz HTTP/1.1\r\n" H "\r\n";
	http_conn *c = conn_new(HTTP_ROUTES_GATEWAY);
	result *r = calloc(1, sizeof(*r));
	char got[64];

	(void)state;
	assert_non_null(r);
	/* bodyless: 429 twice on the same connection */
	drive(c, bodyless, sizeof(bodyless) - 1, r, DRIVE_REJECT_429);
	statuses(r, got, sizeof(got));
	assert_string_equal(got, "429,429");
	assert_int_equal(r->closed, 0);
	assert_non_null(strstr(r->out, "Retry-After: 7\r\n"));
	assert_non_null(strstr(r->out, "{\"error\":\"rate_limited\"}"));
	http_conn_free(&c);

	/* with a body announced: 429 at once, then close (body never read) */
	memset(r, 0, sizeof(*r));
	c = conn_new(HTTP_ROUTES_GATEWAY);
	drive(c, bodied, sizeof(bodied) - 1, r, DRIVE_REJECT_429);
	statuses(r, got, sizeof(got));
	assert_string_equal(got, "429");
	assert_int_equal(r->closed, 1);
	assert_int_equal(r->requests, 0);
	http_conn_free(&c);

	/* the application answers 503 with Retry-After */
	{
		static const char req[] = P "Content-Length: 1\r\n\r\nx";
		http_event ev;
		size_t off = 0;
		const char *d;
		size_t n, blen;
		char out[1024] = "";
		char *b;

		c = conn_new(HTTP_ROUTES_GATEWAY);
		off += http_feed(c, req + off, sizeof(req) - 1 - off, &ev);
		assert_int_equal(ev, HTTP_EV_HEADERS);
		assert_int_equal(http_in_request(c), 1);
		http_continue(c);
		off += http_feed(c, req + off, sizeof(req) - 1 - off, &ev);
		assert_int_equal(ev, HTTP_EV_REQUEST);
		assert_int_equal(off, sizeof(req) - 1);
		/* nothing more is parsed before the answer */
		assert_int_equal(http_feed(c, "GET", 3, &ev), 0);
		b = http_take_body(c, &blen);
		assert_int_equal(blen, 1);
		free(b);
		http_respond(c, 503, 5, NULL, NULL, 0);
		while ((n = http_output(c, &d)) > 0) {
			strncat(out, d, n);
			http_output_advance(c, n);
		}
		assert_non_null(strstr(out, "HTTP/1.1 503 Service Unavailable\r\n"));
		assert_non_null(strstr(out, "Retry-After: 5\r\n"));
		assert_non_null(strstr(out, "{\"error\":\"unavailable\"}"));
		assert_int_equal(http_in_request(c), 0);
		http_conn_free(&c);
	}
	free(r);
}

/* -- one pipelined exchange split at every byte boundary -------------------- */

static void
test_split_everywhere(void **state)
{
	static const char req[] =
	    "POST /v1/records HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhello"
	    "POST /v1/records HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
	    "GET /healthz HTTP/1.1\r\n" H "\r\n";
	size_t len = sizeof(req) - 1, k;

	(void)state;
	for (k = 0; k <= len; k++) {
		http_conn *c = conn_new(HTTP_ROUTES_GATEWAY);
		result *r = calloc(1, sizeof(*r));
		char buf[sizeof(req)], got[64];
		size_t used, keep;

		assert_non_null(r);
		used = drive(c, req, k, r, DRIVE_CONTINUE);
		keep = k - used;                 /* unconsumed, kept for later */
		memcpy(buf, req + used, keep);
		memcpy(buf + keep, req + k, len - k);
		used = drive(c, buf, keep + len - k, r, DRIVE_CONTINUE);
		assert_int_equal(used, keep + len - k);
		statuses(r, got, sizeof(got));
		if (strcmp(got, "200,200,200") != 0 ||
		    strcmp(r->bodies, "hello|abcde|") != 0 || r->closed)
			fail_msg("split at %zu: '%s' bodies '%s' closed %d", k, got,
			    r->bodies, r->closed);
		http_conn_free(&c);
		free(r);
	}
}

/* -- the shutdown path: Connection: close on the next answer --------------- */

static void
test_set_closing(void **state)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\n" H "\r\n";
	http_conn *c = conn_new(HTTP_ROUTES_GATEWAY);
	result *r = calloc(1, sizeof(*r));
	http_event ev;

	(void)state;
	assert_non_null(r);
	assert_int_equal(http_feed(c, req, 5, &ev), 5);   /* mid-head */
	assert_int_equal(http_in_request(c), 1);
	http_set_closing(c);
	drive(c, req + 5, sizeof(req) - 1 - 5, r, DRIVE_CONTINUE);
	assert_non_null(strstr(r->out, "Connection: close\r\n"));
	assert_int_equal(r->closed, 1);
	http_conn_free(&c);

	/* an idle connection closes at once */
	c = conn_new(HTTP_ROUTES_GATEWAY);
	http_set_closing(c);
	assert_int_equal(http_closing(c), 1);
	http_conn_free(&c);
	http_conn_free(&c);          /* NULL-safe */
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_metrics_routes),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hostile_sizes),
		cmocka_unit_test(test_response_headers),
		cmocka_unit_test(test_reject_and_retry_after),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_set_closing),
	};

	http_global_init(1024);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
