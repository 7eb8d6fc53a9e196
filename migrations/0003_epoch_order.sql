-- 0003_epoch_order.sql — order a stream's epochs by creation, not by clock.
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- purge_expired() (0002) shreds an emptied epoch only once its stream has
-- moved on to a later epoch, and "later" was judged by epochs.created_at,
-- the database clock at insert.  If that clock steps back (NTP correction,
-- restored VM snapshot), a lane's CURRENT epoch can carry an earlier
-- created_at than the epoch before it, look superseded, and lose its key
-- while the gateway still seals new records under it: those records could
-- never be opened again.  An identity number is taken in insert order
-- whatever the clock does, so "later" now means "inserted later".
--
-- Existing rows are numbered by (created_at, epoch_id), the best order they
-- have; from here on the number follows inserts.  The epochs guard keeps
-- the number unchangeable like every other column but wrapped_key and
-- shredded_at.

ALTER TABLE coffer.epochs ADD COLUMN created_no bigint;

-- The guard refuses every UPDATE outside a purge: lift it for the backfill
-- only, inside this transaction, and put it back as it was (ALWAYS).
ALTER TABLE coffer.epochs DISABLE TRIGGER epochs_guard;
UPDATE coffer.epochs e SET created_no = o.n
FROM (SELECT tenant_id, epoch_id,
             row_number() OVER (ORDER BY created_at, epoch_id) AS n
      FROM coffer.epochs) o
WHERE o.tenant_id = e.tenant_id AND o.epoch_id = e.epoch_id;
ALTER TABLE coffer.epochs ENABLE ALWAYS TRIGGER epochs_guard;

ALTER TABLE coffer.epochs ALTER COLUMN created_no SET NOT NULL;
ALTER TABLE coffer.epochs ALTER COLUMN created_no
	ADD GENERATED ALWAYS AS IDENTITY;
SELECT pg_catalog.setval(
	pg_catalog.pg_get_serial_sequence('coffer.epochs', 'created_no'),
	COALESCE((SELECT pg_catalog.max(created_no) FROM coffer.epochs), 0) + 1,
	false);
CREATE INDEX epochs_stream_order ON coffer.epochs (tenant_id, stream_id, created_no);

-- The two functions change in one comparison each.  They are rewritten from
-- their current definitions rather than restated here, so this file cannot
-- drift from 0002; each rewrite must match exactly once or the migration
-- fails.
DO $do$
DECLARE
	v_def  text;
	v_new  text;
	v_fn   text;
	v_old  text;
	v_repl text;
BEGIN
	FOR v_fn, v_old, v_repl IN VALUES
		('coffer.epochs_guard()',
		 'AND NEW.created_at = OLD.created_at THEN',
		 'AND NEW.created_at = OLD.created_at
	   AND NEW.created_no = OLD.created_no THEN'),
		('coffer.purge_expired(uuid, uuid, text, boolean)',
		 'AND n.created_at > e.created_at)',
		 'AND n.created_no > e.created_no)')
	LOOP
		v_def := pg_catalog.pg_get_functiondef(v_fn::regprocedure);
		v_new := pg_catalog.replace(v_def, v_old, v_repl);
		IF pg_catalog.length(v_def) - pg_catalog.length(pg_catalog.replace(v_def, v_old, ''))
		   <> pg_catalog.length(v_old) THEN
			RAISE EXCEPTION '0003: % does not contain "%" exactly once', v_fn, v_old;
		END IF;
		EXECUTE v_new;
	END LOOP;
END
$do$;
