//! The Bulwark console: Leptos pages rendered on the server and hydrated in the browser.
//!
//! Pages import only [`api`] (the server functions, and the `bulwark_types` they answer
//! with) and [`components`].

pub mod api;
#[cfg(feature = "ssr")]
pub mod charts;
pub mod components;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod url;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use components::Console;
use pages::*;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                // Draws the pages' charts with the locally served ECharts (see charts.rs).
                <script nonce=leptos::nonce::use_nonce() src="/charts.js" defer=true></script>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Lets tests (and people debugging) see that the page is interactive.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="bulwark" href="/pkg/bulwark.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Bulwark".to_string() } else { format!("{page} · Bulwark") }/>
        <Router>
            <Routes fallback=|| view! { <not_found::NotFound/> }>
                <Route path=path!("/login") view=login::LoginPage/>
                <Route path=path!("/setup") view=setup::SetupPage/>
                <ParentRoute path=path!("") view=Console>
                    <Route path=path!("") view=dashboard::DashboardPage/>
                    <Route path=path!("configurations") view=configurations::ConfigurationsPage/>
                    <Route path=path!("configurations/:id") view=configuration::ConfigurationPage/>
                    <Route path=path!("executions/:id") view=execution::ExecutionPage/>
                    <Route path=path!("jobs") view=jobs::JobsPage/>
                    <Route path=path!("retention") view=retention::RetentionPage/>
                    <Route path=path!("restoration") view=restoration::RestorationPage/>
                    <Route path=path!("restoration/:id") view=restoration_job::RestorationJobPage/>
                    <Route path=path!("disaster-recovery") view=disaster_recovery::DisasterRecoveryPage/>
                    <Route path=path!("disaster-recovery/plans/new") view=recovery_plan_new::RecoveryPlanNewPage/>
                    <Route path=path!("disaster-recovery/plans/:id") view=recovery_plan::RecoveryPlanPage/>
                    <Route path=path!("disaster-recovery/runs/:id") view=recovery_run::RecoveryRunPage/>
                    <Route path=path!("cost") view=cost::CostPage/>
                    <Route path=path!("testing") view=testing::TestingPage/>
                    <Route path=path!("storage") view=storage::StoragePage/>
                    <Route path=path!("storage/:id") view=snapshots::LocationSnapshotsPage/>
                    <Route path=path!("storage/:id/:snapshot") view=snapshots::SnapshotBrowserPage/>
                    <Route path=path!("alerts") view=alerts::AlertsPage/>
                    <Route path=path!("alerts/:id") view=alert::AlertPage/>
                    <Route path=path!("notifications") view=notifications::NotificationsPage/>
                    <Route path=path!("monitoring") view=monitoring::MonitoringPage/>
                    <Route path=path!("approvals") view=approvals::ApprovalsPage/>
                    <Route path=path!("audit") view=audit::AuditPage/>
                    <Route path=path!("users") view=users::UsersPage/>
                    <Route path=path!("account") view=account::AccountPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
