//! One handler per job kind: each reads its job's payload, runs the operation, and logs what it
//! did. Failures come back classified by the operation's error (`jobs::Failure`), so a job that
//! cannot succeed is not retried.

use std::path::PathBuf;
use std::sync::Arc;

use super::backup::BackupHandler;
use super::pool::{JobFuture, JobHandler, Pool};
use crate::alerts::{AlertType, Severity};
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::executions::reconcile;
use crate::notifications::deliver::Outcome;
use crate::platform::jobs::{CancelFlag, ClaimedJob, Failure};
use crate::platform::secrets::SecretBox;
use crate::restores::Targets;
use crate::{audit_anchor, platform::events, replicate, restoration, retention, platform::sessions, restore_tests, verify};

/// Registers every handler, and the periodic jobs, on `pool`. Restores write only into
/// `targets`; recovery runs start services only with `recovery_commands`.
pub fn register_all(pool: &mut Pool, secrets: &SecretBox, targets: &Arc<Targets>, recovery_commands: &Arc<[PathBuf]>) {
    pool.register(Arc::new(BackupHandler { secrets: secrets.clone() }));
    pool.register(Arc::new(RestorationHandler { secrets: secrets.clone(), targets: targets.clone() }));
    pool.register(Arc::new(VerifyHandler { secrets: secrets.clone() }));
    pool.register(Arc::new(RestoreTestHandler { secrets: secrets.clone() }));
    pool.register(Arc::new(ReplicateHandler { secrets: secrets.clone() }));
    // Subscribers of the events outbox (`events::SUBSCRIPTIONS`).
    pool.register(Arc::new(TrackHandler { secrets: secrets.clone() }));
    pool.register(Arc::new(QueueCopiesHandler));
    pool.register(Arc::new(BackupAlertsHandler));
    pool.register(Arc::new(RequestedCleanupHandler { secrets: secrets.clone() }));
    pool.register(Arc::new(DeliverHandler { secrets: secrets.clone() }));
    pool.register(Arc::new(RecoveryRunHandler { secrets: secrets.clone(), targets: targets.clone(), commands: recovery_commands.clone() }));
    // Every 15 s: plans whose health rule holds start by themselves; overdue drills are alerted.
    pool.register_periodic(Arc::new(RecoveryTriggersHandler), chrono::Duration::seconds(15));
    pool.register(Arc::new(DrillHandler));
    // Each minute: alerts due to escalate are told, channels disabled by failures alerted.
    pool.register_periodic(Arc::new(AlertsEvaluateHandler { secrets: secrets.clone() }), chrono::Duration::minutes(1));
    // Housekeeping: expired sessions and setup links.
    pool.register_periodic(Arc::new(CleanupHandler), chrono::Duration::minutes(5));
    pool.register_periodic(Arc::new(ReconcileHandler), reconcile::EVERY);
    // Daily: the latest backup of every configuration is re-verified and restore-tested weekly.
    pool.register_periodic(Arc::new(SweepHandler), chrono::Duration::days(1));
    // Hourly: a policy's verdicts change as backups age and new ones arrive.
    pool.register_periodic(Arc::new(RetentionHandler { secrets: secrets.clone() }), chrono::Duration::hours(1));
    // Daily: each location's cost rows of the day (and at start, when none ran for a day).
    pool.register_periodic(Arc::new(CostTrackHandler { secrets: secrets.clone() }), chrono::Duration::days(1));
    // Hourly: health samples older than a day folded into minutes, older than a week into hours.
    pool.register_periodic(Arc::new(DownsampleHandler), chrono::Duration::hours(1));
    // Hourly: the audit chain's head goes into every repository, so a shortened chain shows.
    pool.register_periodic(Arc::new(AnchorHandler { secrets: secrets.clone() }), chrono::Duration::hours(1));
}

/// Advances a disaster-recovery run as far as it goes (`recovery::engine`): to its end, or to
/// a gate a person decides at, whose decision queues the next such job. Its restores write only
/// where the server's restore roots and hosts allow, as a restoration's do; its services start
/// only with the programs the server allows.
pub struct RecoveryRunHandler {
    pub secrets: SecretBox,
    pub targets: Arc<Targets>,
    pub commands: Arc<[PathBuf]>,
}

