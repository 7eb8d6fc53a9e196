/* ctl/audit.c — `cofferctl audit list|export|verify`: the audit log for
 * people (issue 15.4).
 *
 *   list    the events of one tenant (or all), filtered like GET /v1/audit
 *           (common/audit.h audit_filter), as a table, JSONL or CSV
 *   export  one tenant's whole chain, every field verification needs, and
 *           a head signed by the operator's node key (COFFER_AUDIT_KEY),
 *           as JSONL; or CSV for people
 *   verify  an exported JSONL file OFFLINE against the node pins: the
 *           chain rules are common/verify.c's (verify_audit_step), this
 *           file only reads the lines
 *
 * Trusts: the database for list and export (they are the operator's tools
 * with the PG* environment); nothing for verify but the pins file.  The
 * export is hostile input to verify: every field is type-, length- and
 * charset-checked, a malformed line is TAMPERED with its line number.
 * Events carry no secrets or participant identifiers (common/audit.h),
 * so they may be printed; strings are made printable for the table.
 *
 * Export format (JSONL, one object a line):
 *   {"coffer_audit_export":1,"tenant":NAME,"tenant_id":UUID,
 *    "legacy_last":N,"redactions":"1,4"|null,
 *    "nodes":[{"node_id":UUID,"name":..,"kind":..,"public_key":HEX}]}
 *   {"event_no":N,"at":"YYYY-MM-DDTHH:MM:SS.ffffffZ","actor":..,
 *    "actor_name":..,"actor_role":..,"role":..,"action":..,"target":..,
 *    "outcome":..,"request_id":..,"detail":TEXT|null,"redacted":BOOL,
 *    "prev_hash":HEX,"event_hash":HEX,"signer":UUID|null,
 *    "signer_name":..,"signature":HEX|null}            (one per event)
 *   {"head":{"tenant_id":UUID,"event_no":N,"event_hash":HEX,"node":NAME,
 *    "node_id":UUID,"redactions":HEX,"signature":HEX}}
 * detail is the jsonb text exactly as hashed (a JSON string holding it),
 * "at" carries every microsecond the hash covers.
 */
#include "ctl/audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/pins.h"
#include "common/util.h"
#include "common/verify.h"
#include "ctl/ctl.h"
#include "vault/chain.h"

#define CA_EXPORT_MAX   (1024UL * 1024UL * 1024UL)   /* bytes read by verify */
#define CA_LIST_MAX     10000000ULL                  /* --limit */
#define CA_SQL_MAX      4096U
#define CA_TS_SQL(col) \
	"pg_catalog.to_char((" col ") AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static const char ca_usage_text[] =
    "usage: cofferctl audit list [--tenant T] [--since TIME] [--until TIME]\n"
    "                            [--action A|PREFIX*] [--actor FP|NAME]\n"
    "                            [--target T] [--after N] [--limit N]\n"
    "                            [--format table|jsonl|csv] [--config FILE]\n"
    "       cofferctl audit export --tenant T --out FILE [--format jsonl|csv]\n"
    "                            [--config FILE]\n"
    "       cofferctl audit verify FILE [--nodes PINS] [--keys-dir DIR]\n"
    "  TIME: RFC 3339 with an offset, e.g. 2026-01-31T00:00:00Z\n"
    "  export signs the head with COFFER_AUDIT_KEY/COFFER_AUDIT_NODE\n"
    "  verify exit status: 0 clean, 1 tampered, 2 could not run\n";

/* -- time ------------------------------------------------------------------------ */

void
ctl_audit_time_format(char out[CTL_AUDIT_TIME_LEN], int64_t unix_us)
{
	int64_t secs = unix_us / 1000000, frac = unix_us % 1000000;
	struct tm tm;
	time_t t;

	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	t = (time_t)secs;
	memset(&tm, 0, sizeof(tm));
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999) {
		snprintf(out, CTL_AUDIT_TIME_LEN, "0000-00-00T00:00:00.000000Z");
		return;
	}
	snprintf(out, CTL_AUDIT_TIME_LEN, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ",
	    (unsigned)(tm.tm_year + 1900) % 10000U, (unsigned)(tm.tm_mon + 1) % 100U,
	    (unsigned)tm.tm_mday % 100U, (unsigned)tm.tm_hour % 100U,
	    (unsigned)tm.tm_min % 100U, (unsigned)tm.tm_sec % 100U,
	    (unsigned)frac % 1000000U);
}

