//! Key rotation beyond adding a data key: replacing the master key (no data is rewritten) and
//! re-encrypting old data under the current data key (`rekey`), after which old data keys are
//! dropped from the keyring.

use std::sync::Arc;

use serde::Serialize;

use super::crypto;
use super::format;
use super::index::IndexedPack;
use super::keys::{KeyFile, Secret};
use super::pack::PackBuilder;
use super::{ChunkId, RepoError, Repository, to_json};

/// What a master-key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MasterRotation {
    pub new_key_id: String,
    /// Key files that wrapped the old master key and were removed; add their holders again.
    pub removed_key_ids: Vec<String>,
}

impl Repository {
    /// Replaces the master key. Only the keyring and the key files are rewritten, never data.
    /// `secret` opens the repository afterwards; other passphrases must be added again.
    ///
    /// Crash-safe in any order of failure: the new key file is written first, then the keyring
    /// sealed with the new master key (one atomic put), then the old key files are removed.
    /// Until the keyring is replaced the old keys still open it; after, the new one does
    /// (unlock tries every key file against the keyring).
    pub async fn rotate_master_key(&mut self, secret: &Secret) -> Result<MasterRotation, RepoError> {
        let lock = self.lock(true).await?;
        let old_keys = self.list_keys().await?;
        let master = crypto::Key::random();
        let key_file = KeyFile::create(&master, secret, &super::hostname())?;
        lock.ensure_held().await?;
        self.storage.put_retained(&format!("{}{}", format::KEYS_PREFIX, key_file.id), to_json(&key_file)).await?;
        self.storage.put_retained(format::KEYRING_KEY, self.keyring.seal(&master)).await?;
        self.master = master;
        let mut removed = Vec::new();
        for old in old_keys {
            self.storage.delete(&format!("{}{}", format::KEYS_PREFIX, old.id)).await?;
            removed.push(old.id);
        }
        lock.release().await?;
        Ok(MasterRotation { new_key_id: key_file.id, removed_key_ids: removed })
    }
}

/// What `rekey` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RekeyReport {
    pub blobs_resealed: u64,
    pub packs_rewritten: u64,
    pub snapshots_resealed: u64,
    /// Data keys removed from the keyring once nothing used them.
    pub keys_dropped: Vec<u32>,
}

