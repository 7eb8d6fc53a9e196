/* gateway/http.c — HTTP/1.1 request framing, limits, routing, responses.
 *
 * Framing is http-parser's (Debian libhttp-parser, 2.9).  That build is
 * lenient, so on top of it this module refuses, with 400 and a close:
 *   - any byte of the request head outside VCHAR / SP / HT / CRLF, bare CR
 *     or bare LF, and obs-fold (a header line starting with SP or HT);
 *   - header names that are not RFC 9110 tokens ("Transfer-Encoding :");
 *   - Content-Length together with Transfer-Encoding, a repeated
 *     Content-Length or Transfer-Encoding, any Transfer-Encoding value but
 *     exactly "chunked", Transfer-Encoding on HTTP/1.0;
 *   - chunk framing with anything but hex digits and CRLF (chunk
 *     extensions, whitespace, bare LF) and trailer fields;
 *   - (413) a chunk size larger than what is left of max_body_bytes, as
 *     soon as its line ends, before any of its data is read;
 *   - HTTP versions other than 1.0 and 1.1 (505), a missing or repeated
 *     Host on HTTP/1.1, Expect other than 100-continue (417).
 * http-parser itself refuses malformed or overflowing Content-Length, bad
 * chunk sizes, invalid methods and most control bytes; those map to 400.
 *
 * Limits: max_header_bytes counts every byte of the head, including blank
 * lines before the request line (431 above it); max_body_bytes bounds the
 * decoded body (413: at once for a declared Content-Length, while reading
 * for chunked).  Bodies grow on demand, never from the declared length.
 *
 * Trusts: nothing from the peer.  Responses are fixed short JSON, or what
 * the caller hands to http_respond(); no server version, no echo of input.
 */
#include "gateway/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <http_parser.h>

#include "vault/mem.h"

#define HTTP_TARGET_CAP   256U     /* routes are short; longer is 404 */
#define HTTP_NAME_CAP     24U      /* longest header name we look at */
#define HTTP_VALUE_CAP    32U      /* longest TE / Expect value we keep */
#define HTTP_BODY_MIN     4096U
#define HTTP_OUT_SEGS     4U
#define HTTP_HEAD_CAP     512

typedef enum http_state {
	ST_IDLE,            /* between requests */
	ST_HEAD,            /* inside the request head */
	ST_HEADERS_DONE,    /* HTTP_EV_HEADERS given, waiting for the caller */
	ST_BODY,            /* reading the body (or the head's final LF) */
	ST_DISPATCHED,      /* HTTP_EV_REQUEST given, waiting for http_respond */
	ST_SKIP,            /* answered from the head; parse its end silently */
	ST_CLOSED           /* an error or a close response was queued */
} http_state;

typedef enum http_hdr {
	HDR_OTHER,
	HDR_CONTENT_LENGTH,
	HDR_TRANSFER_ENCODING,
	HDR_HOST,
	HDR_EXPECT
} http_hdr;

typedef struct http_seg {
	const char *data;
	size_t      len;
	char       *owned;      /* wiped and freed once written */
	size_t      owned_len;
} http_seg;

/* Request bodies carry message content and responses carry the client's
 * message ids: every such buffer is wiped before it goes back to the heap
 * (vault_free_wiped, vault_grow), so a later heap read (or a core that
 * should never exist) finds nothing. */
struct http_conn {
	http_parser  p;
	http_limits  lim;
	http_state   state;
	int          paused_at;     /* 1 headers complete, 2 message complete */

