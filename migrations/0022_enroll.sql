-- 0022: device self-enrollment (issue 18): one-time, expiring enrollment
-- codes.  An admin makes a code for a device id (`cofferctl device
-- enroll-code`); the device makes its own key pair and sends a CSR with the
-- code to the enrollment server (`cofferctl device enroll-serve`, EST
-- simpleenroll), which consumes the code and issues a certificate for the
-- device's own public key: the private key never leaves the device.
--
-- Only the SHA-256 of a code is kept (a code is 160 random bits: no
-- dictionary to try), so a reader of this table cannot enroll.  Written by
-- cofferctl only (the owner); nothing here for the application roles.
CREATE TABLE coffer.enroll_codes (
	code_hash    bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
	tenant_id    uuid NOT NULL REFERENCES coffer.tenants,
	device_id    text NOT NULL
	             CHECK (pg_catalog.length(device_id) BETWEEN 1 AND 128),
	created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
	expires_at   timestamptz NOT NULL,
	used_at      timestamptz,
	fingerprint  text,          -- the certificate it was used for
	CHECK (expires_at > created_at),
	CHECK ((used_at IS NULL) = (fingerprint IS NULL))
);
CREATE INDEX enroll_codes_device ON coffer.enroll_codes (tenant_id, device_id);
REVOKE ALL ON coffer.enroll_codes FROM PUBLIC;
GRANT SELECT ON coffer.enroll_codes TO coffer_verify;
