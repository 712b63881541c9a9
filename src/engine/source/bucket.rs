//! S3-compatible buckets as a source (AWS S3, SeaweedFS, MinIO, Supabase Storage's S3
//! endpoint): every object of a bucket or prefix with its bytes, headers and user metadata.
//!
//! Each object is one entry of a one-directory tree snapshot, named by its key below the
//! prefix with `%`, `/` (and a whole `.` or `..`) percent-escaped, so every key maps to exactly
//! one name and `a` and `a/b` can both exist. An object whose ETag and size are unchanged since
//! the last snapshot is carried over without being read.

use std::collections::BTreeMap;
use std::io::Read;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::runtime::Handle;

use super::SourceError;
use crate::engine::repo::snapshot::ObjectAttributes;
use crate::engine::storage::s3::{S3Settings, S3Storage};

/// How to reach a bucket, as a configuration's `sourceOptions` gives it (the secret access
/// key is the configuration's sealed source password).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketOptions {
    /// `http(s)://host[:port][/path]`; absent for AWS itself. Supabase Storage:
    /// `https://<project>.supabase.co/storage/v1/s3`.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub access_key_id: String,
    /// Path-style addressing (self-hosted endpoints, Supabase); true unless set.
    #[serde(default)]
    pub path_style: Option<bool>,
}

impl BucketOptions {
    /// A sentence naming the bad field, or `None` when the options can be used.
    pub fn problem(&self) -> Option<String> {
        if self.access_key_id.trim().is_empty() {
            return Some("sourceOptions.accessKeyId: the access key id".into());
        }
        if let Some(problem) = self.endpoint.as_deref().and_then(crate::engine::storage::s3::endpoint_problem) {
            return Some(format!("sourceOptions.endpoint: {problem}"));
        }
        None
    }
}

/// One bucket (and prefix) to read or write.
#[derive(Debug, Clone)]
pub struct Bucket {
    storage: S3Storage,
}

/// An object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// The key below the prefix.
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    pub modified_ns: i64,
}

impl Bucket {
    /// `url` is `s3://bucket[/prefix]`.
    pub fn new(url: &str, options: &BucketOptions, secret_key: &str) -> Result<Bucket, SourceError> {
        let (bucket, prefix) = S3Settings::parse_url(url)
            .ok_or_else(|| SourceError::Unavailable(format!("{url:?} is not s3://bucket[/prefix] with a valid bucket name")))?;
        if let Some(problem) = options.problem() {
            return Err(SourceError::Unavailable(problem));
        }
        Ok(Bucket {
            storage: S3Storage::new(S3Settings {
                endpoint: options.endpoint.clone(),
                region: options.region.clone().unwrap_or_else(|| "us-east-1".into()),
                bucket,
                prefix,
                access_key: options.access_key_id.clone(),
                secret_key: secret_key.to_string(),
                path_style: options.path_style.unwrap_or(true),
                object_lock: None,
                storage_class: None,
            }),
        })
    }

    /// The same endpoint and credentials, another bucket and prefix.
    pub fn with_target(&self, bucket: &str, prefix: &str) -> Result<Bucket, SourceError> {
        let url = format!("s3://{bucket}/{prefix}");
        let (bucket, prefix) = S3Settings::parse_url(&url).ok_or_else(|| SourceError::Unavailable(format!("{bucket:?} is not a valid bucket name")))?;
        Ok(Bucket { storage: S3Storage::new(S3Settings { bucket, prefix, ..self.storage.settings().clone() }) })
    }

    /// Whether any object exists under the prefix.
    pub async fn holds_objects(&self) -> Result<bool, SourceError> {
        Ok(!self.storage.sample(1).await.map_err(|e| SourceError::Unavailable(e.to_string()))?.is_empty())
    }

    /// The endpoint; `None` for AWS itself.
    pub fn endpoint(&self) -> Option<String> {
        self.storage.settings().endpoint.clone()
    }

    /// The bucket and prefix.
    pub fn location(&self) -> (String, String) {
        let s = self.storage.settings();
        (s.bucket.clone(), s.prefix.clone())
    }

    pub fn describe(&self) -> String {
        let s = self.storage.settings();
        format!("s3://{}/{} at {}", s.bucket, s.prefix, s.endpoint.as_deref().unwrap_or("AWS"))
    }

    fn client(&self) -> &Client {
        self.storage.client()
    }

