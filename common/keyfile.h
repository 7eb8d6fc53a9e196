/* common/keyfile.h — secret key files into guarded memory, one way.
 *
 * Blind-index keys and node signing keys are raw files of a fixed size,
 * mode 0600/0640, owned by us or root.  keyfile_load() is the one reader:
 * the file is checked (util_check_secret_file) and its bytes are read
 * straight into vault/'s guarded memory, so they never sit on the
 * ordinary heap, not even for a moment.  It lives in common/ because it
 * needs common/util.c's file check, and vault/ may not include common/
 * (common/ includes vault/; tests/tools/include_cycles.py).
 */
#ifndef COFFER_COMMON_KEYFILE_H
#define COFFER_COMMON_KEYFILE_H

#include <stddef.h>

/* Exactly `want` bytes of path into vault_secure_alloc() memory (*out; free
 * with vault_secure_free).  0, or -1 with *out NULL and a message naming
 * path: the secret-file check's, "PATH: No such file or directory" and
 * the like, "PATH: N bytes, expected WANT" for any other size, or
 * "PATH: cannot allocate guarded memory". */
int keyfile_load(const char *path, size_t want, unsigned char **out,
                 char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
