//! Retention: which backups are deleted, when, and what can stop it.
//!
//! A configuration's policy (`configurations::retention_policy`) proposes; the storage location's floor
//! (`retention::floor`) and legal holds (`retention::holds`) dispose: nothing younger than the
//! floor's minimum and nothing on an active hold is ever deleted, by the cleanup or by hand;
//! nothing older than the floor's maximum is kept unless held. A deletion forgets the snapshot
//! and prunes the repository under its exclusive lock, so the space freed is measured, not
//! guessed; a dry run reports the same figures without touching anything.

pub mod floor;
pub mod holds;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::error::{Classify, Kind};
use crate::executions::{self, ExecutionError};
use crate::platform::jobs::{self, JobError, NewJob};
use crate::locations::{self, LocationError};
use crate::engine::repo::{RepoError, Repository, object_lock, prune};
use crate::platform::secrets::SecretBox;
use crate::platform::time;
use crate::configurations::retention_policy::RetentionPolicy;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A legal hold or a locked floor refuses; nobody can override it.
    #[error("{0}")]
    Locked(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Job(#[from] JobError),
}

impl From<sqlx::Error> for RetentionError {
    fn from(e: sqlx::Error) -> Self {
        RetentionError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for RetentionError {
    fn kind(&self) -> Kind {
        match self {
            RetentionError::Invalid(_) => Kind::Invalid,
            RetentionError::NotFound(_) => Kind::NotFound,
            RetentionError::Conflict(_) => Kind::Conflict,
            RetentionError::Locked(_) => Kind::Forbidden,
            RetentionError::Auth(e) => e.kind(),
            RetentionError::Catalog(e) => e.kind(),
            RetentionError::Execution(e) => e.kind(),
            RetentionError::Location(e) => e.kind(),
            RetentionError::Repo(e) => e.kind(),
            RetentionError::Job(e) => e.kind(),
        }
    }
}

/// One backup the cleanup deletes (or, in a dry run, would delete), or keeps against its
/// policy's wish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub execution_id: String,
    pub configuration_id: String,
    pub configuration_name: String,
    pub storage_location_id: String,
    pub completed_at: String,
    pub size_bytes: Option<i64>,
    /// Why it goes (the rule), or why it stays although the policy lets it go.
    pub reason: String,
}

/// Space given back on one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationOutcome {
    pub storage_location_id: String,
    pub snapshots_deleted: u64,
    pub bytes_freed: u64,
    pub packs_deleted: u64,
    pub packs_repacked: u64,
    /// Unused data the storage still locks (S3 Object Lock): a later cleanup frees it.
    pub bytes_locked: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CleanupReport {
    pub dry_run: bool,
    pub deleted: Vec<Candidate>,
    /// Backups the policy would delete but a legal hold or the location's minimum keeps.
    pub held: Vec<Candidate>,
    pub locations: Vec<LocationOutcome>,
    pub bytes_freed: u64,
    pub bytes_locked: u64,
}

/// A completed, not yet deleted backup as the cleanup sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Backup {
    id: String,
    configuration_id: String,
    storage_location_id: String,
    snapshot_id: String,
    completed_at: String,
    size_bytes: Option<i64>,
    compressed_size_bytes: Option<i64>,
    execution_type: String,
}

/// Applies every configuration's policy and every location's floor. A dry run (operators)
/// reports what would go and the space it would free; a real run (admins) deletes it.
pub async fn cleanup(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, dry_run: bool) -> Result<CleanupReport, RetentionError> {
    cleanup_of(catalog, secrets, actor, dry_run, &[]).await
}

/// [`cleanup`] of the backups of `configuration_ids` only (all when empty).
pub async fn cleanup_of(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, dry_run: bool, configuration_ids: &[String]) -> Result<CleanupReport, RetentionError> {
    actor.require(if dry_run { Role::Operator } else { Role::Admin })?;
    for id in configuration_ids {
        let known: Option<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE id = $1").bind(id).fetch_optional(catalog.pool()).await?;
        if known.is_none() {
            return Err(RetentionError::Invalid(format!("configurationIds: configuration {id} not found")));
        }
    }
    let now = Utc::now();
    let backups: Vec<Backup> = sqlx::query_as(
        "SELECT id, configuration_id, storage_location_id, snapshot_id, completed_at, size_bytes, compressed_size_bytes, execution_type FROM backup_executions
         WHERE status = 'completed' AND deleted_at IS NULL AND snapshot_id IS NOT NULL AND storage_location_id IS NOT NULL AND completed_at IS NOT NULL
         ORDER BY completed_at DESC",
    )
    .fetch_all(catalog.pool())
    .await?;
    let configurations: HashMap<String, (String, String)> = sqlx::query_as::<_, (String, String, String)>("SELECT id, name, retention_policy FROM backup_configurations")
        .fetch_all(catalog.pool())
        .await?
        .into_iter()
        .map(|(id, name, policy)| (id, (name, policy)))
        .collect();
    let mut floors: HashMap<String, floor::Floor> = HashMap::new();
    for b in &backups {
        if !floors.contains_key(&b.storage_location_id) {
            floors.insert(b.storage_location_id.clone(), floor::get(catalog, &b.storage_location_id).await?);
        }
    }

    // The policy's verdicts, configuration by configuration (newest first). A configuration's
    // safety backups (of restoration targets) are counted apart: they never take the place of
    // a backup of its source in a "keep the last n".
    let mut by_configuration: BTreeMap<(&str, bool), Vec<&Backup>> = BTreeMap::new();
    for b in backups.iter().filter(|b| configuration_ids.is_empty() || configuration_ids.contains(&b.configuration_id)) {
        by_configuration.entry((b.configuration_id.as_str(), b.execution_type == crate::executions::SAFETY)).or_default().push(b);
    }
    let mut report = CleanupReport { dry_run, deleted: Vec::new(), held: Vec::new(), locations: Vec::new(), bytes_freed: 0, bytes_locked: 0 };
    for ((configuration_id, _), list) in by_configuration {
        let (name, policy_json) = configurations.get(configuration_id).cloned().unwrap_or_default();
        let policy = serde_json::from_str(&policy_json).ok().and_then(|j| RetentionPolicy::parse(&j).ok()).unwrap_or_default();
        let times: Vec<(String, DateTime<Utc>)> = list.iter().map(|b| (b.id.clone(), time::parse(&b.completed_at).unwrap_or(now))).collect();
        for (b, verdict) in list.iter().zip(policy.plan(&times, now)) {
            let floor = floors.get(&b.storage_location_id).cloned().unwrap_or_default();
            let completed = time::parse(&b.completed_at).unwrap_or(now);
            let past_max = floor.max_days.is_some_and(|d| completed < now - Duration::days(d));
            let (goes, reason) = if past_max {
                (true, format!("older than the location's maximum of {} days", floor.max_days.unwrap_or(0)))
            } else {
                (!verdict.keep, verdict.reason)
            };
            if !goes {
                continue;
            }
            let candidate = Candidate {
                execution_id: b.id.clone(),
                configuration_id: b.configuration_id.clone(),
                configuration_name: name.clone(),
                storage_location_id: b.storage_location_id.clone(),
                completed_at: b.completed_at.clone(),
                size_bytes: b.size_bytes,
                reason,
            };
            match keeper(catalog, &floor, completed, now, &b.id).await? {
                Some(why) => report.held.push(Candidate { reason: why, ..candidate }),
                None => report.deleted.push(candidate),
            }
        }
    }

    // Per location: forget and prune (or only measure, in a dry run).
    let snapshot_of: HashMap<&str, &Backup> = backups.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut per_location: BTreeMap<String, Vec<&Backup>> = BTreeMap::new();
    for c in &report.deleted {
        if let Some(b) = snapshot_of.get(c.execution_id.as_str()) {
            per_location.entry(c.storage_location_id.clone()).or_default().push(b);
        }
    }
    for (location_id, doomed) in per_location {
        let repo = locations::open_repository(catalog, secrets, &location_id).await?;
        // Storage that still locks a snapshot (S3 Object Lock) keeps it: report it held.
        let mut unlocked = Vec::new();
        for b in doomed {
            match object_lock::snapshot_locked_until(&repo, &b.snapshot_id).await? {
                Some(until) => {
                    let at = report.deleted.iter().position(|c| c.execution_id == b.id).expect("a doomed backup is a candidate");
                    let candidate = report.deleted.remove(at);
                    report.held.push(Candidate { reason: format!("under S3 Object Lock until {until}"), ..candidate });
                }
                None => unlocked.push(b),
            }
        }
        if unlocked.is_empty() {
            continue;
        }
        let outcome = delete_snapshots(catalog, &repo, actor, &location_id, &unlocked, dry_run).await?;
        report.bytes_freed += outcome.bytes_freed;
        report.bytes_locked += outcome.bytes_locked;
        report.locations.push(outcome);
    }
    if !dry_run {
        let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
        let detail = serde_json::json!({ "deleted": report.deleted.len(), "held": report.held.len(), "bytesFreed": report.bytes_freed });
        audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "retention.cleanup", target_type: "retention", target_id: None, detail }).await?;
        tx.commit().await?;
    }
    Ok(report)
}

