//! Monitoring alerts: one `backup_monitoring_alerts` row per occurrence of a condition,
//! deduplicated by a hash of (type, subject). Raising a condition that has an alert not yet
//! resolved counts an occurrence on it (one statement: a unique index allows one such alert
//! per condition); once resolved, raising it again opens a new alert. A person acknowledges an
//! alert (it stops escalating) or resolves it with notes; a condition that clears resolves its
//! alert itself, with the reason.
//!
//! - `backups`: backup_failed, raised by a failed backup and resolved by the configuration's
//!   next good one (the events outbox's `alerts.backups` subscriber).
//! - `escalation`: each severity's schedule; level 1 told when raised, later levels while
//!   nobody acknowledges; `run` is the periodic step.
//! - `silences`: maintenance windows that hold alerts back.
//! - `history`: every step of an alert, with the notifications about it.
//! - `channels`: notification_channel_failed, for a channel its failures disabled.

pub mod backups;
pub mod channels;
pub mod escalation;
pub mod history;
pub mod silences;

use sha2::{Digest, Sha256};

pub use bulwark_types::{AcknowledgeRequest, Alert, AlertStatus, AlertType, ResolveRequest, Severity};

use crate::error::{Classify, Kind};
use crate::platform::audit::{self, Actor, AuditError, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{0}")]
    Invalid(String),
    #[error("alert {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A stored row this version cannot read.
    #[error("{0}")]
    Stored(String),
    #[error(transparent)]
    Execution(#[from] crate::executions::ExecutionError),
    #[error(transparent)]
    Configuration(#[from] crate::configurations::ConfigurationError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Notification(#[from] crate::notifications::NotificationError),
}

impl From<sqlx::Error> for AlertError {
    fn from(e: sqlx::Error) -> Self {
        AlertError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for AlertError {
    fn kind(&self) -> Kind {
        match self {
            AlertError::Invalid(_) => Kind::Invalid,
            AlertError::NotFound(_) => Kind::NotFound,
            AlertError::Conflict(_) => Kind::Conflict,
            AlertError::Stored(_) => Kind::Internal,
            AlertError::Execution(e) => e.kind(),
            AlertError::Configuration(e) => e.kind(),
            AlertError::Auth(e) => e.kind(),
            AlertError::Catalog(e) => e.kind(),
            AlertError::Audit(e) => e.kind(),
            AlertError::Notification(e) => e.kind(),
        }
    }
}

/// The dedup key of an alert: the same condition on the same subject is one alert.
pub fn dedup_hash(alert_type: AlertType, subject: &str) -> String {
    hex::encode(Sha256::digest(format!("{alert_type}\u{0}{subject}").as_bytes()))
}

/// A condition to raise, with what it is about.
#[derive(Debug, Clone)]
pub struct Condition<'a> {
    pub alert_type: AlertType,
    pub severity: Severity,
    pub subject: &'a str,
    pub message: &'a str,
    pub configuration_id: Option<&'a str>,
    pub execution_id: Option<&'a str>,
}

/// Opens an alert, or counts one more occurrence of the one not yet resolved; returns its id.
pub async fn raise(catalog: &Catalog, alert_type: AlertType, severity: Severity, subject: &str, message: &str) -> Result<String, CatalogError> {
    raise_condition(catalog, &Condition { alert_type, severity, subject, message, configuration_id: None, execution_id: None }).await
}

/// [`raise`], with the configuration and execution it is about.
pub async fn raise_condition(catalog: &Catalog, c: &Condition<'_>) -> Result<String, CatalogError> {
    // One transaction: an alert is never recorded without its first notice and history.
    let mut tx = catalog.pool().begin().await?;
    let id = raise_on(&mut tx, c).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`raise_condition`] on the caller's connection or transaction. A new alert is told at once
/// (escalation level 1, unless silenced), in the same transaction.
pub async fn raise_on(conn: &mut sqlx::AnyConnection, c: &Condition<'_>) -> Result<String, CatalogError> {
    let now = time::now_text();
    // One statement: two raises at once count two occurrences on one alert.
    let (id, occurrences): (String, i64) = sqlx::query_as(
        "INSERT INTO backup_monitoring_alerts (id, alert_type, severity, subject, message, dedup_hash, status, occurrences, escalation_level, first_seen_at, last_seen_at,
             backup_configuration_id, backup_execution_id)
         VALUES ($1, $2, $3, $4, $5, $6, 'open', 1, 0, $7, $7, $8, $9)
         ON CONFLICT (dedup_hash) WHERE status <> 'resolved'
         DO UPDATE SET occurrences = backup_monitoring_alerts.occurrences + 1, last_seen_at = excluded.last_seen_at, message = excluded.message,
             backup_execution_id = COALESCE(excluded.backup_execution_id, backup_monitoring_alerts.backup_execution_id)
         RETURNING id, occurrences",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(c.alert_type.as_str())
    .bind(c.severity.as_str())
    .bind(c.subject)
    .bind(c.message)
    .bind(dedup_hash(c.alert_type, c.subject))
    .bind(&now)
    .bind(c.configuration_id)
    .bind(c.execution_id)
    .fetch_one(&mut *conn)
    .await?;
    if occurrences == 1 {
        history::record_on(conn, &id, "raised", None, None, c.message).await?;
        let alert = find_on(conn, &id).await.map_err(|e| CatalogError::Query(sqlx::Error::Protocol(e.to_string())))?;
        escalation::start_on(conn, &alert).await?;
    } else {
        history::record_on(conn, &id, "occurred", None, None, c.message).await?;
    }
    Ok(id)
}

/// Resolves the alert of (type, subject) not yet resolved, if any: the condition cleared, for
/// `reason`. Returns whether there was one.
pub async fn resolve(catalog: &Catalog, alert_type: AlertType, subject: &str, reason: &str) -> Result<bool, CatalogError> {
    let mut tx = catalog.pool().begin().await?;
    let done: Option<String> = sqlx::query_scalar(
        "UPDATE backup_monitoring_alerts SET status = 'resolved', resolved_at = $1, resolution_notes = $2, next_escalation_at = NULL WHERE dedup_hash = $3 AND status <> 'resolved' RETURNING id",
    )
    .bind(time::now_text())
    .bind(reason)
    .bind(dedup_hash(alert_type, subject))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = &done {
        history::record_on(&mut tx, id, "resolved", None, None, reason).await?;
    }
    tx.commit().await?;
    Ok(done.is_some())
}

/// Whether the condition (type, subject) has an alert not yet resolved.
pub async fn is_open(catalog: &Catalog, alert_type: AlertType, subject: &str) -> Result<bool, CatalogError> {
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE dedup_hash = $1 AND status <> 'resolved'")
        .bind(dedup_hash(alert_type, subject))
        .fetch_one(catalog.pool())
        .await?;
    Ok(open > 0)
}

/// The subjects of the alerts of `alert_type` not yet resolved: the conditions a periodic
/// check resolves when they no longer hold.
pub async fn open_subjects(catalog: &Catalog, alert_type: AlertType) -> Result<Vec<String>, CatalogError> {
    Ok(sqlx::query_scalar("SELECT subject FROM backup_monitoring_alerts WHERE alert_type = $1 AND status <> 'resolved'").bind(alert_type.as_str()).fetch_all(catalog.pool()).await?)
}

/// A delivery about the alert reached its channel (`notification_sent`).
pub async fn mark_notified(catalog: &Catalog, id: &str) -> Result<(), CatalogError> {
    sqlx::query("UPDATE backup_monitoring_alerts SET notification_sent = 1 WHERE id = $1").bind(id).execute(catalog.pool()).await?;
    Ok(())
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    pub severity: Option<String>,
    /// `open`, `acknowledged`, `resolved`, or `active` (open or acknowledged).
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub alert_type: Option<String>,
    pub configuration_id: Option<String>,
    pub limit: Option<i64>,
    /// Any of these types (for callers in this crate: a report over several kinds at once).
    #[serde(skip)]
    pub any_of_types: Vec<AlertType>,
}

const COLUMNS: &str = "id, alert_type, severity, status, subject, message, backup_configuration_id, backup_execution_id, dedup_hash, occurrences, first_seen_at, last_seen_at,
    acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolution_notes, escalation_level, next_escalation_at, notification_sent";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    alert_type: String,
    severity: String,
    status: String,
    subject: String,
    message: String,
    backup_configuration_id: Option<String>,
    backup_execution_id: Option<String>,
    dedup_hash: String,
    occurrences: i64,
    first_seen_at: String,
    last_seen_at: String,
    acknowledged_at: Option<String>,
    acknowledged_by: Option<String>,
    resolved_at: Option<String>,
    resolved_by: Option<String>,
    resolution_notes: Option<String>,
    escalation_level: i64,
    next_escalation_at: Option<String>,
    notification_sent: i64,
}

impl Row {
    fn into_alert(self) -> Result<Alert, AlertError> {
        let unknown = |what: &str, v: &str| AlertError::Stored(format!("alert {} has an unknown {what} {v:?}", self.id));
        let alert_type = AlertType::parse(&self.alert_type).ok_or_else(|| unknown("type", &self.alert_type))?;
        let severity = Severity::parse(&self.severity).ok_or_else(|| unknown("severity", &self.severity))?;
        let status = AlertStatus::parse(&self.status).ok_or_else(|| unknown("status", &self.status))?;
        Ok(Alert {
            alert_type,
            severity,
            status,
            acknowledged: self.acknowledged_at.is_some(),
            alert_message: self.message.clone(),
            id: self.id,
            subject: self.subject,
            message: self.message,
            backup_configuration_id: self.backup_configuration_id,
            backup_execution_id: self.backup_execution_id,
            alert_hash: self.dedup_hash,
            occurrences: self.occurrences,
            triggered_at: self.first_seen_at,
            last_seen_at: self.last_seen_at,
            acknowledged_at: self.acknowledged_at,
            acknowledged_by: self.acknowledged_by,
            resolved_at: self.resolved_at,
            resolved_by: self.resolved_by,
            resolution_notes: self.resolution_notes,
            escalation_level: self.escalation_level,
            next_escalation_at: self.next_escalation_at,
            notification_sent: self.notification_sent != 0,
        })
    }
}

/// The alerts `filter` picks, the newest first (at most 500).
pub async fn list(catalog: &Catalog, actor: &Principal, filter: &Filter) -> Result<Vec<Alert>, AlertError> {
    actor.require(Role::Viewer)?;
    let severity = match filter.severity.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(Severity::parse(s).ok_or_else(|| AlertError::Invalid(format!("severity: one of {}, not {s:?}", Severity::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "))))?),
        None => None,
    };
    let statuses: Vec<&str> = match filter.status.as_deref().filter(|s| !s.is_empty()) {
        None => Vec::new(),
        Some("active") => vec!["open", "acknowledged"],
        Some(s) => vec![AlertStatus::parse(s).ok_or_else(|| AlertError::Invalid(format!("status: active, open, acknowledged or resolved, not {s:?}")))?.as_str()],
    };
    let alert_type = match filter.alert_type.as_deref().filter(|s| !s.is_empty()) {
        Some(t) => Some(AlertType::parse(t).ok_or_else(|| AlertError::Invalid(format!("type: no alert type is called {t:?}")))?),
        None => None,
    };
    let limit = filter.limit.unwrap_or(200);
    if !(1..=500).contains(&limit) {
        return Err(AlertError::Invalid("limit: from 1 to 500".into()));
    }
    // Only the conditions asked for, each value bound: a `$n IS NULL OR …` condition keeps the
    // catalog from using its indexes (10,000 alerts were read for each list).
    let mut values: Vec<String> = Vec::new();
    let mut arg = |value: &str| {
        values.push(value.to_string());
        format!("${}", values.len())
    };
    let mut conditions: Vec<String> = Vec::new();
    if let Some(severity) = severity {
        conditions.push(format!("severity = {}", arg(severity.as_str())));
    }
    if !statuses.is_empty() {
        let listed: Vec<String> = statuses.iter().map(|s| arg(s)).collect();
        conditions.push(format!("status IN ({})", listed.join(", ")));
    }
    if let Some(alert_type) = alert_type {
        conditions.push(format!("alert_type = {}", arg(alert_type.as_str())));
    }
    if !filter.any_of_types.is_empty() {
        let listed: Vec<String> = filter.any_of_types.iter().map(|t| arg(t.as_str())).collect();
        conditions.push(format!("alert_type IN ({})", listed.join(", ")));
    }
    if let Some(configuration) = filter.configuration_id.as_deref().filter(|c| !c.is_empty()) {
        conditions.push(format!("backup_configuration_id = {}", arg(configuration)));
    }
    let clause = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!("SELECT {COLUMNS} FROM backup_monitoring_alerts {clause} ORDER BY last_seen_at DESC, id DESC LIMIT ${}", values.len() + 1);
    let mut query = sqlx::query_as::<_, Row>(&sql);
    for value in &values {
        query = query.bind(value);
    }
    let rows: Vec<Row> = query.bind(limit).fetch_all(catalog.pool()).await?;
    rows.into_iter().map(Row::into_alert).collect()
}

/// How many critical alerts are open and nobody has acknowledged (the console's banner).
pub async fn critical_unacknowledged(catalog: &Catalog, actor: &Principal) -> Result<i64, AlertError> {
    actor.require(Role::Viewer)?;
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE severity = 'critical' AND status = 'open'").fetch_one(catalog.pool()).await?)
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Alert, AlertError> {
    actor.require(Role::Viewer)?;
    find(catalog, id).await
}

async fn find(catalog: &Catalog, id: &str) -> Result<Alert, AlertError> {
    let mut conn = catalog.pool().acquire().await.map_err(CatalogError::Query)?;
    find_on(&mut conn, id).await
}

async fn find_on(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Alert, AlertError> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM backup_monitoring_alerts WHERE id = $1")).bind(id).fetch_optional(&mut *conn).await?;
    row.ok_or_else(|| AlertError::NotFound(id.to_string()))?.into_alert()
}

/// `POST …/alerts/{id}/acknowledge`: someone has taken it; it stops escalating. Audited.
pub async fn acknowledge(catalog: &Catalog, actor: &Principal, id: &str, body: &AcknowledgeRequest) -> Result<Alert, AlertError> {
    actor.require(Role::Operator)?;
    let notes = checked_notes("notes", body.notes.as_deref().unwrap_or(""), false)?;
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let changed = sqlx::query(
        "UPDATE backup_monitoring_alerts SET status = 'acknowledged', acknowledged_at = $1, acknowledged_by = $2, next_escalation_at = NULL WHERE id = $3 AND status = 'open'",
    )
    .bind(&now)
    .bind(&actor.username)
    .bind(id)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if changed == 0 {
        let alert = find(catalog, id).await?;
        return Err(AlertError::Conflict(format!("alert {id} is already {}", alert.status)));
    }
    history::record_on(&mut tx.tx, id, "acknowledged", None, Some(&actor.username), &notes).await?;
    let detail = serde_json::json!({ "notes": notes });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "alert.acknowledge", target_type: "alert", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    find(catalog, id).await
}

/// `POST …/alerts/{id}/resolve`: a person closes it, saying why. Audited. If its condition
/// returns, it opens a new alert.
pub async fn close(catalog: &Catalog, actor: &Principal, id: &str, body: &ResolveRequest) -> Result<Alert, AlertError> {
    actor.require(Role::Operator)?;
    let notes = checked_notes("resolutionNotes", &body.resolution_notes, true)?;
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let changed = sqlx::query(
        "UPDATE backup_monitoring_alerts SET status = 'resolved', resolved_at = $1, resolved_by = $2, resolution_notes = $3, next_escalation_at = NULL
          WHERE id = $4 AND status <> 'resolved'",
    )
    .bind(&now)
    .bind(&actor.username)
    .bind(&notes)
    .bind(id)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if changed == 0 {
        find(catalog, id).await?;
        return Err(AlertError::Conflict(format!("alert {id} is already resolved")));
    }
    history::record_on(&mut tx.tx, id, "resolved", None, Some(&actor.username), &notes).await?;
    let detail = serde_json::json!({ "resolutionNotes": notes });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "alert.resolve", target_type: "alert", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    find(catalog, id).await
}

/// Notes a person typed: trimmed, at most 2,000 characters, no control characters but line
/// breaks; `required` ones not empty.
fn checked_notes(field: &str, notes: &str, required: bool) -> Result<String, AlertError> {
    let notes = notes.trim();
    if required && notes.is_empty() {
        return Err(AlertError::Invalid(format!("{field}: say why it is resolved")));
    }
    if notes.chars().count() > 2000 || notes.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(AlertError::Invalid(format!("{field}: up to 2,000 characters, without control characters")));
    }
    Ok(notes.to_string())
}
