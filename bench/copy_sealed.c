/* bench/copy_sealed.c — baseline (b): the limit of sealing plus storing.
 *
 *   build/bench/copy_sealed [--tenant NAME] [--epoch-records N] [common
 *                           options] (see --help)
 *
 * The benchmark's synthetic records, sealed in-process exactly as the
 * gateway's writer seals them — epoch key wrapped to the tenant, blind-index
 * tokens for participants, conversation and dedup key, XChaCha20-Poly1305
 * under the per-record key, leaf hash, Merkle root, chain head and a signed
 * checkpoint per batch — then loaded into the real coffer.records with
 * binary COPY by W writers (default 2) in transactions of --copy-batch
 * records (default 1000), each writer its own stream.  No TLS, no HTTP, no
 * JSON parsing: the sealed plaintext is the record's NDJSON line as built.
 *
 * With --tenant it writes into an existing tenant (its public key from
 * coffer.tenant_keys): run.sh uses that to grow the gateway's archive to
 * 1 M / 5 M records quickly.  Rows it writes verify clean (seqs and batches
 * from 1, checkpoints signed by a node it registers), so `cofferctl verify`
 * can run over the whole archive afterwards.  Needs a role that may insert
 * nodes, streams, epochs (the harness's superuser).
 *
 * With --table NAME the rows go to NAME instead, created if missing as
 * (LIKE coffer.records INCLUDING INDEXES INCLUDING STORAGE): the same
 * indexes without the foreign keys and CHECK constraints, which tells how
 * much of the storing cost is the schema's constraints (run.sh reports it).
 *
 * Keys are throwaway: a fresh blind-index key and signing key per run, in
 * guarded memory, never written anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "bench/lib/driver.h"
#include "bench/lib/bench.h"
#include "common/pg.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/mem.h"
#include "vault/seal.h"

#define SEALED_COPY_FMT \
	"COPY %s (tenant_id, stream_id, seq, epoch_id, batch_no," \
	" received_at, sent_at, channel, size_class, participant_tokens," \
	" conversation_token, dedup_token, nonce, ciphertext, leaf_hash)" \
	" FROM STDIN (FORMAT binary)"

typedef struct sealed {
	const bench_opts *o;
	uint64_t          epoch_records;
	unsigned char     tenant_id[VAULT_ID_BYTES];
	unsigned char     tenant_pk[VAULT_POINT_BYTES];
	unsigned char     node_id[VAULT_ID_BYTES];
	unsigned char     sign_pk[VAULT_SIGN_PK_BYTES];
	unsigned char    *sign_sk;         /* guarded */
	unsigned char    *bik;             /* guarded */
	char              copy_sql[512];   /* COPY into coffer.records or --table */
} sealed;

typedef struct sealed_w {
	const sealed  *s;
	PGconn        *conn;
	unsigned char  stream_id[VAULT_ID_BYTES];
	uint64_t       seq, batch_no;
	unsigned char  head[VAULT_HASH_BYTES];
	vault_epoch   *epoch;
	unsigned char  epoch_id[VAULT_ID_BYTES];
	uint64_t       epoch_count;
	int            epoch_in_db;
	synth_rec      rec;
	pgcopy         buf;
	unsigned char *ct;
	size_t         ct_cap;
	unsigned char *leaves;
	size_t         leaves_cap;
} sealed_w;

static int
tok_cmp(const void *a, const void *b)
{
	return memcmp(a, b, VAULT_TOKEN_BYTES);
}

