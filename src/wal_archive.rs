//! The WAL archive of continuous PostgreSQL configurations: PostgreSQL's `archive_command`
//! sends each WAL file to the server, which seals it into the configuration's repository
//! (stanza = the configuration id, so clusters sharing a location never collide) and records
//! it here. With the physical base backups, the archive gives the restorable window.

use serde::Serialize;

use crate::engine::source::SourceKind;
use crate::platform::accounts::tokens::{self, CreatedToken, NewToken, WAL_PUSH_SCOPE};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::{Catalog, CatalogError};
use crate::configurations::{self, Configuration, ConfigurationError};
use crate::error::{Classify, Kind};
use crate::executions;
use crate::locations::{self, LocationError};
use crate::engine::repo::wal::{Pushed, is_wal_name};
use crate::engine::repo::{RepoError, Repository};
use crate::platform::secrets::SecretBox;
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum WalArchiveError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<sqlx::Error> for WalArchiveError {
    fn from(e: sqlx::Error) -> Self {
        WalArchiveError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for WalArchiveError {
    fn kind(&self) -> Kind {
        match self {
            WalArchiveError::Invalid(_) => Kind::Invalid,
            WalArchiveError::Auth(e) => e.kind(),
            WalArchiveError::Catalog(e) => e.kind(),
            WalArchiveError::Configuration(e) => e.kind(),
            WalArchiveError::Location(e) => e.kind(),
            WalArchiveError::Repo(e) => e.kind(),
        }
    }
}

/// True for configurations whose backups are physical (base backups plus archived WAL).
pub fn is_continuous(configuration: &Configuration) -> bool {
    configuration.source_type == SourceKind::Postgresql && configuration.frequency == "continuous"
}

/// The configuration, if it archives WAL, and its repository (its first location).
async fn archive_of(catalog: &Catalog, secrets: &SecretBox, configuration_id: &str) -> Result<(Repository, String), WalArchiveError> {
    let configuration = configurations::find(catalog, configuration_id).await?;
    if !is_continuous(&configuration) {
        return Err(WalArchiveError::Invalid(format!(
            "configuration {:?} does not archive WAL: only a postgresql configuration with frequency \"continuous\" does",
            configuration.name
        )));
    }
    let location = configuration
        .location_ids()
        .into_iter()
        .next()
        .ok_or_else(|| WalArchiveError::Invalid(format!("configuration {:?} has no storage location", configuration.name)))?;
    Ok((locations::open_repository(catalog, secrets, &location).await?, location))
}

/// What a push did: stored, or already archived with the same bytes (PostgreSQL retries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushReport {
    pub name: String,
    pub already_archived: bool,
}

/// The scope of a token that may push WAL for `configuration_id` and do nothing else.
pub fn push_scope(configuration_id: &str) -> String {
    format!("{WAL_PUSH_SCOPE}:{configuration_id}")
}

/// A token for a cluster's `archive_command`: it may push WAL for this configuration and do
/// nothing else, so whoever reads the cluster's settings (every superuser of it, and the
/// settings a base backup carries) gets no operator's powers. Revocable like any token.
pub async fn push_token(catalog: &Catalog, actor: &Principal, configuration_id: &str, expires_in_days: Option<i64>) -> Result<CreatedToken, WalArchiveError> {
    actor.require(Role::Operator)?;
    let configuration = configurations::find(catalog, configuration_id).await?;
    if !is_continuous(&configuration) {
        return Err(WalArchiveError::Invalid(format!("configuration {:?} does not archive WAL: only a continuous postgresql configuration does", configuration.name)));
    }
    let name: String = format!("WAL push: {}", configuration.name).chars().take(100).collect();
    let new = NewToken { name, role: Some(Role::Viewer), expires_in_days };
    Ok(tokens::create_scoped(catalog, actor, new, &push_scope(configuration_id)).await?)
}

/// The `archive_command` a cluster pushes its WAL to this server with, using `token` (a
/// [`push_token`]). `host` is how the cluster reaches the server (`name[:port]`); anything else
/// in it gives a placeholder, so no request header becomes shell syntax. HTTPS unless the
/// server is on the cluster's own host: the token crosses the network in every push.
pub fn archive_command(host: &str, configuration_id: &str, token: &str) -> String {
    let plain = !host.is_empty() && host.len() <= 255 && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let host = if plain { host } else { "bulwark.example:3000" };
    let loopback = ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| host == *h || host.starts_with(&format!("{h}:")));
    let scheme = if loopback { "http" } else { "https" };
    format!("curl -fsS -X PUT -H 'Authorization: Bearer {token}' --data-binary @%p {scheme}://{host}/api/admin/backups/configurations/{configuration_id}/wal/%f")
}

/// Who may push `configuration_id`'s WAL: an operator, or a token scoped to it. The server
/// asks before it reads a push's body.
pub fn require_push(actor: &Principal, configuration_id: &str) -> Result<(), AuthError> {
    match actor.scope.as_deref() {
        Some(scope) if scope == push_scope(configuration_id) => Ok(()),
        _ => actor.require(Role::Operator),
    }
}

/// The largest WAL file PostgreSQL writes (`initdb --wal-segsize` at most).
pub const MAX_WAL_BYTES: u64 = 1 << 30;

