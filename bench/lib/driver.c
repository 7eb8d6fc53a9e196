/* bench/lib/driver.c — writer threads and reporting for the baselines
 * (driver.h).
 *
 * The clock starts once every writer is connected and ready and stops when
 * the last batch committed, so connection set-up and table creation are not
 * in the figure; the loaded rows are.  A failing writer stops the others
 * after their current batch.
 */
#include "bench/lib/driver.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/lib/bench.h"
#include "common/util.h"

#define DRIVER_WRITERS_MAX 64U

void
bench_opts_defaults(bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->syn.seed = 1;
	o->syn.devices = 16;
	o->syn.batch = 100;
	o->syn.body_size = 1024;
	o->syn.attach_bytes = 4096;
	o->records = 100000;
	o->writers = 2;
	o->copy_batch = 1000;
}

const char *
bench_opts_usage(void)
{
	return
	    "  --records N        records to store (100000)\n"
	    "  --first I          index of the first record (0)\n"
	    "  --devices M        simulated devices (16)\n"
	    "  --batch B          records per device batch, as loadgen (100)\n"
	    "  --size BYTES       mean body size (1024)\n"
	    "  --attach-pct P     records with one attachment (0)\n"
	    "  --attach-bytes B   raw bytes of an attachment (4096)\n"
	    "  --seed S           record generator seed (1)\n"
	    "  --writers W        writer connections (2)\n"
	    "  --copy-batch K     records per transaction (1000)\n"
	    "  --db CONNINFO      database (default: PG* environment)\n"
	    "  --series FILE      per-second throughput series\n"
	    "  --progress         progress on stderr\n"
	    "  --reset            drop and recreate the bench table first\n";
}

int
bench_opt(bench_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	uint64_t x;

	if (strcmp(a, "--progress") == 0) {
		o->progress = 1;
		return 1;
	}
	if (strcmp(a, "--reset") == 0) {
		o->reset = 1;
		return 1;
	}
	if (strcmp(a, "--db") == 0 || strcmp(a, "--series") == 0) {
		if (v == NULL)
			goto bad;
		if (strcmp(a, "--db") == 0)
			o->conninfo = v;
		else
			o->series = v;
		(*i)++;
		return 1;
	}
#define NUMOPT(name, max, field, cast) \
	if (strcmp(a, name) == 0) { \
		if (util_parse_u64(v, 0, max, &x) != 0) \
			goto bad; \
		field = (cast)x; \
		(*i)++; \
		return 1; \
	}
	NUMOPT("--records", 1ULL << 40, o->records, uint64_t)
	NUMOPT("--first", 1ULL << 40, o->first, uint64_t)
	NUMOPT("--devices", 1000000, o->syn.devices, unsigned)
	NUMOPT("--batch", 100000, o->syn.batch, unsigned)
	NUMOPT("--size", 4U << 20, o->syn.body_size, size_t)
	NUMOPT("--attach-pct", 100, o->syn.attach_pct, unsigned)
	NUMOPT("--attach-bytes", 8U << 20, o->syn.attach_bytes, size_t)
	NUMOPT("--seed", ~0ULL, o->syn.seed, uint64_t)
	NUMOPT("--writers", DRIVER_WRITERS_MAX, o->writers, unsigned)
	NUMOPT("--copy-batch", 100000, o->copy_batch, unsigned)
#undef NUMOPT
	return 0;
bad:
	fprintf(stderr, "%s: bad or missing value for %s\n", argv[0], a);
	return -1;
}

typedef struct drive {
	const bench_opts *o;
	const bench_ops  *ops;
	void             *arg;
	uint64_t          nbatches;
	atomic_ullong     next;
	atomic_ullong     done_records;
	atomic_ullong     done_bytes;
	atomic_int        failed;
	atomic_uint       ready;
	atomic_int        go;
	pthread_mutex_t   mu;
	char              err[512];
} drive;

typedef struct wthread {
	drive    *d;
	unsigned  index;
	pthread_t tid;
	void     *wctx;
	int       opened;
} wthread;

static void
fail(drive *d, const char *msg)
{
	pthread_mutex_lock(&d->mu);
	if (!atomic_load(&d->failed))
		snprintf(d->err, sizeof(d->err), "%s", msg);
	atomic_store(&d->failed, 1);
	pthread_mutex_unlock(&d->mu);
}