static int
ca_digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
ctl_audit_time_parse(const char *s, int64_t *unix_us)
{
	char back[CTL_AUDIT_TIME_LEN];
	int y, mo, d, h, mi, se, us;
	struct tm tm;
	time_t t;

	*unix_us = 0;
	if (s == NULL || strlen(s) != CTL_AUDIT_TIME_LEN - 1 || s[4] != '-' ||
	    s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != '.' || s[26] != 'Z' ||
	    ca_digits(s, 4, &y) != 0 || ca_digits(s + 5, 2, &mo) != 0 ||
	    ca_digits(s + 8, 2, &d) != 0 || ca_digits(s + 11, 2, &h) != 0 ||
	    ca_digits(s + 14, 2, &mi) != 0 || ca_digits(s + 17, 2, &se) != 0 ||
	    ca_digits(s + 20, 6, &us) != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	*unix_us = (int64_t)t * 1000000 + us;
	/* timegm normalises 31 February: the round trip must give s back */
	ctl_audit_time_format(back, *unix_us);
	if (strcmp(back, s) != 0) {
		*unix_us = 0;
		return -1;
	}
	return 0;
}

/* -- CSV ------------------------------------------------------------------------- */

void
ctl_audit_csv_cell(FILE *f, const char *s)
{
	int quote;

	if (s == NULL)
		return;
	quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		fputc('"', f);
	/* a spreadsheet would run a cell starting so as a formula */
	if (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
	    s[0] == '\t' || s[0] == '\r')
		fputc('\'', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	if (quote)
		fputc('"', f);
}

static const char *const ca_csv_head[] = {
	"tenant", "event_no", "at", "actor", "actor_name", "actor_role", "role",
	"action", "target", "outcome", "request_id", "detail", "prev_hash",
	"event_hash", "signer", NULL
};

static void
ca_csv_row(FILE *f, const char *const *cells, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		ctl_audit_csv_cell(f, cells[i]);
	}
	fputs("\r\n", f);
}

/* -- reading the database -------------------------------------------------------- */

/* Columns of ca_select (in this order). */
enum {
	CA_C_TENANT = 0, CA_C_EVENT_NO, CA_C_AT, CA_C_ACTOR, CA_C_ACTOR_NAME,
	CA_C_ACTOR_ROLE, CA_C_ROLE, CA_C_ACTION, CA_C_TARGET, CA_C_OUTCOME,
	CA_C_REQUEST_ID, CA_C_DETAIL, CA_C_PREV, CA_C_HASH, CA_C_SIGNER_NAME,
	CA_C_SIGNER, CA_C_SIGNATURE, CA_C_REDACTED, CA_NCOLS
};

static const char ca_select[] =
    "SELECT COALESCE(t.name, a.tenant_id::text), a.event_no, "
    CA_TS_SQL("a.at") ", a.actor, " AUDIT_SQL_ACTOR_NAME ", "
    AUDIT_SQL_ACTOR_ROLE ", a.role, a.action, a.target, a.outcome, "
    "a.request_id, a.detail::text, pg_catalog.encode(a.prev_hash, 'hex'), "
    "pg_catalog.encode(a.event_hash, 'hex'), n.name, a.signer::text, "
    "pg_catalog.encode(a.signature, 'hex'), "
    "EXISTS (SELECT 1 FROM coffer.audit_redactions x "
    " WHERE x.tenant_id = a.tenant_id AND x.event_no = a.event_no "
    " AND a.detail->>'partials_redacted' = '0004' "
    " AND NOT a.detail ? 'partials') "
    "FROM coffer.audit_events a "
    "LEFT JOIN coffer.tenants t ON t.tenant_id = a.tenant_id "
    "LEFT JOIN coffer.nodes n ON n.node_id = a.signer "
    "WHERE ($1::uuid IS NULL OR a.tenant_id = $1::uuid)";

static const char *
ca_val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* The tenant's id (text) from a name or uuid; 0, or 1 (printed). */
static int
ca_tenant(PGconn *c, const char *tenant, char id[UTIL_UUID_STRLEN + 1],
    char *name, size_t name_cap)
{
	pg_params p = PG_PARAMS_INIT;
	char err[512], shown[80];
	PGresult *res;

	pg_param_text(&p, tenant);
	res = pg_query(c, "SELECT tenant_id::text, name FROM coffer.tenants "
	    "WHERE name = $1 OR tenant_id::text = $1", &p, err, sizeof(err));
	if (res == NULL) {
		ctl_fail("audit: %s", err);
		return 1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		log_printable(shown, sizeof(shown), tenant, strlen(tenant));
		ctl_fail("audit: no tenant %s", shown);
		return 1;
	}
	snprintf(id, UTIL_UUID_STRLEN + 1, "%s", PQgetvalue(res, 0, 0));
	snprintf(name, name_cap, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

/* One event as the JSON object of a list line or an export line. */
static json_t *
ca_event_json(const PGresult *res, int i, int for_export)
{
	json_t *o;
	json_t *detail;

	if (for_export) {
		detail = ca_val(res, i, CA_C_DETAIL) != NULL ?
		    json_string(ca_val(res, i, CA_C_DETAIL)) : json_null();
	} else {
		json_error_t je;

		detail = ca_val(res, i, CA_C_DETAIL) != NULL ?
		    json_loads(ca_val(res, i, CA_C_DETAIL), 0, &je) : json_null();
		if (detail == NULL)
			detail = json_string("(unparseable)");
	}
	o = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s, s:s, s:s?, s:s, s:s?, "
	    "s:o, s:s, s:s}",
	    "event_no", (json_int_t)strtoll(PQgetvalue(res, i, CA_C_EVENT_NO),
	    NULL, 10),
	    "at", PQgetvalue(res, i, CA_C_AT),
	    "actor", PQgetvalue(res, i, CA_C_ACTOR),
	    "actor_name", ca_val(res, i, CA_C_ACTOR_NAME),
	    "actor_role", ca_val(res, i, CA_C_ACTOR_ROLE),
	    "role", PQgetvalue(res, i, CA_C_ROLE),
	    "action", PQgetvalue(res, i, CA_C_ACTION),
	    "target", ca_val(res, i, CA_C_TARGET),
	    "outcome", PQgetvalue(res, i, CA_C_OUTCOME),
	    "request_id", ca_val(res, i, CA_C_REQUEST_ID),
	    "detail", detail,
	    "prev_hash", PQgetvalue(res, i, CA_C_PREV),
	    "event_hash", PQgetvalue(res, i, CA_C_HASH));
	if (o == NULL)
		return NULL;
	if (for_export) {
		json_object_set_new(o, "redacted", json_boolean(
		    strcmp(PQgetvalue(res, i, CA_C_REDACTED), "t") == 0));
		json_object_set_new(o, "signer", ca_val(res, i, CA_C_SIGNER) ?
		    json_string(ca_val(res, i, CA_C_SIGNER)) : json_null());
		json_object_set_new(o, "signer_name",
		    ca_val(res, i, CA_C_SIGNER_NAME) ?
		    json_string(ca_val(res, i, CA_C_SIGNER_NAME)) : json_null());
		json_object_set_new(o, "signature",
		    ca_val(res, i, CA_C_SIGNATURE) ?
		    json_string(ca_val(res, i, CA_C_SIGNATURE)) : json_null());
	} else {
		json_object_set_new(o, "tenant",
		    json_string(PQgetvalue(res, i, CA_C_TENANT)));
	}
	return o;
}

static int
ca_jsonl(FILE *f, json_t *o)
{
	int rc;

	if (o == NULL)
		return -1;
	rc = json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (rc != 0)
		return -1;
	fputc('\n', f);
	return 0;
}

static void
ca_csv_event(FILE *f, const PGresult *res, int i)
{
	const char *cells[15];
	size_t k;

	for (k = 0; k < 15; k++)
		cells[k] = ca_val(res, i, (int)k);
	cells[14] = ca_val(res, i, CA_C_SIGNER_NAME);
	ca_csv_row(f, cells, 15);
}

/* A column of the table: printable, cut to width with "~". */
static void
ca_cell(FILE *f, const char *s, int width, int last)
{
	char shown[128];
	size_t n;

	log_printable(shown, sizeof(shown), s != NULL ? s : "-",
	    s != NULL ? strlen(s) : 1);
	n = strlen(shown);
	if (!last && n > (size_t)width) {
		shown[width - 1] = '~';
		shown[width] = '\0';
	}
	if (last)
		fprintf(f, "%s\n", shown);
	else
		fprintf(f, "%-*s ", width, shown);
}

static void
ca_table_row(FILE *f, const PGresult *res, int i)
{
	char who[160], at[20];
	const char *name = ca_val(res, i, CA_C_ACTOR_NAME);
	const char *actor = PQgetvalue(res, i, CA_C_ACTOR);

	/* seconds are enough to read; jsonl and csv keep every digit */
	snprintf(at, sizeof(at), "%.10s %.8s", PQgetvalue(res, i, CA_C_AT),
	    PQgetvalue(res, i, CA_C_AT) + 11);
	if (name != NULL)
		snprintf(who, sizeof(who), "%.80s (%.12s)", name, actor);
	else
		snprintf(who, sizeof(who), "%.80s", actor);
	ca_cell(f, PQgetvalue(res, i, CA_C_TENANT), 12, 0);
	ca_cell(f, PQgetvalue(res, i, CA_C_EVENT_NO), 6, 0);
	ca_cell(f, at, 19, 0);
	ca_cell(f, who, 32, 0);
	ca_cell(f, PQgetvalue(res, i, CA_C_ROLE), 9, 0);
	ca_cell(f, PQgetvalue(res, i, CA_C_ACTION), 22, 0);
	ca_cell(f, PQgetvalue(res, i, CA_C_OUTCOME), 10, 0);
	ca_cell(f, ca_val(res, i, CA_C_TARGET), 0, 1);
}

/* -- list ------------------------------------------------------------------------ */

enum { CA_TABLE = 0, CA_JSONL, CA_CSV };

static int
ca_format(const char *v, int allow_table, int *out)
{
	if (allow_table && strcmp(v, "table") == 0)
		*out = CA_TABLE;
	else if (strcmp(v, "jsonl") == 0)
		*out = CA_JSONL;
	else if (strcmp(v, "csv") == 0)
		*out = CA_CSV;
	else
		return -1;
	return 0;
}

static int
ca_list(int argc, char **argv)
{
	pg_params p = PG_PARAMS_INIT;
	const char *tenant = NULL, *config = NULL;
	char sql[CA_SQL_MAX], err[512], tid[UTIL_UUID_STRLEN + 1], tname[256];
	char limit[24];
	audit_filter flt;
	PGresult *res;
	PGconn *c;
	int a, i, fmt = CA_TABLE;

	audit_filter_init(&flt, CA_LIST_MAX);
	for (a = 1; a < argc; a++) {
		const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			fputs(ca_usage_text, stdout);
			return CTL_EXIT_OK;
		}
		if (strncmp(opt, "--", 2) != 0)
			return ctl_usage(ca_usage_text, "audit list: unexpected "
			    "argument");
		if (val == NULL)
			return ctl_usage(ca_usage_text, "audit list: %.64s needs a "
			    "value", opt);
		a++;
		if (strcmp(opt, "--tenant") == 0) {
			tenant = val;
		} else if (strcmp(opt, "--config") == 0) {
			config = val;
		} else if (strcmp(opt, "--format") == 0) {
			if (ca_format(val, 1, &fmt) != 0)
				return ctl_usage(ca_usage_text, "audit list: --format "
				    "is table, jsonl or csv");
		} else if (audit_filter_set(&flt, opt + 2, val, err,
		    sizeof(err)) != 0) {
			if (strncmp(err, "unknown filter", 14) == 0)
				return ctl_usage(ca_usage_text, "audit list: unknown "
				    "option %.64s", opt);
			return ctl_usage(ca_usage_text, "audit list: %s", err);
		}
	}
	if ((c = ctl_connect(config)) == NULL)
		return CTL_EXIT_FAIL;
	if (tenant != NULL && ca_tenant(c, tenant, tid, tname,
	    sizeof(tname)) != 0) {
		pg_close(&c);
		return CTL_EXIT_FAIL;
	}
	pg_param_text(&p, tenant != NULL ? tid : NULL);
	snprintf(limit, sizeof(limit), "%llu", (unsigned long long)flt.limit);
	pg_param_text(&p, flt.limit > 0 ? limit : NULL);
	snprintf(sql, sizeof(sql), "%s", ca_select);
	if (audit_filter_where(&flt, &p, sql, sizeof(sql)) != 0 ||
	    strlen(sql) + 64 > sizeof(sql)) {
		pg_close(&c);
		ctl_fail("audit list: query too long");
		return CTL_EXIT_FAIL;
	}
	strcat(sql, " ORDER BY a.tenant_id, a.event_no LIMIT $2::bigint");
	res = pg_query(c, sql, &p, err, sizeof(err));
	pg_close(&c);
	if (res == NULL) {
		ctl_fail("audit list: %s", err);
		return CTL_EXIT_FAIL;
	}
	if (fmt == CA_TABLE)
		printf("%-12s %-6s %-19s %-32s %-9s %-22s %-10s %s\n", "TENANT",
		    "EVENT", "AT (UTC)", "ACTOR", "ROLE", "ACTION", "OUTCOME",
		    "TARGET");
	else if (fmt == CA_CSV)
		ca_csv_row(stdout, ca_csv_head, 15);
	for (i = 0; i < PQntuples(res); i++) {
		if (fmt == CA_TABLE)
			ca_table_row(stdout, res, i);
		else if (fmt == CA_CSV)
			ca_csv_event(stdout, res, i);
		else if (ca_jsonl(stdout, ca_event_json(res, i, 0)) != 0) {
			PQclear(res);
			ctl_fail("audit list: out of memory");
			return CTL_EXIT_FAIL;
		}
	}
	PQclear(res);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_fail("audit list: writing the output failed");
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

/* -- export ---------------------------------------------------------------------- */

/* The export header: tenant, legacy boundary, redaction list (and its
 * hash), the nodes that signed this tenant's events or sign the head. */
static json_t *
ca_export_header(PGconn *c, const char *tid, const char *tname,
    const char *head_node, unsigned char redactions[AUDIT_HASH_BYTES],
    char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	json_t *h = NULL, *nodes;
	PGresult *res;
	int i;

	pg_param_text(&p, tid);
	res = pg_query(c, VERIFY_SQL_AUDIT_PRELUDE, &p, err, err_len);
	if (res == NULL)
		return NULL;
	vault_audit_redactions_hash(ca_val(res, 0, 1), PQgetisnull(res, 0, 1) ?
	    0 : (size_t)PQgetlength(res, 0, 1), redactions);
	h = json_pack("{s:i, s:s, s:s, s:I, s:s?, s:[]}",
	    "coffer_audit_export", 1, "tenant", tname, "tenant_id", tid,
	    "legacy_last", (json_int_t)(PQgetisnull(res, 0, 0) ? 0 :
	    strtoll(PQgetvalue(res, 0, 0), NULL, 10)),
	    "redactions", ca_val(res, 0, 1), "nodes");
	PQclear(res);
	if (h == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	p.n = 0;
	pg_param_text(&p, tid);
	pg_param_text(&p, head_node);
	res = pg_query(c, "SELECT n.node_id::text, n.name, n.kind, "
	    "pg_catalog.encode(n.signing_public_key, 'hex') FROM coffer.nodes n "
	    "WHERE n.name = $2 OR n.node_id IN (SELECT a.signer FROM "
	    "coffer.audit_events a WHERE a.tenant_id = $1::uuid) ORDER BY n.name",
	    &p, err, err_len);
	if (res == NULL) {
		json_decref(h);
		return NULL;
	}
	nodes = json_object_get(h, "nodes");
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:s}",
		    "node_id", PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
		    "kind", PQgetvalue(res, i, 2), "public_key",
		    PQgetvalue(res, i, 3)));
	PQclear(res);
	return h;
}

