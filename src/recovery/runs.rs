//! Runs of a plan: started by a person (or later a health rule or a drill schedule), one at a
//! time per plan, each step recorded from the start; gates a person confirms; cancellation.
//! The engine (`engine`) does the work on the worker pool; this module is every door into it.

use bulwark_types::{ExecuteRequest, ExecutionMode, Gate, RecoveryRun, Role, RunStarted, RunStatus, StepAttempt, StepRun, StepSpec, StepStatus, StepType, TriggerType};
use serde::Deserialize;

use super::engine::JOB_KIND;
use super::{RecoveryError, document, plans, requests};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::jobs::{self, NewJob};
use crate::platform::time;

/// Run states a run is still under way in.
pub const ACTIVE: &str = "('initiated', 'in_progress', 'waiting')";

const RUN_COLUMNS: &str = "id, execution_name, plan_id, plan_version, trigger_type, execution_mode, status, incident_reference, incident_started_at, initiated_at, started_at, completed_at,
    total_duration_ms, actual_rto_seconds, actual_rpo_seconds, data_loss_amount, affected_services, recovery_steps_completed, recovery_steps_total, success_criteria_met, error_details,
    rollback_initiated, rollback_completed, initiated_by, approved_by, approval_reference";

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    execution_name: String,
    plan_id: String,
    plan_version: i64,
    trigger_type: TriggerType,
    execution_mode: ExecutionMode,
    status: RunStatus,
    incident_reference: Option<String>,
    incident_started_at: String,
    initiated_at: String,
    started_at: Option<String>,
    completed_at: Option<String>,
    total_duration_ms: Option<i64>,
    actual_rto_seconds: Option<f64>,
    actual_rpo_seconds: Option<f64>,
    data_loss_amount: i64,
    affected_services: String,
    recovery_steps_completed: i64,
    recovery_steps_total: i64,
    success_criteria_met: Option<i64>,
    error_details: Option<String>,
    rollback_initiated: i64,
    rollback_completed: i64,
    initiated_by: String,
    approved_by: Option<String>,
    approval_reference: Option<String>,
}

#[derive(sqlx::FromRow)]
struct StepRow {
    id: String,
    step_name: String,
    step_order: i64,
    step_type: StepType,
    status: StepStatus,
    critical: i64,
    dependencies: String,
    parallel_group: Option<String>,
    started_at: Option<String>,
    completed_at: Option<String>,
    duration_ms: Option<i64>,
    retry_count: i64,
    max_retries: i64,
    next_attempt_at: Option<String>,
    output_data: Option<String>,
    validation_results: Option<String>,
    error_message: Option<String>,
    gate: Option<String>,
    gate_status: Option<String>,
    rollback_status: Option<String>,
    rollback_error: Option<String>,
    rolled_back_at: Option<String>,
}

const STEP_COLUMNS: &str = "id, step_name, step_order, step_type, status, critical, dependencies, parallel_group, started_at, completed_at, duration_ms, retry_count, max_retries,
    next_attempt_at, output_data, validation_results, error_message, gate, gate_status, rollback_status, rollback_error, rolled_back_at";

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// Starts a run of a plan: its approved version (a drill may run a version not approved yet,
/// and then waits for an approver before its first step). Refused while another run of the plan
/// is under way.
pub async fn start(catalog: &Catalog, actor: &Principal, request: &ExecuteRequest) -> Result<RunStarted, RecoveryError> {
    start_signed(catalog, actor, request, None).await
}

/// An approver's sign-off of one run, beyond the plan's own approval (the procedure door's).
struct SignOff<'a> {
    approver: &'a str,
    /// How they signed: `authenticator code` or `run request <id>`.
    reference: String,
    /// The approved run request it spends, if that is how.
    request: Option<&'a requests::Approved>,
}

