//! `database_failover`: promotes a PostgreSQL standby, fencing the old primary first so two
//! servers never take writes at once and nothing the primary committed is lost.
//!
//! While the old primary answers, the standby must be within `maxLagBytes` of it. The primary is
//! then fenced (`read_only`: new transactions read-only and every other client session ended;
//! `stop`: `pg_ctl stop -m fast` on this host; `none`: left alone, for runbooks that fence it
//! another way), and the standby is promoted only once it has replayed the primary's last WAL
//! position. A primary that does not answer is taken as down: the standby is promoted with what
//! it has, and the output says the loss is unknown. The promoted server must then take writes.
//!
//! Rolling back gives the writes back to the old primary (its fence undone); the promoted standby
//! cannot be demoted: it has diverged, and rejoins as a standby through pg_rewind.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};

use super::{Problem, StepContext, StepError, StepResult};
use crate::engine::source::postgres::server_tool;

/// A second promotion attempt after a node died mid-step would find the standby promoted, or the
/// primary fenced with nothing promoted: a person looks first.
pub const IDEMPOTENT: bool = false;

const DEFAULT_MAX_LAG_BYTES: u64 = 16 << 20;
const DEFAULT_PROMOTE_TIMEOUT_SECONDS: u32 = 60;
const MAX_PROMOTE_TIMEOUT_SECONDS: u32 = 3600;

/// A server that has not answered within this is taken as down. Short: while the step waits,
/// nothing takes writes.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// How long a reloaded setting may take to reach a session (the postmaster relays it).
const RELOAD_LIMIT: Duration = Duration::from_secs(10);

const POLL: Duration = Duration::from_millis(200);

/// How long each ended session may take to exit (ms), so the primary's last WAL position is
/// read after its last write.
const TERMINATE_WAIT_MS: i64 = 5000;

/// Where `pg_ctl start` sends the restarted primary's output, in its data directory.
const FAILBACK_LOG: &str = "bulwark-failback.log";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    pub primary: Server,
    pub standby: Server,
    /// How many bytes of WAL the standby may have left to replay when a primary that answers is
    /// fenced; further behind, promoting it would throw away that much committed work.
    #[serde(default = "default_max_lag_bytes")]
    pub max_lag_bytes: u64,
    #[serde(default)]
    pub fence: Fence,
    /// The primary's data directory on this host, for `fence: stop`.
    pub data_directory: Option<String>,
    /// How long the standby may take to replay the fenced primary's last WAL, and then to
    /// finish its promotion.
    #[serde(default = "default_promote_timeout_seconds")]
    pub promote_timeout_seconds: u32,
}

/// How one server is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    pub host: String,
    pub port: u16,
    #[serde(default = "postgres")]
    pub user: String,
    #[serde(default = "postgres")]
    pub database: String,
    /// The name of the Bulwark credential holding the password.
    pub password_secret: Option<String>,
    /// libpq's `sslmode`: disable, prefer (the default), require, verify-ca or verify-full.
    pub ssl_mode: Option<String>,
}

/// How the old primary is kept from taking writes once the standby is promoted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fence {
    #[default]
    ReadOnly,
    Stop,
    None,
}

/// What was done to the old primary, as the output records it for the rollback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Fenced {
    ReadOnly,
    Stop,
    None,
    /// It did not answer: nothing could be done to it.
    Unreachable,
}

impl From<Fence> for Fenced {
    fn from(fence: Fence) -> Fenced {
        match fence {
            Fence::ReadOnly => Fenced::ReadOnly,
            Fence::Stop => Fenced::Stop,
            Fence::None => Fenced::None,
        }
    }
}

fn default_max_lag_bytes() -> u64 {
    DEFAULT_MAX_LAG_BYTES
}

fn default_promote_timeout_seconds() -> u32 {
    DEFAULT_PROMOTE_TIMEOUT_SECONDS
}

fn postgres() -> String {
    "postgres".into()
}

