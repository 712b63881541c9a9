//! `backup_restore`: restores a backup through the restoration workflow, as a restoration job
//! any node's worker pool runs, in the name of the person who started the run. The run's
//! approval stands for the approvers the target's policy asks for (a run starts only from an
//! approved plan version, or as a drill an approver confirmed); the restoration records it as
//! approved by the run. In a drill the target is the plan's scratch stand-in for it
//! (`drill.targets`), never the production one.
//!
//! The restoration records whether its place existed when it was asked for, and the step's
//! output names what the restore created (a new database, directory, prefix or data directory),
//! so the rollback and a drill's `cleanup` remove exactly that. A place that was there before is put back from the
//! restoration's safety snapshot instead. A restore that fails or is stopped removes what it
//! created at once.

use std::time::{Duration, Instant};

use bulwark_types::{ConflictResolution, Environment, Restoration, RestorationRequest, RestorationScope, RestorationStatus, RestorationType, RollbackRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Bulwark, Problem, StepContext, StepError, StepResult};
use crate::error::{Classify, Kind};
use crate::platform::auth::Principal;
use crate::restoration::created::{self, Created};
use crate::restoration::{available, jobs, safety, targets};

/// A second run restores a second time (into a place the first one filled): a person decides.
pub const IDEMPOTENT: bool = false;
/// How often the restoration is looked at while it runs.
const POLL: Duration = Duration::from_millis(500);
/// How long a stopped restoration has to end before the step gives up on it (the engine drops
/// a stopped step a few seconds after it stops).
const STOP_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The backup configuration, by name or id.
    pub configuration: String,
    /// The backup to restore; the configuration's newest completed one that did not fail
    /// verification when absent.
    #[serde(default)]
    pub backup_execution_id: Option<String>,
    #[serde(default = "full")]
    pub restoration_type: RestorationType,
    pub target_environment: Environment,
    /// A restore target's name, optionally `/database`, `/directory` or `/prefix` inside it.
    pub target_identifier: String,
    /// RFC 3339; point-in-time restores only.
    #[serde(default)]
    pub point_in_time_target: Option<String>,
    #[serde(default)]
    pub restoration_scope: Option<RestorationScope>,
    #[serde(default)]
    pub conflict_resolution: Option<ConflictResolution>,
    #[serde(default)]
    pub accept_unverified: Option<bool>,
}

fn full() -> RestorationType {
    RestorationType::Full
}

impl Config {
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.configuration.trim().is_empty() || self.configuration.len() > 200 {
            problems.push(Problem::new("configuration", "the backup configuration's name or id"));
        }
        if self.target_name().is_empty() || self.target_identifier.len() > 600 {
            problems.push(Problem::new("targetIdentifier", "a restore target's name, optionally /database, /directory or /prefix inside it"));
        }
        if let Some(at) = &self.point_in_time_target
            && chrono::DateTime::parse_from_rfc3339(at.trim()).is_err()
        {
            problems.push(Problem::new("pointInTimeTarget", "an RFC 3339 time, e.g. 2026-11-23T01:02:03Z"));
        }
        if self.backup_execution_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
            problems.push(Problem::new("backupExecutionId", "an execution's id, or leave it out for the newest backup"));
        }
        problems
    }

    /// The restore target's name (what a drill maps to its scratch target).
    pub fn target_name(&self) -> &str {
        self.target_identifier.split('/').next().unwrap_or_default().trim()
    }

    /// What is inside the target (`database`, `dir/sub`, `prefix`), if anything.
    fn inside(&self) -> Option<&str> {
        self.target_identifier.split_once('/').map(|(_, inside)| inside.trim()).filter(|i| !i.is_empty())
    }
}

/// A restoration error as a step's: what another attempt cannot change is permanent.
fn failure(e: impl Classify + std::fmt::Display) -> StepError {
    match e.kind() {
        Kind::Invalid | Kind::NotFound | Kind::Forbidden | Kind::Conflict => StepError::permanent(e.to_string()),
        _ => StepError::retryable(e.to_string()),
    }
}

