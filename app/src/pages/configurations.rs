use leptos::prelude::*;

use super::section::SectionPage;

#[component]
pub fn ConfigurationsPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Configurations"
            lead="What is backed up, how often, how long it is kept, and the RTO/RPO it must meet."
            count=|o| o.configurations
            noun="backup configurations"
            empty_title="Nothing is protected yet"
        >
            <p>"A backup configuration names a source (a PostgreSQL database, an S3 bucket, Supabase Storage, a directory or environment files), its schedule, retention, compression and encryption, the storage locations it writes to, and its RTO and RPO targets."</p>
            <p>"Start by adding a " <a href="/storage">"storage location"</a> " for the backups to go to; then create the configuration here or with " <code>"POST /api/admin/backups/configurations"</code> "."</p>
        </SectionPage>
    }
}
