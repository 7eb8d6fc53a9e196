-- 0014_key_generations.sql — share generations and re-sharing (issue 16).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- A generation is one sharing of a tenant key: T, the Feldman commitments,
-- the custodians' public shares, K and N.  `tenant init` makes generation
-- 1; a re-share (proactive redistribution: the old custodians deal
-- sub-shares of their shares to the new ones, the key is never rebuilt)
-- makes the next generation with the same T and new shares.  Only the
-- current generation's shares are accepted: coffer.tenant_keys keeps the
-- current generation (generation column) and coffer.tenant_key_generations
-- the history, public material only.
--
-- Seats.  coffer.users.custodian_index is the index the user holds in the
-- current generation, or NULL for a custodian account that holds no current
-- share (a retired custodian, or a new one before a re-share completes);
-- coffer.custodian_seats keeps who held which index in every generation.
--
-- Approvals carry the generation of the share that made them: partials of
-- different generations lie on different polynomials and never combine, so
-- a build uses only one generation's approvals.
--
-- Re-share workflow (api/reshare.c): coffer.reshares (the plan: new K, N,
-- the recipients and their X25519 keys), coffer.reshare_dealings (one per
-- dealing custodian: commitments to its sub-sharing and one sealed
-- sub-share per recipient), coffer.reshare_reports (each recipient's
-- verdict on every dealing and the transcript digest it saw).  All public:
-- a sub-share is sealed to its recipient's key and the commitments are
-- points.

ALTER TABLE coffer.tenant_keys
	ADD COLUMN generation integer NOT NULL DEFAULT 1 CHECK (generation >= 1);

CREATE TABLE coffer.tenant_key_generations (
	tenant_id      uuid NOT NULL REFERENCES coffer.tenants,
	generation     integer NOT NULL CHECK (generation >= 1),
	public_key     bytea NOT NULL CHECK (octet_length(public_key) = 32),
	threshold_k    integer NOT NULL CHECK (threshold_k >= 1),
	custodians_n   integer NOT NULL CHECK (custodians_n BETWEEN 1 AND 255),
	commitments    bytea[] NOT NULL
	               CHECK (pg_catalog.cardinality(commitments) >= 1
	                      AND coffer.bytea_array_ok(commitments, 32)),
	public_shares  bytea[] NOT NULL
	               CHECK (pg_catalog.cardinality(public_shares) >= 1
	                      AND coffer.bytea_array_ok(public_shares, 32)),
	kind           text NOT NULL CHECK (kind IN ('init', 'reshare')),
	reshare_id     uuid,
	created_at     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, generation),
	CHECK (threshold_k <= custodians_n),
	CHECK ((kind = 'reshare') = (reshare_id IS NOT NULL))
);

INSERT INTO coffer.tenant_key_generations (tenant_id, generation, public_key,
		threshold_k, custodians_n, commitments, public_shares, kind,
		created_at)
	SELECT k.tenant_id, 1, k.public_key, t.threshold_k, t.custodians_n,
	       k.commitments, k.public_shares, 'init', k.created_at
	FROM coffer.tenant_keys k JOIN coffer.tenants t USING (tenant_id);

CREATE TABLE coffer.custodian_seats (
	tenant_id        uuid NOT NULL,
	generation       integer NOT NULL,
	custodian_index  integer NOT NULL CHECK (custodian_index BETWEEN 1 AND 255),
	user_id          uuid NOT NULL,
	PRIMARY KEY (tenant_id, generation, custodian_index),
	UNIQUE (tenant_id, generation, user_id),
	FOREIGN KEY (tenant_id, generation) REFERENCES coffer.tenant_key_generations,
	FOREIGN KEY (tenant_id, user_id) REFERENCES coffer.users
);

INSERT INTO coffer.custodian_seats (tenant_id, generation, custodian_index, user_id)
	SELECT u.tenant_id, 1, u.custodian_index, u.user_id
	FROM coffer.users u
	JOIN coffer.tenant_key_generations g
	  ON g.tenant_id = u.tenant_id AND g.generation = 1
	WHERE u.custodian_index IS NOT NULL AND u.status = 'active';

-- A custodian account may hold no current share (custodian_index NULL);
-- only custodians hold one.
DO $chk$
DECLARE
	c text;
BEGIN
	FOR c IN SELECT conname FROM pg_catalog.pg_constraint
	         WHERE conrelid = 'coffer.users'::regclass AND contype = 'c'
	           AND pg_catalog.pg_get_constraintdef(oid) LIKE '%custodian_index IS NOT NULL%'
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE coffer.users DROP CONSTRAINT %I', c);
	END LOOP;
END
$chk$;
ALTER TABLE coffer.users ADD CONSTRAINT users_custodian_index_role
	CHECK (custodian_index IS NULL OR role = 'custodian');

-- Approvals: the generation of the share that made them.
ALTER TABLE coffer.approvals
	ADD COLUMN generation integer NOT NULL DEFAULT 1 CHECK (generation >= 1);
DO $pk$
DECLARE
	c text;
BEGIN
	SELECT conname INTO c FROM pg_catalog.pg_constraint
	 WHERE conrelid = 'coffer.approvals'::regclass AND contype = 'p';
	EXECUTE pg_catalog.format('ALTER TABLE coffer.approvals DROP CONSTRAINT %I', c);
