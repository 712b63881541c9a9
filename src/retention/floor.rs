//! A storage location's retention floor: the minimum age before any backup on it may be
//! deleted, and the maximum age past which none is kept (legal holds excepted). Once locked,
//! after a cooling-off period (72 hours by default, as AWS Backup Vault Lock), the floor can
//! only grow: nobody, admins included, can shorten the minimum, lower the maximum or remove
//! either.

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};

use super::RetentionError;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::time;

/// The cooling-off period before a lock takes hold, unless another is asked for.
pub const DEFAULT_COOLING_OFF_HOURS: i64 = 72;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Floor {
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    /// When the lock takes hold; `None` while unlocked.
    pub locks_at: Option<String>,
}

impl Floor {
    /// True once the cooling-off period is over.
    pub fn is_locked(&self) -> bool {
        self.locks_at.as_deref().is_some_and(|at| at <= time::now_text().as_str())
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFloor {
    #[serde(default)]
    pub min_days: Option<i64>,
    #[serde(default)]
    pub max_days: Option<i64>,
    /// Lock the floor after the cooling-off period.
    #[serde(default)]
    pub lock: bool,
    #[serde(default)]
    pub cooling_off_hours: Option<i64>,
}

pub async fn get(catalog: &Catalog, location_id: &str) -> Result<Floor, RetentionError> {
    sqlx::query_as::<_, Floor>(
        "SELECT retention_min_days AS min_days, retention_max_days AS max_days, retention_locks_at AS locks_at FROM backup_storage_locations WHERE id = $1",
    )
    .bind(location_id)
    .fetch_optional(catalog.pool())
    .await?
    .ok_or_else(|| RetentionError::NotFound(format!("storage location {location_id} not found")))
}

/// Sets (or, while unlocked, removes) a location's floor.
pub async fn set(catalog: &Catalog, actor: &Principal, location_id: &str, new: NewFloor) -> Result<Floor, RetentionError> {
    actor.require(Role::Admin)?;
    for (field, value) in [("minDays", new.min_days), ("maxDays", new.max_days)] {
        if value.is_some_and(|d| !(1..=36_500).contains(&d)) {
            return Err(RetentionError::Invalid(format!("{field}: 1 to 36500 days")));
        }
    }
    if let (Some(min), Some(max)) = (new.min_days, new.max_days)
        && min > max
    {
        return Err(RetentionError::Invalid("maxDays: at least minDays".into()));
    }
    let cooling_off = new.cooling_off_hours.unwrap_or(DEFAULT_COOLING_OFF_HOURS);
    if !(0..=24 * 365).contains(&cooling_off) {
        return Err(RetentionError::Invalid("coolingOffHours: 0 to 8760 hours".into()));
    }
    if new.lock && new.min_days.is_none() && new.max_days.is_none() {
        return Err(RetentionError::Invalid("lock: an empty floor has nothing to lock; give minDays or maxDays".into()));
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let current: Option<Floor> = sqlx::query_as(
        "SELECT retention_min_days AS min_days, retention_max_days AS max_days, retention_locks_at AS locks_at FROM backup_storage_locations WHERE id = $1",
    )
    .bind(location_id)
    .fetch_optional(&mut *tx.tx)
    .await?;
    let current = current.ok_or_else(|| RetentionError::NotFound(format!("storage location {location_id} not found")))?;
    let locks_at = if current.is_locked() {
        // Locked: only growth, and the lock stays.
        let shorter_min = match (current.min_days, new.min_days) {
            (Some(was), now) => now.is_none_or(|now| now < was),
            (None, _) => false,
        };
        let lower_max = match (current.max_days, new.max_days) {
            (Some(was), now) => now.is_none_or(|now| now < was),
            (None, Some(_)) => true,
            (None, None) => false,
        };
        if shorter_min || lower_max {
            return Err(RetentionError::Locked(format!(
                "the retention floor of this location is locked since {}: it can only grow (minDays up, maxDays up), never shrink or go",
                current.locks_at.unwrap_or_default()
            )));
        }
        current.locks_at.clone()
    } else if new.lock {
        Some(time::to_text(Utc::now() + Duration::hours(cooling_off)))
    } else {
        None
    };
    sqlx::query("UPDATE backup_storage_locations SET retention_min_days = $1, retention_max_days = $2, retention_locks_at = $3, updated_at = $4 WHERE id = $5")
        .bind(new.min_days)
        .bind(new.max_days)
        .bind(&locks_at)
        .bind(time::now_text())
        .bind(location_id)
        .execute(&mut *tx.tx)
        .await?;
    let detail = serde_json::json!({ "minDays": new.min_days, "maxDays": new.max_days, "locksAt": locks_at });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "storage_location.retention_floor", target_type: "storage_location", target_id: Some(location_id), detail }).await?;
    tx.commit().await?;
    Ok(Floor { min_days: new.min_days, max_days: new.max_days, locks_at })
}
