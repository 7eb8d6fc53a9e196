/* api/spool.c — where a production's bytes go (api/spool.h): the writer
 * thread, the spools, the tar through the sealed container, and the
 * base64 of an RSMF's zip.
 *
 * Trusts: vault/ to seal spilled spools and the container (vault_spool_*,
 * vault_stream_*), libarchive with the tar and zip formats, OpenSSL with
 * SHA-256 and base64.  Plaintext stays in guarded memory or goes through
 * vault_spool_* before it reaches a file; the writer thread takes it in
 * guarded slots, seals it, writes the ciphertext and wipes the slot.
 * libarchive writes unblocked (see api/production.c),
 * so tar and zip bytes go from our wiped buffers straight to the
 * callbacks here.
 *
 * Threads: the writer thread (wq_main) seals what is queued and its
 * streams' sinks (out_sink, spool_sink) write it and hash the output;
 * pr_wq's mutex and condition variable hand it slots.  The build's thread
 * calls a stream or its sink itself only when the queue is drained
 * (creating the container, finishing a stream).  All else runs on the
 * build's thread.
 */
#include "api/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive_entry.h>
#include <openssl/evp.h>

#include "common/util.h"
#include "vault/chain.h"
#include "vault/mem.h"

/* -- the writer thread -------------------------------------------------------- */

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

/* WQ_PSTART begins a part of records.jsonl, WQ_PFINAL ends the whole
 * file (after its last part). */
enum { WQ_SEAL, WQ_HASH, WQ_START, WQ_END, WQ_PSTART, WQ_PFINAL };

/* On the writer thread: a tar file's bytes into its two hashes. */
static int
wq_hash(prod *P, const unsigned char *data, size_t len, char *e, size_t elen)
{
	EVP_MD_CTX *sha = P->in_part ? P->rsha : P->fsha;

	vault_hasher_update(P->in_part ? P->rh : P->fh, data, len);
	if (sha != NULL && EVP_DigestUpdate(sha, data, len) != 1) {
		snprintf(e, elen, "SHA-256 failed");
		return -1;
	}
	*(P->in_part ? &P->rsize : &P->fsize) += len;
	return 0;
}

/* A file's hashes join the statement's list (BLAKE2b) and the manifest's
 * and cover's (SHA-256). */
