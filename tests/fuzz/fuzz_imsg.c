/* tests/fuzz/fuzz_imsg.c — libFuzzer target for what the gateway's sealer
 * reads from the network process (gateway/imsg.c, gateway/sealer.c): the
 * input is written to a real socketpair as a stream of messages, and read
 * back with the sealer's own calls — imsg_read_hdr, then per type the
 * sealer's rule: SUBMIT through sealer_read_submit (max body 4 KiB),
 * RELOAD exactly empty, PEER exactly one peer block through
 * sealer_peer_get, METRICS exactly 4 bytes.  The first refusal ends the
 * stream, as it ends the sealer.
 *
 * Beyond "does not crash": an accepted SUBMIT's body has exactly the
 * header's length minus the peer block, and its peer fields are
 * NUL-terminated strings; nothing accepted has a length outside its rule.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/imsg.h"
#include "gateway/sealer.h"

#define FZ_MAX_BODY 4096U

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char blk[SEALER_PEER_BYTES];
	char err[160];
	ingest_peer p;
	imsg_hdr h;
	int sv[2];

	if (size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
		abort();
	close(sv[0]);
	for (;;) {
		int rc = imsg_read_hdr(sv[1], &h);
		char *body = NULL;
		size_t blen = 0;

		if (rc <= 0)
			break;
		if (h.type == IMSG_SUBMIT) {
			if (sealer_read_submit(sv[1], &h, FZ_MAX_BODY, &p, &body, &blen,
			    err, sizeof(err)) != 0)
				break;
			if (blen != h.len - SEALER_PEER_BYTES || blen > FZ_MAX_BODY ||
			    (blen > 0) != (body != NULL) ||
			    strnlen(p.tenant, sizeof(p.tenant)) == sizeof(p.tenant) ||
			    strnlen(p.device, sizeof(p.device)) == sizeof(p.device) ||
			    strnlen(p.fingerprint, sizeof(p.fingerprint)) ==
			    sizeof(p.fingerprint))
				abort();
			free(body);
		} else if (h.type == IMSG_RELOAD) {
			if (imsg_expect(&h, IMSG_RELOAD, 0, 0, err, sizeof(err)) != 0)
				break;
		} else if (h.type == IMSG_PEER) {
			if (imsg_expect(&h, IMSG_PEER, SEALER_PEER_BYTES,
			    SEALER_PEER_BYTES, err, sizeof(err)) != 0 ||
			    imsg_read(sv[1], blk, sizeof(blk)) != 0 ||
			    sealer_peer_get(&p, blk) != 0)
				break;
		} else if (h.type == IMSG_METRICS) {
			uint32_t room;

			if (imsg_expect(&h, IMSG_METRICS, 4, 4, err, sizeof(err)) != 0 ||
			    imsg_read(sv[1], &room, 4) != 0)
				break;
		} else {
			break;
		}
	}
	close(sv[1]);
	return 0;
}
