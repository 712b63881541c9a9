-- A storage location holds one repository. The key that opens it is a random key file
-- generated at init, kept here sealed with the server's secret key (see src/secrets.rs);
-- the administrator gets it once, in the recovery kit.
ALTER TABLE backup_storage_locations ADD COLUMN repository_id TEXT;
ALTER TABLE backup_storage_locations ADD COLUMN repository_key_encrypted TEXT;
ALTER TABLE backup_storage_locations ADD COLUMN last_test_at TEXT;
ALTER TABLE backup_storage_locations ADD COLUMN last_test_ok INTEGER;
ALTER TABLE backup_storage_locations ADD COLUMN last_test_message TEXT;
