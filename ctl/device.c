/* ctl/device.c — `cofferctl device ca-init | issue | revoke | list`.
 *
 * One device CA per tenant under PKI/devices/<tenant>/ (see ctl/pki.h); a
 * device certificate carries O = tenant, CN = device id, and is registered
 * in coffer.devices with its serial and SHA-256 fingerprint.  The gateway
 * accepts the device only with that very certificate (fingerprint), under
 * the CA and its CRL: another certificate with the same CN is refused.
 *
 * Trusts: the database (our own), the PKI directory.  Does not trust the
 * command line: tenant and device names are checked against the strict
 * alphabet of names_check() before they name a file or a DN.
 *
 * Decisions:
 *  - Re-issuing for an active device is allowed: a new key and certificate
 *    replace the row's serial and fingerprint, and the previous ones move
 *    to prev_cert_* (migrations/0006_device_identity.sql) with the end of
 *    their overlap window, now() + --overlap SECONDS (default 0: the
 *    gateway refuses the previous certificate as soon as it reads the row).
 *    The previous certificate is not put on the CRL (it would end the
 *    window at the next CRL reload); it is retired by the fingerprint
 *    check, and by revoke, which lists every serial ever issued to the
 *    device.  The re-issue is an audit event (device.reissue: serials,
 *    fingerprints, overlap) in the row's transaction.  A revoked device id
 *    is never re-activated: the row keeps its revocation as evidence;
 *    enrol the device under a new id.
 *  - The CA lock is held from before issuing until after COMMIT, so two
 *    cofferctl runs for one tenant cannot interleave index, files and row.
 *  - Issue: sign (serial recorded in the index) -> BEGIN -> row -> files ->
 *    COMMIT.  If the row or the files fail nothing is left but an index
 *    entry for a certificate that never left this process; if COMMIT fails
 *    the files are removed.
 *  - Revoke: CRL first, then the row and its audit event in one
 *    transaction.  If either fails the command fails, and rerunning it
 *    completes the other (both steps are idempotent; each run is audited).
 *  - Audit (ctl/admin_audit.c), target "device:<id>": device.issue (serial,
 *    fingerprint) with the new row, device.reissue with the changed row,
 *    device.revoke (serial and fingerprint revoked, certificates added to
 *    the CRL, whether it was signed: outcome "failed" if not).
 */
#include "ctl/pki.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "ctl/ctl.h"
#include "vault/mem.h"

#define DEV_ERR   512U
#define DEV_PATH  4096U
#define DEV_OVERLAP_MAX  2592000L      /* 30 days, in seconds */
#define DEV_TTL_DEFAULT  86400L        /* an enrollment code: 1 day */
#define DEV_TTL_MAX      2592000L      /* at most 30 days */
#define DEV_CODE_BYTES   20U           /* 160 random bits */

typedef struct dev_opts {
	const char *tenant;
	const char *device;
	const char *out;
	const char *pki;
	const char *config;
	const char *not_before;
	const char *not_after;
	int         days;
	long        overlap;        /* seconds; re-issue only */
	int         overlap_set;
	long        ttl;            /* enroll-code, seconds; 0: default */
	const char *listen;         /* enroll-serve */
	const char *cert;
	const char *key;
} dev_opts;

static const char dev_usage_text[] =
    "usage: cofferctl device ca-init --tenant T [--pki DIR] [--config FILE]\n"
    "       cofferctl device issue --tenant T --device D --out DIR [--days N]\n"
    "                              [--not-before ISO8601 --not-after ISO8601]\n"
    "                              [--overlap SECONDS] [--pki DIR] [--config FILE]\n"
    "       cofferctl device revoke --tenant T --device D [--pki DIR] "
    "[--config FILE]\n"
    "       cofferctl device list --tenant T [--pki DIR] [--config FILE]\n"
    "       cofferctl device enroll-code --tenant T --device D [--ttl SECONDS]\n"
    "                              [--config FILE]\n"
    "       cofferctl device enroll-serve --tenant T --listen HOST:PORT\n"
    "                              --cert FILE --key FILE [--days N]\n"
    "                              [--pki DIR] [--config FILE]\n"
    "  names: 1-64 of A-Z a-z 0-9 . _ - (not starting with '.' or '-');\n"
    "  --days 1..825 (default 365); times as 2026-01-31T12:00:00Z or "
    "2026-01-31\n"
    "  issue for an active device re-issues it: the previous certificate is\n"
    "  refused from then on, or --overlap 0..2592000 seconds later (default 0)\n"
    "  enroll-code: a one-time code for D (--ttl 1..2592000, default 86400);\n"
    "  enroll-serve: EST simpleenroll for tenant T's devices with such codes\n"
    "  (--tenant names one tenant or ALL for every tenant with a device CA)\n";

