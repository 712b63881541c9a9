use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::form_error;
use crate::session::Login;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_string());
    view! {
        <Title text="Log in"/>
        <div class="auth-page">
            <div class="auth-card">
                <h1>"Bulwark"</h1>
                <p class="lead">"Log in to the backup and disaster-recovery console."</p>
                <ActionForm action=login>
                    <input type="hidden" name="next" prop:value=next/>
                    <label>"Username" <input type="text" name="username" autocomplete="username" required/></label>
                    <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                    {form_error(login.value())}
                    <button type="submit" class="primary">"Log in"</button>
                </ActionForm>
                <p class="hint">
                    "First start? The server printed a one-time setup link; or run "
                    <code>"bulwark user add --admin NAME"</code>"."
                </p>
            </div>
        </div>
    }
}
