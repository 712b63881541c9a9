//! Restoration: request a restore of any backup into a named target, the restorations under
//! way with their progress, the history, the approval policies and the targets.

use leptos::prelude::*;

use super::restore_targets::RestoreTargetsPanel;
use crate::api::human_bytes;
use crate::api::restoration::{
    ApprovalPolicy, ApprovalRule, Environment, RequestRestoration, Restoration, RestorationType, SetApprovalPolicy, active_restorations, list_approval_policies,
    list_available_backups, list_restore_targets, restoration_history,
};
use crate::components::{ErrorPanel, PageHeader, action_outcome, form_error};

#[component]
pub fn RestorationPage() -> impl IntoView {
    view! {
        <PageHeader title="Restoration" lead="Restores of any backup: full, partial, table-level or point-in-time, into production, staging, development or DR targets."/>
        <RequestPanel/>
        <ActivePanel title="Under way"/>
        <HistoryPanel/>
        <PoliciesPanel/>
        <RestoreTargetsPanel/>
    }
}

/// What the scope field names for a restoration type.
fn scope_hint(kind: RestorationType) -> Option<&'static str> {
    match kind {
        RestorationType::TableLevel => Some("Tables (schema.table, comma-separated)"),
        RestorationType::Partial => Some("Paths, tables or key prefixes (comma-separated)"),
        RestorationType::Full | RestorationType::PointInTime => None,
    }
}

