//! Named restore targets: where restores may go, per environment. A target is a PostgreSQL
//! server (a database on it, or a new one), a directory, a bucket and prefix, or a data
//! directory for point-in-time restores. Its secret (a password, a secret access key) is
//! sealed like a source's credentials and never shown again.
//!
//! A target cannot widen what the server allows: its directory must be under a restore root
//! and its database server one of the restore hosts (`crate::restores::Targets`), checked when
//! it is saved and again when it is tested or used.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use super::{Environment, TargetType};
use crate::engine::source::postgres::describe;
use crate::engine::storage::s3::{S3Settings, S3Storage, endpoint_problem};
use crate::error::{Classify, Kind};
use crate::platform::audit::{self, Actor, AuditError, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::platform::secrets::{SecretBox, SecretError};
use crate::platform::time;
use crate::restores::Targets;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    Invalid(String),
    #[error("restore target {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl From<sqlx::Error> for TargetError {
    fn from(e: sqlx::Error) -> Self {
        TargetError::Catalog(CatalogError::Query(e))
    }
}

impl From<AuditError> for TargetError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Catalog(c) => TargetError::Catalog(c),
            AuditError::Forbidden(a) => TargetError::Auth(a),
        }
    }
}

impl Classify for TargetError {
    fn kind(&self) -> Kind {
        match self {
            TargetError::Invalid(_) => Kind::Invalid,
            TargetError::NotFound(_) => Kind::NotFound,
            TargetError::Conflict(_) => Kind::Conflict,
            TargetError::Auth(e) => e.kind(),
            TargetError::Catalog(e) => e.kind(),
            TargetError::Secret(e) => e.kind(),
        }
    }
}

/// A target as stored and shown (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreTarget {
    pub id: String,
    pub name: String,
    pub environment: Environment,
    pub target_type: TargetType,
    /// [`Settings`] as JSON text: where it is, without its secret.
    #[schema(value_type = Settings)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub settings: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub last_test_at: Option<String>,
    #[schema(value_type = Option<bool>)]
    #[serde(serialize_with = "serialize_test_ok")]
    pub last_test_ok: Option<i64>,
    pub last_test_message: Option<String>,
    #[serde(skip)]
    pub connection_encrypted: Option<String>,
}

fn serialize_test_ok<S: serde::Serializer>(ok: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&ok.map(|v| v != 0))
}

pub(super) const COLUMNS: &str = "id, name, environment, target_type, settings, created_by, created_at, updated_at, last_test_at, last_test_ok, \
    last_test_message, connection_encrypted";

/// Where a target is. Each type uses its own fields: `url` (postgresql), `path` (directory),
/// `path` and `port` (data_directory), `endpoint`, `region`, `bucket`, `prefix` and `accessKey`
/// (s3_bucket).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
}

/// The port a cluster restored into a data directory listens on, unless the target says.
pub const DEFAULT_CLUSTER_PORT: u16 = 5433;

impl RestoreTarget {
    pub fn settings(&self) -> Settings {
        serde_json::from_str(&self.settings).unwrap_or_default()
    }

    /// Where it is, in one line: a database URL, a directory, `s3://bucket/prefix at endpoint`.
    pub fn place(&self) -> String {
        let s = self.settings();
        match self.target_type {
            TargetType::Postgresql => s.url.unwrap_or_default(),
            TargetType::Directory => s.path.unwrap_or_default(),
            TargetType::DataDirectory => format!("{} (port {})", s.path.unwrap_or_default(), s.port.unwrap_or(DEFAULT_CLUSTER_PORT)),
            TargetType::S3Bucket => {
                let at = s.endpoint.map(|e| format!(" at {e}")).unwrap_or_default();
                format!("s3://{}/{}{at}", s.bucket.unwrap_or_default(), s.prefix.unwrap_or_default())
            }
        }
    }

    /// Its password or secret access key.
    pub fn secret(&self, secrets: &SecretBox) -> Result<Option<String>, TargetError> {
        Ok(self.connection_encrypted.as_deref().map(|sealed| secrets.open(&secret_context(&self.id), sealed)).transpose()?)
    }
}

fn secret_context(id: &str) -> String {
    format!("restore_target:{id}:secret")
}

/// What an administrator fills in: the fields of [`Settings`] its type uses, and its secret.
/// On an update, a missing `secret` keeps the stored one while the target stays where it was.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTarget {
    pub name: String,
    pub environment: Environment,
    pub target_type: TargetType,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub access_key: Option<String>,
    /// The database password, or the bucket's secret access key.
    #[serde(default)]
    pub secret: Option<String>,
}

