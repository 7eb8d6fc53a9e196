/* api/production.c — a matter's sealed production: threshold release of
 * the epoch keys, decryption of the in-scope records, RSMF 2.0 + JSONL +
 * manifest in a tar, streamed through the sealed container (the contract is
 * in production.h, the container in vault/production.h).
 *
 * Trusts: the database for the matter, its approvals and the records — but
 * not blindly: every partial's Chaum-Pedersen proof is verified again here,
 * bound to this tenant, matter and epoch (the approvals table is writable by
 * the API's role; a partial copied from another matter would combine just as
 * well) after the API's one strict parser of stored approvals
 * (api_partials_stored_decode, api/partials.h), a key that does not
 * unwrap fails the build naming the custodian,
 * every record must authenticate under its epoch key with its row's tenant,
 * stream, epoch, seq and receive time (vault_open), and every decrypted
 * record must be JSON.  Trusts vault/ with all key material, and libarchive,
 * jansson and OpenSSL (SHA-256, base64) with formats.
 *
 * Does not: reconstruct the tenant key (only S = t·R per epoch, from K
 * partials, in guarded memory), keep epoch keys or plaintext outside guarded
 * or wiped memory, put plaintext on disk, log or return content, tokens or
 * participant identifiers in errors.
 *
 * Shape of the work: one pass over the scope for the in-scope records'
 * keys in production order (the counts, epochs and checkpoints' streams
 * come from them: each pass is a bitmap scan of the matter's rows), the
 * rows read by key a chunk at a time (the next chunk's
 * query runs while one is processed); each record is
 * decrypted once and fanned out to records.jsonl, the manifest, the
 * current RSMF (events, attachments in its zip and as files of the tar),
 * the conversation's transcripts and the load file (api/prodview.c).  A
 * conversation or UTC day change closes that RSMF into the tar; a
 * conversation change its transcripts.  records.jsonl goes into the tar
 * in parts as they fill (records.jsonl.NNNNNN, api/spool.c: rec_put),
 * hashed as one file.  At the end: its last part, the load file, the cover sheets (every file before them with its SHA-256),
 * the manifest (with those hashes and the cover's) and the statement.  Tar,
 * zip and RFC 5322 headers need sizes and counts before the bytes they
 * describe, so output is held in spools: guarded memory first, and past a
 * bound a temporary file sealed under a per-build key (vault_spool_*).
 * Sealing, writes and every hash of the output (the container's SHA-256,
 * each file's BLAKE2b and SHA-256) run on one writer thread (api/spool.c);
 * decrypted records are read by common/jtext.c, jansson only for what it
 * declines.
 * libarchive writes unblocked (bytes_per_block 0): its own block buffer is
 * malloc'd and freed unwiped, so the tar and zip bytes — plaintext — must
 * go straight from our wiped buffers to the callbacks.  Stored zip entries
 * only: the deflate option (rsmf_deflate) leaves zlib's window unwiped.
 * Entry names are libarchive's own copies (the entry, pax headers, the zip
 * central directory), also freed unwiped, so no name derives from content:
 * fixed names, ordinals, the day of the plaintext sent_at column, and
 * att<n>-<j> (zip) or attachments/<control>-<nn> (tar) for attachments,
 * whose file names go only into the RSMF manifest's "display" and our
 * manifest (`export open` renames the files on the reviewer's machine).
 * The RFC 5322 headers hold only such metadata too.
 *
 * The parts, each over the build's state (api/prodstate.h) and none
 * including this file's header: api/prodscope.c (matter, scope, keys,
 * epochs, partials), api/prodtext.c (times, text in guarded memory),
 * api/spool.c (writer thread, spools, tar, base64) and, over the last two,
 * api/rsmf.c (the RSMF files).  This file keeps the build itself:
 * checkpoints and the proofs of each record, the records cursor,
 * records.jsonl and the manifest, the signed statement, and the entry
 * points of api/production.h.
 */
#include "api/production.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>

#include <archive.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "api/prodscope.h"
#include "api/prodstate.h"
#include "api/prodtext.h"
#include "api/prodview.h"
#include "api/rsmf.h"
#include "api/spool.h"
#include "common/jtext.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/pins.h"
#include "common/util.h"
#include "vault/chain.h"
#include "vault/err.h"
#include "vault/mem.h"
#include "vault/production.h"
#include "vault/seal.h"

#define PR_PROGRESS_EVERY 512ULL
/* Records between reads of the next chunk from the socket (~24 KiB of
 * rows each time, well inside a socket buffer). */
#define PR_CONSUME_EVERY  16
/* Control numbers: one per record, in production order (issue 15.3). */
#define PR_CONTROL_FMT    "CFR%07llu"
/* Guarded memory per spool before it moves to a sealed file. */
#define PR_SPOOL_MEM_SMALL  (64U * 1024U)     /* manifest */
#define PR_SPOOL_MEM_EVENTS (1024U * 1024U)   /* one RSMF's events */
#define PR_SPOOL_MEM_ZIP    (2048U * 1024U)   /* one RSMF's base64 zip */
/* Batches of the records in flight (issue 13.3 proofs): metadata of at
 * least every batch of one FETCH, Merkle trees of a few. */
#define PR_BATCH_CACHE      256U
#define PR_BATCH_MAX        4096U  /* batch entries kept (~3 KiB each) */
/* Merkle trees kept, in bytes (64 bytes a leaf): the rows come in
 * conversation order, so a conversation revisits every batch of its
 * device; a bound below the matter's batches reloaded them per
 * conversation (issue 17.4). 128 MiB: every tree of a 2 M-leaf scope. */
#define PR_TREE_BYTES       (128U * 1024U * 1024U)

/* -- jansson's allocator ------------------------------------------------- */

/* jansson frees through this (api_production_init): parse trees of
 * decrypted records do not linger in the heap. */
static void *
pr_json_malloc(size_t n)
{
	return malloc(n);
}

static void
pr_json_free(void *p)
{
	if (p == NULL)
		return;
	vault_wipe(p, malloc_usable_size(p));
	free(p);
}

void
api_production_init(void)
{
	json_set_alloc_funcs(pr_json_malloc, pr_json_free);
}

/* -- the scope, read once ----------------------------------------------- */

#define PR_SCAN_FETCH 16384     /* keys per FETCH of the scope's cursor */

static long
pr_sepoch_index(prod *P, const unsigned char id[VAULT_ID_BYTES], size_t hint)
{
	size_t i;

	if (hint < P->nsepochs &&
	    memcmp(P->sepochs + hint * VAULT_ID_BYTES, id, VAULT_ID_BYTES) == 0)
		return (long)hint;
	for (i = 0; i < P->nsepochs; i++)
		if (memcmp(P->sepochs + i * VAULT_ID_BYTES, id, VAULT_ID_BYTES) == 0)
			return (long)i;
	if (P->nsepochs == P->sepochs_cap) {
		size_t cap = P->sepochs_cap ? 2 * P->sepochs_cap : 16;
		unsigned char *np = realloc(P->sepochs, cap * VAULT_ID_BYTES);

		if (np == NULL) {
			PERR(P, "out of memory");
			return -1;
		}
		P->sepochs = np;
		P->sepochs_cap = cap;
	}
	memcpy(P->sepochs + P->nsepochs * VAULT_ID_BYTES, id, VAULT_ID_BYTES);
	return (long)P->nsepochs++;
}

/* A uuid[] literal of n ids of 16 bytes at ids (stride bytes apart). */
static char *
pr_uuid_lit(prod *P, const unsigned char *ids, size_t n, size_t stride)
{
	char *lit;
	size_t i, off = 0;

	if ((lit = malloc(n * (UTIL_UUID_STRLEN + 1) + 3)) == NULL) {
		PERR(P, "out of memory");
		return NULL;
	}
	lit[off++] = '{';
	for (i = 0; i < n; i++) {
		if (i > 0)
			lit[off++] = ',';
		util_uuid_format(lit + off, ids + i * stride);
		off += UTIL_UUID_STRLEN;
	}
	lit[off++] = '}';
	lit[off] = '\0';
	return lit;
}

/* Every in-scope record's key, its epoch among P->sepochs, in production
 * order: the build's only pass over the scope (issue 17.4).  With the
 * bounds as parameters the planner ANDs the participants' GIN index with
 * an OR of the (tenant_id, sent_at) and (tenant_id, received_at) indexes:
 * a pass reads the matter's rows (heap pages and all), not the archive,
 * and the epochs, the two counts, the checkpoints' streams and the
 * records' cursor were four such passes.  Counts, epochs and streams are
 * taken from these keys; the rows are read by them, a chunk at a time
 * (pr_stream_records).  36 bytes a record (3.6 MB for 100 000). */
