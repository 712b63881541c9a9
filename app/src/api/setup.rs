//! The first administrator's (or an invited user's) setup link.

use leptos::prelude::*;

use crate::error::AppError;

/// What the link is for: `None` = create the first admin; `Some(name)` = set name's password.
#[server(prefix = "/_sfn", endpoint = "setup_info")]
pub async fn setup_info(token: String) -> Result<Option<String>, AppError> {
    use bulwark_core::platform::accounts::setup::{self, LinkPurpose};
    let catalog = crate::ssr::catalog()?;
    match setup::inspect(&catalog, &token).await.map_err(AppError::from_core)? {
        LinkPurpose::FirstAdmin => Ok(None),
        LinkPurpose::SetPassword { username } => Ok(Some(username)),
    }
}

#[server(prefix = "/_sfn", endpoint = "complete_setup")]
pub async fn complete_setup(token: String, username: Option<String>, password: String, confirm: String) -> Result<(), AppError> {
    use bulwark_core::platform::accounts::setup;
    if password != confirm {
        return Err(AppError::Invalid("the two passwords differ".into()));
    }
    let catalog = crate::ssr::catalog()?;
    let username = username.unwrap_or_default();
    let principal = setup::redeem(&catalog, &token, username.trim(), &password).await.map_err(AppError::from_core)?;
    crate::ssr::start_session(&principal).await?;
    leptos_axum::redirect("/");
    Ok(())
}
