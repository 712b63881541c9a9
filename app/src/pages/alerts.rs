//! Alerts: what needs attention (open and acknowledged alerts, or those resolved), each with
//! how often it was seen; acknowledge it (it stops escalating), resolve it with notes, or
//! silence alerts like it for a while; the silences in force, lifted from here.

use leptos::prelude::*;

use crate::api::alerts::{AcknowledgeAlert, AlertStatus, AlertType, LiftSilence, ResolveAlert, Severity, SilenceAlert, list_alerts, list_silences};
use crate::api::configurations::list_configurations;
use crate::components::{EmptyState, ErrorPanel, PageHeader, SilenceFields, form_error};

#[component]
pub fn AlertsPage() -> impl IntoView {
    let acknowledge = ServerAction::<AcknowledgeAlert>::new();
    let resolve = ServerAction::<ResolveAlert>::new();
    let silence = ServerAction::<SilenceAlert>::new();
    let lift = ServerAction::<LiftSilence>::new();
    let status = RwSignal::new("active".to_string());
    let severity = RwSignal::new(String::new());
    let alert_type = RwSignal::new(String::new());
    let configuration = RwSignal::new(String::new());
    let alerts = Resource::new(
        move || (status.get(), severity.get(), alert_type.get(), configuration.get(), acknowledge.version().get(), resolve.version().get()),
        |(status, severity, alert_type, configuration, ..)| list_alerts(status, severity, alert_type, configuration),
    );
    let configurations = Resource::new(|| (), |_| list_configurations());
    let silences = Resource::new(move || (silence.version().get(), lift.version().get()), |_| list_silences());
    view! {
        <PageHeader title="Alerts" lead="Failed backups, tests and copies, unreachable locations: one alert per condition, counted when it repeats, resolved when it clears."/>
        <div class="toolbar">
            <label>"Show "
                <select aria-label="Show" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="active" selected=true>"Open and acknowledged"</option>
                    <option value="open">"Open"</option>
                    <option value="resolved">"Resolved"</option>
                    <option value="">"All"</option>
                </select>
            </label>
            <label>"Severity "
                <select aria-label="Severity" on:change=move |ev| severity.set(event_target_value(&ev))>
                    <option value="" selected=true>"Any"</option>
                    {Severity::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <label>"Type "
                <select aria-label="Type" on:change=move |ev| alert_type.set(event_target_value(&ev))>
                    <option value="" selected=true>"Any"</option>
                    {AlertType::ALL.iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = configurations.await.unwrap_or_default();
                    view! {
                        <label>"Configuration "
                            <select aria-label="Configuration" on:change=move |ev| configuration.set(event_target_value(&ev))>
                                <option value="" selected=true>"Any"</option>
                                {list.into_iter().map(|c| view! { <option value=c.id.clone()>{c.name.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                    }
                })}
            </Transition>
        </div>
        {form_error(acknowledge.value())}
        {form_error(resolve.value())}
        {form_error(silence.value())}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match alerts.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No alerts here">
                            <p>"Alerts are raised by failed backups, verifications, test restores and copies, and by unreachable storage locations. Repeats of one problem are counted on one alert; an alert resolves itself when its condition clears."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="data" data-testid="alerts">
                            <thead><tr><th>"Severity"</th><th>"Alert"</th><th>"Seen"</th><th>"Status"</th><th></th></tr></thead>
                            <tbody>{list.into_iter().map(|a| {
                                let seen = if a.occurrences > 1 { format!("{} times, first {}, last {}", a.occurrences, a.triggered_at, a.last_seen_at) } else { a.triggered_at.clone() };
                                let state = match a.status {
                                    AlertStatus::Acknowledged => format!("acknowledged by {} at {}", a.acknowledged_by.clone().unwrap_or_default(), a.acknowledged_at.clone().unwrap_or_default()),
                                    AlertStatus::Resolved => format!("resolved {}: {}", a.resolved_at.clone().unwrap_or_default(), a.resolution_notes.clone().unwrap_or_default()),
                                    AlertStatus::Open => "open".to_string(),
                                };
                                let (ack_id, resolve_id, silence_id) = (a.id.clone(), a.id.clone(), a.id.clone());
                                let link = a.backup_configuration_id.clone().map(|c| view! { " " <a href=format!("/configurations/{c}")>"configuration"</a> });
                                view! {
                                    <tr data-alert=a.id.clone() data-status=a.status.as_str()>
                                        <td><span class=format!("severity {}", a.severity.as_str())>{a.severity.as_str()}</span></td>
                                        <td><strong>{a.alert_type.as_str()}</strong> " " {a.message.clone()} {link} " " <a href=format!("/alerts/{}", a.id)>"history"</a></td>
                                        <td>{seen}</td>
                                        <td>{state}</td>
                                        <td>
                                            {(a.status == AlertStatus::Open).then(|| view! {
                                                <ActionForm action=acknowledge attr:class="row-form">
                                                    <input type="hidden" name="id" value=ack_id/>
                                                    <button type="submit">"Acknowledge"</button>
                                                </ActionForm>
                                            })}
                                            {(a.status != AlertStatus::Resolved).then(|| view! {
                                                <ActionForm action=resolve attr:class="row-form">
                                                    <input type="hidden" name="id" value=resolve_id/>
                                                    <label>"Notes " <input type="text" name="notes" required maxlength="2000" placeholder="why it is resolved"/></label>
                                                    <button type="submit">"Resolve"</button>
                                                </ActionForm>
                                            })}
                                            {(a.status != AlertStatus::Resolved).then(|| view! {
                                                <ActionForm action=silence attr:class="row-form">
                                                    <input type="hidden" name="id" value=silence_id/>
                                                    <SilenceFields/>
                                                    <button type="submit">"Silence"</button>
                                                </ActionForm>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
        <section class="panel">
            <h2>"Silences"</h2>
            <p>"While a silence lasts, the alerts it covers are still raised and listed here, but nobody is told and they do not escalate."</p>
            {form_error(lift.value())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match silences.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No silences in the last 7 days."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data" data-testid="silences">
                                <thead><tr><th>"Covers"</th><th>"Why"</th><th>"Until"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|s| {
                                    let covers = [s.alert_type.map(|t| t.as_str().to_string()), s.subject.clone(), s.backup_configuration_id.clone().map(|c| format!("configuration {c}"))]
                                        .into_iter().flatten().collect::<Vec<_>>().join(", ");
                                    let until = match (&s.lifted_at, s.active) {
                                        (Some(at), _) => format!("lifted {at} by {}", s.lifted_by.clone().unwrap_or_default()),
                                        (None, true) => s.ends_at.clone(),
                                        (None, false) => format!("ended {}", s.ends_at),
                                    };
                                    let id = s.id.clone();
                                    view! {
                                        <tr data-active=s.active.to_string()>
                                            <td>{covers}</td>
                                            <td>{s.reason.clone()} " (" {s.created_by.clone()} ")"</td>
                                            <td>{until}</td>
                                            <td>{s.active.then(|| view! {
                                                <ActionForm action=lift attr:class="row-form">
                                                    <input type="hidden" name="id" value=id/>
                                                    <button type="submit">"Lift"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
