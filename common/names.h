/* common/names.h — the one rule for tenant, user, device and node names.
 *
 * A name is 1 to NAMES_MAX bytes of A-Z a-z 0-9 . _ - and does not start
 * with '.' (a hidden or relative file name) or '-' (an option on a command
 * line).  Names become file names, DN attributes and audit words, so every
 * program checks them with these two functions and nothing else.
 */
#ifndef COFFER_COMMON_NAMES_H
#define COFFER_COMMON_NAMES_H

#include <stddef.h>

#define NAMES_MAX 64U     /* bytes, without the NUL */

/* 1 if the len bytes at s (no NUL needed) are a name, else 0; NULL is not. */
int names_ok(const char *s, size_t len);

/* 0 if name (NUL-terminated) is a name; else -1 and a message naming what,
 * e.g. "invalid device id 'a b': character ' ' is not allowed (use A-Z a-z
 * 0-9 . _ -)".  The refused name is shown made printable and capped. */
int names_check(const char *what, const char *name, char *err,
                size_t err_len) __attribute__((warn_unused_result));

#endif
