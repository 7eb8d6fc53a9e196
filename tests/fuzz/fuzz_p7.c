/* tests/fuzz/fuzz_p7.c — libFuzzer target for coffer-agent's reader of the
 * enrollment server's answer, agent_enroll_p7_cert() (agent/enroll.c): a
 * base64 certs-only PKCS#7.
 *
 * The first input byte picks the mode: even, the rest is the answer as
 * received; odd, the rest is DER, base64-encoded here, so the PKCS#7 and
 * certificate parsers are reached.  Beyond "does not crash": a certificate
 * that comes back re-encodes (i2d_X509) without error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/enroll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;
	size_t blen;
	X509 *x;

	if (size < 1 || size > 65536)
		return 0;
	if ((data[0] & 1) == 0) {
		if ((body = malloc(size)) == NULL)
			return 0;
		memcpy(body, data + 1, size - 1);
		blen = size - 1;
	} else {
		if ((body = malloc(4 * (size / 3 + 1) + 1)) == NULL)
			return 0;
		EVP_EncodeBlock((unsigned char *)body, data + 1, (int)(size - 1));
		blen = strlen(body);
	}
	x = agent_enroll_p7_cert(body, blen);
	if (x != NULL) {
		unsigned char *der = NULL;

		if (i2d_X509(x, &der) <= 0)
			abort();
		OPENSSL_free(der);
		X509_free(x);
	}
	free(body);
	return 0;
}
