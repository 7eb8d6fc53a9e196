-- 0017_third_party.sql — the designated third party and regulator requests
-- (issue 16, part 4; SEC 17a-4(f)).
--
-- users.third_party: this custodian account is the designated third party
-- (or designated executive officer) that holds a share offline and has
-- undertaken to furnish records to a regulator.  Set by `cofferctl user
-- issue --role custodian --third-party` (audited); only custodians.
--
-- matters.kind: 'ediscovery' (the default) or 'regulator_request' (a
-- regulator asked for records).  A third-party custodian approves only
-- regulator requests (api/approvals.c).
--
-- tenants.regulator_d3p: whether a regulator request's K approvals must
-- include the third party's ('required'), may ('allowed', the default) or
-- must not ('excluded').  Set by `cofferctl tenant set-d3p-rule` (audited).

ALTER TABLE coffer.users
	ADD COLUMN third_party boolean NOT NULL DEFAULT false
	CONSTRAINT users_third_party_custodian
	CHECK (NOT third_party OR role = 'custodian');

ALTER TABLE coffer.matters
	ADD COLUMN kind text NOT NULL DEFAULT 'ediscovery'
	CONSTRAINT matters_kind_known
	CHECK (kind IN ('ediscovery', 'regulator_request'));

ALTER TABLE coffer.tenants
	ADD COLUMN regulator_d3p text NOT NULL DEFAULT 'allowed'
	CONSTRAINT tenants_regulator_d3p_known
	CHECK (regulator_d3p IN ('required', 'allowed', 'excluded'));

-- Privileges: coffer_api and coffer_verify read and insert these tables
-- table-wide (0001), so the new columns need no grant of their own; the
-- API inserts matters.kind and never updates any of the three.
