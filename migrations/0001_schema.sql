-- 0001_schema.sql — Coffer's base schema, roles and privileges.
--
-- Run by `cofferctl migrate` as the schema owner, inside one transaction
-- (never add BEGIN/COMMIT here); the runner has already created schema
-- coffer and coffer.schema_migrations.
--
-- Layout rules:
--  * Every tenant table is keyed by tenant_id first, so it can be
--    distributed by tenant_id (Citus).  tenants and nodes are the small
--    global catalogues (reference tables there).
--  * Ids are uuid; hashes, keys and tokens are bytea with their exact length
--    checked.  No plaintext content, names, numbers or message ids anywhere:
--    participants, conversations and dedup keys are keyed blind-index tokens.
--  * Evidence tables (records, batches, checkpoints, tombstones,
--    audit_events) are append-only by trigger, and no application role has
--    UPDATE/DELETE on them either.  Key material (tenant_keys, nodes) is
--    writable by the owner only; services must pin what they trust (the
--    tenant key fingerprint, node keys) from their own configuration, since
--    an owner can rewrite any row.
--  * Privileges are granted to four NOLOGIN roles; operators create LOGIN
--    roles that are members of them.

-- ---------------------------------------------------------------------------
-- Roles (cluster-wide: another database in the cluster may have made them).
-- ---------------------------------------------------------------------------
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['coffer_gateway', 'coffer_api', 'coffer_purge',
	                         'coffer_verify'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			BEGIN
				EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL;   -- created concurrently by a runner on another database
			END;
		END IF;
	END LOOP;
END
$roles$;

REVOKE ALL ON SCHEMA coffer FROM PUBLIC;
-- Functions are executable by PUBLIC by default; not ours (the owner's
-- future functions in this schema, e.g. SECURITY DEFINER ones).
ALTER DEFAULT PRIVILEGES IN SCHEMA coffer REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Helpers used in CHECK constraints.  SQL-standard bodies: names are bound
-- when the function is created, so a caller's search_path cannot redirect
-- them.
-- ---------------------------------------------------------------------------

-- A one-dimensional, 1-based array (or empty) of non-NULL bytea of exactly
-- len bytes each.
CREATE FUNCTION coffer.bytea_array_ok(a bytea[], len integer) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN pg_catalog.cardinality(a) = 0
	    OR (pg_catalog.array_ndims(a) = 1 AND pg_catalog.array_lower(a, 1) = 1
	        AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(a) AS e(v)
	                        WHERE v IS NULL OR pg_catalog.octet_length(v) <> len));

-- Message channels the gateway accepts.
CREATE FUNCTION coffer.channel_ok(ch text) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN ch IN ('signal', 'whatsapp', 'telegram', 'wechat', 'sms', 'mms',
	              'rcs', 'imessage', 'email', 'voice', 'other');

-- Every element a channel (NULL elements refused).
CREATE FUNCTION coffer.channels_ok(chs text[]) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(chs) AS e(c)
	                   WHERE c IS NULL OR NOT coffer.channel_ok(c));

-- Constraint expressions run with the inserting role's rights.
GRANT EXECUTE ON FUNCTION coffer.bytea_array_ok(bytea[], integer),
                          coffer.channel_ok(text), coffer.channels_ok(text[])
	TO coffer_gateway, coffer_api, coffer_verify;

-- ---------------------------------------------------------------------------
-- Tenants, keys, nodes, streams, epochs
-- ---------------------------------------------------------------------------
CREATE TABLE coffer.tenants (
	tenant_id     uuid PRIMARY KEY,
	name          text NOT NULL UNIQUE
	              CHECK (pg_catalog.length(name) BETWEEN 1 AND 200),
	threshold_k   integer NOT NULL CHECK (threshold_k >= 1),
	custodians_n  integer NOT NULL CHECK (custodians_n BETWEEN 1 AND 255),
	created_at    timestamptz NOT NULL DEFAULT now(),
	CHECK (threshold_k <= custodians_n)
);

