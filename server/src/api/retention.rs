//! Retention (the cleanup, dry run or real; legal holds; manual deletes; location floors),
//! verification and restore tests: what keeps a backup, and whether it restores.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::retention::floor::{self, Floor, NewFloor};
use bulwark_core::retention::holds::{self, LegalHold, NewHold};
use bulwark_core::retention::{self, CleanupReport, LocationOutcome, Tracking};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Auth, Json};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CleanupRequest {
    /// True unless said otherwise: deleting is the exception.
    #[serde(default = "yes")]
    dry_run: bool,
}

fn yes() -> bool {
    true
}

pub async fn cleanup(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<CleanupRequest>) -> Result<Json<CleanupReport>, ApiError> {
    Ok(Json(retention::cleanup(&s.catalog, &s.secrets, &p, body.dry_run).await?))
}

/// An execution's retention row and legal holds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRetention {
    tracking: Option<Tracking>,
    legal_holds: Vec<LegalHold>,
}

pub async fn of_execution(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<ExecutionRetention>, ApiError> {
    bulwark_core::executions::get(&s.catalog, &p, &id).await?;
    let tracking = retention::tracking(&s.catalog, &p, &id).await?;
    Ok(Json(ExecutionRetention { tracking, legal_holds: holds::list(&s.catalog, &p, &id).await? }))
}

pub async fn list_holds(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Vec<LegalHold>>, ApiError> {
    bulwark_core::executions::get(&s.catalog, &p, &id).await?;
    Ok(Json(holds::list(&s.catalog, &p, &id).await?))
}

pub async fn add_hold(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<NewHold>) -> Result<(StatusCode, Json<LegalHold>), ApiError> {
    Ok((StatusCode::CREATED, Json(holds::add(&s.catalog, &p, &id, body).await?)))
}

pub async fn release_hold(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<LegalHold>, ApiError> {
    Ok(Json(holds::release(&s.catalog, &p, &id).await?))
}

/// Deletes an execution's backup (its snapshot, and the data only it used).
pub async fn delete_execution(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<LocationOutcome>, ApiError> {
    Ok(Json(retention::delete_execution(&s.catalog, &s.secrets, &p, &id).await?))
}

/// Reads the execution's backup back whole and records the outcome.
pub async fn verify(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<bulwark_core::verify::VerificationReport>, ApiError> {
    Ok(Json(bulwark_core::verify::verify_execution(&s.catalog, &s.secrets, &p, &id).await?))
}

/// Queues a restore test of an execution (or of a configuration's latest backup).
pub async fn schedule_test(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<bulwark_core::testing::ScheduleTest>) -> Result<(StatusCode, Json<bulwark_core::testing::BackupTest>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(bulwark_core::testing::schedule(&s.catalog, &p, body).await?)))
}

/// Every test, newest first, with the summary (totals, passed, failed, average RTO and RPO).
pub async fn test_results(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<bulwark_core::testing::Results>, ApiError> {
    Ok(Json(bulwark_core::testing::results(&s.catalog, &p, 200).await?))
}

pub async fn get_floor(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Floor>, ApiError> {
    p.require(bulwark_core::auth::Role::Viewer).map_err(bulwark_core::retention::RetentionError::from)?;
    Ok(Json(floor::get(&s.catalog, &id).await?))
}

pub async fn set_floor(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<NewFloor>) -> Result<Json<Floor>, ApiError> {
    Ok(Json(floor::set(&s.catalog, &p, &id, body).await?))
}
