//! Cost Analysis: what storage costs over a period (by part, location and configuration, per
//! day), what is stored, the suggestions with their monthly savings and buttons, and each
//! location's prices. Figures come from the daily cost rows; "Track today now" writes today's.

use leptos::prelude::*;

use crate::api::replication::RemoveReplicationRule;
use crate::api::cost::{PruneLocation, SetLocationPrices, SuggestionAction, TrackCost, cost_view, location_prices};
use crate::components::{EmptyState, ErrorPanel, PageHeader, action_outcome};

fn money(value: f64) -> String {
    if value != 0.0 && value.abs() < 0.01 { format!("{value:.4}") } else { format!("{value:.2}") }
}

/// A chart drawn in the browser from its ECharts option (`/charts.js`).
fn chart(label: &'static str, testid: &'static str, option: String) -> impl IntoView {
    view! { <div class="chart" role="img" aria-label=label data-testid=testid data-chart=option></div> }
}

#[component]
pub fn CostPage() -> impl IntoView {
    let track = ServerAction::<TrackCost>::new();
    let prune = ServerAction::<PruneLocation>::new();
    let unlink = ServerAction::<RemoveReplicationRule>::new();
    let set_prices = ServerAction::<SetLocationPrices>::new();
    let period = RwSignal::new("30d".to_string());
    let view_data = Resource::new(move || (period.get(), track.version().get(), prune.version().get()), |(p, _, _)| cost_view(p));
    let prices = Resource::new(move || set_prices.version().get(), |_| location_prices());
    view! {
        <PageHeader title="Cost Analysis" lead="What each storage location and configuration costs, counted from what is stored (deduplication included), the requests made and the bytes read out, at each location's prices; and where to save."/>
        <div class="toolbar">
            <label>"Period "
                <select on:change=move |ev| period.set(event_target_value(&ev)) prop:value=move || period.get()>
                    <option value="7d">"7 days"</option>
                    <option value="30d">"30 days"</option>
                    <option value="90d">"90 days"</option>
                </select>
            </label>
            <ActionForm action=track attr:class="row-form">
                <button type="submit">"Track today now"</button>
            </ActionForm>
        </div>
        {action_outcome(track.value(), "track-outcome")}
        {action_outcome(prune.value(), "prune-outcome")}
        {action_outcome(unlink.value(), "unlink-outcome")}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(v) if v.analysis.as_of.is_none() => view! {
                        <EmptyState title="No cost data yet">
                            <p>"Costs are counted, not guessed: bytes stored (each configuration charged its share of deduplicated data), requests and bytes read out per storage location, at its prices. The daily job writes a day's figures; “Track today now” writes them at once."</p>
                            <p>"Set a price on each " <a href="/storage">"storage location"</a> " (below, once it holds backups) so its costs can be tracked."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(v) => {
                        let a = v.analysis;
                        let u = v.utilization;
                        let parts = a.cost_breakdown.clone().unwrap_or_default();
                        view! {
                            <p class="as-of">"Figures as of " {a.as_of.clone()}</p>
                            <div class="cards" data-testid="cost-cards">
                                <div class="card"><span class="card-value">{money(a.total_cost)}</span><span class="card-label">"Cost over the period"</span></div>
                                <div class="card"><span class="card-value" data-testid="monthly-estimate">{money(a.monthly_estimate)}</span><span class="card-label">"Monthly estimate"</span></div>
                                <div class="card"><span class="card-value">{bulwark_types::human_bytes(u.total_storage.max(0) as u64)}</span><span class="card-label">"Stored"</span></div>
                                <div class="card"><span class="card-value">{money(a.optimization_suggestions.iter().map(|s| s.estimated_savings).sum())}</span><span class="card-label">"Possible monthly savings"</span></div>
                            </div>
                            <section class="panel">
                                <h2>"Cost per day"</h2>
                                <p>{format!("Storage {}, transfer {}, requests {}.", money(parts.storage), money(parts.transfer), money(parts.requests))}</p>
                                {chart("Cost per day, by storage, transfer and requests", "cost-chart", v.cost_chart)}
                            </section>
                            <div class="two-columns">
                                <section class="panel">
                                    <h2>"Stored per day"</h2>
                                    {chart("Bytes stored per day", "storage-chart", v.storage_chart)}
                                </section>
                                <section class="panel">
                                    <h2>"Cost by location"</h2>
                                    {chart("Cost by storage location", "location-chart", v.location_chart)}
                                </section>
                            </div>
                            <section class="panel">
                                <h2>"Suggestions"</h2>
                                {if a.optimization_suggestions.is_empty() {
                                    view! { <p>"Nothing to suggest: no unreferenced data, no old backups on a dearer location, no surplus retention, no compression that would pay, no replica left unread."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="suggestions" data-testid="suggestions">{a.optimization_suggestions.into_iter().map(|s| {
                                            let act = match s.action.clone() {
                                                SuggestionAction::Prune { location_id } => view! {
                                                    <ActionForm action=prune attr:class="row-form">
                                                        <input type="hidden" name="id" value=location_id/>
                                                        <button type="submit">"Prune now"</button>
                                                    </ActionForm>
                                                }.into_any(),
                                                SuggestionAction::EditConfiguration { configuration_id, field } => view! {
                                                    <a href=format!("/configurations/{configuration_id}")>{format!("Change its {field}")}</a>
                                                }.into_any(),
                                                SuggestionAction::RemoveReplica { rule_id, source_location_id, replica_location_id } => view! {
                                                    <ActionForm action=unlink attr:class="row-form">
                                                        <input type="hidden" name="rule_id" value=rule_id/>
                                                        <button type="submit" class="danger">"Remove the copy rule"</button>
                                                    </ActionForm>
                                                    " "<a href=format!("/storage/{}", crate::url::encode(&replica_location_id))>"the replica"</a>
                                                    " · "<a href=format!("/storage/{}", crate::url::encode(&source_location_id))>"its source"</a>
                                                }.into_any(),
                                            };
                                            view! {
                                                <li data-kind=s.kind.clone()>
                                                    <strong>{format!("Save about {} a month", money(s.estimated_savings))}</strong>" — " {s.description.clone()} " " {act}
                                                </li>
                                            }
                                        }).collect_view()}</ul>
                                    }.into_any()
                                }}
                            </section>
                            <div class="two-columns">
                                <section class="panel">
                                    <h2>"By location"</h2>
                                    <table class="data" data-testid="cost-by-location">
                                        <thead><tr><th>"Location"</th><th>"Cost"</th><th>"Per GB"</th><th>"Stored"</th><th>"Free"</th></tr></thead>
                                        <tbody>{a.cost_by_location.iter().map(|l| {
                                            let stored = u.storage_by_location.iter().find(|s| s.location_id == l.location_id);
                                            let used = stored.map(|s| bulwark_types::human_bytes(s.storage_used.max(0) as u64)).unwrap_or_default();
                                            let free = stored.and_then(|s| s.storage_available).map_or("—".to_string(), |f| bulwark_types::human_bytes(f.max(0) as u64));
                                            view! { <tr><td>{l.location_name.clone()}</td><td>{money(l.cost)}</td><td>{money(l.cost_per_gb)}</td><td>{used}</td><td>{free}</td></tr> }
                                        }).collect_view()}</tbody>
                                    </table>
                                </section>
                                <section class="panel">
                                    <h2>"By configuration"</h2>
                                    <table class="data" data-testid="cost-by-configuration">
                                        <thead><tr><th>"Configuration"</th><th>"Cost"</th><th>"Stored"</th><th>"Retention"</th></tr></thead>
                                        <tbody>{a.cost_by_configuration.iter().map(|c| {
                                            let stored = u.storage_by_configuration.iter().find(|s| s.configuration_id == c.configuration_id);
                                            let used = stored.map(|s| bulwark_types::human_bytes(s.storage_used.max(0) as u64)).unwrap_or_default();
                                            let kept = stored.map_or("—", |s| if s.retention_compliance { "kept as its policy says" } else { "cleanup failing" });
                                            view! { <tr><td>{c.configuration_name.clone()}</td><td>{money(c.cost)}</td><td>{used}</td><td>{kept}</td></tr> }
                                        }).collect_view()}</tbody>
                                    </table>
                                </section>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
        <section class="panel">
            <h2>"Prices"</h2>
            <p>"Per GB-month stored, per 1,000 requests and per GB read out; admins set them. An empty price costs nothing."</p>
            {action_outcome(set_prices.value(), "prices-saved")}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match prices.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No storage locations yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data" data-testid="prices">
                                <thead><tr><th>"Location"</th><th>"Prices"</th></tr></thead>
                                <tbody>{list.into_iter().map(|(id, name, p)| {
                                    let text = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
                                    view! {
                                        <tr data-location=name.clone()>
                                            <td>{name.clone()}</td>
                                            <td>
                                                <ActionForm action=set_prices attr:class="row-form">
                                                    <input type="hidden" name="id" value=id/>
                                                    <label>"Per GB-month " <input type="text" name="per_gb_month" inputmode="decimal" size="7" value=text(p.cost_per_gb_month)/></label>
                                                    <label>" per 1,000 requests " <input type="text" name="per_1k_requests" inputmode="decimal" size="7" value=text(p.cost_per_1k_requests)/></label>
                                                    <label>" per GB out " <input type="text" name="per_gb_transfer" inputmode="decimal" size="7" value=text(p.cost_per_gb_transfer)/></label>
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
    }
}
