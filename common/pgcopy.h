/* common/pgcopy.h — the encoder of COPY ... FROM STDIN (FORMAT binary).
 *
 * One encoder for the gateway's writer (rows of coffer.records) and the
 * benchmarks that measure it.  A pgcopy buffer collects the binary COPY
 * stream — header, tuples, trailer — and the caller sends it with
 * PQputCopyData whenever it likes (the buffer's bytes are p[0..len)).
 *
 * Layout (PostgreSQL "COPY", binary format): an 11-byte signature, int32
 * flags 0, int32 header-extension length 0; each tuple an int16 field count
 * followed by its fields, each an int32 length (-1: NULL) and that many
 * bytes in the type's binary (send/recv) form, big-endian; the trailer an
 * int16 -1.
 *
 * Errors are sticky: the first call that cannot be encoded (a length the
 * format cannot carry, NULL data, allocation failure) writes nothing,
 * records why in err, and every later call is a no-op, so a caller builds
 * whole rows and checks err once before sending.  Never send a buffer
 * whose err is set: it is short of the rejected field.  The caller owns
 * the row layout (field count and types must match the COPY column list;
 * the server rejects the COPY otherwise).
 */
#ifndef COFFER_COMMON_PGCOPY_H
#define COFFER_COMMON_PGCOPY_H

#include <stddef.h>
#include <stdint.h>

#define PGCOPY_BYTEA_OID    17U
#define PGCOPY_TEXT_OID     25U

#define PGCOPY_HEADER_BYTES 19U          /* signature, flags, extension */
#define PGCOPY_FIELD_MAX    0x7fffffffU  /* a field's length is an int32 */
#define PGCOPY_NFIELDS_MAX  0x7fffU      /* a tuple's field count, int16 */

/* pgcopy.err */
#define PGCOPY_OK     0
#define PGCOPY_ENOMEM 1   /* allocation failed */
#define PGCOPY_ERANGE 2   /* a length, count or value the format cannot hold */
#define PGCOPY_EINVAL 3   /* NULL data where bytes were promised */

typedef struct pgcopy {
	unsigned char *p;
	size_t         len, cap;
	int            err;           /* PGCOPY_OK or the first failure */
} pgcopy;
#define PGCOPY_INIT { NULL, 0, 0, PGCOPY_OK }

/* Empty the buffer and clear err; keeps the memory. */
void pgcopy_reset(pgcopy *b);
/* Free the memory; the buffer is PGCOPY_INIT after.  b may be NULL. */
void pgcopy_free(pgcopy *b);
/* "out of memory", "value out of range for binary COPY", …; never NULL. */
const char *pgcopy_strerror(int err);

void pgcopy_header(pgcopy *b);
void pgcopy_trailer(pgcopy *b);
/* Start a tuple of nfields fields (ERANGE above PGCOPY_NFIELDS_MAX). */
void pgcopy_tuple(pgcopy *b, size_t nfields);

/* -- fields ---------------------------------------------------------------- */

void pgcopy_null(pgcopy *b);
/* n bytes as one field (bytea, uuid, or any type's binary form).  ERANGE
 * above PGCOPY_FIELD_MAX; EINVAL for d NULL with n > 0. */
void pgcopy_bytes(pgcopy *b, const void *d, size_t n);
/* A text field, strlen(s) bytes (UTF-8 expected, not checked); s NULL is
 * EINVAL (use pgcopy_null for SQL NULL). */
void pgcopy_text(pgcopy *b, const char *s);
void pgcopy_i16(pgcopy *b, int16_t v);          /* smallint */
void pgcopy_i64(pgcopy *b, int64_t v);          /* bigint */
/* timestamptz from Unix microseconds; ERANGE when the shift to the
 * PostgreSQL epoch (2000-01-01) would overflow. */
void pgcopy_ts(pgcopy *b, long long unix_us);
/* An int8multirange of n ranges [lo[i], hi[i]] (inclusive; the server
 * sorts and merges them).  EINVAL for hi[i] < lo[i] or hi[i] = INT64_MAX. */
void pgcopy_int8multirange(pgcopy *b, const int64_t *lo, const int64_t *hi,
                           size_t n);

/* A one-dimensional array field without NULLs, elements of type elem_oid:
 * n elements of elem_len[i] bytes at elems[i] (pgcopy_array), or n
 * elements of elem_len bytes each, back to back at elems
 * (pgcopy_array_fixed).  ERANGE when n, an element or the whole field is
 * too long for an int32 length; EINVAL for NULL pointers with n > 0. */
void pgcopy_array(pgcopy *b, uint32_t elem_oid, const void *const *elems,
                  const size_t *elem_len, size_t n);
void pgcopy_array_fixed(pgcopy *b, uint32_t elem_oid, const void *elems,
                        size_t elem_len, size_t n);

/* -- pieces ---------------------------------------------------------------- */

/* A field's length word only: the caller then adds exactly n bytes, with
 * pgcopy_put or by sending them from its own buffer (a large ciphertext is
 * not copied).  ERANGE above PGCOPY_FIELD_MAX. */
void pgcopy_field_len(pgcopy *b, size_t n);
/* The array_recv header of a one-dimensional array without NULLs of n
 * elements (no field length: for a binary bind parameter, or after
 * pgcopy_field_len); each element follows as pgcopy_bytes.  ERANGE for
 * n above PGCOPY_FIELD_MAX. */
void pgcopy_array_head(pgcopy *b, uint32_t elem_oid, size_t n);
/* Raw bytes (EINVAL for d NULL with n > 0; ERANGE if the buffer's length
 * would wrap). */
void pgcopy_put(pgcopy *b, const void *d, size_t n);

#endif
