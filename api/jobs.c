/* api/jobs.c — background production builds (see jobs.h).
 *
 * Trusts: the database (the matter is in state 'building' only after its
 * K-th verified approval committed) and the production builder
 * (api/production.h), which does the threshold combination, decryption and
 * sealing.  This file only schedules, reports progress, and settles the
 * outcome: productions row + matter state + audit event in one
 * transaction.  If that transaction cannot commit, the sealed file is
 * removed and the matter is marked failed (or, if even that fails, left in
 * 'building' to be resumed at the next start) — a production nobody can
 * account for in the audit log is never offered for download.
 *
 * A settle that fails for a passing reason (the database is out of disk
 * space or memory, restarting, or unreachable: SQLSTATE classes 53, 57P,
 * 08, or a serialisation conflict) does not fail the matter: it stays in
 * 'building' and the same worker settles it again after a back-off (1 s
 * doubling to 30 s) until it can, so the release resumes by itself when
 * the database does.  When COMMIT itself failed its outcome is unknown:
 * the sealed file is kept until the retry has read the transaction's
 * status (pg_xact_status of the id taken just before COMMIT).
 *
 * Each worker keeps two connections: the builder runs its own read-only
 * transaction on one, progress updates go through the other.
 */
#include "api/jobs.h"
#include "api/blind.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api/metrics.h"
#include "api/production.h"
#include "common/audit.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "vault/chain.h"

#define JOBS_QUEUE_MAX  1024U
#define JOBS_ERR        512U
#define JOBS_ACTOR      "coffer-api"
#define JOBS_ROLE       "system"
#define JOBS_RETRY_MIN_S 1
#define JOBS_RETRY_MAX_S 30

typedef struct job {
	char tenant[UTIL_UUID_STRLEN + 1];
	char matter[UTIL_UUID_STRLEN + 1];
} job;

enum { JOBS_DONE = 0, JOBS_RETRY };

typedef struct jobs_worker {
	api_jobs  *j;
	pthread_t  th;
	int        started;
	job        current;           /* matter "" when idle */
	PGconn    *build;
	PGconn    *status;
	/* a settle of `current` whose COMMIT outcome is unknown */
	char       pending_id[UTIL_UUID_STRLEN + 1];
	char       pending_path[API_PATH_MAX + 160];
	char       pending_xid[24];    /* its transaction id (xid8 text) */
} jobs_worker;

struct api_jobs {
	const api_config *cfg;
	pthread_mutex_t   mu;
	pthread_cond_t    cv;
	pthread_cond_t    stop_cv;        /* retry back-offs (monotonic) */
	job               q[JOBS_QUEUE_MAX];
	size_t            head, n;
	jobs_worker      *w;
	unsigned          nw;
	int               stop;
	unsigned char    *sign_sk;        /* API node key (guarded), NULL: none;
	                                     productions are signed with it */
};

/* Progress from the builder: matters.progress, at most once a second and
 * on every change of 10 points. */
typedef struct jobs_progress {
	jobs_worker *w;
	const job   *jb;
	int          last_pct;
	long long    last_at;        /* util_mono_us() / 1e6 */
} jobs_progress;

