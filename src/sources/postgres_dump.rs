//! A PostgreSQL database as a logical dump: backed up by streaming `pg_dump --format=custom`
//! into the repository; restored, whole or chosen tables, by streaming it back into
//! `pg_restore` (no temporary copy) in one transaction, so a failure leaves the target as it
//! was; restore-tested into a new database on the source's server, every recorded table
//! counted, then dropped.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use serde::Deserialize;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use bulwark_types::RestorationType;

use super::{BackupRun, Description, RestoreRun, Source, SourceFuture, TestRun, failed, no_point_in_time, report, request, target_unreadable, wrong_place};
use crate::configurations::Configuration;
use crate::engine::repo::backup::{self, BackupOptions};
use crate::engine::repo::snapshot::Snapshot;
use crate::engine::repo::{RepoError, Repository, restore};
use crate::engine::source::postgres::{self, Database, TableInfo, collect_stderr, describe, tool};
use crate::engine::source::{SourceError, SourceKind};
use crate::executions::{Execution, ExecutionError};
use crate::locations;
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::restore_tests::{self, Outcome};
use crate::restores::{Destination, Place, RestoreError, RestoreReport, Targets, completed, record};

pub struct PostgresDump;

impl Source for PostgresDump {
    fn describe(&self) -> Description {
        Description { name: "PostgreSQL dump", restores_into: "a database" }
    }

    fn back_up<'a>(&'a self, run: &'a BackupRun<'a>, options: BackupOptions) -> SourceFuture<'a, Result<(Snapshot, serde_json::Value), ExecutionError>> {
        Box::pin(back_up(run, options))
    }

    fn restore<'a>(&'a self, run: &'a RestoreRun<'a>, execution_id: &'a str, body: serde_json::Value) -> SourceFuture<'a, Result<serde_json::Value, RestoreError>> {
        Box::pin(async move { Ok(report(restore_postgres(run.catalog, run.secrets, run.targets, run.actor, execution_id, request(self, body)?).await?)) })
    }

    fn restore_test<'a>(&'a self, run: &'a TestRun<'a>) -> SourceFuture<'a, Outcome> {
        Box::pin(into_database(run))
    }

    fn check<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value) -> SourceFuture<'a, Result<Place, RestoreError>> {
        Box::pin(async move {
            let r: PostgresRestore = request(self, body.clone())?;
            parse_tables(&r.tables)?;
            Place::database(run.targets, "targetUrl", &r.target_url)
        })
    }

    /// Tables the restore would meet, and, when the target is the database the backup was
    /// taken of, what was written there after it.
    fn conflicts<'a>(&'a self, run: &'a RestoreRun<'a>, configuration: &'a Configuration, body: &'a serde_json::Value, backup: &'a Execution) -> SourceFuture<'a, Result<Vec<String>, RestoreError>> {
        Box::pin(async move {
            let r: PostgresRestore = request(self, body.clone())?;
            let target = target_of(run, &r)?;
            let mut found = existing(&target, &parse_tables(&r.tables)?).await?;
            if !found.is_empty() && same_database(&target, &configuration.source_identifier) {
                found.extend(written_since(&target, backup).await?);
            }
            Ok(found)
        })
    }

    fn request_for(&self, d: &Destination) -> Result<serde_json::Value, RestoreError> {
        let Place::Database { url, .. } = &d.place else {
            return Err(wrong_place(self, &d.place));
        };
        no_point_in_time(d)?;
        d.refuse_scope(&[("paths", &d.scope.paths), ("prefixes", &d.scope.prefixes)])?;
        let tables = d.selection("tables", &d.scope.tables, &[RestorationType::TableLevel, RestorationType::Partial])?;
        parse_tables(&tables)?;
        Ok(serde_json::json!({ "targetUrl": url, "targetPassword": d.secret, "tables": tables, "replaceExisting": d.overwrite }))
    }

    fn snapshot_target<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value, repo: &'a Repository, mut options: BackupOptions) -> SourceFuture<'a, Result<Snapshot, RestoreError>> {
        Box::pin(async move {
            let r: PostgresRestore = request(self, body.clone())?;
            if !r.replace_existing {
                let found = existing(&target_of(run, &r)?, &parse_tables(&r.tables)?).await?;
                return Err(RestoreError::Conflict(found.join("; ")));
            }
            run.targets.database("targetUrl", &r.target_url)?;
            // The whole database, whatever the restore replaces: a rollback puts it all back.
            let database = Database { url: r.target_url.clone(), password: r.target_password.clone() };
            options.source = format!("pg_dump {}", database.url);
            let dump = database.dump().map_err(|e| RestoreError::Target(e.to_string()))?.stop_on(options.progress.cancel.clone());
            backup::backup_stream(repo, dump, options).await.map_err(target_unreadable)
        })
    }

    fn put_back<'a>(&'a self, run: &'a RestoreRun<'a>, _: &'a Configuration, body: &'a serde_json::Value, repo: &'a Repository, snapshot: &'a Snapshot) -> SourceFuture<'a, Result<u64, RestoreError>> {
        Box::pin(async move {
            let r: PostgresRestore = request(self, body.clone())?;
            let mut target = run.targets.database("targetUrl", &r.target_url)?;
            if let Some(password) = &r.target_password {
                target = target.password(password);
            }
            swap_in(repo, snapshot, &r, &target).await
        })
    }

    fn writes_over(&self, body: &serde_json::Value) -> bool {
        body.get("replaceExisting").and_then(serde_json::Value::as_bool).unwrap_or(false)
    }

    fn transactional(&self) -> bool {
        true
    }
}

