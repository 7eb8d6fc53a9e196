/* gateway/net.c — the gateway's single event-loop thread.
 *
 * epoll, level-triggered, over: the TLS listener, the metrics listener, an
 * eventfd for pipeline completions, a signalfd, and every connection.
 * Sockets and OpenSSL are non-blocking; WANT_READ / WANT_WRITE are honoured
 * in both directions (a read may need a write and the reverse).
 *
 * Per connection, one request at a time: while a request is in ingest the
 * socket is not read (its epoll mask is empty), and while sl_busy() the
 * bodies of accepted requests are not read either (the connection is
 * "parked" until the pipeline catches up): back-pressure reaches the
 * peers' TCP windows instead of our memory.  Idle connections hold no
 * read buffer (SSL_MODE_RELEASE_BUFFERS; our unconsumed-input buffer is
 * freed when empty), so thousands of them cost memory, not threads.
 *
 * Timeouts (a one-second sweep): handshake and request head within
 * header_timeout_s, the whole body within body_timeout_s, keep-alive idle
 * idle_timeout_s, writing a response within body_timeout_s, and a short
 * lingering close after an error answer so the peer can read it.
 * Over max_connections a new connection is accepted and closed at once,
 * and so is one from a peer address that already holds
 * max_connections_per_address (counted per IPv6 address, IPv4 as its
 * IPv4-mapped form, in a table keyed with a random SipHash key so peers
 * cannot aim at one chain), before any TLS work: one host dribbling
 * connections cannot take every slot for header_timeout_s (an IPv6 peer
 * holding a whole prefix is still bounded only by max_connections and the
 * timeouts).  A slot is
 * counted when the connection is fully set up and released in conn_close()
 * with the socket, next to n_tls, so the two cannot drift; the sweep checks
 * that they agree and the table empties when the last connection closes.
 * Per device a token bucket (device_rate/s, device_burst) answers 429 with
 * Retry-After.  404/405 answers are counted and logged (rate-limited), and
 * a connection that keeps probing is closed.
 *
 * Trusts: tls.c for the peer identity, http.c for framing, the pipeline to
 * call `done` exactly once per submit (a connection whose peer left stays
 * allocated, socket closed, until then).
 */
#include "gateway/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <sodium.h>

#include "common/changes.h"
#include "common/log.h"
#include "common/tbucket.h"
#include "common/util.h"
#include "gateway/http.h"
#include "vault/mem.h"

#define NET_READ_CHUNK       16384U     /* one TLS record of plaintext */
#define NET_READS_PER_TURN   16         /* then yield to other connections */
#define NET_EVENTS           256
#define NET_ACCEPT_PER_TURN  128
#define NET_METRICS_CONNS    32
#define NET_LINGER_MS        2000
#define NET_SHUTDOWN_MS      15000
#define NET_PROBES_PER_CONN  20         /* 404/405 answers, then close */
#define NET_BUCKETS          4096U
#define NET_BUCKET_IDLE_MS   (10LL * 60 * 1000)
#define NET_ASLOTS_MIN       64U        /* per-address table buckets */
#define NET_ASLOTS_MAX       65536U
#define NET_REFUSE_LOG_RATE  1.0        /* refused-connection lines/s ... */
#define NET_REFUSE_LOG_BURST 20.0       /* ... after a burst of this many */
#define NET_RETRY_MAX_S      3600U      /* Retry-After cap for 429 */

typedef enum tag {
	TAG_LISTEN_TLS = 1,
	TAG_LISTEN_METRICS,
	TAG_EVENTFD,
	TAG_SIGNALFD,
	TAG_CONN
} tag;

typedef struct listener {
	tag   tag;
	int   fd;
	char  addr[128];
	int   paused;               /* accept paused after EMFILE */
} listener;

typedef struct fdtag {
	tag   tag;
} fdtag;

typedef struct bucket {
	struct bucket *next;
	tbucket        tb;
	long long      last_ms;       /* last take: idle buckets are pruned */
	unsigned       conns;
	char           key[2 * 128 + 2];
} bucket;

/* Open TLS connections from one peer address. */
typedef struct addr_slot {
	struct addr_slot *next;
	unsigned char     ip[16];       /* IPv6; IPv4 as ::ffff:a.b.c.d */
	unsigned          conns;        /* > 0 while in the table */
} addr_slot;


typedef enum phase {
	PH_HANDSHAKE,
	PH_HTTP,
	PH_DRAIN                     /* lingering close: read and discard */
} phase;

typedef enum tstate {            /* what the deadline is measuring */
	TS_NONE,
	TS_HANDSHAKE,
	TS_IDLE,
	TS_HEAD,
	TS_BODY,
	TS_WRITE,
	TS_WAIT,                     /* in ingest or parked: our turn */
	TS_DRAIN
} tstate;

typedef struct conn conn;

typedef struct clist {           /* intrusive doubly-linked FIFO */
	conn *head, *tail;
	size_t n;
} clist;

typedef struct clink {
	conn *prev, *next;
	int   on;
} clink;

struct conn {
	tag         tag;             /* TAG_CONN; first, for epoll data */
	net        *n;
	int         fd;
	int         is_metrics;
	phase       phase;
	uint32_t    events;          /* current epoll mask */
	tls_conn   *tls;
	http_conn  *http;
	bucket     *bucket;
	addr_slot  *aslot;           /* counted in n->aslots while fd >= 0 */
	char        addr[64];
	char       *pend;            /* input read but not consumed yet */
	size_t      pend_len, pend_cap;
	int         in_ingest;
	int         dead;            /* socket gone, waiting for `done` */
	int         close_after;     /* close once the output is written */
	unsigned    probes;
	unsigned    rechecks;        /* n->rechecks when accepted */
	tstate      ts;
	long long   deadline_ms;
	clink       all, ready, parked;
	conn       *grave_next;      /* freed at the end of the loop turn */
	/* completion, written by a pipeline thread under n->q_lock */
	conn       *done_next;
	int         d_status;
	unsigned    d_retry;
	const char *d_ctype;
	char       *d_body;
	size_t      d_len;
};

