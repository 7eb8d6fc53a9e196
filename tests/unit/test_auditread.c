/* tests/unit/test_auditread.c — reading the audit log (issue 15.4):
 * common/audit.c's filters (every key, every refusal with its exact
 * message, the parameterised SQL), ctl/audit.c's time format, CSV cells
 * (RFC 4180, formula guard) and the offline check of an exported log
 * (tests/lib/auditlog_fixture.h): clean, and each kind of tampering with
 * its exact message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/audit.h"
#include "common/pg.h"
#include "common/pins.h"
#include "common/verify.h"
#include "ctl/audit.h"
#include "tests/lib/auditlog_fixture.h"
#include "vault/mem.h"

#define ACTION_MSG "action must be an action name (1-64 of [a-z0-9._-]) or " \
	"a prefix ending in '*', e.g. device.*"
#define SINCE_MSG "since must be an RFC 3339 date-time with an offset, e.g. " \
	"2026-01-31T00:00:00Z"

static void
test_filter_table(void **state)
{
	static const struct {
		const char *key, *value, *want;    /* want NULL: accepted */
	} t[] = {
		{ "since", "2026-01-31T00:00:00Z", NULL },
		{ "since", "2026-01-31T00:00:00.5+01:00", NULL },
		{ "since", "2026-01-31", SINCE_MSG },
		{ "since", "now", SINCE_MSG },
		{ "since", "", SINCE_MSG },
		{ "since", NULL, SINCE_MSG },
		{ "until", "2026-01-31T00:00:00", "until must be an RFC 3339 "
		  "date-time with an offset, e.g. 2026-01-31T00:00:00Z" },
		{ "action", "device.revoke", NULL },
		{ "action", "device.*", NULL },
		{ "action", "a*", NULL },
		{ "action", "*", ACTION_MSG },
		{ "action", "device.**", ACTION_MSG },
		{ "action", "de*vice", ACTION_MSG },
		{ "action", "Device", ACTION_MSG },
		{ "action", "x' OR '1'='1", ACTION_MSG },
		{ "action", "", ACTION_MSG },
		{ "action", NULL, ACTION_MSG },
		{ "actor", "ar-lena", NULL },
		{ "actor", "a\x01" "b", "actor must be a certificate fingerprint or "
		  "a user name (1-256 printable characters)" },
		{ "target", "matter:x", NULL },
		{ "target", "", "target must be 1-512 printable characters" },
		{ "after", "0", NULL },
		{ "after", "-1", "after must be an event number" },
		{ "after", "1x", "after must be an event number" },
		{ "limit", "100", NULL },
		{ "limit", "0", "limit must be 1..100" },
		{ "limit", "101", "limit must be 1..100" },
		{ "foo", "1", "unknown filter 'foo'" },
		{ "Since", "x", "unknown filter 'Since'" },
		{ "a\nb", "x", "unknown filter 'a?b'" },
		{ NULL, "x", "unknown filter ''" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		audit_filter f;
		char err[256] = "";
		int rc;

		audit_filter_init(&f, 100);
		rc = audit_filter_set(&f, t[i].key, t[i].value, err, sizeof(err));
		if (t[i].want == NULL) {
			if (rc != 0)
				fail_msg("case %zu (%s=%s) refused: %s", i, t[i].key,
				    t[i].value, err);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(err, t[i].want);
		}
	}
}

static void
test_filter_repeat(void **state)
{
	audit_filter f;
	char err[256];

	(void)state;
	audit_filter_init(&f, 10);
	assert_int_equal(audit_filter_set(&f, "action", "a", err, sizeof(err)), 0);
	assert_int_equal(audit_filter_set(&f, "action", "a", err, sizeof(err)), -1);
	assert_string_equal(err, "filter 'action' given more than once");
	/* a refused value counts as given too */
	assert_int_equal(audit_filter_set(&f, "since", "x", err, sizeof(err)), -1);
	assert_int_equal(audit_filter_set(&f, "since", "x", err, sizeof(err)), -1);
	assert_string_equal(err, "filter 'since' given more than once");
}

