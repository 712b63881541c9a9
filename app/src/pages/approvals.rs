//! Approvals: the restorations waiting for a second person, with what an approver needs to
//! decide, each opening on its own page to approve or reject; and the recovery runs asked for
//! ahead, approved or rejected here.

use leptos::prelude::*;

use crate::api::restoration::{RestorationStatus, active_restorations};
use super::recovery_requests::PendingRunRequests;
use crate::components::{EmptyState, ErrorPanel, PageHeader};

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let active = Resource::new(|| (), |_| active_restorations());
    view! {
        <PageHeader title="Approvals" lead="Restores waiting for a second person (into production, and full restores into disaster recovery, by default), and recovery runs asked for ahead."/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match active.await.map(|list| list.into_iter().filter(|r| r.status == RestorationStatus::ApprovalRequired).collect::<Vec<_>>()) {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="Nothing is waiting for approval">
                            <p>"Restores that need an approver appear here for users with the approver or admin role; nobody approves their own request. Admins give people the approver role under " <a href="/users">"Users"</a> "."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="data" data-testid="pending-approvals">
                            <thead><tr><th>"Requested"</th><th>"By"</th><th>"Backup of"</th><th>"Type"</th><th>"Into"</th><th>"Incident"</th><th>"Approvals"</th><th>"Expires"</th><th></th></tr></thead>
                            <tbody>{list.into_iter().map(|r| {
                                let given = r.approvals.iter().filter(|a| a.decision == "approved").count();
                                view! {
                                    <tr data-restoration=r.id.clone()>
                                        <td>{r.created_at.clone()}</td>
                                        <td>{r.initiated_by.clone()}</td>
                                        <td><a href=format!("/executions/{}", r.backup_execution_id)>{r.configuration_name.clone()}</a></td>
                                        <td>{r.restoration_type.as_str()}</td>
                                        <td>{format!("{} ({})", r.target_identifier, r.target_environment)}</td>
                                        <td>{r.incident_reference.clone().unwrap_or_default()}</td>
                                        <td>{format!("{given} of {}{}", r.approvals_needed, if r.require_totp { " · TOTP" } else { "" })}</td>
                                        <td>{r.approval_expires_at.clone().unwrap_or_default()}</td>
                                        <td><a href=format!("/restoration/{}", r.id)>"Review"</a></td>
                                    </tr>
                                }
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
        <PendingRunRequests/>
    }
}
