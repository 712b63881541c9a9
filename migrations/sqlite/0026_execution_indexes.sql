-- The dashboard, health and compliance figures read backup_executions by time and status, by
-- configuration for its newest backup, and by location for what is stored: with 100,000
-- executions each scan of the table took tens to hundreds of milliseconds
-- (bench/monitoring.sh). Each index holds its queries' columns, so they read the index alone.
CREATE INDEX backup_executions_completed ON backup_executions (completed_at, status, execution_type, size_bytes, compressed_size_bytes, duration_seconds);
CREATE INDEX backup_executions_status_completed ON backup_executions (status, completed_at, execution_type, size_bytes, compressed_size_bytes, configuration_id);
CREATE INDEX backup_executions_newest ON backup_executions (configuration_id, status, execution_type, started_at, completed_at);
CREATE INDEX backup_executions_stored ON backup_executions (status, deleted_at, storage_location_id, compressed_size_bytes);
