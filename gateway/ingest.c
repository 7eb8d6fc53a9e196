/* gateway/ingest.c — the ingest pipeline behind gateway/ingest.h.
 *
 *   transport ──batch (validated lines, gateway/batch.h)──▶ job queue ──▶
 *   workers (device check, tokens) ──▶ writer lanes (seal, group commit)
 *   ──▶ workers (response) ──done──▶ transport
 *
 * `workers` sets both the number of worker threads and of writer lanes
 * (each lane one database connection and one stream per tenant).
 * plus a directory thread that keeps the tenant and device caches fresh
 * (every device_refresh_s, on ingest_reload, and soon after a cache miss).
 *
 * Trusts: the peer identity handed in by the transport (verified client
 * certificate); the database for tenants, tenant public keys and device
 * status; the key files checked by keys.c.  The lines arrive validated
 * (rec_check ran in the network process; batch_decode checked every
 * length); each gets its own status, and this file parses no JSON.  A
 * request is answered only when every line is resolved, and a line counts
 * as stored or duplicate only after the writer's COMMIT returned.
 *
 * Batches hold message content: they are wiped before being freed,
 * like the canonical plaintexts (writer.c) and jansson's buffers
 * (record.c).  Logs carry counts, statuses and certificate fingerprints,
 * never tenant content, participants, tokens or source ids.
 */
#include "gateway/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/log.h"
#include "common/names.h"
#include "common/pg.h"
#include "common/pins.h"
#include "common/util.h"
#include "common/x509.h"
#include "gateway/batch.h"
#include "gateway/keys.h"
#include "gateway/record.h"
#include "gateway/writer.h"
#include "vault/mem.h"

#define IG_CHUNK_LINES       64U
#define IG_CHUNK_BYTES       (1024U * 1024U)
#define IG_RETRY_AFTER_S     2U
#define IG_DIR_RETRY_US      2000000LL
#define IG_DIR_MISS_GAP_US   1000000LL
#define IG_BACKDATED_US      (7LL * 86400LL * 1000000LL) /* flag: sent_at this far before receipt */
#define IG_EXPIRING_S        (30LL * 86400LL)   /* devices_expiring_30d */

enum { LS_PENDING = 0, LS_STORED, LS_DUPLICATE, LS_REJECTED, LS_UNAVAILABLE,
       LS_FAILED, LS_HEARTBEAT };
enum { JOB_SPLIT = 1, JOB_TOKENS, JOB_FINISH };

typedef struct ig_tenant {
	char           name[128];
	unsigned char  id[VAULT_ID_BYTES];
	unsigned char  pk[VAULT_POINT_BYTES];
	unsigned char *bik;              /* guarded memory; NULL: no key file */
	int            bik_warned;
	/* The pin (<keys_dir>/<tenant>.pin) and whether the database's key
	 * row matches it, checked on every directory load.  pk is the pinned
	 * key, never the database's: nothing is wrapped to an unpinned key. */
	pins_tenant   *pin;
	int            pin_ok;           /* sealing allowed */
	int            pin_logged;       /* the refusal was logged */
	/* A rotation announced by the pin: new epochs are wrapped to prev_pk
	 * before wraps_from_us, to pk from then on (writer.h). */
	int            has_rotation;
	unsigned char  prev_pk[VAULT_POINT_BYTES];
	long long      wraps_from_us;
	int            rot_logged;       /* the switch was logged */
} ig_tenant;

/* A key file read at start-up, before privileges were dropped, waiting for
 * its tenant to appear in the database. */
typedef struct ig_key {
	char           name[128];
	unsigned char *bik;
} ig_key;

typedef struct ig_dev {
	const ig_tenant *t;
	char            *device;
	char             fpr[65];        /* registered SHA-256, lower-case hex;
	                                  * "" when none is: nothing matches */
	char             prev_fpr[65];   /* the certificate the last re-issue
	                                  * replaced, or "" */
	long long        prev_until;     /* util_mono_us() end of its overlap
	                                  * window (time left by the database's
	                                  * clock when loaded) */
} ig_dev;

enum { IG_KEY_OTHER = 0, IG_KEY_CURRENT, IG_KEY_OVERLAP, IG_KEY_RETIRED };

typedef struct ig_req ig_req;

typedef struct ig_line {
	wr_item      w;
	rec          r;
	ig_req      *q;
	const batch_line *b;             /* in q->b */
	int          status;
	char        *reason;             /* malloc'd, rejected lines only */
	wr_receipt   rc;
} ig_line;

typedef struct ig_job {
	struct ig_job *next;
	int            kind;
	int            owned;            /* malloc'd (parse jobs) */
	ig_req        *q;
	size_t         from, to;
} ig_job;

struct ig_req {
	ingest              *ig;
	const ig_tenant     *t;
	const unsigned char *bik;
	char                 tenant[128];
	char                 device[128];
	char                 fingerprint[65];
	size_t               device_len;
	batch                b;
	size_t               body_len;   /* the request body's bytes */
	ingest_done_fn       done;
	void                *ctx;
	ig_line             *lines;
	size_t               nlines;
	long long            received_at;
	/* The tenant's wrap keys when the request came (copies: the
	 * directory thread may swap the pin meanwhile). */
	unsigned char        pk[VAULT_POINT_BYTES];
	unsigned char        prev_pk[VAULT_POINT_BYTES];
	int                  has_prev;
	long long            wraps_from_us;
	atomic_size_t        unresolved;
	int                  status;     /* set for a whole-request answer */
	ig_job               job_split, job_finish;
};

struct ingest {
	gw_config        cfg;
	unsigned char   *sign_sk;
	unsigned char    sign_pk[VAULT_SIGN_PK_BYTES];
	writer          *w;
	int              started;

	/* directory: tenants (grow-only, entries live until ingest_free) and
	 * the active-device snapshot */
	pthread_mutex_t  dmu;
	pthread_cond_t   dcv;
	ig_tenant      **tenants;
	size_t           ntenants;
	ig_dev          *devs;
	size_t           ndevs;
	ig_key          *preload;
	size_t           npreload;
	int              dir_loaded;
	int              dir_wanted;     /* refresh requested */
	int              dir_stop;
	unsigned long long dir_req_seq;  /* ingest_refresh's requests */
	unsigned long long dir_done_seq; /* the last one a load served */
	pthread_cond_t   dgcv;           /* dir_done_seq moved */
	long long        dir_last_us;
	time_t           dev_soonest;    /* soonest cert_not_after, 0: none */
	size_t           dev_expiring;   /* within IG_EXPIRING_S of the load */
	pthread_t        dthread;
	PGconn          *dconn;          /* directory thread only */
	pthread_mutex_t  hbmu;           /* heartbeats (workers) */
	PGconn          *hbconn;
	int              dir_down_logged;

	/* jobs */
	pthread_mutex_t  jmu;
	pthread_cond_t   jcv;
	ig_job          *jhead, *jtail;
	int              jstop;
	pthread_t       *workers;
	unsigned         nworkers;

	size_t           hwm_records;
	size_t           hwm_bytes;
	atomic_size_t    pending_bytes;

	/* metrics */
	atomic_ullong    m_rejected, m_bytes_in, m_too_large, m_backdated;
	atomic_ullong    m_heartbeats;
	/* the capture report's totals (capture thread; -1: not yet).  Its
	 * own thread and connection: a device sending sparse numbers makes
	 * the report slow, and the directory (revocations, new devices'
	 * first requests) must not wait for it. */
	pthread_t        cthread;
	int              cthread_on;
	pthread_cond_t   ccv;            /* the capture thread's own wake-up:
	                                  * dcv's signal is the directory's */
	PGconn          *cconn;          /* capture thread only */
	PGcancel        *ccancel;        /* under dmu: the running report */
	atomic_llong     cap_missing, cap_incomplete, cap_silent, cap_dups;
	atomic_ullong    m_req_200, m_req_403, m_req_413, m_req_500, m_req_503;
};

/* -- directory ---------------------------------------------------------------- */

static int
ig_dev_cmp(const void *a, const void *b)
{
	const ig_dev *x = a, *y = b;

	if (x->t != y->t)
		return (uintptr_t)x->t < (uintptr_t)y->t ? -1 : 1;
	return strcmp(x->device, y->device);
}

