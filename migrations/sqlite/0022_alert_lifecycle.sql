-- Alerts that live (issue 20): what each is about in the seeds' fields, how it ended, and
-- the escalation and notification state later work fills in. One alert is open per condition:
-- the partial unique index makes raising the same condition twice at once one alert, not two.
ALTER TABLE backup_monitoring_alerts ADD COLUMN backup_configuration_id TEXT;
ALTER TABLE backup_monitoring_alerts ADD COLUMN backup_execution_id TEXT;
ALTER TABLE backup_monitoring_alerts ADD COLUMN resolved_by TEXT;
ALTER TABLE backup_monitoring_alerts ADD COLUMN resolution_notes TEXT;
ALTER TABLE backup_monitoring_alerts ADD COLUMN next_escalation_at TEXT;
ALTER TABLE backup_monitoring_alerts ADD COLUMN notification_sent INTEGER NOT NULL DEFAULT 0;
-- Duplicates an earlier, non-atomic raise could have left: all but the oldest end.
UPDATE backup_monitoring_alerts SET status = 'resolved', resolved_at = last_seen_at, resolution_notes = 'a duplicate of an alert open for the same condition'
 WHERE status <> 'resolved'
   AND id NOT IN (SELECT MIN(id) FROM backup_monitoring_alerts WHERE status <> 'resolved' GROUP BY dedup_hash);
CREATE UNIQUE INDEX backup_monitoring_alerts_one_open ON backup_monitoring_alerts (dedup_hash) WHERE status <> 'resolved';
CREATE INDEX backup_monitoring_alerts_configuration ON backup_monitoring_alerts (backup_configuration_id, status);
