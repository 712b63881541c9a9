//! One room per kind of source: how it is backed up, restored, restore-tested and described.
//! Each kind implements [`Source`]; [`of`] picks the one a configuration needs, and is the only
//! place that looks at the kind. The readers a kind uses (pg_dump, S3 listings, the directory
//! walk) are in `crate::engine::source`; what every restore shares (its error, report, audit
//! record and allowed targets) is in `crate::restores`.
//!
//! Adding a kind: a `SourceKind` in `bulwark-types`, a reader in `engine::source` when it needs
//! one, and a module here implementing [`Source`].

pub mod bucket;
pub mod env_files;
pub mod filesystem;
pub mod group;
pub mod postgres_cluster;
pub mod postgres_dump;

use std::future::Future;
use std::pin::Pin;

use crate::configurations::{self, Configuration};
use crate::engine::repo::Repository;
use crate::engine::repo::backup::BackupOptions;
use crate::engine::repo::snapshot::Snapshot;
use crate::engine::source::SourceKind;
use crate::executions::{self, Execution, ExecutionError};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::jobs::CancelFlag;
use crate::platform::secrets::SecretBox;
use crate::restore_tests::Outcome;
use crate::restores::{Destination, Place, RestoreError, Targets};

/// The future a [`Source`] method returns (boxed, so kinds can be picked at run time).
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a kind of source is, in the words the console and error messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Description {
    /// E.g. "PostgreSQL dump", "point-in-time PostgreSQL".
    pub name: &'static str,
    /// What a restore writes: "a database", "a directory", "a bucket", "a data directory", "every member".
    pub restores_into: &'static str,
}

/// A backup in progress, as its source sees it.
#[derive(Clone, Copy)]
pub struct BackupRun<'a> {
    pub catalog: &'a Catalog,
    pub secrets: &'a SecretBox,
    pub configuration: &'a Configuration,
    pub execution: &'a Execution,
    /// The repository it goes into, and its location.
    pub repo: &'a Repository,
    pub location_id: &'a str,
    /// Runs another queued execution to its end: a consistency group backs its members up
    /// through it. The orchestration layer above provides it.
    pub run_member: &'a (dyn Fn(String, CancelFlag) -> SourceFuture<'a, Result<(), ExecutionError>> + Send + Sync),
}

/// Who restores, and where they may write.
pub struct RestoreRun<'a> {
    pub catalog: &'a Catalog,
    pub secrets: &'a SecretBox,
    pub targets: &'a Targets,
    pub actor: &'a Principal,
}

/// A restore test of one execution into a scratch target.
#[derive(Clone, Copy)]
pub struct TestRun<'a> {
    pub catalog: &'a Catalog,
    pub secrets: &'a SecretBox,
    pub actor: &'a Principal,
    pub configuration: &'a Configuration,
    pub execution: &'a Execution,
    /// Names the scratch database or bucket, so two tests never share one.
    pub test_id: &'a str,
}

/// A kind of source.
pub trait Source: Send + Sync {
    fn describe(&self) -> Description;

