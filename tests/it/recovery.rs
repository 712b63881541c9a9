//! Disaster-recovery plans and the runbook engine, on both catalogs: versions and their
//! approval, the graph run concurrently, retries with their backoff, rollback in reverse,
//! gates, cancellation, a run taken over after its node died, and the procedure door's
//! sign-offs (a run request approved ahead, or an approver's authenticator code).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::platform::accounts::totp;
use bulwark_core::recovery::runs::{self, GateAction, ProcedureExecute};
use bulwark_core::recovery::{RecoveryError, engine, plans, requests, triggers};
use bulwark_types::{
    ApprovalStatus, DisasterType, ExecuteRequest, ExecutionMode, NewRunRequest, PlanDecision, RecoveryRun, RunRequestDecision, RunRequestStatus, RunStatus, StepStatus, TriggerType,
};

use crate::{on_both_catalogs, user};

/// A local HTTP service for validation steps: `/ok`, `/flaky` (503 for its first two requests,
/// then 200), `/slow` (answers after 600 ms), `/hang` (answers after a minute).
async fn service() -> (String, Arc<AtomicUsize>) {
    let flaky = Arc::new(AtomicUsize::new(0));
    let count = flaky.clone();
    let app = axum::Router::new()
        .route("/ok", axum::routing::get(|| async { "ok" }))
        .route(
            "/flaky",
            axum::routing::get(move || {
                let count = count.clone();
                async move {
                    if count.fetch_add(1, Ordering::SeqCst) < 2 { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "not yet") } else { (axum::http::StatusCode::OK, "up") }
                }
            }),
        )
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "slow"
            }),
        )
        .route(
            "/hang",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, flaky)
}

fn document(name: &str, steps: &str) -> String {
    format!("name: {name}\ndisasterScenario: hardware_failure\ndisasterType: database_corruption\nseverity: 2\nestimatedRtoMinutes: 15\nestimatedRpoMinutes: 5\nsteps:\n{steps}")
}

fn http_step(name: &str, url: &str, extra: &str) -> String {
    format!("  - name: {name}\n    type: validation\n    config: {{ http: {{ url: \"{url}\" }} }}\n{extra}")
}

struct People {
    author: Principal,
    approver: Principal,
    operator: Principal,
}

async fn people(catalog: &Catalog) -> People {
    People {
        author: user(catalog, "author", Role::Approver).await,
        approver: user(catalog, "approver", Role::Approver).await,
        operator: user(catalog, "operator", Role::Operator).await,
    }
}

/// A plan from `text`, approved by someone other than its author.
async fn approved_plan(catalog: &Catalog, people: &People, text: &str) -> String {
    let plan = plans::create(catalog, &people.author, text).await.unwrap();
    let id = plan.summary.id.clone();
    plans::approve(catalog, &people.approver, &id, &PlanDecision { version: 1, reason: None }).await.unwrap();
    id
}

fn execute(plan_id: &str, mode: ExecutionMode) -> ExecuteRequest {
    ExecuteRequest {
        plan_id: plan_id.into(),
        trigger_type: TriggerType::Manual,
        reason: Some("test".into()),
        execution_mode: mode,
        incident_reference: Some("INC-1".into()),
        incident_started_at: None,
        affected_systems: None,
    }
}

/// Starts a run and advances it as the pool's job would.
async fn run_plan(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, plan_id: &str) -> RecoveryRun {
    let started = runs::start(catalog, actor, &execute(plan_id, ExecutionMode::Manual)).await.unwrap();
    engine::advance(catalog, secrets, &reach(), &Arc::from([]), &started.execution_id, Arc::new(AtomicBool::new(false)), None).await.unwrap();
    runs::get(catalog, actor, &started.execution_id).await.unwrap()
}

fn secrets() -> SecretBox {
    SecretBox::new(Key::random())
}

/// Where the runs' restores may write, as the worker pool hands them.
fn reach() -> Arc<bulwark_core::restores::Targets> {
    Arc::new(crate::restore_targets())
}