fn blank(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The settings a target of its type keeps, checked against the server's allowed places, each
/// problem naming its field.
fn validate(reach: &Targets, new: &NewTarget) -> Result<Settings, TargetError> {
    let invalid = |m: String| TargetError::Invalid(m);
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name: give a name of 1 to 100 characters".into()));
    }
    let s = new;
    let given = [
        ("url", blank(&s.url).is_some()),
        ("path", blank(&s.path).is_some()),
        ("port", s.port.is_some()),
        ("endpoint", blank(&s.endpoint).is_some()),
        ("region", blank(&s.region).is_some()),
        ("bucket", blank(&s.bucket).is_some()),
        ("prefix", blank(&s.prefix).is_some()),
        ("accessKey", blank(&s.access_key).is_some()),
    ];
    let (takes, secret): (&[&str], bool) = match new.target_type {
        TargetType::Postgresql => (&["url"], true),
        TargetType::Directory => (&["path"], false),
        TargetType::DataDirectory => (&["path", "port"], false),
        TargetType::S3Bucket => (&["endpoint", "region", "bucket", "prefix", "accessKey"], true),
    };
    if let Some((field, _)) = given.iter().find(|(field, set)| *set && !takes.contains(field)) {
        return Err(invalid(format!("{field}: a {} target takes {}, not {field}", new.target_type, takes.join(", "))));
    }
    if !secret && blank(&new.secret).is_some() {
        return Err(invalid(format!("secret: a {} target has no secret", new.target_type)));
    }
    let policy = |e: crate::restores::RestoreError| invalid(e.to_string());
    Ok(match new.target_type {
        TargetType::Postgresql => {
            let url = blank(&s.url).ok_or_else(|| invalid("url: the server, as postgresql://user@host:5432 (a database after the port is optional)".into()))?;
            reach.server("url", &url).map_err(policy)?;
            Settings { url: Some(url), ..Settings::default() }
        }
        TargetType::Directory | TargetType::DataDirectory => {
            let path = blank(&s.path).ok_or_else(|| invalid("path: an absolute directory path under a restore root".into()))?;
            reach.directory("path", &path).map_err(policy)?;
            let port = match (new.target_type, s.port) {
                (TargetType::DataDirectory, Some(port)) if port < 1024 => return Err(invalid("port: 1024 to 65535".into())),
                (TargetType::DataDirectory, port) => Some(port.unwrap_or(DEFAULT_CLUSTER_PORT)),
                _ => None,
            };
            Settings { path: Some(path), port, ..Settings::default() }
        }
        TargetType::S3Bucket => {
            let bucket = blank(&s.bucket).unwrap_or_default();
            if S3Settings::parse_url(&format!("s3://{bucket}")) != Some((bucket.clone(), String::new())) {
                return Err(invalid("bucket: 3 to 63 lowercase letters, digits, '-' or '.'".into()));
            }
            let endpoint = blank(&s.endpoint);
            if let Some(problem) = endpoint.as_deref().and_then(endpoint_problem) {
                return Err(invalid(format!("endpoint: {problem}")));
            }
            let prefix = blank(&s.prefix).map(|p| p.trim_matches('/').to_string()).filter(|p| !p.is_empty());
            if prefix.as_deref().is_some_and(|p| p.len() > 512 || p.chars().any(char::is_control)) {
                return Err(invalid("prefix: up to 512 characters, without control characters".into()));
            }
            let access_key = blank(&s.access_key).ok_or_else(|| invalid("accessKey: the access key id the restore writes with".into()))?;
            Settings {
                endpoint,
                region: Some(blank(&s.region).unwrap_or_else(|| "us-east-1".into())),
                bucket: Some(bucket),
                prefix,
                access_key: Some(access_key),
                ..Settings::default()
            }
        }
    })
}

pub async fn create(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, new: NewTarget) -> Result<RestoreTarget, TargetError> {
    actor.require(Role::Admin)?;
    let settings = validate(reach, &new)?;
    let secret = blank(&new.secret);
    if new.target_type == TargetType::S3Bucket && secret.is_none() {
        return Err(TargetError::Invalid("secret: the bucket's secret access key".into()));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = secret.map(|s| secrets.seal(&secret_context(&id), &s));
    let name = new.name.trim().to_string();
    let now = time::now_text();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    refuse_taken(&mut tx, &name, None).await?;
    sqlx::query(
        "INSERT INTO restore_targets (id, name, environment, target_type, settings, connection_encrypted, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(&name)
    .bind(new.environment.as_str())
    .bind(new.target_type.as_str())
    .bind(serde_json::to_string(&settings).unwrap_or_default())
    .bind(&sealed)
    .bind(&actor.username)
    .bind(&now)
    .execute(&mut *tx.tx)
    .await?;
    let detail = serde_json::json!({ "name": name, "environment": new.environment, "targetType": new.target_type, "settings": settings });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "restore_target.create", target_type: "restore_target", target_id: Some(&id), detail }).await?;
    tx.commit().await?;
    find(catalog, &id).await
}

