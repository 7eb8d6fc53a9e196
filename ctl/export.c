/* ctl/export.c — `cofferctl export open`: decrypt a production locally,
 * unpack it safely, and check its manifest.
 *
 * Trusts: the legal user's key file (checked: regular file, owner, mode) and
 * passphrase.  Does not trust the production: the container must
 * authenticate chunk by chunk and end with its FINAL chunk
 * (vault/production.h); the tar inside may hold only the layout a build
 * writes — rsmf/ with *.rsmf files, attachments/, transcripts/ with
 * *.html and *.txt (names of [A-Za-z0-9._-] only), records.jsonl,
 * loadfile.csv, cover.txt, cover.html, manifest.json, manifest.sig — as plain
 * files: absolute names, "..", links, devices, FIFOs and anything else are
 * refused, and files are created with openat(O_EXCL | O_NOFOLLOW) inside a
 * directory this command made, so nothing can be written outside it.
 *
 * Nothing counts as opened until the whole container verified: files are
 * written as chunks authenticate, and if a later chunk fails, the stream
 * is truncated, or the manifest does not match, everything written is
 * removed again.
 *
 * Proof (issue 13.3; format in api/production.h).  Keys come only from the
 * node pins file (--nodes, default $COFFER_NODE_PINS), never from the
 * production.  First manifest.sig: the API node's signature over its
 * statement, which must name this container's header (BLAKE2b of its 140
 * bytes), this recipient and every other file with its size and hash (each
 * file is hashed as it is written).  Then records.jsonl and the manifest's
 * receipts list the same records in the same order; each record is
 * decrypted with its record key and compared with the delivered
 * plaintext, its leaf hash recomputed from the delivered fields, its
 * inclusion path checked to its batch's root, the batch head recomputed
 * and the batch's checkpoint verified under the pinned key of its node; a
 * record without a checkpoint, of another matter or outside the signed
 * scope (time range, channels) is refused, naming the record.  The RSMF
 * files' X-RSMF-EventCount headers add up to the record count.  The
 * manifest's "files" (issue 15.3, what the cover sheets show) must list
 * every other file with its size and SHA-256, each receipt's attachments
 * must name files of the production, and only then are the attachments
 * renamed to the names the manifest gives them (checked: the entry, '-',
 * [A-Za-z0-9._-]; renameat2 RENAME_NOREPLACE inside DIR).
 */
#include "ctl/ctl.h"
#include "ctl/export.h"

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
#include <sodium.h>

#include "common/log.h"
#include "common/pins.h"
#include "common/util.h"
#include "vault/chain.h"
#include "vault/mem.h"
#include "vault/production.h"
#include "vault/seal.h"

#define EX_ERR       512U
#define EX_PASS_MAX  1024U
#define EX_IO        65536U
#define EX_HEAD_MAX  4096U         /* RSMF header bytes kept for the count */
#define EX_LINE_MAX  (256U * 1024U * 1024U)
#define EX_NAME_MAX  255U
#define EX_REC_OPEN  "\"records\":["   /* end of the manifest's first line */
#define EX_SIG_MAX   (64U * 1024U * 1024U)   /* manifest.sig */
#define EX_CK_CACHE  64U           /* checkpoint signatures verified */
#define EX_PART      "records.jsonl."  /* + 6 digits: a part, from 000001 */

static const char ex_usage_text[] =
    "usage: cofferctl export open --in FILE --key KEYFILE --out DIR "
    "[--nodes PINS] [--passphrase-file F]\n"
    "  decrypts a production sealed to your key, proves it and writes its\n"
    "  files (cover.txt, cover.html, loadfile.csv, transcripts/, attachments/,\n"
    "  rsmf/*.rsmf, records.jsonl, manifest.json, manifest.sig) into\n"
    "  DIR, which must not exist yet or be empty.  The API's signature and\n"
    "  every gateway checkpoint are checked against the node pins file\n"
    "  (--nodes, default $COFFER_NODE_PINS), never against keys the\n"
    "  production carries\n";

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
	int                  made_sub[3];  /* ex_dirs[] made */
	/* attachments renamed to their reviewers' names once verified */
	char               **ren_from, **ren_to;
	size_t               nren;
	unsigned long long   att_files;    /* attachments/ entries extracted */
	unsigned long long   transcripts;
	char               **files;
	size_t               nfiles;
	unsigned char      (*fhash)[VAULT_HASH_BYTES];   /* of files[i] */
	unsigned char      (*fsha)[crypto_hash_sha256_BYTES]; /* SHA-256 too */
	crypto_hash_sha256_state sha;
	unsigned long long  *fsize;
	vault_hasher        *fh;
	unsigned char        hdr_hash[VAULT_HASH_BYTES];  /* container header */
	unsigned char        key_id[VAULT_BOX_KEYID_BYTES];
	const pins_nodes    *pins;
	char                 signer[PINS_NAME_MAX];
	/* checkpoints verified: message ‖ signature ‖ key */
	unsigned char        ckc[EX_CK_CACHE][VAULT_CHECKPOINT_MSG_BYTES +
	                         VAULT_SIG_BYTES + VAULT_SIGN_PK_BYTES];
	size_t               nckc, ckc_next;
	unsigned long long   ck_verified;
	/* counts */
	unsigned long long   rsmf_files;
	unsigned long long   rsmf_events;
	int                  have_records;
	int                  have_manifest;
	/* records.jsonl from its parts records.jsonl.NNNNNN (issue 17.4):
	 * appended in order, hashed as one file */
	int                  rfd;
	unsigned long        rparts;
	size_t               ridx;         /* its files[] index */
	vault_hasher        *rfh;
	crypto_hash_sha256_state rsha;
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

/* The directories a build writes, and what their files end in (issue
 * 15.3 added attachments/ and transcripts/). */
static const struct {
	const char *name;
	const char *suffix[2];
} ex_dirs[3] = {
	{ "rsmf", { ".rsmf", NULL } },
	{ "attachments", { "", NULL } },
	{ "transcripts", { ".html", ".txt" } },
};

/* A file name we made: [A-Za-z0-9._-], no leading '.', 1..127 bytes. */
static int
ex_name_ok(const char *base)
{
	size_t i;

	for (i = 0; base[i] != '\0'; i++) {
		char ch = base[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    (ch == '.' && i > 0)))
			return 0;
	}
	return i > 0 && i < 128;
}

/* N for a part of records.jsonl (EX_PART and six digits, 1..999999),
 * else 0. */
static unsigned long
ex_part_no(const char *path)
{
	const char *d = path + sizeof(EX_PART) - 1;
	unsigned long n = 0;
	size_t i;

	if (strncmp(path, EX_PART, sizeof(EX_PART) - 1) != 0 || strlen(d) != 6)
		return 0;
	for (i = 0; i < 6; i++) {
		if (d[i] < '0' || d[i] > '9')
			return 0;
		n = n * 10 + (unsigned long)(d[i] - '0');
	}
	return n;
}

/* Only what a build writes.  0 ok (*is_dir: 1 + the ex_dirs index of a
 * directory or of the file's directory, 0 at the top; *is_rsmf set), -1
 * refused with a reason in c->err. */
