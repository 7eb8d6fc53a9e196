/* common/util.c — file, hex and id helpers.
 *
 * Files are opened with O_NOFOLLOW|O_CLOEXEC; sizes are bounded by the
 * caller.  Hex is libsodium's constant-time codec.
 */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

int
util_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
    char *err, size_t err_len)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int fd;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", path);
		goto fail;
	}
	if ((unsigned long long)st.st_size > max) {
		snprintf(err, err_len, "%s: larger than %zu bytes", path, max);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, err_len, "%s: short read", path);
			goto fail;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	*out = buf;
	*len = got;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

int
util_write_file(const char *path, const void *data, size_t len, mode_t mode,
    int overwrite, char *err, size_t err_len)
{
	char tmp[4096], dirbuf[4096];
	const unsigned char *p = data;
	size_t off = 0;
	int fd = -1, dfd;

	if (!overwrite && access(path, F_OK) == 0) {
		snprintf(err, err_len, "%s: already exists (refusing to overwrite)", path);
		return -1;
	}
	/* pid and thread id: threads of one process write side by side */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%ld", path,
	    (long)getpid(), (long)gettid()) >= sizeof(tmp)) {
		snprintf(err, err_len, "path too long");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) != 0)
		goto fail_errno;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail_errno;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail_errno;
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail_errno;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail_errno:
	snprintf(err, err_len, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

int
util_check_secret_file(const char *path, char *err, size_t err_len)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", path);
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, err_len, "%s: must be owned by the current user or root", path);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IRWXO)) != 0) {
		snprintf(err, err_len,
		    "%s: permissions %04o are too open (use 0600 or 0640)",
		    path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static int
util_read_tty(const char *prompt, char *buf, size_t cap, char *err,
    size_t err_len)
{
	struct termios old, quiet;
	FILE *tty;
	int restore = 0, rc = -1;

	tty = fopen("/dev/tty", "r+");
	if (tty == NULL) {
		snprintf(err, err_len, "no terminal to read the passphrase from "
		    "(use a passphrase file option)");
		return -1;
	}
	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	if (fgets(buf, (int)cap, tty) != NULL)
		rc = 0;
	else
		snprintf(err, err_len, "could not read the passphrase");
	if (restore)
		(void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputs("\n", tty);
	fclose(tty);
	return rc;
}

int
util_read_passphrase(const char *path, const char *prompt, char *buf,
    size_t cap, char *err, size_t err_len)
{
	unsigned char *data = NULL;
	size_t len = 0, n;

	if (cap < 2) {
		snprintf(err, err_len, "passphrase buffer too small");
		return -1;
	}
	buf[0] = '\0';
	if (path == NULL) {
		if (util_read_tty(prompt, buf, cap, err, err_len) != 0)
			return -1;
	} else {
		if (util_read_file(path, 4096, &data, &len, err, err_len) != 0)
			return -1;
		n = strcspn((char *)data, "\r\n");
		if (n >= cap) {
			sodium_memzero(data, len);
			free(data);
			snprintf(err, err_len, "%s: passphrase too long", path);
			return -1;
		}
		memcpy(buf, data, n);
		buf[n] = '\0';
		sodium_memzero(data, len);
		free(data);
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		snprintf(err, err_len, "empty passphrase");
		return -1;
	}
	return 0;
}

void
util_hex(char *out, const unsigned char *in, size_t len)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
}

int
util_unhex(unsigned char *out, size_t out_len, const char *in, size_t in_len)
{
	size_t got = 0;

	if (in_len != 2 * out_len)
		return -1;
	if (sodium_hex2bin(out, out_len, in, in_len, NULL, &got, NULL) != 0 ||
	    got != out_len)
		return -1;
	return 0;
}

void
util_uuid_random(unsigned char id[UTIL_UUID_BYTES])
{
	randombytes_buf(id, UTIL_UUID_BYTES);
	id[6] = (unsigned char)((id[6] & 0x0f) | 0x40);   /* version 4 */
	id[8] = (unsigned char)((id[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
}

void
util_uuid_format(char out[UTIL_UUID_STRLEN + 1],
    const unsigned char id[UTIL_UUID_BYTES])
{
	char hex[33];

	util_hex(hex, id, UTIL_UUID_BYTES);
	snprintf(out, UTIL_UUID_STRLEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s",
	    hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

int
util_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull would take blanks, a sign, and wrap "-1" to the maximum. */
	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int
util_uuid_parse(unsigned char id[UTIL_UUID_BYTES], const char *s)
{
	char hex[33];
	size_t i, j = 0;

	if (strlen(s) != UTIL_UUID_STRLEN)
		return -1;
	for (i = 0; i < UTIL_UUID_STRLEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		hex[j++] = s[i];
	}
	hex[j] = '\0';
	return util_unhex(id, UTIL_UUID_BYTES, hex, 32);
}

long long
util_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

long long
util_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

double
util_mono_s(void)
{
	return (double)util_mono_us() / 1e6;
}

void
util_cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

void
util_mono_abstime(struct timespec *ts, long long at_us)
{
	ts->tv_sec = (time_t)(at_us / 1000000LL);
	ts->tv_nsec = (long)(at_us % 1000000LL) * 1000L;
}

static int
util_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
util_rfc3339_ok(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) < 20 || n > 35)
		return 0;
	/* YYYY-MM-DD */
	if (!util_digits(s, 4) || s[4] != '-' || !util_digits(s + 5, 2) ||
	    s[7] != '-' || !util_digits(s + 8, 2))
		return 0;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return 0;
	/* HH:MM:SS */
	if (!util_digits(s + 11, 2) || s[13] != ':' || !util_digits(s + 14, 2) ||
	    s[16] != ':' || !util_digits(s + 17, 2))
		return 0;
	i = 19;
	if (s[i] == '.') {
		size_t f = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f || i - f > 9)
			return 0;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n)
		return 1;
	if ((s[i] == '+' || s[i] == '-') && i + 6 == n &&
	    util_digits(s + i + 1, 2) && s[i + 3] == ':' &&
	    util_digits(s + i + 4, 2))
		return 1;
	return 0;
}
