//! What a probe's reading means for a service's alerts: service_unhealthy once it has failed
//! its `failuresBeforeAlert` probes in a row, service_degraded while it is degraded,
//! wal_archive_stalled while a primary fails to archive; each resolved by the first reading
//! without its condition. Alerts are raised only when not open already, so a service failing
//! every ten seconds is one alert, not one occurrence per probe.

use super::probes::Reading;
use super::{HealthStatus, MonitoredService, MonitoringError, ServiceKind};
use crate::alerts::{self, AlertType, Condition, Severity};
use crate::platform::catalog::Catalog;

/// The subject of a monitored service's alerts.
pub fn subject(service_id: &str) -> String {
    format!("monitored_service:{service_id}")
}

/// Raises and resolves `service`'s alerts for `reading`; returns the alert types the reading
/// triggers (recorded on its sample).
pub async fn judge(catalog: &Catalog, service: &MonitoredService, reading: &Reading) -> Result<Vec<String>, MonitoringError> {
    let subject = subject(&service.id);
    let mut triggered = Vec::new();
    let unhealthy = reading.status == HealthStatus::Unhealthy;
    let failures = if unhealthy { service.consecutive_failures + 1 } else { 0 };
    let name = &service.name;
    // One read: most probes change nothing.
    let open: Vec<String> = sqlx::query_scalar("SELECT alert_type FROM backup_monitoring_alerts WHERE dedup_hash IN ($1, $2, $3) AND status <> 'resolved'")
        .bind(alerts::dedup_hash(AlertType::ServiceUnhealthy, &subject))
        .bind(alerts::dedup_hash(AlertType::ServiceDegraded, &subject))
        .bind(alerts::dedup_hash(AlertType::WalArchiveStalled, &subject))
        .fetch_all(catalog.pool())
        .await?;
    let is_open = |t: AlertType| open.iter().any(|o| o == t.as_str());
    let conditions = [
        (AlertType::ServiceUnhealthy, Severity::High, unhealthy && failures >= service.failures_before_alert, format!("{name} failed {} in a row: {}", if failures == 1 { "1 probe".to_string() } else { format!("{failures} probes") }, reading.message)),
        (AlertType::ServiceDegraded, Severity::Medium, reading.status == HealthStatus::Degraded, format!("{name} is degraded: {}", reading.message)),
        (AlertType::WalArchiveStalled, Severity::High, reading.archive_failing.is_some(), format!("{name}: {}", reading.archive_failing.as_deref().unwrap_or_default())),
    ];
    for (alert_type, severity, holds, message) in conditions {
        if holds {
            triggered.push(alert_type.as_str().to_string());
            if !is_open(alert_type) {
                alerts::raise_condition(catalog, &Condition { alert_type, severity, subject: &subject, message: &message, configuration_id: None, execution_id: None }).await?;
            }
            continue;
        }
        // Only a reading that could tell resolves: an unreachable primary says nothing of its
        // archiving, and an unhealthy probe not yet counted enough says nothing of recovery.
        let tells = match alert_type {
            AlertType::ServiceUnhealthy => !unhealthy,
            AlertType::WalArchiveStalled => service.kind == ServiceKind::Postgres && !unhealthy,
            _ => true,
        };
        if tells && is_open(alert_type) {
            alerts::resolve(catalog, alert_type, &subject, &format!("{name}: {}", reading.message)).await?;
        }
    }
    Ok(triggered)
}

/// Resolves every alert of a service no longer watched.
pub async fn resolve_all(catalog: &Catalog, service_id: &str, reason: &str) -> Result<(), MonitoringError> {
    let subject = subject(service_id);
    for alert_type in [AlertType::ServiceUnhealthy, AlertType::ServiceDegraded, AlertType::WalArchiveStalled] {
        alerts::resolve(catalog, alert_type, &subject, reason).await?;
    }
    Ok(())
}
