/* tests/tools/sandboxprobe.c — what a network-facing process of Coffer
 * can still do, asked from inside the very sandbox the daemon installs.
 *
 *   sandboxprobe api|gateway CONFIG FILE...
 *
 * Loads the daemon's configuration with its own loader, forks, and in the
 * child calls the daemon's own sandbox function (api_front_sandbox or
 * gw_net_sandbox, with the child's parent standing in for the keeper),
 * then opens each FILE for reading and prints one line per file:
 *
 *   sandbox: MODE landlock_abi=N
 *   open FILE: ok | EACCES | ENOENT ...
 *
 * and finally tries execve(2), which both filters refuse; the parent
 * prints how the child ended, "forbidden call: killed by SIGSYS" when the
 * seccomp filter killed it.  Exit 0 when the child got that far, 1
 * otherwise.  A test tool: never installed, no hook in the daemons.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/config.h"
#include "api/frontsandbox.h"
#include "common/log.h"
#include "gateway/config.h"
#include "gateway/netsandbox.h"

static int
probe(int argc, char **argv)
{
	static api_config acfg;
	static gw_config gcfg;
	char err[1024], mode[32];
	int abi = 0, i, fd, rc;
	char *const av[] = { (char *)"/bin/true", NULL };

	if (strcmp(argv[1], "api") == 0) {
		api_config_defaults(&acfg);
		if (api_config_load(&acfg, argv[2], err, sizeof(err)) != 0) {
			fprintf(stderr, "sandboxprobe: %s\n", err);
			return 2;
		}
		rc = api_front_sandbox(&acfg, getppid(), mode, sizeof(mode), &abi,
		    err, sizeof(err));
	} else {
		gw_config_defaults(&gcfg);
		if (gw_config_load(&gcfg, argv[2], err, sizeof(err)) != 0) {
			fprintf(stderr, "sandboxprobe: %s\n", err);
			return 2;
		}
		rc = gw_net_sandbox(&gcfg, mode, sizeof(mode), &abi, err,
		    sizeof(err));
	}
	if (rc != 0) {
		fprintf(stderr, "sandboxprobe: sandbox: %s\n", err);
		return 2;
	}
	printf("sandbox: %s landlock_abi=%d\n", mode, abi);
	for (i = 3; i < argc; i++) {
		fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		printf("open %s: %s\n", argv[i], fd >= 0 ? "ok" :
		    strerrorname_np(errno));
		if (fd >= 0)
			close(fd);
	}
	fflush(stdout);
	execve(av[0], av, NULL);
	printf("forbidden call: execve returned (%s)\n", strerrorname_np(errno));
	fflush(stdout);
	return 3;
}

int
main(int argc, char **argv)
{
	pid_t pid;
	int st;

	if (argc < 3 || (strcmp(argv[1], "api") != 0 &&
	    strcmp(argv[1], "gateway") != 0)) {
		fprintf(stderr, "usage: sandboxprobe api|gateway CONFIG FILE...\n");
		return 2;
	}
	log_init("sandboxprobe");
	fflush(stdout);
	if ((pid = fork()) < 0)
		return 1;
	if (pid == 0)
		_exit(probe(argc, argv));
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	if (WIFSIGNALED(st)) {
		const char *name = sigabbrev_np(WTERMSIG(st));

		printf("forbidden call: killed by SIG%s\n",
		    name != NULL ? name : "?");
		return WTERMSIG(st) == SIGSYS ? 0 : 1;
		return 1;
	}
	printf("forbidden call: child exited %d\n", WEXITSTATUS(st));
	return 1;
}
