//! The work queue: the `jobs` table, claimed atomically by any node's workers.
//!
//! A claim sets a lease (owner + expiry); the worker extends it with heartbeats while it
//! works. A job whose lease expired (its worker died or hung) goes back to the queue, at most
//! [`TAKEOVERS`] times beyond its planned attempts. Every state change after the claim is fenced
//! on `lease_owner`, so a worker that lost its lease cannot complete or fail a job another worker
//! now holds. Failures retry with exponential backoff up to `max_attempts`.
//!
//! Every time here is the catalog's ([`Catalog::now`]), never a node's own clock: a node whose
//! clock runs ahead would otherwise see live leases as expired, and one behind would write
//! leases that are already over. Each attempt is kept in `job_attempts` (who, from when to when,
//! how it ended).
//!
//! This is the queue only, a leaf any operation may use to enqueue inside its transaction; the
//! workers that run jobs and the handlers for each kind are `crate::orchestration`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
pub use bulwark_types::{JobLine, JobState};
use serde::Serialize;

use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::error::{Classify, Kind};
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("job {0} is no longer leased to this worker")]
    LeaseLost(String),
    #[error("job {0} not found")]
    NotFound(String),
    #[error("job {0} has already finished")]
    Finished(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for JobError {
    fn kind(&self) -> Kind {
        match self {
            JobError::LeaseLost(_) | JobError::Finished(_) => Kind::Conflict,
            JobError::NotFound(_) => Kind::NotFound,
            JobError::Invalid(_) => Kind::Invalid,
            JobError::Auth(e) => e.kind(),
            JobError::Catalog(e) => e.kind(),
        }
    }
}

/// Set when someone cancels the running job; work that can stop early watches it.
pub type CancelFlag = Arc<AtomicBool>;

/// How an attempt failed, as its handler decides: worth another attempt later, or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The job is tried again after a backoff, until it has used its attempts (a storage
    /// location that did not answer, a lock held elsewhere, a catalog outage).
    Retryable(String),
    /// Another attempt would fail the same way (bad input, something deleted, damaged data):
    /// the job fails now.
    Permanent(String),
}

impl Failure {
    /// The text stored on the job for a person to read.
    pub fn message(&self) -> &str {
        match self {
            Failure::Retryable(m) | Failure::Permanent(m) => m,
        }
    }
}

/// Any module error: its [`Kind`] says whether trying again can help.
impl<E: Classify + std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        match e.kind() {
            Kind::Invalid | Kind::Unauthenticated | Kind::Forbidden | Kind::NotFound | Kind::Damaged => Failure::Permanent(e.to_string()),
            Kind::Conflict | Kind::RateLimited | Kind::Unavailable | Kind::Internal => Failure::Retryable(e.to_string()),
        }
    }
}

/// This process's idle workers wait on it besides their poll interval.
static QUEUED_HERE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Wakes this process's idle workers after a job was queued (and committed) here, so it starts
/// without waiting for their next poll; other nodes find it on theirs. A person waiting for a
/// restore should not wait for half a poll interval on average.
pub fn wake_idle() {
    QUEUED_HERE.notify_waiters();
}

/// Resolves at the next [`wake_idle`].
pub async fn queued_here() {
    QUEUED_HERE.notified().await
}

/// A job to put on the queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// Lower runs first (the seeds' priority_level).
    pub priority: i64,
    pub configuration_id: Option<String>,
    /// What the job acts on (a backup job: its execution), to find it by.
    pub subject_id: Option<String>,
    /// Not before this time; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: i64,
}

impl NewJob {
    pub fn new(kind: &str, payload: serde_json::Value) -> NewJob {
        NewJob { kind: kind.into(), payload, priority: 5, configuration_id: None, subject_id: None, run_at: None, max_attempts: 5 }
    }
}

/// A job a worker holds the lease on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    /// Someone asked it to stop before this attempt began ([`request_stop`]): the handler
    /// starts with its cancel flag set, to undo what an earlier attempt did.
    pub cancel_requested: i64,
    /// The worker holding the lease (set by [`claim`]).
    #[sqlx(skip)]
    pub owner: String,
    /// Whether the job's work still moves, for the pool's stall watchdog.
    #[sqlx(skip)]
    pub liveness: Arc<Liveness>,
}