async fn versions_are_approved_by_another_and_edits_make_new_ones(catalog: Catalog) {
    let p = people(&catalog).await;
    let text = document("Versions", &http_step("check", "http://127.0.0.1:9/ok", ""));
    let plan = plans::create(&catalog, &p.author, &text).await.unwrap();
    let id = plan.summary.id.clone();
    assert_eq!(plan.summary.approval_status, ApprovalStatus::Draft);
    // Not runnable before approval; the author cannot approve their own version.
    let refused = runs::start(&catalog, &p.operator, &execute(&id, ExecutionMode::Manual)).await.unwrap_err();
    assert_eq!(refused.kind(), Kind::Conflict, "{refused}");
    let own = plans::approve(&catalog, &p.author, &id, &PlanDecision { version: 1, reason: None }).await.unwrap_err();
    assert_eq!(own.kind(), Kind::Forbidden, "{own}");
    let by_operator = plans::approve(&catalog, &p.operator, &id, &PlanDecision { version: 1, reason: None }).await.unwrap_err();
    assert_eq!(by_operator.kind(), Kind::Forbidden);
    let approved = plans::approve(&catalog, &p.approver, &id, &PlanDecision { version: 1, reason: Some("reviewed".into()) }).await.unwrap();
    assert_eq!((approved.summary.approval_status, approved.summary.approved_version), (ApprovalStatus::Approved, Some(1)));
    assert!(approved.versions[0].next_review_date.is_some());
    // Editing an approved plan makes version 2, a draft; version 1 stays approved and runnable.
    let edited = text.replace("severity: 2", "severity: 1");
    let plan = plans::update(&catalog, &p.operator, &id, &edited).await.unwrap();
    assert_eq!((plan.summary.current_version, plan.summary.approval_status, plan.summary.approved_version), (2, ApprovalStatus::Draft, Some(1)));
    assert_eq!(plan.versions.len(), 2);
    assert_eq!(plan.versions[1].document, text, "version 1 keeps its text");
    // Editing the draft changes it in place.
    let plan = plans::update(&catalog, &p.operator, &id, &edited.replace("name: Versions", "name: Versions renamed")).await.unwrap();
    assert_eq!((plan.summary.current_version, plan.summary.plan_name.as_str()), (2, "Versions renamed"));
    let diff = plans::diff(&catalog, &p.operator, &id, 1, 2).await.unwrap();
    assert!(diff.contains("-severity: 2") && diff.contains("+severity: 1") && diff.contains("+name: Versions renamed"), "{diff}");
    // Export in the other format reads back to the same plan.
    let json = plans::export(&catalog, &p.operator, &id, Some(2), Some("json")).await.unwrap();
    assert!(json.trim_start().starts_with('{'));
    assert_eq!(bulwark_core::recovery::document::read(&json).unwrap().0, plan.versions[0].plan);
    // A rejected version needs a reason and can no longer be approved.
    assert_eq!(plans::reject(&catalog, &p.approver, &id, &PlanDecision { version: 2, reason: None }).await.unwrap_err().kind(), Kind::Invalid);
    plans::reject(&catalog, &p.approver, &id, &PlanDecision { version: 2, reason: Some("no".into()) }).await.unwrap();
    assert_eq!(plans::approve(&catalog, &p.approver, &id, &PlanDecision { version: 2, reason: None }).await.unwrap_err().kind(), Kind::Conflict);
    // A document with problems names them, step and field.
    let bad = document("Bad", &http_step("a", "ftp://x/", "    dependencies: [b]\n"));
    match plans::create(&catalog, &p.author, &bad).await.unwrap_err() {
        RecoveryError::Document(problems) => {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            assert!(text.iter().any(|t| t.starts_with("step `a`, config.http.url:")), "{text:?}");
        }
        other => panic!("{other}"),
    }
}

