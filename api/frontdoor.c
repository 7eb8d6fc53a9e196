/* api/frontdoor.c — coffer-api's front door (see api/frontdoor.h).
 *
 * The rules are the gateway's (gateway/http.c), refused with the API's
 * JSON error and a close:
 *   - 400: any byte of the head outside VCHAR / SP / HT / CRLF (a NUL
 *     inside Content-Length), bare CR or LF, obs-fold; a request line
 *     that is not "METHOD SP /target SP HTTP/1.x"; a header name that is
 *     not a token ("Transfer-Encoding :"); Content-Length with
 *     Transfer-Encoding; a repeated Content-Length or Transfer-Encoding;
 *     a Content-Length that is not 1 to 19 digits; a Transfer-Encoding
 *     other than "chunked"; a missing or repeated Host on HTTP/1.1;
 *     percent-encoding anywhere in the path (no route needs it, so
 *     %2F, %5C, %00 and /v1/%77hoami can never route differently from
 *     what the bytes say); %00 in the query (it would cut a value);
 *   - 411: a chunked body — the API takes Content-Length bodies only, so
 *     chunk framing (bare LF chunk lines, sizes over the limit) is never
 *     parsed at all;
 *   - 413: a Content-Length over the largest body any route takes;
 *   - 414 / 431: a request target over 2 KiB, a head over 16 KiB;
 *   - 417: an Expect other than 100-continue;
 *   - 505: an HTTP version other than 1.0 and 1.1.
 *
 * Trusts: libmicrohttpd to call gnutls_record_recv() / recv() for a
 * connection from the one thread that serves it, after the STARTED
 * notification and before the CLOSED one, which comes before it closes
 * the descriptor (0.9.75's daemon.c: notify, then close), so a slot
 * never outlives its socket into another one's (libpq's) reads.  Does not trust: any byte of
 * the peer's; nothing of it is logged or echoed.
 *
 * Hazards:
 *  - Interposition: the two functions below replace the libraries' for
 *    the whole process; for every descriptor not attached they are the
 *    real ones, looked up once with dlsym(RTLD_NEXT).  frontdoor_init
 *    checks that the dynamic linker binds the names to this file, and
 *    the server refuses to start otherwise.
 *  - A refusal is written from the reading thread (a short bounded wait
 *    for a full socket buffer), then the input is drained briefly so the
 *    close does not reset the answer away.
 */
#include "api/frontdoor.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>

#include "api/metrics.h"
#include "common/log.h"
#include "common/util.h"

#define FD_SLOTS_MAX      (1U << 20)
#define FD_SEND_WAIT_MS   2000
#define FD_LINGER_MS      250
#define FD_LINGER_QUIET   50
#define FD_DRAIN_MAX      (1024U * 1024U)
#define FD_ANSWER_CAP     2048U