-- Public material only: T = t·B, Feldman commitments C_0..C_{k-1}
-- (commitments[1] = C_0 = T), custodian public shares V_i = s_i·B at
-- public_shares[i] for i = 1..n.  The private key exists nowhere.
CREATE TABLE coffer.tenant_keys (
	tenant_id      uuid PRIMARY KEY REFERENCES coffer.tenants,
	public_key     bytea NOT NULL CHECK (octet_length(public_key) = 32),
	commitments    bytea[] NOT NULL
	               CHECK (pg_catalog.cardinality(commitments) >= 1
	                      AND coffer.bytea_array_ok(commitments, 32)),
	public_shares  bytea[] NOT NULL
	               CHECK (pg_catalog.cardinality(public_shares) >= 1
	                      AND coffer.bytea_array_ok(public_shares, 32)),
	fingerprint    text NOT NULL CHECK (pg_catalog.length(fingerprint) BETWEEN 1 AND 128),
	created_at     timestamptz NOT NULL DEFAULT now()
);

-- Gateway and API nodes and their Ed25519 checkpoint-signing keys.  A node
-- whose key changes is a new node (old checkpoints keep verifying).
CREATE TABLE coffer.nodes (
	node_id             uuid PRIMARY KEY,
	name                text NOT NULL UNIQUE
	                    CHECK (pg_catalog.length(name) BETWEEN 1 AND 200),
	kind                text NOT NULL DEFAULT 'gateway'
	                    CHECK (kind IN ('gateway', 'api')),
	signing_public_key  bytea NOT NULL
	                    CHECK (octet_length(signing_public_key) = 32),
	created_at          timestamptz NOT NULL DEFAULT now()
);

-- One hash chain per (tenant, gateway node).
CREATE TABLE coffer.streams (
	tenant_id   uuid NOT NULL REFERENCES coffer.tenants,
	stream_id   uuid NOT NULL,
	node_id     uuid NOT NULL REFERENCES coffer.nodes,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, stream_id)
);

-- Epoch keys, wrapped to the tenant key: R = r·B and
-- nonce(24) ‖ XChaCha20-Poly1305(W, EK) (72 bytes, vault/wrap.h).  The
-- wrapped key is set to NULL only by crypto-shredding, which also stamps
-- shredded_at; nothing else about an epoch ever changes (trigger below).
CREATE TABLE coffer.epochs (
	tenant_id    uuid NOT NULL,
	epoch_id     uuid NOT NULL,
	stream_id    uuid NOT NULL,
	r_point      bytea NOT NULL CHECK (octet_length(r_point) = 32),
	wrapped_key  bytea CHECK (octet_length(wrapped_key) = 72),
	created_at   timestamptz NOT NULL DEFAULT now(),
	shredded_at  timestamptz,
	PRIMARY KEY (tenant_id, epoch_id),
	FOREIGN KEY (tenant_id, stream_id) REFERENCES coffer.streams,
	CHECK ((wrapped_key IS NULL) = (shredded_at IS NOT NULL))
);

