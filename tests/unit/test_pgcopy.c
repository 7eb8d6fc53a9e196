/* tests/unit/test_pgcopy.c — common/pgcopy.c, the binary COPY encoder the
 * gateway's writer and the benchmarks share (no database needed).
 *
 * The exact bytes of the header, of a tuple with NULL, int8, bytea, text,
 * timestamptz, smallint and array fields, of the trailer and of the
 * bind-parameter array form; then every rejection path, each of which
 * must leave the buffer as it was, set err, and keep every later call a
 * no-op until pgcopy_reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "common/pg.h"
#include "common/pgcopy.h"

#ifdef __SANITIZE_ADDRESS__
/* test_enomem asks for SIZE_MAX bytes: ASan should say NULL, not abort. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

static const unsigned char header[PGCOPY_HEADER_BYTES] = {
	'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0x00,
	0x00, 0x00, 0x00, 0x00,            /* flags */
	0x00, 0x00, 0x00, 0x00,            /* header extension */
};

/* A distinct address for length-only rejections: never read. */
static const unsigned char dummy[1] = { 0 };

static void
test_header_tuple_trailer(void **state)
{
	static const unsigned char tuple[] = {
		0x00, 0x05,                                        /* 5 fields */
		0xff, 0xff, 0xff, 0xff,                            /* NULL */
		0x00, 0x00, 0x00, 0x08,                            /* int8 -2 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0x00, 0x00, 0x00, 0x03, 0xde, 0x00, 0xad,          /* bytea */
		0x00, 0x00, 0x00, 0x03, 'h', 0xc3, 0xa9,           /* text "hé" */
		0x00, 0x00, 0x00, 0x08,         /* 2023-11-14 22:13:20.123456Z */
		0x00, 0x02, 0xad, 0x22, 0xdc, 0xe8, 0x42, 0x40,
	};
	static const unsigned char trailer[] = { 0xff, 0xff };
	static const unsigned char bytea[3] = { 0xde, 0x00, 0xad };
	pgcopy b = PGCOPY_INIT;

	(void)state;
	pgcopy_header(&b);
	pgcopy_tuple(&b, 5);
	pgcopy_null(&b);
	pgcopy_i64(&b, -2);
	pgcopy_bytes(&b, bytea, sizeof(bytea));
	pgcopy_text(&b, "h\xc3\xa9");
	pgcopy_ts(&b, 1700000000123456LL);
	pgcopy_trailer(&b);
	assert_int_equal(b.err, PGCOPY_OK);
	assert_int_equal(b.len, sizeof(header) + sizeof(tuple) + sizeof(trailer));
	assert_memory_equal(b.p, header, sizeof(header));
	assert_memory_equal(b.p + sizeof(header), tuple, sizeof(tuple));
	assert_memory_equal(b.p + sizeof(header) + sizeof(tuple), trailer,
	    sizeof(trailer));

	/* reset empties and keeps the memory */
	{
		unsigned char *p = b.p;
		size_t cap = b.cap;

		pgcopy_reset(&b);
		assert_int_equal(b.len, 0);
		assert_ptr_equal(b.p, p);
		assert_int_equal(b.cap, cap);
	}
	pgcopy_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	pgcopy_free(&b);                   /* twice is harmless */
	pgcopy_free(NULL);
}

/* smallint, the epoch edges of timestamptz, empty fields. */
static void
test_scalars(void **state)
{
	static const unsigned char want[] = {
		0x00, 0x00, 0x00, 0x02, 0x80, 0x01,                /* int2 -32767 */
		0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,     /* 2000-01-01 */
		0x00, 0x00, 0x00, 0x08,                             /* 1970-01-01 */
		0xff, 0xfc, 0xa2, 0xfe, 0xc4, 0xc8, 0x20, 0x00,
		0x00, 0x00, 0x00, 0x08,                       /* lowest encodable */
		0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x08,                             /* int8 max */
		0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x00, 0x00, 0x00, 0x00,                             /* bytea '' */
		0x00, 0x00, 0x00, 0x00,                             /* text '' */
		0x00, 0x00,                                         /* 0 fields */
	};
	pgcopy b = PGCOPY_INIT;

	(void)state;
	pgcopy_i16(&b, -32767);
	pgcopy_ts(&b, PG_EPOCH_US);
	pgcopy_ts(&b, 0);
	pgcopy_ts(&b, LLONG_MIN + PG_EPOCH_US);
	pgcopy_i64(&b, INT64_MAX);
	pgcopy_bytes(&b, NULL, 0);
	pgcopy_text(&b, "");
	pgcopy_tuple(&b, 0);
	assert_int_equal(b.err, PGCOPY_OK);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	pgcopy_free(&b);
}

