//! The repository: deduplicated, compressed, encrypted, verified storage of snapshots on a
//! [`Storage`] location. docs/FORMAT.md describes the format; this module implements it.
//!
//! Write ordering (the invariants every writer keeps): packs → index files → snapshot
//! manifest. A crash at any point leaves no snapshot that refers to missing data; at worst
//! unreferenced packs, which `prune` removes after a grace period.

pub mod backup;
pub mod check;
mod chunker;
pub mod crypto;
pub mod damage;
pub mod format;
pub mod index;
pub mod keys;
pub mod lock;
pub mod object_lock;
pub mod pack;
pub mod prune;
pub mod reachable;
pub mod read;
pub mod rekey;
pub mod repair;
pub mod restore;
pub mod snapshot;
pub mod tree;
pub mod untar;
pub mod verify;
pub mod wal;
mod writeback;

use std::sync::Arc;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Classify, Kind};
use crate::engine::storage::{Storage, StorageError};
use crypto::{CryptoError, Key};
use format::{Compression, ObjectType};
use index::Index;
use keys::{KeyError, KeyFile, Keyring, Secret};
use snapshot::Snapshot;

/// A chunk id: the keyed hash of the chunk's plaintext under the repository's id key ([`IdHasher`]:
/// BLAKE3, or HMAC-SHA256 in a version-1 repository). Pack ids use the same type (SHA-256 of
/// the pack bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId(pub [u8; 32]);

impl std::fmt::Display for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", &hex::encode(self.0)[..12])
    }
}

impl std::str::FromStr for ChunkId {
    type Err = RepoError;
    fn from_str(s: &str) -> Result<ChunkId, RepoError> {
        let bytes = hex::decode(s).map_err(|_| RepoError::Damaged(format!("bad id {s:?}")))?;
        Ok(ChunkId(bytes.try_into().map_err(|_| RepoError::Damaged(format!("bad id {s:?}")))?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("there is no repository at {0}: run `bulwark repo init` first")]
    NoRepository(String),
    #[error("a repository already exists at {0}")]
    AlreadyExists(String),
    #[error("wrong passphrase or key file: no key of this repository opens with it")]
    WrongSecret,
    /// No key file of the secret's kind opened: each is named, since an altered salt or wrapped
    /// key cannot be told from a wrong secret.
    #[error(
        "wrong passphrase or key file: none of these key files opens with it: {0}. A key file whose salt or wrapped key was altered fails the same way; if you are sure of the secret, open the repository with another key (the recovery kit's key file) and add a new one (`bulwark repo key add`)"
    )]
    NoKeyOpened(String),
    #[error("this repository has format version {0}; this Bulwark reads versions {oldest} to {v}", oldest = format::REPO_VERSION_OLDEST, v = format::REPO_VERSION)]
    UnsupportedVersion(u32),
    #[error("snapshot {0} not found")]
    SnapshotNotFound(String),
    #[error("damaged repository data: {0}")]
    Damaged(String),
    #[error("data of snapshot {snapshot} is missing or damaged: {detail}")]
    DataUnavailable { snapshot: String, detail: String },
    #[error("the repository is locked by {0}")]
    LockHeld(String),
    #[error("this process lost its repository lock ({0}); nothing was committed")]
    LockLost(String),
    #[error("{0}")]
    Invalid(String),
    #[error("a different WAL file {0} is already archived here (is another cluster archiving to this repository?)")]
    WalConflict(String),
    #[error("WAL file {0} is not in the archive")]
    WalNotFound(String),
    #[error("reading the source failed: {0}")]
    Source(String),
    #[error("the backup was cancelled; no snapshot was written")]
    Cancelled,
    #[error("{what} is under S3 Object Lock until {until}; the storage refuses to delete it before then")]
    ObjectLocked { what: String, until: String },
    #[error("writing the restore target failed: {0}")]
    Target(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl RepoError {
    /// Whether this is damage to the repository's data (a blob or listing that does not open,
    /// data missing from the storage), as opposed to a failure to reach it or to write.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            RepoError::Damaged(_) | RepoError::DataUnavailable { .. } | RepoError::Storage(StorageError::NotFound(_) | StorageError::OutOfRange { .. })
        )
    }
}

