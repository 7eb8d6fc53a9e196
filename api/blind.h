/* api/blind.h — each matter's blinding seed, kept only on the API host.
 *
 * Custodians answer R' = ρ·R (vault/threshold.h), ρ derived from a 32-byte
 * seed per matter.  The seed is the only thing that turns stored blinded
 * partials back into a release, so it never reaches the database: it lives
 * in <blind_dir>/<matter uuid>.seed (0600, directory 0700),
 * 48 bytes: blind id (16, the generation, also in matters.blind_id and in
 * each approval it was used for) ‖ seed (32).
 *
 * Lifetime: made when the matter is created (or, for a matter without a
 * usable seed, when a custodian next asks for it while the matter is open);
 * destroyed — overwritten, synced, unlinked — when the matter's build ends
 * (ready or failed) or the matter is closed.  Window: from creation to the
 * end of the build, a copy of this file together with the database opens
 * the matter's epochs; after it, nothing on the API host or in the database
 * does.  Keep the directory out of backups (tmpfs is fine: a lost seed only
 * means the custodians approve again).
 *
 * A seed file whose blind id is not the matter's is treated as missing.
 */
#ifndef COFFER_API_BLIND_H
#define COFFER_API_BLIND_H

#include <stddef.h>

#include <libpq-fe.h>

#include "vault/threshold.h"

#define API_BLIND_ID_BYTES   16U
#define API_BLIND_FILE_BYTES (API_BLIND_ID_BYTES + VAULT_BLIND_SEED_BYTES)

/* The participants as the legal user entered them (a JSON array), sealed
 * under the matter's seed so that the database, its WAL and its backups
 * never hold them readable (README "Threat model"):
 *
 *   key    = BLAKE2b-256-keyed(seed, "coffer-entered-v1" ‖ matter id)
 *   sealed = nonce (24, random) ‖ XChaCha20-Poly1305(key, json,
 *            ad = tenant id ‖ matter id)
 *
 * Once the seed is destroyed (build ended, matter closed, seed lost) the
 * bytes never open again, in any copy: crypto-shredding. */
#define API_ENTERED_MAX      (1U << 20)          /* json bytes */
#define API_ENTERED_OVERHEAD (24U + 16U)         /* nonce ‖ tag */


int  api_blind_dir_init(const char *blind_dir, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Seeds made before blind_dir existed lived in <productions_dir>/.blind,
 * which the front can read: move each one into blind_dir (rename, so
 * never two copies) and remove the old directory.  0 (nothing to move,
 * or moved: logged), -1 with a message (another file system: move them by
 * hand). */
int  api_blind_migrate(const char *productions_dir, const char *blind_dir,
                       char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* The seed of matter (uuid text) for blind id want into guarded memory
 * (*seed_out, free with vault_secure_free), read with keyfile_load.  0
 * found; 1 missing or of another generation; -1 error (err), a file of
 * the wrong size included. */
int  api_blind_load(const char *blind_dir, const char *matter,
                    const unsigned char want[API_BLIND_ID_BYTES],
                    unsigned char **seed_out, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* A new seed and blind id for matter, written (replacing any older one)
 * before it is returned.  0 or -1. */
int  api_blind_create(const char *blind_dir, const char *matter,
                      unsigned char blind_id_out[API_BLIND_ID_BYTES],
                      unsigned char **seed_out, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* seal set: json in (1..API_ENTERED_MAX bytes) sealed for (tenant,
 * matter) under seed into out (in_len + API_ENTERED_OVERHEAD bytes);
 * seal 0: what that made, opened into out (in_len - API_ENTERED_OVERHEAD
 * bytes).  0, or -1 (out wiped, err): bad sizes, or it does not open —
 * another seed, tenant or matter, or altered bytes. */
int  api_blind_entered(int seal, const unsigned char seed[VAULT_BLIND_SEED_BYTES],
                       const unsigned char tenant[16],
                       const unsigned char matter[16],
                       const unsigned char *in, size_t in_len,
                       unsigned char *out, size_t out_cap, size_t *out_len,
                       char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Overwrite, sync and unlink the matter's seed file; absent is fine. */
void api_blind_destroy(const char *blind_dir, const char *matter);

/* Destroy every seed file under blind_dir whose matter is
 * gone, neither open nor building, or of another generation, and every
 * leftover temporary file; at start-up, before builds resume.  0 or -1
 * (database or directory error in err). */
int  api_blind_sweep(PGconn *db, const char *blind_dir, char *err,
                     size_t err_len) __attribute__((warn_unused_result));

#endif
