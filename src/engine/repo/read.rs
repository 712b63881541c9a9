//! Reading what a snapshot holds, for restores, verification and downloads: chunks fetched
//! in ranges of neighbouring blobs and opened (decrypted, decompressed, checked) on the
//! reader's own reused buffers ([`Opener`]); a tree's nodes walked out to reading threads in
//! batches ([`send_walk`]); one file streamed, checked as it goes ([`file_stream`]).

use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use super::crypto::Unsealer;
use super::format;
use super::index::Index;
use super::snapshot::{Node, Snapshot};
use super::tree::TreeReader;
use super::{ChunkId, RepoError, Repository};
use crate::engine::storage::RangeReader;
use crate::engine::storage::direct::AlignedBuffer;

pub(super) fn parse_ids(ids: &[String]) -> Result<Vec<ChunkId>, RepoError> {
    ids.iter().map(|s| s.parse()).collect()
}

/// Chunks stored back to back in one pack are fetched with one read, up to this many bytes,
/// and this many bytes once opened (what one range costs in memory).
const MAX_RANGE: u64 = 32 << 20;
const MAX_RANGE_PLAIN: u64 = 8 << 20;

/// Neighbouring chunks of one pack, fetched with one read: `ids[first..last]` at
/// `start..end` of `pack`.
pub(super) struct Range {
    pack: ChunkId,
    start: u64,
    end: u64,
    first: usize,
    last: usize,
}

/// Groups `ids` into ranges (the usual case: a file's chunks are packed as they are read, so a
/// range read saves a request per chunk on S3 and an open per chunk on disk).
pub(super) fn plan_ranges(index: &Index, ids: &[ChunkId]) -> Result<(Vec<Range>, Vec<super::index::BlobLocation>), RepoError> {
    let located = ids
        .iter()
        .map(|id| index.get(id).map(|(pack, loc)| (*pack, loc)).ok_or_else(|| RepoError::Damaged(format!("blob {id} is not in the index"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let (pack, first) = located[i];
        let start = first.offset as u64;
        let (mut end, mut plain) = (start + first.length as u64, first.raw_length as u64);
        let mut j = i + 1;
        while j < ids.len() && located[j].0 == pack && located[j].1.offset as u64 == end && end - start < MAX_RANGE && plain < MAX_RANGE_PLAIN {
            end += located[j].1.length as u64;
            plain += located[j].1.raw_length as u64;
            j += 1;
        }
        ranges.push(Range { pack, start, end, first: i, last: j });
        i = j;
    }
    Ok((ranges, located.into_iter().map(|(_, loc)| loc).collect()))
}

/// How the bytes a restore opens are known to be the ones backed up (besides every blob's
/// authentication tag, which binds it to its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// Every chunk's id is recomputed from its bytes: streams, whose whole SHA-256 would hash
    /// every byte again on one thread, verification, and files where ids are keyed BLAKE3
    /// ([`Repository::tree_restore_check`]).
    ChunkIds,
    /// The caller compares each file's SHA-256 with the manifest, which covers its chunks,
    /// their order and their count: files of a version-1 repository, where hashing every byte
    /// a second time for its chunk's HMAC-SHA256 id cost a fifth of a tree restore's CPU time.
    FileHashes,
}

/// A restore thread's reused state: its reader of ranges, its zstd context, the buffer ranges
/// are read into and the one they are opened into.
pub(super) struct Opener<'r> {
    reader: Box<dyn RangeReader + 'r>,
    /// Where a damaged copy's mark is written from ([`super::damage`]).
    handle: &'r Handle,
    pub(super) check: Check,
    unsealer: Unsealer,
    sealed: Vec<u8>,
    plain: Vec<u8>,
    /// The staging buffer of direct writes, between two big files.
    pub(super) buffer: Option<AlignedBuffer>,
}

impl<'r> Opener<'r> {
    pub(super) fn new(repo: &'r Repository, handle: &'r Handle, check: Check) -> Opener<'r> {
        Opener { reader: repo.storage().range_reader(handle), handle, check, unsealer: Unsealer::default(), sealed: Vec::new(), plain: Vec::new(), buffer: None }
    }

    /// Fetches one range and opens (decrypts, decompresses, verifies) each of its chunks;
    /// returns their bytes, back to back.
    pub(super) fn open_range(&mut self, repo: &Repository, range: &Range, ids: &[ChunkId], locations: &[super::index::BlobLocation]) -> Result<&[u8], RepoError> {
        self.reader.read_into(&format::pack_key(&range.pack.to_string()), range.start, range.end - range.start, &mut self.sealed)?;
        self.plain.clear();
        for k in range.first..range.last {
            let loc = locations[k];
            let opened = match super::pack::blob_bytes(&self.sealed, loc.offset as u64 - range.start, loc.length as u64) {
                None => Err(RepoError::Damaged(format!("pack {}: {} bytes read where the index places blob {}", range.pack, self.sealed.len(), ids[k]))),
                Some(sealed) => match self.check {
                    Check::ChunkIds => repo.open_blob_into(&mut self.unsealer, sealed, loc.object_type, &ids[k], loc.raw_length, &mut self.plain),
                    Check::FileHashes => repo.unseal_blob_into(&mut self.unsealer, sealed, loc.object_type, &ids[k], loc.raw_length, &mut self.plain),
                },
            };
            if let Err(RepoError::Damaged(why)) = &opened {
                self.handle.block_on(super::damage::mark(repo, &range.pack, Some(&ids[k]), why));
            }
            opened?;
        }
        Ok(&self.plain)
    }

    /// Fetches `ids` in order and passes the verified bytes to `sink`, a range at a time.
    pub(super) fn for_each_range(&mut self, repo: &Repository, index: &Index, ids: &[ChunkId], mut sink: impl FnMut(&[u8]) -> Result<(), RepoError>) -> Result<(), RepoError> {
        let (ranges, locations) = plan_ranges(index, ids)?;
        for range in &ranges {
            sink(self.open_range(repo, range, ids, &locations)?)?;
        }
        Ok(())
    }
}

