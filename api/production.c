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
 * (api_partials_stored_decode, api/approvals.h), a key that does not unwrap fails the build naming the custodian,
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
 * Shape of the work: one ordered server-side cursor over the in-scope
 * records (the next FETCH runs while a batch is processed); each record is
 * decrypted once and fanned out to records.jsonl, the manifest, and the
 * current RSMF (events, attachments in its zip).  A conversation change (or
 * a day change in a long conversation) closes that RSMF into the tar.  Tar,
 * zip and RFC 5322 headers need sizes and counts before the bytes they
 * describe, so output is held in spools: guarded memory first, and past a
 * bound a temporary file sealed under a per-build key (vault_spool_*).
 * Ciphertext writes and the output's SHA-256 run on one writer thread.
 * libarchive writes unblocked (bytes_per_block 0): its own block buffer is
 * malloc'd and freed unwiped, so the tar and zip bytes — plaintext — must
 * go straight from our wiped buffers to the callbacks.  Stored zip entries
 * only: the deflate option (rsmf_deflate) leaves zlib's window unwiped.
 * Entry names are libarchive's own copies (the entry, pax headers, the zip
 * central directory), also freed unwiped, so no name derives from content:
 * fixed names, ordinals, the day of the plaintext sent_at column, and
 * att<n>-<j> for attachments, whose file names go only into the RSMF
 * manifest's "display".  The RFC 5322 headers hold only such metadata too.
 */
#include "api/production.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "api/partials.h"
#include "api/blind.h"
#include "api/keys.h"
#include "common/channels.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/pins.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/err.h"
#include "vault/mem.h"
#include "vault/production.h"
#include "vault/seal.h"
#include "vault/threshold.h"

#define PR_DAY_US         86400000000LL
#define PR_EPOCH_CACHE    32U                /* open epoch keys at once */
#define PR_IO_BYTES       (VAULT_PROD_CHUNK_BYTES + VAULT_PROD_CHUNK_LEN_BYTES + \
                           VAULT_PROD_CHUNK_OVERHEAD)
#define PR_B64_IN         57U                /* 76 base64 characters a line */
#define PR_HDR_MAX        2048U
#define PR_UUID_LIT       (UTIL_UUID_STRLEN + 1U)
#define PR_TIME_MAX       96U
#define PR_PROGRESS_EVERY 512ULL
#define PR_GENERATOR      "Coffer"
#define PR_BOUNDARY       "coffer-rsmf-boundary-7f3e9c"
#define PR_CHANNEL_MAX    16U
/* Guarded memory per spool before it moves to a sealed file. */
#define PR_SPOOL_MEM_SMALL  (64U * 1024U)     /* records.jsonl, manifest */
#define PR_SPOOL_MEM_EVENTS (1024U * 1024U)   /* one RSMF's events */
#define PR_SPOOL_MEM_ZIP    (2048U * 1024U)   /* one RSMF's base64 zip */
/* Batches of the records in flight (issue 13.3 proofs): metadata of at
 * least every batch of one FETCH, Merkle trees of a few. */
#define PR_BATCH_CACHE      256U
#define PR_TREE_CACHE       64U   /* 64 trees of 2000 leaves: ~8 MiB */
#define PR_CK_JSON          1024U

/* -- small helpers ----------------------------------------------------------- */

static void
pr_digits(char *p, unsigned int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* RFC 3339 UTC with microseconds when they are not zero (formatted by
 * hand: it runs several times per record). */
static void
pr_time(char out[PR_TIME_MAX], long long unix_us)
{
	long long secs = unix_us / 1000000LL, frac = unix_us % 1000000LL;
	struct tm tm;
	time_t t;
	char *p = out;

	if (frac < 0) {
		frac += 1000000LL;
		secs -= 1;
	}
	t = (time_t)secs;
	memset(&tm, 0, sizeof(tm));
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999) {
		snprintf(out, PR_TIME_MAX, "1970-01-01T00:00:00Z");
		return;
	}
	pr_digits(p, (unsigned)(tm.tm_year + 1900), 4);
	p[4] = '-';
	pr_digits(p + 5, (unsigned)(tm.tm_mon + 1), 2);
	p[7] = '-';
	pr_digits(p + 8, (unsigned)tm.tm_mday, 2);
	p[10] = 'T';
	pr_digits(p + 11, (unsigned)tm.tm_hour, 2);
	p[13] = ':';
	pr_digits(p + 14, (unsigned)tm.tm_min, 2);
	p[16] = ':';
	pr_digits(p + 17, (unsigned)tm.tm_sec, 2);
	p += 19;
	if (frac != 0) {
		*p++ = '.';
		pr_digits(p, (unsigned)frac, 6);
		p += 6;
	}
	*p++ = 'Z';
	*p = '\0';
}

