/* tests/fuzz/fuzz_import_chatdb.c — agent/import/chatdb.c.  Byte 0 bit 7
 * clear: the rest is an attributedBody for the typedstream reader (the
 * string it returns must lie inside the input).  Set: the rest is a whole
 * chat.db, written to a memfd and opened through /proc/self/fd as the
 * importer opens any file (read-only, immutable, untrusted schema).
 */
#include <sys/mman.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fi_fd = -1;
static imp_media *fi_media;     /* an empty directory: every file missing */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *t;
	char path[64], err[IMP_ERR_MAX];
	imp_ctx *c;
	size_t n;
	int rc;

	if (size < 1)
		return 0;
	if (!(data[0] & 0x80)) {
		if (imp_typedstream_text(data + 1, size - 1, &t, &n) == 0 &&
		    (t < data + 1 || t + n > data + size))
			abort();
		return 0;
	}
	if (fi_fd < 0 && (fi_fd = memfd_create("chatdb", 0)) < 0)
		abort();
	if (ftruncate(fi_fd, 0) != 0 ||
	    pwrite(fi_fd, data + 1, size - 1, 0) != (ssize_t)(size - 1))
		abort();
	if (fi_media == NULL) {
		char d[] = "/tmp/fuzz-chatdb.XXXXXX";

		if (mkdtemp(d) == NULL || imp_media_dir(&fi_media, d, err,
		    sizeof(err)) != 0)
			abort();
		rmdir(d);           /* the open descriptor stays: empty for good */
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fi_fd);
	c = fi_ctx("chatdb", data[0]);
	err[0] = '\0';
	rc = imp_chatdb_file(c, path, fi_media, err, sizeof(err));
	fi_done(&c, rc, err);
	return 0;
}