async fn start_signed(catalog: &Catalog, actor: &Principal, request: &ExecuteRequest, sign_off: Option<SignOff<'_>>) -> Result<RunStarted, RecoveryError> {
    actor.require(Role::Operator)?;
    let drill = request.execution_mode == ExecutionMode::Test;
    let (version, plan, approved) = plans::runnable(catalog, &request.plan_id, drill).await?;
    actor.require(plan.required_role)?;
    if drill {
        // Never a drill into production: every restore has its scratch target, or none starts.
        super::drills::check_targets(catalog, &plan).await?;
    }
    if !approved && request.trigger_type != TriggerType::Manual {
        return Err(RecoveryError::Conflict("only an approved plan runs without a person starting it".into()));
    }
    if let Some(signed) = sign_off.as_ref().and_then(|s| s.request)
        && signed.version != version
    {
        return Err(RecoveryError::Conflict(format!("approvalCode: run request {} approved version {}; the plan's approved version is now {version}: ask again", signed.id, signed.version)));
    }
    let deps = document::graph(&plan).map_err(|p| RecoveryError::Document(vec![p]))?;
    let now = catalog.now().await?;
    let incident_started_at = match request.incident_started_at.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => now,
        Some(text) => {
            let at = time::parse(text).ok_or_else(|| RecoveryError::Invalid("incidentStartedAt: an RFC 3339 time".into()))?;
            if at > now {
                return Err(RecoveryError::Invalid("incidentStartedAt: in the future".into()));
            }
            at
        }
    };
    let reference = request.incident_reference.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if reference.is_some_and(|r| r.len() > 200) {
        return Err(RecoveryError::Invalid("incidentReference: at most 200 characters".into()));
    }
    let reason = request.reason.as_deref().map(str::trim).unwrap_or("");
    if reason.len() > 2000 {
        return Err(RecoveryError::Invalid("reason: at most 2,000 characters".into()));
    }
    let affected = request.affected_systems.clone().unwrap_or_else(|| plan.affected_systems.clone());
    let id = uuid::Uuid::new_v4().to_string();
    let now_text = time::to_text(now);
    let name = format!("{} {}", if drill { "Drill of" } else { "Run of" }, plan.name);
    let trigger_event = serde_json::json!({ "reason": reason, "by": actor.username });
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let active: Option<String> = sqlx::query_scalar(&format!("SELECT id FROM recovery_executions WHERE plan_id = $1 AND status IN {ACTIVE}"))
        .bind(&request.plan_id)
        .fetch_optional(&mut *tx.tx)
        .await?;
    if let Some(other) = active {
        return Err(RecoveryError::Conflict(format!("run {other} of this plan is still under way; wait for it or cancel it")));
    }
    sqlx::query(
        "INSERT INTO recovery_executions (id, execution_name, plan_id, plan_version, trigger_type, trigger_event, execution_mode, status, incident_reference, incident_started_at,
            initiated_at, affected_services, recovery_steps_total, approved_by, approval_reference, initiated_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'initiated', $8, $9, $10, $11, $12, $13, $14, $15, $10)",
    )
    .bind(&id)
    .bind(&name)
    .bind(&request.plan_id)
    .bind(version)
    .bind(request.trigger_type.as_str())
    .bind(trigger_event.to_string())
    .bind(request.execution_mode.as_str())
    .bind(reference)
    .bind(time::to_text(incident_started_at))
    .bind(&now_text)
    .bind(serde_json::to_string(&affected).unwrap_or_default())
    .bind(plan.steps.len() as i64)
    .bind(sign_off.as_ref().map(|s| s.approver).or(approved.then_some("plan approval")))
    .bind(sign_off.as_ref().map(|s| s.reference.as_str()))
    .bind(&actor.username)
    .execute(&mut *tx.tx)
    .await?;
    if let Some(signed) = sign_off.as_ref().and_then(|s| s.request) {
        requests::spend_on(&mut tx.tx, &signed.id, &id, &now_text).await?;
    }
    for (order, (spec, deps)) in plan.steps.iter().zip(&deps).enumerate() {
        // A drill of a version nobody approved yet waits for an approver before anything
        // starts: every step without dependencies is gated.
        let gate = gate_of(spec, request.execution_mode, !approved && deps.is_empty());
        let names: Vec<&str> = deps.iter().map(|&d| plan.steps[d].name.as_str()).collect();
        sqlx::query(
            "INSERT INTO recovery_step_executions (id, execution_id, step_name, step_order, step_type, step_config, status, critical, max_retries, success_criteria, dependencies,
                parallel_group, gate, gate_status)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&id)
        .bind(&spec.name)
        .bind(order as i64)
        .bind(spec.step_type.as_str())
        .bind(spec.config.to_string())
        .bind(i64::from(spec.critical))
        .bind(spec.max_retries)
        .bind(serde_json::to_string(&spec.success_criteria).unwrap_or_default())
        .bind(serde_json::to_string(&names).unwrap_or_default())
        .bind(&spec.parallel_group)
        .bind(gate.as_ref().map(|g| serde_json::to_string(g).unwrap_or_default()))
        .bind(gate.map(|_| "required"))
        .execute(&mut *tx.tx)
        .await?;
    }
    queue_on(&mut tx.tx, &id).await?;
    let detail = serde_json::json!({ "plan": request.plan_id, "version": version, "mode": request.execution_mode, "trigger": request.trigger_type, "incidentReference": reference, "reason": reason });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery.execute", target_type: "recovery_execution", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    let execution = get(catalog, actor, &id).await?;
    let next_steps = execution.steps.iter().filter(|s| s.dependencies.is_empty()).map(|s| s.step_name.clone()).collect();
    Ok(RunStarted { success: true, execution_id: id, status: execution.status, estimated_rto: plan.estimated_rto_minutes, next_steps, execution })
}

