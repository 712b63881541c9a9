//! Health as the REST API and the console show it: each configuration's RPO / RTO compliance,
//! and the seeds' health metrics and trends (`GET /api/admin/backups/health`).

use serde::{Deserialize, Serialize};

/// One active configuration against its targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Compliance {
    pub configuration_id: String,
    pub name: String,
    pub rpo_minutes: Option<i64>,
    /// The newest restorable point: a completed backup, or an archived WAL file.
    pub newest_point_at: Option<String>,
    /// `backup`, `wal` or `none`.
    pub newest_point: String,
    /// Minutes since the newest point (since the configuration's creation when it has none).
    pub rpo_age_minutes: Option<f64>,
    /// `None` when it has no RPO.
    pub rpo_met: Option<bool>,
    pub rto_minutes: Option<i64>,
    /// The latest measured restore (a restore test, or a completed restoration).
    pub measured_restore_seconds: Option<f64>,
    pub measured_at: Option<String>,
    /// `None` when it has no RTO or no restore was measured.
    pub rto_met: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthMetrics {
    /// Completed of the backups that ended in the range, in percent (100 when none ended).
    pub success_rate: f64,
    /// Seconds, over the completed backups.
    pub average_backup_time: f64,
    /// Bytes read from the source, over the completed backups.
    pub average_backup_size: f64,
    /// Configurations whose latest measured restore met their RTO, in percent of those with
    /// an RTO and a measurement (100 when none).
    pub rto_achievement: f64,
    /// Configurations within their RPO now, in percent of those with an RPO (100 when none).
    pub rpo_achievement: f64,
    /// What deduplication and compression saved: 100 × (1 − bytes stored ÷ bytes read), over
    /// the completed backups.
    pub cost_efficiency: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DailyBackups {
    pub date: String,
    pub count: i64,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StorageGrowth {
    pub date: String,
    /// Bytes written to repositories up to the end of that day, all time (before pruning).
    pub total_size: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthTrends {
    pub daily_backups: Vec<DailyBackups>,
    /// Failed backups in the range by source type.
    pub failures_by_type: std::collections::BTreeMap<String, i64>,
    pub storage_growth: Vec<StorageGrowth>,
}

/// `GET /api/admin/backups/health?timeRange=24h|7d|30d`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub time_range: String,
    pub metrics: HealthMetrics,
    pub trends: HealthTrends,
    pub compliance: Vec<Compliance>,
}

/// The dashboard's overview cards, in the seeds' words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DashboardOverview {
    /// Active configurations.
    pub total_configurations: i64,
    /// Backups queued or running now.
    pub active_backups: i64,
    /// Backups that failed in the last 24 hours.
    pub failed_backups: i64,
    /// What the backups kept added to their repositories (compressed, encrypted), readable.
    pub total_storage: String,
    pub total_storage_bytes: i64,
    /// Each location's bytes at its price per GB-month, summed.
    pub monthly_cost: f64,
}

/// A backup on the dashboard: the execution, with its configuration's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecentExecution {
    #[serde(flatten)]
    pub execution: crate::Execution,
    pub configuration_name: String,
}

/// A configuration's next scheduled backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpcomingTask {
    pub configuration_id: String,
    pub configuration_name: String,
    /// `backup`.
    pub task_type: String,
    pub scheduled_for: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SystemHealth {
    /// Percent, as `HealthMetrics` (over the last 24 hours).
    pub rto_compliance: f64,
    pub rpo_compliance: f64,
    pub success_rate: f64,
}

/// `GET /api/admin/backups/dashboard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub overview: DashboardOverview,
    pub recent_executions: Vec<RecentExecution>,
    pub active_alerts: Vec<crate::Alert>,
    pub upcoming_tasks: Vec<UpcomingTask>,
    pub system_health: SystemHealth,
    /// Each active configuration against its RPO and RTO.
    pub compliance: Vec<Compliance>,
}
