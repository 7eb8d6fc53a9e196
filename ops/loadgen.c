/* ops/loadgen.c — load generator for coffer-gateway: simulated devices
 * posting NDJSON batches over mutual TLS, every receipt checked.
 *
 *   loadgen --url https://127.0.0.1:8443 --ca CA.pem --certs DIR
 *           [--records N] [--devices M] [--batch B] [--size BYTES]
 *           [--rate R] [--connections C] [--seed S] [--first I]
 *           [--attach-pct P] [--attach-bytes B] [--latency-out FILE]
 *           [--series FILE] [--progress] [--timeout S]
 *   loadgen ... --idle N [--hold S] [--rss-pid PID]   hold N idle mTLS conns
 *   loadgen ... --handshakes S                        full handshakes for S s
 *   loadgen --dump N [generator options]              print N records, no I/O
 *   loadgen --owners [--devices M]                    owners' addresses (JSON)
 *
 * DIR holds one <device>.crt and <device>.key per simulated device (as
 * `cofferctl device issue` writes them); the first M pairs in name order are
 * devices 0..M-1.  Records come from bench/lib/synth.c: record i belongs to
 * device (i / B) % M, so the baselines in bench/ store the very same
 * records.  Each connection thread serves the devices d with d % C == its
 * index, one keep-alive connection per device, and sends that device's
 * batches in order; one request per connection at a time (no pipelining),
 * as a phone agent would.
 *
 * Every response line must be "stored" or "duplicate" for the line and id
 * that were sent (jansson parses them; http_parser frames the response).
 * 503 and 429 are retried after Retry-After; a broken connection is
 * re-established and the batch resent (duplicates then count as
 * acknowledged: the gateway returns the original receipt).  Exit status is
 * 0 only when every record was acknowledged.
 *
 * Latency is measured per request from the first byte written to the end of
 * the response.  With --rate the batches follow a fixed schedule (open loop)
 * and a request that is late starts at once; its latency still counts from
 * when it was actually sent.
 *
 * Trusts: nothing it receives (responses are parsed defensively and only
 * echoed as capped printable text).  Holds only throwaway device keys.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "bench/lib/synth.h"
#include "common/sslerr.h"
#include "common/util.h"

#define LG_THREADS_MAX     64U
#define LG_RETRIES_MAX     1000U    /* 503/429 answers for one batch */
#define LG_RECONNECTS_MAX  20U      /* broken connections for one batch */
#define LG_READ_CHUNK      16384U
#define LG_SHOW_ERRORS     5

typedef struct lg_opts {
	char        host[256];
	char        port[16];
	char        path[256];
	const char *ca;
	const char *certs;
	uint64_t    records;
	uint64_t    first;
	synth_cfg   syn;
	double      rate;             /* records/s, 0: as fast as possible */
	unsigned    connections;
	const char *latency_out;
	const char *series;
	int         progress;
	unsigned    timeout_s;
	uint64_t    idle;             /* --idle N */
	unsigned    hold_s;
	long        rss_pid;
	unsigned    handshakes_s;     /* --handshakes S */
	uint64_t    dump;
} lg_opts;

typedef struct device {
	char    name[128];
	SSL_CTX *ctx;
} device;

typedef struct lat {
	double   sent_s;              /* since the start */
	double   ms;
	uint32_t records;
} lat;

typedef struct stats {
	uint64_t acked, stored, duplicate, rejected, failed;
	uint64_t requests, retries, reconnects, bytes;
	lat     *lats;
	size_t   nlats, lats_cap;
} stats;

typedef struct conn {
	int      fd;
	SSL     *ssl;
	unsigned device;
} conn;

typedef struct global {
	lg_opts          o;
	device          *devs;
	unsigned         ndevs;
	struct addrinfo *ai;
	double           t0;
	atomic_ullong    acked;
	atomic_int       stop;
	atomic_int       finished;        /* worker threads done */
	atomic_int       errors_shown;
	pthread_mutex_t  out_mu;
} global;

typedef struct worker {
	global   *g;
	unsigned  index;
	pthread_t tid;
	stats     st;
	conn     *conns;          /* one per device this thread serves */
	unsigned  nconns;
	char     *body;
	size_t    body_cap, body_len;
	char    (*ids)[SYNTH_ID_MAX];
	synth_rec rec;
	char     *resp;
	size_t    resp_len, resp_cap;
} worker;

/* -- small helpers -------------------------------------------------------- */

static void
sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double
cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Peer text made printable and capped before it reaches our output. */
static void
printable(char *dst, size_t cap, const char *src, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < len && k + 1 < cap; i++)
		dst[k++] = isprint((unsigned char)src[i]) ? src[i] : '?';
	dst[k] = '\0';
}

/* What to say when OpenSSL queued no reason: the system's, or EOF. */
static const char *
io_errtext(void)
{
	return errno ? strerror(errno) : "connection closed";
}

/* https://HOST[:PORT][/PATH] with HOST a name, an IPv4 or [IPv6]. */
static int
parse_url(lg_opts *o, const char *url)
{
	const char *p, *h, *he, *slash;
	size_t n;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	p = url + 8;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (*p == '[') {
		h = p + 1;
		he = memchr(h, ']', (size_t)(slash - h));
		if (he == NULL)
			return -1;
		p = he + 1;
	} else {
		h = p;
		he = memchr(p, ':', (size_t)(slash - p));
		if (he == NULL)
			he = slash;
		p = he;
	}
	n = (size_t)(he - h);
	if (n == 0 || n >= sizeof(o->host))
		return -1;
	memcpy(o->host, h, n);
	o->host[n] = '\0';
	if (*p == ':') {
		n = (size_t)(slash - p - 1);
		if (n == 0 || n >= sizeof(o->port))
			return -1;
		memcpy(o->port, p + 1, n);
		o->port[n] = '\0';
	} else if (p == slash) {
		snprintf(o->port, sizeof(o->port), "443");
	} else {
		return -1;
	}
	if (*slash == '/' && slash[1] != '\0')
		snprintf(o->path, sizeof(o->path), "%s", slash);
	return 0;
}

