-- Restorations a recovery run asks for (its backup_restore steps, their rollbacks) carry the
-- run's approval instead of waiting for approvers: the run started only from an approved plan
-- version, or as a drill an approver confirmed. The run named here is checked again when the
-- restoration runs (it must still be under way).
ALTER TABLE restoration_jobs ADD COLUMN recovery_execution_id TEXT REFERENCES recovery_executions(id);
-- What such a restore creates (a database, directory, prefix or data directory that was not
-- there when it was asked for), as JSON: what a drill's cleanup removes, even when the step that
-- asked for it never recorded its end (its node died).
ALTER TABLE restoration_jobs ADD COLUMN created_place TEXT;

-- A scheduled drill's job (`recovery.drill`, due at its test date), dequeued when someone
-- starts the drill earlier by hand.
ALTER TABLE recovery_testing_results ADD COLUMN job_id TEXT;
CREATE INDEX recovery_testing_results_execution ON recovery_testing_results (execution_id);
