/* ctl/retention.c — `cofferctl retention`, `hold` and `purge`: the
 * archive's disposal life cycle (migrations/0002_retention.sql has the
 * rules; this file asks for them and audits every change).
 *
 * The changes themselves are common/retention.c's (shared with the API);
 * each runs in one transaction with its audit event (common/audit.h): the
 * event commits with the change or neither does.  Read-modify-write
 * changes (retention old -> new, hold release) hold the tenant's audit
 * lock first so the old value they record is the one they replaced.
 *
 * Participant and conversation values given to `hold create` become
 * blind-index tokens here, with the tenant's BIK file from --keys-dir
 * (never stored in the database); the values themselves are neither stored,
 * printed nor audited.
 *
 * Two persons (migrations/0009_two_person.sql): cofferctl acts as the
 * database owner and cannot tell one person from another, so it does only
 * the one-person acts — a tenant's first policy, lengthening, raising the
 * floor, creating holds — and refuses shortening retention, lowering the
 * floor and releasing a hold with the way to do them: a proposal through
 * the API by one person (their certificate) and an approval by another.
 * No policy is ever set below the tenant's floor (also a trigger).
 *
 * Purge shows what it will dispose of and asks on the terminal (--yes for
 * automation); records in the scope of a matter that is not closed are
 * kept like held ones (migrations/0007_preserve.sql), and it names the
 * matters (ids and counts only: a title may name people).
 *
 * Purge refuses to run when the database clock and this host's clock
 * disagree by more than --max-clock-skew: retention is computed with the
 * database clock, and a clock that is wrong by days would dispose of
 * records early (or, behind, keep them past their time).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/audit.h"
#include "common/channels.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/retention.h"
#include "common/twoperson.h"
#include "common/util.h"
#include "ctl/archive.h"
#include "ctl/ctl.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/mem.h"

#define CTL_ERR              512U
#define CTL_LIST_MAX         256      /* repeated options */
#define CTL_SKEW_DEFAULT     300U     /* seconds */
#define CTL_REASON_MAX       500U
#define CTL_TENANT_NAME_MAX  201U

static int
ctl_text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Resolve NAME or UUID to the tenant's id and name.  0, or -1 (message
 * printed). */
static int
ctl_tenant(PGconn *c, const char *arg, unsigned char id[UTIL_UUID_BYTES],
    char name[CTL_TENANT_NAME_MAX])
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char parsed[UTIL_UUID_BYTES];
	char err[CTL_ERR];
	PGresult *r;
	size_t n;

	p.result_binary = 1;
	if (util_uuid_parse(parsed, arg) == 0) {
		pg_param_bin(&p, parsed, UTIL_UUID_BYTES);
		r = pg_query(c, "SELECT tenant_id, name FROM coffer.tenants "
		    "WHERE tenant_id = $1::uuid", &p, err, sizeof(err));
	} else {
		pg_param_text(&p, arg);
		r = pg_query(c, "SELECT tenant_id, name FROM coffer.tenants "
		    "WHERE name = $1", &p, err, sizeof(err));
	}
	if (r == NULL) {
		ctl_fail("%s", err);
		return -1;
	}
	if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) != UTIL_UUID_BYTES) {
		ctl_fail("no tenant '%.64s'", arg);
		PQclear(r);
		return -1;
	}
	memcpy(id, PQgetvalue(r, 0, 0), UTIL_UUID_BYTES);
	n = (size_t)PQgetlength(r, 0, 1);
	if (n >= CTL_TENANT_NAME_MAX)
		n = CTL_TENANT_NAME_MAX - 1;
	memcpy(name, PQgetvalue(r, 0, 1), n);
	name[n] = '\0';
	PQclear(r);
	return 0;
}

/* JSON object -> malloc'd compact text (caller frees); takes o. */
static char *
ctl_json(json_t *o)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return s;
}

static int
ctl_audit(PGconn *c, const unsigned char tenant[UTIL_UUID_BYTES],
    const char *actor, const char *action, const char *target,
    const char *outcome, const char *detail)
{
	audit_event ev;
	char err[CTL_ERR];

	memset(&ev, 0, sizeof(ev));
	memcpy(ev.tenant_id, tenant, UTIL_UUID_BYTES);
	ev.actor = actor;
	ev.role = "operator";
	ev.action = action;
	ev.target = target;
	ev.outcome = outcome;
	ev.detail_json = detail;
	if (audit_append(c, &ev, NULL, NULL, err, sizeof(err)) != 0) {
		ctl_fail("%s (nothing changed)", err);
		return -1;
	}
	return 0;
}

static int
ctl_commit(PGconn *c)
{
	char err[CTL_ERR];

	if (pg_commit(c, err, sizeof(err)) != 0) {
		ctl_fail("commit failed: %s", err);
		return -1;
	}
	return 0;
}

/* Options shared by the sub-commands below: a flat list of --name value
 * pairs and flags, parsed once. */
typedef struct ctl_opts {
	const char *config, *tenant, *channel, *from, *to, *matter, *reason;
	const char *keys_dir, *hold, *days;
	const char *participants[CTL_LIST_MAX], *conversations[CTL_LIST_MAX];
	const char *channels[CTL_LIST_MAX];
	size_t      nparticipants, nconversations, nchannels;
	const char *skew;
	int         forever, dry_run, all, help, yes;
} ctl_opts;

