-- 0019_partition_disposal.sql — purge drops whole partitions (issue 17.2).
--
-- A monthly partition of coffer.records (0018) every row of which is
-- disposed of by a purge — past retention, outside every active hold and
-- every matter not closed, for every tenant — is dropped whole instead of
-- deleted row by row.  What verify needs to prove what was removed is
-- kept in coffer.partition_tombstones, one row per (partition, tenant,
-- stream):
--
--   batches        the batch numbers (a multirange) whose records were all
--                  in the partition; their Merkle roots stay in
--                  coffer.batches, chained and signed as before
--   batch_count, record_count
--   last_seq, last_epoch_id   the stream's newest dropped record, so that
--                  a later purge can still shred its epoch (0002's rule)
--   purge_id, purged_at, authorisation   as on a row tombstone
--
-- The purge's signed audit event (cofferctl purge) carries, besides the
-- Merkle root of its row tombstones, `partition_root`: the Merkle root of
-- the covered batches' roots in (stream_id, batch_no) order — a tree over
-- every dropped leaf — and `partition_records`.  `cofferctl verify`
-- recomputes both: a partition dropped, or a partition tombstone written,
-- by anyone but a signed purge is found.
--
-- A batch goes with the partition only when every seq of its range (per
-- coffer.batches) is a row of the partition or already a tombstone; its
-- other rows there (a batch across the end of a month, or a row whose
-- batch_no does not hold its seq) get ordinary row tombstones, so their
-- batch roots can still be computed from their leaves.
--
-- Locking: dropping a partition takes an ACCESS EXCLUSIVE lock on
-- coffer.records until the purge commits (PostgreSQL's rule for DROP of a
-- partition).  It is taken last, after every row-by-row deletion, with a
-- 5 s lock_timeout; when not granted (a long production reading
-- coffer.records), that partition's records are disposed of row by row
-- instead and the purge still completes.  Ingest waits for the end of
-- the purge's transaction (gateways retry; nothing is lost).
--
-- The default partition and records_legacy go row by row until every row
-- of records_legacy goes too (then it is dropped like a month).

CREATE TABLE coffer.partition_tombstones (
	tenant_id       uuid NOT NULL,
	stream_id       uuid NOT NULL,
	partition_name  text NOT NULL,
	range_from      timestamptz NOT NULL,
	range_to        timestamptz NOT NULL,
	batches         int8multirange NOT NULL,
	batch_count     bigint NOT NULL CHECK (batch_count >= 1),
	record_count    bigint NOT NULL CHECK (record_count >= batch_count),
	last_seq        bigint NOT NULL CHECK (last_seq >= 0),
	last_epoch_id   uuid NOT NULL,
	purge_id        uuid NOT NULL,
	purged_at       timestamptz NOT NULL,
	authorisation   text NOT NULL,
	PRIMARY KEY (tenant_id, stream_id, partition_name),
	FOREIGN KEY (tenant_id, stream_id) REFERENCES coffer.streams
);
CREATE INDEX partition_tombstones_purge
	ON coffer.partition_tombstones (tenant_id, purge_id);
CREATE TRIGGER partition_tombstones_append_only BEFORE UPDATE OR DELETE
	ON coffer.partition_tombstones FOR EACH ROW
	EXECUTE FUNCTION coffer.refuse_change();
CREATE TRIGGER partition_tombstones_no_truncate BEFORE TRUNCATE
	ON coffer.partition_tombstones FOR EACH STATEMENT
	EXECUTE FUNCTION coffer.refuse_change();
ALTER TABLE coffer.partition_tombstones
	ENABLE ALWAYS TRIGGER partition_tombstones_append_only;
ALTER TABLE coffer.partition_tombstones
	ENABLE ALWAYS TRIGGER partition_tombstones_no_truncate;
REVOKE ALL ON coffer.partition_tombstones FROM PUBLIC;
GRANT SELECT ON coffer.partition_tombstones TO coffer_api, coffer_verify;

-- The purge's working set, one purge at a time (purge_expired() holds an
-- advisory lock): unlogged tables of the owner, emptied at the start of
-- each call — not temporary tables, which a caller could create first in
-- its own session, with triggers that would run with the owner's rights.
CREATE UNLOGGED TABLE coffer.purge_gone (
	tenant_id uuid, stream_id uuid, seq bigint, received_at timestamptz,
	batch_no bigint, epoch_id uuid, leaf_hash bytea, dedup_token bytea,
	pchannel text, retention interval, part text, how text,
	by_drop boolean NOT NULL DEFAULT false);
