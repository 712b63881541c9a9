//! One alert: what it is, and its history step by step (raised, repeated, told, escalated,
//! silenced, acknowledged, resolved) with every notification about it and each attempt.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::alerts::{DeliveryStatus, alert_with_history};
use crate::components::{ErrorPanel, PageHeader};

#[component]
pub fn AlertPage() -> impl IntoView {
    let params = use_params_map();
    let history = Resource::new(move || params.read().get("id").unwrap_or_default(), alert_with_history);
    view! {
        <PageHeader title="Alert" lead="What happened to this alert, and who was told."/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok((a, h)) => view! {
                        <section class="panel">
                            <h2>{a.alert_type.as_str()} " " <span class=format!("severity {}", a.severity.as_str())>{a.severity.as_str()}</span></h2>
                            <p>{a.message.clone()}</p>
                            <p>{format!("{}; seen {} time{}, first {}, last {}; escalation level {}", a.status, a.occurrences, if a.occurrences == 1 { "" } else { "s" }, a.triggered_at, a.last_seen_at, a.escalation_level)}</p>
                        </section>
                        <section class="panel">
                            <h2>"History"</h2>
                            <ol class="history" data-testid="alert-history">
                                {h.events.into_iter().map(|e| view! {
                                    <li data-kind=e.kind.clone()>
                                        <time>{e.at.clone()}</time> " " <strong>{e.kind.clone()}</strong>
                                        {e.escalation_level.map(|l| format!(" (level {l})"))}
                                        {e.actor.clone().map(|who| format!(" by {who}"))}
                                        {(!e.detail.is_empty()).then(|| format!(": {}", e.detail))}
                                    </li>
                                }).collect_view()}
                            </ol>
                        </section>
                        <section class="panel">
                            <h2>"Notifications"</h2>
                            {if h.deliveries.is_empty() {
                                view! { <p>"No channel was told of this alert."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="data" data-testid="alert-deliveries">
                                        <thead><tr><th>"Channel"</th><th>"Level"</th><th>"Outcome"</th><th>"Attempts"</th></tr></thead>
                                        <tbody>{h.deliveries.into_iter().map(|d| {
                                            let outcome = match d.status {
                                                DeliveryStatus::Delivered => format!("delivered {}", d.delivered_at.clone().unwrap_or_default()),
                                                DeliveryStatus::Pending => format!("next attempt at {}", d.next_attempt_at.clone().unwrap_or_default()),
                                                DeliveryStatus::Failed => format!("failed: {}", d.last_error.clone().unwrap_or_default()),
                                            };
                                            view! {
                                                <tr>
                                                    <td>{d.channel_name.clone()}</td>
                                                    <td>{d.escalation_level.map(|l| l.to_string()).unwrap_or_default()}</td>
                                                    <td>{outcome}</td>
                                                    <td>{d.attempts}</td>
                                                </tr>
                                            }
                                        }).collect_view()}</tbody>
                                    </table>
                                }.into_any()
                            }}
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
