//! Disaster recovery: the overall status; plans (written, edited, submitted for review,
//! approved or rejected by someone other than their author, compared version to version);
//! runs (started, followed, cancelled, their gates decided); run requests an approver approves
//! ahead; and the ledger of measured RTO and
//! RPO against each plan's objectives, with its chart.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use bulwark_types::{
    ApprovalStatus, Compliance, DrStatus, ExecutionMode, FailoverEvent, Gate, PlanDetail, PlanDocument, PlanSummary, PlanVersion, RecoveryRun, RunRequest, RunRequestStatus, RunStarted, RunStatus, ServiceState,
    StepAttempt, StepRun, StepSpec, StepStatus, StepType,
};

use crate::error::AppError;

/// A run beside the objectives of the plan version it executed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub run_id: String,
    pub plan_id: String,
    pub plan_name: String,
    pub plan_version: i64,
    pub execution_mode: ExecutionMode,
    pub status: RunStatus,
    pub incident_reference: Option<String>,
    pub initiated_at: String,
    pub completed_at: Option<String>,
    pub actual_rto_seconds: Option<f64>,
    pub actual_rpo_seconds: Option<f64>,
    /// Minutes, from the plan version the run executed (`None` when it cannot be read).
    pub objective_rto_minutes: Option<i64>,
    pub objective_rpo_minutes: Option<i64>,
}

impl LedgerEntry {
    /// A drill (`test` mode) rather than a recovery.
    pub fn is_drill(&self) -> bool {
        self.execution_mode == ExecutionMode::Test
    }

    /// Whether the measured RTO met the objective; `None` when either is unknown.
    pub fn rto_met(&self) -> Option<bool> {
        Some(self.actual_rto_seconds? <= self.objective_rto_minutes? as f64 * 60.0)
    }

    /// Whether the measured RPO met the objective; `None` when either is unknown.
    pub fn rpo_met(&self) -> Option<bool> {
        Some(self.actual_rpo_seconds? <= self.objective_rpo_minutes? as f64 * 60.0)
    }
}

/// The ledger: runs, newest first, and the chart of their measured RTO against the objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub entries: Vec<LedgerEntry>,
    /// ECharts option: each run with a measured RTO (oldest first), in minutes, against its
    /// objective.
    pub rto_chart: String,
    /// How many runs the chart shows.
    pub charted: usize,
}

/// A duration as people read it: seconds, minutes or hours.
pub fn human_seconds(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// A refused plan document's problems, one a line, so the page lists each.
#[cfg(feature = "ssr")]
fn document_error(e: bulwark_core::recovery::RecoveryError) -> AppError {
    use bulwark_core::recovery::RecoveryError;
    match e {
        RecoveryError::Document(problems) => AppError::Invalid(problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
        other => AppError::from_core(other),
    }
}

/// A form's text, or nothing when left empty.
#[cfg(feature = "ssr")]
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The overall status (healthy, degraded or critical, and why), the monitored services, the
/// runs under way, the last week's failovers and each configuration against its RPO.
#[server(prefix = "/_sfn", endpoint = "dr_status")]
pub async fn load_dr_status() -> Result<DrStatus, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::status::status(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "list_plans")]
pub async fn list_plans() -> Result<Vec<PlanSummary>, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::plans::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

/// A plan with all its versions, newest first.
#[server(prefix = "/_sfn", endpoint = "get_plan")]
pub async fn get_plan(id: String) -> Result<PlanDetail, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::plans::get(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)
}

/// A new plan from its document (YAML or JSON): version 1, a draft. A refused document's
/// problems come one a line.
#[server(prefix = "/_sfn", endpoint = "create_plan")]
pub async fn create_plan(document: String) -> Result<PlanDetail, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::plans::create(&crate::ssr::catalog()?, &p, &document).await.map_err(document_error)
}

