/* common/sslerr.c — sslerr_set() (see sslerr.h).  OpenSSL's error strings
 * name a library, a function and a reason; they carry no key material. */
#include "common/sslerr.h"

#include <stdio.h>

#include <openssl/err.h>

void
sslerr_set(char *err, size_t err_len, const char *what, const char *otherwise)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, err_len, "%s: %s", what, buf);
	} else if (otherwise != NULL) {
		snprintf(err, err_len, "%s: %s", what, otherwise);
	} else {
		snprintf(err, err_len, "%s", what);
	}
	ERR_clear_error();
}
