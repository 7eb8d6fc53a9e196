-- 0018_partitions.sql — records partitioned by time of receipt (issue 17.2).
--
-- coffer.records becomes a table partitioned by RANGE (received_at), one
-- partition per calendar month (UTC), named records_YYYY_MM, created ahead
-- by coffer.records_partitions_ensure() (cofferctl migrate and every
-- purge keep three months ahead).  A DEFAULT partition, records_default,
-- takes any row no monthly partition covers (a month nobody created, a
-- gateway clock far ahead): nothing is ever refused for want of a
-- partition, and its rows are disposed of row by row like before.
--
-- What moves:
--   * The primary key is (tenant_id, stream_id, seq, received_at): a
--     unique constraint on a partitioned table must contain the partition
--     key.  A (stream, seq) held twice across two partitions is still
--     caught by `cofferctl verify` (seq-twice / batch root), and the
--     gateway cannot write it: each batch row (one per (stream, batch_no),
--     its seq range chained to the previous one) is still unique.
--   * Deduplication moves to coffer.record_dedup, one row per record with
--     its receipt (stream, seq, leaf hash), primary key (tenant_id,
--     dedup_token): the gateway writes it in the same transaction as the
--     records and answers a duplicate from it without reading records.
--     Purge deletes a record's dedup row with the record.
--   * An index on (tenant_id, received_at) for the scope of matters, holds
--     and purges (their time ranges match either clock, 0010).
--
-- The conversion of an existing archive runs in this migration's one
-- transaction (a maintenance window: gateways retry and lose nothing; the
-- README's "Upgrading to partitioned records" has the procedure and the
-- time it takes).  The old table is kept as one partition, records_legacy,
-- for every time before the first monthly partition: no row is copied; its
-- new primary key and received_at index are built and its dedup tokens
-- copied into record_dedup.  On an empty archive it is simply dropped.
--
-- coffer.record_partitions lists every monthly (and the legacy) partition
-- ever made, with its range and, once dropped by purge, when and by which
-- purge: a dropped month is never made again (late rows for it land in
-- the default partition).

SET LOCAL TimeZone = 'UTC';

CREATE TABLE coffer.record_partitions (
	name        text PRIMARY KEY
	            CHECK (name ~ '^records_([0-9]{4}_[0-9]{2}|legacy)$'),
	range_from  timestamptz NOT NULL,
	range_to    timestamptz NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	dropped_at  timestamptz,
	purge_id    uuid,
	CHECK (range_from < range_to),
	CHECK ((dropped_at IS NULL) = (purge_id IS NULL))
);
REVOKE ALL ON coffer.record_partitions FROM PUBLIC;
GRANT SELECT ON coffer.record_partitions TO coffer_api, coffer_verify;

CREATE TABLE coffer.record_dedup (
	tenant_id    uuid NOT NULL,
	dedup_token  bytea NOT NULL CHECK (octet_length(dedup_token) = 16),
	stream_id    uuid NOT NULL,
	seq          bigint NOT NULL CHECK (seq >= 0),
	leaf_hash    bytea NOT NULL CHECK (octet_length(leaf_hash) = 32),
	PRIMARY KEY (tenant_id, dedup_token)
);
REVOKE ALL ON coffer.record_dedup FROM PUBLIC;
GRANT SELECT, INSERT ON coffer.record_dedup TO coffer_gateway;
GRANT SELECT ON coffer.record_dedup TO coffer_api, coffer_verify;

