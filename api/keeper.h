/* api/keeper.h — coffer-api's key process ("keeper").
 *
 * coffer-api runs as two processes, as the gateway does (README "Privilege
 * separation"): the front (the main pid: TLS, HTTP, the handlers, their
 * database pool) holds no key; the keeper (its child, forked before any key
 * is read and before any thread exists) holds every one:
 *
 *   - the tenants' blind-index keys (a matter's or hold's scope is
 *     tokenised here: KTOKENS);
 *   - the API node's signing key: audit events (KAUDIT_SIGN), the signed
 *     audit head (KHEAD_SIGN) and every production;
 *   - the matters' blinding seeds, <productions_dir>/.blind (KSEED_*,
 *     KBLIND: the front sees R' and its proof, never ρ);
 *   - the production builds (KBUILD queues one; api/jobs.h runs it here, on
 *     the keeper's own database connections), so the unblinded epoch keys
 *     and the plaintext of a production never enter the front.
 *
 * Messages are common/imsg.h frames over one SOCK_STREAM socketpair; the
 * front sends one request at a time and the keeper answers each with one
 * KREPLY of the same id:  status (i32) ‖ data.  Layouts (host byte order,
 * ids and points raw; "str" = u32 length ‖ bytes):
 *
 *   KREADY      keeper → front once: node signing public key (32)
 *   KTOKENS     kind (u32: 0 participant, 1 conversation) ‖ count (u32,
 *               1..KEEPER_TOKENS_MAX) ‖ tenant str (1..NAMES_MAX) ‖
 *               count × value str (0..KEEPER_VALUE_MAX)
 *      reply    0: count × 16-byte token; 1: index (u32) ‖ reason text (a
 *               value was refused: vault's reason, never the value);
 *               2 (KEEPER_KEY_UNAVAILABLE): text for the client, naming
 *               <tenant>.bik and what to do, never the path (the
 *               tenant's key file is missing or unusable); -1: text
 *   KSEED_NEW   matter (16)                     reply 0: blind id (16)
 *   KSEED_HAS   matter (16) ‖ blind id (16)     reply 0 found, 1 missing
 *   KSEED_DESTROY matter (16)                   reply 0
 *   KBLIND      matter ‖ blind id ‖ tenant (16 each) ‖ recipient (32) ‖
 *               count (u32, 1..KEEPER_EPOCHS_MAX) ‖ count × (epoch id 16 ‖
 *               R 32)
 *      reply    0: count × (R' 32 ‖ proof 64); 1: no seed of that blind id
 *   KAUDIT_SIGN tenant 16 ‖ event_no u64 ‖ event hash 32 ‖ node id 16 ‖
 *               redactions hash 32              reply 0: signature (64)
 *   KHEAD_SIGN  tenant 16 ‖ event_no u64 ‖ head 32
 *      reply    0: signed_at (i64 µs) ‖ signature (64)
 *   KBUILD      tenant 16 ‖ matter 16           reply 0 queued, -1 full
 *   KMETRICS    (empty)    reply 0: the build counters (API_PROD_COUNT × u64)
 *   KENTERED_SEAL matter ‖ blind id ‖ tenant (16 each) ‖ json
 *               (1..API_ENTERED_MAX): the participants as entered
 *      reply    0: sealed (json + API_ENTERED_OVERHEAD, api/blind.h);
 *               1: no seed of that blind id
 *   KENTERED_OPEN matter ‖ blind id ‖ tenant (16 each) ‖ sealed
 *               (API_ENTERED_OVERHEAD + 1..API_ENTERED_MAX)
 *      reply    0: json; 1: no seed of that blind id;
 *               2 (KEEPER_ENTERED_SHUT): it does not open with this
 *               seed (sealed under an earlier generation, or altered)
 *   The front never sees the seed; the json is wiped in the keeper once
 *   answered, never logged.
 *
 * Every request's length is checked against its exact size or bounds
 * before a payload byte is read, and every inner length must add up to
 * the frame exactly.  A malformed request ends the keeper (the front is
 * then broken or hostile; it exits with it and the supervisor restarts
 * both).  A failed request (-1) carries a fixed text: never a key, a seed,
 * a value or a token.
 *
 * What the keeper still does for whoever controls the front: it tokenises
 * values, signs audit statements and queues builds on request — a captured
 * front can have the keeper sign a forged event while it runs, as it could
 * write one.  It cannot take a key away, and it cannot open a production:
 * a build seals to the matter's frozen recipient key, after K custodians'
 * verified approvals read from the database by the keeper itself.
 */
#ifndef COFFER_API_KEEPER_H
#define COFFER_API_KEEPER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/config.h"
#include "common/priv.h"

#define KEEPER_KEY_UNAVAILABLE 2   /* KTOKENS: the tenant's key file */
#define KEEPER_TOKENS_MAX  100000U
#define KEEPER_VALUE_MAX   (1U << 20)
#define KEEPER_EPOCHS_MAX  1000000U
#define KEEPER_MSG_MAX     (64U * 1024U * 1024U)
#define KEEPER_REPLY_MAX   (KEEPER_EPOCHS_MAX * 96U + 4U)
#define KEEPER_AUDIT_STMT  104U
#define KEEPER_HEAD_REQ    56U
#define KEEPER_BLIND_FIXED 100U
#define KEEPER_ENTERED_FIXED 48U
#define KEEPER_ENTERED_SHUT 2      /* KENTERED_OPEN: does not open */

/* Load every key the keeper holds (blind-index keys found in keys_dir are
 * loaded lazily), check them, and free them again: --check-config.  0 or
 * -1 with a message. */
int keeper_check(const api_config *cfg, char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* The keeper process: load keys and seeds, start the build workers,
 * resume interrupted builds, drop to pw (NULL: stay), die with parent,
 * send KREADY and serve fd until the front closes it; then let running
 * builds finish and exit.  Never returns. */
void keeper_main(const api_config *cfg, int fd, const priv_target *pw,
                 pid_t parent) __attribute__((noreturn));

/* One request (hdr already read, type and length checked by the caller
 * through keeper_expect), answered on fd: exposed for the fuzz target.
 * 0, or -1 (protocol error: err says why). */
struct keeper;
/* For tests and the fuzz target: a keeper over cfg's keys_dir and
 * productions_dir with no signing key, no builds and no database. */
int  keeper_new_bare(struct keeper **out, const api_config *cfg, char *err,
                     size_t err_len) __attribute__((warn_unused_result));
void keeper_free_bare(struct keeper **k);
int keeper_expect(uint32_t type, uint32_t len, char *err, size_t err_len);
int keeper_handle(struct keeper *k, int fd, uint32_t type, uint64_t id,
                  const unsigned char *p, size_t len, char *err,
                  size_t err_len);

#endif
