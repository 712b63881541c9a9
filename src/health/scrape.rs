//! What `/metrics` reports, read from the catalog at each scrape (so every node reports the
//! same figures, whichever ran the work): executions by status, backup and restore durations as
//! cumulative histograms (rows stay as history, so the counts only grow), bytes the backups kept
//! stored per location, each configuration's RPO age, open alerts by severity.

use chrono::Utc;

use super::{compliance, HealthError};
use crate::executions;
use crate::platform::catalog::Catalog;

/// Upper bounds, in seconds, of the duration histograms' buckets.
pub const DURATION_BUCKETS: [f64; 9] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0];

/// A histogram: the count in each bucket by its upper bound (the last `+Inf`); the encoder
/// writes them cumulated.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub sum: f64,
    pub count: u64,
    pub buckets: Vec<(f64, u64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub executions_by_status: Vec<(String, i64)>,
    pub backup_durations: Histogram,
    pub restore_durations: Histogram,
    /// (location name, bytes).
    pub stored_bytes: Vec<(String, i64)>,
    /// (configuration id, name, seconds since its newest restorable point).
    pub rpo_age: Vec<(String, String, f64)>,
    pub open_alerts: Vec<(String, i64)>,
}

/// The histogram of a `duration_seconds` column over the rows `filter` picks (`table` aliased `t`).
async fn histogram(catalog: &Catalog, table: &str, filter: &str) -> Result<Histogram, HealthError> {
    let buckets: Vec<String> = DURATION_BUCKETS.iter().map(|b| format!("CAST(COALESCE(SUM(CASE WHEN t.duration_seconds <= {b} THEN 1 ELSE 0 END), 0) AS BIGINT)")).collect();
    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT), COALESCE(SUM(t.duration_seconds), 0.0), {} FROM {table} t WHERE t.duration_seconds IS NOT NULL AND {filter}", buckets.join(", "));
    let row = sqlx::query(&sql).fetch_one(catalog.pool()).await?;
    use sqlx::Row;
    let count: i64 = row.try_get(0)?;
    let sum: f64 = row.try_get(1)?;
    // The catalog counts rows at or under each bound; each bucket holds those above the bound
    // before it, and the last, unbounded one the rest.
    let mut out = Vec::with_capacity(DURATION_BUCKETS.len() + 1);
    let mut below = 0_u64;
    for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
        let at_or_under = row.try_get::<i64, _>(i + 2)?.max(0) as u64;
        out.push((*bound, at_or_under.saturating_sub(below)));
        below = at_or_under;
    }
    let count = count.max(0) as u64;
    out.push((f64::INFINITY, count.saturating_sub(below)));
    Ok(Histogram { sum, count, buckets: out })
}

pub async fn figures(catalog: &Catalog) -> Result<Figures, HealthError> {
    let source = executions::of_source("");
    let executions_by_status: Vec<(String, i64)> =
        sqlx::query_as(&format!("SELECT status, CAST(COUNT(*) AS BIGINT) FROM backup_executions WHERE {source} GROUP BY status ORDER BY status")).fetch_all(catalog.pool()).await?;
    let backup_durations = histogram(catalog, "backup_executions", &format!("t.status = 'completed' AND {}", executions::of_source("t"))).await?;
    let restore_durations = histogram(catalog, "restoration_jobs", "t.status = 'completed'").await?;
    let stored_bytes: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT l.location_name, CAST(SUM(e.compressed_size_bytes) AS BIGINT) FROM backup_storage_locations l LEFT JOIN backup_executions e
             ON e.storage_location_id = l.id AND e.status = 'completed' AND e.deleted_at IS NULL
          GROUP BY l.location_name ORDER BY l.location_name",
    )
    .fetch_all(catalog.pool())
    .await?;
    let rpo_age = compliance::of_all_at(catalog, Utc::now())
        .await?
        .into_iter()
        .filter_map(|c| Some((c.configuration_id, c.name, c.rpo_age_minutes? * 60.0)))
        .collect();
    let open_alerts: Vec<(String, i64)> =
        sqlx::query_as("SELECT severity, CAST(COUNT(*) AS BIGINT) FROM backup_monitoring_alerts WHERE status <> 'resolved' GROUP BY severity ORDER BY severity").fetch_all(catalog.pool()).await?;
    Ok(Figures {
        executions_by_status,
        backup_durations,
        restore_durations,
        stored_bytes: stored_bytes.into_iter().map(|(name, bytes)| (name, bytes.unwrap_or(0))).collect(),
        rpo_age,
        open_alerts,
    })
}
