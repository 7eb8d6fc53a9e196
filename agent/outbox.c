/* agent/outbox.c — the durable outbox and the receipts journal (outbox.h).
 *
 * In memory: the pending records in capture_seq order (a sorted array; a
 * DONE finds its record by binary search), each spool file's intake
 * position, and two write buffers.  obx_sync() writes the receipts buffer
 * and fsyncs it before it writes and fsyncs the outbox buffer, so a DONE
 * is never on disk without its receipt.
 *
 * A failed write or fsync leaves memory ahead of the disk: the caller
 * must treat it as fatal and start again from the files (after a failed
 * fsync the page cache's state is unknown; retrying it can report success
 * for data that is gone).
 *
 * Trusts: the files only as far as their checksums (journal.h); payloads
 * are parsed with bounds, a malformed one refuses the open.  Record lines
 * are content: held in memory wiped on free, never logged.
 */
#include "agent/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/journal.h"
#include "common/log.h"
#include "vault/mem.h"

#define OBX_COMPACT_MIN  (256U * 1024U)    /* never compact a smaller file */
#define OBX_PATH_MAX     4096U

typedef struct obx_pos {
	char     name[OBX_NAME_MAX + 1];
	uint64_t ino;
	uint64_t off;
} obx_pos;

typedef struct obx_buf {
	unsigned char *p;
	size_t         len, cap;
} obx_buf;

struct outbox {
	int        readonly;
	int        fd, rfd, lockfd;
	char       dir[OBX_PATH_MAX];
	obx_rec  **recs;            /* sorted by seq; done ones swept lazily */
	size_t     nrecs, caprecs, ndone;
	obx_pos   *pos;
	size_t     npos, cappos;
	obx_buf    wb, rb;          /* outbox and receipts write buffers */
	obx_stats  st;
	size_t     live_bytes;      /* frames of pending ADDs */
};

/* -- memory ------------------------------------------------------------------ */

static void
obx_rec_free(obx_rec *r)
{
	if (r == NULL)
		return;
	vault_free_wiped(r->data, r->len);
	free(r);
}

