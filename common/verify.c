/* common/verify.c — the archive verifier (what it proves: verify.h).
 *
 * Trusts: nothing the database says about itself.  Every hash is
 * recomputed here from the stored columns, every checkpoint signature is
 * checked against the node's registered public key, and witness files
 * (outside the database) pin heads a DBA could otherwise rewrite.  The
 * database is only trusted to answer queries, and even a lying server
 * cannot forge an Ed25519 signature.
 *
 * Speed: records arrive through binary COPY of one seq range at a time
 * (at most VERIFY_CHUNK_RECORDS rows), so the server produces rows while
 * this process hashes them, no cursor round trips, and memory stays flat.
 * Row fields are used in place in libpq's buffer; the only per-stream
 * buffers (leaf hashes of a batch, participant tokens of a row) grow and
 * are reused.
 *
 * COPY takes no bind parameters: its queries are built with snprintf from
 * uuids this file formatted itself and integers, never from input text.
 *
 * Hazards: libpq cannot abandon a COPY without a cancel that might hit the
 * next statement, so on the first inconsistency the rest of the (bounded)
 * COPY is drained before the transaction is rolled back.
 */
#include "common/verify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "vault/chain.h"

#define V_BATCH_FETCH         1000                /* batch rows per query */
#define VERIFY_CHUNK_RECORDS  65536U              /* seqs per records COPY */
#define V_NAME_MAX            201U                /* tenant and node names */
#define V_WITNESS_LINE_MAX    4096U
#define V_REC_FIELDS          13
#define V_AUDIT_FIELDS        14
#define V_COPY_FIELDS         14                  /* the widest COPY row */

static const unsigned char v_zero[VAULT_HASH_BYTES];

/* -- state ----------------------------------------------------------------- */

typedef struct v_witness {
	unsigned char tenant[VAULT_ID_BYTES];
	unsigned char stream[VAULT_ID_BYTES];
	uint64_t      batch;
	uint64_t      last_seq;
	int64_t       signed_at;
	unsigned char head[VAULT_HASH_BYTES];
	unsigned char sig[VAULT_SIG_BYTES];
	uint32_t      node;          /* index into vctx.names */
	uint32_t      file;          /* index into opts->witness */
	uint32_t      line;
	int           seen;          /* its stream was verified */
} v_witness;

/* One audit head line of a witness file (common/audit.h). */
typedef struct v_awitness {
	unsigned char tenant[VAULT_ID_BYTES];
	uint64_t      event_no;
	unsigned char head[VAULT_HASH_BYTES];
	unsigned char redactions[VAULT_HASH_BYTES];
	unsigned char sig[VAULT_SIG_BYTES];
	uint32_t      node;          /* index into vctx.names */
	uint32_t      file;
	uint32_t      line;
	int           seen;          /* its tenant's chain was verified */
} v_awitness;

/* A registered node (coffer.nodes): audit signers. */
typedef verify_node v_node;

typedef struct v_stream {
	unsigned char tenant[VAULT_ID_BYTES];
	unsigned char stream[VAULT_ID_BYTES];
	unsigned char node_id[VAULT_ID_BYTES];
	unsigned char node_pk[VAULT_SIGN_PK_BYTES];
	int           registered;
	int           has_node;
	char          tenant_name[V_NAME_MAX];
	char          node_name[V_NAME_MAX];
} v_stream;

typedef struct v_purge {
	unsigned char purge_id[VAULT_ID_BYTES];
	uint64_t      records;
	unsigned char root[VAULT_HASH_BYTES];
	int           has_root;
	uint64_t      event_no;
	int           matched;
	/* records dropped with their partitions (0019) */
	uint64_t      part_records;
	unsigned char proot[VAULT_HASH_BYTES];
	int           has_proot;
	int           pmatched;
} v_purge;

/* Batches [lo, hi) of one stream dropped with a partition. */
typedef struct v_cover {
	int64_t lo, hi;
} v_cover;

/* A run of records under one epoch (the first record of the run). */
typedef struct v_epoch_use {
	unsigned char epoch_id[VAULT_ID_BYTES];
	int64_t       batch_no;
	int64_t       seq;
} v_epoch_use;

typedef struct v_tenant {
	unsigned char id[VAULT_ID_BYTES];
	char          name[V_NAME_MAX];
} v_tenant;

/* Reader of one binary COPY TO STDOUT. */
typedef struct v_copy {
	PGconn     *c;
	char       *buf;          /* current CopyData message (libpq's) */
	int         len;
	int         off;
	int         header;       /* header consumed */
	int         active;       /* COPY still open on the connection */
	const char *f[V_COPY_FIELDS];
	int         l[V_COPY_FIELDS];
} v_copy;

typedef struct vctx {
	PGconn             *c;
	const verify_opts  *o;
	verify_report      *r;
	int                 has_tenant;
	unsigned char       tenant[VAULT_ID_BYTES];
	int                 has_stream;
	unsigned char       stream[VAULT_ID_BYTES];
	v_witness          *wit;
	size_t              nwit;
	size_t              wit_cap;
	char              **names;
	size_t              nnames;
	v_stream           *streams;
	size_t              nstreams;
	v_awitness         *awit;
	size_t              nawit;
	size_t              awit_cap;
	v_node             *nodes;
	size_t              nnodes;
	/* where we are, for messages */
	const unsigned char *loc_tenant;
	const char          *loc_tenant_name;
	const unsigned char *loc_stream;
	/* reused buffers */
	unsigned char      *leaves;
	size_t              leaves_cap;     /* in hashes */
	unsigned char      *parts;
	size_t              parts_cap;      /* in bytes */
	v_cover            *cov;            /* this stream's dropped batches */
	size_t              ncov;
	v_epoch_use        *epu;            /* this chunk's epoch runs */
	size_t              nepu;
	size_t              epu_cap;
	/* progress */
	double              t0;
	double              next_progress;
	double              every;
} vctx;

/* -- reporting ------------------------------------------------------------- */

static void
v_locprefix(vctx *v, char *out, size_t cap, int64_t batch, int64_t seq,
    int64_t event_no)
{
	char id[UTIL_UUID_STRLEN + 1], name[V_NAME_MAX];
	char tp[V_NAME_MAX + 64], sp[64], bp[32], qp[32], ep[40];

	tp[0] = sp[0] = bp[0] = qp[0] = ep[0] = '\0';
	if (v->loc_tenant != NULL) {
		util_uuid_format(id, v->loc_tenant);
		if (v->loc_tenant_name != NULL && v->loc_tenant_name[0] != '\0') {
			log_printable(name, sizeof(name), v->loc_tenant_name,
			    strlen(v->loc_tenant_name));
			snprintf(tp, sizeof(tp), "tenant %s (%s)", name, id);
		} else {
			snprintf(tp, sizeof(tp), "tenant %s", id);
		}
	}
	if (v->loc_stream != NULL) {
		util_uuid_format(id, v->loc_stream);
		snprintf(sp, sizeof(sp), " stream %s", id);
	}
	if (batch >= 0)
		snprintf(bp, sizeof(bp), " batch %lld", (long long)batch);
	if (seq >= 0)
		snprintf(qp, sizeof(qp), " seq %lld", (long long)seq);
	if (event_no >= 0)
		snprintf(ep, sizeof(ep), " audit event %lld", (long long)event_no);
	snprintf(out, cap, "%s%s%s%s%s", tp, sp, bp, qp, ep);
	if (out[0] == ' ')
		memmove(out, out + 1, strlen(out));
}

/* First inconsistency: record it with its location; returns -1. */
__attribute__((format(printf, 6, 7)))
static int
v_fail(vctx *v, const char *what, int64_t batch, int64_t seq, int64_t event_no,
    const char *fmt, ...)
{
	verify_report *r = v->r;
	char loc[V_NAME_MAX + 64 + 64 + 32 + 32 + 40], msg[576];
	va_list ap;

	if (r->status != VERIFY_OK)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v_locprefix(v, loc, sizeof(loc), batch, seq, event_no);
	r->status = VERIFY_TAMPERED;
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->message, sizeof(r->message), "%s%s%s", loc,
	    loc[0] != '\0' ? ": " : "", msg);
	if (v->loc_tenant != NULL)
		util_uuid_format(r->tenant_id, v->loc_tenant);
	if (v->loc_stream != NULL)
		util_uuid_format(r->stream_id, v->loc_stream);
	r->batch_no = batch;
	r->seq = seq;
	r->event_no = event_no;
	return -1;
}

/* Could not run; returns -1. */
__attribute__((format(printf, 2, 3)))
static int
v_error(vctx *v, const char *fmt, ...)
{
	va_list ap;

	if (v->r->status != VERIFY_OK)
		return -1;
	v->r->status = VERIFY_ERROR;
	snprintf(v->r->what, sizeof(v->r->what), "error");
	va_start(ap, fmt);
	vsnprintf(v->r->message, sizeof(v->r->message), fmt, ap);
	va_end(ap);
	return -1;
}

static void
v_progress(vctx *v, int force)
{
	verify_progress p;
	double now;

	if (v->o->progress == NULL)
		return;
	now = util_mono_s();
	if (!force && now < v->next_progress)
		return;
	v->next_progress = now + v->every;
	p.records = v->r->records;
	p.tombstones = v->r->tombstones;
	p.batches = v->r->batches;
	p.elapsed_s = now - v->t0;
	v->o->progress(v->o->progress_arg, &p);
}

/* -- buffers --------------------------------------------------------------- */

static int
v_leaves_reserve(vctx *v, size_t n)
{
	unsigned char *p;
	size_t cap;

	if (n <= v->leaves_cap)
		return 0;
	cap = v->leaves_cap > 0 ? v->leaves_cap : 1024;
	while (cap < n) {
		if (cap > SIZE_MAX / 2 / VAULT_HASH_BYTES)
			return v_error(v, "out of memory");
		cap *= 2;
	}
	p = realloc(v->leaves, cap * VAULT_HASH_BYTES);
	if (p == NULL)
		return v_error(v, "out of memory");
	v->leaves = p;
	v->leaves_cap = cap;
	return 0;
}

static int
v_parts_reserve(vctx *v, size_t bytes)
{
	unsigned char *p;
	size_t cap;

	if (bytes <= v->parts_cap)
		return 0;
	cap = v->parts_cap > 0 ? v->parts_cap : 4096;
	while (cap < bytes) {
		if (cap > SIZE_MAX / 2)
			return v_error(v, "out of memory");
		cap *= 2;
	}
	p = realloc(v->parts, cap);
	if (p == NULL)
		return v_error(v, "out of memory");
	v->parts = p;
	v->parts_cap = cap;
	return 0;
}

/* Note the epoch of the record at seq: a new entry when it differs from
 * the previous record's (a lane uses its epochs over contiguous seqs, so a
 * chunk has one or a few; at most one per record on a tampered archive,
 * bounded by VERIFY_CHUNK_RECORDS). */
static int
v_epoch_note(vctx *v, const unsigned char *epoch_id, int64_t batch_no,
    int64_t seq)
{
	v_epoch_use *e;

	if (v->nepu > 0 && memcmp(v->epu[v->nepu - 1].epoch_id, epoch_id,
	    VAULT_ID_BYTES) == 0)
		return 0;
	if (v->nepu == v->epu_cap) {
		size_t cap = v->epu_cap > 0 ? v->epu_cap * 2 : 16;
		v_epoch_use *p;

		if (cap > SIZE_MAX / sizeof(*p))
			return v_error(v, "out of memory");
		p = realloc(v->epu, cap * sizeof(*p));
		if (p == NULL)
			return v_error(v, "out of memory");
		v->epu = p;
		v->epu_cap = cap;
	}
	e = &v->epu[v->nepu++];
	memcpy(e->epoch_id, epoch_id, VAULT_ID_BYTES);
	e->batch_no = batch_no;
	e->seq = seq;
	return 0;
}

/* -- binary COPY reader ---------------------------------------------------- */

/* The server's primary message of res (or the connection's), printable. */
static void
v_pg_message(PGconn *c, const PGresult *res, char *out, size_t cap)
{
	const char *m = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (m == NULL)
		m = PQerrorMessage(c);
	log_printable(out, cap, m, strlen(m));
}

static int
v_copy_start(vctx *v, v_copy *cp, const char *sql)
{
	PGresult *res;
	char line[512];

	memset(cp, 0, sizeof(*cp));
	cp->c = v->c;
	res = PQexec(v->c, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_OUT) {
		v_pg_message(v->c, res, line, sizeof(line));
		PQclear(res);
		return v_error(v, "database: %s", line);
	}
	PQclear(res);
	cp->active = 1;
	return 0;
}

/* After the end of the data: collect the command's final result. */
static int
v_copy_result(vctx *v, v_copy *cp)
{
	PGresult *res;
	int ok = 1;
	char line[512];

	cp->active = 0;
	while ((res = PQgetResult(cp->c)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && ok) {
			v_pg_message(cp->c, res, line, sizeof(line));
			ok = 0;
		}
		PQclear(res);
	}
	if (!ok)
		return v_error(v, "database: %s", line);
	return 0;
}

/* Next row of nf fields into cp->f / cp->l (l = -1: NULL).  1 row, 0 end
 * of data, -1 error.  The row stays valid until the next call. */
static int
v_copy_next(vctx *v, v_copy *cp, int nf)
{
	static const char sig[11] = {
		'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'
	};
	int i, n;

	for (;;) {
		if (cp->buf == NULL || cp->off >= cp->len) {
			if (cp->buf != NULL) {
				PQfreemem(cp->buf);
				cp->buf = NULL;
			}
			if (!cp->active)
				return 0;
			n = PQgetCopyData(cp->c, &cp->buf, 0);
			if (n == -1) {
				cp->buf = NULL;
				return v_copy_result(v, cp) == 0 ? 0 : -1;
			}
			if (n < 0) {
				cp->buf = NULL;
				cp->active = 0;
				(void)v_copy_result(v, cp);
				return v_error(v, "database: COPY failed");
			}
			cp->len = n;
			cp->off = 0;
		}
		if (!cp->header) {
			uint32_t ext;

			if (cp->len - cp->off < 19 ||
			    memcmp(cp->buf + cp->off, sig, sizeof(sig)) != 0)
				return v_error(v, "database: bad COPY header");
			ext = vault_be32_get(cp->buf + cp->off + 15);
			if (ext > (uint32_t)(cp->len - cp->off - 19))
				return v_error(v, "database: bad COPY header");
			cp->off += 19 + (int)ext;
			cp->header = 1;
			continue;
		}
		if (cp->len - cp->off < 2)
			return v_error(v, "database: truncated COPY row");
		n = (int16_t)((unsigned char)cp->buf[cp->off] << 8 |
		    (unsigned char)cp->buf[cp->off + 1]);
		cp->off += 2;
		if (n == -1) {          /* trailer */
			cp->off = cp->len;
			continue;
		}
		if (n != nf)
			return v_error(v, "database: COPY row has %d fields, "
			    "expected %d", n, nf);
		for (i = 0; i < nf; i++) {
			int32_t fl;

			if (cp->len - cp->off < 4)
				return v_error(v, "database: truncated COPY row");
			fl = (int32_t)vault_be32_get(cp->buf + cp->off);
			cp->off += 4;
			if (fl == -1) {
				cp->f[i] = NULL;
				cp->l[i] = -1;
				continue;
			}
			if (fl < 0 || fl > cp->len - cp->off)
				return v_error(v, "database: truncated COPY row");
			cp->f[i] = cp->buf + cp->off;
			cp->l[i] = fl;
			cp->off += fl;
		}
		return 1;
	}
}