struct net {
	const gw_config *cfg;
	tls_server      *tls;
	sealer_link     *ig;
	metrics         *m;
	int              ep;
	listener         l_tls, l_metrics;
	fdtag            t_event, t_signal;
	int              efd, sfd;
	clist            all, ready, parked;
	size_t           n_tls, n_metrics, n_zombies;
	conn            *grave;          /* closed this turn, freed after it */
	bucket          *buckets[NET_BUCKETS];
	addr_slot      **aslots;         /* per-address connection counts */
	unsigned         aslot_mask;     /* buckets - 1 (a power of two) */
	size_t           n_aslots;       /* addresses in the table */
	size_t           n_aslot_conns;  /* sum of their counts (== n_tls) */
	unsigned char    aslot_key[crypto_shorthash_KEYBYTES];
	int              aslot_broken;   /* inconsistency logged once */
	long long        last_sweep_ms, last_prune_ms;
	size_t           closed_since_trim;
	int              stopping;
	unsigned         rechecks;       /* net_recheck runs so far */
	long long        stop_deadline_ms;
	log_limit        plog;           /* probes, refused requests */
	log_limit        rlog;           /* connections refused at accept */
	/* completions */
	pthread_mutex_t  q_lock;
	conn            *q_head, *q_tail;
	char             rbuf[NET_READ_CHUNK];
};

static long long
net_now_ms(void)
{
	return util_mono_us() / 1000;
}

void
net_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/* ------------------------------------------------------------------------ */
/* intrusive lists                                                          */

static void
clist_add(clist *l, conn *c, size_t off)
{
	clink *k = (clink *)(void *)((char *)c + off);

	if (k->on)
		return;
	k->on = 1;
	k->next = NULL;
	k->prev = l->tail;
	if (l->tail != NULL)
		((clink *)(void *)((char *)l->tail + off))->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void
clist_del(clist *l, conn *c, size_t off)
{
	clink *k = (clink *)(void *)((char *)c + off);

	if (!k->on)
		return;
	if (k->prev != NULL)
		((clink *)(void *)((char *)k->prev + off))->next = k->next;
	else
		l->head = k->next;
	if (k->next != NULL)
		((clink *)(void *)((char *)k->next + off))->prev = k->prev;
	else
		l->tail = k->prev;
	k->on = 0;
	k->prev = k->next = NULL;
	l->n--;
}

#define OFF_ALL    offsetof(conn, all)
#define OFF_READY  offsetof(conn, ready)
#define OFF_PARKED offsetof(conn, parked)

/* ------------------------------------------------------------------------ */
/* rate-limited log lines                                                   */

/* ------------------------------------------------------------------------ */
/* open connections per peer address                                        */

/* The peer's address as 16 bytes: IPv4 (and IPv4-mapped IPv6, as a
 * dual-stack listener reports IPv4 peers) both become ::ffff:a.b.c.d, so
 * one host counts once whichever way it arrives.  The port is left out. */
static void
net_peer_ip(const struct sockaddr_storage *ss, unsigned char ip[16])
{
	memset(ip, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &s4->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		memcpy(ip, &s6->sin6_addr, 16);
	}
}

static const char *
net_ip_str(const unsigned char ip[16], char *out, size_t cap)
{
	static const unsigned char v4map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (memcmp(ip, v4map, sizeof(v4map)) == 0) {
		if (inet_ntop(AF_INET, ip + 12, out, (socklen_t)cap) == NULL)
			snprintf(out, cap, "-");
	} else if (inet_ntop(AF_INET6, ip, out, (socklen_t)cap) == NULL) {
		snprintf(out, cap, "-");
	}
	return out;
}

/* Peers choose their addresses (an IPv6 host has a /64 of them): the
 * bucket comes from SipHash under a key drawn at start-up. */
static unsigned
net_aslot_hash(const net *n, const unsigned char ip[16])
{
	unsigned char h[crypto_shorthash_BYTES];
	uint32_t v;

	crypto_shorthash(h, ip, 16, n->aslot_key);
	memcpy(&v, h, sizeof(v));
	return v & n->aslot_mask;
}

static addr_slot *
net_aslot_find(const net *n, const unsigned char ip[16], unsigned *bucket_out)
{
	unsigned h = net_aslot_hash(n, ip);
	addr_slot *a;

	*bucket_out = h;
	for (a = n->aslots[h]; a != NULL; a = a->next)
		if (memcmp(a->ip, ip, 16) == 0)
			return a;
	return NULL;
}

/* Count one more connection from ip; NULL when out of memory. */
static addr_slot *
net_aslot_take(net *n, const unsigned char ip[16])
{
	unsigned h;
	addr_slot *a = net_aslot_find(n, ip, &h);

	if (a == NULL) {
		a = calloc(1, sizeof(*a));
		if (a == NULL)
			return NULL;
		memcpy(a->ip, ip, 16);
		a->next = n->aslots[h];
		n->aslots[h] = a;
		n->n_aslots++;
		metrics_conn_addresses(n->m, n->n_aslots);
	}
	a->conns++;
	n->n_aslot_conns++;
	return a;
}

static void
net_aslot_broken(net *n, const char *what)
{
	if (n->aslot_broken)
		return;
	n->aslot_broken = 1;
	log_error("internal: per-address connection table: %s (%zu addresses, "
	    "%zu counted, %zu open)", what, n->n_aslots, n->n_aslot_conns,
	    n->n_tls);
}

/* One connection from a's address closed; the slot goes when it was the
 * last. */
static void
net_aslot_release(net *n, addr_slot *a)
{
	unsigned h;
	addr_slot **pp;

	if (a->conns == 0 || n->n_aslot_conns == 0) {
		net_aslot_broken(n, "count would go below zero");
		return;
	}
	n->n_aslot_conns--;
	if (--a->conns > 0)
		return;
	h = net_aslot_hash(n, a->ip);
	for (pp = &n->aslots[h]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			free(a);
			n->n_aslots--;
			metrics_conn_addresses(n->m, n->n_aslots);
			return;
		}
	}
	net_aslot_broken(n, "slot not in its bucket");
}

/* The sweep's check: counts agree with the open connections (O(1));
 * with full set a recount of the table as well (O(table), once a minute). */
