//! A restoration request checked and resolved before anything is recorded: the backup (found,
//! completed, not deleted, not failed verification), where it goes (a named target of the
//! environment asked for, or the place an older door's request names, which then decides the
//! environment), the request its source's kind takes, and the hash an approval is bound to.

use std::path::{Component, Path};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::targets::{self, RestoreTarget, TargetError};
use super::{Environment, RestorationError, RestorationRequest, RestorationScope, RestorationType, TargetType};
use crate::configurations::{self, Configuration};
use crate::engine::repo::tree;
use crate::engine::source::bucket::name_to_key;
use crate::executions::{self, Execution, ExecutionStatus};
use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::restores::{Destination, Place, Targets};
use crate::sources::{self, RestoreRun};
use crate::wal_archive;

/// The fields of kinds' requests that carry secrets: sealed apart, never stored or hashed.
const SECRET_FIELDS: [&str; 2] = ["targetPassword", "targetSecretKey"];

/// Everything a restoration job records about what it will do.
pub(super) struct Resolved {
    pub execution: Execution,
    pub configuration: Configuration,
    pub restoration_type: RestorationType,
    pub environment: Environment,
    pub target_identifier: String,
    pub restore_target_id: Option<String>,
    pub point_in_time: Option<String>,
    pub scope: RestorationScope,
    /// The kind's request without its secrets.
    pub request: Value,
    /// The secrets taken out of it, by field path (`/targetPassword`).
    pub secrets: Map<String, Value>,
    /// Where it writes.
    pub place: Place,
    /// The named target, when one was named.
    pub target: Option<RestoreTarget>,
    /// The configurations whose sources the place writes over or into: none of them may be
    /// backed up while it runs.
    pub over_sources: Vec<String>,
}

impl Resolved {
    /// SHA-256 over what the restore would do (never the secrets): an approval holds it, and
    /// the job runs only while the request and its target still hash the same.
    pub fn hash(&self, accept_unverified: bool, resolution: Option<super::ConflictResolution>) -> String {
        let content = serde_json::json!({
            "conflictResolution": resolution,
            "executionId": self.execution.id, "restorationType": self.restoration_type, "environment": self.environment,
            "targetIdentifier": self.target_identifier, "restoreTargetId": self.restore_target_id,
            "pointInTime": self.point_in_time, "scope": self.scope, "request": self.request, "acceptUnverified": accept_unverified,
        });
        hex::encode(Sha256::digest(content.to_string().as_bytes()))
    }
}

/// The backup a restoration starts from: completed, still there, and not failed verification;
/// a safety snapshot (of a restoration's target, not of the source) only for a `rollback`.
async fn backup(catalog: &Catalog, actor: &Principal, execution_id: &str, rollback: bool) -> Result<(Execution, Configuration), RestorationError> {
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    match (execution.execution_type == executions::SAFETY, rollback) {
        (true, false) => return Err(RestorationError::Invalid(format!("backupExecutionId: execution {execution_id} is the safety snapshot of a restoration's target, not a backup of its source; roll that restoration back instead"))),
        (false, true) => return Err(RestorationError::Invalid(format!("execution {execution_id} is not a safety snapshot: a rollback puts back only what a restoration wrote over"))),
        _ => {}
    }
    if execution.status != ExecutionStatus::Completed {
        return Err(RestorationError::Invalid(format!("backupExecutionId: execution {execution_id} is {}: only completed backups restore", execution.status)));
    }
    if execution.verification_status.as_deref() == Some("failed") {
        return Err(RestorationError::Invalid(format!(
            "backupExecutionId: the backup of execution {execution_id} failed verification{}; restore another one",
            execution.verified_at.as_deref().map(|at| format!(" at {at}")).unwrap_or_default()
        )));
    }
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    Ok((execution, configuration))
}

