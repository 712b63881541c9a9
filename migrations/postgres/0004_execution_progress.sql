-- A running execution's progress (JSON: bytes read, bytes new, total, rate, ETA), written about
-- once a second by the worker that runs it, and who asked for a manual run.
ALTER TABLE backup_executions ADD COLUMN progress TEXT NOT NULL DEFAULT '{}';
ALTER TABLE backup_executions ADD COLUMN requested_by TEXT;
