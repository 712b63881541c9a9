//! Testing Results: restore tests (a backup restored into a scratch target, checked and timed)
//! with their measured RTO and RPO, issues and recommendations.

use leptos::prelude::*;

use crate::components::{EmptyState, ErrorPanel, PageHeader, action_outcome};
use crate::dto::{TestLine, TestResultsView};
use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "test_results")]
pub async fn test_results() -> Result<TestResultsView, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::restore_tests::results(&crate::ssr::catalog()?, &p, &Default::default(), 100).await.map_err(AppError::from_core)?;
    let list = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
    let tests = r
        .tests
        .into_iter()
        .map(|t| {
            let m: serde_json::Value = serde_json::from_str(&t.performance_metrics).unwrap_or_default();
            TestLine {
                issues: list(&t.issues_found),
                recommendations: list(&t.recommendations),
                id: t.id,
                execution_id: t.execution_id,
                status: t.status,
                created_at: t.created_at,
                restore_seconds: m["restoreSeconds"].as_f64(),
                data_age_seconds: m["dataAgeSeconds"].as_i64(),
                rto_met: m["rtoMet"].as_bool(),
                rpo_met: m["rpoMet"].as_bool(),
            }
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

#[component]
pub fn TestingPage() -> impl IntoView {
    let schedule = ServerAction::<ScheduleTest>::new();
    let refresh = RwSignal::new(0u32);
    let results = Resource::new(move || (schedule.version().get(), refresh.get()), |_| test_results());
    let configurations = Resource::new(|| (), |_| super::configurations::list_configurations());
    view! {
        <PageHeader title="Testing Results" lead="Real test restores: each backup restored into a scratch target (a temporary directory, a new database), checked, timed and removed. The restore time is the measured RTO; the backup's age, the RPO it gives."/>
        <section class="panel">
            <h2>"Test a backup now"</h2>
            <ActionForm action=schedule attr:class="grid-form">
                <label>"Configuration (its latest backup)"
                    <select name="configuration_id" aria-label="Configuration to test">
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                configurations.await.unwrap_or_default().into_iter()
                                    .map(|c| view! { <option value=c.id>{c.name}</option> }).collect_view()
                            })}
                        </Suspense>
                    </select>
                </label>
                <button type="submit" class="primary">"Run restore test"</button>
            </ActionForm>
            {action_outcome(schedule.value(), "test-report")}
            <button type="button" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh results"</button>
        </section>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(r) if r.tests.is_empty() => view! {
                        <EmptyState title="No backups have been tested yet">
                            <p>"Run a restore test above, or with " <code>"POST /api/admin/backups/testing/schedule"</code> ". Tests need a completed backup: create a " <a href="/configurations">"backup configuration"</a> " and run it first."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(r) => view! { <Results r/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn seconds(s: Option<f64>) -> String {
    s.map_or_else(|| "—".into(), |s| format!("{s:.2} s"))
}

#[component]
fn Results(r: TestResultsView) -> impl IntoView {
    let met = |m: Option<bool>| match m {
        Some(true) => "met",
        Some(false) => "missed",
        None => "no target",
    };
    view! {
        <section class="panel" data-testid="test-summary">
            <p>{format!("{} tests: {} passed, {} failed; average restore time (RTO) {}, average data age (RPO) {}.",
                r.total, r.passed, r.failed, seconds(r.average_rto_seconds), seconds(r.average_rpo_seconds.map(|s| s.round())))}</p>
        </section>
        <table class="data" data-testid="tests">
            <thead><tr><th>"Queued"</th><th>"Status"</th><th>"Restore time (RTO)"</th><th>"Data age (RPO)"</th><th>"Issues"</th><th>"Recommendations"</th></tr></thead>
            <tbody>
                {r.tests.into_iter().map(|t: TestLine| view! {
                    <tr data-status=t.status.clone()>
                        <td><a href=format!("/executions/{}", t.execution_id)>{t.created_at.clone()}</a></td>
                        <td>{t.status.clone()}</td>
                        <td>{format!("{} ({})", seconds(t.restore_seconds), met(t.rto_met))}</td>
                        <td>{format!("{} ({})", t.data_age_seconds.map_or_else(|| "—".into(), |s| format!("{s} s")), met(t.rpo_met))}</td>
                        <td>{t.issues.join("; ")}</td>
                        <td>{t.recommendations.join("; ")}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
