//! User administration.

use leptos::prelude::*;

pub use bulwark_types::{Role, UserRow};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let users = bulwark_core::platform::accounts::users::list(&catalog, &p).await.map_err(AppError::from_core)?;
    Ok(users.into_iter().map(ssr::row).collect())
}

#[server(prefix = "/_sfn", endpoint = "create_user")]
pub async fn create_user(username: String, role: String, password: String) -> Result<UserRow, AppError> {
    use bulwark_core::platform::accounts::users::{self, NewUser};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let new = NewUser { username: username.trim().to_string(), password: Some(password), role: ssr::role(&role)? };
    users::create(&catalog, &p, new).await.map(ssr::row).map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "update_user")]
pub async fn update_user(id: String, role: Option<String>, disabled: Option<String>) -> Result<UserRow, AppError> {
    use bulwark_core::platform::accounts::users::{self, UserUpdate};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let change = UserUpdate {
        role: role.as_deref().map(ssr::role).transpose()?,
        disabled: disabled.map(|d| d == "true"),
    };
    users::update(&catalog, &p, &id, change).await.map(ssr::row).map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "delete_user")]
pub async fn delete_user(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    bulwark_core::platform::accounts::users::delete(&catalog, &p, &id).await.map_err(AppError::from_core)
}

/// For a user who lost their authenticator: they log in with the password alone until they set
/// up a new one.
#[server(prefix = "/_sfn", endpoint = "remove_user_second_factor")]
pub async fn remove_user_second_factor(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    bulwark_core::platform::accounts::totp::remove(&catalog, &crate::ssr::secrets()?, &p, &id, None).await.map_err(AppError::from_core)
}

#[cfg(feature = "ssr")]
mod ssr {
    use bulwark_core::platform::auth::Role;
    use bulwark_core::platform::accounts::users::User;

    use super::UserRow;
    use crate::error::AppError;

    pub fn row(u: User) -> UserRow {
        UserRow {
            id: u.id,
            username: u.username,
            role: u.role,
            disabled: u.disabled != 0,
            has_password: u.has_password != 0,
            has_second_factor: u.has_second_factor != 0,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
        }
    }

    pub fn role(text: &str) -> Result<Role, AppError> {
        bulwark_core::platform::auth::role_named(text).map_err(AppError::from_core)
    }
}