	/* current request */
	size_t       head_bytes;
	int          prev_byte;     /* last head/framing byte, for CR/LF rules */
	char         target[HTTP_TARGET_CAP];
	size_t       target_len;
	int          target_long;
	char         name[HTTP_NAME_CAP];
	size_t       name_len;
	int          name_long;
	http_hdr     cur_hdr;
	int          in_value;      /* last callback was a header value */
	char         te[HTTP_VALUE_CAP];
	size_t       te_len;
	char         expect[HTTP_VALUE_CAP];
	size_t       expect_len;
	int          value_long;    /* a TE/Expect value did not fit */
	unsigned     n_cl, n_te, n_host, n_expect;
	int          bad_name;      /* a header name was not a token */
	int          trailer;       /* header fields after the body started */
	http_route   route;
	int          method_ok;     /* route found and method allowed */
	const char  *allow;         /* Allow header for 405 */
	int          chunked;
	int          has_body;
	int          head_method;   /* HEAD request: no response body */
	int          close_after;   /* this request ends the connection */

	/* body */
	char        *body;
	size_t       body_len, body_cap;

	/* chunk framing scan within one http_parser_execute call */
	const char  *scan_from;
	int          framing_bad;
	uint64_t     chunk_size;    /* hex digits of the current size line */
	int          chunk_huge;    /* ... too many of them (>= 2^60) */
	int          chunk_over;    /* a size line over the body budget */

	/* error from a callback */
	int          err_status;
	const char  *err_reason;
	const char  *last_error;

	/* output */
	http_seg     out[HTTP_OUT_SEGS];
	unsigned     out_head, out_n;
	int          status;
	int          closing;       /* close once the output is written */
	int          force_close;   /* shutdown: every response closes */
};

static http_parser_settings http_settings;
static int http_settings_ready;

/* ------------------------------------------------------------------------ */
/* byte classes                                                             */

static int
http_is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return strchr("!#$%&'*+-.^_`|~", ch) != NULL && ch != '\0';
}

/* Head bytes: VCHAR, SP, HT, CR and LF only; CR always followed by LF, LF
 * always preceded by CR, and no line (after the request line) beginning
 * with SP or HT (obs-fold).  Returns 0 or -1 with a reason. */
static int
http_scan_head(http_conn *c, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)data[i];
		int prev = c->prev_byte;

		c->prev_byte = ch;
		if (prev == '\r' && ch != '\n') {
			c->err_reason = "bare CR in the request head";
			return -1;
		}
		if (ch == '\n' && prev != '\r') {
			c->err_reason = "bare LF in the request head";
			return -1;
		}
		if ((ch == ' ' || ch == '\t') && prev == '\n') {
			c->err_reason = "obs-fold header line continuation";
			return -1;
		}
		if (ch == '\r' || ch == '\n' || ch == '\t' ||
		    (ch >= 0x20 && ch < 0x7f))
			continue;
		c->err_reason = "invalid byte in the request head";
		return -1;
	}
	return 0;
}

/* Chunk framing bytes (everything in a chunked body that is not data):
 * hex digits and CRLF only.  Each size line's value is checked against
 * what is left of max_body_bytes when its LF arrives (chunk_over), so a
 * peer announcing a huge chunk is refused before it sends any of it. */
