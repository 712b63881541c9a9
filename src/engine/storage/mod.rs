//! Where repository objects live: a small key/value contract that every backend meets.
//!
//! Contract (every backend, checked by the shared conformance tests):
//! - `put` is atomic: a reader sees the whole object or none of it, never a prefix.
//! - `put` of an existing key replaces it (repository code only rewrites mutable objects:
//!   keys, keyring, locks); content-addressed objects are never rewritten with other bytes.
//! - `get` of a missing key is [`StorageError::NotFound`], a distinct, permanent error.
//! - `list(prefix)` returns every object whose key starts with `prefix`, with its size, in no
//!   particular order; an object whose `put` returned is listed.
//! - `delete` of a missing key succeeds (deletes are idempotent).
//! - Keys are `/`-separated relative paths of `[A-Za-z0-9._-]` segments.

pub(crate) mod direct;
pub mod local;
pub mod metered;
pub mod s3;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::{Classify, Kind};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} does not exist in the storage location")]
    NotFound(String),
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    #[error("reading {range} of {key} went past its end ({size} bytes)")]
    OutOfRange { key: String, range: String, size: u64 },
    #[error("the storage service refused or failed on {key}: {message}")]
    Remote { key: String, message: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("storage I/O failed on {key}: {source}")]
    Io {
        key: String,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for StorageError {
    fn kind(&self) -> Kind {
        match self {
            StorageError::NotFound(_) => Kind::NotFound,
            StorageError::InvalidKey(_) | StorageError::OutOfRange { .. } | StorageError::Unsupported(_) => Kind::Invalid,
            StorageError::Io { .. } | StorageError::Remote { .. } => Kind::Unavailable,
        }
    }
}

/// An object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// Reads ranges of objects into a reused buffer; see [`Storage::range_reader`].
pub trait RangeReader: Send {
    /// `length` bytes from `offset` of `key` into `buf` (replacing what it held); fails with
    /// `OutOfRange` past the end.
    fn read_into(&mut self, key: &str, offset: u64, length: u64, buf: &mut Vec<u8>) -> Result<(), StorageError>;
}

/// The range reader of a storage without one of its own: `get_range` on the runtime.
struct AsyncRangeReader<'a, S: ?Sized> {
    storage: &'a S,
    handle: &'a tokio::runtime::Handle,
}

impl<S: Storage + ?Sized> RangeReader for AsyncRangeReader<'_, S> {
    fn read_into(&mut self, key: &str, offset: u64, length: u64, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        *buf = self.handle.block_on(self.storage.get_range(key, offset, length))?;
        Ok(())
    }
}

#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// A short human description ("local /srv/backups", "s3://bucket/prefix").
    fn describe(&self) -> String;
    /// Takes the bytes by value: a 16 MiB pack is handed over, not copied.
    async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StorageError>;
    /// Stores an object the repository depends on (packs, indexes, manifests, keys) so that
    /// the storage itself refuses to delete it for the location's retention period, where the
    /// location asks for that (S3 Object Lock). Elsewhere the same as `put`.
    async fn put_retained(&self, key: &str, data: Vec<u8>) -> Result<(), StorageError> {
        self.put(key, data).await
    }
    /// Fails with [`StorageError::Unsupported`] when the location asks for retention the
    /// storage cannot enforce (a bucket without Object Lock).
    async fn check_retention(&self) -> Result<(), StorageError> {
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError>;
    /// `length` bytes from `offset`; fails with `OutOfRange` past the end.
    async fn get_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>, StorageError>;
    /// Several ranges at once, each with its own outcome (a tree's listings, a level at a
    /// time): concurrent requests here, one hop to the blocking pool on a local disk.
    async fn get_ranges(&self, ranges: &[(String, u64, u64)]) -> Vec<Result<Vec<u8>, StorageError>> {
        use futures_util::StreamExt;
        let fetch = |(key, offset, length): (String, u64, u64)| async move { self.get_range(&key, offset, length).await };
        futures_util::stream::iter(ranges.to_vec()).map(fetch).buffered(16).collect().await
    }
    /// A reader of ranges for a caller that is already on a thread allowed to block (a
    /// restore's workers), running async work on `handle`. The local backend reads in place
    /// into the caller's reused buffer and keeps the last few objects open: a hop to the
    /// runtime's blocking pool per read cost a restore of many small files a tenth of its time
    /// in thread wake-ups, an open, stat and close per range as much again.
    fn range_reader<'a>(&'a self, handle: &'a tokio::runtime::Handle) -> Box<dyn RangeReader + 'a> {
        Box::new(AsyncRangeReader { storage: self, handle })
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError>;
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// The size of `key`, or `None` if it does not exist.
    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError>;
    /// How long `put_retained` locks an object; `None` where the storage locks nothing.
    fn lock_period(&self) -> Option<Duration> {
        None
    }
    /// Until when the storage refuses to delete `key`, if it does (S3 Object Lock). A past
    /// date means the lock has expired.
    async fn locked_until(&self, _key: &str) -> Result<Option<SystemTime>, StorageError> {
        Ok(None)
    }
    /// Keeps `key` undeletable until at least `until` (a later lock stays as it is). Does
    /// nothing where the storage locks nothing.
    async fn extend_lock(&self, _key: &str, _until: SystemTime) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Checks a key against the contract's alphabet, so no key can climb out of a location.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let ok = !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty() && seg != "." && seg != ".." && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if ok { Ok(()) } else { Err(StorageError::InvalidKey(key.to_string())) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_cannot_escape() {
        for bad in ["", "/etc/passwd", "a//b", "../x", "a/../b", "a/./b", "a b", "a\\b"] {
            assert!(super::validate_key(bad).is_err(), "{bad}");
        }
        for good in ["config", "packs/ab/abcdef", "keys/1.json"] {
            assert!(super::validate_key(good).is_ok(), "{good}");
        }
    }
}
