//! Restoration jobs: the `restoration_jobs` rows and their life. A request is checked and
//! resolved (`super::request`), recorded with the approval its environment's policy needs, and,
//! once it may run, queued as a `restoration` job that any node's worker pool runs in the
//! requester's name. The worker runs it only while its approvals hold for the exact request
//! (the hash) and its target has not changed, verifies a backup not verified yet, restores
//! through `sources::restore`, and records what it measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::request::{self, Resolved};
use super::{approvals, Alternative, ConflictResolution, Environment, Restoration, RestorationError, conflicts, RestorationInitiated, RestorationProgress, RestorationRequest, RestorationScope, RestorationStatus, RestorationType, RollbackRequest, policy, safety};
use crate::alerts::{self, AlertType, Severity};
use crate::error::{Classify, Kind};
use crate::executions;
use crate::platform::accounts::users;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::jobs::{self, CancelFlag, NewJob};
use crate::platform::secrets::SecretBox;
use crate::platform::time;
use crate::engine::repo::{RepoError, restore};
use crate::restores::{RestoreError, Targets};
use crate::sources::{self, RestoreRun};
use crate::verify;

/// The job kind that runs a restoration.
pub const JOB_KIND: &str = "restoration";

/// The subject type of a restoration's approvals.
pub(super) const SUBJECT: &str = "restoration";

/// A restoration as the catalog keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Row {
    pub id: String,
    pub backup_execution_id: String,
    pub configuration_id: String,
    pub configuration_name: String,
    pub restoration_type: RestorationType,
    pub target_environment: Environment,
    pub target_identifier: String,
    pub restore_target_id: Option<String>,
    pub point_in_time_target: Option<String>,
    pub restoration_scope: String,
    pub request: String,
    pub secret_encrypted: Option<String>,
    pub request_hash: String,
    pub status: RestorationStatus,
    pub progress_percentage: i64,
    pub restored_size_bytes: i64,
    pub total_size_bytes: i64,
    pub verification_results: Option<String>,
    pub report: Option<String>,
    pub error_message: Option<String>,
    pub error_kind: Option<String>,
    pub rollback_available: i64,
    pub rollback_deadline: Option<String>,
    pub initiated_by: String,
    pub initiated_by_name: String,
    pub initiated_role: Role,
    pub approved_by: Option<String>,
    pub approval_required: i64,
    pub approvals_needed: i64,
    pub require_totp: i64,
    pub approval_expires_at: Option<String>,
    pub approval_override: i64,
    pub override_reason: Option<String>,
    pub accept_unverified: i64,
    pub incident_reference: Option<String>,
    pub notes: Option<String>,
    pub conflicts: Option<String>,
    pub conflict_resolution: Option<ConflictResolution>,
    pub job_id: Option<String>,
    pub estimated_duration_seconds: f64,
    pub rto_minutes: Option<i64>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub duration_seconds: Option<f64>,
    pub created_at: String,
    pub safety_execution_id: Option<String>,
    pub safety_seconds: Option<f64>,
    pub rollback_of: Option<String>,
    /// The recovery run whose approval this restoration carries.
    pub recovery_execution_id: Option<String>,
}

const COLUMNS: &str = "r.id, r.backup_execution_id, r.configuration_id, c.name AS configuration_name, r.restoration_type, r.target_environment, \
    r.target_identifier, r.restore_target_id, r.point_in_time_target, r.restoration_scope, r.request, r.secret_encrypted, r.request_hash, r.status, \
    r.progress_percentage, r.restored_size_bytes, r.total_size_bytes, r.verification_results, r.report, r.error_message, r.error_kind, \
    r.rollback_available, r.rollback_deadline, r.initiated_by, r.initiated_by_name, r.initiated_role, r.approved_by, r.approval_required, r.approvals_needed, \
    r.require_totp, r.approval_expires_at, r.approval_override, r.override_reason, r.accept_unverified, r.incident_reference, r.notes, r.conflicts, r.conflict_resolution, r.job_id, \
    r.estimated_duration_seconds, r.rto_minutes, r.start_time, r.end_time, r.duration_seconds, r.created_at, r.safety_execution_id, r.safety_seconds, r.rollback_of, r.recovery_execution_id";

const FROM: &str = "FROM restoration_jobs r JOIN backup_configurations c ON c.id = r.configuration_id";

impl Row {
    /// The seeds' request this row was made from (for re-resolving a named target's).
    fn as_request(&self) -> RestorationRequest {
        RestorationRequest {
            backup_execution_id: self.backup_execution_id.clone(),
            restoration_type: self.restoration_type,
            target_environment: self.target_environment,
            target_identifier: self.target_identifier.clone(),
            point_in_time_target: self.point_in_time_target.clone(),
            restoration_scope: Some(self.scope()),
            incident_reference: self.incident_reference.clone(),
            approval_override: Some(self.approval_override != 0),
            override_reason: self.override_reason.clone(),
            accept_unverified: Some(self.accept_unverified != 0),
            notes: self.notes.clone(),
            conflict_resolution: self.conflict_resolution,
        }
    }

    /// The conflicts found and the alternatives offered, as recorded.
    fn conflicts(&self) -> (Vec<String>, Vec<Alternative>) {
        let found: Value = self.conflicts.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
        (serde_json::from_value(found["conflicts"].clone()).unwrap_or_default(), serde_json::from_value(found["alternatives"].clone()).unwrap_or_default())
    }

    fn scope(&self) -> RestorationScope {
        serde_json::from_str(&self.restoration_scope).unwrap_or_default()
    }

    pub(super) fn is_requester(&self, actor: &Principal) -> bool {
        self.initiated_by == actor.user_id
    }
}

/// The secrets a row's request was made with (sealed apart from it).
pub(super) fn sealed_secrets(secrets: &SecretBox, row: &Row) -> Result<Map<String, Value>, RestorationError> {
    Ok(match &row.secret_encrypted {
        Some(sealed) => serde_json::from_str::<Map<String, Value>>(&secrets.open(&secret_context(&row.id), sealed)?).unwrap_or_default(),
        None => Map::new(),
    })
}

pub(super) async fn find(catalog: &Catalog, id: &str) -> Result<Row, RestorationError> {
    let read = || async {
        sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} {FROM} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(catalog.pool())
            .await?
            .ok_or_else(|| RestorationError::NotFound(id.to_string()))
    };
    let row = read().await?;
    // Written only when it is overdue: a page following a restore reads it every half second.
    if row.status == RestorationStatus::ApprovalRequired && row.approval_expires_at.as_deref().is_some_and(|at| at < time::to_text(chrono::Utc::now()).as_str()) {
        expire_overdue(catalog).await?;
        return read().await;
    }
    Ok(row)
}

/// Requests past their validity expire: they can no longer be approved or run.
async fn expire_overdue(catalog: &Catalog) -> Result<(), RestorationError> {
    let now = time::to_text(catalog.now().await?);
    sqlx::query(
        "UPDATE restoration_jobs SET status = 'expired', error_message = 'nobody approved it before it expired', updated_at = $1
         WHERE status = 'approval_required' AND approval_expires_at < $1",
    )
    .bind(&now)
    .execute(catalog.pool())
    .await?;
    Ok(())
}

fn secret_context(id: &str) -> String {
    format!("restoration:{id}:secret")
}

/// What a request asks besides where and what.
struct Options {
    accept_unverified: bool,
    incident_reference: Option<String>,
    approval_override: bool,
    override_reason: Option<String>,
    notes: Option<String>,
    /// The restoration this one rolls back.
    rollback_of: Option<String>,
    /// The recovery run whose approval it carries.
    carried_by: Option<RunApproval>,
    /// What the restore creates (`super::created::Created` as JSON), when a run asks for it.
    created_place: Option<String>,
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

impl Options {
    fn of(r: &RestorationRequest) -> Options {
        Options {
            accept_unverified: r.accept_unverified.unwrap_or(false),
            incident_reference: text(&r.incident_reference),
            approval_override: r.approval_override.unwrap_or(false),
            override_reason: text(&r.override_reason),
            notes: text(&r.notes),
            rollback_of: None,
            carried_by: None,
            created_place: None,
        }
    }

