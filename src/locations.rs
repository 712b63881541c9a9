//! Storage locations: where repositories live (a local directory or an S3-compatible bucket),
//! their tier and price, a connection test that really writes, reads and deletes, repository
//! initialisation, usage, and the snapshots they hold.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::engine::source::SourceKind;
use crate::platform::audit::{self, Actor, Entry};
use crate::platform::auth::{AuthError, Principal, Role};
use crate::platform::catalog::dialect::LockTopic;
use crate::platform::catalog::{Catalog, CatalogError};
use crate::error::{Classify, Kind};
use crate::engine::repo::keys::Secret;
use crate::engine::repo::{RecoveryKit, RepoError, Repository, format};
use crate::platform::secrets::{SecretBox, SecretError};
use crate::engine::storage::local::LocalStorage;
use crate::engine::storage::s3::{S3Settings, S3Storage};
use crate::engine::storage::{Storage, StorageError};
use crate::platform::time;

#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("{0}")]
    Invalid(String),
    #[error("storage location {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for LocationError {
    fn from(e: sqlx::Error) -> Self {
        LocationError::Catalog(CatalogError::Query(e))
    }
}

impl From<crate::platform::audit::AuditError> for LocationError {
    fn from(e: crate::platform::audit::AuditError) -> Self {
        match e {
            crate::platform::audit::AuditError::Catalog(c) => LocationError::Catalog(c),
            crate::platform::audit::AuditError::Forbidden(a) => LocationError::Auth(a),
        }
    }
}

impl Classify for LocationError {
    fn kind(&self) -> Kind {
        match self {
            LocationError::Invalid(_) => Kind::Invalid,
            LocationError::NotFound(_) => Kind::NotFound,
            LocationError::Conflict(_) => Kind::Conflict,
            LocationError::Auth(e) => e.kind(),
            LocationError::Catalog(e) => e.kind(),
            LocationError::Secret(e) => e.kind(),
            LocationError::Repo(e) => e.kind(),
            LocationError::Storage(e) => e.kind(),
        }
    }
}

/// A location as stored and shown (never its credentials).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageLocation {
    pub id: String,
    pub location_name: String,
    pub storage_type: String,
    pub provider: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub path_prefix: Option<String>,
    pub storage_class: Option<String>,
    pub cost_per_gb_month: Option<f64>,
    pub cost_per_1k_requests: Option<f64>,
    pub cost_per_gb_transfer: Option<f64>,
    pub availability_sla: Option<f64>,
    #[schema(value_type = bool)]
    #[serde(serialize_with = "crate::platform::catalog::serialize_flag")]
    pub immutability: i64,
    /// Days each object stays locked on an immutable location.
    pub object_lock_days: Option<i64>,
    pub repository_id: Option<String>,
    pub last_test_at: Option<String>,
    pub last_test_ok: Option<i64>,
    pub last_test_message: Option<String>,
    pub created_at: String,
    #[serde(skip)]
    pub credentials_encrypted: Option<String>,
    #[serde(skip)]
    pub repository_key_encrypted: Option<String>,
}

const COLUMNS: &str = "id, location_name, storage_type, provider, region, endpoint, bucket, path_prefix, storage_class, \
    cost_per_gb_month, cost_per_1k_requests, cost_per_gb_transfer, availability_sla, immutability, object_lock_days, repository_id, last_test_at, last_test_ok, last_test_message, \
    created_at, credentials_encrypted, repository_key_encrypted";

pub const TIERS: [&str; 4] = ["primary", "secondary", "tertiary", "archive"];

/// S3 storage classes a repository can live in: each object is readable at once, so any
/// restore can start without a thaw request.
pub const STORAGE_CLASSES: [&str; 5] = ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"];

/// What an administrator fills in.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewLocation {
    pub location_name: String,
    /// Tier: primary, secondary, tertiary or archive.
    pub storage_type: String,
    /// `local` or `s3`.
    pub provider: String,
    /// Local: the directory. S3: the prefix inside the bucket.
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub secret_key: Option<String>,
    #[serde(default)]
    pub storage_class: Option<String>,
    #[serde(default)]
    pub cost_per_gb_month: Option<f64>,
    #[serde(default)]
    pub cost_per_1k_requests: Option<f64>,
    #[serde(default)]
    pub cost_per_gb_transfer: Option<f64>,
    #[serde(default)]
    pub availability_sla: Option<f64>,
    #[serde(default)]
    pub immutability: bool,
    /// With `immutability`: days each object stays locked (S3 Object Lock, compliance mode).
    #[serde(default)]
    pub object_lock_days: Option<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    access_key: String,
    secret_key: String,
}

