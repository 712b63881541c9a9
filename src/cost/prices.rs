//! A location's prices: per GB-month stored, per 1,000 requests, per GB read back out. Set with
//! the location or later by an admin (audited); a negative or absurd price is a sentence
//! (`locations::check_prices`).

use super::{CostError, Prices};
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::Catalog;

pub async fn get(catalog: &Catalog, location_id: &str) -> Result<Prices, CostError> {
    let row: Option<(Option<f64>, Option<f64>, Option<f64>)> =
        sqlx::query_as("SELECT cost_per_gb_month, cost_per_1k_requests, cost_per_gb_transfer FROM backup_storage_locations WHERE id = $1").bind(location_id).fetch_optional(catalog.pool()).await?;
    let (cost_per_gb_month, cost_per_1k_requests, cost_per_gb_transfer) = row.ok_or_else(|| crate::locations::LocationError::NotFound(location_id.to_string()))?;
    Ok(Prices { cost_per_gb_month, cost_per_1k_requests, cost_per_gb_transfer })
}

/// Sets a location's prices (admins); the next day's rows use them.
pub async fn set(catalog: &Catalog, actor: &Principal, location_id: &str, prices: &Prices) -> Result<Prices, CostError> {
    actor.require(Role::Admin)?;
    crate::locations::check_prices(prices).map_err(CostError::Invalid)?;
    get(catalog, location_id).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("UPDATE backup_storage_locations SET cost_per_gb_month = $1, cost_per_1k_requests = $2, cost_per_gb_transfer = $3, updated_at = $4 WHERE id = $5")
        .bind(prices.cost_per_gb_month)
        .bind(prices.cost_per_1k_requests)
        .bind(prices.cost_per_gb_transfer)
        .bind(crate::platform::time::now_text())
        .bind(location_id)
        .execute(&mut *tx.tx)
        .await?;
    let detail = serde_json::to_value(prices).unwrap_or_default();
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "storage_location.prices", target_type: "storage_location", target_id: Some(location_id), detail }).await?;
    tx.commit().await?;
    get(catalog, location_id).await
}
