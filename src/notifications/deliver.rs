//! One attempt of a delivery, and the log of them all.
//!
//! An attempt sends, then records what came of it in one transaction, fenced on the delivery's
//! attempt count (a job run twice records once). A failure waits before the next attempt: the
//! channel's base, doubled each time, capped at an hour, and drawn between half and all of that
//! (jitter: receivers that came back are not hit by every sender at the same second). A
//! delivery that fails all its `max_attempts` disables its channel: its waiting deliveries
//! fail, and the caller raises the alert. The channel counts its failed attempts in a row.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use super::email::Smtp;
use super::{channels, enqueue_attempt_on, html_escape, webhook, Channel, ChannelKind, Delivery, DeliveryAttempt, DeliveryStatus, NotificationError};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::platform::time;

/// What an attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not this attempt's to make: already counted by another run, or the delivery ended.
    Skipped,
    Delivered { alert_id: Option<String> },
    /// Failed; the next attempt is queued for then.
    Retrying { next_at: String },
    /// Failed for the last time.
    Failed { alert_id: Option<String> },
    /// Failed for the last time, and so disabled its channel.
    ChannelDisabled { channel_id: String },
}

/// How long after failed attempt `attempt` the next one waits: `base` × 2^(attempt−1), at most
/// an hour, drawn uniformly from its upper half.
pub fn backoff(base_seconds: i64, attempt: i64, rng: &mut impl Rng) -> Duration {
    let full = base_seconds.max(1).saturating_mul(1 << attempt.clamp(1, 20).saturating_sub(1)).min(3600);
    let millis = full * 1000;
    Duration::milliseconds(rng.random_range(millis / 2..=millis))
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: String,
    channel_id: String,
    alert_id: Option<String>,
    event: String,
    title: String,
    payload: String,
    status: String,
    attempts: i64,
}

