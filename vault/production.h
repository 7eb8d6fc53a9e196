/* vault/production.h — the sealed production container, encrypted spools,
 * and legal users' X25519 production keys.
 *
 * Like the rest of vault/, no I/O: the writers hand ciphertext to a caller's
 * sink, the readers take ciphertext in pieces of any size and hand
 * plaintext to a caller's sink, key files are byte buffers.
 *
 * Production container, version 1 (integers big-endian):
 *
 *   off  len  field
 *     0   14  magic "COFFER-PROD-1\n"
 *    14    1  version = 1
 *    15    1  flags = 0 (reserved; refused when non-zero)
 *    16    4  chunk size C (plaintext bytes per chunk, u32), 1 KiB..1 MiB
 *    20   16  recipient key id = BLAKE2b-128(pk, personal "coffer-prodkid-1")
 *    36   80  crypto_box_seal(K) to the recipient's X25519 public key,
 *             K the 32-byte crypto_secretstream_xchacha20poly1305 key
 *   116   24  crypto_secretstream_xchacha20poly1305 header
 *   140  ...  chunks, each u32 length L ‖ L bytes of secretstream output:
 *             every chunk but the last carries exactly C plaintext bytes
 *             (L = C + 17) and is tagged TAG_MESSAGE; the last carries 0..C
 *             bytes and is the only one tagged TAG_FINAL.  Every chunk's
 *             additional data is the whole 140-byte header.  L itself is
 *             not secret; a changed L makes the chunk fail to authenticate.
 *
 * K is fresh for every production and lives only in guarded memory.  The
 * stream's own nonce sequence makes a reordered, dropped or duplicated
 * chunk fail to open; a stream that ends without a FINAL chunk is
 * truncated; bytes after the FINAL chunk are refused.  An empty production
 * is one FINAL chunk of 0 bytes (L = 17).
 *
 * Spools (temporary files of the production builder, never stored): the
 * same chunked secretstream under a random key that never leaves guarded
 * memory, with only the 24-byte secretstream header in front (and that
 * header as every chunk's additional data).  One spool key
 * may seal any number of spools (each stream has its own random header).
 *
 * Production key file, version 1: exactly VAULT_KEYFILE_BYTES (184) bytes.
 *
 *   off  len  field
 *     0   12  magic "COFFER-XSKEY"
 *    12    1  version = 1
 *    13    3  zero
 *    16   16  tenant id
 *    32   16  user id
 *    48   32  X25519 public key
 *    80    8  Argon2id13 opslimit (u64, little-endian like share files)
 *    88    8  Argon2id13 memlimit in bytes (u64, little-endian)
 *    96   16  Argon2id salt
 *   112   24  XChaCha20-Poly1305-IETF nonce
 *   136   48  ciphertext of the 32-byte X25519 secret key ‖ tag
 *
 *   key = crypto_pwhash(Argon2id13, passphrase, salt, opslimit, memlimit),
 *   ad  = bytes 0..135.  KDF limits as for share files (vault/sharefile.h),
 *   bounded before any derivation.  After opening, the secret key must give
 *   the stored public key.
 */
#ifndef COFFER_VAULT_PRODUCTION_H
#define COFFER_VAULT_PRODUCTION_H

#include <stddef.h>

#include "vault/wrap.h"

#define VAULT_PROD_MAGIC           "COFFER-PROD-1\n"
#define VAULT_PROD_MAGIC_BYTES     14U
#define VAULT_PROD_VERSION         1U
#define VAULT_PROD_HEADER_BYTES    140U
#define VAULT_PROD_CHUNK_BYTES     65536U       /* what the writers use */
#define VAULT_PROD_CHUNK_MIN       1024U
#define VAULT_PROD_CHUNK_MAX       1048576U
#define VAULT_PROD_CHUNK_OVERHEAD  17U          /* secretstream ABYTES */
#define VAULT_PROD_CHUNK_LEN_BYTES 4U           /* u32 length in front */
#define VAULT_SPOOL_HEADER_BYTES   24U

#define VAULT_BOX_PK_BYTES         32U          /* X25519 */
#define VAULT_BOX_SK_BYTES         32U
#define VAULT_BOX_KEYID_BYTES      16U

#define VAULT_KEYFILE_BYTES        184U
#define VAULT_KEYFILE_VERSION      1U

/* Where a writer's ciphertext (or a reader's plaintext) goes: 0, or -1 to
 * stop the stream (the sink keeps its own reason, e.g. errno).  Plaintext
 * handed to a sink is wiped as soon as the sink returns. */
typedef int (*vault_sink_fn)(void *arg, const unsigned char *data, size_t len);

typedef struct vault_stream_writer vault_stream_writer;  /* private */
typedef struct vault_stream_reader vault_stream_reader;  /* private */
typedef struct vault_spool_key     vault_spool_key;      /* private */

/* -- production container --------------------------------------------- */

/* Start a production sealed to recipient_pk: draws K, seals it, and sends
 * the 140-byte header through sink at once.  *out NULL on failure. */