async fn independent_steps_run_at_once_and_the_ledger_records_the_run(catalog: Catalog) {
    let p = people(&catalog).await;
    let (base, _) = service().await;
    let slow = format!("{base}/slow");
    let steps = [
        http_step("first", &format!("{base}/ok"), ""),
        http_step("a", &slow, "    parallelGroup: checks\n"),
        http_step("b", &slow, "    parallelGroup: checks\n"),
        http_step("c", &slow, "    parallelGroup: checks\n"),
        http_step("d", &slow, "    parallelGroup: checks\n"),
        http_step("last", &format!("{base}/ok"), "    successCriteria: [{ field: status, equals: 200 }, { field: body, contains: ok }]\n"),
    ]
    .concat();
    let id = approved_plan(&catalog, &p, &document("Parallel", &steps)).await;
    let secrets = secrets();
    let started = Instant::now();
    let run = run_plan(&catalog, &secrets, &p.operator, &id).await;
    let wall = started.elapsed();
    assert_eq!(run.status, RunStatus::Completed, "{run:#?}");
    // Four 600 ms steps side by side: about one of them, far less than their sum.
    assert!(wall < Duration::from_millis(1800), "took {wall:?}");
    let group: Vec<_> = run.steps.iter().filter(|s| s.parallel_group.is_some()).collect();
    let last_start = group.iter().filter_map(|s| s.started_at.clone()).max().unwrap();
    let first_end = group.iter().filter_map(|s| s.completed_at.clone()).min().unwrap();
    assert!(last_start < first_end, "every step of the group started before any ended");
    assert_eq!(run.steps[5].dependencies, vec!["a", "b", "c", "d"]);
    assert_eq!(run.recovery_steps_completed, 6);
    assert_eq!(run.success_criteria_met, Some(true));
    let rto = run.actual_rto_seconds.expect("an actual RTO");
    assert!(rto > 0.5 && rto < 30.0, "{rto}");
    let criteria = run.steps[5].validation_results.as_ref().unwrap();
    assert_eq!(criteria[1]["passed"], true, "{criteria}");
    let day: (i64, i64) = sqlx::query_as("SELECT total_recovery_events, successful_recoveries FROM recovery_metrics").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(day, (1, 1));
    // One run of a plan at a time.
    let first = runs::start(&catalog, &p.operator, &execute(&id, ExecutionMode::Manual)).await.unwrap();
    let second = runs::start(&catalog, &p.operator, &execute(&id, ExecutionMode::Manual)).await.unwrap_err();
    assert_eq!(second.kind(), Kind::Conflict, "{second}");
    runs::cancel(&catalog, &p.operator, &first.execution_id).await.unwrap();
}

async fn a_step_retries_with_its_backoff_and_a_failing_one_rolls_back_in_reverse(catalog: Catalog) {
    let p = people(&catalog).await;
    let (base, _) = service().await;
    let backoff = "    maxRetries: 3\n    backoff: { baseSeconds: 0.3, capSeconds: 5 }\n";
    let steps = [http_step("flaky", &format!("{base}/flaky"), backoff), http_step("second", &format!("{base}/ok"), "")].concat();
    let id = approved_plan(&catalog, &p, &document("Retries", &steps)).await;
    let secrets = secrets();
    let run = run_plan(&catalog, &secrets, &p.operator, &id).await;
    assert_eq!(run.status, RunStatus::Completed, "{run:#?}");
    let flaky = &run.steps[0];
    assert_eq!((flaky.status, flaky.retry_count), (StepStatus::Completed, 2));
    let attempts: Vec<(StepStatus, Option<i64>)> = flaky.attempts.iter().map(|a| (a.status, a.backoff_ms)).collect();
    assert_eq!(attempts, vec![(StepStatus::Failed, Some(300)), (StepStatus::Failed, Some(600)), (StepStatus::Completed, None)]);
    assert!(flaky.attempts[0].error_message.as_deref().unwrap().contains("503"), "{:?}", flaky.attempts[0]);
    // Each wait was at least its backoff.
    let at = |t: &str| bulwark_core::platform::time::parse(t).unwrap();
    let gap = at(&flaky.attempts[2].started_at) - at(flaky.attempts[1].completed_at.as_deref().unwrap());
    assert!(gap.num_milliseconds() >= 550, "{gap}");

    // A critical step that keeps failing: the completed steps are undone, newest first, and
    // the steps after it never start.
    let closed = format!("http://127.0.0.1:{}/", bulwark_testkit::free_port());
    let steps = [
        http_step("one", &format!("{base}/ok"), ""),
        http_step("two", &format!("{base}/ok"), ""),
        http_step("broken", &closed, "    maxRetries: 1\n    backoff: { baseSeconds: 0.1 }\n"),
        http_step("never", &format!("{base}/ok"), ""),
    ]
    .concat();
    let id = approved_plan(&catalog, &p, &document("Rollback", &steps)).await;
    let run = run_plan(&catalog, &secrets, &p.operator, &id).await;
    assert_eq!(run.status, RunStatus::RolledBack, "{run:#?}");
    assert!(run.rollback_initiated && run.rollback_completed);
    assert!(run.error_details.as_deref().unwrap().contains("step broken failed"), "{:?}", run.error_details);
    let status: Vec<StepStatus> = run.steps.iter().map(|s| s.status).collect();
    assert_eq!(status, vec![StepStatus::RolledBack, StepStatus::RolledBack, StepStatus::Failed, StepStatus::Skipped]);
    assert_eq!(run.steps[2].attempts.len(), 2);
    assert!(run.steps[1].rolled_back_at < run.steps[0].rolled_back_at, "two is undone before one");
    assert_eq!(run.actual_rto_seconds, None);

    // An optional step's failure is recorded and the run goes on.
    let steps = [http_step("optional", &closed, "    critical: false\n"), http_step("after", &format!("{base}/ok"), "")].concat();
    let id = approved_plan(&catalog, &p, &document("Optional", &steps)).await;
    let run = run_plan(&catalog, &secrets, &p.operator, &id).await;
    assert_eq!((run.status, run.steps[0].status, run.steps[1].status), (RunStatus::Completed, StepStatus::Failed, StepStatus::Completed));
    assert_eq!(run.success_criteria_met, Some(true));
}

