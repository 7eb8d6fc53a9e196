/* common/err.h — the caller's error buffer, filled one way everywhere.
 *
 * Functions report failure as -1 and a human message in (err, err_len)
 * supplied by their caller (STYLE.md).  err_set() is the one writer of such
 * buffers for code that formats its messages: NULL or a zero length means
 * the caller does not want the message; the text is always NUL-terminated
 * and truncated to fit.
 */
#ifndef COFFER_COMMON_ERR_H
#define COFFER_COMMON_ERR_H

#include <stddef.h>

void err_set(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
