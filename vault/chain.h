/* vault/chain.h — integrity: record leaf hashes, Merkle batch roots, the
 * per-stream hash chain, signed checkpoints, and the audit-event chain.
 *
 * H = BLAKE2b-256 (crypto_generichash, unkeyed, 32-byte output). Integers are
 * big-endian; int64 times are two's complement µs since the Unix epoch (UTC).
 * Every hashed message starts with a distinct byte (0x00 leaf, 0x01 node,
 * 'c' for the "coffer-…" domains), so no input of one kind is one of another.
 *
 * Leaf hash = H(0x00 ‖ leaf encoding)                            (RFC 6962)
 *   u8  leaf format version (VAULT_LEAF_V1 = 0x01)
 *   16  tenant_id
 *   16  stream_id
 *   u64 seq
 *   16  epoch_id
 *   i64 received_at
 *   i64 sent_at
 *   u32 channel length ‖ channel bytes
 *   u8  size_class
 *   u32 participant count ‖ count × 16-byte tokens (in the order given)
 *   u8  conversation present (0 or 1) ‖ 16-byte token if present
 *   16  dedup token
 *   24  nonce
 *   u64 ciphertext length ‖ ciphertext bytes
 * Fixed-size fields are unprefixed, variable ones length-prefixed, so the
 * encoding parses back one way only. It is streamed into the hash state:
 * nothing proportional to the ciphertext is allocated.
 *
 * Merkle root of a batch (RFC 6962 MTH over leaf hashes):
 *   MTH({h}) = h;  MTH(D[0:n]) = H(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])),
 *   k the largest power of two < n. n = 0 is refused.
 *
 * Chain head, per stream, genesis prev_head = 32 zero bytes:
 *   head' = H("coffer-chain-v1" (15 bytes) ‖ tenant_id ‖ stream_id ‖
 *             u64 batch_no ‖ u64 first_seq ‖ u64 last_seq ‖ prev_head ‖ root)
 *
 * Checkpoint message, VAULT_CHECKPOINT_MSG_BYTES = 108 bytes, signed with
 * Ed25519 (detached, 64 bytes):
 *   "coffer-checkpoint-v1" (20 bytes) ‖ tenant_id ‖ stream_id ‖
 *   u64 batch_no ‖ u64 last_seq ‖ head (32) ‖ i64 signed_at
 *
 * Audit chain, genesis prev_hash = 32 zero bytes:
 *   event_hash = H("coffer-audit-v1" (15 bytes) ‖ prev_hash ‖ event bytes)
 * where the caller supplies the event's canonical encoding.
 */
#ifndef COFFER_VAULT_CHAIN_H
#define COFFER_VAULT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "vault/blind.h"
#include "vault/seal.h"
#include "vault/wrap.h"

#define VAULT_HASH_BYTES            32U
#define VAULT_LEAF_V1               0x01U
#define VAULT_SIGN_PK_BYTES         32U   /* Ed25519 public key */
#define VAULT_SIGN_SK_BYTES         64U   /* libsodium form: seed ‖ pk */
#define VAULT_SIGN_SEED_BYTES       32U
#define VAULT_SIG_BYTES             64U
#define VAULT_CHECKPOINT_MSG_BYTES  108U

/* Every stored column of a record row except the leaf hash itself. The
 * pointers are borrowed. */
typedef struct vault_leaf {
	unsigned char        tenant_id[VAULT_ID_BYTES];
	unsigned char        stream_id[VAULT_ID_BYTES];
	uint64_t             seq;
	unsigned char        epoch_id[VAULT_ID_BYTES];
	int64_t              received_at;
	int64_t              sent_at;
	const char          *channel;            /* channel_len bytes */
	size_t               channel_len;
	uint8_t              size_class;
	const unsigned char *participants;       /* participant_count * 16 bytes */
	size_t               participant_count;
	const unsigned char *conversation;       /* 16 bytes, NULL: none */
	unsigned char        dedup[VAULT_TOKEN_BYTES];
	unsigned char        nonce[VAULT_NONCE_BYTES];
	const unsigned char *ciphertext;         /* ciphertext_len bytes */
	size_t               ciphertext_len;
} vault_leaf;

