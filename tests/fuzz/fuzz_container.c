/* tests/fuzz/fuzz_container.c — libFuzzer target for the parsers of sealed
 * files a user opens locally: production containers (`cofferctl export
 * open`) and production key files (headers are parsed before any
 * passphrase is asked for).  Share files: fuzz_sharefile.c; what a
 * container holds once it authenticates (tar, manifest): fuzz_manifest.c.
 *
 * The first input byte picks the parser; for containers the second picks
 * where the stream is split, so the incremental reader sees data arriving
 * in two pieces.  Nothing may crash, leak or read out of bounds; a sink
 * must never receive bytes from a stream that did not authenticate.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vault/mem.h"
#include "vault/production.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char fuzz_pk[VAULT_BOX_PK_BYTES];
static unsigned char *fuzz_sk;

static int
fuzz_sink(void *arg, const unsigned char *d, size_t len)
{
	(void)arg;
	(void)d;
	(void)len;
	/* A random stream cannot carry a valid Poly1305 tag for this key. */
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	if (fuzz_sk == NULL) {
		if (vault_init() != 0 || vault_box_keypair(fuzz_pk, &fuzz_sk) != 0)
			abort();
	}
	if (size < 2)
		return 0;
	switch (data[0] % 2) {
	case 0: {
		vault_keyfile_info info;
		if (vault_keyfile_inspect(data + 1, size - 1, &info, err, sizeof(err)) != 0)
			break;
		break;
	}
	default: {
		vault_stream_reader *r = NULL;
		size_t body = size - 2, cut = body == 0 ? 0 : data[1] % (body + 1);

		if (vault_prod_reader_new(&r, fuzz_sk, fuzz_sink, NULL, err,
		    sizeof(err)) != 0)
			abort();
		if (vault_stream_read(r, data + 2, cut, err, sizeof(err)) == 0 &&
		    vault_stream_read(r, data + 2 + cut, body - cut, err, sizeof(err)) == 0 &&
		    vault_stream_read_finish(r, err, sizeof(err)) == 0)
			abort();   /* random bytes must never form a complete stream */
		vault_stream_reader_free(&r);
		break;
	}
	}
	return 0;
}
