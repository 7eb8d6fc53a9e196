/* agent/daemon.c — the loop of coffer-agent run (daemon.h).
 *
 * One thread.  Each turn: take from the spool while the outbox has room
 * (agent/spool.h), send the oldest pending records as one request when
 * no back-off is running, heartbeat when due, refresh status.json, sleep
 * until the next of these (a signal cuts the sleep short).
 *
 * Answers to POST /v1/records (README "Ingest protocol"):
 *   200       one answer line per record, in order: stored / duplicate
 *             with a receipt (kept in receipts.journal, then the record
 *             leaves the outbox), rejected with a reason (the record goes
 *             to rejected/gateway.ndjson with it and leaves the outbox).
 *             An answer that does not account for every record is
 *             treated like a 5xx: nothing is taken from it, the batch is
 *             sent again (stored ones come back as duplicates).
 *   400, 413  the request as a whole: a batch of several is split (the
 *             next try sends half as many); a single record so refused is
 *             rejected with the gateway's reason.
 *   429, 503, other 5xx, no answer
 *             back-off: jittered exponential from retry_min_ms to
 *             retry_max_s, at least Retry-After when given.
 *   other 4xx (403 device not authorised, 404...)
 *             not the record's fault: logged, back-off, tried again.
 * Any journal write that fails ends the daemon (exit 1): memory is then
 * ahead of the disk, and the files are the truth a restart starts from.
 *
 * Logs counts, spool file names, HTTP statuses and the gateway's fixed
 * rejection reasons (made printable, capped) — never a record's content,
 * its id or a participant.
 */
#include "agent/daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "agent/client.h"
#include "agent/outbox.h"
#include "agent/spool.h"
#include "agent/status.h"
#include "common/log.h"
#include "common/util.h"
#include "vault/mem.h"

#define AG_RECEIPT_MAX   300U
#define AG_STATUS_EVERY  1000000LL      /* µs between status.json writes */
#define AG_RETRY_AFTER_MAX 3600L
#define AG_SHOWN         101U           /* a peer string in a log line */

typedef struct agent_state {
	const agent_config    *cfg;
	volatile sig_atomic_t *stop;
	outbox                *ob;
	agent_client          *cl;
	agent_counters         c;
	unsigned               attempt;         /* failures in a row */
	long long              next_send_us;    /* monotonic */
	long long              next_hb_us;
	long long              next_status_us;
	size_t                 shrink;          /* batch cap after 400/413 */
	int                    dirty;
	int                    hb_fail_logged;
	int                    seq_hint_logged;
	int                    fatal;
	unsigned char         *body;
	size_t                 body_len, body_cap;
} agent_state;

int
agent_line_out(unsigned char **buf, size_t *len, size_t *cap,
    const unsigned char *line, size_t line_len, unsigned long long seq,
    int with_seq)
{
	char pre[48];
	size_t pl = 0, need, skip = 0;

	if (with_seq) {
		/* lines are stored without leading blanks: line[0] is '{' */
		if (line_len < 2 || line[0] != '{')
			return -1;
		pl = (size_t)snprintf(pre, sizeof(pre), "{\"capture_seq\":%llu,",
		    seq);
		skip = 1;
	}
	need = pl + line_len - skip + 1;
	if (*cap - *len < need) {
		size_t nc = *cap == 0 ? 65536 : *cap;
		unsigned char *p;

		while (nc - *len < need)
			nc *= 2;
		if ((p = vault_grow(*buf, *len, *cap, nc)) == NULL)
			return -1;
		*buf = p;
		*cap = nc;
	}
	memcpy(*buf + *len, pre, pl);
	memcpy(*buf + *len + pl, line + skip, line_len - skip);
	(*buf)[*len + need - 1] = '\n';
	*len += need;
	return 0;
}

static void
ag_error(agent_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ag_error(agent_state *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->c.last_error, sizeof(s->c.last_error), fmt, ap);
	va_end(ap);
	s->c.last_error_us = util_now_us();
	s->dirty = 1;
	log_warn("%s", s->c.last_error);
}

