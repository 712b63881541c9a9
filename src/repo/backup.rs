//! Backing up a byte stream or a directory tree.
//!
//! A bounded, staged pipeline (DESIGN: "both cores busy, memory flat"):
//!
//! ```text
//! N readers (each takes the next item: read, chunk, SHA-256 of the item)
//!   ─▶ bounded queue ─▶ N workers (chunk id, dedup, compress, seal)
//!   ─▶ bounded queue ─▶ packer (fill packs, upload each when full)
//! ```
//!
//! At most `2N` chunks wait in each queue and one pack is being filled, so memory does not
//! grow with the data. The first error stops every stage.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
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
use super::snapshot::{Content, Node, NodeKind, Snapshot, Summary};
use super::{ChunkId, RepoError, Repository, chunk_id_with, crypto};

/// What to record about a backup besides its data.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// A path, or a name for a stream.
    pub source: String,
    pub tags: Vec<String>,
    pub metadata: serde_json::Value,
    /// Counters the pipeline advances as it goes, for a live progress bar.
    pub progress: Arc<Progress>,
}

/// How far a running backup is. Readers add what they read; workers add what was new.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes_read: AtomicU64,
    /// Bytes of chunks the repository did not have yet (before compression).
    pub bytes_new: AtomicU64,
    /// The bytes to read when known (a tree, after its walk); 0 when not (a stream).
    pub bytes_total: AtomicU64,
}

/// Opens one item's bytes when the reader gets to it.
type Opener = Box<dyn FnOnce() -> std::io::Result<Box<dyn Read + Send>> + Send>;

/// What the pipeline learned about one item.
#[derive(Debug, Clone, Default)]
struct ItemResult {
    size: u64,
    sha256: [u8; 32],
    chunks: Vec<ChunkId>,
}

struct Job {
    item: usize,
    seq: usize,
    data: Vec<u8>,
}

/// Chunks travel between stages in batches of about this many bytes: one message per small
/// file cost a tenth of the CPU time in thread wake-ups.
const BATCH_BYTES: usize = 512 * 1024;

enum Processed {
    New { item: usize, seq: usize, id: ChunkId, sealed: Vec<u8>, raw: u32 },
    Known { item: usize, seq: usize, id: ChunkId },
}

/// Backs up one byte stream (stdin, a command's output).
pub async fn backup_stream<R: Read + Send + 'static>(repo: &Repository, reader: R, options: BackupOptions) -> Result<Snapshot, RepoError> {
    let started = Instant::now();
    let lock = repo.lock(false).await?;
    let index = Arc::new(repo.load_index().await?);
    let repo2 = repo.clone();
    let handle = Handle::current();
    let progress = options.progress.clone();
    let (results, mut summary, packs) = spawn(move || {
        let opener: Opener = Box::new(move || Ok(Box::new(reader) as Box<dyn Read + Send>));
        run(&repo2, &index, &handle, vec![opener], ObjectType::DataBlob, &progress)
    })
    .await?;
    let item = results.into_iter().next().unwrap_or_default();
    summary.bytes = item.size;
    let content = Content::Stream { chunks: ids(&item.chunks), size: item.size, sha256: hex::encode(item.sha256) };
    finish(repo, lock, packs, content, summary, options, started).await
}

