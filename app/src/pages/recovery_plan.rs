//! One recovery plan: its summary, versions (newest first) with their review, Submit /
//! Approve / Reject, the current version's steps in order, its document with an edit form,
//! the changes between two versions, its runs measured against its objectives, and Execute.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::disaster_recovery::{ExecuteForm, LedgerPanel, follow_started};
use super::recovery_plan_new::document_problems;
use crate::api::recovery::{ApprovalStatus, ApprovePlan, ExecutePlan, PlanDetail, PlanDiff, PlanVersion, RejectPlan, StepSpec, SubmitPlan, UpdatePlan, get_plan};
use crate::components::{ErrorPanel, PageHeader, action_outcome, form_error};

#[component]
pub fn RecoveryPlanPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let submit = ServerAction::<SubmitPlan>::new();
    let approve = ServerAction::<ApprovePlan>::new();
    let reject = ServerAction::<RejectPlan>::new();
    let update = ServerAction::<UpdatePlan>::new();
    let diff = ServerAction::<PlanDiff>::new();
    let execute = ServerAction::<ExecutePlan>::new();
    follow_started(execute);
    // Read again after a saved edit only: a refused one keeps the text being edited.
    let saved = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if let Some(Ok(_)) = update.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let plan = Resource::new(
        move || (id(), submit.version().get(), approve.version().get(), reject.version().get(), saved.get()),
        |(id, ..)| get_plan(id),
    );
    view! {
        <PageHeader title="Recovery plan"/>
        {action_outcome(submit.value(), "submit-outcome")}
        {action_outcome(approve.value(), "approve-outcome")}
        {action_outcome(reject.value(), "reject-outcome")}
        {form_error(execute.value())}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match plan.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(detail) => view! { <PlanView detail submit approve reject update diff execute/> }.into_any(),
                }
            })}
        </Transition>
        <LedgerPanel title="Runs of this plan" plan=Signal::derive(move || Some(id())) finished_only=false/>
    }
}

