//! What the cost rows say over a period: the seeds' storage utilisation and cost analysis
//! (with each day's trend, for the charts), read from `backup_cost_tracking` alone so both
//! answer quickly whatever the repositories hold.

use chrono::{Duration, Utc};

use super::{CostAnalysis, CostError, StorageUtilization, Suggestion};
use crate::alerts::{self, AlertType};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use bulwark_types::{ConfigurationCost, ConfigurationStorage, CostBreakdown, CostPoint, LocationCost, LocationStorage, StoragePoint};

/// A period of the seeds: `7d`, `30d` (the default) or `90d`; its first day.
pub fn period_start(period: Option<&str>) -> Result<String, CostError> {
    let days = match period.unwrap_or("30d") {
        "7d" => 7,
        "30d" => 30,
        "90d" => 90,
        other => return Err(CostError::Invalid(format!("period: {other:?} is not one of 7d, 30d, 90d"))),
    };
    Ok((Utc::now().date_naive() - Duration::days(days - 1)).to_string())
}

/// What unreferenced data is called where a configuration's name would be.
const UNREFERENCED: &str = "Data no backup references";

/// The latest tracked day in the period.
async fn latest_day(catalog: &Catalog, since: &str) -> Result<Option<String>, CostError> {
    Ok(sqlx::query_scalar::<_, Option<String>>("SELECT MAX(tracking_period_start) FROM backup_cost_tracking WHERE tracking_period_start >= $1").bind(since).fetch_one(catalog.pool()).await?)
}

/// `GET /api/admin/backups/storage/utilization?period=&groupBy=location|configuration`: what is
/// stored (the latest tracked day), by location with the free space a local disk has, by
/// configuration with its retention compliance, and the daily totals.
pub async fn utilization(catalog: &Catalog, actor: &Principal, period: Option<&str>, group_by: Option<&str>) -> Result<StorageUtilization, CostError> {
    actor.require(Role::Viewer)?;
    if let Some(g) = group_by.filter(|g| !matches!(*g, "location" | "configuration")) {
        return Err(CostError::Invalid(format!("groupBy: {g:?} is not location or configuration")));
    }
    let since = period_start(period)?;
    let as_of = latest_day(catalog, &since).await?;
    let day = as_of.clone().unwrap_or_default();
    let by_location: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT l.id, l.location_name, l.provider, l.path_prefix, CAST(SUM(c.storage_bytes) AS BIGINT) FROM backup_cost_tracking c JOIN backup_storage_locations l ON l.id = c.storage_location_id
         WHERE c.tracking_period_start = $1 GROUP BY l.id, l.location_name, l.provider, l.path_prefix ORDER BY l.location_name",
    )
    .bind(&day)
    .fetch_all(catalog.pool())
    .await?;
    let storage_by_location = by_location
        .into_iter()
        .map(|(location_id, location_name, provider, path, used)| {
            let free = (provider == "local").then(|| path.and_then(|p| crate::monitoring::node::disk_usage(std::path::Path::new(&p)))).flatten().map(|(_, free)| free as i64);
            let utilization_percentage = free.map(|free| if used + free > 0 { (used as f64 * 1000.0 / (used + free) as f64).round() / 10.0 } else { 0.0 });
            LocationStorage { location_id, location_name, storage_used: used, storage_available: free, utilization_percentage }
        })
        .collect::<Vec<_>>();
    let violated = !alerts::open_subjects(catalog, AlertType::RetentionViolation).await?.is_empty();
    let by_configuration: Vec<(Option<String>, Option<String>, i64)> = sqlx::query_as(
        "SELECT c.backup_configuration_id, b.name, CAST(SUM(c.storage_bytes) AS BIGINT) FROM backup_cost_tracking c LEFT JOIN backup_configurations b ON b.id = c.backup_configuration_id
         WHERE c.tracking_period_start = $1 GROUP BY c.backup_configuration_id, b.name ORDER BY 3 DESC",
    )
    .bind(&day)
    .fetch_all(catalog.pool())
    .await?;
    let storage_by_configuration = by_configuration
        .into_iter()
        .map(|(configuration_id, name, used)| ConfigurationStorage {
            configuration_name: name.unwrap_or_else(|| UNREFERENCED.into()),
            retention_compliance: configuration_id.is_none() || !violated,
            configuration_id,
            storage_used: used,
        })
        .collect();
    let trend = sqlx::query_as::<_, (String, i64)>(
        "SELECT tracking_period_start, CAST(SUM(storage_bytes) AS BIGINT) FROM backup_cost_tracking WHERE tracking_period_start >= $1 GROUP BY tracking_period_start ORDER BY tracking_period_start",
    )
    .bind(&since)
    .fetch_all(catalog.pool())
    .await?
    .into_iter()
    .map(|(date, bytes)| StoragePoint { date, bytes })
    .collect();
    let total_storage = storage_by_location.iter().map(|l| l.storage_used).sum();
    Ok(StorageUtilization { total_storage, storage_by_location, storage_by_configuration, trend, as_of })
}

