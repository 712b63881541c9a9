//! Figures for the dashboard and the pages' empty states.

use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::{Catalog, Table};

pub use bulwark_types::Overview;

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
        approvals_pending: scalar("SELECT COUNT(*) FROM restoration_jobs WHERE status = 'approval_required'").await?,
        backup_tests: catalog.count(Table::BackupTests).await?,
        procedures: catalog.count(Table::DisasterRecoveryPlans).await?,
        recovery_executions: catalog.count(Table::RecoveryExecutions).await?,
        alerts_open: scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE status <> 'resolved'").await?,
        cost_rows: catalog.count(Table::BackupCostTracking).await?,
        users: catalog.count(Table::Users).await?,
        audit_rows: catalog.count(Table::AuditLog).await?,
        jobs_queued: scalar("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").await?,
        jobs_running: scalar("SELECT COUNT(*) FROM jobs WHERE state = 'running'").await?,
        as_of: crate::platform::time::now_text(),
    })
}
