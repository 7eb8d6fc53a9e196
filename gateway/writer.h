/* gateway/writer.h — the group-commit writer.
 *
 * `workers` lanes (at most 16), each one thread with its own database
 * connection and its own hash-chain stream per tenant: one PostgreSQL
 * backend inserts on one core, so a single connection cannot reach the
 * database's COPY ceiling.  A record goes to the lane chosen by its dedup
 * token, so lanes never race each other over a record.  A lane's stream id
 * is derived from (node, tenant, lane index) and found again after a
 * restart.
 *
 * Items (validated records) arrive from the workers; a lane drains up to
 * batch_max_records of them or waits at most batch_max_ms after the oldest
 * arrived, and stores the whole drain in ONE transaction:
 *
 *   per tenant in the drain:
 *     - dedup lookup of the drain's tokens; known ones are `duplicate` with
 *       the original receipt, repeats inside the drain resolve to the first
 *     - contiguous seqs after the stream's last one (the stream row is made
 *       on first use; chain state is read from coffer.batches at start and
 *       after every error)
 *     - the epoch of each record (rotated on epoch_seconds /
 *       epoch_records; the epochs row goes in before the first record
 *       sealed under it)
 *     - batches row (Merkle root, new head) and a signed checkpoints row
 *   records of all tenants go in through one binary COPY; each record is
 *   sealed and its leaf hashed (every stored column) while the COPY
 *   streams, so the server inserts rows while the next ones are sealed.
 *
 * Only after COMMIT returned OK are receipts handed out (then the checkpoint
 * lines are appended to the witness file).  A unique violation (another
 * gateway stored the same record meanwhile) rolls back and re-resolves; a
 * lost connection — also during COMMIT, when the outcome is unknown —
 * completes the drain as WR_UNAVAILABLE (nothing acknowledged: the client's
 * retry resolves through the dedup token), and the writer reconnects with
 * backoff and re-reads its chain state.  Epoch keys of a failed transaction
 * are discarded (wiped) with it.  A refusal that may come from the data
 * (SQLSTATE class 22/23, or a tenant key that cannot wrap) is retried in
 * halves down to single records, so only the requests holding the bad
 * record get 500.
 *
 * Sequence numbers and batch numbers of a stream start at 1; a stream
 * without batches has last_seq 0 and the genesis head (32 zero bytes).
 */
#ifndef COFFER_GATEWAY_WRITER_H
#define COFFER_GATEWAY_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"
#include "gateway/record.h"
#include "vault/chain.h"

typedef struct writer writer;

typedef enum wr_status {
	WR_STORED = 1,
	WR_DUPLICATE,
	WR_UNAVAILABLE,     /* database unavailable or commit outcome unknown */
	WR_FAILED           /* the database refused the batch for another reason */
} wr_status;

typedef struct wr_receipt {
	unsigned char stream_id[VAULT_ID_BYTES];
	uint64_t      seq;
	unsigned char leaf_hash[VAULT_HASH_BYTES];
} wr_receipt;

typedef struct wr_item wr_item;
/* Called on a writer thread exactly once per item; receipt is non-NULL
 * for WR_STORED and WR_DUPLICATE.  The item's plaintext has been wiped by
 * then.  After this call the writer no longer touches the item. */
typedef void (*wr_done_fn)(wr_item *it, wr_status st, const wr_receipt *rc);

/* Embedded in the caller's per-line state; the caller fills the fields
 * above `next` and keeps the item alive until done ran. */
struct wr_item {
	const unsigned char *tenant_id;     /* VAULT_ID_BYTES, borrowed */
	const unsigned char *tenant_pk;     /* VAULT_POINT_BYTES, borrowed */
	/* A rotation (the pin's previous_key and wraps_from): new epochs are
	 * wrapped to tenant_prev_pk while the writer's clock is before
	 * wraps_from_us, to tenant_pk from then on; NULL: no rotation. */
	const unsigned char *tenant_prev_pk;
	long long            wraps_from_us; /* µs since the epoch */
	rec                 *r;             /* validated record, borrowed */
	long long            received_at;   /* µs since the epoch */
	wr_done_fn           done;
	/* writer's own */
	wr_item             *next;
	long long            enqueued_us;
};

/* sign_sk / sign_pk are borrowed and must outlive the writer. */
int  writer_new(writer **out, const gw_config *cfg,
                const unsigned char *sign_sk,
                const unsigned char sign_pk[VAULT_SIGN_PK_BYTES],
                char *err, size_t err_len) __attribute__((warn_unused_result));
int  writer_start(writer *w, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Queue a NULL-terminated chain of items (linked through ->next).  After
 * writer_stop the items are completed at once as WR_UNAVAILABLE. */
void writer_submit(writer *w, wr_item *chain);
/* Items waiting for the writer. */
size_t writer_queued(writer *w);
/* Stops the lanes: each drain in progress finishes, anything still queued
 * is completed as WR_UNAVAILABLE. */
void writer_stop(writer *w);
void writer_free(writer **w);       /* stops if needed, wipes epoch keys */
/* Prometheus text for the writer's metrics; rejected is the workers' count
 * of rejected lines, reported in the same records_total family.  Bytes
 * written (< cap). */
size_t writer_metrics(writer *w, unsigned long long rejected, char *buf,
                      size_t cap);

#endif
