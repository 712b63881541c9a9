//! Figures for the dashboard and the pages' empty states.

use serde::{Deserialize, Serialize};

use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::{Catalog, Table};

/// Row counts of what the console shows, as one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub configurations: i64,
    pub storage_locations: i64,
    pub executions: i64,
    pub restorations: i64,
    pub restore_targets: i64,
    pub approvals_pending: i64,
    pub backup_tests: i64,
    pub procedures: i64,
    pub plans: i64,
    pub recovery_executions: i64,
    pub alerts_open: i64,
    pub cost_rows: i64,
    pub users: i64,
    pub audit_rows: i64,
    pub jobs_queued: i64,
    pub jobs_running: i64,
}

pub async fn overview(catalog: &Catalog, actor: &Principal) -> Result<Overview, AuthError> {
    actor.require(Role::Viewer)?;
    let scalar = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql).fetch_one(catalog.pool()).await.map_err(AuthError::from)
    };
    Ok(Overview {
        configurations: catalog.count(Table::BackupConfigurations).await?,
        storage_locations: catalog.count(Table::BackupStorageLocations).await?,
        executions: catalog.count(Table::BackupExecutions).await?,
        restorations: catalog.count(Table::RestorationJobs).await?,
        restore_targets: catalog.count(Table::RestoreTargets).await?,
        approvals_pending: scalar("SELECT COUNT(*) FROM approvals WHERE decision IS NULL").await?,
        backup_tests: catalog.count(Table::BackupTests).await?,
        procedures: catalog.count(Table::DisasterRecoveryProcedures).await?,
        plans: catalog.count(Table::DisasterRecoveryPlans).await?,
        recovery_executions: catalog.count(Table::RecoveryExecutions).await?,
        alerts_open: scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE status <> 'resolved'").await?,
        cost_rows: catalog.count(Table::BackupCostTracking).await?,
        users: catalog.count(Table::Users).await?,
        audit_rows: catalog.count(Table::AuditLog).await?,
        jobs_queued: scalar("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").await?,
        jobs_running: scalar("SELECT COUNT(*) FROM jobs WHERE state = 'running'").await?,
    })
}