/// A new text for a plan: the author's own draft (or version under review) no run has used
/// changes in place; otherwise the text becomes a new draft version.
#[server(prefix = "/_sfn", endpoint = "update_plan")]
pub async fn update_plan(id: String, document: String) -> Result<PlanDetail, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::plans::update(&crate::ssr::catalog()?, &p, &id, &document).await.map_err(document_error)
}

/// Asks for review of a draft version.
#[server(prefix = "/_sfn", endpoint = "submit_plan")]
pub async fn submit_plan(id: String, version: i64) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::plans::submit(&crate::ssr::catalog()?, &p, &id, version).await.map_err(AppError::from_core)?;
    Ok(format!("Version {version} is submitted for review: an approver other than its author approves or rejects it."))
}

/// One approver's approval of a version (never its author's).
#[server(prefix = "/_sfn", endpoint = "approve_plan")]
pub async fn approve_plan(id: String, version: i64, reason: Option<String>) -> Result<String, AppError> {
    use bulwark_types::PlanDecision;
    let p = crate::ssr::principal().await?;
    let decision = PlanDecision { version, reason: text(reason) };
    let detail = bulwark_core::recovery::plans::approve(&crate::ssr::catalog()?, &p, &id, &decision).await.map_err(AppError::from_core)?;
    Ok(match detail.versions.iter().find(|v| v.version == version) {
        Some(v) if v.approval_status == ApprovalStatus::Approved => {
            format!("Version {version} is approved: runs execute it until its review date, {}.", v.next_review_date.clone().unwrap_or_default())
        }
        Some(v) => {
            let needed = v.plan.required_approvals;
            format!("Your approval of version {version} is recorded; it needs {needed} approval{} from people other than its author.", if needed == 1 { "" } else { "s" })
        }
        None => format!("Your approval of version {version} is recorded."),
    })
}

/// Rejects a version, with a reason: it can no longer be approved; an edit makes a new one.
#[server(prefix = "/_sfn", endpoint = "reject_plan")]
pub async fn reject_plan(id: String, version: i64, reason: String) -> Result<String, AppError> {
    use bulwark_types::PlanDecision;
    let p = crate::ssr::principal().await?;
    let decision = PlanDecision { version, reason: text(Some(reason)) };
    bulwark_core::recovery::plans::reject(&crate::ssr::catalog()?, &p, &id, &decision).await.map_err(AppError::from_core)?;
    Ok(format!("Version {version} is rejected: it will not run; editing the plan makes a new version."))
}

/// The lines that changed from one version's document to another's (unified diff; empty when
/// they are the same).
#[server(prefix = "/_sfn", endpoint = "plan_diff")]
pub async fn plan_diff(id: String, from: i64, to: i64) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::plans::diff(&crate::ssr::catalog()?, &p, &id, from, to).await.map_err(AppError::from_core)
}

/// Starts a run of a plan: `mode` is manual, semi_automated, fully_automated or test (a
/// drill). The run's page follows it.
#[server(prefix = "/_sfn", endpoint = "execute_plan")]
pub async fn execute_plan(plan_id: String, mode: String, incident_reference: String, reason: String) -> Result<RunStarted, AppError> {
    use bulwark_types::{ExecuteRequest, TriggerType};
    let p = crate::ssr::principal().await?;
    let execution_mode = ExecutionMode::parse(mode.trim()).ok_or_else(|| AppError::Invalid("mode: manual, semi_automated, fully_automated or test".into()))?;
    let request = ExecuteRequest {
        plan_id,
        trigger_type: TriggerType::Manual,
        reason: text(Some(reason)),
        execution_mode,
        incident_reference: text(Some(incident_reference)),
        incident_started_at: None,
        affected_systems: None,
    };
    bulwark_core::recovery::runs::start(&crate::ssr::catalog()?, &p, &request).await.map_err(AppError::from_core)
}