static void
net_aslot_check(net *n, int full)
{
	size_t addrs = 0, conns = 0;
	unsigned i;

	if (n->n_aslot_conns != n->n_tls)
		net_aslot_broken(n, "counts differ from the open connections");
	if (n->n_tls == 0 && n->n_aslots != 0)
		net_aslot_broken(n, "addresses left with no connection open");
	if (!full)
		return;
	for (i = 0; i <= n->aslot_mask; i++) {
		const addr_slot *a;
		for (a = n->aslots[i]; a != NULL; a = a->next) {
			addrs++;
			conns += a->conns;
			if (a->conns == 0)
				net_aslot_broken(n, "a slot with no connection");
		}
	}
	if (addrs != n->n_aslots || conns != n->n_aslot_conns)
		net_aslot_broken(n, "recount differs");
}

static void
net_aslots_free(net *n)
{
	unsigned i;

	if (n->aslots == NULL)
		return;
	for (i = 0; i <= n->aslot_mask; i++) {
		addr_slot *a = n->aslots[i], *an;
		for (; a != NULL; a = an) {
			an = a->next;
			free(a);
		}
	}
	free(n->aslots);
	n->aslots = NULL;
}

/* ------------------------------------------------------------------------ */
/* per-device token buckets                                                 */

static unsigned
net_hash(const char *s)
{
	unsigned h = 2166136261U;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 16777619U;
	}
	return h;
}

/* Keys come from verified certificates of registered devices, so the
 * table is bounded by the device registry; FNV is enough. */
static bucket *
net_bucket_get(net *n, const ingest_peer *p)
{
	char key[sizeof(((bucket *)0)->key)];
	unsigned h;
	bucket *b;

	snprintf(key, sizeof(key), "%s/%s", p->tenant, p->device);
	h = net_hash(key) % NET_BUCKETS;
	for (b = n->buckets[h]; b != NULL; b = b->next)
		if (strcmp(b->key, key) == 0)
			break;
	if (b == NULL) {
		b = calloc(1, sizeof(*b));
		if (b == NULL)
			return NULL;
		memcpy(b->key, key, sizeof(key));
		tbucket_init(&b->tb, (double)n->cfg->device_burst,
		    util_mono_us());
		b->last_ms = net_now_ms();
		b->next = n->buckets[h];
		n->buckets[h] = b;
	}
	b->conns++;
	return b;
}

/* 1 allowed; 0 refused with *wait_s the seconds until a token is back
 * (at most NET_RETRY_MAX_S, for the Retry-After header). */
static int
net_bucket_take(net *n, bucket *b, unsigned *wait_s)
{
	long long now = util_mono_us();
	int ok;

	ok = tbucket_take(&b->tb, n->cfg->device_rate,
	    (double)n->cfg->device_burst, now, wait_s);
	b->last_ms = now / 1000;
	if (*wait_s > NET_RETRY_MAX_S)
		*wait_s = NET_RETRY_MAX_S;
	return ok;
}

static void
net_bucket_prune(net *n, long long now)
{
	unsigned i;

	for (i = 0; i < NET_BUCKETS; i++) {
		bucket **pp = &n->buckets[i];
		while (*pp != NULL) {
			bucket *b = *pp;
			if (b->conns == 0 && now - b->last_ms > NET_BUCKET_IDLE_MS) {
				*pp = b->next;
				free(b);
			} else {
				pp = &b->next;
			}
		}
	}
}

/* ------------------------------------------------------------------------ */
/* connections: epoll mask, close, free                                     */