/// Replaces a target's settings. A missing `secret` keeps the stored one while the target
/// stays where it was (same type; same user, host and port, or endpoint, bucket and access
/// key); anywhere else needs its own.
pub async fn update(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, id: &str, new: NewTarget) -> Result<RestoreTarget, TargetError> {
    actor.require(Role::Admin)?;
    let old = find(catalog, id).await?;
    let settings = validate(reach, &new)?;
    // The stored secret stays only while it would go to the same place with the same name:
    // a password is never sent to a server it was not given for.
    let same_place = old.target_type == new.target_type && {
        let o = old.settings();
        let server = |s: &Settings| s.url.as_deref().and_then(|u| url::Url::parse(u).ok()).map(|u| (u.username().to_string(), u.host_str().map(str::to_string), u.port()));
        (server(&o), o.endpoint.as_ref(), o.bucket.as_ref(), o.access_key.as_ref())
            == (server(&settings), settings.endpoint.as_ref(), settings.bucket.as_ref(), settings.access_key.as_ref())
    };
    let sealed = match blank(&new.secret) {
        Some(secret) => Some(secrets.seal(&secret_context(id), &secret)),
        None if same_place => old.connection_encrypted.clone(),
        None => None,
    };
    if new.target_type == TargetType::S3Bucket && sealed.is_none() {
        return Err(TargetError::Invalid("secret: the bucket's secret access key".into()));
    }
    let name = new.name.trim().to_string();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    refuse_taken(&mut tx, &name, Some(id)).await?;
    sqlx::query(
        "UPDATE restore_targets SET name = $1, environment = $2, target_type = $3, settings = $4, connection_encrypted = $5, updated_at = $6,
             last_test_at = NULL, last_test_ok = NULL, last_test_message = NULL
         WHERE id = $7",
    )
    .bind(&name)
    .bind(new.environment.as_str())
    .bind(new.target_type.as_str())
    .bind(serde_json::to_string(&settings).unwrap_or_default())
    .bind(&sealed)
    .bind(time::now_text())
    .bind(id)
    .execute(&mut *tx.tx)
    .await?;
    let detail = serde_json::json!({
        "name": name, "environment": new.environment, "targetType": new.target_type, "settings": settings,
        "secretChanged": blank(&new.secret).is_some(),
    });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "restore_target.update", target_type: "restore_target", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    find(catalog, id).await
}

async fn refuse_taken(tx: &mut crate::platform::catalog::SerializedTx<'_>, name: &str, except: Option<&str>) -> Result<(), TargetError> {
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM restore_targets WHERE name = $1").bind(name).fetch_optional(&mut *tx.tx).await?;
    match taken {
        Some(other) if Some(other.as_str()) != except => Err(TargetError::Conflict(format!("a restore target named {name:?} already exists"))),
        _ => Ok(()),
    }
}

/// Removes a target. One that restorations name is kept: their history would lose where
/// they went.
pub async fn delete(catalog: &Catalog, actor: &Principal, id: &str) -> Result<(), TargetError> {
    actor.require(Role::Admin)?;
    let target = find(catalog, id).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM restoration_jobs WHERE restore_target_id = $1").bind(id).fetch_one(&mut *tx.tx).await?;
    if used > 0 {
        return Err(TargetError::Conflict(format!("{:?} is named by {used} restoration(s); it stays for their history", target.name)));
    }
    sqlx::query("DELETE FROM restore_targets WHERE id = $1").bind(id).execute(&mut *tx.tx).await?;
    let detail = serde_json::json!({ "name": target.name });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "restore_target.delete", target_type: "restore_target", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn find(catalog: &Catalog, id: &str) -> Result<RestoreTarget, TargetError> {
    sqlx::query_as::<_, RestoreTarget>(&format!("SELECT {COLUMNS} FROM restore_targets WHERE id = $1"))
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| TargetError::NotFound(id.to_string()))
}

