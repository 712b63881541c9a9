use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{AppError, session::Login};
use crate::components::form_error;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_string());
    // Shown once the server says the password was right and the account has a second factor;
    // the username and password stay filled in and go again with the code.
    let code_needed = move || matches!(login.value().get(), Some(Ok(false))) || matches!(login.value().get(), Some(Err(AppError::Invalid(m))) if m.contains("authentication code"));
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
                    <Show when=code_needed>
                        <label>"Authentication code"
                            <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus/>
                        </label>
                        <p class="hint">"The six-digit code your authenticator app shows for Bulwark."</p>
                    </Show>
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
