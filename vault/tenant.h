/* vault/tenant.h — tenant archive key (TAK): generation, Shamir k-of-n split
 * over the ristretto255 scalar field, Feldman commitments, share checks.
 *
 *   t random scalar, T = t·B
 *   f(x) = a_0 + a_1·x + … + a_{k-1}·x^{k-1},  a_0 = t
 *   share s_i = f(i)  (i = 1..n),  public share V_i = s_i·B
 *   commitments C_j = a_j·B  (j = 0..k-1, C_0 = T)
 *
 * t and the coefficients exist only inside vault_tenant_generate() and are
 * wiped before it returns. Shares live in vault_secure_alloc memory owned by
 * the vault_tenant_keys object. Commitments travel as k consecutive 32-byte
 * encodings (C_0 first), VAULT_POINT_BYTES each.
 */
#ifndef COFFER_VAULT_TENANT_H
#define COFFER_VAULT_TENANT_H

#include <stddef.h>

#include "vault/wrap.h"

#define VAULT_CUSTODIANS_MAX        255U  /* custodian indices are 1..255 */
#define VAULT_FINGERPRINT_HEX_BYTES 33U   /* 32 hex digits + NUL */

typedef struct vault_tenant_keys vault_tenant_keys;  /* layout private to tenant.c */

/* Generate a new TAK and split it k-of-n (1 <= k <= n <= 255). */
int  vault_tenant_generate(vault_tenant_keys **out, unsigned int k, unsigned int n,
                           char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Shamir k-of-n split with Feldman commitments: secret NULL draws a random
 * a_0 (a new key), else a_0 = *secret (a re-share dealer splitting its own
 * share).  commitments_out: k points, C_0 first; shares_out: n scalars,
 * f(1)..f(n), in memory the caller allocated with vault_secure_alloc.  The
 * coefficients are wiped before return; on failure both outputs are
 * zeroed. */
int  vault_shamir_split(const unsigned char *secret, unsigned int k, unsigned int n,
                        unsigned char *commitments_out, unsigned char *shares_out,
                        char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Wipes every share, frees, sets *keys = NULL; accepts NULL. */
void vault_tenant_keys_free(vault_tenant_keys **keys);

unsigned int vault_tenant_keys_threshold(const vault_tenant_keys *keys);  /* k */
unsigned int vault_tenant_keys_custodians(const vault_tenant_keys *keys); /* n */

/* T = t·B. */
void vault_tenant_keys_public_key(const vault_tenant_keys *keys,
                                  unsigned char T_out[VAULT_POINT_BYTES]);

/* Copies the k commitments; out_len must be exactly k * VAULT_POINT_BYTES. */
int  vault_tenant_keys_commitments(const vault_tenant_keys *keys,
                                   unsigned char *out, size_t out_len)
     __attribute__((warn_unused_result));

/* V_i = s_i·B for custodian index 1..n. */
int  vault_tenant_keys_public_share(const vault_tenant_keys *keys, unsigned int index,
                                    unsigned char V_out[VAULT_POINT_BYTES])
     __attribute__((warn_unused_result));

/* Borrowed pointer to s_i (VAULT_SCALAR_BYTES, secure memory), valid until
 * vault_tenant_keys_free(); NULL when index is not 1..n. Do not copy it to
 * ordinary memory: hand it straight to vault_sharefile_seal(). */
const unsigned char *vault_tenant_keys_share(const vault_tenant_keys *keys,
                                             unsigned int index);

/* V_i = Σ_j C_j·i^j from the commitments alone, so anyone holding the
 * commitments can check a custodian's published public share. Rejects
 * malformed commitments (length not a non-zero multiple of 32, more than 255,
 * any encoding that is not a non-identity ristretto255 element). */
int  vault_tenant_public_share(const unsigned char *commitments, size_t commitments_len,
                               unsigned int index,
                               unsigned char V_out[VAULT_POINT_BYTES],
                               char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Feldman check: s_i·B == Σ_j C_j·i^j. 0 when the share is consistent. */
int  vault_tenant_verify_share(const unsigned char *commitments, size_t commitments_len,
                               unsigned int index,
                               const unsigned char share[VAULT_SCALAR_BYTES],
                               char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Display fingerprint of a tenant public key: hex of a 16-byte
 * BLAKE2b(T, personal "coffer-tak-fp-v1"). out_len >= VAULT_FINGERPRINT_HEX_BYTES.
 * For humans comparing keys, not a cryptographic identifier. */
int  vault_tenant_fingerprint(const unsigned char T[VAULT_POINT_BYTES],
                              char *out, size_t out_len)
     __attribute__((warn_unused_result));

#endif
