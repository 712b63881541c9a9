//! What starts a plan, or asks for a person, without anyone pressing a button: a plan's health
//! rule (`failoverCriteria`: its service's last N probes all unhealthy) starts the plan's
//! approved version, fully automated, once for that outage; a drill past its date raises
//! `drill_overdue`. Run every few seconds by the `recovery.triggers` job.

use bulwark_types::{AlertType, ExecuteRequest, ExecutionMode, Severity, TriggerType};

use super::{RecoveryError, plans, runs};
use crate::alerts;
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::time;

pub const JOB_KIND: &str = "recovery.triggers";
/// Who automated runs are started by, in the run and the audit log.
pub const HEALTH_RULE: &str = "bulwark health rule";

/// What one evaluation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Evaluated {
    /// Runs started by a health rule.
    pub started: Vec<String>,
    /// Plans whose drill is overdue.
    pub overdue: usize,
}

pub async fn evaluate(catalog: &Catalog) -> Result<Evaluated, RecoveryError> {
    plans::expire_due(catalog).await?;
    let mut done = Evaluated::default();
    // Approved, active plans only: nothing runs by itself that nobody approved.
    let approved: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.id, v.plan FROM disaster_recovery_plans p JOIN disaster_recovery_plan_versions v ON v.plan_id = p.id AND v.version = p.approved_version
         WHERE p.is_active = 1 AND v.approval_status = 'approved'",
    )
    .fetch_all(catalog.pool())
    .await?;
    for (id, plan) in approved {
        let plan = plans::read_plan(&plan)?;
        let Some(criteria) = plan.failover_criteria else { continue };
        let Some(streak_began) = unhealthy_streak(catalog, &criteria.service, criteria.unhealthy_probes).await? else { continue };
        // Once an outage: a run of the plan under way, or started since the streak began
        // (finished, failed or rolled back), is the answer to this one.
        let answered: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM recovery_executions WHERE plan_id = $1 AND (status IN {} OR initiated_at >= $2)", runs::ACTIVE))
            .bind(&id)
            .bind(&streak_began)
            .fetch_one(catalog.pool())
            .await?;
        if answered > 0 {
            continue;
        }
        let request = ExecuteRequest {
            plan_id: id.clone(),
            trigger_type: TriggerType::AlertBased,
            reason: Some(format!("{} failed its last {} probes", criteria.service, criteria.unhealthy_probes)),
            execution_mode: ExecutionMode::FullyAutomated,
            incident_reference: None,
            incident_started_at: Some(streak_began),
            affected_systems: None,
        };
        match runs::start(catalog, &Principal::system(HEALTH_RULE), &request).await {
            Ok(started) => {
                tracing::warn!(plan = %id, run = %started.execution_id, service = %criteria.service, "a health rule started a recovery plan");
                done.started.push(started.execution_id);
            }
            // Another node's evaluation started it a moment before.
            Err(RecoveryError::Conflict(why)) => tracing::info!(plan = %id, %why, "health rule: no run started"),
            Err(e) => return Err(e),
        }
    }
    done.overdue = overdue_drills(catalog).await?;
    Ok(done)
}

/// When the service's last `probes` samples were all unhealthy: the time of the first of them.
async fn unhealthy_streak(catalog: &Catalog, service: &str, probes: i64) -> Result<Option<String>, RecoveryError> {
    let samples: Vec<(String, String)> =
        sqlx::query_as("SELECT health_status, monitoring_timestamp FROM system_health_monitoring WHERE service_name = $1 ORDER BY monitoring_timestamp DESC LIMIT $2")
            .bind(service)
            .bind(probes)
            .fetch_all(catalog.pool())
            .await?;
    let all_unhealthy = samples.len() as i64 == probes && samples.iter().all(|(status, _)| status == "unhealthy");
    Ok(all_unhealthy.then(|| samples.last().map(|(_, at)| at.clone())).flatten())
}

/// Raises drill_overdue for active plans whose next drill is past, resolves it for the others.
async fn overdue_drills(catalog: &Catalog) -> Result<usize, RecoveryError> {
    let now = time::to_text(catalog.now().await?);
    // A plan being drilled right now is not overdue: its drill's end sets the next date.
    let plans: Vec<(String, String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT id, plan_name, next_drill_at FROM disaster_recovery_plans p WHERE is_active = 1
           AND NOT EXISTS (SELECT 1 FROM recovery_executions r WHERE r.plan_id = p.id AND r.execution_mode = 'test' AND r.status IN {})",
        runs::ACTIVE
    ))
    .fetch_all(catalog.pool())
    .await?;
    let mut overdue = 0;
    for (id, name, next) in plans {
        match next.filter(|at| *at < now) {
            Some(due) => {
                overdue += 1;
                if !alerts::is_open(catalog, AlertType::DrillOverdue, &id).await? {
                    let message = format!("the drill of plan {name:?} was due {due}: run one (Run drill on the DR dashboard)");
                    alerts::raise(catalog, AlertType::DrillOverdue, Severity::Medium, &id, &message).await?;
                }
            }
            None => {
                alerts::resolve(catalog, AlertType::DrillOverdue, &id, "the plan's next drill is not due").await?;
            }
        }
    }
    Ok(overdue)
}
