/* ctl/keygen.c — `cofferctl user keygen`: a legal user's production key.
 *
 * Productions are sealed to the requesting legal user's X25519 public key
 * (vault/production.h).  This verb makes the pair on the user's machine,
 * writes the secret key to a passphrase-protected key file (Argon2id
 * MODERATE + XChaCha20-Poly1305, mode 0600, never overwriting a file) and
 * registers the public key in coffer.users.x25519_public_key of that
 * active legal user.
 *
 * Trusts: the database it is pointed at (PG* environment or --config).
 * Does not trust the command line: names pass the same check as `user
 * issue`.  The secret key exists only in guarded memory and in the key
 * file; the passphrase comes from a file or the terminal, never argv.
 *
 * ctl_keyfile_make() (ctl/ctl.h) is the one writer of such key files:
 * `cofferctl custodian keygen` (ctl/reshare.c) uses it for a re-share
 * recipient's key, with no database and zero tenant and user ids.
 *
 * Order: UPDATE inside a transaction, then the key file, then COMMIT; if
 * COMMIT fails the file is removed again, so a registered key always has
 * its secret half somewhere and a stray file never names a key the archive
 * would seal to.  Replacing a registered key needs --replace: productions
 * already sealed stay readable only with the old key file.
 */
#include "ctl/ctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "ctl/pki.h"
#include "vault/mem.h"
#include "vault/production.h"
#include "vault/sharefile.h"

#define KG_ERR       512U
#define KG_PASS_MAX  1024U
#define KG_PASS_MIN  8U

static const char kg_usage_text[] =
    "usage: cofferctl user keygen --tenant T --name N --out FILE\n"
    "                             [--passphrase-file F] [--replace] "
    "[--config FILE]\n"
    "  makes an X25519 key pair for legal user N's productions: the secret "
    "key\n"
    "  goes to FILE (passphrase-protected, 0600), the public key to the "
    "archive\n";

typedef struct kg_opts {
	const char *tenant;
	const char *name;
	const char *out;
	const char *passfile;
	const char *config;
	int         replace;
} kg_opts;

enum { KG_OPT_TENANT = 1, KG_OPT_NAME, KG_OPT_OUT, KG_OPT_PASS, KG_OPT_CONFIG,
       KG_OPT_REPLACE, KG_OPT_HELP };

