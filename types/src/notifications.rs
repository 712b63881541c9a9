//! Notification channels, their routing and their delivery log, and the alert history and
//! silences the console and the REST API show.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum!(ChannelKind, "channel kind" {
    /// An HTTPS (or HTTP) endpoint receiving a signed JSON body.
    Webhook => "webhook",
    /// An SMTP server relaying a plain-text and HTML message.
    Email => "email",
});

text_enum!(SmtpSecurity, "SMTP security" {
    /// STARTTLS on the submission port: the connection is upgraded before anything is sent.
    Starttls => "starttls",
    /// TLS from the first byte (port 465).
    Tls => "tls",
    /// No encryption: only for a relay on this host or a trusted network.
    None => "none",
});

text_enum!(DeliveryStatus, "delivery status" {
    /// Waiting for its next attempt.
    Pending => "pending",
    Delivered => "delivered",
    /// Every attempt failed, or its channel was disabled.
    Failed => "failed",
});

/// Where a webhook channel posts and how; where an e-mail channel sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct ChannelSettings {
    /// Webhook: the `http(s)://` address.
    pub url: Option<String>,
    /// E-mail: the SMTP server's host name and port.
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<SmtpSecurity>,
    pub smtp_username: Option<String>,
    /// E-mail: a PEM certificate the server's is checked against, besides the system's roots
    /// (a private certificate authority).
    pub ca_certificate: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
}

/// Which notifications a channel receives: an empty list means all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct Routing {
    pub severities: Vec<crate::Severity>,
    pub alert_types: Vec<crate::AlertType>,
    /// Escalation levels (1 is the alert's first notice).
    pub escalation_levels: Vec<i64>,
    /// Restorations waiting for an approver.
    pub approval_requests: bool,
}

/// `POST /api/admin/notifications/channels` and `PUT …/{id}`. (Its `Debug` leaves the password out.)
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct ChannelRequest {
    pub name: String,
    pub kind: Option<ChannelKind>,
    pub settings: ChannelSettings,
    /// E-mail: the SMTP password (sealed; left out of a `PUT` to keep the stored one).
    pub smtp_password: Option<String>,
    pub routing: Routing,
    /// Attempts per notification (1 to 10); a notification that fails them all disables its
    /// channel.
    pub max_attempts: Option<i64>,
    /// The first retry waits about this long (1 s to 1 h), each next one twice as long.
    pub retry_base_seconds: Option<i64>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
    pub settings: ChannelSettings,
    pub routing: Routing,
    pub max_attempts: i64,
    pub retry_base_seconds: i64,
    pub enabled: bool,
    pub consecutive_failures: i64,
    pub disabled_reason: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A new webhook channel's signing secret, shown once. (Its `Debug` leaves the secret out.)
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChannelCreated {
    pub channel: Channel,
    /// Webhook: the HMAC-SHA256 key receivers check `X-Bulwark-Signature` with. Shown only now.
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub at: String,
    pub ok: bool,
    /// Webhook: the receiver's HTTP status; e-mail: the SMTP reply code.
    pub response_status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One notification to one channel, with each attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub channel_id: String,
    pub channel_name: String,
    pub alert_id: Option<String>,
    /// `alert.raised`, `alert.escalated`, `approval.requested` or `test`.
    pub event: String,
    pub escalation_level: Option<i64>,
    pub title: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub attempt_log: Vec<DeliveryAttempt>,
}

/// One step of an alert's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertEvent {
    pub at: String,
    /// `raised`, `occurred`, `escalated`, `silenced`, `acknowledged`, `resolved`.
    pub kind: String,
    pub escalation_level: Option<i64>,
    pub actor: Option<String>,
    pub detail: String,
}

/// An alert's history: what happened to it and every notification about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertHistory {
    pub events: Vec<AlertEvent>,
    pub deliveries: Vec<Delivery>,
}

/// One level of a severity's escalation: told `afterMinutes` after the alert was raised, if
/// nobody acknowledged it by then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EscalationStep {
    pub level: i64,
    pub after_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EscalationSchedule {
    pub severity: crate::Severity,
    pub steps: Vec<EscalationStep>,
}

/// `POST /api/admin/backups/alerts/silences`: at least one of configuration, type or subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct SilenceRequest {
    pub backup_configuration_id: Option<String>,
    pub alert_type: Option<crate::AlertType>,
    pub subject: Option<String>,
    pub reason: String,
    /// How long it lasts, 1 minute to 30 days.
    pub duration_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub backup_configuration_id: Option<String>,
    pub alert_type: Option<crate::AlertType>,
    pub subject: Option<String>,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
    pub ends_at: String,
    pub lifted_at: Option<String>,
    pub lifted_by: Option<String>,
    /// Still in force.
    pub active: bool,
}

impl std::fmt::Debug for ChannelRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelRequest")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .field("smtp_password", &self.smtp_password.as_ref().map(|_| "…"))
            .field("routing", &self.routing)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_seconds", &self.retry_base_seconds)
            .field("enabled", &self.enabled)
            .finish()
    }
}

impl std::fmt::Debug for ChannelCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelCreated").field("channel", &self.channel).field("signing_secret", &self.signing_secret.as_ref().map(|_| "…")).finish()
    }
}
