/* ctl/export.c — `cofferctl export open`: decrypt a production locally,
 * unpack it safely, and check its manifest.
 *
 * Trusts: the legal user's key file (checked: regular file, owner, mode) and
 * passphrase.  Does not trust the production: the container must
 * authenticate chunk by chunk and end with its FINAL chunk
 * (vault/production.h); the tar inside may hold only the layout a build
 * writes — rsmf/ with *.rsmf files, records.jsonl, manifest.json — as plain
 * files: absolute names, "..", links, devices, FIFOs and anything else are
 * refused, and files are created with openat(O_EXCL | O_NOFOLLOW) inside a
 * directory this command made, so nothing can be written outside it.
 *
 * Nothing counts as opened until the whole container verified: files are
 * written as chunks authenticate, and if a later chunk fails, the stream
 * is truncated, or the manifest does not match, everything written is
 * removed again.
 *
 * Manifest check: records.jsonl and the manifest's receipts list the same
 * records in the same order (stream, seq, leaf hash); counts match the
 * manifest header; every record's checkpoint is one of the header's, covers
 * the record's seq, and every checkpoint signature verifies under the node
 * key the manifest names (to be compared with the operator's pinned node
 * keys or witness file for a full audit); the RSMF files' X-RSMF-EventCount
 * headers add up to the record count.
 */
#include "ctl/ctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "vault/chain.h"
#include "vault/mem.h"
#include "vault/production.h"

#define EX_ERR       512U
#define EX_PASS_MAX  1024U
#define EX_IO        65536U
#define EX_HEAD_MAX  4096U         /* RSMF header bytes kept for the count */
#define EX_LINE_MAX  (256U * 1024U * 1024U)
#define EX_NAME_MAX  255U
#define EX_REC_OPEN  "\"records\":["   /* end of the manifest's first line */

static const char ex_usage_text[] =
    "usage: cofferctl export open --in FILE --key KEYFILE --out DIR "
    "[--passphrase-file F]\n"
    "  decrypts a production sealed to your key, checks it and writes its\n"
    "  files (rsmf/*.rsmf, records.jsonl, manifest.json) into DIR, which must\n"
    "  not exist yet or be empty\n";

typedef struct ex_ctx {
	int                  in_fd;
	int                  eof;
	vault_stream_reader *rd;
	unsigned char       *cbuf;        /* ciphertext block */
	unsigned char       *pbuf;        /* guarded: plaintext for libarchive */
	size_t               plen;
	size_t               pcap;
	char                 err[EX_ERR];
	/* what was written, for cleanup */
	int                  dfd;
	int                  made_dir;
	int                  made_rsmf;
	char               **files;
	size_t               nfiles;
	/* counts */
	unsigned long long   rsmf_files;
	unsigned long long   rsmf_events;
	int                  have_records;
	int                  have_manifest;
} ex_ctx;

/* jansson parses decrypted records here: free through a wipe. */
static void *
ex_json_malloc(size_t n)
{
	return malloc(n);
}

static void
ex_json_free(void *p)
{
	if (p == NULL)
		return;
	vault_wipe(p, malloc_usable_size(p));
	free(p);
}

