/* gateway/main.c — coffer-gateway: start-up, privileges, shutdown.
 *
 *   coffer-gateway --config FILE [--check-config] [--pidfile FILE]
 *
 * Order: harden the process (no core dumps, not ptrace-able) before any
 * secret exists; block the signals the loop reads from a signalfd before
 * any thread exists; load and check the configuration; fork the sealer
 * (gateway/sealer.h), which alone loads the keys, connects to the
 * database and runs the pipeline, and wait until it runs; forget the
 * database's conninfo; load the TLS identity and device CAs; bind; write
 * the pid file; drop to `user` when started as root (and verify it cannot
 * be undone); restrict the file system to the device CAs (Landlock, when
 * the kernel has it) and install the seccomp filter
 * (gateway/netsandbox.h);
 * then run the
 * loop until SIGTERM/SIGINT.  With `privsep = off` the pipeline runs in
 * this process instead and there is no filter (for measurement only).
 * --check-config stops after loading the configuration and the TLS files.
 *
 * Trusts: the configuration file's author (the operator).  Logs one start
 * line with addresses, node and limits; never keys or conninfo.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/log.h"
#include "common/priv.h"
#include "common/version.h"
#include "gateway/config.h"
#include "gateway/http.h"
#include "gateway/metrics.h"
#include "gateway/net.h"
#include "gateway/netsandbox.h"
#include "gateway/sealerlink.h"
#include "gateway/tls.h"
#include "vault/mem.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: coffer-gateway --config FILE [--check-config] "
	    "[--pidfile FILE]\n"
	    "       coffer-gateway --help | --version\n");
}

static void
raise_nofile(const gw_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
		log_warn("RLIMIT_NOFILE is %llu, below max_connections + 256 "
		    "(%llu); raise it (LimitNOFILE=) or lower max_connections",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

static int
write_pidfile(const char *path, char *err, size_t err_len)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0) {
		snprintf(err, err_len, "pid file %s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		snprintf(err, err_len, "pid file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *pidfile = NULL;
	int check = 0, ch, rc;
	char err[1024];
	gw_config cfg;
	priv_target pt, *pw = NULL;
	sigset_t sigs;
	metrics *m = NULL;
	sealer_link *ig = NULL;
	char sbmode[32] = "none";
	int ll = 0;
	tls_server *tls = NULL;
	net *n = NULL;

	/* first: no core dumps, no ptrace, before any secret is loaded */
	if (vault_harden_process(err, sizeof(err)) != 0) {
		fprintf(stderr, "coffer-gateway: %s\n", err);
		return 1;
	}
	log_init("coffer-gateway");
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'C': check = 1; break;
		case 'p': pidfile = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': coffer_version_print(stdout); return 0;
		default:  usage(stderr); return 2;
		}
	}
	if (config == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (vault_init() != 0)
		log_fatal("libsodium initialisation failed");
	(void)signal(SIGPIPE, SIG_IGN);
	/* the loop reads these from a signalfd: block them in every thread,
	 * which must happen before the pipeline starts any */
	net_signal_set(&sigs);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
		log_fatal("blocking signals failed");

	gw_config_defaults(&cfg);
	if (gw_config_load(&cfg, config, err, sizeof(err)) != 0)
		log_fatal("%s", err);
	if (geteuid() == 0) {
		if (cfg.user[0] == '\0')
			log_fatal("%s: started as root: set 'user' to the unprivileged "
			    "account to run as", config);
		if (priv_lookup(cfg.user, &pt, err, sizeof(err)) != 0)
			log_fatal("%s: %s", config, err);
		pw = &pt;
	}
	if (OPENSSL_init_ssl(0, NULL) != 1)
		log_fatal("OpenSSL initialisation failed");
	if (metrics_new(&m) != 0)
		log_fatal("out of memory");
	http_global_init(cfg.max_header_bytes);

	if (check) {
		if (tls_server_new(&tls, &cfg, NULL, m, err, sizeof(err)) != 0)
			log_fatal("%s", err);
		printf("coffer-gateway: configuration OK (%s; %zu tenant device "
		    "CA(s))\n", config, tls_server_tenant_count(tls));
		tls_server_free(&tls);
		metrics_free(&m);
		return 0;
	}

	raise_nofile(&cfg);
	if (cfg.privsep) {
		if (sl_spawn(&ig, &cfg, pw, pidfile, err, sizeof(err)) != 0)
			log_fatal("%s", err);
	} else {
		log_warn("privsep = off: the keys share this process with the "
		    "network parsers (for measurement only)");
		if (sl_local(&ig, &cfg, err, sizeof(err)) != 0)
			log_fatal("ingest: %s", err);
	}
	/* the network process never holds the database's credentials */
	vault_wipe(cfg.pg_conninfo, sizeof(cfg.pg_conninfo));
	if (tls_server_new(&tls, &cfg, ig, m, err, sizeof(err)) != 0)
		log_fatal("%s", err);
	if (net_new(&n, &cfg, tls, ig, m, err, sizeof(err)) != 0)
		log_fatal("%s", err);
	if (pidfile != NULL && write_pidfile(pidfile, err, sizeof(err)) != 0)
		log_fatal("%s", err);
	if (pw != NULL && priv_drop(pw, err, sizeof(err)) != 0)
		log_fatal("%s", err);
	if (cfg.privsep && gw_net_sandbox(&cfg, sbmode, sizeof(sbmode), &ll,
	    err, sizeof(err)) != 0)
		log_fatal("sandbox: %s", err);

	log_info("started: listen=%s metrics=%s node=%s user=%s tenants=%zu "
	    "max_connections=%u max_connections_per_address=%u "
	    "max_header_bytes=%zu max_body_bytes=%zu "
	    "max_line_bytes=%zu max_records_per_request=%u "
	    "timeouts(header/body/idle)=%u/%u/%us device_rate=%.2f/s "
	    "device_burst=%u workers=%u crl_required=%d privsep=%s "
	    "sealer_pid=%ld sandbox=%s landlock_abi=%d",
	    net_listen_addr(n), net_metrics_addr(n), cfg.node_name,
	    pw != NULL ? pw->name : "(unchanged)",
	    tls_server_tenant_count(tls), cfg.max_connections,
	    cfg.max_connections_per_address,
	    cfg.max_header_bytes, cfg.max_body_bytes, cfg.max_line_bytes,
	    cfg.max_records_per_request, cfg.header_timeout_s,
	    cfg.body_timeout_s, cfg.idle_timeout_s, cfg.device_rate,
	    cfg.device_burst, cfg.workers, cfg.crl_required,
	    cfg.privsep ? "on" : "off", (long)sl_pid(ig),
	    sbmode, ll);

	rc = net_run(n);
	/* the pipeline first: its last completions land in the net's queue */
	sl_free(&ig);
	net_free(&n);
	tls_server_free(&tls);
	metrics_free(&m);
	if (pidfile != NULL && !cfg.privsep)
		(void)unlink(pidfile);      /* may fail after the drop: harmless;
		                             * with privsep the sealer does it */
	log_info("exit");
	return rc == 0 ? 0 : 1;
}
