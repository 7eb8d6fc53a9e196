/* bench/lib/bench.h — what every bench program shares besides the driver:
 * sending a whole binary COPY stream, trusted SQL, CPU time, the RESULT
 * line.
 *
 * The COPY bytes themselves come from common/pgcopy.h, the encoder the
 * gateway's writer uses, so the baselines measure the shipped encoding.
 * A batch is encoded whole, then sent with bench_copy_run.
 */
#ifndef COFFER_BENCH_BENCH_H
#define COFFER_BENCH_BENCH_H

#include <stdint.h>

#include <libpq-fe.h>

#include "common/pgcopy.h"

/* COPY sql FROM STDIN with the whole buffer, then end and read the result.
 * 0 or -1 with err set (the encoder's error, or the server's primary
 * message, never data). */
int  bench_copy_run(PGconn *c, const char *sql, const pgcopy *b,
                    char *err, size_t err_len) __attribute__((warn_unused_result));

/* Simple-protocol helpers for the bench drivers (trusted SQL only). */
int  bench_exec(PGconn *c, const char *sql, char *err, size_t err_len)
     __attribute__((warn_unused_result));

double bench_cpu_s(void);                    /* this process, user + sys */

/* Print the machine-readable result line every bench program ends with:
 *   RESULT name=X records=N bytes=B seconds=S records_per_s=R mb_per_s=M cpu_s=C
 * run.sh reads it. */
void bench_result(const char *name, uint64_t records, uint64_t bytes,
                  double seconds, double cpu_s);

#endif