/* allowed: the option names this sub-command accepts ("|--a|--b|"). */
static int
ctl_opts_parse(int argc, char **argv, int first, const char *allowed,
    ctl_opts *o)
{
	int a;

	memset(o, 0, sizeof(*o));
	for (a = first; a < argc; a++) {
		const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
		char key[40];

		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			o->help = 1;
			return 0;
		}
		if (strlen(opt) > 30 || strncmp(opt, "--", 2) != 0)
			goto unknown;
		snprintf(key, sizeof(key), "|%s|", opt);
		if (strstr(allowed, key) == NULL)
			goto unknown;
		if (strcmp(opt, "--forever") == 0) {
			o->forever = 1;
			continue;
		}
		if (strcmp(opt, "--dry-run") == 0) {
			o->dry_run = 1;
			continue;
		}
		if (strcmp(opt, "--all") == 0) {
			o->all = 1;
			continue;
		}
		if (strcmp(opt, "--yes") == 0) {
			o->yes = 1;
			continue;
		}
		if (val == NULL) {
			ctl_fail("%s needs a value", opt);
			return -1;
		}
		a++;
		if (strcmp(opt, "--config") == 0)
			o->config = val;
		else if (strcmp(opt, "--tenant") == 0)
			o->tenant = val;
		else if (strcmp(opt, "--days") == 0)
			o->days = val;
		else if (strcmp(opt, "--from") == 0)
			o->from = val;
		else if (strcmp(opt, "--to") == 0)
			o->to = val;
		else if (strcmp(opt, "--matter") == 0)
			o->matter = val;
		else if (strcmp(opt, "--reason") == 0)
			o->reason = val;
		else if (strcmp(opt, "--keys-dir") == 0)
			o->keys_dir = val;
		else if (strcmp(opt, "--hold") == 0)
			o->hold = val;
		else if (strcmp(opt, "--max-clock-skew") == 0)
			o->skew = val;
		else if (strcmp(opt, "--channel") == 0) {
			if (o->nchannels == CTL_LIST_MAX)
				goto too_many;
			o->channels[o->nchannels++] = val;
			o->channel = val;
		} else if (strcmp(opt, "--participant") == 0) {
			if (o->nparticipants == CTL_LIST_MAX)
				goto too_many;
			o->participants[o->nparticipants++] = val;
		} else if (strcmp(opt, "--conversation") == 0) {
			if (o->nconversations == CTL_LIST_MAX)
				goto too_many;
			o->conversations[o->nconversations++] = val;
		} else {
			goto unknown;
		}
	}
	if (o->reason != NULL && !ctl_text_ok(o->reason, CTL_REASON_MAX)) {
		ctl_fail("--reason must be 1..%u printable "
		    "characters", CTL_REASON_MAX);
		return -1;
	}
	return 0;
too_many:
	ctl_fail("at most %d of each repeated option",
	    CTL_LIST_MAX);
	return -1;
unknown:
	ctl_fail("unknown option %.64s", argv[a]);
	return -1;
}

/* -- retention ---------------------------------------------------------------- */

static void
ctl_retention_usage(FILE *f)
{
	fprintf(f,
	    "usage: cofferctl retention set --tenant T [--channel C] "
	    "(--days N | --forever) [--config FILE]\n"
	    "       cofferctl retention floor --tenant T --days N [--config FILE]\n"
	    "       cofferctl retention show [--tenant T] [--config FILE]\n"
	    "C is a channel (signal, whatsapp, telegram, wechat, sms, mms, rcs,\n"
	    "imessage, email, voice, other) or '*' (the tenant default, also when\n"
	    "--channel is left out).  Retention counts from a record's sent_at;\n"
	    "no policy at all keeps records forever.  Active holds and matters\n"
	    "that are not closed keep their records whatever the policy.\n"
	    "No policy may be shorter than the tenant's regulatory floor (default\n"
	    "2192 days); `floor` only raises it.  Shortening a policy and lowering\n"
	    "the floor need two persons: one proposes through the API, another\n"
	    "approves (POST /v1/requests/ID/approve); cofferctl refuses them.\n");
}

