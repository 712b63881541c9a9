//! A storage that counts what it is asked: requests, bytes written in and bytes read out, into
//! a process-wide [`Meter`] per key (a storage location's id) that its reader takes and resets
//! (the cost module persists each location's). Every call is one request (a batch of ranges
//! counts each range), as a cloud provider bills them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{ObjectInfo, RangeReader, Storage, StorageError};

/// What a storage was asked since the meter was last taken.
#[derive(Debug, Default)]
pub struct Meter {
    requests: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// A meter's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metered {
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Meter {
    fn count(&self, requests: u64, bytes_in: u64, bytes_out: u64) {
        self.requests.fetch_add(requests, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
    }

    /// The figures so far, leaving the meter at zero.
    pub fn take(&self) -> Metered {
        Metered { requests: self.requests.swap(0, Ordering::Relaxed), bytes_in: self.bytes_in.swap(0, Ordering::Relaxed), bytes_out: self.bytes_out.swap(0, Ordering::Relaxed) }
    }

    /// Puts back figures that could not be recorded, for the next take.
    pub fn give_back(&self, m: Metered) {
        self.count(m.requests, m.bytes_in, m.bytes_out);
    }
}

static METERS: LazyLock<Mutex<HashMap<String, Arc<Meter>>>> = LazyLock::new(Mutex::default);

/// The process-wide meter of `key`.
pub fn meter(key: &str) -> Arc<Meter> {
    let mut meters = METERS.lock().unwrap_or_else(|p| p.into_inner());
    meters.entry(key.to_string()).or_default().clone()
}

/// `storage`, counted on `key`'s meter.
pub fn wrap(key: &str, storage: Arc<dyn Storage>) -> Arc<dyn Storage> {
    Arc::new(MeteredStorage::new(storage, meter(key)))
}

/// `inner`, counted on `meter`.
#[derive(Debug)]
pub struct MeteredStorage {
    inner: Arc<dyn Storage>,
    meter: Arc<Meter>,
}

impl MeteredStorage {
    pub fn new(inner: Arc<dyn Storage>, meter: Arc<Meter>) -> MeteredStorage {
        MeteredStorage { inner, meter }
    }
}

fn read<T>(meter: &Meter, result: &Result<Vec<u8>, T>) {
    meter.count(1, 0, result.as_ref().map_or(0, |b| b.len() as u64));
}

#[async_trait]
impl Storage for MeteredStorage {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StorageError> {
        self.meter.count(1, data.len() as u64, 0);
        self.inner.put(key, data).await
    }

    async fn put_retained(&self, key: &str, data: Vec<u8>) -> Result<(), StorageError> {
        self.meter.count(1, data.len() as u64, 0);
        self.inner.put_retained(key, data).await
    }

    async fn check_retention(&self) -> Result<(), StorageError> {
        self.inner.check_retention().await
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let result = self.inner.get(key).await;
        read(&self.meter, &result);
        result
    }

    async fn get_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>, StorageError> {
        let result = self.inner.get_range(key, offset, length).await;
        read(&self.meter, &result);
        result
    }

    async fn get_ranges(&self, ranges: &[(String, u64, u64)]) -> Vec<Result<Vec<u8>, StorageError>> {
        let results = self.inner.get_ranges(ranges).await;
        for result in &results {
            read(&self.meter, result);
        }
        results
    }

    fn range_reader<'a>(&'a self, handle: &'a tokio::runtime::Handle) -> Box<dyn RangeReader + 'a> {
        Box::new(MeteredReader { inner: self.inner.range_reader(handle), meter: &self.meter })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        // A listing answers at most 1,000 objects a request (S3's page).
        let result = self.inner.list(prefix).await;
        let pages = result.as_ref().map_or(1, |all| (all.len() as u64).div_ceil(1000).max(1));
        self.meter.count(pages, 0, 0);
        result
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.meter.count(1, 0, 0);
        self.inner.delete(key).await
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        self.meter.count(1, 0, 0);
        self.inner.size(key).await
    }

    fn lock_period(&self) -> Option<Duration> {
        self.inner.lock_period()
    }

    async fn locked_until(&self, key: &str) -> Result<Option<SystemTime>, StorageError> {
        self.meter.count(1, 0, 0);
        self.inner.locked_until(key).await
    }

    async fn extend_lock(&self, key: &str, until: SystemTime) -> Result<(), StorageError> {
        self.meter.count(1, 0, 0);
        self.inner.extend_lock(key, until).await
    }
}

struct MeteredReader<'a> {
    inner: Box<dyn RangeReader + 'a>,
    meter: &'a Meter,
}

impl RangeReader for MeteredReader<'_> {
    fn read_into(&mut self, key: &str, offset: u64, length: u64, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        let result = self.inner.read_into(key, offset, length, buf);
        self.meter.count(1, 0, if result.is_ok() { buf.len() as u64 } else { 0 });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::storage::local::LocalStorage;

    #[tokio::test]
    async fn counts_requests_and_bytes_each_way() {
        let dir = std::env::temp_dir().join(format!("bulwark-metered-{}", uuid::Uuid::new_v4()));
        let meter = Arc::new(Meter::default());
        let storage = MeteredStorage::new(Arc::new(LocalStorage::new(dir.display().to_string())), meter.clone());
        storage.put("a/b", vec![1; 100]).await.unwrap();
        assert_eq!(storage.get("a/b").await.unwrap().len(), 100);
        assert_eq!(storage.get_range("a/b", 10, 20).await.unwrap().len(), 20);
        assert!(storage.get("a/missing").await.is_err());
        storage.list("a/").await.unwrap();
        storage.delete("a/b").await.unwrap();
        assert_eq!(meter.take(), Metered { requests: 6, bytes_in: 100, bytes_out: 120 });
        assert_eq!(meter.take(), Metered::default(), "taken: back at zero");
        let _ = std::fs::remove_dir_all(dir);
    }
}