/// Re-encrypts every object sealed with an older data key under the current one, then drops
/// the older keys. Holds the exclusive lock; ordering as in prune: new packs, new index, old
/// index files, old packs, then manifests re-sealed, then the keyring.
pub async fn rekey(repo: &mut Repository) -> Result<RekeyReport, RepoError> {
    let lock = repo.lock(true).await?;
    let (current, key) = {
        let (id, key) = repo.keyring().current_key();
        (id, key.clone())
    };
    let index = repo.load_index().await?;
    let mut report = RekeyReport::default();
    let mut keep: Vec<IndexedPack> = Vec::new();
    let mut old_packs = Vec::new();
    let mut builder = PackBuilder::default();
    let mut new_packs = Vec::new();
    for (pack, blobs) in index.by_pack() {
        let size = index.packs.iter().find(|(id, _)| *id == pack).map_or(0, |(_, s)| *s);
        let bytes = repo.storage().get(&format::pack_key(&pack.to_string())).await?;
        let header_key = pack_header_key(&bytes);
        let stale: Vec<bool> = blobs
            .iter()
            .map(|(_, loc)| blob_in(&bytes, &pack, loc).map(|b| crypto::header(b).map_or(true, |h| h.key_id != current)))
            .collect::<Result<_, _>>()?;
        if !stale.iter().any(|s| *s) && header_key == Some(current) {
            keep.push(IndexedPack { id: pack, size, entries: blobs.iter().map(|(id, l)| entry(*id, l)).collect() });
            continue;
        }
        for ((id, loc), is_stale) in blobs.iter().zip(stale) {
            let sealed = blob_in(&bytes, &pack, loc)?;
            let plain = repo.open_blob(sealed, loc.object_type, id, loc.raw_length)?;
            let resealed = if is_stale {
                report.blobs_resealed += 1;
                let h = crypto::header(sealed).map_err(|e| RepoError::Damaged(e.to_string()))?;
                let packed = crypto::compress(&plain, h.compression, repo.compression().level).map_err(|e| RepoError::Damaged(e.to_string()))?;
                crypto::seal(&key, current, loc.object_type, h.compression, &id.0, &packed)
            } else {
                sealed.to_vec()
            };
            builder.add(loc.object_type, *id, &resealed, loc.raw_length);
            if builder.len() >= format::PACK_TARGET {
                new_packs.push(upload(repo, std::mem::take(&mut builder), current, &key, &lock).await?);
            }
        }
        old_packs.push(pack);
        report.packs_rewritten += 1;
    }
    if !builder.is_empty() {
        new_packs.push(upload(repo, builder, current, &key, &lock).await?);
    }
    let old_indexes = repo.storage().list(format::INDEX_PREFIX).await?;
    keep.extend(new_packs);
    lock.ensure_held().await?;
    repo.save_index(&keep).await?;
    for object in old_indexes {
        repo.storage().delete(&object.key).await?;
    }
    for pack in old_packs {
        lock.ensure_held().await?;
        repo.storage().delete(&format::pack_key(&pack.to_string())).await?;
    }
    // Manifests: re-sealed in place (same id, same content) under the current key.
    for id in repo.snapshot_ids().await? {
        let sealed = repo.storage().get(&format!("{}{id}", format::SNAPSHOTS_PREFIX)).await?;
        if crypto::header(&sealed).map_or(true, |h| h.key_id != current) {
            let snapshot = repo.load_snapshot(&id).await?;
            lock.ensure_held().await?;
            repo.save_snapshot(&snapshot).await?;
            report.snapshots_resealed += 1;
        }
    }
    // Finally the keyring without the keys nothing uses any more.
    let mut keyring = repo.keyring().clone();
    report.keys_dropped = keyring.data_keys.keys().copied().filter(|k| *k != current).collect();
    keyring.data_keys.retain(|k, _| *k == current);
    lock.ensure_held().await?;
    repo.storage().put_retained(format::KEYRING_KEY, keyring.seal(&repo.master)).await?;
    repo.keyring = Arc::new(keyring);
    lock.release().await?;
    Ok(report)
}

fn entry(id: super::ChunkId, l: &super::index::BlobLocation) -> super::pack::PackEntry {
    super::pack::PackEntry { object_type: l.object_type, id, offset: l.offset, length: l.length, raw_length: l.raw_length }
}

/// A blob's bytes in its pack as fetched, or the pack reported damaged (it is shorter than its
/// index says).
fn blob_in<'a>(bytes: &'a [u8], pack: &ChunkId, loc: &super::index::BlobLocation) -> Result<&'a [u8], RepoError> {
    super::pack::blob_bytes(bytes, loc.offset as u64, loc.length as u64)
        .ok_or_else(|| RepoError::Damaged(format!("pack {pack} has {} bytes, shorter than its index says", bytes.len())))
}

/// The key id the pack header was sealed with.
fn pack_header_key(pack: &[u8]) -> Option<u32> {
    let len_at = pack.len().checked_sub(4)?;
    let header_len = u32::from_le_bytes(pack[len_at..].try_into().ok()?) as usize;
    let start = len_at.checked_sub(header_len)?;
    crypto::header(&pack[start..len_at]).ok().map(|h| h.key_id)
}

async fn upload(
    repo: &Repository,
    builder: PackBuilder,
    key_id: u32,
    key: &crypto::Key,
    lock: &super::lock::RepoLock,
) -> Result<IndexedPack, RepoError> {
    let pack = builder.finish(key_id, key);
    lock.ensure_held().await?;
    repo.store_pack(pack).await
}
