//! Notifications (admins): the channels alerts and approval requests are told through (a signed
//! webhook, e-mail), each with its routing and state; a test sent from here; the delivery log
//! with every attempt.

use leptos::prelude::*;

use crate::api::notifications::{
    ChannelKind, CreateEmailChannel, CreateWebhookChannel, DeleteChannel, DeliveryStatus, SetChannelEnabled, TestChannel, list_channels, list_deliveries,
};
use crate::api::alerts::{SetEscalation, escalation_schedules};
use crate::components::{EmptyState, ErrorPanel, PageHeader, action_outcome, form_error};

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let webhook = ServerAction::<CreateWebhookChannel>::new();
    let email = ServerAction::<CreateEmailChannel>::new();
    let test = ServerAction::<TestChannel>::new();
    let enable = ServerAction::<SetChannelEnabled>::new();
    let delete = ServerAction::<DeleteChannel>::new();
    let channels = Resource::new(
        move || (webhook.version().get(), email.version().get(), enable.version().get(), delete.version().get()),
        |_| list_channels(),
    );
    let set_escalation = ServerAction::<SetEscalation>::new();
    let schedules = Resource::new(move || set_escalation.version().get(), |_| escalation_schedules());
    let deliveries = Resource::new(move || (test.version().get(), delete.version().get()), |_| list_deliveries());
    let secret = move || {
        webhook.value().get().map(|r| match r {
            Ok(secret) => view! {
                <p class="ok" role="status">
                    "Channel added. Its signing secret, shown only now: "
                    <code data-testid="signing-secret">{secret}</code>
                    ". Receivers check X-Bulwark-Signature with it (docs/OPERATIONS.md)."
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <PageHeader title="Notifications" lead="Where alerts and approval requests are told: signed webhooks and e-mail, each with the severities and escalation levels it takes. Failed deliveries are retried later and later; a channel that keeps failing is disabled and alerted."/>
        // One answer for the whole page: who may not list channels sees that, and no forms.
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match channels.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) => view! {
                        <section class="panel">
                            <h2>"Channels"</h2>
                            {action_outcome(test.value(), "test-outcome")}
                            {form_error(enable.value())}
                            {form_error(delete.value())}
                            {if list.is_empty() {
                                view! {
                                    <EmptyState title="No channels yet">
                                        <p>"Nobody is told of alerts until a channel exists. Add a webhook (a chat or paging service, or your own receiver) or an e-mail channel below."</p>
                                    </EmptyState>
                                }.into_any()
                            } else {
                                view! {
                                    <table class="data" data-testid="channels">
                                        <thead><tr><th>"Channel"</th><th>"Where"</th><th>"Takes"</th><th>"State"</th><th></th></tr></thead>
                                        <tbody>{list.into_iter().map(|c| {
                                            let where_to = match c.kind {
                                                ChannelKind::Webhook => c.settings.url.clone().unwrap_or_default(),
                                                ChannelKind::Email => format!("{} via {}", c.settings.to.join(", "), c.settings.smtp_host.clone().unwrap_or_default()),
                                            };
                                            let severities = if c.routing.severities.is_empty() { "every severity".to_string() } else { c.routing.severities.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ") };
                                            let levels = if c.routing.escalation_levels.is_empty() { "every level".to_string() } else { format!("levels {}", c.routing.escalation_levels.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")) };
                                            let takes = format!("{severities}; {levels}{}", if c.routing.approval_requests { "; approval requests" } else { "" });
                                            let state = if c.enabled { "enabled".to_string() } else { format!("disabled: {}", c.disabled_reason.clone().unwrap_or_default()) };
                                            let (test_id, toggle_id, delete_id) = (c.id.clone(), c.id.clone(), c.id.clone());
                                            view! {
                                                <tr data-channel=c.name.clone() data-enabled=c.enabled.to_string()>
                                                    <td><strong>{c.name.clone()}</strong>" " {c.kind.as_str()}</td>
                                                    <td>{where_to}</td>
                                                    <td>{takes}</td>
                                                    <td>{state}</td>
                                                    <td>
                                                        <ActionForm action=test attr:class="row-form">
                                                            <input type="hidden" name="id" value=test_id/>
                                                            <button type="submit">"Send test"</button>
                                                        </ActionForm>
                                                        <ActionForm action=enable attr:class="row-form">
                                                            <input type="hidden" name="id" value=toggle_id/>
                                                            <input type="hidden" name="enabled" value=(!c.enabled).to_string()/>
                                                            <button type="submit">{if c.enabled { "Disable" } else { "Enable" }}</button>
                                                        </ActionForm>
                                                        <ActionForm action=delete attr:class="row-form">
                                                            <input type="hidden" name="id" value=delete_id/>
                                                            <button type="submit" class="danger">"Delete"</button>
                                                        </ActionForm>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}</tbody>
                                    </table>
                                }.into_any()
                            }}
                        </section>
                <section class="panel">
                    <h2>"Escalation"</h2>
                    <p>"Level 1 is told when an alert is raised. While nobody acknowledges it, each later level is told that many minutes after it was raised, to the channels that take that level."</p>
                    {action_outcome(set_escalation.value(), "escalation-saved")}
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match schedules.await {
                                Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                                Ok(list) => view! {
                                    <table class="data" data-testid="escalation">
                                        <thead><tr><th>"Severity"</th><th>"Later levels after (minutes)"</th></tr></thead>
                                        <tbody>{list.into_iter().map(|schedule| {
                                            let minutes = schedule.steps.iter().filter(|s| s.level > 1).map(|s| s.after_minutes.to_string()).collect::<Vec<_>>().join(", ");
                                            let label = format!("Minutes for {}", schedule.severity);
                                            view! {
                                                <tr data-severity=schedule.severity.as_str()>
                                                    <td>{schedule.severity.as_str()}</td>
                                                    <td>
                                                        <ActionForm action=set_escalation attr:class="row-form">
                                                            <input type="hidden" name="severity" value=schedule.severity.as_str()/>
                                                            <input type="text" name="minutes" value=minutes aria-label=label placeholder="e.g. 15, 60" pattern="[0-9, ]*"/>
                                                            <button type="submit">"Save"</button>
                                                        </ActionForm>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}</tbody>
                                    </table>
                                }.into_any(),
                            }
                        })}
                    </Transition>
                </section>
                <section class="panel">
                    <h2>"Add a webhook"</h2>
                    <p>"Bulwark POSTs a JSON body signed with HMAC-SHA256 (X-Bulwark-Signature over the timestamp and the body); the receiver answers 2xx."</p>
                    <ActionForm action=webhook attr:class="grid-form" attr:data-testid="add-webhook">
                        <label>"Name" <input type="text" name="name" required maxlength="80"/></label>
                        <label>"URL" <input type="url" name="url" required placeholder="https://hooks.example.com/bulwark"/></label>
                        <Routing/>
                        <button type="submit" class="primary">"Add webhook"</button>
                    </ActionForm>
                    {secret}
                </section>
                <section class="panel">
                    <h2>"Add an e-mail channel"</h2>
                    <p>"Saved once the SMTP server answers (and, with TLS, its certificate checks out)."</p>
                    <ActionForm action=email attr:class="grid-form" attr:data-testid="add-email">
                        <label>"Name" <input type="text" name="name" required maxlength="80"/></label>
                        <label>"SMTP host" <input type="text" name="host" required/></label>
                        <label>"Port" <input type="number" name="port" min="1" max="65535" placeholder="587"/></label>
                        <label>"Security"
                            <select name="security">
                                <option value="starttls" selected=true>"STARTTLS"</option>
                                <option value="tls">"TLS (port 465)"</option>
                                <option value="none">"None (a relay on this host only)"</option>
                            </select>
                        </label>
                        <label>"User name" <input type="text" name="username" autocomplete="off"/></label>
                        <label>"Password" <input type="password" name="password" autocomplete="new-password"/></label>
                        <label>"From" <input type="text" name="from" required placeholder="Bulwark <bulwark@example.com>"/></label>
                        <label>"To (comma-separated)" <input type="text" name="to" required/></label>
                        <Routing/>
                        <button type="submit" class="primary">"Add e-mail channel"</button>
                    </ActionForm>
                    {form_error(email.value())}
                </section>
                <section class="panel">
                    <h2>"Recent deliveries"</h2>
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match deliveries.await {
                                Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                                Ok(list) if list.is_empty() => view! { <p>"Nothing has been sent yet."</p> }.into_any(),
                                Ok(list) => view! {
                                    <table class="data" data-testid="deliveries">
                                        <thead><tr><th>"When"</th><th>"Channel"</th><th>"What"</th><th>"Outcome"</th><th>"Attempts"</th></tr></thead>
                                        <tbody>{list.into_iter().map(|d| {
                                            let outcome = match d.status {
                                                DeliveryStatus::Delivered => "delivered".to_string(),
                                                DeliveryStatus::Pending => format!("retrying at {}: {}", d.next_attempt_at.clone().unwrap_or_default(), d.last_error.clone().unwrap_or_default()),
                                                DeliveryStatus::Failed => format!("failed: {}", d.last_error.clone().unwrap_or_default()),
                                            };
                                            let attempts = d.attempt_log.iter().map(|a| format!("#{} {} {}{} ({} ms)", a.attempt, a.at, if a.ok { "ok" } else { "failed" }, a.response_status.map(|s| format!(" {s}")).unwrap_or_default(), a.duration_ms)).collect::<Vec<_>>().join("; ");
                                            view! {
                                                <tr data-status=d.status.as_str()>
                                                    <td>{d.created_at.clone()}</td>
                                                    <td>{d.channel_name.clone()}</td>
                                                    <td>{d.event.clone()} ": " {d.title.clone()}</td>
                                                    <td>{outcome}</td>
                                                    <td>{attempts}</td>
                                                </tr>
                                            }
                                        }).collect_view()}</tbody>
                                    </table>
                                }.into_any(),
                            }
                        })}
                    </Transition>
                </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What a new channel takes: severities, escalation levels, approval requests.
#[component]
fn Routing() -> impl IntoView {
    view! {
        <label>"Severities"
            <select name="severities">
                <option value="all" selected=true>"All"</option>
                <option value="high">"High and critical"</option>
                <option value="critical">"Critical only"</option>
            </select>
        </label>
        <label>"Escalation levels (empty for all)" <input type="text" name="levels" placeholder="e.g. 2,3" pattern="[0-9, ]*"/></label>
        <label class="check"><input type="checkbox" name="approvals" value="on"/>" Approval requests"</label>
    }
}
