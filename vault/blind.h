/* vault/blind.h — blind-index tokens for participants, conversations, dedup.
 *
 * token = BLAKE2b-256-keyed(BIK, domain ‖ input)[0..16]   (VAULT_TOKEN_BYTES)
 *
 * BIK is the tenant's 32-byte blind-index key; it is never stored in the
 * database (a thief holding it could test phone numbers against tokens).
 * domain is one byte, so the same string in two fields gives two tokens:
 *
 *   0x01 participant   input = normalised value (below)
 *   0x02 conversation  input = conversation id, exact bytes
 *   0x03 dedup         input = u32be(len(device_id)) ‖ device_id ‖
 *                              u32be(len(source_id)) ‖ source_id
 *                      (length-prefixed: ("ab","c") and ("a","bc") differ)
 *
 * Participant normalisation (all kinds: leading/trailing ASCII whitespace
 * " \t\n\v\f\r" is trimmed first; error messages never repeat the value):
 *
 *   phone   E.164. Accepts "+15551230001", "+1 (555) 123-0001",
 *           "+1-555-123-0001", "+1.555.123.0001"; a leading "00" is the
 *           international prefix and becomes "+". A national trunk prefix
 *           written "(0)" is dropped ("+44 (0)20 7946 0958" is
 *           "+442079460958"). Spaces, dashes, dots and parentheses are
 *           removed; anything else is rejected. The result is '+' then
 *           8..15 digits, the first non-zero: "+15551230001".
 *   email   ASCII lower-cased (other bytes kept as they are), exactly one '@'
 *           with non-empty local part and domain: "alice@example.com".
 *   handle  anything else ("@alice", "signal:1b2c…", "12345678"): ASCII
 *           lower-cased, other bytes kept.
 *
 *   Email and handle: 1..VAULT_PARTICIPANT_MAX bytes after trimming, valid
 *   UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), no
 *   control characters (U+0000..U+001F, U+007F, U+0080..U+009F). There is no
 *   Unicode case folding or NFC: "É" and "é" are different participants.
 *
 * vault_participant_token classifies after trimming: a value starting with
 * '+', or with "00" and made only of digits and the separators above, is a
 * phone number ("007bond" is a handle); otherwise one that contains '@' and
 * does not start with it is an email; otherwise a handle
 * ("@alice@example.org" too).
 * All three kinds share the participant domain: a value means the same
 * person whichever function normalised it.
 * A bare national number ("5551230001") is a handle, not a phone number:
 * agents must send E.164 or the "00" form for it to match.
 *
 * Tokens are compared with sodium_memcmp (vault callers) or as opaque keys in
 * the database; they are not secret on their own but must not be logged.
 */
#ifndef COFFER_VAULT_BLIND_H
#define COFFER_VAULT_BLIND_H

#include <stddef.h>

#define VAULT_TOKEN_BYTES      16U
#define VAULT_BIK_BYTES        32U
#define VAULT_PARTICIPANT_MAX  256U    /* bytes, after trimming */
#define VAULT_BLIND_ID_MAX     1024U   /* conversation, device and source ids */

typedef enum vault_participant_kind {
	VAULT_PARTICIPANT_PHONE = 1,
	VAULT_PARTICIPANT_EMAIL = 2,
	VAULT_PARTICIPANT_HANDLE = 3
} vault_participant_kind;

/* New random BIK in guarded memory (VAULT_BIK_BYTES). *bik_out NULL on
 * failure. Free with vault_bik_free. */
int  vault_bik_new(unsigned char **bik_out) __attribute__((warn_unused_result));
/* Wipes and frees; accepts NULL; sets *bik = NULL. */
void vault_bik_free(unsigned char **bik);

/* Which kind vault_participant_token will treat value as (rules above). */
vault_participant_kind vault_participant_classify(const char *value,
                                                  size_t len);

/* Normalised form into out (at most VAULT_PARTICIPANT_MAX bytes, not
 * NUL-terminated). On failure *out_len is 0, out wiped, err says why. */