static void
test_filter_where(void **state)
{
	pg_params p = PG_PARAMS_INIT;
	audit_filter f;
	char err[256], sql[2048] = "";

	(void)state;
	pg_param_text(&p, "tenant");
	audit_filter_init(&f, 10);
	assert_int_equal(audit_filter_set(&f, "action", "device.*", err,
	    sizeof(err)), 0);
	assert_int_equal(audit_filter_set(&f, "actor", "lena", err,
	    sizeof(err)), 0);
	assert_int_equal(audit_filter_set(&f, "after", "7", err, sizeof(err)), 0);
	assert_int_equal(audit_filter_where(&f, &p, sql, sizeof(sql)), 0);
	assert_int_equal(p.n, 4);
	assert_string_equal(p.values[1], "device.");
	assert_string_equal(p.values[2], "lena");
	assert_string_equal(p.values[3], "7");
	/* values only ever as parameters */
	assert_null(strstr(sql, "lena"));
	assert_non_null(strstr(sql, " AND pg_catalog.left(a.action, "
	    "pg_catalog.length($2::text)) = $2::text"));
	assert_non_null(strstr(sql, " AND (a.actor = $3 OR "));
	assert_non_null(strstr(sql, " AND a.event_no > $4::bigint"));
	/* no room: refused, not cut */
	{
		char small[40] = "";
		pg_params q = PG_PARAMS_INIT;

		assert_int_equal(audit_filter_where(&f, &q, small, sizeof(small)),
		    -1);
	}
}

static void
test_time(void **state)
{
	char out[CTL_AUDIT_TIME_LEN];
	int64_t us;

	(void)state;
	assert_int_equal(ctl_audit_time_parse("2026-01-31T12:34:56.000123Z", &us),
	    0);
	ctl_audit_time_format(out, us);
	assert_string_equal(out, "2026-01-31T12:34:56.000123Z");
	assert_int_equal(ctl_audit_time_parse("1970-01-01T00:00:00.000000Z", &us),
	    0);
	assert_true(us == 0);
	ctl_audit_time_format(out, -1);
	assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
	assert_int_equal(ctl_audit_time_parse("2026-02-31T00:00:00.000000Z", &us),
	    -1);
	assert_int_equal(ctl_audit_time_parse("2026-01-31T00:00:00Z", &us), -1);
	assert_int_equal(ctl_audit_time_parse("2026-01-31T00:00:00.000000+", &us),
	    -1);
	assert_int_equal(ctl_audit_time_parse("2026-01-31 00:00:00.000000Z", &us),
	    -1);
	assert_int_equal(ctl_audit_time_parse("2026-01-31T00:00:60.000000Z", &us),
	    -1);
	assert_int_equal(ctl_audit_time_parse("+026-01-31T00:00:00.000000Z", &us),
	    -1);
	assert_int_equal(ctl_audit_time_parse(NULL, &us), -1);
}

static void
test_csv(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "plain", "plain" },
		{ "a,b", "\"a,b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "two\nlines", "\"two\nlines\"" },
		{ "=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0" },
		{ "+1", "'+1" },
		{ "-1", "'-1" },
		{ "@SUM(A1)", "'@SUM(A1)" },
		{ "\tx", "'\tx" },
		{ "=1,2", "\"'=1,2\"" },
		{ "", "" },
		{ NULL, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		assert_non_null(f);
		ctl_audit_csv_cell(f, t[i].in);
		assert_int_equal(fclose(f), 0);
		assert_string_equal(buf, t[i].want);
		free(buf);
	}
}

/* -- the offline check ---------------------------------------------------------- */

static char base[16384];

/* line i (0: header) of base, replaced by repl (NULL: removed) */
static char *
with_line(unsigned i, const char *repl)
{
	char *out = calloc(1, sizeof(base) + 4096), *o = out;
	const char *p = base;
	unsigned n = 0;

	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		size_t l = (size_t)(e - p) + 1;

		if (n == i) {
			if (repl != NULL)
				o += sprintf(o, "%s\n", repl);
		} else {
			memcpy(o, p, l);
			o += l;
		}
		p += l;
		n++;
	}
	return out;
}

static int
check_text(const char *text, const pins_nodes *pins, char *msg, size_t cap)
{
	ctl_audit_result r;
	int st = ctl_audit_check(text, strlen(text), pins, NULL, &r);

	snprintf(msg, cap, "%s", r.message);
	return st;
}

