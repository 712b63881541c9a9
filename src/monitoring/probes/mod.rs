//! One probe per service kind. A probe never fails: whatever goes wrong is an unhealthy
//! [`Reading`] that says why, and one that has not answered within the service's timeout is one.

pub mod http;
pub mod postgres;
pub mod tcp;

use std::time::{Duration, Instant};

use super::{HealthStatus, MonitoredService, ServiceKind};

/// What one probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub status: HealthStatus,
    pub response_time_ms: Option<i64>,
    /// What was found, in a sentence (why, when not healthy).
    pub message: String,
    pub active_connections: Option<i64>,
    /// Kind-specific figures (status code, certificate expiry, replication lag, archiver).
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// A PostgreSQL primary failing to archive its WAL: why.
    pub archive_failing: Option<String>,
}

impl Reading {
    pub fn healthy(message: impl Into<String>) -> Reading {
        Reading { status: HealthStatus::Healthy, response_time_ms: None, message: message.into(), active_connections: None, metrics: serde_json::Map::new(), archive_failing: None }
    }

    pub fn unhealthy(message: impl Into<String>) -> Reading {
        Reading { status: HealthStatus::Unhealthy, ..Reading::healthy(message) }
    }

    /// Degrades a healthy reading (a worse one stays as it is), saying why.
    pub fn degrade(&mut self, why: String) {
        if self.status == HealthStatus::Healthy {
            self.status = HealthStatus::Degraded;
            self.message = why;
        } else if self.status == HealthStatus::Degraded {
            self.message = format!("{}; {why}", self.message);
        }
    }
}

/// Probes `service` (with its opened password) within its timeout.
pub async fn probe(service: &MonitoredService, password: Option<&str>) -> Reading {
    let limit = Duration::from_secs(service.timeout_seconds.max(1) as u64);
    let started = Instant::now();
    let s = &service.settings;
    let answer = tokio::time::timeout(limit, async {
        match service.kind {
            ServiceKind::Http => http::probe(s, limit).await,
            ServiceKind::Tcp => tcp::probe(s).await,
            ServiceKind::Postgres => postgres::probe(s, password, limit).await,
        }
    })
    .await;
    let elapsed = started.elapsed().as_millis() as i64;
    let mut reading = answer.unwrap_or_else(|_| Reading::unhealthy(format!("no answer within {} s", limit.as_secs())));
    reading.response_time_ms = Some(elapsed);
    if let Some(slow) = s.slow_ms.filter(|slow| elapsed > *slow) {
        reading.degrade(format!("answered in {elapsed} ms, slower than {slow} ms"));
    }
    reading
}
