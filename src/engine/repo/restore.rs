//! Restoring snapshots (reading them is [`super::read`], verifying them [`super::verify`]):
//! every blob's tag is checked, every file's SHA-256 is compared with the
//! manifest (a stream's chunks are checked against their ids instead), and files appear only
//! complete (temp name, then rename).
//!
//! Tree restores refuse any path that could leave the target (absolute, `..`, or through a
//! symlink), restore symlinks last, and skip files already identical in the target, so an
//! interrupted restore resumes where it stopped.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use super::index::Index;
use super::snapshot::{Content, Node, NodeKind, Snapshot, is_safe_path, matches_filter};
use super::tree::TreeReader;
use super::read::{Check, Opener, blocking, parse_ids, plan_ranges, send_walk};
use super::writeback::{self, Flusher};
use super::{RepoError, Repository};
use crate::engine::storage::direct::DirectFile;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Files already identical in the target, left untouched.
    pub unchanged: u64,
    pub bytes: u64,
    /// What could not be read and was left out ([`RestoreOptions::skip_unreadable`]), one
    /// sentence per file or directory, in path order: empty when the restore is whole.
    pub unreadable: Vec<String>,
}

/// What a tree restore takes besides its snapshot and target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Paths to restore (a file, or a directory with all it holds); everything when empty.
    pub include: Vec<String>,
    /// Restore every file that can be read and name each one that cannot (a damaged blob, a
    /// damaged directory listing) in [`RestoreSummary::unreadable`], instead of stopping at the
    /// first: directory modes, times and symlinks are applied either way.
    pub skip_unreadable: bool,
}

impl RestoreOptions {
    /// Only `paths`.
    pub fn only<S: Into<String>>(paths: impl IntoIterator<Item = S>) -> RestoreOptions {
        RestoreOptions { include: paths.into_iter().map(Into::into).collect(), ..Default::default() }
    }
}

/// What a watcher (a restoration job) shares with the restore it runs: the bytes written or
/// found already in place so far, a flag that stops it (at its next file, object or range,
/// with [`RepoError::Cancelled`]), and whether it has begun to change its target (a restore
/// that failed before that left the target as it was).
#[derive(Debug, Clone, Default)]
pub struct Watch {
    pub bytes: std::sync::Arc<AtomicU64>,
    pub stop: std::sync::Arc<AtomicBool>,
    pub touched: std::sync::Arc<AtomicBool>,
}

impl Watch {
    /// The restore is about to change its target.
    pub(crate) fn touch(&self) {
        self.touched.store(true, Ordering::SeqCst);
    }

    pub fn has_touched(&self) -> bool {
        self.touched.load(Ordering::SeqCst)
    }

