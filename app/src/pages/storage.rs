use leptos::prelude::*;

use super::section::SectionPage;

#[component]
pub fn StoragePage() -> impl IntoView {
    view! {
        <SectionPage
            title="Storage Locations"
            lead="Where backups are kept: local disks and S3-compatible buckets, in tiers from primary to archive."
            count=|o| o.storage_locations
            noun="storage locations"
            empty_title="No storage locations yet"
        >
            <p>"A storage location is a local directory or an S3-compatible bucket, with a tier (primary, secondary, tertiary, archive), region, storage class, price per GB-month and optional immutability (Object Lock). Backups are deduplicated, compressed and encrypted before they reach it."</p>
            <p>"An admin adds locations here or with " <code>"POST /api/admin/backups/storage-locations"</code> "; the embedded default keeps its repository under " <code>"./data"</code> "."</p>
        </SectionPage>
    }
}
