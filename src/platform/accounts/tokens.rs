//! API tokens for automation: `Authorization: Bearer bwk_…`.
//!
//! The secret is shown once at creation; only its SHA-256 is stored. A token acts as its
//! owner with at most the role it was created with, never more than the owner has now. A
//! narrow token (a scope) may do one thing only, such as pushing one cluster's WAL. A token
//! cannot create a token that outlives it.

use chrono::{Duration, Utc};
use serde::Serialize;

use super::secret;
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::time;

pub const TOKEN_PREFIX: &str = "bwk_";

/// The scope of a token that may push WAL for one configuration, and nothing else:
/// `wal-push:<configuration id>`.
pub const WAL_PUSH_SCOPE: &str = "wal-push";

/// A token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// A narrow token's one permission; `None` for a token that acts with its role.
    pub scope: Option<String>,
}

const TOKEN_COLUMNS: &str = "t.id, t.user_id, u.username, t.name, t.prefix, t.role, t.created_at, t.expires_at, t.last_used_at, t.revoked_at, t.scope";

#[derive(Debug, Clone, utoipa::ToSchema)]
pub struct NewToken {
    pub name: String,
    /// Defaults to the creator's role; may not exceed it.
    pub role: Option<Role>,
    /// `None`: the token does not expire.
    pub expires_in_days: Option<i64>,
}

/// A freshly created token with its secret, which is never available again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

pub async fn create(catalog: &Catalog, actor: &Principal, new: NewToken) -> Result<CreatedToken, AuthError> {
    actor.require(Role::Viewer)?;
    insert(catalog, actor, new, None).await
}

/// Creates a token that may do only `scope` (e.g. `wal-push:<configuration id>`); the caller
/// has checked the actor may do it.
pub async fn create_scoped(catalog: &Catalog, actor: &Principal, new: NewToken, scope: &str) -> Result<CreatedToken, AuthError> {
    actor.require(Role::Viewer)?;
    insert(catalog, actor, new, Some(scope)).await
}

async fn insert(catalog: &Catalog, actor: &Principal, new: NewToken, scope: Option<&str>) -> Result<CreatedToken, AuthError> {
    let name = new.name.trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(AuthError::Invalid("a token needs a name of 1 to 100 characters".into()));
    }
    let role = new.role.unwrap_or(actor.role);
    if role > actor.role {
        return Err(AuthError::Invalid(format!(
            "a token cannot have more power than its creator ({} > {})",
            role.as_str(),
            actor.role.as_str()
        )));
    }
    let expires_at = match new.expires_in_days {
        None => None,
        Some(days) if (1..=3650).contains(&days) => Some(time::to_text(Utc::now() + Duration::days(days))),
        Some(_) => return Err(AuthError::Invalid("expiresInDays must be between 1 and 3650".into())),
    };
    // A token minting another: never one that outlives it (a leaked token must not extend itself).
    if let Some(own) = &actor.token_id {
        let own_expiry = find(catalog, own).await?.expires_at;
        if let Some(own_expiry) = own_expiry
            && expires_at.as_ref().is_none_or(|e| *e > own_expiry)
        {
            return Err(AuthError::Invalid(format!("a token cannot create a token that outlives it (this one expires at {own_expiry}): give a shorter expiresInDays")));
        }
    }
    let secret_text = secret::generate(TOKEN_PREFIX);
    let id = uuid::Uuid::new_v4().to_string();
    let prefix: String = secret_text.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, prefix, token_hash, role, created_at, expires_at, scope)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&actor.user_id)
    .bind(&name)
    .bind(&prefix)
    .bind(secret::digest(&secret_text))
    .bind(role.as_str())
    .bind(time::now_text())
    .bind(&expires_at)
    .bind(scope)
    .execute(&mut *tx.tx)
    .await?;
    audit::append(
        &mut tx,
        Entry {
            actor: &Actor::from(actor),
            action: "token.create",
            target_type: "api_token",
            target_id: Some(&id),
            detail: serde_json::json!({ "name": name, "role": role.as_str(), "expires_at": expires_at, "scope": scope }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedToken { token: find(catalog, &id).await?, secret: secret_text })
}

async fn find(catalog: &Catalog, id: &str) -> Result<ApiToken, AuthError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1");
    sqlx::query_as::<_, ApiToken>(&sql)
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| AuthError::NotFound(format!("API token {id}")))
}

