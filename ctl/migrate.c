/* ctl/migrate.c — `cofferctl migrate`.
 *
 * Migrations run as the schema owner; application roles cannot run them.
 * The database is found as for every verb (ctl/common.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/migrate.h"
#include "common/pg.h"
#include "ctl/ctl.h"

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
