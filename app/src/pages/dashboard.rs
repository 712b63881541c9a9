use leptos::prelude::*;

use crate::api::alerts::AcknowledgeAlert;
use crate::api::configurations::{RunConfiguration, list_configurations};
use crate::api::overview::{backup_dashboard, dashboard_charts, load_overview};
use crate::components::{ErrorPanel, PageHeader, follow_events, form_error};
use crate::pages::restoration::ActivePanel;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let refreshes = RwSignal::new(0_u32);
    // Live: the server says when backups or alerts change, and the figures are read again.
    let changes = RwSignal::new(0_u32);
    follow_events(|| "/api/admin/backups/dashboard/events".to_string(), "dashboard", |_: &serde_json::Value| false, move |_| changes.update(|n| *n += 1));
    let data = Resource::new(move || (refreshes.get(), changes.get()), |_| load_overview());
    let acknowledge = ServerAction::<AcknowledgeAlert>::new();
    let run = ServerAction::<RunConfiguration>::new();
    let board = Resource::new(move || (refreshes.get(), changes.get(), acknowledge.version().get()), |_| backup_dashboard());
    let charts = Resource::new(move || (refreshes.get(), changes.get()), |_| dashboard_charts());
    let configurations = Resource::new(move || (refreshes.get(), changes.get(), run.version().get()), |_| list_configurations());
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
        <HealthPanels board acknowledge/>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match charts.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(c) => view! {
                        <div class="two-columns" data-testid="dashboard-charts">
                            <section class="panel">
                                <h2>"Backups per day"</h2>
                                <div class="chart" role="img" aria-label="Backups per day, last 7 days" data-testid="daily-backups-chart" data-chart=c.daily_backups></div>
                            </section>
                            <section class="panel">
                                <h2>"Storage growth"</h2>
                                <div class="chart" role="img" aria-label="Bytes written to repositories, last 7 days" data-testid="storage-growth-chart" data-chart=c.storage_growth></div>
                            </section>
                            <section class="panel">
                                <h2>"Failures by type"</h2>
                                <div class="chart" role="img" aria-label="Failed backups by source type, last 7 days" data-testid="failures-chart" data-chart=c.failures_by_type></div>
                            </section>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
        <section class="panel" data-testid="dashboard-configurations">
            <h2>"Configurations"</h2>
            {form_error(run.value())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match configurations.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No configurations yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data">
                                <thead><tr><th>"Configuration"</th><th>"Latest"</th><th>"Next"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|c| {
                                    let id = c.id.clone();
                                    view! {
                                        <tr data-configuration=c.name.clone()>
                                            <td><a href=format!("/configurations/{}", c.id)>{c.name.clone()}</a></td>
                                            <td>{c.status.map(|s| s.as_str()).unwrap_or("never run")}</td>
                                            <td>{c.next_execution.clone().unwrap_or_else(|| "by hand".into())}</td>
                                            <td>
                                                <ActionForm action=run attr:class="row-form">
                                                    <input type="hidden" name="id" value=id/>
                                                    <button type="submit">"Run now"</button>
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

/// System health (bars), each configuration against its RPO and RTO, the alerts not resolved
/// (acknowledged in place) and the newest backups.
#[component]
fn HealthPanels(board: Resource<Result<crate::api::overview::Dashboard, crate::api::AppError>>, acknowledge: ServerAction<AcknowledgeAlert>) -> impl IntoView {
    view! {
        {form_error(acknowledge.value())}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match board.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(d) => {
                        let h = d.system_health.clone();
                        let bar = |label: &'static str, value: f64, testid: &'static str| view! {
                            <div class="meter">
                                <span class="meter-label">{label}</span>
                                <strong data-testid=testid>{format!("{value:.1}%")}</strong>
                                <progress max="100" value=value.to_string() aria-label=label></progress>
                            </div>
                        };
                        view! {
                            <section class="panel" data-testid="system-health">
                                <h2>"System health"</h2>
                                <p>{format!("{} active configurations; {} backups queued or running; {} failed in the last 24 hours; {} stored, {:.2} a month.",
                                    d.overview.total_configurations, d.overview.active_backups, d.overview.failed_backups, d.overview.total_storage, d.overview.monthly_cost)}</p>
                                <div class="meters">
                                    {bar("RTO compliance", h.rto_compliance, "rto-compliance")}
                                    {bar("RPO compliance", h.rpo_compliance, "rpo-compliance")}
                                    {bar("Success rate (24 h)", h.success_rate, "success-rate")}
                                </div>
                                {(!d.compliance.is_empty()).then(|| view! {
                                    <table class="data" data-testid="compliance">
                                        <thead><tr><th>"Configuration"</th><th>"RPO"</th><th>"Newest restorable point"</th><th>"RTO"</th><th>"Latest measured restore"</th></tr></thead>
                                        <tbody>{d.compliance.iter().map(|c| {
                                            let rpo = match (c.rpo_minutes, c.rpo_met) {
                                                (Some(m), Some(true)) => format!("{m} min: met"),
                                                (Some(m), Some(false)) => format!("{m} min: BREACHED"),
                                                (Some(m), None) => format!("{m} min: unknown"),
                                                (None, _) => "none set".to_string(),
                                            };
                                            let point = match &c.newest_point_at {
                                                Some(at) => format!("{} ({:.0} min ago)", at, c.rpo_age_minutes.unwrap_or_default()),
                                                None => "never".to_string(),
                                            };
                                            let rto = match (c.rto_minutes, c.rto_met) {
                                                (Some(m), Some(true)) => format!("{m} min: met"),
                                                (Some(m), Some(false)) => format!("{m} min: BREACHED"),
                                                (Some(m), None) => format!("{m} min: not measured"),
                                                (None, _) => "none set".to_string(),
                                            };
                                            let measured = c.measured_restore_seconds.map(|s| format!("{:.1} min", s / 60.0)).unwrap_or_else(|| "none".into());
                                            view! {
                                                <tr data-configuration=c.name.clone() data-rpo-met=c.rpo_met.map(|m| m.to_string()).unwrap_or_default()>
                                                    <td><a href=format!("/configurations/{}", c.configuration_id)>{c.name.clone()}</a></td>
                                                    <td>{rpo}</td><td>{point}</td><td>{rto}</td><td>{measured}</td>
                                                </tr>
                                            }
                                        }).collect_view()}</tbody>
                                    </table>
                                })}
                            </section>
                            <section class="panel" data-testid="dashboard-alerts">
                                <h2>"Active alerts"</h2>
                                {if d.active_alerts.is_empty() {
                                    view! { <p>"No alert is open."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="alerts">{d.active_alerts.iter().map(|a| {
                                            let id = a.id.clone();
                                            let open = a.status.as_str() == "open";
                                            view! {
                                                <li data-alert=a.id.clone() data-status=a.status.as_str()>
                                                    <span class=format!("severity {}", a.severity.as_str())>{a.severity.as_str()}</span> " "
                                                    <strong>{a.alert_type.as_str()}</strong> " " {a.message.clone()} " "
                                                    <a href=format!("/alerts/{}", a.id)>"history"</a>
                                                    {if open {
                                                        view! {
                                                            <ActionForm action=acknowledge attr:class="row-form">
                                                                <input type="hidden" name="id" value=id/>
                                                                <button type="submit">"Acknowledge"</button>
                                                            </ActionForm>
                                                        }.into_any()
                                                    } else {
                                                        view! { <span>" acknowledged by " {a.acknowledged_by.clone().unwrap_or_default()}</span> }.into_any()
                                                    }}
                                                </li>
                                            }
                                        }).collect_view()}</ul>
                                    }.into_any()
                                }}
                            </section>
                            <section class="panel" data-testid="recent-executions">
                                <h2>"Recent backups"</h2>
                                {if d.recent_executions.is_empty() {
                                    view! { <p>"No backup has run yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="data">
                                            <thead><tr><th>"Configuration"</th><th>"Status"</th><th>"Verified"</th><th>"Size"</th><th>"When"</th></tr></thead>
                                            <tbody>{d.recent_executions.iter().map(|r| {
                                                let e = &r.execution;
                                                let verified = match e.verification_status.as_deref() {
                                                    Some("verified") => "✓ verified".to_string(),
                                                    Some(other) => other.to_string(),
                                                    None => "—".to_string(),
                                                };
                                                view! {
                                                    <tr data-status=e.status.as_str()>
                                                        <td><a href=format!("/executions/{}", e.id)>{r.configuration_name.clone()}</a></td>
                                                        <td>{e.status.as_str()}</td>
                                                        <td>{verified}</td>
                                                        <td>{e.size_bytes.map(|b| bulwark_types::human_bytes(b.max(0) as u64)).unwrap_or_default()}</td>
                                                        <td>{e.completed_at.clone().or(e.started_at.clone()).unwrap_or(e.created_at.clone())}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}</tbody>
                                        </table>
                                    }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
