//! Request extractors of the REST API: the principal, and JSON / query bodies whose
//! rejections are [`ApiError`]s.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use bulwark_core::auth::{Principal, tokens, users};
use tower_sessions::Session;

use super::error::ApiError;
use crate::state::AppState;

/// The caller, from `Authorization: Bearer …` or the console's session cookie. A narrow token
/// (one that may only push one cluster's WAL) is refused here: only [`NarrowAuth`] takes it.
pub struct Auth(pub Principal);

/// The caller, narrow tokens included: for the one route a narrow token is for (WAL pushes);
/// the core checks its scope.
pub struct NarrowAuth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = caller(parts, state).await?;
        if let Some(scope) = &principal.scope {
            return Err(ApiError::new(axum::http::StatusCode::FORBIDDEN, format!("this token may only do {scope}")));
        }
        Ok(Auth(principal))
    }
}

impl FromRequestParts<AppState> for NarrowAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        caller(parts, state).await.map(NarrowAuth)
    }
}

async fn caller(parts: &mut Parts, state: &AppState) -> Result<Principal, ApiError> {
    if let Some(header) = parts.headers.get(AUTHORIZATION) {
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        return tokens::authenticate(&state.catalog, secret.trim()).await.map_err(|_| ApiError::unauthenticated("the API token is unknown, expired or revoked"));
    }
    let missing = || ApiError::unauthenticated("log in, or send `Authorization: Bearer <token>` (create one under Account)");
    let session = Session::from_request_parts(parts, state).await.map_err(|_| missing())?;
    let user_id = bulwark_app::ssr::session_user(&session).await.ok_or_else(missing)?;
    users::session_principal(&state.catalog, &user_id).await?.ok_or_else(missing)
}

/// `axum::Json` with the API's error body on rejection.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with the API's error body on rejection.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);
