//! The daily cost rows (`backup_cost_tracking`, the seeds' fields): for every active location
//! with a repository, one row per configuration its data belongs to (`attribution`) and one for
//! data no configuration's snapshot reaches. A row's storage cost is its bytes at the location's
//! price per GB-month for one day (a month counted as 30 days); the day's requests and bytes
//! read out of the location (`usage`) are split over the rows in proportion to their bytes.
//! Each row carries the suggestions computed from the same figures (`suggestions`). Tracking a
//! day again replaces its rows; tracking a day also settles the day before, whose rows were
//! written while it still ran: their requests and transfer are priced again from the final counts.

use chrono::NaiveDate;

use super::attribution::{self, Attribution};
use super::{prices, suggestions, usage, CostError, Prices, Suggestion, DAYS_PER_MONTH, GB};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::platform::time;

/// The periodic job's kind.
pub const JOB_KIND: &str = "cost.track";

/// One location's figures for the day, as the suggestions read them.
#[derive(Debug, Clone)]
pub struct LocationDay {
    pub location_id: String,
    pub location_name: String,
    pub storage_type: String,
    pub prices: Prices,
    pub attribution: Attribution,
}

/// What a tracking wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracked {
    pub rows: usize,
    /// Locations that could not be read (their rows of the day are left as they were).
    pub skipped: Vec<String>,
}

/// Tracks `day` (operators ask for today from the console or the API).
pub async fn track_now(catalog: &Catalog, secrets: &SecretBox, actor: &Principal) -> Result<Tracked, CostError> {
    actor.require(Role::Operator)?;
    track(catalog, secrets, chrono::Utc::now().date_naive()).await
}

/// Writes `day`'s rows for every active location with a repository.
pub async fn track(catalog: &Catalog, secrets: &SecretBox, day: NaiveDate) -> Result<Tracked, CostError> {
    usage::flush(catalog).await?;
    let locations: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, location_name, storage_type FROM backup_storage_locations WHERE is_active = 1 AND repository_id IS NOT NULL ORDER BY location_name")
            .fetch_all(catalog.pool())
            .await?;
    let mut days = Vec::new();
    let mut tracked = Tracked::default();
    for (location_id, location_name, storage_type) in locations {
        match attribution::attribute(catalog, secrets, &location_id).await {
            Ok(attribution) => days.push(LocationDay { prices: prices::get(catalog, &location_id).await?, location_id, location_name, storage_type, attribution }),
            Err(e) => {
                tracing::warn!(location = %location_name, error = %e, "cost tracking could not read the location");
                tracked.skipped.push(location_name);
            }
        }
    }
    // The day before was tracked while it still ran: its requests and transfer are final now.
    if let Some(before) = day.pred_opt() {
        for d in &days {
            settle(catalog, &d.location_id, &d.prices, &before.to_string()).await?;
        }
    }
    let advice = suggestions::compute(catalog, &days, day).await?;
    let day_text = day.to_string();
    let now = time::now_text();
    for d in &days {
        let served = usage::of_day(catalog, &d.location_id, &day_text).await?;
        let total = d.attribution.total_bytes;
        // Serialised: two trackings of a day at once (the daily job and "track now") would each
        // delete before the other inserts, and the day would count twice.
        let mut tx = catalog.begin_serialized(LockTopic::CostTracking).await?;
        sqlx::query("DELETE FROM backup_cost_tracking WHERE tracking_period_start = $1 AND storage_location_id = $2").bind(&day_text).bind(&d.location_id).execute(&mut *tx.tx).await?;
        for (configuration, bytes) in &d.attribution.shares {
            let fraction = if total > 0 { *bytes as f64 / total as f64 } else { 0.0 };
            let storage_gb = *bytes as f64 / GB;
            let requests = (served.requests as f64 * fraction).round();
            let transfer_gb = served.bytes_out as f64 * fraction / GB;
            let storage_cost = storage_gb * d.prices.cost_per_gb_month.unwrap_or(0.0) / DAYS_PER_MONTH;
            let request_cost = requests / 1000.0 * d.prices.cost_per_1k_requests.unwrap_or(0.0);
            let transfer_cost = transfer_gb * d.prices.cost_per_gb_transfer.unwrap_or(0.0);
            let mine: Vec<&Suggestion> = advice.iter().filter(|(loc, conf, _)| *loc == d.location_id && conf == configuration).map(|(_, _, s)| s).collect();
            sqlx::query(
                "INSERT INTO backup_cost_tracking (id, tracking_period_start, tracking_period_end, storage_location_id, backup_configuration_id, storage_cost_usd, transfer_cost_usd,
                     request_cost_usd, total_cost_usd, storage_usage_gb, storage_bytes, data_transfer_gb, api_requests_count, cost_per_gb_month, cost_optimization_suggestions, created_at)
                 VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&day_text)
            .bind(&d.location_id)
            .bind(configuration)
            .bind(storage_cost)
            .bind(transfer_cost)
            .bind(request_cost)
            .bind(storage_cost + transfer_cost + request_cost)
            .bind(storage_gb)
            .bind(*bytes as i64)
            .bind(transfer_gb)
            .bind(requests as i64)
            .bind(d.prices.cost_per_gb_month)
            .bind(serde_json::to_string(&mine).unwrap_or_else(|_| "[]".into()))
            .bind(&now)
            .execute(&mut *tx.tx)
            .await?;
            tracked.rows += 1;
        }
        tx.commit().await?;
    }
    Ok(tracked)
}

/// Prices `day`'s requests and transfer at `location_id` again from their final counts, split
/// over its rows by their bytes as tracking does; the rows' storage stays as tracked.
async fn settle(catalog: &Catalog, location_id: &str, prices: &Prices, day: &str) -> Result<(), CostError> {
    let served = usage::of_day(catalog, location_id, day).await?;
    let mut tx = catalog.begin_serialized(LockTopic::CostTracking).await?;
    let rows: Vec<(String, i64, f64)> = sqlx::query_as("SELECT id, storage_bytes, storage_cost_usd FROM backup_cost_tracking WHERE tracking_period_start = $1 AND storage_location_id = $2")
        .bind(day)
        .bind(location_id)
        .fetch_all(&mut *tx.tx)
        .await?;
    let total: i64 = rows.iter().map(|(_, bytes, _)| bytes).sum();
    for (id, bytes, storage_cost) in &rows {
        let fraction = if total > 0 { *bytes as f64 / total as f64 } else { 0.0 };
        let requests = (served.requests as f64 * fraction).round();
        let transfer_gb = served.bytes_out as f64 * fraction / GB;
        let request_cost = requests / 1000.0 * prices.cost_per_1k_requests.unwrap_or(0.0);
        let transfer_cost = transfer_gb * prices.cost_per_gb_transfer.unwrap_or(0.0);
        sqlx::query(
            "UPDATE backup_cost_tracking SET api_requests_count = $1, data_transfer_gb = $2, request_cost_usd = $3, transfer_cost_usd = $4, total_cost_usd = $5 WHERE id = $6",
        )
        .bind(requests as i64)
        .bind(transfer_gb)
        .bind(request_cost)
        .bind(transfer_cost)
        .bind(storage_cost + request_cost + transfer_cost)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