impl Config {
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = self.primary.check("primary");
        problems.extend(self.standby.check("standby"));
        if self.primary.host == self.standby.host && self.primary.port == self.standby.port {
            problems.push(Problem::new("standby", "the standby has the primary's own address"));
        }
        match (self.fence, self.data_directory.as_deref()) {
            (Fence::Stop, None) => problems.push(Problem::new("dataDirectory", "fence \"stop\" needs the primary's data directory on this host")),
            (Fence::Stop, Some(dir)) if !Path::new(dir).is_absolute() => problems.push(Problem::new("dataDirectory", "must be an absolute path")),
            (Fence::ReadOnly | Fence::None, Some(_)) => problems.push(Problem::new("dataDirectory", "is only for fence \"stop\"")),
            _ => {}
        }
        if !(1..=MAX_PROMOTE_TIMEOUT_SECONDS).contains(&self.promote_timeout_seconds) {
            problems.push(Problem::new("promoteTimeoutSeconds", format!("must be between 1 and {MAX_PROMOTE_TIMEOUT_SECONDS}")));
        }
        problems
    }

    fn promote_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.promote_timeout_seconds))
    }

    fn data_dir(&self) -> Result<&Path, StepError> {
        self.data_directory.as_deref().map(Path::new).ok_or_else(|| StepError::permanent("fence \"stop\" needs dataDirectory"))
    }
}

