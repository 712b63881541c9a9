//! An S3 bucket or prefix (S3, Supabase Storage): backed up object by object, carrying over
//! unread the objects whose ETag and size match the previous snapshot; restored, every object
//! or those under chosen key prefixes, with its headers and user metadata, into the same
//! bucket, another behind the same endpoint and credentials, or one reached with credentials
//! of its own (a named restore target's); restore-tested into a scratch
//! bucket beside the source.
//!
//! Each restored object is verified against its SHA-256 before it becomes visible: a small
//! one is written whole, a big one through a multipart upload completed only after the check
//! (aborted otherwise).

use std::time::Instant;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use bulwark_types::RestorationType;

use super::{BackupRun, Description, RestoreRun, Source, SourceFuture, TestRun, failed, no_point_in_time, report, request, target_unreadable, wrong_place};
use crate::configurations::{self, Configuration};
use crate::engine::repo::backup::{self, BackupOptions, Entry};
use crate::engine::repo::snapshot::{Node, NodeKind, Snapshot};
use crate::engine::repo::index::Index;
use crate::engine::repo::{ChunkId, RepoError, Repository, tree};
use crate::engine::source::SourceError;
use crate::engine::source::bucket::{Bucket as SourceBucket, BucketOptions, ObjectHead, key_to_name, name_to_key};
use crate::executions::{self, Execution, ExecutionError};
use crate::locations;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::restore_tests::{self, Outcome};
use crate::restores::{Destination, Place, RestoreError, RestoreReport, completed, record};

pub struct Bucket;

impl Source for Bucket {
    fn describe(&self) -> Description {
        Description { name: "bucket", restores_into: "a bucket" }
    }

    fn back_up<'a>(&'a self, run: &'a BackupRun<'a>, options: BackupOptions) -> SourceFuture<'a, Result<(Snapshot, serde_json::Value), ExecutionError>> {
        Box::pin(back_up(run, options))
    }

    fn restore<'a>(&'a self, run: &'a RestoreRun<'a>, execution_id: &'a str, body: serde_json::Value) -> SourceFuture<'a, Result<serde_json::Value, RestoreError>> {
        Box::pin(async move { Ok(report(restore_bucket(run.catalog, run.secrets, run.actor, execution_id, request(self, body)?).await?)) })
    }

    fn restore_test<'a>(&'a self, run: &'a TestRun<'a>) -> SourceFuture<'a, Outcome> {
        Box::pin(into_scratch_bucket(run))
    }

    fn check<'a>(&'a self, run: &'a RestoreRun<'a>, configuration: &'a Configuration, body: &'a serde_json::Value) -> SourceFuture<'a, Result<Place, RestoreError>> {
        Box::pin(async move {
            let r: BucketRestore = request(self, body.clone())?;
            let target = r.target(&configuration.bucket(run.secrets)?)?;
            let (bucket, prefix) = target.location();
            Ok(Place::Bucket { endpoint: target.endpoint(), bucket, prefix })
        })
    }

    /// Objects under the prefix, and those written after the backup was taken (a restore
    /// writes them anew, so objects an earlier restore wrote count too: S3 keeps no other time).
    fn conflicts<'a>(&'a self, run: &'a RestoreRun<'a>, configuration: &'a Configuration, body: &'a serde_json::Value, backup: &'a Execution) -> SourceFuture<'a, Result<Vec<String>, RestoreError>> {
        Box::pin(async move {
            let r: BucketRestore = request(self, body.clone())?;
            let target = r.target(&configuration.bucket(run.secrets)?)?;
            let held = target.holds_objects().await.map_err(|e| RestoreError::Target(format!("the target bucket: {e}")))?;
            if !held {
                return Ok(Vec::new());
            }
            let mut found = vec![format!("{} already holds objects: keys the backup has are replaced", target.describe())];
            // S3 keeps whole seconds: an object of the backup's first second counts as later.
            let since = backup.started_at.as_deref().and_then(crate::platform::time::parse).map(|t| t.timestamp() * 1_000_000_000);
            if let Some(since) = since {
                let later: Vec<_> = target.list().await.map_err(target_failed)?.into_iter().filter(|head| head.modified_ns >= since).collect();
                if let Some(newest) = later.iter().max_by_key(|head| head.modified_ns) {
                    let when = chrono::DateTime::from_timestamp_nanos(newest.modified_ns);
                    found.push(format!(
                        "{} objects there were written after the backup was taken (the newest, {}, at {}): restoring over them loses those changes",
                        later.len(),
                        newest.key,
                        crate::platform::time::to_text(when)
                    ));
                }
            }
            Ok(found)
        })
    }

    fn request_for(&self, d: &Destination) -> Result<serde_json::Value, RestoreError> {
        let Place::Bucket { endpoint, bucket, prefix } = &d.place else {
            return Err(wrong_place(self, &d.place));
        };
        no_point_in_time(d)?;
        d.refuse_scope(&[("tables", &d.scope.tables), ("paths", &d.scope.paths)])?;
        let include = d.selection("prefixes", &d.scope.prefixes, &[RestorationType::Partial])?;
        Ok(serde_json::json!({
            "targetEndpoint": endpoint, "targetRegion": d.region, "targetAccessKey": d.access_key, "targetSecretKey": d.secret,
            "targetBucket": bucket, "targetPrefix": prefix, "include": include,
        }))
    }

    fn snapshot_target<'a>(&'a self, run: &'a RestoreRun<'a>, configuration: &'a Configuration, body: &'a serde_json::Value, repo: &'a Repository, mut options: BackupOptions) -> SourceFuture<'a, Result<Snapshot, RestoreError>> {
        Box::pin(async move {
            let r: BucketRestore = request(self, body.clone())?;
            let target = r.target(&configuration.bucket(run.secrets)?)?;
            let entries = target.list().await.map_err(target_failed)?.into_iter().map(|head| read_entry(&target, head)).collect();
            options.source = target.describe();
            backup::backup_listing(repo, entries, options).await.map_err(target_unreadable)
        })
    }

    fn put_back<'a>(&'a self, run: &'a RestoreRun<'a>, configuration: &'a Configuration, body: &'a serde_json::Value, repo: &'a Repository, snapshot: &'a Snapshot) -> SourceFuture<'a, Result<u64, RestoreError>> {
        Box::pin(async move {
            let r: BucketRestore = request(self, body.clone())?;
            let target = r.target(&configuration.bucket(run.secrets)?)?;
            let index = repo.load_index().await?;
            let objects = objects_of(repo, &index, snapshot, &[]).await?;
            let kept: std::collections::HashSet<&str> = objects.iter().map(|(key, _)| key.as_str()).collect();
            for head in target.list().await.map_err(target_failed)? {
                if !kept.contains(head.key.as_str()) {
                    target.delete(&head.key).await.map_err(target_failed)?;
                }
            }
            write_objects(repo, &index, snapshot, &target, &objects).await
        })
    }
}