/// How a running job tells the pool its work still moves. A handler that can tell (a backup
/// reading its source) calls [`Liveness::watch`] once and [`Liveness::moved`] whenever it gets
/// further; the pool stops a watched job that has not moved for its stall limit. Jobs that never
/// call `watch` are never stopped for it.
#[derive(Debug)]
pub struct Liveness {
    since: std::time::Instant,
    /// Milliseconds after `since` of the last move; 0 while unwatched.
    moved_ms: AtomicU64,
    stalled: AtomicBool,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness { since: std::time::Instant::now(), moved_ms: AtomicU64::new(0), stalled: AtomicBool::new(false) }
    }
}

impl Liveness {
    /// Starts watching: the work counts as moving now.
    pub fn watch(&self) {
        self.moved();
    }

    pub fn moved(&self) {
        self.moved_ms.store((self.since.elapsed().as_millis() as u64).max(1), Ordering::Relaxed);
    }

    /// Marks the job stalled if it is watched and has not moved for `limit`; true once stalled.
    pub fn check(&self, limit: std::time::Duration) -> bool {
        let moved = self.moved_ms.load(Ordering::Relaxed);
        if moved > 0 && self.since.elapsed().as_millis() as u64 > moved + limit.as_millis() as u64 {
            self.stalled.store(true, Ordering::Relaxed);
        }
        self.is_stalled()
    }

    /// True once the pool stopped the job for not moving.
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }
}

impl ClaimedJob {
    /// The lease this claim holds, for work that must stop counting once it is lost.
    pub fn lease(&self) -> Lease {
        Lease { job_id: self.id.clone(), owner: self.owner.clone() }
    }

    /// The text field `key` of the job's JSON payload (the id of what it works on); a payload
    /// without it fails the job for good.
    pub fn payload_field(&self, key: &str) -> Result<String, Failure> {
        let payload: serde_json::Value = serde_json::from_str(&self.payload).map_err(|e| Failure::Permanent(format!("bad payload: {e}")))?;
        payload[key].as_str().map(str::to_string).ok_or_else(|| Failure::Permanent(format!("the payload has no {key}")))
    }
}

/// A worker's hold on a running job. What the job produces is committed only while the lease
/// is held: [`Lease::check`] right before a commit point, and [`complete_in`] inside the
/// transaction that records the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: String,
    pub owner: String,
}

impl Lease {
    /// Fails with [`JobError::LeaseLost`] unless the job is still running under this owner and
    /// its lease has not run out on the catalog's clock (once it has, any node may take it over).
    pub async fn check(&self, catalog: &Catalog) -> Result<(), JobError> {
        let now = time::to_text(catalog.now().await?);
        let held: Option<i64> = sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1 AND lease_owner = $2 AND state = 'running' AND lease_expires_at > $3")
            .bind(&self.job_id)
            .bind(&self.owner)
            .bind(&now)
            .fetch_optional(catalog.pool())
            .await?;
        fenced(held.map_or(0, |_| 1), &self.job_id)
    }
}

const JOB_COLUMNS: &str = "id, kind, state, subject_id, lease_owner, priority, attempts, max_attempts, run_at, last_error, created_at, finished_at";

pub async fn enqueue(catalog: &Catalog, job: NewJob) -> Result<String, JobError> {
    let mut conn = catalog.pool().acquire().await?;
    enqueue_on(&mut conn, job).await
}