static int
pr_scan_keys(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r = NULL;
	char sql[80];
	size_t hint = 0;
	int i, n, rc = -1;

	pr_scope_params(P, &p);
	if (pg_exec(P->db, "DECLARE coffer_production_scope NO SCROLL CURSOR FOR "
	    "SELECT r.stream_id, r.seq, r.received_at, r.epoch_id "
	    "FROM coffer.records r WHERE " PR_SCOPE " "
	    "ORDER BY r.conversation_token NULLS LAST, r.channel, r.sent_at, "
	    "         r.stream_id, r.seq", &p, P->err, P->err_len) != 0)
		return -1;
	snprintf(sql, sizeof(sql), "FETCH FORWARD %d FROM coffer_production_scope",
	    PR_SCAN_FETCH);
	do {
		pg_params f = PG_PARAMS_INIT;

		f.result_binary = 1;
		if ((r = pg_query(P->db, sql, &f, P->err, P->err_len)) == NULL)
			return -1;
		n = PQntuples(r);
		if (n > 0 && PQnfields(r) != 4) {
			PERR(P, "database: unexpected scope cursor columns");
			goto out;
		}
		if (P->nkeys + (size_t)n > P->keys_cap) {
			size_t cap = P->keys_cap ? 2 * P->keys_cap : PR_SCAN_FETCH;
			pr_key *nk;

			while (cap < P->nkeys + (size_t)n)
				cap *= 2;
			if ((nk = realloc(P->keys, cap * sizeof(*nk))) == NULL) {
				PERR(P, "out of memory");
				goto out;
			}
			P->keys = nk;
			P->keys_cap = cap;
		}
		for (i = 0; i < n; i++) {
			pr_key *k = &P->keys[P->nkeys];
			long e;

			if (PQgetisnull(r, i, 0) || PQgetisnull(r, i, 1) ||
			    PQgetisnull(r, i, 2) || PQgetisnull(r, i, 3) ||
			    PQgetlength(r, i, 0) != VAULT_ID_BYTES ||
			    PQgetlength(r, i, 1) != 8 || PQgetlength(r, i, 2) != 8 ||
			    PQgetlength(r, i, 3) != VAULT_ID_BYTES) {
				PERR(P, "tenant %s: malformed record key", P->tid);
				goto out;
			}
			if ((e = pr_sepoch_index(P, (const unsigned char *)
			    PQgetvalue(r, i, 3), hint)) < 0)
				goto out;
			hint = (size_t)e;
			memcpy(k->stream, PQgetvalue(r, i, 0), VAULT_ID_BYTES);
			memcpy(k->seq, PQgetvalue(r, i, 1), 8);
			memcpy(k->received, PQgetvalue(r, i, 2), 8);
			k->epoch = (uint32_t)e;
			P->nkeys++;
		}
		PQclear(r);
		r = NULL;
	} while (n == PR_SCAN_FETCH);
	if (pg_exec(P->db, "CLOSE coffer_production_scope", NULL, P->err,
	    P->err_len) != 0)
		goto out;
	if ((P->lit_sepochs = pr_uuid_lit(P, P->sepochs, P->nsepochs,
	    VAULT_ID_BYTES)) == NULL)
		goto out;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* After pr_combine: which of the scope's epochs are approved, and the
 * counts (in scope, of those in approved epochs). */
static void
pr_scope_counts(prod *P, unsigned long long *in_scope,
    unsigned long long *approved)
{
	size_t i, j;

	for (i = 0; i < P->nsepochs; i++) {
		P->sapproved[i] = 0;
		for (j = 0; j < P->nepochs; j++)
			if (memcmp(P->epochs[j].id, P->sepochs + i * VAULT_ID_BYTES,
			    VAULT_ID_BYTES) == 0) {
				P->sapproved[i] = P->epochs[j].approved ? 1 : 0;
				break;
			}
	}
	*in_scope = P->nkeys;
	*approved = 0;
	for (i = 0; i < P->nkeys; i++)
		*approved += P->sapproved[P->keys[i].epoch];
}

static int
pr_stream_cmp(const void *a, const void *b)
{
	return memcmp(a, b, VAULT_ID_BYTES);
}

/* uuid[] literal of the streams with records in approved epochs. */
static char *
pr_streams_lit(prod *P)
{
	unsigned char *ids;
	char *lit;
	size_t i, n = 0, u = 0;

	if ((ids = malloc(P->nkeys * VAULT_ID_BYTES + 1)) == NULL) {
		PERR(P, "out of memory");
		return NULL;
	}
	for (i = 0; i < P->nkeys; i++) {
		if (!P->sapproved[P->keys[i].epoch] || (n > 0 &&
		    memcmp(ids + (n - 1) * VAULT_ID_BYTES, P->keys[i].stream,
		    VAULT_ID_BYTES) == 0))
			continue;         /* runs of one stream are common */
		memcpy(ids + n++ * VAULT_ID_BYTES, P->keys[i].stream, VAULT_ID_BYTES);
	}
	if (n > 1)
		qsort(ids, n, VAULT_ID_BYTES, pr_stream_cmp);
	for (i = 0; i < n; i++)
		if (u == 0 || memcmp(ids + (u - 1) * VAULT_ID_BYTES,
		    ids + i * VAULT_ID_BYTES, VAULT_ID_BYTES) != 0)
			memmove(ids + u++ * VAULT_ID_BYTES, ids + i * VAULT_ID_BYTES,
			    VAULT_ID_BYTES);
	lit = pr_uuid_lit(P, ids, u, VAULT_ID_BYTES);
	free(ids);
	return lit;
}

/* -- checkpoints -------------------------------------------- */

static int
pr_ckpt_cmp(const void *a, const void *b)
{
	return memcmp(((const pr_ckpt *)a)->stream, ((const pr_ckpt *)b)->stream,
	    VAULT_ID_BYTES);
}

/* The latest signed checkpoint of every stream with in-scope records: it
 * covers every record of the stream up to its last_seq.  Also the
 * manifest's "checkpoints" array (written to the manifest header). */
static int
pr_load_checkpoints(prod *P, json_t *list)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char *streams;
	int i, n, rc = -1;

	if ((streams = pr_streams_lit(P)) == NULL)
		return -1;
	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	pg_param_text(&p, streams);
	p.result_binary = 1;
	r = pg_query(P->db,
	    "SELECT DISTINCT ON (c.stream_id) c.stream_id, c.batch_no, c.last_seq, "
	    "       c.head, c.signed_at, c.signature, c.node_id, n.name, "
	    "       n.signing_public_key "
	    "FROM coffer.checkpoints c JOIN coffer.nodes n ON n.node_id = c.node_id "
	    "WHERE c.tenant_id = $1::uuid AND c.stream_id = ANY ($2::uuid[]) "
	    "ORDER BY c.stream_id, c.batch_no DESC", &p, P->err, P->err_len);
	free(streams);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0 && (P->ckpts = calloc((size_t)n, sizeof(pr_ckpt))) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		pr_ckpt *c = &P->ckpts[i];
		char sid[PR_UUID_LIT], nid[PR_UUID_LIT], head[65], sig[129], npk[65];
		char at[PR_TIME_MAX];
		long long signed_us;
		json_t *o;

		if (PQgetlength(r, i, 0) != VAULT_ID_BYTES ||
		    PQgetlength(r, i, 1) != 8 || PQgetlength(r, i, 2) != 8 ||
		    PQgetlength(r, i, 3) != VAULT_HASH_BYTES ||
		    PQgetlength(r, i, 4) != 8 || PQgetlength(r, i, 5) != VAULT_SIG_BYTES ||
		    PQgetlength(r, i, 6) != VAULT_ID_BYTES ||
		    PQgetlength(r, i, 8) != VAULT_SIGN_PK_BYTES) {
			PERR(P, "tenant %s: malformed checkpoint row", P->tid);
			goto out;
		}
		memcpy(c->stream, PQgetvalue(r, i, 0), VAULT_ID_BYTES);
		c->batch_no = vault_be64_get(PQgetvalue(r, i, 1));
		c->last_seq = vault_be64_get(PQgetvalue(r, i, 2));
		signed_us = (int64_t)vault_be64_get(PQgetvalue(r, i, 4)) + PG_EPOCH_US;
		util_uuid_format(sid, c->stream);
		util_uuid_format(nid, (const unsigned char *)PQgetvalue(r, i, 6));
		util_hex(head, (const unsigned char *)PQgetvalue(r, i, 3),
		    VAULT_HASH_BYTES);
		util_hex(sig, (const unsigned char *)PQgetvalue(r, i, 5),
		    VAULT_SIG_BYTES);
		util_hex(npk, (const unsigned char *)PQgetvalue(r, i, 8),
		    VAULT_SIGN_PK_BYTES);
		pr_time(at, signed_us);
		snprintf(c->json, sizeof(c->json), "{\"batch_no\":%llu,\"last_seq\":"
		    "%llu,\"head\":\"%s\",\"signature\":\"%s\",\"node\":\"%s\"}",
		    c->batch_no, c->last_seq, head, sig, nid);
		o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:I,s:s,s:s,s:s,s:s}",
		    "stream", sid, "batch_no", (json_int_t)c->batch_no,
		    "last_seq", (json_int_t)c->last_seq, "head", head,
		    "signed_at", at, "signed_at_us", (json_int_t)signed_us,
		    "node", nid, "node_name", PQgetvalue(r, i, 7),
		    "node_public_key", npk, "signature", sig);
		if (o == NULL || json_array_append_new(list, o) != 0) {
			PERR(P, "out of memory");
			goto out;
		}
	}
	P->nckpts = (size_t)n;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* -- proofs: batches, their trees and checkpoints (issue 13.3) ------------------ */

static void
pr_tree_drop(prod *P, pr_batch *b)
{
	if (b->tree == NULL)
		return;
	if (b->n > 0)
		P->tree_bytes -= vault_merkle_tree_nodes(b->n) * VAULT_HASH_BYTES;
	free(b->tree);
	b->tree = NULL;
}

/* The leaves of a batch in seq order (records and the tombstones purge
 * left in their place) into its tree.  The tree's root and the chain head
 * must be the stored ones: a build never vouches for a batch that does not
 * verify. */
static int
pr_batch_tree(prod *P, pr_batch *b, const unsigned char prev_head[VAULT_HASH_BYTES],
    const unsigned char root[VAULT_HASH_BYTES],
    const unsigned char new_head[VAULT_HASH_BYTES], const char *sid,
    const pr_ahead *a)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r = NULL;
	const PGresult *lr;
	unsigned char head[VAULT_HASH_BYTES];
	char bn[24], s0[24], s1[24];
	size_t i, n, nodes;
	int rc = -1, l0, c0, ln;

	n = (size_t)(b->last_seq - b->first_seq + 1);
	if ((nodes = vault_merkle_tree_nodes(n)) == 0) {
		PERR(P, "stream %s batch %llu: impossible size", sid, b->batch_no);
		return -1;
	}
	if (a != NULL) {
		/* read ahead (pr_batches_ahead): rows (i, seq, leaf_hash) */
		lr = P->ah_leaves;
		l0 = a->lstart;
		ln = a->lcount;
		c0 = 1;
		goto leaves;
	}
	snprintf(bn, sizeof(bn), "%llu", b->batch_no);
	snprintf(s0, sizeof(s0), "%llu", b->first_seq);
	snprintf(s1, sizeof(s1), "%llu", b->last_seq);
	pg_param_text(&p, P->tid);
	pg_param_text(&p, sid);
	pg_param_text(&p, bn);
	pg_param_text(&p, s0);
	pg_param_text(&p, s1);
	p.result_binary = 1;
	/* The batch's seq range on the primary keys (tenant, stream, seq):
	 * an index range of the batch's own rows, not a scan of the stream.
	 * A row of the range with another batch_no is left out and fails
	 * the count below; an in-scope row that claims this batch outside
	 * its range fails pr_proofs_for. */
	r = pg_query(P->db, "SELECT seq, leaf_hash FROM coffer.records "
	    "WHERE tenant_id = $1::uuid AND stream_id = $2::uuid AND "
	    "seq BETWEEN $4::int8 AND $5::int8 AND batch_no = $3::int8 "
	    "UNION ALL SELECT seq, leaf_hash FROM "
	    "coffer.tombstones WHERE tenant_id = $1::uuid AND "
	    "stream_id = $2::uuid AND seq BETWEEN $4::int8 AND $5::int8 AND "
	    "batch_no = $3::int8 ORDER BY 1", &p,
	    P->err, P->err_len);
	if (r == NULL)
		return -1;
	lr = r;
	l0 = 0;
	ln = PQntuples(r);
	c0 = 0;
