//! The backups a restoration can start from (the seeds' `GET …/restoration/available`):
//! completed, not deleted, and not failed verification unless asked for all.

use super::{AvailableBackup, RestorationError};
use crate::configurations;
use crate::engine::source::SourceKind;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::time;
use crate::wal_archive;

/// The seeds' filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A configuration's backup type (`full`, `incremental`, …).
    pub backup_type: Option<String>,
    /// `24h`, `7d`, `30d` or `90d`: only backups that recent.
    pub date_range: Option<String>,
    /// Only verified backups.
    pub verified: bool,
    pub configuration_id: Option<String>,
    pub limit: Option<i64>,
}

/// How far back a `dateRange` reaches.
fn since(range: &str) -> Result<chrono::Duration, RestorationError> {
    match range {
        "24h" => Ok(chrono::Duration::hours(24)),
        "7d" => Ok(chrono::Duration::days(7)),
        "30d" => Ok(chrono::Duration::days(30)),
        "90d" => Ok(chrono::Duration::days(90)),
        other => Err(RestorationError::Invalid(format!("dateRange: 24h, 7d, 30d or 90d, not {other:?}"))),
    }
}

type Row = (String, String, String, String, String, Option<String>, Option<i64>, Option<String>, Option<String>);

pub async fn list(catalog: &Catalog, actor: &Principal, filter: &Filter) -> Result<Vec<AvailableBackup>, RestorationError> {
    actor.require(Role::Viewer)?;
    let after = match filter.date_range.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(range) => time::to_text(catalog.now().await? - since(range)?),
        None => String::new(),
    };
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT e.id, c.id, c.name, c.source_type, c.backup_type, e.completed_at, e.size_bytes, e.verification_status,
                (SELECT MIN(t.scheduled_deletion_date) FROM backup_retention_tracking t WHERE t.execution_id = e.id)
         FROM backup_executions e JOIN backup_configurations c ON c.id = e.configuration_id
         WHERE e.status = 'completed' AND e.deleted_at IS NULL AND e.snapshot_id IS NOT NULL AND {}
           AND ($1 = '' OR c.backup_type = $1) AND ($2 = '' OR e.completed_at >= $2) AND ($3 = 0 OR e.verification_status = 'verified')
           AND ($4 = '' OR c.id = $4)
         ORDER BY e.completed_at DESC LIMIT $5",
        crate::executions::of_source("e")
    ))
    .bind(filter.backup_type.as_deref().unwrap_or(""))
    .bind(&after)
    .bind(i64::from(filter.verified))
    .bind(filter.configuration_id.as_deref().unwrap_or(""))
    .bind(filter.limit.unwrap_or(200).clamp(1, 1000))
    .fetch_all(catalog.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (execution_id, configuration_id, configuration_name, source_type, backup_type, completed_at, size, verification, expiry) in rows {
        let source_type = SourceKind::parse(&source_type).ok_or_else(|| RestorationError::Invalid(format!("unknown source type {source_type:?}")))?;
        let point_in_time_capable = source_type == SourceKind::Postgresql && wal_archive::is_continuous(&configurations::find(catalog, &configuration_id).await?);
        out.push(AvailableBackup {
            execution_id,
            configuration_id,
            configuration_name,
            source_type,
            backup_type,
            backup_date: completed_at.unwrap_or_default(),
            backup_size: size.unwrap_or(0),
            verification_status: verification.unwrap_or_else(|| "pending".into()),
            retention_expiry: expiry,
            point_in_time_capable,
        });
    }
    Ok(out)
}
