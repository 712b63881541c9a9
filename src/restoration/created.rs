//! What a restore into a named target creates: a database, a directory, a bucket prefix or a
//! data directory (and the cluster started on it) that did not exist before. A restoration a
//! recovery run asks for is looked at before it is recorded ([`would_create`]) and keeps what
//! was found (`created_place`, read by [`of`] and [`of_run`]), so the rollback of the step, or a
//! drill's cleanup (also of a step whose node died), removes exactly that ([`remove`]) and never
//! a place that was there before.

use serde::{Deserialize, Serialize};
use sqlx::Connection;

use super::{RestorationError, TargetType, request};
use crate::configurations;
use crate::engine::source::bucket::{Bucket, BucketOptions};
use crate::engine::source::postgres::Database;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::restores::{Place, RestoreError, Targets};
use crate::sources::{postgres_cluster, postgres_dump};

/// A place a restore into `target_identifier` created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub target_identifier: String,
    /// The configuration restored (a bucket target without credentials of its own is reached
    /// with its source's).
    pub configuration_id: String,
    pub place: Place,
}

/// What the named target's place is now, with what reaches it.
struct Reached {
    place: Place,
    target_type: TargetType,
    secret: Option<String>,
    region: Option<String>,
    access_key: Option<String>,
}

async fn reach_of(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, target_identifier: &str) -> Result<Reached, RestorationError> {
    let (target, _, place) = request::named_place(catalog, reach, target_identifier).await?;
    let settings = target.settings();
    Ok(Reached { place, target_type: target.target_type, secret: target.secret(secrets)?, region: settings.region, access_key: settings.access_key })
}

/// Whether a restore of configuration `configuration_id` into `target_identifier` creates its
/// place: `Some` when the database, directory, prefix or data directory is not there yet. A
/// consistency group's members are not looked at (`None`).
pub async fn would_create(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, configuration_id: &str, target_identifier: &str) -> Result<Option<Created>, RestorationError> {
    let reached = reach_of(catalog, secrets, reach, target_identifier).await?;
    let exists = exists(catalog, secrets, configuration_id, &reached).await?;
    Ok((!exists).then(|| Created { target_identifier: target_identifier.to_string(), configuration_id: configuration_id.to_string(), place: reached.place }))
}

/// Whether the place is there now (a group's members always count as there).
async fn exists(catalog: &Catalog, secrets: &SecretBox, configuration_id: &str, reached: &Reached) -> Result<bool, RestorationError> {
    Ok(match &reached.place {
        Place::Database { url, database, .. } => {
            let maintenance = maintenance(url, &reached.secret)?;
            let options = maintenance.options().map_err(|e| RestoreError::Target(e.to_string()))?;
            let mut conn = sqlx::postgres::PgConnection::connect_with(&options).await.map_err(|e| RestoreError::Target(format!("{}: {e}", maintenance.url)))?;
            let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1").bind(database).fetch_optional(&mut conn).await.map_err(|e| RestoreError::Target(e.to_string()))?;
            let _ = conn.close().await;
            found.is_some()
        }
        Place::Directory { path } | Place::DataDirectory { path, .. } => path.symlink_metadata().is_ok(),
        Place::Bucket { .. } => bucket(catalog, secrets, configuration_id, reached).await?.holds_objects().await.map_err(|e| RestoreError::Target(e.to_string()))?,
        Place::Members { .. } => true,
    })
}

/// What restoration `id` created, when a recovery run asked for it and it creates a place.
pub async fn of(catalog: &Catalog, id: &str) -> Result<Option<Created>, RestorationError> {
    let text: Option<Option<String>> = sqlx::query_scalar("SELECT created_place FROM restoration_jobs WHERE id = $1").bind(id).fetch_optional(catalog.pool()).await?;
    read(text.ok_or_else(|| RestorationError::NotFound(id.to_string()))?.as_deref())
}

/// What the restorations recovery run `run_id` asked for (not their rollbacks) created, oldest
/// first.
pub async fn of_run(catalog: &Catalog, run_id: &str) -> Result<Vec<Created>, RestorationError> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT created_place FROM restoration_jobs WHERE recovery_execution_id = $1 AND rollback_of IS NULL AND created_place IS NOT NULL ORDER BY created_at")
            .bind(run_id)
            .fetch_all(catalog.pool())
            .await?;
    rows.iter().filter_map(|text| read(Some(text.as_str())).transpose()).collect()
}