enum { DEV_OPT_TENANT = 1, DEV_OPT_DEVICE, DEV_OPT_OUT, DEV_OPT_DAYS,
       DEV_OPT_NB, DEV_OPT_NA, DEV_OPT_PKI, DEV_OPT_CONFIG, DEV_OPT_OVERLAP,
       DEV_OPT_TTL, DEV_OPT_LISTEN, DEV_OPT_CERT, DEV_OPT_KEY };

static const struct option dev_long[] = {
	{ "tenant",     required_argument, NULL, DEV_OPT_TENANT },
	{ "device",     required_argument, NULL, DEV_OPT_DEVICE },
	{ "out",        required_argument, NULL, DEV_OPT_OUT },
	{ "days",       required_argument, NULL, DEV_OPT_DAYS },
	{ "not-before", required_argument, NULL, DEV_OPT_NB },
	{ "not-after",  required_argument, NULL, DEV_OPT_NA },
	{ "pki",        required_argument, NULL, DEV_OPT_PKI },
	{ "config",     required_argument, NULL, DEV_OPT_CONFIG },
	{ "overlap",    required_argument, NULL, DEV_OPT_OVERLAP },
	{ "ttl",        required_argument, NULL, DEV_OPT_TTL },
	{ "listen",     required_argument, NULL, DEV_OPT_LISTEN },
	{ "cert",       required_argument, NULL, DEV_OPT_CERT },
	{ "key",        required_argument, NULL, DEV_OPT_KEY },
	{ NULL, 0, NULL, 0 }
};

