/* tests/fuzz/fuzz_record.c — libFuzzer target for the ingest line validator
 * (gateway/record.c), the first code that sees a device's bytes.
 *
 * Checks beyond "does not crash": an accepted line yields a canonical form
 * that is itself valid UTF-8 JSON and parses back to an accepted record with
 * the same tokens; a rejection never echoes input bytes (the reason is one
 * of the fixed texts, so it contains no byte outside printable ASCII).
 * The input as a whole request body goes through the network process's
 * batch_build too: the sealer's batch_decode must accept every batch it
 * builds (the bounds of gateway/batch.h hold for any input), and the
 * tokens of each accepted line must be rec_parse's.  And rec_check, which
 * reads the common line itself, must answer exactly as rec_check_jansson
 * (the same fields and canonical bytes, or the same reason).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/batch.h"
#include "common/jtext.h"
#include "gateway/record.h"
#include "vault/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_bik[VAULT_BIK_BYTES] = { 0x42 };
static const batch_limits fuzz_lim = { 1U << 20, 1U << 16, 64 };
static int fuzz_ready;

/* What the validator sends, the sealer accepts; its tokens are rec_parse's
 * for a one-line body. */
static void
fuzz_batch(const uint8_t *data, size_t size, const rec *whole, int whole_ok)
{
	unsigned char *enc = NULL;
	char err[160], reason[REC_REASON_MAX];
	size_t elen = 0, i;
	batch b;
	rec r;

	if (batch_build((const char *)data, size, "dev-1", 5, &fuzz_lim, &enc,
	    &elen, err, sizeof(err)) != 0)
		abort();
	if (batch_decode(&b, enc, elen, &fuzz_lim, err, sizeof(err)) != 0)
		abort();
	for (i = 0; b.lines != NULL && i < b.nlines; i++) {
		if (b.lines[i].kind != BATCH_ACCEPTED)
			continue;
		if (rec_tokens(&r, &b.lines[i].f, fuzz_bik, "dev-1", 5, reason,
		    sizeof(reason)) != 0)
			abort();
		/* one line, no '\n' or '\r' to split or drop: the same record */
		if (b.nlines == 1 && memchr(data, '\n', size) == NULL &&
		    (size == 0 || data[size - 1] != '\r') &&
		    (!whole_ok || r.plaintext_len != whole->plaintext_len ||
		    memcmp(r.plaintext, whole->plaintext, r.plaintext_len) != 0 ||
		    memcmp(r.dedup_token, whole->dedup_token,
		    VAULT_TOKEN_BYTES) != 0 ||
		    r.n_participants != whole->n_participants ||
		    memcmp(r.participant_tokens, whole->participant_tokens,
		    r.n_participants * VAULT_TOKEN_BYTES) != 0))
			abort();
		rec_clear(&r);
	}
	batch_free(&b);
}

/* rec_check's fast path and jansson agree on this line, or abort. */
static void
fuzz_same(const uint8_t *data, size_t size)
{
	rec_checked a, b;
	char ra[REC_REASON_MAX], rb[REC_REASON_MAX];
	int rca, rcb;

	rca = rec_check(&a, (const char *)data, size, "dev-1", 5, ra, sizeof(ra));
	rcb = rec_check_jansson(&b, (const char *)data, size, "dev-1", 5, rb,
	    sizeof(rb));
	if (rca != rcb || strcmp(a.id, b.id) != 0)
		abort();
	if (rca != 0) {
		if (strcmp(ra, rb) != 0)
			abort();
		return;
	}
	if (a.heartbeat != b.heartbeat ||
	    memcmp(&a.hb, &b.hb, sizeof(a.hb)) != 0 ||
	    a.f.channel != b.f.channel || a.f.sent_at_us != b.f.sent_at_us ||
	    a.f.capture_seq != b.f.capture_seq || a.f.id_len != b.f.id_len ||
	    a.f.conversation_len != b.f.conversation_len ||
	    a.f.participants_len != b.f.participants_len ||
	    a.f.n_participants != b.f.n_participants ||
	    a.f.plaintext_len != b.f.plaintext_len)
		abort();
	if (!a.heartbeat &&
	    (memcmp(a.f.id, b.f.id, a.f.id_len) != 0 ||
	    memcmp(a.f.conversation, b.f.conversation,
	    a.f.conversation_len) != 0 ||
	    memcmp(a.f.participants, b.f.participants,
	    a.f.participants_len) != 0 ||
	    memcmp(a.f.plaintext, b.f.plaintext, a.f.plaintext_len) != 0))
		abort();
	rec_checked_clear(&a);
	rec_checked_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rec r, again;
	char reason[REC_REASON_MAX];
	size_t i;

	if (!fuzz_ready) {
		if (vault_init() != 0)
			abort();
		rec_init();
		fuzz_ready = 1;
	}
	fuzz_same(data, size);
	if (rec_parse(&r, (const char *)data, size, fuzz_bik, "dev-1", 5,
	    reason, sizeof(reason)) != 0) {
		for (i = 0; reason[i] != '\0'; i++)
			if ((unsigned char)reason[i] < 0x20 ||
			    (unsigned char)reason[i] >= 0x7f)
				abort();
		if (i == 0 || r.plaintext != NULL)
			abort();
		fuzz_batch(data, size, &r, 0);
		rec_clear(&r);
		return 0;
	}
	fuzz_batch(data, size, &r, 1);
	if (r.plaintext == NULL || r.channel == NULL || r.n_participants == 0 ||
	    !jtext_utf8_valid(r.plaintext, r.plaintext_len))
		abort();
	/* The canonical form carries "device", which the validator refuses
	 * from a client: it must come back as an unknown field, nothing else. */
	if (rec_parse(&again, (const char *)r.plaintext, r.plaintext_len,
	    fuzz_bik, "dev-1", 5, reason, sizeof(reason)) == 0 ||
	    strcmp(reason, "unknown field") != 0)
		abort();
	rec_clear(&again);
	rec_clear(&r);
	return 0;
}
