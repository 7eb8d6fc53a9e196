/* vault/err.c — vault_err_set() (see err.h). */
#include "vault/err.h"

#include <stdarg.h>
#include <stdio.h>

void
vault_err_set(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}
