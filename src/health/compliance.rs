//! RPO and RTO compliance per active configuration.
//!
//! RPO: the age of the newest restorable point (the start of the newest completed backup of the
//! source, its data's time, or for a continuous PostgreSQL configuration the newest archived
//! WAL file if later than a base backup) against
//! `rpo_minutes`; a configuration that never had one counts from its creation, so a new one is
//! not in breach before its first RPO has passed. RTO: the latest measured restore (a restore
//! test's restore time, or a completed restoration's duration) against `rto_minutes`; none
//! measured is "not measured", neither met nor breached. `evaluate_at` turns breaches into
//! rpo_breach / rto_breach alerts and resolves them when the figure is back within its target.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::HealthError;
use crate::alerts::{self, AlertType, Condition, Severity};
use crate::executions;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::time;

pub use bulwark_types::Compliance;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    frequency: String,
    source_type: String,
    rpo_minutes: Option<i64>,
    rto_minutes: Option<i64>,
    created_at: String,
    newest_backup: Option<String>,
    newest_wal: Option<String>,
}

/// A restore measured: when it ended and how long it took.
#[derive(sqlx::FromRow)]
struct Measured {
    at: String,
    seconds: f64,
}

fn minutes_between(from: &str, to: DateTime<Utc>) -> Option<f64> {
    time::parse(from).map(|t| (to - t).num_milliseconds() as f64 / 60_000.0)
}

/// Every active configuration's compliance as of `now`.
pub async fn of_all_at(catalog: &Catalog, now: DateTime<Utc>) -> Result<Vec<Compliance>, HealthError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT c.id, c.name, c.frequency, c.source_type, c.rpo_minutes, c.rto_minutes, c.created_at,
                COALESCE((SELECT MAX(e.started_at) FROM backup_executions e WHERE e.configuration_id = c.id AND e.status = 'completed' AND {source}),
                         (SELECT MAX(e.completed_at) FROM backup_executions e WHERE e.configuration_id = c.id AND e.status = 'completed' AND {source})) AS newest_backup,
                (SELECT MAX(w.archived_at) FROM wal_archive w WHERE w.configuration_id = c.id) AS newest_wal
           FROM backup_configurations c WHERE c.is_active = 1 ORDER BY c.name",
        source = executions::of_source("e")
    ))
    .fetch_all(catalog.pool())
    .await?;
    let mut restores = latest_restores(catalog).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let continuous = row.frequency == "continuous" && row.source_type == "postgresql";
        // WAL restores nothing without a base backup before it.
        let (point, kind) = match (&row.newest_backup, row.newest_wal.as_ref().filter(|_| continuous)) {
            (Some(b), Some(w)) if w > b => (Some(w.clone()), "wal"),
            (Some(b), _) => (Some(b.clone()), "backup"),
            (None, _) => (None, "none"),
        };
        let age = minutes_between(point.as_deref().unwrap_or(&row.created_at), now);
        let rpo_met = row.rpo_minutes.zip(age).map(|(rpo, age)| age <= rpo as f64);
        let measured = restores.remove(&row.id);
        let rto_met = row.rto_minutes.zip(measured.as_ref()).map(|(rto, m)| m.seconds <= rto as f64 * 60.0);
        out.push(Compliance {
            configuration_id: row.id,
            name: row.name,
            rpo_minutes: row.rpo_minutes,
            newest_point_at: point,
            newest_point: kind.to_string(),
            rpo_age_minutes: age.map(|a| (a * 10.0).round() / 10.0),
            rpo_met,
            rto_minutes: row.rto_minutes,
            measured_restore_seconds: measured.as_ref().map(|m| m.seconds),
            measured_at: measured.map(|m| m.at),
            rto_met,
        });
    }
    Ok(out)
}

