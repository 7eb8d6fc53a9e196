/* ctl/common.c — what every cofferctl verb shares (see common.h).
 *
 * How cofferctl finds its database: the PG* environment (libpq defaults)
 * or the `pg_conninfo = …` line of a config file.  A conninfo may hold a
 * password, so it is never printed, and a config file that holds one must
 * be private; whoever can edit it can point us at their own server.
 * Option values are parsed strictly (digits only) so that " 5", "+5" or
 * "5x" are usage errors, not silently read as 5.
 */
#include "ctl/common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"

/* -- database -------------------------------------------------------------- */

#define CTL_CONFIG_MAX (64U * 1024U)

static char *
ctl_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* 1 if conninfo sets a password, 0 if not, -1 if it does not parse.
 * libpq's parse error text may quote the string, so it is not shown. */
static int
ctl_conninfo_has_password(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	char *perr = NULL;
	int has = 0;

	opts = PQconninfoParse(conninfo, &perr);
	if (perr != NULL)
		PQfreemem(perr);
	if (opts == NULL)
		return -1;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			has = 1;
	PQconninfoFree(opts);
	return has;
}

int
ctl_conninfo(const char *config_path, char *out, size_t out_len, char *err,
    size_t err_len)
{
	char *buf = NULL, *line, *next;
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd = -1, found = 0, rc = -1;

	if (out_len == 0)
		return -1;
	out[0] = '\0';
	if (config_path == NULL)
		return 0;
	fd = open(config_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", config_path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", config_path);
		goto done;
	}
	/* Whoever can edit it can point us at their own server. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, err_len, "%s: writable by group or others "
		    "(chmod go-w)", config_path);
		goto done;
	}
	if ((size_t)st.st_size > CTL_CONFIG_MAX) {
		snprintf(err, err_len, "%s: larger than %u bytes", config_path,
		    CTL_CONFIG_MAX);
		goto done;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(err, err_len, "out of memory");
		goto done;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, err_len, "%s: short read", config_path);
			goto done;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';

	for (line = buf; line != NULL; line = next) {
		char *eq, *key, *val;
		size_t vlen;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line = ctl_trim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		key = ctl_trim(line);
		if (strcmp(key, "pg_conninfo") != 0)
			continue;
		val = ctl_trim(eq + 1);
		vlen = strlen(val);
		if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[vlen - 1] == val[0]) {
			val[vlen - 1] = '\0';
			val++;
			vlen -= 2;
		}
		if (vlen >= out_len) {
			snprintf(err, err_len, "%s: pg_conninfo too long", config_path);
			goto done;
		}
		memcpy(out, val, vlen + 1);
		found = 1;     /* the last one wins, as in postgresql.conf */
	}
	if (found) {
		int pw = ctl_conninfo_has_password(out);

		if (pw < 0) {
			snprintf(err, err_len, "%s: pg_conninfo is not a valid "
			    "connection string", config_path);
			goto done;
		}
		if (pw > 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
			snprintf(err, err_len, "%s: holds a database password but "
			    "is readable by others (chmod 600, or use ~/.pgpass)",
			    config_path);
			goto done;
		}
	}
	rc = 0;
done:
	if (rc != 0)
		out[0] = '\0';
	if (buf != NULL) {
		explicit_bzero(buf, got);
		free(buf);
	}
	close(fd);
	return rc;
}

static int ctl_help_only;

void
ctl_help_mode_set(int on)
{
	ctl_help_only = on != 0;
}

int
ctl_help_mode(void)
{
	return ctl_help_only;
}

PGconn *
ctl_connect(const char *config_path)
{
	char conninfo[4096], err[768];
	PGconn *c;

	if (ctl_help_only) {
		ctl_fail("--help: not connecting");
		return NULL;
	}
	if (ctl_conninfo(config_path, conninfo, sizeof(conninfo), err,
	    sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return NULL;
	}
	c = pg_connect_app(conninfo, "cofferctl", err, sizeof(err));
	explicit_bzero(conninfo, sizeof(conninfo));
	if (c == NULL)
		ctl_fail("%s", err);
	return c;
}

void
ctl_actor(PGconn *c, char *out, size_t cap)
{
	const char *u = PQuser(c);
	char role[64];

	log_printable(role, sizeof(role), u != NULL ? u : "?",
	    u != NULL ? strlen(u) : 1);
	snprintf(out, cap, "cofferctl uid=%u db=%s", (unsigned)getuid(), role);
}

/* -- lists ------------------------------------------------------------------ */

void
ctl_list_expiry(time_t not_after, char *out, size_t cap)
{
	struct tm tm;

	if (not_after == 0 || gmtime_r(&not_after, &tm) == NULL ||
	    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "-");
}

const char *
ctl_list_status(const char *status, time_t not_after, time_t now)
{
	if (strcmp(status, "active") == 0 && not_after != 0 && not_after <= now)
		return "expired";
	return status;
}

/* -- option values --------------------------------------------------------- */

int
ctl_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	return util_parse_u64(s, lo, hi, out);
}

int
ctl_parse_long(const char *s, long lo, long hi, long *out)
{
	uint64_t v;

	if (lo < 0 || hi < lo)          /* no negative option values */
		return -1;
	if (ctl_parse_u64(s, (uint64_t)lo, (uint64_t)hi, &v) != 0)
		return -1;
	*out = (long)v;
	return 0;
}

int
ctl_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	uint64_t v;

	if (ctl_parse_u64(s, lo, hi, &v) != 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* -- messages -------------------------------------------------------------- */

static void
ctl_vfail(const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "cofferctl: %s\n", line);
}

void
ctl_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vfail(fmt, ap);
	va_end(ap);
}

int
ctl_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		ctl_vfail(fmt, ap);
		va_end(ap);
	}
	fputs(usage, stderr);
	return CTL_EXIT_USAGE;
}