/* argv[0] is the subcommand.  0, or an exit status for a usage error. */
static int
dev_parse(int argc, char **argv, dev_opts *o)
{
	long v;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;                      /* full re-initialisation (GNU) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", dev_long, NULL)) != -1) {
		switch (c) {
		case DEV_OPT_TENANT: o->tenant = optarg; break;
		case DEV_OPT_DEVICE: o->device = optarg; break;
		case DEV_OPT_OUT:    o->out = optarg; break;
		case DEV_OPT_NB:     o->not_before = optarg; break;
		case DEV_OPT_NA:     o->not_after = optarg; break;
		case DEV_OPT_PKI:    o->pki = optarg; break;
		case DEV_OPT_CONFIG: o->config = optarg; break;
		case DEV_OPT_DAYS:
			if (ctl_parse_long(optarg, 1, PKI_LEAF_DAYS_MAX,
			    &v) != 0)
				return ctl_usage(dev_usage_text, "device: "
				    "--days must be 1 to 825");
			o->days = (int)v;
			break;
		case DEV_OPT_OVERLAP:
			if (ctl_parse_long(optarg, 0, DEV_OVERLAP_MAX, &v) != 0)
				return ctl_usage(dev_usage_text, "device: "
				    "--overlap must be 0 to 2592000 seconds");
			o->overlap = v;
			o->overlap_set = 1;
			break;
		case DEV_OPT_TTL:
			if (ctl_parse_long(optarg, 1, DEV_TTL_MAX, &v) != 0)
				return ctl_usage(dev_usage_text, "device: "
				    "--ttl must be 1 to 2592000 seconds");
			o->ttl = v;
			break;
		case DEV_OPT_LISTEN: o->listen = optarg; break;
		case DEV_OPT_CERT:   o->cert = optarg; break;
		case DEV_OPT_KEY:    o->key = optarg; break;
		default:
			return ctl_usage(dev_usage_text, "device: unknown "
			    "option or missing value");
		}
	}
	if (optind != argc)
		return ctl_usage(dev_usage_text, "device: unexpected argument");
	if (o->tenant == NULL)
		return ctl_usage(dev_usage_text, "device: --tenant is "
		    "required");
	return 0;
}

/* ---------------------------------------------------------------------- */
/* shared with ctl/user.c                                                  */

int
ctl_pki_tenant(PGconn *db, const char *name, char id[UTIL_UUID_STRLEN + 1],
    int *custodians_n, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char qerr[DEV_ERR];

	id[0] = '\0';
	if (custodians_n != NULL)
		*custodians_n = 0;
	pg_param_text(&p, name);
	r = pg_query(db, "SELECT tenant_id::text, custodians_n FROM coffer.tenants "
	    "WHERE name = $1", &p, qerr, sizeof(qerr));
	if (r == NULL) {
		snprintf(err, err_len, "database: %s", qerr);
		return -1;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, err_len, "unknown tenant %s", name);
		return -1;
	}
	snprintf(id, UTIL_UUID_STRLEN + 1, "%s", PQgetvalue(r, 0, 0));
	if (custodians_n != NULL)
		*custodians_n = atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

/* ---------------------------------------------------------------------- */

static int
dev_ca_dir(const dev_opts *o, char *dir, size_t cap)
{
	if (pki_path(dir, cap, pki_root(o->pki), "devices", o->tenant) != 0) {
		ctl_fail("PKI directory path too long");
		return -1;
	}
	return 0;
}

/* Open the tenant's device CA, with the hint operators need when missing. */
static int
dev_ca_open(const dev_opts *o, const char *dir, pki_ca **ca)
{
	char err[DEV_ERR];

	if (!pki_ca_exists(dir)) {
		ctl_fail("no device CA for tenant %s (%s): run 'cofferctl "
		    "device "
		    "ca-init --tenant %s' first", o->tenant, dir, o->tenant);
		return -1;
	}
	if (pki_ca_open(ca, dir, err, sizeof(err)) != 0) {
		ctl_fail("device CA for tenant %s: %s", o->tenant, err);
		return -1;
	}
	return 0;
}

PGconn *
ctl_pki_connect(const char *config, const char *tenant,
    char id[UTIL_UUID_STRLEN + 1], int *custodians_n)
{
	char err[DEV_ERR];
	PGconn *db;

	if ((db = ctl_connect(config)) == NULL)
		return NULL;
	if (ctl_pki_tenant(db, tenant, id, custodians_n, err,
	    sizeof(err)) != 0) {
		ctl_fail("%s", err);
		pg_close(&db);
		return NULL;
	}
	return db;
}

static int
dev_ca_init(const dev_opts *o)
{
	char dir[DEV_PATH], err[DEV_ERR], id[UTIL_UUID_STRLEN + 1];
	PGconn *db;

	if (o->device || o->out || o->days || o->not_before || o->not_after ||
	    o->overlap_set)
		return ctl_usage(dev_usage_text, "device: ca-init takes only "
		    "--tenant (and --pki, --config)");
	if (names_check("tenant name", o->tenant, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_FAIL;
	}
	if ((db = ctl_pki_connect(o->config, o->tenant, id, NULL)) == NULL)
		return CTL_EXIT_FAIL;
	pg_close(&db);
	if (dev_ca_dir(o, dir, sizeof(dir)) != 0)
		return CTL_EXIT_FAIL;
	if (pki_ca_exists(dir)) {
		ctl_fail("device CA for tenant %s already initialised (%s)",
		    o->tenant, dir);
		return CTL_EXIT_FAIL;
	}
	if (pki_ca_init(dir, o->tenant, "Coffer device CA", err,
	    sizeof(err)) != 0) {
		ctl_fail("device CA for tenant %s: %s", o->tenant, err);
		return CTL_EXIT_FAIL;
	}
	printf("device CA for tenant %s initialised: %s/{ca.pem,ca.key,"
	    "crl.pem,index}\n", o->tenant, dir);
	return CTL_EXIT_OK;
}

/* The device row's status: 0 none, 1 active, 2 revoked; -1 on error. */
static int
dev_status(PGconn *db, const char *tid, const char *device)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char err[DEV_ERR];
	int st;

	pg_param_text(&p, tid);
	pg_param_text(&p, device);
	r = pg_query(db, "SELECT status FROM coffer.devices "
	    "WHERE tenant_id = $1::uuid AND device_id = $2", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("database: %s", err);
		return -1;
	}
	if (PQntuples(r) == 0)
		st = 0;
	else
		st = strcmp(PQgetvalue(r, 0, 0), "active") == 0 ? 1 : 2;
	PQclear(r);
	return st;
}

/* An audit event (target "device:<id>") in the open transaction; takes
 * ownership of d (NULL: out of memory).  0, or -1 printed. */
static int
dev_audit(PGconn *db, const dev_opts *o, const char *tid, const char *action,
    const char *outcome, json_t *d)
{
	char err[DEV_ERR], target[PKI_NAME_MAX + 8];
	int rc;

	if (d == NULL) {
		ctl_fail("device %s: out of memory", o->device);
		return -1;
	}
	snprintf(target, sizeof(target), "device:%s", o->device);
	rc = ctl_admin_audit(db, tid, action, target, outcome, d, err,
	    sizeof(err));
	json_decref(d);
	if (rc != 0)
		ctl_fail("device %s: %s (nothing changed)", o->device, err);
	return rc;
}

/* Re-issue, inside the caller's open transaction: the new certificate
 * becomes the registered one, the previous one moves to prev_cert_* with
 * the end of its overlap window, and the change is audited
 * (device.reissue) in the same transaction; not_after is the new
 * certificate's, stored with its fingerprint.  0, or -1 with a message
 * printed (the caller rolls back).  prev_fpr and prev_until receive the
 * previous fingerprint and the window's end ("" when the row had none). */
static int
dev_reissue_row(PGconn *db, const dev_opts *o, const char *tid,
    const pki_issued *is, time_t not_after, char prev_fpr[65],
    char *prev_until, size_t prev_until_cap)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r = NULL;
	json_t *d = NULL;
	char err[DEV_ERR], target[PKI_NAME_MAX + 8], secs[24], na[24];
	const char *pser, *pfpr, *puntil;
	int rc = -1;

	prev_fpr[0] = '\0';
	prev_until[0] = '\0';
	snprintf(secs, sizeof(secs), "%ld", o->overlap);
	pg_param_text(&p, tid);
	pg_param_text(&p, o->device);
	pg_param_text(&p, pki_issued_serial(is));
	pg_param_text(&p, pki_issued_fingerprint(is));
	pg_param_text(&p, secs);
	snprintf(na, sizeof(na), "%lld", (long long)not_after);
	pg_param_text(&p, na);
	/* SET reads the row as it was: the registered certificate becomes
	 * the previous one (if it is one the gateway could have matched) */
	r = pg_query(db, "UPDATE coffer.devices SET "
	    "prev_cert_serial = CASE WHEN cert_fingerprint ~ '^[0-9a-f]{64}$' "
	    "THEN cert_serial END, "
	    "prev_cert_fingerprint = CASE WHEN cert_fingerprint ~ "
	    "'^[0-9a-f]{64}$' THEN cert_fingerprint END, "
	    "prev_valid_until = CASE WHEN cert_fingerprint ~ '^[0-9a-f]{64}$' "
	    "THEN now() + $5::bigint * interval '1 second' END, "
	    "cert_serial = $3, cert_fingerprint = $4, "
	    "cert_not_after = to_timestamp($6::bigint) "
	    "WHERE tenant_id = $1::uuid AND device_id = $2 AND status = 'active' "
	    "RETURNING coalesce(prev_cert_serial, ''), "
	    "coalesce(prev_cert_fingerprint, ''), "
	    "coalesce(to_char(prev_valid_until AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("re-issuing device %s: database: %s", o->device, err);
		return -1;
	}
	if (PQntuples(r) != 1) {
		ctl_fail("re-issuing device %s: the device is no longer active",
		    o->device);
		goto out;
	}
	pser = PQgetvalue(r, 0, 0);
	pfpr = PQgetvalue(r, 0, 1);
	puntil = PQgetvalue(r, 0, 2);
	snprintf(prev_fpr, 65, "%s", pfpr);
	snprintf(prev_until, prev_until_cap, "%s", puntil);

	d = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I, s:s?}",
	    "device", o->device,
	    "serial", pki_issued_serial(is),
	    "fingerprint", pki_issued_fingerprint(is),
	    "previous_serial", pser[0] != '\0' ? pser : NULL,
	    "previous_fingerprint", pfpr[0] != '\0' ? pfpr : NULL,
	    "overlap_s", (json_int_t)o->overlap,
	    "previous_valid_until", puntil[0] != '\0' ? puntil : NULL);
	if (d == NULL) {
		ctl_fail("re-issuing device %s: out of memory", o->device);
		goto out;
	}
	snprintf(target, sizeof(target), "device:%s", o->device);
	if (ctl_admin_audit(db, tid, "device.reissue", target, NULL, d, err,
	    sizeof(err)) != 0) {
		ctl_fail("re-issuing device %s: %s (nothing "
		    "changed)", o->device,
		    err);
		goto out;
	}
	rc = 0;
