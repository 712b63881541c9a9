//! Configuration files: one environment file, or a directory of configuration files. Backed up
//! as files, with metadata naming each environment file's keys (never a value); restored like
//! a directory (`super::filesystem`), by admins only, since the values are secrets.

use super::filesystem::{check_directory, directory_conflicts, directory_request, into_scratch_directory, put_back_directory, restore_directory, snapshot_directory};
use super::{BackupRun, Description, RestoreRun, Source, SourceFuture, TestRun, report, request};
use crate::engine::repo::Repository;
use crate::engine::repo::backup::{self, BackupOptions, Entry, EntryOpener};
use crate::engine::repo::snapshot::{Node, NodeKind, Snapshot};
use crate::engine::source::env_file;
use crate::engine::source::{SourceError, SourceKind};
use crate::executions::{Execution, ExecutionError};
use crate::platform::auth::{Principal, Role};
use crate::restore_tests::Outcome;
use crate::configurations::Configuration;
use crate::restores::{Destination, Place, RestoreError};

pub struct EnvFiles;

impl Source for EnvFiles {
    fn describe(&self) -> Description {
        Description { name: "configuration files", restores_into: "a directory" }
    }

    fn back_up<'a>(&'a self, run: &'a BackupRun<'a>, options: BackupOptions) -> SourceFuture<'a, Result<(Snapshot, serde_json::Value), ExecutionError>> {
        Box::pin(back_up(run, options))
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
        Box::pin(async move {
            may_restore(run.actor)?;
            snapshot_directory(self, run, body, repo, options).await
        })
    }

    fn put_back<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value, repo: &'a Repository, snapshot: &'a Snapshot) -> SourceFuture<'a, Result<u64, RestoreError>> {
        Box::pin(async move {
            // Configuration files' values, written back: an admin's call, as a restore is.
            may_restore(run.actor)?;
            put_back_directory(self, run, body, repo, snapshot).await
        })
    }
}

/// Writing configuration files' values anywhere is an admin's call.
pub fn may_restore(actor: &Principal) -> Result<(), RestoreError> {
    if actor.role < Role::Admin || actor.scope.is_some() {
        return Err(RestoreError::Forbidden("restoring configuration files (their values) needs the admin role".into()));
    }
    Ok(())
}

async fn back_up(run: &BackupRun<'_>, options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    let path = run.configuration.source_identifier.as_str();
    let root = std::path::PathBuf::from(path);
    let unreadable = |e: std::io::Error| ExecutionError::Source(SourceError::Unavailable(format!("{path}: {e}")));
    let meta = std::fs::metadata(&root).map_err(unreadable)?;
    let snapshot = if meta.is_dir() {
        crate::engine::source::filesystem::backup_tree(run.repo, &root, options).await?
    } else {
        // One file: a listing of one entry, named as the file is.
        let name = root.file_name().and_then(|n| n.to_str()).ok_or_else(|| ExecutionError::Invalid(format!("{path}: not a file name")))?.to_string();
        let mtime_ns = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64);
        use std::os::unix::fs::PermissionsExt;
        let node = Node { path: name, kind: NodeKind::File, mode: meta.permissions().mode() & 0o7777, mtime_ns, size: meta.len(), sha256: None, chunks: vec![], target: None, object: None };
        let file = root.clone();
        let open: EntryOpener = Box::new(move || Ok((None, Box::new(std::fs::File::open(&file)?) as Box<dyn std::io::Read + Send>)));
        backup::backup_listing(run.repo, vec![Entry { node, open: Some(open) }], options).await?
    };
    let files = crate::config_files::current_files(&root).map_err(unreadable)?;
    let env_files: Vec<serde_json::Value> = files
        .iter()
        .filter(|(rel, _)| env_file::is_env_file(rel.rsplit('/').next().unwrap_or(rel)))
        .map(|(rel, file)| {
            let keys: Vec<String> = std::fs::read_to_string(file).map(|t| env_file::parse(&t).into_keys().collect()).unwrap_or_default();
            serde_json::json!({ "path": rel, "keys": keys })
        })
        .collect();
    let metadata = serde_json::json!({ "sourceType": SourceKind::EnvironmentVars, "path": path, "files": files.len(), "environmentFiles": env_files });
    Ok((snapshot, metadata))
}
