use bulwark_core::platform::catalog::Catalog;
use bulwark_server::cli::{self, Cli, Command, Failure};
use bulwark_server::config::ServeArgs;
use bulwark_server::serve;
use clap::{FromArgMatches, Parser};
use tracing_subscriber::EnvFilter;

fn main() {
    tune_allocator();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the tokio runtime starts");
    std::process::exit(runtime.block_on(main_async()));
}

async fn main_async() -> i32 {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if !matches!(cli.command, None | Some(Command::Serve(_))) {
        restore_default_sigpipe();
    }
    match run(cli).await {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            failure.code
        }
    }
}

/// Backups pass many 64 KiB–1 MiB chunks and 16 MiB packs between threads. With glibc's
/// defaults, freeing one pack raises the mmap threshold to 16 MiB, so chunks then come from
/// per-thread arenas that fragment: peak memory doubled. A fixed 4 MiB threshold (packs and
/// read buffers get their own mappings, returned at once) and two arenas keep a 1 GiB backup
/// near 73 MiB, and measured faster too. (Keeping 32 MiB free per arena instead of glibc's
/// 128 KiB trim threshold saved a little system time but took a 4 GiB restore to 132 MiB.)
/// Called before any thread starts.
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator parameters; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let command = cli.command.unwrap_or_else(|| {
        // `bulwark` alone serves with the defaults (and the environment).
        let matches = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve")).get_matches_from(["serve"]);
        Command::Serve(ServeArgs::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
    });
    match command {
        Command::Serve(args) => {
            serve::serve(&cli.catalog, &args).await.map_err(|e| Failure { code: 1, message: format!("{e:#}") })
        }
        Command::Migrate => cli::migrate(&open(&cli.catalog).await?.0).await,
        Command::User(c) => cli::user(&open(&cli.catalog).await?.0, c).await,
        Command::Audit(c) => {
            let (catalog, secrets) = open(&cli.catalog).await?;
            cli::audit(&catalog, &secrets, c).await
        }
        Command::Repo(args) => cli::run_repo(args).await,
        Command::Catalog(c) => {
            let (catalog, secrets) = open(&cli.catalog).await?;
            cli::catalog(&catalog, &secrets, c).await
        }
    }
}

/// The catalog, its audit chain keyed by the server secret key (every command that may append
/// to the audit log must key it, or its rows would break the chain), and that key.
async fn open(args: &bulwark_server::config::CatalogArgs) -> Result<(Catalog, bulwark_core::platform::secrets::SecretBox), Failure> {
    let url = args.url().map_err(|e| Failure { code: 5, message: e.to_string() })?;
    let secrets = args.secrets()?;
    Ok((Catalog::open_with(&url, args.acquire_timeout()).await?.with_audit_key(secrets.audit_key()), secrets))
}

/// Command-line tools should end quietly when their output pipe closes (`bulwark repo
/// snapshots | head`); Rust ignores SIGPIPE, which turns that into a panic on the next print.
/// The server keeps ignoring it: a closed client socket must never end the process.
fn restore_default_sigpipe() {
    // SAFETY: changing a signal disposition to SIG_DFL is async-signal-safe and process-wide;
    // no Rust code relies on SIGPIPE being ignored outside the server.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
