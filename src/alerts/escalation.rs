//! Escalation: each severity has a schedule of levels. Level 1 is told when the alert is
//! raised; each later level is told `after_minutes` after it was first seen if nobody has
//! acknowledged it by then, to the channels whose routing takes that level. Acknowledging or
//! resolving stops it (`next_escalation_at` cleared). A silence holds an alert back until it
//! ends; it is then told at the level it has reached.

use chrono::Duration;

use super::history;
use super::silences;
use super::{Alert, AlertError, Severity};
use crate::notifications::{self, About, Notice};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::platform::time;

pub use bulwark_types::{EscalationSchedule, EscalationStep};

/// `GET …/alerts/escalation`: every severity's schedule.
pub async fn schedules(catalog: &Catalog, actor: &Principal) -> Result<Vec<EscalationSchedule>, AlertError> {
    actor.require(Role::Viewer)?;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as("SELECT severity, level, after_minutes FROM escalation_steps ORDER BY level").fetch_all(catalog.pool()).await?;
    Ok(Severity::ALL
        .iter()
        .map(|&severity| EscalationSchedule {
            severity,
            steps: rows.iter().filter(|r| r.0 == severity.as_str()).map(|r| EscalationStep { level: r.1, after_minutes: r.2 }).collect(),
        })
        .collect())
}

/// `PUT …/alerts/escalation/{severity}`: levels 1, 2, … in order, level 1 at 0 minutes, each
/// later one later than the one before, at most 10 levels within 7 days. Audited.
pub async fn set_schedule(catalog: &Catalog, actor: &Principal, severity: Severity, steps: &[EscalationStep]) -> Result<EscalationSchedule, AlertError> {
    actor.require(Role::Admin)?;
    if steps.is_empty() || steps.len() > 10 {
        return Err(AlertError::Invalid("steps: 1 to 10 levels".into()));
    }
    for (i, step) in steps.iter().enumerate() {
        if step.level != i as i64 + 1 {
            return Err(AlertError::Invalid(format!("steps: levels go 1, 2, 3 … in order; step {} is level {}", i + 1, step.level)));
        }
        if i == 0 && step.after_minutes != 0 {
            return Err(AlertError::Invalid("steps: level 1 is told when the alert is raised (afterMinutes 0)".into()));
        }
        if i > 0 && step.after_minutes <= steps[i - 1].after_minutes {
            return Err(AlertError::Invalid(format!("steps: level {} must come later than level {}", step.level, step.level - 1)));
        }
        if step.after_minutes > 7 * 24 * 60 {
            return Err(AlertError::Invalid("steps: afterMinutes at most 7 days (10080)".into()));
        }
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("DELETE FROM escalation_steps WHERE severity = $1").bind(severity.as_str()).execute(&mut *tx.tx).await?;
    for step in steps {
        sqlx::query("INSERT INTO escalation_steps (severity, level, after_minutes) VALUES ($1, $2, $3)").bind(severity.as_str()).bind(step.level).bind(step.after_minutes).execute(&mut *tx.tx).await?;
    }
    let detail = serde_json::json!({ "steps": steps });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "alert_escalation.set", target_type: "severity", target_id: Some(severity.as_str()), detail }).await?;
    tx.commit().await?;
    Ok(EscalationSchedule { severity, steps: steps.to_vec() })
}

/// When level `level` of an alert of `severity` first seen at `first_seen` is due, if the
/// schedule has that level.
async fn due_at_on(conn: &mut sqlx::AnyConnection, severity: Severity, level: i64, first_seen: &str) -> Result<Option<String>, CatalogError> {
    let after: Option<i64> = sqlx::query_scalar("SELECT after_minutes FROM escalation_steps WHERE severity = $1 AND level = $2")
        .bind(severity.as_str())
        .bind(level)
        .fetch_optional(&mut *conn)
        .await?;
    let first = time::parse(first_seen).unwrap_or_else(chrono::Utc::now);
    Ok(after.map(|m| time::to_text(first + Duration::minutes(m))))
}

/// A new alert: told at level 1 now, unless a silence holds it back until it ends.
pub(super) async fn start_on(conn: &mut sqlx::AnyConnection, alert: &Alert) -> Result<(), CatalogError> {
    if hold_back_on(conn, alert).await? {
        return Ok(());
    }
    tell_on(conn, alert, 1).await
}