static int
ca_export(int argc, char **argv)
{
	pg_params p = PG_PARAMS_INIT;
	const char *tenant = NULL, *out = NULL, *config = NULL;
	char sql[CA_SQL_MAX], err[512], tid[UTIL_UUID_STRLEN + 1], tname[256];
	char node[AUDIT_NODE_MAX + 1], nid[UTIL_UUID_STRLEN + 1];
	char hhex[2 * AUDIT_HASH_BYTES + 1], rhex[2 * AUDIT_HASH_BYTES + 1];
	char shex[2 * VAULT_SIG_BYTES + 1];
	unsigned char redactions[AUDIT_HASH_BYTES], head[AUDIT_HASH_BYTES];
	unsigned char tid_b[AUDIT_ID_BYTES], node_id[AUDIT_ID_BYTES];
	unsigned char sig[VAULT_SIG_BYTES];
	json_t *hdr = NULL, *det;
	PGresult *res = NULL;
	PGconn *c = NULL;
	char *buf = NULL;
	size_t buflen = 0;
	FILE *f = NULL;
	int a, i, n, fmt = CA_JSONL, rc = CTL_EXIT_FAIL;

	for (a = 1; a < argc; a++) {
		const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			fputs(ca_usage_text, stdout);
			return CTL_EXIT_OK;
		}
		if (val == NULL)
			return ctl_usage(ca_usage_text, "audit export: %.64s needs "
			    "a value", opt);
		a++;
		if (strcmp(opt, "--tenant") == 0)
			tenant = val;
		else if (strcmp(opt, "--out") == 0)
			out = val;
		else if (strcmp(opt, "--config") == 0)
			config = val;
		else if (strcmp(opt, "--format") == 0) {
			if (ca_format(val, 0, &fmt) != 0)
				return ctl_usage(ca_usage_text, "audit export: "
				    "--format is jsonl or csv");
		} else
			return ctl_usage(ca_usage_text, "audit export: unknown "
			    "option %.64s", opt);
	}
	if (tenant == NULL || out == NULL)
		return ctl_usage(ca_usage_text, "audit export: --tenant and --out "
		    "are required");
	if (!audit_signer_present()) {
		ctl_fail("audit export: no audit signing key (COFFER_AUDIT_KEY and "
		    "COFFER_AUDIT_NODE): the export's head cannot be signed");
		return CTL_EXIT_FAIL;
	}
	if ((c = ctl_connect(config)) == NULL)
		return CTL_EXIT_FAIL;
	if (ca_tenant(c, tenant, tid, tname, sizeof(tname)) != 0)
		goto done;
	if (util_uuid_parse(tid_b, tid) != 0) {
		snprintf(err, sizeof(err), "malformed tenant id");
		goto dberr;
	}
	/* One snapshot: the export, its own audit event and the signed head
	 * agree; nothing is written unless the event commits. */
	if (pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL, err,
	    sizeof(err)) != 0)
		goto dberr;
	det = json_pack("{s:s}", "format", fmt == CA_CSV ? "csv" : "jsonl");
	snprintf(sql, sizeof(sql), "audit:%s", tid);
	i = ctl_admin_audit(c, tid, "audit.export", sql, NULL, det, err,
	    sizeof(err));
	json_decref(det);
	if (i != 0)
		goto dberr;
	pg_param_text(&p, tid);
	snprintf(sql, sizeof(sql), "%s ORDER BY a.event_no", ca_select);
	if ((res = pg_query(c, sql, &p, err, sizeof(err))) == NULL)
		goto dberr;
	n = PQntuples(res);
	if (n == 0 || util_unhex(head, sizeof(head), PQgetvalue(res, n - 1,
	    CA_C_HASH), (size_t)PQgetlength(res, n - 1, CA_C_HASH)) != 0) {
		snprintf(err, sizeof(err), "the chain has no readable head");
		goto dberr;
	}
	if ((f = open_memstream(&buf, &buflen)) == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto dberr;
	}
	if (fmt == CA_CSV) {
		ca_csv_row(f, ca_csv_head, 15);
		for (i = 0; i < n; i++)
			ca_csv_event(f, res, i);
	} else {
		/* the header lists the head's signer (COFFER_AUDIT_NODE) */
		if ((hdr = ca_export_header(c, tid, tname,
		    getenv("COFFER_AUDIT_NODE"), redactions, err,
		    sizeof(err))) == NULL)
			goto dberr;
		if (audit_sign_head(c, tid_b, (uint64_t)strtoull(PQgetvalue(res,
		    n - 1, CA_C_EVENT_NO), NULL, 10), head, redactions, node,
		    node_id, sig, err, sizeof(err)) != 0)
			goto dberr;
		if (ca_jsonl(f, hdr) != 0)
			goto oom;
		hdr = NULL;
		for (i = 0; i < n; i++)
			if (ca_jsonl(f, ca_event_json(res, i, 1)) != 0)
				goto oom;
		util_uuid_format(nid, node_id);
		util_hex(hhex, head, sizeof(head));
		util_hex(rhex, redactions, sizeof(redactions));
		util_hex(shex, sig, sizeof(sig));
		if (ca_jsonl(f, json_pack("{s:{s:s, s:I, s:s, s:s, s:s, s:s, "
		    "s:s}}", "head", "tenant_id", tid, "event_no",
		    (json_int_t)strtoll(PQgetvalue(res, n - 1, CA_C_EVENT_NO), NULL,
		    10), "event_hash", hhex, "node", node, "node_id", nid,
		    "redactions", rhex, "signature", shex)) != 0)
			goto oom;
	}
	if (fclose(f) != 0) {
		f = NULL;
		goto oom;
	}
	f = NULL;
	if (pg_commit(c, err, sizeof(err)) != 0)
		goto dberr;
	if (util_write_file(out, buf, buflen, 0600, 0, err, sizeof(err)) != 0) {
		ctl_fail("audit export: %s (the audit.export event is recorded)",
		    err);
		goto done;
	}
	printf("audit export: tenant %s: %d events to %s (%s)\n", tname, n, out,
	    fmt == CA_CSV ? "csv" : "jsonl, head signed by node");
	if (fmt != CA_CSV)
		printf("audit export: head event %s signed by node %s\n",
		    PQgetvalue(res, n - 1, CA_C_EVENT_NO), node);
	rc = CTL_EXIT_OK;
	goto done;