impl Server {
    fn check(&self, name: &str) -> Vec<Problem> {
        let field = |f: &str| format!("{name}.{f}");
        let mut problems = Vec::new();
        if self.host.trim().is_empty() {
            problems.push(Problem::new(field("host"), "must not be empty"));
        }
        if self.port == 0 {
            problems.push(Problem::new(field("port"), "must be between 1 and 65535"));
        }
        if self.user.is_empty() {
            problems.push(Problem::new(field("user"), "must not be empty"));
        }
        if self.database.is_empty() {
            problems.push(Problem::new(field("database"), "must not be empty"));
        }
        if self.password_secret.as_deref() == Some("") {
            problems.push(Problem::new(field("passwordSecret"), "must name a credential"));
        }
        if let Some(mode) = &self.ssl_mode
            && super::validation::ssl_mode(mode).is_none()
        {
            problems.push(Problem::new(field("sslMode"), "must be disable, prefer, require, verify-ca or verify-full"));
        }
        problems
    }

    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Fences the old primary, waits for the standby to replay what it wrote, promotes the standby
/// and checks it takes writes.
pub async fn run(cfg: &Config, ctx: &StepContext<'_>) -> StepResult {
    let mut standby = connect(&cfg.standby, ctx).await.map_err(ConnectError::into_step_error)?;
    let result = fail_over(cfg, ctx, &mut standby).await;
    let _ = standby.close().await;
    result
}

async fn fail_over(cfg: &Config, ctx: &StepContext<'_>, standby: &mut PgConnection) -> StepResult {
    let before = replaying(standby, &cfg.standby).await?;
    let fencing = fence_primary(cfg, ctx, standby, &before.replay).await?;
    if let Some(target) = &fencing.final_lsn {
        wait_for_replay(standby, cfg, ctx, target).await?;
    }
    // The newest transaction the standby holds: with the primary gone, the recovery point.
    let last_replayed: Option<String> = sqlx::query_scalar(r#"SELECT to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#)
        .fetch_one(&mut *standby)
        .await
        .map_err(failed_on(&cfg.standby.address()))?;
    promote(standby, cfg).await?;
    let after = promoted(standby, &cfg.standby, fencing.final_lsn.as_deref()).await?;
    let data_loss_bytes = after.missing.map(|bytes| bytes.max(0));
    let fenced = matches!(fencing.fence, Fenced::ReadOnly | Fenced::Stop);
    Ok(json!({
        "primaryReachable": fencing.fence != Fenced::Unreachable,
        "primaryUnreachable": fencing.unreachable,
        "fence": fencing.fence,
        "lagBytes": fencing.lag_bytes,
        "promoted": true,
        "timeline": after.timeline,
        "previousTimeline": before.timeline,
        "primaryFinalLsn": fencing.final_lsn,
        "replayedLsn": after.replayed,
        "lastReplayedAt": last_replayed,
        // Null when the primary did not answer: what it wrote last is not known.
        "dataLossBytes": data_loss_bytes,
        // The failover lost nothing: the old primary can take no more writes, and the new one
        // replayed all it had written.
        "dataConsistent": fenced && data_loss_bytes == Some(0),
    }))
}

/// Why no session was opened: nothing answered (the server may be down), or something else
/// failed (a wrong password, a missing database, TLS the server does not offer, a credential).
enum ConnectError {
    Silent(String),
    Failed(StepError),
}

impl ConnectError {
    /// For a server that must answer: silence may end, so another attempt is worth it.
    fn into_step_error(self) -> StepError {
        match self {
            ConnectError::Silent(message) => StepError::retryable(message),
            ConnectError::Failed(e) => e,
        }
    }
}

async fn connect(server: &Server, ctx: &StepContext<'_>) -> Result<PgConnection, ConnectError> {
    let address = server.address();
    let ssl = match server.ssl_mode.as_deref() {
        None => PgSslMode::Prefer,
        Some(name) => super::validation::ssl_mode(name).ok_or_else(|| ConnectError::Failed(StepError::permanent(format!("{address}: unknown sslMode {name:?}"))))?,
    };
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(server.host.trim_start_matches('[').trim_end_matches(']'))
        .port(server.port)
        .username(&server.user)
        .database(&server.database)
        .ssl_mode(ssl)
        .application_name("bulwark-failover");
    if let Some(name) = &server.password_secret {
        let password = ctx.secrets.secret(name).await.map_err(ConnectError::Failed)?;
        options = options.password(&password);
    }
    match tokio::time::timeout(CONNECT_LIMIT, PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(sqlx::Error::Io(e))) => Err(ConnectError::Silent(format!("{address} does not answer: {e}"))),
        Ok(Err(e)) => Err(ConnectError::Failed(refused(&address, &e))),
        Err(_) => Err(ConnectError::Silent(format!("{address} did not answer within {} s", CONNECT_LIMIT.as_secs()))),
    }
}

/// A server that answered and refused the session. A wrong password, a missing database or TLS
/// that does not match stays so; a full server, or one starting up, may not.
fn refused(address: &str, e: &sqlx::Error) -> StepError {
    let message = format!("{address} refused the connection: {}", crate::error::chain(e));
    let lasting = matches!(e, sqlx::Error::Tls(_)) || e.as_database_error().and_then(|d| d.code()).is_some_and(|code| code.starts_with("28") || code == "3D000");
    if lasting { StepError::permanent(message) } else { StepError::retryable(message) }
}

/// A statement's failure on `address`: the server's own refusal (a permission, a missing
/// function) stands; a lost connection may not.
fn failed_on(address: &str) -> impl Fn(sqlx::Error) -> StepError + '_ {
    move |e| {
        let message = format!("{address}: {}", crate::error::chain(&e));
        if matches!(e, sqlx::Error::Database(_)) { StepError::permanent(message) } else { StepError::retryable(message) }
    }
}

/// Where a standby's replay stands, and the timeline it follows.
struct Replaying {
    replay: String,
    timeline: i64,
}

async fn replaying(standby: &mut PgConnection, server: &Server) -> Result<Replaying, StepError> {
    let address = server.address();
    // A standby cannot name its WAL files (pg_walfile_name refuses during recovery): its last
    // restartpoint's timeline is the one it follows.
    let (recovering, replay, timeline): (bool, Option<String>, i64) =
        sqlx::query_as("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, (SELECT timeline_id FROM pg_control_checkpoint())::int8")
            .fetch_one(&mut *standby)
            .await
            .map_err(failed_on(&address))?;
    if !recovering {
        return Err(StepError::permanent(format!(
            "{address} is not a standby: it already takes writes (promoted by an earlier attempt, or not the standby meant); nothing was changed"
        )));
    }
    let replay = replay.ok_or_else(|| StepError::retryable(format!("the standby {address} has not replayed any WAL yet")))?;
    Ok(Replaying { replay, timeline })
}

