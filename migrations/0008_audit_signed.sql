-- 0008_audit_signed.sql — audit events are signed by their writer (issue 13.5).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- Until now the audit chain was an unkeyed hash chain: coffer_api and
-- coffer_purge hold INSERT on coffer.audit_events and could append forged,
-- correctly chained events.  From here on every writer signs each event it
-- appends with its own Ed25519 node key (common/audit.h, vault/chain.h
-- "coffer-auditsig-v1"), pinned outside the database (node pins file):
--
--   kind 'api'    the API (signing_key_file): events of API users and jobs
--   kind 'ctl'    cofferctl's administrative verbs (role 'operator')
--   kind 'purge'  cofferctl purge (events 'purge', 'purge.dry-run')
--
-- `cofferctl verify` checks each signature and that the signer's kind may
-- write the event.  Events written before this migration are unsigned:
-- audit_legacy records, per tenant chain, the last event number at
-- migration time; every later event must be signed.  coffer_api and
-- coffer_purge cannot write audit_legacy.
ALTER TABLE coffer.nodes DROP CONSTRAINT nodes_kind_check;
ALTER TABLE coffer.nodes ADD CONSTRAINT nodes_kind_check
	CHECK (kind IN ('gateway', 'api', 'ctl', 'purge'));

ALTER TABLE coffer.audit_events
	ADD COLUMN signer     uuid REFERENCES coffer.nodes,
	ADD COLUMN signature  bytea CHECK (octet_length(signature) = 64),
	ADD CONSTRAINT audit_events_signed_all_or_none
		CHECK ((signer IS NULL) = (signature IS NULL));

CREATE TABLE coffer.audit_legacy (
	tenant_id      uuid PRIMARY KEY,
	last_event_no  bigint NOT NULL CHECK (last_event_no >= 1)
);
INSERT INTO coffer.audit_legacy (tenant_id, last_event_no)
	SELECT tenant_id, pg_catalog.max(event_no)
	FROM coffer.audit_events GROUP BY tenant_id;
CREATE TRIGGER audit_legacy_append_only BEFORE UPDATE OR DELETE
	ON coffer.audit_legacy FOR EACH ROW EXECUTE FUNCTION coffer.refuse_change();
CREATE TRIGGER audit_legacy_no_truncate BEFORE TRUNCATE
	ON coffer.audit_legacy FOR EACH STATEMENT EXECUTE FUNCTION coffer.refuse_change();
ALTER TABLE coffer.audit_legacy ENABLE ALWAYS TRIGGER audit_legacy_append_only;
ALTER TABLE coffer.audit_legacy ENABLE ALWAYS TRIGGER audit_legacy_no_truncate;

-- Writers sign the tenant's redaction list with each event and look up
-- their own node row once.
GRANT SELECT (tenant_id, event_no) ON coffer.audit_redactions TO coffer_purge;
GRANT SELECT (node_id, name, kind, signing_public_key) ON coffer.nodes
	TO coffer_purge;
GRANT SELECT ON coffer.audit_legacy TO coffer_api, coffer_verify;   -- GET /v1/verify