    fn check(&self) -> Result<(), RestorationError> {
        let long = |field: &str, v: &Option<String>, max: usize| match v {
            Some(v) if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') => {
                Err(RestorationError::Invalid(format!("{field}: up to {max} characters, without control characters")))
            }
            _ => Ok(()),
        };
        long("incidentReference", &self.incident_reference, 200)?;
        long("overrideReason", &self.override_reason, 2000)?;
        long("notes", &self.notes, 2000)
    }
}

/// The seeds' `POST /api/admin/backups/restoration`: records the request and answers at once.
pub async fn request(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, r: RestorationRequest) -> Result<RestorationInitiated, RestorationError> {
    actor.require(Role::Operator)?;
    let options = Options::of(&r);
    options.check()?;
    let resolved = request::from_seeds(catalog, secrets, reach, actor, &r, false).await?;
    let found = conflicts::of(catalog, secrets, reach, actor, &resolved, None).await?;
    let conflict = match (found.is_empty(), r.conflict_resolution) {
        (true, _) => None,
        (false, Some(ConflictResolution::Overwrite)) if conflicts::may_overwrite(&resolved.place) => None,
        (false, Some(_)) => return Err(RestorationError::Invalid(format!("conflictResolution: {} is never written over: {}", resolved.target_identifier, found.join("; ")))),
        (false, None) => {
            let stamp = catalog.now().await?.format("%Y%m%d%H%M").to_string();
            Some((found, conflicts::alternatives(catalog, &resolved, &stamp).await?))
        }
    };
    let id = create(catalog, secrets, actor, resolved, options, conflict, r.conflict_resolution).await?;
    initiated(catalog, &id).await
}

/// A recovery run's approval, carried by the restorations its steps ask for (and their
/// rollbacks) in place of approvers': a run starts only from an approved plan version, or as a
/// drill an approver confirmed at its first gate. Never break-glass: it holds only while the run
/// is under way, and a drill's restores never reach production.
#[derive(Debug, Clone)]
pub struct RunApproval {
    pub run_id: String,
    pub plan_name: String,
    pub plan_version: i64,
    /// A drill: never into a place in production.
    pub drill: bool,
}

impl RunApproval {
    /// Who approved, as `approved_by` records it.
    fn approved_by(&self) -> String {
        format!("recovery run {} of plan {} v{}", self.run_id, self.plan_name, self.plan_version)
    }
}

/// A run's approval holds while the run is under way: checked when its restoration is asked
/// for and again when it runs.
pub(super) async fn under_way(catalog: &Catalog, run_id: &str) -> Result<(), RestorationError> {
    match run_status(catalog, run_id).await?.as_deref() {
        Some(ACTIVE_RUN) => Ok(()),
        Some(status) => Err(RestorationError::Forbidden(format!("recovery run {run_id} is {status}: its approval no longer holds; request the restore again"))),
        None => Err(RestorationError::Forbidden(format!("there is no recovery run {run_id} to approve this restore"))),
    }
}

/// The states of a recovery run still under way.
const ACTIVE_RUN: &str = "under way";

/// A recovery run's status, with its active states as [`ACTIVE_RUN`]; `None` when there is no
/// such run. A catalog error is an error, never taken for an ended run.
async fn run_status(catalog: &Catalog, run_id: &str) -> Result<Option<String>, RestorationError> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM recovery_executions WHERE id = $1").bind(run_id).fetch_optional(catalog.pool()).await?;
    Ok(status.map(|s| if matches!(s.as_str(), "initiated" | "in_progress" | "waiting") { ACTIVE_RUN.to_string() } else { s }))
}

/// Whether a running restore can be stopped part-way: what it wrote can be undone (a snapshot
/// to put back, or one transaction). A point-in-time cluster or a group's members have neither.
fn stoppable(kind: &dyn sources::Source, row: &Row) -> bool {
    let stored: Value = serde_json::from_str(&row.request).unwrap_or_default();
    kind.transactional() || kind.writes_over(&stored)
}

/// A restoration a recovery run's `backup_restore` step asks for: resolved and checked like any
/// request, recorded as approved by the run (audited as `restoration.request_by_run`) and
/// queued at once. What the target holds is refused unless the step asked to write over it (a
/// run cannot pick one of the alternatives a person is offered); a drill's restore never goes
/// into a place in production.
pub async fn request_for_run(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, r: RestorationRequest, approval: &RunApproval) -> Result<RestorationInitiated, RestorationError> {
    actor.require(Role::Operator)?;
    if r.approval_override == Some(true) {
        return Err(RestorationError::Invalid("approvalOverride: a recovery run's restore carries the run's approval; it is never break-glass".into()));
    }
    let mut options = Options { carried_by: Some(approval.clone()), ..Options::of(&r) };
    options.check()?;
    let resolved = request::from_seeds(catalog, secrets, reach, actor, &r, false).await?;
    // The place's environment is the strictest of the target's, those of the targets holding
    // it, and production over a backed-up source.
    if approval.drill && resolved.environment == Environment::Production {
        return Err(RestorationError::Invalid(format!(
            "targetIdentifier: {} is production (a production target holds it, or a configuration backs it up); a drill restores only into scratch places",
            resolved.target_identifier
        )));
    }
    let found = conflicts::of(catalog, secrets, reach, actor, &resolved, None).await?;
    let overwrite = r.conflict_resolution == Some(ConflictResolution::Overwrite) && conflicts::may_overwrite(&resolved.place);
    if !found.is_empty() && !overwrite {
        return Err(RestorationError::Conflict(format!("{} holds data: {}", resolved.target_identifier, found.join("; "))));
    }
    // Looked at now, before anything is written: what a drill's cleanup may remove.
    let created = super::created::would_create(catalog, secrets, reach, &resolved.configuration.id, &resolved.target_identifier).await?;
    options.created_place = created.map(|c| serde_json::to_string(&c).unwrap_or_default());
    let id = create(catalog, secrets, actor, resolved, options, None, r.conflict_resolution).await?;
    initiated(catalog, &id).await
}

/// Records a rollback of restoration `original`, resolved by `super::safety`: its safety
/// execution restored into the same place, with the approvals a restore there needs (or the
/// recovery run's that asks for it). The snapshot was written by the restore itself and every
/// chunk is checked as it is read, so it is not verified first.
pub(super) async fn create_rollback(
    catalog: &Catalog,
    secrets: &SecretBox,
    actor: &Principal,
    resolved: Resolved,
    original: &Row,
    body: RollbackRequest,
    carried_by: Option<RunApproval>,
) -> Result<RestorationInitiated, RestorationError> {
    let options = Options {
        accept_unverified: true,
        incident_reference: text(&body.incident_reference).or(original.incident_reference.clone()),
        approval_override: body.approval_override.unwrap_or(false),
        override_reason: text(&body.override_reason),
        notes: text(&body.reason),
        rollback_of: Some(original.id.clone()),
        carried_by,
        created_place: None,
    };
    options.check()?;
    let id = create(catalog, secrets, actor, resolved, options, None, Some(ConflictResolution::Overwrite)).await?;
    initiated(catalog, &id).await
}

