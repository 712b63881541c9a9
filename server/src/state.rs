//! What every request handler can reach.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::FromRef;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::restores::Targets;
use bulwark_core::platform::secrets::SecretBox;
use leptos::config::LeptosOptions;

#[derive(Clone)]
pub struct AppState {
    pub catalog: Catalog,
    /// Seals the secrets the catalog keeps (storage credentials, repository keys).
    pub secrets: SecretBox,
    /// Where restores may write (`--restore-root`, `--restore-host`).
    pub targets: Arc<Targets>,
    pub leptos_options: LeptosOptions,
    /// `/metrics` without a token from anywhere (`--public-metrics`).
    pub public_metrics: bool,
    pub metrics: Arc<HttpMetrics>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Request counters for /metrics, by status class.
pub struct HttpMetrics {
    pub started: Instant,
    /// Index 0 = 1xx … 4 = 5xx.
    pub responses: [AtomicU64; 5],
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics { started: Instant::now(), responses: Default::default() }
    }
}
