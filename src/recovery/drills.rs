//! Drills: runs of a plan in test mode. Every `backup_restore` step restores into the scratch
//! target the plan's `drill.targets` maps its production target to (a drill of a plan that maps
//! none is refused when it starts, naming the step), and its cleanup steps run whatever happens
//! (`engine`). A drill is started by hand, or scheduled (the seeds' `tests/schedule`: a
//! `recovery_testing_results` row waiting, and a `recovery.drill` job due at its test date that
//! starts it in the name of the person who scheduled it).
//!
//! When a drill ends, [`record`] leaves its result in the seeds' fields: the objectives (it
//! completed, and its actual RTO and RPO are within the plan's estimates), whether every
//! validation step passed, the failed steps as issues, recommendations (the RTO missed by how
//! much and which step took longest), and when the next drill is due by the plan's
//! `drill.schedule`; the plan's `last_tested`, `last_test_results` and `next_drill_at` follow.

use bulwark_types::{ExecuteRequest, ExecutionMode, PlanDocument, RecoveryRun, Role, StepType, TriggerType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::steps::{self, backup_restore};
use super::{RecoveryError, plans, runs};
use crate::platform::accounts::users;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::jobs::{self, NewJob};
use crate::platform::time;
use crate::restoration::{Environment, targets};
use crate::schedule::Schedule;

/// The job that starts a scheduled drill at its test date.
pub const JOB_KIND: &str = "recovery.drill";

/// The seeds' test types. Bulwark runs `simulation`: the plan's steps, for real, against its
/// scratch targets. The others are held by people.
const TEST_TYPES: [&str; 5] = ["tabletop_exercise", "walkthrough", "simulation", "parallel_test", "full_interruption"];
const SIMULATION: &str = "simulation";

/// Refuses a drill of `plan` unless every `backup_restore` step's target has a scratch
/// stand-in in `drill.targets` that exists and is not a production target; each problem names
/// its step and target.
pub async fn check_targets(catalog: &Catalog, plan: &PlanDocument) -> Result<(), RecoveryError> {
    let mapped = plan.drill.as_ref().map(|d| d.targets.clone()).unwrap_or_default();
    let mut problems = Vec::new();
    for step in plan.steps.iter().filter(|s| s.step_type == StepType::BackupRestore) {
        let config: backup_restore::Config = steps::parse(&step.config).map_err(|p| RecoveryError::Invalid(format!("step `{}`, config.{}: {}", step.name, p.field, p.message)))?;
        let name = config.target_name();
        let Some(scratch) = mapped.get(name) else {
            problems.push(format!("step `{}` restores into {name:?}, and drill.targets maps no scratch target for it; a drill never restores into production", step.name));
            continue;
        };
        let found = targets::named(catalog, scratch).await.map_err(|e| match e {
            targets::TargetError::Catalog(c) => RecoveryError::Catalog(c),
            other => RecoveryError::Invalid(other.to_string()),
        })?;
        match found {
            None => problems.push(format!("step `{}`: drill.targets maps {name:?} to {scratch:?}, and no restore target is named so", step.name)),
            Some(target) if target.environment == Environment::Production => {
                problems.push(format!("step `{}`: drill.targets maps {name:?} to {scratch:?}, a production target; a drill restores only into scratch targets", step.name))
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(RecoveryError::Invalid(problems.join("; "))) }
}

/// A drill's result, in the seeds' fields (times as seconds).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillTest {
    pub id: String,
    pub test_name: String,
    pub test_type: String,
    pub plan_id: String,
    pub plan_name: String,
    /// scheduled, running, passed (objectives met), warning (completed, objectives missed),
    /// failed, cancelled.
    pub status: String,
    pub test_date: String,
    pub test_duration_ms: Option<i64>,
    #[schema(value_type = Object)]
    pub test_scope: Value,
    pub objectives_met: bool,
    pub actual_rto_seconds: Option<f64>,
    pub target_rto_seconds: Option<f64>,
    pub actual_rpo_seconds: Option<f64>,
    pub target_rpo_seconds: Option<f64>,
    pub data_integrity_validated: bool,
    pub service_availability: Option<f64>,
    pub issues_identified: Vec<String>,
    pub recommendations: Vec<String>,
    #[schema(value_type = Object)]
    pub test_results: Value,
    pub participants: Vec<String>,
    /// The user who scheduled or ran it.
    pub test_lead: Option<String>,
    /// The run.
    pub execution_id: Option<String>,
    pub next_test_date: Option<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    test_name: String,
    test_type: String,
    plan_id: String,
    plan_name: String,
    status: String,
    test_date: String,
    test_duration_ms: Option<i64>,
    test_scope: String,
    objectives_met: i64,
    actual_rto_seconds: Option<f64>,
    target_rto_seconds: Option<f64>,
    actual_rpo_seconds: Option<f64>,
    target_rpo_seconds: Option<f64>,
    data_integrity_validated: i64,
    service_availability: Option<f64>,
    issues_identified: String,
    recommendations: String,
    test_results: String,
    participants: String,
    test_lead: Option<String>,
    execution_id: Option<String>,
    next_test_date: Option<String>,
    created_at: String,
    job_id: Option<String>,
}

const COLUMNS: &str = "t.id, t.test_name, t.test_type, t.plan_id, p.plan_name, t.status, t.test_date, t.test_duration_ms, t.test_scope, t.objectives_met, t.actual_rto_seconds,
    t.target_rto_seconds, t.actual_rpo_seconds, t.target_rpo_seconds, t.data_integrity_validated, t.service_availability, t.issues_identified, t.recommendations,
    t.test_results, t.participants, t.test_lead, t.execution_id, t.next_test_date, t.created_at, t.job_id";
const FROM: &str = "FROM recovery_testing_results t JOIN disaster_recovery_plans p ON p.id = t.plan_id";

impl Row {
    fn view(self) -> DrillTest {
        let json = |text: &str| serde_json::from_str::<Value>(text).unwrap_or_default();
        let list = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
        DrillTest {
            test_scope: json(&self.test_scope),
            test_results: json(&self.test_results),
            issues_identified: list(&self.issues_identified),
            recommendations: list(&self.recommendations),
            participants: list(&self.participants),
            id: self.id,
            test_name: self.test_name,
            test_type: self.test_type,
            plan_id: self.plan_id,
            plan_name: self.plan_name,
            status: self.status,
            test_date: self.test_date,
            test_duration_ms: self.test_duration_ms,
            objectives_met: self.objectives_met != 0,
            actual_rto_seconds: self.actual_rto_seconds,
            target_rto_seconds: self.target_rto_seconds,
            actual_rpo_seconds: self.actual_rpo_seconds,
            target_rpo_seconds: self.target_rpo_seconds,
            data_integrity_validated: self.data_integrity_validated != 0,
            service_availability: self.service_availability,
            test_lead: self.test_lead,
            execution_id: self.execution_id,
            next_test_date: self.next_test_date,
            created_at: self.created_at,
        }
    }
}

async fn find(catalog: &Catalog, id: &str) -> Result<Row, RecoveryError> {
    sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} {FROM} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| RecoveryError::NotFound(format!("recovery test {id}")))
}