static void
jobs_progress_cb(void *arg, unsigned long long done, unsigned long long total)
{
	jobs_progress *pr = arg;
	pg_params p = PG_PARAMS_INIT;
	char err[JOBS_ERR], pct[16];
	long long now = util_mono_us() / 1000000;
	int v;

	v = total == 0 ? 99 : (int)(done * 99ULL / total);   /* 100 = settled */
	if (v < 0)
		v = 0;
	if (v == pr->last_pct || (now == pr->last_at && v - pr->last_pct < 10))
		return;
	pr->last_pct = v;
	pr->last_at = now;
	snprintf(pct, sizeof(pct), "%d", v);
	pg_param_text(&p, pr->jb->tenant);
	pg_param_text(&p, pr->jb->matter);
	pg_param_text(&p, pct);
	/* Advisory, so not flushed: a crash loses at most a percentage,
	 * while a durable commit waited for a WAL flush queued behind the
	 * build's own output on a shared disk (~30 ms each, 12 % of a
	 * 20 000-record build on the issue 17.4 VM).  Its own transaction:
	 * never one the connection has open (its COMMIT would be ours). */
	if (PQtransactionStatus(pr->w->status) != PQTRANS_IDLE) {
		log_warn("matter %s: progress not recorded: the status "
		    "connection is in a transaction", pr->jb->matter);
		return;
	}
	if (pg_begin(pr->w->status, err, sizeof(err)) != 0 ||
	    pg_exec(pr->w->status, "SET LOCAL synchronous_commit = off", NULL,
	    err, sizeof(err)) != 0 ||
	    pg_exec(pr->w->status, "UPDATE coffer.matters SET progress = $3::int "
	    "WHERE tenant_id = $1::uuid AND matter_id = $2::uuid "
	    "AND state = 'building'", &p, err, sizeof(err)) != 0 ||
	    pg_commit(pr->w->status, err, sizeof(err)) != 0) {
		(void)pg_rollback(pr->w->status);
		log_warn("matter %s: progress not recorded: %s", pr->jb->matter, err);
	}
}

static int
jobs_conn(const jobs_worker *w, PGconn **c, char *err, size_t err_len)
{
	if (*c != NULL && PQstatus(*c) == CONNECTION_OK &&
	    PQtransactionStatus(*c) == PQTRANS_IDLE)
		return 0;
	pg_close(c);
	*c = pg_connect_app(w->j->cfg->pg_conninfo, "coffer-api-build", err,
	    err_len);
	return *c != NULL ? 0 : -1;
}

/* Did the last database failure of this thread have a passing cause? */
static int
jobs_transient(void)
{
	const char *s = pg_last_sqlstate();

	return strncmp(s, "53", 2) == 0 || strncmp(s, "57P", 3) == 0 ||
	    strncmp(s, "08", 2) == 0 ||
	    strcmp(s, PG_SQLSTATE_SERIALIZATION_FAILURE) == 0 ||
	    strcmp(s, PG_SQLSTATE_DEADLOCK) == 0;
}

/* A retried settle whose COMMIT outcome was unknown: did it commit?  The
 * transaction's own status answers (pg_xact_status: committed, aborted, or
 * still in progress on a server that has not finished it or not yet seen
 * the connection go); only when its id is too old to be known does the
 * productions row decide.  1 yes (nothing left to do), 0 no (its file is
 * removed), -1 cannot tell yet. */
static int
jobs_pending_settled(jobs_worker *w, const job *jb)
{
	pg_params p = PG_PARAMS_INIT, q = PG_PARAMS_INIT;
	char err[JOBS_ERR];
	PGresult *r;
	int n = -1;

	pg_param_text(&p, w->pending_xid);
	if (w->pending_xid[0] != '\0') {
		r = pg_query(w->status, "SELECT pg_catalog.pg_xact_status("
		    "$1::xid8)", &p, err, sizeof(err));
		if (r == NULL)
			return -1;
		if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
			const char *st = PQgetvalue(r, 0, 0);

			if (strcmp(st, "committed") == 0)
				n = 1;
			else if (strcmp(st, "aborted") == 0)
				n = 0;
			else
				n = -2;                 /* in progress */
		}
		PQclear(r);
		if (n == -2) {
			log_info("matter %s: production %s: its COMMIT is still in "
			    "progress on the server; asking again later", jb->matter,
			    w->pending_id);
			return -1;
		}
	}
	if (n < 0) {
		pg_param_text(&q, jb->tenant);
		pg_param_text(&q, w->pending_id);
		r = pg_query(w->status, "SELECT 1 FROM coffer.productions WHERE "
		    "tenant_id = $1::uuid AND production_id = $2::uuid", &q, err,
		    sizeof(err));
		if (r == NULL)
			return -1;
		n = PQntuples(r) > 0;
		PQclear(r);
	}
	if (n == 0)
		(void)unlink(w->pending_path);
	w->pending_id[0] = '\0';
	w->pending_path[0] = '\0';
	return n;
}

