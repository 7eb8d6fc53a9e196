/* gateway/netsandbox.h — what coffer-gateway's network process may still
 * reach once it serves (README "Privilege separation").
 *
 * Landlock: device_ca_dir (the device CAs and CRLs, re-read on SIGHUP)
 * plus common/sandbox.c's system files; not keys_dir, not
 * signing_key_file, not the witness file, not the TLS key file (OpenSSL
 * holds it).  Then the SANDBOX_GATEWAY_NET seccomp filter.
 * tests/tools/sandboxprobe calls this very function.
 */
#ifndef COFFER_GATEWAY_NETSANDBOX_H
#define COFFER_GATEWAY_NETSANDBOX_H

#include <stddef.h>

#include "gateway/config.h"

/* After the drop and once every thread runs.  0 with mode
 * ("seccomp+landlock", "seccomp", "landlock" or "none") and *abi (the
 * Landlock ABI, 0 none); -1 with a message (also when cfg asks for
 * landlock_required and the kernel has none). */
int gw_net_sandbox(const gw_config *cfg, char *mode, size_t mode_len,
                   int *abi, char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
