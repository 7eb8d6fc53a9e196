-- 0015_possession.sql — share health: periodic proofs of possession
-- (issue 16).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- A custodian of the current generation asks the API for a challenge
-- (POST /v1/possession/challenge), answers it with a Chaum-Pedersen proof
-- made with its share on a point it derives from the challenge
-- (vault/possession.h), and the API records whether the proof verified
-- against the custodian's public share of that generation.  GET
-- /v1/possession and the API's metrics count, per tenant, the seats whose
-- latest answer proved possession within possession_window_days, so a lost
-- or corrupted share shows before a matter needs it.
--
-- Public material only: the challenge is random bytes, and the answer
-- (kept in the audit event of the request, not here) lies on a
-- hash-derived point, never on an epoch's R, so it is no release
-- capability.  One row per challenge; answered_at and result are set once,
-- by the answer (the API's UPDATE names the row only while answered_at IS
-- NULL).

CREATE TABLE coffer.possession_challenges (
	tenant_id        uuid NOT NULL,
	challenge_id     uuid NOT NULL,
	user_id          uuid NOT NULL,
	custodian_index  integer NOT NULL CHECK (custodian_index BETWEEN 1 AND 255),
	generation       integer NOT NULL CHECK (generation >= 1),
	challenge        bytea NOT NULL CHECK (octet_length(challenge) = 32),
	issued_at        timestamptz NOT NULL DEFAULT now(),
	expires_at       timestamptz NOT NULL,
	answered_at      timestamptz,
	result           text CHECK (result IN ('proven', 'failed')),
	PRIMARY KEY (tenant_id, challenge_id),
	FOREIGN KEY (tenant_id, user_id) REFERENCES coffer.users,
	CHECK (expires_at > issued_at),
	CHECK ((answered_at IS NULL) = (result IS NULL))
);

-- A seat's latest answer of a generation (GET /v1/possession, metrics).
CREATE INDEX possession_challenges_answers
	ON coffer.possession_challenges (tenant_id, user_id, generation, answered_at)
	WHERE answered_at IS NOT NULL;

GRANT SELECT, INSERT ON coffer.possession_challenges TO coffer_api;
GRANT UPDATE (answered_at, result) ON coffer.possession_challenges TO coffer_api;
GRANT SELECT ON coffer.possession_challenges TO coffer_verify;
