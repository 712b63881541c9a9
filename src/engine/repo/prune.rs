//! `forget` (drop snapshot manifests) and `prune` (reclaim the space only they used).
//!
//! Both hold the exclusive lock, so no backup runs meanwhile (backups hold shared locks and
//! are fenced), and follow the delete ordering of docs/FORMAT.md §10: manifests first; then new
//! packs for the blobs still used in partly-used packs, a new index, the old index files, and
//! the packs no index names last. A snapshot that cannot be read stops `prune` before it deletes
//! anything: space is never reclaimed on a guess.
//!
//! Where the storage locks objects (S3 Object Lock), neither ever tries to delete a locked
//! object, and prune extends the locks of the packs remaining snapshots use: see
//! `repo::object_lock`.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::format;
use super::index::IndexedPack;
use super::pack::PackBuilder;
use super::{ChunkId, RepoError, Repository, object_lock, reachable};

/// Drops the given snapshots; returns the ids dropped.
pub async fn forget(repo: &Repository, ids: &[String]) -> Result<Vec<String>, RepoError> {
    let lock = repo.lock(true).await?;
    let mut dropped = Vec::new();
    for id in ids {
        // Resolved from the listing, not the manifest: an unreadable manifest can be forgotten.
        let id = repo.resolve_snapshot_id(id).await?;
        let manifest = format!("{}{id}", format::SNAPSHOTS_PREFIX);
        object_lock::ensure_unlocked(repo, &manifest, &format!("snapshot {id}")).await?;
        lock.ensure_held().await?;
        repo.storage().delete(&manifest).await?;
        dropped.push(id);
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
    /// Packs that could go but stay, because the storage still locks them (or an index file
    /// that names them); a later prune deletes them once their locks expire.
    pub packs_locked: u64,
    pub bytes_locked: u64,
    /// Packs still in use whose Object Lock this prune renewed.
    pub locks_extended: u64,
    /// Manifests that cannot be read. While there is one, no blob can be proven unused, so
    /// nothing is deleted: forget it (or put a good copy back) and prune again.
    pub unreadable_snapshots: Vec<super::UnreadableSnapshot>,
    /// Marks on damaged copies removed with the packs that held them ([`super::damage`]).
    pub damage_marks_cleared: u64,
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
    let index_files = repo.load_index_files().await?;
    let marks = super::damage::load(repo).await?;
    let mut builder = super::index::IndexBuilder::with_marks(marks.clone());
    index_files.iter().flat_map(|(_, packs)| packs).for_each(|p| builder.add_pack(p));
    let index = builder.finish();
    let (snapshots, unreadable) = repo.snapshots_past_damage().await?;
    let unreadable: Vec<_> = unreadable.into_iter().filter(|u| !excluded.contains(&u.id)).collect();
    if !unreadable.is_empty() {
        lock.release().await?;
        let packs_kept = index.packs.len() as u64;
        return Ok(PruneReport { dry_run, packs_kept, unreadable_snapshots: unreadable, ..Default::default() });
    }
    let used = reachable::blobs_of_all(repo, &index, snapshots.iter().filter(|s| !excluded.contains(&s.id))).await?;
    let stored: HashMap<String, u64> = repo.stored_packs().await?;
    let mut by_pack = index.by_pack();
    // Packs holding a copy marked damaged.
    let marked = marks.packs();

    // Under Object Lock: index files still locked stay, and so do the packs they name.
    let locks = object_lock::Locks::of(repo);
    let (locked_indexes, pinned) = match &locks {
        Some(locks) => object_lock::pinned_packs(repo, locks, &index_files).await?,
        None => Default::default(),
    };
    let held = async |pack: &str, id: Option<&ChunkId>| -> Result<bool, RepoError> {
        Ok(match &locks {
            Some(locks) => id.is_some_and(|id| pinned.contains(id)) || locks.held(repo, &format::pack_key(pack)).await?,
            None => false,
        })
    };

    let mut report = PruneReport { dry_run, ..Default::default() };
    let mut keep: Vec<IndexedPack> = Vec::new();
    let mut live: Vec<ChunkId> = Vec::new();
    let mut delete: Vec<(String, u64)> = Vec::new();
    let mut repack: Vec<Repack> = Vec::new();
    let mut seen = HashSet::new();
    for (pack, size) in &index.packs {
        // Two index files may name one pack (a backup and a prune racing on old files).
        if !seen.insert(*pack) {
            continue;
        }
        let blobs = by_pack.remove(pack).unwrap_or_default();
        let unused: Vec<_> = blobs.iter().filter(|(id, _)| !used.contains(id)).collect();
        let unused_bytes: u64 = unused.iter().map(|(_, l)| l.length as u64).sum();
        let all_unused = unused.len() == blobs.len();
        if unused.len() < blobs.len() {
            live.push(*pack);
        }
        // A pack holding a copy marked damaged that another copy stands in for is rewritten
        // without it; one whose only copy of a used blob is damaged cannot be (copying checks
        // every blob), and stays as it is until it is wholly unused.
        let only_copy_damaged = blobs.iter().any(|(id, l)| l.damaged && used.contains(id));
        let wants_change = all_unused || (!only_copy_damaged && ((unused_bytes as f64) >= REPACK_UNUSED_SHARE * (*size as f64) || marked.contains(pack)));
        if wants_change && held(&pack.to_string(), Some(pack)).await? {
            report.packs_locked += 1;
            report.bytes_locked += size;
            keep.push(IndexedPack { id: *pack, size: *size, entries: entries(&blobs) });
            continue;
        }
        report.blobs_dropped += unused.len() as u64;
        if all_unused {
            delete.push((pack.to_string(), *size));
        } else if wants_change {
            repack.push((*pack, *size, blobs.into_iter().filter(|(id, _)| used.contains(id)).collect()));
        } else {
            keep.push(IndexedPack { id: *pack, size: *size, entries: entries(&blobs) });
        }
    }
    // Packs no index names: left by backups that died (or lost their lock) before committing.
    let indexed: HashSet<String> = index.packs.iter().map(|(id, _)| id.to_string()).collect();
    for (name, size) in &stored {
        if indexed.contains(name) {
            continue;
        }
        if held(name, None).await? {
            report.packs_locked += 1;
            report.bytes_locked += size;
        } else {
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

    // Under Object Lock every new index file is locked for a period: write one only when it
    // replaces something, or the index files would pile up.
    let expired_indexes = index_files.iter().any(|(key, _)| !locked_indexes.contains(key));
    let rewrite = locks.is_none() || !delete.is_empty() || !repack.is_empty() || expired_indexes;
    let mut written = 0u64;
    if rewrite {
        // 1. Copy the still-used blobs of partly-used packs into new packs (sealed bytes as they are).
        let new_packs = copy_used_blobs(repo, &lock, &repack).await?;
        written = new_packs.iter().map(|p| p.size).sum();
        // 2. One new index for everything kept (but what locked index files still name),
        // then 3. the old index files the storage lets go, then 4. the packs.
        keep.retain(|p| !pinned.contains(&p.id));
        keep.extend(new_packs);
        lock.ensure_held().await?;
        repo.save_index(&keep).await?;
        for (key, _) in index_files.iter().filter(|(key, _)| !locked_indexes.contains(key)) {
            lock.ensure_held().await?;
            repo.storage().delete(key).await?;
        }
        for name in delete.iter().map(|(n, _)| n.clone()).chain(repack.iter().map(|(p, _, _)| p.to_string())) {
            lock.ensure_held().await?;
            repo.storage().delete(&format::pack_key(&name)).await?;
        }
        // Marks go with their packs (and with packs already gone).
        let remaining: HashSet<ChunkId> = keep.iter().map(|p| p.id).chain(pinned.iter().copied()).collect();
        let gone: HashSet<ChunkId> = marked.iter().filter(|p| !remaining.contains(*p)).copied().collect();
        if !gone.is_empty() {
            report.damage_marks_cleared = super::damage::clear(repo, &gone).await?;
        }
    }
    // 5. Keep what remaining snapshots use locked.
    if let Some(locks) = &locks {
        for pack in live.iter().filter(|p| !repack.iter().any(|(r, _, _)| r == *p)) {
            if locks.renew(repo, &format::pack_key(&pack.to_string())).await? {
                report.locks_extended += 1;
            }
        }
    }
    report.bytes_freed = freed_by_delete.saturating_sub(written);
    lock.release().await?;
    Ok(report)
}

/// Copies the still-used blobs of the packs to rewrite into new packs, sealed bytes as they
/// are, after checking each opens and matches its id (damage is never carried forward).
async fn copy_used_blobs(repo: &Repository, lock: &super::lock::RepoLock, repack: &[Repack]) -> Result<Vec<IndexedPack>, RepoError> {
    let (key_id, key) = repo.keyring().current_key();
    let mut new_packs = Vec::new();
    let mut builder = PackBuilder::default();
    for (pack, _, blobs) in repack {
        let bytes = repo.storage().get(&format::pack_key(&pack.to_string())).await?;
        for (id, loc) in blobs {
            let sealed = super::pack::blob_bytes(&bytes, loc.offset as u64, loc.length as u64)
                .ok_or_else(|| RepoError::Damaged(format!("pack {pack} is shorter than its index says")))?;
            repo.open_blob(sealed, loc.object_type, id, loc.raw_length)?;
            builder.add(loc.object_type, *id, sealed, loc.raw_length);
            if builder.len() >= format::PACK_TARGET {
                let full = std::mem::take(&mut builder).finish(key_id, key);
                lock.ensure_held().await?;
                new_packs.push(repo.store_pack(full).await?);
            }
        }
    }
    if !builder.is_empty() {
        let last = builder.finish(key_id, key);
        lock.ensure_held().await?;
        new_packs.push(repo.store_pack(last).await?);
    }
    Ok(new_packs)
}

fn entries(blobs: &[(ChunkId, super::index::BlobLocation)]) -> Vec<super::pack::PackEntry> {
    blobs
        .iter()
        .map(|(id, l)| super::pack::PackEntry { object_type: l.object_type, id: *id, offset: l.offset, length: l.length, raw_length: l.raw_length })
        .collect()
}

