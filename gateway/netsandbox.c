/* gateway/netsandbox.c — see netsandbox.h.  The list is the
 * configuration's; the rules are common/sandbox.c's. */
#include "gateway/netsandbox.h"

#include <stdio.h>

#include "common/sandbox.h"

int
gw_net_sandbox(const gw_config *cfg, char *mode, size_t mode_len, int *abi,
    char *err, size_t err_len)
{
	const sandbox_path paths[] = {
		{ cfg->device_ca_dir, SANDBOX_READ },
	};
	const char *const secrets[] = {
		cfg->keys_dir, cfg->signing_key_file,
	};

	return sandbox_apply(SANDBOX_GATEWAY_NET, paths,
	    sizeof(paths) / sizeof(paths[0]), secrets,
	    sizeof(secrets) / sizeof(secrets[0]), cfg->landlock_required, 0,
	    "keys_dir, signing_key_file", mode, mode_len, abi, err, err_len);
}