-- ---------------------------------------------------------------------------
-- Records and their integrity chain
-- ---------------------------------------------------------------------------
CREATE TABLE coffer.records (
	tenant_id           uuid NOT NULL,
	stream_id           uuid NOT NULL,
	seq                 bigint NOT NULL CHECK (seq >= 0),
	epoch_id            uuid NOT NULL,
	batch_no            bigint NOT NULL CHECK (batch_no >= 0),
	received_at         timestamptz NOT NULL,
	sent_at             timestamptz NOT NULL,
	channel             text NOT NULL CHECK (coffer.channel_ok(channel)),
	size_class          smallint NOT NULL CHECK (size_class BETWEEN 0 AND 255),
	participant_tokens  bytea[] NOT NULL
	                    CHECK (coffer.bytea_array_ok(participant_tokens, 16)),
	conversation_token  bytea CHECK (octet_length(conversation_token) = 16),
	dedup_token         bytea NOT NULL CHECK (octet_length(dedup_token) = 16),
	nonce               bytea NOT NULL CHECK (octet_length(nonce) = 24),
	ciphertext          bytea NOT NULL CHECK (octet_length(ciphertext) >= 16),
	leaf_hash           bytea NOT NULL CHECK (octet_length(leaf_hash) = 32),
	PRIMARY KEY (tenant_id, stream_id, seq),
	UNIQUE (tenant_id, dedup_token),
	FOREIGN KEY (tenant_id, stream_id) REFERENCES coffer.streams,
	FOREIGN KEY (tenant_id, epoch_id) REFERENCES coffer.epochs
);
-- Ciphertext is incompressible: store it out of line without trying pglz
-- on every row (EXTERNAL), which also keeps the heap rows small for the
-- metadata scans productions and verification do.
ALTER TABLE coffer.records ALTER COLUMN ciphertext SET STORAGE EXTERNAL;
CREATE INDEX records_participants ON coffer.records USING gin (participant_tokens);
CREATE INDEX records_sent_at ON coffer.records (tenant_id, sent_at);
CREATE INDEX records_conversation ON coffer.records (tenant_id, conversation_token)
	WHERE conversation_token IS NOT NULL;

-- One row per committed batch: Merkle root over the batch's leaf hashes and
-- the chain head that links it to the previous batch (genesis prev_head is
-- 32 zero bytes).  Formulas in vault/chain.h.
CREATE TABLE coffer.batches (
	tenant_id     uuid NOT NULL,
	stream_id     uuid NOT NULL,
	batch_no      bigint NOT NULL CHECK (batch_no >= 0),
	first_seq     bigint NOT NULL CHECK (first_seq >= 0),
	last_seq      bigint NOT NULL,
	record_count  integer NOT NULL CHECK (record_count >= 1),
	prev_head     bytea NOT NULL CHECK (octet_length(prev_head) = 32),
	merkle_root   bytea NOT NULL CHECK (octet_length(merkle_root) = 32),
	new_head      bytea NOT NULL CHECK (octet_length(new_head) = 32),
	created_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, stream_id, batch_no),
	FOREIGN KEY (tenant_id, stream_id) REFERENCES coffer.streams,
	CHECK (last_seq >= first_seq),
	CHECK (record_count <= last_seq - first_seq + 1)
);

-- Signed chain heads (Ed25519 over vault_checkpoint_encode()).
CREATE TABLE coffer.checkpoints (
	tenant_id   uuid NOT NULL,
	stream_id   uuid NOT NULL,
	batch_no    bigint NOT NULL,
	head        bytea NOT NULL CHECK (octet_length(head) = 32),
	last_seq    bigint NOT NULL CHECK (last_seq >= 0),
	signed_at   timestamptz NOT NULL,
	node_id     uuid NOT NULL REFERENCES coffer.nodes,
	signature   bytea NOT NULL CHECK (octet_length(signature) = 64),
	PRIMARY KEY (tenant_id, stream_id, batch_no),
	-- Deferred so a writer may insert the checkpoint before its batch row
	-- within one transaction.
	FOREIGN KEY (tenant_id, stream_id, batch_no) REFERENCES coffer.batches
		DEFERRABLE INITIALLY DEFERRED
);

-- What purge removed, so the chain still verifies: the leaf hash stands in
-- for the deleted row.
CREATE TABLE coffer.tombstones (
	tenant_id      uuid NOT NULL,
	stream_id      uuid NOT NULL,
	seq            bigint NOT NULL,
	batch_no       bigint NOT NULL,
	leaf_hash      bytea NOT NULL CHECK (octet_length(leaf_hash) = 32),
	reason         text NOT NULL,
	policy         text NOT NULL,
	purged_at      timestamptz NOT NULL DEFAULT now(),
	authorisation  text NOT NULL,
	PRIMARY KEY (tenant_id, stream_id, seq),
	FOREIGN KEY (tenant_id, stream_id) REFERENCES coffer.streams
);

