-- 0013_device_not_after.sql — the registered device certificate's expiry
-- (issue 15, expiry gauges).
--
-- Run by `cofferctl migrate` as the schema owner inside one transaction.
--
-- cert_not_after: the notAfter of the certificate whose fingerprint is in
-- cert_fingerprint, written by `cofferctl device issue` (and re-issue) in
-- the statement that stores the fingerprint.  NULL for devices issued
-- before this migration (the gateway's gauges leave them out; re-issue to
-- fill it).  The gateway's sealer reads it in its directory refresh for
-- coffer_gateway_device_cert_expiry_seconds and
-- coffer_gateway_devices_expiring_30d (no device is named there).

ALTER TABLE coffer.devices ADD COLUMN cert_not_after timestamptz NULL;