leaves:
	if ((size_t)ln != n) {
		PERR(P, "stream %s batch %llu: %d leaves for seq %llu..%llu "
		    "(tampered?)", sid, b->batch_no, ln, b->first_seq, b->last_seq);
		goto out;
	}
	if (pr_grow(P, &P->lbuf, &P->lbuf_cap, nodes * VAULT_HASH_BYTES) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		int row = l0 + (int)i;

		if (PQgetlength(lr, row, c0) != 8 ||
		    PQgetlength(lr, row, c0 + 1) != VAULT_HASH_BYTES ||
		    (unsigned long long)vault_be64_get(PQgetvalue(lr, row, c0)) !=
		    b->first_seq + i) {
			PERR(P, "stream %s batch %llu: leaves do not cover seq "
			    "%llu..%llu (tampered?)", sid, b->batch_no, b->first_seq,
			    b->last_seq);
			goto out;
		}
		memcpy(P->lbuf + i * VAULT_HASH_BYTES, PQgetvalue(lr, row, c0 + 1),
		    VAULT_HASH_BYTES);
	}
	if ((b->tree = malloc(nodes * VAULT_HASH_BYTES)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	b->n = n;
	P->tree_bytes += nodes * VAULT_HASH_BYTES;
	if (vault_merkle_tree(P->lbuf, n, b->tree) != 0 ||
	    memcmp(b->tree + (nodes - 1) * VAULT_HASH_BYTES, root,
	    VAULT_HASH_BYTES) != 0) {
		PERR(P, "stream %s batch %llu: the Merkle root of its leaves "
		    "differs from the stored root (tampered?)", sid, b->batch_no);
		goto out;
	}
	if (vault_chain_next(P->tenant_id, b->stream, b->batch_no, b->first_seq,
	    b->last_seq, prev_head, root, head) != 0 ||
	    memcmp(head, new_head, VAULT_HASH_BYTES) != 0) {
		PERR(P, "stream %s batch %llu: the chain head does not recompute "
		    "(tampered?)", sid, b->batch_no);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0 && b->tree != NULL) {
		pr_tree_drop(P, b);
	}
	PQclear(r);
	return rc;
}

/* Batch row and its checkpoint into b (b->stream, b->batch_no set). */
static const pr_ahead *
pr_ahead_find(const prod *P, const pr_batch *b)
{
	size_t i;

	for (i = 0; i < P->nah; i++)
		if (P->ah[i].row >= 0 && P->ah[i].batch_no == b->batch_no &&
		    memcmp(P->ah[i].stream, b->stream, VAULT_ID_BYTES) == 0)
			return &P->ah[i];
	return NULL;
}

#define PR_BATCH_COLS \
	"b.first_seq, b.last_seq, b.prev_head, b.merkle_root, b.new_head, " \
	"c.head, c.last_seq, c.signed_at, c.signature, c.node_id, n.name "
#define PR_BATCH_JOIN \
	"LEFT JOIN coffer.checkpoints c ON c.tenant_id = b.tenant_id AND " \
	"     c.stream_id = b.stream_id AND c.batch_no = b.batch_no " \
	"LEFT JOIN coffer.nodes n ON n.node_id = c.node_id "

static int
pr_batch_load(prod *P, pr_batch *b)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *own = NULL;
	const PGresult *r;
	const pr_ahead *a = pr_ahead_find(P, b);
	int row = 0;
	char sid[PR_UUID_LIT], bn[24], ph[65], rt[65], hd[65], sig[129];
	char nid[PR_UUID_LIT], *name = NULL;
	unsigned char prev[VAULT_HASH_BYTES], root[VAULT_HASH_BYTES];
	unsigned char nh[VAULT_HASH_BYTES];
	int rc = -1, i;
	static const int len[11] = { 8, 8, VAULT_HASH_BYTES, VAULT_HASH_BYTES,
	    VAULT_HASH_BYTES, VAULT_HASH_BYTES, 8, 8, VAULT_SIG_BYTES,
	    VAULT_ID_BYTES, -1 };

	util_uuid_format(sid, b->stream);
	if (a != NULL) {
		r = P->ah_rows;
		row = a->row;
	} else {
		snprintf(bn, sizeof(bn), "%llu", b->batch_no);
		pg_param_text(&p, P->tid);
		pg_param_text(&p, sid);
		pg_param_text(&p, bn);
		p.result_binary = 1;
		own = pg_query(P->db, "SELECT " PR_BATCH_COLS
		    "FROM coffer.batches b " PR_BATCH_JOIN
		    "WHERE b.tenant_id = $1::uuid AND b.stream_id = $2::uuid AND "
		    "      b.batch_no = $3::int8", &p, P->err, P->err_len);
		if (own == NULL)
			return -1;
		r = own;
		if (PQntuples(r) != 1) {
			PERR(P, "stream %s batch %llu: no batch row (tampered?)", sid,
			    b->batch_no);
			goto out;
		}
	}
	for (i = 0; i < 11; i++) {
		if (i < 5 && PQgetisnull(r, row, i))
			goto bad;
		if (!PQgetisnull(r, row, i) && len[i] >= 0 &&
		    PQgetlength(r, row, i) != len[i])
			goto bad;
	}
	b->first_seq = (unsigned long long)vault_be64_get(PQgetvalue(r, row, 0));
	b->last_seq = (unsigned long long)vault_be64_get(PQgetvalue(r, row, 1));
	if (b->last_seq < b->first_seq)
		goto bad;
	memcpy(prev, PQgetvalue(r, row, 2), sizeof(prev));
	memcpy(root, PQgetvalue(r, row, 3), sizeof(root));
	memcpy(nh, PQgetvalue(r, row, 4), sizeof(nh));
	util_hex(ph, prev, sizeof(prev));
	util_hex(rt, root, sizeof(root));
	if (PQgetisnull(r, row, 5) || PQgetisnull(r, row, 10)) {
		snprintf(b->ck, sizeof(b->ck), "null");
	} else {
		json_t *js = json_string(PQgetvalue(r, row, 10));

		name = js != NULL ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
		json_decref(js);
		if (name == NULL) {
			PERR(P, "out of memory");
			goto out;
		}
		util_hex(hd, (const unsigned char *)PQgetvalue(r, row, 5),
		    VAULT_HASH_BYTES);
		util_hex(sig, (const unsigned char *)PQgetvalue(r, row, 8),
		    VAULT_SIG_BYTES);
		util_uuid_format(nid, (const unsigned char *)PQgetvalue(r, row, 9));
		if ((size_t)snprintf(b->ck, sizeof(b->ck), "{\"batch_no\":%llu,"
		    "\"last_seq\":%llu,\"head\":\"%s\",\"signed_at_us\":%lld,"
		    "\"node\":\"%s\",\"node_name\":%s,\"signature\":\"%s\"}",
		    b->batch_no,
		    (unsigned long long)vault_be64_get(PQgetvalue(r, row, 6)), hd,
		    (long long)((int64_t)vault_be64_get(PQgetvalue(r, row, 7)) +
		    PG_EPOCH_US),
		    nid, name, sig) >= sizeof(b->ck))
			goto bad;
	}
	if ((size_t)snprintf(b->json, sizeof(b->json), "\"batch\":{\"batch_no\":"
	    "%llu,\"first_seq\":%llu,\"last_seq\":%llu,\"prev_head\":\"%s\","
	    "\"root\":\"%s\"},\"checkpoint\":%s", b->batch_no, b->first_seq,
	    b->last_seq, ph, rt, b->ck) >= sizeof(b->json))
		goto bad;
	rc = pr_batch_tree(P, b, prev, root, nh, sid, a);
	goto out;
bad:
	PERR(P, "stream %s batch %llu: malformed batch or checkpoint row", sid,
	    b->batch_no);
out:
	free(name);
	PQclear(own);
	return rc;
}

/* Index of the batch in P->batches, or SIZE_MAX. */
static size_t
pr_batch_find(const prod *P, const unsigned char stream[VAULT_ID_BYTES],
    unsigned long long batch_no)
{
	const pr_batch *b;
	size_t i;

	/* consecutive rows of a conversation mostly share a batch */
	i = P->last_batch;
	if (i < P->nbatches && P->batches[i].batch_no == batch_no &&
	    memcmp(P->batches[i].stream, stream, VAULT_ID_BYTES) == 0)
		return i;
	for (i = 0; i < P->nbatches; i++) {
		b = &P->batches[i];
		if (b->batch_no == batch_no &&
		    memcmp(b->stream, stream, VAULT_ID_BYTES) == 0)
			return i;
	}
	return SIZE_MAX;
}

/* Index of the batch in P->batches, loaded (with its tree) if need be.
 * Entries used by the current FETCH (P->gen) are never evicted: rows of
 * it refer to them by index. */
static long
pr_batch_get(prod *P, const unsigned char stream[VAULT_ID_BYTES],
    unsigned long long batch_no)
{
	pr_batch *b;
	size_t i, victim = SIZE_MAX, old;
	int loaded = 0;

	if ((i = pr_batch_find(P, stream, batch_no)) == SIZE_MAX) {
		/* a slot: a new one, or (past PR_BATCH_MAX) the least recent
		 * not used now */
		if (P->nbatches == P->cap_batches) {
			size_t j;

			if (P->nbatches >= PR_BATCH_MAX)
				for (j = 0; j < P->nbatches; j++)
					if (P->batches[j].used < P->gen &&
					    (victim == SIZE_MAX || P->batches[j].used <
					    P->batches[victim].used))
						victim = j;
			if (victim == SIZE_MAX) {
				size_t cap = P->cap_batches ? 2 * P->cap_batches :
				    PR_BATCH_CACHE;
				pr_batch *nb = realloc(P->batches, cap * sizeof(*nb));

				if (nb == NULL) {
					PERR(P, "out of memory");
					return -1;
				}
				P->batches = nb;
				P->cap_batches = cap;
			}
		}
		if (victim != SIZE_MAX) {
			i = victim;
			pr_tree_drop(P, &P->batches[i]);
		} else {
			i = P->nbatches++;
		}
		b = &P->batches[i];
		memset(b, 0, sizeof(*b));
		memcpy(b->stream, stream, VAULT_ID_BYTES);
		b->batch_no = batch_no;
		if (pr_batch_load(P, b) != 0) {
			b->batch_no = ULLONG_MAX;   /* never matches */
			b->used = 0;
			return -1;
		}
		loaded = 1;
	} else if (P->batches[i].tree == NULL) {
		b = &P->batches[i];
		if (pr_batch_load(P, b) != 0)
			return -1;
		loaded = 1;
	}
	b = &P->batches[i];
	b->used = P->gen;
	b->tree_used = ++P->tick;
	P->last_batch = i;
	/* trees within PR_TREE_BYTES: the least recently used go first */
	while (loaded && P->tree_bytes > PR_TREE_BYTES) {
		size_t j;

		for (old = SIZE_MAX, j = 0; j < P->nbatches; j++)
			if (P->batches[j].tree != NULL && j != i && (old == SIZE_MAX ||
			    P->batches[j].tree_used < P->batches[old].tree_used))
				old = j;
		if (old == SIZE_MAX)
			break;
		pr_tree_drop(P, &P->batches[old]);
	}
	return (long)i;
}

static void
pr_ahead_clear(prod *P)
{
	PQclear(P->ah_rows);
	PQclear(P->ah_leaves);
	P->ah_rows = P->ah_leaves = NULL;
	P->nah = 0;
}

/* The batches that rows of this FETCH need and that are not held (with
 * their trees), read in two queries for all of them: their rows and
 * checkpoints, then their leaves in batch and seq order.  pr_batch_load
 * takes them from here, with every check it makes of one it reads
 * itself; a batch not found here it reads itself (and fails as before).
 * A single missing batch is left to it.  Rows that are malformed are
 * skipped here and refused by the caller. */