impl Classify for RepoError {
    fn kind(&self) -> Kind {
        match self {
            RepoError::NoRepository(_) | RepoError::SnapshotNotFound(_) | RepoError::WalNotFound(_) => Kind::NotFound,
            RepoError::AlreadyExists(_) | RepoError::Cancelled | RepoError::LockHeld(_) | RepoError::LockLost(_) | RepoError::WalConflict(_) | RepoError::ObjectLocked { .. } => {
                Kind::Conflict
            }
            // Not the caller's credentials: where a person gave the key (attaching a
            // repository) that operation says so; elsewhere the stored key no longer opens.
            RepoError::WrongSecret | RepoError::NoKeyOpened(_) => Kind::Conflict,
            RepoError::Invalid(_) | RepoError::UnsupportedVersion(_) => Kind::Invalid,
            // A repository object missing or cut short is damage, not a 404 of the request.
            e if e.is_damage() => Kind::Damaged,
            RepoError::Storage(e) => e.kind(),
            // The source and the restore target are the administrator's settings (as
            // `SourceError`): theirs to fix.
            RepoError::Source(_) | RepoError::Target(_) => Kind::Invalid,
            RepoError::Damaged(_) | RepoError::DataUnavailable { .. } => Kind::Damaged,
        }
    }
}

impl From<KeyError> for RepoError {
    fn from(e: KeyError) -> RepoError {
        match e {
            KeyError::WrongSecret | KeyError::KindMismatch => RepoError::WrongSecret,
            KeyError::Damaged(d) => RepoError::Damaged(d),
        }
    }
}

/// `config`: plaintext, readable before any key, so a reader knows the format first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoConfig {
    pub version: u32,
    pub id: String,
    pub created: String,
    pub chunk_min: u32,
    pub chunk_avg: u32,
    pub chunk_max: u32,
}

impl RepoConfig {
    /// The config is not authenticated: refuse chunk sizes this code does not write.
    fn check_chunk_sizes(&self) -> Result<(), RepoError> {
        let (min, avg, max) = (self.chunk_min, self.chunk_avg, self.chunk_max);
        let in_range = [min, avg, max].iter().all(|s| format::CHUNK_SIZE_RANGE.contains(s) && s % 2 == 0);
        if in_range && min <= avg && avg <= max {
            Ok(())
        } else {
            Err(RepoError::Damaged(format!("config: chunk sizes {min}/{avg}/{max} are not supported")))
        }
    }
}

/// How new data is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionSetting {
    pub algorithm: Compression,
    /// zstd level (1–19, default [`DEFAULT_ZSTD_LEVEL`]); ignored otherwise.
    pub level: i32,
}

/// The zstd level new data gets unless told otherwise: 1, zstd's fastest regular level. On
/// the bench's 1 GiB set (bench/run.sh, read from the page cache) it backs up in 4.99 s
/// against 5.69 s at level 3 (8.6 against 10.0 CPU-s) for a repository 1.3% larger, still a
/// fifth smaller than restic's. Level 3 (zstd's, borg's and pgBackRest's default) is a
/// `--level` or a configuration away. (An earlier bench showed no gain: its tools read a
/// data set this VM had paged out in between.)
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

impl Default for CompressionSetting {
    fn default() -> Self {
        CompressionSetting { algorithm: Compression::Zstd, level: DEFAULT_ZSTD_LEVEL }
    }
}

/// Printed once at `init`: what is needed to get the data back without this server.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryKit {
    pub repository_id: String,
    pub location: String,
    pub key_id: String,
    pub key_kind: String,
    pub instructions: String,
}

/// A manifest under `snapshots/` that cannot be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableSnapshot {
    pub id: String,
    pub problem: String,
}

/// An open repository: its location, config and keys.
#[derive(Clone)]
pub struct Repository {
    storage: Arc<dyn Storage>,
    config: RepoConfig,
    master: Key,
    keyring: Arc<Keyring>,
    compression: CompressionSetting,
    /// Seconds a lock lives without a refresh.
    lock_ttl: i64,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Repository({} at {})", self.config.id, self.storage.describe())
    }
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "unknown".into())
}

pub(crate) fn random_id() -> String {
    hex::encode(Key::random().0)
}

/// See [`Repository::stats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoStats {
    pub snapshots: u64,
    pub packs: u64,
    pub blobs: u64,
    pub pack_bytes: u64,
    pub index_memory_bytes: u64,
    pub index_bytes_per_blob: u64,
}