static void ex_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ex_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("cofferctl: export open: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* -- decrypting reader for libarchive ------------------------------------------- */

static int
ex_plain_sink(void *arg, const unsigned char *data, size_t len)
{
	ex_ctx *c = arg;

	if (c->plen + len > c->pcap) {
		size_t cap = c->pcap * 2;
		unsigned char *nb;

		while (cap < c->plen + len)
			cap *= 2;
		if ((nb = vault_secure_alloc(cap)) == NULL)
			return -1;
		memcpy(nb, c->pbuf, c->plen);
		vault_secure_free(c->pbuf);
		c->pbuf = nb;
		c->pcap = cap;
	}
	memcpy(c->pbuf + c->plen, data, len);
	c->plen += len;
	return 0;
}

/* Feed the next block of the file to the decryptor; at the end, insist on
 * the FINAL chunk.  0, or -1 with c->err set. */
static int
ex_pump(ex_ctx *c)
{
	ssize_t got;

	if (c->eof)
		return 0;
	do {
		got = read(c->in_fd, c->cbuf, EX_IO);
	} while (got < 0 && errno == EINTR);
	if (got < 0) {
		snprintf(c->err, sizeof(c->err), "read failed: %s", strerror(errno));
		return -1;
	}
	if (got == 0) {
		c->eof = 1;
		return vault_stream_read_finish(c->rd, c->err, sizeof(c->err));
	}
	return vault_stream_read(c->rd, c->cbuf, (size_t)got, c->err,
	    sizeof(c->err));
}

static la_ssize_t
ex_read_cb(struct archive *a, void *client, const void **buf)
{
	ex_ctx *c = client;

	(void)a;
	vault_wipe(c->pbuf, c->plen);       /* libarchive is done with it */
	c->plen = 0;
	while (c->plen == 0 && !c->eof)
		if (ex_pump(c) != 0) {
			archive_set_error(a, EIO, "%s", c->err);
			return -1;
		}
	*buf = c->pbuf;
	return (la_ssize_t)c->plen;
}

/* -- safe extraction ---------------------------------------------------------------- */

/* Only what a build writes.  0 ok (*is_dir, *is_rsmf set), -1 refused with
 * a reason in c->err. */
static int
ex_path_ok(ex_ctx *c, const char *path, int type, int *is_dir, int *is_rsmf)
{
	char shown[EX_NAME_MAX + 1];
	const char *base;
	size_t n, i;

	*is_dir = 0;
	*is_rsmf = 0;
	if (path == NULL || path[0] == '\0') {
		snprintf(c->err, sizeof(c->err), "entry without a name refused");
		return -1;
	}
	n = strlen(path);
	log_printable(shown, sizeof(shown), path, n);
	if (path[0] == '/') {
		snprintf(c->err, sizeof(c->err), "absolute path '%s' refused", shown);
		return -1;
	}
	if (strcmp(path, "..") == 0 || strncmp(path, "../", 3) == 0 ||
	    strstr(path, "/../") != NULL || (n >= 3 &&
	    strcmp(path + n - 3, "/..") == 0)) {
		snprintf(c->err, sizeof(c->err), "path '%s' with '..' refused", shown);
		return -1;
	}
	if (type == AE_IFLNK) {
		snprintf(c->err, sizeof(c->err), "symbolic link '%s' refused", shown);
		return -1;
	}
	if (type != AE_IFREG && type != AE_IFDIR) {
		snprintf(c->err, sizeof(c->err), "'%s' is not a regular file or "
		    "directory (device, FIFO or socket): refused", shown);
		return -1;
	}
	if (type == AE_IFDIR) {
		if (strcmp(path, "rsmf/") == 0 || strcmp(path, "rsmf") == 0) {
			*is_dir = 1;
			return 0;
		}
		snprintf(c->err, sizeof(c->err), "unexpected directory '%s' refused",
		    shown);
		return -1;
	}
	if (strcmp(path, "records.jsonl") == 0 || strcmp(path, "manifest.json") == 0)
		return 0;
	if (strncmp(path, "rsmf/", 5) == 0 && n > 10 && n < 5 + 128 &&
	    strcmp(path + n - 5, ".rsmf") == 0) {
		base = path + 5;
		for (i = 0; base[i] != '\0'; i++) {
			char ch = base[i];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
			    (ch == '.' && i > 0)))
				goto unexpected;
		}
		*is_rsmf = 1;
		return 0;
	}
unexpected:
	snprintf(c->err, sizeof(c->err), "unexpected entry '%s' refused", shown);
	return -1;
}

static int
ex_remember(ex_ctx *c, const char *path)
{
	char **nf = realloc(c->files, (c->nfiles + 1) * sizeof(*nf));

	if (nf == NULL)
		return -1;
	c->files = nf;
	if ((c->files[c->nfiles] = strdup(path)) == NULL)
		return -1;
	c->nfiles++;
	return 0;
}

static void
ex_cleanup(ex_ctx *c, const char *dir)
{
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		(void)unlinkat(c->dfd, c->files[i], 0);
	if (c->made_rsmf)
		(void)unlinkat(c->dfd, "rsmf", AT_REMOVEDIR);
	if (c->made_dir)
		(void)rmdir(dir);
}