static void *
writer_main(void *p)
{
	wthread *t = p;
	drive *d = t->d;
	char err[512];

	err[0] = '\0';
	if (d->ops->open(d->arg, t->index, &t->wctx, err, sizeof(err)) != 0) {
		fail(d, err);
		atomic_fetch_add(&d->ready, 1);
		return NULL;
	}
	t->opened = 1;
	atomic_fetch_add(&d->ready, 1);
	while (!atomic_load(&d->go) && !atomic_load(&d->failed)) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	while (!atomic_load(&d->failed)) {
		uint64_t k = atomic_fetch_add(&d->next, 1), first, n, bytes = 0;

		if (k >= d->nbatches)
			break;
		first = k * d->o->copy_batch;
		n = d->o->records - first < d->o->copy_batch ?
		    d->o->records - first : d->o->copy_batch;
		if (d->ops->batch(t->wctx, d->o->first + first, (size_t)n, &bytes,
		    err, sizeof(err)) != 0) {
			fail(d, err);
			break;
		}
		atomic_fetch_add(&d->done_records, n);
		atomic_fetch_add(&d->done_bytes, bytes);
	}
	return NULL;
}

int
bench_drive(const bench_opts *o, const bench_ops *ops, void *arg,
    const char *name)
{
	wthread *ts;
	drive d;
	unsigned i, started = 0;
	double t0, t1, cpu0, last_t;
	uint64_t last_n = 0;
	FILE *series = NULL;
	char err[256];
	int rc = -1;

	if (synth_cfg_check(&o->syn, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", name, err);
		return -1;
	}
	if (o->writers == 0 || o->copy_batch == 0 || o->records == 0) {
		fprintf(stderr, "%s: writers, copy batch and records must be > 0\n",
		    name);
		return -1;
	}
	memset(&d, 0, sizeof(d));
	d.o = o;
	d.ops = ops;
	d.arg = arg;
	d.nbatches = (o->records + o->copy_batch - 1) / o->copy_batch;
	pthread_mutex_init(&d.mu, NULL);
	if (o->series != NULL && (series = fopen(o->series, "w")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", name, o->series, strerror(errno));
		pthread_mutex_destroy(&d.mu);
		return -1;
	}
	ts = calloc(o->writers, sizeof(*ts));
	if (ts == NULL)
		goto out;
	for (i = 0; i < o->writers; i++) {
		ts[i].d = &d;
		ts[i].index = i;
		if (pthread_create(&ts[i].tid, NULL, writer_main, &ts[i]) != 0) {
			fail(&d, "pthread_create failed");
			break;
		}
		started++;
	}
	while (atomic_load(&d.ready) < started) {
		struct timespec w = { 0, 1000000 };

		nanosleep(&w, NULL);
	}
	t0 = util_mono_s();
	cpu0 = bench_cpu_s();
	last_t = t0;
	atomic_store(&d.go, 1);
	/* Sample once a second until every batch is done or a writer failed. */
	for (;;) {
		struct timespec w = { 0, 50000000 };
		uint64_t n = atomic_load(&d.done_records);
		double now = util_mono_s();
		int end = n >= o->records || atomic_load(&d.failed);

		if (now - last_t >= 0.5 || end) {
			if (series != NULL) {
				fprintf(series, "%.2f %.1f %llu\n", now - t0,
				    (double)(n - last_n) / (now - last_t),
				    (unsigned long long)n);
				fflush(series);
			}
			if (o->progress && !end)
				fprintf(stderr, "%s: %llu/%llu records, %.0f/s\n", name,
				    (unsigned long long)n,
				    (unsigned long long)o->records,
				    (double)(n - last_n) / (now - last_t));
			last_t = now;
			last_n = n;
		}
		if (end)
			break;
		nanosleep(&w, NULL);
	}
	for (i = 0; i < started; i++)
		pthread_join(ts[i].tid, NULL);
	t1 = util_mono_s();
	for (i = 0; i < started; i++)
		if (ts[i].opened)
			ops->close(ts[i].wctx);
	if (atomic_load(&d.failed)) {
		fprintf(stderr, "%s: %s\n", name, d.err);
		goto out;
	}
	bench_result(name, atomic_load(&d.done_records),
	    atomic_load(&d.done_bytes), t1 - t0, bench_cpu_s() - cpu0);
	rc = 0;
out:
	free(ts);
	if (series != NULL)
		fclose(series);
	pthread_mutex_destroy(&d.mu);
	return rc;
}
