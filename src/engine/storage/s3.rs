//! A storage location in an S3-compatible bucket (AWS, SeaweedFS, MinIO, Ceph …), with
//! path-style addressing for self-hosted endpoints.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ObjectLockEnabled, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode, StorageClass};
use std::time::{Duration, SystemTime};

use super::{ObjectInfo, Storage, StorageError, validate_key};

/// Where and how to reach a bucket.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `http(s)://host:port`; `None` for AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    pub access_key: String,
    pub secret_key: String,
    pub path_style: bool,
    /// How long every object but lock files stays undeletable after it is written: S3 Object
    /// Lock in compliance mode, which nobody (not even the bucket's root account) can shorten.
    /// Locations set it in days; tests use seconds to watch locks expire.
    pub object_lock: Option<Duration>,
    /// The storage class of the repository's objects (a colder class for an archive tier);
    /// the bucket's default when `None`. Lock files are always written in the default.
    pub storage_class: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret key.
        write!(f, "S3Settings({:?}, s3://{}/{})", self.endpoint, self.bucket, self.prefix)
    }
}

impl S3Settings {
    /// Splits `s3://bucket/prefix` into bucket and prefix.
    pub fn parse_url(url: &str) -> Option<(String, String)> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        valid_bucket.then(|| (bucket.to_string(), prefix.trim_matches('/').to_string()))
    }
}

#[derive(Debug, Clone)]
pub struct S3Storage {
    client: Client,
    settings: S3Settings,
}