static const struct option kg_long[] = {
	{ "tenant",          required_argument, NULL, KG_OPT_TENANT },
	{ "name",            required_argument, NULL, KG_OPT_NAME },
	{ "out",             required_argument, NULL, KG_OPT_OUT },
	{ "passphrase-file", required_argument, NULL, KG_OPT_PASS },
	{ "config",          required_argument, NULL, KG_OPT_CONFIG },
	{ "replace",         no_argument,       NULL, KG_OPT_REPLACE },
	{ "help",            no_argument,       NULL, KG_OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* A new passphrase: from the file, or asked twice on the terminal. */
static int
kg_passphrase(const char *file, const char *what, char *buf, size_t cap)
{
	char err[KG_ERR], prompt[96], *again = NULL;
	int rc = -1;

	if (file != NULL) {
		if (util_read_passphrase(file, NULL, buf, cap, err, sizeof(err)) != 0) {
			ctl_fail("%s", err);
			return -1;
		}
	} else {
		if ((again = vault_secure_alloc(cap)) == NULL) {
			ctl_fail("out of memory");
			return -1;
		}
		snprintf(prompt, sizeof(prompt), "Passphrase for the %s: ", what);
		if (util_read_passphrase(NULL, prompt, buf, cap, err,
		    sizeof(err)) != 0) {
			ctl_fail("%s", err);
			goto out;
		}
		if (util_read_passphrase(NULL, "Repeat the passphrase: ", again, cap,
		    err, sizeof(err)) != 0 || strcmp(buf, again) != 0) {
			ctl_fail("passphrases do not match");
			goto out;
		}
	}
	if (strlen(buf) < KG_PASS_MIN) {
		ctl_fail("passphrase shorter than %u characters",
		    KG_PASS_MIN);
		goto out;
	}
	rc = 0;
out:
	vault_secure_free(again);
	if (rc != 0)
		vault_wipe(buf, cap);
	return rc;
}

int
ctl_keyfile_make(const char *passfile, const char *what,
    struct vault_keyfile_info *info, unsigned char *file, size_t file_cap,
    size_t *file_len)
{
	char err[KG_ERR], *pass = NULL;
	unsigned char *sk = NULL;
	int rc = -1;

	*file_len = 0;
	if (vault_init() != 0 ||
	    (pass = vault_secure_alloc(KG_PASS_MAX)) == NULL) {
		ctl_fail("out of memory");
		return -1;
	}
	if (kg_passphrase(passfile, what, pass, KG_PASS_MAX) != 0)
		goto out;
	if (vault_box_keypair(info->pk, &sk) != 0) {
		ctl_fail("key generation failed");
		goto out;
	}
	info->opslimit = VAULT_SHAREFILE_OPSLIMIT_MODERATE;
	info->memlimit = VAULT_SHAREFILE_MEMLIMIT_MODERATE;
	if (vault_keyfile_seal(info, sk, pass, strlen(pass), file, file_cap,
	    file_len, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto out;
	}
	rc = 0;
out:
	vault_box_key_free(&sk);
	vault_secure_free(pass);
	return rc;
}

static int
kg_parse(int argc, char **argv, kg_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", kg_long, NULL)) != -1) {
		switch (c) {
		case KG_OPT_TENANT:  o->tenant = optarg; break;
		case KG_OPT_NAME:    o->name = optarg; break;
		case KG_OPT_OUT:     o->out = optarg; break;
		case KG_OPT_PASS:    o->passfile = optarg; break;
		case KG_OPT_CONFIG:  o->config = optarg; break;
		case KG_OPT_REPLACE: o->replace = 1; break;
		case KG_OPT_HELP:
			fputs(kg_usage_text, stdout);
			return -1;
		default:
			return ctl_usage(kg_usage_text, "user keygen: unknown "
			    "option or missing value");
		}
	}
	if (optind != argc)
		return ctl_usage(kg_usage_text, "user keygen: unexpected "
		    "argument");
	if (o->tenant == NULL || o->name == NULL || o->out == NULL)
		return ctl_usage(kg_usage_text, "user keygen: --tenant, --name "
		    "and --out are required");
	return 0;
}

int
ctl_cmd_keygen(int argc, char **argv)
{
	kg_opts o;
	char err[KG_ERR], tid[UTIL_UUID_STRLEN + 1], kid_hex[33], old_hex[33];
	unsigned char pk[VAULT_BOX_PK_BYTES];
	unsigned char kid[VAULT_BOX_KEYID_BYTES], file[VAULT_KEYFILE_BYTES];
	vault_keyfile_info info;
	pg_params p = PG_PARAMS_INIT;
	PGconn *db = NULL;
	PGresult *r = NULL;
	size_t flen = 0;
	int rc, wrote = 0, had_key;

	if ((rc = kg_parse(argc, argv, &o)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	rc = CTL_EXIT_FAIL;
	memset(&info, 0, sizeof(info));
	old_hex[0] = '\0';
	if (names_check("tenant name", o.tenant, err, sizeof(err)) != 0 ||
	    names_check("user name", o.name, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_USAGE;
	}
	if (access(o.out, F_OK) == 0) {
		ctl_fail("%s already exists; not overwriting a key "
		    "file", o.out);
		return CTL_EXIT_FAIL;
	}
	if (vault_init() != 0) {
		ctl_fail("libsodium failed to initialise");
		return CTL_EXIT_FAIL;
	}
	if ((db = ctl_pki_connect(o.config, o.tenant, tid, NULL)) == NULL)
		goto out;
	if (pg_begin(db, err, sizeof(err)) != 0) {
		ctl_fail("database: %s", err);
		goto out;
	}
	/* Lock the row: a concurrent keygen for the same user waits. */
	pg_param_text(&p, tid);
	pg_param_text(&p, o.name);
	p.result_binary = 1;
	r = pg_query(db, "SELECT user_id, role, x25519_public_key "
	    "FROM coffer.users WHERE tenant_id = $1::uuid AND name = $2 "
	    "AND status = 'active' FOR UPDATE", &p, err, sizeof(err));
	if (r == NULL) {
		ctl_fail("database: %s", err);
		goto out;
	}
	if (PQntuples(r) != 1) {
		ctl_fail("no active user %s in tenant %s (issue "
		    "one with `cofferctl user issue --role legal`)", o.name,
		    o.tenant);
		goto out;
	}
	if (PQgetlength(r, 0, 0) != VAULT_ID_BYTES) {
		ctl_fail("database: unexpected user id");
		goto out;
	}
	if (PQgetlength(r, 0, 1) != 5 ||
	    memcmp(PQgetvalue(r, 0, 1), "legal", 5) != 0) {
		ctl_fail("user %s of tenant %s is not a legal user: "
		    "only legal users receive productions", o.name, o.tenant);
		goto out;
	}
	had_key = !PQgetisnull(r, 0, 2);
	if (had_key && PQgetlength(r, 0, 2) == VAULT_BOX_PK_BYTES) {
		vault_box_key_id((const unsigned char *)PQgetvalue(r, 0, 2), kid);
		util_hex(old_hex, kid, sizeof(kid));
	}
	if (had_key && !o.replace) {
		ctl_fail("user %s of tenant %s already has a "
		    "production key (key id %s); pass --replace to register a new "
		    "one (productions already sealed need the old key file)",
		    o.name, o.tenant, old_hex[0] ? old_hex : "?");
		goto out;
	}
	if (util_uuid_parse(info.tenant_id, tid) != 0) {
		ctl_fail("database: unexpected tenant id");
		goto out;
	}
	memcpy(info.user_id, PQgetvalue(r, 0, 0), VAULT_ID_BYTES);
	PQclear(r);
	r = NULL;

	if (ctl_keyfile_make(o.passfile, "production key", &info, file,
	    sizeof(file), &flen) != 0)
		goto out;
	memcpy(pk, info.pk, sizeof(pk));

	{
		pg_params u = PG_PARAMS_INIT;
		char uid[UTIL_UUID_STRLEN + 1];

		util_uuid_format(uid, info.user_id);
		pg_param_text(&u, tid);
		pg_param_text(&u, uid);
		pg_param_bin(&u, pk, sizeof(pk));
		if (pg_exec(db, "UPDATE coffer.users SET x25519_public_key = $3 "
		    "WHERE tenant_id = $1::uuid AND user_id = $2::uuid", &u, err,
		    sizeof(err)) != 0) {
			ctl_fail("database: %s", err);
			goto out;
		}
	}
	/* Registration and replacement are audited with the change itself.
	 * Matters already made keep the key frozen at their creation. */
	{
		audit_event ev;
		char actor[AUDIT_ACTOR_MAX], detail[256], target[160];
		char nk[2 * VAULT_BOX_KEYID_BYTES + 1];
		unsigned char nid[VAULT_BOX_KEYID_BYTES];

		vault_box_key_id(pk, nid);
		util_hex(nk, nid, sizeof(nid));
		memset(&ev, 0, sizeof(ev));
		memcpy(ev.tenant_id, info.tenant_id, sizeof(ev.tenant_id));
		ctl_actor(db, actor, sizeof(actor));
		snprintf(target, sizeof(target), "user:%s", o.name);
		snprintf(detail, sizeof(detail), "{\"key_id\":\"%s\",\"previous_key_id\":"
		    "%s%s%s}", nk, old_hex[0] ? "\"" : "", old_hex[0] ? old_hex :
		    "null", old_hex[0] ? "\"" : "");
		ev.actor = actor;
		ev.role = "operator";
		ev.action = had_key ? "user.key_replace" : "user.key_register";
		ev.target = target;
		ev.outcome = "ok";
		ev.detail_json = detail;
		if (audit_append(db, &ev, NULL, NULL, err, sizeof(err)) != 0) {
			ctl_fail("audit: %s (key not registered)",
			    err);
			goto out;
		}
	}
	if (util_write_file(o.out, file, flen, 0600, 0, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		goto out;
	}
	wrote = 1;
	if (pg_commit(db, err, sizeof(err)) != 0) {
		ctl_fail("database: %s (key not registered)", err);
		goto out;
	}
	vault_box_key_id(pk, kid);
	util_hex(kid_hex, kid, sizeof(kid));
	if (old_hex[0] != '\0')
		printf("replaced production key %s\n", old_hex);
	printf("production key for legal user %s of tenant %s: key id %s\n"
	    "secret key written to %s (passphrase-protected; keep both safe: "
	    "productions open only with them)\n", o.name, o.tenant, kid_hex, o.out);
	rc = CTL_EXIT_OK;
out:
	if (rc != CTL_EXIT_OK) {
		if (db != NULL)
			(void)pg_rollback(db);
		if (wrote && unlink(o.out) != 0)
			ctl_fail("could not remove %s: remove it by "
			    "hand", o.out);
	}
	PQclear(r);
	pg_close(&db);
	vault_wipe(file, sizeof(file));
	return rc;
}
