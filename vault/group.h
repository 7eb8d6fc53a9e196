/* vault/group.h — what counts as a usable ristretto255 element or scalar.
 *
 * Public keys, commitments, public shares, R and S points, shares and
 * blinding factors all pass these checks before use; wrap, tenant,
 * threshold and the share file ask here, so "usable" means one thing.
 */
#ifndef COFFER_VAULT_GROUP_H
#define COFFER_VAULT_GROUP_H

#include <stddef.h>

#define VAULT_POINT_BYTES       32U   /* ristretto255 element */
#define VAULT_SCALAR_BYTES      32U   /* ristretto255 scalar */

/* 1 for a canonical encoding of a group element other than the identity;
 * else 0. */
int vault_point_usable(const unsigned char p[VAULT_POINT_BYTES]);

/* 1 for a canonical (< L), non-zero scalar; else 0.  Constant time:
 * shares are secret. */
int vault_scalar_usable(const unsigned char s[VAULT_SCALAR_BYTES]);

/* x = the scalar of a small index (custodian numbers, the constant 1). */
void vault_scalar_from_index(unsigned char x[VAULT_SCALAR_BYTES],
                             unsigned int index);

/* λ = Π_{j≠which} x_j / (x_j − x_which), the Lagrange weight at 0 of
 * index[which] over count distinct indices 1..255 (the caller checks they
 * are distinct: a repeated index makes a zero denominator, refused).  0, or
 * -1 with lambda zeroed. */
int vault_lagrange_at0(const unsigned int *index, size_t count, size_t which,
                       unsigned char lambda[VAULT_SCALAR_BYTES])
    __attribute__((warn_unused_result));

#endif