/// Resolves the seeds' request: a named target of the environment asked for.
pub(super) async fn from_seeds(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, r: &RestorationRequest, rollback: bool) -> Result<Resolved, RestorationError> {
    let (execution, configuration) = backup(catalog, actor, &r.backup_execution_id, rollback).await?;
    let (target, inside, place) = named_place(catalog, reach, &r.target_identifier).await?;
    let inside = inside.as_deref();
    let settings = target.settings();
    // The place's own environment counts too: a staging target on the server or below the
    // directory of a production one, or over a backed-up source, is not a way around approval.
    let (environment, over_sources) = environment_of(catalog, secrets, &place).await?;
    let environment = stricter(target.environment, environment);
    // The target's environment, or the stricter one its place is in (as a recorded request,
    // run or rolled back, names it).
    if r.target_environment != target.environment && r.target_environment != environment {
        return Err(RestorationError::Invalid(format!("targetIdentifier: {:?} is a {} target, not {}", target.name, target.environment, r.target_environment)));
    }
    let destination = Destination {
        place,
        secret: target.secret(secrets)?,
        region: settings.region,
        access_key: settings.access_key,
        restoration_type: r.restoration_type,
        scope: r.restoration_scope.clone().unwrap_or_default(),
        point_in_time: r.point_in_time_target.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string),
        overwrite: r.conflict_resolution == Some(super::ConflictResolution::Overwrite),
    };
    if let Some(at) = &destination.point_in_time {
        inside_window(catalog, actor, &configuration, at).await?;
    }
    let source = sources::of(&configuration);
    let mut request = source.request_for(&destination)?;
    in_backup(catalog, secrets, &execution, &destination.scope).await?;
    // The kind checks its own request as it would an older door's: the same rules either way.
    let run = RestoreRun { catalog, secrets, targets: reach, actor };
    source.check(&run, &configuration, &request).await?;
    let secrets = take_secrets(&mut request);
    let target_identifier = match inside {
        Some(inside) => format!("{}/{inside}", target.name),
        None => target.name.clone(),
    };
    Ok(Resolved {
        execution,
        configuration,
        restoration_type: r.restoration_type,
        environment,
        target_identifier,
        restore_target_id: Some(target.id.clone()),
        point_in_time: destination.point_in_time,
        scope: destination.scope,
        request,
        secrets,
        place: destination.place,
        target: Some(target),
        over_sources,
    })
}

/// The named target a target identifier (`name` or `name/inside`) names, what is inside it,
/// and the place a restore there writes.
pub(super) async fn named_place(catalog: &Catalog, reach: &Targets, target_identifier: &str) -> Result<(RestoreTarget, Option<String>, Place), RestorationError> {
    let (name, inside) = match target_identifier.trim().split_once('/') {
        Some((name, inside)) => (name.trim(), Some(inside.trim()).filter(|i| !i.is_empty())),
        None => (target_identifier.trim(), None),
    };
    let target = targets::named(catalog, name)
        .await?
        .ok_or_else(|| RestorationError::Invalid(format!("targetIdentifier: no restore target is named {name:?}; add one in the Restoration page's targets")))?;
    let place = place_of(reach, &target, inside)?;
    Ok((target, inside.map(str::to_string), place))
}

/// Resolves a request of an older restore door (the kind's own shape, a place rather than a
/// named target): the environment is the strictest of the named targets that hold the place,
/// production when it writes over a backed-up source, development otherwise.
pub(super) async fn from_door(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, execution_id: &str, mut request: Value, rollback: bool) -> Result<Resolved, RestorationError> {
    refuse_other_endpoints(&request)?;
    let (execution, configuration) = backup(catalog, actor, execution_id, rollback).await?;
    let run = RestoreRun { catalog, secrets, targets: reach, actor };
    let place = sources::of(&configuration).check(&run, &configuration, &request).await?;
    let (environment, over_sources) = environment_of(catalog, secrets, &place).await?;
    let chosen = |field: &str| request.get(field).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let point_in_time = ["targetTime", "restorePoint"].iter().find_map(|f| request.get(*f).and_then(Value::as_str)).map(str::to_string);
    let restoration_type = if point_in_time.is_some() {
        RestorationType::PointInTime
    } else if chosen("tables") {
        RestorationType::TableLevel
    } else if chosen("include") {
        RestorationType::Partial
    } else {
        RestorationType::Full
    };
    let secrets = take_secrets(&mut request);
    Ok(Resolved {
        execution,
        configuration,
        restoration_type,
        environment,
        target_identifier: place.describe(),
        restore_target_id: None,
        point_in_time,
        scope: RestorationScope::default(),
        request,
        secrets,
        place,
        target: None,
        over_sources,
    })
}

