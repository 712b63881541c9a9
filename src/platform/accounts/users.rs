//! User accounts: create, list, change role, disable, delete, passwords, and login.

use chrono::{Duration, Utc};
use serde::Serialize;

use super::password;
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::secrets::SecretBox;
use crate::platform::time;

/// Failed logins allowed before the account is locked for a while.
const MAX_FAILED_LOGINS: i64 = 5;

/// A user as shown to administrators (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    #[schema(value_type = bool)]
    #[serde(serialize_with = "crate::platform::catalog::serialize_flag")]
    pub disabled: i64,
    #[schema(value_type = bool)]
    #[serde(serialize_with = "crate::platform::catalog::serialize_flag")]
    pub has_password: i64,
    /// Logs in with an authenticator code too (src/auth/totp.rs).
    #[schema(value_type = bool)]
    #[serde(serialize_with = "crate::platform::catalog::serialize_flag")]
    pub has_second_factor: i64,
    pub last_login_at: Option<String>,
    pub created_at: String,
}

const USER_COLUMNS: &str = "id, username, role, disabled, CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password, CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS has_second_factor, last_login_at, created_at";

/// What an administrator fills in to add a user.
#[derive(Debug, Clone, utoipa::ToSchema)]
pub struct NewUser {
    pub username: String,
    /// `None` creates the account without a password; a setup link then lets its owner set one.
    pub password: Option<String>,
    pub role: Role,
}

/// A partial change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, utoipa::ToSchema)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

pub fn validate_username(username: &str) -> Result<(), AuthError> {
    let ok = (1..=64).contains(&username.len())
        && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(
            "a username has 1 to 64 characters: letters, digits, '.', '-', '_' or '@'".into(),
        ))
    }
}

pub async fn count(catalog: &Catalog) -> Result<i64, AuthError> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users").fetch_one(catalog.pool()).await?)
}

pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<User>, AuthError> {
    actor.require(Role::Admin)?;
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
    Ok(sqlx::query_as::<_, User>(&sql).fetch_all(catalog.pool()).await?)
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<User, AuthError> {
    if actor.user_id != id {
        actor.require(Role::Admin)?;
    }
    find(catalog, id).await
}

async fn find(catalog: &Catalog, id: &str) -> Result<User, AuthError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    sqlx::query_as::<_, User>(&sql)
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| AuthError::NotFound(format!("user {id}")))
}

/// An administrator adds a user.
pub async fn create(catalog: &Catalog, actor: &Principal, new: NewUser) -> Result<User, AuthError> {
    actor.require(Role::Admin)?;
    insert(catalog, &Actor::from(actor), new).await
}

/// The local command line adds a user: whoever runs `bulwark` on the host with access to the
/// catalog is trusted, as with any server's own admin CLI.
pub async fn create_from_cli(catalog: &Catalog, new: NewUser) -> Result<User, AuthError> {
    insert(catalog, &Actor::system("cli"), new).await
}

pub(super) async fn insert(catalog: &Catalog, actor: &Actor, new: NewUser) -> Result<User, AuthError> {
    validate_username(&new.username)?;
    let hash = match new.password.as_deref() {
        Some(p) => Some(password::hash_password_async(p).await?),
        None => None,
    };
    let id = uuid::Uuid::new_v4().to_string();
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(&new.username)
        .fetch_optional(&mut *tx.tx)
        .await?;
    if taken.is_some() {
        return Err(AuthError::Conflict(format!("a user named {:?} already exists", new.username)));
    }
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, disabled, failed_logins, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 0, 0, $5, $5)",
    )
    .bind(&id)
    .bind(&new.username)
    .bind(&hash)
    .bind(new.role.as_str())
    .bind(&now)
    .execute(&mut *tx.tx)
    .await?;
    audit::append(
        &mut tx,
        Entry {
            actor,
            action: "user.create",
            target_type: "user",
            target_id: Some(&id),
            detail: serde_json::json!({ "username": new.username, "role": new.role.as_str() }),
        },
    )
    .await?;
    tx.commit().await?;
    find(catalog, &id).await
}

