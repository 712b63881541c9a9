-- Safety snapshots and rollbacks (issue 19). Before a restoration writes over what its target
-- holds, the target is backed up into the backup's repository as an execution of type
-- `safety` (kept by a legal hold until the rollback deadline, then by the configuration's
-- retention). A rollback is a restoration of that execution back into the same place,
-- pointing at the restoration it undoes.
ALTER TABLE restoration_jobs ADD COLUMN safety_execution_id TEXT REFERENCES backup_executions(id);
ALTER TABLE restoration_jobs ADD COLUMN safety_seconds DOUBLE PRECISION;
ALTER TABLE restoration_jobs ADD COLUMN rollback_of TEXT REFERENCES restoration_jobs(id);
