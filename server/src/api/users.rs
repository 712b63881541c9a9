use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::accounts::users::{self, NewUser, User, UserUpdate};
use bulwark_core::accounts::setup;
use bulwark_core::auth::Role;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Auth, Json};
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, Auth(p): Auth) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(users::list(&state.catalog, &p).await?))
}

pub async fn get(State(state): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<User>, ApiError> {
    Ok(Json(users::get(&state.catalog, &p, &id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    role: Role,
    /// Without a password the response carries a one-time setup token for the new user.
    password: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    #[serde(flatten)]
    user: User,
    /// `/setup?token=…` lets the user choose a password; present when none was given.
    setup_token: Option<String>,
}

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUser {
    role: Option<Role>,
    disabled: Option<bool>,
    password: Option<String>,
}

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

pub async fn delete(State(state): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    users::delete(&state.catalog, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
