/* gateway/sealer.c — the sealer process (see sealer.h).
 *
 * Threads: the main thread reads the data channel and hands each SUBMIT to
 * the pipeline; a control thread answers PEER and METRICS; the pipeline's
 * threads write DONE (under `wmu`, one whole message at a time).
 *
 * Trusts: its parent's configuration (read before the fork).  Does not
 * trust the network process: every message is checked against its exact
 * size or bounds before a payload byte is read, a SUBMIT's lines against
 * gateway/batch.h's layout (every length bounded, the sum exact) before the
 * pipeline sees them, and a malformed one ends the sealer (the network
 * process then exits too).  No JSON is parsed here: the network process
 * validated the lines; jansson's allocations are counted to show it
 * (coffer_gateway_sealer_json_allocations_total stays 0).  Batches are
 * wiped before they are freed (by the pipeline); answers are wiped after
 * they were written, as they carry the clients' message ids.
 */
#include "gateway/sealer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/changes.h"
#include "common/imsg.h"
#include "common/log.h"
#include "gateway/record.h"
#include "vault/mem.h"

typedef struct sealer {
	const gw_config *cfg;
	ingest          *ig;
	int              data_fd, ctl_fd;
	pthread_mutex_t  wmu;            /* DONE and RELOAD writers */
	changes         *ch;             /* LISTEN coffer_changes */
} sealer;

typedef struct sealer_req {
	sealer   *s;
	uint64_t  id;
} sealer_req;

size_t
sealer_done_max(const gw_config *cfg)
{
	/* one answer line per record: an id (at most 256 bytes, escaped
	 * twice), a status, a reason or a receipt */
	return 4096U + (size_t)cfg->max_records_per_request * 1024U;
}

void
sealer_peer_put(unsigned char out[SEALER_PEER_BYTES], const ingest_peer *p)
{
	memset(out, 0, SEALER_PEER_BYTES);
	snprintf((char *)out, SEALER_NAME_BYTES, "%s", p->tenant);
	snprintf((char *)out + SEALER_NAME_BYTES, SEALER_NAME_BYTES, "%s",
	    p->device);
	snprintf((char *)out + 2 * SEALER_NAME_BYTES, SEALER_FPR_BYTES, "%s",
	    p->fingerprint);
}

int
sealer_peer_get(ingest_peer *p, const unsigned char in[SEALER_PEER_BYTES])
{
	memset(p, 0, sizeof(*p));
	if (memchr(in, 0, SEALER_NAME_BYTES) == NULL ||
	    memchr(in + SEALER_NAME_BYTES, 0, SEALER_NAME_BYTES) == NULL ||
	    memchr(in + 2 * SEALER_NAME_BYTES, 0, SEALER_FPR_BYTES) == NULL)
		return -1;
	memcpy(p->tenant, in, SEALER_NAME_BYTES);
	memcpy(p->device, in + SEALER_NAME_BYTES, SEALER_NAME_BYTES);
	memcpy(p->fingerprint, in + 2 * SEALER_NAME_BYTES, SEALER_FPR_BYTES);
	return 0;
}

/* A pipeline thread: the answer of one SUBMIT. */
static void
sealer_done(void *ctx, int status, unsigned retry_after_s,
    const char *content_type, char *body, size_t body_len)
{
	sealer_req *rq = ctx;
	sealer *s = rq->s;
	unsigned char fixed[SEALER_DONE_FIXED];
	uint32_t st = (uint32_t)status, ra = retry_after_s;
	struct iovec iov[2];

	memcpy(fixed, &st, 4);
	memcpy(fixed + 4, &ra, 4);
	fixed[8] = strcmp(content_type, "application/x-ndjson") == 0 ? 1 : 0;
	fixed[9] = (unsigned char)(ingest_busy(s->ig) != 0);
	iov[0].iov_base = fixed;
	iov[0].iov_len = sizeof(fixed);
	iov[1].iov_base = body;
	iov[1].iov_len = body != NULL ? body_len : 0;
	pthread_mutex_lock(&s->wmu);
	/* The network process gone (EPIPE): it exits, so do we, soon. */
	if (imsg_write(s->data_fd, IMSG_DONE, rq->id, iov, 2) != 0 &&
	    errno != EPIPE)
		log_warn("sealer: writing an answer: %s", strerror(errno));
	pthread_mutex_unlock(&s->wmu);
	if (body != NULL) {
		vault_wipe(body, body_len);
		free(body);
	}
	free(rq);
}

static void
sealer_protocol(const char *chan, const char *what)
{
	/* the network process is broken or hostile: stop serving it */
	log_error("sealer: %s channel: %s; exiting", chan, what);
	_exit(1);
}