/// The seeds' answer to a request just recorded.
async fn initiated(catalog: &Catalog, id: &str) -> Result<RestorationInitiated, RestorationError> {
    let row = find(catalog, id).await?;
    let (conflicts, alternatives) = row.conflicts();
    Ok(RestorationInitiated {
        restoration_id: row.id,
        status: row.status,
        estimated_duration: row.estimated_duration_seconds,
        approval_required: row.approval_required != 0,
        rollback_deadline: row.rollback_deadline,
        conflicts,
        alternatives,
    })
}

/// A restore asked for through an older door (an execution's restore, a configuration's
/// recovery, a group's restore): the same job and the same rules, the request in its kind's
/// own shape. A backup not verified yet is verified first.
pub async fn request_from_door(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, execution_id: &str, body: Value) -> Result<Restoration, RestorationError> {
    actor.require(Role::Operator)?;
    let resolved = request::from_door(catalog, secrets, reach, actor, execution_id, body, false).await?;
    let options = Options { accept_unverified: false, incident_reference: None, approval_override: false, override_reason: None, notes: None, rollback_of: None, carried_by: None, created_place: None };
    // An older door's request names its place exactly and keeps its kind's own rules (a
    // directory restore is a delta restore; a database with the tables is refused as it runs
    // unless the request says `replaceExisting`); whatever it writes over is backed up first.
    let id = create(catalog, secrets, actor, resolved, options, None, None).await?;
    view(catalog, find(catalog, &id).await?).await
}

/// Records a resolved request: stopped at the conflicts found, waiting for approval, or queued
/// to run.
async fn create(
    catalog: &Catalog,
    secrets: &SecretBox,
    actor: &Principal,
    resolved: Resolved,
    options: Options,
    conflict: Option<(Vec<String>, Vec<Alternative>)>,
    resolution: Option<ConflictResolution>,
) -> Result<String, RestorationError> {
    let policy = policy::of(catalog, resolved.environment).await?;
    let needs = policy::needs_approval(&policy, resolved.restoration_type);
    let carried = options.carried_by.as_ref();
    if let Some(run) = carried {
        under_way(catalog, &run.run_id).await?;
    }
    // A recovery run's approval stands for the approvers' the policy asks for.
    let waits = needs && carried.is_none();
    // Nothing runs past a conflict: a break-glass request there asks for nothing yet.
    let break_glass = waits && options.approval_override && conflict.is_none();
    if break_glass {
        let environment = resolved.environment;
        if !policy.break_glass_allowed {
            return Err(RestorationError::Forbidden(format!("approvalOverride: the {environment} policy does not allow break-glass restores; an approver must approve this one")));
        }
        if actor.role < Role::Admin || actor.scope.is_some() {
            return Err(RestorationError::Forbidden("approvalOverride: only administrators may restore without approval".into()));
        }
        if options.incident_reference.is_none() {
            return Err(RestorationError::Invalid("incidentReference: a break-glass restore names its incident".into()));
        }
        if options.override_reason.is_none() {
            return Err(RestorationError::Invalid("overrideReason: say why this restore cannot wait for an approver".into()));
        }
    }
    let status = match (&conflict, waits && !break_glass) {
        (Some(_), _) => RestorationStatus::ConflictDetected,
        (None, true) => RestorationStatus::ApprovalRequired,
        (None, false) => RestorationStatus::Initiated,
    };
    let id = uuid::Uuid::new_v4().to_string();
    if break_glass {
        // Raised before the restore is queued: it never runs unannounced.
        let message = format!(
            "{} restores {} into {} ({}) without approval: incident {}, reason: {}",
            actor.username,
            resolved.configuration.name,
            resolved.target_identifier,
            resolved.environment,
            options.incident_reference.as_deref().unwrap_or(""),
            options.override_reason.as_deref().unwrap_or("")
        );
        alerts::raise(catalog, AlertType::BreakGlassRestore, Severity::Critical, &format!("restoration:{id}"), &message).await?;
    }
    let now = catalog.now().await?;
    let expires = waits.then(|| time::to_text(now + chrono::Duration::hours(policy.validity_hours)));
    let hash = resolved.hash(options.accept_unverified, resolution);
    let found = conflict.map(|(conflicts, alternatives)| serde_json::json!({ "conflicts": conflicts, "alternatives": alternatives }).to_string());
    let sealed = (!resolved.secrets.is_empty()).then(|| secrets.seal(&secret_context(&id), &Value::Object(resolved.secrets.clone()).to_string()));
    let size = resolved.execution.size_bytes.unwrap_or(0);
    let estimate = estimate_seconds(catalog, size).await?;
    let now = time::to_text(now);
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query(
        "INSERT INTO restoration_jobs (id, backup_execution_id, configuration_id, restoration_type, target_environment, target_identifier, restore_target_id,
             point_in_time_target, restoration_scope, request, secret_encrypted, request_hash, status, total_size_bytes, initiated_by, initiated_by_name,
             approval_required, approvals_needed, require_totp, approval_expires_at, approval_override, override_reason, accept_unverified,
             incident_reference, notes, estimated_duration_seconds, rto_minutes, created_at, updated_at, initiated_role, conflicts, conflict_resolution, rollback_of,
             approved_by, recovery_execution_id, created_place)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $28, $29, $30, $31, $32, $33, $34, $35)",
    )
    .bind(&id)
    .bind(&resolved.execution.id)
    .bind(&resolved.configuration.id)
    .bind(resolved.restoration_type.as_str())
    .bind(resolved.environment.as_str())
    .bind(&resolved.target_identifier)
    .bind(&resolved.restore_target_id)
    .bind(&resolved.point_in_time)
    .bind(serde_json::to_string(&resolved.scope).unwrap_or_default())
    .bind(resolved.request.to_string())
    .bind(&sealed)
    .bind(&hash)
    .bind(status.as_str())
    .bind(size)
    .bind(&actor.user_id)
    .bind(&actor.username)
    .bind(i64::from(needs))
    .bind(if waits { policy.approvers_required } else { 0 })
    .bind(i64::from(waits && policy.require_totp))
    .bind(&expires)
    .bind(i64::from(break_glass))
    .bind(break_glass.then(|| options.override_reason.clone()).flatten())
    .bind(i64::from(options.accept_unverified))
    .bind(&options.incident_reference)
    .bind(&options.notes)
    .bind(estimate)
    .bind(resolved.configuration.rto_minutes)
    .bind(&now)
    .bind(actor.role.as_str())
    .bind(&found)
    .bind(resolution.map(|r| r.as_str()))
    .bind(&options.rollback_of)
    .bind(carried.map(RunApproval::approved_by))
    .bind(carried.map(|c| c.run_id.as_str()))
    .bind(&options.created_place)
    .execute(&mut *tx.tx)
    .await?;
    writes_over_in(&mut tx.tx, &id, &resolved.over_sources).await?;
    if status == RestorationStatus::Initiated {
        queue_in(&mut tx.tx, &id).await?;
    }
    if status == RestorationStatus::ApprovalRequired {
        let waiting = approvals::Waiting {
            id: &id,
            configuration: &resolved.configuration.name,
            target: &resolved.target_identifier,
            environment: resolved.environment,
            restoration_type: resolved.restoration_type,
            requested_by: &actor.username,
            approvals_needed: policy.approvers_required,
            expires_at: expires.as_deref(),
        };
        approvals::tell_approvers_in(&mut tx.tx, &waiting).await?;
    }
    let detail = serde_json::json!({
        "executionId": resolved.execution.id, "restorationType": resolved.restoration_type, "environment": resolved.environment,
        "target": resolved.target_identifier, "approvalRequired": needs, "breakGlass": break_glass,
        "incidentReference": options.incident_reference, "overrideReason": break_glass.then_some(&options.override_reason), "rollbackOf": options.rollback_of,
        "approvedBy": carried.map(RunApproval::approved_by), "recoveryExecutionId": carried.map(|c| &c.run_id),
    });
    let action = match (break_glass, &options.rollback_of, carried) {
        (true, _, _) => "restoration.break_glass",
        (false, Some(_), _) => "restoration.request_rollback",
        (false, None, Some(_)) => "restoration.request_by_run",
        (false, None, None) => "restoration.request",
    };
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action, target_type: "restoration", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    jobs::wake_idle();
    Ok(id)
}

