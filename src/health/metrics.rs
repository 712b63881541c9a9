//! The seeds' health metrics and trends over a time range (`GET /api/admin/backups/health`),
//! from the executions summed by day ([`super::days`]) and the compliance of each configuration. Safety snapshots
//! (a restoration's backup of its target) are not backups of a source and are left out.

use chrono::{DateTime, Duration, Utc};

use super::compliance::{self, Compliance};
use super::{days, HealthError};
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

/// The metrics of the backups finished since `since` and each configuration's compliance at
/// `now`, with the days they were read from (the report's trends use them too).
pub(super) async fn metrics_since(catalog: &Catalog, since: &str, now: DateTime<Utc>) -> Result<(HealthMetrics, Vec<Compliance>, Vec<days::Day>), HealthError> {
    let days = days::by_day(catalog, Some(since), None).await?;
    let completed_days = days.iter().filter(|d| d.status == "completed");
    let sum = |f: fn(&days::Day) -> i64| completed_days.clone().map(f).sum::<i64>();
    let completed = sum(|d| d.executions);
    let failed: i64 = days.iter().filter(|d| d.status == "failed").map(|d| d.executions).sum();
    let (read, stored, sized, timed) = (sum(|d| d.size_bytes), sum(|d| d.compressed_bytes), sum(|d| d.sized), sum(|d| d.timed));
    let duration: f64 = completed_days.clone().map(|d| d.duration_seconds).sum();
    let compliance = compliance::of_all_at(catalog, now).await?;
    let with_rpo: Vec<bool> = compliance.iter().filter_map(|c| c.rpo_met).collect();
    let with_rto: Vec<bool> = compliance.iter().filter_map(|c| c.rto_met).collect();
    let metrics = HealthMetrics {
        success_rate: percent(completed as usize, (completed + failed) as usize),
        average_backup_time: if timed > 0 { (duration / timed as f64 * 10.0).round() / 10.0 } else { 0.0 },
        average_backup_size: if sized > 0 { (read as f64 / sized as f64).round() } else { 0.0 },
        rto_achievement: percent(with_rto.iter().filter(|m| **m).count(), with_rto.len()),
        rpo_achievement: percent(with_rpo.iter().filter(|m| **m).count(), with_rpo.len()),
        cost_efficiency: if read > 0 { ((1.0 - stored as f64 / read as f64) * 1000.0).round() / 10.0 } else { 0.0 },
    };
    Ok((metrics, compliance, days))
}

pub async fn report(catalog: &Catalog, actor: &Principal, time_range: Option<&str>) -> Result<HealthReport, HealthError> {
    actor.require(Role::Viewer)?;
    let time_range = time_range.filter(|t| !t.is_empty()).unwrap_or("24h");
    let now = Utc::now();
    let since = time::to_text(now - range(time_range)?);
    let (metrics, compliance, days) = metrics_since(catalog, &since, now).await?;
    let completed_days: Vec<&days::Day> = days.iter().filter(|d| d.status == "completed").collect();
    let before: i64 = days::by_day(catalog, None, Some(&since)).await?.iter().filter(|d| d.status == "completed").map(|d| d.compressed_bytes).sum();
    let mut total = before;
    let storage_growth = completed_days
        .iter()
        .map(|d| {
            total += d.compressed_bytes;
            StorageGrowth { date: d.day.clone(), total_size: total }
        })
        .collect();
    let trends = HealthTrends {
        daily_backups: completed_days.iter().map(|d| DailyBackups { date: d.day.clone(), count: d.executions, size: d.size_bytes }).collect(),
        failures_by_type: days::failures_by_type(catalog, &since).await?,
        storage_growth,
    };
    Ok(HealthReport { time_range: time_range.to_string(), metrics, trends, compliance })
}
