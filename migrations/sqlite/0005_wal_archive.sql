-- WAL files archived for a continuous PostgreSQL configuration (archive_command sends them to
-- the server). The repository holds the bytes; this table answers "what can be restored"
-- (the restorable window, the files a point-in-time restore needs) without listing storage.
CREATE TABLE wal_archive (
    configuration_id TEXT NOT NULL REFERENCES backup_configurations(id),
    name TEXT NOT NULL,
    storage_location_id TEXT NOT NULL REFERENCES backup_storage_locations(id),
    size_bytes BIGINT NOT NULL,
    archived_at TEXT NOT NULL,
    PRIMARY KEY (configuration_id, name)
);
