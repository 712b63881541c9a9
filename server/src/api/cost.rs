//! Storage cost over REST in the seeds' words: `GET /api/admin/backups/storage/utilization`
//! and `GET /api/admin/backups/cost/analysis`; the day's rows tracked now (operators); each
//! location's prices (admins set them) and its prune (admins).

use axum::extract::{Path, State};
use bulwark_core::cost::{analysis, prices, tracking, CostAnalysis, Prices, StorageUtilization};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UtilizationQuery {
    /// 7d, 30d (the default) or 90d.
    #[serde(default)]
    period: Option<String>,
    /// location or configuration (both lists are answered).
    #[serde(default)]
    group_by: Option<String>,
}

/// What is stored (the latest tracked day), by location with a local disk's free space, by
/// configuration (deduplication-aware) with its retention compliance, and each day's total.
#[utoipa::path(get, path = "/api/admin/backups/storage/utilization", tag = "cost", params(UtilizationQuery), responses((status = 200, body = StorageUtilization)))]
pub async fn utilization(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<UtilizationQuery>) -> Result<Json<StorageUtilization>, ApiError> {
    Ok(Json(analysis::utilization(&s.catalog, &p, q.period.as_deref(), q.group_by.as_deref()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalysisQuery {
    /// 7d, 30d (the default) or 90d.
    #[serde(default)]
    period: Option<String>,
    /// true: the cost by part (storage, transfer, requests).
    #[serde(default)]
    breakdown: Option<bool>,
}

/// The period's cost, by part, location and configuration, each day's, the monthly estimate and
/// the optimisation suggestions with their estimated monthly savings.
#[utoipa::path(get, path = "/api/admin/backups/cost/analysis", tag = "cost", params(AnalysisQuery), responses((status = 200, body = CostAnalysis)))]
pub async fn cost_analysis(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<AnalysisQuery>) -> Result<Json<CostAnalysis>, ApiError> {
    Ok(Json(analysis::cost_analysis(&s.catalog, &p, q.period.as_deref(), q.breakdown.unwrap_or(false)).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tracked {
    rows: usize,
    /// Locations that could not be read.
    skipped: Vec<String>,
}

/// Writes today's cost rows now (the daily job does it on its own).
#[utoipa::path(post, path = "/api/admin/backups/cost/track", tag = "cost", responses((status = 200, body = Tracked)))]
pub async fn track(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<Tracked>, ApiError> {
    let done = tracking::track_now(&s.catalog, &s.secrets, &p).await?;
    Ok(Json(Tracked { rows: done.rows, skipped: done.skipped }))
}

#[utoipa::path(get, path = "/api/admin/backups/storage-locations/{id}/prices", tag = "cost", params(("id" = String, Path, description = "The location")), responses((status = 200, body = Prices)))]
pub async fn get_prices(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Prices>, ApiError> {
    bulwark_core::locations::get(&s.catalog, &p, &id).await?;
    Ok(Json(prices::get(&s.catalog, &id).await?))
}

/// Sets the location's prices (a negative one is refused with a sentence).
#[utoipa::path(put, path = "/api/admin/backups/storage-locations/{id}/prices", tag = "cost", params(("id" = String, Path, description = "The location")), request_body = Prices, responses((status = 200, body = Prices)))]
pub async fn set_prices(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<Prices>) -> Result<Json<Prices>, ApiError> {
    Ok(Json(prices::set(&s.catalog, &p, &id, &body).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pruned {
    bytes_freed: u64,
    packs_deleted: u64,
    packs_repacked: u64,
    bytes_locked: u64,
}

/// Deletes the location's data no snapshot references.
#[utoipa::path(post, path = "/api/admin/backups/storage-locations/{id}/prune", tag = "cost", params(("id" = String, Path, description = "The location")), responses((status = 200, body = Pruned)))]
pub async fn prune(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Pruned>, ApiError> {
    let r = bulwark_core::locations::prune(&s.catalog, &s.secrets, &p, &id).await?;
    Ok(Json(Pruned { bytes_freed: r.bytes_freed, packs_deleted: r.packs_deleted, packs_repacked: r.packs_repacked, bytes_locked: r.bytes_locked }))
}
