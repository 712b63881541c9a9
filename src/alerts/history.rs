//! Each alert's history: a row for every step (raised, occurred again, notified at a level,
//! escalated, silenced, acknowledged, resolved), written in the transaction of the step, and
//! read back with the notifications sent about it.

use super::AlertError;
use crate::notifications::deliver;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::time;

pub use bulwark_types::{AlertEvent, AlertHistory};

/// Records one step of alert `alert_id`'s history on the caller's connection or transaction.
pub async fn record_on(conn: &mut sqlx::AnyConnection, alert_id: &str, kind: &str, level: Option<i64>, actor: Option<&str>, detail: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO alert_events (id, alert_id, at, kind, escalation_level, actor, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(alert_id)
        .bind(time::now_text())
        .bind(kind)
        .bind(level)
        .bind(actor)
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    at: String,
    kind: String,
    escalation_level: Option<i64>,
    actor: Option<String>,
    detail: String,
}

/// `GET …/alerts/{id}/history`: the alert's steps in order, and every delivery about it.
pub async fn of(catalog: &Catalog, actor: &Principal, alert_id: &str) -> Result<AlertHistory, AlertError> {
    actor.require(Role::Viewer)?;
    super::find(catalog, alert_id).await?;
    let rows: Vec<Row> = sqlx::query_as("SELECT at, kind, escalation_level, actor, detail FROM alert_events WHERE alert_id = $1 ORDER BY at, id")
        .bind(alert_id)
        .fetch_all(catalog.pool())
        .await?;
    let events = rows.into_iter().map(|r| AlertEvent { at: r.at, kind: r.kind, escalation_level: r.escalation_level, actor: r.actor, detail: r.detail }).collect();
    let deliveries = deliver::of_alert(catalog, alert_id).await?;
    Ok(AlertHistory { events, deliveries })
}
