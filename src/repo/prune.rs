//! `forget` (drop snapshot manifests) and `prune` (reclaim the space only they used).
//!
//! Both hold the exclusive lock, so no backup runs meanwhile (backups hold shared locks and
//! are fenced), and follow the delete ordering of docs/FORMAT.md §10: manifests first; then new
//! packs for the blobs still used in partly-used packs, a new index, the old index files, and
//! the packs no index names last. A snapshot that cannot be read stops `prune` before it deletes
//! anything: space is never reclaimed on a guess.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::format;
use super::index::IndexedPack;
use super::pack::PackBuilder;
use super::snapshot::Content;
use super::{ChunkId, RepoError, Repository, tree};

/// Drops the given snapshots; returns the ids dropped.
pub async fn forget(repo: &Repository, ids: &[String]) -> Result<Vec<String>, RepoError> {
    let lock = repo.lock(true).await?;
    let mut dropped = Vec::new();
    for id in ids {
        let snapshot = repo.snapshot(id).await?;
        lock.ensure_held().await?;
        repo.storage().delete(&format!("{}{}", format::SNAPSHOTS_PREFIX, snapshot.id)).await?;
        dropped.push(snapshot.id);
    }
    lock.release().await?;
    Ok(dropped)
}

/// What `prune` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub dry_run: bool,
    pub packs_deleted: u64,
    pub packs_repacked: u64,
    pub packs_kept: u64,
    pub blobs_dropped: u64,
    /// Bytes of storage given back (deleted packs minus new packs).
    pub bytes_freed: u64,
}

/// A pack is rewritten when at least this share of its bytes is no longer used.
const REPACK_UNUSED_SHARE: f64 = 0.10;

/// A pack to rewrite: its id, its size, and the blobs it holds that are still used.
type Repack = (ChunkId, u64, Vec<(ChunkId, super::index::BlobLocation)>);

pub async fn prune(repo: &Repository, dry_run: bool) -> Result<PruneReport, RepoError> {
    prune_excluding(repo, dry_run, &HashSet::new()).await
}

/// What a prune would free once the snapshots in `excluded` were forgotten: a dry run that
/// treats them as gone (the retention cleanup's preview).
pub async fn prune_without(repo: &Repository, excluded: &HashSet<String>) -> Result<PruneReport, RepoError> {
    prune_excluding(repo, true, excluded).await
}