/* A bytea[] of two 2-byte elements, both ways; the bare array_recv form;
 * an empty array; a field announced by its length and added raw. */
static void
test_arrays_and_pieces(void **state)
{
	static const unsigned char arr[] = {
		0x00, 0x00, 0x00, 0x20,            /* field: 20 + 2 * (4 + 2) */
		0x00, 0x00, 0x00, 0x01,            /* ndim */
		0x00, 0x00, 0x00, 0x00,            /* no NULLs */
		0x00, 0x00, 0x00, 0x11,            /* bytea */
		0x00, 0x00, 0x00, 0x02,            /* dimension */
		0x00, 0x00, 0x00, 0x01,            /* lower bound */
		0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb,
		0x00, 0x00, 0x00, 0x02, 0xcc, 0xdd,
	};
	static const unsigned char empty[] = {
		0x00, 0x00, 0x00, 0x14,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x19,            /* text */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	};
	static const unsigned char toks[4] = { 0xaa, 0xbb, 0xcc, 0xdd };
	static const unsigned char raw[] = {
		0x00, 0x00, 0x00, 0x03, 'x', 'y', 'z',
		0x7f, 0xff, 0xff, 0xff,            /* the longest field length */
	};
	const void *elems[2] = { toks, toks + 2 };
	const size_t lens[2] = { 2, 2 };
	pgcopy b = PGCOPY_INIT;

	(void)state;
	pgcopy_array(&b, PGCOPY_BYTEA_OID, elems, lens, 2);
	assert_int_equal(b.err, PGCOPY_OK);
	assert_int_equal(b.len, sizeof(arr));
	assert_memory_equal(b.p, arr, sizeof(arr));

	pgcopy_reset(&b);
	pgcopy_array_fixed(&b, PGCOPY_BYTEA_OID, toks, 2, 2);
	assert_int_equal(b.err, PGCOPY_OK);
	assert_int_equal(b.len, sizeof(arr));
	assert_memory_equal(b.p, arr, sizeof(arr));

	/* the bind-parameter form: no field length in front */
	pgcopy_reset(&b);
	pgcopy_array_head(&b, PGCOPY_BYTEA_OID, 2);
	pgcopy_bytes(&b, toks, 2);
	pgcopy_bytes(&b, toks + 2, 2);
	assert_int_equal(b.err, PGCOPY_OK);
	assert_int_equal(b.len, sizeof(arr) - 4);
	assert_memory_equal(b.p, arr + 4, sizeof(arr) - 4);

	pgcopy_reset(&b);
	pgcopy_array(&b, PGCOPY_TEXT_OID, NULL, NULL, 0);
	pgcopy_array_fixed(&b, PGCOPY_TEXT_OID, NULL, 16, 0);
	assert_int_equal(b.err, PGCOPY_OK);
	assert_int_equal(b.len, 2 * sizeof(empty));
	assert_memory_equal(b.p, empty, sizeof(empty));
	assert_memory_equal(b.p + sizeof(empty), empty, sizeof(empty));

	pgcopy_reset(&b);
	pgcopy_field_len(&b, 3);
	pgcopy_put(&b, "xyz", 3);
	pgcopy_field_len(&b, PGCOPY_FIELD_MAX);
	pgcopy_put(&b, NULL, 0);
	assert_int_equal(b.err, PGCOPY_OK);
	assert_int_equal(b.len, sizeof(raw));
	assert_memory_equal(b.p, raw, sizeof(raw));
	pgcopy_free(&b);
}

/* The buffer grows past its first allocation without losing bytes. */
static void
test_growth(void **state)
{
	pgcopy b = PGCOPY_INIT;
	unsigned char big[10000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7);
	pgcopy_header(&b);
	for (i = 0; i < 5; i++)
		pgcopy_bytes(&b, big, sizeof(big));
	assert_int_equal(b.err, PGCOPY_OK);
	assert_int_equal(b.len, PGCOPY_HEADER_BYTES + 5 * (4 + sizeof(big)));
	assert_memory_equal(b.p, header, sizeof(header));
	for (i = 0; i < 5; i++) {
		const unsigned char *f = b.p + PGCOPY_HEADER_BYTES +
		    i * (4 + sizeof(big));

		assert_true(vault_be32_get(f) == sizeof(big));
		assert_memory_equal(f + 4, big, sizeof(big));
	}
	pgcopy_free(&b);
}

/* -- rejections ------------------------------------------------------------ */

