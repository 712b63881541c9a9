//! Monitored services and the health samples they give (`system_health_monitoring`): what the
//! console's Monitoring page and `/api/disaster-recovery/health` show.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum!(ServiceKind, "service kind" {
    /// An `http(s)://` address: its status code, optionally a text in its body and, over
    /// HTTPS, how long its certificate stays valid.
    Http => "http",
    /// A host and port that accepts a TCP connection.
    Tcp => "tcp",
    /// A PostgreSQL server: a connection and a query; a standby's replication lag, a primary's
    /// WAL archiving.
    Postgres => "postgres",
});

text_enum!(HealthStatus, "health status" {
    Healthy => "healthy",
    /// Answering, but something needs attention (slow, a certificate expiring, a standby behind).
    Degraded => "degraded",
    Unhealthy => "unhealthy",
    Unknown => "unknown",
});

impl HealthStatus {
    /// How bad it is: a downsampled bucket keeps its worst sample's status.
    pub fn badness(self) -> u8 {
        match self {
            HealthStatus::Healthy => 0,
            HealthStatus::Unknown => 1,
            HealthStatus::Degraded => 2,
            HealthStatus::Unhealthy => 3,
        }
    }
}

/// What a service probe checks; each kind reads its own fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSettings {
    /// HTTP: the `http(s)://` address asked with GET.
    pub url: Option<String>,
    /// HTTP: the status expected (any 2xx or 3xx when absent).
    pub expected_status: Option<u16>,
    /// HTTP: a text the body must contain.
    pub body_contains: Option<String>,
    /// HTTP over TLS: degraded when the certificate expires within this many days (14).
    pub tls_expiry_days: Option<i64>,
    /// HTTP over TLS, and PostgreSQL with `verify-ca` / `verify-full`: a PEM certificate the
    /// server's is checked against (a private certificate authority).
    pub ca_certificate: Option<String>,
    /// TCP and PostgreSQL: the host name or address.
    pub host: Option<String>,
    pub port: Option<u16>,
    /// PostgreSQL: the database and user to connect as (the password is sealed apart).
    pub database: Option<String>,
    pub username: Option<String>,
    /// PostgreSQL: a query run read-only (`SELECT 1` when absent).
    pub query: Option<String>,
    /// PostgreSQL standby: degraded when it replays more than this many seconds behind (300).
    pub max_lag_seconds: Option<i64>,
    /// PostgreSQL: TLS as libpq names it: `disable`, `prefer` (the default), `require`,
    /// `verify-ca` or `verify-full` (the last two check the server's certificate against
    /// `caCertificate`, or the system's roots when absent).
    pub ssl_mode: Option<String>,
    /// Degraded when the answer takes longer than this many milliseconds.
    pub slow_ms: Option<i64>,
}

