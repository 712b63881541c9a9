use std::collections::HashSet;

use bulwark_types::JobState;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::jobs::{self, Failure, JobError, NewJob};
use chrono::Duration;

use crate::on_both_catalogs;

on_both_catalogs!(
    claims_follow_priority_and_are_fenced,
    failures_retry_with_backoff_then_fail,
    a_job_that_cannot_succeed_is_not_retried,
    expired_leases_are_requeued,
    concurrent_claimers_never_share_a_job,
    cancellation_dequeues_or_asks_the_worker,
    periodic_jobs_are_queued_once_per_period,
);

async fn claims_follow_priority_and_are_fenced(catalog: Catalog) {
    let low = jobs::enqueue(&catalog, NewJob { priority: 9, ..NewJob::new("t", serde_json::json!({})) }).await.unwrap();
    let high = jobs::enqueue(&catalog, NewJob { priority: 1, ..NewJob::new("t", serde_json::json!({})) }).await.unwrap();
    let later = NewJob { priority: 0, run_at: Some(chrono::Utc::now() + Duration::hours(1)), ..NewJob::new("t", serde_json::json!({})) };
    jobs::enqueue(&catalog, later).await.unwrap();

    let first = jobs::claim(&catalog, "w1", Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(first.id, high, "lowest priority_level first; future jobs wait");
    assert_eq!(first.attempts, 1);
    let second = jobs::claim(&catalog, "w2", Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(second.id, low);
    assert!(jobs::claim(&catalog, "w3", Duration::seconds(30)).await.unwrap().is_none());

    // w2 cannot complete w1's job.
    assert!(matches!(jobs::complete(&catalog, &first.id, "w2").await, Err(JobError::LeaseLost(_))));
    jobs::complete(&catalog, &first.id, "w1").await.unwrap();
    assert_eq!(jobs::get(&catalog, &first.id).await.unwrap().state, JobState::Succeeded);
    assert!(jobs::heartbeat(&catalog, &first.id, "w1", Duration::seconds(30)).await.is_err(), "finished jobs take no heartbeat");
}

async fn failures_retry_with_backoff_then_fail(catalog: Catalog) {
    let id = jobs::enqueue(&catalog, NewJob { max_attempts: 2, ..NewJob::new("t", serde_json::json!({})) }).await.unwrap();
    let job = jobs::claim(&catalog, "w", Duration::seconds(30)).await.unwrap().unwrap();
    jobs::fail(&catalog, &job, "w", &Failure::Retryable("disk full".into())).await.unwrap();
    let row = jobs::get(&catalog, &id).await.unwrap();
    assert_eq!((row.state.as_str(), row.last_error.as_deref()), ("queued", Some("disk full")));
    assert!(row.run_at > bulwark_core::platform::time::now_text(), "retry waits for its backoff");
    assert!(jobs::claim(&catalog, "w", Duration::seconds(30)).await.unwrap().is_none());

    // Make it due now and fail it for the last time.
    sqlx::query("UPDATE jobs SET run_at = $1 WHERE id = $2").bind("2000-01-01T00:00:00.000000Z").bind(&id).execute(catalog.pool()).await.unwrap();
    let job = jobs::claim(&catalog, "w", Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(job.attempts, 2);
    jobs::fail(&catalog, &job, "w", &Failure::Retryable("disk still full".into())).await.unwrap();
    let row = jobs::get(&catalog, &id).await.unwrap();
    assert_eq!(row.state, JobState::Failed);
    assert!(row.finished_at.is_some());
}

/// A handler's failure is classified by its error: something missing fails the job at its
/// first attempt instead of retrying it for hours, while an outage is retried.
async fn a_job_that_cannot_succeed_is_not_retried(catalog: Catalog) {
    use bulwark_core::orchestration::handlers::VerifyHandler;
    use bulwark_core::orchestration::pool::Pool;
    let secrets = bulwark_core::platform::secrets::SecretBox::new(bulwark_core::engine::repo::crypto::Key::random());
    let job = NewJob { max_attempts: 5, ..NewJob::new(bulwark_core::verify::JOB_KIND, serde_json::json!({ "executionId": "no-such-execution" })) };
    let id = jobs::enqueue(&catalog, job).await.unwrap();
    let mut pool = Pool::new(catalog.clone(), "permanent".into());
    pool.register(std::sync::Arc::new(VerifyHandler { secrets }));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(pool.run(1, stopped));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let row = loop {
        let row = jobs::get(&catalog, &id).await.unwrap();
        if row.attempts > 0 && row.state != JobState::Running || std::time::Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    stop.send(true).unwrap();
    running.await.unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 1), "{row:?}");
    assert!(row.last_error.as_deref().is_some_and(|e| e.contains("not found")), "{row:?}");

    let outage = bulwark_core::engine::storage::StorageError::Remote { key: "index/1".into(), message: "connection refused".into() };
    assert!(matches!(Failure::from(outage), Failure::Retryable(_)));
}

async fn expired_leases_are_requeued(catalog: Catalog) {
    let id = jobs::enqueue(&catalog, NewJob::new("t", serde_json::json!({}))).await.unwrap();
    let dead = jobs::claim(&catalog, "dead-node", Duration::seconds(-1)).await.unwrap().unwrap();
    assert_eq!(jobs::requeue_expired(&catalog).await.unwrap(), 1);
    let alive = jobs::claim(&catalog, "live-node", Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(alive.id, id);
    // The dead worker wakes up: fenced out.
    assert!(jobs::complete(&catalog, &dead.id, "dead-node").await.is_err());
    jobs::complete(&catalog, &id, "live-node").await.unwrap();
}

async fn concurrent_claimers_never_share_a_job(catalog: Catalog) {
    for _ in 0..30 {
        jobs::enqueue(&catalog, NewJob::new("t", serde_json::json!({}))).await.unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..4 {
        let catalog = catalog.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            let mut mine = Vec::new();
            while let Some(job) = jobs::claim(&catalog, &owner, Duration::seconds(30)).await.unwrap() {
                jobs::complete(&catalog, &job.id, &owner).await.unwrap();
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (30, 30));
}

async fn cancellation_dequeues_or_asks_the_worker(catalog: Catalog) {
    let queued = jobs::enqueue(&catalog, NewJob::new("t", serde_json::json!({}))).await.unwrap();
    assert_eq!(jobs::cancel(&catalog, &queued).await.unwrap(), jobs::Cancelled::Dequeued);
    assert_eq!(jobs::get(&catalog, &queued).await.unwrap().state, JobState::Cancelled);
    assert!(jobs::claim(&catalog, "w", Duration::seconds(30)).await.unwrap().is_none(), "a cancelled job never runs");
    assert!(matches!(jobs::cancel(&catalog, &queued).await, Err(JobError::Finished(_))));

    let running = jobs::enqueue(&catalog, NewJob::new("t", serde_json::json!({}))).await.unwrap();
    let job = jobs::claim(&catalog, "w", Duration::seconds(30)).await.unwrap().unwrap();
    assert!(!jobs::cancel_requested(&catalog, &running).await.unwrap());
    assert_eq!(jobs::cancel(&catalog, &running).await.unwrap(), jobs::Cancelled::Requested);
    assert!(jobs::cancel_requested(&catalog, &running).await.unwrap());
    assert!(jobs::finish_cancelled(&catalog, &job.id, "another-worker").await.is_err(), "fenced on the lease");
    jobs::finish_cancelled(&catalog, &job.id, "w").await.unwrap();
    assert_eq!(jobs::get(&catalog, &running).await.unwrap().state, JobState::Cancelled);
    assert!(matches!(jobs::cancel(&catalog, "no-such-job").await, Err(JobError::NotFound(_))));
}

async fn periodic_jobs_are_queued_once_per_period(catalog: Catalog) {
    let every = Duration::hours(1);
    let queued: Vec<bool> = three_nodes_ask(&catalog, every).await;
    assert_eq!(queued.iter().filter(|q| **q).count(), 1, "three nodes, one job: {queued:?}");
    let job = jobs::claim(&catalog, "w", Duration::seconds(30)).await.unwrap().unwrap();
    assert!(!jobs::enqueue_periodic(&catalog, "housekeeping", every).await.unwrap(), "not while it runs");
    jobs::complete(&catalog, &job.id, "w").await.unwrap();
    assert!(!jobs::enqueue_periodic(&catalog, "housekeeping", every).await.unwrap(), "not within the period");
    assert!(jobs::enqueue_periodic(&catalog, "housekeeping", Duration::milliseconds(1)).await.unwrap(), "once the period has passed");
}

/// Three nodes asking at once.
async fn three_nodes_ask(catalog: &Catalog, every: Duration) -> Vec<bool> {
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let catalog = catalog.clone();
            tokio::spawn(async move { jobs::enqueue_periodic(&catalog, "housekeeping", every).await.unwrap() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A node frozen inside a catalog transaction (SIGSTOP, a paused VM) keeps its connection open.
/// It used to hold its locks for ever: another node queueing periodic jobs waited on the queue's
/// lock, and its loop, which also re-queues dead nodes' jobs, with it; any audited write waited
/// on the audit chain's. Now queueing skips a busy lock and the server ends the frozen session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_frozen_inside_a_transaction_blocks_no_one() {
    use bulwark_core::platform::catalog::dialect::LockTopic;
    let url = tokio::task::spawn_blocking(bulwark_testkit::postgres_url).await.unwrap();
    let (frozen, live) = (Catalog::open(&url).await.unwrap(), Catalog::open(&url).await.unwrap());

    let queue = frozen.begin_serialized(LockTopic::JobQueue).await.unwrap();
    let asked = tokio::time::timeout(std::time::Duration::from_secs(5), jobs::enqueue_periodic(&live, "housekeeping", Duration::hours(1))).await;
    assert!(!asked.expect("queueing waited on a frozen node's lock").unwrap(), "the holder queues, not this node");
    drop(queue);

    let mut chain = frozen.begin_serialized(LockTopic::AuditChain).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *chain.tx).await.unwrap();
    let started = std::time::Instant::now();
    let other = tokio::time::timeout(std::time::Duration::from_secs(60), live.begin_serialized(LockTopic::AuditChain)).await;
    other.expect("an audited write waited for ever on a frozen node").unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(10), "the lock was held until the server ended the session");
    assert!(chain.commit().await.is_err(), "the frozen node's transaction is over: nothing it wrote in it lands");
}
