//! One restoration: what it restores where, its approval state (approve or reject it here as
//! an approver), its live progress (server-sent events from
//! `/api/admin/backups/restoration/{id}/events`), what was checked once it is done, and its
//! safety snapshot with the rollback button until the deadline.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::human_bytes;
use crate::api::restoration::{
    ApproveRestoration, CancelRestoration, Environment, RejectRestoration, RequestRestoration, Restoration, RestorationProgress, RestorationStatus, RollBackRestoration, get_restoration,
};
use crate::components::{ErrorPanel, PageHeader, action_outcome, follow_events, form_error};

#[component]
pub fn RestorationJobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let approve = ServerAction::<ApproveRestoration>::new();
    let reject = ServerAction::<RejectRestoration>::new();
    let cancel = ServerAction::<CancelRestoration>::new();
    let again = ServerAction::<RequestRestoration>::new();
    let rollback = ServerAction::<RollBackRestoration>::new();
    // An alternative chosen, or a rollback, is a new restoration: its page follows it.
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        let made = again.value().get().and_then(Result::ok).or_else(|| rollback.value().get().and_then(Result::ok));
        if let Some(id) = made {
            navigate(&format!("/restoration/{id}"), Default::default());
        }
    });
    let live = RwSignal::new(None::<RestorationProgress>);
    // Reloaded after each decision, and when the pushed status changes (approved → running → done).
    let loaded = Resource::new(
        move || (id(), approve.version().get(), reject.version().get(), cancel.version().get(), live.get().map(|p| p.status)),
        |(id, ..)| get_restoration(id),
    );
    listen(id, live);
    view! {
        <PageHeader title="Restoration"/>
        {action_outcome(approve.value(), "approved")}
        {action_outcome(reject.value(), "rejected")}
        {action_outcome(cancel.value(), "cancelled")}
        {form_error(again.value())}
        {form_error(rollback.value())}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(r) => view! { <Details r live approve reject cancel again rollback/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Details(
    r: Restoration,
    live: RwSignal<Option<RestorationProgress>>,
    approve: ServerAction<ApproveRestoration>,
    reject: ServerAction<RejectRestoration>,
    cancel: ServerAction<CancelRestoration>,
    again: ServerAction<RequestRestoration>,
    rollback: ServerAction<RollBackRestoration>,
) -> impl IntoView {
    let (status, total) = (r.status, r.total_size_bytes);
    let first = (r.progress_percentage, r.restored_size_bytes);
    let pct = move || live.get().map(|p| p.progress_percentage).unwrap_or(first.0).clamp(0, 100);
    let restored = move || live.get().map(|p| p.restored_size).unwrap_or(first.1);
    let approved = r.approvals.iter().filter(|a| a.decision == "approved").count();
    let scope = [r.restoration_scope.tables.join(", "), r.restoration_scope.paths.join(", "), r.restoration_scope.prefixes.join(", ")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("; ");
    let waiting = status == RestorationStatus::ApprovalRequired;
    let cancellable = matches!(status, RestorationStatus::ApprovalRequired | RestorationStatus::Initiated);
    // A restore that writes can be stopped (what it wrote is put back); a rollback cannot.
    let stoppable = status == RestorationStatus::Running && r.rollback_of.is_none();
    let (id, id2, id3) = (r.id.clone(), r.id.clone(), r.id.clone());
    view! {
        <section class="panel" data-testid="restoration" data-status=status.as_str()>
            <p>"Status: " <strong data-testid="status">{status.as_str()}</strong>
                {r.approval_override.then(|| view! { " · " <strong class="danger-text">"BREAK-GLASS: restored without approval"</strong> })}</p>
            {(r.target_environment == Environment::Production).then(|| view! { <p class="warning" role="note">"Production: this restore overwrites live data."</p> })}
            <div class="progress" role="progressbar" aria-label="Restore progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=move || pct().to_string() data-testid="progress">
                <div class="progress-bar" style=move || format!("width: {}%", pct())></div>
            </div>
            <p data-testid="progress-text">{move || format!("{}%: {} of {} restored", pct(), human_bytes(restored().max(0) as u64), human_bytes(total.max(0) as u64))}</p>
            {r.error_message.clone().map(|m| view! { <p class="form-error" role="alert" data-testid="error">{m}</p> })}
            <table class="data">
                <tbody>
                    <tr><th>"Backup"</th><td><a href=format!("/executions/{}", r.backup_execution_id)>{format!("{} ({})", r.configuration_name, r.backup_execution_id)}</a></td></tr>
                    <tr><th>"Type"</th><td>{r.restoration_type.as_str()}</td></tr>
                    <tr><th>"Into"</th><td data-testid="target">{format!("{} ({})", r.target_identifier, r.target_environment)}</td></tr>
                    <tr><th>"Scope"</th><td>{if scope.is_empty() { "everything".to_string() } else { scope }}</td></tr>
                    <tr><th>"Point in time"</th><td>{r.point_in_time_target.clone().unwrap_or_else(|| "—".into())}</td></tr>
                    <tr><th>"Requested by"</th><td>{format!("{} at {}", r.initiated_by, r.created_at)}</td></tr>
                    <tr><th>"Incident"</th><td>{r.incident_reference.clone().unwrap_or_else(|| "—".into())}</td></tr>
                    <tr><th>"Approval"</th><td data-testid="approval">{if r.approval_required {
                        format!("{approved} of {} approvals{}{}", r.approvals_needed, if r.require_totp { ", each with a second-factor code" } else { "" },
                            r.approval_expires_at.as_deref().filter(|_| waiting).map(|at| format!("; expires {at}")).unwrap_or_default())
                    } else { "not needed in this environment".to_string() }}</td></tr>
                    <tr><th>"Decisions"</th><td><ul>{r.approvals.iter().map(|a| view! {
                        <li>{format!("{} {} at {}{}{}", a.decided_by, a.decision, a.decided_at, if a.totp_confirmed { " (with a second-factor code)" } else { "" }, a.reason.as_deref().map(|c| format!(": {c}")).unwrap_or_default())}</li>
                    }).collect_view()}</ul></td></tr>
                    <tr><th>"Took"</th><td data-testid="duration">{match (r.duration_seconds, r.rto_minutes) {
                        (Some(d), Some(rto)) => format!("{d:.2} s (RTO {rto} min: {})", if d <= rto as f64 * 60.0 { "met" } else { "missed" }),
                        (Some(d), None) => format!("{d:.2} s"),
                        _ => format!("about {:.0} s expected", r.estimated_duration_seconds),
                    }}</td></tr>
                    <tr><th>"Safety snapshot"</th><td data-testid="safety">{match (&r.safety_execution_id, r.safety_seconds) {
                        (Some(e), Some(s)) => view! { <a href=format!("/executions/{e}")>{format!("execution {e}")}</a> {format!(" ({s:.2} s): what the target held before this restore")} }.into_any(),
                        _ => view! { {if r.rollback_of.is_some() { "—: a rollback takes none" } else { "none: the target held nothing this restore wrote over" }}}.into_any(),
                    }}</td></tr>
                    {r.rollback_of.clone().map(|of| view! { <tr><th>"Rolls back"</th><td><a href=format!("/restoration/{of}") data-testid="rollback-of">{format!("restoration {of}")}</a></td></tr> })}
                    {r.rolled_back_by.clone().map(|by| view! { <tr><th>"Rollback"</th><td><a href=format!("/restoration/{by}") data-testid="rolled-back-by">{format!("restoration {by}")}</a></td></tr> })}
                    <tr><th>"Checked"</th><td><pre data-testid="verification">{r.verification_results.as_ref().map(|v| serde_json::to_string_pretty(v).unwrap_or_default()).unwrap_or_else(|| "—".into())}</pre></td></tr>
                </tbody>
            </table>
        </section>
        {(!r.conflicts.is_empty()).then(|| view! { <Conflicts r=r.clone() again/> })}
        {r.rollback_available.then(|| view! { <Rollback r=r.clone() rollback/> })}
        <section class="panel" class:hidden=!waiting data-testid="decide">
            <h2>"Decide"</h2>
            <p>"Approvers other than the requester approve or reject this request. An approval holds for this exact request: if it changes, it is void."</p>
            <ActionForm action=approve attr:class="grid-form">
                <input type="hidden" name="id" value=id/>
                <label class:hidden=!r.require_totp>"Code from your authenticator" <input type="text" name="totp_code" inputmode="numeric" autocomplete="one-time-code" maxlength="7"/></label>
                <label>"Comment" <input type="text" name="comment" maxlength="2000"/></label>
                <button type="submit" class="primary">"Approve"</button>
            </ActionForm>
            <ActionForm action=reject attr:class="grid-form">
                <input type="hidden" name="id" value=id2/>
                <label>"Reason" <input type="text" name="reason" maxlength="2000"/></label>
                <button type="submit" class="danger">"Reject"</button>
            </ActionForm>
        </section>
        <section class="panel" class:hidden=!(cancellable || stoppable)>
            <ActionForm action=cancel>
                <input type="hidden" name="id" value=id3/>
                <button type="submit" class="danger">{if stoppable { "Stop this restore and put the target back" } else { "Cancel this restoration" }}</button>
            </ActionForm>
        </section>
    }
}

/// The rollback button, with the time left to press it.
#[component]
fn Rollback(r: Restoration, rollback: ServerAction<RollBackRestoration>) -> impl IntoView {
    let deadline = r.rollback_deadline.clone().unwrap_or_default();
    let left = match r.rollback_seconds_left.unwrap_or(0) {
        s if s >= 3600 => format!("{} h {} min left", s / 3600, s % 3600 / 60),
        s => format!("{} min left", s / 60),
    };
    let production = r.target_environment == Environment::Production;
    view! {
        <section class="panel" data-testid="rollback">
            <h2>"Roll back"</h2>
            <p>{format!("Puts {} back exactly as it was before this restore, from its safety snapshot. Possible until {deadline} ({left}).", r.target_identifier)}</p>
            {production.then(|| view! { <p class="warning" role="note">"A rollback in production needs the same approvals as a restore."</p> })}
            <ActionForm action=rollback attr:class="grid-form">
                <input type="hidden" name="id" value=r.id.clone()/>
                <label>"Reason" <input type="text" name="reason" maxlength="2000"/></label>
                <label>"Incident" <input type="text" name="incident_reference" maxlength="200" value=r.incident_reference.clone().unwrap_or_default()/></label>
                <button type="submit" class="danger">"Roll back this restore"</button>
            </ActionForm>
        </section>
    }
}

/// What the target held, and the requests that avoid it, one button each.
#[component]
fn Conflicts(r: Restoration, again: ServerAction<RequestRestoration>) -> impl IntoView {
    let scope = [r.restoration_scope.tables.join(","), r.restoration_scope.paths.join(","), r.restoration_scope.prefixes.join(",")].into_iter().find(|s| !s.is_empty()).unwrap_or_default();
    view! {
        <section class="panel" data-testid="conflicts">
            <h2>"The target already holds data"</h2>
            <ul>{r.conflicts.iter().map(|c| view! { <li>{c.clone()}</li> }).collect_view()}</ul>
            <p>"Nothing was written. Choose another way:"</p>
            {r.alternatives.iter().map(|a| {
                let (target, inside) = a.target_identifier.split_once('/').map(|(t, i)| (t.to_string(), i.to_string())).unwrap_or((a.target_identifier.clone(), String::new()));
                let backup = r.backup_execution_id.clone();
                let kind = r.restoration_type.as_str();
                let environment = a.target_environment.as_str();
                let point = r.point_in_time_target.clone().unwrap_or_default();
                let scope = scope.clone();
                let incident = r.incident_reference.clone().unwrap_or_default();
                let notes = r.notes.clone().unwrap_or_default();
                let unverified = r.accept_unverified;
                let resolution = a.conflict_resolution.map(|c| c.as_str());
                let label = a.label.clone();
                view! {
                    <ActionForm action=again attr:class="row-form">
                        <input type="hidden" name="backup_execution_id" value=backup/>
                        <input type="hidden" name="restoration_type" value=kind/>
                        <input type="hidden" name="target_environment" value=environment/>
                        <input type="hidden" name="target" value=target/>
                        <input type="hidden" name="inside" value=inside/>
                        <input type="hidden" name="point_in_time_target" value=point/>
                        <input type="hidden" name="scope" value=scope/>
                        <input type="hidden" name="incident_reference" value=incident/>
                        <input type="hidden" name="notes" value=notes/>
                        <input type="hidden" name="override_reason" value=""/>
                        {unverified.then(|| view! { <input type="hidden" name="accept_unverified" value="on"/> })}
                        {resolution.map(|c| view! { <input type="hidden" name="conflict_resolution" value=c/> })}
                        <button type="submit">{label}</button>
                    </ActionForm>
                }
            }).collect_view()}
        </section>
    }
}

/// Follows the restoration's event stream until it has ended (in the browser).
fn listen(id: impl Fn() -> String + Send + Sync + 'static, live: RwSignal<Option<RestorationProgress>>) {
    let url = move || format!("/api/admin/backups/restoration/{}/events", id());
    follow_events(url, "restoration", |p: &RestorationProgress| p.status.is_finished(), move |p| live.set(Some(p)));
}