const char *const frontdoor_headers[][2] = {
	{ "Strict-Transport-Security", "max-age=63072000; includeSubDomains" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Cache-Control", "no-store" },
	{ "X-Frame-Options", "DENY" },
	{ "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'" },
	{ "Referrer-Policy", "no-referrer" },
	{ NULL, NULL }
};

typedef enum fd_phase {
	PH_HEAD,        /* collecting the head; libmicrohttpd got nothing */
	PH_PASS,        /* handing the checked head (and body bytes) over */
	PH_BODY,        /* the rest of the declared body, straight through */
	PH_DONE,        /* the request is complete: drop what follows */
	PH_REFUSED      /* answered here: every read fails */
} fd_phase;

typedef struct fd_conn {
	const void        *owner;
	int                tls;
	fd_phase           phase;
	int                prev;            /* last head byte, -1 at start */
	size_t             len;             /* bytes in buf */
	size_t             scanned;         /* of buf, byte rules checked */
	size_t             off;             /* of buf, given to libmicrohttpd */
	size_t             pass;            /* of buf, to give (head + body) */
	unsigned long long body_left;       /* after buf[pass] */
	char               buf[FRONTDOOR_HEAD_MAX + 1];
} fd_conn;

static _Atomic(fd_conn *) *fd_slots;
static size_t              fd_nslots;
static size_t              fd_max_body;
static pthread_mutex_t     fd_log_mu = PTHREAD_MUTEX_INITIALIZER;
static log_limit           fd_log_lim;

typedef ssize_t (*fd_tls_recv_fn)(gnutls_session_t, void *, size_t);
typedef size_t (*fd_tls_pending_fn)(gnutls_session_t);
typedef ssize_t (*fd_recv_fn)(int, void *, size_t, int);

static fd_tls_recv_fn    real_tls_recv;
static fd_tls_pending_fn real_tls_pending;
static fd_recv_fn        real_recv;
static pthread_once_t    fd_once = PTHREAD_ONCE_INIT;

static void
fd_resolve(void)
{
	/* POSIX dlsym returns void *; a function pointer is what it holds. */
	*(void **)&real_tls_recv = dlsym(RTLD_NEXT, "gnutls_record_recv");
	*(void **)&real_tls_pending = dlsym(RTLD_NEXT,
	    "gnutls_record_check_pending");
	*(void **)&real_recv = dlsym(RTLD_NEXT, "recv");
}

/* -- the rules ---------------------------------------------------------------- */

static int
fd_is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
fd_refuse(frontdoor_verdict *v, unsigned status, const char *code,
    const char *message)
{
	v->status = status;
	v->code = code;
	v->message = message;
	return -1;
}

static int
fd_bad(frontdoor_verdict *v, const char *message)
{
	return fd_refuse(v, 400, "bad_request", message);
}

/* Bytes of the head as they arrive: the byte classes and line endings.
 * *prev carries the previous byte across calls (-1 at the start). */
static int
fd_scan_bytes(const char *p, size_t n, int *prev, frontdoor_verdict *v)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		int pr = *prev;

		*prev = ch;
		if (pr == '\r' && ch != '\n')
			return fd_bad(v, "bare CR or LF in the request head");
		if (ch == '\n' && pr != '\r')
			return fd_bad(v, "bare CR or LF in the request head");
		if ((ch == ' ' || ch == '\t') && pr == '\n')
			return fd_bad(v, "obs-fold header line continuation");
		if (ch == '\r' || ch == '\n' || ch == '\t' ||
		    (ch >= 0x20 && ch < 0x7f))
			continue;
		return fd_bad(v, "invalid byte in the request head");
	}
	return 0;
}

/* value (OWS trimmed) equals want, ignoring case */
static int
fd_value_is(const char *val, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(val, want, len) == 0;
}

static int
fd_check_request_line(const char *p, size_t len, int *minor,
    frontdoor_verdict *v)
{
	const char *sp1, *sp2, *t, *pe;
	size_t i, tlen;

	sp1 = memchr(p, ' ', len);
	if (sp1 == NULL || sp1 == p || (size_t)(sp1 - p) > 16)
		return fd_bad(v, "malformed request line");
	for (t = p; t < sp1; t++)
		if (!fd_is_tchar((unsigned char)*t))
			return fd_bad(v, "malformed request line");
	t = sp1 + 1;
	sp2 = memchr(t, ' ', len - (size_t)(t - p));
	if (sp2 == NULL)
		return fd_bad(v, "malformed request line");
	tlen = (size_t)(sp2 - t);
	if (tlen == 0 || t[0] != '/')
		return fd_bad(v, "malformed request line");
	if (tlen > FRONTDOOR_TARGET_MAX)
		return fd_refuse(v, 414, "uri_too_long",
		    "the request target is too long");
	for (i = 0; i < tlen; i++)
		if (t[i] == '\t')
			return fd_bad(v, "malformed request line");
	pe = memchr(t, '?', tlen);
	if (memchr(t, '%', pe != NULL ? (size_t)(pe - t) : tlen) != NULL)
		return fd_bad(v, "percent-encoding in the request path");
	/* The query is decoded into C strings: %00 would cut a value. */
	for (i = 0; i + 2 < tlen; i++)
		if (t[i] == '%' && t[i + 1] == '0' && t[i + 2] == '0')
			return fd_bad(v, "encoded NUL in the request target");
	t = sp2 + 1;
	i = len - (size_t)(t - p);
	if (i != 8 || memcmp(t, "HTTP/", 5) != 0 || t[5] < '0' || t[5] > '9' ||
	    t[6] != '.' || t[7] < '0' || t[7] > '9')
		return fd_bad(v, "malformed request line");
	if (t[5] != '1' || (t[7] != '0' && t[7] != '1'))
		return fd_refuse(v, 505, "http_version_not_supported",
		    "HTTP version not supported");
	*minor = t[7] - '0';
	return 0;
}