/* Read and drop whatever the COPY still has, so the connection is usable. */
static void
v_copy_drain(v_copy *cp)
{
	char *b = NULL;
	PGresult *res;
	int n;

	if (cp->buf != NULL) {
		PQfreemem(cp->buf);
		cp->buf = NULL;
	}
	if (!cp->active)
		return;
	while ((n = PQgetCopyData(cp->c, &b, 0)) >= 0) {
		PQfreemem(b);
		b = NULL;
	}
	while ((res = PQgetResult(cp->c)) != NULL)
		PQclear(res);
	cp->active = 0;
}

/* -- binary result helpers -------------------------------------------------- */

static int
v_i64(const PGresult *res, int row, int col, int64_t *out)
{
	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return -1;
	*out = (int64_t)vault_be64_get(PQgetvalue(res, row, col));
	return 0;
}

static int
v_bytes(const PGresult *res, int row, int col, size_t len,
    const unsigned char **out)
{
	if (PQgetisnull(res, row, col) ||
	    (size_t)PQgetlength(res, row, col) != len)
		return -1;
	*out = (const unsigned char *)PQgetvalue(res, row, col);
	return 0;
}

/* PostgreSQL timestamptz (µs since 2000) -> Unix µs; -1 if out of range. */
static int
v_pgtime(int64_t pg, int64_t *unix_us)
{
	return __builtin_add_overflow(pg, PG_EPOCH_US, unix_us) ? -1 : 0;
}

/* -- witness files ----------------------------------------------------------- */

static int
v_witness_cmp(const void *a, const void *b)
{
	const v_witness *x = a, *y = b;
	int c;

	if ((c = memcmp(x->tenant, y->tenant, VAULT_ID_BYTES)) != 0)
		return c;
	if ((c = memcmp(x->stream, y->stream, VAULT_ID_BYTES)) != 0)
		return c;
	if (x->batch != y->batch)
		return x->batch < y->batch ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
v_name_index(vctx *v, const char *name, uint32_t *out)
{
	char **p;
	size_t i;

	for (i = 0; i < v->nnames; i++)
		if (strcmp(v->names[i], name) == 0) {
			*out = (uint32_t)i;
			return 0;
		}
	p = realloc(v->names, (v->nnames + 1) * sizeof(*p));
	if (p == NULL)
		return -1;
	v->names = p;
	if ((v->names[v->nnames] = strdup(name)) == NULL)
		return -1;
	*out = (uint32_t)v->nnames++;
	return 0;
}

static int
v_json_u64(json_t *o, const char *key, uint64_t *out)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(x);
	return 0;
}

static int
v_json_hex(json_t *o, const char *key, unsigned char *out, size_t len)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_string(x))
		return -1;
	return util_unhex(out, len, json_string_value(x), json_string_length(x));
}

/* One witness line -> w.  0 ok, -1 malformed (field names the first bad
 * field). */
static int
v_witness_parse(vctx *v, const char *line, size_t len, v_witness *w,
    const char **field)
{
	json_error_t jerr;
	json_t *o, *x;
	int rc = -1;

	memset(w, 0, sizeof(*w));
	*field = "JSON";
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o))
		goto done;
	*field = "tenant";
	x = json_object_get(o, "tenant");
	if (!json_is_string(x) || util_uuid_parse(w->tenant,
	    json_string_value(x)) != 0)
		goto done;
	*field = "stream";
	x = json_object_get(o, "stream");
	if (!json_is_string(x) || util_uuid_parse(w->stream,
	    json_string_value(x)) != 0)
		goto done;
	*field = "batch";
	if (v_json_u64(o, "batch", &w->batch) != 0 || w->batch == 0)
		goto done;
	*field = "last_seq";
	if (v_json_u64(o, "last_seq", &w->last_seq) != 0)
		goto done;
	*field = "signed_at";
	x = json_object_get(o, "signed_at");
	if (!json_is_integer(x))
		goto done;
	w->signed_at = (int64_t)json_integer_value(x);
	*field = "head";
	if (v_json_hex(o, "head", w->head, VAULT_HASH_BYTES) != 0)
		goto done;
	*field = "sig";
	if (v_json_hex(o, "sig", w->sig, VAULT_SIG_BYTES) != 0)
		goto done;
	*field = "node";
	x = json_object_get(o, "node");
	if (!json_is_string(x) || json_string_length(x) == 0 ||
	    json_string_length(x) >= V_NAME_MAX ||
	    strlen(json_string_value(x)) != json_string_length(x))
		goto done;
	if (v_name_index(v, json_string_value(x), &w->node) != 0)
		goto done;
	rc = 0;
done:
	json_decref(o);
	return rc;
}

/* An audit head line ({"audit":1,…}) -> w.  1: not an audit line (a
 * gateway checkpoint); 0 ok; -1 malformed (field names the bad field). */
static int
v_awitness_parse(vctx *v, const char *line, size_t len, v_awitness *w,
    const char **field)
{
	json_error_t jerr;
	json_t *o, *x;
	int rc = -1;

	memset(w, 0, sizeof(*w));
	*field = "JSON";
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o))
		goto done;
	if (json_object_get(o, "audit") == NULL) {
		rc = 1;
		goto done;
	}
	*field = "audit";
	x = json_object_get(o, "audit");
	if (!json_is_integer(x) || json_integer_value(x) != 1)
		goto done;
	*field = "tenant";
	x = json_object_get(o, "tenant");
	if (!json_is_string(x) || util_uuid_parse(w->tenant,
	    json_string_value(x)) != 0)
		goto done;
	*field = "event_no";
	if (v_json_u64(o, "event_no", &w->event_no) != 0 || w->event_no == 0)
		goto done;
	*field = "head";
	if (v_json_hex(o, "head", w->head, VAULT_HASH_BYTES) != 0)
		goto done;
	*field = "redactions";
	if (v_json_hex(o, "redactions", w->redactions, VAULT_HASH_BYTES) != 0)
		goto done;
	*field = "sig";
	if (v_json_hex(o, "sig", w->sig, VAULT_SIG_BYTES) != 0)
		goto done;
	*field = "node";
	x = json_object_get(o, "node");
	if (!json_is_string(x) || json_string_length(x) == 0 ||
	    json_string_length(x) >= V_NAME_MAX ||
	    strlen(json_string_value(x)) != json_string_length(x))
		goto done;
	if (v_name_index(v, json_string_value(x), &w->node) != 0)
		goto done;
	rc = 0;
done:
	json_decref(o);
	return rc;
}

static int
v_awitness_add(vctx *v, const v_awitness *w)
{
	if (v->nawit == v->awit_cap) {
		size_t ncap = v->awit_cap == 0 ? 64 : v->awit_cap * 2;
		v_awitness *p = realloc(v->awit, ncap * sizeof(*p));

		if (p == NULL)
			return -1;
		v->awit = p;
		v->awit_cap = ncap;
	}
	v->awit[v->nawit++] = *w;
	return 0;
}

static int
v_awitness_cmp(const void *a, const void *b)
{
	const v_awitness *x = a, *y = b;
	int c;

	if ((c = memcmp(x->tenant, y->tenant, VAULT_ID_BYTES)) != 0)
		return c;
	if (x->event_no != y->event_no)
		return x->event_no < y->event_no ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
v_witness_load(vctx *v)
{
	size_t fi;

	for (fi = 0; fi < v->o->witness_count; fi++) {
		const char *path = v->o->witness[fi];
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		uint32_t lineno = 0;
		FILE *f;

		f = fopen(path, "re");
		if (f == NULL)
			return v_error(v, "witness %s: %s", path, strerror(errno));
		while ((n = getline(&line, &cap, f)) >= 0) {
			v_witness w;
			const char *field = "line too long";
			int terminated = n > 0 && line[n - 1] == '\n';
			size_t len = (size_t)n;

			lineno++;
			while (len > 0 && (line[len - 1] == '\n' ||
			    line[len - 1] == '\r'))
				len--;
			if (len == 0)
				continue;
			if (len <= V_WITNESS_LINE_MAX) {
				v_awitness aw;
				int arc = v_awitness_parse(v, line, len, &aw, &field);

				if (arc < 0 && !terminated)
					break;
				if (arc < 0) {
					free(line);
					fclose(f);
					return v_error(v, "witness %s line %u: "
					    "malformed (%s)", path, lineno, field);
				}
				if (arc == 0) {
					aw.file = (uint32_t)fi;
					aw.line = lineno;
					if (v->has_tenant && memcmp(aw.tenant,
					    v->tenant, VAULT_ID_BYTES) != 0)
						continue;
					if (v_awitness_add(v, &aw) != 0) {
						free(line);
						fclose(f);
						return v_error(v, "out of memory");
					}
					continue;
				}
			}
			if (len > V_WITNESS_LINE_MAX ||
			    v_witness_parse(v, line, len, &w, &field) != 0) {
				/* A gateway killed mid-append leaves a torn
				 * last line: not evidence of anything. */
				if (!terminated)
					break;
				free(line);
				fclose(f);
				return v_error(v, "witness %s line %u: malformed "
				    "(%s)", path, lineno, field);
			}
			if (v->has_tenant &&
			    memcmp(w.tenant, v->tenant, VAULT_ID_BYTES) != 0)
				continue;
			if (v->has_stream &&
			    memcmp(w.stream, v->stream, VAULT_ID_BYTES) != 0)
				continue;
			w.file = (uint32_t)fi;
			w.line = lineno;
			if (v->nwit == v->wit_cap) {
				size_t ncap = v->wit_cap == 0 ? 64 : v->wit_cap * 2;
				v_witness *p = realloc(v->wit, ncap * sizeof(*p));

				if (p == NULL) {
					free(line);
					fclose(f);
					return v_error(v, "out of memory");
				}
				v->wit = p;
				v->wit_cap = ncap;
			}
			v->wit[v->nwit++] = w;
		}
		free(line);
		if (ferror(f)) {
			fclose(f);
			return v_error(v, "witness %s: read error", path);
		}
		fclose(f);
	}
	if (v->nwit > 1)
		qsort(v->wit, v->nwit, sizeof(*v->wit), v_witness_cmp);
	if (v->nawit > 1)
		qsort(v->awit, v->nawit, sizeof(*v->awit), v_awitness_cmp);
	v->r->witness_lines = v->nwit + v->nawit;
	v->r->audit_witness_lines = v->nawit;
	return 0;
}

/* Index of the first witness entry of (tenant, stream), nwit if none. */
static size_t
v_witness_first(const vctx *v, const unsigned char *tenant,
    const unsigned char *stream)
{
	size_t lo = 0, hi = v->nwit;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const v_witness *w = &v->wit[mid];
		int c = memcmp(w->tenant, tenant, VAULT_ID_BYTES);

		if (c == 0)
			c = memcmp(w->stream, stream, VAULT_ID_BYTES);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
v_witness_same_stream(const v_witness *w, const v_stream *s)
{
	return memcmp(w->tenant, s->tenant, VAULT_ID_BYTES) == 0 &&
	    memcmp(w->stream, s->stream, VAULT_ID_BYTES) == 0;
}

/* -- scope: tenants and streams ----------------------------------------------- */

static int
v_resolve_filters(vctx *v)
{
	const verify_opts *o = v->o;

	if (o->stream != NULL) {
		if (util_uuid_parse(v->stream, o->stream) != 0)
			return v_error(v, "--stream must be a stream uuid");
		v->has_stream = 1;
	}
	if (o->tenant != NULL) {
		if (util_uuid_parse(v->tenant, o->tenant) == 0) {
			v->has_tenant = 1;
		} else {
			pg_params p = PG_PARAMS_INIT;
			PGresult *res;
			char err[512];

			p.result_binary = 1;
			pg_param_text(&p, o->tenant);
			res = pg_query(v->c, "SELECT tenant_id FROM coffer.tenants "
			    "WHERE name = $1", &p, err, sizeof(err));
			if (res == NULL)
				return v_error(v, "database: %s", err);
			if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) !=
			    VAULT_ID_BYTES) {
				PQclear(res);
				return v_error(v, "no tenant named '%.64s'",
				    o->tenant);
			}
			memcpy(v->tenant, PQgetvalue(res, 0, 0), VAULT_ID_BYTES);
			v->has_tenant = 1;
			PQclear(res);
		}
	}
	return 0;
}

/* Registered streams plus any (tenant, stream) that holds records,
 * batches, checkpoints or tombstones (a loose index scan over each primary
 * key), so rows of an unregistered stream cannot hide. */
