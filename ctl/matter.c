/* ctl/matter.c — `cofferctl matter create|list|show|wait|download|close`
 * for legal users and `cofferctl approvals pending` for custodians: the
 * eDiscovery workflow over the API (README, "Legal and custodian
 * workflow"), without hand-written JSON or curl.
 *
 * Trusts: the API only as far as TLS with the given CA proves its identity
 * (ctl/apiclient.h); everything it sends is data: strings shown are made
 * printable and capped, numbers are read as JSON integers.  The scope file
 * and flags are checked here before anything is sent (times, channels,
 * lengths), and the API checks them again.  Participant values are sent to
 * the API and never printed by this file, except those the API returns to
 * the person who typed them or to custodians who decide on them.
 *
 * Opening a download calls ctl_export_open (ctl/export.h): the same proofs
 * as `cofferctl export open`, never a shell.
 */
#include "ctl/ctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/channels.h"
#include "common/log.h"
#include "common/retention.h"
#include "common/util.h"
#include "ctl/apiclient.h"
#include "ctl/export.h"
#include "vault/mem.h"

#define MT_LIST_MAX    1000U          /* values of one scope list (the API's) */
#define MT_SCOPE_MAX   (1024U * 1024U) /* bytes of a --scope file */
#define MT_PATH        512U
#define MT_SHOW        CTL_API_SHOW
#define MT_BAR         30

static const char mt_usage_text[] =
    "usage: cofferctl matter create --title T --basis B --from TIME --to TIME\n"
    "                               [--participant P]... [--conversation C]...\n"
    "                               [--channel C]... [--scope FILE] [--fail-if-empty]\n"
    "                               [--kind ediscovery|regulator-request]\n"
    "       cofferctl matter list [--state S] [--json]\n"
    "       cofferctl matter show M [--json]\n"
    "       cofferctl matter wait M [--timeout S] [--interval S]\n"
    "       cofferctl matter download M --out FILE [--key KEYFILE --open DIR\n"
    "                               [--nodes PINS] [--passphrase-file F]]\n"
    "       cofferctl matter close M\n"
    "  M is a matter id (or --matter M).  Every subcommand takes the API options\n"
    "  --api URL --cert F --tls-key F --ca F (defaults $COFFER_API_URL, $COFFER_CERT,\n"
    "  $COFFER_KEY, $COFFER_CA); outside `download`, --key is the TLS key too.\n"
    "  In `download`, --key is the production key file, as in `export open`.\n"
    "  TIME: RFC 3339 with an offset (2026-01-31T00:00:00Z).  --scope FILE: a\n"
    "  JSON object with the API's scope keys (participants, conversations,\n"
    "  channels, from, to); flags add to it.  A scope that matches 0 records\n"
    "  prints a WARNING on stderr; --fail-if-empty closes that matter again\n"
    "  and exits 1.  --kind regulator-request: records furnished to a regulator,\n"
    "  approved under the tenant's designated-third-party rule\n"
    "  (cofferctl tenant set-d3p-rule); the default is ediscovery.\n";

static const char ap_pending_usage[] =
    "usage: cofferctl approvals pending [--json] [--api URL --cert F --key F --ca F]\n"
    "  the open matters of your tenant that your custodian index has not\n"
    "  approved yet: title, legal basis, requester, scope, epochs, age.\n"
    "  Approve one with `cofferctl approve --matter M --share FILE`.\n";

typedef struct mt_opts {
	ctl_api     api;
	const char *sub;
	const char *matter;
	const char *title, *basis, *from, *to, *scope_file, *state;
	const char *out, *prodkey, *open_dir, *nodes, *passfile, *kind;
	const char *participants[MT_LIST_MAX], *conversations[MT_LIST_MAX];
	const char *channels[MT_LIST_MAX];
	size_t      np, nc, nch;
	long        timeout, interval;
	int         json, fail_if_empty;
} mt_opts;

enum { MT_O_API = 1, MT_O_CERT, MT_O_KEY, MT_O_TLSKEY, MT_O_CA, MT_O_MATTER,
       MT_O_TITLE, MT_O_BASIS, MT_O_PART, MT_O_CONV, MT_O_CHAN, MT_O_FROM,
       MT_O_TO, MT_O_SCOPE, MT_O_EMPTY, MT_O_STATE, MT_O_JSON, MT_O_TIMEOUT,
       MT_O_INTERVAL, MT_O_OUT, MT_O_OPEN, MT_O_NODES, MT_O_PASS, MT_O_HELP,
       MT_O_KIND };

