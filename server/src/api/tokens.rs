use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::accounts::tokens::{self, ApiToken, CreatedToken, NewToken};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Everyone's tokens (admins only).
    #[serde(default)]
    all: bool,
}

/// The caller's API tokens (everyone's with `all=true`, admins).
#[utoipa::path(get, path = "/api/tokens", tag = "account", params(ListQuery), responses((status = 200, body = Vec<ApiToken>)))]
pub async fn list(State(state): State<AppState>, Auth(p): Auth, Query(q): Query<ListQuery>) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(tokens::list(&state.catalog, &p, q.all).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    role: Option<Role>,
    expires_in_days: Option<i64>,
}

/// Creates an API token; its secret is shown once.
#[utoipa::path(post, path = "/api/tokens", tag = "account", request_body = CreateToken, responses((status = 201, body = CreatedToken)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let new = NewToken { name: body.name, role: body.role, expires_in_days: body.expires_in_days };
    Ok((StatusCode::CREATED, Json(tokens::create(&state.catalog, &p, new).await?)))
}

/// Revokes a token.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "account", params(("id" = String, Path, description = "The token")), responses((status = 200, body = ApiToken)))]
pub async fn revoke(State(state): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<ApiToken>, ApiError> {
    Ok(Json(tokens::revoke(&state.catalog, &p, &id).await?))
}