    pub(crate) fn progressed(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

tokio::task_local! {
    /// The watch on the restore this task runs, when someone watches it.
    static WATCH: Watch;
}

/// Runs `restore` (any restore of this module, through whatever calls it) under `watch`. A
/// task-local rather than an argument: the restore paths of every source kind reach this
/// module through functions that restore tests and group restores call too, and only the
/// watched restore is counted and stoppable.
pub async fn watched<F: std::future::Future>(watch: Watch, restore: F) -> F::Output {
    WATCH.scope(watch, restore).await
}

/// The watch on the restore this task runs, if any; read in the task (not on a blocking
/// thread, where the task-local is not set).
pub(crate) fn watch() -> Option<Watch> {
    WATCH.try_with(Watch::clone).ok()
}

/// Writes a stream snapshot to `out`; returns the bytes written.
///
/// Every chunk is checked against its id (a keyed hash of its bytes) and the manifest,
/// which lists the ids in order, is authenticated: the bytes written are the stream backed up,
/// and their count must equal its size. The SHA-256 of the whole stream, which would hash every
/// byte a second time on the restore's critical path, is compared by verification instead
/// ([`verify_snapshot`]: the check queued after every backup, and "Verify now"), as restic and
/// borg check only their chunk ids when restoring.
pub async fn restore_stream<W: Write + Send + 'static>(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot, out: W) -> Result<(W, u64), RepoError> {
    write_stream(repo, index, snapshot, out, false).await
}

/// Writes a stream snapshot to `out`, its chunks checked and, with `whole_hash`, the SHA-256
/// of the whole stream compared at the end.
///
/// Ranges are fetched and opened on several threads (decryption, decompression and the id
/// check are most of a restore's CPU time) and written in order: a thread that has opened its
/// range waits for its turn, so at most one range per thread is held.
pub(super) async fn write_stream<W: Write + Send + 'static>(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot, out: W, whole_hash: bool) -> Result<(W, u64), RepoError> {
    let Content::Stream { chunks, size, sha256 } = snapshot.content.clone() else {
        return Err(RepoError::Invalid(format!("snapshot {} is a tree, not a stream", snapshot.id)));
    };
    let ids = parse_ids(&chunks)?;
    let progress = watch();
    let (repo, handle, snapshot_id) = (repo.clone(), Handle::current(), snapshot.id.clone());
    let unavailable = move |detail: String| RepoError::DataUnavailable { snapshot: snapshot_id.clone(), detail };
    blocking(move || {
        let (ranges, locations) = plan_ranges(&index, &ids).map_err(|e| unavailable(e.to_string()))?;
        struct Writer<W> {
            out: W,
            sha: Option<Sha256>,
            written: u64,
            turn: usize,
            error: Option<RepoError>,
        }
        let state = Mutex::new(Writer { out, sha: whole_hash.then(Sha256::new), written: 0, turn: 0, error: None });
        let turn_changed = std::sync::Condvar::new();
        let next = AtomicUsize::new(0);
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4).min(ranges.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    let mut opener = Opener::new(&repo, &handle, Check::ChunkIds);
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(range) = ranges.get(i) else { return };
                        let opened = opener.open_range(&repo, range, &ids, &locations);
                        let mut w = state.lock().unwrap_or_else(|p| p.into_inner());
                        while w.turn != i && w.error.is_none() {
                            w = turn_changed.wait(w).unwrap_or_else(|p| p.into_inner());
                        }
                        if w.error.is_some() {
                            return;
                        }
                        let result = opened.and_then(|bytes| {
                            if let Some(p) = &progress {
                                if p.stopped() {
                                    return Err(RepoError::Cancelled);
                                }
                                p.touch();
                            }
                            if let Some(sha) = w.sha.as_mut() {
                                sha.update(bytes);
                            }
                            w.written += bytes.len() as u64;
                            if let Some(p) = &progress {
                                p.progressed(bytes.len() as u64);
                            }
                            w.out.write_all(bytes).map_err(|e| RepoError::Target(e.to_string()))
                        });
                        match result {
                            Ok(()) => w.turn += 1,
                            Err(e) => w.error = Some(e),
                        }
                        turn_changed.notify_all();
                    }
                });
            }
        });
        let Writer { mut out, sha, written, error, .. } = state.into_inner().unwrap_or_else(|p| p.into_inner());
        match error {
            Some(e @ (RepoError::Target(_) | RepoError::Cancelled)) => return Err(e),
            Some(e) => return Err(unavailable(e.to_string())),
            None => {}
        }
        out.flush().map_err(|e| RepoError::Target(e.to_string()))?;
        if written != size {
            return Err(unavailable(format!("the restored stream has {written} bytes; the snapshot records {size}")));
        }
        if sha.is_some_and(|sha| hex::encode(sha.finalize()) != sha256) {
            return Err(unavailable("the restored stream does not match its SHA-256".into()));
        }
        Ok((out, written))
    })
    .await
}

