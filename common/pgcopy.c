/* common/pgcopy.c — binary COPY encoding (see pgcopy.h).
 *
 * Trusts the caller for the row layout; checks only what the format itself
 * cannot carry (int32 field lengths, int16 field counts, the timestamp
 * epoch shift) and NULL data, so no length is ever truncated by a cast
 * into a stream the server would mis-frame.  Every call reserves the room
 * for all it writes before writing: a rejected or failed call leaves the
 * buffer as it was.
 */
#include "common/pgcopy.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"

#define PGCOPY_CAP_MIN     4096U
#define PGCOPY_ARRAY_HEAD  20U     /* ndim, has-NULLs, oid, dim, lbound */
/* Most elements an array field can hold: each costs a 4-byte length. */
#define PGCOPY_ARRAY_NMAX  ((PGCOPY_FIELD_MAX - PGCOPY_ARRAY_HEAD) / 4)

static int
pgcopy_fail(pgcopy *b, int err)
{
	if (b->err == PGCOPY_OK)
		b->err = err;
	return -1;
}

/* Room for n more bytes: 0, or -1 with err set. */
static int
pgcopy_reserve(pgcopy *b, size_t n)
{
	size_t need, cap;
	unsigned char *p;

	if (b->err != PGCOPY_OK)
		return -1;
	if (n > SIZE_MAX - b->len)
		return pgcopy_fail(b, PGCOPY_ERANGE);
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : PGCOPY_CAP_MIN;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->p, cap);
	if (p == NULL)
		return pgcopy_fail(b, PGCOPY_ENOMEM);
	b->p = p;
	b->cap = cap;
	return 0;
}