static int
ex_path_ok(ex_ctx *c, const char *path, int type, int *is_dir, int *is_rsmf)
{
	char shown[EX_NAME_MAX + 1];
	size_t n, i, d, l;

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
		for (d = 0; d < 3; d++) {
			l = strlen(ex_dirs[d].name);
			if (strncmp(path, ex_dirs[d].name, l) == 0 &&
			    (path[l] == '\0' || strcmp(path + l, "/") == 0)) {
				*is_dir = (int)d + 1;
				return 0;
			}
		}
		snprintf(c->err, sizeof(c->err), "unexpected directory '%s' refused",
		    shown);
		return -1;
	}
	if (strcmp(path, "records.jsonl") == 0 || ex_part_no(path) > 0 ||
	    strcmp(path, "manifest.json") == 0 ||
	    strcmp(path, "manifest.sig") == 0 ||
	    strcmp(path, "loadfile.csv") == 0 ||
	    strcmp(path, "cover.txt") == 0 || strcmp(path, "cover.html") == 0)
		return 0;
	for (d = 0; d < 3; d++) {
		l = strlen(ex_dirs[d].name);
		if (strncmp(path, ex_dirs[d].name, l) != 0 || path[l] != '/' ||
		    !ex_name_ok(path + l + 1))
			continue;
		for (i = 0; i < 2 && ex_dirs[d].suffix[i] != NULL; i++) {
			size_t sl = strlen(ex_dirs[d].suffix[i]);

			if (n > l + 1 + sl && strcmp(path + n - sl,
			    ex_dirs[d].suffix[i]) == 0) {
				/* a file, not a directory: the caller makes it */
				*is_rsmf = d == 0;
				*is_dir = -((int)d + 1);
				return 0;
			}
		}
	}
	snprintf(c->err, sizeof(c->err), "unexpected entry '%s' refused", shown);
	return -1;
}

static int
ex_remember(ex_ctx *c, const char *path)
{
	char **nf = realloc(c->files, (c->nfiles + 1) * sizeof(*nf));
	unsigned char (*nh)[VAULT_HASH_BYTES];
	unsigned long long *ns;

	if (nf == NULL)
		return -1;
	c->files = nf;
	if ((nh = realloc(c->fhash, (c->nfiles + 1) * sizeof(*nh))) == NULL)
		return -1;
	c->fhash = nh;
	{
		unsigned char (*nsh)[crypto_hash_sha256_BYTES] = realloc(c->fsha,
		    (c->nfiles + 1) * sizeof(*nsh));

		if (nsh == NULL)
			return -1;
		c->fsha = nsh;
	}
	if ((ns = realloc(c->fsize, (c->nfiles + 1) * sizeof(*ns))) == NULL)
		return -1;
	c->fsize = ns;
	if ((c->files[c->nfiles] = strdup(path)) == NULL)
		return -1;
	c->fsize[c->nfiles] = 0;
	memset(c->fhash[c->nfiles], 0, VAULT_HASH_BYTES);
	c->nfiles++;
	return 0;
}

