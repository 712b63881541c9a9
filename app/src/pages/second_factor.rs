//! The account page's second-factor panel: set up an authenticator app (QR code or typed
//! secret, confirmed with a first code), see that it is on, remove it with a current code.

use leptos::prelude::*;

use crate::api::account::{BeginSecondFactor, ConfirmSecondFactor, RemoveSecondFactor, second_factor_status};
use crate::components::{ErrorPanel, form_error};

#[component]
pub fn SecondFactorPanel() -> impl IntoView {
    let begin = ServerAction::<BeginSecondFactor>::new();
    let confirm = ServerAction::<ConfirmSecondFactor>::new();
    let remove = ServerAction::<RemoveSecondFactor>::new();
    // Read again only when it changed: a refused code must not redraw the form (and empty the
    // field someone is typing the next code into).
    let changed = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if matches!(confirm.value().get(), Some(Ok(()))) {
            changed.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if matches!(remove.value().get(), Some(Ok(()))) {
            changed.update(|n| *n += 1);
        }
    });
    let status = Resource::new(move || changed.get(), |_| second_factor_status());
    let enrollment = move || {
        begin.value().get().and_then(Result::ok).filter(|_| !matches!(confirm.value().get(), Some(Ok(())))).map(|e| view! {
            <div class="enrollment">
                <p>"Scan this code with an authenticator app (or type the key), then enter the six digits it shows."</p>
                <div class="qr" inner_html=e.qr_svg></div>
                <p>"Key: " <code data-testid="totp-secret">{e.secret}</code></p>
                <ActionForm action=confirm attr:class="inline-form">
                    <label>"Code" <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="7"/></label>
                    <button type="submit" class="primary">"Turn on"</button>
                </ActionForm>
                {form_error(confirm.value())}
            </div>
        })
    };
    view! {
        <section class="panel">
            <h2>"Second factor"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(true) => view! {
                            <p class="ok" role="status">"On: logging in asks for a code from your authenticator app."</p>
                            <ActionForm action=remove attr:class="inline-form">
                                <label>"Current code" <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="7"/></label>
                                <button type="submit" class="danger">"Turn off"</button>
                            </ActionForm>
                            {form_error(remove.value())}
                        }.into_any(),
                        Ok(false) => view! {
                            <p>"Off. With it on, a stolen password alone no longer opens your account; administrators should turn it on."</p>
                            <ActionForm action=begin attr:class="inline-form">
                                <button type="submit" class="primary">"Set up"</button>
                            </ActionForm>
                            {form_error(begin.value())}
                            {enrollment}
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
