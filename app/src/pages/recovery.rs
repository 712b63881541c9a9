//! Recovering Bulwark itself, on the Storage Locations page: attach a location's existing
//! repository with its recovery kit's key file, then rebuild the catalog from every attached
//! repository.

use leptos::prelude::*;

use crate::components::action_outcome;
use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "attach_repository")]
pub async fn attach_repository(location_id: String, key_file: String) -> Result<String, AppError> {
    use bulwark_core::rebuild::{self, Attach};
    let p = crate::ssr::principal().await?;
    let id = rebuild::attach(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p, &location_id, Attach { key_file }).await.map_err(AppError::from_core)?;
    Ok(format!("Repository {id} attached."))
}

#[server(prefix = "/_sfn", endpoint = "rebuild_catalog")]
pub async fn rebuild_catalog() -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let r = bulwark_core::rebuild::rebuild(&crate::ssr::catalog()?, &crate::ssr::secrets()?, &p).await.map_err(AppError::from_core)?;
    Ok(format!(
        "Rebuilt from {} locations: {} snapshots read, {} executions and {} configurations added, {} WAL files recorded.",
        r.locations, r.snapshots, r.executions_created, r.configurations_created, r.wal_files
    ))
}

#[component]
pub fn RecoveryPanel() -> impl IntoView {
    let attach = ServerAction::<AttachRepository>::new();
    let rebuild = ServerAction::<RebuildCatalog>::new();
    let locations = Resource::new(move || attach.version().get(), |_| super::storage::list_locations());
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