/// Each configuration's latest measured restore: a restore test's or a restoration's, whichever
/// is newer. Two queries for all configurations (one each was a hundred round trips per page).
async fn latest_restores(catalog: &Catalog) -> Result<HashMap<String, Measured>, HealthError> {
    let mut latest: HashMap<String, Measured> = HashMap::new();
    let mut keep = |configuration: String, m: Measured| match latest.get(&configuration) {
        Some(known) if known.at >= m.at => {}
        _ => {
            latest.insert(configuration, m);
        }
    };
    let tested: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT e.configuration_id, t.completed_at, t.performance_metrics FROM backup_tests t JOIN backup_executions e ON e.id = t.execution_id
          WHERE t.completed_at IS NOT NULL AND t.test_type = 'restoration'",
    )
    .fetch_all(catalog.pool())
    .await?;
    for (configuration, at, metrics) in tested {
        if let Some(seconds) = serde_json::from_str::<serde_json::Value>(&metrics).ok().and_then(|m| m["restoreSeconds"].as_f64()) {
            keep(configuration, Measured { at, seconds });
        }
    }
    let restored: Vec<(String, String, f64)> = sqlx::query_as(
        "SELECT configuration_id, end_time, duration_seconds FROM restoration_jobs
          WHERE status = 'completed' AND configuration_id IS NOT NULL AND end_time IS NOT NULL AND duration_seconds IS NOT NULL",
    )
    .fetch_all(catalog.pool())
    .await?;
    for (configuration, at, seconds) in restored {
        keep(configuration, Measured { at, seconds });
    }
    Ok(latest)
}

/// `GET /api/admin/backups/health/compliance`: every active configuration's RPO and RTO now.
pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<Compliance>, HealthError> {
    actor.require(Role::Viewer)?;
    of_all_at(catalog, Utc::now()).await
}

/// What one evaluation changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Evaluated {
    pub raised: usize,
    pub resolved: usize,
}

fn subject(configuration_id: &str) -> String {
    format!("configuration:{configuration_id}")
}

/// Raises an alert for each breach as of `now` and resolves those back within target (the
/// minute's `alerts.evaluate` job calls it with the present).
pub async fn evaluate_at(catalog: &Catalog, now: DateTime<Utc>) -> Result<Evaluated, HealthError> {
    let mut done = Evaluated::default();
    let all = of_all_at(catalog, now).await?;
    for c in &all {
        let subject = subject(&c.configuration_id);
        match (c.rpo_met, c.rpo_minutes) {
            (Some(false), Some(rpo)) => {
                let last = match c.newest_point.as_str() {
                    "wal" => format!("the last WAL file was archived at {}", c.newest_point_at.as_deref().unwrap_or_default()),
                    "backup" => format!("the last backup completed at {}", c.newest_point_at.as_deref().unwrap_or_default()),
                    _ => "it has never been backed up".to_string(),
                };
                let message = format!("{}: the newest restorable point is {:.0} minutes old, over its RPO of {rpo} minutes ({last})", c.name, c.rpo_age_minutes.unwrap_or_default());
                done.raised += usize::from(raise_once(catalog, AlertType::RpoBreach, &subject, &message, &c.configuration_id).await?);
            }
            _ => {
                if alerts::resolve(catalog, AlertType::RpoBreach, &subject, "a restorable point within the RPO again").await? {
                    done.resolved += 1;
                }
            }
        }
        match (c.rto_met, c.rto_minutes, c.measured_restore_seconds) {
            (Some(false), Some(rto), Some(seconds)) => {
                let message = format!("{}: the latest measured restore took {:.1} minutes, over its RTO of {rto} minutes", c.name, seconds / 60.0);
                done.raised += usize::from(raise_once(catalog, AlertType::RtoBreach, &subject, &message, &c.configuration_id).await?);
            }
            _ => {
                if alerts::resolve(catalog, AlertType::RtoBreach, &subject, "a restore measured within the RTO").await? {
                    done.resolved += 1;
                }
            }
        }
    }
    // A configuration paused or removed is in breach of nothing.
    for alert_type in [AlertType::RpoBreach, AlertType::RtoBreach] {
        let open = alerts::open_subjects(catalog, alert_type).await?;
        for subject_text in open {
            if !all.iter().any(|c| subject(&c.configuration_id) == subject_text) && alerts::resolve(catalog, alert_type, &subject_text, "the configuration is no longer active").await? {
                done.resolved += 1;
            }
        }
    }
    Ok(done)
}

/// Raises the condition unless it is already open: a breach that lasts is one alert, not one
/// occurrence a minute. Returns whether it raised.
async fn raise_once(catalog: &Catalog, alert_type: AlertType, subject: &str, message: &str, configuration_id: &str) -> Result<bool, HealthError> {
    if alerts::is_open(catalog, alert_type, subject).await? {
        return Ok(false);
    }
    alerts::raise_condition(catalog, &Condition { alert_type, severity: Severity::High, subject, message, configuration_id: Some(configuration_id), execution_id: None }).await?;
    Ok(true)
}