static int
sealed_open(void *arg, unsigned writer, void **wctx, char *err,
    size_t err_len)
{
	sealed *s = arg;
	sealed_w *w = calloc(1, sizeof(*w));
	pg_params p = PG_PARAMS_INIT;

	(void)writer;
	*wctx = NULL;
	if (w == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	w->s = s;
	w->conn = pg_connect_app(s->o->conninfo, "copy_sealed", err, err_len);
	if (w->conn == NULL) {
		free(w);
		return -1;
	}
	util_uuid_random(w->stream_id);
	pg_param_bin(&p, s->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, w->stream_id, VAULT_ID_BYTES);
	pg_param_bin(&p, s->node_id, VAULT_ID_BYTES);
	if (pg_exec(w->conn, "INSERT INTO coffer.streams (tenant_id, stream_id, "
	    "node_id) VALUES ($1::uuid, $2::uuid, $3::uuid)", &p, err,
	    err_len) != 0) {
		pg_close(&w->conn);
		free(w);
		return -1;
	}
	*wctx = w;
	return 0;
}

static int
grow(unsigned char **p, size_t *cap, size_t need)
{
	unsigned char *q;

	if (need <= *cap)
		return 0;
	q = realloc(*p, need);
	if (q == NULL)
		return -1;
	*p = q;
	*cap = need;
	return 0;
}

/* Seal one record and append its COPY row; its leaf hash goes to leaf. */
static int
seal_row(sealed_w *w, uint64_t seq, long long received_at,
    unsigned char leaf[VAULT_HASH_BYTES], char *err, size_t err_len)
{
	const sealed *s = w->s;
	const synth_rec *r = &w->rec;
	unsigned char parts[SYNTH_PARTS_MAX][VAULT_TOKEN_BYTES];
	unsigned char conv[VAULT_TOKEN_BYTES], dedup[VAULT_TOKEN_BYTES];
	unsigned char nonce[VAULT_NONCE_BYTES];
	size_t np = 0, i, u, ct_len = 0;
	char dev[32];
	vault_record_ad ad;
	vault_leaf lf;

	for (i = 0; i < r->nparts; i++)
		if (vault_participant_token(s->bik, r->parts[i], strlen(r->parts[i]),
		    parts[np++], err, err_len) != 0)
			return -1;
	/* Sorted and unique, as the gateway stores them. */
	qsort(parts, np, VAULT_TOKEN_BYTES, tok_cmp);
	for (i = 1, u = 0; i < np; i++)
		if (memcmp(parts[i], parts[u], VAULT_TOKEN_BYTES) != 0 && ++u != i)
			memcpy(parts[u], parts[i], VAULT_TOKEN_BYTES);
	np = np ? u + 1 : 0;
	synth_device_name(r->device, dev, sizeof(dev));
	if (vault_conversation_token(s->bik, r->conversation,
	    strlen(r->conversation), conv, err, err_len) != 0 ||
	    vault_dedup_token(s->bik, dev, strlen(dev), r->id, strlen(r->id),
	    dedup, err, err_len) != 0)
		return -1;
	if (grow(&w->ct, &w->ct_cap, r->line_len + VAULT_SEAL_OVERHEAD) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	memset(&ad, 0, sizeof(ad));
	ad.version = VAULT_RECORD_V1;
	memcpy(ad.tenant_id, s->tenant_id, VAULT_ID_BYTES);
	memcpy(ad.stream_id, w->stream_id, VAULT_ID_BYTES);
	memcpy(ad.epoch_id, w->epoch_id, VAULT_ID_BYTES);
	ad.seq = seq;
	ad.received_at = received_at;
	if (vault_seal(w->epoch, &ad, (const unsigned char *)r->line,
	    r->line_len, nonce, w->ct, w->ct_cap, &ct_len) != 0) {
		snprintf(err, err_len, "sealing failed");
		return -1;
	}
	memset(&lf, 0, sizeof(lf));
	memcpy(lf.tenant_id, s->tenant_id, VAULT_ID_BYTES);
	memcpy(lf.stream_id, w->stream_id, VAULT_ID_BYTES);
	lf.seq = seq;
	memcpy(lf.epoch_id, w->epoch_id, VAULT_ID_BYTES);
	lf.received_at = received_at;
	lf.sent_at = r->sent_at_us;
	lf.channel = r->channel;
	lf.channel_len = strlen(r->channel);
	lf.size_class = vault_size_class(r->line_len);
	lf.participants = &parts[0][0];
	lf.participant_count = np;
	lf.conversation = conv;
	memcpy(lf.dedup, dedup, VAULT_TOKEN_BYTES);
	memcpy(lf.nonce, nonce, VAULT_NONCE_BYTES);
	lf.ciphertext = w->ct;
	lf.ciphertext_len = ct_len;
	if (vault_leaf_hash(&lf, leaf) != 0) {
		snprintf(err, err_len, "leaf hash failed");
		return -1;
	}
	pgcopy_tuple(&w->buf, 15);
	pgcopy_bytes(&w->buf, s->tenant_id, VAULT_ID_BYTES);
	pgcopy_bytes(&w->buf, w->stream_id, VAULT_ID_BYTES);
	pgcopy_i64(&w->buf, (int64_t)seq);
	pgcopy_bytes(&w->buf, w->epoch_id, VAULT_ID_BYTES);
	pgcopy_i64(&w->buf, (int64_t)(w->batch_no + 1));
	pgcopy_ts(&w->buf, received_at);
	pgcopy_ts(&w->buf, r->sent_at_us);
	pgcopy_text(&w->buf, r->channel);
	pgcopy_i16(&w->buf, (int16_t)lf.size_class);
	pgcopy_array_fixed(&w->buf, PGCOPY_BYTEA_OID, &parts[0][0],
	    VAULT_TOKEN_BYTES, np);
	pgcopy_bytes(&w->buf, conv, VAULT_TOKEN_BYTES);
	pgcopy_bytes(&w->buf, dedup, VAULT_TOKEN_BYTES);
	pgcopy_bytes(&w->buf, nonce, VAULT_NONCE_BYTES);
	pgcopy_bytes(&w->buf, w->ct, ct_len);
	pgcopy_bytes(&w->buf, leaf, VAULT_HASH_BYTES);
	return 0;
}

static int
epoch_ready(sealed_w *w, char *err, size_t err_len)
{
	const sealed *s = w->s;

	if (w->epoch != NULL && w->epoch_count >= s->epoch_records)
		vault_epoch_free(&w->epoch);
	if (w->epoch == NULL) {
		if (vault_epoch_new(&w->epoch, s->tenant_pk, s->tenant_id, NULL,
		    err, err_len) != 0)
			return -1;
		vault_epoch_id(w->epoch, w->epoch_id);
		w->epoch_count = 0;
		w->epoch_in_db = 0;
	}
	return 0;
}

static int
insert_epoch(sealed_w *w, char *err, size_t err_len)
{
	unsigned char R[VAULT_POINT_BYTES], wrapped[VAULT_WRAPPED_EK_BYTES];
	pg_params p = PG_PARAMS_INIT;

	if (vault_epoch_wrapped(w->epoch, R, wrapped) != 0) {
		snprintf(err, err_len, "epoch has no wrapped form");
		return -1;
	}
	pg_param_bin(&p, w->s->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, w->epoch_id, VAULT_ID_BYTES);
	pg_param_bin(&p, w->stream_id, VAULT_ID_BYTES);
	pg_param_bin(&p, R, sizeof(R));
	pg_param_bin(&p, wrapped, sizeof(wrapped));
	return pg_exec(w->conn, "INSERT INTO coffer.epochs (tenant_id, epoch_id, "
	    "stream_id, r_point, wrapped_key) VALUES ($1::uuid, $2::uuid, "
	    "$3::uuid, $4, $5)", &p, err, err_len);
}

static int
insert_batch(sealed_w *w, uint64_t batch_no, uint64_t first_seq,
    uint64_t last_seq, size_t n, const unsigned char root[VAULT_HASH_BYTES],
    const unsigned char new_head[VAULT_HASH_BYTES],
    const vault_checkpoint *cp, const unsigned char sig[VAULT_SIG_BYTES],
    char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	char bno[24], fseq[24], lseq[24], cnt[24];
	unsigned char signed_at[8];

	snprintf(bno, sizeof(bno), "%llu", (unsigned long long)batch_no);
	snprintf(fseq, sizeof(fseq), "%llu", (unsigned long long)first_seq);
	snprintf(lseq, sizeof(lseq), "%llu", (unsigned long long)last_seq);
	snprintf(cnt, sizeof(cnt), "%zu", n);
	vault_be64_put(signed_at, (uint64_t)(cp->signed_at - PG_EPOCH_US));
	pg_param_bin(&p, w->s->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, w->stream_id, VAULT_ID_BYTES);
	pg_param_text(&p, bno);
	pg_param_text(&p, fseq);
	pg_param_text(&p, lseq);
	pg_param_text(&p, cnt);
	pg_param_bin(&p, w->head, VAULT_HASH_BYTES);
	pg_param_bin(&p, root, VAULT_HASH_BYTES);
	pg_param_bin(&p, new_head, VAULT_HASH_BYTES);
	pg_param_bin(&p, signed_at, 8);
	pg_param_bin(&p, w->s->node_id, VAULT_ID_BYTES);
	pg_param_bin(&p, sig, VAULT_SIG_BYTES);
	return pg_exec(w->conn,
	    "WITH b AS (INSERT INTO coffer.batches (tenant_id, stream_id, "
	    "batch_no, first_seq, last_seq, record_count, prev_head, merkle_root, "
	    "new_head) VALUES ($1::uuid, $2::uuid, $3::bigint, $4::bigint, "
	    "$5::bigint, $6::integer, $7, $8, $9)) "
	    "INSERT INTO coffer.checkpoints (tenant_id, stream_id, batch_no, head, "
	    "last_seq, signed_at, node_id, signature) VALUES ($1::uuid, $2::uuid, "
	    "$3::bigint, $9, $5::bigint, $10::timestamptz, $11::uuid, $12)",
	    &p, err, err_len);
}

static int
sealed_batch(void *wctx, uint64_t first, size_t n, uint64_t *bytes,
    char *err, size_t err_len)
{
	sealed_w *w = wctx;
	const sealed *s = w->s;
	unsigned char root[VAULT_HASH_BYTES], new_head[VAULT_HASH_BYTES];
	unsigned char sig[VAULT_SIG_BYTES];
	long long received_at = util_now_us();
	uint64_t seq = w->seq, batch_no = w->batch_no + 1;
	vault_checkpoint cp;
	size_t i;

	if (epoch_ready(w, err, err_len) != 0)
		return -1;
	if (grow(&w->leaves, &w->leaves_cap, n * VAULT_HASH_BYTES) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	pgcopy_reset(&w->buf);
	pgcopy_header(&w->buf);
	for (i = 0; i < n; i++) {
		if (synth_make(&s->o->syn, first + i, &w->rec) != 0) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		if (seal_row(w, ++seq, received_at,
		    w->leaves + i * VAULT_HASH_BYTES, err, err_len) != 0)
			return -1;
		*bytes += w->rec.line_len;
	}
	pgcopy_trailer(&w->buf);
	if (vault_merkle_root(w->leaves, n, root) != 0 ||
	    vault_chain_next(s->tenant_id, w->stream_id, batch_no, w->seq + 1,
	    seq, w->head, root, new_head) != 0) {
		snprintf(err, err_len, "chain computation failed");
		return -1;
	}
	memset(&cp, 0, sizeof(cp));
	memcpy(cp.tenant_id, s->tenant_id, VAULT_ID_BYTES);
	memcpy(cp.stream_id, w->stream_id, VAULT_ID_BYTES);
	cp.batch_no = batch_no;
	cp.last_seq = seq;
	memcpy(cp.head, new_head, VAULT_HASH_BYTES);
	cp.signed_at = util_now_us();
	if (vault_checkpoint_sign(s->sign_sk, &cp, sig) != 0) {
		snprintf(err, err_len, "signing failed");
		return -1;
	}
	if (pg_begin(w->conn, err, err_len) != 0)
		return -1;
	if ((!w->epoch_in_db && insert_epoch(w, err, err_len) != 0) ||
	    bench_copy_run(w->conn, s->copy_sql, &w->buf, err, err_len) != 0 ||
	    insert_batch(w, batch_no, w->seq + 1, seq, n, root, new_head, &cp,
	    sig, err, err_len) != 0 ||
	    pg_commit(w->conn, err, err_len) != 0) {
		(void)pg_rollback(w->conn);
		return -1;
	}
	w->epoch_in_db = 1;
	w->epoch_count += n;
	w->seq = seq;
	w->batch_no = batch_no;
	memcpy(w->head, new_head, VAULT_HASH_BYTES);
	return 0;
}

static void
sealed_close(void *wctx)
{
	sealed_w *w = wctx;

	if (w == NULL)
		return;
	pg_close(&w->conn);
	vault_epoch_free(&w->epoch);
	synth_rec_clear(&w->rec);
	pgcopy_free(&w->buf);
	free(w->ct);
	free(w->leaves);
	free(w);
}

/* The tenant to write into: an existing one by name, or a new throwaway
 * tenant with a random public key (nobody can ever open its records). */
static int
setup_tenant(PGconn *c, sealed *s, const char *name, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char tname[64], hex[9];
	unsigned char rnd[4];

	if (name != NULL) {
		p.result_binary = 1;
		pg_param_text(&p, name);
		r = pg_query(c, "SELECT t.tenant_id, k.public_key FROM "
		    "coffer.tenants t JOIN coffer.tenant_keys k USING (tenant_id) "
		    "WHERE t.name = $1", &p, err, err_len);
		if (r == NULL)
			return -1;
		if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) != VAULT_ID_BYTES ||
		    PQgetlength(r, 0, 1) != VAULT_POINT_BYTES) {
			snprintf(err, err_len, "tenant %.64s not found (or has no "
			    "key)", name);
			PQclear(r);
			return -1;
		}
		memcpy(s->tenant_id, PQgetvalue(r, 0, 0), VAULT_ID_BYTES);
		memcpy(s->tenant_pk, PQgetvalue(r, 0, 1), VAULT_POINT_BYTES);
		PQclear(r);
		return 0;
	}
	randombytes_buf(rnd, sizeof(rnd));
	util_hex(hex, rnd, sizeof(rnd));
	snprintf(tname, sizeof(tname), "bench-sealed-%s", hex);
	util_uuid_random(s->tenant_id);
	crypto_core_ristretto255_random(s->tenant_pk);
	pg_param_bin(&p, s->tenant_id, VAULT_ID_BYTES);
	pg_param_text(&p, tname);
	return pg_exec(c, "INSERT INTO coffer.tenants (tenant_id, name, "
	    "threshold_k, custodians_n) VALUES ($1::uuid, $2, 2, 3)", &p, err,
	    err_len);
}

static int
setup_node(PGconn *c, sealed *s, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	char name[64], hex[9];
	unsigned char rnd[4];

	if (vault_sign_keypair(s->sign_pk, &s->sign_sk) != 0) {
		snprintf(err, err_len, "signing key generation failed");
		return -1;
	}
	randombytes_buf(rnd, sizeof(rnd));
	util_hex(hex, rnd, sizeof(rnd));
	snprintf(name, sizeof(name), "bench-sealed-%s", hex);
	util_uuid_random(s->node_id);
	pg_param_bin(&p, s->node_id, VAULT_ID_BYTES);
	pg_param_text(&p, name);
	pg_param_bin(&p, s->sign_pk, VAULT_SIGN_PK_BYTES);
	return pg_exec(c, "INSERT INTO coffer.nodes (node_id, name, kind, "
	    "signing_public_key) VALUES ($1::uuid, $2, 'gateway', $3)", &p, err,
	    err_len);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: copy_sealed [--tenant NAME] [--table NAME] "
	    "[--epoch-records N] [options]\n%s", bench_opts_usage());
}

