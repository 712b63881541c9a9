//! Restoring snapshots: every blob's tag is checked, every file's SHA-256 is compared with the
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

use super::crypto::Unsealer;
use super::format;
use super::index::Index;
use super::snapshot::{Content, Node, NodeKind, Snapshot, is_safe_path, matches_filter};
use super::writeback::{Flusher, Writeback};
use super::{ChunkId, RepoError, Repository};
use crate::storage::RangeReader;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Files already identical in the target, left untouched.
    pub unchanged: u64,
    pub bytes: u64,
}

fn parse_ids(ids: &[String]) -> Result<Vec<ChunkId>, RepoError> {
    ids.iter().map(|s| s.parse()).collect()
}

/// Chunks stored back to back in one pack are fetched with one read, up to this many bytes,
/// and this many bytes once opened (what one range costs in memory).
const MAX_RANGE: u64 = 32 << 20;
const MAX_RANGE_PLAIN: u64 = 8 << 20;

/// Neighbouring chunks of one pack, fetched with one read: `ids[first..last]` at
/// `start..end` of `pack`.
struct Range {
    pack: ChunkId,
    start: u64,
    end: u64,
    first: usize,
    last: usize,
}

/// Groups `ids` into ranges (the usual case: a file's chunks are packed as they are read, so a
/// range read saves a request per chunk on S3 and an open per chunk on disk).
fn plan_ranges(index: &Index, ids: &[ChunkId]) -> Result<(Vec<Range>, Vec<super::index::BlobLocation>), RepoError> {
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
enum Check {
    /// Every chunk's id is recomputed from its bytes: streams, whose whole SHA-256 would hash
    /// every byte again on one thread, and verification.
    ChunkIds,
    /// The caller compares each file's SHA-256 with the manifest, which covers its chunks,
    /// their order and their count. Hashing every byte a second time for its chunk's id cost
    /// a fifth of a tree restore's CPU time.
    FileHashes,
}

/// A restore thread's reused state: its reader of ranges, its zstd context, the buffer ranges
/// are read into and the one they are opened into.
struct Opener<'r> {
    reader: Box<dyn RangeReader + 'r>,
    check: Check,
    unsealer: Unsealer,
    sealed: Vec<u8>,
    plain: Vec<u8>,
}

impl<'r> Opener<'r> {
    fn new(repo: &'r Repository, handle: &'r Handle, check: Check) -> Opener<'r> {
        Opener { reader: repo.storage().range_reader(handle), check, unsealer: Unsealer::default(), sealed: Vec::new(), plain: Vec::new() }
    }

    /// Fetches one range and opens (decrypts, decompresses, verifies) each of its chunks;
    /// returns their bytes, back to back.
    fn open_range(&mut self, repo: &Repository, range: &Range, ids: &[ChunkId], locations: &[super::index::BlobLocation]) -> Result<&[u8], RepoError> {
        self.reader.read_into(&format::pack_key(&range.pack.to_string()), range.start, range.end - range.start, &mut self.sealed)?;
        self.plain.clear();
        for k in range.first..range.last {
            let loc = locations[k];
            let sealed = &self.sealed[(loc.offset as u64 - range.start) as usize..][..loc.length as usize];
            match self.check {
                Check::ChunkIds => repo.open_blob_into(&mut self.unsealer, sealed, loc.object_type, &ids[k], loc.raw_length, &mut self.plain)?,
                Check::FileHashes => repo.unseal_blob_into(&mut self.unsealer, sealed, loc.object_type, &ids[k], loc.raw_length, &mut self.plain)?,
            }
        }
        Ok(&self.plain)
    }

    /// Fetches `ids` in order and passes the verified bytes to `sink`, a range at a time.
    fn for_each_range(&mut self, repo: &Repository, index: &Index, ids: &[ChunkId], mut sink: impl FnMut(&[u8]) -> Result<(), RepoError>) -> Result<(), RepoError> {
        let (ranges, locations) = plan_ranges(index, ids)?;
        for range in &ranges {
            sink(self.open_range(repo, range, ids, &locations)?)?;
        }
        Ok(())
    }
}

/// Writes a stream snapshot to `out`; returns the bytes written.
///
/// Every chunk is checked against its id (an HMAC-SHA-256 of its bytes) and the manifest,
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
async fn write_stream<W: Write + Send + 'static>(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot, out: W, whole_hash: bool) -> Result<(W, u64), RepoError> {
    let Content::Stream { chunks, size, sha256 } = snapshot.content.clone() else {
        return Err(RepoError::Invalid(format!("snapshot {} is a tree, not a stream", snapshot.id)));
    };
    let ids = parse_ids(&chunks)?;
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
                            if let Some(sha) = w.sha.as_mut() {
                                sha.update(bytes);
                            }
                            w.written += bytes.len() as u64;
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
            Some(e @ RepoError::Target(_)) => return Err(e),
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

