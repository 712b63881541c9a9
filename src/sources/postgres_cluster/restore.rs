//! Point-in-time restores of continuous PostgreSQL configurations: a base backup is unpacked
//! into a new data directory, the archived WAL it needs is put beside it, and PostgreSQL
//! replays it up to the target (a time, a named restore point, or the end of the archive),
//! then, when asked, the new cluster is started, waited for until promoted, and checked.
//!
//! A failed restore removes the data directory it created, so nothing half-restored is left.
//!
//! The directory must lie under a restore root ([`Targets`]); the cluster runs with Bulwark's
//! configuration, not its source's ([`cluster_config`]), is started as `postgres` with an
//! argument list (no shell, no `pg_ctl`) and an empty environment, and its log stays in the
//! data directory and the server log, never in an answer to a client.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use super::cluster_config::{self, Listen, WAL_DIR};
use crate::restores::{RestoreError, Targets, record_action};
use crate::platform::auth::{Principal, Role};
use crate::platform::catalog::Catalog;
use crate::configurations;
use crate::executions::{self, Execution, ExecutionStatus};
use crate::locations;
use crate::platform::secrets::SecretBox;
use crate::engine::source::postgres::server_tool;
use crate::wal_archive;

/// Where and to which point to restore a continuous configuration.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhysicalRestore {
    /// The new data directory: an absolute path that does not exist yet or is empty.
    pub target_directory: String,
    /// Replay up to this time (RFC 3339, e.g. `2026-11-23T01:02:03Z`), stopping before the first
    /// transaction committed after it.
    #[serde(default)]
    pub target_time: Option<String>,
    /// Replay up to this restore point (`pg_create_restore_point`).
    #[serde(default)]
    pub restore_point: Option<String>,
    /// Start the restored cluster on 127.0.0.1 at this port, wait until recovery has ended,
    /// and check it answers. Without it the directory is left ready to start.
    #[serde(default)]
    pub port: Option<u16>,
}

/// What a point-in-time restore did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryReport {
    /// The base backup restored.
    pub execution_id: String,
    pub data_directory: String,
    /// `latest`, `time …` or `restore point …`.
    pub recovery_target: String,
    pub wal_files: usize,
    /// Bytes of the base backup.
    pub bytes: u64,
    /// The port the restored cluster runs on, when it was started.
    pub port: Option<u16>,
    /// The last transaction replayed, from PostgreSQL's log, when it was started.
    pub recovered_to: Option<String>,
    /// The measured restore time (the achieved RTO of this restore).
    pub duration_seconds: f64,
    /// The storage location read: the backup's own, or a replica when that could not be read.
    pub storage_location_id: String,
}

enum Target {
    Latest,
    Time(chrono::DateTime<chrono::Utc>),
    RestorePoint(String),
}

/// Checks a request's point without restoring anything.
pub(super) fn check(request: &PhysicalRestore) -> Result<(), RestoreError> {
    Target::parse(request).map(|_| ())
}

impl Target {
    fn parse(request: &PhysicalRestore) -> Result<Target, RestoreError> {
        match (&request.target_time, &request.restore_point) {
            (Some(_), Some(_)) => Err(RestoreError::Invalid("give targetTime or restorePoint, not both".into())),
            (Some(time), None) => chrono::DateTime::parse_from_rfc3339(time.trim())
                .map(|t| Target::Time(t.with_timezone(&chrono::Utc)))
                .map_err(|e| RestoreError::Invalid(format!("targetTime: {e}; use RFC 3339, e.g. 2026-11-23T01:02:03Z"))),
            (None, Some(name)) if name.is_empty() || name.len() > 63 || name.contains(['\'', '\\', '\n']) => {
                Err(RestoreError::Invalid("restorePoint: a restore point name of 1 to 63 characters, without quotes or backslashes".into()))
            }
            (None, Some(name)) => Ok(Target::RestorePoint(name.clone())),
            (None, None) => Ok(Target::Latest),
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Latest => "latest".into(),
            Target::Time(t) => format!("time {}", crate::platform::time::to_text(*t)),
            Target::RestorePoint(name) => format!("restore point {name}"),
        }
    }

