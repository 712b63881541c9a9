//! Monitored services: created, changed and deleted by admins (audited), every field checked
//! before anything is saved; a PostgreSQL password sealed under the server key. Anyone signed
//! in can read them.

use super::{MonitoredService, MonitoringError, ServiceKind, ServiceRequest, ServiceSettings};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::platform::time;

const COLUMNS: &str = "id, name, kind, settings, sealed_password, interval_seconds, timeout_seconds, failures_before_alert, enabled, geographical_region, availability_zone,
    next_probe_at, last_status, last_checked_at, last_message, consecutive_failures, created_by, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub id: String,
    name: String,
    kind: String,
    settings: String,
    pub sealed_password: Option<String>,
    pub interval_seconds: i64,
    timeout_seconds: i64,
    failures_before_alert: i64,
    enabled: i64,
    geographical_region: Option<String>,
    availability_zone: Option<String>,
    pub next_probe_at: String,
    last_status: Option<String>,
    last_checked_at: Option<String>,
    last_message: Option<String>,
    consecutive_failures: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl Row {
    pub(super) fn into_service(self) -> Result<MonitoredService, MonitoringError> {
        let kind = ServiceKind::parse(&self.kind).ok_or_else(|| MonitoringError::Stored(format!("service {} has an unknown kind {:?}", self.id, self.kind)))?;
        let settings: ServiceSettings = serde_json::from_str(&self.settings).map_err(|e| MonitoringError::Stored(format!("service {} has unreadable settings: {e}", self.id)))?;
        Ok(MonitoredService {
            has_password: self.sealed_password.is_some(),
            id: self.id,
            name: self.name,
            kind,
            settings,
            interval_seconds: self.interval_seconds,
            timeout_seconds: self.timeout_seconds,
            failures_before_alert: self.failures_before_alert,
            enabled: self.enabled != 0,
            geographical_region: self.geographical_region,
            availability_zone: self.availability_zone,
            last_status: self.last_status.as_deref().and_then(super::HealthStatus::parse),
            last_checked_at: self.last_checked_at,
            last_message: self.last_message,
            consecutive_failures: self.consecutive_failures,
            next_probe_at: self.next_probe_at,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The sealing context of a service's password.
pub(super) fn password_context(id: &str) -> String {
    format!("monitored-service:{id}:password")
}

pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<MonitoredService>, MonitoringError> {
    actor.require(Role::Viewer)?;
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM monitored_services ORDER BY name")).fetch_all(catalog.pool()).await?;
    rows.into_iter().map(Row::into_service).collect()
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<MonitoredService, MonitoringError> {
    actor.require(Role::Viewer)?;
    find(catalog, id).await?.into_service()
}

pub(super) async fn find(catalog: &Catalog, id: &str) -> Result<Row, MonitoringError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM monitored_services WHERE id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| MonitoringError::NotFound(id.to_string()))
}

/// The services due at `now` (enabled, `next_probe_at` passed), oldest due first.
pub(super) async fn due(catalog: &Catalog, now: &str, limit: i64) -> Result<Vec<Row>, MonitoringError> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM monitored_services WHERE enabled = 1 AND next_probe_at <= $1 ORDER BY next_probe_at LIMIT $2"))
        .bind(now)
        .bind(limit)
        .fetch_all(catalog.pool())
        .await?)
}

fn invalid(message: impl Into<String>) -> MonitoringError {
    MonitoringError::Invalid(message.into())
}

/// A request checked, ready to store.
struct Checked {
    name: String,
    settings: ServiceSettings,
    interval_seconds: i64,
    timeout_seconds: i64,
    failures_before_alert: i64,
    enabled: bool,
    geographical_region: Option<String>,
    availability_zone: Option<String>,
}

fn plain_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, MonitoringError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(invalid(format!("{field}: up to {max} characters, without control characters")));
    }
    Ok(Some(value.to_string()))
}

