//! The audit log (admins only): every state change, hash-chained.

use leptos::prelude::*;

use crate::components::{ErrorPanel, PageHeader};
use crate::dto::AuditRow;
use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "list_audit")]
pub async fn list_audit() -> Result<Vec<AuditRow>, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let rows = bulwark_core::platform::audit::list(&catalog, &p, 200, None).await.map_err(AppError::from_core)?;
    Ok(rows
        .into_iter()
        .map(|r| AuditRow {
            seq: r.seq,
            occurred_at: r.occurred_at,
            actor_name: r.actor_name,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            detail: r.detail,
        })
        .collect())
}

/// Recomputes the whole hash chain and says whether it is intact.
#[server(prefix = "/_sfn", endpoint = "verify_audit")]
pub async fn verify_audit() -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let report = bulwark_core::audit_anchor::verify(&catalog, &crate::ssr::secrets()?, &p).await.map_err(AppError::from_core)?;
    Ok(match report.first_broken_seq {
        None => format!("The chain is intact: {} entries verified, {} of them under the audit key.", report.rows, report.keyed_rows),
        Some(seq) => format!("The chain is broken at entry {seq}: entries from there on were altered."),
    })
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let rows = Resource::new(|| (), |_| list_audit());
    let verify = ServerAction::<VerifyAudit>::new();
    view! {
        <PageHeader title="Audit" lead="Every action that changed something, who did it, and when. Append-only and hash-chained."/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) => view! {
                        <div class="toolbar">
                            <ActionForm action=verify>
                                <button type="submit">"Verify chain"</button>
                            </ActionForm>
                            {move || verify.value().get().map(|r| match r {
                                Ok(text) => view! { <span class="ok" role="status">{text}</span> }.into_any(),
                                Err(e) => view! { <span class="form-error" role="alert">{e.to_string()}</span> }.into_any(),
                            })}
                        </div>
                        <table class="data">
                            <thead><tr><th>"#"</th><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Detail"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{r.seq}</td>
                                        <td>{r.occurred_at}</td>
                                        <td>{r.actor_name}</td>
                                        <td>{r.action}</td>
                                        <td>{r.target_type} " " {r.target_id.unwrap_or_default()}</td>
                                        <td><code>{r.detail}</code></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
