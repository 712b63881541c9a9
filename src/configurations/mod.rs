//! Backup configurations: what to back up (a source), how often, how it is kept, and to which
//! storage locations. Source passwords are sealed with the server's secret key and never
//! shown again.

pub mod retention_policy;

use bulwark_types::ExecutionStatus;
use serde::{Deserialize, Serialize};

use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::error::{Classify, Kind};
use crate::schedule::Schedule;
use crate::platform::secrets::{SecretBox, SecretError};
use crate::engine::source::SourceKind;
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum ConfigurationError {
    /// Starts with the offending field's name, so forms can show it beside that field.
    #[error("{0}")]
    Invalid(String),
    #[error("backup configuration {0} not found")]
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

impl From<sqlx::Error> for ConfigurationError {
    fn from(e: sqlx::Error) -> Self {
        ConfigurationError::Catalog(CatalogError::Query(e))
    }
}

impl Classify for ConfigurationError {
    fn kind(&self) -> Kind {
        match self {
            ConfigurationError::Invalid(_) => Kind::Invalid,
            ConfigurationError::NotFound(_) => Kind::NotFound,
            ConfigurationError::Conflict(_) => Kind::Conflict,
            ConfigurationError::Auth(e) => e.kind(),
            ConfigurationError::Catalog(e) => e.kind(),
            ConfigurationError::Secret(e) => e.kind(),
        }
    }
}

/// How a backup is taken (`full`, …), or, in the seeds' words, what it holds (`database`,
/// `file_storage`, `configuration`, `full_system`: checked against the source type).
pub const BACKUP_TYPES: [&str; 7] = ["full", "incremental", "differential", "full_system", "database", "file_storage", "configuration"];
pub const FREQUENCIES: [&str; 7] = ["manual", "continuous", "hourly", "daily", "weekly", "monthly", "custom"];
pub const COMPRESSIONS: [&str; 3] = ["zstd", "gzip", "none"];

/// A configuration as stored and shown (never its source password).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    pub id: String,
    pub name: String,
    pub backup_type: String,
    pub source_type: SourceKind,
    pub source_identifier: String,
    pub frequency: String,
    pub schedule: Option<String>,
    #[schema(value_type = serde_json::Value)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub retention_policy: String,
    #[schema(value_type = bool)]
    #[serde(rename = "encryption", serialize_with = "crate::platform::catalog::serialize_flag")]
    pub encryption_enabled: i64,
    pub compression: String,
    pub priority_level: i64,
    pub rto_minutes: Option<i64>,
    pub rpo_minutes: Option<i64>,
    #[schema(value_type = serde_json::Value)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub storage_location_ids: String,
    /// A bucket's endpoint, region and access key id (never a secret).
    #[schema(value_type = serde_json::Value)]
    #[serde(serialize_with = "bulwark_types::serialize_json_text")]
    pub source_options: String,
    #[schema(value_type = bool)]
    #[serde(serialize_with = "crate::platform::catalog::serialize_flag")]
    pub is_active: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub source_credentials_encrypted: Option<String>,
}

impl Configuration {
    pub fn location_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.storage_location_ids).unwrap_or_default()
    }

    /// The bucket a bucket source reads (`s3_bucket`, `supabase_storage`).
    pub fn bucket(&self, secrets: &SecretBox) -> Result<crate::engine::source::bucket::Bucket, ConfigurationError> {
        let options: crate::engine::source::bucket::BucketOptions =
            serde_json::from_str(&self.source_options).map_err(|e| ConfigurationError::Invalid(format!("sourceOptions: {e}")))?;
        let secret = self.source_password(secrets)?.unwrap_or_default();
        crate::engine::source::bucket::Bucket::new(&self.source_identifier, &options, &secret).map_err(|e| ConfigurationError::Invalid(e.to_string()))
    }

    /// A consistency group's member configuration ids, in order.
    pub fn members(&self) -> Vec<String> {
        let options: serde_json::Value = serde_json::from_str(&self.source_options).unwrap_or_default();
        options["members"].as_array().map(|m| m.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }

    /// When the configuration next runs by itself: `None` for manual or paused ones.
    pub fn next_run(&self, now: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        if self.is_active == 0 {
            return None;
        }
        Schedule::of(&self.frequency, self.schedule.as_deref()).ok().flatten()?.next_after(now)
    }

    /// The source password, opened with the server's secret key.
    pub fn source_password(&self, secrets: &SecretBox) -> Result<Option<String>, SecretError> {
        self.source_credentials_encrypted.as_deref().map(|sealed| secrets.open(&credentials_context(&self.id), sealed)).transpose()
    }
}

