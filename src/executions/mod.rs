//! Backup executions: one run of a configuration, from "Run now" (or a schedule) to a snapshot
//! in the configuration's first storage location. The worker that runs it writes its progress
//! to the catalog about once a second, so any node can stream it to a browser.


use std::time::Instant;

use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError, SerializedTx};
use crate::configurations::{self, Configuration, ConfigurationError};
use crate::error::{Classify, Kind};
use crate::platform::jobs::{self, JobError, Lease, NewJob};
use crate::locations::LocationError;
use crate::engine::repo::snapshot::{Content, Snapshot};
use crate::engine::repo::RepoError;
use crate::platform::secrets::SecretError;
use crate::engine::source::SourceError;
use crate::platform::events::{self, EventError, EventKind};
use crate::platform::time;

pub mod reconcile;
pub mod scheduled;

/// The type of an execution that backs up a restoration's target before the restore writes
/// over it (`crate::restoration::safety`): a backup of that place, not of the configuration's
/// source, so it never counts as the source's newest backup.
pub const SAFETY: &str = bulwark_types::SAFETY_EXECUTION_TYPE;

/// The SQL condition for executions that back up the configuration's own source (every type
/// but [`SAFETY`]); `e` is the table's alias, or empty.
pub fn of_source(alias: &str) -> String {
    let column = if alias.is_empty() { "execution_type".to_string() } else { format!("{alias}.execution_type") };
    format!("{column} <> '{SAFETY}'")
}

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
            | ExecutionError::Event(EventError::Catalog(CatalogError::Query(e)) | EventError::Job(JobError::Catalog(CatalogError::Query(e)))) => crate::platform::catalog::unreachable(e),
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

pub use bulwark_types::{Execution, ExecutionStatus, Progress};

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
    tx.commit().await?;
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
pub async fn insert(catalog: &Catalog, actor: &Actor, requested_by: &str, configuration: &Configuration, execution_type: &str) -> Result<String, ExecutionError> {
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let id = insert_in(&mut tx, actor, requested_by, configuration, execution_type, &(None, "{}".into())).await?;
    tx.commit().await?;
    Ok(id)
}

