//! Running a backup: from a queued execution to its snapshot in the first reachable location,
//! recorded through `crate::executions` (which publishes what follows: retention tracking,
//! copies, verification). Under a job's lease, nothing is recorded once the lease is lost.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::pool::{JobFuture, JobHandler};
use super::test_hook;
use crate::alerts::{AlertType, Severity};
use crate::platform::catalog::Catalog;
use crate::configurations::{self, Configuration};
use crate::executions::{self, Completion, Execution, ExecutionError, JOB_KIND};
use crate::platform::jobs::{self, CancelFlag, ClaimedJob, Lease};
use crate::locations::{self, LocationError};
use crate::engine::repo::backup::{BackupOptions, CommitCheck, Progress};
use crate::engine::repo::format::Compression;
use crate::engine::repo::snapshot::Snapshot;
use crate::engine::repo::{CompressionSetting, RepoError};
use crate::platform::secrets::SecretBox;
use crate::sources::{self, BackupRun, SourceFuture};

/// Runs a queued execution to its end, recording success or the error a person can act on;
/// `cancel` stops it early. Outside the job queue (tests, tools): nothing fences it.
/// Boxed with its type spelled out: a consistency group runs its members through this same
/// function, and the compiler cannot prove a future that contains itself `Send`.
pub fn run<'a>(catalog: &'a Catalog, secrets: &'a SecretBox, id: &'a str, cancel: CancelFlag) -> SourceFuture<'a, Result<(), ExecutionError>> {
    Box::pin(run_fenced(catalog, secrets, id, cancel, None))
}

/// A run as a worker makes it, under its job's lease: the execution changes state only while
/// the lease is held, the manifest is written only after the lease is checked in the catalog,
/// and the execution's outcome is recorded in the transaction that completes the job. A
/// takeover (a later attempt) first looks for a snapshot the earlier attempt committed before
/// it died, and adopts it instead of backing up again. The job's liveness follows the bytes
/// read, for the pool's stall watchdog.
async fn run_fenced(catalog: &Catalog, secrets: &SecretBox, id: &str, cancel: CancelFlag, job: Option<&ClaimedJob>) -> Result<(), ExecutionError> {
    let lease = job.map(|j| (j.lease(), j.attempts > 1));
    let execution = executions::find(catalog, id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    let started = Instant::now();
    executions::mark_running(catalog, id, lease.as_ref().map(|(l, _)| l)).await?;
    if let Some((lease, true)) = &lease {
        if let Some((location_id, snapshot, metadata)) = committed_before(catalog, secrets, &configuration, id).await? {
            tracing::warn!(execution = %id, snapshot = %snapshot.id, "an earlier attempt committed this backup before it stopped; adopting its snapshot");
            let s = &snapshot.summary;
            let figures = executions::Progress { bytes_read: s.bytes, bytes_new: s.new_bytes, bytes_total: Some(s.bytes), percent: 100.0, adopted: true, ..Default::default() };
            let progress = serde_json::to_value(figures).unwrap_or_default();
            let done = Completion { location_id: &location_id, snapshot: &snapshot, metadata, duration_seconds: started.elapsed().as_secs_f64(), progress };
            return executions::record_completed(catalog, id, &configuration.id, Some(lease), done).await;
        }
    }
    let progress = Arc::new(Progress { cancel, ..Progress::default() });
    let liveness = job.map(|j| j.liveness.clone());
    let reporter = Reporter(tokio::spawn(report_progress(catalog.clone(), id.to_string(), progress.clone(), liveness.clone())));
    let commit_check = lease.as_ref().map(|(lease, _)| lease_check(catalog, lease));
    let outcome = back_up(catalog, secrets, &configuration, &execution, progress.clone(), commit_check).await;
    drop(reporter);
    match outcome {
        Ok((location_id, snapshot, metadata)) => {
            test_hook::pause_at("after-commit");
            let lease = lease.as_ref().map(|(lease, _)| lease);
            // Retention tracking, copies and verification follow from the event this records.
            let duration_seconds = started.elapsed().as_secs_f64();
            let done = Completion { location_id: &location_id, snapshot: &snapshot, metadata, duration_seconds, progress: progress_json(&progress, duration_seconds, true) };
            executions::record_completed(catalog, id, &configuration.id, lease, done).await?;
            test_hook::pause_at("after-complete");
            Ok(())
        }
        Err(ExecutionError::Repo(RepoError::Cancelled)) if liveness.as_ref().is_some_and(|l| l.is_stalled()) => {
            let message = "stopped by the watchdog: the backup read nothing for longer than the stall limit (--job-stall-minutes)";
            executions::finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "failed", message).await?;
            Err(RepoError::Cancelled.into())
        }
        Err(ExecutionError::Repo(RepoError::Cancelled)) => {
            executions::finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "cancelled", &RepoError::Cancelled.to_string()).await?;
            Err(RepoError::Cancelled.into())
        }
        Err(e) => {
            executions::finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "failed", &e.to_string()).await?;
            Err(e)
        }
    }
}