oom:
	snprintf(err, sizeof(err), "out of memory");
dberr:
	ctl_fail("audit export: %s; nothing was written", err);
	(void)pg_rollback(c);
done:
	if (f != NULL)
		fclose(f);
	free(buf);
	json_decref(hdr);
	PQclear(res);
	pg_close(&c);
	return rc;
}

/* -- verify (offline) ------------------------------------------------------------ */

#define CA_NODES_MAX 256U

typedef struct ca_check {
	ctl_audit_result   *res;
	verify_node         nodes[CA_NODES_MAX];
	size_t              nnodes;
	verify_audit_chain  ch;
	unsigned char       tenant[AUDIT_ID_BYTES];
	char                redaction_list[4096];
	int                 has_redactions;
	uint64_t            last;          /* last event read */
} ca_check;

__attribute__((format(printf, 3, 4)))
static int
ca_bad(ca_check *k, int status, const char *fmt, ...)
{
	va_list ap;

	if (k->res->status != VERIFY_OK)
		return k->res->status;
	k->res->status = status;
	va_start(ap, fmt);
	vsnprintf(k->res->message, sizeof(k->res->message), fmt, ap);
	va_end(ap);
	return status;
}

/* s: a JSON string of exactly hex bytes, or (may_null) null. */
static int
ca_hex(json_t *o, const char *key, unsigned char *out, size_t n, int may_null,
    int *is_null)
{
	json_t *v = json_object_get(o, key);

	if (is_null != NULL)
		*is_null = 0;
	if (may_null && json_is_null(v)) {
		if (is_null != NULL)
			*is_null = 1;
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) != 2 * n)
		return -1;
	return util_unhex(out, n, json_string_value(v), 2 * n);
}

