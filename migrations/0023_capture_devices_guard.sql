-- 0023: a device's heartbeat state only moves forward.
--
-- coffer_gateway upserts coffer.capture_devices (0021).  Its own SQL keeps
-- the high-water mark with GREATEST, but the grant allowed any UPDATE: the
-- gateway role (or whoever holds its credentials) could set a device's
-- seq_high back to 0 and so erase the evidence that the device numbered
-- records which never arrived, move a row to another device, or backdate a
-- heartbeat.  The row's identity is fixed, the mark never falls and the
-- heartbeat's time never goes back.
CREATE FUNCTION coffer.capture_devices_forward() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
	   OR NEW.device_id IS DISTINCT FROM OLD.device_id THEN
		RAISE EXCEPTION 'coffer.capture_devices: a row stays its device''s';
	END IF;
	IF NEW.seq_high < OLD.seq_high THEN
		RAISE EXCEPTION 'coffer.capture_devices: seq_high of % may not fall (% to %)',
			OLD.device_id, OLD.seq_high, NEW.seq_high;
	END IF;
	IF NEW.heartbeat_at < OLD.heartbeat_at THEN
		RAISE EXCEPTION 'coffer.capture_devices: heartbeat_at of % may not go back',
			OLD.device_id;
	END IF;
	RETURN NEW;
END
$fn$;
CREATE TRIGGER capture_devices_forward BEFORE UPDATE ON coffer.capture_devices
	FOR EACH ROW EXECUTE FUNCTION coffer.capture_devices_forward();
ALTER TABLE coffer.capture_devices ENABLE ALWAYS TRIGGER capture_devices_forward;

-- A capture run's arrival time is the database's, not the writer's: the
-- gateway role could otherwise date a run into the future (a silent device
-- shown as seen) or the past.  The gateway's COPY leaves it to the default.
CREATE FUNCTION coffer.capture_runs_received_now() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	NEW.received_at := pg_catalog.now();
	RETURN NEW;
END
$fn$;
CREATE TRIGGER capture_runs_received_now BEFORE INSERT ON coffer.capture_runs
	FOR EACH ROW EXECUTE FUNCTION coffer.capture_runs_received_now();
ALTER TABLE coffer.capture_runs ENABLE ALWAYS TRIGGER capture_runs_received_now;
