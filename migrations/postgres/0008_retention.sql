-- Legal holds: while one is active (not released, not expired) the execution's backup cannot be
-- deleted by any path: retention, a manual delete, the retention cleanup.
CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES backup_executions(id),
    title TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires_at TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    released_at TEXT,
    released_by TEXT
);
CREATE INDEX legal_holds_execution ON legal_holds (execution_id);

-- A deleted execution keeps its row (history, figures); its snapshot is gone.
ALTER TABLE backup_executions ADD COLUMN deleted_at TEXT;

-- A location's retention floor: no backup younger than min days is deleted, none older than max
-- days is kept (legal holds excepted). From retention_locks_at on, the floor can only grow.
ALTER TABLE backup_storage_locations ADD COLUMN retention_min_days BIGINT;
ALTER TABLE backup_storage_locations ADD COLUMN retention_max_days BIGINT;
ALTER TABLE backup_storage_locations ADD COLUMN retention_locks_at TEXT;

CREATE UNIQUE INDEX backup_retention_tracking_execution ON backup_retention_tracking (execution_id);
