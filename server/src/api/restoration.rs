//! The restoration workflow's REST doors: the seeds' `/api/admin/backups/restoration/…`
//! (request, available backups, active, status, history, cancel, approve, reject, rollback,
//! live progress), the approval policies, and the older restore doors, which request the same
//! restoration jobs and wait for them.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use bulwark_core::restoration::available::{self, Filter};
use bulwark_core::restoration::jobs::{self, DoorOutcome, HistoryFilter};
use bulwark_core::restoration::{
    ApprovalPolicy, AvailableBackup, Environment, Restoration, RestorationInitiated, RestorationProgress, RestorationRequest, RestorationStatus, RollbackRequest, approvals,
    policy, safety,
};
use bulwark_core::sources::postgres_cluster::{self, PhysicalRestore};
use futures_util::Stream;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::standing::Standing;
use super::watch::{self, Watched};
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

/// An older door's answer: the restore's report once done (200), or the restoration job while
/// it waits for approval or a worker (202).
fn door_answer(outcome: DoorOutcome) -> (StatusCode, Json<serde_json::Value>) {
    match outcome {
        DoorOutcome::Restored(report) => (StatusCode::OK, Json(report)),
        DoorOutcome::Waiting(restoration) => (StatusCode::ACCEPTED, Json(serde_json::to_value(restoration).unwrap_or_default())),
    }
}

/// Restores an execution: a PostgreSQL dump into a database (`targetUrl`, optional `tables`),
/// a base backup into a new data directory (`targetDirectory`, optional `targetTime` or
/// `restorePoint`, `port`), a directory one into a directory (`targetPath`, optional
/// `include`). A restoration job like any other: answers once done with the measured restore
/// time, or 202 with the restoration when it needs approval.
#[utoipa::path(post, path = "/api/admin/backups/executions/{id}/restore", tag = "restores", params(("id" = String, Path, description = "The execution")), request_body(content = serde_json::Value, description = "By the backup's kind: `targetUrl` (+ `tables`), `targetDirectory` (+ `targetTime` | `restorePoint`, `port`), `targetPath` (+ `include`, `skipUnreadable`), or a bucket target"), responses((status = 200, body = serde_json::Value, description = "What was restored, where from, and how long it took"), (status = 202, body = Restoration, description = "The restoration waits for approval")))]
pub async fn restore(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<serde_json::Value>) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    Ok(door_answer(jobs::through_door(&s.catalog, &s.secrets, &s.targets, &p, &id, body).await?))
}

/// Point-in-time restore of a continuous configuration, from the newest base backup that
/// ended before the target; a restoration job like any other.
#[utoipa::path(post, path = "/api/admin/backups/configurations/{id}/recover", tag = "restores", params(("id" = String, Path, description = "The configuration")), request_body = PhysicalRestore, responses((status = 200, body = postgres_cluster::RecoveryReport), (status = 202, body = Restoration, description = "The restoration waits for approval")))]
pub async fn recover(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<PhysicalRestore>) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let base = postgres_cluster::base_backup_for(&s.catalog, &p, &id, &body).await?;
    let body = serde_json::to_value(body).unwrap_or_default();
    Ok(door_answer(jobs::through_door(&s.catalog, &s.secrets, &s.targets, &p, &base, body).await?))
}