static int
wq_list(prod *P, const char *name, unsigned long long size, vault_hasher *fh,
    EVP_MD_CTX *sha, char *e, size_t elen)
{
	unsigned char h[VAULT_HASH_BYTES];
	char hex[2 * VAULT_HASH_BYTES + 1];

	vault_hasher_final(fh, h);
	util_hex(hex, h, sizeof(h));
	if (P->files == NULL || json_array_append_new(P->files, json_pack(
	    "{s:s,s:I,s:s}", "name", name, "size", (json_int_t)size,
	    "blake2b", hex)) != 0) {
		snprintf(e, elen, "out of memory");
		return -1;
	}
	if (sha != NULL && P->sha_files != NULL) {
		unsigned char sh[32];
		char shex[65];
		unsigned int mdlen = 0;

		if (EVP_DigestFinal_ex(sha, sh, &mdlen) != 1 || mdlen != 32) {
			snprintf(e, elen, "SHA-256 failed");
			return -1;
		}
		util_hex(shex, sh, sizeof(sh));
		if (json_array_append_new(P->sha_files, json_pack("{s:s,s:I,s:s}",
		    "name", name, "size", (json_int_t)size, "sha256", shex)) != 0) {
			snprintf(e, elen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* On the writer thread: a tar file begins (its name in the slot). */
static int
wq_file_start(prod *P, const unsigned char *name, size_t len, char *e,
    size_t elen)
{
	if (len >= sizeof(P->fname))
		len = sizeof(P->fname) - 1;
	memcpy(P->fname, name, len);
	P->fname[len] = '\0';
	P->fsize = 0;
	vault_hasher_reset(P->fh);
	if (P->fsha != NULL && EVP_DigestInit_ex(P->fsha, EVP_sha256(), NULL) != 1) {
		snprintf(e, elen, "SHA-256 failed");
		return -1;
	}
	return 0;
}

/* On the writer thread: a tar file ends, and joins the lists; a part of
 * records.jsonl only ends (WQ_PFINAL lists the whole file). */
static int
wq_file_end(prod *P, char *e, size_t elen)
{
	if (P->in_part) {
		P->in_part = 0;
		return 0;
	}
	return wq_list(P, P->fname, P->fsize, P->fh, P->fsha, e, elen);
}

static void *
wq_main(void *arg)
{
	pr_wq *q = arg;
	char e[sizeof(q->emsg)];
	size_t i;
	int rc;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->n == 0 && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->n == 0)
			break;
		i = q->head;
		rc = q->err;              /* after a failure: drop, but wipe */
		pthread_mutex_unlock(&q->mu);
		e[0] = '\0';
		if (rc == 0) {
			switch (q->kind[i]) {
			case WQ_SEAL:
				rc = vault_stream_write(q->w[i], q->buf[i], q->len[i], e,
				    sizeof(e));
				break;
			case WQ_HASH:
				rc = wq_hash(q->owner, q->buf[i], q->len[i], e, sizeof(e));
				break;
			case WQ_START:
				rc = wq_file_start(q->owner, q->buf[i], q->len[i], e,
				    sizeof(e));
				break;
			case WQ_PSTART:
				q->owner->in_part = 1;
				rc = 0;
				break;
			case WQ_PFINAL:
				rc = wq_list(q->owner, "records.jsonl", q->owner->rsize,
				    q->owner->rh, q->owner->rsha, e, sizeof(e));
				break;
			default:
				rc = wq_file_end(q->owner, e, sizeof(e));
				break;
			}
			rc = rc != 0 ? EIO : 0;
		} else {
			rc = 0;
		}
		vault_wipe(q->buf[i], q->len[i]);
		pthread_mutex_lock(&q->mu);
		if (rc != 0 && q->err == 0) {
			q->err = rc;
			memcpy(q->emsg, e, sizeof(q->emsg));
		}
		q->head = (q->head + 1) % PR_WQ_SLOTS;
		q->n--;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int
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
		if ((q->buf[i] = vault_secure_alloc(PR_IO_BYTES)) == NULL)
			return -1;
	if ((q->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(q->sha, EVP_sha256(), NULL) != 1)
		return -1;
	if (pthread_create(&q->th, NULL, wq_main, q) != 0)
		return -1;
	q->started = 2;                    /* and the thread runs */
	return 0;
}

/* Hand the slot being filled to the thread. */
static void
wq_publish(pr_wq *q)
{
	if (!q->open)
		return;
	pthread_mutex_lock(&q->mu);
	q->n++;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	q->open = 0;
}

/* Queue an item for the thread, in order: kind WQ_SEAL, plaintext for the
 * stream w (sealed, then written by its sink), WQ_HASH, bytes of the
 * current tar file, both appended to the slot being filled while it is
 * the same kind and stream and has room; WQ_START (data: the file's name)
 * and WQ_END, handed over at once.  -1 (errno set) after any failed item;
 * wq_error says what failed. */
static int
wq_item(pr_wq *q, int kind, vault_stream_writer *w, const unsigned char *data,
    size_t len)
{
	int one = kind != WQ_SEAL && kind != WQ_HASH;
	size_t n;

	do {
		if (q->open && (one || q->kind[q->oslot] != kind ||
		    q->w[q->oslot] != w || q->len[q->oslot] == PR_IO_BYTES))
			wq_publish(q);
		if (!q->open) {
			pthread_mutex_lock(&q->mu);
			while (q->n == PR_WQ_SLOTS && q->err == 0)
				pthread_cond_wait(&q->cv, &q->mu);
			if (q->err != 0) {
				errno = q->err;
				pthread_mutex_unlock(&q->mu);
				return -1;
			}
			q->oslot = (q->head + q->n) % PR_WQ_SLOTS;
			pthread_mutex_unlock(&q->mu);
			/* The slot is ours until it is published. */
			q->open = 1;
			q->len[q->oslot] = 0;
			q->w[q->oslot] = w;
			q->kind[q->oslot] = kind;
		}
		n = PR_IO_BYTES - q->len[q->oslot];
		if (n > len)
			n = len;
		if (n > 0)
			memcpy(q->buf[q->oslot] + q->len[q->oslot], data, n);
		q->len[q->oslot] += n;
		data += n;
		len -= n;
		if (one) {
			wq_publish(q);
			return 0;
		}
	} while (len > 0);
	return 0;
}

static int
wq_put(pr_wq *q, vault_stream_writer *w, const unsigned char *data,
    size_t len)
{
	return len == 0 ? 0 : wq_item(q, WQ_SEAL, w, data, len);
}

/* The failed write's error, after wq_put or wq_drain returned -1. */
const char *
wq_error(pr_wq *q)
{
	const char *m;

	pthread_mutex_lock(&q->mu);
	m = q->emsg[0] != '\0' ? q->emsg : "write failed";
	pthread_mutex_unlock(&q->mu);
	return m;
}

/* Wait until everything queued is written.  0, or -1 with errno. */
int
wq_drain(pr_wq *q)
{
	int err;

	if (q->started < 2)
		return 0;
	wq_publish(q);
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

/* Stop the thread once the published slots are written (a slot still
 * being filled is dropped: wq_drain first to keep it). */
void
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
void
wq_free(pr_wq *q)
{
	size_t i;

	for (i = 0; i < PR_WQ_SLOTS; i++) {
		if (q->buf[i] != NULL)
			vault_secure_free(q->buf[i]);   /* wipes */
		q->buf[i] = NULL;
	}
	if (q->sha != NULL)
		EVP_MD_CTX_free(q->sha);
	q->sha = NULL;
}

/* A spilled spool's sink: its ciphertext to its file (on the writer
 * thread, or the build's when the queue is drained). */
static int
spool_sink(void *arg, const unsigned char *data, size_t len)
{
	pr_spool *s = arg;

	if (pr_write_all(s->fd, data, len) != 0) {
		s->io_errno = errno ? errno : EIO;
		return -1;
	}
	s->file += len;
	return 0;
}

int
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
	if (e == NULL)          /* the writer thread's failure */
		e = wq_error(&P->wq);
	PERR(P, "temporary file in %s: %s%s%s", P->dir, e,
	    s->io_errno ? ": " : "", s->io_errno ? strerror(s->io_errno) : "");
}

/* What s->mem stages, to the writer thread for s's sealed file. */
static int
spool_flush(prod *P, pr_spool *s)
{
	if (s->mem_len > 0 && wq_put(&P->wq, s->w, s->mem, s->mem_len) != 0) {
		spool_fail(P, s, NULL);
		return -1;
	}
	vault_wipe(s->mem, s->mem_len);
	s->mem_len = 0;
	return 0;
}

/* Memory is full: seal what it holds into the file, carry on there (the
 * memory now stages the writer thread's input, a full one at a time). */
static int
spool_spill(prod *P, pr_spool *s)
{
	char e[256];

	if (s->fd < 0 && spool_file(P, s) != 0)
		return -1;
	if ((s->w == NULL ? vault_spool_writer_new(&s->w, P->skey, spool_sink, s,
	    e, sizeof(e)) : vault_spool_writer_restart(s->w, P->skey, e,
	    sizeof(e))) != 0) {
		spool_fail(P, s, e);
		return -1;
	}
	if (spool_flush(P, s) != 0)
		return -1;
	s->spilled = 1;
	return 0;
}

int
spool_put(prod *P, pr_spool *s, const void *data, size_t len)
{
	const unsigned char *p = data;

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
	s->size += len;
	while (len > 0) {
		size_t n = s->mem_cap - s->mem_len < len ? s->mem_cap - s->mem_len :
		    len;

		memcpy(s->mem + s->mem_len, p, n);
		s->mem_len += n;
		p += n;
		len -= n;
		if (s->mem_len == s->mem_cap && spool_flush(P, s) != 0)
			return -1;
	}
	return 0;
}

unsigned long long
spool_size(const pr_spool *s)
{
	return s->size;
}

int
spool_seal(prod *P, pr_spool *s)
{
	char e[256];

	if (!s->spilled)
		return 0;
	/* the thread has sealed all of it before the last chunk is */
	if (spool_flush(P, s) != 0)
		return -1;
	if (wq_drain(&P->wq) != 0) {
		spool_fail(P, s, NULL);
		return -1;
	}
	if (vault_stream_finish(s->w, e, sizeof(e)) != 0) {
		spool_fail(P, s, e);
		return -1;
	}
	return 0;
}

/* Hand the content to sink: from memory, or the sealed file read back. */
int
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
int
spool_reset(prod *P, pr_spool *s)
{
	vault_wipe(s->mem, s->mem_len);
	s->mem_len = 0;
	s->size = 0;
	if (s->spilled) {
		/* Rewound, not truncated: the next use writes over it and reads
		 * only what it wrote (s->file), and the tail left is sealed
		 * under the build's spool key like the rest.  ftruncate waited
		 * for the kernel's writeback of the old pages (0.12-0.17 s of a
		 * 20 000-record build, issue 17.4). */
		if (wq_drain(&P->wq) != 0 || lseek(s->fd, 0, SEEK_SET) != 0) {
			PERR(P, "temporary file: %s", strerror(errno));
			return -1;
		}
		s->file = 0;
		s->io_errno = 0;
		s->spilled = 0;
	}
	return 0;
}

void
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

int
out_sink(void *arg, const unsigned char *data, size_t len)
{
	prod *P = arg;

	if (pr_write_all(P->out_fd, data, len) != 0) {
		P->out_errno = errno ? errno : EIO;
		return -1;
	}
	if (EVP_DigestUpdate(P->wq.sha, data, len) != 1) {
		P->out_errno = EIO;
		return -1;
	}
	P->out_bytes += len;
	return 0;
}

la_ssize_t
tar_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
	prod *P = client;

	(void)a;
	if (P->aborting)
		return (la_ssize_t)len;
	if (wq_put(&P->wq, P->container, buf, len) != 0) {
		snprintf(P->tar_err, sizeof(P->tar_err), "%.200s: %.200s%s%.60s",
		    P->tmp_path, wq_error(&P->wq), P->out_errno ? ": " : "",
		    P->out_errno ? strerror(P->out_errno) : "");
		return -1;
	}
	return (la_ssize_t)len;
}

int
tar_fail(prod *P, const char *what)
{
	if (P->tar_err[0] != '\0')
		PERR(P, "%s", P->tar_err);
	else
		PERR(P, "tar %s: %s", what, archive_error_string(P->tar) ?
		    archive_error_string(P->tar) : "failed");
	return -1;
}

/* Every file of the tar is hashed as it goes in, for the statement: on
 * the writer thread, in queue order (wq_hash, wq_file_start, wq_file_end);
 * the lists are read after wq_drain. */
int
pr_file_end(prod *P)
{
	if (!P->fh_active)
		return 0;
	P->fh_active = 0;
	P->hash_here = 0;         /* the thread's again, from WQ_END on */
	if (wq_item(&P->wq, WQ_END, NULL, NULL, 0) != 0) {
		PERR(P, "%s: %s", P->tmp_path, wq_error(&P->wq));
		return -1;
	}
	return 0;
}

/* A tar entry; its file hashed as kind says (WQ_START: a file of its
 * own, WQ_PSTART: a part of records.jsonl). */
static int
tar_entry_as(prod *P, const char *path, unsigned long long size, int dir,
    int kind)
{
	struct archive_entry *e;
	int rc;

	if (pr_file_end(P) != 0)
		return -1;
	if (!dir && P->fh != NULL) {
		if (wq_item(&P->wq, kind, NULL, (const unsigned char *)path,
		    strlen(path)) != 0) {
			PERR(P, "%s: %s", P->tmp_path, wq_error(&P->wq));
			return -1;
		}
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

int
tar_entry(prod *P, const char *path, unsigned long long size, int dir)
{
	return tar_entry_as(P, path, size, dir, WQ_START);
}

int
tar_hash_here(prod *P)
{
	if (!P->fh_active)
		return 0;
	/* the thread has run this file's WQ_START and touches fh and fsha
	 * again only at its WQ_END, queued by pr_file_end */
	if (wq_drain(&P->wq) != 0) {
		PERR(P, "%s: %s", P->tmp_path, wq_error(&P->wq));
		return -1;
	}
	P->hash_here = 1;
	return 0;
}

int
tar_put(prod *P, const void *data, size_t len)
{
	const unsigned char *p = data;
	char e[64];

	if (P->fh_active && len > 0 && P->hash_here) {
		if (wq_hash(P, p, len, e, sizeof(e)) != 0) {
			PERR(P, "%s: %s", P->tmp_path, e);
			return -1;
		}
	} else if (P->fh_active && len > 0 &&
	    wq_item(&P->wq, WQ_HASH, NULL, p, len) != 0) {
		PERR(P, "%s: %s", P->tmp_path, wq_error(&P->wq));
		return -1;
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

int
tar_sink(void *arg, const unsigned char *data, size_t len)
{
	return tar_put(arg, data, len) == 0 ? 0 : -1;
}

/* -- records.jsonl in parts (issue 17.4) ------------------------------------------ */

/* What the part buffer holds, as the tar entry records.jsonl.NNNNNN.  No
 * other entry is open while a record's line is added: attachments and
 * transcripts are whole entries by then. */
static int
rec_part(prod *P)
{
	char name[32];

	if (P->rparts >= PR_PARTS_MAX) {
		PERR(P, "records.jsonl would need more than %u parts", PR_PARTS_MAX);
		return -1;
	}
	snprintf(name, sizeof(name), "records.jsonl.%06u", P->rparts + 1);
	if (tar_entry_as(P, name, P->rpart_len, 0, WQ_PSTART) != 0 ||
	    tar_put(P, P->rpart, P->rpart_len) != 0 || pr_file_end(P) != 0)
		return -1;
	vault_wipe(P->rpart, P->rpart_len);
	P->rpart_len = 0;
	P->rparts++;
	P->res.records_parts = P->rparts;
	return 0;
}

int
rec_put(prod *P, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = P->rpart_cap - P->rpart_len < len ?
		    P->rpart_cap - P->rpart_len : len;

		memcpy(P->rpart + P->rpart_len, p, n);
		P->rpart_len += n;
		p += n;
		len -= n;
		if (P->rpart_len == P->rpart_cap && rec_part(P) != 0)
			return -1;
	}
	return 0;
}

int
rec_finish(prod *P)
{
	/* an empty records.jsonl is one empty part */
	if ((P->rpart_len > 0 || P->rparts == 0) && rec_part(P) != 0)
		return -1;
	if (wq_item(&P->wq, WQ_PFINAL, NULL, NULL, 0) != 0) {
		PERR(P, "%s: %s", P->tmp_path, wq_error(&P->wq));
		return -1;
	}
	return 0;
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

int
b64_finish(prod *P, pr_b64 *b)
{
	int rc = 0;

	if (b->n > 0)
		rc = b64_line(P, b->carry, b->n);
	vault_wipe(b->carry, sizeof(b->carry));
	b->n = 0;
	return rc;
}

la_ssize_t
zip_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
	prod *P = client;

	(void)a;
	if (P->aborting)
		return (la_ssize_t)len;
	return b64_write(P, &P->g.b64, buf, len) == 0 ? (la_ssize_t)len : -1;
}

int
zip_fail(prod *P, const char *what)
{
	const char *m = P->g.zip ? archive_error_string(P->g.zip) : NULL;

	if (P->err[0] == '\0')
		PERR(P, "rsmf.zip %s: %s", what, m ? m : "failed");
	return -1;
}

int
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

int
zip_sink(void *arg, const unsigned char *data, size_t len)
{
	return zip_put(arg, data, len) == 0 ? 0 : -1;
}

int
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
