//! An HTTP service: GET its address (redirects are not followed: a 3xx is an answer), check the
//! status and, when asked, a text in the body (the first MiB is read); over HTTPS, degraded when
//! the certificate expires within `tlsExpiryDays`, unhealthy when it has expired (the
//! connection's verification already refuses an invalid one).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use x509_cert::der::Decode;

use super::Reading;
use crate::monitoring::ServiceSettings;

/// At most this much of a body is searched.
const BODY_LIMIT: usize = 1024 * 1024;
const DEFAULT_EXPIRY_DAYS: i64 = 14;
const CLIENTS_KEPT: usize = 64;

/// One client per set of trusted authorities (the system's, plus a service's own): its
/// connections are kept and reused, so a probe every few seconds does not pay a TLS handshake
/// each time. (A client is a cheap handle to a shared pool.)
fn client(ca_certificate: Option<&str>) -> Result<reqwest::Client, String> {
    static CLIENTS: Mutex<Option<HashMap<String, reqwest::Client>>> = Mutex::new(None);
    let key = ca_certificate.unwrap_or_default().to_string();
    let mut clients = CLIENTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let clients = clients.get_or_insert_with(HashMap::new);
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_info(true)
        .user_agent(concat!("bulwark-probe/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_certificate {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("the service's CA certificate: {e}"))?);
    }
    let client = builder.build().map_err(|e| format!("cannot set up an HTTP client: {}", crate::error::chain(&e)))?;
    // Bounded: authorities of services since changed or deleted are not kept for ever (past
    // this many, every client is made again as it is next needed).
    if clients.len() >= CLIENTS_KEPT {
        clients.clear();
    }
    clients.insert(key, client.clone());
    Ok(client)
}

pub async fn probe(s: &ServiceSettings, limit: Duration) -> Reading {
    let url = s.url.clone().unwrap_or_default();
    let client = match client(s.ca_certificate.as_deref()) {
        Ok(c) => c,
        Err(e) => return Reading::unhealthy(e),
    };
    let mut response = match client.get(&url).timeout(limit).send().await {
        Ok(r) => r,
        Err(e) => return Reading::unhealthy(format!("GET {url} failed: {}", crate::error::chain(&e))),
    };
    let status = response.status();
    let mut metrics = serde_json::Map::new();
    metrics.insert("statusCode".into(), status.as_u16().into());
    let certificate_end = response.extensions().get::<reqwest::tls::TlsInfo>().and_then(|tls| tls.peer_certificate()).and_then(not_after);
    let expected = match s.expected_status {
        Some(code) => status.as_u16() == code,
        None => status.is_success() || status.is_redirection(),
    };
    let mut reading = if !expected {
        let wanted = s.expected_status.map_or_else(|| "2xx or 3xx".to_string(), |c| c.to_string());
        Reading::unhealthy(format!("GET {url} answered {status}, not {wanted}"))
    } else if let Some(needle) = s.body_contains.as_deref() {
        let mut body = Vec::new();
        let mut failed = None;
        while body.len() < BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            Some(e) => Reading::unhealthy(format!("reading the body of {url} failed: {}", crate::error::chain(&e))),
            None if String::from_utf8_lossy(&body).contains(needle) => Reading::healthy(format!("GET {url} answered {status} with {needle:?}")),
            None => Reading::unhealthy(format!("GET {url} answered {status} without {needle:?} in its body")),
        }
    } else {
        Reading::healthy(format!("GET {url} answered {status}"))
    };
    if let Some(end) = certificate_end {
        let days_left = (end - chrono::Utc::now()).num_days();
        metrics.insert("tlsExpiresAt".into(), crate::platform::time::to_text(end).into());
        metrics.insert("tlsDaysLeft".into(), days_left.into());
        let warn = s.tls_expiry_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
        if end <= chrono::Utc::now() {
            reading = Reading::unhealthy(format!("the TLS certificate of {url} expired at {end}"));
        } else if days_left < warn {
            reading.degrade(format!("the TLS certificate of {url} expires in {days_left} days ({end})"));
        }
    }
    reading.metrics = metrics;
    reading
}

/// When a DER certificate stops being valid.
fn not_after(der: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let certificate = x509_cert::Certificate::from_der(der).ok()?;
    let seconds = certificate.tbs_certificate.validity.not_after.to_unix_duration().as_secs();
    chrono::DateTime::from_timestamp(seconds as i64, 0)
}
