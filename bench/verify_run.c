/* bench/verify_run.c — the archive verifier (common/verify.h) timed in
 * process, for bench/run.sh while `cofferctl verify` is not wired up: the
 * same verify_run() the verb calls, with the same connection set-up.
 *
 *   build/bench/verify_run [--witness FILE]... [--db CONNINFO]
 *
 * Prints the verifier's one-line outcome and
 *   RESULT name=verify records=N seconds=S records_per_s=R status=clean|...
 * Exit status: 0 clean, 1 tampered, 2 could not run (as cofferctl verify).
 */
#include <stdio.h>
#include <string.h>

#include "bench/lib/bench.h"
#include "common/pg.h"
#include "common/util.h"
#include "common/verify.h"

#define VR_WITNESS_MAX 16

int
main(int argc, char **argv)
{
	const char *witness[VR_WITNESS_MAX], *conninfo = NULL;
	verify_opts o;
	verify_report r;
	PGconn *c;
	size_t nwit = 0;
	char err[256];
	double t0, t1;
	int i;

	memset(&o, 0, sizeof(o));
	for (i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--witness") == 0 &&
		    nwit < VR_WITNESS_MAX) {
			witness[nwit++] = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--db") == 0) {
			conninfo = argv[++i];
		} else {
			fprintf(stderr, "usage: verify_run [--witness FILE]... "
			    "[--db CONNINFO]\n");
			return 2;
		}
	}
	o.witness = witness;
	o.witness_count = nwit;
	t0 = util_mono_s();
	c = pg_connect_app(conninfo, "verify_run", err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "verify_run: %s\n", err);
		return 2;
	}
	(void)verify_run(c, &o, &r);
	pg_close(&c);
	t1 = util_mono_s();
	printf("verify_run: %s: %llu records, %llu batches, %llu streams; "
	    "%.2f s%s%s\n", r.status == VERIFY_OK ? "OK" :
	    r.status == VERIFY_TAMPERED ? "TAMPERED" : "ERROR",
	    (unsigned long long)r.records, (unsigned long long)r.batches,
	    (unsigned long long)r.streams, t1 - t0, r.message[0] ? ": " : "",
	    r.message);
	printf("RESULT name=verify records=%llu seconds=%.3f records_per_s=%.1f "
	    "status=%s\n", (unsigned long long)r.records, t1 - t0,
	    t1 > t0 ? (double)r.records / (t1 - t0) : 0,
	    r.status == VERIFY_OK ? "clean" : r.status == VERIFY_TAMPERED ?
	    "tampered" : "error");
	return r.status == VERIFY_OK ? 0 : r.status == VERIFY_TAMPERED ? 1 : 2;
}
