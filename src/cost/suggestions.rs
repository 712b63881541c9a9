//! Optimisations computed from the day's own figures (the attributed bytes and the prices that
//! make its rows), each with its estimated monthly saving and what to do:
//!
//! - `prune_unreferenced`: data no snapshot reaches (over 1 MiB) costs its bytes at the
//!   location's price until a prune deletes it; the button prunes.
//! - `cold_tier`: a configuration's backups older than 30 days on a location dearer than another
//!   active one; kept there instead, its share of bytes for those backups (in proportion to their
//!   number) would cost the cheaper price. (Copies mirror their source whole, so the move is made
//!   by pointing the configuration at the colder location, on its page.)
//! - `tighten_retention`: past its first week, a configuration keeping more than twice the
//!   points one a day (or one per RPO, when longer) would give; the surplus's share of its bytes
//!   is the saving (at most: what the points share stays).
//! - `raise_compression`: a configuration stored with gzip or none whose source type stores
//!   smaller under zstd elsewhere here; its bytes shrunk by the ratio seen.
//! - `remove_replica`: a location kept as a copy of another by a copy rule for over 90 days,
//!   that no restore read from in those 90 days (restores read their backup's own location and
//!   a replica only when that cannot be read); all it stores, at its price, is the saving. The
//!   button removes the copy rule; its data goes with the location, on its page.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};

use super::tracking::LocationDay;
use super::{CostError, Suggestion, SuggestionAction, GB};
use crate::platform::catalog::Catalog;
use crate::platform::time;

const PRUNE_FROM_BYTES: u64 = 1 << 20;
const OLD_DAYS: i64 = 30;
const RECENT_DAYS: i64 = 7;
/// How long a replica may go unread (and must have been one) before it is named.
const REPLICA_UNREAD_DAYS: i64 = 90;

/// A suggestion and the row (location, configuration) it belongs to.
pub type Placed = (String, Option<String>, Suggestion);

