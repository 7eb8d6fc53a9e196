/* api/main.c — coffer-api: the only way content leaves Coffer.
 *
 *   coffer-api --config FILE [--check-config] [--pidfile FILE]
 *
 * Start-up order matters: harden the process (no core dumps, no ptrace)
 * before any secret is read; install jansson's wiping allocator before any
 * thread exists; block the signals every thread inherits, then read the
 * configuration, fork the keeper (api/keeper.h: it reads every key, seed
 * and signing key, and runs the builds; this process reads none), read the
 * trust, bind, drop privileges (when `user` is set and we run as root;
 * the keeper drops to the same account), restrict what the front may
 * still reach (Landlock: the people CA and CRL, productions_dir, the
 * audit witness file, libpq's files; seccomp: its allow-list;
 * common/sandbox.h), and serve until SIGTERM/SIGINT.
 * SIGHUP re-reads the people CA and CRL.  --check-config loads everything
 * a start would (configuration, keys, certificate, TLS key, people CA and
 * CRL) in one process and exits without binding or touching the
 * database.
 *
 * Exit status: 0 clean stop or configuration OK, 1 start-up failure,
 * 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/config.h"
#include "api/frontsandbox.h"
#include "api/keeper.h"
#include "api/keeperlink.h"
#include "api/production.h"
#include "api/server.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/version.h"
#include "vault/mem.h"

#define MAIN_ERR 1024U

static const char main_usage[] =
    "usage: coffer-api --config FILE [--check-config] [--pidfile FILE]\n"
    "       coffer-api --help | --version\n";

/* Root with `user` set: both processes drop to it for good (common/priv.c,
 * the same strict drop as the gateway's).  Root without `user` keeps
 * running as root.  *pw NULL: no drop. */
static int
main_drop_target(const char *user, priv_target *t, const priv_target **pw,
    char *err, size_t err_len)
{
	*pw = NULL;
	if (user[0] == '\0' || geteuid() != 0)
		return 0;
	if (priv_lookup(user, t, err, err_len) != 0)
		return -1;
	*pw = t;
	return 0;
}

