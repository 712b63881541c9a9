//! Restores of a completed execution into a target:
//! - a PostgreSQL database, whole or chosen tables, streamed from the repository into
//!   `pg_restore` (no temporary copy of the dump), in one transaction, so a failure leaves the
//!   target as it was;
//! - a directory, whole or chosen paths, each file verified and renamed into place, files
//!   already identical left alone;
//! - a bucket, whole or chosen key prefixes, into the same or another bucket ([`bucket`]);
//! - a consistency group's point, every member to the same moment ([`group`]);
//! - a continuous PostgreSQL configuration to a point in time, into a new data directory
//!   ([`physical`]).

mod bucket;
mod cluster_config;
mod group;
pub(crate) mod physical;
mod targets;

pub use bucket::{BucketRestore, restore_bucket};
pub use group::{GroupReport, GroupRestore, restore_group};
pub use physical::{PhysicalRestore, RecoveryReport, recover, restore_physical};
pub use targets::Targets;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::engine::source::SourceKind;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::configurations::{self, ConfigurationError};
use crate::error::{Classify, Kind};
use crate::executions::{self, ExecutionError};
use crate::locations::{self, LocationError};
use crate::engine::repo::{RepoError, restore};
use crate::platform::secrets::SecretBox;
use crate::engine::source::postgres::{collect_stderr, describe, tool};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// The target or pg_restore failed; nothing was committed.
    #[error("{0}")]
    Target(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Secret(#[from] crate::platform::secrets::SecretError),
}

impl From<sqlx::Error> for RestoreError {
    fn from(e: sqlx::Error) -> Self {
        RestoreError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for RestoreError {
    fn kind(&self) -> Kind {
        match self {
            RestoreError::Invalid(_) | RestoreError::Target(_) => Kind::Invalid,
            RestoreError::Conflict(_) => Kind::Conflict,
            RestoreError::Forbidden(_) => Kind::Forbidden,
            RestoreError::Auth(e) => e.kind(),
            RestoreError::Catalog(e) => e.kind(),
            RestoreError::Configuration(e) => e.kind(),
            RestoreError::Execution(e) => e.kind(),
            RestoreError::Location(e) => e.kind(),
            RestoreError::Repo(e) => e.kind(),
            RestoreError::Secret(e) => e.kind(),
        }
    }
}

/// Where and what to restore.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresRestore {
    /// `postgresql://user@host:port/database` on an allowed host ([`Targets`]), without a
    /// password; the database is created when missing.
    pub target_url: String,
    #[serde(default)]
    pub target_password: Option<String>,
    /// `schema.table` (or `table`, in `public`): only these tables, which must not exist in the
    /// target yet. Empty: the whole database, into a database without tables.
    #[serde(default)]
    pub tables: Vec<String>,
}

/// Where to restore a directory backup, and which paths of it (all when empty).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectoryRestore {
    /// An absolute directory under a restore root ([`Targets`]); created when missing.
    pub target_path: String,
    #[serde(default)]
    pub include: Vec<String>,
    /// Restore every file that can be read and name the others in the report's `unreadable`,
    /// instead of stopping at the first damaged file.
    #[serde(default)]
    pub skip_unreadable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub execution_id: String,
    pub target: String,
    /// The tables or paths restored; empty for everything.
    pub selection: Vec<String>,
    pub bytes: u64,
    /// Files written (directory restores).
    pub files: Option<u64>,
    /// Files already identical in the target, left alone (directory restores).
    pub unchanged: Option<u64>,
    /// The measured restore time.
    pub duration_seconds: f64,
    /// The storage location read: the backup's own, or a replica when that could not be read.
    pub storage_location_id: String,
    /// Files and directories left out because they could not be read (directory restores
    /// asked to skip them), one sentence each; the restore is whole when empty.
    pub unreadable: Vec<String>,
}

/// Restores asked for by a person (the REST API, the console) that run at once: each holds
/// threads, buffers and a target's disk or database busy while its request waits; more wait
/// their turn. Restore tests and DR runs are jobs, bounded by the worker pool instead.
static BY_REQUEST: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A turn for a restore a person asked for: the doors take one before calling a restore
/// function (never the restore functions themselves, which call each other).
pub async fn admission() -> tokio::sync::SemaphorePermit<'static> {
    BY_REQUEST.acquire().await.expect("the restore semaphore is never closed")
}