impl JobHandler for RecoveryRunHandler {
    fn kind(&self) -> &'static str {
        crate::recovery::engine::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("executionId")?;
            let status = crate::recovery::engine::advance(catalog, &self.secrets, &self.targets, &self.commands, id, cancel, Some(&job.lease())).await?;
            tracing::info!(recovery_execution = %id, %status, "recovery run advanced");
            Ok(())
        })
    }
}

/// Starts a scheduled drill at its test date (`recovery::drills`), unless someone started it
/// already; its run is then an ordinary `recovery.run` job.
pub struct DrillHandler;

impl JobHandler for DrillHandler {
    fn kind(&self) -> &'static str {
        crate::recovery::drills::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("testId")?;
            match crate::recovery::drills::start_scheduled(catalog, id).await? {
                Some(run) => tracing::info!(recovery_test = %id, recovery_execution = %run, "scheduled drill started"),
                None => tracing::info!(recovery_test = %id, "scheduled drill not started (started by hand, or recorded why not)"),
            }
            Ok(())
        })
    }
}

/// Starts the approved plans whose health rule holds and alerts overdue drills
/// (`recovery::triggers`).
pub struct RecoveryTriggersHandler;

impl JobHandler for RecoveryTriggersHandler {
    fn kind(&self) -> &'static str {
        crate::recovery::triggers::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            crate::recovery::triggers::evaluate(catalog).await?;
            Ok(())
        })
    }
}

/// Raises or resolves backup_failed for a backup that ended (`events::ALERT_BACKUPS`).
pub struct BackupAlertsHandler;

impl JobHandler for BackupAlertsHandler {
    fn kind(&self) -> &'static str {
        events::ALERT_BACKUPS
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("executionId")?;
            crate::alerts::backups::on_backup_ended(catalog, id).await?;
            Ok(())
        })
    }
}

/// One attempt of a notification's delivery (`notifications::deliver`); what it came to goes
/// back to the alert it was about.
pub struct DeliverHandler {
    pub secrets: SecretBox,
}

impl JobHandler for DeliverHandler {
    fn kind(&self) -> &'static str {
        crate::notifications::DELIVER
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = job.payload_field("deliveryId")?;
            let attempt = serde_json::from_str::<serde_json::Value>(&job.payload).ok().and_then(|p| p["attempt"].as_i64()).unwrap_or(1);
            match crate::notifications::deliver::attempt(catalog, &self.secrets, &id, attempt).await? {
                Outcome::Delivered { alert_id: Some(alert) } => crate::alerts::mark_notified(catalog, &alert).await?,
                Outcome::ChannelDisabled { channel_id } => {
                    tracing::warn!(channel = %channel_id, "a notification channel was disabled after its failures");
                    crate::alerts::channels::evaluate(catalog).await?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}

/// The minute's alert work: the escalation steps that are due, the alerts of channels that
/// failures disabled, restorations waiting too long for an approver, RPO / RTO compliance and
/// the locations probed (`health`).
pub struct AlertsEvaluateHandler {
    pub secrets: SecretBox,
}

impl JobHandler for AlertsEvaluateHandler {
    fn kind(&self) -> &'static str {
        "alerts.evaluate"
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            // Escalation first, and each step on its own: a slow location or one bad row must
            // not keep people from being told.
            let told = crate::alerts::escalation::run(catalog).await.unwrap_or_else(|e| step_failed("escalation", &e));
            let raised = crate::alerts::channels::evaluate(catalog).await.unwrap_or_else(|e| step_failed("channel alerts", &e));
            let waiting = crate::restoration::waiting::evaluate_at(catalog, chrono::Utc::now()).await.unwrap_or_else(|e| step_failed("approvals waiting", &e));
            let breaches = crate::health::compliance::evaluate_at(catalog, chrono::Utc::now()).await.map(|c| c.raised + c.resolved).unwrap_or_else(|e| step_failed("compliance", &e));
            let down = crate::health::locations::evaluate(catalog, &self.secrets).await.unwrap_or_else(|e| step_failed("location probes", &e));
            if breaches + down + waiting + told + raised > 0 {
                tracing::info!(compliance_changes = breaches, locations_down = down, approvals_waiting = waiting, escalated = told, channel_alerts = raised, "alerts evaluated");
            }
            Ok(())
        })
    }
}

