//! PostgreSQL backups, streamed into the chunker with no temporary file:
//! - logical: `pg_dump --format=custom`;
//! - physical: `pg_basebackup` as one tar with the WAL it needs, the base of point-in-time
//!   restores (the WAL after it comes from the archive, see `wal_archive`);
//!
//! and the recovery metadata a restore needs.

use std::io::Read;
use std::process::{Child, ChildStdout, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// The planner's estimate (`pg_class.reltuples`); -1 for a table never analysed.
    pub row_estimate: i64,
    /// Rows inserted, updated or deleted since the server's statistics began
    /// (`pg_stat_user_tables`): a later count that is higher means the table changed.
    #[serde(default)]
    pub rows_written: Option<i64>,
}

/// The tables of the database `conn` is connected to, with how many rows each has had written.
pub async fn tables(conn: &mut PgConnection) -> Result<Vec<TableInfo>, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT n.nspname::text, c.relname::text, c.reltuples::bigint, s.n_tup_ins + s.n_tup_upd + s.n_tup_del
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
         ORDER BY 1, 2",
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| TableInfo { schema: r.get(0), name: r.get(1), row_estimate: r.get(2), rows_written: r.get(3) })
    .collect())
}

impl Database {
    pub(crate) fn options(&self) -> Result<PgConnectOptions, SourceError> {
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
        let tables = tables(&mut conn).await.map_err(unavailable)?;
        let _ = conn.close().await;
        Ok(Metadata { server_version: row.get(0), database: row.get(1), database_size_bytes: row.get(2), tables })
    }

    /// Starts `pg_dump --format=custom`; the returned reader yields the dump and fails at its
    /// end if pg_dump did not succeed, so a failed dump never becomes a snapshot.
    pub fn dump(&self) -> Result<ToolReader, SourceError> {
        self.run_tool("pg_dump", &["--format=custom"])
    }

    /// Starts `pg_basebackup` writing one tar (the data directory with the WAL from the
    /// backup's start to its end) to stdout; once the reader has ended, its `log()` holds
    /// the start and end points ([`parse_base_backup_log`]). Needs a role with REPLICATION.
    pub fn base_backup(&self) -> Result<ToolReader, SourceError> {
        self.run_tool("pg_basebackup", &["--pgdata=-", "--format=tar", "--wal-method=fetch", "--checkpoint=fast", "--label=bulwark", "--verbose"])
    }

    fn run_tool(&self, name: &'static str, args: &[&str]) -> Result<ToolReader, SourceError> {
        let mut command = crate::platform::child::command(tool(name));
        command.args(args).args(["--no-password", "--dbname"]).arg(&self.url);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SourceError::Unavailable(format!("cannot run {name}: {e}")))?;
        let stdout = child.stdout.take().ok_or_else(|| SourceError::Unavailable(format!("{name} has no output")))?;
        let stderr = collect_stderr(&mut child);
        Ok(ToolReader { name, child, stdout, stderr, finished: false, log: Default::default(), reaped: Default::default() })
    }

    /// Marks `name` in the WAL (`pg_create_restore_point`, superuser) and switches to a new WAL
    /// file so the mark reaches the archive soon; returns its position and WAL file.
    pub async fn create_restore_point(&self, name: &str) -> Result<(String, String), SourceError> {
        let unavailable = |e: sqlx::Error| SourceError::Unavailable(format!("creating restore point {name} on {}: {}", self.url, describe(&e)));
        let mut conn = PgConnection::connect_with(&self.options()?).await.map_err(unavailable)?;
        let row = sqlx::query("SELECT lsn::text, pg_walfile_name(lsn) FROM pg_create_restore_point($1) AS lsn")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .map_err(unavailable)?;
        // Without the switch the mark waits for archive_timeout or more writes; a role that may
        // not switch leaves it to those.
        let _ = sqlx::query("SELECT pg_switch_wal()").execute(&mut conn).await;
        let _ = conn.close().await;
        Ok((row.get(0), row.get(1)))
    }

    /// What a physical restore needs to know about the cluster, and whether it archives WAL.
    pub async fn cluster_metadata(&self) -> Result<ClusterMetadata, SourceError> {
        let unavailable = |e: sqlx::Error| SourceError::Unavailable(format!("PostgreSQL at {}: {}", self.url, describe(&e)));
        let mut conn = PgConnection::connect_with(&self.options()?).await.map_err(unavailable)?;
        let row = sqlx::query(
            "SELECT current_setting('server_version'), (SELECT system_identifier::text FROM pg_control_system()),
                    current_setting('wal_segment_size'), current_setting('archive_mode'), current_setting('archive_command') <> '',
                    (SELECT rolreplication FROM pg_roles WHERE rolname = current_user)",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(unavailable)?;
        let _ = conn.close().await;
        let segment: String = row.get(2);
        Ok(ClusterMetadata {
            server_version: row.get(0),
            system_identifier: row.get(1),
            wal_segment_bytes: parse_size(&segment).ok_or_else(|| SourceError::Unavailable(format!("unexpected wal_segment_size {segment:?}")))?,
            archive_mode: row.get(3),
            archive_command_set: row.get(4),
            replication_role: row.get(5),
        })
    }
}