enum rej {
	REJ_TUPLE_FIELDS, REJ_BYTES_LONG, REJ_BYTES_NULL, REJ_TEXT_NULL,
	REJ_TS_LOW, REJ_ARRAY_N, REJ_ARRAY_ELEMS_NULL, REJ_ARRAY_LENS_NULL,
	REJ_ARRAY_ELEM_NULL, REJ_ARRAY_ELEM_LONG, REJ_ARRAY_SUM,
	REJ_ARRAY_FIELD, REJ_FIXED_NULL, REJ_FIXED_ELEM_LONG,
	REJ_FIXED_PRODUCT, REJ_FIXED_FIELD, REJ_FIELD_LEN, REJ_HEAD_N,
	REJ_PUT_NULL, REJ_PUT_WRAP
};

static const struct {
	enum rej    what;
	const char *name;
	int         err;
} rejections[] = {
	{ REJ_TUPLE_FIELDS,     "tuple of 32768 fields",         PGCOPY_ERANGE },
	{ REJ_BYTES_LONG,       "bytes longer than int32",       PGCOPY_ERANGE },
	{ REJ_BYTES_NULL,       "bytes NULL, n > 0",             PGCOPY_EINVAL },
	{ REJ_TEXT_NULL,        "text NULL",                     PGCOPY_EINVAL },
	{ REJ_TS_LOW,           "timestamp below the epoch shift", PGCOPY_ERANGE },
	{ REJ_ARRAY_N,          "array of too many elements",    PGCOPY_ERANGE },
	{ REJ_ARRAY_ELEMS_NULL, "array elems NULL",              PGCOPY_EINVAL },
	{ REJ_ARRAY_LENS_NULL,  "array lengths NULL",            PGCOPY_EINVAL },
	{ REJ_ARRAY_ELEM_NULL,  "array element NULL, len > 0",   PGCOPY_EINVAL },
	{ REJ_ARRAY_ELEM_LONG,  "array element longer than int32", PGCOPY_ERANGE },
	{ REJ_ARRAY_SUM,        "array elements sum past int32", PGCOPY_ERANGE },
	{ REJ_ARRAY_FIELD,      "array field past int32 (heads)", PGCOPY_ERANGE },
	{ REJ_FIXED_NULL,       "fixed array elems NULL",        PGCOPY_EINVAL },
	{ REJ_FIXED_ELEM_LONG,  "fixed element longer than int32", PGCOPY_ERANGE },
	{ REJ_FIXED_PRODUCT,    "fixed n * len past int32",      PGCOPY_ERANGE },
	{ REJ_FIXED_FIELD,      "fixed field past int32 (heads)", PGCOPY_ERANGE },
	{ REJ_FIELD_LEN,        "field length past int32",       PGCOPY_ERANGE },
	{ REJ_HEAD_N,           "array head of too many elements", PGCOPY_ERANGE },
	{ REJ_PUT_NULL,         "put NULL, n > 0",               PGCOPY_EINVAL },
	{ REJ_PUT_WRAP,         "put past SIZE_MAX",             PGCOPY_ERANGE },
};

