//! The worker pool every `bulwark serve` runs: N workers claiming jobs from the catalog.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::platform::catalog::Catalog;
use crate::platform::jobs::{self, CancelFlag, ClaimedJob, Failure};

/// The boxed future a handler returns.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// Runs one kind of job. A failure says whether another attempt can help; its message is stored
/// on the job for a person to read. A handler whose result must be recorded with the job's
/// completion does both in one transaction with [`jobs::complete_in`]; the pool then finds the
/// job complete.
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> &'static str;
    fn run<'a>(&'a self, catalog: &'a Catalog, job: &'a ClaimedJob, cancel: CancelFlag) -> JobFuture<'a>;
}

/// How long a claim lasts without a heartbeat, by default; heartbeats come every third of it.
pub const DEFAULT_LEASE_SECONDS: i64 = 60;
/// How long an idle worker waits before looking again.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// How often a running job's cancellation flag is read from the catalog.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Pool {
    catalog: Catalog,
    node_id: String,
    lease_seconds: i64,
    /// How long a watched job may go without moving before it is stopped and failed.
    stall_limit: Option<std::time::Duration>,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    /// Kinds queued by the pool itself, each at most once per period across all nodes.
    periodic: Vec<(&'static str, Duration)>,
}

impl Pool {
    pub fn new(catalog: Catalog, node_id: String) -> Pool {
        Pool { catalog, node_id, lease_seconds: DEFAULT_LEASE_SECONDS, stall_limit: None, handlers: HashMap::new(), periodic: Vec::new() }
    }

    /// Registers a handler whose job the pool queues every `every` (housekeeping: expired
    /// sessions, the retention cleanup).
    pub fn register_periodic(&mut self, handler: Arc<dyn JobHandler>, every: Duration) {
        self.periodic.push((handler.kind(), every));
        self.register(handler);
    }

    /// A shorter lease hands a dead node's jobs over sooner, at the price of more heartbeats.
    pub fn with_lease_seconds(mut self, seconds: i64) -> Pool {
        self.lease_seconds = seconds.max(3);
        self
    }

    /// Stops and fails a job whose work has not moved for `limit` (see [`jobs::Liveness`]);
    /// `None` never does.
    pub fn with_stall_limit(mut self, limit: Option<std::time::Duration>) -> Pool {
        self.stall_limit = limit;
        self
    }

    pub fn register(&mut self, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(handler.kind(), handler);
    }

    /// The handler registered for `kind`.
    pub fn handler(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }

    /// Runs `workers` workers (none: this node claims no jobs) and the maintenance loop until
    /// `shutdown` turns true; running jobs finish first.
    pub async fn run(self, workers: usize, shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let mut set = JoinSet::new();
        for n in 0..workers {
            let this = this.clone();
            let shutdown = shutdown.clone();
            set.spawn(async move { this.worker(n, shutdown).await });
        }
        let maintenance = this.clone();
        let shutdown_m = shutdown.clone();
        set.spawn(async move { maintenance.maintain(shutdown_m).await });
        while set.join_next().await.is_some() {}
    }