CREATE INDEX purge_gone_part ON coffer.purge_gone (part, how);
CREATE UNLOGGED TABLE coffer.purge_res (
	tenant uuid, purged bigint, held bigint, future bigint,
	shredded bigint, preserved bigint, matters jsonb, plan jsonb);
REVOKE ALL ON coffer.purge_gone, coffer.purge_res FROM PUBLIC;

-- Row by row: every row of coffer.purge_gone marked 'row' is deleted
-- from coffer.records (and its dedup row), a tombstone written for it,
-- and it is marked 'done'.  Runs inside purge_expired() (its marker lets
-- the DELETEs through).
CREATE FUNCTION coffer.purge_rows(p_purge_id uuid, p_authorisation text,
                                  p_now timestamptz)
	RETURNS bigint
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	v_n    bigint;
	v_del  bigint;
	v_ins  bigint;
	v_dd   bigint;
BEGIN
	WITH g AS MATERIALIZED (
		SELECT * FROM coffer.purge_gone WHERE how = 'row'
	), del AS (
		DELETE FROM coffer.records r USING g
		WHERE r.tenant_id = g.tenant_id AND r.stream_id = g.stream_id
		  AND r.seq = g.seq AND r.received_at = g.received_at
		RETURNING 1
	), ins AS (
		INSERT INTO coffer.tombstones (tenant_id, stream_id, seq, batch_no,
		    leaf_hash, reason, policy, purged_at, authorisation, purge_id,
		    epoch_id)
		SELECT g.tenant_id, g.stream_id, g.seq, g.batch_no, g.leaf_hash,
		       'retention expired',
		       pg_catalog.format('channel %s: %s', g.pchannel, g.retention),
		       p_now, p_authorisation, p_purge_id, g.epoch_id
		FROM g
		RETURNING 1
	), dd AS (
		DELETE FROM coffer.record_dedup d USING g
		WHERE d.tenant_id = g.tenant_id AND d.dedup_token = g.dedup_token
		RETURNING 1
	)
	SELECT (SELECT pg_catalog.count(*) FROM g),
	       (SELECT pg_catalog.count(*) FROM del),
	       (SELECT pg_catalog.count(*) FROM ins),
	       (SELECT pg_catalog.count(*) FROM dd)
	INTO v_n, v_del, v_ins, v_dd;
	IF v_del <> v_n OR v_ins <> v_n OR v_dd > v_n THEN
		RAISE EXCEPTION 'purge_expired: inconsistent counts (candidates %, deleted %, tombstones %, dedup rows %)',
			v_n, v_del, v_ins, v_dd USING ERRCODE = 'internal_error';
	END IF;
	UPDATE coffer.purge_gone SET how = 'done' WHERE how = 'row';
	RETURN v_n;
END
$fn$;
REVOKE ALL ON FUNCTION coffer.purge_rows(uuid, text, timestamptz) FROM PUBLIC;

-- One partition whose rows are all in coffer.purge_gone: under an ACCESS
-- EXCLUSIVE lock on coffer.records (5 s lock_timeout: lock_not_available
-- otherwise, which the caller turns into row-by-row), counted again; its
-- rows of batches that also have rows elsewhere go row by row, the rest
-- get partition tombstones, lose their dedup rows, and the partition is
-- dropped.  false (rows marked 'row') when a row arrived meanwhile.
CREATE FUNCTION coffer.purge_partition(p_name text, p_from timestamptz,
                                       p_to timestamptz, p_purge_id uuid,
                                       p_authorisation text, p_now timestamptz)
	RETURNS boolean
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	v_lt   text := pg_catalog.current_setting('lock_timeout');
	v_cnt  bigint;
	v_n    bigint;
