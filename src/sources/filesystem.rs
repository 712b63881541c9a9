//! A directory tree: backed up by the engine's walk, restored file by file (each verified and
//! renamed into place, files already identical left alone), restore-tested into a scratch
//! directory. Configuration files (`super::env_files`) restore the same way.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;

use bulwark_types::RestorationType;

use super::{BackupRun, Description, RestoreRun, Source, SourceFuture, TestRun, changed_since, failed, no_point_in_time, occupied, report, request, wrong_place};
use crate::configurations::{self, Configuration};
use crate::engine::repo::backup::BackupOptions;
use crate::engine::repo::snapshot::{NodeKind, Snapshot};
use crate::engine::repo::{Repository, restore, tree};
use crate::engine::source::SourceKind;
use crate::executions::{self, Execution, ExecutionError};
use crate::locations;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::restore_tests::{self, Outcome};
use crate::restores::{Destination, Place, RestoreError, RestoreReport, Targets, completed, record};

pub struct Filesystem;

impl Source for Filesystem {
    fn describe(&self) -> Description {
        Description { name: "directory", restores_into: "a directory" }
    }

    fn back_up<'a>(&'a self, run: &'a BackupRun<'a>, options: BackupOptions) -> SourceFuture<'a, Result<(Snapshot, serde_json::Value), ExecutionError>> {
        Box::pin(async move {
            let root = std::path::PathBuf::from(&run.configuration.source_identifier);
            let snapshot = crate::engine::source::filesystem::backup_tree(run.repo, &root, options).await?;
            Ok((snapshot, serde_json::json!({ "sourceType": SourceKind::Filesystem, "path": root })))
        })
    }

    fn restore<'a>(&'a self, run: &'a RestoreRun<'a>, execution_id: &'a str, body: serde_json::Value) -> SourceFuture<'a, Result<serde_json::Value, RestoreError>> {
        Box::pin(async move { Ok(report(restore_directory(run.catalog, run.secrets, run.targets, run.actor, execution_id, request(self, body)?).await?)) })
    }

    fn restore_test<'a>(&'a self, run: &'a TestRun<'a>) -> SourceFuture<'a, Outcome> {
        Box::pin(into_scratch_directory(run))
    }

    fn check<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value) -> SourceFuture<'a, Result<Place, RestoreError>> {
        Box::pin(async move { check_directory(self, run, body) })
    }

    fn request_for(&self, destination: &Destination) -> Result<serde_json::Value, RestoreError> {
        directory_request(self, destination)
    }

    fn conflicts<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value, backup: &'a Execution) -> SourceFuture<'a, Result<Vec<String>, RestoreError>> {
        Box::pin(directory_conflicts(self, run, body, backup))
    }

    fn snapshot_target<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value, repo: &'a Repository, options: BackupOptions) -> SourceFuture<'a, Result<Snapshot, RestoreError>> {
        Box::pin(snapshot_directory(self, run, body, repo, options))
    }

    fn put_back<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value, repo: &'a Repository, snapshot: &'a Snapshot) -> SourceFuture<'a, Result<u64, RestoreError>> {
        Box::pin(put_back_directory(self, run, body, repo, snapshot))
    }
}

/// Backs up the directory a request writes into (its safety snapshot), empty or not.
pub(super) async fn snapshot_directory(source: &dyn Source, run: &RestoreRun<'_>, body: &serde_json::Value, repo: &Repository, mut options: BackupOptions) -> Result<Snapshot, RestoreError> {
    let Place::Directory { path } = check_directory(source, run, body)? else { return Err(RestoreError::Invalid("a directory request writes into a directory".into())) };
    options.source = path.display().to_string();
    // A place that does not exist yet is backed up as the empty directory the restore makes.
    std::fs::create_dir_all(&path).map_err(|e| RestoreError::Target(format!("{}: {e}", path.display())))?;
    Ok(crate::engine::source::filesystem::backup_tree(repo, &path, options).await?)
}

