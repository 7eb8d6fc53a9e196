-- 0012_notify.sql — changes to tenants, devices and users are pushed to
-- the daemons at once (issue 15.5a).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- Every insert, update or delete of a row in coffer.tenants,
-- coffer.tenant_keys, coffer.devices (which also holds the device's
-- registered and previous certificate, migration 0006) and coffer.users
-- sends
--
--   NOTIFY coffer_changes, '<kind>:<tenant_id>'
--
-- with kind one of tenant, tenant_key, device, user.  PostgreSQL delivers
-- a notification only when the transaction commits, once per distinct
-- payload, so a rolled-back `cofferctl device issue` wakes nobody and a
-- bulk change sends one line per tenant and kind.  The payload names no
-- device, user or certificate: a listener re-reads what it caches (the
-- gateway's sealer its device directory; README "Changes take effect at
-- once").  Anyone who may LISTEN sees which tenant changed and when,
-- nothing more; the payload is a fixed form built here, never user text.
--
-- The trigger function runs as its owner with a fixed search_path, like
-- 0001's functions, so a session's search_path cannot redirect pg_notify.

CREATE FUNCTION coffer.notify_change() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tid uuid;
BEGIN
	IF TG_OP = 'DELETE' THEN
		tid := OLD.tenant_id;
	ELSE
		tid := NEW.tenant_id;
	END IF;
	PERFORM pg_catalog.pg_notify('coffer_changes',
		TG_ARGV[0] || ':' || tid::text);
	RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION coffer.notify_change() FROM PUBLIC;

CREATE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE
	ON coffer.tenants FOR EACH ROW
	EXECUTE FUNCTION coffer.notify_change('tenant');
CREATE TRIGGER tenant_keys_notify AFTER INSERT OR UPDATE OR DELETE
	ON coffer.tenant_keys FOR EACH ROW
	EXECUTE FUNCTION coffer.notify_change('tenant_key');
CREATE TRIGGER devices_notify AFTER INSERT OR UPDATE OR DELETE
	ON coffer.devices FOR EACH ROW
	EXECUTE FUNCTION coffer.notify_change('device');
CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE
	ON coffer.users FOR EACH ROW
	EXECUTE FUNCTION coffer.notify_change('user');