typedef struct vault_checkpoint {
	unsigned char tenant_id[VAULT_ID_BYTES];
	unsigned char stream_id[VAULT_ID_BYTES];
	uint64_t      batch_no;
	uint64_t      last_seq;
	unsigned char head[VAULT_HASH_BYTES];
	int64_t       signed_at;
} vault_checkpoint;

/* A leaf's size_class for a record of plaintext_len bytes: the bit length
 * of the size (0 for 0, 1 for 1, 2 for 2..3, 3 for 4..7, ...).  The leaf
 * and coffer.records.size_class say how large a record is to within a
 * factor of two and no closer; the gateway and the benchmarks that stand
 * in for it compute it here, one way. */
uint8_t vault_size_class(size_t plaintext_len);

/* Leaf hash (encoding above). -1 (out zeroed) on a NULL pointer with a
 * non-zero length or a length that does not fit its prefix. */
int vault_leaf_hash(const vault_leaf *leaf, unsigned char out[VAULT_HASH_BYTES])
    __attribute__((warn_unused_result));

/* Merkle root of n leaf hashes stored back to back (n * 32 bytes). Uses
 * O(log n) stack, no allocation; root may point into leaf_hashes.
 * -1 (root zeroed) for n = 0. */
int vault_merkle_root(const unsigned char *leaf_hashes, size_t n,
                      unsigned char root[VAULT_HASH_BYTES])
    __attribute__((warn_unused_result));

/* Next chain head; new_head may be prev_head (updated in place).
 * -1 (new_head zeroed) if first_seq > last_seq. */
int vault_chain_next(const unsigned char tenant_id[VAULT_ID_BYTES],
                     const unsigned char stream_id[VAULT_ID_BYTES],
                     uint64_t batch_no, uint64_t first_seq, uint64_t last_seq,
                     const unsigned char prev_head[VAULT_HASH_BYTES],
                     const unsigned char merkle_root[VAULT_HASH_BYTES],
                     unsigned char new_head[VAULT_HASH_BYTES])
    __attribute__((warn_unused_result));

/* Checkpoint message bytes (layout above). Cannot fail. */
void vault_checkpoint_encode(const vault_checkpoint *cp,
                             unsigned char out[VAULT_CHECKPOINT_MSG_BYTES]);

/* New Ed25519 key pair; the secret key (VAULT_SIGN_SK_BYTES) in guarded
 * memory, freed with vault_sign_key_free. *sk_out NULL on failure. */
int vault_sign_keypair(unsigned char pk_out[VAULT_SIGN_PK_BYTES],
                       unsigned char **sk_out)
    __attribute__((warn_unused_result));

/* The same key pair again from its 32-byte seed (as kept in a key file). */
int vault_sign_key_from_seed(const unsigned char seed[VAULT_SIGN_SEED_BYTES],
                             unsigned char pk_out[VAULT_SIGN_PK_BYTES],
                             unsigned char **sk_out)
    __attribute__((warn_unused_result));

/* Wipes and frees; accepts NULL; sets *sk = NULL. */
void vault_sign_key_free(unsigned char **sk);

int vault_checkpoint_sign(const unsigned char sk[VAULT_SIGN_SK_BYTES],
                          const vault_checkpoint *cp,
                          unsigned char sig_out[VAULT_SIG_BYTES])
    __attribute__((warn_unused_result));

/* 0 if sig is a valid signature of cp under pk, else -1. */
int vault_checkpoint_verify(const unsigned char pk[VAULT_SIGN_PK_BYTES],
                            const vault_checkpoint *cp,
                            const unsigned char sig[VAULT_SIG_BYTES])
    __attribute__((warn_unused_result));