async fn a_gate_waits_for_a_person_with_its_role(catalog: Catalog) {
    let p = people(&catalog).await;
    let (base, _) = service().await;
    let steps = [
        http_step("before", &format!("{base}/ok"), ""),
        http_step("switch", &format!("{base}/ok"), "    gate: { role: approver, message: Switch traffic? }\n"),
    ]
    .concat();
    let id = approved_plan(&catalog, &p, &document("Gated", &steps)).await;
    let secrets = secrets();
    let run = run_plan(&catalog, &secrets, &p.operator, &id).await;
    assert_eq!(run.status, RunStatus::Waiting);
    assert_eq!((run.steps[0].status, run.steps[1].status), (StepStatus::Completed, StepStatus::Waiting));
    assert_eq!(run.steps[1].gate.as_ref().unwrap().message.as_deref(), Some("Switch traffic?"));
    let step = run.steps[1].id.clone();
    let refused = runs::decide(&catalog, &p.operator, &run.id, &step, GateAction::Confirm).await.unwrap_err();
    assert_eq!(refused.kind(), Kind::Forbidden);
    runs::decide(&catalog, &p.approver, &run.id, &step, GateAction::Confirm).await.unwrap();
    // The decision queued the next job; the pool would run it.
    crate::run_queued(&catalog, &secrets, engine::JOB_KIND).await;
    let run = runs::get(&catalog, &p.operator, &run.id).await.unwrap();
    assert_eq!((run.status, run.steps[1].status), (RunStatus::Completed, StepStatus::Completed));
    assert_eq!(run.steps[1].gate_status.as_deref(), Some("confirmed"));

    // A drill of a draft waits for an approver before its first step.
    let draft = plans::create(&catalog, &p.author, &document("Draft drill", &http_step("only", &format!("{base}/ok"), ""))).await.unwrap();
    let drill = runs::start(&catalog, &p.operator, &execute(&draft.summary.id, ExecutionMode::Test)).await.unwrap();
    engine::advance(&catalog, &secrets, &reach(), &Arc::from([]), &drill.execution_id, Arc::new(AtomicBool::new(false)), None).await.unwrap();
    let drill = runs::get(&catalog, &p.operator, &drill.execution_id).await.unwrap();
    assert_eq!((drill.status, drill.steps[0].status), (RunStatus::Waiting, StepStatus::Waiting));
    assert_eq!(drill.steps[0].gate.as_ref().unwrap().role, Role::Approver);
}

async fn cancel_stops_the_step_under_way_and_rolls_back(catalog: Catalog) {
    let p = people(&catalog).await;
    let (base, _) = service().await;
    let steps = [http_step("done", &format!("{base}/ok"), ""), http_step("hangs", &format!("{base}/hang"), "    timeoutSeconds: 120\n")].concat();
    let id = approved_plan(&catalog, &p, &document("Cancelled", &steps)).await;
    let secrets = secrets();
    let started = runs::start(&catalog, &p.operator, &execute(&id, ExecutionMode::Manual)).await.unwrap();
    let run_id = started.execution_id.clone();
    let (c, s) = (catalog.clone(), secrets.clone());
    let engine = tokio::spawn(async move { engine::advance(&c, &s, &reach(), &Arc::from([]), &run_id, Arc::new(AtomicBool::new(false)), None).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = runs::get(&catalog, &p.operator, &started.execution_id).await.unwrap();
        if run.steps[1].status == StepStatus::Running {
            break;
        }
        assert!(Instant::now() < deadline, "the second step never started: {run:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let asked = Instant::now();
    runs::cancel(&catalog, &p.operator, &started.execution_id).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), engine).await.expect("the run stops").unwrap().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(5), "{:?}", asked.elapsed());
    assert_eq!(status, RunStatus::Cancelled);
    let run = runs::get(&catalog, &p.operator, &started.execution_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.steps[0].status, StepStatus::RolledBack);
    assert_eq!(run.steps[1].status, StepStatus::Failed);
}