/// The cluster a physical backup came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMetadata {
    pub server_version: String,
    pub system_identifier: String,
    pub wal_segment_bytes: u64,
    pub archive_mode: String,
    /// Whether an `archive_command` is set. The command itself is never kept: it holds the
    /// credentials the cluster pushes WAL with, and recovery metadata is shown to every role.
    pub archive_command_set: bool,
    /// Whether the backup role may open replication connections (pg_basebackup needs it).
    pub replication_role: bool,
}

/// `16MB`, `1GB`, `64kB` (how PostgreSQL shows `wal_segment_size`) in bytes.
fn parse_size(text: &str) -> Option<u64> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &text[digits.len()..] {
        "" | "B" => 1,
        "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok().map(|n| n * unit)
}

/// Where a base backup starts and ends in the WAL, from pg_basebackup's `--verbose` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalRange {
    pub start_lsn: String,
    pub end_lsn: String,
    pub timeline: u32,
}

impl WalRange {
    /// The WAL file holding the start point: the first one a restore of this backup needs.
    pub fn start_file(&self, segment_bytes: u64) -> Option<String> {
        let lsn = parse_lsn(&self.start_lsn)?;
        let segment = lsn / segment_bytes;
        let per_id = 0x1_0000_0000 / segment_bytes;
        Some(format!("{:08X}{:08X}{:08X}", self.timeline, segment / per_id, segment % per_id))
    }
}

/// `0/2000028` as a 64-bit position.
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

/// Where a base backup starts, as its `backup_label` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupLabel {
    pub start_lsn: String,
    /// The first WAL file a restore needs.
    pub start_file: String,
    pub timeline: u32,
}

/// Reads `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)` and
/// `START TIMELINE: 1` from a `backup_label`.
pub fn parse_backup_label(text: &str) -> Option<BackupLabel> {
    let after = |marker: &str| text.lines().find_map(|l| l.strip_prefix(marker).map(str::trim));
    let (start_lsn, file) = after("START WAL LOCATION:")?.split_once(" (file ")?;
    let start_file = file.strip_suffix(')')?;
    parse_lsn(start_lsn)?;
    let valid_file = start_file.len() == 24 && start_file.bytes().all(|b| b.is_ascii_hexdigit());
    let timeline = after("START TIMELINE:")?.parse().ok()?;
    valid_file.then(|| BackupLabel { start_lsn: start_lsn.to_string(), start_file: start_file.to_string(), timeline })
}

/// The `backup_label` among the entries at the start of a base backup's tar (PostgreSQL sends
/// it first), or `None` if `head` ends before it.
pub fn backup_label_in_tar(head: &[u8]) -> Option<String> {
    let mut at = 0usize;
    while let Some(header) = head.get(at..at + 512) {
        let name = header[..100].split(|b| *b == 0).next().unwrap_or_default();
        if name.is_empty() {
            return None; // the end-of-archive blocks
        }
        let size_field = std::str::from_utf8(&header[124..136]).ok()?.trim_matches(|c: char| c == '\0' || c == ' ');
        let size = usize::from_str_radix(size_field, 8).ok()?;
        if name == b"backup_label" {
            return head.get(at + 512..at + 512 + size).map(|c| String::from_utf8_lossy(c).into_owned());
        }
        at += 512 + size.div_ceil(512) * 512;
    }
    None
}

/// Finds `write-ahead log start point: 0/2000028 on timeline 1` and
/// `write-ahead log end point: 0/2000100` in pg_basebackup's log.
pub fn parse_base_backup_log(log: &str) -> Option<WalRange> {
    let after = |marker: &str| log.lines().find_map(|l| l.split_once(marker).map(|(_, rest)| rest.trim().to_string()));
    let start = after("write-ahead log start point:")?;
    let (start_lsn, timeline) = start.split_once(" on timeline ")?;
    let end_lsn = after("write-ahead log end point:")?;
    parse_lsn(start_lsn)?;
    parse_lsn(&end_lsn)?;
    Some(WalRange { start_lsn: start_lsn.to_string(), end_lsn, timeline: timeline.trim().parse().ok()? })
}

/// A PostgreSQL tool's standard output; see [`Database::dump`].
pub struct ToolReader {
    name: &'static str,
    child: Child,
    stdout: ChildStdout,
    stderr: Option<std::thread::JoinHandle<String>>,
    finished: bool,
    log: Arc<Mutex<String>>,
    /// Set under its lock just before the child is reaped, so a watcher never signals a
    /// process id the system may have reused.
    reaped: Arc<Mutex<bool>>,
}

impl ToolReader {
    /// The tool's stderr, filled in once the output has been read to its end.
    pub fn log(&self) -> Arc<Mutex<String>> {
        self.log.clone()
    }

