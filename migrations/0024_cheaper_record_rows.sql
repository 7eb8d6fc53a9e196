-- 0024: the same rules for every record row, at a fraction of the cost
-- (issue 17.5).
--
-- Measured with `sh bench/profile.sh` (200 000 records through the
-- gateway, perf samples of the writer backends): the two foreign keys of
-- coffer.records and two CHECK functions took about a third of the
-- PostgreSQL CPU of each record.
--
--   * The foreign keys (tenant, stream) -> coffer.streams and (tenant,
--     epoch) -> coffer.epochs ran one SPI query and one row lock per
--     record.  What they proved, `cofferctl verify` proves for the whole
--     archive and against the database owner too (who can switch foreign
--     keys off with session_replication_role): every epoch a chunk of
--     records names is a row of coffer.epochs ("the record's epoch ... is
--     not in coffer.epochs"), and every stream that holds records is
--     registered ("the stream holds rows but is not registered"); both are
--     in tests/integration/verify_tamper.sh.  Neither row can be deleted
--     by any Coffer role (append-only guards), so the keys' row locks
--     guarded nothing.  The gateway writes a record only under the stream
--     and epoch rows it wrote and committed first.
--   * coffer.channel_ok() was STRICT: a STRICT SQL function whose body is
--     "= ANY (...)" is never inlined (the planner counts the array test as
--     non-strict), so every CHECK ran a SQL function call (3.7 us a row
--     against 0.5 us inlined).  Without STRICT it returns the same value
--     for every input, NULL for NULL, and is inlined.
--   * coffer.bytea_array_ok() held a subquery over unnest(), which cannot be
--     inlined: an executor start per row (10 us a row for three tokens).
--     The same test as a PL/pgSQL loop takes about 2 us.  Operators are
--     named in pg_catalog: a caller's search_path cannot change it.
--
-- Only definitions change: no row is read or rewritten, the locks are held
-- for an instant, and every CHECK constraint keeps its name and message.

ALTER TABLE coffer.records
	DROP CONSTRAINT records_tenant_id_stream_id_fkey,
	DROP CONSTRAINT records_tenant_id_epoch_id_fkey;

ALTER FUNCTION coffer.channel_ok(text) CALLED ON NULL INPUT;

CREATE OR REPLACE FUNCTION coffer.bytea_array_ok(a bytea[], len integer)
	RETURNS boolean
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
DECLARE
	n integer := pg_catalog.cardinality(a);
	i integer;
BEGIN
	IF n OPERATOR(pg_catalog.=) 0 THEN
		RETURN true;
	END IF;
	IF pg_catalog.array_ndims(a) OPERATOR(pg_catalog.<>) 1
	   OR pg_catalog.array_lower(a, 1) OPERATOR(pg_catalog.<>) 1 THEN
		RETURN false;
	END IF;
	FOR i IN 1 .. n LOOP
		IF a[i] IS NULL
		   OR pg_catalog.octet_length(a[i]) OPERATOR(pg_catalog.<>) len THEN
			RETURN false;
		END IF;
	END LOOP;
	RETURN true;
END
$fn$;
