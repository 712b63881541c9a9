//! The restoration workflow: restoration requests, their approvals, the approval policies and
//! the named restore targets.

use leptos::prelude::*;

pub use bulwark_types::{
    Alternative, ApprovalLine, ApprovalPolicy, ApprovalRule, AvailableBackup, Environment, Restoration, RestorationProgress, RestorationStatus, RestorationType, RestoreTargetLine,
    TargetType,
};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_restore_targets")]
pub async fn list_restore_targets() -> Result<Vec<RestoreTargetLine>, AppError> {
    let p = crate::ssr::principal().await?;
    let list = bulwark_core::restoration::targets::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)?;
    Ok(list
        .into_iter()
        .map(|t| RestoreTargetLine {
            place: t.place(),
            has_secret: t.connection_encrypted.is_some(),
            id: t.id,
            name: t.name,
            environment: t.environment,
            target_type: t.target_type,
            last_test_ok: t.last_test_ok.map(|ok| ok != 0),
            last_test_message: t.last_test_message,
        })
        .collect())
}

/// Adds a target from the form, which sends only the fields of the chosen type.
#[server(prefix = "/_sfn", endpoint = "create_restore_target")]
#[allow(clippy::too_many_arguments)]
pub async fn create_restore_target(
    name: String,
    environment: String,
    target_type: String,
    url: Option<String>,
    path: Option<String>,
    port: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    access_key: Option<String>,
    secret: Option<String>,
) -> Result<String, AppError> {
    use bulwark_core::restoration::targets::{self, NewTarget};
    let p = crate::ssr::principal().await?;
    let environment = Environment::parse(&environment).ok_or_else(|| AppError::Invalid("environment: production, staging, development or disaster_recovery".into()))?;
    let target_type = TargetType::parse(&target_type).ok_or_else(|| AppError::Invalid("targetType: postgresql, directory, s3_bucket or data_directory".into()))?;
    let text = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let port = match text(port) {
        None => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| AppError::Invalid("port: 1024 to 65535".into()))?),
    };
    let new = NewTarget {
        name,
        environment,
        target_type,
        url: text(url),
        path: text(path),
        port,
        endpoint: text(endpoint),
        region: text(region),
        bucket: text(bucket),
        prefix: text(prefix),
        access_key: text(access_key),
        secret: text(secret),
    };
    let t = targets::create(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &*crate::ssr::restore_targets()?, &p, new).await.map_err(AppError::from_core)?;
    Ok(format!("Restore target {:?} added ({} in {}).", t.name, t.target_type, t.environment))
}

/// Really connects; answers what it found as one sentence, or the error.
#[server(prefix = "/_sfn", endpoint = "test_restore_target")]
pub async fn test_restore_target(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::restoration::targets::test(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &*crate::ssr::restore_targets()?, &p, &id)
        .await
        .map_err(AppError::from_core)?;
    if r.ok { Ok(format!("Works: {}", r.message)) } else { Err(AppError::Invalid(format!("Failed: {}", r.message))) }
}

#[server(prefix = "/_sfn", endpoint = "delete_restore_target")]
pub async fn delete_restore_target(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::restoration::targets::delete(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok("Restore target removed.".into())
}

/// Backups a restoration can start from, newest first.
#[server(prefix = "/_sfn", endpoint = "list_available_backups")]
pub async fn list_available_backups() -> Result<Vec<AvailableBackup>, AppError> {
    use bulwark_core::restoration::available;
    let p = crate::ssr::principal().await?;
    available::list(&crate::ssr::catalog()?, &p, &available::Filter::default()).await.map_err(AppError::from_core)
}

/// Requests a restoration from the Restoration page's form; returns its id.
#[server(prefix = "/_sfn", endpoint = "request_restoration")]
#[allow(clippy::too_many_arguments)]
pub async fn request_restoration(
    backup_execution_id: String,
    restoration_type: String,
    target_environment: String,
    target: String,
    inside: String,
    point_in_time_target: String,
    scope: String,
    incident_reference: String,
    notes: String,
    accept_unverified: Option<String>,
    approval_override: Option<String>,
    override_reason: String,
    conflict_resolution: Option<String>,
) -> Result<String, AppError> {
    use bulwark_core::restoration::{ConflictResolution, RestorationRequest, RestorationScope, jobs};
    let p = crate::ssr::principal().await?;
    let restoration_type = RestorationType::parse(&restoration_type).ok_or_else(|| AppError::Invalid("restorationType: full, partial, point_in_time or table_level".into()))?;
    let target_environment = Environment::parse(&target_environment).ok_or_else(|| AppError::Invalid("targetEnvironment: production, staging, development or disaster_recovery".into()))?;
    let text = |v: String| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let chosen: Vec<String> = scope.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
    // The scope field names tables, paths or prefixes, by what the backup holds.
    let available = bulwark_core::restoration::available::list(&crate::ssr::catalog()?, &p, &Default::default()).await.map_err(AppError::from_core)?;
    let kind = available.iter().find(|b| b.execution_id == backup_execution_id).map(|b| b.source_type);
    let restoration_scope = match kind {
        Some(k) if k == bulwark_types::SourceKind::Postgresql => RestorationScope { tables: chosen, ..Default::default() },
        Some(k) if k.is_bucket() => RestorationScope { prefixes: chosen, ..Default::default() },
        _ => RestorationScope { paths: chosen, ..Default::default() },
    };
    let target_identifier = match text(inside) {
        Some(inside) => format!("{}/{inside}", target.trim()),
        None => target.trim().to_string(),
    };
    let request = RestorationRequest {
        backup_execution_id,
        restoration_type,
        target_environment,
        target_identifier,
        point_in_time_target: text(point_in_time_target),
        restoration_scope: Some(restoration_scope),
        incident_reference: text(incident_reference),
        approval_override: Some(approval_override.is_some()),
        override_reason: text(override_reason),
        accept_unverified: Some(accept_unverified.is_some()),
        notes: text(notes),
        conflict_resolution: conflict_resolution.as_deref().map(|c| ConflictResolution::parse(c).ok_or_else(|| AppError::Invalid("conflictResolution: overwrite".into()))).transpose()?,
    };
    let r = jobs::request(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &*crate::ssr::restore_targets()?, &p, request).await.map_err(AppError::from_core)?;
    Ok(r.restoration_id)
}

/// Restorations waiting, queued or running.
#[server(prefix = "/_sfn", endpoint = "active_restorations")]
pub async fn active_restorations() -> Result<Vec<Restoration>, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::restoration::jobs::active(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

/// The latest restorations.
#[server(prefix = "/_sfn", endpoint = "restoration_history")]
pub async fn restoration_history() -> Result<Vec<Restoration>, AppError> {
    use bulwark_core::restoration::jobs::{self, HistoryFilter};
    let p = crate::ssr::principal().await?;
    jobs::list(&crate::ssr::catalog()?, &p, &HistoryFilter { limit: Some(50), ..Default::default() }).await.map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "get_restoration")]
pub async fn get_restoration(id: String) -> Result<Restoration, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::restoration::jobs::get(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)
}

