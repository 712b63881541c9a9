-- Named restore targets (issue 19): where a restore may go, per environment. The connection's
-- non-secret settings as JSON (a database URL without its password, a directory, a bucket and
-- prefix at an endpoint); its secret (a password or a secret access key) sealed in
-- `connection_encrypted`; the last connection test's outcome.
ALTER TABLE restore_targets ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE restore_targets ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE restore_targets ADD COLUMN last_test_at TEXT;
ALTER TABLE restore_targets ADD COLUMN last_test_ok INTEGER;
ALTER TABLE restore_targets ADD COLUMN last_test_message TEXT;