/* Epoch statement, signed by the gateway node that made the epoch
 * (issue 12): VAULT_EPOCH_MSG_BYTES = 184 bytes
 *   "coffer-epoch-v1" (15 bytes) ‖ u8 0 ‖ tenant_id ‖ stream_id ‖
 *   epoch_id ‖ node_id ‖ R (32) ‖ T (32, the tenant key it was wrapped
 *   to) ‖ wrapped_hash (32) ‖ i64 signed_at (µs, the node's clock when
 *   it made the epoch)
 * wrapped_hash = BLAKE2b-256("coffer-wrapped-v1" ‖ wrapped key), kept in
 * the row too, so a shredded epoch (wrapped key NULL) still verifies. */
#define VAULT_EPOCH_MSG_BYTES  184U

typedef struct vault_epoch_stmt {
	unsigned char tenant_id[VAULT_ID_BYTES];
	unsigned char stream_id[VAULT_ID_BYTES];
	unsigned char epoch_id[VAULT_ID_BYTES];
	unsigned char node_id[VAULT_ID_BYTES];
	unsigned char R[VAULT_POINT_BYTES];
	unsigned char tenant_pk[VAULT_POINT_BYTES];
	unsigned char wrapped_hash[VAULT_HASH_BYTES];
	int64_t       signed_at;
} vault_epoch_stmt;

void vault_wrapped_hash(const unsigned char *wrapped, size_t len,
                        unsigned char out[VAULT_HASH_BYTES]);
void vault_epoch_stmt_encode(const vault_epoch_stmt *e,
                             unsigned char out[VAULT_EPOCH_MSG_BYTES]);
int  vault_epoch_stmt_sign(const unsigned char sk[VAULT_SIGN_SK_BYTES],
                           const vault_epoch_stmt *e,
                           unsigned char sig_out[VAULT_SIG_BYTES])
     __attribute__((warn_unused_result));
/* 0 if sig is a valid signature of e under pk, else -1. */
int  vault_epoch_stmt_verify(const unsigned char pk[VAULT_SIGN_PK_BYTES],
                             const vault_epoch_stmt *e,
                             const unsigned char sig[VAULT_SIG_BYTES])
     __attribute__((warn_unused_result));

/* Audit-event statement (issue 13.5), signed by the writer's node key:
 * VAULT_AUDIT_MSG_BYTES = 123 bytes
 *   "coffer-auditsig-v1" (18 bytes) ‖ u8 0 ‖ tenant_id ‖ u64 event_no ‖
 *   event_hash (32) ‖ node_id (16, the signer) ‖ redactions (32)
 * redactions = vault_audit_redactions_hash() of the tenant's redaction
 * list (coffer.audit_redactions) when the event was written: a redaction
 * row added later breaks every signature that follows it. */
#define VAULT_AUDIT_MSG_BYTES  123U

typedef struct vault_audit_stmt {
	unsigned char tenant_id[VAULT_ID_BYTES];
	uint64_t      event_no;
	unsigned char event_hash[VAULT_HASH_BYTES];
	unsigned char node_id[VAULT_ID_BYTES];
	unsigned char redactions[VAULT_HASH_BYTES];
} vault_audit_stmt;

/* BLAKE2b-256("coffer-redactions-v1" ‖ list): list is the tenant's
 * redacted event numbers, ascending, decimal, comma-separated ("" for
 * none), exactly as string_agg(event_no::text, ',' ORDER BY event_no)
 * prints them. */
void vault_audit_redactions_hash(const char *list, size_t len,
                                 unsigned char out[VAULT_HASH_BYTES]);
void vault_audit_stmt_encode(const vault_audit_stmt *a,
                             unsigned char out[VAULT_AUDIT_MSG_BYTES]);
