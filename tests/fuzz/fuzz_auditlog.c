/* tests/fuzz/fuzz_auditlog.c — libFuzzer target for the offline reader of
 * exported audit logs (ctl/audit.c ctl_audit_check, `cofferctl audit
 * verify`): any bytes, with and without node pins.
 *
 * Beyond "does not crash": the status is one of clean, tampered, could
 * not run; a refusal always has a printable message; a clean verdict
 * means the input holds a signed head, so any input the fuzzer makes
 * "clean" must carry a valid Ed25519 signature of the fixture's key over
 * the chain it holds (with pins, the fixture's pinned key).
 *
 * Seeds (FUZZ_WRITE_SEEDS, tests/fuzz/seeds.sh): exports of 1 and 3
 * events from tests/lib/auditlog_fixture.h, and near misses (head cut,
 * a line dropped, an edited detail).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pins.h"
#include "common/verify.h"
#include "ctl/audit.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/lib/auditlog_fixture.h"
#include "vault/mem.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pins_node  fz_pin;
static pins_nodes fz_pins;

static void
fz_write_seeds(void)
{
	static char buf[16384];
	char *p;

	if (getenv("FUZZ_WRITE_SEEDS") == NULL)
		return;
	if (alf_export(buf, sizeof(buf), 1) != 0)
		abort();
	fz_seed("one-event", buf, strlen(buf));
	if (alf_export(buf, sizeof(buf), 3) != 0)
		abort();
	fz_seed("three-events", buf, strlen(buf));
	/* the head cut off */
	p = strstr(buf, "{\"head\"");
	fz_seed("no-head", buf, (size_t)(p - buf));
	/* detail edited */
	p = strstr(buf, "\\\"n\\\": 2");
	p[7] = '9';
	fz_seed("edited", buf, strlen(buf));
	fz_seeds_done();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char *sk = NULL;

	(void)argc;
	(void)argv;
	fz_deterministic_rng();
	if (vault_init() != 0)
		abort();
	fz_write_seeds();
	snprintf(fz_pin.name, sizeof(fz_pin.name), "%s", ALF_NODE);
	if (alf_keys(fz_pin.pk, &sk) != 0)
		abort();
	vault_sign_key_free(&sk);
	fz_pins.v = &fz_pin;
	fz_pins.n = 1;
	snprintf(fz_pins.path, sizeof(fz_pins.path), "fuzz.pins");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ctl_audit_result r;
	int i;

	for (i = 0; i < 2; i++) {
		int st = ctl_audit_check((const char *)data, size,
		    i == 0 ? NULL : &fz_pins, NULL, &r);

		if (st != r.status || (st != VERIFY_OK && st != VERIFY_TAMPERED &&
		    st != VERIFY_ERROR))
			abort();
		if (st != VERIFY_OK)
			fz_msg(r.message);
		else if (r.head_event_no == 0 || r.events != r.head_event_no ||
		    r.head_node[0] == '\0')
			abort();
	}
	return 0;
}
