/* ctl/user.c — `cofferctl user issue | revoke | list`: people of the API.
 *
 * People hold client certificates from the operator's people CA
 * (PKI/people/, created on first use or by `cofferctl pki people-ca-init`):
 * subject O = tenant, OU = role, CN = name, EKU clientAuth.  Each one is a
 * coffer.users row carrying the certificate's SHA-256 fingerprint (how the
 * API finds the user), its role and, for custodians, the index of the
 * Shamir share they hold.
 *
 * Trusts: the database and the PKI directory.  Does not trust the command
 * line: names pass names_check(), the role is one of four words, a
 * custodian index must lie within the tenant's 1..n.
 *
 * Decisions:
 *  - One active user per (tenant, name).  Issuing again for an active user
 *    with the same role and index re-issues: new key and certificate, the
 *    row keeps its user_id (matters and approvals point at it) and gets the
 *    new fingerprint, so the API stops accepting the previous certificate.
 *    A different role or index needs `user revoke` first.  A revoked user's
 *    name may be issued again: that is a new user (new user_id).
 *  - One active custodian per share index (also a unique index in the
 *    schema); a replacement custodian takes the index once the old holder
 *    is revoked.
 *  - Every account belongs to a person (coffer.persons, migration 0009):
 *    two-person rules compare persons, so one human's legal, custodian and
 *    admin accounts count once.  A new user is a new person named after it
 *    unless --person names an existing one (its id, or the name of exactly
 *    one person of the tenant); a re-issue keeps the account's person.
 *    The link is the operator's declaration: nothing here can tell whether
 *    two names are one human.
 *  - The index key of a person in the people CA is "<tenant>/<name>".
 *  - Ordering and locking as in ctl/device.c.
 *  - Audited (ctl/admin_audit.c), target "user:<name>", in the transaction
 *    of the row: issue writes user.issue (or user.reissue for an active
 *    user) with user_id, role, custodian index, serial and fingerprint;
 *    revoke writes user.revoke with the serials and fingerprint revoked
 *    and whether the CRL was signed.  Revoke signs the CRL first, then
 *    changes the row and appends the event in one transaction (a failed
 *    CRL still revokes the row: the event says crl_signed false and the
 *    command fails; rerunning it signs the CRL and is audited again).
 */
#include "ctl/pki.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "ctl/ctl.h"

#define USR_ERR   512U
#define USR_PATH  4096U

typedef struct usr_opts {
	const char *tenant;
	const char *name;
	const char *role;
	const char *out;
	const char *pki;
	const char *config;
	const char *person;          /* --person UUID|NAME, or NULL: a new one */
	int         index;           /* custodian index, 0 = not given */
	int         days;
	int         third_party;     /* --third-party: the designated third party */
} usr_opts;

static const char usr_usage_text[] =
    "usage: cofferctl user issue --role admin|legal|custodian|auditor "
    "--tenant T --name N --out DIR\n"
    "                            [--custodian-index I] [--days N] "
    "[--pki DIR] [--config FILE]\n"
    "                            [--person PERSON] [--third-party]\n"
    "       cofferctl user revoke --tenant T --name N [--pki DIR] "
    "[--config FILE]\n"
    "       cofferctl user list --tenant T [--pki DIR] [--config FILE]\n"
    "  --custodian-index 1..n (n = the tenant's custodians): the share the\n"
    "  custodian holds in the current generation; a custodian without it\n"
    "  holds no share yet (a recipient of a re-share: cofferctl tenant reshare);\n"
    "  --person (a person id, or the name of an existing person) makes the\n"
    "  new account another account of that person: two-person rules count\n"
    "  persons, not accounts; without it a new user is a new person;\n"
    "  --third-party (custodians only): the account is the designated third\n"
    "  party (SEC 17a-4(f)); it approves only regulator requests;\n"
    "  names: 1-64 of A-Z a-z 0-9 . _ - (not starting with '.' or '-')\n";

