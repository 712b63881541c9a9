//! Backup executions: one run of a configuration, from "Run now" (or a schedule) to a snapshot
//! in the configuration's first storage location. The worker that runs it writes its progress
//! to the catalog about once a second, so any node can stream it to a browser.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;

use crate::audit::{self, Actor, Entry};
use crate::auth::{AuthError, Principal, Role};
use crate::catalog::dialect::LockTopic;
use crate::catalog::{Catalog, CatalogError, SerializedTx};
use crate::configurations::{self, Configuration, ConfigurationError};
use crate::error::{Classify, Kind};
use crate::jobs::pool::{CancelFlag, JobFuture, JobHandler};
use crate::jobs::{self, ClaimedJob, JobError, Lease, NewJob};
use crate::locations::{self, LocationError};
use crate::repo::backup::{self, BackupOptions, CommitCheck, Progress};
use crate::repo::format::Compression;
use crate::repo::snapshot::{Content, Snapshot};
use crate::repo::{CompressionSetting, RepoError};
use crate::secrets::{SecretBox, SecretError};
use crate::source::SourceError;
use crate::source::postgres::Database;
use crate::events::{self, EventError, EventKind};
use crate::time;

mod group;
pub mod reconcile;
mod test_hook;
pub mod scheduled;

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error("{0}")]
    Invalid(String),
    #[error("backup execution {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Event(#[from] EventError),
}

impl From<sqlx::Error> for ExecutionError {
    fn from(e: sqlx::Error) -> Self {
        ExecutionError::Catalog(CatalogError::Query(e))
    }
}

impl ExecutionError {
    /// True when the catalog could not be reached (a later try may succeed).
    fn catalog_unreachable(&self) -> bool {
        match self {
            ExecutionError::Catalog(CatalogError::Query(e))
            | ExecutionError::Job(JobError::Catalog(CatalogError::Query(e)))
            | ExecutionError::Event(EventError::Catalog(CatalogError::Query(e)) | EventError::Job(JobError::Catalog(CatalogError::Query(e)))) => crate::catalog::unreachable(e),
            _ => false,
        }
    }
}

impl Classify for ExecutionError {
    fn kind(&self) -> Kind {
        match self {
            ExecutionError::Invalid(_) => Kind::Invalid,
            ExecutionError::NotFound(_) => Kind::NotFound,
            ExecutionError::Conflict(_) => Kind::Conflict,
            ExecutionError::Auth(e) => e.kind(),
            ExecutionError::Catalog(e) => e.kind(),
            ExecutionError::Configuration(e) => e.kind(),
            ExecutionError::Location(e) => e.kind(),
            ExecutionError::Secret(e) => e.kind(),
            ExecutionError::Source(e) => e.kind(),
            ExecutionError::Repo(e) => e.kind(),
            ExecutionError::Job(e) => e.kind(),
            ExecutionError::Event(e) => e.kind(),
        }
    }
}

/// An execution as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub configuration_id: String,
    pub execution_type: String,
    /// queued, running, completed, failed or cancelled.
    pub status: String,
    pub storage_location_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_seconds: Option<f64>,
    /// Logical bytes read from the source.
    pub size_bytes: Option<i64>,
    /// Bytes this execution added to the repository (compressed, encrypted).
    pub compressed_size_bytes: Option<i64>,
    /// Bytes the repository did not hold yet, before compression.
    pub new_bytes: Option<i64>,
    /// SHA-256 of the stream (or of the tree listing, which holds every file's SHA-256).
    pub checksum: Option<String>,
    pub error_message: Option<String>,
    pub verification_status: Option<String>,
    pub verified_at: Option<String>,
    #[serde(serialize_with = "crate::catalog::serialize_json_text")]
    pub recovery_metadata: String,
    #[serde(serialize_with = "crate::catalog::serialize_json_text")]
    pub progress: String,
    pub requested_by: Option<String>,
    pub created_at: String,
    /// When retention or an administrator deleted its backup; the row stays as history.
    pub deleted_at: Option<String>,
    /// What the person who started it wrote (the seeds' `notes`).
    pub notes: Option<String>,
    /// A JSON object of tags to find it by (the seeds' `tags`); `{}` when none.
    #[serde(serialize_with = "crate::catalog::serialize_json_text")]
    pub tags: String,
}