out:
	json_decref(d);
	PQclear(r);
	return rc;
}

static int
dev_issue(const dev_opts *o)
{
	char dir[DEV_PATH], err[DEV_ERR], id[UTIL_UUID_STRLEN + 1];
	char prev_fpr[65] = "", prev_until[40] = "", na[24];
	pg_params p = PG_PARAMS_INIT;
	pki_ca *ca = NULL;
	pki_issued *is = NULL;
	PGconn *db = NULL;
	pki_leaf req;
	int rc = CTL_EXIT_FAIL, st, files = 0;

	memset(&req, 0, sizeof(req));
	if (o->device == NULL || o->out == NULL)
		return ctl_usage(dev_usage_text, "device: issue needs "
		    "--tenant, --device and --out");
	if ((o->not_before == NULL) != (o->not_after == NULL))
		return ctl_usage(dev_usage_text, "device: --not-before and "
		    "--not-after go together");
	if (o->not_before != NULL && o->days != 0)
		return ctl_usage(dev_usage_text, "device: --days or "
		    "--not-before/--not-after, not both");
	if (names_check("tenant name", o->tenant, err, sizeof(err)) != 0 ||
	    names_check("device id", o->device, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_FAIL;
	}
	if (o->not_before != NULL) {
		if (pki_parse_time(o->not_before, &req.not_before) != 0)
			return ctl_usage(dev_usage_text, "device: "
			    "--not-before: not an ISO 8601 UTC time "
			    "(2026-01-31T12:00:00Z or 2026-01-31)");
		if (pki_parse_time(o->not_after, &req.not_after) != 0)
			return ctl_usage(dev_usage_text, "device: --not-after: "
			    "not an ISO 8601 UTC time "
			    "(2026-01-31T12:00:00Z or 2026-01-31)");
	} else if (pki_validity_days(o->days, &req.not_before, &req.not_after,
	    err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_FAIL;
	}
	if (dev_ca_dir(o, dir, sizeof(dir)) != 0)
		return CTL_EXIT_FAIL;
	if ((db = ctl_pki_connect(o->config, o->tenant, id, NULL)) == NULL)
		return CTL_EXIT_FAIL;
	if (dev_ca_open(o, dir, &ca) != 0)
		goto out;
	/* Under the CA lock from here on. */
	if ((st = dev_status(db, id, o->device)) < 0)
		goto out;
	if (st == 2) {
		ctl_fail("device %s of tenant %s is revoked; a revoked device "
		    "id is not re-issued (enrol it under a new id)", o->device,
		    o->tenant);
		goto out;
	}
	if (st == 0 && o->overlap > 0) {
		ctl_fail("--overlap applies to a re-issue; device %s of tenant "
		    "%s is not registered yet", o->device, o->tenant);
		goto out;
	}
	req.usage = PKI_USAGE_CLIENT;
	req.org = o->tenant;
	req.cn = o->device;
	req.key = o->device;
	if (pki_issue(ca, &req, &is, err, sizeof(err)) != 0) {
		ctl_fail("device %s: %s", o->device, err);
		goto out;
	}
	pg_param_text(&p, id);
	pg_param_text(&p, o->device);
	pg_param_text(&p, pki_issued_serial(is));
	pg_param_text(&p, pki_issued_fingerprint(is));
	snprintf(na, sizeof(na), "%lld", (long long)req.not_after);
	pg_param_text(&p, na);
	if (pg_begin(db, err, sizeof(err)) != 0) {
		ctl_fail("registering device %s: database: %s", o->device, err);
		goto out;
	}
	if (st == 1) {
		if (dev_reissue_row(db, o, id, is, req.not_after, prev_fpr,
		    prev_until, sizeof(prev_until)) != 0)
			goto out;
	} else if (pg_exec(db, "INSERT INTO coffer.devices (tenant_id, "
	    "device_id, status, cert_serial, cert_fingerprint, "
	    "cert_not_after) VALUES ($1::uuid, $2, 'active', $3, $4, "
	    "to_timestamp($5::bigint))", &p, err,
	    sizeof(err)) != 0) {
		ctl_fail("registering device %s: database: %s", o->device, err);
		goto out;
	} else if (dev_audit(db, o, id, "device.issue", NULL, json_pack(
	    "{s:s, s:s, s:s}", "device", o->device, "serial",
	    pki_issued_serial(is), "fingerprint",
	    pki_issued_fingerprint(is))) != 0)
		goto out;
	if (pki_issued_write(is, o->out, o->device, err, sizeof(err)) != 0) {
		ctl_fail("device %s: %s", o->device, err);
		goto out;
	}
	files = 1;
	if (pg_commit(db, err, sizeof(err)) != 0) {
		ctl_fail("registering device %s: database: %s", o->device, err);
		goto out;
	}
	files = 0;
	printf("device %s tenant %s %s serial %s fingerprint %s\n", o->device,
	    o->tenant, st == 1 ? "re-issued" : "issued", pki_issued_serial(is),
	    pki_issued_fingerprint(is));
	printf("wrote %s/%s.crt and %s/%s.key (0600)\n", o->out, o->device,
	    o->out, o->device);
	if (st == 1 && prev_fpr[0] == '\0')
		printf("no previous certificate was registered\n");
	else if (st == 1 && o->overlap == 0)
		printf("previous certificate %s retired: the gateway refuses it "
		    "from its next device refresh (SIGHUP: now)\n", prev_fpr);
	else if (st == 1)
		printf("previous certificate %s accepted until %s (--overlap %ld), "
		    "then refused\n", prev_fpr, prev_until, o->overlap);
	rc = CTL_EXIT_OK;
out:
	if (rc != CTL_EXIT_OK && db != NULL)
		(void)pg_rollback(db);
	if (files)
		pki_issued_unlink(o->out, o->device);
	pki_issued_free(&is);
	pki_ca_close(&ca);
	pg_close(&db);
	return rc;
}

/* RFC 4648 base32 of DEV_CODE_BYTES random bytes in groups of four,
 * "ABCD-EFGH-…" (32 letters and digits). */
static int
dev_code_make(char *out, size_t cap)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char r[DEV_CODE_BYTES];
	size_t i, bits = 0, n = 0, o = 0;
	unsigned acc = 0;

	if (cap < DEV_CODE_BYTES * 8 / 5 + DEV_CODE_BYTES * 8 / 20 + 1)
		return -1;
	randombytes_buf(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++) {
		acc = (acc << 8) | r[i];
		bits += 8;
		while (bits >= 5) {
			if (n > 0 && n % 4 == 0)
				out[o++] = '-';
			out[o++] = a[(acc >> (bits - 5)) & 31U];
			bits -= 5;
			n++;
		}
	}
	out[o] = '\0';
	vault_wipe(r, sizeof(r));
	return 0;
}

static int
dev_enroll_code(const dev_opts *o)
{
	char err[DEV_ERR], id[UTIL_UUID_STRLEN + 1], code[64], ttl[24];
	unsigned char h[32];
	pg_params p = PG_PARAMS_INIT;
	PGconn *db = NULL;
	PGresult *r = NULL;
	int rc = CTL_EXIT_FAIL, st;

	if (o->device == NULL)
		return ctl_usage(dev_usage_text, "device: enroll-code needs "
		    "--tenant and --device");
	if (o->out || o->days || o->not_before || o->not_after ||
	    o->overlap_set || o->pki)
		return ctl_usage(dev_usage_text, "device: enroll-code takes "
		    "--tenant, --device, --ttl and --config");
	if (names_check("tenant name", o->tenant, err, sizeof(err)) != 0 ||
	    names_check("device id", o->device, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_FAIL;
	}
	if ((db = ctl_pki_connect(o->config, o->tenant, id, NULL)) == NULL)
		return CTL_EXIT_FAIL;
	if ((st = dev_status(db, id, o->device)) < 0)
		goto out;
	if (st == 2) {
		ctl_fail("device %s of tenant %s is revoked; a revoked device id "
		    "is not enrolled again (use a new id)", o->device, o->tenant);
		goto out;
	}
	if (dev_code_make(code, sizeof(code)) != 0) {
		ctl_fail("enrollment code: no randomness");
		goto out;
	}
	ctl_enroll_code_hash(code, h);
	snprintf(ttl, sizeof(ttl), "%ld", o->ttl > 0 ? o->ttl : DEV_TTL_DEFAULT);
	pg_param_bin(&p, h, sizeof(h));
	pg_param_text(&p, id);
	pg_param_text(&p, o->device);
	pg_param_text(&p, ttl);
	if (pg_begin(db, err, sizeof(err)) != 0) {
		ctl_fail("enrollment code: database: %s", err);
		goto out;
	}
	/* a new code supersedes the device's unused ones */
	r = pg_query(db, "WITH old AS (UPDATE coffer.enroll_codes SET expires_at "
	    "= now() WHERE tenant_id = $2::uuid AND device_id = $3 AND used_at "
	    "IS NULL AND expires_at > now() RETURNING 1) "
	    "INSERT INTO coffer.enroll_codes (code_hash, tenant_id, device_id, "
	    "expires_at) VALUES ($1, $2::uuid, $3, now() + $4::bigint * "
	    "interval '1 second') RETURNING (SELECT count(*) FROM old), "
	    "to_char(expires_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", &p, err, sizeof(err));
	if (r == NULL || PQntuples(r) != 1) {
		ctl_fail("enrollment code: database: %s", r == NULL ? err :
		    "no row");
		goto out;
	}
	if (dev_audit(db, o, id, "device.enroll_code", NULL, json_pack(
	    "{s:s, s:s, s:i, s:b}", "device", o->device, "expires_at",
	    PQgetvalue(r, 0, 1), "ttl_s", (int)(o->ttl > 0 ? o->ttl :
	    DEV_TTL_DEFAULT), "superseded", atoi(PQgetvalue(r, 0, 0)) > 0)) != 0)
		goto out;
	if (pg_commit(db, err, sizeof(err)) != 0) {
		ctl_fail("enrollment code: database: %s", err);
		goto out;
	}
	printf("enrollment code for device %s of tenant %s, once, until %s:\n"
	    "%s\n", o->device, o->tenant, PQgetvalue(r, 0, 1), code);
	if (atoi(PQgetvalue(r, 0, 0)) > 0)
		printf("the device's earlier unused code no longer works\n");
	rc = CTL_EXIT_OK;
out:
	vault_wipe(code, sizeof(code));
	PQclear(r);
	if (rc != CTL_EXIT_OK && db != NULL &&
	    PQtransactionStatus(db) != PQTRANS_IDLE)
		(void)pg_rollback(db);
	pg_close(&db);
	return rc;
}

int
ctl_device_enroll_issue(PGconn *db, const char *pki, const char *tenant,
    const char *tid, const char *device, void *pubkey, int days,
    pki_ca **ca_out, pki_issued **is_out, char *err, size_t err_len)
{
	char dir[DEV_PATH], prev_fpr[65], prev_until[40], na[24];
	pg_params p = PG_PARAMS_INIT;
	pki_issued *is = NULL;
	pki_ca *ca = NULL;
	pki_leaf req;
	dev_opts o;
	int st;

	*ca_out = NULL;
	*is_out = NULL;
	memset(&o, 0, sizeof(o));
	memset(&req, 0, sizeof(req));
	o.tenant = tenant;
	o.device = device;
	o.pki = pki;
	if (pki_validity_days(days, &req.not_before, &req.not_after, err,
	    err_len) != 0)
		return -1;
	if (dev_ca_dir(&o, dir, sizeof(dir)) != 0 ||
	    pki_ca_open(&ca, dir, err, err_len) != 0) {
		snprintf(err, err_len, "no device CA for the tenant");
		return -1;
	}
	if ((st = dev_status(db, tid, device)) < 0 || st == 2) {
		snprintf(err, err_len, st < 0 ? "database" : "device revoked");
		goto fail;
	}
	req.usage = PKI_USAGE_CLIENT;
	req.org = tenant;
	req.cn = device;
	req.key = device;
	req.pubkey = pubkey;
	if (pki_issue(ca, &req, &is, err, err_len) != 0)
		goto fail;
	pg_param_text(&p, tid);
	pg_param_text(&p, device);
	pg_param_text(&p, pki_issued_serial(is));
	pg_param_text(&p, pki_issued_fingerprint(is));
	snprintf(na, sizeof(na), "%lld", (long long)req.not_after);
	pg_param_text(&p, na);
	if (st == 1) {
		if (dev_reissue_row(db, &o, tid, is, req.not_after, prev_fpr,
		    prev_until, sizeof(prev_until)) != 0) {
			snprintf(err, err_len, "re-issue refused");
			goto fail;
		}
	} else if (pg_exec(db, "INSERT INTO coffer.devices (tenant_id, "
	    "device_id, status, cert_serial, cert_fingerprint, "
	    "cert_not_after) VALUES ($1::uuid, $2, 'active', $3, $4, "
	    "to_timestamp($5::bigint))", &p, err, err_len) != 0) {
		goto fail;
	}
	if (dev_audit(db, &o, tid, "device.enroll", NULL, json_pack(
	    "{s:s, s:s, s:s, s:b}", "device", device, "serial",
	    pki_issued_serial(is), "fingerprint", pki_issued_fingerprint(is),
	    "reissue", st == 1)) != 0) {
		snprintf(err, err_len, "audit");
		goto fail;
	}
	*ca_out = ca;
	*is_out = is;
	return 0;
fail:
	pki_issued_free(&is);
	pki_ca_close(&ca);
	return -1;
}

static int
dev_revoke(const dev_opts *o)
{
	char dir[DEV_PATH], err[DEV_ERR], id[UTIL_UUID_STRLEN + 1];
	pg_params p = PG_PARAMS_INIT;
	pki_ca *ca = NULL;
	PGconn *db = NULL;
	PGresult *r = NULL;
	json_t *d;
	size_t n = 0;
	int rc = CTL_EXIT_FAIL, st, crl_ok = 0, rows = 0;

	if (o->device == NULL)
		return ctl_usage(dev_usage_text, "device: revoke needs "
		    "--tenant and --device");
	if (o->out || o->days || o->not_before || o->not_after || o->overlap_set)
		return ctl_usage(dev_usage_text, "device: revoke takes only "
		    "--tenant and --device");
	if (names_check("tenant name", o->tenant, err, sizeof(err)) != 0 ||
	    names_check("device id", o->device, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_FAIL;
	}
	if (dev_ca_dir(o, dir, sizeof(dir)) != 0)
		return CTL_EXIT_FAIL;
	if ((db = ctl_pki_connect(o->config, o->tenant, id, NULL)) == NULL)
		return CTL_EXIT_FAIL;
	if (dev_ca_open(o, dir, &ca) != 0)
		goto out;
	if ((st = dev_status(db, id, o->device)) < 0)
		goto out;
	if (pki_revoke(ca, o->device, &n, err, sizeof(err)) != 0)
		ctl_fail("device %s: CRL: %s", o->device, err);
	else
		crl_ok = 1;
	if (st == 0 && n == 0) {
		ctl_fail("unknown device %s of tenant %s (not registered, no "
		    "certificate issued)", o->device, o->tenant);
		goto out;
	}
	if (pg_begin(db, err, sizeof(err)) != 0) {
		ctl_fail("device %s: database: %s", o->device, err);
		goto out;
	}
	if (st == 1) {
		pg_param_text(&p, id);
		pg_param_text(&p, o->device);
		r = pg_query(db, "UPDATE coffer.devices SET status = 'revoked', "
		    "revoked_at = now() WHERE tenant_id = $1::uuid AND "
		    "device_id = $2 AND status = 'active' "
		    "RETURNING coalesce(cert_serial, ''), "
		    "coalesce(cert_fingerprint, '')", &p, err, sizeof(err));
		if (r == NULL) {
			ctl_fail("device %s: database: %s", o->device, err);
			goto out;
		}
		rows = PQntuples(r);
	}
	d = json_pack("{s:s, s:b, s:b, s:I, s:b}", "device", o->device,
	    "registered", st != 0, "already_revoked", st == 2,
	    "crl_certificates", (json_int_t)n, "crl_signed", crl_ok);
	if (d != NULL && rows == 1 && PQgetvalue(r, 0, 0)[0] != '\0')
		json_object_set_new(d, "serial", json_string(PQgetvalue(r, 0, 0)));
	if (d != NULL && rows == 1 && PQgetvalue(r, 0, 1)[0] != '\0')
		json_object_set_new(d, "fingerprint",
		    json_string(PQgetvalue(r, 0, 1)));
	if (dev_audit(db, o, id, "device.revoke", crl_ok ? "ok" : "failed",
	    d) != 0)
		goto out;
	if (pg_commit(db, err, sizeof(err)) != 0) {
		ctl_fail("device %s: database: %s", o->device, err);
		goto out;
	}
	if (!crl_ok)
		goto out;
	if (st == 2 && n == 0)
		printf("device %s of tenant %s was already revoked; CRL re-signed\n",
		    o->device, o->tenant);
	else
		printf("device %s of tenant %s revoked: %zu certificate(s) added "
		    "to %s/crl.pem%s\n", o->device, o->tenant, n, dir,
		    st == 0 ? " (device was not registered in the database)" :
		    rows == 1 || st == 2 ? "" : " (database row unchanged)");
	printf("hint: send SIGHUP to coffer-gateway to reload the CRL and the "
	    "device list now\n");
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
dev_list(const dev_opts *o)
{
	char err[DEV_ERR], id[UTIL_UUID_STRLEN + 1], shown[PKI_NAME_MAX + 1];
	char dir[DEV_PATH], exp[32];
	time_t *not_after = NULL, now = time(NULL);
	pg_params p = PG_PARAMS_INIT;
	PGconn *db;
	PGresult *r;
	int i, n;

	if (o->device || o->out || o->days || o->not_before || o->not_after ||
	    o->overlap_set)
		return ctl_usage(dev_usage_text, "device: list takes only "
		    "--tenant (and --pki, --config)");
	if (names_check("tenant name", o->tenant, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_FAIL;
	}
	if ((db = ctl_pki_connect(o->config, o->tenant, id, NULL)) == NULL)
		return CTL_EXIT_FAIL;
	pg_param_text(&p, id);
	r = pg_query(db, "SELECT device_id, status, coalesce(cert_serial, '-'), "
	    "coalesce(cert_fingerprint, '-'), "
	    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	    "FROM coffer.devices WHERE tenant_id = $1::uuid ORDER BY device_id",
	    &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("database: %s", err);
		pg_close(&db);
		return CTL_EXIT_FAIL;
	}
	n = PQntuples(r);
	/* Expiry from the CA's index (the database keeps no notAfter); a
	 * serial missing there, or no readable index, shows "-". */
	if (dev_ca_dir(o, dir, sizeof(dir)) != 0)
		goto fail;
	if ((not_after = pki_list_not_after(dir, r, 2, "device")) == NULL)
		goto fail;
	printf("%-24s %-8s %-32s %-64s %-20s %s\n", "DEVICE", "STATUS", "SERIAL",
	    "FINGERPRINT (SHA-256)", "CREATED", "EXPIRES");
	for (i = 0; i < n; i++) {
		const char *dev = PQgetvalue(r, i, 0);

		ctl_list_expiry(not_after[i], exp, sizeof(exp));
		printf("%-24s %-8s %-32.32s %-64.64s %-20s %s\n",
		    log_printable(shown, sizeof(shown), dev, strlen(dev)),
		    ctl_list_status(PQgetvalue(r, i, 1), not_after[i], now),
		    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		    PQgetvalue(r, i, 4), exp);
	}
	printf("%d device(s)\n", n);
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
ctl_cmd_device(int argc, char **argv)
{
	dev_opts o;
	const char *sub;
	int rc;

	if (argc < 2)
		return ctl_usage(dev_usage_text, NULL);
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "help") == 0) {
		fputs(dev_usage_text, stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(sub, "ca-init") != 0 && strcmp(sub, "issue") != 0 &&
	    strcmp(sub, "revoke") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "enroll-code") != 0 && strcmp(sub, "enroll-serve") != 0)
		return ctl_usage(dev_usage_text, "device: unknown device "
		    "command");
	if ((rc = dev_parse(argc - 1, argv + 1, &o)) != 0)
		return rc;
	if ((o.ttl || o.listen || o.cert || o.key) &&
	    strcmp(sub, "enroll-code") != 0 && strcmp(sub, "enroll-serve") != 0)
		return ctl_usage(dev_usage_text, "device: --ttl, --listen, --cert "
		    "and --key belong to enroll-code and enroll-serve");
	if (strcmp(sub, "enroll-code") == 0)
		return dev_enroll_code(&o);
	if (strcmp(sub, "enroll-serve") == 0) {
		if (o.device || o.out || o.not_before || o.not_after ||
		    o.overlap_set || o.ttl)
			return ctl_usage(dev_usage_text, "device: enroll-serve "
			    "takes --tenant, --listen, --cert, --key, --days, "
			    "--pki and --config");
		if (o.listen == NULL || o.cert == NULL || o.key == NULL)
			return ctl_usage(dev_usage_text, "device: enroll-serve "
			    "needs --listen, --cert and --key");
		return ctl_enroll_serve(o.tenant, o.listen, o.cert, o.key, o.pki,
		    o.config, o.days);
	}
	if (strcmp(sub, "ca-init") == 0)
		return dev_ca_init(&o);
	if (strcmp(sub, "issue") == 0)
		return dev_issue(&o);
	if (strcmp(sub, "revoke") == 0)
		return dev_revoke(&o);
	return dev_list(&o);
}
