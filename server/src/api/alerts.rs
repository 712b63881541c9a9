//! Monitoring alerts over REST, in the seeds' words: the list (filters), one alert, and the
//! seeds' `POST /api/admin/backups/alerts/{id}/acknowledge`, with resolve beside it; each
//! alert's history, silences and the escalation schedules.

use axum::extract::{Path, State};
use bulwark_core::alerts::escalation::{EscalationSchedule, EscalationStep};
use bulwark_core::alerts::history::AlertHistory;
use bulwark_core::alerts::silences::{Silence, SilenceRequest};
use bulwark_core::alerts::{self, AcknowledgeRequest, Alert, Filter, ResolveRequest, Severity};
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
    let filter = Filter { severity: q.severity, status: q.status, alert_type: q.alert_type, configuration_id: q.configuration_id, limit: q.limit, ..Filter::default() };
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

/// What happened to an alert, step by step, and every notification about it.
#[utoipa::path(get, path = "/api/admin/backups/alerts/{id}/history", tag = "alerts", params(("id" = String, Path, description = "The alert")), responses((status = 200, body = AlertHistory)))]
pub async fn history(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<AlertHistory>, ApiError> {
    Ok(Json(alerts::history::of(&s.catalog, &p, &id).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SilenceList {
    silences: Vec<Silence>,
}

/// Silences in force, and those ended in the last 7 days.
#[utoipa::path(get, path = "/api/admin/backups/alerts/silences", tag = "alerts", responses((status = 200, body = SilenceList)))]
pub async fn silences(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<SilenceList>, ApiError> {
    Ok(Json(SilenceList { silences: alerts::silences::list(&s.catalog, &p).await? }))
}

/// Silences the alerts of a configuration, a type or a subject for a while: still raised and
/// listed, neither told nor escalated until it ends.
#[utoipa::path(post, path = "/api/admin/backups/alerts/silences", tag = "alerts", request_body = SilenceRequest, responses((status = 201, body = Silence)))]
pub async fn silence(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<SilenceRequest>) -> Result<(axum::http::StatusCode, Json<Silence>), ApiError> {
    Ok((axum::http::StatusCode::CREATED, Json(alerts::silences::create(&s.catalog, &p, &body).await?)))
}

/// Ends a silence now; the alerts it held back are told.
#[utoipa::path(delete, path = "/api/admin/backups/alerts/silences/{id}", tag = "alerts", params(("id" = String, Path, description = "The silence")), responses((status = 200, body = Silence)))]
pub async fn lift(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Silence>, ApiError> {
    Ok(Json(alerts::silences::lift(&s.catalog, &p, &id).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EscalationList {
    schedules: Vec<EscalationSchedule>,
}

/// Each severity's escalation schedule.
#[utoipa::path(get, path = "/api/admin/backups/alerts/escalation", tag = "alerts", responses((status = 200, body = EscalationList)))]
pub async fn escalation(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<EscalationList>, ApiError> {
    Ok(Json(EscalationList { schedules: alerts::escalation::schedules(&s.catalog, &p).await? }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EscalationBody {
    steps: Vec<EscalationStep>,
}

/// Sets a severity's schedule: levels 1, 2, … with level 1 at 0 minutes and each later one later.
#[utoipa::path(put, path = "/api/admin/backups/alerts/escalation/{severity}", tag = "alerts", params(("severity" = String, Path, description = "critical, high, medium or low")), request_body = EscalationBody, responses((status = 200, body = EscalationSchedule)))]
pub async fn set_escalation(State(s): State<AppState>, Auth(p): Auth, Path(severity): Path<String>, Json(body): Json<EscalationBody>) -> Result<Json<EscalationSchedule>, ApiError> {
    let severity = Severity::parse(&severity).ok_or_else(|| ApiError::new(axum::http::StatusCode::BAD_REQUEST, format!("severity: critical, high, medium or low, not {severity:?}")))?;
    Ok(Json(alerts::escalation::set_schedule(&s.catalog, &p, severity, &body.steps).await?))
}
