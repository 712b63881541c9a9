//! Schedules fire each slot once, however many nodes look; backups can be cancelled, queued
//! or running, and a cancelled backup leaves no snapshot.

use bulwark_types::JobState;
use bulwark_core::executions::ExecutionStatus;
use std::sync::Arc;
use std::time::Duration;

use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions::{self, scheduled};
use bulwark_core::orchestration::backup::BackupHandler;
use bulwark_core::orchestration::pool::Pool;
use bulwark_core::locations;
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_testkit::PgCluster;
use chrono::{Timelike, Utc};
use sqlx::Connection;

use crate::executions::location;
use crate::{on_both_catalogs, user};

on_both_catalogs!(each_slot_fires_once_across_nodes, executions_are_cancelled_queued_or_running);

fn scheduled_config(name: &str, source: &str, location: &str, frequency: &str, schedule: Option<&str>) -> NewConfiguration {
    serde_json::from_value(serde_json::json!({
        "name": name, "sourceType": "filesystem", "sourceIdentifier": source, "storageLocationIds": [location],
        "frequency": frequency, "schedule": schedule,
    }))
    .unwrap()
}

async fn each_slot_fires_once_across_nodes(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("sched-src");
    std::fs::write(source.join("a.txt"), "a").unwrap();
    let src = source.to_str().unwrap();

    let bad = configurations::create(&catalog, &secrets, &admin, scheduled_config("bad", src, &loc, "custom", Some("61 * * * *"))).await.unwrap_err();
    assert!(bad.to_string().starts_with("schedule:"), "{bad}");
    let every_minute = configurations::create(&catalog, &secrets, &admin, scheduled_config("minutely", src, &loc, "custom", Some("* * * * *"))).await.unwrap();
    let manual = configurations::create(&catalog, &secrets, &admin, scheduled_config("by hand", src, &loc, "manual", None)).await.unwrap();
    let daily = configurations::create(&catalog, &secrets, &admin, scheduled_config("nightly", src, &loc, "daily", None)).await.unwrap();

    let listed = configurations::list(&catalog, &admin).await.unwrap();
    let next = |id: &str| listed.iter().find(|c| c.configuration.id == id).unwrap().next_execution.clone();
    assert_eq!(next(&manual.id), None);
    assert!(next(&daily.id).is_some_and(|t| t.ends_with("T01:00:00.000000Z")), "{:?}", next(&daily.id));
    assert!(next(&every_minute.id).is_some_and(|t| t.ends_with(":00.000000Z")), "{:?}", next(&every_minute.id));
    // Paused from here on, so that 01:00 passing during the test changes nothing.
    sqlx::query("UPDATE backup_configurations SET is_active = 0 WHERE id = $1").bind(&daily.id).execute(catalog.pool()).await.unwrap();

    // Three nodes look at the same moment, a minute on: one slot fires, once.
    let at = Utc::now() + chrono::Duration::seconds(61);
    let nodes: Vec<_> = (0..3)
        .map(|n| {
            let catalog = catalog.clone();
            tokio::spawn(async move { scheduled::fire_due(&catalog, &format!("node-{n}"), at).await.unwrap() })
        })
        .collect();
    let mut fired = Vec::new();
    for node in nodes {
        fired.extend(node.await.unwrap());
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!((fired[0].configuration_id.as_str(), fired[0].outcome.as_str()), (every_minute.id.as_str(), "queued"));
    let execution = executions::get(&catalog, &admin, fired[0].execution_id.as_deref().unwrap()).await.unwrap();
    assert_eq!((execution.execution_type.as_str(), execution.status.as_str()), ("scheduled", "queued"));
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE subject_id = $1").bind(&execution.id).fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(jobs, 1);
    assert!(scheduled::fire_due(&catalog, "node-0", at).await.unwrap().is_empty(), "a fired slot does not fire again");

    // The next slot finds the backup still queued: skipped, not stacked.
    let later = at + chrono::Duration::seconds(60);
    let skipped = scheduled::fire_due(&catalog, "node-1", later).await.unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].execution_id.is_none() && skipped[0].outcome.starts_with("skipped: "), "{skipped:?}");

    // Down for three hours: the latest missed slot runs, once.
    executions::cancel(&catalog, &admin, &execution.id).await.unwrap();
    let after_downtime = later + chrono::Duration::hours(3);
    let caught_up = scheduled::fire_due(&catalog, "node-2", after_downtime).await.unwrap();
    assert_eq!(caught_up.len(), 1, "{caught_up:?}");
    assert_eq!(caught_up[0].slot_at, bulwark_core::platform::time::to_text(after_downtime.with_second(0).unwrap().with_nanosecond(0).unwrap()));
    assert!(caught_up.iter().all(|s| s.outcome == "queued"));
    assert!(scheduled::fire_due(&catalog, "node-0", after_downtime).await.unwrap().is_empty());

    let view = scheduled::schedule(&catalog, &admin, &every_minute.id, 10).await.unwrap();
    assert_eq!(view.expression.as_deref(), Some("* * * * *"));
    assert_eq!(view.slots.len(), 3, "{:?}", view.slots);
    assert!(view.slots.windows(2).all(|w| w[0].slot_at > w[1].slot_at), "newest first");
    assert_eq!(scheduled::schedule(&catalog, &admin, &manual.id, 10).await.unwrap().expression, None);
}

