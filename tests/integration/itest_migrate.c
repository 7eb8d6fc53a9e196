/* tests/integration/itest_migrate.c — the migration runner, the schema's
 * append-only triggers and the least-privilege roles, against a real
 * PostgreSQL (tests/pg-harness.sh).
 *
 * Works on its own databases, created here and dropped at the end, so it
 * never sees or changes the harness's `coffer` database:
 *   itest_migrate_<pid>     every migration in the directory: the runner's
 *                           behaviour, and invariants later migrations must
 *                           keep (no application role may change evidence,
 *                           the gateway never reads ciphertext, triggers on);
 *   itest_migrate_v1_<pid>  0001_schema.sql alone: row-level checks of what
 *                           0001 promises (triggers, grants, the purge stub),
 *                           stable while later migrations evolve the schema;
 *   itest_migrate_c_<pid>   three runners racing on an empty database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/migrate.h"
#include "common/util.h"
#include "common/verify.h"
#include "common/pg.h"
#include "tests/lib/pgtest.h"

static char    db_name[PGTEST_DBNAME_MAX];
static PGconn *db;          /* superuser (schema owner) on db_name */
static char    v1_name[PGTEST_DBNAME_MAX];
static PGconn *v1;          /* superuser on v1_name: 0001 only */
static int     n_files;     /* migrations in the directory */

#define TENANT "11111111-1111-4111-8111-111111111111"
#define STREAM "22222222-2222-4222-8222-222222222222"
#define NODE   "33333333-3333-4333-8333-333333333333"
#define EPOCH  "44444444-4444-4444-8444-444444444444"
#define ADMIN  "55555555-5555-4555-8555-555555555555"
#define MATTER "66666666-6666-4666-8666-666666666666"
#define B(n, hexbyte) "decode(repeat('" hexbyte "', " #n "), 'hex')"

/* -- helpers ------------------------------------------------------------------ */

static int
count_migration_files(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 4 && strcmp(de->d_name + l - 4, ".sql") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* A scratch copy of the migrations directory. */
static void
copy_migrations(char *out, size_t out_len)
{
	const char *base = getenv("COFFER_TEST_TMP");
	char cmd[1024];

	snprintf(out, out_len, "%s/migXXXXXX", base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(out));
	snprintf(cmd, sizeof(cmd), "cp %s/*.sql %s/", pgtest_migrations_dir(), out);
	assert_int_equal(system(cmd), 0);
}

static void
remove_dir(const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
write_file(const char *dir, const char *name, const char *text, const char *mode)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, mode);
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *
snapshot(void)
{
	return pgtest_scalar(db, "SELECT string_agg(version || ' ' || name || ' ' "
	    "|| checksum || ' ' || applied_at, ',' ORDER BY version) || "
	    "' / ' || (SELECT count(*) FROM pg_catalog.pg_class "
	    "WHERE relnamespace = 'coffer'::regnamespace) "
	    "FROM coffer.schema_migrations");
}

/* Run sql as role (SET ROLE on the owner's connection to v1) and expect SQLSTATE
 * want ("" = success); if msg_part, the error message must contain it. */
static void
as_role(const char *role, const char *sql, const char *want,
    const char *msg_part)
{
	char setrole[128], state[PG_SQLSTATE_SIZE], msg[1024];

	snprintf(setrole, sizeof(setrole), "SET ROLE %s", role);
	assert_int_equal(pgtest_exec(v1, setrole), 0);
	(void)pgtest_try(v1, sql, state, msg, sizeof(msg));
	assert_int_equal(pgtest_exec(v1, "RESET ROLE"), 0);
	if (strcmp(state, want) != 0)
		fail_msg("as %s: %s\n  expected SQLSTATE '%s', got '%s' (%s)",
		    role, sql, want, state, msg);
	if (msg_part != NULL && strstr(msg, msg_part) == NULL)
		fail_msg("as %s: %s\n  message lacks '%s': %s", role, sql,
		    msg_part, msg);
}

/* -- fixtures ------------------------------------------------------------------ */

static int
group_setup(void **state)
{
	char dir[512], cmd[1200], err[1024];
	const char *base = getenv("COFFER_TEST_TMP");
	int applied, rc;

	(void)state;
	n_files = count_migration_files(pgtest_migrations_dir());
	if (n_files <= 0)
		return -1;
	if (pgtest_create_db("itest_migrate", db_name) != 0)
		return -1;
	db = pgtest_connect(db_name, NULL);
	if (db == NULL)
		return -1;

	if (pgtest_create_db("itest_migrate_v1", v1_name) != 0)
		return -1;
	v1 = pgtest_connect(v1_name, NULL);
	if (v1 == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/v1XXXXXX", base != NULL ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "cp %s/0001_schema.sql %s/",
	    pgtest_migrations_dir(), dir);
	if (system(cmd) != 0)
		return -1;
	rc = migrate_apply(v1, dir, 0, &applied, err, sizeof(err));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0 || rc != 0 || applied != 1) {
		fprintf(stderr, "0001 alone: %s\n", rc != 0 ? err : "not applied");
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	int rc;

	(void)state;
	pg_close(&db);
	pg_close(&v1);
	rc = pgtest_drop_db(db_name);
	return pgtest_drop_db(v1_name) != 0 ? -1 : rc;
}

/* -- the runner ------------------------------------------------------------------ */

static void
test_apply_to_empty_database(void **state)
{
	static const char *tables[] = {
		"tenants", "tenant_keys", "nodes", "streams", "epochs", "records",
		"batches", "checkpoints", "devices", "users", "matters",
		"approvals", "productions", "holds", "retention_policies",
		"tombstones", "audit_events", "schema_migrations",
	};
	char err[1024], sql[256], *v;
	size_t i;
	int applied = -1;

	(void)state;
	v = pgtest_scalar(db, "SELECT to_regnamespace('coffer') IS NULL");
	assert_string_equal(v, "t");
	free(v);

	if (migrate_apply(db, pgtest_migrations_dir(), 1, &applied, err,
	    sizeof(err)) != 0)
		fail_msg("migrate_apply: %s", err);
	assert_int_equal(applied, n_files);

	v = pgtest_scalar(db, "SELECT count(*) FROM coffer.schema_migrations");
	assert_non_null(v);
	assert_int_equal(atoi(v), n_files);
	free(v);
	v = pgtest_scalar(db, "SELECT name FROM coffer.schema_migrations "
	    "WHERE version = 1");
	assert_string_equal(v, "0001_schema.sql");
	free(v);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT to_regclass('coffer.%s') "
		    "IS NOT NULL", tables[i]);
		v = pgtest_scalar(db, sql);
		if (v == NULL || strcmp(v, "t") != 0)
			fail_msg("table coffer.%s missing", tables[i]);
		free(v);
	}
	/* The connection is usable afterwards: no transaction left open. */
	assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
}

