/* tests/lib/pgtest.c — integration-test helpers over common/pg.
 *
 * Test-only code: statements here are fixed text built from identifiers the
 * tests choose (checked to be [a-z0-9_]), never from outside input.
 */
#include "tests/lib/pgtest.h"

#include "common/pins.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/migrate.h"
#include "common/pg.h"
#include "vault/chain.h"
#include "vault/mem.h"

const char *
pgtest_migrations_dir(void)
{
	const char *d = getenv("COFFER_MIGRATIONS_DIR");

	return d != NULL && d[0] != '\0' ? d : "migrations";
}

static int
pgtest_ident_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) >= PGTEST_DBNAME_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_'))
			return 0;
	return 1;
}

PGconn *
pgtest_connect(const char *dbname, const char *user)
{
	char conninfo[256], err[512];
	int n = 0;
	PGconn *c;

	conninfo[0] = '\0';
	if (dbname != NULL)
		n += snprintf(conninfo + n, sizeof(conninfo) - (size_t)n,
		    "dbname=%s ", dbname);
	if (user != NULL)
		snprintf(conninfo + n, sizeof(conninfo) - (size_t)n, "user=%s",
		    user);
	c = pg_connect(conninfo, err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "pgtest: %s\n", err);
	return c;
}

int
pgtest_exec(PGconn *c, const char *sql)
{
	char err[1024];

	if (pg_exec(c, sql, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "pgtest: %.120s: %s\n", sql, err);
		return -1;
	}
	return 0;
}

int
pgtest_try(PGconn *c, const char *sql, char *state, char *msg, size_t msg_len)
{
	char err[1024];
	int rc;

	rc = pg_exec(c, sql, NULL, err, sizeof(err));
	if (state != NULL)
		snprintf(state, PG_SQLSTATE_SIZE, "%s", rc == 0 ? "" :
		    pg_last_sqlstate());
	if (msg != NULL && msg_len > 0)
		snprintf(msg, msg_len, "%s", rc == 0 ? "" : err);
	return rc;
}

char *
pgtest_scalar(PGconn *c, const char *sql)
{
	char err[1024];
	PGresult *r;
	char *v = NULL;

	r = pg_query(c, sql, NULL, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "pgtest: %.120s: %s\n", sql, err);
		return NULL;
	}
	if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

long
pgtest_rows(PGconn *c, const char *sql)
{
	char err[1024];
	PGresult *r;
	long n;

	r = pg_query(c, sql, NULL, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "pgtest: %.120s: %s\n", sql, err);
		return -1;
	}
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		n = PQntuples(r);
	else
		n = atol(PQcmdTuples(r));
	PQclear(r);
	return n;
}

int
pgtest_drop_db(const char *name)
{
	char sql[160];
	PGconn *c;
	int rc;

	if (!pgtest_ident_ok(name))
		return -1;
	c = pgtest_connect(NULL, NULL);
	if (c == NULL)
		return -1;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	    name);
	rc = pgtest_exec(c, sql);
	pg_close(&c);
	return rc;
}

int
pgtest_create_db(const char *prefix, char name[PGTEST_DBNAME_MAX])
{
	char sql[160];
	PGconn *c;
	int rc;

	snprintf(name, PGTEST_DBNAME_MAX, "%s_%ld", prefix != NULL ? prefix : "",
	    (long)getpid());
	if (!pgtest_ident_ok(name) || pgtest_drop_db(name) != 0)
		return -1;
	c = pgtest_connect(NULL, NULL);
	if (c == NULL)
		return -1;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	rc = pgtest_exec(c, sql);
	pg_close(&c);
	return rc;
}

int
pgtest_fresh_db(const char *prefix, char name[PGTEST_DBNAME_MAX], PGconn **out)
{
	char err[1024];
	int applied;

	*out = NULL;
	if (pgtest_create_db(prefix, name) != 0)
		return -1;
	*out = pgtest_connect(name, NULL);
	if (*out == NULL)
		return -1;
	if (migrate_apply(*out, pgtest_migrations_dir(), 0, &applied, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "pgtest: migrate %s: %s\n", name, err);
		pg_close(out);
		return -1;
	}
	return 0;
}

