//! Monitoring alerts: the list, acknowledge and resolve, one alert's history, silences, and the
//! count behind the critical banner every page shows.

use leptos::prelude::*;

pub use bulwark_types::{Alert, AlertHistory, AlertStatus, AlertType, DeliveryStatus, EscalationSchedule, Severity, Silence};

use crate::error::AppError;

/// Alerts by status (`active`, `resolved`, or all when empty), severity and type (all when
/// empty), the most recently seen first.
#[server(prefix = "/_sfn", endpoint = "list_alerts")]
pub async fn list_alerts(status: String, severity: String, alert_type: String, configuration_id: String) -> Result<Vec<Alert>, AppError> {
    use bulwark_core::alerts::{self, Filter};
    let p = crate::ssr::principal().await?;
    let given = |v: String| Some(v).filter(|v| !v.is_empty());
    let filter = Filter { status: given(status), severity: given(severity), alert_type: given(alert_type), configuration_id: given(configuration_id), ..Default::default() };
    alerts::list(&crate::ssr::catalog()?, &p, &filter).await.map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "acknowledge_alert")]
pub async fn acknowledge_alert(id: String) -> Result<Alert, AppError> {
    use bulwark_core::alerts::{self, AcknowledgeRequest};
    let p = crate::ssr::principal().await?;
    alerts::acknowledge(&crate::ssr::catalog()?, &p, &id, &AcknowledgeRequest::default()).await.map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "resolve_alert")]
pub async fn resolve_alert(id: String, notes: String) -> Result<Alert, AppError> {
    use bulwark_core::alerts::{self, ResolveRequest};
    let p = crate::ssr::principal().await?;
    alerts::close(&crate::ssr::catalog()?, &p, &id, &ResolveRequest { resolution_notes: notes }).await.map_err(AppError::from_core)
}

/// Critical alerts open and not acknowledged.
#[server(prefix = "/_sfn", endpoint = "critical_alerts")]
pub async fn critical_alerts() -> Result<i64, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::alerts::critical_unacknowledged(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

/// One alert and its history (steps and notifications).
#[server(prefix = "/_sfn", endpoint = "alert_history")]
pub async fn alert_with_history(id: String) -> Result<(Alert, AlertHistory), AppError> {
    use bulwark_core::alerts;
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let alert = alerts::get(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let history = alerts::history::of(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    Ok((alert, history))
}

/// Silences alerts like this one (its type and subject) for `minutes`.
#[server(prefix = "/_sfn", endpoint = "silence_alert")]
pub async fn silence_alert(id: String, minutes: i64, reason: String) -> Result<(), AppError> {
    use bulwark_core::alerts::{self, silences};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let alert = alerts::get(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let request = silences::SilenceRequest { backup_configuration_id: None, alert_type: Some(alert.alert_type), subject: Some(alert.subject), reason, duration_minutes: minutes };
    silences::create(&catalog, &p, &request).await.map_err(AppError::from_core)?;
    Ok(())
}

#[server(prefix = "/_sfn", endpoint = "list_silences")]
pub async fn list_silences() -> Result<Vec<Silence>, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::alerts::silences::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "lift_silence")]
pub async fn lift_silence(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::alerts::silences::lift(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(())
}

/// Every severity's escalation schedule.
#[server(prefix = "/_sfn", endpoint = "escalation_schedules")]
pub async fn escalation_schedules() -> Result<Vec<EscalationSchedule>, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::alerts::escalation::schedules(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

/// Sets a severity's schedule from the minutes after which levels 2, 3 … are told
/// (comma-separated; empty: level 1 only).
#[server(prefix = "/_sfn", endpoint = "set_escalation")]
pub async fn set_escalation(severity: String, minutes: String) -> Result<String, AppError> {
    use bulwark_types::EscalationStep;
    let p = crate::ssr::principal().await?;
    let severity = Severity::parse(&severity).ok_or_else(|| AppError::Invalid(format!("severity: critical, high, medium or low, not {severity:?}")))?;
    let mut steps = vec![EscalationStep { level: 1, after_minutes: 0 }];
    for (i, m) in minutes.split(',').map(str::trim).filter(|m| !m.is_empty()).enumerate() {
        let after_minutes = m.parse().map_err(|_| AppError::Invalid(format!("minutes: whole numbers such as 15, 60, not {m:?}")))?;
        steps.push(EscalationStep { level: i as i64 + 2, after_minutes });
    }
    bulwark_core::alerts::escalation::set_schedule(&crate::ssr::catalog()?, &p, severity, &steps).await.map_err(AppError::from_core)?;
    Ok(format!("The {severity} schedule is saved."))
}
