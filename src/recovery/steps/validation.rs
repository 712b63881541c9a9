//! `validation`: checks that service works after a recovery. Exactly one of: an HTTP request
//! (status, and a text in the body), a TCP connection, an SQL query (and the value it must
//! return), a file's SHA-256, an object's SHA-256 in an S3-compatible bucket. A check that does not hold is a failed attempt (retried as the
//! step says: a service coming up takes a moment); the output carries what was seen, for the
//! step's success criteria and the person reading the run.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};

use super::{Problem, StepContext, StepError, StepResult};
use crate::engine::source::bucket::{Bucket, BucketOptions};

/// Running a check twice changes nothing.
pub const IDEMPOTENT: bool = true;
/// At most this much of an HTTP body is read and kept.
const BODY_LIMIT: usize = 64 * 1024;
const ROWS_KEPT: usize = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub http: Option<HttpCheck>,
    /// `host:port`.
    #[serde(default)]
    pub tcp: Option<String>,
    #[serde(default)]
    pub sql: Option<SqlCheck>,
    #[serde(default)]
    pub file: Option<FileCheck>,
    #[serde(default)]
    pub bucket: Option<BucketCheck>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default = "ok_status")]
    pub expect_status: u16,
    #[serde(default)]
    pub contains: Option<String>,
}

fn ok_status() -> u16 {
    200
}

/// A PostgreSQL server and a read-only query; with `expect`, the first column of the first
/// row (as text) must equal it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqlCheck {
    pub host: String,
    #[serde(default = "pg_port")]
    pub port: u16,
    #[serde(default = "postgres")]
    pub user: String,
    #[serde(default = "postgres")]
    pub database: String,
    /// A recovery credential holding the password.
    #[serde(default)]
    pub password_secret: Option<String>,
    /// disable, prefer (the default), require, verify-ca, verify-full: with a password sent,
    /// require or stronger keeps it off a network that could read it.
    #[serde(default)]
    pub ssl_mode: Option<String>,
    pub query: String,
    #[serde(default)]
    pub expect: Option<String>,
}

fn pg_port() -> u16 {
    5432
}

fn postgres() -> String {
    "postgres".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileCheck {
    pub path: String,
    pub sha256: String,
}

/// An object in an S3-compatible bucket (AWS, SeaweedFS, MinIO, Supabase Storage) and the
/// SHA-256 its bytes must have.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketCheck {
    /// `s3://bucket[/prefix]`.
    pub url: String,
    /// The object's key below the prefix.
    pub key: String,
    pub sha256: String,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub access_key_id: String,
    /// A recovery credential holding the secret access key.
    pub secret_key_secret: String,
}

impl Config {
    pub fn check(&self) -> Vec<Problem> {
        let set = [self.http.is_some(), self.tcp.is_some(), self.sql.is_some(), self.file.is_some(), self.bucket.is_some()];
        if set.iter().filter(|s| **s).count() != 1 {
            return vec![Problem::new("", "exactly one of http, tcp, sql, file, bucket")];
        }
        let mut problems = Vec::new();
        if let Some(http) = &self.http {
            if let Err(e) = crate::platform::outbound::http_url(&http.url, "a checked address", "a checked address cannot carry credentials") {
                problems.push(Problem::new("http.url", e.trim_start_matches("settings.url: ").to_string()));
            }
            if !(100..=599).contains(&http.expect_status) {
                problems.push(Problem::new("http.expectStatus", "an HTTP status, 100 to 599"));
            }
        }
        if let Some(tcp) = &self.tcp
            && host_port(tcp).is_none()
        {
            problems.push(Problem::new("tcp", "host:port, with a port from 1 to 65535"));
        }
        if let Some(sql) = &self.sql {
            if sql.host.trim().is_empty() || sql.host.len() > 253 {
                problems.push(Problem::new("sql.host", "the server's host name or address"));
            }
            if sql.port == 0 {
                problems.push(Problem::new("sql.port", "1 to 65535"));
            }
            if sql.ssl_mode.as_deref().is_some_and(|m| ssl_mode(m).is_none()) {
                problems.push(Problem::new("sql.sslMode", "disable, prefer, require, verify-ca or verify-full"));
            }
            if sql.query.trim().is_empty() || sql.query.len() > 10_000 {
                problems.push(Problem::new("sql.query", "one statement, at most 10,000 characters"));
            }
        }
        if let Some(file) = &self.file {
            if !file.path.starts_with('/') {
                problems.push(Problem::new("file.path", "an absolute path"));
            }
            if !is_sha256(&file.sha256) {
                problems.push(Problem::new("file.sha256", "64 hexadecimal digits"));
            }
        }
        if let Some(bucket) = &self.bucket {
            if let Err(e) = Bucket::new(&bucket.url, &bucket.options(), "") {
                problems.push(Problem::new("bucket", e.to_string()));
            }
            if bucket.key.is_empty() || bucket.key.len() > 1024 {
                problems.push(Problem::new("bucket.key", "an object's key, 1 to 1,024 bytes"));
            }
            if !is_sha256(&bucket.sha256) {
                problems.push(Problem::new("bucket.sha256", "64 hexadecimal digits"));
            }
            if bucket.secret_key_secret.trim().is_empty() {
                problems.push(Problem::new("bucket.secretKeySecret", "the recovery credential holding the secret access key"));
            }
        }
        problems
    }
}

