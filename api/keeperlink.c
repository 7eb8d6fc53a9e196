/* api/keeperlink.c — see keeperlink.h.  Trusts the keeper's answers no
 * more than the keeper trusts requests: each KREPLY's size is checked
 * against what the request can produce. */
#include "api/keeperlink.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/blind.h"
#include "api/keeper.h"
#include "api/metrics.h"
#include "common/child.h"
#include "common/imsg.h"
#include "common/log.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/mem.h"

struct keeper_link {
	pthread_mutex_t mu;
	int             fd;
	pid_t           pid;
	uint64_t        next_id;
	unsigned char   sign_pk[VAULT_SIGN_PK_BYTES];
	pthread_t       watcher;
	int             watching;
	atomic_int      stopping;
};

static void __attribute__((noreturn))
kl_die(keeper_link *l, const char *what)
{
	child_link_die("keeper", l->pid, what);
}

static void *
kl_watch(void *arg)
{
	keeper_link *l = arg;
	int st = 0;

	while (waitpid(l->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!atomic_load(&l->stopping))
		child_exit_report("keeper", l->pid, st);
	return NULL;
}

/* One round trip.  *out (malloc'd, *out_len bytes after the status) is
 * the answer's data; returns its status. */
static int32_t
kl_call(keeper_link *l, uint32_t type, const struct iovec *iov, int iovcnt,
    size_t reply_max, unsigned char **out, size_t *out_len)
{
	char err[256];
	unsigned char *p = NULL;
	int32_t status;
	imsg_hdr h;
	uint64_t id;

	*out = NULL;
	*out_len = 0;
	pthread_mutex_lock(&l->mu);
	id = ++l->next_id;
	if (imsg_write(l->fd, type, id, iov, iovcnt) != 0)
		kl_die(l, strerror(errno));
	if (imsg_read_hdr(l->fd, &h) != 1)
		kl_die(l, "the channel closed");
	if (imsg_expect(&h, IMSG_KREPLY, 4, 4 + reply_max, err,
	    sizeof(err)) != 0)
		kl_die(l, err);
	if (h.id != id)
		kl_die(l, "an answer to another request");
	if ((p = malloc(h.len)) == NULL)
		kl_die(l, "out of memory for an answer");
	if (imsg_read(l->fd, p, h.len) != 0)
		kl_die(l, "an answer cut short");
	pthread_mutex_unlock(&l->mu);
	memcpy(&status, p, 4);
	if (status < -1 || status > 1 + (type == IMSG_KTOKENS ||
	    type == IMSG_KENTERED_OPEN))
		kl_die(l, "an answer with an unknown status");
	*out_len = h.len - 4;
	memmove(p, p + 4, *out_len);
	*out = p;
	return status;
}

/* A -1 or an unexpected answer's text into err. */
static void
kl_text(const unsigned char *d, size_t n, char *err, size_t err_len)
{
	size_t i;

	if (err_len == 0)
		return;
	if (n >= err_len)
		n = err_len - 1;
	for (i = 0; i < n; i++)
		err[i] = d[i] >= 0x20 && d[i] < 0x7f ? (char)d[i] : '?';
	err[n] = '\0';
	if (n == 0)
		snprintf(err, err_len, "the keeper refused");
}

int
kl_spawn(keeper_link **out, const api_config *cfg, const priv_target *pw,
    char *err, size_t err_len)
{
	keeper_link *l;
	pid_t parent = getpid();
	int sv[2], st = 0, rc;
	imsg_hdr h;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	pthread_mutex_init(&l->mu, NULL);
	atomic_init(&l->stopping, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, err_len, "socketpair: %s", strerror(errno));
		free(l);
		return -1;
	}
	fflush(NULL);
	l->pid = fork();
	if (l->pid < 0) {
		snprintf(err, err_len, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(l);
		return -1;
	}
	if (l->pid == 0) {
		close(sv[0]);
		keeper_main(cfg, sv[1], pw, parent);
	}
	close(sv[1]);
	l->fd = sv[0];
	rc = imsg_read_hdr(l->fd, &h);
	if (rc != 1 || imsg_expect(&h, IMSG_KREADY, VAULT_SIGN_PK_BYTES,
	    VAULT_SIGN_PK_BYTES, err, err_len) != 0 ||
	    imsg_read(l->fd, l->sign_pk, sizeof(l->sign_pk)) != 0) {
		(void)kill(l->pid, SIGKILL);
		(void)waitpid(l->pid, &st, 0);
		child_start_failed(err, err_len, "keeper", st);
		close(l->fd);
		free(l);
		return -1;
	}
	if ((rc = pthread_create(&l->watcher, NULL, kl_watch, l)) != 0) {
		snprintf(err, err_len, "cannot start the keeper watcher: %s",
		    strerror(rc));
		(void)kill(l->pid, SIGKILL);
		(void)waitpid(l->pid, &st, 0);
		close(l->fd);
		free(l);
		return -1;
	}
	l->watching = 1;
	*out = l;
	return 0;
}

pid_t
kl_pid(const keeper_link *l)
{
	return l->pid;
}

const unsigned char *
kl_sign_pk(const keeper_link *l)
{
	return l->sign_pk;
}

int
kl_tokens(keeper_link *l, const char *tenant, int conversation,
    const char *const *values, const size_t *lens, size_t n,
    unsigned char *tok, size_t *bad, char *why, size_t why_len)
{
	unsigned char *req, *d;
	size_t tlen = strlen(tenant), total, off, i, dl;
	uint32_t hdr[3], v;
	struct iovec iov[1];
	int32_t st;

	*bad = 0;
	total = sizeof(hdr) + tlen;
	for (i = 0; i < n; i++) {
		if (lens[i] > KEEPER_VALUE_MAX) {
			*bad = i;
			snprintf(why, why_len, "too long");
			return 1;
		}
		total += 4 + lens[i];
	}
	if (n < 1 || n > KEEPER_TOKENS_MAX || tlen < 1 || tlen > 64 ||
	    total > KEEPER_MSG_MAX) {
		snprintf(why, why_len, "too many or too long values");
		return -1;
	}
	if ((req = malloc(total)) == NULL) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	hdr[0] = conversation ? 1 : 0;
	hdr[1] = (uint32_t)n;
	hdr[2] = (uint32_t)tlen;
	memcpy(req, hdr, sizeof(hdr));
	memcpy(req + sizeof(hdr), tenant, tlen);
	off = sizeof(hdr) + tlen;
	for (i = 0; i < n; i++) {
		v = (uint32_t)lens[i];
		memcpy(req + off, &v, 4);
		memcpy(req + off + 4, values[i], lens[i]);
		off += 4 + lens[i];
	}
	iov[0].iov_base = req;
	iov[0].iov_len = total;
	st = kl_call(l, IMSG_KTOKENS, iov, 1, n * VAULT_TOKEN_BYTES + 1024, &d,
	    &dl);
	vault_wipe(req, total);                  /* participant identifiers */
	free(req);
	if (st == 0 && dl != n * VAULT_TOKEN_BYTES)
		kl_die(l, "KTOKENS answered with the wrong number of tokens");
	if (st == 0) {
		memcpy(tok, d, dl);
		vault_wipe(d, dl);
	} else if (st == KEEPER_KEY_UNAVAILABLE) {
		kl_text(d, dl, why, why_len);
	} else if (st == 1) {
		if (dl < 4)
			kl_die(l, "KTOKENS refusal without an index");
		memcpy(&v, d, 4);
		if (v >= n)
			kl_die(l, "KTOKENS refusal of a value not sent");
		*bad = v;
		kl_text(d + 4, dl - 4, why, why_len);
	} else {
		kl_text(d, dl, why, why_len);
	}
	free(d);
	return st;
}

static int
kl_simple(keeper_link *l, uint32_t type, const void *a, size_t alen,
    unsigned char *out, size_t out_len, char *err, size_t err_len)
{
	struct iovec iov[1];
	unsigned char *d;
	size_t dl;
	int32_t st;

	iov[0].iov_base = (void *)(uintptr_t)a;
	iov[0].iov_len = alen;
	st = kl_call(l, type, iov, 1, out_len > 512 ? out_len : 512, &d, &dl);
	if (st == 0 && dl != out_len)
		kl_die(l, "an answer of the wrong size");
	if (st == 0 && out_len > 0)
		memcpy(out, d, out_len);
	if (st == -1)
		kl_text(d, dl, err, err_len);
	free(d);
	return st;
}

int
kl_seed_new(keeper_link *l, const unsigned char matter[16],
    unsigned char blind_id[16], char *err, size_t err_len)
{
	int st = kl_simple(l, IMSG_KSEED_NEW, matter, 16, blind_id, 16, err,
	    err_len);

	return st == 0 ? 0 : -1;
}

int
kl_seed_has(keeper_link *l, const unsigned char matter[16],
    const unsigned char blind_id[16], char *err, size_t err_len)
{
	unsigned char req[32];

	memcpy(req, matter, 16);
	memcpy(req + 16, blind_id, 16);
	return kl_simple(l, IMSG_KSEED_HAS, req, sizeof(req), NULL, 0, err,
	    err_len);
}

void
kl_seed_destroy(keeper_link *l, const unsigned char matter[16])
{
	char err[256];

	if (kl_simple(l, IMSG_KSEED_DESTROY, matter, 16, NULL, 0, err,
	    sizeof(err)) != 0)
		log_error("destroying a blinding seed: %s", err);
}

int
kl_blind(keeper_link *l, const unsigned char matter[16],
    const unsigned char blind_id[16], const unsigned char tenant[16],
    const unsigned char recipient[32], size_t n, const unsigned char *eid,
    const unsigned char *R, unsigned char *Rb, unsigned char *bp, char *err,
    size_t err_len)
{
	unsigned char fixed[KEEPER_BLIND_FIXED], *req, *d;
	struct iovec iov[2];
	uint32_t cnt;
	size_t i, dl;
	int32_t st;

	if (n < 1 || n > KEEPER_EPOCHS_MAX) {
		snprintf(err, err_len, "%zu epochs: 1..%u", n, KEEPER_EPOCHS_MAX);
		return -1;
	}
	if ((req = malloc(n * 48)) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	memcpy(fixed, matter, 16);
	memcpy(fixed + 16, blind_id, 16);
	memcpy(fixed + 32, tenant, 16);
	memcpy(fixed + 48, recipient, 32);
	memset(fixed + 80, 0, 16);
	cnt = (uint32_t)n;
	memcpy(fixed + 96, &cnt, 4);
	for (i = 0; i < n; i++) {
		memcpy(req + i * 48, eid + i * 16, 16);
		memcpy(req + i * 48 + 16, R + i * 32, 32);
	}
	iov[0].iov_base = fixed;
	iov[0].iov_len = sizeof(fixed);
	iov[1].iov_base = req;
	iov[1].iov_len = n * 48;
	st = kl_call(l, IMSG_KBLIND, iov, 2, n * 96 > 512 ? n * 96 : 512, &d,
	    &dl);
	free(req);
	if (st == 0 && dl != n * 96)
		kl_die(l, "KBLIND answered with the wrong number of points");
	if (st == 0)
		for (i = 0; i < n; i++) {
			memcpy(Rb + i * 32, d + i * 96, 32);
			memcpy(bp + i * 64, d + i * 96 + 32, 64);
		}
	else if (st == -1)
		kl_text(d, dl, err, err_len);
	free(d);
	return st;
}

/* KENTERED_SEAL / KENTERED_OPEN: in (in_len bytes) for (matter, blind
 * id, tenant); the answer, checked against want_len (the exact size of a
 * sealed list, or at most the sealed size less the overhead), into *out. */
static int
kl_entered(keeper_link *l, uint32_t type, const unsigned char matter[16],
    const unsigned char blind_id[16], const unsigned char tenant[16],
    const unsigned char *in, size_t in_len, unsigned char **out,
    size_t *out_len, char *err, size_t err_len)
{
	unsigned char fixed[KEEPER_ENTERED_FIXED], *d;
	struct iovec iov[2];
	size_t dl, want;
	int32_t st;

	*out = NULL;
	*out_len = 0;
	if (type == IMSG_KENTERED_SEAL ? in_len < 1 || in_len > API_ENTERED_MAX :
	    in_len <= API_ENTERED_OVERHEAD ||
	    in_len > API_ENTERED_MAX + API_ENTERED_OVERHEAD) {
		snprintf(err, err_len, "participants as entered: %zu bytes, "
		    "want at most %u", in_len, API_ENTERED_MAX);
		return -1;
	}
	want = type == IMSG_KENTERED_SEAL ? in_len + API_ENTERED_OVERHEAD :
	    in_len - API_ENTERED_OVERHEAD;
	memcpy(fixed, matter, 16);
	memcpy(fixed + 16, blind_id, 16);
	memcpy(fixed + 32, tenant, 16);
	iov[0].iov_base = fixed;
	iov[0].iov_len = sizeof(fixed);
	iov[1].iov_base = (void *)(uintptr_t)in;
	iov[1].iov_len = in_len;
	st = kl_call(l, type, iov, 2, want > 512 ? want : 512, &d, &dl);
	if (st == 0 && (type == IMSG_KENTERED_SEAL ? dl != want : dl > want))
		kl_die(l, "KENTERED answered with the wrong size");
	if (st == 0) {
		*out = d;                        /* kl_call leaves 4 spare bytes */
		*out_len = dl;
		return 0;
	}
	if (st == -1)
		kl_text(d, dl, err, err_len);
	vault_free_wiped(d, dl + 4);
	return st;
}

int
kl_entered_seal(keeper_link *l, const unsigned char matter[16],
    const unsigned char blind_id[16], const unsigned char tenant[16],
    const char *json, size_t json_len, unsigned char **sealed,
    size_t *sealed_len, char *err, size_t err_len)
{
	int st = kl_entered(l, IMSG_KENTERED_SEAL, matter, blind_id, tenant,
	    (const unsigned char *)json, json_len, sealed, sealed_len, err,
	    err_len);

	if (st == 1)
		snprintf(err, err_len, "the matter's blinding seed is missing");
	return st == 0 ? 0 : -1;
}

int
kl_entered_open(keeper_link *l, const unsigned char matter[16],
    const unsigned char blind_id[16], const unsigned char tenant[16],
    const unsigned char *sealed, size_t sealed_len, char **json,
    size_t *json_len, char *err, size_t err_len)
{
	unsigned char *d;
	size_t dl;
	int st;

	*json = NULL;
	*json_len = 0;
	st = kl_entered(l, IMSG_KENTERED_OPEN, matter, blind_id, tenant, sealed,
	    sealed_len, &d, &dl, err, err_len);
	if (st == 0) {
		/* the 4 spare bytes still hold the list's tail (kl_call's
		 * memmove): wipe them, which also terminates it */
		vault_wipe(d + dl, 4);
		*json = (char *)d;
		*json_len = dl;
	}
	return st;
}

int
kl_audit_sign(void *link, const vault_audit_stmt *st,
    unsigned char sig[VAULT_SIG_BYTES])
{
	unsigned char req[KEEPER_AUDIT_STMT];
	char err[256];

	memcpy(req, st->tenant_id, 16);
	memcpy(req + 16, &st->event_no, 8);
	memcpy(req + 24, st->event_hash, 32);
	memcpy(req + 56, st->node_id, 16);
	memcpy(req + 72, st->redactions, 32);
	if (kl_simple(link, IMSG_KAUDIT_SIGN, req, sizeof(req), sig,
	    VAULT_SIG_BYTES, err, sizeof(err)) != 0) {
		log_error("audit signature: %s", err);
		return -1;
	}
	return 0;
}

int
kl_head_sign(keeper_link *l, const unsigned char tenant[16],
    uint64_t event_no, const unsigned char head[32], int64_t *signed_at,
    unsigned char sig[VAULT_SIG_BYTES])
{
	unsigned char req[KEEPER_HEAD_REQ], out[8 + VAULT_SIG_BYTES];
	char err[256];
	int st;

	memcpy(req, tenant, 16);
	memcpy(req + 16, &event_no, 8);
	memcpy(req + 24, head, 32);
	st = kl_simple(l, IMSG_KHEAD_SIGN, req, sizeof(req), out, sizeof(out),
	    err, sizeof(err));
	if (st == 0) {
		memcpy(signed_at, out, 8);
		memcpy(sig, out + 8, VAULT_SIG_BYTES);
	} else if (st < 0) {
		log_error("audit head signature: %s", err);
	}
	return st;
}

int
kl_build(keeper_link *l, const char *tenant_id, const char *matter_id)
{
	unsigned char req[32];
	char err[256];

	if (util_uuid_parse(req, tenant_id) != 0 ||
	    util_uuid_parse(req + 16, matter_id) != 0)
		return -1;
	if (kl_simple(l, IMSG_KBUILD, req, sizeof(req), NULL, 0, err,
	    sizeof(err)) != 0) {
		log_warn("queueing a production build: %s", err);
		return -1;
	}
	return 0;
}

void
kl_metrics(keeper_link *l)
{
	unsigned long long v[API_PROD_COUNT];
	char err[256];

	if (kl_simple(l, IMSG_KMETRICS, NULL, 0, (unsigned char *)v, sizeof(v),
	    err, sizeof(err)) == 0)
		api_metrics_production_remote(v);
}

void
kl_free(keeper_link **lp)
{
	keeper_link *l;

	if (lp == NULL || (l = *lp) == NULL)
		return;
	atomic_store(&l->stopping, 1);
	pthread_mutex_lock(&l->mu);
	(void)shutdown(l->fd, SHUT_RDWR);
	close(l->fd);
	l->fd = -1;
	pthread_mutex_unlock(&l->mu);
	if (l->watching)
		pthread_join(l->watcher, NULL);  /* builds finish first */
	pthread_mutex_destroy(&l->mu);
	free(l);
	*lp = NULL;
}