    /// Reads the source into `run.repo`: the snapshot and the recovery metadata a restore needs.
    fn back_up<'a>(&'a self, run: &'a BackupRun<'a>, options: BackupOptions) -> SourceFuture<'a, Result<(Snapshot, serde_json::Value), ExecutionError>>;

    /// Restores execution `execution_id` with the request shape this kind takes; the report
    /// as JSON.
    fn restore<'a>(&'a self, run: &'a RestoreRun<'a>, execution_id: &'a str, request: serde_json::Value) -> SourceFuture<'a, Result<serde_json::Value, RestoreError>>;

    /// Restores into a scratch target, checks what landed, and removes the target.
    fn restore_test<'a>(&'a self, run: &'a TestRun<'a>) -> SourceFuture<'a, Outcome>;

    /// Reads a restore request of this kind's shape and checks its target against the server's
    /// allowed places, writing nothing; returns where it would write.
    fn check<'a>(&'a self, run: &'a RestoreRun<'a>, configuration: &'a Configuration, request: &'a serde_json::Value) -> SourceFuture<'a, Result<Place, RestoreError>>;

    /// This kind's request for a restore into a named target.
    fn request_for(&self, destination: &Destination) -> Result<serde_json::Value, RestoreError>;

    /// What the restore of `backup` would write over at its target, one sentence each (nothing
    /// written): tables that exist, files, objects, and what there changed after `backup` was
    /// taken. Empty when the target is free.
    fn conflicts<'a>(&'a self, run: &'a RestoreRun<'a>, configuration: &'a Configuration, request: &'a serde_json::Value, backup: &'a Execution) -> SourceFuture<'a, Result<Vec<String>, RestoreError>>;

    /// Backs up what a restore with `request` would write over into `repo`: the safety
    /// snapshot a rollback puts back. Kinds whose restores never write over anything refuse.
    fn snapshot_target<'a>(&'a self, _run: &'a RestoreRun<'a>, _configuration: &'a Configuration, _request: &'a serde_json::Value, _repo: &'a Repository, _options: BackupOptions) -> SourceFuture<'a, Result<Snapshot, RestoreError>> {
        let Description { name, restores_into } = self.describe();
        Box::pin(async move { Err(RestoreError::Conflict(format!("a {name} backup restores into {restores_into} that must be empty: it never writes over anything"))) })
    }

    /// Puts the target of a restore with `request` back exactly as `snapshot` (its safety
    /// snapshot in `repo`) holds it: what the snapshot has is written, anything else is
    /// removed. Returns the bytes written.
    fn put_back<'a>(&'a self, _run: &'a RestoreRun<'a>, _configuration: &'a Configuration, _request: &'a serde_json::Value, _repo: &'a Repository, _snapshot: &'a Snapshot) -> SourceFuture<'a, Result<u64, RestoreError>> {
        let Description { name, .. } = self.describe();
        Box::pin(async move { Err(RestoreError::Invalid(format!("a {name} restore takes no safety snapshot, so there is nothing to put back"))) })
    }

    /// Whether a restore with `request` writes over what its target holds (so it is backed up
    /// first); kinds that refuse an occupied target (unless asked to replace it) say no.
    fn writes_over(&self, _request: &serde_json::Value) -> bool {
        true
    }

    /// Whether a restore that fails part-way leaves its target as it was (a database restore
    /// runs in one transaction); otherwise a failed restore is put back from its safety snapshot.
    fn transactional(&self) -> bool {
        false
    }
}

/// The kind of source `configuration` backs up. A PostgreSQL configuration that archives its
/// WAL is a cluster (base backups and point-in-time restores), any other a dump.
pub fn of(configuration: &Configuration) -> &'static dyn Source {
    match configuration.source_type {
        SourceKind::Filesystem => &filesystem::Filesystem,
        SourceKind::EnvironmentVars => &env_files::EnvFiles,
        SourceKind::Postgresql if crate::wal_archive::is_continuous(configuration) => &postgres_cluster::PostgresCluster,
        SourceKind::Postgresql => &postgres_dump::PostgresDump,
        SourceKind::S3Bucket | SourceKind::SupabaseStorage => &bucket::Bucket,
        SourceKind::ConsistencyGroup => &group::Group,
    }
}

/// Restores an execution with the request shape its source takes (the kind's module names
/// it); returns the report as JSON, its shape depending on the kind.
pub async fn restore(catalog: &Catalog, secrets: &SecretBox, targets: &Targets, actor: &Principal, execution_id: &str, request: serde_json::Value) -> Result<serde_json::Value, RestoreError> {
    actor.require(Role::Operator)?;
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    let run = RestoreRun { catalog, secrets, targets, actor };
    of(&configuration).restore(&run, execution_id, request).await
}

