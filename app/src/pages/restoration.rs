//! Restoration: the restores recorded and the named targets they go into.

use leptos::prelude::*;

use super::restore_targets::RestoreTargetsPanel;
use super::section::SectionPage;

#[component]
pub fn RestorationPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Restoration"
            lead="Restores of any backup: full, table-level or point-in-time, into production, staging, development or DR targets."
            count=|o| o.restorations
            noun="restorations"
            empty_title="No restores yet"
        >
            <p>"A restore starts from a backup execution and goes into a named target. Restores into production, and full restores, wait for an approver other than the requester; each keeps a rollback window and records how long it took."</p>
            <p>"Restores need a completed backup first: create a " <a href="/configurations">"backup configuration"</a> " and run it."</p>
        </SectionPage>
        <RestoreTargetsPanel/>
    }
}
