//! The audit log: one append-only row per state-changing action, hash-chained.
//!
//! Row `n` stores `hash = MAC(prev_hash "\n" canonical(n))` where `prev_hash` is row `n-1`'s
//! hash (64 zeros for the first row) and `canonical` is the JSON array
//! `[seq, occurred_at, actor_id, actor_name, action, target_type, target_id, detail]` with
//! `detail` as stored. `MAC` is HMAC-SHA256 under a key derived from the server secret key
//! (`keyed = 1`, [`Catalog::with_audit_key`]), or plain SHA-256 for rows written without one
//! (catalogs from before the key, and tools that run without it). Editing, deleting or
//! reordering any row breaks every later hash, which [`verify`] detects; whoever can write the
//! catalog but lacks the key cannot recompute a keyed row, and a plain row after a keyed one is
//! itself a break. Triggers in both catalog schemas refuse UPDATE and DELETE outright. Appends
//! are serialised (see [`crate::platform::catalog::Catalog::begin_serialized`]) so the chain has no forks
//! even with several nodes.


use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::{Catalog, CatalogError, SerializedTx};
use crate::error::{Classify, Kind};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Forbidden(#[from] crate::platform::auth::AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl From<sqlx::Error> for AuditError {
    fn from(e: sqlx::Error) -> Self {
        AuditError::Catalog(CatalogError::Query(e))
    }
}

impl From<AuditError> for crate::platform::auth::AuthError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Forbidden(e) => e,
            AuditError::Catalog(e) => crate::platform::auth::AuthError::Catalog(e),
        }
    }
}

impl Classify for AuditError {
    fn kind(&self) -> Kind {
        match self {
            AuditError::Forbidden(e) => e.kind(),
            AuditError::Catalog(e) => e.kind(),
        }
    }
}

/// Who did it: a user (possibly through a token) or Bulwark itself / the local CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: Option<String>,
    pub name: String,
}

impl Actor {
    pub fn system(name: &str) -> Actor {
        Actor { id: None, name: name.to_string() }
    }
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Actor {
        let name = match &p.token_id {
            Some(token) => format!("{} (token {token})", p.username),
            None => p.username.clone(),
        };
        Actor { id: Some(p.user_id.clone()).filter(|id| !id.is_empty()), name }
    }
}

/// One action to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    pub detail: serde_json::Value,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub seq: i64,
    pub occurred_at: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// 1 when `hash` is an HMAC under the audit key.
    pub keyed: i64,
}

const COLUMNS: &str = "seq, occurred_at, actor_id, actor_name, action, target_type, target_id, detail, prev_hash, hash, keyed";

fn chain_hash(key: Option<&[u8; 32]>, prev_hash: &str, r: &AuditRecord) -> String {
    let canonical = serde_json::json!([
        r.seq, r.occurred_at, r.actor_id, r.actor_name, r.action, r.target_type, r.target_id, r.detail
    ]);
    let message = format!("{prev_hash}\n{canonical}");
    match key {
        Some(key) => {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(message.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        None => hex::encode(Sha256::digest(message.as_bytes())),
    }
}

/// Appends `entry` inside `tx`, which must have been started for
/// [`crate::platform::catalog::dialect::LockTopic::AuditChain`]. The row commits with the change it records.
pub async fn append(tx: &mut SerializedTx<'_>, entry: Entry<'_>) -> Result<i64, sqlx::Error> {
    let last: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx.tx)
        .await?;
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_string()),
    };
    let mut record = AuditRecord {
        seq,
        occurred_at: crate::platform::time::now_text(),
        actor_id: entry.actor.id.clone(),
        actor_name: entry.actor.name.clone(),
        action: entry.action.to_string(),
        target_type: entry.target_type.to_string(),
        target_id: entry.target_id.map(str::to_string),
        detail: entry.detail.to_string(),
        prev_hash: prev_hash.clone(),
        hash: String::new(),
        keyed: i64::from(tx.audit_key.is_some()),
    };
    record.hash = chain_hash(tx.audit_key.as_deref().map(|k| &k.0), &prev_hash, &record);
    sqlx::query(
        "INSERT INTO audit_log (seq, occurred_at, actor_id, actor_name, action, target_type, target_id, detail, prev_hash, hash, keyed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(record.seq)
    .bind(&record.occurred_at)
    .bind(&record.actor_id)
    .bind(&record.actor_name)
    .bind(&record.action)
    .bind(&record.target_type)
    .bind(&record.target_id)
    .bind(&record.detail)
    .bind(&record.prev_hash)
    .bind(&record.hash)
    .bind(record.keyed)
    .execute(&mut *tx.tx)
    .await?;
    Ok(seq)
}

/// Records an action that has no other catalog write of its own (e.g. a login).
pub async fn record(catalog: &Catalog, entry: Entry<'_>) -> Result<i64, AuditError> {
    let mut tx = catalog.begin_serialized(crate::platform::catalog::dialect::LockTopic::AuditChain).await?;
    let seq = append(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Newest first; `before` pages backwards from a sequence number.
pub async fn list(catalog: &Catalog, actor: &Principal, limit: i64, before: Option<i64>) -> Result<Vec<AuditRecord>, AuditError> {
    actor.require(Role::Admin)?;
    let limit = limit.clamp(1, 500);
    let rows = sqlx::query_as::<_, AuditRecord>(&format!("SELECT {COLUMNS} FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT $2"))
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(catalog.pool())
    .await?;
    Ok(rows)
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub rows: i64,
    /// The first row whose link or hash does not match, if any.
    pub first_broken_seq: Option<i64>,
    /// Rows checked under the audit key (the rest are plain SHA-256: older, or written without
    /// the key).
    pub keyed_rows: i64,
    /// The newest head anchored outside the catalog (`crate::audit_anchor`), when checked against it.
    pub anchored_seq: Option<i64>,
}

/// Walks the whole chain and recomputes every hash. A keyed row can be checked only with the
/// key: without it, it counts as broken. A plain row after a keyed one is broken too (someone
/// without the key rewrote the end of the chain).
pub async fn verify(catalog: &Catalog) -> Result<VerifyReport, AuditError> {
    let key = catalog.audit_key();
    let (mut rows, mut keyed_rows) = (0, 0);
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut expected_seq = 1;
    let mut after = 0_i64;
    loop {
        let page = sqlx::query_as::<_, AuditRecord>(&format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1000"))
            .bind(after)
            .fetch_all(catalog.pool())
            .await?;
        if page.is_empty() {
            return Ok(VerifyReport { rows, first_broken_seq: None, keyed_rows, anchored_seq: None });
        }
        for r in page {
            let expected = match (r.keyed, key) {
                (0, _) if keyed_rows > 0 => None, // a downgrade
                (0, _) => Some(chain_hash(None, &prev_hash, &r)),
                (_, Some(key)) => Some(chain_hash(Some(key), &prev_hash, &r)),
                (_, None) => None,
            };
            if r.seq != expected_seq || r.prev_hash != prev_hash || expected.as_deref() != Some(r.hash.as_str()) {
                return Ok(VerifyReport { rows, first_broken_seq: Some(r.seq), keyed_rows, anchored_seq: None });
            }
            keyed_rows += i64::from(r.keyed != 0);
            rows += 1;
            expected_seq += 1;
            after = r.seq;
            prev_hash = r.hash;
        }
    }
}