/// Restores an execution with the request shape its source takes: [`PostgresRestore`] for a
/// database dump, [`PhysicalRestore`] for a base backup, [`DirectoryRestore`] for a directory,
/// [`BucketRestore`] for a bucket.
/// Returns the report as JSON, its shape depending on the kind.
pub async fn restore(catalog: &Catalog, secrets: &SecretBox, targets: &Targets, actor: &Principal, execution_id: &str, request: serde_json::Value) -> Result<serde_json::Value, RestoreError> {
    actor.require(Role::Operator)?;
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    let continuous = crate::wal_archive::is_continuous(&configuration);
    let what = if continuous { "point-in-time" } else { configuration.source_type.as_str() };
    let invalid = |e: serde_json::Error| RestoreError::Invalid(format!("a {what} restore: {e}"));
    let report = match configuration.source_type {
        SourceKind::Postgresql if continuous => serde_json::to_value(restore_physical(catalog, secrets, targets, actor, execution_id, serde_json::from_value(request).map_err(invalid)?).await?),
        SourceKind::Postgresql => serde_json::to_value(restore_postgres(catalog, secrets, targets, actor, execution_id, serde_json::from_value(request).map_err(invalid)?).await?),
        SourceKind::Filesystem | SourceKind::EnvironmentVars => {
            serde_json::to_value(restore_directory(catalog, secrets, targets, actor, execution_id, serde_json::from_value(request).map_err(invalid)?).await?)
        }
        SourceKind::ConsistencyGroup => serde_json::to_value(restore_group(catalog, secrets, targets, actor, execution_id, serde_json::from_value(request).map_err(invalid)?).await?),
        SourceKind::S3Bucket | SourceKind::SupabaseStorage => serde_json::to_value(restore_bucket(catalog, secrets, actor, execution_id, serde_json::from_value(request).map_err(invalid)?).await?),
    };
    Ok(report.unwrap_or_default())
}

/// Restores a directory execution into `request.target_path`.
pub async fn restore_directory(
    catalog: &Catalog,
    secrets: &SecretBox,
    targets: &Targets,
    actor: &Principal,
    execution_id: &str,
    request: DirectoryRestore,
) -> Result<RestoreReport, RestoreError> {
    actor.require(Role::Operator)?;
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    // Configuration files are files: they restore the same way. Their values are secrets the
    // console never shows, so writing them elsewhere is an admin's call (audited below).
    let kind = match configurations::find(catalog, &execution.configuration_id).await?.source_type {
        SourceKind::EnvironmentVars => {
            if actor.role < Role::Admin || actor.scope.is_some() {
                return Err(RestoreError::Forbidden("restoring configuration files (their values) needs the admin role".into()));
            }
            SourceKind::EnvironmentVars
        }
        _ => SourceKind::Filesystem,
    };
    let (location, snapshot_id) = completed(catalog, actor, execution_id, kind).await?;
    let target = targets.directory("targetPath", &request.target_path)?;
    let started = Instant::now();
    let locations::SnapshotSource { repo, snapshot, location_id } = locations::open_snapshot(catalog, secrets, &location, &snapshot_id).await?;
    let index = Arc::new(repo.load_index().await?);
    let include: Vec<String> = request.include.iter().map(|p| p.trim().trim_matches('/').to_string()).filter(|p| !p.is_empty()).collect();
    let options = restore::RestoreOptions { include: include.clone(), skip_unreadable: request.skip_unreadable };
    let summary = restore::restore_tree(&repo, index, &snapshot, &target, &options).await?;
    let report = RestoreReport {
        execution_id: execution_id.into(),
        target: target.display().to_string(),
        selection: include,
        bytes: summary.bytes,
        files: Some(summary.files),
        unchanged: Some(summary.unchanged),
        duration_seconds: started.elapsed().as_secs_f64(),
        storage_location_id: location_id,
        unreadable: summary.unreadable,
    };
    record(catalog, actor, "restore.directory", &report).await?;
    Ok(report)
}