static int
jobs_audit(PGconn *c, const job *jb, const char *outcome, json_t *detail,
    char *err, size_t err_len)
{
	audit_event ev;
	char target[64], *text;
	int rc;

	memset(&ev, 0, sizeof(ev));
	if (util_uuid_parse(ev.tenant_id, jb->tenant) != 0) {
		snprintf(err, err_len, "bad tenant id");
		return -1;
	}
	snprintf(target, sizeof(target), "matter:%s", jb->matter);
	text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	ev.actor = JOBS_ACTOR;
	ev.role = JOBS_ROLE;
	ev.action = "production.build";
	ev.target = target;
	ev.outcome = outcome;
	ev.detail_json = text;
	rc = audit_append(c, &ev, NULL, NULL, err, err_len);
	free(text);
	return rc;
}

/* Settle a failed build: state failed + audit, one transaction. */
static void
jobs_fail(jobs_worker *w, const job *jb, const char *why)
{
	pg_params p = PG_PARAMS_INIT;
	char err[JOBS_ERR], shown[300];
	json_t *d;

	api_metrics_production(API_PROD_FAILED);
	log_printable(shown, sizeof(shown), why, strlen(why));
	log_error("matter %s: production build failed: %s", jb->matter, shown);
	d = json_pack("{s:s}", "error", shown);
	if (d == NULL || jobs_conn(w, &w->status, err, sizeof(err)) != 0 ||
	    pg_begin(w->status, err, sizeof(err)) != 0)
		goto fail;
	pg_param_text(&p, jb->tenant);
	pg_param_text(&p, jb->matter);
	if (pg_exec(w->status, "UPDATE coffer.matters SET state = 'failed', "
	    "failure_reason = 'build_failed' WHERE tenant_id = $1::uuid "
	    "AND matter_id = $2::uuid AND state = 'building'", &p, err,
	    sizeof(err)) != 0 ||
	    jobs_audit(w->status, jb, "failed", d, err, sizeof(err)) != 0 ||
	    pg_commit(w->status, err, sizeof(err)) != 0)
		goto fail;
	json_decref(d);
	/* A failed matter releases nothing more: its seed goes. */
	api_blind_destroy(w->j->cfg->blind_dir, jb->matter);
	return;
fail:
	json_decref(d);
	if (w->status != NULL)
		(void)pg_rollback(w->status);
	log_error("matter %s: could not record the failure (%s); it stays in "
	    "'building' and is retried at the next start", jb->matter, err);
}

