//! Finished executions summed by day, for the health report and the dashboard.
//!
//! `backup_execution_days` (migration 0027) holds, per day of `completed_at`, configuration,
//! location, status, kind and whether the backup is still kept, the count and sums a report
//! needs; a trigger keeps it, so every write path does. A range `[from, until)` reads whole
//! days from it and only the partial days at its ends from the executions themselves (at most
//! a day each, through the `completed_at` index): a 30-day report reads a few thousand rows
//! instead of every execution. Safety snapshots (a restoration's backup of its target) are not
//! backups of a source and are left out of the ranges.

use std::collections::BTreeMap;

use super::HealthError;
use crate::executions;
use crate::platform::catalog::Catalog;

/// What finished on one day with one status: counts and sums over the source backups.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub(super) struct Day {
    pub day: String,
    pub status: String,
    pub executions: i64,
    pub size_bytes: i64,
    pub sized: i64,
    pub compressed_bytes: i64,
    pub duration_seconds: f64,
    pub timed: i64,
}

impl Day {
    fn add(&mut self, other: &Day) {
        self.executions += other.executions;
        self.size_bytes += other.size_bytes;
        self.sized += other.sized;
        self.compressed_bytes += other.compressed_bytes;
        self.duration_seconds += other.duration_seconds;
        self.timed += other.timed;
    }
}

/// The first instant of `t`'s day, and of the day after, in the catalog's text format.
fn midnights(t: &str) -> (String, String) {
    let day = &t[..t.len().min(10)];
    let next = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().and_then(|d| d.succ_opt()).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    (format!("{day}T00:00:00.000000Z"), format!("{next}T00:00:00.000000Z"))
}

/// The pieces of `[from, until)`: whole days (exclusive bounds on `day`) for the table of days,
/// and the partial ends for the executions.
struct Split {
    after_day: Option<String>,
    before_day: Option<String>,
    whole_days: bool,
    raw: Vec<(String, String)>,
}

fn split(from: Option<&str>, until: Option<&str>) -> Split {
    let day = |t: &str| t[..t.len().min(10)].to_string();
    match (from, until) {
        (Some(f), Some(u)) if day(f) == day(u) => Split { after_day: None, before_day: None, whole_days: false, raw: vec![(f.into(), u.into())] },
        _ => {
            let mut raw = Vec::new();
            if let Some(f) = from {
                raw.push((f.to_string(), midnights(f).1));
            }
            if let Some(u) = until {
                raw.push((midnights(u).0, u.to_string()));
            }
            Split { after_day: from.map(day), before_day: until.map(day), whole_days: true, raw }
        }
    }
}

/// Source backups finished in `[from, until)` (an end `None` is open), by day and status.
pub(super) async fn by_day(catalog: &Catalog, from: Option<&str>, until: Option<&str>) -> Result<Vec<Day>, HealthError> {
    let split = split(from, until);
    let mut days: BTreeMap<(String, String), Day> = BTreeMap::new();
    let mut keep = |rows: Vec<Day>| {
        for row in rows {
            days.entry((row.day.clone(), row.status.clone())).or_insert_with(|| Day { day: row.day.clone(), status: row.status.clone(), ..Day::default() }).add(&row);
        }
    };
    if split.whole_days {
        let mut sql = String::from(
            "SELECT day, status, CAST(SUM(executions) AS BIGINT) AS executions, CAST(SUM(size_bytes) AS BIGINT) AS size_bytes,
                    CAST(SUM(sized) AS BIGINT) AS sized, CAST(SUM(compressed_bytes) AS BIGINT) AS compressed_bytes,
                    CAST(SUM(duration_seconds) AS DOUBLE PRECISION) AS duration_seconds, CAST(SUM(timed) AS BIGINT) AS timed
               FROM backup_execution_days WHERE of_source = 1",
        );
        let mut bounds = Vec::new();
        if let Some(after) = &split.after_day {
            bounds.push(after);
            sql.push_str(&format!(" AND day > ${}", bounds.len()));
        }
        if let Some(before) = &split.before_day {
            bounds.push(before);
            sql.push_str(&format!(" AND day < ${}", bounds.len()));
        }
        sql.push_str(" GROUP BY day, status");
        let mut query = sqlx::query_as::<_, Day>(&sql);
        for bound in bounds {
            query = query.bind(bound);
        }
        keep(query.fetch_all(catalog.pool()).await?);
    }
    let raw_sql = format!(
        "SELECT SUBSTR(e.completed_at, 1, 10) AS day, e.status, CAST(COUNT(*) AS BIGINT) AS executions,
                CAST(COALESCE(SUM(e.size_bytes), 0) AS BIGINT) AS size_bytes, CAST(COUNT(e.size_bytes) AS BIGINT) AS sized,
                CAST(COALESCE(SUM(e.compressed_size_bytes), 0) AS BIGINT) AS compressed_bytes,
                CAST(COALESCE(SUM(e.duration_seconds), 0) AS DOUBLE PRECISION) AS duration_seconds, CAST(COUNT(e.duration_seconds) AS BIGINT) AS timed
           FROM backup_executions e WHERE e.completed_at >= $1 AND e.completed_at < $2 AND {}
          GROUP BY SUBSTR(e.completed_at, 1, 10), e.status",
        executions::of_source("e")
    );
    for (from, until) in &split.raw {
        keep(sqlx::query_as::<_, Day>(&raw_sql).bind(from).bind(until).fetch_all(catalog.pool()).await?);
    }
    Ok(days.into_values().filter(|d| d.executions > 0).collect())
}

