//! Server-side helpers for server functions: the catalog and the acting principal.

use bulwark_core::platform::accounts::users;
use bulwark_core::platform::auth::Principal;
use bulwark_core::platform::catalog::Catalog;
use leptos::prelude::use_context;
use tower_sessions::Session;

use crate::error::AppError;

/// The session key holding the logged-in user's id.
pub const USER_KEY: &str = "user_id";

/// The session key holding when the user logged in (Unix seconds).
pub const LOGIN_AT_KEY: &str = "login_at";

/// A session ends this long after its login however active it is (ASVS 3.3.2); inactivity ends
/// it sooner (the server's `--session-idle-minutes`).
pub const MAX_SESSION_HOURS: i64 = 12;

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The user of a live session: logged in, less than [`MAX_SESSION_HOURS`] ago. An older
/// session (or one from before logins were timed) is ended here.
pub async fn session_user(session: &Session) -> Option<String> {
    let user_id: String = session.get(USER_KEY).await.ok().flatten()?;
    let login_at: Option<i64> = session.get(LOGIN_AT_KEY).await.ok().flatten();
    let live = login_at.is_some_and(|at| unix_now() - at < MAX_SESSION_HOURS * 3600);
    if !live {
        let _ = session.flush().await;
        return None;
    }
    Some(user_id)
}

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
    let user_id = session_user(&session).await.ok_or(AppError::Unauthenticated)?;
    users::session_principal(&catalog, &user_id)
        .await
        .map_err(AppError::from_core)?
        .ok_or(AppError::Unauthenticated)
}

/// Logs `principal` in on this session, under a new session id (no fixation).
pub async fn start_session(principal: &Principal) -> Result<(), AppError> {
    let session = session().await?;
    session.cycle_id().await.map_err(|_| AppError::Internal)?;
    session.insert(LOGIN_AT_KEY, unix_now()).await.map_err(|_| AppError::Internal)?;
    session.insert(USER_KEY, &principal.user_id).await.map_err(|_| AppError::Internal)
}

pub fn secrets() -> Result<bulwark_core::platform::secrets::SecretBox, AppError> {
    use_context::<bulwark_core::platform::secrets::SecretBox>().ok_or_else(|| {
        tracing::error!("the secret box is not in the Leptos context");
        AppError::Internal
    })
}

/// Where restores may write, as the server was started.
pub fn restore_targets() -> Result<std::sync::Arc<bulwark_core::restores::Targets>, AppError> {
    use_context::<std::sync::Arc<bulwark_core::restores::Targets>>().ok_or_else(|| {
        tracing::error!("the restore targets are not in the Leptos context");
        AppError::Internal
    })
}
