/* tests/fuzz/fuzz_import_whatsapp.c — agent/import/whatsapp.c on hostile
 * chat text and zips.  Byte 0: bit 7 set = the rest is a zip (media and
 * _chat.txt), else chat text; the low bits pick the zone and date order
 * (fuzz_import.h).  Every emitted line has passed rec_check.
 */
#include "tests/fuzz/fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	imp_media *m = NULL;
	imp_ctx *c;
	const unsigned char *txt;
	char err[IMP_ERR_MAX];
	size_t tlen;
	int rc;

	if (size < 1)
		return 0;
	c = fi_ctx("whatsapp", data[0]);
	err[0] = '\0';
	if (data[0] & 0x80) {
		rc = imp_media_zip(&m, data + 1, size - 1, &imp_opts_of(c)->lim, err,
		    sizeof(err));
		if (rc == 0) {
			txt = imp_media_entry(m, "_chat.txt", &tlen);
			if (txt != NULL)
				rc = imp_whatsapp_txt(c, (const char *)txt, tlen,
				    "Trip Planning", m, err, sizeof(err));
		}
		imp_media_free(&m);
	} else {
		rc = imp_whatsapp_txt(c, (const char *)data + 1, size - 1,
		    "Alice Smith", NULL, err, sizeof(err));
	}
	fi_done(&c, rc, err);
	return 0;
}