/// The next drill of `plan_id`: the earliest one scheduled, or the plan's `drill.schedule`'s
/// next slot after `now`.
pub(super) async fn next_drill(catalog: &Catalog, plan_id: &str, plan: &PlanDocument, now: chrono::DateTime<chrono::Utc>) -> Result<Option<String>, RecoveryError> {
    let scheduled: Option<String> = sqlx::query_scalar("SELECT MIN(test_date) FROM recovery_testing_results WHERE plan_id = $1 AND status = 'scheduled'").bind(plan_id).fetch_one(catalog.pool()).await?;
    let by_schedule = plan.drill.as_ref().and_then(|d| d.schedule.as_deref()).and_then(|s| Schedule::parse(s).ok()).and_then(|s| s.next_after(now)).map(time::to_text);
    Ok([scheduled, by_schedule].into_iter().flatten().min())
}

/// The finished run, as its result reads it.
#[derive(sqlx::FromRow)]
struct RunRow {
    plan_id: String,
    plan_version: i64,
    status: String,
    initiated_at: String,
    completed_at: Option<String>,
    total_duration_ms: Option<i64>,
    actual_rto_seconds: Option<f64>,
    actual_rpo_seconds: Option<f64>,
    initiated_by: String,
    error_details: Option<String>,
}