static const char V_STREAMS_SQL[] =
"WITH RECURSIVE "
" rs AS ((SELECT tenant_id, stream_id FROM coffer.records "
"         ORDER BY tenant_id, stream_id LIMIT 1) "
"       UNION ALL SELECT n.tenant_id, n.stream_id FROM rs CROSS JOIN LATERAL "
"        (SELECT x.tenant_id, x.stream_id FROM coffer.records x "
"         WHERE (x.tenant_id, x.stream_id) > (rs.tenant_id, rs.stream_id) "
"         ORDER BY x.tenant_id, x.stream_id LIMIT 1) n), "
" bs AS ((SELECT tenant_id, stream_id FROM coffer.batches "
"         ORDER BY tenant_id, stream_id LIMIT 1) "
"       UNION ALL SELECT n.tenant_id, n.stream_id FROM bs CROSS JOIN LATERAL "
"        (SELECT x.tenant_id, x.stream_id FROM coffer.batches x "
"         WHERE (x.tenant_id, x.stream_id) > (bs.tenant_id, bs.stream_id) "
"         ORDER BY x.tenant_id, x.stream_id LIMIT 1) n), "
" cs AS ((SELECT tenant_id, stream_id FROM coffer.checkpoints "
"         ORDER BY tenant_id, stream_id LIMIT 1) "
"       UNION ALL SELECT n.tenant_id, n.stream_id FROM cs CROSS JOIN LATERAL "
"        (SELECT x.tenant_id, x.stream_id FROM coffer.checkpoints x "
"         WHERE (x.tenant_id, x.stream_id) > (cs.tenant_id, cs.stream_id) "
"         ORDER BY x.tenant_id, x.stream_id LIMIT 1) n), "
" ts AS ((SELECT tenant_id, stream_id FROM coffer.tombstones "
"         ORDER BY tenant_id, stream_id LIMIT 1) "
"       UNION ALL SELECT n.tenant_id, n.stream_id FROM ts CROSS JOIN LATERAL "
"        (SELECT x.tenant_id, x.stream_id FROM coffer.tombstones x "
"         WHERE (x.tenant_id, x.stream_id) > (ts.tenant_id, ts.stream_id) "
"         ORDER BY x.tenant_id, x.stream_id LIMIT 1) n), "
" allp AS (SELECT tenant_id, stream_id FROM coffer.streams "
"          UNION SELECT * FROM rs UNION SELECT * FROM bs "
"          UNION SELECT * FROM cs UNION SELECT * FROM ts) "
"SELECT p.tenant_id, p.stream_id, s.stream_id IS NOT NULL, s.node_id, "
"       n.signing_public_key, n.name, t.name "
"FROM allp p "
"LEFT JOIN coffer.streams s ON s.tenant_id = p.tenant_id "
"                          AND s.stream_id = p.stream_id "
"LEFT JOIN coffer.nodes n ON n.node_id = s.node_id "
"LEFT JOIN coffer.tenants t ON t.tenant_id = p.tenant_id "
"WHERE ($1::uuid IS NULL OR p.tenant_id = $1::uuid) "
"  AND ($2::uuid IS NULL OR p.stream_id = $2::uuid) "
"ORDER BY p.tenant_id, p.stream_id";

static void
v_copy_name(char *dst, const PGresult *res, int row, int col)
{
	size_t n;

	dst[0] = '\0';
	if (PQgetisnull(res, row, col))
		return;
	n = (size_t)PQgetlength(res, row, col);
	if (n >= V_NAME_MAX)
		n = V_NAME_MAX - 1;
	memcpy(dst, PQgetvalue(res, row, col), n);
	dst[n] = '\0';
}

static int
v_load_streams(vctx *v)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char err[512];
	int i, n;

	p.result_binary = 1;
	if (v->has_tenant)
		pg_param_bin(&p, v->tenant, VAULT_ID_BYTES);
	else
		pg_param_null(&p);
	if (v->has_stream)
		pg_param_bin(&p, v->stream, VAULT_ID_BYTES);
	else
		pg_param_null(&p);
	res = pg_query(v->c, V_STREAMS_SQL, &p, err, sizeof(err));
	if (res == NULL)
		return v_error(v, "database: %s", err);
	n = PQntuples(res);
	v->streams = calloc(n > 0 ? (size_t)n : 1, sizeof(*v->streams));
	if (v->streams == NULL) {
		PQclear(res);
		return v_error(v, "out of memory");
	}
	for (i = 0; i < n; i++) {
		v_stream *s = &v->streams[i];
		const unsigned char *b;

		if (v_bytes(res, i, 0, VAULT_ID_BYTES, &b) != 0)
			continue;
		memcpy(s->tenant, b, VAULT_ID_BYTES);
		if (v_bytes(res, i, 1, VAULT_ID_BYTES, &b) != 0)
			continue;
		memcpy(s->stream, b, VAULT_ID_BYTES);
		s->registered = PQgetlength(res, i, 2) == 1 &&
		    PQgetvalue(res, i, 2)[0] != 0;
		if (v_bytes(res, i, 3, VAULT_ID_BYTES, &b) == 0)
			memcpy(s->node_id, b, VAULT_ID_BYTES);
		if (v_bytes(res, i, 4, VAULT_SIGN_PK_BYTES, &b) == 0) {
			memcpy(s->node_pk, b, VAULT_SIGN_PK_BYTES);
			s->has_node = 1;
		}
		v_copy_name(s->node_name, res, i, 5);
		v_copy_name(s->tenant_name, res, i, 6);
		v->nstreams++;
	}
	PQclear(res);
	return 0;
}

/* -- one stream ------------------------------------------------------------------ */

typedef struct v_batch {
	int64_t              batch_no, first_seq, last_seq, record_count;
	const unsigned char *prev_head, *root, *new_head;
	int                  has_cp;
	const unsigned char *cp_head, *cp_node, *cp_sig;
	int64_t              cp_last_seq, cp_signed_at;
} v_batch;

static const char V_BATCHES_SQL[] =
"SELECT b.batch_no, b.first_seq, b.last_seq, b.record_count::int8, "
"       b.prev_head, b.merkle_root, b.new_head, "
"       c.batch_no, c.head, c.last_seq, c.signed_at, c.node_id, c.signature "
"FROM coffer.batches b "
"LEFT JOIN coffer.checkpoints c ON c.tenant_id = b.tenant_id "
"     AND c.stream_id = b.stream_id AND c.batch_no = b.batch_no "
"WHERE b.tenant_id = $1::uuid AND b.stream_id = $2::uuid "
"  AND b.batch_no > $3::int8 "
"ORDER BY b.batch_no LIMIT $4::int8";

static const char V_ANCHOR_SQL[] =
"SELECT b.batch_no, b.first_seq, b.last_seq, b.record_count::int8, "
"       b.prev_head, b.merkle_root, b.new_head, "
"       c.batch_no, c.head, c.last_seq, c.signed_at, c.node_id, c.signature "
"FROM coffer.batches b "
"LEFT JOIN coffer.checkpoints c ON c.tenant_id = b.tenant_id "
"     AND c.stream_id = b.stream_id AND c.batch_no = b.batch_no "
"WHERE b.tenant_id = $1::uuid AND b.stream_id = $2::uuid "
"  AND b.batch_no < $3::int8 "
"ORDER BY b.batch_no DESC LIMIT 1";

static PGresult *
v_batch_query(vctx *v, const v_stream *s, const char *sql, int64_t after,
    int64_t limit)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char a[24], l[24], err[512];

	snprintf(a, sizeof(a), "%lld", (long long)after);
	snprintf(l, sizeof(l), "%lld", (long long)limit);
	p.result_binary = 1;
	pg_param_bin(&p, s->tenant, VAULT_ID_BYTES);
	pg_param_bin(&p, s->stream, VAULT_ID_BYTES);
	pg_param_text(&p, a);
	if (limit > 0)
		pg_param_text(&p, l);
	res = pg_query(v->c, sql, &p, err, sizeof(err));
	if (res == NULL)
		(void)v_error(v, "database: %s", err);
	return res;
}

/* Decode batch row i; structural problems of the row itself are tamper. */
static int
v_batch_decode(vctx *v, const PGresult *res, int i, v_batch *b)
{
	int64_t cpb;

	memset(b, 0, sizeof(*b));
	if (v_i64(res, i, 0, &b->batch_no) != 0 ||
	    v_i64(res, i, 1, &b->first_seq) != 0 ||
	    v_i64(res, i, 2, &b->last_seq) != 0 ||
	    v_i64(res, i, 3, &b->record_count) != 0)
		return v_error(v, "database: unexpected batch row");
	if (v_bytes(res, i, 4, VAULT_HASH_BYTES, &b->prev_head) != 0 ||
	    v_bytes(res, i, 5, VAULT_HASH_BYTES, &b->root) != 0 ||
	    v_bytes(res, i, 6, VAULT_HASH_BYTES, &b->new_head) != 0)
		return v_fail(v, "batch", b->batch_no, -1, -1,
		    "a hash column of the batch row is not 32 bytes");
	if (v_i64(res, i, 7, &cpb) != 0)
		return 0;       /* no checkpoint */
	b->has_cp = 1;
	if (v_bytes(res, i, 8, VAULT_HASH_BYTES, &b->cp_head) != 0 ||
	    v_i64(res, i, 9, &b->cp_last_seq) != 0 ||
	    v_i64(res, i, 10, &b->cp_signed_at) != 0 ||
	    v_bytes(res, i, 11, VAULT_ID_BYTES, &b->cp_node) != 0 ||
	    v_bytes(res, i, 12, VAULT_SIG_BYTES, &b->cp_sig) != 0)
		return v_fail(v, "checkpoint", b->batch_no, -1, -1,
		    "the checkpoint row is malformed");
	return 0;
}

/* Checkpoint of b: present, by the stream's node, over the batch's head
 * and last seq, signature valid under the node's registered key. */
static int
v_checkpoint(vctx *v, const v_stream *s, const v_batch *b)
{
	vault_checkpoint cp;
	int64_t t;

	if (!b->has_cp)
		return v_fail(v, "checkpoint-missing", b->batch_no, -1, -1,
		    "the batch has no checkpoint");
	if (memcmp(b->cp_node, s->node_id, VAULT_ID_BYTES) != 0)
		return v_fail(v, "checkpoint-node", b->batch_no, -1, -1,
		    "the checkpoint names another node than the stream's "
		    "gateway node");
	if (memcmp(b->cp_head, b->new_head, VAULT_HASH_BYTES) != 0)
		return v_fail(v, "checkpoint-head", b->batch_no, -1, -1,
		    "the checkpoint's head differs from the batch's new head");
	if (b->cp_last_seq != b->last_seq)
		return v_fail(v, "checkpoint-last-seq", b->batch_no, -1, -1,
		    "the checkpoint's last_seq %lld differs from the batch's "
		    "last_seq %lld", (long long)b->cp_last_seq,
		    (long long)b->last_seq);
	if (v_pgtime(b->cp_signed_at, &t) != 0)
		return v_fail(v, "checkpoint-time", b->batch_no, -1, -1,
		    "the checkpoint's signed_at is out of range");
	memset(&cp, 0, sizeof(cp));
	memcpy(cp.tenant_id, s->tenant, VAULT_ID_BYTES);
	memcpy(cp.stream_id, s->stream, VAULT_ID_BYTES);
	cp.batch_no = (uint64_t)b->batch_no;
	cp.last_seq = (uint64_t)b->cp_last_seq;
	memcpy(cp.head, b->cp_head, VAULT_HASH_BYTES);
	cp.signed_at = t;
	if (vault_checkpoint_verify(s->node_pk, &cp, b->cp_sig) != 0)
		return v_fail(v, "checkpoint-signature", b->batch_no, -1, -1,
		    "the checkpoint signature is not valid under node %s's "
		    "registered key", s->node_name);
	v->r->checkpoints++;
	return 0;
}

/* Witness lines for batch b must agree with the database's checkpoint. */
static int
v_witness_batch(vctx *v, const v_stream *s, const v_batch *b, size_t *wi)
{
	char why[64];
	int64_t t;

	while (*wi < v->nwit && v_witness_same_stream(&v->wit[*wi], s) &&
	    v->wit[*wi].batch < (uint64_t)b->batch_no)
		(*wi)++;        /* before --since's anchor */
	while (*wi < v->nwit && v_witness_same_stream(&v->wit[*wi], s) &&
	    v->wit[*wi].batch == (uint64_t)b->batch_no) {
		const v_witness *w = &v->wit[*wi];

		why[0] = '\0';
		if (v_pgtime(b->cp_signed_at, &t) != 0)
			t = INT64_MIN;
		if (memcmp(w->head, b->new_head, VAULT_HASH_BYTES) != 0)
			snprintf(why, sizeof(why), "head");
		else if (w->last_seq != (uint64_t)b->last_seq)
			snprintf(why, sizeof(why), "last_seq");
		else if (w->signed_at != t)
			snprintf(why, sizeof(why), "signed_at");
		else if (memcmp(w->sig, b->cp_sig, VAULT_SIG_BYTES) != 0)
			snprintf(why, sizeof(why), "signature");
		else if (strcmp(v->names[w->node], s->node_name) != 0)
			snprintf(why, sizeof(why), "node");
		if (why[0] != '\0')
			return v_fail(v, "witness-mismatch", b->batch_no, -1, -1,
			    "witness %s line %u disagrees with the database's "
			    "checkpoint (%s differs): the chain was rewritten "
			    "after the witness recorded it",
			    v->o->witness[w->file], w->line, why);
		(*wi)++;
	}
	return 0;
}

/* Witness lines beyond the database's last batch of the stream. */
static int
v_witness_tail(vctx *v, const v_stream *s, size_t wi, int64_t last_batch,
    int64_t last_seq)
{
	const v_witness *w;
	vault_checkpoint cp;
	int valid;

	if (wi >= v->nwit || !v_witness_same_stream(&v->wit[wi], s))
		return 0;
	w = &v->wit[wi];
	memset(&cp, 0, sizeof(cp));
	memcpy(cp.tenant_id, w->tenant, VAULT_ID_BYTES);
	memcpy(cp.stream_id, w->stream, VAULT_ID_BYTES);
	cp.batch_no = w->batch;
	cp.last_seq = w->last_seq;
	memcpy(cp.head, w->head, VAULT_HASH_BYTES);
	cp.signed_at = w->signed_at;
	valid = s->has_node && vault_checkpoint_verify(s->node_pk, &cp,
	    w->sig) == 0;
	return v_fail(v, "truncated", (int64_t)w->batch, -1, -1,
	    "witness %s line %u holds batch %llu (last_seq %llu, signature "
	    "%s) but the database ends at batch %lld (last_seq %lld): batches "
	    "were removed — truncation, rollback, or a restore from an older "
	    "backup", v->o->witness[w->file], w->line,
	    (unsigned long long)w->batch, (unsigned long long)w->last_seq,
	    valid ? "valid" : "NOT valid under the node's key",
	    (long long)last_batch, (long long)last_seq);
}