/* RFC 5322 date-time, independent of the process locale. */
static void
pr_time_5322(char out[PR_TIME_MAX], long long unix_us)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	                                    "Fri", "Sat" };
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
	                                    "Jun", "Jul", "Aug", "Sep", "Oct",
	                                    "Nov", "Dec" };
	long long secs = unix_us / 1000000LL;
	struct tm tm;
	time_t t;

	if (unix_us < 0 && unix_us % 1000000LL != 0)
		secs -= 1;
	t = (time_t)secs;
	memset(&tm, 0, sizeof(tm));
	if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		snprintf(out, PR_TIME_MAX, "Thu, 01 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, PR_TIME_MAX, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static long long
pr_day(long long unix_us)
{
	return unix_us >= 0 ? unix_us / PR_DAY_US :
	    -((-unix_us + PR_DAY_US - 1) / PR_DAY_US);
}

static void
pr_date(char out[PR_TIME_MAX], long long day)
{
	char full[PR_TIME_MAX];

	pr_time(full, day * PR_DAY_US);
	snprintf(out, PR_TIME_MAX, "%.10s", full);
}

static int
pr_write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

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

/* -- the build's state -------------------------------------------------------- */

typedef struct pr_epoch {
	unsigned char  id[VAULT_ID_BYTES];
	unsigned char  R[VAULT_POINT_BYTES];
	unsigned char  wrapped[VAULT_WRAPPED_EK_BYTES];
	vault_partial *partials;           /* K of them once approved */
	unsigned int   npartials;
	int            approved;
	size_t         s_index;            /* its S in prod.S */
	vault_release_ctx ctx;             /* tenant, matter, epoch, recipient */
	unsigned char  Rb[VAULT_POINT_BYTES]; /* R' = ρ·R, from the seed */
} pr_epoch;

typedef struct pr_slot {
	size_t             epoch;         /* index into epochs[] */
	vault_epoch       *e;
	unsigned long long used;
} pr_slot;

typedef struct pr_ckpt {
	unsigned char      stream[VAULT_ID_BYTES];
	unsigned long long batch_no;
	unsigned long long last_seq;
	char               json[768];     /* {"batch_no":..,"head":..,...} */
} pr_ckpt;

/* A batch of records in flight: what its proofs carry. */
typedef struct pr_batch {
	unsigned char      stream[VAULT_ID_BYTES];
	unsigned long long batch_no, first_seq, last_seq;
	unsigned char     *tree;        /* vault_merkle_tree, NULL: evicted */
	size_t             n;
	unsigned long long used;        /* FETCH generation */
	unsigned long long tree_used;
	char               json[PR_CK_JSON * 2];  /* "batch":{..},"checkpoint":.. */
	char               ck[PR_CK_JSON];        /* the checkpoint or "null" */
} pr_batch;

/* One row of the FETCH being processed: its batch and inclusion path. */
typedef struct pr_rowproof {
	size_t        batch;
	size_t        leaf_index;
	size_t        path_len;
	unsigned char path[VAULT_MERKLE_PATH_MAX * VAULT_HASH_BYTES];
} pr_rowproof;

typedef struct pr_long {
	unsigned char conv[VAULT_TOKEN_BYTES];
	int           has_conv;
	char          channel[PR_CHANNEL_MAX];
} pr_long;

/* A spool keeps its content in guarded memory up to mem_cap bytes and
 * only past that moves it to a sealed temporary file: the many small RSMF
 * groups never touch the disk, the big streams (records.jsonl, manifest)
 * do, encrypted. */
struct prod;

typedef struct pr_spool {
	struct prod         *owner;
	int                  fd;          /* -1 until the first spill */
	vault_stream_writer *w;           /* created at the first spill */
	vault_stream_reader *rd;          /* reused for every read-back */
	int                  spilled;     /* content is in the file */
	unsigned char       *mem;         /* guarded */
	size_t               mem_len;
	size_t               mem_cap;
	unsigned long long   size;        /* plaintext bytes held */
	unsigned long long   file;        /* ciphertext bytes in the file */
	int                  io_errno;
} pr_spool;

typedef struct pr_b64 {
	unsigned char carry[PR_B64_IN];
	size_t        n;
} pr_b64;

typedef struct pr_group {
	int                active;
	unsigned char      conv[VAULT_TOKEN_BYTES];
	int                has_conv;
	char               channel[PR_CHANNEL_MAX];
	long long          day;           /* -1: whole conversation */
	unsigned long long ordinal;
	unsigned long long events;
	unsigned long long attachments;
	long long          first_us;
	long long          last_us;
	json_t            *pmap;          /* participant -> index */
	json_t            *plist;         /* participants in order */
	json_t            *conv_display;  /* conversation id (string) */
	struct archive    *zip;
	pr_b64             b64;
} pr_group;

/* Writes of ciphertext (the production and spilled spools) go through a
 * small queue to one writer thread, so write(2) and SHA-256 of the output
 * run beside the decryption instead of after it.  Only ciphertext enters
 * the queue. */
#define PR_WQ_SLOTS 8

typedef struct pr_wq {
	pthread_t           th;
	pthread_mutex_t     mu;
	pthread_cond_t      cv;
	unsigned char      *buf[PR_WQ_SLOTS];
	int                 fd[PR_WQ_SLOTS];
	int                 hash[PR_WQ_SLOTS];
	size_t              len[PR_WQ_SLOTS];
	unsigned long long *count[PR_WQ_SLOTS];
	size_t              head, n;
	int                 started, stop, err;
	EVP_MD_CTX         *sha;           /* the production's, writer-owned */
} pr_wq;

/* Text assembled in guarded memory: lines of records.jsonl and the
 * manifest, RSMF events.  Values that come from a record are encoded by
 * jansson (json_dumpb of the parsed value, JSON_ENCODE_ANY), so nothing
 * here escapes JSON by hand. */
typedef struct pr_text {
	unsigned char *p;
	size_t         len;
	size_t         cap;
} pr_text;

typedef struct prod {
	PGconn              *db;
	char                *err;
	size_t               err_len;
	const api_production_opts *opts;
	unsigned char        tenant_id[VAULT_ID_BYTES];
	unsigned char        matter_id[VAULT_ID_BYTES];
	char                 tid[PR_UUID_LIT];
	char                 mid[PR_UUID_LIT];
	long long            now_us;

	/* matter */
	unsigned char        requester_pk[VAULT_BOX_PK_BYTES]; /* frozen in
	                                       the matter at creation */
	unsigned char       *seed;             /* blinding seed (guarded) */
	unsigned char       *Sb;               /* S' scratch, in seed's block */
	char                 blind_text[UTIL_UUID_STRLEN + 1];
	unsigned char        tenant_pk[VAULT_POINT_BYTES];
	unsigned char       *public_shares;  /* n * 32, index i at (i-1)*32 */
	unsigned int         nshares;
	unsigned int         k;
	char                 time_from[8], time_to[8];
	int                  has_from, has_to;
	int                  closed;
	char                *lit_channels;   /* text[] literal or NULL */
	char                *lit_parts;      /* bytea[] literal or NULL */
	char                *lit_convs;
	json_t              *scope_summary;
	unsigned int        *custodians;     /* indices used */
	unsigned int         ncustodians;

	/* epochs */
	pr_epoch            *epochs;
	size_t               nepochs;
	size_t               napproved;
	unsigned char       *S;              /* guarded, nepochs * 32 */
	pr_slot              cache[PR_EPOCH_CACHE];
	unsigned long long   tick;
	char                *lit_epochs;     /* uuid[] of approved epochs */

	pr_ckpt             *ckpts;
	size_t               nckpts;
	pr_batch            *batches;
	size_t               nbatches, cap_batches;
	unsigned long long   gen;
	pr_rowproof         *rowp;
	size_t               rowp_cap;
	unsigned char       *lbuf;           /* one batch's leaf hashes */
	size_t               lbuf_cap;
	/* the signed statement */
	vault_hasher        *fh;
	int                  fh_active;
	char                 fname[192];
	unsigned long long   fsize;
	json_t              *files;
	pr_long             *longs;
	size_t               nlongs;

	/* output */
	int                  out_fd;
	char                *tmp_path;
	pr_wq                wq;
	unsigned long long   out_bytes;
	int                  out_errno;
	vault_stream_writer *container;
	struct archive      *tar;
	char                 tar_err[512];
	vault_spool_key     *skey;
	char                *dir;
	pr_spool             records;
	pr_spool             manifest;
	pr_spool             events;
	pr_spool             zipsp;
	pr_group             g;
	unsigned long long   ordinal;

	/* per record */
	unsigned char       *pt;             /* guarded */
	size_t               pt_cap;
	unsigned char       *att;            /* guarded, decoded attachment slice */
	size_t               att_cap;
	unsigned char       *iobuf;          /* PR_IO_BYTES, sealed spool reads */
	pr_text              evtext;         /* one serialised event */
	pr_text              ltext;          /* one records.jsonl/manifest line */
	unsigned char        last_stream[VAULT_ID_BYTES];
	char                 last_sid[PR_UUID_LIT];
	unsigned char        last_epoch[VAULT_ID_BYTES];
	char                 last_eid[PR_UUID_LIT];
	char                *line;           /* event/manifest line buffer */
	size_t               line_cap;

	char                 errbuf[256];    /* when the caller passed none */
	int                  aborting;       /* archive callbacks write nothing */
	api_progress_fn      progress;
	void                *progress_arg;
	unsigned long long   total;
	api_production_result res;
} prod;

#define PERR(P, ...) vault_err_set((P)->err, (P)->err_len, __VA_ARGS__)

/* -- spools ---------------------------------------------------------------------- */

/* -- the writer thread -------------------------------------------------------- */

static void *
wq_main(void *arg)
{
	pr_wq *q = arg;
	size_t i;
	int rc;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->n == 0 && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->n == 0)
			break;
		i = q->head;
		pthread_mutex_unlock(&q->mu);
		rc = 0;
		if (q->err == 0) {
			rc = pr_write_all(q->fd[i], q->buf[i], q->len[i]) != 0 ?
			    (errno ? errno : EIO) : 0;
			if (rc == 0 && q->hash[i] &&
			    EVP_DigestUpdate(q->sha, q->buf[i], q->len[i]) != 1)
				rc = EIO;
		}
		pthread_mutex_lock(&q->mu);
		if (rc != 0 && q->err == 0)
			q->err = rc;
		else if (rc == 0 && q->err == 0)
			*q->count[i] += q->len[i];
		q->head = (q->head + 1) % PR_WQ_SLOTS;
		q->n--;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static int
wq_start(pr_wq *q)
{
	size_t i;

	if (pthread_mutex_init(&q->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&q->cv, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		return -1;
	}
	q->started = 1;                    /* mutex and cv exist */
	for (i = 0; i < PR_WQ_SLOTS; i++)
		if ((q->buf[i] = malloc(PR_IO_BYTES)) == NULL)
			return -1;
	if ((q->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(q->sha, EVP_sha256(), NULL) != 1)
		return -1;
	if (pthread_create(&q->th, NULL, wq_main, q) != 0)
		return -1;
	q->started = 2;                    /* and the thread runs */
	return 0;
}

/* Queue bytes for fd (hash: add them to the output's SHA-256); counter
 * grows by len once they are written.  -1 (errno set) after any write
 * error. */
static int
wq_put(pr_wq *q, int fd, int hash, const unsigned char *data, size_t len,
    unsigned long long *counter)
{
	size_t slot, n;

	while (len > 0) {
		n = len < PR_IO_BYTES ? len : PR_IO_BYTES;
		pthread_mutex_lock(&q->mu);
		while (q->n == PR_WQ_SLOTS && q->err == 0)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->err != 0) {
			errno = q->err;
			pthread_mutex_unlock(&q->mu);
			return -1;
		}
		slot = (q->head + q->n) % PR_WQ_SLOTS;
		pthread_mutex_unlock(&q->mu);
		/* The slot is ours until it is published below. */
		memcpy(q->buf[slot], data, n);
		q->fd[slot] = fd;
		q->hash[slot] = hash;
		q->len[slot] = n;
		q->count[slot] = counter;
		pthread_mutex_lock(&q->mu);
		q->n++;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		data += n;
		len -= n;
	}
	return 0;
}

/* Wait until everything queued is written.  0, or -1 with errno. */
static int
wq_drain(pr_wq *q)
{
	int err;

	if (q->started < 2)
		return 0;
	pthread_mutex_lock(&q->mu);
	while (q->n > 0)
		pthread_cond_wait(&q->cv, &q->mu);
	err = q->err;
	pthread_mutex_unlock(&q->mu);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Stop the thread once the queue is empty (nothing is dropped). */
static void
wq_stop(pr_wq *q)
{
	if (q->started == 2) {
		pthread_mutex_lock(&q->mu);
		q->stop = 1;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->th, NULL);
		q->started = 1;
	}
	if (q->started == 1) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		q->started = 0;
	}
}

/* After wq_stop. */
static void
wq_free(pr_wq *q)
{
	size_t i;

	for (i = 0; i < PR_WQ_SLOTS; i++) {
		free(q->buf[i]);
		q->buf[i] = NULL;
	}
	if (q->sha != NULL)
		EVP_MD_CTX_free(q->sha);
	q->sha = NULL;
}

static int
spool_sink(void *arg, const unsigned char *data, size_t len)
{
	pr_spool *s = arg;

	if (wq_put(&s->owner->wq, s->fd, 0, data, len, &s->file) != 0) {
		s->io_errno = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

static int
spool_open(prod *P, pr_spool *s, size_t mem_cap)
{
	memset(s, 0, sizeof(*s));
	s->owner = P;
	s->fd = -1;
	if ((s->mem = vault_secure_alloc(mem_cap)) == NULL) {
		PERR(P, "cannot allocate %zu bytes of secure memory", mem_cap);
		return -1;
	}
	s->mem_cap = mem_cap;
	return 0;
}

/* An unlinked file next to the output (same file system, same access). */
static int
spool_file(prod *P, pr_spool *s)
{
	char tmpl[PATH_MAX];

	s->fd = open(P->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd >= 0)
		return 0;
	if (snprintf(tmpl, sizeof(tmpl), "%s/.coffer-spool-XXXXXX", P->dir) >=
	    (int)sizeof(tmpl)) {
		PERR(P, "output directory path too long");
		return -1;
	}
	if ((s->fd = mkostemp(tmpl, O_CLOEXEC)) < 0) {
		PERR(P, "temporary file in %s: %s", P->dir, strerror(errno));
		return -1;
	}
	(void)unlink(tmpl);
	return 0;
}

static void
spool_fail(prod *P, pr_spool *s, const char *e)
{
	PERR(P, "temporary file in %s: %s%s%s", P->dir, e,
	    s->io_errno ? ": " : "", s->io_errno ? strerror(s->io_errno) : "");
}

/* Memory is full: seal what it holds into the file, carry on there. */
static int
spool_spill(prod *P, pr_spool *s)
{
	char e[256];

	if (s->fd < 0 && spool_file(P, s) != 0)
		return -1;
	if ((s->w == NULL ? vault_spool_writer_new(&s->w, P->skey, spool_sink, s,
	    e, sizeof(e)) : vault_spool_writer_restart(s->w, P->skey, e,
	    sizeof(e))) != 0 ||
	    vault_stream_write(s->w, s->mem, s->mem_len, e, sizeof(e)) != 0) {
		spool_fail(P, s, e);
		return -1;
	}
	vault_wipe(s->mem, s->mem_len);
	s->mem_len = 0;
	s->spilled = 1;
	return 0;
}

static int
spool_put(prod *P, pr_spool *s, const void *data, size_t len)
{
	char e[256];

	if (len == 0)
		return 0;
	if (!s->spilled && s->mem_len + len <= s->mem_cap) {
		memcpy(s->mem + s->mem_len, data, len);
		s->mem_len += len;
		s->size += len;
		return 0;
	}
	if (!s->spilled && spool_spill(P, s) != 0)
		return -1;
	if (vault_stream_write(s->w, data, len, e, sizeof(e)) != 0) {
		spool_fail(P, s, e);
		return -1;
	}
	s->size += len;
	return 0;
}

static unsigned long long
spool_size(const pr_spool *s)
{
	return s->size;
}

static int
spool_seal(prod *P, pr_spool *s)
{
	char e[256];

	if (s->spilled && vault_stream_finish(s->w, e, sizeof(e)) != 0) {
		spool_fail(P, s, e);
		return -1;
	}
	return 0;
}

/* Hand the content to sink: from memory, or the sealed file read back. */
static int
spool_copy(prod *P, pr_spool *s, vault_sink_fn sink, void *arg)
{
	unsigned char *buf = P->iobuf;
	unsigned long long off = 0;
	char e[256];
	int rc = -1;

	if (!s->spilled)
		return s->mem_len == 0 ? 0 : sink(arg, s->mem, s->mem_len);
	if (wq_drain(&P->wq) != 0) {
		PERR(P, "temporary file in %s: %s", P->dir, strerror(errno));
		return -1;
	}
	if ((s->rd == NULL ? vault_spool_reader_new(&s->rd, P->skey, sink, arg, e,
	    sizeof(e)) : vault_spool_reader_restart(s->rd, sink, arg, e,
	    sizeof(e))) != 0) {
		PERR(P, "temporary file: %s", e);
		goto out;
	}
	while (off < s->file) {
		size_t want = s->file - off < PR_IO_BYTES ?
		    (size_t)(s->file - off) : PR_IO_BYTES;
		ssize_t got = pread(s->fd, buf, want, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			PERR(P, "temporary file: read failed: %s",
			    got < 0 ? strerror(errno) : "unexpected end");
			goto out;
		}
		if (vault_stream_read(s->rd, buf, (size_t)got, e, sizeof(e)) != 0) {
			/* A sink failure left its own message in P->err. */
			if (strcmp(e, "output failed") != 0)
				PERR(P, "temporary file: %s", e);
			goto out;
		}
		off += (unsigned long long)got;
	}
	if (vault_stream_read_finish(s->rd, e, sizeof(e)) != 0) {
		PERR(P, "temporary file: %s", e);
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/* Empty the spool for its next use. */
static int
spool_reset(prod *P, pr_spool *s)
{
	vault_wipe(s->mem, s->mem_len);
	s->mem_len = 0;
	s->size = 0;
	if (s->spilled) {
		if (wq_drain(&P->wq) != 0 ||
		    ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0) {
			PERR(P, "temporary file: %s", strerror(errno));
			return -1;
		}
		s->file = 0;
		s->io_errno = 0;
		s->spilled = 0;
	}
	return 0;
}

static void
spool_close(pr_spool *s)
{
	vault_stream_writer_free(&s->w);
	vault_stream_reader_free(&s->rd);
	if (s->fd >= 0)
		(void)close(s->fd);
	if (s->mem != NULL)
		vault_secure_free(s->mem);    /* wipes */
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* -- output: file, SHA-256, container, tar ---------------------------------------- */

static int
out_sink(void *arg, const unsigned char *data, size_t len)
{
	prod *P = arg;

	if (wq_put(&P->wq, P->out_fd, 1, data, len, &P->out_bytes) != 0) {
		P->out_errno = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

static la_ssize_t
tar_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
	prod *P = client;
	char e[256];

	(void)a;
	if (P->aborting)
		return (la_ssize_t)len;
	if (vault_stream_write(P->container, buf, len, e, sizeof(e)) != 0) {
		snprintf(P->tar_err, sizeof(P->tar_err), "%.200s: %.200s%s%.60s", P->tmp_path,
		    e, P->out_errno ? ": " : "",
		    P->out_errno ? strerror(P->out_errno) : "");
		return -1;
	}
	return (la_ssize_t)len;
}

static int
tar_fail(prod *P, const char *what)
{
	if (P->tar_err[0] != '\0')
		PERR(P, "%s", P->tar_err);
	else
		PERR(P, "tar %s: %s", what, archive_error_string(P->tar) ?
		    archive_error_string(P->tar) : "failed");
	return -1;
}

/* Every file of the tar is hashed as it goes in, for the statement. */
static int
pr_file_end(prod *P)
{
	unsigned char h[VAULT_HASH_BYTES];
	char hex[2 * VAULT_HASH_BYTES + 1];

	if (!P->fh_active)
		return 0;
	P->fh_active = 0;
	vault_hasher_final(P->fh, h);
	util_hex(hex, h, sizeof(h));
	if (P->files == NULL || json_array_append_new(P->files, json_pack(
	    "{s:s,s:I,s:s}", "name", P->fname, "size", (json_int_t)P->fsize,
	    "blake2b", hex)) != 0) {
		PERR(P, "out of memory");
		return -1;
	}
	return 0;
}

static int
tar_entry(prod *P, const char *path, unsigned long long size, int dir)
{
	struct archive_entry *e;
	int rc;

	if (pr_file_end(P) != 0)
		return -1;
	if (!dir && P->fh != NULL) {
		snprintf(P->fname, sizeof(P->fname), "%s", path);
		P->fsize = 0;
		vault_hasher_reset(P->fh);
		P->fh_active = 1;
	}
	if ((e = archive_entry_new()) == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0700 : 0600);
	archive_entry_set_size(e, dir ? 0 : (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)(P->now_us / 1000000LL), 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	rc = archive_write_header(P->tar, e);
	archive_entry_free(e);
	if (rc != ARCHIVE_OK)
		return tar_fail(P, "header");
	return 0;
}

static int
tar_put(prod *P, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (P->fh_active) {
		vault_hasher_update(P->fh, data, len);
		P->fsize += len;
	}
	while (len > 0) {
		la_ssize_t w = archive_write_data(P->tar, p, len);

		if (w <= 0)
			return tar_fail(P, "write");
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
tar_sink(void *arg, const unsigned char *data, size_t len)
{
	return tar_put(arg, data, len) == 0 ? 0 : -1;
}

/* -- base64 into the zip spool (MIME lines of 76 characters, CRLF) -------------- */

static int
b64_line(prod *P, const unsigned char *in, size_t n)
{
	unsigned char out[4 * ((PR_B64_IN + 2) / 3) + 3];
	int len = EVP_EncodeBlock(out, in, (int)n);

	out[len] = '\r';
	out[len + 1] = '\n';
	return spool_put(P, &P->zipsp, out, (size_t)len + 2);
}

static int
b64_write(prod *P, pr_b64 *b, const unsigned char *p, size_t len)
{
	size_t n;

	while (len > 0) {
		n = PR_B64_IN - b->n;
		if (n > len)
			n = len;
		memcpy(b->carry + b->n, p, n);
		b->n += n;
		p += n;
		len -= n;
		if (b->n == PR_B64_IN) {
			if (b64_line(P, b->carry, b->n) != 0)
				return -1;
			b->n = 0;
		}
	}
	return 0;
}

static int
b64_finish(prod *P, pr_b64 *b)
{
	int rc = 0;

	if (b->n > 0)
		rc = b64_line(P, b->carry, b->n);
	vault_wipe(b->carry, sizeof(b->carry));
	b->n = 0;
	return rc;
}

static la_ssize_t
zip_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
	prod *P = client;

	(void)a;
	if (P->aborting)
		return (la_ssize_t)len;
	return b64_write(P, &P->g.b64, buf, len) == 0 ? (la_ssize_t)len : -1;
}

static int
zip_fail(prod *P, const char *what)
{
	const char *m = P->g.zip ? archive_error_string(P->g.zip) : NULL;

	if (P->err[0] == '\0')
		PERR(P, "rsmf.zip %s: %s", what, m ? m : "failed");
	return -1;
}

static int
zip_put(prod *P, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		la_ssize_t w = archive_write_data(P->g.zip, p, len);

		if (w <= 0)
			return zip_fail(P, "write");
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
zip_sink(void *arg, const unsigned char *data, size_t len)
{
	return zip_put(arg, data, len) == 0 ? 0 : -1;
}

static int
zip_entry(prod *P, const char *name, unsigned long long size, int store)
{
	struct archive_entry *e;
	int rc;

	if ((store ? archive_write_zip_set_compression_store(P->g.zip) :
	    archive_write_zip_set_compression_deflate(P->g.zip)) != ARCHIVE_OK)
		return zip_fail(P, "compression");
	if ((e = archive_entry_new()) == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)(P->now_us / 1000000LL), 0);
	rc = archive_write_header(P->g.zip, e);
	archive_entry_free(e);
	if (rc != ARCHIVE_OK)
		return zip_fail(P, "header");
	return 0;
}

/* -- matter, scope, approvals ----------------------------------------------------- */

/* {"\\x<hex>",...} from an array of 32-digit hex tokens; NULL when empty. */
static int
pr_token_literal(prod *P, json_t *arr, const char *field, char **out,
    size_t *count)
{
	unsigned char tok[VAULT_TOKEN_BYTES];
	size_t i, n, off = 0;
	char *s;
	json_t *v;

	*out = NULL;
	*count = 0;
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		PERR(P, "matter %s: scope field %s is not an array", P->mid, field);
		return -1;
	}
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	if ((s = malloc(n * (2 * VAULT_TOKEN_BYTES + 6) + 3)) == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	s[off++] = '{';
	json_array_foreach(arr, i, v) {
		const char *h = json_string_value(v);

		if (h == NULL || json_string_length(v) != 2 * VAULT_TOKEN_BYTES ||
		    util_unhex(tok, sizeof(tok), h, 2 * VAULT_TOKEN_BYTES) != 0) {
			PERR(P, "matter %s: scope field %s: element %zu is not a "
			    "32-digit hex token", P->mid, field, i);
			free(s);
			return -1;
		}
		if (i > 0)
			s[off++] = ',';
		memcpy(s + off, "\"\\\\x", 4);
		off += 4;
		util_hex(s + off, tok, sizeof(tok));
		off += 2 * VAULT_TOKEN_BYTES;
		s[off++] = '"';
	}
	s[off++] = '}';
	s[off] = '\0';
	*out = s;
	*count = n;
	return 0;
}

static int
pr_scope_parse(prod *P, const char *text, size_t len)
{
	json_error_t je;
	json_t *scope, *v, *parts = NULL, *convs = NULL, *chans = NULL;
	const char *key;
	size_t i, np = 0, nc = 0, off = 0;
	int rc = -1;

	if ((scope = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(scope)) {
		PERR(P, "matter %s: scope is not a JSON object", P->mid);
		goto out;
	}
	json_object_foreach(scope, key, v) {
		if (strcmp(key, "participants") == 0 ||
		    strcmp(key, "participant_tokens") == 0) {
			if (parts != NULL)
				goto dup;
			parts = v;
		} else if (strcmp(key, "conversations") == 0 ||
		    strcmp(key, "conversation_tokens") == 0) {
			if (convs != NULL)
				goto dup;
			convs = v;
		} else if (strcmp(key, "channels") == 0) {
			chans = v;
		} else if (strcmp(key, "from") != 0 && strcmp(key, "to") != 0) {
			char shown[64];

			PERR(P, "matter %s: scope has an unknown field '%s'; refusing "
			    "to build a production whose scope is not understood", P->mid,
			    log_printable(shown, sizeof(shown), key, strlen(key)));
			goto out;
		}
	}
	if (pr_token_literal(P, parts, "participants", &P->lit_parts, &np) != 0 ||
	    pr_token_literal(P, convs, "conversations", &P->lit_convs, &nc) != 0)
		goto out;
	P->scope_summary = json_object();
	if (P->scope_summary == NULL)
		goto oom;
	if (chans != NULL && !json_is_null(chans)) {
		json_t *list;

		if (!json_is_array(chans)) {
			PERR(P, "matter %s: scope field channels is not an array",
			    P->mid);
			goto out;
		}
		if (json_array_size(chans) > 0) {
			if ((P->lit_channels = malloc(json_array_size(chans) *
			    (PR_CHANNEL_MAX + 1) + 3)) == NULL)
				goto oom;
			if ((list = json_array()) == NULL)
				goto oom;
			json_object_set_new(P->scope_summary, "channels", list);
			P->lit_channels[off++] = '{';
			json_array_foreach(chans, i, v) {
				const char *c = json_string_value(v);

				if (c == NULL || !channels_ok(c)) {
					PERR(P, "matter %s: scope channel %zu is not a known "
					    "channel", P->mid, i);
					goto out;
				}
				if (i > 0)
					P->lit_channels[off++] = ',';
				memcpy(P->lit_channels + off, c, strlen(c));
				off += strlen(c);
				json_array_append_new(list, json_string(c));
			}
			P->lit_channels[off++] = '}';
			P->lit_channels[off] = '\0';
		}
	}
	json_object_set_new(P->scope_summary, "participants", json_integer(
	    (json_int_t)np));
	json_object_set_new(P->scope_summary, "conversations", json_integer(
	    (json_int_t)nc));
	rc = 0;
	goto out;
dup:
	PERR(P, "matter %s: scope names participants or conversations twice",
	    P->mid);
	goto out;
oom:
	PERR(P, "out of memory");
out:
	json_decref(scope);
	return rc;
}

/* Parameters $1..$6 of PR_SCOPE (tenant, from, to, channels, participant
 * tokens, conversation tokens). */
static void
pr_scope_params(prod *P, pg_params *p)
{
	pg_param_bin(p, P->tenant_id, VAULT_ID_BYTES);
	if (P->has_from)
		pg_param_bin(p, P->time_from, 8);
	else
		pg_param_null(p);
	if (P->has_to)
		pg_param_bin(p, P->time_to, 8);
	else
		pg_param_null(p);
	pg_param_text(p, P->lit_channels);
	pg_param_text(p, P->lit_parts);
	pg_param_text(p, P->lit_convs);
}

/* The one scope predicate (see production.h). */
#define PR_SCOPE \
	"r.tenant_id = $1::uuid " \
	"AND (($2::timestamptz IS NULL OR r.sent_at >= $2::timestamptz) " \
	"     AND ($3::timestamptz IS NULL OR r.sent_at <= $3::timestamptz) " \
	"  OR ($2::timestamptz IS NULL OR r.received_at >= $2::timestamptz) " \
	"     AND ($3::timestamptz IS NULL OR r.received_at <= $3::timestamptz)) " \
	"AND ($4::text[] IS NULL OR r.channel = ANY ($4::text[])) " \
	"AND ($5::bytea[] IS NULL OR r.participant_tokens && $5::bytea[]) " \
	"AND ($6::bytea[] IS NULL OR r.conversation_token = ANY ($6::bytea[]))"

/* The matter's scope and time range (all api_production_count needs). */
static int
pr_load_scope(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int rc = -1;

	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, P->matter_id, VAULT_ID_BYTES);
	p.result_binary = 1;
	r = pg_query(P->db, "SELECT m.scope::text, m.time_from, m.time_to, m.state "
	    "FROM coffer.matters m WHERE m.tenant_id = $1::uuid "
	    "AND m.matter_id = $2::uuid", &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PERR(P, "matter %s of tenant %s not found", P->mid, P->tid);
		goto out;
	}
	P->closed = PQgetlength(r, 0, 3) == 6 &&
	    memcmp(PQgetvalue(r, 0, 3), "closed", 6) == 0;
	if ((P->has_from = !PQgetisnull(r, 0, 1))) {
		if (PQgetlength(r, 0, 1) != 8)
			goto bad;
		memcpy(P->time_from, PQgetvalue(r, 0, 1), 8);
	}
	if ((P->has_to = !PQgetisnull(r, 0, 2))) {
		if (PQgetlength(r, 0, 2) != 8)
			goto bad;
		memcpy(P->time_to, PQgetvalue(r, 0, 2), 8);
	}
	rc = pr_scope_parse(P, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	goto out;
bad:
	PERR(P, "matter %s: malformed row", P->mid);
out:
	PQclear(r);
	return rc;
}

/* Who the production is for, and the tenant's public key material. */
static int
pr_load_keys(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	const unsigned char *k;
	int rc = -1, i, n;

	if (P->closed) {
		PERR(P, "matter %s is closed", P->mid);
		return -1;
	}
	if (P->opts != NULL && P->opts->pins_dir != NULL &&
	    api_pin_check_tenant(P->db, P->opts->pins_dir, P->opts->node_pins_file,
	    P->tenant_id, P->err, P->err_len) != 0)
		return -1;
	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, P->matter_id, VAULT_ID_BYTES);
	p.result_binary = 1;
	r = pg_query(P->db,
	    "SELECT m.recipient_key, u.status, t.threshold_k, k.public_key, "
	    "m.blind_id "
	    "FROM coffer.matters m "
	    "JOIN coffer.users u ON u.tenant_id = m.tenant_id "
	    "                   AND u.user_id = m.requester_user_id "
	    "JOIN coffer.tenants t ON t.tenant_id = m.tenant_id "
	    "JOIN coffer.tenant_keys k ON k.tenant_id = m.tenant_id "
	    "WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid",
	    &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PERR(P, "matter %s: requester or tenant keys not found", P->mid);
		goto out;
	}
	if (PQgetisnull(r, 0, 0) || PQgetlength(r, 0, 0) != VAULT_BOX_PK_BYTES) {
		PERR(P, "matter %s: no production recipient key was frozen when "
		    "the matter was created", P->mid);
		goto out;
	}
	{
		unsigned char bid[16];
		char e2[256];
		int lr;

		if (PQgetisnull(r, 0, 4) || PQgetlength(r, 0, 4) != 16) {
			PERR(P, "matter %s has no blinding generation: the custodians "
			    "must approve it again", P->mid);
			goto out;
		}
		memcpy(bid, PQgetvalue(r, 0, 4), 16);
		util_uuid_format(P->blind_text, bid);
		snprintf(e2, sizeof(e2), "no productions_dir given");
		lr = P->opts == NULL || P->opts->productions_dir == NULL ? -1 :
		    api_blind_load(P->opts->productions_dir, P->mid, bid, &P->seed,
		    e2, sizeof(e2));
		if (lr == 0 && (P->Sb = vault_secure_alloc(VAULT_POINT_BYTES)) ==
		    NULL) {
			PERR(P, "out of secure memory");
			goto out;
		}
		if (lr != 0) {
			PERR(P, "matter %s: its blinding seed is not on this API host "
			    "(%s): the stored approvals cannot be used; close the matter "
			    "and open a new one", P->mid, lr > 0 ? "missing" : e2);
			goto out;
		}
	}
	if (PQgetlength(r, 0, 1) != 6 || memcmp(PQgetvalue(r, 0, 1), "active",
	    6) != 0) {
		PERR(P, "matter %s: the requester's account is not active", P->mid);
		goto out;
	}
	memcpy(P->requester_pk, PQgetvalue(r, 0, 0), VAULT_BOX_PK_BYTES);
	if (PQgetlength(r, 0, 2) != 4 || PQgetlength(r, 0, 3) != VAULT_POINT_BYTES) {
		PERR(P, "tenant %s: malformed key row", P->tid);
		goto out;
	}
	k = (const unsigned char *)PQgetvalue(r, 0, 2);
	P->k = ((unsigned int)k[2] << 8) | k[3];
	if (k[0] != 0 || k[1] != 0 || P->k < 1 || P->k > 255) {
		PERR(P, "tenant %s: threshold out of range", P->tid);
		goto out;
	}
	memcpy(P->tenant_pk, PQgetvalue(r, 0, 3), VAULT_POINT_BYTES);
	PQclear(r);

	/* Custodian public shares, to name a custodian whose partial fails. */
	p = (pg_params)PG_PARAMS_INIT;
	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	p.result_binary = 1;
	r = pg_query(P->db, "SELECT s FROM coffer.tenant_keys k, "
	    "unnest(k.public_shares) WITH ORDINALITY AS u(s, o) "
	    "WHERE k.tenant_id = $1::uuid ORDER BY o", &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n < 1 || n > 255 || (P->public_shares = calloc((size_t)n,
	    VAULT_POINT_BYTES)) == NULL) {
		PERR(P, "tenant %s: public shares missing", P->tid);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (PQgetlength(r, i, 0) != VAULT_POINT_BYTES) {
			PERR(P, "tenant %s: malformed public share", P->tid);
			goto out;
		}
		memcpy(P->public_shares + (size_t)i * VAULT_POINT_BYTES,
		    PQgetvalue(r, i, 0), VAULT_POINT_BYTES);
	}
	P->nshares = (unsigned int)n;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

static int
pr_epoch_cmp(const void *a, const void *b)
{
	return memcmp(((const pr_epoch *)a)->id, ((const pr_epoch *)b)->id,
	    VAULT_ID_BYTES);
}

/* bsearch comparators: the key is the bare 16-byte id. */
static int
pr_epoch_key_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const pr_epoch *)elem)->id, VAULT_ID_BYTES);
}

static pr_epoch *
pr_epoch_find(prod *P, const unsigned char id[VAULT_ID_BYTES])
{
	if (P->nepochs == 0)
		return NULL;
	return bsearch(id, P->epochs, P->nepochs, sizeof(pr_epoch),
	    pr_epoch_key_cmp);
}

/* Epochs holding in-scope records, with R and the wrapped key. */
static int
pr_load_epochs(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int i, n, rc = -1;

	pr_scope_params(P, &p);
	p.result_binary = 1;
	r = pg_query(P->db,
	    "SELECT e.epoch_id, e.r_point, e.wrapped_key FROM coffer.epochs e "
	    "WHERE e.tenant_id = $1::uuid AND e.epoch_id IN "
	    "(SELECT DISTINCT r.epoch_id FROM coffer.records r WHERE " PR_SCOPE ") "
	    "ORDER BY e.epoch_id", &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0 && (P->epochs = calloc((size_t)n, sizeof(pr_epoch))) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		pr_epoch *e = &P->epochs[i];

		if (PQgetlength(r, i, 0) != VAULT_ID_BYTES ||
		    PQgetlength(r, i, 1) != VAULT_POINT_BYTES) {
			PERR(P, "tenant %s: malformed epoch row", P->tid);
			goto out;
		}
		memcpy(e->id, PQgetvalue(r, i, 0), VAULT_ID_BYTES);
		memcpy(e->R, PQgetvalue(r, i, 1), VAULT_POINT_BYTES);
		if (PQgetisnull(r, i, 2)) {
			char eid[PR_UUID_LIT];

			util_uuid_format(eid, e->id);
			PERR(P, "epoch %s holds in-scope records but its key was "
			    "shredded", eid);
			goto out;
		}
		if (PQgetlength(r, i, 2) != VAULT_WRAPPED_EK_BYTES) {
			PERR(P, "tenant %s: malformed wrapped epoch key", P->tid);
			goto out;
		}
		memcpy(e->wrapped, PQgetvalue(r, i, 2), VAULT_WRAPPED_EK_BYTES);
		if ((e->partials = calloc(P->k, sizeof(vault_partial))) == NULL) {
			PERR(P, "out of memory");
			goto out;
		}
	}
	P->nepochs = (size_t)n;
	if (n > 0)        /* bsearch order, whatever the server's uuid order */
		qsort(P->epochs, P->nepochs, sizeof(pr_epoch), pr_epoch_cmp);
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* One decoded partial (api_partials_stored_decode) into its epoch. */
static void
pr_partial_add(prod *P, const api_partial *ap)
{
	pr_epoch *e;
	unsigned int k;

	if ((e = pr_epoch_find(P, ap->epoch_id)) == NULL)
		return;                   /* an epoch with nothing in scope now */
	if (e->npartials == P->k)
		return;                   /* K already: more add nothing */
	for (k = 0; k < e->npartials; k++)
		if (e->partials[k].index == ap->part.index)
			return;               /* a second partial of one custodian */
	e->partials[e->npartials++] = ap->part;
}

static int
pr_load_approvals(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	json_error_t je;
	json_t *doc = NULL;
	api_partial *parts = NULL;
	char msg[256];
	unsigned int index;
	int i, n, rc = -1;
	size_t j, nparts = 0, used = 0;

	pg_param_bin(&p, P->tenant_id, VAULT_ID_BYTES);
	pg_param_bin(&p, P->matter_id, VAULT_ID_BYTES);
	pg_param_text(&p, P->blind_text);
	r = pg_query(P->db, "SELECT custodian_index, partials::text "
	    "FROM coffer.approvals WHERE tenant_id = $1::uuid "
	    "AND matter_id = $2::uuid AND blind_id = $3::uuid "
	    "ORDER BY custodian_index", &p, P->err,
	    P->err_len);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if ((unsigned int)n < P->k) {
		PERR(P, "matter %s has %d of the %u approvals it needs", P->mid, n,
		    P->k);
		goto out;
	}
	if ((P->custodians = calloc((size_t)n, sizeof(unsigned int))) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	/* Per epoch, the partials of the first K approvals (by index) that
	 * answered it: any K open the same key. */
	for (i = 0; i < n; i++) {
		index = (unsigned int)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		if (index < 1 || index > 255) {
			PERR(P, "matter %s: approval with custodian index out of range",
			    P->mid);
			goto out;
		}
		doc = json_loadb(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1),
		    JSON_REJECT_DUPLICATES, &je);
		if (doc == NULL) {
			PERR(P, "matter %s: approval of custodian %u is not JSON",
			    P->mid, index);
			goto out;
		}
		if (api_partials_stored_decode(doc, index, &parts, &nparts, msg,
		    sizeof(msg)) != 0) {
			PERR(P, "matter %s: approval of custodian %u: malformed "
			    "partials (%s)", P->mid, index, msg);
			goto out;
		}
		for (j = 0; j < nparts; j++)
			pr_partial_add(P, &parts[j]);
		free(parts);
		parts = NULL;
		json_decref(doc);
		doc = NULL;
		P->custodians[used++] = index;
	}
	P->ncustodians = (unsigned int)used;
	rc = 0;
out:
	json_decref(doc);
	PQclear(r);
	return rc;
}

static void
pr_custodian_blame(prod *P, const pr_epoch *e, const char *eid)
{
	char e2[256];
	unsigned int i;

	for (i = 0; i < P->k; i++) {
		const vault_partial *vp = &e->partials[i];

		if (vp->index < 1 || vp->index > P->nshares)
			continue;
		if (vault_threshold_verify(vp, P->public_shares +
		    (size_t)(vp->index - 1) * VAULT_POINT_BYTES, &e->ctx, e->Rb, e2,
		    sizeof(e2)) != 0) {
			PERR(P, "epoch %s: %s", eid, e2);
			return;
		}
	}
	PERR(P, "epoch %s: the combined partials do not open the epoch key", eid);
}

/* Verify every partial's proof (bound to this tenant, matter, epoch and
 * custodian), combine K of them per approved epoch into S (guarded), and
 * prove each S by unwrapping the key once, before anything is written. */
static int
pr_combine(prod *P)
{
	char e2[256], eid[PR_UUID_LIT];
	vault_epoch *ep = NULL;
	size_t i, s = 0, off = 0;
	unsigned int k;

	for (i = 0; i < P->nepochs; i++)
		if (P->epochs[i].npartials == P->k)
			P->epochs[i].approved = 1, P->napproved++;
	if (P->napproved > 0 &&
	    (P->S = vault_secure_alloc(P->napproved * VAULT_POINT_BYTES)) == NULL) {
		PERR(P, "cannot allocate secure memory for %zu epochs", P->napproved);
		return -1;
	}
	if ((P->lit_epochs = malloc(P->napproved * (UTIL_UUID_STRLEN + 1) + 3)) ==
	    NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	P->lit_epochs[off++] = '{';
	for (i = 0; i < P->nepochs; i++) {
		pr_epoch *e = &P->epochs[i];
		unsigned char *S;

		if (!e->approved)
			continue;
		util_uuid_format(eid, e->id);
		/* R' recomputed from the seed, never taken from the stored
		 * approval (the API's role can write those). */
		vault_release_ctx_init(&e->ctx, P->tenant_id, P->matter_id, e->id,
		    P->requester_pk);
		{
			unsigned char bp[VAULT_PROOF_BYTES];

			if (vault_blind_point(P->seed, &e->ctx, e->R, e->Rb, bp, e2,
			    sizeof(e2)) != 0) {
				PERR(P, "epoch %s: %s", eid, e2);
				return -1;
			}
		}
		/* Every proof again, bound to this matter: the approvals table is
		 * writable by the API's role, and a partial copied from another
		 * matter would combine just as well. */
		for (k = 0; k < P->k; k++) {
			const vault_partial *vp = &e->partials[k];

			if (vp->index < 1 || vp->index > P->nshares) {
				PERR(P, "epoch %s: custodian %u has no public share", eid,
				    vp->index);
				return -1;
			}
			if (vault_threshold_verify(vp, P->public_shares +
			    (size_t)(vp->index - 1) * VAULT_POINT_BYTES, &e->ctx, e->Rb,
			    e2, sizeof(e2)) != 0) {
				PERR(P, "matter %s, epoch %s: %s", P->mid, eid, e2);
				return -1;
			}
		}
		S = P->S + s * VAULT_POINT_BYTES;
		/* S' = ρ·t·R from the blinded partials, then S = ρ⁻¹·S'. */
		if (vault_threshold_combine(e->partials, P->k, P->Sb, e2,
		    sizeof(e2)) != 0 ||
		    vault_blind_unblind(P->seed, &e->ctx, P->Sb, S, e2,
		    sizeof(e2)) != 0) {
			vault_wipe(P->Sb, VAULT_POINT_BYTES);
			PERR(P, "epoch %s: %s", eid, e2);
			return -1;
		}
		vault_wipe(P->Sb, VAULT_POINT_BYTES);
		if (vault_epoch_unwrap(&ep, S, e->R, P->tenant_pk, P->tenant_id,
		    e->id, e->wrapped, e2, sizeof(e2)) != 0) {
			pr_custodian_blame(P, e, eid);
			return -1;
		}
		vault_epoch_free(&ep);
		e->s_index = s;
		if (s > 0)
			P->lit_epochs[off++] = ',';
		memcpy(P->lit_epochs + off, eid, UTIL_UUID_STRLEN);
		off += UTIL_UUID_STRLEN;
		s++;
	}
	P->lit_epochs[off++] = '}';
	P->lit_epochs[off] = '\0';
	P->res.epochs = s;
	return 0;
}

static const vault_epoch *
pr_epoch_open(prod *P, const unsigned char id[VAULT_ID_BYTES])
{
	char e2[256], eid[PR_UUID_LIT];
	pr_epoch *e = pr_epoch_find(P, id);
	size_t i, victim = 0, idx;

	if (e == NULL || !e->approved) {
		util_uuid_format(eid, id);
		PERR(P, "record of epoch %s without approval reached the build", eid);
		return NULL;
	}
	idx = (size_t)(e - P->epochs);
	P->tick++;
	for (i = 0; i < PR_EPOCH_CACHE; i++) {
		if (P->cache[i].e != NULL && P->cache[i].epoch == idx) {
			P->cache[i].used = P->tick;
			return P->cache[i].e;
		}
		if (P->cache[victim].e != NULL &&
		    (P->cache[i].e == NULL || P->cache[i].used < P->cache[victim].used))
			victim = i;
	}
	vault_epoch_free(&P->cache[victim].e);
	if (vault_epoch_unwrap(&P->cache[victim].e,
	    P->S + e->s_index * VAULT_POINT_BYTES, e->R, P->tenant_pk,
	    P->tenant_id, e->id, e->wrapped, e2, sizeof(e2)) != 0) {
		util_uuid_format(eid, id);
		PERR(P, "epoch %s: %s", eid, e2);
		return NULL;
	}
	P->cache[victim].epoch = idx;
	P->cache[victim].used = P->tick;
	return P->cache[victim].e;
}

/* -- checkpoints and long conversations -------------------------------------------- */

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
	int i, n, rc = -1;

	pr_scope_params(P, &p);
	pg_param_text(&p, P->lit_epochs);
	p.result_binary = 1;
	r = pg_query(P->db,
	    "SELECT DISTINCT ON (c.stream_id) c.stream_id, c.batch_no, c.last_seq, "
	    "       c.head, c.signed_at, c.signature, c.node_id, n.name, "
	    "       n.signing_public_key "
	    "FROM coffer.checkpoints c JOIN coffer.nodes n ON n.node_id = c.node_id "
	    "WHERE c.tenant_id = $1::uuid AND c.stream_id IN "
	    "(SELECT DISTINCT r.stream_id FROM coffer.records r WHERE " PR_SCOPE
	    " AND r.epoch_id = ANY ($7::uuid[])) "
	    "ORDER BY c.stream_id, c.batch_no DESC", &p, P->err, P->err_len);
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
		c->batch_no = pg_be64_get(PQgetvalue(r, i, 1));
		c->last_seq = pg_be64_get(PQgetvalue(r, i, 2));
		signed_us = (int64_t)pg_be64_get(PQgetvalue(r, i, 4)) + PG_EPOCH_US;
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

static int pr_grow(prod *P, unsigned char **buf, size_t *cap, size_t need);

/* The leaves of a batch in seq order (records and the tombstones purge
 * left in their place) into its tree.  The tree's root and the chain head
 * must be the stored ones: a build never vouches for a batch that does not
 * verify. */
static int
pr_batch_tree(prod *P, pr_batch *b, const unsigned char prev_head[VAULT_HASH_BYTES],
    const unsigned char root[VAULT_HASH_BYTES],
    const unsigned char new_head[VAULT_HASH_BYTES], const char *sid)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	unsigned char head[VAULT_HASH_BYTES];
	char bn[24];
	size_t i, n, nodes;
	int rc = -1;

	n = (size_t)(b->last_seq - b->first_seq + 1);
	if ((nodes = vault_merkle_tree_nodes(n)) == 0) {
		PERR(P, "stream %s batch %llu: impossible size", sid, b->batch_no);
		return -1;
	}
	snprintf(bn, sizeof(bn), "%llu", b->batch_no);
	pg_param_text(&p, P->tid);
	pg_param_text(&p, sid);
	pg_param_text(&p, bn);
	p.result_binary = 1;
	r = pg_query(P->db, "SELECT seq, leaf_hash FROM coffer.records "
	    "WHERE tenant_id = $1::uuid AND stream_id = $2::uuid AND "
	    "batch_no = $3::int8 UNION ALL SELECT seq, leaf_hash FROM "
	    "coffer.tombstones WHERE tenant_id = $1::uuid AND "
	    "stream_id = $2::uuid AND batch_no = $3::int8 ORDER BY 1", &p,
	    P->err, P->err_len);
	if (r == NULL)
		return -1;
	if ((size_t)PQntuples(r) != n) {
		PERR(P, "stream %s batch %llu: %d leaves for seq %llu..%llu "
		    "(tampered?)", sid, b->batch_no, PQntuples(r), b->first_seq,
		    b->last_seq);
		goto out;
	}
	if (pr_grow(P, &P->lbuf, &P->lbuf_cap, nodes * VAULT_HASH_BYTES) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (PQgetlength(r, (int)i, 0) != 8 ||
		    PQgetlength(r, (int)i, 1) != VAULT_HASH_BYTES ||
		    (unsigned long long)pg_be64_get(PQgetvalue(r, (int)i, 0)) !=
		    b->first_seq + i) {
			PERR(P, "stream %s batch %llu: leaves do not cover seq "
			    "%llu..%llu (tampered?)", sid, b->batch_no, b->first_seq,
			    b->last_seq);
			goto out;
		}
		memcpy(P->lbuf + i * VAULT_HASH_BYTES, PQgetvalue(r, (int)i, 1),
		    VAULT_HASH_BYTES);
	}
	if ((b->tree = malloc(nodes * VAULT_HASH_BYTES)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	b->n = n;
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
	if (rc != 0) {
		free(b->tree);
		b->tree = NULL;
	}
	PQclear(r);
	return rc;
}

/* Batch row and its checkpoint into b (b->stream, b->batch_no set). */
static int
pr_batch_load(prod *P, pr_batch *b)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char sid[PR_UUID_LIT], bn[24], ph[65], rt[65], hd[65], sig[129];
	char nid[PR_UUID_LIT], *name = NULL;
	unsigned char prev[VAULT_HASH_BYTES], root[VAULT_HASH_BYTES];
	unsigned char nh[VAULT_HASH_BYTES];
	int rc = -1, i;
	static const int len[11] = { 8, 8, VAULT_HASH_BYTES, VAULT_HASH_BYTES,
	    VAULT_HASH_BYTES, VAULT_HASH_BYTES, 8, 8, VAULT_SIG_BYTES,
	    VAULT_ID_BYTES, -1 };

	util_uuid_format(sid, b->stream);
	snprintf(bn, sizeof(bn), "%llu", b->batch_no);
	pg_param_text(&p, P->tid);
	pg_param_text(&p, sid);
	pg_param_text(&p, bn);
	p.result_binary = 1;
	r = pg_query(P->db, "SELECT b.first_seq, b.last_seq, b.prev_head, "
	    "       b.merkle_root, b.new_head, c.head, c.last_seq, c.signed_at, "
	    "       c.signature, c.node_id, n.name "
	    "FROM coffer.batches b LEFT JOIN coffer.checkpoints c ON "
	    "     c.tenant_id = b.tenant_id AND c.stream_id = b.stream_id AND "
	    "     c.batch_no = b.batch_no "
	    "LEFT JOIN coffer.nodes n ON n.node_id = c.node_id "
	    "WHERE b.tenant_id = $1::uuid AND b.stream_id = $2::uuid AND "
	    "      b.batch_no = $3::int8", &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PERR(P, "stream %s batch %llu: no batch row (tampered?)", sid,
		    b->batch_no);
		goto out;
	}
	for (i = 0; i < 11; i++) {
		if (i < 5 && PQgetisnull(r, 0, i))
			goto bad;
		if (!PQgetisnull(r, 0, i) && len[i] >= 0 &&
		    PQgetlength(r, 0, i) != len[i])
			goto bad;
	}
	b->first_seq = (unsigned long long)pg_be64_get(PQgetvalue(r, 0, 0));
	b->last_seq = (unsigned long long)pg_be64_get(PQgetvalue(r, 0, 1));
	if (b->last_seq < b->first_seq)
		goto bad;
	memcpy(prev, PQgetvalue(r, 0, 2), sizeof(prev));
	memcpy(root, PQgetvalue(r, 0, 3), sizeof(root));
	memcpy(nh, PQgetvalue(r, 0, 4), sizeof(nh));
	util_hex(ph, prev, sizeof(prev));
	util_hex(rt, root, sizeof(root));
	if (PQgetisnull(r, 0, 5) || PQgetisnull(r, 0, 10)) {
		snprintf(b->ck, sizeof(b->ck), "null");
	} else {
		json_t *js = json_string(PQgetvalue(r, 0, 10));

		name = js != NULL ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
		json_decref(js);
		if (name == NULL) {
			PERR(P, "out of memory");
			goto out;
		}
		util_hex(hd, (const unsigned char *)PQgetvalue(r, 0, 5),
		    VAULT_HASH_BYTES);
		util_hex(sig, (const unsigned char *)PQgetvalue(r, 0, 8),
		    VAULT_SIG_BYTES);
		util_uuid_format(nid, (const unsigned char *)PQgetvalue(r, 0, 9));
		if ((size_t)snprintf(b->ck, sizeof(b->ck), "{\"batch_no\":%llu,"
		    "\"last_seq\":%llu,\"head\":\"%s\",\"signed_at_us\":%lld,"
		    "\"node\":\"%s\",\"node_name\":%s,\"signature\":\"%s\"}",
		    b->batch_no,
		    (unsigned long long)pg_be64_get(PQgetvalue(r, 0, 6)), hd,
		    (long long)((int64_t)pg_be64_get(PQgetvalue(r, 0, 7)) +
		    PG_EPOCH_US),
		    nid, name, sig) >= sizeof(b->ck))
			goto bad;
	}
	if ((size_t)snprintf(b->json, sizeof(b->json), "\"batch\":{\"batch_no\":"
	    "%llu,\"first_seq\":%llu,\"last_seq\":%llu,\"prev_head\":\"%s\","
	    "\"root\":\"%s\"},\"checkpoint\":%s", b->batch_no, b->first_seq,
	    b->last_seq, ph, rt, b->ck) >= sizeof(b->json))
		goto bad;
	rc = pr_batch_tree(P, b, prev, root, nh, sid);
	goto out;
bad:
	PERR(P, "stream %s batch %llu: malformed batch or checkpoint row", sid,
	    b->batch_no);
out:
	free(name);
	PQclear(r);
	return rc;
}

/* Index of the batch in P->batches, loaded (with its tree) if need be.
 * Entries used by the current FETCH (P->gen) are never evicted: rows of
 * it refer to them by index. */
static long
pr_batch_get(prod *P, const unsigned char stream[VAULT_ID_BYTES],
    unsigned long long batch_no)
{
	pr_batch *b;
	size_t i, victim = SIZE_MAX, trees = 0, old = SIZE_MAX;

	for (i = 0; i < P->nbatches; i++) {
		b = &P->batches[i];
		if (b->batch_no == batch_no &&
		    memcmp(b->stream, stream, VAULT_ID_BYTES) == 0)
			break;
	}
	if (i == P->nbatches) {
		/* a slot: a new one, or the least recent not used now */
		if (P->nbatches == P->cap_batches) {
			size_t j;

			for (j = 0; j < P->nbatches; j++)
				if (P->batches[j].used < P->gen && (victim == SIZE_MAX ||
				    P->batches[j].used < P->batches[victim].used))
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
			free(P->batches[i].tree);
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
	} else if (P->batches[i].tree == NULL) {
		b = &P->batches[i];
		if (pr_batch_load(P, b) != 0)
			return -1;
	}
	b = &P->batches[i];
	b->used = P->gen;
	b->tree_used = ++P->tick;
	/* keep a few trees only */
	for (trees = 0, old = SIZE_MAX, victim = 0; victim < P->nbatches; victim++)
		if (P->batches[victim].tree != NULL) {
			trees++;
			if (victim != i && (old == SIZE_MAX ||
			    P->batches[victim].tree_used < P->batches[old].tree_used))
				old = victim;
		}
	if (trees > PR_TREE_CACHE && old != SIZE_MAX) {
		free(P->batches[old].tree);
		P->batches[old].tree = NULL;
	}
	return (long)i;
}

/* Before the rows of a FETCH are processed (and before the next FETCH is
 * sent: the queries share the connection): each row's batch and path. */
static int
pr_proofs_for(prod *P, const PGresult *r, int n)
{
	int i;

	P->gen++;
	if ((size_t)n > P->rowp_cap) {
		pr_rowproof *np = realloc(P->rowp, (size_t)n * sizeof(*np));

		if (np == NULL) {
			PERR(P, "out of memory");
			return -1;
		}
		P->rowp = np;
		P->rowp_cap = (size_t)n;
	}
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
		seq = (unsigned long long)pg_be64_get(PQgetvalue(r, i, 1));
		batch = (unsigned long long)pg_be64_get(PQgetvalue(r, i, 3));
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
	return 0;
}

static int
pr_long_cmp(const void *a, const void *b)
{
	const pr_long *x = a, *y = b;
	int c;

	if (x->has_conv != y->has_conv)
		return x->has_conv - y->has_conv;
	if (x->has_conv && (c = memcmp(x->conv, y->conv, VAULT_TOKEN_BYTES)) != 0)
		return c;
	return strcmp(x->channel, y->channel);
}

/* Conversations too long for one RSMF file: split per UTC day. */
static int
pr_load_longs(prod *P, unsigned long split)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char lim[32];
	int i, n, rc = -1;

	snprintf(lim, sizeof(lim), "%lu", split);
	pr_scope_params(P, &p);
	pg_param_text(&p, P->lit_epochs);
	pg_param_text(&p, lim);
	p.result_binary = 1;
	r = pg_query(P->db,
	    "SELECT r.conversation_token, r.channel FROM coffer.records r "
	    "WHERE " PR_SCOPE " AND r.epoch_id = ANY ($7::uuid[]) "
	    "GROUP BY 1, 2 HAVING count(*) > $8::bigint", &p, P->err, P->err_len);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0 && (P->longs = calloc((size_t)n, sizeof(pr_long))) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		pr_long *l = &P->longs[i];

		if ((l->has_conv = !PQgetisnull(r, i, 0))) {
			if (PQgetlength(r, i, 0) != VAULT_TOKEN_BYTES)
				goto bad;
			memcpy(l->conv, PQgetvalue(r, i, 0), VAULT_TOKEN_BYTES);
		}
		if (PQgetlength(r, i, 1) >= (int)PR_CHANNEL_MAX)
			goto bad;
		memcpy(l->channel, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
	}
	P->nlongs = (size_t)n;
	if (n > 0)
		qsort(P->longs, P->nlongs, sizeof(pr_long), pr_long_cmp);
	rc = 0;
	goto out;
bad:
	PERR(P, "tenant %s: malformed record row", P->tid);
out:
	PQclear(r);
	return rc;
}

/* -- RSMF groups --------------------------------------------------------------------- */

static int
pr_group_start(prod *P, const unsigned char *conv, const char *channel,
    long long day, int new_conversation)
{
	pr_group *g = &P->g;

	memset(g, 0, sizeof(*g));
	g->active = 1;
	if (conv != NULL) {
		g->has_conv = 1;
		memcpy(g->conv, conv, VAULT_TOKEN_BYTES);
	}
	snprintf(g->channel, sizeof(g->channel), "%s", channel);
	g->day = day;
	if (new_conversation)
		P->ordinal++;
	g->ordinal = P->ordinal;
	g->pmap = json_object();
	g->plist = json_array();
	if (g->pmap == NULL || g->plist == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	if ((g->zip = archive_write_new()) == NULL ||
	    archive_write_set_format_zip(g->zip) != ARCHIVE_OK ||
	    archive_write_set_format_option(g->zip, "zip", "compression-level",
	    "1") != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(g->zip, 0) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(g->zip, 1) != ARCHIVE_OK ||
	    archive_write_open2(g->zip, P, NULL, zip_write_cb, NULL, NULL) !=
	    ARCHIVE_OK)
		return zip_fail(P, "open");
	return 0;
}

static void
pr_group_clear(prod *P)
{
	pr_group *g = &P->g;

	if (g->zip != NULL) {
		/* Only after a failure: libarchive closes on free (and frees
		 * its buffers only then), so the callbacks become no-ops. */
		P->aborting = 1;
		archive_write_free(g->zip);
	}
	json_decref(g->pmap);
	json_decref(g->plist);
	json_decref(g->conv_display);
	vault_wipe(g->b64.carry, sizeof(g->b64.carry));
	memset(g, 0, sizeof(*g));
}

static int
pr_grow(prod *P, unsigned char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	vault_secure_free(*buf);
	*cap = 0;
	if ((*buf = vault_secure_alloc(n)) == NULL) {
		PERR(P, "cannot allocate %zu bytes of secure memory", n);
		return -1;
	}
	*cap = n;
	return 0;
}

static int
tx_reserve(prod *P, pr_text *t, size_t more)
{
	unsigned char *np;
	size_t cap = t->cap ? t->cap : 4096;

	if (t->len + more <= t->cap)
		return 0;
	while (cap < t->len + more)
		cap *= 2;
	if ((np = vault_secure_alloc(cap)) == NULL) {
		PERR(P, "cannot allocate %zu bytes of secure memory", cap);
		return -1;
	}
	if (t->len > 0)
		memcpy(np, t->p, t->len);
	if (t->p != NULL)
		vault_secure_free(t->p);
	t->p = np;
	t->cap = cap;
	return 0;
}

static int
tx_put(prod *P, pr_text *t, const void *d, size_t n)
{
	if (n == 0)
		return 0;
	if (tx_reserve(P, t, n) != 0)
		return -1;
	memcpy(t->p + t->len, d, n);
	t->len += n;
	return 0;
}

static int
tx_str(prod *P, pr_text *t, const char *str)
{
	return tx_put(P, t, str, strlen(str));
}

static int
tx_u64(prod *P, pr_text *t, unsigned long long v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return tx_put(P, t, d + i, sizeof(d) - i);
}

/* A JSON value of the record, encoded (strings quoted and escaped). */
static int
tx_json(prod *P, pr_text *t, const json_t *v)
{
	size_t n;

	if (tx_reserve(P, t, 64) != 0)
		return -1;
	n = json_dumpb(v, (char *)t->p + t->len, t->cap - t->len,
	    JSON_ENCODE_ANY | JSON_COMPACT);
	if (n == 0) {
		PERR(P, "cannot encode a record value");
		return -1;
	}
	if (n > t->cap - t->len) {
		if (tx_reserve(P, t, n) != 0)
			return -1;
		if (json_dumpb(v, (char *)t->p + t->len, t->cap - t->len,
		    JSON_ENCODE_ANY | JSON_COMPACT) != n) {
			PERR(P, "cannot encode a record value");
			return -1;
		}
	}
	t->len += n;
	return 0;
}

static void
tx_clear(pr_text *t)
{
	if (t->p != NULL)
		vault_wipe(t->p, t->len);
	t->len = 0;
}

static void
tx_free(pr_text *t)
{
	if (t->p != NULL)
		vault_secure_free(t->p);
	memset(t, 0, sizeof(*t));
}

/* "P<n>" for a participant, adding it on first sight.  The key is the
 * normalised form (vault/blind.h), so spellings of one number meet. */
static int
pr_participant(prod *P, const char *raw, char id[24])
{
	pr_group *g = &P->g;
	char norm[VAULT_PARTICIPANT_MAX + 1], e2[128];
	size_t nlen = 0, rlen = strlen(raw);
	json_t *v;

	if (vault_participant_normalize(vault_participant_classify(raw, rlen), raw,
	    rlen, norm, sizeof(norm) - 1, &nlen, e2, sizeof(e2)) != 0) {
		nlen = rlen < VAULT_PARTICIPANT_MAX ? rlen : VAULT_PARTICIPANT_MAX;
		memcpy(norm, raw, nlen);
	}
	norm[nlen] = '\0';
	if ((v = json_object_getn(g->pmap, norm, nlen)) != NULL) {
		snprintf(id, 24, "P%lld", (long long)json_integer_value(v));
		vault_wipe(norm, sizeof(norm));
		return 0;
	}
	if (json_array_append_new(g->plist, json_stringn(norm, nlen)) != 0 ||
	    json_object_setn_new(g->pmap, norm, nlen,
	    json_integer((json_int_t)json_array_size(g->plist))) != 0) {
		vault_wipe(norm, sizeof(norm));
		PERR(P, "record participant is not valid UTF-8");
		return -1;
	}
	snprintf(id, 24, "P%zu", json_array_size(g->plist));
	vault_wipe(norm, sizeof(norm));
	return 0;
}


/* Attachment file name inside rsmf.zip: unique, and ours only.  The
 * record's file name is content: libarchive copies an entry name into its
 * own allocations (the entry, the zip central directory) and frees them
 * unwiped, so the name goes only into the manifest's "display" (written
 * through our wiped buffers); the RSMF 2.0 schema keys an attachment by
 * "id" (the zip entry) and shows "display". */
static void
pr_att_name(char *out, size_t cap, unsigned long long n, size_t j)
{
	snprintf(out, cap, "att%06llu-%02zu", n, j);
}

/* Decoded size of validated, padded standard base64. */
static size_t
pr_b64_decoded_len(const char *s, size_t n)
{
	size_t pad = 0;

	if (n == 0 || n % 4 != 0)
		return 0;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	return n / 4 * 3 - pad;
}

/* One attachment into the zip, decoded in slices (bounded memory), and
 * its entry {"id","display","size"} appended to the event text. */
static int
pr_attachment(prod *P, json_t *att, size_t j, pr_text *ev)
{
	json_t *jdata = json_object_get(att, "data"), *jname;
	const char *data = json_string_value(jdata);
	size_t n = data ? json_string_length(jdata) : 0;
	size_t size = pr_b64_decoded_len(data, n), off, slice, out;
	char zname[48];

	if (data == NULL || n % 4 != 0) {
		PERR(P, "record attachment %zu is not base64", j);
		return -1;
	}
	jname = json_object_get(att, "name");
	P->g.attachments++;
	P->res.attachments++;
	pr_att_name(zname, sizeof(zname), P->g.attachments, j);
	if (zip_entry(P, zname, size, 1) != 0)
		return -1;
	for (off = 0; off < n; off += slice) {
		int got;

		slice = n - off < P->att_cap / 3 * 4 ? n - off : P->att_cap / 3 * 4;
		got = EVP_DecodeBlock(P->att, (const unsigned char *)data + off,
		    (int)slice);
		if (got < 0) {
			vault_wipe(P->att, P->att_cap);
			PERR(P, "record attachment %zu is not base64", j);
			return -1;
		}
		out = (size_t)got;
		if (off + slice == n)
			out = size - (off / 4 * 3);     /* drop the padding bytes */
		if (zip_put(P, P->att, out) != 0) {
			vault_wipe(P->att, P->att_cap);
			return -1;
		}
		vault_wipe(P->att, out);
	}
	if (tx_str(P, ev, j > 0 ? ",{\"id\":\"" : "{\"id\":\"") != 0 ||
	    tx_str(P, ev, zname) != 0 || tx_str(P, ev, "\"") != 0)
		return -1;
	if (json_is_string(jname) && (tx_str(P, ev, ",\"display\":") != 0 ||
	    tx_json(P, ev, jname) != 0))
		return -1;
	if (tx_str(P, ev, ",\"size\":") != 0 || tx_u64(P, ev, size) != 0 ||
	    tx_str(P, ev, "}") != 0)
		return -1;
	return 0;
}

/* {"name":NAME,"value":<record value>} when the value is a non-empty
 * string (the schema wants 1+ characters). */
static int
pr_custom(prod *P, pr_text *ev, int *first, const char *name, const json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	if (tx_str(P, ev, *first ? "{\"name\":\"" : ",{\"name\":\"") != 0 ||
	    tx_str(P, ev, name) != 0 || tx_str(P, ev, "\",\"value\":") != 0 ||
	    tx_json(P, ev, v) != 0 || tx_str(P, ev, "}") != 0)
		return -1;
	*first = 0;
	return 0;
}

/* One record as an RSMF event of the current group. */
static int
pr_event(prod *P, json_t *rec, const char *event_id, const char *receipt,
    long long sent_us)
{
	pr_group *g = &P->g;
	pr_text *ev = &P->evtext;
	json_t *atts, *v, *recips, *body;
	char pid[24], ts[PR_TIME_MAX];
	const char *sender;
	size_t j;
	int rc = -1, first = 1;

	sender = json_string_value(json_object_get(rec, "sender"));
	if (sender == NULL) {
		PERR(P, "record %s has no sender", event_id);
		return -1;
	}
	if (pr_participant(P, sender, pid) != 0)
		return -1;
	recips = json_object_get(rec, "recipients");
	json_array_foreach(recips, j, v) {
		char rid[24];

		if (json_is_string(v) && pr_participant(P,
		    json_string_value(v), rid) != 0)
			return -1;
	}
	if (g->conv_display == NULL && json_is_string(json_object_get(rec,
	    "conversation")))
		g->conv_display = json_incref(json_object_get(rec, "conversation"));
	pr_time(ts, sent_us);

	tx_clear(ev);
	if (tx_str(P, ev, g->events > 0 ? ",{\"id\":\"" : "{\"id\":\"") != 0 ||
	    tx_str(P, ev, event_id) != 0 ||
	    tx_str(P, ev, "\",\"type\":\"message\",\"participant\":\"") != 0 ||
	    tx_str(P, ev, pid) != 0 ||
	    tx_str(P, ev, "\",\"conversation\":\"C1\",\"timestamp\":\"") != 0 ||
	    tx_str(P, ev, ts) != 0 || tx_str(P, ev, "\"") != 0)
		goto out;
	body = json_object_get(rec, "body");
	if (json_is_string(body) && (tx_str(P, ev, ",\"body\":") != 0 ||
	    tx_json(P, ev, body) != 0))
		goto out;
	atts = json_object_get(rec, "attachments");
	if (json_is_array(atts) && json_array_size(atts) > 0) {
		if (tx_str(P, ev, ",\"attachments\":[") != 0)
			goto out;
		json_array_foreach(atts, j, v)
			if (pr_attachment(P, v, j, ev) != 0)
				goto out;
		if (tx_str(P, ev, "]") != 0)
			goto out;
	}
	/* The receipt is ours (hex, digits, a uuid): no encoding needed. */
	if (tx_str(P, ev, ",\"custom\":[{\"name\":\"coffer_receipt\",\"value\":\"") != 0 ||
	    tx_str(P, ev, receipt) != 0 || tx_str(P, ev, "\"}") != 0)
		goto out;
	first = 0;
	if (pr_custom(P, ev, &first, "direction", json_object_get(rec,
	    "direction")) != 0 ||
	    pr_custom(P, ev, &first, "source_id", json_object_get(rec, "id")) != 0 ||
	    pr_custom(P, ev, &first, "device", json_object_get(rec, "device")) != 0 ||
	    tx_str(P, ev, "]}") != 0)
		goto out;
	if (spool_put(P, &P->events, ev->p, ev->len) != 0)
		goto out;
	if (g->events == 0)
		g->first_us = sent_us;
	g->last_us = sent_us;
	g->events++;
	rc = 0;
out:
	tx_clear(ev);
	return rc;
}

/* Close the current group's zip and write its .rsmf into the tar. */
static int
pr_group_finish(prod *P)
{
	pr_group *g = &P->g;
	json_t *head = NULL, *conv = NULL, *parts = NULL, *ids = NULL, *v;
	char *prefix = NULL, hdr[PR_HDR_MAX], path[160], date[PR_TIME_MAX];
	char begin[PR_TIME_MAX], end[PR_TIME_MAX], d5322[PR_TIME_MAX];
	/* The base64 lines end in CRLF, so the close delimiter follows. */
	static const char trailer[] = "--" PR_BOUNDARY "--\r\n";
	size_t plen, j;
	unsigned long long msize;
	int hlen, rc = -1;

	if (!g->active)
		return 0;
	/* Manifest head: everything but the events, which are spooled. */
	parts = json_array();
	ids = json_array();
	if (parts == NULL || ids == NULL)
		goto oom;
	json_array_foreach(g->plist, j, v) {
		char pid[24];
		json_t *o;

		snprintf(pid, sizeof(pid), "P%zu", j + 1);
		o = json_pack("{s:s,s:O,s:O}", "id", pid, "display", v,
		    "account_id", v);
		if (o == NULL || json_array_append_new(parts, o) != 0 ||
		    json_array_append_new(ids, json_string(pid)) != 0)
			goto oom;
	}
	conv = json_pack("{s:s,s:O*,s:s,s:s,s:O}", "id", "C1",
	    "display", g->conv_display, "platform", g->channel,
	    "type", json_array_size(g->plist) <= 2 ? "direct" : "channel",
	    "participants", ids);
	head = json_pack("{s:s,s:O,s:[O]}", "version", "2.0.0",
	    "participants", parts, "conversations", conv);
	if (conv == NULL || head == NULL)
		goto oom;
	plen = json_dumpb(head, NULL, 0, JSON_COMPACT);
	if (plen < 2 || (prefix = malloc(plen + 16)) == NULL ||
	    json_dumpb(head, prefix, plen, JSON_COMPACT) != plen)
		goto oom;
	/* "{...}" becomes "{...,"events":[" */
	memcpy(prefix + plen - 1, ",\"events\":[", 11);
	plen += 10;
	if (spool_seal(P, &P->events) != 0)
		goto out;
	msize = plen + spool_size(&P->events) + 2;
	if (zip_entry(P, "rsmf_manifest.json", msize,
	    P->opts == NULL || !P->opts->rsmf_deflate) != 0 ||
	    zip_put(P, prefix, plen) != 0 ||
	    spool_copy(P, &P->events, zip_sink, P) != 0 ||
	    zip_put(P, "]}", 2) != 0)
		goto out;
	if (archive_write_close(g->zip) != ARCHIVE_OK) {
		zip_fail(P, "close");
		goto out;
	}
	archive_write_free(g->zip);
	g->zip = NULL;
	if (b64_finish(P, &g->b64) != 0 || spool_seal(P, &P->zipsp) != 0)
		goto out;

	/* The RFC 5322 message around it. */
	pr_time(begin, g->first_us);
	pr_time(end, g->last_us);
	pr_time_5322(d5322, g->first_us);
	hlen = snprintf(hdr, sizeof(hdr),
	    "From: Coffer <coffer@coffer.invalid>\r\n"
	    "Date: %s\r\n"
	    "Subject: Coffer production %s, conversation %06llu (%s)\r\n"
	    "MIME-Version: 1.0\r\n"
	    "X-RSMF-Version: 2.0.0\r\n"
	    "X-RSMF-Generator: " PR_GENERATOR "\r\n"
	    "X-RSMF-EventCount: %llu\r\n"
	    "X-RSMF-BeginDate: %s\r\n"
	    "X-RSMF-EndDate: %s\r\n"
	    "X-RSMF-AttachmentCount: %llu\r\n"
	    "Content-Type: multipart/mixed; boundary=\"" PR_BOUNDARY "\"\r\n"
	    "\r\n"
	    "--" PR_BOUNDARY "\r\n"
	    "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
	    "\r\n"
	    "Relativity Short Message Format 2.0 file made by Coffer: %llu "
	    "events on %s from %s to %s.\r\n"
	    "\r\n"
	    "--" PR_BOUNDARY "\r\n"
	    "Content-Type: application/octet-stream; name=\"rsmf.zip\"\r\n"
	    "Content-Disposition: attachment; filename=\"rsmf.zip\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n",
	    d5322, P->mid, g->ordinal, g->channel, g->events, begin, end,
	    g->attachments, g->events, g->channel, begin, end);
	if (hlen < 0 || (size_t)hlen >= sizeof(hdr)) {
		PERR(P, "RSMF header too long");
		goto out;
	}
	if (g->day >= 0) {
		pr_date(date, g->day);
		snprintf(path, sizeof(path), "rsmf/%06llu-%.10s.rsmf", g->ordinal, date);
	} else {
		snprintf(path, sizeof(path), "rsmf/%06llu.rsmf", g->ordinal);
	}
	if (tar_entry(P, path, (unsigned long long)hlen + spool_size(&P->zipsp) +
	    sizeof(trailer) - 1, 0) != 0 ||
	    tar_put(P, hdr, (size_t)hlen) != 0 ||
	    spool_copy(P, &P->zipsp, tar_sink, P) != 0 ||
	    tar_put(P, trailer, sizeof(trailer) - 1) != 0)
		goto out;
	P->res.rsmf_files++;
	if (spool_reset(P, &P->events) != 0 || spool_reset(P, &P->zipsp) != 0)
		goto out;
	rc = 0;
	goto out;
oom:
	PERR(P, "out of memory");
out:
	if (prefix != NULL) {
		vault_wipe(prefix, plen);
		free(prefix);
	}
	json_decref(head);
	json_decref(conv);
	json_decref(parts);
	json_decref(ids);
	pr_group_clear(P);
	return rc;
}

/* Does this record start a new group?  Opens it (closing the last). */
static int
pr_group_for(prod *P, const unsigned char *conv, const char *channel,
    long long sent_us)
{
	pr_group *g = &P->g;
	pr_long key;
	long long day = -1;
	int same_conv;

	memset(&key, 0, sizeof(key));
	key.has_conv = conv != NULL;
	if (conv != NULL)
		memcpy(key.conv, conv, VAULT_TOKEN_BYTES);
	snprintf(key.channel, sizeof(key.channel), "%s", channel);
	if (P->nlongs > 0 && bsearch(&key, P->longs, P->nlongs, sizeof(pr_long),
	    pr_long_cmp) != NULL)
		day = pr_day(sent_us);
	same_conv = g->active && g->has_conv == (conv != NULL) &&
	    (conv == NULL || memcmp(g->conv, conv, VAULT_TOKEN_BYTES) == 0) &&
	    strcmp(g->channel, channel) == 0;
	if (same_conv && g->day == day)
		return 0;
	if (pr_group_finish(P) != 0)
		return -1;
	return pr_group_start(P, conv, channel, day, !same_conv);
}

/* -- records ------------------------------------------------------------------------ */

/* Cursor columns: stream_id, seq, epoch_id, batch_no, received_at, sent_at,
 * channel, conversation_token, nonce, ciphertext, leaf_hash, size_class,
 * the participant tokens back to back (NULL: none), dedup_token (binary). */
#define PR_COLS 14
static const int pr_col_len[PR_COLS] = {
	VAULT_ID_BYTES, 8, VAULT_ID_BYTES, 8, 8, 8, -1, VAULT_TOKEN_BYTES,
	VAULT_NONCE_BYTES, -1, VAULT_HASH_BYTES, 2, -1, VAULT_TOKEN_BYTES
};

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

	np = PQgetisnull(r, row, 12) ? 0 : (size_t)PQgetlength(r, row, 12);
	if (np % VAULT_TOKEN_BYTES != 0) {
		PERR(P, "tenant %s: malformed record row", P->tid);
		return -1;
	}
	np /= VAULT_TOKEN_BYTES;
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
	lf.participants = np ? (const unsigned char *)PQgetvalue(r, row, 12) : NULL;
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
	seq = (unsigned long long)pg_be64_get(PQgetvalue(r, row, 1));
	batch = (unsigned long long)pg_be64_get(PQgetvalue(r, row, 3));
	recv_us = (int64_t)pg_be64_get(PQgetvalue(r, row, 4)) + PG_EPOCH_US;
	sent_us = (int64_t)pg_be64_get(PQgetvalue(r, row, 5)) + PG_EPOCH_US;
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
	if (pr_grow(P, &P->pt, &P->pt_cap, ct_len) != 0)
		return -1;
	if (vault_open(ep, &ad, (const unsigned char *)PQgetvalue(r, row, 8),
	    (const unsigned char *)PQgetvalue(r, row, 9), ct_len, P->pt, P->pt_cap,
	    &pt_len) != 0) {
		PERR(P, "record %s:%llu does not decrypt under its epoch key "
		    "(tampered row?)", sid, seq);
		return -1;
	}
	/* Authenticated, canonical (gateway-made) JSON: a plain parse. */
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
	    tx_str(P, lt, "}\n") != 0 ||
	    spool_put(P, &P->records, lt->p, lt->len) != 0)
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
	    tx_str(P, lt, "}") != 0 ||
	    spool_put(P, &P->manifest, lt->p, lt->len) != 0)
		goto out;
	tx_clear(lt);

	/* RSMF. */
	if (pr_group_for(P, conv, channel, sent_us) != 0 ||
	    pr_event(P, rec, evid, receipt, sent_us) != 0)
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

/* The ordered cursor; the next FETCH is in flight while a batch is
 * processed, so PostgreSQL and the decryption overlap. */
static int
pr_stream_records(prod *P)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r = NULL, *next = NULL;
	char fetch[64];
	int i, n, rc = -1, rows = P->opts != NULL && P->opts->fetch_rows > 0 ?
	    P->opts->fetch_rows : API_PRODUCTION_FETCH_ROWS;

	pr_scope_params(P, &p);
	pg_param_text(&p, P->lit_epochs);
	if (pg_exec(P->db, "DECLARE coffer_production NO SCROLL CURSOR FOR "
	    "SELECT r.stream_id, r.seq, r.epoch_id, r.batch_no, r.received_at, "
	    "       r.sent_at, r.channel, r.conversation_token, r.nonce, "
	    "       r.ciphertext, r.leaf_hash, r.size_class, "
	    "       (SELECT pg_catalog.string_agg(t.tok, ''::bytea ORDER BY t.o) "
	    "        FROM pg_catalog.unnest(r.participant_tokens) "
	    "             WITH ORDINALITY AS t(tok, o)), r.dedup_token "
	    "FROM coffer.records r WHERE " PR_SCOPE
	    " AND r.epoch_id = ANY ($7::uuid[]) "
	    "ORDER BY r.conversation_token NULLS LAST, r.channel, r.sent_at, "
	    "         r.stream_id, r.seq", &p, P->err, P->err_len) != 0)
		return -1;
	snprintf(fetch, sizeof(fetch), "FETCH FORWARD %d FROM coffer_production",
	    rows);
	if (PQsendQueryParams(P->db, fetch, 0, NULL, NULL, NULL, NULL, 1) != 1) {
		PERR(P, "database: %s", PQerrorMessage(P->db));
		return -1;
	}
	for (;;) {
		/* Collect the FETCH in flight. */
		r = PQgetResult(P->db);
		while ((next = PQgetResult(P->db)) != NULL)
			PQclear(next);
		if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
			const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
			    : NULL;

			PERR(P, "database: FETCH failed: %s", m ? m :
			    PQerrorMessage(P->db));
			goto out;
		}
		n = PQntuples(r);
		if (n > 0 && PQnfields(r) != PR_COLS) {
			PERR(P, "database: unexpected cursor columns");
			goto out;
		}
		/* Proofs need queries of their own: before the next FETCH. */
		if (n > 0 && pr_proofs_for(P, r, n) != 0)
			goto out;
		if (n > 0 &&
		    PQsendQueryParams(P->db, fetch, 0, NULL, NULL, NULL, NULL, 1) != 1) {
			PERR(P, "database: %s", PQerrorMessage(P->db));
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (pr_record(P, r, i) != 0) {
				/* Drain the FETCH in flight before giving up. */
				while ((next = PQgetResult(P->db)) != NULL)
					PQclear(next);
				goto out;
			}
			if (P->res.records % PR_PROGRESS_EVERY == 0)
				pr_progress(P);
		}
		PQclear(r);
		r = NULL;
		if (n == 0)
			break;
	}
	if (pg_exec(P->db, "CLOSE coffer_production", NULL, P->err,
	    P->err_len) != 0)
		goto out;
	rc = 0;
out:
	PQclear(r);
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
	for (i = 0; i < PR_EPOCH_CACHE; i++)
		vault_epoch_free(&P->cache[i].e);
	if (P->S != NULL)
		vault_secure_free(P->S);       /* wipes every S */
	for (i = 0; i < P->nepochs; i++) {
		free(P->epochs[i].partials);
	}
	free(P->epochs);
	free(P->ckpts);
	for (i = 0; i < P->nbatches; i++)
		free(P->batches[i].tree);
	free(P->batches);
	free(P->rowp);
	if (P->lbuf != NULL)
		vault_secure_free(P->lbuf);
	vault_hasher_free(&P->fh);
	json_decref(P->files);
	free(P->longs);
	free(P->public_shares);
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
	spool_close(&P->records);
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
	if (P->has_from || P->has_to) {
		char t[PR_TIME_MAX];

		/* and in µs: export open checks every record's sent_at */
		if (P->has_from) {
			pr_time(t, (int64_t)pg_be64_get(P->time_from) + PG_EPOCH_US);
			json_object_set_new(json_object_get(head, "scope"), "from",
			    json_string(t));
			json_object_set_new(json_object_get(head, "scope"), "from_us",
			    json_integer((int64_t)pg_be64_get(P->time_from) + PG_EPOCH_US));
		}
		if (P->has_to) {
			pr_time(t, (int64_t)pg_be64_get(P->time_to) + PG_EPOCH_US);
			json_object_set_new(json_object_get(head, "scope"), "to",
			    json_string(t));
			json_object_set_new(json_object_get(head, "scope"), "to_us",
			    json_integer((int64_t)pg_be64_get(P->time_to) + PG_EPOCH_US));
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
	int rc = -1, in_tx = 0, dfd;
	char e2[256];
	unsigned long split;

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
	P->records.fd = P->manifest.fd = P->events.fd = P->zipsp.fd = -1;
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
	split = opts != NULL && opts->rsmf_split_events > 0 ?
	    opts->rsmf_split_events : API_PRODUCTION_SPLIT_EVENTS;
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
	    pr_load_epochs(P) != 0 ||
	    pr_load_approvals(P) != 0 || pr_combine(P) != 0)
		goto out;
	if (pr_count(P, &in_scope, NULL, NULL) != 0 ||
	    pr_count(P, &P->total, NULL, P->lit_epochs) != 0)
		goto out;
	P->res.excluded_records = in_scope - P->total;
	if ((ckpts = json_array()) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	if (pr_load_checkpoints(P, ckpts) != 0 || pr_load_longs(P, split) != 0)
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
	if (wq_start(&P->wq) != 0) {
		PERR(P, "cannot start the output writer (out of memory?)");
		goto out;
	}
	if (vault_spool_key_new(&P->skey, e2, sizeof(e2)) != 0) {
		PERR(P, "%s", e2);
		goto out;
	}
	if (spool_open(P, &P->records, PR_SPOOL_MEM_SMALL) != 0 ||
	    spool_open(P, &P->manifest, PR_SPOOL_MEM_SMALL) != 0 ||
	    spool_open(P, &P->events, PR_SPOOL_MEM_EVENTS) != 0 ||
	    spool_open(P, &P->zipsp, PR_SPOOL_MEM_ZIP) != 0)
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
	if (tar_entry(P, "rsmf/", 0, 1) != 0)
		goto out;

	pr_progress(P);
	if (pr_stream_records(P) != 0 || pr_group_finish(P) != 0)
		goto out;
	if (P->res.records != P->total) {
		PERR(P, "produced %llu records, expected %llu", P->res.records,
		    P->total);
		goto out;
	}

	/* records.jsonl and manifest.json from their spools. */
	if (spool_seal(P, &P->records) != 0 ||
	    tar_entry(P, "records.jsonl", spool_size(&P->records), 0) != 0 ||
	    spool_copy(P, &P->records, tar_sink, P) != 0)
		goto out;
	if ((mhead = pr_manifest_head(P, ckpts)) == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	if (spool_seal(P, &P->manifest) != 0 ||
	    tar_entry(P, "manifest.json", strlen(mhead) +
	    spool_size(&P->manifest) + 3, 0) != 0 ||
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
	if (mhead != NULL)
		free(mhead);
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
	return rc;
}