/// Reads a restore request of the shape a kind takes, naming the kind when it does not fit.
fn request<T: serde::de::DeserializeOwned>(source: &dyn Source, request: serde_json::Value) -> Result<T, RestoreError> {
    let Description { name, restores_into } = source.describe();
    serde_json::from_value(request).map_err(|e| RestoreError::Invalid(format!("a {name} backup restores into {restores_into}: {e}")))
}

/// The error for a named target of the wrong type.
fn wrong_place(source: &dyn Source, place: &Place) -> RestoreError {
    let Description { name, restores_into } = source.describe();
    RestoreError::Invalid(format!("targetIdentifier: a {name} backup restores into {restores_into}, not {}", place.describe()))
}

/// Only continuous PostgreSQL restores to a point in time.
fn no_point_in_time(destination: &Destination) -> Result<(), RestoreError> {
    match destination.point_in_time {
        Some(_) => Err(RestoreError::Invalid("pointInTimeTarget: only continuous PostgreSQL backups restore to a point in time".into())),
        None => Ok(()),
    }
}

/// A directory that exists and holds something: what writing into it would overwrite.
fn occupied(dir: &std::path::Path, what: &str) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => match entries.count() {
            0 => Vec::new(),
            n => vec![format!("{} is not empty ({n} entries): {what}", dir.display())],
        },
        Err(_) => Vec::new(),
    }
}

/// Regular files under `dir` changed after `since` (a catalog time), in one sentence: what a
/// restore of a backup taken then would lose where it writes over them. A restore gives each
/// file its backed-up time, so files it wrote do not count (links keep the time they were
/// placed, so they are left out). Walked off the async threads, up to `LIMIT` entries.
async fn changed_since(dir: std::path::PathBuf, since: Option<&str>) -> Vec<String> {
    const LIMIT: usize = 1_000_000;
    let Some(since) = since.and_then(crate::platform::time::parse) else { return Vec::new() };
    let since = std::time::SystemTime::from(since);
    let walk = move || {
        let (mut seen, mut count, mut newest) = (0usize, 0usize, None::<(std::time::SystemTime, std::path::PathBuf)>);
        let mut pending = vec![dir.clone()];
        while let Some(at) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&at) else { continue };
            for entry in entries.flatten() {
                seen += 1;
                if seen > LIMIT {
                    pending.clear();
                    break;
                }
                let Ok(meta) = entry.path().symlink_metadata() else { continue };
                if meta.is_dir() {
                    pending.push(entry.path());
                } else if meta.is_file()
                    && let Ok(modified) = meta.modified()
                    && modified > since
                {
                    count += 1;
                    if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
                        newest = Some((modified, entry.path()));
                    }
                }
            }
        }
        let (count, partial) = (count, seen > LIMIT);
        newest.map(|(when, path)| {
            let when = crate::platform::time::to_text(when.into());
            let count = if partial { format!("at least {count}") } else { count.to_string() };
            vec![format!("{count} files in {} changed after the backup was taken (the newest, {}, at {when}): restoring over them loses those changes", dir.display(), path.display())]
        })
    };
    tokio::task::spawn_blocking(walk).await.ok().flatten().unwrap_or_default()
}

/// A safety snapshot's error: what the target's reader said (pg_dump's stderr, the S3 error)
/// is the target's problem, the rest the repository's.
fn target_unreadable(e: crate::engine::repo::RepoError) -> RestoreError {
    match e {
        crate::engine::repo::RepoError::Source(message) => RestoreError::Target(message),
        other => other.into(),
    }
}

/// A report as the JSON [`Source::restore`] answers.
fn report<T: serde::Serialize>(report: T) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or_default()
}

/// An [`Outcome`] with nothing restored and one issue.
fn failed(issue: String) -> Outcome {
    Outcome { bytes: 0, items: 0, issues: vec![issue], detail: serde_json::json!({}) }
}
