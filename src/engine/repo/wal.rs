//! Archived PostgreSQL WAL: one sealed object per file PostgreSQL archives (segments,
//! `.partial` segments, `.backup` labels, timeline `.history` files) at `wal/<name>`, or
//! `wal/<stanza>/<name>` when several clusters archive into one repository (the server uses
//! the configuration id), for `archive_command = 'bulwark repo wal-push %p'` and
//! `restore_command = 'bulwark repo wal-fetch %f %p'`.

use sha2::{Digest, Sha256};

use super::format::{ObjectType, WAL_PREFIX};
use super::{RepoError, Repository};
use crate::engine::storage::StorageError;

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
    pub async fn wal_push(&self, stanza: &str, name: &str, data: &[u8]) -> Result<Pushed, RepoError> {
        let id = wal_id(stanza, name)?;
        let key = format!("{WAL_PREFIX}{id}");
        match self.storage.get(&key).await {
            Ok(sealed) => {
                let stored = self.open_object(ObjectType::Wal, &id, &sealed).map_err(|e| RepoError::Damaged(format!("{key}: {e}")))?;
                if Sha256::digest(&stored) == Sha256::digest(data) {
                    Ok(Pushed::AlreadyArchived)
                } else {
                    Err(RepoError::WalConflict(name.to_string()))
                }
            }
            Err(StorageError::NotFound(_)) => {
                let sealed = self.seal_object(ObjectType::Wal, &id, data)?;
                self.storage.put_retained(&key, sealed).await?;
                Ok(Pushed::Stored)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The bytes of an archived WAL file, verified.
    pub async fn wal_fetch(&self, stanza: &str, name: &str) -> Result<Vec<u8>, RepoError> {
        let id = wal_id(stanza, name)?;
        let key = format!("{WAL_PREFIX}{id}");
        let sealed = match self.storage.get(&key).await {
            Err(StorageError::NotFound(_)) => return Err(RepoError::WalNotFound(name.to_string())),
            other => other?,
        };
        self.open_object(ObjectType::Wal, &id, &sealed).map_err(|e| RepoError::Damaged(format!("{key}: {e}")))
    }

    /// Names of the WAL files archived under `stanza`, sorted (segment order within a timeline).
    pub async fn wal_files(&self, stanza: &str) -> Result<Vec<String>, RepoError> {
        let prefix = format!("{WAL_PREFIX}{}", wal_id(stanza, "")?);
        let mut names: Vec<String> = self
            .storage
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|o| o.key.strip_prefix(&prefix).filter(|n| !n.contains('/')).map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }
}

/// The object id (and key below `wal/`) of `name` under `stanza`; with an empty `name`, the
/// stanza's prefix.
fn wal_id(stanza: &str, name: &str) -> Result<String, RepoError> {
    if !name.is_empty() && !is_wal_name(name) {
        return Err(RepoError::Invalid(format!("{name:?} is not a WAL file name (e.g. 000000010000000000000002 or 00000002.history)")));
    }
    if stanza.is_empty() {
        return Ok(name.to_string());
    }
    if stanza.len() > 64 || !stanza.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(RepoError::Invalid(format!("{stanza:?} is not a stanza name (letters, digits, - and _, at most 64)")));
    }
    Ok(format!("{stanza}/{name}"))
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