static void
ex_cleanup(ex_ctx *c, const char *dir)
{
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		(void)unlinkat(c->dfd, c->files[i], 0);
	for (i = 0; i < 3; i++)
		if (c->made_sub[i])
			(void)unlinkat(c->dfd, ex_dirs[i].name, AT_REMOVEDIR);
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
	size_t blen, hlen, fi;
	la_int64_t boff;
	unsigned long long base;
	unsigned long part;
	vault_hasher *fh;
	crypto_hash_sha256_state *sha;
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
		if (is_dir != 0) {
			int d = (is_dir > 0 ? is_dir : -is_dir) - 1;

			if (!c->made_sub[d]) {
				if (mkdirat(c->dfd, ex_dirs[d].name, 0700) != 0) {
					snprintf(c->err, sizeof(c->err), "%s: %s",
					    ex_dirs[d].name, strerror(errno));
					return -1;
				}
				c->made_sub[d] = 1;
			}
			if (is_dir > 0)
				continue;
			if (d == 1)
				c->att_files++;
			else if (d == 2)
				c->transcripts++;
		}
		if ((part = ex_part_no(path)) > 0) {
			/* records.jsonl, one part after another: the statement
			 * and the manifest list the whole file */
			if (part != c->rparts + 1) {
				snprintf(c->err, sizeof(c->err), "%s: part %lu of "
				    "records.jsonl was expected next (a part missing, "
				    "repeated or out of order): refused", path,
				    c->rparts + 1);
				return -1;
			}
			if (part == 1) {
				c->rfd = openat(c->dfd, "records.jsonl", O_WRONLY |
				    O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
				if (c->rfd < 0) {
					snprintf(c->err, sizeof(c->err), "records.jsonl: %s",
					    errno == EEXIST ? "appears twice in the "
					    "production" : strerror(errno));
					return -1;
				}
				if (ex_remember(c, "records.jsonl") != 0) {
					snprintf(c->err, sizeof(c->err), "out of memory");
					return -1;
				}
				c->ridx = c->nfiles - 1;
				vault_hasher_reset(c->rfh);
				crypto_hash_sha256_init(&c->rsha);
			}
			c->rparts = part;
			fd = c->rfd;
			fi = c->ridx;
			fh = c->rfh;
			sha = &c->rsha;
		} else {
			if (strcmp(path, "records.jsonl") == 0 && c->rparts > 0) {
				snprintf(c->err, sizeof(c->err), "records.jsonl: appears "
				    "twice in the production");
				return -1;
			}
			fd = openat(c->dfd, path, O_WRONLY | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0600);
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
			fi = c->nfiles - 1;
			fh = c->fh;
			sha = &c->sha;
			vault_hasher_reset(fh);
			crypto_hash_sha256_init(sha);
		}
		hlen = 0;
		base = c->fsize[fi];
		for (;;) {
			rc = archive_read_data_block(a, &blk, &blen, &boff);
			if (rc == ARCHIVE_EOF)
				break;
			if (rc != ARCHIVE_OK) {
				if (c->err[0] == '\0')
					snprintf(c->err, sizeof(c->err), "%s: %s", path,
					    archive_error_string(a) ?
					    archive_error_string(a) : "read failed");
				if (part == 0)
					(void)close(fd);
				return -1;
			}
			/* Files are hashed as written: no holes. */
			if (boff < 0 || (unsigned long long)boff + base !=
			    c->fsize[fi]) {
				snprintf(c->err, sizeof(c->err), "%s: sparse entry "
				    "refused", path);
				if (part == 0)
					(void)close(fd);
				return -1;
			}
			vault_hasher_update(fh, blk, blen);
			crypto_hash_sha256_update(sha, blk, blen);
			c->fsize[fi] += blen;
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
					if (part == 0)
						(void)close(fd);
					return -1;
				}
				blk = (const unsigned char *)blk + w;
				blen -= (size_t)w;
			}
		}
		if (part > 0)
			continue;          /* records.jsonl ends with the tar */
		if (fsync(fd) != 0 || close(fd) != 0) {
			snprintf(c->err, sizeof(c->err), "%s: %s", path, strerror(errno));
			return -1;
		}
		vault_hasher_final(fh, c->fhash[fi]);
		crypto_hash_sha256_final(sha, c->fsha[fi]);
		if (is_rsmf && ex_rsmf_count(c, path, head, hlen) != 0)
			return -1;
		if (strcmp(path, "records.jsonl") == 0)
			c->have_records = 1;
		if (strcmp(path, "manifest.json") == 0)
			c->have_manifest = 1;
	}
	if (c->rparts > 0) {
		fd = c->rfd;
		c->rfd = -1;
		if (fsync(fd) != 0 || close(fd) != 0) {
			snprintf(c->err, sizeof(c->err), "records.jsonl: %s",
			    strerror(errno));
			return -1;
		}
		vault_hasher_final(c->rfh, c->fhash[c->ridx]);
		crypto_hash_sha256_final(&c->rsha, c->fsha[c->ridx]);
		c->have_records = 1;
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

/* -- proofs (issue 13.3) -------------------------------------------------------------- */

static int
ex_hexfield(json_t *o, const char *key, unsigned char *out, size_t len)
{
	const char *h = json_string_value(json_object_get(o, key));

	return h != NULL && strlen(h) == 2 * len &&
	    util_unhex(out, len, h, strlen(h)) == 0 ? 0 : -1;
}

static int
ex_u64field(json_t *o, const char *key, unsigned long long *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (unsigned long long)json_integer_value(v);
	return 0;
}

/* manifest.sig: the statement line and the signature of its exact bytes
 * by a pinned node; then the statement must name this very container,
 * this recipient, and every other file with its size and hash.  Nothing
 * the production says about keys is used. */
static int
ex_statement(ex_ctx *c, json_t **out)
{
	unsigned char *data = NULL, sig[VAULT_SIG_BYTES], h[VAULT_HASH_BYTES];
	unsigned char kid[VAULT_BOX_KEYID_BYTES];
	const unsigned char *pk;
	const char *node, *nl;
	char shown[PINS_NAME_MAX], *marks = NULL;
	json_t *st = NULL, *files, *f;
	json_error_t je;
	size_t len = 0, i, j, slen;
	int fd = -1, rc = -1;
	ssize_t got;

	*out = NULL;
	for (i = 0; i < c->nfiles; i++)
		if (strcmp(c->files[i], "manifest.sig") == 0)
			break;
	if (i == c->nfiles) {
		snprintf(c->err, sizeof(c->err), "the production is not signed (no "
		    "manifest.sig): only the API makes productions; refused");
		return -1;
	}
	if (c->fsize[i] > EX_SIG_MAX || (data = malloc((size_t)c->fsize[i] + 1))
	    == NULL || (fd = openat(c->dfd, "manifest.sig", O_RDONLY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(c->err, sizeof(c->err), "manifest.sig: cannot read it");
		goto out;
	}
	while (len < c->fsize[i]) {
		got = read(fd, data + len, (size_t)c->fsize[i] - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	nl = len > 0 ? memchr(data, '\n', len) : NULL;
	if (nl == NULL || (slen = (size_t)(nl - (const char *)data)) == 0 ||
	    len != slen + 1 + 2 * VAULT_SIG_BYTES + 1 || data[len - 1] != '\n' ||
	    util_unhex(sig, sizeof(sig), (const char *)data + slen + 1,
	    2 * VAULT_SIG_BYTES) != 0) {
		snprintf(c->err, sizeof(c->err), "manifest.sig is malformed (a "
		    "statement line and a signature line expected)");
		goto out;
	}
	st = json_loadb((const char *)data, slen, JSON_REJECT_DUPLICATES, &je);
	node = json_string_value(json_object_get(st, "node_name"));
	if (st == NULL || !json_is_object(st) || node == NULL ||
	    strcmp(json_string_value(json_object_get(st, "format")) ?
	    json_string_value(json_object_get(st, "format")) : "",
	    "coffer-production-statement-1") != 0) {
		snprintf(c->err, sizeof(c->err), "manifest.sig: the statement is not "
		    "the expected JSON object");
		goto out;
	}
	log_printable(shown, sizeof(shown), node, strlen(node));
	if ((pk = pins_nodes_find(c->pins, node)) == NULL) {
		snprintf(c->err, sizeof(c->err), "the production is signed by node "
		    "'%s', which is not pinned in %.200s: refused", shown, c->pins->path);
		goto out;
	}
	if (vault_production_verify(pk, data, slen, sig) != 0) {
		snprintf(c->err, sizeof(c->err), "the production's signature does "
		    "not verify under the pinned key of node '%s': it was not made "
		    "by the API (forged or altered)", shown);
		goto out;
	}
	snprintf(c->signer, sizeof(c->signer), "%s", shown);
	if (ex_hexfield(st, "container_header", h, sizeof(h)) != 0 ||
	    sodium_memcmp(h, c->hdr_hash, sizeof(h)) != 0) {
		snprintf(c->err, sizeof(c->err), "the signed statement is for "
		    "another container (its container_header is not this file's "
		    "header): a signed production re-sealed or altered; refused");
		goto out;
	}
	if (ex_hexfield(st, "recipient_key_id", kid, sizeof(kid)) != 0 ||
	    memcmp(kid, c->key_id, sizeof(kid)) != 0) {
		snprintf(c->err, sizeof(c->err), "the signed statement names "
		    "another recipient key: refused");
		goto out;
	}
	files = json_object_get(st, "files");
	if (!json_is_array(files) ||
	    (marks = calloc(c->nfiles + 1, 1)) == NULL) {
		snprintf(c->err, sizeof(c->err), "manifest.sig: the statement has "
		    "no files list");
		goto out;
	}
	json_array_foreach(files, j, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		unsigned long long size;

		if (name == NULL || ex_u64field(f, "size", &size) != 0 ||
		    ex_hexfield(f, "blake2b", h, sizeof(h)) != 0) {
			snprintf(c->err, sizeof(c->err), "manifest.sig: file %zu of the "
			    "statement is malformed", j);
			goto out;
		}
		for (i = 0; i < c->nfiles; i++)
			if (strcmp(c->files[i], name) == 0)
				break;
		log_printable(shown, sizeof(shown), name, strlen(name));
		if (i == c->nfiles || strcmp(name, "manifest.sig") == 0 || marks[i]) {
			snprintf(c->err, sizeof(c->err), "%s is listed in the signed "
			    "statement but missing from the production", shown);
			goto out;
		}
		marks[i] = 1;
		if (c->fsize[i] != size ||
		    sodium_memcmp(c->fhash[i], h, sizeof(h)) != 0) {
			snprintf(c->err, sizeof(c->err), "%s differs from the signed "
			    "statement (altered)", shown);
			goto out;
		}
	}
	for (i = 0; i < c->nfiles; i++)
		if (!marks[i] && strcmp(c->files[i], "manifest.sig") != 0) {
			log_printable(shown, sizeof(shown), c->files[i],
			    strlen(c->files[i]));
			snprintf(c->err, sizeof(c->err), "%s is not in the signed "
			    "statement (added)", shown);
			goto out;
		}
	*out = st;
	st = NULL;
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	free(marks);
	free(data);
	json_decref(st);
	return rc;
}

/* A checkpoint object against the pinned key of the node it names.  0, or
 * -1 with why in c->err (prefixed by what). */
static int
ex_ckpt_verify(ex_ctx *c, json_t *ck, const unsigned char tenant[VAULT_ID_BYTES],
    const unsigned char stream[VAULT_ID_BYTES], const char *what)
{
	vault_checkpoint cp;
	unsigned char sig[VAULT_SIG_BYTES], key[VAULT_CHECKPOINT_MSG_BYTES +
	    VAULT_SIG_BYTES + VAULT_SIGN_PK_BYTES];
	unsigned long long bn, ls, at;
	const unsigned char *pk;
	const char *node = json_string_value(json_object_get(ck, "node_name"));
	char shown[PINS_NAME_MAX];
	json_t *sa = json_object_get(ck, "signed_at_us");
	size_t i;

	memset(&cp, 0, sizeof(cp));
	if (node == NULL || ex_u64field(ck, "batch_no", &bn) != 0 ||
	    ex_u64field(ck, "last_seq", &ls) != 0 || !json_is_integer(sa) ||
	    ex_hexfield(ck, "head", cp.head, sizeof(cp.head)) != 0 ||
	    ex_hexfield(ck, "signature", sig, sizeof(sig)) != 0) {
		snprintf(c->err, sizeof(c->err), "%s: its checkpoint is malformed",
		    what);
		return -1;
	}
	at = (unsigned long long)json_integer_value(sa);
	memcpy(cp.tenant_id, tenant, VAULT_ID_BYTES);
	memcpy(cp.stream_id, stream, VAULT_ID_BYTES);
	cp.batch_no = bn;
	cp.last_seq = ls;
	cp.signed_at = (int64_t)at;
	log_printable(shown, sizeof(shown), node, strlen(node));
	if ((pk = pins_nodes_find(c->pins, node)) == NULL) {
		snprintf(c->err, sizeof(c->err), "%s: its checkpoint is signed by "
		    "node '%s', which is not pinned in %.200s", what, shown,
		    c->pins->path);
		return -1;
	}
	/* Records of one batch share its checkpoint: the exact message,
	 * signature and key verified before need no second verification. */
	vault_checkpoint_encode(&cp, key);
	memcpy(key + VAULT_CHECKPOINT_MSG_BYTES, sig, VAULT_SIG_BYTES);
	memcpy(key + VAULT_CHECKPOINT_MSG_BYTES + VAULT_SIG_BYTES, pk,
	    VAULT_SIGN_PK_BYTES);
	for (i = 0; i < c->nckc; i++)
		if (memcmp(c->ckc[i], key, sizeof(key)) == 0)
			return 0;
	if (vault_checkpoint_verify(pk, &cp, sig) != 0) {
		snprintf(c->err, sizeof(c->err), "%s: the checkpoint of batch %llu "
		    "does not verify under the pinned key of node '%s' "
		    "(substituted node key or forged checkpoint)", what, bn, shown);
		return -1;
	}
	memcpy(c->ckc[c->ckc_next], key, sizeof(key));
	c->ckc_next = (c->ckc_next + 1) % EX_CK_CACHE;
	if (c->nckc < EX_CK_CACHE)
		c->nckc++;
	c->ck_verified++;
	return 0;
}

/* Header checkpoints (the latest of each stream): pinned keys only. */
static int
ex_checkpoints(ex_ctx *c, json_t *head, const unsigned char tenant[16],
    unsigned long long *n_out)
{
	json_t *list = json_object_get(head, "checkpoints"), *cp;
	unsigned char stream[VAULT_ID_BYTES];
	char what[96];
	size_t i;

	if (!json_is_array(list)) {
		snprintf(c->err, sizeof(c->err), "manifest has no checkpoints list");
		return -1;
	}
	json_array_foreach(list, i, cp) {
		const char *sid = json_string_value(json_object_get(cp, "stream"));

		if (sid == NULL || util_uuid_parse(stream, sid) != 0) {
			snprintf(c->err, sizeof(c->err), "manifest checkpoint %zu is "
			    "malformed", i);
			return -1;
		}
		snprintf(what, sizeof(what), "manifest checkpoint of stream %s", sid);
		if (ex_ckpt_verify(c, cp, tenant, stream, what) != 0)
			return -1;
	}
	*n_out = json_array_size(list);
	return 0;
}

/* One records.jsonl line: decrypt with its record key and compare with the
 * delivered plaintext, recompute its leaf hash from the delivered fields,
 * its inclusion in the batch's Merkle root, the batch's chain head, and
 * the head's checkpoint under a pinned node key; and it must lie in the
 * signed matter's scope.  -1 with c->err naming the record. */
static int
ex_record_proof(ex_ctx *c, json_t *r, const char *rid, json_t *head,
    const unsigned char tenant[VAULT_ID_BYTES], const char *matter)
{
	vault_leaf lf;
	vault_record_ad ad;
	json_t *pr, *bt, *ck, *parts, *v, *scope, *chans, *pt = NULL;
	json_error_t je;
	unsigned char rk[VAULT_RECORD_KEY_BYTES], lh[VAULT_HASH_BYTES];
	unsigned char want[VAULT_HASH_BYTES], root[VAULT_HASH_BYTES];
	unsigned char prev[VAULT_HASH_BYTES], hd[VAULT_HASH_BYTES];
	unsigned char conv[VAULT_TOKEN_BYTES], *tok = NULL, *ct = NULL;
	unsigned char *path = NULL, *plain = NULL;
	unsigned long long seq, bn, fs, ls, idx, cnt, sc, rbn, ckb, ckl;
	const char *s, *b64, *mid, *chan;
	size_t i, np, ct_len = 0, plen = 0, pathn, b64len;
	long long recv_us, sent_us;
	int rc = -1;

	memset(&lf, 0, sizeof(lf));
	memset(&ad, 0, sizeof(ad));
	mid = json_string_value(json_object_get(r, "matter_id"));
	if (mid == NULL || strcmp(mid, matter) != 0) {
		snprintf(c->err, sizeof(c->err), "record %s belongs to matter %.40s, "
		    "not this production's %s (moved from another production)", rid,
		    mid ? mid : "(none)", matter);
		return -1;
	}
	pr = json_object_get(r, "proof");
	bt = json_object_get(pr, "batch");
	ck = json_object_get(pr, "checkpoint");
	parts = json_object_get(r, "participants");
	chan = json_string_value(json_object_get(r, "channel"));
	b64 = json_string_value(json_object_get(r, "ciphertext"));
	s = json_string_value(json_object_get(r, "stream"));
	if (s == NULL || util_uuid_parse(lf.stream_id, s) != 0 ||
	    ex_u64field(r, "seq", &seq) != 0 ||
	    ex_u64field(r, "batch_no", &rbn) != 0 ||
	    (s = json_string_value(json_object_get(r, "epoch_id"))) == NULL ||
	    util_uuid_parse(lf.epoch_id, s) != 0 ||
	    !json_is_integer(json_object_get(r, "received_at_us")) ||
	    !json_is_integer(json_object_get(r, "sent_at_us")) ||
	    chan == NULL || ex_u64field(r, "size_class", &sc) != 0 || sc > 255 ||
	    !json_is_array(parts) ||
	    ex_hexfield(r, "dedup", lf.dedup, sizeof(lf.dedup)) != 0 ||
	    ex_hexfield(r, "nonce", lf.nonce, sizeof(lf.nonce)) != 0 ||
	    b64 == NULL || ex_hexfield(r, "record_key", rk, sizeof(rk)) != 0 ||
	    ex_hexfield(r, "leaf_hash", want, sizeof(want)) != 0 ||
	    !json_is_object(pr) || !json_is_object(bt) ||
	    ex_u64field(pr, "leaf_index", &idx) != 0 ||
	    ex_u64field(pr, "leaf_count", &cnt) != 0 ||
	    !json_is_array(json_object_get(pr, "path")) ||
	    ex_u64field(bt, "batch_no", &bn) != 0 ||
	    ex_u64field(bt, "first_seq", &fs) != 0 ||
	    ex_u64field(bt, "last_seq", &ls) != 0 ||
	    ex_hexfield(bt, "prev_head", prev, sizeof(prev)) != 0 ||
	    ex_hexfield(bt, "root", root, sizeof(root)) != 0) {
		snprintf(c->err, sizeof(c->err), "record %s: its proof fields are "
		    "missing or malformed", rid);
		goto out;
	}
	recv_us = (long long)json_integer_value(json_object_get(r, "received_at_us"));
	sent_us = (long long)json_integer_value(json_object_get(r, "sent_at_us"));
	v = json_object_get(r, "conversation");
	if (!json_is_null(v) && ex_hexfield(r, "conversation", conv,
	    sizeof(conv)) != 0) {
		snprintf(c->err, sizeof(c->err), "record %s: its proof fields are "
		    "missing or malformed", rid);
		goto out;
	}
	/* the signed matter's scope: time range and channels */
	scope = json_object_get(head, "scope");
	chans = json_object_get(scope, "channels");
	if ((json_is_integer(json_object_get(scope, "from_us")) && sent_us <
	    json_integer_value(json_object_get(scope, "from_us"))) ||
	    (json_is_integer(json_object_get(scope, "to_us")) && sent_us >
	    json_integer_value(json_object_get(scope, "to_us")))) {
		snprintf(c->err, sizeof(c->err), "record %s was sent outside the "
		    "matter's time range (moved from another production?)", rid);
		goto out;
	}
	if (json_is_array(chans) && json_array_size(chans) > 0) {
		json_array_foreach(chans, i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), chan) == 0)
				break;
		if (i == json_array_size(chans)) {
			snprintf(c->err, sizeof(c->err), "record %s is on a channel "
			    "outside the matter's scope (moved from another "
			    "production?)", rid);
			goto out;
		}
	}
	/* decrypt with the record key: the plaintext must be the delivered one */
	b64len = strlen(b64);
	if ((ct = malloc(b64len / 4 * 3 + 3)) == NULL ||
	    sodium_base642bin(ct, b64len / 4 * 3 + 3, b64, b64len, NULL, &ct_len,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    ct_len < VAULT_SEAL_OVERHEAD) {
		snprintf(c->err, sizeof(c->err), "record %s: its ciphertext is not "
		    "base64", rid);
		goto out;
	}
	memcpy(ad.tenant_id, tenant, VAULT_ID_BYTES);
	memcpy(ad.stream_id, lf.stream_id, VAULT_ID_BYTES);
	memcpy(ad.epoch_id, lf.epoch_id, VAULT_ID_BYTES);
	ad.version = VAULT_RECORD_V1;
	ad.seq = seq;
	ad.received_at = recv_us;
	if ((plain = vault_secure_alloc(ct_len)) == NULL) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		goto out;
	}
	if (vault_open_record(rk, &ad, lf.nonce, ct, ct_len, plain, ct_len,
	    &plen) != 0) {
		snprintf(c->err, sizeof(c->err), "record %s: its ciphertext does not "
		    "open under its record key and receipt fields (altered)", rid);
		goto out;
	}
	pt = json_loadb((const char *)plain, plen, 0, &je);
	if (pt == NULL || !json_equal(pt, json_object_get(r, "record"))) {
		snprintf(c->err, sizeof(c->err), "record %s: the delivered plaintext "
		    "is not what its ciphertext holds (altered plaintext)", rid);
		goto out;
	}
	/* leaf hash from the delivered fields */
	np = json_array_size(parts);
	if (np > 0 && (tok = malloc(np * VAULT_TOKEN_BYTES)) == NULL) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		goto out;
	}
	json_array_foreach(parts, i, v) {
		const char *th = json_string_value(v);

		if (th == NULL || strlen(th) != 2 * VAULT_TOKEN_BYTES ||
		    util_unhex(tok + i * VAULT_TOKEN_BYTES, VAULT_TOKEN_BYTES, th,
		    strlen(th)) != 0) {
			snprintf(c->err, sizeof(c->err), "record %s: its proof fields "
			    "are missing or malformed", rid);
			goto out;
		}
	}
	memcpy(lf.tenant_id, tenant, VAULT_ID_BYTES);
	lf.seq = seq;
	lf.received_at = recv_us;
	lf.sent_at = sent_us;
	lf.channel = chan;
	lf.channel_len = strlen(chan);
	lf.size_class = (uint8_t)sc;
	lf.participants = tok;
	lf.participant_count = np;
	lf.conversation = json_is_null(json_object_get(r, "conversation")) ?
	    NULL : conv;
	lf.ciphertext = ct;
	lf.ciphertext_len = ct_len;
	if (vault_leaf_hash(&lf, lh) != 0 || memcmp(lh, want, sizeof(lh)) != 0) {
		snprintf(c->err, sizeof(c->err), "record %s: the leaf hash recomputed "
		    "from the delivered fields differs from its leaf_hash (altered)",
		    rid);
		goto out;
	}
	/* inclusion in the batch, then the batch's head */
	pathn = json_array_size(json_object_get(pr, "path"));
	if (bn != rbn || ls < fs || seq < fs || seq > ls || idx != seq - fs ||
	    cnt != ls - fs + 1 || pathn > VAULT_MERKLE_PATH_MAX) {
		snprintf(c->err, sizeof(c->err), "record %s: its proof is for another "
		    "position or batch", rid);
		goto out;
	}
	if (pathn > 0 && (path = malloc(pathn * VAULT_HASH_BYTES)) == NULL) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		goto out;
	}
	json_array_foreach(json_object_get(pr, "path"), i, v) {
		const char *ph = json_string_value(v);

		if (ph == NULL || strlen(ph) != 2 * VAULT_HASH_BYTES ||
		    util_unhex(path + i * VAULT_HASH_BYTES, VAULT_HASH_BYTES, ph,
		    strlen(ph)) != 0) {
			snprintf(c->err, sizeof(c->err), "record %s: its proof fields "
			    "are missing or malformed", rid);
			goto out;
		}
	}
	if (vault_merkle_verify(lh, idx, cnt, path, pathn, root) != 0) {
		snprintf(c->err, sizeof(c->err), "record %s: its inclusion proof does "
		    "not lead to batch %llu's Merkle root", rid, bn);
		goto out;
	}
	if (json_is_null(ck) || ck == NULL) {
		snprintf(c->err, sizeof(c->err), "record %s has no covering "
		    "checkpoint: refused (a record counts only under a signed "
		    "gateway checkpoint)", rid);
		goto out;
	}
	if (vault_chain_next(tenant, lf.stream_id, bn, fs, ls, prev, root, hd) != 0 ||
	    ex_hexfield(ck, "head", want, sizeof(want)) != 0 ||
	    ex_u64field(ck, "batch_no", &ckb) != 0 ||
	    ex_u64field(ck, "last_seq", &ckl) != 0 ||
	    ckb != bn || ckl != ls || memcmp(hd, want, sizeof(hd)) != 0) {
		snprintf(c->err, sizeof(c->err), "record %s: batch %llu's chain head, "
		    "recomputed from its root, is not the head its checkpoint signs",
		    rid, bn);
		goto out;
	}
	{
		char what[160];

		snprintf(what, sizeof(what), "record %s", rid);
		if (ex_ckpt_verify(c, ck, tenant, lf.stream_id, what) != 0)
			goto out;
	}
	rc = 0;
out:
	vault_wipe(rk, sizeof(rk));
	if (plain != NULL)
		vault_secure_free(plain);
	json_decref(pt);
	free(ct);
	free(tok);
	free(path);
	return rc;
}

/* -- review files (issue 15.3) ------------------------------------------------------ */

static long
ex_file_index(const ex_ctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		if (strcmp(c->files[i], name) == 0)
			return (long)i;
	return -1;
}

/* A receipt's "attachments": each names a file of the production (entry,
 * attachments/<control>-<nn>) and the name it gets on disk (file: the
 * entry, '-', a name of [A-Za-z0-9._-]), renamed once all verified. */
static int
ex_attachments(ex_ctx *c, json_t *m, const char *rid)
{
	json_t *list = json_object_get(m, "attachments"), *a;
	size_t i, el;
	char **nf, **nt;

	if (!json_is_array(list)) {
		snprintf(c->err, sizeof(c->err), "record %s: the manifest lists no "
		    "attachments array (a production built before issue 15.3: "
		    "build it again)", rid);
		return -1;
	}
	json_array_foreach(list, i, a) {
		const char *entry = json_string_value(json_object_get(a, "entry"));
		const char *file = json_string_value(json_object_get(a, "file"));

		if (entry == NULL || file == NULL ||
		    strncmp(entry, "attachments/", 12) != 0 ||
		    !ex_name_ok(entry + 12) || (el = strlen(entry)) >= strlen(file) ||
		    strncmp(file, entry, el) != 0 || file[el] != '-' ||
		    !ex_name_ok(file + 12)) {
			snprintf(c->err, sizeof(c->err), "record %s: attachment %zu "
			    "has an unsafe or malformed file name in the manifest",
			    rid, i + 1);
			return -1;
		}
		if (ex_file_index(c, entry) < 0) {
			snprintf(c->err, sizeof(c->err), "record %s: attachment %zu "
			    "(%s) is not in the production", rid, i + 1, entry);
			return -1;
		}
		if ((nf = realloc(c->ren_from, (c->nren + 1) * sizeof(*nf))) == NULL)
			goto oom;
		c->ren_from = nf;
		if ((nt = realloc(c->ren_to, (c->nren + 1) * sizeof(*nt))) == NULL)
			goto oom;
		c->ren_to = nt;
		c->ren_from[c->nren] = strdup(entry);
		c->ren_to[c->nren] = strdup(file);
		c->nren++;
		if (c->ren_from[c->nren - 1] == NULL || c->ren_to[c->nren - 1] == NULL)
			goto oom;
	}
	return 0;
oom:
	snprintf(c->err, sizeof(c->err), "out of memory");
	return -1;
}

/* The manifest's "files" (issue 15.3: what the cover sheets show) must be
 * every file before manifest.json with its size and SHA-256, and the
 * review files must be there: the signed statement proved the bytes, this
 * proves what reviewers are told about them. */
static int
ex_review_files(ex_ctx *c, json_t *head)
{
	json_t *files = json_object_get(head, "files"), *f;
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	static const char *const need[] = { "loadfile.csv", "cover.txt",
	    "cover.html" };
	size_t i, listed = 0;
	unsigned char *seen = NULL;
	long k;
	int rc = -1;

	if (!json_is_array(files)) {
		snprintf(c->err, sizeof(c->err), "manifest.json lists no files with "
		    "their SHA-256 (a production built before issue 15.3: build it "
		    "again)");
		return -1;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (ex_file_index(c, need[i]) < 0) {
			snprintf(c->err, sizeof(c->err), "the production lacks %s",
			    need[i]);
			return -1;
		}
	if ((seen = calloc(c->nfiles + 1, 1)) == NULL) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		return -1;
	}
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));

		if (name == NULL || sha == NULL ||
		    (k = ex_file_index(c, name)) < 0 || seen[k]++ != 0 ||
		    strcmp(name, "manifest.json") == 0 ||
		    strcmp(name, "manifest.sig") == 0) {
			snprintf(c->err, sizeof(c->err), "manifest.json lists a file "
			    "the production does not hold, or one twice (entry %zu)",
			    i + 1);
			goto out;
		}
		util_hex(hex, c->fsha[k], crypto_hash_sha256_BYTES);
		if (strcmp(hex, sha) != 0 || !json_is_integer(json_object_get(f,
		    "size")) || (unsigned long long)json_integer_value(
		    json_object_get(f, "size")) != c->fsize[k]) {
			snprintf(c->err, sizeof(c->err), "%s: its SHA-256 or size is "
			    "not what manifest.json lists (altered); refused",
			    c->files[k]);
			goto out;
		}
		listed++;
	}
	/* every file but manifest.json and manifest.sig, once */
	if (listed + 2 != c->nfiles) {
		snprintf(c->err, sizeof(c->err), "manifest.json lists %zu files with "
		    "their SHA-256; the production holds %zu besides the manifest "
		    "and its signature", listed, c->nfiles - 2);
		goto out;
	}
	if (c->nren != c->att_files) {
		snprintf(c->err, sizeof(c->err), "the manifest names %zu attachment "
		    "files; the production holds %llu", c->nren, c->att_files);
		goto out;
	}
	rc = 0;
