//! What snapshots need: the blobs a snapshot reaches (a stream's chunks; a tree's listings and
//! its files' chunks) and the packs holding them. Prune keeps what is reached, check reports
//! what is reached but missing or damaged, and Object Lock retains the packs a snapshot needs;
//! all three read it here, so they never disagree on what a snapshot uses.

use std::collections::HashSet;

use super::index::Index;
use super::snapshot::{Content, Snapshot};
use super::tree::TreeReader;
use super::{ChunkId, RepoError, Repository};

/// The blobs `snapshot` reaches, as far as its tree could be walked, and whether the walk got
/// to the end (an id that does not parse stops it: the listing holding it is damaged).
pub(crate) async fn blobs_reached(repo: &Repository, index: &Index, snapshot: &Snapshot) -> (Vec<ChunkId>, Result<(), RepoError>) {
    let mut blobs = Vec::new();
    let walked = async {
        match &snapshot.content {
            Content::Stream { chunks, .. } => push_parsed(&mut blobs, chunks),
            Content::Tree { tree, .. } => {
                push_parsed(&mut blobs, tree)?;
                // Files' data blobs, and directories' listing blobs.
                let mut reader = TreeReader::open(repo, index, snapshot).await?;
                while let Some(node) = reader.next().await? {
                    push_parsed(&mut blobs, &node.chunks)?;
                }
                Ok(())
            }
        }
    }
    .await;
    (blobs, walked)
}

/// Every blob `snapshot` needs; fails when its tree cannot be read to the end.
pub(crate) async fn snapshot_blobs(repo: &Repository, index: &Index, snapshot: &Snapshot) -> Result<Vec<ChunkId>, RepoError> {
    let (blobs, walked) = blobs_reached(repo, index, snapshot).await;
    walked.map(|()| blobs)
}

/// Every blob the `snapshots` need; fails when a tree cannot be read.
pub(crate) async fn blobs_of_all(repo: &Repository, index: &Index, snapshots: impl Iterator<Item = &Snapshot>) -> Result<HashSet<ChunkId>, RepoError> {
    let mut used = HashSet::new();
    for snapshot in snapshots {
        used.extend(snapshot_blobs(repo, index, snapshot).await?);
    }
    Ok(used)
}

/// The packs holding at least one of `blobs`.
pub(crate) fn packs_holding(index: &Index, blobs: &HashSet<ChunkId>) -> Vec<ChunkId> {
    index.by_pack().iter().filter(|(_, held)| held.iter().any(|(id, _)| blobs.contains(id))).map(|(pack, _)| *pack).collect()
}

fn push_parsed(blobs: &mut Vec<ChunkId>, ids: &[String]) -> Result<(), RepoError> {
    for id in ids {
        blobs.push(id.parse()?);
    }
    Ok(())
}
