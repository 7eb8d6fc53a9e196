/* common/verify.h — the archive verifier: proves that no record, batch,
 * checkpoint or audit event was altered, reordered, inserted or removed
 * (DESIGN.md rule 6), or names the first place where one was.
 *
 * A pure reader: one connection (any role with SELECT on the coffer schema,
 * e.g. a member of coffer_verify), optional witness files, no secret keys —
 * only the nodes' registered public keys.  It runs in one REPEATABLE READ
 * READ ONLY transaction, so a gateway may keep ingesting meanwhile: what it
 * checks is one consistent snapshot.  Witness files are read before that
 * snapshot is taken (a gateway appends a witness line only after its batch
 * committed), so a line the snapshot cannot see is a real loss.
 *
 * Per stream (tenant × gateway node × writer lane: a node keeps one stream
 * per tenant in each of its lanes), in batch order, with records streamed
 * in seq order through binary COPY (memory does not grow with the archive):
 *   - every record's leaf hash is recomputed from its stored columns and
 *     compared with the stored leaf_hash; a tombstone contributes its leaf
 *     hash in the record's place;
 *   - seqs are contiguous from 1 inside and across batches (each seq holds
 *     a record or a tombstone, never both, never neither), batch numbers are
 *     contiguous from 1, each record's batch_no is the batch covering it;
 *   - each batch's Merkle root over its leaves (seq order), its new head
 *     from its prev head (genesis: 32 zero bytes), and the link prev_head(n)
 *     = new_head(n-1);
 *   - each batch has a checkpoint signed by the stream's node, over that
 *     head and last_seq, valid under the node's registered Ed25519 key;
 *   - nothing lies beyond the last batch, no checkpoint lacks its batch, no
 *     stream holds rows without being registered;
 *   - every record's (tenant, epoch) is a row of coffer.epochs (shredding
 *     keeps the row; migration 0018 replaced the per-row foreign keys by a
 *     per-statement check a superuser can switch off), and its
 *     participant_tokens array starts at index 1 (the leaf hash covers
 *     the tokens, not the array's bounds);
 *   - every witness line of the stream matches the database's checkpoint
 *     for its batch (head, last_seq, signed_at, signature, node); a witness
 *     line for a batch the database lacks is truncation, rollback or a
 *     restore from an older backup.
 * Per tenant in scope: the audit chain (event_no contiguous from 1,
 * prev_hash links, event_hash recomputed, common/audit.h), and every
 * tombstone is covered by a purge audit event whose detail names its
 * purge id, record count and the Merkle root of the purged leaves.
 *
 * Issue 13.5: every audit event after migration 0008 carries its writer's
 * signature (common/audit.h): verified under the signer node's registered
 * key, the node's kind must be allowed to write the event, and no unsigned
 * event may follow migration 0008's legacy boundary (coffer.audit_legacy)
 * or a signed event.  Audit head lines in the witness files must each
 * match the database's event of that number.
 *
 * Not detectable from the database alone: the removal of a stream's last
 * batches together with their checkpoints and records (or a restore of the
 * whole database from an older backup), and the removal of a tenant's
 * newest audit events — a hash chain that is merely shorter still
 * verifies.  Witness files (gateway checkpoints, writers' audit heads) close
 * both: keep them on another host, append-only.
 * Epoch rows are not part of any chain: altering R or a wrapped key makes
 * those records unreadable, never readable by someone else.
 */
#ifndef COFFER_COMMON_VERIFY_H
#define COFFER_COMMON_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/audit.h"

#define VERIFY_OK        0    /* clean */
#define VERIFY_TAMPERED  1    /* an inconsistency; report.message says where */
#define VERIFY_ERROR     2    /* could not run: database, arguments, files */

#define VERIFY_MESSAGE_MAX 1024U

typedef struct verify_progress {
	uint64_t records;          /* rows hashed so far */
	uint64_t tombstones;
	uint64_t batches;
	double   elapsed_s;
} verify_progress;

typedef void (*verify_progress_fn)(void *arg, const verify_progress *p);

typedef struct verify_opts {
	const char         *tenant;          /* name or uuid; NULL: all */
	const char         *stream;          /* uuid; NULL: all */
	const char *const  *witness;         /* witness file paths */
	size_t              witness_count;
	uint64_t            since_batch;     /* 0 or 1: from the genesis; N: from
	                                        batch N, anchored on the signed
	                                        checkpoint of batch N-1 */
	int                 skip_audit;      /* 1: streams only */
	int                 in_transaction;  /* 1: read inside the caller's open
	                                        transaction (its snapshot; no
	                                        BEGIN/ROLLBACK here) — tests that
	                                        tamper and roll back use this */
	verify_progress_fn  progress;        /* NULL: none */
	void               *progress_arg;
	double              progress_every_s;/* 0: 1 second */
} verify_opts;