fn blank(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A location's prices: none negative, none above 1,000.
pub fn check_prices(prices: &bulwark_types::Prices) -> Result<(), String> {
    let fields = [
        ("costPerGbMonth", prices.cost_per_gb_month, "per GB-month"),
        ("costPer1kRequests", prices.cost_per_1k_requests, "per 1,000 requests"),
        ("costPerGbTransfer", prices.cost_per_gb_transfer, "per GB transferred out"),
    ];
    for (field, price, unit) in fields {
        if price.is_some_and(|p| !(0.0..=1000.0).contains(&p) || p.is_nan()) {
            return Err(format!("{field}: a price from 0 to 1,000 {unit}"));
        }
    }
    Ok(())
}

fn validate(new: &NewLocation) -> Result<(), LocationError> {
    let invalid = |m: &str| Err(LocationError::Invalid(m.to_string()));
    let name = new.location_name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return invalid("locationName: give a name of 1 to 100 characters");
    }
    if !TIERS.contains(&new.storage_type.as_str()) {
        return invalid("storageType: use primary, secondary, tertiary or archive");
    }
    let prices = bulwark_types::Prices { cost_per_gb_month: new.cost_per_gb_month, cost_per_1k_requests: new.cost_per_1k_requests, cost_per_gb_transfer: new.cost_per_gb_transfer };
    if let Err(problem) = check_prices(&prices) {
        return invalid(&problem);
    }
    if new.availability_sla.is_some_and(|a| !(0.0..=100.0).contains(&a) || a.is_nan()) {
        return invalid("availabilitySla: a percentage between 0 and 100");
    }
    match new.provider.as_str() {
        "local" => {
            let path = blank(&new.path_prefix).unwrap_or_default();
            if !path.starts_with('/') {
                return invalid("pathPrefix: a local location needs an absolute directory path");
            }
            if new.immutability || new.object_lock_days.is_some() {
                return invalid("immutability: only S3 locations with Object Lock can be immutable");
            }
            if blank(&new.storage_class).is_some() {
                return invalid("storageClass: only S3 locations have storage classes");
            }
        }
        "s3" => {
            let bucket = blank(&new.bucket).unwrap_or_default();
            if S3Settings::parse_url(&format!("s3://{bucket}")).is_none() {
                return invalid("bucket: 3 to 63 lowercase letters, digits, '-' or '.'");
            }
            if let Some(problem) = blank(&new.endpoint).and_then(|e| crate::engine::storage::s3::endpoint_problem(&e)) {
                return invalid(&format!("endpoint: {problem}"));
            }
            if blank(&new.access_key).is_none() || blank(&new.secret_key).is_none() {
                return invalid("accessKey and secretKey are needed for an S3 location");
            }
            if let Some(class) = blank(&new.storage_class)
                && !STORAGE_CLASSES.contains(&class.as_str())
            {
                return invalid(&format!(
                    "storageClass: one of {} (classes that need a restore request before a read, such as GLACIER, cannot serve restores)",
                    STORAGE_CLASSES.join(", ")
                ));
            }
            match (new.immutability, new.object_lock_days) {
                (true, Some(1..=36_500)) | (false, None) => {}
                (true, _) => return invalid("objectLockDays: an immutable location needs a lock period of 1 to 36500 days"),
                (false, Some(_)) => return invalid("objectLockDays: set it only on an immutable location"),
            }
        }
        _ => return invalid("provider: use local or s3"),
    }
    Ok(())
}

