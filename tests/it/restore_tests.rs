//! Restore tests put a backup into a real scratch target (a temporary directory; a new
//! database on the source's server), check it, time it, record RTO/RPO, issues and
//! recommendations, and clean up.

use bulwark_types::TestStatus;
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions;
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::restore_tests::{self, ScheduleTest};
use bulwark_testkit::PgCluster;

use crate::executions::location;
use crate::{on_both_catalogs, user};

on_both_catalogs!(restore_tests_restore_check_time_and_clean_up);

async fn restore_tests_restore_check_time_and_clean_up(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let operator = user(&catalog, "operator", Role::Operator).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let cluster = tokio::task::spawn_blocking(PgCluster::shared).await.unwrap();
    let url = cluster.fresh_database("tested");
    let database = url.rsplit('/').next().unwrap().to_string();
    cluster
        .psql(&database, "CREATE TABLE invoices (id int PRIMARY KEY, total numeric); INSERT INTO invoices SELECT g, g * 1.5 FROM generate_series(1, 1234) g; ANALYZE;")
        .unwrap();
    let files = bulwark_testkit::temp_dir("tested-files");
    std::fs::create_dir_all(files.join("etc")).unwrap();
    std::fs::write(files.join("etc/app.conf"), "port = 8080\n").unwrap();
    std::fs::write(files.join("data.bin"), vec![7u8; 300_000]).unwrap();
    let new = |name: &str, kind: &str, source: &str, rpo: i64| -> NewConfiguration {
        serde_json::from_value(serde_json::json!({
            "name": name, "sourceType": kind, "sourceIdentifier": source, "storageLocationIds": [loc], "rtoMinutes": 30, "rpoMinutes": rpo,
        }))
        .unwrap()
    };
    let db = configurations::create(&catalog, &secrets, &admin, new("invoices db", "postgresql", &url, 60)).await.unwrap();
    let dir = configurations::create(&catalog, &secrets, &admin, new("app files", "filesystem", files.to_str().unwrap(), 1)).await.unwrap();

    let nothing_yet = restore_tests::schedule(&catalog, &operator, ScheduleTest { configuration_id: Some(db.id.clone()), ..Default::default() }).await.unwrap_err();
    assert!(nothing_yet.to_string().starts_with("configurationId: it has no completed backup"), "{nothing_yet}");
    for c in [&db, &dir] {
        let e = executions::start(&catalog, &operator, &c.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    }
    assert_eq!(
        restore_tests::schedule(&catalog, &viewer, ScheduleTest { configuration_id: Some(db.id.clone()), ..Default::default() }).await.unwrap_err().kind(),
        Kind::Forbidden
    );
    let both = ScheduleTest { execution_id: Some("x".into()), configuration_id: Some(db.id.clone()), ..Default::default() };
    assert_eq!(restore_tests::schedule(&catalog, &operator, both).await.unwrap_err().kind(), Kind::Invalid);

    // The database: restored into a scratch database, every recorded table there, then dropped.
    let queued = restore_tests::schedule(&catalog, &operator, ScheduleTest { configuration_id: Some(db.id.clone()), ..Default::default() }).await.unwrap().remove(0);
    assert_eq!((queued.status.as_str(), queued.test_type.as_str(), queued.test_scope.as_str()), ("scheduled", "restoration", "configuration"));
    let job: String = sqlx::query_scalar("SELECT kind FROM jobs WHERE subject_id = $1").bind(&queued.id).fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(job, restore_tests::JOB_KIND);
    let done = bulwark_core::orchestration::restore_test::run(&catalog, &secrets, &queued.id).await.unwrap();
    assert_eq!(done.status, TestStatus::Passed, "{}", done.issues_found);
    let metrics: serde_json::Value = serde_json::from_str(&done.performance_metrics).unwrap();
    assert_eq!(metrics["target"]["rows"]["public.invoices"].as_i64(), Some(1234), "{metrics}");
    assert!(metrics["restoreSeconds"].as_f64().unwrap() > 0.0 && metrics["rtoMet"] == true && metrics["rpoMet"] == true, "{metrics}");
    let scratch = metrics["target"]["database"].as_str().unwrap();
    println!("restore test of a 1234-row dump into a scratch database: {} s", metrics["restoreSeconds"]);
    let left = cluster.psql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{scratch}'")).unwrap();
    assert_eq!(left, "0", "the scratch database is dropped");

    // The files: restored into a temporary directory, then removed. Its RPO of one minute is
    // missed once the backup is older: a recommendation, not a failure.
    sqlx::query("UPDATE backup_executions SET completed_at = $1 WHERE configuration_id = $2")
        .bind(bulwark_core::platform::time::to_text(chrono::Utc::now() - chrono::Duration::minutes(5)))
        .bind(&dir.id)
        .execute(catalog.pool())
        .await
        .unwrap();
    let queued = restore_tests::schedule(&catalog, &operator, ScheduleTest { configuration_id: Some(dir.id.clone()), ..Default::default() }).await.unwrap().remove(0);
    let done = bulwark_core::orchestration::restore_test::run(&catalog, &secrets, &queued.id).await.unwrap();
    assert_eq!(done.status, TestStatus::Passed, "{}", done.issues_found);
    let metrics: serde_json::Value = serde_json::from_str(&done.performance_metrics).unwrap();
    assert_eq!((metrics["itemsRestored"].as_u64(), metrics["bytesRestored"].as_u64()), (Some(2), Some(300_012)), "{metrics}");
    assert_eq!(metrics["rpoMet"], false);
    assert!(done.recommendations.contains("over the RPO of 1 min"), "{}", done.recommendations);
    let restored_into = metrics["target"]["directory"].as_str().unwrap();
    println!("restore test of 2 files (293 KiB) into a scratch directory: {} s", metrics["restoreSeconds"]);
    assert!(!std::path::Path::new(restored_into).exists(), "the scratch directory is removed");

    // A damaged backup fails its test and raises an alert.
    let e = executions::start(&catalog, &operator, &dir.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    let repo = bulwark_core::locations::open_repository(&catalog, &secrets, &loc).await.unwrap();
    let snapshot = executions::get(&catalog, &viewer, &e.id).await.unwrap().snapshot_id.unwrap();
    repo.storage().delete(&format!("snapshots/{snapshot}")).await.unwrap();
    let queued = restore_tests::schedule(&catalog, &operator, ScheduleTest { execution_id: Some(e.id.clone()), ..Default::default() }).await.unwrap().remove(0);
    let failed = bulwark_core::orchestration::restore_test::run(&catalog, &secrets, &queued.id).await.unwrap();
    assert_eq!(failed.status, TestStatus::Failed);
    assert!(failed.issues_found.contains("the restore failed"), "{}", failed.issues_found);
    let alerts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE alert_type = 'restore_test_failed' AND status = 'open'")
        .fetch_one(catalog.pool())
        .await
        .unwrap();
    assert_eq!(alerts, 1);

    // The sweep: each newest backup has its verification queued and a test from today, so
    // there is nothing to do. With those jobs gone and the files' test a week old, it queues
    // both verifications and one test.
    let (verifications, tests) = restore_tests::sweep(&catalog).await.unwrap();
    assert_eq!((verifications, tests), (0, 0), "each completed backup already queued its verification");
    sqlx::query("DELETE FROM jobs WHERE kind = 'verify'").execute(catalog.pool()).await.unwrap();
    sqlx::query("UPDATE backup_tests SET created_at = '2000-01-01T00:00:00.000000Z' WHERE execution_id = $1").bind(&e.id).execute(catalog.pool()).await.unwrap();
    let (verifications, tests) = restore_tests::sweep(&catalog).await.unwrap();
    assert_eq!((verifications, tests), (2, 1));

    let results = restore_tests::results(&catalog, &viewer, &Default::default(), 50).await.unwrap();
    assert_eq!((results.summary.total_tests, results.summary.passed_tests, results.summary.failed_tests), (3, 2, 1), "the swept test is still queued");
    assert!(results.summary.average_rto_seconds.is_some_and(|s| s > 0.0));
    assert!(results.summary.average_rpo_seconds.is_some_and(|s| s >= 100.0), "{:?}", results.summary);
    assert_eq!(results.summary.average_rpo, results.summary.average_rpo_seconds.map(|s| (s / 60.0 * 100.0).round() / 100.0), "minutes, as targets are");

    // The seeds' request: an integrity test reads the backup back and writes nothing.
    let integrity = ScheduleTest { test_type: Some("integrity".into()), test_scope: Some("configuration".into()), configuration_id: Some(db.id.clone()), test_environment: Some("staging".into()), ..Default::default() };
    let queued = restore_tests::schedule(&catalog, &operator, integrity).await.unwrap().remove(0);
    assert_eq!((queued.test_type.as_str(), queued.test_environment.as_str()), ("integrity", "staging"));
    let done = bulwark_core::orchestration::restore_test::run(&catalog, &secrets, &queued.id).await.unwrap();
    assert_eq!(done.status, TestStatus::Passed, "{}", done.issues_found);
    let metrics: serde_json::Value = serde_json::from_str(&done.performance_metrics).unwrap();
    assert!(metrics["bytesRestored"].as_u64().unwrap() > 0 && metrics["target"]["verifiedAt"].is_string(), "{metrics}");
    // full_system: one test per active configuration's newest backup; scheduledFor delays the job.
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    let everything = ScheduleTest { test_scope: Some("full_system".into()), scheduled_for: Some(later.to_rfc3339()), ..Default::default() };
    let queued = restore_tests::schedule(&catalog, &operator, everything).await.unwrap();
    assert_eq!(queued.len(), 2, "both configurations");
    let run_at: String = sqlx::query_scalar("SELECT run_at FROM jobs WHERE subject_id = $1").bind(&queued[0].id).fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(run_at, bulwark_core::platform::time::to_text(later));
    for (request, field) in [
        (ScheduleTest { test_type: Some("performance".into()), execution_id: Some(e.id.clone()), ..Default::default() }, "testType"),
        (ScheduleTest { test_environment: Some("Production".into()), execution_id: Some(e.id.clone()), ..Default::default() }, "testEnvironment"),
        (ScheduleTest { scheduled_for: Some("tomorrow".into()), execution_id: Some(e.id.clone()), ..Default::default() }, "scheduledFor"),
        (ScheduleTest { test_scope: Some("full_system".into()), execution_id: Some(e.id.clone()), ..Default::default() }, "testScope"),
        (ScheduleTest { test_parameters: Some(serde_json::json!([1])), execution_id: Some(e.id.clone()), ..Default::default() }, "testParameters"),
    ] {
        let refused = restore_tests::schedule(&catalog, &operator, request).await.unwrap_err();
        assert!(refused.kind() == Kind::Invalid && refused.to_string().starts_with(field), "{refused}");
    }
    // The seeds' filters.
    let integrity_only = restore_tests::ResultsFilter { test_type: Some("integrity".into()), ..Default::default() };
    assert_eq!(restore_tests::results(&catalog, &viewer, &integrity_only, 50).await.unwrap().tests.len(), 1);
    let failed_only = restore_tests::ResultsFilter { status: Some("failed".into()), ..Default::default() };
    let failed = restore_tests::results(&catalog, &viewer, &failed_only, 50).await.unwrap();
    assert_eq!((failed.tests.len(), failed.summary.failed_tests), (1, 1));
    let all = restore_tests::results(&catalog, &viewer, &Default::default(), 50).await.unwrap().tests.len();
    let this_week = restore_tests::ResultsFilter { date_range: Some("7d".into()), ..Default::default() };
    assert_eq!(restore_tests::results(&catalog, &viewer, &this_week, 50).await.unwrap().tests.len(), all - 1, "the test dated 2000 is out");
    let bad_range = restore_tests::ResultsFilter { date_range: Some("soon".into()), ..Default::default() };
    assert_eq!(restore_tests::results(&catalog, &viewer, &bad_range, 50).await.unwrap_err().kind(), Kind::Invalid);
}
