/* tests/tools/memscan.c — TEST ONLY: look for secret byte patterns in a
 * live process's memory or in files, and report hits by pattern class
 * without ever printing a pattern.
 *
 *   memscan --patterns FILE --pid PID [--max-map BYTES]
 *                      every readable mapping of PID (/proc/PID/maps and
 *                      /proc/PID/mem; needs ptrace rights: root)
 *   memscan --patterns FILE --files PATH...
 *                      every regular file under the PATHs (directories
 *                      recursively; symbolic links are not followed)
 *
 * FILE: one pattern a line, "CLASS<TAB>HEX" (CLASS names what it is, e.g.
 * "canary" or "epoch key (previous)"; HEX the bytes, at least 8).  Lines
 * starting with # and empty lines are ignored.
 *
 * Output (tab-separated, one item a line):
 *   bytes<TAB>N               bytes read
 *   regions<TAB>N             mappings or files read
 *   unreadable<TAB>N          mappings or files that could not be read whole
 *   skipped<TAB>N             mappings larger than --max-map (default 8 GiB;
 *                             e.g. a sanitizer's shadow memory)
 *   hits<TAB>CLASS<TAB>N      every class, in the file's order, 0 included
 *   where<TAB>CLASS<TAB>LOC   where a hit was (mapping range and name, or
 *                             file and offset; at most 20 lines), never the
 *                             bytes
 * Exit 0 when the scan ran (hits or not); 1 on a bad pattern file or
 * usage; 2 when /proc/PID/maps or /proc/PID/mem cannot be opened.
 *
 * One pass over the bytes whatever the number of patterns: every offset's
 * first two bytes are looked up in a bitmap of the patterns' first two
 * bytes, and only then its first eight in a hash table of the patterns'
 * first eight (the scripts scan hundreds of MB against hundreds of keys;
 * a find per pattern took minutes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "vault/mem.h"

#define MS_CHUNK      (4U << 20)
#define MS_MAX_WHERE  20
#define MS_PREFIX     8U
#define MS_LINE_MAX   65536

typedef struct ms_pat {
	unsigned char *b;
	size_t         len;
	size_t         cls;
	uint64_t       prefix;
	long           next;          /* next pattern in the same hash slot */
} ms_pat;

typedef struct ms_scan {
	ms_pat        *pats;
	size_t         npats;
	char         **classes;
	unsigned long long *hits;
	size_t         nclasses;
	long          *slot;          /* hash table: first pattern, -1 none */
	size_t         mask;
	unsigned char  first2[65536 / 8];
	size_t         maxlen;
	unsigned long long bytes, regions, unreadable, skipped;
	char          *where[MS_MAX_WHERE];
	size_t         nwhere;
	unsigned char *buf;           /* tail of the last chunk + this chunk */
} ms_scan;

static void
ms_die(const char *msg, const char *arg)
{
	fprintf(stderr, "memscan: %s%s\n", msg, arg ? arg : "");
	exit(1);
}