async fn a_run_taken_over_retries_only_what_is_safe_to_run_twice(catalog: Catalog) {
    let p = people(&catalog).await;
    let (base, _) = service().await;
    let failover = "  - name: promote\n    type: database_failover\n    config: { primary: { host: 127.0.0.1, port: 1 }, standby: { host: 127.0.0.1, port: 2 } }\n";
    let steps = [http_step("check", &format!("{base}/ok"), "    dependencies: []\n"), failover.to_string()].concat();
    let id = approved_plan(&catalog, &p, &document("Takeover", &steps)).await;
    let started = runs::start(&catalog, &p.operator, &execute(&id, ExecutionMode::Manual)).await.unwrap();
    // A node whose lease is gone (frozen past it, then thawed) starts nothing.
    let job: String = sqlx::query_scalar("SELECT job_id FROM recovery_executions WHERE id = $1").bind(&started.execution_id).fetch_one(catalog.pool()).await.unwrap();
    let stale = bulwark_core::platform::jobs::Lease { job_id: job, owner: "a node that lost it".into() };
    let refused = engine::advance(&catalog, &secrets(), &reach(), &Arc::from([]), &started.execution_id, Arc::new(AtomicBool::new(false)), Some(&stale)).await.unwrap_err();
    assert_eq!(refused.kind(), Kind::Conflict, "{refused}");
    let run = runs::get(&catalog, &p.operator, &started.execution_id).await.unwrap();
    assert!(run.steps.iter().all(|s| s.status == StepStatus::Pending && s.attempts.is_empty()), "{run:#?}");
    // As a node that died inside both steps leaves them.
    sqlx::query("UPDATE recovery_step_executions SET status = 'running' WHERE execution_id = $1").bind(&started.execution_id).execute(catalog.pool()).await.unwrap();
    let status = engine::advance(&catalog, &secrets(), &reach(), &Arc::from([]), &started.execution_id, Arc::new(AtomicBool::new(false)), None).await.unwrap();
    assert_eq!(status, RunStatus::Waiting);
    let run = runs::get(&catalog, &p.operator, &started.execution_id).await.unwrap();
    assert_eq!(run.steps[0].status, StepStatus::Completed, "a check runs again");
    assert_eq!(run.steps[1].status, StepStatus::Interrupted, "a promotion waits for a person");
    assert!(run.steps[1].error_message.as_deref().unwrap().contains("not safe to run twice"));
    // Aborting rolls back what was done.
    runs::decide(&catalog, &p.operator, &run.id, &run.steps[1].id, GateAction::Abort).await.unwrap();
    crate::run_queued(&catalog, &secrets(), engine::JOB_KIND).await;
    let run = runs::get(&catalog, &p.operator, &run.id).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled, "{run:#?}");
    assert_eq!((run.steps[0].status, run.steps[1].status), (StepStatus::RolledBack, StepStatus::Skipped));
}