/// The gate a step of a run waits at, if any: its own, one before every step of a
/// semi-automated run, and one for an approver before the first steps of a drill of a version
/// nobody approved.
fn gate_of(spec: &StepSpec, mode: ExecutionMode, unapproved_root: bool) -> Option<Gate> {
    if unapproved_root {
        return Some(Gate { role: Role::Approver, message: Some("This drill runs a plan version nobody has approved yet: an approver confirms it may start.".into()) });
    }
    spec.gate.clone().or_else(|| (mode == ExecutionMode::SemiAutomated).then(|| Gate { role: Role::Operator, message: Some(format!("Semi-automated run: confirm to start {}.", spec.name)) }))
}

/// Queues the engine's job for a run, unless one is queued or running already.
pub(super) async fn queue_on(conn: &mut sqlx::AnyConnection, id: &str) -> Result<(), RecoveryError> {
    // A run `waiting` has been left by its job, even if that job has not been marked done yet:
    // a decision made then needs a job of its own.
    let busy: Option<String> = sqlx::query_scalar(
        "SELECT j.id FROM recovery_executions r JOIN jobs j ON j.id = r.job_id WHERE r.id = $1 AND r.status <> 'waiting' AND j.state IN ('queued', 'running')",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if busy.is_some() {
        return Ok(());
    }
    // Steps retry inside the job; the job's own attempts are for a catalog that failed under
    // it (the engine resumes from what the catalog holds), its takeovers for nodes that die.
    let job = NewJob { priority: 1, subject_id: Some(id.to_string()), max_attempts: 3, ..NewJob::new(JOB_KIND, serde_json::json!({ "executionId": id })) };
    let job_id = jobs::enqueue_on(conn, job).await?;
    sqlx::query("UPDATE recovery_executions SET job_id = $1 WHERE id = $2").bind(&job_id).bind(id).execute(&mut *conn).await?;
    Ok(())
}

/// A run with its steps and their attempts.
pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<RecoveryRun, RecoveryError> {
    actor.require(Role::Viewer)?;
    let row: RunRow = sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM recovery_executions WHERE id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| RecoveryError::NotFound(format!("recovery execution {id}")))?;
    let steps: Vec<StepRow> = sqlx::query_as(&format!("SELECT {STEP_COLUMNS} FROM recovery_step_executions WHERE execution_id = $1 ORDER BY step_order"))
        .bind(id)
        .fetch_all(catalog.pool())
        .await?;
    let attempts: Vec<(String, i64, String, Option<String>, StepStatus, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT a.step_execution_id, a.attempt, a.started_at, a.completed_at, a.status, a.error_message, a.backoff_ms FROM recovery_step_attempts a
         JOIN recovery_step_executions s ON s.id = a.step_execution_id WHERE s.execution_id = $1 ORDER BY a.attempt",
    )
    .bind(id)
    .fetch_all(catalog.pool())
    .await?;
    let steps = steps
        .into_iter()
        .map(|s| StepRun {
                attempts: attempts
                    .iter()
                    .filter(|a| a.0 == s.id)
                    .map(|a| StepAttempt { attempt: a.1, started_at: a.2.clone(), completed_at: a.3.clone(), status: a.4, error_message: a.5.clone(), backoff_ms: a.6 })
                    .collect(),
                id: s.id,
                step_name: s.step_name,
                step_order: s.step_order,
                step_type: s.step_type,
                status: s.status,
                critical: s.critical != 0,
                dependencies: serde_json::from_str(&s.dependencies).unwrap_or_default(),
                parallel_group: s.parallel_group,
                started_at: s.started_at,
                completed_at: s.completed_at,
                duration_ms: s.duration_ms,
                retry_count: s.retry_count,
                max_retries: s.max_retries,
                next_attempt_at: s.next_attempt_at,
                // What a step saw (rows of a query, a page's body) is for the people who run
                // recoveries, not every viewer of the dashboard.
                output_data: json(s.output_data).filter(|_| actor.role >= Role::Operator),
                validation_results: json(s.validation_results).filter(|_| actor.role >= Role::Operator),
                error_message: s.error_message,
                gate: s.gate.and_then(|g| serde_json::from_str(&g).ok()),
                gate_status: s.gate_status,
                rollback_status: s.rollback_status,
                rollback_error: s.rollback_error,
                rolled_back_at: s.rolled_back_at,
        })
        .collect();
    Ok(RecoveryRun {
        id: row.id,
        execution_name: row.execution_name,
        plan_id: row.plan_id,
        plan_version: row.plan_version,
        trigger_type: row.trigger_type,
        execution_mode: row.execution_mode,
        status: row.status,
        incident_reference: row.incident_reference,
        incident_started_at: row.incident_started_at,
        initiated_at: row.initiated_at,
        started_at: row.started_at,
        completed_at: row.completed_at,
        total_duration_ms: row.total_duration_ms,
        actual_rto_seconds: row.actual_rto_seconds,
        actual_rpo_seconds: row.actual_rpo_seconds,
        data_loss_amount: row.data_loss_amount,
        affected_services: serde_json::from_str(&row.affected_services).unwrap_or_default(),
        recovery_steps_completed: row.recovery_steps_completed,
        recovery_steps_total: row.recovery_steps_total,
        success_criteria_met: row.success_criteria_met.map(|m| m != 0),
        error_details: row.error_details,
        rollback_initiated: row.rollback_initiated != 0,
        rollback_completed: row.rollback_completed != 0,
        initiated_by: row.initiated_by,
        approved_by: row.approved_by,
        approval_reference: row.approval_reference,
        steps,
    })
}