static int
main_pidfile(const char *path, char *err, size_t err_len)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0) {
		snprintf(err, err_len, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n || close(fd) != 0) {
		snprintf(err, err_len, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* productions_dir: an existing directory, made absolute (stored paths must
 * not depend on the working directory), not open to others. */
static int
main_productions_dir(api_config *cfg, char *err, size_t err_len)
{
	char abs[PATH_MAX];
	struct stat st;

	if (realpath(cfg->productions_dir, abs) == NULL ||
	    stat(abs, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, err_len, "productions_dir %.200s: not an existing "
		    "directory", cfg->productions_dir);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, err_len, "productions_dir %.200s: writable by others",
		    abs);
		return -1;
	}
	if (strlen(abs) >= sizeof(cfg->productions_dir)) {
		snprintf(err, err_len, "productions_dir: path too long");
		return -1;
	}
	memcpy(cfg->productions_dir, abs, strlen(abs) + 1);
	return 0;
}

/* blind_dir: absolute, and neither productions_dir nor beneath it: the
 * front reads everything beneath productions_dir (downloads), never a
 * seed.  It need not exist yet (the keeper makes it). */
static int
main_blind_dir(api_config *cfg, char *err, size_t err_len)
{
	char abs[PATH_MAX], parent[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX];
	size_t n = strlen(cfg->productions_dir);

	if (realpath(cfg->blind_dir, abs) == NULL) {
		snprintf(tmp, sizeof(tmp), "%s", cfg->blind_dir);
		snprintf(base, sizeof(base), "%s", basename(tmp));
		snprintf(tmp, sizeof(tmp), "%s", cfg->blind_dir);
		if (errno != ENOENT || realpath(dirname(tmp), parent) == NULL ||
		    strcmp(base, "..") == 0 || strcmp(base, ".") == 0 ||
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", parent, base) >=
		    sizeof(abs)) {
			snprintf(err, err_len, "blind_dir %.200s: its parent is not "
			    "an existing directory", cfg->blind_dir);
			return -1;
		}
	}
	if (strncmp(abs, cfg->productions_dir, n) == 0 &&
	    (abs[n] == '\0' || abs[n] == '/')) {
		snprintf(err, err_len, "blind_dir %.200s: inside productions_dir, "
		    "which the front reads: put it beside (default "
		    "<productions_dir>.blind)", abs);
		return -1;
	}
	if (strlen(abs) >= sizeof(cfg->blind_dir)) {
		snprintf(err, err_len, "blind_dir: path too long");
		return -1;
	}
	memcpy(cfg->blind_dir, abs, strlen(abs) + 1);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config",       required_argument, NULL, 'c' },
		{ "check-config", no_argument,       NULL, 'k' },
		{ "pidfile",      required_argument, NULL, 'p' },
		{ "help",         no_argument,       NULL, 'h' },
		{ "version",      no_argument,       NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *pidfile = NULL;
	char err[MAIN_ERR];
	api_config cfg;
	api_server *srv = NULL;
	keeper_link *kl = NULL;
	priv_target target;
	const priv_target *pw;
	sigset_t set;
	char mode[32];
	int c, check = 0, sig, rc = 1, abi = 0;

	log_init("coffer-api");
	if (vault_harden_process(err, sizeof(err)) != 0)
		log_fatal("hardening: %s", err);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'k': check = 1; break;
		case 'p': pidfile = optarg; break;
		case 'h':
			fputs(main_usage, stdout);
			return 0;
		case 'V':
			coffer_version_print(stdout);
			return 0;
		default:
			fputs(main_usage, stderr);
			return 2;
		}
	}
	if (config == NULL || optind != argc) {
		fputs(main_usage, stderr);
		return 2;
	}
	if (vault_init() != 0)
		log_fatal("libsodium initialisation failed");
	/* Before any thread: jansson wipes what it frees from here on. */
	api_production_init();

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		log_fatal("cannot block signals");

	api_config_defaults(&cfg);
	if (api_config_load(&cfg, config, err, sizeof(err)) != 0)
		log_fatal("configuration: %s", err);
	if (main_productions_dir(&cfg, err, sizeof(err)) != 0 ||
	    main_blind_dir(&cfg, err, sizeof(err)) != 0)
		log_fatal("configuration: %s", err);
	if (check) {
		if (keeper_check(&cfg, err, sizeof(err)) != 0 ||
		    api_server_new(&srv, &cfg, NULL, err, sizeof(err)) != 0)
			log_fatal("%s", err);
		api_server_free(&srv);
		printf("coffer-api: configuration %s OK\n", config);
		return 0;
	}
	if (main_drop_target(cfg.user, &target, &pw, err, sizeof(err)) != 0)
		log_fatal("%s", err);
	/* Before any key is read and before any thread exists: the keeper
	 * reads every key, this process none (README "Privilege
	 * separation"). */
	if (kl_spawn(&kl, &cfg, pw, err, sizeof(err)) != 0)
		log_fatal("%s", err);
	log_info("privsep=on keeper_pid=%ld", (long)kl_pid(kl));
	if (api_server_new(&srv, &cfg, kl, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	if (api_server_start(srv, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	/* The pid file before dropping privileges (its directory may be
	 * root's); removing it at the end may then fail, harmlessly. */
	if (pidfile != NULL && main_pidfile(pidfile, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	if (pw != NULL && priv_drop(pw, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	if (api_front_sandbox(&cfg, kl_pid(kl), mode, sizeof(mode), &abi, err,
	    sizeof(err)) != 0) {
		log_error("sandbox: %s", err);
		goto out;
	}
	log_info("ready: front_pid=%ld keeper_pid=%ld sandbox=%s "
	    "landlock_abi=%d", (long)getpid(), (long)kl_pid(kl), mode, abi);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			api_server_reload(srv);
			continue;
		}
		if (sig == SIGINT || sig == SIGTERM)
			break;
	}
	log_info("stopping");
	rc = 0;
out:
	api_server_free(&srv);
	kl_free(&kl);          /* the keeper lets running builds finish */
	if (pidfile != NULL && rc == 0)
		(void)unlink(pidfile);
	return rc;
}
