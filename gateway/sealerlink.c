/* gateway/sealerlink.c — see sealerlink.h.
 *
 * Record validation runs here, in the network process: sl_submit queues
 * the body for a validator thread (`workers` of them, started before the
 * sandbox), which splits it into lines, runs rec_check on each
 * (batch_build: the JSON parser, every rejection, normalisation, the
 * canonical plaintext) and sends the typed result as the SUBMIT (or, with
 * privsep = off, hands it to the pipeline in this process).  The body is
 * wiped and freed as soon as it is encoded; the encoding after it is
 * written.
 *
 * In-flight submits live in a slot table; a message id is (generation <<
 * 32 | slot), so an answer for a slot that is free or reused is a
 * protocol error, not a stray completion.  The reader thread is the only
 * reader of the data channel; the validators its writers (under `wmu`,
 * one whole message at a time), and the loop thread for RELOAD.  The
 * control channel is used in turn under `cmu`.
 *
 * Trusts the sealer (it holds the keys: a hostile sealer is already the
 * whole gateway) but still checks every answer's type and size, so a
 * bug shows up as a clean exit, not as memory corruption.
 */
#include "gateway/sealerlink.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/changes.h"
#include "common/child.h"
#include "common/imsg.h"
#include "common/log.h"
#include "gateway/batch.h"
#include "gateway/record.h"
#include "gateway/sealer.h"
#include "vault/mem.h"

/* A body waiting for a validator. */
typedef struct sl_job {
	struct sl_job *next;
	ingest_peer    peer;
	char          *body;
	size_t         body_len;
	uint64_t       id;               /* privsep: its slot */
	ingest_done_fn done;             /* in-process */
	void          *ctx;
} sl_job;

typedef struct sl_slot {
	ingest_done_fn done;
	void          *ctx;
	size_t         bytes;
	uint32_t       gen;
	int            used;
} sl_slot;

struct sealer_link {
	gw_config        cfg;
	ingest          *local;          /* privsep = off */
	pid_t            pid;
	int              data_fd, ctl_fd;
	pthread_t        reader;
	int              reader_on;
	atomic_int       stopping;
	atomic_uint      changed;        /* RELOAD masks not yet taken */
	size_t           done_max;
	size_t           hwm_bytes;
	batch_limits     lim;

	pthread_mutex_t  qmu;            /* the validators' queue */
	pthread_cond_t   qcv;
	sl_job          *qhead, *qtail;
	int              qstop;
	size_t           queued_bytes;   /* bodies not yet validated */
	pthread_t       *validators;
	unsigned         nvalidators;

	pthread_mutex_t  mu;             /* slots and the figures below */
	sl_slot         *slots;
	size_t           nslots;
	uint32_t        *free_ix;
	size_t           nfree;
	size_t           inflight, inflight_bytes;
	int              sealer_busy;

	pthread_mutex_t  wmu;            /* data channel writes */
	pthread_mutex_t  cmu;            /* control channel, one call at a time */
};

static const char *const sl_ctypes[2] = {
	"application/json", "application/x-ndjson"
};

static void __attribute__((noreturn))
sl_die(sealer_link *l, const char *what)
{
	child_link_die("sealer", l->pid, what);
}

/* -- slots (under mu) ----------------------------------------------------- */

static int
sl_slot_take(sealer_link *l, ingest_done_fn done, void *ctx, size_t bytes,
    uint64_t *id)
{
	uint32_t ix;
	sl_slot *s;

	if (l->nfree == 0) {
		size_t n = l->nslots ? 2 * l->nslots : 64, i;
		sl_slot *ns;
		uint32_t *nf;

		if (n > UINT32_MAX)
			return -1;
		ns = realloc(l->slots, n * sizeof(*ns));
		if (ns == NULL)
			return -1;
		l->slots = ns;
		nf = realloc(l->free_ix, n * sizeof(*nf));
		if (nf == NULL)
			return -1;
		l->free_ix = nf;
		memset(ns + l->nslots, 0, (n - l->nslots) * sizeof(*ns));
		for (i = n; i > l->nslots; i--)
			l->free_ix[l->nfree++] = (uint32_t)(i - 1);
		l->nslots = n;
	}
	ix = l->free_ix[--l->nfree];
	s = &l->slots[ix];
	s->done = done;
	s->ctx = ctx;
	s->bytes = bytes;
	s->used = 1;
	s->gen++;
	*id = ((uint64_t)s->gen << 32) | ix;
	l->inflight++;
	l->inflight_bytes += bytes;
	return 0;
}

