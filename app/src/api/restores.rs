//! Restoring an execution, by the kind of what it holds.

use leptos::prelude::*;

pub use bulwark_types::DirectoryRestored;
#[cfg(feature = "ssr")]
use bulwark_types::human_bytes;

use crate::error::AppError;

/// Restores a PostgreSQL execution; returns a sentence for the page.
#[server(prefix = "/_sfn", endpoint = "restore_execution")]
pub async fn restore_execution(id: String, target_url: String, target_password: String, tables: String) -> Result<String, AppError> {
    use bulwark_core::restores;
    use bulwark_core::sources::postgres_dump::{self, PostgresRestore};
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let request = PostgresRestore {
        target_url,
        target_password: Some(target_password).filter(|s| !s.is_empty()),
        tables: tables.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect(),
    };
    let _turn = restores::admission().await;
    let r = postgres_dump::restore_postgres(&catalog, &secrets, &*crate::ssr::restore_targets()?, &p, &id, request).await.map_err(AppError::from_core)?;
    let what = if r.selection.is_empty() { "the whole database".to_string() } else { r.selection.join(", ") };
    Ok(format!("Restored {what} into {} ({}) in {:.2} s", r.target, human_bytes(r.bytes), r.duration_seconds))
}

/// Restores a directory execution. `skip_unreadable` (a checkbox) restores every file that can
/// be read and names the others instead of stopping at the first damaged one.
#[server(prefix = "/_sfn", endpoint = "restore_directory")]
pub async fn restore_directory(id: String, target_path: String, include: String, skip_unreadable: Option<String>) -> Result<DirectoryRestored, AppError> {
    use bulwark_core::restores;
    use bulwark_core::sources::filesystem::DirectoryRestore;
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let include = include.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
    let request = DirectoryRestore { target_path, include, skip_unreadable: skip_unreadable.is_some() };
    let _turn = restores::admission().await;
    let r = bulwark_core::sources::filesystem::restore_directory(&catalog, &secrets, &*crate::ssr::restore_targets()?, &p, &id, request).await.map_err(AppError::from_core)?;
    let sentence = format!(
        "Restored {} files ({}) into {} in {:.2} s; {} already identical",
        r.files.unwrap_or(0),
        human_bytes(r.bytes),
        r.target,
        r.duration_seconds,
        r.unchanged.unwrap_or(0)
    );
    Ok(DirectoryRestored { sentence, unreadable: r.unreadable })
}

/// Restores every member of a consistency group's point; returns a sentence for the page.
#[server(prefix = "/_sfn", endpoint = "restore_group_point")]
pub async fn restore_group_point(id: String, targets: String) -> Result<String, AppError> {
    use bulwark_core::restores;
    use bulwark_core::sources::group::{self, GroupRestore};
    let p = crate::ssr::principal().await?;
    let request: GroupRestore = serde_json::from_str(&targets).map_err(|e| AppError::Invalid(format!("targets: {e}")))?;
    let _turn = restores::admission().await;
    let r = group::restore_group(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &*crate::ssr::restore_targets()?, &p, &id, request).await.map_err(AppError::from_core)?;
    let names: Vec<String> = r.members.iter().map(|m| m.name.clone()).collect();
    Ok(format!("Restored {} to the point of {} in {:.2} s", names.join(", "), r.point, r.duration_seconds))
}

/// Restores a bucket execution; returns a sentence for the page.
#[server(prefix = "/_sfn", endpoint = "restore_bucket")]
pub async fn restore_bucket(id: String, target_bucket: String, target_prefix: String, include: String) -> Result<String, AppError> {
    use bulwark_core::restores;
    use bulwark_core::sources::bucket::{self, BucketRestore};
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let given = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let request = BucketRestore {
        target_bucket: given(target_bucket),
        target_prefix: given(target_prefix),
        include: include.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect(),
    };
    let _turn = restores::admission().await;
    let r = bucket::restore_bucket(&catalog, &secrets, &p, &id, request).await.map_err(AppError::from_core)?;
    Ok(format!("Restored {} objects ({}) into {} in {:.2} s", r.files.unwrap_or(0), human_bytes(r.bytes), r.target, r.duration_seconds))
}