static void
http_scan_framing(http_conn *c, const char *from, const char *to)
{
	const char *q;

	for (q = from; q < to; q++) {
		unsigned char ch = (unsigned char)*q;
		int prev = c->prev_byte, d = -1;

		c->prev_byte = ch;
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		if ((prev == '\r' && ch != '\n') || (ch == '\n' && prev != '\r') ||
		    !(ch == '\r' || ch == '\n' || d >= 0)) {
			c->framing_bad = 1;
			return;
		}
		if (d >= 0) {
			if (c->chunk_size >> 56 != 0)
				c->chunk_huge = 1;
			else
				c->chunk_size = c->chunk_size * 16 + (uint64_t)d;
		} else if (ch == '\n') {
			if (c->chunk_huge ||
			    c->chunk_size > c->lim.max_body_bytes - c->body_len)
				c->chunk_over = 1;
			c->chunk_size = 0;
			c->chunk_huge = 0;
			if (c->chunk_over)
				return;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* http-parser callbacks: they record, the decisions are made in http_feed */

static void
http_reset_request(http_conn *c)
{
	c->target_len = 0;
	c->target_long = 0;
	c->name_len = 0;
	c->name_long = 0;
	c->cur_hdr = HDR_OTHER;
	c->in_value = 0;
	c->te_len = 0;
	c->expect_len = 0;
	c->value_long = 0;
	c->n_cl = c->n_te = c->n_host = c->n_expect = 0;
	c->bad_name = 0;
	c->trailer = 0;
	c->route = HTTP_ROUTE_NONE;
	c->method_ok = 0;
	c->allow = NULL;
	c->chunked = 0;
	c->has_body = 0;
	c->head_method = 0;
	c->close_after = 0;
	c->framing_bad = 0;
	c->chunk_size = 0;
	c->chunk_huge = 0;
	c->chunk_over = 0;
	c->err_status = 0;
	c->err_reason = NULL;
	c->last_error = "";
}

static int
http_cb_message_begin(http_parser *p)
{
	http_conn *c = p->data;

	http_reset_request(c);
	c->state = ST_HEAD;
	return 0;
}

static int
http_cb_url(http_parser *p, const char *at, size_t len)
{
	http_conn *c = p->data;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)at[i];
		if (ch <= 0x20 || ch >= 0x7f) {
			c->err_status = 400;
			c->err_reason = "invalid byte in the request target";
			return 1;
		}
	}
	if (c->target_len + len >= sizeof(c->target)) {
		c->target_long = 1;
		len = sizeof(c->target) - 1 - c->target_len;
	}
	memcpy(c->target + c->target_len, at, len);
	c->target_len += len;
	c->target[c->target_len] = '\0';
	return 0;
}

static http_hdr
http_classify(const char *name)
{
	if (strcmp(name, "content-length") == 0)
		return HDR_CONTENT_LENGTH;
	if (strcmp(name, "transfer-encoding") == 0)
		return HDR_TRANSFER_ENCODING;
	if (strcmp(name, "host") == 0)
		return HDR_HOST;
	if (strcmp(name, "expect") == 0)
		return HDR_EXPECT;
	return HDR_OTHER;
}

static int
http_cb_header_field(http_parser *p, const char *at, size_t len)
{
	http_conn *c = p->data;
	size_t i;

	if (c->state != ST_HEAD) {
		/* trailer fields after a chunked body: not accepted */
		c->trailer = 1;
		c->err_status = 400;
		c->err_reason = "trailer fields";
		return 1;
	}
	if (c->in_value) {          /* a new field starts */
		c->in_value = 0;
		c->name_len = 0;
		c->name_long = 0;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)at[i];
		if (!http_is_tchar(ch)) {
			c->bad_name = 1;
			c->err_status = 400;
			c->err_reason = "invalid header name";
			return 1;
		}
		if (c->name_len + 1 < sizeof(c->name))
			c->name[c->name_len++] = (char)((ch >= 'A' && ch <= 'Z') ?
			    ch + ('a' - 'A') : ch);
		else
			c->name_long = 1;
	}
	c->name[c->name_len] = '\0';
	return 0;
}

static void
http_keep_value(http_conn *c, char *buf, size_t *blen, const char *at,
    size_t len)
{
	if (*blen + len >= HTTP_VALUE_CAP) {
		c->value_long = 1;
		return;
	}
	memcpy(buf + *blen, at, len);
	*blen += len;
	buf[*blen] = '\0';
}

static int
http_cb_header_value(http_parser *p, const char *at, size_t len)
{
	http_conn *c = p->data;

	if (!c->in_value) {         /* first piece of this field's value */
		c->in_value = 1;
		c->cur_hdr = c->name_long ? HDR_OTHER : http_classify(c->name);
		switch (c->cur_hdr) {
		case HDR_CONTENT_LENGTH:    c->n_cl++; break;
		case HDR_TRANSFER_ENCODING: c->n_te++; break;
		case HDR_HOST:              c->n_host++; break;
		case HDR_EXPECT:            c->n_expect++; break;
		case HDR_OTHER:             break;
		}
	}
	if (c->cur_hdr == HDR_TRANSFER_ENCODING)
		http_keep_value(c, c->te, &c->te_len, at, len);
	else if (c->cur_hdr == HDR_EXPECT)
		http_keep_value(c, c->expect, &c->expect_len, at, len);
	return 0;
}