static uint64_t
ms_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static size_t
ms_hash(uint64_t v, size_t mask)
{
	return (size_t)((v * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

static size_t
ms_class(ms_scan *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nclasses; i++)
		if (strcmp(s->classes[i], name) == 0)
			return i;
	s->classes = realloc(s->classes, (s->nclasses + 1) * sizeof(*s->classes));
	if (s->classes == NULL || (s->classes[s->nclasses] = strdup(name)) == NULL)
		ms_die("out of memory", NULL);
	return s->nclasses++;
}

static void
ms_load(ms_scan *s, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line;
	size_t i, n, cap = 0;

	if (f == NULL)
		ms_die("cannot open the patterns file: ", strerror(errno));
	if ((line = malloc(MS_LINE_MAX)) == NULL)
		ms_die("out of memory", NULL);
	while (fgets(line, MS_LINE_MAX, f) != NULL) {
		char *tab, *hx;
		size_t hl;
		ms_pat *p;

		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(f))
			ms_die("pattern line too long", NULL);
		if (n == 0 || line[0] == '#')
			continue;
		tab = strrchr(line, '\t');
		if (tab == NULL || tab == line || tab[1] == '\0')
			ms_die("malformed pattern line (want CLASS<TAB>HEX)", NULL);
		*tab = '\0';
		hx = tab + 1;
		hl = strlen(hx);
		if (hl % 2 != 0)
			ms_die("malformed pattern line (want CLASS<TAB>HEX)", NULL);
		if (hl / 2 < MS_PREFIX)
			ms_die("pattern shorter than 8 bytes in class ", line);
		if (s->npats == cap) {
			cap = cap ? 2 * cap : 64;
			if ((s->pats = realloc(s->pats, cap * sizeof(*s->pats))) == NULL)
				ms_die("out of memory", NULL);
		}
		p = &s->pats[s->npats];
		p->len = hl / 2;
		if ((p->b = malloc(p->len)) == NULL)
			ms_die("out of memory", NULL);
		if (util_unhex(p->b, p->len, hx, hl) != 0)
			ms_die("malformed pattern line (want CLASS<TAB>HEX)", NULL);
		p->cls = ms_class(s, line);
		p->prefix = ms_u64(p->b);
		if (p->len > s->maxlen)
			s->maxlen = p->len;
		s->npats++;
	}
	vault_wipe(line, MS_LINE_MAX);
	free(line);
	fclose(f);
	if ((s->hits = calloc(s->nclasses + 1, sizeof(*s->hits))) == NULL)
		ms_die("out of memory", NULL);
	for (n = 16; n < 4 * s->npats; n *= 2)
		;
	s->mask = n - 1;
	if ((s->slot = malloc(n * sizeof(*s->slot))) == NULL)
		ms_die("out of memory", NULL);
	for (i = 0; i < n; i++)
		s->slot[i] = -1;
	for (i = 0; i < s->npats; i++) {
		size_t h = ms_hash(s->pats[i].prefix, s->mask);
		unsigned f2 = (unsigned)s->pats[i].b[0] | (unsigned)s->pats[i].b[1] << 8;

		s->pats[i].next = s->slot[h];
		s->slot[h] = (long)i;
		s->first2[f2 >> 3] |= (unsigned char)(1U << (f2 & 7));
	}
	if ((s->buf = malloc(MS_CHUNK + s->maxlen)) == NULL)
		ms_die("out of memory", NULL);
}

/* Count the matches in buf[0, len) that end after keep (those ending
 * inside the first keep bytes were counted with the previous chunk). */
static void
ms_chunk(ms_scan *s, const unsigned char *buf, size_t len, size_t keep,
    unsigned long long base, const char *label)
{
	size_t i;

	if (len < MS_PREFIX)
		return;
	for (i = 0; i + MS_PREFIX <= len; i++) {
		unsigned f2 = (unsigned)buf[i] | (unsigned)buf[i + 1] << 8;
		uint64_t v;
		long j;

		if (!(s->first2[f2 >> 3] & (1U << (f2 & 7))))
			continue;
		v = ms_u64(buf + i);
		for (j = s->slot[ms_hash(v, s->mask)]; j >= 0; j = s->pats[j].next) {
			const ms_pat *p = &s->pats[j];

			if (p->prefix != v || i + p->len > len || i + p->len <= keep ||
			    memcmp(buf + i, p->b, p->len) != 0)
				continue;
			s->hits[p->cls]++;
			if (s->nwhere < MS_MAX_WHERE) {
				char *w = NULL;

				if (asprintf(&w, "%s\t%s+0x%llx", s->classes[p->cls], label,
				    base + i) < 0)
					ms_die("out of memory", NULL);
				s->where[s->nwhere++] = w;
			}
		}
	}
}

/* Scan fd from offset lo: size bytes (size 0: to its end).  0 when every
 * read succeeded. */
static int
ms_stream(ms_scan *s, int fd, unsigned long long lo, unsigned long long size,
    const char *label)
{
	unsigned long long off = 0;
	size_t tail = 0, over = s->maxlen > 0 ? s->maxlen - 1 : 0;
	int ok = 1;

	while (size == 0 || off < size) {
		size_t want = MS_CHUNK;
		ssize_t n;

		if (size != 0 && size - off < want)
			want = (size_t)(size - off);
		n = pread(fd, s->buf + tail, want, (off_t)(lo + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ok = 0;
			if (size == 0)
				break;
			tail = 0;
			off += want;
			continue;
		}
		if (n == 0)
			break;
		s->bytes += (unsigned long long)n;
		ms_chunk(s, s->buf, tail + (size_t)n, tail, off - tail, label);
		off += (unsigned long long)n;
		if (tail + (size_t)n > over) {
			memmove(s->buf, s->buf + tail + (size_t)n - over, over);
			tail = over;
		} else {
			tail += (size_t)n;
		}
	}
	return ok ? 0 : -1;
}

static int
ms_pid(ms_scan *s, const char *pid, unsigned long long max_map)
{
	char path[64], line[4096];
	FILE *maps;
	int mem;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	if ((maps = fopen(path, "r")) == NULL) {
		fprintf(stderr, "memscan: cannot read the memory of %s: %s\n", pid,
		    strerror(errno));
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%s/mem", pid);
	if ((mem = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "memscan: cannot read the memory of %s: %s\n", pid,
		    strerror(errno));
		fclose(maps);
		return 2;
	}
	while (fgets(line, sizeof(line), maps) != NULL) {
		unsigned long long lo, hi;
		char perms[8], label[4200];
		const char *name = "[anon]";
		int used = 0;
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &lo, &hi, perms,
		    &used) < 3)
			continue;
		if (used > 0 && line[used] != '\0')
			name = line + used;
		if (perms[0] != 'r' || strcmp(name, "[vvar]") == 0 ||
		    strcmp(name, "[vvar_vclock]") == 0 || strcmp(name, "[vsyscall]") == 0)
			continue;
		if (hi - lo > max_map) {
			s->skipped++;
			continue;
		}
		s->regions++;
		snprintf(label, sizeof(label), "%.*s %s", (int)strcspn(line, " "),
		    line, name);
		if (ms_stream(s, mem, lo, hi - lo, label) != 0)
			s->unreadable++;
	}
	close(mem);
	fclose(maps);
	return 0;
}

static void ms_path(ms_scan *s, const char *path);

static int
ms_namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
ms_dir(ms_scan *s, const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t i, n = 0, cap = 0;

	if (d == NULL) {
		s->unreadable++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((names = realloc(names, cap * sizeof(*names))) == NULL)
				ms_die("out of memory", NULL);
		}
		if (asprintf(&names[n], "%s/%s", path, e->d_name) < 0)
			ms_die("out of memory", NULL);
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), ms_namecmp);
	for (i = 0; i < n; i++) {
		ms_path(s, names[i]);
		free(names[i]);
	}
	free(names);
}