int vault_participant_normalize(vault_participant_kind kind,
                                const char *value, size_t len,
                                char *out, size_t out_cap, size_t *out_len,
                                char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* A participant as a person types it into a matter or hold scope
 * (issue 15.2): the ingest rules above, plus what a person writes that a
 * device would not.  default_cc is the tenant's country calling code
 * (1..3 digits, no '+') or NULL.
 *
 *   - phone (classify says so) and email: as vault_participant_normalize.
 *   - digits and the phone separators only, no '+' or "00" (a national
 *     number, "(555) 010-0011", "15550100011"): with default_cc, one
 *     leading trunk '0' is dropped, or, when the digits start with
 *     default_cc and at least 10 digits follow it, that prefix is taken as
 *     the country code; otherwise default_cc is put in front; then the
 *     E.164 rules apply ("+15550100011").  Without default_cc: refused.
 *   - anything else must be a handle that starts with '@' ("@kestrel_ops")
 *     or names its network with a ':' ("signal:1b2c"): a bare name
 *     ("kestrel_ops") is refused, since ingest keeps handles as sent and
 *     it would silently match nothing.
 *
 * The result is exactly what vault_participant_normalize gives for the
 * same person, so vault_participant_token of it finds the ingested
 * records.  On failure *out_len is 0, out wiped, err (never repeating the
 * value) names the reason and the accepted forms. */
#define VAULT_SCOPE_FORMS "accepted: +15550100011 (E.164), @handle, " \
	"network:handle, name@example.com"
int vault_participant_scope_normalize(const char *value, size_t len,
                                      const char *default_cc,
                                      char *out, size_t out_cap,
                                      size_t *out_len,
                                      char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Classify, normalise, tokenise. On failure token_out is zeroed. */
int vault_participant_token(const unsigned char bik[VAULT_BIK_BYTES],
                            const char *value, size_t len,
                            unsigned char token_out[VAULT_TOKEN_BYTES],
                            char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Token of a value that is already normalised (vault_participant_classify,
 * then vault_participant_normalize: the key-free half, which the gateway's
 * network process runs); 1..VAULT_PARTICIPANT_MAX bytes, taken as they
 * are.  vault_participant_token(v) is this of normalize(classify(v), v).
 * On failure token_out is zeroed. */
int vault_participant_token_normalized(const unsigned char bik[VAULT_BIK_BYTES],
                                       const char *norm, size_t len,
                                       unsigned char token_out[VAULT_TOKEN_BYTES],
                                       char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* The same with the kind forced (no classification). */
int vault_phone_token(const unsigned char bik[VAULT_BIK_BYTES],
                      const char *value, size_t len,
                      unsigned char token_out[VAULT_TOKEN_BYTES],
                      char *err, size_t err_len)
    __attribute__((warn_unused_result));
int vault_email_token(const unsigned char bik[VAULT_BIK_BYTES],
                      const char *value, size_t len,
                      unsigned char token_out[VAULT_TOKEN_BYTES],
                      char *err, size_t err_len)
    __attribute__((warn_unused_result));
int vault_handle_token(const unsigned char bik[VAULT_BIK_BYTES],
                       const char *value, size_t len,
                       unsigned char token_out[VAULT_TOKEN_BYTES],
                       char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Conversation id as exact bytes (no trimming or case folding: ids are
 * opaque and may be case-sensitive); 1..VAULT_BLIND_ID_MAX bytes. */
int vault_conversation_token(const unsigned char bik[VAULT_BIK_BYTES],
                             const char *conv_id, size_t len,
                             unsigned char token_out[VAULT_TOKEN_BYTES],
                             char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Dedup token of (device id, source message id), exact bytes, each
 * 1..VAULT_BLIND_ID_MAX bytes. */
int vault_dedup_token(const unsigned char bik[VAULT_BIK_BYTES],
                      const char *device_id, size_t device_id_len,
                      const char *source_id, size_t source_id_len,
                      unsigned char token_out[VAULT_TOKEN_BYTES],
                      char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* vault_dedup_token's checks of its two ids, without a key: 0, or -1 with
 * the same message vault_dedup_token would give. */
int vault_dedup_ids_check(const char *device_id, size_t device_id_len,
                          const char *source_id, size_t source_id_len,
                          char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
