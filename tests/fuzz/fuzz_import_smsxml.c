/* tests/fuzz/fuzz_import_smsxml.c — agent/import/smsxml.c (libxml2's
 * xmlReader without entities, DTDs or network) on hostile SMS Backup &
 * Restore XML.  Byte 0 picks zone and date order; the rest is the file.
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
	c = fi_ctx("smsxml", data[0]);
	err[0] = '\0';
	rc = imp_smsxml(c, (const char *)data + 1, size - 1, err, sizeof(err));
	fi_done(&c, rc, err);
	return 0;
}