static const char *const usr_roles[] = { "admin", "legal", "custodian",
                                         "auditor" };

enum { USR_OPT_TENANT = 1, USR_OPT_NAME, USR_OPT_ROLE, USR_OPT_OUT,
       USR_OPT_INDEX, USR_OPT_DAYS, USR_OPT_PKI, USR_OPT_CONFIG,
       USR_OPT_PERSON, USR_OPT_D3P };

static const struct option usr_long[] = {
	{ "tenant",          required_argument, NULL, USR_OPT_TENANT },
	{ "name",            required_argument, NULL, USR_OPT_NAME },
	{ "role",            required_argument, NULL, USR_OPT_ROLE },
	{ "out",             required_argument, NULL, USR_OPT_OUT },
	{ "custodian-index", required_argument, NULL, USR_OPT_INDEX },
	{ "days",            required_argument, NULL, USR_OPT_DAYS },
	{ "pki",             required_argument, NULL, USR_OPT_PKI },
	{ "config",          required_argument, NULL, USR_OPT_CONFIG },
	{ "person",          required_argument, NULL, USR_OPT_PERSON },
	{ "third-party",     no_argument,       NULL, USR_OPT_D3P },
	{ NULL, 0, NULL, 0 }
};

/* argv[0] is the subcommand.  0, or an exit status for a usage error. */
static int
usr_parse(int argc, char **argv, usr_opts *o)
{
	long v;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;                      /* full re-initialisation (GNU) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", usr_long, NULL)) != -1) {
		switch (c) {
		case USR_OPT_TENANT: o->tenant = optarg; break;
		case USR_OPT_NAME:   o->name = optarg; break;
		case USR_OPT_ROLE:   o->role = optarg; break;
		case USR_OPT_OUT:    o->out = optarg; break;
		case USR_OPT_PKI:    o->pki = optarg; break;
		case USR_OPT_CONFIG: o->config = optarg; break;
		case USR_OPT_PERSON: o->person = optarg; break;
		case USR_OPT_D3P:    o->third_party = 1; break;
		case USR_OPT_INDEX:
			if (ctl_parse_long(optarg, 1, 255, &v) != 0)
				return ctl_usage(usr_usage_text, "user: "
				    "--custodian-index must be 1 to 255");
			o->index = (int)v;
			break;
		case USR_OPT_DAYS:
			if (ctl_parse_long(optarg, 1, PKI_LEAF_DAYS_MAX,
			    &v) != 0)
				return ctl_usage(usr_usage_text, "user: --days "
				    "must be 1 to 825");
			o->days = (int)v;
			break;
		default:
			return ctl_usage(usr_usage_text, "user: unknown option "
			    "or missing value");
		}
	}
	if (optind != argc)
		return ctl_usage(usr_usage_text, "user: unexpected argument");
	if (o->tenant == NULL)
		return ctl_usage(usr_usage_text, "user: --tenant is required");
	return 0;
}

static int
usr_names_ok(const usr_opts *o)
{
	char err[USR_ERR];

	if (names_check("tenant name", o->tenant, err, sizeof(err)) != 0 ||
	    (o->name != NULL &&
	    names_check("user name", o->name, err, sizeof(err)) != 0)) {
		ctl_fail("%s", err);
		return 0;
	}
	return 1;
}

/* The people CA, created on first use. */
static int
usr_ca_open(const usr_opts *o, char *dir, size_t cap, pki_ca **ca)
{
	char err[USR_ERR];

	if (pki_path(dir, cap, pki_root(o->pki), "people", NULL) != 0) {
		ctl_fail("PKI directory path too long");
		return -1;
	}
	if (!pki_ca_exists(dir)) {
		if (pki_ca_init(dir, "Coffer", "Coffer people CA", err,
		    sizeof(err)) == 0)
			printf("people CA created: %s/ca.pem (the API trusts it "
			    "for client certificates)\n", dir);
		else if (!pki_ca_exists(dir)) {   /* else: made concurrently */
			ctl_fail("people CA: %s", err);
			return -1;
		}
	}
	if (pki_ca_open(ca, dir, err, sizeof(err)) != 0) {
		ctl_fail("people CA: %s", err);
		return -1;
	}
	return 0;
}

static int
usr_index_key(const usr_opts *o, char *key, size_t cap)
{
	return (size_t)snprintf(key, cap, "%s/%s", o->tenant, o->name) < cap ?
	    0 : -1;
}

/* Refuse when another active user of the tenant holds the custodian index. */
static int
usr_index_free(PGconn *db, const usr_opts *o, const char *tid,
    const char *index)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char err[USR_ERR], shown[PKI_NAME_MAX + 1];
	const char *holder;
	int ok;

	pg_param_text(&p, tid);
	pg_param_text(&p, index);
	pg_param_text(&p, o->name);
	r = pg_query(db, "SELECT name FROM coffer.users WHERE tenant_id = $1::uuid "
	    "AND custodian_index = $2::integer AND status = 'active' "
	    "AND name <> $3", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("database: %s", err);
		return 0;
	}
	ok = PQntuples(r) == 0;
	if (!ok) {
		holder = PQgetvalue(r, 0, 0);
		ctl_fail("custodian index %s of tenant %s is held by active "
		    "user %s: revoke that user first", index, o->tenant,
		    log_printable(shown, sizeof(shown), holder, strlen(holder)));
	}
	PQclear(r);
	return ok;
}