static int
ctl_retention_set(const ctl_opts *o)
{
	unsigned char tid[UTIL_UUID_BYTES];
	char tname[CTL_TENANT_NAME_MAX], actor[128], target[96];
	char err[CTL_ERR], oldv[RETENTION_VALUE_MAX], newv[RETENTION_VALUE_MAX];
	char tidstr[UTIL_UUID_STRLEN + 1];
	const char *channel = o->channel != NULL ? o->channel : "*";
	twoperson_retention tp;
	char *detail = NULL;
	unsigned days = 0;
	PGconn *c = NULL;
	int rc = 1;

	if (o->tenant == NULL || o->nchannels > 1 ||
	    (o->days == NULL) == (o->forever == 0)) {
		ctl_retention_usage(stderr);
		return 2;
	}
	if (strcmp(channel, "*") != 0 && !channels_ok(channel)) {
		ctl_fail("unknown channel '%.32s'", channel);
		return 2;
	}
	if (o->days != NULL &&
	    ctl_parse_uint(o->days, 1, RETENTION_DAYS_MAX, &days) != 0) {
		ctl_fail("--days must be 1..%u",
		    RETENTION_DAYS_MAX);
		return 2;
	}
	if ((c = ctl_connect(o->config)) == NULL)
		return 1;
	if (ctl_tenant(c, o->tenant, tid, tname) != 0)
		goto done;
	ctl_actor(c, actor, sizeof(actor));
	util_uuid_format(tidstr, tid);
	snprintf(target, sizeof(target), "retention %s/%s", tidstr, channel);

	/* Under the tenant's audit lock from the classification on, so the
	 * old value retention_policy_set reports is the one classified. */
	if (pg_begin(c, err, sizeof(err)) != 0 ||
	    audit_lock_tenant(c, tid, err, sizeof(err)) != 0 ||
	    twoperson_retention_class(c, tid, channel, o->forever ? 0 : days,
	    &tp, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto done;
	}
	if (tp.below_floor) {
		twoperson_floor_message(err, sizeof(err), days, tp.floor_days);
		ctl_fail("%s", err);
		goto done;
	}
	if (tp.klass == TWOPERSON_SHORTER) {
		ctl_fail("shortening retention (channel %s: %s "
		    "-> %u days) needs two persons: an admin proposes it with "
		    "PUT /v1/retention and another person's admin account approves "
		    "it with POST /v1/requests/ID/approve", channel, tp.effective,
		    days);
		goto done;
	}
	if (retention_policy_set(c, tid, channel, o->forever ? 0 : days, actor,
	    oldv, newv, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto done;
	}
	detail = ctl_json(json_pack("{s:s, s:s, s:s}", "channel", channel,
	    "old", oldv, "new", newv));
	if (detail == NULL) {
		ctl_fail("out of memory");
		goto done;
	}
	if (ctl_audit(c, tid, actor, "retention.set", target, "ok", detail) != 0 ||
	    ctl_commit(c) != 0)
		goto done;
	printf("retention of tenant %s, channel %s: %s -> %s\n", tname, channel,
	    oldv, newv);
	rc = 0;
done:
	if (c != NULL)
		(void)pg_rollback(c);
	free(detail);
	pg_close(&c);
	return rc;
}

/* Raise the tenant's floor (one person); lowering it is a two-person act
 * of the API, refused here. */
static int
ctl_retention_floor(const ctl_opts *o)
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char tid[UTIL_UUID_BYTES];
	char tname[CTL_TENANT_NAME_MAX], actor[128], target[96], err[CTL_ERR];
	char tidstr[UTIL_UUID_STRLEN + 1], dstr[16];
	char *detail = NULL;
	unsigned days = 0, old;
	PGconn *c = NULL;
	PGresult *r = NULL;
	int rc = 1;

	if (o->tenant == NULL || o->days == NULL || o->nchannels != 0 ||
	    o->forever) {
		ctl_retention_usage(stderr);
		return 2;
	}
	if (ctl_parse_uint(o->days, 1, RETENTION_DAYS_MAX, &days) != 0) {
		ctl_fail("--days must be 1..%u",
		    RETENTION_DAYS_MAX);
		return 2;
	}
	if ((c = ctl_connect(o->config)) == NULL)
		return 1;
	if (ctl_tenant(c, o->tenant, tid, tname) != 0)
		goto done;
	ctl_actor(c, actor, sizeof(actor));
	util_uuid_format(tidstr, tid);
	snprintf(target, sizeof(target), "tenant:%s", tidstr);
	pg_param_bin(&p, tid, UTIL_UUID_BYTES);
	if (pg_begin(c, err, sizeof(err)) != 0 ||
	    audit_lock_tenant(c, tid, err, sizeof(err)) != 0 ||
	    (r = pg_query(c, "SELECT retention_floor_days FROM coffer.tenants "
	    "WHERE tenant_id = $1::uuid FOR UPDATE", &p, err,
	    sizeof(err))) == NULL || PQntuples(r) != 1) {
		ctl_fail("%s", r == NULL ? err : "no tenant");
		goto done;
	}
	old = (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	r = NULL;
	if (days < old) {
		ctl_fail("lowering the regulatory floor (%u -> %u "
		    "days) needs two persons: an admin proposes it with PUT "
		    "/v1/retention/floor and another person's admin account approves "
		    "it with POST /v1/requests/ID/approve", old, days);
		goto done;
	}
	snprintf(dstr, sizeof(dstr), "%u", days);
	pg_param_text(&p, dstr);
	detail = ctl_json(json_pack("{s:I, s:I}", "old_days", (json_int_t)old,
	    "new_days", (json_int_t)days));
	if (detail == NULL) {
		ctl_fail("out of memory");
		goto done;
	}
	if (pg_exec(c, "UPDATE coffer.tenants SET retention_floor_days = "
	    "$2::int WHERE tenant_id = $1::uuid", &p, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto done;
	}
	if (ctl_audit(c, tid, actor, "retention.floor", target, "ok",
	    detail) != 0 || ctl_commit(c) != 0)
		goto done;
	printf("regulatory floor of tenant %s: %u days -> %u days\n", tname, old,
	    days);
	rc = 0;
done:
	PQclear(r);
	if (c != NULL)
		(void)pg_rollback(c);
	free(detail);
	pg_close(&c);
	return rc;
}

static int
ctl_retention_show(const ctl_opts *o)
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char tid[UTIL_UUID_BYTES];
	char tname[CTL_TENANT_NAME_MAX], err[CTL_ERR];
	PGconn *c;
	PGresult *r;
	int i, rc = 1;

	if ((c = ctl_connect(o->config)) == NULL)
		return 1;
	if (o->tenant != NULL) {
		if (ctl_tenant(c, o->tenant, tid, tname) != 0)
			goto done;
		pg_param_bin(&p, tid, UTIL_UUID_BYTES);
	} else {
		pg_param_null(&p);
	}
	r = pg_query(c, "SELECT t.name, coalesce(rp.channel, '*'), "
	    "CASE WHEN rp.tenant_id IS NULL THEN 'forever (no policy)' "
	    "     WHEN rp.retention IS NULL THEN 'forever' "
	    "     ELSE rp.retention::text END, "
	    "coalesce(rp.updated_by, ''), "
	    "coalesce(pg_catalog.to_char(rp.updated_at AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
	    "FROM coffer.tenants t "
	    "LEFT JOIN coffer.retention_policies rp ON rp.tenant_id = t.tenant_id "
	    "WHERE $1::uuid IS NULL OR t.tenant_id = $1::uuid "
	    "ORDER BY t.name, rp.channel = '*' DESC, rp.channel", &p, err,
	    sizeof(err));
	if (r == NULL) {
		ctl_fail("%s", err);
		goto done;
	}
	printf("%-24s %-10s %-22s %-20s %s\n", "TENANT", "CHANNEL", "RETENTION",
	    "UPDATED", "BY");
	for (i = 0; i < PQntuples(r); i++)
		printf("%-24.64s %-10s %-22s %-20s %.128s\n", PQgetvalue(r, i, 0),
		    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 4),
		    PQgetvalue(r, i, 3));
	PQclear(r);
	r = pg_query(c, "SELECT t.name, t.retention_floor_days FROM "
	    "coffer.tenants t WHERE $1::uuid IS NULL OR t.tenant_id = $1::uuid "
	    "ORDER BY t.name", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("%s", err);
		goto done;
	}
	for (i = 0; i < PQntuples(r); i++)
		printf("floor of %.64s: %s days (no policy may be shorter)\n",
		    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	rc = 0;
done:
	pg_close(&c);
	return rc;
}

int
ctl_cmd_retention(int argc, char **argv)
{
	ctl_opts o;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		ctl_retention_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "set") == 0) {
		if (ctl_opts_parse(argc, argv, 2, "|--config|--tenant|--channel|"
		    "--days|--forever|", &o) != 0)
			return 2;
		if (o.help) {
			ctl_retention_usage(stdout);
			return 0;
		}
		return ctl_retention_set(&o);
	}
	if (strcmp(argv[1], "floor") == 0) {
		if (ctl_opts_parse(argc, argv, 2, "|--config|--tenant|--days|",
		    &o) != 0)
			return 2;
		if (o.help) {
			ctl_retention_usage(stdout);
			return 0;
		}
		return ctl_retention_floor(&o);
	}
	if (strcmp(argv[1], "show") == 0) {
		if (ctl_opts_parse(argc, argv, 2, "|--config|--tenant|", &o) != 0)
			return 2;
		if (o.help) {
			ctl_retention_usage(stdout);
			return 0;
		}
		return ctl_retention_show(&o);
	}
	ctl_retention_usage(stderr);
	return 2;
}

/* -- holds ----------------------------------------------------------------------- */

