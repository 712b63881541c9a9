-- The dashboard, health and compliance figures read backup_executions by time and status, by
-- configuration for its newest backup, and by location for what is stored: with 100,000
-- executions each scan of the table took tens to hundreds of milliseconds
-- (bench/monitoring.sh). Each index holds its queries' columns, so they read the index alone.
CREATE INDEX backup_executions_completed ON backup_executions (completed_at, status, execution_type, size_bytes, compressed_size_bytes, duration_seconds);
CREATE INDEX backup_executions_status_completed ON backup_executions (status, completed_at, execution_type, size_bytes, compressed_size_bytes, configuration_id);
CREATE INDEX backup_executions_newest ON backup_executions (configuration_id, status, execution_type, started_at, completed_at);
CREATE INDEX backup_executions_stored ON backup_executions (status, deleted_at, storage_location_id, compressed_size_bytes);
-- The newest executions (the dashboard's recent backups), read backwards.
CREATE INDEX backup_executions_created ON backup_executions (created_at, id);
-- Alerts listed by status and type, newest first.
CREATE INDEX backup_monitoring_alerts_listed ON backup_monitoring_alerts (status, alert_type, last_seen_at);
-- The health report's summary of a time range, read from the index alone.
CREATE INDEX system_health_monitoring_summary ON system_health_monitoring (monitoring_timestamp, service_name, health_status, sample_count, response_time_ms);
