//! Drills on real infrastructure, on both catalogs: a plan restores a PostgreSQL dump into its
//! production target "prod-db", counts the restored rows and cleans up. As a drill the restore
//! goes to the scratch target the plan maps "prod-db" to, with the run's approval, and nothing
//! is left behind, also when the count fails; each drill leaves its result with its objectives.
//! A drill of a plan that maps no scratch target is refused; the same plan run for real
//! restores into production with the plan's approval and keeps what it restored, and a run
//! that fails puts back the database its restore wrote over.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions;
use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::recovery::drills::{self, ScheduleTest, TestFilter, TestParameters};
use bulwark_core::recovery::runs::GateAction;
use bulwark_core::recovery::{engine, plans, runs};
use bulwark_core::restoration::targets::{self, NewTarget};
use bulwark_core::restoration::jobs::RunApproval;
use bulwark_core::restoration::{Environment, RestorationRequest, RestorationStatus, RestorationType, jobs};
use bulwark_testkit::PgCluster;
use bulwark_types::{ExecuteRequest, ExecutionMode, PlanDecision, RecoveryRun, RunStatus, StepRun, StepStatus, TriggerType};

use crate::{on_both_catalogs, restore_targets, run_queued, user};

on_both_catalogs!(
    a_drill_restores_into_the_scratch_target_checks_it_and_leaves_nothing_behind,
    a_drill_whose_check_fails_still_cleans_up_and_records_its_issues,
    a_drill_of_a_plan_without_a_scratch_target_is_refused,
    a_run_for_real_restores_into_production_with_the_plans_approval,
    a_failed_run_puts_back_the_database_its_restore_wrote_over,
    a_drill_taken_over_after_its_node_died_still_cleans_up,
    a_restoration_taken_over_after_its_run_ended_stops_and_removes_what_it_made,
);

/// A database backed up as a dump, "prod-db" (production) and "scratch-db" (development) on
/// the same server, and an approved plan.
struct Fixture {
    catalog: Catalog,
    secrets: SecretBox,
    operator: Principal,
    cluster: &'static PgCluster,
    source: String,
    /// Where the plan restores: a new database next to the source.
    restored: String,
    plan_id: String,
    backup: String,
}

impl Fixture {
    /// The full restore of the backup into a new scratch database that a run's restore step
    /// asks for.
    fn scratch_restore(&self) -> RestorationRequest {
        RestorationRequest {
            backup_execution_id: self.backup.clone(),
            restoration_type: RestorationType::Full,
            target_environment: Environment::Development,
            target_identifier: format!("scratch-db/{}", self.restored),
            point_in_time_target: None,
            restoration_scope: None,
            incident_reference: None,
            approval_override: None,
            override_reason: None,
            accept_unverified: None,
            notes: None,
            conflict_resolution: None,
        }
    }

    /// `expect`: the row count the plan's check wants.
    async fn new(catalog: Catalog, expect: &str) -> Fixture {
        let secrets = SecretBox::new(Key::random());
        let admin = user(&catalog, "admin", Role::Admin).await;
        let author = user(&catalog, "author", Role::Approver).await;
        let approver = user(&catalog, "approver", Role::Approver).await;
        let operator = user(&catalog, "operator", Role::Operator).await;
        let cluster = tokio::task::spawn_blocking(PgCluster::shared).await.unwrap();
        let url = cluster.fresh_database("drill_src");
        let source = url.rsplit('/').next().unwrap().to_string();
        cluster.psql(&source, "CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 2000) g;").unwrap();
        let location = crate::executions::location(&catalog, &secrets, &admin).await;
        let new: NewConfiguration = serde_json::from_value(serde_json::json!({ "name": "orders db", "sourceType": "postgresql", "sourceIdentifier": url, "storageLocationIds": [location] })).unwrap();
        let configuration = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
        let backup = executions::start(&catalog, &admin, &configuration.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &backup.id, Default::default()).await.unwrap();
        // The same server under two names: Bulwark tells places apart by host, so the scratch
        // target's databases are not inside the production one.
        for (name, environment, host) in [("prod-db", "production", "127.0.0.1"), ("scratch-db", "development", "localhost")] {
            let target: NewTarget =
                serde_json::from_value(serde_json::json!({ "name": name, "environment": environment, "targetType": "postgresql", "url": format!("postgresql://postgres@{host}:{}", cluster.port) })).unwrap();
            targets::create(&catalog, &secrets, &restore_targets(), &admin, target).await.unwrap();
        }
        let restored = format!("{source}_restored");
        let plan = plans::create(&catalog, &author, &document(cluster.port, &restored, expect, "drill: { schedule: \"0 3 * * *\", targets: { prod-db: scratch-db } }")).await.unwrap();
        plans::approve(&catalog, &approver, &plan.summary.id, &PlanDecision { version: 1, reason: None }).await.unwrap();
        Fixture { catalog, secrets, operator, cluster, source, restored, plan_id: plan.summary.id, backup: backup.id }
    }