/// The largest push the server reads for this configuration: its cluster's WAL segment size, as
/// its newest base backup recorded it, or [`MAX_WAL_BYTES`] before the first one. A WAL object is
/// sealed whole, so this is what a push costs in memory.
pub async fn push_limit(catalog: &Catalog, configuration_id: &str) -> Result<u64, WalArchiveError> {
    let newest: Option<(String,)> = sqlx::query_as(&format!(
        "SELECT recovery_metadata FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND {} ORDER BY completed_at DESC LIMIT 1",
        executions::of_source("")
    ))
    .bind(configuration_id)
    .fetch_optional(catalog.pool())
    .await?;
    let segment = newest
        .and_then(|(meta,)| serde_json::from_str::<serde_json::Value>(&meta).ok())
        .and_then(|meta| meta["postgresql"]["walSegmentBytes"].as_u64());
    Ok(segment.filter(|s| *s > 0).unwrap_or(MAX_WAL_BYTES).min(MAX_WAL_BYTES))
}

/// Archives one WAL file, for an operator or a token scoped to this configuration's WAL. Not
/// audited: a busy cluster archives a file a minute or more, and the archive itself (this
/// table and the repository) is the record.
pub async fn push(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, configuration_id: &str, name: &str, bytes: &[u8]) -> Result<PushReport, WalArchiveError> {
    require_push(actor, configuration_id)?;
    if !is_wal_name(name) {
        return Err(WalArchiveError::Invalid(format!("{name:?} is not a WAL file name (e.g. 000000010000000000000002 or 00000002.history)")));
    }
    let (repo, location) = archive_of(catalog, secrets, configuration_id).await?;
    let pushed = repo.wal_push(configuration_id, name, bytes).await?;
    sqlx::query(
        "INSERT INTO wal_archive (configuration_id, name, storage_location_id, size_bytes, archived_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (configuration_id, name) DO NOTHING",
    )
    .bind(configuration_id)
    .bind(name)
    .bind(&location)
    .bind(bytes.len() as i64)
    .bind(time::now_text())
    .execute(catalog.pool())
    .await?;
    Ok(PushReport { name: name.to_string(), already_archived: pushed == Pushed::AlreadyArchived })
}

/// The bytes of one archived WAL file (a `restore_command` on another host).
pub async fn fetch(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, configuration_id: &str, name: &str) -> Result<Vec<u8>, WalArchiveError> {
    actor.require(Role::Operator)?;
    let (repo, _) = archive_of(catalog, secrets, configuration_id).await?;
    Ok(repo.wal_fetch(configuration_id, name).await?)
}

/// Names of the archived WAL files of a configuration, sorted: segments of a timeline in
/// order, later timelines after earlier ones.
pub(crate) async fn names(catalog: &Catalog, configuration_id: &str) -> Result<Vec<String>, WalArchiveError> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM wal_archive WHERE configuration_id = $1 ORDER BY name")
        .bind(configuration_id)
        .fetch_all(catalog.pool())
        .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// What a continuous configuration can be restored to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryWindow {
    /// The end of the oldest completed base backup: nothing earlier can be restored.
    pub earliest: Option<String>,
    /// The newest point the archive reaches: the last WAL file's arrival, or the newest base
    /// backup's end when no WAL came after it.
    pub latest: Option<String>,
    pub base_backups: i64,
    pub wal_files: i64,
    pub wal_bytes: i64,
    pub last_wal_file: Option<String>,
}

pub async fn window(catalog: &Catalog, actor: &Principal, configuration_id: &str) -> Result<RecoveryWindow, WalArchiveError> {
    actor.require(Role::Viewer)?;
    let configuration = configurations::find(catalog, configuration_id).await?;
    if !is_continuous(&configuration) {
        return Err(WalArchiveError::Invalid(format!("configuration {:?} is not continuous: it has no restorable window", configuration.name)));
    }
    let (base_backups, earliest, newest): (i64, Option<String>, Option<String>) = sqlx::query_as(&format!(
        "SELECT COUNT(*), MIN(completed_at), MAX(completed_at) FROM backup_executions WHERE configuration_id = $1 AND status = 'completed' AND {}",
        executions::of_source("")
    ))
    .bind(configuration_id)
    .fetch_one(catalog.pool())
    .await?;
    let (wal_files, wal_bytes, last_arrival): (i64, i64, Option<String>) =
        sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT), MAX(archived_at) FROM wal_archive WHERE configuration_id = $1")
            .bind(configuration_id)
            .fetch_one(catalog.pool())
            .await?;
    let last_wal_file: Option<(String,)> =
        sqlx::query_as("SELECT name FROM wal_archive WHERE configuration_id = $1 ORDER BY name DESC LIMIT 1").bind(configuration_id).fetch_optional(catalog.pool()).await?;
    let latest = match (newest, last_arrival) {
        (Some(backup), Some(wal)) => Some(backup.max(wal)),
        (Some(backup), None) => Some(backup),
        (None, _) => None,
    };
    Ok(RecoveryWindow { earliest, latest, base_backups, wal_files, wal_bytes, last_wal_file: last_wal_file.map(|(n,)| n) })
}
