/* vault/mem.h — secure memory and process hardening.
 *
 * Long-lived secrets (tenant shares, epoch keys, blind-index keys, signing
 * keys) live in sodium_malloc memory: guard pages, mlock'd, wiped on free.
 * Short-lived stack copies are wiped with vault_wipe() on every path.
 */
#ifndef COFFER_VAULT_MEM_H
#define COFFER_VAULT_MEM_H

#include <stddef.h>

/* Initialise libsodium; safe to call more than once. 0 or -1. */
int   vault_init(void) __attribute__((warn_unused_result));

/* Guarded, locked allocation (sodium_malloc); NULL on failure. */
void *vault_secure_alloc(size_t n) __attribute__((warn_unused_result));

/* Wipe and release memory from vault_secure_alloc; accepts NULL. */
void  vault_secure_free(void *p);

/* Wipe a temporary buffer (sodium_memzero). */
void  vault_wipe(void *p, size_t n);

/* Wipe the first n bytes of a malloc block, then free it; accepts NULL. */
void  vault_free_wiped(void *p, size_t n);

/* Grow a malloc block that holds content: a new block of new_cap bytes
 * with the first len bytes of old (NULL: none), the old one (old_cap
 * bytes) wiped and freed — realloc would leave its bytes on the heap.
 * NULL when out of memory, old untouched. */
void *vault_grow(void *old, size_t len, size_t old_cap, size_t new_cap)
      __attribute__((warn_unused_result));

/* Daemon hardening: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0, so neither a core
 * file nor ptrace from a same-uid process can read secrets. 0 or -1 with a
 * message in err. */
int   vault_harden_process(char *err, size_t err_len)
      __attribute__((warn_unused_result));

#endif