BEGIN
	PERFORM pg_catalog.set_config('lock_timeout', '5s', true);
	LOCK TABLE coffer.records IN ACCESS EXCLUSIVE MODE;
	PERFORM pg_catalog.set_config('lock_timeout', v_lt, true);
	EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM coffer.%I',
		p_name) INTO v_cnt;
	SELECT pg_catalog.count(*) INTO v_n FROM coffer.purge_gone
	WHERE part = p_name;
	IF v_cnt <> v_n THEN
		UPDATE coffer.purge_gone SET how = 'row' WHERE part = p_name;
		RETURN false;
	END IF;
	-- A batch goes with the partition only when every seq of its range
	-- (from coffer.batches, not the rows' own batch_no, which proves
	-- nothing) is a row of this partition or already a tombstone.  Its
	-- other rows here — a batch across the month's end, or a row whose
	-- batch_no does not hold its seq — go row by row, each with its leaf
	-- hash.
	UPDATE coffer.purge_gone g
	SET how = CASE WHEN x.whole THEN 'dropped' ELSE 'row' END
	FROM (SELECT pb.tenant_id, pb.stream_id, pb.batch_no,
	             pb.has_batch AND pb.n_in
	             + (SELECT pg_catalog.count(*) FROM coffer.tombstones t
	                WHERE t.tenant_id = pb.tenant_id
	                  AND t.stream_id = pb.stream_id
	                  AND t.seq BETWEEN pb.first_seq AND pb.last_seq)
	             = pb.last_seq - pb.first_seq + 1 AS whole
	      FROM (SELECT g1.tenant_id, g1.stream_id, g1.batch_no,
	                   b.first_seq, b.last_seq,
	                   pg_catalog.bool_and(b.batch_no IS NOT NULL) AS has_batch,
	                   pg_catalog.count(*) FILTER (WHERE g1.seq
	                       BETWEEN b.first_seq AND b.last_seq) AS n_in
	            FROM coffer.purge_gone g1
	            LEFT JOIN coffer.batches b ON b.tenant_id = g1.tenant_id
	             AND b.stream_id = g1.stream_id AND b.batch_no = g1.batch_no
	            WHERE g1.part = p_name
	            GROUP BY g1.tenant_id, g1.stream_id, g1.batch_no,
	                     b.first_seq, b.last_seq) pb) x
	WHERE g.part = p_name AND g.tenant_id = x.tenant_id
	  AND g.stream_id = x.stream_id AND g.batch_no = x.batch_no;
	-- a row outside its batch's range never counts as dropped whole
	UPDATE coffer.purge_gone g SET how = 'row'
	FROM coffer.batches b
	WHERE g.part = p_name AND g.how = 'dropped'
	  AND b.tenant_id = g.tenant_id AND b.stream_id = g.stream_id
	  AND b.batch_no = g.batch_no
	  AND g.seq NOT BETWEEN b.first_seq AND b.last_seq;
	INSERT INTO coffer.partition_tombstones (tenant_id, stream_id,
	    partition_name, range_from, range_to, batches, batch_count,
	    record_count, last_seq, last_epoch_id, purge_id, purged_at,
	    authorisation)
	SELECT g.tenant_id, g.stream_id, p_name, p_from, p_to,
	       pg_catalog.range_agg(pg_catalog.int8range(g.batch_no, g.batch_no, '[]')),
	       pg_catalog.count(DISTINCT g.batch_no), pg_catalog.count(*),
	       pg_catalog.max(g.seq),
	       (pg_catalog.array_agg(g.epoch_id ORDER BY g.seq DESC))[1],
	       p_purge_id, p_now, p_authorisation
	FROM coffer.purge_gone g WHERE g.part = p_name AND g.how = 'dropped'
	GROUP BY g.tenant_id, g.stream_id;
	PERFORM coffer.purge_rows(p_purge_id, p_authorisation, p_now);
	DELETE FROM coffer.record_dedup d USING coffer.purge_gone g
	WHERE g.part = p_name AND g.how = 'dropped'
	  AND d.tenant_id = g.tenant_id AND d.dedup_token = g.dedup_token;
	EXECUTE pg_catalog.format('DROP TABLE coffer.%I', p_name);
	UPDATE coffer.record_partitions SET dropped_at = p_now,
	       purge_id = p_purge_id
	WHERE name = p_name;
	UPDATE coffer.purge_gone SET how = 'done', by_drop = true
	WHERE part = p_name AND how = 'dropped';
	RETURN true;
END
$fn$;
REVOKE ALL ON FUNCTION coffer.purge_partition(text, timestamptz, timestamptz,
	uuid, text, timestamptz) FROM PUBLIC;

-- purge_expired(): 0010's rules for what goes; how it goes is above.  Two
-- more result columns: dropped (records of the tenant that went with
-- their partition, or would in a dry run) and partitions (their names).

DROP FUNCTION coffer.purge_expired(uuid, uuid, text, boolean);

