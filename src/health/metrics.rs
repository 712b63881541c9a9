//! The seeds' health metrics and trends over a time range (`GET /api/admin/backups/health`),
//! from the executions themselves and the compliance of each configuration. Safety snapshots
//! (a restoration's backup of its target) are not backups of a source and are left out.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};

use super::{compliance, HealthError};
use crate::executions;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::time;

pub use bulwark_types::{DailyBackups, HealthMetrics, HealthReport, HealthTrends, StorageGrowth};

/// `24h`, `7d` or `30d`.
fn range(text: &str) -> Result<Duration, HealthError> {
    match text {
        "24h" => Ok(Duration::hours(24)),
        "7d" => Ok(Duration::days(7)),
        "30d" => Ok(Duration::days(30)),
        other => Err(HealthError::Invalid(format!("timeRange: 24h, 7d or 30d, not {other:?}"))),
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 100.0 } else { (part as f64 * 1000.0 / whole as f64).round() / 10.0 }
}

pub async fn report(catalog: &Catalog, actor: &Principal, time_range: Option<&str>) -> Result<HealthReport, HealthError> {
    actor.require(Role::Viewer)?;
    let time_range = time_range.filter(|t| !t.is_empty()).unwrap_or("24h");
    let now = Utc::now();
    let since = time::to_text(now - range(time_range)?);
    let source = executions::of_source("e");
    let (completed, failed, avg_time, avg_size, read, stored): (i64, i64, Option<f64>, Option<f64>, Option<i64>, Option<i64>) = sqlx::query_as(&format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN e.status = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN e.status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT),
                AVG(CASE WHEN e.status = 'completed' THEN e.duration_seconds END), AVG(CASE WHEN e.status = 'completed' THEN CAST(e.size_bytes AS DOUBLE PRECISION) END),
                CAST(SUM(CASE WHEN e.status = 'completed' THEN e.size_bytes END) AS BIGINT), CAST(SUM(CASE WHEN e.status = 'completed' THEN e.compressed_size_bytes END) AS BIGINT)
           FROM backup_executions e WHERE e.completed_at >= $1 AND {source}"
    ))
    .bind(&since)
    .fetch_one(catalog.pool())
    .await?;
    let compliance = compliance::of_all_at(catalog, now).await?;
    let with_rpo: Vec<bool> = compliance.iter().filter_map(|c| c.rpo_met).collect();
    let with_rto: Vec<bool> = compliance.iter().filter_map(|c| c.rto_met).collect();
    let (read, stored) = (read.unwrap_or(0), stored.unwrap_or(0));
    let metrics = HealthMetrics {
        success_rate: percent(completed as usize, (completed + failed) as usize),
        average_backup_time: (avg_time.unwrap_or(0.0) * 10.0).round() / 10.0,
        average_backup_size: avg_size.unwrap_or(0.0).round(),
        rto_achievement: percent(with_rto.iter().filter(|m| **m).count(), with_rto.len()),
        rpo_achievement: percent(with_rpo.iter().filter(|m| **m).count(), with_rpo.len()),
        cost_efficiency: if read > 0 { ((1.0 - stored as f64 / read as f64) * 1000.0).round() / 10.0 } else { 0.0 },
    };

    let daily: Vec<(String, i64, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT SUBSTR(e.completed_at, 1, 10) AS day, COUNT(*), CAST(SUM(e.size_bytes) AS BIGINT) FROM backup_executions e
          WHERE e.completed_at >= $1 AND e.status = 'completed' AND {source} GROUP BY SUBSTR(e.completed_at, 1, 10) ORDER BY day"
    ))
    .bind(&since)
    .fetch_all(catalog.pool())
    .await?;
    let failures: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT c.source_type, COUNT(*) FROM backup_executions e JOIN backup_configurations c ON c.id = e.configuration_id
          WHERE e.completed_at >= $1 AND e.status = 'failed' AND {source} GROUP BY c.source_type ORDER BY c.source_type"
    ))
    .bind(&since)
    .fetch_all(catalog.pool())
    .await?;
    let before: Option<i64> = sqlx::query_scalar(&format!("SELECT CAST(SUM(e.compressed_size_bytes) AS BIGINT) FROM backup_executions e WHERE e.completed_at < $1 AND e.status = 'completed' AND {source}"))
        .bind(&since)
        .fetch_one(catalog.pool())
        .await?;
    let added: Vec<(String, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT SUBSTR(e.completed_at, 1, 10) AS day, CAST(SUM(e.compressed_size_bytes) AS BIGINT) FROM backup_executions e
          WHERE e.completed_at >= $1 AND e.status = 'completed' AND {source} GROUP BY SUBSTR(e.completed_at, 1, 10) ORDER BY day"
    ))
    .bind(&since)
    .fetch_all(catalog.pool())
    .await?;
    let mut total = before.unwrap_or(0);
    let storage_growth = added
        .into_iter()
        .map(|(date, bytes)| {
            total += bytes.unwrap_or(0);
            StorageGrowth { date, total_size: total }
        })
        .collect();
    let trends = HealthTrends {
        daily_backups: daily.into_iter().map(|(date, count, size)| DailyBackups { date, count, size: size.unwrap_or(0) }).collect(),
        failures_by_type: failures.into_iter().collect::<BTreeMap<_, _>>(),
        storage_growth,
    };
    Ok(HealthReport { time_range: time_range.to_string(), metrics, trends, compliance })
}
