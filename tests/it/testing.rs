//! Restore tests put a backup into a real scratch target (a temporary directory; a new
//! database on the source's server), check it, time it, record RTO/RPO, issues and
//! recommendations, and clean up.

use bulwark_core::auth::Role;
use bulwark_core::catalog::Catalog;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions;
use bulwark_core::repo::crypto::Key;
use bulwark_core::secrets::SecretBox;
use bulwark_core::testing::{self, ScheduleTest};
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

    let nothing_yet = testing::schedule(&catalog, &operator, ScheduleTest { execution_id: None, configuration_id: Some(db.id.clone()) }).await.unwrap_err();
    assert!(nothing_yet.to_string().starts_with("configurationId: it has no completed backup"), "{nothing_yet}");
    for c in [&db, &dir] {
        let e = executions::start(&catalog, &operator, &c.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    }
    assert_eq!(
        testing::schedule(&catalog, &viewer, ScheduleTest { execution_id: None, configuration_id: Some(db.id.clone()) }).await.unwrap_err().kind(),
        Kind::Forbidden
    );
    let both = ScheduleTest { execution_id: Some("x".into()), configuration_id: Some(db.id.clone()) };
    assert_eq!(testing::schedule(&catalog, &operator, both).await.unwrap_err().kind(), Kind::Invalid);

    // The database: restored into a scratch database, every recorded table there, then dropped.
    let queued = testing::schedule(&catalog, &operator, ScheduleTest { execution_id: None, configuration_id: Some(db.id.clone()) }).await.unwrap();
    assert_eq!(queued.status, "queued");
    let job: String = sqlx::query_scalar("SELECT kind FROM jobs WHERE subject_id = $1").bind(&queued.id).fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(job, testing::JOB_KIND);
    let done = testing::run(&catalog, &secrets, &queued.id).await.unwrap();
    assert_eq!(done.status, "passed", "{}", done.issues_found);
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
        .bind(bulwark_core::time::to_text(chrono::Utc::now() - chrono::Duration::minutes(5)))
        .bind(&dir.id)
        .execute(catalog.pool())
        .await
        .unwrap();
    let queued = testing::schedule(&catalog, &operator, ScheduleTest { execution_id: None, configuration_id: Some(dir.id.clone()) }).await.unwrap();
    let done = testing::run(&catalog, &secrets, &queued.id).await.unwrap();
    assert_eq!(done.status, "passed", "{}", done.issues_found);
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
    let queued = testing::schedule(&catalog, &operator, ScheduleTest { execution_id: Some(e.id.clone()), configuration_id: None }).await.unwrap();
    let failed = testing::run(&catalog, &secrets, &queued.id).await.unwrap();
    assert_eq!(failed.status, "failed");
    assert!(failed.issues_found.contains("the restore failed"), "{}", failed.issues_found);
    let alerts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE alert_type = 'restore_test_failed' AND status = 'open'")
        .fetch_one(catalog.pool())
        .await
        .unwrap();
    assert_eq!(alerts, 1);

    // The sweep: each newest backup has its verification queued and a test from today, so
    // there is nothing to do. With those jobs gone and the files' test a week old, it queues
    // both verifications and one test.
    let (verifications, tests) = testing::sweep(&catalog).await.unwrap();
    assert_eq!((verifications, tests), (0, 0), "each completed backup already queued its verification");
    sqlx::query("DELETE FROM jobs WHERE kind = 'verify'").execute(catalog.pool()).await.unwrap();
    sqlx::query("UPDATE backup_tests SET created_at = '2000-01-01T00:00:00.000000Z' WHERE execution_id = $1").bind(&e.id).execute(catalog.pool()).await.unwrap();
    let (verifications, tests) = testing::sweep(&catalog).await.unwrap();
    assert_eq!((verifications, tests), (2, 1));

    let results = testing::results(&catalog, &viewer, 50).await.unwrap();
    assert_eq!((results.summary.total, results.summary.passed, results.summary.failed), (3, 2, 1), "the swept test is still queued");
    assert!(results.summary.average_rto_seconds.is_some_and(|s| s > 0.0));
    assert!(results.summary.average_rpo_seconds.is_some_and(|s| s >= 100.0), "{:?}", results.summary);
}