impl S3Storage {
    pub fn new(settings: S3Settings) -> S3Storage {
        let mut builder = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(Credentials::new(&settings.access_key, &settings.secret_key, None, None, "bulwark"))
            .force_path_style(settings.path_style)
            // An unreachable endpoint must fail a connection test in seconds, not minutes; a
            // 16 MiB pack upload gets generous time per attempt.
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .operation_attempt_timeout(std::time::Duration::from_secs(300))
                    .build(),
            );
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        S3Storage { client: Client::from_conf(builder.build()), settings }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.settings.bucket
    }

    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    /// Up to `max` keys under the prefix, without it: whether the bucket answers with these
    /// credentials, and whether anything is there already.
    pub async fn sample(&self, max: i32) -> Result<Vec<String>, StorageError> {
        let base = if self.settings.prefix.is_empty() { String::new() } else { format!("{}/", self.settings.prefix) };
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.settings.bucket)
            .prefix(&base)
            .max_keys(max)
            .send()
            .await
            .map_err(|e| Self::remote(&base, e))?;
        Ok(page.contents().iter().filter_map(|o| o.key()?.strip_prefix(&base).map(str::to_string)).collect())
    }

    fn object_key(&self, key: &str) -> Result<String, StorageError> {
        validate_key(key)?;
        Ok(if self.settings.prefix.is_empty() { key.to_string() } else { format!("{}/{key}", self.settings.prefix) })
    }

    fn remote<E: std::error::Error + Send + Sync + 'static>(key: &str, e: E) -> StorageError {
        StorageError::Remote { key: key.to_string(), message: DisplayErrorContext(e).to_string() }
    }

    /// S3 PUT is atomic: the object appears whole or not at all. A `retained` object gets the
    /// location's storage class and, under Object Lock, that version cannot be deleted or
    /// overwritten for the lock period (a later PUT adds a new version).
    async fn put_object(&self, key: &str, data: Vec<u8>, retained: bool) -> Result<(), StorageError> {
        let object = self.object_key(key)?;
        let mut request = self.client.put_object().bucket(&self.settings.bucket).key(&object).body(ByteStream::from(data));
        if retained {
            if let Some(period) = self.settings.object_lock {
                let until = SystemTime::now() + period;
                request = request.object_lock_mode(ObjectLockMode::Compliance).object_lock_retain_until_date(DateTime::from(until));
            }
            if let Some(class) = &self.settings.storage_class {
                request = request.storage_class(StorageClass::from(class.as_str()));
            }
        }
        request.send().await.map_err(|e| Self::remote(key, e))?;
        Ok(())
    }

    /// On an Object Lock bucket (always versioned) a plain DELETE only hides the object behind a
    /// delete marker and frees nothing; deleting means removing every version of the key. The
    /// storage refuses a version still locked, so callers check `locked_until` first.
    async fn delete_versions(&self, key: &str, object: &str) -> Result<(), StorageError> {
        let listed = self
            .client
            .list_object_versions()
            .bucket(&self.settings.bucket)
            .prefix(object)
            .send()
            .await
            .map_err(|e| Self::remote(key, e))?;
        let versions = listed.versions().iter().filter(|v| v.key() == Some(object)).filter_map(|v| v.version_id());
        let markers = listed.delete_markers().iter().filter(|m| m.key() == Some(object)).filter_map(|m| m.version_id());
        let ids: Vec<String> = versions.chain(markers).map(str::to_string).collect();
        for version in ids {
            self.client
                .delete_object()
                .bucket(&self.settings.bucket)
                .key(object)
                .version_id(version)
                .send()
                .await
                .map_err(|e| Self::remote(key, e))?;
        }
        Ok(())
    }

    /// Creates the bucket (with Object Lock enabled when asked); an existing bucket is fine.
    pub async fn create_bucket(&self, object_lock: bool) -> Result<(), StorageError> {
        let result = self
            .client
            .create_bucket()
            .bucket(&self.settings.bucket)
            .object_lock_enabled_for_bucket(object_lock)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.as_service_error();
                if service.is_some_and(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()) {
                    Ok(())
                } else {
                    Err(Self::remote(&self.settings.bucket, e))
                }
            }
        }
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn describe(&self) -> String {
        let endpoint = self.settings.endpoint.as_deref().unwrap_or("aws");
        format!("s3://{}/{} at {endpoint}", self.settings.bucket, self.settings.prefix)
    }

    async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), StorageError> {
        self.put_object(key, data, false).await
    }

    async fn put_retained(&self, key: &str, data: Vec<u8>) -> Result<(), StorageError> {
        self.put_object(key, data, true).await
    }

    async fn check_retention(&self) -> Result<(), StorageError> {
        if self.settings.object_lock.is_none() {
            return Ok(());
        }
        let enabled = match self.client.get_object_lock_configuration().bucket(&self.settings.bucket).send().await {
            Ok(out) => out.object_lock_configuration().and_then(|c| c.object_lock_enabled()) == Some(&ObjectLockEnabled::Enabled),
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => false,
            Err(e) => return Err(Self::remote(&self.settings.bucket, e)),
        };
        if enabled {
            Ok(())
        } else {
            Err(StorageError::Unsupported(format!(
                "bucket {} does not have Object Lock enabled; an immutable location needs a bucket created with Object Lock",
                self.settings.bucket
            )))
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let object = self.object_key(key)?;
        match self.client.get_object().bucket(&self.settings.bucket).key(&object).send().await {
            Ok(out) => Ok(out.body.collect().await.map_err(|e| Self::remote(key, e))?.into_bytes().to_vec()),
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => Err(StorageError::NotFound(key.to_string())),
            Err(e) => Err(Self::remote(key, e)),
        }
    }

    async fn get_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>, StorageError> {
        let object = self.object_key(key)?;
        if length == 0 {
            return Ok(Vec::new());
        }
        let range = format!("bytes={offset}-{}", offset + length - 1);
        let out = match self.client.get_object().bucket(&self.settings.bucket).key(&object).range(&range).send().await {
            Ok(out) => out,
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => return Err(StorageError::NotFound(key.to_string())),
            Err(e) => return Err(Self::remote(key, e)),
        };
        let bytes = out.body.collect().await.map_err(|e| Self::remote(key, e))?.into_bytes().to_vec();
        if bytes.len() as u64 != length {
            let size = self.size(key).await?.unwrap_or(0);
            return Err(StorageError::OutOfRange { key: key.to_string(), range: format!("{offset}+{length}"), size });
        }
        Ok(bytes)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let base = if self.settings.prefix.is_empty() { String::new() } else { format!("{}/", self.settings.prefix) };
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.settings.bucket)
            .prefix(format!("{base}{prefix}"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Self::remote(prefix, e))?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&base)) {
                    out.push(ObjectInfo { key: key.to_string(), size: object.size().unwrap_or(0).max(0) as u64 });
                }
            }
        }
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let object = self.object_key(key)?;
        if self.settings.object_lock.is_some() {
            return self.delete_versions(key, &object).await;
        }
        self.client
            .delete_object()
            .bucket(&self.settings.bucket)
            .key(&object)
            .send()
            .await
            .map_err(|e| Self::remote(key, e))?;
        Ok(())
    }

    fn lock_period(&self) -> Option<Duration> {
        self.settings.object_lock
    }

    async fn locked_until(&self, key: &str) -> Result<Option<SystemTime>, StorageError> {
        if self.settings.object_lock.is_none() {
            return Ok(None);
        }
        let object = self.object_key(key)?;
        match self.client.get_object_retention().bucket(&self.settings.bucket).key(&object).send().await {
            Ok(out) => Ok(out.retention().and_then(|r| r.retain_until_date()).and_then(|d| SystemTime::try_from(*d).ok())),
            // No such object, or an object written without retention: nothing holds it.
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => Ok(None),
            Err(e) => Err(Self::remote(key, e)),
        }
    }

    async fn extend_lock(&self, key: &str, until: SystemTime) -> Result<(), StorageError> {
        if self.settings.object_lock.is_none() || self.locked_until(key).await?.is_some_and(|current| current >= until) {
            // Compliance mode refuses to shorten a lock: only ever ask for a later date.
            return Ok(());
        }
        let object = self.object_key(key)?;
        let retention = ObjectLockRetention::builder().mode(ObjectLockRetentionMode::Compliance).retain_until_date(DateTime::from(until)).build();
        self.client
            .put_object_retention()
            .bucket(&self.settings.bucket)
            .key(&object)
            .retention(retention)
            .send()
            .await
            .map_err(|e| Self::remote(key, e))?;
        Ok(())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let object = self.object_key(key)?;
        match self.client.head_object().bucket(&self.settings.bucket).key(&object).send().await {
            Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(e) => Err(Self::remote(key, e)),
        }
    }
}