-- ---------------------------------------------------------------------------
-- Identities
-- ---------------------------------------------------------------------------
CREATE TABLE coffer.devices (
	tenant_id         uuid NOT NULL REFERENCES coffer.tenants,
	device_id         text NOT NULL
	                  CHECK (pg_catalog.length(device_id) BETWEEN 1 AND 128),
	status            text NOT NULL DEFAULT 'active'
	                  CHECK (status IN ('active', 'revoked')),
	cert_serial       text,
	cert_fingerprint  text,
	created_at        timestamptz NOT NULL DEFAULT now(),
	revoked_at        timestamptz,
	PRIMARY KEY (tenant_id, device_id),
	CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);

-- cert_fingerprint is unique across tenants (one certificate, one person).
-- A custodian's index is the x of their Shamir share; a replacement custodian
-- holding the same share reuses it once the old user is revoked.
CREATE TABLE coffer.users (
	tenant_id          uuid NOT NULL REFERENCES coffer.tenants,
	user_id            uuid NOT NULL,
	name               text NOT NULL
	                   CHECK (pg_catalog.length(name) BETWEEN 1 AND 200),
	role               text NOT NULL
	                   CHECK (role IN ('admin', 'legal', 'custodian', 'auditor')),
	custodian_index    integer CHECK (custodian_index BETWEEN 1 AND 255),
	cert_fingerprint   text UNIQUE,
	cert_serial        text,
	x25519_public_key  bytea CHECK (octet_length(x25519_public_key) = 32),
	status             text NOT NULL DEFAULT 'active'
	                   CHECK (status IN ('active', 'revoked')),
	created_at         timestamptz NOT NULL DEFAULT now(),
	revoked_at         timestamptz,
	PRIMARY KEY (tenant_id, user_id),
	CHECK ((role = 'custodian') = (custodian_index IS NOT NULL)),
	CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE UNIQUE INDEX users_active_custodian ON coffer.users (tenant_id, custodian_index)
	WHERE custodian_index IS NOT NULL AND status = 'active';

-- ---------------------------------------------------------------------------
-- eDiscovery: matters, approvals, productions, holds
-- ---------------------------------------------------------------------------
-- scope holds blind-index tokens as hex and channel names, never the values
-- they were made from.
CREATE TABLE coffer.matters (
	tenant_id          uuid NOT NULL,
	matter_id          uuid NOT NULL,
	title              text NOT NULL CHECK (pg_catalog.length(title) BETWEEN 1 AND 500),
	legal_basis        text NOT NULL CHECK (pg_catalog.length(legal_basis) BETWEEN 1 AND 2000),
	requester_user_id  uuid NOT NULL,
	scope              jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(scope) = 'object'),
	time_from          timestamptz,
	time_to            timestamptz,
	state              text NOT NULL DEFAULT 'open'
	                   CHECK (state IN ('open', 'approved', 'building', 'ready',
	                                    'failed', 'closed')),
	progress           integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
	failure_reason     text,
	created_at         timestamptz NOT NULL DEFAULT now(),
	closed_at          timestamptz,
	PRIMARY KEY (tenant_id, matter_id),
	FOREIGN KEY (tenant_id, requester_user_id) REFERENCES coffer.users,
	CHECK (time_from IS NULL OR time_to IS NULL OR time_from <= time_to),
	CHECK ((state = 'closed') = (closed_at IS NOT NULL))
);

