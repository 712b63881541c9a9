//! The restoration workflow: named restore targets.

use leptos::prelude::*;

pub use bulwark_types::{Environment, RestoreTargetLine, TargetType};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_restore_targets")]
pub async fn list_restore_targets() -> Result<Vec<RestoreTargetLine>, AppError> {
    let p = crate::ssr::principal().await?;
    let list = bulwark_core::restoration::targets::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)?;
    Ok(list
        .into_iter()
        .map(|t| RestoreTargetLine {
            place: t.place(),
            has_secret: t.connection_encrypted.is_some(),
            id: t.id,
            name: t.name,
            environment: t.environment,
            target_type: t.target_type,
            last_test_ok: t.last_test_ok.map(|ok| ok != 0),
            last_test_message: t.last_test_message,
        })
        .collect())
}

/// Adds a target from the form, which sends only the fields of the chosen type.
#[server(prefix = "/_sfn", endpoint = "create_restore_target")]
#[allow(clippy::too_many_arguments)]
pub async fn create_restore_target(
    name: String,
    environment: String,
    target_type: String,
    url: Option<String>,
    path: Option<String>,
    port: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    access_key: Option<String>,
    secret: Option<String>,
) -> Result<String, AppError> {
    use bulwark_core::restoration::targets::{self, NewTarget};
    let p = crate::ssr::principal().await?;
    let environment = Environment::parse(&environment).ok_or_else(|| AppError::Invalid("environment: production, staging, development or disaster_recovery".into()))?;
    let target_type = TargetType::parse(&target_type).ok_or_else(|| AppError::Invalid("targetType: postgresql, directory, s3_bucket or data_directory".into()))?;
    let text = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let port = match text(port) {
        None => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| AppError::Invalid("port: 1024 to 65535".into()))?),
    };
    let new = NewTarget {
        name,
        environment,
        target_type,
        url: text(url),
        path: text(path),
        port,
        endpoint: text(endpoint),
        region: text(region),
        bucket: text(bucket),
        prefix: text(prefix),
        access_key: text(access_key),
        secret: text(secret),
    };
    let t = targets::create(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &*crate::ssr::restore_targets()?, &p, new).await.map_err(AppError::from_core)?;
    Ok(format!("Restore target {:?} added ({} in {}).", t.name, t.target_type, t.environment))
}

/// Really connects; answers what it found as one sentence, or the error.
#[server(prefix = "/_sfn", endpoint = "test_restore_target")]
pub async fn test_restore_target(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::restoration::targets::test(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &*crate::ssr::restore_targets()?, &p, &id)
        .await
        .map_err(AppError::from_core)?;
    if r.ok { Ok(format!("Works: {}", r.message)) } else { Err(AppError::Invalid(format!("Failed: {}", r.message))) }
}

#[server(prefix = "/_sfn", endpoint = "delete_restore_target")]
pub async fn delete_restore_target(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    bulwark_core::restoration::targets::delete(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok("Restore target removed.".into())
}
