//! The logged-in user's own account: password, second factor and API tokens.

use leptos::prelude::*;

use crate::api::account::{ChangePassword, CreateToken, RevokeToken, Role, list_tokens};
use crate::components::{ErrorPanel, PageHeader, form_error};

#[component]
pub fn AccountPage() -> impl IntoView {
    let password = ServerAction::<ChangePassword>::new();
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    let password_saved = move || matches!(password.value().get(), Some(Ok(()))).then(|| view! { <p class="ok" role="status">"Password changed."</p> });
    let new_secret = move || {
        create.value().get().and_then(Result::ok).map(|secret| view! {
            <div class="secret" role="status">
                <p>"Copy this token now: it is not shown again."</p>
                <code data-testid="new-token">{secret}</code>
            </div>
        })
    };
    view! {
        <PageHeader title="Account" lead="Your password, your second factor and the API tokens that act for you."/>
        <section class="panel">
            <h2>"API tokens"</h2>
            <p>"Send a token as " <code>"Authorization: Bearer bwk_…"</code> " to the REST API under " <code>"/api"</code> ". A token has at most your role."</p>
            <ActionForm action=create attr:class="inline-form">
                <label>"Name" <input type="text" name="name" required placeholder="ci-pipeline"/></label>
                <label>"Role"
                    <select name="role" aria-label="Role">{Role::ALL.iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}</select>
                </label>
                <label>"Expires in days (empty: never)" <input type="number" name="expires_in_days" min="1" max="3650"/></label>
                <button type="submit" class="primary">"Create token"</button>
            </ActionForm>
            {form_error(create.value())}
            {new_secret}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="muted">"You have no API tokens."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data">
                                <thead><tr><th>"Name"</th><th>"Prefix"</th><th>"Role"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|t| view! {
                                        <tr>
                                            <td>{t.name.clone()}</td>
                                            <td><code>{t.prefix.clone()}"…"</code></td>
                                            <td>{t.role.as_str()}</td>
                                            <td>{t.created_at.clone()}</td>
                                            <td>{t.expires_at.clone().unwrap_or_else(|| "never".into())}</td>
                                            <td>{t.last_used_at.clone().unwrap_or_else(|| "never".into())}</td>
                                            <td>
                                                {if t.revoked {
                                                    view! { <span class="muted">"revoked"</span> }.into_any()
                                                } else {
                                                    view! {
                                                        <ActionForm action=revoke attr:class="row-form">
                                                            <input type="hidden" name="id" value=t.id.clone()/>
                                                            <button type="submit" class="danger">"Revoke"</button>
                                                        </ActionForm>
                                                    }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <super::second_factor::SecondFactorPanel/>
        <section class="panel">
            <h2>"Change password"</h2>
            <ActionForm action=password attr:class="stacked-form">
                <label>"Current password" <input type="password" name="current" autocomplete="current-password" required/></label>
                <label>"New password" <input type="password" name="password" autocomplete="new-password" required minlength="12" maxlength="128"/></label>
                <label>"Repeat the new password" <input type="password" name="confirm" autocomplete="new-password" required/></label>
                <button type="submit" class="primary">"Change password"</button>
            </ActionForm>
            {form_error(password.value())}
            {password_saved}
        </section>
    }
}