static void
ag_backoff(agent_state *s, long retry_after_s)
{
	unsigned long long base = s->cfg->retry_min_ms, max =
	    1000ULL * s->cfg->retry_max_s, d;
	unsigned sh = s->attempt < 20 ? s->attempt : 20;

	d = base << sh;
	if (d > max)
		d = max;
	/* full jitter over the upper half: many agents do not return in step */
	d = d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1));
	if (retry_after_s > 0) {
		if (retry_after_s > AG_RETRY_AFTER_MAX)
			retry_after_s = AG_RETRY_AFTER_MAX;
		if (d < (unsigned long long)retry_after_s * 1000ULL)
			d = (unsigned long long)retry_after_s * 1000ULL;
	}
	s->attempt++;
	s->c.retries_total++;
	s->dirty = 1;
	s->next_send_us = util_mono_us() + (long long)d * 1000LL;
}

static void
ag_status(agent_state *s, int force)
{
	char err[256];
	obx_stats st;
	long long now = util_mono_us();

	if (!force && (!s->dirty || now < s->next_status_us))
		return;
	obx_stats_get(s->ob, &st);
	if (status_write(s->cfg->state_dir, (long)getpid(), &s->c, &st, err,
	    sizeof(err)) != 0)
		log_warn("status: %s", err);
	s->dirty = 0;
	s->next_status_us = now + AG_STATUS_EVERY;
}

/* The id of a stored line (validated at intake). */
static json_t *
ag_id(const obx_rec *r)
{
	json_t *j = json_loadb((const char *)r->data, r->len, 0, NULL);
	json_t *id = json_incref(json_object_get(j, "id"));

	json_decref(j);
	return id;
}

static int
ag_keep_receipt(agent_state *s, const obx_rec *r, const char *status,
    const char *receipt, char *err, size_t err_len)
{
	char at[80];
	long long now = util_now_us();
	json_t *o = json_object();
	char *text;
	int rc;

	status_rfc3339(at, sizeof(at), now);
	json_object_set_new(o, "capture_seq", json_integer((json_int_t)r->seq));
	json_object_set_new(o, "id", ag_id(r));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "receipt", json_string(receipt));
	json_object_set_new(o, "at", json_string(at));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	rc = obx_receipt(s->ob, r->seq, text, strlen(text), now, err, err_len);
	vault_wipe(text, strlen(text));
	free(text);
	return rc;
}

static int
ag_reject(agent_state *s, const obx_rec *r, const char *why, char *err,
    size_t err_len)
{
	char shown[AG_SHOWN];

	log_printable(shown, sizeof(shown), why, strlen(why));
	if (spool_reject_write(s->cfg, "gateway.ndjson", NULL, 0, r->seq, shown,
	    r->data, r->len, err, err_len) != 0)
		return -1;
	s->c.rejected_total++;
	s->dirty = 1;
	return obx_done(s->ob, r->seq, 'r', err, err_len);
}

typedef struct ag_answer {
	int         ok;             /* 0 none yet, 1 stored/duplicate, 2 rejected */
	const char *status;
	const char *receipt;
	const char *error;
	const char *id;             /* echoed by the gateway when printable */
	size_t      id_len;
} ag_answer;

/* Match a 200 answer to the batch: every record answered exactly once,
 * in range, with a receipt or a reason.  0 or -1 (the answer is not
 * used at all). */
static int
ag_parse_answer(const client_resp *r, size_t n, ag_answer *ans, json_t **keep)
{
	const char *p = (const char *)r->body, *end = p + r->len;
	size_t got = 0;

	*keep = json_array();
	if (*keep == NULL || r->body == NULL)
		return -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		json_t *j, *line, *st, *rc, *er, *id;
		json_int_t k;

		if (ll > 0) {
			j = json_loadb(p, ll, JSON_REJECT_DUPLICATES, NULL);
			line = json_object_get(j, "line");
			st = json_object_get(j, "status");
			rc = json_object_get(j, "receipt");
			er = json_object_get(j, "error");
			id = json_object_get(j, "id");
			if (j == NULL || !json_is_integer(line) || !json_is_string(st) ||
			    json_array_append_new(*keep, j) != 0)
				return -1;
			k = json_integer_value(line);
			if (k < 1 || (size_t)k > n || ans[k - 1].ok != 0)
				return -1;
			if (json_is_string(id)) {
				ans[k - 1].id = json_string_value(id);
				ans[k - 1].id_len = json_string_length(id);
			}
			if ((strcmp(json_string_value(st), "stored") == 0 ||
			    strcmp(json_string_value(st), "duplicate") == 0) &&
			    json_is_string(rc) && json_string_length(rc) > 0 &&
			    json_string_length(rc) < AG_RECEIPT_MAX) {
				ans[k - 1].ok = 1;
				ans[k - 1].status = json_string_value(st);
				ans[k - 1].receipt = json_string_value(rc);
			} else if (strcmp(json_string_value(st), "rejected") == 0) {
				ans[k - 1].ok = 2;
				ans[k - 1].error = json_is_string(er) ?
				    json_string_value(er) : "rejected";
			} else {
				return -1;
			}
			got++;
		}
		p += ll + 1;
	}
	return got == n ? 0 : -1;
}

