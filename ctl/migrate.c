/* ctl/migrate.c — `cofferctl migrate`, and how cofferctl finds its database.
 *
 * The connection comes from the PG* environment (libpq defaults) or from the
 * `pg_conninfo = …` line of a config file.  A conninfo may hold a password,
 * so it is never printed, and a config file that holds one must be private.
 * Migrations run as the schema owner; application roles cannot run them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/migrate.h"
#include "common/pg.h"
#include "ctl/ctl.h"

#define CTL_CONFIG_MAX (64U * 1024U)

static char *
ctl_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* 1 if conninfo sets a password, 0 if not, -1 if it does not parse.
 * libpq's parse error text may quote the string, so it is not shown. */
static int
ctl_conninfo_has_password(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	char *perr = NULL;
	int has = 0;

	opts = PQconninfoParse(conninfo, &perr);
	if (perr != NULL)
		PQfreemem(perr);
	if (opts == NULL)
		return -1;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			has = 1;
	PQconninfoFree(opts);
	return has;
}

int
ctl_conninfo(const char *config_path, char *out, size_t out_len, char *err,
    size_t err_len)
{
	char *buf = NULL, *line, *next;
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd = -1, found = 0, rc = -1;

	if (out_len == 0)
		return -1;
	out[0] = '\0';
	if (config_path == NULL)
		return 0;
	fd = open(config_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", config_path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", config_path);
		goto done;
	}
	/* Whoever can edit it can point us at their own server. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, err_len, "%s: writable by group or others "
		    "(chmod go-w)", config_path);
		goto done;
	}
	if ((size_t)st.st_size > CTL_CONFIG_MAX) {
		snprintf(err, err_len, "%s: larger than %u bytes", config_path,
		    CTL_CONFIG_MAX);
		goto done;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(err, err_len, "out of memory");
		goto done;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, err_len, "%s: short read", config_path);
			goto done;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';

	for (line = buf; line != NULL; line = next) {
		char *eq, *key, *val;
		size_t vlen;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line = ctl_trim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		key = ctl_trim(line);
		if (strcmp(key, "pg_conninfo") != 0)
			continue;
		val = ctl_trim(eq + 1);
		vlen = strlen(val);
		if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[vlen - 1] == val[0]) {
			val[vlen - 1] = '\0';
			val++;
			vlen -= 2;
		}
		if (vlen >= out_len) {
			snprintf(err, err_len, "%s: pg_conninfo too long", config_path);
			goto done;
		}
		memcpy(out, val, vlen + 1);
		found = 1;     /* the last one wins, as in postgresql.conf */
	}
	if (found) {
		int pw = ctl_conninfo_has_password(out);

		if (pw < 0) {
			snprintf(err, err_len, "%s: pg_conninfo is not a valid "
			    "connection string", config_path);
			goto done;
		}
		if (pw > 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
			snprintf(err, err_len, "%s: holds a database password but "
			    "is readable by others (chmod 600, or use ~/.pgpass)",
			    config_path);
			goto done;
		}
	}
	rc = 0;
done:
	if (rc != 0)
		out[0] = '\0';
	if (buf != NULL) {
		explicit_bzero(buf, got);
		free(buf);
	}
	close(fd);
	return rc;
}

PGconn *
ctl_connect(const char *config_path)
{
	char conninfo[4096], err[768];
	PGconn *c;

	if (ctl_conninfo(config_path, conninfo, sizeof(conninfo), err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "cofferctl: %s\n", err);
		return NULL;
	}
	c = pg_connect_app(conninfo, "cofferctl", err, sizeof(err));
	explicit_bzero(conninfo, sizeof(conninfo));
	if (c == NULL)
		fprintf(stderr, "cofferctl: %s\n", err);
	return c;
}

void
ctl_actor(PGconn *c, char *out, size_t cap)
{
	const char *u = PQuser(c);
	char role[64];

	log_printable(role, sizeof(role), u != NULL ? u : "?",
	    u != NULL ? strlen(u) : 1);
	snprintf(out, cap, "cofferctl uid=%u db=%s", (unsigned)getuid(), role);
}

static void
migrate_usage(FILE *f)
{
	fprintf(f,
	    "usage: cofferctl migrate [--dir DIR] [--config FILE] [--verbose]\n"
	    "\n"
	    "Apply the pending migrations (DIR/NNNN_name.sql, default "
	    "$COFFER_MIGRATIONS_DIR\n"
	    "or ./migrations) as the schema owner.  The database comes from "
	    "the\n"
	    "`pg_conninfo = ...` line of FILE, else from the PG* environment.\n");
}

int
ctl_cmd_migrate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir",     required_argument, NULL, 'd' },
		{ "config",  required_argument, NULL, 'c' },
		{ "verbose", no_argument,       NULL, 'v' },
		{ "help",    no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = getenv("COFFER_MIGRATIONS_DIR");
	const char *config = NULL;
	char err[1024];
	PGconn *c;
	int ch, verbose = 0, applied = 0, rc;

	if (dir == NULL || dir[0] == '\0')
		dir = "migrations";
	optind = 0;   /* glibc: full re-initialisation, argv[0] is the verb */
	while ((ch = getopt_long(argc, argv, "d:c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			migrate_usage(stdout);
			return CTL_EXIT_OK;
		default:
			migrate_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "cofferctl migrate: unexpected argument '%s'\n",
		    argv[optind]);
		migrate_usage(stderr);
		return CTL_EXIT_USAGE;
	}

	c = ctl_connect(config);
	if (c == NULL)
		return CTL_EXIT_FAIL;
	rc = migrate_apply(c, dir, verbose, &applied, err, sizeof(err));
	pg_close(&c);
	if (rc != 0) {
		fprintf(stderr, "cofferctl migrate: %s\n", err);
		if (applied > 0)
			fprintf(stderr, "cofferctl migrate: %d migration%s applied "
			    "before the failure stay applied\n", applied,
			    applied == 1 ? "" : "s");
		return CTL_EXIT_FAIL;
	}
	if (applied == 0)
		printf("schema up to date\n");
	else
		printf("applied %d migration%s\n", applied, applied == 1 ? "" : "s");
	return CTL_EXIT_OK;
}
