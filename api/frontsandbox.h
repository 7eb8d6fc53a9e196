/* api/frontsandbox.h — what coffer-api's front may still reach once it
 * serves (README "coffer-api: front and keeper").
 *
 * Landlock: the people CA and CRL (re-read on SIGHUP: their directories,
 * since a refreshed CRL is a new file renamed into place), productions_dir
 * (downloads), the audit witness file (appended after each COMMIT; made
 * now if missing, since Landlock lets a file be written, not created) and
 * the files libpq reads when the pool reconnects (password file, service
 * file, client TLS files named in pg_conninfo or the PG* environment) —
 * plus common/sandbox.c's system files.  Not keys_dir, not
 * signing_key_file, not blind_dir, not the TLS key file (GnuTLS holds
 * it).  Then the SANDBOX_API_FRONT seccomp filter, kill() limited to the
 * keeper.  tests/tools/sandboxprobe calls this very function.
 */
#ifndef COFFER_API_FRONTSANDBOX_H
#define COFFER_API_FRONTSANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "api/config.h"

/* After the drop and once every thread runs.  0 with mode
 * ("seccomp+landlock", "seccomp", "landlock" or "none") and *abi (the
 * Landlock ABI, 0 none); -1 with a message (also when cfg asks for
 * landlock_required and the kernel has none). */
int api_front_sandbox(const api_config *cfg, pid_t keeper, char *mode,
                      size_t mode_len, int *abi, char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