/* A string field (or null when may_null): the pointer and length. */
static int
ca_str(json_t *o, const char *key, audit_field *f, int may_null)
{
	json_t *v = json_object_get(o, key);

	f->p = NULL;
	f->len = 0;
	if (may_null && json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	f->p = json_string_value(v);
	f->len = json_string_length(v);
	return 0;
}

static int
ca_in_list(const char *list, uint64_t n)
{
	char want[24];
	size_t wl;
	const char *p = list;

	snprintf(want, sizeof(want), "%llu", (unsigned long long)n);
	wl = strlen(want);
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ',');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l == wl && memcmp(p, want, wl) == 0)
			return 1;
		p = e != NULL ? e + 1 : NULL;
	}
	return 0;
}

static int
ca_header(ca_check *k, json_t *h, const pins_nodes *pins,
    const pins_tenant *tpin)
{
	json_t *v, *nodes, *nd;
	size_t i;
	int legacy_ok;
	json_int_t legacy = 0;

	v = json_object_get(h, "coffer_audit_export");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return ca_bad(k, VERIFY_ERROR, "not a Coffer audit export "
		    "(line 1 is no export header of version 1)");
	v = json_object_get(h, "tenant_id");
	if (!json_is_string(v) || util_uuid_parse(k->tenant,
	    json_string_value(v)) != 0)
		return ca_bad(k, VERIFY_TAMPERED, "line 1: the header's tenant_id "
		    "is not a uuid");
	if (tpin != NULL && memcmp(tpin->tenant_id, k->tenant,
	    AUDIT_ID_BYTES) != 0)
		return ca_bad(k, VERIFY_TAMPERED, "line 1: the export's tenant id "
		    "differs from the tenant's pin");
	v = json_object_get(h, "legacy_last");
	legacy_ok = json_is_integer(v) && (legacy = json_integer_value(v)) >= 0;
	if (!legacy_ok)
		return ca_bad(k, VERIFY_TAMPERED, "line 1: the header's "
		    "legacy_last is not an event number");
	v = json_object_get(h, "redactions");
	if (json_is_string(v)) {
		if (json_string_length(v) >= sizeof(k->redaction_list) ||
		    strspn(json_string_value(v), "0123456789,") !=
		    json_string_length(v))
			return ca_bad(k, VERIFY_TAMPERED, "line 1: the header's "
			    "redaction list is malformed");
		memcpy(k->redaction_list, json_string_value(v),
		    json_string_length(v) + 1);
		k->has_redactions = 1;
	} else if (!json_is_null(v)) {
		return ca_bad(k, VERIFY_TAMPERED, "line 1: the header's redaction "
		    "list is malformed");
	}
	nodes = json_object_get(h, "nodes");
	if (!json_is_array(nodes) || json_array_size(nodes) > CA_NODES_MAX)
		return ca_bad(k, VERIFY_TAMPERED, "line 1: the header's node list "
		    "is malformed");
	json_array_foreach(nodes, i, nd) {
		verify_node *n = &k->nodes[k->nnodes];
		json_t *name = json_object_get(nd, "name");
		json_t *kind = json_object_get(nd, "kind");
		json_t *id = json_object_get(nd, "node_id");
		const unsigned char *pin;
		char shown[PINS_NAME_MAX];

		if (!json_is_string(name) || json_string_length(name) == 0 ||
		    json_string_length(name) >= PINS_NAME_MAX ||
		    !json_is_string(kind) || json_string_length(kind) == 0 ||
		    json_string_length(kind) >= sizeof(n->kind) ||
		    !json_is_string(id) ||
		    util_uuid_parse(n->id, json_string_value(id)) != 0 ||
		    ca_hex(nd, "public_key", n->pk, sizeof(n->pk), 0, NULL) != 0)
			return ca_bad(k, VERIFY_TAMPERED, "line 1: node %zu of the "
			    "header is malformed", i + 1);
		memcpy(n->name, json_string_value(name),
		    json_string_length(name) + 1);
		memcpy(n->kind, json_string_value(kind),
		    json_string_length(kind) + 1);
		log_printable(shown, sizeof(shown), n->name, strlen(n->name));
		if (verify_node_by_name(k->nodes, k->nnodes, n->name) != NULL)
			return ca_bad(k, VERIFY_TAMPERED, "line 1: node %s is listed "
			    "twice", shown);
		if (pins != NULL) {
			if ((pin = pins_nodes_find(pins, n->name)) == NULL)
				return ca_bad(k, VERIFY_TAMPERED, "node %s is not "
				    "pinned in %s", shown, pins->path);
			if (memcmp(pin, n->pk, sizeof(n->pk)) != 0)
				return ca_bad(k, VERIFY_TAMPERED, "node %s: the "
				    "export's signing key differs from its pin in %s",
				    shown, pins->path);
		}
		k->nnodes++;
	}
	verify_audit_begin(&k->ch, k->tenant, k->has_redactions ?
	    k->redaction_list : NULL, k->has_redactions ?
	    strlen(k->redaction_list) : 0, (uint64_t)legacy, k->nodes, k->nnodes);
	return VERIFY_OK;
}

