//! Disaster recovery over REST: plans (the seeds' `/disaster-recovery/plans` and the backup
//! seeds' procedures), their versions, review and export; runs (both seeds' execute doors),
//! their gates and cancellation; run requests approved ahead (the procedure door's approval
//! codes); failover events; the overall status; the named credentials
//! steps use; drills (the seeds' `/disaster-recovery/tests`: results, scheduling, starting one).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use bulwark_core::recovery::backups::{self, CreateBackup, Inventory, InventoryFilter};
use bulwark_core::recovery::credentials::{self, Credential, CredentialRequest};
use bulwark_core::recovery::drills::{self, DrillTest, ScheduleTest, TestFilter, TestParameters, DrillSummary};
use bulwark_core::recovery::runs::{self, FailoverInitiated, FailoverRequest, GateDecision, ProcedureExecute, ProcedureStarted, RunFilter};
use bulwark_core::recovery::requests;
use bulwark_core::recovery::{DrStatus, ExecuteRequest, FailoverEvent, NewRunRequest, RunRequest, RunRequestDecision, RunRequestStatus, PlanDecision, PlanDetail, PlanRequest, PlanSummary, RecoveryRun, RunStarted, ledger, plans, status};
use futures_util::Stream;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::standing::Standing;
use super::watch::{self, Watched};
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Procedures {
    procedures: Vec<PlanSummary>,
}