/// The job kind of the periodic cleanup.
pub const JOB_KIND: &str = "retention.cleanup";
/// The job kind of a cleanup someone asked for ([`request_cleanup`]).
pub const REQUESTED_JOB_KIND: &str = "retention.cleanup.requested";

/// A cleanup put on the queue, with what a dry run says it will do (the seeds' answer to
/// `retention/cleanup`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestedCleanup {
    /// The job that deletes.
    pub cleanup_id: String,
    /// `initiated`.
    pub status: &'static str,
    pub estimated_space_freed: u64,
    pub backups_to_delete: usize,
    /// The dry run the estimate comes from.
    pub preview: CleanupReport,
}

/// Measures a cleanup (of `configuration_ids`, or all) and queues the real one (admins); the
/// worker runs it in the name of the person who asked.
pub async fn request_cleanup(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, configuration_ids: &[String]) -> Result<RequestedCleanup, RetentionError> {
    actor.require(Role::Admin)?;
    let preview = cleanup_of(catalog, secrets, actor, true, configuration_ids).await?;
    let payload = serde_json::json!({ "configurationIds": configuration_ids, "requestedBy": actor.username });
    let cleanup_id = jobs::enqueue(catalog, NewJob { priority: 4, max_attempts: 3, ..NewJob::new(REQUESTED_JOB_KIND, payload) }).await?;
    Ok(RequestedCleanup { cleanup_id, status: "initiated", estimated_space_freed: preview.bytes_freed, backups_to_delete: preview.deleted.len(), preview })
}