impl Execution {
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}

const COLUMNS: &str = "id, configuration_id, execution_type, status, storage_location_id, snapshot_id, started_at, completed_at, \
    duration_seconds, size_bytes, compressed_size_bytes, new_bytes, checksum, error_message, verification_status, verified_at, \
    recovery_metadata, progress, requested_by, created_at, deleted_at, notes, tags";

/// The job kind that runs an execution.
pub const JOB_KIND: &str = "backup";

/// What a person may attach to a run they start: a note and tags (a JSON object).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    pub notes: Option<String>,
    pub tags: Option<serde_json::Value>,
}

impl Annotations {
    /// The note (trimmed, none when blank) and the tags as stored, once checked.
    fn checked(&self) -> Result<(Option<String>, String), ExecutionError> {
        let notes = self.notes.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if notes.is_some_and(|n| n.chars().count() > 2000) {
            return Err(ExecutionError::Invalid("notes: at most 2000 characters".into()));
        }
        let tags = match &self.tags {
            None | Some(serde_json::Value::Null) => "{}".to_string(),
            Some(serde_json::Value::Object(map)) if map.len() <= 50 => serde_json::Value::Object(map.clone()).to_string(),
            Some(serde_json::Value::Object(_)) => return Err(ExecutionError::Invalid("tags: at most 50".into())),
            Some(_) => return Err(ExecutionError::Invalid("tags: an object, e.g. {\"team\": \"payments\"}".into())),
        };
        if tags.len() > 8192 {
            return Err(ExecutionError::Invalid("tags: at most 8 KiB of JSON".into()));
        }
        Ok((notes.map(str::to_string), tags))
    }
}

/// Queues a run of a configuration now (`manual`, or `emergency`, which goes first).
pub async fn start(catalog: &Catalog, actor: &Principal, configuration_id: &str, execution_type: &str) -> Result<Execution, ExecutionError> {
    start_annotated(catalog, actor, configuration_id, execution_type, &Annotations::default()).await
}

