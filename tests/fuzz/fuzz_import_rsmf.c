/* tests/fuzz/fuzz_import_rsmf.c — agent/import/rsmf.c on hostile .rsmf
 * messages (GMime), rsmf.zip archives (libarchive) and manifests
 * (jansson), told apart by content as imp_rsmf_file does.  Byte 0 picks
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
	c = fi_ctx("rsmf", data[0]);
	err[0] = '\0';
	rc = imp_rsmf_buf(c, data + 1, size - 1, err, sizeof(err));
	fi_done(&c, rc, err);
	return 0;
}
