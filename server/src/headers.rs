//! Security headers on every response (ASVS 14.4): a Content Security Policy whose scripts must
//! carry the page's nonce, no framing, no MIME sniffing, no referrer leaving the site, no caching
//! of anything but static files, and HSTS when the console is served over HTTPS.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of a console page. Leptos puts `nonce` on the hydration script and on every inline
/// script it streams; `'strict-dynamic'` lets those load the wasm glue, `'wasm-unsafe-eval'`
/// compiles the wasm. Nothing inline without the nonce runs.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy of everything that is not a page (JSON, files): nothing may run or frame it.
const DEFAULT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Whether the console is served over HTTPS (then browsers are told to keep to it).
#[derive(Clone, Copy)]
pub struct Https(pub bool);

pub async fn security_headers(State(Https(https)): State<Https>, request: Request, next: Next) -> Response {
    // The console's own static files may be cached; nothing else is (pages and answers hold data).
    let cacheable = request.uri().path().starts_with("/pkg/") || request.uri().path().starts_with("/favicon");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, DEFAULT_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=(), payment=()");
    if !cacheable {
        set(header::CACHE_CONTROL, "no-store");
    }
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    }
    response
}
