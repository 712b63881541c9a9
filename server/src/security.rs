//! Request guards: cross-site request refusal, the console's login redirect, and response
//! counting.

use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::api::error::ApiError;
use crate::state::AppState;

/// Refuses state-changing requests that come from another site. The session cookie is
/// SameSite=Strict already; this also covers browsers that ignore it.
pub async fn same_origin(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site");
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_mismatch = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| *o != "null")
        .is_some_and(|origin| {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            Some(origin_host) != host
        });
    if cross_site || origin_mismatch {
        return ApiError::new(StatusCode::FORBIDDEN, "cross-site requests are refused").into_response();
    }
    next.run(request).await
}

/// Paths anyone may load: the login and setup pages, static files, and the machine endpoints
/// (which authenticate themselves).
fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/setup" | "/healthz" | "/metrics" | "/favicon.ico" | "/favicon.svg")
        || ["/pkg/", "/api/", "/_sfn/"].iter().any(|p| path.starts_with(p))
}

/// Sends browsers without a valid session to the login page, remembering where they wanted to go.
pub async fn require_login(State(state): State<AppState>, session: Session, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if request.method() != Method::GET || is_public(&path) {
        return next.run(request).await;
    }
    let valid = match bulwark_app::ssr::session_user(&session).await {
        Some(id) => matches!(bulwark_core::platform::accounts::users::session_principal(&state.catalog, &id).await, Ok(Some(_))),
        None => false,
    };
    if valid {
        return next.run(request).await;
    }
    let wanted = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let target = if wanted == "/" { "/login".to_string() } else { format!("/login?next={}", bulwark_app::url::encode(wanted)) };
    Redirect::to(&target).into_response()
}

/// Counts responses by status class for /metrics.
pub async fn count_responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let class = (response.status().as_u16() / 100).clamp(1, 5) as usize - 1;
    state.metrics.responses[class].fetch_add(1, Ordering::Relaxed);
    response
}

/// Leptos answers every failed server function with 500; this gives a failure caused by the
/// request (bad input, no session, missing role) its proper 4xx, so only real faults are 5xx.
pub async fn server_fn_status(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/_sfn/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    };
    if let Ok(error) = serde_json::from_slice::<bulwark_app::error::AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Runs the rest of the request on its own task, so a client that goes away mid-request does
/// not cancel it halfway: a dropped future could leave a catalog transaction (and SQLite's
/// write lock) open, and a state change should finish or fail, never stop in between.
pub async fn run_to_completion(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "request handler panicked");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error: see the server log").into_response()
        }
    }
}
