/* gateway/netsandbox.c — see netsandbox.h.  The list is the
 * configuration's; the rules are common/sandbox.c's. */
#include "gateway/netsandbox.h"

#include <stdio.h>

#include "common/log.h"
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
	char why[256];
	int ll, sb;

	*abi = 0;
	snprintf(mode, mode_len, "none");
	if (sandbox_paths_exclude(paths, sizeof(paths) / sizeof(paths[0]),
	    secrets, sizeof(secrets) / sizeof(secrets[0]), err, err_len) != 0)
		return -1;
	ll = sandbox_landlock(paths, sizeof(paths) / sizeof(paths[0]), why,
	    sizeof(why));
	if (ll < 0 || (ll == 0 && cfg->landlock_required)) {
		snprintf(err, err_len, "%s%s", why, ll == 0 ?
		    " (landlock_required = 1)" : "");
		return -1;
	}
	if (ll == 0)
		log_warn("%s: the network process can still read every file its "
		    "user can (keys_dir, signing_key_file)", why);
	sb = sandbox_seccomp(SANDBOX_GATEWAY_NET, 0, why, sizeof(why));
	if (sb < 0) {
		snprintf(err, err_len, "%s", why);
		return -1;
	}
	if (sb == 0)
		log_warn("%s", why);
	snprintf(mode, mode_len, "%s%s%s", sb > 0 ? "seccomp" : "",
	    sb > 0 && ll > 0 ? "+" : "", ll > 0 ? "landlock" :
	    (sb > 0 ? "" : "none"));
	*abi = ll;
	return 0;
}