/// Where the restore goes: the step's target, or in a drill the plan's scratch stand-in for it
/// (in its own environment).
async fn destination(cfg: &Config, b: &Bulwark<'_>) -> Result<(Environment, String), StepError> {
    if !b.drill() {
        return Ok((cfg.target_environment, cfg.target_identifier.trim().to_string()));
    }
    let name = cfg.target_name();
    let scratch = b.drill_targets.get(name).ok_or_else(|| {
        StepError::permanent(format!("a drill restores into the scratch target drill.targets maps {name:?} to, and the plan maps none: never into production"))
    })?;
    let target = targets::named(b.catalog, scratch)
        .await
        .map_err(failure)?
        .ok_or_else(|| StepError::permanent(format!("drill.targets maps {name:?} to {scratch:?}, and no restore target is named so")))?;
    let identifier = match cfg.inside() {
        Some(inside) => format!("{scratch}/{inside}"),
        None => scratch.clone(),
    };
    Ok((target.environment, identifier))
}

/// The configuration named (or whose id is given).
async fn configuration_of(b: &Bulwark<'_>, named: &str) -> Result<crate::configurations::Configuration, StepError> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE id = $1 OR name = $1")
        .bind(named.trim())
        .fetch_all(b.catalog.pool())
        .await
        .map_err(|e| StepError::retryable(e.to_string()))?;
    match ids.as_slice() {
        [id] => crate::configurations::find(b.catalog, id).await.map_err(failure),
        [] => Err(StepError::permanent(format!("config.configuration: no backup configuration is named {named:?}"))),
        _ => Err(StepError::permanent(format!("config.configuration: several configurations answer to {named:?}; give its id"))),
    }
}

/// The backup to restore and its restorable point (when it completed).
async fn backup_of(cfg: &Config, b: &Bulwark<'_>, actor: &Principal, configuration_id: &str) -> Result<(String, Option<String>), StepError> {
    if let Some(id) = cfg.backup_execution_id.as_deref().map(str::trim) {
        let execution = crate::executions::find(b.catalog, id).await.map_err(failure)?;
        if execution.configuration_id != configuration_id {
            return Err(StepError::permanent(format!("config.backupExecutionId: execution {id} is not a backup of {}", cfg.configuration)));
        }
        return Ok((execution.id, execution.completed_at));
    }
    let filter = available::Filter { configuration_id: Some(configuration_id.to_string()), limit: Some(20), ..Default::default() };
    let newest = available::list(b.catalog, actor, &filter).await.map_err(failure)?.into_iter().find(|backup| backup.verification_status != "failed");
    newest
        .map(|backup| (backup.execution_id, Some(backup.backup_date)))
        .ok_or_else(|| StepError::permanent(format!("{} has no completed backup that did not fail verification", cfg.configuration)))
}

pub async fn run(cfg: &Config, ctx: &StepContext<'_>, b: &Bulwark<'_>) -> StepResult {
    let actor = b.initiator()?;
    let (environment, target_identifier) = destination(cfg, b).await?;
    let configuration = configuration_of(b, &cfg.configuration).await?;
    let (backup, completed_at) = backup_of(cfg, b, actor, &configuration.id).await?;
    let point_in_time = cfg.point_in_time_target.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let restorable_point = point_in_time.clone().or(completed_at);
    let request = RestorationRequest {
        backup_execution_id: backup.clone(),
        restoration_type: cfg.restoration_type,
        target_environment: environment,
        target_identifier: target_identifier.clone(),
        point_in_time_target: point_in_time,
        restoration_scope: cfg.restoration_scope.clone(),
        incident_reference: None,
        approval_override: None,
        override_reason: None,
        accept_unverified: cfg.accept_unverified,
        notes: Some(format!("step of {} run {}", if b.drill() { "drill" } else { "recovery" }, b.execution_id)),
        conflict_resolution: cfg.conflict_resolution,
    };
    let asked = jobs::request_for_run(b.catalog, b.secrets, b.reach, actor, request, &b.approval()).await.map_err(failure)?;
    let created = created::of(b.catalog, &asked.restoration_id).await.map_err(failure)?;
    let restoration = match wait(b, actor, &asked.restoration_id, ctx).await {
        Ok(restoration) => restoration,
        Err(e) => {
            // Nothing of a failed or stopped restore stays behind where it created its place.
            let Some(created) = &created else { return Err(e) };
            return match created::remove(b.catalog, b.secrets, b.reach, actor, created, &format!("restoration {} of recovery run {} did not complete", asked.restoration_id, b.execution_id)).await {
                Ok(true) => Err(StepError { message: format!("{}; {} was removed", e.message, created.place.describe()), ..e }),
                Ok(false) => Err(e),
                Err(again) => Err(StepError { message: format!("{}; removing {} failed too: {again}", e.message, created.place.describe()), ..e }),
            };
        }
    };
    Ok(json!({
        "restorationId": restoration.id,
        "status": restoration.status,
        "restorablePoint": restorable_point,
        "restoredBytes": restoration.restored_size_bytes,
        "seconds": restoration.duration_seconds,
        "target": target_identifier,
        "environment": environment,
        "configuration": configuration.name,
        "backupExecutionId": backup,
        "drillOf": b.drill().then(|| cfg.target_identifier.trim()),
        "created": created,
    }))
}

