-- 0005_pins.sql — epochs signed by the gateway node that made them (issue 12).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- A database owner can write any epoch row: give a matter's epoch another
-- epoch's R, or a wrapped key of their own, and a custodian's partial
-- would be computed on a point of the owner's choosing.  From here on the
-- gateway signs each epoch it makes with its node key (vault/chain.h,
-- "coffer-epoch-v1"): tenant, stream, epoch, node, R, the tenant key it
-- was wrapped to, a hash of the wrapped key, its own clock.  `cofferctl
-- approve` verifies that signature against node keys pinned outside the
-- database before it computes anything.
--
-- wrapped_hash is kept in the row (signed) because shredding sets
-- wrapped_key to NULL: a shredded epoch keeps a verifiable statement.
-- Rows older than this migration have NULL in all four columns: they are
-- unsigned, and `cofferctl approve` refuses them by name.
ALTER TABLE coffer.epochs
	ADD COLUMN node_id       uuid REFERENCES coffer.nodes,
	ADD COLUMN wrapped_hash  bytea CHECK (octet_length(wrapped_hash) = 32),
	ADD COLUMN signed_at_us  bigint,
	ADD COLUMN signature     bytea CHECK (octet_length(signature) = 64),
	ADD CONSTRAINT epochs_signed_all_or_none CHECK (
		(node_id IS NULL) = (signature IS NULL)
		AND (wrapped_hash IS NULL) = (signature IS NULL)
		AND (signed_at_us IS NULL) = (signature IS NULL));

-- The gateway inserts them; the verifier and the API read them (the API
-- and coffer_verify already read every column).
GRANT SELECT (node_id, wrapped_hash, signed_at_us, signature)
	ON coffer.epochs TO coffer_gateway;

-- Shredding keeps the signed columns as they were (the guard compares
-- every other column; rewritten from its current definition like 0003).
DO $do$
DECLARE
	v_def text;
	v_old text := 'AND NEW.created_no = OLD.created_no THEN';
BEGIN
	v_def := pg_catalog.pg_get_functiondef('coffer.epochs_guard()'::regprocedure);
	IF pg_catalog.length(v_def) - pg_catalog.length(pg_catalog.replace(v_def, v_old, ''))
	   <> pg_catalog.length(v_old) THEN
		RAISE EXCEPTION '0005: coffer.epochs_guard() does not contain "%" exactly once', v_old;
	END IF;
	EXECUTE pg_catalog.replace(v_def, v_old,
		'AND NEW.created_no = OLD.created_no
	   AND NEW.node_id IS NOT DISTINCT FROM OLD.node_id
	   AND NEW.wrapped_hash IS NOT DISTINCT FROM OLD.wrapped_hash
	   AND NEW.signed_at_us IS NOT DISTINCT FROM OLD.signed_at_us
	   AND NEW.signature IS NOT DISTINCT FROM OLD.signature THEN');
END
$do$;
