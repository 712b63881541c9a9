//! Telling people: notification channels (a signed webhook, e-mail over SMTP), the routing that
//! picks which channels hear of what, and a delivery per notice and channel, retried with
//! backoff and logged attempt by attempt.
//!
//! A notice is recorded as deliveries, each with a `notification.deliver` job, inside the
//! transaction of what caused it (an alert raised or escalated, a restoration waiting for an
//! approver), so nothing is told that did not happen and nothing that happened goes untold when
//! a node dies. The job makes one attempt and queues the next (`deliver`).
//!
//! - `channels`: the channels (create, change, enable, delete; audited), checked before they are
//!   saved (an e-mail channel's server must answer), secrets sealed.
//! - `webhook`: the signed POST; `email`: the SMTP message.
//! - `deliver`: one attempt of a delivery, its log, the retry or the channel disabled.

pub mod channels;
pub mod deliver;
pub mod email;
pub mod webhook;

pub use bulwark_types::{Channel, ChannelCreated, ChannelKind, ChannelRequest, ChannelSettings, Delivery, DeliveryAttempt, DeliveryStatus, Routing, SmtpSecurity};
use bulwark_types::{AlertType, Severity};

use crate::error::{Classify, Kind};
use crate::platform::audit::AuditError;
use crate::platform::auth::AuthError;
use crate::platform::catalog::CatalogError;
use crate::platform::jobs::{self, JobError, NewJob};
use crate::platform::secrets::SecretError;
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("{0}")]
    Invalid(String),
    #[error("notification channel {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A stored row this version cannot read.
    #[error("{0}")]
    Stored(String),
    #[error("a notification channel's secret cannot be opened: {0}")]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Job(#[from] JobError),
}