/// Source backups failed since `from`, by the kind of source their configuration reads.
pub(super) async fn failures_by_type(catalog: &Catalog, from: &str) -> Result<BTreeMap<String, i64>, HealthError> {
    let split = split(Some(from), None);
    let whole: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.source_type, CAST(SUM(d.executions) AS BIGINT) FROM backup_execution_days d JOIN backup_configurations c ON c.id = d.configuration_id
          WHERE d.status = 'failed' AND d.of_source = 1 AND d.day > $1 GROUP BY c.source_type",
    )
    .bind(&split.after_day)
    .fetch_all(catalog.pool())
    .await?;
    let mut out: BTreeMap<String, i64> = whole.into_iter().collect();
    for (from, until) in &split.raw {
        let partial: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT c.source_type, CAST(COUNT(*) AS BIGINT) FROM backup_executions e JOIN backup_configurations c ON c.id = e.configuration_id
              WHERE e.completed_at >= $1 AND e.completed_at < $2 AND e.status = 'failed' AND {} GROUP BY c.source_type",
            executions::of_source("e")
        ))
        .bind(from)
        .bind(until)
        .fetch_all(catalog.pool())
        .await?;
        for (kind, count) in partial {
            *out.entry(kind).or_default() += count;
        }
    }
    out.retain(|_, count| *count > 0);
    Ok(out)
}

/// What the backups still kept (safety snapshots included: they take room too) hold in each
/// location, compressed and encrypted.
pub(super) async fn stored_by_location(catalog: &Catalog) -> Result<Vec<(String, i64)>, HealthError> {
    Ok(sqlx::query_as(
        "SELECT storage_location_id, CAST(SUM(compressed_bytes) AS BIGINT) FROM backup_execution_days
          WHERE status = 'completed' AND kept = 1 AND storage_location_id <> '' GROUP BY storage_location_id",
    )
    .fetch_all(catalog.pool())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_whole_days_between_its_partial_ends() {
        let s = split(Some("2026-12-01T10:00:00.000000Z"), None);
        assert_eq!((s.after_day.as_deref(), s.before_day, s.whole_days), (Some("2026-12-01"), None, true));
        assert_eq!(s.raw, vec![("2026-12-01T10:00:00.000000Z".to_string(), "2026-12-02T00:00:00.000000Z".to_string())]);
        let s = split(None, Some("2026-12-31T23:00:00.000000Z"));
        assert_eq!((s.after_day, s.before_day.as_deref()), (None, Some("2026-12-31")));
        assert_eq!(s.raw, vec![("2026-12-31T00:00:00.000000Z".to_string(), "2026-12-31T23:00:00.000000Z".to_string())]);
        let s = split(Some("2026-12-31T01:00:00.000000Z"), Some("2026-12-31T02:00:00.000000Z"));
        assert!(!s.whole_days);
        assert_eq!(s.raw.len(), 1);
    }
}
