/* common/audit.h — append hash-chained audit events (DESIGN.md rule 7).
 *
 * Every tenant has its own chain in coffer.audit_events: event_no counts from
 * 1, prev_hash of event 1 is 32 zero bytes, and
 *
 *   event_hash = vault_audit_next(prev_hash, canonical event bytes)
 *
 * Canonical event bytes (AUDIT_EVENT_V1), integers big-endian:
 *   u8  version (0x01)
 *   16  tenant_id                 (nil uuid: the event concerns no tenant)
 *   u64 event_no
 *   i64 at                        µs since 1970-01-01T00:00:00Z
 *   then, in this order, actor, role, action, target, outcome, request_id,
 *   detail, each as
 *     u8 0                        SQL NULL, or
 *     u8 1 ‖ u32 length ‖ bytes   the value as stored
 *   detail is the jsonb value as PostgreSQL prints it (jsonb::text): the
 *   server normalises JSON (key order, whitespace, duplicate keys), so the
 *   hash covers exactly what `verify` will read back.
 *
 * Writers serialise per tenant on a transaction-level advisory lock
 * (pg_advisory_xact_lock(AUDIT_LOCK_CLASS, hashtext(tenant uuid text))),
 * read the tail, and insert event n+1 in the CALLER'S transaction: the event
 * commits with the action it records, or neither does.  If audit_append
 * fails the transaction is left aborted (a failing statement is issued if
 * need be), so a careless caller still cannot COMMIT the action without its
 * event: pg_commit then reports the rollback.
 *
 * Signatures (issue 13.5, migration 0008).  Every event is signed by the
 * process's audit signer, a node key registered with `cofferctl node init
 * --kind api|ctl|purge` and pinned outside the database:
 *
 *   signature = Ed25519(vault_audit_stmt: tenant, event_no, event_hash,
 *                       signer node_id, hash of the tenant's redaction list)
 *
 * stored beside the event (signer, signature; not part of event_hash, so
 * the chain encoding is unchanged).  A process registers its signer once at
 * start-up (audit_signer_load); audit_append refuses to write an unsigned
 * event.  `cofferctl verify` checks each signature against the node key and
 * that the node's kind may write the event (api: API users and jobs; ctl:
 * role "operator"; purge: actions purge and purge.dry-run).
 *
 * Witness (optional, audit_set_witness): after the transaction COMMITs
 * (pg_commit), one JSON line per appended event
 *   {"audit":1,"tenant":…,"event_no":N,"head":hex,"node":NAME,
 *    "redactions":hex,"sig":hex}
 * is appended to the witness file; `cofferctl verify --witness FILE`
 * reports a chain that ends before a witnessed head, or disagrees with it.
 *
 * Events never carry secrets, key material, participant identifiers or
 * blind-index tokens; detail carries counts, ids and policy values.
 */
#ifndef COFFER_COMMON_AUDIT_H
#define COFFER_COMMON_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define AUDIT_EVENT_V1     0x01U
#define AUDIT_HASH_BYTES   32U
#define AUDIT_ID_BYTES     16U
#define AUDIT_LOCK_CLASS   1131374182   /* 0x436f6666, "Coff" */

/* Limits checked by audit_append (bytes). */
#define AUDIT_ACTOR_MAX    256U
#define AUDIT_WORD_MAX     64U          /* role, action, outcome */
#define AUDIT_TARGET_MAX   512U
#define AUDIT_REQID_MAX    128U
#define AUDIT_DETAIL_MAX   (64U * 1024U)

/* One event as the API or cofferctl describes it.  Strings are borrowed.
 * actor, role, action, outcome: required, printable ASCII (role, action and
 * outcome [a-z0-9._-] only).  target, request_id: printable ASCII or NULL.
 * detail_json: a JSON document or NULL. */
typedef struct audit_event {
	unsigned char tenant_id[AUDIT_ID_BYTES];
	const char   *actor;        /* client certificate SHA-256 (hex), or
	                               "cofferctl uid=N db=ROLE" for local tools */
	const char   *role;         /* admin, legal, custodian, auditor, operator */
	const char   *action;       /* e.g. "retention.set", "hold.create", "purge" */
	const char   *target;       /* what it acted on (ids), or NULL */
	const char   *outcome;      /* "ok", "denied", "failed", "dry-run" */
	const char   *request_id;   /* API request id, or NULL */
	const char   *detail_json;  /* JSON, or NULL */
} audit_event;

/* Fields of a stored event, in canonical order; p == NULL is SQL NULL. */
enum {
	AUDIT_F_ACTOR = 0,
	AUDIT_F_ROLE,
	AUDIT_F_ACTION,
	AUDIT_F_TARGET,
	AUDIT_F_OUTCOME,
	AUDIT_F_REQUEST_ID,
	AUDIT_F_DETAIL,
	AUDIT_NFIELDS
};
typedef struct audit_field {
	const char *p;
	size_t      len;
} audit_field;

/* event_hash of a stored event (encoding above).  Used by audit_append and
 * by the verifier.  0, or -1 (out zeroed) on a field too long to encode or
 * no memory. */
int audit_event_hash(const unsigned char prev_hash[AUDIT_HASH_BYTES],
                     const unsigned char tenant_id[AUDIT_ID_BYTES],
                     uint64_t event_no, int64_t at_us,
                     const audit_field fields[AUDIT_NFIELDS],
                     unsigned char out[AUDIT_HASH_BYTES])
    __attribute__((warn_unused_result));

/* Take the tenant's chain lock now (audit_append takes it too; it is
 * re-entrant): a caller that reads a value, changes it and audits old and
 * new serialises the whole read-modify-write this way.  Inside the
 * caller's transaction; 0, or -1 with the transaction aborted. */
