//! Directory trees as stored: one **listing** per directory, a JSON array of [`Node`]s whose
//! `path` is the entry's own name, chunked into tree blobs. A directory's node carries its
//! listing's blobs, size and SHA-256, so the root listing's hash covers the whole tree.
//!
//! Backups build listings bottom-up while a source walks its tree ([`TreeBuilder`], fed by
//! `crate::engine::source::filesystem`): only directories still in flight are held. Readers
//! load them top-down ([`TreeReader`], [`list_dir`]).

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::backup::{ItemResult, TreeBlobs};
use super::crypto::Unsealer;
use super::format;
use super::index::Index;
use super::snapshot::{Content, Node, NodeKind, ObjectAttributes, Snapshot};
use super::{ChunkId, RepoError, Repository};
use crate::engine::storage::StorageError;

/// Where a stored listing (or the root's) is: its blobs in order, its length and SHA-256.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlobRef {
    pub chunks: Vec<ChunkId>,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// A directory whose listing waits for its files and subdirectories to be stored.
struct PendingDir {
    nodes: Vec<Node>,
    /// Files and subdirectories not stored yet.
    waiting: usize,
    /// The parent directory and this directory's slot in its listing; `None` for the root.
    parent: Option<(usize, usize)>,
}

/// Listings under construction, shared by the walk (which adds directories and files) and the
/// packer (which finishes them).
#[derive(Default)]
pub(crate) struct TreeBuilder {
    pending: HashMap<usize, PendingDir>,
    /// Each file item in flight: its directory and slot.
    files_in_flight: HashMap<usize, (usize, usize)>,
    /// Directories with nothing left to wait for, to be stored.
    ready: Vec<usize>,
    root: Option<BlobRef>,
    pub files: u64,
    /// Directories below the root.
    pub dirs: u64,
    pub bytes: u64,
}

impl TreeBuilder {
    pub(crate) fn add_dir(&mut self, id: usize, nodes: Vec<Node>, parent: Option<(usize, usize)>) {
        let waiting = nodes.iter().filter(|n| n.kind != NodeKind::Symlink).count();
        self.add_listing(id, nodes, parent, waiting);
    }

    /// A directory whose listing waits for `waiting` of its entries (the others are complete).
    /// File `item` (numbered by the backup) is slot `slot` of directory `dir`.
    pub(crate) fn file_started(&mut self, item: usize, dir: usize, slot: usize) {
        self.files_in_flight.insert(item, (dir, slot));
    }

    fn add_listing(&mut self, id: usize, nodes: Vec<Node>, parent: Option<(usize, usize)>, waiting: usize) {
        if parent.is_some() {
            self.dirs += 1;
        }
        if waiting == 0 {
            self.ready.push(id);
        }
        self.pending.insert(id, PendingDir { nodes, waiting, parent });
    }

    fn node(&mut self, dir: usize, slot: usize) -> Result<&mut Node, RepoError> {
        self.pending
            .get_mut(&dir)
            .and_then(|d| d.nodes.get_mut(slot))
            .ok_or_else(|| RepoError::Source(format!("the tree walk lost directory {dir}")))
    }

    /// Starts a one-directory tree (a bucket's objects): `nodes` sorted by name, and the slots
    /// that wait for the items of the same number; the other nodes are complete.
    pub(crate) fn add_flat_root(&mut self, nodes: Vec<Node>, waiting: &[usize]) {
        for &slot in waiting {
            self.files_in_flight.insert(slot, (0, slot));
        }
        self.add_listing(0, nodes, None, waiting.len());
        // Complete entries count as stored files of the tree.
        self.files += (self.pending[&0].nodes.len() - waiting.len()) as u64;
        self.bytes += self.pending[&0].nodes.iter().enumerate().filter(|(i, _)| !waiting.contains(i)).map(|(_, n)| n.size).sum::<u64>();
    }

    /// Records an object's headers, learnt when it was opened.
    pub(crate) fn set_object(&mut self, dir: usize, slot: usize, object: ObjectAttributes) -> Result<(), RepoError> {
        self.node(dir, slot)?.object = Some(object);
        Ok(())
    }

    pub(crate) fn file_done(&mut self, item: usize, result: ItemResult) -> Result<(), RepoError> {
        let (dir, slot) = self.files_in_flight.remove(&item).ok_or_else(|| RepoError::Source(format!("the tree walk lost file {item}")))?;
        let node = self.node(dir, slot)?;
        node.size = result.size;
        node.sha256 = Some(hex::encode(result.sha256));
        node.chunks = result.chunks.iter().map(ChunkId::to_string).collect();
        self.files += 1;
        self.bytes += result.size;
        self.child_done(dir);
        Ok(())
    }