static int
jobs_run(jobs_worker *w, const job *jb)
{
	const api_config *cfg = w->j->cfg;
	unsigned char tid[UTIL_UUID_BYTES], mid[UTIL_UUID_BYTES];
	unsigned char pid[UTIL_UUID_BYTES];
	char err[JOBS_ERR], dir[API_PATH_MAX + 64], path[API_PATH_MAX + 160];
	char pidstr[UTIL_UUID_STRLEN + 1], sha[65], size[24], count[24];
	char xid[24] = "";
	api_production_result res;
	api_production_opts popts;
	jobs_progress pr;
	json_t *d = NULL;
	PGresult *r = NULL;
	int file = 0, local = 0, committing = 0;

	if (util_uuid_parse(tid, jb->tenant) != 0 ||
	    util_uuid_parse(mid, jb->matter) != 0)
		return JOBS_DONE;
	if (jobs_conn(w, &w->status, err, sizeof(err)) != 0 ||
	    jobs_conn(w, &w->build, err, sizeof(err)) != 0) {
		log_error("matter %s: build postponed, database: %s", jb->matter, err);
		return JOBS_RETRY;
	}
	if (w->pending_id[0] != '\0') {
		int settled = jobs_pending_settled(w, jb);

		if (settled < 0)
			return JOBS_RETRY;
		if (settled > 0) {
			log_info("matter %s: production settled after all", jb->matter);
			api_blind_destroy(w->j->cfg->blind_dir, jb->matter);
			return JOBS_DONE;
		}
	}
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, jb->tenant);
		pg_param_text(&p, jb->matter);
		r = pg_query(w->status, "SELECT state FROM coffer.matters "
		    "WHERE tenant_id = $1::uuid AND matter_id = $2::uuid", &p, err,
		    sizeof(err));
		if (r == NULL) {
			log_error("matter %s: build postponed, database: %s",
			    jb->matter, err);
			return JOBS_RETRY;
		}
		if (PQntuples(r) != 1 ||
		    strcmp(PQgetvalue(r, 0, 0), "building") != 0) {
			/* settled meanwhile: a built, failed or closed matter
			 * releases nothing more */
			if (PQntuples(r) != 1 ||
			    strcmp(PQgetvalue(r, 0, 0), "open") != 0)
				api_blind_destroy(w->j->cfg->blind_dir,
				    jb->matter);
			PQclear(r);
			return JOBS_DONE;
		}
		PQclear(r);
		r = NULL;
	}
	api_metrics_production(API_PROD_STARTED);
	util_uuid_random(pid);
	util_uuid_format(pidstr, pid);
	snprintf(dir, sizeof(dir), "%s/%s", cfg->productions_dir, jb->tenant);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, sizeof(err), "cannot create the tenant's "
		    "productions directory: %s", strerror(errno));
		jobs_fail(w, jb, err);
		return JOBS_DONE;
	}
	snprintf(path, sizeof(path), "%s/%s.%s.coffer", dir, jb->matter, pidstr);
	memset(&pr, 0, sizeof(pr));
	pr.w = w;
	pr.jb = jb;
	pr.last_pct = -1;
	memset(&res, 0, sizeof(res));
	log_info("matter %s: building production %s", jb->matter, pidstr);
	memset(&popts, 0, sizeof(popts));
	popts.pins_dir = cfg->keys_dir;              /* issue 12: pinned keys */
	popts.node_pins_file = cfg->node_pins_file;
	popts.blind_dir = cfg->blind_dir;
	popts.sign_sk = w->j->sign_sk;               /* issue 13.3: signed */
	popts.node_name = cfg->node_name;
	if (api_production_build_ex(w->build, tid, mid, path, jobs_progress_cb,
	    &pr, &popts, &res, err, sizeof(err)) != 0) {
		(void)pg_rollback(w->build);   /* keeps the SQLSTATE */
		(void)unlink(path);
		if (jobs_transient()) {
			log_warn("matter %s: production %s interrupted (SQLSTATE %s); "
			    "it stays building and is built again later", jb->matter,
			    pidstr, pg_last_sqlstate());
			return JOBS_RETRY;
		}
		jobs_fail(w, jb, err);
		return JOBS_DONE;
	}
	file = 1;

	/* productions row, ready, audit: together or not at all. */
	util_hex(sha, res.sealed_sha256, sizeof(res.sealed_sha256));
	snprintf(size, sizeof(size), "%llu", res.sealed_bytes);
	snprintf(count, sizeof(count), "%llu", res.records);
	d = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
	    "production_id", pidstr, "records", (json_int_t)res.records,
	    "excluded_records", (json_int_t)res.excluded_records,
	    "epochs", (json_int_t)res.epochs,
	    "rsmf_files", (json_int_t)res.rsmf_files,
	    "attachments", (json_int_t)res.attachments,
	    "bytes", (json_int_t)res.sealed_bytes, "sha256", sha);
	if (d == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		local = 1;
		goto fail;
	}
	if (pg_begin(w->status, err, sizeof(err)) != 0)
		goto fail;
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, jb->tenant);
		pg_param_text(&p, jb->matter);
		pg_param_text(&p, pidstr);
		pg_param_text(&p, count);
		pg_param_text(&p, size);
		pg_param_bin(&p, res.sealed_sha256, sizeof(res.sealed_sha256));
		pg_param_text(&p, path);
		r = pg_query(w->status, "WITH m AS (UPDATE coffer.matters "
		    "SET state = 'ready', progress = 100 WHERE tenant_id = $1::uuid "
		    "AND matter_id = $2::uuid AND state = 'building' "
		    "RETURNING tenant_id, matter_id, requester_user_id) "
		    "INSERT INTO coffer.productions (tenant_id, matter_id, "
		    "production_id, requester_user_id, record_count, size_bytes, "
		    "sealed_sha256, storage_path, completed_at) "
		    "SELECT m.tenant_id, m.matter_id, $3::uuid, m.requester_user_id, "
		    "$4::bigint, $5::bigint, $6, $7, pg_catalog.now() FROM m "
		    "RETURNING production_id", &p, err, sizeof(err));
		if (r == NULL)
			goto fail;
		if (PQntuples(r) != 1) {
			snprintf(err, sizeof(err), "the matter left state building");
			local = 1;
			goto fail;
		}
		PQclear(r);
		r = NULL;
	}
	if (jobs_audit(w->status, jb, "ok", d, err, sizeof(err)) != 0)
		goto fail;
	/* the id that tells a lost COMMIT's outcome later */
	r = pg_query(w->status, "SELECT pg_catalog.pg_current_xact_id()::text",
	    NULL, err, sizeof(err));
	if (r == NULL)
		goto fail;
	snprintf(xid, sizeof(xid), "%s", PQntuples(r) == 1 ?
	    PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	r = NULL;
	committing = 1;
	if (pg_commit(w->status, err, sizeof(err)) != 0)
		goto fail;
	json_decref(d);
	/* The release is done: without the seed, nothing stored (approvals,
	 * audit events, this host's files) opens the matter's epochs. */
	api_blind_destroy(cfg->blind_dir, jb->matter);
	api_metrics_production(API_PROD_BUILT);
	log_info("matter %s: production %s ready: %llu records, %llu bytes "
	    "(%llu ms scope and keys, %llu ms records, %llu ms closing files)",
	    jb->matter, pidstr, res.records, res.sealed_bytes, res.ms_setup,
	    res.ms_records, res.ms_finish);
	return JOBS_DONE;
fail:
	PQclear(r);
	json_decref(d);
	if (w->status != NULL)
		(void)pg_rollback(w->status);   /* keeps the SQLSTATE */
	if (!local && jobs_transient()) {
		log_warn("matter %s: production %s not settled (SQLSTATE %s); "
		    "it stays building and is settled again later", jb->matter,
		    pidstr, pg_last_sqlstate());
		if (file && committing) {
			memcpy(w->pending_id, pidstr, sizeof(pidstr));
			memcpy(w->pending_xid, xid, sizeof(xid));
			snprintf(w->pending_path, sizeof(w->pending_path), "%s", path);
		} else if (file) {
			(void)unlink(path);
		}
		return JOBS_RETRY;
	}
	if (file)
		(void)unlink(path);
	jobs_fail(w, jb, err);
	return JOBS_DONE;
}