/// Nodes, and files for the writer threads, are handed over in batches of this many: a
/// thread woken per file was a tenth of the CPU time of a restore of many small files.
pub(super) const BATCH: usize = 64;

/// Walks the rest of `reader` and sends the nodes `keep` accepts to `nodes`, in batches; false
/// if the receiving side stopped first (it reports why).
pub(super) async fn send_walk(reader: &mut TreeReader<'_>, nodes: &tokio::sync::mpsc::Sender<Vec<Node>>, mut keep: impl FnMut(&Node) -> Result<bool, RepoError>) -> Result<bool, RepoError> {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(node) = reader.next().await? {
        if keep(&node)? {
            batch.push(node);
        }
        if batch.len() == BATCH && nodes.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).await.is_err() {
            return Ok(false);
        }
    }
    Ok(batch.is_empty() || nodes.send(batch).await.is_ok())
}

/// Reading and writing threads on the blocking pool ([`crate::platform::blocking::spawn`]).
pub(super) fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, RepoError> + Send + 'static) -> impl Future<Output = Result<T, RepoError>> + Send {
    crate::platform::blocking::spawn(f)
}

/// A file of a tree snapshot as it leaves the repository: its size, and its chunks in order.
pub struct FileStream {
    pub size: u64,
    pub chunks: futures_util::stream::BoxStream<'static, Result<Vec<u8>, RepoError>>,
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileStream({} bytes)", self.size)
    }
}

/// Streams one file of a tree snapshot, one chunk in memory at a time whatever the file's size.
/// Each chunk is checked against its id as it is read and the whole file against its SHA-256 at
/// the end; a mismatch ends the stream with an error, so a reader sees a cut-off transfer, never a
/// complete-looking wrong file.
pub async fn file_stream(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot, path: &str) -> Result<FileStream, RepoError> {
    let node = super::tree::find_file(repo, &index, snapshot, path).await?;
    let ids = parse_ids(&node.chunks)?.into_iter();
    let unavailable = {
        let (snapshot, path) = (snapshot.id.clone(), path.to_string());
        move |detail: String| RepoError::DataUnavailable { snapshot: snapshot.clone(), detail: format!("{path}: {detail}") }
    };
    let state = (repo.clone(), index, ids, Sha256::new(), node.sha256, unavailable);
    let chunks = futures_util::stream::try_unfold(state, |(repo, index, mut ids, mut hasher, expected, unavailable)| async move {
        let Some(id) = ids.next() else {
            return match Some(hex::encode(hasher.finalize())) == expected {
                true => Ok(None),
                false => Err(unavailable("does not match its SHA-256".into())),
            };
        };
        let chunk = repo.load_blob(&index, &id).await.map_err(|e| unavailable(e.to_string()))?;
        hasher.update(&chunk);
        Ok(Some((chunk, (repo, index, ids, hasher, expected, unavailable))))
    });
    Ok(FileStream { size: node.size, chunks: Box::pin(chunks) })
}

/// One small file of a tree snapshot, whole, refused above `limit` bytes.
pub async fn read_file(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot, path: &str, limit: u64) -> Result<Vec<u8>, RepoError> {
    use futures_util::TryStreamExt;
    let file = file_stream(repo, index, snapshot, path).await?;
    if file.size > limit {
        return Err(RepoError::Invalid(format!("{path} is larger than {} MiB: restore it with `bulwark repo restore`", limit >> 20)));
    }
    file.chunks.try_concat().await
}