/// A listing entry that reads the object when the backup gets to it.
fn read_entry(bucket: &SourceBucket, head: ObjectHead) -> Entry {
    let (bucket, handle, key) = (bucket.clone(), tokio::runtime::Handle::current(), head.key.clone());
    let node = Node { path: key_to_name(&head.key), kind: NodeKind::File, mode: 0o644, mtime_ns: head.modified_ns, size: head.size, sha256: None, chunks: vec![], target: None, object: None };
    Entry { node, open: Some(Box::new(move || bucket.open(&handle, &key).map(|(attributes, reader)| (Some(attributes), reader)))) }
}


/// Where to write a bucket execution back, and which of its objects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketRestore {
    /// Another bucket behind the same endpoint and credentials; the source bucket when absent.
    #[serde(default)]
    pub target_bucket: Option<String>,
    /// The prefix to write under; the source's own when absent.
    #[serde(default)]
    pub target_prefix: Option<String>,
    /// Only keys (below the source prefix) starting with one of these; every object when empty.
    #[serde(default)]
    pub include: Vec<String>,
    /// Another endpoint and credentials (a named restore target's); the source's when absent.
    #[serde(default)]
    pub target_endpoint: Option<String>,
    #[serde(default)]
    pub target_region: Option<String>,
    #[serde(default)]
    pub target_access_key: Option<String>,
    #[serde(default)]
    pub target_secret_key: Option<String>,
}

impl BucketRestore {
    /// Where it writes: the source's bucket, another bucket behind the source's endpoint and
    /// credentials, or a bucket reached with credentials of its own.
    fn target(&self, source: &SourceBucket) -> Result<SourceBucket, RestoreError> {
        let (source_bucket, source_prefix) = source.location();
        let bucket = self.target_bucket.as_deref().unwrap_or(&source_bucket);
        let prefix = self.target_prefix.as_deref().unwrap_or(&source_prefix);
        match &self.target_access_key {
            Some(access_key) => {
                let options = BucketOptions { endpoint: self.target_endpoint.clone(), region: self.target_region.clone(), access_key_id: access_key.clone(), path_style: None };
                SourceBucket::new(&format!("s3://{bucket}/{prefix}"), &options, self.target_secret_key.as_deref().unwrap_or(""))
            }
            None if self.target_endpoint.is_some() => return Err(RestoreError::Invalid("targetAccessKey: another endpoint needs its own credentials".into())),
            None if self.target_bucket.is_none() && self.target_prefix.is_none() => return Ok(source.clone()),
            None => source.with_target(bucket, prefix),
        }
        .map_err(|e| RestoreError::Invalid(format!("targetBucket: {e}")))
    }
}