static void *
jobs_main(void *arg)
{
	jobs_worker *w = arg;
	api_jobs *j = w->j;
	job jb;
	char err[JOBS_ERR];
	int delay;

	for (;;) {
		pthread_mutex_lock(&j->mu);
		while (j->n == 0 && !j->stop)
			pthread_cond_wait(&j->cv, &j->mu);
		if (j->stop) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		jb = j->q[j->head];
		j->head = (j->head + 1) % JOBS_QUEUE_MAX;
		j->n--;
		w->current = jb;
		pthread_mutex_unlock(&j->mu);

		for (delay = JOBS_RETRY_MIN_S; jobs_run(w, &jb) == JOBS_RETRY;) {
			struct timespec until;
			int stop;

			/* The matter stays current (not queued twice) meanwhile. */
			util_mono_abstime(&until, util_mono_us() +
			    (long long)delay * 1000000);
			pthread_mutex_lock(&j->mu);
			while (!j->stop && pthread_cond_timedwait(&j->stop_cv,
			    &j->mu, &until) != ETIMEDOUT)
				;
			stop = j->stop;
			pthread_mutex_unlock(&j->mu);
			if (stop)
				break;
			delay = delay * 2 > JOBS_RETRY_MAX_S ? JOBS_RETRY_MAX_S :
			    delay * 2;
		}

		if (w->pending_id[0] != '\0' && (jobs_conn(w, &w->status, err,
		    sizeof(err)) != 0 || jobs_pending_settled(w, &jb) < 0))
			log_warn("matter %s: stopping while the outcome of production "
			    "%s is unknown; its file %s is kept", jb.matter,
			    w->pending_id, w->pending_path);
		w->pending_id[0] = '\0';
		pthread_mutex_lock(&j->mu);
		w->current.matter[0] = '\0';
		pthread_mutex_unlock(&j->mu);
	}
	pg_close(&w->build);
	pg_close(&w->status);
	return NULL;
}