/// The actor's own tokens, or with `all` (admins only) everyone's.
pub async fn list(catalog: &Catalog, actor: &Principal, all: bool) -> Result<Vec<ApiToken>, AuthError> {
    actor.require(Role::Viewer)?;
    if all {
        actor.require(Role::Admin)?;
    }
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE ($1 = 1 OR t.user_id = $2) ORDER BY t.created_at DESC"
    );
    Ok(sqlx::query_as::<_, ApiToken>(&sql)
        .bind(i64::from(all))
        .bind(&actor.user_id)
        .fetch_all(catalog.pool())
        .await?)
}

/// Revokes a token: one's own, or anyone's for an admin.
pub async fn revoke(catalog: &Catalog, actor: &Principal, id: &str) -> Result<ApiToken, AuthError> {
    actor.require(Role::Viewer)?;
    let token = find(catalog, id).await?;
    if token.user_id != actor.user_id {
        actor.require(Role::Admin)?;
    }
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
        .bind(time::now_text())
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    audit::append(
        &mut tx,
        Entry {
            actor: &Actor::from(actor),
            action: "token.revoke",
            target_type: "api_token",
            target_id: Some(id),
            detail: serde_json::json!({ "name": token.name }),
        },
    )
    .await?;
    tx.commit().await?;
    find(catalog, id).await
}

/// How stale a token's `last_used_at` may be: it is written at most once a minute.
const LAST_USED_STEP_SECONDS: i64 = 60;

/// Resolves a bearer secret to the principal it acts as.
pub async fn authenticate(catalog: &Catalog, secret_text: &str) -> Result<Principal, AuthError> {
    if !secret_text.starts_with(TOKEN_PREFIX) {
        return Err(AuthError::Unauthenticated);
    }
    type Row = (String, String, String, Option<String>, Option<String>, String, String, i64, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.id, t.user_id, t.role, t.expires_at, t.revoked_at, u.username, u.role, u.disabled, t.scope, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(secret::digest(secret_text))
    .fetch_optional(catalog.pool())
    .await?;
    let (id, user_id, token_role, expires_at, revoked_at, username, user_role, disabled, scope, last_used_at) =
        row.ok_or(AuthError::Unauthenticated)?;
    let now = chrono::Utc::now();
    let now_text = time::to_text(now);
    if revoked_at.is_some() || disabled != 0 || expires_at.is_some_and(|e| e <= now_text) {
        return Err(AuthError::Unauthenticated);
    }
    // To the minute: a write on every request was a catalog write per API call (automation
    // polling a dashboard wrote the token's row many times a second).
    if last_used_at.is_none_or(|at| at < time::to_text(now - chrono::Duration::seconds(LAST_USED_STEP_SECONDS))) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2").bind(&now_text).bind(&id).execute(catalog.pool()).await?;
    }
    let role = crate::platform::auth::role_named(&token_role)?.min(crate::platform::auth::role_named(&user_role)?);
    Ok(Principal { user_id, username, role, token_id: Some(id), scope })
}

/// Whether `principal` may still act as it did when it was authenticated: its user still
/// enabled and holding at least the role it acts with, its token (if it came with one) neither
/// revoked nor expired. Long-lived answers (event streams) that authenticated once ask this
/// again as they go, so a revoked token or a disabled user stops receiving them.
pub async fn still_valid(catalog: &Catalog, principal: &Principal) -> Result<bool, AuthError> {
    let Some(user) = super::users::session_principal(catalog, &principal.user_id).await? else {
        return Ok(false);
    };
    if user.role < principal.role {
        return Ok(false);
    }
    let Some(token_id) = &principal.token_id else {
        return Ok(true);
    };
    let token: Option<(Option<String>, Option<String>)> = sqlx::query_as("SELECT revoked_at, expires_at FROM api_tokens WHERE id = $1").bind(token_id).fetch_optional(catalog.pool()).await?;
    let now = time::now_text();
    Ok(matches!(token, Some((None, ref expires_at)) if expires_at.as_ref().is_none_or(|at| *at > now)))
}