const COLUMNS: &str = "id, name, backup_type, source_type, source_identifier, frequency, schedule, retention_policy, \
    encryption_enabled, compression, priority_level, rto_minutes, rpo_minutes, storage_location_ids, source_options, is_active, \
    created_at, updated_at, source_credentials_encrypted";

fn credentials_context(id: &str) -> String {
    format!("configuration:{id}:source_credentials")
}

/// What an administrator fills in (POST creates, PUT replaces).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewConfiguration {
    pub name: String,
    #[serde(default = "default_backup_type")]
    pub backup_type: String,
    pub source_type: String,
    /// filesystem: an absolute directory; postgresql: `postgresql://user@host:port/database`.
    pub source_identifier: String,
    #[serde(default = "default_frequency")]
    pub frequency: String,
    /// A cron expression, or the seeds' schedule object `{"cron": "…"}`.
    #[serde(default, deserialize_with = "schedule_text")]
    pub schedule: Option<String>,
    #[serde(default)]
    pub retention_policy: Option<serde_json::Value>,
    #[serde(default = "yes", alias = "encryptionEnabled")]
    pub encryption: bool,
    #[serde(default = "default_compression")]
    pub compression: String,
    /// The seeds' switch: `false` stores the data uncompressed (`compression: none`).
    #[serde(default)]
    pub compression_enabled: Option<bool>,
    #[serde(default = "default_priority")]
    pub priority_level: i64,
    #[serde(default)]
    pub rto_minutes: Option<i64>,
    #[serde(default)]
    pub rpo_minutes: Option<i64>,
    /// Where the backups go, the first that answers; empty or missing: the one primary
    /// location, if there is exactly one (the seeds' request names none).
    #[serde(default)]
    pub storage_location_ids: Vec<String>,
    /// The database password or a bucket's secret access key; stored sealed. On update,
    /// `None` keeps the stored one.
    #[serde(default)]
    pub source_password: Option<String>,
    /// Buckets: `{"endpoint", "region", "accessKeyId", "pathStyle"}`.
    #[serde(default)]
    pub source_options: Option<serde_json::Value>,
}

/// A schedule given as a cron string, or as the seeds' object `{"cron": "…"}` (or
/// `{"expression": "…"}`); an empty object means the frequency's preset.
fn schedule_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(cron)) => Ok(Some(cron)),
        Some(serde_json::Value::Object(fields)) => match fields.get("cron").or_else(|| fields.get("expression")) {
            Some(serde_json::Value::String(cron)) => Ok(Some(cron.clone())),
            None if fields.is_empty() => Ok(None),
            _ => Err(D::Error::custom("schedule: a cron expression, or {\"cron\": \"0 2 * * *\"}")),
        },
        Some(_) => Err(D::Error::custom("schedule: a cron expression, or {\"cron\": \"0 2 * * *\"}")),
    }
}

fn default_backup_type() -> String {
    "full".into()
}
fn default_frequency() -> String {
    "manual".into()
}
fn default_compression() -> String {
    "zstd".into()
}
fn default_priority() -> i64 {
    5
}
fn yes() -> bool {
    true
}