int
api_jobs_new(api_jobs **out, const api_config *cfg, char *err, size_t err_len)
{
	api_jobs *j;
	unsigned i;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->w = calloc(cfg->job_threads, sizeof(*j->w))) == NULL) {
		free(j);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	j->cfg = cfg;
	/* Read now, before privileges are dropped; a build without it fails
	 * with the builder's message. */
	if (cfg->signing_key_file[0] != '\0' &&
	    api_production_load_signer(cfg->signing_key_file, &j->sign_sk, err,
	    err_len) != 0) {
		free(j->w);
		free(j);
		return -1;
	}
	if (j->sign_sk == NULL)
		log_warn("no signing_key_file and node_name: productions cannot be "
		    "built (they are signed by the API node key)");
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	/* back-offs must not stretch when the wall clock jumps */
	util_cond_init_mono(&j->stop_cv);
	j->nw = cfg->job_threads;
	for (i = 0; i < j->nw; i++) {
		j->w[i].j = j;
		if (pthread_create(&j->w[i].th, NULL, jobs_main, &j->w[i]) != 0) {
			snprintf(err, err_len, "cannot start a build thread");
			api_jobs_free(&j);
			return -1;
		}
		j->w[i].started = 1;
	}
	*out = j;
	return 0;
}

int
api_jobs_submit(api_jobs *j, const char *tenant_id, const char *matter_id)
{
	size_t i;
	int rc = -1;

	if (j == NULL || strlen(tenant_id) != UTIL_UUID_STRLEN ||
	    strlen(matter_id) != UTIL_UUID_STRLEN)
		return -1;
	pthread_mutex_lock(&j->mu);
	for (i = 0; i < j->n; i++)
		if (strcmp(j->q[(j->head + i) % JOBS_QUEUE_MAX].matter,
		    matter_id) == 0) {
			rc = 0;
			goto out;
		}
	for (i = 0; i < j->nw; i++)
		if (strcmp(j->w[i].current.matter, matter_id) == 0) {
			rc = 0;
			goto out;
		}
	if (j->n < JOBS_QUEUE_MAX && !j->stop) {
		job *jb = &j->q[(j->head + j->n) % JOBS_QUEUE_MAX];

		memcpy(jb->tenant, tenant_id, UTIL_UUID_STRLEN + 1);
		memcpy(jb->matter, matter_id, UTIL_UUID_STRLEN + 1);
		j->n++;
		pthread_cond_signal(&j->cv);
		rc = 0;
	}
out:
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int
api_jobs_resume(api_jobs *j, PGconn *db, char *err, size_t err_len)
{
	PGresult *r;
	int i, n = 0;

	/* Seeds a crash or a lost COMMIT left behind for matters that are
	 * built, failed, closed or gone: destroyed before anything else. */
	if (api_blind_sweep(db, j->cfg->blind_dir, err, err_len) != 0)
		return -1;
	r = pg_query(db, "SELECT tenant_id::text, matter_id::text "
	    "FROM coffer.matters WHERE state = 'building' ORDER BY created_at",
	    NULL, err, err_len);
	if (r == NULL)
		return -1;
	for (i = 0; i < PQntuples(r); i++)
		if (api_jobs_submit(j, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)) == 0)
			n++;
	PQclear(r);
	if (n > 0)
		log_info("resuming %d interrupted production build(s)", n);
	return 0;
}

void
api_jobs_free(api_jobs **jp)
{
	api_jobs *j;
	unsigned i;

	if (jp == NULL || (j = *jp) == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	pthread_cond_broadcast(&j->cv);
	pthread_cond_broadcast(&j->stop_cv);
	pthread_mutex_unlock(&j->mu);
	for (i = 0; i < j->nw; i++)
		if (j->w[i].started)
			pthread_join(j->w[i].th, NULL);
	pthread_cond_destroy(&j->cv);
	pthread_cond_destroy(&j->stop_cv);
	pthread_mutex_destroy(&j->mu);
	vault_sign_key_free(&j->sign_sk);
	free(j->w);
	free(j);
	*jp = NULL;
}
