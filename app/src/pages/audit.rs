//! The audit log (admins only): every state change, hash-chained.

use leptos::prelude::*;

use crate::api::audit::{VerifyAudit, list_audit};
use crate::components::{ErrorPanel, PageHeader};

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