#[component]
fn RequestPanel() -> impl IntoView {
    let request = ServerAction::<RequestRestoration>::new();
    let backups = Resource::new(|| (), |_| list_available_backups());
    let targets = Resource::new(|| (), |_| list_restore_targets());
    let environment = RwSignal::new(Environment::Staging);
    let kind = RwSignal::new(RestorationType::Full);
    // Once requested, the restoration's own page follows it.
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = request.value().get() {
            navigate(&format!("/restoration/{id}"), Default::default());
        }
    });
    view! {
        <section class="panel" data-testid="request-restoration">
            <h2>"Request a restoration"</h2>
            <p>"Pick a backup and a target. Restores into production, and full restores into disaster recovery, wait for an approver other than you; every restore runs on a worker and is recorded."</p>
            <ActionForm action=request attr:class="grid-form">
                <label>"Backup"
                    <Transition fallback=|| view! { <select name="backup_execution_id" disabled=true></select> }>
                        {move || Suspend::new(async move {
                            let list = backups.await.unwrap_or_default();
                            view! {
                                <select name="backup_execution_id" aria-label="Backup" required>
                                    {list.into_iter().map(|b| {
                                        let label = format!("{} · {} · {} · {}", b.configuration_name, b.backup_date, human_bytes(b.backup_size.max(0) as u64), b.verification_status);
                                        view! { <option value=b.execution_id>{label}</option> }
                                    }).collect_view()}
                                </select>
                            }
                        })}
                    </Transition>
                </label>
                <label>"Restoration type"
                    <select name="restoration_type" aria-label="Restoration type" on:change=move |ev| kind.set(RestorationType::parse(&event_target_value(&ev)).unwrap_or(RestorationType::Full))>
                        {RestorationType::ALL.iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Environment"
                    <select name="target_environment" aria-label="Target environment" on:change=move |ev| environment.set(Environment::parse(&event_target_value(&ev)).unwrap_or(Environment::Staging))>
                        {Environment::ALL.iter().map(|e| view! { <option value=e.as_str() selected=*e == Environment::Staging>{e.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Target"
                    <Transition fallback=|| view! { <select name="target" disabled=true></select> }>
                        {move || Suspend::new(async move {
                            let list = targets.await.unwrap_or_default();
                            view! {
                                <select name="target" aria-label="Target" required>
                                    {move || list.iter().filter(|t| t.environment == environment.get()).map(|t| {
                                        let label = format!("{} ({}: {})", t.name, t.target_type, t.place);
                                        view! { <option value=t.name.clone()>{label}</option> }
                                    }).collect_view()}
                                </select>
                            }
                        })}
                    </Transition>
                </label>
                <label>"Inside the target (optional)" <input type="text" name="inside" placeholder="a new database, a directory or a prefix"/></label>
                <label class:hidden=move || kind.get() != RestorationType::PointInTime>"Point in time (RFC 3339)"
                    <input type="text" name="point_in_time_target" placeholder="2026-12-05T10:00:00Z"/>
                </label>
                <label class:hidden=move || scope_hint(kind.get()).is_none()>{move || scope_hint(kind.get()).unwrap_or("Scope")}
                    <input type="text" name="scope" aria-label="Scope"/>
                </label>
                <label>"Incident reference" <input type="text" name="incident_reference" maxlength="200"/></label>
                <label>"Notes" <input type="text" name="notes" maxlength="2000"/></label>
                <label class="check"><input type="checkbox" name="accept_unverified"/>" Accept a backup not verified yet (otherwise it is verified first)"</label>
                <div class:hidden=move || environment.get() != Environment::Production class="warning" role="note" data-testid="production-warning">
                    <strong>"Production."</strong>" This overwrites live data and waits for an approver other than you. A break-glass restore skips approval only where the production policy allows it, and raises a critical alert."
                    <label class="check"><input type="checkbox" name="approval_override"/>" Break glass: restore without approval"</label>
                    <label>"Why it cannot wait" <input type="text" name="override_reason" maxlength="2000"/></label>
                </div>
                <button type="submit" class="primary">"Request restoration"</button>
            </ActionForm>
            {form_error(request.value())}
        </section>
    }
}

/// A restoration's progress bar and one line.
#[component]
pub fn RestorationLine(r: Restoration) -> impl IntoView {
    let pct = r.progress_percentage.clamp(0, 100);
    view! {
        <li data-restoration=r.id.clone() data-status=r.status.as_str()>
            <a href=format!("/restoration/{}", r.id)>{format!("{} of {} into {} ({})", r.restoration_type, r.configuration_name, r.target_identifier, r.target_environment)}</a>
            " · " <strong>{r.status.as_str()}</strong> {r.approval_override.then_some(" · BREAK-GLASS")}
            <div class="progress" role="progressbar" aria-label="Restore progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=pct.to_string()>
                <div class="progress-bar" style=format!("width: {pct}%")></div>
            </div>
        </li>
    }
}

/// The restorations waiting for approval, queued or running, each with its progress bar (the
/// Restoration page and the dashboard).
#[component]
pub fn ActivePanel(title: &'static str) -> impl IntoView {
    let active = Resource::new(|| (), |_| active_restorations());
    view! {
        <section class="panel" data-testid="active-restorations">
            <h2>{title}</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match active.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No restoration is waiting or running."</p> }.into_any(),
                        Ok(list) => view! { <ul class="restorations">{list.into_iter().map(|r| view! { <RestorationLine r/> }).collect_view()}</ul> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn HistoryPanel() -> impl IntoView {
    let history = Resource::new(|| (), |_| restoration_history());
    view! {
        <section class="panel" data-testid="restoration-history">
            <h2>"History"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No restores yet: request one above."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data">
                                <thead><tr><th>"Requested"</th><th>"Backup of"</th><th>"Type"</th><th>"Into"</th><th>"Status"</th><th>"Took"</th><th>"By"</th></tr></thead>
                                <tbody>{list.into_iter().map(|r| view! {
                                    <tr>
                                        <td><a href=format!("/restoration/{}", r.id)>{r.created_at.clone()}</a></td>
                                        <td>{r.configuration_name.clone()}</td>
                                        <td>{r.restoration_type.as_str()}</td>
                                        <td>{format!("{} ({})", r.target_identifier, r.target_environment)}</td>
                                        <td>{r.status.as_str()}{r.approval_override.then_some(" (break-glass)")}</td>
                                        <td>{r.duration_seconds.map(|d| format!("{d:.1} s")).unwrap_or_default()}</td>
                                        <td>{r.initiated_by.clone()}</td>
                                    </tr>
                                }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PoliciesPanel() -> impl IntoView {
    let save = ServerAction::<SetApprovalPolicy>::new();
    let policies = Resource::new(move || save.version().get(), |_| list_approval_policies());
    view! {
        <section class="panel" data-testid="approval-policies">
            <h2>"Approval policies"</h2>
            <p>"Per environment: whether restores wait for approval, by how many people other than the requester, with a second-factor code or not, how long a request stays valid, whether administrators may break the glass, and how long a restore can be rolled back. Administrators change them; every change is audited."</p>
            {action_outcome(save.value(), "policy-saved")}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match policies.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) => view! {
                            <table class="data">
                                <thead><tr><th>"Environment"</th><th>"Approval"</th><th>"Approvers"</th><th>"TOTP"</th><th>"Valid (h)"</th><th>"Break-glass"</th><th>"Rollback (h)"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|p| view! { <PolicyRow p save/> }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PolicyRow(p: ApprovalPolicy, save: ServerAction<SetApprovalPolicy>) -> impl IntoView {
    let form = format!("policy-{}", p.environment);
    let env = p.environment.as_str();
    view! {
        <tr data-environment=env>
            <td>{env}<ActionForm action=save attr:id=form.clone()><input type="hidden" name="environment" value=env/></ActionForm></td>
            <td><select name="require_approval" form=form.clone() aria-label=format!("Approval in {env}")>
                {ApprovalRule::ALL.iter().map(|r| view! { <option value=r.as_str() selected=*r == p.require_approval>{r.as_str()}</option> }).collect_view()}
            </select></td>
            <td><input type="number" name="approvers_required" form=form.clone() min="1" max="5" value=p.approvers_required aria-label=format!("Approvers in {env}")/></td>
            <td><input type="checkbox" name="require_totp" form=form.clone() checked=p.require_totp aria-label=format!("TOTP in {env}")/></td>
            <td><input type="number" name="validity_hours" form=form.clone() min="1" max="720" value=p.validity_hours aria-label=format!("Validity in {env}")/></td>
            <td><input type="checkbox" name="break_glass_allowed" form=form.clone() checked=p.break_glass_allowed aria-label=format!("Break-glass in {env}")/></td>
            <td><input type="number" name="rollback_hours" form=form.clone() min="1" max="720" value=p.rollback_hours aria-label=format!("Rollback in {env}")/></td>
            <td><button type="submit" form=form>"Save"</button></td>
        </tr>
    }
}