/// The plan version a run executes, and that version's author.
async fn run_plan(catalog: &Catalog, run: &RecoveryRun) -> Result<(bulwark_types::PlanDocument, String), RecoveryError> {
    let (plan, author): (String, String) = sqlx::query_as("SELECT plan, created_by FROM disaster_recovery_plan_versions WHERE plan_id = $1 AND version = $2")
        .bind(&run.plan_id)
        .bind(run.plan_version)
        .fetch_one(catalog.pool())
        .await?;
    Ok((plans::read_plan(&plan)?, author))
}

/// Which runs to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", default)]
pub struct RunFilter {
    pub plan_id: Option<String>,
    /// Only runs still under way.
    pub active: Option<bool>,
    pub limit: Option<i64>,
}

/// Runs, newest first.
pub async fn list(catalog: &Catalog, actor: &Principal, filter: &RunFilter) -> Result<Vec<RecoveryRun>, RecoveryError> {
    actor.require(Role::Viewer)?;
    let limit = filter.limit.unwrap_or(50).clamp(1, 500);
    let active = if filter.active == Some(true) { format!("AND status IN {ACTIVE}") } else { String::new() };
    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM recovery_executions WHERE ($1 = '' OR plan_id = $1) {active} ORDER BY initiated_at DESC LIMIT {limit}"
    ))
    .bind(filter.plan_id.as_deref().unwrap_or(""))
    .fetch_all(catalog.pool())
    .await?;
    let mut runs = Vec::with_capacity(ids.len());
    for id in ids {
        runs.push(get(catalog, actor, &id).await?);
    }
    Ok(runs)
}