impl Repository {
    /// Creates a repository in an empty location and returns it open with its recovery kit.
    pub async fn init(storage: Arc<dyn Storage>, secret: &Secret) -> Result<(Repository, RecoveryKit), RepoError> {
        if storage.size(format::CONFIG_KEY).await?.is_some() {
            return Err(RepoError::AlreadyExists(storage.describe()));
        }
        storage.check_retention().await?;
        let config = RepoConfig {
            version: format::REPO_VERSION,
            id: random_id(),
            created: crate::platform::time::now_text(),
            chunk_min: format::CHUNK_MIN,
            chunk_avg: format::CHUNK_AVG,
            chunk_max: format::CHUNK_MAX,
        };
        let master = Key::random();
        let keyring = Keyring::generate();
        let key_file = KeyFile::create(&master, secret, &hostname())?;
        // Keys first, config last: a location with a config is a complete repository.
        storage.put_retained(&format!("{}{}", format::KEYS_PREFIX, key_file.id), to_json(&key_file)).await?;
        storage.put_retained(format::KEYRING_KEY, keyring.seal(&master)).await?;
        storage.put_retained(format::CONFIG_KEY, to_json(&config)).await?;
        let kit = RecoveryKit {
            repository_id: config.id.clone(),
            location: storage.describe(),
            key_id: key_file.id.clone(),
            key_kind: match secret {
                Secret::Passphrase(_) => "passphrase".into(),
                Secret::KeyFile(_) => "key file".into(),
            },
            instructions: "Keep the passphrase or key file apart from the backups. With it and this location, \
                           `bulwark restore` recovers every snapshot without the Bulwark server or its catalog."
                .into(),
        };
        let repo = Repository { storage, config, master, keyring: Arc::new(keyring), compression: CompressionSetting::default(), lock_ttl: lock::DEFAULT_TTL_SECONDS };
        Ok((repo, kit))
    }

    /// Opens an existing repository with any of its keys.
    pub async fn open(storage: Arc<dyn Storage>, secret: &Secret) -> Result<Repository, RepoError> {
        let config_bytes = match storage.get(format::CONFIG_KEY).await {
            Ok(b) => b,
            Err(StorageError::NotFound(_)) => return Err(RepoError::NoRepository(storage.describe())),
            Err(e) => return Err(e.into()),
        };
        let config: RepoConfig =
            serde_json::from_slice(&config_bytes).map_err(|e| RepoError::Damaged(format!("config: {e}")))?;
        if !(format::REPO_VERSION_OLDEST..=format::REPO_VERSION).contains(&config.version) {
            return Err(RepoError::UnsupportedVersion(config.version));
        }
        config.check_chunk_sizes()?;
        let keyring_bytes = storage.get(format::KEYRING_KEY).await?;
        let (master, keyring) = Self::unlock(storage.as_ref(), secret, &keyring_bytes).await?;
        Ok(Repository { storage, config, master, keyring: Arc::new(keyring), compression: CompressionSetting::default(), lock_ttl: lock::DEFAULT_TTL_SECONDS })
    }

    /// Tries every key file; the first whose master key opens the keyring wins (a stray key
    /// file, e.g. from an interrupted `init`, cannot shadow the real one).
    async fn unlock(storage: &dyn Storage, secret: &Secret, keyring: &[u8]) -> Result<(Key, Keyring), RepoError> {
        let mut damaged = None;
        // Key files of the secret's kind that did not authenticate with it.
        let mut refused = Vec::new();
        for object in storage.list(format::KEYS_PREFIX).await? {
            let bytes = storage.get(&object.key).await?;
            let key_file: KeyFile = match serde_json::from_slice(&bytes) {
                Ok(k) => k,
                Err(e) => {
                    damaged = Some(format!("{}: {e}", object.key));
                    continue;
                }
            };
            match key_file.unwrap(secret) {
                Ok(master) => match Keyring::open(keyring, &master) {
                    Ok(ring) => return Ok((master, ring)),
                    Err(e) => damaged = Some(format!("{}: its master key does not open the keyring ({e})", object.key)),
                },
                Err(KeyError::Damaged(d)) => damaged = Some(format!("{}: {d}", object.key)),
                Err(KeyError::WrongSecret) => refused.push(format!("{} (made {} on {})", object.key, key_file.created, key_file.hostname)),
                Err(_) => {}
            }
        }
        Err(match damaged {
            // Say so when a damaged key might have been the right one.
            Some(d) => RepoError::Damaged(format!("no key opened with this secret, and a key file is damaged ({d})")),
            None if refused.is_empty() => RepoError::WrongSecret,
            None => RepoError::NoKeyOpened(refused.join("; ")),
        })
    }

    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    pub fn with_compression(mut self, compression: CompressionSetting) -> Repository {
        self.compression = compression;
        self
    }