static int
pr_batches_ahead(prod *P, const PGresult *r, int n)
{
	pg_params p = PG_PARAMS_INIT;
	char *ids = NULL, *nos = NULL;
	size_t i, j, off = 0;
	int k, rc = -1;

	pr_ahead_clear(P);
	for (k = 0; k < n; k++) {
		const unsigned char *st = (const unsigned char *)PQgetvalue(r, k, 0);
		unsigned long long bno;
		size_t bi;

		if (PQgetlength(r, k, 0) != VAULT_ID_BYTES ||
		    PQgetlength(r, k, 3) != 8)
			continue;
		bno = (unsigned long long)vault_be64_get(PQgetvalue(r, k, 3));
		bi = pr_batch_find(P, st, bno);
		if (bi != SIZE_MAX && P->batches[bi].tree != NULL)
			continue;
		for (j = P->nah; j > 0; j--)
			if (P->ah[j - 1].batch_no == bno &&
			    memcmp(P->ah[j - 1].stream, st, VAULT_ID_BYTES) == 0)
				break;
		if (j > 0)
			continue;
		memset(&P->ah[P->nah], 0, sizeof(P->ah[P->nah]));
		memcpy(P->ah[P->nah].stream, st, VAULT_ID_BYTES);
		P->ah[P->nah].batch_no = bno;
		P->ah[P->nah].row = -1;
		P->nah++;
	}
	if (P->nah < 2) {
		P->nah = 0;
		return 0;
	}
	if ((ids = pr_uuid_lit(P, P->ah[0].stream, P->nah, sizeof(pr_ahead))) ==
	    NULL)
		goto out;
	if ((nos = malloc(P->nah * 21 + 3)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	nos[off++] = '{';
	for (i = 0; i < P->nah; i++)
		off += (size_t)sprintf(nos + off, "%s%llu", i ? "," : "",
		    P->ah[i].batch_no);
	nos[off++] = '}';
	nos[off] = '\0';
	pg_param_text(&p, P->tid);
	pg_param_text(&p, ids);
	pg_param_text(&p, nos);
	p.result_binary = 1;
	P->ah_rows = pg_query(P->db, "SELECT " PR_BATCH_COLS ", k.i "
	    "FROM unnest($2::uuid[], $3::int8[]) WITH ORDINALITY "
	    "     AS k(stream_id, batch_no, i) "
	    "JOIN coffer.batches b ON b.tenant_id = $1::uuid AND "
	    "     b.stream_id = k.stream_id AND b.batch_no = k.batch_no "
	    PR_BATCH_JOIN, &p, P->err, P->err_len);
	if (P->ah_rows == NULL)
		goto out;
	/* the leaves: as pr_batch_tree reads one batch's, by the seq range
	 * of its batch row on the primary key */
	P->ah_leaves = pg_query(P->db, "SELECT k.i, x.seq, x.leaf_hash "
	    "FROM unnest($2::uuid[], $3::int8[]) WITH ORDINALITY "
	    "     AS k(stream_id, batch_no, i) "
	    "JOIN coffer.batches b ON b.tenant_id = $1::uuid AND "
	    "     b.stream_id = k.stream_id AND b.batch_no = k.batch_no "
	    "CROSS JOIN LATERAL (SELECT seq, leaf_hash FROM coffer.records "
	    "  WHERE tenant_id = $1::uuid AND stream_id = k.stream_id AND "
	    "  seq BETWEEN b.first_seq AND b.last_seq AND batch_no = k.batch_no "
	    "  UNION ALL SELECT seq, leaf_hash FROM coffer.tombstones "
	    "  WHERE tenant_id = $1::uuid AND stream_id = k.stream_id AND "
	    "  seq BETWEEN b.first_seq AND b.last_seq AND "
	    "  batch_no = k.batch_no) x "
	    "ORDER BY k.i, x.seq", &p, P->err, P->err_len);
	if (P->ah_leaves == NULL)
		goto out;
	for (k = 0; k < PQntuples(P->ah_rows); k++) {
		unsigned long long o;

		if (PQgetlength(P->ah_rows, k, 11) != 8)
			continue;
		o = (unsigned long long)vault_be64_get(PQgetvalue(P->ah_rows, k, 11));
		if (o >= 1 && o <= P->nah)
			P->ah[o - 1].row = k;
	}
	for (k = 0; k < PQntuples(P->ah_leaves); k++) {
		unsigned long long o;

		if (PQgetlength(P->ah_leaves, k, 0) != 8)
			continue;
		o = (unsigned long long)vault_be64_get(PQgetvalue(P->ah_leaves, k, 0));
		if (o < 1 || o > P->nah)
			continue;
		if (P->ah[o - 1].lcount++ == 0)
			P->ah[o - 1].lstart = k;
	}
	rc = 0;
out:
	free(ids);
	free(nos);
	if (rc != 0)
		pr_ahead_clear(P);
	return rc;
}

/* Before the rows of a FETCH are processed (and before the next FETCH is
 * sent: the queries share the connection): each row's batch and path. */
static int
pr_proofs_for(prod *P, const PGresult *r, int n)
{
	int i;

	P->gen++;
	/* a proof and at most one batch to read ahead a row */
	if ((size_t)n > P->rowp_cap) {
		pr_rowproof *np = realloc(P->rowp, (size_t)n * sizeof(*np));
		pr_ahead *na;

		if (np == NULL) {
			PERR(P, "out of memory");
			return -1;
		}
		P->rowp = np;
		if ((na = realloc(P->ah, (size_t)n * sizeof(*na))) == NULL) {
			PERR(P, "out of memory");
			return -1;
		}
		P->ah = na;
		P->rowp_cap = (size_t)n;
	}
	if (pr_batches_ahead(P, r, n) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		pr_rowproof *rp = &P->rowp[i];
		unsigned long long seq, batch;
		char sid[PR_UUID_LIT];
		pr_batch *b;
		long bi;

		if (PQgetlength(r, i, 0) != VAULT_ID_BYTES ||
		    PQgetlength(r, i, 1) != 8 || PQgetlength(r, i, 3) != 8 ||
		    PQgetlength(r, i, 10) != VAULT_HASH_BYTES) {
			PERR(P, "tenant %s: malformed record row", P->tid);
			return -1;
		}
		seq = (unsigned long long)vault_be64_get(PQgetvalue(r, i, 1));
		batch = (unsigned long long)vault_be64_get(PQgetvalue(r, i, 3));
		if ((bi = pr_batch_get(P, (const unsigned char *)PQgetvalue(r, i, 0),
		    batch)) < 0)
			return -1;
		b = &P->batches[bi];
		util_uuid_format(sid, b->stream);
		if (seq < b->first_seq || seq > b->last_seq ||
		    memcmp(b->tree + (seq - b->first_seq) * VAULT_HASH_BYTES,
		    PQgetvalue(r, i, 10), VAULT_HASH_BYTES) != 0) {
			PERR(P, "record %s:%llu is not a leaf of its batch %llu "
			    "(tampered?)", sid, seq, batch);
			return -1;
		}
		rp->batch = (size_t)bi;
		rp->leaf_index = (size_t)(seq - b->first_seq);
		if (vault_merkle_path(b->tree, b->n, rp->leaf_index, rp->path,
		    &rp->path_len) != 0) {
			PERR(P, "record %s:%llu: no inclusion path", sid, seq);
			return -1;
		}
	}
	pr_ahead_clear(P);
	return 0;
}

/* -- records ------------------------------------------------------------------------ */

/* Cursor columns: stream_id, seq, epoch_id, batch_no, received_at, sent_at,
 * channel, conversation_token, nonce, ciphertext, leaf_hash, size_class,
 * participant_tokens (bytea[] in array_send's binary form, or NULL: read
 * by pr_tokens; a per-row subquery that joined them cost PostgreSQL 11 %
 * of its time in a build), dedup_token (binary). */
#define PR_COLS 14
static const int pr_col_len[PR_COLS] = {
	VAULT_ID_BYTES, 8, VAULT_ID_BYTES, 8, 8, 8, -1, VAULT_TOKEN_BYTES,
	VAULT_NONCE_BYTES, -1, VAULT_HASH_BYTES, 2, -1, VAULT_TOKEN_BYTES
};

#define PR_OID_BYTEA   17U
#define PR_TOKENS_MAX  4096U    /* participants of one record, at most */

static uint32_t
pr_be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	    (uint32_t)p[3];
}

/* The row's participant tokens (a one-dimensional bytea[] of 16-byte
 * elements, no NULL, or NULL or empty: none), back to back in P->tok.
 * *n: how many.  0, or -1: malformed. */
static int
pr_tokens(prod *P, const PGresult *r, int row, size_t *n)
{
	const unsigned char *a = (const unsigned char *)PQgetvalue(r, row, 12);
	size_t len = (size_t)PQgetlength(r, row, 12), i, cnt, off;
	uint32_t ndim;

	*n = 0;
	if (PQgetisnull(r, row, 12))
		return 0;
	if (len < 12)
		return -1;
	ndim = pr_be32_get(a);
	if (pr_be32_get(a + 4) != 0 || pr_be32_get(a + 8) != PR_OID_BYTEA)
		return -1;
	if (ndim == 0)
		return len == 12 ? 0 : -1;
	if (ndim != 1 || len < 20 || pr_be32_get(a + 16) != 1)
		return -1;
	cnt = pr_be32_get(a + 12);
	if (cnt > PR_TOKENS_MAX || len != 20 + cnt * (4 + VAULT_TOKEN_BYTES))
		return -1;
	if (cnt * VAULT_TOKEN_BYTES > P->tok_cap) {
		unsigned char *np = realloc(P->tok, cnt * VAULT_TOKEN_BYTES);

		if (np == NULL)
			return -1;
		P->tok = np;
		P->tok_cap = cnt * VAULT_TOKEN_BYTES;
	}
	for (i = 0, off = 20; i < cnt; i++, off += 4 + VAULT_TOKEN_BYTES) {
		if (pr_be32_get(a + off) != VAULT_TOKEN_BYTES)
			return -1;
		memcpy(P->tok + i * VAULT_TOKEN_BYTES, a + off + 4,
		    VAULT_TOKEN_BYTES);
	}
	*n = cnt;
	return 0;
}

/* A record's proof fields (api/production.h), after its "channel":
 * everything its leaf hash covers, the record key, and the path to its
 * batch's signed head.  The leaf hash is recomputed here first: a row that
 * does not match its own leaf hash is never vouched for. */
static int
pr_proof_fields(prod *P, pr_text *lt, const PGresult *r, int row,
    const vault_record_ad *ad, const vault_epoch *ep, long long sent_us,
    const char *sid, unsigned long long seq)
{
	const pr_rowproof *rp = &P->rowp[row];
	const pr_batch *b = &P->batches[rp->batch];
	unsigned char rk[VAULT_RECORD_KEY_BYTES], lh[VAULT_HASH_BYTES];
	char hex[2 * VAULT_HASH_BYTES + 1], rkhex[2 * VAULT_RECORD_KEY_BYTES + 1];
	char num[64];
	vault_leaf lf;
	size_t i, np, ct_len = (size_t)PQgetlength(r, row, 9);
	const unsigned char *u;
	int rc = -1, ok;

	if (pr_tokens(P, r, row, &np) != 0) {
		PERR(P, "tenant %s: malformed record row", P->tid);
		return -1;
	}
	memset(&lf, 0, sizeof(lf));
	memcpy(lf.tenant_id, ad->tenant_id, VAULT_ID_BYTES);
	memcpy(lf.stream_id, ad->stream_id, VAULT_ID_BYTES);
	lf.seq = seq;
	memcpy(lf.epoch_id, ad->epoch_id, VAULT_ID_BYTES);
	lf.received_at = ad->received_at;
	lf.sent_at = sent_us;
	lf.channel = PQgetvalue(r, row, 6);
	lf.channel_len = (size_t)PQgetlength(r, row, 6);
	u = (const unsigned char *)PQgetvalue(r, row, 11);
	if (((unsigned)u[0] << 8 | u[1]) > 255) {
		PERR(P, "tenant %s: malformed record row", P->tid);
		return -1;
	}
	lf.size_class = (uint8_t)u[1];
	lf.participants = np ? P->tok : NULL;
	lf.participant_count = np;
	lf.conversation = PQgetisnull(r, row, 7) ? NULL :
	    (const unsigned char *)PQgetvalue(r, row, 7);
	memcpy(lf.dedup, PQgetvalue(r, row, 13), VAULT_TOKEN_BYTES);
	memcpy(lf.nonce, PQgetvalue(r, row, 8), VAULT_NONCE_BYTES);
	lf.ciphertext = (const unsigned char *)PQgetvalue(r, row, 9);
	lf.ciphertext_len = ct_len;
	if (vault_leaf_hash(&lf, lh) != 0 ||
	    memcmp(lh, PQgetvalue(r, row, 10), VAULT_HASH_BYTES) != 0) {
		PERR(P, "record %s:%llu: its stored fields do not give its leaf "
		    "hash (tampered row?)", sid, seq);
		return -1;
	}
	if (vault_record_key(ep, ad, rk) != 0) {
		PERR(P, "record %s:%llu: cannot derive its record key", sid, seq);
		return -1;
	}
	util_hex(rkhex, rk, sizeof(rk));
	vault_wipe(rk, sizeof(rk));
	snprintf(num, sizeof(num), "%lld", (long long)ad->received_at);
	ok = tx_str(P, lt, "\",\"matter_id\":\"") == 0 &&
	    tx_str(P, lt, P->mid) == 0 &&
	    tx_str(P, lt, "\",\"received_at_us\":") == 0 && tx_str(P, lt, num) == 0;
	snprintf(num, sizeof(num), "%lld", sent_us);
	ok = ok && tx_str(P, lt, ",\"sent_at_us\":") == 0 && tx_str(P, lt, num) == 0 &&
	    tx_str(P, lt, ",\"size_class\":") == 0 && tx_u64(P, lt, lf.size_class) == 0 &&
	    tx_str(P, lt, ",\"participants\":[") == 0;
	for (i = 0; ok && i < np; i++) {
		util_hex(hex, lf.participants + i * VAULT_TOKEN_BYTES,
		    VAULT_TOKEN_BYTES);
		ok = tx_str(P, lt, i ? ",\"" : "\"") == 0 && tx_str(P, lt, hex) == 0 &&
		    tx_str(P, lt, "\"") == 0;
	}
	ok = ok && tx_str(P, lt, "],\"conversation\":") == 0;
	if (ok && lf.conversation != NULL) {
		util_hex(hex, lf.conversation, VAULT_TOKEN_BYTES);
		ok = tx_str(P, lt, "\"") == 0 && tx_str(P, lt, hex) == 0 &&
		    tx_str(P, lt, "\"") == 0;
	} else if (ok) {
		ok = tx_str(P, lt, "null") == 0;
	}
	util_hex(hex, lf.dedup, VAULT_TOKEN_BYTES);
	ok = ok && tx_str(P, lt, ",\"dedup\":\"") == 0 && tx_str(P, lt, hex) == 0;
	util_hex(hex, lf.nonce, VAULT_NONCE_BYTES);
	ok = ok && tx_str(P, lt, "\",\"nonce\":\"") == 0 && tx_str(P, lt, hex) == 0 &&
	    tx_str(P, lt, "\",\"ciphertext\":\"") == 0 &&
	    tx_reserve(P, lt, 4 * ((ct_len + 2) / 3) + 1) == 0;
	if (ok) {
		if (ct_len > INT_MAX / 2) {
			PERR(P, "record %s:%llu is too large", sid, seq);
			goto out;
		}
		lt->len += (size_t)EVP_EncodeBlock(lt->p + lt->len, lf.ciphertext,
		    (int)ct_len);
	}
	ok = ok && tx_str(P, lt, "\",\"record_key\":\"") == 0 &&
	    tx_str(P, lt, rkhex) == 0 &&
	    tx_str(P, lt, "\",\"proof\":{\"leaf_index\":") == 0 &&
	    tx_u64(P, lt, rp->leaf_index) == 0 &&
	    tx_str(P, lt, ",\"leaf_count\":") == 0 && tx_u64(P, lt, b->n) == 0 &&
	    tx_str(P, lt, ",\"path\":[") == 0;
	for (i = 0; ok && i < rp->path_len; i++) {
		util_hex(hex, rp->path + i * VAULT_HASH_BYTES, VAULT_HASH_BYTES);
		ok = tx_str(P, lt, i ? ",\"" : "\"") == 0 && tx_str(P, lt, hex) == 0 &&
		    tx_str(P, lt, "\"") == 0;
	}
	ok = ok && tx_str(P, lt, "],") == 0 && tx_str(P, lt, b->json) == 0 &&
	    tx_str(P, lt, "}") == 0;
	rc = ok ? 0 : -1;
out:
	vault_wipe(rkhex, sizeof(rkhex));
	return rc;
}

static int
pr_record(prod *P, const PGresult *r, int row)
{
	vault_record_ad ad;
	const vault_epoch *ep;
	const char *ck;
	json_t *rec = NULL;
	json_error_t je;
	char sid[PR_UUID_LIT], eid[PR_UUID_LIT], leaf[65], recv[PR_TIME_MAX];
	char sent[PR_TIME_MAX], evid[PR_UUID_LIT + 24], receipt[160];
	char channel[PR_CHANNEL_MAX];
	pr_text *lt = &P->ltext;
	const unsigned char *conv;
	unsigned long long seq, batch;
	long long recv_us, sent_us;
	size_t ct_len, pt_len = 0;
	int n, rc = -1;

	/* Fixed sizes (-1: variable); only the conversation may be NULL. */
	for (n = 0; n < PR_COLS; n++) {
		if (PQgetisnull(r, row, n) ? n != 7 && n != 12 :
		    (pr_col_len[n] >= 0 && PQgetlength(r, row, n) != pr_col_len[n]))
			goto bad;
	}
	if (PQgetlength(r, row, 6) <= 0 ||
	    PQgetlength(r, row, 6) >= (int)PR_CHANNEL_MAX ||
	    PQgetlength(r, row, 9) < (int)VAULT_SEAL_OVERHEAD)
		goto bad;
	memset(&ad, 0, sizeof(ad));
	ad.version = VAULT_RECORD_V1;
	memcpy(ad.tenant_id, P->tenant_id, VAULT_ID_BYTES);
	memcpy(ad.stream_id, PQgetvalue(r, row, 0), VAULT_ID_BYTES);
	memcpy(ad.epoch_id, PQgetvalue(r, row, 2), VAULT_ID_BYTES);
	seq = (unsigned long long)vault_be64_get(PQgetvalue(r, row, 1));
	batch = (unsigned long long)vault_be64_get(PQgetvalue(r, row, 3));
	recv_us = (int64_t)vault_be64_get(PQgetvalue(r, row, 4)) + PG_EPOCH_US;
	sent_us = (int64_t)vault_be64_get(PQgetvalue(r, row, 5)) + PG_EPOCH_US;
	ad.seq = seq;
	ad.received_at = recv_us;
	memcpy(channel, PQgetvalue(r, row, 6), (size_t)PQgetlength(r, row, 6));
	channel[PQgetlength(r, row, 6)] = '\0';
	conv = PQgetisnull(r, row, 7) ? NULL :
	    (const unsigned char *)PQgetvalue(r, row, 7);
	ct_len = (size_t)PQgetlength(r, row, 9);
	/* Consecutive records mostly share stream and epoch. */
	if (P->last_sid[0] == '\0' ||
	    memcmp(P->last_stream, ad.stream_id, VAULT_ID_BYTES) != 0) {
		memcpy(P->last_stream, ad.stream_id, VAULT_ID_BYTES);
		util_uuid_format(P->last_sid, ad.stream_id);
	}
	if (P->last_eid[0] == '\0' ||
	    memcmp(P->last_epoch, ad.epoch_id, VAULT_ID_BYTES) != 0) {
		memcpy(P->last_epoch, ad.epoch_id, VAULT_ID_BYTES);
		util_uuid_format(P->last_eid, ad.epoch_id);
	}
	memcpy(sid, P->last_sid, sizeof(sid));
	memcpy(eid, P->last_eid, sizeof(eid));
	util_hex(leaf, (const unsigned char *)PQgetvalue(r, row, 10),
	    VAULT_HASH_BYTES);

	if ((ep = pr_epoch_open(P, ad.epoch_id)) == NULL)
		return -1;
	if (pr_grow(P, &P->pt, &P->pt_cap, ct_len) != 0 ||
	    pr_grow(P, &P->js, &P->js_cap, ct_len) != 0)
		return -1;
	if (vault_open(ep, &ad, (const unsigned char *)PQgetvalue(r, row, 8),
	    (const unsigned char *)PQgetvalue(r, row, 9), ct_len, P->pt, P->pt_cap,
	    &pt_len) != 0) {
		PERR(P, "record %s:%llu does not decrypt under its epoch key "
		    "(tampered row?)", sid, seq);
		return -1;
	}
	/* Authenticated, canonical (gateway-made) JSON: read without
	 * jansson's lexer (common/jtext.h) unless it declines. */
	rec = jtext_load((const char *)P->pt, pt_len, (char *)P->js);
	vault_wipe(P->js, pt_len);
	if (rec == NULL)
		rec = json_loadb((const char *)P->pt, pt_len, 0, &je);
	if (rec == NULL || !json_is_object(rec)) {
		PERR(P, "record %s:%llu: decrypted content is not a JSON object",
		    sid, seq);
		goto out;
	}
	pr_time(recv, recv_us);
	pr_time(sent, sent_us);
	snprintf(receipt, sizeof(receipt), "%s:%llu:%s", sid, seq, leaf);
	snprintf(evid, sizeof(evid), "%s:%llu", sid, seq);

	/* Its control number, then the RSMF event (and its attachments, as
	 * files of their own: P->ratt). */
	snprintf(P->control, sizeof(P->control), PR_CONTROL_FMT,
	    P->res.records + 1);
	json_array_clear(P->ratt);
	if (pr_group_for(P, conv, channel, sent_us) != 0 ||
	    pr_event(P, rec, evid, receipt, sent_us) != 0)
		goto out;

	/* records.jsonl: receipt fields, then the canonical record as sealed
	 * (compact JSON from the gateway: embedded as it is). */
	lt = &P->ltext;
	tx_clear(lt);
	if (tx_str(P, lt, "{\"receipt\":\"") != 0 || tx_str(P, lt, receipt) != 0 ||
	    tx_str(P, lt, "\",\"stream\":\"") != 0 || tx_str(P, lt, sid) != 0 ||
	    tx_str(P, lt, "\",\"seq\":") != 0 || tx_u64(P, lt, seq) != 0 ||
	    tx_str(P, lt, ",\"leaf_hash\":\"") != 0 || tx_str(P, lt, leaf) != 0 ||
	    tx_str(P, lt, "\",\"batch_no\":") != 0 || tx_u64(P, lt, batch) != 0 ||
	    tx_str(P, lt, ",\"epoch_id\":\"") != 0 || tx_str(P, lt, eid) != 0 ||
	    tx_str(P, lt, "\",\"received_at\":\"") != 0 || tx_str(P, lt, recv) != 0 ||
	    tx_str(P, lt, "\",\"sent_at\":\"") != 0 || tx_str(P, lt, sent) != 0 ||
	    tx_str(P, lt, "\",\"channel\":\"") != 0 || tx_str(P, lt, channel) != 0 ||
	    pr_proof_fields(P, lt, r, row, &ad, ep, sent_us, sid, seq) != 0 ||
	    tx_str(P, lt, ",\"record\":") != 0 || tx_put(P, lt, P->pt, pt_len) != 0 ||
	    tx_str(P, lt, "}\n") != 0 || rec_put(P, lt->p, lt->len) != 0)
		goto out;
	tx_clear(lt);

	/* manifest.json: one receipt a line, with its batch's checkpoint. */
	ck = P->batches[P->rowp[row].batch].ck;
	if (tx_str(P, lt, P->res.records > 0 ? ",\n{\"stream\":\"" :
	    "{\"stream\":\"") != 0 || tx_str(P, lt, sid) != 0 ||
	    tx_str(P, lt, "\",\"seq\":") != 0 || tx_u64(P, lt, seq) != 0 ||
	    tx_str(P, lt, ",\"leaf_hash\":\"") != 0 || tx_str(P, lt, leaf) != 0 ||
	    tx_str(P, lt, "\",\"batch_no\":") != 0 || tx_u64(P, lt, batch) != 0 ||
	    tx_str(P, lt, ",\"checkpoint\":") != 0 ||
	    tx_str(P, lt, ck) != 0 ||
	    tx_str(P, lt, ",\"control\":\"") != 0 ||
	    tx_str(P, lt, P->control) != 0 ||
	    tx_str(P, lt, "\",\"attachments\":") != 0 ||
	    tx_json(P, lt, P->ratt) != 0 ||
	    tx_str(P, lt, "}") != 0 ||
	    spool_put(P, &P->manifest, lt->p, lt->len) != 0)
		goto out;
	tx_clear(lt);

	/* Transcript and load file. */
	if (pr_view_record(P, rec, channel, sent_us, receipt, leaf) != 0)
		goto out;
	P->res.records++;
	rc = 0;
	goto out;
bad:
	PERR(P, "tenant %s: malformed record row", P->tid);
	return -1;
out:
	json_decref(rec);
	tx_clear(lt);
	vault_wipe(P->pt, pt_len);
	return rc;
}

static void
pr_progress(prod *P)
{
	if (P->progress != NULL)
		P->progress(P->progress_arg, P->res.records, P->total);
}

/* The records in production order (issue 17.4): the keys of the in-scope
 * rows were sorted once (pr_scan_keys) — the primary key's (stream_id,
 * seq) prefix and received_at, which pins a row even where received_at
 * joins the key — and the rows, ciphertext included, are read by those
 * keys, a chunk at a time, through the primary key.  Sorting whole rows
 * spilled the ciphertext of the matter to a temporary file and read it
 * back.  The next chunk's query is in flight while one is processed, so
 * PostgreSQL and the decryption overlap.  Keys of epochs not approved
 * are skipped (the manifest counts them as excluded). */
#define PR_OID_UUID    2950U
#define PR_OID_INT8    20U
#define PR_OID_TSTZ    1184U

typedef struct pr_keys {
	size_t         pos;           /* next key in P->keys */
	unsigned char *arr[3];        /* binary uuid[], int8[], timestamptz[] */
	size_t         len[3], cap[3];
} pr_keys;

static void
pr_be32_put(unsigned char *d, uint32_t v)
{
	d[0] = (unsigned char)(v >> 24);
	d[1] = (unsigned char)(v >> 16);
	d[2] = (unsigned char)(v >> 8);
	d[3] = (unsigned char)v;
}

/* One-dimensional binary array (PostgreSQL's array_send format) of n
 * elements of elen bytes each, filled in by the caller after the header. */
static unsigned char *
pr_array_begin(prod *P, pr_keys *k, int a, uint32_t oid, size_t elen, int n)
{
	size_t need = 20 + (size_t)n * (4 + elen), i;
	unsigned char *d;

	if (need > k->cap[a]) {
		unsigned char *np = realloc(k->arr[a], need);

		if (np == NULL) {
			PERR(P, "out of memory");
			return NULL;
		}
		k->arr[a] = np;
		k->cap[a] = need;
	}
	d = k->arr[a];
	pr_be32_put(d, 1);                  /* dimensions */
	pr_be32_put(d + 4, 0);              /* no NULLs */
	pr_be32_put(d + 8, oid);
	pr_be32_put(d + 12, (uint32_t)n);
	pr_be32_put(d + 16, 1);             /* lower bound */
	for (i = 0; i < (size_t)n; i++)
		pr_be32_put(d + 20 + i * (4 + elen), (uint32_t)elen);
	k->len[a] = need;
	return d + 20;
}

/* Send the query for the next chunk of up to rows keys (of approved
 * epochs); *sent 0 when no key is left. */
static int
pr_rows_send(prod *P, pr_keys *k, int rows, int *sent)
{
	static const char *sql =
	    "SELECT r.stream_id, r.seq, r.epoch_id, r.batch_no, r.received_at, "
	    "       r.sent_at, r.channel, r.conversation_token, r.nonce, "
	    "       r.ciphertext, r.leaf_hash, r.size_class, "
	    "       r.participant_tokens, r.dedup_token "
	    "FROM ROWS FROM (pg_catalog.unnest($2::uuid[]), "
	    "                pg_catalog.unnest($3::int8[]), "
	    "                pg_catalog.unnest($4::timestamptz[])) "
	    "     WITH ORDINALITY AS k(stream_id, seq, received_at, o) "
	    "JOIN coffer.records r ON r.tenant_id = $1::uuid "
	    " AND r.stream_id = k.stream_id AND r.seq = k.seq "
	    " AND r.received_at = k.received_at "
	    "ORDER BY k.o";
	const char *values[4];
	int lengths[4], formats[4] = { 1, 1, 1, 1 };
	unsigned char *u, *q, *t;
	size_t end, pos;
	int i, n;

	*sent = 0;
	for (n = 0, end = k->pos; end < P->nkeys && n < rows; end++)
		n += P->sapproved[P->keys[end].epoch];
	if (n == 0) {
		k->pos = end;
		return 0;
	}
	if ((u = pr_array_begin(P, k, 0, PR_OID_UUID, VAULT_ID_BYTES, n)) == NULL ||
	    (q = pr_array_begin(P, k, 1, PR_OID_INT8, 8, n)) == NULL ||
	    (t = pr_array_begin(P, k, 2, PR_OID_TSTZ, 8, n)) == NULL)
		return -1;
	for (i = 0, pos = k->pos; pos < end; pos++) {
		const pr_key *key = &P->keys[pos];

		if (!P->sapproved[key->epoch])
			continue;
		memcpy(u + (size_t)i * (4 + VAULT_ID_BYTES) + 4, key->stream,
		    VAULT_ID_BYTES);
		memcpy(q + (size_t)i * 12 + 4, key->seq, 8);
		memcpy(t + (size_t)i * 12 + 4, key->received, 8);
		i++;
	}
	k->pos = end;
	values[0] = (const char *)P->tenant_id;
	lengths[0] = VAULT_ID_BYTES;
	for (i = 0; i < 3; i++) {
		values[i + 1] = (const char *)k->arr[i];
		lengths[i + 1] = (int)k->len[i];
	}
	if (PQsendQueryParams(P->db, sql, 4, NULL, values, lengths, formats,
	    1) != 1) {
		PERR(P, "database: %s", PQerrorMessage(P->db));
		return -1;
	}
	*sent = n;
	return 0;
}

static int
pr_stream_records(prod *P)
{
	pr_keys k;
	PGresult *r = NULL, *next = NULL;
	int i, n, sent = 0, want, rc = -1, rows = P->opts != NULL &&
	    P->opts->fetch_rows > 0 ? P->opts->fetch_rows :
	    API_PRODUCTION_FETCH_ROWS;

	memset(&k, 0, sizeof(k));
	if (pr_rows_send(P, &k, rows, &sent) != 0)
		goto out;
	while (sent > 0) {
		/* Collect the chunk in flight. */
		want = sent;
		r = PQgetResult(P->db);
		while ((next = PQgetResult(P->db)) != NULL)
			PQclear(next);
		if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
			const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
			    : NULL;

			PERR(P, "database: reading records failed: %s", m ? m :
			    PQerrorMessage(P->db));
			goto out;
		}
		n = PQntuples(r);
		if (n != want) {
			PERR(P, "database: %d of %d records read by key", n, want);
			goto out;
		}
		if (PQnfields(r) != PR_COLS) {
			PERR(P, "database: unexpected record columns");
			goto out;
		}
		/* Proofs (and the next keys) need queries of their own: before
		 * the next chunk's query. */
		if (pr_proofs_for(P, r, n) != 0 ||
		    pr_rows_send(P, &k, rows, &sent) != 0)
			goto out;
		for (i = 0; i < n; i++) {
			if (pr_record(P, r, i) != 0)
				goto out;
			if (P->res.records % PR_PROGRESS_EVERY == 0)
				pr_progress(P);
			/* Take in what the next chunk's query has sent: a chunk
			 * is ~3x a socket buffer, and a server that cannot send
			 * waits, so without this the chunk was mostly read at
			 * PQgetResult, with the build waiting (issue 17.4).  A
			 * failure shows at PQgetResult. */
			if (sent > 0 && i % PR_CONSUME_EVERY == PR_CONSUME_EVERY - 1)
				(void)PQconsumeInput(P->db);
		}
		PQclear(r);
		r = NULL;
	}
	rc = 0;
out:
	if (rc != 0 && sent > 0) {
		/* Drain the query in flight before giving up. */
		while ((next = PQgetResult(P->db)) != NULL)
			PQclear(next);
	}
	PQclear(r);
	for (i = 0; i < 3; i++)
		free(k.arr[i]);
	return rc;
}

