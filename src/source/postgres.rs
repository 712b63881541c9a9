//! PostgreSQL logical backups: `pg_dump --format=custom` streamed into the chunker (no
//! temporary file of the whole dump), and the recovery metadata a restore needs.

use std::io::Read;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::str::FromStr;

use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};

use super::SourceError;

/// A database to back up: its URL (without a password) and the password, kept apart so the
/// URL can be shown and logged.
#[derive(Clone)]
pub struct Database {
    pub url: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({})", self.url)
    }
}

/// What a restore needs to know about the database as it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub server_version: String,
    pub database: String,
    pub database_size_bytes: i64,
    pub tables: Vec<TableInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// The planner's estimate (`pg_class.reltuples`); -1 for a table never analysed.
    pub row_estimate: i64,
}

impl Database {
    fn options(&self) -> Result<PgConnectOptions, SourceError> {
        let mut options = PgConnectOptions::from_str(&self.url).map_err(|e| SourceError::Unavailable(format!("{}: {e}", self.url)))?;
        if let Some(password) = &self.password {
            options = options.password(password);
        }
        Ok(options.disable_statement_logging())
    }

    /// Connects and reads the recovery metadata; the first check that the source is reachable
    /// and the credentials work.
    pub async fn metadata(&self) -> Result<Metadata, SourceError> {
        let unavailable = |e: sqlx::Error| SourceError::Unavailable(format!("PostgreSQL at {}: {}", self.url, describe(&e)));
        let options = self.options()?;
        let connect = PgConnection::connect_with(&options);
        let mut conn = tokio::time::timeout(std::time::Duration::from_secs(10), connect)
            .await
            .map_err(|_| SourceError::Unavailable(format!("PostgreSQL at {}: no answer within 10 s", self.url)))?
            .map_err(unavailable)?;
        let row = sqlx::query("SELECT current_setting('server_version'), current_database()::text, pg_database_size(current_database())")
            .fetch_one(&mut conn)
            .await
            .map_err(unavailable)?;
        let tables = sqlx::query(
            "SELECT n.nspname::text, c.relname::text, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
             ORDER BY 1, 2",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|r| TableInfo { schema: r.get(0), name: r.get(1), row_estimate: r.get(2) })
        .collect();
        let _ = conn.close().await;
        Ok(Metadata { server_version: row.get(0), database: row.get(1), database_size_bytes: row.get(2), tables })
    }

    /// Starts `pg_dump --format=custom`; the returned reader yields the dump and fails at its
    /// end if pg_dump did not succeed, so a failed dump never becomes a snapshot.
    pub fn dump(&self) -> Result<DumpReader, SourceError> {
        let mut command = Command::new(tool("pg_dump"));
        command.args(["--format=custom", "--no-password", "--dbname"]).arg(&self.url);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SourceError::Unavailable(format!("cannot run pg_dump: {e}")))?;
        let stdout = child.stdout.take().ok_or_else(|| SourceError::Unavailable("pg_dump has no output".into()))?;
        let stderr = collect_stderr(&mut child);
        Ok(DumpReader { child, stdout, stderr, finished: false })
    }
}

/// pg_dump's output; see [`Database::dump`].
pub struct DumpReader {
    child: Child,
    stdout: ChildStdout,
    stderr: Option<std::thread::JoinHandle<String>>,
    finished: bool,
}

impl Read for DumpReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.finished {
            return Ok(0);
        }
        let n = self.stdout.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        self.finished = true;
        let status = self.child.wait()?;
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        if status.success() {
            Ok(0)
        } else {
            Err(std::io::Error::other(format!("pg_dump failed ({status}): {}", stderr.trim())))
        }
    }
}

impl Drop for DumpReader {
    fn drop(&mut self) {
        // A backup stopped early (an error elsewhere) must not leave pg_dump running.
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads a child's stderr on its own thread (a chatty tool must never block on a full pipe);
/// join the handle for the text once the child has exited.
pub(crate) fn collect_stderr(child: &mut Child) -> Option<std::thread::JoinHandle<String>> {
    child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        })
    })
}

/// A PostgreSQL client tool: `BULWARK_PG_BIN/<name>` when set, else from PATH.
pub fn tool(name: &str) -> std::path::PathBuf {
    match std::env::var_os("BULWARK_PG_BIN") {
        Some(dir) => std::path::Path::new(&dir).join(name),
        None => name.into(),
    }
}

/// The server's own words for database errors (wrong password, unknown database), else the
/// driver's.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}
