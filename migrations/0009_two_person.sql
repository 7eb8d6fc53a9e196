-- 0009_two_person.sql — two persons for destructive or releasing acts
-- (issue 13.6).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- Persons.  Separation of duties was by account: one person holding a
-- legal and a custodian account could request and approve the same
-- matter.  coffer.persons is the human behind one or more accounts
-- (coffer.users.person_id); every "a different person" rule compares
-- person ids.  Each existing user becomes its own person (person_id =
-- user_id, name = the user's name); `cofferctl user issue --person` links
-- a new account to an existing person.
--
-- Dual control.  coffer.dual_requests holds acts one person proposed and a
-- second, different person must approve before they happen: hold.release,
-- retention.shorten, matter.close (of a matter with a production) and
-- retention.floor (lowering the floor).  The effect is applied by the
-- approver's transaction (api/dual.c), which also marks the request.  A
-- request expires (expires_at); one whose premise changed before it was
-- approved (the hold released, the policy changed, the matter closed, the
-- floor changed) is superseded.
--
-- Retention floor.  coffer.tenants.retention_floor_days: no retention
-- policy of the tenant may be shorter (trigger below, for every role,
-- cofferctl included).  Default 2192 days (6 years); lowering it is itself
-- a two-person act.  Existing tenants whose policies are already shorter
-- get the shortest of them as their floor (nothing that worked stops
-- working; the value is shown by `cofferctl retention show`).
--
-- Not a boundary against the database owner: the owner can update any of
-- these rows or drop the trigger.  The defended attacker is one admin or
-- legal person acting through their own API accounts.

CREATE TABLE coffer.persons (
	tenant_id   uuid NOT NULL REFERENCES coffer.tenants,
	person_id   uuid NOT NULL,
	name        text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 200),
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, person_id)
);

INSERT INTO coffer.persons (tenant_id, person_id, name, created_at)
	SELECT u.tenant_id, u.user_id, u.name, u.created_at FROM coffer.users u;

ALTER TABLE coffer.users ADD COLUMN person_id uuid;
UPDATE coffer.users SET person_id = user_id;
ALTER TABLE coffer.users
	ALTER COLUMN person_id SET NOT NULL,
	ADD CONSTRAINT users_person FOREIGN KEY (tenant_id, person_id)
		REFERENCES coffer.persons;
CREATE INDEX users_person ON coffer.users (tenant_id, person_id);

-- A user inserted without a person is a new person (person_id = user_id,
-- named after the user): the default `cofferctl user issue` makes
-- explicitly, kept for any other writer of coffer.users.
CREATE FUNCTION coffer.users_default_person() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF NEW.person_id IS NULL THEN
		INSERT INTO coffer.persons (tenant_id, person_id, name)
			VALUES (NEW.tenant_id, NEW.user_id, NEW.name);
		NEW.person_id := NEW.user_id;
	END IF;
	RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION coffer.users_default_person() FROM PUBLIC;
CREATE TRIGGER users_default_person BEFORE INSERT ON coffer.users
	FOR EACH ROW EXECUTE FUNCTION coffer.users_default_person();

-- ---------------------------------------------------------------------------
-- Retention floor
-- ---------------------------------------------------------------------------
ALTER TABLE coffer.tenants
	ADD COLUMN retention_floor_days integer NOT NULL DEFAULT 2192
		CHECK (retention_floor_days BETWEEN 1 AND 36500);

UPDATE coffer.tenants t
	SET retention_floor_days = GREATEST(1, LEAST(2192, (
		SELECT pg_catalog.min(pg_catalog.date_part('day', rp.retention))::int
		FROM coffer.retention_policies rp
		WHERE rp.tenant_id = t.tenant_id AND rp.retention IS NOT NULL)))
	WHERE EXISTS (SELECT 1 FROM coffer.retention_policies rp
	              WHERE rp.tenant_id = t.tenant_id
	                AND rp.retention IS NOT NULL
	                AND rp.retention < interval '2192 days');

CREATE FUNCTION coffer.retention_floor_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	v_floor integer;
BEGIN
	IF NEW.retention IS NULL THEN
		RETURN NEW;
	END IF;
	SELECT t.retention_floor_days INTO v_floor FROM coffer.tenants t
	WHERE t.tenant_id = NEW.tenant_id;
	IF NEW.retention < pg_catalog.make_interval(days => v_floor) THEN
		RAISE EXCEPTION 'retention % is below the tenant''s regulatory floor of % days',
			NEW.retention, v_floor
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION coffer.retention_floor_guard() FROM PUBLIC;
CREATE TRIGGER retention_policies_floor
	BEFORE INSERT OR UPDATE ON coffer.retention_policies
	FOR EACH ROW EXECUTE FUNCTION coffer.retention_floor_guard();
ALTER TABLE coffer.retention_policies ENABLE ALWAYS TRIGGER retention_policies_floor;

-- ---------------------------------------------------------------------------
-- Dual control
-- ---------------------------------------------------------------------------
-- params: the act's arguments (hold_id; channel, days, old; matter_id;
-- days, old) — ids and numbers only, never a participant value.
CREATE TABLE coffer.dual_requests (
	tenant_id            uuid NOT NULL REFERENCES coffer.tenants,
	request_id           uuid NOT NULL,
	action               text NOT NULL
	                     CHECK (action IN ('hold.release', 'retention.shorten',
	                                       'matter.close', 'retention.floor')),
	target               text NOT NULL CHECK (pg_catalog.length(target) BETWEEN 1 AND 200),
	params               jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(params) = 'object'),
	proposer_person_id   uuid NOT NULL,
	proposer_user_id     uuid NOT NULL,
	created_at           timestamptz NOT NULL DEFAULT now(),
	expires_at           timestamptz NOT NULL,
	status               text NOT NULL DEFAULT 'pending'
	                     CHECK (status IN ('pending', 'approved', 'refused',
	                                       'expired', 'superseded')),
	decided_by_person_id uuid,
	decided_by_user_id   uuid,
	decided_at           timestamptz,
	PRIMARY KEY (tenant_id, request_id),
	FOREIGN KEY (tenant_id, proposer_person_id) REFERENCES coffer.persons,
	FOREIGN KEY (tenant_id, proposer_user_id) REFERENCES coffer.users,
	FOREIGN KEY (tenant_id, decided_by_person_id) REFERENCES coffer.persons,
	FOREIGN KEY (tenant_id, decided_by_user_id) REFERENCES coffer.users,
	CHECK (expires_at > created_at),
	CHECK ((status IN ('approved', 'refused'))
	       = (decided_by_person_id IS NOT NULL)),
	-- The rule itself, in the row: the approver is another person (the
	-- proposer may refuse, i.e. withdraw, their own request).
	CHECK (status <> 'approved'
	       OR decided_by_person_id <> proposer_person_id)
);
-- One pending request per act and target.
CREATE UNIQUE INDEX dual_requests_pending ON coffer.dual_requests
	(tenant_id, action, target) WHERE status = 'pending';

GRANT SELECT ON coffer.persons, coffer.dual_requests TO coffer_api, coffer_verify;
GRANT INSERT ON coffer.dual_requests TO coffer_api;
GRANT UPDATE (status, decided_by_person_id, decided_by_user_id, decided_at)
	ON coffer.dual_requests TO coffer_api;
GRANT UPDATE (retention_floor_days) ON coffer.tenants TO coffer_api;
