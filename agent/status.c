/* agent/status.c — status.json and `coffer-agent status` (status.h).
 *
 * Trusts: status.json only as the daemon's own counters (read back with
 * types checked; a bad file counts as none).  Holds no content: counts,
 * times and the last error (which never carries record content or ids).
 */
#include "agent/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/util.h"

#define STATUS_FILE_MAX (64U * 1024U)

void
status_rfc3339(char *out, size_t cap, long long us)
{
	struct tm tm;
	time_t s;

	if (us <= 0) {
		snprintf(out, cap, "%s", "");
		return;
	}
	s = (time_t)(us / 1000000LL);
	gmtime_r(&s, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, us % 1000000LL);
}

static json_t *
status_json(long pid, const agent_counters *c, const obx_stats *st)
{
	char now[80], last[80], lerr[80];
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	status_rfc3339(now, sizeof(now), util_now_us());
	status_rfc3339(last, sizeof(last), st->last_receipt_us);
	status_rfc3339(lerr, sizeof(lerr), c->last_error_us);
	json_object_set_new(o, "pid", json_integer(pid));
	json_object_set_new(o, "updated_at", json_string(now));
	json_object_set_new(o, "pending", json_integer((json_int_t)st->pending));
	json_object_set_new(o, "pending_bytes",
	    json_integer((json_int_t)st->pending_bytes));
	json_object_set_new(o, "delivered", json_integer((json_int_t)st->receipts));
	json_object_set_new(o, "rejected_total",
	    json_integer((json_int_t)c->rejected_total));
	json_object_set_new(o, "outbox_full", json_boolean(c->outbox_full));
	json_object_set_new(o, "outbox_full_total",
	    json_integer((json_int_t)c->outbox_full_total));
	json_object_set_new(o, "retries_total",
	    json_integer((json_int_t)c->retries_total));
	json_object_set_new(o, "last_error", json_string(c->last_error));
	json_object_set_new(o, "last_error_at", json_string(lerr));
	json_object_set_new(o, "last_receipt_at", json_string(last));
	json_object_set_new(o, "capture_seq_high",
	    json_integer((json_int_t)st->seq_high));
	return o;
}

int
status_write(const char *state_dir, long pid, const agent_counters *c,
    const obx_stats *st, char *err, size_t err_len)
{
	char path[4200];
	json_t *o = status_json(pid, c, st);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = -1;

	if (text == NULL) {
		snprintf(err, err_len, "out of memory");
	} else {
		size_t n = strlen(text);

		text[n] = '\n';
		snprintf(path, sizeof(path), "%s/status.json", state_dir);
		rc = util_write_file(path, text, n + 1, 0600, 1, err, err_len);
	}
	free(text);
	json_decref(o);
	return rc;
}

static unsigned long long
status_u64(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) >= 0 ?
	    (unsigned long long)json_integer_value(v) : 0;
}

