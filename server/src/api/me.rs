use bulwark_core::overview::{self, Overview};
use serde::Serialize;

use super::error::ApiError;
use super::extract::{Auth, Json};
use crate::state::AppState;
use axum::extract::State;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    user_id: String,
    username: String,
    role: &'static str,
    token_id: Option<String>,
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/me", tag = "account", responses((status = 200, body = MeResponse)))]
pub async fn me(Auth(p): Auth) -> Json<MeResponse> {
    Json(MeResponse { user_id: p.user_id, username: p.username, role: p.role.as_str(), token_id: p.token_id })
}

/// Counts for the dashboard.
#[utoipa::path(get, path = "/api/overview", tag = "account", responses((status = 200, body = Overview)))]
pub async fn overview(State(state): State<AppState>, Auth(p): Auth) -> Result<Json<Overview>, ApiError> {
    Ok(Json(overview::overview(&state.catalog, &p).await?))
}