static int
http_cb_headers_complete(http_parser *p)
{
	http_conn *c = p->data;

	c->paused_at = 1;
	http_parser_pause(p, 1);
	return 0;
}

static int
http_cb_body(http_parser *p, const char *at, size_t len)
{
	http_conn *c = p->data;

	if (c->chunked && c->scan_from != NULL) {
		http_scan_framing(c, c->scan_from, at);
		c->scan_from = at + len;
		if (c->framing_bad) {
			c->err_status = 400;
			c->err_reason = "invalid chunk framing";
			return 1;
		}
		if (c->chunk_over) {
			c->err_status = 413;
			c->err_reason = "chunk larger than the body limit";
			return 1;
		}
	}
	if (len > c->lim.max_body_bytes - c->body_len) {
		c->err_status = 413;
		c->err_reason = "body too large";
		return 1;
	}
	if (c->body_len + len + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : HTTP_BODY_MIN;
		char *nb;

		while (cap < c->body_len + len + 1)
			cap *= 2;
		if (cap > c->lim.max_body_bytes + 1)
			cap = c->lim.max_body_bytes + 1;
		nb = vault_grow(c->body, c->body_len, c->body_cap, cap);
		if (nb == NULL) {
			c->err_status = 503;
			c->err_reason = "out of memory";
			return 1;
		}
		c->body = nb;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	c->body[c->body_len] = '\0';
	return 0;
}

static int
http_cb_message_complete(http_parser *p)
{
	http_conn *c = p->data;

	c->paused_at = 2;
	http_parser_pause(p, 1);
	return 0;
}

void
http_global_init(size_t max_header_bytes)
{
	/* our own count (head_bytes) is the limit that answers 431; this only
	 * keeps the library's guard from firing first */
	http_parser_set_max_header_size((uint32_t)(max_header_bytes + 1024U));
	http_parser_settings_init(&http_settings);
	http_settings.on_message_begin = http_cb_message_begin;
	http_settings.on_url = http_cb_url;
	http_settings.on_header_field = http_cb_header_field;
	http_settings.on_header_value = http_cb_header_value;
	http_settings.on_headers_complete = http_cb_headers_complete;
	http_settings.on_body = http_cb_body;
	http_settings.on_message_complete = http_cb_message_complete;
	http_settings_ready = 1;
}

/* ------------------------------------------------------------------------ */
/* responses                                                                */

static void
http_out_push(http_conn *c, const char *data, size_t len, char *owned)
{
	http_seg *s;

	if (c->out_n == HTTP_OUT_SEGS) {        /* cannot happen by protocol */
		vault_free_wiped(owned, owned != NULL ? len : 0);
		c->closing = 1;
		return;
	}
	s = &c->out[(c->out_head + c->out_n) % HTTP_OUT_SEGS];
	s->data = data;
	s->len = len;
	s->owned = owned;
	s->owned_len = owned != NULL ? len : 0;
	c->out_n++;
}

static const char *
http_reason(int status)
{
	const char *r = http_status_str((enum http_status)status);

	return r != NULL ? r : "Status";
}

static void
http_queue(http_conn *c, int status, unsigned retry_after_s, const char *ctype,
    char *body, size_t body_len, const char *static_body)
{
	char date[64], extra[128], *head;
	struct tm tm;
	time_t now = time(NULL);
	size_t el = 0;
	int n;

	if (c->force_close || c->close_after)
		c->closing = 1;
	extra[0] = '\0';
	if (status == 405 && c->allow != NULL)
		el += (size_t)snprintf(extra + el, sizeof(extra) - el,
		    "Allow: %s\r\n", c->allow);
	if (status == 503 || status == 429)
		el += (size_t)snprintf(extra + el, sizeof(extra) - el,
		    "Retry-After: %u\r\n", retry_after_s > 0 ? retry_after_s : 1U);
	if (c->closing)
		(void)snprintf(extra + el, sizeof(extra) - el,
		    "Connection: close\r\n");
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	head = malloc(HTTP_HEAD_CAP);
	n = head == NULL ? -1 : snprintf(head, HTTP_HEAD_CAP,
	    "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s\r\n",
	    status, http_reason(status), date,
	    ctype != NULL ? ctype : "application/json", body_len, extra);
	if (n < 0 || n >= HTTP_HEAD_CAP) {
		free(head);
		vault_free_wiped(body, body_len);
		c->closing = 1;
		c->state = ST_CLOSED;
		return;
	}
	c->status = status;
	http_out_push(c, head, (size_t)n, head);
	if (c->head_method || body_len == 0)
		vault_free_wiped(body, body_len);
	else if (body != NULL)
		http_out_push(c, body, body_len, body);
	else if (static_body != NULL)
		http_out_push(c, static_body, body_len, NULL);
	if (c->closing)
		c->state = ST_CLOSED;
	else if (c->state == ST_HEAD || c->state == ST_HEADERS_DONE)
		c->state = ST_SKIP;     /* the head's final LF is still unparsed */
	else
		c->state = ST_IDLE;
	c->head_bytes = 0;
	c->prev_byte = '\n';
}

static const char *
http_error_body(int status)
{
	switch (status) {
	case 400: return "{\"error\":\"bad_request\"}\n";
	case 404: return "{\"error\":\"not_found\"}\n";
	case 405: return "{\"error\":\"method_not_allowed\"}\n";
	case 411: return "{\"error\":\"length_required\"}\n";
	case 413: return "{\"error\":\"too_large\"}\n";
	case 417: return "{\"error\":\"expectation_failed\"}\n";
	case 429: return "{\"error\":\"rate_limited\"}\n";
	case 431: return "{\"error\":\"headers_too_large\"}\n";
	case 500: return "{\"error\":\"internal\"}\n";
	case 503: return "{\"error\":\"unavailable\"}\n";
	case 505: return "{\"error\":\"http_version_not_supported\"}\n";
	default:  return "{\"error\":\"error\"}\n";
	}
}

/* A fixed response from this module; close says the connection ends. */
static void
http_fixed(http_conn *c, int status, int close, unsigned retry_after_s)
{
	const char *b = status == 200 ? "{\"status\":\"ok\"}\n" :
	    http_error_body(status);

	if (close)
		c->close_after = 1;
	http_queue(c, status, retry_after_s, NULL, NULL, strlen(b), b);
}

static void
http_fail(http_conn *c, int status, const char *reason)
{
	c->last_error = reason != NULL ? reason : "malformed request";
	http_fixed(c, status, 1, 0);
}

/* ------------------------------------------------------------------------ */
/* head validation and routing                                              */

static int
http_value_is(const char *v, size_t len, const char *want)
{
	size_t wl = strlen(want);

	while (len > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	return len == wl && strncasecmp(v, want, wl) == 0;
}

static void
http_route_request(http_conn *c)
{
	size_t plen = strcspn(c->target, "?");
	int m = (int)c->p.method;

	c->route = HTTP_ROUTE_NONE;
	c->method_ok = 0;
	c->allow = NULL;
	if (c->target_long || c->target[0] != '/')
		return;
	if (c->lim.routes == HTTP_ROUTES_GATEWAY) {
		if (plen == 11 && memcmp(c->target, "/v1/records", 11) == 0) {
			c->route = HTTP_ROUTE_RECORDS;
			c->allow = "POST";
			c->method_ok = m == HTTP_POST;
		} else if (plen == 8 && memcmp(c->target, "/healthz", 8) == 0) {
			c->route = HTTP_ROUTE_HEALTHZ;
			c->allow = "GET";
			c->method_ok = m == HTTP_GET;
		}
	} else {
		if (plen == 8 && memcmp(c->target, "/metrics", 8) == 0) {
			c->route = HTTP_ROUTE_METRICS;
			c->allow = "GET";
			c->method_ok = m == HTTP_GET;
		}
	}
}

/* Called with the parser paused at the end of the head.  Returns the event
 * to hand to the caller (HEADERS, or RESPONSE when refused here). */
static http_event
http_head_done(http_conn *c)
{
	const http_parser *p = &c->p;

	c->chunked = (p->flags & F_CHUNKED) != 0;
	c->has_body = c->chunked ||
	    ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
	c->head_method = p->method == HTTP_HEAD;
	if (p->http_major != 1 || p->http_minor > 1) {
		http_fail(c, 505, "unsupported HTTP version");
		return HTTP_EV_RESPONSE;
	}
	if (c->n_te > 0 && (c->n_cl > 0 || c->n_te > 1 || c->value_long ||
	    p->http_minor == 0 || !http_value_is(c->te, c->te_len, "chunked") ||
	    !c->chunked)) {
		http_fail(c, 400, "Transfer-Encoding other than a single "
		    "\"chunked\" (or with Content-Length, or on HTTP/1.0)");
		return HTTP_EV_RESPONSE;
	}
	if (c->n_cl > 1 || (c->n_cl == 1 && !(p->flags & F_CONTENTLENGTH))) {
		http_fail(c, 400, "repeated or empty Content-Length");
		return HTTP_EV_RESPONSE;
	}
	if (c->n_host > 1 || (p->http_minor == 1 && c->n_host != 1)) {
		http_fail(c, 400, "missing or repeated Host");
		return HTTP_EV_RESPONSE;
	}
	if (c->n_expect > 1 || (c->n_expect == 1 && p->http_minor == 1 &&
	    (c->value_long ||
	    !http_value_is(c->expect, c->expect_len, "100-continue")))) {
		http_fail(c, 417, "unsupported Expect");
		return HTTP_EV_RESPONSE;
	}
	c->close_after = p->http_minor == 0 || !http_should_keep_alive(p) ||
	    p->upgrade || c->force_close;
	if (p->upgrade && c->has_body) {
		http_fail(c, 400, "upgrade with a body");
		return HTTP_EV_RESPONSE;
	}
	http_route_request(c);
	if (c->route != HTTP_ROUTE_NONE && c->method_ok &&
	    (c->route == HTTP_ROUTE_RECORDS)) {
		if ((p->flags & F_CONTENTLENGTH) &&
		    p->content_length > c->lim.max_body_bytes) {
			http_fail(c, 413, "declared body too large");
			return HTTP_EV_RESPONSE;
		}
		if (!c->chunked && !(p->flags & F_CONTENTLENGTH)) {
			/* no body framing: answer 411, nothing to skip */
			c->last_error = "no Content-Length";
			http_fixed(c, 411, 0, 0);
			return HTTP_EV_RESPONSE;
		}
	}
	c->state = ST_HEADERS_DONE;
	return HTTP_EV_HEADERS;
}

/* ------------------------------------------------------------------------ */
/* public API                                                               */

int
http_conn_new(http_conn **out, const http_limits *lim)
{
	http_conn *c;

	*out = NULL;
	if (!http_settings_ready)
		http_global_init(lim->max_header_bytes);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->lim = *lim;
	http_parser_init(&c->p, HTTP_REQUEST);
	c->p.data = c;
	c->state = ST_IDLE;
	c->prev_byte = '\n';
	c->last_error = "";
	*out = c;
	return 0;
}

void
http_conn_free(http_conn **cp)
{
	http_conn *c;
	unsigned i;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	for (i = 0; i < c->out_n; i++) {
		http_seg *sg = &c->out[(c->out_head + i) % HTTP_OUT_SEGS];
		vault_free_wiped(sg->owned, sg->owned_len);
	}
	vault_free_wiped(c->body, c->body_cap);
	free(c);
	*cp = NULL;
}

static http_event
http_error_event(http_conn *c)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&c->p);

	if (c->err_status != 0) {
		http_fail(c, c->err_status, c->err_reason);
	} else if (e == HPE_HEADER_OVERFLOW) {
		http_fail(c, 431, "request head too large");
	} else {
		c->last_error = http_errno_description(e);
		http_fixed(c, 400, 1, 0);
	}
	return HTTP_EV_RESPONSE;
}

