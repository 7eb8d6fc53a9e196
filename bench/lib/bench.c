/* bench/lib/bench.c — shared bench helpers (see bench.h).
 *
 * Trusts the caller for the row layout (field count and types must match
 * the COPY column list; the server rejects the COPY otherwise).  Error
 * messages carry the server's primary text only.
 */
#include "bench/lib/bench.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static void
first_line(char *err, size_t err_len, const char *what, const char *msg)
{
	size_t n;

	snprintf(err, err_len, "%s: %s", what, msg ? msg : "(no message)");
	n = strcspn(err, "\n");
	err[n] = '\0';
}

int
bench_copy_run(PGconn *c, const char *sql, const pgcopy *b, char *err,
    size_t err_len)
{
	PGresult *r;
	int ok = 1;
	size_t off = 0;

	if (b->err != PGCOPY_OK) {
		snprintf(err, err_len, "COPY: %s", pgcopy_strerror(b->err));
		return -1;
	}
	r = PQexec(c, sql);
	if (r == NULL || PQresultStatus(r) != PGRES_COPY_IN) {
		first_line(err, err_len, "COPY", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(c));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	while (ok && off < b->len) {
		size_t n = b->len - off > (1U << 20) ? (1U << 20) : b->len - off;

		if (PQputCopyData(c, (const char *)b->p + off, (int)n) != 1)
			ok = 0;
		off += n;
	}
	if (PQputCopyEnd(c, ok ? NULL : "aborted") != 1) {
		first_line(err, err_len, "COPY end", PQerrorMessage(c));
		return -1;
	}
	r = PQgetResult(c);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		first_line(err, err_len, "COPY", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(c));
		ok = 0;
	}
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	return ok ? 0 : -1;
}

int
bench_exec(PGconn *c, const char *sql, char *err, size_t err_len)
{
	PGresult *r = PQexec(c, sql);
	int ok = r != NULL && (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK);

	if (!ok)
		first_line(err, err_len, "query", r ? PQresultErrorMessage(r) :
		    PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}

double
bench_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void
bench_result(const char *name, uint64_t records, uint64_t bytes,
    double seconds, double cpu_s)
{
	double rps = seconds > 0 ? (double)records / seconds : 0;
	double mbs = seconds > 0 ? (double)bytes / seconds / 1e6 : 0;

	printf("RESULT name=%s records=%llu bytes=%llu seconds=%.3f "
	    "records_per_s=%.1f mb_per_s=%.2f cpu_s=%.2f\n", name,
	    (unsigned long long)records, (unsigned long long)bytes, seconds, rps,
	    mbs, cpu_s);
	fflush(stdout);
}
