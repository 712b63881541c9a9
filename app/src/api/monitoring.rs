//! Monitored services: the list with each one's latest state, a service added (admins), probed
//! now (operators), enabled or disabled, deleted; and the last hour of every sampled service
//! (probed services, nodes, locations, outside agents).

use leptos::prelude::*;

pub use bulwark_types::{HealthStatus, HealthSummary, MonitoredService, ServiceKind};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_services")]
pub async fn list_services() -> Result<Vec<MonitoredService>, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::monitoring::services::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

/// A number typed in a form, or nothing when left empty.
#[cfg(feature = "ssr")]
fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<Option<T>, AppError> {
    match text.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| AppError::Invalid(format!("{field}: a whole number, not {t:?}"))),
    }
}

/// Adds a service of `kind`; the fields another kind uses are left empty.
#[server(prefix = "/_sfn", endpoint = "create_service")]
#[allow(clippy::too_many_arguments)]
pub async fn create_service(
    name: String,
    kind: String,
    url: String,
    body_contains: String,
    host: String,
    port: String,
    database: String,
    username: String,
    password: String,
    query: String,
    ssl_mode: String,
    interval: String,
) -> Result<(), AppError> {
    use bulwark_types::{ServiceRequest, ServiceSettings};
    let p = crate::ssr::principal().await?;
    let kind = ServiceKind::parse(&kind).ok_or_else(|| AppError::Invalid("kind: HTTP, TCP or PostgreSQL".into()))?;
    let text = |t: String| Some(t).filter(|t| !t.trim().is_empty());
    let request = ServiceRequest {
        name,
        kind: Some(kind),
        settings: ServiceSettings {
            url: text(url),
            body_contains: text(body_contains),
            host: text(host),
            port: number("port", &port)?,
            database: text(database),
            username: text(username),
            query: text(query),
            ssl_mode: text(ssl_mode).filter(|_| kind == ServiceKind::Postgres),
            ..Default::default()
        },
        password: Some(password).filter(|p| !p.is_empty()),
        interval_seconds: number("interval", &interval)?,
        ..Default::default()
    };
    bulwark_core::monitoring::services::create(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &request).await.map_err(AppError::from_core)?;
    Ok(())
}

/// Probes a service now; answers what it found.
#[server(prefix = "/_sfn", endpoint = "check_service")]
pub async fn check_service(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let sample = bulwark_core::monitoring::prober::check_now(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &id).await.map_err(AppError::from_core)?;
    let message = sample.custom_metrics["message"].as_str().unwrap_or_default().to_string();
    Ok(format!("{}: {} — {message}", sample.service_name, sample.health_status))
}

/// Enables or disables a service, its other settings unchanged.
#[server(prefix = "/_sfn", endpoint = "set_service_enabled")]
pub async fn set_service_enabled(id: String, enabled: bool) -> Result<(), AppError> {
    use bulwark_core::monitoring::services;
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let s = services::get(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let request = bulwark_types::ServiceRequest {
        name: s.name,
        kind: None,
        settings: s.settings,
        password: None,
        interval_seconds: Some(s.interval_seconds),
        timeout_seconds: Some(s.timeout_seconds),
        failures_before_alert: Some(s.failures_before_alert),
        enabled: Some(enabled),
        geographical_region: s.geographical_region,
        availability_zone: s.availability_zone,
    };
    services::update(&catalog, &crate::ssr::secrets()?, &p, &id, &request).await.map_err(AppError::from_core)?;
    Ok(())
}

/// Silences every alert about a service (maintenance) for `minutes`: still raised and listed,
/// neither told nor escalated; lifted on the Alerts page.
#[server(prefix = "/_sfn", endpoint = "silence_service")]
pub async fn silence_service(id: String, minutes: i64, reason: String) -> Result<String, AppError> {
    use bulwark_core::alerts::silences;
    use bulwark_core::monitoring::{services, verdicts};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let service = services::get(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let request = silences::SilenceRequest { backup_configuration_id: None, alert_type: None, subject: Some(verdicts::subject(&service.id)), reason, duration_minutes: minutes };
    let silence = silences::create(&catalog, &p, &request).await.map_err(AppError::from_core)?;
    Ok(format!("{}'s alerts are silenced until {}.", service.name, silence.ends_at))
}

#[server(prefix = "/_sfn", endpoint = "delete_service")]
pub async fn delete_service(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::monitoring::services::delete(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)
}

/// Every sampled service over the last hour.
#[server(prefix = "/_sfn", endpoint = "services_health")]
pub async fn services_health() -> Result<HealthSummary, AppError> {
    let p = crate::ssr::principal().await?;
    let report = bulwark_core::monitoring::samples::report(&crate::ssr::catalog()?, &p, Some("1h"), &[]).await.map_err(AppError::from_core)?;
    Ok(report.summary)
}