size_t
http_feed(http_conn *c, const char *data, size_t len, http_event *ev)
{
	size_t off = 0;

	*ev = HTTP_EV_NONE;
	if (c->out_n > 0 || c->state == ST_HEADERS_DONE ||
	    c->state == ST_DISPATCHED || c->state == ST_CLOSED)
		return 0;
	while (off < len) {
		int head = c->state == ST_IDLE || c->state == ST_HEAD;
		size_t n = len - off, got;
		enum http_errno e;

		if (head) {
			size_t room = c->lim.max_header_bytes >= c->head_bytes ?
			    c->lim.max_header_bytes - c->head_bytes + 1 : 1;
			if (n > room)
				n = room;
		}
		c->paused_at = 0;
		c->scan_from = data + off;
		got = http_parser_execute(&c->p, &http_settings, data + off, n);
		e = HTTP_PARSER_ERRNO(&c->p);
		if (head) {
			c->head_bytes += got;
			if (http_scan_head(c, data + off, got) != 0) {
				http_fail(c, 400, c->err_reason);
				*ev = HTTP_EV_RESPONSE;
				return off + got;
			}
		} else if (c->chunked && (e == HPE_OK || e == HPE_PAUSED)) {
			http_scan_framing(c, c->scan_from, data + off + got);
			if (c->framing_bad) {
				http_fail(c, 400, "invalid chunk framing");
				*ev = HTTP_EV_RESPONSE;
				return off + got;
			}
			if (c->chunk_over) {
				http_fail(c, 413, "chunk larger than the body limit");
				*ev = HTTP_EV_RESPONSE;
				return off + got;
			}
		}
		c->scan_from = NULL;
		off += got;
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->p, 0);
			if (c->paused_at == 1) {
				*ev = http_head_done(c);
				return off;
			}
			if (c->paused_at == 2 && c->state == ST_SKIP) {
				c->state = ST_IDLE;     /* already answered */
				continue;
			}
			if (c->paused_at == 2) {
				if (c->route != HTTP_ROUTE_NONE && c->method_ok &&
				    c->route != HTTP_ROUTE_HEALTHZ) {
					c->state = ST_DISPATCHED;
					*ev = HTTP_EV_REQUEST;
				} else if (c->route != HTTP_ROUTE_NONE && c->method_ok) {
					http_fixed(c, 200, 0, 0);
					*ev = HTTP_EV_RESPONSE;
				} else {
					c->last_error = c->route == HTTP_ROUTE_NONE ?
					    "no such route" : "method not allowed";
					http_fixed(c, c->route == HTTP_ROUTE_NONE ? 404 : 405,
					    0, 0);
					*ev = HTTP_EV_RESPONSE;
				}
				return off;
			}
		}
		if (e != HPE_OK && e != HPE_PAUSED) {
			*ev = http_error_event(c);
			return off;
		}
		if (head && c->head_bytes > c->lim.max_header_bytes) {
			http_fail(c, 431, "request head too large");
			*ev = HTTP_EV_RESPONSE;
			return off;
		}
		if (got < n) {          /* stopped without a reason: refuse */
			c->last_error = "parser stopped";
			http_fixed(c, 400, 1, 0);
			*ev = HTTP_EV_RESPONSE;
			return off;
		}
	}
	return off;
}

