//! Catalog rebuild: losing the Bulwark server never means losing the backups. On a new catalog
//! an administrator adds the storage locations again, attaches each one's repository with the
//! key file from its recovery kit, and rebuilds: every snapshot becomes a completed execution
//! again (under its configuration, recreated from the snapshot's metadata when missing), and
//! every archived WAL file a `wal_archive` row. Running it twice adds nothing.

use serde::{Deserialize, Serialize};

use crate::engine::source::SourceKind;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::error::{Classify, Kind};
use crate::executions::{self, ExecutionError, Rebuilt};
use crate::locations::{self, LocationError};
use crate::engine::repo::keys::Secret;
use crate::engine::repo::snapshot::Content;
use crate::engine::repo::{RepoError, Repository, format};
use crate::platform::secrets::SecretBox;
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
}

impl From<sqlx::Error> for RebuildError {
    fn from(e: sqlx::Error) -> Self {
        RebuildError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for RebuildError {
    fn kind(&self) -> Kind {
        match self {
            RebuildError::Invalid(_) => Kind::Invalid,
            RebuildError::Conflict(_) => Kind::Conflict,
            RebuildError::Execution(e) => e.kind(),
            RebuildError::Auth(e) => e.kind(),
            RebuildError::Catalog(e) => e.kind(),
            RebuildError::Location(e) => e.kind(),
            RebuildError::Repo(e) => e.kind(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attach {
    /// The key file of the repository's recovery kit (64 hex characters).
    pub key_file: String,
}

/// Attaches the repository already at a location (admins): it must open with the key file.
pub async fn attach(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, location_id: &str, request: Attach) -> Result<String, RebuildError> {
    actor.require(Role::Admin)?;
    let location = locations::find(catalog, location_id).await?;
    if location.repository_id.is_some() {
        return Err(RebuildError::Conflict(format!("{:?} already has its repository attached", location.location_name)));
    }
    let key_file = request.key_file.trim().to_string();
    let secret = Secret::from_key_file(&key_file).ok_or_else(|| RebuildError::Invalid("keyFile: the 64 hex characters of the recovery kit's key file".into()))?;
    let repo = Repository::open(locations::storage(&location, secrets)?, &secret).await.map_err(|e| match e {
        RepoError::WrongSecret | RepoError::NoKeyOpened(_) => RebuildError::Invalid(format!("keyFile: this key file does not open the repository at {:?}: {e}", location.location_name)),
        e => e.into(),
    })?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    locations::record_repository(&mut tx.tx, secrets, location_id, &repo.config().id, &key_file).await?;
    let detail = serde_json::json!({ "repositoryId": repo.config().id });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "storage_location.attach_repository", target_type: "storage_location", target_id: Some(location_id), detail }).await?;
    tx.commit().await?;
    Ok(repo.config().id.clone())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RebuildReport {
    pub locations: usize,
    pub snapshots: usize,
    pub configurations_created: usize,
    pub executions_created: usize,
    pub wal_files: usize,
}

/// Recreates executions, configurations and WAL rows from every attached repository.
/// One rebuild at a time: it reads every snapshot of every location; a second waits its turn
/// (and then finds the catalog rebuilt: rebuilds are idempotent).
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

pub async fn rebuild(catalog: &Catalog, secrets: &SecretBox, actor: &Principal) -> Result<RebuildReport, RebuildError> {
    actor.require(Role::Admin)?;
    let _permit = RUNNING.acquire().await.map_err(|e| RebuildError::Conflict(e.to_string()))?;
    let attached: Vec<(String,)> = sqlx::query_as("SELECT id FROM backup_storage_locations WHERE repository_key_encrypted IS NOT NULL ORDER BY created_at")
        .fetch_all(catalog.pool())
        .await?;
    let mut report = RebuildReport::default();
    for (location_id,) in attached {
        let repo = locations::open_repository(catalog, secrets, &location_id).await?;
        report.locations += 1;
        for snapshot in repo.snapshots().await? {
            report.snapshots += 1;
            let Some(configuration_id) = snapshot.metadata["configurationId"].as_str().map(str::to_string) else { continue };
            let known: Option<String> = sqlx::query_scalar("SELECT id FROM backup_executions WHERE snapshot_id = $1").bind(&snapshot.id).fetch_optional(catalog.pool()).await?;
            if known.is_some() {
                continue;
            }
            if ensure_configuration(catalog, &configuration_id, &snapshot, &location_id).await? {
                report.configurations_created += 1;
            }
            let metadata = recovery_metadata(&repo, &snapshot).await;
            let taken_at = normalise_time(&snapshot.time);
            let found = Rebuilt { configuration_id: &configuration_id, location_id: &location_id, snapshot: &snapshot, taken_at: &taken_at, metadata };
            executions::insert_rebuilt(catalog, found).await?;
            report.executions_created += 1;
        }
        report.wal_files += rebuild_wal(catalog, &repo, &location_id).await?;
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let detail = serde_json::to_value(&report).unwrap_or_default();
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "catalog.rebuild", target_type: "catalog", target_id: None, detail }).await?;
    tx.commit().await?;
    Ok(report)
}

/// The recovery metadata an execution of `snapshot` records, read back from the repository:
/// for a catalog rebuild, and for a worker adopting a snapshot a dead attempt committed.
pub(crate) async fn recovery_metadata(repo: &Repository, snapshot: &crate::engine::repo::snapshot::Snapshot) -> serde_json::Value {
    let mut metadata = match base_backup_metadata(repo, snapshot).await {
        Some(metadata) => metadata,
        None => snapshot.metadata.clone(),
    };
    // Snapshots of earlier versions kept the source's archive_command, which holds the
    // credentials its cluster pushes WAL with: recovery metadata is shown to every role.
    if let Some(postgresql) = metadata.get_mut("postgresql").and_then(serde_json::Value::as_object_mut) {
        postgresql.remove("archiveCommand");
    }
    metadata
}

/// A base backup's recovery metadata, as its execution recorded it: the WAL start point
/// comes from the `backup_label` at the head of its tar. `None` for any other snapshot, or
/// when the label cannot be read (the execution then restores no point in time).
async fn base_backup_metadata(repo: &Repository, snapshot: &crate::engine::repo::snapshot::Snapshot) -> Option<serde_json::Value> {
    use crate::engine::source::postgres::{backup_label_in_tar, parse_backup_label};
    if !snapshot.source.starts_with(BASE_BACKUP_TOOL) {
        return None;
    }
    let Content::Stream { chunks, .. } = &snapshot.content else { return None };
    let index = repo.load_index().await.ok()?;
    // PostgreSQL sends backup_label first: the first chunk holds it.
    let head = repo.load_blob(&index, &chunks.first()?.parse().ok()?).await.ok()?;
    let Some(label) = backup_label_in_tar(&head).as_deref().and_then(parse_backup_label) else {
        tracing::warn!(snapshot = %snapshot.id, "no backup_label at the head of the base backup: its WAL start point is unknown");
        return None;
    };
    Some(serde_json::json!({
        "sourceType": SourceKind::Postgresql,
        "format": "pg_basebackup tar",
        "postgresql": snapshot.metadata["postgresql"],
        "wal": { "startLsn": label.start_lsn, "timeline": label.timeline, "startFile": label.start_file },
        "rebuiltFrom": "backup_label",
    }))
}

/// How a base backup's snapshot names its source.
const BASE_BACKUP_TOOL: &str = "pg_basebackup ";

/// A snapshot's time in the catalog's fixed-width form (manifests keep RFC 3339).
fn normalise_time(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text).map(|t| time::to_text(t.with_timezone(&chrono::Utc))).unwrap_or_else(|_| text.to_string())
}

/// Recreates a configuration from a snapshot's metadata unless it exists; true if created.
/// It comes back manual (its schedule and credentials are not in the repository), or
/// continuous for a base backup, whose point-in-time restores need that.
async fn ensure_configuration(catalog: &Catalog, id: &str, snapshot: &crate::engine::repo::snapshot::Snapshot, location_id: &str) -> Result<bool, RebuildError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE id = $1").bind(id).fetch_optional(catalog.pool()).await?;
    if exists.is_some() {
        return Ok(false);
    }
    let name = snapshot.metadata["configuration"].as_str().unwrap_or("rebuilt configuration");
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE name = $1").bind(name).fetch_optional(catalog.pool()).await?;
    let name = if taken.is_some() { format!("{name} (rebuilt {})", &id[..8.min(id.len())]) } else { name.to_string() };
    let kind = match snapshot.metadata["sourceType"].as_str() {
        None => SourceKind::Filesystem,
        Some(text) => SourceKind::parse(text)
            .ok_or_else(|| RebuildError::Invalid(format!("snapshot {}: its source type {text:?} is unknown to this version of Bulwark", snapshot.id)))?,
    };
    // The source as the backup recorded it, without the tool that read it.
    let source = ["pg_dump ", BASE_BACKUP_TOOL].iter().fold(snapshot.source.as_str(), |s, tool| s.strip_prefix(tool).unwrap_or(s));
    // A base backup belongs to a continuous configuration: its WAL is in the same repository.
    let frequency = if snapshot.source.starts_with(BASE_BACKUP_TOOL) { "continuous" } else { "manual" };
    let now = time::now_text();
    sqlx::query(
        "INSERT INTO backup_configurations (id, name, backup_type, source_type, source_identifier, frequency, schedule, retention_policy, encryption_enabled,
             compression, priority_level, storage_location_ids, source_options, is_active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, '{}', 1, 'zstd', 5, $7, '{}', 1, $8, $8)",
    )
    .bind(id)
    .bind(&name)
    .bind(if kind == SourceKind::ConsistencyGroup { "full_system" } else { "full" })
    .bind(kind.as_str())
    .bind(source)
    .bind(frequency)
    .bind(serde_json::json!([location_id]).to_string())
    .bind(&now)
    .execute(catalog.pool())
    .await?;
    Ok(true)
}

/// `wal/<configuration id>/<file>` objects of configurations the catalog knows, as rows.
async fn rebuild_wal(catalog: &Catalog, repo: &Repository, location_id: &str) -> Result<usize, RebuildError> {
    let mut added = 0;
    for object in repo.storage().list(format::WAL_PREFIX).await.map_err(RepoError::from)? {
        let Some((stanza, name)) = object.key.strip_prefix(format::WAL_PREFIX).and_then(|rest| rest.split_once('/')) else { continue };
        let known: Option<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE id = $1").bind(stanza).fetch_optional(catalog.pool()).await?;
        let present: Option<String> =
            sqlx::query_scalar("SELECT name FROM wal_archive WHERE configuration_id = $1 AND name = $2").bind(stanza).bind(name).fetch_optional(catalog.pool()).await?;
        if known.is_none() || present.is_some() {
            continue;
        }
        sqlx::query("INSERT INTO wal_archive (configuration_id, name, storage_location_id, size_bytes, archived_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(stanza)
            .bind(name)
            .bind(location_id)
            .bind(object.size as i64)
            .bind(time::now_text())
            .execute(catalog.pool())
            .await?;
        added += 1;
    }
    Ok(added)
}
