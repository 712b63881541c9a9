//! Monitoring alerts: one `backup_monitoring_alerts` row per open condition, deduplicated by a
//! hash of (type, subject). Raising an open alert again counts an occurrence instead of adding
//! a row. (Escalation, acknowledgement and notifications build on these rows.)

use sha2::{Digest, Sha256};

pub use bulwark_types::{AlertType, Severity};

use crate::platform::catalog::{Catalog, CatalogError};
use crate::platform::time;

/// The dedup key of an alert: the same condition on the same subject is one alert.
pub fn dedup_hash(alert_type: AlertType, subject: &str) -> String {
    hex::encode(Sha256::digest(format!("{alert_type}\u{0}{subject}").as_bytes()))
}

/// Opens an alert, or counts one more occurrence of the open one; returns its id.
pub async fn raise(catalog: &Catalog, alert_type: AlertType, severity: Severity, subject: &str, message: &str) -> Result<String, CatalogError> {
    let hash = dedup_hash(alert_type, subject);
    let now = time::now_text();
    let open: Option<String> = sqlx::query_scalar("SELECT id FROM backup_monitoring_alerts WHERE dedup_hash = $1 AND status <> 'resolved' LIMIT 1")
        .bind(&hash)
        .fetch_optional(catalog.pool())
        .await?;
    if let Some(id) = open {
        sqlx::query("UPDATE backup_monitoring_alerts SET occurrences = occurrences + 1, last_seen_at = $1, message = $2 WHERE id = $3")
            .bind(&now)
            .bind(message)
            .bind(&id)
            .execute(catalog.pool())
            .await?;
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO backup_monitoring_alerts (id, alert_type, severity, subject, message, dedup_hash, status, occurrences, escalation_level, first_seen_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'open', 1, 0, $7, $7)",
    )
    .bind(&id)
    .bind(alert_type.as_str())
    .bind(severity.as_str())
    .bind(subject)
    .bind(message)
    .bind(&hash)
    .bind(&now)
    .execute(catalog.pool())
    .await?;
    Ok(id)
}

/// Resolves the open alert of (type, subject), if any: the condition cleared.
pub async fn resolve(catalog: &Catalog, alert_type: AlertType, subject: &str) -> Result<(), CatalogError> {
    sqlx::query("UPDATE backup_monitoring_alerts SET status = 'resolved', resolved_at = $1 WHERE dedup_hash = $2 AND status <> 'resolved'")
        .bind(time::now_text())
        .bind(dedup_hash(alert_type, subject))
        .execute(catalog.pool())
        .await?;
    Ok(())
}