/// Restores a stream snapshot into the file `path`, which appears only once complete and verified.
pub async fn restore_stream_to_file(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot, path: &Path) -> Result<u64, RepoError> {
    let tmp = temp_sibling(path);
    let file = create_new(&tmp).map_err(|e| RepoError::Target(format!("{}: {e}", tmp.display())))?;
    match restore_stream(repo, index, snapshot, file).await {
        Ok((file, n)) => {
            file.sync_all().map_err(|e| RepoError::Target(e.to_string()))?;
            std::fs::rename(&tmp, path).map_err(|e| RepoError::Target(format!("{}: {e}", path.display())))?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Restores the nodes of a tree snapshot that `options` include (all by default) into `target`.
///
/// The tree is read ([`TreeReader`]) as it is written: this task walks the listings and hands
/// the nodes over, through a bounded channel, to a thread that creates the directories and
/// queues the files for writer threads. Memory stays flat however many files the tree holds:
/// only directories and symbolic links are kept, for the end.
pub async fn restore_tree(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot, target: &Path, options: &RestoreOptions) -> Result<RestoreSummary, RepoError> {
    let started = std::time::Instant::now();
    let filters = &options.include;
    let mut reader = TreeReader::open(repo, &index, snapshot).await?;
    if options.skip_unreadable {
        reader = reader.skipping_unreadable();
    }
    let (nodes, received) = tokio::sync::mpsc::channel::<Vec<Node>>(4);
    let walked = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let writers = FileWriters::new(repo.clone(), index.clone(), Handle::current(), snapshot.id.clone(), options.skip_unreadable);
        let (target, walked) = (target.to_path_buf(), walked.clone());
        blocking(move || write_tree(writers, &target, received, &walked, started))
    };
    let walk = async {
        let mut selected = 0u64;
        let sent = send_walk(&mut reader, &nodes, |node| {
            if !is_safe_path(&node.path) {
                return Err(RepoError::Damaged(format!("snapshot {} holds an unsafe path {:?}", snapshot.id, node.path)));
            }
            let keep = filters.is_empty() || filters.iter().any(|f| matches_filter(&node.path, f));
            selected += u64::from(keep);
            Ok(keep)
        })
        .await?;
        if selected == 0 && !filters.is_empty() {
            return Err(RepoError::Invalid(format!("nothing in snapshot {} matches {filters:?}", snapshot.id)));
        }
        walked.store(sent, Ordering::SeqCst);
        Ok(())
    };
    let walk = walk.await;
    drop(nodes);
    let written = writer.await;
    // A walk that failed stopped the writer: its error is the one to report.
    walk?;
    let mut summary = written?;
    summary.unreadable.extend(reader.unreadable().iter().cloned());
    summary.unreadable.sort();
    Ok(summary)
}

/// A file queued for a writer thread: its node, where it goes, and whether its directory is
/// known to hold nothing yet (then it needs no delta check).
type FileJob = (Node, PathBuf, bool);

/// The writing side of [`restore_tree`]: takes the nodes in the walk's order until the walk
/// ends (`walked` tells whether it got to the end of the tree), then restores symlinks and
/// directory times, and syncs.
fn write_tree(
    writers: FileWriters,
    target: &Path,
    mut nodes: tokio::sync::mpsc::Receiver<Vec<Node>>,
    walked: &AtomicBool,
    started: std::time::Instant,
) -> Result<RestoreSummary, RepoError> {
    if let Some(w) = &writers.progress {
        w.touch();
    }
    let mut placer = Placer::new(target)?;
    let target_dir = std::fs::File::open(target).map_err(|e| RepoError::Target(format!("{}: {e}", target.display())))?;
    // Twice as many writers as cores: a big file's direct writes wait for the disk, and
    // meanwhile another writer decrypts and decompresses.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8) * 2;
    let (files, queued) = std::sync::mpsc::sync_channel::<Vec<FileJob>>(4);
    let queued = Mutex::new(queued);
    std::thread::scope(|scope| {
        scope.spawn(|| writers.flusher.run(&target_dir));
        let threads: Vec<_> = (0..workers).map(|_| scope.spawn(|| writers.run(&queued))).collect();
        while let Some(received) = nodes.blocking_recv() {
            if writers.failed.load(Ordering::SeqCst) {
                break;
            }
            match placer.place(received) {
                Ok(batch) if batch.is_empty() => {}
                Ok(batch) => {
                    if files.send(batch).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    writers.fail(e);
                    break;
                }
            }
        }
        // The walk stops at its next batch if this thread stopped early.
        nodes.close();
        // No more files: the writers end once the queue is empty.
        drop(files);
        let joined: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
        // The flusher runs until every writer is done, even one that panicked.
        writers.flusher.stop();
        if let Some(panic) = joined.into_iter().find_map(Result::err) {
            std::panic::resume_unwind(panic);
        }
    });
    if let Some(e) = writers.first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    if !walked.load(Ordering::SeqCst) {
        // The walk failed and reports why; every file written so far is whole.
        return Ok(RestoreSummary::default());
    }
    let mut summary = RestoreSummary {
        files: writers.written.into_inner(),
        dirs: placer.dirs.len() as u64,
        unchanged: writers.unchanged.into_inner(),
        bytes: writers.bytes.into_inner(),
        unreadable: writers.unreadable.into_inner().unwrap_or_else(|p| p.into_inner()),
        ..Default::default()
    };
    tracing::debug!(files = summary.files, dirs = summary.dirs, ms = started.elapsed().as_millis() as u64, "files written");
    placer.finish(&mut summary)?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "restore synced");
    Ok(summary)
}

/// What the writer threads of a tree restore share.
struct FileWriters {
    repo: Repository,
    index: std::sync::Arc<Index>,
    handle: Handle,
    snapshot_id: String,
    /// Files that cannot be read are named in `unreadable` instead of stopping the restore.
    skip_unreadable: bool,
    unreadable: Mutex<Vec<String>>,
    failed: AtomicBool,
    first_error: Mutex<Option<RepoError>>,
    written: AtomicU64,
    unchanged: AtomicU64,
    bytes: AtomicU64,
    flusher: Flusher,
    /// The watch on this restore ([`watched`]).
    progress: Option<Watch>,
}

impl FileWriters {
    fn new(repo: Repository, index: std::sync::Arc<Index>, handle: Handle, snapshot_id: String, skip_unreadable: bool) -> FileWriters {
        FileWriters {
            repo,
            index,
            handle,
            snapshot_id,
            skip_unreadable,
            unreadable: Mutex::new(Vec::new()),
            failed: AtomicBool::new(false),
            first_error: Mutex::new(None),
            written: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            flusher: Flusher::default(),
            progress: watch(),
        }
    }

    fn progressed(&self, bytes: u64) {
        if let Some(p) = &self.progress {
            p.progressed(bytes);
        }
    }

    /// Stops the restore with `e` (the first error is the one reported).
    fn fail(&self, e: RepoError) {
        self.failed.store(true, Ordering::SeqCst);
        self.first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
    }

    /// One writer thread: queued files (fetching, opening, decompressing and verifying their
    /// blobs is CPU work) until none is left. After a failure it still empties the queue,
    /// writing nothing: the thread filling it would otherwise wait forever on a full queue.
    fn run(&self, queued: &Mutex<std::sync::mpsc::Receiver<Vec<FileJob>>>) {
        let mut opener = Opener::new(&self.repo, &self.handle, self.repo.tree_restore_check());
        loop {
            // The lock is held only while waiting for a batch, not while writing it.
            let next = queued.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(batch) = next else { return };
            for (node, path, fresh) in batch {
                if self.progress.as_ref().is_some_and(Watch::stopped) {
                    self.fail(RepoError::Cancelled);
                }
                if self.failed.load(Ordering::SeqCst) {
                    break;
                }
                match restore_file(&self.repo, &self.index, &mut opener, &node, &path, fresh) {
                    Ok(true) => {
                        self.written.fetch_add(1, Ordering::Relaxed);
                        self.bytes.fetch_add(node.size, Ordering::Relaxed);
                        self.flusher.wrote(node.size);
                        self.progressed(node.size);
                    }
                    Ok(false) => {
                        self.unchanged.fetch_add(1, Ordering::Relaxed);
                        self.progressed(node.size);
                    }
                    Err(e @ RepoError::Target(_)) => self.fail(e),
                    Err(e) if self.skip_unreadable && e.is_damage() => {
                        self.unreadable.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{}: {e}", node.path));
                    }
                    Err(other) => self.fail(RepoError::DataUnavailable { snapshot: self.snapshot_id.clone(), detail: format!("{}: {other}", node.path) }),
                }
            }
        }
    }
}

/// Where a tree restore puts each node: it creates directories as the walk reaches them
/// (before what they hold), and keeps symlinks and directories for the end.
struct Placer<'a> {
    target: &'a Path,
    /// The target was empty: nothing in it needs a delta check.
    target_fresh: bool,
    /// Directories checked or created (real directories, no symlink on the way): their
    /// entries need no second look, since symlinks are only restored after the files.
    ready: HashSet<String>,
    /// Directories this restore created: they held nothing, so their files need no delta
    /// check (a look per file cost a tenth of a restore of many small files).
    fresh: HashSet<String>,
    /// Directories, without their listings' blob ids, for their times once filled.
    dirs: Vec<Node>,
    symlinks: Vec<Node>,
}