static void
reject(pgcopy *b, enum rej what)
{
	const void *two[2] = { dummy, dummy };
	const void *one_null[2] = { dummy, NULL };
	size_t lens[2] = { 1, 1 };

	switch (what) {
	case REJ_TUPLE_FIELDS:
		pgcopy_tuple(b, PGCOPY_NFIELDS_MAX + 1);
		break;
	case REJ_BYTES_LONG:
		pgcopy_bytes(b, dummy, (size_t)PGCOPY_FIELD_MAX + 1);
		break;
	case REJ_BYTES_NULL:
		pgcopy_bytes(b, NULL, 1);
		break;
	case REJ_TEXT_NULL:
		pgcopy_text(b, NULL);
		break;
	case REJ_TS_LOW:
		pgcopy_ts(b, LLONG_MIN + PG_EPOCH_US - 1);
		break;
	case REJ_ARRAY_N:
		/* rejected on n alone, before any element is looked at */
		pgcopy_array(b, PGCOPY_TEXT_OID, two, lens,
		    ((size_t)PGCOPY_FIELD_MAX - 20) / 4 + 1);
		break;
	case REJ_ARRAY_ELEMS_NULL:
		pgcopy_array(b, PGCOPY_TEXT_OID, NULL, lens, 2);
		break;
	case REJ_ARRAY_LENS_NULL:
		pgcopy_array(b, PGCOPY_TEXT_OID, two, NULL, 2);
		break;
	case REJ_ARRAY_ELEM_NULL:
		pgcopy_array(b, PGCOPY_TEXT_OID, one_null, lens, 2);
		break;
	case REJ_ARRAY_ELEM_LONG:
		lens[1] = (size_t)PGCOPY_FIELD_MAX + 1;
		pgcopy_array(b, PGCOPY_TEXT_OID, two, lens, 2);
		break;
	case REJ_ARRAY_SUM:
		lens[0] = PGCOPY_FIELD_MAX;
		pgcopy_array(b, PGCOPY_TEXT_OID, two, lens, 2);
		break;
	case REJ_ARRAY_FIELD:
		/* elements fit an int32, with their heads they do not */
		lens[0] = PGCOPY_FIELD_MAX / 2;
		lens[1] = PGCOPY_FIELD_MAX / 2;
		pgcopy_array(b, PGCOPY_TEXT_OID, two, lens, 2);
		break;
	case REJ_FIXED_NULL:
		pgcopy_array_fixed(b, PGCOPY_BYTEA_OID, NULL, 16, 1);
		break;
	case REJ_FIXED_ELEM_LONG:
		pgcopy_array_fixed(b, PGCOPY_BYTEA_OID, dummy,
		    (size_t)PGCOPY_FIELD_MAX + 1, 1);
		break;
	case REJ_FIXED_PRODUCT:
		pgcopy_array_fixed(b, PGCOPY_BYTEA_OID, dummy, 1U << 16, 1U << 15);
		break;
	case REJ_FIXED_FIELD:
		pgcopy_array_fixed(b, PGCOPY_BYTEA_OID, dummy, 1,
		    (size_t)PGCOPY_FIELD_MAX / 4);
		break;
	case REJ_FIELD_LEN:
		pgcopy_field_len(b, (size_t)PGCOPY_FIELD_MAX + 1);
		break;
	case REJ_HEAD_N:
		pgcopy_array_head(b, PGCOPY_BYTEA_OID, (size_t)PGCOPY_FIELD_MAX + 1);
		break;
	case REJ_PUT_NULL:
		pgcopy_put(b, NULL, 1);
		break;
	case REJ_PUT_WRAP:
		pgcopy_put(b, dummy, SIZE_MAX - b->len + 1);
		break;
	}
}

static void
test_rejections(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
		pgcopy b = PGCOPY_INIT;
		size_t len;

		print_message("rejection: %s\n", rejections[i].name);
		pgcopy_header(&b);
		len = b.len;
		reject(&b, rejections[i].what);
		assert_int_equal(b.err, rejections[i].err);
		/* nothing of the rejected field was written */
		assert_int_equal(b.len, len);
		assert_memory_equal(b.p, header, sizeof(header));
		/* sticky: later calls neither write nor change the reason */
		pgcopy_tuple(&b, 1);
		pgcopy_i64(&b, 1);
		pgcopy_put(&b, "x", 1);
		pgcopy_null(&b);
		pgcopy_trailer(&b);
		pgcopy_header(&b);
		pgcopy_bytes(&b, NULL, 1);  /* a second, different rejection */
		assert_int_equal(b.len, len);
		assert_int_equal(b.err, rejections[i].err);
		/* reset clears the reason; the buffer works again */
		pgcopy_reset(&b);
		assert_int_equal(b.err, PGCOPY_OK);
		pgcopy_header(&b);
		assert_int_equal(b.len, sizeof(header));
		pgcopy_free(&b);
	}
}

/* realloc failing: a request no allocator grants. */
static void
test_enomem(void **state)
{
	pgcopy b = PGCOPY_INIT;

	(void)state;
	pgcopy_header(&b);
	pgcopy_put(&b, dummy, SIZE_MAX - b.len);
	assert_int_equal(b.err, PGCOPY_ENOMEM);
	assert_int_equal(b.len, PGCOPY_HEADER_BYTES);
	assert_memory_equal(b.p, header, sizeof(header));
	pgcopy_i16(&b, 1);
	assert_int_equal(b.len, PGCOPY_HEADER_BYTES);
	assert_int_equal(b.err, PGCOPY_ENOMEM);
	pgcopy_free(&b);
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(pgcopy_strerror(PGCOPY_OK), "no error");
	assert_string_equal(pgcopy_strerror(PGCOPY_ENOMEM), "out of memory");
	assert_string_equal(pgcopy_strerror(PGCOPY_ERANGE),
	    "value out of range for binary COPY");
	assert_string_equal(pgcopy_strerror(PGCOPY_EINVAL),
	    "no data for a binary COPY field");
	assert_string_equal(pgcopy_strerror(99), "unknown binary COPY error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_tuple_trailer),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_arrays_and_pieces),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_enomem),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