    /// Shortens lock lifetimes (tests of expiry and fencing).
    pub fn with_lock_ttl(mut self, seconds: i64) -> Repository {
        self.lock_ttl = seconds.max(1);
        self
    }

    pub fn compression(&self) -> CompressionSetting {
        self.compression
    }

    /// Adds a key file for another passphrase or key file; returns its id.
    pub async fn add_key(&self, secret: &Secret) -> Result<String, RepoError> {
        let key_file = KeyFile::create(&self.master, secret, &hostname())?;
        self.storage.put_retained(&format!("{}{}", format::KEYS_PREFIX, key_file.id), to_json(&key_file)).await?;
        Ok(key_file.id)
    }

    /// Adds a data key and makes it current: new objects are sealed with it, old ones stay
    /// readable with theirs. Returns the new key's id.
    /// Under the exclusive lock, and from the keyring as stored now: two clients rotating at
    /// once get two keys, never the same id for different keys.
    pub async fn rotate_data_key(&mut self) -> Result<u32, RepoError> {
        let lock = self.lock(true).await?;
        let stored = self.storage.get(format::KEYRING_KEY).await?;
        let mut keyring = Keyring::open(&stored, &self.master)?;
        let id = keyring.rotate_data_key();
        lock.ensure_held().await?;
        self.storage.put_retained(format::KEYRING_KEY, keyring.seal(&self.master)).await?;
        self.keyring = Arc::new(keyring);
        lock.release().await?;
        Ok(id)
    }

    pub async fn list_keys(&self) -> Result<Vec<KeyFile>, RepoError> {
        let mut out = Vec::new();
        for object in self.storage.list(format::KEYS_PREFIX).await? {
            let bytes = self.storage.get(&object.key).await?;
            out.push(serde_json::from_slice(&bytes).map_err(|e| RepoError::Damaged(format!("{}: {e}", object.key)))?);
        }
        out.sort_by(|a: &KeyFile, b| a.created.cmp(&b.created));
        Ok(out)
    }

    /// The chunk id of `data`.
    pub fn chunk_id(&self, data: &[u8]) -> ChunkId {
        self.id_hasher().id(data)
    }

    /// How this repository's version turns chunk plaintext into ids.
    pub(crate) fn id_hasher(&self) -> IdHasher {
        IdHasher::new(self.config.version, &self.keyring.id_key.0)
    }

    /// How a tree restore checks what it writes: each chunk against its id where ids are
    /// cheap to compute (keyed BLAKE3), else each whole file against its SHA-256 (one SHA-256
    /// pass either way in a version-1 repository, whose ids are HMAC-SHA256).
    pub(in crate::engine::repo) fn tree_restore_check(&self) -> read::Check {
        if self.config.version >= 2 { read::Check::ChunkIds } else { read::Check::FileHashes }
    }

    /// Seals a metadata object under the current data key.
    pub(crate) fn seal_object(&self, object_type: ObjectType, id: &str, plain: &[u8]) -> Result<Vec<u8>, RepoError> {
        let packed = crypto::compress(plain, Compression::Zstd, 3).map_err(|e| RepoError::Damaged(e.to_string()))?;
        let (key_id, key) = self.keyring.current_key();
        Ok(crypto::seal(key, key_id, object_type, Compression::Zstd, id.as_bytes(), &packed))
    }

    pub(crate) fn open_object(&self, object_type: ObjectType, id: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (header, packed) = crypto::open(sealed, object_type, id.as_bytes(), |k| self.keyring.key(k))?;
        crypto::decompress(&packed, header.compression, 256 << 20)
    }

    /// Every pack in storage (indexed or not), by id, with its size.
    pub(crate) async fn stored_packs(&self) -> Result<std::collections::HashMap<String, u64>, RepoError> {
        Ok(self
            .storage
            .list(format::PACKS_PREFIX)
            .await?
            .into_iter()
            .filter_map(|o| o.key.rsplit('/').next().map(|id| (id.to_string(), o.size)))
            .collect())
    }

