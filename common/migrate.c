/* common/migrate.c — the migration runner.
 *
 * Trusts: the files in the migrations directory (they are our schema; they
 * run with the owner's rights, multi-statement, via the simple query
 * protocol).  Does not trust: that the directory matches what was applied
 * before — every applied file is re-hashed on every run and a changed or
 * missing one stops the run before anything new is applied.
 *
 * Concurrency: every transaction starts by taking one advisory transaction
 * lock, then re-reads schema_migrations, so two runners (two hosts starting
 * at once) apply each file exactly once.  A transaction-scoped lock also
 * works through PgBouncer in transaction mode, where session locks do not.
 */
#include "common/migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sodium.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"

/* pg_advisory_xact_lock key: "coffer" read as a big-endian integer. */
#define MIGRATE_LOCK_KEY "109330110506354"

#define MIGRATE_SUM_HEX (2U * crypto_hash_sha256_BYTES + 1U)

struct mig {
	int            version;
	char           file[NAME_MAX + 1];   /* "0001_schema.sql" */
	char           path[PATH_MAX];       /* dir/file, for messages */
	char           sum[MIGRATE_SUM_HEX];
	unsigned char *sql;
	size_t         len;
};

struct applied {
	int  version;
	char name[NAME_MAX + 1];
	char sum[MIGRATE_SUM_HEX];
};

/* NNNN_name.sql, name in [a-z0-9_]+, NNNN > 0. */
static int
mig_parse_name(const char *s, int *version)
{
	size_t len = strlen(s), i;

	*version = 0;
	if (len < 4 + 1 + 1 + 4 || strcmp(s + len - 4, ".sql") != 0 ||
	    s[4] != '_')
		return -1;
	for (i = 0; i < 4; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*version = *version * 10 + (s[i] - '0');
	}
	for (i = 5; i < len - 4; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!(islower(ch) || isdigit(ch) || ch == '_'))
			return -1;
	}
	return *version > 0 ? 0 : -1;
}

/* Every *.sql entry must be a well-formed migration name; anything else
 * (README, editor backups "0001_x.sql~", "*.orig") is ignored. */
static int
mig_looks_like(const char *s)
{
	size_t len = strlen(s);

	return len >= 4 && strcasecmp(s + len - 4, ".sql") == 0;
}

static int
mig_cmp(const void *a, const void *b)
{
	const struct mig *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static void
mig_free(struct mig *m, size_t n)
{
	size_t i;

	for (i = 0; m != NULL && i < n; i++)
		free(m[i].sql);
	free(m);
}

/* Read, name-check, sort and hash every migration in dir.  base receives
 * dir without trailing slashes, as used in messages. */
static int
mig_scan(const char *dir, char base[PATH_MAX], struct mig **out,
    size_t *out_n, char *err, size_t err_len)
{
	struct mig *m = NULL, *grown;
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0, i, blen;
	DIR *d;
	int dfd;

	*out = NULL;
	*out_n = 0;
	blen = strlen(dir);
	base[0] = '\0';
	if (blen == 0 || blen >= PATH_MAX) {
		snprintf(err, err_len, "migrations directory name empty or too long");
		return -1;
	}
	memcpy(base, dir, blen + 1);
	while (blen > 1 && base[blen - 1] == '/')
		base[--blen] = '\0';

	d = opendir(base);
	if (d == NULL) {
		snprintf(err, err_len, "%s: %s", base, strerror(errno));
		return -1;
	}
	dfd = dirfd(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct mig *cur;
		int version;

		if (de->d_name[0] == '.' || !mig_looks_like(de->d_name))
			continue;
		if (mig_parse_name(de->d_name, &version) != 0) {
			snprintf(err, err_len, "%s/%s: malformed migration file "
			    "name (expected NNNN_name.sql: four digits from 0001, "
			    "then [a-z0-9_])", base, de->d_name);
			goto fail;
		}
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode)) {
			snprintf(err, err_len, "%s/%s: not a regular file", base,
			    de->d_name);
			goto fail;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(m, cap * sizeof(*m));
			if (grown == NULL) {
				snprintf(err, err_len, "out of memory");
				goto fail;
			}
			m = grown;
		}
		cur = &m[n];
		memset(cur, 0, sizeof(*cur));
		cur->version = version;
		snprintf(cur->file, sizeof(cur->file), "%s", de->d_name);
		if ((size_t)snprintf(cur->path, sizeof(cur->path), "%s/%s", base,
		    de->d_name) >= sizeof(cur->path)) {
			snprintf(err, err_len, "%s: path too long", de->d_name);
			goto fail;
		}
		n++;
	}
	if (errno != 0) {
		snprintf(err, err_len, "%s: %s", base, strerror(errno));
		goto fail;
	}
	closedir(d);
	d = NULL;
	if (n == 0) {
		snprintf(err, err_len, "%s: no migration files (NNNN_name.sql)",
		    base);
		goto fail;
	}
	qsort(m, n, sizeof(*m), mig_cmp);
	for (i = 0; i < n; i++) {
		unsigned char h[crypto_hash_sha256_BYTES];

		if (i > 0 && m[i].version == m[i - 1].version) {
			snprintf(err, err_len, "%s and %s: same version %04d",
			    m[i - 1].path, m[i].path, m[i].version);
			goto fail;
		}
		if (util_read_file(m[i].path, MIGRATE_FILE_MAX, &m[i].sql,
		    &m[i].len, err, err_len) != 0)
			goto fail;
		/* PQexec stops at a NUL: the server would run less than we
		 * hashed. */
		if (memchr(m[i].sql, '\0', m[i].len) != NULL) {
			snprintf(err, err_len, "%s: contains a NUL byte", m[i].path);
			goto fail;
		}
		crypto_hash_sha256(h, m[i].sql, m[i].len);
		util_hex(m[i].sum, h, sizeof(h));
	}
	*out = m;
	*out_n = n;
	return 0;