/// Records which configurations' sources restoration `id` writes over (`executions::insert_in`
/// starts no backup of them while it waits to run or runs), inside the caller's transaction.
async fn writes_over_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str, configurations: &[String]) -> Result<(), RestorationError> {
    sqlx::query("DELETE FROM restoration_writes_over WHERE restoration_id = $1").bind(id).execute(&mut **tx).await?;
    for configuration in configurations {
        sqlx::query("INSERT INTO restoration_writes_over (restoration_id, configuration_id) VALUES ($1, $2)").bind(id).bind(configuration).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Queues the job that runs restoration `id`, inside the caller's transaction.
pub(super) async fn queue_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str) -> Result<(), RestorationError> {
    // One attempt: a failed restore is recorded, never silently tried again; a node that dies
    // mid-run hands it to another (the queue's takeovers).
    let job = NewJob { priority: 1, subject_id: Some(id.to_string()), max_attempts: 1, ..NewJob::new(JOB_KIND, serde_json::json!({ "restorationId": id })) };
    let job_id = jobs::enqueue_on(&mut *tx, job).await?;
    sqlx::query("UPDATE restoration_jobs SET job_id = $1 WHERE id = $2").bind(&job_id).bind(id).execute(&mut **tx).await?;
    Ok(())
}

/// Seconds a restore of `bytes` should take, at the rate the restores so far reached (50 MB/s
/// before there is one).
async fn estimate_seconds(catalog: &Catalog, bytes: i64) -> Result<f64, RestorationError> {
    // SUM of a BIGINT is a NUMERIC on PostgreSQL: cast back to what both catalogs read.
    let (restored, seconds): (Option<i64>, Option<f64>) = sqlx::query_as(
        "SELECT CAST(SUM(restored_size_bytes) AS BIGINT), SUM(duration_seconds) FROM
             (SELECT restored_size_bytes, duration_seconds FROM restoration_jobs WHERE status = 'completed' AND duration_seconds > 0 ORDER BY end_time DESC LIMIT 20) recent",
    )
    .fetch_one(catalog.pool())
    .await?;
    let rate = match (restored, seconds) {
        (Some(b), Some(s)) if b > 0 && s > 0.0 => b as f64 / s,
        _ => 50e6,
    };
    Ok((bytes as f64 / rate).max(1.0))
}

/// Changes a request that waits for approval (its requester only): every approval given so far
/// is void, and the validity starts again.
pub async fn update(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, id: &str, r: RestorationRequest) -> Result<Restoration, RestorationError> {
    actor.require(Role::Operator)?;
    let row = find(catalog, id).await?;
    if row.rollback_of.is_some() {
        return Err(RestorationError::Conflict(format!("restoration {id} is a rollback: cancel it and request the rollback again")));
    }
    // Only its requester: anyone else who rewrote it could then approve what they wrote.
    if !row.is_requester(actor) {
        return Err(RestorationError::Forbidden("only its requester changes a restoration request; request another one".into()));
    }
    if row.status != RestorationStatus::ApprovalRequired {
        return Err(RestorationError::Conflict(format!("restoration {id} is {}: only a request waiting for approval can change", row.status)));
    }
    let options = Options::of(&r);
    options.check()?;
    if options.approval_override {
        return Err(RestorationError::Invalid("approvalOverride: request a break-glass restore anew, not by changing a waiting one".into()));
    }
    let resolved = request::from_seeds(catalog, secrets, reach, actor, &r, false).await?;
    let found = conflicts::of(catalog, secrets, reach, actor, &resolved, Some(id)).await?;
    let overwrite = r.conflict_resolution == Some(ConflictResolution::Overwrite) && conflicts::may_overwrite(&resolved.place);
    if !found.is_empty() && !overwrite {
        return Err(RestorationError::Conflict(format!("the changed target holds data: {}", found.join("; "))));
    }
    let policy = policy::of(catalog, resolved.environment).await?;
    let needs = policy::needs_approval(&policy, resolved.restoration_type);
    let now = catalog.now().await?;
    let sealed = (!resolved.secrets.is_empty()).then(|| secrets.seal(&secret_context(id), &Value::Object(resolved.secrets.clone()).to_string()));
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("DELETE FROM approvals WHERE subject_type = $1 AND subject_id = $2").bind(SUBJECT).bind(id).execute(&mut *tx.tx).await?;
    let changed = sqlx::query(
        "UPDATE restoration_jobs SET backup_execution_id = $1, configuration_id = $2, restoration_type = $3, target_environment = $4, target_identifier = $5,
             restore_target_id = $6, point_in_time_target = $7, restoration_scope = $8, request = $9, secret_encrypted = $10, request_hash = $11,
             status = $12, approval_required = $13, approvals_needed = $14, require_totp = $15, approval_expires_at = $16, accept_unverified = $17,
             incident_reference = $18, notes = $19, total_size_bytes = $20, approved_by = NULL, updated_at = $21, conflict_resolution = $23
         WHERE id = $22 AND status = 'approval_required'",
    )
    .bind(&resolved.execution.id)
    .bind(&resolved.configuration.id)
    .bind(resolved.restoration_type.as_str())
    .bind(resolved.environment.as_str())
    .bind(&resolved.target_identifier)
    .bind(&resolved.restore_target_id)
    .bind(&resolved.point_in_time)
    .bind(serde_json::to_string(&resolved.scope).unwrap_or_default())
    .bind(resolved.request.to_string())
    .bind(&sealed)
    .bind(resolved.hash(options.accept_unverified, r.conflict_resolution))
    .bind(if needs { RestorationStatus::ApprovalRequired } else { RestorationStatus::Initiated }.as_str())
    .bind(i64::from(needs))
    .bind(if needs { policy.approvers_required } else { 0 })
    .bind(i64::from(needs && policy.require_totp))
    .bind(needs.then(|| time::to_text(now + chrono::Duration::hours(policy.validity_hours))))
    .bind(i64::from(options.accept_unverified))
    .bind(&options.incident_reference)
    .bind(&options.notes)
    .bind(resolved.execution.size_bytes.unwrap_or(0))
    .bind(time::to_text(now))
    .bind(id)
    .bind(r.conflict_resolution.map(|c| c.as_str()))
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(RestorationError::Conflict(format!("restoration {id} was decided while it was being changed")));
    }
    writes_over_in(&mut tx.tx, id, &resolved.over_sources).await?;
    if needs {
        // Changed, its approvals are void: its approvers are told again.
        let expires = time::to_text(now + chrono::Duration::hours(policy.validity_hours));
        let waiting = approvals::Waiting {
            id,
            configuration: &resolved.configuration.name,
            target: &resolved.target_identifier,
            environment: resolved.environment,
            restoration_type: resolved.restoration_type,
            requested_by: &actor.username,
            approvals_needed: policy.approvers_required,
            expires_at: Some(&expires),
        };
        approvals::tell_approvers_in(&mut tx.tx, &waiting).await?;
    } else {
        queue_in(&mut tx.tx, id).await?;
    }
    let detail = serde_json::json!({ "environment": resolved.environment, "target": resolved.target_identifier, "restorationType": resolved.restoration_type, "approvalsVoided": true });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "restoration.update", target_type: "restoration", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    jobs::wake_idle();
    get(catalog, actor, id).await
}

