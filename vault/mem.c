/* vault/mem.c — secure memory and process hardening.
 *
 * Trusts libsodium for guarded allocation. Hardening is best done before any
 * secret is loaded; callers in daemons do it first thing in main().
 */
#include "vault/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

int
vault_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void *
vault_secure_alloc(size_t n)
{
	if (vault_init() != 0)
		return NULL;
	return sodium_malloc(n);
}

void
vault_secure_free(void *p)
{
	if (p != NULL)
		sodium_free(p);
}

void
vault_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		sodium_memzero(p, n);
}

void
vault_free_wiped(void *p, size_t n)
{
	if (p != NULL) {
		vault_wipe(p, n);
		free(p);
	}
}

void *
vault_grow(void *old, size_t len, size_t old_cap, size_t new_cap)
{
	void *p = malloc(new_cap);

	if (p == NULL)
		return NULL;
	if (old != NULL) {
		memcpy(p, old, len);
		vault_free_wiped(old, old_cap);
	}
	return p;
}

int
vault_harden_process(char *err, size_t err_len)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0) {
		snprintf(err, err_len, "setrlimit(RLIMIT_CORE): %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, err_len, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return -1;
	}
	return 0;
}
