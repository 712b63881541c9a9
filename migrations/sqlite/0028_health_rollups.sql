-- Each service's newest sample, kept by a trigger on every sample written: the health
-- summary's "latest status" per service was a second pass over the range's samples (36,000
-- for 200 services over an hour, bench/monitoring.sh); now it is one row per service.
CREATE TABLE system_health_latest (
    service_name TEXT PRIMARY KEY,
    monitoring_timestamp TEXT NOT NULL,
    health_status TEXT NOT NULL
);

INSERT INTO system_health_latest (service_name, monitoring_timestamp, health_status)
SELECT s.service_name, s.monitoring_timestamp, MIN(s.health_status)
  FROM system_health_monitoring s
  JOIN (SELECT service_name, MAX(monitoring_timestamp) AS at FROM system_health_monitoring GROUP BY service_name) l
    ON l.service_name = s.service_name AND l.at = s.monitoring_timestamp
 GROUP BY s.service_name, s.monitoring_timestamp;

CREATE TRIGGER system_health_latest_track AFTER INSERT ON system_health_monitoring
BEGIN
    INSERT INTO system_health_latest (service_name, monitoring_timestamp, health_status)
    VALUES (NEW.service_name, NEW.monitoring_timestamp, NEW.health_status)
    ON CONFLICT (service_name) DO UPDATE SET monitoring_timestamp = excluded.monitoring_timestamp, health_status = excluded.health_status
     WHERE excluded.monitoring_timestamp >= system_health_latest.monitoring_timestamp;
END;

-- The raw samples (kept a day before they are folded into minute buckets) summed per minute
-- and service as they are written: a summary over the last hour read 36,000 raw samples for
-- 200 services; it reads 12,000 of these instead, and the raw ones only for the part of a
-- minute at the range's start. Folding raw samples deletes their minutes here in the same
-- transaction, so a sample is counted either here or in its bucket, never both.
CREATE TABLE system_health_minutes (
    minute TEXT NOT NULL,
    service_name TEXT NOT NULL,
    samples INTEGER NOT NULL,
    up INTEGER NOT NULL,
    response_ms_sum REAL NOT NULL,
    timed INTEGER NOT NULL,
    latest_at TEXT NOT NULL,
    PRIMARY KEY (minute, service_name)
) WITHOUT ROWID;

INSERT INTO system_health_minutes (minute, service_name, samples, up, response_ms_sum, timed, latest_at)
SELECT SUBSTR(monitoring_timestamp, 1, 16), service_name, SUM(sample_count),
       SUM(CASE WHEN health_status IN ('healthy', 'degraded') THEN sample_count ELSE 0 END),
       COALESCE(SUM(response_time_ms * sample_count), 0), SUM(CASE WHEN response_time_ms IS NULL THEN 0 ELSE sample_count END),
       MAX(monitoring_timestamp)
  FROM system_health_monitoring WHERE resolution = 'raw' GROUP BY 1, 2;

CREATE TRIGGER system_health_minutes_track AFTER INSERT ON system_health_monitoring WHEN NEW.resolution = 'raw'
BEGIN
    INSERT INTO system_health_minutes (minute, service_name, samples, up, response_ms_sum, timed, latest_at)
    VALUES (SUBSTR(NEW.monitoring_timestamp, 1, 16), NEW.service_name, NEW.sample_count,
            CASE WHEN NEW.health_status IN ('healthy', 'degraded') THEN NEW.sample_count ELSE 0 END,
            COALESCE(NEW.response_time_ms * NEW.sample_count, 0), CASE WHEN NEW.response_time_ms IS NULL THEN 0 ELSE NEW.sample_count END,
            NEW.monitoring_timestamp)
    ON CONFLICT (minute, service_name) DO UPDATE SET
        samples = system_health_minutes.samples + excluded.samples,
        up = system_health_minutes.up + excluded.up,
        response_ms_sum = system_health_minutes.response_ms_sum + excluded.response_ms_sum,
        timed = system_health_minutes.timed + excluded.timed,
        latest_at = MAX(system_health_minutes.latest_at, excluded.latest_at);
END;

-- The summary reads buckets and raw samples by resolution and time: one covering index for
-- both (instead of the resolution-and-time one), and the range index of the old one-pass
-- summary goes (one index less for every sample written).
DROP INDEX system_health_monitoring_summary;
DROP INDEX system_health_monitoring_resolution;
CREATE INDEX system_health_monitoring_resolution ON system_health_monitoring (resolution, monitoring_timestamp, service_name, health_status, sample_count, response_time_ms);
