//! The signed-in person's own credentials: password, API tokens, second factor.

use leptos::prelude::*;

pub use bulwark_types::{Enrollment, Role, TokenRow};

use crate::error::AppError;

#[cfg(feature = "ssr")]
fn token_row(t: bulwark_core::platform::accounts::tokens::ApiToken) -> TokenRow {
    TokenRow {
        id: t.id,
        username: t.username,
        name: t.name,
        prefix: t.prefix,
        role: t.role,
        created_at: t.created_at,
        expires_at: t.expires_at,
        last_used_at: t.last_used_at,
        revoked: t.revoked_at.is_some(),
    }
}

#[server(prefix = "/_sfn", endpoint = "change_password")]
pub async fn change_password(current: String, password: String, confirm: String) -> Result<(), AppError> {
    if password != confirm {
        return Err(AppError::Invalid("the two new passwords differ".into()));
    }
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    bulwark_core::platform::accounts::users::change_own_password(&catalog, &p, &current, &password).await.map_err(AppError::from_core)?;
    // The change ended every session of this user; this one carries on under a new id.
    crate::ssr::session().await?.cycle_id().await.map_err(|_| AppError::Internal)
}

#[server(prefix = "/_sfn", endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenRow>, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let tokens = bulwark_core::platform::accounts::tokens::list(&catalog, &p, false).await.map_err(AppError::from_core)?;
    Ok(tokens.into_iter().map(token_row).collect())
}

/// Creates a token and returns its secret, which is shown this once.
#[server(prefix = "/_sfn", endpoint = "create_token")]
pub async fn create_token(name: String, role: String, expires_in_days: String) -> Result<String, AppError> {
    use bulwark_core::platform::accounts::tokens::{self, NewToken};
    use bulwark_core::platform::auth::role_named;
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let expires_in_days = match expires_in_days.trim() {
        "" => None,
        days => Some(days.parse::<i64>().map_err(|_| AppError::Invalid("days must be a whole number".into()))?),
    };
    let new = NewToken { name, role: Some(role_named(&role).map_err(AppError::from_core)?), expires_in_days };
    Ok(tokens::create(&catalog, &p, new).await.map_err(AppError::from_core)?.secret)
}

#[server(prefix = "/_sfn", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    bulwark_core::platform::accounts::tokens::revoke(&catalog, &p, &id).await.map(|_| ()).map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "second_factor_status")]
pub async fn second_factor_status() -> Result<bool, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::platform::accounts::totp::enabled(&crate::ssr::catalog()?, &p.user_id).await.map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "begin_second_factor")]
pub async fn begin_second_factor() -> Result<Enrollment, AppError> {
    let p = crate::ssr::principal().await?;
    let e = bulwark_core::platform::accounts::totp::begin(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p).await.map_err(AppError::from_core)?;
    Ok(Enrollment { secret: e.secret, uri: e.uri, qr_svg: e.qr_svg })
}

#[server(prefix = "/_sfn", endpoint = "confirm_second_factor")]
pub async fn confirm_second_factor(code: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::platform::accounts::totp::confirm(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &code).await.map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "remove_second_factor")]
pub async fn remove_second_factor(code: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    bulwark_core::platform::accounts::totp::remove(&catalog, &crate::ssr::secrets()?, &p, &p.user_id, Some(&code)).await.map_err(AppError::from_core)
}
