//! The audit log and its hash chain.

use leptos::prelude::*;

pub use bulwark_types::AuditRow;

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_audit")]
pub async fn list_audit() -> Result<Vec<AuditRow>, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let rows = bulwark_core::platform::audit::list(&catalog, &p, 200, None).await.map_err(AppError::from_core)?;
    Ok(rows
        .into_iter()
        .map(|r| AuditRow {
            seq: r.seq,
            occurred_at: r.occurred_at,
            actor_name: r.actor_name,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            detail: r.detail,
        })
        .collect())
}

/// Recomputes the whole hash chain and says whether it is intact.
#[server(prefix = "/_sfn", endpoint = "verify_audit")]
pub async fn verify_audit() -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let report = bulwark_core::audit_anchor::verify(&catalog, &crate::ssr::secrets()?, &p).await.map_err(AppError::from_core)?;
    Ok(match report.first_broken_seq {
        None => format!("The chain is intact: {} entries verified, {} of them under the audit key.", report.rows, report.keyed_rows),
        Some(seq) => format!("The chain is broken at entry {seq}: entries from there on were altered."),
    })
}
