/* common/pg.c — libpq helpers.
 *
 * Trusts: the server's answers (it is our database), the caller's SQL text
 * (constants in our source; values always travel as $n parameters).
 * Does not trust: error text to be free of data.  Only the server's primary
 * message and SQLSTATE reach the caller's buffer, flattened to one printable
 * line; DETAIL/HINT/CONTEXT (which quote key values) and the conninfo (which
 * may hold a password) never do.
 *
 * Every PGresult is cleared on every path; a result handed back to the caller
 * is the caller's to clear.
 */
#include "common/pg.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

static _Thread_local char pg_sqlstate[PG_SQLSTATE_SIZE];

/* Copy src into dst as one printable line: control characters become
 * spaces, runs of spaces collapse, bytes outside ASCII become '?'. */
static void
pg_flatten(char *dst, size_t dst_len, const char *src)
{
	size_t o = 0;
	int space = 1;   /* also drops leading blanks */

	if (dst_len == 0)
		return;
	for (; src != NULL && *src != '\0' && o + 1 < dst_len; src++) {
		unsigned char ch = (unsigned char)*src;

		if (ch < 0x20 || ch == ' ' || ch == 0x7f) {
			if (!space)
				dst[o++] = ' ';
			space = 1;
			continue;
		}
		dst[o++] = ch < 0x7f ? (char)ch : '?';
		space = 0;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

static void
pg_set_state(const char *state)
{
	snprintf(pg_sqlstate, sizeof(pg_sqlstate), "%s", state != NULL ? state : "");
}

/* Fill err (and the thread's SQLSTATE) from a failed result, or from the
 * connection when there is no result or it carries no primary message. */
static void
pg_error(PGconn *c, const PGresult *r, char *err, size_t err_len)
{
	const char *primary = NULL, *state = NULL;
	char line[512];

	if (r != NULL) {
		primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	}
	if (primary == NULL)
		primary = c != NULL ? PQerrorMessage(c) : "no connection";
	pg_flatten(line, sizeof(line), primary);
	if (line[0] == '\0')
		snprintf(line, sizeof(line), "unknown error");
	if (state == NULL && (c == NULL || PQstatus(c) != CONNECTION_OK))
		state = PG_SQLSTATE_CONNECTION_FAILURE;
	pg_set_state(state);
	if (state != NULL)
		snprintf(err, err_len, "%s (SQLSTATE %s)", line, state);
	else
		snprintf(err, err_len, "%s", line);
}

const char *
pg_last_sqlstate(void)
{
	return pg_sqlstate;
}

int
pg_last_sqlstate_is(const char *state)
{
	return state != NULL && strcmp(pg_sqlstate, state) == 0;
}

const char *
pg_result_sqlstate(const PGresult *r)
{
	const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

/* -- parameters ------------------------------------------------------------ */

static void
pg_param_add(pg_params *p, const char *value, int len, int format)
{
	if (p->n < 0 || p->n >= PG_PARAMS_MAX) {
		p->overflow = 1;
		return;
	}
	p->values[p->n] = value;
	p->lengths[p->n] = len;
	p->formats[p->n] = format;
	p->n++;
}

char *
pg_bytea_array(const unsigned char *items, size_t item_len, size_t n)
{
	size_t i, off = 0, each;
	char *s;

	/* "\\x" + hex + quotes + comma */
	if (item_len > (SIZE_MAX - 8) / 2)
		return NULL;
	each = 2 * item_len + 8;
	if (n > (SIZE_MAX - 3) / each || (s = malloc(n * each + 3)) == NULL)
		return NULL;
	s[off++] = '{';
	for (i = 0; i < n; i++) {
		if (i > 0)
			s[off++] = ',';
		memcpy(s + off, "\"\\\\x", 4);
		off += 4;
		util_hex(s + off, items + i * item_len, item_len);
		off += 2 * item_len;
		s[off++] = '"';
	}
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

char *
pg_text_array(const char *const *items, size_t n)
{
	size_t i, off = 0, cap = 3, k;
	const char *c;
	char *s;

	for (i = 0; i < n; i++) {
		k = strlen(items[i]);
		if (k > (SIZE_MAX - cap - 3) / 2)
			return NULL;
		cap += 2 * k + 3;                /* escapes, quotes, comma */
	}
	if ((s = malloc(cap)) == NULL)
		return NULL;
	s[off++] = '{';
	for (i = 0; i < n; i++) {
		if (i > 0)
			s[off++] = ',';
		s[off++] = '"';
		for (c = items[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				s[off++] = '\\';
			s[off++] = *c;
		}
		s[off++] = '"';
	}
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

void
pg_param_text(pg_params *p, const char *s)
{
	pg_param_add(p, s, 0, 0);
}

void
pg_param_bin(pg_params *p, const void *data, size_t len)
{
	if (len > (size_t)INT_MAX || (data == NULL && len > 0)) {
		p->overflow = 1;
		return;
	}
	/* A zero-length bytea still needs a non-NULL pointer (NULL is SQL NULL). */
	pg_param_add(p, data != NULL ? (const char *)data : "", (int)len, 1);
}

void
pg_param_null(pg_params *p)
{
	pg_param_add(p, NULL, 0, 0);
}

/* -- connections ----------------------------------------------------------- */

/* Server messages below WARNING (NOTICE: "relation already exists,
 * skipping", …) are noise for a daemon; warnings are logged, primary text
 * only, because CONTEXT/DETAIL can quote data. */
static void
pg_notice(void *arg, const PGresult *r)
{
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	char line[512];

	(void)arg;
	if (sev == NULL || strcmp(sev, "WARNING") != 0)
		return;
	pg_flatten(line, sizeof(line),
	    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	log_warn("postgres: %s", line);
}

PGconn *
pg_connect_app(const char *conninfo, const char *app_name, char *err,
    size_t err_len)
{
	const char *kw[9], *val[9];
	char line[512], msg[600];
	PGconn *c;
	int i = 0;

	pg_set_state("");
	/* Order matters with expand_dbname: later entries override earlier
	 * ones, so defaults go before the caller's conninfo and the explicit
	 * application name after it. */
	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		kw[i] = "connect_timeout";
		val[i++] = "10";
	}
	/* With a multi-host conninfo (a Patroni cluster: README, "Replication
	 * and failover") only the primary will do: libpq skips read-only
	 * servers, here and on every reconnect. */
	if (getenv("PGTARGETSESSIONATTRS") == NULL) {
		kw[i] = "target_session_attrs";
		val[i++] = "read-write";
	}
	kw[i] = "client_encoding";
	val[i++] = "UTF8";
	kw[i] = "fallback_application_name";
	val[i++] = program_invocation_short_name;
	if (conninfo != NULL && conninfo[0] != '\0') {
		kw[i] = "dbname";
		val[i++] = conninfo;
	}
	if (app_name != NULL && app_name[0] != '\0') {
		kw[i] = "application_name";
		val[i++] = app_name;
	}
	kw[i] = NULL;
	val[i] = NULL;

	c = PQconnectdbParams(kw, val, 1);
	if (c == NULL) {
		pg_set_state(PG_SQLSTATE_CONNECTION_FAILURE);
		snprintf(err, err_len, "cannot connect to PostgreSQL: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		/* PQerrorMessage names the host/socket and user, never the
		 * password; the conninfo string itself is not repeated. */
		pg_flatten(line, sizeof(line), PQerrorMessage(c));
		pg_set_state(PG_SQLSTATE_CONNECTION_FAILURE);
		snprintf(err, err_len, "cannot connect to PostgreSQL: %s", line);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeReceiver(c, pg_notice, NULL);
	if (pg_exec(c, "SET search_path = coffer, pg_catalog", NULL, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "cannot set search_path: %s", msg);
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGconn *
pg_connect(const char *conninfo, char *err, size_t err_len)
{
	return pg_connect_app(conninfo, NULL, err, err_len);
}

void
pg_close(PGconn **c)
{
	if (c == NULL || *c == NULL)
		return;
	PQfinish(*c);
	*c = NULL;
}

/* -- statements ------------------------------------------------------------ */

PGresult *
pg_query(PGconn *c, const char *sql, const pg_params *p, char *err,
    size_t err_len)
{
	PGresult *r;
	ExecStatusType st;

	pg_set_state("");
	if (c == NULL) {
		pg_set_state(PG_SQLSTATE_CONNECTION_FAILURE);
		snprintf(err, err_len, "no database connection");
		return NULL;
	}
	if (p != NULL && p->overflow) {
		snprintf(err, err_len, "statement parameters invalid or more than %d",
		    PG_PARAMS_MAX);
		return NULL;
	}
	r = PQexecParams(c, sql, p != NULL ? p->n : 0, NULL,
	    p != NULL ? p->values : NULL, p != NULL ? p->lengths : NULL,
	    p != NULL ? p->formats : NULL, p != NULL ? p->result_binary : 0);
	if (r == NULL) {
		pg_error(c, NULL, err, err_len);
		return NULL;
	}
	st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR)
		pg_error(c, r, err, err_len);
	else
		snprintf(err, err_len, "unexpected result status %s (use COPY "
		    "helpers for COPY)", PQresStatus(st));
	PQclear(r);
	return NULL;
}

int
pg_exec(PGconn *c, const char *sql, const pg_params *p, char *err,
    size_t err_len)
{
	PGresult *r = pg_query(c, sql, p, err, err_len);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

int
pg_exec_script(PGconn *c, const char *sql, int *err_pos, char *err,
    size_t err_len)
{
	PGresult *r;
	ExecStatusType st;
	const char *pos;

	pg_set_state("");
	if (err_pos != NULL)
		*err_pos = 0;
	if (c == NULL) {
		pg_set_state(PG_SQLSTATE_CONNECTION_FAILURE);
		snprintf(err, err_len, "no database connection");
		return -1;
	}
	r = PQexec(c, sql);
	if (r == NULL) {
		pg_error(c, NULL, err, err_len);
		return -1;
	}
	st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ||
	    st == PGRES_EMPTY_QUERY) {
		PQclear(r);
		return 0;
	}
	pg_error(c, r, err, err_len);
	pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
	if (err_pos != NULL && pos != NULL)
		*err_pos = atoi(pos);
	PQclear(r);
	return -1;
}

/* -- transactions ---------------------------------------------------------- */

int
pg_begin(PGconn *c, char *err, size_t err_len)
{
	return pg_exec(c, "BEGIN", NULL, err, err_len);
}

/* Called just before COMMIT (-1) and once the transaction ended through
 * pg_commit/pg_rollback (1 committed, 0 not): audit witness lines are
 * written only for committed events (common/audit.c). */
static void (*pg_txn_hook)(PGconn *c, int committed);

void
pg_set_txn_hook(void (*fn)(PGconn *c, int committed))
{
	pg_txn_hook = fn;
}

int
pg_commit(PGconn *c, char *err, size_t err_len)
{
	PGresult *r;
	int ok;

	if (pg_txn_hook != NULL)
		pg_txn_hook(c, -1);
	r = pg_query(c, "COMMIT", NULL, err, err_len);
	if (r == NULL) {
		if (pg_txn_hook != NULL)
			pg_txn_hook(c, 0);
		return -1;
	}
	ok = strcmp(PQcmdStatus(r), "COMMIT") == 0;
	PQclear(r);
	if (pg_txn_hook != NULL)
		pg_txn_hook(c, ok);
	if (!ok) {
		pg_set_state("25P02");
		snprintf(err, err_len, "transaction was rolled back, not "
		    "committed (an earlier statement in it failed)");
		return -1;
	}
	return 0;
}

int
pg_rollback(PGconn *c)
{
	char err[256], saved[PG_SQLSTATE_SIZE];
	int rc;

	if (c == NULL)
		return -1;
	if (pg_txn_hook != NULL)
		pg_txn_hook(c, 0);
	switch (PQtransactionStatus(c)) {
	case PQTRANS_IDLE:
		return 0;
	case PQTRANS_UNKNOWN:
		return -1;
	default:
		break;
	}
	/* Keep the SQLSTATE of the failure that made the caller roll back:
	 * the usual pattern checks it after cleaning up. */
	memcpy(saved, pg_sqlstate, sizeof(saved));
	rc = pg_exec(c, "ROLLBACK", NULL, err, sizeof(err));
	memcpy(pg_sqlstate, saved, sizeof(saved));
	return rc;
}

