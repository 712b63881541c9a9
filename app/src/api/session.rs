//! Logging in and out, and who is signed in.

use leptos::prelude::*;

pub use bulwark_types::{Me, Role};

use crate::error::AppError;

/// The logged-in user.
#[server(prefix = "/_sfn", endpoint = "whoami")]
pub async fn whoami() -> Result<Me, AppError> {
    let p = crate::ssr::principal().await?;
    Ok(Me { username: p.username, role: p.role })
}

/// Logs in; answers `false` (and starts no session) when the password was right and the
/// account also needs its authenticator code, which the form then asks for.
#[server(prefix = "/_sfn", endpoint = "login")]
pub async fn login(username: String, password: String, code: Option<String>, next: Option<String>) -> Result<bool, AppError> {
    use bulwark_core::platform::accounts::users;
    use bulwark_core::platform::auth::AuthError;
    use bulwark_core::error::{Classify, Kind};
    let catalog = crate::ssr::catalog()?;
    let secrets = crate::ssr::secrets()?;
    let principal = match users::authenticate(&catalog, &secrets, username.trim(), &password, code.as_deref()).await {
        Ok(p) => p,
        Err(AuthError::SecondFactorNeeded) => return Ok(false),
        // On the login form a refusal is a message about the input, not "log in again".
        Err(e) if e.kind() == Kind::Unauthenticated => return Err(AppError::Invalid(e.to_string())),
        Err(e) => return Err(AppError::from_core(e)),
    };
    crate::ssr::start_session(&principal).await?;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(true)
}

#[server(prefix = "/_sfn", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let session = crate::ssr::session().await?;
    if let Ok(p) = crate::ssr::principal().await {
        let catalog = crate::ssr::catalog()?;
        let actor = bulwark_core::platform::audit::Actor::from(&p);
        let entry = bulwark_core::platform::audit::Entry {
            actor: &actor,
            action: "logout",
            target_type: "session",
            target_id: Some(&p.user_id),
            detail: serde_json::json!({}),
        };
        bulwark_core::platform::audit::record(&catalog, entry).await.map_err(AppError::from_core)?;
    }
    session.flush().await.map_err(|_| AppError::Internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Only same-site paths may follow a login, so a link cannot bounce users elsewhere: a path
/// of visible ASCII (browsers drop tabs and newlines, so `/\t/evil.example` would become
/// `//evil.example`), starting with one `/`, without backslashes.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && n.len() <= 2048 && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/users")), "/users");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/ /evil.example")), "/");
        assert_eq!(safe_next(Some("/executions/1?tab=files")), "/executions/1?tab=files");
    }
}