/// Everything the scope names is in the backup: its tables (as the dump recorded them), paths
/// (files or directories of the snapshot) and key prefixes (some object starts with each).
async fn in_backup(catalog: &Catalog, secrets: &SecretBox, execution: &Execution, scope: &RestorationScope) -> Result<(), RestorationError> {
    let invalid = |m: String| RestorationError::Invalid(m);
    if !scope.tables.is_empty() {
        let metadata: Value = serde_json::from_str(&execution.recovery_metadata).unwrap_or_default();
        // Dumps record their tables; one that did not is checked by pg_restore instead.
        if let Some(recorded) = metadata["postgresql"]["tables"].as_array() {
            let names: Vec<String> = recorded.iter().filter_map(|t| Some(format!("{}.{}", t["schema"].as_str()?, t["name"].as_str()?))).collect();
            for table in &scope.tables {
                let qualified = if table.contains('.') { table.clone() } else { format!("public.{table}") };
                if !names.contains(&qualified) {
                    return Err(invalid(format!("restorationScope.tables: the backup has no table {table} (it has {})", names.join(", "))));
                }
            }
        }
    }
    if scope.paths.is_empty() && scope.prefixes.is_empty() {
        return Ok(());
    }
    let (Some(location), Some(snapshot_id)) = (&execution.storage_location_id, &execution.snapshot_id) else {
        return Ok(());
    };
    let crate::locations::SnapshotSource { repo, snapshot, .. } = crate::locations::open_snapshot(catalog, secrets, location, snapshot_id).await.map_err(crate::restores::RestoreError::from)?;
    let index = repo.load_index().await.map_err(crate::restores::RestoreError::from)?;
    for path in &scope.paths {
        let path = path.trim().trim_matches('/');
        let found = tree::find_file(&repo, &index, &snapshot, path).await.is_ok() || tree::list_dir(&repo, &index, &snapshot, path).await.is_ok();
        if path.is_empty() || !found {
            return Err(invalid(format!("restorationScope.paths: the backup has no file or directory {path:?}")));
        }
    }
    if !scope.prefixes.is_empty() {
        let keys: Vec<String> = tree::list_dir(&repo, &index, &snapshot, "").await.map_err(crate::restores::RestoreError::from)?.iter().filter_map(|n| name_to_key(&n.path)).collect();
        if let Some(prefix) = scope.prefixes.iter().find(|p| !keys.iter().any(|k| k.starts_with(p.as_str()))) {
            return Err(invalid(format!("restorationScope.prefixes: no object of the backup starts with {prefix:?}")));
        }
    }
    Ok(())
}

/// Fields only a named target may set: another S3 endpoint and its keys would carry a backup
/// anywhere, past the server's allowed places.
const TARGET_ONLY_FIELDS: [&str; 4] = ["targetEndpoint", "targetRegion", "targetAccessKey", "targetSecretKey"];

fn refuse_other_endpoints(request: &Value) -> Result<(), RestorationError> {
    match request {
        Value::Object(map) => {
            if let Some(field) = TARGET_ONLY_FIELDS.iter().find(|f| map.contains_key(**f)) {
                return Err(RestorationError::Invalid(format!("{field}: another endpoint and its keys come only from a named restore target (targetIdentifier)")));
            }
            map.values().try_for_each(refuse_other_endpoints)
        }
        _ => Ok(()),
    }
}

