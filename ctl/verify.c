/* ctl/verify.c — `cofferctl verify`: run the verifier (common/verify.h)
 * and report.
 *
 * Needs no key but the nodes' public ones, which are in the database: run
 * it as a role that can read everything and change nothing (coffer_verify).
 * The database's copy of a key proves nothing by itself (issue 12): with
 * --nodes FILE every registered node key must equal its pin, and with
 * --keys-dir DIR every tenant key row must equal DIR/<tenant>.pin, before
 * any signature is checked with them.
 * Witness files are the gateways' checkpoint copies and the audit writers'
 * signed heads (common/audit.h), kept outside the database; without them,
 * removing a stream's newest batches together with their checkpoints and
 * records, or a tenant's newest audit events, cannot be told from a
 * shorter archive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/pins.h"
#include "common/util.h"
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
	    "                        [--keys-dir DIR] [--nodes FILE]\n"
	    "  --keys-dir: tenant keys checked against DIR/<tenant>.pin (default\n"
	    "  $COFFER_KEYS_DIR); --nodes: node keys against the node pins file\n"
	    "  (default $COFFER_NODE_PINS); --witness: gateway checkpoint and\n"
	    "  audit head lines (audit_witness_file, $COFFER_AUDIT_WITNESS)\n"
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

/* Issue 12: the keys the database lists, checked against their pins
 * before anything is verified with them.  Every tenant's key row (or the
 * one of --tenant) against keys_dir/<tenant>.pin; every registered node's
 * signing key against the node pins file.  0 clean, 1 mismatch (printed
 * as TAMPERED), 2 could not run. */
static int
ctl_verify_pins(PGconn *c, const char *keys_dir, const char *nodes_path,
    const char *tenant)
{
	pins_nodes *pins = NULL;
	PGresult *res = NULL;
	char err[1024];
	int i, rc = 2;

	if (keys_dir != NULL) {
		pg_params p = PG_PARAMS_INIT;

		pg_param_text(&p, tenant);
		p.result_binary = 1;
		res = pg_query(c, "SELECT tenant_id FROM coffer.tenants WHERE $1::text "
		    "IS NULL OR name = $1 OR tenant_id::text = $1 ORDER BY name", &p,
		    err, sizeof(err));
		if (res == NULL) {
			fprintf(stderr, "cofferctl verify: could not run: %s\n", err);
			return 2;
		}
		for (i = 0; i < PQntuples(res); i++) {
			if (PQgetlength(res, i, 0) != 16)
				continue;
			if (pins_tenant_check_db(c, keys_dir, (const unsigned char *)
			    PQgetvalue(res, i, 0), err, sizeof(err)) != 0) {
				printf("verify: TAMPERED: %s\n", err);
				rc = 1;
				goto out;
			}
		}
		PQclear(res);
		res = NULL;
	}
	if (nodes_path == NULL) {
		fprintf(stderr, "cofferctl verify: warning: node keys are not pinned "
		    "(--nodes FILE or $COFFER_NODE_PINS): signatures are checked "
		    "against the database's own copy of the keys only\n");
		rc = 0;
		goto out;
	}
	if (pins_nodes_load(nodes_path, &pins, err, sizeof(err)) != 0) {
		fprintf(stderr, "cofferctl verify: could not run: %s\n", err);
		goto out;
	}
	res = pg_query(c, "SELECT name, encode(signing_public_key, 'hex') "
	    "FROM coffer.nodes ORDER BY name", NULL, err, sizeof(err));
	if (res == NULL) {
		fprintf(stderr, "cofferctl verify: could not run: %s\n", err);
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		const unsigned char *pin = pins_nodes_find(pins, name);
		unsigned char pk[32];
		char shown[80];

		log_printable(shown, sizeof(shown), name, strlen(name));
		if (pin == NULL) {
			printf("verify: TAMPERED: node %s is not pinned in %s (a node "
			    "the database lists, not one that was made with "
			    "node init --pins)\n", shown, nodes_path);
			rc = 1;
			goto out;
		}
		if (util_unhex(pk, sizeof(pk), PQgetvalue(res, i, 1),
		    (size_t)PQgetlength(res, i, 1)) != 0 ||
		    memcmp(pk, pin, sizeof(pk)) != 0) {
			printf("verify: TAMPERED: node %s: the database's signing key "
			    "differs from its pin in %s\n", shown, nodes_path);
			rc = 1;
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(res);
	pins_nodes_free(&pins);
	return rc;
}

int
ctl_cmd_verify(int argc, char **argv)
{
	const char *witness[CTL_VERIFY_WITNESS_MAX], *config = NULL;
	const char *keys_dir = getenv("COFFER_KEYS_DIR");
	const char *nodes = getenv("COFFER_NODE_PINS");
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
			uint64_t n;

			if (ctl_parse_u64(val, 1, INT64_MAX, &n) != 0) {
				fprintf(stderr, "cofferctl verify: --since takes a batch "
				    "number >= 1\n");
				return 2;
			}
			o.since_batch = n;
		} else if (strcmp(opt, "--config") == 0) {
			config = val;
		} else if (strcmp(opt, "--keys-dir") == 0) {
			keys_dir = val;
		} else if (strcmp(opt, "--nodes") == 0) {
			nodes = val;
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
	if (keys_dir != NULL && keys_dir[0] == '\0')
		keys_dir = NULL;
	if (nodes != NULL && nodes[0] == '\0')
		nodes = NULL;
	{
		int prc = ctl_verify_pins(c, keys_dir, nodes, o.tenant);

		if (prc != 0) {
			pg_close(&c);
			return prc;
		}
	}
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
		if (r.dropped_batches > 0)
			printf("verify: %llu batches were disposed of with their "
			    "partitions: their roots are chained and signed, their "
			    "partition tombstones match signed purge events\n",
			    (unsigned long long)r.dropped_batches);
		if (r.audit_redacted > 0)
			printf("verify: note: %llu audit events lost their unblinded "
			    "partials to migration 0004; their hashes are taken as "
			    "stored\n", (unsigned long long)r.audit_redacted);
		if (!o.skip_audit)
			printf("verify: audit: %llu events signed by their writer, "
			    "%llu unsigned from before migration 0008 (legacy); "
			    "%llu witnessed audit heads\n",
			    (unsigned long long)r.audit_signed,
			    (unsigned long long)r.audit_legacy,
			    (unsigned long long)r.audit_witness_lines);
		if (!o.skip_audit && r.audit_witness_lines == 0)
			printf("verify: note: no audit witness (--witness FILE with "
			    "the writers' audit heads): removing the newest audit "
			    "events cannot be detected\n");
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
