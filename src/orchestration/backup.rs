//! Running a backup: from a queued execution to its snapshot in the first reachable location,
//! recorded through `crate::executions` (which publishes what follows: retention tracking,
//! copies, verification). Under a job's lease, nothing is recorded once the lease is lost.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::pool::{JobFuture, JobHandler};
use super::test_hook;
use crate::platform::catalog::Catalog;
use crate::configurations::{self, Configuration};
use crate::executions::{self, Completion, Execution, ExecutionError, JOB_KIND};
use crate::platform::jobs::{self, CancelFlag, ClaimedJob, Lease};
use crate::locations::{self, LocationError};
use crate::engine::repo::backup::{self, BackupOptions, CommitCheck, Progress};
use crate::engine::repo::format::Compression;
use crate::engine::repo::snapshot::Snapshot;
use crate::engine::repo::{CompressionSetting, RepoError};
use crate::platform::secrets::SecretBox;
use crate::engine::source::{SourceError, SourceKind};
use crate::engine::source::postgres::Database;

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
    let execution = executions::find(catalog, id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    let started = Instant::now();
    executions::mark_running(catalog, id, lease.as_ref().map(|(l, _)| l)).await?;
    if let Some((lease, true)) = &lease {
        if let Some((location_id, snapshot, metadata)) = committed_before(catalog, secrets, &configuration, id).await? {
            tracing::warn!(execution = %id, snapshot = %snapshot.id, "an earlier attempt committed this backup before it stopped; adopting its snapshot");
            let s = &snapshot.summary;
            let figures = executions::Progress { bytes_read: s.bytes, bytes_new: s.new_bytes, bytes_total: Some(s.bytes), percent: 100.0, adopted: true, ..Default::default() };
            let progress = serde_json::to_value(figures).unwrap_or_default();
            let done = Completion { location_id: &location_id, snapshot: &snapshot, metadata, duration_seconds: started.elapsed().as_secs_f64(), progress };
            return executions::record_completed(catalog, id, &configuration.id, Some(lease), done).await;
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
            let duration_seconds = started.elapsed().as_secs_f64();
            let done = Completion { location_id: &location_id, snapshot: &snapshot, metadata, duration_seconds, progress: progress_json(&progress, duration_seconds, true) };
            executions::record_completed(catalog, id, &configuration.id, lease, done).await?;
            test_hook::pause_at("after-complete");
            Ok(())
        }
        Err(ExecutionError::Repo(RepoError::Cancelled)) if liveness.as_ref().is_some_and(|l| l.is_stalled()) => {
            let message = "stopped by the watchdog: the backup read nothing for longer than the stall limit (--job-stall-minutes)";
            executions::finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "failed", message).await?;
            Err(RepoError::Cancelled.into())
        }
        Err(ExecutionError::Repo(RepoError::Cancelled)) => {
            executions::finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "cancelled", &RepoError::Cancelled.to_string()).await?;
            Err(RepoError::Cancelled.into())
        }
        Err(e) => {
            executions::finish(catalog, id, &configuration.id, lease.as_ref().map(|(l, _)| l), "failed", &e.to_string()).await?;
            Err(e)
        }
    }
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
    let (snapshot, metadata) = match configuration.source_type {
        SourceKind::Filesystem => {
            let root = std::path::PathBuf::from(&configuration.source_identifier);
            (backup::backup_tree(&repo, &root, options).await?, serde_json::json!({ "sourceType": SourceKind::Filesystem, "path": root }))
        }
        SourceKind::Postgresql if crate::wal_archive::is_continuous(configuration) => {
            let database = Database { url: configuration.source_identifier.clone(), password: configuration.source_password(secrets)? };
            base_backup(&repo, &database, options).await?
        }
        SourceKind::Postgresql => {
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
            (snapshot, serde_json::json!({ "sourceType": SourceKind::Postgresql, "format": "pg_dump custom", "postgresql": metadata }))
        }
        SourceKind::ConsistencyGroup => super::group::back_up_group(catalog, secrets, configuration, execution, &repo, options).await?,
        SourceKind::EnvironmentVars => back_up_config_files(&repo, &configuration.source_identifier, options).await?,
        SourceKind::S3Bucket | SourceKind::SupabaseStorage => back_up_bucket(catalog, &repo, configuration, &location_id, configuration.bucket(secrets)?, options).await?,
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
) -> Result<(String, crate::engine::repo::Repository, Vec<serde_json::Value>), ExecutionError> {
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
async fn back_up_config_files(repo: &crate::engine::repo::Repository, path: &str, options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    use crate::engine::repo::backup::Entry;
    use crate::engine::repo::snapshot::{Node, NodeKind};
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
        let open: crate::engine::repo::backup::EntryOpener = Box::new(move || Ok((None, Box::new(std::fs::File::open(&file)?) as Box<dyn std::io::Read + Send>)));
        backup::backup_listing(repo, vec![Entry { node, open: Some(open) }], options).await?
    };
    let files = crate::config_files::current_files(&root).map_err(unreadable)?;
    let env_files: Vec<serde_json::Value> = files
        .iter()
        .filter(|(rel, _)| crate::engine::source::env_file::is_env_file(rel.rsplit('/').next().unwrap_or(rel)))
        .map(|(rel, file)| {
            let keys: Vec<String> = std::fs::read_to_string(file).map(|t| crate::engine::source::env_file::parse(&t).into_keys().collect()).unwrap_or_default();
            serde_json::json!({ "path": rel, "keys": keys })
        })
        .collect();
    let metadata = serde_json::json!({ "sourceType": SourceKind::EnvironmentVars, "path": path, "files": files.len(), "environmentFiles": env_files });
    Ok((snapshot, metadata))
}

