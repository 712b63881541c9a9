//! Restorations left `initiated` or `running` by a job that has ended without recording them
//! (its node died after its last attempt, its final catalog write was lost): given the end
//! their job had, so the place is no longer held and a person sees what to do. A restore that
//! may have written part of its target says so, and its safety snapshot stays open to a
//! rollback. Run by the executions' sweep (`executions::reconcile`'s job), every minute.

use super::jobs::{self, record_end};
use super::{RestorationError, RestorationStatus};
use crate::platform::catalog::Catalog;

/// Ends every restoration whose job has ended; returns how many it ended.
pub async fn reconcile(catalog: &Catalog) -> Result<u64, RestorationError> {
    let stuck: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT r.id, j.state, j.last_error FROM restoration_jobs r JOIN jobs j ON j.id = r.job_id
          WHERE r.status IN ('initiated', 'running') AND j.state IN ('succeeded', 'failed', 'cancelled')",
    )
    .fetch_all(catalog.pool())
    .await?;
    let mut ended = 0;
    for (id, state, last_error) in stuck {
        // One row that cannot be read or written must not keep the others from ending.
        let row = match jobs::find(catalog, &id).await {
            Ok(row) => row,
            Err(e) => {
                tracing::warn!(restoration = %id, error = %e, "a restoration to reconcile could not be read");
                continue;
            }
        };
        let status = if state == "cancelled" { RestorationStatus::Cancelled } else { RestorationStatus::Failed };
        let mut message = format!("ended by reconciliation: its job {state} without recording the restore's outcome ({})", last_error.as_deref().unwrap_or("no error recorded"));
        if row.status == RestorationStatus::Running && row.safety_execution_id.is_some() {
            message.push_str("; its target may be half-written: roll it back to put it back from its safety snapshot");
        }
        match record_end(catalog, &row, status, &message, None).await {
            Ok(true) => {
                tracing::warn!(restoration = %id, job_state = %state, "restoration reconciled with its ended job");
                ended += 1;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(restoration = %id, error = %e, "a restoration could not be reconciled"),
        }
    }
    Ok(ended)
}