/// A step of the finished run, as the result reads it.
#[derive(sqlx::FromRow)]
struct StepRow {
    step_name: String,
    step_type: StepType,
    status: String,
    duration_ms: Option<i64>,
    error_message: Option<String>,
    rollback_status: Option<String>,
    rollback_error: Option<String>,
}

/// Records the result of drill run `run_id` (of `plan`), once it has ended: the row it was
/// scheduled as, or a new one; and the plan's last test and next drill.
pub async fn record(catalog: &Catalog, run_id: &str, plan: &PlanDocument) -> Result<(), RecoveryError> {
    let RunRow { plan_id, plan_version: version, status, initiated_at, completed_at, total_duration_ms: duration, actual_rto_seconds: rto, actual_rpo_seconds: rpo, initiated_by: by, error_details: error } =
        sqlx::query_as(
            "SELECT plan_id, plan_version, status, initiated_at, completed_at, total_duration_ms, actual_rto_seconds, actual_rpo_seconds, initiated_by, error_details
             FROM recovery_executions WHERE id = $1",
        )
        .bind(run_id)
        .fetch_one(catalog.pool())
        .await?;
    let steps: Vec<StepRow> = sqlx::query_as(
        "SELECT step_name, step_type, status, duration_ms, error_message, rollback_status, rollback_error FROM recovery_step_executions WHERE execution_id = $1 ORDER BY step_order",
    )
    .bind(run_id)
    .fetch_all(catalog.pool())
    .await?;
    let (target_rto, target_rpo) = ((plan.estimated_rto_minutes * 60) as f64, (plan.estimated_rpo_minutes * 60) as f64);
    let completed = status == "completed";
    let rto_met = rto.is_some_and(|r| r <= target_rto);
    // A plan that restores nothing reports no RPO: nothing was lost.
    let rpo_met = rpo.is_none_or(|r| r <= target_rpo);
    let objectives_met = completed && rto_met && rpo_met;
    let validations: Vec<&StepRow> = steps.iter().filter(|s| s.step_type == StepType::Validation).collect();
    let integrity = !validations.is_empty() && validations.iter().all(|s| s.status == "completed");

    let mut issues = Vec::new();
    for step in &steps {
        if step.status == "failed" {
            issues.push(format!("step `{}` failed: {}", step.step_name, step.error_message.as_deref().unwrap_or("no error recorded")));
        }
        if step.rollback_status.as_deref() == Some("failed") {
            issues.push(format!("rolling back step `{}` failed: {}", step.step_name, step.rollback_error.as_deref().unwrap_or("no error recorded")));
        }
    }
    if !completed {
        issues.push(format!("the drill ended {status}: {}", error.as_deref().unwrap_or("no reason recorded")));
    }
    let mut recommendations = Vec::new();
    let longest = steps.iter().filter(|s| s.duration_ms.is_some()).max_by_key(|s| s.duration_ms);
    match rto {
        Some(rto) if rto > target_rto => {
            issues.push(format!("the RTO was missed: {rto:.1} s against a target of {target_rto:.0} s"));
            let slowest = longest.map(|s| format!("; the longest step, `{}`, took {:.1} s", s.step_name, s.duration_ms.unwrap_or(0) as f64 / 1000.0)).unwrap_or_default();
            recommendations.push(format!("The RTO was missed by {:.1} s{slowest}: make it faster, run independent steps in a parallel group, or raise estimatedRtoMinutes to what the plan can do.", rto - target_rto));
        }
        _ => {}
    }
    if let Some(rpo) = rpo.filter(|r| *r > target_rpo) {
        issues.push(format!("the RPO was missed: the data restored was {rpo:.0} s old against a target of {target_rpo:.0} s"));
        recommendations.push(format!("The RPO was missed by {:.0} s: back the data up more often, or archive its WAL continuously.", rpo - target_rpo));
    }
    if validations.is_empty() {
        recommendations.push("No validation step checked the recovered data: add one (a SQL count, an HTTP check) so a drill proves the data, not only the steps.".into());
    }
    for step in steps.iter().filter(|s| s.status == "failed") {
        recommendations.push(format!("Fix step `{}` and run the drill again.", step.step_name));
    }
    let now = catalog.now().await?;
    let next = next_drill(catalog, &plan_id, plan, now).await?;
    let result = match (completed, objectives_met, status.as_str()) {
        (true, true, _) => "passed",
        (true, false, _) => "warning",
        (false, _, "cancelled") => "cancelled",
        _ => "failed",
    };
    let test_results = json!({
        "executionId": run_id, "planVersion": version, "runStatus": status, "error": error,
        "steps": steps.iter().map(|s| json!({ "name": s.step_name, "type": s.step_type, "status": s.status, "durationMs": s.duration_ms, "error": s.error_message })).collect::<Vec<_>>(),
    });
    let scope = json!({ "steps": plan.steps.iter().map(|s| &s.name).collect::<Vec<_>>(), "drillTargets": plan.drill.as_ref().map(|d| &d.targets) });
    let lead: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1").bind(&by).fetch_optional(catalog.pool()).await?;
    let to_text = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let now_text = time::to_text(now);
    let mut tx = catalog.pool().begin().await?;
    // The row it was scheduled as: found by the run, or (its start not recorded yet) as the
    // plan's drill being started, of which there is one at a time.
    let updated = sqlx::query(
        "UPDATE recovery_testing_results SET status = $1, test_duration_ms = $2, objectives_met = $3, actual_rto_seconds = $4, target_rto_seconds = $5,
            actual_rpo_seconds = $6, target_rpo_seconds = $7, data_integrity_validated = $8, issues_identified = $9, recommendations = $10, test_results = $11,
            next_test_date = $12, execution_id = $13
         WHERE execution_id = $13 OR (plan_id = $14 AND status = 'running' AND execution_id IS NULL)",
    )
    .bind(result)
    .bind(duration)
    .bind(i64::from(objectives_met))
    .bind(rto)
    .bind(target_rto)
    .bind(rpo)
    .bind(target_rpo)
    .bind(i64::from(integrity))
    .bind(to_text(&issues))
    .bind(to_text(&recommendations))
    .bind(test_results.to_string())
    .bind(&next)
    .bind(run_id)
    .bind(&plan_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        sqlx::query(
            "INSERT INTO recovery_testing_results (id, test_name, test_type, plan_id, status, test_date, test_duration_ms, test_scope, objectives_met, actual_rto_seconds,
                target_rto_seconds, actual_rpo_seconds, target_rpo_seconds, data_integrity_validated, issues_identified, recommendations, test_results, participants,
                test_lead, execution_id, next_test_date, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(format!("Drill of {} v{version}", plan.name))
        .bind(SIMULATION)
        .bind(&plan_id)
        .bind(result)
        .bind(&initiated_at)
        .bind(duration)
        .bind(scope.to_string())
        .bind(i64::from(objectives_met))
        .bind(rto)
        .bind(target_rto)
        .bind(rpo)
        .bind(target_rpo)
        .bind(i64::from(integrity))
        .bind(to_text(&issues))
        .bind(to_text(&recommendations))
        .bind(test_results.to_string())
        .bind(to_text(std::slice::from_ref(&by)))
        .bind(&lead)
        .bind(run_id)
        .bind(&next)
        .bind(&now_text)
        .execute(&mut *tx)
        .await?;
    }
    let last = json!({ "executionId": run_id, "status": result, "objectivesMet": objectives_met, "dataIntegrityValidated": integrity, "issues": issues.len() });
    sqlx::query("UPDATE disaster_recovery_plans SET last_tested = $1, last_test_results = $2, next_drill_at = $3 WHERE id = $4")
        .bind(completed_at.as_deref().unwrap_or(&now_text))
        .bind(last.to_string())
        .bind(&next)
        .bind(&plan_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The seeds' filters of `GET /api/disaster-recovery/tests`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TestFilter {
    /// tabletop_exercise, walkthrough, simulation, parallel_test or full_interruption.
    pub test_type: Option<String>,
    pub plan_id: Option<String>,
}

/// What the listed tests add up to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillSummary {
    pub total: i64,
    pub scheduled: i64,
    pub running: i64,
    pub passed: i64,
    pub warning: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Of the finished tests, the share that met their objectives, in percent.
    pub objectives_met_rate: Option<f64>,
    pub average_rto_seconds: Option<f64>,
    pub average_rpo_seconds: Option<f64>,
    pub last_test_date: Option<String>,
    pub next_test_date: Option<String>,
}

fn test_type(text: &str) -> Result<&str, RecoveryError> {
    TEST_TYPES.iter().copied().find(|t| *t == text).ok_or_else(|| RecoveryError::Invalid(format!("testType: one of {}, not {text:?}", TEST_TYPES.join(", "))))
}

/// Tests newest first, with their summary.
pub async fn list(catalog: &Catalog, actor: &Principal, filter: &TestFilter) -> Result<(Vec<DrillTest>, DrillSummary), RecoveryError> {
    actor.require(Role::Viewer)?;
    let wanted = match filter.test_type.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => test_type(t)?,
        None => "",
    };
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} {FROM} WHERE ($1 = '' OR t.test_type = $1) AND ($2 = '' OR t.plan_id = $2) ORDER BY t.test_date DESC LIMIT 500"))
        .bind(wanted)
        .bind(filter.plan_id.as_deref().unwrap_or(""))
        .fetch_all(catalog.pool())
        .await?;
    let tests: Vec<DrillTest> = rows.into_iter().map(Row::view).collect();
    let summary = summarize(&tests);
    Ok((tests, summary))
}