/* The "error" of a JSON error answer, or a default. */
static void
ag_error_text(const client_resp *r, char *out, size_t cap)
{
	json_t *j = r->body != NULL ? json_loadb((const char *)r->body, r->len,
	    0, NULL) : NULL;
	json_t *e = json_object_get(j, "error");

	if (json_is_string(e))
		log_printable(out, cap, json_string_value(e), json_string_length(e));
	else
		snprintf(out, cap, "HTTP %ld", r->status);
	json_decref(j);
}

static void
ag_send(agent_state *s)
{
	const agent_config *cfg = s->cfg;
	obx_rec **recs;
	size_t n, i, max_n = cfg->batch_max_records, stored = 0, dup = 0, rej = 0;
	client_resp r;
	ag_answer *ans = NULL;
	json_t *keep = NULL;
	char err[512], why[AG_SHOWN];

	if (s->shrink > 0 && s->shrink < max_n)
		max_n = s->shrink;
	obx_batch(s->ob, max_n, cfg->batch_max_bytes, &recs, &n);
	if (n == 0)
		return;
	s->body_len = 0;
	for (i = 0; i < n; i++)
		if (agent_line_out(&s->body, &s->body_len, &s->body_cap,
		    recs[i]->data, recs[i]->len, (unsigned long long)recs[i]->seq,
		    cfg->capture_seq) != 0) {
			log_error("out of memory building a request");
			s->fatal = 1;
			return;
		}
	client_post(s->cl, "/v1/records", "application/x-ndjson", s->body,
	    s->body_len, &r);
	vault_wipe(s->body, s->body_len);
	if (*s->stop && r.status == 0)
		goto out;
	if (r.status == 200) {
		if ((ans = calloc(n, sizeof(*ans))) == NULL ||
		    ag_parse_answer(&r, n, ans, &keep) != 0) {
			ag_error(s, "gateway: a 200 answer that does not account for "
			    "each of the %zu records; sending them again", n);
			ag_backoff(s, -1);
			goto out;
		}
		/* an answer line that names another record than ours: the
		 * answer is not used (a receipt must be for its own record) */
		for (i = 0; i < n; i++) {
			json_t *mine = ans[i].id != NULL ? ag_id(recs[i]) : NULL;
			int same = ans[i].id == NULL || (json_is_string(mine) &&
			    json_string_length(mine) == ans[i].id_len &&
			    memcmp(json_string_value(mine), ans[i].id,
			    ans[i].id_len) == 0);

			json_decref(mine);
			if (!same) {
				ag_error(s, "gateway: answer line %zu names another "
				    "record; sending the batch again", i + 1);
				ag_backoff(s, -1);
				goto out;
			}
		}
		for (i = 0; i < n; i++)
			if (ans[i].ok == 1 && ag_keep_receipt(s, recs[i], ans[i].status,
			    ans[i].receipt, err, sizeof(err)) != 0)
				goto fatal;
		/* receipts fsync'd before any DONE (obx_sync's order) */
		for (i = 0; i < n; i++) {
			if (ans[i].ok == 1) {
				if (ans[i].status[0] == 's')
					stored++;
				else
					dup++;
				if (obx_done(s->ob, recs[i]->seq, 'd', err, sizeof(err)) != 0)
					goto fatal;
			} else {
				rej++;
				log_warn("gateway rejected a record (capture_seq %llu): "
				    "%.100s; kept in rejected/gateway.ndjson",
				    (unsigned long long)recs[i]->seq,
				    log_printable(why, sizeof(why), ans[i].error,
				    strlen(ans[i].error)));
				if (cfg->capture_seq && !s->seq_hint_logged &&
				    strcmp(ans[i].error, "unknown field") == 0) {
					/* the likely cause, once: a gateway older than
					 * the capture_seq field rejects every record */
					log_error("the gateway rejects records with "
					    "'unknown field' while capture_seq = yes: a "
					    "gateway that does not know capture_seq yet "
					    "needs capture_seq = no here");
					s->seq_hint_logged = 1;
				}
				if (ag_reject(s, recs[i], ans[i].error, err, sizeof(err)) != 0)
					goto fatal;
			}
		}
		if (obx_sync(s->ob, err, sizeof(err)) != 0 ||
		    obx_compact(s->ob, 0, err, sizeof(err)) != 0)
			goto fatal;
		s->c.delivered_run += stored + dup;
		s->attempt = 0;
		s->shrink = 0;
		s->next_send_us = 0;
		s->dirty = 1;
		log_info("delivered %zu records (%zu stored, %zu duplicate, %zu "
		    "rejected)", n, stored, dup, rej);
		goto out;
	}
	if ((r.status == 400 || r.status == 413) && n > 1) {
		s->shrink = n / 2;
		ag_error(s, "gateway: HTTP %ld for a batch of %zu records; trying "
		    "%zu at a time", r.status, n, s->shrink);
		goto out;
	}
	if (r.status == 400 || r.status == 413) {
		ag_error_text(&r, why, sizeof(why));
		log_warn("gateway refused a single record (capture_seq %llu) with "
		    "HTTP %ld: %s; kept in rejected/gateway.ndjson",
		    (unsigned long long)recs[0]->seq, r.status, why);
		if (ag_reject(s, recs[0], why, err, sizeof(err)) != 0 ||
		    obx_sync(s->ob, err, sizeof(err)) != 0)
			goto fatal;
		s->shrink = 0;
		goto out;
	}
	if (r.status == 0)
		ag_error(s, "gateway: %s; retrying", r.error);
	else {
		ag_error_text(&r, why, sizeof(why));
		ag_error(s, "gateway: HTTP %ld (%s)%s; retrying", r.status, why,
		    r.retry_after_s > 0 ? " with Retry-After" : "");
	}
	ag_backoff(s, r.retry_after_s);
	goto out;
fatal:
	log_error("journal: %s", err);
	s->fatal = 1;
out:
	json_decref(keep);
	free(ans);
	client_resp_clear(&r);
}

