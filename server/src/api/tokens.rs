use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::auth::Role;
use bulwark_core::accounts::tokens::{self, ApiToken, CreatedToken, NewToken};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ListQuery {
    /// Everyone's tokens (admins only).
    #[serde(default)]
    all: bool,
}

pub async fn list(State(state): State<AppState>, Auth(p): Auth, Query(q): Query<ListQuery>) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(tokens::list(&state.catalog, &p, q.all).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    role: Option<Role>,
    expires_in_days: Option<i64>,
}

pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let new = NewToken { name: body.name, role: body.role, expires_in_days: body.expires_in_days };
    Ok((StatusCode::CREATED, Json(tokens::create(&state.catalog, &p, new).await?)))
}

pub async fn revoke(State(state): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<ApiToken>, ApiError> {
    Ok(Json(tokens::revoke(&state.catalog, &p, &id).await?))
}