/// Why a backup must stay although something wants it gone: an active legal hold, or the
/// location's minimum age.
async fn keeper(catalog: &Catalog, floor: &floor::Floor, completed: DateTime<Utc>, now: DateTime<Utc>, execution_id: &str) -> Result<Option<String>, RetentionError> {
    if let Some(hold) = holds::active(catalog, execution_id).await? {
        return Ok(Some(format!("legal hold {:?} ({})", hold.title, hold.reason)));
    }
    if let Some(min) = floor.min_days
        && completed > now - Duration::days(min)
    {
        return Ok(Some(format!("younger than the location's minimum of {min} days")));
    }
    Ok(None)
}

/// Forgets `doomed` on one location and prunes it, recording each execution as deleted with
/// its share of the space freed (in proportion to what it had stored).
async fn delete_snapshots(catalog: &Catalog, repo: &Repository, actor: &Principal, location_id: &str, doomed: &[&Backup], dry_run: bool) -> Result<LocationOutcome, RetentionError> {
    let ids: Vec<String> = doomed.iter().map(|b| b.snapshot_id.clone()).collect();
    let report = if dry_run {
        let excluded: HashSet<String> = ids.iter().cloned().collect();
        prune::prune_without(repo, &excluded).await?
    } else {
        prune::forget(repo, &ids).await?;
        prune::prune(repo, false).await?
    };
    if !dry_run {
        let stored: i64 = doomed.iter().map(|b| b.compressed_size_bytes.unwrap_or(0).max(0)).sum();
        let now = time::now_text();
        let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
        for b in doomed {
            let share = if stored > 0 { (report.bytes_freed as f64 * b.compressed_size_bytes.unwrap_or(0).max(0) as f64 / stored as f64).round() as i64 } else { 0 };
            executions::mark_deleted_in(&mut tx.tx, &b.id, &now).await?;
            ensure_tracking(&mut tx.tx, &b.id, "{}").await?;
            sqlx::query("UPDATE backup_retention_tracking SET deleted_at = $1, size_freed_bytes = $2 WHERE execution_id = $3")
                .bind(&now)
                .bind(share)
                .bind(&b.id)
                .execute(&mut *tx.tx)
                .await?;
            let detail = serde_json::json!({ "snapshotId": b.snapshot_id, "storageLocationId": location_id, "sizeFreedBytes": share });
            audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "backup_execution.delete", target_type: "backup_execution", target_id: Some(&b.id), detail }).await?;
        }
        tx.commit().await?;
    }
    Ok(LocationOutcome {
        storage_location_id: location_id.to_string(),
        snapshots_deleted: ids.len() as u64,
        bytes_freed: report.bytes_freed,
        packs_deleted: report.packs_deleted,
        packs_repacked: report.packs_repacked,
        bytes_locked: report.bytes_locked,
    })
}

