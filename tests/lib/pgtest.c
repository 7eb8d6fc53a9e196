/* tests/lib/pgtest.c — integration-test helpers over common/pg.
 *
 * Test-only code: statements here are fixed text built from identifiers the
 * tests choose (checked to be [a-z0-9_]), never from outside input.
 */
#include "tests/lib/pgtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/migrate.h"
#include "common/pg.h"

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
