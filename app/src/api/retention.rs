//! Retention: the cleanup, an execution's planned deletion, legal holds, deleting a backup.

use leptos::prelude::*;

pub use bulwark_types::{CandidateLine, CleanupView, HoldLine, RetentionInfo};
#[cfg(feature = "ssr")]
use bulwark_types::human_bytes;

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "execution_retention")]
pub async fn execution_retention(id: String) -> Result<RetentionInfo, AppError> {
    use bulwark_core::retention::{self, holds};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let tracking = retention::tracking(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let now = bulwark_core::platform::time::now_text();
    let holds = holds::list(&catalog, &p, &id)
        .await
        .map_err(AppError::from_core)?
        .into_iter()
        .map(|h| HoldLine {
            active: h.is_active(&now),
            id: h.id,
            title: h.title,
            reason: h.reason,
            expires_at: h.expires_at,
            created_by: h.created_by,
            created_at: h.created_at,
            released_at: h.released_at,
            released_by: h.released_by,
        })
        .collect();
    Ok(RetentionInfo {
        scheduled_deletion_date: tracking.as_ref().and_then(|t| t.scheduled_deletion_date.clone()),
        deleted_at: tracking.as_ref().and_then(|t| t.deleted_at.clone()),
        size_freed_bytes: tracking.and_then(|t| t.size_freed_bytes).map(|b| b.max(0) as u64),
        holds,
    })
}

#[server(prefix = "/_sfn", endpoint = "add_legal_hold")]
pub async fn add_legal_hold(id: String, title: String, reason: String, expires_at: String) -> Result<String, AppError> {
    use bulwark_core::retention::holds::{self, NewHold};
    let p = crate::ssr::principal().await?;
    let expires_at = Some(expires_at.trim().to_string()).filter(|e| !e.is_empty());
    let hold = holds::add(&crate::ssr::catalog()?, &p, &id, NewHold { title, reason, expires_at }).await.map_err(AppError::from_core)?;
    Ok(format!("Legal hold {:?} placed.", hold.title))
}

#[server(prefix = "/_sfn", endpoint = "release_legal_hold")]
pub async fn release_legal_hold(hold_id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let hold = bulwark_core::retention::holds::release(&crate::ssr::catalog()?, &p, &hold_id).await.map_err(AppError::from_core)?;
    Ok(format!("Legal hold {:?} released.", hold.title))
}

#[server(prefix = "/_sfn", endpoint = "delete_backup")]
pub async fn delete_backup(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::retention::delete_execution(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(format!("Deleted: {} freed on its location.", human_bytes(r.bytes_freed)))
}

#[server(prefix = "/_sfn", endpoint = "retention_cleanup")]
pub async fn retention_cleanup(dry_run: bool) -> Result<CleanupView, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::retention::cleanup(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, dry_run).await.map_err(AppError::from_core)?;
    let line = |c: bulwark_core::retention::Candidate| CandidateLine {
        execution_id: c.execution_id,
        configuration_name: c.configuration_name,
        completed_at: c.completed_at,
        size_bytes: c.size_bytes.map(|b| b.max(0) as u64),
        reason: c.reason,
    };
    Ok(CleanupView {
        dry_run: r.dry_run,
        deleted: r.deleted.into_iter().map(line).collect(),
        held: r.held.into_iter().map(line).collect(),
        bytes_freed: r.bytes_freed,
        bytes_locked: r.bytes_locked,
    })
}