int
main(int argc, char **argv)
{
	static const bench_ops ops = { sealed_open, sealed_batch, sealed_close };
	bench_opts o;
	sealed s;
	const char *tenant = NULL, *table = NULL;
	PGconn *c = NULL;
	char err[512];
	int i, r, rc = 1;

	bench_opts_defaults(&o);
	memset(&s, 0, sizeof(s));
	s.o = &o;
	s.epoch_records = 100000;
	for (i = 1; i < argc; i++) {
		r = bench_opt(&o, argc, argv, &i);
		if (r == 1)
			continue;
		if (r == 0 && strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
			tenant = argv[++i];
			continue;
		}
		if (r == 0 && strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
			table = argv[++i];
			if (strspn(table, "abcdefghijklmnopqrstuvwxyz0123456789_.") !=
			    strlen(table)) {
				fprintf(stderr, "copy_sealed: --table: lower-case "
				    "[schema.]name only\n");
				return 2;
			}
			continue;
		}
		if (r == 0 && strcmp(argv[i], "--epoch-records") == 0 &&
		    i + 1 < argc) {
			s.epoch_records = strtoull(argv[++i], NULL, 10);
			if (s.epoch_records == 0)
				s.epoch_records = 100000;
			continue;
		}
		if (r == 0 && strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (r == 0)
			fprintf(stderr, "copy_sealed: unknown option %s\n", argv[i]);
		usage(stderr);
		return 2;
	}
	if (vault_init() != 0) {
		fprintf(stderr, "copy_sealed: libsodium did not initialise\n");
		return 1;
	}
	if (o.reset)
		fprintf(stderr, "copy_sealed: --reset ignored (coffer.records is "
		    "append-only; use a fresh database)\n");
	if (vault_bik_new(&s.bik) != 0) {
		fprintf(stderr, "copy_sealed: blind-index key generation failed\n");
		return 1;
	}
	c = pg_connect_app(o.conninfo, "copy_sealed", err, sizeof(err));
	if (c == NULL || setup_tenant(c, &s, tenant, err, sizeof(err)) != 0 ||
	    setup_node(c, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "copy_sealed: %s\n", err);
		goto out;
	}
	snprintf(s.copy_sql, sizeof(s.copy_sql), SEALED_COPY_FMT,
	    table ? table : "coffer.records");
	if (table != NULL) {
		char ddl[512];

		snprintf(ddl, sizeof(ddl), "CREATE SCHEMA IF NOT EXISTS bench; "
		    "CREATE TABLE IF NOT EXISTS %s (LIKE coffer.records INCLUDING "
		    "INDEXES INCLUDING STORAGE)", table);
		if (bench_exec(c, "SET client_min_messages = warning", err,
		    sizeof(err)) != 0 || bench_exec(c, ddl, err, sizeof(err)) != 0) {
			fprintf(stderr, "copy_sealed: %s\n", err);
			goto out;
		}
	}
	pg_close(&c);
	rc = bench_drive(&o, &ops, &s, table ? "copy_sealed_bare" :
	    "copy_sealed") == 0 ? 0 : 1;
out:
	pg_close(&c);
	vault_sign_key_free(&s.sign_sk);
	vault_bik_free(&s.bik);
	return rc;
}
