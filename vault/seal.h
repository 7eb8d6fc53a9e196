/* vault/seal.h — epoch keys and record sealing.
 *
 * An epoch key EK (32 random bytes) seals every record a gateway stream
 * receives during one epoch. EK lives only in guarded memory; the gateway
 * keeps it in wrapped form (vault_ek_wrap, to the tenant public key) in the
 * database and wipes it on rotation, so a later compromise of the gateway
 * does not open earlier epochs.
 *
 * Per record:
 *   record_key = crypto_kdf_derive_from_key(32, subkey_id = seq,
 *                                           ctx = "cofferrc", EK)
 *   ct         = XChaCha20-Poly1305-IETF(record_key, nonce, plaintext, AD)
 * with a random 24-byte nonce returned next to the ciphertext (they are stored
 * in separate columns) and AD the canonical encoding below. The record key is
 * derived on the stack and wiped before returning.
 *
 * Record AD, VAULT_RECORD_AD_BYTES = 65 bytes, fixed layout, integers
 * big-endian (received_at as two's complement):
 *
 *   offset  size  field
 *        0     1  version      (VAULT_RECORD_V1 = 0x01)
 *        1    16  tenant_id
 *       17    16  stream_id
 *       33    16  epoch_id
 *       49     8  seq          (uint64)
 *       57     8  received_at  (int64, µs since 1970-01-01T00:00:00Z)
 *
 * so a ciphertext copied to another row (other tenant, stream, epoch, seq or
 * receive time) fails to open.
 *
 * Seal and open allocate nothing and take the epoch as const: one epoch may be
 * used from several threads at once; creating and freeing it may not race
 * with its use.
 */
#ifndef COFFER_VAULT_SEAL_H
#define COFFER_VAULT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "vault/wrap.h"

#define VAULT_RECORD_V1        0x01U
#define VAULT_RECORD_AD_BYTES  65U
#define VAULT_NONCE_BYTES      24U   /* XChaCha20-Poly1305-IETF nonce */
#define VAULT_SEAL_OVERHEAD    16U   /* Poly1305 tag appended to ciphertext */

typedef struct vault_epoch vault_epoch;  /* layout private to seal.c */

/* Fields bound to a record ciphertext. version must be VAULT_RECORD_V1. */
typedef struct vault_record_ad {
	uint8_t       version;
	unsigned char tenant_id[VAULT_ID_BYTES];
	unsigned char stream_id[VAULT_ID_BYTES];
	unsigned char epoch_id[VAULT_ID_BYTES];
	uint64_t      seq;
	int64_t       received_at;
} vault_record_ad;

/* Canonical AD bytes (layout above). Cannot fail. */
void vault_record_ad_encode(const vault_record_ad *ad,
                            unsigned char out[VAULT_RECORD_AD_BYTES]);

/* New epoch for the sealing side: random EK in guarded memory, wrapped to the
 * tenant with vault_ek_wrap. epoch_id NULL: a random (version 4) UUID is
 * chosen. On failure *out is NULL and err says why (never key material). */
int vault_epoch_new(vault_epoch **out,
                    const unsigned char tenant_pk[VAULT_POINT_BYTES],
                    const unsigned char tenant_id[VAULT_ID_BYTES],
                    const unsigned char *epoch_id /* VAULT_ID_BYTES or NULL */,
                    char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Epoch for the release side from an EK already unwrapped by the caller.
 * Copies ek into guarded memory; the caller still wipes its own copy.
 * Such an epoch has no wrapped form (vault_epoch_wrapped returns -1). */
int vault_epoch_from_key(vault_epoch **out,
                         const unsigned char tenant_id[VAULT_ID_BYTES],
                         const unsigned char epoch_id[VAULT_ID_BYTES],
                         const unsigned char ek[VAULT_EK_BYTES],
                         char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Release side, without EK ever leaving guarded memory: vault_ek_unwrap with
 * the combined S = t·R straight into a new epoch. -1 if the key does not
 * unwrap (wrong S, ids or tampered bytes). */
int vault_epoch_unwrap(vault_epoch **out,
                       const unsigned char S[VAULT_POINT_BYTES],
                       const unsigned char R[VAULT_POINT_BYTES],
                       const unsigned char tenant_pk[VAULT_POINT_BYTES],
                       const unsigned char tenant_id[VAULT_ID_BYTES],
                       const unsigned char epoch_id[VAULT_ID_BYTES],
                       const unsigned char wrapped[VAULT_WRAPPED_EK_BYTES],
                       char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Wipes EK and frees; accepts NULL and *e == NULL; sets *e = NULL. */
void vault_epoch_free(vault_epoch **e);

/* Ids of the epoch (copied out). */
void vault_epoch_id(const vault_epoch *e, unsigned char out[VAULT_ID_BYTES]);
void vault_epoch_tenant_id(const vault_epoch *e,
                           unsigned char out[VAULT_ID_BYTES]);

/* R and wrapped EK to store in the epochs table. -1 (outputs zeroed) for an
 * epoch made by vault_epoch_from_key / vault_epoch_unwrap. */
int vault_epoch_wrapped(const vault_epoch *e,
                        unsigned char R_out[VAULT_POINT_BYTES],
                        unsigned char wrapped_out[VAULT_WRAPPED_EK_BYTES])
    __attribute__((warn_unused_result));

/* Seal msg into out (msg_len + VAULT_SEAL_OVERHEAD bytes) and a fresh random
 * nonce. ad->tenant_id and ad->epoch_id must be the epoch's, ad->version
 * VAULT_RECORD_V1; the record key is derived from ad->seq. out may be msg
 * (in place) but must not otherwise overlap it. On failure *out_len is 0 and
 * nonce_out zeroed. */
int vault_seal(const vault_epoch *e, const vault_record_ad *ad,
               const unsigned char *msg, size_t msg_len,
               unsigned char nonce_out[VAULT_NONCE_BYTES],
               unsigned char *out, size_t out_cap, size_t *out_len)
    __attribute__((warn_unused_result));

/* Open a record sealed by vault_seal into out (ct_len - VAULT_SEAL_OVERHEAD
 * bytes). -1 on any mismatch — wrong key, wrong AD, altered nonce or
 * ciphertext, short buffer — with out[0..out_cap) wiped and *out_len 0.
 * out may be ct (in place) but must not otherwise overlap it. */
int vault_open(const vault_epoch *e, const vault_record_ad *ad,
               const unsigned char nonce[VAULT_NONCE_BYTES],
               const unsigned char *ct, size_t ct_len,
               unsigned char *out, size_t out_cap, size_t *out_len)
    __attribute__((warn_unused_result));

/* Productions (issue 13.3): the one record key of ad->seq under the epoch,
 * so a legal user can decrypt that record (and no other) and check that
 * the delivered plaintext is what was sealed.  ad must match the epoch like
 * vault_open's; key_out zeroed on failure. */
#define VAULT_RECORD_KEY_BYTES 32U
int vault_record_key(const vault_epoch *e, const vault_record_ad *ad,
                     unsigned char key_out[VAULT_RECORD_KEY_BYTES])
    __attribute__((warn_unused_result));

/* vault_open with a record key instead of the epoch (same contract). */
int vault_open_record(const unsigned char key[VAULT_RECORD_KEY_BYTES],
                      const vault_record_ad *ad,
                      const unsigned char nonce[VAULT_NONCE_BYTES],
                      const unsigned char *ct, size_t ct_len,
                      unsigned char *out, size_t out_cap, size_t *out_len)
    __attribute__((warn_unused_result));

#endif