/// Every object of a bucket or prefix; objects whose ETag and size match the previous snapshot
/// of this configuration in this location are carried over unread.
async fn back_up_bucket(
    catalog: &Catalog,
    repo: &crate::engine::repo::Repository,
    configuration: &Configuration,
    location_id: &str,
    bucket: crate::engine::source::bucket::Bucket,
    mut options: BackupOptions,
) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    use crate::engine::repo::backup::Entry;
    use crate::engine::repo::snapshot::{Node, NodeKind};
    use crate::engine::source::bucket::key_to_name;
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
    repo: &crate::engine::repo::Repository,
    configuration: &Configuration,
    location_id: &str,
) -> Result<std::collections::HashMap<String, crate::engine::repo::snapshot::Node>, ExecutionError> {
    let Some(snapshot_id) = executions::last_snapshot(catalog, &configuration.id, location_id).await? else { return Ok(Default::default()) };
    // A forgotten snapshot only costs the re-read.
    let Ok(snapshot) = repo.load_snapshot(&snapshot_id).await else { return Ok(Default::default()) };
    let index = repo.load_index().await?;
    let nodes = crate::engine::repo::tree::list_dir(repo, &index, &snapshot, "").await?;
    Ok(nodes
        .into_iter()
        .filter(|n| n.chunks.iter().all(|c| c.parse().is_ok_and(|id| index.contains(&id))))
        .map(|n| (n.path.clone(), n))
        .collect())
}

/// A physical base backup (the start of a continuous configuration's restorable window).
async fn base_backup(repo: &crate::engine::repo::Repository, database: &Database, mut options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
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
    let range = crate::engine::source::postgres::parse_base_backup_log(&log)
        .ok_or_else(|| ExecutionError::Source(SourceError::Unavailable(format!("pg_basebackup did not report its WAL range: {}", log.trim()))))?;
    let start_file = range.start_file(cluster.wal_segment_bytes);
    let metadata = serde_json::json!({
        "sourceType": SourceKind::Postgresql,
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
        // A missed write is made good by the next one, or by the final figures.
        let _ = executions::record_progress(&catalog, &id, &json).await;
    }
}

fn progress_json(progress: &Progress, seconds: f64, done: bool) -> serde_json::Value {
    let read = progress.bytes_read.load(Ordering::Relaxed);
    let new = progress.bytes_new.load(Ordering::Relaxed);
    let total = progress.bytes_total.load(Ordering::Relaxed);
    let rate = if seconds > 0.0 { read as f64 / seconds } else { 0.0 };
    let percent = if done { 100.0 } else if total > 0 { (read as f64 * 100.0 / total as f64).min(99.9) } else { 0.0 };
    let eta = (total > read && rate > 0.0 && !done).then(|| ((total - read) as f64 / rate).round());
    let figures = executions::Progress {
        bytes_read: read,
        bytes_new: new,
        bytes_total: (total > 0).then_some(total),
        bytes_per_second: rate.round(),
        percent: (percent * 10.0).round() / 10.0,
        eta_seconds: eta,
        adopted: false,
    };
    serde_json::to_value(figures).unwrap_or_default()
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
            Ok(run_fenced(catalog, &self.secrets, id, cancel, Some(job)).await?)
        })
    }
}