/// Asks an approver (someone else) to approve a run of a plan's approved version ahead; once
/// approved, the requester starts it with `start_requested_run`.
#[server(prefix = "/_sfn", endpoint = "request_run")]
pub async fn request_run(plan_id: String, reason: String, incident_reference: String) -> Result<String, AppError> {
    use bulwark_types::NewRunRequest;
    let p = crate::ssr::principal().await?;
    let request = NewRunRequest { plan_id, reason, incident_reference: text(Some(incident_reference)), affected_systems: None };
    let asked = bulwark_core::recovery::requests::create(&crate::ssr::catalog()?, &p, &request).await.map_err(AppError::from_core)?;
    Ok(format!("Asked: an approver other than you decides before {}; once approved, start the run here.", asked.expires_at))
}

/// Run requests, newest first.
#[server(prefix = "/_sfn", endpoint = "list_run_requests")]
pub async fn list_run_requests() -> Result<Vec<RunRequest>, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::requests::list(&crate::ssr::catalog()?, &p, None).await.map_err(AppError::from_core)
}

/// Approves (`approve`) or rejects a run request; a rejection says why in `comment`.
#[server(prefix = "/_sfn", endpoint = "decide_run_request")]
pub async fn decide_run_request(id: String, approve: bool, comment: String) -> Result<String, AppError> {
    use bulwark_core::recovery::requests;
    use bulwark_types::RunRequestDecision;
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let decision = RunRequestDecision { comment: text(Some(comment)) };
    if approve {
        let r = requests::approve(&catalog, &p, &id, &decision).await.map_err(AppError::from_core)?;
        Ok(format!("Approved: {} can start the run of {} until {}.", r.requested_by, r.plan_name, r.expires_at))
    } else {
        let r = requests::reject(&catalog, &p, &id, &decision).await.map_err(AppError::from_core)?;
        Ok(format!("Rejected: {}'s run of {} will not start.", r.requested_by, r.plan_name))
    }
}

/// Starts the run an approved request of the signed-in user's approves (the backup seeds'
/// procedure door, with the request's id as its approval code). Answers the run's id.
#[server(prefix = "/_sfn", endpoint = "start_requested_run")]
pub async fn start_requested_run(id: String) -> Result<String, AppError> {
    use bulwark_core::recovery::{requests, runs};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let request = requests::get(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let door = runs::ProcedureExecute { procedure_id: request.plan_id, disaster_type: request.disaster_type, affected_systems: vec![], incident_reference: None, approval_code: id };
    let started = runs::start_procedure(&catalog, &crate::ssr::secrets()?, &p, &door).await.map_err(AppError::from_core)?;
    Ok(started.execution_id)
}

/// Runs, newest first: of one plan when given, only those under way when `active`.
#[server(prefix = "/_sfn", endpoint = "list_runs")]
pub async fn list_runs(plan_id: Option<String>, active: bool) -> Result<Vec<RecoveryRun>, AppError> {
    use bulwark_core::recovery::runs::{self, RunFilter};
    let p = crate::ssr::principal().await?;
    let filter = RunFilter { plan_id: text(plan_id), active: Some(active), limit: None };
    runs::list(&crate::ssr::catalog()?, &p, &filter).await.map_err(AppError::from_core)
}

/// A run with every step and every attempt.
#[server(prefix = "/_sfn", endpoint = "get_run")]
pub async fn get_run(id: String) -> Result<RecoveryRun, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::runs::get(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)
}

