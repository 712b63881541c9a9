//! Real parts for tests: throw-away PostgreSQL clusters started from the server binaries on
//! this machine, temporary directories, free ports.
//!
//! Nothing here is mocked. Each process that asks for a cluster gets one of its own, run by
//! the `postgres` user in a temporary directory on a free loopback port, and a watchdog
//! process that kills it and removes its files once the test process is gone (the test
//! harness never runs destructors of statics).

pub mod dns;
pub mod haproxy;
pub mod s3;
pub mod smtp;
pub mod tls;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Generates, for each `async fn case(x: T)`, a test on a fresh SQLite catalog and one on a
/// fresh database of the process's PostgreSQL cluster; `open` (an `async fn(String) -> T`)
/// turns the catalog URL into what the case takes (a catalog, a test server …).
#[macro_export]
macro_rules! on_both_catalogs {
    (open = $open:path; $($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$case($open($crate::sqlite_url()).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let url = tokio::task::spawn_blocking($crate::postgres_url).await.expect("start PostgreSQL");
                    super::$case($open(url).await).await;
                }
            }
        )*
    };
}

/// Where PostgreSQL 15's server binaries live on this machine kind.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A free TCP port on 127.0.0.1 (free when asked; bind promptly).
/// Deterministic pseudo-random bytes (xorshift64 from `seed`), incompressible like encrypted or
/// media data: the same seed and length give the same bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free loopback port")
}

/// This test process's scratch root, removed by a watchdog once the process has exited.
pub fn process_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("bulwark-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("cannot create the test scratch root");
        watchdog(None, &root);
        root
    })
}

/// A fresh, empty directory inside this process's scratch root.
pub fn temp_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = process_root().join(format!("{label}-{n}"));
    std::fs::create_dir_all(&dir).expect("cannot create a temp dir");
    dir
}

/// A SQLite catalog URL in a fresh directory.
pub fn sqlite_url() -> String {
    format!("sqlite://{}?mode=rwc", temp_dir("sqlite").join("catalog.db").display())
}

/// A running PostgreSQL cluster.
pub struct PgCluster {
    pub port: u16,
    pub dir: PathBuf,
    /// The `-c name=value` settings it runs with, to start it again the same way.
    settings: Vec<String>,
}

