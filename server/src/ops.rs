//! `/healthz` and `/metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::state::AppState;

/// 200 when the catalog answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(state.catalog.pool()).await {
        Ok(_) => (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ok", "catalog": state.catalog.backend().name() }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: catalog unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "status": "unavailable", "catalog": "unreachable" })))
        }
    }
}

/// The metrics, for a caller on this host or one with an API token (any role), unless the
/// server was started with `--public-metrics`: they show what runs and how often it fails.
pub async fn metrics(State(state): State<AppState>, request: axum::extract::Request) -> axum::response::Response {
    let loopback = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().is_some_and(|c| c.0.ip().is_loopback());
    if !(state.public_metrics || loopback) {
        let bearer = request.headers().get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "));
        let allowed = match bearer {
            Some(secret) => bulwark_core::platform::accounts::tokens::authenticate(&state.catalog, secret.trim()).await.is_ok_and(|p| p.scope.is_none()),
            None => false,
        };
        if !allowed {
            return crate::api::error::ApiError::unauthenticated("metrics are for this host or a caller with an API token").into_response();
        }
    }
    let mut out = String::new();
    let m = &state.metrics;
    let _ = writeln!(out, "# HELP bulwark_build_info Build information.\n# TYPE bulwark_build_info gauge");
    let _ = writeln!(out, "bulwark_build_info{{version=\"{}\",catalog=\"{}\"}} 1", env!("CARGO_PKG_VERSION"), state.catalog.backend().name());
    let _ = writeln!(out, "# HELP bulwark_uptime_seconds Seconds since this process started.\n# TYPE bulwark_uptime_seconds gauge");
    let _ = writeln!(out, "bulwark_uptime_seconds {:.3}", m.started.elapsed().as_secs_f64());
    let _ = writeln!(out, "# HELP bulwark_http_responses_total HTTP responses by status class.\n# TYPE bulwark_http_responses_total counter");
    for (i, n) in m.responses.iter().enumerate() {
        let _ = writeln!(out, "bulwark_http_responses_total{{class=\"{}xx\"}} {}", i + 1, n.load(Ordering::Relaxed));
    }
    let catalog_up = match bulwark_core::platform::jobs::counts_by_state(&state.catalog).await {
        Ok(counts) => {
            let _ = writeln!(out, "# HELP bulwark_jobs Jobs in the queue by state.\n# TYPE bulwark_jobs gauge");
            for state_name in ["queued", "running", "succeeded", "failed", "cancelled"] {
                let n = counts.iter().find(|(s, _)| s == state_name).map_or(0, |(_, n)| *n);
                let _ = writeln!(out, "bulwark_jobs{{state=\"{state_name}\"}} {n}");
            }
            1
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: catalog unreachable");
            0
        }
    };
    let _ = writeln!(out, "# HELP bulwark_catalog_up Whether the catalog answered.\n# TYPE bulwark_catalog_up gauge");
    let _ = writeln!(out, "bulwark_catalog_up {catalog_up}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