async fn back_up(run: &BackupRun<'_>, mut options: BackupOptions) -> Result<(Snapshot, serde_json::Value), ExecutionError> {
    let configuration = run.configuration;
    let database = Database { url: configuration.source_identifier.clone(), password: configuration.source_password(run.secrets)? };
    let metadata = serde_json::to_value(database.metadata().await?).unwrap_or_default();
    options.metadata["postgresql"] = metadata.clone();
    options.source = format!("pg_dump {}", database.url);
    let dump = database.dump()?.stop_on(options.progress.cancel.clone());
    let snapshot = backup::backup_stream(run.repo, dump, options).await.map_err(|e| match e {
        // The dump's own error (pg_dump's stderr) is what a person needs.
        RepoError::Source(message) => ExecutionError::Source(SourceError::Unavailable(message)),
        other => other.into(),
    })?;
    Ok((snapshot, serde_json::json!({ "sourceType": SourceKind::Postgresql, "format": "pg_dump custom", "postgresql": metadata })))
}

/// Where and what to restore.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresRestore {
    /// `postgresql://user@host:port/database` on an allowed host ([`Targets`]), without a
    /// password; the database is created when missing.
    pub target_url: String,
    #[serde(default)]
    pub target_password: Option<String>,
    /// `schema.table` (or `table`, in `public`): only these tables, which must not exist in the
    /// target yet. Empty: the whole database, into a database without tables.
    #[serde(default)]
    pub tables: Vec<String>,
    /// Replace the tables the target already has (dropped and restored in the restore's one
    /// transaction) instead of refusing. The restoration workflow takes a safety snapshot of
    /// the database first.
    #[serde(default)]
    pub replace_existing: bool,
}

/// Restores a PostgreSQL execution into `request.target_url`.
pub async fn restore_postgres(
    catalog: &Catalog,
    secrets: &SecretBox,
    targets: &Targets,
    actor: &Principal,
    execution_id: &str,
    request: PostgresRestore,
) -> Result<RestoreReport, RestoreError> {
    actor.require(Role::Operator)?;
    let (location, snapshot_id) = completed(catalog, actor, execution_id, SourceKind::Postgresql).await?;
    let tables = parse_tables(&request.tables)?;
    let mut target = targets.database("targetUrl", &request.target_url)?;
    if let Some(password) = &request.target_password {
        target = target.password(password);
    }
    let database = target.get_database().unwrap_or_default().to_string();
    prepare_target(&target, &database, &tables, request.replace_existing).await?;

    let started = Instant::now();
    let locations::SnapshotSource { repo, snapshot, location_id } = locations::open_snapshot(catalog, secrets, &location, &snapshot_id).await?;
    let bytes = pg_restore(&repo, &snapshot, &request.target_url, request.target_password.as_deref(), &tables, request.replace_existing).await?;
    let report = RestoreReport {
        execution_id: execution_id.into(),
        target: request.target_url.clone(),
        selection: tables.iter().map(|(s, t)| format!("{s}.{t}")).collect(),
        bytes,
        files: None,
        unchanged: None,
        duration_seconds: started.elapsed().as_secs_f64(),
        storage_location_id: location_id,
        unreadable: Vec::new(),
    };
    record(catalog, actor, "restore.postgresql", &report).await?;
    Ok(report)
}

