//! Restores of a bucket execution: every object (or those under chosen key prefixes) written
//! back with its headers and user metadata, into the same bucket or another one behind the same
//! endpoint and credentials. Each object is verified against its SHA-256 before it becomes
//! visible: a small one is written whole, a big one through a multipart upload completed only
//! after the check (aborted otherwise).

use std::time::Instant;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{RestoreError, RestoreReport, completed, record};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::configurations;
use crate::executions;
use crate::locations;
use crate::engine::repo::snapshot::NodeKind;
use crate::engine::repo::{ChunkId, RepoError, tree};
use crate::platform::secrets::SecretBox;
use crate::engine::source::SourceError;
use crate::engine::source::bucket::name_to_key;

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
}

/// Objects up to this size are written with one PUT; bigger ones in parts of this size.
const PART_BYTES: usize = 16 << 20;

pub async fn restore_bucket(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, execution_id: &str, request: BucketRestore) -> Result<RestoreReport, RestoreError> {
    actor.require(Role::Operator)?;
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    let (location, snapshot_id) = completed(catalog, actor, execution_id, configuration.source_type).await?;
    let source = configuration.bucket(secrets)?;
    let (source_bucket, source_prefix) = source.location();
    let over_source = request.target_bucket.as_ref().is_none_or(|b| *b == source_bucket);
    if over_source {
        // Writing over the protected bucket itself replaces live objects: an administrator's call.
        if actor.role < Role::Admin {
            return Err(RestoreError::Forbidden("restoring a bucket over its own source needs the admin role; restore into another bucket (targetBucket)".into()));
        }
    }
    let target = match (&request.target_bucket, &request.target_prefix) {
        (None, None) => source,
        (bucket, prefix) => {
            source
                .with_target(bucket.as_deref().unwrap_or(&source_bucket), prefix.as_deref().unwrap_or(&source_prefix))
                .map_err(|e| RestoreError::Invalid(format!("targetBucket: {e}")))?
        }
    };
    let started = Instant::now();
    let locations::SnapshotSource { repo, snapshot, location_id } = locations::open_snapshot(catalog, secrets, &location, &snapshot_id).await?;
    let index = repo.load_index().await?;
    let unavailable = |detail: String| RestoreError::Repo(RepoError::DataUnavailable { snapshot: snapshot_id.clone(), detail });
    let mut selected = Vec::new();
    for node in tree::list_dir(&repo, &index, &snapshot, "").await? {
        let key = name_to_key(&node.path).filter(|_| node.kind == NodeKind::File).ok_or_else(|| unavailable(format!("{:?} is not an object of a bucket", node.path)))?;
        if request.include.is_empty() || request.include.iter().any(|p| key.starts_with(p.as_str())) {
            selected.push((key, node));
        }
    }
    if selected.is_empty() && !request.include.is_empty() {
        return Err(RestoreError::Invalid(format!("no object of execution {execution_id} starts with {:?}", request.include)));
    }
    let mut bytes = 0u64;
    for (key, node) in &selected {
        let ids: Vec<ChunkId> = node.chunks.iter().map(|c| c.parse()).collect::<Result<_, _>>()?;
        let attributes = node.object.clone().unwrap_or_default();
        let mismatch = || unavailable(format!("{key}: the object does not match its SHA-256"));
        let mut sha = Sha256::new();
        if node.size as usize <= PART_BYTES {
            let mut body = Vec::with_capacity(node.size as usize);
            for id in &ids {
                body.extend(repo.load_blob(&index, id).await.map_err(|e| unavailable(format!("{key}: {e}")))?);
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
                    let chunk = repo.load_blob(&index, id).await.map_err(|e| unavailable(format!("{key}: {e}")))?;
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
    }
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

fn target_failed(e: SourceError) -> RestoreError {
    RestoreError::Target(e.to_string())
}
