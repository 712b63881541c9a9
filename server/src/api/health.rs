//! Health over REST in the seeds' words: `GET /api/admin/backups/health?timeRange=24h|7d|30d`
//! (metrics, trends, and each configuration's RPO / RTO compliance) and the backup dashboard.

use axum::extract::State;
use bulwark_core::health::dashboard::Dashboard;
use bulwark_core::health::metrics::{self, HealthReport};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// 24h (the default), 7d or 30d.
    #[serde(default)]
    time_range: Option<String>,
}

/// Success rate, average backup time and size, RPO / RTO achievement, what deduplication and
/// compression saved; daily backups, failures by source type, storage growth; compliance.
#[utoipa::path(get, path = "/api/admin/backups/health", tag = "health", params(HealthQuery), responses((status = 200, body = HealthReport)))]
pub async fn report(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<HealthQuery>) -> Result<Json<HealthReport>, ApiError> {
    Ok(Json(metrics::report(&s.catalog, &p, q.time_range.as_deref()).await?))
}

/// The seeds' backup dashboard: overview, the newest backups, the alerts not resolved, the
/// next scheduled backups, system health, and each configuration's compliance.
#[utoipa::path(get, path = "/api/admin/backups/dashboard", tag = "health", responses((status = 200, body = Dashboard)))]
pub async fn dashboard(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(bulwark_core::health::dashboard::dashboard(&s.catalog, &p).await?))
}
