//! Archived PostgreSQL WAL: one sealed object per file PostgreSQL archives (segments,
//! `.partial` segments, `.backup` labels, timeline `.history` files) at `wal/<name>`, for
//! `archive_command = 'bulwark repo wal-push %p'` and
//! `restore_command = 'bulwark repo wal-fetch %f %p'`.

use sha2::{Digest, Sha256};

use super::format::{ObjectType, WAL_PREFIX};
use super::{RepoError, Repository};
use crate::storage::StorageError;

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Stored,
    /// The same bytes were archived before: PostgreSQL may retry a push that succeeded.
    AlreadyArchived,
}

/// `000000010000000000000002`, with an optional `.partial` or `.<offset>.backup` suffix, or a
/// timeline's `00000002.history`.
pub fn is_wal_name(name: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    match name.split_once('.') {
        None => hex(name, 24),
        Some((segment, "partial")) => hex(segment, 24),
        Some((timeline, "history")) => hex(timeline, 8),
        Some((segment, rest)) => hex(segment, 24) && rest.strip_suffix(".backup").is_some_and(|offset| hex(offset, 8)),
    }
}

impl Repository {
    /// Archives one WAL file. Pushing the same bytes again is fine; different bytes under a
    /// name already archived are refused (a second cluster archiving into the same place).
    pub async fn wal_push(&self, name: &str, data: &[u8]) -> Result<Pushed, RepoError> {
        check_name(name)?;
        let key = format!("{WAL_PREFIX}{name}");
        match self.storage.get(&key).await {
            Ok(sealed) => {
                let stored = self.open_object(ObjectType::Wal, name, &sealed).map_err(|e| RepoError::Damaged(format!("{key}: {e}")))?;
                if Sha256::digest(&stored) == Sha256::digest(data) {
                    Ok(Pushed::AlreadyArchived)
                } else {
                    Err(RepoError::WalConflict(name.to_string()))
                }
            }
            Err(StorageError::NotFound(_)) => {
                let sealed = self.seal_object(ObjectType::Wal, name, data)?;
                self.storage.put_retained(&key, sealed).await?;
                Ok(Pushed::Stored)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The bytes of an archived WAL file, verified.
    pub async fn wal_fetch(&self, name: &str) -> Result<Vec<u8>, RepoError> {
        check_name(name)?;
        let key = format!("{WAL_PREFIX}{name}");
        let sealed = match self.storage.get(&key).await {
            Err(StorageError::NotFound(_)) => return Err(RepoError::WalNotFound(name.to_string())),
            other => other?,
        };
        self.open_object(ObjectType::Wal, name, &sealed).map_err(|e| RepoError::Damaged(format!("{key}: {e}")))
    }

    /// Names of the archived WAL files, sorted (segment order within a timeline).
    pub async fn wal_files(&self) -> Result<Vec<String>, RepoError> {
        let mut names: Vec<String> =
            self.storage.list(WAL_PREFIX).await?.into_iter().map(|o| o.key.trim_start_matches(WAL_PREFIX).to_string()).collect();
        names.sort();
        Ok(names)
    }
}

fn check_name(name: &str) -> Result<(), RepoError> {
    if is_wal_name(name) {
        Ok(())
    } else {
        Err(RepoError::Invalid(format!("{name:?} is not a WAL file name (e.g. 000000010000000000000002 or 00000002.history)")))
    }
}

#[cfg(test)]
mod tests {
    use super::is_wal_name;

    #[test]
    fn wal_names() {
        for good in ["000000010000000000000002", "000000010000000000000002.partial", "000000010000000000000002.00000028.backup", "00000002.history"] {
            assert!(is_wal_name(good), "{good}");
        }
        for bad in ["", "../etc/passwd", "00000001000000000000000", "000000010000000000000002.gz", "0000000a0000000000000002", "00000002.history.x"] {
            assert!(!is_wal_name(bad), "{bad}");
        }
    }
}