pub async fn create(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, new: NewLocation) -> Result<StorageLocation, LocationError> {
    actor.require(Role::Admin)?;
    validate(&new)?;
    let id = uuid::Uuid::new_v4().to_string();
    let credentials = match new.provider.as_str() {
        "s3" => {
            let c = Credentials { access_key: blank(&new.access_key).unwrap_or_default(), secret_key: blank(&new.secret_key).unwrap_or_default() };
            Some(secrets.seal(&format!("location:{id}:credentials"), &serde_json::to_string(&c).unwrap_or_default()))
        }
        _ => None,
    };
    let now = time::now_text();
    let name = new.location_name.trim().to_string();
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM backup_storage_locations WHERE location_name = $1")
        .bind(&name)
        .fetch_optional(&mut *tx.tx)
        .await?;
    if taken.is_some() {
        return Err(LocationError::Conflict(format!("a storage location named {name:?} already exists")));
    }
    let region = if new.provider == "s3" { Some(blank(&new.region).unwrap_or_else(|| "us-east-1".into())) } else { None };
    sqlx::query(
        "INSERT INTO backup_storage_locations (id, location_name, storage_type, provider, region, endpoint, bucket, path_prefix,
             storage_class, cost_per_gb_month, availability_sla, immutability, object_lock_days, credentials_encrypted, is_active,
             created_at, updated_at, cost_per_1k_requests, cost_per_gb_transfer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15, $16, $17)",
    )
    .bind(&id)
    .bind(&name)
    .bind(&new.storage_type)
    .bind(&new.provider)
    .bind(&region)
    .bind(blank(&new.endpoint))
    .bind(blank(&new.bucket))
    .bind(blank(&new.path_prefix).map(|p| if new.provider == "s3" { p.trim_matches('/').to_string() } else { p }))
    .bind(blank(&new.storage_class))
    .bind(new.cost_per_gb_month)
    .bind(new.availability_sla)
    .bind(i64::from(new.immutability))
    .bind(new.object_lock_days.map(i64::from))
    .bind(&credentials)
    .bind(&now)
    .bind(new.cost_per_1k_requests)
    .bind(new.cost_per_gb_transfer)
    .execute(&mut *tx.tx)
    .await?;
    audit::append(
        &mut tx,
        Entry {
            actor: &Actor::from(actor),
            action: "storage_location.create",
            target_type: "storage_location",
            target_id: Some(&id),
            detail: serde_json::json!({ "name": name, "provider": new.provider, "tier": new.storage_type }),
        },
    )
    .await?;
    tx.commit().await?;
    find(catalog, &id).await
}

pub(crate) async fn find(catalog: &Catalog, id: &str) -> Result<StorageLocation, LocationError> {
    let sql = format!("SELECT {COLUMNS} FROM backup_storage_locations WHERE id = $1");
    sqlx::query_as::<_, StorageLocation>(&sql)
        .bind(id)
        .fetch_optional(catalog.pool())
        .await?
        .ok_or_else(|| LocationError::NotFound(id.to_string()))
}

pub async fn get(catalog: &Catalog, actor: &Principal, id: &str) -> Result<StorageLocation, LocationError> {
    actor.require(Role::Viewer)?;
    find(catalog, id).await
}

pub async fn list(catalog: &Catalog, actor: &Principal) -> Result<Vec<StorageLocation>, LocationError> {
    actor.require(Role::Viewer)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM backup_storage_locations ORDER BY
         CASE storage_type WHEN 'primary' THEN 0 WHEN 'secondary' THEN 1 WHEN 'tertiary' THEN 2 ELSE 3 END, location_name"
    );
    Ok(sqlx::query_as::<_, StorageLocation>(&sql).fetch_all(catalog.pool()).await?)
}