static void
ctl_hold_usage(FILE *f)
{
	fprintf(f,
	    "usage: cofferctl hold create --tenant T [--participant P]... "
	    "[--conversation C]...\n"
	    "                             [--channel C]... [--from TIME] "
	    "[--to TIME] [--matter UUID]\n"
	    "                             [--reason TEXT] [--keys-dir DIR] "
	    "[--config FILE]\n"
	    "       cofferctl hold list [--tenant T] [--all] [--config FILE]\n"
	    "       cofferctl hold release --tenant T --hold UUID [--reason TEXT] "
	    "[--config FILE]\n"
	    "A hold keeps every record that matches all the criteria it sets\n"
	    "(none: the whole tenant).  Participants and conversations become\n"
	    "blind-index tokens with DIR/<tenant>.bik (needed for them only).\n"
	    "TIME is ISO 8601 / RFC 3339; it bounds sent_at or received_at.\n"
	    "Releasing a hold needs two persons and is done through the API:\n"
	    "`hold release` checks the hold and says how; it changes nothing.\n");
}

/* The tenant's blind-index key, in guarded memory. */
static int
ctl_load_bik(const char *dir, const char *tenant_name, unsigned char **out)
{
	char path[4096], err[CTL_ERR];

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.bik", dir, tenant_name) >=
	    sizeof(path) || strchr(tenant_name, '/') != NULL ||
	    tenant_name[0] == '.') {
		ctl_fail("unusable key file name");
		return -1;
	}
	if (keyfile_load(path, VAULT_BIK_BYTES, out, err,
	    sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return -1;
	}
	return 0;
}

/* The tenant's default country calling code ("" when none is set), for
 * national numbers in a scope (cofferctl tenant set-country). */
static int
ctl_hold_default_cc(PGconn *c, const unsigned char tid[UTIL_UUID_BYTES],
    char *cc, size_t cap)
{
	pg_params p = PG_PARAMS_INIT;
	char err[CTL_ERR], tidstr[UTIL_UUID_STRLEN + 1];
	PGresult *q;

	cc[0] = '\0';
	util_uuid_format(tidstr, tid);
	pg_param_text(&p, tidstr);
	q = pg_query(c, "SELECT coalesce(default_country_code, '') FROM "
	    "coffer.tenants WHERE tenant_id = $1::uuid", &p, err, sizeof(err));
	if (q == NULL) {
		ctl_fail("tenant: %s", err);
		return -1;
	}
	if (PQntuples(q) == 1 && (size_t)PQgetlength(q, 0, 0) < cap)
		memcpy(cc, PQgetvalue(q, 0, 0), (size_t)PQgetlength(q, 0, 0) + 1);
	PQclear(q);
	return 0;
}

/* A participant of a hold's scope, read exactly as the API reads a
 * matter's (vault_participant_scope_normalize: the ingest form, or a
 * refusal naming the accepted forms), then tokenised. */
static int
ctl_hold_participant(const unsigned char *bik, const char *value,
    const char *cc, unsigned char tok[VAULT_TOKEN_BYTES], char *err,
    size_t err_len)
{
	char norm[VAULT_PARTICIPANT_MAX], why[192];
	size_t n = 0;
	int rc;

	if (vault_participant_scope_normalize(value, strlen(value),
	    cc[0] != '\0' ? cc : NULL, norm, sizeof(norm), &n, why,
	    sizeof(why)) != 0) {
		snprintf(err, err_len, "%s; %s", why, VAULT_SCOPE_FORMS);
		return -1;
	}
	rc = vault_participant_token_normalized(bik, norm, n, tok, err,
	    err_len);
	vault_wipe(norm, sizeof(norm));
	return rc;
}