static const char *const ca_event_fields[AUDIT_NFIELDS] = {
	"actor", "role", "action", "target", "outcome", "request_id", "detail"
};

static int
ca_event(ca_check *k, json_t *o, unsigned line)
{
	verify_audit_row row;
	unsigned char prev[AUDIT_HASH_BYTES], hash[AUDIT_HASH_BYTES];
	unsigned char signer[AUDIT_ID_BYTES], sig[VAULT_SIG_BYTES];
	char what[48], msg[768];
	json_t *v;
	int64_t where;
	int i, st, sig_null;

	memset(&row, 0, sizeof(row));
	v = json_object_get(o, "event_no");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return ca_bad(k, VERIFY_TAMPERED, "line %u: no event number (the "
		    "export was edited)", line);
	row.event_no = (uint64_t)json_integer_value(v);
	v = json_object_get(o, "at");
	if (!json_is_string(v) || ctl_audit_time_parse(json_string_value(v),
	    &row.at_us) != 0)
		return ca_bad(k, VERIFY_TAMPERED, "line %u: event %llu: the time "
		    "is malformed (the export was edited)", line,
		    (unsigned long long)row.event_no);
	if (ca_hex(o, "prev_hash", prev, sizeof(prev), 0, NULL) != 0 ||
	    ca_hex(o, "event_hash", hash, sizeof(hash), 0, NULL) != 0)
		return ca_bad(k, VERIFY_TAMPERED, "line %u: event %llu: a hash is "
		    "malformed (the export was edited)", line,
		    (unsigned long long)row.event_no);
	row.prev_hash = prev;
	row.prev_len = sizeof(prev);
	row.event_hash = hash;
	row.hash_len = sizeof(hash);
	for (i = 0; i < AUDIT_NFIELDS; i++)
		if (ca_str(o, ca_event_fields[i], &row.f[i], 1) != 0)
			return ca_bad(k, VERIFY_TAMPERED, "line %u: event %llu: "
			    "%s is not a string (the export was edited)", line,
			    (unsigned long long)row.event_no, ca_event_fields[i]);
	if (ca_hex(o, "signature", sig, sizeof(sig), 1, &sig_null) != 0)
		return ca_bad(k, VERIFY_TAMPERED, "line %u: event %llu: the "
		    "signature is malformed (the export was edited)", line,
		    (unsigned long long)row.event_no);
	v = json_object_get(o, "signer");
	if (!sig_null || !json_is_null(v)) {
		if (!json_is_string(v) ||
		    util_uuid_parse(signer, json_string_value(v)) != 0)
			return ca_bad(k, VERIFY_TAMPERED, "line %u: event %llu: "
			    "the signer is malformed (the export was edited)", line,
			    (unsigned long long)row.event_no);
		row.signer = signer;
		row.signer_len = sizeof(signer);
		row.signature = sig_null ? NULL : sig;
		row.signature_len = sig_null ? 0 : sizeof(sig);
		if (row.signature == NULL)
			row.signature = (const unsigned char *)"";
	}
	/* excused only when the header's list names it too */
	row.redacted = json_is_true(json_object_get(o, "redacted")) &&
	    k->has_redactions && ca_in_list(k->redaction_list, row.event_no);
	st = verify_audit_step(&k->ch, &row, what, msg, sizeof(msg), &where);
	if (st != VERIFY_OK)
		return ca_bad(k, st, "event %lld: %s", (long long)where, msg);
	k->last = row.event_no;
	return VERIFY_OK;
}

