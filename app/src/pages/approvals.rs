use leptos::prelude::*;

use super::section::SectionPage;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Approvals"
            lead="Restores into production, full restores and DR runs waiting for a second person."
            count=|o| o.approvals_pending
            noun="pending approvals"
            empty_title="Nothing is waiting for approval"
        >
            <p>"Restores into production, full restores and disaster-recovery runs need an approver other than the person who asked for them. Requests appear here for users with the approver or admin role."</p>
            <p>"Admins can give people the approver role under " <a href="/users">"Users"</a> "."</p>
        </SectionPage>
    }
}
