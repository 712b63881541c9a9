//! The audit chain's head, anchored outside the catalog. The keyed chain stops anyone without
//! the key from editing or recomputing rows, but deleting the newest rows leaves a shorter chain
//! that still verifies. So every hour (and on demand) the head, `(seq, hash)`, is written as
//! `audit/<seq>` into every location that holds a repository, under S3 Object Lock where the
//! location asks for it, with an HMAC under the audit key so storage access alone forges none.
//! [`verify`] then refuses a chain that no longer reaches the newest anchor.

use serde::{Deserialize, Serialize};

use crate::platform::audit::{self, AuditError, VerifyReport};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::locations;
use crate::engine::repo::format::AUDIT_PREFIX;
use crate::platform::secrets::SecretBox;

pub const JOB_KIND: &str = "audit.anchor";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Anchor {
    seq: i64,
    hash: String,
    at: String,
    mac: String,
}

fn mac(key: &[u8; 32], seq: i64, hash: &str, at: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("audit anchor\n{seq}\n{hash}\n{at}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The ids of the locations that hold a repository.
async fn repositories(catalog: &Catalog) -> Result<Vec<String>, AuditError> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM backup_storage_locations WHERE repository_key_encrypted IS NOT NULL ORDER BY created_at")
        .fetch_all(catalog.pool())
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Writes the chain's head into every location with a repository; returns how many took it. A
/// catalog without the audit key anchors nothing (its chain could be recomputed anyway), and a
/// location that cannot be written is skipped with a warning.
pub async fn anchor(catalog: &Catalog, secrets: &SecretBox) -> Result<usize, AuditError> {
    let Some(key) = catalog.audit_key() else { return Ok(0) };
    let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(catalog.pool()).await?;
    let Some((seq, hash)) = head else { return Ok(0) };
    let at = crate::platform::time::now_text();
    let body = serde_json::to_vec(&Anchor { seq, hash: hash.clone(), at: at.clone(), mac: mac(key, seq, &hash, &at) }).unwrap_or_default();
    let name = format!("{AUDIT_PREFIX}{seq:020}");
    let mut written = 0;
    for id in repositories(catalog).await? {
        let stored = async {
            let repo = locations::open_repository(catalog, secrets, &id).await.map_err(|e| e.to_string())?;
            if repo.storage().size(&name).await.map_err(|e| e.to_string())?.is_none() {
                repo.storage().put_retained(&name, body.clone()).await.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        };
        match stored.await {
            Ok(()) => written += 1,
            Err(e) => tracing::warn!(location = %id, error = %e, "the audit head could not be anchored there"),
        }
    }
    Ok(written)
}

/// The newest anchor any location holds whose HMAC checks out: `(seq, hash)`.
pub async fn newest(catalog: &Catalog, secrets: &SecretBox) -> Result<Option<(i64, String)>, AuditError> {
    let Some(key) = catalog.audit_key() else { return Ok(None) };
    let mut best: Option<(i64, String)> = None;
    for id in repositories(catalog).await? {
        let Ok(repo) = locations::open_repository(catalog, secrets, &id).await else { continue };
        let Ok(objects) = repo.storage().list(AUDIT_PREFIX).await else { continue };
        // Names are zero-padded sequence numbers: the last sorts newest.
        let Some(last) = objects.iter().map(|o| o.key.clone()).max() else { continue };
        let Ok(bytes) = repo.storage().get(&last).await else { continue };
        match serde_json::from_slice::<Anchor>(&bytes) {
            Ok(a) if mac(key, a.seq, &a.hash, &a.at) == a.mac => {
                if best.as_ref().is_none_or(|(seq, _)| a.seq > *seq) {
                    best = Some((a.seq, a.hash));
                }
            }
            _ => tracing::warn!(location = %id, object = %last, "an audit anchor does not check out under the audit key"),
        }
    }
    Ok(best)
}

/// [`audit::verify`], and the chain must still hold the newest anchored head with its hash: a chain
/// whose newest rows were deleted breaks at the first missing one.
pub async fn verify(catalog: &Catalog, secrets: &SecretBox, actor: &Principal) -> Result<VerifyReport, AuditError> {
    actor.require(Role::Admin)?;
    let mut report = audit::verify(catalog).await?;
    if let Some((seq, hash)) = newest(catalog, secrets).await? {
        report.anchored_seq = Some(seq);
        let stored: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1").bind(seq).fetch_optional(catalog.pool()).await?;
        if stored.as_deref() != Some(hash.as_str()) && report.first_broken_seq.is_none() {
            report.first_broken_seq = Some((report.rows + 1).min(seq));
        }
    }
    Ok(report)
}