/* Sum of the X-RSMF-EventCount headers, read from the start of each file. */
static int
ex_rsmf_count(ex_ctx *c, const char *path, const char *head, size_t n)
{
	const char *p = head, *end = head + n, *nl;
	static const char key[] = "X-RSMF-EventCount:";

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || nl == p || (nl == p + 1 && p[0] == '\r'))
			break;                  /* end of the header block */
		if ((size_t)(nl - p) > sizeof(key) - 1 &&
		    strncasecmp(p, key, sizeof(key) - 1) == 0) {
			/* Parsed within [value, nl) only: head is not
			 * NUL-terminated, and strtoull() would skip the line's
			 * end as blank space and read on past the buffer. */
			const char *v = p + sizeof(key) - 1;
			unsigned long long count = 0;
			int digits = 0;

			while (v < nl && (*v == ' ' || *v == '\t'))
				v++;
			for (; v < nl && *v >= '0' && *v <= '9'; v++, digits++) {
				if (count > (ULLONG_MAX - (unsigned)(*v - '0')) / 10)
					goto bad;
				count = count * 10 + (unsigned)(*v - '0');
			}
			while (v < nl && (*v == ' ' || *v == '\t' || *v == '\r'))
				v++;
			if (digits == 0 || v != nl)
				goto bad;
			c->rsmf_events += count;
			c->rsmf_files++;
			return 0;
		}
		p = nl + 1;
	}
	snprintf(c->err, sizeof(c->err), "%s has no X-RSMF-EventCount header",
	    path);
	return -1;
bad:
	snprintf(c->err, sizeof(c->err), "%s has a malformed X-RSMF-EventCount "
	    "header", path);
	return -1;
}

static int
ex_extract(ex_ctx *c, struct archive *a)
{
	struct archive_entry *e;
	char head[EX_HEAD_MAX];
	const void *blk;
	size_t blen, hlen;
	la_int64_t boff;
	int rc, fd = -1, is_dir, is_rsmf;

	for (;;) {
		const char *path;

		rc = archive_read_next_header(a, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc != ARCHIVE_OK) {
			if (c->err[0] == '\0')
				snprintf(c->err, sizeof(c->err), "%s",
				    archive_error_string(a) ? archive_error_string(a) :
				    "not a tar archive");
			return -1;
		}
		path = archive_entry_pathname(e);
		if (archive_entry_hardlink(e) != NULL) {
			char shown[EX_NAME_MAX + 1];

			snprintf(c->err, sizeof(c->err), "hard link '%s' refused",
			    log_printable(shown, sizeof(shown), path ? path : "",
			    path ? strlen(path) : 0));
			return -1;
		}
		if (ex_path_ok(c, path, (int)archive_entry_filetype(e), &is_dir,
		    &is_rsmf) != 0)
			return -1;
		if (is_dir) {
			if (!c->made_rsmf) {
				if (mkdirat(c->dfd, "rsmf", 0700) != 0) {
					snprintf(c->err, sizeof(c->err), "rsmf: %s",
					    strerror(errno));
					return -1;
				}
				c->made_rsmf = 1;
			}
			continue;
		}
		if (is_rsmf && !c->made_rsmf) {
			if (mkdirat(c->dfd, "rsmf", 0700) != 0) {
				snprintf(c->err, sizeof(c->err), "rsmf: %s", strerror(errno));
				return -1;
			}
			c->made_rsmf = 1;
		}
		fd = openat(c->dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(c->err, sizeof(c->err), "%s: %s", path,
			    errno == EEXIST ? "appears twice in the production" :
			    strerror(errno));
			return -1;
		}
		if (ex_remember(c, path) != 0) {
			(void)close(fd);
			snprintf(c->err, sizeof(c->err), "out of memory");
			return -1;
		}
		hlen = 0;
		for (;;) {
			rc = archive_read_data_block(a, &blk, &blen, &boff);
			if (rc == ARCHIVE_EOF)
				break;
			if (rc != ARCHIVE_OK) {
				if (c->err[0] == '\0')
					snprintf(c->err, sizeof(c->err), "%s: %s", path,
					    archive_error_string(a) ?
					    archive_error_string(a) : "read failed");
				(void)close(fd);
				return -1;
			}
			if (lseek(fd, (off_t)boff, SEEK_SET) < 0) {
				snprintf(c->err, sizeof(c->err), "%s: %s", path,
				    strerror(errno));
				(void)close(fd);
				return -1;
			}
			if (is_rsmf && hlen < sizeof(head) &&
			    (size_t)boff == hlen) {
				size_t take = sizeof(head) - hlen < blen ?
				    sizeof(head) - hlen : blen;

				memcpy(head + hlen, blk, take);
				hlen += take;
			}
			while (blen > 0) {
				ssize_t w = write(fd, blk, blen);

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					snprintf(c->err, sizeof(c->err), "%s: %s", path,
					    strerror(errno));
					(void)close(fd);
					return -1;
				}
				blk = (const unsigned char *)blk + w;
				blen -= (size_t)w;
			}
		}
		if (fsync(fd) != 0 || close(fd) != 0) {
			snprintf(c->err, sizeof(c->err), "%s: %s", path, strerror(errno));
			return -1;
		}
		if (is_rsmf && ex_rsmf_count(c, path, head, hlen) != 0)
			return -1;
		if (strcmp(path, "records.jsonl") == 0)
			c->have_records = 1;
		if (strcmp(path, "manifest.json") == 0)
			c->have_manifest = 1;
	}
	/* The tar ended; the container must end too, with its FINAL chunk and
	 * nothing after it. */
	while (!c->eof) {
		c->plen = 0;
		if (ex_pump(c) != 0)
			return -1;
	}
	return 0;
}

