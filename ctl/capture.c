/* ctl/capture.c — `cofferctl capture report`: per device, what the
 * capture agent numbered and the archive holds (migration 0021's
 * coffer.capture_report): last seen, last capture sequence number, the
 * heartbeat's high-water mark, missing numbers and their ranges, numbers
 * stored twice, silence and clock skew.
 *
 * It reads numbers, times and device ids only: never content or a
 * participant.  Exit status: 0 (with --check: and every device complete,
 * without duplicates and not silent), 1 the check failed or the report
 * could not be made, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/names.h"
#include "common/pg.h"
#include "ctl/common.h"
#include "ctl/ctl.h"

#define CAP_SILENCE_DEFAULT 3600L
#define CAP_SILENCE_MAX     (366L * 86400L)

static const char cap_usage_text[] =
    "usage: cofferctl capture report --tenant NAME [--silence DURATION]\n"
    "                                [--json] [--check] [--config FILE]\n"
    "  DURATION: seconds, or a number with s, m, h or d (default 1h): a\n"
    "  device that sent no record and no heartbeat for longer is silent.\n"
    "  --check: exit 1 when a device has missing numbers, duplicates or\n"
    "  is silent (for monitoring).\n";

/* "90", "90s", "15m", "2h", "7d" -> seconds, 1..CAP_SILENCE_MAX. */
static int
cap_duration(const char *s, long *out)
{
	char num[24];
	size_t n = strlen(s);
	long v, mul = 1;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mul = 1; num[--n] = '\0'; break;
	case 'm': mul = 60; num[--n] = '\0'; break;
	case 'h': mul = 3600; num[--n] = '\0'; break;
	case 'd': mul = 86400; num[--n] = '\0'; break;
	default: break;
	}
	if (ctl_parse_long(num, 1, CAP_SILENCE_MAX / mul, &v) != 0)
		return -1;
	*out = v * mul;
	return 0;
}

static json_t *
cap_json_value(const PGresult *r, int row, int col, int kind)
{
	const char *v;

	if (PQgetisnull(r, row, col))
		return json_null();
	v = PQgetvalue(r, row, col);
	switch (kind) {
	case 'i':
		return json_integer(strtoll(v, NULL, 10));
	case 'b':
		return json_boolean(v[0] == 't');
	default:
		return json_string(v);
	}
}