/// Enqueues on a connection the caller holds: inside its transaction, the job exists exactly
/// when what it works on does.
pub async fn enqueue_on(conn: &mut sqlx::AnyConnection, job: NewJob) -> Result<String, JobError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = time::to_text(crate::platform::catalog::now_on(conn).await?);
    let run_at = job.run_at.map(time::to_text).unwrap_or_else(|| now.clone());
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, state, priority, configuration_id, subject_id, run_at, attempts, max_attempts, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, 0, $8, $9, $9)",
    )
    .bind(&id)
    .bind(&job.kind)
    .bind(job.payload.to_string())
    .bind(job.priority)
    .bind(&job.configuration_id)
    .bind(&job.subject_id)
    .bind(&run_at)
    .bind(job.max_attempts.max(1))
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Claims the most urgent runnable job for `owner`, leasing it for `lease`.
pub async fn claim(catalog: &Catalog, owner: &str, lease: Duration) -> Result<Option<ClaimedJob>, JobError> {
    let now = catalog.now().await?;
    let now_text = time::to_text(now);
    // Idle workers poll often: a read first keeps them from taking the write lock for nothing.
    let runnable: Option<String> = sqlx::query_scalar("SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $1 LIMIT 1")
        .bind(&now_text)
        .fetch_optional(catalog.pool())
        .await?;
    if runnable.is_none() {
        return Ok(None);
    }
    // The claim and its attempt's record are one transaction.
    let mut tx = catalog.pool().begin_with(catalog.backend().begin_immediate()).await?;
    // fetch_all, not fetch_optional: SQLite keeps an UPDATE … RETURNING statement (and its
    // write lock) open until every row has been stepped through.
    let claimed = sqlx::query_as::<_, ClaimedJob>(catalog.backend().claim_job_sql())
        .bind(&now_text)
        .bind(owner)
        .bind(time::to_text(now + lease))
        .fetch_all(&mut *tx)
        .await?
        .pop()
        .map(|job| ClaimedJob { owner: owner.to_string(), ..job });
    if let Some(job) = &claimed {
        sqlx::query("INSERT INTO job_attempts (job_id, attempt, owner, started_at) VALUES ($1, $2, $3, $4)")
            .bind(&job.id)
            .bind(job.attempts)
            .bind(owner)
            .bind(&now_text)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

/// Closes the open attempt of job `id` (there is at most one), inside the caller's statement
/// sequence: `outcome` is what a person reads in the attempt history.
async fn end_attempt(conn: &mut sqlx::AnyConnection, id: &str, now: &str, outcome: &str) -> Result<(), JobError> {
    sqlx::query("UPDATE job_attempts SET ended_at = $1, outcome = $2 WHERE job_id = $3 AND ended_at IS NULL")
        .bind(now)
        .bind(outcome)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Extends the lease; fails with [`JobError::LeaseLost`] if another worker took the job over.
pub async fn heartbeat(catalog: &Catalog, id: &str, owner: &str, lease: Duration) -> Result<(), JobError> {
    let now = catalog.now().await?;
    let done = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
    )
    .bind(time::to_text(now + lease))
    .bind(time::to_text(now))
    .bind(id)
    .bind(owner)
    .execute(catalog.pool())
    .await?;
    fenced(done.rows_affected(), id)
}

pub async fn complete(catalog: &Catalog, id: &str, owner: &str) -> Result<(), JobError> {
    let mut tx = catalog.pool().begin().await?;
    complete_in(&mut tx, id, owner).await?;
    tx.commit().await?;
    Ok(())
}

/// Completes the job inside the caller's transaction, so what the job produced is recorded
/// exactly when the job is, and only while `owner` still holds the lease.
pub async fn complete_in(conn: &mut sqlx::AnyConnection, id: &str, owner: &str) -> Result<(), JobError> {
    let now = time::to_text(crate::platform::catalog::now_on(conn).await?);
    let done = sqlx::query(
        "UPDATE jobs SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = $1, updated_at = $1
         WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
    )
    .bind(&now)
    .bind(id)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    fenced(done.rows_affected(), id)?;
    end_attempt(conn, id, &now, "succeeded").await
}

/// Records a failed attempt: back to the queue after a backoff, or `failed` once the job has
/// used all its attempts or the failure is permanent.
pub async fn fail(catalog: &Catalog, job: &ClaimedJob, owner: &str, failure: &Failure) -> Result<(), JobError> {
    let (error, permanent) = (failure.message(), i64::from(matches!(failure, Failure::Permanent(_))));
    let mut tx = catalog.pool().begin().await?;
    let now = crate::platform::catalog::now_on(&mut tx).await?;
    let retry_at = time::to_text(now + backoff(job.attempts));
    let done = sqlx::query(
        "UPDATE jobs SET
             state = CASE WHEN attempts >= max_attempts OR $6 = 1 THEN 'failed' ELSE 'queued' END,
             run_at = CASE WHEN attempts >= max_attempts OR $6 = 1 THEN run_at ELSE $1 END,
             finished_at = CASE WHEN attempts >= max_attempts OR $6 = 1 THEN $2 ELSE NULL END,
             last_error = $3, lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
         WHERE id = $4 AND lease_owner = $5 AND state = 'running'",
    )
    .bind(&retry_at)
    .bind(time::to_text(now))
    .bind(error)
    .bind(&job.id)
    .bind(owner)
    .bind(permanent)
    .execute(&mut *tx)
    .await?;
    fenced(done.rows_affected(), &job.id)?;
    end_attempt(&mut tx, &job.id, &time::to_text(now), &format!("failed: {error}")).await?;
    tx.commit().await?;
    Ok(())
}

/// What a cancellation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The job had not started: it never will.
    Dequeued,
    /// The job is running: its worker was asked to stop.
    Requested,
}

/// Cancels a job: a queued one at once, a running one by asking its worker (which sees the
/// request within about a second and stops cleanly).
pub async fn cancel(catalog: &Catalog, id: &str) -> Result<Cancelled, JobError> {
    let now = time::to_text(catalog.now().await?);
    let dequeued = sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finished_at = $1, updated_at = $1, last_error = 'cancelled before it started'
         WHERE id = $2 AND state = 'queued'",
    )
    .bind(&now)
    .bind(id)
    .execute(catalog.pool())
    .await?;
    if dequeued.rows_affected() == 1 {
        return Ok(Cancelled::Dequeued);
    }
    let requested = sqlx::query("UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2 AND state = 'running'")
        .bind(&now)
        .bind(id)
        .execute(catalog.pool())
        .await?;
    if requested.rows_affected() == 1 {
        return Ok(Cancelled::Requested);
    }
    get(catalog, id).await?;
    Err(JobError::Finished(id.into()))
}

