use leptos::prelude::*;

use super::section::SectionPage;

#[component]
pub fn DisasterRecoveryPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Disaster Recovery"
            lead="Runbooks of ordered steps, failovers, drills, and the RTO and RPO they actually achieved."
            count=|o| o.procedures
            noun="DR procedures"
            empty_title="No recovery procedures yet"
        >
            <p>"A procedure is a runbook: ordered steps (restore a backup, start a service, switch DNS or a load balancer, fail a database over, validate, notify, clean up) with retries, critical steps and rollback. Plans group procedures; drills run them against scratch targets."</p>
            <p>"Procedures restore from backups, so begin with a " <a href="/configurations">"backup configuration"</a> "."</p>
        </SectionPage>
    }
}
