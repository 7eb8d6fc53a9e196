/* ctl/verify.c — `cofferctl verify`: run the verifier (common/verify.h)
 * and report.
 *
 * Needs no key but the nodes' public ones, which are in the database: run
 * it as a role that can read everything and change nothing (coffer_verify).
 * Witness files are the gateways' checkpoint copies kept outside the
 * database; without them, removing a stream's newest batches together with
 * their checkpoints and records cannot be told from a shorter archive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "common/verify.h"
#include "ctl/archive.h"
#include "ctl/ctl.h"

#define CTL_VERIFY_WITNESS_MAX 64

static void
ctl_verify_usage(FILE *f)
{
	fprintf(f,
	    "usage: cofferctl verify [--tenant NAME|UUID] [--stream UUID]\n"
	    "                        [--witness FILE]... [--since BATCH]\n"
	    "                        [--no-audit] [--quiet] [--config FILE]\n"
	    "exit status: 0 clean, 1 tampered (first inconsistency printed),\n"
	    "             2 could not run\n");
}

static void
ctl_verify_progress(void *arg, const verify_progress *p)
{
	(void)arg;
	fprintf(stderr, "verify: %llu records checked, %.0f records/s\n",
	    (unsigned long long)p->records,
	    p->elapsed_s > 0 ? (double)p->records / p->elapsed_s : 0.0);
}

int
ctl_cmd_verify(int argc, char **argv)
{
	const char *witness[CTL_VERIFY_WITNESS_MAX], *config = NULL;
	verify_opts o;
	verify_report r;
	PGconn *c;
	size_t nwit = 0;
	int a, quiet = 0;

	memset(&o, 0, sizeof(o));
	for (a = 1; a < argc; a++) {
		const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			ctl_verify_usage(stdout);
			return CTL_EXIT_OK;
		}
		if (strcmp(opt, "--quiet") == 0) {
			quiet = 1;
			continue;
		}
		if (strcmp(opt, "--no-audit") == 0) {
			o.skip_audit = 1;
			continue;
		}
		if (val == NULL) {
			fprintf(stderr, "cofferctl verify: %s needs a value\n", opt);
			ctl_verify_usage(stderr);
			return 2;
		}
		if (strcmp(opt, "--tenant") == 0) {
			o.tenant = val;
		} else if (strcmp(opt, "--stream") == 0) {
			o.stream = val;
		} else if (strcmp(opt, "--witness") == 0) {
			if (nwit == CTL_VERIFY_WITNESS_MAX) {
				fprintf(stderr, "cofferctl verify: at most %d witness "
				    "files\n", CTL_VERIFY_WITNESS_MAX);
				return 2;
			}
			witness[nwit++] = val;
		} else if (strcmp(opt, "--since") == 0) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(val, &end, 10);
			if (errno != 0 || end == val || *end != '\0' || val[0] == '-' ||
			    n == 0 || n > (unsigned long long)INT64_MAX) {
				fprintf(stderr, "cofferctl verify: --since takes a batch "
				    "number >= 1\n");
				return 2;
			}
			o.since_batch = (uint64_t)n;
		} else if (strcmp(opt, "--config") == 0) {
			config = val;
		} else {
			fprintf(stderr, "cofferctl verify: unknown option %.64s\n", opt);
			ctl_verify_usage(stderr);
			return 2;
		}
		a++;
	}
	o.witness = witness;
	o.witness_count = nwit;
	if (!quiet) {
		o.progress = ctl_verify_progress;
		o.progress_every_s = 1.0;
	}

	c = ctl_connect(config);
	if (c == NULL)
		return 2;
	(void)verify_run(c, &o, &r);
	pg_close(&c);

	switch (r.status) {
	case VERIFY_OK:
		printf("verify: OK: %llu tenants, %llu streams, %llu records, "
		    "%llu tombstones, %llu batches, %llu checkpoints, %llu audit "
		    "events, %llu witness lines; %.2f s, %.0f records/s\n",
		    (unsigned long long)r.tenants, (unsigned long long)r.streams,
		    (unsigned long long)r.records, (unsigned long long)r.tombstones,
		    (unsigned long long)r.batches, (unsigned long long)r.checkpoints,
		    (unsigned long long)r.audit_events,
		    (unsigned long long)r.witness_lines, r.seconds,
		    r.seconds > 0 ? (double)r.records / r.seconds : 0.0);
		return 0;
	case VERIFY_TAMPERED:
		printf("verify: TAMPERED: %s\n", r.message);
		printf("verify: stopped at the first inconsistency after %llu "
		    "records, %llu batches; %.2f s\n",
		    (unsigned long long)r.records, (unsigned long long)r.batches,
		    r.seconds);
		return 1;
	default:
		fprintf(stderr, "cofferctl verify: could not run: %s\n", r.message);
		return 2;
	}
}
