-- 0016_rotation.sql — tenant key rotation (issue 16).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- A rotation (`cofferctl tenant rotate`) makes a NEW tenant key T for new
-- epochs from an announced instant wraps_from, shared among the current
-- seats (same custodians, indices, K and N) as the tenant's next
-- generation, kind 'rotate'.  Existing epochs stay wrapped to the key they
-- were made with: each epoch now records that key (wrapped_to; NULL for
-- epochs made before this migration = the public_key of generation 1).

ALTER TABLE coffer.tenant_key_generations
	ADD COLUMN wraps_from timestamptz;
DO $chk$
DECLARE
	c text;
BEGIN
	FOR c IN SELECT conname FROM pg_catalog.pg_constraint
	         WHERE conrelid = 'coffer.tenant_key_generations'::regclass
	           AND contype = 'c'
	           AND pg_catalog.pg_get_constraintdef(oid) LIKE '%''reshare''::text%'
	LOOP
		EXECUTE pg_catalog.format(
			'ALTER TABLE coffer.tenant_key_generations DROP CONSTRAINT %I', c);
	END LOOP;
END
$chk$;
ALTER TABLE coffer.tenant_key_generations
	ADD CONSTRAINT tenant_key_generations_kind
	CHECK (kind IN ('init', 'reshare', 'rotate')),
	ADD CONSTRAINT tenant_key_generations_reshare_id
	CHECK ((kind = 'reshare') = (reshare_id IS NOT NULL)),
	ADD CONSTRAINT tenant_key_generations_wraps_from
	CHECK ((kind = 'rotate') = (wraps_from IS NOT NULL));

ALTER TABLE coffer.epochs
	ADD COLUMN wrapped_to bytea CHECK (octet_length(wrapped_to) = 32);

-- The gateway's INSERT is table-wide (0001); its SELECT is per column.
GRANT SELECT (wrapped_to) ON coffer.epochs TO coffer_gateway;

-- Shredding keeps wrapped_to as it was (the guard compares every other
-- column; rewritten from its current definition like 0005).
DO $do$
DECLARE
	v_def text;
	v_old text := 'AND NEW.signature IS NOT DISTINCT FROM OLD.signature THEN';
BEGIN
	v_def := pg_catalog.pg_get_functiondef('coffer.epochs_guard()'::regprocedure);
	IF pg_catalog.length(v_def) - pg_catalog.length(pg_catalog.replace(v_def, v_old, ''))
	   <> pg_catalog.length(v_old) THEN
		RAISE EXCEPTION '0016: coffer.epochs_guard() does not contain "%" exactly once', v_old;
	END IF;
	EXECUTE pg_catalog.replace(v_def, v_old,
		'AND NEW.signature IS NOT DISTINCT FROM OLD.signature
	   AND NEW.wrapped_to IS NOT DISTINCT FROM OLD.wrapped_to THEN');
END
$do$;

-- One approval per user per matter PER GENERATION: a matter whose epochs
-- span a rotation takes each custodian's approval once for every key it
-- uses (0004's index, per blinding generation only, refused the second).
DROP INDEX coffer.approvals_one_per_user;
CREATE UNIQUE INDEX approvals_one_per_user ON coffer.approvals
	(tenant_id, matter_id, blind_id, generation, user_id);
