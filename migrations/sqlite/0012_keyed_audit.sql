-- Audit rows written with the server's audit key carry an HMAC instead of a plain SHA-256
-- (src/audit.rs); earlier rows stay as they are and are covered by the first keyed row's link.
ALTER TABLE audit_log ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
