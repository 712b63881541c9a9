//! Request extractors of the REST API: the principal, and JSON / query bodies whose
//! rejections are [`ApiError`]s.

use axum::extract::{FromRequest, FromRequestParts, MatchedPath};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use bulwark_core::platform::accounts::{tokens, users};
use bulwark_core::platform::auth::{Principal, Role};
use tower_sessions::Session;

use super::access::{self, Access};
use super::error::ApiError;
use crate::state::AppState;

/// The caller, from `Authorization: Bearer …` or the console's session cookie, allowed by the
/// route's entry in the role matrix ([`super::access`]) before anything else of the request is
/// read. Narrow tokens pass only where the matrix names their scope ([`Access::Scoped`]).
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let route = parts.extensions.get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
        let Some(access) = access::required(&parts.method, &route) else {
            tracing::error!(method = %parts.method, route, "a REST route has no entry in the role matrix");
            return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error: see the server log"));
        };
        let principal = caller(parts, state).await?;
        let allowed = match (access, &principal.scope) {
            // The core matches the rest of the scope (the configuration a WAL token is for).
            (Access::Scoped(prefix), Some(scope)) if scope.split(':').next() == Some(prefix) => Ok(()),
            (Access::Scoped(_), Some(scope)) => Err(ApiError::new(StatusCode::FORBIDDEN, format!("this token may only do {scope}"))),
            (Access::Scoped(_), None) => principal.require(Role::Operator).map_err(ApiError::from),
            (Access::Role(_), Some(scope)) => Err(ApiError::new(StatusCode::FORBIDDEN, format!("this token may only do {scope}"))),
            (Access::Role(role), None) => principal.require(role).map_err(ApiError::from),
        };
        if allowed.is_err() {
            // Refusals are security events (ASVS 7.2.2): who, which route, with what.
            tracing::warn!(user = %principal.username, token = ?principal.token_id, method = %parts.method, route, "access refused by the role matrix");
        }
        allowed.map(|()| Auth(principal))
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