-- Append-only except for purge (the marker of 0002's records_guard).
CREATE FUNCTION coffer.record_dedup_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF TG_OP = 'DELETE'
	   AND pg_catalog.current_setting('coffer.purging', true)
	       = pg_catalog.pg_current_xact_id()::text THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'coffer.record_dedup is append-only: % refused', TG_OP
		USING HINT = 'dedup rows leave only with their records, through coffer.purge_expired()';
END
$fn$;
REVOKE ALL ON FUNCTION coffer.record_dedup_guard() FROM PUBLIC;
CREATE TRIGGER record_dedup_append_only BEFORE UPDATE OR DELETE
	ON coffer.record_dedup FOR EACH ROW
	EXECUTE FUNCTION coffer.record_dedup_guard();
CREATE TRIGGER record_dedup_no_truncate BEFORE TRUNCATE ON coffer.record_dedup
	FOR EACH STATEMENT EXECUTE FUNCTION coffer.refuse_change();
ALTER TABLE coffer.record_dedup ENABLE ALWAYS TRIGGER record_dedup_append_only;
ALTER TABLE coffer.record_dedup ENABLE ALWAYS TRIGGER record_dedup_no_truncate;

-- The old table steps aside, names and all.
ALTER TABLE coffer.records RENAME TO records_legacy;
ALTER TABLE coffer.records_legacy RENAME CONSTRAINT records_pkey
	TO records_legacy_pkey;
ALTER TABLE coffer.records_legacy
	RENAME CONSTRAINT records_tenant_id_dedup_token_key
	TO records_legacy_dedup_key;
ALTER INDEX coffer.records_participants RENAME TO records_legacy_participants;
ALTER INDEX coffer.records_sent_at RENAME TO records_legacy_sent_at;
ALTER INDEX coffer.records_conversation RENAME TO records_legacy_conversation;
ALTER INDEX coffer.records_epoch RENAME TO records_legacy_epoch;
-- The parent's row trigger is cloned onto it when attached.  Its CHECK
-- and foreign-key constraints keep their names: the new table's carry the
-- same ones (ATTACH matches CHECK constraints by name).
DROP TRIGGER records_append_only ON coffer.records_legacy;

CREATE TABLE coffer.records (
	tenant_id           uuid NOT NULL,
	stream_id           uuid NOT NULL,
	seq                 bigint NOT NULL
	                    CONSTRAINT records_seq_check CHECK (seq >= 0),
	epoch_id            uuid NOT NULL,
	batch_no            bigint NOT NULL
	                    CONSTRAINT records_batch_no_check CHECK (batch_no >= 0),
	received_at         timestamptz NOT NULL,
	sent_at             timestamptz NOT NULL,
	channel             text NOT NULL
	                    CONSTRAINT records_channel_check
	                    CHECK (coffer.channel_ok(channel)),
	size_class          smallint NOT NULL
	                    CONSTRAINT records_size_class_check
	                    CHECK (size_class BETWEEN 0 AND 255),
	participant_tokens  bytea[] NOT NULL
	                    CONSTRAINT records_participant_tokens_check
	                    CHECK (coffer.bytea_array_ok(participant_tokens, 16)),
	conversation_token  bytea CONSTRAINT records_conversation_token_check
	                    CHECK (octet_length(conversation_token) = 16),
	dedup_token         bytea NOT NULL CONSTRAINT records_dedup_token_check
	                    CHECK (octet_length(dedup_token) = 16),
	nonce               bytea NOT NULL CONSTRAINT records_nonce_check
	                    CHECK (octet_length(nonce) = 24),
	ciphertext          bytea NOT NULL CONSTRAINT records_ciphertext_check
	                    CHECK (octet_length(ciphertext) >= 16),
	leaf_hash           bytea NOT NULL CONSTRAINT records_leaf_hash_check
	                    CHECK (octet_length(leaf_hash) = 32),
	CONSTRAINT records_pkey PRIMARY KEY (tenant_id, stream_id, seq, received_at),
	CONSTRAINT records_tenant_id_stream_id_fkey
		FOREIGN KEY (tenant_id, stream_id) REFERENCES coffer.streams,
	CONSTRAINT records_tenant_id_epoch_id_fkey
		FOREIGN KEY (tenant_id, epoch_id) REFERENCES coffer.epochs
) PARTITION BY RANGE (received_at);
ALTER TABLE coffer.records ALTER COLUMN ciphertext SET STORAGE EXTERNAL;
CREATE INDEX records_participants ON coffer.records USING gin (participant_tokens);
CREATE INDEX records_sent_at ON coffer.records (tenant_id, sent_at);
CREATE INDEX records_received_at ON coffer.records (tenant_id, received_at);
CREATE INDEX records_conversation ON coffer.records (tenant_id, conversation_token)
	WHERE conversation_token IS NOT NULL;
CREATE INDEX records_epoch ON coffer.records (tenant_id, epoch_id);
CREATE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON coffer.records
	FOR EACH ROW EXECUTE FUNCTION coffer.records_guard();
CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON coffer.records
	FOR EACH STATEMENT EXECUTE FUNCTION coffer.refuse_change();
ALTER TABLE coffer.records ENABLE ALWAYS TRIGGER records_append_only;
ALTER TABLE coffer.records ENABLE ALWAYS TRIGGER records_no_truncate;
REVOKE ALL ON coffer.records FROM PUBLIC;
GRANT INSERT ON coffer.records TO coffer_gateway;
GRANT SELECT (tenant_id, stream_id, seq, dedup_token, leaf_hash, batch_no)
	ON coffer.records TO coffer_gateway;
GRANT SELECT ON coffer.records TO coffer_api, coffer_verify;

-- One partition: the table, its own TRUNCATE guard (a statement trigger
-- on the parent does not fire for a partition truncated by name), no
-- rights for anyone but the owner (every role reads and writes through
-- coffer.records; records_legacy loses the old table's grants).
CREATE FUNCTION coffer.records_partition_guard(p_name text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	EXECUTE pg_catalog.format('REVOKE ALL ON coffer.%I FROM PUBLIC, '
		'coffer_gateway, coffer_api, coffer_verify, coffer_purge', p_name);
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
	               WHERE tgrelid = pg_catalog.format('coffer.%I', p_name)::regclass
	                 AND tgname = 'records_no_truncate') THEN
		EXECUTE pg_catalog.format('CREATE TRIGGER records_no_truncate '
			'BEFORE TRUNCATE ON coffer.%I FOR EACH STATEMENT '
			'EXECUTE FUNCTION coffer.refuse_change()', p_name);
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE coffer.%I ENABLE ALWAYS TRIGGER '
		'records_no_truncate', p_name);
END
$fn$;
REVOKE ALL ON FUNCTION coffer.records_partition_guard(text) FROM PUBLIC;

-- Monthly partitions from the month of p_from (NULL: this month) to
-- p_ahead months after this one; months some partition already covers,
-- or covered once and dropped, are left alone.  Returns how many were
-- made.  A month whose rows already sit in the default partition is
-- skipped with a notice (they stay there); so is one whose lock is not
-- granted within 2 s (a long production holding coffer.records): the
-- next call makes it.
CREATE FUNCTION coffer.records_partitions_ensure(p_from timestamptz,
                                                 p_ahead integer)
	RETURNS integer
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET TimeZone = 'UTC'
AS $fn$
DECLARE
	v_m     timestamptz;
	v_last  timestamptz;
	v_name  text;
	v_made  integer := 0;
BEGIN
	IF p_ahead IS NULL OR p_ahead NOT BETWEEN 0 AND 120 THEN
		RAISE EXCEPTION 'records_partitions_ensure: months ahead must be 0..120'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_m := pg_catalog.date_trunc('month',
		COALESCE(p_from, pg_catalog.now()));
	v_last := pg_catalog.date_trunc('month', pg_catalog.now())
		+ pg_catalog.make_interval(months => p_ahead);
	IF v_m < v_last - interval '240 months' THEN
		RAISE EXCEPTION 'records_partitions_ensure: at most 240 months at once'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- One maker at a time (0x436f6666 'Coff', 0x70617274 'part').
	PERFORM pg_catalog.pg_advisory_xact_lock(4859637313190867572);
	WHILE v_m <= v_last LOOP
		IF NOT EXISTS (SELECT 1 FROM coffer.record_partitions p
		               WHERE p.range_from <= v_m AND p.range_to > v_m) THEN
			v_name := pg_catalog.to_char(v_m, '"records_"YYYY"_"MM');
			BEGIN
				PERFORM pg_catalog.set_config('lock_timeout', '2s', true);
				EXECUTE pg_catalog.format('CREATE TABLE coffer.%I PARTITION '
					'OF coffer.records FOR VALUES FROM (%L) TO (%L)', v_name,
					v_m, v_m + interval '1 month');
				PERFORM coffer.records_partition_guard(v_name);
				INSERT INTO coffer.record_partitions (name, range_from, range_to)
				VALUES (v_name, v_m, v_m + interval '1 month');
				PERFORM pg_catalog.set_config('lock_timeout', '0', true);
				v_made := v_made + 1;
			EXCEPTION
				WHEN check_violation THEN
					RAISE NOTICE 'partition % not made: the default partition holds rows of that month (they stay there)', v_name;
				WHEN lock_not_available THEN
					RAISE NOTICE 'partition % not made: coffer.records is busy; the next call makes it', v_name;
			END;
		END IF;
		v_m := v_m + interval '1 month';
	END LOOP;
	RETURN v_made;
END
$fn$;
REVOKE ALL ON FUNCTION coffer.records_partitions_ensure(timestamptz, integer)
	FROM PUBLIC;

-- What the gateway and purge may do: this month and the next three, no
-- more (the owner calls records_partitions_ensure() for other ranges).
CREATE FUNCTION coffer.records_partitions_ahead() RETURNS integer
	LANGUAGE sql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT coffer.records_partitions_ensure(NULL, 3) $fn$;
REVOKE ALL ON FUNCTION coffer.records_partitions_ahead() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coffer.records_partitions_ahead()
	TO coffer_gateway, coffer_purge;

-- The old rows: one partition for all time before the next month (and
-- before the month after the latest received_at, should a clock have
-- been ahead), or nothing at all.
DO $convert$
DECLARE
	v_cut  timestamptz;
BEGIN
	IF EXISTS (SELECT 1 FROM coffer.records_legacy) THEN
		SELECT GREATEST(pg_catalog.date_trunc('month', pg_catalog.now()),
		                pg_catalog.date_trunc('month', pg_catalog.max(received_at)))
		       + interval '1 month'
		INTO v_cut FROM coffer.records_legacy;
		INSERT INTO coffer.record_dedup (tenant_id, dedup_token, stream_id,
		                                 seq, leaf_hash)
		SELECT tenant_id, dedup_token, stream_id, seq, leaf_hash
		FROM coffer.records_legacy;
		ALTER TABLE coffer.records_legacy DROP CONSTRAINT records_legacy_dedup_key;
		ALTER TABLE coffer.records_legacy DROP CONSTRAINT records_legacy_pkey;
		EXECUTE pg_catalog.format('ALTER TABLE coffer.records ATTACH PARTITION '
			'coffer.records_legacy FOR VALUES FROM (MINVALUE) TO (%L)', v_cut);
		PERFORM coffer.records_partition_guard('records_legacy');
		INSERT INTO coffer.record_partitions (name, range_from, range_to)
		VALUES ('records_legacy', '-infinity', v_cut);
	ELSE
		DROP TABLE coffer.records_legacy;
	END IF;
END
$convert$;

CREATE TABLE coffer.records_default PARTITION OF coffer.records DEFAULT;
SELECT coffer.records_partition_guard('records_default');
SELECT coffer.records_partitions_ensure(NULL, 3);

-- purge_expired(): 0010's function, and a disposed record's dedup row goes
-- with it (a record sent again after its disposal is stored again, as
-- before this migration).  A dedup row may be missing (written by no
-- gateway before 0018 copied them): fewer are deleted than records, never
-- more.

DROP FUNCTION coffer.purge_expired(uuid, uuid, text, boolean);

CREATE FUNCTION coffer.purge_expired(p_tenant_id uuid, p_purge_id uuid,
                                     p_authorisation text, p_dry_run boolean)
	RETURNS TABLE (tenant uuid, purged bigint, held bigint, future bigint,
	               shredded bigint, preserved bigint, matters jsonb,
	               plan jsonb)
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
	v_dd      bigint;
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
		), ddel AS (
			DELETE FROM coffer.record_dedup d USING gone g
			WHERE NOT p_dry_run AND d.tenant_id = v_t
			  AND d.dedup_token = g.dedup_token
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
		       (SELECT pg_catalog.count(*) FROM del),
		       (SELECT pg_catalog.count(*) FROM ins),
		       (SELECT pg_catalog.count(*) FROM shred),
		       (SELECT pg_catalog.count(*) FROM ddel)
		INTO purged, held, v_n, shredded, preserved, matters, plan,
		     v_del, v_ins, v_shred, v_dd;
		future := future + v_n;

		IF NOT p_dry_run THEN
			PERFORM pg_catalog.set_config('coffer.purging', '', true);
			IF v_del <> purged OR v_ins <> purged OR v_shred <> shredded
			   OR v_dd > purged THEN
				RAISE EXCEPTION 'purge_expired: inconsistent counts (candidates %, deleted %, tombstones %, dedup rows %, epochs % of %)',
					purged, v_del, v_ins, v_dd, v_shred, shredded;
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
GRANT EXECUTE ON FUNCTION coffer.purge_expired(uuid, uuid, text, boolean)
	TO coffer_purge;
