//! Disaster Recovery: the overall status (healthy, degraded or critical, and why), the
//! monitored services, the runs under way step by step, recent failovers, each configuration's
//! newest restorable point against its RPO, the plans with their Execute and drill buttons, the
//! runs asked for ahead (`recovery_requests`), and the ledger of measured RTO and RPO against the objectives, with its chart.

use leptos::prelude::*;

use super::recovery_requests::RunRequestsPanel;
use super::recovery_run::StepBadge;
use crate::api::recovery::{
    Compliance, DrStatus, ExecutePlan, ExecutionMode, FailoverEvent, Ledger, LedgerEntry, PlanSummary, RecoveryRun, ServiceState, human_seconds, list_plans, load_dr_status, recovery_ledger,
};
use crate::components::{EmptyState, ErrorPanel, PageHeader, form_error};

#[component]
pub fn DisasterRecoveryPage() -> impl IntoView {
    let execute = ServerAction::<ExecutePlan>::new();
    follow_started(execute);
    let refreshes = RwSignal::new(0_u32);
    let status = Resource::new(move || refreshes.get(), |_| load_dr_status());
    let plans = Resource::new(move || refreshes.get(), |_| list_plans());
    view! {
        <PageHeader title="Disaster Recovery" lead="Runbooks of ordered steps, failovers, drills, and the RTO and RPO they actually achieved."/>
        <div class="toolbar">
            <button type="button" on:click=move |_| refreshes.update(|n| *n += 1)>"Refresh"</button>
            <a href="/disaster-recovery/plans/new">"New plan"</a>
        </div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(s) => view! { <StatusPanels s/> }.into_any(),
                }
            })}
        </Transition>
        <section class="panel" data-testid="recovery-plans">
            <h2>"Plans"</h2>
            {form_error(execute.value())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match plans.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <EmptyState title="No recovery plans yet">
                                <p>"A plan is a runbook: ordered steps (restore a backup, start a service, switch DNS or a load balancer, fail a database over, validate, notify, clean up) with retries, critical steps and rollback. Someone other than its author approves each version; drills run it against scratch targets."</p>
                                <p><a href="/disaster-recovery/plans/new">"Write the first plan"</a>". Plans restore from backups, so begin with a " <a href="/configurations">"backup configuration"</a> "."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(list) => view! { <PlansTable list execute/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <RunRequestsPanel/>
        <LedgerPanel title="RTO and RPO ledger" plan=Signal::derive(|| None::<String>) finished_only=true/>
    }
}

/// Once a run has started, its page follows it.
pub fn follow_started(execute: ServerAction<ExecutePlan>) {
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(started)) = execute.value().get() {
            navigate(&format!("/disaster-recovery/runs/{}", started.execution_id), Default::default());
        }
    });
}

/// What each mode means, for the Execute form's choice.
fn mode_label(mode: ExecutionMode) -> &'static str {
    match mode {
        ExecutionMode::Manual => "manual",
        ExecutionMode::SemiAutomated => "semi-automated: confirm before every step",
        ExecutionMode::FullyAutomated => "fully automated",
        ExecutionMode::Test => "test: a drill on the plan's scratch targets",
    }
}

/// Starts a run of a plan in the mode chosen, or a drill at once.
#[component]
pub fn ExecuteForm(plan_id: String, execute: ServerAction<ExecutePlan>) -> impl IntoView {
    let drill_id = plan_id.clone();
    view! {
        <ActionForm action=execute attr:class="row-form execute-form">
            <input type="hidden" name="plan_id" value=plan_id/>
            <label>"Mode"
                <select name="mode">
                    {ExecutionMode::ALL.iter().map(|m| view! { <option value=m.as_str() selected=*m == ExecutionMode::Manual>{mode_label(*m)}</option> }).collect_view()}
                </select>
            </label>
            <label>"Incident reference" <input type="text" name="incident_reference" maxlength="200"/></label>
            <label>"Reason" <input type="text" name="reason" maxlength="2000"/></label>
            <button type="submit" class="danger">"Execute"</button>
        </ActionForm>
        <ActionForm action=execute attr:class="row-form">
            <input type="hidden" name="plan_id" value=drill_id/>
            <input type="hidden" name="mode" value="test"/>
            <input type="hidden" name="incident_reference" value=""/>
            <input type="hidden" name="reason" value="drill"/>
            <button type="submit">"Run drill"</button>
        </ActionForm>
    }
}