/// Every suggestion for `days`, the day's figures of each location.
pub async fn compute(catalog: &Catalog, days: &[LocationDay], day: NaiveDate) -> Result<Vec<Placed>, CostError> {
    let mut out = Vec::new();
    let end_of_day = day.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc();
    let configurations: HashMap<String, (String, String, String, Option<i64>)> =
        sqlx::query_as::<_, (String, String, String, String, Option<i64>)>("SELECT id, name, compression, source_type, rpo_minutes FROM backup_configurations")
            .fetch_all(catalog.pool())
            .await?
            .into_iter()
            .map(|(id, name, compression, source, rpo)| (id, (name, compression, source, rpo)))
            .collect();
    // Stored ÷ read per configuration, and under zstd per source type.
    let ratios: Vec<(String, f64, f64)> = sqlx::query_as(
        "SELECT configuration_id, CAST(SUM(compressed_size_bytes) AS DOUBLE PRECISION), CAST(SUM(size_bytes) AS DOUBLE PRECISION) FROM backup_executions
         WHERE status = 'completed' AND size_bytes > 0 AND compressed_size_bytes IS NOT NULL GROUP BY configuration_id",
    )
    .fetch_all(catalog.pool())
    .await?;
    let ratio_of: HashMap<&str, f64> = ratios.iter().map(|(id, stored, read)| (id.as_str(), stored / read)).collect();
    let mut zstd_by_source: HashMap<&str, (f64, f64)> = HashMap::new();
    for (id, stored, read) in &ratios {
        if let Some((_, compression, source, _)) = configurations.get(id)
            && compression == "zstd"
        {
            let sum = zstd_by_source.entry(source.as_str()).or_default();
            sum.0 += stored;
            sum.1 += read;
        }
    }
    let cheapest = |than: f64, except: &str| {
        days.iter()
            .filter(|d| d.location_id != except)
            .filter_map(|d| d.prices.cost_per_gb_month.filter(|p| *p < than).map(|p| (d, p)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };

    // Copy rules older than the window, with the last time a restore read their target.
    let window_start = time::to_text(end_of_day - Duration::days(REPLICA_UNREAD_DAYS));
    let rules: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT r.id, r.source_location_id, r.target_location_id, s.location_name,
                (SELECT MAX(j.end_time) FROM restoration_read_locations l JOIN restoration_jobs j ON j.id = l.restoration_id WHERE l.location_id = r.target_location_id)
           FROM replication_links r JOIN backup_storage_locations s ON s.id = r.source_location_id
          WHERE r.created_at < $1 ORDER BY r.created_at",
    )
    .bind(&window_start)
    .fetch_all(catalog.pool())
    .await?;
    let mut named_replicas = std::collections::HashSet::new();
    for (rule_id, source_id, replica_id, source_name, last_read) in rules {
        let Some(d) = days.iter().find(|d| d.location_id == replica_id) else { continue };
        let price = d.prices.cost_per_gb_month.unwrap_or(0.0);
        if last_read.is_some_and(|at| at >= window_start) || price <= 0.0 || !named_replicas.insert(replica_id.clone()) {
            continue;
        }
        let saving = d.attribution.total_bytes as f64 / GB * price;
        let description = format!(
            "{}: a copy of {source_name} that no restore has read in {REPLICA_UNREAD_DAYS} days holds {}; without the copy rule and its data it costs nothing.",
            d.location_name,
            bulwark_types::human_bytes(d.attribution.total_bytes)
        );
        let action = SuggestionAction::RemoveReplica { rule_id, source_location_id: source_id, replica_location_id: replica_id.clone() };
        // Stored with the location's first row (rows are per configuration; the replica's may
        // have no row without one).
        let row = d.attribution.shares.first().and_then(|(configuration, _)| configuration.clone());
        out.push((replica_id, row, Suggestion { kind: "remove_replica".into(), description, estimated_savings: saving, action }));
    }

    for d in days {
        let price = d.prices.cost_per_gb_month.unwrap_or(0.0);
        if d.attribution.unreferenced_bytes >= PRUNE_FROM_BYTES && price > 0.0 {
            let saving = d.attribution.unreferenced_bytes as f64 / GB * price;
            let description = format!(
                "{}: {} of data no backup references; a prune deletes it.",
                d.location_name,
                bulwark_types::human_bytes(d.attribution.unreferenced_bytes)
            );
            out.push((d.location_id.clone(), None, Suggestion { kind: "prune_unreferenced".into(), description, estimated_savings: saving, action: SuggestionAction::Prune { location_id: d.location_id.clone() } }));
        }
        for (configuration, bytes) in &d.attribution.shares {
            let (Some(id), true) = (configuration, *bytes > 0) else { continue };
            let Some((name, compression, source, rpo)) = configurations.get(id) else { continue };
            let gb = *bytes as f64 / GB;
            // The backups it keeps here, oldest first.
            let kept: Vec<String> = sqlx::query_scalar(
                "SELECT completed_at FROM backup_executions WHERE configuration_id = $1 AND storage_location_id = $2 AND status = 'completed' AND deleted_at IS NULL
                   AND completed_at IS NOT NULL AND completed_at <= $3 ORDER BY completed_at",
            )
            .bind(id)
            .bind(&d.location_id)
            .bind(time::to_text(end_of_day))
            .fetch_all(catalog.pool())
            .await?;
            let edit = |field: &str| SuggestionAction::EditConfiguration { configuration_id: id.clone(), field: field.into() };

            let old_cut = time::to_text(end_of_day - Duration::days(OLD_DAYS));
            let old = kept.iter().filter(|at| **at < old_cut).count();
            if old > 0 && d.storage_type != "archive"
                && let Some((colder, cold_price)) = cheapest(price, &d.location_id)
            {
                let saving = gb * old as f64 / kept.len() as f64 * (price - cold_price);
                let description = format!(
                    "{name}: {old} of its {} backups on {} are older than {OLD_DAYS} days; on {} they would cost {cold_price} instead of {price} per GB-month.",
                    kept.len(),
                    d.location_name,
                    colder.location_name
                );
                out.push((d.location_id.clone(), configuration.clone(), Suggestion { kind: "cold_tier".into(), description, estimated_savings: saving, action: edit("storageLocationIds") }));
            }

            let recent_cut = end_of_day - Duration::days(RECENT_DAYS);
            let older: Vec<chrono::DateTime<chrono::Utc>> = kept.iter().filter_map(|at| time::parse(at)).filter(|at| *at < recent_cut).collect();
            if let Some(first) = older.first() {
                let every = rpo.unwrap_or(0).max(24 * 60);
                let needed = ((recent_cut - *first).num_minutes() / every) as usize + 1;
                let surplus = older.len().saturating_sub(needed);
                if older.len() > 2 * needed && surplus >= 3 {
                    let saving = gb * surplus as f64 / kept.len() as f64 * price;
                    let description = format!(
                        "{name}: keeps {} backups older than a week on {} where one a day ({needed}) meets its RPO; a policy keeping daily points past the first week frees up to this.",
                        older.len(),
                        d.location_name
                    );
                    out.push((d.location_id.clone(), configuration.clone(), Suggestion { kind: "tighten_retention".into(), description, estimated_savings: saving, action: edit("retentionPolicy") }));
                }
            }

            if compression != "zstd"
                && let (Some(mine), Some((stored, read))) = (ratio_of.get(id.as_str()), zstd_by_source.get(source.as_str()))
                && *read > 0.0
            {
                let zstd = stored / read;
                if zstd < mine * 0.9 {
                    let saving = gb * (1.0 - zstd / mine) * price;
                    let description = format!(
                        "{name}: stored with {compression} at {:.0}% of what it reads; {source} backups here store at {:.0}% with zstd.",
                        mine * 100.0,
                        zstd * 100.0
                    );
                    out.push((d.location_id.clone(), configuration.clone(), Suggestion { kind: "raise_compression".into(), description, estimated_savings: saving, action: edit("compression") }));
                }
            }
        }
    }
    out.retain(|(_, _, s)| s.estimated_savings > 0.0);
    Ok(out)
}
