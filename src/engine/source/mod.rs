//! Where backups read from: the readers of each kind of source (a directory walk, pg_dump and
//! pg_basebackup, S3 listings, environment files). Each yields a directory tree, a listing or a
//! byte stream for the repository engine (`crate::engine::repo`), which never calls back here.
//! What a kind does end to end (back up, restore, test) is in `crate::sources`.

pub mod bucket;
pub mod env_file;
pub mod filesystem;
pub mod postgres;

pub use bulwark_types::SourceKind;

use crate::error::{Classify, Kind};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source cannot be reached, refused the credentials, or its tool failed; the
    /// message says which, in words a person can act on.
    #[error("{0}")]
    Unavailable(String),
}

impl Classify for SourceError {
    fn kind(&self) -> Kind {
        // A source is the administrator's setting: a failure is theirs to fix, not ours.
        match self {
            SourceError::Unavailable(_) => Kind::Invalid,
        }
    }
}
