//! Copies of a location's repository to others: runs and standing rules.

use leptos::prelude::*;

pub use bulwark_types::{ReplicationLine, ReplicationRuleLine};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_replications")]
pub async fn list_replications(id: String) -> Result<Vec<ReplicationLine>, AppError> {
    let p = crate::ssr::principal().await?;
    let runs = bulwark_core::replicate::list(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(runs
        .into_iter()
        .map(|r| ReplicationLine {
            id: r.id,
            source_location_id: r.source_location_id,
            target_location_id: r.target_location_id,
            status: r.status,
            objects_copied: r.objects_copied,
            bytes_copied: r.bytes_copied.max(0) as u64,
            objects_skipped: r.objects_skipped,
            snapshots_verified: r.snapshots_verified,
            objects_deleted: r.objects_deleted,
            bytes_deleted: r.bytes_deleted.max(0) as u64,
            objects_locked: r.objects_locked,
            error: r.error,
            created_at: r.created_at,
        })
        .collect())
}

#[server(prefix = "/_sfn", endpoint = "replicate_location")]
pub async fn replicate_location(id: String, target_location_id: String) -> Result<String, AppError> {
    use bulwark_core::replicate::{self, NewReplication};
    let p = crate::ssr::principal().await?;
    replicate::schedule(&crate::ssr::catalog()?, &p, &id, NewReplication { target_location_id }).await.map_err(AppError::from_core)?;
    Ok("Copy queued: only what the target lacks is copied, then checked and read back.".into())
}

#[server(prefix = "/_sfn", endpoint = "list_replication_rules")]
pub async fn list_replication_rules(id: String) -> Result<Vec<ReplicationRuleLine>, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let rules = bulwark_core::replicate::links(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let names: std::collections::HashMap<String, String> =
        bulwark_core::locations::list(&catalog, &p).await.map_err(AppError::from_core)?.into_iter().map(|l| (l.id, l.location_name)).collect();
    Ok(rules
        .into_iter()
        .map(|r| ReplicationRuleLine {
            target_name: names.get(&r.target_location_id).cloned().unwrap_or_else(|| r.target_location_id.clone()),
            id: r.id,
            target_location_id: r.target_location_id,
            created_by: r.created_by,
            created_at: r.created_at,
        })
        .collect())
}

#[server(prefix = "/_sfn", endpoint = "add_replication_rule")]
pub async fn add_replication_rule(id: String, target_location_id: String) -> Result<String, AppError> {
    use bulwark_core::replicate::{self, NewReplication};
    let p = crate::ssr::principal().await?;
    replicate::link(&crate::ssr::catalog()?, &p, &id, NewReplication { target_location_id }).await.map_err(AppError::from_core)?;
    Ok("Copy rule added: a copy is queued after every backup (one waiting at a time), and one now to catch up.".into())
}

#[server(prefix = "/_sfn", endpoint = "remove_replication_rule")]
pub async fn remove_replication_rule(rule_id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::replicate::unlink(&crate::ssr::catalog()?, &p, &rule_id).await.map_err(AppError::from_core)?;
    Ok("Copy rule removed; the replica keeps what it holds.".into())
}
