//! backup_failed: raised when a backup of a configuration ends without a snapshot, resolved
//! when a later backup of it completes. Run by the events outbox (`events::ALERT_BACKUPS`, on
//! `backup.failed` and `backup.completed`): at least once and in any order, so each step looks
//! at which backup is the configuration's latest outcome rather than at the order it is told.

use super::{AlertError, AlertType, Condition, Severity, dedup_hash, raise_condition, resolve};
use crate::configurations;
use crate::executions::{self, ExecutionStatus};
use crate::platform::catalog::Catalog;

/// What each configuration's failing backups are raised about.
pub fn subject(configuration_id: &str) -> String {
    format!("configuration:{configuration_id}")
}

/// Reacts to the end of backup `execution_id`.
pub async fn on_backup_ended(catalog: &Catalog, execution_id: &str) -> Result<(), AlertError> {
    let execution = executions::find(catalog, execution_id).await.map_err(|e| AlertError::Invalid(e.to_string()))?;
    // A safety snapshot backs up a restore's target, not the configuration's source.
    if execution.execution_type == executions::SAFETY {
        return Ok(());
    }
    let configuration = configurations::find(catalog, &execution.configuration_id).await.map_err(|e| AlertError::Invalid(e.to_string()))?;
    let subject = subject(&configuration.id);
    // A backup requested after this one that completed: this outcome is old news.
    let later_good: Option<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND created_at > $2 AND {} LIMIT 1",
        executions::of_source("")
    ))
    .bind(&configuration.id)
    .bind(&execution.created_at)
    .fetch_optional(catalog.pool())
    .await?;
    match execution.status {
        ExecutionStatus::Failed if later_good.is_none() => {
            let message = format!(
                "backup {} of {} failed: {}",
                execution.id,
                configuration.name,
                execution.error_message.as_deref().unwrap_or("no error recorded")
            );
            let condition = Condition {
                alert_type: AlertType::BackupFailed,
                severity: Severity::High,
                subject: &subject,
                message: &message,
                configuration_id: Some(&configuration.id),
                execution_id: Some(&execution.id),
            };
            raise_condition(catalog, &condition).await?;
        }
        ExecutionStatus::Completed => {
            // Only a failure requested before this backup is cleared by it.
            let failing: Option<String> = sqlx::query_scalar(
                "SELECT a.id FROM backup_monitoring_alerts a JOIN backup_executions e ON e.id = a.backup_execution_id
                  WHERE a.dedup_hash = $1 AND a.status <> 'resolved' AND e.created_at < $2",
            )
            .bind(dedup_hash(AlertType::BackupFailed, &subject))
            .bind(&execution.created_at)
            .fetch_optional(catalog.pool())
            .await?;
            if failing.is_some() {
                let reason = format!("backup {} of {} completed at {}", execution.id, configuration.name, execution.completed_at.as_deref().unwrap_or("its end"));
                resolve(catalog, AlertType::BackupFailed, &subject, &reason).await?;
            }
        }
        // Cancelled on request, or still under way: nothing to say.
        _ => {}
    }
    Ok(())
}
