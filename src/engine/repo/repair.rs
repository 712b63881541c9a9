//! Repairs of what a repository derives from its packs. The index is derived data: every pack
//! carries its own sealed header listing its blobs, so index files can always be rebuilt from
//! the packs (`bulwark repo repair index`), and until then readers fall back on those headers.

use std::collections::HashMap;

use futures_util::StreamExt;
use serde::Serialize;

use super::index::IndexedPack;
use super::{ChunkId, RepoError, Repository, format, pack};

/// How many packs' headers are fetched at once.
const PARALLEL_HEADERS: usize = 16;
/// The first read of a pack's tail: enough for the header of a pack of ~1400 blobs.
const TAIL_GUESS: u64 = 64 << 10;

/// Reads one stored pack's header from its tail (one or two ranged reads, never the whole
/// pack). The header is sealed, so a header that opens is the one its writer made.
pub async fn read_pack_header(repo: &Repository, name: &str, size: u64) -> Result<IndexedPack, RepoError> {
    let damaged = |e: String| RepoError::Damaged(format!("pack {name}: {e}"));
    let id: ChunkId = name.parse().map_err(|_| damaged("not a pack name".into()))?;
    let key = format::pack_key(name);
    let guess = size.min(TAIL_GUESS);
    let mut tail = repo.storage().get_range(&key, size - guess, guess).await?;
    let needed = pack::header_length(&tail).map_err(|e| damaged(e.to_string()))? as u64 + 4;
    if needed > size {
        return Err(damaged(format!("its trailer announces a {needed}-byte header in {size} bytes")));
    }
    if needed > guess {
        tail = repo.storage().get_range(&key, size - needed, needed).await?;
    }
    let entries = pack::read_tail_header(&tail, size, |k| repo.keyring().key(k)).map_err(|e| damaged(e.to_string()))?;
    Ok(IndexedPack { id, size, entries })
}

/// The headers of `packs` (name, size), read a few at a time; each with its own outcome.
pub(crate) async fn read_pack_headers(repo: &Repository, packs: Vec<(String, u64)>) -> Vec<(String, Result<IndexedPack, RepoError>)> {
    futures_util::stream::iter(packs)
        .map(|(name, size)| async move {
            let header = read_pack_header(repo, &name, size).await;
            (name, header)
        })
        .buffer_unordered(PARALLEL_HEADERS)
        .collect()
        .await
}

/// What rebuilding the index did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexRepair {
    /// Packs whose headers were read and indexed.
    pub packs: usize,
    /// Blobs the new index lists.
    pub blobs: usize,
    /// Old index files removed (readable or not).
    pub index_files_replaced: usize,
    /// Old index files that could not be removed (Object Lock), with why.
    pub index_files_kept: Vec<String>,
    /// Packs whose header could not be read, one sentence each: their blobs are not indexed
    /// (a later backup uploads what it needs again; `check` names the snapshots affected).
    pub unreadable_packs: Vec<String>,
}

/// Rebuilds the index from the headers of every stored pack, under the exclusive lock: the new
/// index files are written first, then the old ones removed, so a repair stopped halfway leaves
/// a repository whose index is at worst listed twice.
pub async fn repair_index(repo: &Repository) -> Result<IndexRepair, RepoError> {
    let lock = repo.lock(true).await?;
    let old: Vec<String> = repo.storage().list(format::INDEX_PREFIX).await?.into_iter().map(|o| o.key).collect();
    let stored: HashMap<String, u64> = repo.stored_packs().await?;
    let mut report = IndexRepair::default();
    let mut packs = Vec::new();
    for (_, header) in read_pack_headers(repo, stored.into_iter().collect()).await {
        match header {
            Ok(pack) => packs.push(pack),
            Err(RepoError::Damaged(why)) => report.unreadable_packs.push(why),
            Err(e) => return Err(e),
        }
    }
    packs.sort_by_key(|p| p.id);
    report.packs = packs.len();
    report.blobs = packs.iter().map(|p| p.entries.len()).sum();
    report.unreadable_packs.sort();
    lock.ensure_held().await?;
    repo.save_index(&packs).await?;
    for key in &old {
        match repo.storage().delete(key).await {
            Ok(()) => report.index_files_replaced += 1,
            // Under Object Lock until its retention ends: read beside the new files meanwhile
            // (an index may list a pack twice), skipped with a warning if it is the damaged one.
            Err(e) => report.index_files_kept.push(format!("{key}: {e}")),
        }
    }
    lock.release().await?;
    Ok(report)
}
