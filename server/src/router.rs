//! The whole HTTP surface in one router: console pages and server functions (Leptos), the
//! REST API, health and metrics, static files.

use axum::Router;
use axum::routing::get;
use bulwark_app::{App, shell};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::session_store::CatalogStore;
use crate::state::AppState;
use crate::{api, console_access, headers, ops, security, throttle};

/// Session cookie settings.
pub struct SessionSettings {
    /// Served over HTTPS: `Secure` `__Host-` cookies and HSTS.
    pub secure: bool,
    pub idle_minutes: i64,
}

pub fn router(state: AppState, sessions: SessionSettings) -> Router {
    let routes = generate_route_list(App);
    let (catalog, secrets, targets) = (state.catalog.clone(), state.secrets.clone(), state.targets.clone());
    let context = move || {
        provide_context(catalog.clone());
        provide_context(secrets.clone());
        provide_context(targets.clone());
        // A page's scripts run only with the nonce leptos_axum made for this response.
        if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), leptos::prelude::use_context::<leptos_axum::ResponseOptions>())
            && let Ok(policy) = axum::http::HeaderValue::from_str(&headers::page_policy(&nonce))
        {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, policy);
        }
    };
    // `__Host-`: the browser keeps the cookie to this exact origin, over HTTPS only.
    let cookie = if sessions.secure { "__Host-bulwark_session" } else { "bulwark_session" };
    let session_layer = SessionManagerLayer::new(CatalogStore::new(state.catalog.clone()))
        .with_name(cookie)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(sessions.secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(sessions.idle_minutes)))
        // Saved on every request, so the idle limit counts from the last one, not the login.
        .with_always_save(true);
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .merge(api::openapi::docs())
        .nest("/api", api::router())
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::require_login))
        .layer(axum::middleware::from_fn_with_state(state.clone(), console_access::check))
        .layer(axum::middleware::from_fn(security::server_fn_status))
        .layer(axum::middleware::from_fn_with_state(std::sync::Arc::new(throttle::LoginThrottle::default()), throttle::logins))
        .layer(axum::middleware::from_fn(security::same_origin))
        .layer(session_layer)
        .layer(axum::middleware::from_fn(security::run_to_completion))
        .layer(axum::middleware::from_fn_with_state(headers::Https(sessions.secure), headers::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::count_responses))
        .with_state(state)
}
