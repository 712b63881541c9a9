//! The one-time setup link: create the first admin, or set one's password.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::{ErrorPanel, form_error};
use crate::error::AppError;

/// What the link is for: `None` = create the first admin; `Some(name)` = set name's password.
#[server(prefix = "/_sfn", endpoint = "setup_info")]
pub async fn setup_info(token: String) -> Result<Option<String>, AppError> {
    use bulwark_core::platform::accounts::setup::{self, LinkPurpose};
    let catalog = crate::ssr::catalog()?;
    match setup::inspect(&catalog, &token).await.map_err(AppError::from_core)? {
        LinkPurpose::FirstAdmin => Ok(None),
        LinkPurpose::SetPassword { username } => Ok(Some(username)),
    }
}

#[server(prefix = "/_sfn", endpoint = "complete_setup")]
pub async fn complete_setup(token: String, username: Option<String>, password: String, confirm: String) -> Result<(), AppError> {
    use bulwark_core::platform::accounts::setup;
    if password != confirm {
        return Err(AppError::Invalid("the two passwords differ".into()));
    }
    let catalog = crate::ssr::catalog()?;
    let username = username.unwrap_or_default();
    let principal = setup::redeem(&catalog, &token, username.trim(), &password).await.map_err(AppError::from_core)?;
    crate::ssr::start_session(&principal).await?;
    leptos_axum::redirect("/");
    Ok(())
}

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
