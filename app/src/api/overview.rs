//! The dashboard's counts, and the seeds' backup dashboard (health, compliance, recent backups,
//! active alerts).

use leptos::prelude::*;

pub use bulwark_types::{Dashboard, Overview};

use crate::error::AppError;

/// The figures behind the dashboard and every section's empty state.
#[server(prefix = "/_sfn", endpoint = "overview")]
pub async fn load_overview() -> Result<Overview, AppError> {
    let principal = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let o = bulwark_core::overview::overview(&catalog, &principal).await.map_err(AppError::from_core)?;
    Ok(Overview {
        configurations: o.configurations,
        storage_locations: o.storage_locations,
        executions: o.executions,
        restorations: o.restorations,
        restore_targets: o.restore_targets,
        approvals_pending: o.approvals_pending,
        backup_tests: o.backup_tests,
        procedures: o.procedures,
        plans: o.plans,
        recovery_executions: o.recovery_executions,
        alerts_open: o.alerts_open,
        cost_rows: o.cost_rows,
        users: o.users,
        audit_rows: o.audit_rows,
        jobs_queued: o.jobs_queued,
        jobs_running: o.jobs_running,
        as_of: bulwark_core::platform::time::now_text(),
    })
}

/// The seeds' backup dashboard: system health, compliance, the newest backups, active alerts.
#[server(prefix = "/_sfn", endpoint = "backup_dashboard")]
pub async fn backup_dashboard() -> Result<bulwark_types::Dashboard, AppError> {
    let principal = crate::ssr::principal().await?;
    bulwark_core::health::dashboard::dashboard(&crate::ssr::catalog()?, &principal).await.map_err(AppError::from_core)
}
