/* tests/fuzz/fuzz_import_telegram.c — agent/import/telegram.c on hostile
 * result.json (no media directory: every file is missing).  Byte 0 picks
 * zone and date order; the rest is the file.
 */
#include "tests/fuzz/fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	imp_ctx *c;
	char err[IMP_ERR_MAX];
	int rc;

	if (size < 1)
		return 0;
	c = fi_ctx("telegram", data[0]);
	err[0] = '\0';
	rc = imp_telegram(c, (const char *)data + 1, size - 1, NULL, err,
	    sizeof(err));
	fi_done(&c, rc, err);
	return 0;
}
