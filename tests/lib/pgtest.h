/* tests/lib/pgtest.h — helpers for integration tests (tests/integration/)
 * running inside tests/pg-harness.sh: PG* point at a superuser on a private
 * cluster; login roles gw, api, auditor, purger exist.
 *
 * Helpers print what went wrong on stderr and return -1/NULL; the test
 * asserts.  Linked into every test binary, they do nothing until called.
 */
#ifndef COFFER_TESTS_PGTEST_H
#define COFFER_TESTS_PGTEST_H

#include <stddef.h>

#include <libpq-fe.h>

#define PGTEST_DBNAME_MAX 64U

/* $COFFER_MIGRATIONS_DIR, else "migrations". */
const char *pgtest_migrations_dir(void);

/* Connect to dbname (NULL: $PGDATABASE) as user (NULL: $PGUSER) through
 * pg_connect, so search_path is Coffer's. */
PGconn *pgtest_connect(const char *dbname, const char *user);

/* CREATE DATABASE <prefix>_<pid> (dropped first if left over); the name is
 * written to name (PGTEST_DBNAME_MAX).  0 or -1. */
int pgtest_create_db(const char *prefix, char name[PGTEST_DBNAME_MAX]);
/* DROP DATABASE … WITH (FORCE); accepts a database that does not exist. */
int pgtest_drop_db(const char *name);
/* A new database with every migration applied, and a superuser connection
 * to it in *out.  0 or -1. */
int pgtest_fresh_db(const char *prefix, char name[PGTEST_DBNAME_MAX],
                    PGconn **out);

/* Run one statement (no parameters).  Returns 0 on success, -1 on error;
 * state (PG_SQLSTATE_SIZE, may be NULL) gets the SQLSTATE or "", msg (may be
 * NULL) the error message or "". */
int pgtest_try(PGconn *c, const char *sql, char *state, char *msg,
               size_t msg_len);
/* Run a statement that must succeed; prints the error otherwise. */
int pgtest_exec(PGconn *c, const char *sql);
/* First column of the first row as a malloc'd string (NULL on error, on no
 * row, or on SQL NULL). */
char *pgtest_scalar(PGconn *c, const char *sql);
/* Number of rows a statement returns (or affects), -1 on error. */
long pgtest_rows(PGconn *c, const char *sql);

/* <dir>/<tenant>.pin from the tenant's key row as it is now (issue 12:
 * the gateway and API refuse a tenant without a pin).  0 or -1. */
int pgtest_write_pin(PGconn *c, const char *dir, const char *tenant);

/* Audit signers for a test database (issue 13.5): registers node
 * "itest-ctl" (kind ctl) and "itest-purge" (kind purge) with fresh keys
 * written to <dir>/itest-ctl.key and <dir>/itest-purge.key, sets
 * COFFER_AUDIT_KEY/NODE and COFFER_PURGE_KEY/NODE for in-process cofferctl
 * verbs, and makes itest-ctl this process's audit signer.  0 or -1. */
int pgtest_audit_signers(PGconn *c, const char *dir);

#endif