fn validate(new: &NewConfiguration) -> Result<(), ConfigurationError> {
    let invalid = |m: String| Err(ConfigurationError::Invalid(m));
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return invalid("name: give a name of 1 to 100 characters".into());
    }
    if !BACKUP_TYPES.contains(&new.backup_type.as_str()) {
        return invalid(format!("backupType: use one of {}", BACKUP_TYPES.join(", ")));
    }
    let Some(kind) = SourceKind::parse(&new.source_type) else {
        let kinds: Vec<&str> = SourceKind::ALL.iter().map(|k| k.as_str()).collect();
        return invalid(format!("sourceType: use one of {}", kinds.join(", ")));
    };
    if matches!(new.backup_type.as_str(), "database" | "file_storage" | "configuration") && kind.held_as() != new.backup_type {
        let sources: Vec<&str> = SourceKind::ALL.iter().filter(|k| k.held_as() == new.backup_type).map(|k| k.as_str()).collect();
        return invalid(format!("backupType: {} backs up a {} source, not {}", new.backup_type, sources.join(" or "), new.source_type));
    }
    let source = new.source_identifier.trim();
    match kind {
        SourceKind::Filesystem if !source.starts_with('/') => return invalid("sourceIdentifier: an absolute directory path".into()),
        SourceKind::EnvironmentVars if !source.starts_with('/') => {
            return invalid("sourceIdentifier: an absolute path to an .env file or a directory of configuration files".into());
        }
        SourceKind::Postgresql => {
            let Some(rest) = source.strip_prefix("postgresql://").or_else(|| source.strip_prefix("postgres://")) else {
                return invalid("sourceIdentifier: a URL such as postgresql://user@host:5432/database".into());
            };
            let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
            // The URL is shown to every role: no secret may ride in it, as userinfo or as a parameter.
            let query = database.split_once('?').map_or("", |(_, q)| q);
            let secret_parameter = query.split('&').filter_map(|pair| pair.split('=').next()).any(|name| {
                let name = name.to_ascii_lowercase();
                ["password", "sslpassword", "passfile"].contains(&name.as_str())
            });
            if authority.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':')) || secret_parameter {
                return invalid("sourceIdentifier: put the password in sourcePassword, not in the URL (it would be shown)".into());
            }
            if database.is_empty() || database.contains('/') {
                return invalid("sourceIdentifier: name the database after the host, e.g. postgresql://user@host:5432/app".into());
            }
        }
        SourceKind::S3Bucket | SourceKind::SupabaseStorage => {
            if crate::engine::storage::s3::S3Settings::parse_url(source).is_none() {
                return invalid("sourceIdentifier: s3://bucket or s3://bucket/prefix, with a valid bucket name".into());
            }
            let options = new.source_options.clone().unwrap_or_else(|| serde_json::json!({}));
            let options: crate::engine::source::bucket::BucketOptions =
                serde_json::from_value(options).map_err(|e| ConfigurationError::Invalid(format!("sourceOptions: {e}")))?;
            if let Some(problem) = options.problem() {
                return invalid(problem);
            }
            if kind == SourceKind::SupabaseStorage && options.endpoint.is_none() {
                return invalid("sourceOptions.endpoint: Supabase Storage's S3 endpoint, https://<project>.supabase.co/storage/v1/s3".into());
            }
        }
        SourceKind::ConsistencyGroup => {
            if new.backup_type != "full_system" {
                return invalid("backupType: a consistency group is a full_system backup".into());
            }
            let members = new.source_options.as_ref().and_then(|o| o["members"].as_array()).cloned().unwrap_or_default();
            let ids: Vec<&str> = members.iter().filter_map(|m| m.as_str()).collect();
            if ids.is_empty() || ids.len() != members.len() {
                return invalid("sourceOptions.members: the ids of the configurations the group holds".into());
            }
            if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
                return invalid("sourceOptions.members: each configuration once".into());
            }
        }
        SourceKind::Filesystem | SourceKind::EnvironmentVars => {}
    }
    if new.backup_type == "full_system" && kind != SourceKind::ConsistencyGroup {
        return invalid("sourceType: a full_system backup is a consistency_group of other configurations".into());
    }
    if new.source_options.as_ref().is_some_and(|o| !o.is_object()) {
        return invalid("sourceOptions: a JSON object".into());
    }
    if !FREQUENCIES.contains(&new.frequency.as_str()) {
        return invalid(format!("frequency: use one of {}", FREQUENCIES.join(", ")));
    }
    if let Err(e) = Schedule::of(&new.frequency, new.schedule.as_deref()) {
        return invalid(e.to_string());
    }
    if !new.encryption {
        return invalid("encryption: every backup is encrypted (AES-256-GCM); it cannot be turned off".into());
    }
    if !COMPRESSIONS.contains(&new.compression.as_str()) {
        return invalid(format!("compression: use one of {}", COMPRESSIONS.join(", ")));
    }
    if !(1..=10).contains(&new.priority_level) {
        return invalid("priorityLevel: 1 (most urgent) to 10".into());
    }
    for (field, value) in [("rtoMinutes", new.rto_minutes), ("rpoMinutes", new.rpo_minutes)] {
        if value.is_some_and(|m| !(1..=525_600).contains(&m)) {
            return invalid(format!("{field}: minutes between 1 and 525600"));
        }
    }
    if let Some(policy) = &new.retention_policy
        && let Err(e) = retention_policy::RetentionPolicy::parse(policy)
    {
        return invalid(e);
    }
    if new.storage_location_ids.is_empty() {
        return invalid("storageLocationIds: choose at least one storage location".into());
    }
    Ok(())
}

