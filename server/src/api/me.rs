use bulwark_core::overview::{self, Overview};
use serde::Serialize;

use super::error::ApiError;
use super::extract::{Auth, Json};
use crate::state::AppState;
use axum::extract::State;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    user_id: String,
    username: String,
    role: &'static str,
    token_id: Option<String>,
}

pub async fn me(Auth(p): Auth) -> Json<MeResponse> {
    Json(MeResponse { user_id: p.user_id, username: p.username, role: p.role.as_str(), token_id: p.token_id })
}

pub async fn overview(State(state): State<AppState>, Auth(p): Auth) -> Result<Json<Overview>, ApiError> {
    Ok(Json(overview::overview(&state.catalog, &p).await?))
}
