//! The one-time setup link: create the first admin, or set one's password.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::setup::{CompleteSetup, setup_info};
use crate::components::{ErrorPanel, form_error};

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let info = Resource::new(token, setup_info);
    let complete = ServerAction::<CompleteSetup>::new();
    view! {
        <Title text="Set up"/>
        <div class="auth-page">
            <div class="auth-card">
                <h1>"Bulwark set-up"</h1>
                <Suspense fallback=|| view! { <p>"Checking the link…"</p> }>
                    {move || Suspend::new(async move {
                        match info.await {
                            Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                            Ok(linked) => view! {
                                <p class="lead">
                                    {match &linked {
                                        None => "Create the first administrator account.".to_string(),
                                        Some(name) => format!("Choose a password for {name}."),
                                    }}
                                </p>
                                <ActionForm action=complete>
                                    <input type="hidden" name="token" prop:value=token/>
                                    {linked.is_none().then(|| view! {
                                        <label>"Username" <input type="text" name="username" autocomplete="username" required/></label>
                                    })}
                                    <label>"Password (12 characters or more)"
                                        <input type="password" name="password" autocomplete="new-password" required minlength="10"/>
                                    </label>
                                    <label>"Repeat the password"
                                        <input type="password" name="confirm" autocomplete="new-password" required/>
                                    </label>
                                    {form_error(complete.value())}
                                    <button type="submit" class="primary">"Save and log in"</button>
                                </ActionForm>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </div>
    }
}