static void
ig_devs_free(ig_dev *devs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(devs[i].device);
	free(devs);
}

/* Caller holds dmu. */
static ig_tenant *
ig_tenant_by_name(ingest *ig, const char *name)
{
	size_t i;

	for (i = 0; i < ig->ntenants; i++)
		if (strcmp(ig->tenants[i]->name, name) == 0)
			return ig->tenants[i];
	return NULL;
}

/* Caller holds dmu. */
static ig_tenant *
ig_tenant_by_id(ingest *ig, const unsigned char *id)
{
	size_t i;

	for (i = 0; i < ig->ntenants; i++)
		if (memcmp(ig->tenants[i]->id, id, VAULT_ID_BYTES) == 0)
			return ig->tenants[i];
	return NULL;
}

/* The active device, or NULL.  Caller holds dmu. */
static const ig_dev *
ig_device_active(ingest *ig, const ig_tenant *t, const char *device)
{
	ig_dev key;

	key.t = t;
	key.device = (char *)(uintptr_t)device;
	return bsearch(&key, ig->devs, ig->ndevs, sizeof(*ig->devs),
	    ig_dev_cmp);
}

/* Which of d's certificates fpr (the peer certificate's SHA-256, hex) is:
 * IG_KEY_CURRENT (the registered one), IG_KEY_OVERLAP (the one the last
 * re-issue replaced, inside its window), IG_KEY_RETIRED (that one, after
 * the window), IG_KEY_OTHER.  Fingerprints are public: no constant-time
 * compare needed. */
static int
ig_device_key(const ig_dev *d, const char *fpr)
{
	if (d->fpr[0] != '\0' && strcasecmp(d->fpr, fpr) == 0)
		return IG_KEY_CURRENT;
	if (d->prev_fpr[0] != '\0' && strcasecmp(d->prev_fpr, fpr) == 0)
		return util_mono_us() < d->prev_until ? IG_KEY_OVERLAP :
		    IG_KEY_RETIRED;
	return IG_KEY_OTHER;
}

static int
ig_device_key_ok(const ig_dev *d, const char *fpr)
{
	int k = ig_device_key(d, fpr);

	return k == IG_KEY_CURRENT || k == IG_KEY_OVERLAP;
}

/* A fingerprint as stored -> out[65] ("" unless 64 hex digits). */
static void
ig_fpr_set(char out[65], const char *v, size_t len)
{
	size_t i;

	out[0] = '\0';
	if (len != 64)
		return;
	for (i = 0; i < 64; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (unsigned char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
			out[0] = '\0';
			return;
		}
		out[i] = (char)ch;
	}
	out[64] = '\0';
}

/* A binary int8 result value (network order). */
static long long
ig_int8(const char *v, int len)
{
	unsigned long long u = 0;
	int i;

	if (len != 8)
		return 0;
	for (i = 0; i < 8; i++)
		u = (u << 8) | (unsigned char)v[i];
	return (long long)u;
}

/* Take the key preloaded for tenant name, if any. */
static unsigned char *
ig_preloaded(ingest *ig, const char *name)
{
	unsigned char *bik = NULL;
	size_t i;

	pthread_mutex_lock(&ig->dmu);
	for (i = 0; i < ig->npreload; i++)
		if (ig->preload[i].bik != NULL &&
		    strcmp(ig->preload[i].name, name) == 0) {
			bik = ig->preload[i].bik;
			ig->preload[i].bik = NULL;
		}
	pthread_mutex_unlock(&ig->dmu);
	return bik;
}

/* Load every <keys_dir>/<tenant>.bik now: the daemon may drop privileges
 * after start-up and the key files stay readable by root only.  A file
 * that fails its checks is logged and skipped (its tenant's devices are
 * refused); an unreadable directory is a start-up error. */
