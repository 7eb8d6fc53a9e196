/* ctl/migrate.c — `cofferctl migrate`.
 *
 * Migrations run as the schema owner; application roles cannot run them.
 * The database is found as for every verb (ctl/common.c).  The migrations
 * directory: --dir, else $COFFER_MIGRATIONS_DIR, else ./migrations when it
 * exists (the source tree), else the installed copy: BINDIR/../share/
 * coffer/migrations next to this executable (`make install` puts it
 * there for any PREFIX, and a staged or moved install keeps working).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/migrate.h"
#include "common/pg.h"
#include "ctl/ctl.h"

static void
migrate_usage(FILE *f)
{
	fprintf(f,
	    "usage: cofferctl migrate [--dir DIR] [--config FILE] [--verbose]\n"
	    "\n"
	    "Apply the pending migrations (DIR/NNNN_name.sql) as the schema "
	    "owner.  DIR defaults\n"
	    "to $COFFER_MIGRATIONS_DIR, else ./migrations, else the installed "
	    "copy next to\n"
	    "this program (BINDIR/../share/coffer/migrations).  The database "
	    "comes from the\n"
	    "`pg_conninfo = ...` line of FILE, else from the PG* environment.\n");
}

static int
migrate_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The default directory (see the top of this file) into buf. */
static const char *
migrate_default_dir(char *buf, size_t cap)
{
	const char *env = getenv("COFFER_MIGRATIONS_DIR");
	char exe[4096], *slash;
	ssize_t n;

	if (env != NULL && env[0] != '\0')
		return env;
	if (migrate_is_dir("migrations"))
		return "migrations";
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(buf, cap, "%s/../share/coffer/"
			    "migrations", exe) < cap && migrate_is_dir(buf))
				return buf;
		}
	}
	return "migrations";     /* the error then names ./migrations */
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
	const char *dir = NULL;
	const char *config = NULL;
	char err[1024], defdir[4200];
	PGconn *c;
	int ch, verbose = 0, applied = 0, rc;

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

	if (dir == NULL)
		dir = migrate_default_dir(defdir, sizeof(defdir));
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