static int
ca_head(ca_check *k, json_t *o, unsigned line)
{
	unsigned char id[AUDIT_ID_BYTES], hash[AUDIT_HASH_BYTES];
	unsigned char red[AUDIT_HASH_BYTES], sig[VAULT_SIG_BYTES];
	const verify_node *nd;
	vault_audit_stmt st;
	json_t *v, *node;
	uint64_t eno;
	char shown[PINS_NAME_MAX];

	v = json_object_get(o, "event_no");
	node = json_object_get(o, "node");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    !json_is_string(node) ||
	    !json_is_string(json_object_get(o, "tenant_id")) ||
	    util_uuid_parse(id, json_string_value(json_object_get(o,
	    "tenant_id"))) != 0 ||
	    ca_hex(o, "event_hash", hash, sizeof(hash), 0, NULL) != 0 ||
	    ca_hex(o, "redactions", red, sizeof(red), 0, NULL) != 0 ||
	    ca_hex(o, "signature", sig, sizeof(sig), 0, NULL) != 0)
		return ca_bad(k, VERIFY_TAMPERED, "line %u: the signed head is "
		    "malformed (the export was edited)", line);
	eno = (uint64_t)json_integer_value(v);
	log_printable(shown, sizeof(shown), json_string_value(node),
	    json_string_length(node));
	nd = verify_node_by_name(k->nodes, k->nnodes, json_string_value(node));
	if (nd == NULL)
		return ca_bad(k, VERIFY_TAMPERED, "the signed head's node %s is not "
		    "listed in the export", shown);
	memset(&st, 0, sizeof(st));
	memcpy(st.tenant_id, k->tenant, AUDIT_ID_BYTES);
	st.event_no = eno;
	memcpy(st.event_hash, hash, AUDIT_HASH_BYTES);
	memcpy(st.node_id, nd->id, AUDIT_ID_BYTES);
	memcpy(st.redactions, k->ch.redactions, AUDIT_HASH_BYTES);
	if (memcmp(id, k->tenant, AUDIT_ID_BYTES) != 0 ||
	    vault_audit_stmt_verify(nd->pk, &st, sig) != 0)
		return ca_bad(k, VERIFY_TAMPERED, "the signed head (event %llu) is "
		    "not signed by node %s (a forged or damaged head)",
		    (unsigned long long)eno, shown);
	k->res->head_event_no = eno;
	snprintf(k->res->head_node, sizeof(k->res->head_node), "%s", shown);
	if (eno > k->last)
		return ca_bad(k, VERIFY_TAMPERED, "the signed head names event "
		    "%llu but the export ends at event %llu (events removed from "
		    "the end)", (unsigned long long)eno,
		    (unsigned long long)k->last);
	if (eno < k->last)
		return ca_bad(k, VERIFY_TAMPERED, "the signed head names event "
		    "%llu but the export goes on to event %llu (events added "
		    "after the head)", (unsigned long long)eno,
		    (unsigned long long)k->last);
	if (memcmp(hash, k->ch.prev, AUDIT_HASH_BYTES) != 0)
		return ca_bad(k, VERIFY_TAMPERED, "event %llu: its hash differs "
		    "from the signed head's (the chain was rewritten)",
		    (unsigned long long)eno);
	return VERIFY_OK;
}