/* After pgcopy_reserve: cannot fail. */
static void
add(pgcopy *b, const void *d, size_t n)
{
	if (n != 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
add16(pgcopy *b, uint16_t v)
{
	unsigned char x[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	add(b, x, 2);
}

static void
add32(pgcopy *b, uint32_t v)
{
	unsigned char x[4];

	vault_be32_put(x, v);
	add(b, x, 4);
}

static void
add64(pgcopy *b, uint64_t v)
{
	unsigned char x[8];

	vault_be64_put(x, v);
	add(b, x, 8);
}

static void
add_array_head(pgcopy *b, uint32_t elem_oid, size_t n)
{
	add32(b, 1);                  /* ndim */
	add32(b, 0);                  /* no NULLs */
	add32(b, elem_oid);
	add32(b, (uint32_t)n);        /* dimension */
	add32(b, 1);                  /* lower bound */
}

void
pgcopy_reset(pgcopy *b)
{
	b->len = 0;
	b->err = PGCOPY_OK;
}

void
pgcopy_free(pgcopy *b)
{
	if (b == NULL)
		return;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

const char *
pgcopy_strerror(int err)
{
	switch (err) {
	case PGCOPY_OK:
		return "no error";
	case PGCOPY_ENOMEM:
		return "out of memory";
	case PGCOPY_ERANGE:
		return "value out of range for binary COPY";
	case PGCOPY_EINVAL:
		return "no data for a binary COPY field";
	default:
		return "unknown binary COPY error";
	}
}

void
pgcopy_header(pgcopy *b)
{
	static const unsigned char sig[11] = {
		'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0
	};

	if (pgcopy_reserve(b, PGCOPY_HEADER_BYTES) != 0)
		return;
	add(b, sig, sizeof(sig));
	add32(b, 0);                  /* flags: no OIDs */
	add32(b, 0);                  /* header extension length */
}

void
pgcopy_trailer(pgcopy *b)
{
	if (pgcopy_reserve(b, 2) != 0)
		return;
	add16(b, 0xffff);
}

void
pgcopy_tuple(pgcopy *b, size_t nfields)
{
	if (nfields > PGCOPY_NFIELDS_MAX) {
		(void)pgcopy_fail(b, PGCOPY_ERANGE);
		return;
	}
	if (pgcopy_reserve(b, 2) != 0)
		return;
	add16(b, (uint16_t)nfields);
}

void
pgcopy_null(pgcopy *b)
{
	if (pgcopy_reserve(b, 4) != 0)
		return;
	add32(b, 0xffffffffU);
}

void
pgcopy_bytes(pgcopy *b, const void *d, size_t n)
{
	if (n > PGCOPY_FIELD_MAX) {
		(void)pgcopy_fail(b, PGCOPY_ERANGE);
		return;
	}
	if (d == NULL && n > 0) {
		(void)pgcopy_fail(b, PGCOPY_EINVAL);
		return;
	}
	if (pgcopy_reserve(b, 4 + n) != 0)
		return;
	add32(b, (uint32_t)n);
	add(b, d, n);
}

void
pgcopy_text(pgcopy *b, const char *s)
{
	if (s == NULL) {
		(void)pgcopy_fail(b, PGCOPY_EINVAL);
		return;
	}
	pgcopy_bytes(b, s, strlen(s));
}

void
pgcopy_i16(pgcopy *b, int16_t v)
{
	if (pgcopy_reserve(b, 4 + 2) != 0)
		return;
	add32(b, 2);
	add16(b, (uint16_t)v);
}

void
pgcopy_i64(pgcopy *b, int64_t v)
{
	if (pgcopy_reserve(b, 4 + 8) != 0)
		return;
	add32(b, 8);
	add64(b, (uint64_t)v);
}

void
pgcopy_int8multirange(pgcopy *b, const int64_t *lo, const int64_t *hi,
    size_t n)
{
	/* multirange_send: u32 count, then each range_send as u32 length and
	 * bytes: flags (0x02: lower bound inclusive, the canonical int8range
	 * [lo, hi + 1)), then each bound as u32 length and its int8. */
	size_t i, one = 1 + 2 * (4 + 8);

	static const unsigned char lb_inc = 0x02;

	for (i = 0; i < n; i++)
		if (hi[i] < lo[i] || hi[i] == INT64_MAX) {
			(void)pgcopy_fail(b, PGCOPY_EINVAL);
			return;
		}
	if (n > (PGCOPY_FIELD_MAX - 4) / (4 + one)) {
		(void)pgcopy_fail(b, PGCOPY_ERANGE);
		return;
	}
	if (pgcopy_reserve(b, 4 + 4 + n * (4 + one)) != 0)
		return;
	add32(b, (uint32_t)(4 + n * (4 + one)));
	add32(b, (uint32_t)n);
	for (i = 0; i < n; i++) {
		add32(b, (uint32_t)one);
		add(b, &lb_inc, 1);
		add32(b, 8);
		add64(b, (uint64_t)lo[i]);
		add32(b, 8);
		add64(b, (uint64_t)(hi[i] + 1));
	}
}

void
pgcopy_ts(pgcopy *b, long long unix_us)
{
	/* PG_EPOCH_US > 0: only the low end can overflow. */
	if (unix_us < LLONG_MIN + PG_EPOCH_US) {
		(void)pgcopy_fail(b, PGCOPY_ERANGE);
		return;
	}
	pgcopy_i64(b, (int64_t)(unix_us - PG_EPOCH_US));
}

/* The array field's length for n elements of total element bytes sum:
 * 0, or -1 with err set. */
static int
array_len(pgcopy *b, size_t n, size_t sum, size_t *field_len)
{
	/* In this order, so nothing wraps where size_t is 32 bits. */
	if (n > PGCOPY_ARRAY_NMAX ||
	    sum > PGCOPY_FIELD_MAX - PGCOPY_ARRAY_HEAD - 4 * n)
		return pgcopy_fail(b, PGCOPY_ERANGE);
	*field_len = PGCOPY_ARRAY_HEAD + 4 * n + sum;
	return 0;
}

void
pgcopy_array(pgcopy *b, uint32_t elem_oid, const void *const *elems,
    const size_t *elem_len, size_t n)
{
	size_t i, sum = 0, field_len;

	if (n > PGCOPY_ARRAY_NMAX) {          /* before reading n lengths */
		(void)pgcopy_fail(b, PGCOPY_ERANGE);
		return;
	}
	if (n > 0 && (elems == NULL || elem_len == NULL)) {
		(void)pgcopy_fail(b, PGCOPY_EINVAL);
		return;
	}
	for (i = 0; i < n; i++) {
		if (elem_len[i] > PGCOPY_FIELD_MAX - sum) {
			(void)pgcopy_fail(b, PGCOPY_ERANGE);
			return;
		}
		if (elems[i] == NULL && elem_len[i] > 0) {
			(void)pgcopy_fail(b, PGCOPY_EINVAL);
			return;
		}
		sum += elem_len[i];
	}
	if (array_len(b, n, sum, &field_len) != 0 ||
	    pgcopy_reserve(b, 4 + field_len) != 0)
		return;
	add32(b, (uint32_t)field_len);
	add_array_head(b, elem_oid, n);
	for (i = 0; i < n; i++) {
		add32(b, (uint32_t)elem_len[i]);
		add(b, elems[i], elem_len[i]);
	}
}

void
pgcopy_array_fixed(pgcopy *b, uint32_t elem_oid, const void *elems,
    size_t elem_len, size_t n)
{
	const unsigned char *e = elems;
	size_t i, field_len;

	if (n > 0 && elem_len > 0 && elems == NULL) {
		(void)pgcopy_fail(b, PGCOPY_EINVAL);
		return;
	}
	if (elem_len > PGCOPY_FIELD_MAX ||
	    (n > 0 && elem_len > PGCOPY_FIELD_MAX / n)) {
		(void)pgcopy_fail(b, PGCOPY_ERANGE);
		return;
	}
	if (array_len(b, n, n * elem_len, &field_len) != 0 ||
	    pgcopy_reserve(b, 4 + field_len) != 0)
		return;
	add32(b, (uint32_t)field_len);
	add_array_head(b, elem_oid, n);
	for (i = 0; i < n; i++) {
		add32(b, (uint32_t)elem_len);
		add(b, e + i * elem_len, elem_len);
	}
}

void
pgcopy_field_len(pgcopy *b, size_t n)
{
	if (n > PGCOPY_FIELD_MAX) {
		(void)pgcopy_fail(b, PGCOPY_ERANGE);
		return;
	}
	if (pgcopy_reserve(b, 4) != 0)
		return;
	add32(b, (uint32_t)n);
}

void
pgcopy_array_head(pgcopy *b, uint32_t elem_oid, size_t n)
{
	if (n > PGCOPY_FIELD_MAX) {
		(void)pgcopy_fail(b, PGCOPY_ERANGE);
		return;
	}
	if (pgcopy_reserve(b, PGCOPY_ARRAY_HEAD) != 0)
		return;
	add_array_head(b, elem_oid, n);
}

void
pgcopy_put(pgcopy *b, const void *d, size_t n)
{
	if (d == NULL && n > 0) {
		(void)pgcopy_fail(b, PGCOPY_EINVAL);
		return;
	}
	if (pgcopy_reserve(b, n) != 0)
		return;
	add(b, d, n);
}
