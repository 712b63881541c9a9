//! Silences (maintenance windows): for a while, the alerts of a configuration, of a type, or of
//! one subject are still raised and listed but neither told nor escalated. When the silence
//! ends, an alert still open is told then, at the level it would have reached.

use chrono::Duration;

use super::{AlertError, AlertType};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::Catalog;
use crate::platform::time;

pub use bulwark_types::{Silence, SilenceRequest};

/// The end of the longest silence in force over an alert, if any.
pub async fn silenced_until_on(conn: &mut sqlx::AnyConnection, alert_type: AlertType, subject: &str, configuration_id: Option<&str>) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MAX(ends_at) FROM alert_silences
          WHERE lifted_at IS NULL AND ends_at > $1
            AND (backup_configuration_id IS NULL OR backup_configuration_id = $2)
            AND (alert_type IS NULL OR alert_type = $3)
            AND (subject IS NULL OR subject = $4)",
    )
    .bind(time::now_text())
    .bind(configuration_id)
    .bind(alert_type.as_str())
    .bind(subject)
    .fetch_one(&mut *conn)
    .await
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    backup_configuration_id: Option<String>,
    alert_type: Option<String>,
    subject: Option<String>,
    reason: String,
    created_by: String,
    created_at: String,
    ends_at: String,
    lifted_at: Option<String>,
    lifted_by: Option<String>,
}

impl Row {
    fn into_silence(self, now: &str) -> Silence {
        Silence {
            active: self.lifted_at.is_none() && self.ends_at.as_str() > now,
            alert_type: self.alert_type.as_deref().and_then(AlertType::parse),
            id: self.id,
            backup_configuration_id: self.backup_configuration_id,
            subject: self.subject,
            reason: self.reason,
            created_by: self.created_by,
            created_at: self.created_at,
            ends_at: self.ends_at,
            lifted_at: self.lifted_at,
            lifted_by: self.lifted_by,
        }
    }
}

const COLUMNS: &str = "id, backup_configuration_id, alert_type, subject, reason, created_by, created_at, ends_at, lifted_at, lifted_by";

/// Silences in force and those ended in the last 7 days, the newest first.
pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<Silence>, AlertError> {
    actor.require(Role::Viewer)?;
    let now = time::now_text();
    let since = time::to_text(chrono::Utc::now() - Duration::days(7));
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM alert_silences WHERE ends_at > $1 ORDER BY created_at DESC LIMIT 200"))
        .bind(&since)
        .fetch_all(catalog.pool())
        .await?;
    Ok(rows.into_iter().map(|r| r.into_silence(&now)).collect())
}

/// `POST …/alerts/silences`: silences what the request names, for its duration. Audited.
pub async fn create(catalog: &Catalog, actor: &Principal, request: &SilenceRequest) -> Result<Silence, AlertError> {
    actor.require(Role::Operator)?;
    let configuration = request.backup_configuration_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let subject = request.subject.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if configuration.is_none() && request.alert_type.is_none() && subject.is_none() {
        return Err(AlertError::Invalid("a silence names a backupConfigurationId, an alertType or a subject (silencing everything would hide every failure)".into()));
    }
    if subject.is_some_and(|s| s.len() > 300 || s.chars().any(char::is_control)) {
        return Err(AlertError::Invalid("subject: up to 300 characters, without control characters".into()));
    }
    let reason = super::checked_notes("reason", &request.reason, false)?;
    if reason.is_empty() {
        return Err(AlertError::Invalid("reason: say why (maintenance, a known outage …)".into()));
    }
    if !(1..=30 * 24 * 60).contains(&request.duration_minutes) {
        return Err(AlertError::Invalid("durationMinutes: from 1 minute to 30 days".into()));
    }
    if let Some(c) = configuration {
        let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_configurations WHERE id = $1").bind(c).fetch_one(catalog.pool()).await?;
        if known == 0 {
            return Err(AlertError::Invalid(format!("backupConfigurationId: no configuration {c}")));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now();
    let ends_at = time::to_text(now + Duration::minutes(request.duration_minutes));
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query(&format!("INSERT INTO alert_silences ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)"))
        .bind(&id)
        .bind(configuration)
        .bind(request.alert_type.map(AlertType::as_str))
        .bind(subject)
        .bind(&reason)
        .bind(&actor.username)
        .bind(time::to_text(now))
        .bind(&ends_at)
        .execute(&mut *tx.tx)
        .await?;
    let detail = serde_json::json!({ "backupConfigurationId": configuration, "alertType": request.alert_type, "subject": subject, "reason": reason, "endsAt": ends_at });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "alert_silence.create", target_type: "alert_silence", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    find(catalog, &id).await
}

/// `DELETE …/alerts/silences/{id}`: ends a silence now. Audited.
pub async fn lift(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Silence, AlertError> {
    actor.require(Role::Operator)?;
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let changed = sqlx::query("UPDATE alert_silences SET lifted_at = $1, lifted_by = $2 WHERE id = $3 AND lifted_at IS NULL AND ends_at > $1")
        .bind(&now)
        .bind(&actor.username)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
    if changed == 0 {
        find(catalog, id).await?;
        return Err(AlertError::Conflict(format!("silence {id} has already ended")));
    }
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "alert_silence.lift", target_type: "alert_silence", target_id: Some(id), detail: serde_json::json!({}) }).await?;
    // The alerts it held back wait for its end: they are due now (the escalation run checks
    // again for another silence).
    let ends_at: String = sqlx::query_scalar("SELECT ends_at FROM alert_silences WHERE id = $1").bind(id).fetch_one(&mut *tx.tx).await?;
    sqlx::query("UPDATE backup_monitoring_alerts SET next_escalation_at = $1 WHERE status = 'open' AND next_escalation_at = $2").bind(&now).bind(&ends_at).execute(&mut *tx.tx).await?;
    tx.commit().await?;
    find(catalog, id).await
}

async fn find(catalog: &Catalog, id: &str) -> Result<Silence, AlertError> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM alert_silences WHERE id = $1")).bind(id).fetch_optional(catalog.pool()).await?;
    Ok(row.ok_or_else(|| AlertError::NotFound(format!("silence {id}")))?.into_silence(&time::now_text()))
}
