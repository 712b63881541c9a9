//! One-time setup links: how the first admin (and any user created without a password) sets
//! a password. There is no default password anywhere.

use chrono::{Duration, Utc};

use super::users::{self, NewUser};
use super::secret;
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::audit::Actor;
use crate::platform::catalog::Catalog;
use crate::platform::time;

const SETUP_PREFIX: &str = "bws_";
/// How long a setup link stays valid.
pub const SETUP_LINK_HOURS: i64 = 24;

/// If the catalog has no users yet, issues a fresh first-admin link (older unused ones stop
/// working) and returns its secret; `None` once any user exists.
pub async fn first_admin_link(catalog: &Catalog) -> Result<Option<String>, AuthError> {
    if users::count(catalog).await? > 0 {
        return Ok(None);
    }
    sqlx::query("DELETE FROM setup_tokens WHERE username IS NULL AND used_at IS NULL")
        .execute(catalog.pool())
        .await?;
    Ok(Some(issue(catalog, None, Role::Admin).await?))
}

/// Issues a link that lets the existing user `username` set their password.
pub async fn password_link(catalog: &Catalog, username: &str) -> Result<String, AuthError> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(catalog.pool())
        .await?;
    let role = role.ok_or_else(|| AuthError::NotFound(format!("user {username:?}")))?;
    issue(catalog, Some(username), crate::platform::auth::role_named(&role)?).await
}

async fn issue(catalog: &Catalog, username: Option<&str>, role: Role) -> Result<String, AuthError> {
    let secret_text = secret::generate(SETUP_PREFIX);
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO setup_tokens (id, token_hash, username, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(secret::digest(&secret_text))
    .bind(username)
    .bind(role.as_str())
    .bind(time::to_text(now))
    .bind(time::to_text(now + Duration::hours(SETUP_LINK_HOURS)))
    .execute(catalog.pool())
    .await?;
    Ok(secret_text)
}

/// What a setup link is for, so the page can ask for the right fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Create the first admin: the person picks a username.
    FirstAdmin,
    /// Set the password of this existing user.
    SetPassword { username: String },
}

pub async fn inspect(catalog: &Catalog, secret_text: &str) -> Result<LinkPurpose, AuthError> {
    let (_, username, _) = lookup(catalog, secret_text).await?;
    Ok(match username {
        None => LinkPurpose::FirstAdmin,
        Some(username) => LinkPurpose::SetPassword { username },
    })
}

/// A setup token's row: id, username, role, expires_at, used_at.
type SetupRow = (String, Option<String>, String, String, Option<String>);

async fn lookup(catalog: &Catalog, secret_text: &str) -> Result<(String, Option<String>, String), AuthError> {
    let invalid = || AuthError::Invalid("this setup link is invalid, used or expired: ask an admin (or run `bulwark user add`) for a new one".into());
    let row: Option<SetupRow> = sqlx::query_as(
        "SELECT id, username, role, expires_at, used_at FROM setup_tokens WHERE token_hash = $1",
    )
    .bind(secret::digest(secret_text))
    .fetch_optional(catalog.pool())
    .await?;
    match row {
        Some((id, username, role, expires_at, None)) if expires_at > time::now_text() => Ok((id, username, role)),
        _ => Err(invalid()),
    }
}

/// Uses a setup link: creates the first admin (with `username`) or sets the linked user's
/// password. Returns the principal to log in as.
pub async fn redeem(catalog: &Catalog, secret_text: &str, username: &str, password: &str) -> Result<Principal, AuthError> {
    let (id, linked_user, role) = lookup(catalog, secret_text).await?;
    // Mark used first, guarded on used_at, so two concurrent redemptions cannot both win.
    let claimed = sqlx::query("UPDATE setup_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(time::now_text())
        .bind(&id)
        .execute(catalog.pool())
        .await?
        .rows_affected();
    if claimed == 0 {
        return Err(AuthError::Invalid("this setup link has just been used".into()));
    }
    let outcome = async {
        match linked_user {
            None => {
                if users::count(catalog).await? > 0 {
                    return Err(AuthError::Invalid("an admin already exists: log in instead".into()));
                }
                let user = users::insert(
                    catalog,
                    &Actor::system("setup-link"),
                    NewUser { username: username.to_string(), password: Some(password.to_string()), role: crate::platform::auth::role_named(&role)? },
                )
                .await?;
                Ok(Principal { user_id: user.id, username: user.username, role: Role::Admin, token_id: None, scope: None })
            }
            Some(linked) => {
                let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
                    .bind(&linked)
                    .fetch_optional(catalog.pool())
                    .await?
                    .ok_or_else(|| AuthError::NotFound(format!("user {linked:?}")))?;
                users::write_password(catalog, &Actor::system("setup-link"), &user_id, password).await?;
                users::session_principal(catalog, &user_id).await?.ok_or(AuthError::Disabled)
            }
        }
    }
    .await;
    if outcome.is_err() {
        // Bad input (a short password, a taken name) must not burn the link.
        sqlx::query("UPDATE setup_tokens SET used_at = NULL WHERE id = $1").bind(&id).execute(catalog.pool()).await?;
    }
    outcome
}