/// Waits for restoration `id` to end. Stopped (and waited for a little) when the run is
/// cancelled or the step's time is nearly up.
async fn wait(b: &Bulwark<'_>, actor: &Principal, id: &str, ctx: &StepContext<'_>) -> Result<Restoration, StepError> {
    let started = Instant::now();
    let limit = ctx.timeout.saturating_sub(STOP_WAIT + POLL);
    loop {
        // A catalog that does not answer for a moment is looked at again on the next tick.
        if let Ok(restoration) = jobs::get(b.catalog, actor, id).await {
            match restoration.status {
                RestorationStatus::Completed => return Ok(restoration),
                RestorationStatus::Failed => {
                    return Err(match jobs::failure(b.catalog, id).await.map_err(failure)? {
                        Some((Kind::Invalid | Kind::NotFound | Kind::Forbidden, message)) => StepError::permanent(format!("restoration {id} failed: {message}")),
                        Some((_, message)) => StepError::retryable(format!("restoration {id} failed: {message}")),
                        None => StepError::retryable(format!("restoration {id} failed")),
                    });
                }
                status if status.is_finished() => return Err(StepError::permanent(format!("restoration {id} was {status}"))),
                _ => {}
            }
        }
        let cancelled = ctx.cancelled();
        if cancelled || started.elapsed() >= limit {
            let outcome = stop(b, actor, id).await;
            return Err(if cancelled {
                StepError::permanent(format!("stopped: the run was cancelled; restoration {id} {outcome}"))
            } else {
                StepError::retryable(format!("timed out after {} s; restoration {id} {outcome}", ctx.timeout.as_secs()))
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Cancels restoration `id` and waits a little for it to end; says how it ended.
async fn stop(b: &Bulwark<'_>, actor: &Principal, id: &str) -> String {
    if let Err(e) = jobs::cancel(b.catalog, actor, id).await {
        return format!("could not be stopped: {e}");
    }
    let asked = Instant::now();
    while asked.elapsed() < STOP_WAIT {
        match jobs::get(b.catalog, actor, id).await {
            Ok(r) if r.status.is_finished() => return format!("was stopped ({})", r.status),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    "was asked to stop".to_string()
}

/// Undoes the restore: a place it created is removed; a place that was there is put back from
/// the restoration's safety snapshot (a rollback the run approves, waited for).
pub async fn roll_back(output: &Value, ctx: &StepContext<'_>, b: &Bulwark<'_>) -> StepResult {
    let actor = b.initiator()?;
    let id = output["restorationId"].as_str().ok_or_else(|| StepError::permanent("the step's output names no restoration"))?;
    if !output["created"].is_null() {
        let created: Created = serde_json::from_value(output["created"].clone()).map_err(|e| StepError::permanent(format!("the step's output does not say what it created: {e}")))?;
        let removed = created::remove(b.catalog, b.secrets, b.reach, actor, &created, &format!("recovery run {} rolled back restoration {id}", b.execution_id)).await.map_err(failure)?;
        return Ok(json!({ "place": created.place.describe(), "removed": removed }));
    }
    let body = RollbackRequest { reason: Some(format!("recovery run {} of plan {} rolled back", b.execution_id, b.plan_name)), incident_reference: None, approval_override: None, override_reason: None };
    let asked = safety::request_for_run(b.catalog, b.secrets, b.reach, actor, id, body, &b.approval()).await.map_err(failure)?;
    let rollback = wait(b, actor, &asked.restoration_id, ctx).await?;
    Ok(json!({ "rollbackRestorationId": rollback.id, "status": rollback.status, "restoredBytes": rollback.restored_size_bytes }))
}