static void
conn_set_events(conn *c, uint32_t ev)
{
	struct epoll_event e;

	if (c->fd < 0 || c->events == ev)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(c->n->ep, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = ev;
}

/* Pending input is decrypted request bytes (message content): wiped
 * before it goes back to the heap. */
static void
conn_pend_free(conn *c)
{
	if (c->pend != NULL) {
		vault_wipe(c->pend, c->pend_cap);
		free(c->pend);
	}
	c->pend = NULL;
	c->pend_len = c->pend_cap = 0;
}

static void
conn_free_struct(conn *c)
{
	tls_conn_free(&c->tls);
	conn_pend_free(c);
	/* an undelivered answer lists message ids: wiped like the input */
	if (c->d_body != NULL)
		vault_wipe(c->d_body, c->d_len);
	free(c->d_body);
	free(c);
}

/* Events for this connection may still sit in the current epoll batch:
 * free it only once the turn is over (its fd is -1 meanwhile). */
static void
conn_bury(conn *c)
{
	c->grave_next = c->n->grave;
	c->n->grave = c;
}

static void
net_free_grave(net *n)
{
	while (n->grave != NULL) {
		conn *c = n->grave;
		n->grave = c->grave_next;
		conn_free_struct(c);
	}
}

/* Close the socket and release everything but the struct when a pipeline
 * completion is still due (then it becomes a zombie freed by that). */
static void
conn_close(conn *c)
{
	net *n = c->n;

	if (c->fd >= 0) {
		(void)epoll_ctl(n->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
		if (c->is_metrics) {
			n->n_metrics--;
		} else {
			n->n_tls--;
			n->closed_since_trim++;
			metrics_conn_close(n->m);
			if (c->aslot != NULL)
				net_aslot_release(n, c->aslot);
			else
				net_aslot_broken(n, "a connection without a slot");
			c->aslot = NULL;
		}
	}
	clist_del(&n->all, c, OFF_ALL);
	clist_del(&n->ready, c, OFF_READY);
	clist_del(&n->parked, c, OFF_PARKED);
	/* the peer identity handed to sl_submit() lives in tls: keep it
	 * until the pipeline's `done` for a request in flight */
	if (!c->in_ingest)
		tls_conn_free(&c->tls);
	http_conn_free(&c->http);
	if (c->bucket != NULL) {
		c->bucket->conns--;
		c->bucket = NULL;
	}
	conn_pend_free(c);
	if (c->in_ingest) {
		if (!c->dead) {
			c->dead = 1;
			n->n_zombies++;
		}
		return;
	}
	conn_bury(c);
}

/* Answer written with "Connection: close": send close_notify, stop
 * writing, then read and discard for a moment so that unread request
 * bytes do not turn our close into a reset that destroys the answer. */
static void
conn_linger(conn *c)
{
	if (c->tls != NULL)
		tls_conn_shutdown(c->tls);
	(void)shutdown(c->fd, SHUT_WR);
	c->phase = PH_DRAIN;
	c->ts = TS_DRAIN;
	c->deadline_ms = net_now_ms() + NET_LINGER_MS;
	clist_del(&c->n->ready, c, OFF_READY);
	clist_del(&c->n->parked, c, OFF_PARKED);
	conn_set_events(c, EPOLLIN);
}

/* ------------------------------------------------------------------------ */
/* deadlines                                                                */

static tstate
conn_tstate(const conn *c)
{
	const char *d;

	if (c->phase == PH_HANDSHAKE)
		return TS_HANDSHAKE;
	if (c->phase == PH_DRAIN)
		return TS_DRAIN;
	if (c->in_ingest || c->parked.on)
		return TS_WAIT;
	if (http_output(c->http, &d) > 0)
		return TS_WRITE;
	if (http_in_body(c->http))
		return TS_BODY;
	if (http_in_request(c->http) || c->pend_len > 0)
		return TS_HEAD;
	return TS_IDLE;
}

static void
conn_update_deadline(conn *c)
{
	const gw_config *cfg = c->n->cfg;
	tstate ts = conn_tstate(c);
	long long now;

	if (ts == c->ts && ts != TS_IDLE)
		return;
	now = net_now_ms();
	c->ts = ts;
	switch (ts) {
	case TS_HANDSHAKE:
	case TS_HEAD:
		c->deadline_ms = now + (long long)cfg->header_timeout_s * 1000;
		break;
	case TS_IDLE:
		c->deadline_ms = now + (long long)cfg->idle_timeout_s * 1000;
		break;
	case TS_BODY:
	case TS_WRITE:
		c->deadline_ms = now + (long long)cfg->body_timeout_s * 1000;
		break;
	case TS_DRAIN:
		break;
	case TS_WAIT:
	case TS_NONE:
		c->deadline_ms = 0;
		break;
	}
}

/* ------------------------------------------------------------------------ */
/* I/O                                                                      */

typedef enum io_res { IO_OK, IO_WANT_READ, IO_WANT_WRITE, IO_CLOSED } io_res;

static io_res
conn_read(conn *c, char *buf, size_t cap, size_t *got)
{
	ssize_t r;

	*got = 0;
	if (c->tls != NULL) {
		switch (tls_conn_read(c->tls, buf, cap, got)) {
		case TLS_IO_OK:         return IO_OK;
		case TLS_IO_WANT_READ:  return IO_WANT_READ;
		case TLS_IO_WANT_WRITE: return IO_WANT_WRITE;
		default:                return IO_CLOSED;
		}
	}
	r = recv(c->fd, buf, cap, 0);
	if (r > 0) {
		*got = (size_t)r;
		return IO_OK;
	}
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return IO_WANT_READ;
	return IO_CLOSED;
}

static io_res
conn_write(conn *c, const char *buf, size_t len, size_t *put)
{
	ssize_t r;

	*put = 0;
	if (c->tls != NULL) {
		switch (tls_conn_write(c->tls, buf, len, put)) {
		case TLS_IO_OK:         return IO_OK;
		case TLS_IO_WANT_READ:  return IO_WANT_READ;
		case TLS_IO_WANT_WRITE: return IO_WANT_WRITE;
		default:                return IO_CLOSED;
		}
	}
	r = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (r >= 0) {
		*put = (size_t)r;
		return IO_OK;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return IO_WANT_WRITE;
	return IO_CLOSED;
}

/* ------------------------------------------------------------------------ */
/* requests                                                                 */

/* Count the response just queued; log and limit probes (THREATS T11). */
static void
conn_count_response(conn *c)
{
	net *n = c->n;
	int st = http_status(c->http);

	metrics_request(n->m, st);
	if (st == 404 || st == 405) {
		metrics_probe(n->m);
		if (++c->probes >= NET_PROBES_PER_CONN)
			c->close_after = 1;
		if (log_limit_allow(&n->plog)) {
			char tgt[104], t[80], d[80];
			size_t tl;
			const char *target = http_target(c->http, &tl);
			const ingest_peer *p = c->tls ? tls_conn_peer(c->tls) : NULL;

			log_printable(tgt, sizeof(tgt), target, tl);
			log_warn("probe: listener=%s peer=%s tenant=%s device=%s "
			    "method=%s target=\"%s\" status=%d",
			    c->is_metrics ? "metrics" : "gateway", c->addr,
			    p ? log_printable(t, sizeof(t), p->tenant,
			    strlen(p->tenant)) : "-",
			    p ? log_printable(d, sizeof(d), p->device,
			    strlen(p->device)) : "-",
			    http_method_str((enum http_method)http_method(c->http)),
			    tgt, st);
		}
	} else if (st == 400 || st == 413 || st == 417 || st == 431 ||
	    st == 505) {
		if (log_limit_allow(&n->plog))
			log_warn("request refused: peer=%s status=%d reason=\"%s\"",
			    c->addr, st, http_error(c->http));
	}
}

static void net_done(void *ctx, int status, unsigned retry_after_s,
    const char *content_type, char *body, size_t body_len);

static void
conn_on_headers(conn *c)
{
	net *n = c->n;

	if (c->bucket != NULL) {
		unsigned wait;

		if (!net_bucket_take(n, c->bucket, &wait)) {
			metrics_rate_limited(n->m);
			http_reject(c->http, 429, wait);
			conn_count_response(c);
			return;
		}
	}
	if (n->stopping)
		http_set_closing(c->http);
	if (http_continue(c->http))
		conn_count_response(c);
}

static void
conn_on_request(conn *c)
{
	net *n = c->n;
	size_t blen = 0;
	char *body = http_take_body(c->http, &blen);

	metrics_bytes_in(n->m, blen);
	if (c->is_metrics) {
		char *page = NULL;
		size_t plen = 0;

		free(body);
		if (metrics_render(n->m, n->ig, &page, &plen) != 0) {
			http_respond(c->http, 500, 0, NULL, NULL, 0);
		} else {
			http_respond(c->http, 200, 0,
			    "text/plain; version=0.0.4; charset=utf-8", page, plen);
		}
		conn_count_response(c);
		return;
	}
	if (body == NULL && (body = malloc(1)) != NULL)
		body[0] = '\0';
	if (body == NULL) {
		http_respond(c->http, 503, 1, NULL, NULL, 0);
		conn_count_response(c);
		return;
	}
	c->in_ingest = 1;
	sl_submit(n->ig, tls_conn_peer(c->tls), body, blen, net_done, c);
}

/* Feed bytes to the framer once and act on its event; returns bytes used. */
static size_t
conn_feed(conn *c, const char *data, size_t len)
{
	http_event ev;
	size_t used = http_feed(c->http, data, len, &ev);

	switch (ev) {
	case HTTP_EV_NONE:
		break;
	case HTTP_EV_HEADERS:
		conn_on_headers(c);
		break;
	case HTTP_EV_REQUEST:
		conn_on_request(c);
		break;
	case HTTP_EV_RESPONSE:
		conn_count_response(c);
		break;
	}
	return used;
}

static int
conn_keep_input(conn *c, const char *data, size_t len)
{
	if (len == 0)
		return 0;
	if (c->pend_len + len > c->pend_cap) {
		size_t cap = c->pend_len + len;
		char *p = vault_grow(c->pend, c->pend_len, c->pend_cap, cap);

		if (p == NULL)
			return -1;
		c->pend = p;
		c->pend_cap = cap;
	}
	memcpy(c->pend + c->pend_len, data, len);
	c->pend_len += len;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* driving a connection as far as it goes                                   */

/* 1 while the sealer still accepts c's device (registered, active, this
 * certificate); otherwise logs why and returns 0: the caller closes c. */
static int
net_still_accepted(conn *c)
{
	const ingest_peer *p = tls_conn_peer(c->tls);
	ingest_peer_fault fault = INGEST_PEER_DEVICE;
	char why[256];

	if (p == NULL)
		return 0;
	why[0] = '\0';
	if (sl_peer_check(c->n->ig, p, &fault, why, sizeof(why)) == 0)
		return 1;
	log_info("connection closed: peer=%s reason=%s fingerprint=%s "
	    "tenant=%s device=%s detail=\"%s\"", c->addr,
	    fault == INGEST_PEER_KEY ? "unregistered_key" : "unknown_device",
	    p->fingerprint, p->tenant, p->device,
	    why[0] ? why : "no longer accepted");
	return 0;
}

/* The sealer reloaded its directory after a change notification (mask:
 * common/changes.h).  Re-read the device CAs and CRLs (a new tenant's CA,
 * a revoked certificate), then ask the sealer about every open device
 * connection and close those it now refuses: a revoked device, a retired
 * certificate, a tenant gone.  One PEER round trip per connection, on this
 * thread; changes are operator actions, not traffic.  A request in flight
 * is not answered (its connection is closed; the pipeline's answer is
 * dropped as for a peer that left).  A connection still in its handshake
 * is checked again when the handshake ends (n->rechecks). */
static void
net_recheck(net *n, unsigned mask)
{
	conn *c, *next;
	char err[512];
	size_t open = 0, closed = 0;

	n->rechecks++;
	if (tls_server_reload(n->tls, err, sizeof(err)) != 0)
		log_error("change: re-reading the device CAs and CRLs failed, "
		    "keeping the previous ones: %s", err);
	for (c = n->all.head; c != NULL; c = next) {
		next = c->all.next;
		if (c->is_metrics || c->fd < 0 || c->phase != PH_HTTP ||
		    c->tls == NULL)
			continue;
		open++;
		if (net_still_accepted(c))
			continue;
		closed++;
		conn_close(c);
	}
	log_info("change: %s%s%s; %zu device connection(s) checked, %zu closed",
	    (mask & CHANGES_TENANT) ? "tenants" : "",
	    (mask & CHANGES_TENANT) && (mask & CHANGES_DEVICE) ? " and " : "",
	    (mask & CHANGES_DEVICE) ? "devices" : "", open, closed);
}

static void
conn_drive(conn *c)
{
	net *n = c->n;
	int reads = 0;

	for (;;) {
		const char *out;
		size_t olen, got, used;
		io_res r;

		if (c->phase == PH_HANDSHAKE) {
			tls_io t = tls_conn_handshake(c->tls);
			if (t == TLS_IO_WANT_READ) {
				conn_set_events(c, EPOLLIN);
				break;
			}
			if (t == TLS_IO_WANT_WRITE) {
				conn_set_events(c, EPOLLOUT);
				break;
			}
			if (t != TLS_IO_OK) {
				conn_close(c);
				return;
			}
			/* its device check ran during the handshake; a change
			 * checked meanwhile skipped it (not yet PH_HTTP) */
			if (c->rechecks != n->rechecks && !net_still_accepted(c)) {
				conn_close(c);
				return;
			}
			c->bucket = net_bucket_get(n, tls_conn_peer(c->tls));
			c->phase = PH_HTTP;
			if (n->stopping)
				http_set_closing(c->http);
			continue;
		}
		if (c->phase == PH_DRAIN) {
			for (;;) {
				ssize_t k = recv(c->fd, n->rbuf, sizeof(n->rbuf), 0);
				if (k > 0)
					continue;
				if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					return;
				if (k < 0 && errno == EINTR)
					continue;
				conn_close(c);
				return;
			}
		}

		/* 1. write what is queued */
		olen = http_output(c->http, &out);
		if (olen > 0) {
			r = conn_write(c, out, olen, &got);
			if (r == IO_OK) {
				http_output_advance(c->http, got);
				continue;
			}
			if (r == IO_CLOSED) {
				conn_close(c);
				return;
			}
			conn_set_events(c, r == IO_WANT_READ ? EPOLLIN : EPOLLOUT);
			break;
		}
		if (http_closing(c->http) || c->close_after ||
		    (n->stopping && !http_in_request(c->http) && !c->in_ingest &&
		    c->pend_len == 0)) {
			conn_linger(c);
			return;
		}
		/* 2. our turn: in ingest, nothing is read */
		if (c->in_ingest) {
			conn_set_events(c, 0);
			break;
		}
		/* 3. input already read */
		if (c->pend_len > 0) {
			used = conn_feed(c, c->pend, c->pend_len);
			if (used > 0) {
				memmove(c->pend, c->pend + used, c->pend_len - used);
				c->pend_len -= used;
				if (c->pend_len == 0)
					conn_pend_free(c);
				continue;
			}
			if (http_output(c->http, &out) > 0 || c->in_ingest ||
			    http_closing(c->http))
				continue;
			/* nothing consumed and nothing to do: wait for more */
		}
		/* 4. back-pressure: no body bytes while the pipeline is behind */
		if (http_in_body(c->http) && sl_busy(n->ig)) {
			clist_add(&n->parked, c, OFF_PARKED);
			metrics_backpressure(n->m, 1);
			conn_set_events(c, 0);
			break;
		}
		if (c->pend_len >= NET_READ_CHUNK * 2) {
			/* the framer is stuck on input it will not consume */
			conn_close(c);
			return;
		}
		if (reads++ >= NET_READS_PER_TURN) {
			clist_add(&n->ready, c, OFF_READY);
			break;
		}
		/* 5. read */
		r = conn_read(c, n->rbuf, sizeof(n->rbuf), &got);
		if (r == IO_OK) {
			int kept;

			used = conn_feed(c, n->rbuf, got);
			kept = conn_keep_input(c, n->rbuf + used, got - used);
			/* plaintext of one connection: not left for the next */
			vault_wipe(n->rbuf, got);
			if (kept != 0) {
				conn_close(c);
				return;
			}
			continue;
		}
		if (r == IO_CLOSED) {
			conn_close(c);
			return;
		}
		conn_set_events(c, r == IO_WANT_READ ? EPOLLIN : EPOLLOUT);
		if (!http_in_request(c->http))
			http_trim(c->http);
		break;
	}
	conn_update_deadline(c);
}

/* ------------------------------------------------------------------------ */
/* completions from the pipeline                                            */

/* Pipeline thread: queue and wake the loop. */
static void
net_done(void *ctx, int status, unsigned retry_after_s,
    const char *content_type, char *body, size_t body_len)
{
	conn *c = ctx;
	net *n = c->n;
	uint64_t one = 1;

	pthread_mutex_lock(&n->q_lock);
	c->d_status = status;
	c->d_retry = retry_after_s;
	c->d_ctype = content_type;
	c->d_body = body;
	c->d_len = body_len;
	c->done_next = NULL;
	if (n->q_tail != NULL)
		n->q_tail->done_next = c;
	else
		n->q_head = c;
	n->q_tail = c;
	pthread_mutex_unlock(&n->q_lock);
	if (write(n->efd, &one, sizeof(one)) < 0) {
		/* the counter is saturated or closed: the loop polls anyway */
	}
}

static void
net_completions(net *n)
{
	conn *c, *next;
	uint64_t v;

	while (read(n->efd, &v, sizeof(v)) > 0)
		;
	pthread_mutex_lock(&n->q_lock);
	c = n->q_head;
	n->q_head = n->q_tail = NULL;
	pthread_mutex_unlock(&n->q_lock);
	for (; c != NULL; c = next) {
		char *body = c->d_body;

		next = c->done_next;
		c->d_body = NULL;
		c->in_ingest = 0;
		if (c->dead) {
			/* the answer lists the batch's message ids */
			if (body != NULL)
				vault_wipe(body, c->d_len);
			free(body);
			metrics_undelivered(n->m);
			n->n_zombies--;
			conn_bury(c);
			continue;
		}
		if (n->stopping)
			http_set_closing(c->http);
		http_respond(c->http, c->d_status, c->d_retry, c->d_ctype, body,
		    c->d_len);
		conn_count_response(c);
		conn_drive(c);
	}
}

/* ------------------------------------------------------------------------ */
/* listeners                                                                */

static void
net_addr_str(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(s6->sin6_port));
	} else {
		snprintf(out, cap, "-");
	}
}

static int
net_bind(listener *l, tag t, const char *addr, char *err, size_t err_len)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[128], port[8];
	int fd = -1, one = 1, rc;

	l->tag = t;
	l->fd = -1;
	if (gw_config_split_addr(addr, host, sizeof(host), port, sizeof(port)) != 0) {
		snprintf(err, err_len, "%s: not HOST:PORT", addr);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, err_len, "%s: %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		snprintf(err, err_len, "%s: %s", addr, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			net_addr_str(&ss, l->addr, sizeof(l->addr));
		else
			snprintf(l->addr, sizeof(l->addr), "%s", addr);
	}
	l->fd = fd;
	return 0;
}

static int
net_ep_add(net *n, int fd, uint32_t ev, void *ptr)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = ptr;
	return epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &e);
}