/// The target named `name` (or with that id).
pub(crate) async fn named(catalog: &Catalog, name: &str) -> Result<Option<RestoreTarget>, TargetError> {
    Ok(sqlx::query_as::<_, RestoreTarget>(&format!("SELECT {COLUMNS} FROM restore_targets WHERE name = $1 OR id = $1"))
        .bind(name)
        .fetch_optional(catalog.pool())
        .await?)
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<RestoreTarget, TargetError> {
    actor.require(Role::Viewer)?;
    find(catalog, id).await
}

/// Every target, production first, then by name.
pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<RestoreTarget>, TargetError> {
    actor.require(Role::Viewer)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM restore_targets ORDER BY
         CASE environment WHEN 'production' THEN 0 WHEN 'disaster_recovery' THEN 1 WHEN 'staging' THEN 2 ELSE 3 END, name"
    );
    Ok(sqlx::query_as::<_, RestoreTarget>(&sql).fetch_all(catalog.pool()).await?)
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetTest {
    pub ok: bool,
    pub message: String,
    pub tested_at: String,
}

/// How long a test waits for a server or a bucket to answer.
const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Really reaches the target: connects to the database server with its password, writes and
/// removes a probe file in the directory (or the nearest directory above it that exists),
/// lists the bucket with its keys. Records the outcome on the target.
pub async fn test(catalog: &Catalog, secrets: &SecretBox, reach: &Targets, actor: &Principal, id: &str) -> Result<TargetTest, TargetError> {
    actor.require(Role::Operator)?;
    let target = find(catalog, id).await?;
    let secret = target.secret(secrets)?;
    let outcome = match tokio::time::timeout(TEST_TIMEOUT, probe(reach, &target, secret)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {} s", TEST_TIMEOUT.as_secs())),
    };
    let (ok, message) = match outcome {
        Ok(message) => (true, message),
        Err(message) => (false, message),
    };
    let tested_at = time::now_text();
    sqlx::query("UPDATE restore_targets SET last_test_at = $1, last_test_ok = $2, last_test_message = $3 WHERE id = $4")
        .bind(&tested_at)
        .bind(i64::from(ok))
        .bind(&message)
        .bind(id)
        .execute(catalog.pool())
        .await?;
    Ok(TargetTest { ok, message, tested_at })
}

async fn probe(reach: &Targets, target: &RestoreTarget, secret: Option<String>) -> Result<String, String> {
    let s = target.settings();
    match target.target_type {
        TargetType::Postgresql => {
            let url = s.url.unwrap_or_default();
            let mut options = reach.server("url", &url).map_err(|e| e.to_string())?;
            if let Some(password) = &secret {
                options = options.password(password);
            }
            let database = options.get_database().map(str::to_string);
            let mut conn = PgConnection::connect_with(&options.clone().database("postgres")).await.map_err(|e| describe(&e))?;
            let (version, exists): (String, bool) = sqlx::query_as("SELECT current_setting('server_version'), EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(database.as_deref().unwrap_or(""))
                .fetch_one(&mut conn)
                .await
                .map_err(|e| describe(&e))?;
            let _ = conn.close().await;
            Ok(match database {
                Some(db) if exists => format!("connected to PostgreSQL {version}; database {db:?} exists"),
                Some(db) => format!("connected to PostgreSQL {version}; database {db:?} does not exist yet (a restore creates it)"),
                None => format!("connected to PostgreSQL {version}; each restore names its database"),
            })
        }
        TargetType::Directory | TargetType::DataDirectory => {
            let path = s.path.unwrap_or_default();
            let dir = reach.directory("path", &path).map_err(|e| e.to_string())?;
            let kind = target.target_type;
            tokio::task::spawn_blocking(move || probe_directory(&dir, kind)).await.map_err(|e| e.to_string())?
        }
        TargetType::S3Bucket => {
            let settings = S3Settings {
                endpoint: s.endpoint,
                region: s.region.unwrap_or_else(|| "us-east-1".into()),
                bucket: s.bucket.unwrap_or_default(),
                prefix: s.prefix.unwrap_or_default(),
                access_key: s.access_key.unwrap_or_default(),
                secret_key: secret.unwrap_or_default(),
                path_style: true,
                object_lock: None,
                storage_class: None,
            };
            let keys = S3Storage::new(settings).sample(1).await.map_err(|e| e.to_string())?;
            Ok(if keys.is_empty() { "the bucket answers; nothing under the prefix yet".into() } else { "the bucket answers; objects already exist under the prefix".into() })
        }
    }
}

/// Writes and removes a probe file where the restore would write: in the directory, or in the
/// nearest directory above it that exists (the restore creates the rest).
fn probe_directory(dir: &std::path::Path, kind: TargetType) -> Result<String, String> {
    let existing = dir.ancestors().find(|a| a.exists()).ok_or_else(|| format!("nothing of {} exists", dir.display()))?;
    if !existing.is_dir() {
        return Err(format!("{} is not a directory", existing.display()));
    }
    let probe = existing.join(format!(".bulwark-probe-{}", uuid::Uuid::new_v4()));
    std::fs::write(&probe, b"probe").map_err(|e| format!("cannot write in {}: {e}", existing.display()))?;
    std::fs::remove_file(&probe).map_err(|e| format!("cannot remove {}: {e}", probe.display()))?;
    if existing != dir {
        return Ok(format!("{} is writable; {} does not exist yet (a restore creates it)", existing.display(), dir.display()));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?.count();
    Ok(match (entries, kind) {
        (0, _) => format!("{} is writable and empty", dir.display()),
        (n, TargetType::DataDirectory) => format!("{} is writable and holds {n} entries: a cluster restored here replaces them", dir.display()),
        (n, _) => format!("{} is writable and holds {n} entries", dir.display()),
    })
}
