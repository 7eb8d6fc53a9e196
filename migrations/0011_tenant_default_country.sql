-- 0011_tenant_default_country.sql — participant forms for matter scopes
-- (issue 15.2 and 15.4).
--
-- default_country_code: the country calling code (1..3 digits, no '+')
-- that a national phone number typed into a matter or hold scope without
-- '+' ("(555) 010-0011", "15550100011") is read in.  NULL: such numbers are
-- refused with a message saying so (README, "Legal and custodian
-- workflow").  Set with `cofferctl tenant set-country` (audited).
--
-- participants_entered: the participant strings as the legal user typed
-- them, kept only while the matter is open so that custodians see in
-- `cofferctl approve` what they release (the scope itself holds only
-- blind-index tokens).  They are known to the legal user and to the
-- custodians anyway; the read-only role (coffer_verify) can read them too
-- while the matter is open (README, "Threat model").  The trigger below
-- drops them the moment the matter leaves 'open' (approved, closed):
-- whatever path changes the state, nothing else has to remember to.

ALTER TABLE coffer.tenants
	ADD COLUMN default_country_code text NULL
	CHECK (default_country_code ~ '^[1-9][0-9]{0,2}$');

ALTER TABLE coffer.matters
	ADD COLUMN participants_entered text[] NULL
	CHECK (participants_entered IS NULL OR
	       (state = 'open' AND
	        pg_catalog.cardinality(participants_entered) <= 1000));

CREATE FUNCTION coffer.matters_forget_entered() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NEW.state <> 'open' THEN
		NEW.participants_entered := NULL;
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER matters_forget_entered BEFORE UPDATE OF state ON coffer.matters
	FOR EACH ROW EXECUTE FUNCTION coffer.matters_forget_entered();