/// Streams a dump snapshot into `pg_restore` against `url`, in one transaction: on any error
/// nothing is committed. `replace` drops the objects the dump holds first (same transaction).
async fn pg_restore(repo: &Repository, snapshot: &Snapshot, url: &str, password: Option<&str>, tables: &[(String, String)], replace: bool) -> Result<u64, RestoreError> {
    let index = Arc::new(repo.load_index().await?);
    let mut command = crate::platform::child::command(tool("pg_restore"));
    command.args(["--no-owner", "--exit-on-error", "--single-transaction", "--no-password"]);
    if replace {
        command.args(["--clean", "--if-exists"]);
    }
    command.arg("--dbname").arg(url);
    if let Some((schema, _)) = tables.first() {
        command.args(["--schema", schema]);
    }
    for (_, table) in tables {
        command.args(["--table", table]);
    }
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let mut child = Restoring(
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| RestoreError::Target(format!("cannot run pg_restore: {e}")))?,
    );
    let stdin = child.0.stdin.take().ok_or_else(|| RestoreError::Target("pg_restore has no input".into()))?;
    let stderr = collect_stderr(&mut child.0);
    let input = PipeInput { pipe: Some(stdin), closed: Arc::new(AtomicBool::new(false)), fed: Arc::new(AtomicU64::new(0)) };
    let (closed, fed) = (input.closed.clone(), input.fed.clone());
    let bytes = match restore::restore_stream(repo, index, snapshot, input).await {
        // Closing its input lets pg_restore finish and commit.
        Ok((stdin, n)) => {
            drop(stdin);
            n
        }
        Err(e) => {
            // A pg_restore that took all it needed (a table-level restore stops reading early)
            // and closed its input, or has exited, decides by its exit status whatever stopped
            // the stream after that: it may have committed. One still reading is killed before
            // it can commit: the single transaction rolls back.
            let exited = if closed.load(Ordering::SeqCst) {
                let (back, status) = tokio::task::spawn_blocking(move || {
                    let status = child.0.wait();
                    (child, status)
                })
                .await
                .map_err(|e| RestoreError::Target(e.to_string()))?;
                child = back;
                status.ok()
            } else {
                child.0.try_wait().ok().flatten()
            };
            if exited.is_none() {
                drop(child);
                return Err(e.into());
            }
            fed.load(Ordering::SeqCst)
        }
    };
    let status = tokio::task::spawn_blocking(move || child.0.wait()).await.map_err(|e| RestoreError::Target(e.to_string()))?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    match status {
        Ok(s) if s.success() => Ok(bytes),
        Ok(s) => Err(RestoreError::Target(format!("pg_restore failed ({s}); nothing was committed: {}", stderr.trim()))),
        Err(e) => Err(RestoreError::Target(format!("pg_restore: {e}"))),
    }
}

