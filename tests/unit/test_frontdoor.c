/* tests/unit/test_frontdoor.c — api/frontdoor.c's rules on a complete
 * request head, one case per refusal (exact status, code and message)
 * and the heads that pass, and the refusal's rendering: one status line,
 * Connection: close, the security headers, the JSON error with the
 * request id.  No sockets (tests/integration/api_frontdoor.sh has them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/frontdoor.h"

#define H   "Host: 127.0.0.1\r\n"
#define MAXB 1000U
#define NUL_CL "POST /v1/matters HTTP/1.1\r\n" H "Content-Length: 5\0" "6\r\n\r\n"

static void
test_frontdoor_rules(void **state)
{
	static const struct {
		const char *name;
		const char *head;
		size_t      len;            /* 0: strlen */
		unsigned    status;         /* 0: passes */
		const char *code, *message;
		unsigned long long clen;
	} cases[] = {
		{ "plain GET", "GET /v1/whoami HTTP/1.1\r\n" H "\r\n", 0, 0,
		  NULL, NULL, 0 },
		{ "HTTP/1.0 without Host", "GET /v1/whoami HTTP/1.0\r\n\r\n", 0, 0,
		  NULL, NULL, 0 },
		{ "POST with Content-Length", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 12\r\n\r\n", 0, 0, NULL, NULL, 12 },
		{ "Content-Length at the limit", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 1000\r\n\r\n", 0, 0, NULL, NULL, 1000 },
		{ "Expect 100-continue", "POST /v1/matters HTTP/1.1\r\n" H
		  "Expect: 100-Continue\r\nContent-Length: 2\r\n\r\n", 0, 0,
		  NULL, NULL, 2 },
		{ "percent-encoding in the query", "GET /v1/audit?from=%41 "
		  "HTTP/1.1\r\n" H "\r\n", 0, 0, NULL, NULL, 0 },
		{ "OWS around values", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: \t7 \r\n\r\n", 0, 0, NULL, NULL, 7 },

		{ "CL with TE", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
		  400, "bad_request", "Content-Length together with "
		  "Transfer-Encoding", 0 },
		{ "TE with CL", "POST /v1/matters HTTP/1.1\r\n" H
		  "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0,
		  400, "bad_request", "Content-Length together with "
		  "Transfer-Encoding", 0 },
		{ "two different CLs", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, 400,
		  "bad_request", "repeated Content-Length", 0 },
		{ "two equal CLs", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 5\r\ncontent-length: 5\r\n\r\n", 0, 400,
		  "bad_request", "repeated Content-Length", 0 },
		{ "chunked twice", "POST /v1/matters HTTP/1.1\r\n" H
		  "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
		  "\r\n", 0, 400, "bad_request", "repeated Transfer-Encoding", 0 },
		{ "chunked, identity", "POST /v1/matters HTTP/1.1\r\n" H
		  "Transfer-Encoding: chunked, identity\r\n\r\n", 0, 400,
		  "bad_request", "Transfer-Encoding other than chunked", 0 },
		{ "xchunked", "POST /v1/matters HTTP/1.1\r\n" H
		  "Transfer-Encoding: xchunked\r\n\r\n", 0, 400, "bad_request",
		  "Transfer-Encoding other than chunked", 0 },
		{ "chunked", "POST /v1/matters HTTP/1.1\r\n" H
		  "Transfer-Encoding: Chunked\r\n\r\n", 0, 411, "length_required",
		  "chunked request bodies are not accepted; send one "
		  "Content-Length", 0 },
		{ "NUL inside CL", NUL_CL, sizeof(NUL_CL) - 1, 400, "bad_request",
		  "invalid byte in the request head", 0 },
		{ "DEL byte", "GET /v1/whoami HTTP/1.1\r\n" H "X: \x7f\r\n\r\n", 0,
		  400, "bad_request", "invalid byte in the request head", 0 },
		{ "8-bit byte", "GET /v1/whoami HTTP/1.1\r\n" H "X: \xc3\xa9\r\n\r\n",
		  0, 400, "bad_request", "invalid byte in the request head", 0 },
		{ "bare LF", "GET /v1/whoami HTTP/1.1\n" H "\r\n", 0, 400,
		  "bad_request", "bare CR or LF in the request head", 0 },
		{ "bare CR", "GET /v1/whoami HTTP/1.1\r" H "\r\n", 0, 400,
		  "bad_request", "bare CR or LF in the request head", 0 },
		{ "obs-fold", "GET /v1/whoami HTTP/1.1\r\n" H "X-A: b\r\n c\r\n\r\n",
		  0, 400, "bad_request", "obs-fold header line continuation", 0 },
		{ "space before colon", "POST /v1/matters HTTP/1.1\r\n" H
		  "Transfer-Encoding : chunked\r\n\r\n", 0, 400, "bad_request",
		  "invalid header name", 0 },
		{ "no colon", "GET /v1/whoami HTTP/1.1\r\n" H "X-A\r\n\r\n", 0, 400,
		  "bad_request", "invalid header name", 0 },
		{ "empty name", "GET /v1/whoami HTTP/1.1\r\n" H ": v\r\n\r\n", 0, 400,
		  "bad_request", "invalid header name", 0 },
		{ "CL not digits", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 5x\r\n\r\n", 0, 400, "bad_request",
		  "invalid Content-Length", 0 },
		{ "CL signed", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: +5\r\n\r\n", 0, 400, "bad_request",
		  "invalid Content-Length", 0 },
		{ "CL empty", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: \r\n\r\n", 0, 400, "bad_request",
		  "invalid Content-Length", 0 },
		{ "CL list", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 5, 5\r\n\r\n", 0, 400, "bad_request",
		  "invalid Content-Length", 0 },
		{ "CL 20 digits", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 00000000000000000001\r\n\r\n", 0, 400,
		  "bad_request", "invalid Content-Length", 0 },
		{ "CL over the limit", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 1001\r\n\r\n", 0, 413, "payload_too_large",
		  "the request body is too large", 0 },
		{ "CL 19 nines", "POST /v1/matters HTTP/1.1\r\n" H
		  "Content-Length: 9999999999999999999\r\n\r\n", 0, 413,
		  "payload_too_large", "the request body is too large", 0 },
		{ "no Host", "GET /v1/whoami HTTP/1.1\r\n\r\n", 0, 400,
		  "bad_request", "missing or repeated Host", 0 },
		{ "two Hosts", "GET /v1/whoami HTTP/1.1\r\n" H H "\r\n", 0, 400,
		  "bad_request", "missing or repeated Host", 0 },
		{ "Expect other", "POST /v1/matters HTTP/1.1\r\n" H
		  "Expect: 200-ok\r\nContent-Length: 2\r\n\r\n", 0, 417,
		  "expectation_failed", "unsupported Expect", 0 },
		{ "HTTP/2.0", "GET /v1/whoami HTTP/2.0\r\n" H "\r\n", 0, 505,
		  "http_version_not_supported", "HTTP version not supported", 0 },
		{ "HTTP/1.2", "GET /v1/whoami HTTP/1.2\r\n" H "\r\n", 0, 505,
		  "http_version_not_supported", "HTTP version not supported", 0 },
		{ "HTTP/1.10", "GET /v1/whoami HTTP/1.10\r\n" H "\r\n", 0, 400,
		  "bad_request", "malformed request line", 0 },
		{ "absolute-form", "GET http://x/v1/whoami HTTP/1.1\r\n" H "\r\n", 0,
		  400, "bad_request", "malformed request line", 0 },
		{ "asterisk", "OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "malformed request line", 0 },
		{ "two spaces", "GET  /v1/whoami HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "malformed request line", 0 },
		{ "tab in target", "GET /v1/who\tami HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "malformed request line", 0 },
		{ "no version", "GET /v1/whoami\r\n" H "\r\n", 0, 400,
		  "bad_request", "malformed request line", 0 },
		{ "method not a token", "G(T /v1/whoami HTTP/1.1\r\n" H "\r\n", 0,
		  400, "bad_request", "malformed request line", 0 },
		{ "leading empty line", "\r\nGET /v1/whoami HTTP/1.1\r\n" H "\r\n",
		  0, 400, "bad_request", "malformed request line", 0 },
		{ "%77hoami", "GET /v1/%77hoami HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "percent-encoding in the request path", 0 },
		{ "%00", "GET /v1/whoami%00junk HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "percent-encoding in the request path", 0 },
		{ "%2F", "GET /v1%2Fwhoami HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "percent-encoding in the request path", 0 },
		{ "%5C", "GET /v1/whoami%5c HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "percent-encoding in the request path", 0 },
		{ "%2e%2e", "GET /%2e%2e/etc/passwd HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "percent-encoding in the request path", 0 },
		{ "lone %", "GET /v1/who%ami HTTP/1.1\r\n" H "\r\n", 0, 400,
		  "bad_request", "percent-encoding in the request path", 0 },
		{ "%00 in the query", "GET /v1/audit?from=2026%00x HTTP/1.1\r\n" H
		  "\r\n", 0, 400, "bad_request", "encoded NUL in the request "
		  "target", 0 },
		{ "no end", "GET /v1/whoami HTTP/1.1\r\n" H, 0, 400, "bad_request",
		  "malformed request head", 0 },
	};
	frontdoor_verdict v;
	unsigned long long clen;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].head);

		clen = 77;
		rc = frontdoor_check_head(cases[i].head, len, MAXB, &clen, &v);
		if (cases[i].status == 0) {
			if (rc != 0)
				fail_msg("%s: refused %u %s", cases[i].name, v.status,
				    v.message);
			assert_int_equal(v.status, 0);
			assert_int_equal(clen, cases[i].clen);
			continue;
		}
		if (rc == 0)
			fail_msg("%s: passed", cases[i].name);
		if (v.status != cases[i].status ||
		    strcmp(v.code, cases[i].code) != 0 ||
		    strcmp(v.message, cases[i].message) != 0)
			fail_msg("%s: %u %s \"%s\", expected %u %s \"%s\"",
			    cases[i].name, v.status, v.code, v.message,
			    cases[i].status, cases[i].code, cases[i].message);
		assert_int_equal(clen, 0);
	}
}

static void
test_frontdoor_limits(void **state)
{
	char *head = malloc(FRONTDOOR_HEAD_MAX + 64), *p;
	frontdoor_verdict v;
	unsigned long long clen;
	size_t n;

	(void)state;
	assert_non_null(head);
	/* a target of exactly the cap passes; one byte more is 414 */
	p = head;
	p += sprintf(p, "GET /");
	memset(p, 'a', FRONTDOOR_TARGET_MAX - 1);
	p += FRONTDOOR_TARGET_MAX - 1;
	p += sprintf(p, " HTTP/1.1\r\n" H "\r\n");
	assert_int_equal(frontdoor_check_head(head, (size_t)(p - head), MAXB,
	    &clen, &v), 0);
	p = head;
	p += sprintf(p, "GET /");
	memset(p, 'a', FRONTDOOR_TARGET_MAX);
	p += FRONTDOOR_TARGET_MAX;
	p += sprintf(p, " HTTP/1.1\r\n" H "\r\n");
	assert_int_equal(frontdoor_check_head(head, (size_t)(p - head), MAXB,
	    &clen, &v), -1);
	assert_int_equal(v.status, 414);
	assert_string_equal(v.code, "uri_too_long");
	assert_string_equal(v.message, "the request target is too long");
	/* a head of FRONTDOOR_HEAD_MAX passes, one byte more is 431 */
	p = head;
	p += sprintf(p, "GET /v1/whoami HTTP/1.1\r\n" H "X-Pad: ");
	n = FRONTDOOR_HEAD_MAX - (size_t)(p - head) - 4;
	memset(p, 'p', n);
	p += n;
	p += sprintf(p, "\r\n\r\n");
	assert_int_equal((size_t)(p - head), FRONTDOOR_HEAD_MAX);
	assert_int_equal(frontdoor_check_head(head, (size_t)(p - head), MAXB,
	    &clen, &v), 0);
	memmove(head + 1, head, FRONTDOOR_HEAD_MAX);
	memcpy(head, "GET /v1/whoami HTTP/1.1\r\n", 25);
	memmove(head + 25 + 1, head + 25, FRONTDOOR_HEAD_MAX - 25);
	head[25] = 'X';
	assert_int_equal(frontdoor_check_head(head, FRONTDOOR_HEAD_MAX + 1,
	    MAXB, &clen, &v), -1);
	assert_int_equal(v.status, 431);
	assert_string_equal(v.code, "request_header_too_large");
	free(head);
}

static void
test_frontdoor_render(void **state)
{
	frontdoor_verdict v = { 400, "bad_request",
	    "repeated Content-Length" };
	char out[2048];
	const char *rid = "00112233445566778899aabbccddeeff", *body;
	size_t n;

	(void)state;
	n = frontdoor_render(&v, rid, 1, out, sizeof(out) - 1);
	assert_true(n > 0);
	out[n] = '\0';
	assert_true(strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	assert_null(strstr(out + 1, "HTTP/1.1"));        /* status line once */
	assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(out, "\r\nX-Request-Id: "
	    "00112233445566778899aabbccddeeff\r\n"));
	assert_non_null(strstr(out, "\r\nStrict-Transport-Security: "));
	assert_non_null(strstr(out, "\r\nX-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(out, "\r\nCache-Control: no-store\r\n"));
	assert_non_null(strstr(out, "\r\nX-Frame-Options: DENY\r\n"));
	assert_non_null(strstr(out, "\r\nContent-Security-Policy: "));
	assert_non_null(strstr(out, "\r\nReferrer-Policy: no-referrer\r\n"));
	assert_non_null(strstr(out, "\r\nContent-Type: application/json\r\n"));
	body = strstr(out, "\r\n\r\n");
	assert_non_null(body);
	assert_string_equal(body + 4, "{\"error\":{\"code\":\"bad_request\","
	    "\"message\":\"repeated Content-Length\",\"request_id\":"
	    "\"00112233445566778899aabbccddeeff\"}}\n");
	/* plain (metrics listener): no HSTS */
	n = frontdoor_render(&v, rid, 0, out, sizeof(out) - 1);
	assert_true(n > 0);
	out[n] = '\0';
	assert_null(strstr(out, "Strict-Transport-Security"));
	/* too small a buffer: nothing */
	assert_int_equal(frontdoor_render(&v, rid, 1, out, 100), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frontdoor_rules),
		cmocka_unit_test(test_frontdoor_limits),
		cmocka_unit_test(test_frontdoor_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
