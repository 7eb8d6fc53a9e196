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

#endif