/* Over the per-address limit: refuse before any TLS work, say so (rate
 * limited: a flood of these must not flood the log).  1 when refused. */
static int
net_refuse_per_address(net *n, const unsigned char ip[16])
{
	unsigned h, cap = n->cfg->max_connections_per_address;
	const addr_slot *a;
	char shown[INET6_ADDRSTRLEN];

	if (cap == 0)
		return 0;
	a = net_aslot_find(n, ip, &h);
	if (a == NULL || a->conns < cap)
		return 0;
	metrics_conn_refused(n->m, GW_CONN_PER_ADDRESS);
	if (log_limit_allow(&n->rlog))
		log_warn("connection refused: peer=%s reason=per_address_limit "
		    "open=%u", net_ip_str(ip, shown, sizeof(shown)), a->conns);
	return 1;
}

/* Set up one accepted socket; it is closed on any failure. */
static void
net_accept_one(net *n, int fd, const struct sockaddr_storage *ss,
    int metrics_l)
{
	unsigned char ip[16];
	addr_slot *aslot = NULL;
	conn *c = NULL;
	int one = 1;
	http_limits lim;

	if (n->stopping ||
	    (metrics_l && n->n_metrics >= NET_METRICS_CONNS))
		goto fail;
	if (!metrics_l) {
		net_peer_ip(ss, ip);
		if (net_refuse_per_address(n, ip))
			goto fail;
		if (n->n_tls >= n->cfg->max_connections) {
			metrics_conn_refused(n->m, GW_CONN_MAX_CONNECTIONS);
			goto fail;
		}
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->tag = TAG_CONN;
	c->n = n;
	c->fd = fd;
	c->is_metrics = metrics_l;
	c->rechecks = n->rechecks;
	net_addr_str(ss, c->addr, sizeof(c->addr));
	lim.max_header_bytes = n->cfg->max_header_bytes;
	lim.max_body_bytes = n->cfg->max_body_bytes;
	lim.routes = metrics_l ? HTTP_ROUTES_METRICS : HTTP_ROUTES_GATEWAY;
	if (http_conn_new(&c->http, &lim) != 0)
		goto fail;
	if (!metrics_l && tls_conn_new(&c->tls, n->tls, fd, c->addr) != 0)
		goto fail;
	c->phase = metrics_l ? PH_HTTP : PH_HANDSHAKE;
	c->events = EPOLLIN;
	/* the slot is taken last of all that can fail: from here on only
	 * conn_close() gives it back, together with n_tls */
	if (!metrics_l && (aslot = net_aslot_take(n, ip)) == NULL)
		goto fail;
	if (net_ep_add(n, fd, EPOLLIN, c) != 0)
		goto fail;
	clist_add(&n->all, c, OFF_ALL);
	if (metrics_l) {
		n->n_metrics++;
	} else {
		n->n_tls++;
		c->aslot = aslot;
		metrics_conn_open(n->m);
	}
	c->ts = TS_NONE;
	conn_drive(c);
	return;
fail:
	if (aslot != NULL)
		net_aslot_release(n, aslot);
	if (c != NULL) {
		tls_conn_free(&c->tls);
		http_conn_free(&c->http);
		free(c);
	}
	close(fd);
}

static void
net_accept(net *n, listener *l)
{
	int i;

	for (i = 0; i < NET_ACCEPT_PER_TURN; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd;

		memset(&ss, 0, sizeof(ss));
		fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* out of descriptors: stop accepting for a moment
				 * instead of spinning on a readable listener */
				struct epoll_event e;
				memset(&e, 0, sizeof(e));
				e.data.ptr = l;
				(void)epoll_ctl(n->ep, EPOLL_CTL_MOD, l->fd, &e);
				l->paused = 1;
				if (log_limit_allow(&n->plog))
					log_warn("accept: %s; pausing accepts", strerror(errno));
			}
			return;
		}
		net_accept_one(n, fd, &ss, l->tag == TAG_LISTEN_METRICS);
	}
}

