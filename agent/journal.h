/* agent/journal.h — the agent's append-only journal files: framing,
 * checksums, and where a file stops being trustworthy.
 *
 * Both of the agent's journals (agent/outbox.h: the outbox and the
 * receipts) are a sequence of entries
 *
 *     magic   4 bytes  "CAJ1"
 *     type    1 byte   the caller's (1..255; 0 is never written)
 *     zero    3 bytes
 *     len     4 bytes  payload length, little-endian, <= JNL_PAYLOAD_MAX
 *     seq     8 bytes  the caller's number (capture_seq, an offset), LE
 *     payload len bytes
 *     sum     16 bytes BLAKE2b-128 of everything above
 *
 * written by one process that only appends and fsyncs.  A crash (kill -9,
 * power loss) can leave a torn tail: an entry cut short, or one whose bytes
 * did not all reach the disk, possibly followed by zeros the file system
 * allocated.  jnl_scan() tells the two kinds of damage apart:
 *
 *   torn tail   the first bad entry is incomplete, or everything from the
 *               end of its frame to the end of the file is zero bytes: the
 *               caller may cut the file there (nothing after it was ever
 *               fsync'd as a whole, so nothing after it was acknowledged)
 *   damaged     a bad entry (checksum, magic, type, length) with non-zero
 *               bytes after its frame: refused.  Cutting there would drop
 *               entries that may have been acknowledged; the agent stops
 *               and says where, it never guesses.
 *
 * Trusts: nothing in the bytes; every length is bounded before use.
 */
#ifndef COFFER_AGENT_JOURNAL_H
#define COFFER_AGENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JNL_HDR_BYTES    20U
#define JNL_SUM_BYTES    16U
#define JNL_OVERHEAD     (JNL_HDR_BYTES + JNL_SUM_BYTES)
#define JNL_PAYLOAD_MAX  (64U * 1024U * 1024U)

typedef struct jnl_entry {
	unsigned             type;
	uint64_t             seq;
	const unsigned char *data;      /* borrows the scanned buffer */
	size_t               len;
	size_t               off;       /* of the entry's first byte */
} jnl_entry;

/* Called for each valid entry in file order.  0 to go on, -1 to stop the
 * scan with err set (the payload is not what the type says). */
typedef int (*jnl_visit_fn)(void *ctx, const jnl_entry *e, char *err,
                            size_t err_len);

/* Scan buf[0..len).  0: every entry valid (*valid_len == len) or a torn
 * tail from *valid_len on (*torn = 1).  -1: damaged (err names the offset
 * and the fault) or the visitor refused an entry.  *valid_len is the end
 * of the last valid entry in every case. */
int  jnl_scan(const unsigned char *buf, size_t len, jnl_visit_fn visit,
              void *ctx, size_t *valid_len, int *torn, char *err,
              size_t err_len) __attribute__((warn_unused_result));

/* Bytes an entry with a payload of len bytes takes. */
size_t jnl_frame_size(size_t len);

/* Encode one entry into out (jnl_frame_size(len) bytes). */
void jnl_encode(unsigned char *out, unsigned type, uint64_t seq,
                const void *data, size_t len);

#endif