fn host(value: Option<&str>) -> Result<String, MonitoringError> {
    let host = value.unwrap_or_default().trim();
    let ok = !host.is_empty() && host.len() <= 253 && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return Err(invalid("settings.host: a host name or an address"));
    }
    Ok(host.to_string())
}

/// An address probed with GET: `http://` or `https://`, a host, no user name or password.
fn check_url(text: &str) -> Result<String, MonitoringError> {
    crate::platform::outbound::http_url(text, "a service is probed", "").map_err(MonitoringError::Invalid)
}

/// TLS to a PostgreSQL server, as libpq names its modes.
pub const SSL_MODES: [&str; 5] = ["disable", "prefer", "require", "verify-ca", "verify-full"];

/// A private authority's certificate: one PEM certificate, or none.
fn check_ca(pem: Option<&str>) -> Result<Option<&str>, MonitoringError> {
    let Some(pem) = pem.map(str::trim).filter(|p| !p.is_empty()) else { return Ok(None) };
    let parsed = reqwest::Certificate::from_pem(pem.as_bytes()).is_ok();
    if !pem.starts_with("-----BEGIN CERTIFICATE-----") || pem.len() > 64 * 1024 || !parsed {
        return Err(invalid("settings.caCertificate: one PEM certificate (-----BEGIN CERTIFICATE----- …)"));
    }
    Ok(Some(pem))
}

fn check_fields(request: &ServiceRequest, kind: ServiceKind, current: Option<&MonitoredService>) -> Result<Checked, MonitoringError> {
    let name = plain_text("name", Some(&request.name), 100)?.ok_or_else(|| invalid("name: 1 to 100 characters, without control characters"))?;
    let s = &request.settings;
    let slow_ms = s.slow_ms;
    if slow_ms.is_some_and(|ms| !(1..=600_000).contains(&ms)) {
        return Err(invalid("settings.slowMs: from 1 to 600,000 milliseconds"));
    }
    let settings = match kind {
        ServiceKind::Http => {
            if s.expected_status.is_some_and(|code| !(100..=599).contains(&code)) {
                return Err(invalid("settings.expectedStatus: an HTTP status from 100 to 599"));
            }
            if s.tls_expiry_days.is_some_and(|d| !(0..=365).contains(&d)) {
                return Err(invalid("settings.tlsExpiryDays: from 0 to 365 days"));
            }
            let body_contains = s.body_contains.as_deref().filter(|b| !b.is_empty());
            if body_contains.is_some_and(|b| b.len() > 1000) {
                return Err(invalid("settings.bodyContains: at most 1,000 characters"));
            }
            let ca = check_ca(s.ca_certificate.as_deref())?;
            ServiceSettings {
                url: Some(check_url(s.url.as_deref().unwrap_or_default())?),
                ca_certificate: ca.map(str::to_string),
                expected_status: s.expected_status,
                body_contains: body_contains.map(str::to_string),
                tls_expiry_days: s.tls_expiry_days,
                slow_ms,
                ..ServiceSettings::default()
            }
        }
        ServiceKind::Tcp => {
            let port = s.port.filter(|p| *p > 0).ok_or_else(|| invalid("settings.port: from 1 to 65535"))?;
            ServiceSettings { host: Some(host(s.host.as_deref())?), port: Some(port), slow_ms, ..ServiceSettings::default() }
        }
        ServiceKind::Postgres => {
            if s.port == Some(0) {
                return Err(invalid("settings.port: from 1 to 65535"));
            }
            let username = plain_text("settings.username", s.username.as_deref(), 63)?.ok_or_else(|| invalid("settings.username: the user to connect as"))?;
            let database = plain_text("settings.database", s.database.as_deref(), 63)?;
            let query = plain_text("settings.query", s.query.as_deref(), 2000)?;
            if s.max_lag_seconds.is_some_and(|l| !(1..=86_400).contains(&l)) {
                return Err(invalid("settings.maxLagSeconds: from 1 to 86,400 seconds"));
            }
            let ssl_mode = s.ssl_mode.as_deref().map(str::trim).filter(|m| !m.is_empty()).unwrap_or("prefer");
            if !SSL_MODES.contains(&ssl_mode) {
                return Err(invalid(format!("settings.sslMode: one of {}, not {ssl_mode:?}", SSL_MODES.join(", "))));
            }
            let ca = check_ca(s.ca_certificate.as_deref())?;
            if ca.is_some() && !ssl_mode.starts_with("verify-") {
                return Err(invalid("settings.caCertificate: checked only with sslMode verify-ca or verify-full"));
            }
            ServiceSettings {
                ssl_mode: Some(ssl_mode.to_string()),
                ca_certificate: ca.map(str::to_string),
                host: Some(host(s.host.as_deref())?),
                port: Some(s.port.unwrap_or(5432)),
                database: Some(database.unwrap_or_else(|| "postgres".into())),
                username: Some(username),
                query,
                max_lag_seconds: s.max_lag_seconds,
                slow_ms,
                ..ServiceSettings::default()
            }
        }
    };
    let interval_seconds = request.interval_seconds.or(current.map(|c| c.interval_seconds)).unwrap_or(60);
    if !(5..=86_400).contains(&interval_seconds) {
        return Err(invalid("intervalSeconds: from 5 to 86,400 seconds"));
    }
    let timeout_seconds = request.timeout_seconds.or(current.map(|c| c.timeout_seconds)).unwrap_or_else(|| (interval_seconds - 1).min(10));
    if !(1..=60).contains(&timeout_seconds) || timeout_seconds >= interval_seconds {
        return Err(invalid("timeoutSeconds: from 1 to 60 seconds, and shorter than the interval"));
    }
    let failures_before_alert = request.failures_before_alert.or(current.map(|c| c.failures_before_alert)).unwrap_or(2);
    if !(1..=10).contains(&failures_before_alert) {
        return Err(invalid("failuresBeforeAlert: from 1 to 10"));
    }
    Ok(Checked {
        name,
        settings,
        interval_seconds,
        timeout_seconds,
        failures_before_alert,
        enabled: request.enabled.or(current.map(|c| c.enabled)).unwrap_or(true),
        geographical_region: plain_text("geographicalRegion", request.geographical_region.as_deref(), 50)?,
        availability_zone: plain_text("availabilityZone", request.availability_zone.as_deref(), 50)?,
    })
}