static void
test_second_run_is_a_noop(void **state)
{
	char err[1024], *before, *after;
	int applied = -1;

	(void)state;
	before = snapshot();
	assert_non_null(before);
	if (migrate_apply(db, pgtest_migrations_dir(), 0, &applied, err,
	    sizeof(err)) != 0)
		fail_msg("migrate_apply: %s", err);
	assert_int_equal(applied, 0);
	after = snapshot();
	assert_non_null(after);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* What every later migration must keep true, checked in the catalogs of
 * the fully migrated database. */
/* Migration 0009 on a database with users and short policies: every
 * user becomes its own person (person_id = user_id), a tenant whose
 * policies were below the new 6-year floor gets the shortest of them as
 * its floor (nothing that worked stops working), another tenant the
 * default, and from then on no policy may go below the floor, whoever
 * writes it. */
static void
test_0009_persons_and_floor(void **state)
{
	char name[PGTEST_DBNAME_MAX], dir[512], cmd[1200], err[1024];
	char st[PG_SQLSTATE_SIZE], msg[512];
	const char *base = getenv("COFFER_TEST_TMP");
	PGconn *c;
	char *v;
	int applied;

	(void)state;
	assert_int_equal(pgtest_create_db("itest_migrate_0009", name), 0);
	c = pgtest_connect(name, NULL);
	assert_non_null(c);
	snprintf(dir, sizeof(dir), "%s/m9XXXXXX", base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp %s/000[1-7]_*.sql %s/",
	    pgtest_migrations_dir(), dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(migrate_apply(c, dir, 0, &applied, err, sizeof(err)), 0);
	remove_dir(dir);

	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.tenants (tenant_id, name, threshold_k, custodians_n) "
	    "VALUES ('" TENANT "', 'acme', 2, 3), "
	    "('99999999-9999-4999-8999-999999999999', 'globex', 2, 2)"), 0);
	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.users (tenant_id, user_id, name, role) VALUES "
	    "('" TENANT "', '" ADMIN "', 'Lee', 'legal')"), 0);
	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.users (tenant_id, user_id, name, role, "
	    "custodian_index) VALUES ('" TENANT "', "
	    "'77777777-7777-4777-8777-777777777777', 'Lee', 'custodian', 1)"), 0);
	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.retention_policies (tenant_id, channel, retention, "
	    "updated_by) VALUES ('" TENANT "', '*', '400 days', 't'), "
	    "('" TENANT "', 'email', '365 days', 't'), "
	    "('" TENANT "', 'sms', NULL, 't'), "
	    "('99999999-9999-4999-8999-999999999999', '*', '3650 days', 't')"), 0);

	assert_int_equal(migrate_apply(c, pgtest_migrations_dir(), 0, &applied,
	    err, sizeof(err)), 0);
	assert_true(applied >= 1);
	/* two accounts named alike are still two persons: nothing merges
	 * accounts but `user issue --person` */
	v = pgtest_scalar(c, "SELECT count(*) || ' ' || count(*) FILTER (WHERE "
	    "u.person_id = u.user_id AND p.name = u.name) FROM coffer.users u "
	    "JOIN coffer.persons p USING (tenant_id, person_id)");
	assert_string_equal(v, "2 2");
	free(v);
	v = pgtest_scalar(c, "SELECT string_agg(name || '=' || "
	    "retention_floor_days, ',' ORDER BY name) FROM coffer.tenants");
	assert_string_equal(v, "acme=365,globex=2192");
	free(v);
	/* the floor holds for the owner too */
	assert_int_equal(pgtest_try(c, "UPDATE coffer.retention_policies SET "
	    "retention = '300 days' WHERE channel = '*' AND tenant_id = '" TENANT
	    "'", st, msg, sizeof(msg)), -1);
	assert_string_equal(st, "23514");
	assert_non_null(strstr(msg, "below the tenant's regulatory floor of 365 "
	    "days"));
	/* a user inserted without a person becomes one */
	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.users (tenant_id, user_id, name, role) VALUES "
	    "('" TENANT "', gen_random_uuid(), 'Ann', 'admin')"), 0);
	v = pgtest_scalar(c, "SELECT count(*) FROM coffer.persons WHERE "
	    "name = 'Ann'");
	assert_string_equal(v, "1");
	free(v);
	/* an approval by the proposer's own person is refused by the row */
	assert_int_equal(pgtest_try(c, "INSERT INTO coffer.dual_requests "
	    "(tenant_id, request_id, action, target, params, proposer_person_id, "
	    "proposer_user_id, expires_at, status, decided_by_person_id, "
	    "decided_by_user_id) VALUES ('" TENANT "', gen_random_uuid(), "
	    "'hold.release', 'hold:x', '{}', '" ADMIN "', '" ADMIN "', "
	    "now() + interval '1 hour', 'approved', '" ADMIN "', '" ADMIN "')",
	    st, msg, sizeof(msg)), -1);
	assert_string_equal(st, "23514");
	pg_close(&c);
	assert_int_equal(pgtest_drop_db(name), 0);
}

static void
test_invariants_after_all_migrations(void **state)
{
	static const char *evidence[] = {
		"records", "batches", "checkpoints", "tombstones", "audit_events",
	};
	static const char *roles[] = {
		"coffer_gateway", "coffer_api", "coffer_verify", "coffer_purge",
	};
	char sql[1024], *v;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(evidence) / sizeof(evidence[0]); i++) {
		for (j = 0; j < sizeof(roles) / sizeof(roles[0]); j++) {
			snprintf(sql, sizeof(sql), "SELECT has_any_column_privilege("
			    "'%s', 'coffer.%s', 'UPDATE') OR has_table_privilege('%s', "
			    "'coffer.%s', 'DELETE') OR has_table_privilege('%s', "
			    "'coffer.%s', 'TRUNCATE')", roles[j], evidence[i],
			    roles[j], evidence[i], roles[j], evidence[i]);
			v = pgtest_scalar(db, sql);
			if (v == NULL || strcmp(v, "f") != 0)
				fail_msg("%s may change coffer.%s", roles[j], evidence[i]);
			free(v);
		}
		/* BEFORE UPDATE OR DELETE FOR EACH ROW (tgtype bits 1|2|8|16) and
		 * BEFORE TRUNCATE (2|32), enabled ALWAYS. */
		snprintf(sql, sizeof(sql), "SELECT count(*) FILTER (WHERE tgtype & 27 "
		    "= 27) || '/' || count(*) FILTER (WHERE tgtype & 35 = 34) "
		    "FROM pg_trigger WHERE tgrelid = 'coffer.%s'::regclass "
		    "AND tgenabled = 'A'", evidence[i]);
		v = pgtest_scalar(db, sql);
		if (v == NULL || strcmp(v, "1/1") != 0)
			fail_msg("coffer.%s: append-only triggers (row/truncate) %s",
			    evidence[i], v != NULL ? v : "?");
		free(v);
	}
	/* Only the gateway writes records, epochs, batches, checkpoints. */
	v = pgtest_scalar(db, "SELECT count(*) FROM unnest(ARRAY['coffer_api', "
	    "'coffer_verify', 'coffer_purge']) r, unnest(ARRAY['records', "
	    "'epochs', 'batches', 'checkpoints']) t WHERE "
	    "has_table_privilege(r, 'coffer.' || t, 'INSERT') OR "
	    "has_any_column_privilege(r, 'coffer.' || t, 'UPDATE')");
	assert_string_equal(v, "0");
	free(v);
	/* The gateway reads no records column beyond the receipt's. */
	v = pgtest_scalar(db, "SELECT coalesce(string_agg(attname, ','), '') "
	    "FROM pg_attribute WHERE attrelid = 'coffer.records'::regclass "
	    "AND attnum > 0 AND NOT attisdropped AND has_column_privilege("
	    "'coffer_gateway', attrelid, attnum, 'SELECT') AND attname NOT IN "
	    "('tenant_id', 'stream_id', 'seq', 'dedup_token', 'leaf_hash', "
	    "'batch_no')");
	assert_string_equal(v, "");
	free(v);
	/* PUBLIC: no schema, no table, no SECURITY DEFINER function; every
	 * SECURITY DEFINER function pins its search_path. */
	v = pgtest_scalar(db, "SELECT has_schema_privilege('public', 'coffer', "
	    "'USAGE') OR EXISTS (SELECT 1 FROM pg_class c WHERE relnamespace = "
	    "'coffer'::regnamespace AND relkind IN ('r', 'v', 'm', 'p') AND "
	    "(has_table_privilege('public', c.oid, 'SELECT') OR "
	    "has_table_privilege('public', c.oid, 'INSERT')))");
	assert_string_equal(v, "f");
	free(v);
	v = pgtest_scalar(db, "SELECT count(*) FROM pg_proc WHERE pronamespace = "
	    "'coffer'::regnamespace AND prosecdef AND (has_function_privilege("
	    "'public', oid, 'EXECUTE') OR NOT EXISTS (SELECT 1 FROM "
	    "unnest(proconfig) c WHERE c LIKE 'search_path=%'))");
	assert_string_equal(v, "0");
	free(v);
	/* purge_expired, whatever its signature: coffer_purge only. */
	v = pgtest_scalar(db, "SELECT count(*) || '/' || count(*) FILTER (WHERE "
	    "has_function_privilege('coffer_purge', oid, 'EXECUTE') AND NOT "
	    "has_function_privilege('coffer_gateway', oid, 'EXECUTE') AND NOT "
	    "has_function_privilege('coffer_api', oid, 'EXECUTE') AND NOT "
	    "has_function_privilege('coffer_verify', oid, 'EXECUTE')) FROM "
	    "pg_proc WHERE pronamespace = 'coffer'::regnamespace AND "
	    "proname = 'purge_expired'");
	assert_non_null(v);
	assert_true(v[0] != '0' && strchr(v, '/') != NULL &&
	    strncmp(v, strchr(v, '/') + 1, (size_t)(strchr(v, '/') - v)) == 0);
	free(v);
}