    /// Runs run `id` as the pool would: the engine, and the restoration jobs it queues.
    async fn advance(&self, id: &str) -> RecoveryRun {
        let (catalog, secrets, run) = (self.catalog.clone(), self.secrets.clone(), id.to_string());
        let engine = tokio::spawn(async move { engine::advance(&catalog, &secrets, &Arc::new(restore_targets()), &Arc::from([]), &run, Arc::new(AtomicBool::new(false)), None).await });
        let deadline = Instant::now() + Duration::from_secs(180);
        while !engine.is_finished() {
            assert!(Instant::now() < deadline, "the run did not end");
            run_queued(&self.catalog, &self.secrets, jobs::JOB_KIND).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        engine.await.unwrap().unwrap();
        runs::get(&self.catalog, &self.operator, id).await.unwrap()
    }

    fn databases_named(&self, name: &str) -> String {
        self.cluster.psql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'")).unwrap()
    }
}

fn document(port: u16, restored: &str, expect: &str, drill: &str) -> String {
    format!(
        r#"name: Orders drill
disasterScenario: software_corruption
disasterType: database_corruption
severity: 2
estimatedRtoMinutes: 15
estimatedRpoMinutes: 60
{drill}
steps:
  - name: restore orders
    type: backup_restore
    timeoutSeconds: 120
    rollback: false
    config: {{ configuration: orders db, targetEnvironment: production, targetIdentifier: "prod-db/{restored}" }}
  - name: count rows
    type: validation
    config: {{ sql: {{ host: 127.0.0.1, port: {port}, database: {restored}, query: "SELECT count(*) FROM orders", expect: "{expect}" }} }}
  - name: clean up
    type: cleanup
"#
    )
}

fn request(plan_id: &str, mode: ExecutionMode) -> ExecuteRequest {
    ExecuteRequest { plan_id: plan_id.into(), trigger_type: TriggerType::Manual, reason: None, execution_mode: mode, incident_reference: None, incident_started_at: None, affected_systems: None }
}

fn step<'a>(run: &'a RecoveryRun, name: &str) -> &'a StepRun {
    run.steps.iter().find(|s| s.step_name == name).unwrap()
}

