//! Verifying a snapshot: every byte read back as a restore would read it, nothing written.

use sha2::{Digest, Sha256};
use serde::Serialize;
use tokio::runtime::Handle;

use super::index::Index;
use super::read::{Check, Opener, blocking, parse_ids, send_walk};
use super::restore::write_stream;
use super::snapshot::{Content, Node, NodeKind, Snapshot};
use super::tree::TreeReader;
use super::{RepoError, Repository};

/// What reading a whole snapshot back found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// Bytes read back, decrypted and hashed.
    pub bytes: u64,
    /// Files of a tree snapshot (0 for a stream).
    pub files: u64,
    /// What cannot be restored, one sentence each: empty when the snapshot is whole.
    pub damaged: Vec<String>,
}

/// Reads every byte of a snapshot back as a restore would (every blob opened, its id
/// recomputed, every file's and the stream's SHA-256 compared) and writes nothing. A damaged
/// file is named and the others are still read.
pub async fn verify_snapshot(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot) -> Result<Verified, RepoError> {
    if let Content::Stream { .. } = snapshot.content {
        return Ok(match write_stream(repo, index, snapshot, std::io::sink(), true).await {
            Ok((_, bytes)) => Verified { bytes, files: 0, damaged: Vec::new() },
            Err(e) if e.is_damage() => Verified { damaged: vec![format!("the stream: {e}")], ..Default::default() },
            Err(e) => return Err(e),
        });
    }
    let mut reader = match TreeReader::open(repo, &index, snapshot).await {
        Ok(reader) => reader.skipping_unreadable(),
        Err(e) if e.is_damage() => return Ok(Verified { damaged: vec![format!("the file listing: {e}")], ..Default::default() }),
        Err(e) => return Err(e),
    };
    // The tree is walked here while a blocking thread reads the files, as a restore does, so
    // memory does not grow with the file count.
    let (files, mut queued) = tokio::sync::mpsc::channel::<Vec<Node>>(4);
    let reading = {
        let (repo, index, handle) = (repo.clone(), index.clone(), Handle::current());
        blocking(move || {
            let mut verified = Verified::default();
            let mut opener = Opener::new(&repo, &handle, Check::ChunkIds);
            while let Some(batch) = queued.blocking_recv() {
                for node in batch {
                    let mut sha = Sha256::new();
                    let mut read = 0u64;
                    let outcome = parse_ids(&node.chunks).and_then(|ids| {
                        opener.for_each_range(&repo, &index, &ids, |bytes| {
                            sha.update(bytes);
                            read += bytes.len() as u64;
                            Ok(())
                        })
                    });
                    verified.bytes += read;
                    verified.files += 1;
                    match outcome {
                        Err(e) if e.is_damage() => verified.damaged.push(format!("{}: {e}", node.path)),
                        Err(e) => return Err(e),
                        Ok(()) if node.sha256.as_deref() != Some(hex::encode(sha.finalize()).as_str()) => {
                            verified.damaged.push(format!("{}: does not match its SHA-256", node.path));
                        }
                        Ok(()) => {}
                    }
                }
            }
            Ok(verified)
        })
    };
    // A reading thread that stopped early returns its error below.
    let walked = send_walk(&mut reader, &files, |node| Ok(node.kind == NodeKind::File)).await;
    drop(files);
    let mut verified = reading.await?;
    walked?;
    // Listings the walk could not read: the files below them were not read either.
    verified.damaged.extend(reader.unreadable().iter().cloned());
    Ok(verified)
}
