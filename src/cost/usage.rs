//! Each location's storage counted: `locations::storage` hands out its storage wrapped in a
//! metered storage on the location's process-wide meter (`engine::storage::metered`), and
//! `flush` adds what the meters of the catalog's locations counted to `storage_usage` (one row
//! per location and day), so the figures outlive the process. Every node flushes every 30 s and
//! when it stops; a crash loses at most those seconds.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::watch;

use super::CostError;
use crate::engine::storage::metered::{self, Meter, Metered};
use crate::platform::catalog::Catalog;

const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Adds what the meters of the catalog's locations counted to today's rows (a figure not
/// recorded goes back to its meter).
pub async fn flush(catalog: &Catalog) -> Result<(), CostError> {
    let day = Utc::now().date_naive().to_string();
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM backup_storage_locations").fetch_all(catalog.pool()).await?;
    let taken: Vec<(String, Arc<Meter>, Metered)> = ids
        .into_iter()
        .map(|id| {
            let meter = metered::meter(&id);
            let figures = meter.take();
            (id, meter, figures)
        })
        .filter(|(_, _, figures)| *figures != Metered::default())
        .collect();
    let mut failed = None;
    for (id, meter, figures) in taken {
        if failed.is_some() {
            meter.give_back(figures);
            continue;
        }
        let added = sqlx::query(
            "INSERT INTO storage_usage (storage_location_id, day, requests, bytes_in, bytes_out) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (storage_location_id, day) DO UPDATE SET requests = storage_usage.requests + excluded.requests,
                 bytes_in = storage_usage.bytes_in + excluded.bytes_in, bytes_out = storage_usage.bytes_out + excluded.bytes_out",
        )
        .bind(&id)
        .bind(&day)
        .bind(figures.requests as i64)
        .bind(figures.bytes_in as i64)
        .bind(figures.bytes_out as i64)
        .execute(catalog.pool())
        .await;
        if let Err(e) = added {
            meter.give_back(figures);
            failed = Some(e);
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// What `location_id`'s storage served on `day` (`YYYY-MM-DD`): requests, bytes in, bytes out.
pub async fn of_day(catalog: &Catalog, location_id: &str, day: &str) -> Result<Metered, CostError> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as("SELECT requests, bytes_in, bytes_out FROM storage_usage WHERE storage_location_id = $1 AND day = $2")
        .bind(location_id)
        .bind(day)
        .fetch_optional(catalog.pool())
        .await?;
    Ok(row.map_or_else(Metered::default, |(r, i, o)| Metered { requests: r as u64, bytes_in: i as u64, bytes_out: o as u64 }))
}

/// Flushes every 30 s until `shutdown` turns true, then once more.
pub async fn run_flusher(catalog: Catalog, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tokio::time::sleep(FLUSH_EVERY) => {}
            _ = shutdown.changed() => {}
        }
        if let Err(e) = flush(&catalog).await {
            tracing::warn!(error = %e, "recording storage usage failed; kept for the next flush");
        }
    }
}