/* The heartbeat is one line of the ingest protocol (README "Ingest
 * protocol"): {"heartbeat":{"seq_high","outbox","clock"}}, answered
 * {"line":1,"status":"heartbeat"} once the gateway stored it. */
static void
ag_heartbeat(agent_state *s)
{
	char body[256], clock[80];
	obx_stats st;
	client_resp r;
	int n, stored;

	obx_stats_get(s->ob, &st);
	status_rfc3339(clock, sizeof(clock), util_now_us());
	/* seconds are what RFC 3339 needs; the fraction is kept */
	n = snprintf(body, sizeof(body), "{\"heartbeat\":{\"seq_high\":%llu,"
	    "\"outbox\":%zu,\"clock\":\"%s\"}}\n",
	    (unsigned long long)st.seq_high, st.pending, clock);
	client_post(s->cl, "/v1/records", "application/x-ndjson",
	    (const unsigned char *)body, (size_t)n, &r);
	stored = r.status == 200 && r.body != NULL &&
	    strstr((const char *)r.body, "\"status\":\"heartbeat\"") != NULL;
	if (stored) {
		s->hb_fail_logged = 0;
	} else if (!s->hb_fail_logged) {
		/* a gateway without heartbeats answers the line "rejected" */
		log_warn("heartbeat: not stored (%s%ld); carrying on, not logged "
		    "again until one is", r.status == 0 ? "no answer, " :
		    "HTTP ", r.status);
		s->hb_fail_logged = 1;
	}
	client_resp_clear(&r);
	s->next_hb_us = util_mono_us() + 1000000LL * s->cfg->heartbeat_s;
}