/* Tombstone row i of res at seq: its leaf hash into slot k. */
static int
v_tomb(vctx *v, const PGresult *res, int i, const v_batch *b, int64_t seq,
    size_t k)
{
	const unsigned char *leaf;
	int64_t bn;

	if (v_i64(res, i, 1, &bn) != 0 ||
	    v_bytes(res, i, 2, VAULT_HASH_BYTES, &leaf) != 0)
		return v_fail(v, "tombstone", b->batch_no, seq, -1,
		    "the tombstone row is malformed");
	if (bn != b->batch_no)
		return v_fail(v, "row-batch", b->batch_no, seq, -1,
		    "the tombstone says batch %lld but its seq lies in batch %lld",
		    (long long)bn, (long long)b->batch_no);
	memcpy(v->leaves + k * VAULT_HASH_BYTES, leaf, VAULT_HASH_BYTES);
	v->r->tombstones++;
	return 0;
}

/* One record row at seq: its recomputed leaf hash into slot k. */
static int
v_row(vctx *v, const v_stream *s, const v_copy *cp, const v_batch *b,
    int64_t seq, size_t k)
{
	const char *const *f = cp->f;
	const int *l = cp->l;
	unsigned char *out = v->leaves + k * VAULT_HASH_BYTES;
	vault_leaf lf;
	int64_t bn;

	if (l[1] != 8)
		return v_fail(v, "row", b->batch_no, seq, -1,
		    "the row's batch_no is missing");
	bn = (int64_t)vault_be64_get(f[1]);
	if (bn != b->batch_no)
		return v_fail(v, "row-batch", b->batch_no, seq, -1,
		    "the row says batch %lld but its seq lies in batch %lld",
		    (long long)bn, (long long)b->batch_no);
	if (l[12] != (int)VAULT_HASH_BYTES)
		return v_fail(v, "row", b->batch_no, seq, -1,
		    "the stored leaf hash is not 32 bytes");

	memset(&lf, 0, sizeof(lf));
	memcpy(lf.tenant_id, s->tenant, VAULT_ID_BYTES);
	memcpy(lf.stream_id, s->stream, VAULT_ID_BYTES);
	lf.seq = (uint64_t)seq;
	if (l[2] != (int)VAULT_ID_BYTES || l[3] != 8 || l[4] != 8 || l[5] < 0 ||
	    l[6] != 2 || l[7] < 0 || l[9] != (int)VAULT_TOKEN_BYTES ||
	    l[10] != (int)VAULT_NONCE_BYTES || l[11] < 0)
		return v_fail(v, "row", b->batch_no, seq, -1,
		    "a column of the record has an impossible size or is NULL");
	memcpy(lf.epoch_id, f[2], VAULT_ID_BYTES);
	if (v_epoch_note(v, lf.epoch_id, b->batch_no, seq) != 0)
		return -1;
	if (v_pgtime((int64_t)vault_be64_get(f[3]), &lf.received_at) != 0 ||
	    v_pgtime((int64_t)vault_be64_get(f[4]), &lf.sent_at) != 0)
		return v_fail(v, "row", b->batch_no, seq, -1,
		    "a timestamp of the record is out of range");
	lf.channel = f[5];
	lf.channel_len = (size_t)l[5];
	{
		int16_t sc = (int16_t)((unsigned char)f[6][0] << 8 |
		    (unsigned char)f[6][1]);

		if (sc < 0 || sc > 255)
			return v_fail(v, "row", b->batch_no, seq, -1,
			    "size_class %d is out of range", sc);
		lf.size_class = (uint8_t)sc;
	}
	/* participant_tokens: binary array of bytea, one dimension. */
	{
		const char *a = f[7];
		size_t alen = (size_t)l[7], off, i, count;
		int32_t ndim;

		if (alen < 12)
			goto bad_array;
		ndim = (int32_t)vault_be32_get(a);
		if (ndim == 0) {
			count = 0;
			off = 12;
		} else if (ndim == 1 && alen >= 20) {
			int32_t dim = (int32_t)vault_be32_get(a + 12);
			int32_t lbound = (int32_t)vault_be32_get(a + 16);

			if (dim < 0)
				goto bad_array;
			/* The leaf hash covers the tokens, not the array's
			 * bounds: [0:1]={a,b} hashes like {a,b} but its [1] is
			 * b.  The schema's CHECK allows only 1-based arrays. */
			if (lbound != 1)
				return v_fail(v, "row", b->batch_no, seq, -1,
				    "participant_tokens starts at index %ld, not 1 "
				    "(the array's bounds were changed)",
				    (long)lbound);
			count = (size_t)dim;
			off = 20;
		} else {
			goto bad_array;
		}
		if (count > alen / 4 ||
		    v_parts_reserve(v, count * VAULT_TOKEN_BYTES + 1) != 0) {
			if (v->r->status != VERIFY_OK)
				return -1;
			goto bad_array;
		}
		for (i = 0; i < count; i++) {
			int32_t el;

			if (alen - off < 4)
				goto bad_array;
			el = (int32_t)vault_be32_get(a + off);
			off += 4;
			if (el != (int32_t)VAULT_TOKEN_BYTES ||
			    alen - off < VAULT_TOKEN_BYTES)
				goto bad_array;
			memcpy(v->parts + i * VAULT_TOKEN_BYTES, a + off,
			    VAULT_TOKEN_BYTES);
			off += VAULT_TOKEN_BYTES;
		}
		if (off != alen)
			goto bad_array;
		lf.participants = v->parts;
		lf.participant_count = count;
	}
	if (l[8] == (int)VAULT_TOKEN_BYTES)
		lf.conversation = (const unsigned char *)f[8];
	else if (l[8] != -1)
		return v_fail(v, "row", b->batch_no, seq, -1,
		    "the conversation token is not 16 bytes");
	memcpy(lf.dedup, f[9], VAULT_TOKEN_BYTES);
	memcpy(lf.nonce, f[10], VAULT_NONCE_BYTES);
	lf.ciphertext = (const unsigned char *)f[11];
	lf.ciphertext_len = (size_t)l[11];
	if (vault_leaf_hash(&lf, out) != 0)
		return v_fail(v, "row", b->batch_no, seq, -1,
		    "the record cannot be encoded for hashing");
	if (memcmp(out, f[12], VAULT_HASH_BYTES) != 0)
		return v_fail(v, "leaf", b->batch_no, seq, -1,
		    "the leaf hash recomputed from the stored row differs from "
		    "its recorded leaf hash: the record was altered (ciphertext, "
		    "nonce, timestamps, channel, tokens, epoch or size class)");
	v->r->records++;
	if ((v->r->records & 1023U) == 0)
		v_progress(v, 0);
	return 0;

bad_array:
	return v_fail(v, "row", b->batch_no, seq, -1,
	    "participant_tokens is not a list of 16-byte tokens");
}

typedef struct v_chain {
	int64_t       next_batch;        /* expected batch_no */
	int64_t       last_seq;          /* last seq covered so far */
	int64_t       lo;                /* records already read: seq <= lo */
	int64_t       cursor;            /* batch rows read: batch_no <= cursor */
	unsigned char head[VAULT_HASH_BYTES];
} v_chain;

/* Structure of batch b against the chain so far (before its records). */
static int
v_batch_structure(vctx *v, const v_stream *s, const v_batch *b,
    const v_chain *ch)
{
	if (b->batch_no != ch->next_batch) {
		if (ch->next_batch == 1)
			return v_fail(v, "batch-missing", ch->next_batch, -1, -1,
			    "the stream's first batch is %lld: batches 1..%lld "
			    "are missing", (long long)b->batch_no,
			    (long long)b->batch_no - 1);
		return v_fail(v, "batch-missing", ch->next_batch, -1, -1,
		    "the batch is missing: batch %lld is followed by batch %lld",
		    (long long)ch->next_batch - 1, (long long)b->batch_no);
	}
	if (b->first_seq != ch->last_seq + 1)
		return v_fail(v, "batch-range", b->batch_no, -1, -1,
		    "the batch starts at seq %lld, seq %lld was expected",
		    (long long)b->first_seq, (long long)ch->last_seq + 1);
	if (b->last_seq < b->first_seq ||
	    b->record_count != b->last_seq - b->first_seq + 1)
		return v_fail(v, "batch-range", b->batch_no, -1, -1,
		    "record_count %lld does not match its seq range %lld..%lld",
		    (long long)b->record_count, (long long)b->first_seq,
		    (long long)b->last_seq);
	if (memcmp(b->prev_head, ch->head, VAULT_HASH_BYTES) != 0)
		return v_fail(v, "link", b->batch_no, -1, -1,
		    ch->next_batch == 1 ?
		    "prev_head is not the genesis head (32 zero bytes)" :
		    "prev_head does not link to the previous batch's head");
	return v_checkpoint(v, s, b);
}

/* Batch b's head from prev_head and root; advance. */
static int
v_batch_link(vctx *v, const v_stream *s, const v_batch *b, v_chain *ch,
    const unsigned char root[VAULT_HASH_BYTES])
{
	unsigned char head[VAULT_HASH_BYTES];

	if (vault_chain_next(s->tenant, s->stream, (uint64_t)b->batch_no,
	    (uint64_t)b->first_seq, (uint64_t)b->last_seq, b->prev_head, root,
	    head) != 0)
		return v_error(v, "cannot compute a chain head");
	if (memcmp(head, b->new_head, VAULT_HASH_BYTES) != 0)
		return v_fail(v, "head", b->batch_no, -1, -1,
		    "the chain head recomputed from prev_head and root differs "
		    "from the stored new_head");
	memcpy(ch->head, b->new_head, VAULT_HASH_BYTES);
	ch->last_seq = b->last_seq;
	ch->next_batch = b->batch_no + 1;
	v->r->batches++;
	return 0;
}

/* Batch b's leaves are in v->leaves[0..n): root, head, advance. */
static int
v_batch_close(vctx *v, const v_stream *s, const v_batch *b, v_chain *ch,
    int64_t next_seq)
{
	unsigned char root[VAULT_HASH_BYTES];

	if (next_seq <= b->last_seq)
		return v_fail(v, "seq-missing", b->batch_no, next_seq, -1,
		    "no record and no tombstone holds this seq (record deleted)");
	if (vault_merkle_root(v->leaves, (size_t)b->record_count, root) != 0)
		return v_error(v, "cannot compute a Merkle root");
	if (memcmp(root, b->root, VAULT_HASH_BYTES) != 0)
		return v_fail(v, "root", b->batch_no, -1, -1,
		    "the Merkle root over its records (seq %lld..%lld) differs "
		    "from the stored root: a record was altered, replaced or "
		    "reordered", (long long)b->first_seq, (long long)b->last_seq);
	return v_batch_link(v, s, b, ch, root);
}

/* The batches of stream s dropped with a partition (0019), sorted; two
 * partition tombstones may not claim one batch. */
static int
v_covers_load(vctx *v, const v_stream *s)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char err[512];
	int i, n;

	v->ncov = 0;
	p.result_binary = 1;
	pg_param_bin(&p, s->tenant, VAULT_ID_BYTES);
	pg_param_bin(&p, s->stream, VAULT_ID_BYTES);
	res = pg_query(v->c, "SELECT lower(r), upper(r) FROM "
	    "coffer.partition_tombstones pt CROSS JOIN LATERAL "
	    "pg_catalog.unnest(pt.batches) AS r WHERE pt.tenant_id = $1 "
	    "AND pt.stream_id = $2 ORDER BY 1, 2", &p, err, sizeof(err));
	if (res == NULL)
		return v_error(v, "database: %s", err);
	n = PQntuples(res);
	free(v->cov);
	v->cov = calloc(n > 0 ? (size_t)n : 1, sizeof(*v->cov));
	if (v->cov == NULL) {
		PQclear(res);
		return v_error(v, "out of memory");
	}
	for (i = 0; i < n; i++) {
		v_cover *c = &v->cov[i];

		if (v_i64(res, i, 0, &c->lo) != 0 || v_i64(res, i, 1, &c->hi) != 0 ||
		    c->hi <= c->lo) {
			PQclear(res);
			return v_fail(v, "partition-tombstone", -1, -1, -1,
			    "a partition tombstone's batch range is malformed");
		}
		if (i > 0 && c->lo < v->cov[i - 1].hi) {
			PQclear(res);
			return v_fail(v, "partition-tombstone", c->lo, -1, -1,
			    "two partition tombstones claim the batch");
		}
	}
	v->ncov = (size_t)n;
	PQclear(res);
	return 0;
}

static int
v_covered(const vctx *v, int64_t batch)
{
	size_t lo = 0, hi = v->ncov;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->cov[mid].hi <= batch)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->ncov && v->cov[lo].lo <= batch;
}

static int
v_records_copy(vctx *v, v_copy *cp, const v_stream *s, int64_t lo, int64_t hi)
{
	char sql[1024], tid[UTIL_UUID_STRLEN + 1], sid[UTIL_UUID_STRLEN + 1];

	util_uuid_format(tid, s->tenant);
	util_uuid_format(sid, s->stream);
	snprintf(sql, sizeof(sql),
	    "COPY (SELECT seq, batch_no, epoch_id, received_at, sent_at, channel, "
	    "size_class, participant_tokens, conversation_token, dedup_token, "
	    "nonce, ciphertext, leaf_hash FROM coffer.records "
	    "WHERE tenant_id = '%s' AND stream_id = '%s' "
	    "AND seq > %lld AND seq <= %lld ORDER BY seq) TO STDOUT "
	    "(FORMAT binary)", tid, sid, (long long)lo, (long long)hi);
	return v_copy_start(v, cp, sql);
}

/* One stream's rows of a table for seqs (lo, hi], in seq order, binary
 * (sql: $1 tenant, $2 stream, $3 lo, $4 hi). */
static PGresult *
v_stream_range(vctx *v, const v_stream *s, int64_t lo, int64_t hi,
    const char *sql)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char a[24], b[24], err[512];

	snprintf(a, sizeof(a), "%lld", (long long)lo);
	snprintf(b, sizeof(b), "%lld", (long long)hi);
	p.result_binary = 1;
	pg_param_bin(&p, s->tenant, VAULT_ID_BYTES);
	pg_param_bin(&p, s->stream, VAULT_ID_BYTES);
	pg_param_text(&p, a);
	pg_param_text(&p, b);
	res = pg_query(v->c, sql, &p, err, sizeof(err));
	if (res == NULL)
		(void)v_error(v, "database: %s", err);
	return res;
}

/* Tombstones of (lo, hi] in seq order (few: binary result in memory). */
static PGresult *
v_tombstones_range(vctx *v, const v_stream *s, int64_t lo, int64_t hi)
{
	return v_stream_range(v, s, lo, hi, "SELECT seq, batch_no, leaf_hash "
	    "FROM coffer.tombstones WHERE tenant_id = $1::uuid AND stream_id = "
	    "$2::uuid AND seq > $3::int8 AND seq <= $4::int8 ORDER BY seq");
}

