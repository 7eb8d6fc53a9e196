/* agent/spool.c — spool intake (spool.h).
 *
 * Trusts: nothing in the spool files (other software writes them).  Lines
 * are read with a bound (batch_max_bytes; a longer line is skipped to its
 * newline and rejected, never held whole), parsed by jansson with
 * duplicate keys refused, and never logged.  File names are limited to
 * OBX_NAME_MAX bytes without '/', opened O_NOFOLLOW, regular files only.
 */
#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "common/log.h"
#include "vault/mem.h"

#define SPOOL_PASS_LINES  20000U      /* lines a pass takes at most */
#define SPOOL_FILES_MAX   100000U
#define SPOOL_ID_MAX      256U

static void *
spool_json_malloc(size_t n)
{
	return malloc(n);
}

static void
spool_json_free(void *p)
{
	if (p == NULL)
		return;
	vault_wipe(p, malloc_usable_size(p));
	free(p);
}

void
spool_json_init(void)
{
	json_set_alloc_funcs(spool_json_malloc, spool_json_free);
}

static int
spool_reason(char *reason, size_t cap, const char *what)
{
	snprintf(reason, cap, "%s", what);
	return -1;
}

int
spool_check_line(const unsigned char *line, size_t len, size_t max_bytes,
    char *reason, size_t reason_len)
{
	json_error_t je;
	json_t *j, *id;
	size_t i;
	int rc = 0;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			break;
	if (i == len)
		return 1;
	if (len > max_bytes)
		return spool_reason(reason, reason_len,
		    "record larger than batch_max_bytes");
	j = json_loadb((const char *)line, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		return spool_reason(reason, reason_len, "not valid JSON (or a "
		    "duplicate key)");
	if (!json_is_object(j)) {
		rc = spool_reason(reason, reason_len, "not a JSON object");
		goto out;
	}
	id = json_object_get(j, "id");
	if (id == NULL)
		rc = spool_reason(reason, reason_len, "id: missing");
	else if (!json_is_string(id))
		rc = spool_reason(reason, reason_len, "id: not a string");
	else if (json_string_length(id) == 0 ||
	    json_string_length(id) > SPOOL_ID_MAX)
		rc = spool_reason(reason, reason_len, "id: empty or longer than "
		    "256 bytes");
	else if (json_object_get(j, "capture_seq") != NULL)
		rc = spool_reason(reason, reason_len, "capture_seq: assigned by "
		    "the agent, not by the spool writer");
out:
	json_decref(j);
	return rc;
}

static void
spool_rfc3339(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000);
}

static int
spool_fsync_dir(const char *dir, char *err, size_t err_len)
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
spool_reject_write(const agent_config *cfg, const char *file,
    const char *source, unsigned long long offset,
    unsigned long long capture_seq, const char *reason,
    const unsigned char *line, size_t len, char *err, size_t err_len)
{
	char dir[AGENT_PATH_MAX + 16], path[AGENT_PATH_MAX + 300], at[80];
	json_t *o = json_object();
	char *text = NULL;
	size_t tlen = 0;
	int fd = -1, rc = -1, made = 0;

	snprintf(dir, sizeof(dir), "%s/rejected", cfg->spool_dir);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (mkdir(dir, 0700) == 0)
		made = 1;
	else if (errno != EEXIST) {
		snprintf(err, err_len, "%s: %s", dir, strerror(errno));
		goto out;
	}
	spool_rfc3339(at, sizeof(at));
	if (o == NULL)
		goto oom;
	json_object_set_new(o, "at", json_string(at));
	if (source != NULL) {
		json_object_set_new(o, "source", json_string(source));
		json_object_set_new(o, "offset", json_integer((json_int_t)offset));
	}
	if (capture_seq != 0)
		json_object_set_new(o, "capture_seq",
		    json_integer((json_int_t)capture_seq));
	json_object_set_new(o, "reason", json_string(reason));
	{
		json_t *s = json_stringn((const char *)line, len);

		if (s != NULL)
			json_object_set_new(o, "record", s);
		else {
			/* not UTF-8: the bytes as they were, base64 */
			size_t cap = sodium_base64_encoded_len(len,
			    sodium_base64_VARIANT_ORIGINAL);
			char *b = malloc(cap);

			if (b == NULL)
				goto oom;
			sodium_bin2base64(b, cap, line, len,
			    sodium_base64_VARIANT_ORIGINAL);
			json_object_set_new(o, "record_base64", json_string(b));
			vault_free_wiped(b, cap);
		}
	}
	text = json_dumps(o, JSON_COMPACT);
	if (text == NULL)
		goto oom;
	tlen = strlen(text);
	text[tlen] = '\n';      /* json_dumps leaves room for the NUL */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 || write(fd, text, tlen + 1) != (ssize_t)(tlen + 1) ||
	    fsync(fd) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (made && spool_fsync_dir(cfg->spool_dir, err, err_len) != 0)
		goto out;
	if (spool_fsync_dir(dir, err, err_len) != 0)
		goto out;
	rc = 0;
	goto out;
oom:
	snprintf(err, err_len, "out of memory");
out:
	if (fd >= 0)
		close(fd);
	if (text != NULL) {
		vault_wipe(text, tlen);     /* its NUL became the newline */
		free(text);
	}
	json_decref(o);
	return rc;
}

