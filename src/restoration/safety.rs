//! Safety snapshots and rollbacks. Before a restoration writes over what its target holds, the
//! target is backed up into the backup's own repository: an execution of type `safety` of the
//! same configuration, kept by a legal hold until the rollback deadline and then by the
//! configuration's retention (counted apart from its source's backups). Until the deadline a
//! rollback ([`request`]) — a restoration of that execution into the same place, with the
//! approvals a restore there needs, or the recovery run's that asked for the restore
//! ([`request_for_run`]) — puts the target back exactly as it was
//! (`Source::put_back`). A restore that fails part-way is put back at once, unless it ran in
//! one transaction.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::jobs::{self, Row, RunApproval};
use super::{ConflictResolution, RestorationError, RestorationInitiated, RestorationRequest, RestorationStatus, RestorationType, RollbackRequest, conflicts, request};
use crate::configurations::Configuration;
use crate::engine::repo::RepoError;
use crate::engine::repo::backup::{BackupOptions, Progress};
use crate::executions::{self, Completion};
use crate::locations;
use crate::platform::audit::Actor;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::jobs::CancelFlag;
use crate::platform::secrets::SecretBox;
use crate::platform::time;
use crate::restores::{RestoreError, Targets};
use crate::retention::holds;
use crate::sources::{self, RestoreRun};

/// A safety snapshot taken: its execution and what it cost.
pub(super) struct Taken {
    pub execution_id: String,
    pub seconds: f64,
}