/// What became of the old primary before the promotion.
struct Fencing {
    fence: Fenced,
    /// Why the primary was taken as down.
    unreachable: Option<String>,
    /// How far the standby was behind when the primary answered.
    lag_bytes: Option<i64>,
    /// The primary's last WAL position the standby must replay before it is promoted.
    final_lsn: Option<String>,
}

async fn fence_primary(cfg: &Config, ctx: &StepContext<'_>, standby: &mut PgConnection, replay: &str) -> Result<Fencing, StepError> {
    let mut primary = match connect(&cfg.primary, ctx).await {
        Ok(conn) => conn,
        // Down, or too hung to answer: it takes no writes now, and the runbook's traffic steps
        // keep clients off it should it come back.
        Err(ConnectError::Silent(why)) => return Ok(Fencing { fence: Fenced::Unreachable, unreachable: Some(why), lag_bytes: None, final_lsn: None }),
        Err(ConnectError::Failed(e)) => return Err(e),
    };
    let fencing = fence_answering(cfg, &mut primary, standby, replay).await;
    let _ = primary.close().await;
    fencing
}

async fn fence_answering(cfg: &Config, primary: &mut PgConnection, standby: &mut PgConnection, replay: &str) -> Result<Fencing, StepError> {
    let address = cfg.primary.address();
    let (current, lag) = lag_behind(primary, &address, replay).await?;
    if u64::try_from(lag).is_ok_and(|lag| lag > cfg.max_lag_bytes) {
        return Err(StepError::permanent(format!(
            "the standby {} is {lag} bytes of WAL behind the primary {address}, more than maxLagBytes ({}): promoting it would lose those writes; nothing was changed",
            cfg.standby.address(),
            cfg.max_lag_bytes
        )));
    }
    let final_lsn = match cfg.fence {
        Fence::ReadOnly => make_read_only(primary, &address).await?,
        Fence::Stop => {
            pg_ctl(cfg.data_dir()?, &["stop", "-m", "fast"]).await?;
            everything_received(standby, &cfg.standby, &current).await?
        }
        Fence::None => current,
    };
    Ok(Fencing { fence: cfg.fence.into(), unreachable: None, lag_bytes: Some(lag), final_lsn: Some(final_lsn) })
}

/// The primary's current WAL position, and how many bytes of it the standby has yet to replay.
async fn lag_behind(primary: &mut PgConnection, address: &str, replay: &str) -> Result<(String, i64), StepError> {
    let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(&mut *primary).await.map_err(failed_on(address))?;
    if recovering {
        return Err(StepError::permanent(format!("the primary {address} is itself a standby: there is no primary to fail over from; nothing was changed")));
    }
    // In FROM, the position is read once for both columns.
    sqlx::query_as("SELECT lsn::text, GREATEST(pg_wal_lsn_diff(lsn, $1::pg_lsn), 0)::int8 FROM pg_current_wal_lsn() AS lsn")
        .bind(replay)
        .fetch_one(&mut *primary)
        .await
        .map_err(failed_on(address))
}

/// Fences a primary that answers: new transactions read-only, then every other client session
/// ended (one inside a transaction would go on writing). Walsenders stay, so the standby still
/// receives everything. Returns the WAL position after the last write let through.
///
/// A client may still ask for a read-write transaction explicitly; the runbook's traffic steps
/// keep clients away.
async fn make_read_only(primary: &mut PgConnection, address: &str) -> Result<String, StepError> {
    let failed = failed_on(address);
    sqlx::query("ALTER SYSTEM SET default_transaction_read_only = on").execute(&mut *primary).await.map_err(&failed)?;
    sqlx::query("SELECT pg_reload_conf()").execute(&mut *primary).await.map_err(&failed)?;
    wait_read_only(primary, address, true).await?;
    // Counted in FILTER, so only the rows the WHERE keeps are ended: never this session.
    sqlx::query(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $1)) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    .bind(TERMINATE_WAIT_MS)
    .execute(&mut *primary)
    .await
    .map_err(&failed)?;
    sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(&mut *primary).await.map_err(&failed)
}