/* Dedup rows (0018) of (lo, hi] in seq order, merged with the records
 * in v_chunk: one per record, same token and leaf hash (0020's index). */
static PGresult *
v_dedup_range(vctx *v, const v_stream *s, int64_t lo, int64_t hi)
{
	return v_stream_range(v, s, lo, hi, "SELECT seq, dedup_token, leaf_hash "
	    "FROM coffer.record_dedup WHERE tenant_id = $1::uuid AND stream_id = "
	    "$2::uuid AND seq > $3::int8 AND seq <= $4::int8 ORDER BY seq");
}

static int
v_dedup_orphan(vctx *v, int64_t batch, int64_t seq)
{
	return v_fail(v, "dedup-orphan", batch, seq, -1,
	    "a dedup row names no record with its token and leaf hash (a "
	    "planted receipt: that message would be answered 'duplicate' and "
	    "never stored)");
}

/* The record at seq (token, leaf) against the dedup rows from *di on:
 * rows before seq name no record; the row at seq must carry the record's
 * token and leaf hash. */
static int
v_dedup_match(vctx *v, const PGresult *dres, int *di, int64_t batch,
    int64_t seq, const char *token, const char *leaf)
{
	int nd = PQntuples(dres);
	int64_t dseq = 0;
	const unsigned char *t, *h;

	if (*di < nd && v_i64(dres, *di, 0, &dseq) != 0)
		return v_error(v, "database: dedup row without seq");
	if (*di < nd && dseq < seq)
		return v_dedup_orphan(v, -1, dseq);
	if (*di >= nd || dseq > seq)
		return v_fail(v, "dedup-missing", batch, seq, -1,
		    "the record has no dedup row (sent again, it would be "
		    "stored twice)");
	if (v_bytes(dres, *di, 1, VAULT_TOKEN_BYTES, &t) != 0 ||
	    v_bytes(dres, *di, 2, VAULT_HASH_BYTES, &h) != 0 ||
	    memcmp(t, token, VAULT_TOKEN_BYTES) != 0 ||
	    memcmp(h, leaf, VAULT_HASH_BYTES) != 0)
		return v_dedup_orphan(v, batch, seq);
	(*di)++;
	return 0;
}

/* Every epoch the chunk's records name is a row of coffer.epochs (the
 * schema may stop checking it per row; an epoch is never deleted,
 * shredding keeps the row): one query per chunk, after its COPY.  The
 * first missing one, in seq order, is reported at its first record. */
static int
v_epochs_exist(vctx *v, const v_stream *s)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char *list, err[512];
	size_t i, off = 0, cap;
	int64_t k;
	const v_epoch_use *e;

	if (v->nepu == 0)
		return 0;
	cap = v->nepu * (UTIL_UUID_STRLEN + 1) + 3;
	if ((list = malloc(cap)) == NULL)
		return v_error(v, "out of memory");
	list[off++] = '{';
	for (i = 0; i < v->nepu; i++) {
		if (i > 0)
			list[off++] = ',';
		util_uuid_format(list + off, v->epu[i].epoch_id);
		off += UTIL_UUID_STRLEN;
	}
	list[off++] = '}';
	list[off] = '\0';
	p.result_binary = 1;
	pg_param_bin(&p, s->tenant, VAULT_ID_BYTES);
	pg_param_text(&p, list);
	res = pg_query(v->c, "SELECT x.i FROM pg_catalog.unnest($2::uuid[]) "
	    "WITH ORDINALITY AS x(id, i) WHERE NOT EXISTS (SELECT 1 FROM "
	    "coffer.epochs e WHERE e.tenant_id = $1::uuid AND e.epoch_id = x.id) "
	    "ORDER BY x.i LIMIT 1", &p, err, sizeof(err));
	free(list);
	if (res == NULL)
		return v_error(v, "database: %s", err);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	if (v_i64(res, 0, 0, &k) != 0 || k < 1 || (uint64_t)k > v->nepu) {
		PQclear(res);
		return v_error(v, "database: unexpected epoch check row");
	}
	PQclear(res);
	e = &v->epu[k - 1];
	{
		char id[UTIL_UUID_STRLEN + 1];

		util_uuid_format(id, e->epoch_id);
		return v_fail(v, "epoch-missing", e->batch_no, e->seq, -1,
		    "the record's epoch %s is not in coffer.epochs (its wrapped "
		    "key and R point are gone: the record can never be opened)",
		    id);
	}
}

/* The next record of the chunk's COPY into *rseq (have), unless one is
 * held already or the COPY is done. */
static int
v_next_rec(vctx *v, v_copy *cp, int *have, int *done_rec, int64_t *rseq)
{
	int got;

	if (*have || *done_rec)
		return 0;
	got = v_copy_next(v, cp, V_REC_FIELDS);
	if (got < 0)
		return -1;
	if (got == 0) {
		*done_rec = 1;
		return 0;
	}
	if (cp->l[0] != 8)
		return v_error(v, "database: row without seq");
	*rseq = (int64_t)vault_be64_get(cp->f[0]);
	*have = 1;
	return 0;
}

/* Records of batch rows [from, to) of res: one COPY of records merged with
 * the tombstones of the same seq range. */
static int
v_chunk(vctx *v, const v_stream *s, const PGresult *res, int from, int to,
    v_chain *ch, size_t *wi)
{
	PGresult *tres = NULL, *dres = NULL;
	v_copy cp;
	v_batch b;
	int64_t hi = ch->lo, rseq = 0, tseq = 0, dseq;
	int i, ti = 0, nt, di = 0, have = 0, done_rec = 0, rc = -1, got;

	/* The seq range to read: up to the highest last_seq in the chunk. */
	for (i = from; i < to; i++) {
		int64_t ls;

		if (v_i64(res, i, 2, &ls) == 0 && ls > hi)
			hi = ls;
	}
	if ((tres = v_tombstones_range(v, s, ch->lo, hi)) == NULL)
		return -1;
	nt = PQntuples(tres);
	if ((dres = v_dedup_range(v, s, ch->lo, hi)) == NULL) {
		PQclear(tres);
		return -1;
	}
	if (v_records_copy(v, &cp, s, ch->lo, hi) != 0) {
		PQclear(dres);
		PQclear(tres);
		return -1;
	}

	for (i = from; i < to; i++) {
		int64_t next_seq;

		if (v_batch_decode(v, res, i, &b) != 0 ||
		    v_batch_structure(v, s, &b, ch) != 0 ||
		    v_witness_batch(v, s, &b, wi) != 0)
			goto done;
		if (v_covered(v, b.batch_no)) {
			/* Dropped with its partition (0019): its root stands
			 * (chained and signed); the partition tombstone's own
			 * check is against the purge event.  No record of it may
			 * remain; row tombstones of earlier purges are passed. */
			if (v_next_rec(v, &cp, &have, &done_rec, &rseq) != 0)
				goto done;
			if (have && rseq <= b.last_seq) {
				(void)v_fail(v, "partition-record", b.batch_no, rseq,
				    -1, "a record of the batch remains although a "
				    "partition tombstone says the batch was dropped "
				    "whole");
				goto done;
			}
			while (ti < nt && v_i64(tres, ti, 0, &tseq) == 0 &&
			    tseq <= b.last_seq)
				ti++;
			if (v_batch_link(v, s, &b, ch, b.root) != 0)
				goto done;
			v->r->dropped_batches++;
			continue;
		}
		if (v_leaves_reserve(v, (size_t)b.record_count) != 0)
			goto done;
		next_seq = b.first_seq;
		for (;;) {
			int64_t seq;
			int is_tomb;

			if (v_next_rec(v, &cp, &have, &done_rec, &rseq) != 0)
				goto done;
			if (ti < nt && v_i64(tres, ti, 0, &tseq) != 0) {
				(void)v_error(v, "database: tombstone without seq");
				goto done;
			}
			if (!have && ti >= nt)
				break;
			is_tomb = !have || (ti < nt && tseq < rseq);
			if (have && ti < nt && tseq == rseq) {
				(void)v_fail(v, "seq-twice", b.batch_no, rseq, -1,
				    "the seq is held twice (a record and a tombstone)");
				goto done;
			}
			seq = is_tomb ? tseq : rseq;
			if (seq < next_seq) {
				(void)v_fail(v, "seq-uncovered", -1, seq, -1,
				    "the %s lies before batch %lld's range and is "
				    "covered by no batch", is_tomb ? "tombstone" :
				    "record", (long long)b.batch_no);
				goto done;
			}
			if (seq > b.last_seq)
				break;
			if (seq > next_seq) {
				(void)v_fail(v, "seq-missing", b.batch_no, next_seq, -1,
				    "no record and no tombstone holds this seq "
				    "(record deleted)");
				goto done;
			}
			if (is_tomb) {
				if (v_tomb(v, tres, ti, &b, seq,
				    (size_t)(seq - b.first_seq)) != 0)
					goto done;
				ti++;
			} else {
				if (v_row(v, s, &cp, &b, seq,
				    (size_t)(seq - b.first_seq)) != 0 ||
				    v_dedup_match(v, dres, &di, b.batch_no, seq,
				    cp.f[9], cp.f[12]) != 0)
					goto done;
				have = 0;
			}
			next_seq++;
		}
		if (v_batch_close(v, s, &b, ch, next_seq) != 0)
			goto done;
	}
	if (!have && !done_rec) {
		got = v_copy_next(v, &cp, V_REC_FIELDS);
		if (got < 0)
			goto done;
		if (got == 1 && cp.l[0] == 8) {
			rseq = (int64_t)vault_be64_get(cp.f[0]);
			have = 1;
		}
	}
	if (have || ti < nt) {
		if (ti < nt && (!have || tseq < rseq))
			rseq = tseq;
		(void)v_fail(v, "seq-uncovered", -1, rseq, -1,
		    "the row is covered by no batch");
		goto done;
	}
	if (di < PQntuples(dres)) {
		if (v_i64(dres, di, 0, &dseq) != 0)
			dseq = -1;
		(void)v_dedup_orphan(v, -1, dseq);
		goto done;
	}
	ch->lo = hi;
	rc = 0;
done:
	v_copy_drain(&cp);
	PQclear(dres);
	PQclear(tres);
	if (rc == 0)
		rc = v_epochs_exist(v, s);
	v->nepu = 0;
	return rc;
}

/* How many rows of res, starting at from, go into one records COPY. */
static int
v_chunk_end(const PGresult *res, int from, int n)
{
	uint64_t total = 0;
	int i;

	for (i = from; i < n; i++) {
		int64_t f, l;

		if (v_i64(res, i, 1, &f) != 0 || v_i64(res, i, 2, &l) != 0 ||
		    l < f)
			return i + 1;       /* let the structure check speak */
		total += (uint64_t)(l - f) + 1;
		if (total > VERIFY_CHUNK_RECORDS && i > from)
			return i;
	}
	return n;
}

static int
v_anchor(vctx *v, const v_stream *s, v_chain *ch, size_t *wi)
{
	PGresult *res;
	v_batch b;
	int rc = -1;

	res = v_batch_query(v, s, V_ANCHOR_SQL, (int64_t)v->o->since_batch, 0);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		rc = 0;                 /* no batch before --since: genesis */
		goto done;
	}
	if (v_batch_decode(v, res, 0, &b) != 0 || v_checkpoint(v, s, &b) != 0 ||
	    v_witness_batch(v, s, &b, wi) != 0)
		goto done;
	/* The signed checkpoint vouches for this head: continue from it. */
	memcpy(ch->head, b.new_head, VAULT_HASH_BYTES);
	ch->next_batch = b.batch_no + 1;
	ch->last_seq = b.last_seq;
	ch->lo = b.last_seq;
	ch->cursor = b.batch_no;
	rc = 0;
done:
	PQclear(res);
	return rc;
}

static int
v_stream_tail(vctx *v, const v_stream *s, const v_chain *ch)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char lo[24], err[512];
	int64_t x;

	snprintf(lo, sizeof(lo), "%lld", (long long)ch->lo);
	p.result_binary = 1;
	pg_param_bin(&p, s->tenant, VAULT_ID_BYTES);
	pg_param_bin(&p, s->stream, VAULT_ID_BYTES);
	pg_param_text(&p, lo);
	res = pg_query(v->c,
	    "SELECT (SELECT r.seq FROM coffer.records r WHERE r.tenant_id = $1 "
	    "        AND r.stream_id = $2 AND r.seq > $3::int8 ORDER BY r.seq "
	    "        LIMIT 1), "
	    "       (SELECT t.seq FROM coffer.tombstones t WHERE t.tenant_id = $1 "
	    "        AND t.stream_id = $2 AND t.seq > $3::int8 ORDER BY t.seq "
	    "        LIMIT 1), "
	    "       (SELECT c.batch_no FROM coffer.checkpoints c "
	    "        WHERE c.tenant_id = $1 AND c.stream_id = $2 AND NOT EXISTS ("
	    "          SELECT 1 FROM coffer.batches b WHERE b.tenant_id = $1 "
	    "          AND b.stream_id = $2 AND b.batch_no = c.batch_no) "
	    "        ORDER BY c.batch_no LIMIT 1), "
	    "       (SELECT d.seq FROM coffer.record_dedup d WHERE d.tenant_id = $1 "
	    "        AND d.stream_id = $2 AND d.seq > $3::int8 ORDER BY d.seq "
	    "        LIMIT 1)", &p, err, sizeof(err));
	if (res == NULL)
		return v_error(v, "database: %s", err);
	if (v_i64(res, 0, 0, &x) == 0 || v_i64(res, 0, 1, &x) == 0) {
		int64_t a = INT64_MAX, t = INT64_MAX;

		(void)v_i64(res, 0, 0, &a);
		(void)v_i64(res, 0, 1, &t);
		PQclear(res);
		return v_fail(v, "seq-uncovered", -1, a < t ? a : t, -1,
		    "the row lies after the last batch (%lld, last_seq %lld) "
		    "and is covered by no batch or checkpoint",
		    (long long)ch->next_batch - 1, (long long)ch->last_seq);
	}
	if (v_i64(res, 0, 2, &x) == 0) {
		PQclear(res);
		return v_fail(v, "checkpoint-orphan", x, -1, -1,
		    "a checkpoint exists for a batch the database does not hold");
	}
	if (v_i64(res, 0, 3, &x) == 0) {
		PQclear(res);
		return v_dedup_orphan(v, -1, x);
	}
	PQclear(res);
	return 0;
}