    /// The configuration lines that stop replay here.
    fn settings(&self) -> String {
        match self {
            Target::Latest => String::new(),
            Target::Time(t) => format!(
                "recovery_target_time = '{}'\nrecovery_target_inclusive = off\nrecovery_target_action = 'promote'\n",
                t.format("%Y-%m-%d %H:%M:%S%.6f+00")
            ),
            Target::RestorePoint(name) => format!("recovery_target_name = {}\nrecovery_target_action = 'promote'\n", cluster_config::quote(name)),
        }
    }
}

/// The base backup a point-in-time restore of a continuous configuration starts from: the
/// newest that ended before `request`'s point.
pub async fn base_backup_for(catalog: &Catalog, actor: &Principal, configuration_id: &str, request: &PhysicalRestore) -> Result<String, RestoreError> {
    actor.require(Role::Operator)?;
    let target = Target::parse(request)?;
    let before = match &target {
        Target::Time(t) => Some(crate::platform::time::to_text(*t)),
        _ => None,
    };
    let base = executions::list(catalog, actor, configuration_id, 500)
        .await?
        .into_iter()
        .filter(|e| e.status == ExecutionStatus::Completed && e.snapshot_id.is_some())
        .find(|e| before.as_ref().is_none_or(|t| e.completed_at.as_ref().is_some_and(|c| c <= t)))
        .ok_or_else(|| match &before {
            Some(t) => RestoreError::Invalid(format!("no base backup of this configuration ended before {t}: the restorable window starts later")),
            None => RestoreError::Invalid("this configuration has no completed base backup yet".into()),
        })?;
    Ok(base.id)
}

/// Restores the base backup of execution `execution_id` and replays the archive to the target.
pub async fn restore_physical(catalog: &Catalog, secrets: &SecretBox, targets: &Targets, actor: &Principal, execution_id: &str, request: PhysicalRestore) -> Result<RecoveryReport, RestoreError> {
    actor.require(Role::Operator)?;
    let target = Target::parse(&request)?;
    let execution = executions::restorable(catalog, actor, execution_id).await?;
    let configuration = configurations::find(catalog, &execution.configuration_id).await?;
    if !wal_archive::is_continuous(&configuration) {
        return Err(RestoreError::Invalid(format!("execution {execution_id} is not a base backup of a continuous PostgreSQL configuration")));
    }
    let (Some(location), Some(snapshot_id), Some(ended)) = (&execution.storage_location_id, &execution.snapshot_id, &execution.completed_at) else {
        return Err(RestoreError::Invalid(format!("execution {execution_id} has no snapshot (status {})", execution.status)));
    };
    if let Target::Time(t) = &target
        && crate::platform::time::to_text(*t) < *ended
    {
        return Err(RestoreError::Invalid(format!(
            "targetTime {} is before base backup {execution_id} ended ({ended}): restore an earlier base backup",
            crate::platform::time::to_text(*t)
        )));
    }
    let meta = BaseBackupMeta::of(&execution)?;
    let directory = new_data_directory(&targets.directory("targetDirectory", &request.target_directory)?)?;
    let started = Instant::now();
    let outcome = async {
        let locations::SnapshotSource { repo, snapshot, location_id } = locations::open_snapshot(catalog, secrets, location, snapshot_id).await?;
        let bytes = unpack(&repo, &snapshot, &directory).await?;
        let wal = stage_wal(catalog, &repo, &configuration.id, &meta.start_file, &directory).await?;
        cluster_config::take_over(&directory, &Listen::for_directory(&directory, request.port), &target.settings())?;
        std::fs::write(directory.join("recovery.signal"), b"").map_err(|e| RestoreError::Target(format!("{}: {e}", directory.display())))?;
        let owner = ServerUser::detect()?;
        owner.chown_all(&directory)?;
        let mut recovered_to = None;
        if let Some(port) = request.port {
            let password = configuration.source_password(secrets)?;
            recovered_to = start_and_wait(&owner, &meta.server_version, &directory, port, &configuration.source_identifier, password.as_deref()).await?;
            // Replay is over: the staged WAL is no longer needed.
            let _ = std::fs::remove_dir_all(directory.join(WAL_DIR));
        }
        Ok::<_, RestoreError>((bytes, wal, recovered_to, location_id))
    }
    .await;
    let (bytes, wal_files, recovered_to, location_id) = match outcome {
        Ok(done) => done,
        Err(e) => {
            stop_quietly(&directory).await;
            let _ = std::fs::remove_dir_all(&directory);
            return Err(e);
        }
    };
    let report = RecoveryReport {
        execution_id: execution_id.to_string(),
        data_directory: directory.display().to_string(),
        recovery_target: target.describe(),
        wal_files,
        bytes,
        port: request.port,
        recovered_to,
        duration_seconds: started.elapsed().as_secs_f64(),
        storage_location_id: location_id,
    };
    record_action(catalog, actor, "restore.point_in_time", execution_id, serde_json::to_value(&report).unwrap_or_default()).await?;
    Ok(report)
}

