-- Copies of a location's repository to another location (another region, a colder tier): the
-- target becomes a replica of the same repository (same id, same keys), holding every object
-- of the source. Each run copies only the objects the target lacks.
CREATE TABLE replication_runs (
    id TEXT PRIMARY KEY,
    source_location_id TEXT NOT NULL REFERENCES backup_storage_locations(id),
    target_location_id TEXT NOT NULL REFERENCES backup_storage_locations(id),
    status TEXT NOT NULL,
    objects_copied BIGINT NOT NULL DEFAULT 0,
    bytes_copied BIGINT NOT NULL DEFAULT 0,
    objects_skipped BIGINT NOT NULL DEFAULT 0,
    snapshots_verified BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    requested_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT
);
