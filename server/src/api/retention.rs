//! Retention (the cleanup, dry run or real; legal holds; manual deletes; location floors),
//! verification and restore tests: what keeps a backup, and whether it restores.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::retention::floor::{self, Floor, NewFloor};
use bulwark_core::retention::holds::{self, LegalHold, NewHold};
use bulwark_core::retention::{self, LocationOutcome, Tracking};
use bulwark_core::restore_tests;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

/// The seeds' cleanup request. Deleting is the exception: without `dryRun: false` or
/// `forceCleanup: true` it is a dry run. Nothing overrides a legal hold, a location's floor or
/// Object Lock, forced or not.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CleanupRequest {
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    force_cleanup: bool,
    /// Only these configurations' backups (all when absent).
    #[serde(default)]
    configuration_ids: Vec<String>,
}

/// A dry run answers its report at once (`status: completed`); a real cleanup is queued and
/// answers `{cleanupId, status: initiated, estimatedSpaceFreed, backupsToDelete}`.
#[utoipa::path(post, path = "/api/admin/backups/retention/cleanup", tag = "retention", request_body = CleanupRequest, responses((status = 200, body = serde_json::Value, description = "A dry run's report with `status: completed`, or `{cleanupId, status: initiated, estimatedSpaceFreed, backupsToDelete, preview}`")))]
pub async fn cleanup(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<CleanupRequest>) -> Result<Json<serde_json::Value>, ApiError> {
    if body.dry_run.unwrap_or(!body.force_cleanup) {
        let report = retention::cleanup_of(&s.catalog, &s.secrets, &p, true, &body.configuration_ids).await?;
        let mut answer = serde_json::json!({ "cleanupId": null, "status": "completed", "estimatedSpaceFreed": report.bytes_freed, "backupsToDelete": report.deleted.len() });
        merge(&mut answer, serde_json::to_value(&report).unwrap_or_default());
        return Ok(Json(answer));
    }
    let requested = retention::request_cleanup(&s.catalog, &s.secrets, &p, &body.configuration_ids).await?;
    let mut answer = serde_json::to_value(&requested).unwrap_or_default();
    answer["dryRun"] = false.into();
    Ok(Json(answer))
}

/// Adds the fields of `extra` that `answer` does not have.
fn merge(answer: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(answer), serde_json::Value::Object(extra)) = (answer.as_object_mut(), extra) {
        for (key, value) in extra {
            answer.entry(key).or_insert(value);
        }
    }
}

/// An execution's retention row and legal holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRetention {
    tracking: Option<Tracking>,
    legal_holds: Vec<LegalHold>,
}

