-- 0004_blind_release.sql — releases leave nothing reusable behind (issue 12).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- Until now a custodian answered an epoch's real R with P_i = s_i·R, and
-- those partials were stored in coffer.approvals.partials and copied into
-- the 'approval' audit events: any K of them combine (Lagrange) to t·R and
-- open the epoch key, so every role that could read them — the read-only
-- auditor role, every backup, every audit export — held the release.
--
-- From here on custodians answer a blinded point R' = ρ·R, ρ derived from
-- a per-matter seed that lives only on the API host (never in the
-- database) and is destroyed once the matter's build ends
-- (vault/threshold.h, api/blind.h).  Stored blinded partials combine only
-- to ρ·t·R, which is useless without ρ.
--
-- This migration:
--  * freezes each matter's production recipient (matters.recipient_key,
--    the requester's X25519 key when the matter was made; for existing
--    matters, the key registered now) and adds matters.blind_id, the
--    generation of the matter's blinding seed;
--  * adds approvals.blind_id: an approval counts only for the seed it was
--    computed under (nil uuid for approvals made before this migration);
--  * REMOVES every stored unblinded partial: approvals.partials becomes
--    {"redacted": "0004"} and every audit event that carried partials (the
--    API's 'approval.submit') loses its "partials" member (recorded in coffer.audit_redactions; `cofferctl
--    verify` takes those events' hashes as stored and says how many);
--  * sends matters that were approved but not yet built back to 'open':
--    their approvals were made on the real R and are withdrawn; custodians
--    approve again.
--
-- The old values also stay in dead tuples and WAL until the tables are
-- rewritten: after upgrading run VACUUM FULL coffer.approvals,
-- coffer.audit_events; CHECKPOINT (README, "Upgrading (migration 0004)").
--
-- What it cannot do: partials already copied into backups, replicas, WAL
-- archives or exported audit logs made before this migration stay
-- dangerous.  Treat those copies as releases of the epochs they name
-- (README, "Blinded release").
ALTER TABLE coffer.matters
	ADD COLUMN recipient_key bytea CHECK (octet_length(recipient_key) = 32),
	ADD COLUMN blind_id uuid;

UPDATE coffer.matters m SET recipient_key = u.x25519_public_key
	FROM coffer.users u
	WHERE u.tenant_id = m.tenant_id AND u.user_id = m.requester_user_id;

ALTER TABLE coffer.approvals
	ADD COLUMN blind_id uuid NOT NULL
		DEFAULT '00000000-0000-0000-0000-000000000000';
ALTER TABLE coffer.approvals ALTER COLUMN blind_id DROP DEFAULT;
ALTER TABLE coffer.approvals DROP CONSTRAINT approvals_pkey;
ALTER TABLE coffer.approvals
	ADD PRIMARY KEY (tenant_id, matter_id, blind_id, custodian_index);
CREATE UNIQUE INDEX approvals_one_per_user
	ON coffer.approvals (tenant_id, matter_id, blind_id, user_id);

UPDATE coffer.approvals SET partials = '{"redacted": "0004"}'::jsonb
	WHERE partials <> '{"redacted": "0004"}'::jsonb;

UPDATE coffer.matters SET state = 'open', progress = 0,
	failure_reason = 'approvals given before migration 0004 (unblinded '
	                 'partials) were withdrawn: approve again'
	WHERE state IN ('approved', 'building')
	  AND EXISTS (SELECT 1 FROM coffer.approvals a
	              WHERE a.tenant_id = matters.tenant_id
	                AND a.matter_id = matters.matter_id);

-- Audit events whose detail lost its partials.  Their event_hash can no
-- longer be recomputed; the link to the next event still holds.
CREATE TABLE coffer.audit_redactions (
	tenant_id    uuid NOT NULL,
	event_no     bigint NOT NULL,
	reason       text NOT NULL,
	redacted_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, event_no),
	FOREIGN KEY (tenant_id, event_no) REFERENCES coffer.audit_events
);
CREATE TRIGGER audit_redactions_append_only BEFORE UPDATE OR DELETE
	ON coffer.audit_redactions FOR EACH ROW EXECUTE FUNCTION coffer.refuse_change();
CREATE TRIGGER audit_redactions_no_truncate BEFORE TRUNCATE
	ON coffer.audit_redactions FOR EACH STATEMENT EXECUTE FUNCTION coffer.refuse_change();
ALTER TABLE coffer.audit_redactions ENABLE ALWAYS TRIGGER audit_redactions_append_only;
ALTER TABLE coffer.audit_redactions ENABLE ALWAYS TRIGGER audit_redactions_no_truncate;

-- The API names approval events by its route ('approval.submit'); any
-- event that carries partials is redacted, whatever its action.
INSERT INTO coffer.audit_redactions (tenant_id, event_no, reason)
	SELECT tenant_id, event_no, '0004: unblinded partials removed'
	FROM coffer.audit_events
	WHERE detail ? 'partials';

ALTER TABLE coffer.audit_events DISABLE TRIGGER audit_events_append_only;
UPDATE coffer.audit_events
	SET detail = (detail - 'partials') || '{"partials_redacted": "0004"}'::jsonb
	WHERE detail ? 'partials';
ALTER TABLE coffer.audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;

GRANT SELECT ON coffer.audit_redactions TO coffer_api, coffer_verify;
GRANT UPDATE (blind_id) ON coffer.matters TO coffer_api;
