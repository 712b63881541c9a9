//! Replication, on a location's page: copy its repository to another location (a second
//! region, an archive tier), and the copies made so far.

use leptos::prelude::*;

use crate::components::action_outcome;
use crate::dto::{ReplicationLine, human_bytes};
use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_replications")]
pub async fn list_replications(id: String) -> Result<Vec<ReplicationLine>, AppError> {
    let p = crate::ssr::principal().await?;
    let runs = bulwark_core::replicate::list(&crate::ssr::catalog()?, &p, &id).await.map_err(AppError::from_core)?;
    Ok(runs
        .into_iter()
        .map(|r| ReplicationLine {
            id: r.id,
            source_location_id: r.source_location_id,
            target_location_id: r.target_location_id,
            status: r.status,
            objects_copied: r.objects_copied,
            bytes_copied: r.bytes_copied.max(0) as u64,
            objects_skipped: r.objects_skipped,
            snapshots_verified: r.snapshots_verified,
            error: r.error,
            created_at: r.created_at,
        })
        .collect())
}

#[server(prefix = "/_sfn", endpoint = "replicate_location")]
pub async fn replicate_location(id: String, target_location_id: String) -> Result<String, AppError> {
    use bulwark_core::replicate::{self, NewReplication};
    let p = crate::ssr::principal().await?;
    replicate::schedule(&crate::ssr::catalog()?, &p, &id, NewReplication { target_location_id }).await.map_err(AppError::from_core)?;
    Ok("Copy queued: only what the target lacks is copied, then checked and read back.".into())
}

#[component]
pub fn ReplicationPanel(id: String) -> impl IntoView {
    let start = ServerAction::<ReplicateLocation>::new();
    let refresh = RwSignal::new(0u32);
    let key = id.clone();
    let runs = Resource::new(move || (key.clone(), start.version().get(), refresh.get()), |(id, ..)| list_replications(id));
    let locations = Resource::new(|| (), |_| super::storage::list_locations());
    let this = id.clone();
    view! {
        <section class="panel" data-testid="replication">
            <h2>"Replication"</h2>
            <p class="hint">"The target becomes a replica of this repository (same id, same keys): it restores on its own with this location's recovery kit."</p>
            <ActionForm action=start attr:class="grid-form">
                <input type="hidden" name="id" value=id/>
                <label>"Copy to"
                    <select name="target_location_id" aria-label="Replication target">
                        <Suspense fallback=|| ()>
                            {move || {
                                let this = this.clone();
                                Suspend::new(async move {
                                    locations.await.unwrap_or_default().into_iter().filter(|l| l.id != this)
                                        .map(|l| view! { <option value=l.id>{l.name}</option> }).collect_view()
                                })
                            }}
                        </Suspense>
                    </select>
                </label>
                <button type="submit">"Replicate now"</button>
            </ActionForm>
            {action_outcome(start.value(), "replication-report")}
            <button type="button" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh copies"</button>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    runs.await.map(|list| view! {
                        <table class="data" data-testid="replications">
                            <thead><tr><th>"Queued"</th><th>"Status"</th><th>"Copied"</th><th>"Already there"</th><th>"Snapshots read back"</th><th>"Error"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|r| view! {
                                    <tr data-status=r.status.clone()>
                                        <td>{r.created_at.clone()}</td>
                                        <td>{r.status.clone()}</td>
                                        <td>{format!("{} objects, {}", r.objects_copied, human_bytes(r.bytes_copied))}</td>
                                        <td>{r.objects_skipped}</td>
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