int
ctl_cmd_capture(int argc, char **argv)
{
	static const char *const cols[] = {
		"device", "active", "last_record_at", "heartbeat_at", "last_seen",
		"last_seq", "seq_high", "received", "missing", "gap_count",
		"gaps", "duplicates", "silent", "clock_skew_ms", "outbox"
	};
	static const char kinds[] = "sbsssiiiiisibii";
	const char *tenant = NULL, *config = NULL;
	char err[512], secs[24], shown[256];
	long silence = CAP_SILENCE_DEFAULT;
	int json = 0, check = 0, i, j, n, bad = 0, rc = CTL_EXIT_FAIL;
	pg_params p = PG_PARAMS_INIT;
	PGconn *db;
	PGresult *r;

	if (argc < 2)
		return ctl_usage(cap_usage_text, NULL);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(cap_usage_text, stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "report") != 0)
		return ctl_usage(cap_usage_text, "capture: unknown command '%s'",
		    log_printable(shown, sizeof(shown), argv[1], strlen(argv[1])));
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0) {
			json = 1;
		} else if (strcmp(a, "--check") == 0) {
			check = 1;
		} else if (strcmp(a, "--tenant") == 0 || strcmp(a, "--silence") == 0 ||
		    strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return ctl_usage(cap_usage_text, "capture: %s needs a "
				    "value", a);
			if (strcmp(a, "--tenant") == 0)
				tenant = argv[++i];
			else if (strcmp(a, "--config") == 0)
				config = argv[++i];
			else if (cap_duration(argv[++i], &silence) != 0)
				return ctl_usage(cap_usage_text, "capture: --silence "
				    "must be 1 second to 366 days (e.g. 3600, 90s, "
				    "15m, 2h, 7d)");
		} else {
			return ctl_usage(cap_usage_text, "capture: unknown option "
			    "'%s'", log_printable(shown, sizeof(shown), a,
			    strlen(a)));
		}
	}
	if (tenant == NULL)
		return ctl_usage(cap_usage_text, "capture: --tenant is required");
	if (names_check("tenant name", tenant, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_USAGE;
	}
	if ((db = ctl_connect(config)) == NULL)
		return CTL_EXIT_FAIL;
	snprintf(secs, sizeof(secs), "%ld", silence);
	pg_param_text(&p, tenant);
	pg_param_text(&p, secs);
	r = pg_query(db, "SELECT t.tenant_id IS NOT NULL, c.device_id, "
	    "c.active, "
	    "to_char(c.last_record_at AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "to_char(c.heartbeat_at AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "to_char(c.last_seen AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "c.last_seq, c.seq_high, c.received, c.missing, c.gap_count, c.gaps, "
	    "c.duplicates, c.silent, c.clock_skew_ms, c.outbox "
	    "FROM (SELECT 1) one "
	    "LEFT JOIN coffer.tenants t ON t.name = $1 "
	    "LEFT JOIN LATERAL coffer.capture_report(t.tenant_id, "
	    "  $2::bigint * interval '1 second') c ON true", &p, err,
	    sizeof(err));
	if (r == NULL) {
		ctl_fail("database: %s", err);
		pg_close(&db);
		return CTL_EXIT_FAIL;
	}
	n = PQntuples(r);
	if (n < 1 || PQgetvalue(r, 0, 0)[0] != 't') {
		ctl_fail("capture: no tenant named %s", tenant);
		goto out;
	}
	if (n == 1 && PQgetisnull(r, 0, 1))
		n = 0;                  /* the tenant, and no device */
	for (i = 0; i < n; i++)
		if (strtoll(PQgetvalue(r, i, 9), NULL, 10) > 0 ||
		    strtoll(PQgetvalue(r, i, 12), NULL, 10) > 0 ||
		    PQgetvalue(r, i, 13)[0] == 't')
			bad++;
	if (json) {
		json_t *o = json_object(), *a = json_array();
		char *s;

		for (i = 0; i < n; i++) {
			json_t *d = json_object();

			for (j = 0; j < 15; j++)
				json_object_set_new(d, cols[j],
				    cap_json_value(r, i, j + 1, kinds[j]));
			json_array_append_new(a, d);
		}
		json_object_set_new(o, "tenant", json_string(tenant));
		json_object_set_new(o, "silence_s", json_integer(silence));
		json_object_set_new(o, "devices", a);
		json_object_set_new(o, "incomplete", json_integer(bad));
		s = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (s == NULL) {
			ctl_fail("out of memory");
			goto out;
		}
		puts(s);
		free(s);
	} else {
		printf("%-24s %-20s %10s %10s %8s %5s %-6s %9s  %s\n", "DEVICE",
		    "LAST SEEN", "LAST SEQ", "HIGH", "MISSING", "DUPS", "SILENT",
		    "SKEW ms", "GAPS");
		for (i = 0; i < n; i++) {
			const char *dev = PQgetvalue(r, i, 1);

			printf("%-24s %-20s %10s %10s %8s %5s %-6s %9s  %s%s\n",
			    log_printable(shown, sizeof(shown), dev, strlen(dev)),
			    PQgetisnull(r, i, 5) ? "never" : PQgetvalue(r, i, 5),
			    PQgetvalue(r, i, 6), PQgetvalue(r, i, 7),
			    PQgetvalue(r, i, 9), PQgetvalue(r, i, 12),
			    PQgetvalue(r, i, 13)[0] == 't' ? "yes" : "no",
			    PQgetisnull(r, i, 14) ? "-" : PQgetvalue(r, i, 14),
			    PQgetvalue(r, i, 11)[0] != '\0' ?
			    PQgetvalue(r, i, 11) : "-",
			    strtoll(PQgetvalue(r, i, 10), NULL, 10) > 50 ?
			    " (first 50 ranges)" : "");
		}
		printf("%d device(s), %d incomplete, duplicated or silent "
		    "(silence after %lds)\n", n, bad, silence);
	}
	rc = check && bad > 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
out:
	PQclear(r);
	pg_close(&db);
	return rc;
}