/// Restores the nodes of a tree snapshot that match `filters` (all when empty) into `target`.
pub async fn restore_tree(repo: &Repository, index: std::sync::Arc<Index>, snapshot: &Snapshot, target: &Path, filters: &[String]) -> Result<RestoreSummary, RepoError> {
    let started = std::time::Instant::now();
    let nodes = super::tree::load_tree(repo, &index, snapshot).await?;
    tracing::debug!(nodes = nodes.len(), ms = started.elapsed().as_millis() as u64, "tree loaded");
    // Refuse the whole restore before writing anything if one path is unsafe.
    if let Some(bad) = nodes.iter().find(|n| !is_safe_path(&n.path)) {
        return Err(RepoError::Damaged(format!("snapshot {} holds an unsafe path {:?}; nothing was restored", snapshot.id, bad.path)));
    }
    let selected: Vec<Node> = nodes.into_iter().filter(|n| filters.is_empty() || filters.iter().any(|f| matches_filter(&n.path, f))).collect();
    if selected.is_empty() && !filters.is_empty() {
        return Err(RepoError::Invalid(format!("nothing in snapshot {} matches {filters:?}", snapshot.id)));
    }
    let (repo, handle, target, snapshot_id) = (repo.clone(), Handle::current(), target.to_path_buf(), snapshot.id.clone());
    blocking(move || {
        std::fs::create_dir_all(&target).map_err(|e| RepoError::Target(format!("{}: {e}", target.display())))?;
        let mut summary = RestoreSummary::default();
        // Directories checked here (real directories, no symlink on the way) need no second
        // look per file: symlinks are only restored after the files. Directories this restore
        // created (and an empty target) hold nothing yet, so their files need no delta check:
        // a look per file cost a tenth of a restore of many small files.
        let target_fresh = std::fs::read_dir(&target).is_ok_and(|mut entries| entries.next().is_none());
        let (mut ready, mut fresh) = (HashSet::new(), HashSet::new());
        for node in selected.iter().filter(|n| n.kind == NodeKind::Dir) {
            let parent = parent_of(&node.path);
            let path = if parent.is_empty() || ready.contains(parent) { target.join(&node.path) } else { safe_join(&target, &node.path)? };
            let parent_fresh = if parent.is_empty() { target_fresh } else { fresh.contains(parent) };
            if parent_fresh || !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                std::fs::create_dir(&path).map_err(|e| RepoError::Target(format!("{}: {e}", path.display())))?;
                fresh.insert(node.path.as_str());
            }
            ready.insert(node.path.as_str());
            summary.dirs += 1;
        }
        tracing::debug!(dirs = summary.dirs, ms = started.elapsed().as_millis() as u64, "directories ready");
        // Where a file goes, and whether its directory is known to hold nothing yet.
        let place = |rel: &str| -> Result<(PathBuf, bool), RepoError> {
            let parent = parent_of(rel);
            if parent.is_empty() {
                Ok((target.join(rel), target_fresh))
            } else if ready.contains(parent) {
                Ok((target.join(rel), fresh.contains(parent)))
            } else {
                Ok((safe_join(&target, rel)?, false))
            }
        };
        // Files in parallel: fetching, opening, decompressing and verifying blobs is CPU work.
        let files: Vec<&Node> = selected.iter().filter(|n| n.kind == NodeKind::File).collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<RepoError>> = Mutex::new(None);
        let (written, unchanged, bytes) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
        let flusher = Flusher::default();
        let target_dir = std::fs::File::open(&target).map_err(|e| RepoError::Target(format!("{}: {e}", target.display())))?;
        // One worker: the next file until none is left or one failed.
        let work = || {
            let mut opener = Opener::new(&repo, &handle, Check::FileHashes);
            while !failed.load(Ordering::SeqCst) {
                let Some(node) = files.get(next.fetch_add(1, Ordering::SeqCst)) else { return };
                let outcome = place(&node.path).and_then(|(path, fresh)| {
                    restore_file(&repo, &index, &mut opener, node, &path, fresh).map_err(|e| match e {
                        RepoError::Target(_) => e,
                        other => RepoError::DataUnavailable { snapshot: snapshot_id.clone(), detail: format!("{}: {other}", node.path) },
                    })
                });
                match outcome {
                    Ok(true) => {
                        written.fetch_add(1, Ordering::Relaxed);
                        bytes.fetch_add(node.size, Ordering::Relaxed);
                        flusher.wrote(node.size);
                    }
                    Ok(false) => {
                        unchanged.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.store(true, Ordering::SeqCst);
                        first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                    }
                }
            }
        };
        std::thread::scope(|scope| {
            scope.spawn(|| flusher.run(&target_dir));
            let threads: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
            // The flusher runs until every worker is done, even one that panicked.
            let joined: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
            flusher.stop();
            for panic in joined.into_iter().filter_map(Result::err) {
                std::panic::resume_unwind(panic);
            }
        });
        if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        summary.files = written.into_inner();
        summary.unchanged = unchanged.into_inner();
        summary.bytes = bytes.into_inner();
        tracing::debug!(files = summary.files, ms = started.elapsed().as_millis() as u64, "files written");
        for node in selected.iter().filter(|n| n.kind == NodeKind::Symlink) {
            let path = safe_join(&target, &node.path)?;
            let link_target = node.target.as_deref().unwrap_or_default();
            if std::fs::read_link(&path).is_ok_and(|t| t == Path::new(link_target)) {
                summary.unchanged += 1;
                continue;
            }
            let tmp = temp_sibling(&path);
            std::os::unix::fs::symlink(link_target, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &path))
                .map_err(|e| RepoError::Target(format!("{}: {e}", path.display())))?;
            summary.symlinks += 1;
        }
        // Directory times last: writing their contents changed them.
        for node in selected.iter().filter(|n| n.kind == NodeKind::Dir) {
            let path = safe_join(&target, &node.path)?;
            set_meta(&path, node)?;
        }
        sync_filesystem(&target)?;
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "restore synced");
        Ok(summary)
    })
    .await
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
        let mut file = create_new(&tmp).map_err(target_err)?;
        let mut sha = Sha256::new();
        let mut writeback = Writeback::default();
        opener.for_each_range(repo, index, &ids, |bytes| {
            sha.update(bytes);
            file.write_all(bytes).map_err(target_err)?;
            writeback.wrote(&file, bytes.len());
            Ok(())
        })?;
        writeback.finish(&file);
        if hex::encode(sha.finalize()) != expected {
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
    use std::os::fd::AsRawFd;
    let err = |e: std::io::Error| RepoError::Target(format!("{}: {e}", dir.display()));
    let handle = std::fs::File::open(dir).map_err(err)?;
    // SAFETY: syncfs only reads the descriptor, which `handle` keeps open for the call.
    if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok(())
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

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, RepoError> + Send + 'static) -> Result<T, RepoError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

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
            Err(e @ (RepoError::DataUnavailable { .. } | RepoError::Damaged(_))) => Verified { damaged: vec![format!("the stream: {e}")], ..Default::default() },
            Err(e) => return Err(e),
        });
    }
    let nodes = match super::tree::load_tree(repo, &index, snapshot).await {
        Ok(nodes) => nodes,
        Err(e @ (RepoError::DataUnavailable { .. } | RepoError::Damaged(_))) => return Ok(Verified { damaged: vec![format!("the file listing: {e}")], ..Default::default() }),
        Err(e) => return Err(e),
    };
    let (repo, handle) = (repo.clone(), Handle::current());
    blocking(move || {
        let mut verified = Verified::default();
        let mut opener = Opener::new(&repo, &handle, Check::ChunkIds);
        for node in nodes.iter().filter(|n| n.kind == NodeKind::File) {
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
                Err(e @ (RepoError::DataUnavailable { .. } | RepoError::Damaged(_))) => verified.damaged.push(format!("{}: {e}", node.path)),
                Err(e) => return Err(e),
                Ok(()) if node.sha256.as_deref() != Some(hex::encode(sha.finalize()).as_str()) => {
                    verified.damaged.push(format!("{}: does not match its SHA-256", node.path));
                }
                Ok(()) => {}
            }
        }
        Ok(verified)
    })
    .await
}

/// The bytes of one file of a tree snapshot, verified against its SHA-256.
pub async fn read_file(repo: &Repository, index: &Index, snapshot: &Snapshot, path: &str) -> Result<Vec<u8>, RepoError> {
    let node = super::tree::find_file(repo, index, snapshot, path).await?;
    let mut out = Vec::with_capacity(node.size.min(1 << 30) as usize);
    for id in parse_ids(&node.chunks)? {
        out.extend(repo.load_blob(index, &id).await.map_err(|e| RepoError::DataUnavailable { snapshot: snapshot.id.clone(), detail: e.to_string() })?);
    }
    if Some(hex::encode(Sha256::digest(&out))) != node.sha256 {
        return Err(RepoError::DataUnavailable { snapshot: snapshot.id.clone(), detail: format!("{path}: does not match its SHA-256") });
    }
    Ok(out)
}
