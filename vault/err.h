/* vault/err.h — the caller's error buffer, filled one way everywhere.
 *
 * Functions report failure as -1 and a human message in (err, err_len)
 * supplied by their caller (STYLE.md).  vault_err_set() is the one writer
 * of such buffers for code that formats its messages: NULL or a zero
 * length means the caller does not want the message; the text is always
 * NUL-terminated and truncated to fit.
 *
 * It lives in vault/, the lowest layer, because vault/ uses it and may not
 * include common/ (common/ includes vault/; tests/tools/include_cycles.py).
 * It touches no secret and depends on nothing but libc.
 */
#ifndef COFFER_VAULT_ERR_H
#define COFFER_VAULT_ERR_H

#include <stddef.h>

void vault_err_set(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
