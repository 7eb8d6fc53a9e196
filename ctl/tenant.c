/* ctl/tenant.c — `cofferctl tenant init`, `tenant rotate`, `share check`,
 * `node init`.
 *
 * The key ceremony: the tenant archive key is generated, split k-of-n and
 * wiped inside vault/; this file only moves the results to their places —
 * public parts (T, Feldman commitments, custodian public shares) to the
 * database, each share to its custodian's passphrase-protected file, the
 * blind-index key and the tenant pin to files for the gateway and API
 * hosts' keys_dir (never to the database): 0600 (the pin 0644) for
 * copying with the install commands printed, or with --group G
 * owner:G 0640, the mode and group the daemons read them with (README
 * "Install with systemd").  Passphrases come from files named on the command line or
 * from the terminal without echo, never from argv.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/names.h"
#include "common/pg.h"
#include "common/pins.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/mem.h"
#include "vault/sharefile.h"
#include "vault/tenant.h"

#define CTL_PASS_MAX   1024U
#define CTL_ERR        512U
#define CTL_PATH       4096U

/* Read passphrase i (1-based) from its file or the terminal (asked twice). */
static int
ctl_new_passphrase(const char *file, unsigned idx, char *buf, size_t cap)
{
	char err[CTL_ERR], prompt[128], again[CTL_PASS_MAX];

	if (file != NULL) {
		if (util_read_passphrase(file, NULL, buf, cap, err, sizeof(err)) != 0) {
			ctl_fail("custodian %u: %s", idx, err);
			return -1;
		}
	} else {
		snprintf(prompt, sizeof(prompt), "Passphrase for custodian %u: ", idx);
		if (util_read_passphrase(NULL, prompt, buf, cap, err, sizeof(err)) != 0) {
			ctl_fail("%s", err);
			return -1;
		}
		snprintf(prompt, sizeof(prompt), "Repeat passphrase for custodian %u: ", idx);
		if (util_read_passphrase(NULL, prompt, again, sizeof(again), err,
		    sizeof(err)) != 0 || strcmp(buf, again) != 0) {
			vault_wipe(again, sizeof(again));
			ctl_fail("custodian %u: passphrases do not match", idx);
			return -1;
		}
		vault_wipe(again, sizeof(again));
	}
	if (strlen(buf) < 8) {
		ctl_fail("custodian %u: passphrase shorter than 8 "
		    "characters", idx);
		vault_wipe(buf, cap);
		return -1;
	}
	return 0;
}