static const struct option mt_long[] = {
	{ "api",             required_argument, NULL, MT_O_API },
	{ "cert",            required_argument, NULL, MT_O_CERT },
	{ "key",             required_argument, NULL, MT_O_KEY },
	{ "tls-key",         required_argument, NULL, MT_O_TLSKEY },
	{ "ca",              required_argument, NULL, MT_O_CA },
	{ "matter",          required_argument, NULL, MT_O_MATTER },
	{ "title",           required_argument, NULL, MT_O_TITLE },
	{ "basis",           required_argument, NULL, MT_O_BASIS },
	{ "participant",     required_argument, NULL, MT_O_PART },
	{ "conversation",    required_argument, NULL, MT_O_CONV },
	{ "channel",         required_argument, NULL, MT_O_CHAN },
	{ "from",            required_argument, NULL, MT_O_FROM },
	{ "to",              required_argument, NULL, MT_O_TO },
	{ "scope",           required_argument, NULL, MT_O_SCOPE },
	{ "fail-if-empty",   no_argument,       NULL, MT_O_EMPTY },
	{ "state",           required_argument, NULL, MT_O_STATE },
	{ "json",            no_argument,       NULL, MT_O_JSON },
	{ "timeout",         required_argument, NULL, MT_O_TIMEOUT },
	{ "interval",        required_argument, NULL, MT_O_INTERVAL },
	{ "out",             required_argument, NULL, MT_O_OUT },
	{ "open",            required_argument, NULL, MT_O_OPEN },
	{ "nodes",           required_argument, NULL, MT_O_NODES },
	{ "passphrase-file", required_argument, NULL, MT_O_PASS },
	{ "help",            no_argument,       NULL, MT_O_HELP },
	{ "kind",            required_argument, NULL, MT_O_KIND },
	{ NULL, 0, NULL, 0 }
};

/* Which options each subcommand takes, besides the API ones and --help. */
static const struct {
	const char *sub;
	const char *allowed;
} mt_allowed[] = {
	{ "create",   "|title|basis|participant|conversation|channel|from|to|"
	              "scope|fail-if-empty|json|kind|" },
	{ "list",     "|state|json|" },
	{ "show",     "|matter|json|" },
	{ "wait",     "|matter|timeout|interval|" },
	{ "download", "|matter|out|open|nodes|passphrase-file|" },
	{ "close",    "|matter|" },
};

static int
mt_add(const char **list, size_t *n, const char *v, const char *what)
{
	if (*n >= MT_LIST_MAX) {
		ctl_fail("matter create: at most %u %ss", MT_LIST_MAX, what);
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

/* 0, 1 (--help printed) or the usage exit status. */
static int
mt_parse(int argc, char **argv, mt_opts *o)
{
	const char *allowed = NULL, *name;
	char want[40];
	size_t i;
	int c, idx;

	memset(o, 0, sizeof(*o));
	o->timeout = 3600;
	o->interval = 2;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc >= 2) {
			fputs(mt_usage_text, stdout);
			return 1;
		}
		return ctl_usage(mt_usage_text, "matter: a subcommand is required");
	}
	o->sub = argv[1];
	for (i = 0; i < sizeof(mt_allowed) / sizeof(mt_allowed[0]); i++)
		if (strcmp(o->sub, mt_allowed[i].sub) == 0)
			allowed = mt_allowed[i].allowed;
	if (allowed == NULL)
		return ctl_usage(mt_usage_text, "matter: unknown subcommand; one of "
		    "create, list, show, wait, download, close");
	ctl_api_init(&o->api, o->sub);   /* re-prefixed below */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", mt_long, &idx)) != -1) {
		if (c == '?' || c == ':')
			return ctl_usage(mt_usage_text, "matter %s: unknown option or "
			    "missing value", o->sub);
		if (c == MT_O_HELP) {
			fputs(mt_usage_text, stdout);
			return 1;
		}
		name = mt_long[idx].name;
		snprintf(want, sizeof(want), "|%s|", name);
		if (c == MT_O_KEY && strcmp(o->sub, "download") == 0) {
			o->prodkey = optarg;    /* the production key, as in export */
			continue;
		}
		if (c > MT_O_CA && strstr(allowed, want) == NULL)
			return ctl_usage(mt_usage_text, "matter %s: --%s does not "
			    "apply", o->sub, name);
		switch (c) {
		case MT_O_API:      o->api.url = optarg; break;
		case MT_O_CERT:     o->api.cert = optarg; break;
		case MT_O_KEY:
		case MT_O_TLSKEY:   o->api.key = optarg; break;
		case MT_O_CA:       o->api.ca = optarg; break;
		case MT_O_MATTER:   o->matter = optarg; break;
		case MT_O_TITLE:    o->title = optarg; break;
		case MT_O_BASIS:    o->basis = optarg; break;
		case MT_O_PART:
			if (mt_add(o->participants, &o->np, optarg, "participant") != 0)
				return CTL_EXIT_USAGE;
			break;
		case MT_O_CONV:
			if (mt_add(o->conversations, &o->nc, optarg, "conversation") != 0)
				return CTL_EXIT_USAGE;
			break;
		case MT_O_CHAN:
			if (mt_add(o->channels, &o->nch, optarg, "channel") != 0)
				return CTL_EXIT_USAGE;
			break;
		case MT_O_FROM:     o->from = optarg; break;
		case MT_O_TO:       o->to = optarg; break;
		case MT_O_SCOPE:    o->scope_file = optarg; break;
		case MT_O_EMPTY:    o->fail_if_empty = 1; break;
		case MT_O_KIND:
			if (strcmp(optarg, "ediscovery") == 0)
				o->kind = "ediscovery";
			else if (strcmp(optarg, "regulator-request") == 0)
				o->kind = "regulator_request";
			else
				return ctl_usage(mt_usage_text, "matter create: --kind "
				    "must be ediscovery or regulator-request");
			break;
		case MT_O_STATE:    o->state = optarg; break;
		case MT_O_JSON:     o->json = 1; break;
		case MT_O_TIMEOUT:
			if (ctl_parse_long(optarg, 1, 86400, &o->timeout) != 0)
				return ctl_usage(mt_usage_text, "matter wait: --timeout "
				    "must be 1..86400 seconds");
			break;
		case MT_O_INTERVAL:
			if (ctl_parse_long(optarg, 1, 60, &o->interval) != 0)
				return ctl_usage(mt_usage_text, "matter wait: --interval "
				    "must be 1..60 seconds");
			break;
		case MT_O_OUT:      o->out = optarg; break;
		case MT_O_OPEN:     o->open_dir = optarg; break;
		case MT_O_NODES:    o->nodes = optarg; break;
		case MT_O_PASS:     o->passfile = optarg; break;
		default:
			return ctl_usage(mt_usage_text, "matter %s: unknown option",
			    o->sub);
		}
	}
	/* One positional argument: the matter id. */
	if (optind + 1 < argc) {
		if (strstr(allowed, "|matter|") == NULL || o->matter != NULL ||
		    optind + 2 < argc)
			return ctl_usage(mt_usage_text, "matter %s: unexpected "
			    "argument", o->sub);
		o->matter = argv[optind + 1];
	}
	if (strstr(allowed, "|matter|") != NULL) {
		unsigned char mid[UTIL_UUID_BYTES];

		if (o->matter == NULL)
			return ctl_usage(mt_usage_text, "matter %s: the matter id is "
			    "required", o->sub);
		if (util_uuid_parse(mid, o->matter) != 0)
			return ctl_usage(mt_usage_text, "matter %s: the matter id must "
			    "be a uuid", o->sub);
	}
	return 0;
}