static int
v_stream_run(vctx *v, const v_stream *s)
{
	v_chain ch;
	size_t wi, j;

	v->loc_tenant = s->tenant;
	v->loc_tenant_name = s->tenant_name;
	v->loc_stream = s->stream;
	if (!s->registered)
		return v_fail(v, "stream-unregistered", -1, -1, -1,
		    "the stream holds rows but is not registered in "
		    "coffer.streams");
	if (!s->has_node)
		return v_fail(v, "stream-node", -1, -1, -1,
		    "the stream's gateway node is not registered (no public "
		    "key to check its checkpoints)");

	memset(&ch, 0, sizeof(ch));
	ch.next_batch = 1;
	ch.lo = INT64_MIN;
	wi = v_witness_first(v, s->tenant, s->stream);
	for (j = wi; j < v->nwit && v_witness_same_stream(&v->wit[j], s);
	    j++)
		v->wit[j].seen = 1;
	if (v->o->since_batch > 1 && v_anchor(v, s, &ch, &wi) != 0)
		return -1;
	if (v_covers_load(v, s) != 0)
		return -1;

	for (;;) {
		PGresult *res;
		int n, from = 0;

		res = v_batch_query(v, s, V_BATCHES_SQL, ch.cursor, V_BATCH_FETCH);
		if (res == NULL)
			return -1;
		n = PQntuples(res);
		if (n == 0) {
			PQclear(res);
			break;
		}
		while (from < n) {
			int to = v_chunk_end(res, from, n);

			if (v_chunk(v, s, res, from, to, &ch, &wi) != 0) {
				PQclear(res);
				return -1;
			}
			from = to;
		}
		if (v_i64(res, n - 1, 0, &ch.cursor) != 0) {
			PQclear(res);
			return v_error(v, "database: unexpected batch row");
		}
		PQclear(res);
		v_progress(v, 0);
	}
	if (v_stream_tail(v, s, &ch) != 0)
		return -1;
	if (v_witness_tail(v, s, wi, ch.next_batch - 1, ch.last_seq) != 0)
		return -1;
	v->r->streams++;
	return 0;
}

/* -- audit chain and purges -------------------------------------------------- */

static int
v_purge_from_detail(vctx *v, const char *detail, size_t len, uint64_t event_no,
    v_purge **list, size_t *n)
{
	json_error_t jerr;
	json_t *o, *x;
	v_purge pr, *p;

	memset(&pr, 0, sizeof(pr));
	pr.event_no = event_no;
	o = json_loadb(detail, len, 0, &jerr);
	x = o != NULL ? json_object_get(o, "purge_id") : NULL;
	if (!json_is_string(x) ||
	    util_uuid_parse(pr.purge_id, json_string_value(x)) != 0) {
		json_decref(o);
		return v_fail(v, "purge-event", -1, -1, (int64_t)event_no,
		    "the purge event's detail has no purge_id");
	}
	x = json_object_get(o, "records");
	if (!json_is_integer(x) || json_integer_value(x) < 0) {
		json_decref(o);
		return v_fail(v, "purge-event", -1, -1, (int64_t)event_no,
		    "the purge event's detail has no record count");
	}
	pr.records = (uint64_t)json_integer_value(x);
	x = json_object_get(o, "tombstone_root");
	if (json_is_string(x) && util_unhex(pr.root, VAULT_HASH_BYTES,
	    json_string_value(x), json_string_length(x)) == 0)
		pr.has_root = 1;
	x = json_object_get(o, "partition_records");
	if (x != NULL && (!json_is_integer(x) || json_integer_value(x) < 0 ||
	    (uint64_t)json_integer_value(x) > pr.records)) {
		json_decref(o);
		return v_fail(v, "purge-event", -1, -1, (int64_t)event_no,
		    "the purge event's partition record count is malformed");
	}
	pr.part_records = x != NULL ? (uint64_t)json_integer_value(x) : 0;
	x = json_object_get(o, "partition_root");
	if (json_is_string(x) && util_unhex(pr.proot, VAULT_HASH_BYTES,
	    json_string_value(x), json_string_length(x)) == 0)
		pr.has_proot = 1;
	json_decref(o);
	p = realloc(*list, (*n + 1) * sizeof(*p));
	if (p == NULL)
		return v_error(v, "out of memory");
	p[*n] = pr;
	*list = p;
	(*n)++;
	return 0;
}

/* Every registered node, for audit signatures (ctl/verify.c has already
 * compared their keys with the node pins when given). */
static int
v_load_nodes(vctx *v)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char err[512];
	int i, n;

	p.result_binary = 1;
	res = pg_query(v->c, "SELECT node_id, signing_public_key, name, kind "
	    "FROM coffer.nodes ORDER BY node_id", &p, err, sizeof(err));
	if (res == NULL)
		return v_error(v, "database: %s", err);
	n = PQntuples(res);
	v->nodes = calloc(n > 0 ? (size_t)n : 1, sizeof(*v->nodes));
	if (v->nodes == NULL) {
		PQclear(res);
		return v_error(v, "out of memory");
	}
	for (i = 0; i < n; i++) {
		v_node *nd = &v->nodes[v->nnodes];
		const unsigned char *b;

		if (v_bytes(res, i, 0, VAULT_ID_BYTES, &b) != 0)
			continue;
		memcpy(nd->id, b, VAULT_ID_BYTES);
		if (v_bytes(res, i, 1, VAULT_SIGN_PK_BYTES, &b) != 0)
			continue;
		memcpy(nd->pk, b, VAULT_SIGN_PK_BYTES);
		v_copy_name(nd->name, res, i, 2);
		snprintf(nd->kind, sizeof(nd->kind), "%.*s",
		    PQgetlength(res, i, 3), PQgetvalue(res, i, 3));
		v->nnodes++;
	}
	PQclear(res);
	return 0;
}

static const v_node *
v_node_by_id(const vctx *v, const unsigned char *id)
{
	return verify_node_by_id(v->nodes, v->nnodes, id);
}

static const v_node *
v_node_by_name(const vctx *v, const char *name)
{
	return verify_node_by_name(v->nodes, v->nnodes, name);
}

const verify_node *
verify_node_by_id(const verify_node *nodes, size_t n,
    const unsigned char id[16])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(nodes[i].id, id, VAULT_ID_BYTES) == 0)
			return &nodes[i];
	return NULL;
}

const verify_node *
verify_node_by_name(const verify_node *nodes, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(nodes[i].name, name) == 0)
			return &nodes[i];
	return NULL;
}

static int
v_field_is(const audit_field *f, const char *s)
{
	size_t n = strlen(s);

	return f->p != NULL && f->len == n && memcmp(f->p, s, n) == 0;
}

/* Which writer may sign an event (common/audit.h): NULL if the node's
 * kind may, else the rule it breaks. */
static const char *
v_signer_rule(const char *kind, const audit_field f[AUDIT_NFIELDS])
{
	int purge = v_field_is(&f[AUDIT_F_ACTION], "purge") ||
	    v_field_is(&f[AUDIT_F_ACTION], "purge.dry-run");
	int op = v_field_is(&f[AUDIT_F_ROLE], "operator");

	if (purge)
		return strcmp(kind, "purge") == 0 && op ? NULL :
		    "purge events are signed by a purge node only";
	if (strcmp(kind, "purge") == 0)
		return "a purge node signs purge events only";
	if (op)
		return strcmp(kind, "ctl") == 0 ? NULL :
		    "cofferctl's operator events are signed by a ctl node only";
	return strcmp(kind, "api") == 0 ? NULL :
	    "API events are signed by an api node only";
}

/* -- one audit chain, event by event ------------------------------------------ */

void
verify_audit_begin(verify_audit_chain *ch, const unsigned char tenant[16],
    const char *redaction_list, size_t redaction_len, uint64_t legacy_last,
    const verify_node *nodes, size_t nnodes)
{
	memset(ch, 0, sizeof(*ch));
	memcpy(ch->tenant, tenant, VAULT_ID_BYTES);
	vault_audit_redactions_hash(redaction_list, redaction_len,
	    ch->redactions);
	ch->legacy_last = legacy_last;
	ch->nodes = nodes;
	ch->nnodes = nnodes;
	ch->expect = 1;
}

__attribute__((format(printf, 5, 6)))
static int
v_step_fail(char what[48], const char *code, char *msg, size_t msg_len,
    const char *fmt, ...)
{
	va_list ap;

	snprintf(what, 48, "%s", code);
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
	return VERIFY_TAMPERED;
}

int
verify_audit_step(verify_audit_chain *ch, const verify_audit_row *row,
    char what[48], char *msg, size_t msg_len, int64_t *event_no_out)
{
	unsigned char hash[VAULT_HASH_BYTES];
	uint64_t eno = row->event_no;
	int is_signed = row->signer != NULL || row->signature != NULL;

	what[0] = '\0';
	msg[0] = '\0';
	*event_no_out = (int64_t)eno;
	if (eno != ch->expect) {
		if (eno > ch->expect && ch->expect == 1) {
			*event_no_out = 1;
			return v_step_fail(what, "audit-missing", msg, msg_len,
			    "the audit event is missing (the chain starts at event "
			    "%llu)", (unsigned long long)eno);
		}
		if (eno > ch->expect) {
			*event_no_out = (int64_t)ch->expect;
			return v_step_fail(what, "audit-missing", msg, msg_len,
			    "the audit event is missing (event %llu is followed by "
			    "event %llu)", (unsigned long long)ch->expect - 1,
			    (unsigned long long)eno);
		}
		return v_step_fail(what, "audit-order", msg, msg_len,
		    "audit event numbers are out of order");
	}
	if (row->prev_hash == NULL || row->prev_len != VAULT_HASH_BYTES ||
	    memcmp(row->prev_hash, ch->prev, VAULT_HASH_BYTES) != 0)
		return v_step_fail(what, "audit-link", msg, msg_len, "%s",
		    ch->expect == 1 ? "prev_hash of the first event is not 32 zero "
		    "bytes" : "prev_hash does not link to the previous event's "
		    "hash");
	if (row->at_invalid)
		return v_step_fail(what, "audit-event", msg, msg_len,
		    "the event time is out of range");
	if (audit_event_hash(ch->prev, ch->tenant, eno, row->at_us, row->f,
	    hash) != 0) {
		snprintf(what, 48, "error");
		snprintf(msg, msg_len, "cannot hash audit event %llu",
		    (unsigned long long)eno);
		return VERIFY_ERROR;
	}
	/* Issue 13.5: after migration 0008 (and after any signed event)
	 * every event carries its writer's signature; an unsigned one was
	 * inserted by a database role. */
	if (!is_signed && ch->signed_from != 0)
		return v_step_fail(what, "audit-unsigned", msg, msg_len,
		    "the event is not signed but follows signed event %llu: not "
		    "written by a Coffer writer (inserted by a database role)",
		    (unsigned long long)ch->signed_from);
	if (!is_signed && eno > ch->legacy_last)
		return v_step_fail(what, "audit-unsigned", msg, msg_len,
		    "the event is not signed, and every event after migration "
		    "0008 must be: not written by a Coffer writer (inserted by a "
		    "database role)");
	/* An event whose unblinded partials migration 0004 removed (it is
	 * listed in audit_redactions and marked in its detail): its hash can
	 * no longer be recomputed; it is taken as stored (the next event's
	 * link still covers it) and counted.  Only a legacy (unsigned,
	 * pre-0008) event can be excused so: a signed event must hash
	 * exactly, and every signature covers the tenant's redaction list,
	 * so a redaction row added after migration 0008 breaks the
	 * signatures that follow it. */
	if (row->redacted && !is_signed && row->event_hash != NULL &&
	    row->hash_len == VAULT_HASH_BYTES) {
		memcpy(hash, row->event_hash, VAULT_HASH_BYTES);
		ch->redacted++;
	} else if (row->event_hash == NULL || row->hash_len != VAULT_HASH_BYTES ||
	    memcmp(row->event_hash, hash, VAULT_HASH_BYTES) != 0) {
		return v_step_fail(what, "audit-hash", msg, msg_len,
		    "event_hash does not match the stored event: the event was "
		    "edited");
	}
	if (is_signed) {
		const verify_node *nd = NULL;
		const char *rule;
		vault_audit_stmt st;
		char shown[V_NAME_MAX];

		if (row->signer != NULL && row->signer_len == VAULT_ID_BYTES)
			nd = verify_node_by_id(ch->nodes, ch->nnodes, row->signer);
		if (nd == NULL || row->signature == NULL ||
		    row->signature_len != VAULT_SIG_BYTES)
			return v_step_fail(what, "audit-signer", msg, msg_len,
			    "the event's signer is not a registered node");
		log_printable(shown, sizeof(shown), nd->name, strlen(nd->name));
		memset(&st, 0, sizeof(st));
		memcpy(st.tenant_id, ch->tenant, VAULT_ID_BYTES);
		st.event_no = eno;
		memcpy(st.event_hash, hash, VAULT_HASH_BYTES);
		memcpy(st.node_id, nd->id, VAULT_ID_BYTES);
		memcpy(st.redactions, ch->redactions, VAULT_HASH_BYTES);
		if (vault_audit_stmt_verify(nd->pk, &st, row->signature) != 0)
			return v_step_fail(what, "audit-signature", msg, msg_len,
			    "the signature of node %s does not verify (the event, "
			    "its signer or the tenant's redaction list was "
			    "altered)", shown);
		if ((rule = v_signer_rule(nd->kind, row->f)) != NULL) {
			char act[80];
			const audit_field *a = &row->f[AUDIT_F_ACTION];

			log_printable(act, sizeof(act), a->p != NULL ? a->p : "",
			    a->len);
			return v_step_fail(what, "audit-signer-kind", msg, msg_len,
			    "event %s is signed by node %s of kind %s, which may not "
			    "write it (%s)", act, shown, nd->kind, rule);
		}
		if (ch->signed_from == 0)
			ch->signed_from = eno;
		ch->signed_events++;
	} else {
		ch->legacy++;
	}
	memcpy(ch->prev, hash, VAULT_HASH_BYTES);
	ch->expect++;
	ch->events++;
	return VERIFY_OK;
}