static void
ag_sleep_until(const agent_state *s, long long at_us)
{
	long long d = at_us - util_mono_us();
	struct timespec ts;

	if (d <= 0 || *s->stop)
		return;
	ts.tv_sec = (time_t)(d / 1000000LL);
	ts.tv_nsec = (long)(d % 1000000LL) * 1000L;
	(void)nanosleep(&ts, NULL);     /* EINTR: a signal, look again */
}

int
agent_run(const agent_config *cfg, volatile sig_atomic_t *stop)
{
	agent_state s;
	char err[512];
	long pid;
	long long next_poll = 0;
	obx_stats st;
	int rc = 1;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.stop = stop;
	if (geteuid() == 0)
		log_warn("running as root: coffer-agent needs no privilege; run it "
		    "as the user that owns state_dir and the key");
	if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
		log_error("state_dir %s: %s", cfg->state_dir, strerror(errno));
		return 1;
	}
	status_read(cfg->state_dir, &s.c, &pid);
	s.c.outbox_full = 0;
	if (obx_open(&s.ob, cfg->state_dir, 0, err, sizeof(err)) != 0) {
		log_error("state_dir %s: %s", cfg->state_dir, err);
		return 1;
	}
	if (client_new(&s.cl, cfg, stop, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	obx_stats_get(s.ob, &st);
	log_info("started: gateway=%s spool=%s state=%s pending=%zu "
	    "delivered=%llu capture_seq_high=%llu capture_seq=%s heartbeat=%s",
	    cfg->gateway_url, cfg->spool_dir, cfg->state_dir, st.pending,
	    (unsigned long long)st.receipts, (unsigned long long)st.seq_high,
	    cfg->capture_seq ? "yes" : "no", cfg->heartbeat ? "yes" : "no");
	if (st.outbox_torn || st.receipts_torn)
		log_warn("journal: a torn tail (crash during a write) was cut; "
		    "nothing acknowledged was in it");
	s.next_hb_us = util_mono_us();
	s.dirty = 1;
	while (!*stop && !s.fatal) {
		long long now = util_mono_us(), wake;

		if (now >= next_poll) {
			spool_pass p;

			if (spool_intake(cfg, s.ob, &p, err, sizeof(err)) != 0) {
				log_error("spool: %s", err);
				break;
			}
			if (p.taken + p.rejected > 0)
				s.dirty = 1;
			s.c.rejected_total += p.rejected;
			obx_stats_get(s.ob, &st);
			if (p.full && !s.c.outbox_full) {
				s.c.outbox_full = 1;
				s.c.outbox_full_total++;
				log_warn("outbox full (%zu records, %zu bytes; "
				    "outbox_max_records=%u, outbox_max_bytes=%zu): spool "
				    "intake paused until deliveries make room; nothing is "
				    "lost", st.pending, st.pending_bytes,
				    cfg->outbox_max_records, cfg->outbox_max_bytes);
			} else if (!p.full && s.c.outbox_full) {
				s.c.outbox_full = 0;
				log_info("outbox has room again (%zu records): spool "
				    "intake resumed", st.pending);
			}
			next_poll = now + (p.more ? 0 : 1000LL * cfg->spool_poll_ms);
		}
		obx_stats_get(s.ob, &st);
		if (st.pending > 0 && util_mono_us() >= s.next_send_us) {
			ag_send(&s);
			if (s.c.outbox_full)
				next_poll = 0;      /* room may have been made */
		}
		if (cfg->heartbeat && util_mono_us() >= s.next_hb_us)
			ag_heartbeat(&s);
		ag_status(&s, 0);
		obx_stats_get(s.ob, &st);
		wake = next_poll;
		if (st.pending > 0 && s.next_send_us < wake)
			wake = s.next_send_us;
		if (cfg->heartbeat && s.next_hb_us < wake)
			wake = s.next_hb_us;
		if (s.dirty && s.next_status_us < wake)
			wake = s.next_status_us;
		ag_sleep_until(&s, wake);
	}
	rc = s.fatal || !*stop ? 1 : 0;     /* else a spool error ended it */
out:
	ag_status(&s, 1);
	obx_stats_get(s.ob, &st);
	log_info("exit: pending=%zu delivered=%llu capture_seq_high=%llu",
	    st.pending, (unsigned long long)st.receipts,
	    (unsigned long long)st.seq_high);
	client_free(&s.cl);
	vault_free_wiped(s.body, s.body_cap);
	obx_close(&s.ob);
	return rc;
}