static int
ctl_hold_create(const ctl_opts *o)
{
	unsigned char tid[UTIL_UUID_BYTES], hid[UTIL_UUID_BYTES], mid[UTIL_UUID_BYTES];
	unsigned char *bik = NULL, *ptok = NULL, *ctok = NULL;
	char tname[CTL_TENANT_NAME_MAX], actor[128], err[CTL_ERR], cc[8];
	char hidstr[UTIL_UUID_STRLEN + 1], midstr[UTIL_UUID_STRLEN + 1];
	char from[RETENTION_TIME_MAX], to[RETENTION_TIME_MAX], *detail = NULL;
	retention_hold h;
	json_t *chans = NULL;
	PGconn *c = NULL;
	size_t i;
	int rc = 1;

	if (o->tenant == NULL) {
		ctl_hold_usage(stderr);
		return 2;
	}
	if (o->matter != NULL && util_uuid_parse(mid, o->matter) != 0) {
		ctl_fail("--matter must be a matter uuid");
		return 2;
	}
	for (i = 0; i < o->nchannels; i++)
		if (!channels_ok(o->channels[i])) {
			ctl_fail("unknown channel '%.32s'",
			    o->channels[i]);
			return 2;
		}
	if ((o->from != NULL && !util_rfc3339_ok(o->from)) ||
	    (o->to != NULL && !util_rfc3339_ok(o->to))) {
		ctl_fail("--from and --to take RFC 3339 times "
		    "with an offset (2026-01-31T00:00:00Z)");
		return 2;
	}
	if ((o->nparticipants > 0 || o->nconversations > 0) &&
	    o->keys_dir == NULL) {
		ctl_fail("--participant and --conversation need "
		    "--keys-dir (the tenant's blind-index key)");
		return 2;
	}
	if ((c = ctl_connect(o->config)) == NULL)
		return 1;
	if (ctl_tenant(c, o->tenant, tid, tname) != 0)
		goto done;
	ctl_actor(c, actor, sizeof(actor));

	ptok = calloc(o->nparticipants + 1, VAULT_TOKEN_BYTES);
	ctok = calloc(o->nconversations + 1, VAULT_TOKEN_BYTES);
	chans = json_array();
	if (ptok == NULL || ctok == NULL || chans == NULL) {
		ctl_fail("out of memory");
		goto done;
	}
	if (o->nparticipants > 0 || o->nconversations > 0) {
		if (ctl_load_bik(o->keys_dir, tname, &bik) != 0)
			goto done;
		if (o->nparticipants > 0 &&
		    ctl_hold_default_cc(c, tid, cc, sizeof(cc)) != 0)
			goto done;
		for (i = 0; i < o->nparticipants; i++)
			if (ctl_hold_participant(bik, o->participants[i], cc,
			    ptok + i * VAULT_TOKEN_BYTES, err, sizeof(err)) != 0) {
				ctl_fail("--participant #%zu: %s", i + 1, err);
				goto done;
			}
		for (i = 0; i < o->nconversations; i++)
			if (vault_conversation_token(bik, o->conversations[i],
			    strlen(o->conversations[i]),
			    ctok + i * VAULT_TOKEN_BYTES, err, sizeof(err)) != 0) {
				ctl_fail("--conversation #%zu: %s",
				    i + 1, err);
				goto done;
			}
		vault_secure_free(bik);
		bik = NULL;
	}
	for (i = 0; i < o->nchannels; i++)
		json_array_append_new(chans, json_string(o->channels[i]));

	memset(&h, 0, sizeof(h));
	h.matter_id = o->matter != NULL ? mid : NULL;
	h.reason = o->reason;
	h.participants = ptok;
	h.nparticipants = o->nparticipants;
	h.conversations = ctok;
	h.nconversations = o->nconversations;
	h.channels = o->channels;
	h.nchannels = o->nchannels;
	h.from = o->from;
	h.to = o->to;
	h.created_by = actor;
	if (pg_begin(c, err, sizeof(err)) != 0 ||
	    retention_hold_create(c, tid, &h, hid, from, to, err,
	    sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto done;
	}
	util_uuid_format(hidstr, hid);
	if (o->matter != NULL)
		util_uuid_format(midstr, mid);
	/* Counts and criteria, never the tokens or the values behind them. */
	detail = ctl_json(json_pack("{s:s, s:s?, s:I, s:I, s:O, s:s?, s:s?, s:s?}",
	    "hold_id", hidstr, "matter_id", o->matter != NULL ? midstr : NULL,
	    "participants", (json_int_t)o->nparticipants,
	    "conversations", (json_int_t)o->nconversations,
	    "channels", chans, "from", from[0] ? from : NULL,
	    "to", to[0] ? to : NULL, "reason", o->reason));
	if (detail == NULL) {
		ctl_fail("out of memory");
		goto done;
	}
	if (ctl_audit(c, tid, actor, "hold.create", hidstr, "ok", detail) != 0 ||
	    ctl_commit(c) != 0)
		goto done;
	printf("hold %s created for tenant %s: %zu participants, %zu "
	    "conversations, %zu channels, from %s to %s%s\n", hidstr, tname,
	    o->nparticipants, o->nconversations, o->nchannels,
	    from[0] ? from : "-", to[0] ? to : "-",
	    o->nparticipants + o->nconversations + o->nchannels == 0 &&
	    !from[0] && !to[0] ? " (the whole tenant)" : "");
	rc = 0;
done:
	if (c != NULL)
		(void)pg_rollback(c);
	vault_secure_free(bik);
	if (ptok != NULL) {
		vault_wipe(ptok, (o->nparticipants + 1) * VAULT_TOKEN_BYTES);
		free(ptok);
	}
	if (ctok != NULL) {
		vault_wipe(ctok, (o->nconversations + 1) * VAULT_TOKEN_BYTES);
		free(ctok);
	}
	free(detail);
	json_decref(chans);
	pg_close(&c);
	return rc;
}

static int
ctl_hold_list(const ctl_opts *o)
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char tid[UTIL_UUID_BYTES];
	char tname[CTL_TENANT_NAME_MAX], err[CTL_ERR], reason[128];
	PGconn *c;
	PGresult *r;
	int i, rc = 1;

	if ((c = ctl_connect(o->config)) == NULL)
		return 1;
	if (o->tenant != NULL) {
		if (ctl_tenant(c, o->tenant, tid, tname) != 0)
			goto done;
		pg_param_bin(&p, tid, UTIL_UUID_BYTES);
	} else {
		pg_param_null(&p);
	}
	pg_param_text(&p, o->all ? "t" : "f");
	r = pg_query(c, "SELECT t.name, h.hold_id, "
	    "CASE WHEN h.active THEN 'active' ELSE 'released' END, "
	    "coalesce(h.matter_id::text, '-'), "
	    "coalesce(pg_catalog.cardinality(h.participant_tokens), 0), "
	    "coalesce(pg_catalog.cardinality(h.conversation_tokens), 0), "
	    "coalesce(pg_catalog.array_to_string(h.channels, ','), '-'), "
	    "coalesce(pg_catalog.to_char(h.time_from AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), "
	    "coalesce(pg_catalog.to_char(h.time_to AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), "
	    "pg_catalog.to_char(h.created_at AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "coalesce(h.reason, '') "
	    "FROM coffer.holds h JOIN coffer.tenants t ON t.tenant_id = h.tenant_id "
	    "WHERE ($1::uuid IS NULL OR h.tenant_id = $1::uuid) "
	    "  AND (h.active OR $2::boolean) "
	    "ORDER BY t.name, h.created_at, h.hold_id", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("%s", err);
		goto done;
	}
	printf("%-16s %-36s %-8s %-36s %5s %5s %-16s %-20s %-20s %-20s %s\n",
	    "TENANT", "HOLD", "STATE", "MATTER", "PART", "CONV", "CHANNELS",
	    "FROM", "TO", "CREATED", "REASON");
	for (i = 0; i < PQntuples(r); i++) {
		log_printable(reason, sizeof(reason), PQgetvalue(r, i, 10),
		    (size_t)PQgetlength(r, i, 10));
		printf("%-16.64s %-36s %-8s %-36s %5s %5s %-16.80s %-20s %-20s "
		    "%-20s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
		    PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7),
		    PQgetvalue(r, i, 8), PQgetvalue(r, i, 9), reason);
	}
	PQclear(r);
	rc = 0;
done:
	pg_close(&c);
	return rc;
}

/* Releasing a hold is a two-person act (migration 0009): cofferctl, the
 * database owner's tool, cannot tell persons apart, so it says how and
 * changes nothing. */
static int
ctl_hold_release(const ctl_opts *o)
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char tid[UTIL_UUID_BYTES], hid[UTIL_UUID_BYTES];
	char tname[CTL_TENANT_NAME_MAX], err[CTL_ERR];
	char hidstr[UTIL_UUID_STRLEN + 1];
	PGconn *c = NULL;
	PGresult *r = NULL;
	int rc = 1;

	if (o->tenant == NULL || o->hold == NULL) {
		ctl_hold_usage(stderr);
		return 2;
	}
	if (util_uuid_parse(hid, o->hold) != 0) {
		ctl_fail("--hold must be a hold uuid");
		return 2;
	}
	util_uuid_format(hidstr, hid);
	if ((c = ctl_connect(o->config)) == NULL)
		return 1;
	if (ctl_tenant(c, o->tenant, tid, tname) != 0)
		goto done;
	pg_param_bin(&p, tid, UTIL_UUID_BYTES);
	pg_param_bin(&p, hid, UTIL_UUID_BYTES);
	if ((r = pg_query(c, "SELECT active FROM coffer.holds WHERE "
	    "tenant_id = $1::uuid AND hold_id = $2::uuid", &p, err,
	    sizeof(err))) == NULL) {
		ctl_fail("%s", err);
		goto done;
	}
	if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		ctl_fail("tenant %s has %s hold %s", tname,
		    PQntuples(r) == 1 ? "already released" : "no", hidstr);
		goto done;
	}
	ctl_fail("releasing hold %s needs two persons: one "
	    "proposes it with POST /v1/holds/%s/release and another person "
	    "approves it with POST /v1/requests/ID/approve (admin or legal "
	    "accounts); nothing changed", hidstr, hidstr);