static int
sl_slot_put(sealer_link *l, uint64_t id, sl_slot *out)
{
	uint32_t ix = (uint32_t)(id & 0xffffffffU);
	sl_slot *s;

	if (ix >= l->nslots)
		return -1;
	s = &l->slots[ix];
	if (!s->used || s->gen != (uint32_t)(id >> 32))
		return -1;
	*out = *s;
	s->used = 0;
	s->done = NULL;
	s->ctx = NULL;
	l->free_ix[l->nfree++] = ix;
	l->inflight--;
	l->inflight_bytes -= s->bytes;
	return 0;
}

/* -- the reader thread ---------------------------------------------------- */

static void *
sl_reader_main(void *arg)
{
	sealer_link *l = arg;
	unsigned char fixed[SEALER_DONE_FIXED];
	char err[160];
	imsg_hdr h;
	size_t i;

	for (;;) {
		int rc = imsg_read_hdr(l->data_fd, &h);
		uint32_t status, retry;
		char *body = NULL;
		size_t blen;
		sl_slot s;

		if (rc == 0)
			break;
		if (rc < 0)
			sl_die(l, strerror(errno));
		if (h.type == IMSG_RELOAD) {
			uint32_t m;

			if (imsg_expect(&h, IMSG_RELOAD, SEALER_RELOAD_BYTES,
			    SEALER_RELOAD_BYTES, err, sizeof(err)) != 0)
				sl_die(l, err);
			if (imsg_read(l->data_fd, &m, sizeof(m)) != 0)
				sl_die(l, strerror(errno));
			if (m == 0 || (m & ~(uint32_t)(CHANGES_TENANT |
			    CHANGES_DEVICE)) != 0)
				sl_die(l, "RELOAD with a bad mask");
			atomic_fetch_or(&l->changed, (unsigned)m);
			continue;
		}
		if (imsg_expect(&h, IMSG_DONE, SEALER_DONE_FIXED,
		    SEALER_DONE_FIXED + l->done_max, err, sizeof(err)) != 0)
			sl_die(l, err);
		if (imsg_read(l->data_fd, fixed, sizeof(fixed)) != 0)
			sl_die(l, strerror(errno));
		if (fixed[8] > 1 || fixed[9] > 1)
			sl_die(l, "DONE with a bad content type or busy flag");
		blen = h.len - SEALER_DONE_FIXED;
		if (blen > 0) {
			if ((body = malloc(blen)) == NULL)
				sl_die(l, "out of memory for an answer");
			if (imsg_read(l->data_fd, body, blen) != 0)
				sl_die(l, strerror(errno));
		}
		memcpy(&status, fixed, 4);
		memcpy(&retry, fixed + 4, 4);
		if (status < 100 || status > 599)
			sl_die(l, "DONE with a bad status");
		pthread_mutex_lock(&l->mu);
		rc = sl_slot_put(l, h.id, &s);
		l->sealer_busy = fixed[9];
		pthread_mutex_unlock(&l->mu);
		if (rc != 0)
			sl_die(l, "DONE for a request not in flight");
		s.done(s.ctx, (int)status, retry, sl_ctypes[fixed[8]], body, blen);
	}
	if (!atomic_load(&l->stopping))
		sl_die(l, "the sealer process closed its channel");
	/* Stopping and the sealer gone: it answers everything before it
	 * exits, so this only runs if it died meanwhile. */
	pthread_mutex_lock(&l->mu);
	for (i = 0; i < l->nslots; i++) {
		sl_slot s;

		if (!l->slots[i].used ||
		    sl_slot_put(l, ((uint64_t)l->slots[i].gen << 32) | i, &s) != 0)
			continue;
		pthread_mutex_unlock(&l->mu);
		s.done(s.ctx, 503, 2, sl_ctypes[0], NULL, 0);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* -- the validators ------------------------------------------------------- */

/* A submit that never reached the pipeline (out of memory, a batch over
 * its bound): 500, nothing stored. */
static void
sl_job_fail(sealer_link *l, sl_job *j)
{
	sl_slot s;
	int rc;

	if (l->local != NULL) {
		j->done(j->ctx, 500, 0, sl_ctypes[0], NULL, 0);
		return;
	}
	pthread_mutex_lock(&l->mu);
	rc = sl_slot_put(l, j->id, &s);
	pthread_mutex_unlock(&l->mu);
	if (rc == 0)
		s.done(s.ctx, 500, 0, sl_ctypes[0], NULL, 0);
}

static void
sl_validate(sealer_link *l, sl_job *j)
{
	unsigned char blk[SEALER_PEER_BYTES], *buf = NULL;
	struct iovec iov[2];
	size_t blen = 0;
	char err[160];
	batch b;
	int rc;

	rc = batch_build(j->body, j->body_len, j->peer.device,
	    strlen(j->peer.device), &l->lim, &buf, &blen, err, sizeof(err));
	vault_free_wiped(j->body, j->body_len);
	j->body = NULL;
	pthread_mutex_lock(&l->qmu);
	l->queued_bytes -= j->body_len;
	pthread_mutex_unlock(&l->qmu);
	if (rc != 0) {
		log_error("validation: %s", err);
		sl_job_fail(l, j);
		return;
	}
	if (l->local != NULL) {
		/* the sealer's own check of what it would have been sent */
		if (batch_decode(&b, buf, blen, &l->lim, err, sizeof(err)) != 0) {
			log_error("validation: %s", err);
			sl_job_fail(l, j);
			return;
		}
		ingest_submit_batch(l->local, &j->peer, &b, j->done, j->ctx);
		return;
	}
	sealer_peer_put(blk, &j->peer);
	iov[0].iov_base = blk;
	iov[0].iov_len = sizeof(blk);
	iov[1].iov_base = buf;
	iov[1].iov_len = blen;
	pthread_mutex_lock(&l->wmu);
	rc = imsg_write(l->data_fd, IMSG_SUBMIT, j->id, iov, 2);
	pthread_mutex_unlock(&l->wmu);
	vault_free_wiped(buf, blen);
	if (rc != 0)
		sl_die(l, "the sealer's data channel ended");
}

static void *
sl_validator_main(void *arg)
{
	sealer_link *l = arg;

	for (;;) {
		sl_job *j;

		pthread_mutex_lock(&l->qmu);
		while (l->qhead == NULL && !l->qstop)
			pthread_cond_wait(&l->qcv, &l->qmu);
		j = l->qhead;
		if (j == NULL) {
			pthread_mutex_unlock(&l->qmu);
			break;
		}
		l->qhead = j->next;
		if (l->qhead == NULL)
			l->qtail = NULL;
		pthread_mutex_unlock(&l->qmu);
		sl_validate(l, j);
		free(j);
	}
	return NULL;
}

/* After the fork (the sealer must not inherit them) and before the
 * sandbox (which refuses clone). */
static int
sl_validators_start(sealer_link *l, char *err, size_t err_len)
{
	unsigned i, n = l->cfg.workers > 0 ? l->cfg.workers : 1;
	int rc;

	if ((l->validators = calloc(n, sizeof(*l->validators))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((rc = pthread_create(&l->validators[i], NULL,
		    sl_validator_main, l)) != 0) {
			snprintf(err, err_len, "cannot start a validator: %s",
			    strerror(rc));
			break;
		}
		l->nvalidators++;
	}
	return l->nvalidators == n ? 0 : -1;
}

/* Every queued body is validated and handed on first. */
static void
sl_validators_stop(sealer_link *l)
{
	unsigned i;

	pthread_mutex_lock(&l->qmu);
	l->qstop = 1;
	pthread_cond_broadcast(&l->qcv);
	pthread_mutex_unlock(&l->qmu);
	for (i = 0; i < l->nvalidators; i++)
		pthread_join(l->validators[i], NULL);
	l->nvalidators = 0;
}

/* -- set-up ------------------------------------------------------------------ */

static sealer_link *
sl_alloc(const gw_config *cfg)
{
	sealer_link *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->cfg = *cfg;
	/* the network process never holds the database's credentials */
	vault_wipe(l->cfg.pg_conninfo, sizeof(l->cfg.pg_conninfo));
	l->data_fd = l->ctl_fd = -1;
	l->done_max = sealer_done_max(cfg);
	l->hwm_bytes = 2 * cfg->max_body_bytes;
	l->lim.max_body_bytes = cfg->max_body_bytes;
	l->lim.max_line_bytes = cfg->max_line_bytes;
	l->lim.max_records = cfg->max_records_per_request;
	/* jansson runs here, in the validators: its wiping free, its seed */
	rec_init();
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->qmu, NULL);
	pthread_cond_init(&l->qcv, NULL);
	pthread_mutex_init(&l->wmu, NULL);
	pthread_mutex_init(&l->cmu, NULL);
	return l;
}

static void
sl_release(sealer_link *l)
{
	if (l->data_fd >= 0)
		close(l->data_fd);
	if (l->ctl_fd >= 0)
		close(l->ctl_fd);
	free(l->slots);
	free(l->free_ix);
	free(l->validators);
	pthread_mutex_destroy(&l->qmu);
	pthread_cond_destroy(&l->qcv);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->wmu);
	pthread_mutex_destroy(&l->cmu);
	free(l);
}

int
sl_spawn(sealer_link **out, const gw_config *cfg, const priv_target *pw,
    const char *pidfile, char *err, size_t err_len)
{
	sealer_link *l;
	int d[2], c[2], st = 0, rc;
	pid_t parent = getpid();
	imsg_hdr h;

	*out = NULL;
	if ((l = sl_alloc(cfg)) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d) != 0) {
		snprintf(err, err_len, "socketpair: %s", strerror(errno));
		sl_release(l);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) != 0) {
		snprintf(err, err_len, "socketpair: %s", strerror(errno));
		close(d[0]);
		close(d[1]);
		sl_release(l);
		return -1;
	}
	/* room for several request bodies in flight, so the loop thread
	 * rarely waits for the sealer to read (best effort: the kernel caps
	 * it at net.core.wmem_max / rmem_max) */
	{
		int sz = 4 * 1024 * 1024, k;

		for (k = 0; k < 2; k++) {
			(void)setsockopt(d[k], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
			(void)setsockopt(d[k], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		}
	}
	fflush(NULL);
	l->pid = fork();
	if (l->pid < 0) {
		snprintf(err, err_len, "fork: %s", strerror(errno));
		close(d[0]); close(d[1]); close(c[0]); close(c[1]);
		sl_release(l);
		return -1;
	}
	if (l->pid == 0) {
		close(d[0]);
		close(c[0]);
		_exit(sealer_main(cfg, d[1], c[1], pw, parent, pidfile));
	}
	close(d[1]);
	close(c[1]);
	l->data_fd = d[0];
	l->ctl_fd = c[0];
	rc = imsg_read_hdr(l->ctl_fd, &h);
	if (rc != 1 || imsg_expect(&h, IMSG_READY, 0, 0, err, err_len) != 0) {
		(void)waitpid(l->pid, &st, 0);
		child_start_failed(err, err_len, "sealer", st);
		sl_release(l);
		return -1;
	}
	if (sl_validators_start(l, err, err_len) != 0) {
		sl_validators_stop(l);
		(void)kill(l->pid, SIGKILL);
		(void)waitpid(l->pid, &st, 0);
		sl_release(l);
		return -1;
	}
	if ((rc = pthread_create(&l->reader, NULL, sl_reader_main, l)) != 0) {
		snprintf(err, err_len, "cannot start the sealer reader: %s",
		    strerror(rc));
		sl_validators_stop(l);
		(void)kill(l->pid, SIGKILL);
		(void)waitpid(l->pid, &st, 0);
		sl_release(l);
		return -1;
	}
	l->reader_on = 1;
	*out = l;
	return 0;
}

int
sl_local(sealer_link **out, const gw_config *cfg, char *err, size_t err_len)
{
	sealer_link *l;

	*out = NULL;
	if ((l = sl_alloc(cfg)) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (ingest_new(&l->local, cfg, err, err_len) != 0) {
		sl_release(l);
		return -1;
	}
	if (ingest_start(l->local, err, err_len) != 0) {
		ingest_free(&l->local);
		sl_release(l);
		return -1;
	}
	if (sl_validators_start(l, err, err_len) != 0) {
		sl_validators_stop(l);
		ingest_free(&l->local);
		sl_release(l);
		return -1;
	}
	*out = l;
	return 0;
}

pid_t
sl_pid(const sealer_link *l)
{
	return l->pid;
}

/* -- the five calls ---------------------------------------------------------- */

int
sl_peer_check(sealer_link *l, const ingest_peer *peer,
    ingest_peer_fault *fault, char *why, size_t why_len)
{
	unsigned char blk[SEALER_PEER_BYTES], ans[SEALER_PEER_R_BYTES];
	struct iovec iov = { blk, sizeof(blk) };
	char err[160];
	int32_t res;
	uint32_t f;
	imsg_hdr h;

	if (l->local != NULL)
		return ingest_peer_check(l->local, peer, fault, why, why_len);
	sealer_peer_put(blk, peer);
	pthread_mutex_lock(&l->cmu);
	if (imsg_write(l->ctl_fd, IMSG_PEER, 0, &iov, 1) != 0 ||
	    imsg_read_hdr(l->ctl_fd, &h) != 1)
		sl_die(l, "the sealer's control channel ended");
	if (imsg_expect(&h, IMSG_PEER_R, SEALER_PEER_R_BYTES,
	    SEALER_PEER_R_BYTES, err, sizeof(err)) != 0)
		sl_die(l, err);
	if (imsg_read(l->ctl_fd, ans, sizeof(ans)) != 0)
		sl_die(l, strerror(errno));
	pthread_mutex_unlock(&l->cmu);
	memcpy(&res, ans, 4);
	memcpy(&f, ans + 4, 4);
	if ((res != 0 && res != -1) || f > INGEST_PEER_KEY ||
	    memchr(ans + 8, 0, SEALER_WHY_BYTES) == NULL)
		sl_die(l, "PEER_R out of range");
	if (fault != NULL)
		*fault = (ingest_peer_fault)f;
	if (why_len > 0)
		snprintf(why, why_len, "%s", (const char *)ans + 8);
	return res;
}

void
sl_submit(sealer_link *l, const ingest_peer *peer, char *body,
    size_t body_len, ingest_done_fn done, void *ctx)
{
	sl_job *j = NULL;
	uint64_t id = 0;
	int rc = 0;

	if (body == NULL)
		body_len = 0;
	/* the transport enforces the limit first: a broken invariant */
	if (body_len > l->cfg.max_body_bytes ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		vault_free_wiped(body, body_len);
		done(ctx, 500, 0, sl_ctypes[0], NULL, 0);
		return;
	}
	if (l->local == NULL) {
		pthread_mutex_lock(&l->mu);
		rc = sl_slot_take(l, done, ctx, body_len, &id);
		pthread_mutex_unlock(&l->mu);
	}
	if (rc != 0) {
		free(j);
		vault_free_wiped(body, body_len);
		done(ctx, 500, 0, sl_ctypes[0], NULL, 0);
		return;
	}
	j->peer = *peer;
	j->body = body;
	j->body_len = body_len;
	j->id = id;
	j->done = done;
	j->ctx = ctx;
	pthread_mutex_lock(&l->qmu);
	if (l->qtail != NULL)
		l->qtail->next = j;
	else
		l->qhead = j;
	l->qtail = j;
	l->queued_bytes += body_len;
	pthread_cond_signal(&l->qcv);
	pthread_mutex_unlock(&l->qmu);
}

int
sl_busy(sealer_link *l)
{
	int busy;

	if (l->local != NULL) {
		pthread_mutex_lock(&l->qmu);
		busy = l->queued_bytes > l->hwm_bytes;
		pthread_mutex_unlock(&l->qmu);
		return busy || ingest_busy(l->local);
	}
	pthread_mutex_lock(&l->mu);
	busy = l->inflight > 0 &&
	    (l->inflight_bytes > l->hwm_bytes || l->sealer_busy);
	pthread_mutex_unlock(&l->mu);
	return busy;
}

void
sl_reload(sealer_link *l)
{
	int rc;

	if (l->local != NULL) {
		ingest_reload(l->local);
		return;
	}
	pthread_mutex_lock(&l->wmu);
	rc = imsg_write(l->data_fd, IMSG_RELOAD, 0, NULL, 0);
	pthread_mutex_unlock(&l->wmu);
	if (rc != 0)
		sl_die(l, "the sealer's data channel ended");
}

unsigned
sl_changes(sealer_link *l)
{
	return atomic_exchange(&l->changed, 0U);
}

size_t
sl_metrics(sealer_link *l, char *buf, size_t cap)
{
	uint32_t room;
	struct iovec iov = { &room, sizeof(room) };
	char err[160];
	size_t n = 0;
	imsg_hdr h;
	int k;

	if (cap == 0)
		return 0;
	if (l->local != NULL) {
		n = ingest_metrics(l->local, buf, cap);
	} else {
		room = (uint32_t)(cap < SEALER_METRICS_MAX ? cap :
		    SEALER_METRICS_MAX);
		pthread_mutex_lock(&l->cmu);
		if (imsg_write(l->ctl_fd, IMSG_METRICS, 0, &iov, 1) != 0 ||
		    imsg_read_hdr(l->ctl_fd, &h) != 1)
			sl_die(l, "the sealer's control channel ended");
		if (imsg_expect(&h, IMSG_METRICS_R, 0, room, err,
		    sizeof(err)) != 0)
			sl_die(l, err);
		if (imsg_read(l->ctl_fd, buf, h.len) != 0)
			sl_die(l, strerror(errno));
		pthread_mutex_unlock(&l->cmu);
		n = h.len;
	}
	k = snprintf(buf + n, cap - n,
	    "# HELP coffer_gateway_privilege_separated 1 when a sealer process "
	    "holds the keys and the network process none.\n"
	    "# TYPE coffer_gateway_privilege_separated gauge\n"
	    "coffer_gateway_privilege_separated %d\n", l->local == NULL);
	if (k > 0 && (size_t)k < cap - n)
		n += (size_t)k;
	return n;
}

void
sl_free(sealer_link **lp)
{
	sealer_link *l;
	int st = 0;

	if (lp == NULL || *lp == NULL)
		return;
	l = *lp;
	*lp = NULL;
	/* every queued body reaches the pipeline (and gets its answer) */
	sl_validators_stop(l);
	if (l->local != NULL) {
		ingest_free(&l->local);
		sl_release(l);
		return;
	}
	atomic_store(&l->stopping, 1);
	/* the sealer answers what it holds, then exits: the reader sees the
	 * end of the channel after the last answer */
	pthread_mutex_lock(&l->wmu);
	(void)shutdown(l->data_fd, SHUT_WR);
	pthread_mutex_unlock(&l->wmu);
	if (l->reader_on)
		pthread_join(l->reader, NULL);
	if (waitpid(l->pid, &st, 0) == l->pid &&
	    !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		log_warn("the sealer process ended abnormally (%s %d)",
		    WIFEXITED(st) ? "exit" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	sl_release(l);
}