/// The check a backup runs right before writing its manifest: the lease, in the catalog.
fn lease_check(catalog: &Catalog, lease: &Lease) -> CommitCheck {
    let (catalog, lease) = (catalog.clone(), lease.clone());
    CommitCheck(Arc::new(move || {
        let (catalog, lease) = (catalog.clone(), lease.clone());
        Box::pin(async move {
            test_hook::pause_at("before-commit");
            lease.check(&catalog).await.map_err(|e| RepoError::LockLost(format!("the backup's job: {e}")))
        })
    }))
}

/// A snapshot of execution `id` already in the configuration's first reachable location: an
/// earlier attempt committed it and stopped before recording it.
async fn committed_before(catalog: &Catalog, secrets: &SecretBox, configuration: &Configuration, id: &str) -> Result<Option<(String, Snapshot, serde_json::Value)>, ExecutionError> {
    let (location_id, repo, _) = first_reachable(catalog, secrets, configuration).await?;
    let tag = execution_tag(id);
    let Some(snapshot) = repo.snapshots().await?.into_iter().find(|s| s.tags.contains(&tag)) else {
        return Ok(None);
    };
    let metadata = crate::rebuild::recovery_metadata(&repo, &snapshot).await;
    Ok(Some((location_id, snapshot, metadata)))
}

/// The tag that ties a snapshot to the execution that made it.
fn execution_tag(id: &str) -> String {
    format!("execution:{id}")
}

/// Reads the source into the configuration's first location; returns where it went, the
/// snapshot and the recovery metadata.
async fn back_up(
    catalog: &Catalog,
    secrets: &SecretBox,
    configuration: &Configuration,
    execution: &Execution,
    progress: Arc<Progress>,
    commit_check: Option<CommitCheck>,
) -> Result<(String, Snapshot, serde_json::Value), ExecutionError> {
    let (location_id, repo, skipped) = first_reachable(catalog, secrets, configuration).await?;
    let algorithm = match configuration.compression.as_str() {
        "gzip" => Compression::Gzip,
        "none" => Compression::None,
        _ => Compression::Zstd,
    };
    let repo = repo.with_compression(CompressionSetting { algorithm, ..CompressionSetting::default() });
    let options = BackupOptions {
        source: configuration.source_identifier.clone(),
        tags: vec![format!("configuration:{}", configuration.id), execution_tag(&execution.id)],
        metadata: serde_json::json!({ "configurationId": configuration.id, "configuration": configuration.name, "sourceType": configuration.source_type }),
        progress,
        commit_check,
    };
    // A consistency group's members run as executions of their own, through this same path.
    let run_member = |id: String, cancel: CancelFlag| -> SourceFuture<'_, Result<(), ExecutionError>> { Box::pin(async move { run(catalog, secrets, &id, cancel).await }) };
    let backup_run = BackupRun { catalog, secrets, configuration, execution, repo: &repo, location_id: &location_id, run_member: &run_member };
    let (snapshot, metadata) = sources::of(configuration).back_up(&backup_run, options).await?;
    let mut metadata = metadata;
    if !skipped.is_empty() {
        metadata["skippedLocations"] = serde_json::json!(skipped);
    }
    Ok((location_id, snapshot, metadata))
}

/// The alert a location that cannot be reached raises.
pub const LOCATION_ALERT: AlertType = AlertType::LocationUnreachable;