/* user.issue / user.reissue in the open transaction; 0, or -1 printed. */
static int
usr_audit_issue(PGconn *db, const usr_opts *o, const char *tid,
    const char *uid, const char *pid, int existing, const pki_issued *is)
{
	char err[USR_ERR], target[PKI_NAME_MAX + 8];
	json_t *d;
	int rc;

	snprintf(target, sizeof(target), "user:%s", o->name);
	d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "user", o->name,
	    "user_id", uid, "role", o->role, "serial", pki_issued_serial(is),
	    "fingerprint", pki_issued_fingerprint(is), "person_id", pid);
	if (d != NULL && o->index != 0)
		json_object_set_new(d, "custodian_index", json_integer(o->index));
	if (d != NULL && strcmp(o->role, "custodian") == 0)
		json_object_set_new(d, "third_party",
		    json_boolean(o->third_party));
	if (d == NULL) {
		ctl_fail("registering user %s: out of memory", o->name);
		return -1;
	}
	rc = ctl_admin_audit(db, tid, existing ? "user.reissue" : "user.issue", target,
	    NULL, d, err, sizeof(err));
	json_decref(d);
	if (rc != 0)
		ctl_fail("registering user %s: %s (nothing "
		    "changed)", o->name, err);
	return rc;
}

/* The person a new account belongs to, in the open transaction: --person
 * (a person id, or the name of exactly one person of the tenant), else a
 * new person named after the user.  0 with pid filled, or -1 printed. */