/// Approves a restoration someone else requested; `totp_code` where the policy asks for one.
#[server(prefix = "/_sfn", endpoint = "approve_restoration")]
pub async fn approve_restoration(id: String, totp_code: String, comment: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    fn text(v: &str) -> Option<&str> {
        Some(v.trim()).filter(|v| !v.is_empty())
    }
    let r = bulwark_core::restoration::approvals::approve(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &id, text(&totp_code), text(&comment))
        .await
        .map_err(AppError::from_core)?;
    Ok(match r.status {
        RestorationStatus::Initiated => "Approved: the restore is queued and starts on the next free worker.".to_string(),
        _ => format!("Approved: {} of {} approvals given.", r.approvals.iter().filter(|a| a.decision == "approved").count(), r.approvals_needed),
    })
}

#[server(prefix = "/_sfn", endpoint = "reject_restoration")]
pub async fn reject_restoration(id: String, reason: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::restoration::approvals::reject(&crate::ssr::catalog()?, &p, &id, &reason).await.map_err(AppError::from_core)?;
    Ok("Rejected: the restore will not run.".into())
}

/// Asks to put a completed restoration's target back as it was; returns the rollback's id (a
/// restoration of its own, approved like any restore into that environment).
#[server(prefix = "/_sfn", endpoint = "roll_back_restoration")]
pub async fn roll_back_restoration(id: String, reason: String, incident_reference: String) -> Result<String, AppError> {
    use bulwark_core::restoration::{RollbackRequest, safety};
    let p = crate::ssr::principal().await?;
    let text = |v: String| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let body = RollbackRequest { reason: text(reason), incident_reference: text(incident_reference), ..Default::default() };
    let r = safety::request(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &*crate::ssr::restore_targets()?, &p, &id, body).await.map_err(AppError::from_core)?;
    Ok(r.restoration_id)
}

#[server(prefix = "/_sfn", endpoint = "cancel_restoration")]
pub async fn cancel_restoration(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::restoration::jobs::cancel(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(match r.status {
        RestorationStatus::Running => "Stopping: the restore stops at its next file and what it wrote is put back as it was.".into(),
        _ => "Cancelled: the restore will not run.".into(),
    })
}

/// How many restorations and recovery run requests wait for the signed-in user's decision
/// (the navigation's badge).
#[server(prefix = "/_sfn", endpoint = "pending_approvals")]
pub async fn pending_approvals() -> Result<i64, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let restorations = bulwark_core::restoration::approvals::pending_for(&catalog, &p).await.map_err(AppError::from_core)?;
    let runs = bulwark_core::recovery::requests::pending_for(&catalog, &p).await.map_err(AppError::from_core)?;
    Ok(restorations + runs)
}

#[server(prefix = "/_sfn", endpoint = "list_approval_policies")]
pub async fn list_approval_policies() -> Result<Vec<ApprovalPolicy>, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::restoration::policy::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)
}

/// Replaces an environment's approval policy from the policies table's row form.
#[server(prefix = "/_sfn", endpoint = "set_approval_policy")]
#[allow(clippy::too_many_arguments)]
pub async fn set_approval_policy(
    environment: String,
    require_approval: String,
    approvers_required: String,
    require_totp: Option<String>,
    validity_hours: String,
    break_glass_allowed: Option<String>,
    rollback_hours: String,
) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let number = |field: &str, v: &str| v.trim().parse::<i64>().map_err(|_| AppError::Invalid(format!("{field}: a whole number")));
    let policy = ApprovalPolicy {
        environment: Environment::parse(&environment).ok_or_else(|| AppError::Invalid("environment: production, staging, development or disaster_recovery".into()))?,
        require_approval: ApprovalRule::parse(&require_approval).ok_or_else(|| AppError::Invalid("requireApproval: always, full_only or never".into()))?,
        approvers_required: number("approversRequired", &approvers_required)?,
        require_totp: require_totp.is_some(),
        validity_hours: number("validityHours", &validity_hours)?,
        break_glass_allowed: break_glass_allowed.is_some(),
        rollback_hours: number("rollbackHours", &rollback_hours)?,
    };
    let saved = bulwark_core::restoration::policy::set(&crate::ssr::catalog()?, &p, policy).await.map_err(AppError::from_core)?;
    Ok(format!("The {} policy is saved.", saved.environment))
}
