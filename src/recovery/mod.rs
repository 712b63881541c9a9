//! Disaster recovery: versioned plans a second person approves (`plans`, their documents in
//! `document`), the named secrets their steps use (`credentials`), runs of a plan
//! (`runs`: start, gates, cancel; `requests`: runs asked for and approved ahead, whose ids
//! are the procedure door's approval codes; `engine`: the runbook run as a graph on the worker pool, with
//! retries, backoff and rollback; `criteria`: a step's success criteria), the step types on
//! the real infrastructure they drive (`steps`), what runs leave behind for the ledger
//! (`ledger`: failover events, actual RTO and RPO), and drills (`drills`: runs in test mode
//! against the plan's scratch targets, scheduled or started by hand, each leaving a
//! `recovery_testing_results` row with its objectives, issues and recommendations).

pub use bulwark_types::{
    DrStatus, ExecuteRequest, FailoverEvent, NewRunRequest, PlanDecision, PlanDetail, PlanDocument, PlanProblem, PlanRequest, PlanSummary, RecoveryRun, RunRequest, RunRequestDecision,
    RunRequestStatus, RunStarted, RunStatus, StepRun, StepStatus,
};

pub mod backups;
pub mod credentials;
pub mod criteria;
pub mod document;
pub mod drills;
pub mod engine;
pub mod ledger;
pub mod plans;
pub mod requests;
pub mod runs;
pub mod status;
pub mod steps;
pub mod triggers;

use crate::error::{Classify, Kind};
use crate::platform::audit::AuditError;
use crate::platform::auth::AuthError;
use crate::platform::catalog::CatalogError;
use crate::platform::jobs::JobError;
use crate::platform::secrets::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("{0}")]
    Invalid(String),
    /// A plan document's problems, each naming its step and field.
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Document(Vec<bulwark_types::PlanProblem>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// A stored row this version cannot read.
    #[error("{0}")]
    Stored(String),
    #[error("a recovery credential cannot be opened: {0}")]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Health(#[from] crate::health::HealthError),
    /// The backup side's own operations, reached through the seeds' DR doors.
    #[error(transparent)]
    Execution(#[from] crate::executions::ExecutionError),
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    #[error(transparent)]
    Restoration(#[from] crate::restoration::RestorationError),
}

impl From<sqlx::Error> for RecoveryError {
    fn from(e: sqlx::Error) -> Self {
        RecoveryError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for RecoveryError {
    fn kind(&self) -> Kind {
        match self {
            RecoveryError::Invalid(_) | RecoveryError::Document(_) => Kind::Invalid,
            RecoveryError::NotFound(_) => Kind::NotFound,
            RecoveryError::Conflict(_) => Kind::Conflict,
            RecoveryError::Forbidden(_) => Kind::Forbidden,
            RecoveryError::Stored(_) | RecoveryError::Secret(_) => Kind::Internal,
            RecoveryError::Auth(e) => e.kind(),
            RecoveryError::Catalog(e) => e.kind(),
            RecoveryError::Audit(e) => e.kind(),
            RecoveryError::Job(e) => e.kind(),
            RecoveryError::Health(e) => e.kind(),
            RecoveryError::Execution(e) => e.kind(),
            RecoveryError::Verify(e) => e.kind(),
            RecoveryError::Restoration(e) => e.kind(),
        }
    }
}
