//! The job queue: what every node is doing, has done and will do, with cancellation of
//! queued and running backups.

use leptos::prelude::*;

use crate::api::{executions::CancelExecution, jobs::{JobLine, JobState, list_jobs}};
use crate::components::{EmptyState, ErrorPanel, PageHeader, action_outcome};

#[component]
pub fn JobsPage() -> impl IntoView {
    let state = RwSignal::new(String::new());
    let cancel = ServerAction::<CancelExecution>::new();
    let rows = Resource::new(move || (state.get(), cancel.version().get()), |(state, _)| list_jobs(state));
    view! {
        <PageHeader title="Jobs" lead="The work queue every node claims from: backups by priority (1 first), retries with backoff, leases that pass a dead node's work to another."/>
        <section class="panel">
            <label>"State "
                <select aria-label="State" on:change=move |ev| state.set(event_target_value(&ev))>
                    <option value="">"all"</option>
                    {JobState::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
            </label>
            {action_outcome(cancel.value(), "cancel-report")}
        </section>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No jobs here">
                            <p>"Jobs appear when a backup is run now or a schedule fires; see " <a href="/configurations">"Configurations"</a> "."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="data" data-testid="jobs">
                            <thead><tr><th>"Created"</th><th>"Kind"</th><th>"State"</th><th>"Priority"</th><th>"Attempts"</th><th>"Held by"</th><th>"Last error"</th><th>"Actions"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|j| view! { <JobRow job=j cancel/> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn JobRow(job: JobLine, cancel: ServerAction<CancelExecution>) -> impl IntoView {
    let is_backup = job.kind == "backup";
    let subject = match job.subject_id.clone().filter(|_| is_backup) {
        Some(id) => view! { <a href=format!("/executions/{id}")>{job.kind.clone()}</a> }.into_any(),
        None => view! { <span>{job.kind.clone()}</span> }.into_any(),
    };
    let cancellable = is_backup && !job.state.is_finished();
    view! {
        <tr data-job=job.id.clone() data-state=job.state.as_str()>
            <td>{job.created_at.clone()}</td>
            <td>{subject}</td>
            <td>{job.state.as_str()}</td>
            <td>{job.priority}</td>
            <td>{format!("{} of {}", job.attempts, job.max_attempts)}</td>
            <td><code>{job.lease_owner.clone().unwrap_or_default()}</code></td>
            <td>{job.last_error.clone().unwrap_or_default()}</td>
            <td class="actions">
                {cancellable.then(|| view! {
                    <ActionForm action=cancel attr:class="row-form">
                        <input type="hidden" name="id" value=job.subject_id.clone().unwrap_or_default()/>
                        <button type="submit" class="danger">"Cancel"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
