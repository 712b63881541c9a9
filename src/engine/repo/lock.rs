//! Repository locks: `locks/<id>`, sealed, with an expiry the holder keeps pushing forward.
//!
//! Backups take a shared lock, `forget` and `prune` an exclusive one. A lock whose expiry has
//! passed is ignored, so a dead process never blocks anyone for long. Holders are fenced: before
//! each commit point (an index file, a manifest, a delete) they check that their lock is still
//! theirs and unexpired, so a process that was paused past its expiry cannot commit.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::format::{LOCKS_PREFIX, ObjectType};
use super::{RepoError, Repository, random_id};
use crate::platform::time;

/// How long a lock lives without a refresh; holders refresh every third of it.
pub const DEFAULT_TTL_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockFile {
    pub version: u32,
    pub id: String,
    pub hostname: String,
    pub pid: u32,
    pub exclusive: bool,
    pub created: String,
    pub expires: String,
}

/// How long a new lock waits for a newer conflicting one to back off (see [`Repository::lock`]).
const RACE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A held lock; released on [`RepoLock::release`] (or left to expire if the process dies).
pub struct RepoLock {
    repo: Repository,
    file: Arc<Mutex<LockFile>>,
    refresher: tokio::task::JoinHandle<()>,
    released: bool,
}

impl Repository {
    async fn read_locks(&self) -> Result<Vec<LockFile>, RepoError> {
        let mut out = Vec::new();
        for object in self.storage().list(LOCKS_PREFIX).await? {
            let id = object.key.trim_start_matches(LOCKS_PREFIX).to_string();
            let sealed = match self.storage().get(&object.key).await {
                Ok(s) => s,
                Err(crate::engine::storage::StorageError::NotFound(_)) => continue, // released meanwhile
                Err(e) => return Err(e.into()),
            };
            let plain = self.open_object(ObjectType::Lock, &id, &sealed).map_err(|e| RepoError::Damaged(format!("lock {id}: {e}")))?;
            out.push(serde_json::from_slice(&plain).map_err(|e| RepoError::Damaged(format!("lock {id}: {e}")))?);
        }
        Ok(out)
    }

    async fn write_lock(&self, lock: &LockFile) -> Result<(), RepoError> {
        let sealed = self.seal_object(ObjectType::Lock, &lock.id, &super::to_json(lock))?;
        Ok(self.storage().put(&format!("{LOCKS_PREFIX}{}", lock.id), sealed).await?)
    }

    /// Takes a shared (`exclusive = false`) or exclusive lock, or fails with
    /// [`RepoError::LockHeld`] naming the holder.
    pub async fn lock(&self, exclusive: bool) -> Result<RepoLock, RepoError> {
        let conflicting = |locks: Vec<LockFile>, own: Option<&str>| -> Vec<LockFile> {
            let now_text = time::now_text();
            locks.into_iter().filter(|l| Some(l.id.as_str()) != own && l.expires > now_text && (exclusive || l.exclusive)).collect()
        };
        let held = |l: LockFile| RepoError::LockHeld(format!(
            "{} lock of {} (pid {}) since {}, until {}",
            if l.exclusive { "an exclusive" } else { "a shared" },
            l.hostname,
            l.pid,
            l.created,
            l.expires
        ));
        // A conflicting lock may be on its way out (an operation that failed removes its lock
        // in the background as it returns): give it a moment before giving up.
        let deadline = tokio::time::Instant::now() + RACE_WAIT;
        while let Some(l) = conflicting(self.read_locks().await?, None).pop() {
            if tokio::time::Instant::now() >= deadline {
                return Err(held(l));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let now = Utc::now();
        let file = LockFile {
            version: 1,
            id: random_id(),
            hostname: super::hostname(),
            pid: std::process::id(),
            exclusive,
            created: time::to_text(now),
            expires: time::to_text(now + Duration::seconds(self.lock_ttl)),
        };
        self.write_lock(&file).await?;
        // Two clients may have written at nearly the same moment: look again. The older lock
        // (by creation time, then id) wins and the newer backs off. But a creation time is
        // taken before the write, so the older lock may have been written after the newer
        // client's second look: that client saw nothing and went ahead. The older one
        // therefore goes ahead only once the newer lock is gone (it backs off at once if it
        // saw ours), and gives up if it stays.
        let ours = (file.created.clone(), file.id.clone());
        let deadline = tokio::time::Instant::now() + RACE_WAIT;
        loop {
            let mut others = conflicting(self.read_locks().await?, Some(&file.id));
            others.sort_by(|a, b| (&a.created, &a.id).cmp(&(&b.created, &b.id)));
            let Some(other) = others.into_iter().next() else { break };
            let older = (other.created.clone(), other.id.clone()) < ours;
            if older || tokio::time::Instant::now() >= deadline {
                let _ = self.storage().delete(&format!("{LOCKS_PREFIX}{}", file.id)).await;
                return Err(held(other));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let file = Arc::new(Mutex::new(file));
        let refresher = tokio::spawn(refresh(self.clone(), file.clone()));
        Ok(RepoLock { repo: self.clone(), file, refresher, released: false })
    }
}

async fn refresh(repo: Repository, file: Arc<Mutex<LockFile>>) {
    let period = std::time::Duration::from_secs((repo.lock_ttl / 3).max(1) as u64);
    loop {
        tokio::time::sleep(period).await;
        let mut next = file.lock().unwrap_or_else(|p| p.into_inner()).clone();
        next.expires = time::to_text(Utc::now() + Duration::seconds(repo.lock_ttl));
        if repo.write_lock(&next).await.is_ok() {
            *file.lock().unwrap_or_else(|p| p.into_inner()) = next;
        }
    }
}

impl RepoLock {
    /// Fencing: fails with [`RepoError::LockLost`] unless the lock is still in storage and
    /// unexpired. Call right before every commit point.
    pub async fn ensure_held(&self) -> Result<(), RepoError> {
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if file.expires <= time::now_text() {
            return Err(RepoError::LockLost(format!("lock {} expired at {}", file.id, file.expires)));
        }
        match self.repo.storage().size(&format!("{LOCKS_PREFIX}{}", file.id)).await? {
            Some(_) => Ok(()),
            None => Err(RepoError::LockLost(format!("lock {} was removed", file.id))),
        }
    }

    pub async fn release(mut self) -> Result<(), RepoError> {
        self.refresher.abort();
        self.released = true;
        let id = self.file.lock().unwrap_or_else(|p| p.into_inner()).id.clone();
        Ok(self.repo.storage().delete(&format!("{LOCKS_PREFIX}{id}")).await?)
    }

    /// Leaves the lock to expire, as a process that dies holding it does (crash tests).
    pub fn abandon(mut self) {
        self.refresher.abort();
        self.released = true;
    }

    pub fn expires(&self) -> Option<DateTime<Utc>> {
        time::parse(&self.file.lock().unwrap_or_else(|p| p.into_inner()).expires)
    }
}

impl Drop for RepoLock {
    /// An operation that fails returns early without `release`: stop keeping its lock alive
    /// and remove it in the background, so the next operation need not wait for it to expire
    /// (it still expires if even that fails, or the process dies).
    fn drop(&mut self) {
        self.refresher.abort();
        if self.released {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let id = self.file.lock().unwrap_or_else(|p| p.into_inner()).id.clone();
        let storage = self.repo.storage().clone();
        runtime.spawn(async move {
            if let Err(e) = storage.delete(&format!("{LOCKS_PREFIX}{id}")).await {
                tracing::warn!(lock = %id, error = %e, "removing an abandoned repository lock failed; it expires by itself");
            }
        });
    }
}