int audit_lock_tenant(PGconn *c, const unsigned char tenant_id[AUDIT_ID_BYTES],
                      char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Append ev to its tenant's chain inside the caller's open transaction
 * (refused outside one).  On success *event_no_out (may be NULL) is the new
 * event's number and hash_out (may be NULL) its hash.  On failure: -1, err
 * says why (never the detail), and the transaction is aborted — the caller
 * must roll back. */
int audit_append(PGconn *c, const audit_event *ev, uint64_t *event_no_out,
                 unsigned char hash_out[AUDIT_HASH_BYTES],
                 char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* The process's audit signer: node_name and its key file as `cofferctl
 * node init --key-out` writes it (seed ‖ public key, mode 0600/0640).
 * The key is kept in guarded memory; replaces any earlier signer.  The
 * node row is looked up (and its key compared) at the first append. */
int audit_signer_load(const char *node_name, const char *key_file,
                      char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* The same from a key in memory (copied; cofferctl node init signs its
 * own node.init with the key it makes when no signer is set). */
int audit_signer_set(const char *node_name, const unsigned char sk[64],
                     char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* A signer whose key lives in another process (coffer-api's keeper,
 * api/keeper.h): fn signs a statement with the key whose public half is
 * pk (0, or -1: the event is not written).  Replaces any earlier signer. */
struct vault_audit_stmt;
typedef int (*audit_sign_fn)(void *ctx, const struct vault_audit_stmt *st,
                             unsigned char sig[64]);
int audit_signer_remote(const char *node_name, const unsigned char pk[32],
                        audit_sign_fn fn, void *ctx, char *err,
                        size_t err_len) __attribute__((warn_unused_result));
int  audit_signer_present(void);
void audit_signer_clear(void);              /* wipes the key */

/* A signed statement of a chain's head (cofferctl audit export): the
 * witness line's statement (tenant, event_no, head, signer node_id,
 * redaction-list hash) signed by the process's signer, whose node row is
 * looked up on c.  node_name gets the signer's name (AUDIT_NODE_MAX + 1
 * bytes).  0, or -1 with err. */
#define AUDIT_NODE_MAX 64U
int  audit_sign_head(PGconn *c, const unsigned char tenant_id[AUDIT_ID_BYTES],
                     uint64_t event_no,
                     const unsigned char head[AUDIT_HASH_BYTES],
                     const unsigned char redactions[AUDIT_HASH_BYTES],
                     char node_name[AUDIT_NODE_MAX + 1],
                     unsigned char node_id[AUDIT_ID_BYTES],
                     unsigned char sig[64], char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Audit witness file (NULL or "": none).  Lines are written after COMMIT
 * only: audit_set_witness installs a pg_commit/pg_rollback hook. */
int  audit_set_witness(const char *path, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* -- reading the log (issue 15.4) ---------------------------------------------
 *
 * One set of filters for GET /v1/audit and `cofferctl audit list`, set
 * from key=value pairs (query parameters, options) and turned into a
 * parameterised WHERE clause over coffer.audit_events a:
 *   since  RFC 3339 with an offset   a.at >= since
 *   until  RFC 3339 with an offset   a.at <  until
 *   action NAME or PREFIX*           exact, or every action starting so
 *   actor  fingerprint or user name  the actor, its registered name
 *                                    (detail.actor_name, coffer.users)
 *   target TEXT                      exact
 *   after  N                         a.event_no > N
 *   limit  1..limit_max              (the caller applies it)
 * An unknown key, a key given twice or a malformed value is refused with a
 * fixed message (audit_filter_set). */
#define AUDIT_TIME_MAX     40U

typedef struct audit_filter {
	char     since[AUDIT_TIME_MAX], until[AUDIT_TIME_MAX];
	char     action[AUDIT_WORD_MAX + 2];   /* without the '*' */
	int      action_prefix;                /* 1: action ended in '*' */
	char     actor[AUDIT_ACTOR_MAX + 1];
	char     target[AUDIT_TARGET_MAX + 1];
	uint64_t after;
	char     after_text[24];               /* the parameters borrow it */
	uint64_t limit;                        /* 0: not given */
	uint64_t limit_max;                    /* set by the caller */
	unsigned given;                        /* bit per key */
} audit_filter;

void audit_filter_init(audit_filter *f, uint64_t limit_max);
/* Set key to value (value NULL: the key had no value).  0, or -1 with err
 * one of the messages of README "Reading and exporting the log". */
int  audit_filter_set(audit_filter *f, const char *key, const char *value,
                      char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Append " AND ..." conditions over alias a (and its tenant a.tenant_id)
 * to sql, parameters to p.  0, or -1 (sql too small, too many
 * parameters). */
struct pg_params;
int  audit_filter_where(const audit_filter *f, struct pg_params *p, char *sql,
                        size_t sql_cap) __attribute__((warn_unused_result));

/* The person beside a fingerprint actor: what the event's detail says,
 * else the user whose certificate it is (a SELECT list over alias a). */
#define AUDIT_SQL_ACTOR_NAME \
	"COALESCE(a.detail->>'actor_name', (SELECT u.name FROM coffer.users u " \
	"WHERE u.tenant_id = a.tenant_id AND u.cert_fingerprint = a.actor))"
#define AUDIT_SQL_ACTOR_ROLE \
	"COALESCE(a.detail->>'actor_role', (SELECT u.role FROM coffer.users u " \
	"WHERE u.tenant_id = a.tenant_id AND u.cert_fingerprint = a.actor))"

#endif