/// Under a silence: the alert's next step waits for its end. Returns whether it did.
async fn hold_back_on(conn: &mut sqlx::AnyConnection, alert: &Alert) -> Result<bool, CatalogError> {
    let Some(until) = silences::silenced_until_on(conn, alert.alert_type, &alert.subject, alert.backup_configuration_id.as_deref()).await? else {
        return Ok(false);
    };
    sqlx::query("UPDATE backup_monitoring_alerts SET next_escalation_at = $1 WHERE id = $2").bind(&until).bind(&alert.id).execute(&mut *conn).await?;
    history::record_on(conn, &alert.id, "silenced", None, None, &format!("held back by a silence until {until}")).await?;
    Ok(true)
}

/// Tells level `level` of `alert` through the channels that route it, and sets its next step.
async fn tell_on(conn: &mut sqlx::AnyConnection, alert: &Alert, level: i64) -> Result<(), CatalogError> {
    let next = due_at_on(conn, alert.severity, level + 1, &alert.triggered_at).await?;
    sqlx::query("UPDATE backup_monitoring_alerts SET escalation_level = $1, next_escalation_at = $2 WHERE id = $3").bind(level).bind(&next).bind(&alert.id).execute(&mut *conn).await?;
    let told = notifications::notify_on(conn, &notice(alert, level)).await?;
    let kind = if level == 1 { "notified" } else { "escalated" };
    let detail = match told {
        0 => "no channel routes it".to_string(),
        1 => "1 channel told".to_string(),
        n => format!("{n} channels told"),
    };
    history::record_on(conn, &alert.id, kind, Some(level), None, &detail).await?;
    Ok(())
}

/// What a channel is told of an alert at `level`.
fn notice(alert: &Alert, level: i64) -> Notice<'_> {
    let severity = alert.severity.as_str().to_uppercase();
    let short: String = alert.message.chars().take(120).collect();
    let title = if level == 1 { format!("[{severity}] {short}") } else { format!("[{severity}, level {level}, not acknowledged] {short}") };
    let text = format!(
        "{}\n\nType: {}\nSeverity: {}\nSubject: {}\nFirst seen: {}\nOccurrences: {}\nEscalation level: {level}\nAlert: {}\n\nAcknowledge it on the console's Alerts page, or with POST /api/admin/backups/alerts/{}/acknowledge.",
        alert.message, alert.alert_type, alert.severity, alert.subject, alert.triggered_at, alert.occurrences, alert.id, alert.id
    );
    Notice {
        event: if level == 1 { "alert.raised" } else { "alert.escalated" },
        about: About::Alert { id: &alert.id, severity: alert.severity, alert_type: alert.alert_type, level },
        title,
        text,
        record: serde_json::to_value(alert).unwrap_or_default(),
    }
}

/// The periodic run: every open alert whose next step is due is told at its next level (or,
/// held back by a silence, waits for its end). Returns how many were told.
pub async fn run(catalog: &Catalog) -> Result<usize, AlertError> {
    let due: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT id, escalation_level, next_escalation_at FROM backup_monitoring_alerts
          WHERE status = 'open' AND next_escalation_at IS NOT NULL AND next_escalation_at <= $1 ORDER BY next_escalation_at LIMIT 500",
    )
    .bind(time::now_text())
    .fetch_all(catalog.pool())
    .await?;
    let mut told = 0;
    for (id, level, next) in due {
        let mut tx = catalog.pool().begin().await?;
        // Claims the step: of two nodes running at once, one tells it.
        let claimed = sqlx::query("UPDATE backup_monitoring_alerts SET next_escalation_at = NULL WHERE id = $1 AND status = 'open' AND escalation_level = $2 AND next_escalation_at = $3")
            .bind(&id)
            .bind(level)
            .bind(&next)
            .execute(&mut *tx)
            .await?;
        if claimed.rows_affected() == 0 {
            continue;
        }
        let alert = super::find_on(&mut tx, &id).await?;
        if !hold_back_on(&mut tx, &alert).await? {
            // After a silence (or a stopped node), the level it has reached by now, told once.
            let now = time::now_text();
            let mut target = level + 1;
            while due_at_on(&mut tx, alert.severity, target + 1, &alert.triggered_at).await?.is_some_and(|at| at <= now) {
                target += 1;
            }
            tell_on(&mut tx, &alert, target).await?;
            told += 1;
        }
        tx.commit().await?;
    }
    Ok(told)
}