/// libpq's `sslmode` names, as the steps that connect to PostgreSQL take them.
pub(super) fn ssl_mode(name: &str) -> Option<PgSslMode> {
    match name {
        "disable" => Some(PgSslMode::Disable),
        "prefer" => Some(PgSslMode::Prefer),
        "require" => Some(PgSslMode::Require),
        "verify-ca" => Some(PgSslMode::VerifyCa),
        "verify-full" => Some(PgSslMode::VerifyFull),
        _ => None,
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

impl BucketCheck {
    fn options(&self) -> BucketOptions {
        BucketOptions { endpoint: self.endpoint.clone(), region: self.region.clone(), access_key_id: self.access_key_id.clone(), path_style: None }
    }
}

pub(super) fn host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

pub async fn run(cfg: &Config, ctx: &StepContext<'_>) -> StepResult {
    let started = Instant::now();
    let mut output = if let Some(http) = &cfg.http {
        check_http(http, ctx).await?
    } else if let Some(tcp) = &cfg.tcp {
        check_tcp(tcp).await?
    } else if let Some(sql) = &cfg.sql {
        check_sql(sql, ctx).await?
    } else if let Some(file) = &cfg.file {
        check_file(file).await?
    } else if let Some(bucket) = &cfg.bucket {
        check_bucket(bucket, ctx).await?
    } else {
        return Err(StepError::permanent("nothing to check"));
    };
    output["elapsedMs"] = json!(started.elapsed().as_millis() as u64);
    Ok(output)
}

/// A check changes nothing, so there is nothing to undo.
pub async fn roll_back(_cfg: &Config, _output: &Value, _ctx: &StepContext<'_>) -> StepResult {
    Ok(json!({ "undone": "nothing: a check changes nothing" }))
}

pub(super) async fn check_http(http: &HttpCheck, ctx: &StepContext<'_>) -> StepResult {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ctx.timeout)
        .build()
        .map_err(|e| StepError::retryable(format!("cannot set up an HTTP client: {}", crate::error::chain(&e))))?;
    let mut response = client.get(&http.url).send().await.map_err(|e| StepError::retryable(format!("GET {} failed: {}", http.url, crate::error::chain(&e))))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while body.len() < BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(StepError::retryable(format!("reading {}: {}", http.url, crate::error::chain(&e)))),
        }
    }
    body.truncate(BODY_LIMIT);
    let body = String::from_utf8_lossy(&body).into_owned();
    if status != http.expect_status {
        return Err(StepError::retryable(format!("GET {} answered {status}, expected {}", http.url, http.expect_status)));
    }
    if let Some(text) = &http.contains
        && !body.contains(text.as_str())
    {
        return Err(StepError::retryable(format!("GET {} answered without {text:?} in its body", http.url)));
    }
    Ok(json!({ "status": status, "body": body }))
}