/// A person's decision at a step's gate (or about a step interrupted by a node that died).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateAction {
    /// Go on: start the step (an interrupted one runs again).
    Confirm,
    /// Stop the run here and roll back what it did.
    Abort,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateDecision {
    pub action: GateAction,
}

/// Confirms or aborts at a waiting step. The gate's role decides who may.
pub async fn decide(catalog: &Catalog, actor: &Principal, id: &str, step_id: &str, action: GateAction) -> Result<RecoveryRun, RecoveryError> {
    actor.require(Role::Operator)?;
    let run = get(catalog, actor, id).await?;
    let step = run.steps.iter().find(|s| s.id == step_id).ok_or_else(|| RecoveryError::NotFound(format!("step {step_id} of recovery execution {id}")))?;
    if !matches!(step.status, StepStatus::Waiting | StepStatus::Interrupted) {
        return Err(RecoveryError::Conflict(format!("step {} is {}, not waiting for a person", step.step_name, step.status)));
    }
    let (plan, author) = run_plan(catalog, &run).await?;
    let role = step.gate.as_ref().map(|g| g.role).unwrap_or(Role::Operator).max(plan.required_role);
    actor.require(role)?;
    // An approver's gate is a second pair of eyes: not the person who started the run, nor
    // the one who wrote the version it runs.
    if role >= Role::Approver && action == GateAction::Confirm && (actor.username == run.initiated_by || actor.username == author) {
        return Err(RecoveryError::Forbidden(format!("{} started this run or wrote its plan; another approver confirms this step", actor.username)));
    }
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    match action {
        GateAction::Confirm => {
            let moved = sqlx::query(
                "UPDATE recovery_step_executions SET status = 'pending', gate_status = 'confirmed', gate_decided_by = $1, gate_decided_at = $2 WHERE id = $3 AND status IN ('waiting', 'interrupted')",
            )
            .bind(&actor.username)
            .bind(&now)
            .bind(step_id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Err(RecoveryError::Conflict("someone else decided first".into()));
            }
        }
        GateAction::Abort => {
            sqlx::query("UPDATE recovery_step_executions SET gate_status = 'aborted', gate_decided_by = $1, gate_decided_at = $2 WHERE id = $3").bind(&actor.username).bind(&now).bind(step_id).execute(&mut *tx.tx).await?;
            sqlx::query("UPDATE recovery_executions SET cancel_requested = 1 WHERE id = $1").bind(id).execute(&mut *tx.tx).await?;
        }
    }
    queue_on(&mut tx.tx, id).await?;
    let detail = serde_json::json!({ "step": step.step_name, "action": action == GateAction::Confirm });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery.gate", target_type: "recovery_execution", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    get(catalog, actor, id).await
}

/// Stops a run: the steps under way are told to stop, and what the run did is rolled back.
/// The plan's required role decides who may.
pub async fn cancel(catalog: &Catalog, actor: &Principal, id: &str) -> Result<RecoveryRun, RecoveryError> {
    actor.require(Role::Operator)?;
    let run = get(catalog, actor, id).await?;
    actor.require(run_plan(catalog, &run).await?.0.required_role)?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let asked = sqlx::query(&format!("UPDATE recovery_executions SET cancel_requested = 1 WHERE id = $1 AND status IN {ACTIVE}")).bind(id).execute(&mut *tx.tx).await?.rows_affected();
    if asked == 0 {
        return Err(match get(catalog, actor, id).await {
            Ok(run) => RecoveryError::Conflict(format!("the run is {} already", run.status)),
            Err(e) => e,
        });
    }
    let job: Option<String> = sqlx::query_scalar("SELECT job_id FROM recovery_executions WHERE id = $1").bind(id).fetch_one(&mut *tx.tx).await?;
    queue_on(&mut tx.tx, id).await?;
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery.cancel", target_type: "recovery_execution", target_id: Some(id), detail: serde_json::json!({}) }).await?;
    tx.commit().await?;
    // The job under way (if any) stops at its next look at its flag.
    if let Some(job) = job {
        let _ = jobs::request_stop(catalog, &job).await;
    }
    get(catalog, actor, id).await
}