-- One approval per custodian share per matter.  partials:
-- {"<epoch_id>": {"p": "<hex P_i>", "proof": "<hex>"}, ...}.  Kept: an
-- auditor re-verifies the proofs offline.
CREATE TABLE coffer.approvals (
	tenant_id        uuid NOT NULL,
	matter_id        uuid NOT NULL,
	custodian_index  integer NOT NULL CHECK (custodian_index BETWEEN 1 AND 255),
	user_id          uuid NOT NULL,
	partials         jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(partials) = 'object'),
	approved_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, matter_id, custodian_index),
	FOREIGN KEY (tenant_id, matter_id) REFERENCES coffer.matters,
	FOREIGN KEY (tenant_id, user_id) REFERENCES coffer.users
);

-- A production is sealed to the requester's X25519 key (crypto_box_seal'ed
-- secretstream).  Large ones live as a file on the API host (storage_path);
-- small ones may be kept inline (sealed).  sealed_sha256 pins either.
CREATE TABLE coffer.productions (
	tenant_id          uuid NOT NULL,
	matter_id          uuid NOT NULL,
	production_id      uuid NOT NULL,
	requester_user_id  uuid NOT NULL,
	format             text NOT NULL DEFAULT 'rsmf+jsonl',
	record_count       bigint NOT NULL DEFAULT 0 CHECK (record_count >= 0),
	size_bytes         bigint CHECK (size_bytes >= 0),
	sealed_sha256      bytea CHECK (octet_length(sealed_sha256) = 32),
	storage_path       text,
	sealed             bytea,
	created_at         timestamptz NOT NULL DEFAULT now(),
	completed_at       timestamptz,
	downloaded_at      timestamptz,
	PRIMARY KEY (tenant_id, matter_id, production_id),
	FOREIGN KEY (tenant_id, matter_id) REFERENCES coffer.matters,
	FOREIGN KEY (tenant_id, requester_user_id) REFERENCES coffer.users
);
ALTER TABLE coffer.productions ALTER COLUMN sealed SET STORAGE EXTERNAL;

-- A hold matches a record when every non-NULL criterion matches (tokens:
-- overlap; channels: membership; time: sent_at within bounds).
CREATE TABLE coffer.holds (
	tenant_id            uuid NOT NULL REFERENCES coffer.tenants,
	hold_id              uuid NOT NULL,
	matter_id            uuid,
	reason               text,
	participant_tokens   bytea[] CHECK (coffer.bytea_array_ok(participant_tokens, 16)),
	conversation_tokens  bytea[] CHECK (coffer.bytea_array_ok(conversation_tokens, 16)),
	channels             text[] CHECK (coffer.channels_ok(channels)),
	time_from            timestamptz,
	time_to              timestamptz,
	active               boolean NOT NULL DEFAULT true,
	created_by           text NOT NULL,
	created_at           timestamptz NOT NULL DEFAULT now(),
	released_by          text,
	released_at          timestamptz,
	PRIMARY KEY (tenant_id, hold_id),
	FOREIGN KEY (tenant_id, matter_id) REFERENCES coffer.matters,
	CHECK (time_from IS NULL OR time_to IS NULL OR time_from <= time_to),
	CHECK (active = (released_at IS NULL))
);
CREATE INDEX holds_active ON coffer.holds (tenant_id) WHERE active;

-- channel '*' is the tenant default.
CREATE TABLE coffer.retention_policies (
	tenant_id   uuid NOT NULL REFERENCES coffer.tenants,
	channel     text NOT NULL CHECK (channel = '*' OR coffer.channel_ok(channel)),
	retention   interval NOT NULL CHECK (retention > interval '0'),
	updated_by  text NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, channel)
);

