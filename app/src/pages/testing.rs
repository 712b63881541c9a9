use leptos::prelude::*;

use super::section::SectionPage;

#[component]
pub fn TestingPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Testing Results"
            lead="Verification and real test restores: was each backup restorable, how long did it take, how old was the data."
            count=|o| o.backup_tests
            noun="restore tests"
            empty_title="No backups have been tested yet"
        >
            <p>"Every backup is verified (hashes and structure), and test restores put it into a scratch target, compare it with the original, measure the restore time (RTO) and the age of the data (RPO), and record issues and recommendations."</p>
            <p>"Tests run on completed backups: create a " <a href="/configurations">"backup configuration"</a> " first."</p>
        </SectionPage>
    }
}