/// Cancels a restoration: one waiting for approval or queued never runs; one writing stops at
/// its next file, object or range and its target is put back as it was (from its safety
/// snapshot, or by its transaction), within a second or two.
pub async fn cancel(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Restoration, RestorationError> {
    actor.require(Role::Operator)?;
    let row = find(catalog, id).await?;
    match row.status {
        RestorationStatus::ApprovalRequired | RestorationStatus::Initiated => {}
        RestorationStatus::Running if row.rollback_of.is_some() => {
            return Err(RestorationError::Conflict(format!("restoration {id} is a rollback already putting {} back: stopping it part-way would leave the target half put back", row.target_identifier)));
        }
        RestorationStatus::Running => {
            let configuration = crate::configurations::find(catalog, &row.configuration_id).await?;
            let kind = sources::of(&configuration);
            if !stoppable(kind, &row) {
                return Err(RestorationError::Conflict(format!(
                    "restoration {id} writes a {} with no snapshot to put back: stopping it part-way would leave it half-written, so it runs to its end",
                    kind.describe().name
                )));
            }
            let job = row.job_id.as_deref().ok_or_else(|| RestorationError::Conflict(format!("restoration {id} runs without a job")))?;
            // Never dequeued: a job queued again after its node died must still run, to put
            // back what that node wrote; it starts with its stop already asked for.
            jobs::request_stop(catalog, job).await?;
            let detail = serde_json::json!({ "wasRunning": true, "target": row.target_identifier });
            audit::record(catalog, Entry { actor: &Actor::from(actor), action: "restoration.cancel", target_type: "restoration", target_id: Some(id), detail }).await?;
            return get(catalog, actor, id).await;
        }
        status => return Err(RestorationError::Conflict(format!("restoration {id} is already {status}"))),
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let now = time::now_text();
    // The worker starts a restore only from `initiated` (see `mark_running`): a cancel that
    // lands first wins, one that lands after finds it running and changes nothing.
    let changed = sqlx::query("UPDATE restoration_jobs SET status = 'cancelled', end_time = $1, updated_at = $1 WHERE id = $2 AND status IN ('approval_required', 'initiated')")
        .bind(&now)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(RestorationError::Conflict(format!("restoration {id} started before it could be cancelled")));
    }
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "restoration.cancel", target_type: "restoration", target_id: Some(id), detail: serde_json::json!({}) }).await?;
    tx.commit().await?;
    if let Some(job_id) = &row.job_id {
        // Dequeued if still queued; a worker that already claimed it finds it cancelled.
        let _ = jobs::cancel(catalog, job_id).await;
    }
    get(catalog, actor, id).await
}

/// Runs restoration `id` (the `restoration` job): whatever happens is recorded on the row, so
/// the job itself succeeds unless the catalog fails. `stop` (someone cancelled it while it
/// writes) stops the restore at its next file, object or range, and what it wrote is put back.
pub async fn run(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, id: &str, stop: CancelFlag) -> Result<RestorationStatus, RestorationError> {
    let row = find(catalog, id).await?;
    if !matches!(row.status, RestorationStatus::Initiated | RestorationStatus::Running) {
        return Ok(row.status);
    }
    // Taken over from a node that died while its recovery run has ended since (a person
    // aborted it, or it failed and rolled back): nobody wants this restore any more. Where what
    // the dead attempt wrote can be undone (put back from the safety snapshot, one transaction,
    // or a place the restore created, removed whole), it stops at its first range; otherwise
    // (a group's members, a point-in-time cluster written over) it runs to its end, as a
    // cancel would leave it.
    let abandoned = match &row.recovery_execution_id {
        Some(run) if row.status == RestorationStatus::Running && run_status(catalog, run).await?.as_deref() != Some(ACTIVE_RUN) => {
            let configuration = crate::configurations::find(catalog, &row.configuration_id).await?;
            stoppable(sources::of(&configuration), &row) || super::created::of(catalog, &row.id).await?.is_some()
        }
        _ => false,
    };
    if abandoned {
        stop.store(true, Ordering::SeqCst);
    }
    match execute(catalog, secrets, reach, &row, stop).await {
        Ok(RestorationStatus::Cancelled) if abandoned => {
            remove_abandoned(catalog, secrets, reach, &row).await?;
            Ok(RestorationStatus::Cancelled)
        }
        Ok(status) => Ok(status),
        Err(e) => {
            record_failure(catalog, &row, &e).await?;
            Ok(RestorationStatus::Failed)
        }
    }
}

/// Removes what an abandoned restoration of a recovery run created (see [`run`]), in its
/// requester's name, and says on the restoration why it stopped and what was removed.
async fn remove_abandoned(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, row: &Row) -> Result<(), RestorationError> {
    let run = row.recovery_execution_id.as_deref().unwrap_or_default();
    let why = format!("recovery run {run} ended before its restoration {} did", row.id);
    let created = super::created::of(catalog, &row.id).await?;
    // No more than the requester could do when asking, as for the restore itself.
    let actor = users::session_principal(catalog, &row.initiated_by).await?.map(|mut a| {
        a.role = a.role.min(row.initiated_role);
        a
    });
    let removed = match (&created, &actor) {
        (Some(created), Some(actor)) => match super::created::remove(catalog, secrets, reach, actor, created, &why).await {
            Ok(true) => format!("; {} it had created was removed", created.place.describe()),
            Ok(false) => String::new(),
            Err(e) => format!("; removing {} it had created failed: {e}", created.place.describe()),
        },
        (Some(created), None) => format!("; {} it created is left: {}'s account is gone", created.place.describe(), row.initiated_by_name),
        (None, _) => String::new(),
    };
    sqlx::query("UPDATE restoration_jobs SET error_message = $1 || COALESCE(error_message, '') || $2 WHERE id = $3")
        .bind(format!("taken over after {why}: "))
        .bind(removed)
        .bind(&row.id)
        .execute(catalog.pool())
        .await?;
    Ok(())
}