/// Backs up a directory tree: regular files, directories and symlinks with modes and mtimes.
pub async fn backup_tree(repo: &Repository, root: &Path, options: BackupOptions) -> Result<Snapshot, RepoError> {
    let started = Instant::now();
    let meta = std::fs::metadata(root).map_err(|e| RepoError::Source(format!("{}: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(RepoError::Invalid(format!("{} is not a directory", root.display())));
    }
    let lock = repo.lock(false).await?;
    let index = Arc::new(repo.load_index().await?);
    let repo2 = repo.clone();
    let handle = Handle::current();
    let root = root.to_path_buf();
    let progress = options.progress.clone();
    let (nodes, tree_bytes, summary, packs) = spawn(move || {
        let mut nodes = Vec::new();
        walk(&root, &root, &mut nodes)?;
        let files: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].kind == NodeKind::File).collect();
        progress.bytes_total.store(files.iter().map(|&i| nodes[i].size).sum(), Ordering::Relaxed);
        let openers: Vec<Opener> = files
            .iter()
            .map(|&i| {
                let path = root.join(&nodes[i].path);
                Box::new(move || std::fs::File::open(&path).map(|f| Box::new(f) as Box<dyn Read + Send>)) as Opener
            })
            .collect();
        let (results, mut summary, mut packs) = run(&repo2, &index, &handle, openers, ObjectType::DataBlob, &progress)?;
        for (&i, r) in files.iter().zip(results) {
            nodes[i].size = r.size;
            nodes[i].sha256 = Some(hex::encode(r.sha256));
            nodes[i].chunks = ids(&r.chunks);
            summary.bytes += r.size;
        }
        summary.files = files.len() as u64;
        summary.dirs = nodes.iter().filter(|n| n.kind == NodeKind::Dir).count() as u64;
        // The tree itself is chunked too, so unchanged parts of it deduplicate across snapshots.
        let tree = serde_json::to_vec(&nodes).map_err(|e| RepoError::Source(e.to_string()))?;
        drop(nodes);
        let tree_len = tree.len() as u64;
        let opener: Opener = Box::new(move || Ok(Box::new(std::io::Cursor::new(tree)) as Box<dyn Read + Send>));
        let (tree_results, tree_summary, tree_packs) = run(&repo2, &index, &handle, vec![opener], ObjectType::TreeBlob, &Progress::default())?;
        summary.chunks += tree_summary.chunks;
        summary.new_chunks += tree_summary.new_chunks;
        summary.new_bytes += tree_summary.new_bytes;
        summary.stored_bytes += tree_summary.stored_bytes;
        packs.extend(tree_packs);
        Ok((tree_results.into_iter().next().unwrap_or_default(), tree_len, summary, packs))
    })
    .await?;
    let content = Content::Tree { tree: ids(&nodes.chunks), tree_size: tree_bytes, tree_sha256: hex::encode(nodes.sha256) };
    finish(repo, lock, packs, content, summary, options, started).await
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
    let snapshot = Snapshot {
        version: format::SNAPSHOT_VERSION,
        id: hex::encode(crypto::Key::random().0),
        time: crate::time::now_text(),
        hostname: super::hostname(),
        source: options.source,
        tags: options.tags,
        content,
        summary,
        metadata: options.metadata,
    };
    lock.ensure_held().await?;
    repo.save_snapshot(&snapshot).await?;
    lock.release().await?;
    Ok(snapshot)
}

fn ids(chunks: &[ChunkId]) -> Vec<String> {
    chunks.iter().map(ChunkId::to_string).collect()
}

async fn spawn<T: Send + 'static>(f: impl FnOnce() -> Result<T, RepoError> + Send + 'static) -> Result<T, RepoError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Collects the tree below `root` depth-first, siblings sorted by name (parents first).
fn walk(root: &Path, dir: &Path, out: &mut Vec<Node>) -> Result<(), RepoError> {
    use std::os::unix::fs::PermissionsExt;
    let source = |e: std::io::Error, p: &Path| RepoError::Source(format!("{}: {e}", p.display()));
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(|e| source(e, dir))?.collect::<Result<_, _>>().map_err(|e| source(e, dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| source(e, &path))?;
        let rel = path.strip_prefix(root).map_err(|_| RepoError::Source(format!("{} left the tree", path.display())))?;
        let Some(rel) = rel.to_str().map(str::to_string) else {
            return Err(RepoError::Source(format!("{}: the name is not valid UTF-8", path.display())));
        };
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        let mode = meta.permissions().mode() & 0o7777;
        let file_type = meta.file_type();
        let mut node = Node { path: rel, kind: NodeKind::File, mode, mtime_ns, size: 0, sha256: None, chunks: vec![], target: None };
        if file_type.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| source(e, &path))?;
            node.kind = NodeKind::Symlink;
            node.target = Some(target.to_string_lossy().into_owned());
            out.push(node);
        } else if file_type.is_dir() {
            node.kind = NodeKind::Dir;
            out.push(node);
            walk(root, &path, out)?;
        } else if file_type.is_file() {
            // The size seen now, for progress; the manifest records the bytes actually read.
            node.size = meta.len();
            out.push(node);
        }
        // Sockets, FIFOs and devices are not backed up.
    }
    Ok(())
}

