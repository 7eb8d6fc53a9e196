/* gateway/http.h — HTTP/1.1 request framing for one connection.
 *
 * A transport-free state machine: bytes in (http_feed), events out, response
 * bytes queued for the caller to write (http_output).  Framing is done by
 * Debian's http-parser; this module adds the limits and the checks that
 * library does not make, routes requests, and writes every response.
 *
 * Protocol for the caller (net.c, tests, the fuzz target):
 *
 *   loop:
 *     if http_output() has bytes: write them, http_output_advance(); when
 *       all are written and http_closing(): close the connection.
 *     else n = http_feed(c, data, len, &ev); keep data[n..len) for later;
 *       HTTP_EV_NONE      all bytes consumed, read more
 *       HTTP_EV_HEADERS   a request's head is complete and acceptable:
 *                         call http_continue() (reads the body next, sends
 *                         "100 Continue" if asked) or http_reject()
 *       HTTP_EV_REQUEST   an application request is complete (route in
 *                         http_route(), body from http_take_body()); call
 *                         http_respond() once, later is fine; feeding is
 *                         refused until then
 *       HTTP_EV_RESPONSE  this module queued a response by itself (health,
 *                         404/405, or an error: then http_closing() is 1)
 *
 * One request at a time: after an event nothing more is parsed until the
 * caller answered it and the output was written, so a pipelining peer can
 * neither make us buffer responses nor run ahead of ingest.
 */
#ifndef COFFER_GATEWAY_HTTP_H
#define COFFER_GATEWAY_HTTP_H

#include <stddef.h>

typedef struct http_conn http_conn;

typedef enum http_routes {
	HTTP_ROUTES_GATEWAY,    /* POST /v1/records, GET /healthz */
	HTTP_ROUTES_METRICS     /* GET /metrics */
} http_routes;

typedef enum http_route {
	HTTP_ROUTE_NONE = 0,
	HTTP_ROUTE_RECORDS,     /* POST /v1/records (application) */
	HTTP_ROUTE_HEALTHZ,     /* GET /healthz (answered here) */
	HTTP_ROUTE_METRICS      /* GET /metrics (application) */
} http_route;

typedef enum http_event {
	HTTP_EV_NONE = 0,
	HTTP_EV_HEADERS,
	HTTP_EV_REQUEST,
	HTTP_EV_RESPONSE
} http_event;

typedef struct http_limits {
	size_t      max_header_bytes;   /* request line + headers, 431 above */
	size_t      max_body_bytes;     /* decoded body, 413 above */
	http_routes routes;
} http_limits;

/* Process-wide set-up of http-parser (its own header-size guard); call
 * once before any http_conn_new with the largest max_header_bytes. */
void http_global_init(size_t max_header_bytes);

int  http_conn_new(http_conn **out, const http_limits *lim)
     __attribute__((warn_unused_result));
void http_conn_free(http_conn **c);       /* NULL ok; sets *c = NULL */

size_t http_feed(http_conn *c, const char *data, size_t len, http_event *ev);

/* After HTTP_EV_HEADERS.  Returns 1 when the request was answered here
 * instead (a body announced on a request that takes none: 404/405/400 and
 * close), 0 when the caller goes on feeding. */
int  http_continue(http_conn *c);
/* Answer now (e.g. 429 with retry_after_s) without reading the body; the
 * connection closes after the response when a body was announced. */
void http_reject(http_conn *c, int status, unsigned retry_after_s);

/* After HTTP_EV_REQUEST: the body (malloc'd, NUL-terminated, not counted
 * in *len; NULL with *len 0 when empty); ownership passes to the caller. */
char *http_take_body(http_conn *c, size_t *len);
/* Queue the response to the pending application request.  Takes ownership
 * of body (malloc'd, may be NULL); content_type NULL means JSON.  Status
 * 503/429 carry Retry-After when retry_after_s > 0. */
void http_respond(http_conn *c, int status, unsigned retry_after_s,
                  const char *content_type, char *body, size_t body_len);

/* Pending response bytes (possibly in several segments): 0 when none. */
size_t http_output(http_conn *c, const char **data);
void   http_output_advance(http_conn *c, size_t n);

http_route  http_route_of(const http_conn *c);
int         http_method(const http_conn *c);      /* enum http_method */
/* The request target as received (capped; may hold any bytes). */
const char *http_target(const http_conn *c, size_t *len);
int         http_status(const http_conn *c);      /* last response status */
int         http_closing(const http_conn *c);     /* close after output */
/* 1 between the first byte of a request and its response being queued. */
int         http_in_request(const http_conn *c);
/* 1 while the body of an accepted request is being read. */
int         http_in_body(const http_conn *c);
/* Make the next response carry "Connection: close" (shutdown). */
void        http_set_closing(http_conn *c);
/* Release buffers kept between requests (idle connections). */
void        http_trim(http_conn *c);
/* Short reason for the last framing error ("" if none); safe to log. */
const char *http_error(const http_conn *c);

#endif
