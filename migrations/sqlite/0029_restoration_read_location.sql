-- The storage location a completed restore read from (its backup's own, or a replica when that
-- could not be read): a replica no restore reads from is a cost the suggestions can name.
ALTER TABLE restoration_jobs ADD COLUMN read_location_id TEXT;
