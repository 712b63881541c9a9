//! The seeds' backup dashboard (`GET /api/admin/backups/dashboard`): overview cards, the newest
//! backups of every configuration, the alerts not resolved, each configuration's next scheduled
//! backup, and system health (RTO and RPO compliance and the success rate of the last 24 hours),
//! with each configuration's compliance.
//!
//! Storage and cost count what the backups still kept added to their repositories (compressed,
//! encrypted; deleted ones left out), per location at its price per GB-month.

use chrono::Utc;

use super::{days, metrics, HealthError};
use crate::alerts::{self, Filter};
use crate::configurations;
use crate::executions;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::time;

pub use bulwark_types::{Dashboard, DashboardOverview, RecentExecution, SystemHealth, UpcomingTask};

pub async fn dashboard(catalog: &Catalog, actor: &Principal) -> Result<Dashboard, HealthError> {
    actor.require(Role::Viewer)?;
    let configurations = configurations::list(catalog, actor).await?;
    let name_of = |id: &str| configurations.iter().find(|c| c.configuration.id == id).map(|c| c.configuration.name.clone()).unwrap_or_default();
    let since = time::to_text(Utc::now() - chrono::Duration::hours(24));
    // Each count and sum reads one index (migration 0026), not the table.
    let source = executions::of_source("");
    let (active_backups, failed_backups): (i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT COUNT(*) FROM backup_executions WHERE status IN ('queued', 'running') AND {source}),
                (SELECT COUNT(*) FROM backup_executions WHERE status = 'failed' AND completed_at >= $1 AND {source})"
    ))
    .bind(&since)
    .fetch_one(catalog.pool())
    .await?;
    let by_location = days::stored_by_location(catalog).await?;
    let prices: std::collections::HashMap<String, Option<f64>> =
        sqlx::query_as::<_, (String, Option<f64>)>("SELECT id, cost_per_gb_month FROM backup_storage_locations").fetch_all(catalog.pool()).await?.into_iter().collect();
    let stored: Vec<(i64, Option<f64>)> = by_location.into_iter().filter_map(|(location, bytes)| Some((bytes, *prices.get(&location)?))).collect();
    let total_storage_bytes: i64 = stored.iter().map(|(bytes, _)| bytes).sum();
    let monthly_cost: f64 = stored.iter().map(|(bytes, price)| *bytes as f64 / 1e9 * price.unwrap_or(0.0)).sum();
    let overview = DashboardOverview {
        total_configurations: configurations.iter().filter(|c| c.configuration.is_active != 0).count() as i64,
        active_backups,
        failed_backups,
        total_storage: bulwark_types::human_bytes(total_storage_bytes.max(0) as u64),
        total_storage_bytes,
        monthly_cost: (monthly_cost * 100.0).round() / 100.0,
    };
    let recent_executions = executions::recent(catalog, actor, 10)
        .await?
        .into_iter()
        .map(|execution| RecentExecution { configuration_name: name_of(&execution.configuration_id), execution })
        .collect();
    let active_alerts = alerts::list(catalog, actor, &Filter { status: Some("active".into()), limit: Some(20), ..Default::default() }).await?;
    let mut upcoming_tasks: Vec<UpcomingTask> = configurations
        .iter()
        .filter_map(|c| {
            Some(UpcomingTask { configuration_id: c.configuration.id.clone(), configuration_name: c.configuration.name.clone(), task_type: "backup".into(), scheduled_for: c.next_execution.clone()? })
        })
        .collect();
    upcoming_tasks.sort_by(|a, b| a.scheduled_for.cmp(&b.scheduled_for));
    upcoming_tasks.truncate(10);
    let (metrics, compliance, _) = metrics::metrics_since(catalog, &since, Utc::now()).await?;
    let system_health = SystemHealth { rto_compliance: metrics.rto_achievement, rpo_compliance: metrics.rpo_achievement, success_rate: metrics.success_rate };
    Ok(Dashboard { overview, recent_executions, active_alerts, upcoming_tasks, system_health, compliance })
}

/// What the dashboard shows changes when this does: backups queued, started or ended, alerts
/// raised, seen again, acknowledged or resolved (the live dashboard's server-sent events compare
/// it). Counts by status read an index; it runs each second for every open dashboard.
pub async fn fingerprint(catalog: &Catalog, actor: &Principal) -> Result<String, HealthError> {
    actor.require(Role::Viewer)?;
    let figures: (i64, i64, i64, i64, i64, i64, Option<String>) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM backup_executions),
                (SELECT COUNT(*) FROM backup_executions WHERE status = 'queued'),
                (SELECT COUNT(*) FROM backup_executions WHERE status = 'running'),
                (SELECT COUNT(*) FROM backup_executions WHERE status = 'failed'),
                (SELECT COUNT(*) FROM backup_monitoring_alerts WHERE status = 'open'),
                (SELECT COUNT(*) FROM backup_monitoring_alerts WHERE status = 'acknowledged'),
                (SELECT MAX(last_seen_at) FROM backup_monitoring_alerts)",
    )
    .fetch_one(catalog.pool())
    .await?;
    let (all, queued, running, failed, open, acknowledged, seen) = figures;
    Ok(format!("{all}/{queued}/{running}/{failed}/{open}/{acknowledged}/{}", seen.unwrap_or_default()))
}