#[component]
fn StatusPanels(s: DrStatus) -> impl IntoView {
    let DrStatus { status, reasons, active_executions, system_health, recent_failovers, backup_status, .. } = s;
    let mark = match status.as_str() {
        "healthy" => "healthy",
        "degraded" => "degraded",
        _ => "critical",
    };
    view! {
        <section class="panel" data-testid="dr-status" data-state=status.clone()>
            <h2>"Overall status"</h2>
            <p><span class=format!("health {mark}") data-testid="dr-status-word">{status.clone()}</span></p>
            {if reasons.is_empty() {
                view! { <p>"Every monitored service is healthy, every configuration is within its RPO, no run is under way and none failed in the last day."</p> }.into_any()
            } else {
                view! { <ul data-testid="dr-reasons">{reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul> }.into_any()
            }}
        </section>
        <section class="panel" data-testid="active-runs">
            <h2>"Runs under way"</h2>
            {if active_executions.is_empty() {
                view! { <p>"No recovery run is under way."</p> }.into_any()
            } else {
                view! { <ul class="restorations">{active_executions.into_iter().map(|r| view! { <ActiveRun r/> }).collect_view()}</ul> }.into_any()
            }}
        </section>
        <div class="two-columns">
            <section class="panel" data-testid="dr-services">
                <h2>"Services"</h2>
                <ServicesTable list=system_health/>
            </section>
            <section class="panel" data-testid="dr-backups">
                <h2>"Backups against their RPO"</h2>
                <BackupsTable list=backup_status/>
            </section>
        </div>
        <section class="panel" data-testid="failovers">
            <h2>"Failovers in the last week"</h2>
            <FailoversTable list=recent_failovers/>
        </section>
    }
}

/// A run under way: its link, state, and each step's state.
#[component]
fn ActiveRun(r: RecoveryRun) -> impl IntoView {
    view! {
        <li data-run=r.id.clone()>
            <a href=format!("/disaster-recovery/runs/{}", r.id)>{r.execution_name.clone()}</a>
            " · " <strong>{r.status.as_str()}</strong> " · " {r.execution_mode.as_str()}
            {format!(" · {} of {} steps completed", r.recovery_steps_completed, r.recovery_steps_total)}
            <ol class="step-states">
                {r.steps.iter().map(|s| view! { <li><StepBadge status=s.status/>" " {s.step_name.clone()}</li> }).collect_view()}
            </ol>
        </li>
    }
}

#[component]
fn ServicesTable(list: Vec<ServiceState>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p>"No service is monitored yet: add the services a recovery depends on under " <a href="/monitoring">"Monitoring"</a> "."</p> }.into_any();
    }
    view! {
        <table class="data">
            <thead><tr><th>"Service"</th><th>"Health"</th><th>"Last sample"</th></tr></thead>
            <tbody>{list.into_iter().map(|s| view! {
                <tr data-service=s.service_name.clone()>
                    <td>{s.service_name.clone()}</td>
                    <td><span class=format!("health {}", s.health_status)>{s.health_status.clone()}</span></td>
                    <td>{s.monitoring_timestamp.clone()}</td>
                </tr>
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn BackupsTable(list: Vec<Compliance>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p>"No backup configuration yet: add one under " <a href="/configurations">"Configurations"</a> "."</p> }.into_any();
    }
    view! {
        <table class="data">
            <thead><tr><th>"Configuration"</th><th>"Newest restorable point"</th><th>"Age"</th><th>"RPO"</th><th>"Within it"</th></tr></thead>
            <tbody>{list.into_iter().map(|c| {
                let point = match &c.newest_point_at {
                    Some(at) => format!("{at} ({})", c.newest_point),
                    None => "none".to_string(),
                };
                let age = c.rpo_age_minutes.map_or_else(|| "—".to_string(), |m| human_seconds(m * 60.0));
                let rpo = c.rpo_minutes.map_or_else(|| "none".to_string(), |m| format!("{m} min"));
                let (met, class) = match c.rpo_met {
                    Some(true) => ("yes", ""),
                    Some(false) => ("no: past its RPO", "danger-text"),
                    None => ("no RPO set", "muted"),
                };
                view! {
                    <tr data-configuration=c.name.clone()>
                        <td><a href=format!("/configurations/{}", c.configuration_id)>{c.name.clone()}</a></td>
                        <td>{point}</td>
                        <td>{age}</td>
                        <td>{rpo}</td>
                        <td class=class>{met}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn FailoversTable(list: Vec<FailoverEvent>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p>"No failover in the last week."</p> }.into_any();
    }
    view! {
        <table class="data">
            <thead><tr><th>"Failover"</th><th>"From → to"</th><th>"Why"</th><th>"How"</th><th>"Started"</th><th>"Took"</th><th>"Status"</th><th>"Run"</th></tr></thead>
            <tbody>{list.into_iter().map(|f| {
                let run = f.execution_id.clone().map(|id| view! { <a href=format!("/disaster-recovery/runs/{id}")>"the run"</a> });
                let done: Vec<&str> = [(f.dns_updated, "DNS updated"), (f.traffic_redirected, "traffic redirected"), (f.data_consistency_check, "data checked"), (f.notification_sent, "people told")]
                    .into_iter()
                    .filter_map(|(yes, what)| yes.then_some(what))
                    .collect();
                let how = format!("{}{}", if f.automated { "automated" } else { "by a person" }, if done.is_empty() { String::new() } else { format!("; {}", done.join(", ")) });
                view! {
                    <tr data-failover=f.id.clone()>
                        <td>{f.event_name.clone()}</td>
                        <td>{format!("{} → {}", f.source_system, f.target_system)}</td>
                        <td>{f.failover_reason.clone()}</td>
                        <td>{how}</td>
                        <td>{f.initiated_at.clone()}</td>
                        <td>{f.duration_ms.map_or_else(|| "—".to_string(), |ms| human_seconds(ms as f64 / 1000.0))}</td>
                        <td>{f.status.clone()}</td>
                        <td>{run}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn PlansTable(list: Vec<PlanSummary>, execute: ServerAction<ExecutePlan>) -> impl IntoView {
    view! {
        <table class="data" data-testid="plans">
            <thead><tr><th>"Plan"</th><th>"Scenario"</th><th>"Severity"</th><th>"Approval"</th><th>"Version"</th><th>"Estimated RTO / RPO"</th><th>"Last tested"</th><th>"Run it"</th></tr></thead>
            <tbody>{list.into_iter().map(|p| {
                let approval = match p.approved_version {
                    Some(v) if v == p.current_version => p.approval_status.as_str().to_string(),
                    Some(v) => format!("{} (version {v} approved)", p.approval_status),
                    None => format!("{} (none approved: only a drill can run)", p.approval_status),
                };
                view! {
                    <tr data-plan=p.plan_name.clone() data-approval=p.approval_status.as_str()>
                        <td><a href=format!("/disaster-recovery/plans/{}", p.id)>{p.plan_name.clone()}</a></td>
                        <td>{format!("{} · {}", p.disaster_scenario, p.disaster_type)}</td>
                        <td>{p.severity_level.to_string()}</td>
                        <td>{approval}</td>
                        <td>{format!("v{}", p.current_version)}</td>
                        <td>{format!("{} min / {} min", p.estimated_rto, p.estimated_rpo)}</td>
                        <td>{p.last_tested.clone().unwrap_or_else(|| "never".into())}</td>
                        <td><ExecuteForm plan_id=p.id.clone() execute/></td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
}

/// The ledger: runs (of one plan, or all) with measured RTO and RPO beside the objectives of
/// the version each ran, recoveries and drills apart, and the chart of measured RTO against
/// the objective. Its resource lives here: put the panel outside any `Suspend`.
#[component]
pub fn LedgerPanel(title: &'static str, plan: Signal<Option<String>>, finished_only: bool) -> impl IntoView {
    let ledger = Resource::new(move || plan.get(), move |plan| recovery_ledger(plan, finished_only));
    view! {
        <section class="panel" data-testid="rto-ledger">
            <h2>{title}</h2>
            <p class="hint">"Measured RTO runs from the incident's start to the last validation that passed; measured RPO is the data the recovery could not bring back. Objectives are those of the plan version each run executed."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match ledger.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(l) if l.entries.is_empty() => view! {
                            <EmptyState title="No runs measured yet">
                                <p>"Every finished run, recovery or drill, is measured here against its plan's objectives. Run a drill of a plan to measure it without touching production."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(l) => {
                            let Ledger { entries, rto_chart, charted } = l;
                            let (drills, recoveries): (Vec<LedgerEntry>, Vec<LedgerEntry>) = entries.into_iter().partition(LedgerEntry::is_drill);
                            view! {
                                {(charted > 0).then(|| view! {
                                    <div class="chart" role="img" aria-label="Measured RTO of each run against its objective, in minutes" data-testid="rto-chart" data-chart=rto_chart></div>
                                })}
                                <h3>"Recoveries"</h3>
                                <LedgerTable entries=recoveries empty="No recovery has run outside drills."/>
                                <h3>"Drills"</h3>
                                <LedgerTable entries=drills empty="No drill has run."/>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// Measured against the objective: the figure, and whether it met it.
fn against(measured: Option<f64>, met: Option<bool>) -> (String, &'static str) {
    let figure = measured.map_or_else(|| "not measured".to_string(), human_seconds);
    match met {
        Some(true) => (format!("{figure} (met)"), ""),
        Some(false) => (format!("{figure} (missed)"), "danger-text"),
        None => (figure, ""),
    }
}

#[component]
fn LedgerTable(entries: Vec<LedgerEntry>, empty: &'static str) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p>{empty}</p> }.into_any();
    }
    view! {
        <table class="data ledger">
            <thead><tr><th>"Run"</th><th>"Plan"</th><th>"Status"</th><th>"Finished"</th><th>"Measured RTO"</th><th>"RTO objective"</th><th>"Measured RPO"</th><th>"RPO objective"</th></tr></thead>
            <tbody>{entries.into_iter().map(|e| {
                let (rto, rto_class) = against(e.actual_rto_seconds, e.rto_met());
                let (rpo, rpo_class) = against(e.actual_rpo_seconds, e.rpo_met());
                let minutes = |m: Option<i64>| m.map_or_else(|| "unknown".to_string(), |m| format!("{m} min"));
                view! {
                    <tr data-run=e.run_id.clone() data-mode=e.execution_mode.as_str()>
                        <td><a href=format!("/disaster-recovery/runs/{}", e.run_id)>{e.initiated_at.clone()}</a>{e.incident_reference.clone().map(|r| format!(" · {r}"))}</td>
                        <td><a href=format!("/disaster-recovery/plans/{}", e.plan_id)>{format!("{} v{}", e.plan_name, e.plan_version)}</a></td>
                        <td>{format!("{} ({})", e.status, e.execution_mode)}</td>
                        <td>{e.completed_at.clone().unwrap_or_else(|| "—".into())}</td>
                        <td class=rto_class data-testid="measured-rto">{rto}</td>
                        <td>{minutes(e.objective_rto_minutes)}</td>
                        <td class=rpo_class data-testid="measured-rpo">{rpo}</td>
                        <td>{minutes(e.objective_rpo_minutes)}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}