int  vault_audit_stmt_sign(const unsigned char sk[VAULT_SIGN_SK_BYTES],
                           const vault_audit_stmt *a,
                           unsigned char sig_out[VAULT_SIG_BYTES])
     __attribute__((warn_unused_result));
/* 0 if sig is a valid signature of a under pk, else -1. */
int  vault_audit_stmt_verify(const unsigned char pk[VAULT_SIGN_PK_BYTES],
                             const vault_audit_stmt *a,
                             const unsigned char sig[VAULT_SIG_BYTES])
     __attribute__((warn_unused_result));

/* Next audit-event hash; out may be prev_hash (updated in place).
 * -1 (out zeroed) on event == NULL with a length. */
int vault_audit_next(const unsigned char prev_hash[VAULT_HASH_BYTES],
                     const unsigned char *event, size_t event_len,
                     unsigned char out[VAULT_HASH_BYTES])
    __attribute__((warn_unused_result));

/* -- productions (issue 13.3) ------------------------------------------------
 *
 * Inclusion proof of leaf i in a batch of n leaves (RFC 9162 section 2.1.3):
 * the sibling hashes from the leaf up.  The tree is RFC 6962's, built
 * bottom-up with a lone last node moved up a level unchanged (the same
 * root as vault_merkle_root).  Stored level by level (a moved-up node
 * counted again), a tree of n leaves takes under 2n + 64 hashes; a path
 * at most VAULT_MERKLE_PATH_MAX. */
#define VAULT_MERKLE_PATH_MAX  64U

/* Nodes of the tree of n leaves, level by level (what vault_merkle_tree
 * writes); 0 for n = 0 or an overflow. */
size_t vault_merkle_tree_nodes(size_t n);

/* All levels, leaves first, into tree (vault_merkle_tree_nodes(n) hashes);
 * the root is the last hash.  -1 for n = 0. */
int vault_merkle_tree(const unsigned char *leaf_hashes, size_t n,
                      unsigned char *tree)
    __attribute__((warn_unused_result));

/* The path of leaf index from a tree made by vault_merkle_tree. */
int vault_merkle_path(const unsigned char *tree, size_t n, size_t index,
                      unsigned char path[VAULT_MERKLE_PATH_MAX * VAULT_HASH_BYTES],
                      size_t *path_len)
    __attribute__((warn_unused_result));

/* 0 if leaf, at index of a tree of n leaves, with path (path_len hashes),
 * gives root; else -1. */
int vault_merkle_verify(const unsigned char leaf[VAULT_HASH_BYTES],
                        uint64_t index, uint64_t n,
                        const unsigned char *path, size_t path_len,
                        const unsigned char root[VAULT_HASH_BYTES])
    __attribute__((warn_unused_result));

/* A production's signed statement (api/production.h): Ed25519 over
 *   "coffer-production-v1" (20 bytes) ‖ u8 0 ‖ statement bytes
 * so no checkpoint, epoch statement or audit head is ever one. */
int vault_production_sign(const unsigned char sk[VAULT_SIGN_SK_BYTES],
                          const unsigned char *stmt, size_t stmt_len,
                          unsigned char sig_out[VAULT_SIG_BYTES])
    __attribute__((warn_unused_result));
int vault_production_verify(const unsigned char pk[VAULT_SIGN_PK_BYTES],
                            const unsigned char *stmt, size_t stmt_len,
                            const unsigned char sig[VAULT_SIG_BYTES])
    __attribute__((warn_unused_result));

/* Streaming BLAKE2b-256 of a file delivered in a production. */
typedef struct vault_hasher vault_hasher;   /* private */
int  vault_hasher_new(vault_hasher **out) __attribute__((warn_unused_result));
void vault_hasher_update(vault_hasher *h, const void *data, size_t len);
void vault_hasher_final(vault_hasher *h, unsigned char out[VAULT_HASH_BYTES]);
void vault_hasher_reset(vault_hasher *h);
void vault_hasher_free(vault_hasher **h);

#endif