/* -- manifest check ----------------------------------------------------------------- */

static char *
ex_getline(FILE *f, char **buf, size_t *cap)
{
	ssize_t n = getline(buf, cap, f);

	if (n < 0)
		return NULL;
	if (n > 0 && (*buf)[n - 1] == '\n')
		(*buf)[n - 1] = '\0';
	return *buf;
}

static int
ex_hexfield(json_t *o, const char *key, unsigned char *out, size_t len)
{
	const char *h = json_string_value(json_object_get(o, key));

	return h != NULL && util_unhex(out, len, h, strlen(h)) == 0 ? 0 : -1;
}

/* Header checkpoints: each signature must verify under its node key. */
static int
ex_checkpoints(ex_ctx *c, json_t *head, const unsigned char tenant[16],
    unsigned long long *n_out)
{
	json_t *list = json_object_get(head, "checkpoints"), *cp;
	size_t i;

	if (!json_is_array(list)) {
		snprintf(c->err, sizeof(c->err), "manifest has no checkpoints list");
		return -1;
	}
	json_array_foreach(list, i, cp) {
		vault_checkpoint ck;
		unsigned char pk[VAULT_SIGN_PK_BYTES], sig[VAULT_SIG_BYTES];
		const char *sid = json_string_value(json_object_get(cp, "stream"));

		memset(&ck, 0, sizeof(ck));
		memcpy(ck.tenant_id, tenant, VAULT_ID_BYTES);
		if (sid == NULL || util_uuid_parse(ck.stream_id, sid) != 0 ||
		    ex_hexfield(cp, "head", ck.head, sizeof(ck.head)) != 0 ||
		    ex_hexfield(cp, "node_public_key", pk, sizeof(pk)) != 0 ||
		    ex_hexfield(cp, "signature", sig, sizeof(sig)) != 0 ||
		    !json_is_integer(json_object_get(cp, "batch_no")) ||
		    !json_is_integer(json_object_get(cp, "last_seq")) ||
		    !json_is_integer(json_object_get(cp, "signed_at_us"))) {
			snprintf(c->err, sizeof(c->err), "manifest checkpoint %zu is "
			    "malformed", i);
			return -1;
		}
		ck.batch_no = (uint64_t)json_integer_value(json_object_get(cp,
		    "batch_no"));
		ck.last_seq = (uint64_t)json_integer_value(json_object_get(cp,
		    "last_seq"));
		ck.signed_at = (int64_t)json_integer_value(json_object_get(cp,
		    "signed_at_us"));
		if (vault_checkpoint_verify(pk, &ck, sig) != 0) {
			snprintf(c->err, sizeof(c->err), "manifest checkpoint of stream "
			    "%s batch %llu: signature does not verify", sid,
			    (unsigned long long)ck.batch_no);
			return -1;
		}
	}
	*n_out = json_array_size(list);
	return 0;
}