/// Objects up to this size are written with one PUT; bigger ones in parts of this size.
const PART_BYTES: usize = 16 << 20;

pub async fn restore_bucket(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, execution_id: &str, request: BucketRestore) -> Result<RestoreReport, RestoreError> {
    actor.require(Role::Operator)?;
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    let (location, snapshot_id) = completed(catalog, actor, execution_id, configuration.source_type).await?;
    let source = configuration.bucket(secrets)?;
    let target = request.target(&source)?;
    let over_source = target.location().0 == source.location().0 && target.endpoint() == source.endpoint();
    if over_source {
        // Writing over the protected bucket itself replaces live objects: an administrator's call.
        if actor.role < Role::Admin {
            return Err(RestoreError::Forbidden("restoring a bucket over its own source needs the admin role; restore into another bucket (targetBucket)".into()));
        }
    }
    let started = Instant::now();
    let locations::SnapshotSource { repo, snapshot, location_id } = locations::open_snapshot(catalog, secrets, &location, &snapshot_id).await?;
    let index = repo.load_index().await?;
    let selected = objects_of(&repo, &index, &snapshot, &request.include).await?;
    if selected.is_empty() && !request.include.is_empty() {
        return Err(RestoreError::Invalid(format!("no object of execution {execution_id} starts with {:?}", request.include)));
    }
    let bytes = write_objects(&repo, &index, &snapshot, &target, &selected).await?;
    let report = RestoreReport {
        execution_id: execution_id.into(),
        target: target.describe(),
        selection: request.include.clone(),
        bytes,
        files: Some(selected.len() as u64),
        unchanged: None,
        duration_seconds: started.elapsed().as_secs_f64(),
        storage_location_id: location_id,
        unreadable: Vec::new(),
    };
    record(catalog, actor, "restore.bucket", &report).await?;
    Ok(report)
}

/// The objects of a bucket snapshot by key, those starting with one of `include` (all when empty).
async fn objects_of(repo: &Repository, index: &Index, snapshot: &Snapshot, include: &[String]) -> Result<Vec<(String, Node)>, RestoreError> {
    let mut selected = Vec::new();
    for node in tree::list_dir(repo, index, snapshot, "").await? {
        let key = name_to_key(&node.path)
            .filter(|_| node.kind == NodeKind::File)
            .ok_or_else(|| RestoreError::Repo(RepoError::DataUnavailable { snapshot: snapshot.id.clone(), detail: format!("{:?} is not an object of a bucket", node.path) }))?;
        if include.is_empty() || include.iter().any(|p| key.starts_with(p.as_str())) {
            selected.push((key, node));
        }
    }
    Ok(selected)
}

/// Writes objects of a snapshot into `target`, each checked against its SHA-256 before it
/// becomes visible; returns the bytes written.
async fn write_objects(repo: &Repository, index: &Index, snapshot: &Snapshot, target: &SourceBucket, selected: &[(String, Node)]) -> Result<u64, RestoreError> {
    let unavailable = |detail: String| RestoreError::Repo(RepoError::DataUnavailable { snapshot: snapshot.id.clone(), detail });
    let mut bytes = 0u64;
    let progress = crate::engine::repo::restore::watch();
    for (key, node) in selected {
        if let Some(w) = &progress {
            if w.stopped() {
                return Err(RepoError::Cancelled.into());
            }
            w.touch();
        }
        let ids: Vec<ChunkId> = node.chunks.iter().map(|c| c.parse()).collect::<Result<_, _>>()?;
        let attributes = node.object.clone().unwrap_or_default();
        let mismatch = || unavailable(format!("{key}: the object does not match its SHA-256"));
        let mut sha = Sha256::new();
        if node.size as usize <= PART_BYTES {
            let mut body = Vec::with_capacity(node.size as usize);
            for id in &ids {
                body.extend(repo.load_blob(index, id).await.map_err(|e| unavailable(format!("{key}: {e}")))?);
            }
            sha.update(&body);
            if body.len() as u64 != node.size || Some(hex::encode(sha.finalize())) != node.sha256 {
                return Err(mismatch());
            }
            target.put(key, &attributes, body).await.map_err(target_failed)?;
        } else {
            let mut upload = target.start_upload(key, &attributes).await.map_err(target_failed)?;
            let outcome = async {
                let (mut part, mut written) = (Vec::with_capacity(PART_BYTES), 0u64);
                for id in &ids {
                    let chunk = repo.load_blob(index, id).await.map_err(|e| unavailable(format!("{key}: {e}")))?;
                    sha.update(&chunk);
                    written += chunk.len() as u64;
                    part.extend(chunk);
                    if part.len() >= PART_BYTES {
                        upload.part(std::mem::take(&mut part)).await.map_err(target_failed)?;
                    }
                }
                if !part.is_empty() {
                    upload.part(part).await.map_err(target_failed)?;
                }
                if written != node.size || Some(hex::encode(sha.finalize())) != node.sha256 {
                    return Err(mismatch());
                }
                Ok(())
            }
            .await;
            match outcome {
                Ok(()) => upload.complete().await.map_err(target_failed)?,
                Err(e) => {
                    upload.abort().await;
                    return Err(e);
                }
            }
        }
        bytes += node.size;
        if let Some(p) = &progress {
            p.progressed(node.size);
        }
    }
    Ok(bytes)
}