typedef struct verify_report {
	int      status;                       /* VERIFY_* */
	/* First inconsistency (VERIFY_TAMPERED) or why it could not run
	 * (VERIFY_ERROR), one line, e.g.
	 *   tenant acme (uuid) stream uuid batch 4 seq 1234: leaf hash of the
	 *   stored row does not match (row altered) */
	char     message[VERIFY_MESSAGE_MAX];
	char     what[48];                     /* short code: "leaf", "root", … */
	/* Where (for the API); "" / -1 when it does not apply. */
	char     tenant_id[37];
	char     stream_id[37];
	int64_t  batch_no;
	int64_t  seq;
	int64_t  event_no;
	/* What was checked. */
	uint64_t tenants, streams, records, tombstones, batches, checkpoints;
	uint64_t audit_events, witness_lines;
	uint64_t audit_redacted;      /* events migration 0004 redacted */
	uint64_t audit_signed;        /* events with a valid writer signature */
	uint64_t audit_legacy;        /* unsigned events before migration 0008 */
	uint64_t audit_witness_lines; /* audit head lines among witness_lines */
	uint64_t dropped_batches;     /* batches dropped with a partition */
	double   seconds;
} verify_report;

/* Run the verification on c (idle, not inside a transaction, and left idle;
 * unless opts->in_transaction).  Returns report->status. */
int verify_run(PGconn *c, const verify_opts *opts, verify_report *report);

/* -- one audit chain, event by event (issue 15.4) ------------------------------
 *
 * The rules verify_run applies to a tenant's audit chain, for any source of
 * events: the database (verify_run) or an exported log read offline
 * (`cofferctl audit verify`).  One copy of the rules: link, hash, the
 * signature and its writer's kind, the legacy boundary, redactions. */

#define VERIFY_NODE_NAME_MAX 201U

/* A node that may have signed events: its id and key (registered in the
 * database, or pinned), name and kind (api, ctl, purge, gateway). */
typedef struct verify_node {
	unsigned char id[16];
	unsigned char pk[32];
	char          name[VERIFY_NODE_NAME_MAX];
	char          kind[16];
} verify_node;

/* State of one chain; verify_audit_begin sets it up. */
typedef struct verify_audit_chain {
	unsigned char       tenant[16];
	unsigned char       redactions[32];   /* hash of the redaction list */
	uint64_t            legacy_last;      /* last unsigned event allowed */
	const verify_node  *nodes;            /* borrowed */
	size_t              nnodes;
	/* progress */
	uint64_t            expect;           /* next event_no */
	uint64_t            signed_from;      /* first signed event, 0: none */
	unsigned char       prev[32];         /* hash of the last event */
	uint64_t            events, signed_events, legacy, redacted;
} verify_audit_chain;

/* One event as stored.  Byte fields are used in place; signer and
 * signature NULL: an unsigned event.  redacted: the event is listed in
 * the tenant's redaction list and marked so in its detail. */
typedef struct verify_audit_row {
	uint64_t             event_no;
	int64_t              at_us;
	const unsigned char *prev_hash;
	size_t               prev_len;
	const unsigned char *event_hash;
	size_t               hash_len;
	audit_field          f[AUDIT_NFIELDS];
	const unsigned char *signer;
	size_t               signer_len;
	const unsigned char *signature;
	size_t               signature_len;
	int                  redacted;
	int                  at_invalid;       /* the time could not be read */
} verify_audit_row;

/* A tenant's legacy boundary (migration 0008) and redaction list, $1 the
 * tenant's uuid: one row (last unsigned event or NULL, the redacted event
 * numbers "1,4" as vault_audit_redactions_hash takes them, or NULL). */
#define VERIFY_SQL_AUDIT_PRELUDE \
	"SELECT (SELECT l.last_event_no FROM coffer.audit_legacy l " \
	"WHERE l.tenant_id = $1::uuid), (SELECT pg_catalog.string_agg(" \
	"x.event_no::text, ',' ORDER BY x.event_no) FROM " \
	"coffer.audit_redactions x WHERE x.tenant_id = $1::uuid)"

void verify_audit_begin(verify_audit_chain *ch, const unsigned char tenant[16],
                        const char *redaction_list, size_t redaction_len,
                        uint64_t legacy_last, const verify_node *nodes,
                        size_t nnodes);
/* Check the next event.  VERIFY_OK (ch->prev is its hash), or
 * VERIFY_TAMPERED / VERIFY_ERROR with what (a short code, 48 bytes) and
 * msg: the reason, without the location (*event_no_out: the event it
 * concerns). */
int verify_audit_step(verify_audit_chain *ch, const verify_audit_row *row,
                      char what[48], char *msg, size_t msg_len,
                      int64_t *event_no_out);
const verify_node *verify_node_by_id(const verify_node *nodes, size_t n,
                                     const unsigned char id[16]);
const verify_node *verify_node_by_name(const verify_node *nodes, size_t n,
                                       const char *name);

#endif
