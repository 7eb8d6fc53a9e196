-- 0021: capture completeness (issue 18).
--
-- coffer-agent numbers every record it captures on a device (capture_seq,
-- 1, 2, 3 ... per device, persisted) and sends a heartbeat with its
-- high-water mark, outbox depth and clock.  The gateway notes, in the
-- records' own transaction, which numbers it stored (one row per device
-- and writer batch, not per record: the numbers as an int8multirange and
-- how many records carried them), and upserts the heartbeat.  The report shows per device what never arrived (gaps, and
-- numbers up to the heartbeat's high-water mark), numbers stored twice
-- under different record ids, silence and clock skew.
--
-- Nothing here is content or a participant: a device id, numbers, times.

CREATE TABLE coffer.capture_runs (
	tenant_id    uuid NOT NULL,
	device_id    text NOT NULL
	             CHECK (pg_catalog.length(device_id) BETWEEN 1 AND 128),
	seqs         int8multirange NOT NULL
	             CHECK (NOT pg_catalog.isempty(seqs) AND pg_catalog.lower(seqs) >= 1
	                    AND pg_catalog.upper(seqs) <= 9007199254740992),
	records      bigint NOT NULL CHECK (records >= 1),
	received_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX capture_runs_device ON coffer.capture_runs (tenant_id, device_id);
REVOKE ALL ON coffer.capture_runs FROM PUBLIC;
GRANT SELECT, INSERT ON coffer.capture_runs TO coffer_gateway;
GRANT SELECT ON coffer.capture_runs TO coffer_api, coffer_verify;
-- Evidence of what arrived: append-only like the records.
CREATE TRIGGER capture_runs_append_only BEFORE UPDATE OR DELETE
	ON coffer.capture_runs FOR EACH ROW EXECUTE FUNCTION coffer.refuse_change();
CREATE TRIGGER capture_runs_no_truncate BEFORE TRUNCATE ON coffer.capture_runs
	FOR EACH STATEMENT EXECUTE FUNCTION coffer.refuse_change();
ALTER TABLE coffer.capture_runs ENABLE ALWAYS TRIGGER capture_runs_append_only;
ALTER TABLE coffer.capture_runs ENABLE ALWAYS TRIGGER capture_runs_no_truncate;

-- The last heartbeat of each device (a state, not evidence: upserted).
CREATE TABLE coffer.capture_devices (
	tenant_id      uuid NOT NULL,
	device_id      text NOT NULL
	               CHECK (pg_catalog.length(device_id) BETWEEN 1 AND 128),
	heartbeat_at   timestamptz NOT NULL,     -- the gateway's clock
	seq_high       bigint NOT NULL CHECK (seq_high BETWEEN 0 AND 9007199254740991),
	outbox         bigint NOT NULL CHECK (outbox >= 0),
	clock_skew_ms  bigint NOT NULL,          -- device clock - gateway clock
	PRIMARY KEY (tenant_id, device_id)
);
REVOKE ALL ON coffer.capture_devices FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON coffer.capture_devices TO coffer_gateway;
GRANT SELECT ON coffer.capture_devices TO coffer_api, coffer_verify;

-- One row per device of the tenant: every active device, and every device
-- that sent a numbered record or a heartbeat.  expected = 1 .. the larger
-- of the highest stored number and the heartbeat's high-water mark;
-- missing = expected minus what was stored; duplicates = numbers stored
-- more than once; silent = nothing (record or heartbeat) for longer than
-- p_silence, or never.  gaps lists the first 50 missing ranges ("6-7,11").
CREATE FUNCTION coffer.capture_report(p_tenant uuid, p_silence interval)
	RETURNS TABLE (device_id text, active boolean, last_record_at timestamptz,
	               heartbeat_at timestamptz, last_seen timestamptz,
	               last_seq bigint, seq_high bigint, received bigint,
	               missing bigint, gap_count bigint, gaps text,
	               duplicates bigint, silent boolean, clock_skew_ms bigint,
	               outbox bigint)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
AS $fn$
WITH agg AS (
	SELECT r.device_id,
	       range_agg(r.seqs) AS seen,
	       sum(r.records) AS total,
	       max(upper(r.seqs)) - 1 AS last_seq,
	       max(r.received_at) AS last_record_at
	FROM coffer.capture_runs r WHERE r.tenant_id = p_tenant
	GROUP BY r.device_id),
devs AS (
	SELECT d.device_id FROM coffer.devices d
	 WHERE d.tenant_id = p_tenant AND d.status = 'active'
	UNION SELECT a.device_id FROM agg a
	UNION SELECT h.device_id FROM coffer.capture_devices h
	 WHERE h.tenant_id = p_tenant),
calc AS (
	SELECT v.device_id, a.seen, a.total, a.last_seq, a.last_record_at,
	       h.heartbeat_at, h.seq_high, h.outbox, h.clock_skew_ms,
	       EXISTS (SELECT 1 FROM coffer.devices d WHERE d.tenant_id = p_tenant
	               AND d.device_id = v.device_id AND d.status = 'active')
	           AS active,
	       CASE WHEN GREATEST(a.last_seq, h.seq_high, 0) > 0
	            THEN int8multirange(int8range(1, GREATEST(a.last_seq,
	                 h.seq_high), '[]'))
	                 - COALESCE(a.seen, '{}'::int8multirange)
	            ELSE '{}'::int8multirange END AS miss
	FROM devs v
	LEFT JOIN agg a ON a.device_id = v.device_id
	LEFT JOIN coffer.capture_devices h ON h.tenant_id = p_tenant
	      AND h.device_id = v.device_id)
SELECT c.device_id, c.active, c.last_record_at, c.heartbeat_at,
       GREATEST(c.last_record_at, c.heartbeat_at),
       COALESCE(c.last_seq, 0), COALESCE(c.seq_high, 0),
       COALESCE((SELECT sum(upper(s) - lower(s)) FROM unnest(c.seen) s), 0)::bigint,
       COALESCE((SELECT sum(upper(m) - lower(m)) FROM unnest(c.miss) m), 0)::bigint,
       (SELECT count(*) FROM unnest(c.miss) m),
       COALESCE((SELECT string_agg(CASE WHEN upper(m) - lower(m) = 1
                         THEN lower(m)::text
                         ELSE lower(m)::text || '-' || (upper(m) - 1)::text END,
                         ',' ORDER BY lower(m))
                 FROM (SELECT m FROM unnest(c.miss) m ORDER BY lower(m)
                       LIMIT 50) x), ''),
       (COALESCE(c.total, 0) -
        COALESCE((SELECT sum(upper(s) - lower(s)) FROM unnest(c.seen) s), 0))::bigint,
       GREATEST(c.last_record_at, c.heartbeat_at) IS NULL
         OR GREATEST(c.last_record_at, c.heartbeat_at) < pg_catalog.now() - p_silence,
       c.clock_skew_ms, c.outbox
FROM calc c
ORDER BY c.device_id
$fn$;
REVOKE ALL ON FUNCTION coffer.capture_report(uuid, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coffer.capture_report(uuid, interval)
	TO coffer_api, coffer_verify, coffer_gateway;
