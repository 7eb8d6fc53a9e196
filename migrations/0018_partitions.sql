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

-- purge_expired() keeps 0010's definition until 0019, applied in the same
-- `cofferctl migrate` run, replaces it: that one deletes a disposed
-- record's dedup row with the record (one restatement of the purge rule
-- instead of two).
