//! Replication, on a location's page: copy its repository to another location (a second
//! region, an archive tier) now or after every backup, and the copies made so far.

use leptos::prelude::*;

use crate::api::{AppError, human_bytes, locations::{LocationRow, list_locations}, replication::{AddReplicationRule, RemoveReplicationRule, ReplicateLocation, ReplicationLine, list_replication_rules, list_replications}};
use crate::components::action_outcome;

#[component]
pub fn ReplicationPanel(id: String) -> impl IntoView {
    let start = ServerAction::<ReplicateLocation>::new();
    let add_rule = ServerAction::<AddReplicationRule>::new();
    let remove_rule = ServerAction::<RemoveReplicationRule>::new();
    let refresh = RwSignal::new(0u32);
    let key = id.clone();
    let runs = Resource::new(move || (key.clone(), start.version().get(), add_rule.version().get(), refresh.get()), |(id, ..)| list_replications(id));
    let key = id.clone();
    let rules = Resource::new(move || (key.clone(), add_rule.version().get(), remove_rule.version().get()), |(id, ..)| list_replication_rules(id));
    let locations = Resource::new(|| (), |_| list_locations());
    let this = id.clone();
    let (start_source, rule_source, rule_filter) = (id.clone(), id.clone(), id);
    view! {
        <section class="panel" data-testid="replication">
            <h2>"Replication"</h2>
            <p class="hint">"The target becomes a replica of this repository (same id, same keys): it restores on its own with this location's recovery kit."</p>
            <ActionForm action=start attr:class="grid-form">
                <input type="hidden" name="id" value=start_source/>
                <label>"Copy to" <TargetSelect label="Replication target" locations source=this/></label>
                <button type="submit">"Replicate now"</button>
            </ActionForm>
            {action_outcome(start.value(), "replication-report")}
            <h3>"Copy after every backup"</h3>
            <ActionForm action=add_rule attr:class="grid-form">
                <input type="hidden" name="id" value=rule_source/>
                <label>"Rule target" <TargetSelect label="Copy rule target" locations source=rule_filter/></label>
                <button type="submit">"Add copy rule"</button>
            </ActionForm>
            {action_outcome(add_rule.value(), "rule-report")}
            {action_outcome(remove_rule.value(), "rule-removed")}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    rules.await.map(|list| if list.is_empty() {
                        view! { <p class="hint" data-testid="rules">"No copy rule: copies run only when asked."</p> }.into_any()
                    } else {
                        view! {
                            <table class="data" data-testid="rules">
                                <thead><tr><th>"Copied to"</th><th>"Since"</th><th>"By"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|r| view! {
                                        <tr data-rule=r.target_name.clone()>
                                            <td>{r.target_name.clone()}</td>
                                            <td>{r.created_at.clone()}</td>
                                            <td>{r.created_by.clone()}</td>
                                            <td>
                                                <ActionForm action=remove_rule attr:class="row-form">
                                                    <input type="hidden" name="rule_id" value=r.id.clone()/>
                                                    <button type="submit" class="danger">"Remove rule"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    })
                })}
            </Transition>
            <button type="button" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh copies"</button>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    runs.await.map(|list| view! {
                        <table class="data" data-testid="replications">
                            <thead><tr><th>"Queued"</th><th>"Status"</th><th>"Copied"</th><th>"Already there"</th><th>"Removed"</th><th>"Snapshots read back"</th><th>"Error"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|r| view! {
                                    <tr data-status=r.status.as_str()>
                                        <td>{r.created_at.clone()}</td>
                                        <td>{r.status.as_str()}</td>
                                        <td>{format!("{} objects, {}", r.objects_copied, human_bytes(r.bytes_copied))}</td>
                                        <td>{r.objects_skipped}</td>
                                        <td>{removed(&r)}</td>
                                        <td>{r.snapshots_verified}</td>
                                        <td>{r.error.clone().unwrap_or_default()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </Transition>
        </section>
    }
}

/// A `target_location_id` select of every location but the `source`.
#[component]
fn TargetSelect(label: &'static str, locations: Resource<Result<Vec<LocationRow>, AppError>>, source: String) -> impl IntoView {
    view! {
        <select name="target_location_id" aria-label=label>
            <Suspense fallback=|| ()>
                {move || {
                    let source = source.clone();
                    Suspend::new(async move {
                        locations.await.unwrap_or_default().into_iter().filter(|l| l.id != source)
                            .map(|l| view! { <option value=l.id>{l.name}</option> }).collect_view()
                    })
                }}
            </Suspense>
        </select>
    }
}

/// What a run removed from the target, and what the target's Object Lock kept.
fn removed(r: &ReplicationLine) -> String {
    let mut text = format!("{} objects, {}", r.objects_deleted, human_bytes(r.bytes_deleted));
    if r.objects_locked > 0 {
        text.push_str(&format!("; {} kept by Object Lock", r.objects_locked));
    }
    text
}
