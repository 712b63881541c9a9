//! One run of a recovery plan: its header (status, mode, incident, measured RTO and RPO),
//! Cancel while it is under way, and its steps in order, a parallel group's together, each with
//! its state, attempts, output, and at a gate the Confirm / Abort buttons. Live: server-sent
//! events from `/api/disaster-recovery/executions/{id}/events`, each the whole run.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::recovery::{CancelRun, DecideGate, ExecutionMode, RecoveryRun, StepRun, StepStatus, get_run, human_seconds};
use crate::components::{ErrorPanel, PageHeader, action_outcome, follow_events};

/// A step's state as a labelled mark: `data-status` and the class `step-{status}`.
#[component]
pub fn StepBadge(status: StepStatus) -> impl IntoView {
    let text = status.as_str();
    view! { <span class=format!("step-status step-{text}") data-status=text>{text}</span> }
}

#[component]
pub fn RecoveryRunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let cancel = ServerAction::<CancelRun>::new();
    let decide = ServerAction::<DecideGate>::new();
    let loaded = Resource::new(move || (id(), cancel.version().get(), decide.version().get()), |(id, ..)| get_run(id));
    // The newest run pushed by the server; it wins over what the page loaded with.
    let live = RwSignal::new(None::<RecoveryRun>);
    listen(id, live);
    view! {
        <PageHeader title="Recovery run"/>
        {action_outcome(cancel.value(), "cancel-outcome")}
        {action_outcome(decide.value(), "gate-outcome")}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(first) => view! { <RunView run=Signal::derive(move || live.get().unwrap_or_else(|| first.clone())) cancel decide/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RunView(run: Signal<RecoveryRun>, cancel: ServerAction<CancelRun>, decide: ServerAction<DecideGate>) -> impl IntoView {
    let r = move || run.get();
    view! {
        <section class="panel" data-testid="run" data-run-status=move || r().status.as_str()>
            <h2>{move || r().execution_name}</h2>
            <p>"Status: " <strong data-testid="run-status">{move || r().status.as_str()}</strong>
                {move || format!(" · {} of {} steps completed", r().recovery_steps_completed, r().recovery_steps_total)}</p>
            {move || r().error_details.map(|m| view! { <p class="form-error" role="alert" data-testid="run-error">{m}</p> })}
            {move || {
                let r = r();
                let rto = r.actual_rto_seconds.map_or_else(|| "not measured".to_string(), human_seconds);
                let rpo = r.actual_rpo_seconds.map_or_else(|| "not measured".to_string(), human_seconds);
                let rollback = match (r.rollback_initiated, r.rollback_completed) {
                    (false, _) => "none".to_string(),
                    (true, true) => "rolled back".to_string(),
                    (true, false) => "rolling back".to_string(),
                };
                let criteria = match r.success_criteria_met {
                    Some(true) => "met",
                    Some(false) => "not met",
                    None => "not checked yet",
                };
                view! {
                    <table class="data" data-testid="run-header">
                        <tbody>
                            <tr><th>"Plan"</th><td><a href=format!("/disaster-recovery/plans/{}", r.plan_id)>{format!("version {} of the plan", r.plan_version)}</a></td></tr>
                            <tr><th>"Mode"</th><td data-testid="run-mode">{r.execution_mode.as_str()}{(r.execution_mode == ExecutionMode::Test).then_some(" (a drill, on the plan's scratch targets)")}</td></tr>
                            <tr><th>"Trigger"</th><td>{format!("{} by {}", r.trigger_type.as_str(), r.initiated_by)}</td></tr>
                            <tr><th>"Signed off"</th><td data-testid="run-approval">{match (&r.approved_by, &r.approval_reference) {
                                (Some(by), Some(how)) => format!("by {by} ({how})"),
                                (Some(by), None) => by.clone(),
                                _ => "—".to_string(),
                            }}</td></tr>
                            <tr><th>"Incident"</th><td>{format!("{} (began {})", r.incident_reference.clone().unwrap_or_else(|| "—".into()), r.incident_started_at)}</td></tr>
                            <tr><th>"Started"</th><td>{r.started_at.clone().unwrap_or_else(|| format!("queued at {}", r.initiated_at))}</td></tr>
                            <tr><th>"Finished"</th><td>{r.completed_at.clone().unwrap_or_else(|| "—".into())}{r.total_duration_ms.map(|ms| format!(" (took {})", human_seconds(ms as f64 / 1000.0))).unwrap_or_default()}</td></tr>
                            <tr><th>"Measured RTO"</th><td data-testid="run-rto">{rto}</td></tr>
                            <tr><th>"Measured RPO"</th><td data-testid="run-rpo">{rpo}{(r.data_loss_amount > 0).then(|| format!(" ({} lost)", r.data_loss_amount))}</td></tr>
                            <tr><th>"Success criteria"</th><td>{criteria}</td></tr>
                            <tr><th>"Rollback"</th><td>{rollback}</td></tr>
                            <tr><th>"Affected services"</th><td>{if r.affected_services.is_empty() { "—".to_string() } else { r.affected_services.join(", ") }}</td></tr>
                        </tbody>
                    </table>
                }
            }}
            <div class:hidden=move || r().status.is_finished()>
                <ActionForm action=cancel attr:class="row-form">
                    <input type="hidden" name="id" value=move || r().id/>
                    <button type="submit" class="danger">"Cancel run"</button>
                </ActionForm>
            </div>
        </section>
        <section class="panel">
            <h2>"Steps"</h2>
            <p class="hint">"In order; the steps of a parallel group run at the same time. A step at a gate waits for a person with the gate's role."</p>
            <ol class="run-steps" data-testid="steps">
                <For each=move || groups(&run.get()) key=|g: &StepGroup| g.key.clone() children=move |g: StepGroup| view! { <GroupItem g decide/> }/>
            </ol>
        </section>
    }
}

/// Neighbouring steps of one parallel group, or a step on its own; `key` changes whenever one
/// of them does, so only that part is drawn again.
#[derive(Clone)]
struct StepGroup {
    run_id: String,
    group: Option<String>,
    steps: Vec<StepRun>,
    key: String,
}

fn groups(run: &RecoveryRun) -> Vec<StepGroup> {
    let mut steps = run.steps.clone();
    steps.sort_by_key(|s| s.step_order);
    let mut out: Vec<StepGroup> = Vec::new();
    for step in steps {
        match out.last_mut() {
            Some(last) if last.group.is_some() && last.group == step.parallel_group => last.steps.push(step),
            _ => out.push(StepGroup { run_id: run.id.clone(), group: step.parallel_group.clone(), steps: vec![step], key: String::new() }),
        }
    }
    for g in &mut out {
        g.key = serde_json::to_string(&g.steps).unwrap_or_default();
    }
    out
}

#[component]
fn GroupItem(g: StepGroup, decide: ServerAction<DecideGate>) -> impl IntoView {
    let StepGroup { run_id, group, steps, .. } = g;
    let items = steps.into_iter().map(|s| view! { <StepItem s run_id=run_id.clone() decide/> }).collect_view();
    match group {
        Some(name) => view! {
            <li class="step-group" data-group=name.clone()>
                <p class="group-label"><strong>{format!("Parallel group {name}")}</strong>": these steps run at the same time"</p>
                {items}
            </li>
        }
        .into_any(),
        None => view! { <li>{items}</li> }.into_any(),
    }
}

#[component]
fn StepItem(s: StepRun, run_id: String, decide: ServerAction<DecideGate>) -> impl IntoView {
    let deciding = matches!(s.status, StepStatus::Waiting | StepStatus::Interrupted);
    let gate_message = if s.status == StepStatus::Interrupted {
        "The node running this step stopped, and the step is not safe to run twice without a person: confirm to run it again, or abort the run.".to_string()
    } else {
        let role = s.gate.as_ref().map_or("operator", |g| g.role.as_str());
        let message = s.gate.as_ref().and_then(|g| g.message.clone()).unwrap_or_else(|| "This step waits for a person to confirm before it starts.".to_string());
        format!("{message} (someone with the {role} role confirms)")
    };
    let facts = format!(
        "{} · {} · {} · {} of {} retries used{}",
        s.step_type.as_str(),
        if s.critical { "critical" } else { "optional" },
        if s.dependencies.is_empty() { "starts at once".to_string() } else { format!("after {}", s.dependencies.join(", ")) },
        s.retry_count,
        s.max_retries,
        s.duration_ms.map(|ms| format!(" · took {}", human_seconds(ms as f64 / 1000.0))).unwrap_or_default(),
    );
    let next = s.next_attempt_at.clone().filter(|_| s.status == StepStatus::Retrying).map(|at| view! { <p>{format!("Next attempt at {at}.")}</p> });
    let rollback = s.rollback_status.clone().map(|status| {
        let detail = s.rollback_error.clone().map(|e| format!(": {e}")).unwrap_or_default();
        let at = s.rolled_back_at.clone().map(|at| format!(" at {at}")).unwrap_or_default();
        view! { <p>{format!("Rollback: {status}{at}{detail}")}</p> }
    });
    let gate_status = s.gate_status.clone().filter(|_| !deciding).map(|g| view! { <p class="muted">{format!("Gate: {g}")}</p> });
    let output = s.output_data.as_ref().map(|o| serde_json::to_string_pretty(o).unwrap_or_default());
    let validation = s.validation_results.as_ref().map(|v| serde_json::to_string_pretty(v).unwrap_or_default());
    let attempts = s.attempts.clone();
    let (confirm_run, confirm_step, abort_run, abort_step) = (run_id.clone(), s.id.clone(), run_id, s.id.clone());
    let name = s.step_name.clone();
    view! {
        <article class="step" data-step=s.step_name.clone()>
            <h3><StepBadge status=s.status/>" " {s.step_name.clone()}</h3>
            <p class="muted">{facts}</p>
            {s.error_message.clone().map(|m| view! { <p class="form-error">{m}</p> })}
            {next}
            {rollback}
            {gate_status}
            {deciding.then(|| view! {
                <div class="gate" role="group" aria-label=format!("Decision on {name}") data-testid="gate">
                    <p>{gate_message}</p>
                    <div class="row-actions">
                        <ActionForm action=decide attr:class="row-form">
                            <input type="hidden" name="run_id" value=confirm_run/>
                            <input type="hidden" name="step_id" value=confirm_step/>
                            <input type="hidden" name="confirm" value="true"/>
                            <button type="submit" class="primary">"Confirm"</button>
                        </ActionForm>
                        <ActionForm action=decide attr:class="row-form">
                            <input type="hidden" name="run_id" value=abort_run/>
                            <input type="hidden" name="step_id" value=abort_step/>
                            <input type="hidden" name="confirm" value="false"/>
                            <button type="submit" class="danger">"Abort"</button>
                        </ActionForm>
                    </div>
                </div>
            })}
            {(!attempts.is_empty()).then(|| view! {
                <table class="data attempts">
                    <thead><tr><th>"Attempt"</th><th>"Status"</th><th>"Started"</th><th>"Ended"</th><th>"Error"</th><th>"Wait before the next"</th></tr></thead>
                    <tbody>{attempts.into_iter().map(|a| view! {
                        <tr>
                            <td>{a.attempt.to_string()}</td>
                            <td>{a.status.as_str()}</td>
                            <td>{a.started_at.clone()}</td>
                            <td>{a.completed_at.clone().unwrap_or_else(|| "—".into())}</td>
                            <td>{a.error_message.clone().unwrap_or_default()}</td>
                            <td>{a.backoff_ms.map(|ms| human_seconds(ms as f64 / 1000.0)).unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            })}
            {output.map(|text| view! { <details><summary>"Output"</summary><pre class="document" tabindex="0">{text}</pre></details> })}
            {validation.map(|text| view! { <details><summary>"Success criteria"</summary><pre class="document" tabindex="0">{text}</pre></details> })}
        </article>
    }
}

/// Follows the run's event stream until it has finished (in the browser).
fn listen(id: impl Fn() -> String + Send + Sync + 'static, live: RwSignal<Option<RecoveryRun>>) {
    let url = move || format!("/api/disaster-recovery/executions/{}/events", id());
    follow_events(url, "run", |r: &RecoveryRun| r.status.is_finished(), move |r| live.set(Some(r)));
}
