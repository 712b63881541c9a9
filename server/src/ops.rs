//! `/healthz` and `/metrics` (the OpenMetrics text format, through prometheus-client).

use std::sync::atomic::{AtomicU64, Ordering};

use bulwark_core::alerts::Severity;
use bulwark_core::health::scrape;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

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
    let registry = registry(&state).await;
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::warn!(error = %e, "metrics could not be encoded");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out).into_response()
}

type Labels = Vec<(&'static str, String)>;

/// A gauge family with one label, filled from `(label value, value)` pairs.
fn gauges<I: IntoIterator<Item = (String, f64)>>(label: &'static str, values: I) -> Family<Labels, Gauge<f64, AtomicU64>> {
    let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for (value_of_label, value) in values {
        family.get_or_create(&vec![(label, value_of_label)]).set(value);
    }
    family
}

/// A histogram whose buckets the catalog counted (the client's own type only observes).
#[derive(Debug)]
struct Counted(scrape::Histogram);

impl EncodeMetric for Counted {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.0.sum, self.0.count, &self.0.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// This scrape's metrics: the process's own, then what the catalog holds (every node reports
/// the same catalog figures).
async fn registry(state: &AppState) -> Registry {
    let mut registry = Registry::with_prefix("bulwark");
    let m = &state.metrics;
    registry.register("build", "Build information", Info::new(vec![("version", env!("CARGO_PKG_VERSION").to_string()), ("catalog", state.catalog.backend().name().to_string())]));
    let uptime = Gauge::<f64, AtomicU64>::default();
    uptime.set(m.started.elapsed().as_secs_f64());
    registry.register_with_unit("uptime", "Time since this process started", Unit::Seconds, uptime);
    let responses = Family::<Labels, Counter>::default();
    for (i, n) in m.responses.iter().enumerate() {
        responses.get_or_create(&vec![("class", format!("{}xx", i + 1))]).inc_by(n.load(Ordering::Relaxed));
    }
    registry.register("http_responses", "HTTP responses by status class", responses);
    let mut up = 1.0;
    match bulwark_core::platform::jobs::counts_by_state(&state.catalog).await {
        Ok(counts) => {
            let by_state = ["queued", "running", "succeeded", "failed", "cancelled"].map(|s| (s.to_string(), counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n) as f64));
            registry.register("jobs", "Jobs in the queue by state (queued and running: the queue depth)", gauges("state", by_state));
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: catalog unreachable");
            up = 0.0;
        }
    }
    match scrape::figures(&state.catalog).await {
        Ok(f) => {
            registry.register("executions", "Backup executions by status", gauges("status", f.executions_by_status.into_iter().map(|(s, n)| (s, n as f64))));
            registry.register_with_unit("backup_duration", "How long completed backups took", Unit::Seconds, Counted(f.backup_durations));
            registry.register_with_unit("restore_duration", "How long completed restorations took", Unit::Seconds, Counted(f.restore_durations));
            registry.register_with_unit("stored", "What the backups kept stored, per location", Unit::Bytes, gauges("location", f.stored_bytes.into_iter().map(|(l, b)| (l, b as f64))));
            let rpo = Family::<Labels, Gauge<f64, AtomicU64>>::default();
            for (id, name, seconds) in f.rpo_age {
                rpo.get_or_create(&vec![("configuration_id", id), ("configuration", name)]).set(seconds);
            }
            registry.register_with_unit("rpo_age", "Age of each active configuration's newest restorable point", Unit::Seconds, rpo);
            let open = Severity::ALL.iter().map(|s| (s.as_str().to_string(), f.open_alerts.iter().find(|(v, _)| v == s.as_str()).map_or(0, |(_, n)| *n) as f64));
            registry.register("alerts_open", "Alerts not resolved, by severity", gauges("severity", open));
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the catalog's figures could not be read");
            up = 0.0;
        }
    }
    let catalog_up = Gauge::<f64, AtomicU64>::default();
    catalog_up.set(up);
    registry.register("catalog_up", "Whether the catalog answered", catalog_up);
    registry
}
