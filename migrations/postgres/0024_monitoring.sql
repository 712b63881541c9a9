-- Watching services (issue 20): what is probed, and the samples (the seeds'
-- system_health_monitoring) that probes, nodes, locations and outside agents record.

CREATE TABLE monitored_services (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    settings TEXT NOT NULL,
    sealed_password TEXT,
    interval_seconds BIGINT NOT NULL,
    timeout_seconds BIGINT NOT NULL,
    failures_before_alert BIGINT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    geographical_region TEXT,
    availability_zone TEXT,
    -- Claimed by a conditional update of this column: one node probes each interval.
    next_probe_at TEXT NOT NULL,
    last_status TEXT,
    last_checked_at TEXT,
    last_message TEXT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX monitored_services_due ON monitored_services (next_probe_at);

-- The first catalog's placeholder table (never written) gives way to the seeds' shape.
DROP TABLE system_health_monitoring;

-- Raw samples for a day, then one row per service and minute for a week, then per hour for
-- 90 days (`monitoring::samples::downsample`); a bucket keeps its worst status and averages.
CREATE TABLE system_health_monitoring (
    id TEXT PRIMARY KEY,
    monitoring_timestamp TEXT NOT NULL,
    service_name TEXT NOT NULL,
    service_id TEXT,
    health_status TEXT NOT NULL,
    response_time_ms BIGINT,
    cpu_usage DOUBLE PRECISION,
    memory_usage DOUBLE PRECISION,
    disk_usage DOUBLE PRECISION,
    network_latency_ms BIGINT,
    error_rate DOUBLE PRECISION,
    throughput_rps DOUBLE PRECISION,
    active_connections BIGINT,
    custom_metrics TEXT NOT NULL DEFAULT '{}',
    alerts_triggered TEXT NOT NULL DEFAULT '[]',
    anomalies_detected TEXT NOT NULL DEFAULT '{}',
    geographical_region TEXT,
    availability_zone TEXT,
    resolution TEXT NOT NULL DEFAULT 'raw',
    sample_count BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX system_health_monitoring_timestamp ON system_health_monitoring (monitoring_timestamp);
CREATE INDEX system_health_monitoring_service ON system_health_monitoring (service_name, monitoring_timestamp);
CREATE INDEX system_health_monitoring_resolution ON system_health_monitoring (resolution, monitoring_timestamp);
