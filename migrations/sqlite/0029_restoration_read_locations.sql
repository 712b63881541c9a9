-- The storage locations a completed restore read (its backup's own, or a replica when that
-- could not be read; each member of a consistency group its own): a replica no restore reads
-- is a cost the suggestions can name.
CREATE TABLE restoration_read_locations (
    restoration_id TEXT NOT NULL REFERENCES restoration_jobs(id) ON DELETE CASCADE,
    location_id TEXT NOT NULL,
    PRIMARY KEY (restoration_id, location_id)
);
CREATE INDEX restoration_read_locations_location ON restoration_read_locations (location_id, restoration_id);

-- What the reports recorded so far say, a group's members' included.
INSERT OR IGNORE INTO restoration_read_locations (restoration_id, location_id)
SELECT id, json_extract(report, '$.storageLocationId') FROM restoration_jobs
 WHERE report IS NOT NULL AND json_valid(report) AND json_extract(report, '$.storageLocationId') IS NOT NULL;
INSERT OR IGNORE INTO restoration_read_locations (restoration_id, location_id)
SELECT j.id, json_extract(m.value, '$.report.storageLocationId') FROM restoration_jobs j, json_each(j.report, '$.members') m
 WHERE j.report IS NOT NULL AND json_valid(j.report) AND json_extract(m.value, '$.report.storageLocationId') IS NOT NULL;