/* The control thread: PEER and METRICS, one answer each. */
static void *
sealer_ctl_main(void *arg)
{
	sealer *s = arg;
	unsigned char blk[SEALER_PEER_BYTES], ans[SEALER_PEER_R_BYTES];
	char err[160], *text;
	ingest_peer p;
	imsg_hdr h;
	struct iovec iov;

	for (;;) {
		int rc = imsg_read_hdr(s->ctl_fd, &h);

		if (rc == 0)
			return NULL;
		if (rc < 0)
			sealer_protocol("control", strerror(errno));
		if (h.type == IMSG_PEER) {
			ingest_peer_fault fault = INGEST_PEER_DEVICE;
			int32_t res;
			uint32_t f;

			if (imsg_expect(&h, IMSG_PEER, SEALER_PEER_BYTES,
			    SEALER_PEER_BYTES, err, sizeof(err)) != 0)
				sealer_protocol("control", err);
			if (imsg_read(s->ctl_fd, blk, sizeof(blk)) != 0)
				sealer_protocol("control", strerror(errno));
			if (sealer_peer_get(&p, blk) != 0)
				sealer_protocol("control", "PEER field without NUL");
			memset(ans, 0, sizeof(ans));
			res = ingest_peer_check(s->ig, &p, &fault,
			    (char *)ans + 8, SEALER_WHY_BYTES);
			f = (uint32_t)fault;
			memcpy(ans, &res, 4);
			memcpy(ans + 4, &f, 4);
			iov.iov_base = ans;
			iov.iov_len = sizeof(ans);
			if (imsg_write(s->ctl_fd, IMSG_PEER_R, h.id, &iov, 1) != 0)
				return NULL;
		} else if (h.type == IMSG_METRICS) {
			uint32_t room;
			size_t n;

			if (imsg_expect(&h, IMSG_METRICS, 4, 4, err, sizeof(err)) != 0)
				sealer_protocol("control", err);
			if (imsg_read(s->ctl_fd, &room, 4) != 0)
				sealer_protocol("control", strerror(errno));
			if (room == 0 || room > SEALER_METRICS_MAX)
				sealer_protocol("control", "METRICS room out of bounds");
			if ((text = malloc(room)) == NULL) {
				n = 0;
			} else {
				int k;

				n = ingest_metrics(s->ig, text, room);
				k = snprintf(text + n, room - n,
				    "# HELP coffer_gateway_sealer_json_allocations_total "
				    "jansson allocations in the sealer process (0: it "
				    "parses no JSON; the network process validates).\n"
				    "# TYPE coffer_gateway_sealer_json_allocations_total "
				    "counter\n"
				    "coffer_gateway_sealer_json_allocations_total %llu\n",
				    rec_json_allocations());
				if (k > 0 && (size_t)k < room - n)
					n += (size_t)k;
			}
			iov.iov_base = text;
			iov.iov_len = n;
			rc = imsg_write(s->ctl_fd, IMSG_METRICS_R, h.id, &iov, 1);
			free(text);
			if (rc != 0)
				return NULL;
		} else {
			snprintf(err, sizeof(err), "unexpected message %s (%u)",
			    imsg_name(h.type), (unsigned)h.type);
			sealer_protocol("control", err);
		}
	}
}

size_t
sealer_submit_max(const batch_limits *lim)
{
	size_t m = SEALER_PEER_BYTES + batch_max(lim);

	return m < UINT32_MAX ? m : UINT32_MAX;
}

int
sealer_read_submit(int fd, const imsg_hdr *h, const batch_limits *lim,
    ingest_peer *p, batch *out, char *err, size_t err_len)
{
	unsigned char blk[SEALER_PEER_BYTES];
	size_t blen;
	unsigned char *b;

	memset(out, 0, sizeof(*out));
	memset(p, 0, sizeof(*p));
	if (imsg_expect(h, IMSG_SUBMIT, SEALER_PEER_BYTES + BATCH_HDR_BYTES,
	    sealer_submit_max(lim), err, err_len) != 0)
		return -1;
	if (imsg_read(fd, blk, sizeof(blk)) != 0) {
		snprintf(err, err_len, "SUBMIT: %s", strerror(errno));
		return -1;
	}
	if (sealer_peer_get(p, blk) != 0) {
		snprintf(err, err_len, "SUBMIT peer field without NUL");
		return -1;
	}
	blen = h->len - SEALER_PEER_BYTES;
	if ((b = malloc(blen)) == NULL) {
		snprintf(err, err_len, "out of memory for a %zu-byte batch", blen);
		return -1;
	}
	if (imsg_read(fd, b, blen) != 0) {
		snprintf(err, err_len, "SUBMIT: %s", strerror(errno));
		vault_free_wiped(b, blen);
		return -1;
	}
	return batch_decode(out, b, blen, lim, err, err_len);
}

/* The change listener's thread: a tenant or device changed (or the
 * LISTEN connection is back and anything may have).  Reload the
 * directory first, then tell the network process, which checks its open
 * connections against it (PEER) and drops those now refused: the order
 * matters, a check before the reload would still pass. */
