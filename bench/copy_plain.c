/* bench/copy_plain.c — baseline (a): the database's durable write ceiling.
 *
 *   build/bench/copy_plain [common options] (see --help)
 *
 * Loads the benchmark's synthetic records, in PLAINTEXT, with binary COPY
 * into bench.plain_records: W writers (default 2), one transaction of
 * --copy-batch records (default 1000) each, synchronous_commit as the
 * server has it (the harness keeps fsync and synchronous_commit on).  The
 * table has the index shape of coffer.records — primary key (tenant,
 * stream, seq), unique (tenant, dedup key), GIN over the participants,
 * (tenant, sent_at), partial (tenant, conversation) — with the participants,
 * conversation and source id in clear and the whole record as text.
 *
 * What it leaves out on purpose: sealing, tokens, the hash chain, TLS,
 * HTTP, JSON parsing.  This is the most a plaintext archive could do on the
 * same PostgreSQL; Coffer's ingest figure is reported as a ratio to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "bench/lib/driver.h"
#include "bench/lib/bench.h"
#include "common/util.h"
#include "vault/chain.h"

#define PLAIN_DDL \
	"CREATE SCHEMA IF NOT EXISTS bench;" \
	"CREATE TABLE IF NOT EXISTS bench.plain_records (" \
	" tenant_id uuid NOT NULL, stream_id uuid NOT NULL, seq bigint NOT NULL," \
	" batch_no bigint NOT NULL, received_at timestamptz NOT NULL," \
	" sent_at timestamptz NOT NULL, channel text NOT NULL," \
	" size_class smallint NOT NULL, participants text[] NOT NULL," \
	" conversation text, source_key text NOT NULL, content text NOT NULL," \
	" PRIMARY KEY (tenant_id, stream_id, seq)," \
	" UNIQUE (tenant_id, source_key));" \
	"CREATE INDEX IF NOT EXISTS plain_participants ON bench.plain_records" \
	" USING gin (participants);" \
	"CREATE INDEX IF NOT EXISTS plain_sent_at ON bench.plain_records" \
	" (tenant_id, sent_at);" \
	"CREATE INDEX IF NOT EXISTS plain_conversation ON bench.plain_records" \
	" (tenant_id, conversation) WHERE conversation IS NOT NULL;"

#define PLAIN_COPY \
	"COPY bench.plain_records (tenant_id, stream_id, seq, batch_no," \
	" received_at, sent_at, channel, size_class, participants, conversation," \
	" source_key, content) FROM STDIN (FORMAT binary)"

typedef struct plain {
	const bench_opts *o;
	unsigned char     tenant_id[16];
} plain;

typedef struct plain_w {
	const plain  *pl;
	PGconn       *conn;
	unsigned char stream_id[16];
	int64_t       seq;
	int64_t       batch_no;
	synth_rec     rec;
	pgcopy        buf;
} plain_w;

static void
random_uuid(unsigned char id[16])
{
	randombytes_buf(id, 16);
	id[6] = (unsigned char)((id[6] & 0x0f) | 0x40);
	id[8] = (unsigned char)((id[8] & 0x3f) | 0x80);
}

static int
plain_open(void *arg, unsigned writer, void **wctx, char *err, size_t err_len)
{
	plain *pl = arg;
	plain_w *w = calloc(1, sizeof(*w));

	(void)writer;
	*wctx = NULL;
	if (w == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	w->pl = pl;
	w->conn = PQconnectdb(pl->o->conninfo ? pl->o->conninfo : "");
	if (PQstatus(w->conn) != CONNECTION_OK) {
		snprintf(err, err_len, "connect: %s", PQerrorMessage(w->conn));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(w->conn);
		free(w);
		return -1;
	}
	random_uuid(w->stream_id);
	*wctx = w;
	return 0;
}

static int
plain_batch(void *wctx, uint64_t first, size_t n, uint64_t *bytes, char *err,
    size_t err_len)
{
	plain_w *w = wctx;
	const bench_opts *o = w->pl->o;
	long long now;
	size_t i, k;
	char dev[32], key[96];

	pgcopy_reset(&w->buf);
	pgcopy_header(&w->buf);
	w->batch_no++;
	now = util_now_us();
	for (i = 0; i < n; i++) {
		const void *elems[SYNTH_PARTS_MAX];
		size_t lens[SYNTH_PARTS_MAX];

		if (synth_make(&o->syn, first + i, &w->rec) != 0) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		for (k = 0; k < w->rec.nparts; k++) {
			elems[k] = w->rec.parts[k];
			lens[k] = strlen(w->rec.parts[k]);
		}
		synth_device_name(w->rec.device, dev, sizeof(dev));
		snprintf(key, sizeof(key), "%s/%s", dev, w->rec.id);
		pgcopy_tuple(&w->buf, 12);
		pgcopy_bytes(&w->buf, w->pl->tenant_id, 16);
		pgcopy_bytes(&w->buf, w->stream_id, 16);
		pgcopy_i64(&w->buf, ++w->seq);
		pgcopy_i64(&w->buf, w->batch_no);
		pgcopy_ts(&w->buf, now);
		pgcopy_ts(&w->buf, w->rec.sent_at_us);
		pgcopy_text(&w->buf, w->rec.channel);
		pgcopy_i16(&w->buf, (int16_t)vault_size_class(w->rec.line_len));
		pgcopy_array(&w->buf, PGCOPY_TEXT_OID, elems, lens, w->rec.nparts);
		pgcopy_text(&w->buf, w->rec.conversation);
		pgcopy_text(&w->buf, key);
		pgcopy_bytes(&w->buf, w->rec.line, w->rec.line_len);
		*bytes += w->rec.line_len;
	}
	pgcopy_trailer(&w->buf);
	return bench_copy_run(w->conn, PLAIN_COPY, &w->buf, err, err_len);
}

static void
plain_close(void *wctx)
{
	plain_w *w = wctx;

	if (w == NULL)
		return;
	PQfinish(w->conn);
	synth_rec_clear(&w->rec);
	pgcopy_free(&w->buf);
	free(w);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: copy_plain [options]\n%s", bench_opts_usage());
}

int
main(int argc, char **argv)
{
	static const bench_ops ops = { plain_open, plain_batch, plain_close };
	bench_opts o;
	plain pl;
	PGconn *c;
	char err[512];
	int i, r;

	bench_opts_defaults(&o);
	for (i = 1; i < argc; i++) {
		r = bench_opt(&o, argc, argv, &i);
		if (r == 1)
			continue;
		if (r == 0 && strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (r == 0)
			fprintf(stderr, "copy_plain: unknown option %s\n", argv[i]);
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "copy_plain: sodium_init failed\n");
		return 1;
	}
	memset(&pl, 0, sizeof(pl));
	pl.o = &o;
	random_uuid(pl.tenant_id);
	c = PQconnectdb(o.conninfo ? o.conninfo : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "copy_plain: connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	if ((o.reset && bench_exec(c, "DROP TABLE IF EXISTS bench.plain_records",
	    err, sizeof(err)) != 0) ||
	    bench_exec(c, "SET client_min_messages = warning", err,
	    sizeof(err)) != 0 ||
	    bench_exec(c, PLAIN_DDL, err, sizeof(err)) != 0) {
		fprintf(stderr, "copy_plain: %s\n", err);
		PQfinish(c);
		return 1;
	}
	PQfinish(c);
	return bench_drive(&o, &ops, &pl, "copy_plain") == 0 ? 0 : 1;
}
