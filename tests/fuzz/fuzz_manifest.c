/* tests/fuzz/fuzz_manifest.c — libFuzzer target for what `cofferctl export
 * open` reads once a production authenticates: the tar inside the
 * container (safe extraction: names, types, links) and the manifest check
 * (manifest.json header and receipts against records.jsonl, checkpoint
 * signatures, RSMF event counts).
 *
 * Random bytes cannot pass the container's authentication (fuzz_container.c
 * covers that side), so the harness seals each input itself, to a key file
 * it made at start-up, and runs the real verb, ctl_cmd_export(), on the
 * file — the whole path a legal user's machine takes, key file and
 * passphrase file included.  The first input byte picks the plaintext:
 *   even: the rest is the tar itself;
 *   odd:  the rest is manifest.json, records.jsonl and RSMF files separated
 *         by FZ_SEP, packed by the harness into the tar layout a build
 *         writes (rsmf/, rsmf/NNNNNN.rsmf, records.jsonl, manifest.json).
 *
 * Beyond "does not crash": a refused production leaves nothing behind (the
 * output directory is gone), an accepted one holds only the build's layout
 * of regular files, and nothing is ever written next to the output
 * directory.  The verb's messages go to /dev/null (FUZZ_SHOW=1 keeps them);
 * sanitizer reports still reach the real stderr.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <sanitizer/common_interface_defs.h>

#include "ctl/ctl.h"
#include "vault/mem.h"
#include "vault/production.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SEP      "\n#--coffer-fuzz-file--#\n"
#define FZ_PASS     "fuzz passphrase, not a secret\n"
#define FZ_MAX_RSMF 8

static char fz_dir[64], fz_in[128], fz_key[128], fz_pass[128], fz_out[128];
static char fz_pins[128];
static unsigned char fz_pk[VAULT_BOX_PK_BYTES];
static int fz_show, fz_null = -1, fz_stderr = -1;

typedef struct fz_buf {
	unsigned char *p;
	size_t         len, cap;
} fz_buf;

static int
fz_append(fz_buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *np;

		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

static int
fz_sink(void *arg, const unsigned char *d, size_t n)
{
	return fz_append(arg, d, n);
}

static la_ssize_t
fz_tar_write(struct archive *a, void *arg, const void *d, size_t n)
{
	(void)a;
	return fz_append(arg, d, n) == 0 ? (la_ssize_t)n : -1;
}

static int
fz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
fz_cleanup(void)
{
	if (fz_dir[0] != '\0')
		(void)nftw(fz_dir, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fz_write(const char *path, const void *d, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, d, n) != (ssize_t)n || close(fd) != 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	vault_keyfile_info info;
	unsigned char *sk = NULL, kf[VAULT_KEYFILE_BYTES];
	size_t klen;
	char err[256];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	/* tmpfs when there is one: export open fsyncs every file it writes */
	snprintf(fz_dir, sizeof(fz_dir), "%s/fuzz_manifest.XXXXXX", base);
	if (vault_init() != 0 || mkdtemp(fz_dir) == NULL)
		abort();
	atexit(fz_cleanup);
	snprintf(fz_in, sizeof(fz_in), "%s/in.coffer", fz_dir);
	snprintf(fz_key, sizeof(fz_key), "%s/user.key", fz_dir);
	snprintf(fz_pass, sizeof(fz_pass), "%s/pass", fz_dir);
	snprintf(fz_out, sizeof(fz_out), "%s/out", fz_dir);
	/* export open needs node pins (issue 13.3); inputs carry no valid
	 * manifest.sig, so the checks behind the signature are not reached:
	 * extraction and the signed-statement parser are */
	snprintf(fz_pins, sizeof(fz_pins), "%s/nodes.pins", fz_dir);
	fz_write(fz_pins, "node fuzz-api "
	    "0000000000000000000000000000000000000000000000000000000000000000\n",
	    strlen("node fuzz-api "
	    "0000000000000000000000000000000000000000000000000000000000000000\n"));
	memset(&info, 0, sizeof(info));
	info.opslimit = 1;
	info.memlimit = 8192;
	if (vault_box_keypair(fz_pk, &sk) != 0)
		abort();
	memcpy(info.pk, fz_pk, sizeof(fz_pk));
	if (vault_keyfile_seal(&info, sk, FZ_PASS, strlen(FZ_PASS) - 1, kf,
	    sizeof(kf), &klen, err, sizeof(err)) != 0)
		abort();
	vault_box_key_free(&sk);
	fz_write(fz_key, kf, klen);
	fz_write(fz_pass, FZ_PASS, strlen(FZ_PASS));
	fz_show = getenv("FUZZ_SHOW") != NULL;
	if (!fz_show) {
		if ((fz_null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0 ||
		    (fz_stderr = dup(2)) < 0)
			abort();
		__sanitizer_set_report_fd((void *)(intptr_t)fz_stderr);
		(void)dup2(fz_null, 1);
	}
	return 0;
}

