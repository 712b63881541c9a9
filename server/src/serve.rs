//! `bulwark serve`: open the catalog, print the first-admin link if needed, start the worker
//! pool and the HTTP server, and stop both cleanly on SIGTERM or Ctrl-C.

use std::sync::Arc;

use anyhow::Context;
use bulwark_core::platform::accounts::setup;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::executions::scheduled;
use bulwark_core::orchestration::pool::Pool;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use crate::config::{CatalogArgs, ServeArgs};
use crate::router::{SessionSettings, router};
use crate::state::{AppState, HttpMetrics};

/// How often each node looks for due schedule slots (six-field schedules can fire every
/// few seconds; five-field ones at most every minute).
const SCHEDULER_PERIOD: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn serve(catalog_args: &CatalogArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let url = catalog_args.url()?;
    let secrets = catalog_args.secrets()?;
    let catalog = Catalog::open_with(&url, catalog_args.acquire_timeout()).await.with_context(|| format!("opening the catalog at {}", redact(&url)))?.with_audit_key(secrets.audit_key());
    tracing::info!(backend = catalog.backend().name(), "catalog ready");

    if let Some(secret) = setup::first_admin_link(&catalog).await? {
        // Printed, not logged: it is for the person starting the server, once.
        println!("\nNo users yet. Create the first admin with this one-time link (valid {} hours):", setup::SETUP_LINK_HOURS);
        println!("  http://{}/setup?token={secret}\n", args.listen);
    }

    let leptos_options = LeptosOptions::builder()
        .output_name("bulwark")
        .site_root(args.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(args.listen)
        .build();
    let targets = Arc::new(args.restore_targets(&catalog_args.data_dir)?);
    tracing::info!(roots = ?targets.roots(), hosts = ?targets.hosts(), "restores may write below these roots, to these hosts");
    let state = AppState { catalog: catalog.clone(), secrets: secrets.clone(), targets: targets.clone(), leptos_options, public_metrics: args.public_metrics, metrics: Arc::new(HttpMetrics::default()) };
    let app = router(state, SessionSettings { secure: args.secure_cookies, idle_minutes: args.session_idle_minutes });

    let (stop_tx, stop_rx) = watch::channel(false);
    let node_id = format!("{}-{}", hostname(), std::process::id());
    let scheduler = tokio::spawn(scheduled::run_scheduler(catalog.clone(), node_id.clone(), SCHEDULER_PERIOD, stop_rx.clone()));
    let stall_limit = (args.job_stall_minutes > 0).then(|| std::time::Duration::from_secs(args.job_stall_minutes * 60));
    let (catalog_for_prober, node_id_for_prober) = (catalog.clone(), node_id.clone());
    let mut pool = Pool::new(catalog, node_id).with_lease_seconds(args.job_lease_seconds).with_stall_limit(stall_limit);
    let recovery_commands = args.recovery_commands()?;
    if !recovery_commands.is_empty() {
        tracing::info!(programs = ?recovery_commands, "recovery runs may start services with these programs");
    }
    bulwark_core::orchestration::handlers::register_all(&mut pool, &secrets, &targets, &recovery_commands);
    if args.workers == 0 {
        tracing::warn!("--workers 0: this node claims no jobs; backups, restores and tests queued here run only on other nodes");
    }
    let pool = tokio::spawn(pool.run(args.workers, stop_rx.clone()));
    // Every node counts its storage requests and bytes; they reach the catalog every 30 s.
    let flusher = tokio::spawn(bulwark_core::cost::usage::run_flusher(catalog_for_prober.clone(), stop_rx.clone()));
    // Nodes with workers probe the monitored services (and sample themselves).
    let prober = (args.workers > 0).then(|| tokio::spawn(bulwark_core::monitoring::prober::run(catalog_for_prober, secrets.clone(), node_id_for_prober, catalog_args.data_dir.clone(), stop_rx.clone())));

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (is another server running there?)", args.listen))?;
    // The address bound (port 0 picks a free one): what a script or a test waiting for this
    // line connects to.
    let bound = listener.local_addr().context("the listening socket has no address")?;
    tracing::info!("serving the console on http://{bound}");
    println!("Bulwark is listening on http://{bound}");
    // The peer's address: `/metrics` answers callers on this host without a token.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests and running jobs");
            let _ = stop_tx.send(true);
        })
        .await
        .context("HTTP server failed")?;
    pool.await.context("worker pool panicked")?;
    scheduler.await.context("scheduler panicked")?;
    flusher.await.context("usage flusher panicked")?;
    if let Some(prober) = prober {
        prober.await.context("prober panicked")?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "node".into())
}

/// A catalog URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact("postgres://u:secret@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(super::redact("sqlite://data/bulwark.db"), "sqlite://data/bulwark.db");
    }
}