/// What sending once came to.
struct Sent {
    status: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

/// Sends `payload` once through `channel`: the webhook's signed POST, or the e-mail.
async fn send(channel: &Channel, secret: Option<&str>, delivery_id: &str, event: &str, title: &str, payload: &str) -> Sent {
    let started = Instant::now();
    let (status, error) = match channel.kind {
        ChannelKind::Webhook => {
            let url = channel.settings.url.as_deref().unwrap_or_default();
            let sent = webhook::post(url, secret.unwrap_or_default(), event, delivery_id, payload).await;
            (sent.status.map(i64::from), sent.error)
        }
        ChannelKind::Email => {
            let text = plain_text(payload);
            let html = format!("<!doctype html><html><body><pre style=\"font-family:sans-serif;white-space:pre-wrap\">{}</pre></body></html>", html_escape(&text));
            let sent = Smtp { settings: &channel.settings, password: secret }.send(title, &text, &html).await;
            (sent.code.map(i64::from), sent.error)
        }
    };
    Sent { status, error, duration_ms: started.elapsed().as_millis() as i64 }
}

/// An e-mail's body: the notice's text, then what it is about.
fn plain_text(payload: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let text = value["text"].as_str().unwrap_or_default();
    let record = serde_json::to_string_pretty(&value["record"]).unwrap_or_default();
    format!("{text}\n\n--\nSent by Bulwark. Details:\n{record}\n")
}

async fn open_secret(secrets: &SecretBox, row: &channels::Row) -> Result<Option<String>, NotificationError> {
    Ok(match &row.sealed_secret {
        Some(sealed) => Some(secrets.open(&channels::secret_context(&row.id), sealed)?),
        None => None,
    })
}

/// Makes attempt `attempt` of delivery `delivery_id` (the `notification.deliver` job).
pub async fn attempt(catalog: &Catalog, secrets: &SecretBox, delivery_id: &str, attempt: i64) -> Result<Outcome, NotificationError> {
    let pending: Option<Pending> = sqlx::query_as("SELECT id, channel_id, alert_id, event, title, payload, status, attempts FROM notification_deliveries WHERE id = $1")
        .bind(delivery_id)
        .fetch_optional(catalog.pool())
        .await?;
    let Some(d) = pending.filter(|d| d.status == DeliveryStatus::Pending.as_str() && d.attempts == attempt - 1) else {
        return Ok(Outcome::Skipped);
    };
    let row = channels::find(catalog, &d.channel_id).await?;
    let secret = open_secret(secrets, &row).await?;
    let channel = row.into_channel()?;
    if !channel.enabled {
        let ended = sqlx::query("UPDATE notification_deliveries SET status = 'failed', last_error = $1, next_attempt_at = NULL WHERE id = $2 AND status = 'pending'")
            .bind(format!("channel {:?} is disabled", channel.name))
            .bind(&d.id)
            .execute(catalog.pool())
            .await?;
        return Ok(if ended.rows_affected() > 0 { Outcome::Failed { alert_id: d.alert_id } } else { Outcome::Skipped });
    }
    let sent = send(&channel, secret.as_deref(), &d.id, &d.event, &d.title, &d.payload).await;
    let now = time::now_text();
    let mut tx = catalog.pool().begin().await?;
    // The channel's row first, in every attempt that records: two attempts of one channel
    // then queue on it instead of each holding a row the other needs (a deadlock on PostgreSQL).
    let (failures, enabled): (i64, i64) = sqlx::query_as(
        "UPDATE notification_channels SET consecutive_failures = CASE WHEN $1 = 1 THEN 0 ELSE consecutive_failures + 1 END WHERE id = $2 RETURNING consecutive_failures, enabled",
    )
    .bind(i64::from(sent.error.is_none()))
    .bind(&channel.id)
    .fetch_one(&mut *tx)
    .await?;
    let last = attempt >= channel.max_attempts;
    let (status, next_at, outcome) = match &sent.error {
        None => ("delivered", None, Outcome::Delivered { alert_id: d.alert_id.clone() }),
        Some(_) if !last => {
            let wait = backoff(channel.retry_base_seconds, attempt, &mut rand::rng());
            let at: DateTime<Utc> = Utc::now() + wait;
            ("pending", Some(at), Outcome::Retrying { next_at: time::to_text(at) })
        }
        Some(_) if enabled != 0 => ("failed", None, Outcome::ChannelDisabled { channel_id: channel.id.clone() }),
        Some(_) => ("failed", None, Outcome::Failed { alert_id: d.alert_id.clone() }),
    };
    // The fence: only the first run of this attempt records it (dropping the transaction
    // undoes the count above).
    let fenced = sqlx::query(
        "UPDATE notification_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, delivered_at = CASE WHEN $1 = 'delivered' THEN $5 ELSE delivered_at END
          WHERE id = $6 AND attempts = $7 AND status = 'pending'",
    )
    .bind(status)
    .bind(attempt)
    .bind(next_at.map(time::to_text))
    .bind(&sent.error)
    .bind(&now)
    .bind(&d.id)
    .bind(attempt - 1)
    .execute(&mut *tx)
    .await?;
    if fenced.rows_affected() == 0 {
        return Ok(Outcome::Skipped);
    }
    record_attempt_on(&mut tx, &d.id, attempt, &now, &sent).await?;
    if let Outcome::ChannelDisabled { .. } = outcome {
        // A delivery that failed every attempt, each later than the last: the receiver is not
        // coming back by itself. Its other waiting deliveries fail with it.
        let reason = format!("disabled after a notification failed all its {attempt} attempts ({failures} failed in a row); the last: {}", sent.error.as_deref().unwrap_or_default());
        sqlx::query("UPDATE notification_channels SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3").bind(&reason).bind(&now).bind(&channel.id).execute(&mut *tx).await?;
        sqlx::query("UPDATE notification_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = COALESCE(last_error, $1) WHERE channel_id = $2 AND status = 'pending'")
            .bind("its channel was disabled")
            .bind(&channel.id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(at) = next_at {
        enqueue_attempt_on(&mut tx, &d.id, attempt + 1, Some(at)).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

async fn record_attempt_on(conn: &mut sqlx::AnyConnection, delivery_id: &str, attempt: i64, at: &str, sent: &Sent) -> Result<(), NotificationError> {
    sqlx::query("INSERT INTO notification_attempts (delivery_id, attempt, at, ok, response_status, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(delivery_id)
        .bind(attempt)
        .bind(at)
        .bind(i64::from(sent.error.is_none()))
        .bind(sent.status)
        .bind(&sent.error)
        .bind(sent.duration_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// "Send test": one message through the channel now (disabled or not, so it can be checked
/// before it is enabled again), logged as a delivery of event `test`; its failures count for
/// nothing. Returns the delivery with its attempt.
pub async fn send_test(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, channel_id: &str) -> Result<Delivery, NotificationError> {
    actor.require(Role::Admin)?;
    let row = channels::find(catalog, channel_id).await?;
    let title = format!("Bulwark test notification for {}", row.name);
    let text = format!("{} sent this test through the channel {:?}. If you read it, the channel works.", actor.username, row.name);
    let record = serde_json::json!({ "channelId": row.id, "sentBy": actor.username });
    send_now(catalog, secrets, row, "test", &title, &text, record).await
}

/// Sends a message through the channel called `name` at once, and logs it as a delivery of
/// one attempt (a runbook's notification step: the run itself retries).
pub async fn send_named(catalog: &Catalog, secrets: &SecretBox, name: &str, event: &str, title: &str, text: &str, record: serde_json::Value) -> Result<Delivery, NotificationError> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM notification_channels WHERE name = $1").bind(name).fetch_optional(catalog.pool()).await?;
    let row = channels::find(catalog, &id.ok_or_else(|| NotificationError::NotFound(format!("{name:?}")))?).await?;
    send_now(catalog, secrets, row, event, title, text, record).await
}

/// The enabled channels' names.
pub async fn enabled_channels(catalog: &Catalog) -> Result<Vec<String>, NotificationError> {
    Ok(sqlx::query_scalar("SELECT name FROM notification_channels WHERE enabled = 1 ORDER BY name").fetch_all(catalog.pool()).await?)
}

async fn send_now(catalog: &Catalog, secrets: &SecretBox, row: channels::Row, event: &str, title: &str, text: &str, record: serde_json::Value) -> Result<Delivery, NotificationError> {
    let secret = open_secret(secrets, &row).await?;
    let channel = row.into_channel()?;
    let id = uuid::Uuid::new_v4().to_string();
    let payload = serde_json::json!({ "event": event, "deliveryId": id, "title": title, "text": text, "escalationLevel": null, "record": record }).to_string();
    let sent = send(&channel, secret.as_deref(), &id, event, title, &payload).await;
    let now = time::now_text();
    let mut tx = catalog.pool().begin().await?;
    sqlx::query(
        "INSERT INTO notification_deliveries (id, channel_id, alert_id, event, escalation_level, title, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at)
         VALUES ($1, $2, NULL, $3, NULL, $4, $5, $6, 1, NULL, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&channel.id)
    .bind(event)
    .bind(title)
    .bind(&payload)
    .bind(if sent.error.is_none() { "delivered" } else { "failed" })
    .bind(&sent.error)
    .bind(&now)
    .bind(sent.error.is_none().then_some(&now))
    .execute(&mut *tx)
    .await?;
    record_attempt_on(&mut tx, &id, 1, &now, &sent).await?;
    tx.commit().await?;
    Ok(list(catalog, &Filter { delivery_id: Some(id), ..Filter::default() }).await?.remove(0))
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    pub channel_id: Option<String>,
    pub alert_id: Option<String>,
    #[serde(skip)]
    pub delivery_id: Option<String>,
    pub limit: Option<i64>,
}

/// The delivery log (admins): newest first, each with its attempts.
pub async fn log(catalog: &Catalog, actor: &Principal, filter: &Filter) -> Result<Vec<Delivery>, NotificationError> {
    actor.require(Role::Admin)?;
    list(catalog, filter).await
}

/// The deliveries about one alert, for its history (whoever may read the alert).
pub async fn of_alert(catalog: &Catalog, alert_id: &str) -> Result<Vec<Delivery>, NotificationError> {
    list(catalog, &Filter { alert_id: Some(alert_id.to_string()), ..Filter::default() }).await
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    channel_id: String,
    channel_name: String,
    alert_id: Option<String>,
    event: String,
    escalation_level: Option<i64>,
    title: String,
    status: String,
    attempts: i64,
    next_attempt_at: Option<String>,
    last_error: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    at: String,
    ok: i64,
    response_status: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

async fn list(catalog: &Catalog, filter: &Filter) -> Result<Vec<Delivery>, NotificationError> {
    let limit = filter.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(NotificationError::Invalid("limit: from 1 to 500".into()));
    }
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT d.id, d.channel_id, c.name AS channel_name, d.alert_id, d.event, d.escalation_level, d.title, d.status, d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.delivered_at
           FROM notification_deliveries d JOIN notification_channels c ON c.id = d.channel_id
          WHERE ($1 IS NULL OR d.channel_id = $1) AND ($2 IS NULL OR d.alert_id = $2) AND ($3 IS NULL OR d.id = $3)
          ORDER BY d.created_at DESC, d.id LIMIT $4",
    )
    .bind(filter.channel_id.as_deref().filter(|s| !s.is_empty()))
    .bind(filter.alert_id.as_deref().filter(|s| !s.is_empty()))
    .bind(filter.delivery_id.as_deref())
    .bind(limit)
    .fetch_all(catalog.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let attempts: Vec<AttemptRow> = sqlx::query_as("SELECT attempt, at, ok, response_status, error, duration_ms FROM notification_attempts WHERE delivery_id = $1 ORDER BY attempt")
            .bind(&row.id)
            .fetch_all(catalog.pool())
            .await?;
        let status = DeliveryStatus::parse(&row.status).ok_or_else(|| NotificationError::Stored(format!("delivery {} has an unknown status {:?}", row.id, row.status)))?;
        out.push(Delivery {
            attempt_log: attempts
                .into_iter()
                .map(|a| DeliveryAttempt { attempt: a.attempt, at: a.at, ok: a.ok != 0, response_status: a.response_status, error: a.error, duration_ms: a.duration_ms })
                .collect(),
            id: row.id,
            channel_id: row.channel_id,
            channel_name: row.channel_name,
            alert_id: row.alert_id,
            event: row.event,
            escalation_level: row.escalation_level,
            title: row.title,
            status,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_upper_half_and_caps_at_an_hour() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let first = backoff(30, 1, &mut rng).num_milliseconds();
            assert!((15_000..=30_000).contains(&first), "{first}");
            let third = backoff(30, 3, &mut rng).num_milliseconds();
            assert!((60_000..=120_000).contains(&third), "{third}");
            let late = backoff(30, 12, &mut rng).num_milliseconds();
            assert!((1_800_000..=3_600_000).contains(&late), "{late}");
        }
    }

    #[test]
    fn an_emails_text_carries_the_notice_and_its_record() {
        let text = plain_text(r#"{"text":"backup failed","record":{"id":"a1"}}"#);
        assert!(text.starts_with("backup failed\n"));
        assert!(text.contains("\"id\": \"a1\""));
    }
}