/// The location and snapshot of a completed execution of a `source_type` configuration.
async fn completed(catalog: &Catalog, actor: &Principal, execution_id: &str, source_type: SourceKind) -> Result<(String, String), RestoreError> {
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    if configuration.source_type != source_type {
        return Err(RestoreError::Invalid(format!("execution {execution_id} backed up a {}, not a {source_type} source", configuration.source_type)));
    }
    match (execution.storage_location_id, execution.snapshot_id) {
        (Some(location), Some(snapshot)) => Ok((location, snapshot)),
        _ => Err(RestoreError::Invalid(format!("execution {execution_id} has no snapshot (status {})", execution.status))),
    }
}

async fn record(catalog: &Catalog, actor: &Principal, action: &str, report: &RestoreReport) -> Result<(), RestoreError> {
    record_action(catalog, actor, action, &report.execution_id, serde_json::to_value(report).unwrap_or_default()).await
}

/// Audits a finished restore of execution `execution_id`.
async fn record_action(catalog: &Catalog, actor: &Principal, action: &str, execution_id: &str, detail: serde_json::Value) -> Result<(), RestoreError> {
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action, target_type: "backup_execution", target_id: Some(execution_id), detail }).await?;
    tx.tx.commit().await?;
    Ok(())
}

/// Restores a PostgreSQL execution into `request.target_url`.
pub async fn restore_postgres(
    catalog: &Catalog,
    secrets: &SecretBox,
    targets: &Targets,
    actor: &Principal,
    execution_id: &str,
    request: PostgresRestore,
) -> Result<RestoreReport, RestoreError> {
    actor.require(Role::Operator)?;
    let (location, snapshot_id) = completed(catalog, actor, execution_id, SourceKind::Postgresql).await?;
    let tables = parse_tables(&request.tables)?;
    let mut target = targets.database("targetUrl", &request.target_url)?;
    if let Some(password) = &request.target_password {
        target = target.password(password);
    }
    let database = target.get_database().unwrap_or_default().to_string();
    prepare_target(&target, &database, &tables).await?;

    let started = Instant::now();
    let locations::SnapshotSource { repo, snapshot, location_id } = locations::open_snapshot(catalog, secrets, &location, &snapshot_id).await?;
    let index = Arc::new(repo.load_index().await?);
    let mut command = crate::platform::child::command(tool("pg_restore"));
    command.args(["--no-owner", "--exit-on-error", "--single-transaction", "--no-password", "--dbname"]).arg(&request.target_url);
    if let Some((schema, _)) = tables.first() {
        command.args(["--schema", schema]);
    }
    for (_, table) in &tables {
        command.args(["--table", table]);
    }
    if let Some(password) = &request.target_password {
        command.env("PGPASSWORD", password);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RestoreError::Target(format!("cannot run pg_restore: {e}")))?;
    let stdin = child.stdin.take().ok_or_else(|| RestoreError::Target("pg_restore has no input".into()))?;
    let stderr = collect_stderr(&mut child);
    let streamed = restore::restore_stream(&repo, index, &snapshot, PipeInput(Some(stdin))).await;
    let bytes = match streamed {
        // Closing its input lets pg_restore finish and commit.
        Ok((stdin, n)) => {
            drop(stdin);
            n
        }
        Err(e) => {
            // Kill it before it can commit: the single transaction rolls back.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.into());
        }
    };
    let status = tokio::task::spawn_blocking(move || child.wait()).await.map_err(|e| RestoreError::Target(e.to_string()))?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(RestoreError::Target(format!("pg_restore failed ({s}); nothing was committed: {}", stderr.trim()))),
        Err(e) => return Err(RestoreError::Target(format!("pg_restore: {e}"))),
    }
    let report = RestoreReport {
        execution_id: execution_id.into(),
        target: request.target_url.clone(),
        selection: tables.iter().map(|(s, t)| format!("{s}.{t}")).collect(),
        bytes,
        files: None,
        unchanged: None,
        duration_seconds: started.elapsed().as_secs_f64(),
        storage_location_id: location_id,
        unreadable: Vec::new(),
    };
    record(catalog, actor, "restore.postgresql", &report).await?;
    Ok(report)
}