END
$pk$;
ALTER TABLE coffer.approvals
	ADD PRIMARY KEY (tenant_id, matter_id, blind_id, generation, custodian_index);

-- ---------------------------------------------------------------------------
-- Re-share workflow
-- ---------------------------------------------------------------------------
-- recipients: [{"index": j, "user_id": "...", "name": "...", "key": "<64 hex
-- X25519>"}, ...], indices 1..new_custodians in order.
CREATE TABLE coffer.reshares (
	tenant_id        uuid NOT NULL REFERENCES coffer.tenants,
	reshare_id       uuid NOT NULL,
	from_generation  integer NOT NULL CHECK (from_generation >= 1),
	new_threshold    integer NOT NULL CHECK (new_threshold >= 2),
	new_custodians   integer NOT NULL CHECK (new_custodians BETWEEN 2 AND 255),
	recipients       jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(recipients) = 'array'),
	reason           text NOT NULL CHECK (pg_catalog.length(reason) BETWEEN 1 AND 2000),
	state            text NOT NULL DEFAULT 'proposed'
	                 CHECK (state IN ('proposed', 'dealing', 'finalized',
	                                  'cancelled', 'failed')),
	proposed_by      uuid NOT NULL,
	approved_by      uuid,
	qualified        integer[],
	to_generation    integer,
	transcript       bytea CHECK (octet_length(transcript) = 32),
	failure_reason   text,
	created_at       timestamptz NOT NULL DEFAULT now(),
	finalized_at     timestamptz,
	PRIMARY KEY (tenant_id, reshare_id),
	CHECK (new_threshold <= new_custodians),
	FOREIGN KEY (tenant_id, proposed_by) REFERENCES coffer.users,
	FOREIGN KEY (tenant_id, approved_by) REFERENCES coffer.users
);
-- At most one re-share in progress per tenant.
CREATE UNIQUE INDEX reshares_one_open ON coffer.reshares (tenant_id)
	WHERE state IN ('proposed', 'dealing');

-- commitments: E_0 .. E_{K'-1} of the dealer's sub-sharing (E_0 = its public
-- share V_i of from_generation); sealed: one sealed sub-share per recipient,
-- in recipient index order.
CREATE TABLE coffer.reshare_dealings (
	tenant_id     uuid NOT NULL,
	reshare_id    uuid NOT NULL,
	dealer_index  integer NOT NULL CHECK (dealer_index BETWEEN 1 AND 255),
	user_id       uuid NOT NULL,
	commitments   bytea[] NOT NULL
	              CHECK (pg_catalog.cardinality(commitments) >= 2
	                     AND coffer.bytea_array_ok(commitments, 32)),
	sealed        bytea[] NOT NULL CHECK (pg_catalog.cardinality(sealed) >= 2),
	created_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, reshare_id, dealer_index),
	FOREIGN KEY (tenant_id, reshare_id) REFERENCES coffer.reshares,
	FOREIGN KEY (tenant_id, user_id) REFERENCES coffer.users
);

-- bad_dealers: the dealers whose sub-share for this recipient did not open
-- or did not verify; transcript: the digest of the plan and every dealing
-- the recipient saw (all recipients must agree).
CREATE TABLE coffer.reshare_reports (
	tenant_id        uuid NOT NULL,
	reshare_id       uuid NOT NULL,
	recipient_index  integer NOT NULL CHECK (recipient_index BETWEEN 1 AND 255),
	user_id          uuid NOT NULL,
	bad_dealers      integer[] NOT NULL,
	transcript       bytea NOT NULL CHECK (octet_length(transcript) = 32),
	created_at       timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, reshare_id, recipient_index),
	FOREIGN KEY (tenant_id, reshare_id) REFERENCES coffer.reshares,
	FOREIGN KEY (tenant_id, user_id) REFERENCES coffer.users
);

-- ---------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------
GRANT SELECT ON coffer.tenant_key_generations, coffer.custodian_seats
	TO coffer_gateway, coffer_api, coffer_verify;
GRANT SELECT ON coffer.reshares, coffer.reshare_dealings, coffer.reshare_reports
	TO coffer_api, coffer_verify;
GRANT INSERT ON coffer.reshares, coffer.reshare_dealings, coffer.reshare_reports,
                coffer.tenant_key_generations, coffer.custodian_seats
	TO coffer_api;
GRANT UPDATE (state, approved_by, qualified, to_generation, transcript,
              failure_reason, finalized_at)
	ON coffer.reshares TO coffer_api;
-- Finalising a re-share moves the current generation (same T: the API
-- cannot change the key new epochs are wrapped to, and the gateway checks
-- T against its pin in any case).
GRANT UPDATE (commitments, public_shares, generation) ON coffer.tenant_keys TO coffer_api;
GRANT UPDATE (threshold_k, custodians_n) ON coffer.tenants TO coffer_api;
GRANT UPDATE (custodian_index) ON coffer.users TO coffer_api;

-- Every generation of a key shares one T: C_0 is T.
ALTER TABLE coffer.tenant_key_generations
	ADD CONSTRAINT tenant_key_generations_c0_is_t CHECK (commitments[1] = public_key);
