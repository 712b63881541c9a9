//! Restore tests: a backup restored into a scratch target, checked and timed.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum!(TestStatus, "restore test status" {
    /// Waiting for its time or a worker.
    Scheduled => "scheduled",
    Running => "running",
    /// Restored and checked without an issue.
    Passed => "passed",
    /// Could not restore, or the restore found issues.
    Failed => "failed",
});

impl TestStatus {
    /// It will not change again.
    pub fn is_finished(self) -> bool {
        matches!(self, TestStatus::Passed | TestStatus::Failed)
    }
}

/// What a finished test measured (the seeds' `performanceMetrics`); every figure is absent
/// before it finishes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct TestMetrics {
    /// How long the restore took: the measured RTO.
    pub restore_seconds: Option<f64>,
    /// How old the tested backup was: the RPO it gives.
    pub data_age_seconds: Option<i64>,
    pub rto_minutes: Option<i64>,
    pub rpo_minutes: Option<i64>,
    pub rto_met: Option<bool>,
    pub rpo_met: Option<bool>,
    pub bytes_restored: Option<u64>,
    /// Files or tables restored.
    pub items_restored: Option<u64>,
    /// Where it restored to, as the source kind reports it.
    pub target: serde_json::Value,
}

/// One restore test as the Testing Results page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestLine {
    pub id: String,
    pub execution_id: String,
    pub status: TestStatus,
    pub created_at: String,
    pub metrics: TestMetrics,
    pub issues: Vec<String>,
    pub recommendations: Vec<String>,
}

/// The Testing Results page: the summary and the tests, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResultsView {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub average_rto_seconds: Option<f64>,
    pub average_rpo_seconds: Option<f64>,
    pub tests: Vec<TestLine>,
}