    fn bucket(&self) -> &str {
        &self.storage.settings().bucket
    }

    fn full_key(&self, key: &str) -> String {
        let prefix = &self.storage.settings().prefix;
        if prefix.is_empty() { key.to_string() } else { format!("{prefix}/{key}") }
    }

    fn failed<E: std::error::Error + Send + Sync + 'static>(&self, what: &str, e: aws_sdk_s3::error::SdkError<E>) -> SourceError {
        let text = DisplayErrorContext(&e).to_string();
        if text.contains("NoSuchBucket") {
            return SourceError::Unavailable(format!("the bucket {:?} does not exist at {}", self.bucket(), self.describe()));
        }
        SourceError::Unavailable(format!("{what} {}: {text}", self.describe()))
    }

    /// Creates this bucket (a scratch bucket for a restore test); an existing one is refused,
    /// so a test never writes into a bucket it did not make.
    pub async fn create(&self) -> Result<(), SourceError> {
        self.client().create_bucket().bucket(self.bucket()).send().await.map_err(|e| self.failed("creating", e))?;
        Ok(())
    }

    /// Deletes every object of this bucket, then the bucket (a scratch bucket's cleanup).
    pub async fn destroy(&self) -> Result<(), SourceError> {
        let whole = Bucket { storage: S3Storage::new(S3Settings { prefix: String::new(), ..self.storage.settings().clone() }) };
        for object in whole.list().await? {
            whole.client().delete_object().bucket(whole.bucket()).key(&object.key).send().await.map_err(|e| whole.failed("deleting from", e))?;
        }
        self.client().delete_bucket().bucket(self.bucket()).send().await.map_err(|e| self.failed("deleting", e))?;
        Ok(())
    }

    /// Every object below the prefix, in key order.
    pub async fn list(&self) -> Result<Vec<ObjectHead>, SourceError> {
        let prefix = &self.storage.settings().prefix;
        let list_prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        let mut out = Vec::new();
        let mut pages = self.client().list_objects_v2().bucket(self.bucket()).prefix(&list_prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed("listing", e))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(&list_prefix)) else { continue };
                let modified_ns = object.last_modified().map_or(0, |t| t.secs() * 1_000_000_000 + i64::from(t.subsec_nanos()));
                out.push(ObjectHead { key: key.to_string(), size: object.size().unwrap_or(0).max(0) as u64, etag: object.e_tag().map(str::to_string), modified_ns });
            }
        }
        Ok(out)
    }

    /// Opens one object for a blocking reader: its headers, and its bytes as they arrive.
    pub fn open(&self, handle: &Handle, key: &str) -> std::io::Result<(ObjectAttributes, Box<dyn Read + Send>)> {
        let full = self.full_key(key);
        let out = handle
            .block_on(self.client().get_object().bucket(self.bucket()).key(&full).send())
            .map_err(|e| std::io::Error::other(format!("reading {full} from {}: {}", self.describe(), DisplayErrorContext(&e))))?;
        let attributes = ObjectAttributes {
            etag: out.e_tag().map(str::to_string),
            content_type: out.content_type().map(str::to_string),
            content_encoding: out.content_encoding().map(str::to_string),
            content_disposition: out.content_disposition().map(str::to_string),
            content_language: out.content_language().map(str::to_string),
            cache_control: out.cache_control().map(str::to_string),
            metadata: out.metadata().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>()).unwrap_or_default(),
        };
        let reader = BlockingRead { inner: Box::pin(out.body.into_async_read()), handle: handle.clone() };
        Ok((attributes, Box::new(reader)))
    }

    /// Writes one object whole, with its headers and user metadata.
    pub async fn put(&self, key: &str, attributes: &ObjectAttributes, bytes: Vec<u8>) -> Result<(), SourceError> {
        let full = self.full_key(key);
        let a = attributes;
        self.client()
            .put_object()
            .bucket(self.bucket())
            .key(&full)
            .set_content_type(a.content_type.clone())
            .set_content_encoding(a.content_encoding.clone())
            .set_content_disposition(a.content_disposition.clone())
            .set_content_language(a.content_language.clone())
            .set_cache_control(a.cache_control.clone())
            .set_metadata(Some(a.metadata.clone().into_iter().collect()))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| self.failed(&format!("writing {full} to"), e))?;
        Ok(())
    }

    /// Deletes one object below the prefix.
    pub async fn delete(&self, key: &str) -> Result<(), SourceError> {
        let full = self.full_key(key);
        self.client().delete_object().bucket(self.bucket()).key(&full).send().await.map_err(|e| self.failed(&format!("deleting {full} from"), e))?;
        Ok(())
    }

    /// Starts a multipart upload for an object too big to hold whole; nothing is visible until
    /// [`Upload::complete`].
    pub async fn start_upload(&self, key: &str, attributes: &ObjectAttributes) -> Result<Upload, SourceError> {
        let full = self.full_key(key);
        let a = attributes;
        let out = self
            .client()
            .create_multipart_upload()
            .bucket(self.bucket())
            .key(&full)
            .set_content_type(a.content_type.clone())
            .set_content_encoding(a.content_encoding.clone())
            .set_content_disposition(a.content_disposition.clone())
            .set_content_language(a.content_language.clone())
            .set_cache_control(a.cache_control.clone())
            .set_metadata(Some(a.metadata.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| self.failed(&format!("starting an upload of {full} to"), e))?;
        let id = out.upload_id().ok_or_else(|| SourceError::Unavailable(format!("{} gave no upload id", self.describe())))?;
        Ok(Upload { bucket: self.clone(), key: full, id: id.to_string(), parts: Vec::new() })
    }
}