impl<'a> Placer<'a> {
    fn new(target: &'a Path) -> Result<Placer<'a>, RepoError> {
        std::fs::create_dir_all(target).map_err(|e| RepoError::Target(format!("{}: {e}", target.display())))?;
        let target_fresh = std::fs::read_dir(target).is_ok_and(|mut entries| entries.next().is_none());
        Ok(Placer { target, target_fresh, ready: HashSet::new(), fresh: HashSet::new(), dirs: Vec::new(), symlinks: Vec::new() })
    }

    /// Creates the directories of `nodes` and keeps their symlinks; returns their files.
    fn place(&mut self, nodes: Vec<Node>) -> Result<Vec<FileJob>, RepoError> {
        let mut files = Vec::new();
        for node in nodes {
            let parent = parent_of(&node.path);
            let parent_fresh = if parent.is_empty() { self.target_fresh } else { self.fresh.contains(parent) };
            let path = if parent.is_empty() || self.ready.contains(parent) { self.target.join(&node.path) } else { safe_join(self.target, &node.path)? };
            match node.kind {
                NodeKind::Dir => {
                    if parent_fresh || !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                        std::fs::create_dir(&path).map_err(|e| RepoError::Target(format!("{}: {e}", path.display())))?;
                        self.fresh.insert(node.path.clone());
                    }
                    self.ready.insert(node.path.clone());
                    self.dirs.push(Node { chunks: Vec::new(), ..node });
                }
                NodeKind::Symlink => self.symlinks.push(node),
                NodeKind::File => files.push((node, path, parent_fresh)),
            }
        }
        Ok(files)
    }

