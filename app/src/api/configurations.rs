//! Backup configurations: the list, one with its executions and schedule, creating and running them, and restoring a continuous one to a point in time.

use leptos::prelude::*;

pub use bulwark_types::{ConfigurationDetail, ConfigurationRow, ExecutionLine, RecoveryWindowView, SlotLine, SourceKind};
#[cfg(feature = "ssr")]
use bulwark_types::human_bytes;

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "get_configuration")]
pub async fn get_configuration(id: String) -> Result<ConfigurationDetail, AppError> {
    use bulwark_core::{configurations, executions, wal_archive};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let c = configurations::get(&catalog, &p, &id).await.map_err(AppError::from_core)?;
    let continuous = wal_archive::is_continuous(&c);
    let window = if continuous {
        let w = wal_archive::window(&catalog, &p, &id).await.map_err(AppError::from_core)?;
        Some(RecoveryWindowView {
            earliest: w.earliest,
            latest: w.latest,
            base_backups: w.base_backups,
            wal_files: w.wal_files,
            wal_bytes: w.wal_bytes.max(0) as u64,
            last_wal_file: w.last_wal_file,
        })
    } else {
        None
    };
    // The address this page was asked for is the one the cluster can reach the server at.
    let headers: axum::http::HeaderMap = leptos_axum::extract().await.map_err(|_| AppError::Internal)?;
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:3000");
    let archive_command = continuous.then(|| wal_archive::archive_command(host, &id, "<WAL push token>"));
    let restore_roots = crate::ssr::restore_targets()?.roots().iter().map(|r| r.display().to_string()).collect();
    let history = executions::list(&catalog, &p, &id, 20).await.map_err(AppError::from_core)?;
    let schedule = executions::scheduled::schedule(&catalog, &p, &id, 10).await.map_err(AppError::from_core)?;
    Ok(ConfigurationDetail {
        id: c.id,
        name: c.name,
        source_type: c.source_type,
        source_identifier: c.source_identifier,
        frequency: c.frequency,
        continuous,
        window,
        archive_command,
        restore_roots,
        executions: history
            .into_iter()
            .map(|e| ExecutionLine {
                id: e.id,
                status: e.status,
                created_at: e.created_at,
                size_bytes: e.size_bytes.map(|b| b.max(0) as u64),
                duration_seconds: e.duration_seconds,
            })
            .collect(),
        schedule: schedule.expression,
        next_execution: schedule.next_execution,
        slots: schedule
            .slots
            .into_iter()
            .map(|s| SlotLine { slot_at: s.slot_at, node: s.node, execution_id: s.execution_id, outcome: s.outcome })
            .collect(),
    })
}

/// Creates a token that may only push this configuration's WAL; returns the `archive_command`
/// that carries it (its secret is shown this once).
#[server(prefix = "/_sfn", endpoint = "create_wal_token")]
pub async fn create_wal_token(id: String) -> Result<String, AppError> {
    use bulwark_core::wal_archive;
    let p = crate::ssr::principal().await?;
    let created = wal_archive::push_token(&crate::ssr::catalog()?, &p, &id, None).await.map_err(AppError::from_core)?;
    let headers: axum::http::HeaderMap = leptos_axum::extract().await.map_err(|_| AppError::Internal)?;
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    Ok(wal_archive::archive_command(host, &id, &created.secret))
}

/// Restores a continuous configuration to a point in time (a restoration job); returns a
/// sentence for the page.
#[server(prefix = "/_sfn", endpoint = "recover_configuration")]
pub async fn recover_configuration(id: String, target_directory: String, target: String, target_time: String, restore_point: String, port: String) -> Result<String, AppError> {
    use bulwark_core::sources::postgres_cluster::{PhysicalRestore, base_backup_for};
    let p = crate::ssr::principal().await?;
    let given = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let (target_time, restore_point) = match target.as_str() {
        "time" => (Some(given(target_time).ok_or_else(|| AppError::Invalid("targetTime: give the time to restore to".into()))?), None),
        "restore_point" => (None, Some(given(restore_point).ok_or_else(|| AppError::Invalid("restorePoint: give the restore point's name".into()))?)),
        _ => (None, None),
    };
    let port = match given(port) {
        None => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| AppError::Invalid("port: a port number, 1 to 65535".into()))?),
    };
    let request = PhysicalRestore { target_directory, target_time, restore_point, port };
    let base = base_backup_for(&crate::ssr::catalog()?, &p, &id, &request).await.map_err(AppError::from_core)?;
    let r = match super::restores::through_door(&p, &base, serde_json::to_value(request).unwrap_or_default()).await? {
        Ok(report) => report,
        Err(waiting) => return Ok(waiting),
    };
    let running = match r["port"].as_u64() {
        Some(port) => format!(", running on port {port}"),
        None => ", ready to start".into(),
    };
    let replayed = r["recoveredTo"].as_str().map(|t| format!("; last transaction replayed: {t}")).unwrap_or_default();
    Ok(format!(
        "Restored to {} into {}{running} in {:.2} s ({} of base backup, {} WAL files){replayed}",
        r["recoveryTarget"].as_str().unwrap_or_default(),
        r["dataDirectory"].as_str().unwrap_or_default(),
        r["durationSeconds"].as_f64().unwrap_or_default(),
        human_bytes(r["bytes"].as_u64().unwrap_or_default()),
        r["walFiles"].as_u64().unwrap_or_default()
    ))
}

