use axum::extract::State;
use bulwark_core::platform::audit::{self, AuditRecord, VerifyReport};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[serde(default = "default_limit")]
    limit: i64,
    /// Page backwards: entries with a smaller sequence number.
    before: Option<i64>,
}

fn default_limit() -> i64 {
    100
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/admin/audit", tag = "audit", params(ListQuery), responses((status = 200, body = Vec<AuditRecord>)))]
pub async fn list(State(state): State<AppState>, Auth(p): Auth, Query(q): Query<ListQuery>) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    Ok(Json(audit::list(&state.catalog, &p, q.limit, q.before).await?))
}

/// Checks the hash chain and its newest anchor.
#[utoipa::path(get, path = "/api/admin/audit/verify", tag = "audit", responses((status = 200, body = VerifyReport)))]
pub async fn verify(State(state): State<AppState>, Auth(p): Auth) -> Result<Json<VerifyReport>, ApiError> {
    Ok(Json(bulwark_core::audit_anchor::verify(&state.catalog, &state.secrets, &p).await?))
}