int
frontdoor_check_head(const char *head, size_t len, size_t max_body,
    unsigned long long *content_length, frontdoor_verdict *v)
{
	const char *p = head, *end = head + len, *eol, *colon, *val, *cl = NULL,
	    *te = NULL, *ex = NULL;
	size_t cl_len = 0, te_len = 0, ex_len = 0, vlen, i;
	unsigned n_cl = 0, n_te = 0, n_host = 0, n_ex = 0;
	unsigned long long n = 0;
	int prev = -1, minor = 1;

	*content_length = 0;
	v->status = 0;
	v->code = NULL;
	v->message = NULL;
	if (len > FRONTDOOR_HEAD_MAX)
		return fd_refuse(v, 431, "request_header_too_large",
		    "the request head is too large");
	if (fd_scan_bytes(head, len, &prev, v) != 0)
		return -1;
	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0)
		return fd_bad(v, "malformed request head");
	eol = memmem(p, len, "\r\n", 2);
	if (fd_check_request_line(p, (size_t)(eol - p), &minor, v) != 0)
		return -1;
	for (p = eol + 2; p < end - 2; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return fd_bad(v, "invalid header name");
		for (val = p; val < colon; val++)
			if (!fd_is_tchar((unsigned char)*val))
				return fd_bad(v, "invalid header name");
		val = colon + 1;
		while (val < eol && (*val == ' ' || *val == '\t'))
			val++;
		vlen = (size_t)(eol - val);
		while (vlen > 0 && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
			vlen--;
		i = (size_t)(colon - p);
		if (i == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
			n_cl++;
			cl = val;
			cl_len = vlen;
		} else if (i == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
			n_te++;
			te = val;
			te_len = vlen;
		} else if (i == 4 && strncasecmp(p, "Host", 4) == 0) {
			n_host++;
		} else if (i == 6 && strncasecmp(p, "Expect", 6) == 0) {
			n_ex++;
			ex = val;
			ex_len = vlen;
		}
	}
	if (n_te > 0 && n_cl > 0)
		return fd_bad(v, "Content-Length together with Transfer-Encoding");
	if (n_cl > 1)
		return fd_bad(v, "repeated Content-Length");
	if (n_te > 1)
		return fd_bad(v, "repeated Transfer-Encoding");
	if (n_te == 1) {
		if (!fd_value_is(te, te_len, "chunked"))
			return fd_bad(v, "Transfer-Encoding other than chunked");
		return fd_refuse(v, 411, "length_required", "chunked request "
		    "bodies are not accepted; send one Content-Length");
	}
	if (n_cl == 1) {
		if (cl_len == 0 || cl_len > 19)
			return fd_bad(v, "invalid Content-Length");
		for (i = 0; i < cl_len; i++) {
			if (cl[i] < '0' || cl[i] > '9')
				return fd_bad(v, "invalid Content-Length");
			n = n * 10 + (unsigned long long)(cl[i] - '0');
		}
		if (n > max_body)
			return fd_refuse(v, 413, "payload_too_large",
			    "the request body is too large");
	}
	if (n_host > 1 || (minor == 1 && n_host != 1))
		return fd_bad(v, "missing or repeated Host");
	if (n_ex > 1 || (n_ex == 1 && !fd_value_is(ex, ex_len, "100-continue")))
		return fd_refuse(v, 417, "expectation_failed",
		    "unsupported Expect");
	*content_length = n;
	return 0;
}

static const char *
fd_reason(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default:  return "Error";
	}
}

