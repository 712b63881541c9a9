//! The console frame (navigation, breadcrumbs, user menu) and shared building blocks.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::use_location;

use crate::api::AppError;
use crate::api::session::{Logout, Me, whoami};

/// A navigation entry: path, label, and whether only admins see it.
pub struct NavItem {
    pub path: &'static str,
    pub label: &'static str,
    pub admin_only: bool,
}

pub const NAV: &[NavItem] = &[
    NavItem { path: "/", label: "Dashboard", admin_only: false },
    NavItem { path: "/configurations", label: "Configurations", admin_only: false },
    NavItem { path: "/jobs", label: "Jobs", admin_only: false },
    NavItem { path: "/retention", label: "Retention", admin_only: false },
    NavItem { path: "/restoration", label: "Restoration", admin_only: false },
    NavItem { path: "/disaster-recovery", label: "Disaster Recovery", admin_only: false },
    NavItem { path: "/cost", label: "Cost Analysis", admin_only: false },
    NavItem { path: "/testing", label: "Testing Results", admin_only: false },
    NavItem { path: "/storage", label: "Storage Locations", admin_only: false },
    NavItem { path: "/alerts", label: "Alerts", admin_only: false },
    NavItem { path: "/monitoring", label: "Monitoring", admin_only: false },
    NavItem { path: "/approvals", label: "Approvals", admin_only: false },
    NavItem { path: "/notifications", label: "Notifications", admin_only: true },
    NavItem { path: "/audit", label: "Audit", admin_only: true },
    NavItem { path: "/users", label: "Users", admin_only: true },
];

/// Pages below a section, by path prefix: the section they belong to and what they show.
const DETAILS: &[(&str, &str, &str)] = &[
    ("/configurations/", "/configurations", "Configuration"),
    ("/executions/", "/configurations", "Backup execution"),
    ("/storage/", "/storage", "Snapshots"),
    ("/restoration/", "/restoration", "Restoration job"),
    ("/disaster-recovery/plans/new", "/disaster-recovery", "New recovery plan"),
    ("/disaster-recovery/plans/", "/disaster-recovery", "Recovery plan"),
    ("/disaster-recovery/runs/", "/disaster-recovery", "Recovery run"),
    ("/alerts/", "/alerts", "Alert"),
];

/// The breadcrumb trail after "Bulwark": each step's label and, but for the page itself, link.
fn crumbs(path: &str) -> Vec<(&'static str, Option<&'static str>)> {
    if path == "/" {
        return Vec::new();
    }
    if path == "/account" {
        return vec![("Account", None)];
    }
    let section = |p: &str| NAV.iter().find(|n| n.path == p);
    if let Some(n) = section(path) {
        return vec![(n.label, None)];
    }
    match DETAILS.iter().find(|(prefix, ..)| path.starts_with(prefix)) {
        Some((_, parent, label)) => {
            let parent = section(parent).map(|n| (n.label, Some(n.path)));
            parent.into_iter().chain([(*label, None)]).collect()
        }
        None => vec![("Not found", None)],
    }
}

/// The frame around every logged-in page.
#[component]
pub fn Console() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    // Restorations waiting for this user's decision: a count beside Approvals.
    let pending = Resource::new(|| (), |_| crate::api::restoration::pending_approvals());
    // Critical alerts nobody has acknowledged: a banner on every page, read again on each.
    let location = use_location();
    let critical = Resource::new(move || location.pathname.get(), |_| crate::api::alerts::critical_alerts());
    let logout = ServerAction::<Logout>::new();
    view! {
        <div class="console">
            <aside class="sidebar">
                <a class="brand" href="/">"Bulwark"</a>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let me = me.await.ok();
                        let admin = me.as_ref().is_some_and(Me::is_admin);
                        let waiting = pending.await.unwrap_or(0);
                        view! {
                            <nav aria-label="Main">
                                <ul>
                                    {NAV
                                        .iter()
                                        .filter(|n| admin || !n.admin_only)
                                        .map(|n| {
                                            let badge = (n.path == "/approvals" && waiting > 0)
                                                .then(|| view! { <span class="badge" data-testid="approvals-badge" aria-label=format!("{waiting} waiting for you")>{waiting}</span> });
                                            view! { <li><A href=n.path exact=true>{n.label}{badge}</A></li> }
                                        })
                                        .collect_view()}
                                </ul>
                            </nav>
                        }
                    })}
                </Transition>
            </aside>
            <div class="main">
                <header class="topbar">
                    <Breadcrumbs/>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            match me.await {
                                Ok(me) => view! {
                                    <div class="usermenu">
                                        <A href="/account">{me.username.clone()}</A>
                                        <span class="role">{me.role.as_str()}</span>
                                        <ActionForm action=logout>
                                            <button type="submit" class="link">"Log out"</button>
                                        </ActionForm>
                                    </div>
                                }.into_any(),
                                Err(_) => view! { <div class="usermenu"><a href="/login">"Log in"</a></div> }.into_any(),
                            }
                        })}
                    </Transition>
                </header>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let open = critical.await.unwrap_or(0);
                        (open > 0).then(|| view! {
                            <div class="banner critical" role="alert" data-testid="critical-banner">
                                {format!("{open} critical alert{} open and not acknowledged: ", if open == 1 { " is" } else { "s are" })}
                                <a href="/alerts">"review them"</a>
                            </div>
                        })
                    })}
                </Transition>
                <main>
                    <Outlet/>
                </main>
            </div>
        </div>
    }
}