pub(super) async fn check_tcp(text: &str) -> StepResult {
    let (host, port) = host_port(text).ok_or_else(|| StepError::permanent(format!("{text:?} is not host:port")))?;
    tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| StepError::retryable(format!("{text} refuses a connection: {e}")))?;
    Ok(json!({ "connected": true }))
}

async fn check_sql(sql: &SqlCheck, ctx: &StepContext<'_>) -> StepResult {
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(sql.host.trim_start_matches('[').trim_end_matches(']'))
        .port(sql.port)
        .username(&sql.user)
        .database(&sql.database)
        .application_name("bulwark-recovery-validation")
        .ssl_mode(sql.ssl_mode.as_deref().and_then(ssl_mode).unwrap_or(PgSslMode::Prefer))
        // A check reads: its transaction is read-only, so it writes no table. (Functions with
        // effects outside the transaction still run: give the check a role that may not.)
        .options([("default_transaction_read_only", "on"), ("statement_timeout", &ctx.timeout.as_millis().to_string())]);
    if let Some(name) = &sql.password_secret {
        options = options.password(&ctx.secrets.secret(name).await?);
    }
    let target = format!("{}:{}/{}", sql.host, sql.port, sql.database);
    let mut conn = PgConnection::connect_with(&options).await.map_err(|e| StepError::retryable(format!("connecting to {target}: {}", crate::error::chain(&e))))?;
    // Each row as JSON text, so any query's columns come back whatever their types.
    let wrapped = format!("SELECT row_to_json(q)::text FROM ({}) q LIMIT {ROWS_KEPT}", sql.query.trim().trim_end_matches(';'));
    let rows: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(&wrapped).fetch_all(&mut conn).await;
    let _ = conn.close().await;
    let rows = rows.map_err(|e| StepError::retryable(format!("the query on {target} failed: {}", crate::error::chain(&e))))?;
    let rows: Vec<Value> = rows.iter().filter_map(|r| serde_json::from_str(r).ok()).collect();
    let value = rows.first().and_then(|r| r.as_object()).and_then(|o| o.values().next()).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if let Some(expected) = &sql.expect
        && value.as_deref() != Some(expected.as_str())
    {
        return Err(StepError::retryable(format!("the query on {target} returned {}, expected {expected:?}", value.as_deref().map(|v| format!("{v:?}")).unwrap_or("no row".into()))));
    }
    Ok(json!({ "rowCount": rows.len(), "value": value, "rows": rows }))
}

async fn check_file(file: &FileCheck) -> StepResult {
    let path = file.path.clone();
    let hashed = tokio::task::spawn_blocking(move || std::fs::File::open(&path).and_then(|f| hash(f))).await;
    matches(&file.path, &file.sha256, hashed)
}

async fn check_bucket(check: &BucketCheck, ctx: &StepContext<'_>) -> StepResult {
    let secret = ctx.secrets.secret(&check.secret_key_secret).await?;
    let bucket = Bucket::new(&check.url, &check.options(), &secret).map_err(|e| StepError::permanent(e.to_string()))?;
    let (key, handle) = (check.key.clone(), tokio::runtime::Handle::current());
    // The bucket reader blocks (it is the backup pipeline's): read and hash on a blocking thread.
    let hashed = tokio::task::spawn_blocking(move || bucket.open(&handle, &key).and_then(|(_, reader)| hash(reader))).await;
    matches(&format!("{}/{}", check.url.trim_end_matches('/'), check.key), &check.sha256, hashed)
}

/// The SHA-256 and size of everything `reader` gives.
fn hash(mut reader: impl std::io::Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            return Ok((hex::encode(hasher.finalize()), size));
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
}

/// The check's outcome: what was read must have the expected digest.
fn matches(what: &str, expected: &str, hashed: Result<std::io::Result<(String, u64)>, tokio::task::JoinError>) -> StepResult {
    let (digest, size) = hashed.map_err(|e| StepError::retryable(format!("hashing {what}: {e}")))?.map_err(|e| StepError::retryable(format!("reading {what}: {e}")))?;
    if !digest.eq_ignore_ascii_case(expected) {
        return Err(StepError::retryable(format!("{what} has SHA-256 {digest}, expected {expected}")));
    }
    Ok(json!({ "sha256": digest, "size": size }))
}
