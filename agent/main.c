/* agent/main.c — coffer-agent: command line, start-up, signals.
 *
 *   coffer-agent run --config FILE      the daemon (foreground; systemd)
 *   coffer-agent status --config FILE [--json]
 *   coffer-agent receipts --config FILE
 *   coffer-agent check-config --config FILE
 *   coffer-agent --help | --version
 *
 * Order: harden the process (no core dumps, not ptrace-able) before the
 * client key is read; load and check the configuration; then the loop
 * (agent/daemon.h) until SIGTERM or SIGINT.  `status` only reads the
 * state directory and works while the daemon runs.
 *
 * Trusts: the configuration file's author.  Logs paths, counts and
 * statuses; never record content, ids or keys.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent/client.h"
#include "agent/config.h"
#include "agent/daemon.h"
#include "agent/enroll.h"
#include "agent/outbox.h"
#include "agent/spool.h"
#include "agent/status.h"
#include "common/log.h"
#include "common/names.h"
#include "common/version.h"
#include "vault/mem.h"

static volatile sig_atomic_t agent_stop;

static void
on_signal(int sig)
{
	(void)sig;
	agent_stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: coffer-agent run --config FILE\n"
	    "       coffer-agent status --config FILE [--json]\n"
	    "       coffer-agent receipts --config FILE\n"
	    "       coffer-agent check-config --config FILE\n"
	    "       coffer-agent enroll --config FILE --url URL --device ID "
	    "[--ca FILE]\n"
	    "       coffer-agent --help | --version\n"
	    "\n"
	    "Delivers NDJSON records from spool_dir to the Coffer gateway over\n"
	    "mutual TLS, through a durable outbox in state_dir.\n"
	    "\n"
	    "  run           the daemon, in the foreground; SIGTERM or SIGINT\n"
	    "                stop it (pending records stay in the outbox)\n"
	    "  status        pending, delivered, rejected, last receipt time,\n"
	    "                last error and capture_seq high-water, read from\n"
	    "                state_dir (works while the daemon runs); --json for\n"
	    "                one JSON object\n"
	    "  receipts      every receipt kept (the device's proof of what the\n"
	    "                archive stored), one JSON object a line\n"
	    "  check-config  load the configuration and the TLS files (the key's\n"
	    "                owner and mode checked) and exit 0 when all is good\n"
	    "  enroll        make this device's key pair, send a CSR with the\n"
	    "                one-time code read from standard input to URL\n"
	    "                (https://HOST:PORT/.well-known/est/TENANT) and\n"
	    "                write key_file and cert_file; the key never leaves\n"
	    "                the device; --ca: the enrollment server's CA\n"
	    "                (default server_ca_file)\n"
	    "\n"
	    "Spool writers write NAME.tmp, then rename it to NAME.ndjson.\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "device", required_argument, NULL, 'd' },
		{ "ca", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *cmd = NULL, *url = NULL, *device = NULL;
	const char *ca = NULL;
	agent_config cfg;
	struct sigaction sa;
	char err[1024];
	int ch, json = 0, rc;

	/* first: no core dumps, no ptrace, before the key is read */
	if (vault_harden_process(err, sizeof(err)) != 0) {
		fprintf(stderr, "coffer-agent: %s\n", err);
		return 1;
	}
	log_init("coffer-agent");
	if (argc >= 2 && argv[1][0] != '-') {
		cmd = argv[1];
		argv++;
		argc--;
	}
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'u': url = optarg; break;
		case 'd': device = optarg; break;
		case 'a': ca = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': coffer_version_print(stdout); return 0;
		default:  usage(stderr); return 2;
		}
	}
	if (cmd == NULL || config == NULL || optind != argc ||
	    (strcmp(cmd, "run") != 0 && strcmp(cmd, "status") != 0 &&
	    strcmp(cmd, "check-config") != 0 && strcmp(cmd, "receipts") != 0 &&
	    strcmp(cmd, "enroll") != 0) ||
	    (json && strcmp(cmd, "status") != 0) ||
	    ((url != NULL || device != NULL || ca != NULL) !=
	    (strcmp(cmd, "enroll") == 0 && url != NULL && device != NULL)) ||
	    (strcmp(cmd, "enroll") == 0 && (url == NULL || device == NULL))) {
		usage(stderr);
		return 2;
	}
	if (vault_init() != 0)
		log_fatal("libsodium initialisation failed");
	spool_json_init();
	agent_config_defaults(&cfg);
	if (agent_config_load(&cfg, config, err, sizeof(err)) != 0) {
		fprintf(stderr, "coffer-agent: %s\n", err);
		return 1;
	}
	if (strcmp(cmd, "check-config") == 0) {
		/* the TLS files too: key checked and loaded, CA and cert present */
		agent_client *cl = NULL;

		if (access(cfg.server_ca_file, R_OK) != 0 ||
		    access(cfg.cert_file, R_OK) != 0) {
			fprintf(stderr, "coffer-agent: %s: %s\n",
			    access(cfg.server_ca_file, R_OK) != 0 ?
			    cfg.server_ca_file : cfg.cert_file, strerror(errno));
			return 1;
		}
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
		    client_new(&cl, &cfg, &agent_stop, err, sizeof(err)) != 0) {
			fprintf(stderr, "coffer-agent: %s\n", err);
			return 1;
		}
		client_free(&cl);
		curl_global_cleanup();
		printf("coffer-agent: configuration OK (%s)\n", config);
		return 0;
	}
	if (strcmp(cmd, "enroll") == 0) {
		if (names_check("device id", device, err, sizeof(err)) != 0) {
			fprintf(stderr, "coffer-agent: %s\n", err);
			return 2;
		}
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
		    agent_enroll(&cfg, url, device, ca, stdin, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "coffer-agent: %s\n", err);
			curl_global_cleanup();
			return 1;
		}
		curl_global_cleanup();
		printf("coffer-agent: enrolled as %s: wrote %s (0600) and %s\n",
		    device, cfg.key_file, cfg.cert_file);
		return 0;
	}
	if (strcmp(cmd, "receipts") == 0) {
		if (obx_receipts_dump(cfg.state_dir, stdout, err, sizeof(err)) != 0 ||
		    fflush(stdout) != 0) {
			fprintf(stderr, "coffer-agent: %s\n", err);
			return 1;
		}
		return 0;
	}
	if (strcmp(cmd, "status") == 0) {
		if (status_print(cfg.state_dir, spool_rejected_count(&cfg), json, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "coffer-agent: %s\n", err);
			return 1;
		}
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;      /* no SA_RESTART: cut sleeps short */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		log_fatal("installing signal handlers failed");
	(void)signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		log_fatal("libcurl initialisation failed");
	rc = agent_run(&cfg, &agent_stop);
	curl_global_cleanup();
	return rc;
}