static int
usr_person(PGconn *db, const usr_opts *o, const char *tid,
    char pid[UTIL_UUID_STRLEN + 1])
{
	unsigned char raw[UTIL_UUID_BYTES];
	pg_params p = PG_PARAMS_INIT;
	char err[USR_ERR], shown[PKI_NAME_MAX + 1];
	PGresult *r;
	int n;

	pg_param_text(&p, tid);
	if (o->person == NULL) {
		pg_param_text(&p, o->name);
		r = pg_query(db, "INSERT INTO coffer.persons (tenant_id, person_id, "
		    "name) VALUES ($1::uuid, gen_random_uuid(), $2) "
		    "RETURNING person_id::text", &p, err, sizeof(err));
	} else if (util_uuid_parse(raw, o->person) == 0) {
		pg_param_text(&p, o->person);
		r = pg_query(db, "SELECT person_id::text FROM coffer.persons "
		    "WHERE tenant_id = $1::uuid AND person_id = $2::uuid", &p, err,
		    sizeof(err));
	} else {
		pg_param_text(&p, o->person);
		r = pg_query(db, "SELECT person_id::text FROM coffer.persons "
		    "WHERE tenant_id = $1::uuid AND name = $2", &p, err,
		    sizeof(err));
	}
	if (r == NULL) {
		ctl_fail("registering user %s: database: %s", o->name, err);
		return -1;
	}
	n = PQntuples(r);
	if (n != 1) {
		log_printable(shown, sizeof(shown), o->person != NULL ? o->person :
		    "", o->person != NULL ? strlen(o->person) : 0);
		if (n == 0)
			ctl_fail("tenant %s has no person "
			    "'%s'", o->tenant, shown);
		else
			ctl_fail("tenant %s has %d persons named '%s': give "
			    "the "
			    "person id (cofferctl user list)", o->tenant, n, shown);
		PQclear(r);
		return -1;
	}
	snprintf(pid, UTIL_UUID_STRLEN + 1, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int
usr_issue(const usr_opts *o)
{
	char dir[USR_PATH], err[USR_ERR], id[UTIL_UUID_STRLEN + 1];
	char key[2 * PKI_NAME_MAX + 2], idx[16], uid[UTIL_UUID_STRLEN + 1];
	char pid[UTIL_UUID_STRLEN + 1] = "";
	pg_params p = PG_PARAMS_INIT, q = PG_PARAMS_INIT;
	pki_ca *ca = NULL;
	pki_issued *is = NULL;
	PGconn *db = NULL;
	PGresult *r = NULL;
	pki_leaf req;
	size_t i;
	int rc = CTL_EXIT_FAIL, n_cust = 0, existing = 0, files = 0, role_ok = 0;

	memset(&req, 0, sizeof(req));
	if (o->role == NULL || o->name == NULL || o->out == NULL)
		return ctl_usage(usr_usage_text, "user: issue needs --role, "
		    "--tenant, --name and --out");
	for (i = 0; i < sizeof(usr_roles) / sizeof(usr_roles[0]); i++)
		role_ok |= strcmp(o->role, usr_roles[i]) == 0;
	if (!role_ok)
		return ctl_usage(usr_usage_text, "user: --role must be admin, "
		    "legal, custodian or auditor");
	if (strcmp(o->role, "custodian") != 0 && o->index != 0)
		return ctl_usage(usr_usage_text, "user: --custodian-index is "
		    "only for --role custodian");
	if (strcmp(o->role, "custodian") != 0 && o->third_party)
		return ctl_usage(usr_usage_text, "user: --third-party is only "
		    "for --role custodian");
	if (!usr_names_ok(o))
		return CTL_EXIT_FAIL;
	if (usr_index_key(o, key, sizeof(key)) != 0 ||
	    pki_validity_days(o->days, &req.not_before, &req.not_after, err,
	    sizeof(err)) != 0) {
		ctl_fail("user %s: %s", o->name, err);
		return CTL_EXIT_FAIL;
	}
	snprintf(idx, sizeof(idx), "%d", o->index);
	if ((db = ctl_pki_connect(o->config, o->tenant, id, &n_cust)) == NULL)
		return CTL_EXIT_FAIL;
	if (o->index > n_cust) {
		ctl_fail("custodian index %d is out of range: tenant %s has "
		    "custodians 1..%d", o->index, o->tenant, n_cust);
		goto out;
	}
	if (usr_ca_open(o, dir, sizeof(dir), &ca) != 0)
		goto out;
	/* Under the people CA lock from here on. */
	pg_param_text(&p, id);
	pg_param_text(&p, o->name);
	r = pg_query(db, "SELECT user_id::text, role, "
	    "coalesce(custodian_index, 0), person_id::text, third_party "
	    "FROM coffer.users "
	    "WHERE tenant_id = $1::uuid AND name = $2 AND status = 'active'",
	    &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("database: %s", err);
		goto out;
	}
	if (PQntuples(r) > 0) {
		if (strcmp(PQgetvalue(r, 0, 1), o->role) != 0 ||
		    atoi(PQgetvalue(r, 0, 2)) != o->index) {
			ctl_fail("user %s of tenant %s is already active as "
			    "%s%s%s: "
			    "revoke it first to change role or custodian index",
			    o->name, o->tenant, PQgetvalue(r, 0, 1),
			    atoi(PQgetvalue(r, 0, 2)) ? " with custodian index " : "",
			    atoi(PQgetvalue(r, 0, 2)) ? PQgetvalue(r, 0, 2) : "");
			goto out;
		}
		if ((strcmp(PQgetvalue(r, 0, 4), "t") == 0) != o->third_party) {
			ctl_fail("user %s of tenant %s is active already %s the "
			    "designated third party: revoke it first to change that",
			    o->name, o->tenant, o->third_party ? "and is not" :
			    "as");
			goto out;
		}
		if (o->person != NULL) {
			ctl_fail("user %s of tenant %s is active already "
			    "(person %s): "
			    "--person applies only to a new account", o->name,
			    o->tenant, PQgetvalue(r, 0, 3));
			goto out;
		}
		existing = 1;
		snprintf(uid, sizeof(uid), "%s", PQgetvalue(r, 0, 0));
		snprintf(pid, sizeof(pid), "%s", PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	r = NULL;
	if (o->index != 0 && !usr_index_free(db, o, id, idx))
		goto out;
	req.usage = PKI_USAGE_CLIENT;
	req.org = o->tenant;
	req.ou = o->role;
	req.cn = o->name;
	req.key = key;
	if (pki_issue(ca, &req, &is, err, sizeof(err)) != 0) {
		ctl_fail("user %s: %s", o->name, err);
		goto out;
	}
	if (pg_begin(db, err, sizeof(err)) != 0) {
		ctl_fail("registering user %s: database: %s", o->name, err);
		goto out;
	}
	if (existing) {
		pg_param_text(&q, id);
		pg_param_text(&q, uid);
		pg_param_text(&q, pki_issued_serial(is));
		pg_param_text(&q, pki_issued_fingerprint(is));
		r = pg_query(db, "UPDATE coffer.users SET cert_serial = $3, "
		    "cert_fingerprint = $4 WHERE tenant_id = $1::uuid AND "
		    "user_id = $2::uuid AND status = 'active' RETURNING user_id::text",
		    &q, err, sizeof(err));
	} else {
		if (usr_person(db, o, id, pid) != 0)
			goto out;
		pg_param_text(&q, id);
		pg_param_text(&q, o->name);
		pg_param_text(&q, o->role);
		if (o->index != 0)
			pg_param_text(&q, idx);
		else
			pg_param_null(&q);
		pg_param_text(&q, pki_issued_serial(is));
		pg_param_text(&q, pki_issued_fingerprint(is));
		pg_param_text(&q, pid);
		pg_param_text(&q, o->third_party ? "true" : "false");
		r = pg_query(db, "INSERT INTO coffer.users (tenant_id, user_id, name, "
		    "role, custodian_index, cert_serial, cert_fingerprint, status, "
		    "person_id, third_party) VALUES ($1::uuid, gen_random_uuid(), "
		    "$2, $3, $4::integer, $5, $6, 'active', $7::uuid, $8::boolean) "
		    "RETURNING user_id::text",
		    &q, err, sizeof(err));
	}
	if (r == NULL || PQntuples(r) != 1) {
		ctl_fail("registering user %s: database: %s", o->name,
		    r == NULL ? err : "the user changed meanwhile");
		goto out;
	}
	snprintf(uid, sizeof(uid), "%s", PQgetvalue(r, 0, 0));
	if (o->index != 0) {
		/* Who holds the index in the current generation (migration
		 * 0014); a replacement custodian takes the seat over. */
		pg_params sp = PG_PARAMS_INIT;

		pg_param_text(&sp, id);
		pg_param_text(&sp, idx);
		pg_param_text(&sp, uid);
		if (pg_exec(db, "INSERT INTO coffer.custodian_seats (tenant_id, "
		    "generation, custodian_index, user_id) SELECT $1::uuid, "
		    "k.generation, $2::integer, $3::uuid FROM coffer.tenant_keys k "
		    "WHERE k.tenant_id = $1::uuid ON CONFLICT (tenant_id, "
		    "generation, custodian_index) DO UPDATE SET user_id = "
		    "EXCLUDED.user_id", &sp, err, sizeof(err)) != 0) {
			ctl_fail("registering user %s: database: %s", o->name, err);
			goto out;
		}
	}
	if (usr_audit_issue(db, o, id, uid, pid, existing, is) != 0)
		goto out;
	if (pki_issued_write(is, o->out, o->name, err, sizeof(err)) != 0) {
		ctl_fail("user %s: %s", o->name, err);
		goto out;
	}
	files = 1;
	if (pg_commit(db, err, sizeof(err)) != 0) {
		ctl_fail("registering user %s: database: %s", o->name, err);
		goto out;
	}
	files = 0;
	printf("user %s tenant %s role %s%s%s%s user_id %s %s serial %s "
	    "fingerprint %s person %s\n", o->name, o->tenant, o->role,
	    o->index ? " custodian-index " : "", o->index ? idx : "",
	    o->third_party ? " third-party" : "", uid,
	    existing ? "re-issued" : "issued", pki_issued_serial(is),
	    pki_issued_fingerprint(is), pid);
	printf("wrote %s/%s.crt and %s/%s.key (0600)\n", o->out, o->name, o->out,
	    o->name);
	rc = CTL_EXIT_OK;
out:
	PQclear(r);
	if (rc != CTL_EXIT_OK && db != NULL)
		(void)pg_rollback(db);
	if (files)
		pki_issued_unlink(o->out, o->name);
	pki_issued_free(&is);
	pki_ca_close(&ca);
	pg_close(&db);
	return rc;
}

/* user.revoke in the open transaction.  r: the user's row (user_id, role,
 * custodian index, serial, fingerprint) or no row (a certificate was
 * issued but never registered).  0, or -1 printed. */
static int
usr_audit_revoke(PGconn *db, const usr_opts *o, const char *tid,
    const PGresult *r, int changed, size_t n, int crl_ok)
{
	char err[USR_ERR], target[PKI_NAME_MAX + 8];
	json_t *d;
	int rc, idx;

	snprintf(target, sizeof(target), "user:%s", o->name);
	d = json_pack("{s:s, s:b, s:I, s:b}", "user", o->name,
	    "already_revoked", !changed, "crl_certificates", (json_int_t)n,
	    "crl_signed", crl_ok);
	if (d != NULL && PQntuples(r) > 0) {
		json_object_set_new(d, "user_id", json_string(PQgetvalue(r, 0, 0)));
		json_object_set_new(d, "role", json_string(PQgetvalue(r, 0, 1)));
		if ((idx = atoi(PQgetvalue(r, 0, 2))) != 0)
			json_object_set_new(d, "custodian_index", json_integer(idx));
		if (PQgetvalue(r, 0, 3)[0] != '\0')
			json_object_set_new(d, "serial",
			    json_string(PQgetvalue(r, 0, 3)));
		if (PQgetvalue(r, 0, 4)[0] != '\0')
			json_object_set_new(d, "fingerprint",
			    json_string(PQgetvalue(r, 0, 4)));
	}
	if (d == NULL) {
		ctl_fail("user %s: out of memory", o->name);
		return -1;
	}
	rc = ctl_admin_audit(db, tid, "user.revoke", target, crl_ok ? "ok" : "failed",
	    d, err, sizeof(err));
	json_decref(d);
	if (rc != 0)
		ctl_fail("user %s: %s (row not changed)", o->name, err);
	return rc;
}

static int
usr_revoke(const usr_opts *o)
{
	char dir[USR_PATH], err[USR_ERR], id[UTIL_UUID_STRLEN + 1];
	char key[2 * PKI_NAME_MAX + 2];
	pg_params p = PG_PARAMS_INIT;
	pki_ca *ca = NULL;
	PGconn *db = NULL;
	PGresult *r = NULL;
	size_t n = 0;
	int rc = CTL_EXIT_FAIL, crl_ok = 0, rows = 0, known = 0;

	if (o->name == NULL)
		return ctl_usage(usr_usage_text, "user: revoke needs --tenant "
		    "and --name");
	if (o->role || o->out || o->index || o->days || o->person)
		return ctl_usage(usr_usage_text, "user: revoke takes only "
		    "--tenant and --name");
	if (!usr_names_ok(o))
		return CTL_EXIT_FAIL;
	if (usr_index_key(o, key, sizeof(key)) != 0) {
		ctl_fail("user name too long");
		return CTL_EXIT_FAIL;
	}
	if ((db = ctl_pki_connect(o->config, o->tenant, id, NULL)) == NULL)
		return CTL_EXIT_FAIL;
	if (pki_path(dir, sizeof(dir), pki_root(o->pki), "people", NULL) != 0) {
		ctl_fail("PKI directory path too long");
		goto out;
	}
	if (!pki_ca_exists(dir)) {
		ctl_fail("no people CA (%s): no user certificate was ever "
		    "issued",
		    dir);
		goto out;
	}
	if (pki_ca_open(&ca, dir, err, sizeof(err)) != 0) {
		ctl_fail("people CA: %s", err);
		goto out;
	}
	if (pki_revoke(ca, key, &n, err, sizeof(err)) != 0)
		ctl_fail("user %s: CRL: %s", o->name, err);
	else
		crl_ok = 1;
	if (pg_begin(db, err, sizeof(err)) != 0) {
		ctl_fail("user %s: database: %s", o->name, err);
		goto out;
	}
	pg_param_text(&p, id);
	pg_param_text(&p, o->name);
	r = pg_query(db, "UPDATE coffer.users SET status = 'revoked', "
	    "revoked_at = now() WHERE tenant_id = $1::uuid AND name = $2 AND "
	    "status = 'active' RETURNING user_id::text, role, "
	    "coalesce(custodian_index, 0), coalesce(cert_serial, ''), "
	    "coalesce(cert_fingerprint, '')", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("user %s: database: %s", o->name, err);
		goto out;
	}
	rows = PQntuples(r);
	if (rows == 0) {
		PQclear(r);
		r = pg_query(db, "SELECT user_id::text, role, "
		    "coalesce(custodian_index, 0), coalesce(cert_serial, ''), "
		    "coalesce(cert_fingerprint, '') FROM coffer.users WHERE "
		    "tenant_id = $1::uuid AND name = $2 "
		    "ORDER BY revoked_at DESC NULLS LAST LIMIT 1", &p, err,
		    sizeof(err));
		if (r == NULL) {
			ctl_fail("database: %s", err);
			goto out;
		}
		known = PQntuples(r) > 0;
		if (!known && n == 0) {
			ctl_fail("unknown user %s of tenant "
			    "%s", o->name, o->tenant);
			goto out;
		}
	}
	if (usr_audit_revoke(db, o, id, r, rows > 0, n, crl_ok) != 0)
		goto out;
	PQclear(r);
	r = NULL;
	if (pg_commit(db, err, sizeof(err)) != 0) {
		ctl_fail("user %s: database: %s", o->name, err);
		goto out;
	}
	if (!crl_ok)
		goto out;
	if (rows == 0 && n == 0)
		printf("user %s of tenant %s was already revoked; CRL re-signed\n",
		    o->name, o->tenant);
	else
		printf("user %s of tenant %s revoked: %zu certificate(s) added to "
		    "%s/crl.pem\n", o->name, o->tenant, n, dir);
	printf("hint: send SIGHUP to coffer-api to reload the people CRL now\n");
	rc = CTL_EXIT_OK;
out:
	PQclear(r);
	if (db != NULL && PQtransactionStatus(db) != PQTRANS_IDLE)
		(void)pg_rollback(db);
	pki_ca_close(&ca);
	pg_close(&db);
	return rc;
}

static int
usr_list(const usr_opts *o)
{
	char err[USR_ERR], id[UTIL_UUID_STRLEN + 1], shown[PKI_NAME_MAX + 1];
	char dir[USR_PATH], exp[32];
	time_t *not_after = NULL, now = time(NULL);
	pg_params p = PG_PARAMS_INIT;
	PGconn *db;
	PGresult *r;
	int i, n;

	if (o->name || o->role || o->out || o->index || o->days || o->person)
		return ctl_usage(usr_usage_text, "user: list takes only "
		    "--tenant");
	if (!usr_names_ok(o))
		return CTL_EXIT_FAIL;
	if ((db = ctl_pki_connect(o->config, o->tenant, id, NULL)) == NULL)
		return CTL_EXIT_FAIL;
	pg_param_text(&p, id);
	r = pg_query(db, "SELECT name, role, coalesce(custodian_index::text, '-'), "
	    "status, coalesce(cert_serial, '-'), coalesce(cert_fingerprint, '-'), "
	    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "person_id::text "
	    "FROM coffer.users WHERE tenant_id = $1::uuid "
	    "ORDER BY name, created_at", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("database: %s", err);
		pg_close(&db);
		return CTL_EXIT_FAIL;
	}
	n = PQntuples(r);
	/* Expiry from the people CA's index, as for `device list`. */
	if (pki_path(dir, sizeof(dir), pki_root(o->pki), "people", NULL) != 0) {
		ctl_fail("PKI directory path too long");
		goto fail;
	}
	if ((not_after = pki_list_not_after(dir, r, 4, "user")) == NULL)
		goto fail;
	printf("%-24s %-9s %-5s %-8s %-32s %-64s %-20s %-20s %s\n", "NAME",
	    "ROLE", "INDEX", "STATUS", "SERIAL", "FINGERPRINT (SHA-256)",
	    "CREATED", "EXPIRES", "PERSON");
	for (i = 0; i < n; i++) {
		const char *name = PQgetvalue(r, i, 0);

		ctl_list_expiry(not_after[i], exp, sizeof(exp));
		printf("%-24s %-9s %-5s %-8s %-32.32s %-64.64s %-20s %-20s %s\n",
		    log_printable(shown, sizeof(shown), name, strlen(name)),
		    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
		    ctl_list_status(PQgetvalue(r, i, 3), not_after[i], now),
		    PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6),
		    exp, PQgetvalue(r, i, 7));
	}
	printf("%d user(s)\n", n);
	free(not_after);
	PQclear(r);
	pg_close(&db);
	return CTL_EXIT_OK;
fail:
	free(not_after);
	PQclear(r);
	pg_close(&db);
	return CTL_EXIT_FAIL;
}

int
ctl_cmd_user(int argc, char **argv)
{
	usr_opts o;
	const char *sub;
	int rc;

	if (argc < 2)
		return ctl_usage(usr_usage_text, NULL);
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "help") == 0) {
		fputs(usr_usage_text, stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(sub, "keygen") == 0)
		return ctl_cmd_keygen(argc - 1, argv + 1);
	if (strcmp(sub, "issue") != 0 && strcmp(sub, "revoke") != 0 &&
	    strcmp(sub, "list") != 0)
		return ctl_usage(usr_usage_text, "user: unknown user command");
	if ((rc = usr_parse(argc - 1, argv + 1, &o)) != 0)
		return rc;
	if (strcmp(sub, "issue") == 0)
		return usr_issue(&o);
	if (strcmp(sub, "revoke") == 0)
		return usr_revoke(&o);
	return usr_list(&o);
}
