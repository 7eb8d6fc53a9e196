/* tests/fuzz/fuzz_imsg.c — libFuzzer target for what the gateway's sealer
 * reads from the network process (common/imsg.c, gateway/sealer.c,
 * gateway/batch.c): the input is written to a real socketpair as a stream
 * of messages, and read back with the sealer's own calls — imsg_read_hdr,
 * then per type the sealer's rule: SUBMIT through sealer_read_submit (the
 * peer block, then the validated lines through batch_decode; max body
 * 4 KiB, lines 1 KiB, 8 records), RELOAD exactly empty, PEER exactly one
 * peer block through sealer_peer_get, METRICS exactly 4 bytes.  The first
 * refusal ends the stream, as it ends the sealer.  Each accepted line then
 * goes through rec_tokens, as the pipeline's next step.
 *
 * Beyond "does not crash": an accepted SUBMIT's batch has exactly the
 * header's length minus the peer block, its peer fields are NUL-terminated
 * strings, and every line's fields lie inside the batch and within
 * record.h's bounds; tokens never fail on what batch_decode accepted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/imsg.h"
#include "gateway/batch.h"
#include "gateway/record.h"
#include "gateway/sealer.h"
#include "vault/mem.h"

static const batch_limits fz_lim = { 4096, 1024, 8 };
static const unsigned char fz_bik[VAULT_BIK_BYTES] = { 0x42 };

#define FZ_IN(b, p, n) ((const unsigned char *)(p) >= (b)->buf && \
    (n) <= (b)->len && \
    (const unsigned char *)(p) - (b)->buf <= (ptrdiff_t)((b)->len - (n)))

static void
fz_check_batch(const batch *b, const ingest_peer *p)
{
	char reason[REC_REASON_MAX];
	size_t i;
	rec r;

	if (b->nlines > b->body_bytes || b->body_bytes > fz_lim.max_body_bytes ||
	    (b->lines != NULL) != (b->nlines > 0 &&
	    b->nlines <= fz_lim.max_records))
		abort();
	for (i = 0; b->lines != NULL && i < b->nlines; i++) {
		const batch_line *l = &b->lines[i];

		switch (l->kind) {
		case BATCH_TOO_LARGE:
			break;
		case BATCH_REJECTED:
			if (!FZ_IN(b, l->id, l->id_len) || l->id_len > REC_ID_MAX ||
			    !FZ_IN(b, l->reason, l->reason_len) ||
			    l->reason_len == 0 || l->reason_len >= REC_REASON_MAX)
				abort();
			break;
		case BATCH_ACCEPTED:
			if (!FZ_IN(b, l->f.id, l->f.id_len) ||
			    !FZ_IN(b, l->f.conversation, l->f.conversation_len) ||
			    !FZ_IN(b, l->f.participants, l->f.participants_len) ||
			    !FZ_IN(b, l->f.plaintext, l->f.plaintext_len) ||
			    l->f.id_len == 0 || l->f.id_len > REC_ID_MAX ||
			    l->f.conversation_len == 0 ||
			    l->f.conversation_len > REC_CONVERSATION_MAX ||
			    l->f.n_participants < 2 ||
			    l->f.n_participants > REC_PARTICIPANTS_MAX ||
			    l->f.plaintext_len == 0)
				abort();
			if (rec_tokens(&r, &l->f, fz_bik, p->device,
			    strlen(p->device), reason, sizeof(reason)) != 0) {
				/* only an empty device (the dedup token's rule) */
				if (p->device[0] != '\0')
					abort();
			} else if (r.n_participants < 1 ||
			    r.n_participants > l->f.n_participants ||
			    r.plaintext_len != l->f.plaintext_len) {
				abort();
			}
			rec_clear(&r);
			break;
		default:
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_ready;

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
	if (!fz_ready) {
		if (vault_init() != 0)
			abort();
		fz_ready = 1;
	}
	for (;;) {
		int rc = imsg_read_hdr(sv[1], &h);
		batch b;

		if (rc <= 0)
			break;
		if (h.type == IMSG_SUBMIT) {
			if (sealer_read_submit(sv[1], &h, &fz_lim, &p, &b, err,
			    sizeof(err)) != 0)
				break;
			if (b.len != h.len - SEALER_PEER_BYTES ||
			    b.len > sealer_submit_max(&fz_lim) - SEALER_PEER_BYTES ||
			    b.buf == NULL ||
			    strnlen(p.tenant, sizeof(p.tenant)) == sizeof(p.tenant) ||
			    strnlen(p.device, sizeof(p.device)) == sizeof(p.device) ||
			    strnlen(p.fingerprint, sizeof(p.fingerprint)) ==
			    sizeof(p.fingerprint))
				abort();
			fz_check_batch(&b, &p);
			batch_free(&b);
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