fn check_password(password: Option<&str>) -> Result<Option<&str>, MonitoringError> {
    let password = password.filter(|p| !p.is_empty());
    if password.is_some_and(|p| p.len() > 1000 || p.contains('\0')) {
        return Err(invalid("password: at most 1,000 characters"));
    }
    Ok(password)
}

pub async fn create(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, request: &ServiceRequest) -> Result<MonitoredService, MonitoringError> {
    actor.require(Role::Admin)?;
    let kind = request.kind.ok_or_else(|| invalid("kind: http, tcp or postgres"))?;
    let checked = check_fields(request, kind, None)?;
    let password = check_password(request.password.as_deref())?;
    if password.is_some() && kind != ServiceKind::Postgres {
        return Err(invalid("password: only a PostgreSQL service has one"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = password.map(|p| secrets.seal(&password_context(&id), p));
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitored_services WHERE name = $1").bind(&checked.name).fetch_one(&mut *tx.tx).await?;
    if taken > 0 {
        return Err(MonitoringError::Conflict(format!("a service is already called {:?}", checked.name)));
    }
    // Due at once: its first sample comes with the next round of the probers.
    sqlx::query(&format!("INSERT INTO monitored_services ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL, NULL, 0, $13, $12, $12)"))
        .bind(&id)
        .bind(&checked.name)
        .bind(kind.as_str())
        .bind(serde_json::to_string(&checked.settings).unwrap_or_default())
        .bind(&sealed)
        .bind(checked.interval_seconds)
        .bind(checked.timeout_seconds)
        .bind(checked.failures_before_alert)
        .bind(i64::from(checked.enabled))
        .bind(&checked.geographical_region)
        .bind(&checked.availability_zone)
        .bind(&now)
        .bind(&actor.username)
        .execute(&mut *tx.tx)
        .await?;
    let detail = serde_json::json!({ "name": checked.name, "kind": kind, "settings": checked.settings, "intervalSeconds": checked.interval_seconds });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "monitored_service.create", target_type: "monitored_service", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    find(catalog, &id).await?.into_service()
}

/// Changes a service, probed again from the next round (a shorter interval takes effect at
/// once); a password left out keeps the stored one, unless the host, port or user changed (the
/// stored password is never sent to another server).
pub async fn update(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str, request: &ServiceRequest) -> Result<MonitoredService, MonitoringError> {
    actor.require(Role::Admin)?;
    let row = find(catalog, id).await?;
    let sealed_now = row.sealed_password.clone();
    let current = row.into_service()?;
    if request.kind.is_some_and(|k| k != current.kind) {
        return Err(invalid("kind: a service's kind does not change (delete it and add another)"));
    }
    let checked = check_fields(request, current.kind, Some(&current))?;
    let password = check_password(request.password.as_deref())?;
    if password.is_some() && current.kind != ServiceKind::Postgres {
        return Err(invalid("password: only a PostgreSQL service has one"));
    }
    let moved = checked.settings.host != current.settings.host || checked.settings.port != current.settings.port || checked.settings.username != current.settings.username;
    let sealed = match password {
        Some(p) => Some(secrets.seal(&password_context(id), p)),
        None if moved && sealed_now.is_some() => return Err(invalid("password: the host, port or user changed; enter the password again")),
        None => sealed_now,
    };
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitored_services WHERE name = $1 AND id <> $2").bind(&checked.name).bind(id).fetch_one(&mut *tx.tx).await?;
    if taken > 0 {
        return Err(MonitoringError::Conflict(format!("a service is already called {:?}", checked.name)));
    }
    sqlx::query(
        "UPDATE monitored_services SET name = $1, settings = $2, sealed_password = $3, interval_seconds = $4, timeout_seconds = $5, failures_before_alert = $6, enabled = $7,
             geographical_region = $8, availability_zone = $9, updated_at = $10, next_probe_at = $10 WHERE id = $11",
    )
    .bind(&checked.name)
    .bind(serde_json::to_string(&checked.settings).unwrap_or_default())
    .bind(&sealed)
    .bind(checked.interval_seconds)
    .bind(checked.timeout_seconds)
    .bind(checked.failures_before_alert)
    .bind(i64::from(checked.enabled))
    .bind(&checked.geographical_region)
    .bind(&checked.availability_zone)
    .bind(time::now_text())
    .bind(id)
    .execute(&mut *tx.tx)
    .await?;
    let detail = serde_json::json!({ "name": checked.name, "settings": checked.settings, "intervalSeconds": checked.interval_seconds, "enabled": checked.enabled, "passwordChanged": password.is_some() });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "monitored_service.update", target_type: "monitored_service", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    if !checked.enabled {
        super::verdicts::resolve_all(catalog, id, "the service is no longer monitored").await?;
    }
    find(catalog, id).await?.into_service()
}

/// Deletes a service; its samples stay (they age out), its open alerts resolve.
pub async fn delete(catalog: &Catalog, actor: &Principal, id: &str) -> Result<(), MonitoringError> {
    actor.require(Role::Admin)?;
    let current = find(catalog, id).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("DELETE FROM monitored_services WHERE id = $1").bind(id).execute(&mut *tx.tx).await?;
    let detail = serde_json::json!({ "name": current.name });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "monitored_service.delete", target_type: "monitored_service", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    super::verdicts::resolve_all(catalog, id, "the service was deleted").await?;
    Ok(())
}