/// A multipart upload under way.
pub struct Upload {
    bucket: Bucket,
    key: String,
    id: String,
    parts: Vec<CompletedPart>,
}

impl Upload {
    pub async fn part(&mut self, bytes: Vec<u8>) -> Result<(), SourceError> {
        let number = self.parts.len() as i32 + 1;
        let out = self
            .bucket
            .client()
            .upload_part()
            .bucket(self.bucket.bucket())
            .key(&self.key)
            .upload_id(&self.id)
            .part_number(number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| self.bucket.failed(&format!("uploading part {number} of {} to", self.key), e))?;
        self.parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag().map(str::to_string)).build());
        Ok(())
    }

    pub async fn complete(self) -> Result<(), SourceError> {
        let parts = CompletedMultipartUpload::builder().set_parts(Some(self.parts.clone())).build();
        self.bucket
            .client()
            .complete_multipart_upload()
            .bucket(self.bucket.bucket())
            .key(&self.key)
            .upload_id(&self.id)
            .multipart_upload(parts)
            .send()
            .await
            .map_err(|e| self.bucket.failed(&format!("completing {} at", self.key), e))?;
        Ok(())
    }

    /// Drops the parts: the object never appears.
    pub async fn abort(self) {
        let _ = self.bucket.client().abort_multipart_upload().bucket(self.bucket.bucket()).key(&self.key).upload_id(&self.id).send().await;
    }
}

/// An async body read from a blocking thread of the backup pipeline.
struct BlockingRead {
    inner: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
    handle: Handle,
}

impl Read for BlockingRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.handle.block_on(self.inner.read(buf))
    }
}

/// The listing name of a key: `%`, `/` and NUL percent-escaped, and a whole `.` or `..` too.
pub fn key_to_name(key: &str) -> String {
    if key == "." || key == ".." {
        return key.replace('.', "%2E");
    }
    let mut name = String::with_capacity(key.len());
    for c in key.chars() {
        match c {
            '%' => name.push_str("%25"),
            '/' => name.push_str("%2F"),
            '\0' => name.push_str("%00"),
            c => name.push(c),
        }
    }
    name
}

/// The key of a listing name; `None` for a name [`key_to_name`] cannot have made.
pub fn name_to_key(name: &str) -> Option<String> {
    let mut key = Vec::with_capacity(name.len());
    let mut bytes = name.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            key.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            key.push(b);
        }
    }
    String::from_utf8(key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_safe_name() {
        for key in ["a.txt", "docs/readme.md", "a/", "a//b", "100%/x", ".", "..", "../etc/passwd", "ünï côdé/ü", "a\0b"] {
            let name = key_to_name(key);
            assert!(!name.contains(['/', '\0']) && name != "." && name != "..", "{key:?} -> {name:?}");
            assert_eq!(name_to_key(&name).as_deref(), Some(key));
        }
        assert_ne!(key_to_name("a/b"), key_to_name("a%2Fb"));
        assert_eq!(name_to_key("bad%2"), None);
    }
}