#[component]
fn Breadcrumbs() -> impl IntoView {
    let location = use_location();
    view! {
        <nav aria-label="Breadcrumb" class="breadcrumbs">
            <ol>
                <li><a href="/">"Bulwark"</a></li>
                {move || {
                    crumbs(&location.pathname.get())
                        .into_iter()
                        .map(|(label, href)| match href {
                            Some(href) => view! { <li><a href=href>{label}</a></li> }.into_any(),
                            None => view! { <li aria-current="page">{label}</li> }.into_any(),
                        })
                        .collect_view()
                }}
            </ol>
        </nav>
    }
}

/// A page heading with an optional line of explanation.
#[component]
pub fn PageHeader(title: &'static str, #[prop(optional)] lead: &'static str) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title/>
        <div class="page-header">
            <h1>{title}</h1>
            {(!lead.is_empty()).then(|| view! { <p class="lead">{lead}</p> })}
        </div>
    }
}

/// What a page shows when it has nothing yet: what this is, and what to do next.
#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="empty-state" aria-label="Empty">
            <h2>{title}</h2>
            <div class="empty-body">{children()}</div>
        </section>
    }
}

/// An error from a server function, shown the way a person can act on it.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    let login = matches!(error, AppError::Unauthenticated);
    view! {
        <div class="error-panel" role="alert">
            <p>{error.to_string()}</p>
            {login.then(|| view! { <p><a href="/login">"Log in"</a></p> })}
        </div>
    }
}

/// A silence's fields (how long, why), inside the Alerts and Monitoring pages' silence forms.
#[component]
pub fn SilenceFields() -> impl IntoView {
    view! {
        <label>"Silence for "
            <select name="minutes">
                <option value="60">"1 hour"</option>
                <option value="240">"4 hours"</option>
                <option value="1440">"1 day"</option>
            </select>
        </label>
        <label>"Reason " <input type="text" name="reason" required maxlength="2000" placeholder="maintenance"/></label>
    }
}

/// The message under a form after an action that answers with a sentence: the sentence
/// (marked `testid`), or the error.
pub fn action_outcome<S>(value: S, testid: &'static str) -> impl IntoView
where
    S: Get<Value = Option<Result<String, AppError>>> + Send + Sync + 'static,
{
    move || {
        value.get().map(|r| match r {
            Ok(text) => view! { <p class="ok" role="status" data-testid=testid>{text}</p> }.into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    }
}

/// The message under a form after its action ran: an error, or nothing.
pub fn form_error<T, S>(value: S) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || {
        value.get().and_then(Result::err).map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
    }
}

/// In the browser: follows the server-sent events named `event` at `url` (read again when it
/// changes), each parsed as `T` and given to `on`, until `ended` says the server closed the
/// stream (closing it then stops the browser from reconnecting). On the server the page renders
/// what it loaded; this does nothing.
#[cfg(feature = "hydrate")]
pub fn follow_events<T: serde::de::DeserializeOwned + 'static>(
    url: impl Fn() -> String + Send + Sync + 'static,
    event: &'static str,
    ended: fn(&T) -> bool,
    on: impl Fn(T) + Clone + 'static,
) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let on = send_wrapper::SendWrapper::new(on);
    Effect::new(move |_| {
        let Ok(source) = web_sys::EventSource::new(&url()) else { return };
        let closer = source.clone();
        let on = (*on).clone();
        let on_event = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let Some(text) = e.data().as_string() else { return };
            let Ok(value) = serde_json::from_str::<T>(&text) else { return };
            if ended(&value) {
                closer.close();
            }
            on(value);
        });
        let _ = source.add_event_listener_with_callback(event, on_event.as_ref().unchecked_ref());
        on_event.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    });
}

#[cfg(not(feature = "hydrate"))]
pub fn follow_events<T: 'static>(_url: impl Fn() -> String + Send + Sync + 'static, _event: &'static str, _ended: fn(&T) -> bool, _on: impl Fn(T) + Clone + 'static) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_its_breadcrumb() {
        for n in NAV.iter().filter(|n| n.path != "/") {
            assert_eq!(crumbs(n.path), [(n.label, None)]);
        }
        assert_eq!(crumbs("/executions/0b3c"), [("Configurations", Some("/configurations")), ("Backup execution", None)]);
        assert_eq!(crumbs("/storage/l1/s2"), [("Storage Locations", Some("/storage")), ("Snapshots", None)]);
        assert_eq!(crumbs("/configurations/c1"), [("Configurations", Some("/configurations")), ("Configuration", None)]);
        assert_eq!(crumbs("/disaster-recovery/runs/r1"), [("Disaster Recovery", Some("/disaster-recovery")), ("Recovery run", None)]);
        assert_eq!(crumbs("/disaster-recovery/plans/new"), [("Disaster Recovery", Some("/disaster-recovery")), ("New recovery plan", None)]);
        assert_eq!(crumbs("/no-such-page"), [("Not found", None)]);
        assert!(crumbs("/").is_empty());
    }
}