/// Removes a location from the catalog. One that holds a repository is refused: its key
/// would be lost with the row (the data itself is never touched here).
pub async fn delete(catalog: &Catalog, actor: &Principal, id: &str) -> Result<(), LocationError> {
    actor.require(Role::Admin)?;
    let location = find(catalog, id).await?;
    if let Some(repo) = &location.repository_id {
        return Err(LocationError::Conflict(format!(
            "{:?} holds repository {repo}; removing it would discard the key Bulwark keeps for it",
            location.location_name
        )));
    }
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    sqlx::query("DELETE FROM backup_storage_locations WHERE id = $1").bind(id).execute(&mut *tx.tx).await?;
    audit::append(
        &mut tx,
        Entry {
            actor: &Actor::from(actor),
            action: "storage_location.delete",
            target_type: "storage_location",
            target_id: Some(id),
            detail: serde_json::json!({ "name": location.location_name }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The storage behind a location, its requests and bytes counted on the location's meter
/// (`engine::storage::metered`; `cost::usage` persists them).
pub fn storage(location: &StorageLocation, secrets: &SecretBox) -> Result<Arc<dyn Storage>, LocationError> {
    Ok(crate::engine::storage::metered::wrap(&location.id, backend(location, secrets)?))
}

fn backend(location: &StorageLocation, secrets: &SecretBox) -> Result<Arc<dyn Storage>, LocationError> {
    match location.provider.as_str() {
        "local" => Ok(Arc::new(LocalStorage::new(location.path_prefix.clone().unwrap_or_default()))),
        "s3" => {
            let sealed = location.credentials_encrypted.as_deref().ok_or_else(|| LocationError::Invalid("no credentials stored".into()))?;
            let c: Credentials = serde_json::from_str(&secrets.open(&format!("location:{}:credentials", location.id), sealed)?)
                .map_err(|_| SecretError::Open)?;
            Ok(Arc::new(S3Storage::new(S3Settings {
                path_style: location.endpoint.is_some(),
                endpoint: location.endpoint.clone(),
                region: location.region.clone().unwrap_or_else(|| "us-east-1".into()),
                bucket: location.bucket.clone().unwrap_or_default(),
                prefix: location.path_prefix.clone().unwrap_or_default(),
                access_key: c.access_key,
                secret_key: c.secret_key,
                storage_class: location.storage_class.clone(),
                object_lock: location.object_lock_days.and_then(|d| u64::try_from(d).ok()).filter(|_| location.immutability != 0).map(|d| std::time::Duration::from_secs(d * 86_400)),
            })))
        }
        other => Err(LocationError::Invalid(format!("unknown provider {other:?}"))),
    }
}

/// The outcome of a connection test, kept on the location.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub ok: bool,
    pub message: String,
    pub latency_ms: u64,
}

/// Writes, reads back and deletes a probe object. A failure is a result to show, not an error.
pub async fn test_connection(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str) -> Result<TestResult, LocationError> {
    actor.require(Role::Operator)?;
    probe(catalog, secrets, id, true).await
}

/// [`test_connection`] without a person: the health checks' probe of each location, recorded
/// as its last test. Without `write` it only reads (an immutable location's bucket may lock
/// even a probe object by its default retention, and then never let it go).
pub async fn probe(catalog: &Catalog, secrets: &SecretBox, id: &str, write: bool) -> Result<TestResult, LocationError> {
    let location = find(catalog, id).await?;
    let storage = storage(&location, secrets)?;
    let started = Instant::now();
    let probe_key = format!("probe-{}", uuid::Uuid::new_v4().simple());
    let payload = format!("bulwark connection test {}", time::now_text());
    let outcome: Result<(), String> = async {
        storage.check_retention().await.map_err(|e| e.to_string())?;
        if write {
            storage.put(&probe_key, payload.as_bytes().to_vec()).await.map_err(|e| format!("writing failed: {e}"))?;
            let back = storage.get(&probe_key).await;
            // Deleted whatever the read-back gave, so no probe object is left behind.
            let deleted = storage.delete(&probe_key).await;
            let back = back.map_err(|e| format!("reading back failed: {e}"))?;
            if back != payload.as_bytes() {
                return Err("the object read back differs from what was written".into());
            }
            deleted.map_err(|e| format!("deleting the probe failed: {e}"))?;
        }
        // Writable is not enough: the repository it holds must still be there.
        if location.repository_id.is_some() {
            storage.get(crate::engine::repo::format::CONFIG_KEY).await.map_err(|e| format!("its repository's config cannot be read: {e}"))?;
        }
        Ok(())
    }
    .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let result = match outcome {
        Ok(()) if write => TestResult { ok: true, message: format!("wrote, read back and deleted a probe object in {latency_ms} ms"), latency_ms },
        Ok(()) => TestResult { ok: true, message: format!("answered and its repository reads, in {latency_ms} ms"), latency_ms },
        Err(message) => TestResult { ok: false, message, latency_ms },
    };
    sqlx::query("UPDATE backup_storage_locations SET last_test_at = $1, last_test_ok = $2, last_test_message = $3 WHERE id = $4")
        .bind(time::now_text())
        .bind(i64::from(result.ok))
        .bind(&result.message)
        .bind(id)
        .execute(catalog.pool())
        .await?;
    Ok(result)
}

/// A new repository's recovery kit, with the key file text: shown once, never again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Initialized {
    pub recovery_kit: RecoveryKit,
    pub key_file: String,
}

/// Creates the repository of a location with a fresh random key file, which Bulwark keeps
/// sealed in the catalog so it can run backups unattended.
pub async fn init_repository(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str) -> Result<Initialized, LocationError> {
    actor.require(Role::Admin)?;
    let location = find(catalog, id).await?;
    if location.repository_id.is_some() {
        return Err(LocationError::Conflict(format!("{:?} already holds a repository", location.location_name)));
    }
    let key_file = Secret::new_key_file();
    let secret = Secret::from_key_file(&key_file).ok_or_else(|| LocationError::Invalid("key generation failed".into()))?;
    let (repo, recovery_kit) = Repository::init(storage(&location, secrets)?, &secret).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    record_repository(&mut tx.tx, secrets, id, &repo.config().id, &key_file).await?;
    audit::append(
        &mut tx,
        Entry {
            actor: &Actor::from(actor),
            action: "storage_location.init_repository",
            target_type: "storage_location",
            target_id: Some(id),
            detail: serde_json::json!({ "repositoryId": repo.config().id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Initialized { recovery_kit, key_file })
}

/// Records that location `id` holds repository `repository_id`, keeping its key file sealed
/// (init, attach, and a replication target becoming a replica).
pub(crate) async fn record_repository(conn: &mut sqlx::AnyConnection, secrets: &SecretBox, id: &str, repository_id: &str, key_file: &str) -> Result<(), sqlx::Error> {
    let sealed = secrets.seal(&format!("location:{id}:repository_key"), key_file);
    sqlx::query("UPDATE backup_storage_locations SET repository_id = $1, repository_key_encrypted = $2, updated_at = $3 WHERE id = $4")
        .bind(repository_id)
        .bind(&sealed)
        .bind(time::now_text())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Opens a location's repository with the key Bulwark keeps.
pub async fn open_repository(catalog: &Catalog, secrets: &SecretBox, id: &str) -> Result<Repository, LocationError> {
    let location = find(catalog, id).await?;
    let sealed = location
        .repository_key_encrypted
        .as_deref()
        .ok_or_else(|| LocationError::Invalid(format!("{:?} holds no repository yet: initialise it first", location.location_name)))?;
    let key_file = secrets.open(&format!("location:{id}:repository_key"), sealed)?;
    let secret = Secret::from_key_file(&key_file).ok_or(SecretError::Open)?;
    Ok(Repository::open(storage(&location, secrets)?, &secret).await?)
}

/// A snapshot opened for restoring, and where it was read.
pub struct SnapshotSource {
    pub repo: Repository,
    pub snapshot: crate::engine::repo::snapshot::Snapshot,
    /// The location read: the one the backup went to, or a replica of it.
    pub location_id: String,
}

/// Opens a snapshot for restoring from the location it was written to or, when that cannot be
/// read (its region down, the snapshot damaged or lost there), from a replica of the same
/// repository (see `replicate`), tier by tier. Fails with the first location's error when no
/// copy can be read.
pub async fn open_snapshot(catalog: &Catalog, secrets: &SecretBox, id: &str, snapshot_id: &str) -> Result<SnapshotSource, LocationError> {
    let open = async |location_id: &str| -> Result<SnapshotSource, LocationError> {
        let repo = open_repository(catalog, secrets, location_id).await?;
        let snapshot = repo.load_snapshot(snapshot_id).await?;
        Ok(SnapshotSource { repo, snapshot, location_id: location_id.to_string() })
    };
    let first = match open(id).await {
        Ok(source) => return Ok(source),
        Err(e) => e,
    };
    let Some(repository) = find(catalog, id).await?.repository_id else { return Err(first) };
    let replicas: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM backup_storage_locations WHERE repository_id = $1 AND id <> $2 AND is_active = 1
         ORDER BY CASE storage_type WHEN 'primary' THEN 0 WHEN 'secondary' THEN 1 WHEN 'tertiary' THEN 2 ELSE 3 END, created_at",
    )
    .bind(&repository)
    .bind(id)
    .fetch_all(catalog.pool())
    .await?;
    for replica in replicas {
        match open(&replica).await {
            Ok(source) => {
                tracing::warn!(location = %id, replica = %replica, error = %first, "reading snapshot {snapshot_id} from a replica");
                return Ok(source);
            }
            Err(e) => tracing::warn!(replica = %replica, error = %e, "replica cannot serve snapshot {snapshot_id} either"),
        }
    }
    Err(first)
}

/// What a location holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub bytes_stored: u64,
    pub packs: u64,
    pub snapshots: u64,
}

pub async fn usage(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str) -> Result<Usage, LocationError> {
    actor.require(Role::Viewer)?;
    let storage = storage(&find(catalog, id).await?, secrets)?;
    let all = storage.list("").await?;
    Ok(Usage {
        bytes_stored: all.iter().map(|o| o.size).sum(),
        packs: all.iter().filter(|o| o.key.starts_with(format::PACKS_PREFIX)).count() as u64,
        snapshots: all.iter().filter(|o| o.key.starts_with(format::SNAPSHOTS_PREFIX)).count() as u64,
    })
}

/// Deletes the data no snapshot of the location references (admins, audited): what a cost
/// suggestion found unreferenced. Locked packs stay until their locks expire.
pub async fn prune(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str) -> Result<crate::engine::repo::prune::PruneReport, LocationError> {
    actor.require(Role::Admin)?;
    let repo = open_repository(catalog, secrets, id).await?;
    let report = crate::engine::repo::prune::prune(&repo, false).await?;
    let mut tx = catalog.begin_serialized(LockTopic::AuditChain).await?;
    let detail = serde_json::json!({ "bytesFreed": report.bytes_freed, "packsDeleted": report.packs_deleted, "packsRepacked": report.packs_repacked });
    audit::append(&mut tx, Entry { actor: &Actor::from(actor), action: "storage_location.prune", target_type: "storage_location", target_id: Some(id), detail }).await?;
    tx.commit().await?;
    Ok(report)
}

/// Rebuilds the location's repository index from its packs' headers (admin, audited): after a
/// damaged or lost index file, so backups deduplicate against every pack again and prune can run.
pub async fn repair_index(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str) -> Result<crate::engine::repo::repair::IndexRepair, LocationError> {
    actor.require(Role::Admin)?;
    let repo = open_repository(catalog, secrets, id).await?;
    let report = crate::engine::repo::repair::repair_index(&repo).await?;
    let entry = Entry {
        actor: &Actor::from(actor),
        action: "storage_location.repair_index",
        target_type: "storage_location",
        target_id: Some(id),
        detail: serde_json::to_value(&report).unwrap_or_default(),
    };
    audit::record(catalog, entry).await?;
    Ok(report)
}

/// A snapshot as listed for a location.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotRow {
    pub id: String,
    pub time: String,
    pub source: String,
    pub kind: &'static str,
    pub bytes: u64,
    pub files: u64,
}

pub async fn snapshots(catalog: &Catalog, secrets: &SecretBox, actor: &Principal, id: &str) -> Result<Vec<SnapshotRow>, LocationError> {
    actor.require(Role::Viewer)?;
    let repo = open_repository(catalog, secrets, id).await?;
    Ok(repo
        .snapshots()
        .await?
        .into_iter()
        .rev()
        .map(|s| SnapshotRow {
            kind: match s.content {
                crate::engine::repo::snapshot::Content::Stream { .. } => "stream",
                crate::engine::repo::snapshot::Content::Tree { .. } => "tree",
            },
            id: s.id,
            time: s.time,
            source: s.source,
            bytes: s.summary.bytes,
            files: s.summary.files,
        })
        .collect())
}

/// The entries of a tree snapshot directly inside `dir` ("" for the top).
pub async fn browse(
    catalog: &Catalog,
    secrets: &SecretBox,
    actor: &Principal,
    id: &str,
    snapshot_id: &str,
    dir: &str,
) -> Result<Vec<crate::engine::repo::snapshot::Node>, LocationError> {
    actor.require(Role::Viewer)?;
    let repo = open_repository(catalog, secrets, id).await?;
    let snapshot = repo.snapshot(snapshot_id).await?;
    let index = repo.load_index().await?;
    Ok(crate::engine::repo::tree::list_dir(&repo, &index, &snapshot, dir).await?)
}

/// One file of a tree snapshot, streamed and verified as it goes (see `read::file_stream`).
pub async fn download(
    catalog: &Catalog,
    secrets: &SecretBox,
    actor: &Principal,
    id: &str,
    snapshot_id: &str,
    path: &str,
) -> Result<crate::engine::repo::read::FileStream, LocationError> {
    actor.require(Role::Operator)?;
    let repo = open_repository(catalog, secrets, id).await?;
    let snapshot = repo.snapshot(snapshot_id).await?;
    if snapshot.metadata["sourceType"] == SourceKind::EnvironmentVars.as_str() {
        // The console never shows a configuration file's values; reading them is an admin's call.
        actor.require(Role::Admin)?;
    }
    let index = std::sync::Arc::new(repo.load_index().await?);
    let file = crate::engine::repo::read::file_stream(&repo, index, &snapshot, path).await?;
    audit::record(
        catalog,
        Entry {
            actor: &Actor::from(actor),
            action: "snapshot.download",
            target_type: "snapshot",
            target_id: Some(&snapshot.id),
            detail: serde_json::json!({ "location": id, "path": path, "bytes": file.size }),
        },
    )
    .await?;
    Ok(file)
}
