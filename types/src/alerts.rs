//! Monitoring alerts as the console and the REST API show them, in the seeds' words
//! (`backup_monitoring_alerts`, the BackupDashboard's `BackupAlert`).

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;
use crate::{AlertType, Severity};

text_enum!(AlertStatus, "alert status" {
    /// Raised, nobody has taken it yet: it escalates.
    Open => "open",
    /// Someone took it: escalation stops; it stays until its condition clears or it is resolved.
    Acknowledged => "acknowledged",
    /// Its condition cleared (with the reason) or a person resolved it (with notes).
    Resolved => "resolved",
});

/// One occurrence of a condition: raising the same condition again while it is not resolved
/// counts `occurrences` on it; once resolved, the next one is a new alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub alert_type: AlertType,
    pub severity: Severity,
    pub status: AlertStatus,
    /// What the condition is about, e.g. `configuration:<id>`.
    pub subject: String,
    pub message: String,
    /// The seeds' name for `message`.
    pub alert_message: String,
    pub backup_configuration_id: Option<String>,
    pub backup_execution_id: Option<String>,
    /// SHA-256 of the type and subject: one open alert per condition.
    pub alert_hash: String,
    pub occurrences: i64,
    pub triggered_at: String,
    pub last_seen_at: String,
    pub acknowledged: bool,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    pub resolution_notes: Option<String>,
    pub escalation_level: i64,
    pub next_escalation_at: Option<String>,
    pub notification_sent: bool,
}

/// `POST …/alerts/{id}/acknowledge` (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct AcknowledgeRequest {
    pub notes: Option<String>,
}

/// `POST …/alerts/{id}/resolve`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct ResolveRequest {
    pub resolution_notes: String,
}