/// Changes a user's role or disabled flag. The last enabled admin can be neither demoted nor
/// disabled, so the console can never be locked out of administration.
pub async fn update(catalog: &Catalog, actor: &Principal, id: &str, change: UserUpdate) -> Result<User, AuthError> {
    actor.require(Role::Admin)?;
    if actor.user_id == id && change.disabled == Some(true) {
        return Err(AuthError::Invalid("you cannot disable your own account".into()));
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let current: Option<(String, i64)> = sqlx::query_as("SELECT role, disabled FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx.tx)
        .await?;
    let (role, disabled) = current.ok_or_else(|| AuthError::NotFound(format!("user {id}")))?;
    let new_role = change.role.map(Role::as_str).unwrap_or(&role).to_string();
    let new_disabled = change.disabled.map(i64::from).unwrap_or(disabled);
    let stays_active_admin = new_role == "admin" && new_disabled == 0;
    if role == "admin" && disabled == 0 && !stays_active_admin {
        let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
            .fetch_one(&mut *tx.tx)
            .await?;
        if admins <= 1 {
            return Err(AuthError::Invalid("this is the last active admin: promote another user first".into()));
        }
    }
    sqlx::query("UPDATE users SET role = $1, disabled = $2, updated_at = $3 WHERE id = $4")
        .bind(&new_role)
        .bind(new_disabled)
        .bind(time::now_text())
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    if new_disabled == 1 {
        // A disabled user is logged out everywhere at once.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx.tx).await?;
    }
    audit::append(
        &mut tx,
        Entry {
            actor: &Actor::from(actor),
            action: "user.update",
            target_type: "user",
            target_id: Some(id),
            detail: serde_json::json!({ "role": new_role, "disabled": new_disabled == 1 }),
        },
    )
    .await?;
    tx.commit().await?;
    find(catalog, id).await
}

pub async fn delete(catalog: &Catalog, actor: &Principal, id: &str) -> Result<(), AuthError> {
    actor.require(Role::Admin)?;
    if actor.user_id == id {
        return Err(AuthError::Invalid("you cannot delete your own account".into()));
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let row: Option<(String, String, i64)> = sqlx::query_as("SELECT username, role, disabled FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx.tx)
        .await?;
    let (username, role, disabled) = row.ok_or_else(|| AuthError::NotFound(format!("user {id}")))?;
    if role == "admin" && disabled == 0 {
        let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
            .fetch_one(&mut *tx.tx)
            .await?;
        if admins <= 1 {
            return Err(AuthError::Invalid("this is the last active admin: promote another user first".into()));
        }
    }
    sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx.tx).await?;
    audit::append(
        &mut tx,
        Entry {
            actor: &Actor::from(actor),
            action: "user.delete",
            target_type: "user",
            target_id: Some(id),
            detail: serde_json::json!({ "username": username }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A user changes their own password, proving they know the current one. Not with an API
/// token: a leaked token must not be able to take the account over. Every session of the user
/// ends and every token is revoked; the console starts the caller a new session.
pub async fn change_own_password(catalog: &Catalog, actor: &Principal, current: &str, new: &str) -> Result<(), AuthError> {
    actor.require(Role::Viewer)?;
    refuse_tokens(actor)?;
    let stored: Option<Option<String>> = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(&actor.user_id)
        .fetch_optional(catalog.pool())
        .await?;
    let stored = stored.ok_or(AuthError::Unauthenticated)?;
    let matches = match stored {
        Some(h) => password::verify_password_async(current, &h).await,
        None => false,
    };
    if !matches {
        return Err(AuthError::Invalid("the current password is wrong".into()));
    }
    write_password(catalog, &Actor::from(actor), &actor.user_id, new).await
}

/// An administrator sets another user's password (not with an API token), which ends that
/// user's sessions and revokes their tokens.
pub async fn set_password(catalog: &Catalog, actor: &Principal, id: &str, new: &str) -> Result<(), AuthError> {
    actor.require(Role::Admin)?;
    refuse_tokens(actor)?;
    find(catalog, id).await?;
    write_password(catalog, &Actor::from(actor), id, new).await
}

fn refuse_tokens(actor: &Principal) -> Result<(), AuthError> {
    match actor.token_id {
        Some(_) => Err(AuthError::Invalid("passwords are changed in the console, never with an API token".into())),
        None => Ok(()),
    }
}

/// Sets a password; every session of the user ends and every token of theirs is revoked, so
/// whoever knew the old password (or held a token made with it) is out.
pub(super) async fn write_password(catalog: &Catalog, actor: &Actor, id: &str, new: &str) -> Result<(), AuthError> {
    let hash = password::hash_password_async(new).await?;
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL, updated_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx.tx).await?.rows_affected();
    let tokens = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(&now)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
    audit::append(
        &mut tx,
        Entry {
            actor,
            action: "user.password",
            target_type: "user",
            target_id: Some(id),
            detail: serde_json::json!({ "sessionsEnded": sessions, "tokensRevoked": tokens }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Longest username and password a login considers: anything longer fails like a wrong
/// password, before any hashing, and only a cut-down name reaches the audit log.
const MAX_LOGIN_NAME: usize = 64;
const MAX_LOGIN_PASSWORD: usize = 1024;
const MAX_LOGIN_CODE: usize = 16;

/// Checks a username and password. After [`MAX_FAILED_LOGINS`] failures the account is
/// locked for a doubling period (1 minute, 2, 4 … at most 15). Whatever fails (an unknown
/// name, a wrong password, a locked account) answers the same [`AuthError::BadCredentials`]
/// after the same argon2 work, so neither the answer nor its timing tells which names exist.
/// The failure count is incremented in the database, so parallel guesses each count.
///
/// With a second factor set up, a right password without `code` answers
/// [`AuthError::SecondFactorNeeded`] (not counted as a failure), and a wrong or used code counts
/// like a wrong password.
pub async fn authenticate(catalog: &Catalog, secrets: &SecretBox, username: &str, password_text: &str, code: Option<&str>) -> Result<Principal, AuthError> {
    if username.len() > MAX_LOGIN_NAME || password_text.len() > MAX_LOGIN_PASSWORD || code.is_some_and(|c| c.len() > MAX_LOGIN_CODE) {
        password::verify_password_async("", &DUMMY_HASH).await;
        let name: String = username.chars().filter(|c| !c.is_control()).take(MAX_LOGIN_NAME).collect();
        audit::record(catalog, login_entry(&Actor::system(&name), None, "login.failed", "oversized input")).await.ok();
        return Err(AuthError::BadCredentials);
    }
    type LoginRow = (String, String, Option<String>, String, i64, Option<String>, Option<String>);
    let row: Option<LoginRow> = sqlx::query_as("SELECT id, username, password_hash, role, disabled, locked_until, totp_secret FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(catalog.pool())
        .await?;
    let Some((id, username, hash, role, disabled, locked_until, totp)) = row else {
        password::verify_password_async(password_text, &DUMMY_HASH).await;
        let name: String = username.chars().filter(|c| !c.is_control()).collect();
        audit::record(catalog, login_entry(&Actor::system(&name), None, "login.failed", "unknown user")).await.ok();
        return Err(AuthError::BadCredentials);
    };
    let now = time::now_text();
    let actor = Actor { id: Some(id.clone()), name: username.clone() };
    let matches = password::verify_password_async(password_text, hash.as_deref().unwrap_or(&DUMMY_HASH)).await && hash.is_some();
    if locked_until.as_deref().is_some_and(|until| until > now.as_str()) {
        audit::record(catalog, login_entry(&actor, Some(&id), "login.failed", "account locked")).await.ok();
        return Err(AuthError::BadCredentials);
    }
    if !matches {
        count_failure(catalog, &id).await?;
        audit::record(catalog, login_entry(&actor, Some(&id), "login.failed", "wrong password")).await.ok();
        return Err(AuthError::BadCredentials);
    }
    if disabled != 0 {
        return Err(AuthError::Disabled);
    }
    let method = match (&totp, code.map(str::trim).filter(|c| !c.is_empty())) {
        (None, _) => "password",
        (Some(_), None) => return Err(AuthError::SecondFactorNeeded),
        (Some(sealed), Some(code)) => {
            // Wrong codes count with wrong passwords towards the lockout: six digits fall to
            // guessing otherwise.
            if !super::totp::check_login(catalog, secrets, &id, sealed, code).await? {
                count_failure(catalog, &id).await?;
                audit::record(catalog, login_entry(&actor, Some(&id), "login.failed", "wrong code")).await.ok();
                return Err(AuthError::WrongCode);
            }
            "password and code"
        }
    };
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $1 WHERE id = $2")
        .bind(&now)
        .bind(&id)
        .execute(catalog.pool())
        .await?;
    audit::record(catalog, login_entry(&actor, Some(&id), "login", method)).await?;
    Ok(Principal { user_id: id, username, role: crate::platform::auth::role_named(&role)?, token_id: None, scope: None })
}

/// One more failed login (or wrong second-factor code); from the fifth on the account locks for
/// 1, 2, 4, 8, then 15 minutes.
pub(super) async fn count_failure(catalog: &Catalog, id: &str) -> Result<(), AuthError> {
    let failed: i64 = sqlx::query_scalar("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
        .bind(id)
        .fetch_one(catalog.pool())
        .await?;
    if failed >= MAX_FAILED_LOGINS {
        let minutes = (1_i64 << (failed - MAX_FAILED_LOGINS).min(4)).min(15);
        sqlx::query("UPDATE users SET locked_until = $1 WHERE id = $2")
            .bind(time::to_text(Utc::now() + Duration::minutes(minutes)))
            .bind(id)
            .execute(catalog.pool())
            .await?;
    }
    Ok(())
}

fn login_entry<'a>(actor: &'a Actor, id: Option<&'a str>, action: &'a str, how: &str) -> Entry<'a> {
    Entry { actor, action, target_type: "session", target_id: id, detail: serde_json::json!({ "method": how }) }
}

/// The principal for a logged-in session's user; `None` if the user is gone or disabled.
pub async fn session_principal(catalog: &Catalog, user_id: &str) -> Result<Option<Principal>, AuthError> {
    let row: Option<(String, String, i64)> = sqlx::query_as("SELECT username, role, disabled FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(catalog.pool())
        .await?;
    match row {
        Some((username, role, 0)) => {
            Ok(Some(Principal { user_id: user_id.to_string(), username, role: crate::platform::auth::role_named(&role)?, token_id: None, scope: None }))
        }
        _ => Ok(None),
    }
}

/// The principal of the active user named `username`, for the command line (whoever holds the
/// catalog acts as any user).
pub async fn principal_by_name(catalog: &Catalog, username: &str) -> Result<Principal, AuthError> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1").bind(username).fetch_optional(catalog.pool()).await?;
    let id = id.ok_or_else(|| AuthError::NotFound(format!("user {username:?}")))?;
    session_principal(catalog, &id).await?.ok_or(AuthError::Disabled)
}

/// A real argon2id hash, verified against when the user does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    password::hash_password("no such user: equal timing").unwrap_or_default()
});
