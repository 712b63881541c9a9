//! Server-side helpers for server functions: the catalog and the acting principal.

use bulwark_core::auth::{Principal, users};
use bulwark_core::catalog::Catalog;
use leptos::prelude::use_context;
use tower_sessions::Session;

use crate::error::AppError;

/// The session key holding the logged-in user's id.
pub const USER_KEY: &str = "user_id";

pub fn catalog() -> Result<Catalog, AppError> {
    use_context::<Catalog>().ok_or_else(|| {
        tracing::error!("the catalog is not in the Leptos context");
        AppError::Internal
    })
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "no session layer");
        AppError::Internal
    })
}

/// The logged-in principal, or [`AppError::Unauthenticated`].
pub async fn principal() -> Result<Principal, AppError> {
    let catalog = catalog()?;
    let session = session().await?;
    let user_id: Option<String> = session.get(USER_KEY).await.map_err(|_| AppError::Unauthenticated)?;
    let user_id = user_id.ok_or(AppError::Unauthenticated)?;
    users::session_principal(&catalog, &user_id)
        .await
        .map_err(AppError::from_core)?
        .ok_or(AppError::Unauthenticated)
}

/// Logs `principal` in on this session, under a new session id (no fixation).
pub async fn start_session(principal: &Principal) -> Result<(), AppError> {
    let session = session().await?;
    session.cycle_id().await.map_err(|_| AppError::Internal)?;
    session.insert(USER_KEY, &principal.user_id).await.map_err(|_| AppError::Internal)
}

pub fn secrets() -> Result<bulwark_core::secrets::SecretBox, AppError> {
    use_context::<bulwark_core::secrets::SecretBox>().ok_or_else(|| {
        tracing::error!("the secret box is not in the Leptos context");
        AppError::Internal
    })
}
