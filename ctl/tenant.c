/* ctl/tenant.c — `cofferctl tenant init`, `share check`, `node init`.
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

static int
ctl_tenant_init(int argc, char **argv)
{
	const char *name = NULL, *outdir = NULL, *passfiles[VAULT_CUSTODIANS_MAX];
	const char *group = NULL;
	gid_t gid = (gid_t)-1;
	unsigned n = 0, k = 0, npass = 0, i, done_files = 0, d3p = 0;
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
			const struct group *gr = getgrnam(val);

			/* before any key exists: a typo costs nothing */
			if (gr == NULL) {
				ctl_fail("--group %s: no such group", val);
				return 2;
			}
			group = val;
			gid = gr->gr_gid;
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
			if (npass == VAULT_CUSTODIANS_MAX) {
				ctl_fail("too many --passphrase-file options");
				return 2;
			}
			passfiles[npass++] = val;
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
	commits = calloc(k, VAULT_POINT_BYTES);
	pubshares = calloc(n, VAULT_POINT_BYTES);
	if (commits == NULL || pubshares == NULL) {
		ctl_fail("out of memory");
		goto fail;
	}

	db = ctl_connect(NULL);
	if (db == NULL)
		goto fail;
	if (vault_tenant_generate(&keys, k, n, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto fail;
	}
	vault_tenant_keys_public_key(keys, T);
	if (vault_tenant_keys_commitments(keys, commits, (size_t)k * VAULT_POINT_BYTES) != 0 ||
	    vault_tenant_fingerprint(T, fp, sizeof(fp)) != 0) {
		ctl_fail("key generation failed");
		goto fail;
	}
	for (i = 1; i <= n; i++) {
		if (vault_tenant_keys_public_share(keys, i,
		    pubshares + (size_t)(i - 1) * VAULT_POINT_BYTES) != 0) {
			ctl_fail("key generation failed");
			goto fail;
		}
	}
	util_uuid_random(tenant_id);
	util_uuid_format(idstr, tenant_id);
	commit_arr = pg_bytea_array(commits, VAULT_POINT_BYTES, k);
	share_arr = pg_bytea_array(pubshares, VAULT_POINT_BYTES, n);
	if (commit_arr == NULL || share_arr == NULL) {
		ctl_fail("out of memory");
		goto fail;
	}

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

	for (i = 1; i <= n; i++) {
		vault_sharefile_info info;

		memset(&info, 0, sizeof(info));
		memcpy(info.tenant_id, tenant_id, sizeof(info.tenant_id));
		memcpy(info.tenant_pk, T, sizeof(info.tenant_pk));
		info.index = i;
		info.n = n;
		info.k = k;
		info.generation = 1;
		info.holder = i == d3p ? VAULT_SHARE_HOLDER_THIRD_PARTY :
		    VAULT_SHARE_HOLDER_CUSTODIAN;
		info.opslimit = VAULT_SHAREFILE_OPSLIMIT_MODERATE;
		info.memlimit = VAULT_SHAREFILE_MEMLIMIT_MODERATE;
		snprintf(path, sizeof(path), "%s/%s-custodian-%u.share", outdir, name, i);
		if (ctl_share_write(&info, vault_tenant_keys_share(keys, i),
		    npass ? passfiles[i - 1] : NULL, path) != 0)
			goto fail_files;
		done_files = i;
		ctl_fail("wrote share %u of %u: %s%s", i, n, path, i == d3p ?
		    " (held by the designated third party)" : "");
	}
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
		char *text = NULL, pinpath[CTL_PATH];
		size_t tlen = 0;
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
		werr = pins_tenant_encode(pin, &text, &tlen, err, sizeof(err)) != 0 ||
		    util_write_file(pinpath, text, tlen, 0644, 0, err, sizeof(err)) != 0;
		free(text);
		free(pin);
		if (!werr && group != NULL &&
		    ctl_tenant_give(pinpath, gid, group, err, sizeof(err)) != 0) {
			unlink(pinpath);
			werr = 1;
		}
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
	for (i = 1; i <= done_files; i++) {
		snprintf(path, sizeof(path), "%s/%s-custodian-%u.share", outdir, name, i);
		unlink(path);
	}
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
	ctl_tenant_usage();
	fputs(ctl_setcc_usage, stderr);
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
	fprintf(stderr, "usage: cofferctl share check FILE [--passphrase-file FILE]\n");
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
