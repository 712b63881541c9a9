-- Finished executions summed per day (of completed_at), configuration, location, status, kind
-- (a source's backup or a restoration's safety snapshot) and whether still kept: the health
-- report's range figures and the dashboard's stored bytes read a few thousand of these rows
-- instead of every execution (100,000 took 40 ms a query, bench/monitoring.sh). Kept by a
-- trigger, so no write path can leave it behind; only the columns summed fire it.
-- Other nodes may be running on the catalog while this migrates: no execution may change
-- between the backfill's snapshot and the trigger's creation (it would be missed for good).
LOCK TABLE backup_executions IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE backup_execution_days (
    day TEXT NOT NULL,
    configuration_id TEXT NOT NULL,
    storage_location_id TEXT NOT NULL,
    status TEXT NOT NULL,
    of_source INTEGER NOT NULL,
    kept INTEGER NOT NULL,
    executions BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sized BIGINT NOT NULL,
    compressed_bytes BIGINT NOT NULL,
    duration_seconds DOUBLE PRECISION NOT NULL,
    timed BIGINT NOT NULL,
    PRIMARY KEY (day, configuration_id, storage_location_id, status, of_source, kept)
);

INSERT INTO backup_execution_days
SELECT SUBSTR(completed_at, 1, 10), configuration_id, COALESCE(storage_location_id, ''), status,
       CASE WHEN execution_type <> 'safety' THEN 1 ELSE 0 END, CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END,
       COUNT(*), COALESCE(SUM(size_bytes), 0), COUNT(size_bytes), COALESCE(SUM(compressed_size_bytes), 0),
       COALESCE(SUM(duration_seconds), 0), COUNT(duration_seconds)
  FROM backup_executions WHERE completed_at IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5, 6;

CREATE FUNCTION backup_execution_days_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.completed_at IS NOT NULL THEN
        UPDATE backup_execution_days SET
            executions = executions - 1,
            size_bytes = size_bytes - COALESCE(OLD.size_bytes, 0),
            sized = sized - CASE WHEN OLD.size_bytes IS NULL THEN 0 ELSE 1 END,
            compressed_bytes = compressed_bytes - COALESCE(OLD.compressed_size_bytes, 0),
            duration_seconds = duration_seconds - COALESCE(OLD.duration_seconds, 0),
            timed = timed - CASE WHEN OLD.duration_seconds IS NULL THEN 0 ELSE 1 END
         WHERE day = SUBSTR(OLD.completed_at, 1, 10) AND configuration_id = OLD.configuration_id
           AND storage_location_id = COALESCE(OLD.storage_location_id, '') AND status = OLD.status
           AND of_source = CASE WHEN OLD.execution_type <> 'safety' THEN 1 ELSE 0 END
           AND kept = CASE WHEN OLD.deleted_at IS NULL THEN 1 ELSE 0 END;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.completed_at IS NOT NULL THEN
        INSERT INTO backup_execution_days VALUES (
            SUBSTR(NEW.completed_at, 1, 10), NEW.configuration_id, COALESCE(NEW.storage_location_id, ''), NEW.status,
            CASE WHEN NEW.execution_type <> 'safety' THEN 1 ELSE 0 END, CASE WHEN NEW.deleted_at IS NULL THEN 1 ELSE 0 END,
            1, COALESCE(NEW.size_bytes, 0), CASE WHEN NEW.size_bytes IS NULL THEN 0 ELSE 1 END, COALESCE(NEW.compressed_size_bytes, 0),
            COALESCE(NEW.duration_seconds, 0), CASE WHEN NEW.duration_seconds IS NULL THEN 0 ELSE 1 END)
        ON CONFLICT (day, configuration_id, storage_location_id, status, of_source, kept) DO UPDATE SET
            executions = backup_execution_days.executions + 1,
            size_bytes = backup_execution_days.size_bytes + EXCLUDED.size_bytes,
            sized = backup_execution_days.sized + EXCLUDED.sized,
            compressed_bytes = backup_execution_days.compressed_bytes + EXCLUDED.compressed_bytes,
            duration_seconds = backup_execution_days.duration_seconds + EXCLUDED.duration_seconds,
            timed = backup_execution_days.timed + EXCLUDED.timed;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER backup_execution_days_track
    AFTER INSERT OR DELETE OR UPDATE OF completed_at, configuration_id, storage_location_id, status, execution_type, deleted_at,
        size_bytes, compressed_size_bytes, duration_seconds
    ON backup_executions FOR EACH ROW EXECUTE FUNCTION backup_execution_days_track();

-- A configuration's newest restorable point (compliance) as one step down an index: the
-- status and kind filters live in the index's predicate, so MAX(started_at) is read, not
-- searched for (and only that query's filters match it, so no other plan picks it).
DROP INDEX backup_executions_newest;
CREATE INDEX backup_executions_newest ON backup_executions (configuration_id, started_at) WHERE status = 'completed' AND execution_type <> 'safety';
