//! The restoration workflow (issue 19): every restore a person or a runbook asks for is a
//! restoration job. It names where it goes (a named target of an environment, or the place an
//! older restore door's request names), waits for approvers where the environment's policy says
//! so, and runs on the worker pool in its requester's name. How a restore writes is each
//! source's (`crate::sources`, through the one door `crate::sources::restore`); this module
//! decides where and whether, and keeps the record.
//!
//! - `targets`: named restore targets per environment, their sealed secrets and a connection
//!   test that really connects.
//! - `policy`: per environment, whether restores need approval, by how many people, with a
//!   second-factor code or not, for how long a request stays valid, whether break-glass is
//!   allowed, how long a restore can be rolled back.
//! - `request`: a request checked and resolved into the request its source's kind takes, the
//!   environment it writes into, and the hash an approval is bound to.
//! - `jobs`: the `restoration_jobs` rows: request, run, cancel, status, history; a recovery
//!   run's restores carry the run's approval (`request_for_run`).
//! - `approvals`: approve and reject, four eyes that cannot be bypassed.
//! - `conflicts`: what a target already holds, found before anything is written, and the
//!   alternatives offered.
//! - `safety`: the safety snapshot of what a restore writes over, and the rollback that puts
//!   it back (on request until the deadline, at once when a restore fails part-way).
//! - `created`: what a restore into a named target creates (a database, directory, prefix or
//!   data directory that was not there), and removing exactly that again (a drill's cleanup).
//! - `available`: the backups a restoration can start from.
//! - `reconcile`: restorations whose job ended without recording them, given that end.

pub mod approvals;
pub mod available;
pub mod conflicts;
pub mod created;
pub mod jobs;
pub mod policy;
pub mod reconcile;
mod request;
pub mod safety;
pub mod targets;
pub mod waiting;

pub use bulwark_types::{
    Alternative, ApprovalPolicy, ConflictResolution, ApprovalRule, AvailableBackup, Environment, Restoration, RestorationInitiated, RestorationProgress, RestorationRequest, RestorationScope,
    RestorationStatus, RestorationType, RollbackRequest, TargetType,
};

use crate::configurations::ConfigurationError;
use crate::error::{Classify, Kind};
use crate::executions::ExecutionError;
use crate::platform::audit::AuditError;
use crate::platform::auth::AuthError;
use crate::platform::catalog::CatalogError;
use crate::platform::jobs::JobError;
use crate::platform::secrets::SecretError;
use crate::restores::RestoreError;
use targets::TargetError;

#[derive(Debug, thiserror::Error)]
pub enum RestorationError {
    #[error("{0}")]
    Invalid(String),
    #[error("restoration {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// A restore that ran and failed, as its job recorded it.
    #[error("{message}")]
    Failed { kind: Kind, message: String },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Retention(#[from] crate::retention::RetentionError),
}

impl From<sqlx::Error> for RestorationError {
    fn from(e: sqlx::Error) -> Self {
        RestorationError::Catalog(CatalogError::Query(e))
    }
}

impl From<AuditError> for RestorationError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Catalog(c) => RestorationError::Catalog(c),
            AuditError::Forbidden(a) => RestorationError::Auth(a),
        }
    }
}

impl Classify for RestorationError {
    fn kind(&self) -> Kind {
        match self {
            RestorationError::Invalid(_) => Kind::Invalid,
            RestorationError::NotFound(_) => Kind::NotFound,
            RestorationError::Conflict(_) => Kind::Conflict,
            RestorationError::Forbidden(_) => Kind::Forbidden,
            RestorationError::Failed { kind, .. } => *kind,
            RestorationError::Auth(e) => e.kind(),
            RestorationError::Catalog(e) => e.kind(),
            RestorationError::Restore(e) => e.kind(),
            RestorationError::Target(e) => e.kind(),
            RestorationError::Execution(e) => e.kind(),
            RestorationError::Configuration(e) => e.kind(),
            RestorationError::Secret(e) => e.kind(),
            RestorationError::Job(e) => e.kind(),
            RestorationError::Retention(e) => e.kind(),
        }
    }
}