int
http_continue(http_conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (c->state != ST_HEADERS_DONE)
		return 0;
	if (!c->method_ok || c->route == HTTP_ROUTE_NONE) {
		if (c->has_body) {
			/* a probe with a body: answer and close, never read it */
			c->last_error = c->route == HTTP_ROUTE_NONE ?
			    "no such route" : "method not allowed";
			http_fixed(c, c->route == HTTP_ROUTE_NONE ? 404 : 405, 1, 0);
			return 1;
		}
	} else if (c->route != HTTP_ROUTE_RECORDS && c->has_body) {
		http_fail(c, 400, "body on a request that takes none");
		return 1;
	}
	c->state = ST_BODY;
	c->body_len = 0;
	if (c->has_body && c->n_expect == 1 && c->p.http_minor == 1)
		http_out_push(c, cont, sizeof(cont) - 1, NULL);
	return 0;
}

void
http_reject(http_conn *c, int status, unsigned retry_after_s)
{
	if (c->state != ST_HEADERS_DONE)
		return;
	c->last_error = "refused by the caller";
	http_fixed(c, status, c->has_body, retry_after_s);
}

char *
http_take_body(http_conn *c, size_t *len)
{
	char *b = c->body;

	*len = c->body_len;
	c->body = NULL;
	c->body_len = 0;
	c->body_cap = 0;
	return b;
}

