//! Health over REST in the seeds' words: `GET /api/admin/backups/health?timeRange=24h|7d|30d`
//! (metrics, trends, and each configuration's RPO / RTO compliance) and the backup dashboard.

use axum::extract::State;
use bulwark_core::health::dashboard::Dashboard;
use bulwark_core::health::metrics::{self, HealthReport};
use serde::Deserialize;

use std::time::Duration;

use super::error::ApiError;
use super::standing::Standing;
use super::watch::{self, Watched};
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

/// A `dashboard` event whenever what the dashboard shows changes (a backup queued, started or
/// ended; an alert raised, acknowledged or resolved), the first at once; looked at each second.
/// The stream never ends: the console refetches the dashboard on each event.
#[utoipa::path(get, path = "/api/admin/backups/dashboard/events", tag = "health", responses((status = 200, description = "`event: dashboard` with `{\"fingerprint\": …}` at each change", content_type = "text/event-stream")))]
pub async fn dashboard_events(
    State(s): State<AppState>,
    Auth(p): Auth,
    session: tower_sessions::Session,
) -> Result<axum::response::sse::Sse<impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>>, ApiError> {
    use bulwark_core::health::dashboard::fingerprint;
    let first = fingerprint(&s.catalog, &p).await?;
    let watched = Watched {
        event: "dashboard",
        every: Duration::from_secs(1),
        finished: |_: &String| false,
        key: String::clone,
        data: |now| serde_json::json!({ "fingerprint": now }).to_string(),
    };
    let standing = Standing::of(&p, &session);
    Ok(watch::stream(s.catalog.clone(), standing, first, watched, move || {
        let (s, p) = (s.clone(), p.clone());
        async move {
            // A catalog that does not answer for a moment ends nothing: look again.
            loop {
                match fingerprint(&s.catalog, &p).await {
                    Ok(now) => return Some(now),
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        }
    }))
}