/// The first of the configuration's locations, in its order, whose repository opens. One the
/// storage does not answer for is skipped (an alert is raised) while another is left to try;
/// any other problem (no repository, a wrong key) is an error a person must fix. Returns the
/// location, its repository, and the locations skipped with why.
async fn first_reachable(
    catalog: &Catalog,
    secrets: &SecretBox,
    configuration: &Configuration,
) -> Result<(String, crate::engine::repo::Repository, Vec<serde_json::Value>), ExecutionError> {
    let ids = configuration.location_ids();
    if ids.is_empty() {
        return Err(ExecutionError::Invalid(format!("configuration {:?} has no storage location", configuration.name)));
    }
    let mut skipped = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let subject = format!("storage_location:{id}");
        match locations::open_repository(catalog, secrets, id).await {
            Ok(repo) => {
                crate::alerts::resolve(catalog, LOCATION_ALERT, &subject, "the location answered a backup again").await?;
                return Ok((id.clone(), repo, skipped));
            }
            Err(e @ (LocationError::Storage(_) | LocationError::Repo(RepoError::Storage(_)))) if i + 1 < ids.len() => {
                tracing::warn!(location = %id, error = %e, "storage location unreachable; trying the next");
                let message = format!("storage location {id} did not answer; the backup of {:?} went to the next location: {e}", configuration.name);
                crate::alerts::raise(catalog, LOCATION_ALERT, Severity::High, &subject, &message).await?;
                skipped.push(serde_json::json!({ "storageLocationId": id, "error": e.to_string() }));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ExecutionError::Invalid(format!("configuration {:?}: no storage location could be opened", configuration.name)))
}

/// The progress writer of a running backup, stopped when the backup's future ends or is
/// dropped: a worker that lost its lease drops the backup mid-way, and its writer must not go
/// on writing over the execution another node now runs.
struct Reporter(tokio::task::JoinHandle<()>);

impl Drop for Reporter {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes the progress to the catalog about once a second until aborted, and tells the job's
/// liveness whenever more bytes were read.
async fn report_progress(catalog: Catalog, id: String, progress: Arc<Progress>, liveness: Option<Arc<jobs::Liveness>>) {
    let started = Instant::now();
    if let Some(l) = &liveness {
        l.watch();
    }
    let mut read = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let now_read = progress.bytes_read.load(Ordering::Relaxed);
        if let Some(l) = liveness.as_ref().filter(|_| now_read != read) {
            l.moved();
        }
        read = now_read;
        let json = progress_json(&progress, started.elapsed().as_secs_f64(), false);
        // A missed write is made good by the next one, or by the final figures.
        let _ = executions::record_progress(&catalog, &id, &json).await;
    }
}

fn progress_json(progress: &Progress, seconds: f64, done: bool) -> serde_json::Value {
    let read = progress.bytes_read.load(Ordering::Relaxed);
    let new = progress.bytes_new.load(Ordering::Relaxed);
    let total = progress.bytes_total.load(Ordering::Relaxed);
    let rate = if seconds > 0.0 { read as f64 / seconds } else { 0.0 };
    let percent = if done { 100.0 } else if total > 0 { (read as f64 * 100.0 / total as f64).min(99.9) } else { 0.0 };
    let eta = (total > read && rate > 0.0 && !done).then(|| ((total - read) as f64 / rate).round());
    let figures = executions::Progress {
        bytes_read: read,
        bytes_new: new,
        bytes_total: (total > 0).then_some(total),
        bytes_per_second: rate.round(),
        percent: (percent * 10.0).round() / 10.0,
        eta_seconds: eta,
        adopted: false,
    };
    serde_json::to_value(figures).unwrap_or_default()
}

/// Runs `backup` jobs on the worker pool.
pub struct BackupHandler {
    pub secrets: SecretBox,
}

impl JobHandler for BackupHandler {
    fn kind(&self) -> &'static str {
        JOB_KIND
    }

    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, cancel: CancelFlag) -> JobFuture<'a> {
        Box::pin(async move {
            let id = &job.payload_field("executionId")?;
            Ok(run_fenced(catalog, &self.secrets, id, cancel, Some(job)).await?)
        })
    }
}

