-- Schedules: one row per slot a configuration's schedule fired. The primary key is what makes
-- a slot fire once however many nodes look at it; a slot that found a backup still under way
-- is recorded as skipped, so it is not retried either.
CREATE TABLE schedule_slots (
    configuration_id TEXT NOT NULL REFERENCES backup_configurations(id),
    slot_at TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    node TEXT NOT NULL,
    execution_id TEXT,
    outcome TEXT NOT NULL,
    PRIMARY KEY (configuration_id, slot_at)
);

-- What a job acts on (a backup job: its execution), and a cancellation asked for while it runs.
ALTER TABLE jobs ADD COLUMN subject_id TEXT;
ALTER TABLE jobs ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_subject ON jobs (subject_id);
