/* agent/journal.c — entry framing and the torn-tail rule (journal.h).
 *
 * Trusts: nothing in the scanned bytes.  A length is checked against
 * JNL_PAYLOAD_MAX and against what is left of the buffer before anything
 * is read through it; the checksum covers the header too, so a flipped
 * type or seq is caught like a flipped payload byte.
 */
#include "agent/journal.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

static const unsigned char jnl_magic[4] = { 'C', 'A', 'J', '1' };

static void
jnl_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t
jnl_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
jnl_put64(unsigned char *p, uint64_t v)
{
	jnl_put32(p, (uint32_t)v);
	jnl_put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t
jnl_get64(const unsigned char *p)
{
	return (uint64_t)jnl_get32(p) | (uint64_t)jnl_get32(p + 4) << 32;
}

size_t
jnl_frame_size(size_t len)
{
	return JNL_OVERHEAD + len;
}

static void
jnl_sum(unsigned char out[JNL_SUM_BYTES], const unsigned char *frame,
    size_t len)
{
	crypto_generichash(out, JNL_SUM_BYTES, frame, len, NULL, 0);
}

void
jnl_encode(unsigned char *out, unsigned type, uint64_t seq, const void *data,
    size_t len)
{
	memcpy(out, jnl_magic, 4);
	out[4] = (unsigned char)type;
	out[5] = out[6] = out[7] = 0;
	jnl_put32(out + 8, (uint32_t)len);
	jnl_put64(out + 12, seq);
	if (len > 0)
		memcpy(out + JNL_HDR_BYTES, data, len);
	jnl_sum(out + JNL_HDR_BYTES + len, out, JNL_HDR_BYTES + len);
}

static int
jnl_all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

int
jnl_scan(const unsigned char *buf, size_t len, jnl_visit_fn visit, void *ctx,
    size_t *valid_len, int *torn, char *err, size_t err_len)
{
	size_t off = 0;

	*valid_len = 0;
	*torn = 0;
	while (off < len) {
		const unsigned char *h = buf + off;
		size_t left = len - off, plen, frame;
		unsigned char sum[JNL_SUM_BYTES];
		const char *fault = NULL;
		jnl_entry e;

		if (left < JNL_HDR_BYTES) {
			fault = "incomplete header";
			frame = left;
		} else if (memcmp(h, jnl_magic, 4) != 0 || h[4] == 0 ||
		    h[5] != 0 || h[6] != 0 || h[7] != 0) {
			fault = "bad entry header";
			frame = JNL_HDR_BYTES;
		} else if ((plen = jnl_get32(h + 8)) > JNL_PAYLOAD_MAX) {
			fault = "entry length out of range";
			frame = JNL_HDR_BYTES;
		} else if (left < (frame = jnl_frame_size(plen))) {
			fault = "incomplete entry";
			frame = left;
		} else {
			jnl_sum(sum, h, JNL_HDR_BYTES + plen);
			if (sodium_memcmp(sum, h + JNL_HDR_BYTES + plen,
			    JNL_SUM_BYTES) != 0)
				fault = "checksum mismatch";
		}
		if (fault != NULL) {
			/* torn: nothing but zeros (or nothing) after this
			 * frame; else damaged */
			if (frame <= left && jnl_all_zero(h + frame, left - frame)) {
				*torn = 1;
				return 0;
			}
			snprintf(err, err_len, "%s at offset %zu, followed by %zu "
			    "more bytes: the journal is damaged, not torn; refusing "
			    "to cut it", fault, off, left - frame);
			return -1;
		}
		e.type = h[4];
		e.seq = jnl_get64(h + 12);
		e.data = h + JNL_HDR_BYTES;
		e.len = plen;
		e.off = off;
		if (visit != NULL && visit(ctx, &e, err, err_len) != 0)
			return -1;
		off += frame;
		*valid_len = off;
	}
	return 0;
}