/* The tenant's legacy boundary (migration 0008) and redaction list. */
static int
v_audit_prelude(vctx *v, const v_tenant *t, uint64_t *legacy_last,
    unsigned char redactions[VAULT_HASH_BYTES])
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char err[512];
	int rc = -1;

	*legacy_last = 0;
	p.result_binary = 1;
	pg_param_bin(&p, t->id, VAULT_ID_BYTES);
	res = pg_query(v->c, VERIFY_SQL_AUDIT_PRELUDE, &p, err, sizeof(err));
	if (res == NULL)
		return v_error(v, "database: %s", err);
	if (PQntuples(res) != 1) {
		(void)v_error(v, "database: unexpected answer");
		goto done;
	}
	if (!PQgetisnull(res, 0, 0)) {
		int64_t n;

		if (v_i64(res, 0, 0, &n) != 0 || n < 0) {
			(void)v_error(v, "database: unexpected audit_legacy row");
			goto done;
		}
		*legacy_last = (uint64_t)n;
	}
	vault_audit_redactions_hash(PQgetisnull(res, 0, 1) ? NULL :
	    PQgetvalue(res, 0, 1), PQgetisnull(res, 0, 1) ? 0 :
	    (size_t)PQgetlength(res, 0, 1), redactions);
	rc = 0;
done:
	PQclear(res);
	return rc;
}

/* Index of the first audit witness line of tenant, nawit if none. */
static size_t
v_awitness_first(const vctx *v, const unsigned char *tenant)
{
	size_t lo = 0, hi = v->nawit;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(v->awit[mid].tenant, tenant, VAULT_ID_BYTES) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A witnessed audit head the database's chain does not reach: only a
 * line signed by a registered node is evidence (anything else is a
 * forged or damaged witness line, reported as such). */
static int
v_awitness_beyond(vctx *v, const v_awitness *w, uint64_t last)
{
	const v_node *nd = v_node_by_name(v, v->names[w->node]);
	vault_audit_stmt st;
	char shown[V_NAME_MAX];

	log_printable(shown, sizeof(shown), v->names[w->node],
	    strlen(v->names[w->node]));
	memset(&st, 0, sizeof(st));
	memcpy(st.tenant_id, w->tenant, VAULT_ID_BYTES);
	st.event_no = w->event_no;
	memcpy(st.event_hash, w->head, VAULT_HASH_BYTES);
	if (nd != NULL)
		memcpy(st.node_id, nd->id, VAULT_ID_BYTES);
	memcpy(st.redactions, w->redactions, VAULT_HASH_BYTES);
	if (nd == NULL || vault_audit_stmt_verify(nd->pk, &st, w->sig) != 0)
		return v_fail(v, "audit-witness-sig", -1, -1, (int64_t)w->event_no,
		    "witness %s line %u: the audit head is not signed by "
		    "registered node %s (a forged or damaged witness line)",
		    v->o->witness[w->file], w->line, shown);
	if (last == 0)
		return v_fail(v, "audit-truncated", -1, -1, (int64_t)w->event_no,
		    "witness %s line %u holds this audit head (signed by node "
		    "%s) but the database has no audit event of this tenant "
		    "(events removed, or a restore from an older backup)",
		    v->o->witness[w->file], w->line, shown);
	return v_fail(v, "audit-truncated", -1, -1, (int64_t)w->event_no,
	    "witness %s line %u holds this audit head (signed by node %s) but "
	    "the database's audit chain ends at event %llu (events removed, "
	    "or a restore from an older backup)", v->o->witness[w->file],
	    w->line, shown, (unsigned long long)last);
}

/* A node.init event (nil-uuid chain, signed from migration 0008 on)
 * records the kind the node was registered with: the database's kind
 * column must still say so, or the owner relabelled the node (e.g. an api
 * node as ctl, to pass the API's key off as the operator's).  Nodes made
 * before 0008 have no kind in it: gateway. */
static int
v_node_init_kind(vctx *v, const audit_field *detail, uint64_t eno)
{
	json_error_t jerr;
	json_t *o, *x;
	unsigned char id[VAULT_ID_BYTES];
	const char *kind = "gateway";
	const v_node *nd;
	char shown[V_NAME_MAX], k2[16];
	int rc = 0;

	if (detail->p == NULL)
		return 0;
	o = json_loadb(detail->p, detail->len, 0, &jerr);
	x = o != NULL ? json_object_get(o, "node_id") : NULL;
	if (!json_is_string(x) || util_uuid_parse(id, json_string_value(x)) != 0 ||
	    (nd = v_node_by_id(v, id)) == NULL) {
		json_decref(o);
		return 0;
	}
	x = json_object_get(o, "kind");
	if (json_is_string(x))
		kind = json_string_value(x);
	if (strcmp(kind, nd->kind) != 0) {
		log_printable(shown, sizeof(shown), nd->name, strlen(nd->name));
		log_printable(k2, sizeof(k2), kind, strlen(kind));
		rc = v_fail(v, "node-kind", -1, -1, (int64_t)eno, "node %s is "
		    "registered as kind %s, but its node.init event says %s: the "
		    "node was relabelled", shown, nd->kind, k2);
	}
	json_decref(o);
	return rc;
}

static int
v_audit_tenant(vctx *v, const v_tenant *t, v_purge **purges, size_t *npurges)
{
	char sql[1024], tid[UTIL_UUID_STRLEN + 1];
	unsigned char redactions[VAULT_HASH_BYTES];
	uint64_t legacy_last = 0, eno;
	verify_audit_chain ch;
	size_t wi = v_awitness_first(v, t->id);
	v_copy cp;
	int got, rc = -1;

	if (v_audit_prelude(v, t, &legacy_last, redactions) != 0)
		return -1;
	util_uuid_format(tid, t->id);
	snprintf(sql, sizeof(sql),
	    "COPY (SELECT event_no, prev_hash, event_hash, at, actor, role, "
	    "action, target, outcome, request_id, detail::text, "
	    "EXISTS (SELECT 1 FROM coffer.audit_redactions x "
	    " WHERE x.tenant_id = a.tenant_id AND x.event_no = a.event_no "
	    " AND a.detail->>'partials_redacted' = '0004' "
	    " AND NOT a.detail ? 'partials'), signer, signature "
	    "FROM coffer.audit_events a WHERE tenant_id = '%s' ORDER BY event_no) "
	    "TO STDOUT (FORMAT binary)", tid);
	if (v_copy_start(v, &cp, sql) != 0)
		return -1;
	verify_audit_begin(&ch, t->id, NULL, 0, legacy_last, v->nodes, v->nnodes);
	memcpy(ch.redactions, redactions, sizeof(ch.redactions));
	while ((got = v_copy_next(v, &cp, V_AUDIT_FIELDS)) == 1) {
		verify_audit_row row;
		const audit_field *f = row.f;
		char what[48], msg[576];
		int64_t at = 0, where;
		int i, st;

		if (cp.l[0] != 8 || cp.l[3] != 8) {
			(void)v_error(v, "database: unexpected audit row");
			goto done;
		}
		memset(&row, 0, sizeof(row));
		row.event_no = vault_be64_get(cp.f[0]);
		row.at_invalid = v_pgtime((int64_t)vault_be64_get(cp.f[3]),
		    &at) != 0;
		row.at_us = at;
		row.prev_hash = (const unsigned char *)cp.f[1];
		row.prev_len = cp.l[1] >= 0 ? (size_t)cp.l[1] : 0;
		row.event_hash = (const unsigned char *)cp.f[2];
		row.hash_len = cp.l[2] >= 0 ? (size_t)cp.l[2] : 0;
		for (i = 0; i < AUDIT_NFIELDS; i++) {
			row.f[i].p = cp.l[4 + i] >= 0 ? cp.f[4 + i] : NULL;
			row.f[i].len = cp.l[4 + i] >= 0 ? (size_t)cp.l[4 + i] : 0;
		}
		row.redacted = cp.l[11] == 1 && cp.f[11][0] == 1;
		if (cp.l[12] >= 0 || cp.l[13] >= 0) {
			row.signer = (const unsigned char *)cp.f[12];
			row.signer_len = cp.l[12] >= 0 ? (size_t)cp.l[12] : 0;
			row.signature = (const unsigned char *)cp.f[13];
			row.signature_len = cp.l[13] >= 0 ? (size_t)cp.l[13] : 0;
			if (row.signer == NULL)
				row.signer = (const unsigned char *)"";
			if (row.signature == NULL)
				row.signature = (const unsigned char *)"";
		}
		st = verify_audit_step(&ch, &row, what, msg, sizeof(msg), &where);
		if (st == VERIFY_ERROR) {
			(void)v_error(v, "%s", msg);
			goto done;
		}
		if (st != VERIFY_OK) {
			(void)v_fail(v, what, -1, -1, where, "%s", msg);
			goto done;
		}
		eno = row.event_no;
		if (memcmp(t->id, v_zero, VAULT_ID_BYTES) == 0 &&
		    v_field_is(&f[AUDIT_F_ACTION], "node.init") &&
		    v_field_is(&f[AUDIT_F_OUTCOME], "ok") &&
		    v_node_init_kind(v, &f[AUDIT_F_DETAIL], eno) != 0)
			goto done;
		/* Witnessed heads of this event must be this event. */
		for (; wi < v->nawit && memcmp(v->awit[wi].tenant, t->id,
		    VAULT_ID_BYTES) == 0 && v->awit[wi].event_no <= eno; wi++) {
			v->awit[wi].seen = 1;
			if (v->awit[wi].event_no < eno)
				continue;
			if (memcmp(v->awit[wi].head, ch.prev, VAULT_HASH_BYTES) != 0) {
				(void)v_fail(v, "audit-witness", -1, -1,
				    (int64_t)eno, "witness %s line %u holds another "
				    "head for this event (the chain was rewritten "
				    "from here, or replaced)",
				    v->o->witness[v->awit[wi].file], v->awit[wi].line);
				goto done;
			}
		}
		if (v_field_is(&f[AUDIT_F_ACTION], "purge") &&
		    v_field_is(&f[AUDIT_F_OUTCOME], "ok")) {
			if (f[AUDIT_F_DETAIL].p == NULL) {
				(void)v_fail(v, "purge-event", -1, -1, (int64_t)eno,
				    "the purge event has no detail");
				goto done;
			}
			if (v_purge_from_detail(v, f[AUDIT_F_DETAIL].p,
			    f[AUDIT_F_DETAIL].len, eno, purges, npurges) != 0)
				goto done;
		}
		v->r->audit_events++;
	}
	if (got < 0)
		goto done;
	/* Witnessed heads beyond the chain's end: truncation. */
	if (wi < v->nawit && memcmp(v->awit[wi].tenant, t->id,
	    VAULT_ID_BYTES) == 0) {
		v->awit[wi].seen = 1;
		(void)v_awitness_beyond(v, &v->awit[wi], ch.expect - 1);
		goto done;
	}
	rc = 0;
done:
	v->r->audit_signed += ch.signed_events;
	v->r->audit_legacy += ch.legacy;
	v->r->audit_redacted += ch.redacted;
	v_copy_drain(&cp);
	return rc;
}

static v_purge *
v_purge_find(v_purge *list, size_t n, const unsigned char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(list[i].purge_id, id, VAULT_ID_BYTES) == 0)
			return &list[i];
	return NULL;
}

/* The tombstones of one purge, leaves in v->leaves[0..n). */
static int
v_purge_group(vctx *v, v_purge *list, size_t npurges,
    const unsigned char *purge_id, size_t n, const unsigned char *stream,
    int64_t seq)
{
	unsigned char root[VAULT_HASH_BYTES];
	char pid[UTIL_UUID_STRLEN + 1];
	v_purge *p = v_purge_find(list, npurges, purge_id);

	util_uuid_format(pid, purge_id);
	if (p == NULL) {
		v->loc_stream = stream;
		return v_fail(v, "tombstone-unaudited", -1, seq, -1,
		    "tombstones of purge %s are covered by no purge audit event "
		    "(tombstones forged, or the audit log truncated)", pid);
	}
	p->matched = 1;
	if (p->records - p->part_records != n)
		return v_fail(v, "tombstone-count", -1, -1, (int64_t)p->event_no,
		    "purge %s disposed of %llu records row by row by its audit "
		    "event, but %zu tombstones carry its id", pid,
		    (unsigned long long)(p->records - p->part_records), n);
	if (vault_merkle_root(v->leaves, n, root) != 0)
		return v_error(v, "cannot compute a Merkle root");
	if (!p->has_root || memcmp(root, p->root, VAULT_HASH_BYTES) != 0)
		return v_fail(v, "tombstone-root", -1, -1, (int64_t)p->event_no,
		    "the Merkle root of purge %s's tombstones differs from the "
		    "one its audit event recorded", pid);
	return 0;
}

/* One purge's partition tombstones: n batch roots in v->leaves, recs
 * records by their counts. */
static int
v_partition_group(vctx *v, v_purge *list, size_t npurges,
    const unsigned char *purge_id, size_t n, uint64_t recs)
{
	unsigned char root[VAULT_HASH_BYTES];
	char pid[UTIL_UUID_STRLEN + 1];
	v_purge *p = v_purge_find(list, npurges, purge_id);

	util_uuid_format(pid, purge_id);
	if (p == NULL)
		return v_fail(v, "partition-unaudited", -1, -1, -1,
		    "partition tombstones of purge %s are covered by no purge "
		    "audit event (a partition dropped, or its tombstone written, "
		    "outside a signed purge; or the audit log truncated)", pid);
	p->pmatched = 1;
	if (p->part_records != recs)
		return v_fail(v, "partition-count", -1, -1, (int64_t)p->event_no,
		    "purge %s dropped %llu records with their partitions by its "
		    "audit event, but its partition tombstones count %llu", pid,
		    (unsigned long long)p->part_records, (unsigned long long)recs);
	if (vault_merkle_root(v->leaves, n, root) != 0)
		return v_error(v, "cannot compute a Merkle root");
	if (!p->has_proot || memcmp(root, p->proot, VAULT_HASH_BYTES) != 0)
		return v_fail(v, "partition-root", -1, -1, (int64_t)p->event_no,
		    "the Merkle root of the batches purge %s's partition "
		    "tombstones cover differs from the one its audit event "
		    "recorded", pid);
	return 0;
}

/* Partition tombstones (0019) of tenant t, by purge: the roots of the
 * batches they cover, in (stream, batch_no) order, must give a signed
 * purge event's partition_root, and their record counts its
 * partition_records; every such event must have its tombstones. */
