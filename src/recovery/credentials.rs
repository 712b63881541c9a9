//! Named secrets a runbook's steps use (a TSIG key, a database password): a runbook is text
//! people keep in git, so it names a credential and Bulwark keeps the value, sealed under the
//! server key. Admins set and remove them; nobody reads a value back.

use async_trait::async_trait;
use bulwark_types::Role;
use serde::{Deserialize, Serialize};

use super::RecoveryError;
use super::steps::{Secrets, StepError};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::secrets::SecretBox;
use crate::platform::time;

/// A credential as lists show it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub updated_at: String,
}

/// Sets a credential (a new one, or a new value for one).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialRequest {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub description: Option<String>,
}

fn context(name: &str) -> String {
    format!("recovery-credential:{name}")
}

fn check_name(name: &str) -> Result<(), RecoveryError> {
    let ok = !name.is_empty() && name.len() <= 100 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(RecoveryError::Invalid("name: 1 to 100 letters, digits, '-', '_' or '.'".into())) }
}

pub async fn set(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, request: &CredentialRequest) -> Result<Credential, RecoveryError> {
    actor.require(Role::Admin)?;
    check_name(&request.name)?;
    if request.value.is_empty() || request.value.len() > 10_000 {
        return Err(RecoveryError::Invalid("value: 1 to 10,000 characters".into()));
    }
    let description = request.description.as_deref().unwrap_or("").trim();
    if description.len() > 500 {
        return Err(RecoveryError::Invalid("description: at most 500 characters".into()));
    }
    let sealed = secrets.seal(&context(&request.name), &request.value);
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query(
        "INSERT INTO recovery_credentials (name, sealed_value, description, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (name) DO UPDATE SET sealed_value = excluded.sealed_value, description = excluded.description, updated_at = excluded.updated_at",
    )
    .bind(&request.name)
    .bind(&sealed)
    .bind(description)
    .bind(&actor.username)
    .bind(&now)
    .execute(&mut *tx.tx)
    .await?;
    let detail = serde_json::json!({ "name": request.name });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery_credential.set", target_type: "recovery_credential", target_id: Some(&request.name), detail }).await?;
    tx.commit().await?;
    Ok(Credential { name: request.name.clone(), description: description.to_string(), created_by: actor.username.clone(), updated_at: now })
}

pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<Credential>, RecoveryError> {
    actor.require(Role::Operator)?;
    Ok(sqlx::query_as("SELECT name, description, created_by, updated_at FROM recovery_credentials ORDER BY name").fetch_all(catalog.pool()).await?)
}

pub async fn delete(catalog: &Catalog, actor: &Principal, name: &str) -> Result<(), RecoveryError> {
    actor.require(Role::Admin)?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let gone = sqlx::query("DELETE FROM recovery_credentials WHERE name = $1").bind(name).execute(&mut *tx.tx).await?.rows_affected();
    if gone == 0 {
        return Err(RecoveryError::NotFound(format!("recovery credential {name:?}")));
    }
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery_credential.delete", target_type: "recovery_credential", target_id: Some(name), detail: serde_json::json!({}) }).await?;
    tx.commit().await?;
    Ok(())
}

/// The credentials as steps read them, opened one at a time when a step asks.
pub struct Stored<'a> {
    pub catalog: &'a Catalog,
    pub secrets: &'a SecretBox,
}

#[async_trait]
impl Secrets for Stored<'_> {
    async fn secret(&self, name: &str) -> Result<String, StepError> {
        let sealed: Option<String> = sqlx::query_scalar("SELECT sealed_value FROM recovery_credentials WHERE name = $1")
            .bind(name)
            .fetch_optional(self.catalog.pool())
            .await
            .map_err(|e| StepError::retryable(format!("reading credential {name:?}: {}", crate::error::chain(&e))))?;
        let sealed = sealed.ok_or_else(|| StepError::permanent(format!("no recovery credential is called {name:?}")))?;
        self.secrets.open(&context(name), &sealed).map_err(|e| StepError::permanent(format!("credential {name:?}: {e}")))
    }
}
