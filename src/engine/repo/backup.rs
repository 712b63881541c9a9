//! Backing up a byte stream or a directory tree.
//!
//! A bounded, staged pipeline (DESIGN: "both cores busy, memory flat"):
//!
//! ```text
//! N readers (each takes the next item: read, chunk, SHA-256 of the item)
//!   ─▶ bounded queue ─▶ N workers (chunk id, dedup, compress, seal)
//!   ─▶ bounded queue ─▶ packer (fill packs, upload each when full; finish items and directories)
//! ```
//!
//! A tree is walked lazily, one directory at a time, as readers ask for the next file, and each
//! directory's listing is stored as its own tree blob once everything in it is stored. Only
//! the directories still in flight are held, so memory does not grow with the number of files,
//! and an unchanged directory costs no new blob. At most `2N` batches wait in each queue and
//! one pack of each kind is being filled. The first error stops every stage.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use super::chunker::Chunker;
use super::format::{self, ObjectType};
use super::index::{Index, IndexedPack};
use super::pack::PackBuilder;
use super::snapshot::{Content, Node, ObjectAttributes, Snapshot, Summary};
use super::tree::{BlobRef, TreeBuilder};
use super::{ChunkId, IdHasher, RepoError, Repository, crypto};

/// What to record about a backup besides its data.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// A path, or a name for a stream.
    pub source: String,
    pub tags: Vec<String>,
    pub metadata: serde_json::Value,
    /// Counters the pipeline advances as it goes, for a live progress bar.
    pub progress: Arc<Progress>,
    /// Asked right before the manifest is written: an error stops the backup without one.
    pub commit_check: Option<CommitCheck>,
}

/// A last check before a backup commits (writes its manifest), beyond the repository lock's:
/// the job queue's lease, so a worker that lost its job never commits it.
#[derive(Clone)]
pub struct CommitCheck(pub Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, Result<(), RepoError>> + Send + Sync>);

impl std::fmt::Debug for CommitCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitCheck")
    }
}

/// How far a running backup is. Readers add what they read; workers add what was new.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes_read: AtomicU64,
    /// Bytes of chunks the repository did not have yet (before compression).
    pub bytes_new: AtomicU64,
    /// The bytes to read when known (a tree, once measured); 0 when not (a stream).
    pub bytes_total: AtomicU64,
    /// Set to stop the backup: readers stop at their next chunk and the backup fails with
    /// [`RepoError::Cancelled`] before any snapshot is written.
    pub cancel: Arc<AtomicBool>,
}

/// Opens one item's bytes when the reader gets to it.
pub type Opener = Box<dyn FnOnce() -> std::io::Result<Box<dyn Read + Send>> + Send>;

/// Where readers take their next item from: `(item number, opener)`, `None` when done.
pub(crate) type Items = Box<dyn FnMut() -> Result<Option<(usize, Opener)>, RepoError> + Send>;

/// What the pipeline learned about one item.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemResult {
    pub size: u64,
    pub sha256: [u8; 32],
    pub chunks: Vec<ChunkId>,
}

enum Job {
    Chunk { item: usize, seq: usize, data: Vec<u8> },
    /// The item's last chunk has been sent: it had `chunks` chunks.
    End { item: usize, size: u64, sha256: [u8; 32], chunks: usize },
}

/// Chunks travel between stages in batches of about this many bytes: one message per small
/// file cost a tenth of the CPU time in thread wake-ups.
const BATCH_BYTES: usize = 512 * 1024;

enum Processed {
    New { item: usize, seq: usize, id: ChunkId, sealed: Vec<u8>, raw: u32 },
    Known { item: usize, seq: usize, id: ChunkId },
    End { item: usize, size: u64, sha256: [u8; 32], chunks: usize },
}

/// Told, on the packer thread, about each item once all its chunks are stored.
pub(crate) trait Finish: Send {
    fn item(&mut self, item: usize, result: ItemResult) -> Result<(), RepoError>;
    /// Stores whatever became complete (a tree's directories) through `blobs`.
    fn flush(&mut self, blobs: &mut TreeBlobs) -> Result<(), RepoError>;
}