unsigned long long
spool_rejected_count(const agent_config *cfg)
{
	char dir[AGENT_PATH_MAX + 16], path[AGENT_PATH_MAX + 300];
	unsigned long long n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/rejected", cfg->spool_dir);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		FILE *f;
		int ch;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while ((ch = getc(f)) != EOF)
			if (ch == '\n')
				n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

static int
spool_name_ok(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 7 && len <= OBX_NAME_MAX &&
	    strcmp(n + len - 7, ".ndjson") == 0;
}

static int
spool_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read one line of at most cap bytes from f into buf: its length in *len
 * (newline not included), *over = 1 when it was longer (skipped to its
 * newline, buf then holds nothing useful), *used the bytes consumed.
 * 0: a line; 1: end of file; -1: read error. */
static int
spool_getline(FILE *f, unsigned char *buf, size_t cap, size_t *len,
    int *over, unsigned long long *used)
{
	size_t n = 0;
	int ch, any = 0;

	*over = 0;
	*used = 0;
	while ((ch = getc(f)) != EOF) {
		any = 1;
		(*used)++;
		if (ch == '\n')
			break;
		if (n < cap)
			buf[n++] = (unsigned char)ch;
		else
			*over = 1;
	}
	if (ferror(f))
		return -1;
	*len = n;
	return any ? 0 : 1;
}

/* A spool file's identity for its recorded position: the inode number
 * mixed with the inode's change time.  Inode numbers come round again
 * (ext4 hands a freed one out soon); were a new file of the same name to
 * get the number of one taken before a crash made its removal durable,
 * the inode alone would make the agent skip the new file's first bytes.
 * The change time differs (the writer's rename sets it), so the new file
 * is read from its start.  A file changed after its rename also reads
 * from the start: records may then be sent twice (the gateway answers
 * duplicate), never lost. */
static ino_t
spool_file_id(const struct stat *sb)
{
	uint64_t t = (uint64_t)sb->st_ctim.tv_sec * 1000000000ULL +
	    (uint64_t)sb->st_ctim.tv_nsec;

	return (ino_t)((uint64_t)sb->st_ino ^ (t * 0x9E3779B97F4A7C15ULL));
}

/* Take one file from its recorded position.  0 (finished, full or at the
 * cap: see res) or -1. */
static int
spool_file(const agent_config *cfg, outbox *o, const char *name,
    spool_pass *res, unsigned char *buf, size_t cap, char *err,
    size_t err_len)
{
	char path[AGENT_PATH_MAX + 300], reason[SPOOL_REASON_MAX], rname[300];
	unsigned long long off, used, off0;
	size_t len, taken = 0, rejected = 0;
	struct stat sb;
	obx_stats st;
	FILE *f = NULL;
	ino_t fid;
	int fd, over, k, rc = -1, eof = 0;

	snprintf(path, sizeof(path), "%s/%s", cfg->spool_dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;   /* gone meanwhile: not ours */
		log_warn("spool: %s: %s (skipped)", name, strerror(errno));
		return 0;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		log_warn("spool: %s: not a regular file (skipped)", name);
		close(fd);
		return 0;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	fid = spool_file_id(&sb);
	off = obx_spool_offset(o, name, fid);
	if (off > 0 && fseeko(f, (off_t)off, SEEK_SET) != 0) {
		snprintf(err, err_len, "spool: %s: seek: %s", name, strerror(errno));
		goto out;
	}
	snprintf(rname, sizeof(rname), "%s", name);
	off0 = off;
	for (;;) {
		unsigned long long start = off;
		uint64_t seq;

		obx_stats_get(o, &st);
		if (st.pending >= cfg->outbox_max_records ||
		    st.pending_bytes + cap > cfg->outbox_max_bytes) {
			res->full = 1;
			break;
		}
		if (res->taken + res->rejected >= SPOOL_PASS_LINES) {
			res->more = 1;
			break;
		}
		k = spool_getline(f, buf, cap, &len, &over, &used);
		if (k < 0) {
			snprintf(err, err_len, "spool: %s: read: %s", name,
			    strerror(errno));
			goto out;
		}
		if (k == 1) {
			eof = 1;
			break;
		}
		off += used;
		/* trailing CR and blanks are not part of the record */
		while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		    buf[len - 1] == '\t'))
			len--;
		k = over ? -1 : spool_check_line(buf, len, cfg->batch_max_bytes,
		    reason, sizeof(reason));
		if (over)
			snprintf(reason, sizeof(reason), "record larger than "
			    "batch_max_bytes");
		if (k == 1)
			continue;
		if (k < 0) {
			if (spool_reject_write(cfg, rname, name, start, 0, reason,
			    buf, over ? 0 : len, err, err_len) != 0)
				goto out;
			res->rejected++;
			rejected++;
			continue;
		}
		{
			size_t lead = 0;

			while (lead < len && (buf[lead] == ' ' || buf[lead] == '\t'))
				lead++;
			if (obx_add(o, name, fid, off, buf + lead, len - lead,
			    &seq, err, err_len) != 0)
				goto out;
		}
		res->taken++;
		taken++;
	}
	/* rejected lines were fsync'd as they came; now the position (not
	 * rewritten while a full outbox keeps intake where it was) */
	if ((off != off0 || eof) &&
	    (obx_spool_pos(o, name, fid, off, err, err_len) != 0 ||
	    obx_sync(o, err, err_len) != 0))
		goto out;
	if (eof) {
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(err, err_len, "spool: %s: remove: %s", name,
			    strerror(errno));
			goto out;
		}
		if (spool_fsync_dir(cfg->spool_dir, err, err_len) != 0 ||
		    obx_spool_gone(o, name, err, err_len) != 0 ||
		    obx_sync(o, err, err_len) != 0)
			goto out;
		res->files++;
		log_info("spool: %s: %zu records taken, %zu rejected; file removed",
		    name, taken, rejected);
	} else if (taken + rejected > 0) {
		log_info("spool: %s: %zu records taken, %zu rejected so far "
		    "(position kept)", name, taken, rejected);
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

int
spool_intake(const agent_config *cfg, outbox *o, spool_pass *res, char *err,
    size_t err_len)
{
	char **names = NULL;
	size_t n = 0, capn = 0, i, cap = cfg->batch_max_bytes;
	unsigned char *buf = NULL;
	struct dirent *de;
	DIR *d;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if ((d = opendir(cfg->spool_dir)) == NULL) {
		snprintf(err, err_len, "spool_dir %s: %s", cfg->spool_dir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < SPOOL_FILES_MAX) {
		if (!spool_name_ok(de->d_name))
			continue;
		if (n == capn) {
			size_t c2 = capn == 0 ? 32 : capn * 2;
			char **p = realloc(names, c2 * sizeof(*p));

			if (p == NULL)
				goto oom;
			names = p;
			capn = c2;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto oom;
		n++;
	}
	closedir(d);
	d = NULL;
	rc = 0;
	if (n > 0)
		qsort(names, n, sizeof(*names), spool_cmp);
	{
		size_t dropped = 0;

		/* only from a complete listing */
		if (n < SPOOL_FILES_MAX &&
		    obx_spool_prune(o, names, n, &dropped, err, err_len) != 0)
			rc = -1;
		if (rc != 0 ||
		    (dropped > 0 && obx_sync(o, err, err_len) != 0)) {
			rc = -1;
			goto done;
		}
	}
	if (n == 0)
		goto done;
	if ((buf = malloc(cap + 1)) == NULL)
		goto oom;
	for (i = 0; i < n && !res->full && !res->more; i++)
		if (spool_file(cfg, o, names[i], res, buf, cap, err, err_len) != 0) {
			rc = -1;
			break;
		}
	goto done;
oom:
	snprintf(err, err_len, "out of memory");
	rc = -1;
done:
	if (d != NULL)
		closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	vault_free_wiped(buf, cap + 1);
	return rc;
}
