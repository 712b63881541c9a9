//! A location's repair panel: rebuild the repository's index from its packs' own headers after
//! an index file was damaged or lost (admins; `bulwark repo repair index` does the same).

use leptos::prelude::*;

use crate::components::form_error;
use crate::error::AppError;

/// Rebuilds the index; answers what it did, as one sentence.
#[server(prefix = "/_sfn", endpoint = "repair_index")]
pub async fn repair_index(id: String) -> Result<String, AppError> {
    let p = crate::ssr::principal().await?;
    let (catalog, secrets) = (crate::ssr::catalog()?, crate::ssr::secrets()?);
    let r = bulwark_core::locations::repair_index(&catalog, &secrets, &p, &id).await.map_err(AppError::from_core)?;
    let mut text = format!("Indexed {} packs ({} blobs) from their headers; replaced {} index files.", r.packs, r.blobs, r.index_files_replaced);
    if !r.unreadable_packs.is_empty() {
        text.push_str(&format!(" Unreadable pack headers: {}.", r.unreadable_packs.join("; ")));
    }
    if !r.index_files_kept.is_empty() {
        text.push_str(&format!(" Kept under Object Lock: {}.", r.index_files_kept.join("; ")));
    }
    Ok(text)
}

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