/// Backs up one byte stream (stdin, a command's output).
pub async fn backup_stream<R: Read + Send + 'static>(repo: &Repository, reader: R, options: BackupOptions) -> Result<Snapshot, RepoError> {
    struct One(Option<ItemResult>);
    impl Finish for One {
        fn item(&mut self, _: usize, result: ItemResult) -> Result<(), RepoError> {
            self.0 = Some(result);
            Ok(())
        }
        fn flush(&mut self, _: &mut TreeBlobs) -> Result<(), RepoError> {
            Ok(())
        }
    }
    let started = Instant::now();
    let lock = repo.lock(false).await?;
    let index = Arc::new(repo.load_index().await?);
    let repo2 = repo.clone();
    let handle = Handle::current();
    let progress = options.progress.clone();
    let (item, mut summary, packs) = spawn(move || {
        let mut opener: Option<Opener> = Some(Box::new(move || Ok(Box::new(reader) as Box<dyn Read + Send>)));
        let items: Items = Box::new(move || Ok(opener.take().map(|o| (0, o))));
        let mut one = One(None);
        let (summary, packs) = run(&repo2, &index, &handle, items, &mut one, &progress)?;
        Ok((one.0.unwrap_or_default(), summary, packs))
    })
    .await?;
    summary.bytes = item.size;
    let content = Content::Stream { chunks: ids(&item.chunks), size: item.size, sha256: hex::encode(item.sha256) };
    finish(repo, lock, packs, content, summary, options, started).await
}

/// One step of a walk over a directory tree, depth first: a directory's listing comes before
/// anything inside it.
pub enum WalkStep {
    /// Directory `id` (numbered from 0, the root, in the order listed): its entries sorted by
    /// name, each `path` an entry's own name; `parent` is the directory and slot it is in.
    Dir { id: usize, nodes: Vec<Node>, parent: Option<(usize, usize)> },
    /// The regular file in slot `slot` of directory `dir`, opened when a reader gets to it.
    File { dir: usize, slot: usize, open: Opener },
}

/// A directory tree as a source walks it (`crate::engine::source::filesystem`).
pub struct TreeWalk {
    /// The next step; `None` when the walk is over.
    pub steps: Box<dyn FnMut() -> Result<Option<WalkStep>, RepoError> + Send>,
    /// The bytes the walk will hand out, for the progress bar: run beside the walk, it gives
    /// up (`None`) once the flag is set.
    pub measure: Box<dyn FnOnce(&AtomicBool) -> Option<u64> + Send>,
}

/// Backs up a directory tree.
pub async fn backup_walk(repo: &Repository, walk: TreeWalk, options: BackupOptions) -> Result<Snapshot, RepoError> {
    let started = Instant::now();
    let lock = repo.lock(false).await?;
    let index = Arc::new(repo.load_index().await?);
    let repo2 = repo.clone();
    let handle = Handle::current();
    let progress = options.progress.clone();
    let (root_tree, summary, packs) = spawn(move || {
        let builder = Arc::new(Mutex::new(TreeBuilder::default()));
        let TreeWalk { mut steps, measure } = walk;
        let items: Items = {
            let builder = builder.clone();
            let mut next_item = 0;
            Box::new(move || {
                loop {
                    match steps()? {
                        None => return Ok(None),
                        Some(WalkStep::Dir { id, nodes, parent }) => builder.lock().unwrap_or_else(|p| p.into_inner()).add_dir(id, nodes, parent),
                        Some(WalkStep::File { dir, slot, open }) => {
                            let item = next_item;
                            next_item += 1;
                            builder.lock().unwrap_or_else(|p| p.into_inner()).file_started(item, dir, slot);
                            return Ok(Some((item, open)));
                        }
                    }
                }
            })
        };
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            // The total is for the progress bar only; it is measured beside the backup so the
            // first bytes are read at once.
            s.spawn(|| {
                if let Some(total) = measure(&done) {
                    progress.bytes_total.store(total, Ordering::Relaxed);
                }
            });
            let mut finish = SharedTree(builder.clone());
            let outcome = run(&repo2, &index, &handle, items, &mut finish, &progress);
            done.store(true, Ordering::Relaxed);
            let (mut summary, packs) = outcome?;
            let mut builder = builder.lock().unwrap_or_else(|p| p.into_inner());
            let root = builder.take_root().ok_or_else(|| RepoError::Source("the tree walk did not finish".into()))?;
            summary.files = builder.files;
            summary.dirs = builder.dirs;
            summary.bytes = builder.bytes;
            Ok((root, summary, packs))
        })
    })
    .await?;
    let content = Content::Tree { tree: ids(&root_tree.chunks), tree_size: root_tree.size, tree_sha256: hex::encode(root_tree.sha256) };
    finish(repo, lock, packs, content, summary, options, started).await
}

