/* bench/pgcrypto.c — the peer most DBAs would reach for: encrypt inside
 * PostgreSQL with pgcrypto.
 *
 *   build/bench/pgcrypto --mode pub --key PUBKEY.asc [common options]
 *   build/bench/pgcrypto --mode sym --password-file FILE [common options]
 *
 * The benchmark's synthetic records go into bench.pgp_<mode>_records (the
 * plain baseline's columns and index shape) by multi-row INSERT from W
 * writers (default 2), --copy-batch rows per statement (default 1000), one
 * transaction per statement; the record text is encrypted by the server:
 *
 *   pub: pgp_pub_encrypt(record, dearmor(<armored public key>))
 *        to an RSA key (run.sh makes a throwaway one with gpg)
 *   sym: pgp_sym_encrypt(record, <password>) with pgcrypto's defaults
 *        (AES-128, iterated and salted S2K with a random iteration count)
 *
 * Participants, conversation and source id stay in clear, as they would
 * for a DBA who encrypts the content column and keeps the indexes usable;
 * that flatters the peer (Coffer blinds them), which is fine for a peer.
 * The key or password travels as one statement parameter; dearmor() of a
 * parameter is folded once per statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "bench/lib/driver.h"
#include "bench/lib/bench.h"
#include "common/util.h"

#define PGP_COLS_FIXED 5       /* $1 key, $2 tenant, $3 stream, $4 batch, $5 received */
#define PGP_COLS_ROW   8

typedef struct pgp {
	const bench_opts *o;
	int               pub;           /* 1: pgp_pub_encrypt, 0: sym */
	char             *secret;        /* armored key or password */
	char              table[64];
	char              tenant[37];
} pgp;

typedef struct pgp_w {
	const pgp  *p;
	PGconn     *conn;
	char        stream[37];
	long long   seq, batch_no;
	synth_rec   rec;
	char       *sql;                 /* INSERT for sql_rows rows */
	size_t      sql_rows;
	/* per-row parameter storage */
	char      (*num)[3][24];         /* seq, size_class, sent_at */
	char      **parts;               /* array literal per row */
	char      **keys;                /* source key per row */
	char      **content;             /* record text per row */
	char      **convs;
	const char **channels;
	size_t      rows_cap;
} pgp_w;