static int
fz_tar_entry(struct archive *a, const char *name, const void *d, size_t n,
    int dir)
{
	struct archive_entry *e = archive_entry_new();
	int rc = -1;

	if (e == NULL)
		return -1;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0700 : 0600);
	archive_entry_set_size(e, dir ? 0 : (la_int64_t)n);
	if (archive_write_header(a, e) == ARCHIVE_OK &&
	    (dir || n == 0 || archive_write_data(a, d, n) == (la_ssize_t)n))
		rc = 0;
	archive_entry_free(e);
	return rc;
}

/* The build's layout from FZ_SEP-separated parts. */
static int
fz_pack(const uint8_t *d, size_t n, fz_buf *tar)
{
	const uint8_t *part[2 + FZ_MAX_RSMF];
	size_t plen[2 + FZ_MAX_RSMF], np = 0, sep = strlen(FZ_SEP), i;
	struct archive *a;
	int rc = -1;

	while (np < 2 + FZ_MAX_RSMF) {
		const uint8_t *s = memmem(d, n, FZ_SEP, sep);

		part[np] = d;
		if (s == NULL || np == 1 + FZ_MAX_RSMF) {
			plen[np++] = n;
			break;
		}
		plen[np++] = (size_t)(s - d);
		n -= (size_t)(s - d) + sep;
		d = s + sep;
	}
	if ((a = archive_write_new()) == NULL)
		return -1;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 512) != ARCHIVE_OK ||
	    archive_write_open(a, tar, NULL, fz_tar_write, NULL) != ARCHIVE_OK ||
	    fz_tar_entry(a, "rsmf/", NULL, 0, 1) != 0)
		goto out;
	for (i = 2; i < np; i++) {
		char name[32];

		snprintf(name, sizeof(name), "rsmf/%06zu.rsmf", i - 1);
		if (fz_tar_entry(a, name, part[i], plen[i], 0) != 0)
			goto out;
	}
	if (np > 1 && fz_tar_entry(a, "records.jsonl", part[1], plen[1], 0) != 0)
		goto out;
	if (fz_tar_entry(a, "manifest.json", part[0], plen[0], 0) != 0 ||
	    archive_write_close(a) != ARCHIVE_OK)
		goto out;
	rc = 0;
out:
	archive_write_free(a);
	return rc;
}

static int
fz_seal(const unsigned char *plain, size_t n)
{
	vault_stream_writer *w = NULL;
	fz_buf c = { NULL, 0, 0 };
	char err[256];
	int rc = -1;

	if (vault_prod_writer_new(&w, fz_pk, fz_sink, &c, err, sizeof(err)) != 0 ||
	    vault_stream_write(w, plain, n, err, sizeof(err)) != 0 ||
	    vault_stream_finish(w, err, sizeof(err)) != 0)
		goto out;
	fz_write(fz_in, c.p, c.len);
	rc = 0;
out:
	vault_stream_writer_free(&w);
	free(c.p);
	return rc;
}

/* Only in.coffer, user.key, pass and (after success) out in the work dir;
 * in out only the build's layout. */
static void
fz_check_dirs(int opened)
{
	DIR *d = opendir(fz_dir);
	struct dirent *de;
	int saw_out = 0;

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "in.coffer") == 0 ||
		    strcmp(de->d_name, "user.key") == 0 ||
		    strcmp(de->d_name, "nodes.pins") == 0 ||
		    strcmp(de->d_name, "pass") == 0)
			continue;
		if (strcmp(de->d_name, "out") == 0 && opened) {
			saw_out = 1;
			continue;
		}
		abort();     /* written outside the output dir, or left behind */
	}
	closedir(d);
	if (opened && !saw_out)
		abort();
	if (opened) {
		char p[256];
		struct stat st;

		if ((d = opendir(fz_out)) == NULL)
			abort();
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", fz_out, de->d_name);
			if (lstat(p, &st) != 0)
				abort();
			if (strcmp(de->d_name, "rsmf") == 0 ? !S_ISDIR(st.st_mode) :
			    (!S_ISREG(st.st_mode) ||
			    (strcmp(de->d_name, "records.jsonl") != 0 &&
			    strcmp(de->d_name, "manifest.json") != 0)))
				abort();
		}
		closedir(d);
		(void)nftw(fz_out, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "export", "open", "--in", fz_in, "--key", fz_key,
	    "--out", fz_out, "--passphrase-file", fz_pass, "--nodes", fz_pins,
	    NULL };
	fz_buf tar = { NULL, 0, 0 };
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (fz_pack(data + 1, size - 1, &tar) != 0) {
			free(tar.p);
			return 0;
		}
		rc = fz_seal(tar.p, tar.len);
	} else {
		rc = fz_seal(data + 1, size - 1);
	}
	free(tar.p);
	if (rc != 0)
		return 0;
	if (!fz_show)
		(void)dup2(fz_null, 2);
	rc = ctl_cmd_export((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv);
	if (!fz_show)
		(void)dup2(fz_stderr, 2);
	fz_check_dirs(rc == CTL_EXIT_OK);
	return 0;
}
