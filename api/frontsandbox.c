/* api/frontsandbox.c — see frontsandbox.h.  Builds the front's Landlock
 * list from its configuration and hands it, then the seccomp role, to
 * common/sandbox.c.  Trusts the configuration (the operator).
 */
#include "api/frontsandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/sandbox.h"

/* Add path (a copy, kept in store) to the Landlock list when it exists. */
static void
fs_add(sandbox_path *p, size_t *n, size_t cap, char store[][PATH_MAX],
    const char *path, unsigned access)
{
	if (path == NULL || path[0] == '\0' || *n == cap ||
	    access == 0 || faccessat(AT_FDCWD, path, F_OK, 0) != 0)
		return;
	snprintf(store[*n], PATH_MAX, "%s", path);
	p[*n].path = store[*n];
	p[*n].access = access;
	(*n)++;
}

#define FS_MAX 24

int
api_front_sandbox(const api_config *cfg, pid_t keeper, char *mode,
    size_t mode_len, int *abi, char *err, size_t err_len)
{
	static char store[FS_MAX][PATH_MAX];
	static const char *const pqkeys[] = {
		"passfile", "sslcert", "sslkey", "sslrootcert", "sslcrl",
		"sslcrldir",
	};
	sandbox_path paths[FS_MAX];
	char tmp[PATH_MAX];
	PQconninfoOption *opts, *o;
	const char *home = getenv("HOME"), *env;
	const char *const secrets[] = {
		cfg->keys_dir, cfg->signing_key_file, cfg->blind_dir,
	};
	size_t n = 0, i;
	int fd;

	*abi = 0;
	snprintf(mode, mode_len, "none");
	snprintf(tmp, sizeof(tmp), "%s", cfg->people_ca);
	fs_add(paths, &n, FS_MAX, store, dirname(tmp), SANDBOX_READ);
	snprintf(tmp, sizeof(tmp), "%s", cfg->people_crl);
	fs_add(paths, &n, FS_MAX, store, dirname(tmp), SANDBOX_READ);
	fs_add(paths, &n, FS_MAX, store, cfg->productions_dir,
	    SANDBOX_READ);
	if (cfg->audit_witness_file[0] != '\0') {
		/* Landlock allows writing a file that exists; made now if not */
		fd = open(cfg->audit_witness_file, O_WRONLY | O_APPEND | O_CREAT |
		    O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0) {
			snprintf(err, err_len, "audit_witness_file %.200s: %s",
			    cfg->audit_witness_file, strerror(errno));
			return -1;
		}
		close(fd);
		fs_add(paths, &n, FS_MAX, store, cfg->audit_witness_file,
		    SANDBOX_WRITE);
	}
	if ((opts = PQconninfoParse(cfg->pg_conninfo, NULL)) != NULL) {
		for (o = opts; o->keyword != NULL; o++)
			for (i = 0; i < sizeof(pqkeys) / sizeof(pqkeys[0]); i++)
				if (strcmp(o->keyword, pqkeys[i]) == 0)
					fs_add(paths, &n, FS_MAX, store, o->val,
					    SANDBOX_READ);
		PQconninfoFree(opts);
	}
	if ((env = getenv("PGPASSFILE")) != NULL)
		fs_add(paths, &n, FS_MAX, store, env, SANDBOX_READ);
	if ((env = getenv("PGSERVICEFILE")) != NULL)
		fs_add(paths, &n, FS_MAX, store, env, SANDBOX_READ);
	if ((env = getenv("PGSYSCONFDIR")) != NULL)
		fs_add(paths, &n, FS_MAX, store, env, SANDBOX_READ);
	if (home != NULL && home[0] == '/') {
		snprintf(tmp, sizeof(tmp), "%s/.pgpass", home);
		fs_add(paths, &n, FS_MAX, store, tmp, SANDBOX_READ);
		snprintf(tmp, sizeof(tmp), "%s/.pg_service.conf", home);
		fs_add(paths, &n, FS_MAX, store, tmp, SANDBOX_READ);
		snprintf(tmp, sizeof(tmp), "%s/.postgresql", home);
		fs_add(paths, &n, FS_MAX, store, tmp, SANDBOX_READ);
	}
	return sandbox_apply(SANDBOX_API_FRONT, paths, n, secrets,
	    sizeof(secrets) / sizeof(secrets[0]), cfg->landlock_required, keeper,
	    "keys_dir, signing_key_file, blind_dir", mode, mode_len, abi, err,
	    err_len);
}