async fn execute(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, row: &Row, stop: CancelFlag) -> Result<RestorationStatus, RestorationError> {
    if let Some(run) = &row.recovery_execution_id {
        // Not on a takeover: what an earlier attempt wrote is put back only by running it.
        if row.status != RestorationStatus::Running {
            under_way(catalog, run).await?;
        }
    } else if row.approval_required != 0 && row.approval_override == 0 {
        let approved: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approvals WHERE subject_type = $1 AND subject_id = $2 AND decision = 'approved' AND request_hash = $3")
            .bind(SUBJECT)
            .bind(&row.id)
            .bind(&row.request_hash)
            .fetch_one(catalog.pool())
            .await?;
        if approved < row.approvals_needed {
            return Err(RestorationError::Forbidden(format!("approved by {approved} of the {} approvers this exact request needs", row.approvals_needed)));
        }
    }
    let mut actor = users::session_principal(catalog, &row.initiated_by)
        .await?
        .ok_or_else(|| RestorationError::Forbidden(format!("{}'s account is disabled or removed; request the restore again", row.initiated_by_name)))?;
    // No more than the requester could do when asking (a token below its user's role), nor now.
    actor.role = actor.role.min(row.initiated_role);
    // Resolved again: a named target changed since the request (or its approval) stops it.
    let stored: Value = serde_json::from_str(&row.request).map_err(|e| RestorationError::Invalid(format!("the stored request does not read: {e}")))?;
    let (now, secrets_now) = match &row.restore_target_id {
        Some(_) => {
            let now = request::from_seeds(catalog, secrets, reach, &actor, &row.as_request(), row.rollback_of.is_some()).await?;
            let secrets_now = now.secrets.clone();
            (now, secrets_now)
        }
        None => (request::from_door(catalog, secrets, reach, &actor, &row.backup_execution_id, stored.clone(), row.rollback_of.is_some()).await?, sealed_secrets(secrets, row)?),
    };
    if now.hash(row.accept_unverified != 0, row.conflict_resolution) != row.request_hash {
        return Err(RestorationError::Conflict("the request or its target changed after it was made (or approved); request the restore again".into()));
    }
    verified(catalog, secrets, row).await?;
    // A backup of the place may have been queued since the request (checked under the lock
    // a backup's start takes, so none slips in before it runs). Not on a takeover: an earlier
    // attempt may have written, and only running it (stopping, putting back) mends that.
    {
        // Its own scope: the serialisation is held until `tx` (not only its transaction) ends.
        let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
        if row.status != RestorationStatus::Running {
            conflicts::backed_up_now(catalog, &now).await?;
        }
        if !mark_running_in(&mut tx.tx, &row.id).await? {
            drop(tx);
            return Ok(find(catalog, &row.id).await?.status);
        }
        tx.commit().await?;
    }
    let started = Instant::now();
    let run = RestoreRun { catalog, secrets, targets: reach, actor: &actor };
    let configuration = &now.configuration;
    let full_request = request::with_secrets(now.request.clone(), &secrets_now);
    let kind = sources::of(configuration);
    if let Some(original) = &row.rollback_of {
        // Only what the original took of this very place goes back (`from_*` checked it is a
        // safety snapshot).
        let original = find(catalog, original).await?;
        if original.safety_execution_id.as_deref() != Some(row.backup_execution_id.as_str()) || original.target_identifier != row.target_identifier {
            return Err(RestorationError::Conflict("a rollback puts back only its restoration's own safety snapshot into the same place".into()));
        }
        // It may have waited for approval past the window, or another restore may have run.
        safety::may_still_roll_back(catalog, &original).await?;
        let put_back = safety::put_back(catalog, secrets, &run, &row.backup_execution_id, configuration, &full_request);
        // Never stopped part-way: that would leave the target half put back.
        let bytes = watched(catalog, row, restore::Watch::default(), put_back).await?;
        let report = serde_json::json!({ "bytes": bytes, "target": row.target_identifier, "rolledBack": row.rollback_of, "safetyExecutionId": row.backup_execution_id });
        record_completion(catalog, &actor, row, &report, started.elapsed().as_secs_f64()).await?;
        return Ok(RestorationStatus::Completed);
    }
    // Whatever the restore would write over is backed up first (checked again here: the
    // target may have changed since the request); a restore that is not one transaction is
    // backed up even into an empty place, so stopping it part-way puts the place back empty.
    let found = kind.conflicts(&run, configuration, &full_request, &now.execution).await?;
    let protect = kind.writes_over(&full_request) && (!found.is_empty() || !kind.transactional());
    let stopped = |e: &RestoreError| stop.load(Ordering::SeqCst) && matches!(e, RestoreError::Repo(RepoError::Cancelled));
    // A node that took this restore over: the target may be half-written by the earlier
    // attempt, and the snapshot taken before its first write is the one to keep.
    let taken_over = row.safety_execution_id.is_some();
    let taken = match (&row.safety_execution_id, protect) {
        (Some(earlier), _) => Some(safety::Taken { execution_id: earlier.clone(), seconds: row.safety_seconds.unwrap_or(0.0) }),
        (None, true) => {
            let policy = policy::of(catalog, row.target_environment).await?;
            let deadline = time::to_text(catalog.now().await? + chrono::Duration::hours(policy.rollback_hours));
            let taken = match safety::take(catalog, secrets, &run, row, configuration, &full_request, &deadline, &stop).await {
                Err(RestorationError::Restore(e)) if stopped(&e) => {
                    record_end(catalog, row, RestorationStatus::Cancelled, "stopped before writing anything: its target is as it was", None).await?;
                    return Ok(RestorationStatus::Cancelled);
                }
                other => other?,
            };
            sqlx::query("UPDATE restoration_jobs SET safety_execution_id = $1, safety_seconds = $2, rollback_deadline = $3 WHERE id = $4")
                .bind(&taken.execution_id)
                .bind(taken.seconds)
                .bind(&deadline)
                .bind(&row.id)
                .execute(catalog.pool())
                .await?;
            Some(taken)
        }
        (None, false) => None,
    };
    let watch = restore::Watch { stop: stop.clone(), ..Default::default() };
    let restore = sources::restore(catalog, secrets, reach, &actor, &row.backup_execution_id, full_request.clone());
    let report = match watched(catalog, row, watch.clone(), restore).await {
        Ok(report) => report,
        Err(e) => {
            let was_stopped = stopped(&e);
            // What a restore outside one transaction changed before it stopped is put back;
            // one that failed before it changed anything left its target as it was.
            let outcome = match (&taken, kind.transactional(), watch.has_touched() || taken_over) {
                (_, true, _) => "nothing was committed".to_string(),
                (_, false, false) => "nothing was written".to_string(),
                (Some(taken), false, true) => match safety::put_back(catalog, secrets, &run, &taken.execution_id, configuration, &full_request).await {
                    Ok(_) => format!("{} was put back as it was from its safety snapshot", row.target_identifier),
                    Err(again) => format!("putting {} back from its safety snapshot (execution {}) failed too: {again}; roll this restoration back", row.target_identifier, taken.execution_id),
                },
                (None, false, true) => "what it wrote is left in place".to_string(),
            };
            if was_stopped {
                record_end(catalog, row, RestorationStatus::Cancelled, &format!("stopped while writing; {outcome}"), None).await?;
                return Ok(RestorationStatus::Cancelled);
            }
            return Err(RestorationError::Failed { kind: e.kind(), message: format!("{e}; {outcome}") });
        }
    };
    record_completion(catalog, &actor, row, &report, started.elapsed().as_secs_f64()).await?;
    Ok(RestorationStatus::Completed)
}

/// Runs a restore (or a rollback) under `watch`, its bytes written to its row each second.
async fn watched<T, E>(catalog: &Catalog, row: &Row, watch: restore::Watch, work: impl std::future::Future<Output = Result<T, E>>) -> Result<T, E> {
    // Stopped with the restore, even when a worker that lost its lease drops it mid-way.
    struct Progress(tokio::task::JoinHandle<()>);
    impl Drop for Progress {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _progress = Progress(tokio::spawn(report_progress(catalog.clone(), row.id.clone(), watch.bytes.clone(), row.total_size_bytes)));
    restore::watched(watch, work).await
}


/// The backup has passed verification, or is verified now, or the request accepted it
/// unverified.
async fn verified(catalog: &Catalog, secrets: &SecretBox, row: &Row) -> Result<(), RestorationError> {
    let execution = executions::find(catalog, &row.backup_execution_id).await?;
    match execution.verification_status.as_deref() {
        Some("verified") => Ok(()),
        Some("failed") => Err(RestorationError::Invalid(format!("the backup of execution {} failed verification; restore another one", execution.id))),
        _ if row.accept_unverified != 0 => Ok(()),
        _ => {
            let report = verify::run_for_restore(catalog, secrets, &execution.id).await.map_err(|e| RestorationError::Invalid(format!("verifying the backup first failed: {e}")))?;
            match report.status.as_str() {
                "verified" => Ok(()),
                // Found damaged as it was read: the restore's own classification (the
                // repository's problem, named), nothing written.
                _ => Err(RestoreError::Damaged(format!("the backup of execution {} failed verification just now, nothing was written: {}", execution.id, report.problems.join("; "))).into()),
            }
        }
    }
}

/// Writes a running restore's bytes and percentage to its row every second, for the status
/// answer and the live events (read by any node). The percentage stops at 99 until the
/// restore is recorded complete: a partial restore writes less than the whole backup.
async fn report_progress(catalog: Catalog, id: String, counter: Arc<AtomicU64>, total: i64) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let bytes = counter.load(Ordering::Relaxed) as i64;
        let percent = if total > 0 { (bytes.saturating_mul(100) / total).clamp(0, 99) } else { 0 };
        let updated = sqlx::query("UPDATE restoration_jobs SET restored_size_bytes = $1, progress_percentage = $2 WHERE id = $3 AND status = 'running'")
            .bind(bytes)
            .bind(percent)
            .bind(&id)
            .execute(catalog.pool())
            .await;
        if let Err(e) = updated {
            tracing::warn!(restoration = %id, error = %e, "restore progress not recorded");
        }
    }
}