fn target_failed(e: SourceError) -> RestoreError {
    RestoreError::Target(e.to_string())
}

/// Every object of a bucket or prefix; objects whose ETag and size match the previous snapshot
/// of this configuration in this location are carried over unread.
async fn back_up(run: &BackupRun<'_>, mut options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    let BackupRun { catalog, repo, configuration, location_id, .. } = *run;
    let bucket = configuration.bucket(run.secrets)?;
    let heads = bucket.list().await?;
    let previous = previous_objects(catalog, repo, configuration, location_id).await?;
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
                    read_entry(&bucket, head)
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
    repo: &Repository,
    configuration: &Configuration,
    location_id: &str,
) -> Result<std::collections::HashMap<String, Node>, ExecutionError> {
    let Some(snapshot_id) = executions::last_snapshot(catalog, &configuration.id, location_id).await? else { return Ok(Default::default()) };
    // A forgotten snapshot only costs the re-read.
    let Ok(snapshot) = repo.load_snapshot(&snapshot_id).await else { return Ok(Default::default()) };
    let index = repo.load_index().await?;
    let nodes = tree::list_dir(repo, &index, &snapshot, "").await?;
    Ok(nodes
        .into_iter()
        .filter(|n| n.chunks.iter().all(|c| c.parse().is_ok_and(|id| index.contains(&id))))
        .map(|n| (n.path.clone(), n))
        .collect())
}

/// Restores every object into a new scratch bucket beside the source (same endpoint and
/// credentials), where each object is checked against its SHA-256 before it appears; then
/// checks the scratch bucket holds exactly the objects and bytes of the backup, and removes it.
async fn into_scratch_bucket(run: &TestRun<'_>) -> Outcome {
    let TestRun { catalog, secrets, actor, configuration, execution, test_id } = *run;
    let source = match configuration.bucket(secrets) {
        Ok(source) => source,
        Err(e) => return failed(format!("the source bucket cannot be reached: {e}")),
    };
    // Bucket names: 3-63 lowercase letters, digits and hyphens.
    let name = format!("bulwark-test-{}", test_id.replace('-', "").chars().take(24).collect::<String>());
    let (_, prefix) = source.location();
    let scratch = match source.with_target(&name, &prefix) {
        Ok(scratch) => scratch,
        Err(e) => return failed(format!("no scratch bucket name: {e}")),
    };
    if let Err(e) = scratch.create().await {
        return failed(format!("cannot create the scratch bucket {name}: {e}"));
    }
    let request = BucketRestore { target_bucket: Some(name.clone()), ..BucketRestore::default() };
    let mut outcome = match restore_bucket(catalog, secrets, actor, &execution.id, request).await {
        Ok(report) => Outcome {
            bytes: report.bytes,
            items: report.files.unwrap_or(0),
            issues: restore_tests::read_elsewhere(execution, &report.storage_location_id),
            detail: serde_json::json!({ "bucket": report.target }),
        },
        Err(e) => failed(format!("the restore failed: {e}")),
    };
    if outcome.issues.is_empty() {
        match scratch.list().await {
            Ok(listed) => {
                let (count, bytes) = (listed.len() as u64, listed.iter().map(|o| o.size).sum::<u64>());
                if (count, bytes) != (outcome.items, outcome.bytes) {
                    outcome.issues.push(format!("the scratch bucket holds {count} objects of {bytes} bytes; the backup has {} of {}", outcome.items, outcome.bytes));
                }
            }
            Err(e) => outcome.issues.push(format!("listing the scratch bucket failed: {e}")),
        }
    }
    if let Err(e) = scratch.destroy().await {
        tracing::warn!(bucket = %name, error = %e, "removing a test restore's scratch bucket failed");
    }
    outcome
}

