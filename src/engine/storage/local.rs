//! A storage location on a local (or mounted) filesystem.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{ObjectInfo, RangeReader, Storage, StorageError, validate_key};

#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// A location rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> LocalStorage {
        LocalStorage { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

fn io(key: &str) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StorageError::NotFound(key.to_string())
        } else {
            StorageError::Io { key: key.to_string(), source }
        }
    }
}

/// Runs blocking file I/O off the async runtime.
use crate::platform::blocking::spawn as blocking;

fn put_file(path: &Path, key: &str, data: &[u8]) -> Result<(), StorageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Directories of a repository are its owner's alone, like its objects.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700).create(dir).map_err(io(key))?;
    // Write a temporary sibling, fsync, then rename over: readers never see a partial object.
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()));
    let result = super::direct::create_synced(&tmp, data).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io(key))
}

fn read_range(path: &Path, key: &str, offset: u64, length: u64, buf: &mut Vec<u8>) -> Result<(), StorageError> {
    let file = std::fs::File::open(path).map_err(io(key))?;
    let size = file.metadata().map_err(io(key))?.len();
    read_range_of(&file, size, key, offset, length, buf)
}

/// Reads from an open object of `size` bytes.
fn read_range_of(mut file: &std::fs::File, size: u64, key: &str, offset: u64, length: u64, buf: &mut Vec<u8>) -> Result<(), StorageError> {
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(StorageError::OutOfRange { key: key.to_string(), range: format!("{offset}+{length}"), size });
    }
    file.seek(SeekFrom::Start(offset)).map_err(io(key))?;
    // Read into spare capacity: zero-filling the buffer first would touch every byte twice.
    buf.clear();
    buf.reserve(length as usize);
    file.take(length).read_to_end(buf).map_err(io(key))?;
    if buf.len() as u64 != length {
        return Err(StorageError::OutOfRange { key: key.to_string(), range: format!("{offset}+{length}"), size });
    }
    Ok(())
}

/// Reads ranges in place, keeping the last few objects open (with their sizes): a restore
/// reads range after range of the same packs. It lives as long as one restore, so an object
/// deleted or replaced meanwhile is read as it was when first opened.
struct LocalRangeReader<'a> {
    storage: &'a LocalStorage,
    open: Vec<(String, std::fs::File, u64)>,
}

impl LocalRangeReader<'_> {
    const KEEP_OPEN: usize = 4;
}

impl RangeReader for LocalRangeReader<'_> {
    fn read_into(&mut self, key: &str, offset: u64, length: u64, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        let at = match self.open.iter().position(|(k, ..)| k == key) {
            Some(at) => at,
            None => {
                let file = std::fs::File::open(self.storage.path(key)?).map_err(io(key))?;
                let size = file.metadata().map_err(io(key))?.len();
                if self.open.len() == Self::KEEP_OPEN {
                    self.open.remove(0);
                }
                self.open.push((key.to_string(), file, size));
                self.open.len() - 1
            }
        };
        let (_, file, size) = &self.open[at];
        read_range_of(file, *size, key, offset, length, buf)
    }
}

fn list_dir(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(".tmp-") {
            continue;
        }
        let meta = entry.metadata()?;
        let path = entry.path();
        if meta.is_dir() {
            list_dir(root, &path, prefix, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let key = rel.to_string_lossy().replace('\\', "/");
            if key.starts_with(prefix) {
                out.push(ObjectInfo { key, size: meta.len() });
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Storage for LocalStorage {
    fn describe(&self) -> String {
        format!("local {}", self.root.display())
    }

    async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let key = key.to_string();
        blocking(move || put_file(&path, &key, &data)).await
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let path = self.path(key)?;
        let key = key.to_string();
        blocking(move || std::fs::read(&path).map_err(io(&key))).await
    }

    async fn get_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>, StorageError> {
        let path = self.path(key)?;
        let key = key.to_string();
        blocking(move || {
            let mut buf = Vec::new();
            read_range(&path, &key, offset, length, &mut buf).map(|()| buf)
        })
        .await
    }

    async fn get_ranges(&self, ranges: &[(String, u64, u64)]) -> Vec<Result<Vec<u8>, StorageError>> {
        let (storage, ranges) = (self.clone(), ranges.to_vec());
        blocking(move || {
            let mut reader = LocalRangeReader { storage: &storage, open: Vec::new() };
            ranges
                .iter()
                .map(|(key, offset, length)| {
                    let mut buf = Vec::new();
                    reader.read_into(key, *offset, *length, &mut buf).map(|()| buf)
                })
                .collect()
        })
        .await
    }

    fn range_reader<'a>(&'a self, _: &'a tokio::runtime::Handle) -> Box<dyn RangeReader + 'a> {
        Box::new(LocalRangeReader { storage: self, open: Vec::new() })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        blocking(move || {
            let mut out = Vec::new();
            // Start at the deepest directory the prefix names, not the whole tree.
            let dir = match prefix.rfind('/') {
                Some(i) => root.join(&prefix[..i]),
                None => root.clone(),
            };
            list_dir(&root, &dir, &prefix, &mut out).map_err(io(&prefix))?;
            Ok(out)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let key = key.to_string();
        blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&key)(e)),
            _ => Ok(()),
        })
        .await
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let path = self.path(key)?;
        let key = key.to_string();
        blocking(move || match std::fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&key)(e)),
        })
        .await
    }
}
