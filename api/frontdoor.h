/* api/frontdoor.h — coffer-api's front door: every request head is read
 * and checked, whole, before libmicrohttpd parses any of it.
 *
 * libmicrohttpd 0.9.75 (Debian 12) parses leniently and has no hook
 * between the socket (or the TLS record layer) and its parser, so this
 * module interposes the two reads it makes — gnutls_record_recv() on the
 * TLS listener, recv() on the plain metrics listener — for the
 * connections registered with frontdoor_attach(), and only for those.
 * A head that breaks a rule (frontdoor_check_head) is answered here with
 * the API's JSON error and the connection is closed; libmicrohttpd sees
 * a read error and never a byte of it.  A head that passes goes to
 * libmicrohttpd with exactly its Content-Length of body; anything after
 * that is read and dropped (every API answer closes the connection), so
 * trailing bytes never become a second request.
 */
#ifndef COFFER_API_FRONTDOOR_H
#define COFFER_API_FRONTDOOR_H

#include <stddef.h>

#define FRONTDOOR_HEAD_MAX    16384U   /* request line and headers */
#define FRONTDOOR_TARGET_MAX  2048U    /* request target */

/* The verdict on a head: status 0 when it may pass; code and message are
 * static strings, the message never quotes the peer. */
typedef struct frontdoor_verdict {
	unsigned    status;
	const char *code;
	const char *message;
} frontdoor_verdict;

/* The security headers every API answer carries (name, value pairs,
 * ending with a NULL name); HSTS is the first and only over TLS. */
extern const char *const frontdoor_headers[][2];

/* Once, before the listeners start: max_body is the largest body any
 * route takes (a larger Content-Length is 413 at the door).  -1 with a
 * message if the interposed reads are not the ones libmicrohttpd calls
 * (then the front door would be open: refuse to start). */
int  frontdoor_init(size_t max_body, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* From libmicrohttpd's connection notifications: watch fd (a new
 * connection of the TLS listener if tls, else of the plain one), forget
 * it when closed.  owner tells this connection from a later one on the
 * same descriptor number. */
void frontdoor_attach(int fd, int tls, const void *owner);
void frontdoor_detach(int fd, const void *owner);

/* The rules, on one complete head (request line, headers, the empty
 * line).  Fills *v; 0 if it may pass (and *content_length, 0 without),
 * -1 if refused. */
int  frontdoor_check_head(const char *head, size_t len, size_t max_body,
    unsigned long long *content_length, frontdoor_verdict *v);

/* The refusal as a complete HTTP/1.1 response (Connection: close), in
 * out; its length, 0 if it does not fit. */
size_t frontdoor_render(const frontdoor_verdict *v, const char *request_id,
    int tls, char *out, size_t out_cap);

#endif