done:
	PQclear(r);
	pg_close(&c);
	return rc;
}

int
ctl_cmd_hold(int argc, char **argv)
{
	ctl_opts o;
	const char *allowed;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		ctl_hold_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "create") == 0)
		allowed = "|--config|--tenant|--participant|--conversation|"
		    "--channel|--from|--to|--matter|--reason|--keys-dir|";
	else if (strcmp(argv[1], "list") == 0)
		allowed = "|--config|--tenant|--all|";
	else if (strcmp(argv[1], "release") == 0)
		allowed = "|--config|--tenant|--hold|--reason|";
	else {
		ctl_hold_usage(stderr);
		return 2;
	}
	if (ctl_opts_parse(argc, argv, 2, allowed, &o) != 0)
		return 2;
	if (o.help) {
		ctl_hold_usage(stdout);
		return 0;
	}
	if (argv[1][0] == 'c')
		return ctl_hold_create(&o);
	if (argv[1][0] == 'l')
		return ctl_hold_list(&o);
	return ctl_hold_release(&o);
}

/* -- purge ------------------------------------------------------------------------ */

static void
ctl_purge_usage(FILE *f)
{
	fprintf(f,
	    "usage: cofferctl purge [--tenant T] [--dry-run | --yes] "
	    "[--reason TEXT]\n"
	    "                       [--max-clock-skew SECONDS] [--config FILE]\n"
	    "Disposes of records past retention, outside every active hold and\n"
	    "outside the scope of every matter that is not closed, leaving a\n"
	    "tombstone per record (a month every record of which goes is\n"
	    "dropped whole: one tombstone per partition and stream), and\n"
	    "destroys the wrapped key of every epoch\n"
	    "left without records.  Shows what it would dispose of (by tenant,\n"
	    "channel and age, and what open matters keep) and asks on the\n"
	    "terminal first; --yes does not ask (automation), --dry-run only\n"
	    "shows.  Refused when the database and this host disagree on the\n"
	    "time by more than --max-clock-skew (default %u s).\n",
	    CTL_SKEW_DEFAULT);
}

/* |database clock - our clock| in µs, bounded by the round trip. */
static int
ctl_clock_skew(PGconn *c, long long *skew_us)
{
	char err[CTL_ERR], *end;
	long long t0, t1, db;
	PGresult *r;

	t0 = util_now_us();
	r = pg_query(c, "SELECT (EXTRACT(epoch FROM "
	    "pg_catalog.clock_timestamp()) * 1000000)::int8", NULL, err,
	    sizeof(err));
	t1 = util_now_us();
	if (r == NULL) {
		ctl_fail("%s", err);
		return -1;
	}
	errno = 0;
	db = strtoll(PQgetvalue(r, 0, 0), &end, 10);
	if (errno != 0 || *end != '\0') {
		PQclear(r);
		ctl_fail("cannot read the database clock");
		return -1;
	}
	PQclear(r);
	*skew_us = db < t0 ? t0 - db : db > t1 ? db - t1 : 0;
	return 0;
}

/* Merkle root over the 32-byte hashes sql returns for ($1 tenant, $2
 * purge), in its order; *n: how many (0: none, root untouched). */
static int
ctl_hash_root(PGconn *c, const char *sql, const unsigned char tid[UTIL_UUID_BYTES],
    const unsigned char pid[UTIL_UUID_BYTES], unsigned char root[VAULT_HASH_BYTES],
    long long *n)
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char *leaves = NULL;
	char err[CTL_ERR];
	PGresult *r;
	int i, rows, rc = -1;

	p.result_binary = 1;
	pg_param_bin(&p, tid, UTIL_UUID_BYTES);
	pg_param_bin(&p, pid, UTIL_UUID_BYTES);
	r = pg_query(c, sql, &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("%s", err);
		return -1;
	}
	rows = PQntuples(r);
	*n = rows;
	if (rows == 0) {
		rc = 0;
		goto done;
	}
	if ((leaves = malloc((size_t)rows * VAULT_HASH_BYTES)) == NULL) {
		ctl_fail("out of memory");
		goto done;
	}
	for (i = 0; i < rows; i++) {
		if (PQgetlength(r, i, 0) != VAULT_HASH_BYTES) {
			ctl_fail("malformed hash in a tombstone or batch row");
			goto done;
		}
		memcpy(leaves + (size_t)i * VAULT_HASH_BYTES, PQgetvalue(r, i, 0),
		    VAULT_HASH_BYTES);
	}
	if (vault_merkle_root(leaves, (size_t)rows, root) != 0) {
		ctl_fail("cannot compute a Merkle root");
		goto done;
	}
	rc = 0;
done:
	free(leaves);
	PQclear(r);
	return rc;
}

/* Merkle root of the leaf hashes of one purge's row tombstones, in
 * (stream, seq) order — the order `verify` reads them back in. */
static int
ctl_purge_root(PGconn *c, const unsigned char tid[UTIL_UUID_BYTES],
    const unsigned char pid[UTIL_UUID_BYTES], long long expect,
    unsigned char root[VAULT_HASH_BYTES])
{
	long long n;

	if (ctl_hash_root(c, "SELECT leaf_hash FROM coffer.tombstones "
	    "WHERE tenant_id = $1::uuid AND purge_id = $2::uuid "
	    "ORDER BY stream_id, seq", tid, pid, root, &n) != 0)
		return -1;
	if (n != expect || n == 0) {
		ctl_fail("purge wrote %lld tombstones, expected %lld", n, expect);
		return -1;
	}
	return 0;
}

/* Merkle root of the roots of the batches one purge dropped with their
 * partitions (coffer.partition_tombstones, 0019), in (stream, batch_no)
 * order — the order `verify` reads them back in.  *nbatches: how many. */
static int
ctl_partition_root(PGconn *c, const unsigned char tid[UTIL_UUID_BYTES],
    const unsigned char pid[UTIL_UUID_BYTES], unsigned char root[VAULT_HASH_BYTES],
    long long *nbatches)
{
	if (ctl_hash_root(c, "SELECT b.merkle_root FROM "
	    "coffer.partition_tombstones pt JOIN coffer.batches b "
	    "ON b.tenant_id = pt.tenant_id AND b.stream_id = pt.stream_id "
	    "AND b.batch_no <@ pt.batches WHERE pt.tenant_id = $1::uuid "
	    "AND pt.purge_id = $2::uuid ORDER BY pt.stream_id, b.batch_no", tid,
	    pid, root, nbatches) != 0)
		return -1;
	if (*nbatches == 0) {
		ctl_fail("purge dropped partitions but no batch is covered");
		return -1;
	}
	return 0;
}