-- ---------------------------------------------------------------------------
-- Audit log, hash-chained per tenant by the application (vault_audit_next):
-- event_no counts from 1 with prev_hash of 32 zero bytes.  No foreign key to
-- tenants: events that concern no tenant (start-up, refused logins) use the
-- nil uuid.  actor is a certificate fingerprint, never a name.
-- ---------------------------------------------------------------------------
CREATE TABLE coffer.audit_events (
	tenant_id   uuid NOT NULL,
	event_no    bigint NOT NULL CHECK (event_no >= 1),
	prev_hash   bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
	event_hash  bytea NOT NULL CHECK (octet_length(event_hash) = 32),
	at          timestamptz NOT NULL DEFAULT now(),
	actor       text NOT NULL,
	role        text NOT NULL,
	action      text NOT NULL,
	target      text,
	outcome     text NOT NULL,
	request_id  text,
	detail      jsonb,
	PRIMARY KEY (tenant_id, event_no)
);

-- ---------------------------------------------------------------------------
-- Append-only enforcement
-- ---------------------------------------------------------------------------
-- Triggers are ENABLE ALWAYS so they fire under
-- session_replication_role = replica too; a DBA has to ALTER TABLE … DISABLE
-- TRIGGER (owner only, visible in the catalog) — and `cofferctl verify`
-- catches any change to the evidence itself through the hash chain.
--
-- Retention (later): purge_expired() will set a transaction-local marker,
-- set_config('coffer.purging', '<per-call nonce>', true), and this function
-- will then let DELETE on coffer.records (only that table, only DELETE)
-- through.  A custom setting can be set by any session, so the marker is no
-- privilege by itself: it only matters to roles that already hold DELETE on
-- records, and no application role does — purge runs as the owner through
-- the SECURITY DEFINER function.
CREATE FUNCTION coffer.refuse_change() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	RAISE EXCEPTION 'coffer.% is append-only: % refused', TG_TABLE_NAME, TG_OP
		USING HINT = 'evidence is append-only; records leave the archive only through coffer.purge_expired()';
END
$fn$;

DO $triggers$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['records', 'batches', 'checkpoints', 'tombstones',
	                         'audit_events'] LOOP
		EXECUTE pg_catalog.format(
			'CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON coffer.%I '
			'FOR EACH ROW EXECUTE FUNCTION coffer.refuse_change()',
			t || '_append_only', t);
		EXECUTE pg_catalog.format(
			'CREATE TRIGGER %I BEFORE TRUNCATE ON coffer.%I '
			'FOR EACH STATEMENT EXECUTE FUNCTION coffer.refuse_change()',
			t || '_no_truncate', t);
		EXECUTE pg_catalog.format('ALTER TABLE coffer.%I ENABLE ALWAYS TRIGGER %I',
			t, t || '_append_only');
		EXECUTE pg_catalog.format('ALTER TABLE coffer.%I ENABLE ALWAYS TRIGGER %I',
			t, t || '_no_truncate');
	END LOOP;
END
$triggers$;

-- Epochs change once, by crypto-shredding: wrapped_key to NULL with
-- shredded_at set, every other column as it was.  Never deleted (records
-- reference them; the R point stays as evidence).
CREATE FUNCTION coffer.epochs_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF TG_OP = 'UPDATE'
	   AND OLD.wrapped_key IS NOT NULL AND NEW.wrapped_key IS NULL
	   AND NEW.shredded_at IS NOT NULL
	   AND NEW.tenant_id = OLD.tenant_id AND NEW.epoch_id = OLD.epoch_id
	   AND NEW.stream_id = OLD.stream_id AND NEW.r_point = OLD.r_point
	   AND NEW.created_at = OLD.created_at THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'coffer.epochs: % refused (an epoch changes only by shredding its wrapped key)', TG_OP;
END
$fn$;
CREATE TRIGGER epochs_guard BEFORE UPDATE OR DELETE ON coffer.epochs
	FOR EACH ROW EXECUTE FUNCTION coffer.epochs_guard();
CREATE TRIGGER epochs_no_truncate BEFORE TRUNCATE ON coffer.epochs
	FOR EACH STATEMENT EXECUTE FUNCTION coffer.refuse_change();
