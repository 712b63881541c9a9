//! Replication: a location's repository copied to another location (a second region, a
//! colder archive tier). The target becomes a replica of the same repository, same id and same
//! keys, so it restores on its own with the source's recovery kit. Repository objects never
//! change once written (packs and snapshots are named by content or id), so a run copies only
//! the objects the target lacks, in commit order (keys, packs, indexes, snapshots, WAL): a
//! snapshot reaches the target only after its data. The source is held with a shared lock, so
//! no prune removes a pack mid-copy. After the copy the target's structure is checked and every
//! snapshot copied in this run is read back whole.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::alerts::{AlertType, Severity};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::error::{Classify, Kind};
use crate::platform::jobs::{self, JobError, NewJob};
use crate::locations::{self, LocationError};
use crate::engine::repo::{RepoError, check, format};
use crate::platform::secrets::{SecretBox, SecretError};
use crate::engine::storage::StorageError;
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum ReplicateError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Job(#[from] JobError),
}

impl From<sqlx::Error> for ReplicateError {
    fn from(e: sqlx::Error) -> Self {
        ReplicateError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for ReplicateError {
    fn kind(&self) -> Kind {
        match self {
            ReplicateError::Invalid(_) => Kind::Invalid,
            ReplicateError::NotFound(_) => Kind::NotFound,
            ReplicateError::Conflict(_) => Kind::Conflict,
            ReplicateError::Auth(e) => e.kind(),
            ReplicateError::Catalog(e) => e.kind(),
            ReplicateError::Location(e) => e.kind(),
            ReplicateError::Secret(e) => e.kind(),
            ReplicateError::Repo(e) => e.kind(),
            ReplicateError::Storage(e) => e.kind(),
            ReplicateError::Job(e) => e.kind(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationRun {
    pub id: String,
    pub source_location_id: String,
    pub target_location_id: String,
    /// queued, running, completed or failed.
    pub status: bulwark_types::ReplicationStatus,
    pub objects_copied: i64,
    pub bytes_copied: i64,
    pub objects_skipped: i64,
    pub snapshots_verified: i64,
    /// Objects the source no longer has, removed from the target, and their bytes.
    pub objects_deleted: i64,
    pub bytes_deleted: i64,
    /// Such objects the target's Object Lock still keeps.
    pub objects_locked: i64,
    pub error: Option<String>,
    pub requested_by: String,
    pub created_at: String,
    pub completed_at: Option<String>,
}

const COLUMNS: &str = "id, source_location_id, target_location_id, status, objects_copied, bytes_copied, objects_skipped, snapshots_verified, \
    objects_deleted, bytes_deleted, objects_locked, error, requested_by, created_at, completed_at";

/// The job kind of a copy.
pub const JOB_KIND: &str = "replicate";

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewReplication {
    pub target_location_id: String,
}

/// Queues a copy of `source_id`'s repository to another location (admins: it gives the target
/// the source's key).
pub async fn schedule(catalog: &Catalog, actor: &Principal, source_id: &str, request: NewReplication) -> Result<ReplicationRun, ReplicateError> {
    actor.require(Role::Admin)?;
    check_pair(catalog, source_id, &request.target_location_id).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let id = queue(&mut tx, source_id, &request.target_location_id, &actor.username).await?;
    let detail = serde_json::json!({ "sourceLocationId": source_id, "targetLocationId": request.target_location_id });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "replication.schedule", target_type: "replication_run", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    get(catalog, &id).await
}

/// Inserts a queued run and its job.
async fn queue(tx: &mut crate::platform::catalog::SerializedTx<'_>, source_id: &str, target_id: &str, requested_by: &str) -> Result<String, ReplicateError> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(&format!("INSERT INTO replication_runs ({COLUMNS}) VALUES ($1, $2, $3, 'queued', 0, 0, 0, 0, 0, 0, 0, NULL, $4, $5, NULL)"))
        .bind(&id)
        .bind(source_id)
        .bind(target_id)
        .bind(requested_by)
        .bind(time::now_text())
        .execute(&mut *tx.tx)
        .await?;
    let job = NewJob { priority: 6, subject_id: Some(id.clone()), max_attempts: 3, ..NewJob::new(JOB_KIND, serde_json::json!({ "runId": id })) };
    jobs::enqueue_on(&mut tx.tx, job).await?;
    Ok(id)
}

/// A standing rule: copy the source to the target after every backup that lands on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationLink {
    pub id: String,
    pub source_location_id: String,
    pub target_location_id: String,
    pub created_by: String,
    pub created_at: String,
}

/// Adds a copy rule from `source_id` (admins), and queues a first run so the target catches up.
pub async fn link(catalog: &Catalog, actor: &Principal, source_id: &str, request: NewReplication) -> Result<ReplicationLink, ReplicateError> {
    actor.require(Role::Admin)?;
    check_pair(catalog, source_id, &request.target_location_id).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM replication_links WHERE source_location_id = $1 AND target_location_id = $2")
        .bind(source_id)
        .bind(&request.target_location_id)
        .fetch_optional(&mut *tx.tx)
        .await?;
    if exists.is_some() {
        return Err(ReplicateError::Conflict("this location is already copied there after every backup".into()));
    }
    sqlx::query("INSERT INTO replication_links (id, source_location_id, target_location_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(source_id)
        .bind(&request.target_location_id)
        .bind(&actor.username)
        .bind(time::now_text())
        .execute(&mut *tx.tx)
        .await?;
    queue(&mut tx, source_id, &request.target_location_id, &actor.username).await?;
    let detail = serde_json::json!({ "sourceLocationId": source_id, "targetLocationId": request.target_location_id });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "replication.link", target_type: "replication_link", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    Ok(sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM replication_links WHERE id = $1")).bind(&id).fetch_one(catalog.pool()).await?)
}

const LINK_COLUMNS: &str = "id, source_location_id, target_location_id, created_by, created_at";

/// Removes a copy rule (admins); the replica keeps what it holds.
pub async fn unlink(catalog: &Catalog, actor: &Principal, link_id: &str) -> Result<(), ReplicateError> {
    actor.require(Role::Admin)?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let removed = sqlx::query("DELETE FROM replication_links WHERE id = $1").bind(link_id).execute(&mut *tx.tx).await?;
    if removed.rows_affected() == 0 {
        return Err(ReplicateError::NotFound(format!("replication rule {link_id} not found")));
    }
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "replication.unlink", target_type: "replication_link", target_id: Some(link_id), detail: serde_json::json!({}) }).await?;
    tx.commit().await?;
    Ok(())
}

/// Copy rules from a location.
pub async fn links(catalog: &Catalog, actor: &Principal, location_id: &str) -> Result<Vec<ReplicationLink>, ReplicateError> {
    actor.require(Role::Viewer)?;
    Ok(sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM replication_links WHERE source_location_id = $1 ORDER BY created_at")).bind(location_id).fetch_all(catalog.pool()).await?)
}

/// After a backup landed on `location_id`: queues a run for each of its copy rules, unless
/// one for that pair is already queued (it will copy this backup too).
pub async fn after_backup(catalog: &Catalog, location_id: &str) -> Result<usize, ReplicateError> {
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let targets: Vec<String> = sqlx::query_scalar(
        "SELECT l.target_location_id FROM replication_links l WHERE l.source_location_id = $1
         AND NOT EXISTS (SELECT 1 FROM replication_runs r WHERE r.source_location_id = l.source_location_id
                         AND r.target_location_id = l.target_location_id AND r.status = 'queued')",
    )
    .bind(location_id)
    .fetch_all(&mut *tx.tx)
    .await?;
    for target in &targets {
        queue(&mut tx, location_id, target, "replication").await?;
    }
    tx.commit().await?;
    Ok(targets.len())
}

/// The target must be another location, and empty or a replica of the same repository.
async fn check_pair(catalog: &Catalog, source_id: &str, target_id: &str) -> Result<(locations::StorageLocation, locations::StorageLocation), ReplicateError> {
    if source_id == target_id {
        return Err(ReplicateError::Invalid("targetLocationId: another location than the source".into()));
    }
    let source = locations::find(catalog, source_id).await?;
    let target = locations::find(catalog, target_id).await.map_err(|e| match e {
        LocationError::NotFound(_) => ReplicateError::Invalid(format!("targetLocationId: no storage location {target_id}")),
        e => e.into(),
    })?;
    let Some(repository) = source.repository_id.as_deref() else {
        return Err(ReplicateError::Conflict(format!("{:?} holds no repository to copy", source.location_name)));
    };
    if target.repository_id.as_deref().is_some_and(|r| r != repository) {
        return Err(ReplicateError::Conflict(format!(
            "{:?} holds another repository; a replica needs an empty location or a replica of this one",
            target.location_name
        )));
    }
    Ok((source, target))
}

async fn get(catalog: &Catalog, id: &str) -> Result<ReplicationRun, ReplicateError> {
    sqlx::query_as::<_, ReplicationRun>(&format!("SELECT {COLUMNS} FROM replication_runs WHERE id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| ReplicateError::Invalid(format!("replication run {id} not found")))
}

/// Runs involving a location, newest first.
pub async fn list(catalog: &Catalog, actor: &Principal, location_id: &str) -> Result<Vec<ReplicationRun>, ReplicateError> {
    actor.require(Role::Viewer)?;
    Ok(sqlx::query_as::<_, ReplicationRun>(&format!(
        "SELECT {COLUMNS} FROM replication_runs WHERE source_location_id = $1 OR target_location_id = $1 ORDER BY created_at DESC LIMIT 100"
    ))
    .bind(location_id)
    .fetch_all(catalog.pool())
    .await?)
}

/// Copies what the target lacks, verifies it, and records the run.
pub async fn run(catalog: &Catalog, secrets: &SecretBox, run_id: &str) -> Result<ReplicationRun, ReplicateError> {
    let queued = get(catalog, run_id).await?;
    sqlx::query("UPDATE replication_runs SET status = 'running', error = NULL WHERE id = $1").bind(run_id).execute(catalog.pool()).await?;
    match copy(catalog, secrets, &queued).await {
        Ok(figures) => {
            sqlx::query(
                "UPDATE replication_runs SET status = 'completed', objects_copied = $1, bytes_copied = $2, objects_skipped = $3, snapshots_verified = $4,
                     objects_deleted = $5, bytes_deleted = $6, objects_locked = $7, completed_at = $8
                 WHERE id = $9",
            )
            .bind(figures.objects_copied)
            .bind(figures.bytes_copied)
            .bind(figures.objects_skipped)
            .bind(figures.snapshots_verified)
            .bind(figures.objects_deleted)
            .bind(figures.bytes_deleted)
            .bind(figures.objects_locked)
            .bind(time::now_text())
            .bind(run_id)
            .execute(catalog.pool())
            .await?;
            crate::alerts::resolve(catalog, ALERT_TYPE, &subject(&queued), &format!("replication run {run_id} completed")).await?;
        }
        Err(e) => {
            sqlx::query("UPDATE replication_runs SET status = 'failed', error = $1, completed_at = $2 WHERE id = $3")
                .bind(e.to_string())
                .bind(time::now_text())
                .bind(run_id)
                .execute(catalog.pool())
                .await?;
            crate::alerts::raise(catalog, ALERT_TYPE, Severity::High, &subject(&queued), &format!("replication run {run_id} failed: {e}")).await?;
            return Err(e);
        }
    }
    get(catalog, run_id).await
}

/// The alert a failed copy raises, one per source and target.
pub const ALERT_TYPE: AlertType = AlertType::ReplicationFailed;

fn subject(run: &ReplicationRun) -> String {
    format!("replication:{}->{}", run.source_location_id, run.target_location_id)
}

#[derive(Debug, Default)]
struct Figures {
    objects_copied: i64,
    bytes_copied: i64,
    objects_skipped: i64,
    snapshots_verified: i64,
    objects_deleted: i64,
    bytes_deleted: i64,
    objects_locked: i64,
}

/// What a replica mirrors, in commit order (packs before the index naming them, the index
/// before the snapshots that need it). `config` and `keyring` are single objects.
const MIRRORED: [&str; 7] = [format::CONFIG_KEY, format::KEYRING_KEY, format::KEYS_PREFIX, format::PACKS_PREFIX, format::INDEX_PREFIX, format::SNAPSHOTS_PREFIX, format::WAL_PREFIX];

async fn copy(catalog: &Catalog, secrets: &SecretBox, run: &ReplicationRun) -> Result<Figures, ReplicateError> {
    let (source, target) = check_pair(catalog, &run.source_location_id, &run.target_location_id).await?;
    let source_repo = locations::open_repository(catalog, secrets, &source.id).await?;
    let lock = source_repo.lock(false).await?;
    let (from, to) = (locations::storage(&source, secrets)?, locations::storage(&target, secrets)?);
    let mut figures = Figures::default();
    let mut new_snapshots = Vec::new();
    let mut extra: HashMap<&str, Vec<(String, u64)>> = HashMap::new();
    for prefix in MIRRORED {
        let mut there: HashMap<String, u64> = to.list(prefix).await?.into_iter().map(|o| (o.key, o.size)).collect();
        for object in from.list(prefix).await? {
            // `config` lists `config…` keys too; only the exact key is the config object.
            if !prefix.ends_with('/') && object.key != prefix {
                continue;
            }
            if there.remove(&object.key) == Some(object.size) {
                figures.objects_skipped += 1;
                continue;
            }
            lock.ensure_held().await?;
            let bytes = match from.get(&object.key).await {
                Ok(bytes) => bytes,
                // Gone since the listing (an expired key file, a WAL file): nothing to copy.
                Err(StorageError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            figures.bytes_copied += bytes.len() as i64;
            figures.objects_copied += 1;
            // Locked for the target's own period where it has Object Lock.
            to.put_retained(&object.key, bytes).await?;
            if let Some(id) = object.key.strip_prefix(format::SNAPSHOTS_PREFIX) {
                new_snapshots.push(id.to_string());
            }
        }
        if prefix.ends_with('/') {
            extra.insert(prefix, there.into_iter().collect());
        }
    }
    remove_extra(to.as_ref(), &extra, &mut figures).await?;
    lock.release().await?;

    // The target opens with the source's key: check its structure, read the new snapshots back.
    let key_file = secrets.open(&format!("location:{}:repository_key", source.id), source.repository_key_encrypted.as_deref().unwrap_or_default())?;
    let secret = crate::engine::repo::keys::Secret::from_key_file(&key_file).ok_or(SecretError::Open)?;
    let replica = crate::engine::repo::Repository::open(to, &secret).await?;
    let structure = check::check(&replica, false).await?;
    if !structure.is_ok() {
        return Err(ReplicateError::Conflict(format!("the copy does not check out: {}", structure.errors.join("; "))));
    }
    let index = Arc::new(replica.load_index().await?);
    for id in &new_snapshots {
        let snapshot = replica.load_snapshot(id).await?;
        let verified = crate::engine::repo::verify::verify_snapshot(&replica, index.clone(), &snapshot).await?;
        if !verified.damaged.is_empty() {
            return Err(ReplicateError::Conflict(format!("snapshot {id} is damaged on the target: {}", verified.damaged.join("; "))));
        }
        figures.snapshots_verified += 1;
    }
    if target.repository_id.is_none() {
        // The target is now a replica: Bulwark keeps its key as it keeps the source's.
        let mut conn = catalog.pool().acquire().await?;
        locations::record_repository(&mut conn, secrets, &target.id, source.repository_id.as_deref().unwrap_or_default(), &key_file).await?;
    }
    Ok(figures)
}

/// Removes from the target what the source no longer has (forgotten snapshots, pruned index
/// files and packs, rotated-out keys), in the order prune deletes: snapshots, then index
/// files, then packs. What the target's Object Lock still holds stays; and while a snapshot or
/// an index file stays that way, so do all extra packs, since they may be what it names.
async fn remove_extra(to: &dyn crate::engine::storage::Storage, extra: &HashMap<&str, Vec<(String, u64)>>, figures: &mut Figures) -> Result<(), ReplicateError> {
    let now = std::time::SystemTime::now();
    let mut kept_referrer = false;
    for prefix in [format::SNAPSHOTS_PREFIX, format::INDEX_PREFIX, format::PACKS_PREFIX, format::KEYS_PREFIX, format::WAL_PREFIX] {
        for (key, size) in extra.get(prefix).into_iter().flatten() {
            let locked = to.locked_until(key).await?.is_some_and(|until| until > now);
            if locked || (prefix == format::PACKS_PREFIX && kept_referrer) {
                figures.objects_locked += 1;
                kept_referrer |= prefix == format::SNAPSHOTS_PREFIX || prefix == format::INDEX_PREFIX;
                continue;
            }
            to.delete(key).await?;
            figures.objects_deleted += 1;
            figures.bytes_deleted += *size as i64;
        }
    }
    Ok(())
}