/* What one run of purge_expired() does (or would do) in the current
 * transaction: prints it (per tenant: counts, the plan by channel and age,
 * the matters that kept records) and, when audit is set, appends each
 * tenant's purge event.  tot: purged, held, future, shredded, preserved.
 * 0, or -1 (message printed). */
static int
ctl_purge_run(PGconn *c, const ctl_opts *o, const unsigned char *tid,
    int dry, int audit, const char *actor,
    const unsigned char pid[UTIL_UUID_BYTES], const char *pidstr,
    const char *auth, long long tot[5])
{
	pg_params p = PG_PARAMS_INIT;
	char err[CTL_ERR];
	PGresult *r;
	int i, k, rc = -1;

	for (k = 0; k < 5; k++)
		tot[k] = 0;
	if (tid != NULL)
		pg_param_bin(&p, tid, UTIL_UUID_BYTES);
	else
		pg_param_null(&p);
	pg_param_bin(&p, pid, UTIL_UUID_BYTES);
	pg_param_text(&p, auth);
	pg_param_text(&p, dry ? "t" : "f");
	r = pg_query(c, "SELECT p.tenant, t.name, p.purged, p.held, "
	    "p.future, p.shredded, p.preserved, p.matters::text, p.plan::text, "
	    "p.dropped, array_to_json(p.partitions)::text "
	    "FROM coffer.purge_expired($1::uuid, $2::uuid, $3, $4::boolean) p "
	    "JOIN coffer.tenants t ON t.tenant_id = p.tenant "
	    "ORDER BY t.name", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("purge failed: %s", err);
		return -1;
	}
	for (i = 0; i < PQntuples(r); i++) {
		unsigned char t[UTIL_UUID_BYTES], root[VAULT_HASH_BYTES];
		char roothex[2 * VAULT_HASH_BYTES + 1], *detail;
		char proothex[2 * VAULT_HASH_BYTES + 1];
		json_t *matters, *plan, *parts, *x;
		json_error_t jerr;
		long long v[5], dropped, nbatches = 0;
		size_t j;

		if (util_uuid_parse(t, PQgetvalue(r, i, 0)) != 0) {
			ctl_fail("unexpected purge result");
			goto done;
		}
		for (k = 0; k < 5; k++) {
			v[k] = strtoll(PQgetvalue(r, i, 2 + k), NULL, 10);
			tot[k] += v[k];
		}
		dropped = strtoll(PQgetvalue(r, i, 9), NULL, 10);
		matters = json_loads(PQgetvalue(r, i, 7), 0, &jerr);
		plan = json_loads(PQgetvalue(r, i, 8), 0, &jerr);
		parts = json_loads(PQgetvalue(r, i, 10), 0, &jerr);
		if (!json_is_array(matters) || !json_is_array(plan) ||
		    !json_is_array(parts) || dropped < 0 || dropped > v[0]) {
			json_decref(matters);
			json_decref(plan);
			json_decref(parts);
			ctl_fail("unexpected purge result");
			goto done;
		}
		printf("tenant %-24.64s %s %lld records, kept %lld under hold, "
		    "%lld for open matters, %lld with a future timestamp, %s %lld "
		    "epoch keys\n", PQgetvalue(r, i, 1),
		    dry ? "would purge" : "purged", v[0], v[1], v[4], v[2],
		    dry ? "would shred" : "shredded", v[3]);
		json_array_foreach(plan, j, x)
			printf("  %s %lld records: channel %.16s, held %.32s\n",
			    dry ? "would dispose of" : "disposed of",
			    (long long)json_integer_value(json_object_get(x, "records")),
			    json_string_value(json_object_get(x, "channel")),
			    json_string_value(json_object_get(x, "age")));
		/* Matter ids and counts only: a matter's title or scope may
		 * name people. */
		json_array_foreach(matters, j, x)
			printf("  kept %lld records past retention: in the scope of "
			    "matter %.36s (%.16s), which is not closed\n",
			    (long long)json_integer_value(json_object_get(x, "records")),
			    json_string_value(json_object_get(x, "matter_id")),
			    json_string_value(json_object_get(x, "state")));
		json_array_foreach(parts, j, x)
			printf("  %s partition %.32s whole\n",
			    dry ? "would drop" : "dropped", json_string_value(x));
		if (dropped > 0)
			printf("  %lld of these records %s with their partition%s "
			    "(no tombstone per record)\n", dropped,
			    dry ? "would go" : "went",
			    json_array_size(parts) == 1 ? "" : "s");
		json_decref(plan);
		if (!audit) {
			json_decref(matters);
			json_decref(parts);
			continue;
		}
		roothex[0] = '\0';
		proothex[0] = '\0';
		if (!dry && v[0] > dropped) {
			if (ctl_purge_root(c, t, pid, v[0] - dropped, root) != 0) {
				json_decref(matters);
				json_decref(parts);
				goto done;
			}
			util_hex(roothex, root, VAULT_HASH_BYTES);
		}
		if (!dry && dropped > 0) {
			if (ctl_partition_root(c, t, pid, root, &nbatches) != 0) {
				json_decref(matters);
				json_decref(parts);
				goto done;
			}
			util_hex(proothex, root, VAULT_HASH_BYTES);
		}
		detail = ctl_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, "
		    "s:s?, s:I, s:I, s:s?, s:o, s:b, s:s?}", "purge_id", pidstr,
		    "records", (json_int_t)v[0], "held", (json_int_t)v[1],
		    "future", (json_int_t)v[2], "epochs_shredded", (json_int_t)v[3],
		    "preserved", (json_int_t)v[4], "matters", matters,
		    "tombstone_root", roothex[0] ? roothex : NULL,
		    "partition_records", (json_int_t)dropped,
		    "partition_batches", (json_int_t)nbatches,
		    "partition_root", proothex[0] ? proothex : NULL,
		    "partitions", parts,
		    "dry_run", dry, "reason", o->reason));
		if (detail == NULL) {
			ctl_fail("out of memory");
			goto done;
		}
		k = ctl_audit(c, t, actor, dry ? "purge.dry-run" : "purge",
		    pidstr, "ok", detail);
		free(detail);
		if (k != 0)
			goto done;
	}
	rc = 0;