/// Runs the pipeline over `items`; returns per-item results, totals and the packs written.
fn run(
    repo: &Repository,
    index: &Index,
    handle: &Handle,
    items: Vec<Opener>,
    object_type: ObjectType,
    progress: &Progress,
) -> Result<(Vec<ItemResult>, Summary, Vec<IndexedPack>), RepoError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    // Several readers: chunking and hashing a file is sequential, so different files are
    // read at once (one reader would leave a core idle on a tree of many files).
    let readers = workers.min(items.len()).max(1);
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
    let item_count = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());

    let (mut results, summary, packs) = std::thread::scope(|s| {
        for _ in 0..workers {
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            let (claimed, failed, fail) = (&claimed, &failed, &fail);
            s.spawn(move || {
                if let Err(e) = worker(repo, index, object_type, &job_rx, &done_tx, claimed, failed, progress) {
                    fail(e);
                }
            });
        }
        drop(done_tx);
        let packer = s.spawn(|| packer(repo, handle, object_type, done_rx, item_count, &failed));
        let reader_threads: Vec<_> = (0..readers)
            .map(|_| {
                let (job_tx, queue, failed) = (job_tx.clone(), &queue, &failed);
                s.spawn(move || read_items(repo, queue, &job_tx, failed, progress))
            })
            .collect();
        drop(job_tx);
        let mut results = vec![ItemResult::default(); item_count];
        for reader in reader_threads {
            match reader.join() {
                Ok(Ok(read)) => {
                    for (item, size, sha256) in read {
                        results[item].size = size;
                        results[item].sha256 = sha256;
                    }
                }
                Ok(Err(e)) => fail(e),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        match packer.join() {
            Ok(Ok((chunk_lists, summary, packs))) => {
                for (r, chunks) in results.iter_mut().zip(chunk_lists) {
                    r.chunks = chunks;
                }
                (results, summary, packs)
            }
            Ok(Err(e)) => {
                fail(e);
                (results, Summary::default(), vec![])
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut summary = summary;
    summary.chunks = results.iter().map(|r| r.chunks.len() as u64).sum();
    results.shrink_to_fit();
    Ok((results, summary, packs))
}

/// One reader thread: takes the next item from `queue` until none is left, chunks it and
/// hashes it whole. Returns (item, size, SHA-256) of each item it read.
fn read_items(
    repo: &Repository,
    queue: &Mutex<std::iter::Enumerate<std::vec::IntoIter<Opener>>>,
    jobs: &SyncSender<Vec<Job>>,
    failed: &AtomicBool,
    progress: &Progress,
) -> Result<Vec<(usize, u64, [u8; 32])>, RepoError> {
    let c = repo.config();
    let mut chunker = Chunker::new(c.chunk_min as usize, c.chunk_avg as usize, c.chunk_max as usize, repo.keyring().chunker_seed);
    let mut read = Vec::new();
    let (mut batch, mut batch_bytes) = (Vec::new(), 0);
    loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
        let Some((item, open)) = next else {
            if !batch.is_empty() {
                // A failed send means the workers stopped: their error is recorded.
                let _ = jobs.send(batch);
            }
            return Ok(read);
        };
        let reader = open().map_err(|e| RepoError::Source(e.to_string()))?;
        let mut sha = Sha256::new();
        let mut seq = 0;
        let size = chunker
            .chunks(reader, |chunk| {
                if failed.load(Ordering::SeqCst) {
                    return Ok(false);
                }
                batch.push(Job { item, seq, data: chunk.to_vec() });
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
        if failed.load(Ordering::SeqCst) {
            return Ok(read);
        }
        read.push((item, size, sha.finalize().into()));
    }
}

fn worker(
    repo: &Repository,
    index: &Index,
    object_type: ObjectType,
    jobs: &Mutex<Receiver<Vec<Job>>>,
    done: &SyncSender<Vec<Processed>>,
    claimed: &Mutex<HashSet<ChunkId>>,
    failed: &AtomicBool,
    progress: &Progress,
) -> Result<(), RepoError> {
    let mac = repo.id_mac();
    let compression = repo.compression();
    let mut compressor = crypto::Compressor::new(compression.algorithm, compression.level).map_err(|e| RepoError::Source(e.to_string()))?;
    let (key_id, key) = repo.keyring().current_key();
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
            let id = chunk_id_with(&mac, &job.data);
            let is_new = !index.contains(&id) && claimed.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
            out.push(if is_new {
                let packed = compressor.compress(&job.data).map_err(|e| RepoError::Source(e.to_string()))?;
                let (algorithm, payload) = match &packed {
                    Some(packed) => (compression.algorithm, packed.as_slice()),
                    None => (format::Compression::None, job.data.as_slice()),
                };
                let sealed = crypto::seal(key, key_id, object_type, algorithm, &id.0, payload);
                progress.bytes_new.fetch_add(job.data.len() as u64, Ordering::Relaxed);
                Processed::New { item: job.item, seq: job.seq, id, sealed, raw: job.data.len() as u32 }
            } else {
                Processed::Known { item: job.item, seq: job.seq, id }
            });
        }
        if done.send(out).is_err() {
            return Ok(());
        }
    }
}

type PackerOutput = (Vec<Vec<ChunkId>>, Summary, Vec<IndexedPack>);

fn packer(
    repo: &Repository,
    handle: &Handle,
    object_type: ObjectType,
    done: Receiver<Vec<Processed>>,
    item_count: usize,
    failed: &AtomicBool,
) -> Result<PackerOutput, RepoError> {
    let mut lists: Vec<Vec<(usize, ChunkId)>> = vec![Vec::new(); item_count];
    let mut summary = Summary::default();
    let mut builder = PackBuilder::default();
    let packs = std::thread::scope(|s| {
        // A full pack is sealed and uploaded on its own thread while the next one fills, so a
        // slow upload (or fsync) does not stall the workers. A full pack waits for the one before it to be stored.
        let (full_tx, full_rx) = sync_channel::<PackBuilder>(0);
        let uploader = s.spawn(move || -> Result<Vec<IndexedPack>, RepoError> {
            let (key_id, key) = repo.keyring().current_key();
            full_rx.into_iter().map(|full| handle.block_on(repo.store_pack(full.finish(key_id, key)))).collect()
        });
        for processed in done.into_iter().flatten() {
            if failed.load(Ordering::SeqCst) {
                continue; // drain so the workers can finish
            }
            match processed {
                Processed::New { item, seq, id, sealed, raw } => {
                    builder.add(object_type, id, &sealed, raw);
                    summary.new_chunks += 1;
                    summary.new_bytes += raw as u64;
                    lists[item].push((seq, id));
                    // A failed send means the uploader stopped on an error, returned below.
                    if builder.len() >= format::PACK_TARGET && full_tx.send(std::mem::take(&mut builder)).is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                }
                Processed::Known { item, seq, id } => lists[item].push((seq, id)),
            }
        }
        if !builder.is_empty() && !failed.load(Ordering::SeqCst) {
            let _ = full_tx.send(builder);
        }
        drop(full_tx);
        uploader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    summary.stored_bytes = packs.iter().map(|p| p.size).sum();
    let lists = lists
        .into_iter()
        .map(|mut l| {
            l.sort_unstable_by_key(|(seq, _)| *seq);
            l.into_iter().map(|(_, id)| id).collect()
        })
        .collect();
    Ok((lists, summary, packs))
}
