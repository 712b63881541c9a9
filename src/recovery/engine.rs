//! The runbook engine: one `recovery.run` job advances a run as far as it can go. Every step
//! whose dependencies are done (and whose gate, if any, a person confirmed) starts at once, so
//! independent branches and parallel groups run at the same time; each attempt is recorded as
//! it starts and ends. A failed attempt of a step with retries left waits its backoff; a
//! critical step that fails for good stops the run: the steps under way are told to stop, and
//! the completed steps are rolled back in the reverse order they completed. A run that reaches
//! a gate ends its job in `waiting`; the person's decision queues the next job.
//!
//! Everything the engine knows is in the catalog, so any node can take a run over: a step
//! found `running` when a job starts was running on a node that died. It runs again if its type
//! is idempotent; otherwise it waits, `interrupted`, for a person (it is never taken as done).
//! A run whose node died while rolling back goes on rolling back.
//!
//! A drill (`execution_mode: test`) runs the plan's cleanup steps whatever happens: when it
//! fails or is cancelled they run after the rollback, also on the node that takes it over; its
//! result is recorded (`drills`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bulwark_types::{Backoff, ExecutionMode, PlanDocument, RunStatus, StepSpec, StepStatus, StepType, TriggerType};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;
use tokio::task::JoinSet;

use super::steps::{self, Bulwark, Done, StepContext, StepError};
use super::{RecoveryError, credentials, criteria, drills, ledger, plans};
use crate::platform::accounts::users;
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::jobs::{CancelFlag, JobError, Lease};
use crate::platform::secrets::SecretBox;
use crate::platform::time;
use crate::restores::Targets;

pub const JOB_KIND: &str = "recovery.run";
/// How often the engine looks at its cancel flag while steps run or backoffs wait.
const TICK: Duration = Duration::from_millis(100);
/// How long a step under way has to stop by itself once its run stops.
const GRACE: Duration = Duration::from_secs(3);

/// One step as the engine tracks it.
struct Step {
    id: String,
    spec: StepSpec,
    deps: Vec<usize>,
    status: StepStatus,
    retries: i64,
    next_attempt_at: Option<DateTime<Utc>>,
    gate_status: Option<String>,
    output: Option<Value>,
    completed_at: Option<String>,
}

impl Step {
    fn done(&self) -> bool {
        matches!(self.status, StepStatus::Completed) || (self.status == StepStatus::Failed && !self.spec.critical)
    }

    fn finished(&self) -> bool {
        matches!(self.status, StepStatus::Completed | StepStatus::Failed | StepStatus::Skipped | StepStatus::RolledBack)
    }
}

/// What one attempt came to, handed back from its task.
struct Attempt {
    index: usize,
    number: i64,
    started: Instant,
    result: Result<(Value, Value), (StepError, Option<Value>)>,
    /// Stopped by its timeout part-way: what it did is unknown.
    cut_off: bool,
}

/// A finished task's attempt; a task that panicked is a failed attempt of its step.
fn attempt_of(done: Result<(tokio::task::Id, Attempt), tokio::task::JoinError>, tasks: &mut HashMap<tokio::task::Id, (usize, i64)>) -> Attempt {
    match done {
        Ok((id, attempt)) => {
            tasks.remove(&id);
            attempt
        }
        Err(e) => {
            let (index, number) = tasks.remove(&e.id()).unwrap_or((0, 0));
            Attempt { index, number, started: Instant::now(), result: Err((StepError::permanent(format!("the step failed inside Bulwark: {e}")), None)), cut_off: true }
        }
    }
}

/// Why the run stops before its end.
enum Stop {
    Failed(String),
    Cancelled,
}

/// A run as the engine reads it.
#[derive(sqlx::FromRow)]
struct RunRow {
    status: RunStatus,
    plan_id: String,
    plan_version: i64,
    execution_mode: ExecutionMode,
    trigger_type: TriggerType,
    initiated_by: String,
    rollback_initiated: i64,
    cancel_requested: i64,
    error_details: Option<String>,
}