/// Stops a run: the steps under way are told to stop and what the run did is rolled back.
#[server(prefix = "/_sfn", endpoint = "cancel_run")]
pub async fn cancel_run(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::recovery::runs::cancel(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok("Cancelling: the steps under way stop and what the run did is rolled back.".into())
}

/// Confirms (`confirm`) or aborts at a step waiting for a person: a gate, or a step a node that
/// died left interrupted. The gate's role decides who may.
#[server(prefix = "/_sfn", endpoint = "decide_gate")]
pub async fn decide_gate(run_id: String, step_id: String, confirm: bool) -> Result<String, AppError> {
    use bulwark_core::recovery::runs::{self, GateAction};
    let p = crate::ssr::principal().await?;
    let action = if confirm { GateAction::Confirm } else { GateAction::Abort };
    let run = runs::decide(&crate::ssr::catalog()?, &p, &run_id, &step_id, action).await.map_err(AppError::from_core)?;
    let step = run.steps.iter().find(|s| s.id == step_id).map(|s| s.step_name.clone()).unwrap_or_default();
    Ok(if confirm { format!("Confirmed: {step} goes ahead.") } else { format!("Aborted at {step}: the run stops and what it did is rolled back.") })
}

/// The RTO/RPO ledger: runs (of one plan when given; only finished ones when `finished_only`)
/// with their measured RTO and RPO beside the objectives of the version each executed, and
/// the chart of measured RTO against the objective.
#[server(prefix = "/_sfn", endpoint = "recovery_ledger")]
pub async fn recovery_ledger(plan_id: Option<String>, finished_only: bool) -> Result<Ledger, AppError> {
    use std::collections::HashMap;

    use bulwark_core::recovery::plans;
    use bulwark_core::recovery::runs::{self, RunFilter};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let filter = RunFilter { plan_id: text(plan_id), active: None, limit: Some(200) };
    let list = runs::list(&catalog, &p, &filter).await.map_err(AppError::from_core)?;
    // Each plan read once; a plan that cannot be read leaves its objectives unknown.
    let mut details: HashMap<String, Option<PlanDetail>> = HashMap::new();
    let mut entries = Vec::new();
    for run in list.into_iter().filter(|r| !finished_only || r.status.is_finished()) {
        if !details.contains_key(&run.plan_id) {
            let detail = plans::get(&catalog, &p, &run.plan_id).await.ok();
            details.insert(run.plan_id.clone(), detail);
        }
        let detail = details.get(&run.plan_id).and_then(Option::as_ref);
        let version = detail.and_then(|d| d.versions.iter().find(|v| v.version == run.plan_version));
        let plan_name = match (version, detail) {
            (Some(v), _) => v.plan.name.clone(),
            (None, Some(d)) => d.summary.plan_name.clone(),
            (None, None) => run.plan_id.clone(),
        };
        entries.push(LedgerEntry {
            plan_name,
            objective_rto_minutes: version.map(|v| v.plan.estimated_rto_minutes),
            objective_rpo_minutes: version.map(|v| v.plan.estimated_rpo_minutes),
            run_id: run.id,
            plan_id: run.plan_id,
            plan_version: run.plan_version,
            execution_mode: run.execution_mode,
            status: run.status,
            incident_reference: run.incident_reference,
            initiated_at: run.initiated_at,
            completed_at: run.completed_at,
            actual_rto_seconds: run.actual_rto_seconds,
            actual_rpo_seconds: run.actual_rpo_seconds,
        });
    }
    let round = |minutes: f64| (minutes * 100.0).round() / 100.0;
    let measured: Vec<&LedgerEntry> = entries.iter().rev().filter(|e| e.actual_rto_seconds.is_some()).collect();
    let labels: Vec<String> = measured
        .iter()
        .map(|e| {
            let at = e.completed_at.as_deref().unwrap_or(e.initiated_at.as_str());
            let at = at.get(..16).unwrap_or(at).replace('T', " ");
            format!("{at} {}{}", e.plan_name, if e.is_drill() { " (drill)" } else { "" })
        })
        .collect();
    let actual: Vec<f64> = measured.iter().map(|e| round(e.actual_rto_seconds.unwrap_or_default() / 60.0)).collect();
    // An unknown objective is a gap in the line (NaN is written as null).
    let objective: Vec<f64> = measured.iter().map(|e| e.objective_rto_minutes.map_or(f64::NAN, |m| m as f64)).collect();
    let charted = measured.len();
    let rto_chart = crate::charts::against_objective(&labels, ("Measured RTO (min)", actual), ("RTO objective (min)", objective), "minutes");
    Ok(Ledger { entries, rto_chart, charted })
}
