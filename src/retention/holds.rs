//! Legal holds on executions: several at once, each with a title, a reason and an optional
//! expiry, as AWS Backup has them. An active hold blocks every deletion path.

use serde::{Deserialize, Serialize};

use super::RetentionError;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::{Catalog, SerializedTx};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::time;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegalHold {
    pub id: String,
    pub execution_id: String,
    pub title: String,
    pub reason: String,
    pub expires_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub released_at: Option<String>,
    pub released_by: Option<String>,
}

impl LegalHold {
    /// Not released and not expired at `now`.
    pub fn is_active(&self, now: &str) -> bool {
        self.released_at.is_none() && self.expires_at.as_deref().is_none_or(|e| e > now)
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewHold {
    pub title: String,
    pub reason: String,
    /// RFC 3339; none holds until released.
    #[serde(default)]
    pub expires_at: Option<String>,
}

const COLUMNS: &str = "id, execution_id, title, reason, expires_at, created_by, created_at, released_at, released_by";

/// Places a hold (approvers and admins: a hold is a compliance decision).
pub async fn add(catalog: &Catalog, actor: &Principal, execution_id: &str, new: NewHold) -> Result<LegalHold, RetentionError> {
    actor.require(Role::Approver)?;
    let execution = crate::executions::get(catalog, actor, execution_id).await?;
    if execution.deleted_at.is_some() {
        return Err(RetentionError::Conflict(format!("backup execution {execution_id} was already deleted")));
    }
    let title = new.title.trim();
    if title.is_empty() || title.len() > 200 {
        return Err(RetentionError::Invalid("title: 1 to 200 characters".into()));
    }
    if new.reason.trim().is_empty() {
        return Err(RetentionError::Invalid("reason: say why the backup must be kept".into()));
    }
    let expires_at = match new.expires_at.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(text) => {
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| RetentionError::Invalid("expiresAt: an RFC 3339 time such as 2027-01-31T00:00:00Z".into()))?
                .with_timezone(&chrono::Utc);
            if at <= chrono::Utc::now() {
                return Err(RetentionError::Invalid("expiresAt: a time in the future".into()));
            }
            Some(time::to_text(at))
        }
    };
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let hold = place_in(&mut tx, &Actor::from(actor), execution_id, title, new.reason.trim(), expires_at).await?;
    tx.commit().await?;
    Ok(hold)
}

/// Records and audits a hold inside `tx`, with no role check: the caller decided (a person
/// above, or a restoration keeping its safety backup until the rollback deadline).
pub async fn place_in(tx: &mut SerializedTx<'_>, actor: &Actor, execution_id: &str, title: &str, reason: &str, expires_at: Option<String>) -> Result<LegalHold, RetentionError> {
    let hold = LegalHold {
        id: uuid::Uuid::new_v4().to_string(),
        execution_id: execution_id.to_string(),
        title: title.to_string(),
        reason: reason.to_string(),
        expires_at,
        created_by: actor.name.clone(),
        created_at: time::now_text(),
        released_at: None,
        released_by: None,
    };
    sqlx::query(&format!("INSERT INTO legal_holds ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"))
        .bind(&hold.id)
        .bind(&hold.execution_id)
        .bind(&hold.title)
        .bind(&hold.reason)
        .bind(&hold.expires_at)
        .bind(&hold.created_by)
        .bind(&hold.created_at)
        .execute(&mut *tx.tx)
        .await?;
    let detail = serde_json::json!({ "executionId": execution_id, "title": hold.title, "reason": hold.reason, "expiresAt": hold.expires_at });
    audit::append(tx, Entry { actor, action: "legal_hold.add", target_type: "legal_hold", target_id: Some(&hold.id), detail }).await?;
    Ok(hold)
}

/// Releases a hold (admins only). The row stays, with who released it and when.
pub async fn release(catalog: &Catalog, actor: &Principal, hold_id: &str) -> Result<LegalHold, RetentionError> {
    actor.require(Role::Admin)?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let now = time::now_text();
    let done = sqlx::query("UPDATE legal_holds SET released_at = $1, released_by = $2 WHERE id = $3 AND released_at IS NULL")
        .bind(&now)
        .bind(&actor.username)
        .bind(hold_id)
        .execute(&mut *tx.tx)
        .await?;
    if done.rows_affected() == 0 {
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM legal_holds WHERE id = $1").bind(hold_id).fetch_optional(&mut *tx.tx).await?;
        return Err(match exists {
            None => RetentionError::NotFound(format!("legal hold {hold_id} not found")),
            Some(_) => RetentionError::Conflict(format!("legal hold {hold_id} was already released")),
        });
    }
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "legal_hold.release", target_type: "legal_hold", target_id: Some(hold_id), detail: serde_json::json!({}) }).await?;
    tx.commit().await?;
    get(catalog, hold_id).await
}

async fn get(catalog: &Catalog, id: &str) -> Result<LegalHold, RetentionError> {
    sqlx::query_as::<_, LegalHold>(&format!("SELECT {COLUMNS} FROM legal_holds WHERE id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| RetentionError::NotFound(format!("legal hold {id} not found")))
}

/// An execution's holds, newest first, released and expired ones included.
pub async fn list(catalog: &Catalog, actor: &Principal, execution_id: &str) -> Result<Vec<LegalHold>, RetentionError> {
    actor.require(Role::Viewer)?;
    Ok(sqlx::query_as::<_, LegalHold>(&format!("SELECT {COLUMNS} FROM legal_holds WHERE execution_id = $1 ORDER BY created_at DESC")).bind(execution_id).fetch_all(catalog.pool()).await?)
}

/// The first active hold of an execution, if any.
pub(super) async fn active(catalog: &Catalog, execution_id: &str) -> Result<Option<LegalHold>, RetentionError> {
    let now = time::now_text();
    Ok(sqlx::query_as::<_, LegalHold>(&format!(
        "SELECT {COLUMNS} FROM legal_holds WHERE execution_id = $1 AND released_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
         ORDER BY created_at LIMIT 1"
    ))
    .bind(execution_id)
    .bind(&now)
    .fetch_optional(catalog.pool())
    .await?)
}