static void
test_check_clean(void **state)
{
	ctl_audit_result r;
	pins_node pn;
	pins_nodes pins;
	unsigned char *sk = NULL;

	(void)state;
	memset(&pins, 0, sizeof(pins));
	memset(&pn, 0, sizeof(pn));
	snprintf(pn.name, sizeof(pn.name), "%s", ALF_NODE);
	assert_int_equal(alf_keys(pn.pk, &sk), 0);
	vault_sign_key_free(&sk);
	pins.v = &pn;
	pins.n = 1;
	snprintf(pins.path, sizeof(pins.path), "nodes.pins");
	assert_int_equal(ctl_audit_check(base, strlen(base), &pins, NULL, &r),
	    VERIFY_OK);
	assert_true(r.events == 5 && r.signed_events == 5 &&
	    r.head_event_no == 5);
	assert_string_equal(r.head_node, ALF_NODE);
	/* another key pinned for the node */
	pn.pk[0] ^= 1;
	assert_int_equal(ctl_audit_check(base, strlen(base), &pins, NULL, &r),
	    VERIFY_TAMPERED);
	assert_string_equal(r.message, "node fx-ctl: the export's signing key "
	    "differs from its pin in nodes.pins");
	/* not pinned at all */
	snprintf(pn.name, sizeof(pn.name), "other");
	assert_int_equal(ctl_audit_check(base, strlen(base), &pins, NULL, &r),
	    VERIFY_TAMPERED);
	assert_string_equal(r.message, "node fx-ctl is not pinned in nodes.pins");
}

static void
test_check_tampered(void **state)
{
	static const struct {
		unsigned    line;          /* 0: the header */
		const char *repl;          /* NULL: the line removed */
		int         status;
		const char *want;
	} cases[] = {
		{ 2, NULL, VERIFY_TAMPERED, "event 2: the audit event is missing "
		  "(event 1 is followed by event 3)" },
		{ 5, NULL, VERIFY_TAMPERED, "the signed head names event 5 but the "
		  "export ends at event 4 (events removed from the end)" },
		{ 6, NULL, VERIFY_TAMPERED, "the signed head is missing after event "
		  "5 (the export was truncated)" },
		{ 4, "{\"event_no\":4}", VERIFY_TAMPERED, "line 5: event 4: the "
		  "time is malformed (the export was edited)" },
		{ 4, "[1]", VERIFY_TAMPERED, "line 5: not a JSON object (the export "
		  "was edited)" },
		{ 6, "{\"head\":1}", VERIFY_TAMPERED, "line 7: the signed head is "
		  "malformed (the export was edited)" },
		{ 0, "{\"coffer_audit_export\":2}", VERIFY_ERROR, "not a Coffer "
		  "audit export (line 1 is no export header of version 1)" },
	};
	char msg[CTL_AUDIT_MSG_MAX], line[4096], *t;
	const char *l3, *e3;
	size_t i;

	(void)state;
	/* event 3 with another outcome */
	l3 = base;
	for (i = 0; i < 3; i++)
		l3 = strchr(l3, '\n') + 1;
	e3 = strchr(l3, '\n');
	snprintf(line, sizeof(line), "%.*s", (int)(e3 - l3), l3);
	{
		char *o = strstr(line, "\"outcome\":\"ok\"");

		assert_non_null(o);
		memcpy(o, "\"outcome\":\"no\"", 14);
	}
	t = with_line(3, line);
	assert_int_equal(check_text(t, NULL, msg, sizeof(msg)), VERIFY_TAMPERED);
	assert_string_equal(msg, "event 3: event_hash does not match the stored "
	    "event: the event was edited");
	free(t);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = with_line(cases[i].line, cases[i].repl);
		assert_int_equal(check_text(t, NULL, msg, sizeof(msg)),
		    cases[i].status);
		assert_string_equal(msg, cases[i].want);
		free(t);
	}
	assert_int_equal(check_text("", NULL, msg, sizeof(msg)), VERIFY_ERROR);
	assert_string_equal(msg, "not a Coffer audit export (empty)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_table),
		cmocka_unit_test(test_filter_repeat),
		cmocka_unit_test(test_filter_where),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_check_clean),
		cmocka_unit_test(test_check_tampered),
	};

	if (vault_init() != 0 || alf_export(base, sizeof(base), 5) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