    /// Kills the tool as soon as `cancel` is set, even while it sends nothing (a `pg_dump`
    /// waiting on a lock would otherwise hold a cancelled backup for as long as the lock).
    pub fn stop_on(self, cancel: Arc<AtomicBool>) -> ToolReader {
        let (pid, reaped) = (self.child.id() as libc::pid_t, self.reaped.clone());
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(200));
                let reaped = reaped.lock().unwrap_or_else(|p| p.into_inner());
                if *reaped {
                    return;
                }
                if cancel.load(Ordering::Relaxed) {
                    // SAFETY: kill(2) takes plain integers; the child is not reaped yet (checked
                    // under the lock), so the id is still this child's.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return;
                }
            }
        });
        self
    }

    fn reap(&mut self) -> std::io::Result<std::process::ExitStatus> {
        *self.reaped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.child.wait()
    }
}

impl Read for ToolReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.finished {
            return Ok(0);
        }
        let n = self.stdout.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        self.finished = true;
        let status = self.reap()?;
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        *self.log.lock().unwrap_or_else(|p| p.into_inner()) = stderr.clone();
        if status.success() {
            Ok(0)
        } else {
            Err(std::io::Error::other(format!("{} failed ({status}): {}", self.name, stderr.trim())))
        }
    }
}

impl Drop for ToolReader {
    fn drop(&mut self) {
        // A backup stopped early (an error elsewhere) must not leave the tool running.
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.reap();
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

/// A PostgreSQL server tool (pg_ctl) for a server of `server_version`: `BULWARK_PG_BIN/<name>`
/// when set, else the Debian layout `/usr/lib/postgresql/<major>/bin/<name>` when present
/// (server tools are not on PATH there), else from PATH. A version that is not a plain number
/// names no directory.
pub fn server_tool(name: &str, server_version: &str) -> std::path::PathBuf {
    if std::env::var_os("BULWARK_PG_BIN").is_some() {
        return tool(name);
    }
    // The version comes from the source server: only its digits may become part of a path.
    let major = server_version.split(['.', ' ']).next().filter(|m| !m.is_empty() && m.len() <= 3 && m.bytes().all(|b| b.is_ascii_digit()));
    match major.map(|m| std::path::Path::new("/usr/lib/postgresql").join(m).join("bin").join(name)) {
        Some(debian) if debian.exists() => debian,
        _ => name.into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_backup_log_and_wal_file_names() {
        let log = "pg_basebackup: initiating base backup, waiting for checkpoint to complete\n\
                   pg_basebackup: write-ahead log start point: 0/2000028 on timeline 1\n\
                   pg_basebackup: write-ahead log end point: 1/A2000100\n";
        let range = parse_base_backup_log(log).unwrap();
        assert_eq!(range, WalRange { start_lsn: "0/2000028".into(), end_lsn: "1/A2000100".into(), timeline: 1 });
        assert_eq!(range.start_file(16 << 20).as_deref(), Some("000000010000000000000002"));
        let later = WalRange { start_lsn: "1/A2000100".into(), end_lsn: "1/A3000000".into(), timeline: 3 };
        assert_eq!(later.start_file(16 << 20).as_deref(), Some("0000000300000001000000A2"));
        assert_eq!(later.start_file(1 << 30).as_deref(), Some("000000030000000100000002"));
        assert_eq!(parse_base_backup_log("pg_basebackup: error: connection refused"), None);
        assert_eq!(parse_size("16MB"), Some(16 << 20));
        assert_eq!(parse_size("1GB"), Some(1 << 30));
        assert_eq!(parse_size("sixteen"), None);
    }

    #[test]
    fn a_source_version_names_no_other_directory() {
        assert_eq!(server_tool("postgres", "../../../tmp/x"), std::path::PathBuf::from("postgres"));
        assert_eq!(server_tool("postgres", "15/../../x"), std::path::PathBuf::from("postgres"));
    }

    /// A tar entry as pg_basebackup writes one: a ustar header, then the content padded to 512.
    fn entry(name: &str, content: &[u8]) -> Vec<u8> {
        let mut header = vec![0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
        let mut out = header;
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    #[test]
    fn backup_label_is_found_and_read() {
        let label = "START WAL LOCATION: 0/9000028 (file 000000020000000000000009)\nCHECKPOINT LOCATION: 0/9000060\nSTART TIMELINE: 2\n";
        let mut tar = entry("PG_VERSION", b"15\n");
        tar.extend(entry("backup_label", label.as_bytes()));
        tar.extend(entry("base/1/1259", &[7u8; 3000]));
        let found = backup_label_in_tar(&tar).unwrap();
        let parsed = parse_backup_label(&found).unwrap();
        assert_eq!(parsed, BackupLabel { start_lsn: "0/9000028".into(), start_file: "000000020000000000000009".into(), timeline: 2 });
        // Cut short, or no label at all: nothing, never a panic.
        assert_eq!(backup_label_in_tar(&tar[..700]), None);
        assert_eq!(backup_label_in_tar(&entry("PG_VERSION", b"15\n")), None);
        assert_eq!(parse_backup_label("START WAL LOCATION: 0/9000028 (file ../../etc)\nSTART TIMELINE: 2"), None);
    }
}
