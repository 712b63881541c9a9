//! Testing Results: restore tests (a backup restored into a scratch target, checked and timed)
//! with their measured RTO and RPO, issues and recommendations.

use leptos::prelude::*;

use crate::api::{configurations::list_configurations, restore_tests::{ScheduleTest, TestLine, TestResultsView, test_results}};
use crate::components::{EmptyState, ErrorPanel, PageHeader, action_outcome};

#[component]
pub fn TestingPage() -> impl IntoView {
    let schedule = ServerAction::<ScheduleTest>::new();
    let refresh = RwSignal::new(0u32);
    let results = Resource::new(move || (schedule.version().get(), refresh.get()), |_| test_results());
    let configurations = Resource::new(|| (), |_| list_configurations());
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
                    <tr data-status=t.status.as_str()>
                        <td><a href=format!("/executions/{}", t.execution_id)>{t.created_at.clone()}</a></td>
                        <td>{t.status.as_str()}</td>
                        <td>{format!("{} ({})", seconds(t.metrics.restore_seconds), met(t.metrics.rto_met))}</td>
                        <td>{format!("{} ({})", t.metrics.data_age_seconds.map_or_else(|| "—".into(), |s| format!("{s} s")), met(t.metrics.rpo_met))}</td>
                        <td>{t.issues.join("; ")}</td>
                        <td>{t.recommendations.join("; ")}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