done:
	PQclear(r);
	return rc;
}

/* The purge node's audit key replaces cofferctl's own signer. */
static int
ctl_purge_signer(void)
{
	const char *key = getenv("COFFER_PURGE_KEY");
	const char *node = getenv("COFFER_PURGE_NODE");
	char err[512];

	if (key == NULL || key[0] == '\0' || node == NULL || node[0] == '\0') {
		ctl_fail("purge refused: purge events are signed "
		    "with the purge node's key: set COFFER_PURGE_KEY and "
		    "COFFER_PURGE_NODE (cofferctl node init --kind purge)");
		return -1;
	}
	if (audit_signer_load(node, key, err, sizeof(err)) != 0) {
		ctl_fail("COFFER_PURGE_KEY/COFFER_PURGE_NODE: "
		    "%s", err);
		return -1;
	}
	return 0;
}

/* Ask on the terminal; 1 only for "yes".  No terminal: 0 with a message. */
static int
ctl_purge_confirm(long long records, long long epochs)
{
	char line[16];
	FILE *tty = fopen("/dev/tty", "r+");
	int ok;

	if (tty == NULL) {
		ctl_fail("purge refused: %lld records and %lld "
		    "epoch keys would be destroyed and there is no terminal to "
		    "confirm on; pass --yes to purge without asking", records,
		    epochs);
		return 0;
	}
	fprintf(tty, "Destroy %lld records and %lld epoch keys for good? "
	    "Type 'yes' to purge: ", records, epochs);
	fflush(tty);
	ok = fgets(line, sizeof(line), tty) != NULL &&
	    strcmp(line, "yes\n") == 0;
	fclose(tty);
	if (!ok)
		ctl_fail("purge cancelled: nothing was "
		    "disposed of");
	return ok;
}

static int
ctl_purge(const ctl_opts *o)
{
	unsigned char tid[UTIL_UUID_BYTES], pid[UTIL_UUID_BYTES];
	char tname[CTL_TENANT_NAME_MAX], actor[128], err[CTL_ERR];
	char pidstr[UTIL_UUID_STRLEN + 1], auth[1024];
	unsigned skew_s = CTL_SKEW_DEFAULT;
	long long skew_us, tot[5], shown[5];
	const unsigned char *t = NULL;
	PGconn *c = NULL;
	int rc = 1;

	if (o->skew != NULL && ctl_parse_uint(o->skew, 0, 86400, &skew_s) != 0) {
		ctl_fail("--max-clock-skew must be 0..86400 "
		    "seconds");
		return 2;
	}
	/* Purge events are signed by the purge node's key (issue 13.5). */
	if (ctl_purge_signer() != 0)
		return 1;
	if ((c = ctl_connect(o->config)) == NULL)
		return 1;
	if (o->tenant != NULL) {
		if (ctl_tenant(c, o->tenant, tid, tname) != 0)
			goto done;
		t = tid;
	}
	if (ctl_clock_skew(c, &skew_us) != 0)
		goto done;
	if (skew_us > (long long)skew_s * 1000000LL) {
		ctl_fail("purge refused: the database clock and "
		    "this host's clock differ by %.1f s (limit %u s, "
		    "--max-clock-skew); retention is computed from the database "
		    "clock, so fix time synchronisation (NTP) on both hosts "
		    "first", (double)skew_us / 1e6, skew_s);
		goto done;
	}
	ctl_actor(c, actor, sizeof(actor));
	util_uuid_random(pid);
	util_uuid_format(pidstr, pid);
	snprintf(auth, sizeof(auth), "cofferctl purge %s by %s%s%s", pidstr, actor,
	    o->reason != NULL ? ": " : "", o->reason != NULL ? o->reason : "");

	if (!o->dry_run && !o->yes) {
		/* Show what would go, ask, then purge in a new transaction: no
		 * lock on holds, policies or matters is held while a person
		 * reads.  The purge may not destroy more than was shown. */
		if (pg_begin(c, err, sizeof(err)) != 0) {
			ctl_fail("%s", err);
			goto done;
		}
		if (ctl_purge_run(c, o, t, 1, 0, actor, pid, pidstr, auth,
		    shown) != 0)
			goto done;
		(void)pg_rollback(c);
		if ((shown[0] > 0 || shown[3] > 0) &&
		    !ctl_purge_confirm(shown[0], shown[3]))
			goto done;
	}
	if (pg_begin(c, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto done;
	}
	if (ctl_purge_run(c, o, t, o->dry_run, 1, actor, pid, pidstr, auth,
	    tot) != 0)
		goto done;
	if (!o->dry_run && !o->yes && (tot[0] > shown[0] || tot[3] > shown[3])) {
		ctl_fail("purge refused: %lld records and %lld "
		    "epoch keys are due now, more than the %lld and %lld "
		    "confirmed; nothing was disposed of, run it again", tot[0],
		    tot[3], shown[0], shown[3]);
		goto done;
	}
	if (ctl_commit(c) != 0)
		goto done;
	/* Keep monthly partitions three months ahead (0018): a purge is the
	 * one job every archive runs regularly. */
	if (!o->dry_run) {
		PGresult *pr = pg_query(c, "SELECT "
		    "coffer.records_partitions_ahead()", NULL, err,
		    sizeof(err));

		if (pr == NULL)
			fprintf(stderr, "cofferctl purge: warning: monthly "
			    "partitions not made ahead: %s\n", err);
		PQclear(pr);
	}
	printf("purge %s%s: %lld records %s, %lld held, %lld future, %lld epoch "
	    "keys %s, %lld kept for open matters\n", pidstr,
	    o->dry_run ? " (dry run)" : "", tot[0],
	    o->dry_run ? "would go" : "purged", tot[1], tot[2], tot[3],
	    o->dry_run ? "would be shredded" : "shredded", tot[4]);
	rc = 0;
done:
	if (c != NULL)
		(void)pg_rollback(c);
	pg_close(&c);
	return rc;
}

int
ctl_cmd_purge(int argc, char **argv)
{
	ctl_opts o;
	int rc;

	if (ctl_opts_parse(argc, argv, 1, "|--config|--tenant|--dry-run|"
	    "--reason|--max-clock-skew|--yes|", &o) != 0) {
		ctl_purge_usage(stderr);
		return 2;
	}
	if (o.help) {
		ctl_purge_usage(stdout);
		return 0;
	}
	rc = ctl_purge(&o);
	(void)ctl_audit_env();        /* the operator's signer again */
	return rc;
}