/// Puts a database back exactly as a dump holds it: restored into a new database beside it
/// (the target untouched if that fails), then swapped in by name and the replaced one dropped.
/// Sessions on the target are ended for the swap. The names beside it are the snapshot's own,
/// so an attempt that died part-way is recognised (and its target given back its name) by the
/// next, and nothing else is ever dropped.
async fn swap_in(repo: &Repository, snapshot: &Snapshot, request: &PostgresRestore, target: &PgConnectOptions) -> Result<u64, RestoreError> {
    let database = target.get_database().unwrap_or_default().to_string();
    let tag: String = snapshot.id.chars().filter(char::is_ascii_alphanumeric).take(16).collect::<String>().to_ascii_lowercase();
    let (staging, replaced) = (format!("bulwark_rollback_{tag}"), format!("bulwark_replaced_{tag}"));
    if database == staging || database == replaced {
        return Err(RestoreError::Invalid(format!("targetUrl: database {database} is a name Bulwark keeps for rollbacks")));
    }
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let mut admin = PgConnection::connect_with(&target.clone().database("postgres")).await.map_err(unreachable)?;
    let target_there = database_exists(&mut admin, &database).await.map_err(unreachable)?;
    if !target_there && database_exists(&mut admin, &replaced).await.map_err(unreachable)? {
        // An earlier attempt stopped between the renames: the target gets its name back first.
        sqlx::query(&format!("ALTER DATABASE {} RENAME TO {}", quote(&replaced), quote(&database))).execute(&mut admin).await.map_err(unreachable)?;
    }
    for leftover in [&staging, &replaced] {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(leftover))).execute(&mut admin).await.map_err(unreachable)?;
    }
    // template0: nothing a template adds must stand in the way of the dump's own objects. The
    // encoding, locale and (where this role may give it) the owner of the database it replaces.
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let like: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT pg_get_userbyid(datdba)::text, pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text FROM pg_database WHERE datname = $1",
    )
    .bind(&database)
    .fetch_optional(&mut admin)
    .await
    .map_err(unreachable)?;
    let create = format!("CREATE DATABASE {} TEMPLATE template0", quote(&staging));
    let create = match &like {
        Some((_, encoding, collate, ctype)) => format!("{create} ENCODING {} LC_COLLATE {} LC_CTYPE {}", literal(encoding), literal(collate), literal(ctype)),
        None => create,
    };
    let owned = like.as_ref().map(|(owner, ..)| format!("{create} OWNER {}", quote(owner)));
    // Giving it away needs membership of the owner's role: without it, this role owns it.
    let made = match owned {
        Some(sql) => sqlx::query(&sql).execute(&mut admin).await.is_ok(),
        None => false,
    };
    if !made {
        sqlx::query(&create).execute(&mut admin).await.map_err(unreachable)?;
    }
    let mut staging_url = url::Url::parse(&request.target_url).map_err(|e| RestoreError::Invalid(format!("targetUrl: {e}")))?;
    staging_url.set_path(&format!("/{staging}"));
    let restored = match pg_restore(repo, snapshot, staging_url.as_str(), request.target_password.as_deref(), &[], false).await {
        // After the restore: a read-only default or a connection limit must not stop it.
        Ok(bytes) if like.is_some() => copy_database_properties(&mut admin, &database, &staging).await.map(|()| bytes),
        other => other,
    };
    let bytes = match restored {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(&staging))).execute(&mut admin).await;
            return Err(e);
        }
    };
    // A client that reconnects between ending its session and the rename makes the rename
    // fail: end the sessions again and retry a few times.
    let mut tries = 0;
    loop {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()").bind(&database).execute(&mut admin).await.map_err(unreachable)?;
        match sqlx::query(&format!("ALTER DATABASE {} RENAME TO {}", quote(&database), quote(&replaced))).execute(&mut admin).await {
            Ok(_) => break,
            Err(_) if tries < 5 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => return Err(unreachable(e)),
        }
    }
    if let Err(e) = sqlx::query(&format!("ALTER DATABASE {} RENAME TO {}", quote(&staging), quote(&database))).execute(&mut admin).await {
        // The target keeps its own name and content.
        let _ = sqlx::query(&format!("ALTER DATABASE {} RENAME TO {}", quote(&replaced), quote(&database))).execute(&mut admin).await;
        return Err(unreachable(e));
    }
    sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", quote(&replaced))).execute(&mut admin).await.map_err(unreachable)?;
    let _ = admin.close().await;
    Ok(bytes)
}