/// The backup seeds' `POST /api/admin/backups/disaster-recovery/execute`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcedureExecute {
    /// The plan's id.
    pub procedure_id: String,
    pub disaster_type: bulwark_types::DisasterType,
    #[serde(default)]
    pub affected_systems: Vec<String>,
    #[serde(default)]
    pub incident_reference: Option<String>,
    /// An approver's sign-off, never a shared code: either the id of a run request an approver
    /// approved ahead (`POST /api/disaster-recovery/requests`, spent by this run), or
    /// `<approver's user name>:<their current authenticator code>`. The approver is someone
    /// other than the requester.
    pub approval_code: String,
}

/// The seeds' answer.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcedureStarted {
    pub execution_id: String,
    pub status: RunStatus,
    /// Minutes.
    #[serde(rename = "estimatedRTO")]
    pub estimated_rto: i64,
    pub next_steps: Vec<String>,
}

/// Runs a plan as the backup seeds' procedure door does: the disaster type must be the plan's,
/// and an approver other than the requester has signed off, ahead (an approved run request)
/// or now (their authenticator code).
pub async fn start_procedure(catalog: &Catalog, secrets: &crate::platform::secrets::SecretBox, actor: &Principal, request: &ProcedureExecute) -> Result<ProcedureStarted, RecoveryError> {
    actor.require(Role::Operator)?;
    let (_, plan, _) = plans::runnable(catalog, &request.procedure_id, false).await?;
    if plan.disaster_type != request.disaster_type {
        return Err(RecoveryError::Invalid(format!("disasterType: the procedure is for {}, not {}", plan.disaster_type, request.disaster_type)));
    }
    let code = request.approval_code.trim();
    let asked = (!request.affected_systems.is_empty()).then(|| request.affected_systems.clone());
    let mut execute = ExecuteRequest {
        plan_id: request.procedure_id.clone(),
        trigger_type: TriggerType::Manual,
        reason: None,
        execution_mode: ExecutionMode::Manual,
        incident_reference: request.incident_reference.clone(),
        incident_started_at: None,
        affected_systems: asked,
    };
    let started = if code.contains(':') {
        let approver = confirm_approver(catalog, secrets, actor, code).await?;
        execute.reason = Some(format!("{} procedure, approved by {approver}", request.disaster_type));
        start_signed(catalog, actor, &execute, Some(SignOff { approver: &approver, reference: "authenticator code".into(), request: None })).await?
    } else if uuid::Uuid::parse_str(code).is_ok() {
        let approved = requests::check(catalog, actor, code, &request.procedure_id, request.disaster_type).await?;
        // The run is what the approver approved: the request's reason, incident and systems.
        execute.reason = Some(format!("{} (run request approved by {})", approved.reason, approved.approver));
        execute.incident_reference = approved.incident_reference.clone();
        execute.affected_systems = Some(approved.affected_systems.clone());
        let sign_off = SignOff { approver: &approved.approver, reference: format!("run request {}", approved.id), request: Some(&approved) };
        start_signed(catalog, actor, &execute, Some(sign_off)).await?
    } else {
        return Err(RecoveryError::Invalid("approvalCode: the id of an approved run request, or <approver's user name>:<their authenticator code>".into()));
    };
    Ok(ProcedureStarted { execution_id: started.execution_id, status: started.status, estimated_rto: started.estimated_rto, next_steps: started.next_steps })
}

