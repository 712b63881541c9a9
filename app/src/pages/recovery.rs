//! Recovering Bulwark itself, on the Storage Locations page: attach a location's existing
//! repository with its recovery kit's key file, then rebuild the catalog from every attached
//! repository.

use leptos::prelude::*;

use crate::api::locations::{AttachRepository, RebuildCatalog, list_locations};
use crate::components::action_outcome;

#[component]
pub fn RecoveryPanel() -> impl IntoView {
    let attach = ServerAction::<AttachRepository>::new();
    let rebuild = ServerAction::<RebuildCatalog>::new();
    let locations = Resource::new(move || attach.version().get(), |_| list_locations());
    view! {
        <section class="panel" data-testid="recovery">
            <h2>"Recovering a lost catalog"</h2>
            <p class="hint">"On a new server: add each location again, attach its repository with the key file from its recovery kit, then rebuild the catalog: every snapshot becomes an execution again."</p>
            <ActionForm action=attach attr:class="grid-form">
                <label>"Location"
                    <select name="location_id" aria-label="Location to attach">
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                locations.await.unwrap_or_default().into_iter().filter(|l| l.repository_id.is_none())
                                    .map(|l| view! { <option value=l.id>{l.name}</option> }).collect_view()
                            })}
                        </Suspense>
                    </select>
                </label>
                <label>"Key file (64 hex characters)" <input type="password" name="key_file" aria-label="Recovery key file" autocomplete="off"/></label>
                <button type="submit">"Attach repository"</button>
            </ActionForm>
            {action_outcome(attach.value(), "attach-report")}
            <ActionForm action=rebuild attr:class="row-form">
                <button type="submit">"Rebuild the catalog"</button>
            </ActionForm>
            {action_outcome(rebuild.value(), "rebuild-report")}
        </section>
    }
}
