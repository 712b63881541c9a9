//! Monitoring alerts over REST, in the seeds' words: the list (filters), one alert, and the
//! seeds' `POST /api/admin/backups/alerts/{id}/acknowledge`, with resolve beside it.

use axum::extract::{Path, State};
use bulwark_core::alerts::{self, AcknowledgeRequest, Alert, Filter, ResolveRequest};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// critical, high, medium or low.
    #[serde(default)]
    severity: Option<String>,
    /// active (open or acknowledged), open, acknowledged or resolved.
    #[serde(default)]
    status: Option<String>,
    /// An alert type, e.g. backup_failed.
    #[serde(default, rename = "type")]
    #[param(rename = "type")]
    alert_type: Option<String>,
    #[serde(default)]
    configuration_id: Option<String>,
    /// 1 to 500 (200 by default).
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertList {
    alerts: Vec<Alert>,
}

/// Alerts, the most recently seen first.
#[utoipa::path(get, path = "/api/admin/backups/alerts", tag = "alerts", params(AlertQuery), responses((status = 200, body = AlertList)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<AlertQuery>) -> Result<Json<AlertList>, ApiError> {
    let filter = Filter { severity: q.severity, status: q.status, alert_type: q.alert_type, configuration_id: q.configuration_id, limit: q.limit };
    Ok(Json(AlertList { alerts: alerts::list(&s.catalog, &p, &filter).await? }))
}

/// One alert.
#[utoipa::path(get, path = "/api/admin/backups/alerts/{id}", tag = "alerts", params(("id" = String, Path, description = "The alert")), responses((status = 200, body = Alert)))]
pub async fn get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Alert>, ApiError> {
    Ok(Json(alerts::get(&s.catalog, &p, &id).await?))
}

/// Acknowledges an open alert: someone has taken it, and it stops escalating. The body is
/// optional (`{"notes": …}`).
#[utoipa::path(post, path = "/api/admin/backups/alerts/{id}/acknowledge", tag = "alerts", params(("id" = String, Path, description = "The alert")), request_body(content = Option<AcknowledgeRequest>, description = "Optional notes"), responses((status = 200, body = Alert)))]
pub async fn acknowledge(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Alert>, ApiError> {
    // The seeds' console sends no body at all.
    let body: AcknowledgeRequest = match body.iter().all(u8::is_ascii_whitespace) {
        true => AcknowledgeRequest::default(),
        false => serde_json::from_slice(&body).map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, format!("the body: {e}")))?,
    };
    Ok(Json(alerts::acknowledge(&s.catalog, &p, &id, &body).await?))
}

/// Resolves an alert by hand, saying why; its condition returning opens a new alert.
#[utoipa::path(post, path = "/api/admin/backups/alerts/{id}/resolve", tag = "alerts", params(("id" = String, Path, description = "The alert")), request_body = ResolveRequest, responses((status = 200, body = Alert)))]
pub async fn resolve(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<ResolveRequest>) -> Result<Json<Alert>, ApiError> {
    Ok(Json(alerts::close(&s.catalog, &p, &id, &body).await?))
}
