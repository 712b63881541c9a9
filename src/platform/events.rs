//! The outbox: state changes other parts react to, written in the transaction that makes them.
//!
//! [`publish_in`] records the event and, in the same transaction, queues one job per
//! subscriber ([`SUBSCRIPTIONS`]). The job queue then delivers it at least once: a node that
//! dies right after the commit, or in the middle of a subscriber, leaves the job to another
//! node (leases and takeovers, `crate::platform::jobs`). Subscribers must therefore be idempotent.
//!
//! This module is a leaf: it knows subscribers by their job kinds only; each kind's handler is
//! in `crate::orchestration::handlers` and runs the operation (`retention`, `replicate`,
//! `verify`).

use serde::Serialize;

use crate::platform::catalog::{Catalog, CatalogError};
use crate::error::{Classify, Kind};
use crate::platform::jobs::{self, JobError, NewJob};
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Job(#[from] JobError),
}

impl From<sqlx::Error> for EventError {
    fn from(e: sqlx::Error) -> Self {
        EventError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for EventError {
    fn kind(&self) -> Kind {
        match self {
            EventError::Catalog(e) => e.kind(),
            EventError::Job(e) => e.kind(),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventKind {
    /// A backup wrote its snapshot. Payload: `executionId`, `configurationId`, `locationId`,
    /// `snapshotId`.
    #[serde(rename = "backup.completed")]
    BackupCompleted,
    /// A backup ended without a snapshot (failed or cancelled). Payload: `executionId`,
    /// `configurationId`, `status`, `message`.
    #[serde(rename = "backup.failed")]
    BackupFailed,
    /// Reading a backup back found what cannot be restored. Payload: `executionId`, `problems`.
    #[serde(rename = "verification.failed")]
    VerificationFailed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::BackupCompleted => "backup.completed",
            EventKind::BackupFailed => "backup.failed",
            EventKind::VerificationFailed => "verification.failed",
        }
    }
}

/// Job kind of the subscriber recording a completed backup's retention (planned deletion date,
/// Object Lock until then).
pub const TRACK_RETENTION: &str = "retention.track";
/// Job kind of the subscriber queueing a completed backup's copies (copy rules).
pub const QUEUE_COPIES: &str = "replication.queue";
/// Job kind of verification (a backup read back whole), also queued by hand.
pub const VERIFY_BACKUP: &str = "verify";
/// Job kind of the subscriber raising and resolving backup_failed alerts (`alerts::backups`).
pub const ALERT_BACKUPS: &str = "alerts.backups";

/// One subscriber: the job queued for each event of a kind.
#[derive(Debug, Clone, Copy)]
pub struct Subscription {
    pub event: EventKind,
    pub job_kind: &'static str,
    /// Lower runs first, as `NewJob::priority`.
    pub priority: i64,
    pub max_attempts: i64,
}

/// Who reacts to what. Notifications, cost and DR triggers add their lines here.
pub const SUBSCRIPTIONS: &[Subscription] = &[
    Subscription { event: EventKind::BackupCompleted, job_kind: TRACK_RETENTION, priority: 3, max_attempts: 10 },
    Subscription { event: EventKind::BackupCompleted, job_kind: QUEUE_COPIES, priority: 4, max_attempts: 10 },
    // Every backup is read back once by itself (group members inside their group too).
    Subscription { event: EventKind::BackupCompleted, job_kind: VERIFY_BACKUP, priority: 8, max_attempts: 2 },
    // A failed backup raises backup_failed; the next good one resolves it.
    Subscription { event: EventKind::BackupFailed, job_kind: ALERT_BACKUPS, priority: 2, max_attempts: 10 },
    Subscription { event: EventKind::BackupCompleted, job_kind: ALERT_BACKUPS, priority: 2, max_attempts: 10 },
];

/// Records event `kind` about `subject_id` and queues its subscribers' jobs, inside the
/// caller's transaction: both exist exactly when the state change does. Each job's payload is
/// `payload` (an object) with the event's `eventId` added. Returns the event's id.
pub async fn publish_in(conn: &mut sqlx::AnyConnection, kind: EventKind, subject_id: &str, payload: serde_json::Value) -> Result<String, EventError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = time::to_text(crate::platform::catalog::now_on(conn).await?);
    sqlx::query("INSERT INTO events (id, kind, subject_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(kind.as_str())
        .bind(subject_id)
        .bind(payload.to_string())
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    for subscription in SUBSCRIPTIONS.iter().filter(|s| s.event == kind) {
        let mut job_payload = payload.clone();
        if let Some(fields) = job_payload.as_object_mut() {
            fields.insert("eventId".into(), id.clone().into());
        }
        let job = NewJob {
            priority: subscription.priority,
            subject_id: Some(subject_id.to_string()),
            max_attempts: subscription.max_attempts,
            ..NewJob::new(subscription.job_kind, job_payload)
        };
        jobs::enqueue_on(conn, job).await?;
    }
    Ok(id)
}

/// An event as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub subject_id: Option<String>,
    pub payload: String,
    pub created_at: String,
}

/// The events about `subject_id`, oldest first.
pub async fn about(catalog: &Catalog, subject_id: &str) -> Result<Vec<Event>, EventError> {
    Ok(sqlx::query_as::<_, Event>("SELECT id, kind, subject_id, payload, created_at FROM events WHERE subject_id = $1 ORDER BY created_at, id")
        .bind(subject_id)
        .fetch_all(catalog.pool())
        .await?)
}
