//! Named restore targets: `/api/admin/backups/restore-targets`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::restoration::targets::{self, NewTarget, RestoreTarget, TargetTest};

use super::error::ApiError;
use super::extract::{Auth, Json};
use crate::state::AppState;

/// The targets' list, as `{targets: […]}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TargetList {
    targets: Vec<RestoreTarget>,
}

/// Every restore target, production first.
#[utoipa::path(get, path = "/api/admin/backups/restore-targets", tag = "restore_targets", responses((status = 200, body = TargetList)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<TargetList>, ApiError> {
    Ok(Json(TargetList { targets: targets::list(&s.catalog, &p).await? }))
}

/// One restore target.
#[utoipa::path(get, path = "/api/admin/backups/restore-targets/{id}", tag = "restore_targets", params(("id" = String, Path, description = "The restore target")), responses((status = 200, body = RestoreTarget)))]
pub async fn get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<RestoreTarget>, ApiError> {
    Ok(Json(targets::get(&s.catalog, &p, &id).await?))
}

/// Adds a restore target; its secret is sealed and never shown again.
#[utoipa::path(post, path = "/api/admin/backups/restore-targets", tag = "restore_targets", request_body = NewTarget, responses((status = 201, body = RestoreTarget)))]
pub async fn create(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<NewTarget>) -> Result<(StatusCode, Json<RestoreTarget>), ApiError> {
    Ok((StatusCode::CREATED, Json(targets::create(&s.catalog, &s.secrets, &s.targets, &p, body).await?)))
}

/// Replaces a restore target's settings; without `secret` the stored one stays.
#[utoipa::path(put, path = "/api/admin/backups/restore-targets/{id}", tag = "restore_targets", params(("id" = String, Path, description = "The restore target")), request_body = NewTarget, responses((status = 200, body = RestoreTarget)))]
pub async fn update(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<NewTarget>) -> Result<Json<RestoreTarget>, ApiError> {
    Ok(Json(targets::update(&s.catalog, &s.secrets, &s.targets, &p, &id, body).await?))
}

/// Removes a restore target no restoration names.
#[utoipa::path(delete, path = "/api/admin/backups/restore-targets/{id}", tag = "restore_targets", params(("id" = String, Path, description = "The restore target")), responses((status = 204, description = "Removed")))]
pub async fn delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    targets::delete(&s.catalog, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Really connects; always 200 when the test ran: `ok` says whether the target answered.
#[utoipa::path(post, path = "/api/admin/backups/restore-targets/{id}/test", tag = "restore_targets", params(("id" = String, Path, description = "The restore target")), responses((status = 200, body = TargetTest)))]
pub async fn test(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<TargetTest>, ApiError> {
    Ok(Json(targets::test(&s.catalog, &s.secrets, &s.targets, &p, &id).await?))
}
