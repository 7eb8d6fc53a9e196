-- 0002_retention.sql — retention policies, legal holds and the one way a
-- record leaves the archive: coffer.purge_expired().
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- What purge does, per tenant (all in the caller's transaction):
--   * a record is past retention when sent_at + retention <= now, where
--     retention is the tenant's policy for the record's channel, else its
--     '*' policy; no policy, or a policy whose retention is NULL, keeps the
--     record forever.  Retention counts from sent_at (when the regulated
--     communication was made); a record whose sent_at or received_at lies
--     in the future by the database clock is never disposed of, whatever
--     the policy says (a wrong device or server clock must not shorten
--     retention).  Intervals are added in UTC, so days are 24 hours.
--   * a record matched by any active hold is kept.  A hold matches when every
--     criterion it sets matches: participant tokens overlap, conversation
--     token listed, channel listed, sent_at or received_at within
--     [time_from, time_to].  NULL or an empty list sets no criterion, so a
--     malformed hold keeps more, never less.
--   * each disposed record leaves a tombstone: its leaf hash (so the batch's
--     Merkle root and the stream's chain still verify), the reason, the
--     policy applied, the time, the caller's authorisation and the purge id
--     that ties it to the purge's audit event (cofferctl writes that event,
--     with the Merkle root of the purged leaves, in the same transaction).
--   * crypto-shredding: an epoch whose every record is gone has its
--     wrapped key destroyed (wrapped_key := NULL, shredded_at := now), which
--     makes whatever copy of its ciphertexts survives (backups, replicas)
--     unreadable for good.  Only once its stream has moved on to a later
--     epoch (a newer epoch row, or a record or tombstone of a later seq):
--     the gateway may still be sealing under its current epoch.  A stream
--     is one writer lane of one gateway node for one tenant (a node runs
--     `workers` lanes, each with its own stream, seqs and current epoch),
--     and a lane uses its epochs one after the other over contiguous seq
--     ranges, so "later seq in the same stream" means "that lane has gone
--     on", whatever the other lanes do.
--     An epoch emptied while it was still its lane's newest keeps its key
--     then, and is shredded by a later purge once the lane has moved on,
--     although none of its records goes in that purge (and also for a
--     tenant that no longer has a retention policy).  Such an epoch holds
--     its stream's highest tombstone until then: a purge leaves it keyed
--     only when no seq of the stream lies beyond it, and only purges write
--     tombstones.  So the epoch of each stream's highest tombstone, next to
--     the epochs of the records going now, is all a purge has to consider.
--
-- Defence in depth, not a security boundary: the append-only trigger on
-- records (and the epochs guard) let DELETE (and the shredding UPDATE)
-- through only while the transaction-local setting coffer.purging holds the
-- current transaction id, which purge_expired() sets around its own
-- statement.  Any session can set a custom setting, so the marker only
-- protects against mistakes of roles that already hold DELETE on records
-- (none but the owner does).  A superuser can disable triggers altogether;
-- that is why `cofferctl verify` recomputes the chain and checks signed
-- checkpoints against witness copies kept outside the database.

-- ---------------------------------------------------------------------------
-- Schema additions
-- ---------------------------------------------------------------------------

-- NULL retention = keep forever (explicit, so a channel can be kept forever
-- under a tenant default that is not).
ALTER TABLE coffer.retention_policies ALTER COLUMN retention DROP NOT NULL;
COMMENT ON COLUMN coffer.retention_policies.retention IS
	'NULL: keep forever.  Counted from sent_at, in UTC days.';

-- Which purge wrote a tombstone (its audit event carries the same id) and
-- the epoch of the record it replaces (for shredding decisions).  The purge
-- stub of 0001 never wrote any, so NOT NULL is safe.
ALTER TABLE coffer.tombstones
	ADD COLUMN purge_id uuid NOT NULL,
	ADD COLUMN epoch_id uuid NOT NULL;
CREATE INDEX tombstones_purge ON coffer.tombstones (tenant_id, purge_id);
CREATE INDEX tombstones_epoch ON coffer.tombstones (tenant_id, epoch_id);
-- Purge asks "does any record of this epoch remain?" for every epoch it
-- touches; productions ask which epochs hold in-scope records.
CREATE INDEX records_epoch ON coffer.records (tenant_id, epoch_id);

-- ---------------------------------------------------------------------------
-- Append-only guards that know about purge
-- ---------------------------------------------------------------------------
CREATE FUNCTION coffer.records_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF TG_OP = 'DELETE'
	   AND pg_catalog.current_setting('coffer.purging', true)
	       = pg_catalog.pg_current_xact_id()::text THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'coffer.records is append-only: % refused', TG_OP
		USING HINT = 'records leave the archive only through coffer.purge_expired()';
END
$fn$;
REVOKE ALL ON FUNCTION coffer.records_guard() FROM PUBLIC;

DROP TRIGGER records_append_only ON coffer.records;
CREATE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON coffer.records
	FOR EACH ROW EXECUTE FUNCTION coffer.records_guard();
ALTER TABLE coffer.records ENABLE ALWAYS TRIGGER records_append_only;

-- Same rule as 0001 (only wrapped_key -> NULL with shredded_at set), and
-- now only from inside purge_expired().
CREATE OR REPLACE FUNCTION coffer.epochs_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF TG_OP = 'UPDATE'
	   AND pg_catalog.current_setting('coffer.purging', true)
	       = pg_catalog.pg_current_xact_id()::text
	   AND OLD.wrapped_key IS NOT NULL AND NEW.wrapped_key IS NULL
	   AND NEW.shredded_at IS NOT NULL
	   AND NEW.tenant_id = OLD.tenant_id AND NEW.epoch_id = OLD.epoch_id
	   AND NEW.stream_id = OLD.stream_id AND NEW.r_point = OLD.r_point
	   AND NEW.created_at = OLD.created_at THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'coffer.epochs: % refused (an epoch changes only by shredding its wrapped key, inside coffer.purge_expired())', TG_OP;
END
$fn$;

-- ---------------------------------------------------------------------------
-- Purge
-- ---------------------------------------------------------------------------
DROP FUNCTION coffer.purge_expired(uuid, text);

-- p_tenant_id NULL: every tenant.  p_purge_id: the caller's id for this run
-- (goes into every tombstone and the audit event).  p_authorisation: who
-- and why, stored in every tombstone (1..1000 characters, no secrets).
-- p_dry_run: count only, change nothing.
--
-- One row per tenant in scope: purged (records disposed of, or that would
-- be), held (past retention but kept by a hold), future (kept because a
-- timestamp lies in the future), shredded (epochs whose key was, or would
-- be, destroyed).
--
-- Must run at READ COMMITTED: it locks holds and retention_policies against
-- writers first, and every later statement then sees all committed holds
-- (a REPEATABLE READ snapshot could predate a hold).  Concurrent purges
-- queue on an advisory lock.
CREATE FUNCTION coffer.purge_expired(p_tenant_id uuid, p_purge_id uuid,
                                     p_authorisation text, p_dry_run boolean)
	RETURNS TABLE (tenant uuid, purged bigint, held bigint, future bigint,
	               shredded bigint)
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
AS $fn$
DECLARE
	v_now     timestamptz;
	v_cutoff  timestamptz;
	v_t       uuid;
	v_n       bigint;
	v_del     bigint;
	v_ins     bigint;
	v_shred   bigint;
	v_seen    boolean := false;
BEGIN
	IF p_purge_id IS NULL OR p_authorisation IS NULL OR p_dry_run IS NULL
	   OR pg_catalog.length(p_authorisation) NOT BETWEEN 1 AND 1000 THEN
		RAISE EXCEPTION 'purge_expired: purge id, authorisation (1..1000 characters) and dry-run flag are required'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'purge_expired must run at READ COMMITTED isolation'
			USING ERRCODE = 'invalid_transaction_state';
	END IF;
	-- 0x436f6666 'Coff', 0x70757267 'purg': one purge at a time.
	PERFORM pg_catalog.pg_advisory_xact_lock(4859637313153823335);
	-- No hold or policy may change until this transaction ends.
	LOCK TABLE coffer.holds, coffer.retention_policies IN SHARE MODE;
	v_now := pg_catalog.clock_timestamp();

	FOR v_t IN SELECT t.tenant_id FROM coffer.tenants t
	           WHERE p_tenant_id IS NULL OR t.tenant_id = p_tenant_id
	           ORDER BY t.tenant_id LOOP
		v_seen := true;
		tenant := v_t;
		purged := 0; held := 0; future := 0; shredded := 0;

		SELECT pg_catalog.count(*) INTO future FROM coffer.records r
		WHERE r.tenant_id = v_t AND r.sent_at > v_now;

		SELECT v_now - pg_catalog.min(rp.retention) INTO v_cutoff
		FROM coffer.retention_policies rp
		WHERE rp.tenant_id = v_t AND rp.retention IS NOT NULL;
		-- Everything kept forever: no record goes, but epochs emptied by
		-- earlier purges may still be owed their shredding.
		v_cutoff := COALESCE(v_cutoff, '-infinity'::timestamptz);

		IF NOT p_dry_run THEN
			PERFORM pg_catalog.set_config('coffer.purging',
				pg_catalog.pg_current_xact_id()::text, true);
		END IF;

		WITH pol AS MATERIALIZED (
			SELECT rp.channel, rp.retention FROM coffer.retention_policies rp
			WHERE rp.tenant_id = v_t
		), cand AS MATERIALIZED (
			SELECT r.stream_id, r.seq, r.epoch_id, r.batch_no, r.leaf_hash,
			       p.channel AS pchannel, p.retention,
			       (r.received_at > v_now) AS is_future,
			       EXISTS (
				SELECT 1 FROM coffer.holds h
				WHERE h.tenant_id = v_t AND h.active
				  AND (h.participant_tokens IS NULL
				       OR pg_catalog.cardinality(h.participant_tokens) = 0
				       OR h.participant_tokens OPERATOR(pg_catalog.&&) r.participant_tokens)
				  AND (h.conversation_tokens IS NULL
				       OR pg_catalog.cardinality(h.conversation_tokens) = 0
				       OR r.conversation_token = ANY (h.conversation_tokens))
				  AND (h.channels IS NULL
				       OR pg_catalog.cardinality(h.channels) = 0
				       OR r.channel = ANY (h.channels))
				  AND ((h.time_from IS NULL OR r.sent_at >= h.time_from)
				        AND (h.time_to IS NULL OR r.sent_at <= h.time_to)
				       OR (h.time_from IS NULL OR r.received_at >= h.time_from)
				        AND (h.time_to IS NULL OR r.received_at <= h.time_to))
			       ) AS is_held
			FROM coffer.records r
			CROSS JOIN LATERAL (
				SELECT pol.channel, pol.retention FROM pol
				WHERE pol.channel IN (r.channel, '*')
				ORDER BY pol.channel = '*'
				LIMIT 1) p
			WHERE r.tenant_id = v_t
			  AND r.sent_at <= v_cutoff
			  AND p.retention IS NOT NULL
			  AND r.sent_at + p.retention <= v_now
			  AND r.sent_at <= v_now
		), gone AS MATERIALIZED (
			SELECT * FROM cand WHERE NOT is_future AND NOT is_held
		), ecand AS MATERIALIZED (
			-- Epochs that may be left without records: those of the
			-- records going now, and per stream the epoch of its highest
			-- tombstone (one emptied earlier while it was its lane's
			-- newest; see the header).  top_seq: a seq of the epoch, its
			-- highest one known here.
			SELECT x.epoch_id, pg_catalog.max(x.seq) AS top_seq
			FROM (SELECT g.epoch_id, g.seq FROM gone g
			      UNION ALL
			      SELECT lt.epoch_id, lt.seq FROM coffer.streams s
			      CROSS JOIN LATERAL (
				SELECT t.epoch_id, t.seq FROM coffer.tombstones t
				WHERE t.tenant_id = v_t AND t.stream_id = s.stream_id
				ORDER BY t.seq DESC LIMIT 1) lt
			      WHERE s.tenant_id = v_t) x
			GROUP BY x.epoch_id
		), emptied AS MATERIALIZED (
			SELECT e.epoch_id FROM coffer.epochs e JOIN ecand c USING (epoch_id)
			WHERE e.tenant_id = v_t AND e.wrapped_key IS NOT NULL
			  -- no record of the epoch stays
			  AND NOT EXISTS (
				SELECT 1 FROM coffer.records r
				WHERE r.tenant_id = v_t AND r.epoch_id = e.epoch_id
				  AND NOT EXISTS (SELECT 1 FROM gone g
				                  WHERE g.stream_id = r.stream_id AND g.seq = r.seq))
			  -- and its stream (its lane) has moved on to a later epoch
			  AND (EXISTS (
				SELECT 1 FROM coffer.epochs n
				WHERE n.tenant_id = v_t AND n.stream_id = e.stream_id
				  AND n.created_at > e.created_at)
			       OR EXISTS (
				SELECT 1 FROM coffer.records r2
				WHERE r2.tenant_id = v_t AND r2.stream_id = e.stream_id
				  AND r2.epoch_id <> e.epoch_id AND r2.seq > c.top_seq)
			       OR EXISTS (
				SELECT 1 FROM coffer.tombstones t2
				WHERE t2.tenant_id = v_t AND t2.stream_id = e.stream_id
				  AND t2.epoch_id <> e.epoch_id AND t2.seq > c.top_seq))
		), del AS (
			DELETE FROM coffer.records r USING gone g
			WHERE NOT p_dry_run AND r.tenant_id = v_t
			  AND r.stream_id = g.stream_id AND r.seq = g.seq
			RETURNING r.stream_id, r.seq
		), ins AS (
			INSERT INTO coffer.tombstones (tenant_id, stream_id, seq, batch_no,
			    leaf_hash, reason, policy, purged_at, authorisation, purge_id,
			    epoch_id)
			SELECT v_t, g.stream_id, g.seq, g.batch_no, g.leaf_hash,
			       'retention expired',
			       pg_catalog.format('channel %s: %s', g.pchannel, g.retention),
			       v_now, p_authorisation, p_purge_id, g.epoch_id
			FROM del JOIN gone g ON g.stream_id = del.stream_id AND g.seq = del.seq
			RETURNING 1
		), shred AS (
			UPDATE coffer.epochs e SET wrapped_key = NULL, shredded_at = v_now
			FROM emptied x
			WHERE NOT p_dry_run AND e.tenant_id = v_t AND e.epoch_id = x.epoch_id
			RETURNING 1
		)
		SELECT (SELECT pg_catalog.count(*) FROM gone),
		       (SELECT pg_catalog.count(*) FROM cand WHERE is_held AND NOT is_future),
		       (SELECT pg_catalog.count(*) FROM cand WHERE is_future),
		       (SELECT pg_catalog.count(*) FROM emptied),
		       (SELECT pg_catalog.count(*) FROM del),
		       (SELECT pg_catalog.count(*) FROM ins),
		       (SELECT pg_catalog.count(*) FROM shred)
		INTO purged, held, v_n, shredded, v_del, v_ins, v_shred;
		future := future + v_n;

		IF NOT p_dry_run THEN
			PERFORM pg_catalog.set_config('coffer.purging', '', true);
			IF v_del <> purged OR v_ins <> purged OR v_shred <> shredded THEN
				RAISE EXCEPTION 'purge_expired: inconsistent counts (candidates %, deleted %, tombstones %, epochs % of %)',
					purged, v_del, v_ins, v_shred, shredded;
			END IF;
		END IF;
		RETURN NEXT;
	END LOOP;

	IF p_tenant_id IS NOT NULL AND NOT v_seen THEN
		RAISE EXCEPTION 'purge_expired: no such tenant'
			USING ERRCODE = 'no_data_found';
	END IF;
END
$fn$;
REVOKE ALL ON FUNCTION coffer.purge_expired(uuid, uuid, text, boolean) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------
-- Purge role: the function, plus what `cofferctl purge` needs around it in
-- the same transaction: tenant names, the purged leaves' hashes (for the
-- Merkle root in the audit event) and appending that audit event.
GRANT EXECUTE ON FUNCTION coffer.purge_expired(uuid, uuid, text, boolean)
	TO coffer_purge;
GRANT SELECT (tenant_id, name) ON coffer.tenants TO coffer_purge;
GRANT SELECT (tenant_id, stream_id, seq, leaf_hash, purge_id)
	ON coffer.tombstones TO coffer_purge;
GRANT SELECT (tenant_id, event_no, event_hash) ON coffer.audit_events
	TO coffer_purge;
GRANT INSERT ON coffer.audit_events TO coffer_purge;
