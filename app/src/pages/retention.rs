//! Retention: what the policies delete, previewed (dry run) or done, and what legal holds and
//! location floors keep.

use leptos::prelude::*;

use crate::api::{human_bytes, retention::{CandidateLine, CleanupView, RetentionCleanup}};
use crate::components::{ErrorPanel, PageHeader};

#[component]
pub fn RetentionPage() -> impl IntoView {
    let cleanup = ServerAction::<RetentionCleanup>::new();
    view! {
        <PageHeader title="Retention" lead="Each configuration's policy (keep last, hourly … yearly, maximum age) proposes; legal holds and each location's retention floor decide. The cleanup also runs by itself every hour."/>
        <section class="panel">
            <div class="row-actions">
                <ActionForm action=cleanup attr:class="row-form">
                    <input type="hidden" name="dry_run" value="true"/>
                    <button type="submit">"Preview (dry run)"</button>
                </ActionForm>
                <ActionForm action=cleanup attr:class="row-form">
                    <input type="hidden" name="dry_run" value="false"/>
                    <button type="submit" class="danger">"Run cleanup now"</button>
                </ActionForm>
            </div>
        </section>
        {move || cleanup.value().get().map(|outcome| match outcome {
            Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
            Ok(report) => view! { <Report report/> }.into_any(),
        })}
    }
}

#[component]
fn Report(report: CleanupView) -> impl IntoView {
    let verb = if report.dry_run { "would delete" } else { "deleted" };
    let mut summary = format!(
        "The cleanup {verb} {} backups and free {}; {} kept by a legal hold, a location's minimum or S3 Object Lock.",
        report.deleted.len(),
        human_bytes(report.bytes_freed),
        report.held.len()
    );
    if report.bytes_locked > 0 {
        summary.push_str(&format!(" {} of unused data stays until its Object Lock expires.", human_bytes(report.bytes_locked)));
    }
    view! {
        <section class="panel" data-testid="cleanup-report" data-dry-run=report.dry_run.to_string()>
            <h2>{if report.dry_run { "Preview" } else { "Done" }}</h2>
            <p data-testid="cleanup-summary">{summary}</p>
            <Candidates title=if report.dry_run { "Would be deleted" } else { "Deleted" } testid="deleted" list=report.deleted/>
            <Candidates title="Kept although the policy lets them go" testid="held" list=report.held/>
        </section>
    }
}

#[component]
fn Candidates(title: &'static str, testid: &'static str, list: Vec<CandidateLine>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="hint">{title} ": none."</p> }.into_any();
    }
    view! {
        <h3>{title}</h3>
        <table class="data" data-testid=testid>
            <thead><tr><th>"Configuration"</th><th>"Completed"</th><th>"Size"</th><th>"Why"</th></tr></thead>
            <tbody>
                {list.into_iter().map(|c| view! {
                    <tr>
                        <td>{c.configuration_name}</td>
                        <td><a href=format!("/executions/{}", c.execution_id)>{c.completed_at}</a></td>
                        <td>{c.size_bytes.map(human_bytes).unwrap_or_default()}</td>
                        <td>{c.reason}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