/// `GET /api/admin/backups/cost/analysis?period=&breakdown=`: the period's cost (by part when
/// `breakdown`), by location and configuration, each day's, the monthly estimate (the latest
/// day's × 30) and the latest day's suggestions, largest saving first.
pub async fn cost_analysis(catalog: &Catalog, actor: &Principal, period: Option<&str>, breakdown: bool) -> Result<CostAnalysis, CostError> {
    actor.require(Role::Viewer)?;
    let since = period_start(period)?;
    let as_of = latest_day(catalog, &since).await?;
    let day = as_of.clone().unwrap_or_default();
    let daily: Vec<(String, f64, f64, f64, f64)> = sqlx::query_as(
        "SELECT tracking_period_start, SUM(storage_cost_usd), SUM(transfer_cost_usd), SUM(request_cost_usd), SUM(total_cost_usd) FROM backup_cost_tracking
         WHERE tracking_period_start >= $1 GROUP BY tracking_period_start ORDER BY tracking_period_start",
    )
    .bind(&since)
    .fetch_all(catalog.pool())
    .await?;
    let trend: Vec<CostPoint> = daily.into_iter().map(|(date, storage, transfer, requests, total)| CostPoint { date, storage, transfer, requests, total }).collect();
    let parts = trend.iter().fold(CostBreakdown::default(), |sum, p| CostBreakdown { storage: sum.storage + p.storage, transfer: sum.transfer + p.transfer, requests: sum.requests + p.requests });
    let total_cost = parts.storage + parts.transfer + parts.requests;
    let monthly_estimate = trend.iter().find(|p| p.date == day).map_or(0.0, |p| p.total * super::DAYS_PER_MONTH);

    let locations: Vec<(String, String, f64, Option<f64>)> = sqlx::query_as(
        "SELECT l.id, l.location_name, SUM(c.total_cost_usd), SUM(CASE WHEN c.tracking_period_start = $2 THEN c.storage_usage_gb END) FROM backup_cost_tracking c
           JOIN backup_storage_locations l ON l.id = c.storage_location_id WHERE c.tracking_period_start >= $1 GROUP BY l.id, l.location_name ORDER BY 3 DESC",
    )
    .bind(&since)
    .bind(&day)
    .fetch_all(catalog.pool())
    .await?;
    let cost_by_location = locations
        .into_iter()
        .map(|(location_id, location_name, cost, gb)| LocationCost { location_id, location_name, cost, cost_per_gb: gb.filter(|g| *g > 0.0).map_or(0.0, |g| cost / g) })
        .collect();
    let configurations: Vec<(Option<String>, Option<String>, f64)> = sqlx::query_as(
        "SELECT c.backup_configuration_id, b.name, SUM(c.total_cost_usd) FROM backup_cost_tracking c LEFT JOIN backup_configurations b ON b.id = c.backup_configuration_id
         WHERE c.tracking_period_start >= $1 GROUP BY c.backup_configuration_id, b.name ORDER BY 3 DESC",
    )
    .bind(&since)
    .fetch_all(catalog.pool())
    .await?;
    let cost_by_configuration = configurations
        .into_iter()
        .map(|(configuration_id, name, cost)| ConfigurationCost { configuration_id, configuration_name: name.unwrap_or_else(|| UNREFERENCED.into()), cost })
        .collect();

    let stored: Vec<String> = sqlx::query_scalar("SELECT cost_optimization_suggestions FROM backup_cost_tracking WHERE tracking_period_start = $1").bind(&day).fetch_all(catalog.pool()).await?;
    let mut optimization_suggestions: Vec<Suggestion> = stored.iter().flat_map(|json| serde_json::from_str::<Vec<Suggestion>>(json).unwrap_or_default()).collect();
    optimization_suggestions.sort_by(|a, b| b.estimated_savings.total_cmp(&a.estimated_savings));
    Ok(CostAnalysis { total_cost, cost_breakdown: breakdown.then_some(parts), cost_by_location, cost_by_configuration, monthly_estimate, trend, optimization_suggestions, as_of })
}
