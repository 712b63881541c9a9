//! Marks on stored copies found damaged. A blob is deduplicated by its id, so a damaged copy
//! would otherwise be reused by every later backup of the same content, and every later
//! snapshot would be born damaged. When a restore, a verification or `check --read-data` finds
//! a copy that does not open, it leaves a mark (`damaged/<pack>/<blob>`, or `damaged/<pack>`
//! for a pack that is missing or whose header is unreadable): the index then prefers any other
//! copy, a backup meeting the same content uploads a fresh one, and prune rewrites the pack
//! without the damaged copy and drops the mark. Proxmox Backup Server renames a bad chunk to
//! `.bad` for the same reason; here the pack stays as it is (its other blobs are good) and only
//! the mark is added.
//!
//! Marks are hints, not data: they are never replicated, a lost one is found again by the next
//! read, and a forged one only costs a redundant upload.

use std::collections::HashSet;

use super::{ChunkId, RepoError, Repository, format};

/// The marks of a repository, as listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DamageMarks {
    /// Packs marked whole: every blob in them.
    packs: HashSet<ChunkId>,
    /// Single copies: (pack, blob).
    blobs: HashSet<(ChunkId, ChunkId)>,
}

impl DamageMarks {
    /// Whether the copy of `blob` in `pack` is marked damaged.
    pub fn covers(&self, pack: &ChunkId, blob: &ChunkId) -> bool {
        self.packs.contains(pack) || self.blobs.contains(&(*pack, *blob))
    }

    /// Whether `pack` is marked whole.
    pub fn whole(&self, pack: &ChunkId) -> bool {
        self.packs.contains(pack)
    }

    pub fn is_empty(&self) -> bool {
        self.packs.is_empty() && self.blobs.is_empty()
    }

    /// The packs any mark names.
    pub fn packs(&self) -> HashSet<ChunkId> {
        self.packs.iter().copied().chain(self.blobs.iter().map(|(p, _)| *p)).collect()
    }
}

fn key(pack: &ChunkId, blob: Option<&ChunkId>) -> String {
    match blob {
        Some(blob) => format!("{}{pack}/{blob}", format::DAMAGED_PREFIX),
        None => format!("{}{pack}", format::DAMAGED_PREFIX),
    }
}

impl FromIterator<(ChunkId, Option<ChunkId>)> for DamageMarks {
    /// Marks on (pack, blob) copies, or on whole packs with `None`.
    fn from_iter<I: IntoIterator<Item = (ChunkId, Option<ChunkId>)>>(marks: I) -> DamageMarks {
        let mut out = DamageMarks::default();
        for (pack, blob) in marks {
            match blob {
                Some(blob) => out.blobs.insert((pack, blob)),
                None => out.packs.insert(pack),
            };
        }
        out
    }
}

/// Lists the marks; keys that are not marks are ignored (they mark nothing).
pub async fn load(repo: &Repository) -> Result<DamageMarks, RepoError> {
    let objects = repo.storage().list(format::DAMAGED_PREFIX).await?;
    Ok(objects
        .iter()
        .filter_map(|object| {
            let rest = object.key.trim_start_matches(format::DAMAGED_PREFIX);
            let (pack, blob) = rest.split_once('/').map_or((rest, None), |(p, b)| (p, Some(b)));
            let pack = pack.parse::<ChunkId>().ok()?;
            match blob.map(str::parse::<ChunkId>) {
                None => Some((pack, None)),
                Some(Ok(blob)) => Some((pack, Some(blob))),
                Some(Err(_)) => None,
            }
        })
        .collect())
}

/// Marks the copy of `blob` in `pack` (the whole pack with `None`) damaged, saying `why` in the
/// log. Best effort: a reader without write access (or a storage outage) leaves no mark, and the
/// next read finds the damage again.
pub async fn mark(repo: &Repository, pack: &ChunkId, blob: Option<&ChunkId>, why: &str) {
    let key = key(pack, blob);
    match repo.storage().put(&key, why.as_bytes().to_vec()).await {
        Ok(()) => tracing::warn!(mark = %key, %why, "marked a damaged copy: readers use another copy, and the next backup of the same data stores a fresh one"),
        Err(e) => tracing::warn!(mark = %key, %why, error = %e, "could not mark a damaged copy"),
    }
}

/// Removes the marks naming any of `packs` (which prune has deleted or rewritten). Returns how
/// many were removed.
pub async fn clear(repo: &Repository, packs: &HashSet<ChunkId>) -> Result<u64, RepoError> {
    let mut cleared = 0;
    for object in repo.storage().list(format::DAMAGED_PREFIX).await? {
        let rest = object.key.trim_start_matches(format::DAMAGED_PREFIX);
        let pack = rest.split_once('/').map_or(rest, |(p, _)| p);
        if pack.parse::<ChunkId>().is_ok_and(|p| packs.contains(&p)) {
            repo.storage().delete(&object.key).await?;
            cleared += 1;
        }
    }
    Ok(cleared)
}
