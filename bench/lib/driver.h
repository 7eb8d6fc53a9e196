/* bench/lib/driver.h — the common skeleton of the baseline programs:
 * options, W writer threads pulling batches of records from one counter,
 * progress, a per-second series file, and the RESULT line.
 *
 * A baseline supplies three callbacks: open (one per writer: connect,
 * create its stream...), batch (store records [first, first+n) durably
 * before returning, and say how many plaintext bytes they were), close.
 * Batches are handed out in order from an atomic counter, so with W writers
 * W batches are in flight, as in the "2 writers in batches of 1000".
 */
#ifndef COFFER_BENCH_DRIVER_H
#define COFFER_BENCH_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "bench/lib/synth.h"

typedef struct bench_opts {
	synth_cfg   syn;            /* --seed --devices --batch --size
	                               --attach-pct --attach-bytes */
	uint64_t    records;        /* --records */
	uint64_t    first;          /* --first: index of the first record */
	unsigned    writers;        /* --writers (2) */
	unsigned    copy_batch;     /* --copy-batch (1000) */
	const char *conninfo;       /* --db (default: PG* environment) */
	const char *series;         /* --series FILE: "t_s records" per second */
	int         progress;       /* --progress */
	int         reset;          /* --reset: drop and recreate the table */
} bench_opts;

void bench_opts_defaults(bench_opts *o);

/* Try argv[*i] (and its value) as a common option: 1 consumed (advances
 * *i past a value), 0 not a common option, -1 bad value (message printed). */
int  bench_opt(bench_opts *o, int argc, char **argv, int *i);

/* Usage lines of the common options. */
const char *bench_opts_usage(void);

typedef struct bench_ops {
	int  (*open)(void *arg, unsigned writer, void **wctx,
	             char *err, size_t err_len);
	int  (*batch)(void *wctx, uint64_t first, size_t n, uint64_t *bytes,
	              char *err, size_t err_len);
	void (*close)(void *wctx);
} bench_ops;

/* Run every batch; prints RESULT name=... on success.  0 or -1 (the first
 * writer error printed on stderr). */
int  bench_drive(const bench_opts *o, const bench_ops *ops, void *arg,
                 const char *name) __attribute__((warn_unused_result));

#endif