/// [`start`], with a note and tags kept on the execution.
pub async fn start_annotated(catalog: &Catalog, actor: &Principal, configuration_id: &str, execution_type: &str, annotations: &Annotations) -> Result<Execution, ExecutionError> {
    actor.require(Role::Operator)?;
    if !matches!(execution_type, "manual" | "emergency") {
        return Err(ExecutionError::Invalid("executionType: manual or emergency".into()));
    }
    let annotations = annotations.checked()?;
    let configuration = configurations::find(catalog, configuration_id).await?;
    if configuration.is_active == 0 {
        return Err(ExecutionError::Conflict(format!("configuration {:?} is paused", configuration.name)));
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let id = insert_in(&mut tx, &Actor::from(actor), &actor.username, &configuration, execution_type, &annotations).await?;
    enqueue_in(&mut tx, &configuration, &id, execution_type).await?;
    tx.tx.commit().await?;
    find(catalog, &id).await
}

/// Queues the backup job of execution `id`, in the transaction that records the execution.
async fn enqueue_in(tx: &mut SerializedTx<'_>, configuration: &Configuration, id: &str, execution_type: &str) -> Result<(), ExecutionError> {
    let priority = if execution_type == "emergency" { 0 } else { configuration.priority_level };
    // One attempt: a failed backup is reported on its execution, and a person (or the
    // schedule) starts the next one. A worker that dies is different: its lease expires and
    // the job runs again elsewhere.
    let job = NewJob {
        priority,
        configuration_id: Some(configuration.id.clone()),
        subject_id: Some(id.to_string()),
        max_attempts: 1,
        ..NewJob::new(JOB_KIND, serde_json::json!({ "executionId": id }))
    };
    jobs::enqueue_on(&mut tx.tx, job).await?;
    Ok(())
}

/// Records a queued execution of `configuration` (for a group's member, run inside the
/// group's job), audited as started by `actor`; returns its id.
async fn insert(catalog: &Catalog, actor: &Actor, requested_by: &str, configuration: &Configuration, execution_type: &str) -> Result<String, ExecutionError> {
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let id = insert_in(&mut tx, actor, requested_by, configuration, execution_type, &(None, "{}".into())).await?;
    tx.tx.commit().await?;
    Ok(id)
}

/// Records a queued execution inside `tx`; refused while another one of the configuration is
/// under way.
async fn insert_in(
    tx: &mut SerializedTx<'_>,
    actor: &Actor,
    requested_by: &str,
    configuration: &Configuration,
    execution_type: &str,
    (notes, tags): &(Option<String>, String),
) -> Result<String, ExecutionError> {
    let configuration_id = configuration.id.as_str();
    let id = uuid::Uuid::new_v4().to_string();
    let now = time::now_text();
    let busy: Option<String> =
        sqlx::query_scalar("SELECT id FROM backup_executions WHERE configuration_id = $1 AND status IN ('queued', 'running') LIMIT 1")
            .bind(configuration_id)
            .fetch_optional(&mut *tx.tx)
            .await?;
    if let Some(busy) = busy {
        return Err(ExecutionError::Conflict(format!("configuration {:?} already has a backup under way ({busy})", configuration.name)));
    }
    sqlx::query(
        "INSERT INTO backup_executions (id, configuration_id, execution_type, status, requested_by, created_at, notes, tags)
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(configuration_id)
    .bind(execution_type)
    .bind(requested_by)
    .bind(&now)
    .bind(notes)
    .bind(tags)
    .execute(&mut *tx.tx)
    .await?;
    let detail = serde_json::json!({ "configuration": configuration.name, "executionType": execution_type });
    audit::append(tx, Entry { actor, action: "backup_execution.start", target_type: "backup_execution", target_id: Some(&id), detail }).await?;
    Ok(id)
}

/// Cancels an execution: a queued one never starts; a running one stops within a few seconds,
/// writing no snapshot (the data it already stored is unreferenced until a prune).
pub async fn cancel(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Execution, ExecutionError> {
    actor.require(Role::Operator)?;
    let execution = find(catalog, id).await?;
    if execution.is_finished() {
        return Err(ExecutionError::Conflict(format!("backup execution {id} has already finished ({})", execution.status)));
    }
    let job = jobs::for_subject(catalog, JOB_KIND, id)
        .await?
        .ok_or_else(|| ExecutionError::Conflict(format!("backup execution {id} runs inside its consistency group's execution: cancel that one")))?;
    let outcome = jobs::cancel(catalog, &job.id).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    if outcome == jobs::Cancelled::Dequeued {
        sqlx::query("UPDATE backup_executions SET status = 'cancelled', completed_at = $1, error_message = $2 WHERE id = $3 AND status = 'queued'")
            .bind(time::now_text())
            .bind(format!("cancelled by {} before it started", actor.username))
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
    }
    let detail = serde_json::json!({ "configurationId": execution.configuration_id, "wasRunning": outcome == jobs::Cancelled::Requested });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "backup_execution.cancel", target_type: "backup_execution", target_id: Some(id), detail }).await?;
    tx.tx.commit().await?;
    find(catalog, id).await
}

pub(crate) async fn find(catalog: &Catalog, id: &str) -> Result<Execution, ExecutionError> {
    let sql = format!("SELECT {COLUMNS} FROM backup_executions WHERE id = $1");
    sqlx::query_as::<_, Execution>(&sql).bind(id).fetch_optional(catalog.pool()).await?.ok_or_else(|| ExecutionError::NotFound(id.into()))
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Execution, ExecutionError> {
    actor.require(Role::Viewer)?;
    find(catalog, id).await
}

/// An execution a restore may read: refused once its backup was deleted.
pub async fn restorable(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Execution, ExecutionError> {
    let execution = get(catalog, actor, id).await?;
    if let Some(at) = &execution.deleted_at {
        return Err(ExecutionError::Conflict(format!("the backup of execution {id} was deleted at {at} (retention or by hand); restore another one")));
    }
    Ok(execution)
}

/// A configuration's executions, newest first.
pub async fn list(catalog: &Catalog, actor: &Principal, configuration_id: &str, limit: i64) -> Result<Vec<Execution>, ExecutionError> {
    actor.require(Role::Viewer)?;
    let sql = format!("SELECT {COLUMNS} FROM backup_executions WHERE configuration_id = $1 ORDER BY created_at DESC LIMIT $2");
    Ok(sqlx::query_as::<_, Execution>(&sql).bind(configuration_id).bind(limit.clamp(1, 500)).fetch_all(catalog.pool()).await?)
}

/// Runs a queued execution to its end, recording success or the error a person can act on;
/// `cancel` stops it early. Outside the job queue (tests, tools): nothing fences it.
pub async fn run(catalog: &Catalog, secrets: &SecretBox, id: &str, cancel: CancelFlag) -> Result<(), ExecutionError> {
    run_fenced(catalog, secrets, id, cancel, None).await
}

/// A run as a worker makes it, under its job's lease: the execution changes state only while
/// the lease is held, the manifest is written only after the lease is checked in the catalog,
/// and the execution's outcome is recorded in the transaction that completes the job. A
/// takeover (a later attempt) first looks for a snapshot the earlier attempt committed before
/// it died, and adopts it instead of backing up again. The job's liveness follows the bytes
/// read, for the pool's stall watchdog.
async fn run_fenced(catalog: &Catalog, secrets: &SecretBox, id: &str, cancel: CancelFlag, job: Option<&ClaimedJob>) -> Result<(), ExecutionError> {
    let lease = job.map(|j| (j.lease(), j.attempts > 1));
    let execution = find(catalog, id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    let started = Instant::now();
    let (job_id, owner) = match &lease {
        Some((l, _)) => (Some(l.job_id.as_str()), Some(l.owner.as_str())),
        None => (None, None),
    };
    // The first attempt's start stays: a takeover's attempt is in the job's attempt history.
    let marked = sqlx::query(&format!(
        "UPDATE backup_executions SET status = 'running', started_at = COALESCE(started_at, $1), error_message = NULL WHERE id = $2 AND {}",
        holds_lease(3, 4)
    ))
    .bind(time::to_text(catalog.now().await?))
    .bind(id)
    .bind(job_id)
    .bind(owner)
    .execute(catalog.pool())
    .await?;
    if marked.rows_affected() == 0 {
        return Err(JobError::LeaseLost(job_id.unwrap_or_default().to_string()).into());
    }
    if let Some((lease, true)) = &lease {
        if let Some((location_id, snapshot, metadata)) = committed_before(catalog, secrets, &configuration, id).await? {
            tracing::warn!(execution = %id, snapshot = %snapshot.id, "an earlier attempt committed this backup before it stopped; adopting its snapshot");
            return record_completed(catalog, id, &configuration.id, Some(lease), &location_id, &snapshot, metadata, started, None).await;
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
            record_completed(catalog, id, &configuration.id, lease, &location_id, &snapshot, metadata, started, Some(&progress)).await?;
            test_hook::pause_at("after-complete");
            Ok(())
        }
        Err(ExecutionError::Repo(RepoError::Cancelled)) if liveness.as_ref().is_some_and(|l| l.is_stalled()) => {
            let message = "stopped by the watchdog: the backup read nothing for longer than the stall limit (--job-stall-minutes)";
            finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "failed", message).await?;
            Err(RepoError::Cancelled.into())
        }
        Err(ExecutionError::Repo(RepoError::Cancelled)) => {
            finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "cancelled", &RepoError::Cancelled.to_string()).await?;
            Err(RepoError::Cancelled.into())
        }
        Err(e) => {
            finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "failed", &e.to_string()).await?;
            Err(e)
        }
    }
}

/// An SQL condition: true when no lease fences the statement (parameter `job` NULL), or while
/// that job runs under parameter `owner`.
fn holds_lease(job: usize, owner: usize) -> String {
    format!("(${job} IS NULL OR EXISTS (SELECT 1 FROM jobs WHERE id = ${job} AND lease_owner = ${owner} AND state = 'running'))")
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

/// Records a completed execution; under a lease, in the transaction that completes its job
/// (and not at all once the lease is lost). Retried through a catalog outage.
#[allow(clippy::too_many_arguments)]
async fn record_completed(
    catalog: &Catalog,
    id: &str,
    configuration_id: &str,
    lease: Option<&Lease>,
    location_id: &str,
    snapshot: &Snapshot,
    metadata: serde_json::Value,
    started: Instant,
    progress: Option<&Progress>,
) -> Result<(), ExecutionError> {
    let checksum = match &snapshot.content {
        Content::Stream { sha256, .. } => sha256.clone(),
        Content::Tree { tree_sha256, .. } => tree_sha256.clone(),
    };
    let s = &snapshot.summary;
    let duration = started.elapsed().as_secs_f64();
    let final_progress = match progress {
        Some(p) => progress_json(p, duration, true),
        None => serde_json::json!({ "bytesRead": s.bytes, "bytesNew": s.new_bytes, "bytesTotal": s.bytes, "percent": 100.0, "adopted": true }),
    }
    .to_string();
    let metadata = metadata.to_string();
    write_outcome(id, || async {
        let mut tx = catalog.pool().begin().await?;
        if let Some(lease) = lease {
            jobs::complete_in(&mut tx, &lease.job_id, &lease.owner).await?;
        }
        let completed_at = time::to_text(crate::catalog::now_on(&mut tx).await?);
        sqlx::query(
            "UPDATE backup_executions SET status = 'completed', storage_location_id = $1, snapshot_id = $2, completed_at = $3,
                 duration_seconds = $4, size_bytes = $5, compressed_size_bytes = $6, new_bytes = $7, checksum = $8,
                 recovery_metadata = $9, progress = $10
             WHERE id = $11",
        )
        .bind(location_id)
        .bind(&snapshot.id)
        .bind(&completed_at)
        .bind(duration)
        .bind(s.bytes as i64)
        .bind(s.stored_bytes as i64)
        .bind(s.new_bytes as i64)
        .bind(&checksum)
        .bind(&metadata)
        .bind(&final_progress)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let event = serde_json::json!({ "executionId": id, "configurationId": configuration_id, "locationId": location_id, "snapshotId": snapshot.id });
        events::publish_in(&mut tx, EventKind::BackupCompleted, id, event).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// Ends an execution that wrote no snapshot: `failed` or `cancelled` (under a lease, only
/// while it is held).
async fn finish(catalog: &Catalog, id: &str, configuration_id: &str, lease: Option<&Lease>, status: &str, message: &str) -> Result<(), ExecutionError> {
    write_outcome(id, || async {
        let mut tx = catalog.pool().begin().await?;
        let completed_at = time::to_text(crate::catalog::now_on(&mut tx).await?);
        let ended = sqlx::query(&format!("UPDATE backup_executions SET status = $1, completed_at = $2, error_message = $3 WHERE id = $4 AND {}", holds_lease(5, 6)))
            .bind(status)
            .bind(&completed_at)
            .bind(message)
            .bind(id)
            .bind(lease.map(|l| l.job_id.as_str()))
            .bind(lease.map(|l| l.owner.as_str()))
            .execute(&mut *tx)
            .await?;
        if ended.rows_affected() > 0 {
            let event = serde_json::json!({ "executionId": id, "configurationId": configuration_id, "status": status, "message": message });
            events::publish_in(&mut tx, EventKind::BackupFailed, id, event).await?;
        }
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// How long the final write of a run is retried through a catalog outage.
const OUTCOME_RETRY: std::time::Duration = std::time::Duration::from_secs(300);

/// Writes a run's outcome, retrying while the catalog cannot be reached (up to
/// [`OUTCOME_RETRY`], waiting 1, 2, 4 … 30 s between tries): the backup is done either way, and
/// an execution left `running` would hold its configuration until reconciliation ends it.
async fn write_outcome<F>(id: &str, mut write: impl FnMut() -> F) -> Result<(), ExecutionError>
where
    F: std::future::Future<Output = Result<(), ExecutionError>>,
{
    let deadline = Instant::now() + OUTCOME_RETRY;
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        match write().await {
            Ok(()) => return Ok(()),
            Err(e) if e.catalog_unreachable() && Instant::now() + wait < deadline => {
                tracing::warn!(execution = %id, error = %e, "recording the outcome failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            Err(e) => return Err(e),
        }
    }
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
    let mut options = BackupOptions {
        source: configuration.source_identifier.clone(),
        tags: vec![format!("configuration:{}", configuration.id), execution_tag(&execution.id)],
        metadata: serde_json::json!({ "configurationId": configuration.id, "configuration": configuration.name, "sourceType": configuration.source_type }),
        progress,
        commit_check,
    };
    let (snapshot, metadata) = match configuration.source_type.as_str() {
        "filesystem" => {
            let root = std::path::PathBuf::from(&configuration.source_identifier);
            (backup::backup_tree(&repo, &root, options).await?, serde_json::json!({ "sourceType": "filesystem", "path": root }))
        }
        "postgresql" if crate::wal_archive::is_continuous(configuration) => {
            let database = Database { url: configuration.source_identifier.clone(), password: configuration.source_password(secrets)? };
            base_backup(&repo, &database, options).await?
        }
        "postgresql" => {
            let database = Database { url: configuration.source_identifier.clone(), password: configuration.source_password(secrets)? };
            let metadata = serde_json::to_value(database.metadata().await?).unwrap_or_default();
            options.metadata["postgresql"] = metadata.clone();
            options.source = format!("pg_dump {}", database.url);
            let dump = database.dump()?.stop_on(options.progress.cancel.clone());
            let snapshot = backup::backup_stream(&repo, dump, options).await.map_err(|e| match e {
                // The dump's own error (pg_dump's stderr) is what a person needs.
                RepoError::Source(message) => ExecutionError::Source(SourceError::Unavailable(message)),
                other => other.into(),
            })?;
            (snapshot, serde_json::json!({ "sourceType": "postgresql", "format": "pg_dump custom", "postgresql": metadata }))
        }
        "consistency_group" => group::back_up_group(catalog, secrets, configuration, execution, &repo, options).await?,
        "environment_vars" => back_up_config_files(&repo, &configuration.source_identifier, options).await?,
        "s3_bucket" | "supabase_storage" => back_up_bucket(catalog, &repo, configuration, &location_id, configuration.bucket(secrets)?, options).await?,
        other => return Err(ExecutionError::Invalid(format!("source type {other:?} cannot be backed up yet"))),
    };
    let mut metadata = metadata;
    if !skipped.is_empty() {
        metadata["skippedLocations"] = serde_json::json!(skipped);
    }
    Ok((location_id, snapshot, metadata))
}

/// The alert a location that cannot be reached raises.
pub const LOCATION_ALERT: &str = "location_unreachable";

/// The first of the configuration's locations, in its order, whose repository opens. One the
/// storage does not answer for is skipped (an alert is raised) while another is left to try;
/// any other problem (no repository, a wrong key) is an error a person must fix. Returns the
/// location, its repository, and the locations skipped with why.
async fn first_reachable(
    catalog: &Catalog,
    secrets: &SecretBox,
    configuration: &Configuration,
) -> Result<(String, crate::repo::Repository, Vec<serde_json::Value>), ExecutionError> {
    let ids = configuration.location_ids();
    if ids.is_empty() {
        return Err(ExecutionError::Invalid(format!("configuration {:?} has no storage location", configuration.name)));
    }
    let mut skipped = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let subject = format!("storage_location:{id}");
        match locations::open_repository(catalog, secrets, id).await {
            Ok(repo) => {
                crate::alerts::resolve(catalog, LOCATION_ALERT, &subject).await?;
                return Ok((id.clone(), repo, skipped));
            }
            Err(e @ (LocationError::Storage(_) | LocationError::Repo(RepoError::Storage(_)))) if i + 1 < ids.len() => {
                tracing::warn!(location = %id, error = %e, "storage location unreachable; trying the next");
                let message = format!("storage location {id} did not answer; the backup of {:?} went to the next location: {e}", configuration.name);
                crate::alerts::raise(catalog, LOCATION_ALERT, "high", &subject, &message).await?;
                skipped.push(serde_json::json!({ "storageLocationId": id, "error": e.to_string() }));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ExecutionError::Invalid(format!("configuration {:?}: no storage location could be opened", configuration.name)))
}

/// An environment file, or a directory of configuration files. The metadata names each
/// environment file's keys, never a value.
async fn back_up_config_files(repo: &crate::repo::Repository, path: &str, options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    use crate::repo::backup::Entry;
    use crate::repo::snapshot::{Node, NodeKind};
    let root = std::path::PathBuf::from(path);
    let unreadable = |e: std::io::Error| ExecutionError::Source(SourceError::Unavailable(format!("{path}: {e}")));
    let meta = std::fs::metadata(&root).map_err(unreadable)?;
    let snapshot = if meta.is_dir() {
        backup::backup_tree(repo, &root, options).await?
    } else {
        // One file: a listing of one entry, named as the file is.
        let name = root.file_name().and_then(|n| n.to_str()).ok_or_else(|| ExecutionError::Invalid(format!("{path}: not a file name")))?.to_string();
        let mtime_ns = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64);
        use std::os::unix::fs::PermissionsExt;
        let node = Node { path: name, kind: NodeKind::File, mode: meta.permissions().mode() & 0o7777, mtime_ns, size: meta.len(), sha256: None, chunks: vec![], target: None, object: None };
        let file = root.clone();
        let open: crate::repo::backup::EntryOpener = Box::new(move || Ok((None, Box::new(std::fs::File::open(&file)?) as Box<dyn std::io::Read + Send>)));
        backup::backup_listing(repo, vec![Entry { node, open: Some(open) }], options).await?
    };
    let files = crate::config_files::current_files(&root).map_err(unreadable)?;
    let env_files: Vec<serde_json::Value> = files
        .iter()
        .filter(|(rel, _)| crate::source::env_file::is_env_file(rel.rsplit('/').next().unwrap_or(rel)))
        .map(|(rel, file)| {
            let keys: Vec<String> = std::fs::read_to_string(file).map(|t| crate::source::env_file::parse(&t).into_keys().collect()).unwrap_or_default();
            serde_json::json!({ "path": rel, "keys": keys })
        })
        .collect();
    let metadata = serde_json::json!({ "sourceType": "environment_vars", "path": path, "files": files.len(), "environmentFiles": env_files });
    Ok((snapshot, metadata))
}

/// Every object of a bucket or prefix; objects whose ETag and size match the previous snapshot
/// of this configuration in this location are carried over unread.
async fn back_up_bucket(
    catalog: &Catalog,
    repo: &crate::repo::Repository,
    configuration: &Configuration,
    location_id: &str,
    bucket: crate::source::bucket::Bucket,
    mut options: BackupOptions,
) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    use crate::repo::backup::Entry;
    use crate::repo::snapshot::{Node, NodeKind};
    use crate::source::bucket::key_to_name;
    let heads = bucket.list().await?;
    let previous = previous_objects(catalog, repo, configuration, location_id).await?;
    let handle = tokio::runtime::Handle::current();
    let (mut read, mut carried) = (0u64, 0u64);
    let entries: Vec<Entry> = heads
        .into_iter()
        .map(|head| {
            let name = key_to_name(&head.key);
            match previous.get(&name) {
                Some(node) if node.size == head.size && head.etag.is_some() && node.object.as_ref().and_then(|o| o.etag.as_ref()) == head.etag.as_ref() => {
                    carried += 1;
                    Entry { node: node.clone(), open: None }
                }
                _ => {
                    read += 1;
                    let (bucket, handle, key) = (bucket.clone(), handle.clone(), head.key.clone());
                    let node = Node { path: name, kind: NodeKind::File, mode: 0o644, mtime_ns: head.modified_ns, size: head.size, sha256: None, chunks: vec![], target: None, object: None };
                    Entry { node, open: Some(Box::new(move || bucket.open(&handle, &key).map(|(attributes, reader)| (Some(attributes), reader)))) }
                }
            }
        })
        .collect();
    options.source = bucket.describe();
    let snapshot = backup::backup_listing(repo, entries, options).await.map_err(|e| match e {
        RepoError::Source(message) => ExecutionError::Source(SourceError::Unavailable(message)),
        other => other.into(),
    })?;
    let metadata = serde_json::json!({
        "sourceType": configuration.source_type,
        "bucket": bucket.describe(),
        "objects": read + carried,
        "objectsRead": read,
        "objectsCarriedOver": carried,
    });
    Ok((snapshot, metadata))
}

/// The objects of the newest completed snapshot of `configuration` in `location_id`, by name,
/// keeping only those whose every blob the repository still holds.
async fn previous_objects(
    catalog: &Catalog,
    repo: &crate::repo::Repository,
    configuration: &Configuration,
    location_id: &str,
) -> Result<std::collections::HashMap<String, crate::repo::snapshot::Node>, ExecutionError> {
    let last: Option<(String,)> = sqlx::query_as(
        "SELECT snapshot_id FROM backup_executions WHERE configuration_id = $1 AND storage_location_id = $2 AND status = 'completed'
           AND snapshot_id IS NOT NULL ORDER BY completed_at DESC LIMIT 1",
    )
    .bind(&configuration.id)
    .bind(location_id)
    .fetch_optional(catalog.pool())
    .await?;
    let Some((snapshot_id,)) = last else { return Ok(Default::default()) };
    // A forgotten snapshot only costs the re-read.
    let Ok(snapshot) = repo.load_snapshot(&snapshot_id).await else { return Ok(Default::default()) };
    let index = repo.load_index().await?;
    let nodes = crate::repo::tree::list_dir(repo, &index, &snapshot, "").await?;
    Ok(nodes
        .into_iter()
        .filter(|n| n.chunks.iter().all(|c| c.parse().is_ok_and(|id| index.contains(&id))))
        .map(|n| (n.path.clone(), n))
        .collect())
}

/// A physical base backup (the start of a continuous configuration's restorable window).
async fn base_backup(repo: &crate::repo::Repository, database: &Database, mut options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    let cluster = database.cluster_metadata().await?;
    if !cluster.replication_role {
        return Err(ExecutionError::Source(SourceError::Unavailable(format!(
            "the role of {} may not open replication connections, which pg_basebackup needs: ALTER ROLE … REPLICATION",
            database.url
        ))));
    }
    let cluster_json = serde_json::to_value(&cluster).unwrap_or_default();
    options.metadata["postgresql"] = cluster_json.clone();
    options.source = format!("pg_basebackup {}", database.url);
    let reader = database.base_backup()?.stop_on(options.progress.cancel.clone());
    let log = reader.log();
    let snapshot = backup::backup_stream(repo, reader, options).await.map_err(|e| match e {
        RepoError::Source(message) => ExecutionError::Source(SourceError::Unavailable(message)),
        other => other.into(),
    })?;
    let log = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let range = crate::source::postgres::parse_base_backup_log(&log)
        .ok_or_else(|| ExecutionError::Source(SourceError::Unavailable(format!("pg_basebackup did not report its WAL range: {}", log.trim()))))?;
    let start_file = range.start_file(cluster.wal_segment_bytes);
    let metadata = serde_json::json!({
        "sourceType": "postgresql",
        "format": "pg_basebackup tar",
        "postgresql": cluster_json,
        "wal": { "startLsn": range.start_lsn, "endLsn": range.end_lsn, "timeline": range.timeline, "startFile": start_file },
    });
    Ok((snapshot, metadata))
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
        let _ = sqlx::query("UPDATE backup_executions SET progress = $1 WHERE id = $2 AND status = 'running'")
            .bind(json.to_string())
            .bind(&id)
            .execute(catalog.pool())
            .await;
    }
}

fn progress_json(progress: &Progress, seconds: f64, done: bool) -> serde_json::Value {
    let read = progress.bytes_read.load(Ordering::Relaxed);
    let new = progress.bytes_new.load(Ordering::Relaxed);
    let total = progress.bytes_total.load(Ordering::Relaxed);
    let rate = if seconds > 0.0 { read as f64 / seconds } else { 0.0 };
    let percent = if done { 100.0 } else if total > 0 { (read as f64 * 100.0 / total as f64).min(99.9) } else { 0.0 };
    let eta = (total > read && rate > 0.0 && !done).then(|| ((total - read) as f64 / rate).round());
    serde_json::json!({
        "bytesRead": read,
        "bytesNew": new,
        "bytesTotal": (total > 0).then_some(total),
        "bytesPerSecond": rate.round(),
        "percent": (percent * 10.0).round() / 10.0,
        "etaSeconds": eta,
    })
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
            run_fenced(catalog, &self.secrets, id, cancel, Some(job)).await.map_err(|e| e.to_string())
        })
    }
}

/// How long a run of `configuration_id` is likely to take, in seconds: the mean of its last
/// five completed runs, or a minute when it has none yet (the seeds' `estimatedDuration`).
pub async fn estimated_duration(catalog: &Catalog, configuration_id: &str) -> Result<f64, ExecutionError> {
    let recent: Vec<f64> = sqlx::query_scalar(
        "SELECT duration_seconds FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND duration_seconds IS NOT NULL
         ORDER BY completed_at DESC LIMIT 5",
    )
    .bind(configuration_id)
    .fetch_all(catalog.pool())
    .await?;
    Ok(match recent.len() {
        0 => 60.0,
        n => (recent.iter().sum::<f64>() / n as f64).max(1.0),
    })
}
