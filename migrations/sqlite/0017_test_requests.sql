-- The seeds' test request (`testing/schedule`): a test type (restoration or integrity), a scope,
-- the environment it names, free parameters and a time to run at; their vocabulary for the
-- stored values (`restoration`, `scheduled`).
ALTER TABLE backup_tests ADD COLUMN test_scope TEXT NOT NULL DEFAULT 'single_backup';
ALTER TABLE backup_tests ADD COLUMN test_environment TEXT NOT NULL DEFAULT 'scratch';
ALTER TABLE backup_tests ADD COLUMN test_parameters TEXT NOT NULL DEFAULT '{}';
ALTER TABLE backup_tests ADD COLUMN scheduled_for TEXT;
UPDATE backup_tests SET test_type = 'restoration' WHERE test_type = 'restore';
UPDATE backup_tests SET status = 'scheduled' WHERE status = 'queued';