fn summarize(tests: &[DrillTest]) -> DrillSummary {
    let count = |status: &str| tests.iter().filter(|t| t.status == status).count() as i64;
    let finished: Vec<&DrillTest> = tests.iter().filter(|t| !matches!(t.status.as_str(), "scheduled" | "running")).collect();
    let average = |values: Vec<f64>| (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    DrillSummary {
        total: tests.len() as i64,
        scheduled: count("scheduled"),
        running: count("running"),
        passed: count("passed"),
        warning: count("warning"),
        failed: count("failed"),
        cancelled: count("cancelled"),
        objectives_met_rate: (!finished.is_empty()).then(|| finished.iter().filter(|t| t.objectives_met).count() as f64 * 100.0 / finished.len() as f64),
        average_rto_seconds: average(finished.iter().filter_map(|t| t.actual_rto_seconds).collect()),
        average_rpo_seconds: average(finished.iter().filter_map(|t| t.actual_rpo_seconds).collect()),
        last_test_date: finished.iter().map(|t| t.test_date.clone()).max(),
        next_test_date: tests.iter().filter(|t| t.status == "scheduled").map(|t| t.test_date.clone()).min(),
    }
}

/// The seeds' `POST /api/disaster-recovery/tests/schedule`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleTest {
    pub plan_id: String,
    /// `simulation`: Bulwark runs the plan as a drill against its scratch targets.
    pub test_type: String,
    /// When it starts (RFC 3339).
    pub test_date: String,
    /// What the drill covers, as the people running it describe it.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub test_scope: Option<Value>,
    #[serde(default)]
    pub participants: Vec<String>,
}