static void
ms_path(ms_scan *s, const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		ms_dir(s, path);
		return;
	}
	if (!S_ISREG(st.st_mode))
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		s->unreadable++;
		return;
	}
	s->regions++;
	if (ms_stream(s, fd, 0, 0, path) != 0)
		s->unreadable++;
	close(fd);
}

int
main(int argc, char **argv)
{
	ms_scan s;
	const char *patterns = NULL, *pid = NULL;
	unsigned long long max_map = 8ULL << 30;
	int i, files = 0, rc = 0;
	size_t k;

	memset(&s, 0, sizeof(s));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--patterns") == 0 && i + 1 < argc) {
			patterns = argv[++i];
		} else if (strcmp(argv[i], "--pid") == 0 && i + 1 < argc) {
			pid = argv[++i];
			if (pid[0] == '\0' || strspn(pid, "0123456789") != strlen(pid))
				ms_die("--pid wants a number", NULL);
		} else if (strcmp(argv[i], "--max-map") == 0 && i + 1 < argc) {
			char *end = NULL;

			errno = 0;
			max_map = strtoull(argv[++i], &end, 10);
			if (errno != 0 || end == argv[i] || *end != '\0')
				ms_die("--max-map wants a number of bytes", NULL);
		} else if (strcmp(argv[i], "--files") == 0) {
			files = i + 1;
			break;
		} else {
			ms_die("usage: memscan --patterns FILE (--pid PID | --files PATH...) "
			    "[--max-map BYTES]", NULL);
		}
	}
	if (patterns == NULL || (pid == NULL) == (files == 0) ||
	    (files != 0 && files >= argc))
		ms_die("usage: memscan --patterns FILE (--pid PID | --files PATH...) "
		    "[--max-map BYTES]", NULL);
	ms_load(&s, patterns);
	if (pid != NULL)
		rc = ms_pid(&s, pid, max_map);
	else
		for (i = files; i < argc; i++)
			ms_path(&s, argv[i]);
	if (rc == 0) {
		printf("bytes\t%llu\nregions\t%llu\nunreadable\t%llu\nskipped\t%llu\n",
		    s.bytes, s.regions, s.unreadable, s.skipped);
		for (k = 0; k < s.nclasses; k++)
			printf("hits\t%s\t%llu\n", s.classes[k], s.hits[k]);
		for (k = 0; k < s.nwhere; k++)
			printf("where\t%s\n", s.where[k]);
	}
	vault_wipe(s.buf, MS_CHUNK + s.maxlen);
	free(s.buf);
	for (k = 0; k < s.npats; k++) {
		vault_wipe(s.pats[k].b, s.pats[k].len);
		free(s.pats[k].b);
	}
	free(s.pats);
	for (k = 0; k < s.nclasses; k++)
		free(s.classes[k]);
	free(s.classes);
	free(s.hits);
	free(s.slot);
	for (k = 0; k < s.nwhere; k++)
		free(s.where[k]);
	return rc;
}
