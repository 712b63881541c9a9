-- The seeds' execute request carries a note and tags (`{executionType, notes, tags}`): kept on
-- the execution, shown with it.
ALTER TABLE backup_executions ADD COLUMN notes TEXT;
ALTER TABLE backup_executions ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
