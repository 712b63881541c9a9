//! A directory tree as a backup reads it: a lazy depth-first walk that lists one directory at
//! a time, when the backup's readers need the next file, and hands the repository each
//! directory's entries and each file to read ([`walk`]). Regular files, directories and
//! symlinks are kept, with modes and mtimes; sockets, FIFOs and devices are not.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::repo::backup::{self, BackupOptions, Opener, TreeWalk, WalkStep};
use crate::engine::repo::snapshot::{Node, NodeKind, Snapshot};
use crate::engine::repo::{RepoError, Repository};

/// Backs up the tree under `root`.
pub async fn backup_tree(repo: &Repository, root: &Path, options: BackupOptions) -> Result<Snapshot, RepoError> {
    backup::backup_walk(repo, walk(root)?, options).await
}

/// The walk of the directory `root`, for [`backup::backup_walk`].
pub fn walk(root: &Path) -> Result<TreeWalk, RepoError> {
    let meta = std::fs::metadata(root).map_err(|e| RepoError::Source(format!("{}: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(RepoError::Invalid(format!("{} is not a directory", root.display())));
    }
    let mut walk = Walk { root: Some(root.to_path_buf()), stack: Vec::new(), next_dir: 0 };
    let measured = root.to_path_buf();
    Ok(TreeWalk { steps: Box::new(move || walk.next_step()), measure: Box::new(move |stop| measure(&measured, stop)) })
}

/// A directory the walk is inside: the files and subdirectories it has not handed out yet.
struct OpenDir {
    id: usize,
    path: PathBuf,
    children: std::vec::IntoIter<(usize, NodeKind, String)>,
}

struct Walk {
    /// The root, until the first step lists it.
    root: Option<PathBuf>,
    stack: Vec<OpenDir>,
    next_dir: usize,
}

impl Walk {
    /// The next directory listed or file to read; `None` once the walk is over.
    fn next_step(&mut self) -> Result<Option<WalkStep>, RepoError> {
        if let Some(root) = self.root.take() {
            return self.open(root, None).map(Some);
        }
        loop {
            let Some(top) = self.stack.last_mut() else { return Ok(None) };
            let Some((slot, kind, name)) = top.children.next() else {
                self.stack.pop();
                continue;
            };
            let (dir, path) = (top.id, top.path.join(name));
            if kind == NodeKind::Dir {
                return self.open(path, Some((dir, slot))).map(Some);
            }
            let open: Opener = Box::new(move || match std::fs::File::open(&path) {
                Ok(file) => Ok(Box::new(NamedFile { file, path }) as Box<dyn Read + Send>),
                Err(e) => Err(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            });
            return Ok(Some(WalkStep::File { dir, slot, open }));
        }
    }

    fn open(&mut self, path: PathBuf, parent: Option<(usize, usize)>) -> Result<WalkStep, RepoError> {
        let nodes = list(&path)?;
        let children: Vec<_> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind != NodeKind::Symlink)
            .map(|(slot, n)| (slot, n.kind, n.path.clone()))
            .collect();
        let id = self.next_dir;
        self.next_dir += 1;
        self.stack.push(OpenDir { id, path, children: children.into_iter() });
        Ok(WalkStep::Dir { id, nodes, parent })
    }
}

/// A file whose read errors name it.
struct NamedFile {
    file: std::fs::File,
    path: PathBuf,
}

impl Read for NamedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}

/// One directory's entries, sorted by name, `path` being each entry's name. Files carry the
/// size seen now (for progress); the listing records the bytes actually read.
fn list(dir: &Path) -> Result<Vec<Node>, RepoError> {
    use std::os::unix::fs::PermissionsExt;
    let source = |e: std::io::Error, p: &Path| RepoError::Source(format!("{}: {e}", p.display()));
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(|e| source(e, dir))?.collect::<Result<_, _>>().map_err(|e| source(e, dir))?;
    entries.sort_by_key(|e| e.file_name());
    let mut nodes = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| source(e, &path))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(RepoError::Source(format!("{}: the name is not valid UTF-8", path.display())));
        };
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        let mut node = Node { path: name, kind: NodeKind::File, mode: meta.permissions().mode() & 0o7777, mtime_ns, size: 0, sha256: None, chunks: vec![], target: None, object: None };
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            node.kind = NodeKind::Symlink;
            node.target = Some(std::fs::read_link(&path).map_err(|e| source(e, &path))?.to_string_lossy().into_owned());
        } else if file_type.is_dir() {
            node.kind = NodeKind::Dir;
        } else if file_type.is_file() {
            node.size = meta.len();
        } else {
            continue; // Sockets, FIFOs and devices are not backed up.
        }
        nodes.push(node);
    }
    Ok(nodes)
}

/// The bytes of regular files below `root`, for a progress bar; `None` if `stop` is set first
/// or the tree cannot be read (the backup itself reports that).
pub(crate) fn measure(root: &Path, stop: &AtomicBool) -> Option<u64> {
    let (mut total, mut dirs) = (0, vec![root.to_path_buf()]);
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).ok()? {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            let entry = entry.ok()?;
            // A directory entry's metadata does not follow symlinks.
            let meta = entry.metadata().ok()?;
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Some(total)
}