/// Makes the directory a request writes into hold exactly what `snapshot` holds: what the
/// snapshot has not (or holds as another kind of entry) is removed, then the snapshot is
/// restored over what is left (files already identical are left alone).
pub(super) async fn put_back_directory(source: &dyn Source, run: &RestoreRun<'_>, body: &serde_json::Value, repo: &Repository, snapshot: &Snapshot) -> Result<u64, RestoreError> {
    let Place::Directory { path } = check_directory(source, run, body)? else { return Err(RestoreError::Invalid("a directory request writes into a directory".into())) };
    let index = Arc::new(repo.load_index().await?);
    let kept: HashMap<String, NodeKind> = tree::load_tree(repo, &index, snapshot).await?.into_iter().map(|n| (n.path, n.kind)).collect();
    let root = path.clone();
    tokio::task::spawn_blocking(move || remove_others(&root, &root, &kept))
        .await
        .map_err(|e| RestoreError::Target(e.to_string()))?
        .map_err(|e| RestoreError::Target(format!("{}: {e}", path.display())))?;
    let summary = restore::restore_tree(repo, index, snapshot, &path, &restore::RestoreOptions::default()).await?;
    Ok(summary.bytes)
}

/// Removes what `dir` (below `root`) holds that `kept` does not name with the same kind.
fn remove_others(root: &Path, dir: &Path, kept: &HashMap<String, NodeKind>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let relative = path.strip_prefix(root).map_err(std::io::Error::other)?.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        let kind = match std::fs::symlink_metadata(&path)?.file_type() {
            t if t.is_symlink() => NodeKind::Symlink,
            t if t.is_dir() => NodeKind::Dir,
            t if t.is_file() => NodeKind::File,
            // Sockets, pipes and devices: never backed up, so never in a snapshot; left alone.
            _ => continue,
        };
        match (kept.get(&relative) == Some(&kind), kind) {
            (true, NodeKind::Dir) => remove_others(root, &path, kept)?,
            (true, _) => {}
            (false, NodeKind::Dir) => std::fs::remove_dir_all(&path)?,
            (false, _) => std::fs::remove_file(&path)?,
        }
    }
    Ok(())
}

/// A directory request's target holds files: the restore replaces those that differ, some of
/// them perhaps changed after the backup was taken.
pub(super) async fn directory_conflicts(source: &dyn Source, run: &RestoreRun<'_>, body: &serde_json::Value, backup: &Execution) -> Result<Vec<String>, RestoreError> {
    let Place::Directory { path } = check_directory(source, run, body)? else { return Ok(Vec::new()) };
    let mut found = occupied(&path, "files that differ from the backup's are replaced");
    if !found.is_empty() {
        found.extend(changed_since(path, backup.started_at.as_deref()).await);
    }
    Ok(found)
}

/// Where a directory request writes (configuration files restore the same way).
pub(super) fn check_directory(source: &dyn Source, run: &RestoreRun<'_>, body: &serde_json::Value) -> Result<Place, RestoreError> {
    let r: DirectoryRestore = request(source, body.clone())?;
    Ok(Place::Directory { path: run.targets.directory("targetPath", &r.target_path)? })
}

/// A directory request into a named target: everything, or the scope's paths.
pub(super) fn directory_request(source: &dyn Source, d: &Destination) -> Result<serde_json::Value, RestoreError> {
    let Place::Directory { path } = &d.place else {
        return Err(wrong_place(source, &d.place));
    };
    no_point_in_time(d)?;
    d.refuse_scope(&[("tables", &d.scope.tables), ("prefixes", &d.scope.prefixes)])?;
    let include = d.selection("paths", &d.scope.paths, &[RestorationType::Partial])?;
    Ok(serde_json::json!({ "targetPath": path, "include": include }))
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

/// Restores a directory or configuration-files execution into `request.target_path`.
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
            super::env_files::may_restore(actor)?;
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

/// Restores into a new temporary directory, checks it and removes it.
pub(super) async fn into_scratch_directory(run: &TestRun<'_>) -> Outcome {
    let scratch = match restore_tests::scratch_dir(false) {
        Ok(dir) => dir,
        Err(issue) => return failed(issue),
    };
    let target = scratch.join("files");
    let request = DirectoryRestore { target_path: target.display().to_string(), include: Vec::new(), skip_unreadable: false };
    let targets = Targets::scratch(Some(&scratch), None);
    let outcome = match restore_directory(run.catalog, run.secrets, &targets, run.actor, &run.execution.id, request).await {
        Ok(report) => Outcome {
            bytes: report.bytes,
            items: report.files.unwrap_or(0),
            issues: restore_tests::read_elsewhere(run.execution, &report.storage_location_id),
            detail: serde_json::json!({ "directory": report.target }),
        },
        Err(e) => failed(format!("the restore failed: {e}")),
    };
    restore_tests::remove_scratch(&scratch);
    outcome
}