int
pgtest_write_pin(PGconn *c, const char *dir, const char *tenant)
{
	const char *params[1] = { tenant };
	pins_tenant *pin = calloc(1, sizeof(*pin));
	PGresult *r = NULL;
	char path[1024], *text = NULL, err[256];
	size_t len = 0;
	int i, rc = -1, n;

	if (pin == NULL)
		return -1;
	r = PQexecParams(c, "SELECT t.tenant_id::text, kind, v FROM coffer.tenants t "
	    "JOIN coffer.tenant_keys k USING (tenant_id), LATERAL ("
	    "SELECT 0 AS kind, 0::bigint AS o, k.public_key AS v UNION ALL "
	    "SELECT 1, o, c FROM unnest(k.commitments) WITH ORDINALITY AS u(c, o) UNION ALL "
	    "SELECT 2, o, s FROM unnest(k.public_shares) WITH ORDINALITY AS u(s, o)) x "
	    "WHERE t.name = $1 ORDER BY kind, o", 1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || (n = PQntuples(r)) == 0)
		goto out;
	if (util_uuid_parse(pin->tenant_id, PQgetvalue(r, 0, 0)) != 0) {
		/* binary results: the uuid column is 16 raw bytes */
		if (PQgetlength(r, 0, 0) != 16)
			goto out;
		memcpy(pin->tenant_id, PQgetvalue(r, 0, 0), 16);
	}
	snprintf(pin->name, sizeof(pin->name), "%s", tenant);
	pin->generation = 1;
	for (i = 0; i < n; i++) {
		const unsigned char *k = (const unsigned char *)PQgetvalue(r, i, 1);
		unsigned char *dst;

		if (PQgetlength(r, i, 2) != 32)
			goto out;
		if (k[3] == 0)
			dst = pin->public_key;
		else if (k[3] == 1 && pin->k < PINS_MAX_N)
			dst = pin->commitments + (size_t)pin->k++ * 32;
		else if (k[3] == 2 && pin->n < PINS_MAX_N)
			dst = pin->public_shares + (size_t)pin->n++ * 32;
		else
			goto out;
		memcpy(dst, PQgetvalue(r, i, 2), 32);
	}
	snprintf(path, sizeof(path), "%s/%s.pin", dir, tenant);
	if (pins_tenant_encode(pin, &text, &len, err, sizeof(err)) != 0 ||
	    util_write_file(path, text, len, 0644, 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "pgtest_write_pin %s: %s\n", tenant, err);
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	free(text);
	free(pin);
	return rc;
}

static int
pgtest_audit_node(PGconn *c, const char *dir, const char *name,
    const char *kind, char *path, size_t path_cap)
{
	unsigned char pk[VAULT_SIGN_PK_BYTES], *sk = NULL, id[16];
	char idstr[UTIL_UUID_STRLEN + 1], err[256];
	pg_params p = PG_PARAMS_INIT;
	int rc = -1;

	if (vault_init() != 0 || vault_sign_keypair(pk, &sk) != 0)
		return -1;
	snprintf(path, path_cap, "%s/%s.key", dir, name);
	util_uuid_random(id);
	util_uuid_format(idstr, id);
	pg_param_text(&p, idstr);
	pg_param_text(&p, name);
	pg_param_bin(&p, pk, sizeof(pk));
	pg_param_text(&p, kind);
	if (util_write_file(path, sk, VAULT_SIGN_SK_BYTES, 0600, 1, err,
	    sizeof(err)) != 0 ||
	    pg_exec(c, "INSERT INTO coffer.nodes (node_id, name, "
	    "signing_public_key, kind) VALUES ($1::uuid, $2, $3, $4)", &p, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "pgtest: audit node %s: %s\n", name, err);
		goto out;
	}
	rc = 0;
out:
	vault_sign_key_free(&sk);
	return rc;
}

int
pgtest_audit_signers(PGconn *c, const char *dir)
{
	char ctl[1024], purge[1024], err[512];

	if (pgtest_audit_node(c, dir, "itest-ctl", "ctl", ctl, sizeof(ctl)) != 0 ||
	    pgtest_audit_node(c, dir, "itest-purge", "purge", purge,
	    sizeof(purge)) != 0)
		return -1;
	setenv("COFFER_AUDIT_KEY", ctl, 1);
	setenv("COFFER_AUDIT_NODE", "itest-ctl", 1);
	setenv("COFFER_PURGE_KEY", purge, 1);
	setenv("COFFER_PURGE_NODE", "itest-purge", 1);
	if (audit_signer_load("itest-ctl", ctl, err, sizeof(err)) != 0) {
		fprintf(stderr, "pgtest: %s\n", err);
		return -1;
	}
	return 0;
}