out:
	free(seen);
	return rc;
}

/* After everything verified: attachments under their reviewers' names. */
static int
ex_rename_attachments(ex_ctx *c)
{
	size_t i;
	long k;

	for (i = 0; i < c->nren; i++) {
		char *to;

		if ((k = ex_file_index(c, c->ren_from[i])) < 0 ||
		    (to = strdup(c->ren_to[i])) == NULL) {
			snprintf(c->err, sizeof(c->err), "out of memory");
			return -1;
		}
		/* RENAME_NOREPLACE: a name taken twice is an error, never a
		 * silent overwrite */
		if (renameat2(c->dfd, c->ren_from[i], c->dfd, to,
		    RENAME_NOREPLACE) != 0) {
			snprintf(c->err, sizeof(c->err), "%s: %s", to, strerror(errno));
			free(to);
			return -1;
		}
		free(c->files[k]);
		c->files[k] = to;
	}
	return 0;
}

static int
ex_verify(ex_ctx *c, unsigned long long *records, unsigned long long *ckpts,
    char *matter, size_t matter_len)
{
	FILE *fm = NULL, *fr = NULL;
	char *ml = NULL, *rl = NULL, *hdrtxt = NULL;
	size_t mcap = 0, rcap = 0, hl;
	json_t *head = NULL, *m = NULL, *r = NULL, *stmt = NULL;
	json_error_t je;
	unsigned char tenant[VAULT_ID_BYTES];
	unsigned long long n = 0, want;
	int fdm = -1, fdr = -1, rc = -1;

	if (ex_statement(c, &stmt) != 0)
		return -1;
	if (!c->have_records || !c->have_manifest) {
		snprintf(c->err, sizeof(c->err), "the production lacks %s",
		    c->have_records ? "manifest.json" : "records.jsonl");
		goto out;
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
	if (!json_equal(json_object_get(head, "tenant_id"),
	    json_object_get(stmt, "tenant_id")) ||
	    !json_equal(json_object_get(head, "matter_id"),
	    json_object_get(stmt, "matter_id")) ||
	    !json_equal(json_object_get(head, "record_count"),
	    json_object_get(stmt, "record_count"))) {
		snprintf(c->err, sizeof(c->err), "manifest.json's tenant, matter or "
		    "record count is not the signed statement's");
		goto out;
	}
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
		{
			char rid[UTIL_UUID_STRLEN + 24];

			snprintf(rid, sizeof(rid), "%s:%lld", stream, (long long)seq);
			if (!json_equal(json_object_get(m, "checkpoint"),
			    json_object_get(json_object_get(r, "proof"),
			    "checkpoint")) || !json_equal(json_object_get(m,
			    "batch_no"), json_object_get(r, "batch_no"))) {
				snprintf(c->err, sizeof(c->err), "record %s: the manifest's "
				    "checkpoint is not the one its proof carries", rid);
				goto out;
			}
			if (ex_record_proof(c, r, rid, head, tenant, matter) != 0 ||
			    ex_attachments(c, m, rid) != 0)
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
	if (ex_review_files(c, head) != 0)
		goto out;
	*records = n;
	rc = 0;
out:
	json_decref(stmt);
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

enum { EX_OPT_IN = 1, EX_OPT_KEY, EX_OPT_OUT, EX_OPT_PASS, EX_OPT_NODES,
       EX_OPT_HELP };

static const struct option ex_long[] = {
	{ "in",              required_argument, NULL, EX_OPT_IN },
	{ "key",             required_argument, NULL, EX_OPT_KEY },
	{ "out",             required_argument, NULL, EX_OPT_OUT },
	{ "passphrase-file", required_argument, NULL, EX_OPT_PASS },
	{ "nodes",           required_argument, NULL, EX_OPT_NODES },
	{ "help",            no_argument,       NULL, EX_OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* DIR must not exist (made 0700) or be an empty directory. */
static int
ex_outdir(ex_ctx *c, const char *dir)
{
	struct stat st;
	int n = 0;

	if (mkdir(dir, 0700) == 0) {
		c->made_dir = 1;
	} else if (errno != EEXIST) {
		ctl_fail("export open: %s: %s", dir, strerror(errno));
		return -1;
	}
	c->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dfd < 0 || fstat(c->dfd, &st) != 0) {
		ctl_fail("export open: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!c->made_dir) {
		int dup_fd = dup(c->dfd);
		DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
		struct dirent *de;

		if (d == NULL) {
			if (dup_fd >= 0)
				(void)close(dup_fd);
			ctl_fail("export open: %s: %s", dir, strerror(errno));
			return -1;
		}
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				n++;
		closedir(d);
		if (n > 0) {
			ctl_fail("export open: %s is not empty; choose a new "
			    "directory", dir);
			return -1;
		}
	}
	return 0;
}

int
ctl_cmd_export(int argc, char **argv)
{
	const char *in = NULL, *keyf = NULL, *out = NULL, *passf = NULL;
	const char *nodes = NULL;
	struct export_opts eo;
	int ch;

	if (argc < 2 || strcmp(argv[1], "open") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)) {
			fputs(ex_usage_text, stdout);
			return CTL_EXIT_OK;
		}
		return ctl_usage(ex_usage_text, "export open: the only export "
		    "command is 'open'");
	}
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc - 1, argv + 1, "", ex_long, NULL)) != -1) {
		switch (ch) {
		case EX_OPT_IN:   in = optarg; break;
		case EX_OPT_KEY:  keyf = optarg; break;
		case EX_OPT_OUT:  out = optarg; break;
		case EX_OPT_PASS: passf = optarg; break;
		case EX_OPT_NODES: nodes = optarg; break;
		case EX_OPT_HELP:
			fputs(ex_usage_text, stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage(ex_usage_text, "export open: unknown "
			    "option or missing value");
		}
	}
	if (optind != argc - 1)
		return ctl_usage(ex_usage_text, "export open: unexpected "
		    "argument");
	if (in == NULL || keyf == NULL || out == NULL)
		return ctl_usage(ex_usage_text, "export open: --in, --key and "
		    "--out are required");
	if (nodes == NULL || nodes[0] == '\0')
		nodes = getenv("COFFER_NODE_PINS");
	if (nodes == NULL || nodes[0] == '\0')
		return ctl_usage(ex_usage_text, "export open: --nodes PINS (or "
		    "COFFER_NODE_PINS) is required: the "
		    "production's signatures are checked against pinned node keys "
		    "only");
	eo.in = in;
	eo.key = keyf;
	eo.out = out;
	eo.passfile = passf;
	eo.nodes = nodes;
	return ctl_export_open(&eo);
}

int
ctl_export_open(const struct export_opts *o)
{
	const char *in = o->in, *keyf = o->key, *out = o->out;
	const char *passf = o->passfile, *nodes = o->nodes;
	pins_nodes *pins = NULL;
	unsigned char hdr[VAULT_PROD_HEADER_BYTES], theirs[VAULT_BOX_KEYID_BYTES];
	unsigned char mine[VAULT_BOX_KEYID_BYTES], *keyfile = NULL, *sk = NULL;
	char err[EX_ERR], ht[33], hm[33], matter[64], *pass = NULL;
	vault_keyfile_info info;
	struct archive *a = NULL;
	unsigned long long nrec = 0, nck = 0;
	size_t klen = 0, hlen = 0;
	ex_ctx c;
	int rc = CTL_EXIT_FAIL, opened = 0;
	ssize_t got;

	memset(&c, 0, sizeof(c));
	c.in_fd = -1;
	c.dfd = -1;
	c.rfd = -1;
	if (nodes == NULL || nodes[0] == '\0')
		nodes = getenv("COFFER_NODE_PINS");
	if (in == NULL || keyf == NULL || out == NULL || nodes == NULL ||
	    nodes[0] == '\0') {
		ctl_fail("export open: --in, --key, --out and --nodes are required");
		return CTL_EXIT_FAIL;
	}
	if (vault_init() != 0) {
		ctl_fail("export open: libsodium failed to initialise");
		return CTL_EXIT_FAIL;
	}
	json_set_alloc_funcs(ex_json_malloc, ex_json_free);
	if (pins_nodes_load(nodes, &pins, err, sizeof(err)) != 0) {
		ctl_fail("export open: %s", err);
		return CTL_EXIT_FAIL;
	}
	c.pins = pins;

	/* Key file and container header first: a wrong key is reported
	 * before any passphrase is asked for. */
	if (util_check_secret_file(keyf, err, sizeof(err)) != 0) {
		ctl_fail("export open: %s", err);
		return CTL_EXIT_FAIL;
	}
	if (util_read_file(keyf, 4096, &keyfile, &klen, err, sizeof(err)) != 0) {
		ctl_fail("export open: %s", err);
		return CTL_EXIT_FAIL;
	}
	if (vault_keyfile_inspect(keyfile, klen, &info, err, sizeof(err)) != 0) {
		ctl_fail("export open: %s: %s", keyf, err);
		goto out;
	}
	if ((c.in_fd = open(in, O_RDONLY | O_CLOEXEC)) < 0) {
		ctl_fail("export open: %s: %s", in, strerror(errno));
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
		ctl_fail("export open: %s: %s", in, err);
		goto out;
	}
	vault_box_key_id(info.pk, mine);
	memcpy(c.key_id, mine, sizeof(mine));
	if (hlen == sizeof(hdr)) {
		vault_hasher *hh = NULL;

		if (vault_hasher_new(&hh) != 0) {
			ctl_fail("export open: out of memory");
			goto out;
		}
		vault_hasher_update(hh, hdr, sizeof(hdr));
		vault_hasher_final(hh, c.hdr_hash);
		vault_hasher_free(&hh);
	}
	if (memcmp(theirs, mine, sizeof(mine)) != 0) {
		util_hex(ht, theirs, sizeof(theirs));
		util_hex(hm, mine, sizeof(mine));
		ctl_fail("export open: %s is sealed to a different key "
		    "(production key id %s; %s "
		    "holds key id %s)", in, ht, keyf, hm);
		goto out;
	}
	if (lseek(c.in_fd, 0, SEEK_SET) != 0) {
		ctl_fail("export open: %s: %s", in, strerror(errno));
		goto out;
	}
	if ((pass = vault_secure_alloc(EX_PASS_MAX)) == NULL) {
		ctl_fail("export open: out of memory");
		goto out;
	}
	if (util_read_passphrase(passf, "Passphrase for the production key: ",
	    pass, EX_PASS_MAX, err, sizeof(err)) != 0) {
		ctl_fail("export open: %s", err);
		goto out;
	}
	if (vault_keyfile_open(keyfile, klen, pass, strlen(pass), &info, &sk, err,
	    sizeof(err)) != 0) {
		ctl_fail("export open: %s: %s", keyf, err);
		goto out;
	}
	vault_secure_free(pass);
	pass = NULL;

	if (vault_hasher_new(&c.fh) != 0 || vault_hasher_new(&c.rfh) != 0) {
		ctl_fail("export open: out of memory");
		goto out;
	}
	c.cbuf = malloc(EX_IO);
	c.pcap = 2 * (VAULT_PROD_CHUNK_BYTES + EX_IO);
	c.pbuf = vault_secure_alloc(c.pcap);
	if (c.cbuf == NULL || c.pbuf == NULL) {
		ctl_fail("export open: out of memory");
		goto out;
	}
	if (vault_prod_reader_new(&c.rd, sk, ex_plain_sink, &c, err,
	    sizeof(err)) != 0) {
		ctl_fail("export open: %s", err);
		goto out;
	}
	vault_box_key_free(&sk);
	if (ex_outdir(&c, out) != 0)
		goto out;
	opened = 1;

	if ((a = archive_read_new()) == NULL ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open(a, &c, NULL, ex_read_cb, NULL) != ARCHIVE_OK) {
		ctl_fail("export open: %s: "
		    "%s", in, c.err[0] ? c.err : (a && archive_error_string(a)
		    ? archive_error_string(a) : "cannot read the production"));
		goto out;
	}
	if (ex_extract(&c, a) != 0) {
		ctl_fail("export open: %s: %s", in, c.err);
		goto out;
	}
	if (ex_verify(&c, &nrec, &nck, matter, sizeof(matter)) != 0) {
		ctl_fail("export open: %s: manifest check failed: "
		    "%s", in, c.err);
		goto out;
	}
	if (ex_rename_attachments(&c) != 0) {
		ctl_fail("export open: %s: %s", in, c.err);
		goto out;
	}
	printf("production of matter %s opened into %s: %llu records, %llu RSMF "
	    "files; manifest verified: signed by API node %s (pinned), every "
	    "file as signed; %llu records proved (plaintext re-decrypted, leaf "
	    "hashes and inclusion proofs recomputed, batch heads recomputed), "
	    "%llu checkpoint signatures verified against pinned node keys (%llu "
	    "stream heads)\n", matter, out, nrec, c.rsmf_files, c.signer, nrec,
	    c.ck_verified, nck);
	rc = CTL_EXIT_OK;
out:
	if (a != NULL)
		archive_read_free(a);
	if (rc != CTL_EXIT_OK && opened) {
		ex_cleanup(&c, out);
		ctl_fail("export open: nothing was kept in %s", out);
	}
	if (c.rfd >= 0)
		(void)close(c.rfd);
	if (c.dfd >= 0)
		(void)close(c.dfd);
	if (c.in_fd >= 0)
		(void)close(c.in_fd);
	/* attachment file names derive from content: wiped */
	while (c.nfiles > 0) {
		c.nfiles--;
		vault_wipe(c.files[c.nfiles], strlen(c.files[c.nfiles]));
		free(c.files[c.nfiles]);
	}
	free(c.files);
	free(c.fhash);
	free(c.fsha);
	free(c.fsize);
	while (c.nren > 0) {
		c.nren--;
		free(c.ren_from[c.nren]);
		if (c.ren_to[c.nren] != NULL)
			vault_wipe(c.ren_to[c.nren], strlen(c.ren_to[c.nren]));
		free(c.ren_to[c.nren]);
	}
	free(c.ren_from);
	free(c.ren_to);
	vault_hasher_free(&c.fh);
	vault_hasher_free(&c.rfh);
	pins_nodes_free(&pins);
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
