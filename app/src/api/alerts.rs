//! Monitoring alerts: the list, acknowledge and resolve, and the count behind the critical
//! banner every page shows.

use leptos::prelude::*;

pub use bulwark_types::{Alert, AlertStatus};

use crate::error::AppError;

/// Alerts by status (`active`, `resolved`, or all when empty), the most recently seen first.
#[server(prefix = "/_sfn", endpoint = "list_alerts")]
pub async fn list_alerts(status: String) -> Result<Vec<Alert>, AppError> {
    use bulwark_core::alerts::{self, Filter};
    let p = crate::ssr::principal().await?;
    let filter = Filter { status: Some(status).filter(|s| !s.is_empty()), ..Default::default() };
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
