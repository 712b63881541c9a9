//! Storage locations: creating, testing, initialising and removing them, their retention floor, repairing an index, and reattaching a repository with its recovery kit.

use leptos::prelude::*;

pub use bulwark_types::{FloorView, LocationRow, RecoveryKitView, TestOutcome};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "get_floor")]
pub async fn get_floor(id: String) -> Result<FloorView, AppError> {
    let p = crate::ssr::principal().await?;
    p.require(bulwark_core::platform::auth::Role::Viewer).map_err(AppError::from_core)?;
    let f = bulwark_core::retention::floor::get(&crate::ssr::catalog()?, &id).await.map_err(AppError::from_core)?;
    Ok(FloorView { locked: f.is_locked(), min_days: f.min_days, max_days: f.max_days, locks_at: f.locks_at })
}

#[server(prefix = "/_sfn", endpoint = "set_floor")]
pub async fn set_floor(id: String, min_days: String, max_days: String, lock: Option<String>, cooling_off_hours: String) -> Result<String, AppError> {
    use bulwark_core::retention::floor::{self, NewFloor};
    let p = crate::ssr::principal().await?;
    let number = |field: &str, text: &str| -> Result<Option<i64>, AppError> {
        match text.trim() {
            "" => Ok(None),
            t => t.parse().map(Some).map_err(|_| AppError::Invalid(format!("{field}: a whole number"))),
        }
    };
    let new = NewFloor {
        min_days: number("minDays", &min_days)?,
        max_days: number("maxDays", &max_days)?,
        lock: lock.is_some(),
        cooling_off_hours: number("coolingOffHours", &cooling_off_hours)?,
    };
    let f = floor::set(&crate::ssr::catalog()?, &p, &id, new).await.map_err(AppError::from_core)?;
    Ok(match f.locks_at {
        Some(at) => format!("Floor saved; locked from {at} on (it can then only grow)."),
        None => "Floor saved (unlocked: it can still be changed or removed).".into(),
    })
}

#[server(prefix = "/_sfn", endpoint = "attach_repository")]
pub async fn attach_repository(location_id: String, key_file: String) -> Result<String, AppError> {
    use bulwark_core::rebuild::{self, Attach};
    let p = crate::ssr::principal().await?;
    let id = rebuild::attach(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &location_id, Attach { key_file }).await.map_err(AppError::from_core)?;
    Ok(format!("Repository {id} attached."))
}

#[server(prefix = "/_sfn", endpoint = "rebuild_catalog")]
pub async fn rebuild_catalog() -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::rebuild::rebuild(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p).await.map_err(AppError::from_core)?;
    Ok(format!(
        "Rebuilt from {} locations: {} snapshots read, {} executions and {} configurations added, {} WAL files recorded.",
        r.locations, r.snapshots, r.executions_created, r.configurations_created, r.wal_files
    ))
}

/// Rebuilds the index; answers what it did, as one sentence.
#[server(prefix = "/_sfn", endpoint = "repair_index")]
pub async fn repair_index(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let r = bulwark_core::locations::repair_index(&catalog, &secrets, &p, &id).await.map_err(AppError::from_core)?;
    let mut text = format!("Indexed {} packs ({} blobs) from their headers; replaced {} index files.", r.packs, r.blobs, r.index_files_replaced);
    if !r.unreadable_packs.is_empty() {
        text.push_str(&format!(" Unreadable pack headers: {}.", r.unreadable_packs.join("; ")));
    }
    if !r.index_files_kept.is_empty() {
        text.push_str(&format!(" Kept under Object Lock: {}.", r.index_files_kept.join("; ")));
    }
    Ok(text)
}

#[cfg(feature = "ssr")]
fn row(l: bulwark_core::locations::StorageLocation) -> LocationRow {
    let place = match l.provider.as_str() {
        "s3" => format!(
            "s3://{}/{} at {}",
            l.bucket.clone().unwrap_or_default(),
            l.path_prefix.clone().unwrap_or_default(),
            l.endpoint.clone().unwrap_or_else(|| "AWS".into())
        ),
        _ => l.path_prefix.clone().unwrap_or_default(),
    };
    let place = match l.object_lock_days.filter(|_| l.immutability != 0) {
        Some(days) => format!("{place} (Object Lock, {days} days)"),
        None => place,
    };
    let place = match &l.storage_class {
        Some(class) => format!("{place} [{class}]"),
        None => place,
    };
    LocationRow {
        id: l.id,
        name: l.location_name,
        tier: l.storage_type,
        provider: l.provider,
        place,
        cost_per_gb_month: l.cost_per_gb_month,
        repository_id: l.repository_id,
        last_test_ok: l.last_test_ok.map(|v| v != 0),
        last_test_message: l.last_test_message,
    }
}

