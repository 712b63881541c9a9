//! Settings from flags or the environment, with the embedded defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Where Bulwark keeps its state.
#[derive(Debug, Clone, Args)]
pub struct CatalogArgs {
    /// Directory for the SQLite catalog and local repositories.
    #[arg(long, env = "BULWARK_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Catalog database: `postgres://…` for PostgreSQL; by default a SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Seconds a query waits for a catalog connection before it fails (the catalog is down or
    /// busy); work in flight retries its final write past it.
    #[arg(long, env = "BULWARK_CATALOG_TIMEOUT_SECONDS", default_value_t = 30, global = true)]
    pub catalog_timeout_seconds: u64,
}

impl CatalogArgs {
    /// The server secret key: `BULWARK_SECRET_KEY`, else `secret.key` in the data directory.
    pub fn secrets(&self) -> Result<bulwark_core::platform::secrets::SecretBox, bulwark_core::platform::secrets::SecretError> {
        bulwark_core::platform::secrets::SecretBox::load(std::env::var("BULWARK_SECRET_KEY").ok().as_deref(), &self.data_dir)
    }

    /// How long a query waits for a catalog connection.
    pub fn acquire_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.catalog_timeout_seconds.max(1))
    }

    /// The catalog URL, creating the data directory for the default SQLite catalog.
    pub fn url(&self) -> anyhow::Result<String> {
        // An empty DATABASE_URL counts as unset, as in most tools.
        if let Some(url) = self.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
            return Ok(url.to_string());
        }
        private_data_dir(&self.data_dir)?;
        let catalog = self.data_dir.join("bulwark.db");
        private_file(&catalog)?;
        Ok(format!("sqlite://{}?mode=rwc", catalog.display()))
    }
}

impl ServeArgs {
    /// Where restores may write: the configured roots (or `<data dir>/restores`, created) and hosts.
    pub fn restore_targets(&self, data_dir: &std::path::Path) -> anyhow::Result<bulwark_core::restores::Targets> {
        let roots = if self.restore_roots.is_empty() {
            let default = std::path::absolute(data_dir.join("restores"))?;
            std::fs::create_dir_all(&default).map_err(|e| anyhow::anyhow!("cannot create the restore root {}: {e}", default.display()))?;
            vec![default]
        } else {
            self.restore_roots.clone()
        };
        bulwark_core::restores::Targets::new(&roots, &self.restore_hosts).map_err(anyhow::Error::msg)
    }

    /// The programs recovery runs may start, each an absolute path (a relative one would run
    /// whatever the working directory or `PATH` holds then).
    pub fn recovery_commands(&self) -> anyhow::Result<std::sync::Arc<[PathBuf]>> {
        if let Some(relative) = self.recovery_commands.iter().find(|p| !p.is_absolute()) {
            anyhow::bail!("--recovery-command {}: give the program's absolute path", relative.display());
        }
        Ok(self.recovery_commands.clone().into())
    }
}

/// Creates the data directory readable by its owner only, and narrows one that exists: it holds
/// the catalog, the secret key and local repositories.
pub fn private_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| anyhow::anyhow!("cannot create the data directory {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| anyhow::anyhow!("cannot make the data directory {} private: {e}", dir.display()))
}

/// Creates `path` with mode 0600 when missing, and narrows it when it exists (SQLite gives its
/// journal and WAL files the database file's mode).
fn private_file(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |e: std::io::Error| anyhow::anyhow!("cannot create the catalog {}: {e}", path.display());
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(failed)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)
}

/// Settings of `bulwark serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BULWARK_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Directory with the console's static files (`pkg/` with the wasm, JS and CSS).
    #[arg(long, env = "BULWARK_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Background workers on this node; 0 runs no jobs here (a node that only serves the console
    /// and the API while other nodes do the work).
    #[arg(long, env = "BULWARK_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Seconds a worker's claim on a job lasts without a heartbeat: how soon another node
    /// takes over the jobs of a node that died.
    #[arg(long, env = "BULWARK_JOB_LEASE_SECONDS", default_value_t = bulwark_core::orchestration::pool::DEFAULT_LEASE_SECONDS)]
    pub job_lease_seconds: i64,
    /// Minutes a backup may read nothing before the watchdog stops it and fails it (a source
    /// that hangs, a dump waiting on a lock); 0 never stops one.
    #[arg(long, env = "BULWARK_JOB_STALL_MINUTES", default_value_t = 60)]
    pub job_stall_minutes: u64,
    /// The console is reached over HTTPS (a TLS proxy in front): session cookies are `Secure`
    /// and named `__Host-…`, and browsers are told to keep to HTTPS. Set it to `false` only
    /// for plain HTTP on this host (`make run` does).
    #[arg(long, env = "BULWARK_SECURE_COOKIES", default_value_t = true, action = clap::ArgAction::Set)]
    pub secure_cookies: bool,
    /// Directories restores may write below (data directories, restored files), comma-separated
    /// in the environment; `<data dir>/restores` when none is given.
    #[arg(long = "restore-root", env = "BULWARK_RESTORE_ROOTS", value_delimiter = ',')]
    pub restore_roots: Vec<PathBuf>,
    /// Database servers restores may write to: `host` (any port) or `host:port`, comma-separated
    /// in the environment.
    #[arg(long = "restore-host", env = "BULWARK_RESTORE_HOSTS", value_delimiter = ',', default_value = "localhost,127.0.0.1,::1")]
    pub restore_hosts: Vec<String>,
    /// Programs a recovery plan's `service_start` steps may run, each by its absolute path
    /// (repeat the flag; colon-separated in the environment). A plan is written by operators;
    /// only what is listed here runs on this server. None by default.
    #[arg(long = "recovery-command", env = "BULWARK_RECOVERY_COMMANDS", value_delimiter = ':')]
    pub recovery_commands: Vec<PathBuf>,
    /// Serve `/metrics` to anyone; by default only to this host and to callers with a token.
    #[arg(long, env = "BULWARK_PUBLIC_METRICS", default_value_t = false, action = clap::ArgAction::Set)]
    pub public_metrics: bool,
    /// Minutes of inactivity after which a session ends (a session also ends 12 hours after
    /// its login, however active).
    #[arg(long, env = "BULWARK_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: i64,
}