    fn child_done(&mut self, dir: usize) {
        if let Some(d) = self.pending.get_mut(&dir) {
            d.waiting -= 1;
            if d.waiting == 0 {
                self.ready.push(dir);
            }
        }
    }

    /// Stores every complete listing, then the parents this completes, up to the root.
    pub(crate) fn store_ready(&mut self, blobs: &mut TreeBlobs) -> Result<(), RepoError> {
        while let Some(dir) = self.ready.pop() {
            let d = self.pending.remove(&dir).ok_or_else(|| RepoError::Source(format!("the tree walk lost directory {dir}")))?;
            let listing = serde_json::to_vec(&d.nodes).map_err(|e| RepoError::Source(e.to_string()))?;
            let stored = blobs.store(&listing)?;
            match d.parent {
                Some((parent, slot)) => {
                    let node = self.node(parent, slot)?;
                    node.size = stored.size;
                    node.sha256 = Some(hex::encode(stored.sha256));
                    node.chunks = stored.chunks.iter().map(ChunkId::to_string).collect();
                    self.child_done(parent);
                }
                None => self.root = Some(stored),
            }
        }
        Ok(())
    }

    /// The root listing, once everything below it is stored.
    pub(crate) fn take_root(&mut self) -> Option<BlobRef> {
        self.root.take()
    }
}

/// True if `name` can be one entry of a listing.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Where one listing is stored, and which directory it lists ("" for the top).
struct ListingRef<'a> {
    chunks: &'a [String],
    size: u64,
    sha256: &'a str,
    at: &'a str,
}

