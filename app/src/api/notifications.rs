//! Notification channels (admins): the list, a webhook or an e-mail channel added, a test sent,
//! enabled or disabled, deleted; and the delivery log.

use leptos::prelude::*;

pub use bulwark_types::{Channel, ChannelKind, Delivery, DeliveryStatus};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_channels")]
pub async fn list_channels() -> Result<Vec<Channel>, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::notifications::channels::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

/// The routing the form's fields name: which severities (all, high and up, critical), which
/// escalation levels (a comma list, empty for all), and approval requests.
#[cfg(feature = "ssr")]
fn routing(severities: &str, levels: &str, approvals: bool) -> Result<bulwark_types::Routing, AppError> {
    use bulwark_types::Severity;
    let severities = match severities {
        "critical" => vec![Severity::Critical],
        "high" => vec![Severity::Critical, Severity::High],
        _ => Vec::new(),
    };
    let mut escalation_levels = Vec::new();
    for level in levels.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        escalation_levels.push(level.parse().map_err(|_| AppError::Invalid(format!("escalation levels: numbers such as 1 or 2,3, not {level:?}")))?);
    }
    Ok(bulwark_types::Routing { severities, alert_types: Vec::new(), escalation_levels, approval_requests: approvals })
}

/// Adds a webhook channel; answers its signing secret (shown once).
#[server(prefix = "/_sfn", endpoint = "create_webhook_channel")]
pub async fn create_webhook_channel(name: String, url: String, severities: String, levels: String, approvals: Option<String>) -> Result<String, AppError> {
    use bulwark_types::{ChannelRequest, ChannelSettings};
    let p = crate::ssr::principal().await?;
    let request = ChannelRequest {
        name,
        kind: Some(ChannelKind::Webhook),
        settings: ChannelSettings { url: Some(url), ..Default::default() },
        routing: routing(&severities, &levels, approvals.is_some())?,
        ..Default::default()
    };
    let created = bulwark_core::notifications::channels::create(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &request).await.map_err(AppError::from_core)?;
    Ok(created.signing_secret.unwrap_or_default())
}

/// Adds an e-mail channel once its SMTP server answers.
#[server(prefix = "/_sfn", endpoint = "create_email_channel")]
#[allow(clippy::too_many_arguments)]
pub async fn create_email_channel(
    name: String,
    host: String,
    port: String,
    security: String,
    username: String,
    password: String,
    from: String,
    to: String,
    severities: String,
    levels: String,
    approvals: Option<String>,
) -> Result<String, AppError> {
    use bulwark_types::{ChannelRequest, ChannelSettings, SmtpSecurity};
    let p = crate::ssr::principal().await?;
    let port = match port.trim() {
        "" => None,
        text => Some(text.parse::<u16>().map_err(|_| AppError::Invalid(format!("port: from 1 to 65535, not {text:?}")))?),
    };
    let security = SmtpSecurity::parse(&security).ok_or_else(|| AppError::Invalid("security: starttls, tls or none".into()))?;
    let request = ChannelRequest {
        name,
        kind: Some(ChannelKind::Email),
        settings: ChannelSettings {
            smtp_host: Some(host),
            smtp_port: port,
            smtp_security: Some(security),
            smtp_username: Some(username).filter(|u| !u.trim().is_empty()),
            from: Some(from),
            to: to.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect(),
            ..Default::default()
        },
        smtp_password: Some(password).filter(|p| !p.is_empty()),
        routing: routing(&severities, &levels, approvals.is_some())?,
        ..Default::default()
    };
    let created = bulwark_core::notifications::channels::create(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &request).await.map_err(AppError::from_core)?;
    Ok(created.channel.id)
}

/// Sends a test through a channel; answers what came of it.
#[server(prefix = "/_sfn", endpoint = "test_channel")]
pub async fn test_channel(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let d = bulwark_core::notifications::deliver::send_test(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(match d.status {
        DeliveryStatus::Delivered => format!("The test reached {}.", d.channel_name),
        _ => format!("The test did not reach {}: {}", d.channel_name, d.last_error.unwrap_or_default()),
    })
}

/// Enables (clearing its failures) or disables a channel, its other settings unchanged.
#[server(prefix = "/_sfn", endpoint = "set_channel_enabled")]
pub async fn set_channel_enabled(id: String, enabled: bool) -> Result<(), AppError> {
    use bulwark_core::notifications::channels;
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let c = channels::get(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let request = bulwark_types::ChannelRequest {
        name: c.name,
        kind: Some(c.kind),
        settings: c.settings,
        smtp_password: None,
        routing: c.routing,
        max_attempts: Some(c.max_attempts),
        retry_base_seconds: Some(c.retry_base_seconds),
        enabled: Some(enabled),
    };
    channels::update(&catalog, &crate::ssr::secrets()?, &p, &id, &request).await.map_err(AppError::from_core)?;
    Ok(())
}

#[server(prefix = "/_sfn", endpoint = "delete_channel")]
pub async fn delete_channel(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::notifications::channels::delete(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)
}

/// The latest deliveries, each with its attempts.
#[server(prefix = "/_sfn", endpoint = "list_deliveries")]
pub async fn list_deliveries() -> Result<Vec<Delivery>, AppError> {
    let p = crate::ssr::principal().await?;
    let filter = bulwark_core::notifications::deliver::Filter { limit: Some(50), ..Default::default() };
    bulwark_core::notifications::deliver::log(&crate::ssr::catalog()?, &p, &filter).await.map_err(AppError::from_core)
}
