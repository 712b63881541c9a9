//! Run requests: on the Disaster Recovery page, asking an approver ahead to approve a run of a
//! plan, and starting the run once they have; on the Approvals page, the requests waiting for
//! the signed-in approver's decision.

use leptos::prelude::*;

use crate::api::recovery::{DecideRunRequest, RequestRun, RunRequest, RunRequestStatus, StartRequestedRun, list_plans, list_run_requests};
use crate::api::session::{Role, whoami};
use crate::components::{ErrorPanel, action_outcome, form_error};

/// Ask for a run of an approved plan, and the requests with their state; the requester starts
/// the run of an approved one.
#[component]
pub fn RunRequestsPanel() -> impl IntoView {
    let ask = ServerAction::<RequestRun>::new();
    let start = ServerAction::<StartRequestedRun>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(run)) = start.value().get() {
            navigate(&format!("/disaster-recovery/runs/{run}"), Default::default());
        }
    });
    let plans = Resource::new(|| (), |_| list_plans());
    let requests = Resource::new(move || ask.version().get(), |_| list_run_requests());
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <section class="panel" data-testid="run-requests">
            <h2>"Run requests"</h2>
            <p class="hint">"Ask ahead: an approver other than you approves the run of a plan's approved version, and you start it within 8 hours. Automation passes the approved request's id as the procedure door's approvalCode."</p>
            <ActionForm action=ask attr:class="row-form">
                <label>"Plan"
                    <select name="plan_id" required>
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                plans.await.unwrap_or_default().into_iter().filter(|p| p.approved_version.is_some())
                                    .map(|p| view! { <option value=p.id>{p.plan_name}</option> }).collect_view()
                            })}
                        </Suspense>
                    </select>
                </label>
                <label>"Reason" <input type="text" name="reason" required maxlength="2000"/></label>
                <label>"Incident reference" <input type="text" name="incident_reference" maxlength="200"/></label>
                <button type="submit">"Ask an approver"</button>
            </ActionForm>
            {action_outcome(ask.value(), "run-request-outcome")}
            {form_error(start.value())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let me = me.await.map(|m| m.username).unwrap_or_default();
                    match requests.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No run has been asked for."</p> }.into_any(),
                        Ok(list) => view! { <RequestsTable list me start/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RequestsTable(list: Vec<RunRequest>, me: String, start: ServerAction<StartRequestedRun>) -> impl IntoView {
    view! {
        <table class="data">
            <thead><tr><th>"Asked"</th><th>"By"</th><th>"Plan"</th><th>"Why"</th><th>"State"</th><th>"Decided by"</th><th>"Until"</th><th></th></tr></thead>
            <tbody>{list.into_iter().map(|r| {
                let id = r.id.clone();
                let action = match (r.status, &r.execution_id) {
                    (RunRequestStatus::Approved, _) if r.requested_by == me => view! {
                        <ActionForm action=start>
                            <input type="hidden" name="id" value=id/>
                            <button type="submit" class="danger">"Start the run"</button>
                        </ActionForm>
                    }.into_any(),
                    (_, Some(run)) => view! { <a href=format!("/disaster-recovery/runs/{run}")>"the run"</a> }.into_any(),
                    _ => ().into_any(),
                };
                let decided = r.decided_by.clone().map(|by| match &r.decision_comment {
                    Some(c) => format!("{by}: {c}"),
                    None => by,
                });
                view! {
                    <tr data-request=r.id.clone() data-status=r.status.as_str()>
                        <td>{r.created_at.clone()}</td>
                        <td>{r.requested_by.clone()}</td>
                        <td><a href=format!("/disaster-recovery/plans/{}", r.plan_id)>{format!("{} v{}", r.plan_name, r.plan_version)}</a></td>
                        <td>{r.reason.clone()}{r.incident_reference.clone().map(|i| format!(" · {i}"))}</td>
                        <td>{r.status.as_str()}</td>
                        <td>{decided}</td>
                        <td>{r.expires_at.clone()}</td>
                        <td>{action}</td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
    }
}

/// The run requests waiting for the signed-in approver's decision, each with Approve and
/// Reject: never their own, and none for those who cannot approve.
#[component]
pub fn PendingRunRequests() -> impl IntoView {
    let decide = ServerAction::<DecideRunRequest>::new();
    let requests = Resource::new(move || decide.version().get(), |_| list_run_requests());
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <section class="panel" data-testid="pending-run-requests">
            <h2>"Recovery runs"</h2>
            {action_outcome(decide.value(), "run-request-decision")}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let me = me.await.ok();
                    let not_mine_to_decide = move |r: &RunRequest| me.as_ref().is_none_or(|m| m.role < Role::Approver || m.username == r.requested_by);
                    match requests.await.map(|l| l.into_iter().filter(|r| r.status == RunRequestStatus::Pending && !not_mine_to_decide(r)).collect::<Vec<_>>()) {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No recovery run waits for your approval. Operators ask for one on the " <a href="/disaster-recovery">"Disaster Recovery"</a> " page; approvers other than the requester decide here."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="restorations">{list.into_iter().map(|r| {
                                let (approve_id, reject_id) = (r.id.clone(), r.id.clone());
                                view! {
                                <li data-request=r.id.clone()>
                                    <p>
                                        <strong>{r.requested_by.clone()}</strong> " asks to run "
                                        <a href=format!("/disaster-recovery/plans/{}", r.plan_id)>{format!("{} v{}", r.plan_name, r.plan_version)}</a>
                                        {format!(": {}{}. Decide before {}.", r.reason, r.incident_reference.clone().map(|i| format!(" ({i})")).unwrap_or_default(), r.expires_at)}
                                    </p>
                                    <ActionForm action=decide attr:class="row-form">
                                        <input type="hidden" name="id" value=approve_id/>
                                        <input type="hidden" name="approve" value="true"/>
                                        <label>"Comment" <input type="text" name="comment" maxlength="2000"/></label>
                                        <button type="submit">"Approve run"</button>
                                    </ActionForm>
                                    <ActionForm action=decide attr:class="row-form">
                                        <input type="hidden" name="id" value=reject_id/>
                                        <input type="hidden" name="approve" value="false"/>
                                        <label>"Why not" <input type="text" name="comment" required maxlength="2000"/></label>
                                        <button type="submit" class="danger">"Reject run"</button>
                                    </ActionForm>
                                </li>
                                }
                            }).collect_view()}</ul>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
