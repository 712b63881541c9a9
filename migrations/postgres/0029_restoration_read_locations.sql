-- The storage locations a completed restore read (its backup's own, or a replica when that
-- could not be read; each member of a consistency group its own): a replica no restore reads
-- is a cost the suggestions can name.
CREATE TABLE restoration_read_locations (
    restoration_id TEXT NOT NULL REFERENCES restoration_jobs(id) ON DELETE CASCADE,
    location_id TEXT NOT NULL,
    PRIMARY KEY (restoration_id, location_id)
);
CREATE INDEX restoration_read_locations_location ON restoration_read_locations (location_id, restoration_id);

-- What the reports recorded so far say, a group's members' included (read as text: a report
-- that is not JSON fails no migration).
INSERT INTO restoration_read_locations (restoration_id, location_id)
SELECT DISTINCT id, (regexp_matches(report, '"storageLocationId":"([^"]+)"', 'g'))[1] FROM restoration_jobs WHERE report IS NOT NULL
ON CONFLICT DO NOTHING;