/// A group's members must exist and not be groups themselves.
async fn check_members(catalog: &Catalog, new: &NewConfiguration) -> Result<(), ConfigurationError> {
    if new.source_type != SourceKind::ConsistencyGroup.as_str() {
        return Ok(());
    }
    for id in new.source_options.as_ref().and_then(|o| o["members"].as_array()).into_iter().flatten().filter_map(|m| m.as_str()) {
        match find(catalog, id).await {
            Err(ConfigurationError::NotFound(_)) => return Err(ConfigurationError::Invalid(format!("sourceOptions.members: no configuration {id}"))),
            Err(e) => return Err(e),
            Ok(m) if m.source_type == SourceKind::ConsistencyGroup => {
                return Err(ConfigurationError::Invalid(format!("sourceOptions.members: {:?} is a group itself", m.name)));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Every listed location must exist and hold a repository, or backups would fail later.
async fn check_locations(catalog: &Catalog, ids: &[String]) -> Result<(), ConfigurationError> {
    for id in ids {
        let repository: Option<Option<String>> = sqlx::query_scalar("SELECT repository_id FROM backup_storage_locations WHERE id = $1")
            .bind(id)
            .fetch_optional(catalog.pool())
            .await?;
        match repository {
            None => return Err(ConfigurationError::Invalid(format!("storageLocationIds: no storage location {id}"))),
            Some(None) => {
                return Err(ConfigurationError::Invalid(format!("storageLocationIds: location {id} holds no repository yet; initialise it first")));
            }
            Some(Some(_)) => {}
        }
    }
    Ok(())
}

/// What the seeds' request leaves out or says its own way, filled in: no location means the
/// one primary location; `compressionEnabled: false` means `compression: none`.
async fn completed(catalog: &Catalog, mut new: NewConfiguration) -> Result<NewConfiguration, ConfigurationError> {
    if new.compression_enabled == Some(false) {
        new.compression = "none".into();
    }
    if new.storage_location_ids.is_empty() {
        let primary: Vec<String> = sqlx::query_scalar("SELECT id FROM backup_storage_locations WHERE storage_type = 'primary' AND repository_id IS NOT NULL")
            .fetch_all(catalog.pool())
            .await?;
        match primary.as_slice() {
            [one] => new.storage_location_ids = vec![one.clone()],
            [] => return Err(ConfigurationError::Invalid("storageLocationIds: choose at least one storage location (no primary location with a repository to default to)".into())),
            _ => return Err(ConfigurationError::Invalid("storageLocationIds: choose at least one storage location (there are several primary locations)".into())),
        }
    }
    Ok(new)
}

pub async fn create(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, new: NewConfiguration) -> Result<Configuration, ConfigurationError> {
    actor.require(Role::Admin)?;
    let new = completed(catalog, new).await?;
    validate(&new)?;
    let is_bucket = SourceKind::parse(&new.source_type).is_some_and(SourceKind::is_bucket);
    if is_bucket && new.source_password.as_deref().is_none_or(str::is_empty) {
        return Err(ConfigurationError::Invalid("sourcePassword: the bucket's secret access key".into()));
    }
    check_locations(catalog, &new.storage_location_ids).await?;
    check_members(catalog, &new).await?;
    let id = uuid::Uuid::new_v4().to_string();
    write(catalog, secrets, actor, &id, new, true).await
}

/// Replaces a configuration's settings; a missing `sourcePassword` keeps the stored one.
pub async fn update(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str, new: NewConfiguration) -> Result<Configuration, ConfigurationError> {
    actor.require(Role::Admin)?;
    find(catalog, id).await?;
    let new = completed(catalog, new).await?;
    validate(&new)?;
    check_locations(catalog, &new.storage_location_ids).await?;
    check_members(catalog, &new).await?;
    write(catalog, secrets, actor, id, new, false).await
}

async fn write(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str, new: NewConfiguration, insert: bool) -> Result<Configuration, ConfigurationError> {
    let now = time::now_text();
    let name = new.name.trim().to_string();
    let sealed = new.source_password.as_deref().filter(|p| !p.is_empty()).map(|p| secrets.seal(&credentials_context(id), p));
    let retention = new.retention_policy.clone().unwrap_or_else(|| serde_json::json!({})).to_string();
    let locations = serde_json::to_string(&new.storage_location_ids).unwrap_or_else(|_| "[]".into());
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM backup_configurations WHERE name = $1 AND id <> $2")
        .bind(&name)
        .bind(id)
        .fetch_optional(&mut *tx.tx)
        .await?;
    if taken.is_some() {
        return Err(ConfigurationError::Conflict(format!("name: a backup configuration named {name:?} already exists")));
    }
    let sql = if insert {
        "INSERT INTO backup_configurations (name, backup_type, source_type, source_identifier, frequency, schedule, retention_policy,
             encryption_enabled, compression, priority_level, rto_minutes, rpo_minutes, storage_location_ids,
             source_credentials_encrypted, is_active, created_by, created_at, updated_at, id, source_options)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $12, $13, 1, $14, $15, $15, $16, $17)"
    } else {
        "UPDATE backup_configurations SET name = $1, backup_type = $2, source_type = $3, source_identifier = $4, frequency = $5,
             schedule = $6, retention_policy = $7, compression = $8, priority_level = $9, rto_minutes = $10, rpo_minutes = $11,
             storage_location_ids = $12, source_credentials_encrypted = COALESCE($13, source_credentials_encrypted),
             created_by = COALESCE(created_by, $14), updated_at = $15, source_options = $17
         WHERE id = $16"
    };
    sqlx::query(sql)
        .bind(&name)
        .bind(&new.backup_type)
        .bind(&new.source_type)
        .bind(new.source_identifier.trim())
        .bind(&new.frequency)
        .bind(new.schedule.as_deref().map(str::trim).filter(|s| !s.is_empty()))
        .bind(&retention)
        .bind(&new.compression)
        .bind(new.priority_level)
        .bind(new.rto_minutes)
        .bind(new.rpo_minutes)
        .bind(&locations)
        .bind(&sealed)
        .bind(&actor.user_id)
        .bind(&now)
        .bind(id)
        .bind(new.source_options.clone().unwrap_or_else(|| serde_json::json!({})).to_string())
        .execute(&mut *tx.tx)
        .await?;
    let action = if insert { "backup_configuration.create" } else { "backup_configuration.update" };
    // The audit detail never holds the password, only whether one was given.
    let detail = serde_json::json!({ "name": name, "sourceType": new.source_type, "passwordChanged": sealed.is_some() });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action, target_type: "backup_configuration", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    find(catalog, id).await
}

/// Changes some of a configuration's settings (the seeds' PUT): the fields given replace the
/// stored ones and the others stay; `isActive` pauses (`false`) or resumes it. A new
/// `frequency` without a `schedule` drops the old schedule, which belonged to the old
/// frequency; a missing `sourcePassword` keeps the stored one.
pub async fn patch(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str, changes: serde_json::Value) -> Result<Configuration, ConfigurationError> {
    actor.require(Role::Admin)?;
    let current = find(catalog, id).await?;
    let serde_json::Value::Object(mut changes) = changes else {
        return Err(ConfigurationError::Invalid("the body must be a JSON object of the fields to change".into()));
    };
    let active = match changes.remove("isActive") {
        None => None,
        Some(serde_json::Value::Bool(active)) => Some(active),
        Some(_) => return Err(ConfigurationError::Invalid("isActive: true or false".into())),
    };
    let mut updated = current.clone();
    if !changes.is_empty() {
        let stored = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or_else(|_| serde_json::json!({}));
        let mut merged = serde_json::json!({
            "name": current.name, "backupType": current.backup_type, "sourceType": current.source_type,
            "sourceIdentifier": current.source_identifier, "frequency": current.frequency, "schedule": current.schedule,
            "retentionPolicy": stored(&current.retention_policy), "encryption": current.encryption_enabled != 0,
            "compression": current.compression, "priorityLevel": current.priority_level, "rtoMinutes": current.rto_minutes,
            "rpoMinutes": current.rpo_minutes, "storageLocationIds": current.location_ids(), "sourceOptions": stored(&current.source_options),
        });
        if changes.contains_key("frequency") && !changes.contains_key("schedule") {
            merged["schedule"] = serde_json::Value::Null;
        }
        for (field, value) in changes {
            merged[field] = value;
        }
        let new: NewConfiguration = serde_json::from_value(merged).map_err(|e| ConfigurationError::Invalid(e.to_string()))?;
        updated = update(catalog, secrets, actor, id, new).await?;
    }
    match active {
        Some(active) if active != (updated.is_active != 0) => set_active(catalog, actor, id, active).await,
        _ => Ok(updated),
    }
}

/// Pauses (`false`: no scheduled run, no manual run) or resumes a configuration; audited.
pub async fn set_active(catalog: &Catalog, actor: &Principal, id: &str, active: bool) -> Result<Configuration, ConfigurationError> {
    actor.require(Role::Admin)?;
    let current = find(catalog, id).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("UPDATE backup_configurations SET is_active = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(active))
        .bind(time::now_text())
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
    let action = if active { "backup_configuration.resume" } else { "backup_configuration.pause" };
    let detail = serde_json::json!({ "name": current.name });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action, target_type: "backup_configuration", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    find(catalog, id).await
}

pub(crate) async fn find(catalog: &Catalog, id: &str) -> Result<Configuration, ConfigurationError> {
    let sql = format!("SELECT {COLUMNS} FROM backup_configurations WHERE id = $1");
    sqlx::query_as::<_, Configuration>(&sql)
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| ConfigurationError::NotFound(id.to_string()))
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<Configuration, ConfigurationError> {
    actor.require(Role::Viewer)?;
    find(catalog, id).await
}

/// A configuration with its latest execution, as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationSummary {
    #[serde(flatten)]
    pub configuration: Configuration,
    /// The latest run.
    pub last_run: Option<LastExecution>,
    /// When the latest run started (or was queued): the seeds' `lastExecution`.
    pub last_execution: Option<String>,
    /// When the next backup runs by itself: `None` for manual or paused configurations.
    pub next_execution: Option<String>,
    /// The seeds' `status`: `inactive` while paused, `error` when the latest run failed, else
    /// `active`.
    pub status: String,
    /// The latest run's status, or `never_run`.
    pub last_run_status: String,
    /// The seeds' names of `rtoMinutes` and `rpoMinutes`.
    pub rto: Option<i64>,
    pub rpo: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastExecution {
    pub id: String,
    pub status: ExecutionStatus,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub size_bytes: Option<i64>,
}

/// A configuration's newest run, beside the configuration it belongs to.
#[derive(sqlx::FromRow)]
struct LastOf {
    configuration_id: String,
    #[sqlx(flatten)]
    run: LastExecution,
}

pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<ConfigurationSummary>, ConfigurationError> {
    actor.require(Role::Viewer)?;
    let sql = format!("SELECT {COLUMNS} FROM backup_configurations ORDER BY priority_level, name");
    let configurations = sqlx::query_as::<_, Configuration>(&sql).fetch_all(catalog.pool()).await?;
    // Every configuration's newest run in one statement (one per configuration was a hundred
    // round trips per dashboard), each found backwards on (configuration_id, created_at).
    let last_runs: Vec<LastOf> = sqlx::query_as(&format!(
        "SELECT c.id AS configuration_id, e.id, e.status, e.created_at, e.started_at, e.completed_at, e.size_bytes
           FROM backup_configurations c
           JOIN backup_executions e ON e.id = (SELECT x.id FROM backup_executions x WHERE x.configuration_id = c.id AND x.execution_type <> '{}'
                                                ORDER BY x.created_at DESC LIMIT 1)",
        bulwark_types::SAFETY_EXECUTION_TYPE
    ))
    .fetch_all(catalog.pool())
    .await?;
    let mut last_runs: std::collections::HashMap<String, LastExecution> = last_runs.into_iter().map(|l| (l.configuration_id, l.run)).collect();
    let now = chrono::Utc::now();
    let mut out = Vec::with_capacity(configurations.len());
    for configuration in configurations {
        let last = last_runs.remove(&configuration.id);
        let last_run_status = last.as_ref().map_or_else(|| "never_run".to_string(), |l| l.status.to_string());
        let status = match (configuration.is_active, last.as_ref().map(|l| l.status)) {
            (0, _) => "inactive",
            (_, Some(ExecutionStatus::Failed)) => "error",
            _ => "active",
        };
        let next_execution = configuration.next_run(now).map(crate::platform::time::to_text);
        let last_execution = last.as_ref().map(|l| l.started_at.clone().unwrap_or_else(|| l.created_at.clone()));
        let (rto, rpo) = (configuration.rto_minutes, configuration.rpo_minutes);
        out.push(ConfigurationSummary { configuration, last_run: last, last_execution, next_execution, status: status.into(), last_run_status, rto, rpo });
    }
    Ok(out)
}

/// The active configurations that run on a schedule, for the scheduler.
pub(crate) async fn scheduled(catalog: &Catalog) -> Result<Vec<Configuration>, ConfigurationError> {
    let sql = format!("SELECT {COLUMNS} FROM backup_configurations WHERE is_active = 1 AND frequency <> 'manual' ORDER BY priority_level, name");
    Ok(sqlx::query_as::<_, Configuration>(&sql).fetch_all(catalog.pool()).await?)
}