static void
net_resume_accept(net *n)
{
	listener *ls[2] = { &n->l_tls, &n->l_metrics };
	int i;

	for (i = 0; i < 2; i++) {
		if (ls[i]->fd >= 0 && ls[i]->paused) {
			struct epoll_event e;
			memset(&e, 0, sizeof(e));
			e.events = EPOLLIN;
			e.data.ptr = ls[i];
			if (epoll_ctl(n->ep, EPOLL_CTL_MOD, ls[i]->fd, &e) == 0)
				ls[i]->paused = 0;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* signals, sweep, shutdown                                                 */

static void
net_close_listeners(net *n)
{
	if (n->l_tls.fd >= 0) {
		(void)epoll_ctl(n->ep, EPOLL_CTL_DEL, n->l_tls.fd, NULL);
		close(n->l_tls.fd);
		n->l_tls.fd = -1;
	}
	if (n->l_metrics.fd >= 0) {
		(void)epoll_ctl(n->ep, EPOLL_CTL_DEL, n->l_metrics.fd, NULL);
		close(n->l_metrics.fd);
		n->l_metrics.fd = -1;
	}
}

static void
net_begin_stop(net *n)
{
	conn *c, *next;

	if (n->stopping)
		return;
	n->stopping = 1;
	n->stop_deadline_ms = net_now_ms() + NET_SHUTDOWN_MS;
	net_close_listeners(n);
	log_info("stopping: no new connections; %zu open, finishing requests "
	    "in flight (at most %d s)", n->n_tls, NET_SHUTDOWN_MS / 1000);
	for (c = n->all.head; c != NULL; c = next) {
		next = c->all.next;
		if (c->phase == PH_HANDSHAKE || c->phase == PH_DRAIN) {
			conn_close(c);
			continue;
		}
		http_set_closing(c->http);
		if (!c->in_ingest)
			clist_add(&n->ready, c, OFF_READY);
	}
}

static void
net_signal(net *n)
{
	struct signalfd_siginfo si;

	while (read(n->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			char err[512];
			if (tls_server_reload(n->tls, err, sizeof(err)) == 0)
				log_info("reload: %zu tenant device CA(s) and CRLs loaded",
				    tls_server_tenant_count(n->tls));
			else
				log_error("reload failed, keeping the previous CAs and "
				    "CRLs: %s", err);
			sl_reload(n->ig);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			net_begin_stop(n);
		}
	}
}

static void
net_sweep(net *n, long long now)
{
	conn *c, *next;

	for (c = n->all.head; c != NULL; c = next) {
		next = c->all.next;
		if (c->deadline_ms == 0 || now < c->deadline_ms)
			continue;
		switch (c->ts) {
		case TS_HANDSHAKE:
			tls_conn_handshake_timeout(c->tls);
			break;
		case TS_HEAD:
			metrics_timeout(n->m, GW_TIMEOUT_HEADER);
			break;
		case TS_BODY:
			metrics_timeout(n->m, GW_TIMEOUT_BODY);
			break;
		case TS_IDLE:
			metrics_timeout(n->m, GW_TIMEOUT_IDLE);
			break;
		case TS_WRITE:
			metrics_timeout(n->m, GW_TIMEOUT_WRITE);
			break;
		default:
			break;
		}
		conn_close(c);
	}
	net_aslot_check(n, now - n->last_prune_ms > 60000);
	log_limit_flush(&n->plog);
	log_limit_flush(&n->rlog);
	if (now - n->last_prune_ms > 60000) {
		net_bucket_prune(n, now);
		n->last_prune_ms = now;
		/* after a wave of connections went away, give the heap back
		 * (each TLS connection held ~20 KiB of OpenSSL state) */
		if (n->closed_since_trim >= 1024) {
			(void)malloc_trim(0);
			n->closed_since_trim = 0;
		}
	}
}

int
net_run(net *n)
{
	struct epoll_event evs[NET_EVENTS];

	for (;;) {
		long long now;
		unsigned changed;
		int k, i, timeout = 250;

		if (n->ready.n > 0)
			timeout = 0;
		k = epoll_wait(n->ep, evs, NET_EVENTS, timeout);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (i = 0; i < k; i++) {
			fdtag *t = evs[i].data.ptr;

			switch (t->tag) {
			case TAG_LISTEN_TLS:
			case TAG_LISTEN_METRICS:
				net_accept(n, (listener *)(void *)t);
				break;
			case TAG_EVENTFD:
				net_completions(n);
				break;
			case TAG_SIGNALFD:
				net_signal(n);
				break;
			case TAG_CONN: {
				conn *c = (conn *)(void *)t;
				if (c->fd < 0)
					break;      /* closed earlier in this batch */
				if ((evs[i].events & (EPOLLERR | EPOLLHUP)) &&
				    (c->events == 0 || c->phase == PH_DRAIN)) {
					conn_close(c);
					break;
				}
				clist_del(&n->ready, c, OFF_READY);
				conn_drive(c);
				break;
			}
			}
		}
		/* connections with more to do and no event to tell us; those
		 * that queue themselves again wait for the next turn */
		for (i = (int)n->ready.n; i > 0 && n->ready.head != NULL; i--) {
			conn *c = n->ready.head;
			clist_del(&n->ready, c, OFF_READY);
			if (c->fd >= 0)
				conn_drive(c);
		}
		if (n->parked.n > 0 && !sl_busy(n->ig)) {
			while (n->parked.head != NULL) {
				conn *c = n->parked.head;
				clist_del(&n->parked, c, OFF_PARKED);
				clist_add(&n->ready, c, OFF_READY);
			}
			metrics_backpressure(n->m, 0);
		}
		if ((changed = sl_changes(n->ig)) != 0 && !n->stopping)
			net_recheck(n, changed);
		now = net_now_ms();
		if (now - n->last_sweep_ms >= 1000) {
			n->last_sweep_ms = now;
			net_sweep(n, now);
			net_resume_accept(n);
		}
		net_free_grave(n);
		if (n->stopping) {
			if (n->all.n == 0) {
				log_info("stopped: all connections closed");
				net_free_grave(n);
				return 0;
			}
			if (now >= n->stop_deadline_ms) {
				conn *c, *next;
				log_warn("stopping: %zu connection(s) still busy after %d s; "
				    "closing them", n->all.n, NET_SHUTDOWN_MS / 1000);
				for (c = n->all.head; c != NULL; c = next) {
					next = c->all.next;
					conn_close(c);
				}
				net_free_grave(n);
				return 0;
			}
		}
	}
}

/* ------------------------------------------------------------------------ */
/* set-up and tear-down                                                     */

int
net_new(net **out, const gw_config *cfg, tls_server *tls, sealer_link *ig,
    metrics *m, char *err, size_t err_len)
{
	net *n;
	sigset_t set;
	const char *what = "";

	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	n->cfg = cfg;
	n->tls = tls;
	n->ig = ig;
	n->m = m;
	n->ep = n->efd = n->sfd = -1;
	n->l_tls.fd = n->l_metrics.fd = -1;
	n->t_event.tag = TAG_EVENTFD;
	n->t_signal.tag = TAG_SIGNALFD;
	log_limit_init(&n->plog, 10.0, 50.0, "probes");
	log_limit_init(&n->rlog, NET_REFUSE_LOG_RATE, NET_REFUSE_LOG_BURST,
	    "connections refused");
	n->last_sweep_ms = n->last_prune_ms = net_now_ms();
	if (pthread_mutex_init(&n->q_lock, NULL) != 0) {
		snprintf(err, err_len, "pthread_mutex_init failed");
		free(n);
		return -1;
	}
	{
		/* about 4 addresses a bucket with every connection from its own */
		unsigned nb = NET_ASLOTS_MIN;
		while (nb < NET_ASLOTS_MAX && nb < cfg->max_connections / 4U)
			nb *= 2U;
		n->aslots = calloc(nb, sizeof(*n->aslots));
		n->aslot_mask = nb - 1U;
	}
	if (n->aslots == NULL) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	if (sodium_init() < 0) {
		snprintf(err, err_len, "libsodium initialisation failed");
		goto fail;
	}
	crypto_shorthash_keygen(n->aslot_key);
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	net_signal_set(&set);
	n->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (n->ep < 0 || n->efd < 0 || n->sfd < 0) {
		snprintf(err, err_len, "epoll/eventfd/signalfd: %s", strerror(errno));
		goto fail;
	}
	if (net_bind(&n->l_tls, TAG_LISTEN_TLS, cfg->listen, err, err_len) != 0) {
		what = "listen";
		goto fail_named;
	}
	if (cfg->metrics_listen[0] != '\0' &&
	    net_bind(&n->l_metrics, TAG_LISTEN_METRICS, cfg->metrics_listen, err,
	    err_len) != 0) {
		what = "metrics_listen";
		goto fail_named;
	}
	if (net_ep_add(n, n->l_tls.fd, EPOLLIN, &n->l_tls) != 0 ||
	    (n->l_metrics.fd >= 0 &&
	    net_ep_add(n, n->l_metrics.fd, EPOLLIN, &n->l_metrics) != 0) ||
	    net_ep_add(n, n->efd, EPOLLIN, &n->t_event) != 0 ||
	    net_ep_add(n, n->sfd, EPOLLIN, &n->t_signal) != 0) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	*out = n;
	return 0;
fail_named:
	{
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, err_len, "%s: cannot listen on %s", what, tmp);
	}
fail:
	net_free(&n);
	return -1;
}

const char *
net_listen_addr(const net *n)
{
	return n->l_tls.addr;
}

const char *
net_metrics_addr(const net *n)
{
	return n->l_metrics.fd >= 0 ? n->l_metrics.addr : "off";
}

void
net_free(net **np)
{
	net *n;
	conn *c, *next;
	unsigned i;

	if (np == NULL || *np == NULL)
		return;
	n = *np;
	for (c = n->all.head; c != NULL; c = next) {
		next = c->all.next;
		conn_close(c);
	}
	if (n->efd >= 0)
		net_completions(n);         /* frees zombies whose done came */
	net_free_grave(n);
	if (n->n_zombies > 0)
		log_warn("%zu request(s) never completed by the pipeline",
		    n->n_zombies);
	net_close_listeners(n);
	if (n->aslots != NULL)
		net_aslot_check(n, 1);      /* all closed: must be empty */
	net_aslots_free(n);
	for (i = 0; i < NET_BUCKETS; i++) {
		bucket *b = n->buckets[i], *bn;
		for (; b != NULL; b = bn) {
			bn = b->next;
			free(b);
		}
	}
	if (n->ep >= 0)
		close(n->ep);
	if (n->efd >= 0)
		close(n->efd);
	if (n->sfd >= 0)
		close(n->sfd);
	pthread_mutex_destroy(&n->q_lock);
	free(n);
	*np = NULL;
}
