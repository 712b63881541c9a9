//! A TCP service: healthy when it accepts a connection.

use super::Reading;
use crate::monitoring::ServiceSettings;

pub async fn probe(s: &ServiceSettings) -> Reading {
    let host = s.host.clone().unwrap_or_default();
    let port = s.port.unwrap_or_default();
    // An IPv6 literal is stored in brackets, as in a URL.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::net::TcpStream::connect((bare, port)).await {
        Ok(_) => Reading::healthy(format!("{host}:{port} accepts connections")),
        Err(e) => Reading::unhealthy(format!("{host}:{port} refuses a connection: {e}")),
    }
}
