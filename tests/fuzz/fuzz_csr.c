/* tests/fuzz/fuzz_csr.c — libFuzzer target for the enrollment server's CSR
 * reader, ctl_enroll_csr_key() (ctl/enroll.c): the body of an EST
 * simpleenroll request, hostile input from the network.
 *
 * The first input byte picks the mode: even, the rest is the body as sent
 * (base64 text); odd, the rest is DER, base64-encoded here with line
 * breaks, so the PKCS#10 parser and the signature check are reached.
 *
 * Beyond "does not crash": a key comes back exactly when no reason does,
 * it is EC P-256, and a refusal's reason is one of the three fixed ones.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ctl/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	char *body = NULL;
	size_t blen;
	EVP_PKEY *k;

	if (size < 1 || size > 16384)
		return 0;
	if ((data[0] & 1) == 0) {
		body = malloc(size);
		if (body == NULL)
			return 0;
		memcpy(body, data + 1, size - 1);
		blen = size - 1;
	} else {
		size_t n = size - 1, i, o = 0;
		unsigned char *b64 = malloc(4 * ((n + 2) / 3) + 1);

		if (b64 == NULL)
			return 0;
		EVP_EncodeBlock(b64, data + 1, (int)n);
		blen = strlen((const char *)b64);
		body = malloc(blen + blen / 64 + 2);
		if (body == NULL) {
			free(b64);
			return 0;
		}
		for (i = 0; i < blen; i++) {
			body[o++] = (char)b64[i];
			if (i % 64 == 63)
				body[o++] = '\n';
		}
		blen = o;
		free(b64);
	}
	k = ctl_enroll_csr_key(body, blen, &why);
	if (k != NULL) {
		char curve[32];

		if (why != NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
		    EVP_PKEY_get_utf8_string_param(k, "group", curve,
		    sizeof(curve), NULL) != 1 || strcmp(curve, "prime256v1") != 0)
			abort();
		EVP_PKEY_free(k);
	} else if (why == NULL ||
	    (strcmp(why, "the body is not a base64 PKCS#10 CSR") != 0 &&
	    strcmp(why, "the CSR's signature does not verify (no proof of "
	    "possession)") != 0 &&
	    strcmp(why, "the CSR's key must be EC P-256") != 0)) {
		abort();
	}
	free(body);
	return 0;
}