/* -- top level ---------------------------------------------------------------------- */

static int
pr_count(prod *P, unsigned long long *records, unsigned long long *epochs,
    const char *epochs_lit)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int rc = -1;

	pr_scope_params(P, &p);
	pg_param_text(&p, epochs_lit);
	r = pg_query(P->db, "SELECT count(*), count(DISTINCT r.epoch_id) "
	    "FROM coffer.records r WHERE " PR_SCOPE
	    " AND ($7::uuid[] IS NULL OR r.epoch_id = ANY ($7::uuid[]))",
	    &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		*records = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		if (epochs != NULL)
			*epochs = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static void
prod_free(prod *P)
{
	size_t i;

	pr_group_clear(P);
	pr_view_free(P);
	for (i = 0; i < PR_EPOCH_CACHE; i++)
		vault_epoch_free(&P->cache[i].e);
	if (P->S != NULL)
		vault_secure_free(P->S);       /* wipes every S */
	for (i = 0; i < P->nepochs; i++) {
		free(P->epochs[i].partials);
	}
	free(P->epochs);
	free(P->ckpts);
	free(P->keys);
	free(P->sepochs);
	free(P->sapproved);
	free(P->lit_sepochs);
	for (i = 0; i < P->nbatches; i++)
		free(P->batches[i].tree);
	free(P->batches);
	free(P->rowp);
	pr_ahead_clear(P);
	free(P->ah);
	if (P->lbuf != NULL)
		vault_secure_free(P->lbuf);
	vault_hasher_free(&P->fh);
	json_decref(P->files);
	free(P->public_shares);
	while (P->gens != NULL && P->ngens > 0)
		free(P->gens[--P->ngens].public_shares);
	free(P->gens);
	if (P->seed != NULL)
		vault_secure_free(P->seed);
	if (P->Sb != NULL)
		vault_secure_free(P->Sb);
	free(P->custodians);
	free(P->lit_channels);
	free(P->lit_parts);
	free(P->lit_convs);
	free(P->lit_epochs);
	json_decref(P->scope_summary);
	if (P->rpart != NULL)
		vault_secure_free(P->rpart);    /* wipes */
	vault_hasher_free(&P->rh);
	EVP_MD_CTX_free(P->rsha);
	spool_close(&P->manifest);
	spool_close(&P->events);
	spool_close(&P->zipsp);
	vault_spool_key_free(&P->skey);
	if (P->tar != NULL) {
		P->aborting = 1;              /* see pr_group_clear */
		archive_write_free(P->tar);
	}
	vault_stream_writer_free(&P->container);
	wq_stop(&P->wq);
	wq_free(&P->wq);
	if (P->pt != NULL)
		vault_secure_free(P->pt);
	if (P->js != NULL)
		vault_secure_free(P->js);
	free(P->tok);
	if (P->att != NULL)
		vault_secure_free(P->att);
	free(P->iobuf);
	tx_free(&P->evtext);
	tx_free(&P->ltext);
	if (P->line != NULL) {
		vault_wipe(P->line, P->line_cap);
		free(P->line);
	}
	free(P->dir);
	free(P->tmp_path);
}

/* manifest.sig: the statement (every file's hash, the container header's
 * hash, the recipient) and the API node's signature of its exact bytes. */
static int
pr_statement(prod *P)
{
	unsigned char hdr[VAULT_PROD_HEADER_BYTES], h[VAULT_HASH_BYTES];
	unsigned char kid[VAULT_BOX_KEYID_BYTES], sig[VAULT_SIG_BYTES];
	char hh[2 * VAULT_HASH_BYTES + 1], kh[2 * VAULT_BOX_KEYID_BYTES + 1];
	char sh[2 * VAULT_SIG_BYTES + 1], *stmt = NULL;
	json_t *o;
	size_t n;
	int rc = -1;

	/* the files' hashes are the writer thread's until it is idle */
	if (wq_drain(&P->wq) != 0) {
		PERR(P, "%s: %s", P->tmp_path, wq_error(&P->wq));
		return -1;
	}
	if (vault_prod_writer_header(P->container, hdr) != 0) {
		PERR(P, "production: no container header");
		return -1;
	}
	vault_hasher_update(P->fh, hdr, sizeof(hdr));
	vault_hasher_final(P->fh, h);
	util_hex(hh, h, sizeof(h));
	vault_box_key_id(P->requester_pk, kid);
	util_hex(kh, kid, sizeof(kid));
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:O}",
	    "format", "coffer-production-statement-1",
	    "node_name", P->opts->node_name, "tenant_id", P->tid,
	    "matter_id", P->mid, "recipient_key_id", kh, "container_header", hh,
	    "record_count", (json_int_t)P->res.records, "files", P->files);
	if (o == NULL || (stmt = json_dumps(o, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	n = strlen(stmt);
	if (vault_production_sign(P->opts->sign_sk, (const unsigned char *)stmt,
	    n, sig) != 0) {
		PERR(P, "production: signing the statement failed");
		goto out;
	}
	util_hex(sh, sig, sizeof(sig));
	P->fh_active = 0;
	if (tar_entry(P, "manifest.sig", n + 1 + 2 * VAULT_SIG_BYTES + 1, 0) != 0)
		goto out;
	P->fh_active = 0;                  /* not a file of its own statement */
	if (tar_put(P, stmt, n) != 0 || tar_put(P, "\n", 1) != 0 ||
	    tar_put(P, sh, 2 * VAULT_SIG_BYTES) != 0 || tar_put(P, "\n", 1) != 0)
		goto out;
	rc = 0;
out:
	free(stmt);
	json_decref(o);
	return rc;
}

int
api_production_load_signer(const char *path, unsigned char **sk_out,
    char *err, size_t err_len)
{
	unsigned char *data = NULL, pk[VAULT_SIGN_PK_BYTES];
	int rc = -1;

	if (sk_out == NULL)
		return -1;
	*sk_out = NULL;
	if (path == NULL || path[0] == '\0') {
		vault_err_set(err, err_len, "no signing_key_file");
		return -1;
	}
	if (keyfile_load(path, VAULT_SIGN_SK_BYTES, &data, err,
	    err_len) != 0)
		return -1;
	if (vault_sign_key_from_seed(data, pk, sk_out) != 0)
		vault_err_set(err, err_len, "%.300s: unusable key", path);
	else if (memcmp(pk, data + VAULT_SIGN_SEED_BYTES, sizeof(pk)) != 0) {
		vault_sign_key_free(sk_out);
		vault_err_set(err, err_len, "%.300s: the public key does not match the "
		    "seed", path);
	} else
		rc = 0;
	vault_secure_free(data);
	return rc;
}

/* The manifest's first line: everything but the records. */
static char *
pr_manifest_head(prod *P, json_t *ckpts)
{
	json_t *head, *custodians;
	char created[PR_TIME_MAX], *s, *out;
	size_t i, len;

	pr_time(created, P->now_us);
	if ((custodians = json_array()) == NULL)
		return NULL;
	for (i = 0; i < P->ncustodians; i++)
		json_array_append_new(custodians, json_integer(P->custodians[i]));
	head = json_pack("{s:s,s:s,s:s,s:s,s:O,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:O}",
	    "format", "coffer-production-manifest-1",
	    "tenant_id", P->tid, "matter_id", P->mid, "created_at", created,
	    "scope", P->scope_summary, "threshold", (json_int_t)P->k,
	    "custodians", custodians,
	    "epochs", (json_int_t)P->res.epochs,
	    "record_count", (json_int_t)P->res.records,
	    "excluded_records", (json_int_t)P->res.excluded_records,
	    "rsmf_files", (json_int_t)P->res.rsmf_files,
	    "attachments", (json_int_t)P->res.attachments,
	    "checkpoints", ckpts);
	if (head == NULL)
		return NULL;
	/* Issue 15.3: whose production it is (cover sheet), its conversations
	 * and transcripts, and every file before this one with its SHA-256
	 * (the statement in manifest.sig signs this file too). */
	if (json_object_set(head, "matter", P->matter) != 0 ||
	    json_object_set_new(head, "control_numbers", json_pack("{s:s,s:I}",
	    "format", PR_CONTROL_FMT, "count", (json_int_t)P->res.records)) != 0 ||
	    json_object_set(head, "conversations", P->conversations) != 0 ||
	    json_object_set_new(head, "loadfile", json_string("loadfile.csv")) != 0 ||
	    json_object_set_new(head, "cover", json_pack("[ss]", "cover.txt",
	    "cover.html")) != 0 ||
	    json_object_set(head, "files", P->sha_files) != 0) {
		json_decref(head);
		return NULL;
	}
	if (P->has_from || P->has_to) {
		char t[PR_TIME_MAX];

		/* and in µs: export open checks every record's sent_at */
		if (P->has_from) {
			pr_time(t, (int64_t)vault_be64_get(P->time_from) + PG_EPOCH_US);
			json_object_set_new(json_object_get(head, "scope"), "from",
			    json_string(t));
			json_object_set_new(json_object_get(head, "scope"), "from_us",
			    json_integer((int64_t)vault_be64_get(P->time_from) + PG_EPOCH_US));
		}
		if (P->has_to) {
			pr_time(t, (int64_t)vault_be64_get(P->time_to) + PG_EPOCH_US);
			json_object_set_new(json_object_get(head, "scope"), "to",
			    json_string(t));
			json_object_set_new(json_object_get(head, "scope"), "to_us",
			    json_integer((int64_t)vault_be64_get(P->time_to) + PG_EPOCH_US));
		}
	}
	s = json_dumps(head, JSON_COMPACT);
	json_decref(head);
	if (s == NULL)
		return NULL;
	len = strlen(s);
	/* "{...}" becomes "{...,"records":[\n" */
	if ((out = malloc(len + 16)) != NULL) {
		memcpy(out, s, len - 1);
		memcpy(out + len - 1, ",\"records\":[\n", 14);
	}
	/* it holds content now (issue 15.3: conversation names, the matter,
	 * approvers): wiped like every other plaintext buffer */
	vault_wipe(s, len);
	free(s);
	return out;
}

int
api_production_build_ex(PGconn *db, const unsigned char tenant_id[16],
    const unsigned char matter_id[16], const char *out_path,
    api_progress_fn progress, void *arg, const api_production_opts *opts,
    api_production_result *result, char *err, size_t err_len)
{
	prod *P;
	json_t *ckpts = NULL;
	char *mhead = NULL, *slash;
	unsigned long long in_scope = 0;
	unsigned int mdlen = 0;
	long long t0 = util_mono_us(), t1, t2 = 0;
	int rc = -1, in_tx = 0, dfd;
	char e2[256];

	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (result != NULL)
		memset(result, 0, sizeof(*result));
	if (db == NULL || tenant_id == NULL || matter_id == NULL ||
	    out_path == NULL || out_path[0] == '\0') {
		vault_err_set(err, err_len, "production: missing argument");
		return -1;
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if ((P = calloc(1, sizeof(*P))) == NULL) {
		vault_err_set(err, err_len, "out of memory");
		return -1;
	}
	P->out_fd = -1;
	P->manifest.fd = P->events.fd = P->zipsp.fd = -1;
	P->db = db;
	P->err = err != NULL && err_len > 0 ? err : P->errbuf;
	P->err_len = err != NULL && err_len > 0 ? err_len : sizeof(P->errbuf);
	P->err[0] = '\0';
	P->opts = opts;
	P->progress = progress;
	P->progress_arg = arg;
	P->now_us = util_now_us();
	memcpy(P->tenant_id, tenant_id, VAULT_ID_BYTES);
	memcpy(P->matter_id, matter_id, VAULT_ID_BYTES);
	util_uuid_format(P->tid, tenant_id);
	util_uuid_format(P->mid, matter_id);
	if ((P->tmp_path = malloc(strlen(out_path) + 5)) == NULL ||
	    (P->dir = strdup(out_path)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	sprintf(P->tmp_path, "%s.tmp", out_path);
	if ((slash = strrchr(P->dir, '/')) == NULL)
		strcpy(P->dir, ".");
	else if (slash == P->dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	/* Issue 13.3: a production is signed by the API node, with the key
	 * its node pin names, or nobody could open it. */
	if (opts == NULL || opts->sign_sk == NULL || opts->node_name == NULL ||
	    opts->node_name[0] == '\0') {
		PERR(P, "production: no API signing key (set signing_key_file and "
		    "node_name in the API configuration; cofferctl node init makes "
		    "the key): productions are signed by the API");
		goto out;
	}
	if (opts->node_pins_file != NULL && opts->node_pins_file[0] != '\0') {
		pins_nodes *pn = NULL;
		const unsigned char *pk;

		if (pins_nodes_load(opts->node_pins_file, &pn, e2, sizeof(e2)) != 0) {
			PERR(P, "production: node pins: %s", e2);
			goto out;
		}
		pk = pins_nodes_find(pn, opts->node_name);
		if (pk == NULL || memcmp(pk, opts->sign_sk + VAULT_SIGN_SEED_BYTES,
		    VAULT_SIGN_PK_BYTES) != 0) {
			PERR(P, "production: node %.64s is not pinned in %.200s with "
			    "the key of signing_key_file: nobody could open its "
			    "productions", opts->node_name, opts->node_pins_file);
			pins_nodes_free(&pn);
			goto out;
		}
		pins_nodes_free(&pn);
	}
	if (vault_hasher_new(&P->fh) != 0 || (P->files = json_array()) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}

	/* One snapshot for everything: counts, epochs, records, checkpoints. */
	if (pg_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", NULL,
	    P->err, P->err_len) != 0)
		goto out;
	in_tx = 1;
	if (pr_load_scope(P) != 0 || pr_load_keys(P) != 0 ||
	    pr_scan_keys(P) != 0 || pr_load_epochs(P) != 0 ||
	    pr_load_approvals(P) != 0 || pr_combine(P) != 0 ||
	    pr_load_cover(P) != 0)
		goto out;
	if (P->nsepochs > 0 && (P->sapproved = calloc(P->nsepochs, 1)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	pr_scope_counts(P, &in_scope, &P->total);
	P->res.excluded_records = in_scope - P->total;
	if ((ckpts = json_array()) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	if (pr_load_checkpoints(P, ckpts) != 0)
		goto out;
	if (P->nckpts > 0)
		qsort(P->ckpts, P->nckpts, sizeof(pr_ckpt), pr_ckpt_cmp);

	/* Output and spools. */
	(void)unlink(P->tmp_path);             /* a crashed build's leftover */
	P->out_fd = open(P->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (P->out_fd < 0) {
		PERR(P, "%s: %s", P->tmp_path, strerror(errno));
		goto out;
	}
	P->wq.owner = P;
	if (wq_start(&P->wq) != 0) {
		PERR(P, "cannot start the output writer (out of memory?)");
		goto out;
	}
	if (vault_spool_key_new(&P->skey, e2, sizeof(e2)) != 0) {
		PERR(P, "%s", e2);
		goto out;
	}
	P->rpart_cap = opts->records_part_bytes > 0 ? opts->records_part_bytes :
	    API_PRODUCTION_PART_BYTES;
	if (P->rpart_cap < PR_PART_MIN)
		P->rpart_cap = PR_PART_MIN;
	if ((P->rpart = vault_secure_alloc(P->rpart_cap)) == NULL) {
		PERR(P, "cannot allocate %zu bytes of secure memory", P->rpart_cap);
		goto out;
	}
	if (vault_hasher_new(&P->rh) != 0 || (P->rsha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(P->rsha, EVP_sha256(), NULL) != 1) {
		PERR(P, "out of memory");
		goto out;
	}
	if (spool_open(P, &P->manifest, PR_SPOOL_MEM_SMALL) != 0 ||
	    spool_open(P, &P->events, PR_SPOOL_MEM_EVENTS) != 0 ||
	    spool_open(P, &P->zipsp, PR_SPOOL_MEM_ZIP) != 0 ||
	    pr_view_open(P) != 0)
		goto out;
	if (pr_grow(P, &P->att, &P->att_cap, 3 * 16384) != 0)
		goto out;
	if ((P->iobuf = malloc(PR_IO_BYTES)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	if (vault_prod_writer_new(&P->container, P->requester_pk, out_sink, P, e2,
	    sizeof(e2)) != 0) {
		PERR(P, "%s: %s%s%s", P->tmp_path, e2, P->out_errno ? ": " : "",
		    P->out_errno ? strerror(P->out_errno) : "");
		goto out;
	}
	if ((P->tar = archive_write_new()) == NULL ||
	    archive_write_set_format_pax_restricted(P->tar) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(P->tar, 0) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(P->tar, 1) != ARCHIVE_OK ||
	    archive_write_open2(P->tar, P, NULL, tar_write_cb, NULL, NULL) !=
	    ARCHIVE_OK) {
		tar_fail(P, "open");
		goto out;
	}
	if (tar_entry(P, "rsmf/", 0, 1) != 0 ||
	    tar_entry(P, "attachments/", 0, 1) != 0 ||
	    tar_entry(P, "transcripts/", 0, 1) != 0)
		goto out;

	pr_progress(P);
	t1 = util_mono_us();
	P->res.ms_setup = (unsigned long long)(t1 - t0) / 1000ULL;
	if (pr_stream_records(P) != 0 || pr_group_finish(P) != 0)
		goto out;
	t2 = util_mono_us();
	P->res.ms_records = (unsigned long long)(t2 - t1) / 1000ULL;
	if (P->res.records != P->total) {
		PERR(P, "produced %llu records, expected %llu", P->res.records,
		    P->total);
		goto out;
	}

	/* records.jsonl's last part. */
	if (rec_finish(P) != 0)
		goto out;
	/* The last transcript, the load file and the cover sheets (which
	 * list every file before them with its SHA-256). */
	if (pr_view_loadfile(P) != 0 || pr_view_cover(P) != 0)
		goto out;
	/* the files' SHA-256 list is the writer thread's until it is idle */
	if (wq_drain(&P->wq) != 0) {
		PERR(P, "%s: %s", P->tmp_path, wq_error(&P->wq));
		goto out;
	}
	if ((mhead = pr_manifest_head(P, ckpts)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	if (spool_seal(P, &P->manifest) != 0 ||
	    tar_entry(P, "manifest.json", strlen(mhead) +
	    spool_size(&P->manifest) + 3, 0) != 0 || tar_hash_here(P) != 0 ||
	    tar_put(P, mhead, strlen(mhead)) != 0 ||
	    spool_copy(P, &P->manifest, tar_sink, P) != 0 ||
	    tar_put(P, "\n]}", 3) != 0)
		goto out;
	if (pr_file_end(P) != 0 || pr_statement(P) != 0)
		goto out;
	if (archive_write_close(P->tar) != ARCHIVE_OK) {
		tar_fail(P, "close");
		goto out;
	}
	/* the thread has sealed everything queued before the last chunk */
	if (wq_drain(&P->wq) != 0) {
		PERR(P, "%s: %s%s%s", P->tmp_path, wq_error(&P->wq),
		    P->out_errno ? ": " : "",
		    P->out_errno ? strerror(P->out_errno) : "");
		goto out;
	}
	if (vault_stream_finish(P->container, e2, sizeof(e2)) != 0) {
		PERR(P, "%s: %s%s%s", P->tmp_path, e2, P->out_errno ? ": " : "",
		    P->out_errno ? strerror(P->out_errno) : "");
		goto out;
	}
	if (wq_drain(&P->wq) != 0) {
		PERR(P, "%s: %s", P->tmp_path, strerror(errno));
		goto out;
	}
	wq_stop(&P->wq);                   /* the SHA-256 context is ours now */
	if (EVP_DigestFinal_ex(P->wq.sha, P->res.sealed_sha256, &mdlen) != 1 ||
	    mdlen != 32) {
		PERR(P, "SHA-256 failed");
		goto out;
	}
	if (fsync(P->out_fd) != 0 || close(P->out_fd) != 0) {
		P->out_fd = -1;
		PERR(P, "%s: %s", P->tmp_path, strerror(errno));
		goto out;
	}
	P->out_fd = -1;
	if (rename(P->tmp_path, out_path) != 0) {
		PERR(P, "%s: %s", out_path, strerror(errno));
		goto out;
	}
	if ((dfd = open(P->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		(void)close(dfd);
	}
	P->res.sealed_bytes = P->out_bytes;
	P->res.ms_finish = (unsigned long long)(util_mono_us() - t2) / 1000ULL;
	if (pg_exec(db, "COMMIT", NULL, P->err, P->err_len) != 0)
		goto out;
	in_tx = 0;
	pr_progress(P);
	if (result != NULL)
		*result = P->res;
	rc = 0;
out:
	/* The writer thread first: it may hold writes for the fds below. */
	wq_stop(&P->wq);
	if (in_tx)
		(void)pg_exec(db, "ROLLBACK", NULL, NULL, 0);
	if (P->out_fd >= 0)
		(void)close(P->out_fd);
	if (rc != 0 && P->tmp_path != NULL)
		(void)unlink(P->tmp_path);
	if (mhead != NULL) {
		vault_wipe(mhead, strlen(mhead));
		free(mhead);
	}
	json_decref(ckpts);
	prod_free(P);
	free(P);
	return rc;
}

int
api_production_build(PGconn *db, const unsigned char tenant_id[16],
    const unsigned char matter_id[16], const char *out_path,
    void (*progress)(void *arg, unsigned long long done,
                     unsigned long long total),
    void *arg, char *err, size_t err_len)
{
	return api_production_build_ex(db, tenant_id, matter_id, out_path,
	    progress, arg, NULL, NULL, err, err_len);
}

int
api_production_count(PGconn *db, const unsigned char tenant_id[16],
    const unsigned char matter_id[16], unsigned long long *records,
    unsigned long long *epochs, char *err, size_t err_len)
{
	prod P;
	int rc;

	memset(&P, 0, sizeof(P));
	P.db = db;
	P.err = err;
	P.err_len = err_len;
	memcpy(P.tenant_id, tenant_id, VAULT_ID_BYTES);
	memcpy(P.matter_id, matter_id, VAULT_ID_BYTES);
	util_uuid_format(P.tid, tenant_id);
	util_uuid_format(P.mid, matter_id);
	P.out_fd = -1;
	if (P.err == NULL) {
		P.err = P.errbuf;
		P.err_len = sizeof(P.errbuf);
	}
	P.err[0] = '\0';
	rc = pr_load_scope(&P) == 0 && pr_count(&P, records, epochs, NULL) == 0 ?
	    0 : -1;
	free(P.public_shares);
	free(P.lit_channels);
	free(P.lit_parts);
	free(P.lit_convs);
	json_decref(P.scope_summary);
	json_decref(P.matter);
	return rc;
}