int
ctl_share_write(const vault_sharefile_info *info, const unsigned char *share,
    const char *passfile, const char *path)
{
	unsigned char file[VAULT_SHAREFILE_BYTES];
	char err[CTL_ERR], *pass = vault_secure_alloc(CTL_PASS_MAX);
	size_t file_len = 0;
	int rc = -1;

	if (pass == NULL) {
		ctl_fail("out of memory");
		return -1;
	}
	if (ctl_new_passphrase(passfile, info->index, pass, CTL_PASS_MAX) != 0)
		goto out;
	if (vault_sharefile_seal(info, share, pass, strlen(pass), file,
	    sizeof(file), &file_len, err, sizeof(err)) != 0) {
		ctl_fail("custodian %u: %s", info->index, err);
		goto out;
	}
	if (util_write_file(path, file, file_len, 0600, 0, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto out;
	}
	rc = 0;
out:
	vault_wipe(file, sizeof(file));
	vault_secure_free(pass);
	return rc;
}

static void
ctl_tenant_usage(void)
{
	fprintf(stderr,
	    "usage: cofferctl tenant init --name NAME --custodians N --threshold K --out DIR\n"
	    "                             [--passphrase-file FILE]...   (N files, in custodian order)\n"
	    "                             [--group GROUP]   (NAME.bik and NAME.pin owner:GROUP 0640)\n"
	    "                             [--third-party-index I]   (share I is held by the designated third party)\n");
}

/* A daemon's key file: owner:gid, 0640, through a descriptor (no symlink
 * followed); with no group, leave it as written.  0, or -1 with err. */
int
ctl_tenant_give(const char *path, gid_t gid, const char *group, char *err,
    size_t err_len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fchown(fd, (uid_t)-1, gid) != 0 || fchmod(fd, 0640) != 0) {
		snprintf(err, err_len, "cannot give %s to group %s (mode 0640): %s%s",
		    path, group, strerror(errno), errno == EPERM ? " (run as root "
		    "or as a member of that group)" : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* What the operator runs to put NAME.bik and NAME.pin in place. */
static void
ctl_tenant_install_help(const char *outdir, const char *name,
    const char *group)
{
	static const char *const daemons[2][2] = {
		{ "coffer-gateway", "/etc/coffer/gateway/keys" },
		{ "coffer-api", "/etc/coffer/api/keys" },
	};
	size_t i;

	if (group != NULL) {
		fprintf(stderr, "cofferctl: %s/%s.bik and %s.pin: group %s, mode "
		    "0640, as a daemon running in group %s reads them; if DIR is "
		    "not its keys_dir:\n  install -o root -g %s -m 0640 %s/%s.bik "
		    "%s/%s.pin KEYS_DIR/\n", outdir, name, name, group, group, group,
		    outdir, name, outdir, name);
		return;
	}
	fprintf(stderr, "cofferctl: %s/%s.bik is mode 0600 (this account only): "
	    "install it and %s.pin in each daemon's keys_dir for its group "
	    "(or run again with --group):\n", outdir, name, name);
	for (i = 0; i < 2; i++)
		fprintf(stderr, "  install -o root -g %s -m 0640 %s/%s.bik %s/%s.pin "
		    "%s/\n", daemons[i][0], outdir, name, outdir, name,
		    daemons[i][1]);
}

/* One more --passphrase-file (custodian order). */
static int
ctl_tenant_passfile(const char *val, const char **passfiles, unsigned *npass)
{
	if (*npass == VAULT_CUSTODIANS_MAX) {
		ctl_fail("too many --passphrase-file options");
		return -1;
	}
	passfiles[(*npass)++] = val;
	return 0;
}

/* --group G: the group the daemons read key files with; resolved before
 * any key exists (a typo costs nothing). */
static int
ctl_tenant_group(const char *val, const char **group, gid_t *gid)
{
	const struct group *gr = getgrnam(val);

	if (gr == NULL) {
		ctl_fail("--group %s: no such group", val);
		return -1;
	}
	*group = val;
	*gid = gr->gr_gid;
	return 0;
}

/* The n share files DIR/NAME-custodian-i.share of one generation (one
 * passphrase each); *done: how many exist (for the caller to remove on
 * failure). */
static int
ctl_tenant_write_shares(const vault_tenant_keys *keys,
    const unsigned char tenant_id[UTIL_UUID_BYTES],
    const unsigned char T[VAULT_POINT_BYTES], unsigned k, unsigned n,
    unsigned generation, unsigned d3p, const char *outdir, const char *name,
    const char *const *passfiles, unsigned *done)
{
	char path[CTL_PATH];
	unsigned i;

	*done = 0;
	for (i = 1; i <= n; i++) {
		vault_sharefile_info info;

		memset(&info, 0, sizeof(info));
		memcpy(info.tenant_id, tenant_id, sizeof(info.tenant_id));
		memcpy(info.tenant_pk, T, sizeof(info.tenant_pk));
		info.index = i;
		info.n = n;
		info.k = k;
		info.generation = generation;
		info.holder = i == d3p ? VAULT_SHARE_HOLDER_THIRD_PARTY :
		    VAULT_SHARE_HOLDER_CUSTODIAN;
		info.opslimit = VAULT_SHAREFILE_OPSLIMIT_MODERATE;
		info.memlimit = VAULT_SHAREFILE_MEMLIMIT_MODERATE;
		snprintf(path, sizeof(path), "%s/%s-custodian-%u.share", outdir, name, i);
		if (ctl_share_write(&info, vault_tenant_keys_share(keys, i),
		    passfiles ? passfiles[i - 1] : NULL, path) != 0)
			return -1;
		*done = i;
		ctl_fail("wrote share %u of %u: %s%s", i, n, path, i == d3p ?
		    " (held by the designated third party)" : "");
	}
	return 0;
}

static void
ctl_tenant_unlink_shares(const char *outdir, const char *name, unsigned done)
{
	char path[CTL_PATH];
	unsigned i;

	for (i = 1; i <= done; i++) {
		snprintf(path, sizeof(path), "%s/%s-custodian-%u.share", outdir, name, i);
		unlink(path);
	}
}

/* A pin file (0644, or owner:group 0640 with a group): encoded from pin,
 * or text as given (a copy of an existing pin). */
static int
ctl_tenant_write_pin(const pins_tenant *pin, const char *text, size_t tlen,
    const char *pinpath, const char *group, gid_t gid, char *err,
    size_t err_len)
{
	char *enc = NULL;
	int werr;

	if (text == NULL) {
		if (pins_tenant_encode(pin, &enc, &tlen, err, err_len) != 0)
			return -1;
		text = enc;
	}
	werr = util_write_file(pinpath, text, tlen, 0644, 0, err, err_len) != 0;
	free(enc);
	if (!werr && group != NULL &&
	    ctl_tenant_give(pinpath, gid, group, err, err_len) != 0) {
		unlink(pinpath);
		werr = 1;
	}
	return werr ? -1 : 0;
}

/* A fresh key split k-of-n (*keys) and its public material: T, its
 * fingerprint, the k commitments and n public shares (*commits,
 * *pubshares) and both as PostgreSQL array literals; malloc'd, the
 * caller frees them on every path.  0, or -1 printed. */
static int
ctl_tenant_generate(vault_tenant_keys **keys, unsigned k, unsigned n,
    unsigned char T[VAULT_POINT_BYTES], char fp[VAULT_FINGERPRINT_HEX_BYTES],
    unsigned char **commits, unsigned char **pubshares, char **commit_arr,
    char **share_arr)
{
	char err[CTL_ERR];
	unsigned i;

	*commits = calloc(k, VAULT_POINT_BYTES);
	*pubshares = calloc(n, VAULT_POINT_BYTES);
	if (*commits == NULL || *pubshares == NULL) {
		ctl_fail("out of memory");
		return -1;
	}
	if (vault_tenant_generate(keys, k, n, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return -1;
	}
	vault_tenant_keys_public_key(*keys, T);
	if (vault_tenant_keys_commitments(*keys, *commits, (size_t)k * VAULT_POINT_BYTES) != 0 ||
	    vault_tenant_fingerprint(T, fp, VAULT_FINGERPRINT_HEX_BYTES) != 0) {
		ctl_fail("key generation failed");
		return -1;
	}
	for (i = 1; i <= n; i++) {
		if (vault_tenant_keys_public_share(*keys, i,
		    *pubshares + (size_t)(i - 1) * VAULT_POINT_BYTES) != 0) {
			ctl_fail("key generation failed");
			return -1;
		}
	}
	*commit_arr = pg_bytea_array(*commits, VAULT_POINT_BYTES, k);
	*share_arr = pg_bytea_array(*pubshares, VAULT_POINT_BYTES, n);
	if (*commit_arr == NULL || *share_arr == NULL) {
		ctl_fail("out of memory");
		return -1;
	}
	return 0;
}

static int
ctl_tenant_init(int argc, char **argv)
{
	const char *name = NULL, *outdir = NULL, *passfiles[VAULT_CUSTODIANS_MAX];
	const char *group = NULL;
	gid_t gid = (gid_t)-1;
	unsigned n = 0, k = 0, npass = 0, done_files = 0, d3p = 0;
	char err[CTL_ERR], fp[VAULT_FINGERPRINT_HEX_BYTES], idstr[UTIL_UUID_STRLEN + 1];
	char path[CTL_PATH], kstr[16], nstr[16];
	char *commit_arr = NULL, *share_arr = NULL;
	unsigned char tenant_id[UTIL_UUID_BYTES], T[VAULT_POINT_BYTES];
	unsigned char *commits = NULL, *pubshares = NULL, *bik = NULL;
	vault_tenant_keys *keys = NULL;
	PGconn *db = NULL;
	int rc = 1, a;

	for (a = 2; a < argc; a += 2) {
		const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
		if (val == NULL) {
			ctl_fail("%s needs a value", opt);
			ctl_tenant_usage();
			return 2;
		}
		if (strcmp(opt, "--name") == 0)
			name = val;
		else if (strcmp(opt, "--out") == 0)
			outdir = val;
		else if (strcmp(opt, "--group") == 0) {
			if (ctl_tenant_group(val, &group, &gid) != 0)
				return 2;
		} else if (strcmp(opt, "--custodians") == 0) {
			if (ctl_parse_uint(val, 1, VAULT_CUSTODIANS_MAX, &n) != 0) {
				ctl_fail("--custodians must be 1..255");
				return 2;
			}
		} else if (strcmp(opt, "--threshold") == 0) {
			if (ctl_parse_uint(val, 1, VAULT_CUSTODIANS_MAX, &k) != 0) {
				ctl_fail("--threshold must be 1..255");
				return 2;
			}
		} else if (strcmp(opt, "--third-party-index") == 0) {
			if (ctl_parse_uint(val, 1, VAULT_CUSTODIANS_MAX, &d3p) != 0) {
				ctl_fail("--third-party-index must be 1..255");
				return 2;
			}
		} else if (strcmp(opt, "--passphrase-file") == 0) {
			if (ctl_tenant_passfile(val, passfiles, &npass) != 0)
				return 2;
		} else {
			ctl_fail("unknown option %s", opt);
			ctl_tenant_usage();
			return 2;
		}
	}
	if (name == NULL || outdir == NULL || n == 0 || k == 0) {
		ctl_tenant_usage();
		return 2;
	}
	if (names_check("tenant name", name, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return 2;
	}
	if (k > n) {
		ctl_fail("threshold %u is larger than the %u custodians", k, n);
		return 2;
	}
	if (k < 2) {
		ctl_fail("threshold must be at least 2: with 1, any single "
		    "custodian could open the whole archive");
		return 2;
	}
	if (d3p > n) {
		ctl_fail("--third-party-index %u is not one of the %u custodians",
		    d3p, n);
		return 2;
	}
	if (npass != 0 && npass != n) {
		ctl_fail("%u custodians need %u --passphrase-file options, got "
		    "%u",
		    n, n, npass);
		return 2;
	}
	if (mkdir(outdir, 0700) != 0 && errno != EEXIST) {
		ctl_fail("%s: %s", outdir, strerror(errno));
		return 1;
	}
	if (vault_init() != 0) {
		ctl_fail("libsodium failed to initialise");
		return 1;
	}
	db = ctl_connect(NULL);
	if (db == NULL)
		goto fail;
	if (ctl_tenant_generate(&keys, k, n, T, fp, &commits, &pubshares,
	    &commit_arr, &share_arr) != 0)
		goto fail;
	util_uuid_random(tenant_id);
	util_uuid_format(idstr, tenant_id);

	/* Rows first (inside a transaction), then files, then COMMIT: a name
	 * clash fails before any file exists, and a failed COMMIT removes the
	 * files again, so shares never exist for a tenant that does not. */
	if (pg_begin(db, err, sizeof(err)) != 0)
		goto fail_db;
	{
		pg_params p = PG_PARAMS_INIT;
		snprintf(kstr, sizeof(kstr), "%u", k);
		snprintf(nstr, sizeof(nstr), "%u", n);
		pg_param_text(&p, idstr);
		pg_param_text(&p, name);
		pg_param_text(&p, kstr);
		pg_param_text(&p, nstr);
		if (pg_exec(db, "INSERT INTO coffer.tenants (tenant_id, name, threshold_k, custodians_n) "
		    "VALUES ($1::uuid, $2, $3::int, $4::int)", &p, err, sizeof(err)) != 0) {
			if (pg_last_sqlstate_is(PG_SQLSTATE_UNIQUE_VIOLATION))
				snprintf(err, sizeof(err), "a tenant named %s already exists", name);
			goto fail_db;
		}
	}
	{
		pg_params p = PG_PARAMS_INIT;
		pg_param_text(&p, idstr);
		pg_param_bin(&p, T, VAULT_POINT_BYTES);
		pg_param_text(&p, commit_arr);
		pg_param_text(&p, share_arr);
		pg_param_text(&p, fp);
		if (pg_exec(db, "INSERT INTO coffer.tenant_keys (tenant_id, public_key, commitments, "
		    "public_shares, fingerprint) VALUES ($1::uuid, $2, $3::bytea[], $4::bytea[], $5)",
		    &p, err, sizeof(err)) != 0)
			goto fail_db;
	}
	{
		/* Generation 1 in the history (migration 0014). */
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, idstr);
		if (pg_exec(db, "INSERT INTO coffer.tenant_key_generations (tenant_id, "
		    "generation, public_key, threshold_k, custodians_n, commitments, "
		    "public_shares, kind) SELECT k.tenant_id, 1, k.public_key, "
		    "t.threshold_k, t.custodians_n, k.commitments, k.public_shares, "
		    "'init' FROM coffer.tenant_keys k JOIN coffer.tenants t "
		    "USING (tenant_id) WHERE k.tenant_id = $1::uuid", &p, err,
		    sizeof(err)) != 0)
			goto fail_db;
	}
	/* tenant.init opens the tenant's audit chain, with the rows. */
	{
		char target[80];
		json_t *d = json_pack("{s:s, s:s, s:I, s:I, s:s}", "tenant", name,
		    "tenant_id", idstr, "threshold_k", (json_int_t)k,
		    "custodians_n", (json_int_t)n, "fingerprint", fp);
		int arc;

		snprintf(target, sizeof(target), "tenant:%s", name);
		arc = d == NULL ? -1 : ctl_admin_audit(db, idstr, "tenant.init",
		    target, NULL, d, err, sizeof(err));
		if (d == NULL)
			snprintf(err, sizeof(err), "out of memory");
		json_decref(d);
		if (arc != 0)
			goto fail_db;
	}

	if (ctl_tenant_write_shares(keys, tenant_id, T, k, n, 1, d3p, outdir, name,
	    npass ? passfiles : NULL, &done_files) != 0)
		goto fail_files;
	if (vault_bik_new(&bik) != 0) {
		ctl_fail("blind-index key generation failed");
		goto fail_files;
	}
	snprintf(path, sizeof(path), "%s/%s.bik", outdir, name);
	if (util_write_file(path, bik, VAULT_BIK_BYTES, 0600, 0, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto fail_files;
	}
	if (group != NULL &&
	    ctl_tenant_give(path, gid, group, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		unlink(path);
		goto fail_files;
	}
	/* The pin: public material the gateway and API compare the database
	 * with (common/pins.h); next to the .bik, copied with it. */
	{
		pins_tenant *pin = calloc(1, sizeof(*pin));
		char pinpath[CTL_PATH];
		int werr;

		if (pin == NULL) {
			ctl_fail("out of memory");
			unlink(path);
			goto fail_files;
		}
		memcpy(pin->tenant_id, tenant_id, sizeof(pin->tenant_id));
		snprintf(pin->name, sizeof(pin->name), "%s", name);
		pin->k = k;
		pin->n = n;
		pin->generation = 1;
		memcpy(pin->public_key, T, sizeof(T));
		memcpy(pin->commitments, commits, (size_t)k * VAULT_POINT_BYTES);
		memcpy(pin->public_shares, pubshares, (size_t)n * VAULT_POINT_BYTES);
		snprintf(pinpath, sizeof(pinpath), "%s/%s.pin", outdir, name);
		werr = ctl_tenant_write_pin(pin, NULL, 0, pinpath, group, gid,
		    err, sizeof(err)) != 0;
		free(pin);
		if (werr) {
			ctl_fail("%s", err);
			unlink(path);
			goto fail_files;
		}
		if (pg_commit(db, err, sizeof(err)) != 0) {
			unlink(path);
			unlink(pinpath);
			goto fail_files_db;
		}
		ctl_fail("tenant pin %s (copy it with the .bik to the "
		    "gateway and API hosts' keys_dir)", pinpath);
	}
	printf("tenant %s fingerprint %s\n", idstr, fp);
	ctl_fail("tenant %s: %u-of-%u custodian shares in %s (mode 0600: one "
	    "to each custodian); blind-index key %s", name, k, n, outdir, path);
	ctl_tenant_install_help(outdir, name, group);
	rc = 0;
	goto out;

fail_db:
	ctl_fail("database: %s", err);
	(void)pg_rollback(db);
	goto fail;
fail_files_db:
	ctl_fail("database: %s", err);
fail_files:
	(void)pg_rollback(db);
	ctl_tenant_unlink_shares(outdir, name, done_files);
fail:
	rc = 1;
out:
	vault_bik_free(&bik);
	vault_tenant_keys_free(&keys);
	free(commits);
	free(pubshares);
	free(commit_arr);
	free(share_arr);
	pg_close(&db);
	return rc;
}

/* -- tenant settings: one column, audited ------------------------------------- */

/* Set coffer.tenants.COLUMN (a literal of this file, never input) of tenant
 * NAME to VALUE (NULL: SQL NULL), audited as ACTION with detail {old, new}
 * in the same transaction.  The old value ("" for NULL) in old.  0, or -1
 * with the reason printed under VERB. */
static int
ctl_tenant_set(const char *verb, const char *column, const char *tenant,
    const char *value, const char *action, char *old, size_t old_len)
{
	char err[CTL_ERR], target[256], shown[64], sql[512];
	pg_params p = PG_PARAMS_INIT;
	PGconn *db = NULL;
	PGresult *r = NULL;
	json_t *d = NULL;
	int rc = -1;

	snprintf(sql, sizeof(sql), "WITH old AS (SELECT tenant_id, %s AS v "
	    "FROM coffer.tenants WHERE name = $1 FOR UPDATE) "
	    "UPDATE coffer.tenants t SET %s = $2 FROM old "
	    "WHERE t.tenant_id = old.tenant_id "
	    "RETURNING t.tenant_id::text, coalesce(old.v, '')", column, column);
	if ((db = ctl_connect(NULL)) == NULL)
		return -1;
	if (pg_begin(db, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", verb, err);
		goto out;
	}
	pg_param_text(&p, tenant);
	pg_param_text(&p, value);
	if ((r = pg_query(db, sql, &p, err, sizeof(err))) == NULL) {
		ctl_fail("%s: %s", verb, err);
		goto out;
	}
	if (PQntuples(r) != 1) {
		ctl_fail("%s: no tenant %s", verb, log_printable(shown,
		    sizeof(shown), tenant, strlen(tenant)));
		goto out;
	}
	snprintf(target, sizeof(target), "tenant:%s", PQgetvalue(r, 0, 0));
	d = json_pack("{s:s, s:s}", "old", PQgetvalue(r, 0, 1), "new",
	    value != NULL ? value : "");
	if (d == NULL || ctl_admin_audit(db, PQgetvalue(r, 0, 0), action,
	    target, NULL, d, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s (nothing changed)", verb, d == NULL ?
		    "out of memory" : err);
		goto out;
	}
	if (pg_commit(db, err, sizeof(err)) != 0) {
		ctl_fail("%s: commit failed: %s", verb, err);
		goto out;
	}
	snprintf(old, old_len, "%s", PQgetvalue(r, 0, 1));
	rc = 0;
out:
	json_decref(d);
	PQclear(r);
	pg_close(&db);
	return rc;
}

/* -- tenant set-country (issue 15.2) ----------------------------------------- */

static const char ctl_setcc_usage[] =
    "usage: cofferctl tenant set-country --tenant NAME (--code CC | --clear)\n"
    "  the country calling code (1..3 digits, e.g. 1, 44, 353) in which a\n"
    "  phone number typed into a matter or hold scope without '+' is read;\n"
    "  --clear: such numbers are refused again.  Audited (tenant.set_country).\n";

static int
ctl_tenant_set_country(int argc, char **argv)
{
	const char *tenant = NULL, *code = NULL;
	char shown[64], old[16];
	int i, clear = 0;
	size_t n;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			fputs(ctl_setcc_usage, stdout);
			return CTL_EXIT_OK;
		} else if (strcmp(argv[i], "--clear") == 0) {
			clear = 1;
		} else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
			tenant = argv[++i];
		} else if (strcmp(argv[i], "--code") == 0 && i + 1 < argc) {
			code = argv[++i];
		} else {
			return ctl_usage(ctl_setcc_usage, "tenant set-country: unknown "
			    "option or missing value");
		}
	}
	if (tenant == NULL || (code == NULL) == (clear == 0))
		return ctl_usage(ctl_setcc_usage, "tenant set-country: --tenant and "
		    "one of --code or --clear are required");
	if (code != NULL && code[0] == '+')
		code++;
	n = code != NULL ? strlen(code) : 0;
	if (code != NULL && (n < 1 || n > 3 || code[0] == '0' ||
	    strspn(code, "0123456789") != n))
		return ctl_usage(ctl_setcc_usage, "tenant set-country: --code must "
		    "be a country calling code of 1..3 digits, not starting with 0 "
		    "(e.g. 1, 44, 353)");
	if (ctl_tenant_set("tenant set-country", "default_country_code", tenant,
	    code, "tenant.set_country", old, sizeof(old)) != 0)
		return CTL_EXIT_FAIL;
	if (code != NULL)
		printf("tenant %s: numbers without '+' in matter and hold scopes "
		    "are read with country code +%s\n", log_printable(shown,
		    sizeof(shown), tenant, strlen(tenant)), code);
	else
		printf("tenant %s: no default country code; numbers without '+' "
		    "are refused\n", log_printable(shown, sizeof(shown), tenant,
		    strlen(tenant)));
	return CTL_EXIT_OK;
}

/* -- tenant set-d3p-rule (issue 16.4) ---------------------------------------- */

static const char ctl_setd3p_usage[] =
    "usage: cofferctl tenant set-d3p-rule --tenant NAME --rule RULE\n"
    "  whether a regulator request's K approvals must include (required),\n"
    "  may include (allowed, the default) or must not include (excluded) the\n"
    "  designated third party's.  Audited (tenant.set_d3p_rule).\n";

static int
ctl_tenant_set_d3p_rule(int argc, char **argv)
{
	const char *tenant = NULL, *rule = NULL;
	char shown[64], old[16];
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			fputs(ctl_setd3p_usage, stdout);
			return CTL_EXIT_OK;
		} else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
			tenant = argv[++i];
		} else if (strcmp(argv[i], "--rule") == 0 && i + 1 < argc) {
			rule = argv[++i];
		} else {
			return ctl_usage(ctl_setd3p_usage, "tenant set-d3p-rule: "
			    "unknown option or missing value");
		}
	}
	if (tenant == NULL || rule == NULL)
		return ctl_usage(ctl_setd3p_usage, "tenant set-d3p-rule: --tenant "
		    "and --rule are required");
	if (strcmp(rule, "required") != 0 && strcmp(rule, "allowed") != 0 &&
	    strcmp(rule, "excluded") != 0)
		return ctl_usage(ctl_setd3p_usage, "tenant set-d3p-rule: --rule "
		    "must be required, allowed or excluded");
	if (ctl_tenant_set("tenant set-d3p-rule", "regulator_d3p", tenant, rule,
	    "tenant.set_d3p_rule", old, sizeof(old)) != 0)
		return CTL_EXIT_FAIL;
	printf("tenant %s: regulator requests: the designated third party's "
	    "approval is %s (was %s)\n", log_printable(shown, sizeof(shown),
	    tenant, strlen(tenant)), rule, old);
	return CTL_EXIT_OK;
}

/* -- tenant rotate (issue 16) -------------------------------------------------- */

const char ctl_rotate_usage[] =
    "usage: cofferctl tenant rotate --tenant NAME --pin OLD.pin --out DIR --from INSTANT\n"
    "                               [--passphrase-file FILE]...   (N files, in custodian order)\n"
    "                               [--group GROUP]   (the pins owner:GROUP 0640)\n"
    "  a new tenant key for new epochs from INSTANT (RFC 3339 or now), split\n"
    "  among the current custodians (same indices, K and N); OLD.pin is the\n"
    "  tenant's current pin, kept as DIR/NAME.gG.pin next to the new NAME.pin\n";

/* INSTANT -> whole seconds since the epoch (rounded up), by the server's
 * clock and parser; refuses one more than a minute in the past. */
static int
ctl_rotate_instant(PGconn *db, const char *from, long long *out_us, char *err,
    size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int rc = -1;

	pg_param_text(&p, strcmp(from, "now") == 0 ? NULL : from);
	r = pg_query(db, "SELECT ceil(extract(epoch FROM COALESCE($1::timestamptz, "
	    "now())))::bigint, COALESCE($1::timestamptz, now()) < now() - "
	    "interval '1 minute'", &p, err, err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		snprintf(err, err_len, "--from %s: not a time", from);
	} else if (strcmp(PQgetvalue(r, 0, 1), "t") == 0) {
		snprintf(err, err_len, "--from %s is in the past: the instant new "
		    "epochs switch keys must be now or later", from);
	} else {
		*out_us = strtoll(PQgetvalue(r, 0, 0), NULL, 10) * 1000000LL;
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
ctl_tenant_rotate(int argc, char **argv)
{
	const char *name = NULL, *outdir = NULL, *from = NULL, *pinfile = NULL;
	const char *passfiles[VAULT_CUSTODIANS_MAX], *group = NULL;
	gid_t gid = (gid_t)-1;
	unsigned npass = 0, k, n, g, done_files = 0, i;
	char err[CTL_ERR], fp[VAULT_FINGERPRINT_HEX_BYTES], oldfp[VAULT_FINGERPRINT_HEX_BYTES];
	char idstr[UTIL_UUID_STRLEN + 1], path[CTL_PATH], newpin[CTL_PATH], oldpin[CTL_PATH];
	char num[3][32], when[32];
	char *commit_arr = NULL, *share_arr = NULL;
	unsigned char T[VAULT_POINT_BYTES], *commits = NULL, *pubshares = NULL;
	unsigned char *oldtext = NULL;
	size_t oldlen = 0;
	long long wraps_us = 0;
	pins_tenant *pin = NULL, *npin = NULL;
	vault_tenant_keys *keys = NULL;
	PGconn *db = NULL;
	PGresult *r = NULL;
	int rc = 1, a, files = 0;
	struct stat st;

	for (a = 2; a < argc; a += 2) {
		const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (val == NULL) {
			ctl_fail("%s needs a value", opt);
			fputs(ctl_rotate_usage, stderr);
			return 2;
		}
		if (strcmp(opt, "--tenant") == 0)
			name = val;
		else if (strcmp(opt, "--out") == 0)
			outdir = val;
		else if (strcmp(opt, "--from") == 0)
			from = val;
		else if (strcmp(opt, "--pin") == 0)
			pinfile = val;
		else if (strcmp(opt, "--group") == 0) {
			if (ctl_tenant_group(val, &group, &gid) != 0)
				return 2;
		} else if (strcmp(opt, "--passphrase-file") == 0) {
			if (ctl_tenant_passfile(val, passfiles, &npass) != 0)
				return 2;
		} else {
			ctl_fail("unknown option %s", opt);
			fputs(ctl_rotate_usage, stderr);
			return 2;
		}
	}
	if (name == NULL || outdir == NULL || from == NULL) {
		fputs(ctl_rotate_usage, stderr);
		return 2;
	}
	if (pinfile == NULL) {
		ctl_fail("tenant rotate needs --pin: the tenant's current pin file "
		    "(kept for the old key's epochs and checked against the database)");
		return 2;
	}
	if (names_check("tenant name", name, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return 2;
	}
	if (strcmp(from, "now") != 0 && !util_rfc3339_ok(from)) {
		ctl_fail("--from %s: expected an RFC 3339 time with an offset "
		    "(e.g. 2026-12-06T06:00:00Z) or now", from);
		return 2;
	}
	if ((pin = calloc(1, sizeof(*pin))) == NULL ||
	    (npin = calloc(1, sizeof(*npin))) == NULL) {
		ctl_fail("out of memory");
		goto fail;
	}
	if (util_read_file(pinfile, 64U * 1024U, &oldtext, &oldlen, err,
	    sizeof(err)) != 0 || pins_tenant_parse((const char *)oldtext, oldlen,
	    pin, err, sizeof(err)) != 0) {
		ctl_fail("--pin %s: %s", pinfile, err);
		goto fail;
	}
	if (mkdir(outdir, 0700) != 0 && errno != EEXIST) {
		ctl_fail("%s: %s", outdir, strerror(errno));
		goto fail;
	}
	if (vault_init() != 0) {
		ctl_fail("libsodium failed to initialise");
		goto fail;
	}
	if ((db = ctl_connect(NULL)) == NULL)
		goto fail;
	if (pg_begin(db, err, sizeof(err)) != 0)
		goto fail_db;
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, name);
		r = pg_query(db, "SELECT t.tenant_id, k.generation, g.threshold_k, "
		    "g.custodians_n, k.fingerprint, (SELECT r.state FROM "
		    "coffer.reshares r WHERE r.tenant_id = t.tenant_id AND r.state "
		    "IN ('proposed', 'dealing')) FROM coffer.tenants t "
		    "JOIN coffer.tenant_keys k USING (tenant_id) "
		    "JOIN coffer.tenant_key_generations g ON g.tenant_id = t.tenant_id "
		    "AND g.generation = k.generation WHERE t.name = $1 "
		    "FOR UPDATE OF k", &p, err, sizeof(err));
		if (r == NULL)
			goto fail_db;
		if (PQntuples(r) != 1) {
			ctl_fail("no tenant named %s", name);
			goto fail_rb;
		}
		snprintf(idstr, sizeof(idstr), "%s", PQgetvalue(r, 0, 0));
		if (ctl_parse_uint(PQgetvalue(r, 0, 1), 1, PINS_MAX_GENERATION - 1, &g) != 0 ||
		    ctl_parse_uint(PQgetvalue(r, 0, 2), 2, VAULT_CUSTODIANS_MAX, &k) != 0 ||
		    ctl_parse_uint(PQgetvalue(r, 0, 3), k, VAULT_CUSTODIANS_MAX, &n) != 0) {
			ctl_fail("tenant %s: malformed key row in the database", name);
			goto fail_rb;
		}
		snprintf(oldfp, sizeof(oldfp), "%s", PQgetvalue(r, 0, 4));
		if (!PQgetisnull(r, 0, 5)) {
			ctl_fail("tenant %s has a re-share in progress (%s): finish or "
			    "cancel it before rotating the key", name, PQgetvalue(r, 0, 5));
			goto fail_rb;
		}
		PQclear(r);
		r = NULL;
	}
	if (strcmp(pin->name, name) != 0) {
		ctl_fail("--pin %s pins tenant %s, not %s", pinfile, pin->name, name);
		goto fail_rb;
	}
	{
		char pid[UTIL_UUID_STRLEN + 1];

		util_uuid_format(pid, pin->tenant_id);
		if (strcmp(pid, idstr) != 0) {
			ctl_fail("--pin %s names another tenant id than the database's", pinfile);
			goto fail_rb;
		}
	}
	if (pin->generation != g) {
		ctl_fail("--pin %s is generation %u, the tenant's current key is "
		    "generation %u: give the current pin", pinfile, pin->generation, g);
		goto fail_rb;
	}
	if (pins_tenant_compare_db(db, pin, pinfile, 0, err, sizeof(err)) != 0) {
		ctl_fail("--pin: %s", err);
		goto fail_rb;
	}
	if (npass != 0 && npass != n) {
		ctl_fail("%u custodians need %u --passphrase-file options, got %u",
		    n, n, npass);
		goto fail_rb;
	}
	if (ctl_rotate_instant(db, from, &wraps_us, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto fail_rb;
	}
	if (pin->has_rotation && pin->wraps_from_us > wraps_us) {
		ctl_fail("tenant %s: the previous rotation's instant is still to "
		    "come: rotate again after it", name);
		goto fail_rb;
	}
	/* Never overwrite: the previous key's shares may be in DIR. */
	snprintf(newpin, sizeof(newpin), "%s/%s.pin", outdir, name);
	snprintf(oldpin, sizeof(oldpin), "%s/%s.g%u.pin", outdir, name, g);
	for (i = 0; i <= n + 1; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s", newpin);
		else if (i == 1)
			snprintf(path, sizeof(path), "%s", oldpin);
		else
			snprintf(path, sizeof(path), "%s/%s-custodian-%u.share",
			    outdir, name, i - 1);
		if (lstat(path, &st) == 0) {
			ctl_fail("%s exists (files of the current key are kept): "
			    "choose another --out", path);
			goto fail_rb;
		}
	}
	if (ctl_tenant_generate(&keys, k, n, T, fp, &commits, &pubshares,
	    &commit_arr, &share_arr) != 0)
		goto fail_rb;
	snprintf(num[0], sizeof(num[0]), "%u", g);
	snprintf(num[1], sizeof(num[1]), "%lld", wraps_us / 1000000LL);
	{
		pg_params p = PG_PARAMS_INIT, ps = PG_PARAMS_INIT, pk = PG_PARAMS_INIT;

		pg_param_text(&p, idstr);
		pg_param_text(&p, num[0]);
		pg_param_bin(&p, T, VAULT_POINT_BYTES);
		pg_param_text(&p, commit_arr);
		pg_param_text(&p, share_arr);
		pk = p;
		pg_param_text(&p, num[1]);
		pg_param_text(&pk, fp);
		pg_param_text(&ps, idstr);
		pg_param_text(&ps, num[0]);
		if (pg_exec(db, "INSERT INTO coffer.tenant_key_generations (tenant_id, "
		    "generation, public_key, threshold_k, custodians_n, commitments, "
		    "public_shares, kind, wraps_from) SELECT tenant_id, generation + 1, "
		    "$3, threshold_k, custodians_n, $4::bytea[], $5::bytea[], 'rotate', "
		    "to_timestamp($6::bigint) FROM coffer.tenant_key_generations "
		    "WHERE tenant_id = $1::uuid AND generation = $2::int", &p, err,
		    sizeof(err)) != 0 ||
		    pg_exec(db, "INSERT INTO coffer.custodian_seats (tenant_id, "
		    "generation, custodian_index, user_id) SELECT tenant_id, "
		    "generation + 1, custodian_index, user_id FROM "
		    "coffer.custodian_seats WHERE tenant_id = $1::uuid AND "
		    "generation = $2::int", &ps, err, sizeof(err)) != 0 ||
		    pg_exec(db, "UPDATE coffer.tenant_keys SET public_key = $3, "
		    "commitments = $4::bytea[], public_shares = $5::bytea[], "
		    "generation = $2::int + 1, fingerprint = $6 "
		    "WHERE tenant_id = $1::uuid AND generation = $2::int", &pk, err,
		    sizeof(err)) != 0)
			goto fail_db;
	}
	{
		char target[80];
		time_t wt = (time_t)(wraps_us / 1000000LL);
		struct tm tm;
		json_t *d;
		int arc;

		gmtime_r(&wt, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		d = json_pack("{s:s, s:I, s:s, s:s, s:s}", "tenant", name,
		    "generation", (json_int_t)(g + 1), "wraps_from", when,
		    "old_fingerprint", oldfp, "fingerprint", fp);
		snprintf(target, sizeof(target), "tenant:%s", name);
		arc = d == NULL ? -1 : ctl_admin_audit(db, idstr, "tenant.rotate",
		    target, NULL, d, err, sizeof(err));
		if (d == NULL)
			snprintf(err, sizeof(err), "out of memory");
		json_decref(d);
		if (arc != 0)
			goto fail_db;
	}
	if (ctl_tenant_write_shares(keys, pin->tenant_id, T, k, n, g + 1, 0, outdir,
	    name, npass ? passfiles : NULL, &done_files) != 0)
		goto fail_files;
	memcpy(npin->tenant_id, pin->tenant_id, sizeof(npin->tenant_id));
	snprintf(npin->name, sizeof(npin->name), "%s", name);
	npin->k = k;
	npin->n = n;
	npin->generation = g + 1;
	memcpy(npin->public_key, T, sizeof(T));
	memcpy(npin->commitments, commits, (size_t)k * VAULT_POINT_BYTES);
	memcpy(npin->public_shares, pubshares, (size_t)n * VAULT_POINT_BYTES);
	npin->has_rotation = 1;
	npin->wraps_from_us = wraps_us;
	memcpy(npin->previous_key, pin->public_key, VAULT_POINT_BYTES);
	if (ctl_tenant_write_pin(npin, NULL, 0, newpin, group, gid, err,
	    sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto fail_files;
	}
	files = 1;
	if (ctl_tenant_write_pin(NULL, (const char *)oldtext, oldlen, oldpin,
	    group, gid, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto fail_files;
	}
	files = 2;
	if (pg_commit(db, err, sizeof(err)) != 0) {
		ctl_fail("database: %s", err);
		goto fail_files;
	}
	printf("tenant %s generation %u fingerprint %s wraps_from %s\n", idstr,
	    g + 1, fp, when);
	ctl_fail("tenant %s: new key, %u-of-%u custodian shares of generation %u "
	    "in %s (mode 0600: one to each custodian, same index as before); new "
	    "epochs are wrapped to it from %s", name, k, n, g + 1, outdir, when);
	ctl_fail("custodians: keep the share files of generation %u until the "
	    "old key's records are disposed of: they alone open its epochs", g);
	ctl_fail("install both pins in the gateway's and the API's keys_dir "
	    "before %s (the gateway refuses the tenant's records without them):", when);
	fprintf(stderr, "  install -o root -g coffer-gateway -m 0640 %s %s "
	    "/etc/coffer/gateway/keys/\n", newpin, oldpin);
	fprintf(stderr, "  install -o root -g coffer-api -m 0640 %s %s "
	    "/etc/coffer/api/keys/\n", newpin, oldpin);
	rc = 0;
	goto out;

fail_db:
	ctl_fail("database: %s", err);
fail_rb:
	(void)pg_rollback(db);
	goto fail;
fail_files:
	(void)pg_rollback(db);
	ctl_tenant_unlink_shares(outdir, name, done_files);
	if (files >= 1)
		unlink(newpin);
	if (files >= 2)
		unlink(oldpin);
fail:
	rc = 1;
out:
	PQclear(r);
	vault_tenant_keys_free(&keys);
	free(commits);
	free(pubshares);
	free(commit_arr);
	free(share_arr);
	free(oldtext);
	free(pin);
	free(npin);
	pg_close(&db);
	return rc;
}

int
ctl_cmd_tenant(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return ctl_tenant_init(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "set-country") == 0)
		return ctl_tenant_set_country(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "set-d3p-rule") == 0)
		return ctl_tenant_set_d3p_rule(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "reshare") == 0)
		return ctl_tenant_reshare(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "rotate") == 0)
		return ctl_tenant_rotate(argc, argv);
	ctl_tenant_usage();
	fputs(ctl_setcc_usage, stderr);
	fputs(ctl_rotate_usage, stderr);
	fputs(ctl_setd3p_usage, stderr);
	fputs(ctl_reshare_usage, stderr);
	return 2;
}

/* -- share check ------------------------------------------------------------ */

static int
ctl_share_check(int argc, char **argv)
{
	const char *file = NULL, *passfile = NULL;
	unsigned char *data = NULL, *share = NULL, *commits = NULL;
	char err[CTL_ERR], idstr[UTIL_UUID_STRLEN + 1], *pass = NULL;
	size_t len = 0, clen = 0;
	vault_sharefile_info info;
	PGresult *res = NULL;
	PGconn *db = NULL;
	unsigned current = 0;
	int rc = 1, a, i, nc;

	for (a = 2; a < argc; a++) {
		if (strcmp(argv[a], "--passphrase-file") == 0 && a + 1 < argc)
			passfile = argv[++a];
		else if (argv[a][0] != '-' && file == NULL)
			file = argv[a];
		else {
			fprintf(stderr, "usage: cofferctl share check FILE [--passphrase-file FILE]\n");
			return 2;
		}
	}
	if (file == NULL) {
		fprintf(stderr, "usage: cofferctl share check FILE [--passphrase-file FILE]\n");
		return 2;
	}
	if (vault_init() != 0 || (pass = vault_secure_alloc(CTL_PASS_MAX)) == NULL) {
		ctl_fail("out of memory");
		return 1;
	}
	if (util_read_file(file, 65536, &data, &len, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto out;
	}
	if (vault_sharefile_inspect(data, len, &info, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", file, err);
		goto out;
	}
	util_uuid_format(idstr, info.tenant_id);
	if (util_read_passphrase(passfile, "Share passphrase: ", pass, CTL_PASS_MAX,
	    err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto out;
	}
	if (vault_sharefile_open(data, len, pass, strlen(pass), &info, &share,
	    err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", file, err);
		goto out;
	}
	db = ctl_connect(NULL);
	if (db == NULL)
		goto out;
	{
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, idstr);
		res = pg_query(db, "SELECT generation FROM coffer.tenant_keys "
		    "WHERE tenant_id = $1::uuid", &p, err, sizeof(err));
		if (res == NULL) {
			ctl_fail("database: %s", err);
			goto out;
		}
		if (PQntuples(res) != 1) {
			ctl_fail("%s: tenant %s is not in this database", file, idstr);
			goto out;
		}
		current = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		res = NULL;
	}
	if (info.generation > current) {
		ctl_fail("%s: share generation %u is newer than tenant %s's current "
		    "generation %u in this database", file, info.generation, idstr,
		    current);
		goto out;
	}
	{
		pg_params p = PG_PARAMS_INIT;
		char gen[16];

		snprintf(gen, sizeof(gen), "%u", info.generation);
		pg_param_text(&p, idstr);
		pg_param_text(&p, gen);
		p.result_binary = 1;
		/* The current generation from the live row (what approvals are
		 * checked against), an older one from the history. */
		res = pg_query(db, info.generation == current ?
		    "SELECT k.public_key, c FROM coffer.tenant_keys k, "
		    "unnest(k.commitments) WITH ORDINALITY AS u(c, o) "
		    "WHERE k.tenant_id = $1::uuid AND $2::int IS NOT NULL ORDER BY o" :
		    "SELECT k.public_key, c FROM coffer.tenant_key_generations k, "
		    "unnest(k.commitments) WITH ORDINALITY AS u(c, o) "
		    "WHERE k.tenant_id = $1::uuid AND k.generation = $2::int ORDER BY o",
		    &p, err, sizeof(err));
	}
	if (res == NULL) {
		ctl_fail("database: %s", err);
		goto out;
	}
	nc = PQntuples(res);
	if (nc == 0) {
		ctl_fail("%s: tenant %s has no generation %u in this database",
		    file, idstr, info.generation);
		goto out;
	}
	if ((unsigned)nc != info.k) {
		ctl_fail("%s: the file says threshold %u, the tenant has %d "
		    "commitments",
		    file, info.k, nc);
		goto out;
	}
	if (PQgetlength(res, 0, 0) != VAULT_POINT_BYTES ||
	    memcmp(PQgetvalue(res, 0, 0), info.tenant_pk, VAULT_POINT_BYTES) != 0) {
		ctl_fail("%s: tenant public key differs from the "
		    "database's", file);
		goto out;
	}
	clen = (size_t)nc * VAULT_POINT_BYTES;
	commits = malloc(clen);
	if (commits == NULL)
		goto out;
	for (i = 0; i < nc; i++) {
		if (PQgetlength(res, i, 1) != VAULT_POINT_BYTES) {
			ctl_fail("tenant %s: malformed commitment in the "
			    "database", idstr);
			goto out;
		}
		memcpy(commits + (size_t)i * VAULT_POINT_BYTES, PQgetvalue(res, i, 1), VAULT_POINT_BYTES);
	}
	if (vault_tenant_verify_share(commits, clen, info.index, share, err, sizeof(err)) != 0) {
		ctl_fail("%s: share %u does NOT verify against tenant %s's "
		    "commitments: %s",
		    file, info.index, idstr, err);
		goto out;
	}
	if (info.generation < current) {
		printf("share %u of %u (threshold %u) for tenant %s: generation %u "
		    "is RETIRED: it verifies against generation %u's commitments, "
		    "but the tenant key was re-shared and is at generation %u; "
		    "approvals with this share are refused\n", info.index, info.n,
		    info.k, idstr, info.generation, info.generation, current);
		goto out;
	}
	printf("share %u of %u (threshold %u) for tenant %s: OK, verifies against the commitments; generation %u (current)%s\n",
	    info.index, info.n, info.k, idstr, info.generation,
	    info.holder == VAULT_SHARE_HOLDER_THIRD_PARTY ?
	    "; held by a designated third party" : "");
	rc = 0;
out:
	PQclear(res);
	pg_close(&db);
	vault_secure_free(share);
	vault_secure_free(pass);
	if (data != NULL) {
		vault_wipe(data, len);
		free(data);
	}
	free(commits);
	return rc;
}

int
ctl_cmd_share(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return ctl_share_check(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "prove") == 0)
		return ctl_share_prove(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "health") == 0)
		return ctl_share_health(argc, argv);
	fprintf(stderr, "usage: cofferctl share check FILE [--passphrase-file FILE]\n");
	fputs(ctl_possession_usage, stderr);
	return 2;
}

/* -- node init ---------------------------------------------------------------- */

#define CTL_NODE_USAGE \
	"usage: cofferctl node init --name NODE --key-out FILE [--pins FILE]\n" \
	"                           [--kind gateway|api|ctl|purge]\n" \
	"  kind (default gateway): what the key signs: gateway checkpoints and\n" \
	"  epochs; the API's (api), cofferctl's (ctl) or purge's (purge) audit\n" \
	"  events.  Without COFFER_AUDIT_KEY, a ctl node signs its own node.init.\n"

static int
ctl_node_init(int argc, char **argv)
{
	const char *name = NULL, *out = NULL, *pins = NULL, *kind = "gateway";
	unsigned char pk[VAULT_SIGN_PK_BYTES], *sk = NULL, node_id[UTIL_UUID_BYTES];
	char err[CTL_ERR], idstr[UTIL_UUID_STRLEN + 1], pkhex[2 * VAULT_SIGN_PK_BYTES + 1];
	PGconn *db = NULL;
	int rc = 1, a;

	for (a = 2; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--name") == 0)
			name = argv[a + 1];
		else if (strcmp(argv[a], "--key-out") == 0)
			out = argv[a + 1];
		else if (strcmp(argv[a], "--pins") == 0)
			pins = argv[a + 1];
		else if (strcmp(argv[a], "--kind") == 0)
			kind = argv[a + 1];
		else
			break;
	}
	if (a != argc || name == NULL || out == NULL) {
		fprintf(stderr, "%s", CTL_NODE_USAGE);
		return 2;
	}
	if (strcmp(kind, "gateway") != 0 && strcmp(kind, "api") != 0 &&
	    strcmp(kind, "ctl") != 0 && strcmp(kind, "purge") != 0) {
		ctl_fail("node kind must be gateway, api, ctl or "
		    "purge");
		return 2;
	}
	if (names_check("node name", name, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return 2;
	}
	if (vault_init() != 0 || vault_sign_keypair(pk, &sk) != 0) {
		ctl_fail("key generation failed");
		return 1;
	}
	db = ctl_connect(NULL);
	if (db == NULL)
		goto out;
	util_uuid_random(node_id);
	util_uuid_format(idstr, node_id);
	if (pg_begin(db, err, sizeof(err)) != 0)
		goto fail_db;
	{
		pg_params p = PG_PARAMS_INIT;
		pg_param_text(&p, idstr);
		pg_param_text(&p, name);
		pg_param_bin(&p, pk, sizeof(pk));
		pg_param_text(&p, kind);
		if (pg_exec(db, "INSERT INTO coffer.nodes (node_id, name, signing_public_key, "
		    "kind) VALUES ($1::uuid, $2, $3, $4)", &p, err, sizeof(err)) != 0) {
			if (pg_last_sqlstate_is(PG_SQLSTATE_UNIQUE_VIOLATION))
				snprintf(err, sizeof(err), "a node named %s is already registered", name);
			goto fail_db;
		}
	}
	/* node.init concerns no tenant: the nil-uuid audit chain. */
	util_hex(pkhex, pk, sizeof(pk));
	{
		char target[80];
		json_t *d = json_pack("{s:s, s:s, s:s, s:b, s:s}", "node", name,
		    "node_id", idstr, "signing_public_key", pkhex,
		    "pinned", pins != NULL, "kind", kind);
		int arc;

		/* Bootstrap: the first operator key signs its own registration
		 * (it is pinned with it); every other node needs a signer. */
		if (!audit_signer_present() && strcmp(kind, "ctl") == 0 &&
		    audit_signer_set(name, sk, err, sizeof(err)) != 0) {
			json_decref(d);
			goto fail_db;
		}
		snprintf(target, sizeof(target), "node:%s", name);
		arc = d == NULL ? -1 : ctl_admin_audit(db, NULL, "node.init",
		    target, NULL, d, err, sizeof(err));
		if (d == NULL)
			snprintf(err, sizeof(err), "out of memory");
		json_decref(d);
		if (arc != 0)
			goto fail_db;
	}
	if (util_write_file(out, sk, VAULT_SIGN_SK_BYTES, 0600, 0, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		(void)pg_rollback(db);
		goto out;
	}
	/* The pin before COMMIT: a node is never registered unpinned. */
	if (pins != NULL && pins_nodes_append(pins, name, pk, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		unlink(out);
		(void)pg_rollback(db);
		goto out;
	}
	if (pg_commit(db, err, sizeof(err)) != 0) {
		unlink(out);
		goto fail_db;
	}
	printf("node %s %s signing-key %s\n", name, idstr, pkhex);
	rc = 0;
	goto out;
fail_db:
	ctl_fail("database: %s", err);
	(void)pg_rollback(db);
out:
	vault_sign_key_free(&sk);
	pg_close(&db);
	return rc;
}

int
ctl_cmd_node(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return ctl_node_init(argc, argv);
	fprintf(stderr, "%s", CTL_NODE_USAGE);
	return 2;
}