async fn a_health_rule_starts_an_approved_plan_once_an_outage(catalog: Catalog) {
    let p = people(&catalog).await;
    let (base, _) = service().await;
    let criteria = "failoverCriteria: { service: orders-db, unhealthyProbes: 3 }\naffectedSystems: [orders-db]\n";
    let text = document("Automatic", &http_step("check", &format!("{base}/ok"), "")).replace("steps:\n", &format!("{criteria}steps:\n"));
    let draft = plans::create(&catalog, &p.author, &text).await.unwrap();
    let sample = |status: &str| -> bulwark_core::monitoring::RecordSample { serde_json::from_value(serde_json::json!({ "serviceName": "orders-db", "healthStatus": status })).unwrap() };
    for _ in 0..3 {
        bulwark_core::monitoring::samples::record_pushed(&catalog, &p.operator, &sample("unhealthy")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Not approved: nothing starts by itself.
    assert!(triggers::evaluate(&catalog).await.unwrap().started.is_empty());
    plans::approve(&catalog, &p.approver, &draft.summary.id, &PlanDecision { version: 1, reason: None }).await.unwrap();
    let started = triggers::evaluate(&catalog).await.unwrap().started;
    assert_eq!(started.len(), 1);
    let run = runs::get(&catalog, &p.operator, &started[0]).await.unwrap();
    assert_eq!((run.trigger_type, run.execution_mode, run.initiated_by.as_str()), (TriggerType::AlertBased, ExecutionMode::FullyAutomated, triggers::HEALTH_RULE));
    // The incident began with the first failed probe of the streak.
    let first: String = sqlx::query_scalar("SELECT MIN(monitoring_timestamp) FROM system_health_monitoring WHERE service_name = 'orders-db'").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(run.incident_started_at, first);
    // Once an outage: not again while it runs, nor after it ended, until the service recovers.
    assert!(triggers::evaluate(&catalog).await.unwrap().started.is_empty());
    crate::run_queued(&catalog, &secrets(), engine::JOB_KIND).await;
    assert_eq!(runs::get(&catalog, &p.operator, &run.id).await.unwrap().status, RunStatus::Completed);
    bulwark_core::monitoring::samples::record_pushed(&catalog, &p.operator, &sample("unhealthy")).await.unwrap();
    assert!(triggers::evaluate(&catalog).await.unwrap().started.is_empty());
    // A new outage after a healthy probe starts it again.
    bulwark_core::monitoring::samples::record_pushed(&catalog, &p.operator, &sample("healthy")).await.unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        bulwark_core::monitoring::samples::record_pushed(&catalog, &p.operator, &sample("unhealthy")).await.unwrap();
    }
    assert_eq!(triggers::evaluate(&catalog).await.unwrap().started.len(), 1);
}

async fn a_drill_past_its_date_raises_an_alert(catalog: Catalog) {
    let p = people(&catalog).await;
    let text = document("Drilled weekly", &http_step("check", "http://127.0.0.1:9/", "")).replace("steps:\n", "drill: { schedule: \"0 3 * * 1\" }\nsteps:\n");
    let plan = plans::create(&catalog, &p.author, &text).await.unwrap();
    let id = plan.summary.id;
    assert_eq!(triggers::evaluate(&catalog).await.unwrap().overdue, 0, "no date before approval");
    let approved = plans::approve(&catalog, &p.approver, &id, &PlanDecision { version: 1, reason: None }).await.unwrap();
    let next = approved.summary.next_drill_at.expect("the schedule's next slot");
    assert!(next > bulwark_core::platform::time::now_text(), "{next}");
    assert_eq!(triggers::evaluate(&catalog).await.unwrap().overdue, 0);
    // The slot passes without a drill.
    sqlx::query("UPDATE disaster_recovery_plans SET next_drill_at = '2026-01-05T03:00:00.000000Z' WHERE id = $1").bind(&id).execute(catalog.pool()).await.unwrap();
    assert_eq!(triggers::evaluate(&catalog).await.unwrap().overdue, 1);
    assert!(bulwark_core::alerts::is_open(&catalog, bulwark_core::alerts::AlertType::DrillOverdue, &id).await.unwrap());
    // Evaluated again: still one alert, not a new one.
    triggers::evaluate(&catalog).await.unwrap();
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE alert_type = 'drill_overdue'").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(open, 1);
    // A drill's date back in the future resolves it.
    sqlx::query("UPDATE disaster_recovery_plans SET next_drill_at = '2999-01-01T00:00:00.000000Z' WHERE id = $1").bind(&id).execute(catalog.pool()).await.unwrap();
    triggers::evaluate(&catalog).await.unwrap();
    assert!(!bulwark_core::alerts::is_open(&catalog, bulwark_core::alerts::AlertType::DrillOverdue, &id).await.unwrap());
}

/// The backup seeds' procedure door: `approvalCode` is an approved run request's id (spent by
/// the one run it starts, only by its requester, for the plan version approved when asked), or
/// an approver's authenticator code; never the requester's own sign-off.
async fn the_procedure_door_takes_a_request_approved_ahead_or_an_approvers_code(catalog: Catalog) {
    let p = people(&catalog).await;
    let secrets = secrets();
    let (base, _) = service().await;
    let text = document("Procedure", &http_step("check", &format!("{base}/ok"), ""));
    let id = approved_plan(&catalog, &p, &text).await;
    let door = |code: &str| ProcedureExecute {
        procedure_id: id.clone(),
        disaster_type: DisasterType::DatabaseCorruption,
        affected_systems: vec![],
        incident_reference: None,
        approval_code: code.to_string(),
    };
    let ask = NewRunRequest { plan_id: id.clone(), reason: "orders database corrupt".into(), incident_reference: Some("INC-9".into()), affected_systems: None };

    // Asked; nobody signs off their own request; pending, it starts nothing.
    assert_eq!(requests::create(&catalog, &p.operator, &NewRunRequest { reason: " ".into(), ..ask.clone() }).await.unwrap_err().kind(), Kind::Invalid);
    let asked = requests::create(&catalog, &p.operator, &ask).await.unwrap();
    assert_eq!((asked.status, asked.plan_version, asked.requested_by.as_str()), (RunRequestStatus::Pending, 1, "operator"));
    assert_eq!(requests::pending_for(&catalog, &p.approver).await.unwrap(), 1);
    assert_eq!(requests::pending_for(&catalog, &p.operator).await.unwrap(), 0);
    let note = RunRequestDecision { comment: None };
    assert_eq!(requests::approve(&catalog, &p.operator, &asked.id, &note).await.unwrap_err().kind(), Kind::Forbidden);
    let pending = runs::start_procedure(&catalog, &secrets, &p.operator, &door(&asked.id)).await.unwrap_err();
    assert_eq!(pending.kind(), Kind::Conflict, "{pending}");
    assert_eq!(requests::reject(&catalog, &p.approver, &asked.id, &note).await.unwrap_err().kind(), Kind::Invalid, "a rejection says why");

    // Approved: another person cannot spend it, nor can it run another disaster.
    let approved = requests::approve(&catalog, &p.approver, &asked.id, &RunRequestDecision { comment: Some("go".into()) }).await.unwrap();
    assert_eq!((approved.status, approved.decided_by.as_deref()), (RunRequestStatus::Approved, Some("approver")));
    assert_eq!(requests::approve(&catalog, &p.author, &asked.id, &note).await.unwrap_err().kind(), Kind::Conflict, "decided already");
    assert_eq!(runs::start_procedure(&catalog, &secrets, &p.author, &door(&asked.id)).await.unwrap_err().kind(), Kind::Forbidden);
    let wrong = ProcedureExecute { disaster_type: DisasterType::RegionOutage, ..door(&asked.id) };
    assert_eq!(runs::start_procedure(&catalog, &secrets, &p.operator, &wrong).await.unwrap_err().kind(), Kind::Invalid);
    for bad in ["123456", "not-a-request"] {
        let e = runs::start_procedure(&catalog, &secrets, &p.operator, &door(bad)).await.unwrap_err();
        assert_eq!(e.kind(), Kind::Invalid, "{e}");
    }

    // Its requester starts the run with it, once.
    let started = runs::start_procedure(&catalog, &secrets, &p.operator, &door(&asked.id)).await.unwrap();
    let used = requests::get(&catalog, &p.operator, &asked.id).await.unwrap();
    assert_eq!((used.status, used.execution_id.as_deref()), (RunRequestStatus::Used, Some(started.execution_id.as_str())));
    engine::advance(&catalog, &secrets, &reach(), &Arc::from([]), &started.execution_id, Arc::new(AtomicBool::new(false)), None).await.unwrap();
    let run = runs::get(&catalog, &p.operator, &started.execution_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!((run.approved_by.as_deref(), run.incident_reference.as_deref()), (Some("approver"), Some("INC-9")));
    assert_eq!(run.approval_reference, Some(format!("run request {}", asked.id)));
    let again = runs::start_procedure(&catalog, &secrets, &p.operator, &door(&asked.id)).await.unwrap_err();
    assert!(again.kind() == Kind::Conflict && again.to_string().contains("already"), "{again}");

    // A request outlives neither its deadline nor the version it was approved for.
    let late = requests::create(&catalog, &p.operator, &ask).await.unwrap();
    sqlx::query("UPDATE recovery_run_requests SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE id = $1").bind(&late.id).execute(catalog.pool()).await.unwrap();
    assert_eq!(requests::get(&catalog, &p.approver, &late.id).await.unwrap().status, RunRequestStatus::Expired);
    let listed = |status| requests::list(&catalog, &p.operator, Some(status));
    assert_eq!(listed(RunRequestStatus::Expired).await.unwrap().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [late.id.as_str()]);
    assert!(listed(RunRequestStatus::Pending).await.unwrap().is_empty(), "an expired request is not pending");
    assert_eq!(listed(RunRequestStatus::Used).await.unwrap().len(), 1);
    assert_eq!(requests::approve(&catalog, &p.approver, &late.id, &note).await.unwrap_err().kind(), Kind::Conflict);
    let stale = requests::create(&catalog, &p.operator, &ask).await.unwrap();
    requests::approve(&catalog, &p.approver, &stale.id, &note).await.unwrap();
    plans::update(&catalog, &p.author, &id, &text.replace("severity: 2", "severity: 1")).await.unwrap();
    plans::approve(&catalog, &p.approver, &id, &PlanDecision { version: 2, reason: None }).await.unwrap();
    let changed = runs::start_procedure(&catalog, &secrets, &p.operator, &door(&stale.id)).await.unwrap_err();
    assert!(changed.kind() == Kind::Conflict && changed.to_string().contains("version"), "{changed}");
    assert_eq!(requests::get(&catalog, &p.operator, &stale.id).await.unwrap().status, RunRequestStatus::Approved, "nothing spent");

    // Or an approver signs off now with their authenticator; never the requester themselves.
    let t = chrono::Utc::now().timestamp();
    let enrollment = totp::begin(&catalog, &secrets, &p.approver).await.unwrap();
    totp::confirm(&catalog, &secrets, &p.approver, &crate::app_code(&enrollment.secret, t)).await.unwrap();
    let own = runs::start_procedure(&catalog, &secrets, &p.approver, &door(&format!("approver:{}", crate::app_code(&enrollment.secret, t + 30)))).await.unwrap_err();
    assert_eq!(own.kind(), Kind::Forbidden);
    let wrong_code = runs::start_procedure(&catalog, &secrets, &p.operator, &door("approver:000000")).await.unwrap_err();
    assert_eq!(wrong_code.kind(), Kind::Forbidden);
    let signed = runs::start_procedure(&catalog, &secrets, &p.operator, &door(&format!("approver:{}", crate::app_code(&enrollment.secret, t + 30)))).await.unwrap();
    let run = runs::get(&catalog, &p.operator, &signed.execution_id).await.unwrap();
    assert_eq!((run.plan_version, run.approved_by.as_deref(), run.approval_reference.as_deref()), (2, Some("approver"), Some("authenticator code")));
}

on_both_catalogs!(
    versions_are_approved_by_another_and_edits_make_new_ones,
    independent_steps_run_at_once_and_the_ledger_records_the_run,
    a_step_retries_with_its_backoff_and_a_failing_one_rolls_back_in_reverse,
    a_gate_waits_for_a_person_with_its_role,
    cancel_stops_the_step_under_way_and_rolls_back,
    a_run_taken_over_retries_only_what_is_safe_to_run_twice,
    a_health_rule_starts_an_approved_plan_once_an_outage,
    a_drill_past_its_date_raises_an_alert,
    the_procedure_door_takes_a_request_approved_ahead_or_an_approvers_code,
);

/// The one credential the bucket check names.
struct S3Secret(String);

#[async_trait::async_trait]
impl bulwark_core::recovery::steps::Secrets for S3Secret {
    async fn secret(&self, name: &str) -> Result<String, bulwark_core::recovery::steps::StepError> {
        match name {
            "s3" => Ok(self.0.clone()),
            other => Err(bulwark_core::recovery::steps::StepError::permanent(format!("no credential named {other}"))),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_checks_an_object_in_a_bucket_by_its_sha256() {
    use bulwark_core::recovery::steps::{self, StepContext, validation};
    use sha2::Digest;
    let storage = crate::buckets::bucket("drcheck").await;
    let server = tokio::task::spawn_blocking(bulwark_testkit::s3::SeaweedFs::shared).await.unwrap();
    let bytes = bulwark_testkit::noise(7, 3 << 20);
    let body = aws_sdk_s3::primitives::ByteStream::from(bytes.clone());
    storage.client().put_object().bucket(storage.bucket()).key("orders/2026.csv").body(body).send().await.unwrap();
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    let config = |key: &str, sha256: &str| -> validation::Config {
        steps::parse(&serde_json::json!({ "bucket": {
            "url": format!("s3://{}", storage.bucket()), "key": key, "sha256": sha256, "endpoint": server.endpoint,
            "accessKeyId": server.access_key, "secretKeySecret": "s3" } }))
        .unwrap()
    };
    let secret = S3Secret(server.secret_key.clone());
    let ctx = StepContext { secrets: &secret, cancel: Arc::new(AtomicBool::new(false)), timeout: Duration::from_secs(30) };
    let output = validation::run(&config("orders/2026.csv", &digest), &ctx).await.unwrap();
    assert_eq!((output["sha256"].as_str(), output["size"].as_u64()), (Some(digest.as_str()), Some(3 << 20)));
    let wrong = validation::run(&config("orders/2026.csv", &"0".repeat(64)), &ctx).await.unwrap_err();
    assert!(wrong.retryable && wrong.message.contains(&format!("has SHA-256 {digest}")), "{wrong}");
    let missing = validation::run(&config("orders/2025.csv", &digest), &ctx).await.unwrap_err();
    assert!(missing.message.contains("orders/2025.csv"), "{missing}");
    let problems: Vec<String> = config("", "nope").check().into_iter().map(|p| p.field).collect();
    assert_eq!(problems, ["bucket.key", "bucket.sha256"]);
}