/// Asks job `id` to stop wherever it is, never dequeuing it: a job whose earlier attempt may
/// have left work half-done (a restore a dead node was writing) must still run, with its
/// cancel flag set, to undo it. A running job sees the flag within a second; a queued one
/// starts with it ([`ClaimedJob::cancel_requested`]).
pub async fn request_stop(catalog: &Catalog, id: &str) -> Result<(), JobError> {
    let now = time::to_text(catalog.now().await?);
    let requested = sqlx::query("UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2 AND state IN ('queued', 'running')")
        .bind(&now)
        .bind(id)
        .execute(catalog.pool())
        .await?;
    if requested.rows_affected() == 1 {
        return Ok(());
    }
    get(catalog, id).await?;
    Err(JobError::Finished(id.into()))
}

/// True once someone asked the running job to stop.
pub async fn cancel_requested(catalog: &Catalog, id: &str) -> Result<bool, JobError> {
    let flag: Option<i64> = sqlx::query_scalar("SELECT cancel_requested FROM jobs WHERE id = $1").bind(id).fetch_optional(catalog.pool()).await?;
    Ok(flag.unwrap_or(0) != 0)
}

/// Records that a worker stopped its job on request.
pub async fn finish_cancelled(catalog: &Catalog, id: &str, owner: &str) -> Result<(), JobError> {
    let mut tx = catalog.pool().begin().await?;
    let now = time::to_text(crate::platform::catalog::now_on(&mut tx).await?);
    let done = sqlx::query(
        "UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, finished_at = $1, updated_at = $1,
             last_error = 'cancelled while running'
         WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
    )
    .bind(&now)
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    fenced(done.rows_affected(), id)?;
    end_attempt(&mut tx, id, &now, "cancelled").await?;
    tx.commit().await?;
    Ok(())
}