    /// What the repository holds, and what its index costs in memory.
    pub async fn stats(&self) -> Result<RepoStats, RepoError> {
        let index = self.load_index().await?;
        let index_memory_bytes = index.memory_bytes() as u64;
        Ok(RepoStats {
            snapshots: self.snapshots().await?.len() as u64,
            packs: index.packs.len() as u64,
            blobs: index.len() as u64,
            pack_bytes: index.packs.iter().map(|(_, size)| size).sum(),
            index_memory_bytes,
            index_bytes_per_blob: index_memory_bytes.checked_div(index.len() as u64).unwrap_or(0),
        })
    }

    /// Loads every index file.
    pub async fn load_index(&self) -> Result<Index, RepoError> {
        let (index, damaged) = self.load_index_past_damage().await?;
        for problem in &damaged {
            tracing::warn!(%problem, "read past an unreadable index file with the packs' own headers; `bulwark repo repair index` rebuilds it");
        }
        Ok(index)
    }

    /// Every blob of the repository, reading past damage: an index file that cannot be read is
    /// skipped, and the packs no readable index file lists are read from their own headers
    /// instead (an index is derived data; one damaged file must not stop every restore). Returns
    /// the index and one sentence per unreadable index file or pack header.
    pub async fn load_index_past_damage(&self) -> Result<(Index, Vec<String>), RepoError> {
        let mut builder = index::IndexBuilder::with_marks(damage::load(self).await?);
        let mut damaged = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for object in self.storage.list(format::INDEX_PREFIX).await? {
            match self.load_index_file(&object.key).await {
                Ok(packs) => packs.iter().for_each(|p| {
                    listed.insert(p.id.to_string());
                    builder.add_pack(p);
                }),
                Err(RepoError::Damaged(why)) => damaged.push(format!("index file {why}")),
                Err(e) => return Err(e),
            }
        }
        if !damaged.is_empty() {
            let unlisted = self.stored_packs().await?.into_iter().filter(|(name, _)| !listed.contains(name)).collect();
            for (_, header) in repair::read_pack_headers(self, unlisted).await {
                match header {
                    Ok(pack) => builder.add_pack(&pack),
                    Err(RepoError::Damaged(why)) => damaged.push(why),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((builder.finish(), damaged))
    }

    /// Every index file, by key, with the packs it names; fails on the first that cannot be
    /// read (for prune, which must not take unlisted packs for garbage).
    pub(crate) async fn load_index_files(&self) -> Result<Vec<(String, Vec<index::IndexedPack>)>, RepoError> {
        let mut files = Vec::new();
        for object in self.storage.list(format::INDEX_PREFIX).await? {
            let packs = self.load_index_file(&object.key).await.map_err(|e| match e {
                RepoError::Damaged(why) => RepoError::Damaged(format!("index file {why}: run `bulwark repo repair index` first")),
                e => e,
            })?;
            files.push((object.key, packs));
        }
        Ok(files)
    }

    async fn load_index_file(&self, key: &str) -> Result<Vec<index::IndexedPack>, RepoError> {
        let id = key.trim_start_matches(format::INDEX_PREFIX);
        let sealed = self.storage.get(key).await?;
        let plain = self.open_object(ObjectType::Index, id, &sealed).map_err(|e| RepoError::Damaged(format!("{key}: {e}")))?;
        index::decode(&plain).map_err(|e| RepoError::Damaged(format!("{key}: {e}")))
    }

    /// Uploads a finished pack and returns its index entry.
    pub(crate) async fn store_pack(&self, pack: pack::FinishedPack) -> Result<index::IndexedPack, RepoError> {
        let size = pack.bytes.len() as u64;
        self.storage.put_retained(&format::pack_key(&pack.id.to_string()), pack.bytes).await?;
        Ok(index::IndexedPack { id: pack.id, size, entries: pack.entries })
    }

    pub(crate) async fn save_index(&self, packs: &[index::IndexedPack]) -> Result<(), RepoError> {
        // One index file per 4096 packs (64 GiB of data, ~12 MiB of index) keeps every file
        // far below the limit readers open metadata with.
        for group in packs.chunks(4096) {
            let id = random_id();
            let sealed = self.seal_object(ObjectType::Index, &id, &index::encode(group))?;
            self.storage.put_retained(&format!("{}{id}", format::INDEX_PREFIX), sealed).await?;
        }
        Ok(())
    }

    pub(crate) async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), RepoError> {
        let sealed = self.seal_object(ObjectType::Snapshot, &snapshot.id, &to_json(snapshot))?;
        self.storage.put_retained(&format!("{}{}", format::SNAPSHOTS_PREFIX, snapshot.id), sealed).await?;
        Ok(())
    }

    /// One snapshot, by full id or a unique prefix of at least 6 characters.
    pub async fn snapshot(&self, id: &str) -> Result<Snapshot, RepoError> {
        self.load_snapshot(&self.resolve_snapshot_id(id).await?).await
    }

    /// The full id of the one manifest whose id starts with `id` (6 characters at least), found
    /// from the listing alone: it works for a manifest that cannot be read too. `latest` names
    /// the newest readable snapshot, as in restic.
    pub async fn resolve_snapshot_id(&self, id: &str) -> Result<String, RepoError> {
        if id == "latest" {
            let newest = self.snapshots().await?.pop();
            return newest.map(|s| s.id).ok_or_else(|| RepoError::SnapshotNotFound("latest (the repository has no snapshot)".into()));
        }
        let ids = self.snapshot_ids().await?;
        let matching: Vec<&String> = ids.iter().filter(|s| s.starts_with(id)).collect();
        match matching.as_slice() {
            [one] if id.len() >= 6 || id.len() == one.len() => Ok(one.to_string()),
            [] => Err(RepoError::SnapshotNotFound(id.to_string())),
            [_] => Err(RepoError::Invalid(format!("give at least 6 characters of the snapshot id, not {id:?}"))),
            _ => Err(RepoError::Invalid(format!("{id:?} matches {} snapshots: give more of the id", matching.len()))),
        }
    }

    pub async fn snapshot_ids(&self) -> Result<Vec<String>, RepoError> {
        Ok(self
            .storage
            .list(format::SNAPSHOTS_PREFIX)
            .await?
            .into_iter()
            .map(|o| o.key.trim_start_matches(format::SNAPSHOTS_PREFIX).to_string())
            .collect())
    }

    pub async fn load_snapshot(&self, id: &str) -> Result<Snapshot, RepoError> {
        let sealed = match self.storage.get(&format!("{}{id}", format::SNAPSHOTS_PREFIX)).await {
            Err(StorageError::NotFound(_)) => return Err(RepoError::SnapshotNotFound(id.to_string())),
            other => other?,
        };
        let plain = self
            .open_object(ObjectType::Snapshot, id, &sealed)
            .map_err(|e| RepoError::Damaged(format!("snapshot {id}: {e}")))?;
        let snapshot: Snapshot = serde_json::from_slice(&plain).map_err(|e| RepoError::Damaged(format!("snapshot {id}: {e}")))?;
        if snapshot.version != format::SNAPSHOT_VERSION {
            return Err(RepoError::Invalid(format!("snapshot {id} has manifest version {}; this Bulwark reads version {}", snapshot.version, format::SNAPSHOT_VERSION)));
        }
        Ok(snapshot)
    }

    /// Every readable snapshot, oldest first. A manifest that cannot be read is skipped with a
    /// warning naming it: one damaged file must not hide every other snapshot (`check` reports it,
    /// [`Repository::snapshots_past_damage`] names it to the caller).
    pub async fn snapshots(&self) -> Result<Vec<Snapshot>, RepoError> {
        let (snapshots, unreadable) = self.snapshots_past_damage().await?;
        for u in &unreadable {
            tracing::warn!(snapshot = %u.id, problem = %u.problem, "skipped a manifest that cannot be read");
        }
        Ok(snapshots)
    }

    /// Every readable snapshot, oldest first, and every manifest that cannot be read (damaged,
    /// not a manifest, or of a version this Bulwark does not read).
    pub async fn snapshots_past_damage(&self) -> Result<(Vec<Snapshot>, Vec<UnreadableSnapshot>), RepoError> {
        let (mut out, mut unreadable) = (Vec::new(), Vec::new());
        for id in self.snapshot_ids().await? {
            match self.load_snapshot(&id).await {
                Ok(snapshot) => out.push(snapshot),
                // Forgotten between the listing and the read.
                Err(RepoError::SnapshotNotFound(_)) => {}
                Err(e @ (RepoError::Damaged(_) | RepoError::Invalid(_))) => unreadable.push(UnreadableSnapshot { id, problem: e.to_string() }),
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.time.cmp(&b.time));
        Ok((out, unreadable))
    }

    /// Reads, opens, decompresses and verifies one blob; a copy that does not open is marked
    /// damaged ([`damage`]).
    pub async fn load_blob(&self, index: &Index, id: &ChunkId) -> Result<Vec<u8>, RepoError> {
        let (pack, loc) = index.get(id).ok_or_else(|| RepoError::Damaged(format!("blob {id} is not in the index")))?;
        let sealed = self.storage.get_range(&format::pack_key(&pack.to_string()), loc.offset as u64, loc.length as u64).await?;
        let opened = self.open_blob(&sealed, loc.object_type, id, loc.raw_length);
        if let Err(RepoError::Damaged(why)) = &opened {
            damage::mark(self, pack, Some(id), why).await;
        }
        opened
    }

    /// Opens a sealed blob and checks that its content really has id `id`.
    pub fn open_blob(&self, sealed: &[u8], object_type: ObjectType, id: &ChunkId, raw_length: u32) -> Result<Vec<u8>, RepoError> {
        let mut plain = Vec::new();
        self.open_blob_into(&mut crypto::Unsealer::default(), sealed, object_type, id, raw_length, &mut plain)?;
        Ok(plain)
    }

    /// As [`Repository::open_blob`], appending the content to `out` (left as it was on error).
    pub fn open_blob_into(&self, unsealer: &mut crypto::Unsealer, sealed: &[u8], object_type: ObjectType, id: &ChunkId, raw_length: u32, out: &mut Vec<u8>) -> Result<(), RepoError> {
        let start = out.len();
        self.unseal_blob_into(unsealer, sealed, object_type, id, raw_length, out)?;
        if self.chunk_id(&out[start..]) != *id {
            out.truncate(start);
            return Err(RepoError::Damaged(format!("blob {id}: content does not match its id")));
        }
        Ok(())
    }

    /// Decrypts and decompresses a sealed blob onto `out` (left as it was on error) without
    /// recomputing its id from its bytes, for a caller that checks them otherwise: a restored
    /// file against its SHA-256. The id is still bound in as associated data, so only a
    /// holder of the data key could have sealed other bytes under it.
    pub fn unseal_blob_into(&self, unsealer: &mut crypto::Unsealer, sealed: &[u8], object_type: ObjectType, id: &ChunkId, raw_length: u32, out: &mut Vec<u8>) -> Result<(), RepoError> {
        let damaged = |e: String| RepoError::Damaged(format!("blob {id}: {e}"));
        let start = out.len();
        unsealer.open_into(sealed, object_type, &id.0, |k| self.keyring.key(k), raw_length as usize, out).map_err(|e| damaged(e.to_string()))?;
        if out.len() - start != raw_length as usize {
            out.truncate(start);
            return Err(damaged(format!("{} bytes opened, {raw_length} recorded", out.len() - start)));
        }
        Ok(())
    }
}

/// Chunk ids (§6 of docs/FORMAT.md): keyed BLAKE3 in format version 2 (3.7 times as fast as
/// HMAC-SHA256 on 256 KiB chunks here, where the id was the dearest check of a restore and a
/// fifth of a backup's CPU), HMAC-SHA256 in version 1. Both are keyed with the id key.
#[derive(Clone)]
pub(crate) enum IdHasher {
    Blake3(blake3::Hasher),
    HmacSha256(hmac::Hmac<Sha256>),
}

impl IdHasher {
    fn new(version: u32, key: &[u8; 32]) -> IdHasher {
        if version >= 2 {
            IdHasher::Blake3(blake3::Hasher::new_keyed(key))
        } else {
            // A 32-byte key is always accepted by HMAC.
            IdHasher::HmacSha256(<hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!()))
        }
    }

    pub(crate) fn id(&self, data: &[u8]) -> ChunkId {
        match self {
            IdHasher::Blake3(keyed) => {
                let mut h = keyed.clone();
                h.update(data);
                ChunkId(*h.finalize().as_bytes())
            }
            IdHasher::HmacSha256(mac) => {
                let mut m = mac.clone();
                m.update(data);
                ChunkId(m.finalize().into_bytes().into())
            }
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Our own plain structs always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}