/* The record's checkpoint must be its stream's header checkpoint. */
static int
ex_ckpt_matches(json_t *head, const char *stream, json_t *ck,
    unsigned long long seq)
{
	json_t *list = json_object_get(head, "checkpoints"), *cp;
	size_t i;

	json_array_foreach(list, i, cp) {
		const char *s = json_string_value(json_object_get(cp, "stream"));

		if (s == NULL || strcmp(s, stream) != 0)
			continue;
		return json_equal(json_object_get(cp, "batch_no"),
		    json_object_get(ck, "batch_no")) &&
		    json_equal(json_object_get(cp, "head"), json_object_get(ck, "head")) &&
		    json_equal(json_object_get(cp, "signature"),
		    json_object_get(ck, "signature")) &&
		    json_equal(json_object_get(cp, "node"), json_object_get(ck, "node")) &&
		    json_integer_value(json_object_get(cp, "last_seq")) >=
		    (json_int_t)seq ? 0 : -1;
	}
	return -1;
}

static int
ex_verify(ex_ctx *c, unsigned long long *records, unsigned long long *ckpts,
    char *matter, size_t matter_len)
{
	FILE *fm = NULL, *fr = NULL;
	char *ml = NULL, *rl = NULL, *hdrtxt = NULL;
	size_t mcap = 0, rcap = 0, hl;
	json_t *head = NULL, *m = NULL, *r = NULL;
	json_error_t je;
	unsigned char tenant[VAULT_ID_BYTES];
	unsigned long long n = 0, want;
	int fdm = -1, fdr = -1, rc = -1;

	if (!c->have_records || !c->have_manifest) {
		snprintf(c->err, sizeof(c->err), "the production lacks %s",
		    c->have_records ? "manifest.json" : "records.jsonl");
		return -1;
	}
	if ((fdm = openat(c->dfd, "manifest.json", O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || (fm = fdopen(fdm, "r")) == NULL ||
	    (fdr = openat(c->dfd, "records.jsonl", O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || (fr = fdopen(fdr, "r")) == NULL) {
		snprintf(c->err, sizeof(c->err), "cannot reopen the written files: %s",
		    strerror(errno));
		if (fm == NULL && fdm >= 0)
			(void)close(fdm);
		if (fr == NULL && fdr >= 0)
			(void)close(fdr);
		fdm = fdr = -1;
		goto out;
	}
	/* Line 1: the header object up to "records":[ */
	if (ex_getline(fm, &ml, &mcap) == NULL ||
	    (hl = strlen(ml)) < sizeof(EX_REC_OPEN) ||
	    strcmp(ml + hl - (sizeof(EX_REC_OPEN) - 1), EX_REC_OPEN) != 0 ||
	    (hdrtxt = malloc(hl + 3)) == NULL) {
		snprintf(c->err, sizeof(c->err), "manifest.json: unexpected layout");
		goto out;
	}
	memcpy(hdrtxt, ml, hl);
	memcpy(hdrtxt + hl, "]}", 3);
	head = json_loads(hdrtxt, JSON_REJECT_DUPLICATES, &je);
	if (head == NULL || !json_is_object(head) ||
	    !json_is_integer(json_object_get(head, "record_count")) ||
	    json_string_value(json_object_get(head, "tenant_id")) == NULL ||
	    util_uuid_parse(tenant, json_string_value(json_object_get(head,
	    "tenant_id"))) != 0) {
		snprintf(c->err, sizeof(c->err), "manifest.json: header is not the "
		    "expected JSON object");
		goto out;
	}
	snprintf(matter, matter_len, "%s", json_string_value(json_object_get(head,
	    "matter_id")) ? json_string_value(json_object_get(head, "matter_id")) :
	    "?");
	want = (unsigned long long)json_integer_value(json_object_get(head,
	    "record_count"));
	if (ex_checkpoints(c, head, tenant, ckpts) != 0)
		goto out;

	/* Receipts and records, in lockstep. */
	for (;;) {
		char *line = ex_getline(fm, &ml, &mcap), *rec;
		const char *stream, *leaf, *rstream, *rleaf, *receipt;
		char want_receipt[160];
		size_t len;
		json_int_t seq;

		if (line == NULL) {
			snprintf(c->err, sizeof(c->err), "manifest.json ends early");
			goto out;
		}
		if (strcmp(line, "]}") == 0)
			break;
		len = strlen(line);
		if (len > 0 && line[len - 1] == ',')
			line[--len] = '\0';
		json_decref(m);
		m = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
		stream = json_string_value(json_object_get(m, "stream"));
		leaf = json_string_value(json_object_get(m, "leaf_hash"));
		seq = json_integer_value(json_object_get(m, "seq"));
		if (m == NULL || stream == NULL || leaf == NULL || seq <= 0) {
			snprintf(c->err, sizeof(c->err), "manifest.json: receipt %llu is "
			    "malformed", n + 1);
			goto out;
		}
		if ((rec = ex_getline(fr, &rl, &rcap)) == NULL) {
			snprintf(c->err, sizeof(c->err), "records.jsonl has %llu records, "
			    "the manifest lists more", n);
			goto out;
		}
		json_decref(r);
		r = json_loads(rec, JSON_REJECT_DUPLICATES, &je);
		vault_wipe(rec, strlen(rec));
		rstream = json_string_value(json_object_get(r, "stream"));
		rleaf = json_string_value(json_object_get(r, "leaf_hash"));
		receipt = json_string_value(json_object_get(r, "receipt"));
		if (r == NULL || rstream == NULL || rleaf == NULL || receipt == NULL ||
		    !json_is_object(json_object_get(r, "record"))) {
			snprintf(c->err, sizeof(c->err), "records.jsonl: line %llu is "
			    "malformed", n + 1);
			goto out;
		}
		snprintf(want_receipt, sizeof(want_receipt), "%s:%lld:%s", stream,
		    (long long)seq, leaf);
		if (strcmp(stream, rstream) != 0 || strcmp(leaf, rleaf) != 0 ||
		    json_integer_value(json_object_get(r, "seq")) != seq ||
		    strcmp(receipt, want_receipt) != 0) {
			snprintf(c->err, sizeof(c->err), "records.jsonl line %llu is not "
			    "the record the manifest lists there (%s)", n + 1,
			    want_receipt);
			goto out;
		}
		if (!json_is_null(json_object_get(m, "checkpoint")) &&
		    ex_ckpt_matches(head, stream, json_object_get(m, "checkpoint"),
		    (unsigned long long)seq) != 0) {
			snprintf(c->err, sizeof(c->err), "manifest.json: the checkpoint of "
			    "%s does not cover it", want_receipt);
			goto out;
		}
		n++;
	}
	if (ex_getline(fr, &rl, &rcap) != NULL) {
		snprintf(c->err, sizeof(c->err), "records.jsonl has more records than "
		    "the manifest's %llu", n);
		goto out;
	}
	if (n != want) {
		snprintf(c->err, sizeof(c->err), "manifest lists %llu receipts but "
		    "says record_count %llu", n, want);
		goto out;
	}
	if (c->rsmf_events != n || (json_is_integer(json_object_get(head,
	    "rsmf_files")) && (unsigned long long)json_integer_value(
	    json_object_get(head, "rsmf_files")) != c->rsmf_files)) {
		snprintf(c->err, sizeof(c->err), "RSMF files hold %llu events in %llu "
		    "files; the manifest says %llu records", c->rsmf_events,
		    c->rsmf_files, n);
		goto out;
	}
	*records = n;
	rc = 0;
out:
	json_decref(head);
	json_decref(m);
	json_decref(r);
	free(hdrtxt);
	if (rl != NULL) {
		vault_wipe(rl, rcap);
		free(rl);
	}
	free(ml);
	if (fm != NULL)
		fclose(fm);
	if (fr != NULL)
		fclose(fr);
	return rc;
}

/* -- the verb --------------------------------------------------------------------------- */

enum { EX_OPT_IN = 1, EX_OPT_KEY, EX_OPT_OUT, EX_OPT_PASS, EX_OPT_HELP };

static const struct option ex_long[] = {
	{ "in",              required_argument, NULL, EX_OPT_IN },
	{ "key",             required_argument, NULL, EX_OPT_KEY },
	{ "out",             required_argument, NULL, EX_OPT_OUT },
	{ "passphrase-file", required_argument, NULL, EX_OPT_PASS },
	{ "help",            no_argument,       NULL, EX_OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

static int
ex_usage(const char *msg)
{
	if (msg != NULL)
		ex_fail("%s", msg);
	fputs(ex_usage_text, stderr);
	return CTL_EXIT_USAGE;
}

/* DIR must not exist (made 0700) or be an empty directory. */
static int
ex_outdir(ex_ctx *c, const char *dir)
{
	struct stat st;
	int n = 0;

	if (mkdir(dir, 0700) == 0) {
		c->made_dir = 1;
	} else if (errno != EEXIST) {
		ex_fail("%s: %s", dir, strerror(errno));
		return -1;
	}
	c->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dfd < 0 || fstat(c->dfd, &st) != 0) {
		ex_fail("%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!c->made_dir) {
		int dup_fd = dup(c->dfd);
		DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
		struct dirent *de;

		if (d == NULL) {
			if (dup_fd >= 0)
				(void)close(dup_fd);
			ex_fail("%s: %s", dir, strerror(errno));
			return -1;
		}
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				n++;
		closedir(d);
		if (n > 0) {
			ex_fail("%s is not empty; choose a new directory", dir);
			return -1;
		}
	}
	return 0;
}

int
ctl_cmd_export(int argc, char **argv)
{
	const char *in = NULL, *keyf = NULL, *out = NULL, *passf = NULL;
	unsigned char hdr[VAULT_PROD_HEADER_BYTES], theirs[VAULT_BOX_KEYID_BYTES];
	unsigned char mine[VAULT_BOX_KEYID_BYTES], *keyfile = NULL, *sk = NULL;
	char err[EX_ERR], ht[33], hm[33], matter[64], *pass = NULL;
	vault_keyfile_info info;
	struct archive *a = NULL;
	unsigned long long nrec = 0, nck = 0;
	size_t klen = 0, hlen = 0;
	ex_ctx c;
	int ch, rc = CTL_EXIT_FAIL, opened = 0;
	ssize_t got;

	memset(&c, 0, sizeof(c));
	c.in_fd = -1;
	c.dfd = -1;
	if (argc < 2 || strcmp(argv[1], "open") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)) {
			fputs(ex_usage_text, stdout);
			return CTL_EXIT_OK;
		}
		return ex_usage("the only export command is 'open'");
	}
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc - 1, argv + 1, "", ex_long, NULL)) != -1) {
		switch (ch) {
		case EX_OPT_IN:   in = optarg; break;
		case EX_OPT_KEY:  keyf = optarg; break;
		case EX_OPT_OUT:  out = optarg; break;
		case EX_OPT_PASS: passf = optarg; break;
		case EX_OPT_HELP:
			fputs(ex_usage_text, stdout);
			return CTL_EXIT_OK;
		default:
			return ex_usage("unknown option or missing value");
		}
	}
	if (optind != argc - 1)
		return ex_usage("unexpected argument");
	if (in == NULL || keyf == NULL || out == NULL)
		return ex_usage("--in, --key and --out are required");
	if (vault_init() != 0) {
		ex_fail("libsodium failed to initialise");
		return CTL_EXIT_FAIL;
	}
	json_set_alloc_funcs(ex_json_malloc, ex_json_free);

	/* Key file and container header first: a wrong key is reported
	 * before any passphrase is asked for. */
	if (util_check_secret_file(keyf, err, sizeof(err)) != 0) {
		ex_fail("%s", err);
		return CTL_EXIT_FAIL;
	}
	if (util_read_file(keyf, 4096, &keyfile, &klen, err, sizeof(err)) != 0) {
		ex_fail("%s", err);
		return CTL_EXIT_FAIL;
	}
	if (vault_keyfile_inspect(keyfile, klen, &info, err, sizeof(err)) != 0) {
		ex_fail("%s: %s", keyf, err);
		goto out;
	}
	if ((c.in_fd = open(in, O_RDONLY | O_CLOEXEC)) < 0) {
		ex_fail("%s: %s", in, strerror(errno));
		goto out;
	}
	while (hlen < sizeof(hdr)) {
		got = read(c.in_fd, hdr + hlen, sizeof(hdr) - hlen);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		hlen += (size_t)got;
	}
	if (vault_prod_header_key_id(hdr, hlen, theirs, err, sizeof(err)) != 0) {
		ex_fail("%s: %s", in, err);
		goto out;
	}
	vault_box_key_id(info.pk, mine);
	if (memcmp(theirs, mine, sizeof(mine)) != 0) {
		util_hex(ht, theirs, sizeof(theirs));
		util_hex(hm, mine, sizeof(mine));
		ex_fail("%s is sealed to a different key (production key id %s; %s "
		    "holds key id %s)", in, ht, keyf, hm);
		goto out;
	}
	if (lseek(c.in_fd, 0, SEEK_SET) != 0) {
		ex_fail("%s: %s", in, strerror(errno));
		goto out;
	}
	if ((pass = vault_secure_alloc(EX_PASS_MAX)) == NULL) {
		ex_fail("out of memory");
		goto out;
	}
	if (util_read_passphrase(passf, "Passphrase for the production key: ",
	    pass, EX_PASS_MAX, err, sizeof(err)) != 0) {
		ex_fail("%s", err);
		goto out;
	}
	if (vault_keyfile_open(keyfile, klen, pass, strlen(pass), &info, &sk, err,
	    sizeof(err)) != 0) {
		ex_fail("%s: %s", keyf, err);
		goto out;
	}
	vault_secure_free(pass);
	pass = NULL;

	c.cbuf = malloc(EX_IO);
	c.pcap = 2 * (VAULT_PROD_CHUNK_BYTES + EX_IO);
	c.pbuf = vault_secure_alloc(c.pcap);
	if (c.cbuf == NULL || c.pbuf == NULL) {
		ex_fail("out of memory");
		goto out;
	}
	if (vault_prod_reader_new(&c.rd, sk, ex_plain_sink, &c, err,
	    sizeof(err)) != 0) {
		ex_fail("%s", err);
		goto out;
	}
	vault_box_key_free(&sk);
	if (ex_outdir(&c, out) != 0)
		goto out;
	opened = 1;

	if ((a = archive_read_new()) == NULL ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open(a, &c, NULL, ex_read_cb, NULL) != ARCHIVE_OK) {
		ex_fail("%s: %s", in, c.err[0] ? c.err : (a && archive_error_string(a)
		    ? archive_error_string(a) : "cannot read the production"));
		goto out;
	}
	if (ex_extract(&c, a) != 0) {
		ex_fail("%s: %s", in, c.err);
		goto out;
	}
	if (ex_verify(&c, &nrec, &nck, matter, sizeof(matter)) != 0) {
		ex_fail("%s: manifest check failed: %s", in, c.err);
		goto out;
	}
	printf("production of matter %s opened into %s: %llu records, %llu RSMF "
	    "files; manifest verified (%llu receipts, %llu signed checkpoints)\n",
	    matter, out, nrec, c.rsmf_files, nrec, nck);
	rc = CTL_EXIT_OK;
out:
	if (a != NULL)
		archive_read_free(a);
	if (rc != CTL_EXIT_OK && opened) {
		ex_cleanup(&c, out);
		fprintf(stderr, "cofferctl: export open: nothing was kept in %s\n", out);
	}
	if (c.dfd >= 0)
		(void)close(c.dfd);
	if (c.in_fd >= 0)
		(void)close(c.in_fd);
	while (c.nfiles > 0)
		free(c.files[--c.nfiles]);
	free(c.files);
	vault_stream_reader_free(&c.rd);
	if (c.pbuf != NULL)
		vault_secure_free(c.pbuf);
	free(c.cbuf);
	vault_box_key_free(&sk);
	if (pass != NULL)
		vault_secure_free(pass);
	if (keyfile != NULL) {
		vault_wipe(keyfile, klen);
		free(keyfile);
	}
	return rc;
}
