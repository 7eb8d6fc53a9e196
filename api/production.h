/* api/production.h — build a matter's sealed production (DESIGN.md
 * "Threshold release"; container format in vault/production.h).
 *
 * api_production_build() runs once a matter holds K verified approvals.  In
 * one REPEATABLE READ, READ ONLY transaction on the caller's connection (which
 * must not be inside a transaction) it:
 *
 *   - reads the matter (scope, time range), the requester's X25519 public key,
 *     the tenant's threshold and public key, and the approvals' partials;
 *   - per epoch holding in-scope records: combines K partials into S = t·R
 *     (Lagrange at 0) and unwraps the epoch key into guarded memory; the
 *     tenant key t is never reconstructed;
 *   - streams the in-scope records (server-side cursor, a few hundred rows at
 *     a time, ordered by conversation, channel and sent_at), decrypts each,
 *     and writes, inside one tar streamed through the sealed container:
 *       rsmf/cNNNNNN_YYYY-MM-DD.rsmf RSMF 2.0, one per conversation, channel
 *                                   and UTC day
 *       attachments/CFRnnnnnnn-NN   each attachment (its name in the manifest)
 *       transcripts/cNNNNNN.html|.txt  per conversation (api/prodview.h)
 *       records.jsonl               one record a line, receipt + canonical record
 *                                   + its proof (below)
 *       loadfile.csv, cover.txt, cover.html  load file and cover sheets
 *       manifest.json               receipts (control numbers, attachments),
 *                                   covering checkpoints, the matter, and
 *                                   every file before it with its SHA-256
 *       manifest.sig                the API's signed statement (below)
 *   - writes out_path.tmp, fsyncs it, renames it to out_path, fsyncs the
 *     directory.
 *
 * Plaintext never reaches the disk unencrypted: what must be buffered before
 * its size is known (records.jsonl, manifest.json, each RSMF file) goes to
 * unlinked temporary files next to out_path, sealed under a per-build key
 * held in guarded memory (vault_spool_*).  Memory stays bounded by the
 * largest record, not the production.  Epoch keys, S values and plaintext
 * buffers are wiped on every path.
 *
 * In scope (api_production_count uses the very same predicate), for records
 * r of the matter's tenant:
 *   - matters.time_from <= r.sent_at <= matters.time_to, or the same for
 *     r.received_at (either clock: a backdated record still falls in the
 *     range in which it reached the archive; NULL: open end)
 *   - scope "channels":      r.channel is one of them     (absent/empty: any)
 *   - scope "participants":  r.participant_tokens overlaps them
 *   - scope "conversations": r.conversation_token is one of them
 * matters.scope is a JSON object whose only keys are "participants",
 * "conversations" (arrays of 32-digit hex blind-index tokens; the aliases
 * "participant_tokens" and "conversation_tokens" are accepted), "channels"
 * (array of channel names) and "from"/"to" (informational; the time_from /
 * time_to columns are what counts).  Any other key fails the build: an
 * unknown criterion must never silently widen a production.
 *
 * approvals.partials: the array submitted to POST /v1/matters/{id}/approvals,
 * [{"epoch_id": uuid, "p": hex32, "c": hex32, "z": hex32}, ...]; also read:
 * {"<epoch_id>": {"p": hex, "proof": hex64 | "c"+"z"}} and {"partials": [..]}.
 * Only epochs with partials from at least K approvals are opened; in-scope
 * records of other epochs are left out and counted (excluded_records).  A
 * partial that does not combine into a key that unwraps fails the build,
 * naming the custodian whose proof does not verify.
 *
 * Productions are proofs (issue 13.3).  Each records.jsonl line carries what
 * recomputes its leaf hash from what was delivered — every leaf field
 * (vault/chain.h), the nonce, the ciphertext (base64) and the record key
 * (vault_record_key: that record's key only, never the epoch key), so the
 * opener decrypts and compares with the delivered plaintext — and a proof:
 * the RFC 9162 inclusion path of the leaf in its batch (leaf_index = seq -
 * first_seq, leaf_count = last_seq - first_seq + 1), the batch's prev_head
 * and Merkle root (the chain head recomputes from them) and the batch's
 * gateway checkpoint (null if the batch has none: the opener refuses it).
 * manifest.sig is two lines: a statement (compact JSON: format, node_name,
 * tenant_id, matter_id, recipient_key_id, container_header = BLAKE2b-256 of
 * the container's 140-byte header, record_count and every other file's
 * name, size and BLAKE2b-256) and the hex Ed25519 signature of
 * vault_production_sign over exactly the statement's bytes, by the API
 * node key (opts->sign_sk; a build without it fails).  The opener checks it
 * against a pinned key only, so only the API key holder makes a production
 * that opens: the recipient's public key seals a container, it does not
 * sign one.
 *
 * Thread-safety: no global state; call from any thread with its own PGconn.
 * Call api_production_init() once at start-up, before threads: jansson then
 * wipes every block it frees (the decrypted records are parsed with it).
 */
#ifndef COFFER_API_PRODUCTION_H
#define COFFER_API_PRODUCTION_H

#include <stddef.h>

#include <libpq-fe.h>

#include "api/prodopts.h"

/* The API node key file (signing_key_file: seed ‖ public key, cofferctl
 * node init) into guarded memory (*sk_out, vault_sign_key_free).  0 or -1
 * with a message naming the file. */
int api_production_load_signer(const char *path, unsigned char **sk_out,
                               char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Once per process, before threads (see above). */
void api_production_init(void);

/* The build described above.  progress (may be NULL) is called with the
 * number of records produced so far and the number in scope, every few
 * hundred records and once at the end.  0 or -1 with a message in err (ids
 * and counts only, never content, tokens or key material); on failure
 * nothing is left at out_path or out_path.tmp. */
int api_production_build(PGconn *db, const unsigned char tenant_id[16],
                         const unsigned char matter_id[16],
                         const char *out_path,
                         void (*progress)(void *arg, unsigned long long done,
                                          unsigned long long total),
                         void *arg, char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* The same with options and a result (both may be NULL). */
int api_production_build_ex(PGconn *db, const unsigned char tenant_id[16],
                            const unsigned char matter_id[16],
                            const char *out_path, api_progress_fn progress,
                            void *arg, const api_production_opts *opts,
                            api_production_result *result,
                            char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* In-scope record count and number of distinct epochs holding them, with
 * the build's predicate (for GET /v1/matters/{id}).  0 or -1. */
int api_production_count(PGconn *db, const unsigned char tenant_id[16],
                         const unsigned char matter_id[16],
                         unsigned long long *records,
                         unsigned long long *epochs,
                         char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