/// Schedules a drill of a plan: a `scheduled` row and the job that starts it at its test date.
/// Refused at once when the plan could not run as a drill (no scratch target for a restore).
pub async fn schedule(catalog: &Catalog, actor: &Principal, request: &ScheduleTest) -> Result<DrillTest, RecoveryError> {
    actor.require(Role::Operator)?;
    if test_type(request.test_type.trim())? != SIMULATION {
        return Err(RecoveryError::Invalid(format!(
            "testType: Bulwark runs simulation drills (the plan's steps against its scratch targets); a {} is held by people, not run",
            request.test_type.trim()
        )));
    }
    let now = catalog.now().await?;
    let at = time::parse(request.test_date.trim()).ok_or_else(|| RecoveryError::Invalid("testDate: an RFC 3339 time, e.g. 2026-11-23T02:00:00Z".into()))?;
    if at < now - chrono::Duration::minutes(1) {
        return Err(RecoveryError::Invalid("testDate: in the past; use executeTest to run a drill now".into()));
    }
    let scope = request.test_scope.clone().unwrap_or_else(|| json!({}));
    if !scope.is_object() || scope.to_string().len() > 10_000 {
        return Err(RecoveryError::Invalid("testScope: an object, at most 10,000 characters".into()));
    }
    if request.participants.len() > 50 || request.participants.iter().any(|p| p.trim().is_empty() || p.chars().count() > 200 || p.chars().any(char::is_control)) {
        return Err(RecoveryError::Invalid("participants: up to 50 names, each 1 to 200 characters".into()));
    }
    let (version, plan, approved) = plans::runnable(catalog, &request.plan_id, true).await?;
    actor.require(plan.required_role)?;
    if !approved {
        // Nobody is there to confirm a version no approver has seen when it starts.
        return Err(RecoveryError::Conflict("the plan has no approved version: a scheduled drill starts by itself, so approve one first (or start a drill by hand)".into()));
    }
    check_targets(catalog, &plan).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let (at_text, now_text) = (time::to_text(at), time::to_text(now));
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    // Started by its job at the test date, once (a drill that fails is recorded, not retried).
    let job = NewJob { subject_id: Some(id.clone()), run_at: Some(at), max_attempts: 1, ..NewJob::new(JOB_KIND, json!({ "testId": id })) };
    let job_id = jobs::enqueue_on(&mut tx.tx, job).await?;
    sqlx::query(
        "INSERT INTO recovery_testing_results (id, test_name, test_type, plan_id, status, test_date, test_scope, participants, test_lead, job_id, created_at)
         VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(format!("Drill of {} v{version}", plan.name))
    .bind(SIMULATION)
    .bind(&request.plan_id)
    .bind(&at_text)
    .bind(scope.to_string())
    .bind(serde_json::to_string(&request.participants).unwrap_or_default())
    .bind(&actor.user_id)
    .bind(&job_id)
    .bind(&now_text)
    .execute(&mut *tx.tx)
    .await?;
    sqlx::query("UPDATE disaster_recovery_plans SET next_drill_at = $1 WHERE id = $2 AND (next_drill_at IS NULL OR next_drill_at > $1 OR next_drill_at < $3)")
        .bind(&at_text)
        .bind(&request.plan_id)
        .bind(&now_text)
        .execute(&mut *tx.tx)
        .await?;
    let detail = json!({ "plan": request.plan_id, "version": version, "testDate": at_text, "participants": request.participants });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "recovery.drill_schedule", target_type: "recovery_test", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    Ok(find(catalog, &id).await?.view())
}

/// What a person may say when starting a scheduled drill now.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TestParameters {
    pub reason: Option<String>,
    pub incident_reference: Option<String>,
}

