-- Each service's newest sample, kept by a trigger on every sample written: the health
-- summary's "latest status" per service was a second pass over the range's samples (36,000
-- for 200 services over an hour, bench/monitoring.sh); now it is one row per service.
-- No sample may land between the backfills' snapshot and the triggers' creation.
LOCK TABLE system_health_monitoring IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE system_health_latest (
    service_name TEXT PRIMARY KEY,
    monitoring_timestamp TEXT NOT NULL,
    health_status TEXT NOT NULL
);

INSERT INTO system_health_latest (service_name, monitoring_timestamp, health_status)
SELECT DISTINCT ON (service_name) service_name, monitoring_timestamp, health_status
  FROM system_health_monitoring ORDER BY service_name, monitoring_timestamp DESC, id DESC;

CREATE FUNCTION system_health_latest_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO system_health_latest (service_name, monitoring_timestamp, health_status)
    VALUES (NEW.service_name, NEW.monitoring_timestamp, NEW.health_status)
    ON CONFLICT (service_name) DO UPDATE SET monitoring_timestamp = EXCLUDED.monitoring_timestamp, health_status = EXCLUDED.health_status
     WHERE EXCLUDED.monitoring_timestamp >= system_health_latest.monitoring_timestamp;
    RETURN NULL;
END
$$;

CREATE TRIGGER system_health_latest_track AFTER INSERT ON system_health_monitoring
    FOR EACH ROW EXECUTE FUNCTION system_health_latest_track();

-- The raw samples (kept a day before they are folded into minute buckets) summed per minute
-- and service as they are written: a summary over the last hour read 36,000 raw samples for
-- 200 services; it reads 12,000 of these instead, and the raw ones only for the part of a
-- minute at the range's start. Folding raw samples deletes their minutes here in the same
-- transaction, so a sample is counted either here or in its bucket, never both.
CREATE TABLE system_health_minutes (
    minute TEXT NOT NULL,
    service_name TEXT NOT NULL,
    samples BIGINT NOT NULL,
    up BIGINT NOT NULL,
    response_ms_sum DOUBLE PRECISION NOT NULL,
    timed BIGINT NOT NULL,
    latest_at TEXT NOT NULL,
    PRIMARY KEY (minute, service_name)
);

INSERT INTO system_health_minutes (minute, service_name, samples, up, response_ms_sum, timed, latest_at)
SELECT SUBSTR(monitoring_timestamp, 1, 16), service_name, SUM(sample_count),
       SUM(CASE WHEN health_status IN ('healthy', 'degraded') THEN sample_count ELSE 0 END),
       COALESCE(SUM(response_time_ms * sample_count), 0), SUM(CASE WHEN response_time_ms IS NULL THEN 0 ELSE sample_count END),
       MAX(monitoring_timestamp)
  FROM system_health_monitoring WHERE resolution = 'raw' GROUP BY 1, 2;

CREATE FUNCTION system_health_minutes_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO system_health_minutes (minute, service_name, samples, up, response_ms_sum, timed, latest_at)
    VALUES (SUBSTR(NEW.monitoring_timestamp, 1, 16), NEW.service_name, NEW.sample_count,
            CASE WHEN NEW.health_status IN ('healthy', 'degraded') THEN NEW.sample_count ELSE 0 END,
            COALESCE(NEW.response_time_ms * NEW.sample_count, 0), CASE WHEN NEW.response_time_ms IS NULL THEN 0 ELSE NEW.sample_count END,
            NEW.monitoring_timestamp)
    ON CONFLICT (minute, service_name) DO UPDATE SET
        samples = system_health_minutes.samples + EXCLUDED.samples,
        up = system_health_minutes.up + EXCLUDED.up,
        response_ms_sum = system_health_minutes.response_ms_sum + EXCLUDED.response_ms_sum,
        timed = system_health_minutes.timed + EXCLUDED.timed,
        latest_at = GREATEST(system_health_minutes.latest_at, EXCLUDED.latest_at);
    RETURN NULL;
END
$$;

CREATE TRIGGER system_health_minutes_track AFTER INSERT ON system_health_monitoring
    FOR EACH ROW WHEN (NEW.resolution = 'raw') EXECUTE FUNCTION system_health_minutes_track();

-- The summary reads buckets and raw samples by resolution and time: one covering index for
-- both (instead of the resolution-and-time one), and the range index of the old one-pass
-- summary goes (one index less for every sample written).
DROP INDEX system_health_monitoring_summary;
DROP INDEX system_health_monitoring_resolution;
CREATE INDEX system_health_monitoring_resolution ON system_health_monitoring (resolution, monitoring_timestamp, service_name, health_status, sample_count, response_time_ms);