static void
test_changed_file_is_refused(void **state)
{
	char dir[512], err[1024], want[700], *before, *after;
	int applied = -1;

	(void)state;
	copy_migrations(dir, sizeof(dir));
	write_file(dir, "0001_schema.sql", "\n-- edited after release\n", "a");
	before = snapshot();
	assert_int_equal(migrate_apply(db, dir, 0, &applied, err, sizeof(err)), -1);
	assert_int_equal(applied, 0);
	snprintf(want, sizeof(want), "%s/0001_schema.sql: changed after it was "
	    "applied (checksum mismatch)", dir);
	assert_string_equal(err, want);
	after = snapshot();
	assert_string_equal(before, after);
	assert_int_equal(PQtransactionStatus(db), PQTRANS_IDLE);
	free(before);
	free(after);
	remove_dir(dir);
}

static void
test_cofferctl_reports_changed_file(void **state)
{
	const char *build = getenv("BUILD");
	char dir[512], cmd[2048], out[2048];
	size_t got;
	FILE *p;
	int rc;

	(void)state;
	if (build == NULL)
		build = "build";
	copy_migrations(dir, sizeof(dir));
	write_file(dir, "0001_schema.sql", "-- edited\n", "a");
	snprintf(cmd, sizeof(cmd), "PGDATABASE=%s %s/cofferctl migrate --dir %s/ 2>&1",
	    db_name, build, dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	rc = pclose(p);
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
	snprintf(cmd, sizeof(cmd), "cofferctl migrate: %s/0001_schema.sql: "
	    "changed after it was applied (checksum mismatch)\n", dir);
	assert_string_equal(out, cmd);

	/* And the happy path prints the summary line. */
	snprintf(cmd, sizeof(cmd), "PGDATABASE=%s %s/cofferctl migrate --dir %s 2>&1",
	    db_name, build, pgtest_migrations_dir());
	p = popen(cmd, "r");
	assert_non_null(p);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	rc = pclose(p);
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	assert_string_equal(out, "schema up to date\n");
	remove_dir(dir);
}

static void
test_missing_applied_file_is_refused(void **state)
{
	char dir[512], err[1024], path[700];
	int applied = -1;

	(void)state;
	copy_migrations(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/0001_schema.sql", dir);
	assert_int_equal(unlink(path), 0);
	write_file(dir, "9000_later.sql", "SELECT 1;\n", "w");
	assert_int_equal(migrate_apply(db, dir, 0, &applied, err, sizeof(err)), -1);
	assert_int_equal(applied, 0);
	assert_non_null(strstr(err, "0001_schema.sql: applied (version 0001) "
	    "but the file is missing"));
	/* Nothing ran: 9000 was not applied. */
	assert_int_equal(pgtest_rows(db, "SELECT 1 FROM coffer.schema_migrations "
	    "WHERE version = 9000"), 0);
	remove_dir(dir);
}

static void
test_malformed_names_are_refused(void **state)
{
	static const char *bad[] = {
		"1_short.sql", "0002-dash.sql", "0002_Upper.sql", "0002_.sql",
		"0000_zero.sql", "0002_x.SQL", "00002_five.sql",
	};
	char dir[512], err[1024], path[700];
	size_t i;
	int applied;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		copy_migrations(dir, sizeof(dir));
		write_file(dir, bad[i], "SELECT 1;\n", "w");
		assert_int_equal(migrate_apply(db, dir, 0, &applied, err,
		    sizeof(err)), -1);
		snprintf(path, sizeof(path), "%s/%s: malformed migration file name",
		    dir, bad[i]);
		if (strstr(err, path) == NULL)
			fail_msg("%s: %s", bad[i], err);
		remove_dir(dir);
	}
	/* Duplicate versions. */
	copy_migrations(dir, sizeof(dir));
	write_file(dir, "0001_again.sql", "SELECT 1;\n", "w");
	assert_int_equal(migrate_apply(db, dir, 0, &applied, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "same version 0001"));
	remove_dir(dir);
	/* Non-migration files are ignored. */
	copy_migrations(dir, sizeof(dir));
	write_file(dir, "README.md", "notes\n", "w");
	write_file(dir, "0001_schema.sql~", "junk\n", "w");
	if (migrate_apply(db, dir, 0, &applied, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(applied, 0);
	remove_dir(dir);
}

static void
test_failing_migration_rolls_back(void **state)
{
	char dir[512], err[1024], *v;
	int applied = -1;

	(void)state;
	/* A run-time error: the statements before it are undone too. */
	copy_migrations(dir, sizeof(dir));
	write_file(dir, "9001_breaks.sql",
	    "CREATE TABLE coffer.itest_extra (x int);\nSELECT 1/0;\n", "w");
	assert_int_equal(migrate_apply(db, dir, 0, &applied, err, sizeof(err)), -1);
	assert_int_equal(applied, 0);
	assert_non_null(strstr(err, "9001_breaks.sql: "));
	assert_non_null(strstr(err, "division by zero (SQLSTATE 22012)"));
	v = pgtest_scalar(db, "SELECT to_regclass('coffer.itest_extra') IS NULL");
	assert_string_equal(v, "t");
	free(v);
	remove_dir(dir);

	/* A syntax error is reported with its line. */
	copy_migrations(dir, sizeof(dir));
	write_file(dir, "9001_typo.sql",
	    "-- ünïcode comment\nCREATE TABLE coffer.itest_extra (x int);\n\n"
	    "SELEC 1;\n", "w");
	assert_int_equal(migrate_apply(db, dir, 0, &applied, err, sizeof(err)), -1);
	if (strstr(err, "9001_typo.sql: line 4: syntax error at or near "
	    "\"SELEC\"") == NULL)
		fail_msg("%s", err);
	remove_dir(dir);

	/* A migration must not end the runner's transaction. */
	copy_migrations(dir, sizeof(dir));
	write_file(dir, "9001_commits.sql", "COMMIT;\n", "w");
	assert_int_equal(migrate_apply(db, dir, 0, &applied, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "9001_commits.sql: ends the transaction itself"));
	assert_int_equal(pgtest_rows(db, "SELECT 1 FROM coffer.schema_migrations "
	    "WHERE version = 9001"), 0);
	remove_dir(dir);

	/* A good new migration applies, then an older new one is refused. */
	copy_migrations(dir, sizeof(dir));
	write_file(dir, "9002_ok.sql", "CREATE TABLE coffer.itest_ok (x int);\n", "w");
	if (migrate_apply(db, dir, 0, &applied, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(applied, 1);
	write_file(dir, "9001_late.sql", "SELECT 1;\n", "w");
	assert_int_equal(migrate_apply(db, dir, 0, &applied, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "9001_late.sql: not applied, but the later "
	    "version 9002 already is"));
	remove_dir(dir);
	/* Undo 9002 so later runs with the real directory still match. */
	assert_int_equal(pgtest_exec(db, "DROP TABLE coffer.itest_ok"), 0);
	assert_int_equal(pgtest_exec(db, "DELETE FROM coffer.schema_migrations "
	    "WHERE version = 9002"), 0);
}

struct runner {
	const char *dbname;
	int         rc;
	int         applied;
	char        err[1024];
};

static void *
runner_main(void *arg)
{
	struct runner *r = arg;
	PGconn *c = pgtest_connect(r->dbname, NULL);

	r->rc = -1;
	if (c == NULL) {
		snprintf(r->err, sizeof(r->err), "connect failed");
		return NULL;
	}
	r->rc = migrate_apply(c, pgtest_migrations_dir(), 0, &r->applied, r->err,
	    sizeof(r->err));
	pg_close(&c);
	return NULL;
}

static void
test_concurrent_runners_serialise(void **state)
{
	char name[PGTEST_DBNAME_MAX];
	struct runner r[3];
	pthread_t th[3];
	int i, total = 0;

	(void)state;
	assert_int_equal(pgtest_create_db("itest_migrate_c", name), 0);
	for (i = 0; i < 3; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].dbname = name;
		assert_int_equal(pthread_create(&th[i], NULL, runner_main, &r[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (r[i].rc != 0)
			fail_msg("runner %d: %s", i, r[i].err);
		total += r[i].applied;
	}
	assert_int_equal(total, n_files);
	assert_int_equal(pgtest_drop_db(name), 0);
}

static void
test_foreign_schema_is_refused(void **state)
{
	char name[PGTEST_DBNAME_MAX], sql[256], role[64], err[1024];
	PGconn *c;
	int applied = -1;

	(void)state;
	/* Someone with CREATE on the database got there first. */
	assert_int_equal(pgtest_create_db("itest_migrate_m", name), 0);
	c = pgtest_connect(name, NULL);
	assert_non_null(c);
	snprintf(role, sizeof(role), "itest_mallory_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "CREATE ROLE %s NOLOGIN", role);
	assert_int_equal(pgtest_exec(c, sql), 0);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA coffer AUTHORIZATION %s", role);
	assert_int_equal(pgtest_exec(c, sql), 0);
	assert_int_equal(migrate_apply(c, pgtest_migrations_dir(), 0, &applied,
	    err, sizeof(err)), -1);
	assert_int_equal(applied, 0);
	assert_non_null(strstr(err, "schema coffer belongs to role"));
	assert_non_null(strstr(err, role));
	pg_close(&c);
	assert_int_equal(pgtest_drop_db(name), 0);
	c = pgtest_connect(NULL, NULL);
	assert_non_null(c);
	snprintf(sql, sizeof(sql), "DROP ROLE %s", role);
	assert_int_equal(pgtest_exec(c, sql), 0);
	pg_close(&c);
}

/* -- pg helpers ------------------------------------------------------------------ */

static void
test_pg_helpers(void **state)
{
	char err[1024];
	PGconn *c;

	(void)state;
	/* Connection errors carry neither the conninfo nor the password. */
	c = pg_connect("host=/nonexistent-coffer-dir port=1 user=nobody "
	    "password=hunter2-secret dbname=nothere", err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
	assert_null(strstr(err, "hunter2"));
	assert_null(strchr(err, '\n'));
	assert_string_equal(pg_last_sqlstate(), PG_SQLSTATE_CONNECTION_FAILURE);

	/* search_path is Coffer's. */
	c = pgtest_connect(db_name, NULL);
	assert_non_null(c);
	{
		char *v = pgtest_scalar(c, "SHOW search_path");

		assert_string_equal(v, "coffer, pg_catalog");
		free(v);
	}
	/* No stacked statements through the parameterised path. */
	assert_int_equal(pg_exec(c, "SELECT 1; SELECT 2", NULL, err, sizeof(err)), -1);
	assert_string_equal(pg_last_sqlstate(), "42601");

	/* COMMIT of a failed transaction is a failure, not a success. */
	assert_int_equal(pg_begin(c, err, sizeof(err)), 0);
	assert_int_equal(pg_exec(c, "SELECT 1/0", NULL, err, sizeof(err)), -1);
	assert_string_equal(pg_last_sqlstate(), "22012");
	assert_int_equal(pg_commit(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rolled back"));
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);

	/* Rollback keeps the SQLSTATE of the failure that caused it. */
	assert_int_equal(pg_begin(c, err, sizeof(err)), 0);
	assert_int_equal(pg_exec(c, "SELECT 'x'::int", NULL, err, sizeof(err)), -1);
	assert_int_equal(pg_rollback(c), 0);
	assert_true(pg_last_sqlstate_is("22P02"));

	/* Binary parameters and results round-trip. */
	{
		static const unsigned char blob[5] = { 0, 1, 0xff, 0, 7 };
		pg_params p = PG_PARAMS_INIT;
		PGresult *r;

		pg_param_bin(&p, blob, sizeof(blob));
		pg_param_text(&p, "5");
		pg_param_null(&p);
		p.result_binary = 1;
		r = pg_query(c, "SELECT $1::bytea, octet_length($1::bytea) = "
		    "$2::int, $3::text IS NULL", &p, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(PQgetlength(r, 0, 0), 5);
		assert_memory_equal(PQgetvalue(r, 0, 0), blob, 5);
		assert_int_equal(PQgetvalue(r, 0, 1)[0], 1);
		assert_int_equal(PQgetvalue(r, 0, 2)[0], 1);
		PQclear(r);
	}
	/* Too many parameters: refused before sending. */
	{
		pg_params p = PG_PARAMS_INIT;
		int i;

		for (i = 0; i <= PG_PARAMS_MAX; i++)
			pg_param_text(&p, "1");
		assert_int_equal(pg_exec(c, "SELECT 1", &p, err, sizeof(err)), -1);
	}
	pg_close(&c);
	assert_null(c);
	pg_close(&c);
}

/* -- schema: data, triggers, roles ------------------------------------------------ */

static void
test_fixture_rows(void **state)
{
	(void)state;
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.tenants (tenant_id, name, threshold_k, custodians_n) "
	    "VALUES ('" TENANT "', 'acme', 2, 3)"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.tenant_keys (tenant_id, public_key, commitments, "
	    "public_shares, fingerprint) VALUES ('" TENANT "', " B(32, "aa") ", "
	    "ARRAY[" B(32, "01") ", " B(32, "02") "], "
	    "ARRAY[" B(32, "0a") ", " B(32, "0b") ", " B(32, "0c") "], 'fp')"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.nodes (node_id, name, signing_public_key) "
	    "VALUES ('" NODE "', 'gw1', " B(32, "bb") ")"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.streams (tenant_id, stream_id, node_id) "
	    "VALUES ('" TENANT "', '" STREAM "', '" NODE "')"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.epochs (tenant_id, epoch_id, stream_id, r_point, "
	    "wrapped_key) VALUES ('" TENANT "', '" EPOCH "', '" STREAM "', "
	    B(32, "cc") ", " B(72, "dd") ")"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.records VALUES ('" TENANT "', '" STREAM "', 1, "
	    "'" EPOCH "', 0, now(), now(), 'signal', 3, ARRAY[" B(16, "11") ", "
	    B(16, "12") "], " B(16, "13") ", " B(16, "14") ", " B(24, "15") ", "
	    B(40, "16") ", " B(32, "17") ")"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.batches (tenant_id, stream_id, batch_no, first_seq, "
	    "last_seq, record_count, prev_head, merkle_root, new_head) VALUES "
	    "('" TENANT "', '" STREAM "', 0, 1, 1, 1, " B(32, "00") ", "
	    B(32, "17") ", " B(32, "18") ")"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.checkpoints VALUES ('" TENANT "', '" STREAM "', 0, "
	    B(32, "18") ", 1, now(), '" NODE "', " B(64, "19") ")"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.tombstones (tenant_id, stream_id, seq, batch_no, "
	    "leaf_hash, reason, policy, authorisation) VALUES ('" TENANT "', "
	    "'" STREAM "', 99, 0, " B(32, "20") ", 'test', 'test', 'test')"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.audit_events (tenant_id, event_no, prev_hash, "
	    "event_hash, actor, role, action, outcome) VALUES ('" TENANT "', 1, "
	    B(32, "00") ", " B(32, "21") ", 'fp', 'admin', 'test', 'ok')"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.users (tenant_id, user_id, name, role) VALUES "
	    "('" TENANT "', '" ADMIN "', 'Lee', 'legal')"), 0);
	assert_int_equal(pgtest_exec(v1,
	    "INSERT INTO coffer.matters (tenant_id, matter_id, title, legal_basis, "
	    "requester_user_id, scope) VALUES ('" TENANT "', '" MATTER "', 't', "
	    "'b', '" ADMIN "', '{}')"), 0);
}

static void
test_checks_reject_malformed_rows(void **state)
{
#define REC(seq, ch, parts) \
	"INSERT INTO coffer.records VALUES ('" TENANT "', '" STREAM "', " seq \
	", '" EPOCH "', 0, now(), now(), '" ch "', 3, " parts ", NULL, " \
	B(16, seq) ", " B(24, "15") ", " B(40, "16") ", " B(32, "17") ")"
	/* Each bad row and the constraint that must refuse it (0024 made
	 * bytea_array_ok PL/pgSQL and channel_ok inlinable: the same rows
	 * pass and fail as before, under the same names). */
	static const struct { const char *sql, *constraint; } bad[] = {
		{ "INSERT INTO coffer.records VALUES ('" TENANT "', '" STREAM "', 50, "
		  "'" EPOCH "', 0, now(), now(), 'signal', 3, '{}', NULL, "
		  B(16, "50") ", " B(24, "15") ", " B(40, "16") ", " B(31, "17") ")",
		  "records_leaf_hash_check" },
		{ REC("51", "fax", "'{}'"), "records_channel_check" },
		{ REC("52", "sms", "ARRAY[" B(15, "11") "]"),
		  "records_participant_tokens_check" },
		{ REC("53", "sms", "ARRAY[NULL::bytea]"),
		  "records_participant_tokens_check" },
		{ REC("54", "sms", "ARRAY[" B(16, "11") ", " B(17, "12") "]"),
		  "records_participant_tokens_check" },
		{ REC("55", "sms", "ARRAY[" B(16, "11") ", NULL]"),
		  "records_participant_tokens_check" },
		{ REC("56", "sms", "ARRAY[ARRAY[" B(16, "11") "], ARRAY[" B(16, "12")
		  "]]"), "records_participant_tokens_check" },
		{ REC("58", "sms", "('[0:0]={\"\\\\x' || encode(" B(16, "11")
		  ", 'hex') || '\"}')::bytea[]"), "records_participant_tokens_check" },
		{ "INSERT INTO coffer.tenants VALUES (gen_random_uuid(), 'x', 4, 3)",
		  "tenants_check" },
		{ "INSERT INTO coffer.epochs (tenant_id, epoch_id, stream_id, r_point) "
		  "VALUES ('" TENANT "', gen_random_uuid(), '" STREAM "', "
		  B(32, "cc") ")", "epochs_check" },
		{ "INSERT INTO coffer.users (tenant_id, user_id, name, role) VALUES "
		  "('" TENANT "', gen_random_uuid(), 'C', 'custodian')", NULL },
		{ "INSERT INTO coffer.holds (tenant_id, hold_id, channels, created_by) "
		  "VALUES ('" TENANT "', gen_random_uuid(), ARRAY['signal', 'fax'], "
		  "'fp')", "holds_channels_check" },
		{ "INSERT INTO coffer.holds (tenant_id, hold_id, channels, created_by) "
		  "VALUES ('" TENANT "', gen_random_uuid(), ARRAY['signal', NULL], "
		  "'fp')", "holds_channels_check" },
		{ "INSERT INTO coffer.holds (tenant_id, hold_id, participant_tokens, "
		  "created_by) VALUES ('" TENANT "', gen_random_uuid(), ARRAY["
		  B(16, "11") ", " B(8, "12") "], 'fp')",
		  "holds_participant_tokens_check" },
	};
	static const char *good[] = {
		REC("61", "whatsapp", "ARRAY[" B(16, "21") ", " B(16, "22") ", "
		    B(16, "23") "]"),
		REC("62", "other", "'{}'"),
		REC("63", "email", "ARRAY[" B(16, "24") "]"),
	};
#undef REC
	char st[PG_SQLSTATE_SIZE], msg[512], want[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)pgtest_try(v1, bad[i].sql, st, msg, sizeof(msg));
		if (strcmp(st, PG_SQLSTATE_CHECK_VIOLATION) != 0)
			fail_msg("case %zu: expected 23514, got '%s' (%s)", i, st, msg);
		if (bad[i].constraint == NULL)
			continue;
		snprintf(want, sizeof(want), "violates check constraint \"%s\"",
		    bad[i].constraint);
		if (strstr(msg, want) == NULL)
			fail_msg("case %zu: expected '%s', got '%s'", i, want, msg);
	}
	/* Well-formed rows pass (rolled back: later tests count the rows). */
	assert_int_equal(pgtest_exec(v1, "BEGIN"), 0);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (pgtest_exec(v1, good[i]) != 0)
			fail_msg("good row %zu refused", i);
	assert_int_equal(pgtest_exec(v1, "ROLLBACK"), 0);
	/* Duplicate dedup token within a tenant. */
	(void)pgtest_try(v1,
	    "INSERT INTO coffer.records VALUES ('" TENANT "', '" STREAM "', 60, "
	    "'" EPOCH "', 0, now(), now(), 'sms', 3, '{}', NULL, " B(16, "14") ", "
	    B(24, "15") ", " B(40, "16") ", " B(32, "17") ")", st, msg, sizeof(msg));
	assert_string_equal(st, PG_SQLSTATE_UNIQUE_VIOLATION);
}

static void
test_owner_cannot_change_evidence(void **state)
{
	static const struct { const char *table, *set; } t[] = {
		{ "records", "batch_no = batch_no" },
		{ "batches", "record_count = record_count" },
		{ "checkpoints", "last_seq = last_seq" },
		{ "audit_events", "outcome = 'denied'" },
		{ "tombstones", "reason = 'other'" },
	};
	char sql[256], want[128];
	size_t i;
	int replica;

	(void)state;
	for (replica = 0; replica <= 1; replica++) {
		/* ENABLE ALWAYS: replica mode does not switch them off. */
		assert_int_equal(pgtest_exec(v1, replica ?
		    "SET session_replication_role = replica" :
		    "SET session_replication_role = origin"), 0);
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			snprintf(sql, sizeof(sql), "UPDATE coffer.%s SET %s",
			    t[i].table, t[i].set);
			snprintf(want, sizeof(want), "coffer.%s is append-only: "
			    "UPDATE refused", t[i].table);
			as_role("postgres", sql, PG_SQLSTATE_RAISE_EXCEPTION, want);
			snprintf(sql, sizeof(sql), "DELETE FROM coffer.%s", t[i].table);
			snprintf(want, sizeof(want), "coffer.%s is append-only: "
			    "DELETE refused", t[i].table);
			as_role("postgres", sql, PG_SQLSTATE_RAISE_EXCEPTION, want);
			snprintf(sql, sizeof(sql), "TRUNCATE coffer.%s CASCADE",
			    t[i].table);
			snprintf(want, sizeof(want), "coffer.%s is append-only: "
			    "TRUNCATE refused", t[i].table);
			as_role("postgres", sql, PG_SQLSTATE_RAISE_EXCEPTION, want);
		}
	}
	assert_int_equal(pgtest_exec(v1, "RESET session_replication_role"), 0);
	assert_int_equal(pgtest_rows(v1, "SELECT 1 FROM coffer.records"), 1);

	/* Epochs: only shredding is allowed. */
	as_role("postgres", "UPDATE coffer.epochs SET r_point = " B(32, "ee"),
	    PG_SQLSTATE_RAISE_EXCEPTION, "an epoch changes only by shredding");
	as_role("postgres", "DELETE FROM coffer.epochs",
	    PG_SQLSTATE_RAISE_EXCEPTION, "coffer.epochs: DELETE refused");
	assert_int_equal(pgtest_exec(v1, "BEGIN"), 0);
	assert_int_equal(pgtest_exec(v1, "UPDATE coffer.epochs SET wrapped_key = "
	    "NULL, shredded_at = now()"), 0);
	assert_int_equal(pgtest_exec(v1, "ROLLBACK"), 0);
}

static void
test_gateway_privileges(void **state)
{
	const char *gw = "coffer_gateway";

	(void)state;
	as_role(gw, "UPDATE coffer.records SET batch_no = 1", "42501", NULL);
	as_role(gw, "DELETE FROM coffer.records", "42501", NULL);
	as_role(gw, "TRUNCATE coffer.records", "42501", NULL);
	as_role(gw, "SELECT ciphertext FROM coffer.records", "42501", NULL);
	as_role(gw, "SELECT * FROM coffer.records", "42501", NULL);
	as_role(gw, "SELECT participant_tokens FROM coffer.records", "42501", NULL);
	as_role(gw, "SELECT tenant_id, stream_id, seq, leaf_hash, batch_no "
	    "FROM coffer.records WHERE tenant_id = '" TENANT "' AND dedup_token = "
	    B(16, "14"), "", NULL);
	as_role(gw, "INSERT INTO coffer.records (tenant_id, stream_id, seq, "
	    "epoch_id, batch_no, received_at, sent_at, channel, size_class, "
	    "participant_tokens, conversation_token, dedup_token, nonce, "
	    "ciphertext, leaf_hash) VALUES ('" TENANT "', '" STREAM "', 2, "
	    "'" EPOCH "', 1, now(), now(), 'whatsapp', 4, '{}', NULL, "
	    B(16, "24") ", " B(24, "25") ", " B(40, "26") ", " B(32, "27") ") "
	    "ON CONFLICT (tenant_id, dedup_token) DO NOTHING "
	    "RETURNING stream_id, seq, leaf_hash", "", NULL);
	/* A duplicate inserts nothing and the gateway can look up its receipt. */
	{
		long n;

		assert_int_equal(pgtest_exec(v1, "SET ROLE coffer_gateway"), 0);
		n = pgtest_rows(v1, "INSERT INTO coffer.records VALUES ('" TENANT "', "
		    "'" STREAM "', 3, '" EPOCH "', 1, now(), now(), 'sms', 4, '{}', "
		    "NULL, " B(16, "24") ", " B(24, "25") ", " B(40, "26") ", "
		    B(32, "27") ") ON CONFLICT (tenant_id, dedup_token) DO NOTHING "
		    "RETURNING seq");
		assert_int_equal(pgtest_exec(v1, "RESET ROLE"), 0);
		assert_int_equal(n, 0);
	}
	as_role(gw, "INSERT INTO coffer.batches VALUES ('" TENANT "', '" STREAM "', "
	    "1, 2, 2, 1, " B(32, "18") ", " B(32, "27") ", " B(32, "28") ")", "", NULL);
	as_role(gw, "INSERT INTO coffer.checkpoints VALUES ('" TENANT "', '" STREAM
	    "', 1, " B(32, "28") ", 2, now(), '" NODE "', " B(64, "29") ")", "", NULL);
	as_role(gw, "INSERT INTO coffer.epochs (tenant_id, epoch_id, stream_id, "
	    "r_point, wrapped_key) VALUES ('" TENANT "', gen_random_uuid(), '"
	    STREAM "', " B(32, "cc") ", " B(72, "dd") ") RETURNING epoch_id", "", NULL);
	as_role(gw, "SELECT new_head, last_seq FROM coffer.batches", "", NULL);
	as_role(gw, "SELECT public_key FROM coffer.tenant_keys", "", NULL);
	as_role(gw, "SELECT status FROM coffer.devices", "", NULL);
	as_role(gw, "SELECT version FROM coffer.schema_migrations", "", NULL);
	as_role(gw, "UPDATE coffer.batches SET record_count = 1", "42501", NULL);
	as_role(gw, "DELETE FROM coffer.checkpoints", "42501", NULL);
	as_role(gw, "UPDATE coffer.epochs SET wrapped_key = NULL", "42501", NULL);
	as_role(gw, "SELECT wrapped_key FROM coffer.epochs", "42501", NULL);
	as_role(gw, "SELECT * FROM coffer.matters", "42501", NULL);
	as_role(gw, "SELECT * FROM coffer.audit_events", "42501", NULL);
	as_role(gw, "INSERT INTO coffer.audit_events (tenant_id, event_no, "
	    "prev_hash, event_hash, actor, role, action, outcome) VALUES "
	    "('" TENANT "', 9, " B(32, "00") ", " B(32, "00") ", 'a', 'b', 'c', 'd')",
	    "42501", NULL);
	as_role(gw, "INSERT INTO coffer.tenants VALUES (gen_random_uuid(), 'evil', 1, 1)",
	    "42501", NULL);
	as_role(gw, "SELECT coffer.purge_expired('" TENANT "', 'x')", "42501", NULL);
}

static void
test_gateway_login_role(void **state)
{
	char st[PG_SQLSTATE_SIZE], msg[512];
	PGconn *c;

	(void)state;
	/* The harness's LOGIN role `gw` inherits coffer_gateway. */
	c = pgtest_connect(v1_name, "gw");
	assert_non_null(c);
	(void)pgtest_try(c, "SELECT ciphertext FROM coffer.records", st, msg,
	    sizeof(msg));
	assert_string_equal(st, "42501");
	assert_int_equal(pgtest_rows(c, "SELECT dedup_token FROM coffer.records"), 2);
	(void)pgtest_try(c, "SET ROLE postgres", st, msg, sizeof(msg));
	assert_string_equal(st, "42501");
	pg_close(&c);
}

static void
test_api_privileges(void **state)
{
	const char *api = "coffer_api";

	(void)state;
	as_role(api, "INSERT INTO coffer.records SELECT * FROM coffer.records "
	    "WHERE false", "42501", NULL);
	as_role(api, "UPDATE coffer.records SET batch_no = 1", "42501", NULL);
	as_role(api, "DELETE FROM coffer.records", "42501", NULL);
	as_role(api, "UPDATE coffer.batches SET record_count = 1", "42501", NULL);
	as_role(api, "INSERT INTO coffer.epochs SELECT * FROM coffer.epochs "
	    "WHERE false", "42501", NULL);
	as_role(api, "UPDATE coffer.epochs SET wrapped_key = NULL", "42501", NULL);
	as_role(api, "UPDATE coffer.audit_events SET outcome = 'x'", "42501", NULL);
	as_role(api, "SELECT ciphertext, nonce FROM coffer.records", "", NULL);
	as_role(api, "SELECT wrapped_key, r_point FROM coffer.epochs", "", NULL);
	as_role(api, "INSERT INTO coffer.audit_events (tenant_id, event_no, "
	    "prev_hash, event_hash, actor, role, action, outcome) VALUES "
	    "('" TENANT "', 2, " B(32, "21") ", " B(32, "22") ", 'fp', 'legal', "
	    "'matter.create', 'ok')", "", NULL);
	as_role(api, "UPDATE coffer.matters SET state = 'approved', progress = 0",
	    "", NULL);
	as_role(api, "UPDATE coffer.matters SET title = 'rewritten'", "42501", NULL);
	as_role(api, "DELETE FROM coffer.matters", "42501", NULL);
	as_role(api, "INSERT INTO coffer.holds (tenant_id, hold_id, channels, "
	    "participant_tokens, created_by) VALUES ('" TENANT "', gen_random_uuid(), "
	    "ARRAY['signal'], ARRAY[" B(16, "11") "], 'fp')", "", NULL);
	as_role(api, "UPDATE coffer.holds SET active = false, released_at = now(), "
	    "released_by = 'fp'", "", NULL);
	as_role(api, "INSERT INTO coffer.retention_policies VALUES ('" TENANT "', "
	    "'*', '7 years', 'fp') ON CONFLICT (tenant_id, channel) DO UPDATE "
	    "SET retention = EXCLUDED.retention", "", NULL);
	as_role(api, "SELECT coffer.purge_expired('" TENANT "', 'x')", "42501", NULL);
}

static void
test_verify_and_purge_privileges(void **state)
{
	static const char *tables[] = {
		"tenants", "tenant_keys", "nodes", "streams", "epochs", "records",
		"batches", "checkpoints", "devices", "users", "matters", "approvals",
		"productions", "holds", "retention_policies", "tombstones",
		"audit_events", "schema_migrations",
	};
	char sql[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT * FROM coffer.%s", tables[i]);
		as_role("coffer_verify", sql, "", NULL);
		as_role("coffer_purge", sql, "42501", NULL);
	}
	as_role("coffer_verify", "INSERT INTO coffer.audit_events SELECT * FROM "
	    "coffer.audit_events WHERE false", "42501", NULL);
	as_role("coffer_verify", "UPDATE coffer.matters SET progress = 1", "42501", NULL);
	as_role("coffer_purge", "DELETE FROM coffer.records", "42501", NULL);
	as_role("coffer_purge", "SELECT coffer.purge_expired('" TENANT "', 'x')",
	    "0A000", "purge not enabled: retention is not implemented yet");
	as_role("postgres", "SELECT coffer.purge_expired('" TENANT "', 'x')",
	    "0A000", "purge not enabled");
}

static void
test_public_has_nothing(void **state)
{
	char sql[128], role[64];

	(void)state;
	snprintf(role, sizeof(role), "itest_nobody_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "CREATE ROLE %s NOLOGIN", role);
	assert_int_equal(pgtest_exec(v1, sql), 0);
	as_role(role, "SELECT count(*) FROM coffer.tenants", "42501",
	    "permission denied for schema coffer");
	as_role(role, "SELECT coffer.purge_expired('" TENANT "', 'x')", "42501", NULL);
	snprintf(sql, sizeof(sql), "DROP ROLE %s", role);
	assert_int_equal(pgtest_exec(v1, sql), 0);
	/* The four service roles cannot log in by themselves. */
	assert_int_equal(pgtest_rows(v1, "SELECT 1 FROM pg_roles WHERE rolname IN "
	    "('coffer_gateway', 'coffer_api', 'coffer_purge', 'coffer_verify') "
	    "AND NOT rolcanlogin AND NOT rolsuper"), 4);
}

/* An audit event as the writers appended it before migration 0008
 * (unsigned; the schema has no signer columns yet): chained and hashed
 * exactly as common/audit.h says, at a fixed time.  prev is updated. */
static void
legacy_append(PGconn *c, const unsigned char tid[16], uint64_t eno,
    unsigned char prev[32], const char *role, const char *action,
    const char *detail)
{
	const int64_t at_us = 1735689600LL * 1000000LL;   /* 2025-01-01 */
	unsigned char hash[32];
	char sql[4096], q[1024], ph[65], hh[65], tids[37], *norm;
	audit_field f[AUDIT_NFIELDS];

	snprintf(q, sizeof(q), "SELECT '%s'::jsonb::text", detail);
	norm = pgtest_scalar(c, q);
	assert_non_null(norm);
	memset(f, 0, sizeof(f));
	f[AUDIT_F_ACTOR].p = "fp";
	f[AUDIT_F_ACTOR].len = 2;
	f[AUDIT_F_ROLE].p = role;
	f[AUDIT_F_ROLE].len = strlen(role);
	f[AUDIT_F_ACTION].p = action;
	f[AUDIT_F_ACTION].len = strlen(action);
	f[AUDIT_F_TARGET].p = "matter:" MATTER;
	f[AUDIT_F_TARGET].len = strlen(f[AUDIT_F_TARGET].p);
	f[AUDIT_F_OUTCOME].p = "ok";
	f[AUDIT_F_OUTCOME].len = 2;
	f[AUDIT_F_DETAIL].p = norm;
	f[AUDIT_F_DETAIL].len = strlen(norm);
	assert_int_equal(audit_event_hash(prev, tid, eno, at_us, f, hash), 0);
	util_hex(ph, prev, 32);
	util_hex(hh, hash, 32);
	util_uuid_format(tids, tid);
	snprintf(sql, sizeof(sql), "INSERT INTO coffer.audit_events (tenant_id, "
	    "event_no, prev_hash, event_hash, at, actor, role, action, target, "
	    "outcome, detail) VALUES ('%s', %llu, decode('%s', 'hex'), "
	    "decode('%s', 'hex'), to_timestamp(1735689600), 'fp', '%s', '%s', "
	    "'matter:" MATTER "', 'ok', '%s')", tids, (unsigned long long)eno, ph,
	    hh, role, action, norm);
	assert_int_equal(pgtest_exec(c, sql), 0);
	memcpy(prev, hash, 32);
	free(norm);
}

/* Migration 0004 on a database that holds unblinded partials (what the
 * API stored before it): approvals and approval audit events lose them,
 * the redaction is recorded, an approved-but-unbuilt matter goes back to
 * open, the matter's recipient is frozen, and `verify` still passes the
 * chain (counting the redacted event) but still catches an edit. */
static void
test_0004_redacts_stored_partials(void **state)
{
	char name[PGTEST_DBNAME_MAX], dir[512], cmd[1200], err[1024];
	const char *base = getenv("COFFER_TEST_TMP");
	static const char *const early[] = { "0001_schema.sql",
	    "0002_retention.sql", "0003_epoch_order.sql" };
	unsigned char tid[16], prev[32];
	audit_event ev;
	verify_opts vo;
	verify_report vr;
	PGconn *c;
	char *v;
	int applied;
	size_t i;

	(void)state;
	assert_int_equal(pgtest_create_db("itest_migrate_0004", name), 0);
	c = pgtest_connect(name, NULL);
	assert_non_null(c);
	snprintf(dir, sizeof(dir), "%s/m4XXXXXX", base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
		snprintf(cmd, sizeof(cmd), "cp %s/%s %s/", pgtest_migrations_dir(),
		    early[i], dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(migrate_apply(c, dir, 0, &applied, err, sizeof(err)), 0);
	assert_int_equal(applied, 3);
	remove_dir(dir);

	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.tenants (tenant_id, name, threshold_k, custodians_n) "
	    "VALUES ('" TENANT "', 'acme', 2, 3)"), 0);
	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.users (tenant_id, user_id, name, role, "
	    "x25519_public_key) VALUES ('" TENANT "', '" ADMIN "', 'Lee', 'legal', "
	    B(32, "ab") ")"), 0);
	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.users (tenant_id, user_id, name, role, "
	    "custodian_index) VALUES ('" TENANT "', "
	    "'77777777-7777-4777-8777-777777777777', 'C1', 'custodian', 1)"), 0);
	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.matters (tenant_id, matter_id, title, legal_basis, "
	    "requester_user_id, scope, state) VALUES ('" TENANT "', '" MATTER "', "
	    "'t', 'b', '" ADMIN "', '{}', 'building')"), 0);
	assert_int_equal(pgtest_exec(c,
	    "INSERT INTO coffer.approvals (tenant_id, matter_id, custodian_index, "
	    "user_id, partials) VALUES ('" TENANT "', '" MATTER "', 1, "
	    "'77777777-7777-4777-8777-777777777777', "
	    "'{\"44444444-4444-4444-8444-444444444444\": {\"p\": \"" 
	    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
	    "\", \"proof\": \"00\"}}')"), 0);
	/* the audit chain as the API wrote it, partials inline */
	assert_int_equal(util_uuid_parse(tid, TENANT), 0);
	memset(prev, 0, sizeof(prev));
	legacy_append(c, tid, 1, prev, "custodian", "approval.submit",
	    "{\"custodian_index\": 1, \"partials\": "
	    "{\"44444444-4444-4444-8444-444444444444\": {\"p\": "
	    "\"e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76\"}}}");
	legacy_append(c, tid, 2, prev, "custodian", "matter.show",
	    "{\"record_count\": 3}");
	(void)ev;

	assert_int_equal(migrate_apply(c, pgtest_migrations_dir(), 0, &applied,
	    err, sizeof(err)), 0);
	assert_true(applied >= 1);
	v = pgtest_scalar(c, "SELECT string_agg(partials::text, ',') "
	    "FROM coffer.approvals");
	assert_string_equal(v, "{\"redacted\": \"0004\"}");
	free(v);
	v = pgtest_scalar(c, "SELECT count(*) FROM coffer.audit_events WHERE "
	    "detail::text LIKE '%e2f2ae0a%'");
	assert_string_equal(v, "0");
	free(v);
	v = pgtest_scalar(c, "SELECT string_agg(event_no || ' ' || reason, ',') "
	    "FROM coffer.audit_redactions");
	assert_string_equal(v, "1 0004: unblinded partials removed");
	free(v);
	v = pgtest_scalar(c, "SELECT state || ' ' || failure_reason || ' ' || "
	    "encode(recipient_key, 'hex') FROM coffer.matters");
	assert_non_null(strstr(v, "open approvals given before migration 0004"));
	assert_non_null(strstr(v, "abababab"));
	free(v);

	memset(&vo, 0, sizeof(vo));
	assert_int_equal(verify_run(c, &vo, &vr), VERIFY_OK);
	assert_int_equal(vr.audit_events, 2);
	assert_int_equal(vr.audit_redacted, 1);
	/* the redaction does not blind verify to an edit of another event */
	assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events DISABLE "
	    "TRIGGER audit_events_append_only"), 0);
	assert_int_equal(pgtest_exec(c, "UPDATE coffer.audit_events SET "
	    "outcome = 'denied' WHERE event_no = 2"), 0);
	assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events "
	    "ENABLE ALWAYS TRIGGER audit_events_append_only"), 0);
	assert_int_equal(verify_run(c, &vo, &vr), VERIFY_TAMPERED);
	assert_int_equal(vr.event_no, 2);
	assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events DISABLE "
	    "TRIGGER audit_events_append_only"), 0);
	assert_int_equal(pgtest_exec(c, "UPDATE coffer.audit_events SET "
	    "outcome = 'ok' WHERE event_no = 2"), 0);
	assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events "
	    "ENABLE ALWAYS TRIGGER audit_events_append_only"), 0);

	/* Migration 0008: the two events are legacy (unsigned, counted); the
	 * next one is signed; an unsigned event after it is a forgery. */
	v = pgtest_scalar(c, "SELECT tenant_id || ' ' || last_event_no FROM "
	    "coffer.audit_legacy");
	assert_string_equal(v, TENANT " 2");
	free(v);
	snprintf(dir, sizeof(dir), "%s/m8XXXXXX", base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pgtest_audit_signers(c, dir), 0);
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.tenant_id, tid, 16);
	ev.actor = "cofferctl uid=0 db=postgres";
	ev.role = "operator";
	ev.action = "retention.set";
	ev.outcome = "ok";
	ev.detail_json = "{\"days\": 30}";
	assert_int_equal(pgtest_exec(c, "BEGIN"), 0);
	assert_int_equal(audit_append(c, &ev, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(pgtest_exec(c, "COMMIT"), 0);
	assert_int_equal(verify_run(c, &vo, &vr), VERIFY_OK);
	assert_int_equal(vr.audit_events, 3);
	assert_int_equal(vr.audit_legacy, 2);
	assert_int_equal(vr.audit_signed, 1);
	assert_int_equal(vr.audit_redacted, 1);
	/* the owner appends an unsigned, correctly chained event */
	v = pgtest_scalar(c, "SELECT encode(event_hash, 'hex') FROM "
	    "coffer.audit_events WHERE event_no = 3");
	assert_non_null(v);
	assert_int_equal(util_unhex(prev, 32, v, strlen(v)), 0);
	free(v);
	legacy_append(c, tid, 4, prev, "admin", "matter.create", "{}");
	assert_int_equal(verify_run(c, &vo, &vr), VERIFY_TAMPERED);
	assert_int_equal(vr.event_no, 4);
	assert_string_equal(vr.what, "audit-unsigned");
	assert_non_null(strstr(vr.message, "audit event 4: the event is not "
	    "signed but follows signed event 3"));
	assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events DISABLE "
	    "TRIGGER audit_events_append_only"), 0);
	assert_int_equal(pgtest_exec(c, "DELETE FROM coffer.audit_events "
	    "WHERE event_no = 4"), 0);
	assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events "
	    "ENABLE ALWAYS TRIGGER audit_events_append_only"), 0);
	assert_int_equal(verify_run(c, &vo, &vr), VERIFY_OK);
	/* The owner forges a redaction row to excuse an edit of legacy event
	 * 2 (before 0008 that passed, counted as redacted): the signature of
	 * event 3 covers the tenant's redaction list. */
	assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events DISABLE "
	    "TRIGGER audit_events_append_only"), 0);
	assert_int_equal(pgtest_exec(c, "UPDATE coffer.audit_events SET "
	    "detail = '{\"record_count\": 0, \"partials_redacted\": \"0004\"}' "
	    "WHERE event_no = 2"), 0);
	assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events ENABLE "
	    "ALWAYS TRIGGER audit_events_append_only"), 0);
	assert_int_equal(pgtest_exec(c, "INSERT INTO coffer.audit_redactions "
	    "(tenant_id, event_no, reason) VALUES ('" TENANT "', 2, '0004: "
	    "unblinded partials removed')"), 0);
	assert_int_equal(verify_run(c, &vo, &vr), VERIFY_TAMPERED);
	assert_int_equal(vr.event_no, 3);
	assert_string_equal(vr.what, "audit-signature");
	assert_non_null(strstr(vr.message, "audit event 3: the signature of node "
	    "itest-ctl does not verify (the event, its signer or the tenant's "
	    "redaction list was altered)"));
	/* Witness lines only for committed events: an event whose transaction
	 * was rolled back behind pg_commit's back (a raw ROLLBACK) is not
	 * witnessed by the next pg_commit on the same connection. */
	{
		char wpath[600], line[1024];
		FILE *wf;
		int nlines = 0;

		assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events "
		    "DISABLE TRIGGER audit_events_append_only"), 0);
		assert_int_equal(pgtest_exec(c, "UPDATE coffer.audit_events SET "
		    "detail = '{\"record_count\": 3}' WHERE event_no = 2"), 0);
		assert_int_equal(pgtest_exec(c, "ALTER TABLE coffer.audit_events "
		    "ENABLE ALWAYS TRIGGER audit_events_append_only"), 0);
		snprintf(wpath, sizeof(wpath), "%s/audit.witness", dir);
		assert_int_equal(audit_set_witness(wpath, err, sizeof(err)), 0);
		assert_int_equal(pgtest_exec(c, "BEGIN"), 0);
		assert_int_equal(audit_append(c, &ev, NULL, NULL, err,
		    sizeof(err)), 0);
		assert_int_equal(pgtest_exec(c, "ROLLBACK"), 0);
		assert_int_equal(pgtest_exec(c, "BEGIN"), 0);
		assert_int_equal(pgtest_exec(c, "SELECT 1"), 0);
		assert_int_equal(pg_commit(c, err, sizeof(err)), 0);
		assert_int_equal(access(wpath, F_OK), -1);
		assert_int_equal(pgtest_exec(c, "BEGIN"), 0);
		assert_int_equal(audit_append(c, &ev, NULL, NULL, err,
		    sizeof(err)), 0);
		assert_int_equal(pg_rollback(c), 0);
		assert_int_equal(access(wpath, F_OK), -1);
		assert_int_equal(pgtest_exec(c, "BEGIN"), 0);
		assert_int_equal(audit_append(c, &ev, NULL, NULL, err,
		    sizeof(err)), 0);
		assert_int_equal(pg_commit(c, err, sizeof(err)), 0);
		wf = fopen(wpath, "r");
		assert_non_null(wf);
		while (fgets(line, sizeof(line), wf) != NULL)
			nlines++;
		fclose(wf);
		assert_int_equal(nlines, 1);
		assert_non_null(strstr(line, "\"event_no\":4,"));
		assert_int_equal(audit_set_witness(NULL, err, sizeof(err)), 0);
		memset(&vo, 0, sizeof(vo));
		vo.witness = (const char *const[]){ wpath };
		vo.witness_count = 1;
		assert_int_equal(verify_run(c, &vo, &vr), VERIFY_TAMPERED);
		assert_string_equal(vr.what, "audit-signature");   /* the forged redaction */
	}
	audit_signer_clear();
	remove_dir(dir);
	pg_close(&c);
	assert_int_equal(pgtest_drop_db(name), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_to_empty_database),
		cmocka_unit_test(test_second_run_is_a_noop),
		cmocka_unit_test(test_invariants_after_all_migrations),
		cmocka_unit_test(test_changed_file_is_refused),
		cmocka_unit_test(test_cofferctl_reports_changed_file),
		cmocka_unit_test(test_missing_applied_file_is_refused),
		cmocka_unit_test(test_malformed_names_are_refused),
		cmocka_unit_test(test_failing_migration_rolls_back),
		cmocka_unit_test(test_concurrent_runners_serialise),
		cmocka_unit_test(test_foreign_schema_is_refused),
		cmocka_unit_test(test_pg_helpers),
		cmocka_unit_test(test_fixture_rows),
		cmocka_unit_test(test_checks_reject_malformed_rows),
		cmocka_unit_test(test_owner_cannot_change_evidence),
		cmocka_unit_test(test_gateway_privileges),
		cmocka_unit_test(test_gateway_login_role),
		cmocka_unit_test(test_api_privileges),
		cmocka_unit_test(test_verify_and_purge_privileges),
		cmocka_unit_test(test_public_has_nothing),
		cmocka_unit_test(test_0004_redacts_stored_partials),
		cmocka_unit_test(test_0009_persons_and_floor),
	};

	return cmocka_run_group_tests_name("itest_migrate", tests, group_setup,
	    group_teardown);
}