static void
uuid_str(char out[37])
{
	unsigned char id[16];

	randombytes_buf(id, sizeof(id));
	id[6] = (unsigned char)((id[6] & 0x0f) | 0x40);
	id[8] = (unsigned char)((id[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", id[0], id[1], id[2], id[3], id[4], id[5],
	    id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13], id[14],
	    id[15]);
}

static uint8_t
size_class(size_t len)
{
	uint8_t c = 0;

	while (len != 0) {
		c++;
		len >>= 1;
	}
	return c;
}

/* INSERT ... VALUES (...), (...) for n rows. */
static char *
build_sql(const pgp *p, size_t n)
{
	size_t cap = 512 + n * 256, len, i;
	char *s = malloc(cap);
	int k;

	if (s == NULL)
		return NULL;
	len = (size_t)snprintf(s, cap, "INSERT INTO %s (tenant_id, stream_id, "
	    "seq, batch_no, received_at, sent_at, channel, size_class, "
	    "participants, conversation, source_key, content) VALUES ", p->table);
	for (i = 0; i < n; i++) {
		size_t b = PGP_COLS_FIXED + i * PGP_COLS_ROW;

		k = snprintf(s + len, cap - len, "%s($2::uuid, $3::uuid, "
		    "$%zu::bigint, $4::bigint, $5::timestamptz, "
		    "to_timestamp($%zu::float8 / 1e6), $%zu, $%zu::smallint, "
		    "$%zu::text[], $%zu, $%zu, %s($%zu, %s))", i ? ", " : "",
		    b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7,
		    p->pub ? "pgp_pub_encrypt" : "pgp_sym_encrypt", b + 8,
		    p->pub ? "dearmor($1)" : "$1");
		if (k < 0 || (size_t)k >= cap - len) {
			free(s);
			return NULL;
		}
		len += (size_t)k;
	}
	return s;
}

static void
free_rows(pgp_w *w)
{
	size_t i;

	for (i = 0; i < w->rows_cap; i++) {
		if (w->parts)
			free(w->parts[i]);
		if (w->keys)
			free(w->keys[i]);
		if (w->content)
			free(w->content[i]);
		if (w->convs)
			free(w->convs[i]);
	}
	free(w->num);
	free(w->parts);
	free(w->keys);
	free(w->content);
	free(w->convs);
	free(w->channels);
	w->rows_cap = 0;
}

static int
pgp_open(void *arg, unsigned writer, void **wctx, char *err, size_t err_len)
{
	pgp *p = arg;
	pgp_w *w = calloc(1, sizeof(*w));

	(void)writer;
	*wctx = NULL;
	if (w == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	w->p = p;
	w->conn = PQconnectdb(p->o->conninfo ? p->o->conninfo : "");
	if (PQstatus(w->conn) != CONNECTION_OK) {
		snprintf(err, err_len, "connect: %s", PQerrorMessage(w->conn));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(w->conn);
		free(w);
		return -1;
	}
	uuid_str(w->stream);
	*wctx = w;
	return 0;
}

static int
rows_ready(pgp_w *w, size_t n)
{
	if (w->rows_cap >= n)
		return 0;
	free_rows(w);
	w->num = calloc(n, sizeof(*w->num));
	w->parts = calloc(n, sizeof(char *));
	w->keys = calloc(n, sizeof(char *));
	w->content = calloc(n, sizeof(char *));
	w->convs = calloc(n, sizeof(char *));
	w->channels = calloc(n, sizeof(char *));
	w->rows_cap = n;
	return w->num && w->parts && w->keys && w->content && w->convs &&
	    w->channels ? 0 : -1;
}

static int
pgp_batch(void *wctx, uint64_t first, size_t n, uint64_t *bytes, char *err,
    size_t err_len)
{
	pgp_w *w = wctx;
	const pgp *p = w->p;
	const char **vals;
	size_t i, k, nparams = PGP_COLS_FIXED + n * PGP_COLS_ROW;
	char bno[24], recv[64], dev[32];
	PGresult *r;
	int ok;

	if (rows_ready(w, n) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (w->sql == NULL || w->sql_rows != n) {
		free(w->sql);
		w->sql = build_sql(p, n);
		w->sql_rows = n;
		if (w->sql == NULL) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
	}
	vals = calloc(nparams, sizeof(*vals));
	if (vals == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	snprintf(bno, sizeof(bno), "%lld", ++w->batch_no);
	{
		long long us = util_now_us();
		time_t secs = (time_t)(us / 1000000);
		struct tm tm;

		gmtime_r(&secs, &tm);
		snprintf(recv, sizeof(recv), "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, us % 1000000);
	}
	vals[0] = p->secret;
	vals[1] = p->tenant;
	vals[2] = w->stream;
	vals[3] = bno;
	vals[4] = recv;
	for (i = 0; i < n; i++) {
		const char **v = vals + PGP_COLS_FIXED + i * PGP_COLS_ROW;
		size_t alen = 3;

		if (synth_make(&p->o->syn, first + i, &w->rec) != 0)
			goto oom;
		for (k = 0; k < w->rec.nparts; k++)
			alen += strlen(w->rec.parts[k]) + 3;
		free(w->parts[i]);
		free(w->keys[i]);
		free(w->content[i]);
		free(w->convs[i]);
		w->parts[i] = malloc(alen);
		w->keys[i] = malloc(SYNTH_ID_MAX + 40);
		w->content[i] = strdup(w->rec.line);
		w->convs[i] = strdup(w->rec.conversation);
		if (!w->parts[i] || !w->keys[i] || !w->content[i] || !w->convs[i])
			goto oom;
		{
			size_t len = 0;

			w->parts[i][len++] = '{';
			for (k = 0; k < w->rec.nparts; k++)
				len += (size_t)snprintf(w->parts[i] + len, alen - len,
				    "%s\"%s\"", k ? "," : "", w->rec.parts[k]);
			w->parts[i][len++] = '}';
			w->parts[i][len] = '\0';
		}
		synth_device_name(w->rec.device, dev, sizeof(dev));
		snprintf(w->keys[i], SYNTH_ID_MAX + 40, "%s/%s", dev, w->rec.id);
		snprintf(w->num[i][0], 24, "%lld", ++w->seq);
		snprintf(w->num[i][1], 24, "%u", size_class(w->rec.line_len));
		snprintf(w->num[i][2], 24, "%lld", w->rec.sent_at_us);
		w->channels[i] = w->rec.channel;
		v[0] = w->num[i][0];
		v[1] = w->num[i][2];
		v[2] = w->channels[i];
		v[3] = w->num[i][1];
		v[4] = w->parts[i];
		v[5] = w->convs[i];
		v[6] = w->keys[i];
		v[7] = w->content[i];
		*bytes += w->rec.line_len;
	}
	r = PQexecParams(w->conn, w->sql, (int)nparams, NULL, vals, NULL, NULL, 0);
	ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok) {
		snprintf(err, err_len, "INSERT: %s", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(w->conn));
		err[strcspn(err, "\n")] = '\0';
	}
	PQclear(r);
	free(vals);
	return ok ? 0 : -1;
oom:
	free(vals);
	snprintf(err, err_len, "out of memory");
	return -1;
}

static void
pgp_close(void *wctx)
{
	pgp_w *w = wctx;

	if (w == NULL)
		return;
	PQfinish(w->conn);
	synth_rec_clear(&w->rec);
	free_rows(w);
	free(w->sql);
	free(w);
}

static char *
read_text(const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (f == NULL) {
		snprintf(err, err_len, "%s: cannot open", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > 1 << 20 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		snprintf(err, err_len, "%s: unreadable or too large", path);
		return NULL;
	}
	s = calloc(1, (size_t)n + 1);
	if (s == NULL || fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		fclose(f);
		snprintf(err, err_len, "%s: read failed", path);
		return NULL;
	}
	fclose(f);
	/* A password file's trailing newline is not part of the password. */
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: pgcrypto --mode pub --key PUBKEY.asc | --mode sym "
	    "--password-file FILE [options]\n%s", bench_opts_usage());
}

int
main(int argc, char **argv)
{
	static const bench_ops ops = { pgp_open, pgp_batch, pgp_close };
	bench_opts o;
	pgp p;
	const char *mode = NULL, *keyfile = NULL;
	PGconn *c = NULL;
	char err[512], ddl[2048], drop[128];
	int i, r, rc = 1;

	bench_opts_defaults(&o);
	memset(&p, 0, sizeof(p));
	p.o = &o;
	for (i = 1; i < argc; i++) {
		r = bench_opt(&o, argc, argv, &i);
		if (r == 1)
			continue;
		if (r == 0 && i + 1 < argc && strcmp(argv[i], "--mode") == 0) {
			mode = argv[++i];
			continue;
		}
		if (r == 0 && i + 1 < argc && (strcmp(argv[i], "--key") == 0 ||
		    strcmp(argv[i], "--password-file") == 0)) {
			keyfile = argv[++i];
			continue;
		}
		if (r == 0 && strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (r == 0)
			fprintf(stderr, "pgcrypto: unknown option %s\n", argv[i]);
		usage(stderr);
		return 2;
	}
	if (mode == NULL || keyfile == NULL ||
	    (strcmp(mode, "pub") != 0 && strcmp(mode, "sym") != 0)) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	p.pub = strcmp(mode, "pub") == 0;
	snprintf(p.table, sizeof(p.table), "bench.pgp_%s_records", mode);
	uuid_str(p.tenant);
	p.secret = read_text(keyfile, err, sizeof(err));
	if (p.secret == NULL) {
		fprintf(stderr, "pgcrypto: %s\n", err);
		return 1;
	}
	snprintf(ddl, sizeof(ddl),
	    "CREATE EXTENSION IF NOT EXISTS pgcrypto;"
	    "CREATE SCHEMA IF NOT EXISTS bench;"
	    "CREATE TABLE IF NOT EXISTS %s ("
	    " tenant_id uuid NOT NULL, stream_id uuid NOT NULL, seq bigint NOT NULL,"
	    " batch_no bigint NOT NULL, received_at timestamptz NOT NULL,"
	    " sent_at timestamptz NOT NULL, channel text NOT NULL,"
	    " size_class smallint NOT NULL, participants text[] NOT NULL,"
	    " conversation text, source_key text NOT NULL, content bytea NOT NULL,"
	    " PRIMARY KEY (tenant_id, stream_id, seq),"
	    " UNIQUE (tenant_id, source_key));"
	    "CREATE INDEX IF NOT EXISTS pgp_%s_participants ON %s USING gin "
	    " (participants);"
	    "CREATE INDEX IF NOT EXISTS pgp_%s_sent_at ON %s (tenant_id, sent_at);"
	    "CREATE INDEX IF NOT EXISTS pgp_%s_conversation ON %s"
	    " (tenant_id, conversation) WHERE conversation IS NOT NULL;",
	    p.table, mode, p.table, mode, p.table, mode, p.table);
	c = PQconnectdb(o.conninfo ? o.conninfo : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgcrypto: connect: %s", PQerrorMessage(c));
		goto out;
	}
	snprintf(drop, sizeof(drop), "DROP TABLE IF EXISTS %s", p.table);
	if (bench_exec(c, "SET client_min_messages = warning", err,
	    sizeof(err)) != 0 ||
	    (o.reset && bench_exec(c, drop, err, sizeof(err)) != 0) ||
	    bench_exec(c, ddl, err, sizeof(err)) != 0) {
		fprintf(stderr, "pgcrypto: %s\n", err);
		goto out;
	}
	PQfinish(c);
	c = NULL;
	rc = bench_drive(&o, &ops, &p, p.pub ? "pgcrypto_pub" : "pgcrypto_sym") ==
	    0 ? 0 : 1;
out:
	PQfinish(c);
	if (p.secret != NULL) {
		sodium_memzero(p.secret, strlen(p.secret));
		free(p.secret);
	}
	return rc;
}
