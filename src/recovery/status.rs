//! The disaster-recovery status: one word for the whole platform and the facts behind it.
//! Critical: a service is unhealthy, or a run failed or was rolled back in the last day.
//! Degraded: a service is degraded, a configuration is past its RPO, or a run is under way.

use bulwark_types::{DrStatus, Role, ServiceState};

use super::runs::{self, RunFilter};
use super::{RecoveryError, ledger};
use crate::health::compliance;
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::time;

pub async fn status(catalog: &Catalog, actor: &Principal) -> Result<DrStatus, RecoveryError> {
    actor.require(Role::Viewer)?;
    let now = catalog.now().await?;
    let active_executions = runs::list(catalog, actor, &RunFilter { active: Some(true), ..RunFilter::default() }).await?;
    let services: Vec<(String, String, String)> =
        sqlx::query_as("SELECT service_name, health_status, monitoring_timestamp FROM system_health_latest ORDER BY service_name").fetch_all(catalog.pool()).await?;
    let system_health: Vec<ServiceState> = services.into_iter().map(|(service_name, health_status, monitoring_timestamp)| ServiceState { service_name, health_status, monitoring_timestamp }).collect();
    let recent_failovers = ledger::failovers(catalog, actor, &time::to_text(now - chrono::Duration::days(7)), None).await?;
    let backup_status = compliance::of_all_at(catalog, now).await?;
    let failed_runs: Vec<(String, String)> = sqlx::query_as(
        "SELECT execution_name, status FROM recovery_executions WHERE status IN ('failed', 'rolled_back') AND execution_mode <> 'test' AND completed_at >= $1 ORDER BY completed_at DESC",
    )
    .bind(time::to_text(now - chrono::Duration::days(1)))
    .fetch_all(catalog.pool())
    .await?;
    let mut critical = Vec::new();
    let mut degraded = Vec::new();
    for service in &system_health {
        match service.health_status.as_str() {
            "unhealthy" => critical.push(format!("{} is unhealthy", service.service_name)),
            "degraded" => degraded.push(format!("{} is degraded", service.service_name)),
            _ => {}
        }
    }
    for (name, status) in &failed_runs {
        critical.push(format!("{name} ended {status} in the last 24 hours"));
    }
    for c in backup_status.iter().filter(|c| c.rpo_met == Some(false)) {
        degraded.push(format!("{} is past its RPO", c.name));
    }
    for run in &active_executions {
        degraded.push(format!("{} is {}", run.execution_name, run.status));
    }
    let status = if !critical.is_empty() { "critical" } else if !degraded.is_empty() { "degraded" } else { "healthy" };
    critical.extend(degraded);
    Ok(DrStatus { success: true, status: status.into(), reasons: critical, active_executions, system_health, recent_failovers, backup_status })
}