#[utoipa::path(get, path = "/api/admin/backups/executions/{id}/retention", tag = "retention", params(("id" = String, Path, description = "The execution")), responses((status = 200, body = ExecutionRetention)))]
pub async fn of_execution(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<ExecutionRetention>, ApiError> {
    bulwark_core::executions::get(&s.catalog, &p, &id).await?;
    let tracking = retention::tracking(&s.catalog, &p, &id).await?;
    Ok(Json(ExecutionRetention { tracking, legal_holds: holds::list(&s.catalog, &p, &id).await? }))
}

/// An execution's legal holds.
#[utoipa::path(get, path = "/api/admin/backups/executions/{id}/legal-holds", tag = "retention", params(("id" = String, Path, description = "The execution")), responses((status = 200, body = Vec<LegalHold>)))]
pub async fn list_holds(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Vec<LegalHold>>, ApiError> {
    bulwark_core::executions::get(&s.catalog, &p, &id).await?;
    Ok(Json(holds::list(&s.catalog, &p, &id).await?))
}

/// Places a legal hold on an execution's backup.
#[utoipa::path(post, path = "/api/admin/backups/executions/{id}/legal-holds", tag = "retention", params(("id" = String, Path, description = "The execution")), request_body = NewHold, responses((status = 201, body = LegalHold)))]
pub async fn add_hold(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<NewHold>) -> Result<(StatusCode, Json<LegalHold>), ApiError> {
    Ok((StatusCode::CREATED, Json(holds::add(&s.catalog, &p, &id, body).await?)))
}

/// Releases a legal hold.
#[utoipa::path(post, path = "/api/admin/backups/legal-holds/{id}/release", tag = "retention", params(("id" = String, Path, description = "The legal hold")), responses((status = 200, body = LegalHold)))]
pub async fn release_hold(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<LegalHold>, ApiError> {
    Ok(Json(holds::release(&s.catalog, &p, &id).await?))
}

/// Deletes an execution's backup (its snapshot, and the data only it used).
#[utoipa::path(delete, path = "/api/admin/backups/executions/{id}", tag = "retention", params(("id" = String, Path, description = "The execution")), responses((status = 200, body = LocationOutcome)))]
pub async fn delete_execution(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<LocationOutcome>, ApiError> {
    Ok(Json(retention::delete_execution(&s.catalog, &s.secrets, &p, &id).await?))
}

/// Queues a verification of the execution's backup (the seeds' `{verificationId, status:
/// initiated, estimatedDuration}`); the outcome lands on the execution's `verificationStatus`.
#[utoipa::path(post, path = "/api/admin/backups/verify/{id}", tag = "verification", params(("id" = String, Path, description = "The execution")), responses((status = 200, body = bulwark_core::verify::Queued)))]
pub async fn verify(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<bulwark_core::verify::Queued>, ApiError> {
    Ok(Json(bulwark_core::verify::queue(&s.catalog, &p, &id).await?))
}

/// Queues tests (the seeds' request); answers `{testId, status, estimatedDuration}` for the
/// first, with every test queued under `tests`.
#[utoipa::path(post, path = "/api/admin/backups/testing/schedule", tag = "verification", request_body = restore_tests::ScheduleTest, responses((status = 200, body = serde_json::Value, description = "`{testId, status, estimatedDuration, testIds, tests}` and the first test's fields")))]
pub async fn schedule_test(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<restore_tests::ScheduleTest>) -> Result<Json<serde_json::Value>, ApiError> {
    let tests = restore_tests::schedule(&s.catalog, &p, body).await?;
    let Some(first) = tests.first() else { return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no test was queued")) };
    let estimated = restore_tests::estimated_duration(&s.catalog, first).await?;
    let mut answer = serde_json::json!({
        "testId": first.id,
        "status": first.status,
        "estimatedDuration": estimated,
        "testIds": tests.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
    });
    merge(&mut answer, serde_json::json!({ "tests": tests }));
    merge(&mut answer, serde_json::to_value(first).unwrap_or_default());
    Ok(Json(answer))
}

/// Tests newest first, filtered by the seeds' `testType`, `status`, `dateRange`, with the
/// summary (totals, passed, failed, average RTO and RPO).
#[utoipa::path(get, path = "/api/admin/backups/testing/results", tag = "verification", params(restore_tests::ResultsFilter), responses((status = 200, body = restore_tests::Results)))]
pub async fn test_results(State(s): State<AppState>, Auth(p): Auth, Query(filter): Query<restore_tests::ResultsFilter>) -> Result<Json<restore_tests::Results>, ApiError> {
    Ok(Json(restore_tests::results(&s.catalog, &p, &filter, 200).await?))
}

/// A location's retention floor.
#[utoipa::path(get, path = "/api/admin/backups/storage-locations/{id}/retention-floor", tag = "retention", params(("id" = String, Path, description = "The storage location")), responses((status = 200, body = Floor)))]
pub async fn get_floor(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Floor>, ApiError> {
    p.require(bulwark_core::platform::auth::Role::Viewer).map_err(bulwark_core::retention::RetentionError::from)?;
    Ok(Json(floor::get(&s.catalog, &id).await?))
}

/// Sets a location's retention floor (once locked, it only grows).
#[utoipa::path(put, path = "/api/admin/backups/storage-locations/{id}/retention-floor", tag = "retention", params(("id" = String, Path, description = "The storage location")), request_body = NewFloor, responses((status = 200, body = Floor)))]
pub async fn set_floor(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<NewFloor>) -> Result<Json<Floor>, ApiError> {
    Ok(Json(floor::set(&s.catalog, &p, &id, body).await?))
}
