//! Magic values, format versions and fixed sizes of the repository format.
//!
//! DO NOT EDIT a value here without bumping the format version and adding a migration: every
//! repository ever written depends on them. docs/FORMAT.md has the same table.

/// Version of the repository layout and object encodings `init` writes: 2, whose chunk ids are
/// keyed BLAKE3 hashes (§6 of docs/FORMAT.md).
pub const REPO_VERSION: u32 = 2;
/// The oldest version this code reads and writes: 1, the same layout with HMAC-SHA256 chunk
/// ids. A repository keeps its version for life: its ids are what it deduplicates on.
pub const REPO_VERSION_OLDEST: u32 = 1;

/// Versions of the JSON documents inside key files, the keyring and snapshot manifests;
/// readers refuse any other.
pub const KEY_FILE_VERSION: u32 = 1;
pub const KEYRING_VERSION: u32 = 1;
pub const SNAPSHOT_VERSION: u32 = 2;

/// Chunk sizes a repository config may ask for: fastcdc's limits, and no chunks so small that
/// their sizes reveal much about the content.
pub const CHUNK_SIZE_RANGE: std::ops::RangeInclusive<u32> = 16 * 1024..=16 * 1024 * 1024;

/// First bytes of every encrypted object and blob ("Bulwark Object").
pub const ENVELOPE_MAGIC: [u8; 4] = *b"BWKO";
/// Version of the envelope header layout.
pub const ENVELOPE_VERSION: u8 = 1;
/// magic(4) version(1) type(1) key id(4) compression(1) nonce(12).
pub const ENVELOPE_HEADER_LEN: usize = 23;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

/// Binary layout version of pack headers and index files.
pub const PACK_HEADER_VERSION: u8 = 1;
pub const INDEX_VERSION: u8 = 1;
/// type(1) id(32) offset(4) length(4) raw length(4).
pub const PACK_ENTRY_LEN: usize = 45;

/// Object types, bound into every envelope's associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum ObjectType {
    DataBlob = 1,
    TreeBlob = 2,
    Index = 3,
    Snapshot = 4,
    Keyring = 5,
    Lock = 6,
    PackHeader = 7,
    /// The master key, wrapped by a key file's key-encryption key.
    MasterKey = 8,
    /// A secret the server keeps in its catalog (never stored in a repository).
    CatalogSecret = 9,
    /// An archived PostgreSQL WAL file (`wal/<name>`).
    Wal = 10,
}

impl ObjectType {
    pub fn from_u8(b: u8) -> Option<ObjectType> {
        Some(match b {
            1 => ObjectType::DataBlob,
            2 => ObjectType::TreeBlob,
            3 => ObjectType::Index,
            4 => ObjectType::Snapshot,
            5 => ObjectType::Keyring,
            6 => ObjectType::Lock,
            7 => ObjectType::PackHeader,
            8 => ObjectType::MasterKey,
            9 => ObjectType::CatalogSecret,
            10 => ObjectType::Wal,
            _ => return None,
        })
    }

    pub fn is_blob(self) -> bool {
        matches!(self, ObjectType::DataBlob | ObjectType::TreeBlob)
    }
}

/// How a payload was compressed before encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Compression {
    None = 0,
    Zstd = 1,
    Gzip = 2,
}

impl Compression {
    pub fn from_u8(b: u8) -> Option<Compression> {
        Some(match b {
            0 => Compression::None,
            1 => Compression::Zstd,
            2 => Compression::Gzip,
            _ => return None,
        })
    }
}

/// Object key prefixes in a storage location.
pub const CONFIG_KEY: &str = "config";
pub const KEYRING_KEY: &str = "keyring";
pub const KEYS_PREFIX: &str = "keys/";
pub const PACKS_PREFIX: &str = "packs/";
pub const INDEX_PREFIX: &str = "index/";
pub const SNAPSHOTS_PREFIX: &str = "snapshots/";
pub const LOCKS_PREFIX: &str = "locks/";
pub const WAL_PREFIX: &str = "wal/";
/// Marks on stored copies found damaged (`repo::damage`): hints, never replicated.
pub const DAMAGED_PREFIX: &str = "damaged/";
/// Anchors of the catalog's audit chain head (`crate::platform::audit::anchor`), not repository data.
pub const AUDIT_PREFIX: &str = "audit/";

/// Content-defined chunking defaults: 256 KiB average, between 64 KiB and 1 MiB.
pub const CHUNK_MIN: u32 = 64 * 1024;
pub const CHUNK_AVG: u32 = 256 * 1024;
pub const CHUNK_MAX: u32 = 1024 * 1024;
/// A pack is closed once it holds this many bytes.
pub const PACK_TARGET: usize = 16 * 1024 * 1024;

pub fn pack_key(id: &str) -> String {
    format!("{PACKS_PREFIX}{}/{id}", &id[..2])
}

#[cfg(test)]
mod spec {
    //! docs/FORMAT.md is what an independent reader is written from: its values must be these.

    const SPEC: &str = include_str!("../../../docs/FORMAT.md");

    /// The number in the `version` row of the first table after `heading`.
    fn version_under(heading: &str) -> u32 {
        let section = &SPEC[SPEC.find(heading).unwrap_or_else(|| panic!("no {heading:?} in FORMAT.md"))..];
        let row = section.lines().find(|l| l.starts_with("| `version` | number | ")).expect("a version row");
        row["| `version` | number | ".len()..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    }

    /// The value cell of the §3 row for `constant`, backticks removed.
    fn constant(constant: &str) -> String {
        let row = SPEC.lines().find(|l| l.starts_with(&format!("| `{constant}` |"))).unwrap_or_else(|| panic!("no row for {constant}"));
        row.split('|').nth(2).unwrap().trim().trim_matches('`').to_string()
    }

    #[test]
    fn the_spec_states_the_versions_the_code_writes() {
        assert_eq!(version_under("### 5.2 Key files"), super::KEY_FILE_VERSION);
        assert_eq!(version_under("### 5.3 Keyring"), super::KEYRING_VERSION);
        assert_eq!(version_under("## 9. Snapshots"), super::SNAPSHOT_VERSION);
        assert_eq!(constant("REPO_VERSION"), super::REPO_VERSION.to_string());
        assert_eq!(constant("REPO_VERSION_OLDEST"), super::REPO_VERSION_OLDEST.to_string());
        assert_eq!(constant("ENVELOPE_VERSION"), super::ENVELOPE_VERSION.to_string());
        assert_eq!(constant("ENVELOPE_HEADER_LEN"), super::ENVELOPE_HEADER_LEN.to_string());
        assert_eq!(constant("PACK_HEADER_VERSION"), super::PACK_HEADER_VERSION.to_string());
        assert_eq!(constant("INDEX_VERSION"), super::INDEX_VERSION.to_string());
        assert_eq!(constant("PACK_ENTRY_LEN"), super::PACK_ENTRY_LEN.to_string());
        assert!(constant("ENVELOPE_MAGIC").starts_with(&format!("\"{}\"", std::str::from_utf8(&super::ENVELOPE_MAGIC).unwrap())));
    }
}