#[server(prefix = "/_sfn", endpoint = "list_locations")]
pub async fn list_locations() -> Result<Vec<LocationRow>, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let list = bulwark_core::locations::list(&catalog, &p).await.map_err(AppError::from_core)?;
    Ok(list.into_iter().map(row).collect())
}

#[allow(clippy::too_many_arguments)]
#[server(prefix = "/_sfn", endpoint = "create_location")]
pub async fn create_location(
    location_name: String,
    storage_type: String,
    provider: String,
    path_prefix: String,
    endpoint: String,
    region: String,
    bucket: String,
    access_key: String,
    secret_key: String,
    cost_per_gb_month: String,
    cost_per_1k_requests: String,
    cost_per_gb_transfer: String,
    immutability: Option<String>,
    object_lock_days: String,
    storage_class: String,
) -> Result<LocationRow, AppError> {
    use bulwark_core::locations::{self, NewLocation};
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let some = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let price = |field: &str, text: &str| match text.trim() {
        "" => Ok(None),
        t => t.parse::<f64>().map(Some).map_err(|_| AppError::Invalid(format!("{field}: a number such as 0.023"))),
    };
    let object_lock_days = match object_lock_days.trim() {
        "" => None,
        text => Some(text.parse::<u32>().map_err(|_| AppError::Invalid("objectLockDays: a whole number of days".into()))?),
    };
    let provider_is_s3 = provider == "s3";
    let new = NewLocation {
        location_name,
        storage_type,
        provider,
        path_prefix: some(path_prefix),
        endpoint: some(endpoint),
        region: some(region),
        bucket: some(bucket),
        access_key: some(access_key),
        secret_key: some(secret_key),
        storage_class: some(storage_class).filter(|_| provider_is_s3),
        cost_per_gb_month: price("costPerGbMonth", &cost_per_gb_month)?,
        cost_per_1k_requests: price("costPer1kRequests", &cost_per_1k_requests)?,
        cost_per_gb_transfer: price("costPerGbTransfer", &cost_per_gb_transfer)?,
        availability_sla: None,
        immutability: immutability.is_some(),
        // The field only counts with the box ticked, as on the form.
        object_lock_days: object_lock_days.filter(|_| immutability.is_some()),
    };
    locations::create(&catalog, &secrets, &p, new).await.map(row).map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "test_location")]
pub async fn test_location(id: String) -> Result<TestOutcome, AppError> {
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let name = bulwark_core::locations::get(&catalog, &p, &id).await.map_err(AppError::from_core)?.location_name;
    let r = bulwark_core::locations::test_connection(&catalog, &secrets, &p, &id).await.map_err(AppError::from_core)?;
    Ok(TestOutcome { location: name, ok: r.ok, message: r.message })
}

#[server(prefix = "/_sfn", endpoint = "init_location")]
pub async fn init_location(id: String) -> Result<RecoveryKitView, AppError> {
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let init = bulwark_core::locations::init_repository(&catalog, &secrets, &p, &id).await.map_err(AppError::from_core)?;
    Ok(RecoveryKitView {
        repository_id: init.recovery_kit.repository_id,
        location: init.recovery_kit.location,
        key_file: init.key_file,
        instructions: init.recovery_kit.instructions,
    })
}

/// What a location holds, as one sentence.
#[server(prefix = "/_sfn", endpoint = "location_usage")]
pub async fn location_usage(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let name = bulwark_core::locations::get(&catalog, &p, &id).await.map_err(AppError::from_core)?.location_name;
    let u = bulwark_core::locations::usage(&catalog, &secrets, &p, &id).await.map_err(AppError::from_core)?;
    Ok(format!("{name}: {} bytes stored; packs: {}; snapshots: {}", u.bytes_stored, u.packs, u.snapshots))
}

#[server(prefix = "/_sfn", endpoint = "delete_location")]
pub async fn delete_location(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    bulwark_core::locations::delete(&catalog, &p, &id).await.map_err(AppError::from_core)
}