async fn executions_are_cancelled_queued_or_running(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let cluster = tokio::task::spawn_blocking(PgCluster::shared).await.unwrap();
    let url = cluster.fresh_database("cancel");
    let database = url.rsplit('/').next().unwrap().to_string();
    cluster.psql(&database, "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 1000) g;").unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, config("orders", "postgresql", &url, &loc)).await.unwrap();

    // Queued: it never starts, and the configuration is free again.
    let queued = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    assert_eq!(executions::cancel(&catalog, &viewer, &queued.id).await.unwrap_err().kind(), Kind::Forbidden);
    let cancelled = executions::cancel(&catalog, &admin, &queued.id).await.unwrap();
    assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
    assert_eq!(executions::cancel(&catalog, &admin, &queued.id).await.unwrap_err().kind(), Kind::Conflict);

    // Running, with pg_dump stuck behind a lock another session holds: the worker kills the
    // dump, and no snapshot is written.
    let mut locker = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut pool = Pool::new(catalog.clone(), "test-node".into());
    pool.register(Arc::new(BackupHandler { secrets: secrets.clone() }));
    let pool = tokio::spawn(pool.run(1, stop_rx));
    let running = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    wait_for(&catalog, &running.id, |e| e.status == ExecutionStatus::Running).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    executions::cancel(&catalog, &admin, &running.id).await.unwrap();
    let stopped = wait_for(&catalog, &running.id, |e| e.is_finished()).await;
    assert_eq!(stopped.status, ExecutionStatus::Cancelled, "{:?}", stopped.error_message);
    assert!(stopped.snapshot_id.is_none());
    // The pool records the job's end after its handler has returned: a moment after the
    // execution's (a loaded machine showed it still running here).
    let mut job = bulwark_core::platform::jobs::for_subject(&catalog, executions::JOB_KIND, &running.id).await.unwrap().unwrap();
    for _ in 0..1200 {
        if job.state != JobState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        job = bulwark_core::platform::jobs::for_subject(&catalog, executions::JOB_KIND, &running.id).await.unwrap().unwrap();
    }
    assert_eq!(job.state, JobState::Cancelled);
    let repo = locations::open_repository(&catalog, &secrets, &loc).await.unwrap();
    assert!(repo.snapshots().await.unwrap().is_empty(), "a cancelled backup leaves no snapshot");
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    // The killed pg_dump's session ends once it gets the lock and finds its client gone.
    let mut dumps: i64 = -1;
    for _ in 0..100 {
        dumps = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND datname = current_database()")
            .fetch_one(&mut locker)
            .await
            .unwrap();
        if dumps == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dumps, 0, "pg_dump was stopped");

    // The next backup runs to the end on the same repository.
    let next = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    let done = wait_for(&catalog, &next.id, |e| e.is_finished()).await;
    assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error_message);
    assert_eq!(repo.snapshots().await.unwrap().len(), 1);
    stop.send(true).unwrap();
    pool.await.unwrap();
}

/// A backup under way on a one-worker pool for as long as the test wants: its pg_dump waits on
/// `locker`'s lock until the test rolls it back.
struct Held {
    catalog: Catalog,
    secrets: SecretBox,
    location: String,
    running: executions::Execution,
    locker: sqlx::postgres::PgConnection,
    stop: tokio::sync::watch::Sender<bool>,
    pool: tokio::task::JoinHandle<()>,
}