impl From<sqlx::Error> for NotificationError {
    fn from(e: sqlx::Error) -> Self {
        NotificationError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for NotificationError {
    fn kind(&self) -> Kind {
        match self {
            NotificationError::Invalid(_) => Kind::Invalid,
            NotificationError::NotFound(_) => Kind::NotFound,
            NotificationError::Conflict(_) => Kind::Conflict,
            NotificationError::Stored(_) | NotificationError::Secret(_) => Kind::Internal,
            NotificationError::Auth(e) => e.kind(),
            NotificationError::Catalog(e) => e.kind(),
            NotificationError::Audit(e) => e.kind(),
            NotificationError::Job(e) => e.kind(),
        }
    }
}

/// The job kind of one delivery attempt.
pub const DELIVER: &str = "notification.deliver";

/// What a notice is about, for routing.
#[derive(Debug, Clone, Copy)]
pub enum About<'a> {
    /// An alert, at an escalation level (1 when it is raised).
    Alert { id: &'a str, severity: Severity, alert_type: AlertType, level: i64 },
    /// A restoration, or a request to run a recovery plan, waiting for an approver.
    ApprovalRequest,
}

/// Something to tell: a title, a plain-text body, and the record it is about (sent as JSON).
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    /// `alert.raised`, `alert.escalated`, `approval.requested`.
    pub event: &'a str,
    pub about: About<'a>,
    pub title: String,
    pub text: String,
    /// The alert or restoration, as the REST API shows it.
    pub record: serde_json::Value,
}

/// Records a delivery of `notice` to every enabled channel whose routing takes it, each with
/// its first attempt queued, on the caller's transaction. Returns how many.
pub async fn notify_on(conn: &mut sqlx::AnyConnection, notice: &Notice<'_>) -> Result<usize, CatalogError> {
    let routes: Vec<(String, String, String, String, i64)> =
        sqlx::query_as("SELECT id, severities, alert_types, escalation_levels, approval_requests FROM notification_channels WHERE enabled = 1 ORDER BY name")
            .fetch_all(&mut *conn)
            .await?;
    let mut queued = 0;
    for (channel_id, severities, alert_types, levels, approvals) in routes {
        let routing = channels::routing_from(&severities, &alert_types, &levels, approvals != 0);
        if routes_to(&routing, notice.about) {
            queue_on(conn, &channel_id, notice).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// Whether a channel with `routing` hears of `about`: each list empty or naming it.
pub fn routes_to(routing: &Routing, about: About<'_>) -> bool {
    match about {
        About::ApprovalRequest => routing.approval_requests,
        About::Alert { severity, alert_type, level, .. } => {
            (routing.severities.is_empty() || routing.severities.contains(&severity))
                && (routing.alert_types.is_empty() || routing.alert_types.contains(&alert_type))
                && (routing.escalation_levels.is_empty() || routing.escalation_levels.contains(&level))
        }
    }
}

/// One delivery of `notice` to `channel_id`, pending, with its first attempt queued.
async fn queue_on(conn: &mut sqlx::AnyConnection, channel_id: &str, notice: &Notice<'_>) -> Result<String, CatalogError> {
    let id = uuid::Uuid::new_v4().to_string();
    let (alert_id, level) = match notice.about {
        About::Alert { id, level, .. } => (Some(id), Some(level)),
        About::ApprovalRequest => (None, None),
    };
    let payload = serde_json::json!({
        "event": notice.event,
        "deliveryId": id,
        "title": notice.title,
        "text": notice.text,
        "escalationLevel": level,
        "record": notice.record,
    });
    sqlx::query(
        "INSERT INTO notification_deliveries (id, channel_id, alert_id, event, escalation_level, title, payload, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)",
    )
    .bind(&id)
    .bind(channel_id)
    .bind(alert_id)
    .bind(notice.event)
    .bind(level)
    .bind(&notice.title)
    .bind(payload.to_string())
    .bind(time::now_text())
    .execute(&mut *conn)
    .await?;
    enqueue_attempt_on(conn, &id, 1, None).await?;
    Ok(id)
}

/// The job of one attempt: `attempt` is the delivery's attempt number, so a job run twice
/// (a node died after sending) or left from before finds it already counted and does nothing.
fn attempt_job(delivery_id: &str, attempt: i64, run_at: Option<chrono::DateTime<chrono::Utc>>) -> NewJob {
    NewJob {
        priority: 3,
        subject_id: Some(delivery_id.to_string()),
        run_at,
        // The queue retries what went wrong around the attempt (a busy catalog); the attempt
        // count fences the delivery, so one sent and recorded is never sent again.
        max_attempts: 5,
        ..NewJob::new(DELIVER, serde_json::json!({ "deliveryId": delivery_id, "attempt": attempt }))
    }
}

async fn enqueue_attempt_on(conn: &mut sqlx::AnyConnection, delivery_id: &str, attempt: i64, run_at: Option<chrono::DateTime<chrono::Utc>>) -> Result<(), CatalogError> {
    match jobs::enqueue_on(conn, attempt_job(delivery_id, attempt, run_at)).await {
        Ok(_) => Ok(()),
        Err(JobError::Catalog(e)) => Err(e),
        // Queueing writes one row: nothing but the catalog can fail it.
        Err(other) => Err(CatalogError::Query(sqlx::Error::Protocol(other.to_string()))),
    }
}

/// Text a person typed, made safe inside HTML.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_takes_what_each_list_names_and_everything_when_empty() {
        let alert = |severity, level| About::Alert { id: "a", severity, alert_type: AlertType::BackupFailed, level };
        let all = Routing::default();
        assert!(routes_to(&all, alert(Severity::Low, 3)));
        assert!(!routes_to(&all, About::ApprovalRequest));
        let pager = Routing { severities: vec![Severity::Critical], escalation_levels: vec![2, 3], ..Routing::default() };
        assert!(routes_to(&pager, alert(Severity::Critical, 2)));
        assert!(!routes_to(&pager, alert(Severity::Critical, 1)));
        assert!(!routes_to(&pager, alert(Severity::High, 2)));
        let typed = Routing { alert_types: vec![AlertType::VerificationFailed], approval_requests: true, ..Routing::default() };
        assert!(!routes_to(&typed, alert(Severity::Critical, 1)));
        assert!(routes_to(&typed, About::ApprovalRequest));
    }

    #[test]
    fn html_escape_leaves_no_markup() {
        assert_eq!(html_escape("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
    }
}
