//! Restore tests: scheduling them and their results.

use leptos::prelude::*;

pub use bulwark_types::{TestLine, TestMetrics, TestResultsView, TestStatus};

use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "test_results")]
pub async fn test_results() -> Result<TestResultsView, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::restore_tests::results(&crate::ssr::catalog()?, &p, &Default::default(), 100).await.map_err(AppError::from_core)?;
    let tests = r
        .tests
        .into_iter()
        .map(|t| TestLine {
            metrics: t.metrics(),
            issues: t.issues(),
            recommendations: t.recommendations(),
            id: t.id,
            execution_id: t.execution_id,
            status: t.status,
            created_at: t.created_at,
        })
        .collect();
    let s = r.summary;
    Ok(TestResultsView { total: s.total_tests, passed: s.passed_tests, failed: s.failed_tests, average_rto_seconds: s.average_rto_seconds, average_rpo_seconds: s.average_rpo_seconds, tests })
}

/// Queues a restore test of a configuration's latest backup; returns a sentence.
#[server(prefix = "/_sfn", endpoint = "schedule_test")]
pub async fn schedule_test(configuration_id: String) -> Result<String, AppError> {
    use bulwark_core::restore_tests::{self, ScheduleTest};
    let p = crate::ssr::principal().await?;
    let request = ScheduleTest { configuration_id: Some(configuration_id), ..Default::default() };
    let tests = restore_tests::schedule(&crate::ssr::catalog()?, &p, request).await.map_err(AppError::from_core)?;
    let execution = tests.first().map(|t| t.execution_id.as_str()).unwrap_or_default();
    Ok(format!("Restore test queued for execution {execution}: it restores into a scratch target, checks it and cleans up."))
}
