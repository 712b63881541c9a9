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

/// The dashboard's charts (ECharts options): backups per day, storage growth, failures by
/// source type, over the last 7 days.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChartOptions {
    pub daily_backups: String,
    pub storage_growth: String,
    pub failures_by_type: String,
}

#[server(prefix = "/_sfn", endpoint = "dashboard_charts")]
pub async fn dashboard_charts() -> Result<ChartOptions, AppError> {
    let principal = crate::ssr::principal().await?;
    let report = bulwark_core::health::metrics::report(&crate::ssr::catalog()?, &principal, Some("7d")).await.map_err(AppError::from_core)?;
    let t = report.trends;
    let days: Vec<String> = t.daily_backups.iter().map(|d| d.date.clone()).collect();
    let growth_days: Vec<String> = t.storage_growth.iter().map(|d| d.date.clone()).collect();
    let failures: Vec<(String, f64)> = t.failures_by_type.iter().map(|(kind, n)| (kind.clone(), *n as f64)).collect();
    Ok(ChartOptions {
        daily_backups: crate::charts::stacked_days(&days, &[("Backups", t.daily_backups.iter().map(|d| d.count as f64).collect())]),
        storage_growth: crate::charts::line_days("Written (GB)", &growth_days, t.storage_growth.iter().map(|d| d.total_size as f64 / 1e9).collect()),
        failures_by_type: crate::charts::shares("Failures", &failures),
    })
}
