//! A new recovery plan: its document typed or pasted (YAML or JSON, as kept in git), saved as
//! version 1, a draft; a refused document lists each of its problems.

use leptos::prelude::*;

use crate::api::AppError;
use crate::api::recovery::CreatePlan;
use crate::components::PageHeader;

/// A short plan with one validation step, to start from.
const EXAMPLE: &str = r#"name: Orders API recovery
description: Brings the orders API back and checks that it answers.
disasterScenario: hardware_failure
disasterType: storage_failure
severity: 2
affectedSystems: [orders-api]
estimatedRtoMinutes: 30
estimatedRpoMinutes: 15
requiredApprovals: 1
steps:
  - name: Orders API answers
    type: validation
    config:
      http:
        url: http://127.0.0.1:8080/healthz
        expectStatus: 200
    maxRetries: 3
"#;

/// Under a plan document's form: each problem of a refused document (or the error).
pub fn document_problems<T, S>(value: S) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || {
        value.get().and_then(Result::err).map(|e| {
            let lines: Vec<String> = match &e {
                AppError::Invalid(text) => text.lines().map(str::to_string).filter(|l| !l.trim().is_empty()).collect(),
                other => vec![other.to_string()],
            };
            view! {
                <div class="form-error" role="alert" data-testid="plan-problems">
                    <p>"The plan was not saved:"</p>
                    <ul>{lines.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
                </div>
            }
        })
    }
}

#[component]
pub fn RecoveryPlanNewPage() -> impl IntoView {
    let create = ServerAction::<CreatePlan>::new();
    // Once saved, the plan's own page shows it.
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(plan)) = create.value().get() {
            navigate(&format!("/disaster-recovery/plans/{}", plan.summary.id), Default::default());
        }
    });
    view! {
        <PageHeader title="New recovery plan" lead="A runbook of ordered steps, written as a document you can keep in git. It is saved as a draft; someone other than you approves it before it can run (a drill can run it before)."/>
        <section class="panel" data-testid="new-plan">
            <p>"Each step has a type (backup_restore, service_start, dns_update, load_balancer_config, database_failover, validation, notification, cleanup) and its config; steps run in order unless they name their dependencies, and neighbouring steps with the same parallelGroup run together. Every problem is named with its step and field."</p>
            <ActionForm action=create attr:class="stacked-form document-form">
                <label>"Plan document (YAML or JSON)"
                    <textarea name="document" rows="24" spellcheck="false">{EXAMPLE}</textarea>
                </label>
                <button type="submit" class="primary">"Save"</button>
            </ActionForm>
            {document_problems(create.value())}
        </section>
    }
}
