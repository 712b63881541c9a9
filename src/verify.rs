//! Integrity verification of one execution's backup: the repository's structure (its packs
//! are where the index says) and every byte read back as a restore would, without writing
//! anything. Runs after each backup (a `verify` job) and on request; the outcome is the
//! execution's `verification_status` and, when it fails, an alert.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::alerts::{self, AlertType, Severity};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::{Catalog, CatalogError};
use crate::error::{Classify, Kind};
use crate::executions::{self, ExecutionError};
use crate::platform::jobs::{self, JobError, NewJob};
use crate::locations::{self, LocationError};
use crate::engine::repo::RepoError;
use crate::engine::repo::verify::verify_snapshot;
use crate::platform::secrets::SecretBox;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Conflict(String),

    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Job(#[from] JobError),
}

impl From<sqlx::Error> for VerifyError {
    fn from(e: sqlx::Error) -> Self {
        VerifyError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for VerifyError {
    fn kind(&self) -> Kind {
        match self {
            VerifyError::Conflict(_) => Kind::Conflict,
            VerifyError::Auth(e) => e.kind(),
            VerifyError::Catalog(e) => e.kind(),
            VerifyError::Execution(e) => e.kind(),
            VerifyError::Location(e) => e.kind(),
            VerifyError::Repo(e) => e.kind(),
            VerifyError::Job(e) => e.kind(),
        }
    }
}

/// The alert type a failed verification raises.
pub const ALERT_TYPE: AlertType = AlertType::VerificationFailed;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationReport {
    pub execution_id: String,
    /// `verified` or `failed`.
    pub status: String,
    pub bytes: u64,
    pub files: u64,
    pub duration_ms: u64,
    /// What cannot be restored, one sentence each.
    pub problems: Vec<String>,
    pub verified_at: String,
}

/// Verifications asked for by hand that run at once: each reads a whole backup with its
/// buffers and threads; more requests wait their turn instead of piling up that work.
static ON_REQUEST: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Verifies one execution's backup now, for a person who asked (at most [`ON_REQUEST`] at
/// once; every completed backup also queues a verification job).
pub async fn verify_execution(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, execution_id: &str) -> Result<VerificationReport, VerifyError> {
    actor.require(Role::Operator)?;
    let _permit = ON_REQUEST.acquire().await.map_err(|e| VerifyError::Conflict(e.to_string()))?;
    run(catalog, secrets, execution_id).await
}

/// A verification put on the queue (the seeds' answer to `verify/{executionId}`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    /// The job that reads the backup back.
    pub verification_id: String,
    pub execution_id: String,
    /// `initiated`: the outcome lands on the execution's `verificationStatus`.
    pub status: &'static str,
    /// Seconds: about as long as the backup took to write.
    pub estimated_duration: f64,
}

/// Queues a verification of one execution's backup (operators and up); a worker reads it back.
pub async fn queue(catalog: &Catalog, actor: &Principal, execution_id: &str) -> Result<Queued, VerifyError> {
    actor.require(Role::Operator)?;
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    if execution.snapshot_id.is_none() {
        return Err(VerifyError::Conflict(format!("backup execution {execution_id} has no backup to verify ({})", execution.status)));
    }
    let job = NewJob { priority: 6, subject_id: Some(execution_id.to_string()), max_attempts: 2, ..NewJob::new(JOB_KIND, serde_json::json!({ "executionId": execution_id })) };
    let verification_id = jobs::enqueue(catalog, job).await?;
    let estimated_duration = execution.duration_seconds.unwrap_or(60.0).max(1.0);
    Ok(Queued { verification_id, execution_id: execution_id.to_string(), status: "initiated", estimated_duration })
}

/// Reads a backup back whole and records the outcome (the verification job; by hand through
/// [`verify_execution`]).
pub async fn run(catalog: &Catalog, secrets: &SecretBox, execution_id: &str) -> Result<VerificationReport, VerifyError> {
    let execution = executions::find(catalog, execution_id).await?;
    let (Some(location_id), Some(snapshot_id)) = (execution.storage_location_id.as_deref(), execution.snapshot_id.as_deref()) else {
        return Err(VerifyError::Conflict(format!("backup execution {execution_id} has no backup to verify ({})", execution.status)));
    };
    if let Some(at) = execution.deleted_at {
        return Err(VerifyError::Conflict(format!("the backup of execution {execution_id} was deleted at {at}")));
    }
    let started = Instant::now();
    let repo = locations::open_repository(catalog, secrets, location_id).await?;
    // Structure first: a missing snapshot, index or pack is a finding, not an error of ours.
    let (verified, mut problems) = match repo.load_snapshot(snapshot_id).await {
        Err(e @ (RepoError::SnapshotNotFound(_) | RepoError::Damaged(_))) => (Default::default(), vec![format!("the snapshot manifest: {e}")]),
        Err(e) => return Err(e.into()),
        Ok(snapshot) => {
            let index = match repo.load_index().await {
                Ok(index) => Arc::new(index),
                Err(e @ RepoError::Damaged(_)) => return finish(catalog, execution_id, started, Default::default(), vec![format!("the index: {e}")]).await,
                Err(e) => return Err(e.into()),
            };
            let verified = verify_snapshot(&repo, index, &snapshot).await?;
            let damaged = verified.damaged.clone();
            (verified, damaged)
        }
    };
    problems.sort();
    finish(catalog, execution_id, started, verified, problems).await
}

/// Reads a backup back whole from where a restore would read it (see
/// [`locations::open_snapshot`]): its own location, recorded as [`run`] records; or, when that
/// cannot be read (its region down), the replica the restore will use, recorded nowhere: the
/// execution's own copy stays as it was, for its location's next verification.
pub async fn run_for_restore(catalog: &Catalog, secrets: &SecretBox, execution_id: &str) -> Result<VerificationReport, VerifyError> {
    let execution = executions::find(catalog, execution_id).await?;
    let (Some(location_id), Some(snapshot_id), None) = (execution.storage_location_id.as_deref(), execution.snapshot_id.as_deref(), &execution.deleted_at) else {
        // Nothing to read, or deleted: `run` says so.
        return run(catalog, secrets, execution_id).await;
    };
    let source = match locations::open_snapshot(catalog, secrets, location_id, snapshot_id).await {
        Ok(source) if source.location_id != location_id => source,
        _ => return run(catalog, secrets, execution_id).await,
    };
    let started = Instant::now();
    let (verified, mut problems) = match source.repo.load_index().await {
        Ok(index) => {
            let verified = verify_snapshot(&source.repo, Arc::new(index), &source.snapshot).await?;
            let damaged = verified.damaged.clone();
            (verified, damaged)
        }
        Err(e @ RepoError::Damaged(_)) => (Default::default(), vec![format!("the replica's index: {e}")]),
        Err(e) => return Err(e.into()),
    };
    problems.sort();
    Ok(VerificationReport {
        execution_id: execution_id.to_string(),
        status: if problems.is_empty() { "verified" } else { "failed" }.to_string(),
        bytes: verified.bytes,
        files: verified.files,
        duration_ms: started.elapsed().as_millis() as u64,
        problems,
        verified_at: crate::platform::time::now_text(),
    })
}

/// Records the outcome on the execution and opens (or resolves) its alert.
async fn finish(
    catalog: &Catalog,
    execution_id: &str,
    started: Instant,
    verified: crate::engine::repo::verify::Verified,
    problems: Vec<String>,
) -> Result<VerificationReport, VerifyError> {
    let status = if problems.is_empty() { "verified" } else { "failed" };
    let now = executions::record_verification(catalog, execution_id, status, &problems).await?;
    let subject = format!("backup_execution:{execution_id}");
    if problems.is_empty() {
        alerts::resolve(catalog, ALERT_TYPE, &subject, "the backup was read back whole").await?;
    } else {
        let message = format!("the backup of execution {execution_id} cannot be fully restored: {}", problems.join("; "));
        // With its configuration, so a silence or a filter by configuration covers it.
        let configuration = executions::find(catalog, execution_id).await?.configuration_id;
        let condition = alerts::Condition {
            alert_type: ALERT_TYPE,
            severity: Severity::Critical,
            subject: &subject,
            message: &message,
            configuration_id: Some(&configuration),
            execution_id: Some(execution_id),
        };
        alerts::raise_condition(catalog, &condition).await?;
    }
    Ok(VerificationReport {
        execution_id: execution_id.to_string(),
        status: status.to_string(),
        bytes: verified.bytes,
        files: verified.files,
        duration_ms: started.elapsed().as_millis() as u64,
        problems,
        verified_at: now,
    })
}

/// The job kind queued after each completed backup.
pub const JOB_KIND: &str = crate::platform::events::VERIFY_BACKUP;

