/* bench/lib/pgcopy.h — building COPY ... (FORMAT binary) streams for the
 * baselines, and the timing/reporting bits every bench program shares.
 *
 * A pgcopy buffer collects whole rows (the binary COPY header first) and is
 * sent with PQputCopyData once it passes a flush threshold, the way the
 * gateway's writer does, so both sides pay the same per-row protocol cost.
 * Allocation failure is sticky (oom) and checked once per send.
 */
#ifndef COFFER_BENCH_PGCOPY_H
#define COFFER_BENCH_PGCOPY_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define PGCOPY_BYTEA_OID   17U
#define PGCOPY_TEXT_OID    25U

typedef struct pgcopy {
	unsigned char *p;
	size_t         len, cap;
	int            oom;
} pgcopy;

void pgcopy_reset(pgcopy *b);                 /* empty, keeps the memory */
void pgcopy_free(pgcopy *b);
void pgcopy_header(pgcopy *b);                /* signature, flags, ext */
void pgcopy_trailer(pgcopy *b);               /* -1 field count */
void pgcopy_row(pgcopy *b, uint16_t nfields);
void pgcopy_bytes(pgcopy *b, const void *d, size_t n);   /* one field */
void pgcopy_null(pgcopy *b);
void pgcopy_i16(pgcopy *b, int16_t v);
void pgcopy_i64(pgcopy *b, int64_t v);
void pgcopy_ts(pgcopy *b, long long unix_us); /* timestamptz */
void pgcopy_text(pgcopy *b, const char *s);
/* One-dimensional array field of n elements of the given type, each
 * elem_len[i] bytes at elems[i]. */
void pgcopy_array(pgcopy *b, uint32_t elem_oid, const void *const *elems,
                  const size_t *elem_len, size_t n);

/* COPY sql FROM STDIN with the whole buffer, then end and read the result.
 * 0 or -1 with err set (server message, no data). */
int  pgcopy_run(PGconn *c, const char *sql, const pgcopy *b,
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
