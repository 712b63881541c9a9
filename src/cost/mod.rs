//! What storage costs: each location's prices (`prices`), the requests and bytes its storage
//! served (`usage`: counted by the storage layer, persisted per day), the daily cost rows per
//! location and configuration (`tracking`, deduplication-aware through `attribution`), and what
//! the console and the seeds' endpoints read from them (`analysis`, with `suggestions`).

pub mod analysis;
pub mod attribution;
pub mod prices;
pub mod suggestions;
pub mod tracking;
pub mod usage;

pub use bulwark_types::{CostAnalysis, CostRow, Prices, StorageUtilization, Suggestion, SuggestionAction};

use crate::error::{Classify, Kind};
use crate::platform::auth::AuthError;
use crate::platform::catalog::CatalogError;

/// Storage prices are per GB-month; a day is this share of a month.
pub const DAYS_PER_MONTH: f64 = 30.0;
/// A GB here is 10^9 bytes, as providers bill.
pub const GB: f64 = 1e9;

#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Location(#[from] crate::locations::LocationError),
    #[error(transparent)]
    Repo(#[from] crate::engine::repo::RepoError),
    #[error(transparent)]
    Storage(#[from] crate::engine::storage::StorageError),
    #[error(transparent)]
    Audit(#[from] crate::platform::audit::AuditError),
}

impl From<sqlx::Error> for CostError {
    fn from(e: sqlx::Error) -> Self {
        CostError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for CostError {
    fn kind(&self) -> Kind {
        match self {
            CostError::Invalid(_) => Kind::Invalid,
            CostError::Auth(e) => e.kind(),
            CostError::Catalog(e) => e.kind(),
            CostError::Location(e) => e.kind(),
            CostError::Repo(e) => e.kind(),
            CostError::Storage(e) => e.kind(),
            CostError::Audit(e) => e.kind(),
        }
    }
}
