//! One backup execution: reading it (and its changes pushed live), verifying, cancelling, and comparing a configuration-file backup with the files now.

use leptos::prelude::*;

pub use bulwark_types::{ExecutionStatus, ExecutionView, FileDiffRow, GroupMember, GroupPoint, MemberPosition, SourceKind};
#[cfg(feature = "ssr")]
use bulwark_types::human_bytes;

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "get_execution")]
pub async fn get_execution(id: String) -> Result<ExecutionView, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let execution = bulwark_core::executions::get(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let mut view = ExecutionView::of(&execution);
    view.configuration_name = bulwark_core::configurations::get(&catalog, &p, &execution.configuration_id).await.ok().map(|c| c.name);
    Ok(view)
}

/// Reads the backup back whole; returns a sentence for the page.
#[server(prefix = "/_sfn", endpoint = "verify_execution")]
pub async fn verify_execution(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::verify::verify_execution(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(if r.problems.is_empty() {
        format!("Verified: {} read back in {} ms, every file and checksum intact.", human_bytes(r.bytes), r.duration_ms)
    } else {
        format!("Verification failed: {}", r.problems.join("; "))
    })
}

/// Cancels a queued or running execution; returns a sentence for the page.
#[server(prefix = "/_sfn", endpoint = "cancel_execution")]
pub async fn cancel_execution(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let e = bulwark_core::executions::cancel(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(if e.status == ExecutionStatus::Cancelled { "Cancelled before it started.".into() } else { "Cancelling: the backup stops within a few seconds and writes no snapshot.".into() })
}

/// A configuration-file execution against the files now (key names only, never values).
#[server(prefix = "/_sfn", endpoint = "diff_configuration_files")]
pub async fn diff_configuration_files(id: String) -> Result<Vec<FileDiffRow>, AppError> {
    let p = crate::ssr::principal().await?;
    let diff = bulwark_core::config_files::diff(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(diff
        .files
        .into_iter()
        .map(|f| {
            let keys = f.keys.unwrap_or_default();
            FileDiffRow { path: f.path, status: f.status.to_string(), added: keys.added, removed: keys.removed, changed: keys.changed }
        })
        .collect())
}
