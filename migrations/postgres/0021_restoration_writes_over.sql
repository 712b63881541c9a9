-- The configurations whose sources a restoration writes over or into (issue 19): while one
-- waits to run or runs, none of them starts a backup (it would record a half-restored state),
-- and it refuses to run while one of their backups is under way.
CREATE TABLE restoration_writes_over (
    restoration_id TEXT NOT NULL REFERENCES restoration_jobs(id),
    configuration_id TEXT NOT NULL,
    PRIMARY KEY (restoration_id, configuration_id)
);
CREATE INDEX idx_restoration_writes_over_configuration ON restoration_writes_over(configuration_id);