/// The seeds' `POST /api/disaster-recovery/tests/{testId}/execute`: starts a scheduled drill
/// now, in `actor`'s name (its job is dequeued). Answers the run.
pub async fn execute(catalog: &Catalog, actor: &Principal, test_id: &str, parameters: &TestParameters) -> Result<RecoveryRun, RecoveryError> {
    actor.require(Role::Operator)?;
    let run = start(catalog, actor, test_id, TriggerType::Manual, parameters).await?;
    if let Some(job) = find(catalog, test_id).await?.job_id {
        // Its start at the test date is not needed any more (had it begun, it finds the
        // drill started and does nothing).
        let _ = jobs::cancel(catalog, &job).await;
    }
    Ok(run)
}

/// The `recovery.drill` job: starts scheduled drill `test_id` in the name of the person who
/// scheduled it, unless it was started by hand meanwhile. A drill that cannot start (its
/// scheduler disabled, another run of the plan under way) is recorded failed, with why.
pub async fn start_scheduled(catalog: &Catalog, test_id: &str) -> Result<Option<String>, RecoveryError> {
    let row = find(catalog, test_id).await?;
    if row.status != "scheduled" {
        return Ok(None);
    }
    let actor = match row.test_lead.as_deref() {
        Some(lead) => users::session_principal(catalog, lead).await?,
        None => None,
    };
    let started = match actor {
        Some(actor) => start(catalog, &actor, test_id, TriggerType::Scheduled, &TestParameters::default()).await,
        None => Err(RecoveryError::Forbidden("the person who scheduled it is disabled or removed".into())),
    };
    match started {
        Ok(run) => Ok(Some(run.id)),
        Err(e) => {
            let issues = serde_json::to_string(&[format!("the drill could not start: {e}")]).unwrap_or_default();
            sqlx::query("UPDATE recovery_testing_results SET status = 'failed', issues_identified = $1 WHERE id = $2 AND status = 'scheduled'").bind(issues).bind(test_id).execute(catalog.pool()).await?;
            Ok(None)
        }
    }
}