size_t
frontdoor_render(const frontdoor_verdict *v, const char *request_id, int tls,
    char *out, size_t out_cap)
{
	char body[512], date[64];
	size_t blen, used, i;
	json_t *j;
	struct tm tm;
	time_t now = time(NULL);
	int w;

	j = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", v->code,
	    "message", v->message, "request_id", request_id);
	if (j == NULL)
		return 0;
	blen = json_dumpb(j, body, sizeof(body) - 1, JSON_COMPACT);
	json_decref(j);
	if (blen == 0 || blen >= sizeof(body) - 1)
		return 0;
	body[blen++] = '\n';
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	w = snprintf(out, out_cap, "HTTP/1.1 %u %s\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\nContent-Type: application/json\r\n"
	    "X-Request-Id: %s\r\nDate: %s\r\n", v->status, fd_reason(v->status),
	    blen, request_id, date);
	if (w < 0 || (size_t)w >= out_cap)
		return 0;
	used = (size_t)w;
	for (i = tls ? 0 : 1; frontdoor_headers[i][0] != NULL; i++) {
		w = snprintf(out + used, out_cap - used, "%s: %s\r\n",
		    frontdoor_headers[i][0], frontdoor_headers[i][1]);
		if (w < 0 || (size_t)w >= out_cap - used)
			return 0;
		used += (size_t)w;
	}
	if (used + 2 + blen > out_cap)
		return 0;
	memcpy(out + used, "\r\n", 2);
	memcpy(out + used + 2, body, blen);
	return used + 2 + blen;
}

/* -- connections ----------------------------------------------------------- */

int
frontdoor_init(size_t max_body, char *err, size_t err_len)
{
	struct rlimit rl;
	void *tls_recv, *plain_recv;

	pthread_once(&fd_once, fd_resolve);
	if (real_tls_recv == NULL || real_tls_pending == NULL ||
	    real_recv == NULL) {
		snprintf(err, err_len, "front door: the real gnutls_record_recv "
		    "or recv was not found");
		return -1;
	}
	/* The names must resolve to this file for libmicrohttpd too. */
	tls_recv = dlsym(RTLD_DEFAULT, "gnutls_record_recv");
	plain_recv = dlsym(RTLD_DEFAULT, "recv");
	if (tls_recv != (void *)(uintptr_t)&gnutls_record_recv ||
	    plain_recv != (void *)(uintptr_t)&recv ||
	    tls_recv == *(void **)&real_tls_recv) {
		snprintf(err, err_len, "front door: the request reads are not "
		    "interposed (link coffer-api with api/frontdoor.o)");
		return -1;
	}
	if (fd_slots == NULL) {
		/* The hard limit: a later raise of the soft one must not
		 * give connections descriptors the table cannot hold (those
		 * are cut at once, see frontdoor_attach). */
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_max = 65536;
		fd_nslots = rl.rlim_max > FD_SLOTS_MAX ||
		    rl.rlim_max == RLIM_INFINITY ? FD_SLOTS_MAX :
		    (size_t)rl.rlim_max;
		fd_slots = calloc(fd_nslots, sizeof(*fd_slots));
		if (fd_slots == NULL) {
			snprintf(err, err_len, "front door: out of memory");
			return -1;
		}
		log_limit_init(&fd_log_lim, 5.0, 20.0, "front door refusals");
	}
	fd_max_body = max_body;
	return 0;
}

void
frontdoor_attach(int fd, int tls, const void *owner)
{
	fd_conn *c, *old;

	if (fd < 0)
		return;
	if (fd_slots == NULL || (size_t)fd >= fd_nslots ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		/* Unwatched, its reads would pass unchecked: cut it, so
		 * libmicrohttpd reads an end of stream and closes it. */
		log_error("front door: cannot watch connection (descriptor %d); "
		    "closing it", fd);
		(void)shutdown(fd, SHUT_RDWR);
		return;
	}
	c->owner = owner;
	c->tls = tls;
	c->phase = PH_HEAD;
	c->prev = -1;
	old = atomic_exchange(&fd_slots[fd], c);
	free(old);                   /* a closed connection's, never read again */
}

void
frontdoor_detach(int fd, const void *owner)
{
	fd_conn *c;

	if (fd_slots == NULL || fd < 0 || (size_t)fd >= fd_nslots)
		return;
	c = atomic_load(&fd_slots[fd]);
	if (c == NULL || c->owner != owner)
		return;
	if (atomic_compare_exchange_strong(&fd_slots[fd], &c, NULL)) {
		explicit_bzero(c->buf, sizeof(c->buf));
		free(c);
	}
}

static fd_conn *
fd_lookup(int fd)
{
	if (fd_slots == NULL || fd < 0 || (size_t)fd >= fd_nslots)
		return NULL;
	return atomic_load_explicit(&fd_slots[fd], memory_order_acquire);
}

/* -- reads and the refusal --------------------------------------------------- */

/* One read from below.  >0 bytes, 0 end of stream, -1 would block, -2
 * error (the caller passes *code / errno on). */