    async fn worker(&self, n: usize, mut shutdown: watch::Receiver<bool>) {
        let owner = format!("{}/{n}", self.node_id);
        while !*shutdown.borrow() {
            match jobs::claim(&self.catalog, &owner, Duration::seconds(self.lease_seconds)).await {
                Ok(Some(job)) => self.execute(&owner, job).await,
                Ok(None) => {
                    tokio::select! {
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                        _ = jobs::queued_here() => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a job failed; retrying");
                    tokio::time::sleep(IDLE_POLL * 4).await;
                }
            }
        }
    }

    async fn execute(&self, owner: &str, job: ClaimedJob) {
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            let error = Failure::Retryable(format!("no handler for job kind {:?} on this node", job.kind));
            if let Err(e) = jobs::fail(&self.catalog, &job, owner, &error).await {
                tracing::warn!(job = %job.id, error = %e, "recording a failure failed");
            }
            return;
        };
        tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
        let lease = Duration::seconds(self.lease_seconds);
        let cancel: CancelFlag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(job.cancel_requested != 0));
        // Heartbeats every third of the lease; between them, the cancellation flag each second.
        let watch = async {
            let period = std::time::Duration::from_secs((self.lease_seconds / 3) as u64);
            let mut last_beat = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(CANCEL_POLL).await;
                if !cancel.load(Ordering::Relaxed) && jobs::cancel_requested(&self.catalog, &job.id).await.unwrap_or(false) {
                    tracing::info!(job = %job.id, "cancellation requested");
                    cancel.store(true, Ordering::Relaxed);
                }
                if let Some(limit) = self.stall_limit
                    && !cancel.load(Ordering::Relaxed)
                    && job.liveness.check(limit)
                {
                    tracing::warn!(job = %job.id, seconds = limit.as_secs(), "no progress within the stall limit; stopping the job");
                    cancel.store(true, Ordering::Relaxed);
                }
                if last_beat.elapsed() >= period {
                    if let Err(e) = jobs::heartbeat(&self.catalog, &job.id, owner, lease).await {
                        return e;
                    }
                    last_beat = tokio::time::Instant::now();
                }
            }
        };
        let outcome = tokio::select! {
            result = handler.run(&self.catalog, &job, cancel.clone()) => Some(result),
            lost = watch => {
                // The handler's future is dropped here; its blocking work (reading a source,
                // packing) watches this flag and stops rather than running to its end.
                cancel.store(true, Ordering::Relaxed);
                tracing::warn!(job = %job.id, error = %lost, "lease lost; abandoning the job");
                None
            }
        };
        let recorded = match outcome {
            Some(Ok(())) => match jobs::complete(&self.catalog, &job.id, owner).await {
                // A handler that commits a result completes its job in the same transaction
                // (`jobs::complete_in`): nothing is left to record.
                Err(jobs::JobError::LeaseLost(_)) if jobs::get(&self.catalog, &job.id).await.is_ok_and(|j| j.state == bulwark_types::JobState::Succeeded) => Ok(()),
                other => other,
            },
            Some(Err(_)) if job.liveness.is_stalled() => {
                let limit = self.stall_limit.unwrap_or_default().as_secs();
                jobs::fail(&self.catalog, &job, owner, &Failure::Retryable(format!("stopped by the watchdog: no progress for {limit} s"))).await
            }
            Some(Err(_)) if cancel.load(Ordering::Relaxed) => jobs::finish_cancelled(&self.catalog, &job.id, owner).await,
            Some(Err(error)) => {
                tracing::warn!(job = %job.id, error = error.message(), permanent = matches!(error, Failure::Permanent(_)), "job failed");
                jobs::fail(&self.catalog, &job, owner, &error).await
            }
            None => Ok(()),
        };
        match recorded {
            Ok(()) => tracing::info!(job = %job.id, "job finished"),
            Err(e) => tracing::warn!(job = %job.id, error = %e, "job outcome not recorded"),
        }
    }

    /// Re-queues jobs of dead workers (every sixth of a lease, so a dead node's job waits at
    /// most 7/6 of a lease) and queues the periodic jobs that are due.
    async fn maintain(&self, mut shutdown: watch::Receiver<bool>) {
        let period = std::time::Duration::from_secs((self.lease_seconds as u64 / 6).max(1));
        while !*shutdown.borrow() {
            match jobs::requeue_expired(&self.catalog).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "re-queued jobs whose lease expired"),
                Err(e) => tracing::warn!(error = %e, "re-queueing expired leases failed"),
            }
            for (kind, every) in &self.periodic {
                if let Err(e) = jobs::enqueue_periodic(&self.catalog, kind, *every).await {
                    tracing::warn!(kind, error = %e, "queueing a periodic job failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