/// Why `endpoint` may not be used as an S3 endpoint, if it may not: it must be an http(s) URL,
/// and not a link-local or cloud metadata address, whose answers (instance credentials) a
/// location or a bucket source would otherwise fetch for whoever typed the URL. Loopback and
/// private addresses stay allowed: self-hosted S3 servers live there. A name that resolves to
/// such an address is not caught here.
pub fn endpoint_problem(endpoint: &str) -> Option<String> {
    let Ok(url) = url::Url::parse(endpoint) else { return Some("an http:// or https:// URL".into()) };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Some("an http:// or https:// URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("no credentials in the URL: they have their own fields".into());
    }
    let internal = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_link_local() || ip == std::net::Ipv4Addr::new(100, 100, 100, 200),
        Some(url::Host::Ipv6(ip)) => (ip.segments()[0] & 0xffc0) == 0xfe80 || ip == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("metadata.google.internal"),
        None => false,
    };
    internal.then(|| format!("{endpoint} is a link-local or cloud metadata address, never an S3 endpoint"))
}

#[cfg(test)]
mod tests {
    use super::{S3Settings, endpoint_problem};

    #[test]
    fn metadata_and_link_local_endpoints_are_refused() {
        for bad in ["http://169.254.169.254/latest/meta-data", "http://[fe80::1]:9000", "http://[fd00:ec2::254]", "http://100.100.100.200", "http://metadata.google.internal", "ftp://x", "http://u:p@s3.example", "s3.example"] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
        for good in ["http://127.0.0.1:8333", "https://s3.eu-west-1.amazonaws.com", "http://10.0.0.5:9000", "https://abc.supabase.co/storage/v1/s3"] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
    }

    #[test]
    fn urls_parse() {
        assert_eq!(S3Settings::parse_url("s3://backups/prod/db"), Some(("backups".into(), "prod/db".into())));
        assert_eq!(S3Settings::parse_url("s3://backups"), Some(("backups".into(), String::new())));
        assert_eq!(S3Settings::parse_url("s3://Bad_Bucket/x"), None);
        assert_eq!(S3Settings::parse_url("/local/path"), None);
    }
}