/* -- create ------------------------------------------------------------------ */

/* --scope FILE into scope (an object with the API's scope keys only). */
static int
mt_scope_file(const char *path, json_t **scope)
{
	static const char *const keys[] = { "participants", "conversations",
	                                    "channels", "from", "to", NULL };
	unsigned char *buf = NULL;
	char err[256];
	json_error_t je;
	const char *k;
	json_t *v;
	size_t len = 0, i;
	int ok;

	*scope = NULL;
	if (util_read_file(path, MT_SCOPE_MAX, &buf, &len, err, sizeof(err)) != 0) {
		ctl_fail("matter create: --scope: %s", err);
		return -1;
	}
	*scope = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	/* It names participants: wiped, not just freed. */
	vault_wipe(buf, len);
	free(buf);
	if (!json_is_object(*scope)) {
		ctl_fail("matter create: --scope %s: not a JSON object (line %d: "
		    "%.80s)", path, je.line, *scope == NULL ? je.text : "not an "
		    "object");
		json_decref(*scope);
		*scope = NULL;
		return -1;
	}
	json_object_foreach(*scope, k, v) {
		for (i = 0, ok = 0; keys[i] != NULL; i++)
			if (strcmp(k, keys[i]) == 0)
				ok = 1;
		if (!ok) {
			char shown[40];

			ctl_fail("matter create: --scope %s: unknown key \"%s\" (keys: "
			    "participants, conversations, channels, from, to)", path,
			    log_printable(shown, sizeof(shown), k, strlen(k)));
			json_decref(*scope);
			*scope = NULL;
			return -1;
		}
	}
	return 0;
}

/* Append flag values to scope[key] (an array, created when absent). */
static int
mt_scope_add(json_t *scope, const char *key, const char *const *vals,
    size_t n)
{
	json_t *a = json_object_get(scope, key);
	size_t i;

	if (n == 0)
		return 0;
	if (a == NULL) {
		if ((a = json_array()) == NULL ||
		    json_object_set_new(scope, key, a) != 0)
			return -1;
	}
	if (!json_is_array(a)) {
		ctl_fail("matter create: --scope: %s must be an array of strings",
		    key);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(vals[i])) != 0) {
			ctl_fail("matter create: --%.12s: not valid UTF-8", key);
			return -1;
		}
	return 0;
}