impl<'a> ListingRef<'a> {
    /// The listing of the directory `node` (whose `path` is its full path).
    fn of(node: &'a Node) -> ListingRef<'a> {
        ListingRef { chunks: &node.chunks, size: node.size, sha256: node.sha256.as_deref().unwrap_or_default(), at: &node.path }
    }
}

/// Loads and verifies listings together: their blobs in one request to the storage
/// ([`crate::engine::storage::Storage::get_ranges`]), opened with one zstd context. A request and a
/// context per listing were most of the time loading a tree of 1,300 directories took:
/// thread hops on disk, round trips on S3. Each listing has its own outcome (one damaged
/// directory does not hide its siblings); a storage that fails otherwise than by missing data
/// fails the whole call.
async fn load_listings(repo: &Repository, index: &Index, snapshot: &Snapshot, refs: &[ListingRef<'_>]) -> Result<Vec<Result<Vec<Node>, RepoError>>, RepoError> {
    let unavailable = |detail: String| RepoError::DataUnavailable { snapshot: snapshot.id.clone(), detail };
    let place = |at: &str| if at.is_empty() { "the top directory".to_string() } else { format!("directory {at:?}") };
    let mut outcomes: Vec<Result<Vec<u8>, RepoError>> = refs.iter().map(|r| Ok(Vec::with_capacity(r.size.min(64 << 20) as usize))).collect();
    let mut blobs = Vec::new();
    for (listing, r) in refs.iter().enumerate() {
        for id in r.chunks {
            let located = id.parse::<ChunkId>().ok().and_then(|id| index.get(&id).map(|(pack, location)| (id, *pack, location)));
            match located {
                Some((id, pack, location)) => blobs.push((listing, id, pack, location)),
                None => outcomes[listing] = Err(unavailable(format!("{}: blob {id} is not in the index", place(r.at)))),
            }
        }
    }
    let requests: Vec<(String, u64, u64)> = blobs.iter().map(|(_, _, pack, l)| (format::pack_key(&pack.to_string()), l.offset as u64, l.length as u64)).collect();
    let fetched = repo.storage().get_ranges(&requests).await;
    let mut unsealer = Unsealer::default();
    for ((listing, id, pack, l), sealed) in blobs.iter().zip(fetched) {
        let Ok(bytes) = &mut outcomes[*listing] else { continue };
        let failed = |e: String| unavailable(format!("{}: {e}", place(refs[*listing].at)));
        let sealed = match sealed {
            Ok(sealed) => sealed,
            Err(e @ (StorageError::NotFound(_) | StorageError::OutOfRange { .. })) => {
                outcomes[*listing] = Err(failed(RepoError::from(e).to_string()));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = repo.open_blob_into(&mut unsealer, &sealed, l.object_type, id, l.raw_length, bytes) {
            super::damage::mark(repo, pack, Some(id), &e.to_string()).await;
            outcomes[*listing] = Err(failed(e.to_string()));
        }
    }
    Ok(refs
        .iter()
        .zip(outcomes)
        .map(|(r, bytes)| {
            let bytes = bytes?;
            let place = place(r.at);
            if bytes.len() as u64 != r.size || hex::encode(Sha256::digest(&bytes)) != r.sha256 {
                return Err(unavailable(format!("the listing of {place} does not match its SHA-256")));
            }
            let nodes: Vec<Node> = serde_json::from_slice(&bytes).map_err(|e| unavailable(format!("the listing of {place}: {e}")))?;
            if let Some(bad) = nodes.iter().find(|n| !is_safe_name(&n.path)) {
                return Err(RepoError::Damaged(format!("snapshot {}: {place} holds an unsafe name {:?}", snapshot.id, bad.path)));
            }
            let mut names: Vec<&str> = nodes.iter().map(|n| n.path.as_str()).collect();
            names.sort_unstable();
            if let Some(twice) = names.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err(RepoError::Damaged(format!("snapshot {}: {place} holds {:?} twice", snapshot.id, twice[0])));
            }
            Ok(nodes)
        })
        .collect())
}

/// Loads one listing.
async fn load_listing(repo: &Repository, index: &Index, snapshot: &Snapshot, listing: ListingRef<'_>) -> Result<Vec<Node>, RepoError> {
    let mut loaded = load_listings(repo, index, snapshot, std::slice::from_ref(&listing)).await?;
    loaded.pop().unwrap_or_else(|| Ok(Vec::new()))
}

async fn root_listing(repo: &Repository, index: &Index, snapshot: &Snapshot) -> Result<Vec<Node>, RepoError> {
    let Content::Tree { tree, tree_size, tree_sha256 } = &snapshot.content else {
        return Err(RepoError::Invalid(format!("snapshot {} is a stream, not a tree", snapshot.id)));
    };
    load_listing(repo, index, snapshot, ListingRef { chunks: tree, size: *tree_size, sha256: tree_sha256, at: "" }).await
}

/// `dir/name`, or `name` at the top.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
}

/// A directory as the flat view shows it: its listing's blobs stay (they are what the snapshot
/// references), its listing's size and hash go (a directory has no content of its own).
fn flat_dir(mut node: Node) -> Node {
    node.size = 0;
    node.sha256 = None;
    node
}

/// The nodes of a tree snapshot one at a time, with full relative paths, depth-first, siblings
/// in listing order, so a directory comes before what it holds. Only the listings of the
/// directories being walked are held, and those loaded ahead: a restore's memory stays flat
/// however many files the tree has.
pub struct TreeReader<'a> {
    repo: &'a Repository,
    index: &'a Index,
    snapshot: &'a Snapshot,
    /// The directories being walked, outermost first: full path and the entries not yet read.
    stack: Vec<(String, std::vec::IntoIter<Node>)>,
    /// Listings loaded before the walk reaches their directory, by full path.
    ahead: HashMap<String, Result<Vec<Node>, RepoError>>,
    /// Walk past directories whose listing is damaged, naming each in `unreadable`, instead of
    /// stopping at the first.
    skip_unreadable: bool,
    unreadable: Vec<String>,
}

impl<'a> TreeReader<'a> {
    /// Listings loaded with one request at most ([`load_listings`]): what a batch costs in
    /// memory, against a request (a thread hop on disk, a round trip on S3) per directory.
    const AHEAD: usize = 256;

    pub async fn open(repo: &'a Repository, index: &'a Index, snapshot: &'a Snapshot) -> Result<TreeReader<'a>, RepoError> {
        let root = root_listing(repo, index, snapshot).await?;
        Ok(TreeReader { repo, index, snapshot, stack: vec![(String::new(), root.into_iter())], ahead: HashMap::new(), skip_unreadable: false, unreadable: Vec::new() })
    }

    /// Walks past a directory whose listing is damaged (it is still returned, empty) instead
    /// of failing; [`TreeReader::unreadable`] names each.
    pub fn skipping_unreadable(mut self) -> TreeReader<'a> {
        self.skip_unreadable = true;
        self
    }

