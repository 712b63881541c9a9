//! What every restore shares, whatever its source kind (`crate::sources` holds each kind's
//! own): the error, the report, the audit record, the check that an execution can be restored,
//! the allowed targets ([`Targets`]) and where a restore writes ([`Place`]). Restores a person
//! asks for are restoration jobs (`crate::restoration`), bounded by the worker pool.

mod place;
mod targets;

pub use place::{Destination, Place};
pub use targets::Targets;

use serde::Serialize;

use crate::engine::source::SourceKind;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{AuthError, Principal};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::configurations::{self, ConfigurationError};
use crate::error::{Classify, Kind};
use crate::executions::{self, ExecutionError};
use crate::locations::LocationError;
use crate::engine::repo::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// The target or pg_restore failed; nothing was committed.
    #[error("{0}")]
    Target(String),
    /// What the catalog keeps about the backup does not read.
    #[error("{0}")]
    Damaged(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Secret(#[from] crate::platform::secrets::SecretError),
}

impl From<sqlx::Error> for RestoreError {
    fn from(e: sqlx::Error) -> Self {
        RestoreError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for RestoreError {
    fn kind(&self) -> Kind {
        match self {
            RestoreError::Invalid(_) | RestoreError::Target(_) => Kind::Invalid,
            RestoreError::Conflict(_) => Kind::Conflict,
            RestoreError::Forbidden(_) => Kind::Forbidden,
            RestoreError::Damaged(_) => Kind::Damaged,
            RestoreError::Auth(e) => e.kind(),
            RestoreError::Catalog(e) => e.kind(),
            RestoreError::Configuration(e) => e.kind(),
            RestoreError::Execution(e) => e.kind(),
            RestoreError::Location(e) => e.kind(),
            RestoreError::Repo(e) => e.kind(),
            RestoreError::Secret(e) => e.kind(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub execution_id: String,
    pub target: String,
    /// The tables or paths restored; empty for everything.
    pub selection: Vec<String>,
    pub bytes: u64,
    /// Files written (directory restores).
    pub files: Option<u64>,
    /// Files already identical in the target, left alone (directory restores).
    pub unchanged: Option<u64>,
    /// The measured restore time.
    pub duration_seconds: f64,
    /// The storage location read: the backup's own, or a replica when that could not be read.
    pub storage_location_id: String,
    /// Files and directories left out because they could not be read (directory restores
    /// asked to skip them), one sentence each; the restore is whole when empty.
    pub unreadable: Vec<String>,
}

/// The location and snapshot of a completed execution of a `source_type` configuration.
pub(crate) async fn completed(catalog: &Catalog, actor: &Principal, execution_id: &str, source_type: SourceKind) -> Result<(String, String), RestoreError> {
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    if configuration.source_type != source_type {
        return Err(RestoreError::Invalid(format!("execution {execution_id} backed up a {}, not a {source_type} source", configuration.source_type)));
    }
    match (execution.storage_location_id, execution.snapshot_id) {
        (Some(location), Some(snapshot)) => Ok((location, snapshot)),
        _ => Err(RestoreError::Invalid(format!("execution {execution_id} has no snapshot (status {})", execution.status))),
    }
}

pub(crate) async fn record(catalog: &Catalog, actor: &Principal, action: &str, report: &RestoreReport) -> Result<(), RestoreError> {
    record_action(catalog, actor, action, &report.execution_id, serde_json::to_value(report).unwrap_or_default()).await
}

/// Audits a finished restore of execution `execution_id`.
pub(crate) async fn record_action(catalog: &Catalog, actor: &Principal, action: &str, execution_id: &str, detail: serde_json::Value) -> Result<(), RestoreError> {
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action, target_type: "backup_execution", target_id: Some(execution_id), detail }).await?;
    tx.commit().await?;
    Ok(())
}