ALTER TABLE coffer.epochs ENABLE ALWAYS TRIGGER epochs_guard;
ALTER TABLE coffer.epochs ENABLE ALWAYS TRIGGER epochs_no_truncate;

REVOKE ALL ON FUNCTION coffer.refuse_change(), coffer.epochs_guard() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Purge (stub).  SECURITY DEFINER: runs as the owner, so coffer_purge needs
-- nothing but EXECUTE.  The retention issue replaces the body: delete only
-- records past their policy's retention and outside every active hold,
-- write a tombstone for each, shred epochs left without records.
-- ---------------------------------------------------------------------------
CREATE FUNCTION coffer.purge_expired(p_tenant_id uuid, p_authorisation text)
	RETURNS bigint
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	RAISE EXCEPTION 'purge not enabled: retention is not implemented yet'
		USING ERRCODE = 'feature_not_supported';
END
$fn$;
REVOKE ALL ON FUNCTION coffer.purge_expired(uuid, text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA coffer FROM PUBLIC;
GRANT USAGE ON SCHEMA coffer TO coffer_gateway, coffer_api, coffer_verify, coffer_purge;

-- Every service may check the schema version it runs against.
GRANT SELECT ON coffer.schema_migrations TO coffer_gateway, coffer_api, coffer_verify;

-- Gateway: appends records and its own chain; reads only what it needs to
-- authenticate devices, wrap epoch keys and resume its chain.  On records
-- it can read back just enough for a duplicate's receipt — never
-- ciphertext, tokens or times.
GRANT SELECT ON coffer.tenants, coffer.tenant_keys, coffer.nodes, coffer.devices,
                coffer.streams, coffer.batches, coffer.checkpoints
	TO coffer_gateway;
GRANT INSERT ON coffer.records, coffer.epochs, coffer.batches, coffer.checkpoints,
                coffer.streams
	TO coffer_gateway;
GRANT SELECT (tenant_id, stream_id, seq, dedup_token, leaf_hash, batch_no)
	ON coffer.records TO coffer_gateway;
GRANT SELECT (tenant_id, epoch_id, stream_id, created_at)
	ON coffer.epochs TO coffer_gateway;

-- API: reads everything (it decrypts only with k custodian partials);
-- writes the workflow tables; never writes evidence other than audit events.
GRANT SELECT ON coffer.tenants, coffer.tenant_keys, coffer.nodes, coffer.streams,
                coffer.epochs, coffer.records, coffer.batches, coffer.checkpoints,
                coffer.tombstones, coffer.devices, coffer.users, coffer.matters,
                coffer.approvals, coffer.productions, coffer.holds,
                coffer.retention_policies, coffer.audit_events
	TO coffer_api;
GRANT INSERT ON coffer.audit_events, coffer.matters, coffer.approvals,
                coffer.productions, coffer.holds, coffer.retention_policies,
                coffer.users, coffer.devices
	TO coffer_api;
GRANT UPDATE (state, progress, failure_reason, closed_at) ON coffer.matters TO coffer_api;
GRANT UPDATE (active, released_by, released_at) ON coffer.holds TO coffer_api;
GRANT UPDATE (retention, updated_by, updated_at) ON coffer.retention_policies TO coffer_api;
GRANT UPDATE (status, revoked_at, x25519_public_key) ON coffer.users TO coffer_api;
GRANT UPDATE (status, revoked_at) ON coffer.devices TO coffer_api;
GRANT UPDATE (record_count, size_bytes, sealed_sha256, storage_path, sealed,
              completed_at, downloaded_at)
	ON coffer.productions TO coffer_api;

-- Verifier / auditor: read-only over everything (nothing secret is stored).
GRANT SELECT ON ALL TABLES IN SCHEMA coffer TO coffer_verify;

-- Purge: the function and nothing else.
GRANT EXECUTE ON FUNCTION coffer.purge_expired(uuid, text) TO coffer_purge;