/// What the base backup's execution recorded: the first WAL file it needs, the server version.
struct BaseBackupMeta {
    start_file: String,
    server_version: String,
}

impl BaseBackupMeta {
    fn of(execution: &Execution) -> Result<BaseBackupMeta, RestoreError> {
        let meta: serde_json::Value = serde_json::from_str(&execution.recovery_metadata).unwrap_or_default();
        let start_file = meta["wal"]["startFile"].as_str().map(str::to_string);
        let server_version = meta["postgresql"]["serverVersion"].as_str().map(str::to_string);
        match (start_file, server_version) {
            (Some(start_file), Some(server_version)) => Ok(BaseBackupMeta { start_file, server_version }),
            _ => Err(RestoreError::Invalid(format!("execution {} has no WAL start point: it is not a base backup", execution.id))),
        }
    }
}

/// Creates the data directory (already checked to lie under a restore root), refusing one that
/// holds anything.
fn new_data_directory(directory: &Path) -> Result<PathBuf, RestoreError> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::read_dir(directory).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(RestoreError::Conflict(format!("targetDirectory: {} is not empty; a restore never writes over data", directory.display())));
    }
    std::fs::create_dir_all(directory).map_err(|e| RestoreError::Target(format!("{}: {e}", directory.display())))?;
    // PostgreSQL refuses a data directory others can read.
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700)).map_err(|e| RestoreError::Target(format!("{}: {e}", directory.display())))?;
    Ok(directory.to_path_buf())
}

/// Streams the base backup from the repository and unpacks it as it comes.
async fn unpack(repo: &crate::engine::repo::Repository, snapshot: &crate::engine::repo::snapshot::Snapshot, directory: &Path) -> Result<u64, RestoreError> {
    let index = Arc::new(repo.load_index().await?);
    let (bytes, _) = crate::engine::repo::untar::restore_tar(repo, index, snapshot, directory).await?;
    Ok(bytes)
}

/// Fetches, verified, every archived WAL file from the base backup's first one on (and every
/// timeline history file) into the data directory's staging area. Returns how many.
async fn stage_wal(catalog: &Catalog, repo: &crate::engine::repo::Repository, configuration_id: &str, start_file: &str, directory: &Path) -> Result<usize, RestoreError> {
    let staging = directory.join(WAL_DIR);
    std::fs::create_dir_all(&staging).map_err(|e| RestoreError::Target(format!("{}: {e}", staging.display())))?;
    let names: Vec<String> = wal_archive::names(catalog, configuration_id)
        .await
        .map_err(|e| RestoreError::Invalid(e.to_string()))?
        .into_iter()
        .filter(|n| n.ends_with(".history") || (n.len() == 24 && n.as_str() >= start_file))
        .collect();
    for name in &names {
        let bytes = repo.wal_fetch(configuration_id, name).await?;
        let path = staging.join(name);
        std::fs::write(&path, bytes).map_err(|e| RestoreError::Target(format!("{}: {e}", path.display())))?;
    }
    Ok(names.len())
}