/// Advances run `id` as far as it goes, restoring only into `reach` (the server's restore roots
/// and hosts) and starting services only with `commands` (the server's recovery commands). With the job's `lease`, every step starts only while it is held: a node frozen
/// past its lease and then thawed starts nothing another node may be running. Returns where
/// it stands.
pub async fn advance(catalog: &Catalog, secrets: &SecretBox, reach: &Arc<Targets>, commands: &Arc<[PathBuf]>, id: &str, cancel: CancelFlag, lease: Option<&Lease>) -> Result<RunStatus, RecoveryError> {
    let row: RunRow = sqlx::query_as(
        "SELECT status, plan_id, plan_version, execution_mode, trigger_type, initiated_by, rollback_initiated, cancel_requested, error_details FROM recovery_executions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(catalog.pool())
    .await?
    .ok_or_else(|| RecoveryError::NotFound(format!("recovery execution {id}")))?;
    if row.status.is_finished() {
        return Ok(row.status);
    }
    let plan: String = sqlx::query_scalar("SELECT plan FROM disaster_recovery_plan_versions WHERE plan_id = $1 AND version = $2").bind(&row.plan_id).bind(row.plan_version).fetch_one(catalog.pool()).await?;
    let plan = plans::read_plan(&plan)?;
    let mut steps = load(catalog, id, &plan).await?;
    let now = time::now_text();
    sqlx::query("UPDATE recovery_executions SET status = 'in_progress', started_at = COALESCE(started_at, $1) WHERE id = $2").bind(&now).bind(id).execute(catalog.pool()).await?;
    take_over(catalog, &mut steps).await?;
    // Its restores run in its initiator's name; a disabled account restores nothing (the steps
    // that would say so).
    // A run a health rule started acts as Bulwark itself, as the retention cleanup does.
    let initiator = match users::principal_by_name(catalog, &row.initiated_by).await {
        Ok(person) => Some(person),
        Err(_) if row.trigger_type != TriggerType::Manual => Some(Principal::system(&row.initiated_by)),
        Err(_) => None,
    };
    let run = Run { catalog, secrets, reach: reach.clone(), commands: commands.clone(), id, plan: &plan, plan_version: row.plan_version, mode: row.execution_mode, initiator, cancel, lease };
    if row.rollback_initiated != 0 {
        // The node rolling it back stopped part-way: the rollback goes on from where it was.
        let reason = match (row.cancel_requested, row.error_details) {
            (0, Some(why)) => Stop::Failed(why),
            (0, None) => Stop::Failed("a step failed".into()),
            _ => Stop::Cancelled,
        };
        return run.roll_back(&mut steps, &reason).await;
    }
    run.drive(&mut steps).await
}

async fn load(catalog: &Catalog, id: &str, plan: &PlanDocument) -> Result<Vec<Step>, RecoveryError> {
    let deps = super::document::graph(plan).map_err(|p| RecoveryError::Document(vec![p]))?;
    let rows: Vec<(String, i64, StepStatus, i64, Option<String>, Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, step_order, status, retry_count, next_attempt_at, gate_status, output_data, completed_at FROM recovery_step_executions WHERE execution_id = $1 ORDER BY step_order",
    )
    .bind(id)
    .fetch_all(catalog.pool())
    .await?;
    let mut steps = Vec::with_capacity(rows.len());
    for (row_id, order, status, retries, next, gate_status, output, completed_at) in rows {
        let spec = plan.steps.get(order as usize).cloned().ok_or_else(|| RecoveryError::Stored(format!("step {order} of run {id} is not in its plan")))?;
        steps.push(Step {
            id: row_id,
            deps: deps[order as usize].clone(),
            spec,
            status,
            retries,
            next_attempt_at: next.as_deref().and_then(time::parse),
            gate_status,
            output: output.and_then(|o| serde_json::from_str(&o).ok()),
            completed_at,
        });
    }
    Ok(steps)
}

/// Steps left `running` by a node that died: idempotent ones run again, the others wait for a
/// person.
async fn take_over(catalog: &Catalog, steps: &mut [Step]) -> Result<(), RecoveryError> {
    for step in steps.iter_mut().filter(|s| s.status == StepStatus::Running) {
        let now = time::now_text();
        sqlx::query("UPDATE recovery_step_attempts SET status = 'failed', completed_at = $1, error_message = 'the node running it stopped' WHERE step_execution_id = $2 AND completed_at IS NULL")
            .bind(&now)
            .bind(&step.id)
            .execute(catalog.pool())
            .await?;
        if steps::idempotent(step.spec.step_type) {
            step.status = StepStatus::Pending;
            sqlx::query("UPDATE recovery_step_executions SET status = 'pending' WHERE id = $1").bind(&step.id).execute(catalog.pool()).await?;
        } else {
            step.status = StepStatus::Interrupted;
            step.gate_status = Some("interrupted".into());
            sqlx::query(
                "UPDATE recovery_step_executions SET status = 'interrupted', gate_status = 'interrupted',
                    error_message = 'the node running this step stopped; it is not safe to run twice: check what it did, then run it again or abort' WHERE id = $1",
            )
            .bind(&step.id)
            .execute(catalog.pool())
            .await?;
        }
    }
    Ok(())
}

struct Run<'a> {
    catalog: &'a Catalog,
    secrets: &'a SecretBox,
    reach: Arc<Targets>,
    commands: Arc<[PathBuf]>,
    id: &'a str,
    plan: &'a PlanDocument,
    plan_version: i64,
    mode: ExecutionMode,
    initiator: Option<Principal>,
    cancel: CancelFlag,
    lease: Option<&'a Lease>,
}

