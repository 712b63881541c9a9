//! A location's repair panel: rebuild the repository's index from its packs' own headers after
//! an index file was damaged or lost (admins; `bulwark repo repair index` does the same).

use leptos::prelude::*;

use crate::api::locations::RepairIndex;
use crate::components::form_error;

#[component]
pub fn RepairPanel(id: String) -> impl IntoView {
    let repair = ServerAction::<RepairIndex>::new();
    let done = move || repair.value().get().and_then(Result::ok).map(|text| view! { <p class="ok" role="status" data-testid="repair-result">{text}</p> });
    view! {
        <section class="panel">
            <h2>"Repair"</h2>
            <p>"The index is rebuilt from the packs' own headers: after a damaged or lost index file, backups deduplicate against every pack again and cleanups can run. Restores read past a damaged index file meanwhile."</p>
            <ActionForm action=repair attr:class="inline-form">
                <input type="hidden" name="id" value=id/>
                <button type="submit">"Rebuild the index"</button>
            </ActionForm>
            {form_error(repair.value())}
            {done}
        </section>
    }
}
