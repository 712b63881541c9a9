//! The dashboard's counts.

use serde::{Deserialize, Serialize};

/// Row counts of what the console shows, read as one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub configurations: i64,
    pub storage_locations: i64,
    pub executions: i64,
    pub restorations: i64,
    pub restore_targets: i64,
    pub approvals_pending: i64,
    pub backup_tests: i64,
    /// Disaster-recovery plans (the seeds' procedures).
    pub procedures: i64,
    pub recovery_executions: i64,
    pub alerts_open: i64,
    pub cost_rows: i64,
    pub users: i64,
    pub audit_rows: i64,
    pub jobs_queued: i64,
    pub jobs_running: i64,
    /// When the figures were read (server time).
    pub as_of: String,
}