void
http_respond(http_conn *c, int status, unsigned retry_after_s,
    const char *content_type, char *body, size_t body_len)
{
	if (c->state != ST_DISPATCHED) {
		vault_free_wiped(body, body_len);
		return;
	}
	if (body == NULL) {
		const char *b = status >= 400 ? http_error_body(status) : "";
		http_queue(c, status, retry_after_s, status >= 400 ? NULL :
		    content_type, NULL, strlen(b), b);
		return;
	}
	http_queue(c, status, retry_after_s, content_type, body, body_len, NULL);
}

size_t
http_output(http_conn *c, const char **data)
{
	while (c->out_n > 0) {
		http_seg *s = &c->out[c->out_head];
		if (s->len > 0) {
			*data = s->data;
			return s->len;
		}
		vault_free_wiped(s->owned, s->owned_len);
		s->owned = NULL;
		c->out_head = (c->out_head + 1) % HTTP_OUT_SEGS;
		c->out_n--;
	}
	*data = NULL;
	return 0;
}

void
http_output_advance(http_conn *c, size_t n)
{
	while (n > 0 && c->out_n > 0) {
		http_seg *s = &c->out[c->out_head];
		size_t k = n < s->len ? n : s->len;

		s->data += k;
		s->len -= k;
		n -= k;
		if (s->len == 0) {
			vault_free_wiped(s->owned, s->owned_len);
			s->owned = NULL;
			c->out_head = (c->out_head + 1) % HTTP_OUT_SEGS;
			c->out_n--;
		}
	}
}

http_route
http_route_of(const http_conn *c)
{
	return c->route;
}

int
http_method(const http_conn *c)
{
	return (int)c->p.method;
}

const char *
http_target(const http_conn *c, size_t *len)
{
	*len = c->target_len;
	return c->target;
}

int
http_status(const http_conn *c)
{
	return c->status;
}

int
http_closing(const http_conn *c)
{
	return c->closing;
}

int
http_in_request(const http_conn *c)
{
	return c->state != ST_IDLE || c->head_bytes > 0;
}

int
http_in_body(const http_conn *c)
{
	return c->state == ST_BODY && c->has_body;
}

void
http_set_closing(http_conn *c)
{
	c->force_close = 1;
	if (c->state == ST_IDLE && c->out_n == 0)
		c->closing = 1;
}

void
http_trim(http_conn *c)
{
	if (c->state == ST_IDLE && c->body != NULL) {
		vault_free_wiped(c->body, c->body_cap);
		c->body = NULL;
		c->body_len = 0;
		c->body_cap = 0;
	}
}

const char *
http_error(const http_conn *c)
{
	return c->last_error != NULL ? c->last_error : "";
}
