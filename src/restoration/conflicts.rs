//! What a restoration's target already holds, found before anything is written: what the
//! source's kind would write over (tables, files, objects: `Source::conflicts`), what there is
//! newer than the backup, and another restoration or a backup running against the same place. A request that finds some stops at `conflict_detected`
//! with alternatives the console offers as buttons: a new database, directory or prefix inside
//! the same target, a staging target of the same type, or writing over what is there after a
//! safety snapshot of it (`super::safety`).

use super::request::Resolved;
use super::targets::RestoreTarget;
use super::{Environment, RestorationError, TargetType};
use crate::configurations;
use crate::executions;
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::restores::{Place, Targets};
use crate::sources::{self, RestoreRun};

pub use bulwark_types::{Alternative, ConflictResolution};

/// What the target holds that the restore would write over, one sentence each; another
/// restoration into the same place (not a choice: wait for it, or cancel it) is refused.
pub(super) async fn of(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, resolved: &Resolved, except: Option<&str>) -> Result<Vec<String>, RestorationError> {
    busy(catalog, &resolved.target_identifier, except).await?;
    backed_up_now(catalog, resolved).await?;
    let run = RestoreRun { catalog, secrets, targets: reach, actor };
    let request = super::request::with_secrets(resolved.request.clone(), &resolved.secrets);
    Ok(sources::of(&resolved.configuration).conflicts(&run, &resolved.configuration, &request, &resolved.execution).await?)
}

/// A backup running (or queued) of what the restore writes over is refused: the restore would
/// change the source under it, and the backup would record a half-restored state. (Backups
/// refuse to start while such a restore waits to run or runs: `executions::insert_in`.)
pub(super) async fn backed_up_now(catalog: &Catalog, resolved: &Resolved) -> Result<(), RestorationError> {
    for configuration_id in &resolved.over_sources {
        let running: Option<(String, String)> = sqlx::query_as(&format!(
            "SELECT id, status FROM backup_executions WHERE configuration_id = $1 AND status IN ('queued', 'running') AND {} LIMIT 1",
            executions::of_source("")
        ))
        .bind(configuration_id)
        .fetch_optional(catalog.pool())
        .await?;
        if let Some((id, status)) = running {
            let configuration = configurations::find(catalog, configuration_id).await?;
            return Err(RestorationError::Conflict(format!(
                "backup {id} of {} is {status} against {}: wait for it to finish, or cancel it",
                configuration.name,
                resolved.place.describe()
            )));
        }
    }
    Ok(())
}

/// Another restoration waiting for or writing into `target_identifier` (but `except`) is
/// refused: wait for it, or cancel it.
pub(super) async fn busy(catalog: &Catalog, target_identifier: &str, except: Option<&str>) -> Result<(), RestorationError> {
    let busy: Option<(String, String)> = sqlx::query_as(
        "SELECT id, status FROM restoration_jobs WHERE target_identifier = $1 AND id <> $2 AND status IN ('approval_required', 'initiated', 'running') LIMIT 1",
    )
    .bind(target_identifier)
    .bind(except.unwrap_or(""))
    .fetch_optional(catalog.pool())
    .await?;
    match busy {
        Some((id, status)) => Err(RestorationError::Conflict(format!("restoration {id} into {target_identifier} is {status}: wait for it, or cancel it"))),
        None => Ok(()),
    }
}

/// Whether writing over what the place holds is a choice (after a safety snapshot): files and
/// objects that differ are replaced, a database's tables are replaced in one transaction; a
/// data directory is never restored over, nor are a group's members.
pub(super) fn may_overwrite(place: &Place) -> bool {
    matches!(place, Place::Directory { .. } | Place::Bucket { .. } | Place::Database { .. })
}

/// The ways around the conflicts the console offers.
pub(super) async fn alternatives(catalog: &Catalog, resolved: &Resolved, stamp: &str) -> Result<Vec<Alternative>, RestorationError> {
    let mut out = Vec::new();
    let Some(target) = &resolved.target else { return Ok(out) };
    let base = resolved.target_identifier.rsplit('/').next().filter(|_| resolved.target_identifier.contains('/')).unwrap_or(&resolved.configuration.name);
    let slug: String = base.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let fresh = format!("{}_restored_{stamp}", slug.trim_matches('_'));
    // A database named by the target itself takes nothing inside it.
    let names_database = target.target_type == TargetType::Postgresql && target.settings().url.as_deref().and_then(|u| url::Url::parse(u).ok()).is_some_and(|u| !u.path().trim_matches('/').is_empty());
    if !names_database {
        out.push(Alternative {
            label: format!("Restore into a new {} inside {}", noun(target.target_type), target.name),
            target_environment: target.environment,
            target_identifier: format!("{}/{fresh}", target.name),
            conflict_resolution: None,
        });
    }
    let staging: Vec<RestoreTarget> = sqlx::query_as::<_, RestoreTarget>(&format!("SELECT {} FROM restore_targets WHERE environment = 'staging' AND target_type = $1 AND id <> $2 ORDER BY name", super::targets::COLUMNS))
        .bind(target.target_type.as_str())
        .bind(&target.id)
        .fetch_all(catalog.pool())
        .await
        .map_err(super::targets::TargetError::from)?;
    for s in staging {
        let server_only = s.target_type == TargetType::Postgresql && s.settings().url.as_deref().and_then(|u| url::Url::parse(u).ok()).is_some_and(|u| u.path().trim_matches('/').is_empty());
        let identifier = if server_only || matches!(s.target_type, TargetType::Directory | TargetType::S3Bucket | TargetType::DataDirectory) { format!("{}/{fresh}", s.name) } else { s.name.clone() };
        out.push(Alternative { label: format!("Restore into staging: {}", s.name), target_environment: Environment::Staging, target_identifier: identifier, conflict_resolution: None });
    }
    if may_overwrite(&resolved.place) {
        let how = match resolved.place {
            Place::Database { .. } => format!("Replace the tables {} holds", resolved.target_identifier),
            _ => format!("Write over what {} holds (a delta restore: what differs is replaced)", resolved.target_identifier),
        };
        out.push(Alternative {
            label: format!("{how}, after a safety snapshot of it that a rollback puts back"),
            target_environment: target.environment,
            target_identifier: resolved.target_identifier.clone(),
            conflict_resolution: Some(ConflictResolution::Overwrite),
        });
    }
    Ok(out)
}

fn noun(kind: TargetType) -> &'static str {
    match kind {
        TargetType::Postgresql => "database",
        TargetType::Directory | TargetType::DataDirectory => "directory",
        TargetType::S3Bucket => "prefix",
    }
}
