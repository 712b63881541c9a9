use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::platform::accounts::users::{self, NewUser, User, UserUpdate};
use bulwark_core::platform::accounts::setup;
use bulwark_core::platform::auth::Role;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Auth, Json};
use crate::state::AppState;

/// Every user.
#[utoipa::path(get, path = "/api/admin/users", tag = "users", responses((status = 200, body = Vec<User>)))]
pub async fn list(State(state): State<AppState>, Auth(p): Auth) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(users::list(&state.catalog, &p).await?))
}

/// One user.
#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "users", params(("id" = String, Path, description = "The user")), responses((status = 200, body = User)))]
pub async fn get(State(state): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<User>, ApiError> {
    Ok(Json(users::get(&state.catalog, &p, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    role: Role,
    /// Without a password the response carries a one-time setup token for the new user.
    password: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedUser)]
pub struct Created {
    #[serde(flatten)]
    user: User,
    /// `/setup?token=…` lets the user choose a password; present when none was given.
    setup_token: Option<String>,
}

/// Creates a user; without a password the answer carries a one-time setup token.
#[utoipa::path(post, path = "/api/admin/users", tag = "users", request_body = CreateUser, responses((status = 201, body = Created)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<CreateUser>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let without_password = body.password.is_none();
    let user = users::create(&state.catalog, &p, NewUser { username: body.username, password: body.password, role: body.role }).await?;
    let setup_token = if without_password { Some(setup::password_link(&state.catalog, &user.username).await?) } else { None };
    Ok((StatusCode::CREATED, Json(Created { user, setup_token })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUser {
    role: Option<Role>,
    disabled: Option<bool>,
    password: Option<String>,
}

/// Changes a user's role, disables them, or sets their password.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "users", params(("id" = String, Path, description = "The user")), request_body = UpdateUser, responses((status = 200, body = User)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateUser>,
) -> Result<Json<User>, ApiError> {
    if let Some(password) = &body.password {
        users::set_password(&state.catalog, &p, &id, password).await?;
    }
    Ok(Json(users::update(&state.catalog, &p, &id, UserUpdate { role: body.role, disabled: body.disabled }).await?))
}

/// Deletes a user.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "users", params(("id" = String, Path, description = "The user")), responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    users::delete(&state.catalog, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