static int
v_partitions_tenant(vctx *v, const v_tenant *t, v_purge *list,
    size_t npurges)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res = NULL;
	char err[512];
	size_t n = 0, i;
	uint64_t recs = 0;
	int r, rows, rc = -1;
	const unsigned char *cur = NULL;

	p.result_binary = 1;
	pg_param_bin(&p, t->id, VAULT_ID_BYTES);
	/* record_count once per tombstone row: on its first batch. */
	res = pg_query(v->c, "SELECT pt.purge_id, b.merkle_root, "
	    "CASE WHEN b.batch_no = lower(pt.batches) THEN pt.record_count "
	    "ELSE 0 END FROM coffer.partition_tombstones pt "
	    "LEFT JOIN coffer.batches b ON b.tenant_id = pt.tenant_id "
	    "AND b.stream_id = pt.stream_id AND b.batch_no <@ pt.batches "
	    "WHERE pt.tenant_id = $1 "
	    "ORDER BY pt.purge_id, pt.stream_id, b.batch_no", &p, err,
	    sizeof(err));
	if (res == NULL)
		return v_error(v, "database: %s", err);
	rows = PQntuples(res);
	for (r = 0; r < rows; r++) {
		const unsigned char *pid, *root;
		int64_t k;

		if (v_bytes(res, r, 0, VAULT_ID_BYTES, &pid) != 0) {
			(void)v_error(v, "database: unexpected partition row");
			goto done;
		}
		if (v_bytes(res, r, 1, VAULT_HASH_BYTES, &root) != 0) {
			(void)v_fail(v, "partition-tombstone", -1, -1, -1,
			    "a partition tombstone covers a batch the database "
			    "does not hold");
			goto done;
		}
		if (v_i64(res, r, 2, &k) != 0 || k < 0) {
			(void)v_error(v, "database: unexpected partition row");
			goto done;
		}
		if (cur != NULL && memcmp(cur, pid, VAULT_ID_BYTES) != 0) {
			if (v_partition_group(v, list, npurges, cur, n, recs) != 0)
				goto done;
			n = 0;
			recs = 0;
		}
		cur = pid;
		if (v_leaves_reserve(v, n + 1) != 0)
			goto done;
		memcpy(v->leaves + n * VAULT_HASH_BYTES, root, VAULT_HASH_BYTES);
		n++;
		recs += (uint64_t)k;
	}
	if (cur != NULL && v_partition_group(v, list, npurges, cur, n,
	    recs) != 0)
		goto done;
	for (i = 0; i < npurges; i++)
		if (!list[i].pmatched && list[i].part_records > 0) {
			(void)v_fail(v, "partition-missing", -1, -1,
			    (int64_t)list[i].event_no, "the purge event records "
			    "%llu records dropped with their partitions but no "
			    "partition tombstone carries its purge id",
			    (unsigned long long)list[i].part_records);
			goto done;
		}
	rc = 0;
done:
	PQclear(res);
	return rc;
}

static int
v_tombstones_tenant(vctx *v, const v_tenant *t, v_purge *list, size_t npurges)
{
	char sql[1024], tid[UTIL_UUID_STRLEN + 1];
	unsigned char cur[VAULT_ID_BYTES], stream[VAULT_ID_BYTES];
	int64_t first_seq = -1;
	size_t n = 0, i;
	int got, have = 0, rc = -1;
	v_copy cp;

	util_uuid_format(tid, t->id);
	snprintf(sql, sizeof(sql),
	    "COPY (SELECT purge_id, stream_id, seq, leaf_hash FROM "
	    "coffer.tombstones WHERE tenant_id = '%s' "
	    "ORDER BY purge_id, stream_id, seq) TO STDOUT (FORMAT binary)", tid);
	if (v_copy_start(v, &cp, sql) != 0)
		return -1;
	while ((got = v_copy_next(v, &cp, 4)) == 1) {
		if (cp.l[0] != (int)VAULT_ID_BYTES || cp.l[1] != (int)VAULT_ID_BYTES ||
		    cp.l[2] != 8 || cp.l[3] != (int)VAULT_HASH_BYTES) {
			(void)v_fail(v, "tombstone", -1, -1, -1,
			    "a tombstone row is malformed");
			goto done;
		}
		if (have && memcmp(cur, cp.f[0], VAULT_ID_BYTES) != 0) {
			if (v_purge_group(v, list, npurges, cur, n, stream,
			    first_seq) != 0)
				goto done;
			have = 0;
		}
		if (!have) {
			memcpy(cur, cp.f[0], VAULT_ID_BYTES);
			memcpy(stream, cp.f[1], VAULT_ID_BYTES);
			first_seq = (int64_t)vault_be64_get(cp.f[2]);
			n = 0;
			have = 1;
		}
		if (v_leaves_reserve(v, n + 1) != 0)
			goto done;
		memcpy(v->leaves + n * VAULT_HASH_BYTES, cp.f[3], VAULT_HASH_BYTES);
		n++;
	}
	if (got < 0)
		goto done;
	if (have && v_purge_group(v, list, npurges, cur, n, stream,
	    first_seq) != 0)
		goto done;
	v->loc_stream = NULL;
	for (i = 0; i < npurges; i++)
		if (!list[i].matched &&
		    list[i].records > list[i].part_records) {
			(void)v_fail(v, "tombstone-missing", -1, -1,
			    (int64_t)list[i].event_no, "the purge event records "
			    "%llu records disposed of row by row but no tombstone "
			    "carries its purge id", (unsigned long long)
			    (list[i].records - list[i].part_records));
			goto done;
		}
	rc = v_partitions_tenant(v, t, list, npurges);
done:
	v_copy_drain(&cp);
	return rc;
}

/* coffer.record_dedup (0018) is the gateway's memory of what it stored:
 * a row that names no record would answer a new message "duplicate" with
 * a receipt for nothing, so it is never stored; a record without its row
 * would be stored twice when sent again.  Each stream's walk matches its
 * rows one to one (v_chunk, v_stream_tail); here, a row may not name a
 * stream the walk did not cover (skip scan over 0020's index). */
static int
v_dedup_tenant(vctx *v, const v_tenant *t)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char err[512];
	int i, n;
	size_t j;

	if (v->has_stream)
		return 0;
	p.result_binary = 1;
	pg_param_bin(&p, t->id, VAULT_ID_BYTES);
	res = pg_query(v->c,
	    "WITH RECURSIVE s AS ((SELECT stream_id FROM coffer.record_dedup "
	    "   WHERE tenant_id = $1 ORDER BY stream_id LIMIT 1) "
	    " UNION ALL SELECT n.stream_id FROM s CROSS JOIN LATERAL "
	    "  (SELECT d.stream_id FROM coffer.record_dedup d "
	    "   WHERE d.tenant_id = $1 AND d.stream_id > s.stream_id "
	    "   ORDER BY d.stream_id LIMIT 1) n) "
	    "SELECT stream_id FROM s", &p, err, sizeof(err));
	if (res == NULL)
		return v_error(v, "database: %s", err);
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		const unsigned char *sid;

		if (v_bytes(res, i, 0, VAULT_ID_BYTES, &sid) != 0) {
			PQclear(res);
			return v_error(v, "database: unexpected dedup stream row");
		}
		for (j = 0; j < v->nstreams; j++)
			if (memcmp(v->streams[j].tenant, t->id,
			    VAULT_ID_BYTES) == 0 && memcmp(v->streams[j].stream,
			    sid, VAULT_ID_BYTES) == 0)
				break;
		if (j == v->nstreams) {
			PQclear(res);
			v->loc_stream = sid;
			(void)v_dedup_orphan(v, -1, -1);
			v->loc_stream = NULL;
			return -1;
		}
	}
	PQclear(res);
	return 0;
}

/* Tenants whose audit log is checked: the filter, the tenants of the
 * selected streams, or every tenant that has a name or an audit event. */
static int
v_audit_scope(vctx *v, v_tenant **out, size_t *nout)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *res;
	char err[512];
	v_tenant *t;
	int i, n;

	*out = NULL;
	*nout = 0;
	p.result_binary = 1;
	if (v->has_tenant)
		pg_param_bin(&p, v->tenant, VAULT_ID_BYTES);
	else
		pg_param_null(&p);
	if (v->has_stream)
		pg_param_bin(&p, v->stream, VAULT_ID_BYTES);
	else
		pg_param_null(&p);
	res = pg_query(v->c,
	    "WITH RECURSIVE a AS ((SELECT tenant_id FROM coffer.audit_events "
	    "   ORDER BY tenant_id LIMIT 1) "
	    " UNION ALL SELECT n.tenant_id FROM a CROSS JOIN LATERAL "
	    "  (SELECT x.tenant_id FROM coffer.audit_events x "
	    "   WHERE x.tenant_id > a.tenant_id ORDER BY x.tenant_id LIMIT 1) n), "
	    " ids AS (SELECT tenant_id FROM a UNION SELECT tenant_id "
	    "   FROM coffer.tenants) "
	    "SELECT i.tenant_id, t.name FROM ids i "
	    "LEFT JOIN coffer.tenants t ON t.tenant_id = i.tenant_id "
	    "WHERE ($1::uuid IS NULL OR i.tenant_id = $1::uuid) "
	    "  AND ($2::uuid IS NULL OR i.tenant_id IN (SELECT s.tenant_id "
	    "       FROM coffer.streams s WHERE s.stream_id = $2::uuid)) "
	    "ORDER BY i.tenant_id", &p, err, sizeof(err));
	if (res == NULL)
		return v_error(v, "database: %s", err);
	n = PQntuples(res);
	t = calloc(n > 0 ? (size_t)n : 1, sizeof(*t));
	if (t == NULL) {
		PQclear(res);
		return v_error(v, "out of memory");
	}
	for (i = 0; i < n; i++) {
		const unsigned char *b;

		if (v_bytes(res, i, 0, VAULT_ID_BYTES, &b) != 0)
			continue;
		memcpy(t[*nout].id, b, VAULT_ID_BYTES);
		v_copy_name(t[*nout].name, res, i, 1);
		(*nout)++;
	}
	PQclear(res);
	*out = t;
	return 0;
}

static int
v_audit_all(vctx *v)
{
	v_tenant *ts = NULL;
	size_t nt = 0, i;
	int rc = -1;

	if (v_audit_scope(v, &ts, &nt) != 0)
		return -1;
	for (i = 0; i < nt; i++) {
		v_purge *purges = NULL;
		size_t np = 0;
		int bad;

		v->loc_tenant = ts[i].id;
		v->loc_tenant_name = ts[i].name;
		v->loc_stream = NULL;
		bad = v_audit_tenant(v, &ts[i], &purges, &np) != 0 ||
		    v_tombstones_tenant(v, &ts[i], purges, np) != 0 ||
		    v_dedup_tenant(v, &ts[i]) != 0;
		free(purges);
		if (bad)
			goto done;
		v->r->tenants++;
	}
	/* Witnessed heads of tenants whose chain the database lacks (with a
	 * stream filter the scope is partial: not evidence). */
	for (i = 0; !v->has_stream && i < v->nawit; i++) {
		if (v->awit[i].seen)
			continue;
		v->loc_tenant = v->awit[i].tenant;
		v->loc_tenant_name = NULL;
		v->loc_stream = NULL;
		(void)v_awitness_beyond(v, &v->awit[i], 0);
		goto done;
	}
	rc = 0;
done:
	free(ts);
	return rc;
}

/* -- driver ------------------------------------------------------------------ */

int
verify_run(PGconn *c, const verify_opts *o, verify_report *r)
{
	vctx v;
	char err[512];
	size_t i;
	int in_tx = 0;

	memset(r, 0, sizeof(*r));
	r->batch_no = r->seq = r->event_no = -1;
	memset(&v, 0, sizeof(v));
	v.c = c;
	v.o = o;
	v.r = r;
	v.t0 = util_mono_s();
	v.every = o->progress_every_s > 0 ? o->progress_every_s : 1.0;
	v.next_progress = v.t0 + v.every;

	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		(void)v_error(&v, "no database connection");
		goto out;
	}
	if (PQtransactionStatus(c) != (o->in_transaction ? PQTRANS_INTRANS :
	    PQTRANS_IDLE)) {
		(void)v_error(&v, o->in_transaction ? "no open transaction" :
		    "the connection is inside a transaction");
		goto out;
	}
	if (v_resolve_filters(&v) != 0)
		goto out;
	/* Witnesses first: every line read now names a committed batch, so
	 * the snapshot taken next must contain it. */
	if (v_witness_load(&v) != 0)
		goto out;
	if (!o->in_transaction && pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE "
	    "READ READ ONLY", NULL, err, sizeof(err)) != 0) {
		(void)v_error(&v, "database: %s", err);
		goto out;
	}
	in_tx = !o->in_transaction;
	/* Every scan here is an index range in key order.  After bulk ingest
	 * the statistics are stale and the cost model (random I/O) picks a
	 * bitmap scan plus an external sort for them, about three times
	 * slower; JIT only adds compile time to these simple queries. */
	if (pg_exec(c, "SET LOCAL enable_bitmapscan = off", NULL, err,
	    sizeof(err)) != 0 ||
	    pg_exec(c, "SET LOCAL enable_sort = off", NULL, err,
	    sizeof(err)) != 0 ||
	    pg_exec(c, "SET LOCAL jit = off", NULL, err, sizeof(err)) != 0) {
		(void)v_error(&v, "database: %s", err);
		goto out;
	}
	if (v_load_streams(&v) != 0)
		goto out;
	for (i = 0; i < v.nstreams; i++)
		if (v_stream_run(&v, &v.streams[i]) != 0)
			goto out;
	v.loc_stream = NULL;
	/* Witness lines for streams the database does not have at all. */
	for (i = 0; i < v.nwit; i++) {
		if (v.wit[i].seen)
			continue;
		v.loc_tenant = v.wit[i].tenant;
		v.loc_tenant_name = NULL;
		v.loc_stream = v.wit[i].stream;
		(void)v_fail(&v, "stream-missing", (int64_t)v.wit[i].batch, -1, -1,
		    "witness %s line %u holds this stream's checkpoint but the "
		    "database has no such stream (stream removed, or a restore "
		    "from an older backup)", o->witness[v.wit[i].file],
		    v.wit[i].line);
		goto out;
	}
	v.loc_tenant = NULL;
	v.loc_stream = NULL;
	if (!o->skip_audit && (v_load_nodes(&v) != 0 || v_audit_all(&v) != 0))
		goto out;

out:
	if (in_tx)
		(void)pg_rollback(c);
	r->seconds = util_mono_s() - v.t0;
	free(v.wit);
	free(v.awit);
	free(v.nodes);
	for (i = 0; i < v.nnames; i++)
		free(v.names[i]);
	free(v.names);
	free(v.streams);
	free(v.leaves);
	free(v.parts);
	free(v.epu);
	free(v.cov);
	return r->status;
}