async fn a_drill_restores_into_the_scratch_target_checks_it_and_leaves_nothing_behind(catalog: Catalog) {
    let f = Fixture::new(catalog, "2000").await;
    // Scheduled for tomorrow, started now by hand: the scheduled row becomes its result.
    let tomorrow = bulwark_core::platform::time::to_text(chrono::Utc::now() + chrono::Duration::days(1));
    let schedule = ScheduleTest { plan_id: f.plan_id.clone(), test_type: "simulation".into(), test_date: tomorrow, test_scope: None, participants: vec!["dba on call".into()] };
    let scheduled = drills::schedule(&f.catalog, &f.operator, &schedule).await.unwrap();
    assert_eq!(scheduled.status, "scheduled");
    let tabletop = ScheduleTest { test_type: "tabletop_exercise".into(), ..schedule.clone() };
    assert_eq!(drills::schedule(&f.catalog, &f.operator, &tabletop).await.unwrap_err().kind(), Kind::Invalid);
    let started = drills::execute(&f.catalog, &f.operator, &scheduled.id, &TestParameters::default()).await.unwrap();
    assert_eq!(started.execution_mode, ExecutionMode::Test);
    let job: String = sqlx::query_scalar("SELECT state FROM jobs WHERE kind = $1").bind(drills::JOB_KIND).fetch_one(f.catalog.pool()).await.unwrap();
    assert_eq!(job, "cancelled", "the scheduled start is dequeued");
    assert_eq!(drills::execute(&f.catalog, &f.operator, &scheduled.id, &TestParameters::default()).await.unwrap_err().kind(), Kind::Conflict);

    let run = f.advance(&started.id).await;
    assert_eq!(run.status, RunStatus::Completed, "{run:#?}");
    let restore = step(&run, "restore orders").output_data.clone().unwrap();
    assert_eq!(restore["target"], format!("scratch-db/{}", f.restored), "{restore}");
    assert_eq!(restore["drillOf"], format!("prod-db/{}", f.restored));
    assert_eq!(restore["created"]["place"]["database"], f.restored.as_str(), "{restore}");
    assert!(restore["restorablePoint"].is_string() && restore["restoredBytes"].as_i64() > Some(0), "{restore}");
    // A scratch place in development, approved by the drill itself.
    let restoration = jobs::get(&f.catalog, &f.operator, restore["restorationId"].as_str().unwrap()).await.unwrap();
    assert_eq!((restoration.status, restoration.target_environment), (RestorationStatus::Completed, Environment::Development));
    assert_eq!(restoration.approved_by.as_deref(), Some(format!("recovery run {} of plan Orders drill v1", run.id).as_str()));
    assert_eq!(step(&run, "count rows").output_data.as_ref().unwrap()["value"], "2000");
    let cleanup = step(&run, "clean up").output_data.clone().unwrap();
    assert_eq!(cleanup["removed"].as_array().map(Vec::len), Some(1), "{cleanup}");
    assert_eq!(f.databases_named(&f.restored), "0", "the scratch database is gone");
    assert_eq!(f.databases_named(&f.source), "1", "the source is untouched");

    // The scheduled row holds the result.
    let (tests, summary) = drills::list(&f.catalog, &f.operator, &TestFilter { plan_id: Some(f.plan_id.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(tests.len(), 1);
    let test = &tests[0];
    assert_eq!((test.id.as_str(), test.status.as_str(), test.test_type.as_str()), (scheduled.id.as_str(), "passed", "simulation"));
    assert_eq!(test.execution_id.as_deref(), Some(run.id.as_str()));
    assert!(test.objectives_met && test.data_integrity_validated, "{test:#?}");
    assert_eq!((test.target_rto_seconds, test.target_rpo_seconds), (Some(900.0), Some(3600.0)));
    assert!(test.actual_rto_seconds.is_some_and(|r| r > 0.0 && r <= 900.0), "{test:#?}");
    assert!(test.actual_rpo_seconds.is_some_and(|r| (0.0..=3600.0).contains(&r)), "{test:#?}");
    assert!(test.issues_identified.is_empty(), "{test:#?}");
    assert_eq!(test.participants, ["dba on call"]);
    assert!(test.next_test_date.as_deref().is_some_and(|d| d.contains("T03:00:00")), "{test:#?}");
    assert_eq!((summary.total, summary.passed, summary.objectives_met_rate), (1, 1, Some(100.0)));
    let plan = plans::get(&f.catalog, &f.operator, &f.plan_id).await.unwrap().summary;
    assert!(plan.last_tested.is_some() && plan.next_drill_at == test.next_test_date, "{plan:#?}");
}

async fn a_drill_whose_check_fails_still_cleans_up_and_records_its_issues(catalog: Catalog) {
    let f = Fixture::new(catalog, "1").await;
    let started = runs::start(&f.catalog, &f.operator, &request(&f.plan_id, ExecutionMode::Test)).await.unwrap();
    let run = f.advance(&started.execution_id).await;
    assert_eq!(run.status, RunStatus::RolledBack, "{run:#?}");
    assert_eq!(step(&run, "count rows").status, StepStatus::Failed);
    // The restore is not rolled back (the plan says so): the cleanup, run after the failure,
    // drops the scratch database.
    assert_eq!(step(&run, "restore orders").status, StepStatus::Completed);
    let cleanup = step(&run, "clean up");
    assert_eq!(cleanup.status, StepStatus::Completed, "{cleanup:#?}");
    assert_eq!(cleanup.output_data.as_ref().unwrap()["removed"][0]["step"], "restore orders");
    assert_eq!(f.databases_named(&f.restored), "0", "no scratch database is left");

    let (tests, summary) = drills::list(&f.catalog, &f.operator, &TestFilter { test_type: Some("simulation".into()), ..Default::default() }).await.unwrap();
    assert_eq!(tests.len(), 1);
    let test = &tests[0];
    assert_eq!((test.status.as_str(), test.objectives_met, test.data_integrity_validated), ("failed", false, false), "{test:#?}");
    assert!(test.issues_identified.iter().any(|i| i.starts_with("step `count rows` failed:") && i.contains("2000")), "{test:#?}");
    assert!(test.recommendations.iter().any(|r| r.contains("Fix step `count rows`")), "{test:#?}");
    assert_eq!(test.execution_id.as_deref(), Some(run.id.as_str()));
    assert_eq!((summary.failed, summary.objectives_met_rate), (1, Some(0.0)));
    assert_eq!(drills::list(&f.catalog, &f.operator, &TestFilter { test_type: Some("drill".into()), ..Default::default() }).await.unwrap_err().kind(), Kind::Invalid);
}

async fn a_drill_of_a_plan_without_a_scratch_target_is_refused(catalog: Catalog) {
    let author = user(&catalog, "author", Role::Approver).await;
    let approver = user(&catalog, "approver", Role::Approver).await;
    let operator = user(&catalog, "operator", Role::Operator).await;
    let admin = user(&catalog, "admin", Role::Admin).await;
    let secrets = SecretBox::new(Key::random());
    let target: NewTarget = serde_json::from_value(serde_json::json!({ "name": "prod-db", "environment": "production", "targetType": "postgresql", "url": "postgresql://postgres@127.0.0.1:5432" })).unwrap();
    targets::create(&catalog, &secrets, &restore_targets(), &admin, target).await.unwrap();
    for (drill, why) in [("drill: { targets: { other-db: scratch-db } }", "maps no scratch target"), ("drill: { targets: { prod-db: prod-db } }", "a production target")] {
        let plan = plans::create(&catalog, &author, &document(5432, "orders_restored", "2000", drill)).await.unwrap();
        let id = plan.summary.id;
        plans::approve(&catalog, &approver, &id, &PlanDecision { version: 1, reason: None }).await.unwrap();
        let refused = runs::start(&catalog, &operator, &request(&id, ExecutionMode::Test)).await.unwrap_err();
        assert_eq!(refused.kind(), Kind::Invalid, "{refused}");
        let text = refused.to_string();
        assert!(text.contains("step `restore orders`") && text.contains("\"prod-db\"") && text.contains(why), "{text}");
        let tomorrow = bulwark_core::platform::time::to_text(chrono::Utc::now() + chrono::Duration::days(1));
        let schedule = ScheduleTest { plan_id: id.clone(), test_type: "simulation".into(), test_date: tomorrow, test_scope: None, participants: vec![] };
        assert_eq!(drills::schedule(&catalog, &operator, &schedule).await.unwrap_err().kind(), Kind::Invalid);
        let filter = runs::RunFilter { plan_id: Some(id.clone()), ..Default::default() };
        assert!(runs::list(&catalog, &operator, &filter).await.unwrap().is_empty(), "no run started");
        plans::delete(&catalog, &admin, &id).await.unwrap();
    }
}

async fn a_run_for_real_restores_into_production_with_the_plans_approval(catalog: Catalog) {
    let f = Fixture::new(catalog, "2000").await;
    let started = runs::start(&f.catalog, &f.operator, &request(&f.plan_id, ExecutionMode::Manual)).await.unwrap();
    let run = f.advance(&started.execution_id).await;
    assert_eq!(run.status, RunStatus::Completed, "{run:#?}");
    let restore = step(&run, "restore orders").output_data.clone().unwrap();
    assert_eq!(restore["target"], format!("prod-db/{}", f.restored), "{restore}");
    assert!(restore["drillOf"].is_null());
    // Production needs an approver; the run's approval stood for one: nobody was asked.
    let restoration = jobs::get(&f.catalog, &f.operator, restore["restorationId"].as_str().unwrap()).await.unwrap();
    assert_eq!((restoration.status, restoration.target_environment, restoration.approval_required), (RestorationStatus::Completed, Environment::Production, true));
    assert_eq!(restoration.approved_by.as_deref(), Some(format!("recovery run {} of plan Orders drill v1", run.id).as_str()));
    assert!(restoration.approvals.is_empty());
    // The rows are there, and they stay: a recovery keeps what it restored.
    let checksum = "SELECT count(*) || ':' || md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o";
    assert_eq!(f.cluster.psql(&f.restored, checksum).unwrap(), f.cluster.psql(&f.source, checksum).unwrap());
    assert!(f.cluster.psql(&f.restored, checksum).unwrap().starts_with("2000:"));
    assert!(step(&run, "clean up").output_data.as_ref().unwrap()["skipped"].is_string());
    assert_eq!(f.databases_named(&f.restored), "1");
    // A recovery is not a drill: no test result.
    assert!(drills::list(&f.catalog, &f.operator, &TestFilter::default()).await.unwrap().0.is_empty());
    f.cluster.psql("postgres", &format!("DROP DATABASE {} WITH (FORCE)", f.restored)).unwrap();
}

async fn a_failed_run_puts_back_the_database_its_restore_wrote_over(catalog: Catalog) {
    let f = Fixture::new(catalog, "1").await;
    // Production already has the database, with other rows; the plan writes over it.
    f.cluster.psql("postgres", &format!("CREATE DATABASE {}", f.restored)).unwrap();
    f.cluster.psql(&f.restored, "CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders VALUES (1, 7), (2, 8), (3, 9);").unwrap();
    let author = user(&f.catalog, "author2", Role::Approver).await;
    let approver = user(&f.catalog, "approver2", Role::Approver).await;
    let text = document(f.cluster.port, &f.restored, "1", "")
        .replace("name: Orders drill", "name: Orders overwrite")
        .replace("rollback: false", "rollback: true")
        .replace("targetIdentifier:", "conflictResolution: overwrite, targetIdentifier:");
    let plan = plans::create(&f.catalog, &author, &text).await.unwrap();
    plans::approve(&f.catalog, &approver, &plan.summary.id, &PlanDecision { version: 1, reason: None }).await.unwrap();
    let started = runs::start(&f.catalog, &f.operator, &request(&plan.summary.id, ExecutionMode::Manual)).await.unwrap();
    let run = f.advance(&started.execution_id).await;
    assert_eq!(run.status, RunStatus::RolledBack, "{run:#?}");
    let restore = step(&run, "restore orders");
    assert_eq!((restore.status, restore.rollback_status.as_deref()), (StepStatus::RolledBack, Some("completed")), "{restore:#?}");
    assert!(restore.output_data.as_ref().unwrap()["created"].is_null(), "the database was there before");
    // The restore replaced the rows (the count saw 2000), and its rollback, approved by the run,
    // put the three rows back from the safety snapshot.
    assert!(step(&run, "count rows").error_message.as_deref().unwrap().contains("2000"));
    assert_eq!(f.cluster.psql(&f.restored, "SELECT string_agg(id || ':' || total, ',' ORDER BY id) FROM orders").unwrap(), "1:7,2:8,3:9");
    let original = restore.output_data.as_ref().unwrap()["restorationId"].as_str().unwrap().to_string();
    let rollback = jobs::list(&f.catalog, &f.operator, &jobs::HistoryFilter::default()).await.unwrap().into_iter().find(|r| r.rollback_of.as_deref() == Some(original.as_str())).expect("a rollback restoration");
    assert_eq!(rollback.status, RestorationStatus::Completed);
    assert_eq!(rollback.approved_by.as_deref(), Some(format!("recovery run {} of plan Orders overwrite v1", run.id).as_str()));
    assert_eq!(jobs::get(&f.catalog, &f.operator, &original).await.unwrap().status, RestorationStatus::RolledBack);
    f.cluster.psql("postgres", &format!("DROP DATABASE {} WITH (FORCE)", f.restored)).unwrap();
}

async fn a_drill_taken_over_after_its_node_died_still_cleans_up(catalog: Catalog) {
    let f = Fixture::new(catalog, "2000").await;
    let started = runs::start(&f.catalog, &f.operator, &request(&f.plan_id, ExecutionMode::Test)).await.unwrap();
    // What the node that died did: its restore step asked for the restoration, which ran on
    // another node and created the scratch database, and the step never recorded its end.
    let asked = f.scratch_restore();
    let approval = RunApproval { run_id: started.execution_id.clone(), plan_name: "Orders drill".into(), plan_version: 1, drill: true };
    jobs::request_for_run(&f.catalog, &f.secrets, &restore_targets(), &f.operator, asked, &approval).await.unwrap();
    run_queued(&f.catalog, &f.secrets, jobs::JOB_KIND).await;
    assert_eq!(f.databases_named(&f.restored), "1");
    sqlx::query("UPDATE recovery_step_executions SET status = 'running' WHERE execution_id = $1 AND step_name = 'restore orders'").bind(&started.execution_id).execute(f.catalog.pool()).await.unwrap();

    // The node that takes it over does not restore twice: a person decides, and aborts.
    let run = f.advance(&started.execution_id).await;
    assert_eq!((run.status, step(&run, "restore orders").status), (RunStatus::Waiting, StepStatus::Interrupted), "{run:#?}");
    runs::decide(&f.catalog, &f.operator, &run.id, &step(&run, "restore orders").id, GateAction::Abort).await.unwrap();
    let run = f.advance(&run.id).await;
    assert_eq!(run.status, RunStatus::Cancelled, "{run:#?}");
    // The cleanup ran all the same and found the database the unfinished step's restore made.
    let cleanup = step(&run, "clean up");
    assert_eq!(cleanup.status, StepStatus::Completed, "{cleanup:#?}");
    let removed = &cleanup.output_data.as_ref().unwrap()["removed"];
    assert!(removed[0]["step"].is_null() && removed[0]["place"].as_str().unwrap().ends_with(&format!("/{}", f.restored)), "{removed}");
    assert_eq!(f.databases_named(&f.restored), "0", "no scratch database is left");
    let (tests, _) = drills::list(&f.catalog, &f.operator, &TestFilter::default()).await.unwrap();
    assert_eq!((tests.len(), tests[0].status.as_str()), (1, "cancelled"));
}

/// A run's restoration that a node which died was running, taken over after the run ended (a
/// person aborted it): nobody wants it any more, so it stops rather than restoring, and the
/// database it creates is removed, since the run's own cleanup has already happened.
async fn a_restoration_taken_over_after_its_run_ended_stops_and_removes_what_it_made(catalog: Catalog) {
    let f = Fixture::new(catalog, "2000").await;
    let started = runs::start(&f.catalog, &f.operator, &request(&f.plan_id, ExecutionMode::Test)).await.unwrap();
    let asked = f.scratch_restore();
    let approval = RunApproval { run_id: started.execution_id.clone(), plan_name: "Orders drill".into(), plan_version: 1, drill: true };
    let restoration = jobs::request_for_run(&f.catalog, &f.secrets, &restore_targets(), &f.operator, asked, &approval).await.unwrap();
    // The node running it died mid-restore; meanwhile the run ended.
    sqlx::query("UPDATE restoration_jobs SET status = 'running' WHERE id = $1").bind(&restoration.restoration_id).execute(f.catalog.pool()).await.unwrap();
    sqlx::query("UPDATE recovery_executions SET status = 'cancelled' WHERE id = $1").bind(&started.execution_id).execute(f.catalog.pool()).await.unwrap();

    run_queued(&f.catalog, &f.secrets, jobs::JOB_KIND).await;
    let ended = jobs::get(&f.catalog, &f.operator, &restoration.restoration_id).await.unwrap();
    assert_eq!(ended.status, RestorationStatus::Cancelled, "{ended:#?}");
    let message = ended.error_message.clone().unwrap_or_default();
    assert!(message.starts_with(&format!("taken over after recovery run {} ended", started.execution_id)), "{message}");
    assert_eq!(f.databases_named(&f.restored), "0", "no database is left of it: {message}");
}