/* -- devices and TLS ------------------------------------------------------- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static SSL_CTX *
make_ctx(const lg_opts *o, const char *crt, const char *key, int tickets,
    char *err, size_t err_len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		sslerr_set(err, err_len, "SSL_CTX_new", io_errtext());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (!tickets)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
		sslerr_set(err, err_len, o->ca, io_errtext());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1) {
		sslerr_set(err, err_len, crt, io_errtext());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		sslerr_set(err, err_len, key, io_errtext());
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* The first `want` <name>.crt/<name>.key pairs of dir, in name order. */
static int
load_devices(global *g, unsigned want, int tickets, char *err, size_t err_len)
{
	DIR *d = opendir(g->o.certs);
	struct dirent *e;
	char **names = NULL, crt[4096], key[4096];
	size_t n = 0, cap = 0, i;
	int rc = -1;

	if (d == NULL) {
		snprintf(err, err_len, "%s: %s", g->o.certs, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len <= 4 || strcmp(e->d_name + len - 4, ".crt") != 0 ||
		    len - 4 >= sizeof(g->devs[0].name))
			continue;
		snprintf(key, sizeof(key), "%s/%.*s.key", g->o.certs,
		    (int)(len - 4), e->d_name);
		if (access(key, R_OK) != 0)
			continue;
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 64;
			p = realloc(names, cap * sizeof(*names));
			if (p == NULL)
				goto out;
			names = p;
		}
		names[n] = strndup(e->d_name, len - 4);
		if (names[n] == NULL)
			goto out;
		n++;
	}
	if (n < want) {
		snprintf(err, err_len, "%s: %zu device certificate/key pairs, %u "
		    "wanted", g->o.certs, n, want);
		goto out;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	g->devs = calloc(want, sizeof(*g->devs));
	if (g->devs == NULL) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	for (i = 0; i < want; i++) {
		snprintf(g->devs[i].name, sizeof(g->devs[i].name), "%s", names[i]);
		snprintf(crt, sizeof(crt), "%s/%s.crt", g->o.certs, names[i]);
		snprintf(key, sizeof(key), "%s/%s.key", g->o.certs, names[i]);
		g->devs[i].ctx = make_ctx(&g->o, crt, key, tickets, err, err_len);
		if (g->devs[i].ctx == NULL)
			goto out;
		g->ndevs++;
	}
	rc = 0;
out:
	if (rc != 0 && err[0] == '\0')
		snprintf(err, err_len, "out of memory");
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

static void
conn_close(conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static int
conn_open(global *g, conn *c, unsigned dev, char *err, size_t err_len)
{
	struct addrinfo *a;
	struct timeval tv;
	int one = 1;
	unsigned char ipbuf[16];

	c->fd = -1;
	c->ssl = NULL;
	c->device = dev;
	for (a = g->ai; a != NULL; a = a->ai_next) {
		c->fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
		    a->ai_protocol);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	if (c->fd < 0) {
		snprintf(err, err_len, "connect %s:%s: %s", g->o.host, g->o.port,
		    strerror(errno));
		return -1;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tv.tv_sec = g->o.timeout_s;
	tv.tv_usec = 0;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->ssl = SSL_new(g->devs[dev].ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		sslerr_set(err, err_len, "SSL_new", io_errtext());
		conn_close(c);
		return -1;
	}
	/* Check the server certificate names the address we dialled. */
	if (inet_pton(AF_INET, g->o.host, ipbuf) == 1 ||
	    inet_pton(AF_INET6, g->o.host, ipbuf) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), g->o.host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, g->o.host);
		SSL_set1_host(c->ssl, g->o.host);
	}
	ERR_clear_error();
	errno = 0;
	if (SSL_connect(c->ssl) != 1) {
		sslerr_set(err, err_len, "TLS handshake", io_errtext());
		conn_close(c);
		return -1;
	}
	return 0;
}

/* -- one HTTP exchange ----------------------------------------------------- */

typedef struct resp_state {
	worker  *w;
	int      complete;
	int      keep_alive;
	int      retry_after;
	int      last_was_value;
	char     field[32];
	size_t   field_len;
	char     value[32];
	size_t   value_len;
	int      overflow;
} resp_state;

static void
header_done(resp_state *s)
{
	if (s->field_len == 11 && strncasecmp(s->field, "Retry-After", 11) == 0) {
		s->value[s->value_len < sizeof(s->value) ? s->value_len :
		    sizeof(s->value) - 1] = '\0';
		s->retry_after = atoi(s->value);
	}
	s->field_len = 0;
	s->value_len = 0;
}

static int
on_field(http_parser *p, const char *at, size_t len)
{
	resp_state *s = p->data;

	if (s->last_was_value)
		header_done(s);
	s->last_was_value = 0;
	if (s->field_len + len < sizeof(s->field)) {
		memcpy(s->field + s->field_len, at, len);
		s->field_len += len;
	} else {
		s->field_len = sizeof(s->field);   /* too long: not ours */
	}
	return 0;
}

static int
on_value(http_parser *p, const char *at, size_t len)
{
	resp_state *s = p->data;

	s->last_was_value = 1;
	if (s->value_len + len < sizeof(s->value)) {
		memcpy(s->value + s->value_len, at, len);
		s->value_len += len;
	}
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	resp_state *s = p->data;

	if (s->last_was_value)
		header_done(s);
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	resp_state *s = p->data;
	worker *w = s->w;

	if (w->resp_len + len + 1 > w->resp_cap) {
		size_t cap = w->resp_cap ? w->resp_cap : 65536;
		char *q;

		while (cap < w->resp_len + len + 1)
			cap *= 2;
		if (cap > (64U << 20)) {
			s->overflow = 1;
			return -1;
		}
		q = realloc(w->resp, cap);
		if (q == NULL) {
			s->overflow = 1;
			return -1;
		}
		w->resp = q;
		w->resp_cap = cap;
	}
	memcpy(w->resp + w->resp_len, at, len);
	w->resp_len += len;
	return 0;
}

static int
on_complete(http_parser *p)
{
	resp_state *s = p->data;

	s->complete = 1;
	s->keep_alive = http_should_keep_alive(p);
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_complete,
};

static int
write_all(conn *c, const char *p, size_t n, char *err, size_t err_len)
{
	while (n > 0) {
		int k = SSL_write(c->ssl, p, n > (1U << 30) ? (1 << 30) : (int)n);

		if (k <= 0) {
			sslerr_set(err, err_len, "write", io_errtext());
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Send the worker's body on c and read one response into w->resp.
 * 0 with *status set, or -1 (connection broken: caller reconnects). */
static int
exchange(worker *w, conn *c, int *status, int *retry_after, int *keep_alive,
    double *sent, double *done, char *err, size_t err_len)
{
	http_parser parser;
	resp_state s;
	char head[512], buf[LG_READ_CHUNK];
	const lg_opts *o = &w->g->o;
	int n;

	n = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: %s\r\n"
	    "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n\r\n",
	    o->path, o->host, w->body_len);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		snprintf(err, err_len, "request head too long");
		return -1;
	}
	*sent = util_mono_s();
	if (write_all(c, head, (size_t)n, err, err_len) != 0 ||
	    write_all(c, w->body, w->body_len, err, err_len) != 0)
		return -1;
	memset(&s, 0, sizeof(s));
	s.w = w;
	w->resp_len = 0;
	http_parser_init(&parser, HTTP_RESPONSE);
	parser.data = &s;
	while (!s.complete) {
		size_t used;

		ERR_clear_error();
		errno = 0;
		n = SSL_read(c->ssl, buf, sizeof(buf));
		if (n <= 0) {
			/* EOF may end a response without a length. */
			if (SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN)
				http_parser_execute(&parser, &resp_settings, NULL, 0);
			if (s.complete)
				break;
			sslerr_set(err, err_len, "read", io_errtext());
			return -1;
		}
		used = http_parser_execute(&parser, &resp_settings, buf, (size_t)n);
		if (s.complete)
			break;
		if (used != (size_t)n || HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
			snprintf(err, err_len, "malformed HTTP response (%s)%s",
			    http_errno_name(HTTP_PARSER_ERRNO(&parser)),
			    s.overflow ? ", body too large" : "");
			return -1;
		}
	}
	*done = util_mono_s();
	*status = (int)parser.status_code;
	*retry_after = s.retry_after;
	*keep_alive = s.keep_alive;
	return 0;
}

/* -- checking receipts ------------------------------------------------------ */

static void
show_error(worker *w, const char *fmt, const char *detail)
{
	global *g = w->g;

	if (atomic_fetch_add(&g->errors_shown, 1) >= LG_SHOW_ERRORS)
		return;
	pthread_mutex_lock(&g->out_mu);
	fprintf(stderr, "loadgen: ");
	fprintf(stderr, fmt, detail);
	fputc('\n', stderr);
	pthread_mutex_unlock(&g->out_mu);
}

/* Check a 200 body against the n records sent. */
static void
check_receipts(worker *w, size_t n)
{
	const char *p = w->resp, *end = w->resp + w->resp_len;
	size_t line = 0, ok = 0;
	char msg[256];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		json_error_t je;
		json_t *j;

		if (len > 0) {
			const char *st = NULL, *id = NULL, *why = NULL;
			json_int_t ln = 0;

			j = json_loadb(p, len, 0, &je);
			if (j == NULL || json_unpack(j, "{s:I, s:s, s?s, s?s}", "line",
			    &ln, "status", &st, "id", &id, "error", &why) != 0) {
				printable(msg, 120, p, len);
				show_error(w, "unparseable receipt line: %s", msg);
			} else if (line >= n || ln != (json_int_t)(line + 1) ||
			    (id != NULL && strcmp(id, w->ids[line]) != 0)) {
				printable(msg, 120, p, len);
				show_error(w, "receipt out of order: %s", msg);
			} else if (strcmp(st, "stored") == 0) {
				w->st.stored++;
				ok++;
			} else if (strcmp(st, "duplicate") == 0) {
				w->st.duplicate++;
				ok++;
			} else {
				w->st.rejected++;
				printable(msg, 160, why ? why : st, strlen(why ? why : st));
				show_error(w, "record rejected: %s", msg);
			}
			json_decref(j);
			line++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (line != n) {
		snprintf(msg, sizeof(msg), "%zu receipt lines for %zu records",
		    line, n);
		show_error(w, "%s", msg);
	}
	w->st.acked += ok;
	w->st.failed += n - ok;
	atomic_fetch_add(&w->g->acked, ok);
}

/* -- one device batch ----------------------------------------------------- */

static int
build_batch(worker *w, uint64_t first, size_t n)
{
	const lg_opts *o = &w->g->o;
	size_t i;

	w->body_len = 0;
	for (i = 0; i < n; i++) {
		if (synth_make(&o->syn, first + i, &w->rec) != 0)
			return -1;
		if (w->body_len + w->rec.line_len + 1 > w->body_cap) {
			size_t cap = w->body_cap ? w->body_cap : 262144;
			char *q;

			while (cap < w->body_len + w->rec.line_len + 1)
				cap *= 2;
			q = realloc(w->body, cap);
			if (q == NULL)
				return -1;
			w->body = q;
			w->body_cap = cap;
		}
		memcpy(w->body + w->body_len, w->rec.line, w->rec.line_len);
		w->body_len += w->rec.line_len;
		w->body[w->body_len++] = '\n';
		snprintf(w->ids[i], SYNTH_ID_MAX, "%s", w->rec.id);
	}
	return 0;
}

static void
add_lat(stats *st, double sent, double ms, uint32_t n)
{
	if (st->nlats == st->lats_cap) {
		size_t cap = st->lats_cap ? st->lats_cap * 2 : 4096;
		lat *p = realloc(st->lats, cap * sizeof(*p));

		if (p == NULL)
			return;     /* latency sample lost, counts still right */
		st->lats = p;
		st->lats_cap = cap;
	}
	st->lats[st->nlats].sent_s = sent;
	st->lats[st->nlats].ms = ms;
	st->lats[st->nlats].records = n;
	st->nlats++;
}

static void
send_batch(worker *w, conn *c, uint64_t first, size_t n)
{
	global *g = w->g;
	unsigned retries = 0, reconnects = 0;
	char err[512], msg[256];

	if (build_batch(w, first, n) != 0) {
		show_error(w, "%s", "out of memory building a batch");
		w->st.failed += n;
		return;
	}
	for (;;) {
		int status = 0, retry_after = 0, keep = 0;
		double sent = 0, done = 0;

		err[0] = '\0';
		if (c->ssl == NULL &&
		    conn_open(g, c, c->device, err, sizeof(err)) != 0) {
			if (++reconnects > LG_RECONNECTS_MAX)
				break;
			w->st.reconnects++;
			sleep_s(0.1 * reconnects);
			continue;
		}
		if (exchange(w, c, &status, &retry_after, &keep, &sent, &done, err,
		    sizeof(err)) != 0) {
			conn_close(c);
			if (++reconnects > LG_RECONNECTS_MAX)
				break;
			w->st.reconnects++;
			sleep_s(0.05 * reconnects);
			continue;
		}
		w->st.requests++;
		w->st.bytes += w->body_len;
		if (!keep)
			conn_close(c);
		if (status == 200) {
			add_lat(&w->st, sent - g->t0, (done - sent) * 1000.0,
			    (uint32_t)n);
			check_receipts(w, n);
			return;
		}
		if ((status == 503 || status == 429) && ++retries <= LG_RETRIES_MAX) {
			w->st.retries++;
			sleep_s(retry_after > 0 && retry_after <= 60 ?
			    (double)retry_after : 1.0);
			continue;
		}
		printable(msg, 160, w->resp, w->resp_len);
		snprintf(err, sizeof(err), "HTTP %d: %s", status, msg);
		break;
	}
	show_error(w, "batch not acknowledged: %s", err);
	w->st.failed += n;
}

static void *
worker_main(void *arg)
{
	worker *w = arg;
	global *g = w->g;
	const lg_opts *o = &g->o;
	uint64_t nb = (o->records + o->syn.batch - 1) / o->syn.batch, b;
	unsigned M = g->ndevs, C = o->connections;

	for (b = 0; b < nb && !atomic_load(&g->stop); b++) {
		unsigned d = (unsigned)(b % M);
		uint64_t first = b * o->syn.batch;
		size_t n;

		if (d % C != w->index)
			continue;
		/* The record range is absolute (--first) so device mapping
		 * follows the record index, not the batch number. */
		n = o->records - first < o->syn.batch ?
		    (size_t)(o->records - first) : o->syn.batch;
		if (o->rate > 0)
			sleep_s(g->t0 + (double)first / o->rate - util_mono_s());
		send_batch(w, &w->conns[d / C], o->first + first, n);
	}
	atomic_fetch_add(&g->finished, 1);
	return NULL;
}

/* -- modes ------------------------------------------------------------------ */

static int
lat_cmp(const void *a, const void *b)
{
	double x = ((const lat *)a)->ms, y = ((const lat *)b)->ms;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static int
sent_cmp(const void *a, const void *b)
{
	double x = ((const lat *)a)->sent_s, y = ((const lat *)b)->sent_s;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static double
pct(const lat *l, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)n);
	if (k >= n)
		k = n - 1;
	return l[k].ms;
}

static int
run_ingest(global *g)
{
	lg_opts *o = &g->o;
	worker *ws;
	unsigned i, C = o->connections, started = 0;
	stats tot;
	double t1, c0, last_t, elapsed;
	uint64_t last_n = 0;
	FILE *series = NULL;
	int rc = 1;

	/* Starting index: a window run (--first) must still map the first
	 * record to device (first / batch) % M; we require alignment. */
	if (o->first % o->syn.batch != 0 ||
	    (o->first / o->syn.batch) % g->ndevs != 0) {
		fprintf(stderr, "loadgen: --first must be a multiple of batch x "
		    "devices (%llu)\n",
		    (unsigned long long)o->syn.batch * g->ndevs);
		return 2;
	}
	if (C > g->ndevs)
		C = o->connections = g->ndevs;
	ws = calloc(C, sizeof(*ws));
	if (ws == NULL)
		return 1;
	if (o->series != NULL && (series = fopen(o->series, "w")) == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", o->series, strerror(errno));
		free(ws);
		return 1;
	}
	g->t0 = util_mono_s();
	c0 = cpu_s();
	for (i = 0; i < C; i++) {
		unsigned k;

		ws[i].g = g;
		ws[i].index = i;
		ws[i].nconns = (g->ndevs - i + C - 1) / C;
		ws[i].conns = calloc(ws[i].nconns, sizeof(conn));
		ws[i].ids = calloc(o->syn.batch, SYNTH_ID_MAX);
		if (ws[i].conns == NULL || ws[i].ids == NULL)
			break;
		for (k = 0; k < ws[i].nconns; k++) {
			ws[i].conns[k].fd = -1;
			ws[i].conns[k].device = i + k * C;
		}
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
			break;
		started++;
	}
	if (started < C) {
		fprintf(stderr, "loadgen: could not start %u threads\n", C);
		atomic_store(&g->stop, 1);
	}
	last_t = g->t0;
	for (;;) {
		uint64_t n = atomic_load(&g->acked);
		double now = util_mono_s();
		int finished = atomic_load(&g->finished) >= (int)started;

		if (now - last_t >= 0.5 || finished) {
			double r = now > last_t ? (double)(n - last_n) / (now - last_t) : 0;

			if (series != NULL) {
				fprintf(series, "%.2f %.1f %llu\n", now - g->t0, r,
				    (unsigned long long)n);
				fflush(series);
			}
			if (o->progress)
				fprintf(stderr, "loadgen: %llu/%llu acknowledged, %.0f/s\n",
				    (unsigned long long)n, (unsigned long long)o->records,
				    r);
			last_t = now;
			last_n = n;
		}
		if (finished)
			break;
		sleep_s(0.05);
	}
	for (i = 0; i < started; i++)
		pthread_join(ws[i].tid, NULL);
	t1 = util_mono_s();
	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < C; i++) {
		tot.acked += ws[i].st.acked;
		tot.stored += ws[i].st.stored;
		tot.duplicate += ws[i].st.duplicate;
		tot.rejected += ws[i].st.rejected;
		tot.failed += ws[i].st.failed;
		tot.requests += ws[i].st.requests;
		tot.retries += ws[i].st.retries;
		tot.reconnects += ws[i].st.reconnects;
		tot.bytes += ws[i].st.bytes;
		tot.nlats += ws[i].st.nlats;
	}
	tot.lats = calloc(tot.nlats ? tot.nlats : 1, sizeof(lat));
	if (tot.lats != NULL) {
		size_t k = 0;

		for (i = 0; i < C; i++) {
			if (ws[i].st.nlats > 0)
				memcpy(tot.lats + k, ws[i].st.lats,
				    ws[i].st.nlats * sizeof(lat));
			k += ws[i].st.nlats;
		}
	} else {
		tot.nlats = 0;
	}
	if (o->latency_out != NULL && tot.nlats > 0) {
		FILE *f = fopen(o->latency_out, "w");
		size_t k;

		if (f == NULL) {
			fprintf(stderr, "loadgen: %s: %s\n", o->latency_out,
			    strerror(errno));
		} else {
			qsort(tot.lats, tot.nlats, sizeof(lat), sent_cmp);
			fprintf(f, "# sent_s latency_ms records\n");
			for (k = 0; k < tot.nlats; k++)
				fprintf(f, "%.4f %.3f %u\n", tot.lats[k].sent_s,
				    tot.lats[k].ms, tot.lats[k].records);
			fclose(f);
		}
	}
	qsort(tot.lats, tot.nlats, sizeof(lat), lat_cmp);
	elapsed = t1 - g->t0;
	printf("loadgen: %llu/%llu records acknowledged (%llu stored, %llu "
	    "duplicate), %llu rejected, %llu not acknowledged\n",
	    (unsigned long long)tot.acked, (unsigned long long)o->records,
	    (unsigned long long)tot.stored, (unsigned long long)tot.duplicate,
	    (unsigned long long)tot.rejected, (unsigned long long)tot.failed);
	printf("loadgen: %.1f s, %.0f records/s, %.2f MB/s, %llu requests, "
	    "%llu retries (503/429), %llu reconnects, client CPU %.1f s\n",
	    elapsed, (double)tot.acked / elapsed, (double)tot.bytes / elapsed / 1e6,
	    (unsigned long long)tot.requests, (unsigned long long)tot.retries,
	    (unsigned long long)tot.reconnects, cpu_s() - c0);
	printf("loadgen: latency ms p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f "
	    "max %.2f\n", pct(tot.lats, tot.nlats, 50), pct(tot.lats, tot.nlats, 90),
	    pct(tot.lats, tot.nlats, 99), pct(tot.lats, tot.nlats, 99.9),
	    tot.nlats ? tot.lats[tot.nlats - 1].ms : 0);
	printf("RESULT name=loadgen records=%llu acked=%llu stored=%llu "
	    "duplicate=%llu rejected=%llu failed=%llu bytes=%llu seconds=%.3f "
	    "records_per_s=%.1f mb_per_s=%.2f p50_ms=%.3f p90_ms=%.3f "
	    "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f requests=%llu retries=%llu "
	    "reconnects=%llu cpu_s=%.2f\n",
	    (unsigned long long)o->records, (unsigned long long)tot.acked,
	    (unsigned long long)tot.stored, (unsigned long long)tot.duplicate,
	    (unsigned long long)tot.rejected, (unsigned long long)tot.failed,
	    (unsigned long long)tot.bytes, elapsed, (double)tot.acked / elapsed,
	    (double)tot.bytes / elapsed / 1e6, pct(tot.lats, tot.nlats, 50),
	    pct(tot.lats, tot.nlats, 90), pct(tot.lats, tot.nlats, 99),
	    pct(tot.lats, tot.nlats, 99.9),
	    tot.nlats ? tot.lats[tot.nlats - 1].ms : 0,
	    (unsigned long long)tot.requests, (unsigned long long)tot.retries,
	    (unsigned long long)tot.reconnects, cpu_s() - c0);
	fflush(stdout);
	rc = tot.acked == o->records ? 0 : 1;
	free(tot.lats);
	for (i = 0; i < C; i++) {
		unsigned k;

		for (k = 0; ws[i].conns != NULL && k < ws[i].nconns; k++)
			conn_close(&ws[i].conns[k]);
		free(ws[i].conns);
		free(ws[i].ids);
		free(ws[i].body);
		free(ws[i].resp);
		free(ws[i].st.lats);
		synth_rec_clear(&ws[i].rec);
	}
	free(ws);
	if (series != NULL)
		fclose(series);
	return rc;
}

/* Resident set of another process, KiB (VmRSS), or -1. */
static long
rss_kib(long pid)
{
	char path[64], line[256];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			v = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Still open?  Reads what the server may have sent since the handshake
 * (TLS 1.3 session tickets) without blocking: close_notify or EOF means the
 * server dropped us. */
static int
conn_alive(conn *c)
{
	char buf[256];
	int n, e, fl;

	if (c->ssl == NULL)
		return 0;
	fl = fcntl(c->fd, F_GETFL);
	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return 0;
	ERR_clear_error();
	n = SSL_read(c->ssl, buf, sizeof(buf));
	e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, n);
	(void)fcntl(c->fd, F_SETFL, fl);
	ERR_clear_error();
	return n > 0 || e == SSL_ERROR_WANT_READ;
}

typedef struct idle_arg {
	global   *g;
	conn     *conns;
	uint64_t  from, to;         /* [from, to) of the connection array */
	uint64_t  failed;
	char      err[256];
} idle_arg;

static void *
idle_main(void *p)
{
	idle_arg *a = p;
	uint64_t i;

	for (i = a->from; i < a->to && !atomic_load(&a->g->stop); i++) {
		char err[256];

		if (conn_open(a->g, &a->conns[i], (unsigned)(i % a->g->ndevs), err,
		    sizeof(err)) != 0) {
			if (a->failed++ == 0)
				snprintf(a->err, sizeof(a->err), "%s", err);
		}
	}
	return NULL;
}

static int
run_idle(global *g)
{
	lg_opts *o = &g->o;
	unsigned T = o->connections, i;
	idle_arg *args;
	pthread_t *tids;
	conn *conns;
	uint64_t n = o->idle, k, alive = 0, failed = 0;
	long before = -1, after = -1, held = -1;
	double t0, t1;
	int rc = 1;

	conns = calloc(n, sizeof(*conns));
	args = calloc(T, sizeof(*args));
	tids = calloc(T, sizeof(*tids));
	if (conns == NULL || args == NULL || tids == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		goto out;
	}
	for (k = 0; k < n; k++)
		conns[k].fd = -1;
	if (o->rss_pid > 0)
		before = rss_kib(o->rss_pid);
	t0 = util_mono_s();
	for (i = 0; i < T; i++) {
		args[i].g = g;
		args[i].conns = conns;
		args[i].from = n * i / T;
		args[i].to = n * (i + 1) / T;
		if (pthread_create(&tids[i], NULL, idle_main, &args[i]) != 0) {
			fprintf(stderr, "loadgen: pthread_create failed\n");
			T = i;
			break;
		}
	}
	for (i = 0; i < T; i++) {
		pthread_join(tids[i], NULL);
		failed += args[i].failed;
		if (args[i].failed > 0)
			fprintf(stderr, "loadgen: %llu connections failed; first: %s\n",
			    (unsigned long long)args[i].failed, args[i].err);
	}
	t1 = util_mono_s();
	/* Let the server finish its post-handshake work and settle. */
	sleep_s(2.0);
	if (o->rss_pid > 0)
		after = rss_kib(o->rss_pid);
	sleep_s((double)o->hold_s);
	if (o->rss_pid > 0)
		held = rss_kib(o->rss_pid);
	for (k = 0; k < n; k++)
		if (conn_alive(&conns[k]))
			alive++;
	printf("loadgen: %llu idle mTLS connections opened in %.1f s (%.0f "
	    "handshakes/s), %llu failed, %llu alive after %u s\n",
	    (unsigned long long)(n - failed), t1 - t0,
	    (double)(n - failed) / (t1 - t0), (unsigned long long)failed,
	    (unsigned long long)alive, o->hold_s);
	if (o->rss_pid > 0)
		printf("loadgen: server RSS %.1f MiB before, %.1f MiB with the "
		    "connections, %.1f MiB after holding; %.1f KiB per connection\n",
		    (double)before / 1024, (double)after / 1024, (double)held / 1024,
		    n > failed ? (double)(held - before) / (double)(n - failed) : 0);
	printf("RESULT name=idle connections=%llu opened=%llu alive=%llu "
	    "open_seconds=%.3f rss_before_kib=%ld rss_after_kib=%ld "
	    "rss_held_kib=%ld\n", (unsigned long long)n,
	    (unsigned long long)(n - failed), (unsigned long long)alive, t1 - t0,
	    before, after, held);
	fflush(stdout);
	rc = failed == 0 && alive == n ? 0 : 1;
out:
	for (k = 0; conns != NULL && k < n; k++)
		conn_close(&conns[k]);
	free(conns);
	free(args);
	free(tids);
	return rc;
}

typedef struct hs_arg {
	global  *g;
	unsigned index;
	double   until;
	uint64_t ok, failed;
	char     err[256];
} hs_arg;

static void *
hs_main(void *p)
{
	hs_arg *a = p;
	unsigned dev = a->index % a->g->ndevs;

	while (util_mono_s() < a->until) {
		conn c;
		char err[256];

		if (conn_open(a->g, &c, dev, err, sizeof(err)) != 0) {
			if (a->failed++ == 0)
				snprintf(a->err, sizeof(a->err), "%s", err);
			continue;
		}
		(void)SSL_shutdown(c.ssl);
		conn_close(&c);
		a->ok++;
		dev = (dev + 1) % a->g->ndevs;
	}
	return NULL;
}

static int
run_handshakes(global *g)
{
	lg_opts *o = &g->o;
	unsigned T = o->connections, i, started = 0;
	hs_arg *args = calloc(T, sizeof(*args));
	pthread_t *tids = calloc(T, sizeof(*tids));
	uint64_t ok = 0, failed = 0;
	double t0, t1, c0 = cpu_s();
	int rc = 1;

	if (args == NULL || tids == NULL)
		goto out;
	t0 = util_mono_s();
	for (i = 0; i < T; i++) {
		args[i].g = g;
		args[i].index = i;
		args[i].until = t0 + o->handshakes_s;
		if (pthread_create(&tids[i], NULL, hs_main, &args[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(tids[i], NULL);
		ok += args[i].ok;
		failed += args[i].failed;
		if (args[i].failed > 0)
			fprintf(stderr, "loadgen: %llu handshakes failed; first: %s\n",
			    (unsigned long long)args[i].failed, args[i].err);
	}
	t1 = util_mono_s();
	printf("loadgen: %llu full mTLS handshakes in %.1f s over %u "
	    "connections: %.0f/s, %llu failed, client CPU %.1f s\n",
	    (unsigned long long)ok, t1 - t0, started, (double)ok / (t1 - t0),
	    (unsigned long long)failed, cpu_s() - c0);
	printf("RESULT name=handshakes handshakes=%llu failed=%llu seconds=%.3f "
	    "handshakes_per_s=%.1f cpu_s=%.2f\n", (unsigned long long)ok,
	    (unsigned long long)failed, t1 - t0, (double)ok / (t1 - t0),
	    cpu_s() - c0);
	fflush(stdout);
	rc = ok > 0 && failed == 0 ? 0 : 1;
out:
	free(args);
	free(tids);
	return rc;
}

static int
run_dump(const lg_opts *o)
{
	synth_rec r;
	uint64_t i;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < o->dump; i++) {
		if (synth_make(&o->syn, o->first + i, &r) != 0) {
			synth_rec_clear(&r);
			return 1;
		}
		fwrite(r.line, 1, r.line_len, stdout);
		fputc('\n', stdout);
	}
	synth_rec_clear(&r);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* The device owners' addresses as a JSON array (a matter scope that
 * covers every record of a time window). */
static int
run_owners(const lg_opts *o)
{
	json_t *a = json_array();
	char phone[SYNTH_ADDR_MAX], email[SYNTH_ADDR_MAX], *s;
	unsigned d;

	if (a == NULL)
		return 1;
	for (d = 0; d < o->syn.devices; d++) {
		synth_owner(&o->syn, d, phone, sizeof(phone), email, sizeof(email));
		json_array_append_new(a, json_string(phone));
		json_array_append_new(a, json_string(email));
	}
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (s == NULL)
		return 1;
	puts(s);
	free(s);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* -- main -------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: loadgen --url https://HOST:PORT --ca CA.pem --certs DIR [options]\n"
	    "  --records N         records to send (1000000)\n"
	    "  --devices M         simulated devices: the first M DIR/*.crt+*.key (16)\n"
	    "  --batch B           records per request (100)\n"
	    "  --size BYTES        mean message body size (1024)\n"
	    "  --rate R            records/s on a fixed schedule (default: max)\n"
	    "  --connections C     connection threads, <= 64 (default: min(M, 64))\n"
	    "  --seed S            generator seed (1): same seed, same records\n"
	    "  --first I           index of the first record (0; multiple of B x M)\n"
	    "  --attach-pct P      records carrying a base64 attachment (0)\n"
	    "  --attach-bytes B    raw size of that attachment (4096)\n"
	    "  --latency-out FILE  per request: sent_s latency_ms records\n"
	    "  --series FILE       per second: t_s records_per_s acknowledged\n"
	    "  --progress          progress on stderr every second\n"
	    "  --timeout S         socket timeout (60)\n"
	    "  --path P            request path (/v1/records)\n"
	    "modes:\n"
	    "  --idle N [--hold S] [--rss-pid PID]  open N idle connections, report\n"
	    "                      the server's RSS (from /proc) before and after\n"
	    "  --handshakes S      full handshakes (no resumption) for S seconds\n"
	    "  --dump N            print N records as NDJSON and exit (no network)\n"
	    "  --owners            print the M device owners' numbers and addresses\n"
	    "                      as a JSON array and exit (no network)\n");
}

int
main(int argc, char **argv)
{
	global g;
	lg_opts *o = &g.o;
	const char *url = NULL;
	char err[512];
	uint64_t v;
	int i, rc, owners = 0;
	struct rlimit rl;

	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.out_mu, NULL);
	o->records = 1000000;
	o->syn.seed = 1;
	o->syn.devices = 16;
	o->syn.batch = 100;
	o->syn.body_size = 1024;
	o->syn.attach_bytes = 4096;
	o->timeout_s = 60;
	o->hold_s = 5;
	snprintf(o->path, sizeof(o->path), "/v1/records");
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

#define STROPT(name, field) \
		if (strcmp(a, name) == 0) { \
			if (val == NULL) \
				goto bad; \
			field = val; \
			i++; \
			continue; \
		}
#define NUMOPT(name, max, field, cast) \
		if (strcmp(a, name) == 0) { \
			if (util_parse_u64(val, 0, max, &v) != 0) \
				goto bad; \
			field = (cast)v; \
			i++; \
			continue; \
		}
		STROPT("--url", url)
		STROPT("--ca", o->ca)
		STROPT("--certs", o->certs)
		STROPT("--latency-out", o->latency_out)
		STROPT("--series", o->series)
		NUMOPT("--records", 1ULL << 40, o->records, uint64_t)
		NUMOPT("--first", 1ULL << 40, o->first, uint64_t)
		NUMOPT("--devices", 1000000, o->syn.devices, unsigned)
		NUMOPT("--batch", 100000, o->syn.batch, unsigned)
		NUMOPT("--size", 4U << 20, o->syn.body_size, size_t)
		NUMOPT("--attach-pct", 100, o->syn.attach_pct, unsigned)
		NUMOPT("--attach-bytes", 8U << 20, o->syn.attach_bytes, size_t)
		NUMOPT("--seed", ~0ULL, o->syn.seed, uint64_t)
		NUMOPT("--connections", LG_THREADS_MAX, o->connections, unsigned)
		NUMOPT("--timeout", 3600, o->timeout_s, unsigned)
		NUMOPT("--idle", 10000000, o->idle, uint64_t)
		NUMOPT("--hold", 86400, o->hold_s, unsigned)
		NUMOPT("--rss-pid", 1U << 30, o->rss_pid, long)
		NUMOPT("--handshakes", 86400, o->handshakes_s, unsigned)
		NUMOPT("--dump", 1ULL << 40, o->dump, uint64_t)
#undef STROPT
#undef NUMOPT
		if (strcmp(a, "--rate") == 0) {
			char *end;

			if (val == NULL)
				goto bad;
			o->rate = strtod(val, &end);
			if (*end != '\0' || o->rate < 0)
				goto bad;
			i++;
			continue;
		}
		if (strcmp(a, "--path") == 0) {
			if (val == NULL || val[0] != '/' ||
			    strlen(val) >= sizeof(o->path) || strpbrk(val, " \r\n"))
				goto bad;
			snprintf(o->path, sizeof(o->path), "%s", val);
			i++;
			continue;
		}
		if (strcmp(a, "--progress") == 0) {
			o->progress = 1;
			continue;
		}
		if (strcmp(a, "--owners") == 0) {
			owners = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "loadgen: unknown option %s\n", a);
		usage(stderr);
		return 2;
bad:
		fprintf(stderr, "loadgen: bad or missing value for %s\n", a);
		return 2;
	}
	if (synth_cfg_check(&o->syn, err, sizeof(err)) != 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "loadgen: libsodium did not initialise\n");
		return 1;
	}
	if (o->dump > 0)
		return run_dump(o);
	if (owners)
		return run_owners(o);
	if (url == NULL || o->ca == NULL || o->certs == NULL) {
		usage(stderr);
		return 2;
	}
	if (parse_url(o, url) != 0) {
		fprintf(stderr, "loadgen: --url must be https://HOST[:PORT][/PATH]\n");
		return 2;
	}
	if (o->connections == 0)
		o->connections = o->syn.devices < LG_THREADS_MAX ?
		    o->syn.devices : LG_THREADS_MAX;
	/* Thousands of sockets in --idle: take the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	{
		struct addrinfo hints;
		int e;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		e = getaddrinfo(o->host, o->port, &hints, &g.ai);
		if (e != 0) {
			fprintf(stderr, "loadgen: %s: %s\n", o->host, gai_strerror(e));
			return 1;
		}
	}
	err[0] = '\0';
	/* Handshake and idle modes measure full handshakes: no tickets. */
	if (load_devices(&g, o->syn.devices, o->idle == 0 &&
	    o->handshakes_s == 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		rc = 1;
		goto out;
	}
	if (o->idle > 0)
		rc = run_idle(&g);
	else if (o->handshakes_s > 0)
		rc = run_handshakes(&g);
	else
		rc = run_ingest(&g);
out:
	if (g.devs != NULL) {
		unsigned k;

		for (k = 0; k < g.ndevs; k++)
			SSL_CTX_free(g.devs[k].ctx);
		free(g.devs);
	}
	freeaddrinfo(g.ai);
	pthread_mutex_destroy(&g.out_mu);
	return rc;
}