async fn prune_excluding(repo: &Repository, dry_run: bool, excluded: &HashSet<String>) -> Result<PruneReport, RepoError> {
    let lock = repo.lock(true).await?;
    let index = repo.load_index().await?;
    let used = used_blobs(repo, &index, excluded).await?;

    let stored: HashMap<String, u64> = repo.stored_packs().await?;
    let mut by_pack = index.by_pack();

    let mut report = PruneReport { dry_run, ..Default::default() };
    let mut keep: Vec<IndexedPack> = Vec::new();
    let mut delete: Vec<(String, u64)> = Vec::new();
    let mut repack: Vec<Repack> = Vec::new();
    for (pack, size) in &index.packs {
        let blobs = by_pack.remove(pack).unwrap_or_default();
        let unused: Vec<_> = blobs.iter().filter(|(id, _)| !used.contains(id)).collect();
        let unused_bytes: u64 = unused.iter().map(|(_, l)| l.length as u64).sum();
        report.blobs_dropped += unused.len() as u64;
        if unused.len() == blobs.len() {
            delete.push((pack.to_string(), *size));
        } else if (unused_bytes as f64) >= REPACK_UNUSED_SHARE * (*size as f64) {
            repack.push((*pack, *size, blobs.into_iter().filter(|(id, _)| used.contains(id)).collect()));
        } else {
            keep.push(IndexedPack { id: *pack, size: *size, entries: entries(&blobs) });
        }
    }
    // Packs no index names: left by backups that died (or lost their lock) before committing.
    let indexed: HashSet<String> = index.packs.iter().map(|(id, _)| id.to_string()).collect();
    for (name, size) in &stored {
        if !indexed.contains(name) {
            delete.push((name.clone(), *size));
        }
    }
    report.packs_kept = keep.len() as u64;
    report.packs_repacked = repack.len() as u64;
    report.packs_deleted = delete.len() as u64;
    let freed_by_delete: u64 = delete.iter().map(|(_, s)| s).sum::<u64>() + repack.iter().map(|(_, s, _)| s).sum::<u64>();
    if dry_run {
        let rewritten: u64 = repack.iter().flat_map(|(_, _, b)| b.iter().map(|(_, l)| l.length as u64)).sum();
        report.bytes_freed = freed_by_delete.saturating_sub(rewritten);
        lock.release().await?;
        return Ok(report);
    }

    // 1. Copy the still-used blobs of partly-used packs into new packs (sealed bytes as they are).
    let (key_id, key) = repo.keyring().current_key();
    let mut new_packs = Vec::new();
    let mut builder = PackBuilder::default();
    let mut written = 0u64;
    for (pack, _, blobs) in &repack {
        let bytes = repo.storage().get(&format::pack_key(&pack.to_string())).await?;
        for (id, loc) in blobs {
            let sealed = bytes
                .get(loc.offset as usize..(loc.offset + loc.length) as usize)
                .ok_or_else(|| RepoError::Damaged(format!("pack {pack} is shorter than its index says")))?;
            // Never carry damage forward: the blob must open and match its id.
            repo.open_blob(sealed, loc.object_type, id, loc.raw_length)?;
            builder.add(loc.object_type, *id, sealed, loc.raw_length);
            if builder.len() >= format::PACK_TARGET {
                let full = std::mem::take(&mut builder).finish(key_id, key);
                lock.ensure_held().await?;
                let stored = repo.store_pack(full).await?;
                written += stored.size;
                new_packs.push(stored);
            }
        }
    }
    if !builder.is_empty() {
        let last = builder.finish(key_id, key);
        lock.ensure_held().await?;
        let stored = repo.store_pack(last).await?;
        written += stored.size;
        new_packs.push(stored);
    }
    // 2. One new index for everything kept, then 3. the old index files, then 4. the packs.
    let old_indexes = repo.storage().list(format::INDEX_PREFIX).await?;
    keep.extend(new_packs);
    lock.ensure_held().await?;
    repo.save_index(&keep).await?;
    for object in old_indexes {
        lock.ensure_held().await?;
        repo.storage().delete(&object.key).await?;
    }
    for (name, _) in delete.iter().map(|(n, s)| (n.clone(), *s)).chain(repack.iter().map(|(p, s, _)| (p.to_string(), *s))) {
        lock.ensure_held().await?;
        repo.storage().delete(&format::pack_key(&name)).await?;
    }
    report.bytes_freed = freed_by_delete.saturating_sub(written);
    lock.release().await?;
    Ok(report)
}

fn entries(blobs: &[(ChunkId, super::index::BlobLocation)]) -> Vec<super::pack::PackEntry> {
    blobs
        .iter()
        .map(|(id, l)| super::pack::PackEntry { object_type: l.object_type, id: *id, offset: l.offset, length: l.length, raw_length: l.raw_length })
        .collect()
}

/// Every blob any snapshot but the `excluded` needs. Fails if a snapshot or its tree cannot
/// be read.
async fn used_blobs(repo: &Repository, index: &super::index::Index, excluded: &HashSet<String>) -> Result<HashSet<ChunkId>, RepoError> {
    let mut used = HashSet::new();
    let parse = |ids: &[String]| ids.iter().map(|s| s.parse::<ChunkId>()).collect::<Result<Vec<_>, _>>();
    for snapshot in repo.snapshots().await?.into_iter().filter(|s| !excluded.contains(&s.id)) {
        match &snapshot.content {
            Content::Stream { chunks, .. } => used.extend(parse(chunks)?),
            Content::Tree { tree, .. } => {
                used.extend(parse(tree)?);
                // Files' data blobs, and directories' listing blobs.
                for node in tree::load_tree(repo, index, &snapshot).await? {
                    used.extend(parse(&node.chunks)?);
                }
            }
        }
    }
    Ok(used)
}