/// Logs a step of the minute's alert work that failed (the next minute tries again).
fn step_failed(step: &str, error: &dyn std::fmt::Display) -> usize {
    tracing::warn!(step, error = %error, "a step of the alert evaluation failed");
    0
}

/// Reads a backup back whole (`verify`): queued for every completed backup and by hand.
pub struct VerifyHandler {
    pub secrets: SecretBox,
}

impl JobHandler for VerifyHandler {
    fn kind(&self) -> &'static str {
        verify::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("executionId")?;
            let report = verify::run(catalog, &self.secrets, id).await?;
            tracing::info!(execution = %id, status = %report.status, bytes = report.bytes, "backup verified");
            Ok(())
        })
    }
}

/// Runs a restoration job (`restoration::jobs`) in its requester's name.
pub struct RestorationHandler {
    pub secrets: SecretBox,
    pub targets: Arc<Targets>,
}

impl JobHandler for RestorationHandler {
    fn kind(&self) -> &'static str {
        restoration::jobs::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("restorationId")?;
            let status = restoration::jobs::run(catalog, &self.secrets, &self.targets, id, cancel.clone()).await?;
            // Stopped on request: the pool records the job cancelled, as the restoration is.
            if status == restoration::RestorationStatus::Cancelled && cancel.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(Failure::Permanent("stopped on request".into()));
            }
            tracing::info!(restoration = %id, %status, "restoration finished");
            Ok(())
        })
    }
}

/// Restores a backup into a scratch target and checks it (`testing`).
pub struct RestoreTestHandler {
    pub secrets: SecretBox,
}

impl JobHandler for RestoreTestHandler {
    fn kind(&self) -> &'static str {
        restore_tests::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("testId")?;
            let test = super::restore_test::run(catalog, &self.secrets, id).await?;
            tracing::info!(test = %id, status = %test.status, "restore test finished");
            Ok(())
        })
    }
}

/// Queues the day's verifications and restore tests (`restore_tests::sweep`).
pub struct SweepHandler;

impl JobHandler for SweepHandler {
    fn kind(&self) -> &'static str {
        restore_tests::SWEEP_JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let (verifications, tests) = restore_tests::sweep(catalog).await?;
            tracing::info!(verifications, tests, "verification and restore-test sweep queued its work");
            Ok(())
        })
    }
}

/// Copies a location's new objects to another (`replicate::run`).
pub struct ReplicateHandler {
    pub secrets: SecretBox,
}

impl JobHandler for ReplicateHandler {
    fn kind(&self) -> &'static str {
        replicate::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("runId")?;
            let r = replicate::run(catalog, &self.secrets, id).await?;
            tracing::info!(run = %id, copied = r.objects_copied, bytes = r.bytes_copied, skipped = r.objects_skipped, "replication done");
            Ok(())
        })
    }
}

/// Queues the copies of a completed backup (`replicate::after_backup`): subscribed to
/// `backup.completed`.
pub struct QueueCopiesHandler;

impl JobHandler for QueueCopiesHandler {
    fn kind(&self) -> &'static str {
        events::QUEUE_COPIES
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let location = &job.payload_field("locationId")?;
            replicate::after_backup(catalog, location).await?;
            Ok(())
        })
    }
}

/// Records a completed backup's retention (`retention::track`): subscribed to
/// `backup.completed`.
pub struct TrackHandler {
    pub secrets: SecretBox,
}

impl JobHandler for TrackHandler {
    fn kind(&self) -> &'static str {
        events::TRACK_RETENTION
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("executionId")?;
            retention::track(catalog, &self.secrets, id).await?;
            Ok(())
        })
    }
}

/// The retention cleanup, as Bulwark itself (audited as `retention`).
pub struct RetentionHandler {
    pub secrets: SecretBox,
}