/// The backup seeds' procedures: every plan, in the procedure fields.
#[utoipa::path(get, path = "/api/admin/backups/disaster-recovery/procedures", tag = "disaster-recovery", responses((status = 200, body = Procedures)))]
pub async fn procedures(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<Procedures>, ApiError> {
    Ok(Json(Procedures { procedures: plans::list(&s.catalog, &p).await? }))
}

/// Runs a procedure (a plan's approved version) with an approver's authenticator code.
#[utoipa::path(post, path = "/api/admin/backups/disaster-recovery/execute", tag = "disaster-recovery", request_body = ProcedureExecute, responses((status = 202, body = ProcedureStarted)))]
pub async fn execute_procedure(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<ProcedureExecute>) -> Result<(StatusCode, Json<ProcedureStarted>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(runs::start_procedure(&s.catalog, &s.secrets, &p, &body).await?)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PlanList {
    success: bool,
    plans: Vec<PlanSummary>,
}

#[utoipa::path(get, path = "/api/disaster-recovery/plans", tag = "disaster-recovery", responses((status = 200, body = PlanList)))]
pub async fn list_plans(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<PlanList>, ApiError> {
    Ok(Json(PlanList { success: true, plans: plans::list(&s.catalog, &p).await? }))
}

/// A new plan from its document (YAML or JSON): version 1, a draft. Problems name the step and
/// the field.
#[utoipa::path(post, path = "/api/disaster-recovery/plans", tag = "disaster-recovery", request_body = PlanRequest, responses((status = 201, body = PlanDetail)))]
pub async fn create_plan(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<PlanRequest>) -> Result<(StatusCode, Json<PlanDetail>), ApiError> {
    Ok((StatusCode::CREATED, Json(plans::create(&s.catalog, &p, &body.document).await?)))
}

#[utoipa::path(get, path = "/api/disaster-recovery/plans/{id}", tag = "disaster-recovery", params(("id" = String, Path, description = "The plan")), responses((status = 200, body = PlanDetail)))]
pub async fn get_plan(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<PlanDetail>, ApiError> {
    Ok(Json(plans::get(&s.catalog, &p, &id).await?))
}

/// A new text for the plan: a draft changes in place, any other version gets a new draft.
#[utoipa::path(put, path = "/api/disaster-recovery/plans/{id}", tag = "disaster-recovery", params(("id" = String, Path, description = "The plan")), request_body = PlanRequest, responses((status = 200, body = PlanDetail)))]
pub async fn update_plan(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<PlanRequest>) -> Result<Json<PlanDetail>, ApiError> {
    Ok(Json(plans::update(&s.catalog, &p, &id, &body.document).await?))
}

/// Deletes a plan that never ran; one with runs is deactivated (its ledger stays).
#[utoipa::path(delete, path = "/api/disaster-recovery/plans/{id}", tag = "disaster-recovery", params(("id" = String, Path, description = "The plan")), responses((status = 204, description = "Removed or deactivated")))]
pub async fn delete_plan(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    plans::delete(&s.catalog, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionBody {
    version: i64,
}

/// Asks for review of a draft version.
#[utoipa::path(post, path = "/api/disaster-recovery/plans/{id}/submit", tag = "disaster-recovery", params(("id" = String, Path, description = "The plan")), request_body = VersionBody, responses((status = 200, body = PlanDetail)))]
pub async fn submit_plan(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<VersionBody>) -> Result<Json<PlanDetail>, ApiError> {
    Ok(Json(plans::submit(&s.catalog, &p, &id, body.version).await?))
}

/// An approver's approval of a version (never its author's).
#[utoipa::path(post, path = "/api/disaster-recovery/plans/{id}/approve", tag = "disaster-recovery", params(("id" = String, Path, description = "The plan")), request_body = PlanDecision, responses((status = 200, body = PlanDetail)))]
pub async fn approve_plan(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<PlanDecision>) -> Result<Json<PlanDetail>, ApiError> {
    Ok(Json(plans::approve(&s.catalog, &p, &id, &body).await?))
}

#[utoipa::path(post, path = "/api/disaster-recovery/plans/{id}/reject", tag = "disaster-recovery", params(("id" = String, Path, description = "The plan")), request_body = PlanDecision, responses((status = 200, body = PlanDetail)))]
pub async fn reject_plan(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<PlanDecision>) -> Result<Json<PlanDetail>, ApiError> {
    Ok(Json(plans::reject(&s.catalog, &p, &id, &body).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    from: i64,
    to: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PlanDiff {
    diff: String,
}

/// The lines that changed between two versions' documents (unified diff).
#[utoipa::path(get, path = "/api/disaster-recovery/plans/{id}/diff", tag = "disaster-recovery", params(("id" = String, Path, description = "The plan"), DiffQuery), responses((status = 200, body = PlanDiff)))]
pub async fn diff_plan(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Query(q): Query<DiffQuery>) -> Result<Json<PlanDiff>, ApiError> {
    Ok(Json(PlanDiff { diff: plans::diff(&s.catalog, &p, &id, q.from, q.to).await? }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// The newest when absent.
    #[serde(default)]
    version: Option<i64>,
    /// yaml or json; as written when absent.
    #[serde(default)]
    format: Option<String>,
}

/// A version's document, to keep in git.
#[utoipa::path(get, path = "/api/disaster-recovery/plans/{id}/export", tag = "disaster-recovery", params(("id" = String, Path, description = "The plan"), ExportQuery), responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn export_plan(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Query(q): Query<ExportQuery>) -> Result<Response, ApiError> {
    let text = plans::export(&s.catalog, &p, &id, q.version, q.format.as_deref()).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Starts a run of a plan (the seeds' fields; `executionMode: test` is a drill).
#[utoipa::path(post, path = "/api/disaster-recovery/execute", tag = "disaster-recovery", request_body = ExecuteRequest, responses((status = 202, body = RunStarted)))]
pub async fn execute(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<ExecuteRequest>) -> Result<(StatusCode, Json<RunStarted>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(runs::start(&s.catalog, &p, &body).await?)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunRequestList {
    requests: Vec<RunRequest>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunRequestQuery {
    /// pending, approved, rejected, used or expired; all when absent.
    #[serde(default)]
    status: Option<String>,
}

/// Asks to run a plan's approved version; an approver other than the requester approves it
/// ahead, and its id is then the procedure door's `approvalCode`.
#[utoipa::path(post, path = "/api/disaster-recovery/requests", tag = "disaster-recovery", request_body = NewRunRequest, responses((status = 201, body = RunRequest)))]
pub async fn create_run_request(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<NewRunRequest>) -> Result<(StatusCode, Json<RunRequest>), ApiError> {
    Ok((StatusCode::CREATED, Json(requests::create(&s.catalog, &p, &body).await?)))
}

/// Run requests, newest first.
#[utoipa::path(get, path = "/api/disaster-recovery/requests", tag = "disaster-recovery", params(RunRequestQuery), responses((status = 200, body = RunRequestList)))]
pub async fn list_run_requests(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<RunRequestQuery>) -> Result<Json<RunRequestList>, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(text) => Some(RunRequestStatus::parse(text).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "status: pending, approved, rejected, used or expired"))?),
    };
    Ok(Json(RunRequestList { requests: requests::list(&s.catalog, &p, status).await? }))
}

#[utoipa::path(get, path = "/api/disaster-recovery/requests/{id}", tag = "disaster-recovery", params(("id" = String, Path, description = "The run request")), responses((status = 200, body = RunRequest)))]
pub async fn get_run_request(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<RunRequest>, ApiError> {
    Ok(Json(requests::get(&s.catalog, &p, &id).await?))
}

/// An approver's approval (never the requester's): the request's id starts the run, once,
/// within eight hours.
#[utoipa::path(post, path = "/api/disaster-recovery/requests/{id}/approve", tag = "disaster-recovery", params(("id" = String, Path, description = "The run request")), request_body = RunRequestDecision, responses((status = 200, body = RunRequest)))]
pub async fn approve_run_request(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<RunRequestDecision>) -> Result<Json<RunRequest>, ApiError> {
    Ok(Json(requests::approve(&s.catalog, &p, &id, &body).await?))
}

/// Rejects a run request; `comment` says why.
#[utoipa::path(post, path = "/api/disaster-recovery/requests/{id}/reject", tag = "disaster-recovery", params(("id" = String, Path, description = "The run request")), request_body = RunRequestDecision, responses((status = 200, body = RunRequest)))]
pub async fn reject_run_request(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<RunRequestDecision>) -> Result<Json<RunRequest>, ApiError> {
    Ok(Json(requests::reject(&s.catalog, &p, &id, &body).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunList {
    success: bool,
    executions: Vec<RecoveryRun>,
}

#[utoipa::path(get, path = "/api/disaster-recovery/executions", tag = "disaster-recovery", params(RunFilter), responses((status = 200, body = RunList)))]
pub async fn list_runs(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<RunFilter>) -> Result<Json<RunList>, ApiError> {
    Ok(Json(RunList { success: true, executions: runs::list(&s.catalog, &p, &q).await? }))
}

/// A run with every step and every attempt.
#[utoipa::path(get, path = "/api/disaster-recovery/executions/{id}", tag = "disaster-recovery", params(("id" = String, Path, description = "The run")), responses((status = 200, body = RecoveryRun)))]
pub async fn get_run(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<RecoveryRun>, ApiError> {
    Ok(Json(runs::get(&s.catalog, &p, &id).await?))
}

/// The run, as `event: run` with the run as JSON, at each change (read from the catalog every
/// 500 ms, so any node serves it), until it ends or its caller's standing does.
#[utoipa::path(get, path = "/api/disaster-recovery/executions/{id}/events", tag = "disaster-recovery", params(("id" = String, Path, description = "The run")), responses((status = 200, description = "`event: run` with the run as JSON at each change", content_type = "text/event-stream")))]
pub async fn run_events(State(s): State<AppState>, Auth(p): Auth, session: tower_sessions::Session, Path(id): Path<String>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = runs::get(&s.catalog, &p, &id).await?;
    let watched = Watched { event: "run", every: Duration::from_millis(500), finished: |run: &RecoveryRun| run.status.is_finished(), key: watch::json, data: watch::json };
    let standing = Standing::of(&p, &session);
    Ok(watch::stream(s.catalog.clone(), standing, first, watched, move || {
        let (s, p, id) = (s.clone(), p.clone(), id.clone());
        async move { runs::get(&s.catalog, &p, &id).await.ok() }
    }))
}

/// Stops a run and rolls back what it did.
#[utoipa::path(post, path = "/api/disaster-recovery/executions/{id}/cancel", tag = "disaster-recovery", params(("id" = String, Path, description = "The run")), responses((status = 200, body = RecoveryRun)))]
pub async fn cancel_run(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<RecoveryRun>, ApiError> {
    Ok(Json(runs::cancel(&s.catalog, &p, &id).await?))
}

/// Confirms (or aborts at) a step waiting for a person: a gate, or a step interrupted by a
/// node that died. The gate's role decides who may.
#[utoipa::path(post, path = "/api/disaster-recovery/executions/{id}/steps/{stepId}/decision", tag = "disaster-recovery", params(("id" = String, Path, description = "The run"), ("stepId" = String, Path, description = "The step")), request_body = GateDecision, responses((status = 200, body = RecoveryRun)))]
pub async fn decide(State(s): State<AppState>, Auth(p): Auth, Path((id, step_id)): Path<(String, String)>, Json(body): Json<GateDecision>) -> Result<Json<RecoveryRun>, ApiError> {
    Ok(Json(runs::decide(&s.catalog, &p, &id, &step_id, body.action).await?))
}

/// The seeds' overall status, active runs, services, recent failovers and backup status.
#[utoipa::path(get, path = "/api/disaster-recovery/status", tag = "disaster-recovery", responses((status = 200, body = DrStatus)))]
pub async fn dr_status(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<DrStatus>, ApiError> {
    Ok(Json(status::status(&s.catalog, &p).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FailoverQuery {
    #[serde(default)]
    status: Option<String>,
    /// 24h, 7d, 30d (the default) or 90d.
    #[serde(default)]
    time_range: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Failovers {
    success: bool,
    failovers: Vec<FailoverEvent>,
}

/// Failover events, newest first.
#[utoipa::path(get, path = "/api/disaster-recovery/failovers", tag = "disaster-recovery", params(FailoverQuery), responses((status = 200, body = Failovers)))]
pub async fn failovers(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<FailoverQuery>) -> Result<Json<Failovers>, ApiError> {
    let days = match q.time_range.as_deref().unwrap_or("30d") {
        "24h" => 1,
        "7d" => 7,
        "30d" => 30,
        "90d" => 90,
        other => return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("timeRange: 24h, 7d, 30d or 90d, not {other:?}"))),
    };
    let since = bulwark_core::platform::time::to_text(s.catalog.now().await.map_err(bulwark_core::platform::catalog::CatalogError::Query)? - chrono::Duration::days(days));
    Ok(Json(Failovers { success: true, failovers: ledger::failovers(&s.catalog, &p, &since, q.status.as_deref()).await? }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FailoverStarted {
    success: bool,
    failover: FailoverInitiated,
    message: String,
}

/// Fails a system over: runs the one approved plan that lists it among its affected systems
/// and moves a database or traffic (its failover event is recorded when the run ends).
#[utoipa::path(post, path = "/api/disaster-recovery/failovers/initiate", tag = "disaster-recovery", request_body = FailoverRequest, responses((status = 202, body = FailoverStarted)))]
pub async fn initiate_failover(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<FailoverRequest>) -> Result<(StatusCode, Json<FailoverStarted>), ApiError> {
    let failover = runs::initiate_failover(&s.catalog, &p, &body).await?;
    let message = format!("failover initiated: run {} of the plan", failover.execution_id);
    Ok((StatusCode::ACCEPTED, Json(FailoverStarted { success: true, failover, message })))
}

/// The seeds' backup inventory: the backups a recovery can start from, newest first.
#[utoipa::path(get, path = "/api/disaster-recovery/backups", tag = "disaster-recovery", params(InventoryFilter), responses((status = 200, body = Inventory)))]
pub async fn backup_inventory(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<InventoryFilter>) -> Result<Json<Inventory>, ApiError> {
    Ok(Json(backups::inventory(&s.catalog, &p, &q).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BackupStarted {
    success: bool,
    backup: bulwark_core::executions::Execution,
    message: String,
}

/// Starts a backup of a data source (a configuration, by id or name) now.
#[utoipa::path(post, path = "/api/disaster-recovery/backups/create", tag = "disaster-recovery", request_body = CreateBackup, responses((status = 202, body = BackupStarted)))]
pub async fn create_backup(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<CreateBackup>) -> Result<(StatusCode, Json<BackupStarted>), ApiError> {
    let backup = backups::create(&s.catalog, &p, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(BackupStarted { success: true, backup, message: "Backup initiated".into() })))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerificationStarted {
    success: bool,
    verification: bulwark_core::verify::Queued,
    message: String,
}

/// Reads a backup back whole, as a restore would; the outcome lands on the backup's
/// `verificationStatus`.
#[utoipa::path(post, path = "/api/disaster-recovery/backups/{backupId}/verify", tag = "disaster-recovery", params(("backupId" = String, Path, description = "The backup execution")), responses((status = 202, body = VerificationStarted)))]
pub async fn verify_backup(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<(StatusCode, Json<VerificationStarted>), ApiError> {
    let verification = backups::verify(&s.catalog, &p, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(VerificationStarted { success: true, verification, message: "Verification initiated".into() })))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Credentials {
    credentials: Vec<Credential>,
}

/// The named credentials steps use (never their values).
#[utoipa::path(get, path = "/api/disaster-recovery/credentials", tag = "disaster-recovery", responses((status = 200, body = Credentials)))]
pub async fn list_credentials(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<Credentials>, ApiError> {
    Ok(Json(Credentials { credentials: credentials::list(&s.catalog, &p).await? }))
}

/// Sets a credential (sealed; never shown again).
#[utoipa::path(put, path = "/api/disaster-recovery/credentials", tag = "disaster-recovery", request_body = CredentialRequest, responses((status = 200, body = Credential)))]
pub async fn set_credential(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<CredentialRequest>) -> Result<Json<Credential>, ApiError> {
    Ok(Json(credentials::set(&s.catalog, &s.secrets, &p, &body).await?))
}

#[utoipa::path(delete, path = "/api/disaster-recovery/credentials/{name}", tag = "disaster-recovery", params(("name" = String, Path, description = "The credential")), responses((status = 204, description = "Removed")))]
pub async fn delete_credential(State(s): State<AppState>, Auth(p): Auth, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    credentials::delete(&s.catalog, &p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Tests {
    success: bool,
    tests: Vec<DrillTest>,
    summary: DrillSummary,
}

/// Drills' results (and those scheduled), newest first, with their summary.
#[utoipa::path(get, path = "/api/disaster-recovery/tests", tag = "disaster-recovery", params(TestFilter), responses((status = 200, body = Tests)))]
pub async fn list_tests(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<TestFilter>) -> Result<Json<Tests>, ApiError> {
    let (tests, summary) = drills::list(&s.catalog, &p, &q).await?;
    Ok(Json(Tests { success: true, tests, summary }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestScheduled {
    success: bool,
    test: DrillTest,
    message: String,
}

/// Schedules a drill (`testType: simulation`): it starts at `testDate`, in the caller's name.
#[utoipa::path(post, path = "/api/disaster-recovery/tests/schedule", tag = "disaster-recovery", request_body = ScheduleTest, responses((status = 201, body = TestScheduled)))]
pub async fn schedule_test(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<ScheduleTest>) -> Result<(StatusCode, Json<TestScheduled>), ApiError> {
    let test = drills::schedule(&s.catalog, &p, &body).await?;
    Ok((StatusCode::CREATED, Json(TestScheduled { success: true, test, message: "Recovery test scheduled".into() })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteTest {
    #[serde(default)]
    test_parameters: TestParameters,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestStarted {
    success: bool,
    /// The drill's run.
    execution: RecoveryRun,
    message: String,
}

/// Starts a scheduled drill now; its run goes on the worker pool.
#[utoipa::path(post, path = "/api/disaster-recovery/tests/{testId}/execute", tag = "disaster-recovery", params(("testId" = String, Path, description = "The scheduled test")), request_body = ExecuteTest, responses((status = 202, body = TestStarted)))]
pub async fn execute_test(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<ExecuteTest>) -> Result<(StatusCode, Json<TestStarted>), ApiError> {
    let execution = drills::execute(&s.catalog, &p, &id, &body.test_parameters).await?;
    Ok((StatusCode::ACCEPTED, Json(TestStarted { success: true, execution, message: "Recovery test execution started".into() })))
}
