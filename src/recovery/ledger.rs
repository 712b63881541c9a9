//! What a finished run leaves behind: its outcome and measured objectives, a failover event
//! when it moved a database or traffic, and the day's `recovery_metrics` row.
//!
//! Actual RTO: from the incident's start (declared, or the trigger) to the last validation
//! that passed (the run's end when it has none). Actual RPO: how much data the recovery could
//! not bring back, from what the steps report: a failover whose standby had replayed
//! everything the primary had is 0; one whose primary was unreachable loses what was written
//! after the standby's last replayed transaction.

use bulwark_types::{FailoverEvent, PlanDocument, RunStatus, StepSpec, StepStatus, StepType};
use serde_json::Value;

use super::RecoveryError;
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::time;

/// A step as the ledger reads it.
pub struct StepOutcome<'a> {
    pub spec: &'a StepSpec,
    pub status: StepStatus,
    pub output: Option<&'a Value>,
    pub completed_at: Option<&'a str>,
}

pub struct Outcome<'a> {
    pub status: RunStatus,
    pub error: Option<&'a str>,
    pub completed_at: &'a str,
    pub success_criteria_met: bool,
}

/// Ends a run: its status and figures, its failover event, the day's metrics.
pub async fn close(catalog: &Catalog, id: &str, plan: &PlanDocument, steps: &[StepOutcome<'_>], outcome: &Outcome<'_>) -> Result<(), RecoveryError> {
    let (incident, initiated, mode, trigger, by, event): (String, String, String, String, String, String) =
        sqlx::query_as("SELECT incident_started_at, initiated_at, execution_mode, trigger_type, initiated_by, trigger_event FROM recovery_executions WHERE id = $1")
            .bind(id)
            .fetch_one(catalog.pool())
            .await?;
    let seconds_between = |from: &str, to: &str| -> Option<f64> { Some((time::parse(to)? - time::parse(from)?).num_milliseconds() as f64 / 1000.0) };
    let completed = outcome.status == RunStatus::Completed;
    let recovered_at = steps
        .iter()
        .filter(|s| s.spec.step_type == StepType::Validation && s.status == StepStatus::Completed)
        .filter_map(|s| s.completed_at)
        .max()
        .unwrap_or(outcome.completed_at);
    let rto = completed.then(|| seconds_between(&incident, recovered_at)).flatten();
    let (rpo, data_loss) = recovery_point(steps, &incident);
    let total = seconds_between(&initiated, outcome.completed_at).map(|s| (s * 1000.0) as i64);
    // Serialized: the day's roll-up counts every run that closed before it (two nodes closing
    // runs at once would each miss the other's).
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query(
        "UPDATE recovery_executions SET status = $1, completed_at = $2, failed_at = $3, total_duration_ms = $4, actual_rto_seconds = $5, actual_rpo_seconds = $6, data_loss_amount = $7,
            success_criteria_met = $8, error_details = $9,
            recovery_steps_completed = (SELECT COUNT(*) FROM recovery_step_executions WHERE execution_id = $10 AND status IN ('completed', 'rolled_back'))
         WHERE id = $10",
    )
    .bind(outcome.status.as_str())
    .bind(outcome.completed_at)
    .bind((!completed).then_some(outcome.completed_at))
    .bind(total)
    .bind(rto)
    .bind(if completed { rpo } else { None })
    .bind(data_loss.unwrap_or(0))
    .bind(i64::from(outcome.success_criteria_met))
    .bind(outcome.error)
    .bind(id)
    .execute(&mut *tx.tx)
    .await?;
    if let Some(failover) = failover_of(steps) {
        let automated = trigger != "manual";
        sqlx::query(
            "INSERT INTO failover_events (id, event_name, trigger_type, source_system, target_system, failover_reason, automated, initiated_at, completed_at, duration_ms, status,
                data_consistency_check, traffic_redirected, dns_updated, success_validation, notification_sent, execution_id, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(format!("{} ({})", plan.name, mode))
        .bind(if automated { "health_check_failure" } else { "manual_trigger" })
        .bind(&failover.source)
        .bind(&failover.target)
        .bind(reason_of(&event, plan))
        .bind(i64::from(automated))
        .bind(&initiated)
        .bind(outcome.completed_at)
        .bind(total)
        .bind(match outcome.status {
            RunStatus::Completed => "completed",
            RunStatus::RolledBack | RunStatus::Cancelled => "rolled_back",
            _ => "failed",
        })
        .bind(i64::from(failover.consistent))
        .bind(i64::from(done(steps, StepType::LoadBalancerConfig)))
        .bind(i64::from(done(steps, StepType::DnsUpdate)))
        .bind(validations(steps).to_string())
        .bind(i64::from(done(steps, StepType::Notification)))
        .bind(id)
        .bind(&by)
        .execute(&mut *tx.tx)
        .await?;
    }
    roll_up_day(&mut tx.tx, &outcome.completed_at[..10]).await?;
    tx.commit().await?;
    Ok(())
}

/// The reason the run was started with, or the plan's scenario.
fn reason_of(trigger_event: &str, plan: &PlanDocument) -> String {
    let event: Value = serde_json::from_str(trigger_event).unwrap_or_default();
    match event["reason"].as_str().map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => reason.to_string(),
        None => format!("{} ({})", plan.disaster_scenario, plan.disaster_type),
    }
}

/// Whether a step of this type completed (and was not rolled back).
fn done(steps: &[StepOutcome<'_>], step_type: StepType) -> bool {
    steps.iter().any(|s| s.spec.step_type == step_type && s.status == StepStatus::Completed)
}

fn validations(steps: &[StepOutcome<'_>]) -> Value {
    steps
        .iter()
        .filter(|s| s.spec.step_type == StepType::Validation)
        .map(|s| serde_json::json!({ "step": s.spec.name, "status": s.status, "output": s.output }))
        .collect()
}

struct Failover {
    source: String,
    target: String,
    consistent: bool,
}

/// The database the run failed over (or, without one, the traffic it moved).
fn failover_of(steps: &[StepOutcome<'_>]) -> Option<Failover> {
    let attempted = |t: StepType| steps.iter().find(|s| s.spec.step_type == t && s.status != StepStatus::Skipped);
    if let Some(step) = attempted(StepType::DatabaseFailover) {
        let end = |side: &str| {
            let c = &step.spec.config[side];
            format!("{}:{}", c["host"].as_str().unwrap_or("?"), c["port"].as_u64().unwrap_or(5432))
        };
        let consistent = step.output.is_some_and(|o| o["dataConsistent"] == Value::Bool(true));
        return Some(Failover { source: end("primary"), target: end("standby"), consistent });
    }
    let traffic = attempted(StepType::LoadBalancerConfig).or_else(|| attempted(StepType::DnsUpdate))?;
    Some(Failover { source: traffic.spec.name.clone(), target: traffic.spec.config["backend"].as_str().or(traffic.spec.config["zone"].as_str()).unwrap_or("").to_string(), consistent: false })
}

/// The actual RPO in seconds and the bytes lost, from the steps that report them.
fn recovery_point(steps: &[StepOutcome<'_>], incident: &str) -> (Option<f64>, Option<i64>) {
    let mut rpo: Option<f64> = None;
    let mut lost: Option<i64> = None;
    for step in steps.iter().filter(|s| s.status == StepStatus::Completed) {
        let Some(output) = step.output else { continue };
        // A failover that lost nothing (the old primary fenced, everything it wrote replayed).
        let seconds = if output["dataConsistent"] == Value::Bool(true) {
            Some(0.0)
        } else {
            output["restorablePoint"]
                .as_str()
                .or(output["lastReplayedAt"].as_str())
                .and_then(time::parse)
                .zip(time::parse(incident))
                .map(|(point, incident)| ((incident - point).num_milliseconds() as f64 / 1000.0).max(0.0))
        };
        if let Some(seconds) = seconds {
            rpo = Some(rpo.map_or(seconds, |r| r.max(seconds)));
        }
        if let Some(bytes) = output["dataLossBytes"].as_i64() {
            lost = Some(lost.unwrap_or(0) + bytes);
        }
    }
    (rpo, lost)
}

/// Recomputes a day's `recovery_metrics` row from that day's finished runs (drills left out:
/// they are not recoveries).
async fn roll_up_day(conn: &mut sqlx::AnyConnection, day: &str) -> Result<(), RecoveryError> {
    // Every time of the day sorts before this text.
    let next = format!("{day}T99");
    let figures: (i64, i64, i64, Option<f64>, Option<f64>, i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*),
                COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status <> 'completed' THEN 1 ELSE 0 END), 0),
                AVG(actual_rto_seconds), AVG(actual_rpo_seconds),
                COALESCE(SUM(CASE WHEN data_loss_amount > 0 OR actual_rpo_seconds > 0 THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN trigger_type <> 'manual' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN trigger_type = 'manual' THEN 1 ELSE 0 END), 0)
         FROM recovery_executions WHERE execution_mode <> 'test' AND completed_at >= $1 AND completed_at < $2",
    )
    .bind(day)
    .bind(&next)
    .fetch_one(&mut *conn)
    .await?;
    let downtime: f64 = sqlx::query_scalar::<_, Option<f64>>(
        "SELECT SUM(actual_rto_seconds) FROM recovery_executions WHERE execution_mode <> 'test' AND completed_at >= $1 AND completed_at < $2",
    )
    .bind(day)
    .bind(&next)
    .fetch_one(&mut *conn)
    .await?
    .unwrap_or(0.0);
    sqlx::query(
        "INSERT INTO recovery_metrics (metric_date, total_recovery_events, successful_recoveries, failed_recoveries, average_rto_seconds, average_rpo_seconds, total_downtime_seconds,
            data_loss_incidents, automated_recoveries, manual_recoveries, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (metric_date) DO UPDATE SET total_recovery_events = excluded.total_recovery_events, successful_recoveries = excluded.successful_recoveries,
            failed_recoveries = excluded.failed_recoveries, average_rto_seconds = excluded.average_rto_seconds, average_rpo_seconds = excluded.average_rpo_seconds,
            total_downtime_seconds = excluded.total_downtime_seconds, data_loss_incidents = excluded.data_loss_incidents,
            automated_recoveries = excluded.automated_recoveries, manual_recoveries = excluded.manual_recoveries",
    )
    .bind(day)
    .bind(figures.0)
    .bind(figures.1)
    .bind(figures.2)
    .bind(figures.3)
    .bind(figures.4)
    .bind(downtime)
    .bind(figures.5)
    .bind(figures.6)
    .bind(figures.7)
    .bind(time::now_text())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Failover events, newest first, since `since` (RFC 3339), of one status when asked.
pub async fn failovers(catalog: &Catalog, actor: &Principal, since: &str, status: Option<&str>) -> Result<Vec<FailoverEvent>, RecoveryError> {
    actor.require(bulwark_types::Role::Viewer)?;
    let rows: Vec<(String, String, String, String, String, String, i64, String, Option<String>, Option<i64>, String, i64, i64, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, event_name, trigger_type, source_system, target_system, failover_reason, automated, initiated_at, completed_at, duration_ms, status,
                data_consistency_check, traffic_redirected, dns_updated, notification_sent, execution_id
         FROM failover_events WHERE initiated_at >= $1 AND ($2 = '' OR status = $2) ORDER BY initiated_at DESC LIMIT 500",
    )
    .bind(since)
    .bind(status.unwrap_or(""))
    .fetch_all(catalog.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| FailoverEvent {
            id: r.0,
            event_name: r.1,
            trigger_type: r.2,
            source_system: r.3,
            target_system: r.4,
            failover_reason: r.5,
            automated: r.6 != 0,
            initiated_at: r.7,
            completed_at: r.8,
            duration_ms: r.9,
            status: r.10,
            data_consistency_check: r.11 != 0,
            traffic_redirected: r.12 != 0,
            dns_updated: r.13 != 0,
            notification_sent: r.14 != 0,
            execution_id: r.15,
        })
        .collect())
}