/// The job working on `subject_id` (the latest, if several did).
pub async fn for_subject(catalog: &Catalog, kind: &str, subject_id: &str) -> Result<Option<JobLine>, JobError> {
    Ok(sqlx::query_as::<_, JobLine>(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 AND subject_id = $2 ORDER BY created_at DESC LIMIT 1"))
        .bind(kind)
        .bind(subject_id)
        .fetch_optional(catalog.pool())
        .await?)
}

/// Times a job whose worker keeps dying may be taken over beyond its planned attempts: a dead
/// node's job runs again elsewhere, a job that kills every node that takes it stops.
pub const TAKEOVERS: i64 = 2;

/// Puts jobs whose lease ran out back on the queue, or fails them once they used their
/// attempts and [`TAKEOVERS`]; returns how many it moved.
pub async fn requeue_expired(catalog: &Catalog) -> Result<u64, JobError> {
    let mut tx = catalog.pool().begin_with(catalog.backend().begin_immediate()).await?;
    let now = time::to_text(crate::platform::catalog::now_on(&mut tx).await?);
    sqlx::query(
        "UPDATE job_attempts SET ended_at = $1, outcome = 'lease expired: the worker stopped or hung'
         WHERE ended_at IS NULL AND job_id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < $1)",
    )
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query(
        "UPDATE jobs SET
             state = CASE WHEN attempts >= max_attempts + $2 THEN 'failed' ELSE 'queued' END,
             finished_at = CASE WHEN attempts >= max_attempts + $2 THEN $1 ELSE NULL END,
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $1,
             last_error = 'lease expired: the worker stopped or hung'
         WHERE state = 'running' AND lease_expires_at < $1",
    )
    .bind(&now)
    .bind(TAKEOVERS)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// One attempt at a job, as `job_attempts` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub attempt: i64,
    pub owner: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub outcome: Option<String>,
}

/// The attempts at job `id`, first first.
pub async fn attempts(catalog: &Catalog, id: &str) -> Result<Vec<Attempt>, JobError> {
    Ok(sqlx::query_as("SELECT attempt, owner, started_at, ended_at, outcome FROM job_attempts WHERE job_id = $1 ORDER BY attempt")
        .bind(id)
        .fetch_all(catalog.pool())
        .await?)
}

/// Queues a housekeeping job of `kind` unless one is queued or running, or one was created
/// less than `every` ago; serialised, so several nodes queue it once. True if it queued one.
/// While another node is queueing, this one leaves it to them (it asks again next round)
/// rather than wait: the loop that calls it also re-queues dead nodes' jobs.
pub async fn enqueue_periodic(catalog: &Catalog, kind: &str, every: Duration) -> Result<bool, JobError> {
    let Some(mut tx) = catalog.try_begin_serialized(LockTopic::JobQueue).await? else {
        return Ok(false);
    };
    let since = time::to_text(crate::platform::catalog::now_on(&mut tx.tx).await? - every);
    let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND (state IN ('queued', 'running') OR created_at > $2)")
        .bind(kind)
        .bind(&since)
        .fetch_one(&mut *tx.tx)
        .await?;
    if recent > 0 {
        return Ok(false);
    }
    enqueue_on(&mut tx.tx, NewJob { priority: 9, max_attempts: 1, ..NewJob::new(kind, serde_json::json!({})) }).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn get(catalog: &Catalog, id: &str) -> Result<JobLine, JobError> {
    sqlx::query_as::<_, JobLine>(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
    .bind(id)
    .fetch_optional(catalog.pool())
    .await?
    .ok_or_else(|| JobError::NotFound(id.into()))
}

/// The queue as an operator sees it: jobs in `state` (all when `None`), most recent first.
pub async fn list(catalog: &Catalog, actor: &Principal, state: Option<&str>, limit: i64) -> Result<Vec<JobLine>, JobError> {
    actor.require(Role::Viewer)?;
    if let Some(state) = state.filter(|s| JobState::parse(s).is_none()) {
        let names: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        return Err(JobError::Invalid(format!("state: {state:?} is not one of {}", names.join(", "))));
    }
    Ok(sqlx::query_as::<_, JobLine>(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR state = $1) ORDER BY created_at DESC LIMIT $2"
    ))
    .bind(state)
    .bind(limit.clamp(1, 500))
    .fetch_all(catalog.pool())
    .await?)
}

/// Number of jobs in each state, for /metrics.
pub async fn counts_by_state(catalog: &Catalog) -> Result<Vec<(String, i64)>, JobError> {
    Ok(sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state").fetch_all(catalog.pool()).await?)
}

/// 5 s, 10 s, 20 s … capped at one hour.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    Duration::seconds((5_i64 << exp).min(3600))
}

fn fenced(rows: u64, id: &str) -> Result<(), JobError> {
    if rows == 1 { Ok(()) } else { Err(JobError::LeaseLost(id.into())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::seconds(5));
        assert_eq!(backoff(2), Duration::seconds(10));
        assert_eq!(backoff(4), Duration::seconds(40));
        assert_eq!(backoff(30), Duration::seconds(3600));
    }
}