static int
obx_buf_add(obx_buf *b, unsigned type, uint64_t seq, const void *d, size_t len)
{
	size_t need = jnl_frame_size(len);

	if (b->cap - b->len < need) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		unsigned char *p;

		while (cap - b->len < need)
			cap *= 2;
		p = vault_grow(b->p, b->len, b->cap, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	jnl_encode(b->p + b->len, type, seq, d, len);
	b->len += need;
	return 0;
}

static void
obx_buf_clear(obx_buf *b)
{
	vault_free_wiped(b->p, b->cap);
	memset(b, 0, sizeof(*b));
}

/* -- pending records ---------------------------------------------------------- */

static obx_rec *
obx_find(const outbox *o, uint64_t seq)
{
	size_t lo = 0, hi = o->nrecs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->recs[mid]->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < o->nrecs && o->recs[lo]->seq == seq ? o->recs[lo] : NULL;
}

static void
obx_sweep(outbox *o)
{
	size_t i, j = 0;

	for (i = 0; i < o->nrecs; i++) {
		if (o->recs[i]->done)
			obx_rec_free(o->recs[i]);
		else
			o->recs[j++] = o->recs[i];
	}
	o->nrecs = j;
	o->ndone = 0;
}

static int
obx_push(outbox *o, uint64_t seq, const unsigned char *line, size_t len)
{
	obx_rec *r;

	if (o->nrecs > 0 && o->recs[o->nrecs - 1]->seq >= seq)
		return -1;          /* capture_seq must grow */
	if (o->ndone > 64 && o->ndone * 2 > o->nrecs)
		obx_sweep(o);
	if (o->nrecs == o->caprecs) {
		size_t cap = o->caprecs == 0 ? 256 : o->caprecs * 2;
		obx_rec **p = realloc(o->recs, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		o->recs = p;
		o->caprecs = cap;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	if ((r->data = malloc(len > 0 ? len : 1)) == NULL) {
		free(r);
		return -1;
	}
	memcpy(r->data, line, len);
	r->len = len;
	r->seq = seq;
	o->recs[o->nrecs++] = r;
	o->st.pending++;
	o->st.pending_bytes += len;
	o->live_bytes += jnl_frame_size(len + 17);
	return 0;
}

static int
obx_mark_done(outbox *o, uint64_t seq)
{
	obx_rec *r = obx_find(o, seq);

	if (r == NULL || r->done)
		return -1;
	r->done = 1;
	o->ndone++;
	o->st.pending--;
	o->st.pending_bytes -= r->len;
	o->live_bytes -= jnl_frame_size(r->len + 17);
	vault_free_wiped(r->data, r->len);
	r->data = NULL;
	r->len = 0;
	return 0;
}

/* -- spool positions ----------------------------------------------------------- */

static obx_pos *
obx_pos_find(const outbox *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->npos; i++)
		if (strcmp(o->pos[i].name, name) == 0)
			return &o->pos[i];
	return NULL;
}

static int
obx_pos_set(outbox *o, const char *name, uint64_t ino, uint64_t off)
{
	obx_pos *p = obx_pos_find(o, name);

	if (p == NULL) {
		if (o->npos == o->cappos) {
			size_t cap = o->cappos == 0 ? 16 : o->cappos * 2;
			obx_pos *n = realloc(o->pos, cap * sizeof(*n));

			if (n == NULL)
				return -1;
			o->pos = n;
			o->cappos = cap;
		}
		p = &o->pos[o->npos++];
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->ino = ino;
		p->off = off;
		return 0;
	}
	if (p->ino != ino || off > p->off) {
		p->ino = ino;
		p->off = off;
	}
	return 0;
}

static void
obx_pos_drop(outbox *o, const char *name)
{
	obx_pos *p = obx_pos_find(o, name);

	if (p != NULL)
		*p = o->pos[--o->npos];
}

static int
obx_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > OBX_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == '\0')
			return 0;
	return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

/* -- payloads -------------------------------------------------------------------- */

static void
obx_put64(unsigned char *p, uint64_t v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
obx_get64(const unsigned char *p)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Spool reference: u8 name_len, name, u64 ino, u64 off (17 + name_len). */
static size_t
obx_ref_encode(unsigned char *out, const char *name, uint64_t ino,
    uint64_t off)
{
	size_t n = strlen(name);

	out[0] = (unsigned char)n;
	memcpy(out + 1, name, n);
	obx_put64(out + 1 + n, ino);
	obx_put64(out + 9 + n, off);
	return 17 + n;
}

static int
obx_ref_decode(const unsigned char *p, size_t len, char *name, uint64_t *ino,
    uint64_t *off, size_t *used)
{
	size_t n;

	if (len < 17)
		return -1;
	n = p[0];
	if (len < 17 + n || (n > 0 && !obx_name_ok((const char *)p + 1, n)))
		return -1;
	memcpy(name, p + 1, n);
	name[n] = '\0';
	*ino = obx_get64(p + 1 + n);
	*off = obx_get64(p + 9 + n);
	*used = 17 + n;
	return 0;
}

/* -- replay ------------------------------------------------------------------------ */

static int
obx_visit(void *ctx, const jnl_entry *e, char *err, size_t err_len)
{
	outbox *o = ctx;
	char name[OBX_NAME_MAX + 1];
	uint64_t ino, off;
	size_t used;

	switch (e->type) {
	case OBX_BASE:
		if (e->len != 0)
			goto bad;
		if (e->seq > o->st.seq_high)
			o->st.seq_high = e->seq;
		return 0;
	case OBX_ADD:
		/* in capture_seq order (obx_push); after a compaction's BASE
		 * they may lie below its high-water */
		if (obx_ref_decode(e->data, e->len, name, &ino, &off, &used) != 0 ||
		    e->seq == 0)
			goto bad;
		if (obx_push(o, e->seq, e->data + used, e->len - used) != 0)
			goto bad;
		if (e->seq > o->st.seq_high)
			o->st.seq_high = e->seq;
		if (name[0] != '\0' && obx_pos_set(o, name, ino, off) != 0)
			goto oom;
		return 0;
	case OBX_DONE:
		if (e->len != 1 || (e->data[0] != 'd' && e->data[0] != 'r') ||
		    obx_mark_done(o, e->seq) != 0)
			goto bad;
		return 0;
	case OBX_SPOOL:
		if (obx_ref_decode(e->data, e->len, name, &ino, &off, &used) != 0 ||
		    used != e->len || name[0] == '\0')
			goto bad;
		if (obx_pos_set(o, name, ino, off) != 0)
			goto oom;
		return 0;
	case OBX_SPOOL_GONE:
		if (!obx_name_ok((const char *)e->data, e->len))
			goto bad;
		memcpy(name, e->data, e->len);
		name[e->len] = '\0';
		obx_pos_drop(o, name);
		return 0;
	default:
		goto bad;
	}
bad:
	snprintf(err, err_len, "outbox entry at offset %zu (type %u): malformed "
	    "payload", e->off, e->type);
	return -1;
oom:
	snprintf(err, err_len, "out of memory");
	return -1;
}

static int
obx_visit_receipt(void *ctx, const jnl_entry *e, char *err, size_t err_len)
{
	outbox *o = ctx;
	obx_rec *r;

	if (e->type != OBX_RECEIPT || e->seq == 0 || e->len == 0 ||
	    e->len > OBX_RECEIPT_MAX) {
		snprintf(err, err_len, "receipts entry at offset %zu: malformed",
		    e->off);
		return -1;
	}
	o->st.receipts++;
	if ((r = obx_find(o, e->seq)) != NULL && !r->done)
		r->receipted = 1;   /* without its DONE: see obx_open */
	/* should the outbox have been lost, numbers the receipts hold are
	 * still never handed out again */
	if (e->seq > o->st.seq_high)
		o->st.seq_high = e->seq;
	return 0;
}

/* Map a whole file read-only; *len 0 and *map NULL for an empty file. */
static int
obx_map(int fd, const char *what, unsigned char **map, size_t *len, char *err,
    size_t err_len)
{
	struct stat sb;
	void *m;

	*map = NULL;
	*len = 0;
	if (fstat(fd, &sb) != 0) {
		snprintf(err, err_len, "%s: %s", what, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", what);
		return -1;
	}
	if (sb.st_size == 0)
		return 0;
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, err_len, "%s: mmap: %s", what, strerror(errno));
		return -1;
	}
	*map = m;
	*len = (size_t)sb.st_size;
	return 0;
}

/* The "at" of the last receipt in buf (valid up to len). */
static long long
obx_last_receipt_at(const unsigned char *buf, size_t len, size_t last_off)
{
	const unsigned char *h = buf + last_off;
	size_t plen;
	json_t *j, *at;
	long long us = 0;
	struct tm tm;
	int frac = 0;
	char tail[8];

	if (last_off + JNL_HDR_BYTES > len)
		return 0;
	plen = (size_t)h[8] | (size_t)h[9] << 8 | (size_t)h[10] << 16 |
	    (size_t)h[11] << 24;
	if (last_off + jnl_frame_size(plen) > len)
		return 0;
	j = json_loadb((const char *)h + JNL_HDR_BYTES, plen, 0, NULL);
	at = json_object_get(j, "at");
	memset(&tm, 0, sizeof(tm));
	if (json_is_string(at) && sscanf(json_string_value(at),
	    "%4d-%2d-%2dT%2d:%2d:%2d.%6d%1s", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac, tail) >= 7) {
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		us = (long long)timegm(&tm) * 1000000LL + frac;
	}
	json_decref(j);
	return us;
}

typedef struct obx_lastoff {
	outbox *o;
	size_t  last;
} obx_lastoff;

static int
obx_visit_receipt_last(void *ctx, const jnl_entry *e, char *err,
    size_t err_len)
{
	obx_lastoff *l = ctx;

	l->last = e->off;
	return obx_visit_receipt(l->o, e, err, err_len);
}

/* Scan one journal file; cut a torn tail unless read-only. */
static int
obx_load(outbox *o, int fd, const char *what, jnl_visit_fn visit, void *ctx,
    int *torn, size_t *valid_out, long long *last_at, size_t *last_off,
    char *err, size_t err_len)
{
	unsigned char *map = NULL;
	size_t len = 0, valid = 0;
	char e2[512];
	int rc;

	if (obx_map(fd, what, &map, &len, err, err_len) != 0)
		return -1;
	rc = jnl_scan(map, len, visit, ctx, &valid, torn, e2, sizeof(e2));
	if (rc != 0)
		snprintf(err, err_len, "%s: %s", what, e2);
	if (rc == 0 && last_at != NULL && valid > 0 && last_off != NULL)
		*last_at = obx_last_receipt_at(map, valid, *last_off);
	if (map != NULL)
		munmap(map, len);
	if (rc != 0)
		return -1;
	if (*torn && !o->readonly) {
		if (ftruncate(fd, (off_t)valid) != 0 || fsync(fd) != 0) {
			snprintf(err, err_len, "%s: cutting the torn tail: %s", what,
			    strerror(errno));
			return -1;
		}
	}
	*valid_out = valid;
	return 0;
}

static outbox *
obx_new(void)
{
	outbox *o = calloc(1, sizeof(*o));

	if (o != NULL)
		o->fd = o->rfd = o->lockfd = -1;
	return o;
}

int
obx_replay_mem(const unsigned char *buf, size_t len, obx_stats *st, char *err,
    size_t err_len)
{
	outbox *o = obx_new();
	size_t valid = 0;
	int torn = 0, rc;

	memset(st, 0, sizeof(*st));
	if (o == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	o->readonly = 1;
	rc = jnl_scan(buf, len, obx_visit, o, &valid, &torn, err, err_len);
	o->st.outbox_torn = torn;
	o->st.outbox_file_bytes = valid;
	*st = o->st;
	obx_close(&o);
	return rc;
}

static int
obx_open_file(const outbox *o, const char *name, char *err, size_t err_len)
{
	char path[OBX_PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", o->dir, name);
	if (o->readonly)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	else
		fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0 && !(o->readonly && errno == ENOENT))
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
	return fd;
}

static int
obx_fsync_dir(const char *dir, char *err, size_t err_len)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		snprintf(err, err_len, "%s: fsync: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
obx_open(outbox **out, const char *dir, int readonly, char *err,
    size_t err_len)
{
	outbox *o;
	char path[OBX_PATH_MAX + 64];
	size_t valid = 0, i;
	long long last_at = 0;
	obx_lastoff lo;
	int torn = 0;

	*out = NULL;
	if (strlen(dir) >= OBX_PATH_MAX) {
		snprintf(err, err_len, "state directory path too long");
		return -1;
	}
	if ((o = obx_new()) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	o->readonly = readonly;
	snprintf(o->dir, sizeof(o->dir), "%s", dir);
	if (!readonly) {
		snprintf(path, sizeof(path), "%s/agent.lock", dir);
		o->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (o->lockfd < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (flock(o->lockfd, LOCK_EX | LOCK_NB) != 0) {
			snprintf(err, err_len, "%s: %s", path, errno == EWOULDBLOCK ?
			    "held by another coffer-agent (one daemon per state "
			    "directory)" : strerror(errno));
			goto fail;
		}
	}
	o->fd = obx_open_file(o, "outbox.journal", err, err_len);
	if (o->fd < 0 && !(readonly && errno == ENOENT))
		goto fail;
	if (o->fd >= 0 && obx_load(o, o->fd, "outbox.journal", obx_visit, o,
	    &torn, &valid, NULL, NULL, err, err_len) != 0)
		goto fail;
	o->st.outbox_torn = torn;
	o->st.outbox_file_bytes = valid;
	o->rfd = obx_open_file(o, "receipts.journal", err, err_len);
	if (o->rfd < 0 && !(readonly && errno == ENOENT))
		goto fail;
	lo.o = o;
	lo.last = 0;
	torn = 0;
	if (o->rfd >= 0 && obx_load(o, o->rfd, "receipts.journal",
	    obx_visit_receipt_last, &lo, &torn, &valid, &last_at, &lo.last,
	    err, err_len) != 0)
		goto fail;
	o->st.receipts_torn = torn;
	o->st.last_receipt_us = last_at;
	if (!readonly && obx_fsync_dir(dir, err, err_len) != 0)
		goto fail;
	/* a receipt fsync'd, its DONE not (crash in between): DONE it now */
	for (i = 0; i < o->nrecs; i++) {
		obx_rec *r = o->recs[i];

		if (r->receipted && !r->done) {
			if (!readonly && obx_done(o, r->seq, 'd', err, err_len) != 0)
				goto fail;
			if (readonly && obx_mark_done(o, r->seq) != 0)
				goto fail;
		}
	}
	if (!readonly && obx_sync(o, err, err_len) != 0)
		goto fail;
	*out = o;
	return 0;
fail:
	obx_close(&o);
	return -1;
}

void
obx_close(outbox **op)
{
	outbox *o;
	size_t i;

	if (op == NULL || (o = *op) == NULL)
		return;
	for (i = 0; i < o->nrecs; i++)
		obx_rec_free(o->recs[i]);
	free(o->recs);
	free(o->pos);
	obx_buf_clear(&o->wb);
	obx_buf_clear(&o->rb);
	if (o->fd >= 0)
		close(o->fd);
	if (o->rfd >= 0)
		close(o->rfd);
	if (o->lockfd >= 0)
		close(o->lockfd);     /* releases the flock */
	free(o);
	*op = NULL;
}

void
obx_stats_get(const outbox *o, obx_stats *st)
{
	*st = o->st;
}

/* -- changes ---------------------------------------------------------------------------- */

int
obx_add(outbox *o, const char *name, ino_t ino, uint64_t end_off,
    const unsigned char *line, size_t len, uint64_t *seq, char *err,
    size_t err_len)
{
	unsigned char *p;
	size_t n, rl;
	uint64_t s = o->st.seq_high + 1;

	*seq = 0;
	if (!obx_name_ok(name, strlen(name)) || len + 17 + OBX_NAME_MAX >
	    JNL_PAYLOAD_MAX) {
		snprintf(err, err_len, "record or spool file name too long");
		return -1;
	}
	if ((p = malloc(17 + OBX_NAME_MAX + len)) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	rl = obx_ref_encode(p, name, (uint64_t)ino, end_off);
	memcpy(p + rl, line, len);
	n = rl + len;
	if (obx_buf_add(&o->wb, OBX_ADD, s, p, n) != 0 ||
	    obx_push(o, s, line, len) != 0 ||
	    obx_pos_set(o, name, (uint64_t)ino, end_off) != 0) {
		vault_free_wiped(p, n);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	vault_free_wiped(p, n);
	o->st.seq_high = s;
	*seq = s;
	return 0;
}

int
obx_spool_pos(outbox *o, const char *name, ino_t ino, uint64_t off, char *err,
    size_t err_len)
{
	unsigned char p[17 + OBX_NAME_MAX];
	size_t n;

	if (!obx_name_ok(name, strlen(name))) {
		snprintf(err, err_len, "spool file name too long");
		return -1;
	}
	n = obx_ref_encode(p, name, (uint64_t)ino, off);
	if (obx_buf_add(&o->wb, OBX_SPOOL, off, p, n) != 0 ||
	    obx_pos_set(o, name, (uint64_t)ino, off) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	return 0;
}

int
obx_spool_gone(outbox *o, const char *name, char *err, size_t err_len)
{
	if (!obx_name_ok(name, strlen(name))) {
		snprintf(err, err_len, "spool file name too long");
		return -1;
	}
	if (obx_buf_add(&o->wb, OBX_SPOOL_GONE, 0, name, strlen(name)) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	obx_pos_drop(o, name);
	return 0;
}

static int
obx_name_cmp(const void *k, const void *e)
{
	return strcmp(k, *(char *const *)e);
}

int
obx_spool_prune(outbox *o, char *const *names, size_t n, size_t *dropped,
    char *err, size_t err_len)
{
	size_t i = 0;

	*dropped = 0;
	while (i < o->npos) {
		if (n > 0 && bsearch(o->pos[i].name, names, n, sizeof(*names),
		    obx_name_cmp) != NULL) {
			i++;
			continue;
		}
		/* obx_spool_gone moves the last entry into slot i */
		if (obx_spool_gone(o, o->pos[i].name, err, err_len) != 0)
			return -1;
		(*dropped)++;
	}
	return 0;
}

uint64_t
obx_spool_offset(const outbox *o, const char *name, ino_t ino)
{
	const obx_pos *p = obx_pos_find(o, name);

	return p != NULL && p->ino == (uint64_t)ino ? p->off : 0;
}

static int
obx_write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
obx_flush(outbox *o, int fd, obx_buf *b, const char *what, char *err,
    size_t err_len)
{
	if (b->len == 0)
		return 0;
	if (obx_write_all(fd, b->p, b->len) != 0 || fdatasync(fd) != 0) {
		snprintf(err, err_len, "%s/%s: %s", o->dir, what, strerror(errno));
		return -1;
	}
	if (fd == o->fd)
		o->st.outbox_file_bytes += b->len;
	vault_wipe(b->p, b->len);
	b->len = 0;
	return 0;
}

int
obx_sync(outbox *o, char *err, size_t err_len)
{
	if (o->readonly) {
		snprintf(err, err_len, "outbox opened read-only");
		return -1;
	}
	if (obx_flush(o, o->rfd, &o->rb, "receipts.journal", err, err_len) != 0)
		return -1;
	return obx_flush(o, o->fd, &o->wb, "outbox.journal", err, err_len);
}

void
obx_batch(outbox *o, size_t max_n, size_t max_bytes, obx_rec ***recs,
    size_t *n)
{
	size_t i, k = 0, bytes = 0;

	if (o->ndone > 0)
		obx_sweep(o);
	for (i = 0; i < o->nrecs && k < max_n; i++) {
		if (k > 0 && bytes + o->recs[i]->len + 1 > max_bytes)
			break;
		bytes += o->recs[i]->len + 1;
		k++;
	}
	*recs = o->recs;
	*n = k;
}

int
obx_has_receipt(const outbox *o, uint64_t seq)
{
	const obx_rec *r = obx_find(o, seq);

	return r != NULL && r->receipted;
}

int
obx_receipt(outbox *o, uint64_t seq, const char *json, size_t len,
    long long at_us, char *err, size_t err_len)
{
	obx_rec *r = obx_find(o, seq);

	if (r == NULL || r->done) {
		snprintf(err, err_len, "receipt for capture_seq %llu, which is "
		    "not pending", (unsigned long long)seq);
		return -1;
	}
	if (r->receipted)
		return 0;           /* kept once per capture_seq */
	if (len == 0 || len > OBX_RECEIPT_MAX) {
		snprintf(err, err_len, "receipt entry too long");
		return -1;
	}
	if (obx_buf_add(&o->rb, OBX_RECEIPT, seq, json, len) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	r->receipted = 1;
	o->st.receipts++;
	o->st.last_receipt_us = at_us;
	return 0;
}

int
obx_done(outbox *o, uint64_t seq, char how, char *err, size_t err_len)
{
	unsigned char h = (unsigned char)how;

	if ((how != 'd' && how != 'r') || obx_mark_done(o, seq) != 0) {
		snprintf(err, err_len, "capture_seq %llu is not pending",
		    (unsigned long long)seq);
		return -1;
	}
	if (obx_buf_add(&o->wb, OBX_DONE, seq, &h, 1) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	return 0;
}

int
obx_compact(outbox *o, int force, char *err, size_t err_len)
{
	char tmp[OBX_PATH_MAX + 64], path[OBX_PATH_MAX + 64];
	obx_buf b = { 0 };
	unsigned char ref[17 + OBX_NAME_MAX];
	size_t i, n;
	int fd = -1;

	if (o->readonly)
		return 0;
	if (!force && (o->st.outbox_file_bytes < OBX_COMPACT_MIN ||
	    o->st.outbox_file_bytes < 2 * o->live_bytes))
		return 0;
	if (obx_sync(o, err, err_len) != 0)
		return -1;
	obx_sweep(o);
	snprintf(tmp, sizeof(tmp), "%s/outbox.journal.tmp", o->dir);
	snprintf(path, sizeof(path), "%s/outbox.journal", o->dir);
	if (obx_buf_add(&b, OBX_BASE, o->st.seq_high, NULL, 0) != 0)
		goto oom;
	for (i = 0; i < o->npos; i++) {
		n = obx_ref_encode(ref, o->pos[i].name, o->pos[i].ino,
		    o->pos[i].off);
		if (obx_buf_add(&b, OBX_SPOOL, o->pos[i].off, ref, n) != 0)
			goto oom;
	}
	for (i = 0; i < o->nrecs; i++) {
		obx_rec *r = o->recs[i];
		unsigned char *p = malloc(17 + r->len);

		if (p == NULL)
			goto oom;
		n = obx_ref_encode(p, "", 0, 0);
		memcpy(p + n, r->data, r->len);
		if (obx_buf_add(&b, OBX_ADD, r->seq, p, n + r->len) != 0) {
			vault_free_wiped(p, n + r->len);
			goto oom;
		}
		vault_free_wiped(p, n + r->len);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 || obx_write_all(fd, b.p, b.len) != 0 || fsync(fd) != 0) {
		snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, err_len, "rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (obx_fsync_dir(o->dir, err, err_len) != 0)
		goto fail;
	close(fd);
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		goto fail;
	}
	close(o->fd);
	o->fd = fd;
	log_info("outbox compacted: %zu -> %zu bytes (%zu records pending)",
	    o->st.outbox_file_bytes, b.len, o->st.pending);
	o->st.outbox_file_bytes = b.len;
	obx_buf_clear(&b);
	return 0;
oom:
	snprintf(err, err_len, "out of memory");
fail:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	obx_buf_clear(&b);
	return -1;
}

static int
obx_visit_dump(void *ctx, const jnl_entry *e, char *err, size_t err_len)
{
	FILE *f = ctx;

	if (e->type != OBX_RECEIPT || e->len == 0 || e->len > OBX_RECEIPT_MAX ||
	    memchr(e->data, '\n', e->len) != NULL) {
		snprintf(err, err_len, "receipts entry at offset %zu: malformed",
		    e->off);
		return -1;
	}
	if (fwrite(e->data, 1, e->len, f) != e->len || putc('\n', f) == EOF) {
		snprintf(err, err_len, "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
obx_receipts_dump(const char *dir, FILE *f, char *err, size_t err_len)
{
	char path[OBX_PATH_MAX + 64], e2[512];
	unsigned char *map = NULL;
	size_t len = 0, valid = 0;
	int fd, torn = 0, rc;

	snprintf(path, sizeof(path), "%s/receipts.journal", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = obx_map(fd, "receipts.journal", &map, &len, err, err_len);
	close(fd);
	if (rc != 0)
		return -1;
	rc = jnl_scan(map, len, obx_visit_dump, f, &valid, &torn, e2, sizeof(e2));
	if (rc != 0)
		snprintf(err, err_len, "receipts.journal: %s", e2);
	if (map != NULL)
		munmap(map, len);
	return rc;
}