/// The user PostgreSQL runs as: ourselves, or `postgres` when we are root (it refuses root).
struct ServerUser {
    ids: Option<(u32, u32)>,
}

impl ServerUser {
    fn detect() -> Result<ServerUser, RestoreError> {
        crate::platform::child::server_user_ids()
            .map(|ids| ServerUser { ids })
            .ok_or_else(|| RestoreError::Target("running as root, a restored cluster must run as the `postgres` user, and there is none".into()))
    }

    fn chown_all(&self, root: &Path) -> Result<(), RestoreError> {
        let Some((uid, gid)) = self.ids else { return Ok(()) };
        let failed = |e: std::io::Error, p: &Path| RestoreError::Target(format!("{}: {e}", p.display()));
        let mut stack = vec![root.to_path_buf()];
        while let Some(path) = stack.pop() {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(|e| failed(e, &path))?;
            if std::fs::symlink_metadata(&path).map_err(|e| failed(e, &path))?.is_dir() {
                for entry in std::fs::read_dir(&path).map_err(|e| failed(e, &path))? {
                    stack.push(entry.map_err(|e| failed(e, &path))?.path());
                }
            }
        }
        Ok(())
    }
}

/// How long replay may take before the restore gives up.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The log of a restored cluster, in its data directory.
const LOG_FILE: &str = "bulwark-restore.log";

/// A postmaster this process started. A thread waits for it, so it never lingers as a zombie,
/// and notes when it has exited.
struct Postmaster {
    exited: Arc<AtomicBool>,
}

impl Postmaster {
    /// Starts `postgres -D directory` as the server user: an argument list, no shell, an empty
    /// environment, its own process group (a signal to Bulwark is not one to it), its output
    /// appended to the log in the data directory.
    fn start(owner: &ServerUser, server_version: &str, directory: &Path) -> Result<Postmaster, RestoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::process::CommandExt;
        let log_path = directory.join(LOG_FILE);
        let failed = |e: std::io::Error| RestoreError::Target(format!("{}: {e}", log_path.display()));
        let log = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&log_path).map_err(failed)?;
        if let Some((uid, gid)) = owner.ids {
            std::os::unix::fs::fchown(&log, Some(uid), Some(gid)).map_err(failed)?;
        }
        let mut command = crate::platform::child::command(server_tool("postgres", server_version));
        command.arg("-D").arg(directory).stdin(std::process::Stdio::null()).stdout(log.try_clone().map_err(failed)?).stderr(log).process_group(0);
        if let Some((uid, gid)) = owner.ids {
            command.uid(uid).gid(gid);
        }
        let mut child = command.spawn().map_err(|e| RestoreError::Target(format!("cannot run postgres: {e}")))?;
        let exited = Arc::new(AtomicBool::new(false));
        let flag = exited.clone();
        std::thread::spawn(move || {
            let _ = child.wait();
            flag.store(true, Ordering::SeqCst);
        });
        Ok(Postmaster { exited })
    }

    fn has_exited(&self) -> bool {
        self.exited.load(Ordering::SeqCst)
    }
}