/// Deletes one backup by hand (admins), unless a legal hold or the location's floor keeps it.
pub async fn delete_execution(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, execution_id: &str) -> Result<LocationOutcome, RetentionError> {
    actor.require(Role::Admin)?;
    let backup: Option<Backup> = sqlx::query_as(
        "SELECT id, configuration_id, storage_location_id, snapshot_id, completed_at, size_bytes, compressed_size_bytes, execution_type FROM backup_executions
         WHERE id = $1 AND status = 'completed' AND deleted_at IS NULL AND snapshot_id IS NOT NULL AND storage_location_id IS NOT NULL AND completed_at IS NOT NULL",
    )
    .bind(execution_id)
    .fetch_optional(catalog.pool())
    .await?;
    let Some(backup) = backup else {
        let execution = executions::get(catalog, actor, execution_id).await?;
        return Err(RetentionError::Conflict(match execution.deleted_at {
            Some(at) => format!("backup execution {execution_id} was already deleted ({at})"),
            None => format!("backup execution {execution_id} holds no backup to delete ({})", execution.status),
        }));
    };
    let floor = floor::get(catalog, &backup.storage_location_id).await?;
    let completed = time::parse(&backup.completed_at).unwrap_or_else(Utc::now);
    if let Some(why) = keeper(catalog, &floor, completed, Utc::now(), execution_id).await? {
        return Err(RetentionError::Locked(format!("backup execution {execution_id} cannot be deleted: {why}")));
    }
    let repo = locations::open_repository(catalog, secrets, &backup.storage_location_id).await?;
    if let Some(until) = object_lock::snapshot_locked_until(&repo, &backup.snapshot_id).await? {
        return Err(RetentionError::Locked(format!("backup execution {execution_id} cannot be deleted: it is under S3 Object Lock until {until}")));
    }
    delete_snapshots(catalog, &repo, actor, &backup.storage_location_id, &[&backup], false).await
}

/// Records a completed execution's retention row: the policy it was made under and, when the
/// policy or the location has a maximum age, the date it will be deleted. On a location with
/// S3 Object Lock the backup's objects are then locked until that date, so the storage itself
/// refuses to delete it early.
pub async fn track(catalog: &Catalog, secrets: &SecretBox, execution_id: &str) -> Result<(), RetentionError> {
    let row: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT c.retention_policy, e.completed_at, e.storage_location_id, e.snapshot_id FROM backup_executions e
         JOIN backup_configurations c ON c.id = e.configuration_id WHERE e.id = $1",
    )
    .bind(execution_id)
    .fetch_optional(catalog.pool())
    .await?;
    let Some((policy_json, completed_at, location_id, snapshot_id)) = row else { return Ok(()) };
    let policy = serde_json::from_str(&policy_json).ok().and_then(|j| RetentionPolicy::parse(&j).ok()).unwrap_or_default();
    let location_max = match &location_id {
        Some(id) => floor::get(catalog, id).await?.max_days,
        None => None,
    };
    let days = [policy.max_age_days.map(i64::from), location_max].into_iter().flatten().min();
    let deletion = days.zip(time::parse(&completed_at)).map(|(d, at)| at + Duration::days(d));
    let mut conn = catalog.pool().acquire().await?;
    ensure_tracking(&mut conn, execution_id, &policy_json).await?;
    sqlx::query("UPDATE backup_retention_tracking SET scheduled_deletion_date = $1 WHERE execution_id = $2")
        .bind(deletion.map(time::to_text))
        .bind(execution_id)
        .execute(&mut *conn)
        .await?;
    drop(conn);
    if let (Some(deletion), Some(location_id), Some(snapshot_id)) = (deletion, location_id, snapshot_id)
        && locations::find(catalog, &location_id).await?.object_lock_days.is_some()
    {
        let repo = locations::open_repository(catalog, secrets, &location_id).await?;
        object_lock::retain_snapshot(&repo, &snapshot_id, deletion.into()).await?;
    }
    Ok(())
}

/// Creates an execution's tracking row, with the policy it was made under, if it has none.
async fn ensure_tracking(conn: &mut sqlx::AnyConnection, execution_id: &str, policy: &str) -> Result<(), RetentionError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM backup_retention_tracking WHERE execution_id = $1").bind(execution_id).fetch_optional(&mut *conn).await?;
    if exists.is_none() {
        sqlx::query("INSERT INTO backup_retention_tracking (id, execution_id, retention_policy, created_at) VALUES ($1, $2, $3, $4)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(execution_id)
            .bind(policy)
            .bind(time::now_text())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// An execution's retention row, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tracking {
    #[schema(value_type = serde_json::Value)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub retention_policy: String,
    pub scheduled_deletion_date: Option<String>,
    pub deleted_at: Option<String>,
    pub size_freed_bytes: Option<i64>,
}

pub async fn tracking(catalog: &Catalog, actor: &Principal, execution_id: &str) -> Result<Option<Tracking>, RetentionError> {
    actor.require(Role::Viewer)?;
    Ok(sqlx::query_as::<_, Tracking>("SELECT retention_policy, scheduled_deletion_date, deleted_at, size_freed_bytes FROM backup_retention_tracking WHERE execution_id = $1")
        .bind(execution_id)
        .fetch_optional(catalog.pool())
        .await?)
}