#[component]
fn PlanView(
    detail: PlanDetail,
    submit: ServerAction<SubmitPlan>,
    approve: ServerAction<ApprovePlan>,
    reject: ServerAction<RejectPlan>,
    update: ServerAction<UpdatePlan>,
    diff: ServerAction<PlanDiff>,
    execute: ServerAction<ExecutePlan>,
) -> impl IntoView {
    let PlanDetail { summary: s, versions } = detail;
    let Some(current) = versions.iter().find(|v| v.version == s.current_version).or_else(|| versions.first()).cloned() else {
        return view! { <p>"This plan has no versions."</p> }.into_any();
    };
    let plan = current.plan.clone();
    let version = current.version;
    let pending = matches!(current.approval_status, ApprovalStatus::Draft | ApprovalStatus::UnderReview);
    let draft = current.approval_status == ApprovalStatus::Draft;
    let runs = if s.is_active {
        format!("Runs execute version {}.", s.approved_version.unwrap_or_default())
    } else {
        "No approved version is within its review date: only a drill can run, and it waits for an approver before its first step.".to_string()
    };
    let review = s.next_review_date.clone().map(|d| format!("; review by {d}")).unwrap_or_default();
    let (submit_id, approve_id, reject_id, edit_id, diff_id, run_id) = (s.id.clone(), s.id.clone(), s.id.clone(), s.id.clone(), s.id.clone(), s.id.clone());
    let (from, to) = ((version - 1).max(1), version);
    view! {
        <section class="panel" data-testid="plan-summary" data-approval=s.approval_status.as_str()>
            <h2>{s.plan_name.clone()}</h2>
            {plan.description.clone().map(|d| view! { <p>{d}</p> })}
            <table class="data">
                <tbody>
                    <tr><th>"Scenario"</th><td>{format!("{} · {}", s.disaster_scenario, s.disaster_type)}</td></tr>
                    <tr><th>"Severity"</th><td>{format!("{} (1 is the worst)", s.severity_level)}</td></tr>
                    <tr><th>"Affected systems"</th><td>{if s.affected_systems.is_empty() { "—".to_string() } else { s.affected_systems.join(", ") }}</td></tr>
                    <tr><th>"Prerequisites"</th><td>{if plan.prerequisites.is_empty() { "—".to_string() } else { plan.prerequisites.join("; ") }}</td></tr>
                    <tr><th>"Objectives"</th><td data-testid="objectives">{format!("RTO {} min, RPO {} min", s.estimated_rto, s.estimated_rpo)}</td></tr>
                    <tr><th>"Approval"</th><td data-testid="approval-status">{format!("version {version} is {}{review}", s.approval_status)}</td></tr>
                    <tr><th>"Runs"</th><td>{runs}</td></tr>
                    <tr><th>"Who approves, who runs"</th><td>{format!("{} approval{} from people other than the version's author; runs by the {} role and above", plan.required_approvals, if plan.required_approvals == 1 { "" } else { "s" }, plan.required_role.as_str())}</td></tr>
                    <tr><th>"Last tested"</th><td>{s.last_tested.clone().unwrap_or_else(|| "never".into())}{s.next_drill_at.clone().map(|at| format!("; next drill {at}"))}</td></tr>
                    <tr><th>"Written by"</th><td>{format!("{}; changed {}", s.created_by, s.updated_at)}</td></tr>
                </tbody>
            </table>
        </section>
        {pending.then(|| view! {
            <section class="panel" data-testid="plan-review">
                <h2>{format!("Review version {version}")}</h2>
                <p>"Someone other than the version's author approves or rejects it. Once approved, runs execute it until its review date; a rejected version never runs."</p>
                {draft.then(|| view! {
                    <ActionForm action=submit attr:class="row-form">
                        <input type="hidden" name="id" value=submit_id/>
                        <input type="hidden" name="version" value=version/>
                        <button type="submit">"Submit for review"</button>
                    </ActionForm>
                })}
                <ActionForm action=approve attr:class="grid-form">
                    <input type="hidden" name="id" value=approve_id/>
                    <input type="hidden" name="version" value=version/>
                    <label>"Comment (optional)" <input type="text" name="reason" maxlength="2000"/></label>
                    <button type="submit" class="primary">"Approve"</button>
                </ActionForm>
                <ActionForm action=reject attr:class="grid-form">
                    <input type="hidden" name="id" value=reject_id/>
                    <input type="hidden" name="version" value=version/>
                    <label>"Why it is rejected" <input type="text" name="reason" maxlength="2000" required/></label>
                    <button type="submit" class="danger">"Reject"</button>
                </ActionForm>
            </section>
        })}
        <section class="panel" data-testid="plan-steps">
            <h2>{format!("Steps of version {version}")}</h2>
            <ol class="plan-steps">{plan.steps.iter().map(|step| view! { <StepLine step=step.clone()/> }).collect_view()}</ol>
        </section>
        <section class="panel" data-testid="plan-versions">
            <h2>"Versions"</h2>
            <table class="data">
                <thead><tr><th>"Version"</th><th>"Status"</th><th>"Author"</th><th>"Written"</th><th>"Submitted"</th><th>"Decision"</th></tr></thead>
                <tbody>{versions.into_iter().map(|v| view! { <VersionRow v/> }).collect_view()}</tbody>
            </table>
        </section>
        <section class="panel" data-testid="plan-document">
            <h2>{format!("Document of version {version} ({})", current.document_format)}</h2>
            <pre class="document" tabindex="0" data-testid="document">{current.document.clone()}</pre>
            <h3>"Edit"</h3>
            <p class="hint">"Saving changes your own draft (or your version under review, which goes back to draft) in place while no run has used it; otherwise the version stays as it was and the new text becomes the next version, a draft."</p>
            <ActionForm action=update attr:class="stacked-form document-form">
                <input type="hidden" name="id" value=edit_id/>
                <label>"Plan document (YAML or JSON)"
                    <textarea name="document" rows="20" spellcheck="false">{current.document.clone()}</textarea>
                </label>
                <button type="submit" class="primary">"Save new version"</button>
            </ActionForm>
            {document_problems(update.value())}
        </section>
        <section class="panel" data-testid="plan-diff">
            <h2>"Changes between versions"</h2>
            <ActionForm action=diff attr:class="row-form">
                <input type="hidden" name="id" value=diff_id/>
                <label>"From version" <input type="number" name="from" min="1" value=from required/></label>
                <label>"To version" <input type="number" name="to" min="1" value=to required/></label>
                <button type="submit">"Show changes"</button>
            </ActionForm>
            {move || diff.value().get().map(|r| match r {
                Ok(text) if text.trim().is_empty() => view! { <p data-testid="diff-empty">"The two versions' documents are the same."</p> }.into_any(),
                Ok(text) => view! { <pre class="document" tabindex="0" data-testid="diff">{text}</pre> }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </section>
        <section class="panel" data-testid="plan-execute">
            <h2>"Execute"</h2>
            <p>{if s.is_active { "Runs execute the approved version; a drill (test) runs it against the plan's scratch targets." } else { "Without an approved version only a drill (test) can run." }}</p>
            <ExecuteForm plan_id=run_id execute/>
        </section>
    }
    .into_any()
}

/// A step of the plan as written: its type, group, dependencies, and what happens when it fails.
#[component]
fn StepLine(step: StepSpec) -> impl IntoView {
    let group = step.parallel_group.as_ref().map_or_else(|| "runs on its own".to_string(), |g| format!("parallel group {g}"));
    let dependencies = match &step.dependencies {
        None => "after the step before it (or before its group)".to_string(),
        Some(d) if d.is_empty() => "starts at once".to_string(),
        Some(d) => format!("after {}", d.join(", ")),
    };
    let critical = if step.critical { "critical: a failure stops the run and rolls back" } else { "optional: a failure is recorded and the run goes on" };
    let retries = format!(
        "{} retr{}, waiting {}–{} s{}; each attempt at most {} s",
        step.max_retries,
        if step.max_retries == 1 { "y" } else { "ies" },
        step.backoff.base_seconds,
        step.backoff.cap_seconds,
        if step.backoff.jitter { " (jittered)" } else { "" },
        step.timeout_seconds
    );
    let gate = match &step.gate {
        None => "no gate".to_string(),
        Some(g) => format!("gate: waits for the {} role to confirm{}", g.role.as_str(), g.message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default()),
    };
    let rollback = if step.rollback { "undone when the run rolls back" } else { "not undone on rollback" };
    let criteria = step.success_criteria.len();
    view! {
        <li data-step=step.name.clone()>
            <strong>{step.name.clone()}</strong>" · " <code>{step.step_type.as_str()}</code>
            <ul class="step-facts">
                <li>{group}</li>
                <li>{dependencies}</li>
                <li>{critical}</li>
                <li>{retries}</li>
                <li>{gate}</li>
                <li>{rollback}</li>
                {(criteria > 0).then(|| view! { <li>{format!("{criteria} success criteri{}", if criteria == 1 { "on" } else { "a" })}</li> })}
            </ul>
        </li>
    }
}

#[component]
fn VersionRow(v: PlanVersion) -> impl IntoView {
    let decision = match (&v.decided_by, &v.decided_at) {
        (Some(by), Some(at)) => format!(
            "{} by {by} at {at}{}{}",
            v.approval_status,
            v.decision_reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default(),
            v.next_review_date.as_ref().filter(|_| v.approval_status == ApprovalStatus::Approved).map(|d| format!("; review by {d}")).unwrap_or_default()
        ),
        _ => "—".to_string(),
    };
    view! {
        <tr data-version=v.version.to_string() data-approval=v.approval_status.as_str()>
            <td>{format!("v{}", v.version)}</td>
            <td>{v.approval_status.as_str()}</td>
            <td>{v.created_by.clone()}</td>
            <td>{v.created_at.clone()}</td>
            <td>{v.submitted_at.clone().unwrap_or_else(|| "—".into())}</td>
            <td>{decision}</td>
        </tr>
    }
}