/// Starts the restored cluster, waits until it has left recovery, checks it answers a query,
/// and returns the last replayed transaction's time from its log.
async fn start_and_wait(owner: &ServerUser, server_version: &str, directory: &Path, port: u16, source_url: &str, password: Option<&str>) -> Result<Option<String>, RestoreError> {
    let log = directory.join(LOG_FILE);
    let postmaster = Postmaster::start(owner, server_version, directory)?;
    let listen = Listen::for_directory(directory, Some(port));
    let mut options = PgConnectOptions::from_str(source_url)
        .map_err(|e| RestoreError::Invalid(format!("the configuration's source URL: {e}")))?
        .host("127.0.0.1")
        .port(port)
        // Settings stored with the data (ALTER ROLE/DATABASE … SET) come back too: these
        // startup options override them, so no library loads and no schema shadows pg_catalog
        // in Bulwark's own check.
        .options([("session_preload_libraries", ""), ("local_preload_libraries", ""), ("search_path", "pg_catalog")])
        .disable_statement_logging();
    match &listen.socket_dir {
        // Over the private socket Bulwark's pg_hba.conf trusts the server user.
        Some(dir) => options = options.socket(dir),
        None => {
            if let Some(password) = password {
                options = options.password(password);
            }
        }
    }
    let started = Instant::now();
    loop {
        // Connections fail while replay runs with hot_standby off (SQLSTATE 57P03) and before the
        // server listens; any other refusal by the server is final.
        match sqlx::postgres::PgConnection::connect_with(&options).await {
            Ok(mut conn) => {
                let row = sqlx::query("SELECT pg_catalog.pg_is_in_recovery(), (SELECT pg_catalog.count(*) FROM pg_catalog.pg_database)").fetch_one(&mut conn).await;
                let _ = conn.close().await;
                if let Ok(row) = row
                    && !row.get::<bool, _>(0)
                {
                    return Ok(recovered_to(&log));
                }
            }
            Err(sqlx::Error::Database(e)) if e.code().as_deref() != Some("57P03") => {
                return Err(RestoreError::Target(format!("the restored cluster refused Bulwark's check: {}", e.message())));
            }
            Err(_) => {}
        }
        if postmaster.has_exited() {
            return Err(failed_cluster(directory, "the restored cluster stopped during recovery"));
        }
        if started.elapsed() > RECOVERY_LIMIT {
            return Err(failed_cluster(directory, &format!("recovery did not end within {} minutes", RECOVERY_LIMIT.as_secs() / 60)));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The error for a cluster that failed: the log's tail goes to the server log (it can hold other
/// sessions' SQL), the client learns where to look.
fn failed_cluster(directory: &Path, what: &str) -> RestoreError {
    tracing::warn!(directory = %directory.display(), log = %log_tail(&directory.join(LOG_FILE)), "{what}");
    RestoreError::Target(format!("{what}: its log is in the server log"))
}

/// Stops a cluster a failed restore (or a finished restore test) started, before its
/// directory is removed: the process named in `postmaster.pid`, only when it is a process
/// running in that very directory (the file could be old, or planted), with an immediate
/// shutdown, waiting up to 10 s for it to go.
pub(crate) async fn stop_quietly(directory: &Path) {
    let Some(pid) = std::fs::read_to_string(directory.join("postmaster.pid")).ok().and_then(|t| t.lines().next()?.trim().parse::<libc::pid_t>().ok()) else {
        return;
    };
    let runs_here = std::fs::read_link(format!("/proc/{pid}/cwd")).ok().zip(directory.canonicalize().ok()).is_some_and(|(cwd, dir)| cwd == dir);
    if pid <= 1 || !runs_here {
        return;
    }
    // SAFETY: kill(2) takes plain integers; the process was just seen running in the directory.
    unsafe { libc::kill(pid, libc::SIGQUIT) };
    let started = Instant::now();
    // SAFETY: signal 0 only asks whether the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The log's last lines, for the server log.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// `… recovery stopping before commit of transaction 745, time 2026-11-23 01:02:03.5+00` or
/// `… last completed transaction was at log time 2026-11-23 01:02:03.4+00`: the time replayed to.
fn recovered_to(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().rev().find_map(|line| {
        line.split_once("last completed transaction was at log time ")
            .map(|(_, t)| t.trim().to_string())
            .or_else(|| line.split_once("recovery stopping before commit of transaction ").and_then(|(_, rest)| rest.split_once(", time ")).map(|(_, t)| t.trim().to_string()))
    })
}
