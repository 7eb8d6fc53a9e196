/* common/imsg.h — typed, size-checked messages between the two processes
 * of each daemon (OpenSMTPD's imsg, reduced to what Coffer needs): the
 * gateway's network and sealer processes, the API's front and keeper.
 *
 * A message is a 16-byte header — type (u32), payload length (u32), id
 * (u64), host byte order: both ends are the same binary on the same
 * machine — followed by exactly `len` payload bytes, over a SOCK_STREAM
 * socketpair.  Each receiver knows, per type, the exact length or the
 * bounds it accepts and refuses anything else before reading the payload:
 * a wrong type, a wrong length or a short read is a protocol error, and a
 * process that sees one exits (the other side is broken or hostile).
 *
 * Blocking I/O, EINTR retried; SIGPIPE must be ignored.  Each function
 * returns 0 or -1 with errno set (EPROTO for a malformed header, 0 at a
 * clean end of stream: see imsg_read_hdr).
 */
#ifndef COFFER_COMMON_IMSG_H
#define COFFER_COMMON_IMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define IMSG_HDR_BYTES 16U
#define IMSG_IOV_MAX   4

/* The messages.  net → sealer: SUBMIT, RELOAD (data channel), PEER,
 * METRICS (control channel).  sealer → net: DONE (data), READY, PEER_R,
 * METRICS_R (control).  Payload layouts are in gateway/sealer.h; a
 * SUBMIT carries no request body, only the lines the network process
 * validated, as typed fields (gateway/batch.h), so the sealer reads
 * lengths and bytes, never JSON. */
enum {
	IMSG_SUBMIT = 1,
	IMSG_RELOAD,
	IMSG_DONE,
	IMSG_PEER,
	IMSG_PEER_R,
	IMSG_METRICS,
	IMSG_METRICS_R,
	IMSG_READY,
	/* coffer-api, front → keeper (layouts in api/keeper.h); every one is
	 * answered by one KREPLY with the same id. */
	IMSG_KTOKENS = 32,
	IMSG_KSEED_NEW,
	IMSG_KSEED_HAS,
	IMSG_KSEED_DESTROY,
	IMSG_KBLIND,
	IMSG_KAUDIT_SIGN,
	IMSG_KHEAD_SIGN,
	IMSG_KBUILD,
	IMSG_KREPLY,
	IMSG_KREADY,
	IMSG_KMETRICS,
	IMSG_KENTERED_SEAL,
	IMSG_KENTERED_OPEN
};

typedef struct imsg_hdr {
	uint32_t type;
	uint32_t len;
	uint64_t id;
} imsg_hdr;

/* Write the header and the payload parts (at most IMSG_IOV_MAX, total
 * below 4 GiB) in full. */
int imsg_write(int fd, uint32_t type, uint64_t id, const struct iovec *iov,
               int iovcnt) __attribute__((warn_unused_result));

/* Read one header.  1: read; 0: the stream ended cleanly before a header
 * (the other process closed or exited); -1: error or a header cut short
 * (errno EPROTO). */
int imsg_read_hdr(int fd, imsg_hdr *h) __attribute__((warn_unused_result));

/* Read exactly n bytes.  0 or -1 (EPROTO when the stream ends early). */
int imsg_read(int fd, void *buf, size_t n) __attribute__((warn_unused_result));

/* 0 when h is of type `type` and min <= h->len <= max, else -1 with a
 * message naming both ("SUBMIT of 12 bytes, want 321..67109185"). */
int imsg_expect(const imsg_hdr *h, uint32_t type, size_t min, size_t max,
                char *err, size_t err_len) __attribute__((warn_unused_result));

/* The message's name ("SUBMIT"), or "unknown". */
const char *imsg_name(uint32_t type);

#endif