/// Records a running [`SAFETY`] execution of `configuration`: the backup a restoration takes of
/// its target before writing over it, run inside the restoration's own job. Backups of the
/// source may run meanwhile (it reads another place).
pub async fn insert_safety(catalog: &Catalog, actor: &Actor, requested_by: &str, configuration: &Configuration, note: &str) -> Result<String, ExecutionError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = time::to_text(catalog.now().await?);
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query(
        "INSERT INTO backup_executions (id, configuration_id, execution_type, status, requested_by, created_at, started_at, notes, tags)
         VALUES ($1, $2, $3, 'running', $4, $5, $5, $6, '{}')",
    )
    .bind(&id)
    .bind(&configuration.id)
    .bind(SAFETY)
    .bind(requested_by)
    .bind(&now)
    .bind(note)
    .execute(&mut *tx.tx)
    .await?;
    let detail = serde_json::json!({ "configuration": configuration.name, "executionType": SAFETY, "note": note });
    audit::append(&mut tx, Entry { actor, action: "backup_execution.start", target_type: "backup_execution", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
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
        sqlx::query_scalar(&format!("SELECT id FROM backup_executions WHERE configuration_id = $1 AND status IN ('queued', 'running') AND {} LIMIT 1", of_source("")))
            .bind(configuration_id)
            .fetch_optional(&mut *tx.tx)
            .await?;
    if let Some(busy) = busy {
        return Err(ExecutionError::Conflict(format!("configuration {:?} already has a backup under way ({busy})", configuration.name)));
    }
    // A restore about to write or writing over the source: backing it up now would record a
    // half-restored state (`restoration::jobs` records what each restoration writes over).
    let restoring: Option<String> = sqlx::query_scalar(
        "SELECT r.id FROM restoration_jobs r JOIN restoration_writes_over w ON w.restoration_id = r.id
          WHERE w.configuration_id = $1 AND r.status IN ('initiated', 'running') LIMIT 1",
    )
    .bind(configuration_id)
    .fetch_optional(&mut *tx.tx)
    .await?;
    if let Some(restoring) = restoring {
        return Err(ExecutionError::Conflict(format!("restoration {restoring} is writing over what {:?} backs up: back it up once the restore has ended", configuration.name)));
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
    tx.commit().await?;
    find(catalog, id).await
}

pub async fn find(catalog: &Catalog, id: &str) -> Result<Execution, ExecutionError> {
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

/// The newest backups of every configuration (safety snapshots left out), newest first.
pub async fn recent(catalog: &Catalog, actor: &Principal, limit: i64) -> Result<Vec<Execution>, ExecutionError> {
    actor.require(Role::Viewer)?;
    let sql = format!("SELECT {COLUMNS} FROM backup_executions WHERE {} ORDER BY created_at DESC, id DESC LIMIT $1", of_source(""));
    Ok(sqlx::query_as::<_, Execution>(&sql).bind(limit.clamp(1, 500)).fetch_all(catalog.pool()).await?)
}

/// What a completed run recorded: where its snapshot went, and what it measured.
pub struct Completion<'a> {
    pub location_id: &'a str,
    pub snapshot: &'a Snapshot,
    /// What a restore needs to know beyond the snapshot (`recovery_metadata`).
    pub metadata: serde_json::Value,
    pub duration_seconds: f64,
    /// The final progress figures (as [`record_progress`] writes them while it runs).
    pub progress: serde_json::Value,
}

/// Marks execution `id` running (under a lease, only while it is held). The first attempt's
/// start stays: a takeover's attempt is in the job's attempt history.
pub async fn mark_running(catalog: &Catalog, id: &str, lease: Option<&Lease>) -> Result<(), ExecutionError> {
    let marked = sqlx::query(&format!(
        "UPDATE backup_executions SET status = 'running', started_at = COALESCE(started_at, $1), error_message = NULL WHERE id = $2 AND {}",
        holds_lease(3, 4)
    ))
    .bind(time::to_text(catalog.now().await?))
    .bind(id)
    .bind(lease.map(|l| l.job_id.as_str()))
    .bind(lease.map(|l| l.owner.as_str()))
    .execute(catalog.pool())
    .await?;
    if marked.rows_affected() == 0 {
        return Err(JobError::LeaseLost(lease.map(|l| l.job_id.clone()).unwrap_or_default()).into());
    }
    Ok(())
}

/// Writes a running execution's progress figures (bytes read, rate, ETA); nothing once it ended.
pub async fn record_progress(catalog: &Catalog, id: &str, progress: &serde_json::Value) -> Result<(), ExecutionError> {
    sqlx::query("UPDATE backup_executions SET progress = $1 WHERE id = $2 AND status = 'running'")
        .bind(progress.to_string())
        .bind(id)
        .execute(catalog.pool())
        .await?;
    Ok(())
}

/// Records a completed execution and publishes `backup.completed`; under a lease, in the
/// transaction that completes its job (and not at all once the lease is lost). Retried through
/// a catalog outage.
pub async fn record_completed(catalog: &Catalog, id: &str, configuration_id: &str, lease: Option<&Lease>, done: Completion<'_>) -> Result<(), ExecutionError> {
    let snapshot = done.snapshot;
    let checksum = match &snapshot.content {
        Content::Stream { sha256, .. } => sha256.clone(),
        Content::Tree { tree_sha256, .. } => tree_sha256.clone(),
    };
    let s = &snapshot.summary;
    let (metadata, progress) = (done.metadata.to_string(), done.progress.to_string());
    write_outcome(id, || async {
        let mut tx = catalog.pool().begin().await?;
        if let Some(lease) = lease {
            jobs::complete_in(&mut tx, &lease.job_id, &lease.owner).await?;
        }
        let completed_at = time::to_text(crate::platform::catalog::now_on(&mut tx).await?);
        sqlx::query(
            "UPDATE backup_executions SET status = 'completed', storage_location_id = $1, snapshot_id = $2, completed_at = $3,
                 duration_seconds = $4, size_bytes = $5, compressed_size_bytes = $6, new_bytes = $7, checksum = $8,
                 recovery_metadata = $9, progress = $10
             WHERE id = $11",
        )
        .bind(done.location_id)
        .bind(&snapshot.id)
        .bind(&completed_at)
        .bind(done.duration_seconds)
        .bind(s.bytes as i64)
        .bind(s.stored_bytes as i64)
        .bind(s.new_bytes as i64)
        .bind(&checksum)
        .bind(&metadata)
        .bind(&progress)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let event = serde_json::json!({ "executionId": id, "configurationId": configuration_id, "locationId": done.location_id, "snapshotId": snapshot.id });
        events::publish_in(&mut tx, EventKind::BackupCompleted, id, event).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// Ends an execution that wrote no snapshot, `failed` or `cancelled`, and publishes
/// `backup.failed` (under a lease, only while it is held).
pub async fn finish(catalog: &Catalog, id: &str, configuration_id: &str, lease: Option<&Lease>, status: &str, message: &str) -> Result<(), ExecutionError> {
    write_outcome(id, || async {
        let mut tx = catalog.pool().begin().await?;
        let completed_at = time::to_text(crate::platform::catalog::now_on(&mut tx).await?);
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

/// An SQL condition: true when no lease fences the statement (parameter `job` NULL), or while
/// that job runs under parameter `owner`.
fn holds_lease(job: usize, owner: usize) -> String {
    format!("(${job} IS NULL OR EXISTS (SELECT 1 FROM jobs WHERE id = ${job} AND lease_owner = ${owner} AND state = 'running'))")
}

/// Records the outcome of reading a backup back (`verified` or `failed`); a failure publishes
/// `verification.failed` in the same transaction. Returns when it was recorded.
pub async fn record_verification(catalog: &Catalog, id: &str, status: &str, problems: &[String]) -> Result<String, ExecutionError> {
    let mut tx = catalog.pool().begin().await?;
    let now = time::to_text(crate::platform::catalog::now_on(&mut tx).await?);
    sqlx::query("UPDATE backup_executions SET verification_status = $1, verified_at = $2 WHERE id = $3")
        .bind(status)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if status == "failed" {
        events::publish_in(&mut tx, EventKind::VerificationFailed, id, serde_json::json!({ "executionId": id, "problems": problems })).await?;
    }
    tx.commit().await?;
    Ok(now)
}

/// Records, inside the caller's transaction, that the backup of execution `id` was deleted at
/// `at`; the row stays as history.
pub async fn mark_deleted_in(conn: &mut sqlx::AnyConnection, id: &str, at: &str) -> Result<(), ExecutionError> {
    sqlx::query("UPDATE backup_executions SET deleted_at = $1 WHERE id = $2").bind(at).bind(id).execute(conn).await?;
    Ok(())
}

/// A completed backup found in a repository that the catalog does not know (`crate::rebuild`).
pub struct Rebuilt<'a> {
    pub configuration_id: &'a str,
    pub location_id: &'a str,
    pub snapshot: &'a Snapshot,
    /// When the snapshot was taken, as catalog time text.
    pub taken_at: &'a str,
    pub metadata: serde_json::Value,
}

/// Records a completed execution of type `rebuilt` for a snapshot found in a repository.
pub async fn insert_rebuilt(catalog: &Catalog, found: Rebuilt<'_>) -> Result<String, ExecutionError> {
    let snapshot = found.snapshot;
    let checksum = match &snapshot.content {
        Content::Stream { sha256, .. } => sha256.clone(),
        Content::Tree { tree_sha256, .. } => tree_sha256.clone(),
    };
    let s = &snapshot.summary;
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO backup_executions (id, configuration_id, execution_type, status, storage_location_id, snapshot_id, started_at, completed_at,
             duration_seconds, size_bytes, compressed_size_bytes, new_bytes, checksum, recovery_metadata, requested_by, created_at)
         VALUES ($1, $2, 'rebuilt', 'completed', $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, 'catalog rebuild', $5)",
    )
    .bind(&id)
    .bind(found.configuration_id)
    .bind(found.location_id)
    .bind(&snapshot.id)
    .bind(found.taken_at)
    .bind(s.duration_ms as f64 / 1000.0)
    .bind(s.bytes as i64)
    .bind(s.stored_bytes as i64)
    .bind(s.new_bytes as i64)
    .bind(&checksum)
    .bind(found.metadata.to_string())
    .execute(catalog.pool())
    .await?;
    Ok(id)
}

/// The snapshot of the newest completed execution of `configuration_id` in `location_id`.
pub async fn last_snapshot(catalog: &Catalog, configuration_id: &str, location_id: &str) -> Result<Option<String>, ExecutionError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT snapshot_id FROM backup_executions WHERE configuration_id = $1 AND storage_location_id = $2 AND status = 'completed'
           AND snapshot_id IS NOT NULL AND {} ORDER BY completed_at DESC LIMIT 1",
        of_source("")
    ))
    .bind(configuration_id)
    .bind(location_id)
    .fetch_optional(catalog.pool())
    .await?)
}

/// How long a run of `configuration_id` is likely to take, in seconds: the mean of its last
/// five completed runs, or a minute when it has none yet (the seeds' `estimatedDuration`).
pub async fn estimated_duration(catalog: &Catalog, configuration_id: &str) -> Result<f64, ExecutionError> {
    let recent: Vec<f64> = sqlx::query_scalar(&format!(
        "SELECT duration_seconds FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND duration_seconds IS NOT NULL
           AND {} ORDER BY completed_at DESC LIMIT 5",
        of_source("")
    ))
    .bind(configuration_id)
    .fetch_all(catalog.pool())
    .await?;
    Ok(match recent.len() {
        0 => 60.0,
        n => (recent.iter().sum::<f64>() / n as f64).max(1.0),
    })
}