/// Requests a restoration (the seeds' body); answers at once. It runs on the worker pool, after
/// approval where the environment's policy asks for it.
#[utoipa::path(post, path = "/api/admin/backups/restoration", tag = "restoration", request_body = RestorationRequest, responses((status = 201, body = RestorationInitiated)))]
pub async fn request(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<RestorationRequest>) -> Result<(StatusCode, Json<RestorationInitiated>), ApiError> {
    Ok((StatusCode::CREATED, Json(jobs::request(&s.catalog, &s.secrets, &s.targets, &p, body).await?)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailableQuery {
    /// A configuration's backup type.
    #[serde(default)]
    backup_type: Option<String>,
    /// `24h`, `7d`, `30d` or `90d`.
    #[serde(default)]
    date_range: Option<String>,
    /// Only verified backups.
    #[serde(default)]
    verified: Option<bool>,
    #[serde(default)]
    configuration_id: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailableList {
    available_backups: Vec<AvailableBackup>,
}

/// The backups a restoration can start from, newest first.
#[utoipa::path(get, path = "/api/admin/backups/restoration/available", tag = "restoration", params(AvailableQuery), responses((status = 200, body = AvailableList)))]
pub async fn available(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<AvailableQuery>) -> Result<Json<AvailableList>, ApiError> {
    let filter = Filter { backup_type: q.backup_type, date_range: q.date_range, verified: q.verified.unwrap_or(false), configuration_id: q.configuration_id, limit: q.limit };
    Ok(Json(AvailableList { available_backups: available::list(&s.catalog, &p, &filter).await? }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RestorationList {
    restorations: Vec<Restoration>,
}

/// Restorations waiting for approval, queued or running.
#[utoipa::path(get, path = "/api/admin/backups/restoration/active", tag = "restoration", responses((status = 200, body = RestorationList)))]
pub async fn active(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<RestorationList>, ApiError> {
    Ok(Json(RestorationList { restorations: jobs::active(&s.catalog, &p).await? }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    #[serde(default)]
    #[param(value_type = Option<String>)]
    status: Option<RestorationStatus>,
    #[serde(default)]
    #[param(value_type = Option<String>)]
    target_environment: Option<Environment>,
    #[serde(default)]
    configuration_id: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

/// Every restoration, newest first.
#[utoipa::path(get, path = "/api/admin/backups/restoration", tag = "restoration", params(HistoryQuery), responses((status = 200, body = RestorationList)))]
pub async fn history(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<HistoryQuery>) -> Result<Json<RestorationList>, ApiError> {
    let filter = HistoryFilter { status: q.status, environment: q.target_environment, configuration_id: q.configuration_id, limit: q.limit };
    Ok(Json(RestorationList { restorations: jobs::list(&s.catalog, &p, &filter).await? }))
}

/// One restoration, with its approvals.
#[utoipa::path(get, path = "/api/admin/backups/restoration/{id}", tag = "restoration", params(("id" = String, Path, description = "The restoration")), responses((status = 200, body = Restoration)))]
pub async fn get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Restoration>, ApiError> {
    Ok(Json(jobs::get(&s.catalog, &p, &id).await?))
}

/// Changes a request that waits for approval; every approval given so far is void.
#[utoipa::path(put, path = "/api/admin/backups/restoration/{id}", tag = "restoration", params(("id" = String, Path, description = "The restoration")), request_body = RestorationRequest, responses((status = 200, body = Restoration)))]
pub async fn update(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<RestorationRequest>) -> Result<Json<Restoration>, ApiError> {
    Ok(Json(jobs::update(&s.catalog, &s.secrets, &s.targets, &p, &id, body).await?))
}

/// The seeds' status: progress, bytes restored, expected end, what was checked.
#[utoipa::path(get, path = "/api/admin/backups/restoration/{id}/status", tag = "restoration", params(("id" = String, Path, description = "The restoration")), responses((status = 200, body = RestorationProgress)))]
pub async fn status(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<RestorationProgress>, ApiError> {
    Ok(Json(jobs::progress(&s.catalog, &p, &id).await?))
}

/// Asks to put a completed restoration's target back as it was before it ran, from its safety
/// snapshot, until its rollback deadline; the rollback is a restoration of its own (201), with
/// the approvals a restore into that environment needs.
#[utoipa::path(post, path = "/api/admin/backups/restoration/{id}/rollback", tag = "restoration", params(("id" = String, Path, description = "The restoration to roll back")), request_body = RollbackRequest, responses((status = 201, body = RestorationInitiated)))]
pub async fn rollback(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<RollbackRequest>) -> Result<(StatusCode, Json<RestorationInitiated>), ApiError> {
    Ok((StatusCode::CREATED, Json(safety::request(&s.catalog, &s.secrets, &s.targets, &p, &id, body).await?)))
}

/// Cancels a restoration: one waiting or queued never runs; one writing stops at its next file,
/// object or range and its target is put back as it was.
#[utoipa::path(post, path = "/api/admin/backups/restoration/{id}/cancel", tag = "restoration", params(("id" = String, Path, description = "The restoration")), responses((status = 200, body = Restoration)))]
pub async fn cancel(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Restoration>, ApiError> {
    Ok(Json(jobs::cancel(&s.catalog, &p, &id).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveBody {
    /// A fresh code of the approver's second factor, where the policy asks for it.
    #[serde(default)]
    totp_code: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// Approves a restoration someone else requested.
#[utoipa::path(post, path = "/api/admin/backups/restoration/{id}/approve", tag = "restoration", params(("id" = String, Path, description = "The restoration")), request_body = ApproveBody, responses((status = 200, body = Restoration)))]
pub async fn approve(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<ApproveBody>) -> Result<Json<Restoration>, ApiError> {
    Ok(Json(approvals::approve(&s.catalog, &s.secrets, &p, &id, body.totp_code.as_deref(), body.comment.as_deref()).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectBody {
    reason: String,
}

/// Rejects a restoration someone else requested.
#[utoipa::path(post, path = "/api/admin/backups/restoration/{id}/reject", tag = "restoration", params(("id" = String, Path, description = "The restoration")), request_body = RejectBody, responses((status = 200, body = Restoration)))]
pub async fn reject(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<RejectBody>) -> Result<Json<Restoration>, ApiError> {
    Ok(Json(approvals::reject(&s.catalog, &p, &id, &body.reason).await?))
}

/// Live progress: `event: restoration` with the status answer at each change, until it ends.
#[utoipa::path(get, path = "/api/admin/backups/restoration/{id}/events", tag = "restoration", params(("id" = String, Path, description = "The restoration")), responses((status = 200, description = "`event: restoration` with the status answer as JSON at each change", content_type = "text/event-stream")))]
pub async fn events(State(s): State<AppState>, Auth(p): Auth, session: tower_sessions::Session, Path(id): Path<String>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = jobs::progress(&s.catalog, &p, &id).await?;
    let watched = Watched {
        event: "restoration",
        every: Duration::from_millis(500),
        finished: |progress: &RestorationProgress| progress.status.is_finished(),
        // The rate and the expected end move every tick; an event goes out when the restore
        // itself moved.
        key: |progress| serde_json::json!([progress.status, progress.progress_percentage, progress.restored_size, progress.error_message]).to_string(),
        data: watch::json,
    };
    let standing = Standing::of(&p, &session);
    Ok(watch::stream(s.catalog.clone(), standing, first, watched, move || {
        let (s, p, id) = (s.clone(), p.clone(), id.clone());
        async move { jobs::progress(&s.catalog, &p, &id).await.ok() }
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyList {
    policies: Vec<ApprovalPolicy>,
}

/// Every environment's approval policy.
#[utoipa::path(get, path = "/api/admin/backups/approval-policies", tag = "restoration", responses((status = 200, body = PolicyList)))]
pub async fn policies(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<PolicyList>, ApiError> {
    Ok(Json(PolicyList { policies: policy::list(&s.catalog, &p).await? }))
}

/// Replaces an environment's approval policy (the path's environment wins over the body's).
#[utoipa::path(put, path = "/api/admin/backups/approval-policies/{environment}", tag = "restoration", params(("environment" = String, Path, description = "production, staging, development or disaster_recovery")), request_body = ApprovalPolicy, responses((status = 200, body = ApprovalPolicy)))]
pub async fn set_policy(State(s): State<AppState>, Auth(p): Auth, Path(environment): Path<String>, Json(body): Json<ApprovalPolicy>) -> Result<Json<ApprovalPolicy>, ApiError> {
    let environment = Environment::parse(&environment)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "environment: production, staging, development or disaster_recovery"))?;
    if body.environment != environment {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("environment: the body names {}, the path {environment}", body.environment)));
    }
    Ok(Json(policy::set(&s.catalog, &p, body).await?))
}

/// The disaster-recovery seeds' restore options: the restoration request's fields but the
/// backup (the path's) and the environment (beside them).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreOptions {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    restoration_type: Option<bulwark_core::restoration::RestorationType>,
    target_identifier: String,
    #[serde(default)]
    point_in_time_target: Option<String>,
    #[serde(default)]
    restoration_scope: Option<bulwark_core::restoration::RestorationScope>,
    #[serde(default)]
    incident_reference: Option<String>,
    #[serde(default)]
    approval_override: Option<bool>,
    #[serde(default)]
    override_reason: Option<String>,
    #[serde(default)]
    accept_unverified: Option<bool>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    conflict_resolution: Option<bulwark_core::restoration::ConflictResolution>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrRestoreBody {
    #[schema(value_type = String)]
    target_environment: Environment,
    restore_options: RestoreOptions,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DrRestoreAnswer {
    success: bool,
    restore: RestorationInitiated,
    message: String,
}

/// The disaster-recovery seeds' door to the same restoration request (`{success, restore,
/// message}`); a full restore unless `restoreOptions.restorationType` says otherwise.
#[utoipa::path(post, path = "/api/disaster-recovery/backups/{backupId}/restore", tag = "restoration", params(("backupId" = String, Path, description = "The backup execution")), request_body = DrRestoreBody, responses((status = 201, body = DrRestoreAnswer)))]
pub async fn dr_restore(State(s): State<AppState>, Auth(p): Auth, Path(backup_id): Path<String>, Json(body): Json<DrRestoreBody>) -> Result<(StatusCode, Json<DrRestoreAnswer>), ApiError> {
    let o = body.restore_options;
    let request = RestorationRequest {
        backup_execution_id: backup_id,
        restoration_type: o.restoration_type.unwrap_or(bulwark_core::restoration::RestorationType::Full),
        target_environment: body.target_environment,
        target_identifier: o.target_identifier,
        point_in_time_target: o.point_in_time_target,
        restoration_scope: o.restoration_scope,
        incident_reference: o.incident_reference,
        approval_override: o.approval_override,
        override_reason: o.override_reason,
        accept_unverified: o.accept_unverified,
        notes: o.notes,
        conflict_resolution: o.conflict_resolution,
    };
    let restore = jobs::request(&s.catalog, &s.secrets, &s.targets, &p, request).await?;
    let message = match restore.approval_required && restore.status == RestorationStatus::ApprovalRequired {
        true => "Restore requested: it waits for an approver".to_string(),
        false => "Restore initiated successfully".to_string(),
    };
    Ok((StatusCode::CREATED, Json(DrRestoreAnswer { success: true, restore, message })))
}