/// Backs up what restoration `row` is about to write over (`request` with its secrets) into
/// the repository of the backup it restores, kept until `deadline`.
/// `stop` ends it early (someone cancelled the restoration) with `RepoError::Cancelled`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn take(
    catalog: &Catalog,
    secrets: &SecretBox,
    run: &RestoreRun<'_>,
    row: &Row,
    configuration: &Configuration,
    request: &Value,
    deadline: &str,
    stop: &CancelFlag,
) -> Result<Taken, RestorationError> {
    let started = Instant::now();
    let backup = executions::find(catalog, &row.backup_execution_id).await?;
    let location_id = backup.storage_location_id.ok_or_else(|| RestorationError::Invalid(format!("execution {} has no storage location", backup.id)))?;
    let repo = locations::open_repository(catalog, secrets, &location_id).await.map_err(RestoreError::from)?;
    let note = format!("safety snapshot of {} before restoration {}", row.target_identifier, row.id);
    let id = executions::insert_safety(catalog, &Actor::from(run.actor), &row.initiated_by_name, configuration, &note).await?;
    let options = BackupOptions {
        source: String::new(),
        tags: vec![format!("configuration:{}", configuration.id), format!("execution:{id}"), format!("restoration:{}", row.id)],
        metadata: serde_json::json!({ "configurationId": configuration.id, "safetyFor": row.id, "target": row.target_identifier }),
        progress: Arc::new(Progress { cancel: stop.clone(), ..Progress::default() }),
        commit_check: None,
    };
    let snapshot = match sources::of(configuration).snapshot_target(run, configuration, request, &repo, options).await {
        Ok(snapshot) => snapshot,
        Err(e) => {
            let status = if matches!(e, RestoreError::Repo(RepoError::Cancelled)) { "cancelled" } else { "failed" };
            executions::finish(catalog, &id, &configuration.id, None, status, &e.to_string()).await?;
            return Err(e.into());
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let metadata = serde_json::json!({ "sourceType": configuration.source_type, "safetyFor": row.id, "target": row.target_identifier });
    let s = &snapshot.summary;
    let progress = serde_json::json!({ "bytesRead": s.bytes, "bytesNew": s.new_bytes, "percent": 100.0 });
    executions::record_completed(catalog, &id, &configuration.id, None, Completion { location_id: &location_id, snapshot: &snapshot, metadata, duration_seconds: seconds, progress }).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let reason = format!("puts {} back as it was before restoration {} until its rollback deadline", row.target_identifier, row.id);
    holds::place_in(&mut tx, &Actor::system("restoration"), &id, "Safety snapshot", &reason, Some(deadline.to_string())).await?;
    tx.commit().await?;
    Ok(Taken { execution_id: id, seconds })
}

/// Puts the place `request` writes into back as safety execution `safety_id` holds it.
pub(super) async fn put_back(catalog: &Catalog, secrets: &SecretBox, run: &RestoreRun<'_>, safety_id: &str, configuration: &Configuration, request: &Value) -> Result<u64, RestorationError> {
    let execution = executions::find(catalog, safety_id).await?;
    let (Some(location), Some(snapshot_id)) = (execution.storage_location_id, execution.snapshot_id) else {
        return Err(RestorationError::Invalid(format!("safety execution {safety_id} holds no snapshot ({})", execution.status)));
    };
    let found = locations::open_snapshot(catalog, secrets, &location, &snapshot_id).await.map_err(RestoreError::from)?;
    Ok(sources::of(configuration).put_back(run, configuration, request, &found.repo, &found.snapshot).await?)
}

/// A rollback of `original` may run: its window is open, and no later restore wrote into the
/// same place or one inside or around it (putting this one back would undo that one too).
/// Checked when the rollback is asked for and again when it runs.
pub(super) async fn may_still_roll_back(catalog: &Catalog, original: &Row) -> Result<(), RestorationError> {
    let id = &original.id;
    let now = time::to_text(catalog.now().await?);
    match original.rollback_deadline.as_deref() {
        Some(deadline) if deadline > now.as_str() => {}
        deadline => return Err(RestorationError::Conflict(format!("the rollback window of restoration {id} closed at {}", deadline.unwrap_or("its end")))),
    }
    let later: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, target_identifier FROM restoration_jobs WHERE id <> $1 AND rollback_of IS NULL AND status = 'completed' AND end_time > $2",
    )
    .bind(id)
    .bind(original.end_time.as_deref().unwrap_or(&original.created_at))
    .fetch_all(catalog.pool())
    .await?;
    let place = original.target_identifier.as_str();
    let nested = |a: &str, b: &str| a == b || a.strip_prefix(b).is_some_and(|rest| rest.starts_with('/'));
    match later.into_iter().find(|(_, other)| nested(other, place) || nested(place, other)) {
        Some((later, other)) => Err(RestorationError::Conflict(format!("restoration {later} wrote into {other} after this one: roll that one back first"))),
        None => Ok(()),
    }
}

/// `POST …/restoration/{id}/rollback`: asks to put restoration `id`'s target back as it was
/// before it ran. A restoration like any other (the same approvals, the same job), of the
/// safety execution into the same place.
pub async fn request(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, id: &str, body: RollbackRequest) -> Result<RestorationInitiated, RestorationError> {
    roll_back(catalog, secrets, reach, actor, id, body, None).await
}

/// The rollback of a restoration a recovery run asked for, asked by that run as it rolls back
/// (its `backup_restore` step undone): approved by the run, like the restore was.
pub async fn request_for_run(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, id: &str, body: RollbackRequest, approval: &RunApproval) -> Result<RestorationInitiated, RestorationError> {
    let original = jobs::find(catalog, id).await?;
    if original.recovery_execution_id.as_deref() != Some(approval.run_id.as_str()) {
        return Err(RestorationError::Forbidden(format!("restoration {id} was not asked for by recovery run {}: its rollback needs approvers", approval.run_id)));
    }
    roll_back(catalog, secrets, reach, actor, id, body, Some(approval.clone())).await
}

async fn roll_back(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, id: &str, body: RollbackRequest, carried_by: Option<RunApproval>) -> Result<RestorationInitiated, RestorationError> {
    actor.require(Role::Operator)?;
    let original = jobs::find(catalog, id).await?;
    // A failed or stopped restore whose target could not be put back at once keeps its snapshot.
    if !matches!(original.status, RestorationStatus::Completed | RestorationStatus::Failed | RestorationStatus::Cancelled) {
        return Err(RestorationError::Conflict(format!("restoration {id} is {}: only a completed, failed or stopped restoration rolls back", original.status)));
    }
    let Some(safety) = original.safety_execution_id.clone() else {
        return Err(RestorationError::Conflict(format!("restoration {id} wrote into an empty target and took no safety snapshot: there is nothing to put back")));
    };
    may_still_roll_back(catalog, &original).await?;
    let resolved = match &original.restore_target_id {
        Some(_) => {
            let r = RestorationRequest {
                backup_execution_id: safety,
                restoration_type: RestorationType::Full,
                target_environment: original.target_environment,
                target_identifier: original.target_identifier.clone(),
                point_in_time_target: None,
                restoration_scope: None,
                incident_reference: None,
                approval_override: None,
                override_reason: None,
                accept_unverified: None,
                notes: None,
                conflict_resolution: Some(ConflictResolution::Overwrite),
            };
            request::from_seeds(catalog, secrets, reach, actor, &r, true).await?
        }
        None => {
            let mut stored: Value = serde_json::from_str(&original.request).map_err(|e| RestorationError::Invalid(format!("the stored request does not read: {e}")))?;
            // The whole place goes back, whatever the restore chose: a full restoration, and
            // approved as one.
            if let Some(fields) = stored.as_object_mut() {
                fields.remove("tables");
                fields.remove("include");
            }
            request::from_door(catalog, secrets, reach, actor, &safety, request::with_secrets(stored, &jobs::sealed_secrets(secrets, &original)?), true).await?
        }
    };
    conflicts::busy(catalog, &resolved.target_identifier, None).await?;
    jobs::create_rollback(catalog, secrets, actor, resolved, &original, body, carried_by).await
}