/// Gives database `to` what a dump does not hold of database `from`: its privileges, its
/// connection limit, its comment, and its settings (`ALTER DATABASE … SET`, `ALTER ROLE … IN
/// DATABASE … SET`). A restore never changes them, so the database a rollback swaps in has
/// those the target had before the restore, a revoked `CONNECT` included: the privileges, limit
/// and comment must be given or the rollback fails; a setting this role may not give (a
/// superuser's, another role's) is left out with a warning. Every name and value is quoted by
/// the server (`quote_ident`, `quote_literal`).
async fn copy_database_properties(admin: &mut PgConnection, from: &str, to: &str) -> Result<(), RestoreError> {
    let failed = |what: &str, e: sqlx::Error| RestoreError::Target(format!("giving the rolled-back database the {what} of {from}: {}", describe(&e)));
    let (to_ident, has_acl, limit, comment): (String, bool, i32, Option<String>) = sqlx::query_as(
        "SELECT quote_ident($2), datacl IS NOT NULL, datconnlimit, quote_literal(shobj_description(oid, 'pg_database')) FROM pg_database WHERE datname = $1",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut *admin)
    .await
    .map_err(|e| failed("properties", e))?;
    let mut required = Vec::new();
    if has_acl {
        required.push(format!("REVOKE ALL ON DATABASE {to_ident} FROM PUBLIC"));
        let grants: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type, a.is_grantable
               FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1",
        )
        .bind(from)
        .fetch_all(&mut *admin)
        .await
        .map_err(|e| failed("privileges", e))?;
        for (grantee, privilege, grantable) in grants {
            if !matches!(privilege.as_str(), "CONNECT" | "CREATE" | "TEMPORARY") {
                return Err(RestoreError::Target(format!("database {from} grants {privilege:?}, which a rollback cannot give back")));
            }
            required.push(format!("GRANT {privilege} ON DATABASE {to_ident} TO {grantee}{}", if grantable { " WITH GRANT OPTION" } else { "" }));
        }
    }
    if limit >= 0 {
        required.push(format!("ALTER DATABASE {to_ident} CONNECTION LIMIT {limit}"));
    }
    if let Some(comment) = comment {
        required.push(format!("COMMENT ON DATABASE {to_ident} IS {comment}"));
    }
    for statement in required {
        sqlx::query(&statement).execute(&mut *admin).await.map_err(|e| failed("privileges", e))?;
    }
    // Each setting `name=value`, its name quoted part by part and its value as pg_dump writes it.
    let settings: Vec<(Option<String>, String)> = sqlx::query_as(
        "SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE quote_ident(pg_get_userbyid(s.setrole)) END, unnest(s.setconfig)
           FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1",
    )
    .bind(from)
    .fetch_all(&mut *admin)
    .await
    .map_err(|e| failed("settings", e))?;
    for (role, setting) in settings {
        let Some((name, value)) = setting.split_once('=') else { continue };
        let parts: Vec<String> = sqlx::query_scalar("SELECT quote_ident(p) FROM unnest(string_to_array($1, '.')) AS p").bind(name).fetch_all(&mut *admin).await.map_err(|e| failed("settings", e))?;
        let values: Vec<String> =
            sqlx::query_scalar("SELECT quote_literal(v) FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n").bind(setting_values(name, value)).fetch_all(&mut *admin).await.map_err(|e| failed("settings", e))?;
        let set = format!("SET {} TO {}", parts.join("."), values.join(", "));
        let statement = match &role {
            None => format!("ALTER DATABASE {to_ident} {set}"),
            Some(role) => format!("ALTER ROLE {role} IN DATABASE {to_ident} {set}"),
        };
        if let Err(e) = sqlx::query(&statement).execute(&mut *admin).await {
            tracing::warn!(database = %from, setting = %setting, error = %describe(&e), "a setting of the replaced database was not given to the rolled-back one");
        }
    }
    Ok(())
}

/// A stored setting's value as the values to quote: itself, or for the settings PostgreSQL
/// keeps as a list of quoted names (`search_path = "$user", public`) each element, as pg_dump
/// writes them.
fn setting_values(name: &str, value: &str) -> Vec<String> {
    const LISTS: [&str; 4] = ["search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries"];
    if !LISTS.contains(&name.to_ascii_lowercase().as_str()) {
        return vec![value.to_string()];
    }
    let mut elements = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut element = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        element.push('"');
                    }
                    '"' => break,
                    c => element.push(c),
                }
            }
            while chars.peek().is_some_and(|c| *c != ',') {
                chars.next();
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                chars.next();
                element.push(c);
            }
            element = element.trim_end().to_string();
        }
        elements.push(element);
        if chars.next().is_none() {
            break;
        }
    }
    elements
}