    /// Restores the symlinks, then the directories' times (writing their contents changed
    /// them), and syncs everything written.
    fn finish(self, summary: &mut RestoreSummary) -> Result<(), RepoError> {
        for node in &self.symlinks {
            let path = safe_join(self.target, &node.path)?;
            let link_target = node.target.as_deref().unwrap_or_default();
            if std::fs::read_link(&path).is_ok_and(|t| t == Path::new(link_target)) {
                // In place already; a temporary an interrupted run left beside it goes.
                let _ = std::fs::remove_file(temp_sibling(&path));
                summary.unchanged += 1;
                continue;
            }
            place_symlink(link_target, &path)?;
            summary.symlinks += 1;
        }
        for node in &self.dirs {
            set_meta(&safe_join(self.target, &node.path)?, node)?;
        }
        sync_filesystem(self.target)
    }
}

/// Writes one file unless the target already holds identical bytes (not looked for in a
/// `fresh` directory, which held nothing); true if written.
fn restore_file(repo: &Repository, index: &Index, opener: &mut Opener, node: &Node, path: &Path, fresh: bool) -> Result<bool, RepoError> {
    let expected = node.sha256.clone().unwrap_or_default();
    if !fresh
        && let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.is_file() && meta.len() == node.size && file_sha256(path).is_some_and(|h| h == expected) {
            set_meta(path, node)?;
            return Ok(false);
        }
    let ids = parse_ids(&node.chunks)?;
    let tmp = temp_sibling(path);
    let target_err = |e: std::io::Error| RepoError::Target(format!("{}: {e}", path.display()));
    let result = (|| {
        // Written a range at a time (up to 8 MiB), so no buffer of its own.
        let file = create_new(&tmp).map_err(target_err)?;
        // Where the opener checks every chunk against its id, the file's own SHA-256 would
        // hash every byte a second time.
        let mut sha = (opener.check == Check::FileHashes).then(Sha256::new);
        // Big files go around the page cache (see `storage::direct`), small ones through it
        // (the flusher starts their writeback).
        let mut file = DirectFile::new(file, node.size, opener.buffer.take().unwrap_or_default());
        let mut written = 0u64;
        opener.for_each_range(repo, index, &ids, |bytes| {
            if let Some(sha) = sha.as_mut() {
                sha.update(bytes);
            }
            written += bytes.len() as u64;
            file.write_all(bytes).map_err(target_err)
        })?;
        let (file, buffer) = file.finish().map_err(target_err)?;
        opener.buffer = Some(buffer);
        if written != node.size {
            return Err(RepoError::Damaged(format!("the restored file has {written} bytes; the snapshot records {}", node.size)));
        }
        if sha.is_some_and(|sha| hex::encode(sha.finalize()) != expected) {
            return Err(RepoError::Damaged("the restored file does not match its SHA-256".into()));
        }
        // No fsync per file: one syncfs at the end of the restore makes every file durable
        // before success is reported. A file torn by a crash before then fails the SHA-256
        // check of the next (delta) run and is written again.
        set_file_meta(&file, node).map_err(target_err)?;
        std::fs::rename(&tmp, path).map_err(target_err)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|_| true)
}

/// `target/rel`, after checking that no existing ancestor inside `target` is a symlink or
/// a non-directory: nothing is ever written through a link.
fn safe_join(target: &Path, rel: &str) -> Result<PathBuf, RepoError> {
    let mut path = target.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        if i + 1 < parts.len() {
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(RepoError::Target(format!("{} is in the way of {rel} (not a directory)", path.display()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(&path) {
                    // Another restore thread may have created it a moment ago.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() && !path.is_symlink() => {}
                    other => other.map_err(|e| RepoError::Target(format!("{}: {e}", path.display())))?,
                },
                Err(e) => return Err(RepoError::Target(format!("{}: {e}", path.display()))),
            }
        }
    }
    Ok(path)
}

fn set_meta(path: &Path, node: &Node) -> Result<(), RepoError> {
    let err = |e: std::io::Error| RepoError::Target(format!("{}: {e}", path.display()));
    set_file_meta(&std::fs::File::options().read(true).open(path).map_err(err)?, node).map_err(err)
}

fn set_file_meta(file: &std::fs::File, node: &Node) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(node.mode))?;
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(node.mtime_ns.max(0) as u64))
}

