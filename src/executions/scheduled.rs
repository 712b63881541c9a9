//! The scheduler every node runs: each configuration's due slot becomes a `scheduled`
//! execution, once. The slot's row in `schedule_slots` is written in the same serialised
//! transaction as the execution and its job, so two nodes that see the same due slot cannot
//! both fire it, and a node that dies halfway leaves nothing behind (the slot is still due).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use super::{ExecutionError, enqueue_in, insert_in};
use crate::platform::audit::Actor;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::configurations::{self, Configuration};
use crate::schedule::Schedule;
use crate::platform::time;

/// One slot a node fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    pub configuration_id: String,
    pub slot_at: String,
    pub fired_at: String,
    pub node: String,
    /// The execution it queued; `None` when it was skipped.
    pub execution_id: Option<String>,
    /// `queued`, or `skipped: …` with the reason (a backup still under way).
    pub outcome: String,
}

/// Fires every slot due at `now`; returns the slots this node fired.
pub async fn fire_due(catalog: &Catalog, node: &str, now: DateTime<Utc>) -> Result<Vec<Slot>, ExecutionError> {
    let mut fired = Vec::new();
    for configuration in configurations::scheduled(catalog).await? {
        let schedule = match Schedule::of(&configuration.frequency, configuration.schedule.as_deref()) {
            Ok(Some(schedule)) => schedule,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(configuration = %configuration.name, error = %e, "schedule ignored");
                continue;
            }
        };
        let since = last_slot(catalog, &configuration.id).await?.or_else(|| time::parse(&configuration.created_at)).unwrap_or(now);
        let Some(due) = schedule.due(since, now) else { continue };
        if let Some(slot) = fire(catalog, node, &configuration, due).await? {
            fired.push(slot);
        }
    }
    Ok(fired)
}

/// The latest slot a configuration fired.
async fn last_slot(catalog: &Catalog, configuration_id: &str) -> Result<Option<DateTime<Utc>>, ExecutionError> {
    let last: Option<String> = sqlx::query_scalar("SELECT MAX(slot_at) FROM schedule_slots WHERE configuration_id = $1")
        .bind(configuration_id)
        .fetch_one(catalog.pool())
        .await?;
    Ok(last.as_deref().and_then(time::parse))
}

/// Fires `slot` unless another node did first.
async fn fire(catalog: &Catalog, node: &str, configuration: &Configuration, slot: DateTime<Utc>) -> Result<Option<Slot>, ExecutionError> {
    let slot_at = time::to_text(slot);
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    // Checked again under the lock: another node may have fired this slot, or a later one.
    let latest: Option<String> = sqlx::query_scalar("SELECT MAX(slot_at) FROM schedule_slots WHERE configuration_id = $1")
        .bind(&configuration.id)
        .fetch_one(&mut *tx.tx)
        .await?;
    if latest.is_some_and(|latest| latest >= slot_at) {
        return Ok(None);
    }
    let actor = Actor::system("scheduler");
    let (execution_id, outcome) = match insert_in(&mut tx, &actor, "scheduler", configuration, "scheduled", &(None, "{}".into())).await {
        Ok(id) => {
            enqueue_in(&mut tx, configuration, &id, "scheduled").await?;
            (Some(id), "queued".to_string())
        }
        // A slot that finds the previous backup still running is skipped, not stacked up.
        Err(ExecutionError::Conflict(reason)) => (None, format!("skipped: {reason}")),
        Err(e) => return Err(e),
    };
    let fired_at = time::to_text(crate::platform::catalog::now_on(&mut tx.tx).await?);
    let row = Slot { configuration_id: configuration.id.clone(), slot_at, fired_at, node: node.to_string(), execution_id, outcome };
    sqlx::query("INSERT INTO schedule_slots (configuration_id, slot_at, fired_at, node, execution_id, outcome) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&row.configuration_id)
        .bind(&row.slot_at)
        .bind(&row.fired_at)
        .bind(&row.node)
        .bind(&row.execution_id)
        .bind(&row.outcome)
        .execute(&mut *tx.tx)
        .await?;
    tx.commit().await?;
    tracing::info!(configuration = %configuration.name, slot = %row.slot_at, outcome = %row.outcome, "schedule fired");
    Ok(Some(row))
}

/// A configuration's schedule as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    /// The cron expression in force (the frequency's preset when none was given); `None`
    /// for manual configurations.
    pub expression: Option<String>,
    pub next_execution: Option<String>,
    /// The slots fired so far, newest first.
    pub slots: Vec<Slot>,
}

pub async fn schedule(catalog: &Catalog, actor: &Principal, configuration_id: &str, limit: i64) -> Result<ScheduleView, ExecutionError> {
    actor.require(Role::Viewer)?;
    let configuration = configurations::find(catalog, configuration_id).await?;
    let expression = Schedule::of(&configuration.frequency, configuration.schedule.as_deref())
        .map_err(|e| ExecutionError::Invalid(e.to_string()))?
        .map(|s| s.expression().to_string());
    let next_execution = configuration.next_run(catalog.now().await?).map(time::to_text);
    Ok(ScheduleView { expression, next_execution, slots: slots(catalog, configuration_id, limit).await? })
}

/// A configuration's fired slots, newest first.
async fn slots(catalog: &Catalog, configuration_id: &str, limit: i64) -> Result<Vec<Slot>, ExecutionError> {
    Ok(sqlx::query_as::<_, Slot>(
        "SELECT configuration_id, slot_at, fired_at, node, execution_id, outcome FROM schedule_slots
         WHERE configuration_id = $1 ORDER BY slot_at DESC LIMIT $2",
    )
    .bind(configuration_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(catalog.pool())
    .await?)
}

/// Looks for due slots every `period` until `shutdown` turns true.
pub async fn run_scheduler(catalog: Catalog, node: String, period: std::time::Duration, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        // The catalog's clock decides which slots are due: a node whose clock runs ahead would
        // fire them early.
        let due = match catalog.now().await {
            Ok(now) => fire_due(&catalog, &node, now).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = due {
            tracing::warn!(error = %e, "the scheduler could not fire due slots; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => {}
        }
    }
}