/// One entry of a flat listing (an object of a bucket): complete already (unchanged since a
/// snapshot that holds it), or read through `open`.
pub struct Entry {
    /// `path` is the entry's name in the listing.
    pub node: Node,
    pub open: Option<EntryOpener>,
}

/// Opens an entry's bytes, with the attributes learnt on the way (an object's headers).
pub type EntryOpener = Box<dyn FnOnce() -> std::io::Result<(Option<ObjectAttributes>, Box<dyn Read + Send>)> + Send>;

/// Backs up `entries` as a tree of one directory: what a bucket or prefix holds, each object a
/// file under its (escaped) key. Complete entries cost nothing but their listing line.
pub async fn backup_listing(repo: &Repository, mut entries: Vec<Entry>, options: BackupOptions) -> Result<Snapshot, RepoError> {
    let started = Instant::now();
    let lock = repo.lock(false).await?;
    let index = Arc::new(repo.load_index().await?);
    let repo2 = repo.clone();
    let handle = Handle::current();
    let progress = options.progress.clone();
    entries.sort_by(|a, b| a.node.path.cmp(&b.node.path));
    if let Some(pair) = entries.windows(2).find(|w| w[0].node.path == w[1].node.path) {
        return Err(RepoError::Invalid(format!("two entries are named {:?}", pair[0].node.path)));
    }
    let (root_tree, summary, packs) = spawn(move || {
        let mut nodes = Vec::with_capacity(entries.len());
        let mut openers = Vec::new();
        for (slot, entry) in entries.into_iter().enumerate() {
            if let Some(open) = entry.open {
                progress.bytes_total.fetch_add(entry.node.size, Ordering::Relaxed);
                openers.push((slot, open));
            }
            nodes.push(entry.node);
        }
        let waiting: Vec<usize> = openers.iter().map(|(slot, _)| *slot).collect();
        let builder = Arc::new(Mutex::new(TreeBuilder::default()));
        builder.lock().unwrap_or_else(|p| p.into_inner()).add_flat_root(nodes, &waiting);
        let mut openers = openers.into_iter();
        let shared = builder.clone();
        let items: Items = Box::new(move || {
            Ok(openers.next().map(|(slot, open)| {
                let builder = shared.clone();
                let opener: Opener = Box::new(move || {
                    let (object, reader) = open()?;
                    if let Some(object) = object {
                        builder.lock().unwrap_or_else(|p| p.into_inner()).set_object(0, slot, object).map_err(std::io::Error::other)?;
                    }
                    Ok(reader)
                });
                (slot, opener)
            }))
        });
        let mut finish = SharedTree(builder.clone());
        let (mut summary, packs) = run(&repo2, &index, &handle, items, &mut finish, &progress)?;
        let mut builder = builder.lock().unwrap_or_else(|p| p.into_inner());
        let root = builder.take_root().ok_or_else(|| RepoError::Source("the listing was not stored".into()))?;
        summary.files = builder.files;
        summary.bytes = builder.bytes;
        Ok((root, summary, packs))
    })
    .await?;
    let content = Content::Tree { tree: ids(&root_tree.chunks), tree_size: root_tree.size, tree_sha256: hex::encode(root_tree.sha256) };
    finish(repo, lock, packs, content, summary, options, started).await
}

