//! Where backups read from. A source yields a directory tree or a byte stream for the
//! repository engine, plus the recovery metadata a restore needs.

pub mod bucket;
pub mod env_file;
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