/// Moves a queued restoration to running; false when it was cancelled meanwhile.
async fn mark_running_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str) -> Result<bool, RestorationError> {
    let now = time::now_text();
    let changed = sqlx::query(
        "UPDATE restoration_jobs SET status = 'running', start_time = COALESCE(start_time, $1), updated_at = $1 WHERE id = $2 AND status IN ('initiated', 'running')",
    )
    .bind(&now)
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// The storage locations a restore report says it read (a group's: each member's).
fn read_locations_of(report: &Value, into: &mut std::collections::BTreeSet<String>) {
    if let Some(location) = report.get("storageLocationId").and_then(Value::as_str) {
        into.insert(location.to_string());
    }
    for member in report.get("members").and_then(Value::as_array).into_iter().flatten() {
        read_locations_of(&member["report"], into);
    }
}

/// The bytes a restore report names (a group's: its members').
fn bytes_of(report: &Value) -> i64 {
    match report.get("bytes").and_then(Value::as_i64) {
        Some(bytes) => bytes,
        None => report.get("members").and_then(Value::as_array).map(|m| m.iter().map(|m| bytes_of(&m["report"])).sum()).unwrap_or(0),
    }
}

async fn record_completion(catalog: &Catalog, actor: &Principal, row: &Row, report: &Value, seconds: f64) -> Result<(), RestorationError> {
    let rto_met = row.rto_minutes.map(|minutes| seconds <= minutes as f64 * 60.0);
    // What the restore checked as it wrote: every chunk against its id, every file and object
    // against its SHA-256, a dump inside one transaction, a cluster started and answering.
    let verification = serde_json::json!({
        "checked": row.rollback_of.as_ref().map(|_| "the safety snapshot's every chunk against its id as it was put back; what it did not hold was removed")
            .or(report.get("files").is_some().then_some("every file's chunks against their ids and the file against its SHA-256"))
            .or(report.get("recoveredTo").map(|_| "the cluster replayed its WAL and answered"))
            .unwrap_or("every chunk against its id, written in one transaction"),
        "bytes": bytes_of(report), "files": report.get("files"), "unchanged": report.get("unchanged"), "selection": report.get("selection"),
        "target": report.get("target").or(report.get("dataDirectory")), "storageLocationId": report.get("storageLocationId"),
        "unreadable": report.get("unreadable"), "durationSeconds": seconds, "rtoMinutes": row.rto_minutes, "rtoMet": rto_met,
    });
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    // Unless it was ended meanwhile (reconciled after its job was given up on).
    let changed = sqlx::query(
        "UPDATE restoration_jobs SET status = 'completed', progress_percentage = 100, restored_size_bytes = $1, verification_results = $2, report = $3,
             end_time = $4, duration_seconds = $5, updated_at = $4, rollback_available = CASE WHEN safety_execution_id IS NULL THEN 0 ELSE 1 END
         WHERE id = $6 AND status IN ('initiated', 'running')",
    )
    .bind(bytes_of(report))
    .bind(verification.to_string())
    .bind(report.to_string())
    .bind(&now)
    .bind(seconds)
    .bind(&row.id)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if changed == 0 {
        tracing::warn!(restoration = %row.id, "a restore completed after its restoration was ended; its record stands");
        return Ok(());
    }
    let mut read = std::collections::BTreeSet::new();
    read_locations_of(report, &mut read);
    for location in read {
        sqlx::query("INSERT INTO restoration_read_locations (restoration_id, location_id) VALUES ($1, $2)").bind(&row.id).bind(&location).execute(&mut *tx.tx).await?;
    }
    let detail = serde_json::json!({ "target": row.target_identifier, "environment": row.target_environment, "bytes": bytes_of(report), "durationSeconds": seconds, "rtoMet": rto_met });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "restoration.complete", target_type: "restoration", target_id: Some(&row.id), detail }).await?;
    if let Some(original) = &row.rollback_of {
        let marked = sqlx::query("UPDATE restoration_jobs SET status = 'rolled_back', rollback_available = 0, updated_at = $1 WHERE id = $2 AND status IN ('completed', 'failed', 'cancelled')")
            .bind(&now)
            .bind(original)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        let detail = serde_json::json!({ "target": row.target_identifier, "rollback": row.id, "safetyExecutionId": row.backup_execution_id });
        if marked == 1 {
            audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "restoration.rolled_back", target_type: "restoration", target_id: Some(original), detail }).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Invalid => "invalid",
        Kind::Unauthenticated => "unauthenticated",
        Kind::Forbidden => "forbidden",
        Kind::NotFound => "not_found",
        Kind::Conflict => "conflict",
        Kind::RateLimited => "rate_limited",
        Kind::Damaged => "damaged",
        Kind::Unavailable => "unavailable",
        Kind::Internal => "internal",
    }
}

async fn record_failure(catalog: &Catalog, row: &Row, error: &RestorationError) -> Result<(), RestorationError> {
    let kind = error.kind();
    // Internal causes go to the log; the row says what a person can act on.
    let message = match kind {
        Kind::Internal => {
            tracing::error!(restoration = %row.id, error = %error, "restoration failed");
            "an internal error stopped the restore (the server log has the cause)".to_string()
        }
        _ => error.to_string(),
    };
    record_end(catalog, row, RestorationStatus::Failed, &message, Some(kind)).await.map(drop)
}

/// Records how a restoration ended without completing (failed, or stopped while it wrote) and
/// how its target was left, unless it has ended already; returns whether it recorded. A safety
/// snapshot taken before stays open to a rollback until its deadline.
pub(super) async fn record_end(catalog: &Catalog, row: &Row, status: RestorationStatus, message: &str, kind: Option<Kind>) -> Result<bool, RestorationError> {
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let changed = sqlx::query(
        "UPDATE restoration_jobs SET status = $1, error_message = $2, error_kind = $3, end_time = $4, updated_at = $4,
             rollback_available = CASE WHEN safety_execution_id IS NULL THEN 0 ELSE 1 END
         WHERE id = $5 AND status IN ('initiated', 'running')",
    )
    .bind(status.as_str())
    .bind(message)
    .bind(kind.map(kind_name))
    .bind(&now)
    .bind(&row.id)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    let detail = serde_json::json!({ "target": row.target_identifier, "outcome": message });
    let action = if status == RestorationStatus::Failed { "restoration.fail" } else { "restoration.stopped" };
    let actor = Actor::from(&Principal::system("restoration"));
    audit::append(&mut tx, Entry { actor: &actor, action, target_type: "restoration", target_id: Some(&row.id), detail }).await?;
    tx.commit().await?;
    Ok(true)
}

/// How a failed restoration's recorded error classifies.
fn failure_kind(kind: Option<&str>) -> Kind {
    match kind {
        Some("invalid") => Kind::Invalid,
        Some("forbidden") => Kind::Forbidden,
        Some("not_found") => Kind::NotFound,
        Some("conflict") => Kind::Conflict,
        Some("damaged") => Kind::Damaged,
        Some("unavailable") => Kind::Unavailable,
        _ => Kind::Internal,
    }
}

/// How failed restoration `id` classifies, with its message (`None` unless it failed): a
/// recovery step tries again only what another attempt could change.
pub async fn failure(catalog: &Catalog, id: &str) -> Result<Option<(Kind, String)>, RestorationError> {
    let row = find(catalog, id).await?;
    Ok((row.status == RestorationStatus::Failed).then(|| (failure_kind(row.error_kind.as_deref()), row.error_message.unwrap_or_default())))
}