fail:
	if (d != NULL)
		closedir(d);
	mig_free(m, n);
	return -1;
}

/* 1-based line of the pos-th character (server positions count characters,
 * not bytes; the files are UTF-8). */
static int
mig_line_of(const unsigned char *sql, size_t len, int pos)
{
	int line = 1, chars = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if ((sql[i] & 0xc0) == 0x80)
			continue;
		if (++chars >= pos)
			break;
		if (sql[i] == '\n')
			line++;
	}
	return line;
}

static int
applied_load(PGconn *c, struct applied **out, size_t *out_n, char *err,
    size_t err_len)
{
	struct applied *a = NULL;
	PGresult *r;
	size_t n, i;

	*out = NULL;
	*out_n = 0;
	r = pg_query(c, "SELECT version, name, checksum "
	    "FROM coffer.schema_migrations ORDER BY version", NULL, err, err_len);
	if (r == NULL)
		return -1;
	n = (size_t)PQntuples(r);
	if (n > 0) {
		a = calloc(n, sizeof(*a));
		if (a == NULL) {
			PQclear(r);
			snprintf(err, err_len, "out of memory");
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		a[i].version = atoi(PQgetvalue(r, (int)i, 0));
		snprintf(a[i].name, sizeof(a[i].name), "%s", PQgetvalue(r, (int)i, 1));
		snprintf(a[i].sum, sizeof(a[i].sum), "%s", PQgetvalue(r, (int)i, 2));
	}
	PQclear(r);
	*out = a;
	*out_n = n;
	return 0;
}

static const struct mig *
mig_find(const struct mig *m, size_t n, int version)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].version == version)
			return &m[i];
	return NULL;
}

/* Every applied version must still have its file, byte for byte. */
static int
applied_check(const struct applied *a, size_t an, const struct mig *m,
    size_t mn, const char *dir, char *err, size_t err_len)
{
	size_t i;

	for (i = 0; i < an; i++) {
		const struct mig *f = mig_find(m, mn, a[i].version);

		if (f == NULL) {
			snprintf(err, err_len, "%s/%s: applied (version %04d) but "
			    "the file is missing", dir, a[i].name, a[i].version);
			return -1;
		}
		if (strcmp(f->file, a[i].name) != 0) {
			snprintf(err, err_len, "%s: version %04d was applied as "
			    "%s (renamed after it was applied)", f->path,
			    a[i].version, a[i].name);
			return -1;
		}
		if (strcmp(f->sum, a[i].sum) != 0) {
			snprintf(err, err_len, "%s: changed after it was applied "
			    "(checksum mismatch)", f->path);
			return -1;
		}
	}
	return 0;
}

/* One transaction: lock, ensure the bookkeeping table, verify, apply the
 * first pending file if any.  *did is 1 if a file was applied. */