async fn database_exists(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, i32>("SELECT 1 FROM pg_database WHERE datname = $1").bind(name).fetch_optional(conn).await?.is_some())
}

/// A running pg_restore, killed (and reaped) if it is dropped before it exits: a restore
/// stopped, failed or dropped part-way (a lost lease drops the job's future) must never let it
/// go on to commit.
struct Restoring(std::process::Child);

impl Drop for Restoring {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// pg_restore's input. pg_restore stops reading once it has what it needs (the chosen tables),
/// so a closed pipe is not an error: the rest of the stream is still read and verified, and
/// pg_restore's exit status decides. `closed` says it stopped reading; `fed` counts what it took.
struct PipeInput {
    pipe: Option<std::process::ChildStdin>,
    closed: Arc<AtomicBool>,
    fed: Arc<AtomicU64>,
}

impl std::io::Write for PipeInput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(pipe) = &mut self.pipe {
            match pipe.write_all(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    self.pipe = None;
                    self.closed.store(true, Ordering::SeqCst);
                }
                Err(e) => return Err(e),
                Ok(()) => {
                    self.fed.fetch_add(buf.len() as u64, Ordering::SeqCst);
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.pipe.as_mut().map(std::io::Write::flush) {
            Some(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

/// `schema.table` or `table` (schema `public`); every table in one schema, so `pg_restore
/// --schema` selects exactly them.
fn parse_tables(tables: &[String]) -> Result<Vec<(String, String)>, RestoreError> {
    let parsed: Vec<(String, String)> = tables
        .iter()
        .map(|t| match t.trim().split_once('.') {
            Some((schema, table)) => (schema.to_string(), table.to_string()),
            None => ("public".to_string(), t.trim().to_string()),
        })
        .collect();
    if parsed.iter().any(|(s, t)| s.is_empty() || t.is_empty() || t.contains('.')) {
        return Err(RestoreError::Invalid("tables: give schema.table or table".into()));
    }
    if parsed.windows(2).any(|w| w[0].0 != w[1].0) {
        return Err(RestoreError::Invalid("tables: restore the tables of one schema at a time".into()));
    }
    Ok(parsed)
}

/// Creates the target database when missing, and refuses targets a restore would collide with:
/// a table that already exists, or a whole-database restore into a database with tables.
async fn prepare_target(target: &PgConnectOptions, database: &str, tables: &[(String, String)], replace: bool) -> Result<(), RestoreError> {
    let mut admin = PgConnection::connect_with(&target.clone().database("postgres")).await.map_err(unreachable)?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1").bind(database).fetch_optional(&mut admin).await.map_err(unreachable)?;
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\""))).execute(&mut admin).await.map_err(unreachable)?;
    }
    let _ = admin.close().await;
    match existing(target, tables).await?.into_iter().next() {
        Some(conflict) if !replace => Err(RestoreError::Conflict(conflict)),
        _ => Ok(()),
    }
}

/// The target database a request names, with its password.
fn target_of(run: &RestoreRun<'_>, r: &PostgresRestore) -> Result<PgConnectOptions, RestoreError> {
    let target = run.targets.database("targetUrl", &r.target_url)?;
    Ok(match &r.target_password {
        Some(password) => target.password(password),
        None => target,
    })
}

fn unreachable(e: sqlx::Error) -> RestoreError {
    RestoreError::Target(format!("target PostgreSQL: {}", describe(&e)))
}

/// Whether `target` is the database `source` (a configuration's URL) names.
fn same_database(target: &PgConnectOptions, source: &str) -> bool {
    source.parse::<PgConnectOptions>().is_ok_and(|s| {
        s.get_host().eq_ignore_ascii_case(target.get_host()) && s.get_port() == target.get_port() && s.get_database() == target.get_database()
    })
}

/// What was written in `target` (the database `backup` was taken of) after the backup: rows
/// its tables' statistics count since, tables created or dropped since. Where the counts went
/// down (statistics reset, a table or the database recreated) it says it cannot tell. Nothing
/// for a backup that recorded no counts (taken before they were recorded).
async fn written_since(target: &PgConnectOptions, backup: &Execution) -> Result<Vec<String>, RestoreError> {
    let recorded: serde_json::Value = serde_json::from_str(&backup.recovery_metadata).unwrap_or_default();
    let Ok(then) = serde_json::from_value::<Vec<TableInfo>>(recorded["postgresql"]["tables"].clone()) else { return Ok(Vec::new()) };
    if !then.is_empty() && then.iter().all(|t| t.rows_written.is_none()) {
        return Ok(Vec::new());
    }
    let mut conn = PgConnection::connect_with(target).await.map_err(unreachable)?;
    let now = postgres::tables(&mut conn).await.map_err(unreachable)?;
    let _ = conn.close().await;
    let key = |t: &TableInfo| format!("{}.{}", t.schema, t.name);
    let before: std::collections::HashMap<String, Option<i64>> = then.iter().map(|t| (key(t), t.rows_written)).collect();
    let after: std::collections::HashMap<String, Option<i64>> = now.iter().map(|t| (key(t), t.rows_written)).collect();
    let database = target.get_database().unwrap_or_default();
    let mut rows = 0i64;
    for (table, count) in &after {
        match (before.get(table).copied().flatten(), *count) {
            (Some(then), Some(now)) if now < then => {
                return Ok(vec![format!(
                    "whether {database} changed since the backup cannot be told: the write counts of {table} restarted since (statistics reset, or the table or database made anew)"
                )]);
            }
            (Some(then), Some(now)) => rows += now - then,
            _ => {}
        }
    }
    let mut created: Vec<&String> = after.keys().filter(|t| !before.contains_key(*t)).collect();
    let mut dropped: Vec<&String> = before.keys().filter(|t| !after.contains_key(*t)).collect();
    if rows == 0 && created.is_empty() && dropped.is_empty() {
        return Ok(Vec::new());
    }
    created.sort();
    dropped.sort();
    let mut what = vec![format!("{rows} rows were inserted, updated or deleted")];
    if !created.is_empty() {
        what.push(format!("tables created: {}", created.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")));
    }
    if !dropped.is_empty() {
        what.push(format!("tables dropped: {}", dropped.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")));
    }
    Ok(vec![format!("{database} is newer than the backup: since it was taken {}; restoring over it loses those changes", what.join("; "))])
}

/// What a restore would collide with in the target database: any table for a whole
/// database, the named tables otherwise; nothing when the database does not exist.
async fn existing(target: &PgConnectOptions, tables: &[(String, String)]) -> Result<Vec<String>, RestoreError> {
    let database = target.get_database().unwrap_or_default().to_string();
    let mut admin = PgConnection::connect_with(&target.clone().database("postgres")).await.map_err(unreachable)?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1").bind(&database).fetch_optional(&mut admin).await.map_err(unreachable)?;
    let _ = admin.close().await;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let mut conn = PgConnection::connect_with(target).await.map_err(unreachable)?;
    let mut found = Vec::new();
    if tables.is_empty() {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(unreachable)?;
        if count > 0 {
            found.push(format!("database {database} already has {count} tables: restore the whole database into a new or empty one, or name the tables"));
        }
    }
    for (schema, table) in tables {
        let exists: Option<String> =
            sqlx::query_scalar("SELECT to_regclass(format('%I.%I', $1::text, $2::text))::text").bind(schema).bind(table).fetch_one(&mut conn).await.map_err(unreachable)?;
        if exists.is_some() {
            found.push(format!("table {schema}.{table} already exists in {database}: drop or rename it first; nothing was restored"));
        }
    }
    let _ = conn.close().await;
    Ok(found)
}

/// Restores a dump into a new database on the source's server, checks that every table the
/// backup recorded is there (counting its rows), and drops the database.
async fn into_database(run: &TestRun<'_>) -> Outcome {
    let TestRun { catalog, secrets, actor, configuration, execution, test_id } = *run;
    let password = match configuration.source_password(secrets) {
        Ok(p) => p,
        Err(e) => return failed(format!("the source password cannot be opened: {e}")),
    };
    let scratch = format!("bulwark_test_{}", &test_id.replace('-', "")[..12]);
    let Some((server, _)) = configuration.source_identifier.rsplit_once('/') else {
        return failed(format!("{} names no database", configuration.source_identifier));
    };
    let target_url = format!("{server}/{scratch}");
    let request = PostgresRestore { target_url: target_url.clone(), target_password: password.clone(), tables: Vec::new(), replace_existing: false };
    let targets = Targets::scratch(None, Some(&target_url));
    let mut outcome = match restore_postgres(catalog, secrets, &targets, actor, &execution.id, request).await {
        Err(e) => failed(format!("the restore failed: {e}")),
        Ok(report) => {
            let recorded: Vec<(String, String)> = serde_json::from_str::<serde_json::Value>(&execution.recovery_metadata)
                .ok()
                .and_then(|m| m["postgresql"]["tables"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|t| Some((t["schema"].as_str()?.to_string(), t["name"].as_str()?.to_string())))
                .collect();
            match count_tables(&Database { url: target_url.clone(), password: password.clone() }, &recorded).await {
                Ok((counts, missing)) => Outcome {
                    bytes: report.bytes,
                    items: counts.len() as u64,
                    issues: restore_tests::read_elsewhere(execution, &report.storage_location_id)
                        .into_iter()
                        .chain(missing.into_iter().map(|t| format!("table {t} is in the backup's metadata but not in the restored database")))
                        .collect(),
                    detail: serde_json::json!({ "database": scratch, "rows": counts }),
                },
                Err(e) => failed(format!("the restored database cannot be read: {e}")),
            }
        }
    };
    let maintenance = Database { url: format!("{server}/postgres"), password };
    if let Err(e) = drop_database(&maintenance, &scratch).await {
        outcome.issues.push(format!("the scratch database {scratch} could not be dropped: {e}"));
    }
    outcome
}

/// Row counts of the `recorded` tables that exist, and the names of those that do not.
async fn count_tables(database: &Database, recorded: &[(String, String)]) -> Result<(serde_json::Map<String, serde_json::Value>, Vec<String>), String> {
    let options = database.options().map_err(|e| e.to_string())?;
    let mut conn = sqlx::postgres::PgConnection::connect_with(&options).await.map_err(|e| e.to_string())?;
    let (mut counts, mut missing) = (serde_json::Map::new(), Vec::new());
    for (schema, name) in recorded {
        // query_to_xml runs the count with both names quoted by format(%I): no SQL from names.
        let rows: Option<i64> = sqlx::query_scalar(
            "SELECT CASE WHEN to_regclass(format('%I.%I', $1::text, $2::text)) IS NULL THEN NULL
                    ELSE (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', $1::text, $2::text), false, true, '')))[1]::text::bigint END",
        )
        .bind(schema)
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        match rows {
            Some(n) => {
                counts.insert(format!("{schema}.{name}"), n.into());
            }
            None => missing.push(format!("{schema}.{name}")),
        }
    }
    let _ = conn.close().await;
    Ok((counts, missing))
}

/// Drops database `name` through `maintenance` (a connection to another database of the same
/// server), ending its sessions; one that is gone already is fine. A restore test's scratch
/// database, or one a recovery drill's restore created.
pub(crate) async fn drop_database(maintenance: &Database, name: &str) -> Result<(), String> {
    let options = maintenance.options().map_err(|e| e.to_string())?;
    let mut conn = sqlx::postgres::PgConnection::connect_with(&options).await.map_err(|e| e.to_string())?;
    // Quoted as an identifier: the name may come from a restore target's request.
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.replace('"', "\"\""))).execute(&mut conn).await.map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    Ok(())
}


#[cfg(test)]
mod tests {
    use super::setting_values;

    #[test]
    fn stored_settings_read_back_as_values() {
        assert_eq!(setting_values("work_mem", "8MB"), ["8MB"]);
        assert_eq!(setting_values("application_name", "a, b"), ["a, b"]);
        assert_eq!(setting_values("search_path", "\"$user\", public"), ["$user", "public"]);
        assert_eq!(setting_values("search_path", "\"a \"\"b\"\", c\",d"), ["a \"b\", c", "d"]);
        assert_eq!(setting_values("search_path", "\"\""), [""]);
    }
}