CREATE FUNCTION coffer.purge_expired(p_tenant_id uuid, p_purge_id uuid,
                                     p_authorisation text, p_dry_run boolean)
	RETURNS TABLE (tenant uuid, purged bigint, held bigint, future bigint,
	               shredded bigint, preserved bigint, matters jsonb,
	               plan jsonb, dropped bigint, partitions text[])
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
	v_shred   bigint;
	v_p       record;
	v_cnt     bigint;
	v_cands   text[];
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
	-- No hold, policy or matter may change until this transaction ends.
	LOCK TABLE coffer.holds, coffer.retention_policies, coffer.matters
		IN SHARE MODE;
	v_now := pg_catalog.clock_timestamp();
	-- What goes, decided per tenant below and removed after the loop: by
	-- whole partitions where every row of one goes, row by row otherwise.
	-- how: 'row' (delete and tombstone), 'cand' (its partition may be
	-- dropped), 'dropped', 'done'.
	TRUNCATE coffer.purge_gone, coffer.purge_res;

	FOR v_t IN SELECT t.tenant_id FROM coffer.tenants t
	           WHERE p_tenant_id IS NULL OR t.tenant_id = p_tenant_id
	           ORDER BY t.tenant_id LOOP
		v_seen := true;
		tenant := v_t;
		purged := 0; held := 0; future := 0; shredded := 0; preserved := 0;

		SELECT pg_catalog.count(*) INTO future FROM coffer.records r
		WHERE r.tenant_id = v_t
		  AND (r.sent_at > v_now OR r.received_at > v_now);

		SELECT v_now - pg_catalog.min(rp.retention) INTO v_cutoff
		FROM coffer.retention_policies rp
		WHERE rp.tenant_id = v_t AND rp.retention IS NOT NULL;
		v_cutoff := COALESCE(v_cutoff, '-infinity'::timestamptz);

		IF NOT p_dry_run THEN
			PERFORM pg_catalog.set_config('coffer.purging',
				pg_catalog.pg_current_xact_id()::text, true);
		END IF;

		WITH pol AS MATERIALIZED (
			SELECT rp.channel, rp.retention FROM coffer.retention_policies rp
			WHERE rp.tenant_id = v_t
		), msc AS MATERIALIZED (
			-- api/matters.h MATTER_SCOPE_WITH, for every matter not closed
			SELECT m.matter_id, m.state, m.time_from, m.time_to,
			  ARRAY(SELECT pg_catalog.decode(x, 'hex') FROM
			   pg_catalog.jsonb_array_elements_text(m.scope->'participants') x)
			   AS participants,
			  ARRAY(SELECT pg_catalog.decode(x, 'hex') FROM
			   pg_catalog.jsonb_array_elements_text(m.scope->'conversations') x)
			   AS conversations,
			  ARRAY(SELECT x FROM
			   pg_catalog.jsonb_array_elements_text(m.scope->'channels') x)
			   AS channels
			FROM coffer.matters m
			WHERE m.tenant_id = v_t AND m.state <> 'closed'
		), cand AS MATERIALIZED (
			SELECT r.stream_id, r.seq, r.epoch_id, r.batch_no, r.leaf_hash,
			       r.dedup_token,
			       r.channel, r.sent_at, r.received_at,
			       GREATEST(r.sent_at, r.received_at) AS kept_from,
			       r.participant_tokens,
			       r.conversation_token,
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
			-- retention time: the later of received_at and sent_at;
			-- both bounds keep the indexes on either column usable
			WHERE r.tenant_id = v_t
			  AND r.sent_at <= v_cutoff
			  AND r.received_at <= v_cutoff
			  AND p.retention IS NOT NULL
			  AND GREATEST(r.sent_at, r.received_at)
			      + p.retention <= v_now
		), pres AS MATERIALIZED (
			SELECT c.stream_id, c.seq, c.is_held, s.matter_id, s.state
			FROM cand c JOIN msc s
			  ON ((s.time_from IS NULL OR c.sent_at >= s.time_from)
			      AND (s.time_to IS NULL OR c.sent_at <= s.time_to)
			     OR (s.time_from IS NULL OR c.received_at >= s.time_from)
			      AND (s.time_to IS NULL OR c.received_at <= s.time_to))
			 AND (pg_catalog.cardinality(s.participants) = 0
			      OR c.participant_tokens OPERATOR(pg_catalog.&&) s.participants)
			 AND (pg_catalog.cardinality(s.conversations) = 0
			      OR c.conversation_token = ANY (s.conversations))
			 AND (pg_catalog.cardinality(s.channels) = 0
			      OR c.channel = ANY (s.channels))
			WHERE NOT c.is_future
		), gone AS MATERIALIZED (
			SELECT * FROM cand c
			WHERE NOT c.is_future AND NOT c.is_held
			  AND NOT EXISTS (SELECT 1 FROM pres x
			                  WHERE x.stream_id = c.stream_id AND x.seq = c.seq)
		), ecand AS MATERIALIZED (
			SELECT x.epoch_id, pg_catalog.max(x.seq) AS top_seq
			FROM (SELECT g.epoch_id, g.seq FROM gone g
			      UNION ALL
			      SELECT lt.epoch_id, lt.seq FROM coffer.streams s
			      CROSS JOIN LATERAL (
				SELECT t.epoch_id, t.seq FROM coffer.tombstones t
				WHERE t.tenant_id = v_t AND t.stream_id = s.stream_id
				ORDER BY t.seq DESC LIMIT 1) lt
			      WHERE s.tenant_id = v_t
			      UNION ALL
			      SELECT lp.last_epoch_id, lp.last_seq FROM coffer.streams s
			      CROSS JOIN LATERAL (
				SELECT pt.last_epoch_id, pt.last_seq
				FROM coffer.partition_tombstones pt
				WHERE pt.tenant_id = v_t AND pt.stream_id = s.stream_id
				ORDER BY pt.last_seq DESC LIMIT 1) lp
			      WHERE s.tenant_id = v_t) x
			GROUP BY x.epoch_id
		), emptied AS MATERIALIZED (
			SELECT e.epoch_id FROM coffer.epochs e JOIN ecand c USING (epoch_id)
			WHERE e.tenant_id = v_t AND e.wrapped_key IS NOT NULL
			  AND NOT EXISTS (
				SELECT 1 FROM coffer.records r
				WHERE r.tenant_id = v_t AND r.epoch_id = e.epoch_id
				  AND NOT EXISTS (SELECT 1 FROM gone g
				                  WHERE g.stream_id = r.stream_id AND g.seq = r.seq))
			  AND (EXISTS (
				SELECT 1 FROM coffer.epochs n
				WHERE n.tenant_id = v_t AND n.stream_id = e.stream_id
				  AND n.created_no > e.created_no)
			       OR EXISTS (
				SELECT 1 FROM coffer.records r2
				WHERE r2.tenant_id = v_t AND r2.stream_id = e.stream_id
				  AND r2.epoch_id <> e.epoch_id AND r2.seq > c.top_seq)
			       OR EXISTS (
				SELECT 1 FROM coffer.tombstones t2
				WHERE t2.tenant_id = v_t AND t2.stream_id = e.stream_id
				  AND t2.epoch_id <> e.epoch_id AND t2.seq > c.top_seq)
			       OR EXISTS (
				SELECT 1 FROM coffer.partition_tombstones p2
				WHERE p2.tenant_id = v_t AND p2.stream_id = e.stream_id
				  AND p2.last_epoch_id <> e.epoch_id
				  AND p2.last_seq > c.top_seq))
		), keep AS (
			INSERT INTO coffer.purge_gone (tenant_id, stream_id, seq,
			    received_at, batch_no, epoch_id, leaf_hash, dedup_token,
			    pchannel, retention, part, how)
			SELECT v_t, g.stream_id, g.seq, g.received_at, g.batch_no,
			       g.epoch_id, g.leaf_hash, g.dedup_token, g.pchannel,
			       g.retention, rp.name, 'row'
			FROM gone g
			LEFT JOIN coffer.record_partitions rp
			  ON rp.dropped_at IS NULL AND g.received_at >= rp.range_from
			 AND g.received_at < rp.range_to
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
		       (SELECT pg_catalog.count(*) FROM
		         (SELECT DISTINCT x.stream_id, x.seq FROM pres x
		          WHERE NOT x.is_held) d),
		       (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
		                 'matter_id', k.matter_id, 'state', k.state,
		                 'records', k.n) ORDER BY k.matter_id), '[]'::jsonb)
		        FROM (SELECT x.matter_id, x.state, pg_catalog.count(*) AS n
		              FROM pres x GROUP BY x.matter_id, x.state) k),
		       (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
		                 'channel', a.channel, 'age', a.age, 'records', a.n)
		                 ORDER BY a.channel, a.o), '[]'::jsonb)
		        FROM (SELECT g.channel,
		                     CASE WHEN g.kept_from > v_now - interval '30 days' THEN 0
		                          WHEN g.kept_from > v_now - interval '1 year' THEN 1
		                          WHEN g.kept_from > v_now - interval '3 years' THEN 2
		                          WHEN g.kept_from > v_now - interval '7 years' THEN 3
		                          ELSE 4 END AS o,
		                     (ARRAY['under 30 days', '30 days to 1 year',
		                            '1 to 3 years', '3 to 7 years',
		                            '7 years or more'])[1 +
		                     CASE WHEN g.kept_from > v_now - interval '30 days' THEN 0
		                          WHEN g.kept_from > v_now - interval '1 year' THEN 1
		                          WHEN g.kept_from > v_now - interval '3 years' THEN 2
		                          WHEN g.kept_from > v_now - interval '7 years' THEN 3
		                          ELSE 4 END] AS age,
		                     pg_catalog.count(*) AS n
		              FROM gone g GROUP BY 1, 2, 3) a),
		       (SELECT pg_catalog.count(*) FROM keep),
		       (SELECT pg_catalog.count(*) FROM shred)
		INTO purged, held, v_n, shredded, preserved, matters, plan,
		     v_del, v_shred;
		future := future + v_n;

		IF NOT p_dry_run THEN
			PERFORM pg_catalog.set_config('coffer.purging', '', true);
		END IF;
		IF v_del <> purged OR NOT p_dry_run AND v_shred <> shredded THEN
			RAISE EXCEPTION 'purge_expired: inconsistent counts (candidates %, kept for removal %, epochs % of %)',
				purged, v_del, v_shred, shredded;
		END IF;
		INSERT INTO coffer.purge_res VALUES (v_t, purged, held, future,
			shredded, preserved, matters, plan);
	END LOOP;

	-- Partitions every row of which goes (all tenants'): candidates to
	-- drop whole (a dry run reports them as such).  The count is taken
	-- again under the lock.
	v_cands := '{}';
	FOR v_p IN SELECT g.part, pg_catalog.count(*) AS n
	           FROM coffer.purge_gone g WHERE g.part IS NOT NULL
	           GROUP BY g.part ORDER BY g.part LOOP
		EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM coffer.%I',
			v_p.part) INTO v_cnt;
		IF v_cnt = v_p.n THEN
			v_cands := v_cands || v_p.part;
		END IF;
	END LOOP;
	UPDATE coffer.purge_gone SET how = 'cand', by_drop = p_dry_run
	WHERE part = ANY (v_cands);

	IF NOT p_dry_run THEN
		PERFORM pg_catalog.set_config('coffer.purging',
			pg_catalog.pg_current_xact_id()::text, true);
		PERFORM coffer.purge_rows(p_purge_id, p_authorisation, v_now);

		FOR v_p IN SELECT rp.name, rp.range_from, rp.range_to
		           FROM coffer.record_partitions rp
		           WHERE rp.name = ANY (v_cands) ORDER BY rp.range_from LOOP
			BEGIN
				PERFORM coffer.purge_partition(v_p.name, v_p.range_from,
					v_p.range_to, p_purge_id, p_authorisation, v_now);
			EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
				RAISE WARNING 'partition % is busy: its records are disposed of row by row', v_p.name;
				UPDATE coffer.purge_gone SET how = 'row'
				WHERE part = v_p.name;
			END;
			PERFORM coffer.purge_rows(p_purge_id, p_authorisation, v_now);
		END LOOP;
		PERFORM pg_catalog.set_config('coffer.purging', '', true);
		IF EXISTS (SELECT 1 FROM coffer.purge_gone WHERE how <> 'done') THEN
			RAISE EXCEPTION 'purge_expired: records left undisposed of'
				USING ERRCODE = 'internal_error';
		END IF;
	END IF;

	RETURN QUERY
	SELECT r.tenant, r.purged, r.held, r.future, r.shredded, r.preserved,
	       r.matters, r.plan, COALESCE(d.n, 0)::bigint,
	       COALESCE(d.parts, '{}'::text[])
	FROM coffer.purge_res r
	LEFT JOIN (SELECT g.tenant_id, pg_catalog.count(*) AS n,
	                  pg_catalog.array_agg(DISTINCT g.part ORDER BY g.part) AS parts
	           FROM coffer.purge_gone g WHERE g.by_drop
	           GROUP BY g.tenant_id) d ON d.tenant_id = r.tenant
	ORDER BY r.tenant;

	IF p_tenant_id IS NOT NULL AND NOT v_seen THEN
		RAISE EXCEPTION 'purge_expired: no such tenant'
			USING ERRCODE = 'no_data_found';
	END IF;
END
$fn$;
REVOKE ALL ON FUNCTION coffer.purge_expired(uuid, uuid, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coffer.purge_expired(uuid, uuid, text, boolean)
	TO coffer_purge;
