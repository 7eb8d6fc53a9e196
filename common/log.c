/* common/log.c — timestamped single-line logging to stderr.
 *
 * One write(2) per line so concurrent threads never interleave a line.
 * Trusts its callers not to pass secrets (see log.h); sanitises nothing by
 * itself beyond capping the line length.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

static const char *log_prog = "coffer";
static int log_quiet;

void
log_init(const char *progname)
{
	if (progname != NULL)
		log_prog = progname;
}

void
log_set_quiet(int quiet)
{
	log_quiet = quiet;
}

static void
log_emit(const char *level, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, log_prog,
	    (long)getpid(), level);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	if ((size_t)n + (size_t)m > sizeof(line) - 2)
		m = (int)(sizeof(line) - 2 - (size_t)n);
	line[n + m] = '\n';
	if (write(STDERR_FILENO, line, (size_t)(n + m + 1)) < 0)
		return;
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_emit("info", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning", fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("error", fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_printable(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	size_t i;

	if (dst_len == 0)
		return dst;
	for (i = 0; i < src_len && i + 1 < dst_len; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
	return dst;
}

/* ------------------------------------------------------------------------ */
/* rate limit                                                               */

void
log_limit_init(log_limit *l, double rate, double burst, const char *what)
{
	tbucket_init(&l->tb, burst, util_mono_us());
	l->rate = rate;
	l->burst = burst;
	l->suppressed = 0;
	l->what = what;
}

/* Report the lines held back, if a token is there for the report. */
static void
log_limit_report(log_limit *l, long long now)
{
	if (l->suppressed == 0 ||
	    !tbucket_take(&l->tb, l->rate, l->burst, now, NULL))
		return;
	log_warn("%s: %lu more not logged (rate limit)", l->what, l->suppressed);
	l->suppressed = 0;
}

void
log_limit_flush(log_limit *l)
{
	log_limit_report(l, util_mono_us());
}

int
log_limit_allow(log_limit *l)
{
	long long now = util_mono_us();

	log_limit_report(l, now);
	if (!tbucket_take(&l->tb, l->rate, l->burst, now, NULL)) {
		l->suppressed++;
		return 0;
	}
	return 1;
}