int
ctl_audit_check(const char *text, size_t len, const pins_nodes *pins,
    const pins_tenant *tenant_pin, ctl_audit_result *res)
{
	ca_check *k;
	const char *p = text, *end = text + len;
	unsigned line = 0;
	int have_head = 0;

	memset(res, 0, sizeof(*res));
	res->status = VERIFY_OK;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		res->status = VERIFY_ERROR;
		snprintf(res->message, sizeof(res->message), "out of memory");
		return res->status;
	}
	k->res = res;
	while (p < end && res->status == VERIFY_OK) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		json_error_t je;
		json_t *o, *h;

		line++;
		o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
		p += n + (nl != NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			(void)ca_bad(k, line == 1 ? VERIFY_ERROR : VERIFY_TAMPERED,
			    line == 1 ? "not a Coffer audit export (line 1 is no "
			    "JSON object)" : "line %u: not a JSON object (the export "
			    "was edited)", line);
			break;
		}
		if (line == 1)
			(void)ca_header(k, o, pins, tenant_pin);
		else if (have_head)
			(void)ca_bad(k, VERIFY_TAMPERED, "line %u: data after the "
			    "signed head (the export was edited)", line);
		else if ((h = json_object_get(o, "head")) != NULL) {
			have_head = 1;
			if (!json_is_object(h))
				(void)ca_bad(k, VERIFY_TAMPERED, "line %u: the signed "
				    "head is malformed (the export was edited)", line);
			else
				(void)ca_head(k, h, line);
		} else
			(void)ca_event(k, o, line);
		json_decref(o);
	}
	if (res->status == VERIFY_OK && line == 0)
		(void)ca_bad(k, VERIFY_ERROR, "not a Coffer audit export (empty)");
	if (res->status == VERIFY_OK && !have_head)
		(void)ca_bad(k, VERIFY_TAMPERED, "the signed head is missing after "
		    "event %llu (the export was truncated)",
		    (unsigned long long)k->last);
	res->events = k->ch.events;
	res->signed_events = k->ch.signed_events;
	free(k);
	return res->status;
}

static int
ca_verify(int argc, char **argv)
{
	const char *file = NULL, *nodes = getenv("COFFER_NODE_PINS");
	const char *keys_dir = getenv("COFFER_KEYS_DIR");
	unsigned char *text = NULL;
	pins_nodes *pins = NULL;
	pins_tenant *tpin = NULL;
	ctl_audit_result r;
	char err[1024];
	size_t len = 0;
	int a, rc = 2;

	for (a = 1; a < argc; a++) {
		const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			fputs(ca_usage_text, stdout);
			return CTL_EXIT_OK;
		}
		if (strncmp(opt, "--", 2) != 0) {
			if (file != NULL)
				return ctl_usage(ca_usage_text, "audit verify: one "
				    "FILE only");
			file = opt;
			continue;
		}
		if (val == NULL)
			return ctl_usage(ca_usage_text, "audit verify: %.64s needs "
			    "a value", opt);
		a++;
		if (strcmp(opt, "--nodes") == 0)
			nodes = val;
		else if (strcmp(opt, "--keys-dir") == 0)
			keys_dir = val;
		else
			return ctl_usage(ca_usage_text, "audit verify: unknown "
			    "option %.64s", opt);
	}
	if (file == NULL)
		return ctl_usage(ca_usage_text, "audit verify: FILE is required");
	if (nodes != NULL && nodes[0] == '\0')
		nodes = NULL;
	if (keys_dir != NULL && keys_dir[0] == '\0')
		keys_dir = NULL;
	if (util_read_file(file, CA_EXPORT_MAX, &text, &len, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "cofferctl audit verify: could not run: %s\n", err);
		return 2;
	}
	if (nodes == NULL)
		fprintf(stderr, "cofferctl audit verify: warning: node keys are not "
		    "pinned (--nodes FILE or $COFFER_NODE_PINS): signatures are "
		    "checked against the export's own copy of the keys only\n");
	else if (pins_nodes_load(nodes, &pins, err, sizeof(err)) != 0) {
		fprintf(stderr, "cofferctl audit verify: could not run: %s\n", err);
		goto out;
	}
	if (keys_dir != NULL) {
		/* the tenant's name is read from the header, before any check */
		json_error_t je;
		const char *nl = memchr(text, '\n', len);
		json_t *h = json_loadb((const char *)text, nl != NULL ?
		    (size_t)(nl - (const char *)text) : len, 0, &je);
		json_t *tn = json_object_get(h, "tenant");

		if ((tpin = malloc(sizeof(*tpin))) == NULL || !json_is_string(tn) ||
		    pins_tenant_load(keys_dir, json_string_value(tn), tpin, err,
		    sizeof(err)) != 0) {
			json_decref(h);
			fprintf(stderr, "cofferctl audit verify: could not run: %s\n",
			    tpin == NULL ? "out of memory" : !json_is_string(tn) ?
			    "not a Coffer audit export (no tenant in line 1)" : err);
			goto out;
		}
		json_decref(h);
	}
	(void)ctl_audit_check((const char *)text, len, pins, tpin, &r);
	switch (r.status) {
	case VERIFY_OK:
		printf("audit verify: OK: %llu events, %llu signed by their writer; "
		    "head event %llu signed by node %s\n",
		    (unsigned long long)r.events,
		    (unsigned long long)r.signed_events,
		    (unsigned long long)r.head_event_no, r.head_node);
		rc = 0;
		break;
	case VERIFY_TAMPERED:
		printf("audit verify: TAMPERED: %s\n", r.message);
		rc = 1;
		break;
	default:
		fprintf(stderr, "cofferctl audit verify: could not run: %s\n",
		    r.message);
		rc = 2;
	}
out:
	free(text);
	free(tpin);
	pins_nodes_free(&pins);
	return rc;
}

/* -- dispatch -------------------------------------------------------------------- */

int
ctl_cmd_audit(int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage(ca_usage_text, "audit: list, export or verify?");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(ca_usage_text, stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "list") == 0)
		return ca_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0)
		return ca_export(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return ca_verify(argc - 1, argv + 1);
	return ctl_usage(ca_usage_text, "audit: unknown subcommand %.32s",
	    argv[1]);
}