async fn start(catalog: &Catalog, actor: &Principal, test_id: &str, trigger: TriggerType, parameters: &TestParameters) -> Result<RecoveryRun, RecoveryError> {
    let row = find(catalog, test_id).await?;
    // Claimed first: the job and a person starting it at once start it once.
    let claimed = sqlx::query("UPDATE recovery_testing_results SET status = 'running' WHERE id = $1 AND status = 'scheduled'").bind(test_id).execute(catalog.pool()).await?.rows_affected();
    if claimed == 0 {
        return Err(RecoveryError::Conflict(format!("recovery test {test_id} is {}: only a scheduled drill starts", row.status)));
    }
    let request = ExecuteRequest {
        plan_id: row.plan_id.clone(),
        trigger_type: trigger,
        reason: Some(parameters.reason.clone().unwrap_or_else(|| format!("scheduled drill {test_id}"))),
        execution_mode: ExecutionMode::Test,
        incident_reference: parameters.incident_reference.clone(),
        incident_started_at: None,
        affected_systems: None,
    };
    match runs::start(catalog, actor, &request).await {
        Ok(started) => {
            // Dated when it ran, which may be before the date it was scheduled for.
            sqlx::query("UPDATE recovery_testing_results SET execution_id = $1, test_date = $2 WHERE id = $3")
                .bind(&started.execution_id)
                .bind(&started.execution.initiated_at)
                .bind(test_id)
                .execute(catalog.pool())
                .await?;
            Ok(started.execution)
        }
        Err(e) => {
            sqlx::query("UPDATE recovery_testing_results SET status = 'scheduled' WHERE id = $1 AND status = 'running' AND execution_id IS NULL").bind(test_id).execute(catalog.pool()).await?;
            Err(e)
        }
    }
}