int  vault_prod_writer_new(vault_stream_writer **out,
                           const unsigned char recipient_pk[VAULT_BOX_PK_BYTES],
                           vault_sink_fn sink, void *arg,
                           char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Append plaintext; full chunks go to the sink as they fill. */
int  vault_stream_write(vault_stream_writer *w, const void *data, size_t len,
                        char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Seal what is buffered as the FINAL chunk.  Nothing may be written after. */
int  vault_stream_finish(vault_stream_writer *w, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Plaintext bytes accepted so far. */
unsigned long long vault_stream_written(const vault_stream_writer *w);

/* The 140-byte header a production writer sent (its hash goes into the
 * signed statement, api/production.h).  -1 for a spool writer. */
int  vault_prod_writer_header(const vault_stream_writer *w,
                              unsigned char out[VAULT_PROD_HEADER_BYTES])
     __attribute__((warn_unused_result));

/* Wipes K, the buffered plaintext and the state; accepts NULL and
 * *w == NULL; sets *w = NULL.  Freeing an unfinished writer leaves a
 * truncated stream behind, which every reader refuses. */
void vault_stream_writer_free(vault_stream_writer **w);

/* Key id of a public key (header field above). */
void vault_box_key_id(const unsigned char pk[VAULT_BOX_PK_BYTES],
                      unsigned char id_out[VAULT_BOX_KEYID_BYTES]);

/* Check the first bytes of a container (at least 36 of them) and return the
 * recipient key id, without any key: lets a tool say "sealed to another
 * key" before asking for a passphrase. */
int  vault_prod_header_key_id(const unsigned char *data, size_t len,
                              unsigned char id_out[VAULT_BOX_KEYID_BYTES],
                              char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Start reading a production with the recipient's secret key (copied into
 * guarded memory until the header is parsed, then wiped).  Feed the
 * container with vault_stream_read in pieces of any size; plaintext goes to
 * sink one chunk at a time, only after that chunk authenticated. */
int  vault_prod_reader_new(vault_stream_reader **out,
                           const unsigned char recipient_sk[VAULT_BOX_SK_BYTES],
                           vault_sink_fn sink, void *arg,
                           char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Production and spool readers alike.  -1 with a message naming the
 * problem: not a production, other version, sealed to another key, a chunk
 * that does not authenticate (tampered or reordered; the chunk number is
 * given), a malformed chunk length, data after the end, or the sink failing
 * ("output failed").  After -1 the reader refuses everything. */
int  vault_stream_read(vault_stream_reader *r, const void *data, size_t len,
                       char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* The input ended: 0 only if the FINAL chunk was seen and authenticated. */
int  vault_stream_read_finish(vault_stream_reader *r, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Plaintext bytes delivered so far. */
unsigned long long vault_stream_read_total(const vault_stream_reader *r);

void vault_stream_reader_free(vault_stream_reader **r);

/* -- spools ------------------------------------------------------------- */

int  vault_spool_key_new(vault_spool_key **out, char *err, size_t err_len)
     __attribute__((warn_unused_result));
void vault_spool_key_free(vault_spool_key **k);   /* wipes; accepts NULL */

/* Writer and reader under a spool key (borrowed: must outlive them). */
int  vault_spool_writer_new(vault_stream_writer **out, const vault_spool_key *k,
                            vault_sink_fn sink, void *arg,
                            char *err, size_t err_len)
     __attribute__((warn_unused_result));
int  vault_spool_reader_new(vault_stream_reader **out, const vault_spool_key *k,
                            vault_sink_fn sink, void *arg,
                            char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Reuse a spool writer for a new stream (new random header, sent through
 * the sink; counters back to 0) without new guarded allocations.  Whatever
 * the old stream had buffered is wiped, not written. */
int  vault_spool_writer_restart(vault_stream_writer *w, const vault_spool_key *k,
                                char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Reuse a spool reader for the next spool (same key), delivering to a new
 * sink. */
int  vault_spool_reader_restart(vault_stream_reader *r, vault_sink_fn sink,
                                void *arg, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Ciphertext size of a spool holding n plaintext bytes (header included),
 * so a caller can size and check its temporary file. */
unsigned long long vault_spool_sealed_size(unsigned long long n);

/* -- production keys ---------------------------------------------------- */

/* New X25519 key pair; the secret key in guarded memory (free with
 * vault_box_key_free).  *sk_out NULL on failure. */
int  vault_box_keypair(unsigned char pk_out[VAULT_BOX_PK_BYTES],
                       unsigned char **sk_out)
     __attribute__((warn_unused_result));
void vault_box_key_free(unsigned char **sk);   /* wipes; accepts NULL */

typedef struct vault_keyfile_info {
	unsigned char      tenant_id[VAULT_ID_BYTES];
	unsigned char      user_id[VAULT_ID_BYTES];
	unsigned char      pk[VAULT_BOX_PK_BYTES];
	unsigned long long opslimit;
	unsigned long long memlimit;
} vault_keyfile_info;

/* Encrypt sk under the passphrase into out (VAULT_KEYFILE_BYTES); info->pk
 * must be sk's public key.  out zeroed on failure. */
int  vault_keyfile_seal(const vault_keyfile_info *info,
                        const unsigned char sk[VAULT_BOX_SK_BYTES],
                        const char *passphrase, size_t passphrase_len,
                        unsigned char *out, size_t out_cap, size_t *out_len,
                        char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Header fields without the passphrase (not authenticated until open). */
int  vault_keyfile_inspect(const unsigned char *file, size_t file_len,
                           vault_keyfile_info *info_out,
                           char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Decrypt: *sk_out in guarded memory (vault_box_key_free).  A wrong
 * passphrase and a tampered file give one message, "wrong passphrase or
 * corrupted key file". */
int  vault_keyfile_open(const unsigned char *file, size_t file_len,
                        const char *passphrase, size_t passphrase_len,
                        vault_keyfile_info *info_out, unsigned char **sk_out,
                        char *err, size_t err_len)
     __attribute__((warn_unused_result));

#endif
