-- 0006_device_identity.sql — a device is its certificate; a re-issue
-- retires the previous one, with an explicit overlap window.
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- The gateway accepts a device only with the certificate whose SHA-256 is
-- coffer.devices.cert_fingerprint (issue 12): any other certificate its
-- tenant CA issued with the same CN is refused (unregistered_key).
-- `cofferctl device issue` for an active device (a re-issue) moves the
-- registered certificate here, and the previous one is accepted only while
-- prev_valid_until is in the future: now() + --overlap SECONDS, by default
-- 0, i.e. retired at once.  The row keeps the previous certificate and the
-- end of its window as evidence; the re-issue is an audit event
-- (device.reissue) committed with the change.  Only the latest previous
-- certificate is kept: a second re-issue retires the first one for good.

ALTER TABLE coffer.devices
	ADD COLUMN prev_cert_serial       text,
	ADD COLUMN prev_cert_fingerprint  text,
	ADD COLUMN prev_valid_until       timestamptz,
	ADD CONSTRAINT devices_prev_cert_window
		CHECK ((prev_cert_fingerprint IS NULL) = (prev_valid_until IS NULL)),
	ADD CONSTRAINT devices_prev_cert_fingerprint_hex
		CHECK (prev_cert_fingerprint ~ '^[0-9a-f]{64}$');