static int
ig_preload_keys(ingest *ig, char *err, size_t err_len)
{
	DIR *d = opendir(ig->cfg.keys_dir);
	struct dirent *de;

	if (d == NULL) {
		snprintf(err, err_len, "keys_dir %s: %s", ig->cfg.keys_dir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char name[128], kerr[512];
		unsigned char *bik = NULL;
		ig_key *v;

		if (n <= 4 || n - 4 >= sizeof(name) ||
		    strcmp(de->d_name + n - 4, ".bik") != 0)
			continue;
		memcpy(name, de->d_name, n - 4);
		name[n - 4] = '\0';
		if (!names_ok(name, strlen(name)))
			continue;
		if (keys_load_bik(ig->cfg.keys_dir, name, &bik, kerr,
		    sizeof(kerr)) != 0) {
			log_warn("ingest: %s (skipped)", kerr);
			continue;
		}
		v = realloc(ig->preload, (ig->npreload + 1) * sizeof(*v));
		if (v == NULL) {
			keys_bik_free(&bik);
			closedir(d);
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		ig->preload = v;
		snprintf(ig->preload[ig->npreload].name, sizeof(v->name), "%s", name);
		ig->preload[ig->npreload].bik = bik;
		ig->npreload++;
	}
	closedir(d);
	return 0;
}

static void
ig_preload_free(ingest *ig)
{
	size_t i;

	for (i = 0; i < ig->npreload; i++)
		keys_bik_free(&ig->preload[i].bik);
	free(ig->preload);
	ig->preload = NULL;
	ig->npreload = 0;
}

/* Compare the database's key row of t with its pin (issue 12).  Runs on
 * the directory thread at every load: a row changed under a running
 * gateway is caught at the next refresh, and a restored one resumes
 * sealing.  On a mismatch the tenant's devices get 503 (ig_split): the
 * gateway never wraps to a key it has not pinned. */
static void
ig_pin_check(ingest *ig, ig_tenant *t)
{
	pins_tenant *pin = NULL, *old = NULL;
	char why[768], path[1200];
	int ok, fresh;

	/* Read again at every load: a rotation's new pin is installed while
	 * the gateway runs (the database's key changes with it). */
	pin = malloc(sizeof(*pin));
	if (pin == NULL)
		return;
	if (pins_tenant_load(ig->cfg.keys_dir, t->name, pin, why,
	    sizeof(why)) != 0) {
		free(pin);
		ok = 0;
		goto done;
	}
	if (memcmp(pin->tenant_id, t->id, VAULT_ID_BYTES) != 0) {
		snprintf(why, sizeof(why), "tenant %s: its pin names another "
		    "tenant id than the database's", t->name);
		free(pin);
		ok = 0;
		goto done;
	}
	snprintf(path, sizeof(path), "%s/%s.pin", ig->cfg.keys_dir, t->name);
	ok = pins_tenant_compare_db(ig->dconn, pin, path, 1, why, sizeof(why)) == 0;
	if (!ok && PQstatus(ig->dconn) != CONNECTION_OK) {
		free(pin);
		return;                  /* the database is gone, not the keys */
	}
	pthread_mutex_lock(&ig->dmu);
	old = t->pin;
	fresh = old == NULL || old->generation != pin->generation ||
	    memcmp(old->public_key, pin->public_key, VAULT_POINT_BYTES) != 0;
	t->pin = pin;
	memcpy(t->pk, pin->public_key, VAULT_POINT_BYTES);
	t->has_rotation = pin->has_rotation;
	memcpy(t->prev_pk, pin->previous_key, VAULT_POINT_BYTES);
	t->wraps_from_us = pin->wraps_from_us;
	if (fresh)
		t->rot_logged = 0;
	pthread_mutex_unlock(&ig->dmu);
	if (fresh && pin->has_rotation && util_now_us() < pin->wraps_from_us)
		log_info("directory: tenant %s: pin of generation %u announces a "
		    "new key: new epochs are wrapped to it from %lld (Unix time)",
		    t->name, pin->generation, pin->wraps_from_us / 1000000LL);
	free(old);
done:
	pthread_mutex_lock(&ig->dmu);
	if (ok && !t->pin_ok && t->pin_logged)
		log_info("directory: tenant %s: database keys match the pin again: "
		    "sealing resumed", t->name);
	if (!ok && (t->pin_ok || !t->pin_logged)) {
		log_error("directory: %s: sealing refused (its devices get 503)", why);
		t->pin_logged = 1;
	}
	t->pin_ok = ok;
	pthread_mutex_unlock(&ig->dmu);
}

/* Read tenants, keys and active devices; swap the snapshot in.  Runs on
 * the directory thread (or in ingest_start before threads exist). */
static int
ig_dir_load(ingest *ig)
{
	PGresult *r = NULL;
	pg_params p = PG_PARAMS_INIT;
	ig_dev *devs = NULL, *old;
	size_t ndevs = 0, oldn, expiring = 0;
	time_t soonest = 0, horizon = time(NULL) + IG_EXPIRING_S;
	char err[512];
	int rows, k;

	if (ig->dconn == NULL) {
		ig->dconn = pg_connect_app(ig->cfg.pg_conninfo,
		    "coffer-gateway-directory", err, sizeof(err));
		if (ig->dconn == NULL)
			goto db_fail;
	}
	p.result_binary = 1;
	r = pg_query(ig->dconn, "SELECT t.tenant_id, t.name, k.public_key "
	    "FROM coffer.tenants t JOIN coffer.tenant_keys k "
	    "ON k.tenant_id = t.tenant_id", &p, err, sizeof(err));
	if (r == NULL)
		goto db_fail;
	rows = PQntuples(r);
	for (k = 0; k < rows; k++) {
		const char *name = PQgetvalue(r, k, 1);
		ig_tenant *t, **v;
		unsigned char *bik = NULL;
		char kerr[512];
		int need_key;

		if (PQgetlength(r, k, 0) != VAULT_ID_BYTES ||
		    PQgetlength(r, k, 2) != VAULT_POINT_BYTES ||
		    (size_t)PQgetlength(r, k, 1) >= sizeof(t->name))
			continue;
		pthread_mutex_lock(&ig->dmu);
		t = ig_tenant_by_id(ig, (const unsigned char *)PQgetvalue(r, k, 0));
		need_key = t == NULL || t->bik == NULL;
		pthread_mutex_unlock(&ig->dmu);
		if (!need_key) {
			ig_pin_check(ig, t);
			continue;
		}
		bik = ig_preloaded(ig, name);
		/* Key file I/O outside the lock: peer checks keep going.  A
		 * tenant made after start-up needs a key file the (possibly
		 * unprivileged) service user can read. */
		if (bik == NULL && keys_load_bik(ig->cfg.keys_dir, name, &bik,
		    kerr, sizeof(kerr)) != 0)
			bik = NULL;
		pthread_mutex_lock(&ig->dmu);
		if (t == NULL) {
			t = calloc(1, sizeof(*t));
			v = realloc(ig->tenants, (ig->ntenants + 1) * sizeof(*v));
			if (t == NULL || v == NULL) {
				pthread_mutex_unlock(&ig->dmu);
				free(t);
				if (v != NULL)
					ig->tenants = v;
				keys_bik_free(&bik);
				PQclear(r);
				log_error("directory: out of memory");
				return -1;
			}
			memcpy(t->id, PQgetvalue(r, k, 0), VAULT_ID_BYTES);
			snprintf(t->name, sizeof(t->name), "%s", name);
			ig->tenants = v;
			ig->tenants[ig->ntenants++] = t;
		}
		if (bik != NULL) {
			t->bik = bik;
			log_info("directory: tenant %s: blind-index key loaded", t->name);
		} else if (!t->bik_warned) {
			t->bik_warned = 1;
			log_warn("directory: tenant %s: %s (its devices are refused)",
			    t->name, kerr);
		}
		pthread_mutex_unlock(&ig->dmu);
		ig_pin_check(ig, t);
	}
	PQclear(r);

	/* the overlap window as time left by the database's clock at each
	 * load (the one that set prev_valid_until); from there it runs on
	 * util_mono_us, so the gateway's wall clock cannot stretch it */
	r = pg_query(ig->dconn, "SELECT tenant_id, device_id, "
	    "coalesce(cert_fingerprint, ''), coalesce(prev_cert_fingerprint, ''), "
	    "coalesce(greatest(0, ceil(extract(epoch FROM prev_valid_until - "
	    "now()) * 1000000))::bigint, 0), "
	    "coalesce(extract(epoch FROM cert_not_after)::bigint, 0) "
	    "FROM coffer.devices WHERE status = 'active'", &p, err,
	    sizeof(err));
	if (r == NULL)
		goto db_fail;
	rows = PQntuples(r);
	devs = calloc(rows > 0 ? (size_t)rows : 1, sizeof(*devs));
	if (devs == NULL) {
		PQclear(r);
		log_error("directory: out of memory");
		return -1;
	}
	pthread_mutex_lock(&ig->dmu);
	for (k = 0; k < rows; k++) {
		const ig_tenant *t;
		time_t na;

		if (PQgetlength(r, k, 0) != VAULT_ID_BYTES)
			continue;
		t = ig_tenant_by_id(ig, (const unsigned char *)PQgetvalue(r, k, 0));
		if (t == NULL)
			continue;
		devs[ndevs].t = t;
		ig_fpr_set(devs[ndevs].fpr, PQgetvalue(r, k, 2),
		    (size_t)PQgetlength(r, k, 2));
		ig_fpr_set(devs[ndevs].prev_fpr, PQgetvalue(r, k, 3),
		    (size_t)PQgetlength(r, k, 3));
		devs[ndevs].prev_until = util_mono_us() +
		    ig_int8(PQgetvalue(r, k, 4), PQgetlength(r, k, 4));
		devs[ndevs].device = strdup(PQgetvalue(r, k, 1));
		if (devs[ndevs].device == NULL)
			continue;
		ndevs++;
		na = (time_t)ig_int8(PQgetvalue(r, k, 5), PQgetlength(r, k, 5));
		if (na == 0)                /* issued before migration 0013 */
			continue;
		if (soonest == 0 || na < soonest)
			soonest = na;
		if (na < horizon)
			expiring++;
	}
	pthread_mutex_unlock(&ig->dmu);
	PQclear(r);
	qsort(devs, ndevs, sizeof(*devs), ig_dev_cmp);

	pthread_mutex_lock(&ig->dmu);
	old = ig->devs;
	oldn = ig->ndevs;
	ig->devs = devs;
	ig->ndevs = ndevs;
	ig->dev_soonest = soonest;
	ig->dev_expiring = expiring;
	if (!ig->dir_loaded)
		log_info("directory: %zu tenants, %zu active devices", ig->ntenants,
		    ndevs);
	ig->dir_loaded = 1;
	ig->dir_last_us = util_mono_us();
	pthread_mutex_unlock(&ig->dmu);
	ig_devs_free(old, oldn);
	if (ig->dir_down_logged)
		log_info("directory: database available again");
	ig->dir_down_logged = 0;
	return 0;
db_fail:
	if (!ig->dir_down_logged)
		log_warn("directory: %s; keeping the last device list, retrying", err);
	ig->dir_down_logged = 1;
	pg_close(&ig->dconn);
	return -1;
}

/* The capture completeness report's totals over every tenant, for the
 * metrics (directory thread, every capture_metrics_s). */
static void
ig_capture_load(ingest *ig)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	PGcancel *cc;
	char secs[24], err[512];

	if (ig->cconn == NULL && (ig->cconn = pg_connect_app(ig->cfg.pg_conninfo,
	    "coffer-gateway-capture", err, sizeof(err))) == NULL) {
		log_warn("capture report: %s", err);
		return;
	}
	snprintf(secs, sizeof(secs), "%u", ig->cfg.capture_silence_s);
	pg_param_text(&p, secs);
	cc = PQgetCancel(ig->cconn);
	pthread_mutex_lock(&ig->dmu);
	ig->ccancel = cc;
	pthread_mutex_unlock(&ig->dmu);
	r = pg_query(ig->cconn, "SELECT coalesce(sum(c.missing), 0), "
	    "count(*) FILTER (WHERE c.missing > 0 OR c.duplicates > 0), "
	    "count(*) FILTER (WHERE c.silent), coalesce(sum(c.duplicates), 0) "
	    "FROM coffer.tenants t CROSS JOIN LATERAL coffer.capture_report("
	    "t.tenant_id, $1::bigint * interval '1 second') c", &p, err,
	    sizeof(err));
	pthread_mutex_lock(&ig->dmu);
	ig->ccancel = NULL;
	pthread_mutex_unlock(&ig->dmu);
	PQfreeCancel(cc);
	if (r == NULL) {
		log_warn("capture report: %s", err);
		if (PQstatus(ig->cconn) != CONNECTION_OK)
			pg_close(&ig->cconn);
		return;
	}
	atomic_store(&ig->cap_missing, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
	atomic_store(&ig->cap_incomplete, strtoll(PQgetvalue(r, 0, 1), NULL, 10));
	atomic_store(&ig->cap_silent, strtoll(PQgetvalue(r, 0, 2), NULL, 10));
	atomic_store(&ig->cap_dups, strtoll(PQgetvalue(r, 0, 3), NULL, 10));
	PQclear(r);
}

/* The capture report every capture_metrics_s, after each run's end. */
static void *
ig_cap_main(void *arg)
{
	ingest *ig = arg;
	struct timespec ts;
	long long next = util_mono_us();

	for (;;) {
		pthread_mutex_lock(&ig->dmu);
		while (!ig->dir_stop && util_mono_us() < next) {
			util_mono_abstime(&ts, next);
			pthread_cond_timedwait(&ig->ccv, &ig->dmu, &ts);
		}
		if (ig->dir_stop) {
			pthread_mutex_unlock(&ig->dmu);
			break;
		}
		pthread_mutex_unlock(&ig->dmu);
		ig_capture_load(ig);
		next = util_mono_us() +
		    (long long)ig->cfg.capture_metrics_s * 1000000LL;
	}
	pg_close(&ig->cconn);
	return NULL;
}

static void *
ig_dir_main(void *arg)
{
	ingest *ig = arg;
	long long next = util_mono_us() +
	    (long long)ig->cfg.device_refresh_s * 1000000LL;
	struct timespec ts;

	if (!ig->dir_loaded)
		next = util_mono_us();
	for (;;) {
		unsigned long long seq;
		long long now;
		int run, rc;

		pthread_mutex_lock(&ig->dmu);
		for (;;) {
			now = util_mono_us();
			if (ig->dir_stop)
				break;
			if (now >= next)
				break;
			if (ig->dir_wanted &&
			    now - ig->dir_last_us >= IG_DIR_MISS_GAP_US)
				break;
			util_mono_abstime(&ts, ig->dir_wanted ?
			    ig->dir_last_us + IG_DIR_MISS_GAP_US : next);
			pthread_cond_timedwait(&ig->dcv, &ig->dmu, &ts);
		}
		run = !ig->dir_stop;
		ig->dir_wanted = 0;
		seq = ig->dir_req_seq;
		pthread_mutex_unlock(&ig->dmu);
		if (!run)
			break;
		rc = ig_dir_load(ig);
		pthread_mutex_lock(&ig->dmu);
		ig->dir_done_seq = seq;
		pthread_cond_broadcast(&ig->dgcv);
		pthread_mutex_unlock(&ig->dmu);
		if (rc == 0)
			next = util_mono_us() +
			    (long long)ig->cfg.device_refresh_s * 1000000LL;
		else {
			pthread_mutex_lock(&ig->dmu);
			ig->dir_last_us = util_mono_us();
			pthread_mutex_unlock(&ig->dmu);
			next = util_mono_us() + IG_DIR_RETRY_US;
		}
	}
	pg_close(&ig->dconn);
	pthread_mutex_lock(&ig->dmu);
	ig->dir_done_seq = ig->dir_req_seq;     /* nobody waits for a stopped one */
	pthread_cond_broadcast(&ig->dgcv);
	pthread_mutex_unlock(&ig->dmu);
	return NULL;
}

/* Caller holds dmu. */
static void
ig_dir_request(ingest *ig)
{
	ig->dir_wanted = 1;
	pthread_cond_signal(&ig->dcv);
}

/* -- jobs ----------------------------------------------------------------------- */

static void
ig_push(ingest *ig, ig_job *first, ig_job *last)
{
	pthread_mutex_lock(&ig->jmu);
	last->next = NULL;
	if (ig->jtail != NULL)
		ig->jtail->next = first;
	else
		ig->jhead = first;
	ig->jtail = last;
	if (first == last)
		pthread_cond_signal(&ig->jcv);
	else
		pthread_cond_broadcast(&ig->jcv);
	pthread_mutex_unlock(&ig->jmu);
}

static void
ig_push1(ingest *ig, ig_job *j)
{
	ig_push(ig, j, j);
}

/* -- responses ------------------------------------------------------------------ */

typedef struct sbuf {
	char   *p;
	size_t  len, cap;
	int     oom;
} sbuf;

static void
sb_put(sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		/* responses carry the client's message ids */
		p = vault_grow(b->p, b->len, b->cap, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* A JSON string of printable ASCII (ids we echo, our own reasons). */
static void
sb_json(sbuf *b, const char *s)
{
	size_t i, start = 0;

	sb_put(b, "\"", 1);
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
			sb_put(b, s + start, i - start);
			if (c == '"' || c == '\\') {
				char esc[2] = { '\\', (char)c };

				sb_put(b, esc, 2);
			} else {
				sb_put(b, "?", 1);
			}
			start = i + 1;
		}
	}
	sb_put(b, s + start, i - start);
	sb_put(b, "\"", 1);
}

static void
ig_req_free(ig_req *q)
{
	size_t i;

	if (q->lines != NULL) {
		for (i = 0; i < q->nlines; i++) {
			rec_clear(&q->lines[i].r);
			free(q->lines[i].reason);
		}
		free(q->lines);
	}
	batch_free(&q->b);
	free(q);
}

static void
ig_count_status(ingest *ig, int status)
{
	switch (status) {
	case 200: atomic_fetch_add(&ig->m_req_200, 1); break;
	case 403: atomic_fetch_add(&ig->m_req_403, 1); break;
	case 413: atomic_fetch_add(&ig->m_req_413, 1); break;
	case 503: atomic_fetch_add(&ig->m_req_503, 1); break;
	default:  atomic_fetch_add(&ig->m_req_500, 1); break;
	}
}

static void
ig_error_answer(ig_req *q, int status, const char *msg)
{
	ingest *ig = q->ig;
	sbuf b = { 0 };
	ingest_done_fn done = q->done;
	void *ctx = q->ctx;
	unsigned retry = status == 503 ? IG_RETRY_AFTER_S : 0;

	sb_str(&b, "{\"error\":");
	sb_json(&b, msg);
	sb_str(&b, "}\n");
	atomic_fetch_sub(&ig->pending_bytes, q->body_len);
	ig_req_free(q);
	ig_count_status(ig, status);
	if (b.oom) {
		free(b.p);
		done(ctx, status, retry, "application/json", NULL, 0);
		return;
	}
	done(ctx, status, retry, "application/json", b.p, b.len);
}

static void
ig_finish(ig_req *q)
{
	ingest *ig = q->ig;
	sbuf b = { 0 };
	size_t i;
	int unavailable = 0, failed = 0;
	char num[32], hex[2 * VAULT_HASH_BYTES + 1], sid[UTIL_UUID_STRLEN + 1];
	ingest_done_fn done;
	void *ctx;

	if (q->status != 0) {
		ig_error_answer(q, q->status, q->status == 413 ?
		    "too many records in one request" : q->status == 403 ?
		    "device not authorised" : q->status == 503 ?
		    "database unavailable" : "internal error");
		return;
	}
	for (i = 0; i < q->nlines; i++) {
		if (q->lines[i].status == LS_UNAVAILABLE)
			unavailable = 1;
		else if (q->lines[i].status == LS_FAILED ||
		    q->lines[i].status == LS_PENDING)
			failed = 1;
	}
	/* Nothing is acknowledged unless every stored line committed: a
	 * retry of the whole request turns the committed ones into
	 * duplicates with their original receipts. */
	if (unavailable) {
		ig_error_answer(q, 503, "database unavailable");
		return;
	}
	if (failed) {
		ig_error_answer(q, 500, "internal error");
		return;
	}
	for (i = 0; i < q->nlines; i++) {
		ig_line *l = &q->lines[i];

		snprintf(num, sizeof(num), "%zu", i + 1);
		sb_str(&b, "{\"line\":");
		sb_str(&b, num);
		if (l->r.id[0] != '\0') {
			sb_str(&b, ",\"id\":");
			sb_json(&b, l->r.id);
		}
		switch (l->status) {
		case LS_HEARTBEAT:
			sb_str(&b, ",\"status\":\"heartbeat\"}\n");
			break;
		case LS_STORED:
		case LS_DUPLICATE:
			sb_str(&b, l->status == LS_STORED ?
			    ",\"status\":\"stored\",\"receipt\":\"" :
			    ",\"status\":\"duplicate\",\"receipt\":\"");
			util_uuid_format(sid, l->rc.stream_id);
			util_hex(hex, l->rc.leaf_hash, VAULT_HASH_BYTES);
			snprintf(num, sizeof(num), ":%llu:",
			    (unsigned long long)l->rc.seq);
			sb_str(&b, sid);
			sb_str(&b, num);
			sb_str(&b, hex);
			sb_str(&b, "\"}\n");
			break;
		default:
			sb_str(&b, ",\"status\":\"rejected\",\"error\":");
			sb_json(&b, l->reason != NULL ? l->reason : "rejected");
			sb_str(&b, "}\n");
			break;
		}
	}
	if (b.oom) {
		vault_wipe(b.p, b.cap);
		free(b.p);
		ig_error_answer(q, 500, "internal error");
		return;
	}
	done = q->done;
	ctx = q->ctx;
	atomic_fetch_sub(&ig->pending_bytes, q->body_len);
	ig_req_free(q);
	ig_count_status(ig, 200);
	if (b.p == NULL) {
		done(ctx, 200, 0, "application/x-ndjson", NULL, 0);
		return;
	}
	done(ctx, 200, 0, "application/x-ndjson", b.p, b.len);
}

/* -- pipeline stages ---------------------------------------------------------- */

static void
ig_line_done(wr_item *it, wr_status st, const wr_receipt *rc)
{
	ig_line *l = (ig_line *)(void *)((char *)it - offsetof(ig_line, w));
	ig_req *q = l->q;

	switch (st) {
	case WR_STORED:
		l->status = LS_STORED;
		break;
	case WR_DUPLICATE:
		l->status = LS_DUPLICATE;
		break;
	case WR_UNAVAILABLE:
		l->status = LS_UNAVAILABLE;
		break;
	default:
		l->status = LS_FAILED;
		break;
	}
	if (rc != NULL)
		l->rc = *rc;
	/* The last resolution hands the request to a worker for its answer;
	 * nothing touches q after its own decrement. */
	if (atomic_fetch_sub(&q->unresolved, 1) == 1) {
		q->job_finish.kind = JOB_FINISH;
		q->job_finish.q = q;
		ig_push1(q->ig, &q->job_finish);
	}
}

static int ig_heartbeat(ig_req *, const rec_heartbeat *);

static void
ig_split(ig_req *q)
{
	ingest *ig = q->ig;
	size_t n = 0, i, start, chunk_lines, chunk_bytes;
	ig_job *first = NULL, *last = NULL, *j;
	const ig_dev *d;
	ig_tenant *t;
	int ok, pin_ok;

	/* Checked again per request: a device revoked or re-issued while its
	 * connection stays open is refused from its next request on. */
	pthread_mutex_lock(&ig->dmu);
	t = ig_tenant_by_name(ig, q->tenant);
	q->t = t;
	ok = t != NULL && t->bik != NULL &&
	    (d = ig_device_active(ig, t, q->device)) != NULL &&
	    ig_device_key_ok(d, q->fingerprint);
	q->bik = t != NULL ? t->bik : NULL;
	pin_ok = t != NULL && t->pin_ok;
	if (t != NULL) {
		memcpy(q->pk, t->pk, VAULT_POINT_BYTES);
		memcpy(q->prev_pk, t->prev_pk, VAULT_POINT_BYTES);
		q->has_prev = t->has_rotation;
		q->wraps_from_us = t->wraps_from_us;
		if (t->has_rotation && !t->rot_logged && pin_ok &&
		    util_now_us() >= t->wraps_from_us) {
			t->rot_logged = 1;
			log_info("ingest: tenant %s: key rotation: new epochs are "
			    "wrapped to the new key (generation %u) from now on",
			    t->name, t->pin != NULL ? t->pin->generation : 0U);
		}
	}
	pthread_mutex_unlock(&ig->dmu);
	if (ok && !pin_ok) {
		ig_error_answer(q, 503, "tenant key does not match this gateway's "
		    "pin: sealing refused");
		return;
	}
	if (!ok) {
		log_warn("ingest: request from certificate %s refused: device no "
		    "longer authorised", q->fingerprint);
		q->status = 403;
		ig_finish(q);
		return;
	}
	n = q->b.nlines;
	if (n > ig->cfg.max_records_per_request ||
	    (n > 0 && q->b.lines == NULL)) {
		q->status = 413;
		ig_finish(q);
		return;
	}
	if (n == 0) {
		ig_finish(q);
		return;
	}
	q->lines = calloc(n, sizeof(*q->lines));
	if (q->lines == NULL) {
		q->status = 500;
		ig_finish(q);
		return;
	}
	q->nlines = n;
	for (i = 0; i < n; i++) {
		q->lines[i].q = q;
		q->lines[i].b = &q->b.lines[i];
	}
	atomic_store(&q->unresolved, n);
	/* A request's heartbeat lines are one heartbeat: the highest mark,
	 * the last line's outbox and clock, one upsert (not a database round
	 * trip per line under hbmu, which a device could send by the
	 * thousand). */
	{
		rec_heartbeat hb = { 0 };
		int nhb = 0, st;

		for (i = 0; i < n; i++) {
			const batch_line *b = q->lines[i].b;

			if (b->kind != BATCH_HEARTBEAT)
				continue;
			if (nhb++ == 0 || b->hb.seq_high > hb.seq_high)
				hb.seq_high = b->hb.seq_high;
			hb.outbox = b->hb.outbox;
			hb.clock_us = b->hb.clock_us;
		}
		if (nhb > 0) {
			st = ig_heartbeat(q, &hb) == 0 ? LS_HEARTBEAT :
			    LS_UNAVAILABLE;
			for (i = 0; i < n; i++)
				if (q->lines[i].b->kind == BATCH_HEARTBEAT)
					q->lines[i].status = st;
		}
	}
	/* Chunks small enough that both workers share a big request. */
	for (start = 0; start < n; start = i) {
		chunk_lines = 0;
		chunk_bytes = 0;
		for (i = start; i < n && chunk_lines < IG_CHUNK_LINES &&
		    (chunk_lines == 0 || chunk_bytes < IG_CHUNK_BYTES); i++) {
			chunk_lines++;
			chunk_bytes += q->lines[i].b->f.plaintext_len;
		}
		j = calloc(1, sizeof(*j));
		if (j == NULL) {
			/* Resolve the rest as failed here: the request gets 500. */
			size_t k, miss = n - start;

			for (k = start; k < n; k++)
				q->lines[k].status = LS_FAILED;
			if (first != NULL)
				ig_push(ig, first, last);
			if (atomic_fetch_sub(&q->unresolved, miss) == miss)
				ig_finish(q);
			return;
		}
		j->kind = JOB_TOKENS;
		j->owned = 1;
		j->q = q;
		j->from = start;
		j->to = i;
		if (last != NULL)
			last->next = j;
		else
			first = j;
		last = j;
	}
	ig_push(ig, first, last);
}

/* A device's heartbeat (migration 0021): upserted at once on the workers'
 * own connection, newest first; a later one from another gateway wins.
 * 0, or -1: the database is unavailable (the request gets 503). */
static int
ig_heartbeat(ig_req *q, const rec_heartbeat *hb)
{
	ingest *ig = q->ig;
	pg_params p = PG_PARAMS_INIT;
	char at[24], high[24], outbox[24], skew[24], err[512];
	int rc = 0;

	snprintf(at, sizeof(at), "%lld", q->received_at);
	snprintf(high, sizeof(high), "%lld", hb->seq_high);
	snprintf(outbox, sizeof(outbox), "%lld", hb->outbox);
	snprintf(skew, sizeof(skew), "%lld", (hb->clock_us - q->received_at) /
	    1000);
	pg_param_bin(&p, q->t->id, VAULT_ID_BYTES);
	pg_param_text(&p, q->device);
	pg_param_text(&p, at);
	pg_param_text(&p, high);
	pg_param_text(&p, outbox);
	pg_param_text(&p, skew);
	pthread_mutex_lock(&ig->hbmu);
	if (ig->hbconn == NULL)
		ig->hbconn = pg_connect_app(ig->cfg.pg_conninfo,
		    "coffer-gateway-heartbeat", err, sizeof(err));
	if (ig->hbconn == NULL ||
	    pg_exec(ig->hbconn, "INSERT INTO coffer.capture_devices AS d "
	    "(tenant_id, device_id, heartbeat_at, seq_high, outbox, "
	    "clock_skew_ms) VALUES ($1::uuid, $2, 'epoch'::timestamptz + "
	    "$3::int8 * interval '1 microsecond', $4::int8, $5::int8, $6::int8) "
	    "ON CONFLICT (tenant_id, device_id) DO UPDATE SET "
	    "heartbeat_at = EXCLUDED.heartbeat_at, "
	    "seq_high = GREATEST(d.seq_high, EXCLUDED.seq_high), "
	    "outbox = EXCLUDED.outbox, clock_skew_ms = EXCLUDED.clock_skew_ms "
	    "WHERE d.heartbeat_at <= EXCLUDED.heartbeat_at", &p, err,
	    sizeof(err)) != 0) {
		log_warn("ingest: heartbeat not stored: %s", err);
		pg_close(&ig->hbconn);
		rc = -1;
	}
	pthread_mutex_unlock(&ig->hbmu);
	if (rc == 0)
		atomic_fetch_add(&ig->m_heartbeats, 1);
	return rc;
}

static void
ig_tokens(ig_req *q, size_t from, size_t to)
{
	ingest *ig = q->ig;
	wr_item *chain = NULL, **tail = &chain;
	char reason[REC_REASON_MAX];
	size_t i, rejected = 0;

	for (i = from; i < to; i++) {
		ig_line *l = &q->lines[i];

		if (l->b->kind == BATCH_TOO_LARGE) {
			l->status = LS_REJECTED;
			l->reason = strdup("record too large");
			atomic_fetch_add(&ig->m_too_large, 1);
			rejected++;
			continue;
		}
		if (l->b->kind == BATCH_HEARTBEAT) {
			/* stored once for the request by ig_split */
			rejected++;         /* resolved here, not by the writer */
			continue;
		}
		if (l->b->kind == BATCH_REJECTED) {
			/* the network process's rec_check refused it */
			l->status = LS_REJECTED;
			l->reason = strndup(l->b->reason, l->b->reason_len);
			memcpy(l->r.id, l->b->id, l->b->id_len);
			l->r.id[l->b->id_len] = '\0';
			rejected++;
			continue;
		}
		if (rec_tokens(&l->r, &l->b->f, q->bik, q->device,
		    q->device_len, reason, sizeof(reason)) != 0) {
			l->status = LS_REJECTED;
			l->reason = strdup(reason);
			rejected++;
			continue;
		}
		/* Accepted but counted: a sent_at far before receipt is how a
		 * compromised or mis-set device would date records out of a
		 * matter's range (docs: README "Retention, holds and purge"). */
		if (q->received_at - l->r.sent_at_us > IG_BACKDATED_US)
			atomic_fetch_add(&ig->m_backdated, 1);
		l->w.tenant_id = q->t->id;
		l->w.tenant_pk = q->pk;
		l->w.tenant_prev_pk = q->has_prev ? q->prev_pk : NULL;
		l->w.wraps_from_us = q->wraps_from_us;
		l->w.r = &l->r;
		l->w.received_at = q->received_at;
		l->w.done = ig_line_done;
		l->w.next = NULL;
		*tail = &l->w;
		tail = &l->w.next;
	}
	for (i = from; i < to; i++)
		if (q->lines[i].status == LS_REJECTED)
			atomic_fetch_add(&ig->m_rejected, 1);
	/* Rejected lines first: the writer may finish the valid ones (and
	 * with them the request) as soon as they are submitted. */
	if (rejected > 0 &&
	    atomic_fetch_sub(&q->unresolved, rejected) == rejected) {
		ig_finish(q);
		return;
	}
	writer_submit(ig->w, chain);
}

static void *
ig_worker_main(void *arg)
{
	ingest *ig = arg;

	for (;;) {
		ig_job *j;
		int owned;

		pthread_mutex_lock(&ig->jmu);
		while (ig->jhead == NULL && !ig->jstop)
			pthread_cond_wait(&ig->jcv, &ig->jmu);
		j = ig->jhead;
		if (j == NULL) {
			pthread_mutex_unlock(&ig->jmu);
			break;
		}
		ig->jhead = j->next;
		if (ig->jhead == NULL)
			ig->jtail = NULL;
		pthread_mutex_unlock(&ig->jmu);

		/* Split and finish jobs live inside their request, which the
		 * job may free: read what we need first. */
		owned = j->owned;
		switch (j->kind) {
		case JOB_SPLIT:
			ig_split(j->q);
			break;
		case JOB_TOKENS:
			ig_tokens(j->q, j->from, j->to);
			break;
		case JOB_FINISH:
			ig_finish(j->q);
			break;
		default:
			break;
		}
		if (owned)
			free(j);
	}
	return NULL;
}

/* -- public ------------------------------------------------------------------- */

int
ingest_new(ingest **out, const gw_config *cfg, char *err, size_t err_len)
{
	ingest *ig;

	*out = NULL;
	if (vault_init() != 0) {
		snprintf(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	rec_init();
	ig = calloc(1, sizeof(*ig));
	if (ig == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	ig->cfg = *cfg;
	if (ig->cfg.workers == 0)
		ig->cfg.workers = 1;
	if (ig->cfg.node_name[0] == '\0') {
		snprintf(err, err_len, "node_name is not set");
		goto fail;
	}
	if (ig->cfg.keys_dir[0] == '\0') {
		snprintf(err, err_len, "keys_dir is not set");
		goto fail;
	}
	if (keys_load_signing(ig->cfg.signing_key_file, &ig->sign_sk, ig->sign_pk,
	    err, err_len) != 0)
		goto fail;
	if (ig_preload_keys(ig, err, err_len) != 0)
		goto fail;
	if (writer_new(&ig->w, &ig->cfg, ig->sign_sk, ig->sign_pk, err,
	    err_len) != 0)
		goto fail;
	ig->hwm_records = 4 * (size_t)ig->cfg.batch_max_records;
	if (ig->hwm_records < 1000)
		ig->hwm_records = 1000;
	ig->hwm_bytes = 2 * ig->cfg.max_body_bytes;
	pthread_mutex_init(&ig->dmu, NULL);
	pthread_mutex_init(&ig->hbmu, NULL);
	atomic_store(&ig->cap_missing, -1);
	atomic_store(&ig->cap_incomplete, -1);
	atomic_store(&ig->cap_silent, -1);
	atomic_store(&ig->cap_dups, -1);
	util_cond_init_mono(&ig->dcv);
	util_cond_init_mono(&ig->dgcv);
	util_cond_init_mono(&ig->ccv);
	pthread_mutex_init(&ig->jmu, NULL);
	pthread_cond_init(&ig->jcv, NULL);
	*out = ig;
	return 0;
fail:
	ig_preload_free(ig);
	keys_signing_free(&ig->sign_sk);
	free(ig);
	return -1;
}

/* Start-up check of what only the database can tell: this node is
 * registered with the signing key we hold.  An unreachable database is not
 * fatal (the threads keep retrying); a wrong registration is. */
static int
ig_check_node(ingest *ig, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char msg[512];
	int rc = 0;

	if (ig->dconn == NULL)
		return 0;
	p.result_binary = 1;
	pg_param_text(&p, ig->cfg.node_name);
	r = pg_query(ig->dconn, "SELECT signing_public_key FROM coffer.nodes "
	    "WHERE name = $1 AND kind = 'gateway'", &p, msg, sizeof(msg));
	if (r == NULL) {
		log_warn("ingest: cannot check the node registration: %s", msg);
		return 0;
	}
	if (PQntuples(r) != 1) {
		snprintf(err, err_len, "gateway node '%s' is not registered "
		    "(cofferctl node init)", ig->cfg.node_name);
		rc = -1;
	} else if (PQgetlength(r, 0, 0) != VAULT_SIGN_PK_BYTES ||
	    memcmp(PQgetvalue(r, 0, 0), ig->sign_pk, VAULT_SIGN_PK_BYTES) != 0) {
		snprintf(err, err_len, "%s does not hold the signing key registered "
		    "for node '%s'", ig->cfg.signing_key_file, ig->cfg.node_name);
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int
ingest_start(ingest *ig, char *err, size_t err_len)
{
	unsigned i;
	int e;

	if (ig->started)
		return 0;
	if (ig_dir_load(ig) != 0)
		log_warn("ingest: starting without the device list; devices are "
		    "refused until the database answers");
	if (ig_check_node(ig, err, err_len) != 0)
		return -1;
	ig->workers = calloc(ig->cfg.workers, sizeof(*ig->workers));
	if (ig->workers == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (writer_start(ig->w, err, err_len) != 0)
		return -1;
	for (i = 0; i < ig->cfg.workers; i++) {
		e = pthread_create(&ig->workers[i], NULL, ig_worker_main, ig);
		if (e != 0) {
			snprintf(err, err_len, "cannot start worker: %s", strerror(e));
			goto fail;
		}
		ig->nworkers++;
	}
	e = pthread_create(&ig->dthread, NULL, ig_dir_main, ig);
	if (e != 0) {
		snprintf(err, err_len, "cannot start directory thread: %s",
		    strerror(e));
		goto fail;
	}
	if (ig->cfg.capture_metrics_s > 0) {
		e = pthread_create(&ig->cthread, NULL, ig_cap_main, ig);
		if (e != 0)
			log_warn("capture report thread not started: %s",
			    strerror(e));
		else
			ig->cthread_on = 1;
	}
	ig->started = 1;
	return 0;
fail:
	writer_stop(ig->w);
	pthread_mutex_lock(&ig->jmu);
	ig->jstop = 1;
	pthread_cond_broadcast(&ig->jcv);
	pthread_mutex_unlock(&ig->jmu);
	for (i = 0; i < ig->nworkers; i++)
		pthread_join(ig->workers[i], NULL);
	ig->nworkers = 0;
	return -1;
}

int
ingest_peer_check(ingest *ig, const ingest_peer *peer,
    ingest_peer_fault *fault, char *why, size_t why_len)
{
	const ig_tenant *t;
	const ig_dev *d;
	ingest_peer_fault f = INGEST_PEER_DEVICE;
	int rc = -1, k;

	pthread_mutex_lock(&ig->dmu);
	if (!ig->dir_loaded) {
		snprintf(why, why_len, "device registry not loaded (database "
		    "unavailable)");
		ig_dir_request(ig);
		goto out;
	}
	t = ig_tenant_by_name(ig, peer->tenant);
	if (t == NULL) {
		snprintf(why, why_len, "unknown tenant");
		ig_dir_request(ig);
		goto out;
	}
	if (t->bik == NULL) {
		snprintf(why, why_len, "no blind-index key for this tenant on this "
		    "gateway");
		goto out;
	}
	if ((d = ig_device_active(ig, t, peer->device)) == NULL) {
		snprintf(why, why_len, "device not registered or not active");
		/* Newly issued devices need not wait for the timer. */
		ig_dir_request(ig);
		goto out;
	}
	if ((k = ig_device_key(d, peer->fingerprint)) == IG_KEY_RETIRED) {
		f = INGEST_PEER_KEY;
		snprintf(why, why_len, "not the certificate registered for this "
		    "device: replaced by a re-issue (overlap ended)");
		goto out;
	}
	if (k == IG_KEY_OTHER) {
		/* Same tenant CA, same CN, another certificate: one the CA issued
		 * besides the registered one, or the one a re-issue replaced.
		 * The registry is read again soon: a re-issue just done is then
		 * known (the new certificate passes, the old one never again). */
		f = INGEST_PEER_KEY;
		if (d->fpr[0] != '\0')
			snprintf(why, why_len, "not the certificate registered "
			    "for this device (registered %.16s...)", d->fpr);
		else
			snprintf(why, why_len, "not the certificate registered "
			    "for this device (none registered)");
		ig_dir_request(ig);
		goto out;
	}
	f = INGEST_PEER_OK;
	rc = 0;
out:
	pthread_mutex_unlock(&ig->dmu);
	if (fault != NULL)
		*fault = f;
	return rc;
}

void
ingest_submit(ingest *ig, const ingest_peer *peer, char *body,
    size_t body_len, ingest_done_fn done, void *ctx)
{
	batch_limits lim;
	unsigned char *buf = NULL;
	size_t blen = 0;
	char err[160];
	batch b;

	ingest_limits(ig, &lim);
	if (body == NULL)
		body_len = 0;
	if (batch_build(body, body_len, peer->device, strlen(peer->device),
	    &lim, &buf, &blen, err, sizeof(err)) != 0 ||
	    batch_decode(&b, buf, blen, &lim, err, sizeof(err)) != 0) {
		log_error("ingest: %s", err);
		vault_free_wiped(body, body_len);
		atomic_fetch_add(&ig->m_req_500, 1);
		done(ctx, 500, 0, "application/json", NULL, 0);
		return;
	}
	vault_free_wiped(body, body_len);
	ingest_submit_batch(ig, peer, &b, done, ctx);
}

void
ingest_limits(const ingest *ig, batch_limits *lim)
{
	lim->max_body_bytes = ig->cfg.max_body_bytes;
	lim->max_line_bytes = ig->cfg.max_line_bytes;
	lim->max_records = ig->cfg.max_records_per_request;
}

void
ingest_submit_batch(ingest *ig, const ingest_peer *peer, batch *b,
    ingest_done_fn done, void *ctx)
{
	ig_req *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		/* Cannot even queue it: answer here (the only inline path). */
		batch_free(b);
		atomic_fetch_add(&ig->m_req_500, 1);
		done(ctx, 500, 0, "application/json", NULL, 0);
		return;
	}
	q->ig = ig;
	snprintf(q->tenant, sizeof(q->tenant), "%s", peer->tenant);
	snprintf(q->device, sizeof(q->device), "%s", peer->device);
	snprintf(q->fingerprint, sizeof(q->fingerprint), "%s", peer->fingerprint);
	q->device_len = strlen(q->device);
	q->b = *b;
	memset(b, 0, sizeof(*b));
	q->body_len = q->b.body_bytes;
	q->done = done;
	q->ctx = ctx;
	q->received_at = util_now_us();
	atomic_fetch_add(&ig->pending_bytes, q->body_len);
	atomic_fetch_add(&ig->m_bytes_in, q->body_len);
	q->job_split.kind = JOB_SPLIT;
	q->job_split.q = q;
	ig_push1(ig, &q->job_split);
}

int
ingest_busy(ingest *ig)
{
	return writer_queued(ig->w) > ig->hwm_records ||
	    atomic_load(&ig->pending_bytes) > ig->hwm_bytes;
}

void
ingest_reload(ingest *ig)
{
	size_t i;

	pthread_mutex_lock(&ig->dmu);
	for (i = 0; i < ig->ntenants; i++)
		ig->tenants[i]->bik_warned = 0;
	ig->dir_last_us = 0;
	ig_dir_request(ig);
	pthread_mutex_unlock(&ig->dmu);
}

int
ingest_refresh(ingest *ig, unsigned timeout_ms)
{
	unsigned long long mine;
	long long until = util_mono_us() + (long long)timeout_ms * 1000LL;
	struct timespec ts;
	int rc = 0;

	pthread_mutex_lock(&ig->dmu);
	mine = ++ig->dir_req_seq;
	ig->dir_last_us = 0;                  /* no gap: this is not a miss */
	ig_dir_request(ig);
	while (ig->dir_done_seq < mine && !ig->dir_stop) {
		if (util_mono_us() >= until) {
			rc = -1;
			break;
		}
		util_mono_abstime(&ts, until);
		pthread_cond_timedwait(&ig->dgcv, &ig->dmu, &ts);
	}
	pthread_mutex_unlock(&ig->dmu);
	return rc;
}

size_t
ingest_metrics(ingest *ig, char *buf, size_t cap)
{
	size_t off, ndevs, i, pin_bad = 0, expiring;
	time_t soonest;
	char line[96];
	int n, loaded;

	if (cap == 0)
		return 0;
	off = writer_metrics(ig->w, atomic_load(&ig->m_rejected), buf, cap);
	pthread_mutex_lock(&ig->dmu);
	ndevs = ig->ndevs;
	loaded = ig->dir_loaded;
	soonest = ig->dev_soonest;
	expiring = ig->dev_expiring;
	for (i = 0; i < ig->ntenants; i++)
		if (ig->tenants[i]->bik != NULL && !ig->tenants[i]->pin_ok)
			pin_bad++;
	pthread_mutex_unlock(&ig->dmu);
	n = snprintf(buf + off, cap - off,
	    "# HELP coffer_gateway_requests_total Record requests by response "
	    "status.\n# TYPE coffer_gateway_requests_total counter\n"
	    "coffer_gateway_requests_total{code=\"200\"} %llu\n"
	    "coffer_gateway_requests_total{code=\"403\"} %llu\n"
	    "coffer_gateway_requests_total{code=\"413\"} %llu\n"
	    "coffer_gateway_requests_total{code=\"500\"} %llu\n"
	    "coffer_gateway_requests_total{code=\"503\"} %llu\n"
	    "# HELP coffer_gateway_ingest_bytes_total Request body bytes "
	    "received.\n# TYPE coffer_gateway_ingest_bytes_total counter\n"
	    "coffer_gateway_ingest_bytes_total %llu\n"
	    "# HELP coffer_gateway_records_too_large_total Lines over "
	    "max_line_bytes.\n"
	    "# TYPE coffer_gateway_records_too_large_total counter\n"
	    "coffer_gateway_records_too_large_total %llu\n"
	    "# HELP coffer_gateway_records_backdated_total Valid lines whose "
	    "sent_at lies more than 7 days before their receipt.\n"
	    "# TYPE coffer_gateway_records_backdated_total counter\n"
	    "coffer_gateway_records_backdated_total %llu\n"
	    "# HELP coffer_gateway_heartbeats_total Device heartbeats stored.\n"
	    "# TYPE coffer_gateway_heartbeats_total counter\n"
	    "coffer_gateway_heartbeats_total %llu\n"
	    "# HELP coffer_gateway_pending_bytes Request bytes in the pipeline.\n"
	    "# TYPE coffer_gateway_pending_bytes gauge\n"
	    "coffer_gateway_pending_bytes %zu\n"
	    "# HELP coffer_gateway_active_devices Active devices in the cache.\n"
	    "# TYPE coffer_gateway_active_devices gauge\n"
	    "coffer_gateway_active_devices %zu\n"
	    "# HELP coffer_gateway_directory_loaded 1 once the device list was "
	    "read.\n# TYPE coffer_gateway_directory_loaded gauge\n"
	    "coffer_gateway_directory_loaded %d\n"
	    "# HELP coffer_gateway_tenants_pin_mismatch Tenants refused because "
	    "their database keys differ from their pin (or it is missing).\n"
	    "# TYPE coffer_gateway_tenants_pin_mismatch gauge\n"
	    "coffer_gateway_tenants_pin_mismatch %zu\n",
	    atomic_load(&ig->m_req_200), atomic_load(&ig->m_req_403),
	    atomic_load(&ig->m_req_413), atomic_load(&ig->m_req_500),
	    atomic_load(&ig->m_req_503), atomic_load(&ig->m_bytes_in),
	    atomic_load(&ig->m_too_large), atomic_load(&ig->m_backdated),
	    atomic_load(&ig->m_heartbeats), atomic_load(&ig->pending_bytes),
	    ndevs, loaded, pin_bad);
	if (n > 0 && (size_t)n < cap - off)
		off += (size_t)n;
	/* capture completeness (migration 0021), once the report has run */
	if (atomic_load(&ig->cap_missing) >= 0) {
		n = snprintf(buf + off, cap - off,
		    "# HELP coffer_gateway_capture_missing Capture numbers devices "
		    "gave that the archive does not hold (all tenants).\n"
		    "# TYPE coffer_gateway_capture_missing gauge\n"
		    "coffer_gateway_capture_missing %lld\n"
		    "# HELP coffer_gateway_capture_devices_incomplete Devices with "
		    "missing or duplicated capture numbers.\n"
		    "# TYPE coffer_gateway_capture_devices_incomplete gauge\n"
		    "coffer_gateway_capture_devices_incomplete %lld\n"
		    "# HELP coffer_gateway_capture_devices_silent Devices with no "
		    "record and no heartbeat for capture_silence_s, or never.\n"
		    "# TYPE coffer_gateway_capture_devices_silent gauge\n"
		    "coffer_gateway_capture_devices_silent %lld\n"
		    "# HELP coffer_gateway_capture_duplicates Capture numbers "
		    "stored under more than one record id.\n"
		    "# TYPE coffer_gateway_capture_duplicates gauge\n"
		    "coffer_gateway_capture_duplicates %lld\n",
		    (long long)atomic_load(&ig->cap_missing),
		    (long long)atomic_load(&ig->cap_incomplete),
		    (long long)atomic_load(&ig->cap_silent),
		    (long long)atomic_load(&ig->cap_dups));
		if (n > 0 && (size_t)n < cap - off)
			off += (size_t)n;
	}
	/* device certificates, as of the last directory load (migration 0013:
	 * rows without cert_not_after are left out) */
	n = snprintf(buf + off, cap - off,
	    "# HELP coffer_gateway_devices_expiring_30d Active devices whose "
	    "certificate expires within 30 days (or has expired).\n"
	    "# TYPE coffer_gateway_devices_expiring_30d gauge\n"
	    "coffer_gateway_devices_expiring_30d %zu\n", expiring);
	if (n > 0 && (size_t)n < cap - off)
		off += (size_t)n;
	if (x509_until_line(line, sizeof(line),
	    "coffer_gateway_device_cert_expiry_seconds", soonest,
	    time(NULL)) > 0) {
		n = snprintf(buf + off, cap - off,
		    "# HELP coffer_gateway_device_cert_expiry_seconds Seconds "
		    "until the soonest active device certificate expires "
		    "(negative: expired).\n"
		    "# TYPE coffer_gateway_device_cert_expiry_seconds gauge\n%s",
		    line);
		if (n > 0 && (size_t)n < cap - off)
			off += (size_t)n;
	}
	return off;
}

void
ingest_free(ingest **igp)
{
	ingest *ig;
	size_t i;

	if (igp == NULL || *igp == NULL)
		return;
	ig = *igp;
	if (ig->started) {
		pthread_mutex_lock(&ig->dmu);
		ig->dir_stop = 1;
		pthread_cond_broadcast(&ig->dcv);
		pthread_cond_broadcast(&ig->ccv);
		if (ig->ccancel != NULL) {
			char cerr[128];

			(void)PQcancel(ig->ccancel, cerr, sizeof(cerr));
		}
		pthread_mutex_unlock(&ig->dmu);
		pthread_join(ig->dthread, NULL);
		if (ig->cthread_on)
			pthread_join(ig->cthread, NULL);
	}
	/* The writer answers what it still holds as unavailable; the workers
	 * then finish every request before they exit, so each submit still
	 * gets exactly one done. */
	writer_stop(ig->w);
	pthread_mutex_lock(&ig->jmu);
	ig->jstop = 1;
	pthread_cond_broadcast(&ig->jcv);
	pthread_mutex_unlock(&ig->jmu);
	for (i = 0; i < ig->nworkers; i++)
		pthread_join(ig->workers[i], NULL);
	free(ig->workers);
	writer_free(&ig->w);
	pg_close(&ig->dconn);
	pg_close(&ig->hbconn);
	for (i = 0; i < ig->ntenants; i++) {
		keys_bik_free(&ig->tenants[i]->bik);
		free(ig->tenants[i]->pin);
		free(ig->tenants[i]);
	}
	free(ig->tenants);
	ig_preload_free(ig);
	ig_devs_free(ig->devs, ig->ndevs);
	keys_signing_free(&ig->sign_sk);
	pthread_mutex_destroy(&ig->dmu);
	pthread_mutex_destroy(&ig->hbmu);
	pthread_cond_destroy(&ig->dcv);
	pthread_cond_destroy(&ig->ccv);
	pthread_cond_destroy(&ig->dgcv);
	pthread_mutex_destroy(&ig->jmu);
	pthread_cond_destroy(&ig->jcv);
	vault_wipe(ig, sizeof(*ig));
	free(ig);
	*igp = NULL;
}