/// The packer's side of a tree: files finish into their directory's listing.
struct SharedTree(Arc<Mutex<TreeBuilder>>);

impl Finish for SharedTree {
    fn item(&mut self, item: usize, result: ItemResult) -> Result<(), RepoError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).file_done(item, result)
    }
    fn flush(&mut self, blobs: &mut TreeBlobs) -> Result<(), RepoError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).store_ready(blobs)
    }
}

/// Writes the index for the new packs, then the manifest: the order that makes a crash safe.
async fn finish(
    repo: &Repository,
    lock: super::lock::RepoLock,
    packs: Vec<IndexedPack>,
    content: Content,
    mut summary: Summary,
    options: BackupOptions,
    started: Instant,
) -> Result<Snapshot, RepoError> {
    lock.ensure_held().await?;
    repo.save_index(&packs).await?;
    summary.duration_ms = started.elapsed().as_millis() as u64;
    let commit_check = options.commit_check;
    let snapshot = Snapshot {
        version: format::SNAPSHOT_VERSION,
        id: hex::encode(crypto::Key::random().0),
        time: crate::platform::time::now_text(),
        hostname: super::hostname(),
        source: options.source,
        tags: options.tags,
        content,
        summary,
        metadata: options.metadata,
    };
    lock.ensure_held().await?;
    if let Some(check) = &commit_check {
        (check.0)().await?;
    }
    repo.save_snapshot(&snapshot).await?;
    lock.release().await?;
    Ok(snapshot)
}

/// The pipeline's stages on the blocking pool ([`crate::platform::blocking::spawn`]).
fn spawn<T: Send + 'static>(f: impl FnOnce() -> Result<T, RepoError> + Send + 'static) -> impl Future<Output = Result<T, RepoError>> + Send {
    crate::platform::blocking::spawn(f)
}

fn ids(chunks: &[ChunkId]) -> Vec<String> {
    chunks.iter().map(ChunkId::to_string).collect()
}


