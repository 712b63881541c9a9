use leptos::prelude::*;

use crate::api::overview::load_overview;
use crate::components::{ErrorPanel, PageHeader};
use crate::pages::restoration::ActivePanel;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let refreshes = RwSignal::new(0_u32);
    let data = Resource::new(move || refreshes.get(), |_| load_overview());
    view! {
        <PageHeader title="Dashboard" lead="What is protected, what ran, and what needs attention."/>
        <div class="toolbar">
            <button type="button" on:click=move |_| refreshes.update(|n| *n += 1)>"Refresh"</button>
        </div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(o) => view! {
                        <p class="as-of" data-testid="as-of">"Figures as of " {o.as_of.clone()}</p>
                        <div class="cards">
                            <Card label="Backup configurations" value=o.configurations href="/configurations"/>
                            <Card label="Storage locations" value=o.storage_locations href="/storage"/>
                            <Card label="Backup executions" value=o.executions href="/configurations"/>
                            <Card label="Restorations" value=o.restorations href="/restoration"/>
                            <Card label="Pending approvals" value=o.approvals_pending href="/approvals"/>
                            <Card label="Open alerts" value=o.alerts_open href="/alerts"/>
                            <Card label="DR procedures" value=o.procedures href="/disaster-recovery"/>
                            <Card label="Jobs queued / running" value=o.jobs_queued + o.jobs_running href="/"/>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
        // Outside the overview's Suspend: a resource created inside one is created again on
        // the client in another order than on the server, and hydration then reads another
        // resource's value (a mismatch that stopped the page).
        <ActivePanel title="Restorations under way"/>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let empty = data.await.is_ok_and(|o| o.configurations == 0);
                empty.then(|| view! {
                    <section class="getting-started">
                        <h2>"Getting started"</h2>
                        <ol>
                            <li>"Add a storage location (a local directory or an S3 bucket) under " <a href="/storage">"Storage Locations"</a>"."</li>
                            <li>"Create a backup configuration for a database, a bucket or configuration files under " <a href="/configurations">"Configurations"</a>"."</li>
                            <li>"Invite the people who approve production restores under " <a href="/users">"Users"</a>"."</li>
                        </ol>
                    </section>
                })
            })}
        </Transition>
    }
}

#[component]
fn Card(label: &'static str, value: i64, href: &'static str) -> impl IntoView {
    view! {
        <a class="card" href=href>
            <span class="card-value">{value}</span>
            <span class="card-label">{label}</span>
        </a>
    }
}