/// Moves every secret field (at any depth: a group's members) out of `request`.
fn take_secrets(request: &mut Value) -> Map<String, Value> {
    fn walk(value: &mut Value, path: String, out: &mut Map<String, Value>) {
        match value {
            Value::Object(map) => {
                for field in SECRET_FIELDS {
                    if let Some(secret) = map.remove(field).filter(|v| !v.is_null()) {
                        out.insert(format!("{path}/{field}"), secret);
                    }
                }
                for (key, inner) in map.iter_mut() {
                    walk(inner, format!("{path}/{}", key.replace('~', "~0").replace('/', "~1")), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Map::new();
    walk(request, String::new(), &mut out);
    out
}

/// Puts the secrets back for the run.
pub(super) fn with_secrets(mut request: Value, secrets: &Map<String, Value>) -> Value {
    for (path, secret) in secrets {
        let (parent, field) = path.rsplit_once('/').unwrap_or(("", path));
        if let Some(Value::Object(map)) = request.pointer_mut(parent) {
            map.insert(field.to_string(), secret.clone());
        }
    }
    request
}

/// A point in time inside the configuration's restorable window.
async fn inside_window(catalog: &Catalog, actor: &Principal, configuration: &Configuration, at: &str) -> Result<(), RestorationError> {
    let parsed = chrono::DateTime::parse_from_rfc3339(at).map_err(|e| RestorationError::Invalid(format!("pointInTimeTarget: {e}; use RFC 3339, e.g. 2026-11-23T01:02:03Z")))?;
    let at = crate::platform::time::to_text(parsed.with_timezone(&chrono::Utc));
    let window = wal_archive::window(catalog, actor, &configuration.id).await.map_err(|e| RestorationError::Invalid(format!("pointInTimeTarget: {e}")))?;
    match (&window.earliest, &window.latest) {
        (Some(earliest), Some(latest)) if *earliest <= at && at <= *latest => Ok(()),
        (Some(earliest), Some(latest)) => Err(RestorationError::Invalid(format!("pointInTimeTarget: {at} is outside the restorable window, {earliest} to {latest}"))),
        _ => Err(RestorationError::Invalid(format!("pointInTimeTarget: {:?} has no restorable window yet (no base backup)", configuration.name))),
    }
}

/// Where a named target (and the database, directory or prefix inside it) is.
fn place_of(reach: &Targets, target: &RestoreTarget, inside: Option<&str>) -> Result<Place, RestorationError> {
    let invalid = |m: String| RestorationError::Invalid(format!("targetIdentifier: {m}"));
    let settings = target.settings();
    let within = |base: &str| -> Result<std::path::PathBuf, RestorationError> {
        let mut path = Path::new(base).to_path_buf();
        if let Some(inside) = inside {
            let relative = Path::new(inside);
            if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
                return Err(invalid(format!("{inside:?} is not a directory inside {:?} (no leading '/', '.' or '..')", target.name)));
            }
            path.push(relative);
        }
        Ok(path)
    };
    let checked = |e: crate::restores::RestoreError| invalid(e.to_string());
    Ok(match target.target_type {
        TargetType::Postgresql => {
            let mut url = url::Url::parse(settings.url.as_deref().unwrap_or_default()).map_err(|e| invalid(e.to_string()))?;
            let named = url.path().trim_matches('/').to_string();
            if let (Some(_), false) = (inside, named.is_empty()) {
                return Err(invalid(format!("{:?} names its database ({named}): restore into it by the target's name alone, or name a server-only target", target.name)));
            }
            if let Some(database) = inside {
                let valid = database.len() <= 63 && database.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err(invalid(format!("{database:?} is not a database name (letters, digits, '_' and '-', up to 63)")));
                }
                url.set_path(&format!("/{database}"));
            } else if url.path().trim_matches('/').is_empty() {
                return Err(invalid(format!("{:?} is a server: name the database, as {}/database", target.name, target.name)));
            }
            Place::database(reach, "targetIdentifier", url.as_str()).map_err(checked)?
        }
        TargetType::Directory => Place::Directory { path: reach.directory("targetIdentifier", &within(settings.path.as_deref().unwrap_or_default())?.display().to_string()).map_err(checked)? },
        TargetType::DataDirectory => {
            let path = reach.directory("targetIdentifier", &within(settings.path.as_deref().unwrap_or_default())?.display().to_string()).map_err(checked)?;
            Place::DataDirectory { path, port: settings.port }
        }
        TargetType::S3Bucket => {
            if inside.is_some_and(|i| i.len() > 512 || i.chars().any(char::is_control)) {
                return Err(invalid("a prefix of up to 512 characters, without control characters".into()));
            }
            let prefix = [settings.prefix.as_deref(), inside].into_iter().flatten().map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("/");
            Place::Bucket { endpoint: settings.endpoint, bucket: settings.bucket.unwrap_or_default(), prefix }
        }
    })
}

/// How strict an environment is: the lower, the stricter.
fn strictness(environment: Environment) -> u8 {
    match environment {
        Environment::Production => 0,
        Environment::DisasterRecovery => 1,
        Environment::Staging => 2,
        Environment::Development => 3,
    }
}

fn stricter(a: Environment, b: Environment) -> Environment {
    if strictness(a) <= strictness(b) { a } else { b }
}

/// The environment a place is in: production when it writes over (into, or above) what any
/// configuration backs up, else the strictest of the named targets it overlaps, else
/// development; and the configurations whose sources it writes over.
async fn environment_of(catalog: &Catalog, secrets: &SecretBox, place: &Place) -> Result<(Environment, Vec<String>), RestorationError> {
    let all: Vec<RestoreTarget> = sqlx::query_as::<_, RestoreTarget>(&format!("SELECT {} FROM restore_targets", targets::COLUMNS)).fetch_all(catalog.pool()).await.map_err(TargetError::from)?;
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM backup_configurations").fetch_all(catalog.pool()).await?;
    let mut sources = Vec::with_capacity(ids.len());
    for id in ids {
        sources.push(configurations::find(catalog, &id).await?);
    }
    let mut environment = Environment::Development;
    let mut over = Vec::new();
    for one in place.each() {
        for configuration in sources.iter().filter(|c| over_source(secrets, one, c)) {
            environment = Environment::Production;
            over.push(configuration.id.clone());
        }
        for target in all.iter().filter(|t| holds(t, one)) {
            environment = stricter(environment, target.environment);
        }
    }
    over.sort();
    over.dedup();
    Ok((environment, over))
}

/// A database server's host (lowercase, without IPv6 brackets), port and database.
fn server_of(url: &str) -> Option<(String, u16, String)> {
    let url = url::Url::parse(url).ok()?;
    Some((host_key(url.host_str()?), url.port().unwrap_or(5432), url.path().trim_matches('/').to_string()))
}

fn host_key(host: &str) -> String {
    host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

/// An endpoint compared by scheme, host and port, whatever its case or trailing slash.
fn endpoint_key(endpoint: &Option<String>) -> Option<String> {
    endpoint.as_deref().map(|e| e.trim().trim_end_matches('/').to_ascii_lowercase())
}

/// A path with its existing part's links resolved: two spellings of one directory compare
/// equal.
fn canonical(path: &Path) -> std::path::PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
    let mut out = existing.canonicalize().unwrap_or_else(|_| existing.to_path_buf());
    out.extend(rest.iter().rev());
    out
}

/// One directory holds the other (or they are the same).
fn nested(a: &Path, b: &Path) -> bool {
    let (a, b) = (canonical(a), canonical(b));
    a.starts_with(&b) || b.starts_with(&a)
}

fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_matches('/'), b.trim_matches('/'));
    a.is_empty() || b.is_empty() || a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
}

/// Whether `place` and a named target overlap: the same database (or any on a server-only
/// target's server), one directory inside the other, overlapping prefixes of one bucket.
fn holds(target: &RestoreTarget, place: &Place) -> bool {
    let s = target.settings();
    match (target.target_type, place) {
        (TargetType::Postgresql, Place::Database { host, port, database, .. }) => {
            server_of(s.url.as_deref().unwrap_or_default()).is_some_and(|(h, p, db)| h == host_key(host) && p == *port && (db.is_empty() || db == *database))
        }
        (TargetType::Directory | TargetType::DataDirectory, Place::Directory { path } | Place::DataDirectory { path, .. }) => {
            s.path.as_deref().is_some_and(|p| nested(Path::new(p), path))
        }
        (TargetType::S3Bucket, Place::Bucket { endpoint, bucket, prefix }) => {
            endpoint_key(&s.endpoint) == endpoint_key(endpoint) && s.bucket.as_deref() == Some(bucket.as_str()) && overlaps(s.prefix.as_deref().unwrap_or(""), prefix)
        }
        _ => false,
    }
}

/// Whether `place` writes over what `configuration` backs up.
fn over_source(secrets: &SecretBox, place: &Place, configuration: &Configuration) -> bool {
    match place {
        Place::Database { host, port, database, .. } => {
            server_of(&configuration.source_identifier).is_some_and(|(h, p, db)| h == host_key(host) && p == *port && db == *database)
        }
        Place::Directory { path } | Place::DataDirectory { path, .. } => {
            let source = Path::new(&configuration.source_identifier);
            configuration.source_type.is_files() && source.is_absolute() && nested(source, path)
        }
        Place::Members { .. } => false,
        Place::Bucket { endpoint, bucket, prefix } => configuration.source_type.is_bucket() && configuration.bucket(secrets).is_ok_and(|source| {
            let (b, p) = source.location();
            endpoint_key(&source.endpoint()) == endpoint_key(endpoint) && b == *bucket && overlaps(&p, prefix)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_leave_the_request_and_come_back() {
        let mut request = serde_json::json!({
            "targetUrl": "postgresql://app@localhost/x", "targetPassword": "pw",
            "members": { "a/b": { "targetSecretKey": "sk", "targetBucket": "bkt" }, "c": { "targetPassword": null } },
        });
        let original = request.clone();
        let secrets = take_secrets(&mut request);
        assert!(!request.to_string().contains("pw") && !request.to_string().contains("sk"), "{request}");
        assert_eq!(secrets.len(), 2);
        let mut back = with_secrets(request, &secrets);
        back["members"]["c"]["targetPassword"] = Value::Null;
        assert_eq!(back, original);
    }

    #[test]
    fn prefixes_overlap_only_on_whole_segments() {
        assert!(overlaps("", "anything"));
        assert!(overlaps("a/b", "a/b/c"));
        assert!(overlaps("a/b/", "a/b"));
        assert!(!overlaps("a/b", "a/bc"));
        assert!(!overlaps("x", "y"));
    }
}