impl PgCluster {
    /// The process-wide cluster, started on first use.
    pub fn shared() -> &'static PgCluster {
        static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
        CLUSTER.get_or_init(|| PgCluster::start(&[]).unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}")))
    }

    /// A cluster something else started (a restore under test) in `dir`, listening on `port`,
    /// to run psql against.
    pub fn running_at(port: u16, dir: &Path) -> PgCluster {
        PgCluster { port, dir: dir.to_path_buf(), settings: Vec::new() }
    }

    /// Starts a new cluster with extra `-c name=value` settings.
    pub fn start(settings: &[(&str, &str)]) -> Result<PgCluster, String> {
        PgCluster::start_with(settings, None)
    }

    /// Starts a cluster where the `postgres` user must give `password` (scram-sha-256).
    pub fn start_with_password(password: &str) -> Result<PgCluster, String> {
        PgCluster::start_with(&[], Some(password))
    }

    fn start_with(settings: &[(&str, &str)], password: Option<&str>) -> Result<PgCluster, String> {
        let dir = temp_dir("pg");
        let data = dir.join("data");
        let owner = PostgresUser::detect();
        owner.chown(&dir)?;
        let mut initdb = owner.command(&format!("{PG_BIN}/initdb"));
        initdb.args(["-D"]).arg(&data).args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
        match password {
            None => initdb.args(["-A", "trust"]),
            Some(password) => {
                let file = dir.join("pwfile");
                std::fs::write(&file, password).map_err(|e| e.to_string())?;
                owner.chown(&file)?;
                initdb.args(["-A", "scram-sha-256"]).arg(format!("--pwfile={}", file.display()))
            }
        };
        run(&mut initdb)?;
        let settings = [("listen_addresses", "127.0.0.1"), ("fsync", "off"), ("full_page_writes", "off")]
            .iter()
            .chain(settings.iter())
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let cluster = PgCluster { port: free_port(), dir, settings };
        cluster.run_postgres()?;
        Ok(cluster)
    }

    /// Starts the server on the cluster's data directory and waits until it answers.
    fn run_postgres(&self) -> Result<(), String> {
        let mut postgres = PostgresUser::detect().command(&format!("{PG_BIN}/postgres"));
        postgres.arg("-D").arg(self.dir.join("data")).arg("-p").arg(self.port.to_string()).arg("-k").arg(&self.dir);
        for setting in &self.settings {
            postgres.arg("-c").arg(setting);
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("postgres.log")).map_err(|e| e.to_string())?;
        let child = postgres
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run postgres: {e}"))?;
        watchdog(Some(child.id()), &self.dir);
        self.wait_ready(Duration::from_secs(30))
    }

    /// Starts a streaming standby of this cluster (`pg_basebackup -R`: it follows the primary
    /// from the start).
    pub fn start_standby(&self) -> Result<PgCluster, String> {
        let dir = temp_dir("pg-standby");
        let data = dir.join("data");
        let owner = PostgresUser::detect();
        owner.chown(&dir)?;
        let mut basebackup = owner.command(&format!("{PG_BIN}/pg_basebackup"));
        basebackup.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-X", "stream", "-R", "-D"]).arg(&data);
        run(&mut basebackup)?;
        let cluster = PgCluster { port: free_port(), dir, settings: self.settings.clone() };
        cluster.run_postgres()?;
        Ok(cluster)
    }

    /// Stops the server at once, as a crash or an outage would (`pg_ctl stop -m immediate`).
    pub fn stop(&self) -> Result<(), String> {
        stop_cluster(&self.dir.join("data"))
    }

    /// Starts a stopped cluster again on the same port.
    pub fn restart(&self) -> Result<(), String> {
        self.run_postgres()
    }

    fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < limit {
            let ok = Command::new(format!("{PG_BIN}/pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-q"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        Err(format!("PostgreSQL did not accept connections within {limit:?}; log:\n{log}"))
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a new empty database and returns its URL.
    pub fn fresh_database(&self, prefix: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        self.psql("postgres", &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        self.url(&name)
    }

    /// Runs SQL through psql and returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        // A restored cluster trusts only its private socket (in its data directory); TCP wants
        // a password there.
        let socket = self.dir.join(format!(".s.PGSQL.{}", self.port));
        let host = if socket.exists() { self.dir.display().to_string() } else { "127.0.0.1".to_string() };
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", &host, "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }
}

/// For a cluster something else started in `data` (a restore under test): kills it when this
/// test process exits, like the clusters started here.
pub fn adopt_cluster(data: &Path) {
    let pid = std::fs::read_to_string(data.join("postmaster.pid")).ok().and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()));
    assert!(pid.is_some(), "no postmaster.pid in {}", data.display());
    watchdog(pid, data);
}

/// Stops the cluster running in `data` at once (`pg_ctl stop -m immediate`).
pub fn stop_cluster(data: &Path) -> Result<(), String> {
    let mut pg_ctl = PostgresUser::detect().command(&format!("{PG_BIN}/pg_ctl"));
    run(pg_ctl.arg("-D").arg(data).args(["-m", "immediate", "-w", "stop"]))
}

/// A PostgreSQL catalog URL: a fresh database in this process's shared cluster.
pub fn postgres_url() -> String {
    PgCluster::shared().fresh_database("catalog")
}

/// initdb refuses to run as root: when we are root, server processes run as `postgres`.
struct PostgresUser {
    ids: Option<(u32, u32)>,
}

impl PostgresUser {
    fn detect() -> PostgresUser {
        let id = |args: &[&str]| -> Option<u32> {
            let out = Command::new("id").args(args).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        let ids = (id(&["-u"]) == Some(0)).then(|| {
            (
                id(&["-u", "postgres"]).expect("running as root needs a `postgres` user"),
                id(&["-g", "postgres"]).expect("running as root needs a `postgres` group"),
            )
        });
        PostgresUser { ids }
    }

    fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(program);
        if let Some((uid, gid)) = self.ids {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn chown(&self, dir: &Path) -> Result<(), String> {
        match self.ids {
            Some((uid, gid)) => std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// Once this test process has exited: kills `pid` (if any) with SIGKILL, then removes `dir`.
pub fn watchdog(pid: Option<u32>, dir: &Path) {
    let kill = pid.map(|pid| format!("kill -9 {pid} 2>/dev/null; sleep 0.5;")).unwrap_or_default();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; {kill} rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
