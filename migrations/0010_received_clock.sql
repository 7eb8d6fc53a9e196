-- 0010_received_clock.sql — retention runs on the archive's clock (issue 13.2).
--
-- Until now a record's retention was counted from its sent_at, which the
-- endpoint supplies: a compromised or mis-set device could backdate records
-- (any year from 0001 is accepted) so that the next purge destroyed them.
-- From this migration a record's retention is counted from its RETENTION
-- TIME, the later of
--
--   received_at   when the gateway received it (the archive's own clock,
--                 bound into the leaf hash), and
--   sent_at       the device's claim
--
-- so neither clock alone can shorten it: a backdated sent_at changes
-- nothing (received_at is later), and a record is never disposed of before
-- its policy has run from the moment Coffer first held it.  Regulations
-- count the minimum period from the record's creation (SEC 17a-4(b)(4),
-- FINRA 4511(b), MiFID II art. 16(7)); both clocks are at or after the
-- creation, so the later of them never disposes early (README, "Retention
-- clock").  A sent_at in the future keeps the record at least until then
-- (and `future` still counts records whose sent_at is ahead of now).
--
-- Time ranges (of matters and, as before, of holds) match a record when
-- EITHER clock lies in the range: a backdated record still falls in the
-- range of the period in which it actually reached the archive, so it is
-- preserved and produced with that period's records.  api/matters.h
-- MATTER_SCOPE_WITH states the same rule for productions and counts.
--
-- The plan's age buckets are by retention time.  Everything else is 0007's
-- function unchanged; its result type is unchanged, so CREATE OR REPLACE
-- would do, but it is dropped and created again like before so that the
-- grant is restated in this file.

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
		       (SELECT pg_catalog.count(*) FROM shred)
		INTO purged, held, v_n, shredded, preserved, matters, plan,
		     v_del, v_ins, v_shred;
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
GRANT EXECUTE ON FUNCTION coffer.purge_expired(uuid, uuid, text, boolean)
	TO coffer_purge;
