//! Monitoring over REST: the monitored services (admins change them; anyone reads them; an
//! operator probes one now), the seeds' `GET /api/disaster-recovery/health` and
//! `POST …/health/record` (operators, or a token that may only record), and such a token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::monitoring::{prober, samples, services, HealthSample, MonitoredService, RecordSample, ServiceRequest, ServicesHealth};
use bulwark_core::platform::accounts::tokens::CreatedToken;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceList {
    services: Vec<MonitoredService>,
}

/// Every monitored service, by name, with its latest status.
#[utoipa::path(get, path = "/api/admin/monitoring/services", tag = "monitoring", responses((status = 200, body = ServiceList)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<ServiceList>, ApiError> {
    Ok(Json(ServiceList { services: services::list(&s.catalog, &p).await? }))
}

/// A new monitored service, probed from the next round on.
#[utoipa::path(post, path = "/api/admin/monitoring/services", tag = "monitoring", request_body = ServiceRequest, responses((status = 201, body = MonitoredService)))]
pub async fn create(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<ServiceRequest>) -> Result<(StatusCode, Json<MonitoredService>), ApiError> {
    Ok((StatusCode::CREATED, Json(services::create(&s.catalog, &s.secrets, &p, &body).await?)))
}

#[utoipa::path(get, path = "/api/admin/monitoring/services/{id}", tag = "monitoring", params(("id" = String, Path, description = "The service")), responses((status = 200, body = MonitoredService)))]
pub async fn get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<MonitoredService>, ApiError> {
    Ok(Json(services::get(&s.catalog, &p, &id).await?))
}

/// Changes a service (its kind stays); a password left out keeps the stored one.
#[utoipa::path(put, path = "/api/admin/monitoring/services/{id}", tag = "monitoring", params(("id" = String, Path, description = "The service")), request_body = ServiceRequest, responses((status = 200, body = MonitoredService)))]
pub async fn update(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<ServiceRequest>) -> Result<Json<MonitoredService>, ApiError> {
    Ok(Json(services::update(&s.catalog, &s.secrets, &p, &id, &body).await?))
}

/// Deletes a service; its samples stay until they age out, its alerts resolve.
#[utoipa::path(delete, path = "/api/admin/monitoring/services/{id}", tag = "monitoring", params(("id" = String, Path, description = "The service")), responses((status = 204, description = "Removed")))]
pub async fn delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    services::delete(&s.catalog, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Probes the service now, records the sample and answers it.
#[utoipa::path(post, path = "/api/admin/monitoring/services/{id}/check", tag = "monitoring", params(("id" = String, Path, description = "The service")), responses((status = 200, body = HealthSample)))]
pub async fn check(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<HealthSample>, ApiError> {
    Ok(Json(prober::check_now(&s.catalog, &s.secrets, &p, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// 1h (the default), 6h, 24h, 7d or 30d.
    #[serde(default)]
    time_range: Option<String>,
    /// Service names, comma-separated (all when absent).
    #[serde(default)]
    services: Option<String>,
}

/// The seeds' system health: the samples of the range (newest first, at most 1,000), each
/// service's summary, and the open alerts about services, nodes and locations.
#[utoipa::path(get, path = "/api/disaster-recovery/health", tag = "monitoring", params(HealthQuery), responses((status = 200, body = ServicesHealth)))]
pub async fn health(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<HealthQuery>) -> Result<Json<ServicesHealth>, ApiError> {
    let names: Vec<String> = q.services.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect();
    if names.len() > 100 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "services: at most 100 names"));
    }
    Ok(Json(samples::report(&s.catalog, &p, q.time_range.as_deref(), &names).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Recorded {
    success: bool,
    sample: HealthSample,
}

/// An outside agent's sample (the seeds' fields, snake_case or camelCase). An unhealthy one
/// raises service_unhealthy for its service; a healthy one resolves it.
#[utoipa::path(post, path = "/api/disaster-recovery/health/record", tag = "monitoring", request_body = RecordSample, responses((status = 200, body = Recorded)))]
pub async fn record(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<RecordSample>) -> Result<Json<Recorded>, ApiError> {
    Ok(Json(Recorded { success: true, sample: samples::record_pushed(&s.catalog, &p, &body).await? }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordTokenRequest {
    /// Which agent uses it.
    name: String,
    #[serde(default)]
    expires_in_days: Option<i64>,
}

/// A token that may only record health samples; its secret is in this answer only.
#[utoipa::path(post, path = "/api/admin/monitoring/record-token", tag = "monitoring", request_body = RecordTokenRequest, responses((status = 201, body = CreatedToken)))]
pub async fn record_token(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<RecordTokenRequest>) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    Ok((StatusCode::CREATED, Json(samples::record_token(&s.catalog, &p, &body.name, body.expires_in_days).await?)))
}
