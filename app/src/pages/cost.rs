use leptos::prelude::*;

use super::section::SectionPage;

#[component]
pub fn CostPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Cost Analysis"
            lead="What each storage location and configuration costs per day, and where to save."
            count=|o| o.cost_rows
            noun="daily cost records"
            empty_title="No cost data yet"
        >
            <p>"Costs are counted, not guessed: bytes stored, requests and transfer per storage location, priced with the location’s cost per GB-month. Suggestions (a colder tier for old snapshots, shorter retention, better compression, orphaned data) appear once backups exist."</p>
            <p>"Set a price on each " <a href="/storage">"storage location"</a> " so its costs can be tracked."</p>
        </SectionPage>
    }
}