/// Checks `<user>:<code>`: an approver (or admin) other than the requester, whose
/// authenticator's code it is. Answers the approver's name.
async fn confirm_approver(catalog: &Catalog, secrets: &crate::platform::secrets::SecretBox, actor: &Principal, approval_code: &str) -> Result<String, RecoveryError> {
    // One answer for every refusal: nobody learns who exists or has a second factor.
    let refused = || RecoveryError::Forbidden("approvalCode: not a current authenticator code of an approver".into());
    let (name, code) = approval_code
        .split_once(':')
        .ok_or_else(|| RecoveryError::Invalid("approvalCode: <approver's user name>:<their authenticator code>".into()))?;
    if name == actor.username {
        return Err(RecoveryError::Forbidden("approvalCode: another person approves a procedure you run".into()));
    }
    let user: Option<(String, String, i64)> = sqlx::query_as("SELECT id, role, disabled FROM users WHERE username = $1").bind(name).fetch_optional(catalog.pool()).await?;
    let approver = user.filter(|(_, role, disabled)| *disabled == 0 && crate::platform::auth::role_named(role).is_ok_and(|r| r >= Role::Approver));
    // Checked (and counted against the requester) even for a name that is no approver, so
    // the answer's time says nothing either.
    let approver_id = approver.as_ref().map(|(id, _, _)| id.as_str()).unwrap_or("");
    if !crate::platform::accounts::totp::confirm_for(catalog, secrets, approver_id, &actor.user_id, code.trim()).await? || approver.is_none() {
        return Err(refused());
    }
    Ok(name.to_string())
}

/// The disaster-recovery seeds' `POST /api/disaster-recovery/failovers/initiate`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverRequest {
    /// What fails: a system one approved plan lists in its `affectedSystems`.
    pub source_system: String,
    pub target_system: String,
    pub reason: String,
    #[serde(default)]
    pub automated: bool,
}

/// A failover under way: the run of the plan that does it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverInitiated {
    pub source_system: String,
    pub target_system: String,
    pub reason: String,
    pub automated: bool,
    pub status: RunStatus,
    pub plan_id: String,
    pub execution_id: String,
}

/// Starts the failover of `source_system`: the run of the one approved plan that lists it
/// among its affected systems and moves a database or traffic. The failover event is written
/// when the run ends.
pub async fn initiate_failover(catalog: &Catalog, actor: &Principal, request: &FailoverRequest) -> Result<FailoverInitiated, RecoveryError> {
    actor.require(Role::Operator)?;
    let source = request.source_system.trim();
    let reason = request.reason.trim();
    if source.is_empty() || source.len() > 100 {
        return Err(RecoveryError::Invalid("sourceSystem: 1 to 100 characters".into()));
    }
    if reason.is_empty() {
        return Err(RecoveryError::Invalid("reason: say why".into()));
    }
    let approved: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.id, v.plan FROM disaster_recovery_plans p JOIN disaster_recovery_plan_versions v ON v.plan_id = p.id AND v.version = p.approved_version
         WHERE p.is_active = 1 AND v.approval_status = 'approved' ORDER BY p.plan_name",
    )
    .fetch_all(catalog.pool())
    .await?;
    let mut matching = Vec::new();
    for (id, plan) in approved {
        let plan = plans::read_plan(&plan)?;
        let moves = plan.steps.iter().any(|s| matches!(s.step_type, StepType::DatabaseFailover | StepType::LoadBalancerConfig | StepType::DnsUpdate));
        if moves && plan.affected_systems.iter().any(|s| s == source) {
            matching.push(id);
        }
    }
    let plan_id = match matching.as_slice() {
        [one] => one.clone(),
        [] => return Err(RecoveryError::NotFound(format!("an approved plan that fails {source:?} over (list it in a plan's affectedSystems)"))),
        _ => return Err(RecoveryError::Conflict(format!("{} approved plans fail {source:?} over: start one with POST /api/disaster-recovery/execute", matching.len()))),
    };
    let started = start(
        catalog,
        actor,
        &ExecuteRequest {
            plan_id: plan_id.clone(),
            trigger_type: if request.automated { TriggerType::Automated } else { TriggerType::Manual },
            reason: Some(format!("{reason} ({source} → {})", request.target_system.trim())),
            execution_mode: if request.automated { ExecutionMode::FullyAutomated } else { ExecutionMode::Manual },
            incident_reference: None,
            incident_started_at: None,
            affected_systems: Some(vec![source.to_string()]),
        },
    )
    .await?;
    Ok(FailoverInitiated {
        source_system: source.to_string(),
        target_system: request.target_system.trim().to_string(),
        reason: reason.to_string(),
        automated: request.automated,
        status: started.status,
        plan_id,
        execution_id: started.execution_id,
    })
}
