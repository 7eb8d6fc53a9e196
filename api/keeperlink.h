/* api/keeperlink.h — the keeper (api/keeper.h) as coffer-api's front sees
 * it: one synchronous call per key operation.
 *
 * Calls are serialised on one channel (a mutex): key operations take
 * microseconds, builds run in the keeper's own threads.  If the keeper
 * dies or answers something malformed, the front logs why and exits with
 * 1 at once (a watcher thread notices even while no call is made); the
 * supervisor restarts both.
 */
#ifndef COFFER_API_KEEPERLINK_H
#define COFFER_API_KEEPERLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/config.h"
#include "api/keeper.h"              /* KEEPER_KEY_UNAVAILABLE */
#include "common/priv.h"
#include "vault/chain.h"

typedef struct keeper_link keeper_link;

/* Fork the keeper (before any key is read and before any thread exists),
 * wait for its KREADY and start the watcher.  pw: the account both drop
 * to (NULL: stay).  The child never returns.  0, or -1 with a message. */
int  kl_spawn(keeper_link **out, const api_config *cfg, const priv_target *pw,
              char *err, size_t err_len) __attribute__((warn_unused_result));

pid_t kl_pid(const keeper_link *l);
/* The API node's signing public key, as the keeper reported it. */
const unsigned char *kl_sign_pk(const keeper_link *l);

/* Tokens of n values (participants, or conversations when conversation is
 * set) of tenant (a name) into tok (n × VAULT_TOKEN_BYTES).  0; 1: value
 * *bad was refused, why holds vault's reason (never the value);
 * KEEPER_KEY_UNAVAILABLE (2): the tenant's key file is missing or
 * unusable, why is the message for the client (503
 * tenant_key_unavailable); -1: why says what failed. */
int  kl_tokens(keeper_link *l, const char *tenant, int conversation,
               const char *const *values, const size_t *lens, size_t n,
               unsigned char *tok, size_t *bad, char *why, size_t why_len)
     __attribute__((warn_unused_result));

/* A new blinding seed for matter (raw uuid); its generation in blind_id.
 * 0 or -1. */
int  kl_seed_new(keeper_link *l, const unsigned char matter[16],
                 unsigned char blind_id[16], char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* 0: the seed of that generation is there; 1: it is not; -1: error. */
int  kl_seed_has(keeper_link *l, const unsigned char matter[16],
                 const unsigned char blind_id[16], char *err, size_t err_len)
     __attribute__((warn_unused_result));
void kl_seed_destroy(keeper_link *l, const unsigned char matter[16]);

/* R'_i and its proof (vault_blind_point) for n epochs: eid and R hold n ×
 * 16 and n × 32 bytes; Rb and bp get n × 32 and n × 64.  0; 1: no seed of
 * that generation; -1: error. */
int  kl_blind(keeper_link *l, const unsigned char matter[16],
              const unsigned char blind_id[16],
              const unsigned char tenant[16],
              const unsigned char recipient[32], size_t n,
              const unsigned char *eid, const unsigned char *R,
              unsigned char *Rb, unsigned char *bp, char *err,
              size_t err_len) __attribute__((warn_unused_result));

/* The participants as entered (json, 1..API_ENTERED_MAX bytes) sealed
 * by the keeper under the matter's seed of generation blind_id (api/blind.h):
 * *sealed (malloc'd, json_len + API_ENTERED_OVERHEAD bytes).  0, or -1
 * (err; a missing seed included).  The caller wipes json. */
int  kl_entered_seal(keeper_link *l, const unsigned char matter[16],
                     const unsigned char blind_id[16],
                     const unsigned char tenant[16], const char *json,
                     size_t json_len, unsigned char **sealed,
                     size_t *sealed_len, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* The reverse: *json (malloc'd, NUL-terminated, *json_len bytes; free
 * with vault_free_wiped(*json, *json_len + 4)).  0; 1: no seed of that
 * generation; KEEPER_ENTERED_SHUT (2): it does not open (sealed under an
 * earlier generation, or altered); -1: err. */
int  kl_entered_open(keeper_link *l, const unsigned char matter[16],
                     const unsigned char blind_id[16],
                     const unsigned char tenant[16],
                     const unsigned char *sealed, size_t sealed_len,
                     char **json, size_t *json_len, char *err,
                     size_t err_len) __attribute__((warn_unused_result));

/* The audit signer of the front (common/audit.h audit_sign_fn). */
int  kl_audit_sign(void *link, const vault_audit_stmt *st,
                   unsigned char sig[VAULT_SIG_BYTES]);

/* The signed audit head (checkpoint of the nil stream): 0, 1 no key, -1. */
int  kl_head_sign(keeper_link *l, const unsigned char tenant[16],
                  uint64_t event_no, const unsigned char head[32],
                  int64_t *signed_at, unsigned char sig[VAULT_SIG_BYTES])
     __attribute__((warn_unused_result));

/* Queue the build of (tenant, matter) — uuid texts.  0 or -1 (full). */
int  kl_build(keeper_link *l, const char *tenant_id, const char *matter_id)
     __attribute__((warn_unused_result));

/* The keeper's build counters into the front's metrics page
 * (api_metrics_production_remote). */
void kl_metrics(keeper_link *l);

/* Orderly end: close the channel; the keeper lets running builds finish
 * and exits; wait for it.  NULL ok; sets NULL. */
void kl_free(keeper_link **l);

#endif