/// pg_restore's input. pg_restore stops reading once it has what it needs (the chosen tables),
/// so a closed pipe is not an error: the rest of the stream is still read and verified, and
/// pg_restore's exit status decides.
struct PipeInput(Option<std::process::ChildStdin>);

impl std::io::Write for PipeInput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(pipe) = &mut self.0 {
            match pipe.write_all(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => self.0 = None,
                other => other?,
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.as_mut().map(std::io::Write::flush) {
            Some(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

/// `schema.table` or `table` (schema `public`); every table in one schema, so `pg_restore
/// --schema` selects exactly them.
fn parse_tables(tables: &[String]) -> Result<Vec<(String, String)>, RestoreError> {
    let parsed: Vec<(String, String)> = tables
        .iter()
        .map(|t| match t.trim().split_once('.') {
            Some((schema, table)) => (schema.to_string(), table.to_string()),
            None => ("public".to_string(), t.trim().to_string()),
        })
        .collect();
    if parsed.iter().any(|(s, t)| s.is_empty() || t.is_empty() || t.contains('.')) {
        return Err(RestoreError::Invalid("tables: give schema.table or table".into()));
    }
    if parsed.windows(2).any(|w| w[0].0 != w[1].0) {
        return Err(RestoreError::Invalid("tables: restore the tables of one schema at a time".into()));
    }
    Ok(parsed)
}

/// Creates the target database when missing, and refuses targets a restore would collide with:
/// a table that already exists, or a whole-database restore into a database with tables.
async fn prepare_target(target: &PgConnectOptions, database: &str, tables: &[(String, String)]) -> Result<(), RestoreError> {
    let unreachable = |e: sqlx::Error| RestoreError::Target(format!("target PostgreSQL: {}", describe(&e)));
    let mut admin = PgConnection::connect_with(&target.clone().database("postgres")).await.map_err(unreachable)?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1").bind(database).fetch_optional(&mut admin).await.map_err(unreachable)?;
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\""))).execute(&mut admin).await.map_err(unreachable)?;
    }
    let _ = admin.close().await;
    let mut conn = PgConnection::connect_with(target).await.map_err(unreachable)?;
    if tables.is_empty() {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(unreachable)?;
        if count > 0 {
            return Err(RestoreError::Conflict(format!("database {database} already has {count} tables: restore the whole database into a new or empty one, or name the tables")));
        }
    }
    for (schema, table) in tables {
        let found: Option<String> =
            sqlx::query_scalar("SELECT to_regclass(format('%I.%I', $1::text, $2::text))::text").bind(schema).bind(table).fetch_one(&mut conn).await.map_err(unreachable)?;
        if found.is_some() {
            return Err(RestoreError::Conflict(format!("table {schema}.{table} already exists in {database}: drop or rename it first; nothing was restored")));
        }
    }
    let _ = conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn at_most_two_restores_by_request_run_at_once() {
        let first = super::admission().await;
        let _second = super::admission().await;
        let third = tokio::time::timeout(std::time::Duration::from_millis(100), super::admission()).await;
        assert!(third.is_err(), "a third restore started while two ran");
        drop(first);
        let third = tokio::time::timeout(std::time::Duration::from_secs(5), super::admission()).await;
        assert!(third.is_ok(), "the third waited for a turn and got one");
    }
}
