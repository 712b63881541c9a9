use leptos::prelude::*;

use crate::components::{ErrorPanel, PageHeader};
use crate::dto::Overview;
use crate::error::AppError;

/// The figures behind the dashboard and every section's empty state.
#[server(prefix = "/_sfn", endpoint = "overview")]
pub async fn load_overview() -> Result<Overview, AppError> {
    let principal = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let o = bulwark_core::overview::overview(&catalog, &principal).await.map_err(AppError::from_core)?;
    Ok(Overview {
        configurations: o.configurations,
        storage_locations: o.storage_locations,
        executions: o.executions,
        restorations: o.restorations,
        restore_targets: o.restore_targets,
        approvals_pending: o.approvals_pending,
        backup_tests: o.backup_tests,
        procedures: o.procedures,
        plans: o.plans,
        recovery_executions: o.recovery_executions,
        alerts_open: o.alerts_open,
        cost_rows: o.cost_rows,
        users: o.users,
        audit_rows: o.audit_rows,
        jobs_queued: o.jobs_queued,
        jobs_running: o.jobs_running,
        as_of: bulwark_core::platform::time::now_text(),
    })
}

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
                        {(o.configurations == 0).then(|| view! {
                            <section class="getting-started">
                                <h2>"Getting started"</h2>
                                <ol>
                                    <li>"Add a storage location (a local directory or an S3 bucket) under " <a href="/storage">"Storage Locations"</a>"."</li>
                                    <li>"Create a backup configuration for a database, a bucket or configuration files under " <a href="/configurations">"Configurations"</a>"."</li>
                                    <li>"Invite the people who approve production restores under " <a href="/users">"Users"</a>"."</li>
                                </ol>
                            </section>
                        })}
                    }.into_any(),
                }
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