    /// The directories walked past, one sentence each: their contents were not read.
    pub fn unreadable(&self) -> &[String] {
        &self.unreadable
    }

    /// The next node, `None` once the whole tree has been read.
    pub async fn next(&mut self) -> Result<Option<Node>, RepoError> {
        loop {
            let Some((dir, entries)) = self.stack.last_mut() else { return Ok(None) };
            let Some(mut node) = entries.next() else {
                self.stack.pop();
                continue;
            };
            node.path = join(dir, &node.path);
            if node.kind != NodeKind::Dir {
                return Ok(Some(node));
            }
            let listing = match self.ahead.remove(&node.path) {
                Some(listing) => listing,
                None => self.load_with_next(&node).await?,
            };
            let listing = match listing {
                Err(e) if self.skip_unreadable && e.is_damage() => {
                    self.unreadable.push(format!("{}/: its listing cannot be read, so nothing below it was read ({e})", node.path));
                    Vec::new()
                }
                other => other?,
            };
            self.stack.push((node.path.clone(), listing.into_iter()));
            return Ok(Some(flat_dir(node)));
        }
    }

    /// Loads the listing of `dir` (just taken from the top of the stack) together with those
    /// of the directories the walk reaches next: `dir`'s siblings, then its ancestors'.
    async fn load_with_next(&mut self, dir: &Node) -> Result<Result<Vec<Node>, RepoError>, RepoError> {
        let mut batch = vec![dir.clone()];
        'frames: for (path, entries) in self.stack.iter().rev() {
            for next in entries.as_slice().iter().filter(|n| n.kind == NodeKind::Dir) {
                if batch.len() == Self::AHEAD {
                    break 'frames;
                }
                let full = join(path, &next.path);
                if !self.ahead.contains_key(&full) {
                    batch.push(Node { path: full, ..next.clone() });
                }
            }
        }
        let refs: Vec<ListingRef> = batch.iter().map(ListingRef::of).collect();
        let mut loaded = load_listings(self.repo, self.index, self.snapshot, &refs).await?.into_iter();
        let listing = loaded.next().unwrap_or_else(|| Ok(Vec::new()));
        for (node, listing) in batch.iter().skip(1).zip(loaded) {
            self.ahead.insert(node.path.clone(), listing);
        }
        Ok(listing)
    }
}

/// Every node of a tree snapshot, in [`TreeReader`]'s order.
pub async fn load_tree(repo: &Repository, index: &Index, snapshot: &Snapshot) -> Result<Vec<Node>, RepoError> {
    let mut reader = TreeReader::open(repo, index, snapshot).await?;
    let mut nodes = Vec::new();
    while let Some(node) = reader.next().await? {
        nodes.push(node);
    }
    Ok(nodes)
}

/// The entries directly inside `dir` ("" for the top), with full paths; reads only the
/// listings on the way down.
pub async fn list_dir(repo: &Repository, index: &Index, snapshot: &Snapshot, dir: &str) -> Result<Vec<Node>, RepoError> {
    let dir = dir.trim_matches('/');
    let mut listing = root_listing(repo, index, snapshot).await?;
    let mut at = String::new();
    for name in dir.split('/').filter(|c| !c.is_empty()) {
        let Some(mut node) = listing.into_iter().find(|n| n.path == name && n.kind == NodeKind::Dir) else {
            return Err(RepoError::Invalid(format!("snapshot {} has no directory {dir:?}", snapshot.id)));
        };
        at = join(&at, name);
        node.path = at.clone();
        listing = load_listing(repo, index, snapshot, ListingRef::of(&node)).await?;
    }
    Ok(listing
        .into_iter()
        .map(|mut n| {
            n.path = join(&at, &n.path);
            if n.kind == NodeKind::Dir { flat_dir(n) } else { n }
        })
        .collect())
}

/// The node of the file at `path`.
pub async fn find_file(repo: &Repository, index: &Index, snapshot: &Snapshot, path: &str) -> Result<Node, RepoError> {
    let path = path.trim_matches('/');
    let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
    let not_found = || RepoError::Invalid(format!("snapshot {} has no file {path:?}", snapshot.id));
    match list_dir(repo, index, snapshot, parent).await {
        Ok(nodes) => nodes.into_iter().find(|n| n.path == path && n.kind == NodeKind::File).ok_or_else(not_found),
        Err(RepoError::Invalid(_)) => Err(not_found()),
        Err(e) => Err(e),
    }
}