/// What an older restore door answers: the report once restored, or the restoration while it
/// waits for approval (or for a node with workers).
pub enum DoorOutcome {
    Restored(Value),
    Waiting(Restoration),
}

/// How long a door waits for a worker to take its restoration before answering with it.
const UNCLAIMED: Duration = Duration::from_secs(30);

/// An older door's restore: requested as a restoration job and waited for, so the door answers
/// as it did when it restored itself (the report, or the restore's own error) unless the
/// restoration needs approval.
pub async fn through_door(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, execution_id: &str, body: Value) -> Result<DoorOutcome, RestorationError> {
    let id = request_from_door(catalog, secrets, reach, actor, execution_id, body).await?.id;
    let started = Instant::now();
    loop {
        let row = find(catalog, &id).await?;
        match row.status {
            RestorationStatus::Completed => return Ok(DoorOutcome::Restored(row.report.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default())),
            RestorationStatus::Failed => {
                let message = row.error_message.clone().unwrap_or_default();
                return Err(RestorationError::Failed { kind: failure_kind(row.error_kind.as_deref()), message });
            }
            RestorationStatus::ApprovalRequired => return Ok(DoorOutcome::Waiting(view(catalog, row).await?)),
            RestorationStatus::Initiated if started.elapsed() > UNCLAIMED => return Ok(DoorOutcome::Waiting(view(catalog, row).await?)),
            status if status.is_finished() => return Err(RestorationError::Conflict(format!("restoration {id} was {status}"))),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// What the API and the console show of a row.
pub(super) async fn view(catalog: &Catalog, row: Row) -> Result<Restoration, RestorationError> {
    let approvals = super::approvals::of(catalog, &row.id).await?;
    let scope = row.scope();
    let (conflicts, alternatives) = row.conflicts();
    let rolled_back_by: Option<String> = sqlx::query_scalar("SELECT id FROM restoration_jobs WHERE rollback_of = $1 ORDER BY created_at DESC LIMIT 1")
        .bind(&row.id)
        .fetch_optional(catalog.pool())
        .await?;
    // Open only until the deadline.
    let seconds_left = row.rollback_deadline.as_deref().and_then(time::parse).map(|d| (d - chrono::Utc::now()).num_seconds()).filter(|s| *s > 0 && row.rollback_available != 0);
    Ok(Restoration {
        id: row.id,
        backup_execution_id: row.backup_execution_id,
        configuration_id: row.configuration_id,
        configuration_name: row.configuration_name,
        restoration_type: row.restoration_type,
        target_environment: row.target_environment,
        target_identifier: row.target_identifier,
        point_in_time_target: row.point_in_time_target,
        restoration_scope: scope,
        status: row.status,
        progress_percentage: row.progress_percentage,
        restored_size_bytes: row.restored_size_bytes,
        total_size_bytes: row.total_size_bytes,
        verification_results: row.verification_results.as_deref().and_then(|v| serde_json::from_str(v).ok()),
        error_message: row.error_message,
        rollback_available: seconds_left.is_some(),
        rollback_seconds_left: seconds_left,
        rollback_deadline: row.rollback_deadline,
        initiated_by: row.initiated_by_name,
        approved_by: row.approved_by,
        approval_required: row.approval_required != 0,
        approvals_needed: row.approvals_needed,
        require_totp: row.require_totp != 0,
        approval_expires_at: row.approval_expires_at,
        approval_override: row.approval_override != 0,
        override_reason: row.override_reason,
        accept_unverified: row.accept_unverified != 0,
        incident_reference: row.incident_reference,
        notes: row.notes,
        estimated_duration_seconds: row.estimated_duration_seconds,
        rto_minutes: row.rto_minutes,
        start_time: row.start_time,
        end_time: row.end_time,
        duration_seconds: row.duration_seconds,
        created_at: row.created_at,
        approvals,
        conflicts,
        alternatives,
        conflict_resolution: row.conflict_resolution,
        safety_execution_id: row.safety_execution_id,
        safety_seconds: row.safety_seconds,
        rollback_of: row.rollback_of,
        rolled_back_by,
    })
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Restoration, RestorationError> {
    actor.require(Role::Viewer)?;
    view(catalog, find(catalog, id).await?).await
}

/// The seeds' status answer: progress, rate and the expected end.
pub async fn progress(catalog: &Catalog, actor: &Principal, id: &str) -> Result<RestorationProgress, RestorationError> {
    let r = get(catalog, actor, id).await?;
    let elapsed = r.start_time.as_deref().and_then(time::parse).map(|s| (chrono::Utc::now() - s).num_milliseconds() as f64 / 1000.0);
    let (rate, estimated_completion) = match (r.status, elapsed) {
        (RestorationStatus::Running, Some(elapsed)) => {
            let rate = if elapsed > 0.0 { r.restored_size_bytes as f64 / elapsed } else { 0.0 };
            let left = match rate > 0.0 {
                true => (r.total_size_bytes - r.restored_size_bytes).max(0) as f64 / rate,
                false => (r.estimated_duration_seconds - elapsed).max(0.0),
            };
            // A slow start predicts absurd ends: at most a year ahead.
            let left = chrono::Duration::milliseconds((left.min(365.0 * 86400.0) * 1000.0) as i64);
            (rate, chrono::Utc::now().checked_add_signed(left).map(time::to_text))
        }
        (RestorationStatus::Completed, _) => (r.duration_seconds.filter(|d| *d > 0.0).map(|d| r.restored_size_bytes as f64 / d).unwrap_or(0.0), r.end_time.clone()),
        _ => (0.0, None),
    };
    Ok(RestorationProgress {
        restoration_id: r.id,
        status: r.status,
        progress_percentage: r.progress_percentage,
        restored_size: r.restored_size_bytes,
        total_size: r.total_size_bytes,
        rate_bytes_per_second: rate,
        estimated_completion,
        verification_results: r.verification_results,
        error_message: r.error_message,
        duration_seconds: r.duration_seconds,
        rto_minutes: r.rto_minutes,
    })
}

/// Filters of the history.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub status: Option<RestorationStatus>,
    pub environment: Option<Environment>,
    pub configuration_id: Option<String>,
    pub limit: Option<i64>,
}

/// Restorations, newest first.
pub async fn list(catalog: &Catalog, actor: &Principal, filter: &HistoryFilter) -> Result<Vec<Restoration>, RestorationError> {
    actor.require(Role::Viewer)?;
    expire_overdue(catalog).await?;
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE ($1 = '' OR r.status = $1) AND ($2 = '' OR r.target_environment = $2) AND ($3 = '' OR r.configuration_id = $3)
         ORDER BY r.created_at DESC LIMIT $4"
    );
    let rows = sqlx::query_as::<_, Row>(&sql)
        .bind(filter.status.map(|s| s.as_str()).unwrap_or(""))
        .bind(filter.environment.map(|e| e.as_str()).unwrap_or(""))
        .bind(filter.configuration_id.as_deref().unwrap_or(""))
        .bind(filter.limit.unwrap_or(100).clamp(1, 500))
        .fetch_all(catalog.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(view(catalog, row).await?);
    }
    Ok(out)
}

/// Restorations waiting for approval, queued or running.
pub async fn active(catalog: &Catalog, actor: &Principal) -> Result<Vec<Restoration>, RestorationError> {
    actor.require(Role::Viewer)?;
    expire_overdue(catalog).await?;
    let rows = sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} {FROM} WHERE r.status IN ('approval_required', 'initiated', 'running') ORDER BY r.created_at DESC"))
        .fetch_all(catalog.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(view(catalog, row).await?);
    }
    Ok(out)
}
