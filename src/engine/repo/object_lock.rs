//! S3 Object Lock as the repository sees it: which objects the storage still refuses to
//! delete, and keeping the objects retained snapshots need locked.
//!
//! Every object is locked for the location's period when it is written (`put_retained`).
//! From then on:
//! - nothing deletes an object whose lock has not expired: `forget` refuses, `prune` defers;
//! - `prune` extends the lock of every pack a remaining snapshot still uses once less than
//!   half the period is left, so live data always stays locked for at least half a period
//!   while prune runs at least that often (as Kopia's maintenance does);
//! - a snapshot with a known deletion date has its manifest and packs locked until then
//!   ([`retain_snapshot`]), so storage itself refuses to delete it early.
//!
//! Index files are never extended: a prune writes a fresh (freshly locked) index instead,
//! and old index files expire and go. A pack named by an index file that is still locked
//! stays until that file goes, so no index ever names a missing pack.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use super::{ChunkId, RepoError, Repository, format};

/// When a lock of `period` is renewed: once less than this share of it is left.
const RENEW_BELOW: f64 = 0.5;

/// The storage's locks, looked up as prune needs them.
pub(crate) struct Locks {
    now: SystemTime,
    period: Duration,
}

impl Locks {
    /// `None` when the storage locks nothing: prune then behaves as before.
    pub(crate) fn of(repo: &Repository) -> Option<Locks> {
        repo.storage().lock_period().map(|period| Locks { now: SystemTime::now(), period })
    }

    /// Whether the storage still refuses to delete `key`.
    pub(crate) async fn held(&self, repo: &Repository, key: &str) -> Result<bool, RepoError> {
        Ok(repo.storage().locked_until(key).await?.is_some_and(|until| until > self.now))
    }

    /// Renews the lock of `key` when less than half the period is left; true if it did.
    pub(crate) async fn renew(&self, repo: &Repository, key: &str) -> Result<bool, RepoError> {
        let current = repo.storage().locked_until(key).await?;
        let threshold = self.now + self.period.mul_f64(RENEW_BELOW);
        if current.is_some_and(|until| until >= threshold) {
            return Ok(false);
        }
        repo.storage().extend_lock(key, self.now + self.period).await?;
        Ok(true)
    }
}

/// Fails with [`RepoError::ObjectLocked`] if the storage still locks `key`.
pub(crate) async fn ensure_unlocked(repo: &Repository, key: &str, what: &str) -> Result<(), RepoError> {
    match repo.storage().locked_until(key).await? {
        Some(until) if until > SystemTime::now() => Err(RepoError::ObjectLocked { what: what.to_string(), until: text(until) }),
        _ => Ok(()),
    }
}

/// Until when the storage locks a snapshot's manifest, if it does and the lock holds.
pub async fn snapshot_locked_until(repo: &Repository, snapshot_id: &str) -> Result<Option<String>, RepoError> {
    let until = repo.storage().locked_until(&format!("{}{snapshot_id}", format::SNAPSHOTS_PREFIX)).await?;
    Ok(until.filter(|u| *u > SystemTime::now()).map(text))
}

/// Locks a snapshot's manifest and every pack holding its data until `until` (never
/// shortening a lock); returns how many objects it asked the storage to extend. Does nothing
/// where the storage locks nothing.
pub async fn retain_snapshot(repo: &Repository, snapshot_id: &str, until: SystemTime) -> Result<usize, RepoError> {
    if repo.storage().lock_period().is_none() {
        return Ok(0);
    }
    let snapshot = repo.snapshot(snapshot_id).await?;
    let index = repo.load_index().await?;
    let blobs: HashSet<ChunkId> = super::reachable::snapshot_blobs(repo, &index, &snapshot).await?.into_iter().collect();
    let packs = super::reachable::packs_holding(&index, &blobs);
    let storage = repo.storage();
    storage.extend_lock(&format!("{}{}", format::SNAPSHOTS_PREFIX, snapshot.id), until).await?;
    for pack in &packs {
        storage.extend_lock(&format::pack_key(&pack.to_string()), until).await?;
    }
    Ok(packs.len() + 1)
}

/// Packs named by index files the storage still locks: they stay until those files go.
pub(crate) async fn pinned_packs(repo: &Repository, locks: &Locks, files: &[(String, Vec<super::index::IndexedPack>)]) -> Result<(HashSet<String>, HashSet<ChunkId>), RepoError> {
    let mut locked_files = HashSet::new();
    let mut pinned = HashSet::new();
    for (key, packs) in files {
        if locks.held(repo, key).await? {
            locked_files.insert(key.clone());
            pinned.extend(packs.iter().map(|p| p.id));
        }
    }
    Ok((locked_files, pinned))
}

fn text(t: SystemTime) -> String {
    crate::platform::time::to_text(chrono::DateTime::<chrono::Utc>::from(t))
}