static json_t *
status_load(const char *state_dir)
{
	char path[4200], err[256];
	unsigned char *data = NULL;
	size_t len = 0;
	json_t *o;

	snprintf(path, sizeof(path), "%s/status.json", state_dir);
	if (util_read_file(path, STATUS_FILE_MAX, &data, &len, err,
	    sizeof(err)) != 0)
		return NULL;
	o = json_loadb((const char *)data, len, 0, NULL);
	free(data);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

void
status_read(const char *state_dir, agent_counters *c, long *pid)
{
	json_t *o = status_load(state_dir), *e;

	memset(c, 0, sizeof(*c));
	*pid = 0;
	if (o == NULL)
		return;
	c->rejected_total = status_u64(o, "rejected_total");
	c->outbox_full_total = status_u64(o, "outbox_full_total");
	c->retries_total = status_u64(o, "retries_total");
	c->outbox_full = json_is_true(json_object_get(o, "outbox_full"));
	*pid = (long)status_u64(o, "pid");
	e = json_object_get(o, "last_error");
	if (json_is_string(e))
		snprintf(c->last_error, sizeof(c->last_error), "%s",
		    json_string_value(e));
	e = json_object_get(o, "last_error_at");
	if (json_is_string(e))
		snprintf(c->last_error_at, sizeof(c->last_error_at), "%s",
		    json_string_value(e));
	json_decref(o);
}

/* The daemon holds agent.lock's flock while it runs (agent/outbox.c):
 * a shared lock refused means it runs, whatever pid it had. */
static int
status_daemon_running(const char *state_dir)
{
	char path[4200];
	int fd, running = 0;

	snprintf(path, sizeof(path), "%s/agent.lock", state_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0)
		running = errno == EWOULDBLOCK;
	close(fd);
	return running;
}

int
status_print(const char *state_dir, unsigned long long rejected_lines,
    int json, char *err, size_t err_len)
{
	outbox *ob = NULL;
	obx_stats st;
	agent_counters c;
	json_t *o, *d;
	char last[80], *text;
	long pid = 0;
	int running;

	if (obx_open(&ob, state_dir, 1, err, err_len) != 0)
		return -1;
	obx_stats_get(ob, &st);
	obx_close(&ob);
	status_read(state_dir, &c, &pid);
	running = status_daemon_running(state_dir);
	(void)pid;
	status_rfc3339(last, sizeof(last), st.last_receipt_us);
	if (json) {
		o = json_object();
		if (o == NULL) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		json_object_set_new(o, "running", json_boolean(running));
		json_object_set_new(o, "pending", json_integer((json_int_t)st.pending));
		json_object_set_new(o, "pending_bytes",
		    json_integer((json_int_t)st.pending_bytes));
		json_object_set_new(o, "delivered",
		    json_integer((json_int_t)st.receipts));
		json_object_set_new(o, "rejected",
		    json_integer((json_int_t)rejected_lines));
		json_object_set_new(o, "rejected_total",
		    json_integer((json_int_t)c.rejected_total));
		json_object_set_new(o, "last_receipt_at", json_string(last));
		json_object_set_new(o, "last_error", json_string(c.last_error));
		json_object_set_new(o, "last_error_at", json_string(c.last_error_at));
		json_object_set_new(o, "capture_seq_high",
		    json_integer((json_int_t)st.seq_high));
		json_object_set_new(o, "outbox_full", json_boolean(c.outbox_full));
		json_object_set_new(o, "outbox_full_total",
		    json_integer((json_int_t)c.outbox_full_total));
		json_object_set_new(o, "retries_total",
		    json_integer((json_int_t)c.retries_total));
		d = json_object();
		json_object_set_new(d, "outbox_torn_tail", json_boolean(st.outbox_torn));
		json_object_set_new(d, "receipts_torn_tail",
		    json_boolean(st.receipts_torn));
		json_object_set_new(o, "journal", d);
		text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
		if (text == NULL) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		printf("%s\n", text);
		free(text);
		return 0;
	}
	printf("daemon:            %s\n", running ? "running" : "not running");
	printf("pending:           %zu records (%zu bytes)\n", st.pending,
	    st.pending_bytes);
	printf("delivered:         %llu (receipts kept)\n",
	    (unsigned long long)st.receipts);
	printf("rejected:          %llu (lines in rejected/)\n", rejected_lines);
	printf("last receipt:      %s\n", last[0] != '\0' ? last : "none");
	if (c.last_error[0] != '\0')
		printf("last error:        %s (at %s)\n", c.last_error,
		    c.last_error_at[0] != '\0' ? c.last_error_at : "?");
	else
		printf("last error:        none\n");
	printf("capture_seq high:  %llu\n", (unsigned long long)st.seq_high);
	printf("outbox full:       %s (%llu times)\n", c.outbox_full ? "yes" : "no",
	    c.outbox_full_total);
	printf("retries:           %llu\n", c.retries_total);
	return 0;
}
