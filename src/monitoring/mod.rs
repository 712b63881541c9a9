//! Watching what the platform runs: monitored services (HTTP, TCP, PostgreSQL) probed at their
//! interval, each node's own figures, and samples outside agents push — all recorded in
//! `system_health_monitoring` and turned into alerts that resolve themselves.
//!
//! - `services`: the services (admins change them, audited; a PostgreSQL password sealed).
//! - `probes`: one probe per kind, giving a [`probes::Reading`].
//! - `prober`: the loop every node with workers runs: it claims the services due (a conditional
//!   update of `next_probe_at`, so one node probes each interval), probes them concurrently and
//!   records the readings; every minute it samples its own node (`node`).
//! - `verdicts`: a reading's alerts: service_unhealthy after the service's failures in a row,
//!   service_degraded, wal_archive_stalled; each resolved by a reading without its condition.
//! - `samples`: recording, reading back with the seeds' summary, and downsampling (raw for a
//!   day, minute buckets for a week, hour buckets for 90 days).

pub mod node;
pub mod prober;
pub mod probes;
pub mod samples;
pub mod services;
pub mod verdicts;

pub use bulwark_types::{HealthSample, HealthStatus, HealthSummary, MonitoredService, RecordSample, ServiceHealth, ServiceKind, ServiceRequest, ServiceSettings, ServicesHealth};

use crate::error::{Classify, Kind};
use crate::platform::auth::AuthError;
use crate::platform::catalog::CatalogError;

/// The scope of a token that may only record health samples
/// (`POST /api/disaster-recovery/health/record`).
pub const RECORD_SCOPE: &str = "health-record";

#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    #[error("{0}")]
    Invalid(String),
    #[error("monitored service {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A stored row this version cannot read.
    #[error("{0}")]
    Stored(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Secret(#[from] crate::platform::secrets::SecretError),
    #[error(transparent)]
    Audit(#[from] crate::platform::audit::AuditError),
    #[error(transparent)]
    Alert(#[from] crate::alerts::AlertError),
}

impl From<sqlx::Error> for MonitoringError {
    fn from(e: sqlx::Error) -> Self {
        MonitoringError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for MonitoringError {
    fn kind(&self) -> Kind {
        match self {
            MonitoringError::Invalid(_) => Kind::Invalid,
            MonitoringError::NotFound(_) => Kind::NotFound,
            MonitoringError::Conflict(_) => Kind::Conflict,
            MonitoringError::Stored(_) => Kind::Internal,
            MonitoringError::Auth(e) => e.kind(),
            MonitoringError::Catalog(e) => e.kind(),
            MonitoringError::Secret(e) => e.kind(),
            MonitoringError::Audit(e) => e.kind(),
            MonitoringError::Alert(e) => e.kind(),
        }
    }
}
