//! The disaster-recovery seeds' backup doors (`/api/disaster-recovery/backups…`): the backups a
//! recovery can start from, a backup of a data source started now, a backup verified. Each is
//! the backup side's own operation (`restoration::available`, `executions`, `verify`), reached
//! by the seeds' names: a data source is a configuration, by id or name.

use bulwark_types::{AvailableBackup, Execution, Role};
use serde::{Deserialize, Serialize};

use super::RecoveryError;
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::restoration::available;
use crate::{executions, verify};

/// The seeds' filters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", default)]
#[into_params(parameter_in = Query)]
pub struct InventoryFilter {
    /// A configuration's backup type (`full`, `incremental`, …).
    pub backup_type: Option<String>,
    /// A configuration, by id or name.
    pub data_source: Option<String>,
    /// At most this many (50 by default).
    pub limit: Option<i64>,
}

/// What the backups listed add up to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventorySummary {
    pub count: usize,
    pub total_bytes: i64,
    pub verified: usize,
    pub pending: usize,
    pub point_in_time_capable: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    pub success: bool,
    pub backups: Vec<AvailableBackup>,
    pub summary: InventorySummary,
}

/// The backups a recovery can start from, newest first.
pub async fn inventory(catalog: &Catalog, actor: &Principal, filter: &InventoryFilter) -> Result<Inventory, RecoveryError> {
    actor.require(Role::Viewer)?;
    let configuration_id = match filter.data_source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(source) => Some(configuration(catalog, source).await?),
        None => None,
    };
    let listed = available::list(
        catalog,
        actor,
        &available::Filter { backup_type: filter.backup_type.clone(), configuration_id, limit: Some(filter.limit.unwrap_or(50).clamp(1, 1000)), ..available::Filter::default() },
    )
    .await?;
    let summary = InventorySummary {
        count: listed.len(),
        total_bytes: listed.iter().map(|b| b.backup_size).sum(),
        verified: listed.iter().filter(|b| b.verification_status == "verified").count(),
        pending: listed.iter().filter(|b| b.verification_status == "pending").count(),
        point_in_time_capable: listed.iter().filter(|b| b.point_in_time_capable).count(),
    };
    Ok(Inventory { success: true, backups: listed, summary })
}

/// The seeds' `POST …/backups/create`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateBackup {
    /// A configuration, by id or name.
    pub data_source: String,
    /// When given, it must be the configuration's own.
    #[serde(default)]
    pub backup_type: Option<String>,
    /// Kept with the backup as a tag; the configuration's retention policy decides when it
    /// goes (a legal hold keeps one longer).
    #[serde(default)]
    pub retention_days: Option<i64>,
}

/// Starts a backup of a data source now.
pub async fn create(catalog: &Catalog, actor: &Principal, request: &CreateBackup) -> Result<Execution, RecoveryError> {
    actor.require(Role::Operator)?;
    let id = configuration(catalog, request.data_source.trim()).await?;
    let own: String = sqlx::query_scalar("SELECT backup_type FROM backup_configurations WHERE id = $1").bind(&id).fetch_one(catalog.pool()).await?;
    if let Some(asked) = request.backup_type.as_deref().filter(|t| *t != own) {
        return Err(RecoveryError::Invalid(format!("backupType: {:?} backs up as {own}, not {asked}", request.data_source)));
    }
    if request.retention_days.is_some_and(|d| !(1..=36_500).contains(&d)) {
        return Err(RecoveryError::Invalid("retentionDays: 1 to 36,500".into()));
    }
    let annotations = executions::Annotations {
        notes: Some("started through /api/disaster-recovery/backups/create".into()),
        tags: request.retention_days.map(|d| serde_json::json!({ "retentionDays": d.to_string() })),
    };
    Ok(executions::start_annotated(catalog, actor, &id, "manual", &annotations).await?)
}

/// Queues a verification of a backup: every byte read back as a restore would.
pub async fn verify(catalog: &Catalog, actor: &Principal, execution_id: &str) -> Result<verify::Queued, RecoveryError> {
    Ok(verify::queue(catalog, actor, execution_id).await?)
}

/// A configuration's id, from its id or its name.
async fn configuration(catalog: &Catalog, source: &str) -> Result<String, RecoveryError> {
    sqlx::query_scalar("SELECT id FROM backup_configurations WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1")
        .bind(source)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| RecoveryError::NotFound(format!("data source {source:?} (a backup configuration's id or name)")))
}
