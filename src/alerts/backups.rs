//! backup_failed: raised when a backup of a configuration ends without a snapshot, resolved
//! when a later backup of it completes. Run by the events outbox (`events::ALERT_BACKUPS`, on
//! `backup.failed` and `backup.completed`): at least once and in any order, so each step looks
//! at which backup is the configuration's latest outcome (by when each ended, on the catalog's
//! clock; backups of one configuration never overlap) rather than at the order it is told, and
//! decides and writes under the serialisation, so two deliveries cannot interleave.

use super::{AlertError, AlertType, Condition, Severity, dedup_hash, raise_on};
use crate::configurations;
use crate::executions::{self, ExecutionStatus};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::time;

/// What each configuration's failing backups are raised about.
pub fn subject(configuration_id: &str) -> String {
    format!("configuration:{configuration_id}")
}

/// Reacts to the end of backup `execution_id`.
pub async fn on_backup_ended(catalog: &Catalog, execution_id: &str) -> Result<(), AlertError> {
    let execution = executions::find(catalog, execution_id).await?;
    // A safety snapshot backs up a restore's target, not the configuration's source; a
    // cancelled backup was asked to stop; one still under way has no outcome yet.
    let ended = execution.completed_at.clone();
    let (Some(ended), false) = (ended, execution.execution_type == executions::SAFETY) else { return Ok(()) };
    if !matches!(execution.status, ExecutionStatus::Failed | ExecutionStatus::Completed) {
        return Ok(());
    }
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    let subject = subject(&configuration.id);
    let hash = dedup_hash(AlertType::BackupFailed, &subject);
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    if execution.status == ExecutionStatus::Completed {
        // Only failures that ended before this backup are cleared by it.
        let reason = format!("backup {} of {} completed at {ended}", execution.id, configuration.name);
        let resolved: Option<String> = sqlx::query_scalar(
            "UPDATE backup_monitoring_alerts SET status = 'resolved', resolved_at = $1, resolution_notes = $2, next_escalation_at = NULL
              WHERE dedup_hash = $3 AND status <> 'resolved'
                AND backup_execution_id IN (SELECT id FROM backup_executions WHERE completed_at < $4)
              RETURNING id",
        )
        .bind(time::now_text())
        .bind(&reason)
        .bind(&hash)
        .bind(&ended)
        .fetch_optional(&mut *tx.tx)
        .await?;
        if let Some(id) = resolved {
            super::history::record_on(&mut tx.tx, &id, "resolved", None, None, &reason).await?;
        }
        tx.commit().await?;
        return Ok(());
    }
    // A backup that completed after this failure: old news. An alert that already names this
    // failure or a later one (open, or resolved since): told before.
    let later_good: Option<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND completed_at > $2 AND {} LIMIT 1",
        executions::of_source("")
    ))
    .bind(&configuration.id)
    .bind(&ended)
    .fetch_optional(&mut *tx.tx)
    .await?;
    let told: Option<String> = sqlx::query_scalar(
        "SELECT a.id FROM backup_monitoring_alerts a JOIN backup_executions e ON e.id = a.backup_execution_id
          WHERE a.dedup_hash = $1 AND e.completed_at >= $2 LIMIT 1",
    )
    .bind(&hash)
    .bind(&ended)
    .fetch_optional(&mut *tx.tx)
    .await?;
    if later_good.is_none() && told.is_none() {
        let message = format!("backup {} of {} failed: {}", execution.id, configuration.name, execution.error_message.as_deref().unwrap_or("no error recorded"));
        let condition = Condition {
            alert_type: AlertType::BackupFailed,
            severity: Severity::High,
            subject: &subject,
            message: &message,
            configuration_id: Some(&configuration.id),
            execution_id: Some(&execution.id),
        };
        raise_on(&mut *tx.tx, &condition).await?;
    }
    tx.commit().await?;
    Ok(())
}