/// Starts a [`Held`] backup on a pool set up with `setting(pool, value)`.
async fn held_backup<T>(label: &str, setting: fn(Pool, T) -> Pool, value: T) -> Held {
    let catalog = Catalog::open(&bulwark_testkit::sqlite_url()).await.unwrap();
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let location = location(&catalog, &secrets, &admin).await;
    let cluster = tokio::task::spawn_blocking(PgCluster::shared).await.unwrap();
    let url = cluster.fresh_database(label);
    let database = url.rsplit('/').next().unwrap().to_string();
    cluster.psql(&database, "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 1000);").unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, config("orders", "postgresql", &url, &location)).await.unwrap();
    let mut locker = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut pool = setting(Pool::new(catalog.clone(), format!("{label}-node")), value);
    pool.register(Arc::new(BackupHandler { secrets: secrets.clone() }));
    let pool = tokio::spawn(pool.run(1, stop_rx));
    let running = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    wait_for(&catalog, &running.id, |e| e.status == ExecutionStatus::Running).await;
    Held { catalog, secrets, location, running, locker, stop, pool }
}

/// A worker that learns it lost its lease drops the backup: its progress writer stops with it
/// (it used to go on writing over the execution for ever), and the cancel flag stops the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_attempt_stops_writing_and_working() {
    let Held { catalog, secrets, location: loc, running, mut locker, stop, pool } = held_backup("abandoned", Pool::with_lease_seconds, 3).await;

    // Another node takes the job over (its lease far ahead, so it is not re-queued here).
    sqlx::query("UPDATE jobs SET lease_owner = 'other-node/0', lease_expires_at = '2999-01-01T00:00:00.000000Z' WHERE subject_id = $1")
        .bind(&running.id)
        .execute(catalog.pool())
        .await
        .unwrap();
    // Heartbeats come every second: by now the worker knows.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    sqlx::query("UPDATE backup_executions SET progress = 'written by the new owner' WHERE id = $1").bind(&running.id).execute(catalog.pool()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let progress: String = sqlx::query_scalar("SELECT progress FROM backup_executions WHERE id = $1").bind(&running.id).fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(progress, "written by the new owner", "the abandoned attempt wrote over it");

    // Let the dump through: the abandoned attempt does not finish the backup.
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let repo = locations::open_repository(&catalog, &secrets, &loc).await.unwrap();
    assert!(repo.snapshots().await.unwrap().is_empty(), "the abandoned attempt ran to its end");
    stop.send(true).unwrap();
    pool.await.unwrap();
}

/// A backup that reads nothing (its pg_dump waits on a lock) is stopped by the watchdog once
/// the stall limit passes, and both its job and its execution say why; it used to hold its
/// worker for as long as the lock stayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_backup_is_stopped_by_the_watchdog() {
    let Held { catalog, running, mut locker, stop, pool, .. } = held_backup("stalled", Pool::with_stall_limit, Some(Duration::from_secs(3))).await;
    let started = std::time::Instant::now();
    let stopped = wait_for(&catalog, &running.id, |e| e.is_finished()).await;
    let waited = started.elapsed();
    assert_eq!(stopped.status, ExecutionStatus::Failed);
    assert!(stopped.error_message.as_deref().is_some_and(|m| m.contains("stopped by the watchdog")), "{:?}", stopped.error_message);
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(15), "{waited:?}");
    let job = bulwark_core::platform::jobs::for_subject(&catalog, executions::JOB_KIND, &running.id).await.unwrap().unwrap();
    let job = loop {
        let j = bulwark_core::platform::jobs::get(&catalog, &job.id).await.unwrap();
        if j.state != JobState::Running {
            break j;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(job.state, JobState::Failed);
    assert!(job.last_error.as_deref().is_some_and(|e| e.starts_with("stopped by the watchdog: no progress for 3 s")), "{:?}", job.last_error);
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    stop.send(true).unwrap();
    pool.await.unwrap();
}

fn config(name: &str, source_type: &str, source: &str, location: &str) -> NewConfiguration {
    serde_json::from_value(serde_json::json!({
        "name": name, "sourceType": source_type, "sourceIdentifier": source, "storageLocationIds": [location],
    }))
    .unwrap()
}

async fn wait_for(catalog: &Catalog, id: &str, done: impl Fn(&executions::Execution) -> bool) -> executions::Execution {
    let admin = bulwark_core::platform::auth::Principal { user_id: String::new(), username: "t".into(), role: Role::Admin, token_id: None, scope: None };
    for _ in 0..1200 {
        let e = executions::get(catalog, &admin, id).await.unwrap();
        if done(&e) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {id} did not get there in a minute");
}
