use leptos::prelude::*;

use super::section::SectionPage;

#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Alerts"
            lead="Failed backups and tests, missed RPOs, unreachable locations: deduplicated, escalated until acknowledged."
            count=|o| o.alerts_open
            noun="open alerts"
            empty_title="No open alerts"
        >
            <p>"Alerts are raised by failed backups, verifications and test restores, by RPO and RTO targets that are not met, and by unhealthy storage locations. Repeats of the same problem are counted on one alert; alerts escalate until someone acknowledges them and resolve themselves when the condition clears."</p>
            <p>"Nothing needs attention right now."</p>
        </SectionPage>
    }
}