/// Runs the pipeline over `items`, telling `finish` about each finished item; returns the
/// totals and the packs written.
fn run(repo: &Repository, index: &Index, handle: &Handle, items: Items, finish: &mut dyn Finish, progress: &Progress) -> Result<(Summary, Vec<IndexedPack>), RepoError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let (job_tx, job_rx) = sync_channel::<Vec<Job>>(workers * 2);
    let (done_tx, done_rx) = sync_channel::<Vec<Processed>>(workers * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let claimed = Mutex::new(HashSet::<ChunkId>::new());
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<RepoError>> = Mutex::new(None);
    let fail = |e: RepoError| {
        failed.store(true, Ordering::SeqCst);
        first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
    };
    let queue = Mutex::new(items);

    let outcome = std::thread::scope(|s| {
        for _ in 0..workers {
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            let (claimed, failed, fail) = (&claimed, &failed, &fail);
            s.spawn(move || {
                if let Err(e) = worker(repo, index, &job_rx, &done_tx, claimed, failed, progress) {
                    fail(e);
                }
            });
        }
        drop(done_tx);
        // Once every worker has stopped, a reader's send fails instead of blocking.
        drop(job_rx);
        let (claimed_ref, failed_ref) = (&claimed, &failed);
        let packer = s.spawn(move || packer(repo, index, handle, claimed_ref, done_rx, finish, failed_ref));
        // Several readers: chunking and hashing a file is sequential, so different files are
        // read at once (one reader would leave a core idle on a tree of many files).
        let reader_threads: Vec<_> = (0..workers)
            .map(|_| {
                let (job_tx, queue, failed, fail) = (job_tx.clone(), &queue, &failed, &fail);
                s.spawn(move || {
                    if let Err(e) = read_items(repo, queue, &job_tx, failed, progress) {
                        fail(e);
                    }
                })
            })
            .collect();
        drop(job_tx);
        for reader in reader_threads {
            reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        match packer.join() {
            Ok(Ok(out)) => Some(out),
            Ok(Err(e)) => {
                fail(e);
                None
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        // A cancelled backup fails however its stages noticed (a killed source tool, say).
        return Err(if progress.cancel.load(Ordering::Relaxed) { RepoError::Cancelled } else { e });
    }
    outcome.ok_or_else(|| RepoError::Source("the backup stopped without an error".into()))
}

/// One reader thread: takes the next item until none is left, chunks it and hashes it whole.
fn read_items(repo: &Repository, queue: &Mutex<Items>, jobs: &SyncSender<Vec<Job>>, failed: &AtomicBool, progress: &Progress) -> Result<(), RepoError> {
    let c = repo.config();
    let mut chunker = Chunker::new(c.chunk_min as usize, c.chunk_avg as usize, c.chunk_max as usize, repo.keyring().chunker_seed);
    let (mut batch, mut batch_bytes) = (Vec::new(), 0);
    loop {
        if progress.cancel.load(Ordering::Relaxed) {
            return Err(RepoError::Cancelled);
        }
        if failed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let next = (queue.lock().unwrap_or_else(|p| p.into_inner()))()?;
        let Some((item, open)) = next else {
            if !batch.is_empty() {
                // A failed send means the workers stopped: their error is recorded.
                let _ = jobs.send(batch);
            }
            return Ok(());
        };
        let reader = open().map_err(|e| RepoError::Source(e.to_string()))?;
        let mut sha = Sha256::new();
        let mut seq = 0;
        let size = chunker
            .chunks(reader, |chunk| {
                if failed.load(Ordering::SeqCst) || progress.cancel.load(Ordering::Relaxed) {
                    return Ok(false);
                }
                batch.push(Job::Chunk { item, seq, data: chunk.to_vec() });
                batch_bytes += chunk.len();
                if batch_bytes >= BATCH_BYTES {
                    batch_bytes = 0;
                    // A failed send means the workers stopped: their error is recorded.
                    if jobs.send(std::mem::take(&mut batch)).is_err() {
                        return Ok(false);
                    }
                }
                sha.update(chunk);
                progress.bytes_read.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                seq += 1;
                Ok(true)
            })
            .map_err(|e: std::io::Error| RepoError::Source(e.to_string()))?;
        batch.push(Job::End { item, size, sha256: sha.finalize().into(), chunks: seq });
    }
}

fn worker(
    repo: &Repository,
    index: &Index,
    jobs: &Mutex<Receiver<Vec<Job>>>,
    done: &SyncSender<Vec<Processed>>,
    claimed: &Mutex<HashSet<ChunkId>>,
    failed: &AtomicBool,
    progress: &Progress,
) -> Result<(), RepoError> {
    let mut sealer = Sealer::new(repo)?;
    loop {
        let batch = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(batch) => batch,
            Err(_) => return Ok(()),
        };
        let mut out = Vec::with_capacity(batch.len());
        for job in batch {
            if failed.load(Ordering::SeqCst) {
                return Ok(());
            }
            out.push(match job {
                Job::Chunk { item, seq, data } => match sealer.seal_if_new(index, claimed, ObjectType::DataBlob, &data)? {
                    (id, Some(sealed)) => {
                        progress.bytes_new.fetch_add(data.len() as u64, Ordering::Relaxed);
                        Processed::New { item, seq, id, sealed, raw: data.len() as u32 }
                    }
                    (id, None) => Processed::Known { item, seq, id },
                },
                Job::End { item, size, sha256, chunks } => Processed::End { item, size, sha256, chunks },
            });
        }
        if done.send(out).is_err() {
            return Ok(());
        }
    }
}

/// Chunk ids, compression and sealing with contexts reused from chunk to chunk.
struct Sealer<'r> {
    ids: IdHasher,
    compression: super::CompressionSetting,
    compressor: crypto::Compressor,
    key_id: u32,
    key: &'r crypto::Key,
}

impl<'r> Sealer<'r> {
    fn new(repo: &'r Repository) -> Result<Sealer<'r>, RepoError> {
        let compression = repo.compression();
        let compressor = crypto::Compressor::new(compression.algorithm, compression.level).map_err(|e| RepoError::Source(e.to_string()))?;
        let (key_id, key) = repo.keyring().current_key();
        Ok(Sealer { ids: repo.id_hasher(), compression, compressor, key_id, key })
    }

    /// The chunk's id, and its sealed envelope unless the repository (or this backup) has it.
    fn seal_if_new(&mut self, index: &Index, claimed: &Mutex<HashSet<ChunkId>>, object_type: ObjectType, data: &[u8]) -> Result<(ChunkId, Option<Vec<u8>>), RepoError> {
        let id = self.ids.id(data);
        let is_new = !index.reusable(&id) && claimed.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        if !is_new {
            return Ok((id, None));
        }
        let packed = self.compressor.compress(data).map_err(|e| RepoError::Source(e.to_string()))?;
        let (algorithm, payload) = match &packed {
            Some(packed) => (self.compression.algorithm, packed.as_slice()),
            None => (format::Compression::None, data),
        };
        Ok((id, Some(crypto::seal(self.key, self.key_id, object_type, algorithm, &id.0, payload))))
    }
}

/// Stores tree listings as tree blobs, in packs of their own, from the packer thread.
pub(crate) struct TreeBlobs<'a> {
    index: &'a Index,
    claimed: &'a Mutex<HashSet<ChunkId>>,
    chunker: Chunker,
    sealer: Sealer<'a>,
    pack: PackBuilder,
    full: &'a SyncSender<PackBuilder>,
    summary: &'a mut Summary,
}

impl TreeBlobs<'_> {
    /// Chunks `bytes` (a big directory's listing spans several blobs, and its unchanged parts
    /// deduplicate) and stores the chunks the repository lacks.
    pub(crate) fn store(&mut self, bytes: &[u8]) -> Result<BlobRef, RepoError> {
        let (mut chunks, mut error) = (Vec::new(), None);
        let (index, claimed, sealer, pack, full, summary) = (self.index, self.claimed, &mut self.sealer, &mut self.pack, self.full, &mut *self.summary);
        let mut store_chunk = |chunk: &[u8]| -> Result<(), RepoError> {
            let (id, sealed) = sealer.seal_if_new(index, claimed, ObjectType::TreeBlob, chunk)?;
            if let Some(sealed) = sealed {
                pack.add(ObjectType::TreeBlob, id, &sealed, chunk.len() as u32);
                summary.new_chunks += 1;
                summary.new_bytes += chunk.len() as u64;
                if pack.len() >= format::PACK_TARGET {
                    full.send(std::mem::take(pack)).map_err(|_| uploader_stopped())?;
                }
            }
            summary.chunks += 1;
            chunks.push(id);
            Ok(())
        };
        // Reading a slice cannot fail; a storing error stops the chunker and is returned.
        let _ = self.chunker.chunks(bytes, |chunk| -> std::io::Result<bool> {
            error = store_chunk(chunk).err();
            Ok(error.is_none())
        });
        match error {
            Some(e) => Err(e),
            None => Ok(BlobRef { chunks, size: bytes.len() as u64, sha256: Sha256::digest(bytes).into() }),
        }
    }
}

/// A finished item's chunks as they arrive (in any order), and its end once its reader is done.
#[derive(Default)]
struct InFlight {
    chunks: Vec<(usize, ChunkId)>,
    end: Option<(u64, [u8; 32], usize)>,
}

fn packer(
    repo: &Repository,
    index: &Index,
    handle: &Handle,
    claimed: &Mutex<HashSet<ChunkId>>,
    done: Receiver<Vec<Processed>>,
    finish: &mut dyn Finish,
    failed: &AtomicBool,
) -> Result<(Summary, Vec<IndexedPack>), RepoError> {
    let mut summary = Summary::default();
    let c = repo.config();
    let chunker = Chunker::new(c.chunk_min as usize, c.chunk_avg as usize, c.chunk_max as usize, repo.keyring().chunker_seed);
    let mut packs = std::thread::scope(|s| {
        // A full pack is sealed and uploaded on its own thread while the next one fills, so a
        // slow upload (or fsync) does not stall the workers. A full pack waits for the one before it to be stored.
        let (full_tx, full_rx) = sync_channel::<PackBuilder>(0);
        let uploader = s.spawn(move || -> Result<Vec<IndexedPack>, RepoError> {
            let (key_id, key) = repo.keyring().current_key();
            full_rx.into_iter().map(|full| handle.block_on(repo.store_pack(full.finish(key_id, key)))).collect()
        });
        let filled = fill(repo, index, claimed, chunker, done, finish, failed, &full_tx, &mut summary);
        if filled.is_err() {
            failed.store(true, Ordering::SeqCst);
        }
        drop(full_tx);
        let stored = uploader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // The uploader's own error explains a failed send better than the send does.
        match (filled, stored) {
            (_, Err(e)) | (Err(e), _) => Err(e),
            (Ok(()), Ok(packs)) => Ok(packs),
        }
    })?;
    summary.stored_bytes = packs.iter().map(|p| p.size).sum();
    packs.shrink_to_fit();
    Ok((summary, packs))
}

/// The packer's loop: data blobs into packs, items finished once complete, then the trees.
#[allow(clippy::too_many_arguments)]
fn fill(
    repo: &Repository,
    index: &Index,
    claimed: &Mutex<HashSet<ChunkId>>,
    chunker: Chunker,
    done: Receiver<Vec<Processed>>,
    finish: &mut dyn Finish,
    failed: &AtomicBool,
    full: &SyncSender<PackBuilder>,
    summary: &mut Summary,
) -> Result<(), RepoError> {
    let mut data = PackBuilder::default();
    let mut in_flight: HashMap<usize, InFlight> = HashMap::new();
    let mut trees = TreeBlobs { index, claimed, chunker, sealer: Sealer::new(repo)?, pack: PackBuilder::default(), full, summary };
    for batch in done {
        if failed.load(Ordering::SeqCst) {
            continue; // drain so the workers can finish
        }
        for processed in batch {
            let item = match processed {
                Processed::New { item, seq, id, sealed, raw } => {
                    data.add(ObjectType::DataBlob, id, &sealed, raw);
                    trees.summary.new_chunks += 1;
                    trees.summary.new_bytes += raw as u64;
                    if data.len() >= format::PACK_TARGET {
                        full.send(std::mem::take(&mut data)).map_err(|_| uploader_stopped())?;
                    }
                    let f = in_flight.entry(item).or_default();
                    f.chunks.push((seq, id));
                    item
                }
                Processed::Known { item, seq, id } => {
                    in_flight.entry(item).or_default().chunks.push((seq, id));
                    item
                }
                Processed::End { item, size, sha256, chunks } => {
                    in_flight.entry(item).or_default().end = Some((size, sha256, chunks));
                    item
                }
            };
            if in_flight.get(&item).is_some_and(|f| f.end.is_some_and(|(_, _, n)| n == f.chunks.len())) {
                let Some(InFlight { mut chunks, end: Some((size, sha256, _)) }) = in_flight.remove(&item) else { continue };
                chunks.sort_unstable_by_key(|(seq, _)| *seq);
                trees.summary.chunks += chunks.len() as u64;
                finish.item(item, ItemResult { size, sha256, chunks: chunks.into_iter().map(|(_, id)| id).collect() })?;
            }
        }
        finish.flush(&mut trees)?;
    }
    if failed.load(Ordering::SeqCst) {
        return Ok(());
    }
    finish.flush(&mut trees)?;
    for pack in [data, std::mem::take(&mut trees.pack)] {
        if !pack.is_empty() {
            full.send(pack).map_err(|_| uploader_stopped())?;
        }
    }
    Ok(())
}

/// A send to the uploader fails only once it stopped on an error, which is reported instead.
fn uploader_stopped() -> RepoError {
    RepoError::Source("the pack uploader stopped".into())
}