static ssize_t
fd_lower(int fd, gnutls_session_t s, void *buf, size_t n, ssize_t *code)
{
	ssize_t r;

	if (s != NULL) {
		r = real_tls_recv(s, buf, n);
		*code = r;
		if (r >= 0)
			return r;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return -1;
		return -2;
	}
	r = real_recv(fd, buf, n, MSG_DONTWAIT);
	*code = r;
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -1;
	return -2;
}

static int
fd_wait(int fd, short ev, int ms)
{
	struct pollfd p;

	p.fd = fd;
	p.events = ev;
	p.revents = 0;
	return poll(&p, 1, ms) > 0 ? 0 : -1;
}

static void
fd_log(int fd, const frontdoor_verdict *v, const char *rid)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	int allow;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			    addr, sizeof(addr));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			    addr, sizeof(addr));
	}
	pthread_mutex_lock(&fd_log_mu);
	allow = log_limit_allow(&fd_log_lim);
	pthread_mutex_unlock(&fd_log_mu);
	if (allow)
		log_warn("front door: refused %s: %u %s (request %s)", addr,
		    v->status, v->message, rid);
}

/* Answer v on the connection, drain what the peer already sent, and
 * leave it for libmicrohttpd to close. */
static void
fd_answer(fd_conn *c, int fd, gnutls_session_t s, const frontdoor_verdict *v)
{
	unsigned char id[UTIL_UUID_BYTES];
	char rid[2 * UTIL_UUID_BYTES + 1], out[FD_ANSWER_CAP], sink[4096];
	size_t len, off = 0, drained = 0;
	ssize_t r, code;
	long long t0;
	long ms = 0, quiet = 0;

	c->phase = PH_REFUSED;
	util_uuid_random(id);
	util_hex(rid, id, sizeof(id));
	api_metrics_frontdoor(v->status);
	fd_log(fd, v, rid);
	len = frontdoor_render(v, rid, s != NULL, out, sizeof(out));
	t0 = util_mono_us();
	while (off < len) {
		if (s != NULL) {
			r = gnutls_record_send(s, out + off, len - off);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
				if (fd_wait(fd, POLLOUT, FD_SEND_WAIT_MS) != 0)
					break;
				continue;
			}
		} else {
			r = send(fd, out + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
				if (fd_wait(fd, POLLOUT, FD_SEND_WAIT_MS) != 0)
					break;
				continue;
			}
		}
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	explicit_bzero(c->buf, sizeof(c->buf));
	if (s != NULL)
		(void)gnutls_bye(s, GNUTLS_SHUT_WR);
	else
		(void)shutdown(fd, SHUT_WR);
	/* Linger: unread input at close() would reset the connection, and a
	 * reset can discard the answer before the peer reads it. */
	while (ms < FD_LINGER_MS && quiet < FD_LINGER_QUIET &&
	    drained < FD_DRAIN_MAX) {
		r = fd_lower(fd, s, sink, sizeof(sink), &code);
		if (r == 0 || r == -2)
			break;
		if (r > 0) {
			drained += (size_t)r;
			quiet = 0;
		} else if (fd_wait(fd, POLLIN, 10) != 0) {
			quiet += 10;
		}
		ms = (long)((util_mono_us() - t0) / 1000);
	}
	explicit_bzero(sink, sizeof(sink));
}

/* The front door's read, for an attached connection.  Returns what the
 * interposed function returns: bytes, 0, or the lower layer's code. */
