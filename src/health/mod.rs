//! Whether protection holds: each configuration's RPO and RTO compliance, evaluated each minute
//! into rpo_breach / rto_breach alerts that resolve themselves (`compliance`), each storage
//! location probed for reachability into location_unreachable (`locations`), the seeds'
//! health metrics and trends over a time range (`metrics`) and the backup dashboard
//! (`dashboard`).

pub mod compliance;
pub mod dashboard;
mod days;
pub mod locations;
pub mod metrics;
pub mod scrape;

use crate::error::{Classify, Kind};
use crate::platform::auth::AuthError;
use crate::platform::catalog::CatalogError;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Location(#[from] crate::locations::LocationError),
    #[error(transparent)]
    Configuration(#[from] crate::configurations::ConfigurationError),
    #[error(transparent)]
    Execution(#[from] crate::executions::ExecutionError),
    #[error(transparent)]
    Alert(#[from] crate::alerts::AlertError),
    #[error(transparent)]
    Monitoring(#[from] crate::monitoring::MonitoringError),
}

impl From<sqlx::Error> for HealthError {
    fn from(e: sqlx::Error) -> Self {
        HealthError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for HealthError {
    fn kind(&self) -> Kind {
        match self {
            HealthError::Invalid(_) => Kind::Invalid,
            HealthError::Auth(e) => e.kind(),
            HealthError::Catalog(e) => e.kind(),
            HealthError::Location(e) => e.kind(),
            HealthError::Configuration(e) => e.kind(),
            HealthError::Execution(e) => e.kind(),
            HealthError::Alert(e) => e.kind(),
            HealthError::Monitoring(e) => e.kind(),
        }
    }
}
