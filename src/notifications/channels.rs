//! Notification channels: created, changed, enabled again and deleted by admins (audited), each
//! checked before it is saved. A webhook's address must be `http(s)://` with a host and no
//! credentials; an e-mail channel's SMTP server must answer a connection as a message would make
//! it. Secrets (a webhook's signing secret, an SMTP password) are sealed under the server key.

use bulwark_types::{AlertType, Severity};

use super::email::{self, Smtp};
use super::{Channel, ChannelCreated, ChannelKind, ChannelRequest, ChannelSettings, NotificationError, Routing, SmtpSecurity};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::platform::time;

const COLUMNS: &str = "id, name, kind, settings, sealed_secret, severities, alert_types, escalation_levels, approval_requests, max_attempts, retry_base_seconds, enabled,
    consecutive_failures, disabled_reason, created_by, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub id: String,
    pub name: String,
    kind: String,
    settings: String,
    pub sealed_secret: Option<String>,
    severities: String,
    alert_types: String,
    escalation_levels: String,
    approval_requests: i64,
    max_attempts: i64,
    retry_base_seconds: i64,
    enabled: i64,
    consecutive_failures: i64,
    disabled_reason: Option<String>,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl Row {
    pub(super) fn into_channel(self) -> Result<Channel, NotificationError> {
        let kind = ChannelKind::parse(&self.kind).ok_or_else(|| NotificationError::Stored(format!("channel {} has an unknown kind {:?}", self.id, self.kind)))?;
        let settings: ChannelSettings = serde_json::from_str(&self.settings).map_err(|e| NotificationError::Stored(format!("channel {} has unreadable settings: {e}", self.id)))?;
        Ok(Channel {
            routing: routing_from(&self.severities, &self.alert_types, &self.escalation_levels, self.approval_requests != 0),
            id: self.id,
            name: self.name,
            kind,
            settings,
            max_attempts: self.max_attempts,
            retry_base_seconds: self.retry_base_seconds,
            enabled: self.enabled != 0,
            consecutive_failures: self.consecutive_failures,
            disabled_reason: self.disabled_reason,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A channel's routing from its stored comma lists (names this version does not know are left out).
pub fn routing_from(severities: &str, alert_types: &str, levels: &str, approval_requests: bool) -> Routing {
    let items = |text: &str| text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>();
    Routing {
        severities: items(severities).iter().filter_map(|s| Severity::parse(s)).collect(),
        alert_types: items(alert_types).iter().filter_map(|s| AlertType::parse(s)).collect(),
        escalation_levels: items(levels).iter().filter_map(|s| s.parse().ok()).collect(),
        approval_requests,
    }
}

fn joined<T: ToString>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

/// The sealing context of a channel's secret.
pub(super) fn secret_context(id: &str) -> String {
    format!("notification-channel:{id}:secret")
}

pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<Channel>, NotificationError> {
    actor.require(Role::Admin)?;
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM notification_channels ORDER BY name")).fetch_all(catalog.pool()).await?;
    rows.into_iter().map(Row::into_channel).collect()
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Channel, NotificationError> {
    actor.require(Role::Admin)?;
    find(catalog, id).await?.into_channel()
}

pub(super) async fn find(catalog: &Catalog, id: &str) -> Result<Row, NotificationError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM notification_channels WHERE id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| NotificationError::NotFound(id.to_string()))
}

/// A request checked: every field, then (e-mail) the server itself.
struct Checked {
    name: String,
    settings: ChannelSettings,
    routing: Routing,
    max_attempts: i64,
    retry_base_seconds: i64,
    enabled: bool,
}

fn invalid(message: impl Into<String>) -> NotificationError {
    NotificationError::Invalid(message.into())
}

fn check_fields(request: &ChannelRequest, kind: ChannelKind, enabled_now: bool) -> Result<Checked, NotificationError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(invalid("name: 1 to 80 characters, without control characters"));
    }
    let s = &request.settings;
    let settings = match kind {
        ChannelKind::Webhook => ChannelSettings { url: Some(check_url(s.url.as_deref().unwrap_or_default())?), ..ChannelSettings::default() },
        ChannelKind::Email => {
            let host = s.smtp_host.as_deref().unwrap_or_default().trim();
            let host_ok = !host.is_empty() && host.len() <= 253 && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !host_ok {
                return Err(invalid("settings.smtpHost: the SMTP server's host name or address"));
            }
            let security = s.smtp_security.unwrap_or(SmtpSecurity::Starttls);
            if s.smtp_port == Some(0) {
                return Err(invalid("settings.smtpPort: from 1 to 65535"));
            }
            let from = s.from.as_deref().unwrap_or_default().trim();
            from.parse::<lettre::message::Mailbox>().map_err(|_| invalid(format!("settings.from: {from:?} is not an e-mail address")))?;
            if s.to.is_empty() || s.to.len() > 20 {
                return Err(invalid("settings.to: 1 to 20 recipients"));
            }
            let mut to = Vec::new();
            for address in &s.to {
                let address = address.trim();
                address.parse::<lettre::message::Mailbox>().map_err(|_| invalid(format!("settings.to: {address:?} is not an e-mail address")))?;
                to.push(address.to_string());
            }
            let username = s.smtp_username.as_deref().map(str::trim).filter(|u| !u.is_empty());
            if username.is_some_and(|u| u.len() > 200 || u.chars().any(char::is_control)) {
                return Err(invalid("settings.smtpUsername: up to 200 characters, without control characters"));
            }
            let ca = s.ca_certificate.as_deref().map(str::trim).filter(|p| !p.is_empty());
            if let Some(pem) = ca {
                if !pem.starts_with("-----BEGIN CERTIFICATE-----") || pem.len() > 64 * 1024 {
                    return Err(invalid("settings.caCertificate: one PEM certificate (-----BEGIN CERTIFICATE----- …)"));
                }
            }
            ChannelSettings {
                smtp_host: Some(host.to_string()),
                smtp_port: Some(s.smtp_port.unwrap_or_else(|| email::default_port(security))),
                smtp_security: Some(security),
                smtp_username: username.map(str::to_string),
                ca_certificate: ca.map(str::to_string),
                from: Some(from.to_string()),
                to,
                url: None,
            }
        }
    };
    if request.routing.escalation_levels.iter().any(|l| !(1..=10).contains(l)) {
        return Err(invalid("routing.escalationLevels: levels from 1 to 10"));
    }
    let max_attempts = request.max_attempts.unwrap_or(6);
    if !(1..=10).contains(&max_attempts) {
        return Err(invalid("maxAttempts: from 1 to 10"));
    }
    let retry_base_seconds = request.retry_base_seconds.unwrap_or(30);
    if !(1..=3600).contains(&retry_base_seconds) {
        return Err(invalid("retryBaseSeconds: from 1 to 3600"));
    }
    Ok(Checked { name: name.to_string(), settings, routing: request.routing.clone(), max_attempts, retry_base_seconds, enabled: request.enabled.unwrap_or(enabled_now) })
}

/// A webhook address: `http://` or `https://`, a host, no user name or password, at most 2,000
/// characters; returned as parsed (normalised), so what is stored is what is called.
pub fn check_url(text: &str) -> Result<String, NotificationError> {
    crate::platform::outbound::http_url(text, "a webhook is called", " (the signature proves who sends)").map_err(NotificationError::Invalid)
}

/// An e-mail channel's server must answer as it would for a message.
async fn check_server(settings: &ChannelSettings, password: Option<&str>) -> Result<(), NotificationError> {
    Smtp { settings, password }.check().await.map_err(NotificationError::Invalid)
}

/// A new channel; a webhook gets a signing secret, shown in the answer only.
pub async fn create(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, request: &ChannelRequest) -> Result<ChannelCreated, NotificationError> {
    actor.require(Role::Admin)?;
    let kind = request.kind.ok_or_else(|| invalid("kind: webhook or email"))?;
    let checked = check_fields(request, kind, true)?;
    let password = request.smtp_password.as_deref().filter(|p| !p.is_empty());
    if password.is_some_and(|p| p.len() > 1000) {
        return Err(invalid("smtpPassword: at most 1,000 characters"));
    }
    if kind == ChannelKind::Email {
        check_server(&checked.settings, password).await?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let signing_secret = (kind == ChannelKind::Webhook).then(|| crate::platform::accounts::secret::generate("whsec_"));
    let secret = signing_secret.as_deref().or(password);
    let sealed = secret.map(|s| secrets.seal(&secret_context(&id), s));
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notification_channels WHERE name = $1").bind(&checked.name).fetch_one(&mut *tx.tx).await?;
    if taken > 0 {
        return Err(NotificationError::Conflict(format!("a channel is already called {:?}", checked.name)));
    }
    sqlx::query(&format!(
        "INSERT INTO notification_channels ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, NULL, $13, $14, $14)"
    ))
    .bind(&id)
    .bind(&checked.name)
    .bind(kind.as_str())
    .bind(serde_json::to_string(&checked.settings).unwrap_or_default())
    .bind(&sealed)
    .bind(joined(&checked.routing.severities))
    .bind(joined(&checked.routing.alert_types))
    .bind(joined(&checked.routing.escalation_levels))
    .bind(i64::from(checked.routing.approval_requests))
    .bind(checked.max_attempts)
    .bind(checked.retry_base_seconds)
    .bind(i64::from(checked.enabled))
    .bind(&actor.username)
    .bind(&now)
    .execute(&mut *tx.tx)
    .await?;
    let detail = serde_json::json!({ "name": checked.name, "kind": kind, "settings": checked.settings, "routing": checked.routing });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "notification_channel.create", target_type: "notification_channel", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    Ok(ChannelCreated { channel: find(catalog, &id).await?.into_channel()?, signing_secret })
}

/// Changes a channel (its kind stays). An SMTP password left out keeps the stored one. Enabling
/// a disabled channel clears its failures.
pub async fn update(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str, request: &ChannelRequest) -> Result<Channel, NotificationError> {
    actor.require(Role::Admin)?;
    let row = find(catalog, id).await?;
    let stored = row.sealed_secret.clone();
    let current = row.into_channel()?;
    if request.kind.is_some_and(|k| k != current.kind) {
        return Err(invalid("kind: a channel's kind cannot change; create another channel"));
    }
    // Left out, `enabled` stays as it is (a change of routing does not turn a channel on).
    let checked = check_fields(request, current.kind, current.enabled)?;
    let new_password = request.smtp_password.as_deref().filter(|p| !p.is_empty());
    let server_changed = |a: &ChannelSettings, b: &ChannelSettings| (&a.smtp_host, a.smtp_port, a.smtp_security, &a.smtp_username) != (&b.smtp_host, b.smtp_port, b.smtp_security, &b.smtp_username);
    if current.kind == ChannelKind::Email && stored.is_some() && new_password.is_none() && server_changed(&current.settings, &checked.settings) {
        // Else the stored password would be sent to a server the change names: give it again.
        return Err(invalid("smtpPassword: give the password again when the SMTP server, port, security or user name changes"));
    }
    let sealed = match (current.kind, new_password) {
        (ChannelKind::Email, Some(p)) => Some(secrets.seal(&secret_context(id), p)),
        _ => stored,
    };
    // The server is checked when what reaches it changes and the channel is to be used: a
    // broken channel can always be disabled.
    if current.kind == ChannelKind::Email && checked.enabled && (new_password.is_some() || checked.settings != current.settings || !current.enabled) {
        let password = match &sealed {
            Some(s) => Some(secrets.open(&secret_context(id), s)?),
            None => None,
        };
        check_server(&checked.settings, password.as_deref()).await?;
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notification_channels WHERE name = $1 AND id <> $2").bind(&checked.name).bind(id).fetch_one(&mut *tx.tx).await?;
    if taken > 0 {
        return Err(NotificationError::Conflict(format!("a channel is already called {:?}", checked.name)));
    }
    // Enabling or disabling by hand clears the failures (a channel disabled by its failures is
    // one with failures counted); disabling by hand says so.
    let changed = sqlx::query(
        "UPDATE notification_channels SET name = $1, settings = $2, sealed_secret = $3, severities = $4, alert_types = $5, escalation_levels = $6, approval_requests = $7,
             max_attempts = $8, retry_base_seconds = $9, enabled = $10,
             consecutive_failures = CASE WHEN $10 <> enabled THEN 0 ELSE consecutive_failures END,
             disabled_reason = CASE WHEN $10 = 1 THEN NULL WHEN enabled = 1 THEN $11 ELSE disabled_reason END,
             updated_at = $12
         WHERE id = $13",
    )
    .bind(&checked.name)
    .bind(serde_json::to_string(&checked.settings).unwrap_or_default())
    .bind(&sealed)
    .bind(joined(&checked.routing.severities))
    .bind(joined(&checked.routing.alert_types))
    .bind(joined(&checked.routing.escalation_levels))
    .bind(i64::from(checked.routing.approval_requests))
    .bind(checked.max_attempts)
    .bind(checked.retry_base_seconds)
    .bind(i64::from(checked.enabled))
    .bind(format!("disabled by {}", actor.username))
    .bind(time::now_text())
    .bind(id)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(NotificationError::NotFound(id.to_string()));
    }
    let detail = serde_json::json!({ "name": checked.name, "settings": checked.settings, "routing": checked.routing, "enabled": checked.enabled, "passwordChanged": new_password.is_some() });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "notification_channel.update", target_type: "notification_channel", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    find(catalog, id).await?.into_channel()
}

/// Deletes a channel with its delivery log.
pub async fn delete(catalog: &Catalog, actor: &Principal, id: &str) -> Result<(), NotificationError> {
    actor.require(Role::Admin)?;
    let channel = find(catalog, id).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("DELETE FROM notification_attempts WHERE delivery_id IN (SELECT id FROM notification_deliveries WHERE channel_id = $1)").bind(id).execute(&mut *tx.tx).await?;
    sqlx::query("DELETE FROM notification_deliveries WHERE channel_id = $1").bind(id).execute(&mut *tx.tx).await?;
    sqlx::query("DELETE FROM notification_channels WHERE id = $1").bind(id).execute(&mut *tx.tx).await?;
    let detail = serde_json::json!({ "name": channel.name });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "notification_channel.delete", target_type: "notification_channel", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    Ok(())
}

/// The channels the deliveries' failures disabled, with why: each is an alert's condition.
pub async fn disabled_by_failures(catalog: &Catalog) -> Result<Vec<(String, String, String)>, NotificationError> {
    Ok(sqlx::query_as("SELECT id, name, COALESCE(disabled_reason, '') FROM notification_channels WHERE enabled = 0 AND consecutive_failures > 0 ORDER BY name")
        .fetch_all(catalog.pool())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_addresses_are_http_with_a_host_and_no_credentials() {
        assert_eq!(check_url(" https://hooks.example.com/x?y=1 ").unwrap(), "https://hooks.example.com/x?y=1");
        for bad in ["ftp://example.com/", "javascript:alert(1)", "file:///etc/passwd", "https://user:pw@example.com/", "not a url", "http://"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn routing_round_trips_through_its_stored_lists() {
        let routing = Routing { severities: vec![Severity::Critical, Severity::High], alert_types: vec![AlertType::BackupFailed], escalation_levels: vec![2, 3], approval_requests: true };
        let back = routing_from(&joined(&routing.severities), &joined(&routing.alert_types), &joined(&routing.escalation_levels), true);
        assert_eq!(back, routing);
    }
}