/// Flushes everything written to the filesystem holding `dir`, in one call instead of one
/// fsync per file.
fn sync_filesystem(dir: &Path) -> Result<(), RepoError> {
    std::fs::File::open(dir)
        .and_then(|handle| writeback::syncfs(&handle))
        .map_err(|e| RepoError::Target(format!("{}: {e}", dir.display())))
}

fn file_sha256(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf).ok()? {
            0 => return Some(hex::encode(sha.finalize())),
            n => sha.update(&buf[..n]),
        }
    }
}

/// Makes `path` a symlink to `link_target` through a temporary sibling and a rename; a
/// temporary an interrupted run left is removed first, like a file's. Errors name the path the
/// step failed on.
fn place_symlink(link_target: &str, path: &Path) -> Result<(), RepoError> {
    let tmp = temp_sibling(path);
    let failed = |at: &Path, e: std::io::Error| RepoError::Target(format!("{}: {e}", at.display()));
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(&tmp, e)),
        _ => {}
    }
    std::os::unix::fs::symlink(link_target, &tmp).map_err(|e| failed(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| failed(path, e))
}

/// Creates `path` afresh: a leftover (file or symlink) from an interrupted run is removed
/// and the creation tried again; O_EXCL means a symlink planted in between is never followed.
fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    let create = || std::fs::OpenOptions::new().write(true).create_new(true).open(path);
    match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(path)?;
            create()
        }
        other => other,
    }
}

/// The directory part of a relative path ("" at the top).
fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(parent, _)| parent)
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.bulwark-partial"))
}