#[server(prefix = "/_sfn", endpoint = "list_configurations")]
pub async fn list_configurations() -> Result<Vec<ConfigurationRow>, AppError> {
    let p = crate::ssr::principal().await?;
    let list = bulwark_core::configurations::list(&crate::ssr::catalog()?, &p).await.map_err(AppError::from_core)?;
    Ok(list
        .into_iter()
        .map(|s| ConfigurationRow {
            id: s.configuration.id,
            name: s.configuration.name,
            source_type: s.configuration.source_type,
            source_identifier: s.configuration.source_identifier,
            frequency: s.configuration.frequency,
            priority_level: s.configuration.priority_level,
            rto_minutes: s.configuration.rto_minutes,
            rpo_minutes: s.configuration.rpo_minutes,
            status: s.last_run.as_ref().map(|e| e.status),
            last_execution_id: s.last_run.map(|e| e.id),
            next_execution: s.next_execution,
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
#[server(prefix = "/_sfn", endpoint = "create_configuration")]
pub async fn create_configuration(
    name: String,
    source_type: String,
    source_identifier: String,
    source_password: String,
    frequency: String,
    schedule: String,
    compression: String,
    priority_level: String,
    rto_minutes: String,
    rpo_minutes: String,
    storage_location_id: String,
    keep_last: String,
    keep_daily: String,
    keep_weekly: String,
    keep_monthly: String,
    max_age_days: String,
    endpoint: String,
    region: String,
    access_key_id: String,
    members: String,
) -> Result<String, AppError> {
    use bulwark_core::configurations::{self, NewConfiguration};
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let number = |field: &str, text: &str| -> Result<Option<i64>, AppError> {
        match text.trim() {
            "" => Ok(None),
            t => t.parse().map(Some).map_err(|_| AppError::Invalid(format!("{field}: a whole number"))),
        }
    };
    let kind = SourceKind::parse(&source_type);
    let is_bucket = kind.is_some_and(SourceKind::is_bucket);
    let given = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let is_group = kind == Some(SourceKind::ConsistencyGroup);
    let source_options = if is_bucket {
        Some(serde_json::json!({ "endpoint": given(endpoint), "region": given(region), "accessKeyId": access_key_id.trim() }))
    } else if is_group {
        // Members are named as the list shows them; the group keeps their ids.
        let all = configurations::list(&catalog, &p).await.map_err(AppError::from_core)?;
        let mut ids = Vec::new();
        for name in members.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let found = all.iter().find(|c| c.configuration.name == name).ok_or_else(|| AppError::Invalid(format!("sourceOptions.members: no configuration named {name:?}")))?;
            ids.push(found.configuration.id.clone());
        }
        Some(serde_json::json!({ "members": ids }))
    } else {
        None
    };
    // Only the rules given; an empty policy keeps everything.
    let mut policy = serde_json::Map::new();
    for (field, text) in [("keepLast", &keep_last), ("keepDaily", &keep_daily), ("keepWeekly", &keep_weekly), ("keepMonthly", &keep_monthly), ("maxAgeDays", &max_age_days)] {
        if let Some(n) = number(&format!("retentionPolicy.{field}"), text)? {
            policy.insert(field.into(), n.into());
        }
    }
    let new = NewConfiguration {
        name,
        backup_type: if is_group { "full_system".into() } else { "full".into() },
        source_type,
        source_identifier,
        frequency,
        schedule: given(schedule),
        retention_policy: Some(serde_json::Value::Object(policy)),
        encryption: true,
        compression,
        compression_enabled: None,
        priority_level: number("priorityLevel", &priority_level)?.unwrap_or(5),
        rto_minutes: number("rtoMinutes", &rto_minutes)?,
        rpo_minutes: number("rpoMinutes", &rpo_minutes)?,
        storage_location_ids: if storage_location_id.is_empty() { vec![] } else { vec![storage_location_id] },
        source_password: Some(source_password).filter(|s| !s.is_empty()),
        source_options,
    };
    configurations::create(&catalog, &secrets, &p, new).await.map(|c| c.id).map_err(AppError::from_core)
}

/// Queues a backup now; returns the execution's id.
#[server(prefix = "/_sfn", endpoint = "run_configuration")]
pub async fn run_configuration(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let execution = bulwark_core::executions::start(&crate::ssr::catalog()?, &p, &id, "manual").await.map_err(AppError::from_core)?;
    Ok(execution.id)
}