/// A service watched at its interval by the nodes' probers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MonitoredService {
    pub id: String,
    pub name: String,
    pub kind: ServiceKind,
    pub settings: ServiceSettings,
    /// A PostgreSQL password is stored (sealed; never sent back).
    pub has_password: bool,
    pub interval_seconds: i64,
    pub timeout_seconds: i64,
    /// Unhealthy probes in a row before service_unhealthy is raised.
    pub failures_before_alert: i64,
    pub enabled: bool,
    pub geographical_region: Option<String>,
    pub availability_zone: Option<String>,
    pub last_status: Option<HealthStatus>,
    pub last_checked_at: Option<String>,
    pub last_message: Option<String>,
    pub consecutive_failures: i64,
    pub next_probe_at: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /api/admin/monitoring/services` and `PUT …/{id}`. (Its `Debug` leaves the password out.)
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceRequest {
    pub name: String,
    /// Required when creating; a service's kind does not change.
    pub kind: Option<ServiceKind>,
    pub settings: ServiceSettings,
    /// PostgreSQL: the password (left out of a `PUT` to keep the stored one).
    pub password: Option<String>,
    /// Seconds between probes: 5 to 86,400 (60).
    pub interval_seconds: Option<i64>,
    /// Seconds a probe may take: 1 to 60 and below the interval (10).
    pub timeout_seconds: Option<i64>,
    /// 1 to 10 (2).
    pub failures_before_alert: Option<i64>,
    pub enabled: Option<bool>,
    pub geographical_region: Option<String>,
    pub availability_zone: Option<String>,
}

impl std::fmt::Debug for ServiceRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRequest")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("interval_seconds", &self.interval_seconds)
            .finish_non_exhaustive()
    }
}

/// One row of `system_health_monitoring`: a probe's sample, a node's, a pushed one, or (older
/// than a day) a bucket of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthSample {
    pub id: String,
    pub monitoring_timestamp: String,
    pub service_name: String,
    /// The monitored service that gave it (none for nodes, locations and pushed samples).
    pub service_id: Option<String>,
    pub health_status: HealthStatus,
    pub response_time_ms: Option<i64>,
    pub cpu_usage: Option<f64>,
    pub memory_usage: Option<f64>,
    pub disk_usage: Option<f64>,
    pub network_latency_ms: Option<i64>,
    pub error_rate: Option<f64>,
    pub throughput_rps: Option<f64>,
    pub active_connections: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_metrics: serde_json::Value,
    pub alerts_triggered: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub anomalies_detected: serde_json::Value,
    pub geographical_region: Option<String>,
    pub availability_zone: Option<String>,
    /// `raw`, or the bucket it stands for: `minute`, `hour`.
    pub resolution: String,
    /// The samples a bucket stands for (1 when raw).
    pub sample_count: i64,
}

/// `POST /api/disaster-recovery/health/record`: a sample an outside agent pushes. The seeds
/// send the table's column names; both those and camelCase are read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct RecordSample {
    #[serde(alias = "service_name")]
    pub service_name: String,
    #[serde(alias = "health_status")]
    pub health_status: Option<String>,
    #[serde(alias = "response_time_ms")]
    pub response_time_ms: Option<i64>,
    #[serde(alias = "cpu_usage")]
    pub cpu_usage: Option<f64>,
    #[serde(alias = "memory_usage")]
    pub memory_usage: Option<f64>,
    #[serde(alias = "disk_usage")]
    pub disk_usage: Option<f64>,
    #[serde(alias = "network_latency_ms")]
    pub network_latency_ms: Option<i64>,
    #[serde(alias = "error_rate")]
    pub error_rate: Option<f64>,
    #[serde(alias = "throughput_rps")]
    pub throughput_rps: Option<f64>,
    #[serde(alias = "active_connections")]
    pub active_connections: Option<i64>,
    #[serde(alias = "custom_metrics")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_metrics: Option<serde_json::Value>,
    #[serde(alias = "anomalies_detected")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub anomalies_detected: Option<serde_json::Value>,
    #[serde(alias = "geographical_region")]
    pub geographical_region: Option<String>,
    #[serde(alias = "availability_zone")]
    pub availability_zone: Option<String>,
}

/// One service over the range asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceHealth {
    pub service_name: String,
    pub latest_status: HealthStatus,
    pub latest_at: String,
    /// Samples (counting what buckets stand for) in the range.
    pub samples: i64,
    /// Healthy or degraded samples, in percent.
    pub availability: f64,
    pub average_response_time_ms: Option<f64>,
}

/// The seeds' `summary` of `GET /api/disaster-recovery/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthSummary {
    /// The worst latest status over the services (unknown when there are none).
    pub overall_status: HealthStatus,
    pub total_services: i64,
    pub healthy: i64,
    pub degraded: i64,
    pub unhealthy: i64,
    pub unknown: i64,
    pub services: Vec<ServiceHealth>,
}

/// `GET /api/disaster-recovery/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServicesHealth {
    pub success: bool,
    /// Newest first, at most 1,000.
    pub health_data: Vec<HealthSample>,
    pub summary: HealthSummary,
    /// The open alerts about services, nodes and locations.
    pub alerts: Vec<crate::Alert>,
}