static int
migrate_step(PGconn *c, const struct mig *m, size_t mn, const char *dir,
    int verbose, int *did, char *err, size_t err_len)
{
	struct applied *a = NULL;
	size_t an = 0, i, j;
	const struct mig *next = NULL;
	pg_params p = PG_PARAMS_INIT;
	char msg[768], vbuf[16];
	PGresult *r;
	int pos, exists, ours;

	*did = 0;
	if (pg_begin(c, err, err_len) != 0)
		return -1;
	pg_param_text(&p, MIGRATE_LOCK_KEY);
	if (pg_exec(c, "SELECT pg_advisory_xact_lock($1::bigint)", &p, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "cannot take the migration lock: %s", msg);
		goto fail;
	}
	if (pg_exec(c, "SET LOCAL client_min_messages = warning", NULL, err,
	    err_len) != 0)
		goto fail;
	/* CREATE SCHEMA IF NOT EXISTS checks CREATE on the database even when
	 * the schema exists; an owner without it must still be able to run.
	 * A schema someone else made first (and could later drop or fill with
	 * look-alike objects) is refused: it must belong to us, to a role we
	 * are directly a member of, or to a superuser.  (pg_has_role() would
	 * wave a superuser through into anybody's schema.) */
	r = pg_query(c, "SELECT count(*), count(*) FILTER (WHERE n.nspowner = "
	    "me.oid OR o.rolsuper OR EXISTS (SELECT 1 FROM "
	    "pg_catalog.pg_auth_members m WHERE m.roleid = n.nspowner AND "
	    "m.member = me.oid)), max(o.rolname) FROM pg_catalog.pg_namespace n JOIN "
	    "pg_catalog.pg_roles o ON o.oid = n.nspowner, pg_catalog.pg_roles me "
	    "WHERE n.nspname = 'coffer' AND me.rolname = current_user", NULL, err,
	    err_len);
	if (r == NULL)
		goto fail;
	exists = strcmp(PQgetvalue(r, 0, 0), "1") == 0;
	ours = strcmp(PQgetvalue(r, 0, 1), "1") == 0;
	if (exists && !ours) {
		snprintf(err, err_len, "schema coffer belongs to role \"%.63s\", "
		    "which the migrating role neither is nor is a member of: "
		    "refusing to create objects in it (run as the schema's "
		    "owner, or drop the schema if that role should not own it)",
		    PQgetvalue(r, 0, 2));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	if (!exists && pg_exec(c, "CREATE SCHEMA coffer", NULL, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "cannot create schema coffer: %s", msg);
		goto fail;
	}
	/* Likewise CREATE TABLE IF NOT EXISTS wants CREATE on the schema; a
	 * role without it may still check that everything is applied. */
	r = pg_query(c, "SELECT to_regclass('coffer.schema_migrations') IS NOT NULL",
	    NULL, err, err_len);
	if (r == NULL)
		goto fail;
	exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists && pg_exec(c, "CREATE TABLE coffer.schema_migrations ("
	    " version    integer PRIMARY KEY CHECK (version > 0),"
	    " name       text NOT NULL,"
	    " checksum   text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"
	    " applied_at timestamptz NOT NULL DEFAULT now())", NULL, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "cannot create coffer.schema_migrations: %s",
		    msg);
		goto fail;
	}
	if (applied_load(c, &a, &an, err, err_len) != 0 ||
	    applied_check(a, an, m, mn, dir, err, err_len) != 0)
		goto fail;

	for (i = 0, j = 0; i < mn; i++) {
		while (j < an && a[j].version < m[i].version)
			j++;
		if (j < an && a[j].version == m[i].version)
			continue;
		next = &m[i];
		if (an > 0 && a[an - 1].version > next->version) {
			snprintf(err, err_len, "%s: not applied, but the later "
			    "version %04d already is (out-of-order migration; "
			    "renumber it after %04d)", next->path,
			    a[an - 1].version, a[an - 1].version);
			goto fail;
		}
		break;
	}
	free(a);
	a = NULL;
	if (next == NULL)
		return pg_commit(c, err, err_len);

	if (pg_exec(c, "SET LOCAL search_path = coffer, pg_catalog", NULL, err,
	    err_len) != 0)
		goto fail;
	if (pg_exec_script(c, (const char *)next->sql, &pos, msg,
	    sizeof(msg)) != 0) {
		if (pos > 0)
			snprintf(err, err_len, "%s: line %d: %s", next->path,
			    mig_line_of(next->sql, next->len, pos), msg);
		else
			snprintf(err, err_len, "%s: %s", next->path, msg);
		goto fail;
	}
	if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
		snprintf(err, err_len, "%s: ends the transaction itself (remove "
		    "BEGIN/COMMIT/ROLLBACK); statements before that may have "
		    "been committed without being recorded", next->path);
		goto fail;
	}
	snprintf(vbuf, sizeof(vbuf), "%d", next->version);
	p = (pg_params)PG_PARAMS_INIT;
	pg_param_text(&p, vbuf);
	pg_param_text(&p, next->file);
	pg_param_text(&p, next->sum);
	if (pg_exec(c, "INSERT INTO coffer.schema_migrations "
	    "(version, name, checksum) VALUES ($1::integer, $2, $3)", &p, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "%s: cannot record: %s", next->path, msg);
		goto fail;
	}
	if (pg_commit(c, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "%s: %s", next->path, msg);
		goto fail;
	}
	if (verbose)
		log_info("applied %s (sha256 %s)", next->path, next->sum);
	*did = 1;
	return 0;
fail:
	free(a);
	(void)pg_rollback(c);
	return -1;
}

int
migrate_apply(PGconn *c, const char *dir, int verbose, int *applied_count,
    char *err, size_t err_len)
{
	struct mig *m = NULL;
	char base[PATH_MAX];
	size_t mn = 0;
	int did, rc = -1;

	*applied_count = 0;
	if (sodium_init() < 0) {
		snprintf(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		snprintf(err, err_len, "no database connection");
		return -1;
	}
	if (PQtransactionStatus(c) != PQTRANS_IDLE) {
		snprintf(err, err_len, "migrate: connection is inside a transaction");
		return -1;
	}
	if (mig_scan(dir, base, &m, &mn, err, err_len) != 0)
		return -1;
	for (;;) {
		if (migrate_step(c, m, mn, base, verbose, &did, err, err_len) != 0)
			goto done;
		if (!did)
			break;
		(*applied_count)++;
	}
	rc = 0;
done:
	mig_free(m, mn);
	return rc;
}