impl JobHandler for RetentionHandler {
    fn kind(&self) -> &'static str {
        retention::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            // A cleanup that fails leaves backups past their deletion date: retention_violation,
            // resolved by the next cleanup that runs through.
            let subject = "retention.cleanup";
            let report = match retention::cleanup(catalog, &self.secrets, &Principal::system("retention"), false).await {
                Ok(report) => report,
                Err(e) => {
                    let message = format!("the retention cleanup failed, so backups past their deletion date are kept: {e}");
                    if let Err(raising) = crate::alerts::raise(catalog, AlertType::RetentionViolation, Severity::High, subject, &message).await {
                        tracing::warn!(error = %raising, "raising retention_violation failed");
                    }
                    return Err(e.into());
                }
            };
            crate::alerts::resolve(catalog, AlertType::RetentionViolation, subject, "the retention cleanup ran through").await?;
            tracing::info!(deleted = report.deleted.len(), held = report.held.len(), bytes_freed = report.bytes_freed, "retention cleanup done");
            Ok(())
        })
    }
}

/// Writes the day's cost rows (`cost::tracking`).
pub struct CostTrackHandler {
    pub secrets: SecretBox,
}

impl JobHandler for CostTrackHandler {
    fn kind(&self) -> &'static str {
        crate::cost::tracking::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let tracked = crate::cost::tracking::track(catalog, &self.secrets, chrono::Utc::now().date_naive()).await?;
            tracing::info!(rows = tracked.rows, skipped = ?tracked.skipped, "cost tracked");
            Ok(())
        })
    }
}

/// Folds old health samples (`monitoring::samples::downsample`).
pub struct DownsampleHandler;

impl JobHandler for DownsampleHandler {
    fn kind(&self) -> &'static str {
        "monitoring.downsample"
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let done = crate::monitoring::samples::downsample(catalog, chrono::Utc::now()).await?;
            tracing::info!(raw_folded = done.raw_folded, minutes_folded = done.minutes_folded, hours_deleted = done.hours_deleted, "health samples downsampled");
            Ok(())
        })
    }
}

/// A cleanup someone asked for (`retention::request_cleanup`), in their name.
pub struct RequestedCleanupHandler {
    pub secrets: SecretBox,
}

impl JobHandler for RequestedCleanupHandler {
    fn kind(&self) -> &'static str {
        retention::REQUESTED_JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let requested_by = job.payload_field("requestedBy")?;
            let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or_default();
            let ids: Vec<String> = payload["configurationIds"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
            // Authorised when it was asked for (admins only); audited as asked by that person.
            let actor = Principal::system(&format!("retention (asked by {requested_by})"));
            let report = retention::cleanup_of(catalog, &self.secrets, &actor, false, &ids).await?;
            tracing::info!(deleted = report.deleted.len(), held = report.held.len(), bytes_freed = report.bytes_freed, %requested_by, "requested retention cleanup done");
            Ok(())
        })
    }
}

/// Ends executions and restorations whose job ended without recording them
/// (`executions::reconcile`, `restoration::reconcile`).
pub struct ReconcileHandler;

impl JobHandler for ReconcileHandler {
    fn kind(&self) -> &'static str {
        reconcile::RECONCILE_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let ended = reconcile::reconcile(catalog).await?;
            if ended > 0 {
                tracing::info!(ended, "executions reconciled");
            }
            let ended = restoration::reconcile::reconcile(catalog).await?;
            if ended > 0 {
                tracing::info!(ended, "restorations reconciled");
            }
            Ok(())
        })
    }
}

/// Anchors the audit chain's head in every repository (`audit_anchor`).
pub struct AnchorHandler {
    pub secrets: SecretBox,
}

impl JobHandler for AnchorHandler {
    fn kind(&self) -> &'static str {
        audit_anchor::JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let written = audit_anchor::anchor(catalog, &self.secrets).await?;
            tracing::info!(locations = written, "audit chain head anchored");
            Ok(())
        })
    }
}

/// Deletes expired sessions and setup links.
struct CleanupHandler;

impl JobHandler for CleanupHandler {
    fn kind(&self) -> &'static str {
        "maintenance.cleanup"
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, _job: &'a ClaimedJob, _cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let removed = sessions::delete_expired(catalog).await?;
            tracing::debug!(removed, "expired sessions and setup links removed");
            Ok(())
        })
    }
}