static ssize_t
fd_read(fd_conn *c, int fd, gnutls_session_t s, void *buf, size_t size,
    int *fail)
{
	frontdoor_verdict v;
	unsigned long long clen;
	ssize_t r, code = 0;
	char *hend;
	size_t n, extra;
	char sink[4096];

	*fail = 0;
	r = 0;
	switch (c->phase) {
	case PH_HEAD:
		for (;;) {
			if (c->len >= FRONTDOOR_HEAD_MAX) {
				fd_refuse(&v, 431, "request_header_too_large",
				    "the request head is too large");
				fd_answer(c, fd, s, &v);
				*fail = 1;
				return -1;
			}
			r = fd_lower(fd, s, c->buf + c->len,
			    FRONTDOOR_HEAD_MAX - c->len, &code);
			if (r < 0 || r == 0)
				return code;     /* nothing for libmicrohttpd yet */
			c->len += (size_t)r;
			c->buf[c->len] = '\0';
			/* The byte rules cover the head only, as far as it
			 * goes: body bytes after it are the body's. */
			hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
			n = hend != NULL ? (size_t)(hend - c->buf) + 4 : c->len;
			if (n > c->scanned && fd_scan_bytes(c->buf + c->scanned,
			    n - c->scanned, &c->prev, &v) != 0) {
				fd_answer(c, fd, s, &v);
				*fail = 1;
				return -1;
			}
			c->scanned = n;
			if (hend != NULL)
				break;
		}
		n = (size_t)(hend - c->buf) + 4;
		if (frontdoor_check_head(c->buf, n, fd_max_body, &clen, &v) != 0) {
			fd_answer(c, fd, s, &v);
			*fail = 1;
			return -1;
		}
		/* The head and what arrived of its body; bytes past the body
		 * are a second request and are dropped. */
		extra = c->len - n;
		if (extra > clen)
			extra = (size_t)clen;
		c->pass = n + extra;
		c->body_left = clen - extra;
		c->off = 0;
		c->phase = PH_PASS;
		/* FALLTHROUGH */
	case PH_PASS:
		n = c->pass - c->off;
		if (n > size)
			n = size;
		memcpy(buf, c->buf + c->off, n);
		c->off += n;
		if (c->off == c->pass) {
			explicit_bzero(c->buf, sizeof(c->buf));  /* body bytes */
			c->phase = c->body_left > 0 ? PH_BODY : PH_DONE;
		}
		return (ssize_t)n;
	case PH_BODY:
		n = size;
		if (n > c->body_left)
			n = (size_t)c->body_left;
		r = fd_lower(fd, s, buf, n, &code);
		if (r > 0) {
			c->body_left -= (unsigned long long)r;
			if (c->body_left == 0)
				c->phase = PH_DONE;
			return r;
		}
		return code;
	case PH_DONE:
		/* After the request: read and drop (no second request), and
		 * tell libmicrohttpd there is nothing; end of stream and
		 * errors go up as they are. */
		for (n = 0; n < 16; n++) {
			r = fd_lower(fd, s, sink, sizeof(sink), &code);
			if (r <= 0)
				break;
		}
		explicit_bzero(sink, sizeof(sink));
		if (r == 0 || r == -2)
			return code;
		if (s != NULL)
			return GNUTLS_E_AGAIN;
		errno = EAGAIN;
		return -1;
	case PH_REFUSED:
	default:
		*fail = 1;
		return -1;
	}
}

/* -- the interposed functions ------------------------------------------------ */

ssize_t
gnutls_record_recv(gnutls_session_t session, void *data, size_t data_size)
{
	int rfd = -1, wfd = -1, fail;
	fd_conn *c;
	ssize_t r;

	pthread_once(&fd_once, fd_resolve);
	gnutls_transport_get_int2(session, &rfd, &wfd);
	c = fd_lookup(rfd);
	if (c == NULL || !c->tls)
		return real_tls_recv(session, data, data_size);
	r = fd_read(c, rfd, session, data, data_size, &fail);
	if (fail)
		return GNUTLS_E_PULL_ERROR;
	return r;
}

size_t
gnutls_record_check_pending(gnutls_session_t session)
{
	int rfd = -1, wfd = -1;
	fd_conn *c;

	pthread_once(&fd_once, fd_resolve);
	gnutls_transport_get_int2(session, &rfd, &wfd);
	c = fd_lookup(rfd);
	if (c != NULL && c->tls) {
		if (c->phase == PH_PASS)
			return c->pass - c->off;
		if (c->phase == PH_HEAD || c->phase == PH_REFUSED ||
		    c->phase == PH_DONE)
			return 0;
	}
	return real_tls_pending(session);
}

ssize_t
recv(int fd, void *buf, size_t n, int flags)
{
	fd_conn *c;
	ssize_t r;
	int fail;

	pthread_once(&fd_once, fd_resolve);
	c = fd_lookup(fd);
	if (c == NULL || c->tls || (flags & MSG_PEEK))
		return real_recv(fd, buf, n, flags);
	r = fd_read(c, fd, NULL, buf, n, &fail);
	if (fail) {
		errno = ECONNRESET;
		return -1;
	}
	return r;
}