/// What a step's task holds of its run, lent to the step as [`Bulwark`].
struct Parts {
    catalog: Catalog,
    secrets: SecretBox,
    reach: Arc<Targets>,
    commands: Arc<[PathBuf]>,
    id: String,
    plan_name: String,
    plan_version: i64,
    mode: ExecutionMode,
    initiator: Option<Principal>,
    drill_targets: BTreeMap<String, String>,
    outputs: Vec<Done>,
}

impl Parts {
    fn bulwark(&self) -> Bulwark<'_> {
        Bulwark {
            catalog: &self.catalog,
            secrets: &self.secrets,
            reach: &self.reach,
            commands: &self.commands,
            execution_id: &self.id,
            plan_name: &self.plan_name,
            plan_version: self.plan_version,
            mode: self.mode,
            initiator: self.initiator.as_ref(),
            drill_targets: &self.drill_targets,
            outputs: &self.outputs,
        }
    }
}

impl Run<'_> {
    /// The run's parts as a step sees them now (the outputs its steps recorded so far).
    fn parts(&self, steps: &[Step]) -> Parts {
        Parts {
            catalog: self.catalog.clone(),
            secrets: self.secrets.clone(),
            reach: self.reach.clone(),
            commands: self.commands.clone(),
            id: self.id.to_string(),
            plan_name: self.plan.name.clone(),
            plan_version: self.plan_version,
            mode: self.mode,
            initiator: self.initiator.clone(),
            drill_targets: self.plan.drill.as_ref().map(|d| d.targets.clone()).unwrap_or_default(),
            // A step rolled back has undone what its output names.
            outputs: steps
                .iter()
                .filter(|s| s.status != StepStatus::RolledBack)
                .filter_map(|s| Some(Done { name: s.spec.name.clone(), step_type: s.spec.step_type, output: s.output.clone()? }))
                .collect(),
        }
    }

    async fn drive(&self, steps: &mut [Step]) -> Result<RunStatus, RecoveryError> {
        let mut inflight: JoinSet<Attempt> = JoinSet::new();
        // Which step and attempt each task is, for a task that panics.
        let mut tasks: HashMap<tokio::task::Id, (usize, i64)> = HashMap::new();
        // Each running step's own flag: set when the run stops.
        let step_cancel: CancelFlag = Arc::new(AtomicBool::new(false));
        let mut stop: Option<Stop> = None;
        // A person's cancel reaches the job's flag through the pool; a run waiting out a
        // backoff (or one advanced outside the pool) also looks at the catalog each second.
        let mut looked: Option<Instant> = None;
        loop {
            if stop.is_none() && self.cancel.load(Ordering::SeqCst) {
                if self.cancel_requested().await? {
                    stop = Some(Stop::Cancelled);
                } else {
                    // The job was stopped without a person asking (its lease is gone): another
                    // node carries on from the catalog; this job must not be taken as done.
                    step_cancel.store(true, Ordering::SeqCst);
                    inflight.abort_all();
                    return Err(RecoveryError::Job(JobError::LeaseLost(format!("recovery run {} stopped on this node", self.id))));
                }
            }
            if stop.is_none() && looked.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                looked = Some(Instant::now());
                if self.cancel_requested().await? {
                    stop = Some(Stop::Cancelled);
                }
            }
            if let Some(reason) = &stop {
                step_cancel.store(true, Ordering::SeqCst);
                while let Some(done) = inflight.join_next_with_id().await {
                    self.record(steps, attempt_of(done, &mut tasks)).await?;
                }
                return self.roll_back(steps, reason).await;
            }
            let now = self.catalog.now().await?;
            for index in self.ready(steps, now).await? {
                self.launch(steps, index, &mut inflight, &mut tasks, step_cancel.clone()).await?;
            }
            if inflight.is_empty() {
                if steps.iter().all(Step::finished) {
                    return self.finish(steps).await;
                }
                let next_retry = steps.iter().filter(|s| s.status == StepStatus::Retrying).filter_map(|s| s.next_attempt_at).min();
                match next_retry {
                    Some(at) => {
                        let wait = (at - now).to_std().unwrap_or_default().min(TICK);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    None => match self.wait_for_people(steps).await? {
                        Some(status) => return Ok(status),
                        // A person decided (or cancelled) meanwhile: go on.
                        None => continue,
                    },
                }
            }
            tokio::select! {
                done = inflight.join_next_with_id() => {
                    if let Some(done) = done
                        && let Some(failure) = self.record(steps, attempt_of(done, &mut tasks)).await?
                    {
                        stop = Some(Stop::Failed(failure));
                    }
                }
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    async fn cancel_requested(&self) -> Result<bool, RecoveryError> {
        let flag: i64 = sqlx::query_scalar("SELECT cancel_requested FROM recovery_executions WHERE id = $1").bind(self.id).fetch_one(self.catalog.pool()).await?;
        Ok(flag != 0)
    }

    /// Steps that may start now; steps whose turn came but whose gate is not confirmed are
    /// marked waiting.
    async fn ready(&self, steps: &mut [Step], now: DateTime<Utc>) -> Result<Vec<usize>, RecoveryError> {
        let mut ready = Vec::new();
        for i in 0..steps.len() {
            let turn = steps[i].deps.iter().all(|&d| steps[d].done());
            let step = &steps[i];
            match step.status {
                StepStatus::Pending if turn => {
                    if step.gate_status.as_deref() == Some("required") {
                        sqlx::query("UPDATE recovery_step_executions SET status = 'waiting', gate_status = 'waiting' WHERE id = $1").bind(&step.id).execute(self.catalog.pool()).await?;
                        steps[i].status = StepStatus::Waiting;
                        steps[i].gate_status = Some("waiting".into());
                    } else {
                        ready.push(i);
                    }
                }
                StepStatus::Retrying if step.next_attempt_at.is_none_or(|at| at <= now) => ready.push(i),
                _ => {}
            }
        }
        Ok(ready)
    }

    async fn launch(
        &self,
        steps: &mut [Step],
        index: usize,
        inflight: &mut JoinSet<Attempt>,
        tasks: &mut HashMap<tokio::task::Id, (usize, i64)>,
        cancel: CancelFlag,
    ) -> Result<(), RecoveryError> {
        if let Some(lease) = self.lease {
            lease.check(self.catalog).await?;
        }
        let parts = self.parts(steps);
        let step = &mut steps[index];
        let now = time::now_text();
        // Claimed only from a state no node runs it in: a step another node started meanwhile
        // is not started twice. (A drill's cleanup starts from skipped or failed too.)
        let claimed = sqlx::query(
            "UPDATE recovery_step_executions SET status = 'running', started_at = COALESCE(started_at, $1), next_attempt_at = NULL
             WHERE id = $2 AND status IN ('pending', 'retrying', 'skipped', 'failed')",
        )
        .bind(&now)
        .bind(&step.id)
        .execute(self.catalog.pool())
        .await?
        .rows_affected();
        if claimed == 0 {
            return Err(RecoveryError::Conflict(format!("step {} of run {} was started elsewhere", step.spec.name, self.id)));
        }
        // Numbered after every attempt recorded, a dead node's included.
        let number: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(attempt), 0) + 1 FROM recovery_step_attempts WHERE step_execution_id = $1")
            .bind(&step.id)
            .fetch_one(self.catalog.pool())
            .await?;
        sqlx::query("INSERT INTO recovery_step_attempts (step_execution_id, attempt, started_at, status) VALUES ($1, $2, $3, 'running')")
            .bind(&step.id)
            .bind(number)
            .bind(&now)
            .execute(self.catalog.pool())
            .await?;
        step.status = StepStatus::Running;
        let spec = step.spec.clone();
        let handle = inflight.spawn(async move {
            let started = Instant::now();
            let stored = credentials::Stored { catalog: &parts.catalog, secrets: &parts.secrets };
            let limit = Duration::from_secs(spec.timeout_seconds.max(1) as u64);
            let ctx = StepContext { secrets: &stored, cancel: cancel.clone(), timeout: limit };
            let bulwark = parts.bulwark();
            let work = tokio::time::timeout(limit, steps::run(spec.step_type, &spec.config, &ctx, &bulwark));
            let outcome = tokio::select! {
                outcome = work => outcome,
                _ = stopped(&cancel) => Ok(Err(StepError::permanent("stopped: the run was cancelled"))),
            };
            let mut cut_off = false;
            let result = match outcome {
                Err(_) => {
                    cut_off = true;
                    Err((StepError::retryable(format!("timed out after {} s", spec.timeout_seconds)), None))
                }
                Ok(Err(e)) => Err((e, None)),
                Ok(Ok(output)) => {
                    let (results, passed) = criteria::evaluate(&spec.success_criteria, &output);
                    if passed {
                        Ok((output, results))
                    } else {
                        Err((StepError::retryable("its success criteria were not met"), Some(serde_json::json!({ "output": output, "validation": results }))))
                    }
                }
            };
            Attempt { index, number, started, result, cut_off }
        });
        tasks.insert(handle.id(), (index, number));
        Ok(())
    }

    /// Records an attempt's end. Returns the reason the run must stop, when a critical step
    /// failed for good.
    async fn record(&self, steps: &mut [Step], attempt: Attempt) -> Result<Option<String>, RecoveryError> {
        let step = &mut steps[attempt.index];
        let now = self.catalog.now().await?;
        let now_text = time::to_text(now);
        let elapsed = attempt.started.elapsed().as_millis() as i64;
        match attempt.result {
            Ok((output, validation)) => {
                let (output_text, validation_text) = (output.to_string(), validation.to_string());
                sqlx::query("UPDATE recovery_step_attempts SET status = 'completed', completed_at = $1, output_data = $2, validation_results = $3 WHERE step_execution_id = $4 AND attempt = $5")
                    .bind(&now_text)
                    .bind(&output_text)
                    .bind(&validation_text)
                    .bind(&step.id)
                    .bind(attempt.number)
                    .execute(self.catalog.pool())
                    .await?;
                sqlx::query(
                    "UPDATE recovery_step_executions SET status = 'completed', completed_at = $1, duration_ms = $2, output_data = $3, validation_results = $4, error_message = NULL WHERE id = $5",
                )
                .bind(&now_text)
                .bind(elapsed)
                .bind(&output_text)
                .bind(&validation_text)
                .bind(&step.id)
                .execute(self.catalog.pool())
                .await?;
                sqlx::query("UPDATE recovery_executions SET recovery_steps_completed = recovery_steps_completed + 1 WHERE id = $1").bind(self.id).execute(self.catalog.pool()).await?;
                step.status = StepStatus::Completed;
                step.output = Some(output);
                step.completed_at = Some(now_text);
                Ok(None)
            }
            Err((error, _)) if attempt.cut_off && !steps::idempotent(step.spec.step_type) && !self.cancel.load(Ordering::SeqCst) => {
                // Cut off part-way, and not safe to run twice: a person looks at what it did.
                let message = format!("{}; it may have done part of its work and is not safe to run twice: check, then run it again or abort", error.message);
                sqlx::query("UPDATE recovery_step_attempts SET status = 'failed', completed_at = $1, error_message = $2 WHERE step_execution_id = $3 AND attempt = $4")
                    .bind(&now_text)
                    .bind(&message)
                    .bind(&step.id)
                    .bind(attempt.number)
                    .execute(self.catalog.pool())
                    .await?;
                sqlx::query("UPDATE recovery_step_executions SET status = 'interrupted', gate_status = 'interrupted', error_message = $1 WHERE id = $2")
                    .bind(&message)
                    .bind(&step.id)
                    .execute(self.catalog.pool())
                    .await?;
                step.status = StepStatus::Interrupted;
                step.gate_status = Some("interrupted".into());
                Ok(None)
            }
            Err((error, seen)) => {
                let retry = error.retryable && step.retries < step.spec.max_retries && !self.cancel.load(Ordering::SeqCst);
                let backoff = retry.then(|| delay(&step.spec.backoff, step.retries + 1, &mut rand::rng()));
                let (output, validation) = match &seen {
                    Some(seen) => (Some(seen["output"].to_string()), Some(seen["validation"].to_string())),
                    None => (None, None),
                };
                sqlx::query(
                    "UPDATE recovery_step_attempts SET status = 'failed', completed_at = $1, error_message = $2, output_data = $3, validation_results = $4, backoff_ms = $5
                     WHERE step_execution_id = $6 AND attempt = $7",
                )
                .bind(&now_text)
                .bind(&error.message)
                .bind(&output)
                .bind(&validation)
                .bind(backoff.map(|b| b.as_millis() as i64))
                .bind(&step.id)
                .bind(attempt.number)
                .execute(self.catalog.pool())
                .await?;
                if let Some(wait) = backoff {
                    let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    step.retries += 1;
                    step.status = StepStatus::Retrying;
                    step.next_attempt_at = Some(at);
                    sqlx::query("UPDATE recovery_step_executions SET status = 'retrying', retry_count = $1, next_attempt_at = $2, error_message = $3, validation_results = $4 WHERE id = $5")
                        .bind(step.retries)
                        .bind(time::to_text(at))
                        .bind(&error.message)
                        .bind(&validation)
                        .bind(&step.id)
                        .execute(self.catalog.pool())
                        .await?;
                    return Ok(None);
                }
                step.status = StepStatus::Failed;
                // What it did before its criteria failed (a restore that created a database):
                // a drill's cleanup reads it.
                if let Some(seen) = seen {
                    step.output = Some(seen["output"].clone());
                }
                sqlx::query("UPDATE recovery_step_executions SET status = 'failed', completed_at = $1, duration_ms = $2, error_message = $3, output_data = $4, validation_results = $5 WHERE id = $6")
                    .bind(&now_text)
                    .bind(elapsed)
                    .bind(&error.message)
                    .bind(&output)
                    .bind(&validation)
                    .bind(&step.id)
                    .execute(self.catalog.pool())
                    .await?;
                Ok(step.spec.critical.then(|| format!("step {} failed: {}", step.spec.name, error.message)))
            }
        }
    }

    /// Nothing can start until a person decides at a gate: the job ends with the run waiting.
    /// Checked and written under the lock every decision takes: a decision (or a cancel) made
    /// since the steps were read is seen here, and one made after finds the run waiting and
    /// queues a job of its own. `None`: someone decided meanwhile, go on.
    async fn wait_for_people(&self, steps: &mut [Step]) -> Result<Option<RunStatus>, RecoveryError> {
        let waiting = steps.iter().any(|s| matches!(s.status, StepStatus::Waiting | StepStatus::Interrupted));
        if !waiting {
            // Nothing runs, nothing waits, and not everything finished: a step's dependency
            // failed without stopping the run (an optional step's dependants go on, so this
            // is a critical step's). Treat as the failure it is.
            return self.roll_back(steps, &Stop::Failed("steps could not start: a step they depend on failed".into())).await.map(Some);
        }
        let mut tx = self.catalog.begin_serialized(LockTopic::AuditChain).await?;
        let confirmed: Vec<String> = sqlx::query_scalar("SELECT id FROM recovery_step_executions WHERE execution_id = $1 AND status = 'pending' AND gate_status = 'confirmed'")
            .bind(self.id)
            .fetch_all(&mut *tx.tx)
            .await?;
        let cancel: i64 = sqlx::query_scalar("SELECT cancel_requested FROM recovery_executions WHERE id = $1").bind(self.id).fetch_one(&mut *tx.tx).await?;
        let moved: Vec<&mut Step> = steps.iter_mut().filter(|s| s.status != StepStatus::Pending && confirmed.contains(&s.id)).collect();
        if cancel != 0 || !moved.is_empty() {
            for step in moved {
                step.status = StepStatus::Pending;
                step.gate_status = Some("confirmed".into());
            }
            return Ok(None);
        }
        sqlx::query("UPDATE recovery_executions SET status = 'waiting' WHERE id = $1").bind(self.id).execute(&mut *tx.tx).await?;
        tx.commit().await?;
        Ok(Some(RunStatus::Waiting))
    }

    async fn finish(&self, steps: &[Step]) -> Result<RunStatus, RecoveryError> {
        let completed = time::to_text(self.catalog.now().await?);
        let critical_ok = steps.iter().all(|s| s.status == StepStatus::Completed || !s.spec.critical);
        let outcome = ledger::Outcome { status: RunStatus::Completed, error: None, completed_at: &completed, success_criteria_met: critical_ok };
        ledger::close(self.catalog, self.id, self.plan, &ledger_steps(steps), &outcome).await?;
        if self.mode == ExecutionMode::Test {
            drills::record(self.catalog, self.id, self.plan).await?;
        }
        Ok(RunStatus::Completed)
    }

    /// Rolls back the completed steps, newest first, and ends the run.
    async fn roll_back(&self, steps: &mut [Step], reason: &Stop) -> Result<RunStatus, RecoveryError> {
        // Why, kept for the node that takes the rollback over if this one dies.
        sqlx::query("UPDATE recovery_executions SET rollback_initiated = 1, error_details = $1 WHERE id = $2").bind(describe(reason)).bind(self.id).execute(self.catalog.pool()).await?;
        for step in steps.iter_mut().filter(|s| !s.finished()) {
            step.status = StepStatus::Skipped;
            sqlx::query("UPDATE recovery_step_executions SET status = 'skipped', next_attempt_at = NULL WHERE id = $1").bind(&step.id).execute(self.catalog.pool()).await?;
        }
        let mut order: Vec<usize> = (0..steps.len()).filter(|&i| steps[i].status == StepStatus::Completed && steps[i].spec.rollback).collect();
        order.sort_by(|&a, &b| steps[b].completed_at.cmp(&steps[a].completed_at).then(b.cmp(&a)));
        let mut rollback_failure = None;
        let stored = credentials::Stored { catalog: self.catalog, secrets: self.secrets };
        for i in order {
            let parts = self.parts(steps);
            let step = &mut steps[i];
            let ctx = StepContext { secrets: &stored, cancel: Arc::new(AtomicBool::new(false)), timeout: Duration::from_secs(step.spec.timeout_seconds.max(1) as u64) };
            let output = step.output.clone().unwrap_or(Value::Null);
            let result = match tokio::time::timeout(ctx.timeout, steps::roll_back(step.spec.step_type, &step.spec.config, &output, &ctx, &parts.bulwark())).await {
                Err(_) => Err(StepError::retryable(format!("rollback timed out after {} s", step.spec.timeout_seconds))),
                Ok(result) => result,
            };
            match result {
                Ok(undone) => {
                    step.status = StepStatus::RolledBack;
                    sqlx::query("UPDATE recovery_step_executions SET status = 'rolled_back', rollback_status = 'completed', rollback_output = $1, rolled_back_at = $2 WHERE id = $3")
                        .bind(undone.to_string())
                        .bind(time::now_text())
                        .bind(&step.id)
                        .execute(self.catalog.pool())
                        .await?;
                }
                Err(e) => {
                    sqlx::query("UPDATE recovery_step_executions SET rollback_status = 'failed', rollback_error = $1, rolled_back_at = $2 WHERE id = $3")
                        .bind(&e.message)
                        .bind(time::now_text())
                        .bind(&step.id).execute(self.catalog.pool()).await?;
                    rollback_failure.get_or_insert(format!("rolling back step {} failed: {}", step.spec.name, e.message));
                }
            }
        }
        if self.mode == ExecutionMode::Test {
            self.clean_up(steps).await?;
        }
        let (status, error) = match (reason, &rollback_failure) {
            (_, Some(failure)) => (RunStatus::Failed, Some(format!("{}; {failure}", describe(reason)))),
            (Stop::Cancelled, None) => (RunStatus::Cancelled, Some("cancelled; what it did was rolled back".to_string())),
            (Stop::Failed(why), None) => (RunStatus::RolledBack, Some(why.clone())),
        };
        let completed = time::to_text(self.catalog.now().await?);
        let outcome = ledger::Outcome { status, error: error.as_deref(), completed_at: &completed, success_criteria_met: false };
        sqlx::query("UPDATE recovery_executions SET rollback_completed = $1 WHERE id = $2").bind(i64::from(rollback_failure.is_none())).bind(self.id).execute(self.catalog.pool()).await?;
        ledger::close(self.catalog, self.id, self.plan, &ledger_steps(steps), &outcome).await?;
        if self.mode == ExecutionMode::Test {
            drills::record(self.catalog, self.id, self.plan).await?;
        }
        Ok(status)
    }

    /// A drill's cleanup steps that have not completed run now, one after the other with their
    /// retries, whatever stopped the run: a drill leaves no scratch place behind.
    async fn clean_up(&self, steps: &mut [Step]) -> Result<(), RecoveryError> {
        for i in 0..steps.len() {
            // A completed cleanup "rolled back" undid nothing: what it removed stays removed.
            if steps[i].spec.step_type != StepType::Cleanup || matches!(steps[i].status, StepStatus::Completed | StepStatus::RolledBack) {
                continue;
            }
            loop {
                let (mut one, mut tasks) = (JoinSet::new(), HashMap::new());
                self.launch(steps, i, &mut one, &mut tasks, Arc::new(AtomicBool::new(false))).await?;
                let Some(done) = one.join_next_with_id().await else { break };
                self.record(steps, attempt_of(done, &mut tasks)).await?;
                match (steps[i].status, steps[i].next_attempt_at) {
                    (StepStatus::Retrying, Some(at)) => tokio::time::sleep((at - self.catalog.now().await?).to_std().unwrap_or_default()).await,
                    _ => break,
                }
            }
        }
        Ok(())
    }
}

/// Ends once the run is stopping and the step had `GRACE` to stop by itself (steps that can
/// stop cleanly look at their flag; the others are dropped where they are).
async fn stopped(cancel: &CancelFlag) {
    while !cancel.load(Ordering::SeqCst) {
        tokio::time::sleep(TICK).await;
    }
    tokio::time::sleep(GRACE).await;
}

fn describe(reason: &Stop) -> String {
    match reason {
        Stop::Failed(why) => why.clone(),
        Stop::Cancelled => "cancelled".into(),
    }
}

fn ledger_steps(steps: &[Step]) -> Vec<ledger::StepOutcome<'_>> {
    steps.iter().map(|s| ledger::StepOutcome { spec: &s.spec, status: s.status, output: s.output.as_ref(), completed_at: s.completed_at.as_deref() }).collect()
}

/// The wait before attempt `retry + 1`: base × 2^(retry−1), at most the cap; with jitter, drawn
/// between half and all of that (runs retrying against the same server spread out).
pub fn delay(backoff: &Backoff, retry: i64, rng: &mut impl Rng) -> Duration {
    let exponent = (retry - 1).clamp(0, 30) as i32;
    let full = (backoff.base_seconds * 2f64.powi(exponent)).min(backoff.cap_seconds).max(0.0);
    let seconds = if backoff.jitter { rng.random_range(full / 2.0..=full) } else { full };
    Duration::from_secs_f64(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_stays_in_the_upper_half() {
        let fixed = Backoff { base_seconds: 0.5, cap_seconds: 3.0, jitter: false };
        let waits: Vec<f64> = (1..=5).map(|r| delay(&fixed, r, &mut rand::rng()).as_secs_f64()).collect();
        assert_eq!(waits, vec![0.5, 1.0, 2.0, 3.0, 3.0]);
        let jittered = Backoff { jitter: true, ..fixed };
        for _ in 0..100 {
            let wait = delay(&jittered, 3, &mut rand::rng()).as_secs_f64();
            assert!((1.0..=2.0).contains(&wait), "{wait}");
        }
    }
}
