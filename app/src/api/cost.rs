//! Storage cost: the period's analysis and utilisation with their charts, today's rows tracked
//! now (operators), a suggested prune (admins), and each location's prices (admins set them).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use bulwark_types::{CostAnalysis, Prices, StorageUtilization, Suggestion, SuggestionAction};

use crate::error::AppError;

/// The Cost page's figures and its charts' ECharts options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostFigures {
    pub analysis: CostAnalysis,
    pub utilization: StorageUtilization,
    pub cost_chart: String,
    pub storage_chart: String,
    pub location_chart: String,
}

#[server(prefix = "/_sfn", endpoint = "cost_view")]
pub async fn cost_view(period: String) -> Result<CostFigures, AppError> {
    use bulwark_core::cost::analysis;
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let analysis = analysis::cost_analysis(&catalog, &p, Some(&period), true).await.map_err(AppError::from_core)?;
    let utilization = analysis::utilization(&catalog, &p, Some(&period), None).await.map_err(AppError::from_core)?;
    let days: Vec<String> = analysis.trend.iter().map(|d| d.date.clone()).collect();
    let part = |f: fn(&bulwark_types::CostPoint) -> f64| analysis.trend.iter().map(f).collect::<Vec<_>>();
    let cost_chart = crate::charts::stacked_days(&days, &[("Storage", part(|d| d.storage)), ("Transfer", part(|d| d.transfer)), ("Requests", part(|d| d.requests))]);
    let storage_days: Vec<String> = utilization.trend.iter().map(|d| d.date.clone()).collect();
    let storage_chart = crate::charts::line_days("Stored (GB)", &storage_days, utilization.trend.iter().map(|d| d.bytes as f64 / 1e9).collect());
    let by_location: Vec<(String, f64)> = analysis.cost_by_location.iter().map(|l| (l.location_name.clone(), l.cost)).collect();
    let location_chart = crate::charts::shares("Cost", &by_location);
    Ok(CostFigures { analysis, utilization, cost_chart, storage_chart, location_chart })
}

/// Tracks today's cost now; answers what it wrote.
#[server(prefix = "/_sfn", endpoint = "track_cost")]
pub async fn track_cost() -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let done = bulwark_core::cost::tracking::track_now(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p).await.map_err(AppError::from_core)?;
    let rows = if done.rows == 1 { "1 row".to_string() } else { format!("{} rows", done.rows) };
    Ok(if done.skipped.is_empty() { format!("Today's cost is tracked: {rows}.") } else { format!("Today's cost is tracked: {rows}; not readable: {}.", done.skipped.join(", ")) })
}

/// Prunes a location (a suggestion's button); answers what it freed.
#[server(prefix = "/_sfn", endpoint = "prune_location")]
pub async fn prune_location(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let report = bulwark_core::locations::prune(&catalog, &secrets, &p, &id).await.map_err(AppError::from_core)?;
    // The next figures show it gone.
    bulwark_core::cost::tracking::track_now(&catalog, &secrets, &p).await.map_err(AppError::from_core)?;
    Ok(format!("Pruned: {} freed.", bulwark_types::human_bytes(report.bytes_freed)))
}

/// Each location's name and prices.
#[server(prefix = "/_sfn", endpoint = "location_prices")]
pub async fn location_prices() -> Result<Vec<(String, String, Prices)>, AppError> {
    let p = crate::ssr::principal().await?;
    let list = bulwark_core::locations::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)?;
    Ok(list
        .into_iter()
        .map(|l| (l.id, l.location_name, Prices { cost_per_gb_month: l.cost_per_gb_month, cost_per_1k_requests: l.cost_per_1k_requests, cost_per_gb_transfer: l.cost_per_gb_transfer }))
        .collect())
}

#[server(prefix = "/_sfn", endpoint = "set_location_prices")]
pub async fn set_location_prices(id: String, per_gb_month: String, per_1k_requests: String, per_gb_transfer: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let price = |field: &str, text: &str| match text.trim() {
        "" => Ok(None),
        t => t.parse::<f64>().map(Some).map_err(|_| AppError::Invalid(format!("{field}: a number such as 0.023, not {t:?}"))),
    };
    let prices = Prices {
        cost_per_gb_month: price("costPerGbMonth", &per_gb_month)?,
        cost_per_1k_requests: price("costPer1kRequests", &per_1k_requests)?,
        cost_per_gb_transfer: price("costPerGbTransfer", &per_gb_transfer)?,
    };
    bulwark_core::cost::prices::set(&crate::ssr::catalog()?, &p, &id, &prices).await.map_err(AppError::from_core)?;
    Ok("Prices saved; the next tracked day uses them.".into())
}
