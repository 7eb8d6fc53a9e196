/* bench/lib/pgcopy.c — binary COPY buffers and shared bench helpers.
 *
 * Trusts the caller for the row layout (field count and types must match
 * the COPY column list; the server rejects the COPY otherwise).  Error
 * messages carry the server's primary text only.
 */
#include "bench/lib/pgcopy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/pg.h"

static void
put(pgcopy *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		unsigned char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
be32(pgcopy *b, uint32_t v)
{
	unsigned char x[4];

	pg_be32_put(x, v);
	put(b, x, 4);
}

static void
be16(pgcopy *b, uint16_t v)
{
	unsigned char x[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(b, x, 2);
}

static void
be64(pgcopy *b, uint64_t v)
{
	unsigned char x[8];

	pg_be64_put(x, v);
	put(b, x, 8);
}
void
pgcopy_reset(pgcopy *b)
{
	b->len = 0;
	b->oom = 0;
}

void
pgcopy_free(pgcopy *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
pgcopy_header(pgcopy *b)
{
	static const unsigned char sig[11] = {
		'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0
	};

	put(b, sig, sizeof(sig));
	be32(b, 0);
	be32(b, 0);
}

void
pgcopy_trailer(pgcopy *b)
{
	be16(b, 0xffff);
}

void
pgcopy_row(pgcopy *b, uint16_t nfields)
{
	be16(b, nfields);
}

void
pgcopy_bytes(pgcopy *b, const void *d, size_t n)
{
	be32(b, (uint32_t)n);
	put(b, d, n);
}

void
pgcopy_null(pgcopy *b)
{
	be32(b, 0xffffffffU);
}

void
pgcopy_i16(pgcopy *b, int16_t v)
{
	be32(b, 2);
	be16(b, (uint16_t)v);
}

void
pgcopy_i64(pgcopy *b, int64_t v)
{
	be32(b, 8);
	be64(b, (uint64_t)v);
}

void
pgcopy_ts(pgcopy *b, long long unix_us)
{
	pgcopy_i64(b, (int64_t)(unix_us - PG_EPOCH_US));
}

void
pgcopy_text(pgcopy *b, const char *s)
{
	pgcopy_bytes(b, s, strlen(s));
}

void
pgcopy_array(pgcopy *b, uint32_t elem_oid, const void *const *elems,
    const size_t *elem_len, size_t n)
{
	size_t i, total = 20;

	for (i = 0; i < n; i++)
		total += 4 + elem_len[i];
	be32(b, (uint32_t)total);
	be32(b, 1);                   /* ndim */
	be32(b, 0);                   /* no NULLs */
	be32(b, elem_oid);
	be32(b, (uint32_t)n);         /* dimension */
	be32(b, 1);                   /* lower bound */
	for (i = 0; i < n; i++)
		pgcopy_bytes(b, elems[i], elem_len[i]);
}

static void
first_line(char *err, size_t err_len, const char *what, const char *msg)
{
	size_t n;

	snprintf(err, err_len, "%s: %s", what, msg ? msg : "(no message)");
	n = strcspn(err, "\n");
	err[n] = '\0';
}

int
pgcopy_run(PGconn *c, const char *sql, const pgcopy *b, char *err,
    size_t err_len)
{
	PGresult *r;
	int ok = 1;
	size_t off = 0;

	if (b->oom) {
		snprintf(err, err_len, "COPY: out of memory");
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