static int
mt_time(json_t *scope, const char *key, const char *flag)
{
	const char *s;
	json_t *v = json_object_get(scope, key);

	if (flag != NULL) {
		if (json_object_set_new(scope, key, json_string(flag)) != 0)
			v = NULL;
		else
			v = json_object_get(scope, key);
	}
	if (v == NULL) {
		ctl_fail("matter create: --%s is required (or \"%s\" in --scope)",
		    key, key);
		return -1;
	}
	if ((s = json_string_value(v)) == NULL || !util_rfc3339_ok(s)) {
		ctl_fail("matter create: --%s must be an RFC 3339 date-time with an "
		    "offset, e.g. 2026-01-31T00:00:00Z", key);
		return -1;
	}
	return 0;
}

static int
mt_close(const mt_opts *o, const char *matter, int quiet);

static int
mt_create(mt_opts *o)
{
	json_t *scope = NULL, *req = NULL, *ans = NULL, *v;
	ctl_api_buf b;
	json_error_t je;
	char *post = NULL, mid[UTIL_UUID_STRLEN + 1], shown[MT_SHOW + 1];
	const char *s;
	long status = 0;
	size_t i;
	int rc = CTL_EXIT_FAIL;

	memset(&b, 0, sizeof(b));
	if (o->title == NULL || o->title[0] == '\0')
		return ctl_usage(mt_usage_text, "matter create: --title is required");
	if (o->basis == NULL || o->basis[0] == '\0')
		return ctl_usage(mt_usage_text, "matter create: --basis (the legal "
		    "basis) is required");
	for (i = 0; i < o->nch; i++)
		if (!channels_ok(o->channels[i])) {
			ctl_fail("matter create: unknown channel '%s'", log_printable(
			    shown, 32, o->channels[i], strlen(o->channels[i])));
			return CTL_EXIT_USAGE;
		}
	if (o->scope_file != NULL) {
		if (mt_scope_file(o->scope_file, &scope) != 0)
			return CTL_EXIT_FAIL;
	} else if ((scope = json_object()) == NULL) {
		ctl_fail("matter create: out of memory");
		return CTL_EXIT_FAIL;
	}
	if (mt_scope_add(scope, "participants", o->participants, o->np) != 0 ||
	    mt_scope_add(scope, "conversations", o->conversations, o->nc) != 0 ||
	    mt_scope_add(scope, "channels", o->channels, o->nch) != 0 ||
	    mt_time(scope, "from", o->from) != 0 ||
	    mt_time(scope, "to", o->to) != 0) {
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if (json_array_size(json_object_get(scope, "participants")) +
	    json_array_size(json_object_get(scope, "conversations")) == 0) {
		ctl_fail("matter create: the scope needs at least one --participant "
		    "or --conversation");
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	req = json_pack("{s:s, s:s, s:O, s:s}", "title", o->title,
	    "legal_basis", o->basis, "scope", scope, "kind",
	    o->kind != NULL ? o->kind : "ediscovery");
	if (req == NULL || (post = json_dumps(req, JSON_COMPACT)) == NULL) {
		ctl_fail("matter create: --title or --basis is not valid UTF-8");
		goto out;
	}
	if (ctl_api_request(&o->api, "POST", "/v1/matters", post, &status,
	    &b) != 0)
		goto out;
	if (status != 201) {
		ctl_api_error(&o->api, "refused", status, &b);
		goto out;
	}
	ans = json_loadb(b.p != NULL ? b.p : "", b.len, 0, &je);
	s = json_string_value(json_object_get(ans, "matter_id"));
	if (s == NULL || strlen(s) != UTIL_UUID_STRLEN ||
	    !json_is_integer(json_object_get(ans, "record_count"))) {
		ctl_fail("matter create: the API's answer is not a created matter");
		goto out;
	}
	memcpy(mid, s, sizeof(mid));
	if (o->json) {
		fwrite(b.p, 1, b.len, stdout);
		fputc('\n', stdout);
	} else {
		printf("matter_id:    %s\n", mid);
		printf("kind:         %s\n", o->kind != NULL &&
		    strcmp(o->kind, "regulator_request") == 0 ?
		    "regulator request" : "ediscovery");
		printf("record_count: %lld\n", (long long)json_integer_value(
		    json_object_get(ans, "record_count")));
		printf("epochs:       %lld\n", (long long)json_integer_value(
		    json_object_get(ans, "epochs")));
	}
	fflush(stdout);
	if ((v = json_object_get(ans, "warning")) != NULL) {
		fprintf(stderr, "cofferctl: WARNING: matter %s: %s\n", mid,
		    json_string_value(v) != NULL ? log_printable(shown,
		    sizeof(shown), json_string_value(v),
		    strlen(json_string_value(v))) : "0 records in scope");
		if (o->fail_if_empty) {
			if (mt_close(o, mid, 1) == CTL_EXIT_OK)
				ctl_fail("matter create: the scope matches 0 records; "
				    "matter %s was closed again (--fail-if-empty)", mid);
			goto out;
		}
	} else {
		printf("custodians approve with: cofferctl approve --matter %s "
		    "--share FILE\n", mid);
	}
	rc = CTL_EXIT_OK;
out:
	if (post != NULL) {
		vault_wipe(post, strlen(post));
		free(post);
	}
	ctl_api_buf_free(&b);
	json_decref(ans);
	json_decref(req);
	json_decref(scope);
	return rc;
}

/* -- list and show ----------------------------------------------------------- */

/* "3d", "5h", "12m", "40s" since an API timestamp (YYYY-MM-DDTHH:MM:SS…Z). */
static const char *
mt_age(const char *ts, char *buf, size_t cap)
{
	struct tm tm;
	time_t t, now = time(NULL);
	long long d;

	memset(&tm, 0, sizeof(tm));
	if (ts == NULL || strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) == NULL ||
	    (t = timegm(&tm)) == (time_t)-1)
		return "?";
	d = (long long)(now - t);
	if (d < 0)
		d = 0;
	if (d >= 86400)
		snprintf(buf, cap, "%lldd", d / 86400);
	else if (d >= 3600)
		snprintf(buf, cap, "%lldh", d / 3600);
	else if (d >= 60)
		snprintf(buf, cap, "%lldm", d / 60);
	else
		snprintf(buf, cap, "%llds", d);
	return buf;
}

/* One line of scope: entered participants (when the API shows them) or
 * their count, conversations, channels, time range. */
static void
mt_scope_line(FILE *f, const json_t *scope)
{
	const json_t *pe = json_object_get(scope, "participants_entered");
	char a[MT_SHOW + 1], b[MT_SHOW + 1];
	json_t *v;
	size_t i;

	if (json_array_size(pe) > 0) {
		fputs("participants ", f);
		json_array_foreach(pe, i, v) {
			const char *s = json_string_value(v);

			fprintf(f, "%s%s", i ? ", " : "", s != NULL ?
			    log_printable(a, 80, s, strlen(s)) : "?");
		}
	} else {
		const char *u = json_string_value(json_object_get(scope,
		    "participants_entered_unavailable"));

		fprintf(f, "%lld participant(s)", (long long)json_integer_value(
		    json_object_get(scope, "participants")));
		/* the seed that sealed them is gone (api/blind.h) */
		if (u != NULL)
			fprintf(f, " (as entered unavailable: %s)",
			    log_printable(b, sizeof(b), u, strlen(u)));
	}
	fprintf(f, "; %lld conversation(s); channels ", (long long)
	    json_integer_value(json_object_get(scope, "conversations")));
	if (json_array_size(json_object_get(scope, "channels")) == 0)
		fputs("all", f);
	json_array_foreach(json_object_get(scope, "channels"), i, v) {
		const char *s = json_string_value(v);

		fprintf(f, "%s%s", i ? "," : "", s != NULL ? log_printable(a, 32, s,
		    strlen(s)) : "?");
	}
	fprintf(f, "; %s .. %s\n", ctl_api_str(scope, "from", a, sizeof(a)),
	    ctl_api_str(scope, "to", b, sizeof(b)));
}

static int
mt_list(const mt_opts *o)
{
	char path[MT_PATH], a[MT_SHOW + 1], t[MT_SHOW + 1], st[16], cr[40], kd[24];
	char who[40], age[32];
	json_t *ans = NULL, *v;
	size_t i;

	snprintf(path, sizeof(path), "/v1/matters%s%s", o->state ? "?state=" : "",
	    o->state ? o->state : "");
	if (o->state != NULL && strspn(o->state, "abcdefghijklmnopqrstuvwxyz") !=
	    strlen(o->state))
		return ctl_usage(mt_usage_text, "matter list: --state must be one "
		    "of open, approved, building, ready, failed, closed");
	if (ctl_api_get_json(&o->api, "list", path, &ans) != 0)
		return CTL_EXIT_FAIL;
	if (o->json) {
		json_dumpf(ans, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(ans);
		return CTL_EXIT_OK;
	}
	if (json_array_size(json_object_get(ans, "matters")) == 0) {
		printf("no matters%s%s\n", o->state ? " in state " : "",
		    o->state ? o->state : "");
		json_decref(ans);
		return CTL_EXIT_OK;
	}
	printf("%-36s  %-8s  %-17s  %-20s  %-5s  %-16s  %s\n", "MATTER", "STATE",
	    "KIND", "CREATED", "AGE", "REQUESTER", "TITLE");
	json_array_foreach(json_object_get(ans, "matters"), i, v) {
		printf("%-36.36s  %-8s  %-17s  %-20.19s  %-5s  %-16s  %s\n",
		    ctl_api_str(v, "matter_id", a, 40),
		    ctl_api_str(v, "state", st, sizeof(st)),
		    ctl_api_str(v, "kind", kd, sizeof(kd)),
		    ctl_api_str(v, "created_at", cr, sizeof(cr)),
		    mt_age(json_string_value(json_object_get(v, "created_at")), age,
		    sizeof(age)), ctl_api_str(v, "requester", who, sizeof(who)),
		    ctl_api_str(v, "title", t, sizeof(t)));
	}
	json_decref(ans);
	return CTL_EXIT_OK;
}

static int
mt_get_matter(const mt_opts *o, json_t **m)
{
	char path[MT_PATH], what[64];

	snprintf(path, sizeof(path), "/v1/matters/%s", o->matter);
	snprintf(what, sizeof(what), "matter %s", o->matter);
	return ctl_api_get_json(&o->api, what, path, m);
}

static int
mt_show(const mt_opts *o)
{
	char a[MT_SHOW + 1], b[MT_SHOW + 1];
	json_t *m = NULL, *scope, *v;
	size_t i;

	if (mt_get_matter(o, &m) != 0)
		return CTL_EXIT_FAIL;
	if (o->json) {
		json_dumpf(m, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(m);
		return CTL_EXIT_OK;
	}
	scope = json_object_get(m, "scope");
	printf("matter:       %s\n", ctl_api_str(m, "matter_id", a, sizeof(a)));
	printf("title:        %s\n", ctl_api_str(m, "title", a, sizeof(a)));
	printf("legal basis:  %s\n", ctl_api_str(m, "legal_basis", a, sizeof(a)));
	if (json_is_string(json_object_get(m, "kind")) && strcmp(
	    json_string_value(json_object_get(m, "kind")), "regulator_request")
	    == 0)
		printf("kind:         regulator request (designated third party: "
		    "%s; approved: %s)\n", ctl_api_str(m, "regulator_d3p", b,
		    sizeof(b)), json_is_true(json_object_get(m, "d3p_approved")) ?
		    "yes" : "no");
	else
		printf("kind:         ediscovery\n");
	printf("state:        %s (%lld%% built)\n", ctl_api_str(m, "state", a,
	    sizeof(a)), (long long)json_integer_value(json_object_get(m,
	    "progress")));
	if (json_is_string(json_object_get(m, "failure")))
		printf("failure:      %s\n", ctl_api_str(m, "failure", a, sizeof(a)));
	printf("requested by: %s\n", ctl_api_str(json_object_get(m, "requester"),
	    "name", a, sizeof(a)));
	printf("created:      %s\n", ctl_api_str(m, "created_at", a, sizeof(a)));
	if (json_is_string(json_object_get(m, "closed_at")))
		printf("closed:       %s\n", ctl_api_str(m, "closed_at", a,
		    sizeof(a)));
	printf("scope:        ");
	mt_scope_line(stdout, scope);
	printf("time clock:   %s\n", ctl_api_str(scope, "time_clock", a,
	    sizeof(a)));
	printf("records:      %lld\n", (long long)json_integer_value(
	    json_object_get(m, "record_count")));
	printf("epochs:       %zu\n", json_array_size(json_object_get(m,
	    "epochs")));
	printf("approvals:    %zu of %lld (%lld custodians)",
	    json_array_size(json_object_get(m, "approvals")),
	    (long long)json_integer_value(json_object_get(m, "threshold")),
	    (long long)json_integer_value(json_object_get(m, "custodians")));
	json_array_foreach(json_object_get(m, "approvals"), i, v)
		printf("%s custodian %lld (%s)", i ? "," : ":",
		    (long long)json_integer_value(json_object_get(v,
		    "custodian_index")), ctl_api_str(v, "name", b, 40));
	printf("\n");
	json_decref(m);
	return CTL_EXIT_OK;
}

/* -- wait -------------------------------------------------------------------- */

static void
mt_bar(int pct, const char *state)
{
	char bar[MT_BAR + 1];
	int i, fill = pct * MT_BAR / 100;

	for (i = 0; i < MT_BAR; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[MT_BAR] = '\0';
	fprintf(stderr, "\r[%s] %3d%% %-10s", bar, pct, state);
	fflush(stderr);
}

static int
mt_wait(const mt_opts *o)
{
	char st[16], a[MT_SHOW + 1];
	time_t end = time(NULL) + o->timeout;
	int tty = isatty(STDERR_FILENO), last = -1, pct, rc = CTL_EXIT_FAIL;
	json_t *m = NULL;

	for (;;) {
		json_decref(m);
		m = NULL;
		if (mt_get_matter(o, &m) != 0)
			break;
		ctl_api_str(m, "state", st, sizeof(st));
		pct = (int)json_integer_value(json_object_get(m, "progress"));
		if (pct < 0 || pct > 100)
			pct = 0;
		if (strcmp(st, "ready") == 0)
			pct = 100;
		if (tty) {
			mt_bar(pct, st);
		} else if (pct != last) {
			printf("progress %d%%\n", pct);
			fflush(stdout);
		}
		last = pct;
		if (strcmp(st, "ready") == 0) {
			if (tty)
				fputc('\n', stderr);
			printf("matter %s is ready: %lld records; download with "
			    "`cofferctl matter download %s --out FILE`\n", o->matter,
			    (long long)json_integer_value(json_object_get(m,
			    "record_count")), o->matter);
			rc = CTL_EXIT_OK;
			break;
		}
		if (strcmp(st, "failed") == 0 || strcmp(st, "closed") == 0) {
			if (tty)
				fputc('\n', stderr);
			ctl_fail("matter wait: matter %s is %s%s%s", o->matter, st,
			    json_is_string(json_object_get(m, "failure")) ? ": " : "",
			    json_is_string(json_object_get(m, "failure")) ?
			    ctl_api_str(m, "failure", a, sizeof(a)) : "");
			break;
		}
		if (time(NULL) + o->interval > end) {
			if (tty)
				fputc('\n', stderr);
			ctl_fail("matter wait: timed out after %ld s (matter %s is %s, "
			    "%d%% built%s)", o->timeout, o->matter, st, pct,
			    strcmp(st, "open") == 0 ? ", waiting for custodian "
			    "approvals" : "");
			break;
		}
		sleep((unsigned)o->interval);
	}
	json_decref(m);
	return rc;
}

/* -- download ---------------------------------------------------------------- */

static int
mt_download(const mt_opts *o)
{
	char path[MT_PATH];
	ctl_api_buf b;
	unsigned long long bytes = 0;
	struct export_opts eo;
	long status = 0;

	if (o->out == NULL)
		return ctl_usage(mt_usage_text, "matter download: --out FILE is "
		    "required");
	if ((o->open_dir == NULL) != (o->prodkey == NULL))
		return ctl_usage(mt_usage_text, "matter download: --key KEYFILE and "
		    "--open DIR go together");
	if (o->open_dir == NULL && (o->nodes != NULL || o->passfile != NULL))
		return ctl_usage(mt_usage_text, "matter download: --nodes and "
		    "--passphrase-file only apply with --open");
	memset(&b, 0, sizeof(b));
	snprintf(path, sizeof(path), "/v1/matters/%s/production", o->matter);
	if (ctl_api_download(&o->api, path, o->out, &status, &b, &bytes) != 0)
		return CTL_EXIT_FAIL;
	if (status != 200) {
		ctl_api_error(&o->api, "production", status, &b);
		ctl_api_buf_free(&b);
		return CTL_EXIT_FAIL;
	}
	printf("production of matter %s saved to %s (%llu bytes, sealed to your "
	    "production key)\n", o->matter, o->out, bytes);
	fflush(stdout);
	if (o->open_dir == NULL)
		return CTL_EXIT_OK;
	eo.in = o->out;
	eo.key = o->prodkey;
	eo.out = o->open_dir;
	eo.passfile = o->passfile;
	eo.nodes = o->nodes;
	return ctl_export_open(&eo);
}

/* -- close ------------------------------------------------------------------- */

static int
mt_close(const mt_opts *o, const char *matter, int quiet)
{
	char path[MT_PATH], a[MT_SHOW + 1];
	ctl_api_buf b;
	json_error_t je;
	json_t *ans = NULL;
	long status = 0;
	int rc = CTL_EXIT_FAIL;

	memset(&b, 0, sizeof(b));
	snprintf(path, sizeof(path), "/v1/matters/%s/close", matter);
	if (ctl_api_request(&o->api, "POST", path, NULL, &status, &b) != 0)
		return CTL_EXIT_FAIL;
	if (status == 200) {
		if (!quiet)
			printf("matter %s closed\n", matter);
		rc = CTL_EXIT_OK;
	} else if (status == 202) {
		ans = json_loadb(b.p != NULL ? b.p : "", b.len, 0, &je);
		printf("matter %s has a production: closing it needs a second "
		    "person.\nrequest %s is pending (until %s); another legal or "
		    "admin user approves it with POST /v1/requests/%s/approve\n",
		    matter, ctl_api_str(ans, "request_id", a, 40),
		    ctl_api_str(ans, "expires_at", path, 40),
		    ctl_api_str(ans, "request_id", a, 40));
		rc = CTL_EXIT_OK;
	} else {
		ctl_api_error(&o->api, "refused", status, &b);
	}
	json_decref(ans);
	ctl_api_buf_free(&b);
	return rc;
}

int
ctl_cmd_matter(int argc, char **argv)
{
	mt_opts o;
	char verb[32];
	int rc;

	if ((rc = mt_parse(argc, argv, &o)) != 0)
		return rc == 1 ? CTL_EXIT_OK : rc;
	snprintf(verb, sizeof(verb), "matter %s", o.sub);
	o.api.verb = verb;
	if ((rc = ctl_api_check(&o.api, mt_usage_text)) != 0)
		return rc;
	if (strcmp(o.sub, "create") == 0)
		return mt_create(&o);
	if (strcmp(o.sub, "list") == 0)
		return mt_list(&o);
	if (strcmp(o.sub, "show") == 0)
		return mt_show(&o);
	if (strcmp(o.sub, "wait") == 0)
		return mt_wait(&o);
	if (strcmp(o.sub, "download") == 0)
		return mt_download(&o);
	return mt_close(&o, o.matter, 0);
}

/* -- approvals pending (custodians) ------------------------------------------ */

/* One pending matter for a custodian to read. */
static void
ap_pending_show(const json_t *m)
{
	char a[MT_SHOW + 1], b[MT_SHOW + 1], age[32];

	printf("matter %s  %s\n", ctl_api_str(m, "matter_id", a, 40),
	    ctl_api_str(m, "title", b, sizeof(b)));
	printf("  legal basis:  %s\n", ctl_api_str(m, "legal_basis", a,
	    sizeof(a)));
	printf("  requested by: %s, %s ago\n", ctl_api_str(json_object_get(m,
	    "requester"), "name", a, 40), mt_age(json_string_value(
	    json_object_get(m, "created_at")), age, sizeof(age)));
	printf("  scope:        ");
	mt_scope_line(stdout, json_object_get(m, "scope"));
	printf("  epochs:       %zu (%lld records)\n", json_array_size(
	    json_object_get(m, "epochs")), (long long)json_integer_value(
	    json_object_get(m, "record_count")));
	printf("  approvals:    %zu of %lld\n", json_array_size(json_object_get(m,
	    "approvals")), (long long)json_integer_value(json_object_get(m,
	    "threshold")));
}

int
ctl_cmd_approvals(int argc, char **argv)
{
	ctl_api api;
	char a[MT_SHOW + 1], b[MT_SHOW + 1], path[MT_PATH];
	json_t *who = NULL, *list = NULL, *m = NULL, *arr = NULL, *v, *ap;
	json_int_t me;
	size_t i, j, shown = 0;
	int c, json = 0, mine, rc = CTL_EXIT_FAIL;

	ctl_api_init(&api, "approvals pending");
	if (argc < 2 || strcmp(argv[1], "pending") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "help") == 0)) {
			fputs(ap_pending_usage, stdout);
			return CTL_EXIT_OK;
		}
		return ctl_usage(ap_pending_usage, "approvals: the only subcommand "
		    "is 'pending'");
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", mt_long, NULL)) != -1) {
		switch (c) {
		case MT_O_API:  api.url = optarg; break;
		case MT_O_CERT: api.cert = optarg; break;
		case MT_O_KEY:
		case MT_O_TLSKEY: api.key = optarg; break;
		case MT_O_CA:   api.ca = optarg; break;
		case MT_O_JSON: json = 1; break;
		case MT_O_HELP:
			fputs(ap_pending_usage, stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage(ap_pending_usage, "approvals pending: unknown "
			    "option or missing value");
		}
	}
	if (optind != argc - 1)
		return ctl_usage(ap_pending_usage, "approvals pending: unexpected "
		    "argument");
	if ((rc = ctl_api_check(&api, ap_pending_usage)) != 0)
		return rc;
	rc = CTL_EXIT_FAIL;
	if (ctl_api_get_json(&api, "whoami", "/v1/whoami", &who) != 0)
		goto out;
	me = json_integer_value(json_object_get(who, "custodian_index"));
	if (strcmp(ctl_api_str(who, "role", a, 32), "custodian") != 0 || me <= 0) {
		ctl_fail("approvals pending: this certificate is a %s's, not a "
		    "custodian's", a);
		goto out;
	}
	if (ctl_api_get_json(&api, "list", "/v1/matters?state=open", &list) != 0)
		goto out;
	/* --json: the pending matters as the API shows them, one array. */
	if (json && (arr = json_array()) == NULL) {
		ctl_fail("approvals pending: out of memory");
		goto out;
	}
	json_array_foreach(json_object_get(list, "matters"), i, v) {
		snprintf(path, sizeof(path), "/v1/matters/%s",
		    ctl_api_str(v, "matter_id", a, 40));
		if (ctl_api_get_json(&api, "matter", path, &m) != 0)
			goto out;
		mine = 0;
		json_array_foreach(json_object_get(m, "approvals"), j, ap)
			if (json_integer_value(json_object_get(ap,
			    "custodian_index")) == me)
				mine = 1;
		if (!mine && strcmp(ctl_api_str(m, "state", b, 16), "open") == 0) {
			if (arr != NULL)
				json_array_append(arr, m);
			else
				ap_pending_show(m);
			shown++;
		}
		json_decref(m);
		m = NULL;
	}
	if (arr != NULL) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		rc = CTL_EXIT_OK;
		goto out;
	}
	printf("%zu matter(s) waiting for approval by custodian %lld\n", shown,
	    (long long)me);
	rc = CTL_EXIT_OK;
out:
	json_decref(arr);
	json_decref(m);
	json_decref(list);
	json_decref(who);
	return rc;
}