/// The restorations run `run_id` asked for whose job is still queued or running: one a node
/// took over from a node that died runs again whatever became of its run, and may yet create
/// or write its place. A drill's cleanup waits for them, so what it removes is not made again
/// after it.
pub async fn unfinished_of_run(catalog: &Catalog, run_id: &str) -> Result<Vec<String>, RestorationError> {
    Ok(sqlx::query_scalar(
        "SELECT r.id FROM restoration_jobs r JOIN jobs j ON j.id = r.job_id
          WHERE r.recovery_execution_id = $1 AND j.state IN ('queued', 'running') ORDER BY r.created_at",
    )
    .bind(run_id)
    .fetch_all(catalog.pool())
    .await?)
}

fn read(text: Option<&str>) -> Result<Option<Created>, RestorationError> {
    text.map(|t| serde_json::from_str(t).map_err(|e| RestorationError::Invalid(format!("a restoration's record of what it created does not read: {e}")))).transpose()
}

/// Removes what a restore created (a drill's cleanup, a recovery step's rollback), audited in
/// `actor`'s name with `why`: a database dropped through the target's connection (its sessions
/// ended), a directory removed, the prefix's objects deleted, a cluster stopped and its data
/// directory removed. Gone already is fine: answers whether there was something to remove.
/// Refused when the target no longer names the same place: only what was recorded is ever
/// removed.
pub async fn remove(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, created: &Created, why: &str) -> Result<bool, RestorationError> {
    actor.require(Role::Operator)?;
    let reached = reach_of(catalog, secrets, reach, &created.target_identifier).await?;
    if reached.place != created.place {
        return Err(RestorationError::Conflict(format!(
            "{} now names {}, not {} that the restore created: remove that by hand",
            created.target_identifier,
            reached.place.describe(),
            created.place.describe()
        )));
    }
    if !exists(catalog, secrets, &created.configuration_id, &reached).await? {
        return Ok(false);
    }
    let gone = |path: &std::path::Path| match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RestoreError::Target(format!("removing {}: {e}", path.display()))),
        _ => Ok(()),
    };
    match &created.place {
        Place::Database { url, database, .. } => {
            postgres_dump::drop_database(&maintenance(url, &reached.secret)?, database).await.map_err(|e| RestoreError::Target(format!("dropping database {database}: {e}")))?;
        }
        Place::Directory { path } => gone(path)?,
        Place::DataDirectory { path, .. } => {
            postgres_cluster::stop_quietly(path).await;
            gone(path)?;
        }
        Place::Bucket { .. } => {
            let bucket = bucket(catalog, secrets, &created.configuration_id, &reached).await?;
            for object in bucket.list().await.map_err(|e| RestoreError::Target(e.to_string()))? {
                bucket.delete(&object.key).await.map_err(|e| RestoreError::Target(e.to_string()))?;
            }
        }
        Place::Members { .. } => return Err(RestorationError::Invalid("a consistency group's members are never removed".into())),
    }
    let detail = serde_json::json!({ "target": created.target_identifier, "place": created.place.describe(), "why": why });
    audit::record(catalog, Entry { actor: &Actor::from(actor), action: "restoration.remove_created", target_type: "restore_target", target_id: Some(&created.target_identifier), detail }).await?;
    Ok(true)
}

/// The server's `postgres` database, reached as the target reaches `url`'s.
fn maintenance(url: &str, secret: &Option<String>) -> Result<Database, RestorationError> {
    let mut server = url::Url::parse(url).map_err(|e| RestorationError::Invalid(format!("targetIdentifier: {e}")))?;
    server.set_path("/postgres");
    Ok(Database { url: server.to_string(), password: secret.clone() })
}

/// The bucket prefix a bucket target reaches: with the target's own credentials, or (a target
/// without them) the configuration's source credentials, as its restores do.
async fn bucket(catalog: &Catalog, secrets: &SecretBox, configuration_id: &str, reached: &Reached) -> Result<Bucket, RestorationError> {
    let Place::Bucket { endpoint, bucket, prefix } = &reached.place else {
        return Err(RestorationError::Invalid(format!("a {} target is not a bucket", reached.target_type)));
    };
    let unreachable = |e: crate::engine::source::SourceError| RestorationError::Restore(RestoreError::Target(e.to_string()));
    match &reached.access_key {
        Some(access_key) => {
            let options = BucketOptions { endpoint: endpoint.clone(), region: reached.region.clone(), access_key_id: access_key.clone(), path_style: None };
            Bucket::new(&format!("s3://{bucket}/{prefix}"), &options, reached.secret.as_deref().unwrap_or("")).map_err(unreachable)
        }
        None => configurations::find(catalog, configuration_id).await?.bucket(secrets)?.with_target(bucket, prefix).map_err(unreachable),
    }
}
