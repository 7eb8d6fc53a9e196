-- 0011_tenant_default_country.sql — participant forms for matter scopes
-- (issue 15.2 and 15.4).
--
-- default_country_code: the country calling code (1..3 digits, no '+')
-- that a national phone number typed into a matter or hold scope without
-- '+' ("(555) 010-0011", "15550100011") is read in.  NULL: such numbers are
-- refused with a message saying so (README, "Legal and custodian
-- workflow").  Set with `cofferctl tenant set-country` (audited).
--
-- participants_sealed: the participant strings as the legal user typed
-- them (a JSON array), so that custodians see in `cofferctl approve` what
-- they release (the scope itself holds only blind-index tokens).  Sealed
-- by coffer-api's keeper under a key derived from the matter's blinding
-- seed, which never reaches the database (api/blind.h): the database
-- owner, the read-only role, the WAL and every backup hold only
-- ciphertext, and once the seed is destroyed (build ended, matter
-- closed) no copy opens again (README, "Threat model").  Kept only while
-- the matter is open: the trigger below drops it the moment the matter
-- leaves 'open' (approved, closed), whatever path changes the state.
-- Size: nonce 24 ‖ at most 1 MiB of JSON ‖ tag 16.

ALTER TABLE coffer.tenants
	ADD COLUMN default_country_code text NULL
	CHECK (default_country_code ~ '^[1-9][0-9]{0,2}$');

ALTER TABLE coffer.matters
	ADD COLUMN participants_sealed bytea NULL
	CHECK (participants_sealed IS NULL OR
	       (state = 'open' AND
	        pg_catalog.octet_length(participants_sealed)
	            BETWEEN 41 AND 1048616));

CREATE FUNCTION coffer.matters_forget_entered() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NEW.state <> 'open' THEN
		NEW.participants_sealed := NULL;
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER matters_forget_entered BEFORE UPDATE OF state ON coffer.matters
	FOR EACH ROW EXECUTE FUNCTION coffer.matters_forget_entered();
