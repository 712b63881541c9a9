//! Executions left `queued` or `running` by a job that has ended (its final catalog write was
//! lost in an outage, its node died after its last attempt) are given the end their job had.
//! Without this a configuration stays "under way" for ever: execute answers 409 and cancel
//! answers "already finished". Every node queues the sweep at start and every minute.

use super::{ExecutionError, JOB_KIND};
use crate::platform::catalog::Catalog;
use crate::platform::time;

/// The sweep's job kind.
pub const RECONCILE_KIND: &str = "executions.reconcile";

/// How often every node queues the sweep (once across the nodes).
pub const EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// Ends every execution whose job has ended; returns how many it ended.
///
/// An execution with its own backup job follows that job. A consistency group's member has
/// none (it runs inside its group's job): it is ended only while no backup job at all is queued
/// or running, which a group's running job would be. A safety snapshot runs inside its
/// restoration's job: likewise, only while no restoration job is queued or running.
pub async fn reconcile(catalog: &Catalog) -> Result<u64, ExecutionError> {
    type Stuck = (String, String, Option<String>, Option<String>);
    let stuck: Vec<Stuck> = sqlx::query_as(
        "SELECT e.id, e.status, j.state, j.last_error FROM backup_executions e
           LEFT JOIN jobs j ON j.id = (SELECT id FROM jobs WHERE kind = $1 AND subject_id = e.id ORDER BY created_at DESC LIMIT 1)
          WHERE e.status IN ('queued', 'running')
            AND ((j.id IS NOT NULL AND j.state IN ('succeeded', 'failed', 'cancelled'))
              OR (j.id IS NULL AND e.execution_type = 'group'
                  AND NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND state IN ('queued', 'running')))
              OR (j.id IS NULL AND e.execution_type = $2
                  AND NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $3 AND state IN ('queued', 'running'))))",
    )
    .bind(JOB_KIND)
    .bind(super::SAFETY)
    // `restoration::jobs::JOB_KIND`, named here: restorations are a layer above executions.
    .bind("restoration")
    .fetch_all(catalog.pool())
    .await?;
    let mut ended = 0;
    for (id, status, job_state, last_error) in stuck {
        let safety = super::find(catalog, &id).await?.execution_type == super::SAFETY;
        let (to, reason) = match job_state.as_deref() {
            Some("cancelled") => ("cancelled", "its job was cancelled".to_string()),
            Some(state) => ("failed", format!("its job {state} without recording the backup's outcome: {}", last_error.as_deref().unwrap_or("no error recorded"))),
            None if safety => ("failed", "its restoration's job ended without recording the safety snapshot's outcome".to_string()),
            None => ("failed", "its consistency group's job ended without recording this member's outcome".to_string()),
        };
        let message = format!("ended by reconciliation: {reason}");
        // Conditional on the state read above: a worker that meanwhile recorded an outcome wins.
        let changed = sqlx::query("UPDATE backup_executions SET status = $1, completed_at = $2, error_message = $3 WHERE id = $4 AND status = $5")
            .bind(to)
            .bind(time::now_text())
            .bind(&message)
            .bind(&id)
            .bind(&status)
            .execute(catalog.pool())
            .await?
            .rows_affected();
        if changed == 1 {
            tracing::warn!(execution = %id, to, %reason, "execution reconciled with its ended job");
            ended += 1;
        }
    }
    Ok(ended)
}