/// After a fast shutdown the primary's walsenders have sent the standby all its WAL, the
/// shutdown checkpoint included: the last position is what the standby received, or the one
/// read before the stop when it received less.
async fn everything_received(standby: &mut PgConnection, server: &Server, before_stop: &str) -> Result<String, StepError> {
    sqlx::query_scalar("SELECT GREATEST($1::pg_lsn, pg_last_wal_receive_lsn())::text")
        .bind(before_stop)
        .fetch_one(&mut *standby)
        .await
        .map_err(failed_on(&server.address()))
}

/// Waits until the standby has replayed up to `target`, so nothing the old primary committed
/// is lost by the promotion.
async fn wait_for_replay(standby: &mut PgConnection, cfg: &Config, ctx: &StepContext<'_>, target: &str) -> Result<(), StepError> {
    let address = cfg.standby.address();
    let deadline = Instant::now() + cfg.promote_timeout();
    loop {
        let replayed: bool = sqlx::query_scalar("SELECT COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)")
            .bind(target)
            .fetch_one(&mut *standby)
            .await
            .map_err(failed_on(&address))?;
        if replayed {
            return Ok(());
        }
        if ctx.cancelled() {
            return Err(StepError::permanent("cancelled before the standby was promoted; the old primary stays fenced"));
        }
        if Instant::now() >= deadline {
            return Err(StepError::retryable(format!(
                "the standby {address} did not replay up to the old primary's last WAL position {target} within {} s; the old primary stays fenced and nothing was promoted",
                cfg.promote_timeout_seconds
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn promote(standby: &mut PgConnection, cfg: &Config) -> Result<(), StepError> {
    let address = cfg.standby.address();
    let seconds = i32::try_from(cfg.promote_timeout_seconds).unwrap_or(i32::MAX);
    let done: bool = sqlx::query_scalar("SELECT pg_promote(true, $1)").bind(seconds).fetch_one(&mut *standby).await.map_err(failed_on(&address))?;
    if !done {
        return Err(StepError::permanent(format!(
            "the standby {address} did not finish promoting within {seconds} s and may still: look at it before running this step again"
        )));
    }
    Ok(())
}

/// The promoted server: its new timeline, where its replay ended, and how many bytes of the
/// old primary's WAL it lacks (when the primary's last position is known).
struct Promoted {
    timeline: i64,
    replayed: Option<String>,
    missing: Option<i64>,
}

async fn promoted(standby: &mut PgConnection, server: &Server, final_lsn: Option<&str>) -> Result<Promoted, StepError> {
    let address = server.address();
    // Whatever fails now, the promotion has happened: the message must say so.
    let after_promotion = |e: StepError| StepError::permanent(format!("the standby {address} was promoted, but {}", e.message));
    check_writable(standby, &address).await.map_err(after_promotion)?;
    // Right after the promotion the control file still names the old timeline; the current WAL
    // file's name starts with the new one (8 hex digits).
    let (timeline, replayed, missing): (i64, Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int8,
                pg_last_wal_replay_lsn()::text,
                pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())::int8",
    )
    .bind(final_lsn)
    .fetch_one(&mut *standby)
    .await
    .map_err(|e| after_promotion(failed_on(&address)(e)))?;
    Ok(Promoted { timeline, replayed, missing })
}

/// Checks `conn`'s server takes writes: new transactions read-write, and a transaction id
/// assigned (which a read-only transaction also gets, hence the first check).
async fn check_writable(conn: &mut PgConnection, address: &str) -> Result<(), StepError> {
    wait_read_only(conn, address, false).await?;
    sqlx::query("SELECT txid_current()").execute(&mut *conn).await.map_err(failed_on(address))?;
    Ok(())
}

/// Waits until new transactions on `conn`'s server are read-only, or may write: a reloaded
/// setting reaches each session a moment later. A server in recovery is read-only.
async fn wait_read_only(conn: &mut PgConnection, address: &str, read_only: bool) -> Result<(), StepError> {
    let deadline = Instant::now() + RELOAD_LIMIT;
    loop {
        let now: bool = sqlx::query_scalar("SELECT current_setting('transaction_read_only')::bool").fetch_one(&mut *conn).await.map_err(failed_on(address))?;
        if now == read_only {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let state = if read_only { "still lets transactions write" } else { "still refuses writes (in recovery, or default_transaction_read_only on)" };
            return Err(StepError::retryable(format!("{address} {state} after {} s", RELOAD_LIMIT.as_secs())));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs `pg_ctl <args> -D <dir>` on the old primary's cluster as the server's user.
async fn pg_ctl(dir: &Path, args: &[&str]) -> Result<(), StepError> {
    use std::os::unix::process::CommandExt;
    // The cluster's own major version picks its pg_ctl (Debian installs one a version).
    let version_file = dir.join("PG_VERSION");
    let version = tokio::fs::read_to_string(&version_file)
        .await
        .map_err(|e| StepError::permanent(format!("{}: {e} (is dataDirectory the primary's data directory?)", version_file.display())))?;
    let owner = crate::platform::child::server_user_ids()
        .ok_or_else(|| StepError::permanent("running as root, pg_ctl must run as the `postgres` user, and there is none"))?;
    let mut command = crate::platform::child::command(server_tool("pg_ctl", version.trim()));
    command.args(args).arg("-D").arg(dir).stdin(Stdio::null());
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    let out = tokio::process::Command::from(command).output().await.map_err(|e| StepError::retryable(format!("cannot run pg_ctl: {e}")))?;
    if !out.status.success() {
        return Err(StepError::retryable(format!("pg_ctl {} -D {} failed: {}", args.join(" "), dir.display(), String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(())
}

/// What the rollback reads from the step's output.
#[derive(Deserialize)]
struct Done {
    fence: Fenced,
}

/// Gives the writes back to the old primary where it is still healthy: its fence undone, then
/// checked to take writes.
pub async fn roll_back(cfg: &Config, output: &Value, ctx: &StepContext<'_>) -> StepResult {
    let done: Done = serde_json::from_value(output.clone())
        .map_err(|e| StepError::permanent(format!("the step's output does not say how the old primary was fenced: {e}")))?;
    match done.fence {
        Fenced::Unreachable => return Err(StepError::permanent("the old primary was unreachable; it cannot take writes back")),
        Fenced::Stop => {
            let dir = cfg.data_dir()?;
            let log = dir.join(FAILBACK_LOG);
            // With a log file the server's output goes there, not into pg_ctl's pipes, which
            // would otherwise stay open as long as the server runs.
            pg_ctl(dir, &["start", "-w", "-l", &*log.to_string_lossy()]).await?;
        }
        Fenced::ReadOnly | Fenced::None => {}
    }
    let address = cfg.primary.address();
    let mut primary = connect(&cfg.primary, ctx).await.map_err(ConnectError::into_step_error)?;
    let given_back = give_writes_back(&mut primary, &address, done.fence).await;
    let _ = primary.close().await;
    given_back?;
    Ok(json!({
        "oldPrimaryWritable": true,
        "promotedStandby": format!("{} diverged; rejoin it with pg_rewind", cfg.standby.address()),
    }))
}

async fn give_writes_back(primary: &mut PgConnection, address: &str, fence: Fenced) -> Result<(), StepError> {
    if fence == Fenced::ReadOnly {
        let failed = failed_on(address);
        sqlx::query("ALTER SYSTEM RESET default_transaction_read_only").execute(&mut *primary).await.map_err(&failed)?;
        sqlx::query("SELECT pg_reload_conf()").execute(&mut *primary).await.map_err(&failed)?;
    }
    check_writable(primary, address).await
}
