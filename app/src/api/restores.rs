//! Restoring an execution from its page, by the kind of what it holds. Each form requests a
//! restoration job (the same rules as every restore: approvals, verification, audit) and waits
//! for it; a restore that needs approval answers with a sentence saying so.

use leptos::prelude::*;

pub use bulwark_types::DirectoryRestored;
#[cfg(feature = "ssr")]
use bulwark_types::human_bytes;

use crate::error::AppError;

/// Requests restoration of execution `id` with its kind's request and waits: the report once
/// restored, or a sentence when it waits for approval (or for a node with workers).
#[cfg(feature = "ssr")]
pub(crate) async fn through_door(p: &bulwark_core::platform::auth::Principal, id: &str, request: serde_json::Value) -> Result<Result<serde_json::Value, String>, AppError> {
    use bulwark_core::restoration::jobs::{self, DoorOutcome};
    use bulwark_core::restoration::RestorationStatus;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    match jobs::through_door(&catalog, &secrets, &*crate::ssr::restore_targets()?, p, id, request).await.map_err(AppError::from_core)? {
        DoorOutcome::Restored(report) => Ok(Ok(report)),
        DoorOutcome::Waiting(r) if r.status == RestorationStatus::ApprovalRequired => Ok(Err(format!(
            "Restoration {} into {} ({}) waits for approval: an approver other than you approves it on the Approvals page",
            r.id, r.target_identifier, r.target_environment
        ))),
        DoorOutcome::Waiting(r) => Ok(Err(format!("Restoration {} is queued: no node with workers has taken it yet", r.id))),
    }
}

/// The strings of a report's list field.
#[cfg(feature = "ssr")]
fn strings(report: &serde_json::Value, field: &str) -> Vec<String> {
    report[field].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// Restores a PostgreSQL execution; returns a sentence for the page.
#[server(prefix = "/_sfn", endpoint = "restore_execution")]
pub async fn restore_execution(id: String, target_url: String, target_password: String, tables: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let tables: Vec<&str> = tables.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    let password = Some(target_password).filter(|s| !s.is_empty());
    let request = serde_json::json!({ "targetUrl": target_url, "targetPassword": password, "tables": tables });
    let r = match through_door(&p, &id, request).await? {
        Ok(report) => report,
        Err(waiting) => return Ok(waiting),
    };
    let selection = strings(&r, "selection");
    let what = if selection.is_empty() { "the whole database".to_string() } else { selection.join(", ") };
    Ok(format!(
        "Restored {what} into {} ({}) in {:.2} s",
        r["target"].as_str().unwrap_or_default(),
        human_bytes(r["bytes"].as_u64().unwrap_or_default()),
        r["durationSeconds"].as_f64().unwrap_or_default()
    ))
}

/// Restores a directory execution. `skip_unreadable` (a checkbox) restores every file that can
/// be read and names the others instead of stopping at the first damaged one.
#[server(prefix = "/_sfn", endpoint = "restore_directory")]
pub async fn restore_directory(id: String, target_path: String, include: String, skip_unreadable: Option<String>) -> Result<DirectoryRestored, AppError> {
    let p = crate::ssr::principal().await?;
    let include: Vec<&str> = include.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    let request = serde_json::json!({ "targetPath": target_path, "include": include, "skipUnreadable": skip_unreadable.is_some() });
    let r = match through_door(&p, &id, request).await? {
        Ok(report) => report,
        Err(waiting) => return Ok(DirectoryRestored { sentence: waiting, unreadable: Vec::new() }),
    };
    let sentence = format!(
        "Restored {} files ({}) into {} in {:.2} s; {} already identical",
        r["files"].as_u64().unwrap_or_default(),
        human_bytes(r["bytes"].as_u64().unwrap_or_default()),
        r["target"].as_str().unwrap_or_default(),
        r["durationSeconds"].as_f64().unwrap_or_default(),
        r["unchanged"].as_u64().unwrap_or_default()
    );
    Ok(DirectoryRestored { sentence, unreadable: strings(&r, "unreadable") })
}

/// Restores every member of a consistency group's point; returns a sentence for the page.
#[server(prefix = "/_sfn", endpoint = "restore_group_point")]
pub async fn restore_group_point(id: String, targets: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let request: serde_json::Value = serde_json::from_str(&targets).map_err(|e| AppError::Invalid(format!("targets: {e}")))?;
    let r = match through_door(&p, &id, request).await? {
        Ok(report) => report,
        Err(waiting) => return Ok(waiting),
    };
    let names: Vec<&str> = r["members"].as_array().into_iter().flatten().filter_map(|m| m["name"].as_str()).collect();
    Ok(format!("Restored {} to the point of {} in {:.2} s", names.join(", "), r["point"].as_str().unwrap_or_default(), r["durationSeconds"].as_f64().unwrap_or_default()))
}

/// Restores a bucket execution; returns a sentence for the page.
#[server(prefix = "/_sfn", endpoint = "restore_bucket")]
pub async fn restore_bucket(id: String, target_bucket: String, target_prefix: String, include: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let given = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let include: Vec<&str> = include.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    let request = serde_json::json!({ "targetBucket": given(target_bucket), "targetPrefix": given(target_prefix), "include": include });
    let r = match through_door(&p, &id, request).await? {
        Ok(report) => report,
        Err(waiting) => return Ok(waiting),
    };
    Ok(format!(
        "Restored {} objects ({}) into {} in {:.2} s",
        r["files"].as_u64().unwrap_or_default(),
        human_bytes(r["bytes"].as_u64().unwrap_or_default()),
        r["target"].as_str().unwrap_or_default(),
        r["durationSeconds"].as_f64().unwrap_or_default()
    ))
}
