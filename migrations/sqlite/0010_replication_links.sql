-- A standing copy rule: after every backup that lands on the source, a replication run to the
-- target is queued (at most one queued per pair), as AWS Backup's copy actions do.
CREATE TABLE replication_links (
    id TEXT PRIMARY KEY,
    source_location_id TEXT NOT NULL REFERENCES backup_storage_locations(id),
    target_location_id TEXT NOT NULL REFERENCES backup_storage_locations(id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (source_location_id, target_location_id)
);

-- A run also removes from the target what the source no longer has (forgotten snapshots,
-- pruned packs), except what the target's Object Lock still protects.
ALTER TABLE replication_runs ADD COLUMN objects_deleted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE replication_runs ADD COLUMN bytes_deleted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE replication_runs ADD COLUMN objects_locked BIGINT NOT NULL DEFAULT 0;