static void
sealer_changed(void *ctx, unsigned mask)
{
	sealer *s = ctx;
	uint32_t m = mask & (CHANGES_TENANT | CHANGES_DEVICE);
	struct iovec iov = { &m, sizeof(m) };
	int rc;

	if (m == 0)
		return;                  /* users: the API's business */
	if (ingest_refresh(s->ig, SEALER_REFRESH_WAIT_MS) != 0)
		log_warn("sealer: a change notification: the directory did not "
		    "reload within %u ms; the open connections are checked "
		    "against the last one", SEALER_REFRESH_WAIT_MS);
	pthread_mutex_lock(&s->wmu);
	rc = imsg_write(s->data_fd, IMSG_RELOAD, 0, &iov, 1);
	pthread_mutex_unlock(&s->wmu);
	if (rc != 0 && errno != EPIPE)
		log_warn("sealer: telling the network process of a change: %s",
		    strerror(errno));
}

/* The data channel until it ends: 0 at its end, -1 on a protocol error. */
static int
sealer_serve(sealer *s)
{
	char err[160];
	batch_limits lim;
	ingest_peer p;
	imsg_hdr h;

	ingest_limits(s->ig, &lim);
	for (;;) {
		int rc = imsg_read_hdr(s->data_fd, &h);
		sealer_req *rq;
		batch b;

		if (rc == 0)
			return 0;
		if (rc < 0) {
			log_error("sealer: data channel: %s", strerror(errno));
			return -1;
		}
		if (h.type == IMSG_RELOAD) {
			if (imsg_expect(&h, IMSG_RELOAD, 0, 0, err, sizeof(err)) != 0)
				goto bad;
			ingest_reload(s->ig);
			continue;
		}
		if (sealer_read_submit(s->data_fd, &h, &lim, &p, &b, err,
		    sizeof(err)) != 0)
			goto bad;
		if ((rq = calloc(1, sizeof(*rq))) == NULL) {
			batch_free(&b);
			log_error("sealer: out of memory");
			return -1;
		}
		rq->s = s;
		rq->id = h.id;
		ingest_submit_batch(s->ig, &p, &b, sealer_done, rq);
	}
bad:
	log_error("sealer: data channel: %s; exiting", err);
	return -1;
}

int
sealer_main(const gw_config *cfg, int data_fd, int ctl_fd,
    const priv_target *pw, pid_t parent, const char *pidfile)
{
	sealer s;
	pthread_t ctl;
	char err[1024];
	int rc;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.data_fd = data_fd;
	s.ctl_fd = ctl_fd;
	pthread_mutex_init(&s.wmu, NULL);
	(void)prctl(PR_SET_NAME, "coffer-sealer", 0, 0, 0);
	if (vault_harden_process(err, sizeof(err)) != 0) {
		log_error("sealer: %s", err);
		return 1;
	}
	if (ingest_new(&s.ig, cfg, err, sizeof(err)) != 0) {
		log_error("ingest: %s", err);
		return 1;
	}
	/* no JSON from here on: count jansson's allocations to show it */
	rec_init_counted();
	if (ingest_start(s.ig, err, sizeof(err)) != 0) {
		log_error("ingest: %s", err);
		ingest_free(&s.ig);
		return 1;
	}
	if (pw != NULL && priv_drop(pw, err, sizeof(err)) != 0) {
		log_error("sealer: %s", err);
		ingest_free(&s.ig);
		return 1;
	}
	/* after the drop, which clears it: die with the network process */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
	    getppid() != parent) {
		log_error("sealer: the network process is gone");
		_exit(1);
	}
	if (pthread_create(&ctl, NULL, sealer_ctl_main, &s) != 0) {
		log_error("sealer: cannot start the control thread");
		ingest_free(&s.ig);
		return 1;
	}
	if (imsg_write(ctl_fd, IMSG_READY, 0, NULL, 0) != 0) {
		log_error("sealer: the network process is gone");
		_exit(1);
	}
	log_info("sealer: running (pid %ld): keys, pipeline and database here; "
	    "the network process holds none", (long)getpid());
	/* after the drop: the listener connects as the service account, like
	 * the directory thread's reconnects */
	if (changes_start(&s.ch, cfg->pg_conninfo, "coffer-gateway-changes",
	    "sealer", sealer_changed, &s, err, sizeof(err)) != 0)
		log_warn("sealer: %s; changes apply at the periodic device "
		    "refresh only", err);
	rc = sealer_serve(&s);
	changes_stop(&s.ch);
	/* Finish what we hold: every request is answered (the writer
	 * completes what it cannot store as unavailable). */
	ingest_free(&s.ig);
	if (pidfile != NULL)
		(void)unlink(pidfile);      /* may fail after the drop: harmless */
	log_info("sealer: exit");
	_exit(rc == 0 ? 0 : 1);
}
